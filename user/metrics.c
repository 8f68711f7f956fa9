/* metrics.c - the counter table as Prometheus text at /metrics (libmicrohttpd). */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "metrics.h"

#define METRICS_BODY_MAX (1024 * 1024) /* counters, and certificate series (bounded) */

struct metrics {
	struct MHD_Daemon *d;
	metrics_read_fn fn;
	void *ctx;
	char *buf;
	metrics_extra_fn extra;
	void *extra_ctx;
};

void metrics_set_extra(struct metrics *m, metrics_extra_fn fn, void *ctx)
{
	if (!m)
		return;
	m->extra = fn;
	m->extra_ctx = ctx;
}

/* ---- exposition ---- */

struct mb {
	char *buf;
	size_t cap, len;
};

static void mb_printf(struct mb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void mb_printf(struct mb *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->len >= b->cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len = n < 0 ? b->cap : (size_t)n >= b->cap - b->len ? b->cap : b->len + (size_t)n;
}

static void render_histogram(struct mb *b, const char *name, const struct log2_hist *h)
{
	uint64_t cum = 0;

	for (int i = 0; i < HIST_BUCKETS; i++) {
		cum += h->bucket[i];
		mb_printf(b, "certsentry_%s_bucket{le=\"%g\"} %" PRIu64 "\n", name,
			  (double)(1ULL << i) / 1e6, cum);
	}
	mb_printf(b,
		  "certsentry_%s_bucket{le=\"+Inf\"} %" PRIu64 "\n"
		  "certsentry_%s_count %" PRIu64 "\n",
		  name, h->n, name, h->n);
}

static void render_row(struct mb *b, const struct counter_def *c, const struct counter_snap *s)
{
	switch (c->shape) {
	case COUNTER_ONE:
		mb_printf(b, "certsentry_%s%s%s%s %" PRIu64 "\n", c->metric, c->label ? "{" : "",
			  c->label ? c->label : "", c->label ? "}" : "", c->value(s));
		break;
	case COUNTER_FAMILY:
		for (uint32_t i = 0; i < c->n; i++) {
			const char *name = c->name_at(s, i);

			if (name && name[0])
				mb_printf(b, "certsentry_%s{%s=\"%s\"} %" PRIu64 "\n", c->metric,
					  c->label, name, c->value_at(s, i));
		}
		break;
	case COUNTER_HISTOGRAM:
		render_histogram(b, c->metric, c->hist(s));
		break;
	}
}

size_t metrics_render(const struct counter_snap *s, char *buf, size_t cap)
{
	struct mb b = { buf, cap, 0 };
	const char *family = NULL;

	for (size_t i = 0; i < counter_table_len; i++) {
		const struct counter_def *c = &counter_table[i];

		if (!c->metric)
			continue;
		/* HELP and TYPE once, on a family's first row */
		if (!family || strcmp(family, c->metric))
			mb_printf(&b, "# HELP certsentry_%s %s\n# TYPE certsentry_%s %s\n",
				  c->metric, c->help, c->metric, c->type);
		family = c->metric;
		render_row(&b, c, s);
	}
	return b.len;
}

/* ---- HTTP ---- */

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *data,
			      size_t *data_len, void **state)
{
	struct metrics *m = cls;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	unsigned int status = MHD_HTTP_OK;
	size_t n;

	(void)version;
	(void)data;
	(void)data_len;
	(void)state;
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return MHD_NO;
	if (strcmp(url, "/metrics")) {
		static const char nf[] = "not found: try /metrics\n";

		status = MHD_HTTP_NOT_FOUND;
		resp = MHD_create_response_from_buffer(sizeof(nf) - 1, (void *)nf,
						       MHD_RESPMEM_PERSISTENT);
	} else {
		struct counter_snap snap;

		m->fn(m->ctx, &snap);
		n = metrics_render(&snap, m->buf, METRICS_BODY_MAX);
		if (m->extra && n < METRICS_BODY_MAX)
			n += m->extra(m->extra_ctx, m->buf + n, METRICS_BODY_MAX - n);
		resp = MHD_create_response_from_buffer(n, m->buf, MHD_RESPMEM_MUST_COPY);
		if (resp)
			MHD_add_response_header(resp, "Content-Type",
						"text/plain; version=0.0.4; charset=utf-8");
	}
	if (!resp)
		return MHD_NO;
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* "9465", "127.0.0.1:9465", "[::1]:9465" */
static int parse_listen(const char *s, struct sockaddr_storage *ss, char *err, size_t errlen)
{
	char host[64] = "";
	const char *colon = strrchr(s, ':'), *port = colon ? colon + 1 : s;
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	char *end;
	long p;

	memset(ss, 0, sizeof(*ss));
	if (colon) {
		size_t hl = (size_t)(colon - s);

		if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
			s++;
			hl -= 2;
		}
		if (hl >= sizeof(host))
			goto bad;
		memcpy(host, s, hl);
	}
	errno = 0;
	p = strtol(port, &end, 10);
	if (errno || end == port || *end || p < 1 || p > 65535)
		goto bad;
	if (!host[0] || inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)p);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)p);
		return 0;
	}
bad:
	snprintf(err, errlen, "--metrics: '%s' is not PORT, ADDR:PORT or [ADDR6]:PORT", s);
	return -1;
}

struct metrics *metrics_start(const char *listen, metrics_read_fn fn, void *ctx, char *err,
			      size_t errlen)
{
	struct sockaddr_storage ss;
	struct metrics *m;
	unsigned int flags = MHD_USE_ERROR_LOG;

	if (parse_listen(listen, &ss, err, errlen))
		return NULL;
	m = calloc(1, sizeof(*m));
	if (!m || !(m->buf = malloc(METRICS_BODY_MAX))) {
		free(m);
		snprintf(err, errlen, "--metrics: out of memory");
		return NULL;
	}
	m->fn = fn;
	m->ctx = ctx;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* No thread of its own: metrics_poll() runs it from the main loop. */
	m->d = MHD_start_daemon(flags, 0, NULL, NULL, answer, m, MHD_OPTION_SOCK_ADDR,
				(struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, 16u,
				MHD_OPTION_CONNECTION_TIMEOUT, 5u, MHD_OPTION_END);
	if (!m->d) {
		snprintf(err, errlen, "--metrics %s: cannot listen: %s", listen, strerror(errno));
		free(m->buf);
		free(m);
		return NULL;
	}
	return m;
}

void metrics_poll(struct metrics *m)
{
	if (m)
		MHD_run(m->d);
}

void metrics_stop(struct metrics *m)
{
	if (!m)
		return;
	MHD_stop_daemon(m->d);
	free(m->buf);
	free(m);
}
