/* flow_tls13.c - TLS 1.3: the chain hidden on the wire, given by the key log or uprobes. */
#include <stdlib.h>
#include <string.h>
#include "flow_int.h"
#include "keylog.h"

static bool key_source(const struct flow_table *t)
{
	return t->o.keylog || t->o.wait_served;
}

static void hidden_free(struct flow_table *t, struct hidden *h)
{
	struct conn *c = h->c;

	if (h->prev)
		h->prev->next = h->next;
	else
		t->hid_head = h->next;
	if (h->next)
		h->next->prev = h->prev;
	else
		t->hid_tail = h->prev;
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
	if (c) {
		c->rare->hid = NULL; /* c->rare held h */
		mem_update(t, c);
	}
}

/* No source gave the chain in time: the handshake as it is, unverified. */
void hidden_give_up(struct flow_table *t, struct hidden *h)
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
		leaf_keep(c, r);
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
void hidden_records(struct flow_table *t, struct hidden *h)
{
	struct conn *c = h->c;
	void *ctx[2] = { t, h };
	const struct dir *d;
	const struct recwalk_record *rec;
	struct cs_report *r;
	int rc;

	if (!c || !t->o.keylog || !c->have_random || h->failed)
		return;
	d = &c->d[key_eq(&c->key, &h->key) ? 0 : 1];
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

void served_early_release(struct flow_table *t, uint32_t i)
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
void served_early_drop(struct flow_table *t, const struct cs_flow_key *k)
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
void hidden_start(struct flow_table *t, struct dir *d)
{
	struct conn *c = dir_conn(d);
	struct hidden *h;
	struct cs_report r;
	struct cs_flow_key k;
	int i;

	report_init(t, c, dir_index(d), &r, REPORT_CERTIFICATE_HIDDEN);
	if (conn_hid(c) || c->chain_seen)
		return;
	conn_key(c, dir_index(d), &k);
	if (t->n_early && (i = served_early_find(t, &k)) >= 0) {
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
	if (!key_source(t) || !conn_rare(c) || !(h = calloc(1, sizeof(*h)))) {
		emit(t, &r);
		return;
	}
	h->r = r;
	h->c = c;
	h->key = k;
	h->deadline_ns = t->now_ns + (uint64_t)t->o.hidden_wait_ms * 1000000ULL;
	h->prev = t->hid_tail;
	if (t->hid_tail)
		t->hid_tail->next = h;
	else
		t->hid_head = h;
	t->hid_tail = h;
	c->rare->hid = h;
	t->st.hidden_waiting++;
}

/*
 * The connection ends: a last look at the key log while its records are
 * held (again if it was asked at the flight: a client's key log gets the
 * server's secret only once the client has read that flight, which is
 * before it sends anything that ends the connection, but often after we
 * saw the flight); then a served chain may still come until the deadline
 * (the uprobe source is read apart from the packets), else the handshake
 * is unverified.
 */
void hidden_conn_end(struct flow_table *t, struct conn *c)
{
	struct hidden *h = conn_hid(c);

	if (h && !h->fl && t->o.need_keys && t->o.keylog && c->have_random) {
		h->asked = true;
		t->o.need_keys(t->o.ctx);
	}
	if (h)
		hidden_records(t, h);
	if ((h = conn_hid(c))) {
		c->rare->hid = NULL;
		h->c = NULL;
		if (!t->o.wait_served || t->now_ns >= h->deadline_ns)
			hidden_give_up(t, h);
	}
	/* Secrets are held only until the connection is decrypted or gone. */
	if (c->hidden && c->have_random && t->o.keylog)
		keylog_forget(t->o.keylog, c->random);
}

/* Handshakes whose deadline passed are written as they are. */
void hidden_expire(struct flow_table *t, uint64_t now_ns)
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
		struct conn *c = h->c;

		next = h->next;
		if (c && !h->fl) {
			hidden_records(t, h); /* may free h, never c */
			mem_update(t, c);
		}
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
	if (c && conn_hid(c)) {
		h = conn_hid(c);
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
	if (c)
		mem_update(t, c);
}
