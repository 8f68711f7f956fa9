/* test_ocsp.c - unit tests for stapled OCSP response decoding (user/ocsp.c),
 * on responses built and signed with OpenSSL's OCSP API in the test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include "x509_helpers.h"

#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ocsp.h"

/* ---- a small PKI ----------------------------------------------------------- */

struct key_cert {
	EVP_PKEY *key;
	X509 *cert;
};

static struct key_cert ca, leaf, other_leaf, delegate, no_eku, rogue, fake_ca, forged;

/* key: new P-256 key unless given; issuer NULL: self-signed. Valid for a
 * day from an hour ago; SKID, and the EKU if given. */
static void make(struct key_cert *kc, EVP_PKEY *key, const char *dn_o, const char *cn, long serial,
		 const struct key_cert *issuer, const char *eku, bool is_ca)
{
	const char *exts[] = { "subjectKeyIdentifier", "hash", "extendedKeyUsage", eku, NULL };

	kc->key = key ? key : x509_ec_key();
	if (!eku)
		exts[2] = NULL;
	kc->cert = x509_mint(&(const struct x509_spec){
		.key = kc->key,
		.signer = issuer ? issuer->key : NULL,
		.issuer = issuer ? issuer->cert : NULL,
		.cn = cn,
		.o = dn_o,
		.serial = serial,
		.from_now = true,
		.nb_s = -3600,
		.na_s = 86400,
		.ca = is_ca,
		.bare = true,
		.exts = exts,
	});
}

static void kc_free(struct key_cert *kc)
{
	X509_free(kc->cert);
	EVP_PKEY_free(kc->key);
}

static int setup(void **state)
{
	(void)state;
	make(&ca, NULL, "certsentry test", "OCSP Test CA", 1, NULL, NULL, true);
	make(&leaf, NULL, "certsentry test", "www.example.test", 0x1234AB, &ca, NULL, false);
	make(&other_leaf, NULL, "certsentry test", "other.example.test", 0x5678, &ca, NULL, false);
	make(&delegate, NULL, "certsentry test", "OCSP Responder", 7, &ca, "OCSPSigning", false);
	make(&no_eku, NULL, "certsentry test", "Not A Responder", 8, &ca, "serverAuth", false);
	make(&rogue, NULL, "evil", "Rogue Responder", 9, NULL, "OCSPSigning", false);
	/* Same name as the CA, another key. */
	make(&fake_ca, NULL, "certsentry test", "OCSP Test CA", 1, NULL, NULL, true);
	/* Names the CA as its issuer, OCSPSigning, but signed by fake_ca. */
	make(&forged, NULL, "certsentry test", "OCSP Responder", 10, &fake_ca, "OCSPSigning",
	     false);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	kc_free(&ca), kc_free(&leaf), kc_free(&other_leaf), kc_free(&delegate);
	kc_free(&no_eku), kc_free(&rogue), kc_free(&fake_ca), kc_free(&forged);
	return 0;
}

/* ---- building responses ---------------------------------------------------- */

#define T_THIS 1767225600 /* 2026-01-01T00:00:00Z */
#define T_NEXT 1767830400 /* 2026-01-08T00:00:00Z */
#define T_REV  1764547200 /* 2025-12-01T00:00:00Z */

struct single {
	const struct key_cert *cert; /* the certificate it is about */
	int status;		     /* V_OCSP_CERTSTATUS_* */
	int reason;		     /* -1: none */
	bool no_next;
	const EVP_MD *md; /* CertID hash; NULL: SHA-1 */
};

struct resp_opts {
	struct single s[3];
	int n;
	const struct key_cert *signer; /* its certificate is not included */
};

static ASN1_GENERALIZEDTIME *gt(time_t t)
{
	ASN1_GENERALIZEDTIME *g = ASN1_GENERALIZEDTIME_set(NULL, t);

	assert_non_null(g);
	return g;
}

static uint8_t *build(const struct resp_opts *o, int *len)
{
	OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
	OCSP_RESPONSE *r;
	uint8_t *der = NULL;

	assert_non_null(bs);
	for (int i = 0; i < o->n; i++) {
		const struct single *s = &o->s[i];
		OCSP_CERTID *id =
			OCSP_cert_to_id(s->md ? s->md : EVP_sha1(), s->cert->cert, ca.cert);
		ASN1_GENERALIZEDTIME *tu = gt(T_THIS), *nu = s->no_next ? NULL : gt(T_NEXT);
		ASN1_GENERALIZEDTIME *rt = s->status == V_OCSP_CERTSTATUS_REVOKED ? gt(T_REV) :
										    NULL;

		assert_non_null(id);
		assert_non_null(OCSP_basic_add1_status(bs, id, s->status, s->reason, rt, tu, nu));
		OCSP_CERTID_free(id);
		ASN1_TIME_free(tu), ASN1_TIME_free(nu), ASN1_TIME_free(rt);
	}
	assert_true(OCSP_basic_sign(bs, o->signer->cert, o->signer->key, EVP_sha256(), NULL,
				    OCSP_NOCERTS));
	r = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs);
	assert_non_null(r);
	*len = i2d_OCSP_RESPONSE(r, &der);
	assert_true(*len > 0);
	OCSP_RESPONSE_free(r);
	OCSP_BASICRESP_free(bs);
	return der;
}

static int parse(const uint8_t *der, int len, X509 *l, X509 *i, struct ocsp_facts *f)
{
	return ocsp_parse(der, (size_t)len, l, i, f);
}

static const struct single good = { &leaf, V_OCSP_CERTSTATUS_GOOD, -1, false, NULL };

/* ---- tests ----------------------------------------------------------------- */

static void test_good(void **state)
{
	struct resp_opts o = { .s = { good }, .n = 1, .signer = &ca };
	struct ocsp_facts f;
	time_t now = time(NULL);
	uint8_t *der;
	int len;

	(void)state;
	der = build(&o, &len);
	assert_int_equal(parse(der, len, leaf.cert, ca.cert, &f), 0);
	assert_true(f.parse_ok);
	assert_string_equal(f.parse_error, "");
	assert_int_equal(f.response_status, 0);
	assert_string_equal(f.response_status_str, "successful");
	assert_int_equal(f.cert_status, OCSP_ST_GOOD);
	assert_true(f.matched_leaf);
	assert_string_equal(f.serial_hex, "1234AB");
	assert_true(f.produced_at >= now - 5 && f.produced_at <= now + 5);
	assert_int_equal(f.this_update, T_THIS);
	assert_int_equal(f.next_update, T_NEXT);
	assert_int_equal(f.revocation_time, 0);
	assert_int_equal(f.reason, -1);
	assert_string_equal(f.reason_str, "");
	assert_string_equal(f.responder, "CN=OCSP Test CA,O=certsentry test");
	assert_int_equal(f.n_responses, 1);
	assert_true(f.signature_checked);
	assert_true(f.signature_ok);

	/* No issuer: matched by serial, signature not checked. */
	assert_int_equal(parse(der, len, leaf.cert, NULL, &f), 0);
	assert_int_equal(f.cert_status, OCSP_ST_GOOD);
	assert_true(f.matched_leaf);
	assert_false(f.signature_checked);
	assert_false(f.signature_ok);

	/* Another certificate: no single response for it. */
	assert_int_equal(parse(der, len, other_leaf.cert, ca.cert, &f), 0);
	assert_int_equal(f.cert_status, OCSP_ST_NONE);
	assert_false(f.matched_leaf);
	assert_string_equal(f.serial_hex, "");
	assert_int_equal(f.n_responses, 1);
	assert_true(f.signature_ok);
	assert_int_equal(parse(der, len, other_leaf.cert, NULL, &f), 0);
	assert_int_equal(f.cert_status, OCSP_ST_NONE);

	/* The right serial from another issuer is another certificate. */
	assert_int_equal(parse(der, len, leaf.cert, rogue.cert, &f), 0);
	assert_int_equal(f.cert_status, OCSP_ST_NONE);
	assert_false(f.signature_ok);

	/* No leaf at all: the first response, not claimed as the leaf's. */
	assert_int_equal(parse(der, len, NULL, NULL, &f), 0);
	assert_int_equal(f.cert_status, OCSP_ST_GOOD);
	assert_false(f.matched_leaf);
	assert_string_equal(f.serial_hex, "1234AB");
	OPENSSL_free(der);
}

static void test_revoked_unknown(void **state)
{
	struct resp_opts o = {
		.s = {
			{ &other_leaf, V_OCSP_CERTSTATUS_UNKNOWN, -1, true, NULL },
			{ &leaf, V_OCSP_CERTSTATUS_REVOKED, OCSP_REVOKED_STATUS_KEYCOMPROMISE,
			  false, NULL },
		},
		.n = 2, .signer = &ca,
	};
	struct ocsp_facts f;
	uint8_t *der;
	int len;

	(void)state;
	der = build(&o, &len);
	assert_int_equal(parse(der, len, leaf.cert, ca.cert, &f), 0);
	assert_int_equal(f.n_responses, 2);
	assert_int_equal(f.cert_status, OCSP_ST_REVOKED);
	assert_true(f.matched_leaf);
	assert_string_equal(f.serial_hex, "1234AB");
	assert_int_equal(f.revocation_time, T_REV);
	assert_int_equal(f.reason, 1);
	assert_string_equal(f.reason_str, "keyCompromise");
	assert_int_equal(f.next_update, T_NEXT);
	assert_true(f.signature_ok);
	/* The other single response: unknown, no nextUpdate. */
	assert_int_equal(parse(der, len, other_leaf.cert, ca.cert, &f), 0);
	assert_int_equal(f.cert_status, OCSP_ST_UNKNOWN);
	assert_string_equal(f.serial_hex, "5678");
	assert_int_equal(f.next_update, 0);
	assert_int_equal(f.this_update, T_THIS);
	assert_int_equal(f.revocation_time, 0);
	assert_int_equal(f.reason, -1);
	assert_int_equal(parse(der, len, other_leaf.cert, NULL, &f), 0);
	assert_int_equal(f.cert_status, OCSP_ST_UNKNOWN);
	OPENSSL_free(der);

	/* Reasons OpenSSL 3.0 has no string for; revoked without a reason. */
	o.n = 1;
	o.s[0] = (struct single){ &leaf, V_OCSP_CERTSTATUS_REVOKED, 9, false, NULL };
	der = build(&o, &len);
	assert_int_equal(parse(der, len, leaf.cert, ca.cert, &f), 0);
	assert_int_equal(f.reason, 9);
	assert_string_equal(f.reason_str, "privilegeWithdrawn");
	OPENSSL_free(der);
	o.s[0].reason = -1;
	der = build(&o, &len);
	assert_int_equal(parse(der, len, leaf.cert, ca.cert, &f), 0);
	assert_int_equal(f.cert_status, OCSP_ST_REVOKED);
	assert_int_equal(f.revocation_time, T_REV);
	assert_int_equal(f.reason, -1);
	assert_string_equal(f.reason_str, "");
	OPENSSL_free(der);
}

/* CertIDs hashed with SHA-256 (and SHA-384) match too. */
static void test_certid_hashes(void **state)
{
	const EVP_MD *mds[] = { EVP_sha256(), EVP_sha384() };
	struct ocsp_facts f;

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct resp_opts o = { .s = { good }, .n = 1, .signer = &ca };
		uint8_t *der;
		int len;

		o.s[0].md = mds[i];
		der = build(&o, &len);
		assert_int_equal(parse(der, len, leaf.cert, ca.cert, &f), 0);
		assert_int_equal(f.cert_status, OCSP_ST_GOOD);
		assert_true(f.matched_leaf);
		assert_int_equal(parse(der, len, other_leaf.cert, ca.cert, &f), 0);
		assert_int_equal(f.cert_status, OCSP_ST_NONE);
		OPENSSL_free(der);
	}
}

/* OCSP_basic_sign with the signer's certificate in the response. */
static uint8_t *build_with_cert(const struct key_cert *signer, bool by_key, int *len)
{
	OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
	OCSP_CERTID *id = OCSP_cert_to_id(EVP_sha1(), leaf.cert, ca.cert);
	ASN1_GENERALIZEDTIME *tu = gt(T_THIS);
	OCSP_RESPONSE *r;
	uint8_t *der = NULL;

	assert_non_null(bs);
	assert_non_null(id);
	assert_non_null(OCSP_basic_add1_status(bs, id, V_OCSP_CERTSTATUS_GOOD, 0, NULL, tu, NULL));
	assert_true(OCSP_basic_sign(bs, signer->cert, signer->key, EVP_sha256(), NULL,
				    by_key ? OCSP_RESPID_KEY : 0));
	r = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs);
	assert_non_null(r);
	*len = i2d_OCSP_RESPONSE(r, &der);
	assert_true(*len > 0);
	OCSP_RESPONSE_free(r);
	OCSP_BASICRESP_free(bs);
	OCSP_CERTID_free(id);
	ASN1_TIME_free(tu);
	return der;
}

static void test_signatures(void **state)
{
	static const struct {
		const struct key_cert *signer;
		bool by_key, ok;
	} t[] = {
		{ &ca, false, true }, /* the issuer, its certificate included */
		{ &ca, true, true },
		{ &delegate, false, true }, /* delegated, OCSPSigning EKU */
		{ &delegate, true, true },
		{ &no_eku, false, false },  /* issued by the CA, but no OCSPSigning */
		{ &rogue, false, false },   /* OCSPSigning, not issued by the CA */
		{ &fake_ca, false, false }, /* the CA's name, another key */
		{ &fake_ca, true, false },
		{ &forged, false, false }, /* claims the CA as issuer, not signed by it */
	};
	struct ocsp_facts f;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint8_t *der;
		int len;

		der = build_with_cert(t[i].signer, t[i].by_key, &len);
		assert_int_equal(parse(der, len, leaf.cert, ca.cert, &f), 0);
		assert_int_equal(f.cert_status, OCSP_ST_GOOD);
		assert_true(f.signature_checked);
		if (f.signature_ok != t[i].ok)
			fail_msg("case %zu: signature_ok %d", i, f.signature_ok);
		if (t[i].by_key)
			assert_int_equal(strlen(f.responder), 40); /* SHA-1 key hash */
		else if (t[i].signer == &delegate)
			assert_string_equal(f.responder, "CN=OCSP Responder,O=certsentry test");
		OPENSSL_free(der);
	}
	/* The issuer signed it but a signature byte changed (no certificates
	 * follow the signature: the last byte is in it). */
	{
		struct resp_opts o = { .s = { good }, .n = 1, .signer = &ca };
		uint8_t *der;
		int len;

		der = build(&o, &len);
		der[len - 1] ^= 0x01;
		assert_int_equal(parse(der, len, leaf.cert, ca.cert, &f), 0);
		assert_true(f.parse_ok);
		assert_true(f.signature_checked);
		assert_false(f.signature_ok);
		OPENSSL_free(der);
	}
	/* The delegate's certificate left out: no signer to check with. */
	{
		struct resp_opts o = { .s = { good }, .n = 1, .signer = &delegate };
		uint8_t *der;
		int len;

		der = build(&o, &len);
		assert_int_equal(parse(der, len, leaf.cert, ca.cert, &f), 0);
		assert_int_equal(f.cert_status, OCSP_ST_GOOD);
		assert_false(f.signature_ok);
		OPENSSL_free(der);
	}
}

static void test_not_successful(void **state)
{
	static const struct {
		int st;
		const char *s;
	} t[] = {
		{ OCSP_RESPONSE_STATUS_MALFORMEDREQUEST, "malformedRequest" },
		{ OCSP_RESPONSE_STATUS_INTERNALERROR, "internalError" },
		{ OCSP_RESPONSE_STATUS_TRYLATER, "tryLater" },
		{ OCSP_RESPONSE_STATUS_SIGREQUIRED, "sigRequired" },
		{ OCSP_RESPONSE_STATUS_UNAUTHORIZED, "unauthorized" },
	};
	static const uint8_t try_later[] = { 0x30, 0x03, 0x0a, 0x01, 0x03 };
	static const uint8_t status_4[] = { 0x30, 0x03, 0x0a, 0x01, 0x04 };
	struct ocsp_facts f;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		OCSP_RESPONSE *r = OCSP_response_create(t[i].st, NULL);
		uint8_t *der = NULL;
		int len = i2d_OCSP_RESPONSE(r, &der);

		assert_true(len > 0);
		assert_int_equal(parse(der, len, leaf.cert, ca.cert, &f), 0);
		assert_true(f.parse_ok);
		assert_int_equal(f.response_status, t[i].st);
		assert_string_equal(f.response_status_str, t[i].s);
		assert_int_equal(f.cert_status, OCSP_ST_NONE);
		assert_int_equal(f.n_responses, 0);
		assert_false(f.signature_checked);
		OCSP_RESPONSE_free(r);
		OPENSSL_free(der);
	}
	assert_int_equal(ocsp_parse(try_later, sizeof(try_later), leaf.cert, NULL, &f), 0);
	assert_string_equal(f.response_status_str, "tryLater");
	assert_int_equal(ocsp_parse(status_4, sizeof(status_4), leaf.cert, NULL, &f), 0);
	assert_int_equal(f.response_status, 4); /* unused value */
	assert_string_equal(f.response_status_str, "unknown");
}

static void test_garbage(void **state)
{
	static const uint8_t junk[] = "this is not DER at all";
	static const uint8_t seq0[] = { 0x30, 0x00 };
	struct resp_opts o = { .s = { good }, .n = 1, .signer = &ca };
	struct ocsp_facts f;
	uint8_t *der, *big;
	int len;

	(void)state;
	assert_int_equal(ocsp_parse(junk, sizeof(junk), leaf.cert, ca.cert, &f), -1);
	assert_false(f.parse_ok);
	assert_string_equal(f.parse_error, "not a DER OCSPResponse");
	assert_int_equal(f.cert_status, OCSP_ST_NONE);
	assert_int_equal(ocsp_parse(seq0, sizeof(seq0), NULL, NULL, &f), -1);
	assert_int_equal(ocsp_parse(NULL, 0, NULL, NULL, &f), -1);
	assert_int_equal(ocsp_parse(junk, 0, NULL, NULL, &f), -1);

	der = build(&o, &len);
	/* Every truncation fails cleanly, with and without an issuer. */
	for (int k = 0; k < len; k++) {
		assert_int_equal(parse(der, k, leaf.cert, ca.cert, &f), -1);
		assert_false(f.parse_ok);
		assert_int_equal(parse(der, k, leaf.cert, NULL, &f), -1);
	}
	/* A trailing byte: a staple is exactly one response. */
	big = malloc((size_t)len + 1);
	assert_non_null(big);
	memcpy(big, der, (size_t)len);
	big[len] = 0;
	assert_int_equal(parse(big, len + 1, leaf.cert, ca.cert, &f), -1);
	assert_string_equal(f.parse_error, "bytes after the OCSPResponse");
	free(big);
	/* Every single-bit flip: parsed or refused, never a crash (ASan). */
	for (int k = 0; k < len; k++)
		for (int b = 0; b < 8; b += 3) {
			der[k] ^= (uint8_t)(1u << b);
			(void)parse(der, len, leaf.cert, ca.cert, &f);
			assert_true(f.parse_ok || f.parse_error[0]);
			der[k] ^= (uint8_t)(1u << b);
		}
	/* id-pkix-ocsp-basic changed to another responseType. */
	{
		static const uint8_t basic_oid[] = { 0x06, 0x09, 0x2b, 0x06, 0x01, 0x05,
						     0x05, 0x07, 0x30, 0x01, 0x01 };
		uint8_t *at = memmem(der, (size_t)len, basic_oid, sizeof(basic_oid));

		assert_non_null(at);
		at[sizeof(basic_oid) - 1] = 0x02;
		assert_int_equal(parse(der, len, leaf.cert, ca.cert, &f), -1);
		assert_string_equal(f.parse_error, "not a basic OCSP response");
		assert_int_equal(f.response_status, 0);
	}
	OPENSSL_free(der);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),	       cmocka_unit_test(test_revoked_unknown),
		cmocka_unit_test(test_certid_hashes),  cmocka_unit_test(test_signatures),
		cmocka_unit_test(test_not_successful), cmocka_unit_test(test_garbage),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
