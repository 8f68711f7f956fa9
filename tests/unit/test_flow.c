/* test_flow.c - the userspace pipeline (flow -> reasm -> tls -> cert) on real OpenSSL handshakes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include "x509_helpers.h"
#include "flow.h"
#include "keylog.h"
#include "tls13.h"
#include "recwalk.h"
#include "select.h"
#include "served.h"

/* ---- a test PKI and an in-memory handshake ---- */

static EVP_PKEY *root_key, *leaf_key;
static X509 *root_crt, *leaf_crt;

/* Made now, valid for a year, as a live server's would be. */
static X509 *make_cert(const char *cn, EVP_PKEY *key, EVP_PKEY *signer, X509 *issuer, long serial)
{
	const struct x509_spec s = {
		.key = key,
		.signer = signer,
		.issuer = issuer,
		.cn = cn,
		.o = "",
		.serial = serial,
		.from_now = true,
		.nb_s = -3600,
		.na_s = 86400L * 365,
		.bare = true,
	};

	return x509_mint(&s);
}

static int pki_setup(void **state)
{
	(void)state;
	root_key = EVP_EC_gen("P-256");
	leaf_key = EVP_EC_gen("P-256");
	root_crt = make_cert("flow test root", root_key, root_key, NULL, 1);
	leaf_crt = make_cert("www.flow.test", leaf_key, root_key, root_crt, 2);
	return root_key && leaf_key && root_crt && leaf_crt ? 0 : -1;
}

static int pki_teardown(void **state)
{
	(void)state;
	X509_free(root_crt);
	X509_free(leaf_crt);
	EVP_PKEY_free(root_key);
	EVP_PKEY_free(leaf_key);
	return 0;
}

struct stream {
	uint8_t *b;
	size_t len;
};

/* A handshake's flights in the order they were written: which direction,
 * where in its stream. */
#define FLIGHTS_MAX 32

struct convo {
	struct stream c2s, s2c;
	int n;
	struct {
		bool to_server;
		size_t off, len;
	} fl[FLIGHTS_MAX];
};

static void drain_log(BIO *from, BIO *to, struct stream *rec, struct convo *cv, bool to_server)
{
	char buf[16384];
	size_t start = rec->len;
	int n;

	while ((n = BIO_read(from, buf, sizeof(buf))) > 0) {
		rec->b = realloc(rec->b, rec->len + n);
		memcpy(rec->b + rec->len, buf, n);
		rec->len += n;
		BIO_write(to, buf, n);
	}
	if (cv && rec->len > start) {
		assert_true(cv->n < FLIGHTS_MAX);
		cv->fl[cv->n].to_server = to_server;
		cv->fl[cv->n].off = start;
		cv->fl[cv->n].len = rec->len - start;
		cv->n++;
	}
}

static void drain(BIO *from, BIO *to, struct stream *rec)
{
	drain_log(from, to, rec, NULL, false);
}

/* A TLS 1.3 (or 1.2) handshake in memory with its flights in order: groups
 * the server accepts and the client offers (a key share for its first only:
 * a mismatch makes a HelloRetryRequest), then one application data record
 * each way, as real clients and servers send. */
/* When set, conversation() puts the server's key-log lines in it. */
static struct keylog *conv_keylog;

static void conv_keylog_line(const SSL *ssl, const char *line)
{
	(void)ssl;
	keylog_add_line(conv_keylog, line, strlen(line), 1);
}

static void conversation(int max_version, const char *sni, const char *sgroups, const char *cgroups,
			 struct convo *cv)
{
	SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	BIO *c_in = BIO_new(BIO_s_mem()), *c_out = BIO_new(BIO_s_mem());
	BIO *s_in = BIO_new(BIO_s_mem()), *s_out = BIO_new(BIO_s_mem());
	char buf[16];
	SSL *s, *c;

	assert_int_equal(SSL_CTX_use_certificate(sctx, leaf_crt), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(sctx, leaf_key), 1);
	X509_up_ref(root_crt);
	SSL_CTX_add_extra_chain_cert(sctx, root_crt);
	SSL_CTX_set_max_proto_version(sctx, max_version);
	SSL_CTX_set_max_proto_version(cctx, max_version);
	if (sgroups)
		assert_int_equal(SSL_CTX_set1_groups_list(sctx, sgroups), 1);
	if (cgroups)
		assert_int_equal(SSL_CTX_set1_groups_list(cctx, cgroups), 1);
	if (conv_keylog)
		SSL_CTX_set_keylog_callback(sctx, conv_keylog_line);
	s = SSL_new(sctx);
	c = SSL_new(cctx);
	SSL_set_bio(c, c_in, c_out);
	SSL_set_bio(s, s_in, s_out);
	SSL_set_accept_state(s);
	SSL_set_connect_state(c);
	SSL_set_tlsext_host_name(c, sni);
	memset(cv, 0, sizeof(*cv));
	for (int i = 0; i < 20 && !(SSL_is_init_finished(c) && SSL_is_init_finished(s)); i++) {
		SSL_do_handshake(c);
		drain_log(c_out, s_in, &cv->c2s, cv, true);
		SSL_do_handshake(s);
		drain_log(s_out, c_in, &cv->s2c, cv, false);
	}
	assert_true(SSL_is_init_finished(c) && SSL_is_init_finished(s));
	assert_int_equal(SSL_write(c, "ping", 4), 4);
	drain_log(c_out, s_in, &cv->c2s, cv, true);
	assert_int_equal(SSL_read(s, buf, sizeof(buf)), 4);
	assert_int_equal(SSL_write(s, "pong", 4), 4);
	drain_log(s_out, c_in, &cv->s2c, cv, false);
	SSL_free(c);
	SSL_free(s);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

static void convo_free(struct convo *cv)
{
	free(cv->c2s.b);
	free(cv->s2c.b);
}

/* Runs a full handshake in memory; c2s/s2c receive the bytes each side wrote. */
/* The server's key-log lines of the last handshake() ('\n' after each). */
static char klog[4096];
static size_t klog_len;

static void klog_line(const SSL *ssl, const char *line)
{
	size_t n = strlen(line);

	(void)ssl;
	if (klog_len + n + 1 < sizeof(klog)) {
		memcpy(klog + klog_len, line, n);
		klog[klog_len + n] = '\n';
		klog_len += n + 1;
	}
}

static void handshake(int max_version, const char *sni, struct stream *c2s, struct stream *s2c)
{
	SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	SSL *s, *c;
	BIO *c_in = BIO_new(BIO_s_mem()), *c_out = BIO_new(BIO_s_mem());
	BIO *s_in = BIO_new(BIO_s_mem()), *s_out = BIO_new(BIO_s_mem());

	assert_int_equal(SSL_CTX_use_certificate(sctx, leaf_crt), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(sctx, leaf_key), 1);
	X509_up_ref(root_crt);
	SSL_CTX_add_extra_chain_cert(sctx, root_crt);
	SSL_CTX_set_max_proto_version(sctx, max_version);
	SSL_CTX_set_max_proto_version(cctx, max_version);
	SSL_CTX_set_keylog_callback(sctx, klog_line);
	klog_len = 0;
	s = SSL_new(sctx);
	c = SSL_new(cctx);
	SSL_set_bio(c, c_in, c_out);
	SSL_set_bio(s, s_in, s_out);
	SSL_set_accept_state(s);
	SSL_set_connect_state(c);
	if (sni)
		SSL_set_tlsext_host_name(c, sni);
	memset(c2s, 0, sizeof(*c2s));
	memset(s2c, 0, sizeof(*s2c));
	for (int i = 0; i < 20 && !(SSL_is_init_finished(c) && SSL_is_init_finished(s)); i++) {
		SSL_do_handshake(c);
		drain(c_out, s_in, c2s);
		SSL_do_handshake(s);
		drain(s_out, c_in, s2c);
	}
	assert_true(SSL_is_init_finished(c) && SSL_is_init_finished(s));
	SSL_free(c);
	SSL_free(s);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

/* ---- the pipeline under test ---- */

#define MAX_REPORTS 64

#define MAX_RECORDS 32

struct sink {
	int n;
	bool no_outcomes; /* tests of the server side: the client's outcome aside */
	struct {
		enum report_action action;
		uint16_t version, client_port, server_port;
		char sni[TLS_SNI_MAX + 1];
		uint32_t chain_len;
		char leaf_sha[65];
		bool hello_retry;
		uint8_t outcome;
		uint16_t outcome_rec_len;
		bool outcome_alert;
		uint8_t alert_desc;
		char ja4[JA4_LEN + 1];
		const char *reason;
		bool decrypted;
		enum report_source source;
	} r[MAX_REPORTS];
	int done;
	struct sel *sel; /* the source in the loop: told what is done */
	int n_enc;	 /* encrypted records handed out */
	struct {
		bool from_server;
		uint32_t idx, len;
		uint8_t hdr[TLS_HDR_LEN];
	} enc[MAX_RECORDS];
};

static void on_report(void *ctx, const struct cs_report *r)
{
	struct sink *s = ctx;

	if (s->n >= MAX_REPORTS || (s->no_outcomes && r->action == REPORT_CLIENT_OUTCOME))
		return;
	s->r[s->n].action = r->action;
	s->r[s->n].version = r->version;
	s->r[s->n].client_port = r->client.port;
	s->r[s->n].server_port = r->server.port;
	strcpy(s->r[s->n].sni, r->sni);
	s->r[s->n].chain_len = r->chain_len;
	s->r[s->n].hello_retry = r->hello_retry;
	s->r[s->n].outcome = r->outcome;
	s->r[s->n].outcome_rec_len = r->outcome_rec_len;
	s->r[s->n].outcome_alert = r->outcome_alert;
	s->r[s->n].alert_desc = r->alert_desc;
	s->r[s->n].reason = r->outcome_reason;
	s->r[s->n].decrypted = r->outcome_decrypted;
	strcpy(s->r[s->n].ja4, r->have_hello ? r->hello.fp.ja4 : "");
	s->r[s->n].source = r->source;
	if (r->chain_len)
		strcpy(s->r[s->n].leaf_sha, r->chain[0]->sha256_hex);
	s->n++;
}

static void on_done(void *ctx, const struct cs_flow_key *k)
{
	struct sink *s = ctx;

	s->done++;
	if (s->sel)
		sel_done(s->sel, k);
}

static void on_encrypted(void *ctx, const struct cs_flow_key *k, bool from_server, uint32_t idx,
			 const uint8_t *hdr, const uint8_t *body, size_t len)
{
	struct sink *s = ctx;

	(void)k;
	assert_non_null(body);
	assert_true(s->n_enc < MAX_RECORDS);
	s->enc[s->n_enc].from_server = from_server;
	s->enc[s->n_enc].idx = idx;
	s->enc[s->n_enc].len = (uint32_t)len;
	memcpy(s->enc[s->n_enc].hdr, hdr, TLS_HDR_LEN);
	s->n_enc++;
}

struct rig {
	struct cert_cache *certs;
	struct flow_table *ft;
	struct sink sink;
};

static void rig_init_opts(struct rig *g, uint32_t max_conns, uint64_t max_mem, bool copy)
{
	struct flow_opts o = { .max_conns = max_conns,
			       .max_mem = max_mem,
			       .report = on_report,
			       .done = on_done,
			       .copy_encrypted = copy,
			       .encrypted = on_encrypted,
			       .keylog = conv_keylog };

	memset(g, 0, sizeof(*g));
	g->certs = cert_cache_new(64);
	o.certs = g->certs;
	o.ctx = &g->sink;
	g->ft = flow_new(&o);
	assert_non_null(g->ft);
}

static void rig_init_mem(struct rig *g, uint32_t max_conns, uint64_t max_mem)
{
	rig_init_opts(g, max_conns, max_mem, false);
}

static void rig_init(struct rig *g, uint32_t max_conns)
{
	rig_init_mem(g, max_conns, 0);
}

static void rig_free(struct rig *g)
{
	flow_free(g->ft);
	cert_cache_free(g->certs);
	sel_free(g->sink.sel);
}

static void seg_key(struct cs_flow_key *k, uint16_t cport, bool to_server)
{
	uint32_t cli = htonl(0x0a000001), srv = htonl(0x0a000002);

	memset(k, 0, sizeof(*k));
	k->family = CS_AF_INET;
	k->proto = 6;
	memcpy(k->saddr, to_server ? &cli : &srv, 4);
	memcpy(k->daddr, to_server ? &srv : &cli, 4);
	k->sport = to_server ? cport : 443;
	k->dport = to_server ? 443 : cport;
}

static void push(struct rig *g, uint16_t cport, bool to_server, uint32_t seq, const uint8_t *data,
		 uint32_t len, uint8_t flags, uint64_t ts)
{
	struct cs_segment s = {
		.seq = seq, .len = len, .data = data, .tcp_flags = flags, .ts_ns = ts
	};

	seg_key(&s.key, cport, to_server);
	flow_segment(g->ft, &s);
}

/* Feeds a stream in segments of mss bytes starting at isn. */
static void push_stream(struct rig *g, uint16_t cport, bool to_server, uint32_t isn,
			const struct stream *st, uint32_t mss)
{
	for (size_t off = 0; off < st->len; off += mss) {
		uint32_t n = st->len - off < mss ? st->len - off : mss;
		push(g, cport, to_server, isn + off, st->b + off, n, CS_TCP_ACK, 1000);
	}
}

/* ---- the source in the loop ---- */

#define CISN 1000u
#define SISN 0xfffffe00u /* wraps */
#define PA   (CS_TCP_ACK | CS_TCP_PSH)

/* One packet through select.c; what it selects goes to the flow table. */
static void push_selected(struct rig *g, uint16_t cport, bool to_server, uint32_t seq,
			  const uint8_t *b, uint32_t n)
{
	struct sel_pkt p = { .seq = seq, .len = n, .caplen = n, .payload = b, .flags = PA };
	struct sel_verdict v;

	seg_key(&p.key, cport, to_server);
	sel_packet(g->sink.sel, &p, &v);
	if (v.data_len)
		push(g, cport, to_server, v.data_seq, b, v.data_len, v.data_flags, 1000);
}

/* A conversation's flights in order, each in mss-byte packets; with the
 * source in the loop (g->sink.sel) only what select.c selects arrives. */
static void push_convo(struct rig *g, uint16_t cport, const struct convo *cv, uint32_t mss)
{
	for (int i = 0; i < cv->n; i++) {
		bool up = cv->fl[i].to_server;
		const struct stream *st = up ? &cv->c2s : &cv->s2c;
		size_t end = cv->fl[i].off + cv->fl[i].len;

		for (size_t off = cv->fl[i].off; off < end; off += mss) {
			uint32_t n = end - off < mss ? (uint32_t)(end - off) : mss;
			uint32_t seq = (up ? CISN : SISN) + (uint32_t)off;

			if (g->sink.sel)
				push_selected(g, cport, up, seq, st->b + off, n);
			else
				push(g, cport, up, seq, st->b + off, n, PA, 1000);
		}
	}
}

/* The bytes select.c copies of one direction, sent in mss-byte packets. */
static uint32_t selected_len(const struct convo *cv, bool to_server, bool copy, uint32_t mss)
{
	const struct stream *st = to_server ? &cv->c2s : &cv->s2c;
	struct sel *t = sel_new(16, 0);
	struct sel_verdict v;
	uint32_t sum = 0;

	assert_non_null(t);
	sel_copy_encrypted(t, copy);
	for (size_t off = 0; off < st->len; off += mss) {
		uint32_t n = st->len - off < mss ? (uint32_t)(st->len - off) : mss;
		struct sel_pkt p = { .seq = 77 + (uint32_t)off,
				     .len = n,
				     .caplen = n,
				     .payload = st->b + off,
				     .flags = PA };

		seg_key(&p.key, 40000, to_server);
		sel_packet(t, &p, &v);
		sum += v.data_len;
	}
	sel_free(t);
	return sum;
}

/* Where the stream walk is over (the offset just past what it needs),
 * fed a byte at a time, or -1; *held: the encrypted records it held. */
static int64_t walk_end(const struct stream *st, bool client, bool copy, uint32_t *held)
{
	enum recwalk_event ev;
	struct recwalk w;
	int64_t end = -1;

	recwalk_init(&w, true, 0, cs_enc_max(copy, client));
	for (size_t i = 0; i < st->len && end < 0; i++) {
		assert_int_equal(recwalk_feed(&w, st->b + i, 1, &ev), 1);
		if (ev == RECWALK_END)
			end = (int64_t)i + 1;
	}
	*held = 0;
	for (uint32_t i = 0; i < CS_ENC_SERVER_RECS; i++)
		*held += recwalk_record(&w, i) != NULL;
	recwalk_free(&w);
	return end;
}

/* The record headers in bytes [from, to) of a stream: types and body lengths. */
static int records_of(const struct stream *st, size_t from, size_t to, uint8_t *type, uint32_t *len,
		      int max)
{
	int n = 0;

	for (size_t o = from; o + TLS_HDR_LEN <= to && n < max; n++) {
		type[n] = st->b[o];
		len[n] = (uint32_t)st->b[o + 3] << 8 | st->b[o + 4];
		o += TLS_HDR_LEN + len[n];
	}
	return n;
}

static void leaf_hex(char out[65])
{
	unsigned char md[32];
	unsigned int n;

	X509_digest(leaf_crt, EVP_sha256(), md, &n);
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02X", md[i]);
}

static void test_tls12_chain(void **state)
{
	struct stream c2s, s2c;
	struct rig g;
	char want[65];

	(void)state;
	handshake(TLS1_2_VERSION, "www.flow.test", &c2s, &s2c);
	rig_init(&g, 0);
	push_stream(&g, 40000, true, 1000, &c2s, 1448);
	push_stream(&g, 40000, false, 0xfffff000u, &s2c, 1448); /* wraps */
	assert_int_equal(g.sink.n, 1);
	assert_int_equal(g.sink.r[0].action, REPORT_CERTIFICATE);
	assert_int_equal(g.sink.r[0].version, 0x0303);
	assert_string_equal(g.sink.r[0].sni, "www.flow.test");
	assert_int_equal(g.sink.r[0].chain_len, 2);
	assert_int_equal(g.sink.r[0].client_port, 40000);
	assert_int_equal(g.sink.r[0].server_port, 443);
	leaf_hex(want);
	assert_string_equal(g.sink.r[0].leaf_sha, want);
	/* Both directions ended at the encrypted Finished after their CCS,
	 * where the source's own record walk stops too: no need to tell it. */
	assert_int_equal(g.sink.done, 0);
	rig_free(&g);
	free(c2s.b);
	free(s2c.b);
}

static void test_tls13_hidden(void **state)
{
	struct stream c2s, s2c;
	struct rig g;

	(void)state;
	handshake(TLS1_3_VERSION, "hidden.flow.test", &c2s, &s2c);
	rig_init(&g, 0);
	push_stream(&g, 40001, true, 1, &c2s, 1448);
	push_stream(&g, 40001, false, 1, &s2c, 1448);
	assert_int_equal(g.sink.n, 1);
	assert_int_equal(g.sink.r[0].action, REPORT_CERTIFICATE_HIDDEN);
	assert_int_equal(g.sink.r[0].version, 0x0304);
	assert_string_equal(g.sink.r[0].sni, "hidden.flow.test");
	assert_int_equal(g.sink.r[0].chain_len, 0);
	assert_false(g.sink.r[0].hello_retry);
	rig_free(&g);
	free(c2s.b);
	free(s2c.b);
}

/* ---- TLS 1.3 sources ---- */

static struct keylog *klog_store(bool corrupt)
{
	struct keylog *k = keylog_new(NULL);
	char *line = klog, *nl;

	assert_non_null(k);
	if (corrupt) { /* the server secret's last hex digit changed: a foreign secret */
		char *p = strstr(klog, "SERVER_HANDSHAKE_TRAFFIC_SECRET");

		assert_non_null(p);
		p = strchr(p, '\n') - 1;
		*p = *p == '0' ? '1' : '0';
	}
	while ((nl = memchr(line, '\n', klog_len - (size_t)(line - klog)))) {
		keylog_add_line(k, line, (size_t)(nl - line), 0);
		line = nl + 1;
	}
	return k;
}

static void rig_init_sources(struct rig *g, struct keylog *k, bool served,
			     void (*need_keys)(void *ctx))
{
	struct flow_opts o = { .report = on_report,
			       .done = on_done,
			       .copy_encrypted = true,
			       .keylog = k,
			       .wait_served = served,
			       .need_keys = need_keys };

	memset(g, 0, sizeof(*g));
	g->sink.no_outcomes = true;
	g->certs = cert_cache_new(64);
	o.certs = g->certs;
	o.ctx = &g->sink;
	g->ft = flow_new(&o);
	assert_non_null(g->ft);
}

/* The server's secret opens its flight: the chain, source keylog; a foreign
 * secret is refused by the record's tag: no chain, counted, unverified. */
static void test_tls13_keylog(void **state)
{
	struct stream c2s, s2c;
	struct flow_stats st;
	struct keylog *k;
	struct rig g;
	char want[65];

	(void)state;
	leaf_hex(want);
	for (int corrupt = 0; corrupt < 2; corrupt++) {
		handshake(TLS1_3_VERSION, "keys.flow.test", &c2s, &s2c);
		k = klog_store(corrupt);
		rig_init_sources(&g, k, false, NULL);
		push_stream(&g, 40011, true, 1, &c2s, 1448);
		push_stream(&g, 40011, false, 1, &s2c, 1448);
		flow_drain(g.ft);
		flow_stats(g.ft, &st);
		assert_int_equal(g.sink.n, 1);
		if (!corrupt) {
			assert_int_equal(g.sink.r[0].action, REPORT_CERTIFICATE);
			assert_int_equal(g.sink.r[0].source, SOURCE_KEYLOG);
			assert_int_equal(g.sink.r[0].chain_len, 2);
			assert_string_equal(g.sink.r[0].leaf_sha, want);
			assert_string_equal(g.sink.r[0].sni, "keys.flow.test");
			assert_int_equal(st.keylog_chains, 1);
		} else {
			assert_int_equal(g.sink.r[0].action, REPORT_CERTIFICATE_HIDDEN);
			assert_int_equal(g.sink.r[0].chain_len, 0);
			assert_int_equal(st.keylog_auth_failed, 1);
			assert_int_equal(st.keylog_chains, 0);
		}
		assert_int_equal(st.hidden_waiting, 0);
		rig_free(&g);
		keylog_free(k);
		free(c2s.b);
		free(s2c.b);
	}
}

/* A client's key log (tlsload -k, SSLKEYLOGFILE): the server's secret is
 * written once the client has read the server's flight, often after we saw
 * that flight, always before the client ends the connection. */
static struct keylog *late_store;
static bool late_written;
static int late_asked;

static void late_need_keys(void *ctx)
{
	char *line = klog, *nl;

	(void)ctx;
	late_asked++;
	while (late_written && (nl = memchr(line, '\n', klog_len - (size_t)(line - klog)))) {
		keylog_add_line(late_store, line, (size_t)(nl - line), 0);
		line = nl + 1;
	}
}

/* The secret comes after the flight was seen and asked for, before the FINs:
 * the connection's end looks again, while its records are held. */
static void test_tls13_keylog_late(void **state)
{
	struct stream c2s, s2c;
	struct flow_stats st;
	struct rig g;

	(void)state;
	handshake(TLS1_3_VERSION, "late.flow.test", &c2s, &s2c);
	late_store = keylog_new(NULL);
	late_written = false;
	late_asked = 0;
	rig_init_sources(&g, late_store, false, late_need_keys);
	push_stream(&g, 40012, true, 1, &c2s, 1448);
	push_stream(&g, 40012, false, 1, &s2c, 1448);
	assert_int_equal(g.sink.n, 0); /* waits for its secret */
	assert_int_equal(late_asked, 1);
	late_written = true;
	push(&g, 40012, true, 1 + (uint32_t)c2s.len, NULL, 0, CS_TCP_FIN | CS_TCP_ACK, 2000);
	push(&g, 40012, false, 1 + (uint32_t)s2c.len, NULL, 0, CS_TCP_FIN | CS_TCP_ACK, 2000);
	flow_stats(g.ft, &st);
	assert_int_equal(late_asked, 2);
	assert_int_equal(g.sink.n, 1);
	assert_int_equal(g.sink.r[0].action, REPORT_CERTIFICATE);
	assert_int_equal(g.sink.r[0].source, SOURCE_KEYLOG);
	assert_int_equal(st.keylog_chains, 1);
	assert_int_equal(st.hidden_waiting, 0);
	assert_int_equal(st.active, 0); /* ended by the FINs, not by a drain */
	rig_free(&g);
	keylog_free(late_store);
	late_store = NULL;
	free(c2s.b);
	free(s2c.b);
}

static void served_of(struct served_chain *sc, uint16_t cport, const uint8_t *der, int n)
{
	assert_true(n > 0);
	memset(sc, 0, sizeof(*sc));
	seg_key(&sc->key, cport, false); /* the server's direction */
	sc->binding = UPROBE_BIND_EXACT;
	sc->n = sc->total = 1;
	sc->der[0] = der;
	sc->der_len[0] = (uint32_t)n;
	sc->ts_ns = 1;
}

/* A local server's chain, before or after the packets: reported once, source
 * uprobe; for TLS 1.2 the wire's chain stands alone (served_clear). */
static void test_served_chain(void **state)
{
	struct stream c2s, s2c, c12, s12;
	struct served_chain sc;
	struct flow_stats st;
	uint8_t *der = NULL;
	int der_len = i2d_X509(leaf_crt, &der);
	struct rig g;
	char want[65];

	(void)state;
	leaf_hex(want);
	handshake(TLS1_3_VERSION, "served.flow.test", &c2s, &s2c);
	handshake(TLS1_2_VERSION, "served.flow.test", &c12, &s12);
	rig_init_sources(&g, NULL, true, NULL);
	/* before the ServerHello */
	served_of(&sc, 40021, der, der_len);
	push_stream(&g, 40021, true, 1, &c2s, 1448);
	flow_served_chain(g.ft, &sc);
	push_stream(&g, 40021, false, 1, &s2c, 1448);
	/* after it, while the hidden report waits */
	served_of(&sc, 40022, der, der_len);
	push_stream(&g, 40022, true, 1, &c2s, 1448);
	push_stream(&g, 40022, false, 1, &s2c, 1448);
	flow_served_chain(g.ft, &sc);
	/* TLS 1.2: the wire's */
	served_of(&sc, 40023, der, der_len);
	push_stream(&g, 40023, true, 1, &c12, 1448);
	flow_served_chain(g.ft, &sc);
	push_stream(&g, 40023, false, 1, &s12, 1448);
	/* no source in time: unverified */
	push_stream(&g, 40024, true, 1, &c2s, 1448);
	push_stream(&g, 40024, false, 1, &s2c, 1448);
	flow_drain(g.ft);
	flow_stats(g.ft, &st);
	assert_int_equal(g.sink.n, 4);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(g.sink.r[i].action, REPORT_CERTIFICATE);
		assert_int_equal(g.sink.r[i].source, SOURCE_UPROBE);
		assert_int_equal(g.sink.r[i].client_port, 40021 + i);
		assert_string_equal(g.sink.r[i].leaf_sha, want);
		assert_string_equal(g.sink.r[i].sni, "served.flow.test");
	}
	assert_int_equal(g.sink.r[2].source, SOURCE_WIRE);
	assert_int_equal(g.sink.r[2].client_port, 40023);
	assert_int_equal(g.sink.r[3].action, REPORT_CERTIFICATE_HIDDEN);
	assert_int_equal(g.sink.r[3].client_port, 40024);
	assert_int_equal(st.served_chains, 2);
	assert_int_equal(st.served_clear, 1);
	assert_int_equal(st.hidden_waiting, 0);
	OPENSSL_free(der);
	rig_free(&g);
	free(c2s.b);
	free(s2c.b);
	free(c12.b);
	free(s12.b);
}

/* Server flight in 100-byte segments, delivered backwards and twice. */
static void test_reordered_and_duplicated(void **state)
{
	struct stream c2s, s2c;
	struct rig g;
	size_t nseg;

	(void)state;
	handshake(TLS1_2_VERSION, "www.flow.test", &c2s, &s2c);
	rig_init(&g, 0);
	push_stream(&g, 40002, true, 7, &c2s, 1448);
	nseg = (s2c.len + 99) / 100;
	/* The first segment must come first: it is what starts the direction. */
	push(&g, 40002, false, 500, s2c.b, 100, CS_TCP_ACK, 1000);
	for (size_t i = nseg; i-- > 1;) {
		size_t off = i * 100, n = s2c.len - off < 100 ? s2c.len - off : 100;
		push(&g, 40002, false, 500 + off, s2c.b + off, n, CS_TCP_ACK, 1000);
		push(&g, 40002, false, 500 + off, s2c.b + off, n, CS_TCP_ACK, 1000);
	}
	assert_int_equal(g.sink.n, 1);
	assert_int_equal(g.sink.r[0].chain_len, 2);
	rig_free(&g);
	free(c2s.b);
	free(s2c.b);
}

/* Each hello's first bytes sent alone (5, the whole record header, or 1),
 * then the rest: the directions start all the same and the chain is reported. */
static void test_short_first_segment(void **state)
{
	static const uint32_t first[] = { 5, 1 };
	static const uint8_t get[] = "GET";
	struct stream c2s, s2c;
	struct flow_stats st;
	struct rig g;
	char want[65];

	(void)state;
	handshake(TLS1_2_VERSION, "short.flow.test", &c2s, &s2c);
	leaf_hex(want);
	rig_init(&g, 0);
	for (int i = 0; i < 2; i++) {
		uint16_t port = (uint16_t)(40020 + i);
		uint32_t k = first[i];
		struct stream rc = { .b = c2s.b + k, .len = c2s.len - k };
		struct stream rs = { .b = s2c.b + k, .len = s2c.len - k };

		push(&g, port, true, 1000, c2s.b, k, CS_TCP_ACK, 1000);
		push_stream(&g, port, true, 1000 + k, &rc, 1448);
		push(&g, port, false, 9000, s2c.b, k, CS_TCP_ACK, 1000);
		push_stream(&g, port, false, 9000 + k, &rs, 1448);
		assert_int_equal(g.sink.n, i + 1);
		assert_int_equal(g.sink.r[i].action, REPORT_CERTIFICATE);
		assert_string_equal(g.sink.r[i].sni, "short.flow.test");
		assert_int_equal(g.sink.r[i].chain_len, 2);
		assert_int_equal(g.sink.r[i].client_port, port);
		assert_string_equal(g.sink.r[i].leaf_sha, want);
	}
	/* A short payload that is no prefix of a hello's header starts nothing. */
	push(&g, 40029, true, 1, get, 3, CS_TCP_ACK, 1000);
	flow_stats(g.ft, &st);
	assert_int_equal(st.ignored_segments, 1);
	assert_int_equal(g.sink.n, 2);
	rig_free(&g);
	free(c2s.b);
	free(s2c.b);
}

/* A direction that stops parsing for a reason the source cannot see (here a
 * handshake message claiming 16 MB) is marked done at the source. */
static void test_parse_error_tells_source(void **state)
{
	static const uint8_t bad[] = "\x16\x03\x01\x00\x05\x01\xff\xff\xff\xff";
	struct flow_stats st;
	struct rig g;

	(void)state;
	rig_init(&g, 0);
	push(&g, 40010, true, 1, bad, sizeof(bad) - 1, CS_TCP_ACK, 1000);
	flow_stats(g.ft, &st);
	assert_int_equal(st.parse_errors, 1);
	assert_int_equal(g.sink.done, 1);
	rig_free(&g);
}

static void test_non_tls_ignored(void **state)
{
	static const uint8_t http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	struct flow_stats st;
	struct rig g;

	(void)state;
	rig_init(&g, 0);
	push(&g, 40003, true, 1, http, sizeof(http) - 1, CS_TCP_ACK, 1000);
	flow_stats(g.ft, &st);
	assert_int_equal(st.conns, 0);
	assert_int_equal(st.ignored_segments, 1);
	assert_int_equal(g.sink.n, 0);
	rig_free(&g);
}

/* What starts a connection is the kernel's rule (cs_wire.h), not a looser
 * one: each of these starts nothing, the SSLv2 and DTLS hellos do. */
static void test_start_rule_is_the_kernels(void **state)
{
	static const uint8_t ssl2_3[] = { 0x80, 0x2e, 0x01 };
	static const uint8_t alert3[] = { 0x15, 0x03, 0x03, 0x00, 0x03, 0x01, 0x70, 0x00 };
	uint8_t ssl2[48] = { 0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10 };
	uint8_t dtls[40] = { 0x16, 0xfe, 0xfd, 0x00, 0x00, [11] = 0x00, [12] = 27, [13] = 1 };
	uint8_t hello[64] = { 0x16, 0x03, 0x01, 0x00, 59, 0x01 };
	struct cs_segment s = { .ts_ns = 1000 };
	struct flow_stats st;
	struct rig g;

	(void)state;
	rig_init(&g, 0);
	push(&g, 40010, true, 1, ssl2_3, sizeof(ssl2_3), CS_TCP_ACK, 1000);
	ssl2[6] = 20; /* not whole 3-byte cipher specs */
	push(&g, 40011, true, 1, ssl2, sizeof(ssl2), CS_TCP_ACK, 1000);
	s.data = dtls;
	s.len = sizeof(dtls);
	seg_key(&s.key, 40012, true);
	s.key.proto = IPPROTO_UDP;
	dtls[2] = 0xfe; /* no such DTLS version */
	flow_segment(g.ft, &s);
	dtls[2] = 0xfd;
	dtls[4] = 1; /* epoch 1: not a hello in the clear */
	flow_segment(g.ft, &s);
	/* The server's first record after a tracked ClientHello: an alert of
	 * 3 bytes is no alert record the kernel would start on. */
	push(&g, 40013, true, 1, hello, sizeof(hello), CS_TCP_ACK, 1000);
	push(&g, 40013, false, 1, alert3, sizeof(alert3), CS_TCP_ACK, 1000);
	flow_stats(g.ft, &st);
	assert_int_equal(st.conns, 1);
	assert_int_equal(st.ignored_segments, 5);
	/* and the real ones do */
	ssl2[6] = 21;
	push(&g, 40014, true, 1, ssl2, sizeof(ssl2), CS_TCP_ACK, 1000);
	dtls[4] = 0;
	flow_segment(g.ft, &s);
	flow_stats(g.ft, &st);
	assert_int_equal(st.conns, 3);
	assert_int_equal(st.ignored_segments, 5);
	rig_free(&g);
}

static void test_bounds_evict_expire_close(void **state)
{
	struct stream c2s, s2c;
	struct flow_stats st;
	struct rig g;

	(void)state;
	handshake(TLS1_2_VERSION, NULL, &c2s, &s2c);
	rig_init(&g, 4);
	for (uint16_t p = 1; p <= 10; p++)
		push(&g, p, true, 1, c2s.b, 200, CS_TCP_ACK, 1000);
	flow_stats(g.ft, &st);
	assert_int_equal(st.conns, 10);
	assert_int_equal(st.active, 4);
	assert_int_equal(st.evicted, 6);
	/* A reset ends a connection at once. */
	push(&g, 10, false, 1, NULL, 0, CS_TCP_RST, 2000);
	flow_stats(g.ft, &st);
	assert_int_equal(st.active, 3);
	/* The rest go idle. */
	flow_expire(g.ft, 1000 + (uint64_t)(FLOW_IDLE_DEFAULT_S + 1) * 1000000000ULL);
	flow_stats(g.ft, &st);
	assert_int_equal(st.active, 0);
	assert_int_equal(st.expired, 3);
	rig_free(&g);
	free(c2s.b);
	free(s2c.b);
}

/* Same 5-tuple, a new handshake after the first closed: a new connection. */
static void test_port_reuse(void **state)
{
	struct stream c2s, s2c;
	struct rig g;

	(void)state;
	handshake(TLS1_2_VERSION, "www.flow.test", &c2s, &s2c);
	rig_init(&g, 0);
	for (int round = 0; round < 2; round++) {
		uint32_t isn = round * 100000;
		push_stream(&g, 40005, true, isn, &c2s, 1448);
		push_stream(&g, 40005, false, isn, &s2c, 1448);
		push(&g, 40005, true, isn + c2s.len, NULL, 0, CS_TCP_FIN | CS_TCP_ACK, 1000);
		push(&g, 40005, false, isn + s2c.len, NULL, 0, CS_TCP_FIN | CS_TCP_ACK, 1000);
	}
	assert_int_equal(g.sink.n, 2);
	rig_free(&g);
	free(c2s.b);
	free(s2c.b);
}

/* Where the Certificate message's leaf ends in a server flight: just past
 * its DER (the message is found by its two lengths agreeing). */
static size_t leaf_end(const struct stream *st, uint32_t *leaf_len)
{
	const uint8_t *b = st->b;

	for (size_t i = 0; i + 10 < st->len; i++) {
		uint32_t msg = (uint32_t)b[i + 1] << 16 | b[i + 2] << 8 | b[i + 3];
		uint32_t list = (uint32_t)b[i + 4] << 16 | b[i + 5] << 8 | b[i + 6];

		if (b[i] != TLS_HS_CERTIFICATE || msg != list + 3 || !list)
			continue;
		*leaf_len = (uint32_t)b[i + 7] << 16 | b[i + 8] << 8 | b[i + 9];
		return i + 10 + *leaf_len;
	}
	fail_msg("no Certificate message in the flight");
	return 0;
}

/*
 * Connections paused inside the Certificate message, past the leaf: each
 * holds a ref to the leaf, parsed once and shared, and the few bytes of the
 * next certificate, not the message. The leaf counts once, to the first
 * connection; the rest of a flight gives the same chain as a whole one.
 */
static void test_paused_mid_certificate(void **state)
{
	const uint32_t n = 50;
	struct stream c2s, s2c;
	struct flow_stats st;
	uint32_t leaf_len = 0;
	uint64_t m1 = 0;
	struct rig g;
	size_t cut;

	(void)state;
	handshake(TLS1_2_VERSION, "www.flow.test", &c2s, &s2c);
	cut = leaf_end(&s2c, &leaf_len) + 3 + 10; /* 10 bytes of the next one */
	assert_true(cut < s2c.len && cut <= 65535);
	rig_init(&g, 0);
	for (uint16_t p = 1; p <= n; p++) {
		push_stream(&g, p, true, 1000, &c2s, 1448);
		push(&g, p, false, 5000, s2c.b, (uint32_t)cut, CS_TCP_ACK, 1000);
		flow_stats(g.ft, &st);
		if (p == 1)
			m1 = st.mem;
	}
	assert_int_equal(g.sink.n, 0);
	assert_int_equal(st.active, n);
	assert_true(m1 > leaf_len);
	assert_int_equal(st.mem, n * (m1 - leaf_len) + leaf_len);
	push(&g, 7, false, 5000 + (uint32_t)cut, s2c.b + cut, (uint32_t)(s2c.len - cut), CS_TCP_ACK,
	     1000);
	assert_int_equal(g.sink.n, 1);
	assert_int_equal(g.sink.r[0].action, REPORT_CERTIFICATE);
	assert_int_equal(g.sink.r[0].client_port, 7);
	assert_int_equal(g.sink.r[0].chain_len, 2);
	rig_free(&g);
	free(c2s.b);
	free(s2c.b);
}

/* Held out-of-order bytes count against the memory bound: the oldest
 * connections go first, counted, and the total never stays above it. */
static void test_memory_bound(void **state)
{
	static uint8_t junk[4096];
	struct stream c2s, s2c;
	struct flow_stats st;
	struct rig g;

	(void)state;
	handshake(TLS1_2_VERSION, NULL, &c2s, &s2c);
	rig_init_mem(&g, 0, 256 * 1024);
	for (uint16_t p = 1; p <= 100; p++) {
		push(&g, p, true, 1, c2s.b, 100, CS_TCP_ACK, 1000);
		/* 4 KB beyond a hole: held until the bound evicts the connection */
		push(&g, p, true, 1 + 200, junk, sizeof(junk), CS_TCP_ACK, 1000);
		flow_stats(g.ft, &st);
		assert_true(st.mem <= 256 * 1024);
	}
	flow_stats(g.ft, &st);
	assert_true(st.evicted_mem > 0);
	assert_true(st.active < 100);
	assert_true(st.mem_peak <= 256 * 1024);
	/* Each evicted connection with a hole said what it lost. */
	assert_true(g.sink.n > 0);
	assert_int_equal(g.sink.r[0].action, REPORT_INCOMPLETE);
	rig_free(&g);
	free(c2s.b);
	free(s2c.b);
}

/*
 * A HelloRetryRequest (the server takes only P-256, the client's key share
 * is X25519): HRR + CCS, the client's CCS + second ClientHello. The event
 * is reported, says so, and carries the second hello's SNI; both
 * directions end where the source stops without a word to it.
 */
static void test_tls13_hello_retry(void **state)
{
	uint8_t type[16];
	uint32_t len[16];
	struct flow_stats st;
	struct convo cv;
	struct rig g;

	(void)state;
	conversation(TLS1_3_VERSION, "retry.flow.test", "P-256", "X25519:P-256", &cv);
	/* the client wrote: hello, CCS, hello again, then encrypted */
	assert_int_equal(records_of(&cv.c2s, 0, cv.c2s.len, type, len, 4), 4);
	assert_true(type[0] == 22 && type[1] == 20 && type[2] == 22 && type[3] == 23);
	rig_init(&g, 0);
	push_convo(&g, 40030, &cv, 1448);
	/* the hidden chain, then what the client did: its Finished */
	assert_int_equal(g.sink.n, 2);
	assert_int_equal(g.sink.r[1].action, REPORT_CLIENT_OUTCOME);
	assert_int_equal(g.sink.r[1].outcome, OUTCOME_ACCEPTED);
	assert_int_equal(g.sink.r[0].action, REPORT_CERTIFICATE_HIDDEN);
	assert_int_equal(g.sink.r[0].version, 0x0304);
	assert_true(g.sink.r[0].hello_retry);
	assert_string_equal(g.sink.r[0].sni, "retry.flow.test");
	assert_int_equal(g.sink.done, 0);
	flow_stats(g.ft, &st);
	assert_int_equal(st.active, 0);
	assert_int_equal(st.parse_errors, 0);
	rig_free(&g);
	convo_free(&cv);
}

/*
 * The done rule: the flow stage's walk (recwalk) ends each direction where
 * select.c (the kernel's twin) stops copying it, for TLS 1.2 (CCS, then the
 * encrypted Finished), TLS 1.3 (CCS, then encrypted records) and a
 * HelloRetryRequest, with copy_encrypted off and on. Fed only what the
 * source selects, the connection ends with no word to the source, but for
 * the server's direction once the client's encrypted record is in (copy on).
 */
static void test_done_where_the_source_stops(void **state)
{
	static const struct {
		int ver;
		const char *sg, *cg;
		bool tls13, hrr;
	} hs[] = {
		{ TLS1_2_VERSION, NULL, NULL, false, false },
		{ TLS1_3_VERSION, NULL, NULL, true, false },
		{ TLS1_3_VERSION, "P-256", "X25519:P-256", true, true },
	};
	uint16_t port = 40040;

	(void)state;
	for (size_t h = 0; h < sizeof(hs) / sizeof(hs[0]); h++) {
		for (int copy = 0; copy < 2; copy++) {
			struct flow_stats st;
			struct convo cv;
			struct rig g;

			conversation(hs[h].ver, "done.flow.test", hs[h].sg, hs[h].cg, &cv);
			for (int up = 0; up < 2; up++) {
				const struct stream *str = up ? &cv.c2s : &cv.s2c;
				uint32_t sel = selected_len(&cv, up, copy, 100), held;
				int64_t end = walk_end(str, up, copy, &held);

				if (end < 0)
					assert_int_equal(sel, str->len);
				else
					assert_int_equal(end, sel);
				if (!copy || !hs[h].tls13)
					assert_int_equal(held, 0);
			}
			rig_init_opts(&g, 0, 0, copy);
			g.sink.sel = sel_new(64, 0);
			sel_copy_encrypted(g.sink.sel, copy);
			push_convo(&g, port++, &cv, 100);
			flow_stats(g.ft, &st);
			assert_int_equal(st.active, 0);
			assert_int_equal(st.parse_errors, 0);
			assert_int_equal(g.sink.done, copy && hs[h].tls13);
			/* TLS 1.3: then the client's outcome, from what the source copied */
			assert_int_equal(g.sink.n, hs[h].tls13 ? 2 : 1);
			if (hs[h].tls13) {
				assert_int_equal(g.sink.r[1].action, REPORT_CLIENT_OUTCOME);
				assert_int_equal(g.sink.r[1].outcome, OUTCOME_ACCEPTED);
			}
			assert_int_equal(g.sink.r[0].action, hs[h].tls13 ?
								     REPORT_CERTIFICATE_HIDDEN :
								     REPORT_CERTIFICATE);
			assert_int_equal(g.sink.r[0].hello_retry, hs[h].hrr);
			assert_int_equal(g.sink.n_enc > 0, copy && hs[h].tls13);
			rig_free(&g);
			convo_free(&cv);
		}
	}
}

/*
 * copy_encrypted: the server's flight after its ServerHello, each record
 * whole, through the hook and held in the connection (counted in its
 * memory), then the client's one record; at that the server's direction is
 * done and the source told.
 */
static void test_copy_encrypted_records(void **state)
{
	uint8_t type[16];
	uint32_t len[16], sum = 0, k = 0;
	struct flow_stats st, st0;
	struct cs_flow_key server;
	struct convo cv;
	struct rig g, g0;
	int n;

	(void)state;
	conversation(TLS1_3_VERSION, "enc.flow.test", NULL, NULL, &cv);
	/* client hello; the server's hello and flight in one write; the client's CCS + Finished */
	assert_true(cv.n >= 3 && cv.fl[0].to_server && !cv.fl[1].to_server && cv.fl[2].to_server);
	n = records_of(&cv.s2c, cv.fl[1].off, cv.fl[1].off + cv.fl[1].len, type, len, 16);
	rig_init_opts(&g, 0, 0, true);
	rig_init_opts(&g0, 0, 0, false);
	for (int i = 0; i < 2; i++) {
		struct convo part = cv;

		part.n = 2;
		push_convo(i ? &g0 : &g, 40050, &part, 1448);
	}
	seg_key(&server, 40050, false);
	for (int i = 0; i < n; i++) {
		const struct recwalk_record *r;

		if (type[i] != TLS_CT_APPDATA)
			continue;
		assert_true(g.sink.n_enc > (int)k);
		assert_true(g.sink.enc[k].from_server);
		assert_int_equal(g.sink.enc[k].idx, k);
		assert_int_equal(g.sink.enc[k].len, len[i]);
		assert_int_equal(g.sink.enc[k].hdr[0], TLS_CT_APPDATA);
		r = flow_encrypted(g.ft, &server, k);
		assert_non_null(r);
		assert_int_equal(r->len, len[i]);
		sum += len[i];
		k++;
	}
	assert_true(k >= 4); /* EE, Certificate, CertificateVerify, Finished */
	assert_int_equal(g.sink.n_enc, k);
	assert_null(flow_encrypted(g.ft, &server, k));
	flow_stats(g.ft, &st);
	flow_stats(g0.ft, &st0);
	assert_int_equal(st.encrypted_records, k);
	assert_int_equal(st0.encrypted_records, 0);
	assert_true(st.mem >= st0.mem + sum);
	assert_int_equal(g.sink.done, 0);
	/* the client's CCS + Finished: its one record, and the server is done */
	n = records_of(&cv.c2s, cv.fl[2].off, cv.fl[2].off + cv.fl[2].len, type, len, 16);
	assert_true(n >= 1 && type[n - 1] == TLS_CT_APPDATA);
	{
		struct convo part = cv;

		part.fl[0] = cv.fl[2];
		part.n = 1;
		push_convo(&g, 40050, &part, 1448);
	}
	assert_int_equal(g.sink.n_enc, k + 1);
	assert_false(g.sink.enc[k].from_server);
	assert_int_equal(g.sink.enc[k].idx, 0);
	assert_int_equal(g.sink.enc[k].len, len[n - 1]);
	assert_int_equal(g.sink.done, 1);
	rig_free(&g);
	rig_free(&g0);
	convo_free(&cv);
}

/* recwalk on crafted streams: an empty encrypted record is whole at its
 * header, one over RECWALK_REC_MAX is walked over but not held, and the
 * walk ends after a short stop record's whole body (an alert: 2 bytes). */
static void test_recwalk_records(void **state)
{
	static uint8_t b[40000];
	struct recwalk w;
	enum recwalk_event ev;
	size_t n = 0, got, at = 0;
	int records = 0, ends = 0;

	(void)state;
	memcpy(b + n, "\x16\x03\x03\x00\x04\x02\x00\x00\x00", 9); /* ServerHello, empty */
	n += 9;
	memcpy(b + n, "\x17\x03\x03\x00\x00", 5); /* empty */
	n += 5;
	memcpy(b + n, "\x17\x03\x03\x4f\xff", 5); /* 20479 > RECWALK_REC_MAX */
	n += 5 + 0x4fff;
	memcpy(b + n, "\x17\x03\x03\x00\x0a", 5);
	memset(b + n + 5, 0xab, 10);
	n += 15;
	memcpy(b + n, "\x15\x03\x03\x00\x02\x02\x28", 7); /* stops the walk */
	n += 7;
	memcpy(b + n, "\x17\x03\x03\x00\x10", 5);
	n += 5;
	recwalk_init(&w, true, 0, CS_ENC_SERVER_RECS);
	while (at < n && ends == 0) {
		got = recwalk_feed(&w, b + at, n - at, &ev);
		assert_true(got > 0);
		at += got;
		records += ev == RECWALK_RECORD;
		ends += ev == RECWALK_END;
	}
	assert_int_equal(records, 3);
	assert_int_equal(ends, 1);
	assert_int_equal(at, n - 5); /* the alert's header and its 2 bytes */
	assert_non_null(recwalk_record(&w, 0));
	assert_int_equal(recwalk_record(&w, 0)->len, 0);
	assert_null(recwalk_record(&w, 1)); /* over RECWALK_REC_MAX: not held */
	assert_non_null(recwalk_record(&w, 2));
	assert_int_equal(recwalk_record(&w, 2)->body[9], 0xab);
	assert_int_equal(w.mem, 10 + CS_ENC_SERVER_RECS * sizeof(struct recwalk_record));
	assert_null(recwalk_record(&w, 3));
	assert_int_equal(recwalk_feed(&w, b, 5, &ev), 5); /* over: takes all, says nothing */
	assert_int_equal(ev, RECWALK_MORE);
	recwalk_free(&w);
}

/* ---- the client's outcome (TLS 1.3) ---- */

/* An alert record as the client would encrypt it under its handshake
 * traffic secret (record 0): 2 bytes + content type + 16-byte tag. */
static size_t seal_alert(struct keylog *kl, const uint8_t *random, uint16_t suite, uint8_t desc,
			 uint8_t *out)
{
	uint8_t pt[3] = { 2, desc, TLS_CT_ALERT }, nonce[TLS13_IV_LEN];
	const uint8_t *secret;
	struct tls13_keys k;
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	size_t slen;
	int n;

	secret = keylog_find(kl, random, KEYLOG_CLIENT_HANDSHAKE_TRAFFIC_SECRET, &slen);
	assert_non_null(secret);
	assert_int_equal(tls13_traffic_keys(suite, secret, slen, &k), 0);
	memcpy(nonce, k.iv, sizeof(nonce)); /* sequence number 0 */
	memcpy(out, "\x17\x03\x03\x00\x13", TLS_HDR_LEN);
	assert_int_equal(EVP_EncryptInit_ex(x,
					    k.key_len == 32 ? EVP_aes_256_gcm() : EVP_aes_128_gcm(),
					    NULL, k.key, nonce),
			 1);
	assert_int_equal(EVP_EncryptUpdate(x, NULL, &n, out, TLS_HDR_LEN), 1);
	assert_int_equal(EVP_EncryptUpdate(x, out + TLS_HDR_LEN, &n, pt, 3), 1);
	assert_int_equal(EVP_EncryptFinal_ex(x, out + TLS_HDR_LEN + 3, &n), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, 16, out + TLS_HDR_LEN + 3),
			 1);
	EVP_CIPHER_CTX_free(x);
	return TLS_HDR_LEN + 19;
}

/*
 * A real TLS 1.3 handshake whose client, instead of its Finished, sends one
 * encrypted unknown_ca alert and closes (GnuTLS, NSS, BoringSSL and Go do
 * so): without keys the shape, client.aborted material (aborted, the alert
 * unread); with the key log and the record copied whole, the alert itself.
 * The real handshake, with the key log: accepted, read from the Finished.
 */
static void test_client_outcome(void **state)
{
	uint8_t type[8], rec[64], random[32];
	uint32_t len[8];
	struct convo cv;
	struct rig g;

	(void)state;
	for (int mode = 0; mode < 4; mode++) {
		bool keys = mode >= 2, abort_ = mode != 3, copy = mode >= 1;
		size_t ch_end, app, rlen, end;
		uint16_t port = (uint16_t)(40100 + mode);

		conv_keylog = keys ? keylog_new(NULL) : NULL;
		conversation(TLS1_3_VERSION, "outcome.flow.test", NULL, NULL, &cv);
		/* the client wrote: hello, CCS, Finished (, data) */
		assert_true(records_of(&cv.c2s, 0, cv.c2s.len, type, len, 4) >= 3);
		assert_true(type[0] == 22 && type[1] == 20 && type[2] == 23);
		ch_end = TLS_HDR_LEN + len[0];
		app = ch_end + TLS_HDR_LEN + len[1];
		memcpy(random, cv.c2s.b + 11, 32);
		rig_init_opts(&g, 0, 0, copy);
		push(&g, port, true, CISN, cv.c2s.b, (uint32_t)ch_end, PA, 1000);
		push_stream(&g, port, false, SISN, &cv.s2c, 1448);
		if (abort_) {
			/* one key log for the handshake's suite: TLS_AES_256_GCM_SHA384 */
			struct keylog *kl = conv_keylog;

			if (!kl) { /* sealed with another run's keys: only the shape counts */
				kl = keylog_new(NULL);
				memset(rec, 0, sizeof(rec));
				memcpy(rec, "\x17\x03\x03\x00\x13", TLS_HDR_LEN);
				rlen = TLS_HDR_LEN + 19;
				keylog_free(kl);
			} else {
				rlen = seal_alert(kl, random, 0x1302, 48, rec);
			}
			push(&g, port, true, CISN + (uint32_t)ch_end, cv.c2s.b + ch_end,
			     (uint32_t)(app - ch_end), PA, 1000);
			push(&g, port, true, CISN + (uint32_t)app, rec, (uint32_t)rlen, PA, 1000);
			end = app + rlen;
			/* the shape waits for the client's FIN, right at the record's
			 * end; a decrypted alert is certain at once */
			assert_int_equal(g.sink.n, keys ? 2 : 1);
			push(&g, port, true, CISN + (uint32_t)end, NULL, 0, CS_TCP_FIN | CS_TCP_ACK,
			     1000);
		} else {
			push_stream(&g, port, true, CISN, &cv.c2s, 1448);
		}
		assert_int_equal(g.sink.n, 2);
		/* with the key log the server's flight is read too: its chain */
		assert_int_equal(g.sink.r[0].action,
				 keys ? REPORT_CERTIFICATE : REPORT_CERTIFICATE_HIDDEN);
		assert_int_equal(g.sink.r[1].action, REPORT_CLIENT_OUTCOME);
		assert_int_equal(g.sink.r[1].server_port, 443);
		assert_string_equal(g.sink.r[1].sni, "outcome.flow.test");
		assert_true(!strncmp(g.sink.r[1].ja4, "t13d", 4));
		if (abort_) {
			assert_int_equal(g.sink.r[1].outcome, OUTCOME_ABORTED);
			assert_int_equal(g.sink.r[1].outcome_rec_len, 19);
			assert_int_equal(g.sink.r[1].outcome_alert, keys);
			assert_int_equal(g.sink.r[1].decrypted, keys);
			if (keys)
				assert_int_equal(g.sink.r[1].alert_desc, 48);
			else
				assert_string_equal(g.sink.r[1].reason,
						    "one alert-sized record, then FIN");
		} else {
			assert_int_equal(g.sink.r[1].outcome, OUTCOME_ACCEPTED);
			assert_string_equal(g.sink.r[1].reason,
					    "a handshake record, decrypted with the key log");
		}
		rig_free(&g);
		convo_free(&cv);
		keylog_free(conv_keylog);
		conv_keylog = NULL;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls12_chain),
		cmocka_unit_test(test_tls13_hidden),
		cmocka_unit_test(test_tls13_keylog),
		cmocka_unit_test(test_tls13_keylog_late),
		cmocka_unit_test(test_served_chain),
		cmocka_unit_test(test_reordered_and_duplicated),
		cmocka_unit_test(test_short_first_segment),
		cmocka_unit_test(test_non_tls_ignored),
		cmocka_unit_test(test_start_rule_is_the_kernels),
		cmocka_unit_test(test_parse_error_tells_source),
		cmocka_unit_test(test_bounds_evict_expire_close),
		cmocka_unit_test(test_port_reuse),
		cmocka_unit_test(test_memory_bound),
		cmocka_unit_test(test_paused_mid_certificate),
		cmocka_unit_test(test_tls13_hello_retry),
		cmocka_unit_test(test_done_where_the_source_stops),
		cmocka_unit_test(test_copy_encrypted_records),
		cmocka_unit_test(test_client_outcome),
		cmocka_unit_test(test_recwalk_records),
	};

	return cmocka_run_group_tests(tests, pki_setup, pki_teardown);
}
