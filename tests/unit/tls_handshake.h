/* tls_handshake.h - real TLS handshakes made in memory by OpenSSL (BIO pairs), for the unit
 * tests that parse or decrypt what each side wrote (include after cmocka.h). */
#ifndef CS_TESTS_TLS_HANDSHAKE_H
#define CS_TESTS_TLS_HANDSHAKE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include "x509_helpers.h"

struct buf {
	uint8_t *d;
	size_t len;
};

static inline void buf_add(struct buf *b, const void *d, size_t n)
{
	b->d = realloc(b->d, b->len + n);
	assert_non_null(b->d);
	memcpy(b->d + b->len, d, n);
	b->len += n;
}

/* EC root, RSA leaf signed by it: a 2-certificate chain, made once per test
 * binary (setup_pki as the group setup). */
struct pki {
	EVP_PKEY *ca_key, *leaf_key;
	X509 *ca, *leaf;
	uint8_t *ca_der, *leaf_der;
	int ca_der_len, leaf_der_len;
};

static struct pki pki;

/* Valid for a day from an hour ago, CN only, no extensions but the SAN
 * san (x509_spec's form) if not NULL. */
static inline X509 *make_cert_san(EVP_PKEY *key, EVP_PKEY *signer, X509 *issuer, const char *cn,
				  long serial, const char *san)
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
		.na_s = 86400,
		.bare = true,
		.san = san,
	};

	return x509_mint(&s);
}

static inline X509 *make_cert(EVP_PKEY *key, EVP_PKEY *signer, X509 *issuer, const char *cn,
			      long serial)
{
	return make_cert_san(key, signer, issuer, cn, serial, NULL);
}

static inline int setup_pki(void **state)
{
	(void)state;
	pki.ca_key = x509_ec_key();
	pki.leaf_key = EVP_RSA_gen(2048);
	assert_non_null(pki.leaf_key);
	pki.ca = make_cert(pki.ca_key, pki.ca_key, NULL, "certsentry test root", 1);
	pki.leaf = make_cert(pki.leaf_key, pki.ca_key, pki.ca, "www.example.test", 2);
	pki.ca_der = NULL;
	pki.leaf_der = NULL;
	pki.ca_der_len = i2d_X509(pki.ca, &pki.ca_der);
	pki.leaf_der_len = i2d_X509(pki.leaf, &pki.leaf_der);
	assert_true(pki.ca_der_len > 0 && pki.leaf_der_len > 0);
	return 0;
}

static inline int teardown_pki(void **state)
{
	(void)state;
	OPENSSL_free(pki.ca_der);
	OPENSSL_free(pki.leaf_der);
	X509_free(pki.ca);
	X509_free(pki.leaf);
	EVP_PKEY_free(pki.ca_key);
	EVP_PKEY_free(pki.leaf_key);
	return 0;
}

struct hs_opts {
	int max_version;	  /* TLS1_2_VERSION, TLS1_3_VERSION */
	const char *cipher_list;  /* TLS <= 1.2 */
	const char *ciphersuites; /* TLS 1.3 */
	const char *client_groups, *server_groups;
	const char *client_sigalgs;
	SSL_client_hello_cb_fn hello_cb; /* the server's view of each hello */
	void *hello_arg;
	X509 *leaf; /* served instead of pki.leaf (with pki.ca) */
	EVP_PKEY *leaf_key;
	const uint8_t *ocsp; /* stapled by the server when set */
	size_t ocsp_len;
	unsigned max_fragment; /* server's record size (0: OpenSSL's default) */
	/* The client verifies the chain with this callback; the handshake
	 * may then fail (run_handshake returns false instead of asserting). */
	int (*verify)(int ok, X509_STORE_CTX *ctx);
	bool no_middlebox_compat; /* client: SSL_OP_ENABLE_MIDDLEBOX_COMPAT off */
};

struct flight {
	struct buf c2s, s2c; /* bytes each side wrote */
	struct buf keylog;   /* the server's NSS key-log lines, '\n' after each
					 * (the server's: the client's lacks its own
					 * handshake secret when it refuses) */
	int c_alert;	     /* alert the client sent (SSL_AD_*), -1 if none */
};

static inline int alpn_select(SSL *s, const unsigned char **out, unsigned char *outlen,
			      const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char ours[] = "\x02h2";

	(void)s;
	(void)arg;
	if (SSL_select_next_proto((unsigned char **)out, outlen, ours, 3, in, inlen) ==
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_OK;
	return SSL_TLSEXT_ERR_NOACK;
}

static inline int staple(SSL *s, void *arg)
{
	const struct hs_opts *o = arg;
	uint8_t *copy = OPENSSL_malloc(o->ocsp_len);

	assert_non_null(copy);
	memcpy(copy, o->ocsp, o->ocsp_len);
	assert_true(SSL_set_tlsext_status_ocsp_resp(s, copy, (long)o->ocsp_len));
	return SSL_TLSEXT_ERR_OK;
}

static inline void keylog_line(const SSL *s, const char *line)
{
	struct flight *f = SSL_get_app_data(s);

	buf_add(&f->keylog, line, strlen(line));
	buf_add(&f->keylog, "\n", 1);
}

static inline void info_alert(const SSL *s, int where, int ret)
{
	struct flight *f = SSL_get_app_data(s);

	if ((where & SSL_CB_WRITE_ALERT) && f->c_alert < 0)
		f->c_alert = ret & 0xff;
}

static inline void pump(BIO *from, BIO *to, struct buf *log)
{
	char b[4096];
	int n;

	while ((n = BIO_read(from, b, sizeof(b))) > 0) {
		assert_int_equal(BIO_write(to, b, n), n);
		buf_add(log, b, (size_t)n);
	}
}

/* Runs the handshake to its end; true if both sides finished. Without a
 * verify callback it must finish. */
static inline bool run_handshake(const struct hs_opts *o, struct flight *f)
{
	static const unsigned char alpn[] = "\x02h2\x08http/1.1";
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());
	SSL *c, *s;
	BIO *c_in, *c_out, *s_in, *s_out;
	int c_done = 0, s_done = 0;

	assert_non_null(cctx);
	assert_non_null(sctx);
	memset(f, 0, sizeof(*f));
	f->c_alert = -1;
	SSL_CTX_set_max_proto_version(cctx, o->max_version);
	if (o->cipher_list)
		assert_true(SSL_CTX_set_cipher_list(cctx, o->cipher_list));
	if (o->ciphersuites) {
		assert_true(SSL_CTX_set_ciphersuites(cctx, o->ciphersuites));
		assert_true(SSL_CTX_set_ciphersuites(sctx, o->ciphersuites));
	}
	if (o->client_groups)
		assert_true(SSL_CTX_set1_groups_list(cctx, o->client_groups));
	if (o->server_groups)
		assert_true(SSL_CTX_set1_groups_list(sctx, o->server_groups));
	if (o->client_sigalgs)
		assert_true(SSL_CTX_set1_sigalgs_list(cctx, o->client_sigalgs));
	if (o->hello_cb)
		SSL_CTX_set_client_hello_cb(sctx, o->hello_cb, o->hello_arg);
	assert_int_equal(SSL_CTX_set_alpn_protos(cctx, alpn, sizeof(alpn) - 1), 0);
	assert_true(SSL_CTX_use_certificate(sctx, o->leaf ? o->leaf : pki.leaf));
	assert_true(SSL_CTX_use_PrivateKey(sctx, o->leaf_key ? o->leaf_key : pki.leaf_key));
	assert_true(SSL_CTX_add1_chain_cert(sctx, pki.ca));
	SSL_CTX_set_alpn_select_cb(sctx, alpn_select, NULL);
	if (o->ocsp) {
		SSL_CTX_set_tlsext_status_cb(sctx, staple);
		SSL_CTX_set_tlsext_status_arg(sctx, (void *)o);
	}
	if (o->max_fragment)
		assert_true(SSL_CTX_set_max_send_fragment(sctx, o->max_fragment));
	if (o->verify)
		SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, o->verify);
	if (o->no_middlebox_compat)
		SSL_CTX_clear_options(cctx, SSL_OP_ENABLE_MIDDLEBOX_COMPAT);
	SSL_CTX_set_keylog_callback(sctx, keylog_line);
	SSL_CTX_set_info_callback(cctx, info_alert);

	c = SSL_new(cctx);
	s = SSL_new(sctx);
	SSL_set_app_data(c, f);
	SSL_set_app_data(s, f);
	c_in = BIO_new(BIO_s_mem());
	c_out = BIO_new(BIO_s_mem());
	s_in = BIO_new(BIO_s_mem());
	s_out = BIO_new(BIO_s_mem());
	SSL_set_bio(c, c_in, c_out);
	SSL_set_bio(s, s_in, s_out);
	assert_true(SSL_set_tlsext_host_name(c, "www.example.test"));
	if (o->ocsp)
		assert_true(SSL_set_tlsext_status_type(c, TLSEXT_STATUSTYPE_ocsp));
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	for (int i = 0; i < 20 && !(c_done && s_done); i++) {
		c_done = SSL_do_handshake(c) == 1;
		pump(c_out, s_in, &f->c2s);
		s_done = SSL_do_handshake(s) == 1;
		pump(s_out, c_in, &f->s2c);
	}
	if (!o->verify)
		assert_true(c_done && s_done);
	ERR_clear_error();
	SSL_free(c);
	SSL_free(s);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	return c_done && s_done;
}

static inline void flight_free(struct flight *f)
{
	free(f->c2s.d);
	free(f->s2c.d);
	free(f->keylog.d);
	memset(f, 0, sizeof(*f));
}

#endif
