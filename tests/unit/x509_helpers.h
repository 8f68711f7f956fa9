/* x509_helpers.h - small OpenSSL helpers the unit tests share (include after cmocka.h). */
#ifndef CS_TESTS_X509_HELPERS_H
#define CS_TESTS_X509_HELPERS_H

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

#endif
