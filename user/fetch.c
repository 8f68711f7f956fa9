/* fetch.c - bounded HTTP(S) requests on libcurl's multi interface, driven from the main loop. */
/*
 * Why curl_multi_perform once per tick and not curl's socket callbacks:
 * the daemon's loop already wakes at least every 50 ms, perform never
 * waits (curl's threaded resolver keeps DNS off this thread), and a
 * transfer then costs at most a tick per round trip, nothing for fetches
 * made minutes apart. Socket callbacks would have to put curl's sockets into
 * the capture's epoll set, which capture.c owns, for no gain that matters.
 */
#include "defaults.h"
#include "fetch.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <fnmatch.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "htab.h"

#define BACKOFF_SLOTS 1024 /* URLs whose failures are remembered */
#define BODY_DEFAULT  (1u << 20)
#define BODY_FIRST    (16u << 10) /* first allocation; doubles up to max_bytes */
#define CURL_BUF      (128 << 10) /* bytes read per socket read: fewer ticks per MB */
#define TICK_BYTES    (256u << 10)

static const char *const result_names[FETCH_RESULT_MAX] = {
	[FETCH_OK] = "ok",
	[FETCH_NOT_MODIFIED] = "not_modified",
	[FETCH_E_URL] = "url",
	[FETCH_E_DISALLOWED] = "disallowed",
	[FETCH_E_ADDRESS] = "address",
	[FETCH_E_BACKOFF] = "backoff",
	[FETCH_E_BUSY] = "busy",
	[FETCH_E_DNS] = "dns",
	[FETCH_E_CONNECT] = "connect",
	[FETCH_E_TLS] = "tls",
	[FETCH_E_TIMEOUT] = "timeout",
	[FETCH_E_HTTP] = "http_status",
	[FETCH_E_REDIRECT] = "redirect",
	[FETCH_E_TOO_LARGE] = "too_large",
	[FETCH_E_TRUNCATED] = "truncated",
	[FETCH_E_IO] = "io",
};

const char *fetch_result_name(enum fetch_result r)
{
	return (unsigned)r < FETCH_RESULT_MAX ? result_names[r] : "?";
}

struct xfer {
	struct fetch *f;
	struct xfer *prev, *next; /* queue or active list */
	CURL *h;
	struct curl_slist *hdrs;
	char *url, *cur_url;
	uint8_t *post;
	size_t post_len;
	size_t max_bytes;
	char *ctype;
	char if_none_match[FETCH_ETAG_MAX];
	int64_t ims;
	uint8_t *body;
	size_t len, cap;
	bool too_large, addr_refused;
	bool paused; /* took its TICK_BYTES this tick */
	size_t tick_bytes;
	char etag[FETCH_ETAG_MAX];
	uint64_t start_ms;
	uint32_t redirects;
	fetch_done_fn done;
	void *ctx;
	uint8_t tag[FETCH_TAG_LEN];
	char errbuf[CURL_ERROR_SIZE];
};

struct xlist {
	struct xfer *head, *tail;
	uint32_t n;
};

struct backoff {
	uint64_t h; /* url_hash() of the URL; 0 = free */
	uint64_t until_ms;
	uint32_t fails;
};

struct fetch {
	struct fetch_opts o;
	char *allow[FETCH_ALLOW_MAX];
	char *proxy, *ua;
	CURLM *m;
	struct xlist queue, active;
	uint64_t tokens; /* millionths of a transfer start */
	uint64_t tokens_ms;
	struct backoff bo[BACKOFF_SLOTS];
	struct hseed seed; /* URLs come from certificates: keyed */
	struct fetch_stats st;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void xl_push(struct xlist *l, struct xfer *x)
{
	x->next = NULL;
	x->prev = l->tail;
	if (l->tail)
		l->tail->next = x;
	else
		l->head = x;
	l->tail = x;
	l->n++;
}

static void xl_del(struct xlist *l, struct xfer *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		l->head = x->next;
	if (x->next)
		x->next->prev = x->prev;
	else
		l->tail = x->prev;
	x->prev = x->next = NULL;
	l->n--;
}

/* ---- URLs, hosts, addresses ---- */

enum fetch_result fetch_url_host(const char *url, char *host, size_t cap)
{
	enum fetch_result r = FETCH_E_URL;
	char *scheme = NULL, *h = NULL;
	CURLU *u;
	size_t n;

	if (cap)
		host[0] = 0;
	if (!url || strnlen(url, FETCH_URL_MAX + 1) > FETCH_URL_MAX ||
	    (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8)) ||
	    !(u = curl_url()))
		return FETCH_E_URL;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") && strcmp(scheme, "https")) ||
	    curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK || !h[0])
		goto out;
	n = strlen(h);
	if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
		memmove(h, h + 1, n - 2);
		h[n - 2] = 0;
		n -= 2;
	}
	if (n >= cap)
		goto out;
	for (size_t i = 0; i <= n; i++)
		host[i] = (char)tolower((unsigned char)h[i]);
	r = FETCH_OK;
out:
	curl_free(scheme);
	curl_free(h);
	curl_url_cleanup(u);
	return r;
}

bool fetch_host_allowed(const struct fetch *f, const char *host)
{
	if (!f->o.n_allow)
		return true;
	for (uint32_t i = 0; i < f->o.n_allow; i++)
		if (fnmatch(f->allow[i], host, FNM_CASEFOLD) == 0)
			return true;
	return false;
}

static bool v4_local(uint32_t a) /* host order */
{
	return (a >> 24) == 127 || (a >> 24) == 0 || (a >> 16) == 0xa9fe || /* 169.254/16 */
	       (a >> 28) == 0xe || a == 0xffffffffu;			    /* 224/4, broadcast */
}

bool fetch_addr_is_local(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return v4_local(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a)) {
			uint32_t v4;

			memcpy(&v4, &a->s6_addr[12], 4);
			return v4_local(ntohl(v4));
		}
		return IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_UNSPECIFIED(a) ||
		       IN6_IS_ADDR_LINKLOCAL(a) || IN6_IS_ADDR_MULTICAST(a);
	}
	return true; /* not IP: never */
}

/* ---- per-URL backoff ---- */

static uint64_t url_hash(const struct fetch *f, const char *s)
{
	uint64_t h = hash_bytes(&f->seed, s, strlen(s));

	return h ? h : 1;
}

uint32_t fetch_backoff_s(const struct fetch_opts *o, uint32_t n)
{
	uint64_t s = o->backoff_min_s;

	if (n == 0)
		return 0;
	for (uint32_t i = 1; i < n && s < o->backoff_max_s; i++)
		s *= 2;
	return (uint32_t)(s < o->backoff_max_s ? s : o->backoff_max_s);
}

static struct backoff *bo_find(const struct fetch *f, uint64_t h)
{
	for (uint32_t i = 0; i < BACKOFF_SLOTS; i++)
		if (f->bo[i].h == h)
			return (struct backoff *)&f->bo[i];
	return NULL;
}

static void bo_fail(struct fetch *f, const char *url)
{
	uint64_t h = url_hash(f, url), now = mono_ms();
	struct backoff *b = bo_find(f, h), *old = &f->bo[0];

	if (!b) {
		/* a free slot, else the one whose backoff ended first */
		for (uint32_t i = 0; i < BACKOFF_SLOTS && !b; i++) {
			if (!f->bo[i].h)
				b = &f->bo[i];
			else if (f->bo[i].until_ms < old->until_ms)
				old = &f->bo[i];
		}
		if (!b)
			b = old;
		*b = (struct backoff){ .h = h };
	}
	if (b->fails < UINT32_MAX)
		b->fails++;
	b->until_ms = now + (uint64_t)fetch_backoff_s(&f->o, b->fails) * 1000;
}

static void bo_clear(struct fetch *f, const char *url)
{
	struct backoff *b = bo_find(f, url_hash(f, url));

	if (b)
		*b = (struct backoff){ 0 };
}

uint32_t fetch_backoff_left(const struct fetch *f, const char *url)
{
	const struct backoff *b = bo_find(f, url_hash(f, url));
	uint64_t now = mono_ms();

	return b && b->until_ms > now ? (uint32_t)((b->until_ms - now + 999) / 1000) : 0;
}

void fetch_penalize(struct fetch *f, const char *url)
{
	bo_fail(f, url);
}

/* ---- curl callbacks ---- */

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t add = sz * n;

	if (add > x->max_bytes - x->len) {
		x->too_large = true;
		return 0; /* CURLE_WRITE_ERROR */
	}
	if (x->tick_bytes >= x->f->o.tick_bytes) {
		x->paused = true;
		return CURL_WRITEFUNC_PAUSE; /* curl keeps the chunk for later */
	}
	if (x->len + add + 1 > x->cap) {
		size_t nc = x->cap ? x->cap : BODY_FIRST;
		uint8_t *nb;

		while (nc < x->len + add + 1)
			nc *= 2;
		if (nc > x->max_bytes + 1)
			nc = x->max_bytes + 1;
		if (!(nb = realloc(x->body, nc)))
			return 0;
		x->body = nb;
		x->cap = nc;
	}
	memcpy(x->body + x->len, p, add);
	x->len += add;
	x->tick_bytes += add;
	x->body[x->len] = 0;
	x->f->st.bytes += add;
	return add;
}

/* Keeps the ETag of the last response (a redirect's headers come first). */
static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = sz * n, i = 5;

	if (len >= 5 && !strncmp(p, "HTTP/", 5))
		x->etag[0] = 0;
	else if (len > 5 && !strncasecmp(p, "etag:", 5)) {
		size_t o = 0;

		while (i < len && (p[i] == ' ' || p[i] == '\t'))
			i++;
		while (i < len && p[i] != '\r' && p[i] != '\n' && o + 1 < sizeof(x->etag))
			x->etag[o++] = p[i++];
		x->etag[o] = 0;
	}
	return len;
}

static curl_socket_t on_open(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct xfer *x = ud;

	(void)purpose;
	if (!x->f->o.allow_local && fetch_addr_is_local(&a->addr)) {
		x->addr_refused = true;
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* ---- transfers ---- */

static void xfer_free(struct xfer *x)
{
	if (x->h) {
		if (x->f->m)
			curl_multi_remove_handle(x->f->m, x->h);
		curl_easy_cleanup(x->h);
	}
	curl_slist_free_all(x->hdrs);
	free(x->url);
	free(x->cur_url);
	free(x->post);
	free(x->ctype);
	free(x->body);
	free(x);
}

static void finish(struct fetch *f, struct xfer *x, enum fetch_result res, long status,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void finish(struct fetch *f, struct xfer *x, enum fetch_result res, long status,
		   const char *fmt, ...)
{
	struct fetch_resp r = {
		.result = res,
		.http_status = status,
		.url = x->url,
		.final_url = x->cur_url ? x->cur_url : x->url,
		.redirects = x->redirects,
		.body = res == FETCH_OK ? x->body : NULL,
		.len = res == FETCH_OK ? x->len : 0,
		.elapsed_ms = x->start_ms ? mono_ms() - x->start_ms : 0,
		.ctx = x->ctx,
	};
	va_list ap;

	memcpy(r.tag, x->tag, sizeof(r.tag));
	snprintf(r.etag, sizeof(r.etag), "%s", x->etag);
	if (x->h && res == FETCH_OK) {
		curl_off_t t = -1;

		if (curl_easy_getinfo(x->h, CURLINFO_FILETIME_T, &t) == CURLE_OK && t > 0)
			r.last_modified = (int64_t)t;
	}
	va_start(ap, fmt);
	vsnprintf(r.error, sizeof(r.error), fmt, ap);
	va_end(ap);
	if (res == FETCH_OK || res == FETCH_NOT_MODIFIED)
		bo_clear(f, x->url);
	else
		bo_fail(f, x->url);
	f->st.results[res]++;
	xl_del(&f->active, x);
	if (x->done)
		x->done(x->ctx, &r);
	if (r.body == NULL && res == FETCH_OK)
		x->body = NULL; /* taken */
	xfer_free(x);
}

uint8_t *fetch_take_body(struct fetch_resp *r)
{
	uint8_t *b = r->body;

	r->body = NULL;
	return b;
}

static int64_t time_left_ms(const struct fetch *f, const struct xfer *x)
{
	uint64_t el = mono_ms() - x->start_ms;

	return el >= f->o.timeout_ms ? 0 : (int64_t)(f->o.timeout_ms - el);
}

/* Options that hold for every hop of one request. */
static int setup(struct fetch *f, struct xfer *x)
{
	CURL *h = x->h;
	CURLcode c = CURLE_OK;

#define SET(opt, val)                                      \
	do {                                               \
		if (c == CURLE_OK)                         \
			c = curl_easy_setopt(h, opt, val); \
	} while (0)
	SET(CURLOPT_PRIVATE, x);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L); /* we follow, checking each hop */
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max_bytes);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, x);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, x);
	SET(CURLOPT_OPENSOCKETFUNCTION, on_open);
	SET(CURLOPT_OPENSOCKETDATA, x);
	SET(CURLOPT_ERRORBUFFER, x->errbuf);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)f->o.connect_timeout_ms);
	SET(CURLOPT_FILETIME, 1L);
	SET(CURLOPT_USERAGENT, f->ua);
	SET(CURLOPT_PROXY, f->proxy ? f->proxy : "");
	SET(CURLOPT_BUFFERSIZE, (long)CURL_BUF);
	SET(CURLOPT_ACCEPT_ENCODING, NULL); /* identity only: no decompression bombs */
	if (x->ims) {
		SET(CURLOPT_TIMECONDITION, (long)CURL_TIMECOND_IFMODSINCE);
		SET(CURLOPT_TIMEVALUE_LARGE, (curl_off_t)x->ims);
	}
	if (x->if_none_match[0]) {
		char hdr[FETCH_ETAG_MAX + 32];
		struct curl_slist *n;

		snprintf(hdr, sizeof(hdr), "If-None-Match: %s", x->if_none_match);
		if (!(n = curl_slist_append(x->hdrs, hdr)))
			return -1;
		x->hdrs = n;
	}
	if (x->post) {
		char hdr[160];
		struct curl_slist *n;

		snprintf(hdr, sizeof(hdr), "Content-Type: %.120s",
			 x->ctype ? x->ctype : "application/octet-stream");
		if (!(n = curl_slist_append(x->hdrs, hdr)) ||
		    !(n = curl_slist_append(n, "Expect:")))
			return -1;
		x->hdrs = n;
		SET(CURLOPT_POSTFIELDS, x->post);
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->post_len);
	}
	SET(CURLOPT_HTTPHEADER, x->hdrs);
#undef SET
	return c == CURLE_OK ? 0 : -1;
}

/* One hop: URL and the time left. */
static int hop(struct fetch *f, struct xfer *x)
{
	int64_t left = time_left_ms(f, x);

	if (left <= 0)
		return -1;
	if (curl_easy_setopt(x->h, CURLOPT_URL, x->cur_url) != CURLE_OK ||
	    curl_easy_setopt(x->h, CURLOPT_TIMEOUT_MS, (long)left) != CURLE_OK ||
	    curl_multi_add_handle(f->m, x->h) != CURLM_OK)
		return -1;
	return 0;
}

static void start(struct fetch *f, struct xfer *x)
{
	xl_push(&f->active, x);
	f->st.started++;
	if (f->active.n > f->st.max_active)
		f->st.max_active = f->active.n;
	x->start_ms = mono_ms();
	if (!(x->h = curl_easy_init()) || setup(f, x) < 0 || hop(f, x) < 0)
		finish(f, x, FETCH_E_IO, 0, "cannot start the transfer (out of memory?)");
}

/* A 3xx with a Location: the next hop, if it is allowed. */
static void redirect(struct fetch *f, struct xfer *x, long status)
{
	char host[256], *loc = NULL, *next;

	if (curl_easy_getinfo(x->h, CURLINFO_REDIRECT_URL, &loc) != CURLE_OK || !loc) {
		finish(f, x, FETCH_E_HTTP, status, "HTTP %ld without a Location", status);
		return;
	}
	if (x->post) {
		finish(f, x, FETCH_E_REDIRECT, status, "HTTP %ld redirect on a POST, not followed",
		       status);
		return;
	}
	if (x->redirects >= f->o.max_redirects) {
		finish(f, x, FETCH_E_REDIRECT, status, "more than %u redirects",
		       f->o.max_redirects);
		return;
	}
	if (fetch_url_host(loc, host, sizeof(host)) != FETCH_OK) {
		finish(f, x, FETCH_E_REDIRECT, status, "redirect to a non-http(s) URL: %.120s",
		       loc);
		return;
	}
	if (!fetch_host_allowed(f, host)) {
		finish(f, x, FETCH_E_DISALLOWED, status,
		       "redirect to %.100s: host not allowed (--fetch-allow)", host);
		return;
	}
	if (!(next = strdup(loc))) {
		finish(f, x, FETCH_E_IO, status, "out of memory");
		return;
	}
	curl_multi_remove_handle(f->m, x->h);
	free(x->cur_url);
	x->cur_url = next;
	x->redirects++;
	f->st.redirects++;
	x->len = 0;
	x->etag[0] = 0;
	x->paused = false;
	if (hop(f, x) < 0)
		finish(f, x, FETCH_E_TIMEOUT, status, "time ran out after %u redirects",
		       x->redirects);
}

static void done(struct fetch *f, struct xfer *x, CURLcode cc)
{
	long status = 0;
	const char *e = x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc);

	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
	if (cc == CURLE_OK) {
		if (status >= 200 && status < 300)
			finish(f, x, FETCH_OK, status, "HTTP %ld", status);
		else if (status == 304 && (x->ims || x->if_none_match[0]))
			finish(f, x, FETCH_NOT_MODIFIED, status, "HTTP 304 not modified");
		else if (status == 301 || status == 302 || status == 303 || status == 307 ||
			 status == 308)
			redirect(f, x, status);
		else
			finish(f, x, FETCH_E_HTTP, status, "HTTP %ld", status);
		return;
	}
	if (x->too_large || cc == CURLE_FILESIZE_EXCEEDED) {
		finish(f, x, FETCH_E_TOO_LARGE, status, "body over %zu bytes (%s)", x->max_bytes,
		       cc == CURLE_FILESIZE_EXCEEDED && !x->len ? "by Content-Length" : "counted");
		return;
	}
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		finish(f, x, FETCH_E_DNS, status, "%s", e);
		break;
	case CURLE_COULDNT_CONNECT:
		if (x->addr_refused)
			finish(f, x, FETCH_E_ADDRESS, status,
			       "refused to connect to a loopback, link-local or multicast address");
		else
			finish(f, x, FETCH_E_CONNECT, status, "%s", e);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		/* curl says which phase: "Resolving timed out", "Connection
		 * timed out", else "Operation timed out" (the total) */
		finish(f, x,
		       !strncmp(e, "Resolving", 9)   ? FETCH_E_DNS :
		       !strncmp(e, "Connection", 10) ? FETCH_E_CONNECT :
						       FETCH_E_TIMEOUT,
		       status, "%s", e);
		break;
	case CURLE_PARTIAL_FILE:
		finish(f, x, FETCH_E_TRUNCATED, status, "%s", e);
		break;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
		finish(f, x, FETCH_E_TLS, status, "%s", e);
		break;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		finish(f, x, FETCH_E_URL, status, "%s", e);
		break;
	default:
		finish(f, x, FETCH_E_IO, status, "%s", e);
	}
}

/* ---- the public side ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct fetch *fetch_new(const struct fetch_opts *o, char *err, size_t errlen)
{
	struct fetch *f;

	if (o->n_allow > FETCH_ALLOW_MAX) {
		snprintf(err, errlen, "--fetch-allow: at most %d patterns", FETCH_ALLOW_MAX);
		return NULL;
	}
	for (uint32_t i = 0; i < o->n_allow; i++)
		if (!o->allow[i] || !o->allow[i][0] || strchr(o->allow[i], '/') ||
		    strlen(o->allow[i]) > 255) {
			snprintf(err, errlen,
				 "--fetch-allow: '%s' is not a host pattern "
				 "(a glob such as *.example.com, no scheme or path)",
				 o->allow[i] ? o->allow[i] : "");
			return NULL;
		}
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK) {
		snprintf(err, errlen, "libcurl: %s", curl_easy_strerror(curl_init_rc));
		return NULL;
	}
	if (!(f = calloc(1, sizeof(*f))))
		goto oom;
	hseed_init(&f->seed);
	f->o = *o;
	OPT_DEFAULT(f->o.max_concurrent, 4);
	OPT_DEFAULT(f->o.max_queued, 1024);
	OPT_DEFAULT(f->o.rate_per_min, 120);
	OPT_DEFAULT(f->o.timeout_ms, 60000);
	OPT_DEFAULT(f->o.connect_timeout_ms, 10000);
	OPT_DEFAULT(f->o.backoff_min_s, 60);
	OPT_DEFAULT(f->o.backoff_max_s, 3600);
	OPT_DEFAULT(f->o.max_redirects, 3);
	OPT_DEFAULT(f->o.tick_bytes, TICK_BYTES);
	if (f->o.backoff_max_s < f->o.backoff_min_s)
		f->o.backoff_max_s = f->o.backoff_min_s;
	for (uint32_t i = 0; i < o->n_allow; i++) {
		if (!(f->allow[i] = strdup(o->allow[i])))
			goto oom;
		f->o.allow[i] = f->allow[i];
	}
	if ((o->proxy && !(f->proxy = strdup(o->proxy))) ||
	    !(f->ua = strdup(o->user_agent ? o->user_agent : "certsentry")))
		goto oom;
	f->o.proxy = f->proxy;
	f->o.user_agent = f->ua;
	if (!(f->m = curl_multi_init()))
		goto oom;
	curl_multi_setopt(f->m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)f->o.max_concurrent);
	f->tokens = (uint64_t)f->o.max_concurrent * 1000000;
	f->tokens_ms = mono_ms();
	return f;
oom:
	snprintf(err, errlen, "fetch: out of memory");
	fetch_free(f);
	return NULL;
}

void fetch_free(struct fetch *f)
{
	struct xfer *x;

	if (!f)
		return;
	while ((x = f->queue.head)) {
		xl_del(&f->queue, x);
		xfer_free(x);
	}
	while ((x = f->active.head)) {
		xl_del(&f->active, x);
		xfer_free(x);
	}
	if (f->m)
		curl_multi_cleanup(f->m);
	for (uint32_t i = 0; i < FETCH_ALLOW_MAX; i++)
		free(f->allow[i]);
	free(f->proxy);
	free(f->ua);
	free(f);
}

static char *dup_n(const void *p, size_t n)
{
	char *d = malloc(n + 1);

	if (d) {
		memcpy(d, p, n);
		d[n] = 0;
	}
	return d;
}

enum fetch_result fetch_submit(struct fetch *f, const struct fetch_req *r)
{
	enum fetch_result res;
	char host[256];
	struct xfer *x;

	f->st.submitted++;
	if ((res = fetch_url_host(r->url, host, sizeof(host))) != FETCH_OK)
		goto refuse;
	if (!fetch_host_allowed(f, host)) {
		res = FETCH_E_DISALLOWED;
		goto refuse;
	}
	if (fetch_backoff_left(f, r->url)) {
		res = FETCH_E_BACKOFF;
		goto refuse;
	}
	if (f->queue.n >= f->o.max_queued) {
		res = FETCH_E_BUSY;
		goto refuse;
	}
	if (!(x = calloc(1, sizeof(*x))) || !(x->url = strdup(r->url)) ||
	    !(x->cur_url = strdup(r->url)) ||
	    (r->post && !(x->post = (uint8_t *)dup_n(r->post, r->post_len))) ||
	    (r->content_type && !(x->ctype = strdup(r->content_type)))) {
		if (x) {
			x->f = f;
			xfer_free(x);
		}
		res = FETCH_E_BUSY;
		goto refuse;
	}
	x->f = f;
	x->post_len = r->post_len;
	x->max_bytes = r->max_bytes ? r->max_bytes : BODY_DEFAULT;
	if (r->if_none_match)
		snprintf(x->if_none_match, sizeof(x->if_none_match), "%s", r->if_none_match);
	/* an ETag from the wire could hold anything: only printable ASCII goes out */
	for (char *p = x->if_none_match; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
	x->ims = r->if_modified_since > 0 ? r->if_modified_since : 0;
	x->done = r->done;
	x->ctx = r->ctx;
	memcpy(x->tag, r->tag, sizeof(x->tag));
	xl_push(&f->queue, x);
	return FETCH_OK;
refuse:
	f->st.results[res]++;
	return res;
}

void fetch_cancel(struct fetch *f, const void *ctx)
{
	struct xfer *x, *n;

	for (x = f->queue.head; x; x = n) {
		n = x->next;
		if (x->ctx == ctx) {
			xl_del(&f->queue, x);
			xfer_free(x);
		}
	}
	for (x = f->active.head; x; x = n) {
		n = x->next;
		if (x->ctx == ctx) {
			xl_del(&f->active, x);
			xfer_free(x);
		}
	}
}

void fetch_tick(struct fetch *f)
{
	uint64_t now = mono_ms(), cap = (uint64_t)f->o.max_concurrent * 1000000;
	CURLMsg *msg;
	int running, left;

	if (!f->queue.n && !f->active.n)
		return;
	/* rate: rate_per_min starts a minute, in millionths */
	f->tokens += (now - f->tokens_ms) * f->o.rate_per_min * 1000 / 60;
	if (f->tokens > cap)
		f->tokens = cap;
	f->tokens_ms = now;
	while (f->queue.head && f->active.n < f->o.max_concurrent && f->tokens >= 1000000) {
		struct xfer *x = f->queue.head;

		xl_del(&f->queue, x);
		f->tokens -= 1000000;
		start(f, x);
	}
	if (!f->active.n)
		return;
	for (struct xfer *x = f->active.head, *n; x; x = n) {
		n = x->next;
		x->tick_bytes = 0;
		if (x->paused) {
			x->paused = false;
			/* may hand over the held chunk at once, into this tick */
			curl_easy_pause(x->h, CURLPAUSE_CONT);
		}
	}
	curl_multi_perform(f->m, &running);
	while ((msg = curl_multi_info_read(f->m, &left))) {
		struct xfer *x = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		if (x)
			done(f, x, msg->data.result);
	}
}

void fetch_stats(const struct fetch *f, struct fetch_stats *st)
{
	*st = f->st;
	st->active = f->active.n;
	st->queued = f->queue.n;
}
