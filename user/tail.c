/* tail.c - certsentry tail: the service's event socket, filtered and shown; no BPF, no root. */
#include <errno.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <json-c/json.h>
#include "events.h"
#include "filter.h"
#include "fmt.h"
#include "output.h"
#include "sink.h"
#include "tail.h"

/*
 * The lines arrive as the service's JSON. Text is made here from the JSON
 * fields, not by format_text.c: that one renders a struct cs_report (with
 * its certificate facts and verdict as the checks made them), which a JSON
 * line does not carry whole and which tail would have to forge to use it.
 * The look follows format_text.c: time, action, ends, SNI, version, leaf,
 * verdict last.
 */
#define TAIL_LINE_MAX (OUTPUT_LINE_MAX + 4096) /* a line plus the envelope */
#define TAIL_TEXT_MAX 8192		       /* one shown line: enough for a screen's worth */
#define FIELD_MAX     256		       /* one untrusted value's bytes shown */
#define RETRY_S	      1

static volatile sig_atomic_t stop;

struct tail {
	const struct config *cfg;
	const char *path;
	bool text, color;
	bool refused; /* the service said why it would not serve us */
	unsigned connects;
	char *buf; /* buf[0..len): a line still arriving */
	size_t len;
	bool skipping; /* past TAIL_LINE_MAX: dropped up to its end */
};

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* ---- JSON ---- */

/* The member at a dotted path ("tls.client.server_name"), or NULL. */
static struct json_object *jget(struct json_object *o, const char *path)
{
	char key[64];
	const char *dot;
	size_t n;

	while (o && *path) {
		dot = strchr(path, '.');
		n = dot ? (size_t)(dot - path) : strlen(path);
		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		if (!json_object_is_type(o, json_type_object) ||
		    !json_object_object_get_ex(o, key, &o))
			return NULL;
		path += n + (dot ? 1 : 0);
	}
	return o;
}

static const char *jstr(struct json_object *o, const char *path)
{
	struct json_object *v = jget(o, path);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static int64_t jint(struct json_object *o, const char *path, int64_t none)
{
	struct json_object *v = jget(o, path);

	return v && json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : none;
}

/* ---- which lines ---- */

/* Start, counters, lists: the daemon's own lines (their event.dataset). */
static bool is_status(struct json_object *o)
{
	const char *d = jstr(o, "event.dataset");

	return !d || !strcmp(d, DATASET_STATUS);
}

/* Status lines carry no SNI or ends: they are shown only when nothing is
 * filtered. */
static bool shown(const struct tail *t, struct json_object *o)
{
	const struct filter *f = &t->cfg->filter;
	const char *k = jstr(o, "event.kind"), *ip;
	struct filter_addr src, dst;
	bool alert = k && !strcmp(k, "alert"), have_src, have_dst;
	const char *sni = jstr(o, "tls.client.server_name");
	int64_t port = jint(o, "destination.port", 0);

	if (!filter_active(f))
		return true;
	if (is_status(o))
		return false;
	have_src = (ip = jstr(o, "source.ip")) && !filter_addr_parse(ip, &src);
	have_dst = (ip = jstr(o, "destination.ip")) && !filter_addr_parse(ip, &dst);
	if (port < 0 || port > 65535)
		port = 0;
	if (!have_src && !have_dst)
		return filter_match(f, sni, (uint16_t)port, NULL, alert);
	return (have_dst && filter_match(f, sni, (uint16_t)port, &dst, alert)) ||
	       (have_src && filter_match(f, sni, (uint16_t)port, &src, alert));
}

/* ---- text ---- */

struct tb {
	char buf[TAIL_TEXT_MAX];
	size_t len;
};

__attribute__((format(printf, 2, 3))) static void tb_printf(struct tb *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->len + 1 >= sizeof(t->buf))
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->len, sizeof(t->buf) - t->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		t->len += (size_t)n < sizeof(t->buf) - t->len ? (size_t)n :
								sizeof(t->buf) - t->len - 1;
}

/* Untrusted text: escaped for the terminal (fmt_safe), at most FIELD_MAX bytes. */
static void tb_safe(struct tb *t, const char *key, const char *s, enum fmt_safe_mode m)
{
	if (!s || t->len + 1 >= sizeof(t->buf))
		return;
	if (key)
		tb_printf(t, " %s=", key);
	t->len += fmt_safe(t->buf + t->len, sizeof(t->buf) - t->len, s, m, FIELD_MAX);
}

static const char *sev_color(const char *sev)
{
	static const struct {
		const char *name, *sgr;
	} c[] = {
		{ "critical", "\033[1;31m" }, { "high", "\033[31m" }, { "medium", "\033[33m" },
		{ "low", "\033[36m" },	      { "ok", "\033[32m" },   { "error", "\033[31m" },
		{ "warning", "\033[33m" },
	};

	for (size_t i = 0; sev && i < sizeof(c) / sizeof(c[0]); i++)
		if (!strcmp(sev, c[i].name))
			return c[i].sgr;
	return NULL;
}

static void tb_color(struct tb *t, bool on, const char *sev)
{
	const char *sgr = on ? sev_color(sev) : NULL;

	if (sgr)
		tb_printf(t, "%s", sgr);
}

static void tb_reset(struct tb *t, bool on, const char *sev)
{
	if (on && sev_color(sev))
		tb_printf(t, "\033[0m");
}

/* "ip:port", "[v6]:port". */
static void tb_end(struct tb *t, struct json_object *o, const char *which)
{
	char k[32];
	const char *ip;
	int64_t port;

	snprintf(k, sizeof(k), "%s.ip", which);
	ip = jstr(o, k);
	snprintf(k, sizeof(k), "%s.port", which);
	port = jint(o, k, -1);
	tb_printf(t, " %s", ip && strchr(ip, ':') ? "[" : "");
	tb_safe(t, NULL, ip ? ip : "?", FMT_WORD);
	tb_printf(t, "%s", ip && strchr(ip, ':') ? "]" : "");
	if (port >= 0)
		tb_printf(t, ":%lld", (long long)port);
}

static void text_verdict(struct tb *t, struct json_object *o, bool color)
{
	struct json_object *fs = jget(o, "certsentry.findings"), *f;
	const char *v = jstr(o, "certsentry.verdict"), *sev = jstr(o, "certsentry.severity");
	size_t n = fs && json_object_is_type(fs, json_type_array) ? json_object_array_length(fs) :
								    0;

	if (!v)
		return;
	if (!n) {
		tb_printf(t, " ");
		tb_color(t, color, "ok");
		tb_safe(t, "verdict", v, FMT_WORD);
		tb_reset(t, color, "ok");
		return;
	}
	tb_printf(t, " ");
	tb_color(t, color, sev);
	tb_printf(t, "ALERT[");
	tb_safe(t, NULL, sev ? sev : "?", FMT_WORD);
	tb_printf(t, "]");
	for (size_t i = 0; i < n; i++) {
		f = json_object_array_get_idx(fs, i);
		tb_printf(t, " ");
		tb_safe(t, NULL, jstr(f, "code"), FMT_WORD);
		tb_printf(t, ": ");
		tb_safe(t, NULL, jstr(f, "message"), FMT_TAIL);
		tb_printf(t, i + 1 < n ? ";" : "");
	}
	tb_reset(t, color, sev);
}

static void text_leaf(struct tb *t, struct json_object *o)
{
	const char *sha = jstr(o, "tls.server.hash.sha256"), *na = jstr(o, "tls.server.not_after");
	int64_t n = jint(o, "certsentry.chain_total", -1);

	if (!sha)
		return;
	tb_safe(t, "leaf", jstr(o, "tls.server.subject"), FMT_QUOTED);
	tb_safe(t, "issuer", jstr(o, "tls.server.issuer"), FMT_QUOTED);
	tb_safe(t, "serial", jstr(o, "tls.server.x509.serial_number"), FMT_WORD);
	tb_printf(t, " sha256=%.16s", sha);
	if (na)
		tb_printf(t, " expires=%.10s", na); /* the day is what on-call needs */
	if (n >= 0)
		tb_printf(t, " chain=%lld", (long long)n);
}

/* What format_text.c's text_expected() shows, from certsentry.change and
 * certsentry.pin: the previous leaf, or the pins that were expected. */
static void text_expected(struct tb *t, struct json_object *o)
{
	const char *sha = jstr(o, "certsentry.change.previous.sha256"), *na, *pin;
	struct json_object *pins = jget(o, "certsentry.pin.expected");
	size_t n = pins && json_object_is_type(pins, json_type_array) ?
			   json_object_array_length(pins) :
			   0;

	if (sha) {
		tb_printf(t, " prev_sha256=%.16s", sha);
		tb_safe(t, "prev_serial", jstr(o, "certsentry.change.previous.serial"), FMT_WORD);
		if ((na = jstr(o, "certsentry.change.previous.not_after")))
			tb_printf(t, " prev_expires=%.10s", na);
		tb_safe(t, "prev_issuer", jstr(o, "certsentry.change.previous.issuer"), FMT_QUOTED);
	}
	tb_safe(t, "pin_rule", jstr(o, "certsentry.pin.rule"), FMT_QUOTED);
	for (size_t i = 0; i < n && i < VERDICT_PINS_MAX; i++) {
		char cut[FMT_PIN_SHORT_CAP];

		if (!(pin = json_object_get_string(json_object_array_get_idx(pins, i))))
			continue;
		tb_printf(t, i ? "," : " expected=");
		tb_safe(t, NULL, fmt_pin_short(cut, sizeof(cut), pin), FMT_WORD);
	}
}

static void text_report(struct tb *t, struct json_object *o, bool color)
{
	const char *in = jstr(o, "observer.ingress.interface.name");
	const char *out = jstr(o, "observer.egress.interface.name");
	const char *proto = jstr(o, "tls.version_protocol"), *ver = jstr(o, "tls.version");

	tb_end(t, o, "source");
	tb_printf(t, " ->");
	tb_end(t, o, "destination");
	if (in || out) {
		tb_safe(t, "if", in ? in : out, FMT_WORD);
		tb_printf(t, in ? "/in" : "/out");
	}
	tb_safe(t, "sni", jstr(o, "tls.client.server_name"), FMT_WORD);
	if (ver) {
		tb_printf(t, " %s",
			  proto && !strcmp(proto, "ssl")  ? "SSL" :
			  proto && !strcmp(proto, "dtls") ? "DTLS" :
							    "TLS");
		tb_safe(t, NULL, ver, FMT_WORD);
	}
	if (jstr(o, "tls.cipher")) {
		tb_printf(t, " ");
		tb_safe(t, NULL, jstr(o, "tls.cipher"), FMT_WORD);
	}
	tb_safe(t, "alpn", jstr(o, "tls.next_protocol"), FMT_WORD);
	if (jget(o, "certsentry.alert")) {
		tb_printf(t, " ");
		tb_safe(t, NULL, jstr(o, "certsentry.alert.level"), FMT_WORD);
		tb_printf(t, " alert ");
		tb_safe(t, NULL, jstr(o, "certsentry.alert.description"), FMT_WORD);
		tb_printf(t, " from ");
		tb_safe(t, NULL, jstr(o, "certsentry.alert.from"), FMT_WORD);
	}
	if (jget(o, "certsentry.incomplete")) {
		tb_printf(t, " %s lost %lld bytes: ",
			  jstr(o, "certsentry.incomplete.direction") &&
					  !strcmp(jstr(o, "certsentry.incomplete.direction"),
						  "client") ?
				  "client" :
				  "server",
			  (long long)jint(o, "certsentry.incomplete.lost_bytes", 0));
		tb_safe(t, NULL, jstr(o, "certsentry.incomplete.reason"), FMT_TAIL);
	}
	if (jstr(o, "certsentry.reason")) {
		tb_printf(t, " ");
		tb_safe(t, NULL, jstr(o, "certsentry.reason"), FMT_TAIL);
	}
	text_leaf(t, o);
	text_expected(t, o);
	text_verdict(t, o, color);
}

static void text_summary(struct tb *t, struct json_object *o, bool color)
{
	const char *v = jstr(o, "certsentry.verdict");

	tb_printf(t, " ");
	tb_safe(t, NULL, jstr(o, "certsentry.summary.of"), FMT_WORD);
	tb_printf(t, " seen %lld more times from %lld clients ->",
		  (long long)jint(o, "certsentry.summary.count", 0),
		  (long long)jint(o, "certsentry.summary.distinct_clients", 0));
	tb_end(t, o, "destination");
	tb_safe(t, "sni", jstr(o, "tls.client.server_name"), FMT_WORD);
	if (jstr(o, "tls.server.hash.sha256"))
		tb_printf(t, " sha256=%.16s", jstr(o, "tls.server.hash.sha256"));
	tb_printf(t, " ");
	tb_color(t, color, v && !strcmp(v, "ok") ? "ok" : "warning");
	tb_safe(t, "verdict", v, FMT_WORD);
	tb_reset(t, color, v && !strcmp(v, "ok") ? "ok" : "warning");
}

static void text_status(struct tb *t, struct json_object *o, bool color)
{
	const char *lvl = jstr(o, "log.level");

	tb_printf(t, " ");
	tb_color(t, color, lvl);
	tb_printf(t, "[");
	tb_safe(t, NULL, lvl ? lvl : "info", FMT_WORD);
	tb_printf(t, "]");
	tb_reset(t, color, lvl);
	tb_printf(t, " ");
	tb_safe(t, NULL, jstr(o, "message"), FMT_TAIL);
}

static void render_text(const struct tail *t, struct json_object *o, struct tb *b)
{
	const char *a = jstr(o, "event.action");

	tb_safe(b, NULL, jstr(o, "@timestamp") ? jstr(o, "@timestamp") : "-", FMT_WORD);
	tb_printf(b, " ");
	tb_safe(b, NULL, a ? a : "status", FMT_WORD);
	if (is_status(o))
		text_status(b, o, t->color);
	else if (a && !strcmp(a, event_action_name(EV_TLS_SUMMARY)))
		text_summary(b, o, t->color);
	else
		text_report(b, o, t->color);
}

/* ---- the stream ---- */

/* The service's first line: who serves (said on stderr, with a reconnect). */
static void on_hello(struct tail *t, struct json_object *h)
{
	const char *v = jstr(h, "version"), *at = jstr(h, "started");
	char vs[64], ats[64];

	fmt_safe(vs, sizeof(vs), v ? v : "?", FMT_WORD, 32);
	fmt_safe(ats, sizeof(ats), at ? at : "?", FMT_WORD, 32);
	fprintf(stderr, "certsentry tail: %s %s (certsentry %s, pid %lld, started %s)\n",
		t->connects > 1 ? "reconnected to" : "connected to", t->path, vs,
		(long long)jint(h, "pid", 0), ats);
}

/* -1: stdout is gone. */
static int on_line(struct tail *t, const char *line, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o = tok ? json_tokener_parse_ex(tok, line, (int)len) : NULL;
	struct tb *b;
	const char *err;
	int rc = 0;

	json_tokener_free(tok);
	if (!o || !json_object_is_type(o, json_type_object)) {
		fprintf(stderr, "certsentry tail: %s: a line that is not a JSON object, skipped\n",
			t->path);
	} else if (jget(o, "hello")) {
		on_hello(t, jget(o, "hello"));
	} else if ((err = jstr(o, "error"))) {
		char e[FIELD_MAX * 4 + 1];

		fmt_safe(e, sizeof(e), err, FMT_TAIL, FIELD_MAX);
		fprintf(stderr, "certsentry tail: %s: the service refused: %s\n", t->path, e);
		t->refused = true;
	} else if (shown(t, o) && !t->text) {
		if (fwrite(line, 1, len, stdout) != len || putchar('\n') == EOF)
			rc = -1;
	} else if (shown(t, o) && (b = calloc(1, sizeof(*b)))) {
		render_text(t, o, b);
		if (fwrite(b->buf, 1, b->len, stdout) != b->len || putchar('\n') == EOF)
			rc = -1;
		free(b);
	}
	json_object_put(o);
	return rc;
}

/* Whole lines from what arrived; a part stays for the next read. */
static int take_lines(struct tail *t)
{
	size_t start = 0;
	char *nl;

	while ((nl = memchr(t->buf + start, '\n', t->len - start))) {
		size_t n = (size_t)(nl - (t->buf + start));

		if (!t->skipping && on_line(t, t->buf + start, n))
			return -1;
		t->skipping = false;
		start += n + 1;
	}
	memmove(t->buf, t->buf + start, t->len - start);
	t->len -= start;
	if (t->len == TAIL_LINE_MAX) { /* no end in sight: drop it */
		fprintf(stderr, "certsentry tail: %s: a line longer than %d bytes, skipped\n",
			t->path, TAIL_LINE_MAX);
		t->skipping = true;
		t->len = 0;
	}
	return fflush(stdout) ? -1 : 0;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, e;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Until the service closes the stream (0), stdout goes (-1) or a signal. */
static int follow(struct tail *t, int fd)
{
	ssize_t n;

	t->len = 0;
	t->skipping = false;
	t->connects++;
	while (!stop) {
		n = read(fd, t->buf + t->len, TAIL_LINE_MAX - t->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		t->len += (size_t)n;
		if (take_lines(t))
			return -1;
	}
	return 0;
}

static void signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART: read returns */

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static bool use_color(const struct config *c)
{
	const char *no = getenv("NO_COLOR");

	if (c->color != CLI_COLOR_AUTO)
		return c->color == CLI_COLOR_ALWAYS;
	return isatty(STDOUT_FILENO) && !(no && *no);
}

int tail_run(const struct config *c)
{
	struct tail t = { .cfg = c, .path = c->tail_socket ? c->tail_socket : SINK_SOCKET_DEFAULT };
	int fd, rc = 0;

	t.text = c->format_set ? c->format == OUTPUT_TEXT : isatty(STDOUT_FILENO);
	t.color = t.text && use_color(c);
	if ((fd = connect_to(t.path)) < 0) {
		fprintf(stderr, "certsentry tail: %s: %s%s\n", t.path, strerror(errno),
			errno == EACCES ? " (membership of the socket's group is needed)" :
			errno == ENOENT || errno == ECONNREFUSED ?
					  " (is the service running with --event-socket?)" :
					  "");
		return 1;
	}
	if (!(t.buf = malloc(TAIL_LINE_MAX))) {
		fprintf(stderr, "certsentry tail: out of memory\n");
		close(fd);
		return 1;
	}
	signals();
	while (!stop) {
		rc = follow(&t, fd);
		close(fd);
		fd = -1;
		if (rc || stop || t.refused)
			break;
		fprintf(stderr, "certsentry tail: %s: the service went away; reconnecting\n",
			t.path);
		while (!stop && (fd = connect_to(t.path)) < 0)
			sleep(RETRY_S);
		if (fd < 0)
			break;
	}
	if (fd >= 0)
		close(fd);
	free(t.buf);
	return t.refused ? 1 : 0;
}
