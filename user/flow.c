/* flow.c - connections: both directions of a TLS flow, reassembled and parsed into reports. */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cs_wire.h"
#include "dtls.h"
#include "encports.h"
#include "flow.h"
#include "htab.h"
#include "hello.h"
#include "keylog.h"
#include "lru.h"
#include "outcomes.h"
#include "reasm.h"
#include "recwalk.h"
#include "served.h"
#include "tls.h"
#include "tls13.h"

enum role { ROLE_UNKNOWN, ROLE_CLIENT, ROLE_SERVER };

struct conn;

/* A TLS 1.3 handshake whose chain is encrypted, waiting (bounded in time)
 * for a source to give it: the key log (decrypt the server's flight) or the
 * local server's uprobes. */
struct hidden {
	struct hidden *next, *prev; /* flow_table.hid: oldest, earliest deadline, first */
	struct conn *c;		    /* NULL: the connection ended; a served chain may come */
	struct cs_flow_key key;	    /* the server's direction */
	uint64_t deadline_ns;	    /* packet time */
	struct cs_report r;	    /* the tls-certificate-hidden report, as of the ServerHello */
	struct tls13_flight *fl;    /* the secret was found: the flight being decrypted */
	uint32_t next_idx;	    /* server records fed to fl */
	bool failed, asked;	    /* fl failed; need_keys was called */
	struct cs_report *got;	    /* the chain, once the Certificate is decrypted */
};

/* A served chain that came before its connection's ServerHello. */
struct served_early {
	struct cs_flow_key key; /* the server's direction */
	uint64_t ts_ns, mono_ns;
	uint8_t binding;
	uint32_t n, total;
	struct cert_facts *chain[TLS_CHAIN_MAX];
};

struct dir {
	struct conn *c;
	struct reasm r;	       /* TCP */
	struct tls_parser p;   /* TCP */
	struct dtls_parser dp; /* UDP */
	struct recwalk w;      /* TCP: where the source stops copying */
	uint8_t role;
	uint32_t isn;	   /* sequence number of the first byte */
	bool client_start; /* it started with a ClientHello (the kernel's quiet) */
	bool done;	   /* needs no more bytes */
	bool closed;	   /* FIN or RST seen */
	bool gap_reported;
};

struct conn {
	struct hnode h;		   /* in the table, by key_hash() */
	struct lru_node lru;	   /* recency, most recent at the head */
	struct cs_flow_key key[2]; /* key[i] is the sender of d[i] */
	struct dir d[2];
	uint64_t last_ns;
	size_t mem; /* bytes accounted to this connection */
	bool udp;
	bool have_ch, have_sh, has_sni, resumed, hidden, chain_seen, hello_retry;
	uint16_t version, cipher;
	uint8_t ch_sid_len;
	uint8_t ch_sid[32];
	/* Heap strings, NULL when absent: most connections carry no ALPN and a
	 * short SNI, and 100k of them must fit the memory bound. */
	char *sni, *alpn_offered, *alpn;
	char leaf_sha256[65];	   /* server leaf, once seen */
	struct cs_report *pending; /* chain waiting for a CertificateStatus */
	/* The client side: its hello's facts (heap: ~136 bytes, only for
	 * hellos that decoded) and what it did after a TLS 1.3 server's
	 * flight. */
	struct hello_summary *hello;
	struct outcome_track ot;
	bool have_random;
	uint8_t random[32]; /* client_random: the key log's join */
	struct hidden *hid; /* TLS 1.3: waiting for a source */
};

struct flow_table {
	struct flow_opts o;
	struct htab conns; /* by key_hash(), bounded by o.max_conns */
	struct lru lru;
	uint64_t now_ns, last_expire_ns;
	const struct cs_segment *seg; /* segment being processed */
	struct flow_stats st;
	struct hidden *hid_head, *hid_tail;
	struct served_early early[FLOW_SERVED_EARLY_MAX];
	uint32_t n_early;
};

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

static bool key_eq(const struct cs_flow_key *a, const struct cs_flow_key *b)
{
	return !memcmp(a->saddr, b->saddr, 16) && !memcmp(a->daddr, b->daddr, 16) &&
	       a->sport == b->sport && a->dport == b->dport && a->family == b->family &&
	       a->proto == b->proto;
}

static struct conn *lru_conn(struct lru_node *n)
{
	return n ? lru_entry(n, struct conn, lru) : NULL;
}

static int dir_index(const struct dir *d)
{
	return d == &d->c->d[0] ? 0 : 1;
}

static struct dir *dir_peer(struct dir *d)
{
	return &d->c->d[!dir_index(d)];
}

/* What a connection holds now: buffers grow and shrink while it lives. */
static size_t str_mem(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

static size_t conn_mem(const struct conn *c)
{
	size_t n = sizeof(*c) + (c->pending ? sizeof(*c->pending) : 0) + str_mem(c->sni) +
		   str_mem(c->alpn_offered) + str_mem(c->alpn) + (c->hello ? sizeof(*c->hello) : 0);

	if (c->hid)
		n += sizeof(*c->hid) + (c->hid->fl ? sizeof(*c->hid->fl) + TLS13_RECORD_MAX : 0);

	for (int i = 0; i < 2; i++)
		n += c->d[i].r.held + c->d[i].p.msg_cap + c->d[i].w.mem;
	return n;
}

static void mem_update(struct flow_table *t, struct conn *c)
{
	size_t m = conn_mem(c);

	t->st.mem = t->st.mem - c->mem + m;
	c->mem = m;
}

/* ---- reports ---- */

static int64_t check_time(const struct flow_table *t, uint64_t ts_ns)
{
	if (t->o.check_time == FLOW_CHECK_NOW)
		return time(NULL);
	if (t->o.check_time > 0)
		return t->o.check_time;
	return (int64_t)(ts_ns / 1000000000ULL);
}

/* src (NULL: "") cut to fit dst, always terminated; snprintf per report was
 * a visible share of the live path. */
static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strnlen(src, cap - 1) : 0;

	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
}

/* A report about conn c, oriented by which direction is the server's. */
static void report_init(struct flow_table *t, struct conn *c, int server_idx, struct cs_report *r,
			enum report_action action)
{
	const struct cs_flow_key *k = &c->key[server_idx];
	const struct cs_segment *s = t->seg;

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
	copy_str(r->sni, sizeof(r->sni), c->sni);
	copy_str(r->alpn_offered, sizeof(r->alpn_offered), c->alpn_offered);
	copy_str(r->alpn, sizeof(r->alpn), c->alpn);
	if (c->hello) {
		r->have_hello = true;
		r->hello = *c->hello;
	}
}

/* The server's direction index, guessing from roles when the hellos were missed. */
static int server_index(const struct conn *c, int fallback)
{
	if (c->d[0].role == ROLE_SERVER)
		return 0;
	if (c->d[1].role == ROLE_SERVER)
		return 1;
	return fallback;
}

static void emit(struct flow_table *t, const struct cs_report *r)
{
	t->st.reports++;
	if (t->o.report)
		t->o.report(t->o.ctx, r);
}

static void release_chain(struct flow_table *t, struct cs_report *r)
{
	for (uint32_t i = 0; i < r->chain_len; i++)
		cert_put(t->o.certs, r->chain[i]);
	r->chain_len = 0;
}

/* The chain is written once its flight has shown whether an OCSP staple follows. */
static void flush_pending(struct flow_table *t, struct conn *c)
{
	if (!c->pending)
		return;
	emit(t, c->pending);
	release_chain(t, c->pending);
	free(c->pending);
	c->pending = NULL;
}

static void fill_chain(struct flow_table *t, struct cs_report *r, const struct tls_cert_list *cl)
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
	struct conn *c = d->c;
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

/* ---- the client's outcome (TLS 1.3) ---- */

/* The direction's sender is the server (its flight), by the hellos, or
 * else by how it started (as the kernel does). */
static bool from_server(const struct dir *d)
{
	return d->role == ROLE_SERVER || (d->role == ROLE_UNKNOWN && !d->client_start);
}

/* A decided outcome onto the report about it. */
static void outcome_fill(const struct conn *c, struct cs_report *r)
{
	r->outcome = c->ot.outcome;
	r->outcome_reason = c->ot.reason;
	r->outcome_rec_len = c->ot.rec_len;
}

/* A decision made since the last call: its own event, unless an alert
 * event carried it (report_alert). */
static void report_outcome(struct flow_table *t, struct conn *c)
{
	struct cs_report r;

	if (!outcome_take(&c->ot))
		return;
	report_init(t, c, server_index(c, 1), &r, REPORT_CLIENT_OUTCOME);
	outcome_fill(c, &r);
	r.alert_from_client = true;
	memcpy(r.alert_cert_sha256, c->leaf_sha256, sizeof(r.alert_cert_sha256));
	if (c->ot.outcome == OUTCOME_ABORTED && c->ot.alert_known) {
		r.outcome_alert = true;
		r.outcome_decrypted = true;
		r.alert_level = c->ot.alert_level;
		r.alert_desc = c->ot.alert_desc;
	}
	emit(t, &r);
}

/*
 * The client's first encrypted record, whole (copy_encrypted): with its
 * CLIENT_HANDSHAKE_TRAFFIC_SECRET in the key log it says exactly what the
 * client did: an alert (which), or its handshake going on.
 */
static void decrypt_client_record(struct flow_table *t, struct conn *c,
				  const struct recwalk_record *rec)
{
	uint8_t out[128]; /* a Finished: 4 + 48 (SHA-384) + 1 + 16 */
	struct tls13_keys keys;
	const uint8_t *secret;
	size_t slen, plen;
	uint8_t inner;
	int rc;

	if (!t->o.keylog || !rec || !rec->body || !c->have_random ||
	    !(secret = keylog_find(t->o.keylog, c->random, KEYLOG_CLIENT_HANDSHAKE_TRAFFIC_SECRET,
				   &slen)))
		return;
	if (tls13_traffic_keys(c->cipher, secret, slen, &keys))
		return;
	/* Only short records are opened: an alert or a Finished fits in out;
	 * a longer one is a certificate flight: accepted by its size. */
	rc = rec->len <= sizeof(out) ? tls13_open(&keys, rec->hdr, rec->body, rec->len, out,
						  sizeof(out), &plen, &inner) :
				       TLS13_E_LENGTH;
	tls13_keys_wipe(&keys);
	if (rc != TLS13_OK)
		return;
	t->st.client_alerts_decrypted++;
	if (inner == TLS_CT_ALERT && plen >= 2) {
		c->ot.alert_known = true;
		c->ot.alert_level = out[0];
		c->ot.alert_desc = out[1];
		outcome_alert(&c->ot, "an alert, decrypted with the key log");
	} else if (inner == TLS_CT_HANDSHAKE) {
		outcome_accepted(&c->ot, "a handshake record, decrypted with the key log");
	}
	explicit_bzero(out, sizeof(out));
}

/* A record of the client's after the server's TLS 1.3 flight: its length
 * and where it ends (stream offset), whole or as the walk's last. */
static void client_record(struct flow_table *t, struct dir *d, const uint8_t *hdr, uint32_t end,
			  const struct recwalk_record *whole)
{
	struct conn *c = d->c;

	if (!c->hidden || hdr[0] != TLS_CT_APPDATA)
		return;
	outcome_record(&c->ot, (uint16_t)(hdr[3] << 8 | hdr[4]), end);
	if (whole && c->ot.rec_end == end)
		decrypt_client_record(t, c, whole);
	report_outcome(t, c);
}

/* The client direction's walk stopped: at its first encrypted record
 * (no key source), or at the one after it. */
static void client_walk_end(struct flow_table *t, struct dir *d)
{
	uint8_t hdr[TLS_HDR_LEN];
	uint32_t off;

	if (from_server(d) || !recwalk_stop_record(&d->w, hdr, &off))
		return;
	client_record(t, d, hdr, off + wire_tls_rec_span(hdr), NULL);
}

/* ---- connection lifetime ---- */

static void dir_release(struct dir *d)
{
	reasm_free(&d->r);
	tls_parser_free(&d->p);
	dtls_parser_free(&d->dp);
	recwalk_free(&d->w);
}

static void hidden_conn_end(struct flow_table *t, struct conn *c);

static void conn_free(struct flow_table *t, struct conn *c, const char *why)
{
	flush_pending(t, c);
	hidden_conn_end(t, c);
	outcome_end(&c->ot, why ? "the connection ended before the client closed" :
				  "the capture ended before the client closed");
	report_outcome(t, c);
	for (int i = 0; i < 2 && why; i++)
		if (c->d[i].r.held)
			report_gap(t, &c->d[i], why);
	htab_del(&t->conns, &c->h);
	lru_unlink(&t->lru, &c->lru);
	dir_release(&c->d[0]);
	dir_release(&c->d[1]);
	t->st.mem -= c->mem;
	free(c->sni);
	free(c->alpn_offered);
	free(c->alpn);
	free(c->hello);
	free(c);
	t->st.active--;
}

static struct conn *conn_find(struct flow_table *t, const struct cs_flow_key *k, int *idx)
{
	struct hnode *n;

	htab_for_hash(&t->conns, key_hash(t, k), n)
	{
		struct conn *c = htab_entry(n, struct conn, h);

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

	if (t->st.active >= t->o.max_conns && t->lru.tail) {
		conn_free(t, lru_conn(t->lru.tail), "evicted: connection table full");
		t->st.evicted++;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->key[0] = *k;
	key_reverse(k, &c->key[1]);
	c->udp = k->proto == IPPROTO_UDP;
	for (int i = 0; i < 2; i++) {
		c->d[i].c = c;
		reasm_init(&c->d[i].r, t->o.max_held);
		tls_parser_init(&c->d[i].p, t->o.msg_max);
		dtls_parser_init(&c->d[i].dp, t->o.msg_max);
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
	dtls_parser_free(&d->dp);
	if (tell_source && t->o.done)
		t->o.done(t->o.ctx, &d->c->key[dir_index(d)]);
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
	dir_finish(t, d, !d->c->udp);
}

static bool dir_walked(const struct dir *d)
{
	return !d->c->udp && d->w.w.phase != WIRE_WALK_OFF;
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

static void keep_client_hello(struct conn *c, const struct tls_client_hello *ch)
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
		hello_summarize(ch, c->hello);
}

static void on_client_hello(struct dir *d, uint8_t type, const uint8_t *b, size_t len)
{
	struct tls_client_hello ch;
	int rc;

	if (type == TLS_HS_SSL2_CLIENT_HELLO)
		rc = tls_parse_ssl2_client_hello(b, len, &ch);
	else if (d->c->udp)
		rc = tls_parse_dtls_client_hello(b, len, &ch);
	else
		rc = tls_parse_client_hello(b, len, &ch);
	if (rc < 0)
		return;
	set_roles(d, ROLE_CLIENT);
	keep_client_hello(d->c, &ch);
	/* Resumption is proven by the ServerHello echoing this id. */
	d->c->ch_sid_len = 0;
	if (type == TLS_HS_CLIENT_HELLO && len >= 35 && b[34] <= 32 && len >= 35u + b[34]) {
		d->c->ch_sid_len = b[34];
		memcpy(d->c->ch_sid, b + 35, b[34]);
	}
}

/* ---- TLS 1.3: the chain from a source (key log, the local server's uprobes) ---- */

static bool key_source(const struct flow_table *t)
{
	return t->o.keylog || t->o.wait_served;
}

static void hidden_free(struct flow_table *t, struct hidden *h)
{
	if (h->prev)
		h->prev->next = h->next;
	else
		t->hid_head = h->next;
	if (h->next)
		h->next->prev = h->prev;
	else
		t->hid_tail = h->prev;
	if (h->c)
		h->c->hid = NULL;
	if (h->fl) {
		tls13_flight_free(h->fl);
		free(h->fl);
	}
	if (h->got) {
		release_chain(t, h->got);
		free(h->got);
	}
	free(h);
	t->st.hidden_waiting--;
}

/* No source gave the chain in time: the handshake as it is, unverified. */
static void hidden_give_up(struct flow_table *t, struct hidden *h)
{
	emit(t, &h->r);
	hidden_free(t, h);
}

/* A source gave the chain: it is reported like one seen in the clear, the
 * source named. r's chain is released here. */
static void source_chain(struct flow_table *t, struct conn *c, struct cs_report *r)
{
	if (c) {
		c->chain_seen = true;
		if (r->chain_len)
			memcpy(c->leaf_sha256, r->chain[0]->sha256_hex, sizeof(c->leaf_sha256));
	}
	emit(t, r);
	release_chain(t, r);
}

/* A chain report from the hidden one (endpoints, hellos), at the time of
 * the segment that completed it if there is one. */
static void report_from_hidden(struct flow_table *t, const struct hidden *h, struct cs_report *r,
			       enum report_source src)
{
	*r = h->r;
	r->action = REPORT_CERTIFICATE;
	r->source = src;
	if (t->seg) {
		r->ts_ns = t->seg->ts_ns;
		r->mono_ns = t->seg->mono_ns;
		r->check_time = check_time(t, r->ts_ns);
	}
}

/* The decrypted flight's messages: the Certificate (and its OCSP staple). */
static void on_flight_message(void *ctx, uint8_t type, const uint8_t *body, size_t len)
{
	struct flow_table *t = ((void **)ctx)[0];
	struct hidden *h = ((void **)ctx)[1];
	struct tls_cert_list cl;
	const uint8_t *ocsp;
	size_t ocsp_len;

	if (type != TLS_HS_CERTIFICATE || h->got)
		return;
	if (tls_parse_certificate13(body, len, &cl, &ocsp, &ocsp_len) < 0 || !cl.n) {
		t->st.keylog_failed++;
		h->failed = true;
		return;
	}
	if (!(h->got = malloc(sizeof(*h->got))))
		return;
	report_from_hidden(t, h, h->got, SOURCE_KEYLOG);
	fill_chain(t, h->got, &cl);
	if (ocsp) {
		struct cs_report *r = h->got;

		r->have_ocsp = true;
		ocsp_parse(ocsp, ocsp_len, r->chain_len ? r->chain[0]->x509 : NULL,
			   r->chain_len > 1 ? r->chain[1]->x509 : NULL, &r->ocsp);
	}
}

/* The server's encrypted records held so far, whole. */
static uint32_t records_held(const struct dir *d)
{
	return d->w.n - (d->w.filling ? 1u : 0u);
}

static bool hidden_keys(struct flow_table *t, struct hidden *h)
{
	struct conn *c = h->c;
	const uint8_t *secret;
	size_t len;

	secret = keylog_find(t->o.keylog, c->random, KEYLOG_SERVER_HANDSHAKE_TRAFFIC_SECRET, &len);
	if (!secret)
		return false;
	if (!(h->fl = malloc(sizeof(*h->fl))))
		return false;
	if (tls13_flight_init(h->fl, c->cipher, secret, len) < 0) {
		t->st.keylog_failed++;
		h->failed = true;
	}
	return true;
}

/*
 * Decrypts what the server's direction holds, with its handshake traffic
 * secret once the key log has it. The record's AEAD tag proves the secret
 * is this connection's: a wrong or foreign one fails (counted), it never
 * yields a certificate. May free h.
 */
static void hidden_records(struct flow_table *t, struct hidden *h)
{
	struct conn *c = h->c;
	void *ctx[2] = { t, h };
	const struct dir *d;
	const struct recwalk_record *rec;
	struct cs_report *r;
	int rc;

	if (!c || !t->o.keylog || !c->have_random || h->failed)
		return;
	d = &c->d[key_eq(&c->key[0], &h->key) ? 0 : 1];
	if (!records_held(d))
		return;
	if (!h->fl && !hidden_keys(t, h)) {
		if (!h->asked && t->o.need_keys) {
			h->asked = true; /* once: the source reads what it has */
			t->o.need_keys(t->o.ctx);
			hidden_records(t, h);
		}
		return;
	}
	while (!h->failed && !h->got && h->next_idx < records_held(d)) {
		rec = recwalk_record(&d->w, h->next_idx++);
		if (!rec || !rec->body) {
			t->st.keylog_failed++;
			h->failed = true;
			break;
		}
		rc = tls13_flight_record(h->fl, rec->hdr, rec->body, rec->len, on_flight_message,
					 ctx);
		if (rc < 0 && !h->failed) {
			if (rc == TLS13_E_AUTH)
				t->st.keylog_auth_failed++;
			else
				t->st.keylog_failed++;
			h->failed = true;
		}
	}
	if (!h->got)
		return;
	r = h->got;
	h->got = NULL;
	t->st.keylog_chains++;
	source_chain(t, c, r);
	free(r);
	hidden_free(t, h);
}

static void served_early_release(struct flow_table *t, uint32_t i)
{
	struct served_early *e = &t->early[i];

	for (uint32_t j = 0; j < e->n; j++)
		cert_put(t->o.certs, e->chain[j]);
	t->early[i] = t->early[--t->n_early];
}

static int served_early_find(const struct flow_table *t, const struct cs_flow_key *k)
{
	for (uint32_t i = 0; i < t->n_early; i++)
		if (key_eq(&t->early[i].key, k))
			return (int)i;
	return -1;
}

/* A TLS 1.2 ServerHello: the wire shows its chain; a served one is not needed. */
static void served_early_drop(struct flow_table *t, const struct cs_flow_key *k)
{
	int i = t->n_early ? served_early_find(t, k) : -1;

	if (i >= 0) {
		t->st.served_clear++;
		served_early_release(t, (uint32_t)i);
	}
}

/* The chain a uprobe gave, as a report about conn c / hidden h. */
static void served_report(struct flow_table *t, struct cs_report *r, uint8_t binding,
			  uint64_t ts_ns, uint64_t mono_ns)
{
	r->action = REPORT_CERTIFICATE;
	r->source = SOURCE_UPROBE;
	r->binding = binding;
	r->ts_ns = ts_ns;
	r->mono_ns = mono_ns;
	r->check_time = check_time(t, ts_ns);
}

/* A TLS 1.3 ServerHello: its report waits for a source, unless one already
 * gave the chain (a uprobe's, ahead of the packets) or there is none. */
static void hidden_start(struct flow_table *t, struct dir *d)
{
	struct conn *c = d->c;
	struct hidden *h;
	struct cs_report r;
	int i;

	report_init(t, c, dir_index(d), &r, REPORT_CERTIFICATE_HIDDEN);
	if (c->hid || c->chain_seen)
		return;
	if (t->n_early && (i = served_early_find(t, &c->key[dir_index(d)])) >= 0) {
		struct served_early *e = &t->early[i];

		served_report(t, &r, e->binding, e->ts_ns, e->mono_ns);
		for (uint32_t j = 0; j < e->n; j++)
			r.chain[r.chain_len++] = e->chain[j];
		r.chain_total = e->total;
		e->n = 0; /* the report holds them now */
		served_early_release(t, (uint32_t)i);
		t->st.served_chains++;
		source_chain(t, c, &r);
		return;
	}
	if (!key_source(t) || !(h = calloc(1, sizeof(*h)))) {
		emit(t, &r);
		return;
	}
	h->r = r;
	h->c = c;
	h->key = c->key[dir_index(d)];
	h->deadline_ns = t->now_ns + (uint64_t)t->o.hidden_wait_ms * 1000000ULL;
	h->prev = t->hid_tail;
	if (t->hid_tail)
		t->hid_tail->next = h;
	else
		t->hid_head = h;
	t->hid_tail = h;
	c->hid = h;
	t->st.hidden_waiting++;
}

/* The connection ends: a last look at the key log while its records are
 * held; then a served chain may still come until the deadline (the uprobe
 * source is read apart from the packets), else the handshake is unverified. */
static void hidden_conn_end(struct flow_table *t, struct conn *c)
{
	struct hidden *h = c->hid;

	if (h && !h->fl && !h->asked && t->o.need_keys && t->o.keylog && c->have_random) {
		h->asked = true;
		t->o.need_keys(t->o.ctx);
	}
	if (h)
		hidden_records(t, h);
	if ((h = c->hid)) {
		c->hid = NULL;
		h->c = NULL;
		if (!t->o.wait_served || t->now_ns >= h->deadline_ns)
			hidden_give_up(t, h);
	}
	/* Secrets are held only until the connection is decrypted or gone. */
	if (c->hidden && c->have_random && t->o.keylog)
		keylog_forget(t->o.keylog, c->random);
}

/* Handshakes whose deadline passed are written as they are. */
static void hidden_expire(struct flow_table *t, uint64_t now_ns)
{
	while (t->hid_head && t->hid_head->deadline_ns <= now_ns)
		hidden_give_up(t, t->hid_head);
	for (uint32_t i = t->n_early; i-- > 0;) {
		if (t->early[i].ts_ns + (uint64_t)t->o.hidden_wait_ms * 1000000ULL < now_ns) {
			t->st.served_unmatched++;
			served_early_release(t, i);
		}
	}
}

void flow_keys_arrived(struct flow_table *t)
{
	struct hidden *h, *next;

	for (h = t->hid_head; h; h = next) {
		next = h->next;
		if (h->c && !h->fl)
			hidden_records(t, h);
	}
}

static void fill_served(struct flow_table *t, struct cs_report *r, const struct served_chain *sc)
{
	for (uint32_t i = 0; i < sc->n && i < TLS_CHAIN_MAX; i++) {
		r->chain[r->chain_len] = cert_get(t->o.certs, sc->der[i], sc->der_len[i]);
		if (r->chain[r->chain_len])
			r->chain_len++;
	}
	r->chain_total = sc->total;
}

static void served_keep_early(struct flow_table *t, const struct served_chain *sc)
{
	struct served_early *e;

	if (t->n_early == FLOW_SERVED_EARLY_MAX) {
		t->st.served_unmatched++;
		served_early_release(t, 0);
	}
	e = &t->early[t->n_early++];
	memset(e, 0, sizeof(*e));
	e->key = sc->key;
	e->ts_ns = sc->ts_ns;
	e->mono_ns = sc->mono_ns;
	e->binding = sc->binding;
	e->total = sc->total;
	for (uint32_t i = 0; i < sc->n && i < TLS_CHAIN_MAX; i++) {
		e->chain[e->n] = cert_get(t->o.certs, sc->der[i], sc->der_len[i]);
		if (e->chain[e->n])
			e->n++;
	}
}

void flow_served_chain(struct flow_table *t, const struct served_chain *sc)
{
	struct hidden *h = NULL;
	struct cs_report r;
	struct conn *c;
	int i;

	c = conn_find(t, &sc->key, &i);
	if (c && c->have_sh && !c->hidden) {
		t->st.served_clear++; /* TLS 1.2: the wire had it */
		return;
	}
	if (c && c->chain_seen)
		return; /* the key log was first */
	if (c && c->hid) {
		h = c->hid;
	} else if (!c) {
		for (h = t->hid_head; h && !(!h->c && key_eq(&h->key, &sc->key)); h = h->next)
			;
	}
	if (h) {
		report_from_hidden(t, h, &r, SOURCE_UPROBE);
	} else if (c && c->have_sh) {
		/* reported unverified already: the chain all the same, late */
		t->st.served_late++;
		report_init(t, c, i, &r, REPORT_CERTIFICATE);
	} else {
		/* before its ServerHello (or its ClientHello) was read */
		served_keep_early(t, sc);
		return;
	}
	served_report(t, &r, sc->binding, sc->ts_ns, sc->mono_ns);
	fill_served(t, &r, sc);
	t->st.served_chains++;
	source_chain(t, c, &r);
	if (h)
		hidden_free(t, h);
}

static void report_resumed(struct flow_table *t, struct dir *server)
{
	struct conn *c = server->c;
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
	struct conn *c = d->c;

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
	if (wire_tls13_version(sh.version)) {
		/* Everything after this ServerHello is encrypted, the chain included. */
		c->hidden = true;
		/* What the client does next says whether it took the chain. */
		outcome_flight(&c->ot, c->hello && (c->hello->flags & HELLO_F_EARLY_DATA));
		hidden_start(t, d);
		return;
	}
	served_early_drop(t, &c->key[dir_index(d)]); /* the wire will show it */
	if (c->ch_sid_len && sh.session_id_len == c->ch_sid_len &&
	    !memcmp(sh.session_id, c->ch_sid, c->ch_sid_len))
		report_resumed(t, d);
}

static void on_ssl2_server_hello(struct flow_table *t, struct dir *d, const uint8_t *b, size_t len)
{
	struct tls_server_hello sh;
	struct tls_cert_list cl;
	struct conn *c = d->c;
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
	if (r.chain_len)
		memcpy(c->leaf_sha256, r.chain[0]->sha256_hex, sizeof(c->leaf_sha256));
	emit(t, &r);
	release_chain(t, &r);
	dir_done(t, d); /* the rest of SSLv2 is encrypted */
}

static void on_certificate(struct flow_table *t, struct dir *d, const uint8_t *b, size_t len)
{
	struct tls_cert_list cl;
	struct conn *c = d->c;
	struct cs_report *r;

	if (tls_parse_certificate(b, len, &cl) < 0) {
		t->st.parse_errors++;
		return;
	}
	if (!cl.n) /* a client declining to authenticate */
		return;
	if (d->role == ROLE_CLIENT) {
		struct cs_report cr;

		report_init(t, c, !dir_index(d), &cr, REPORT_CLIENT_CERTIFICATE);
		fill_chain(t, &cr, &cl);
		emit(t, &cr);
		release_chain(t, &cr);
		return;
	}
	if (d->role == ROLE_UNKNOWN)
		set_roles(d, ROLE_SERVER);
	flush_pending(t, c);
	r = malloc(sizeof(*r));
	if (!r)
		return;
	report_init(t, c, dir_index(d), r, REPORT_CERTIFICATE);
	fill_chain(t, r, &cl);
	if (r->chain_len)
		memcpy(c->leaf_sha256, r->chain[0]->sha256_hex, sizeof(c->leaf_sha256));
	c->chain_seen = true;
	c->pending = r;
}

static void on_certificate_status(struct flow_table *t, struct dir *d, const uint8_t *b, size_t len)
{
	struct cs_report *r = d->c->pending;
	const uint8_t *der;
	size_t der_len;

	if (!r || tls_parse_certificate_status(b, len, &der, &der_len) < 0)
		return;
	r->have_ocsp = true;
	ocsp_parse(der, der_len, r->chain_len ? r->chain[0]->x509 : NULL,
		   r->chain_len > 1 ? r->chain[1]->x509 : NULL, &r->ocsp);
	flush_pending(t, d->c);
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
		flush_pending(x->t, x->d->c);
	switch (type) {
	case TLS_HS_CLIENT_HELLO:
	case TLS_HS_SSL2_CLIENT_HELLO:
		on_client_hello(x->d, type, body, len);
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
	struct conn *c = d->c;
	struct cs_report r;

	flush_pending(t, c); /* the alert answers the chain: chain first */
	report_init(t, c, server_index(c, !dir_index(d)), &r, REPORT_ALERT);
	r.alert_from_client = d->role == ROLE_CLIENT;
	r.alert_level = body[0];
	r.alert_desc = body[1];
	memcpy(r.alert_cert_sha256, c->leaf_sha256, sizeof(r.alert_cert_sha256));
	/* A TLS 1.3 client's alert in the clear (OpenSSL's, before its first
	 * encrypted write) is its outcome: this event carries it. */
	if (r.alert_from_client && c->hidden) {
		outcome_alert(&c->ot, "an alert in the clear");
		if (outcome_take(&c->ot))
			outcome_fill(c, &r);
	}
	emit(t, &r);
}

static void cb_record(void *ctx, uint8_t type, uint16_t version, const uint8_t *body, size_t avail,
		      size_t rec_len)
{
	struct cb_ctx *x = ctx;
	struct dir *d = x->d;
	struct conn *c = d->c;

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

static const struct tls_cb tls_callbacks = {
	.handshake = cb_handshake,
	.record = cb_record,
	.error = cb_error,
};

/* The walk took an encrypted record whole (copy_encrypted). */
static void on_encrypted(struct flow_table *t, struct dir *d)
{
	uint32_t idx = d->w.n - 1u;
	const struct recwalk_record *r = recwalk_record(&d->w, idx);
	struct dir *peer = dir_peer(d);

	if (!r) {
		t->st.encrypted_oversize++;
	} else {
		t->st.encrypted_records++;
		if (t->o.encrypted)
			t->o.encrypted(t->o.ctx, &d->c->key[dir_index(d)], from_server(d), idx,
				       r->hdr, r->body, r->len);
	}
	/* The record is whole here: the walk is at its end. */
	if (!from_server(d) && idx < d->w.n)
		client_record(t, d, d->w.rec[idx].hdr, d->w.pos, r);
	if (d->c->hid && key_eq(&d->c->hid->key, &d->c->key[dir_index(d)]))
		hidden_records(t, d->c->hid);
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
	recwalk_init(&d->w, walk, skip,
		     encports_enc_max(encports_mode(t->o.copy_encrypted, t->o.enc_ports),
				      t->o.enc_ports, &d->c->key[dir_index(d)], d->client_start));
}

static void dir_push(struct flow_table *t, struct dir *d, const struct cs_segment *s)
{
	struct cb_ctx x = { t, d };

	if (d->done || d->r.failed)
		return;
	if (!d->r.started) {
		d->isn = s->seq;
		if (!d->c->udp)
			walk_start(t, d, s);
	}
	if (d->c->udp) {
		dtls_feed_datagram(&d->dp, s->data, s->len, &tls_callbacks, &x);
		return;
	}
	if (reasm_push(&d->r, s->seq, s->data, s->len, on_stream, &x) < 0) {
		report_gap(t, d, "gap: held bytes passed the bound");
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
	/* A TLS 1.3 client's outcome waits for its close (outcomes.h). */
	return rst || (c->d[0].done && c->d[1].done && !outcome_pending(&c->ot)) ||
	       (c->d[0].closed && c->d[1].closed);
}

/* A FIN or RST: a TLS 1.3 client's short record followed by its close,
 * right at that record's end, is the abort shape. */
static void on_close(struct flow_table *t, struct dir *d, const struct cs_segment *s)
{
	struct conn *c = d->c;

	d->closed = true;
	outcome_close(&c->ot, !from_server(d), s->tcp_flags & CS_TCP_RST,
		      d->r.started ? s->seq - d->isn : UINT32_MAX);
	report_outcome(t, c);
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
	if (!htab_init(&t->conns, t->o.max_conns > 1024 ? t->o.max_conns : 1024)) {
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
	free(t);
}
