/* test_dtls.c - unit tests for DTLS record and fragment reassembly (user/dtls.c),
 * on datagrams of real OpenSSL DTLS 1.0 / 1.2 handshakes made in memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "x509_helpers.h"
#include "dtls.h"

/* ---- collecting callbacks ------------------------------------------------ */

#define COL_MAX 64

struct msg {
	uint8_t type;
	uint8_t *body;
	size_t len;
};

struct col {
	struct msg msgs[COL_MAX];
	size_t nmsgs;
	uint8_t rec_types[COL_MAX];
	uint16_t rec_versions[COL_MAX];
	size_t nrecs;
	unsigned errors;
	struct dtls_parser *stop; /* freed from the next handshake callback */
};

static void on_hs(void *ctx, uint8_t type, const uint8_t *body, size_t len)
{
	struct col *c = ctx;

	assert_non_null(body);
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
		dtls_parser_free(c->stop);
}

static void on_rec(void *ctx, uint8_t type, uint16_t version, const uint8_t *body, size_t avail,
		   size_t rec_len)
{
	struct col *c = ctx;

	assert_true(avail <= 8 && avail <= rec_len);
	if (avail)
		assert_non_null(body);
	if (c->nrecs < COL_MAX) {
		c->rec_types[c->nrecs] = type;
		c->rec_versions[c->nrecs] = version;
	}
	c->nrecs++;
}

static void on_err(void *ctx, const char *what)
{
	struct col *c = ctx;

	assert_non_null(what);
	c->errors++;
}

static const struct tls_cb cbs = { .handshake = on_hs, .record = on_rec, .error = on_err };

static void col_free(struct col *c)
{
	for (size_t i = 0; i < c->nmsgs && i < COL_MAX; i++)
		free(c->msgs[i].body);
	memset(c, 0, sizeof(*c));
}

/* Same handshake messages, in the same order. */
static void col_assert_same_msgs(const struct col *a, const struct col *b)
{
	assert_int_equal(a->nmsgs, b->nmsgs);
	for (size_t i = 0; i < a->nmsgs && i < COL_MAX; i++) {
		assert_int_equal(a->msgs[i].type, b->msgs[i].type);
		assert_int_equal(a->msgs[i].len, b->msgs[i].len);
		assert_memory_equal(a->msgs[i].body, b->msgs[i].body, a->msgs[i].len);
	}
}

static size_t col_count(const struct col *c, uint8_t type)
{
	size_t n = 0;

	for (size_t i = 0; i < c->nmsgs && i < COL_MAX; i++)
		n += c->msgs[i].type == type;
	return n;
}

static const struct msg *col_find(const struct col *c, uint8_t type)
{
	for (size_t i = 0; i < c->nmsgs && i < COL_MAX; i++)
		if (c->msgs[i].type == type)
			return &c->msgs[i];
	return NULL;
}

/* ---- datagram lists ------------------------------------------------------ */

struct dg {
	uint8_t *d;
	size_t len;
	int flight; /* which handshake call wrote it */
};

struct dgl {
	struct dg *v;
	size_t n, cap;
	int flight;
};

static void dgl_add(struct dgl *l, const void *d, size_t len, int flight)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		assert_non_null(l->v);
	}
	l->v[l->n].d = malloc(len ? len : 1);
	assert_non_null(l->v[l->n].d);
	memcpy(l->v[l->n].d, d, len);
	l->v[l->n].len = len;
	l->v[l->n].flight = flight;
	l->n++;
}

static void dgl_free(struct dgl *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].d);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* Feed every datagram of l (in the order of idx, if given). */
static struct dtls_stats feed(const struct dgl *l, const size_t *idx, struct col *c)
{
	struct dtls_parser p;
	struct dtls_stats st;

	dtls_parser_init(&p, 0);
	for (size_t i = 0; i < l->n; i++) {
		const struct dg *g = &l->v[idx ? idx[i] : i];

		assert_int_equal(dtls_feed_datagram(&p, g->d, g->len, &cbs, c), 0);
	}
	st = p.stats;
	dtls_parser_free(&p);
	return st;
}

/* ---- a real DTLS handshake ------------------------------------------------ */

static EVP_PKEY *srv_key;
static X509 *srv_cert;
static uint8_t *srv_der;
static int srv_der_len;

static int setup(void **state)
{
	(void)state;
	srv_key = EVP_RSA_gen(2048); /* an RSA certificate: several fragments */
	assert_non_null(srv_key);
	srv_cert = x509_mint(&(const struct x509_spec){
		.key = srv_key,
		.cn = "dtls.example.test",
		.o = "",
		.serial = 0x4433,
		.from_now = true,
		.nb_s = -3600,
		.na_s = 86400,
		.bare = true,
	});
	srv_der = NULL;
	srv_der_len = i2d_X509(srv_cert, &srv_der);
	assert_true(srv_der_len > 600);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	OPENSSL_free(srv_der);
	X509_free(srv_cert);
	EVP_PKEY_free(srv_key);
	return 0;
}

static const unsigned char cookie[] = "certsentry-cookie-0123";

static int cookie_gen(SSL *s, unsigned char *out, unsigned int *len)
{
	(void)s;
	memcpy(out, cookie, sizeof(cookie) - 1);
	*len = sizeof(cookie) - 1;
	return 1;
}

static int cookie_verify(SSL *s, const unsigned char *c, unsigned int len)
{
	(void)s;
	return len == sizeof(cookie) - 1 && memcmp(c, cookie, len) == 0;
}

/* Each BIO_write of the DTLS layer is one datagram: logged from the write
 * BIO's callback, so datagram boundaries survive the memory BIO. */
static long log_write(BIO *b, int oper, const char *argp, size_t len, int argi, long argl, int ret,
		      size_t *processed)
{
	struct dgl *l = (struct dgl *)BIO_get_callback_arg(b);

	(void)len, (void)argi, (void)argl;
	if (oper == (BIO_CB_WRITE | BIO_CB_RETURN) && ret > 0 && processed)
		dgl_add(l, argp, *processed, l->flight);
	return ret;
}

/* New datagrams of one side into the other's read BIO, one write each. */
static void relay(BIO *wbio, struct dgl *l, size_t *sent, BIO *peer_rbio)
{
	char junk[4096];

	while (BIO_read(wbio, junk, sizeof(junk)) > 0)
		;
	for (; *sent < l->n; (*sent)++)
		assert_int_equal(BIO_write(peer_rbio, l->v[*sent].d, (int)l->v[*sent].len),
				 (int)l->v[*sent].len);
	l->flight++;
}

struct hs {
	struct dgl c2s, s2c;
};

static void run_dtls(int version, bool cookies, long mtu, struct hs *h)
{
	SSL_CTX *cctx = SSL_CTX_new(DTLS_client_method());
	SSL_CTX *sctx = SSL_CTX_new(DTLS_server_method());
	BIO *c_in = BIO_new(BIO_s_mem()), *c_out = BIO_new(BIO_s_mem());
	BIO *s_in = BIO_new(BIO_s_mem()), *s_out = BIO_new(BIO_s_mem());
	size_t c_sent = 0, s_sent = 0;
	int c_done = 0, s_done = 0;
	SSL *c, *s;

	assert_non_null(cctx);
	assert_non_null(sctx);
	memset(h, 0, sizeof(*h));
	for (int i = 0; i < 2; i++) {
		SSL_CTX *x = i ? sctx : cctx;

		assert_true(SSL_CTX_set_min_proto_version(x, version));
		assert_true(SSL_CTX_set_max_proto_version(x, version));
		/* DTLS 1.0 needs SHA-1/MD5: security level 0 in OpenSSL 3. */
		assert_true(SSL_CTX_set_cipher_list(x, "ECDHE-RSA-AES128-SHA:@SECLEVEL=0"));
	}
	assert_true(SSL_CTX_use_certificate(sctx, srv_cert));
	assert_true(SSL_CTX_use_PrivateKey(sctx, srv_key));
	SSL_CTX_set_cookie_generate_cb(sctx, cookie_gen);
	SSL_CTX_set_cookie_verify_cb(sctx, cookie_verify);
	c = SSL_new(cctx);
	s = SSL_new(sctx);
	assert_non_null(c);
	assert_non_null(s);
	if (cookies)
		SSL_set_options(s, SSL_OP_COOKIE_EXCHANGE);
	SSL_set_options(c, SSL_OP_NO_QUERY_MTU);
	SSL_set_options(s, SSL_OP_NO_QUERY_MTU);
	assert_true(SSL_set_mtu(c, mtu));
	assert_true(SSL_set_mtu(s, mtu));
	BIO_set_callback_ex(c_out, log_write);
	BIO_set_callback_arg(c_out, (char *)&h->c2s);
	BIO_set_callback_ex(s_out, log_write);
	BIO_set_callback_arg(s_out, (char *)&h->s2c);
	SSL_set_bio(c, c_in, c_out);
	SSL_set_bio(s, s_in, s_out);
	assert_true(SSL_set_tlsext_host_name(c, "dtls.example.test"));
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	for (int i = 0; i < 30 && !(c_done && s_done); i++) {
		c_done = SSL_do_handshake(c) == 1;
		relay(c_out, &h->c2s, &c_sent, s_in);
		s_done = SSL_do_handshake(s) == 1;
		relay(s_out, &h->s2c, &s_sent, c_in);
	}
	assert_true(c_done && s_done);
	assert_int_equal(SSL_version(c), version);
	SSL_free(c);
	SSL_free(s);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

static void hs_free(struct hs *h)
{
	dgl_free(&h->c2s);
	dgl_free(&h->s2c);
}

/* Datagrams of l holding a fragment of a handshake message of this type
 * (a test-side walk over well-formed datagrams). */
static size_t dgrams_with(const struct dgl *l, uint8_t type)
{
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++) {
		const uint8_t *d = l->v[i].d;
		size_t off = 0;
		bool has = false;

		while (off + 13 + 12 <= l->v[i].len) {
			has |= d[off] == 22 && d[off + 3] == 0 && d[off + 4] == 0 &&
			       d[off + 13] == type;
			off += 13 + ((size_t)d[off + 11] << 8 | d[off + 12]);
		}
		n += has;
	}
	return n;
}

/* What both directions of a handshake must show. */
static void check_client(const struct col *c, uint16_t version, bool cookies)
{
	struct tls_client_hello ch;
	const struct msg *m;

	assert_int_equal(c->errors, 0);
	assert_int_equal(col_count(c, TLS_HS_CLIENT_HELLO), cookies ? 2 : 1);
	assert_int_equal(col_count(c, TLS_HS_CLIENT_KEY_EXCHANGE), 1);
	assert_int_equal(c->nmsgs, cookies ? 3 : 2);
	m = col_find(c, TLS_HS_CLIENT_HELLO);
	assert_non_null(m);
	assert_int_equal(tls_parse_dtls_client_hello(m->body, m->len, &ch), 0);
	assert_true(ch.has_sni);
	assert_string_equal(ch.sni, "dtls.example.test");
	assert_int_equal(ch.version, version);
	if (cookies) /* the second ClientHello carries the cookie */
		assert_non_null(
			memmem(c->msgs[1].body, c->msgs[1].len, cookie, sizeof(cookie) - 1));
	/* CCS in the clear, then the encrypted Finished (epoch 1). */
	assert_true(c->nrecs >= 2);
	assert_int_equal(c->rec_types[0], TLS_CT_CCS);
	assert_int_equal(c->rec_types[1], TLS_CT_HANDSHAKE);
}

static void check_server(const struct col *c, uint16_t version, bool cookies)
{
	struct tls_server_hello sh;
	struct tls_cert_list cl;
	const struct msg *m;
	size_t i = 0;

	assert_int_equal(c->errors, 0);
	if (cookies) {
		assert_int_equal(c->msgs[i].type, TLS_HS_HELLO_VERIFY_REQUEST);
		assert_non_null(
			memmem(c->msgs[i].body, c->msgs[i].len, cookie, sizeof(cookie) - 1));
		i++;
	}
	/* ... and NewSessionTicket (4), sent in the clear before the CCS */
	assert_int_equal(c->nmsgs, i + 5);
	assert_int_equal(c->msgs[i].type, TLS_HS_SERVER_HELLO);
	assert_int_equal(c->msgs[i + 1].type, TLS_HS_CERTIFICATE);
	assert_int_equal(c->msgs[i + 2].type, TLS_HS_SERVER_KEY_EXCHANGE);
	assert_int_equal(c->msgs[i + 3].type, TLS_HS_SERVER_HELLO_DONE);
	assert_int_equal(c->msgs[i + 4].type, 4);
	assert_int_equal(tls_parse_server_hello(c->msgs[i].body, c->msgs[i].len, &sh), 0);
	assert_int_equal(sh.version, version);
	assert_string_equal(tls_version_protocol(sh.version), "dtls");
	assert_string_equal(tls_cipher_name(sh.cipher), "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA");
	m = &c->msgs[i + 1];
	assert_int_equal(tls_parse_certificate(m->body, m->len, &cl), 0);
	assert_int_equal(cl.n, 1);
	assert_int_equal(cl.der_len[0], srv_der_len);
	assert_memory_equal(cl.der[0], srv_der, srv_der_len);
	assert_true(c->nrecs >= 2);
	assert_int_equal(c->rec_types[0], TLS_CT_CCS);
}

static void in_order(int version, uint16_t wire, bool cookies)
{
	struct hs h;
	struct col c = { 0 }, s = { 0 };
	struct dtls_stats st;

	run_dtls(version, cookies, 300, &h);
	/* The MTU really split the Certificate over several datagrams. */
	assert_true(dgrams_with(&h.s2c, TLS_HS_CERTIFICATE) >= 3);
	st = feed(&h.c2s, NULL, &c);
	check_client(&c, wire, cookies);
	assert_int_equal(st.datagrams, h.c2s.n);
	assert_int_equal(st.bad_records + st.stun + st.not_dtls + st.dup_fragments, 0);
	st = feed(&h.s2c, NULL, &s);
	check_server(&s, wire, cookies);
	assert_true(st.fragments >= s.nmsgs + 2);
	assert_int_equal(st.bad_records + st.dup_fragments, 0);
	col_free(&c);
	col_free(&s);
	hs_free(&h);
}

static void test_dtls12_in_order(void **state)
{
	(void)state;
	in_order(DTLS1_2_VERSION, 0xfefd, true);
	in_order(DTLS1_2_VERSION, 0xfefd, false);
}

static void test_dtls10_in_order(void **state)
{
	(void)state;
	in_order(DTLS1_VERSION, 0xfeff, true);
	in_order(DTLS1_VERSION, 0xfeff, false);
}

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 32);
}

/* Reversed and shuffled inside each flight (a flight's datagrams go out
 * together; flights are an RTT apart), and the whole stream reversed when
 * there is no HelloVerifyRequest: the same messages, once each. */
static void test_reordered(void **state)
{
	struct hs h;
	struct col ref = { 0 }, c = { 0 };
	size_t *idx;

	(void)state;
	run_dtls(DTLS1_2_VERSION, true, 256, &h);
	feed(&h.s2c, NULL, &ref);
	check_server(&ref, 0xfefd, true);
	idx = malloc(h.s2c.n * sizeof(*idx));
	assert_non_null(idx);
	for (int round = 0; round < 50; round++) {
		for (size_t i = 0; i < h.s2c.n;) {
			size_t j = i;

			while (j < h.s2c.n && h.s2c.v[j].flight == h.s2c.v[i].flight)
				j++;
			for (size_t k = i; k < j; k++)
				idx[k] = round == 0 ? i + j - 1 - k : k; /* reversed */
			for (size_t k = j - 1; round && k > i; k--) {	 /* shuffled */
				size_t r = i + rnd() % (k - i + 1), t = idx[k];

				idx[k] = idx[r], idx[r] = t;
			}
			i = j;
		}
		feed(&h.s2c, idx, &c);
		col_assert_same_msgs(&c, &ref);
		col_free(&c);
	}
	free(idx);
	col_free(&ref);
	hs_free(&h);

	run_dtls(DTLS1_2_VERSION, false, 256, &h);
	feed(&h.s2c, NULL, &ref);
	check_server(&ref, 0xfefd, false);
	idx = malloc(h.s2c.n * sizeof(*idx));
	assert_non_null(idx);
	for (size_t k = 0; k < h.s2c.n; k++)
		idx[k] = h.s2c.n - 1 - k;
	feed(&h.s2c, idx, &c);
	col_assert_same_msgs(&c, &ref); /* records come in another order */
	free(idx);
	col_free(&c);
	col_free(&ref);
	hs_free(&h);
}

/* Retransmitted flights and duplicated datagrams: reported once. */
static void test_retransmitted(void **state)
{
	struct hs h;
	struct dgl twice = { 0 };
	struct col ref = { 0 }, c = { 0 };
	struct dtls_stats st;

	(void)state;
	run_dtls(DTLS1_2_VERSION, true, 300, &h);
	feed(&h.s2c, NULL, &ref);
	for (size_t i = 0; i < h.s2c.n; i++) {
		dgl_add(&twice, h.s2c.v[i].d, h.s2c.v[i].len, 0);
		dgl_add(&twice, h.s2c.v[i].d, h.s2c.v[i].len, 0);
	}
	for (size_t i = 0; i < h.s2c.n; i++) /* the whole exchange again */
		dgl_add(&twice, h.s2c.v[i].d, h.s2c.v[i].len, 0);
	st = feed(&twice, NULL, &c);
	col_assert_same_msgs(&c, &ref);
	check_server(&c, 0xfefd, true);
	assert_true(st.dup_fragments >= 2 * st.fragments / 3 - 2);
	assert_int_equal(st.bad_records, 0);
	col_free(&c);
	col_free(&ref);
	dgl_free(&twice);
	hs_free(&h);
}

/* RFC 5389 binding request: type 0x0001, length 0, magic cookie, txid. */
static void stun_request(uint8_t out[20], uint32_t n)
{
	static const uint8_t hdr[8] = { 0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42 };

	memcpy(out, hdr, 8);
	for (int i = 0; i < 12; i++)
		out[8 + i] = (uint8_t)(n * 31 + (uint32_t)i);
}

static void test_stun_interleaved(void **state)
{
	struct hs h;
	struct dgl mix = { 0 };
	struct col ref = { 0 }, c = { 0 };
	struct dtls_stats st;
	uint8_t stun[20];
	static const uint8_t rtp[12] = { 0x80, 0x60, 0, 1 };
	static const uint8_t turn[8] = { 0x40, 0x00, 0, 4, 1, 2, 3, 4 };
	static const uint8_t zrtp[12] = { 0x10, 0, 0x50, 0x5a };

	(void)state;
	run_dtls(DTLS1_2_VERSION, false, 300, &h);
	feed(&h.c2s, NULL, &ref);
	for (size_t i = 0; i < h.c2s.n; i++) {
		stun_request(stun, (uint32_t)i);
		dgl_add(&mix, stun, sizeof(stun), 0);
		dgl_add(&mix, h.c2s.v[i].d, h.c2s.v[i].len, 0);
	}
	dgl_add(&mix, rtp, sizeof(rtp), 0);
	dgl_add(&mix, turn, sizeof(turn), 0);
	dgl_add(&mix, zrtp, sizeof(zrtp), 0);
	dgl_add(&mix, "", 0, 0);
	st = feed(&mix, NULL, &c);
	col_assert_same_msgs(&c, &ref);
	check_client(&c, 0xfefd, false);
	assert_int_equal(st.stun, h.c2s.n);
	assert_int_equal(st.not_dtls, 4);
	assert_int_equal(st.datagrams, mix.n);
	assert_int_equal(st.bad_records, 0);
	col_free(&c);
	col_free(&ref);
	dgl_free(&mix);
	hs_free(&h);
}

/* ---- hand-made records --------------------------------------------------- */

static size_t rec(uint8_t *o, uint8_t type, uint16_t epoch, uint64_t seq, const uint8_t *body,
		  size_t n)
{
	o[0] = type, o[1] = 0xfe, o[2] = 0xfd;
	o[3] = (uint8_t)(epoch >> 8), o[4] = (uint8_t)epoch;
	for (int i = 0; i < 6; i++)
		o[5 + i] = (uint8_t)(seq >> (40 - 8 * i));
	o[11] = (uint8_t)(n >> 8), o[12] = (uint8_t)n;
	if (n)
		memcpy(o + 13, body, n);
	return 13 + n;
}

static size_t frag(uint8_t *o, uint8_t type, uint32_t len, uint16_t seq, uint32_t off,
		   const uint8_t *d, uint32_t flen)
{
	o[0] = type;
	o[1] = (uint8_t)(len >> 16), o[2] = (uint8_t)(len >> 8), o[3] = (uint8_t)len;
	o[4] = (uint8_t)(seq >> 8), o[5] = (uint8_t)seq;
	o[6] = (uint8_t)(off >> 16), o[7] = (uint8_t)(off >> 8), o[8] = (uint8_t)off;
	o[9] = (uint8_t)(flen >> 16), o[10] = (uint8_t)(flen >> 8), o[11] = (uint8_t)flen;
	if (flen)
		memcpy(o + 12, d, flen);
	return 12 + flen;
}

/* One handshake fragment in one record in one datagram. */
static int feed_frag(struct dtls_parser *p, struct col *c, uint8_t type, uint32_t len, uint16_t seq,
		     uint32_t off, const uint8_t *d, uint32_t flen)
{
	uint8_t f[2048], r[2100];
	size_t fn = frag(f, type, len, seq, off, d, flen);

	return dtls_feed_datagram(p, r, rec(r, 22, 0, seq, f, fn), &cbs, c);
}

/* Overlapping fragments of every size, in random order, several per record. */
static void test_overlapping_fragments(void **state)
{
	uint8_t body[3000], f[2048], r[4096];
	struct dtls_parser p;
	struct col c = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)rnd();
	for (uint32_t size = 1; size < 700; size = size * 3 + 1) {
		uint32_t step = size > 2 ? size - size / 3 : size; /* overlap a third */
		uint32_t nfr = 0, offs[4096];

		for (uint32_t o = 0; o < sizeof(body); o += step)
			offs[nfr++] = o;
		for (uint32_t k = nfr - 1; k > 0; k--) {
			uint32_t j = rnd() % (k + 1), t = offs[k];

			offs[k] = offs[j], offs[j] = t;
		}
		dtls_parser_init(&p, 0);
		for (uint32_t k = 0; k < nfr;) {
			size_t rn = 0;

			/* up to three fragments in one record */
			for (int in = 0; in < 3 && k < nfr; in++, k++) {
				uint32_t o = offs[k];
				uint32_t fl = o + size > sizeof(body) ? sizeof(body) - o : size;

				rn += frag(f + rn, TLS_HS_CERTIFICATE, sizeof(body), 0, o, body + o,
					   fl);
				if (rn > 1200)
					break;
			}
			assert_int_equal(
				dtls_feed_datagram(&p, r, rec(r, 22, 0, k, f, rn), &cbs, &c), 0);
		}
		assert_int_equal(c.nmsgs, 1);
		assert_int_equal(c.msgs[0].len, sizeof(body));
		assert_memory_equal(c.msgs[0].body, body, sizeof(body));
		assert_int_equal(p.stats.bad_records, 0);
		dtls_parser_free(&p);
		col_free(&c);
	}
}

/* Bad lengths, garbage and lies: counted, skipped, never fatal. */
static void test_bad_records(void **state)
{
	static const uint8_t body[16] = "0123456789abcdef";
	uint8_t r[256], f[64], d[512];
	struct dtls_parser p;
	struct col c = { 0 };
	size_t n, fn;

	(void)state;
	dtls_parser_init(&p, 1000);
	/* Record length past the datagram: the rest is skipped. */
	fn = frag(f, TLS_HS_SERVER_HELLO_DONE, 0, 0, 0, NULL, 0);
	n = rec(r, 22, 0, 0, f, fn);
	r[12] += 1;
	assert_int_equal(dtls_feed_datagram(&p, r, n, &cbs, &c), 0);
	assert_int_equal(p.stats.bad_records, 1);
	assert_int_equal(c.nmsgs, 0);
	/* Header cut short; version not DTLS; content type 27. */
	assert_int_equal(dtls_feed_datagram(&p, r, 12, &cbs, &c), 0);
	memcpy(d, r, n), d[1] = 0x03, d[12] -= 1;
	assert_int_equal(dtls_feed_datagram(&p, d, n, &cbs, &c), 0);
	d[0] = 27, d[1] = 0xfe;
	assert_int_equal(dtls_feed_datagram(&p, d, n, &cbs, &c), 0);
	assert_int_equal(p.stats.bad_records, 4);
	/* Fragment header cut short inside a record; frag_len past it. */
	n = rec(r, 22, 0, 0, f, 11);
	assert_int_equal(dtls_feed_datagram(&p, r, n, &cbs, &c), 0);
	fn = frag(f, TLS_HS_SERVER_HELLO, 16, 0, 0, body, 16);
	f[11] = 17;
	n = rec(r, 22, 0, 0, f, fn);
	assert_int_equal(dtls_feed_datagram(&p, r, n, &cbs, &c), 0);
	assert_int_equal(p.stats.bad_records, 6);
	/* offset + frag_len past the length; length past msg_max. */
	assert_int_equal(feed_frag(&p, &c, 2, 16, 0, 8, body, 9), 0);
	assert_int_equal(feed_frag(&p, &c, 2, 1001, 0, 0, body, 16), 0);
	assert_int_equal(feed_frag(&p, &c, 2, 0xffffff, 0, 0xfffff0, body, 16), 0);
	assert_int_equal(p.stats.bad_records, 9);
	/* A fragment disagreeing with the first on type or length. */
	assert_int_equal(feed_frag(&p, &c, 2, 16, 0, 0, body, 8), 0);
	assert_int_equal(feed_frag(&p, &c, 11, 16, 0, 8, body + 8, 8), 0);
	assert_int_equal(feed_frag(&p, &c, 2, 17, 0, 8, body + 8, 8), 0);
	assert_int_equal(p.stats.bad_records, 11);
	assert_int_equal(c.nmsgs, 0);
	/* ... and the good one still completes it; a later bad record in the
	 * same datagram does not undo the good one before it. */
	fn = frag(f, 2, 16, 0, 8, body + 8, 8);
	n = rec(d, 22, 0, 1, f, fn);
	memcpy(d + n, "\x16\xfe\xfd\x00\x00", 5);
	assert_int_equal(dtls_feed_datagram(&p, d, n + 5, &cbs, &c), 0);
	assert_int_equal(c.nmsgs, 1);
	assert_memory_equal(c.msgs[0].body, body, 16);
	assert_int_equal(p.stats.bad_records, 12);
	assert_int_equal(c.errors, 0);
	assert_false(p.failed);
	dtls_parser_free(&p);
	col_free(&c);
}

/* Several records per datagram; alerts, CCS and epoch > 0 reported as
 * records; the sequence number may jump anywhere. */
static void test_records(void **state)
{
	uint8_t d[512], f[64];
	struct dtls_parser p;
	struct col c = { 0 };
	size_t n = 0, fn;

	(void)state;
	dtls_parser_init(&p, 0);
	fn = frag(f, TLS_HS_SERVER_HELLO_DONE, 0, 0, 0, NULL, 0);
	n += rec(d + n, 22, 0, 0x123456789aULL, f, fn);
	n += rec(d + n, 21, 0, 3, (const uint8_t *)"\x02\x28", 2);
	n += rec(d + n, 20, 0, 1, (const uint8_t *)"\x01", 1);
	n += rec(d + n, 22, 1, 0, (const uint8_t *)"encrypted finished, 32 bytes....", 32);
	n += rec(d + n, 23, 1, 7, (const uint8_t *)"appdata", 7);
	assert_int_equal(dtls_feed_datagram(&p, d, n, &cbs, &c), 0);
	assert_int_equal(c.nmsgs, 1);
	assert_int_equal(c.msgs[0].type, TLS_HS_SERVER_HELLO_DONE);
	assert_int_equal(c.msgs[0].len, 0);
	assert_int_equal(c.nrecs, 4);
	assert_int_equal(c.rec_types[0], TLS_CT_ALERT);
	assert_int_equal(c.rec_types[1], TLS_CT_CCS);
	assert_int_equal(c.rec_types[2], TLS_CT_HANDSHAKE);
	assert_int_equal(c.rec_types[3], TLS_CT_APPDATA);
	assert_int_equal(c.rec_versions[0], 0xfefd);
	assert_int_equal(p.stats.records, 5);
	/* DTLS 1.3 unified headers: with a length, without one (the rest of
	 * the datagram), with a connection id (unknown length: the rest). */
	n = 0;
	d[n++] = 0x2c, d[n++] = 0x12, d[n++] = 0x34, d[n++] = 0, d[n++] = 3; /* S L */
	d[n++] = 1, d[n++] = 2, d[n++] = 3;
	d[n++] = 0x20, d[n++] = 0x05; /* rest */
	memset(d + n, 0xee, 20), n += 20;
	assert_int_equal(dtls_feed_datagram(&p, d, n, &cbs, &c), 0);
	d[0] = 0x3c;
	assert_int_equal(dtls_feed_datagram(&p, d, n, &cbs, &c), 0);
	d[0] = 0x2c, d[4] = 200; /* too long */
	assert_int_equal(dtls_feed_datagram(&p, d, n, &cbs, &c), 0);
	assert_int_equal(c.nrecs, 7);
	assert_int_equal(c.rec_versions[6], 0xfefc);
	assert_int_equal(p.stats.bad_records, 1);
	/* TLS 1.2 connection id record: the rest of the datagram. */
	n = rec(d, 25, 1, 9, (const uint8_t *)"cid+ciphertext", 14);
	assert_int_equal(dtls_feed_datagram(&p, d, n, &cbs, &c), 0);
	assert_int_equal(c.nrecs, 8);
	assert_int_equal(c.rec_types[7], 25);
	assert_int_equal(c.errors, 0);
	dtls_parser_free(&p);
	col_free(&c);
}

/* Messages held for later never exceed DTLS_MSGS_MAX; the earliest win. */
static void test_msgs_in_progress(void **state)
{
	static const uint8_t body[8] = "abcdefgh";
	struct dtls_parser p;
	struct col c = { 0 };

	(void)state;
	dtls_parser_init(&p, 0);
	/* Complete messages 1..20 (0 missing): only 8 can wait. */
	for (uint16_t s = 20; s >= 1; s--)
		assert_int_equal(feed_frag(&p, &c, 15, 8, s, 0, body, 8), 0);
	assert_int_equal(c.nmsgs, 0);
	assert_int_equal(p.stats.bad_records, 0); /* later ones made room */
	/* Half of message 0: none of 1..8 may be evicted for 0 to land. */
	assert_int_equal(feed_frag(&p, &c, TLS_HS_SERVER_HELLO, 8, 0, 0, body, 4), 0);
	assert_int_equal(feed_frag(&p, &c, 15, 8, 19, 0, body, 8), 0); /* no room */
	assert_int_equal(p.stats.bad_records, 1);
	assert_int_equal(feed_frag(&p, &c, TLS_HS_SERVER_HELLO, 8, 0, 4, body + 4, 4), 0);
	assert_int_equal(c.nmsgs, 8); /* 0..7 held; 8 was evicted by 0 */
	assert_int_equal(p.next_seq, 8);
	for (size_t i = 1; i < 8; i++)
		assert_int_equal(c.msgs[i].type, 15);
	assert_int_equal(feed_frag(&p, &c, 15, 8, 8, 0, body, 8), 0);
	assert_int_equal(c.nmsgs, 9);
	assert_int_equal(feed_frag(&p, &c, 15, 8, 3, 0, body, 8), 0); /* delivered: dup */
	assert_int_equal(c.nmsgs, 9);
	assert_true(p.stats.dup_fragments >= 1);
	dtls_parser_free(&p);
	col_free(&c);
}

/* A capture that missed the start: the first complete hello anchors the
 * sequence (the second ClientHello, or the ServerHello after an unseen
 * HelloVerifyRequest). */
static void test_missed_start(void **state)
{
	struct hs h;
	struct col c = { 0 };
	struct dgl l = { 0 };
	struct tls_client_hello ch;

	(void)state;
	run_dtls(DTLS1_2_VERSION, true, 300, &h);
	for (size_t i = 1; i < h.s2c.n; i++) /* no HelloVerifyRequest */
		dgl_add(&l, h.s2c.v[i].d, h.s2c.v[i].len, 0);
	feed(&l, NULL, &c);
	check_server(&c, 0xfefd, false);
	col_free(&c);
	dgl_free(&l);
	for (size_t i = 1; i < h.c2s.n; i++) /* no first ClientHello */
		dgl_add(&l, h.c2s.v[i].d, h.c2s.v[i].len, 0);
	feed(&l, NULL, &c);
	assert_int_equal(c.nmsgs, 2);
	assert_int_equal(c.msgs[0].type, TLS_HS_CLIENT_HELLO);
	assert_int_equal(tls_parse_dtls_client_hello(c.msgs[0].body, c.msgs[0].len, &ch), 0);
	assert_string_equal(ch.sni, "dtls.example.test");
	col_free(&c);
	dgl_free(&l);
	hs_free(&h);
}

/* Random corruption of real datagrams: nothing crashes (ASan run), and
 * nothing but allocation failure makes a direction fail. */
static void test_mutations(void **state)
{
	struct hs h;

	(void)state;
	run_dtls(DTLS1_2_VERSION, true, 300, &h);
	for (int round = 0; round < 400; round++) {
		struct dtls_parser p;
		struct col c = { 0 };

		dtls_parser_init(&p, round % 2 ? 0 : 700);
		for (size_t i = 0; i < h.s2c.n; i++) {
			uint8_t d[2048];
			size_t n = h.s2c.v[i].len;

			assert_true(n <= sizeof(d));
			memcpy(d, h.s2c.v[i].d, n);
			for (int k = rnd() % 4; k > 0; k--)
				d[rnd() % n] ^= (uint8_t)(1u << (rnd() % 8));
			if (rnd() % 5 == 0)
				n = rnd() % (n + 1);
			assert_int_equal(dtls_feed_datagram(&p, d, n, &cbs, &c), 0);
		}
		assert_int_equal(c.errors, 0);
		dtls_parser_free(&p);
		col_free(&c);
	}
	hs_free(&h);
}

/* The parser freed from its own callback stops at once. */
static void test_free_in_callback(void **state)
{
	struct hs h;
	struct dtls_parser p;
	struct col c = { 0 };
	int rc = 0;

	(void)state;
	run_dtls(DTLS1_2_VERSION, false, 300, &h);
	dtls_parser_init(&p, 0);
	c.stop = &p;
	for (size_t i = 0; i < h.s2c.n && rc == 0; i++)
		rc = dtls_feed_datagram(&p, h.s2c.v[i].d, h.s2c.v[i].len, &cbs, &c);
	assert_int_equal(rc, -1);
	assert_int_equal(c.nmsgs, 1);
	assert_int_equal(dtls_feed_datagram(&p, h.s2c.v[0].d, h.s2c.v[0].len, &cbs, &c), -1);
	assert_int_equal(c.nmsgs, 1);
	dtls_parser_free(&p);
	col_free(&c);
	hs_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dtls12_in_order),
		cmocka_unit_test(test_dtls10_in_order),
		cmocka_unit_test(test_reordered),
		cmocka_unit_test(test_retransmitted),
		cmocka_unit_test(test_stun_interleaved),
		cmocka_unit_test(test_overlapping_fragments),
		cmocka_unit_test(test_bad_records),
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_msgs_in_progress),
		cmocka_unit_test(test_missed_start),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_free_in_callback),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
