/* test_tls.c - unit tests for the TLS record/handshake parser (user/tls.c),
 * mostly on real handshakes made in memory by OpenSSL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "ja.h"
#include "tls.h"
#include "tls_handshake.h"

/* ---- collecting parser callbacks ---------------------------------------- */

#define COL_MAX 256

struct msg {
	uint8_t type;
	uint8_t *body;
	size_t len;
};

struct rec {
	uint8_t type;
	uint16_t version;
	uint8_t body[8];
	size_t avail, rec_len;
};

struct col {
	struct msg msgs[COL_MAX];
	size_t nmsgs; /* all seen; first COL_MAX kept */
	struct rec recs[COL_MAX];
	size_t nrecs;
	unsigned errors;
	const char *err;
	struct tls_parser *stop; /* freed from the next callback */
};

static void on_hs(void *ctx, uint8_t type, const uint8_t *body, size_t len)
{
	struct col *c = ctx;

	if (c->nmsgs < COL_MAX) {
		struct msg *m = &c->msgs[c->nmsgs];

		m->type = type;
		m->len = len;
		m->body = malloc(len ? len : 1);
		assert_non_null(m->body);
		if (len)
			memcpy(m->body, body, len);
	}
	c->nmsgs++;
	if (c->stop)
		tls_parser_free(c->stop);
}

static void on_rec(void *ctx, uint8_t type, uint16_t version, const uint8_t *body, size_t avail,
		   size_t rec_len)
{
	struct col *c = ctx;

	assert_true(avail <= 8);
	assert_true(avail <= rec_len);
	if (c->nrecs < COL_MAX) {
		struct rec *r = &c->recs[c->nrecs];

		r->type = type;
		r->version = version;
		r->avail = avail;
		r->rec_len = rec_len;
		if (avail)
			memcpy(r->body, body, avail);
	}
	c->nrecs++;
	if (c->stop)
		tls_parser_free(c->stop);
}

static void on_err(void *ctx, const char *what)
{
	struct col *c = ctx;

	assert_non_null(what);
	c->errors++;
	c->err = what;
}

static const struct tls_cb cbs = { .handshake = on_hs, .record = on_rec, .error = on_err };

static void col_free(struct col *c)
{
	for (size_t i = 0; i < c->nmsgs && i < COL_MAX; i++)
		free(c->msgs[i].body);
	memset(c, 0, sizeof(*c));
}

static void col_assert_equal(const struct col *a, const struct col *b)
{
	assert_int_equal(a->nmsgs, b->nmsgs);
	assert_int_equal(a->nrecs, b->nrecs);
	assert_int_equal(a->errors, b->errors);
	for (size_t i = 0; i < a->nmsgs && i < COL_MAX; i++) {
		assert_int_equal(a->msgs[i].type, b->msgs[i].type);
		assert_int_equal(a->msgs[i].len, b->msgs[i].len);
		assert_memory_equal(a->msgs[i].body, b->msgs[i].body, a->msgs[i].len);
	}
	for (size_t i = 0; i < a->nrecs && i < COL_MAX; i++) {
		assert_int_equal(a->recs[i].type, b->recs[i].type);
		assert_int_equal(a->recs[i].version, b->recs[i].version);
		assert_int_equal(a->recs[i].avail, b->recs[i].avail);
		assert_int_equal(a->recs[i].rec_len, b->recs[i].rec_len);
		assert_memory_equal(a->recs[i].body, b->recs[i].body, a->recs[i].avail);
	}
}

static const struct msg *col_find(const struct col *c, uint8_t type)
{
	for (size_t i = 0; i < c->nmsgs && i < COL_MAX; i++)
		if (c->msgs[i].type == type)
			return &c->msgs[i];
	return NULL;
}

/* Feed in one piece; returns feed's result. */
static int parse_all(const uint8_t *d, size_t len, uint32_t msg_max, struct col *c)
{
	struct tls_parser p;
	int rc;

	tls_parser_init(&p, msg_max);
	rc = tls_parser_feed(&p, d, len, &cbs, c);
	tls_parser_free(&p);
	return rc;
}

/* ---- a real handshake, made in memory (tls_handshake.h) ----------------- */

static void assert_chain(const struct msg *m)
{
	struct tls_cert_list cl;

	assert_non_null(m);
	assert_int_equal(tls_parse_certificate(m->body, m->len, &cl), 0);
	assert_int_equal(cl.n, 2);
	assert_int_equal(cl.total, 2);
	assert_int_equal(cl.der_len[0], pki.leaf_der_len);
	assert_memory_equal(cl.der[0], pki.leaf_der, pki.leaf_der_len);
	assert_int_equal(cl.der_len[1], pki.ca_der_len);
	assert_memory_equal(cl.der[1], pki.ca_der, pki.ca_der_len);
}

static const struct hs_opts tls12 = {
	.max_version = TLS1_2_VERSION,
	.cipher_list = "ECDHE-RSA-AES256-GCM-SHA384",
};

/* Plaintext handshake bytes (record payloads) before the first CCS. */
static void handshake_bytes(const struct buf *in, struct buf *out)
{
	size_t off = 0;

	memset(out, 0, sizeof(*out));
	while (off + 5 <= in->len && in->d[off] != TLS_CT_CCS) {
		size_t n = (size_t)in->d[off + 3] << 8 | in->d[off + 4];

		assert_true(off + 5 + n <= in->len);
		if (in->d[off] == TLS_CT_HANDSHAKE)
			buf_add(out, in->d + off + 5, n);
		off += 5 + n;
	}
}

/* The same handshake bytes in records of at most rec bytes each. */
static void reframe(const struct buf *hs, size_t rec, struct buf *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t off = 0; off < hs->len; off += rec) {
		size_t n = hs->len - off < rec ? hs->len - off : rec;
		uint8_t h[5] = { TLS_CT_HANDSHAKE, 3, 3, (uint8_t)(n >> 8), (uint8_t)n };

		buf_add(out, h, 5);
		buf_add(out, hs->d + off, n);
	}
}

/* ---- tests on real handshakes ------------------------------------------- */

static void test_tls12_server_flight(void **state)
{
	struct flight f;
	struct col c = { 0 };
	struct tls_server_hello sh;
	struct tls_parser p;
	const struct msg *m;

	(void)state;
	run_handshake(&tls12, &f);
	tls_parser_init(&p, 0);
	assert_int_equal(p.msg_max, TLS_MSG_MAX_DEFAULT);
	assert_int_equal(tls_parser_feed(&p, f.s2c.d, f.s2c.len, &cbs, &c), 0);
	assert_int_equal(c.errors, 0);
	assert_true(p.encrypted);
	assert_int_equal(p.hdr_have, 0); /* ended on a record boundary */
	tls_parser_free(&p);

	m = col_find(&c, TLS_HS_SERVER_HELLO);
	assert_non_null(m);
	assert_ptr_equal(m, &c.msgs[0]);
	assert_int_equal(tls_parse_server_hello(m->body, m->len, &sh), 0);
	assert_int_equal(sh.version, 0x0303);
	assert_false(sh.hrr);
	assert_int_equal(sh.cipher, 0xC030);
	assert_string_equal(tls_cipher_name(sh.cipher), "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
	assert_string_equal(sh.alpn, "h2");
	assert_chain(col_find(&c, TLS_HS_CERTIFICATE));
	assert_non_null(col_find(&c, TLS_HS_SERVER_KEY_EXCHANGE));
	assert_non_null(col_find(&c, TLS_HS_SERVER_HELLO_DONE));
	/* After CCS: the encrypted Finished is a record, not a message. */
	assert_true(c.nrecs >= 2);
	assert_int_equal(c.recs[0].type, TLS_CT_CCS);
	assert_int_equal(c.recs[0].avail, 1);
	assert_int_equal(c.recs[0].body[0], 1);
	assert_int_equal(c.recs[1].type, TLS_CT_HANDSHAKE);
	assert_int_equal(c.recs[1].version, 0x0303);
	assert_int_equal(c.recs[1].avail, 8);
	assert_true(c.recs[1].rec_len > 8);
	col_free(&c);
	flight_free(&f);
}

static void test_tls12_client_hello(void **state)
{
	struct flight f;
	struct col c = { 0 };
	struct tls_client_hello ch;
	const struct msg *m;

	(void)state;
	run_handshake(&tls12, &f);
	assert_int_equal(parse_all(f.c2s.d, f.c2s.len, 0, &c), 0);
	assert_int_equal(c.errors, 0);
	m = col_find(&c, TLS_HS_CLIENT_HELLO);
	assert_ptr_equal(m, &c.msgs[0]);
	assert_int_equal(tls_parse_client_hello(m->body, m->len, &ch), 0);
	assert_int_equal(ch.version, 0x0303);
	assert_true(ch.has_sni);
	assert_string_equal(ch.sni, "www.example.test");
	assert_string_equal(ch.alpn, "h2,http/1.1");
	assert_false(ch.offers_tls13);
	assert_non_null(col_find(&c, TLS_HS_CLIENT_KEY_EXCHANGE));
	col_free(&c);
	flight_free(&f);
}

/* Every split of the server flight into two feeds, then byte by byte: the
 * Certificate message is split at every one of its byte boundaries. */
static void test_every_split(void **state)
{
	struct flight f;
	struct col ref = { 0 };

	(void)state;
	run_handshake(&tls12, &f);
	assert_int_equal(parse_all(f.s2c.d, f.s2c.len, 0, &ref), 0);
	for (size_t k = 0; k <= f.s2c.len; k++) {
		struct tls_parser p;
		struct col c = { 0 };

		tls_parser_init(&p, 0);
		assert_int_equal(tls_parser_feed(&p, f.s2c.d, k, &cbs, &c), 0);
		assert_int_equal(tls_parser_feed(&p, f.s2c.d + k, f.s2c.len - k, &cbs, &c), 0);
		tls_parser_free(&p);
		col_assert_equal(&c, &ref);
		assert_chain(col_find(&c, TLS_HS_CERTIFICATE));
		col_free(&c);
	}
	{
		struct tls_parser p;
		struct col c = { 0 };

		tls_parser_init(&p, 0);
		for (size_t i = 0; i < f.s2c.len; i++)
			assert_int_equal(tls_parser_feed(&p, f.s2c.d + i, 1, &cbs, &c), 0);
		tls_parser_free(&p);
		col_assert_equal(&c, &ref);
		col_free(&c);
	}
	col_free(&ref);
	flight_free(&f);
}

/* All messages in one record, and one message over many small records
 * (headers of both layers split across records as well). */
static void test_reframed(void **state)
{
	static const size_t sizes[] = { 16384, 1000, 100, 7, 3, 1 };
	struct flight f;
	struct buf hs;
	struct col ref = { 0 };

	(void)state;
	run_handshake(&tls12, &f);
	handshake_bytes(&f.s2c, &hs);
	{
		struct buf orig = { 0 };

		/* reference: the original records up to the CCS */
		for (size_t off = 0; off + 5 <= f.s2c.len && f.s2c.d[off] != TLS_CT_CCS;
		     off += 5 + ((size_t)f.s2c.d[off + 3] << 8 | f.s2c.d[off + 4]))
			buf_add(&orig, f.s2c.d + off,
				5 + ((size_t)f.s2c.d[off + 3] << 8 | f.s2c.d[off + 4]));
		assert_int_equal(parse_all(orig.d, orig.len, 0, &ref), 0);
		free(orig.d);
	}
	assert_true(ref.nmsgs >= 4);
	assert_true(hs.len < 16384);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct buf rf;
		struct tls_parser p;
		struct col c = { 0 };

		reframe(&hs, sizes[i], &rf);
		tls_parser_init(&p, 0);
		assert_int_equal(tls_parser_feed(&p, rf.d, rf.len, &cbs, &c), 0);
		assert_int_equal(p.records, (hs.len + sizes[i] - 1) / sizes[i]);
		tls_parser_free(&p);
		col_assert_equal(&c, &ref);
		assert_chain(col_find(&c, TLS_HS_CERTIFICATE));
		col_free(&c);
		free(rf.d);
	}
	col_free(&ref);
	free(hs.d);
	flight_free(&f);
}

static void test_tls13(void **state)
{
	static const struct hs_opts o = {
		.max_version = TLS1_3_VERSION,
		.ciphersuites = "TLS_CHACHA20_POLY1305_SHA256",
	};
	struct flight f;
	struct col c = { 0 };
	struct tls_server_hello sh;
	struct tls_client_hello ch;
	struct tls_parser p;
	size_t appdata = 0;

	(void)state;
	run_handshake(&o, &f);
	tls_parser_init(&p, 0);
	assert_int_equal(tls_parser_feed(&p, f.s2c.d, f.s2c.len, &cbs, &c), 0);
	assert_true(p.encrypted);
	tls_parser_free(&p);
	assert_int_equal(c.errors, 0);
	assert_int_equal(c.nmsgs, 1); /* only ServerHello is clear */
	assert_int_equal(c.msgs[0].type, TLS_HS_SERVER_HELLO);
	assert_null(col_find(&c, TLS_HS_CERTIFICATE));
	assert_int_equal(tls_parse_server_hello(c.msgs[0].body, c.msgs[0].len, &sh), 0);
	assert_int_equal(sh.legacy_version, 0x0303);
	assert_int_equal(sh.version, 0x0304);
	assert_false(sh.hrr);
	assert_int_equal(sh.cipher, 0x1303);
	assert_string_equal(tls_cipher_name(sh.cipher), "TLS_CHACHA20_POLY1305_SHA256");
	assert_int_equal(sh.session_id_len, 32); /* echoes the client's */
	assert_string_equal(sh.alpn, "");	 /* in EncryptedExtensions */
	assert_int_equal(c.recs[0].type, TLS_CT_CCS);
	assert_int_equal(c.recs[0].rec_len, 1);
	for (size_t i = 1; i < c.nrecs; i++) {
		assert_int_equal(c.recs[i].type, TLS_CT_APPDATA);
		assert_int_equal(c.recs[i].avail, 8);
		appdata++;
	}
	assert_true(appdata >= 1);
	col_free(&c);

	assert_int_equal(parse_all(f.c2s.d, f.c2s.len, 0, &c), 0);
	assert_int_equal(c.nmsgs, 1);
	assert_int_equal(tls_parse_client_hello(c.msgs[0].body, c.msgs[0].len, &ch), 0);
	assert_true(ch.offers_tls13);
	assert_true(ch.has_session); /* compatibility session id */
	assert_string_equal(ch.sni, "www.example.test");
	assert_string_equal(ch.alpn, "h2,http/1.1");
	col_free(&c);
	flight_free(&f);
}

/* HelloRetryRequest, its dummy CCS, then the real ServerHello in the clear. */
static void test_tls13_hrr(void **state)
{
	static const struct hs_opts o = {
		.max_version = TLS1_3_VERSION,
		.client_groups = "P-256:X25519",
		.server_groups = "X25519",
	};
	struct flight f;
	struct col c = { 0 };
	struct tls_server_hello sh;

	(void)state;
	run_handshake(&o, &f);
	assert_int_equal(parse_all(f.s2c.d, f.s2c.len, 0, &c), 0);
	assert_int_equal(c.nmsgs, 2);
	assert_int_equal(tls_parse_server_hello(c.msgs[0].body, c.msgs[0].len, &sh), 0);
	assert_true(sh.hrr);
	assert_int_equal(sh.version, 0x0304);
	assert_int_equal(c.msgs[1].type, TLS_HS_SERVER_HELLO);
	assert_int_equal(tls_parse_server_hello(c.msgs[1].body, c.msgs[1].len, &sh), 0);
	assert_false(sh.hrr);
	assert_int_equal(sh.version, 0x0304);
	assert_int_equal(c.recs[0].type, TLS_CT_CCS);
	col_free(&c);

	/* Client side: its CCS precedes the second ClientHello. Alone the
	 * direction cannot tell that from TLS 1.2's CCS + Finished ... */
	assert_int_equal(parse_all(f.c2s.d, f.c2s.len, 0, &c), 0);
	assert_int_equal(c.nmsgs, 1);
	assert_int_equal(c.recs[1].type, TLS_CT_HANDSHAKE);
	col_free(&c);
	/* ... so the caller, having seen the HRR, says so. */
	{
		struct tls_parser p;
		struct tls_client_hello ch;

		tls_parser_init(&p, 0);
		p.hrr = true;
		assert_int_equal(tls_parser_feed(&p, f.c2s.d, f.c2s.len, &cbs, &c), 0);
		tls_parser_free(&p);
		assert_int_equal(c.nmsgs, 2);
		assert_int_equal(c.msgs[1].type, TLS_HS_CLIENT_HELLO);
		assert_int_equal(tls_parse_client_hello(c.msgs[1].body, c.msgs[1].len, &ch), 0);
		assert_string_equal(ch.sni, "www.example.test");
		assert_true(ch.offers_tls13);
		col_free(&c);
	}
	flight_free(&f);
}

/* ---- ClientHello facts against OpenSSL's own parse of the same hello ------- */

#define SEEN_MAX 2 /* hellos per handshake: HRR makes two */

/* One ClientHello as OpenSSL's server read it (SSL_client_hello_get*). */
struct seen_hello {
	unsigned version;
	uint8_t random[32], sid[32];
	size_t sid_len;
	uint8_t suites[512];
	size_t suites_len;
	int exts[64]; /* types in wire order */
	size_t n_exts;
	uint8_t ext[5][256]; /* raw bodies of ext_types[] */
	size_t ext_len[5];
	bool has_ext[5];
};

static const unsigned ext_types[5] = { 10, 13, 43, 11, 51 };

struct seen {
	struct seen_hello h[SEEN_MAX];
	size_t n;
};

static int record_hello(SSL *s, int *al, void *arg)
{
	struct seen *seen = arg;
	struct seen_hello *h;
	const unsigned char *p;
	int *types = NULL;
	size_t n, n_types = 0;

	(void)al;
	if (seen->n >= SEEN_MAX)
		return SSL_CLIENT_HELLO_SUCCESS;
	h = &seen->h[seen->n++];
	h->version = SSL_client_hello_get0_legacy_version(s);
	assert_int_equal(SSL_client_hello_get0_random(s, &p), 32);
	memcpy(h->random, p, 32);
	h->sid_len = SSL_client_hello_get0_session_id(s, &p);
	assert_true(h->sid_len <= 32);
	memcpy(h->sid, p, h->sid_len);
	n = SSL_client_hello_get0_ciphers(s, &p);
	assert_true(n <= sizeof(h->suites));
	memcpy(h->suites, p, n);
	h->suites_len = n;
	/* In the order received (OpenSSL keeps each extension's position). */
	assert_int_equal(SSL_client_hello_get1_extensions_present(s, &types, &n_types), 1);
	assert_true(n_types <= 64);
	memcpy(h->exts, types, n_types * sizeof(types[0]));
	h->n_exts = n_types;
	OPENSSL_free(types);
	for (size_t i = 0; i < 5; i++) {
		h->has_ext[i] = SSL_client_hello_get0_ext(s, ext_types[i], &p, &n) == 1;
		if (h->has_ext[i]) {
			assert_true(n <= sizeof(h->ext[i]));
			memcpy(h->ext[i], p, n);
			h->ext_len[i] = n;
		}
	}
	return SSL_CLIENT_HELLO_SUCCESS;
}

/* A list of 16-bit values behind a w-byte length, as in an extension body. */
static void assert_list16(const uint8_t *b, size_t len, unsigned w, const uint16_t *v, uint16_t n,
			  uint16_t total)
{
	size_t off = w;

	assert_true(len >= w);
	assert_int_equal(n, total);
	assert_int_equal(len - w, 2 * (size_t)n);
	for (uint16_t i = 0; i < n; i++, off += 2)
		assert_int_equal(v[i], b[off] << 8 | b[off + 1]);
}

static void assert_same_hello(const struct seen_hello *h, const struct tls_client_hello *ch)
{
	char f[JA4_LEN + 1], a[64];
	size_t off = 2, k = 0;

	assert_int_equal(ch->version, h->version);
	assert_memory_equal(ch->random, h->random, 32);
	assert_int_equal(ch->session_id_len, h->sid_len);
	assert_memory_equal(ch->session_id, h->sid, h->sid_len);
	assert_int_equal(ch->n_suites, h->suites_len / 2);
	for (size_t i = 0; i < ch->n_suites; i++)
		assert_int_equal(ch->suites[i], h->suites[2 * i] << 8 | h->suites[2 * i + 1]);
	assert_int_equal(ch->n_exts, h->n_exts);
	assert_int_equal(ch->exts_total, h->n_exts);
	for (size_t i = 0; i < h->n_exts; i++)
		assert_int_equal(ch->exts[i], h->exts[i]);
	assert_true(h->has_ext[0] && h->has_ext[1]);
	assert_list16(h->ext[0], h->ext_len[0], 2, ch->groups, ch->n_groups, ch->groups_total);
	assert_list16(h->ext[1], h->ext_len[1], 2, ch->sigalgs, ch->n_sigalgs, ch->sigalgs_total);
	if (h->has_ext[2])
		assert_list16(h->ext[2], h->ext_len[2], 1, ch->versions, ch->n_versions,
			      ch->versions_total);
	else
		assert_int_equal(ch->versions_total, 0); /* a TLS 1.2-only client */
	if (h->has_ext[3]) {
		assert_int_equal(ch->n_formats, h->ext[3][0]);
		assert_memory_equal(ch->formats, h->ext[3] + 1, ch->n_formats);
	} else {
		assert_int_equal(ch->formats_total, 0);
	}
	if (h->has_ext[4]) { /* KeyShareEntry: group, key<2> */
		while (off + 4 <= h->ext_len[4]) {
			assert_true(k < ch->n_shares);
			assert_int_equal(ch->shares[k++], h->ext[4][off] << 8 | h->ext[4][off + 1]);
			off += 4 + (size_t)(h->ext[4][off + 2] << 8 | h->ext[4][off + 3]);
		}
		assert_int_equal(off, h->ext_len[4]);
	}
	assert_int_equal(ch->n_shares, k);
	assert_string_equal(ch->alpn, "h2,http/1.1");
	/* JA4's first part from OpenSSL's counts: these clients send no GREASE. */
	assert_true(h->suites_len / 2 < 100 && h->n_exts < 100);
	snprintf(a, sizeof(a), "t%sd%02zu%02zuh2", ch->offers_tls13 ? "13" : "12",
		 h->suites_len / 2, h->n_exts);
	assert_int_equal(ja4(ch, f, sizeof(f)), JA4_LEN);
	assert_memory_equal(f, a, 10);
}

/* Real hellos of OpenSSL clients (TLS 1.3 with set groups and signature
 * algorithms, TLS 1.2 only, and both hellos around a HelloRetryRequest):
 * every fact our decoder keeps equals what OpenSSL's server read. */
static void test_client_hello_facts(void **state)
{
	static const struct hs_opts base[] = {
		{ .max_version = TLS1_3_VERSION,
		  .client_groups = "X25519:P-256:ffdhe2048",
		  .client_sigalgs = "ECDSA+SHA256:RSA-PSS+SHA256:ed25519:RSA+SHA384" },
		{ .max_version = TLS1_2_VERSION,
		  .cipher_list =
			  "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:AES128-SHA" },
		{ .max_version = TLS1_3_VERSION,
		  .client_groups = "P-256:X25519",
		  .server_groups = "X25519" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++) {
		struct hs_opts o = base[i];
		struct seen seen = { .n = 0 };
		struct tls_client_hello ch;
		struct tls_parser p;
		struct flight f;
		struct col c = { 0 };
		size_t k = 0;

		o.hello_cb = record_hello;
		o.hello_arg = &seen;
		run_handshake(&o, &f);
		assert_int_equal(seen.n, i == 2 ? 2 : 1);
		tls_parser_init(&p, 0);
		p.hrr = i == 2; /* the second hello follows a dummy CCS */
		assert_int_equal(tls_parser_feed(&p, f.c2s.d, f.c2s.len, &cbs, &c), 0);
		tls_parser_free(&p);
		for (size_t m = 0; m < c.nmsgs && m < COL_MAX; m++) {
			if (c.msgs[m].type != TLS_HS_CLIENT_HELLO)
				continue;
			assert_true(k < seen.n);
			assert_int_equal(tls_parse_client_hello(c.msgs[m].body, c.msgs[m].len, &ch),
					 0);
			assert_same_hello(&seen.h[k++], &ch);
		}
		assert_int_equal(k, seen.n);
		if (i == 0) { /* what was asked for, in that order */
			assert_int_equal(ch.n_groups, 3);
			assert_int_equal(ch.groups[0], 29);
			assert_int_equal(ch.groups[2], 0x0100);
			assert_int_equal(ch.n_sigalgs, 4);
			assert_int_equal(ch.sigalgs[2], 0x0807);
			assert_true(ch.offers_tls13);
		}
		if (i == 1)
			assert_false(ch.offers_tls13);
		if (i == 2) /* the second hello's share is the group asked for */
			assert_int_equal(ch.shares[0], 29);
		col_free(&c);
		flight_free(&f);
	}
}

/* Mutated real flights: no crash, no leak, no read out of bounds (ASan),
 * whatever comes out goes through the decoders. */
static uint32_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return (uint32_t)(*x >> 32);
}

static void decode_all(const struct col *c)
{
	for (size_t i = 0; i < c->nmsgs && i < COL_MAX; i++) {
		const struct msg *m = &c->msgs[i];
		struct tls_client_hello ch;
		struct tls_server_hello sh;
		struct tls_cert_list cl;

		if (tls_parse_client_hello(m->body, m->len, &ch) == 0)
			assert_true(strlen(ch.sni) <= TLS_SNI_MAX &&
				    strlen(ch.alpn) <= TLS_ALPN_MAX);
		if (tls_parse_server_hello(m->body, m->len, &sh) == 0)
			assert_true(sh.session_id_len <= 32 && strlen(sh.alpn) <= TLS_ALPN_MAX);
		if (tls_parse_certificate(m->body, m->len, &cl) == 0)
			for (uint32_t k = 0; k < cl.n; k++)
				assert_true(cl.der[k] > m->body &&
					    cl.der[k] + cl.der_len[k] <= m->body + m->len);
	}
}

static void test_mutations(void **state)
{
	struct flight f;
	uint64_t x = 0x1234567;

	(void)state;
	run_handshake(&tls12, &f);
	for (int round = 0; round < 3000; round++) {
		struct buf b = { 0 };
		struct col c = { 0 };
		struct tls_parser p;
		size_t pos;

		buf_add(&b, f.s2c.d, f.s2c.len);
		for (int k = 1 + (int)(rnd(&x) % 4); k > 0; k--)
			b.d[rnd(&x) % b.len] = (uint8_t)rnd(&x);
		pos = rnd(&x) % (b.len + 1);
		tls_parser_init(&p, 1u << (10 + rnd(&x) % 8));
		tls_parser_feed(&p, b.d, pos, &cbs, &c);
		tls_parser_feed(&p, b.d + pos, b.len - pos, &cbs, &c);
		assert_true(c.errors <= 1);
		assert_int_equal(c.errors > 0, p.failed);
		assert_true(p.msg_cap <= 4 + p.msg_max);
		tls_parser_free(&p);
		decode_all(&c);
		col_free(&c);
		free(b.d);
	}
	flight_free(&f);
}

/* ---- record layer rules, hand-made bytes -------------------------------- */

static void test_record_too_long(void **state)
{
	static const uint8_t ok[] = { 23, 3, 3, 0x48, 0x00 };		/* 18432 */
	static const uint8_t bad[] = { 22, 3, 3, 0x48, 0x01, 1, 2, 3 }; /* 18433 */
	struct col c = { 0 };
	struct tls_parser p;

	(void)state;
	assert_int_equal(parse_all(ok, sizeof(ok), 0, &c), 0);
	assert_int_equal(c.errors, 0);
	tls_parser_init(&p, 0);
	assert_int_equal(tls_parser_feed(&p, bad, 4, &cbs, &c), 0);
	assert_int_equal(tls_parser_feed(&p, bad + 4, sizeof(bad) - 4, &cbs, &c), -1);
	assert_true(p.failed);
	assert_int_equal(c.errors, 1);
	assert_string_equal(c.err, "record too long");
	/* A failed direction stays failed and silent. */
	assert_int_equal(tls_parser_feed(&p, ok, sizeof(ok), &cbs, &c), -1);
	assert_int_equal(c.errors, 1);
	assert_int_equal(c.nrecs, 0);
	tls_parser_free(&p);
	col_free(&c);
}

static void test_not_tls(void **state)
{
#define IN(s)                                     \
	{                                         \
		(const uint8_t *)s, sizeof(s) - 1 \
	}
	static const struct {
		const uint8_t *d;
		size_t n;
	} inputs[] = {
		IN("GET / HTTP/1.1\r\n"),   IN("\x16\x02\x00\x00\x10"), /* version major 2 */
		IN("\x19\x03\x03\x00\x01"),				/* content type 25 */
		IN("\x13\x03\x03\x00\x01"),				/* content type 19 */
		IN("SSH-2.0-OpenSSH_9.2"),
	};
#undef IN

	(void)state;
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		struct col c = { 0 };

		assert_int_equal(parse_all(inputs[i].d, inputs[i].n, 0, &c), -1);
		assert_int_equal(c.errors, 1);
		assert_string_equal(c.err, "not a TLS record");
		assert_int_equal(c.nmsgs + c.nrecs, 0);
	}
}

/* A good record then a bad header: what came before is still reported. */
static void test_bad_second_record(void **state)
{
	static const uint8_t in[] = { 21, 3, 3, 0, 2, 1, 0, 'H', 'T', 'T', 'P', '/' };
	struct col c = { 0 };

	(void)state;
	assert_int_equal(parse_all(in, sizeof(in), 0, &c), -1);
	assert_int_equal(c.nrecs, 1);
	assert_int_equal(c.errors, 1);
}

static void test_msg_max(void **state)
{
	/* ServerHelloDone-style message with a 1000 / 1001-byte body */
	uint8_t in[5 + 4 + 1001] = { 22, 3, 3, 0, 0, 14, 0, 0x03, 0xe8 };
	struct col c = { 0 };
	struct tls_parser p;

	(void)state;
	in[3] = (4 + 1000) >> 8;
	in[4] = (uint8_t)(4 + 1000);
	assert_int_equal(parse_all(in, 5 + 4 + 1000, 1000, &c), 0);
	assert_int_equal(c.nmsgs, 1);
	assert_int_equal(c.msgs[0].len, 1000);
	col_free(&c);

	in[3] = (4 + 1001) >> 8;
	in[4] = (uint8_t)(4 + 1001);
	in[8] = 0xe9;
	assert_int_equal(parse_all(in, sizeof(in), 1000, &c), -1);
	assert_string_equal(c.err, "handshake message too long");
	assert_int_equal(c.nmsgs, 0);
	col_free(&c);

	/* Header split across feeds: caught at the length, before any body. */
	tls_parser_init(&p, 1000);
	assert_int_equal(tls_parser_feed(&p, in, 7, &cbs, &c), 0);
	assert_int_equal(tls_parser_feed(&p, in + 7, 2, &cbs, &c), -1);
	assert_true(p.msg_cap <= 4 + 1000);
	tls_parser_free(&p);
	col_free(&c);

	/* A 16 MB claim with a small limit never allocates toward it. */
	tls_parser_init(&p, 64 * 1024);
	{
		static const uint8_t huge[] = { 22, 3, 3, 0, 4, 11, 0xff, 0xff, 0xff };

		assert_int_equal(tls_parser_feed(&p, huge, sizeof(huge), &cbs, &c), -1);
		assert_int_equal(c.errors, 1);
	}
	tls_parser_free(&p);
	col_free(&c);
}

/* Memory grows with what arrived, not with what the header claims. */
static void test_msg_buffer_growth(void **state)
{
	uint8_t hdr[9] = { 22, 3, 3, 0x40, 0x00, 11, 0x0f, 0x00, 0x00 }; /* 960 KB */
	uint8_t body[0x4000 - 4] = { 0 };
	struct col c = { 0 };
	struct tls_parser p;

	(void)state;
	tls_parser_init(&p, 0);
	assert_int_equal(tls_parser_feed(&p, hdr, sizeof(hdr), &cbs, &c), 0);
	assert_int_equal(tls_parser_feed(&p, body, sizeof(body), &cbs, &c), 0);
	assert_int_equal(p.msg_have, sizeof(body)); /* the body: the header is not held there */
	assert_true(p.msg_cap >= sizeof(body) && p.msg_cap <= 2 * sizeof(body));
	assert_int_equal(c.nmsgs, 0);
	tls_parser_free(&p);
	col_free(&c);
}

static void test_cert_list_inconsistent(void **state)
{
	/* Handshake length 256, list length claims 3820 (0x000EEC). */
	uint8_t in[5 + 4 + 256] = { 22,	  3,	3,    0x01, 0x04, 11,	0x00, 0x01,
				    0x00, 0x00, 0x0e, 0xec, 0x00, 0x0e, 0xe9 };
	struct col c = { 0 };
	struct tls_cert_list cl;

	(void)state;
	memset(in + 15, 0x30, sizeof(in) - 15);
	assert_int_equal(parse_all(in, sizeof(in), 0, &c), 0);
	assert_int_equal(c.nmsgs, 1);
	assert_int_equal(c.msgs[0].len, 256);
	assert_int_equal(tls_parse_certificate(c.msgs[0].body, c.msgs[0].len, &cl), -1);
	assert_int_equal(cl.n, 0);
	col_free(&c);
}

/* Certificate message bodies (TLS 1.2: list length, then length + DER each)
 * of every list shape, for the whole-message and the by-entry parse alike. */
static const uint8_t cl_empty[] = { 0, 0, 0 };
static const uint8_t cl_two[] = { 0, 0, 11, 0, 0, 2, 0xaa, 0xbb, 0, 0, 3, 1, 2, 3 };
static const uint8_t cl_zero_entry[] = { 0, 0, 7, 0, 0, 0, 0, 0, 1, 0xaa };
/* list length shorter than the message: entries after it */
static const uint8_t cl_trailing[] = { 0, 0, 5, 0, 0, 2, 0xaa, 0xbb, 0, 0, 1, 0xcc };
static const uint8_t cl_entry_overrun[] = { 0, 0, 5, 0, 0, 3, 0xaa, 0xbb };
static const uint8_t cl_list_short[] = { 0, 0, 4, 0, 0, 2, 0xaa, 0xbb, 0xcc };
static const uint8_t cl_list_long[] = { 0, 0, 9, 0, 0, 2, 0xaa, 0xbb };
static const uint8_t cl_trunc_hdr[] = { 0, 0, 2, 0, 0 };

/* More than TLS_CHAIN_MAX entries: 20 of one byte each, entry i holding i. */
static void many_entries(uint8_t many[3 + 20 * 4])
{
	many[0] = 0, many[1] = 0, many[2] = 20 * 4;
	for (int i = 0; i < 20; i++) {
		uint8_t *e = many + 3 + 4 * i;

		e[0] = 0, e[1] = 0, e[2] = 1, e[3] = (uint8_t)i;
	}
}

static void test_cert_list_shapes(void **state)
{
	uint8_t many[3 + 20 * 4];
	struct tls_cert_list cl;

	(void)state;
	assert_int_equal(tls_parse_certificate(cl_empty, sizeof(cl_empty), &cl), 0);
	assert_int_equal(cl.n, 0);
	assert_int_equal(cl.total, 0);
	assert_int_equal(tls_parse_certificate(cl_two, sizeof(cl_two), &cl), 0);
	assert_int_equal(cl.n, 2);
	assert_ptr_equal(cl.der[0], cl_two + 6);
	assert_int_equal(cl.der_len[0], 2);
	assert_ptr_equal(cl.der[1], cl_two + 11);
	assert_int_equal(cl.der_len[1], 3);
	assert_int_equal(tls_parse_certificate(cl_zero_entry, sizeof(cl_zero_entry), &cl), -1);
	assert_int_equal(tls_parse_certificate(cl_entry_overrun, sizeof(cl_entry_overrun), &cl),
			 -1);
	assert_int_equal(tls_parse_certificate(cl_trailing, sizeof(cl_trailing), &cl), -1);
	assert_int_equal(tls_parse_certificate(cl_trailing, 8, &cl), 0);
	assert_int_equal(tls_parse_certificate(cl_list_short, sizeof(cl_list_short), &cl), -1);
	assert_int_equal(tls_parse_certificate(cl_list_long, sizeof(cl_list_long), &cl), -1);
	assert_int_equal(tls_parse_certificate(cl_trunc_hdr, sizeof(cl_trunc_hdr), &cl), -1);
	assert_int_equal(tls_parse_certificate(cl_empty, 2, &cl), -1);
	assert_int_equal(tls_parse_certificate(NULL, 0, &cl), -1);
	/* More than TLS_CHAIN_MAX: keep the first ones, count all. */
	many_entries(many);
	assert_int_equal(tls_parse_certificate(many, sizeof(many), &cl), 0);
	assert_int_equal(cl.n, TLS_CHAIN_MAX);
	assert_int_equal(cl.total, 20);
	assert_int_equal(cl.der[TLS_CHAIN_MAX - 1][0], TLS_CHAIN_MAX - 1);
}

/* ---- Certificate handed over by entry (tls_cb.cert_entry) ---------------- */

struct ecol {
	struct col c;	    /* first: on_hs, on_rec and on_err take it */
	uint8_t ent[16384]; /* the entries given, each as on the wire (length, DER) */
	size_t ent_len;
	unsigned ends;
	bool ok;
};

static void on_cert_entry(void *ctx, const uint8_t *der, size_t len)
{
	struct ecol *e = ctx;

	assert_true(len > 0);
	assert_true(e->ent_len + 3 + len <= sizeof(e->ent));
	e->ent[e->ent_len++] = (uint8_t)(len >> 16);
	e->ent[e->ent_len++] = (uint8_t)(len >> 8);
	e->ent[e->ent_len++] = (uint8_t)len;
	memcpy(e->ent + e->ent_len, der, len);
	e->ent_len += len;
}

static void on_cert_end(void *ctx, bool ok)
{
	struct ecol *e = ctx;

	e->ends++;
	e->ok = ok;
}

static const struct tls_cb ecbs = { .handshake = on_hs,
				    .record = on_rec,
				    .error = on_err,
				    .cert_entry = on_cert_entry,
				    .cert_end = on_cert_end };

/* What one parse of a framed Certificate gave, against tls_parse_certificate
 * on its body: the whole message if it came in one feed, else the same
 * entries (all of them: the cut at TLS_CHAIN_MAX is the caller's) and the
 * same verdict. */
static void ecol_check(struct ecol *e, const uint8_t *body, size_t len, bool streamed)
{
	struct tls_cert_list cl;
	bool ok = tls_parse_certificate(body, len, &cl) == 0;

	assert_int_equal(e->c.errors, 0);
	if (!streamed) {
		assert_int_equal(e->c.nmsgs, 1);
		assert_int_equal(e->c.msgs[0].len, len);
		assert_memory_equal(e->c.msgs[0].body, body, len);
		assert_int_equal(e->ends, 0);
		return;
	}
	assert_int_equal(e->c.nmsgs, 0);
	assert_int_equal(e->ends, 1);
	assert_int_equal(e->ok, ok);
	if (ok) {
		assert_int_equal(e->ent_len, len - 3);
		assert_memory_equal(e->ent, body + 3, len - 3);
	}
}

/* body framed as one Certificate message in one record, fed in cl_two pieces
 * at every split, then byte by byte. A paused parser holds at most the
 * certificate under way, in a buffer at most twice what arrived of it. */
static void check_by_entry(const uint8_t *body, size_t len)
{
	size_t total = 5 + 4 + len;
	uint8_t *in = malloc(total);

	assert_non_null(in);
	assert_true(len <= 16384 - 4);
	in[0] = 22, in[1] = 3, in[2] = 3;
	in[3] = (uint8_t)((len + 4) >> 8), in[4] = (uint8_t)(len + 4);
	in[5] = TLS_HS_CERTIFICATE;
	in[6] = (uint8_t)(len >> 16), in[7] = (uint8_t)(len >> 8), in[8] = (uint8_t)len;
	if (len)
		memcpy(in + 9, body, len);
	for (size_t k = 0; k <= total; k++) {
		struct tls_parser p;
		struct ecol *e = calloc(1, sizeof(*e));

		assert_non_null(e);
		tls_parser_init(&p, 0);
		assert_int_equal(tls_parser_feed(&p, in, k, &ecbs, e), 0);
		tls_parser_trim(&p);
		assert_true(p.msg_cap <= 2 * p.msg_have);
		assert_true(p.msg_have < len || !len);
		assert_int_equal(tls_parser_feed(&p, in + k, total - k, &ecbs, e), 0);
		tls_parser_trim(&p);
		assert_int_equal(p.msg_cap, 0);
		tls_parser_free(&p);
		ecol_check(e, body, len, k > 5 && k < total);
		col_free(&e->c);
		free(e);
	}
	{
		struct tls_parser p;
		struct ecol *e = calloc(1, sizeof(*e));

		assert_non_null(e);
		tls_parser_init(&p, 0);
		for (size_t i = 0; i < total; i++)
			assert_int_equal(tls_parser_feed(&p, in + i, 1, &ecbs, e), 0);
		tls_parser_free(&p);
		ecol_check(e, body, len, true);
		col_free(&e->c);
		free(e);
	}
	free(in);
}

static void test_cert_by_entry(void **state)
{
	static const uint8_t short_list[] = { 0, 0 };
	uint8_t many[3 + 20 * 4];
	struct flight f;
	struct col c = { 0 };
	const struct msg *m;

	(void)state;
	check_by_entry(cl_empty, sizeof(cl_empty));
	check_by_entry(cl_two, sizeof(cl_two));
	check_by_entry(cl_zero_entry, sizeof(cl_zero_entry));
	check_by_entry(cl_trailing, sizeof(cl_trailing));
	check_by_entry(cl_entry_overrun, sizeof(cl_entry_overrun));
	check_by_entry(cl_list_short, sizeof(cl_list_short));
	check_by_entry(cl_list_long, sizeof(cl_list_long));
	check_by_entry(cl_trunc_hdr, sizeof(cl_trunc_hdr));
	check_by_entry(short_list, sizeof(short_list));
	check_by_entry(NULL, 0);
	many_entries(many);
	check_by_entry(many, sizeof(many));
	/* A real chain (leaf and intermediate). */
	run_handshake(&tls12, &f);
	assert_int_equal(parse_all(f.s2c.d, f.s2c.len, 0, &c), 0);
	m = col_find(&c, TLS_HS_CERTIFICATE);
	assert_non_null(m);
	check_by_entry(m->body, m->len);
	col_free(&c);
	flight_free(&f);
}

static void test_zero_length_records(void **state)
{
	static const uint8_t appdata0[] = { 23, 3, 3, 0, 0, 21, 3, 3, 0, 0 };
	static const uint8_t hs0[] = { 22, 3, 3, 0, 0 };
	struct col c = { 0 };
	struct tls_parser p;

	(void)state;
	tls_parser_init(&p, 0);
	assert_int_equal(tls_parser_feed(&p, appdata0, 5, &cbs, &c), 0);
	assert_int_equal(c.nrecs, 1); /* at once, not later */
	assert_int_equal(c.recs[0].type, TLS_CT_APPDATA);
	assert_int_equal(c.recs[0].avail, 0);
	assert_int_equal(c.recs[0].rec_len, 0);
	assert_int_equal(tls_parser_feed(&p, appdata0 + 5, 5, &cbs, &c), 0);
	assert_int_equal(c.nrecs, 2);
	assert_int_equal(c.recs[1].type, TLS_CT_ALERT);
	assert_int_equal(p.records, 2);
	tls_parser_free(&p);
	col_free(&c);
	/* An empty handshake fragment is forbidden (RFC 5246 6.2.1). */
	assert_int_equal(parse_all(hs0, sizeof(hs0), 0, &c), -1);
	assert_int_equal(c.errors, 1);
	col_free(&c);
}

static void test_handshake_garbage(void **state)
{
	/* A well-framed ClientHello message holding nonsense. */
	static const uint8_t in[] = { 22,   3,	  1,	0,    12,   1,	  0,	0,   8,
				      0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef };
	/* Several zero-length messages then one with a stray byte. */
	static const uint8_t zeros[] = { 22, 3, 3, 0, 9, 14, 0, 0, 0, 0, 0, 0, 0, 0x77 };
	struct col c = { 0 };
	struct tls_client_hello ch;
	uint64_t x = 99;

	(void)state;
	assert_int_equal(parse_all(in, sizeof(in), 0, &c), 0);
	assert_int_equal(c.nmsgs, 1);
	assert_int_equal(tls_parse_client_hello(c.msgs[0].body, c.msgs[0].len, &ch), -1);
	assert_int_equal(tls_parse_server_hello(c.msgs[0].body, c.msgs[0].len,
						&(struct tls_server_hello){ 0 }),
			 -1);
	col_free(&c);
	assert_int_equal(parse_all(zeros, sizeof(zeros), 0, &c), 0);
	assert_int_equal(c.nmsgs, 2);
	assert_int_equal(c.msgs[0].type, 14);
	assert_int_equal(c.msgs[1].type, 0);
	col_free(&c);
	/* Random payloads in handshake records. */
	for (int round = 0; round < 2000; round++) {
		uint8_t b[5 + 300];
		size_t n = 1 + rnd(&x) % 300;

		b[0] = 22, b[1] = 3, b[2] = 3, b[3] = (uint8_t)(n >> 8), b[4] = (uint8_t)n;
		for (size_t i = 0; i < n; i++)
			b[5 + i] = (uint8_t)rnd(&x);
		if (round % 2)
			b[6] = b[7] = 0; /* plausible lengths */
		parse_all(b, 5 + n, 0, &c);
		assert_true(c.errors <= 1);
		decode_all(&c);
		col_free(&c);
	}
}

static void test_ccs_inside_message(void **state)
{
	/* Certificate message begun (needs 16 bytes), then a CCS. */
	static const uint8_t in[] = { 22, 3, 3, 0, 6, 11, 0, 0, 16, 0, 0, 20, 3, 3, 0, 1, 1 };
	struct col c = { 0 };

	(void)state;
	assert_int_equal(parse_all(in, sizeof(in), 0, &c), -1);
	assert_int_equal(c.errors, 1);
	assert_int_equal(c.nrecs, 0);
}

static void test_alert(void **state)
{
	static const uint8_t in[] = { 21, 3, 3, 0, 2, 2, 42 };
	struct col c = { 0 };
	struct tls_parser p;

	(void)state;
	tls_parser_init(&p, 0);
	assert_int_equal(tls_parser_feed(&p, in, 6, &cbs, &c), 0);
	assert_int_equal(c.nrecs, 0); /* 1 of 2 bytes */
	assert_int_equal(tls_parser_feed(&p, in + 6, 1, &cbs, &c), 0);
	assert_int_equal(c.nrecs, 1);
	assert_int_equal(c.recs[0].type, TLS_CT_ALERT);
	assert_int_equal(c.recs[0].version, 0x0303);
	assert_int_equal(c.recs[0].avail, 2);
	assert_int_equal(c.recs[0].rec_len, 2);
	assert_int_equal(c.recs[0].body[0], 2); /* fatal */
	assert_string_equal(tls_alert_name(c.recs[0].body[1]), "bad_certificate");
	assert_false(p.encrypted);
	tls_parser_free(&p);
	col_free(&c);
}

/* The capture may stop right after 8 body bytes: report without waiting. */
static void test_report_on_peek(void **state)
{
	uint8_t in[5 + 1000] = { 23, 3, 3, 0x03, 0xe8, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	static const uint8_t ccs[] = { 20, 3, 3, 0, 1, 1 };
	struct col c = { 0 };
	struct tls_parser p;

	(void)state;
	tls_parser_init(&p, 0);
	assert_int_equal(tls_parser_feed(&p, in, 5 + 7, &cbs, &c), 0);
	assert_int_equal(c.nrecs, 0);
	assert_int_equal(tls_parser_feed(&p, in + 12, 1, &cbs, &c), 0);
	assert_int_equal(c.nrecs, 1);
	assert_int_equal(c.recs[0].avail, 8);
	assert_int_equal(c.recs[0].rec_len, 1000);
	assert_memory_equal(c.recs[0].body, in + 5, 8);
	/* The rest of the record does not report it again. */
	assert_int_equal(tls_parser_feed(&p, in + 13, sizeof(in) - 13, &cbs, &c), 0);
	assert_int_equal(c.nrecs, 1);
	assert_int_equal(p.hdr_have, 0);
	tls_parser_free(&p);
	col_free(&c);

	/* A stream that ends right after a 1-byte CCS. */
	assert_int_equal(parse_all(ccs, sizeof(ccs), 0, &c), 0);
	assert_int_equal(c.nrecs, 1);
	assert_int_equal(c.recs[0].type, TLS_CT_CCS);
	col_free(&c);
}

/* The consumer frees the parser from a callback once it has what it
 * wants: nothing more is parsed or reported, in this feed or later. */
static void test_free_in_callback(void **state)
{
	static const uint8_t alerts[] = { 21, 3, 3, 0, 2, 1, 0, 21, 3, 3, 0, 2, 1, 0 };
	struct flight f;
	struct tls_parser p;
	struct col c = { 0 };

	(void)state;
	run_handshake(&tls12, &f);
	/* ServerHello came from a copy (split feed): freed under the parser */
	tls_parser_init(&p, 0);
	c.stop = &p;
	assert_int_equal(tls_parser_feed(&p, f.s2c.d, 20, &cbs, &c), 0);
	assert_int_equal(tls_parser_feed(&p, f.s2c.d + 20, f.s2c.len - 20, &cbs, &c), -1);
	assert_int_equal(c.nmsgs, 1);
	assert_int_equal(c.nrecs + c.errors, 0);
	assert_int_equal(tls_parser_feed(&p, f.s2c.d, f.s2c.len, &cbs, &c), -1);
	assert_int_equal(c.nmsgs, 1);
	col_free(&c);

	/* Same with all messages in one record, and a whole one (no copy). */
	{
		struct buf hs, rf;

		handshake_bytes(&f.s2c, &hs);
		reframe(&hs, 16384, &rf);
		for (size_t cut = 20; cut <= rf.len; cut += rf.len - 20) {
			tls_parser_init(&p, 0);
			c.stop = &p;
			tls_parser_feed(&p, rf.d, cut, &cbs, &c);
			assert_int_equal(tls_parser_feed(&p, rf.d + cut, rf.len - cut, &cbs, &c),
					 -1);
			assert_int_equal(c.nmsgs, 1);
			col_free(&c);
		}
		free(hs.d);
		free(rf.d);
	}

	tls_parser_init(&p, 0);
	c.stop = &p;
	assert_int_equal(tls_parser_feed(&p, alerts, sizeof(alerts), &cbs, &c), -1);
	assert_int_equal(c.nrecs, 1);
	col_free(&c);
	flight_free(&f);
}

/* ---- decoders on hand-made bodies --------------------------------------- */

/* ClientHello body: version, random, sid, suites, compression, [exts]. */
static size_t make_ch(uint8_t *b, const uint8_t *ext, size_t ext_len, bool with_exts)
{
	size_t n = 0;

	b[n++] = 3, b[n++] = 1;
	memset(b + n, 0xab, 32), n += 32;
	b[n++] = 0; /* session id */
	b[n++] = 0, b[n++] = 4, b[n++] = 0, b[n++] = 0x2f, b[n++] = 0, b[n++] = 0xff;
	b[n++] = 1, b[n++] = 0; /* null compression */
	if (with_exts) {
		b[n++] = (uint8_t)(ext_len >> 8), b[n++] = (uint8_t)ext_len;
		if (ext_len)
			memcpy(b + n, ext, ext_len), n += ext_len;
	}
	return n;
}

static size_t ext_sni(uint8_t *e, const uint8_t *name, size_t len)
{
	size_t n = 0;

	e[n++] = 0, e[n++] = 0;
	e[n++] = (uint8_t)((len + 5) >> 8), e[n++] = (uint8_t)(len + 5);
	e[n++] = (uint8_t)((len + 3) >> 8), e[n++] = (uint8_t)(len + 3);
	e[n++] = 0;
	e[n++] = (uint8_t)(len >> 8), e[n++] = (uint8_t)len;
	memcpy(e + n, name, len);
	return n + len;
}

static void test_client_hello_decode(void **state)
{
	uint8_t b[2048], e[1024], name[300];
	struct tls_client_hello ch;
	size_t n, en;

	(void)state;
	/* SSLv3 / TLS 1.0 style: no extensions block at all. */
	n = make_ch(b, NULL, 0, false);
	assert_int_equal(tls_parse_client_hello(b, n, &ch), 0);
	assert_int_equal(ch.version, 0x0301);
	assert_false(ch.has_sni);
	assert_false(ch.has_session);
	/* Every truncation is rejected, never read past. */
	for (size_t k = 0; k < n; k++)
		assert_int_equal(tls_parse_client_hello(b, k, &ch), -1);
	/* Trailing junk after the extensions block. */
	n = make_ch(b, NULL, 0, true);
	b[n++] = 0;
	assert_int_equal(tls_parse_client_hello(b, n, &ch), -1);

	/* A 300-byte host name is cut to TLS_SNI_MAX. */
	memset(name, 'a', sizeof(name));
	en = ext_sni(e, name, sizeof(name));
	n = make_ch(b, e, en, true);
	assert_int_equal(tls_parse_client_hello(b, n, &ch), 0);
	assert_true(ch.has_sni);
	assert_int_equal(strlen(ch.sni), TLS_SNI_MAX);
	/* A NUL inside the name would hide what follows it. */
	name[5] = 0;
	en = ext_sni(e, name, 20);
	n = make_ch(b, e, en, true);
	assert_int_equal(tls_parse_client_hello(b, n, &ch), -1);
	/* Two server_name extensions. */
	en = ext_sni(e, (const uint8_t *)"a.test", 6);
	en += ext_sni(e + en, (const uint8_t *)"b.test", 6);
	n = make_ch(b, e, en, true);
	assert_int_equal(tls_parse_client_hello(b, n, &ch), -1);
	/* Two supported_versions: which one would the server read? */
	{
		static const uint8_t ext[] = { 0, 43, 0, 3, 2, 0x03, 0x03,
					       0, 43, 0, 3, 2, 0x03, 0x04 };

		n = make_ch(b, ext, sizeof(ext), true);
		assert_int_equal(tls_parse_client_hello(b, n, &ch), -1);
		n = make_ch(b, ext, 7, true);
		assert_int_equal(tls_parse_client_hello(b, n, &ch), 0);
	}
	/* Extension length past the block. */
	en = ext_sni(e, (const uint8_t *)"a.test", 6);
	e[3]++;
	n = make_ch(b, e, en, true);
	assert_int_equal(tls_parse_client_hello(b, n, &ch), -1);

	/* supported_versions with a draft, non-empty ticket, ALPN. */
	{
		static const uint8_t ext[] = {
			0,   43,  0,	5,    4,   0x7f, 0x1c, 0x03, 0x03, 0, 35,
			0,   2,	  0xaa, 0xbb, 0,   16,	 0,    9,    0,	   7, 2,
			'h', '2', 3,	'a',  ',', 'b',	 0x0a, 0x0a, 0,	   0, /* GREASE */
		};

		n = make_ch(b, ext, sizeof(ext), true);
		assert_int_equal(tls_parse_client_hello(b, n, &ch), 0);
		assert_true(ch.offers_tls13);
		assert_true(ch.has_session);
		assert_string_equal(ch.alpn, "h2,a?b");
	}
	{
		static const uint8_t ext[] = { 0, 43, 0, 3, 2, 0x03, 0x03, 0, 35, 0, 0 };

		n = make_ch(b, ext, sizeof(ext), true);
		assert_int_equal(tls_parse_client_hello(b, n, &ch), 0);
		assert_false(ch.offers_tls13);
		assert_false(ch.has_session);
	}
	{
		static const uint8_t ext[] = { 0, 16, 0, 3, 0, 1, 0 }; /* empty name */

		n = make_ch(b, ext, sizeof(ext), true);
		assert_int_equal(tls_parse_client_hello(b, n, &ch), -1);
	}
	/* ALPN list longer than TLS_ALPN_MAX: whole names only, in order
	 * (the short last name would fit, but not after the ones dropped). */
	{
		size_t ln = 0;

		e[0] = 0, e[1] = 16;
		for (int i = 0; i < 30; i++) {
			e[6 + ln] = i < 29 ? 9 : 1;
			memcpy(e + 7 + ln, "protocolX", e[6 + ln]);
			e[7 + ln + e[6 + ln] - 1] = (uint8_t)('A' + i);
			ln += 1 + e[6 + ln];
		}
		e[2] = (uint8_t)((ln + 2) >> 8), e[3] = (uint8_t)(ln + 2);
		e[4] = (uint8_t)(ln >> 8), e[5] = (uint8_t)ln;
		n = make_ch(b, e, 6 + ln, true);
		assert_int_equal(tls_parse_client_hello(b, n, &ch), 0);
		assert_int_equal(strlen(ch.alpn), 12 * 10 - 1); /* 12 names fit */
		assert_int_equal(ch.alpn[strlen(ch.alpn) - 1], 'A' + 11);
	}
}

/* Each extension a ClientHello may carry once is refused twice (tls.c's
 * tracked_exts, one bit each); an untracked one (padding) may repeat. */
static void test_client_hello_repeats(void **state)
{
	static const struct {
		uint16_t type;
		uint8_t len;
		uint8_t body[12];
	} once[] = {
		{ 0, 11, { 0, 9, 0, 0, 6, 'a', '.', 't', 'e', 's', 't' } }, /* server_name */
		{ 16, 5, { 0, 3, 2, 'h', '2' } },			    /* ALPN */
		{ 35, 0, { 0 } },					    /* session_ticket */
		{ 43, 3, { 2, 0x03, 0x03 } },				    /* supported_versions */
		{ 10, 4, { 0, 2, 0, 29 } },				    /* supported_groups */
		{ 11, 2, { 1, 0 } },					    /* ec_point_formats */
		{ 13, 4, { 0, 2, 4, 3 } },		      /* signature_algorithms */
		{ 41, 0, { 0 } },			      /* pre_shared_key */
		{ 42, 0, { 0 } },			      /* early_data */
		{ 51, 8, { 0, 6, 0, 29, 0, 2, 0xaa, 0xbb } }, /* key_share */
	};
	uint8_t b[256], e[64];
	struct tls_client_hello ch;
	size_t n, en;

	(void)state;
	for (size_t i = 0; i < sizeof(once) / sizeof(once[0]); i++) {
		en = 0;
		for (int k = 0; k < 2; k++) {
			e[en++] = (uint8_t)(once[i].type >> 8), e[en++] = (uint8_t)once[i].type;
			e[en++] = 0, e[en++] = once[i].len;
			memcpy(e + en, once[i].body, once[i].len), en += once[i].len;
			n = make_ch(b, e, en, true);
			assert_int_equal(tls_parse_client_hello(b, n, &ch), k ? -1 : 0);
		}
	}
	{
		static const uint8_t pad[] = { 0, 21, 0, 2, 0, 0, 0, 21, 0, 1, 0 };

		n = make_ch(b, pad, sizeof(pad), true);
		assert_int_equal(tls_parse_client_hello(b, n, &ch), 0);
	}
}

static void test_server_hello_decode(void **state)
{
	static const uint8_t hrr_random[32] = {
		0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C,
		0x02, 0x1E, 0x65, 0xB8, 0x91, 0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB,
		0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
	};
	uint8_t b[128];
	struct tls_server_hello sh;
	size_t n = 0;

	(void)state;
	b[n++] = 3, b[n++] = 0;
	memcpy(b + n, hrr_random, 32), n += 32;
	b[n++] = 0;
	b[n++] = 0, b[n++] = 0x05, b[n++] = 0;
	assert_int_equal(tls_parse_server_hello(b, n, &sh), 0); /* SSLv3 */
	assert_true(sh.hrr);
	assert_int_equal(sh.version, 0x0300);
	assert_string_equal(tls_version_number(sh.version), "3.0");
	assert_string_equal(tls_version_protocol(sh.version), "ssl");
	assert_string_equal(tls_cipher_name(sh.cipher), "TLS_RSA_WITH_RC4_128_SHA");
	for (size_t k = 0; k < n; k++)
		assert_int_equal(tls_parse_server_hello(b, k, &sh), -1);
	b[10] ^= 1;
	assert_int_equal(tls_parse_server_hello(b, n, &sh), 0);
	assert_false(sh.hrr);
	{
		/* supported_versions, then an empty extension of type 0 */
		static const uint8_t sv[] = { 0, 10, 0, 43, 0, 2, 0x7f, 0x17, 0, 0, 0, 0 };
		static const uint8_t sv3[] = { 0, 7, 0, 43, 0, 3, 0x03, 0x04, 0 };

		memcpy(b + n, sv, sizeof(sv));
		assert_int_equal(tls_parse_server_hello(b, n + sizeof(sv), &sh), 0);
		assert_int_equal(sh.legacy_version, 0x0300);
		assert_int_equal(sh.version, 0x7f17);
		assert_string_equal(tls_version_number(sh.version), "1.3");
		for (size_t k = n + 1; k < n + sizeof(sv); k++)
			assert_int_equal(tls_parse_server_hello(b, k, &sh), -1);
		memcpy(b + n, sv3, sizeof(sv3)); /* not 2 bytes */
		assert_int_equal(tls_parse_server_hello(b, n + sizeof(sv3), &sh), -1);
	}
	{
		/* ALPN must select exactly one protocol. */
		static const uint8_t one[] = { 0, 10, 0, 16, 0, 6, 0, 4, 3, 'f', 'o', 'o' };
		static const uint8_t two[] = { 0, 12, 0, 16, 0, 8, 0, 6, 2, 'h', '2', 2, 'h', '3' };

		memcpy(b + n, one, sizeof(one));
		assert_int_equal(tls_parse_server_hello(b, n + sizeof(one), &sh), 0);
		assert_string_equal(sh.alpn, "foo");
		memcpy(b + n, two, sizeof(two));
		assert_int_equal(tls_parse_server_hello(b, n + sizeof(two), &sh), -1);
	}
	/* Session id longer than 32. */
	b[34] = 33;
	assert_int_equal(tls_parse_server_hello(b, sizeof(b), &sh), -1);
}

/* ---- SSLv2, CertificateStatus, DTLS ClientHello ------------------------- */

/* SSLv2 record: 2-byte header (high bit set), msg_type, body. */
static size_t ssl2_record(uint8_t *out, uint8_t type, const uint8_t *body, size_t n)
{
	size_t len = n + 1;

	assert_true(len <= 0x7fff);
	out[0] = (uint8_t)(0x80 | len >> 8);
	out[1] = (uint8_t)len;
	out[2] = type;
	memcpy(out + 3, body, n);
	return 3 + n;
}

/* CLIENT-HELLO body (after msg_type), as a TLS 1.0 client sends it for
 * compatibility: version, 3 cipher specs, session id, 16-byte challenge. */
static size_t ssl2_ch_body(uint8_t *b, size_t sid_len)
{
	static const uint8_t specs[] = { 0x00, 0x00, 0x2f, 0x00, 0x00, 0x35, 0x01, 0x00, 0x80 };
	size_t n = 0;

	b[n++] = 0x03, b[n++] = 0x01;
	b[n++] = 0, b[n++] = sizeof(specs);
	b[n++] = 0, b[n++] = (uint8_t)sid_len;
	b[n++] = 0, b[n++] = 16;
	memcpy(b + n, specs, sizeof(specs)), n += sizeof(specs);
	memset(b + n, 0x5a, sid_len), n += sid_len;
	memset(b + n, 0xc3, 16), n += 16;
	return n;
}

static void test_ssl2_client_hello_then_tls(void **state)
{
	static const uint8_t tls_after[] = {
		22, 3, 1, 0, 8, 16,   0,    0,	  4,	0, 2, 0xaa, 0xbb, /* ClientKeyExchange */
		20, 3, 1, 0, 1, 1,					  /* ChangeCipherSpec */
		22, 3, 1, 0, 4, 0xde, 0xad, 0xbe, 0xef,			  /* encrypted Finished */
	};
	uint8_t body[128], in[256];
	struct tls_client_hello ch;
	struct col ref = { 0 };
	size_t bn, n;

	(void)state;
	bn = ssl2_ch_body(body, 0);
	n = ssl2_record(in, 1, body, bn);
	memcpy(in + n, tls_after, sizeof(tls_after));
	n += sizeof(tls_after);
	assert_int_equal(parse_all(in, n, 0, &ref), 0);
	assert_int_equal(ref.errors, 0);
	assert_int_equal(ref.nmsgs, 2);
	assert_int_equal(ref.msgs[0].type, TLS_HS_SSL2_CLIENT_HELLO);
	assert_int_equal(ref.msgs[0].len, bn);
	assert_memory_equal(ref.msgs[0].body, body, bn);
	assert_int_equal(ref.msgs[1].type, TLS_HS_CLIENT_KEY_EXCHANGE);
	assert_int_equal(ref.nrecs, 2);
	assert_int_equal(ref.recs[0].type, TLS_CT_CCS);
	assert_int_equal(ref.recs[1].type, TLS_CT_HANDSHAKE); /* encrypted */
	assert_int_equal(tls_parse_ssl2_client_hello(ref.msgs[0].body, ref.msgs[0].len, &ch), 0);
	assert_int_equal(ch.version, 0x0301);
	assert_false(ch.has_session);
	assert_false(ch.has_sni);

	/* Every split into two feeds, then byte by byte: the same events. */
	for (size_t cut = 0; cut <= n; cut++) {
		struct tls_parser p;
		struct col c = { 0 };

		tls_parser_init(&p, 0);
		assert_int_equal(tls_parser_feed(&p, in, cut, &cbs, &c), 0);
		assert_int_equal(tls_parser_feed(&p, in + cut, n - cut, &cbs, &c), 0);
		tls_parser_free(&p);
		col_assert_equal(&c, &ref);
		col_free(&c);
	}
	{
		struct tls_parser p;
		struct col c = { 0 };

		tls_parser_init(&p, 0);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(tls_parser_feed(&p, in + i, 1, &cbs, &c), 0);
		tls_parser_free(&p);
		col_assert_equal(&c, &ref);
		col_free(&c);
	}
	col_free(&ref);

	/* A session id; lengths that do not add up; bad field values. */
	bn = ssl2_ch_body(body, 16);
	assert_int_equal(tls_parse_ssl2_client_hello(body, bn, &ch), 0);
	assert_true(ch.has_session);
	for (size_t k = 0; k < bn; k++)
		assert_int_equal(tls_parse_ssl2_client_hello(body, k, &ch), -1);
	body[bn] = 0;
	assert_int_equal(tls_parse_ssl2_client_hello(body, bn + 1, &ch), -1);
	body[3] = 8; /* specs not a multiple of 3 */
	assert_int_equal(tls_parse_ssl2_client_hello(body, bn - 1, &ch), -1);
	bn = ssl2_ch_body(body, 0);
	body[7] = 15; /* challenge < 16 */
	assert_int_equal(tls_parse_ssl2_client_hello(body, bn - 1, &ch), -1);
}

static void test_ssl2_stream_rules(void **state)
{
	uint8_t body[128], in[512];
	struct col c = { 0 };
	struct tls_parser p;
	size_t bn, n;

	(void)state;
	bn = ssl2_ch_body(body, 0);
	/* CLIENT-HELLO then CLIENT-MASTER-KEY: an SSLv2 session; the direction
	 * stops quietly, whatever follows. */
	n = ssl2_record(in, 1, body, bn);
	n += ssl2_record(in + n, 2, body, 20);
	memcpy(in + n, "\x16\x03\x01\x00\x01\x00", 6);
	tls_parser_init(&p, 0);
	assert_int_equal(tls_parser_feed(&p, in, n + 6, &cbs, &c), 0);
	assert_int_equal(tls_parser_feed(&p, (const uint8_t *)"garbage", 7, &cbs, &c), 0);
	assert_true(p.encrypted);
	tls_parser_free(&p);
	assert_int_equal(c.nmsgs, 1);
	assert_int_equal(c.errors, 0);
	col_free(&c);

	/* A first record that is not a hello: quiet stop, nothing reported. */
	n = ssl2_record(in, 5, body, 30);
	assert_int_equal(parse_all(in, n, 0, &c), 0);
	assert_int_equal(c.nmsgs + c.nrecs + c.errors, 0);
	col_free(&c);

	/* SSLv2 after TLS records is not SSLv2. */
	memcpy(in, "\x15\x03\x03\x00\x02\x01\x00", 7);
	n = 7 + ssl2_record(in + 7, 1, body, bn);
	assert_int_equal(parse_all(in, n, 0, &c), -1);
	assert_int_equal(c.nrecs, 1);
	assert_string_equal(c.err, "not a TLS record");
	col_free(&c);

	/* SSLv2 hello, TLS, then SSLv2 again: TLS has begun, so an error. */
	n = ssl2_record(in, 1, body, bn);
	memcpy(in + n, "\x15\x03\x01\x00\x02\x01\x00", 7);
	n += 7;
	n += ssl2_record(in + n, 2, body, 20);
	assert_int_equal(parse_all(in, n, 0, &c), -1);
	assert_int_equal(c.nmsgs, 1);
	assert_int_equal(c.nrecs, 1);
	assert_string_equal(c.err, "not a TLS record");
	col_free(&c);

	/* Zero length; longer than msg_max (both fail cleanly). */
	assert_int_equal(parse_all((const uint8_t *)"\x80\x00\x01\x03", 4, 0, &c), -1);
	assert_string_equal(c.err, "bad SSLv2 record");
	col_free(&c);
	n = ssl2_record(in, 1, body, bn);
	assert_int_equal(parse_all(in, n, (uint32_t)bn - 1, &c), -1);
	assert_string_equal(c.err, "handshake message too long");
	col_free(&c);
	assert_int_equal(parse_all(in, n, (uint32_t)bn, &c), 0);
	assert_int_equal(c.nmsgs, 1);
	col_free(&c);

	/* A 3-byte header (high bit clear) is not supported: not TLS either. */
	assert_int_equal(parse_all((const uint8_t *)"\x40\x30\x00\x01\x03\x01", 6, 0, &c), -1);
	assert_string_equal(c.err, "not a TLS record");
	col_free(&c);

	/* Truncated inside the hello: nothing yet, no error. */
	n = ssl2_record(in, 1, body, bn);
	for (size_t k = 0; k < n; k++) {
		assert_int_equal(parse_all(in, k, 0, &c), 0);
		assert_int_equal(c.nmsgs + c.errors, 0);
		col_free(&c);
	}
}

/* SSLv2 SERVER-HELLO body carrying the test leaf. */
static size_t ssl2_sh_body(uint8_t *b, const uint8_t *cert, size_t cert_len)
{
	size_t n = 0;

	b[n++] = 0;		      /* session_id_hit */
	b[n++] = 1;		      /* X.509 certificate */
	b[n++] = 0x00, b[n++] = 0x02; /* SSLv2 */
	b[n++] = (uint8_t)(cert_len >> 8), b[n++] = (uint8_t)cert_len;
	b[n++] = 0, b[n++] = 3;	 /* cipher specs */
	b[n++] = 0, b[n++] = 16; /* connection id */
	memcpy(b + n, cert, cert_len), n += cert_len;
	b[n++] = 0x01, b[n++] = 0x00, b[n++] = 0x80; /* SSL_CK_RC4_128_WITH_MD5 */
	memset(b + n, 0x77, 16), n += 16;
	return n;
}

static void test_ssl2_server_hello(void **state)
{
	uint8_t *body, *in;
	struct tls_server_hello sh;
	struct tls_cert_list cl;
	struct col c = { 0 };
	size_t bn, n;

	(void)state;
	body = malloc(64 + (size_t)pki.leaf_der_len);
	in = malloc(128 + (size_t)pki.leaf_der_len);
	assert_non_null(body);
	assert_non_null(in);
	bn = ssl2_sh_body(body, pki.leaf_der, (size_t)pki.leaf_der_len);
	n = ssl2_record(in, 4, body, bn);
	n += ssl2_record(in + n, 5, body, 40); /* SERVER-VERIFY: encrypted */
	assert_int_equal(parse_all(in, n, 0, &c), 0);
	assert_int_equal(c.errors, 0);
	assert_int_equal(c.nmsgs, 1);
	assert_int_equal(c.msgs[0].type, TLS_HS_SSL2_SERVER_HELLO);
	assert_int_equal(tls_parse_ssl2_server_hello(c.msgs[0].body, c.msgs[0].len, &sh, &cl), 0);
	assert_int_equal(sh.version, 0x0002);
	assert_string_equal(tls_version_number(sh.version), "2");
	assert_string_equal(tls_version_protocol(sh.version), "ssl");
	assert_int_equal(cl.n, 1);
	assert_int_equal(cl.total, 1);
	assert_int_equal(cl.der_len[0], pki.leaf_der_len);
	assert_memory_equal(cl.der[0], pki.leaf_der, pki.leaf_der_len);
	col_free(&c);

	for (size_t k = 0; k < bn; k++)
		assert_int_equal(tls_parse_ssl2_server_hello(body, k, &sh, &cl), -1);
	body[1] = 2; /* not X.509 */
	assert_int_equal(tls_parse_ssl2_server_hello(body, bn, &sh, &cl), -1);
	body[1] = 1;
	body[0] = 1; /* hit, yet a certificate */
	assert_int_equal(tls_parse_ssl2_server_hello(body, bn, &sh, &cl), -1);
	body[0] = 0;
	body[5]++; /* cert length past the rest */
	assert_int_equal(tls_parse_ssl2_server_hello(body, bn, &sh, &cl), -1);
	body[5]--;
	body[9] = 8; /* connection id < 16 */
	assert_int_equal(tls_parse_ssl2_server_hello(body, bn - 8, &sh, &cl), -1);
	{
		/* Session-id hit: no certificate at all. */
		static const uint8_t hit[] = { 1, 0, 0, 2, 0, 0, 0,  0,	 0,  16, 1,  2,	 3,
					       4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

		assert_int_equal(tls_parse_ssl2_server_hello(hit, sizeof(hit), &sh, &cl), 0);
		assert_int_equal(cl.n + cl.total, 0);
		assert_int_equal(sh.version, 0x0002);
	}
	free(body);
	free(in);
}

static void test_certificate_status(void **state)
{
	static const uint8_t ocsp[] = { 0x30, 0x03, 0x0a, 0x01, 0x03 }; /* tryLater */
	uint8_t b[16] = { 1, 0, 0, sizeof(ocsp) };
	const uint8_t *der;
	size_t der_len, n = 4 + sizeof(ocsp);

	(void)state;
	memcpy(b + 4, ocsp, sizeof(ocsp));
	assert_int_equal(tls_parse_certificate_status(b, n, &der, &der_len), 0);
	assert_ptr_equal(der, b + 4);
	assert_int_equal(der_len, sizeof(ocsp));
	for (size_t k = 0; k < n; k++) {
		assert_int_equal(tls_parse_certificate_status(b, k, &der, &der_len), -1);
		assert_null(der);
	}
	b[n] = 0; /* trailing byte */
	assert_int_equal(tls_parse_certificate_status(b, n + 1, &der, &der_len), -1);
	b[0] = 2; /* ocsp_multi: not stapled here */
	assert_int_equal(tls_parse_certificate_status(b, n, &der, &der_len), -1);
	b[0] = 1;
	b[3] = 0; /* empty response */
	assert_int_equal(tls_parse_certificate_status(b, 4, &der, &der_len), -1);
	b[3] = sizeof(ocsp) + 1; /* longer than the message */
	assert_int_equal(tls_parse_certificate_status(b, n, &der, &der_len), -1);
	b[1] = 0xff, b[3] = sizeof(ocsp);
	assert_int_equal(tls_parse_certificate_status(b, n, &der, &der_len), -1);
}

static void test_dtls_client_hello_decode(void **state)
{
	uint8_t b[512], e[64];
	struct tls_client_hello ch;
	size_t n = 0, no_ext, en = ext_sni(e, (const uint8_t *)"dtls.example.test", 17);

	(void)state;
	b[n++] = 0xfe, b[n++] = 0xfd;
	memset(b + n, 0x11, 32), n += 32;
	b[n++] = 0;  /* session id */
	b[n++] = 20; /* cookie */
	memset(b + n, 0xc0, 20), n += 20;
	b[n++] = 0, b[n++] = 2, b[n++] = 0xc0, b[n++] = 0x2b;
	b[n++] = 1, b[n++] = 0;
	no_ext = n;
	b[n++] = 0, b[n++] = (uint8_t)en;
	memcpy(b + n, e, en), n += en;
	assert_int_equal(tls_parse_dtls_client_hello(b, n, &ch), 0);
	assert_int_equal(ch.version, 0xfefd);
	assert_true(ch.has_sni);
	assert_string_equal(ch.sni, "dtls.example.test");
	assert_false(ch.has_session);
	assert_int_equal(tls_parse_client_hello(b, n, &ch), -1); /* cookie read as suites */
	/* Every truncation fails, except the one a hello without extensions has. */
	for (size_t k = 0; k < n; k++)
		assert_int_equal(tls_parse_dtls_client_hello(b, k, &ch), k == no_ext ? 0 : -1);
	b[35] = 21; /* cookie longer than it is */
	assert_int_equal(tls_parse_dtls_client_hello(b, n, &ch), -1);
	/* An empty cookie (the first ClientHello) and no extensions. */
	n = 0;
	b[n++] = 0xfe, b[n++] = 0xff;
	memset(b + n, 0x11, 32), n += 32;
	b[n++] = 0, b[n++] = 0;
	b[n++] = 0, b[n++] = 2, b[n++] = 0x00, b[n++] = 0x2f;
	b[n++] = 1, b[n++] = 0;
	assert_int_equal(tls_parse_dtls_client_hello(b, n, &ch), 0);
	assert_int_equal(ch.version, 0xfeff);
	assert_false(ch.has_sni);
}

/* ---- names -------------------------------------------------------------- */

static void test_versions(void **state)
{
	static const struct {
		uint16_t v;
		const char *num, *proto;
	} t[] = {
		{ 0x0300, "3.0", "ssl" },  { 0x0301, "1.0", "tls" },  { 0x0302, "1.1", "tls" },
		{ 0x0303, "1.2", "tls" },  { 0x0304, "1.3", "tls" },  { 0x7f1c, "1.3", "tls" },
		{ 0xfeff, "1.0", "dtls" }, { 0xfefd, "1.2", "dtls" }, { 0x0305, NULL, NULL },
		{ 0x0200, NULL, NULL },	   { 0x0002, "2", "ssl" },    { 0xfefe, NULL, NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const char *num = tls_version_number(t[i].v);
		const char *proto = tls_version_protocol(t[i].v);

		if (t[i].num) {
			assert_string_equal(num, t[i].num);
			assert_string_equal(proto, t[i].proto);
		} else {
			assert_null(num);
			assert_null(proto);
		}
	}
}

static void *cipher_thread(void *arg)
{
	(void)arg;
	return (void *)tls_cipher_name(0xC02F);
}

static void test_cipher_names(void **state)
{
	static const struct {
		uint16_t id;
		const char *name;
	} t[] = {
		{ 0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" },
		{ 0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" },
		{ 0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" },
		{ 0x1301, "TLS_AES_128_GCM_SHA256" },
		{ 0x1302, "TLS_AES_256_GCM_SHA384" },
		{ 0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA" },
		{ 0x0005, "TLS_RSA_WITH_RC4_128_SHA" },
		{ 0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA" },
		{ 0xC012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA" },
		{ 0x00FF, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV" },
		{ 0x5600, "TLS_FALLBACK_SCSV" },
		{ 0x0A0A, NULL }, /* GREASE */
		{ 0xFFFF, NULL },
	};
	pthread_t th[4];

	(void)state;
	/* First use from several threads at once: one-time init. */
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, cipher_thread, NULL), 0);
	for (int i = 0; i < 4; i++) {
		void *r;

		assert_int_equal(pthread_join(th[i], &r), 0);
		assert_string_equal(r, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
	}
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (t[i].name)
			assert_string_equal(tls_cipher_name(t[i].id), t[i].name);
		else
			assert_null(tls_cipher_name(t[i].id));
	}
}

static void test_alert_names(void **state)
{
	static const char *const names[] = {
		"close_notify",
		"unexpected_message",
		"bad_record_mac",
		"decryption_failed",
		"record_overflow",
		"decompression_failure",
		"handshake_failure",
		"no_certificate",
		"bad_certificate",
		"unsupported_certificate",
		"certificate_revoked",
		"certificate_expired",
		"certificate_unknown",
		"illegal_parameter",
		"unknown_ca",
		"access_denied",
		"decode_error",
		"decrypt_error",
		"export_restriction",
		"protocol_version",
		"insufficient_security",
		"internal_error",
		"inappropriate_fallback",
		"user_canceled",
		"no_renegotiation",
		"missing_extension",
		"unsupported_extension",
		"certificate_unobtainable",
		"unrecognized_name",
		"bad_certificate_status_response",
		"bad_certificate_hash_value",
		"unknown_psk_identity",
		"certificate_required",
		"no_application_protocol",
	};
	static const uint8_t codes[] = {
		0,  10, 20, 21, 22, 30, 40, 41,	 42,  43,  44,	45,  46,  47,  48,  49,	 50,
		51, 60, 70, 71, 80, 86, 90, 100, 109, 110, 111, 112, 113, 114, 115, 116, 120,
	};
	unsigned known = 0;

	(void)state;
	assert_int_equal(sizeof(names) / sizeof(names[0]), sizeof(codes));
	for (size_t i = 0; i < sizeof(codes); i++)
		assert_string_equal(tls_alert_name(codes[i]), names[i]);
	for (int d = 0; d < 256; d++)
		known += tls_alert_name((uint8_t)d) != NULL;
	assert_int_equal(known, sizeof(codes));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cipher_names),
		cmocka_unit_test(test_tls12_server_flight),
		cmocka_unit_test(test_tls12_client_hello),
		cmocka_unit_test(test_every_split),
		cmocka_unit_test(test_reframed),
		cmocka_unit_test(test_tls13),
		cmocka_unit_test(test_tls13_hrr),
		cmocka_unit_test(test_client_hello_facts),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_record_too_long),
		cmocka_unit_test(test_not_tls),
		cmocka_unit_test(test_bad_second_record),
		cmocka_unit_test(test_msg_max),
		cmocka_unit_test(test_msg_buffer_growth),
		cmocka_unit_test(test_cert_list_inconsistent),
		cmocka_unit_test(test_cert_list_shapes),
		cmocka_unit_test(test_cert_by_entry),
		cmocka_unit_test(test_zero_length_records),
		cmocka_unit_test(test_handshake_garbage),
		cmocka_unit_test(test_ccs_inside_message),
		cmocka_unit_test(test_alert),
		cmocka_unit_test(test_report_on_peek),
		cmocka_unit_test(test_free_in_callback),
		cmocka_unit_test(test_client_hello_decode),
		cmocka_unit_test(test_client_hello_repeats),
		cmocka_unit_test(test_server_hello_decode),
		cmocka_unit_test(test_ssl2_client_hello_then_tls),
		cmocka_unit_test(test_ssl2_stream_rules),
		cmocka_unit_test(test_ssl2_server_hello),
		cmocka_unit_test(test_certificate_status),
		cmocka_unit_test(test_dtls_client_hello_decode),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_alert_names),
	};

	return cmocka_run_group_tests(tests, setup_pki, teardown_pki);
}
