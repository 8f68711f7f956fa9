/* test_cert.c - cert.c against certificates minted here and OpenSSL's own answers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "x509_helpers.h"
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "cert.h"

static EVP_PKEY *k_root, *k_int, *k_leaf, *k_ec, *k_ed;
static bool have_cli; /* `openssl` binary available for cross-checks */

/* ---- minting ---- */

static X509_NAME *name_of(const char *const *kv) /* "C","US","O","x",...,NULL; most general first */
{
	X509_NAME *n = X509_NAME_new();

	for (; kv[0]; kv += 2)
		assert_int_equal(X509_NAME_add_entry_by_txt(n, kv[0], MBSTRING_UTF8,
							    (const unsigned char *)kv[1], -1, -1,
							    0),
				 1);
	return n;
}

/* Only what a test asks for: no key ids, no keyUsage. */
static X509 *mint(struct x509_spec *s)
{
	s->bare = true;
	return x509_mint(s);
}

static uint8_t *der_of(X509 *x, size_t *len)
{
	uint8_t *d = NULL;
	int n = i2d_X509(x, &d);

	assert_true(n > 0);
	*len = (size_t)n;
	return d;
}

/* ---- the openssl CLI as an oracle ---- */

static char *cli(const uint8_t *der, size_t len, const char *args)
{
	char path[] = "/tmp/test_cert_XXXXXX", cmd[512];
	static char out[65536];
	size_t n;
	FILE *p;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, der, len), (ssize_t)len);
	close(fd);
	snprintf(cmd, sizeof(cmd), "openssl x509 -inform DER -in %s -noout %s 2>/dev/null", path,
		 args);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	pclose(p);
	unlink(path);
	return out;
}

/* Value of "key=..." (one line, without the newline) in CLI output. */
static const char *cli_field(const char *out, const char *key, char *buf, size_t cap)
{
	const char *p = strstr(out, key);
	size_t n;

	assert_non_null(p);
	p += strlen(key);
	n = strcspn(p, "\n");
	assert_true(n < cap);
	memcpy(buf, p, n);
	buf[n] = '\0';
	return buf;
}

/* Everything `openssl x509` can tell us that cert.c also claims. */
static void cli_check(const uint8_t *der, size_t len, const struct cert_facts *f)
{
	char buf[8192], fp[128], cmd[512], path[] = "/tmp/test_cert_XXXXXX";
	const char *out;
	size_t j = 0;
	FILE *p;
	int fd;

	if (!have_cli)
		return;
	out = cli(der, len, "-serial -subject -issuer -nameopt RFC2253 -fingerprint -sha256");
	assert_string_equal(cli_field(out, "serial=", buf, sizeof(buf)), f->serial_hex);
	assert_string_equal(cli_field(out, "subject=", buf, sizeof(buf)), f->subject_dn);
	assert_string_equal(cli_field(out, "issuer=", buf, sizeof(buf)), f->issuer_dn);
	cli_field(out, "Fingerprint=", buf, sizeof(buf));
	for (const char *c = buf; *c && j < sizeof(fp) - 1; c++)
		if (*c != ':')
			fp[j++] = *c;
	fp[j] = '\0';
	assert_string_equal(fp, f->sha256_hex);

	/* HPKP pin recipe from RFC 7469 / Mozilla docs */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, der, len), (ssize_t)len);
	close(fd);
	snprintf(
		cmd, sizeof(cmd),
		"openssl x509 -inform DER -in %s -noout -pubkey 2>/dev/null | "
		"openssl pkey -pubin -outform DER 2>/dev/null | openssl dgst -sha256 -binary | base64",
		path);
	p = popen(cmd, "r");
	assert_non_null(p);
	j = fread(buf, 1, sizeof(buf) - 1, p);
	buf[j] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	pclose(p);
	unlink(path);
	assert_string_equal(buf, f->spki_sha256_b64);
}

/* ---- fixtures ---- */

static int setup(void **state)
{
	(void)state;
	k_root = EVP_RSA_gen(2048);
	k_int = EVP_RSA_gen(2048);
	k_leaf = EVP_RSA_gen(2048);
	k_ec = EVP_EC_gen("P-256");
	k_ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	have_cli = system("openssl version >/dev/null 2>&1") == 0;
	if (!have_cli)
		fprintf(stderr, "note: no openssl binary, CLI cross-checks skipped\n");
	return k_root && k_int && k_leaf && k_ec && k_ed ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(k_root);
	EVP_PKEY_free(k_int);
	EVP_PKEY_free(k_leaf);
	EVP_PKEY_free(k_ec);
	EVP_PKEY_free(k_ed);
	return 0;
}

static const char *const N_ROOT[] = { "C", "US", "O", "Test PKI", "CN", "Test Root", NULL };
static const char *const N_INT[] = { "C", "US", "O", "Test PKI", "CN", "Test Intermediate", NULL };
static const char *const N_LEAF[] = {
	"C", "US", "O", "Example Org", "CN", "leaf.example.com", NULL
};

/* ---- tests ---- */

static void test_rsa_chain(void **state)
{
	struct cert_cache *c = cert_cache_new(16);
	struct x509_spec sr = { .key = k_root,
				.subj = name_of(N_ROOT),
				.serial = 1,
				.ca = true,
				.nb = "20200101000000Z",
				.na = "20400101000000Z" };
	X509 *root = mint(&sr);
	struct x509_spec si = { .key = k_int,
				.signer = k_root,
				.subj = name_of(N_INT),
				.iss_name = name_of(N_ROOT),
				.serial = 0x1000,
				.ca = true };
	X509 *inter = mint(&si);
	struct x509_spec sl = {
		.key = k_leaf,
		.signer = k_int,
		.subj = name_of(N_LEAF),
		.iss_name = name_of(N_INT),
		.serial = 0x0ABCDEF,
		.san = "DNS:leaf.example.com,DNS:*.example.com,IP:192.0.2.7,"
		       "IP:2001:db8::1,email:ops@example.com,URI:https://example.com/x"
	};
	X509 *leaf = mint(&sl);
	size_t lr, li, ll;
	uint8_t *dr = der_of(root, &lr), *di = der_of(inter, &li), *dl = der_of(leaf, &ll);
	struct cert_facts *fr = cert_get(c, dr, lr), *fi = cert_get(c, di, li),
			  *fl = cert_get(c, dl, ll);
	char hex[65];
	static const char *const sans[] = { "leaf.example.com", "*.example.com",
					    "192.0.2.7",	"2001:db8::1",
					    "ops@example.com",	"https://example.com/x" };

	(void)state;
	assert_non_null(fr);
	assert_non_null(fi);
	assert_non_null(fl);
	assert_true(fr->parse_ok && fi->parse_ok && fl->parse_ok);
	assert_string_equal(fr->parse_error, "");

	sha256_hex(dl, ll, hex);
	assert_string_equal(fl->sha256_hex, hex);
	assert_int_equal(fl->der_len, ll);
	assert_string_equal(fl->serial_hex, "ABCDEF");
	assert_string_equal(fl->subject_dn, "CN=leaf.example.com,O=Example Org,C=US");
	assert_string_equal(fl->issuer_dn, "CN=Test Intermediate,O=Test PKI,C=US");
	assert_string_equal(fl->subject_cn, "leaf.example.com");
	assert_string_equal(fl->issuer_cn, "Test Intermediate");
	assert_int_equal(fl->n_sans, 6);
	assert_int_equal(fl->total_sans, 6);
	for (int i = 0; i < 6; i++)
		assert_string_equal(fl->sans[i], sans[i]);
	assert_int_equal(fl->not_before, 1735689600); /* 2025-01-01 */
	assert_int_equal(fl->not_after, 1798761600);  /* 2027-01-01 */
	assert_string_equal(fl->key_alg, "RSA");
	assert_int_equal(fl->key_bits, 2048);
	assert_string_equal(fl->key_curve, "");
	assert_string_equal(fl->sig_alg, "sha256WithRSAEncryption");
	assert_false(fl->self_signed);
	assert_non_null(fl->x509);
	assert_int_equal(strlen(fl->spki_sha256_b64), 44);
	cli_check(dl, ll, fl);

	assert_string_equal(fr->subject_dn, "CN=Test Root,O=Test PKI,C=US");
	assert_string_equal(fr->serial_hex, "01");
	assert_true(fr->self_signed);
	assert_int_equal(fr->n_sans, 0);
	assert_null(fr->sans);
	assert_int_equal(fr->not_before, 1577836800); /* 2020-01-01 */
	assert_int_equal(fr->not_after, 2208988800);  /* 2040-01-01 */
	cli_check(dr, lr, fr);
	assert_false(fi->self_signed);
	assert_string_equal(fi->serial_hex, "1000");
	cli_check(di, li, fi);
	/* different keys, different pins */
	assert_string_not_equal(fl->spki_sha256_b64, fi->spki_sha256_b64);

	cert_put(c, fr), cert_put(c, fi), cert_put(c, fl);
	OPENSSL_free(dr), OPENSSL_free(di), OPENSSL_free(dl);
	X509_free(root), X509_free(inter), X509_free(leaf);
	cert_cache_free(c);
}

static void check_key(EVP_PKEY *key, const EVP_MD *md, bool md_none, const char *alg, int bits,
		      const char *curve, const char *sig)
{
	struct cert_cache *c = cert_cache_new(4);
	static const char *const nm[] = { "CN", "key.example", NULL };
	struct x509_spec s = { .key = key,
			       .signer = k_root,
			       .subj = name_of(nm),
			       .iss_name = name_of(N_ROOT),
			       .serial = 7,
			       .md = md,
			       .md_none = md_none };
	X509 *x = mint(&s);
	size_t n;
	uint8_t *d = der_of(x, &n);
	struct cert_facts *f = cert_get(c, d, n);

	assert_true(f->parse_ok);
	assert_string_equal(f->key_alg, alg);
	assert_int_equal(f->key_bits, bits);
	assert_string_equal(f->key_curve, curve);
	assert_string_equal(f->sig_alg, sig);
	cli_check(d, n, f);
	cert_put(c, f);
	OPENSSL_free(d);
	X509_free(x);
	cert_cache_free(c);
}

static void test_key_types(void **state)
{
	(void)state;
	check_key(k_ec, NULL, false, "EC", 256, "prime256v1", "sha256WithRSAEncryption");
	check_key(k_leaf, EVP_sha384(), false, "RSA", 2048, "", "sha384WithRSAEncryption");
	check_key(k_ed, NULL, false, "Ed25519", 256, "", "sha256WithRSAEncryption");
}

static void test_ec_and_ed_signers(void **state)
{
	struct cert_cache *c = cert_cache_new(4);
	static const char *const nm[] = { "CN", "ec.example", NULL };
	struct x509_spec s = { .key = k_ec, .subj = name_of(nm), .serial = 9 }; /* self-signed EC */
	X509 *x = mint(&s);
	struct x509_spec s2 = { .key = k_ed, .subj = name_of(nm), .serial = 10, .md_none = true };
	X509 *y = mint(&s2);
	size_t n, m;
	uint8_t *d = der_of(x, &n), *e = der_of(y, &m);
	struct cert_facts *f = cert_get(c, d, n), *g = cert_get(c, e, m);

	(void)state;
	assert_string_equal(f->sig_alg, "ecdsa-with-SHA256");
	assert_string_equal(f->key_curve, "prime256v1");
	assert_true(f->self_signed); /* no keyCertSign needed: names + signature */
	assert_string_equal(g->sig_alg, "ED25519");
	assert_string_equal(g->key_alg, "Ed25519");
	assert_true(g->self_signed);
	cli_check(d, n, f);
	cli_check(e, m, g);
	cert_put(c, f), cert_put(c, g);
	OPENSSL_free(d), OPENSSL_free(e);
	X509_free(x), X509_free(y);
	cert_cache_free(c);
}

static void check_serial(struct cert_cache *c, ASN1_INTEGER *ai, long v, const char *want)
{
	static const char *const nm[] = { "CN", "serial.example", NULL };
	struct x509_spec s = { .key = k_leaf,
			       .signer = k_root,
			       .subj = name_of(nm),
			       .iss_name = name_of(N_ROOT),
			       .serial = v,
			       .serial_int = ai };
	X509 *x = mint(&s);
	size_t n;
	uint8_t *d = der_of(x, &n);
	struct cert_facts *f = cert_get(c, d, n);

	ASN1_INTEGER_free(ai); /* mint copied it */

	assert_string_equal(f->serial_hex, want);
	cli_check(d, n, f);
	cert_put(c, f);
	OPENSSL_free(d);
	X509_free(x);
}

static void test_serials(void **state)
{
	struct cert_cache *c = cert_cache_new(8);
	BIGNUM *bn = NULL;
	ASN1_INTEGER *ai;

	(void)state;
	check_serial(c, NULL, -5, "-05");
	check_serial(c, NULL, 0, "00");
	check_serial(c, NULL, 0x80, "80");
	check_serial(c, NULL, 0x7F, "7F");
	check_serial(c, NULL, -0x1234, "-1234");
	/* 20 bytes with the top bit set: 21 bytes in DER (leading 00) */
	assert_true(BN_hex2bn(&bn, "8F1122334455667788990011223344556677889A") > 0);
	ai = BN_to_ASN1_INTEGER(bn, NULL);
	check_serial(c, ai, 0, "8F1122334455667788990011223344556677889A");
	BN_set_negative(bn, 1);
	ai = BN_to_ASN1_INTEGER(bn, NULL);
	check_serial(c, ai, 0, "-8F1122334455667788990011223344556677889A");
	BN_free(bn);
	cert_cache_free(c);
}

/* Finds needle in d and overwrites it (same length) to make DER that the
 * OpenSSL encoder refuses to produce. */
static void patch(uint8_t *d, size_t n, const char *needle, const char *with)
{
	size_t k = strlen(needle);

	for (size_t i = 0; i + k <= n; i++) {
		if (!memcmp(d + i, needle, k)) {
			memcpy(d + i, with, k);
			return;
		}
	}
	fail_msg("needle %s not found", needle);
}

/* Names as an attacker would write them: control characters, quotes, RFC 2253
 * specials, a NUL, Latin-1 in a T61String, raw bytes in a dNSName. */
static void test_hostile_names(void **state)
{
	struct cert_cache *c = cert_cache_new(4);
	X509_NAME *subj = X509_NAME_new(), *iss = X509_NAME_new();
	static const char cn[] = "\x1b[31mevil\"q\",+;<>\\ \xc3\xa9\x00tail";
	GENERAL_NAMES *gens = GENERAL_NAMES_new();
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
	struct x509_spec s;
	X509 *x;
	size_t n;
	uint8_t *d;
	struct cert_facts *f, *h;

	(void)state;
	ASN1_STRING_set(ia5, "\xff\x1b]0;pwn\x07.example", -1);
	GENERAL_NAME_set0_value(g, GEN_DNS, ia5);
	sk_GENERAL_NAME_push(gens, g);
	assert_int_equal(X509_NAME_add_entry_by_txt(subj, "O", V_ASN1_T61STRING,
						    (const unsigned char *)"caf\xe9", -1, -1, 0),
			 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(subj, "CN", V_ASN1_UTF8STRING,
						    (const unsigned char *)cn, (int)sizeof(cn) - 1,
						    -1, 0),
			 1);
	/* a valid UTF-8 issuer with a multi-valued RDN and non-ASCII */
	X509_NAME_add_entry_by_txt(iss, "O", MBSTRING_UTF8,
				   (const unsigned char *)"M\xc3\xbcller & S\xc3\xb6hne", -1, -1,
				   0);
	X509_NAME_add_entry_by_txt(iss, "OU", MBSTRING_UTF8, (const unsigned char *)"a", -1, -1, 0);
	X509_NAME_add_entry_by_txt(iss, "CN", MBSTRING_UTF8, (const unsigned char *)"b", -1, -1,
				   -1);
	s = (struct x509_spec){ .key = k_leaf,
				.signer = k_root,
				.subj = subj,
				.iss_name = iss,
				.serial = 3,
				.gens = gens };
	x = mint(&s);
	d = der_of(x, &n);
	f = cert_get(c, d, n);
	assert_true(f->parse_ok);
	/* CN: UTF-8, NUL shown as U+FFFD so the tail stays visible */
	assert_string_equal(f->subject_cn, "\x1b[31mevil\"q\",+;<>\\ \xc3\xa9\xef\xbf\xbdtail");
	/* DN: RFC 2253 escaping from OpenSSL; no raw control bytes survive */
	for (const char *p = f->subject_dn; *p; p++)
		assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7F);
	assert_string_equal(
		f->subject_dn,
		"CN=\\1B[31mevil\\\"q\\\"\\,\\+\\;\\<\\>\\\\ \\C3\\A9\\00tail,O=caf\\C3\\A9");
	assert_string_equal(f->issuer_dn, "OU=a+CN=b,O=M\\C3\\BCller & S\\C3\\B6hne");
	assert_string_equal(f->issuer_cn, "b");
	assert_int_equal(f->n_sans, 1);
	assert_string_equal(f->sans[0], "\xff\x1b]0;pwn\x07.example"); /* raw: JSON repairs it */
	cli_check(d, n, f);

	/* Bytes that are not UTF-8 inside a UTF8String: OpenSSL 3.0 refuses the
	 * whole certificate (name canonicalisation fails). Report, don't crash. */
	patch(d, n, "evil", "\xff\xfe\xc0\xaf");
	h = cert_get(c, d, n);
	assert_non_null(h);
	assert_false(h->parse_ok);
	assert_true(h->parse_error[0]);
	assert_null(h->subject_dn);
	assert_int_equal(h->der_len, n);
	cert_put(c, f), cert_put(c, h);
	OPENSSL_free(d);
	X509_free(x);
	cert_cache_free(c);
}

static void test_no_cn_and_bmp(void **state)
{
	struct cert_cache *c = cert_cache_new(4);
	X509_NAME *subj = X509_NAME_new();
	static const unsigned char bmp[] = { 0x00, 'h', 0x00, 'i', 0x00, 0xe9 }; /* "hié" */
	struct x509_spec s;
	X509 *x, *y;
	size_t n, m;
	uint8_t *d, *e;
	struct cert_facts *f, *g;

	(void)state;
	X509_NAME_add_entry_by_txt(subj, "O", MBSTRING_UTF8, (const unsigned char *)"No CN Org", -1,
				   -1, 0);
	s = (struct x509_spec){ .key = k_leaf,
				.signer = k_root,
				.subj = subj,
				.iss_name = name_of(N_ROOT),
				.serial = 4 };
	x = mint(&s);
	d = der_of(x, &n);
	f = cert_get(c, d, n);
	assert_true(f->parse_ok);
	assert_null(f->subject_cn);
	assert_string_equal(f->subject_dn, "O=No CN Org");
	cli_check(d, n, f);

	subj = X509_NAME_new();
	X509_NAME_add_entry_by_txt(subj, "CN", V_ASN1_BMPSTRING, bmp, sizeof(bmp), -1, 0);
	X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8, (const unsigned char *)"last", -1, -1,
				   0);
	s = (struct x509_spec){ .key = k_leaf,
				.signer = k_root,
				.subj = subj,
				.iss_name = name_of(N_ROOT),
				.serial = 5 };
	y = mint(&s);
	e = der_of(y, &m);
	g = cert_get(c, e, m);
	assert_string_equal(g->subject_cn, "last"); /* the last CN wins */
	assert_string_equal(g->subject_dn, "CN=last,CN=hi\\C3\\A9");
	cli_check(e, m, g);
	cert_put(c, f), cert_put(c, g);
	OPENSSL_free(d), OPENSSL_free(e);
	X509_free(x), X509_free(y);
	cert_cache_free(c);
}

static void test_times(void **state)
{
	static const struct {
		const char *nb, *na;
		int64_t b, a;
	} t[] = {
		{ "990101000000Z", "991231235959Z", 915148800, 946684799 }, /* UTCTime 1999 */
		{ "19990101000000Z", "20510101000000Z", 915148800,
		  2556144000 }, /* GeneralizedTime */
		{ "490101000000Z", "99991231235959Z", 2493072000, 253402300799 }, /* UTCTime 2049 */
		{ "500101000000Z", "20491231235959Z", -631152000, 2524607999 },	  /* UTCTime 1950 */
	};
	struct cert_cache *c = cert_cache_new(8);
	static const char *const nm[] = { "CN", "time.example", NULL };

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct x509_spec s = { .key = k_leaf,
				       .signer = k_root,
				       .subj = name_of(nm),
				       .iss_name = name_of(N_ROOT),
				       .serial = 100 + (long)i,
				       .nb = t[i].nb,
				       .na = t[i].na };
		X509 *x = mint(&s);
		size_t n;
		uint8_t *d = der_of(x, &n);
		struct cert_facts *f = cert_get(c, d, n);

		assert_true(f->parse_ok);
		assert_int_equal(f->not_before, t[i].b);
		assert_int_equal(f->not_after, t[i].a);
		cert_put(c, f);
		OPENSSL_free(d);
		X509_free(x);
	}
	cert_cache_free(c);
}

/* Outer signature algorithm replaced: CVE-2015-3194 shape (MGF1 without its
 * hash parameter) and an ML-DSA OID that OpenSSL 3.0 does not know. */
static uint8_t *with_sigalg(X509 *x, const char *oid, const uint8_t *params, int plen, size_t *len)
{
	const X509_ALGOR *alg;
	ASN1_STRING *p = NULL;

	X509_get0_signature(NULL, &alg, x);
	if (params) {
		p = ASN1_STRING_new();
		ASN1_STRING_set(p, params, plen);
	}
	assert_int_equal(X509_ALGOR_set0((X509_ALGOR *)alg, OBJ_txt2obj(oid, 1),
					 p ? V_ASN1_SEQUENCE : V_ASN1_UNDEF, p),
			 1);
	return der_of(x, len);
}

static void test_weird_sigalgs(void **state)
{
	static const uint8_t pss_bad[] = {
		0x30, 0x0F, 0xA1, 0x0D, 0x30, 0x0B, 0x06, 0x09, 0x2A,
		0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x08, /* id-mgf1, no hash */
	};
	struct cert_cache *c = cert_cache_new(4);
	struct x509_spec s = { .key = k_root, .subj = name_of(N_ROOT), .serial = 11 };
	X509 *x = mint(&s);
	size_t n, m;
	uint8_t *d = with_sigalg(x, "1.2.840.113549.1.1.10", pss_bad, sizeof(pss_bad), &n);
	uint8_t *e = with_sigalg(x, "2.16.840.1.101.3.4.3.18", NULL, 0, &m);
	struct cert_facts *f = cert_get(c, d, n), *g = cert_get(c, e, m);

	(void)state;
	assert_true(f->parse_ok);
	assert_string_equal(f->sig_alg, "rsassaPss");
	assert_false(f->self_signed); /* would be, but the signature cannot verify */
	assert_string_equal(f->key_alg, "RSA");
	assert_true(g->parse_ok);
	assert_string_equal(g->sig_alg, "ML-DSA-65");
	assert_false(g->self_signed);
	cert_put(c, f), cert_put(c, g);
	OPENSSL_free(d), OPENSSL_free(e);
	X509_free(x);
	cert_cache_free(c);
}

/* An ML-DSA-65 public key: unknown to OpenSSL 3.0, so no EVP_PKEY. */
static void test_unknown_key(void **state)
{
	struct cert_cache *c = cert_cache_new(4);
	static const char *const nm[] = { "CN", "pq.example", NULL };
	X509 *x = X509_new();
	X509_PUBKEY *pub;
	unsigned char *raw = OPENSSL_malloc(1952), *spki = NULL, md[32];
	char b64[64];
	int sl;
	size_t n;
	uint8_t *d;
	struct cert_facts *f;
	X509_NAME *sn = name_of(nm), *in = name_of(N_ROOT);

	(void)state;
	memset(raw, 0x5A, 1952);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 12);
	X509_set_subject_name(x, sn);
	X509_set_issuer_name(x, in);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, k_ec);
	pub = X509_get_X509_PUBKEY(x);
	assert_int_equal(X509_PUBKEY_set0_param(pub, OBJ_txt2obj("2.16.840.1.101.3.4.3.18", 1),
						V_ASN1_UNDEF, NULL, raw, 1952),
			 1);
	sl = i2d_X509_PUBKEY(pub, &spki);
	assert_true(sl > 1952);
	EVP_Digest(spki, (size_t)sl, md, NULL, EVP_sha256(), NULL);
	EVP_EncodeBlock((unsigned char *)b64, md, 32);
	assert_true(X509_sign(x, k_root, EVP_sha256()) > 0);
	d = der_of(x, &n);
	f = cert_get(c, d, n);
	assert_true(f->parse_ok);
	assert_string_equal(f->key_alg, "ML-DSA-65");
	assert_int_equal(f->key_bits, 0);
	assert_string_equal(f->spki_sha256_b64, b64);
	assert_string_equal(f->subject_cn, "pq.example");
	assert_false(f->self_signed);
	cert_put(c, f);
	OPENSSL_free(spki), OPENSSL_free(d);
	X509_NAME_free(sn), X509_NAME_free(in);
	X509_free(x);
	cert_cache_free(c);
}

static void test_invalid_der(void **state)
{
	struct cert_cache *c = cert_cache_new(16);
	struct x509_spec s = { .key = k_leaf,
			       .signer = k_root,
			       .subj = name_of(N_LEAF),
			       .iss_name = name_of(N_ROOT),
			       .serial = 13 };
	X509 *x = mint(&s);
	size_t n;
	uint8_t *d = der_of(x, &n), *big = malloc(n + 1);
	static const uint8_t junk[] = { 0x30, 0x82, 0xFF, 0xFF, 0x01, 0x02 }; /* claims 64 KiB */
	static const uint8_t zero[1] = { 0 };
	struct {
		const uint8_t *p;
		size_t n;
	} cases[] = {
		{ junk, sizeof(junk) },	    { zero, 1 }, { d, n / 2 }, { d, 1 }, { big, n + 1 },
		{ (const uint8_t *)"", 0 },
	};
	struct cert_cache_stats st;
	char hex[65];

	(void)state;
	memcpy(big, d, n);
	big[n] = 0; /* trailing byte */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cert_facts *f = cert_get(c, cases[i].p, cases[i].n), *g;

		assert_non_null(f);
		assert_false(f->parse_ok);
		assert_true(f->parse_error[0] != '\0');
		assert_null(f->x509);
		assert_null(f->subject_dn);
		assert_int_equal(f->der_len, cases[i].n);
		sha256_hex(cases[i].p, cases[i].n, hex);
		assert_string_equal(f->sha256_hex, hex);
		g = cert_get(c, cases[i].p, cases[i].n); /* failures are cached too */
		assert_ptr_equal(f, g);
		cert_put(c, g);
		cert_put(c, f);
	}
	cert_cache_stats(c, &st);
	assert_int_equal(st.misses, 6);
	assert_int_equal(st.hits, 6);
	assert_null(cert_get(NULL, d, n));
	free(big);
	OPENSSL_free(d);
	X509_free(x);
	cert_cache_free(c);
}

static uint8_t *mint_der(long serial, size_t *n)
{
	static const char *const nm[] = { "CN", "cache.example", NULL };
	struct x509_spec s = { .key = k_ec,
			       .signer = k_root,
			       .subj = name_of(nm),
			       .iss_name = name_of(N_ROOT),
			       .serial = serial };
	X509 *x = mint(&s);
	uint8_t *d = der_of(x, n);

	X509_free(x);
	return d;
}

static void test_cache(void **state)
{
	struct cert_cache *c = cert_cache_new(2);
	size_t n[4];
	uint8_t *d[4];
	struct cert_facts *f[4], *g;
	struct cert_cache_stats st;

	(void)state;
	for (int i = 0; i < 4; i++)
		d[i] = mint_der(200 + i, &n[i]);
	/* three held at once: over the limit, but nothing held is evicted */
	for (int i = 0; i < 3; i++)
		f[i] = cert_get(c, d[i], n[i]);
	cert_cache_stats(c, &st);
	assert_int_equal(st.misses, 3);
	assert_int_equal(st.entries, 3);
	assert_int_equal(st.evictions, 0);
	g = cert_get(c, d[1], n[1]);
	assert_ptr_equal(g, f[1]);
	assert_int_equal(f[1]->refs, 2);
	cert_put(c, g);
	assert_int_equal(f[1]->refs, 1);
	/* releasing f[0] makes it the only candidate: evicted at once */
	cert_put(c, f[0]);
	cert_cache_stats(c, &st);
	assert_int_equal(st.entries, 2);
	assert_int_equal(st.evictions, 1);
	cert_put(c, f[1]);
	cert_put(c, f[2]); /* now f[1] is LRU, f[2] MRU; 2 entries fit */
	cert_cache_stats(c, &st);
	assert_int_equal(st.entries, 2);
	/* touch 1 so 2 becomes LRU, then a new one evicts 2 */
	cert_put(c, cert_get(c, d[1], n[1]));
	f[3] = cert_get(c, d[3], n[3]);
	cert_cache_stats(c, &st);
	assert_int_equal(st.evictions, 2);
	assert_int_equal(st.entries, 2);
	assert_int_equal(st.hits, 2);
	g = cert_get(c, d[1], n[1]); /* still there */
	cert_cache_stats(c, &st);
	assert_int_equal(st.hits, 3);
	cert_put(c, g);
	g = cert_get(c, d[2], n[2]); /* was evicted: parsed again */
	cert_cache_stats(c, &st);
	assert_int_equal(st.misses, 5);
	assert_true(g->parse_ok);
	assert_string_equal(g->serial_hex, "CA");
	cert_put(c, g);
	cert_put(c, f[3]);
	cert_put(c, NULL); /* harmless */
	cert_cache_stats(c, &st);
	assert_true(st.entries <= 2);
	for (int i = 0; i < 4; i++)
		OPENSSL_free(d[i]);
	cert_cache_free(c);
	cert_cache_stats(NULL, &st);
	assert_int_equal(st.entries, 0);
}

/* Many distinct certificates through a small cache: entries stay bounded. */
static void test_cache_churn(void **state)
{
	struct cert_cache *c = cert_cache_new(8);
	struct cert_cache_stats st;
	size_t n;
	uint8_t *d = mint_der(300, &n);

	(void)state;
	for (int i = 0; i < 500; i++) {
		d[n - 1] = (uint8_t)i,
		      d[n - 2] = (uint8_t)(i >> 8); /* distinct bytes, broken signature */
		cert_put(c, cert_get(c, d, n));
	}
	cert_cache_stats(c, &st);
	assert_int_equal(st.misses, 500);
	assert_int_equal(st.entries, 8);
	assert_int_equal(st.evictions, 492);
	OPENSSL_free(d);
	cert_cache_free(c);
}

static void test_big_certs(void **state)
{
	struct cert_cache *c = cert_cache_new(4);
	static const char *const nm[] = { "CN", "big.example", NULL };
	GENERAL_NAMES *gens = GENERAL_NAMES_new();
	char host[64];
	struct x509_spec s;
	X509 *x;
	size_t n;
	uint8_t *d;
	struct cert_facts *f;

	(void)state;
	for (int i = 0; i < 10000; i++) {
		GENERAL_NAME *g = GENERAL_NAME_new();
		ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();

		snprintf(host, sizeof(host), "host-%05d.example.com", i);
		ASN1_STRING_set(ia5, host, -1);
		GENERAL_NAME_set0_value(g, GEN_DNS, ia5);
		sk_GENERAL_NAME_push(gens, g);
	}
	s = (struct x509_spec){ .key = k_ec,
				.signer = k_root,
				.subj = name_of(nm),
				.iss_name = name_of(N_ROOT),
				.serial = 14,
				.gens = gens };
	x = mint(&s);
	d = der_of(x, &n);
	assert_true(n > 200000);
	f = cert_get(c, d, n);
	assert_true(f->parse_ok);
	assert_int_equal(f->n_sans, CERT_SANS_MAX);
	assert_int_equal(f->total_sans, 10000);
	assert_string_equal(f->sans[0], "host-00000.example.com");
	assert_string_equal(f->sans[CERT_SANS_MAX - 1], "host-01023.example.com");
	cert_put(c, f);
	OPENSSL_free(d);
	X509_free(x);

	/* 64 KiB: one long organisation value */
	{
		char *org = malloc(65536);
		X509_NAME *subj = X509_NAME_new();

		memset(org, 'A', 65535);
		org[65535] = '\0';
		X509_NAME_add_entry_by_txt(subj, "O", V_ASN1_UTF8STRING, (unsigned char *)org, -1,
					   -1, 0);
		X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8, (const unsigned char *)"huge",
					   -1, -1, 0);
		s = (struct x509_spec){ .key = k_ec,
					.signer = k_root,
					.subj = subj,
					.iss_name = name_of(N_ROOT),
					.serial = 15 };
		x = mint(&s);
		d = der_of(x, &n);
		assert_true(n > 65536);
		f = cert_get(c, d, n);
		assert_true(f->parse_ok);
		assert_string_equal(f->subject_cn, "huge");
		assert_int_equal(strlen(f->subject_dn), strlen("CN=huge,O=") + 65535);
		cert_put(c, f);
		OPENSSL_free(d);
		X509_free(x);
		free(org);
	}
	cert_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rsa_chain),
		cmocka_unit_test(test_key_types),
		cmocka_unit_test(test_ec_and_ed_signers),
		cmocka_unit_test(test_serials),
		cmocka_unit_test(test_hostile_names),
		cmocka_unit_test(test_no_cn_and_bmp),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_weird_sigalgs),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_invalid_der),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_cache_churn),
		cmocka_unit_test(test_big_certs),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
