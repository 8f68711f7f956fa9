/* flow.c - connections: both directions of a TLS flow, reassembled and parsed into reports. */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "flow.h"
#include "reasm.h"
#include "tls.h"

enum role { ROLE_UNKNOWN, ROLE_CLIENT, ROLE_SERVER };

struct conn;

struct dir {
	struct conn *c;
	struct reasm r;
	struct tls_parser p;
	uint8_t role;
	bool done;			/* needs no more bytes */
	bool closed;			/* FIN or RST seen */
};

struct conn {
	struct conn *hnext;		/* hash chain */
	struct conn *prev, *next;	/* LRU list, most recent at head */
	uint64_t hash;
	struct cs_flow_key key[2];	/* key[i] is the sender of d[i] */
	struct dir d[2];
	uint64_t last_ns;
	bool have_ch, have_sh, has_sni;
	uint16_t version, cipher;
	char sni[TLS_SNI_MAX + 1];
	char alpn_offered[TLS_ALPN_MAX + 1];
	char alpn[TLS_ALPN_MAX + 1];
};

struct flow_table {
	struct flow_opts o;
	struct conn **buckets;
	uint32_t nbuckets;		/* power of two */
	struct conn *head, *tail;
	uint64_t seed[2];
	uint64_t now_ns, last_expire_ns;
	const struct cs_segment *seg;	/* segment being processed */
	struct flow_stats st;
};

/* Keyed so that crafted 5-tuples cannot pile up in one bucket. */
static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	h *= 0xff51afd7ed558ccdULL;
	return h ^ (h >> 33);
}

static uint64_t endpoint_hash(const struct flow_table *t, const uint8_t *addr, uint16_t port)
{
	uint64_t a, b, h = t->seed[0];

	memcpy(&a, addr, 8);
	memcpy(&b, addr + 8, 8);
	h = mix(h, a);
	h = mix(h, b);
	return mix(h, port ^ t->seed[1]);
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

static bool key_eq(const struct cs_flow_key *a, const struct cs_flow_key *b)
{
	return !memcmp(a->saddr, b->saddr, 16) && !memcmp(a->daddr, b->daddr, 16) &&
	       a->sport == b->sport && a->dport == b->dport && a->family == b->family &&
	       a->proto == b->proto;
}

static void lru_unlink(struct flow_table *t, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		t->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		t->tail = c->prev;
	c->prev = c->next = NULL;
}

static void lru_push(struct flow_table *t, struct conn *c)
{
	c->next = t->head;
	c->prev = NULL;
	if (t->head)
		t->head->prev = c;
	t->head = c;
	if (!t->tail)
		t->tail = c;
}

static void dir_release(struct dir *d)
{
	reasm_free(&d->r);
	tls_parser_free(&d->p);
}

static void conn_free(struct flow_table *t, struct conn *c)
{
	struct conn **pp = &t->buckets[c->hash & (t->nbuckets - 1)];

	while (*pp && *pp != c)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = c->hnext;
	lru_unlink(t, c);
	dir_release(&c->d[0]);
	dir_release(&c->d[1]);
	free(c);
	t->st.active--;
}

static struct conn *conn_find(struct flow_table *t, const struct cs_flow_key *k, int *idx)
{
	uint64_t h = key_hash(t, k);
	struct conn *c;

	for (c = t->buckets[h & (t->nbuckets - 1)]; c; c = c->hnext) {
		if (c->hash != h)
			continue;
		for (int i = 0; i < 2; i++) {
			if (key_eq(&c->key[i], k)) {
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

	if (t->st.active >= t->o.max_conns && t->tail) {
		conn_free(t, t->tail);
		t->st.evicted++;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->key[0] = *k;
	key_reverse(k, &c->key[1]);
	c->hash = key_hash(t, k);
	for (int i = 0; i < 2; i++) {
		c->d[i].c = c;
		reasm_init(&c->d[i].r, t->o.max_held);
		tls_parser_init(&c->d[i].p, t->o.msg_max);
	}
	c->hnext = t->buckets[c->hash & (t->nbuckets - 1)];
	t->buckets[c->hash & (t->nbuckets - 1)] = c;
	lru_push(t, c);
	t->st.conns++;
	t->st.active++;
	return c;
}

/* Same rule as the kernel: a direction starts with a hello in a handshake record. */
static bool starts_tls_hello(const struct cs_segment *s)
{
	return s->len >= 6 && s->data[0] == TLS_CT_HANDSHAKE && s->data[1] == 3 &&
	       s->data[2] <= 4 && (s->data[5] == TLS_HS_CLIENT_HELLO ||
				   s->data[5] == TLS_HS_SERVER_HELLO);
}

static int dir_index(const struct dir *d)
{
	return d == &d->c->d[0] ? 0 : 1;
}

static struct dir *dir_peer(struct dir *d)
{
	return &d->c->d[!dir_index(d)];
}

static void dir_done(struct flow_table *t, struct dir *d)
{
	if (d->done)
		return;
	d->done = true;
	tls_parser_free(&d->p);
	if (t->o.done)
		t->o.done(t->o.ctx, &d->c->key[dir_index(d)]);
}

static void set_roles(struct dir *d, uint8_t role)
{
	d->role = role;
	dir_peer(d)->role = role == ROLE_CLIENT ? ROLE_SERVER : ROLE_CLIENT;
}

static bool is_tls13(uint16_t v)
{
	return v == 0x0304 || (v >> 8) == 0x7f || (v >> 8) == 0x7e;
}

static void report_init(struct flow_table *t, struct dir *server, struct cs_report *r,
			enum report_action action)
{
	struct conn *c = server->c;
	const struct cs_flow_key *k = &c->key[dir_index(server)];
	const struct cs_segment *s = t->seg;

	memset(r, 0, sizeof(*r));
	r->action = action;
	r->ts_ns = s->ts_ns;
	r->mono_ns = s->mono_ns;
	r->ifindex = s->ifindex;
	r->hook = s->hook;
	r->server.family = r->client.family = k->family;
	memcpy(r->server.addr, k->saddr, 16);
	r->server.port = k->sport;
	memcpy(r->client.addr, k->daddr, 16);
	r->client.port = k->dport;
	r->have_server_hello = c->have_sh;
	r->version = c->version;
	r->cipher = c->cipher;
	r->has_sni = c->has_sni;
	memcpy(r->sni, c->sni, sizeof(r->sni));
	memcpy(r->alpn_offered, c->alpn_offered, sizeof(r->alpn_offered));
	memcpy(r->alpn, c->alpn, sizeof(r->alpn));
}

static void emit(struct flow_table *t, const struct cs_report *r)
{
	t->st.reports++;
	if (t->o.report)
		t->o.report(t->o.ctx, r);
}

static void on_client_hello(struct dir *d, const uint8_t *b, size_t len)
{
	struct tls_client_hello ch;
	struct conn *c = d->c;

	if (tls_parse_client_hello(b, len, &ch) < 0)
		return;
	set_roles(d, ROLE_CLIENT);
	c->have_ch = true;
	c->has_sni = ch.has_sni;
	memcpy(c->sni, ch.sni, sizeof(c->sni));
	memcpy(c->alpn_offered, ch.alpn, sizeof(c->alpn_offered));
}

static void on_server_hello(struct flow_table *t, struct dir *d, const uint8_t *b, size_t len)
{
	struct tls_server_hello sh;
	struct conn *c = d->c;
	struct cs_report r;

	if (tls_parse_server_hello(b, len, &sh) < 0)
		return;
	set_roles(d, ROLE_SERVER);
	if (sh.hrr) {
		/* A second ClientHello follows the client's dummy CCS: keep parsing. */
		dir_peer(d)->p.hrr = true;
		return;
	}
	c->have_sh = true;
	c->version = sh.version;
	c->cipher = sh.cipher;
	memcpy(c->alpn, sh.alpn, sizeof(c->alpn));
	if (!is_tls13(sh.version))
		return;
	/* Everything after this ServerHello is encrypted, the chain included. */
	report_init(t, d, &r, REPORT_CERTIFICATE_HIDDEN);
	emit(t, &r);
	dir_done(t, d);
}

static void on_certificate(struct flow_table *t, struct dir *d, const uint8_t *b, size_t len)
{
	struct tls_cert_list cl;
	struct cs_report r;

	if (d->role == ROLE_CLIENT)	/* client authentication: a later issue */
		return;
	if (tls_parse_certificate(b, len, &cl) < 0) {
		t->st.parse_errors++;
		return;
	}
	if (cl.n == 0)
		return;
	if (d->role == ROLE_UNKNOWN)
		set_roles(d, ROLE_SERVER);
	report_init(t, d, &r, REPORT_CERTIFICATE);
	for (uint32_t i = 0; i < cl.n; i++) {
		r.chain[r.chain_len] = cert_get(t->o.certs, cl.der[i], cl.der_len[i]);
		if (r.chain[r.chain_len])
			r.chain_len++;
	}
	r.chain_total = cl.total;
	emit(t, &r);
	for (uint32_t i = 0; i < r.chain_len; i++)
		cert_put(t->o.certs, r.chain[i]);
}

struct cb_ctx {
	struct flow_table *t;
	struct dir *d;
};

static void cb_handshake(void *ctx, uint8_t type, const uint8_t *body, size_t len)
{
	struct cb_ctx *x = ctx;

	switch (type) {
	case TLS_HS_CLIENT_HELLO:
		on_client_hello(x->d, body, len);
		break;
	case TLS_HS_SERVER_HELLO:
		on_server_hello(x->t, x->d, body, len);
		break;
	case TLS_HS_CERTIFICATE:
		on_certificate(x->t, x->d, body, len);
		break;
	}
}

static void cb_record(void *ctx, uint8_t type, uint16_t version, const uint8_t *body,
		      size_t avail, size_t rec_len)
{
	struct cb_ctx *x = ctx;

	(void)version; (void)body; (void)avail; (void)rec_len;
	/* Past the first non-handshake record nothing is in the clear for us. */
	if (type == TLS_CT_CCS || type == TLS_CT_APPDATA)
		dir_done(x->t, x->d);
}

static void cb_error(void *ctx, const char *what)
{
	struct cb_ctx *x = ctx;

	(void)what;
	x->t->st.parse_errors++;
	dir_done(x->t, x->d);
}

static const struct tls_cb tls_callbacks = {
	.handshake = cb_handshake,
	.record = cb_record,
	.error = cb_error,
};

static void on_stream(void *ctx, const uint8_t *data, size_t len)
{
	struct cb_ctx *x = ctx;

	if (!x->d->done)
		tls_parser_feed(&x->d->p, data, len, &tls_callbacks, x);
}

static void dir_push(struct flow_table *t, struct dir *d, const struct cs_segment *s)
{
	struct cb_ctx x = { t, d };

	if (d->done || d->r.failed)
		return;
	if (reasm_push(&d->r, s->seq, s->data, s->len, on_stream, &x) < 0) {
		t->st.gaps++;
		dir_done(t, d);
	}
}

/*
 * A connection ends when both directions are done with (past their clear
 * handshake), on a reset, or when both sides sent FIN. A FIN alone is not
 * the end: the kernel may deliver the last data after the close event.
 */
static bool conn_finished(const struct conn *c, bool rst)
{
	return rst || (c->d[0].done && c->d[1].done) || (c->d[0].closed && c->d[1].closed);
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
	if (!c) {
		if (!starts_tls_hello(s)) {
			t->st.ignored_segments++;
			return 0;
		}
		c = conn_new(t, &s->key);
		if (!c)
			return 0;
		i = 0;
	} else if (s->len && !c->d[i].r.started && !starts_tls_hello(s) &&
		   !(c->d[i].closed || c->d[i].done)) {
		/* The other direction's first bytes must also be a record start. */
		t->st.ignored_segments++;
		return 0;
	}
	c->last_ns = t->now_ns;
	lru_unlink(t, c);
	lru_push(t, c);

	t->seg = s;
	if (s->len)
		dir_push(t, &c->d[i], s);
	else if (s->tcp_flags & (CS_TCP_FIN | CS_TCP_RST))
		c->d[i].closed = true;	/* only close events: data pieces may carry FIN */
	t->seg = NULL;
	if (conn_finished(c, !s->len && (s->tcp_flags & CS_TCP_RST)))
		conn_free(t, c);
	return 0;
}

void flow_expire(struct flow_table *t, uint64_t now_ns)
{
	uint64_t idle = (uint64_t)t->o.idle_s * 1000000000ULL;

	t->last_expire_ns = now_ns;
	while (t->tail && t->tail->last_ns + idle < now_ns) {
		for (int i = 0; i < 2; i++)
			if (t->tail->d[i].r.held)
				t->st.gaps++;
		conn_free(t, t->tail);
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
	t->nbuckets = 1024;
	while (t->nbuckets < t->o.max_conns && t->nbuckets < (1u << 20))
		t->nbuckets <<= 1;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if (!t->buckets || getrandom(t->seed, sizeof(t->seed), 0) != sizeof(t->seed)) {
		free(t->buckets);
		free(t);
		return NULL;
	}
	return t;
}

void flow_stats(const struct flow_table *t, struct flow_stats *st)
{
	*st = t->st;
}

void flow_free(struct flow_table *t)
{
	if (!t)
		return;
	while (t->head)
		conn_free(t, t->head);
	free(t->buckets);
	free(t);
}
