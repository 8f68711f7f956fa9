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
#include "flow.h"

/* ---- a test PKI and an in-memory handshake ---- */

static EVP_PKEY *root_key, *leaf_key;
static X509 *root_crt, *leaf_crt;

static X509 *make_cert(const char *cn, EVP_PKEY *key, EVP_PKEY *signer, X509 *issuer, long serial)
{
	X509 *x = X509_new();
	X509_NAME *n;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365);
	X509_set_pubkey(x, key);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	X509_sign(x, signer, EVP_sha256());
	return x;
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

static void drain(BIO *from, BIO *to, struct stream *rec)
{
	char buf[16384];
	int n;

	while ((n = BIO_read(from, buf, sizeof(buf))) > 0) {
		rec->b = realloc(rec->b, rec->len + n);
		memcpy(rec->b + rec->len, buf, n);
		rec->len += n;
		BIO_write(to, buf, n);
	}
}

/* Runs a full handshake in memory; c2s/s2c receive the bytes each side wrote. */
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

struct sink {
	int n;
	struct {
		enum report_action action;
		uint16_t version, client_port, server_port;
		char sni[TLS_SNI_MAX + 1];
		uint32_t chain_len;
		char leaf_sha[65];
	} r[MAX_REPORTS];
	int done;
};

static void on_report(void *ctx, const struct cs_report *r)
{
	struct sink *s = ctx;

	if (s->n >= MAX_REPORTS)
		return;
	s->r[s->n].action = r->action;
	s->r[s->n].version = r->version;
	s->r[s->n].client_port = r->client.port;
	s->r[s->n].server_port = r->server.port;
	strcpy(s->r[s->n].sni, r->sni);
	s->r[s->n].chain_len = r->chain_len;
	if (r->chain_len)
		strcpy(s->r[s->n].leaf_sha, r->chain[0]->sha256_hex);
	s->n++;
}

static void on_done(void *ctx, const struct cs_flow_key *k)
{
	(void)k;
	((struct sink *)ctx)->done++;
}

struct rig {
	struct cert_cache *certs;
	struct flow_table *ft;
	struct sink sink;
};

static void rig_init_mem(struct rig *g, uint32_t max_conns, uint64_t max_mem)
{
	struct flow_opts o = { .max_conns = max_conns, .max_mem = max_mem,
			       .report = on_report, .done = on_done };

	memset(g, 0, sizeof(*g));
	g->certs = cert_cache_new(64);
	o.certs = g->certs;
	o.ctx = &g->sink;
	g->ft = flow_new(&o);
	assert_non_null(g->ft);
}

static void rig_init(struct rig *g, uint32_t max_conns)
{
	rig_init_mem(g, max_conns, 0);
}

static void rig_free(struct rig *g)
{
	flow_free(g->ft);
	cert_cache_free(g->certs);
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

static void push(struct rig *g, uint16_t cport, bool to_server, uint32_t seq,
		 const uint8_t *data, uint32_t len, uint8_t flags, uint64_t ts)
{
	struct cs_segment s = { .seq = seq, .len = len, .data = data, .tcp_flags = flags,
				.ts_ns = ts };

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
	push_stream(&g, 40000, false, 0xfffff000u, &s2c, 1448);	/* wraps */
	assert_int_equal(g.sink.n, 1);
	assert_int_equal(g.sink.r[0].action, REPORT_CERTIFICATE);
	assert_int_equal(g.sink.r[0].version, 0x0303);
	assert_string_equal(g.sink.r[0].sni, "www.flow.test");
	assert_int_equal(g.sink.r[0].chain_len, 2);
	assert_int_equal(g.sink.r[0].client_port, 40000);
	assert_int_equal(g.sink.r[0].server_port, 443);
	leaf_hex(want);
	assert_string_equal(g.sink.r[0].leaf_sha, want);
	/* Both directions ended at ChangeCipherSpec, where the source's own
	 * record walk stops too: no need to tell it. */
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
	rig_free(&g);
	free(c2s.b);
	free(s2c.b);
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
	ssl2[6] = 20;					/* not whole 3-byte cipher specs */
	push(&g, 40011, true, 1, ssl2, sizeof(ssl2), CS_TCP_ACK, 1000);
	s.data = dtls;
	s.len = sizeof(dtls);
	seg_key(&s.key, 40012, true);
	s.key.proto = IPPROTO_UDP;
	dtls[2] = 0xfe;					/* no such DTLS version */
	flow_segment(g.ft, &s);
	dtls[2] = 0xfd;
	dtls[4] = 1;					/* epoch 1: not a hello in the clear */
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls12_chain),
		cmocka_unit_test(test_tls13_hidden),
		cmocka_unit_test(test_reordered_and_duplicated),
		cmocka_unit_test(test_short_first_segment),
		cmocka_unit_test(test_non_tls_ignored),
		cmocka_unit_test(test_start_rule_is_the_kernels),
		cmocka_unit_test(test_parse_error_tells_source),
		cmocka_unit_test(test_bounds_evict_expire_close),
		cmocka_unit_test(test_port_reuse),
		cmocka_unit_test(test_memory_bound),
	};

	return cmocka_run_group_tests(tests, pki_setup, pki_teardown);
}
