/* confirm.c - --confirm: fetch a hidden TLS 1.3 chain with our own handshake, bounded and rate-limited. */
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/types.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include "certsentry.h"
#include "confirm.h"
#include "defaults.h"
#include "flow.h"
#include "fmt.h"
#include "htab.h"
#include "lru.h"
#include "tls.h"

#define NS_PER_S     1000000000ULL
#define NS_PER_MS    1000000ULL
#define MICRO	     1000000ULL
#define ADDRS_TTL_NS (2 * NS_PER_S) /* addresses come and go: read them again */
#define TICK_BUSY_MS 5		    /* the main loop's sleep while handshakes run */

static const char *const result_names[CONFIRM_R_MAX] = {
	[CONFIRM_R_OK] = "ok",	 [CONFIRM_R_CONNECT] = "connect", [CONFIRM_R_TIMEOUT] = "timeout",
	[CONFIRM_R_TLS] = "tls", [CONFIRM_R_CLOSED] = "closed",	  [CONFIRM_R_NO_CHAIN] = "no_chain",
};

static const char *const skip_names[CONFIRM_S_MAX] = {
	[CONFIRM_S_TTL] = "ttl",     [CONFIRM_S_RATE] = "rate", [CONFIRM_S_REMOTE] = "remote",
	[CONFIRM_S_QUEUE] = "queue", [CONFIRM_S_SEEN] = "seen",
};

const char *confirm_result_name(uint32_t r)
{
	return r < CONFIRM_R_MAX ? result_names[r] : "unknown";
}

const char *confirm_skip_name(uint32_t s)
{
	return s < CONFIRM_S_MAX ? skip_names[s] : "unknown";
}

/* ---- token bucket ---- */

void confirm_bucket_init(struct confirm_bucket *b, uint32_t rate, uint32_t burst, uint64_t now)
{
	b->rate = rate;
	b->burst_micro = (uint64_t)(burst ? burst : 1) * MICRO;
	b->micro = b->burst_micro; /* a quiet start may spend the burst */
	b->last_ns = now;
}

bool confirm_bucket_take(struct confirm_bucket *b, uint64_t now)
{
	uint64_t dt = now > b->last_ns ? now - b->last_ns : 0;

	/* 1000 s refill any bucket; the cap keeps dt * rate far from overflow. */
	if (dt > 1000 * NS_PER_S)
		dt = 1000 * NS_PER_S;
	b->micro += dt * b->rate / 1000; /* rate per s = rate * 10^6 micro per 10^9 ns */
	if (b->micro > b->burst_micro)
		b->micro = b->burst_micro;
	if (now > b->last_ns)
		b->last_ns = now; /* never back: a step back must not refill twice */
	if (b->micro < MICRO)
		return false;
	b->micro -= MICRO;
	return true;
}

/* ---- own addresses ---- */

int confirm_addrs_load(struct confirm_addrs *s)
{
	struct ifaddrs *ifa, *i;

	if (getifaddrs(&ifa) < 0)
		return -1;
	s->n = 0;
	for (i = ifa; i && s->n < CONFIRM_ADDRS_MAX; i = i->ifa_next) {
		if (!i->ifa_addr)
			continue;
		memset(s->a[s->n].addr, 0, sizeof(s->a[s->n].addr));
		if (i->ifa_addr->sa_family == AF_INET) {
			s->a[s->n].family = CS_AF_INET;
			memcpy(s->a[s->n].addr, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, 4);
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			s->a[s->n].family = CS_AF_INET6;
			memcpy(s->a[s->n].addr, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr,
			       16);
		} else {
			continue;
		}
		s->n++;
	}
	freeifaddrs(ifa);
	return 0;
}

bool confirm_addrs_has(const struct confirm_addrs *s, const struct report_endpoint *e)
{
	static const uint8_t v6_loop[16] = { [15] = 1 };
	size_t len = e->family == CS_AF_INET ? 4 : 16;

	/* All of 127/8 is this host's, whether or not lo lists it. */
	if ((e->family == CS_AF_INET && e->addr[0] == 127) ||
	    (e->family == CS_AF_INET6 && !memcmp(e->addr, v6_loop, 16)))
		return true;
	for (uint32_t i = 0; i < s->n; i++)
		if (s->a[i].family == e->family && !memcmp(s->a[i].addr, e->addr, len))
			return true;
	return false;
}

/* ---- state ---- */

/* What one handshake needs: the endpoint and the client's hello facts. */
struct target {
	struct report_endpoint server;
	bool has_sni;
	char sni[TLS_SNI_MAX + 1];
	char alpn[TLS_ALPN_MAX + 1]; /* offered, comma-joined */
};

/* An endpoint: (server address, port, SNI), compared whole. */
struct ep_key {
	uint8_t family;
	uint8_t has_sni;
	uint16_t port;
	uint8_t addr[16];
	uint16_t sni_len;
	char sni[TLS_SNI_MAX];
};

/* An endpoint remembered for the ttl. */
struct ep {
	struct hnode h;
	struct lru_node lru;
	struct ep_key key;
	uint64_t confirmed_ns; /* admitted last (monotonic), 0: never */
	uint64_t seen_ns;      /* another source gave its chain, 0: never */
	bool busy;	       /* queued or in flight */
};

struct qent {
	struct target t;
	struct ep *ep;
};

enum job_state { J_CONNECTING, J_HANDSHAKE };

struct job {
	struct target t;
	struct ep *ep;
	enum job_state st;
	int fd;
	SSL *ssl;
	short events; /* what the socket waits for */
	uint64_t start_ns, deadline_ns;
	struct report_endpoint local;
};

/* One of our connections, to know the capture's reports about it. */
struct own_conn {
	struct report_endpoint local, server;
};

struct confirm {
	struct confirm_opts o;
	SSL_CTX *ctx;
	struct htab eps;
	struct lru lru;
	struct ep *pool;
	uint32_t pool_used;
	struct qent *queue; /* a ring of max_queue */
	uint32_t q_head, q_len;
	struct job *jobs; /* max_active, the first n_active in use */
	struct pollfd *pfd;
	uint32_t n_active;
	struct confirm_bucket bucket;
	bool bucket_ready;
	struct confirm_addrs addrs;
	uint64_t addrs_ns;
	bool addrs_loaded;
	struct own_conn own[CONFIRM_OWN_CONNS];
	uint32_t own_next;
	struct confirm_stats st;
};

struct confirm *confirm_new(const struct confirm_opts *o, char *err, size_t errlen)
{
	struct confirm *c = calloc(1, sizeof(*c));

	if (!c) {
		fmt_err(err, errlen, "--confirm: out of memory");
		return NULL;
	}
	c->o = *o;
	OPT_DEFAULT(c->o.ttl_s, CONFIRM_TTL_DEFAULT_S);
	OPT_DEFAULT(c->o.rate, CONFIRM_RATE_DEFAULT);
	OPT_DEFAULT(c->o.timeout_ms, CONFIRM_TIMEOUT_DEFAULT_MS);
	OPT_DEFAULT(c->o.max_active, CONFIRM_ACTIVE_DEFAULT);
	OPT_DEFAULT(c->o.max_queue, CONFIRM_QUEUE_DEFAULT);
	OPT_DEFAULT(c->o.max_endpoints, CONFIRM_ENDPOINTS_DEFAULT);
	/* A busy endpoint is never evicted: there must be room beyond them. */
	if (c->o.max_endpoints < c->o.max_queue + c->o.max_active + 1)
		c->o.max_endpoints = c->o.max_queue + c->o.max_active + 1;
	c->pool = calloc(c->o.max_endpoints, sizeof(*c->pool));
	c->queue = calloc(c->o.max_queue, sizeof(*c->queue));
	c->jobs = calloc(c->o.max_active, sizeof(*c->jobs));
	c->pfd = calloc(c->o.max_active, sizeof(*c->pfd));
	if (!c->pool || !c->queue || !c->jobs || !c->pfd ||
	    !htab_init(&c->eps, c->o.max_endpoints)) {
		fmt_err(err, errlen, "--confirm: out of memory");
		confirm_free(c);
		return NULL;
	}
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (!c->ctx) {
		fmt_err(err, errlen, "--confirm: OpenSSL cannot make a TLS client context");
		confirm_free(c);
		return NULL;
	}
	/* We want whatever chain the server sends, however weak or wrong:
	 * judging it is the checks' job, not the handshake's. */
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_security_level(c->ctx, 0);
	SSL_CTX_set_cipher_list(c->ctx, "ALL:@SECLEVEL=0");
	SSL_CTX_set_session_cache_mode(c->ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(c->ctx, SSL_OP_NO_TICKET);
	return c;
}

static void job_close(struct job *j)
{
	if (j->ssl)
		SSL_free(j->ssl);
	if (j->fd >= 0)
		close(j->fd);
	j->ssl = NULL;
	j->fd = -1;
}

void confirm_free(struct confirm *c)
{
	if (!c)
		return;
	for (uint32_t i = 0; i < c->n_active; i++)
		job_close(&c->jobs[i]);
	SSL_CTX_free(c->ctx);
	htab_fini(&c->eps);
	free(c->pool);
	free(c->queue);
	free(c->jobs);
	free(c->pfd);
	free(c);
}

static void ep_key_of(const struct cs_report *r, struct ep_key *k)
{
	memset(k, 0, sizeof(*k));
	k->family = r->server.family;
	k->port = r->server.port;
	memcpy(k->addr, r->server.addr, sizeof(k->addr));
	k->has_sni = r->has_sni;
	if (r->has_sni) {
		k->sni_len = (uint16_t)strnlen(r->sni, TLS_SNI_MAX);
		memcpy(k->sni, r->sni, k->sni_len);
	}
}

/* The fixed part and the SNI's bytes: the rest of sni[] is not the key's. */
static size_t ep_key_len(const struct ep_key *k)
{
	return offsetof(struct ep_key, sni) + k->sni_len;
}

/* The endpoint's entry, made (evicting the least recently used idle one) if new. */
static struct ep *ep_get(struct confirm *c, const struct cs_report *r)
{
	struct ep_key k;
	struct hnode *n;
	struct ep *e;
	uint64_t h;

	ep_key_of(r, &k);
	h = htab_hash(&c->eps, &k, ep_key_len(&k));
	htab_for_hash(&c->eps, h, n)
	{
		e = htab_entry(n, struct ep, h);
		if (!memcmp(&e->key, &k, ep_key_len(&k))) {
			lru_touch(&c->lru, &e->lru);
			return e;
		}
	}
	if (c->pool_used < c->o.max_endpoints) {
		e = &c->pool[c->pool_used++];
	} else {
		struct lru_node *l = c->lru.tail;

		while (l && lru_entry(l, struct ep, lru)->busy)
			l = l->prev;
		if (!l)
			return NULL;
		e = lru_entry(l, struct ep, lru);
		lru_unlink(&c->lru, &e->lru);
		htab_del(&c->eps, &e->h);
		if (e->confirmed_ns || e->seen_ns)
			c->st.evicted++;
	}
	memset(e, 0, sizeof(*e));
	e->key = k;
	htab_add(&c->eps, &e->h, h);
	lru_push(&c->lru, &e->lru);
	return e;
}

static bool within(uint64_t then, uint64_t now, uint64_t span)
{
	return then && now >= then && now - then < span;
}

static bool endpoint_eq(const struct report_endpoint *a, const struct report_endpoint *b)
{
	return a->family == b->family && a->port == b->port && !memcmp(a->addr, b->addr, 16);
}

static bool is_own_conn(const struct confirm *c, const struct cs_report *r)
{
	for (uint32_t i = 0; i < CONFIRM_OWN_CONNS; i++)
		if (c->own[i].local.family && endpoint_eq(&c->own[i].local, &r->client) &&
		    endpoint_eq(&c->own[i].server, &r->server))
			return true;
	return false;
}

static bool server_is_own(struct confirm *c, const struct report_endpoint *s, uint64_t now)
{
	if (!c->addrs_loaded || now - c->addrs_ns >= ADDRS_TTL_NS) {
		/* On failure the last list stays (none at first: only loopback). */
		if (!confirm_addrs_load(&c->addrs))
			c->addrs_loaded = true;
		c->addrs_ns = now;
	}
	return confirm_addrs_has(&c->addrs, s);
}

static void skip(struct confirm *c, enum confirm_skip why)
{
	c->st.skipped[why]++;
}

bool confirm_on_report(struct confirm *c, const struct cs_report *r, uint64_t now)
{
	uint64_t ttl = (uint64_t)c->o.ttl_s * NS_PER_S;
	struct qent *q;
	struct ep *e;

	if (r->source == SOURCE_CONFIRM || r->transport != IPPROTO_TCP)
		return false;
	if (is_own_conn(c, r)) {
		c->st.own_reports++;
		return true;
	}
	if (r->action == REPORT_CERTIFICATE) {
		if ((e = ep_get(c, r)))
			e->seen_ns = now;
		return false;
	}
	if (r->action != REPORT_CERTIFICATE_HIDDEN)
		return false;
	if (!c->o.remote && !server_is_own(c, &r->server, now)) {
		skip(c, CONFIRM_S_REMOTE);
		return false;
	}
	if (!(e = ep_get(c, r)) || e->busy || within(e->confirmed_ns, now, ttl)) {
		skip(c, CONFIRM_S_TTL);
		return false;
	}
	if (within(e->seen_ns, now, ttl)) {
		skip(c, CONFIRM_S_SEEN);
		return false;
	}
	if (c->q_len >= c->o.max_queue) {
		skip(c, CONFIRM_S_QUEUE);
		return false;
	}
	if (!c->bucket_ready) {
		confirm_bucket_init(&c->bucket, c->o.rate, c->o.rate, now);
		c->bucket_ready = true;
	}
	if (!confirm_bucket_take(&c->bucket, now)) {
		skip(c, CONFIRM_S_RATE);
		return false;
	}
	q = &c->queue[(c->q_head + c->q_len++) % c->o.max_queue];
	memset(q, 0, sizeof(*q));
	q->t.server = r->server;
	q->t.has_sni = r->has_sni;
	memcpy(q->t.sni, r->sni, sizeof(q->t.sni));
	memcpy(q->t.alpn, r->alpn_offered, sizeof(q->t.alpn));
	q->t.sni[TLS_SNI_MAX] = q->t.alpn[TLS_ALPN_MAX] = '\0';
	q->ep = e;
	e->busy = true;
	e->confirmed_ns = now;
	return false;
}

/* ---- one handshake ---- */

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static socklen_t to_sockaddr(const struct report_endpoint *e, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (e->family == CS_AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(e->port);
		memcpy(&s4->sin_addr, e->addr, 4);
		return sizeof(*s4);
	}
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(e->port);
	memcpy(&s6->sin6_addr, e->addr, 16);
	return sizeof(*s6);
}

static void from_sockaddr(const struct sockaddr_storage *ss, struct report_endpoint *e)
{
	memset(e, 0, sizeof(*e));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		e->family = CS_AF_INET;
		e->port = ntohs(s4->sin_port);
		memcpy(e->addr, &s4->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		e->family = CS_AF_INET6;
		e->port = ntohs(s6->sin6_port);
		memcpy(e->addr, &s6->sin6_addr, 16);
	}
}

/* "h2,http/1.1" as the ALPN extension's ProtocolNameList; 0: none. */
static size_t alpn_wire(const char *list, uint8_t *out, size_t cap)
{
	size_t n = 0;

	for (const char *p = list; *p;) {
		size_t l = strcspn(p, ",");

		if (l && l <= 255 && n + 1 + l <= cap) {
			out[n++] = (uint8_t)l;
			memcpy(out + n, p, l);
			n += l;
		}
		p += l + (p[l] == ',');
	}
	return n;
}

static void job_end(struct confirm *c, struct job *j, enum confirm_result res, const char *detail,
		    uint64_t now)
{
	struct confirm_failure f = {
		.result = res,
		.server = j->t.server,
		.has_sni = j->t.has_sni,
		.sni = j->t.sni,
		.elapsed_ms = (now - j->start_ns) / NS_PER_MS,
		.detail = detail ? detail : "",
	};

	c->st.results[res]++;
	if (res != CONFIRM_R_OK && c->o.failed)
		c->o.failed(c->o.ctx, &f);
	if (j->ssl && res == CONFIRM_R_OK)
		SSL_shutdown(j->ssl); /* a close_notify if the socket takes it; no wait */
	job_close(j);
	j->ep->busy = false;
}

/* The fetched chain as a report; false if there was none. */
static bool job_report(struct confirm *c, struct job *j)
{
	STACK_OF(X509) *sk = SSL_get_peer_cert_chain(j->ssl);
	const unsigned char *ocsp = NULL, *sel = NULL;
	unsigned int sel_len = 0;
	struct cs_report r;
	long ocsp_len;
	int n = sk ? sk_X509_num(sk) : 0;

	if (n <= 0)
		return false;
	memset(&r, 0, sizeof(r));
	r.action = REPORT_CERTIFICATE;
	r.source = SOURCE_CONFIRM;
	r.ts_ns = real_ns();
	r.check_time = c->o.check_time > 0 ? c->o.check_time : (int64_t)(r.ts_ns / NS_PER_S);
	r.client = j->local;
	r.server = j->t.server;
	r.transport = IPPROTO_TCP;
	r.have_server_hello = true;
	r.version = (uint16_t)SSL_version(j->ssl);
	if (SSL_get_current_cipher(j->ssl))
		r.cipher = SSL_CIPHER_get_protocol_id(SSL_get_current_cipher(j->ssl));
	r.has_sni = j->t.has_sni;
	memcpy(r.sni, j->t.sni, sizeof(r.sni));
	memcpy(r.alpn_offered, j->t.alpn, sizeof(r.alpn_offered));
	SSL_get0_alpn_selected(j->ssl, &sel, &sel_len);
	if (sel && sel_len) {
		if (sel_len > TLS_ALPN_MAX)
			sel_len = TLS_ALPN_MAX;
		memcpy(r.alpn, sel, sel_len);
	}
	r.chain_total = (uint32_t)n;
	for (int i = 0; i < n && r.chain_len < TLS_CHAIN_MAX; i++) {
		unsigned char *der = NULL;
		int len = i2d_X509(sk_X509_value(sk, i), &der);

		if (len > 0 && (r.chain[r.chain_len] = cert_get(c->o.certs, der, (size_t)len)))
			r.chain_len++;
		OPENSSL_free(der);
	}
	ocsp_len = SSL_get_tlsext_status_ocsp_resp(j->ssl, &ocsp);
	if (ocsp && ocsp_len > 0) {
		r.have_ocsp = true;
		ocsp_parse(ocsp, (size_t)ocsp_len, r.chain_len ? r.chain[0]->x509 : NULL,
			   r.chain_len > 1 ? r.chain[1]->x509 : NULL, &r.ocsp);
	}
	if (c->o.report)
		c->o.report(c->o.ctx, &r);
	for (uint32_t i = 0; i < r.chain_len; i++)
		cert_put(c->o.certs, r.chain[i]);
	return true;
}

static bool job_ssl(struct confirm *c, struct job *j)
{
	uint8_t alpn[TLS_ALPN_MAX + 2];
	size_t n;

	if (!(j->ssl = SSL_new(c->ctx)) || !SSL_set_fd(j->ssl, j->fd))
		return false;
	if (j->t.has_sni && j->t.sni[0] && !SSL_set_tlsext_host_name(j->ssl, j->t.sni))
		return false;
	if ((n = alpn_wire(j->t.alpn, alpn, sizeof(alpn))) &&
	    SSL_set_alpn_protos(j->ssl, alpn, (unsigned int)n))
		return false;
	SSL_set_tlsext_status_type(j->ssl, TLSEXT_STATUSTYPE_ocsp); /* a staple is checked too */
	SSL_set_connect_state(j->ssl);
	return true;
}

/* Moves job j as far as its socket allows; true when it ended. */
static bool job_step(struct confirm *c, struct job *j, short revents, uint64_t now)
{
	char why[160];
	int err = 0, rc, e;
	socklen_t len = sizeof(err);
	unsigned long ossl;

	if (j->st == J_CONNECTING) {
		if (!(revents & (POLLOUT | POLLERR | POLLHUP)))
			return false;
		if (getsockopt(j->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err) {
			job_end(c, j, CONFIRM_R_CONNECT, strerror(err), now);
			return true;
		}
		if (!job_ssl(c, j)) {
			job_end(c, j, CONFIRM_R_TLS, "cannot set up the TLS client", now);
			return true;
		}
		j->st = J_HANDSHAKE;
	}
	ERR_clear_error();
	errno = 0;
	rc = SSL_do_handshake(j->ssl);
	if (rc == 1) {
		job_end(c, j, job_report(c, j) ? CONFIRM_R_OK : CONFIRM_R_NO_CHAIN,
			"no server certificate", now);
		return true;
	}
	e = SSL_get_error(j->ssl, rc);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		j->events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		return false;
	}
	/* Failed after the Certificate (the server wanted a client
	 * certificate, a signature we do not take): the chain is still what
	 * the server serves. */
	if (SSL_get_peer_cert_chain(j->ssl) && job_report(c, j)) {
		job_end(c, j, CONFIRM_R_OK, NULL, now);
		return true;
	}
	ossl = ERR_peek_error();
	if (e == SSL_ERROR_SSL && ossl) {
		ERR_error_string_n(ossl, why, sizeof(why));
		job_end(c, j, CONFIRM_R_TLS, why, now);
	} else {
		snprintf(why, sizeof(why), "the server closed the connection%s%s",
			 errno ? ": " : "", errno ? strerror(errno) : "");
		job_end(c, j, CONFIRM_R_CLOSED, why, now);
	}
	return true;
}

/* Remembers our connection from (local, server), so its reports are known. */
static void own_add(struct confirm *c, const struct job *j)
{
	struct own_conn *o = &c->own[c->own_next++ % CONFIRM_OWN_CONNS];

	o->local = j->local;
	o->server = j->t.server;
}

/* The next queued target into job j; true if it is in flight. */
static bool job_start(struct confirm *c, struct job *j, uint64_t now)
{
	struct qent *q = &c->queue[c->q_head];
	struct sockaddr_storage ss;
	socklen_t sl;

	c->q_head = (c->q_head + 1) % c->o.max_queue;
	c->q_len--;
	memset(j, 0, sizeof(*j));
	j->t = q->t;
	j->ep = q->ep;
	j->fd = -1;
	j->start_ns = now;
	j->deadline_ns = now + (uint64_t)c->o.timeout_ms * NS_PER_MS;
	j->st = J_CONNECTING;
	j->events = POLLOUT;
	c->st.attempts++;
	sl = to_sockaddr(&j->t.server, &ss);
	j->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (j->fd < 0 || (connect(j->fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS)) {
		job_end(c, j, CONFIRM_R_CONNECT, strerror(errno), now);
		return false;
	}
	sl = sizeof(ss);
	if (!getsockname(j->fd, (struct sockaddr *)&ss, &sl)) {
		from_sockaddr(&ss, &j->local);
		own_add(c, j);
	}
	return true;
}

void confirm_tick(struct confirm *c, uint64_t now)
{
	uint32_t i;
	int n;

	while (c->q_len && c->n_active < c->o.max_active)
		if (job_start(c, &c->jobs[c->n_active], now))
			c->n_active++;
	if (!c->n_active)
		return;
	for (i = 0; i < c->n_active; i++) {
		c->pfd[i].fd = c->jobs[i].fd;
		c->pfd[i].events = c->jobs[i].events;
		c->pfd[i].revents = 0;
	}
	n = poll(c->pfd, c->n_active, 0);
	for (i = 0; i < c->n_active;) {
		struct job *j = &c->jobs[i];
		bool ended;

		if (n > 0 && c->pfd[i].revents)
			ended = job_step(c, j, c->pfd[i].revents, now);
		else
			ended = false;
		if (!ended && now >= j->deadline_ns) {
			job_end(c, j, CONFIRM_R_TIMEOUT,
				j->st == J_CONNECTING ? "no connection within the timeout" :
							"no complete handshake within the timeout",
				now);
			ended = true;
		}
		if (!ended) {
			i++;
			continue;
		}
		/* The last job takes this slot, with its poll answer. */
		c->n_active--;
		if (i < c->n_active) {
			c->jobs[i] = c->jobs[c->n_active];
			c->pfd[i] = c->pfd[c->n_active];
		}
	}
}

int confirm_poll_ms(const struct confirm *c, int max_ms)
{
	if (c && (c->n_active || c->q_len))
		return max_ms < TICK_BUSY_MS ? max_ms : TICK_BUSY_MS;
	return max_ms;
}

void confirm_stats(const struct confirm *c, struct confirm_stats *st)
{
	if (!c) {
		memset(st, 0, sizeof(*st));
		return;
	}
	*st = c->st;
	st->failed = 0;
	for (uint32_t r = CONFIRM_R_OK + 1; r < CONFIRM_R_MAX; r++)
		st->failed += c->st.results[r];
	st->queued = c->q_len;
	st->active = c->n_active;
}
