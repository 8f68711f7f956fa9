/* x509_helpers.h - OpenSSL helpers unit tests and fuzzers share (after cmocka.h, or X509H_CHECK). */
#ifndef CS_TESTS_X509_HELPERS_H
#define CS_TESTS_X509_HELPERS_H

#include <stdbool.h>
#include <stdio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "cert.h"

/* Unit tests check with cmocka; a fuzzer, which has none, defines
 * X509H_CHECK before including this (to abort). */
#ifndef X509H_CHECK
#define X509H_CHECK(c) assert_true(c)
#endif

/* One v3 extension from its config text (e.g. "critical,CA:TRUE"). */
static inline void add_ext(X509 *x, X509 *iss, int nid, const char *val)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509V3_set_ctx(&ctx, iss, x, NULL, NULL, 0);
	e = X509V3_EXT_nconf_nid(NULL, &ctx, nid, val);
	X509H_CHECK(e != NULL);
	X509H_CHECK(X509_add_ext(x, e, -1) == 1);
	X509_EXTENSION_free(e);
}

/* Uppercase hex SHA-256 of d[0..n), as certsentry prints fingerprints. */
static inline void sha256_hex(const uint8_t *d, size_t n, char out[65])
{
	uint8_t md[32];

	X509H_CHECK(EVP_Digest(d, n, md, NULL, EVP_sha256(), NULL) == 1);
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02X", md[i]);
}

/* A P-256 key, never NULL. */
static inline EVP_PKEY *x509_ec_key(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");

	X509H_CHECK(k != NULL);
	return k;
}

/*
 * The one test PKI minter: a v3 certificate signed by signer (key if NULL)
 * under issuer's name (self-signed if NULL). Subject "O=<o>, CN=<cn>"; SKID,
 * AKID, and for a CA critical basicConstraints and keyUsage, unless bare.
 */
struct x509_spec {
	EVP_PKEY *key, *signer;
	X509 *issuer; /* NULL: self-signed */
	const char *cn;
	const char *o;		    /* NULL: "certsentry test"; "": no O */
	X509_NAME *subj, *iss_name; /* taken: the names outright (cn, o, issuer unused) */
	long serial;
	const ASN1_INTEGER *serial_int; /* overrides serial (copied) */
	const char *nb, *na; /* ASN1_TIME_set_string form; 2025-01-01 and 2027-01-01 if NULL */
	bool from_now;	     /* times now + nb_s .. now + na_s instead */
	long nb_s, na_s;
	const char *san;     /* "DNS:a,IP:1.2.3.4" */
	GENERAL_NAMES *gens; /* taken: a SAN built by hand */
	bool ca;
	bool bare;		 /* no key ids, no keyUsage: only what is asked */
	const char *const *exts; /* more: name, v3 conf value, ..., NULL */
	const EVP_MD *md;	 /* default SHA-256 */
	bool md_none;		 /* sign without a digest (Ed25519) */
};

static inline void x509_times(X509 *x, const struct x509_spec *s)
{
	ASN1_TIME *t = ASN1_TIME_new();

	if (s->from_now) {
		X509H_CHECK(X509_gmtime_adj(X509_getm_notBefore(x), s->nb_s) != NULL);
		X509H_CHECK(X509_gmtime_adj(X509_getm_notAfter(x), s->na_s) != NULL);
	} else {
		X509H_CHECK(ASN1_TIME_set_string(t, s->nb ? s->nb : "20250101000000Z") == 1);
		X509_set1_notBefore(x, t);
		X509H_CHECK(ASN1_TIME_set_string(t, s->na ? s->na : "20270101000000Z") == 1);
		X509_set1_notAfter(x, t);
	}
	ASN1_TIME_free(t);
}

static inline X509 *x509_mint(const struct x509_spec *s)
{
	X509 *x = X509_new();
	X509 *iss = s->issuer ? s->issuer : x;
	X509_NAME *n = X509_NAME_new();
	const char *o = s->o ? s->o : "certsentry test";

	X509H_CHECK(x != NULL);
	X509H_CHECK(X509_set_version(x, 2) == 1);
	if (s->serial_int)
		X509H_CHECK(X509_set_serialNumber(x, (ASN1_INTEGER *)s->serial_int) == 1);
	else
		ASN1_INTEGER_set(X509_get_serialNumber(x), s->serial);
	if (o[0] && !s->subj)
		X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *)o, -1, -1,
					   0);
	if (!s->subj)
		X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)s->cn, -1,
					   -1, 0);
	if (s->subj)
		X509_NAME_free(n), n = s->subj;
	X509H_CHECK(X509_set_subject_name(x, n) == 1);
	X509H_CHECK((X509_set_issuer_name(x, s->iss_name ? s->iss_name :
					     s->issuer	 ? X509_get_subject_name(s->issuer) :
							   n)) == 1);
	X509_NAME_free(n);
	X509_NAME_free(s->iss_name);
	x509_times(x, s);
	X509H_CHECK(X509_set_pubkey(x, s->key) == 1);
	if (!s->bare) {
		add_ext(x, x, NID_subject_key_identifier, "hash");
		add_ext(x, iss, NID_authority_key_identifier, "keyid:always");
	}
	if (s->ca)
		add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE");
	if (s->ca && !s->bare)
		add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
	if (s->san)
		add_ext(x, x, NID_subject_alt_name, s->san);
	if (s->gens) {
		X509H_CHECK(X509_add1_ext_i2d(x, NID_subject_alt_name, s->gens, 0, 0) == 1);
		GENERAL_NAMES_free(s->gens);
	}
	for (const char *const *e = s->exts; e && e[0]; e += 2)
		add_ext(x, iss, OBJ_txt2nid(e[0]), e[1]);
	X509H_CHECK(X509_sign(x, s->signer ? s->signer : s->key,
			      s->md_none ? NULL :
			      s->md	 ? s->md :
					   EVP_sha256()) > 0);
	return x;
}

/* x's facts from c, as the pipeline gets them from its DER; parsed. */
static inline struct cert_facts *x509_facts(struct cert_cache *c, X509 *x)
{
	uint8_t *d = NULL;
	int n = i2d_X509(x, &d);
	struct cert_facts *f;

	X509H_CHECK(n > 0);
	f = cert_get(c, d, (size_t)n); /* released by cert_put or cert_cache_free */
	OPENSSL_free(d);
	X509H_CHECK(f != NULL);
	X509H_CHECK(f->parse_ok);
	return f;
}

#endif
