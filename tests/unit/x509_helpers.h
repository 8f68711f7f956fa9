/* x509_helpers.h - small OpenSSL helpers the unit tests share (include after cmocka.h). */
#ifndef CS_TESTS_X509_HELPERS_H
#define CS_TESTS_X509_HELPERS_H

#include <stdbool.h>
#include <stdio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* One v3 extension from its config text (e.g. "critical,CA:TRUE"). */
static inline void add_ext(X509 *x, X509 *iss, int nid, const char *val)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509V3_set_ctx(&ctx, iss, x, NULL, NULL, 0);
	e = X509V3_EXT_nconf_nid(NULL, &ctx, nid, val);
	assert_non_null(e);
	assert_int_equal(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
}

/* Uppercase hex SHA-256 of d[0..n), as certsentry prints fingerprints. */
static inline void sha256_hex(const uint8_t *d, size_t n, char out[65])
{
	uint8_t md[32];

	assert_int_equal(EVP_Digest(d, n, md, NULL, EVP_sha256(), NULL), 1);
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02X", md[i]);
}

/* A certificate to mint: signed by signer (key if NULL) under issuer's name. */
struct x509_spec {
	EVP_PKEY *key, *signer;
	X509 *issuer;		/* NULL: self-signed */
	const char *cn;
	long serial;
	const char *nb, *na;	/* ASN1_TIME_set_string form; 2025-01-01 and 2027-01-01 if NULL */
	const char *san;	/* "DNS:a,IP:1.2.3.4" */
	bool ca;
	const EVP_MD *md;	/* default SHA-256 */
};

static inline X509 *x509_mint(const struct x509_spec *s)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	ASN1_TIME *t = ASN1_TIME_new();

	assert_int_equal(X509_set_version(x, 2), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), s->serial);
	X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *)"certsentry test", -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)s->cn, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, s->issuer ? X509_get_subject_name(s->issuer) : n);
	X509_NAME_free(n);
	assert_int_equal(ASN1_TIME_set_string(t, s->nb ? s->nb : "20250101000000Z"), 1);
	X509_set1_notBefore(x, t);
	assert_int_equal(ASN1_TIME_set_string(t, s->na ? s->na : "20270101000000Z"), 1);
	X509_set1_notAfter(x, t);
	ASN1_TIME_free(t);
	assert_int_equal(X509_set_pubkey(x, s->key), 1);
	add_ext(x, x, NID_subject_key_identifier, "hash");
	add_ext(x, s->issuer ? s->issuer : x, NID_authority_key_identifier, "keyid:always");
	if (s->ca) {
		add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
	}
	if (s->san)
		add_ext(x, x, NID_subject_alt_name, s->san);
	assert_true(X509_sign(x, s->signer ? s->signer : s->key, s->md ? s->md : EVP_sha256()) > 0);
	return x;
}

#endif
