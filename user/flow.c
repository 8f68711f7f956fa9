/* flow.c - connections: both directions of a TLS flow, reassembled and parsed into reports. */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cs_wire.h"
#include "encports.h"
#include "flow_int.h"
#include "fmt.h"
#include "hello.h"
#include "keylog.h"

/* The table's keyed hash of one endpoint (address, port). */
static uint64_t endpoint_hash(const struct flow_table *t, const uint8_t *addr, uint16_t port)
{
	uint8_t b[18];

	memcpy(b, addr, 16);
	memcpy(b + 16, &port, 2);
	return htab_hash(&t->conns, b, sizeof(b));
}

/* Symmetric: both directions of a connection hash alike. */
static uint64_t key_hash(const struct flow_table *t, const struct cs_flow_key *k)
{
	return endpoint_hash(t, k->saddr, k->sport) + endpoint_hash(t, k->daddr, k->dport) +
	       k->proto;
}

static void key_reverse(const struct cs_flow_key *k, struct cs_flow_key *r)
{
	memset(r, 0, sizeof(*r));
	memcpy(r->saddr, k->daddr, 16);
	memcpy(r->daddr, k->saddr, 16);
	r->sport = k->dport;
	r->dport = k->sport;
	r->family = k->family;
	r->proto = k->proto;
}

bool key_eq(const struct cs_flow_key *a, const struct cs_flow_key *b)
{
	return !memcmp(a->saddr, b->saddr, 16) && !memcmp(a->daddr, b->daddr, 16) &&
	       a->sport == b->sport && a->dport == b->dport && a->family == b->family &&
	       a->proto == b->proto;
}

/* b is a's reverse: the other direction of the same connection. */
static bool key_eq_rev(const struct cs_flow_key *a, const struct cs_flow_key *b)
{
	return !memcmp(a->saddr, b->daddr, 16) && !memcmp(a->daddr, b->saddr, 16) &&
	       a->sport == b->dport && a->dport == b->sport && a->family == b->family &&
	       a->proto == b->proto;
}

/* The key of direction i's sender: the connection keeps d[0]'s only. */
void conn_key(const struct conn *c, int i, struct cs_flow_key *out)
{
	if (i)
		key_reverse(&c->key, out);
	else
		*out = c->key;
}

static struct conn *lru_conn(struct lru_node *n)
{
	return n ? lru_entry(n, struct conn, lru) : NULL;
}

int dir_index(const struct dir *d)
{
	return d->idx;
}

static struct dir *dir_peer(struct dir *d)
{
	return &dir_conn(d)->d[!dir_index(d)];
}

/* What a connection holds now: buffers grow and shrink while it lives. */
static size_t str_mem(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

static size_t conn_mem(const struct conn *c)
{
	const struct hidden *h = conn_hid(c);
	size_t n = sizeof(*c) + str_mem(c->sni) + str_mem(c->alpn_offered) + str_mem(c->alpn) +
		   (c->hello ? sizeof(*c->hello) : 0);

	if (c->rare)
		n += sizeof(*c->rare) + (c->rare->pending ? sizeof(*c->rare->pending) : 0);
	if (c->udp)
		n += 2 * sizeof(*c->d[0].dp);
	if (h)
		n += sizeof(*h) + (h->fl ? sizeof(*h->fl) + TLS13_RECORD_MAX : 0);

	for (int i = 0; i < 2; i++) {
		const struct chain_acc *a = c->udp ? NULL : c->d[i].acc;

		n += c->d[i].r.held + c->d[i].p.msg_cap + c->d[i].w.mem;
		if (a)
			n += sizeof(*a) + a->cap * sizeof(a->chain[0]) + a->own;
	}
	return n;
}

void mem_update(struct flow_table *t, struct conn *c)
{
	uint32_t m = (uint32_t)conn_mem(c);

	t->st.mem = t->st.mem - c->mem + m;
	c->mem = m;
}

struct conn_rare *conn_rare(struct conn *c)
{
	if (!c->rare)
		c->rare = calloc(1, sizeof(*c->rare));
	return c->rare;
}

/* ---- reports ---- */

int64_t check_time(const struct flow_table *t, uint64_t ts_ns)
{
	if (t->o.check_time == FLOW_CHECK_NOW)
		return time(NULL);
	if (t->o.check_time > 0)
		return t->o.check_time;
	return (int64_t)(ts_ns / 1000000000ULL);
}

/* The server's leaf, raw (32 bytes, not the 65 of its hex, in every
 * connection): what a client's alert is tied to. */
void leaf_keep(struct conn *c, const struct cs_report *r)
{
	struct conn_rare *rr;

	if (!r->chain_len || !(rr = conn_rare(c)))
		return;
	memcpy(rr->leaf_sha256, r->chain[0]->sha256, sizeof(rr->leaf_sha256));
	rr->have_leaf = true;
}

/* The leaf as cert.c writes it (uppercase hex), "" if none was seen. */
void leaf_hex(const struct conn *c, char out[65])
{
	out[0] = '\0';
	if (c->rare && c->rare->have_leaf)
		fmt_hex(out, 65, c->rare->leaf_sha256, sizeof(c->rare->leaf_sha256), true);
}

/* A report about conn c, oriented by which direction is the server's. */
void report_init(struct flow_table *t, struct conn *c, int server_idx, struct cs_report *r,
		 enum report_action action)
{
	const struct cs_segment *s = t->seg;
	struct cs_flow_key key, *k = &key;

	conn_key(c, server_idx, k);
	memset(r, 0, sizeof(*r));
	r->action = action;
	if (s) {
		r->ts_ns = s->ts_ns;
		r->mono_ns = s->mono_ns;
		r->ifindex = s->ifindex;
		r->hook = s->hook;
	} else {
		r->ts_ns = t->now_ns;
	}
	r->check_time = check_time(t, r->ts_ns);
	r->transport = c->udp ? IPPROTO_UDP : IPPROTO_TCP;
	r->server.family = r->client.family = k->family;
	memcpy(r->server.addr, k->saddr, 16);
	r->server.port = k->sport;
	memcpy(r->client.addr, k->daddr, 16);
	r->client.port = k->dport;
	r->have_server_hello = c->have_sh;
	r->version = c->version;
	r->cipher = c->cipher;
	r->resumed = c->resumed;
	r->hello_retry = c->hello_retry;
	r->has_sni = c->has_sni;
	fmt_copy(r->sni, sizeof(r->sni), c->sni);
	fmt_copy(r->alpn_offered, sizeof(r->alpn_offered), c->alpn_offered);
	fmt_copy(r->alpn, sizeof(r->alpn), c->alpn);
	if (c->hello) {
		r->have_hello = true;
		r->hello = *c->hello;
	}
}

/* The server's direction index, guessing from roles when the hellos were missed. */
int server_index(const struct conn *c, int fallback)
{
	if (c->d[0].role == ROLE_SERVER)
		return 0;
	if (c->d[1].role == ROLE_SERVER)
		return 1;
	return fallback;
}

void emit(struct flow_table *t, const struct cs_report *r)
{
	t->st.reports++;
	if (t->o.report)
		t->o.report(t->o.ctx, r);
}

void release_chain(struct flow_table *t, struct cs_report *r)
{
	for (uint32_t i = 0; i < r->chain_len; i++)
		cert_put(t->o.certs, r->chain[i]);
	r->chain_len = 0;
}

/* The chain is written once its flight has shown whether an OCSP staple follows. */
static void flush_pending(struct flow_table *t, struct conn *c)
{
	struct cs_report *r = c->rare ? c->rare->pending : NULL;

	if (!r)
		return;
	c->rare->pending = NULL;
	emit(t, r);
	release_chain(t, r);
	free(r);
}

void fill_chain(struct flow_table *t, struct cs_report *r, const struct tls_cert_list *cl)
{
	for (uint32_t i = 0; i < cl->n; i++) {
		r->chain[r->chain_len] = cert_get(t->o.certs, cl->der[i], cl->der_len[i]);
		if (r->chain[r->chain_len])
			r->chain_len++;
	}
	r->chain_total = cl->total;
}

/* A direction lost bytes to a hole: say which connection lost what. */
static void report_gap(struct flow_table *t, struct dir *d, const char *why)
{
	struct conn *c = dir_conn(d);
	struct cs_report r;

	if (d->gap_reported || d->done || !d->r.started)
		return;
	d->gap_reported = true;
	t->st.gaps++;
	report_init(t, c, server_index(c, !dir_index(d)), &r, REPORT_INCOMPLETE);
	r.incomplete_reason = why;
	r.lost_from_client = d->role == ROLE_CLIENT;
	r.lost_bytes = d->r.held;
	r.chain_reported = c->chain_seen;
	emit(t, &r);
}

/* ---- connection lifetime ---- */

/* The entries taken of a Certificate message that will not be reported. */
static void acc_release(struct flow_table *t, struct dir *d)
{
	if (dir_conn(d)->udp || !d->acc)
		return;
	for (uint32_t i = 0; i < d->acc->n; i++)
		cert_put(t->o.certs, d->acc->chain[i]);
	free(d->acc);
	d->acc = NULL;
}

static void dir_release(struct flow_table *t, struct dir *d)
{
	acc_release(t, d);
	reasm_free(&d->r);
	tls_parser_free(&d->p);
	if (dir_conn(d)->udp && d->dp) {
		dtls_parser_free(d->dp);
		free(d->dp);
		d->dp = NULL;
	}
	recwalk_free(&d->w);
}

static void conn_free(struct flow_table *t, struct conn *c, const char *why)
{
	flush_pending(t, c);
	hidden_conn_end(t, c);
	if (c->rare)
		outcome_end(&c->rare->ot, why ? "the connection ended before the client closed" :
						"the capture ended before the client closed");
	report_outcome(t, c);
	for (int i = 0; i < 2 && why; i++)
		if (c->d[i].r.held)
			report_gap(t, &c->d[i], why);
	htab_del(&t->conns, &c->h);
	lru_unlink(&t->lru, &c->lru);
	dir_release(t, &c->d[0]);
	dir_release(t, &c->d[1]);
	t->st.mem -= c->mem;
	free(c->sni);
	free(c->alpn_offered);
	free(c->alpn);
	free(c->hello);
	free(c->rare);
	free(c);
	t->st.active--;
}

struct conn *conn_find(struct flow_table *t, const struct cs_flow_key *k, int *idx)
{
	struct hnode *n;

	htab_for_hash(&t->conns, key_hash(t, k), n)
	{
		struct conn *c = htab_entry(n, struct conn, h);

		for (int i = 0; i < 2; i++) {
			if (i ? key_eq_rev(&c->key, k) : key_eq(&c->key, k)) {
				*idx = i;
				return c;
			}
		}
	}
	return NULL;
}

static struct conn *conn_new(struct flow_table *t, const struct cs_flow_key *k)
{
	struct conn *c;

	if (t->st.active >= t->o.max_conns && t->lru.tail) {
		conn_free(t, lru_conn(t->lru.tail), "evicted: connection table full");
		t->st.evicted++;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->key = *k;
	c->udp = k->proto == IPPROTO_UDP;
	for (int i = 0; i < 2; i++) {
		c->d[i].idx = i;
		reasm_init(&c->d[i].r, t->o.max_held, &t->reasm_st);
		tls_parser_init(&c->d[i].p, t->o.msg_max);
		if (c->udp && !(c->d[i].dp = malloc(sizeof(*c->d[i].dp)))) {
			free(c->d[0].dp);
			free(c);
			return NULL;
		}
		if (c->udp)
			dtls_parser_init(c->d[i].dp, t->o.msg_max);
	}
	htab_add(&t->conns, &c->h, key_hash(t, k));
	lru_push(&t->lru, &c->lru);
	t->st.conns++;
	t->st.active++;
	mem_update(t, c);
	return c;
}

/* Evicts the least recently used others until the state fits max_mem. */
static void mem_enforce(struct flow_table *t, struct conn *keep)
{
	while (t->st.mem > t->o.max_mem && t->lru.tail && lru_conn(t->lru.tail) != keep) {
		conn_free(t, lru_conn(t->lru.tail), "evicted: memory bound reached");
		t->st.evicted_mem++;
	}
	/* Sampled once the bound is enforced: what stays held between segments. */
	if (t->st.mem > t->st.mem_peak)
		t->st.mem_peak = t->st.mem;
}

/* ---- what the parsers found ---- */

/*
 * This direction needs no more bytes. The source is told only where it
 * cannot know by itself: where its record walk stops (the same walk runs
 * here, recwalk.h), telling it would cost a syscall per direction for
 * nothing.
 */
static void dir_finish(struct flow_table *t, struct dir *d, bool tell_source)
{
	if (d->done)
		return;
	d->done = true;
	tls_parser_free(&d->p);
	acc_release(t, d);
	if (dir_conn(d)->udp && d->dp)
		dtls_parser_free(d->dp);
	if (tell_source && t->o.done) {
		struct cs_flow_key k;

		conn_key(dir_conn(d), dir_index(d), &k);
		t->o.done(t->o.ctx, &k);
	}
}

/* Done for a reason the source's selection rules do not see. */
static void dir_done(struct flow_table *t, struct dir *d)
{
	dir_finish(t, d, true);
}

/* Done at a record the source's walk stops at too. */
static void dir_walk_end(struct flow_table *t, struct dir *d)
{
	dir_finish(t, d, false);
}

/* Done at a record a direction that is not walked here ends at: DTLS, where
 * the source's datagram rule ends it too, or SSLv2, which it copies to the
 * cap unless told. */
static void dir_record_end(struct flow_table *t, struct dir *d)
{
	dir_finish(t, d, !dir_conn(d)->udp);
}

static bool dir_walked(const struct dir *d)
{
	return !dir_conn(d)->udp && d->w.w.phase != WIRE_WALK_OFF;
}

static void set_roles(struct dir *d, uint8_t role)
{
	d->role = role;
	dir_peer(d)->role = role == ROLE_CLIENT ? ROLE_SERVER : ROLE_CLIENT;
}

/* Replaces *dst with a copy of src, or NULL for an empty string. */
static void set_str(char **dst, const char *src)
{
	free(*dst);
	*dst = src[0] ? strdup(src) : NULL;
}

static void keep_client_hello(struct flow_table *t, struct conn *c,
			      const struct tls_client_hello *ch)
{
	c->have_ch = true;
	c->has_sni = ch->has_sni;
	c->have_random = true; /* the same in both hellos of an HRR */
	memcpy(c->random, ch->random, sizeof(c->random));
	set_str(&c->sni, ch->sni);
	set_str(&c->alpn_offered, ch->alpn);
	/* After a HelloRetryRequest the second hello's facts replace the first's. */
	if (!c->hello)
		c->hello = malloc(sizeof(*c->hello));
	if (c->hello)
		hello_summarize(ch, t->ja, c->hello);
}

static void on_client_hello(struct flow_table *t, struct dir *d, uint8_t type, const uint8_t *b,
			    size_t len)
{
	struct tls_client_hello ch;
	int rc;

	if (type == TLS_HS_SSL2_CLIENT_HELLO)
		rc = tls_parse_ssl2_client_hello(b, len, &ch);
	else if (dir_conn(d)->udp)
		rc = tls_parse_dtls_client_hello(b, len, &ch);
	else
		rc = tls_parse_client_hello(b, len, &ch);
	if (rc < 0)
		return;
	set_roles(d, ROLE_CLIENT);
	keep_client_hello(t, dir_conn(d), &ch);
	/* Resumption is proven by the ServerHello echoing this id. */
	dir_conn(d)->ch_sid_len = 0;
	if (type == TLS_HS_CLIENT_HELLO && len >= 35 && b[34] <= 32 && len >= 35u + b[34]) {
		dir_conn(d)->ch_sid_len = b[34];
		dir_conn(d)->ch_sid_hash = htab_hash(&t->conns, b + 35, b[34]);
	}
}

static void report_resumed(struct flow_table *t, struct dir *server)
{
	struct conn *c = dir_conn(server);
	struct cs_report r;

	if (c->resumed)
		return;
	c->resumed = true;
	report_init(t, c, dir_index(server), &r, REPORT_RESUMED);
	emit(t, &r);
}

static void on_server_hello(struct flow_table *t, struct dir *d, const uint8_t *b, size_t len)
{
	struct tls_server_hello sh;
	struct conn *c = dir_conn(d);
	struct conn_rare *rr;
	bool same_sid;

	if (tls_parse_server_hello(b, len, &sh) < 0)
		return;
	set_roles(d, ROLE_SERVER);
	if (sh.hrr) {
		/* A second ClientHello follows the client's dummy CCS: keep
		 * parsing. Its SNI and ALPN replace the first one's. */
		dir_peer(d)->p.hrr = true;
		c->hello_retry = true;
		return;
	}
	c->have_sh = true;
	c->version = sh.version;
	c->cipher = sh.cipher;
	set_str(&c->alpn, sh.alpn);
	same_sid = c->ch_sid_len && sh.session_id_len == c->ch_sid_len &&
		   htab_hash(&t->conns, sh.session_id, sh.session_id_len) == c->ch_sid_hash;
	if (wire_tls13_version(sh.version)) {
		/* Everything after this ServerHello is encrypted, the chain included. */
		c->hidden = true;
		/* What the client does next says whether it took the chain. */
		if ((rr = conn_rare(c)))
			outcome_flight(&rr->ot, c->hello && (c->hello->flags & HELLO_F_EARLY_DATA));
		hidden_start(t, d);
		return;
	}
	if (t->n_early) {
		struct cs_flow_key k;

		conn_key(c, dir_index(d), &k);
		served_early_drop(t, &k); /* the wire will show it */
	}
	if (same_sid)
		report_resumed(t, d);
}

static void on_ssl2_server_hello(struct flow_table *t, struct dir *d, const uint8_t *b, size_t len)
{
	struct tls_server_hello sh;
	struct tls_cert_list cl;
	struct conn *c = dir_conn(d);
	struct cs_report r;

	if (tls_parse_ssl2_server_hello(b, len, &sh, &cl) < 0) {
		t->st.parse_errors++;
		return;
	}
	set_roles(d, ROLE_SERVER);
	c->have_sh = true;
	c->version = sh.version;
	c->cipher = sh.cipher;
	if (!cl.n)
		return;
	c->chain_seen = true;
	report_init(t, c, dir_index(d), &r, REPORT_CERTIFICATE);
	fill_chain(t, &r, &cl);
	leaf_keep(c, &r);
	emit(t, &r);
	release_chain(t, &r);
	dir_done(t, d); /* the rest of SSLv2 is encrypted */
}

/*
 * A Certificate message's chain: refs to n of its total certificates, taken
 * here. The client's is written now; the server's waits for its flight to
 * show whether an OCSP staple follows (pending).
 */
static void on_chain(struct flow_table *t, struct dir *d, struct cert_facts *const *chain,
		     uint32_t n, uint32_t total)
{
	struct conn *c = dir_conn(d);
	struct cs_report cr, *r = &cr;

	if (d->role != ROLE_CLIENT) {
		if (d->role == ROLE_UNKNOWN)
			set_roles(d, ROLE_SERVER);
		flush_pending(t, c);
		r = conn_rare(c) ? malloc(sizeof(*r)) : NULL;
	}
	if (!r) {
		for (uint32_t i = 0; i < n; i++)
			cert_put(t->o.certs, chain[i]);
		return;
	}
	report_init(t, c, d->role == ROLE_CLIENT ? !dir_index(d) : dir_index(d), r,
		    d->role == ROLE_CLIENT ? REPORT_CLIENT_CERTIFICATE : REPORT_CERTIFICATE);
	memcpy(r->chain, chain, n * sizeof(chain[0]));
	r->chain_len = n;
	r->chain_total = total;
	if (r == &cr) {
		emit(t, r);
		release_chain(t, r);
		return;
	}
	leaf_keep(c, r);
	c->chain_seen = true;
	c->rare->pending = r;
}

static void on_certificate(struct flow_table *t, struct dir *d, const uint8_t *b, size_t len)
{
	struct cert_facts *chain[TLS_CHAIN_MAX];
	struct tls_cert_list cl;
	uint32_t n = 0;

	if (tls_parse_certificate(b, len, &cl) < 0) {
		t->st.parse_errors++;
		return;
	}
	if (!cl.n) /* a client declining to authenticate */
		return;
	for (uint32_t i = 0; i < cl.n; i++)
		if ((chain[n] = cert_get(t->o.certs, cl.der[i], cl.der_len[i])))
			n++;
	on_chain(t, d, chain, n, cl.total);
}

static void on_certificate_status(struct flow_table *t, struct dir *d, const uint8_t *b, size_t len)
{
	struct cs_report *r = dir_conn(d)->rare ? dir_conn(d)->rare->pending : NULL;
	const uint8_t *der;
	size_t der_len;

	if (!r || tls_parse_certificate_status(b, len, &der, &der_len) < 0)
		return;
	r->have_ocsp = true;
	ocsp_parse(der, der_len, r->chain_len ? r->chain[0]->x509 : NULL,
		   r->chain_len > 1 ? r->chain[1]->x509 : NULL, &r->ocsp);
	flush_pending(t, dir_conn(d));
}

struct cb_ctx {
	struct flow_table *t;
	struct dir *d;
};

static void cb_handshake(void *ctx, uint8_t type, const uint8_t *body, size_t len)
{
	struct cb_ctx *x = ctx;

	/* Any later message of the server's flight means no staple is coming. */
	if (type != TLS_HS_CERTIFICATE_STATUS && x->d->role == ROLE_SERVER)
		flush_pending(x->t, dir_conn(x->d));
	switch (type) {
	case TLS_HS_CLIENT_HELLO:
	case TLS_HS_SSL2_CLIENT_HELLO:
		on_client_hello(x->t, x->d, type, body, len);
		break;
	case TLS_HS_SERVER_HELLO:
		on_server_hello(x->t, x->d, body, len);
		break;
	case TLS_HS_SSL2_SERVER_HELLO:
		on_ssl2_server_hello(x->t, x->d, body, len);
		break;
	case TLS_HS_HELLO_VERIFY_REQUEST:
		set_roles(x->d, ROLE_SERVER);
		break;
	case TLS_HS_CERTIFICATE:
		on_certificate(x->t, x->d, body, len);
		break;
	case TLS_HS_CERTIFICATE_STATUS:
		on_certificate_status(x->t, x->d, body, len);
		break;
	}
}

static void report_alert(struct flow_table *t, struct dir *d, const uint8_t *body)
{
	struct conn *c = dir_conn(d);
	struct cs_report r;

	flush_pending(t, c); /* the alert answers the chain: chain first */
	report_init(t, c, server_index(c, !dir_index(d)), &r, REPORT_ALERT);
	r.alert_from_client = d->role == ROLE_CLIENT;
	r.alert_level = body[0];
	r.alert_desc = body[1];
	leaf_hex(c, r.alert_cert_sha256);
	/* A TLS 1.3 client's alert in the clear (OpenSSL's, before its first
	 * encrypted write) is its outcome: this event carries it. */
	if (r.alert_from_client && c->hidden && c->rare) {
		outcome_alert(&c->rare->ot, "an alert in the clear");
		if (outcome_take(&c->rare->ot))
			outcome_fill(c, &r);
	}
	emit(t, &r);
}

static void cb_record(void *ctx, uint8_t type, uint16_t version, const uint8_t *body, size_t avail,
		      size_t rec_len)
{
	struct cb_ctx *x = ctx;
	struct dir *d = x->d;
	struct conn *c = dir_conn(d);

	(void)version;
	if (d->role == ROLE_SERVER)
		flush_pending(x->t, c);
	/* A 2-byte alert before any CCS is in the clear. A walked direction
	 * ends where its walk does (on_stream), at any alert. */
	/* TLS 1.3 encrypts alerts as application data: an alert record there
	 * is in the clear, after the client's dummy CCS too. */
	if (type == TLS_CT_ALERT && rec_len == 2 && avail >= 2 && (!d->p.encrypted || c->hidden)) {
		report_alert(x->t, d, body);
		if (body[0] == 2 && !dir_walked(d))
			dir_record_end(x->t, d);
		return;
	}
	if (type != TLS_CT_CCS && type != TLS_CT_APPDATA)
		return;
	/* A ServerHello then straight to CCS: an abbreviated handshake. */
	if (d->role == ROLE_SERVER && c->have_sh && !c->chain_seen && !c->hidden &&
	    type == TLS_CT_CCS)
		report_resumed(x->t, d);
	/* Past the first encrypted record nothing is in the clear for us. */
	if (!dir_walked(d))
		dir_record_end(x->t, d);
}

static void cb_error(void *ctx, const char *what)
{
	struct cb_ctx *x = ctx;

	(void)what;
	x->t->st.parse_errors++;
	dir_done(x->t, x->d);
}

/*
 * One certificate of a Certificate message split across segments: taken
 * (parsed, cached) now, its bytes dropped, so a connection paused inside
 * the message holds a ref and the certificate it is in. Its DER counts
 * to this connection when no one else held it (a chain every connection
 * of a server shares costs each a pointer).
 */
static void cb_cert_entry(void *ctx, const uint8_t *der, size_t len)
{
	struct cb_ctx *x = ctx;
	struct dir *d = x->d;
	struct chain_acc *a = d->acc;
	struct cert_facts *f;

	if (!a) {
		a = calloc(1, sizeof(*a) + 2 * sizeof(a->chain[0]));
		if (!a)
			return;
		a->cap = 2; /* a leaf and its issuer, the usual chain: one allocation */
		d->acc = a;
	}
	if (a->total++ >= TLS_CHAIN_MAX || !(f = cert_get(x->t->o.certs, der, len)))
		return;
	if (a->n == a->cap) {
		a = realloc(a, sizeof(*a) + 2 * a->cap * sizeof(a->chain[0]));
		if (!a) {
			cert_put(x->t->o.certs, f);
			return;
		}
		a->cap *= 2;
		d->acc = a;
	}
	a->chain[a->n++] = f;
	if (f->refs == 1)
		a->own += (uint32_t)len;
}

/* The Certificate message split across segments is complete. */
static void cb_cert_end(void *ctx, bool ok)
{
	struct cb_ctx *x = ctx;
	struct dir *d = x->d;
	struct chain_acc *a = d->acc;

	/* What the whole message's path does (cb_handshake, on_certificate). */
	if (d->role == ROLE_SERVER)
		flush_pending(x->t, dir_conn(d));
	if (!ok) {
		x->t->st.parse_errors++;
		acc_release(x->t, d);
		return;
	}
	if (!a || !a->total) /* a client declining to authenticate */
		return;
	d->acc = NULL;
	on_chain(x->t, d, a->chain, a->n, a->total);
	free(a);
}

static const struct tls_cb tls_callbacks = {
	.handshake = cb_handshake,
	.record = cb_record,
	.error = cb_error,
	.cert_entry = cb_cert_entry,
	.cert_end = cb_cert_end,
};

/* The walk took an encrypted record whole (copy_encrypted). */
static void on_encrypted(struct flow_table *t, struct dir *d)
{
	uint32_t idx = d->w.n - 1u;
	const struct recwalk_record *r = recwalk_record(&d->w, idx);
	struct dir *peer = dir_peer(d);
	struct cs_flow_key k;

	conn_key(dir_conn(d), dir_index(d), &k);
	if (!r) {
		t->st.encrypted_oversize++;
	} else {
		t->st.encrypted_records++;
		if (t->o.encrypted)
			t->o.encrypted(t->o.ctx, &k, from_server(d), idx, r->hdr, r->body, r->len);
	}
	/* The record is whole here: the walk is at its end. */
	if (!from_server(d) && recwalk_last_hdr(&d->w))
		client_record(t, d, recwalk_last_hdr(&d->w), d->w.pos, r);
	if (conn_hid(dir_conn(d)) && key_eq(&conn_hid(dir_conn(d))->key, &k))
		hidden_records(t, conn_hid(dir_conn(d)));
	/* The client sends its first encrypted record once it has the
	 * server's whole flight: what the server sends later (tickets, data)
	 * is no handshake. (Unless the server took none yet: 0-RTT data.) */
	if (!from_server(d) && from_server(peer) && peer->w.n && !peer->done)
		dir_done(t, peer);
}

/* Stream bytes in order: the record walk says where the source stops and
 * which encrypted records it takes; the parser sees the bytes up to each
 * of those points before the walk acts on it. */
static void on_stream(void *ctx, const uint8_t *data, size_t len)
{
	struct cb_ctx *x = ctx;
	struct dir *d = x->d;
	enum recwalk_event ev;
	size_t k;

	while (len && !d->done) {
		k = recwalk_feed(&d->w, data, len, &ev);
		tls_parser_feed(&d->p, data, k, &tls_callbacks, x);
		data += k;
		len -= k;
		if (d->done)
			break;
		if (ev == RECWALK_RECORD) {
			on_encrypted(x->t, d);
		} else if (ev == RECWALK_END) {
			client_walk_end(x->t, d);
			dir_walk_end(x->t, d);
		}
	}
}

/* A TCP direction's first bytes: how the kernel walks it (its mode, the
 * warning alert it hops over, quiet for a ClientHello). */
static void walk_start(struct flow_table *t, struct dir *d, const struct cs_segment *s)
{
	struct cs_flow_key k;
	uint32_t skip = 0;
	bool walk = true;

	switch (wire_tcp_start(s->data, s->len < WIRE_START_PEEK ? s->len : WIRE_START_PEEK)) {
	case WIRE_TLS_CLIENT_HELLO:
		d->client_start = true;
		break;
	case WIRE_SSL2_CLIENT_HELLO:
		d->client_start = true;
		/* fallthrough */
	case WIRE_SSL2_SERVER_HELLO:
		walk = false;
		break;
	case WIRE_ALERT_WARNING:
		skip = TLS_ALERT_LEN;
		break;
	default:
		break;
	}
	conn_key(dir_conn(d), dir_index(d), &k);
	recwalk_init(&d->w, walk, skip,
		     encports_enc_max(encports_mode(t->o.copy_encrypted, t->o.enc_ports),
				      t->o.enc_ports, &k, d->client_start));
}

static void dir_push(struct flow_table *t, struct dir *d, const struct cs_segment *s)
{
	struct cb_ctx x = { t, d };

	if (d->done || d->r.failed)
		return;
	if (!d->r.started) {
		d->isn = s->seq;
		if (!dir_conn(d)->udp)
			walk_start(t, d, s);
	}
	if (dir_conn(d)->udp) {
		dtls_feed_datagram(d->dp, s->data, s->len, &tls_callbacks, &x);
		return;
	}
	if (reasm_push(&d->r, s->seq, s->data, s->len, on_stream, &x) < 0) {
		report_gap(t, d, "gap: held bytes passed the bound");
		dir_done(t, d);
	}
	tls_parser_trim(&d->p);
}

/*
 * A connection ends when both directions are done with (past their clear
 * handshake), on a reset, or when both sides sent FIN. A FIN alone is not
 * the end: the kernel may deliver the last data after the close event.
 */
static bool conn_finished(const struct conn *c, bool rst)
{
	/* A TLS 1.3 client's outcome waits for its close (outcomes.h). */
	return rst ||
	       (c->d[0].done && c->d[1].done && !(c->rare && outcome_pending(&c->rare->ot))) ||
	       (c->d[0].closed && c->d[1].closed);
}

/*
 * What may start a direction: the kernel's rule (cs_wire.h), applied to a
 * segment instead of a packet. That is the same thing: a direction's first
 * segment is its first packet's payload (at least its first 512 bytes, the
 * smallest --max-bytes), so it begins with the bytes the source judged and
 * is as short as the packet when that was under 8 bytes. An alert starts one
 * only in reply to a connection already known here (reverse_tracked).
 */
static bool starts_direction(const struct cs_segment *s, bool reverse_tracked)
{
	if (s->key.proto == IPPROTO_UDP)
		return wire_dtls_hello(s->data, s->len);
	switch (wire_tcp_start(s->data, s->len < WIRE_START_PEEK ? s->len : WIRE_START_PEEK)) {
	case WIRE_NOT_TLS:
		return false;
	case WIRE_ALERT_WARNING:
	case WIRE_ALERT_FATAL:
		return reverse_tracked;
	default:
		return true;
	}
}

/* How far past the bytes seen a new hello still belongs to this stream. */
#define FLOW_REUSE_WINDOW (1u << 20)

/*
 * A hello on a direction already under way, at a sequence number its stream
 * cannot have reached, is a new connection on the same addresses and ports
 * (port reuse, after a connection whose end we missed or which lost bytes).
 * A retransmitted hello, or the second ClientHello after a HelloRetryRequest,
 * lies inside the window and changes nothing.
 */
static bool new_connection(const struct conn *c, int i, const struct cs_segment *s)
{
	const struct dir *d = &c->d[i];
	uint32_t off = s->seq - d->isn, seen = d->r.next_seq - d->isn;

	if (c->udp || !s->len || !d->r.started || !starts_direction(s, false))
		return false;
	return off >= seen + FLOW_REUSE_WINDOW;
}

int flow_segment(void *ctx, const struct cs_segment *s)
{
	struct flow_table *t = ctx;
	struct conn *c;
	int i = 0;

	if (s->ts_ns > t->now_ns)
		t->now_ns = s->ts_ns;
	if (t->now_ns - t->last_expire_ns > 1000000000ULL)
		flow_expire(t, t->now_ns);

	c = conn_find(t, &s->key, &i);
	if (c && new_connection(c, i, s)) {
		conn_free(t, c, "a new handshake on the same addresses and ports");
		c = NULL;
	}
	if (!c) {
		if (!s->len || !starts_direction(s, false)) {
			t->st.ignored_segments++;
			return 0;
		}
		c = conn_new(t, &s->key);
		if (!c)
			return 0;
		i = 0;
	} else if (s->len && !c->udp && !c->d[i].r.started && !c->d[i].done &&
		   !starts_direction(s, true)) {
		/* The other direction's first bytes must also be a record start. */
		t->st.ignored_segments++;
		return 0;
	}
	c->last_ns = t->now_ns;
	lru_touch(&t->lru, &c->lru);

	t->seg = s;
	if (s->len)
		dir_push(t, &c->d[i], s);
	else if (s->tcp_flags & (CS_TCP_FIN | CS_TCP_RST))
		on_close(t, &c->d[i], s); /* only close events: data pieces may carry FIN */
	t->seg = NULL;
	if (conn_finished(c, !s->len && (s->tcp_flags & CS_TCP_RST))) {
		conn_free(t, c, "connection closed with a hole");
		return 0;
	}
	mem_update(t, c);
	mem_enforce(t, c);
	return 0;
}

void flow_expire(struct flow_table *t, uint64_t now_ns)
{
	uint64_t idle = (uint64_t)t->o.idle_s * 1000000000ULL;

	t->last_expire_ns = now_ns;
	hidden_expire(t, now_ns);
	while (t->lru.tail && lru_conn(t->lru.tail)->last_ns + idle < now_ns) {
		conn_free(t, lru_conn(t->lru.tail), "idle timeout with a hole");
		t->st.expired++;
	}
}

struct flow_table *flow_new(const struct flow_opts *o)
{
	struct flow_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->o = *o;
	if (!t->o.max_conns)
		t->o.max_conns = FLOW_CONNS_DEFAULT;
	if (!t->o.idle_s)
		t->o.idle_s = FLOW_IDLE_DEFAULT_S;
	if (!t->o.max_held)
		t->o.max_held = FLOW_HELD_DEFAULT;
	if (!t->o.msg_max)
		t->o.msg_max = TLS_MSG_MAX_DEFAULT;
	if (!t->o.max_mem)
		t->o.max_mem = FLOW_MEM_DEFAULT;
	if (!t->o.hidden_wait_ms)
		t->o.hidden_wait_ms = FLOW_HIDDEN_WAIT_MS;
	t->ja = ja_memo_new();
	if (!t->ja || !htab_init(&t->conns, t->o.max_conns > 1024 ? t->o.max_conns : 1024)) {
		ja_memo_free(t->ja);
		free(t);
		return NULL;
	}
	return t;
}

const struct recwalk_record *flow_encrypted(struct flow_table *t, const struct cs_flow_key *k,
					    uint32_t idx)
{
	int i;
	struct conn *c = conn_find(t, k, &i);

	return c ? recwalk_record(&c->d[i].w, idx) : NULL;
}

void flow_stats(const struct flow_table *t, struct flow_stats *st)
{
	*st = t->st;
}

void flow_drain(struct flow_table *t)
{
	while (t && t->lru.head)
		conn_free(t, lru_conn(t->lru.head), NULL);
	while (t && t->hid_head)
		hidden_give_up(t, t->hid_head);
	while (t && t->n_early) {
		t->st.served_unmatched++;
		served_early_release(t, 0);
	}
}

void flow_free(struct flow_table *t)
{
	if (!t)
		return;
	flow_drain(t);
	htab_fini(&t->conns);
	ja_memo_free(t->ja);
	free(t);
}
