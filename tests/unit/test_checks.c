/* test_checks.c - every finding code against a PKI minted here, lists loaded from temp files. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include "x509_helpers.h"
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <linux/types.h>
#include "certsentry.h"
#include "checks.h"
#include "inventory.h"

#define T2024 1704067200LL /* 2024-01-01 */
#define T2026 1767225600LL /* 2026-01-01: inside every "good" validity window */
#define T2027 1798761600LL /* 2027-01-01: the default leaf's notAfter */
#define T2028 1830297600LL /* 2028-01-01 */

static EVP_PKEY *k_root, *k_int, *k_leaf, *k_root2, *k_int2, *k_rsa1024, *k_p224;
static X509 *root, *inter, *leaf, *root2, *int2, *leaf2, *ss, *wc, *pw, *sha1leaf, *sha1root,
	*sha1int, *sha1rleaf, *weakleaf, *weakec, *revleaf, *otherleaf;
static struct cert_cache *cache;
static char ca_file[64], ca_ss_file[64], crl_file[64], sha1ca_file[64];
static struct lists *l_base;
static char tmp_paths[32][64];
static int n_tmp;

static void tmp_file(char *path, const char *text)
{
	int fd;

	strcpy(path, "/tmp/test_checks_XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_true(n_tmp < 32);
	strcpy(tmp_paths[n_tmp++], path);
}

static void pem_file(char *path, X509 *const *xs, int n)
{
	FILE *f;

	tmp_file(path, "");
	f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < n; i++)
		assert_int_equal(PEM_write_X509(f, xs[i]), 1);
	fclose(f);
}

static struct lists *load(const char *ca, const char *deny, const char *pins, const char *crl)
{
	struct lists_opts o = { .ca_file = ca, .deny_file = deny, .pins_file = pins };
	char err[512] = "";
	struct lists *l;

	if (crl)
		o.crl_paths[o.n_crl++] = crl;
	l = lists_load(&o, err, sizeof(err));
	if (!l)
		fail_msg("lists_load: %s", err);
	return l;
}

/* A certificate report: chain leaf first, SNI (NULL for none), at time t. */
static void rep(struct cs_report *r, const char *sni, int64_t t, X509 *c0, X509 *c1, X509 *c2)
{
	X509 *xs[3] = { c0, c1, c2 };

	memset(r, 0, sizeof(*r));
	r->action = REPORT_CERTIFICATE;
	r->check_time = t;
	r->client.family = CS_AF_INET;
	inet_pton(AF_INET, "198.51.100.7", r->client.addr);
	r->client.port = 50000;
	r->server.family = CS_AF_INET;
	inet_pton(AF_INET, "192.0.2.1", r->server.addr);
	r->server.port = 443;
	if (sni) {
		r->has_sni = true;
		snprintf(r->sni, sizeof(r->sni), "%s", sni);
	}
	for (int i = 0; i < 3 && xs[i]; i++)
		r->chain[r->chain_len++] = x509_facts(cache, xs[i]);
	r->chain_total = r->chain_len;
}

static struct verdict v;

static const struct verdict *run_with(const struct checks_opts *o, const struct lists *l,
				      const struct cs_report *r)
{
	struct checker *c = checker_new(o);

	assert_non_null(c);
	checker_set_lists(c, l);
	checks_run(c, r, &v);
	checker_free(c);
	return &v;
}

static const struct verdict *run(const struct lists *l, const struct cs_report *r)
{
	return run_with(NULL, l, r);
}

static const struct finding *find(const struct verdict *vv, enum finding_code code)
{
	for (uint32_t i = 0; i < vv->n; i++)
		if (vv->f[i].code == code)
			return &vv->f[i];
	return NULL;
}

static void dump(const struct verdict *vv)
{
	for (uint32_t i = 0; i < vv->n; i++)
		print_message("  %s %s: %s\n", severity_name(vv->f[i].sev),
			      finding_name(vv->f[i].code), vv->f[i].message);
}

/* Exactly one finding, with this code and severity. */
static const struct finding *only(const struct verdict *vv, enum finding_code code,
				  enum severity sev)
{
	if (vv->n != 1 || vv->f[0].code != code)
		dump(vv);
	assert_int_equal(vv->n, 1);
	assert_int_equal(vv->f[0].code, code);
	assert_int_equal(vv->f[0].sev, sev);
	assert_int_equal(vv->worst, sev);
	assert_true(strlen(vv->f[0].message) > 20);
	return &vv->f[0];
}

static void clean(const struct verdict *vv)
{
	if (vv->n)
		dump(vv);
	assert_int_equal(vv->n, 0);
	assert_int_equal(vv->worst, SEV_OK);
}

/* ---- fixtures ---- */

static int setup(void **state)
{
	X509 *ss_and_root[2];
	X509_CRL *crl;
	X509_REVOKED *rv;
	ASN1_TIME *t;
	FILE *f;

	(void)state;
	k_root = EVP_EC_gen("P-256");
	k_int = EVP_EC_gen("P-256");
	k_leaf = EVP_EC_gen("P-256");
	k_root2 = EVP_EC_gen("P-256");
	k_int2 = EVP_EC_gen("P-256");
	k_rsa1024 = EVP_RSA_gen(1024);
	k_p224 = EVP_EC_gen("P-224");
	cache = cert_cache_new(256);

	root = x509_mint(&(struct x509_spec){ .key = k_root,
					      .cn = "Test Root",
					      .serial = 1,
					      .ca = true,
					      .nb = "20200101000000Z",
					      .na = "20400101000000Z" });
	inter = x509_mint(&(struct x509_spec){ .key = k_int,
					       .signer = k_root,
					       .issuer = root,
					       .cn = "Test Int",
					       .serial = 2,
					       .ca = true,
					       .nb = "20200101000000Z",
					       .na = "20400101000000Z" });
	leaf = x509_mint(
		&(struct x509_spec){ .key = k_leaf,
				     .signer = k_int,
				     .issuer = inter,
				     .cn = "www.example.com",
				     .serial = 0x1001,
				     .san = "DNS:www.example.com,DNS:example.com,IP:192.0.2.1" });
	otherleaf = x509_mint(&(struct x509_spec){ .key = k_leaf,
						   .signer = k_int,
						   .issuer = inter,
						   .cn = "www.example.com",
						   .serial = 0x1002,
						   .san = "DNS:www.example.com" });
	revleaf = x509_mint(&(struct x509_spec){ .key = k_leaf,
						 .signer = k_int,
						 .issuer = inter,
						 .cn = "revoked.example.com",
						 .serial = 0x666,
						 .san = "DNS:revoked.example.com" });
	wc = x509_mint(&(struct x509_spec){ .key = k_leaf,
					    .signer = k_int,
					    .issuer = inter,
					    .cn = "*.example.com",
					    .serial = 0x1003,
					    .san = "DNS:*.example.com" });
	pw = x509_mint(&(struct x509_spec){ .key = k_leaf,
					    .signer = k_int,
					    .issuer = inter,
					    .cn = "w*.example.com",
					    .serial = 0x1004,
					    .san = "DNS:w*.example.com" });
	sha1leaf = x509_mint(&(struct x509_spec){ .key = k_leaf,
						  .signer = k_int,
						  .issuer = inter,
						  .cn = "www.example.com",
						  .serial = 0x1005,
						  .san = "DNS:www.example.com",
						  .md = EVP_sha1() });
	weakleaf = x509_mint(&(struct x509_spec){ .key = k_rsa1024,
						  .signer = k_int,
						  .issuer = inter,
						  .cn = "www.example.com",
						  .serial = 0x1006,
						  .san = "DNS:www.example.com" });
	weakec = x509_mint(&(struct x509_spec){ .key = k_p224,
						.signer = k_int,
						.issuer = inter,
						.cn = "www.example.com",
						.serial = 0x1007,
						.san = "DNS:www.example.com" });
	/* A second PKI whose root nobody trusts. */
	root2 = x509_mint(&(struct x509_spec){ .key = k_root2,
					       .cn = "Rogue Root",
					       .serial = 1,
					       .ca = true,
					       .nb = "20200101000000Z",
					       .na = "20400101000000Z" });
	int2 = x509_mint(&(struct x509_spec){ .key = k_int2,
					      .signer = k_root2,
					      .issuer = root2,
					      .cn = "Rogue Int",
					      .serial = 2,
					      .ca = true,
					      .nb = "20200101000000Z",
					      .na = "20400101000000Z" });
	leaf2 = x509_mint(&(struct x509_spec){ .key = k_leaf,
					       .signer = k_int2,
					       .issuer = int2,
					       .cn = "www.example.com",
					       .serial = 0x2001,
					       .san = "DNS:www.example.com" });
	ss = x509_mint(&(struct x509_spec){ .key = k_leaf,
					    .cn = "www.example.com",
					    .serial = 0x3001,
					    .san = "DNS:www.example.com" });
	/* A SHA-1 self-signed root (trusted), a SHA-256 intermediate and leaf under it. */
	sha1root = x509_mint(&(struct x509_spec){ .key = k_root2,
						  .cn = "Old SHA1 Root",
						  .serial = 5,
						  .ca = true,
						  .nb = "20200101000000Z",
						  .na = "20400101000000Z",
						  .md = EVP_sha1() });
	sha1int = x509_mint(&(struct x509_spec){ .key = k_int2,
						 .signer = k_root2,
						 .issuer = sha1root,
						 .cn = "New Int",
						 .serial = 6,
						 .ca = true,
						 .nb = "20200101000000Z",
						 .na = "20400101000000Z" });
	sha1rleaf = x509_mint(&(struct x509_spec){ .key = k_leaf,
						   .signer = k_int2,
						   .issuer = sha1int,
						   .cn = "www.example.com",
						   .serial = 0x4001,
						   .san = "DNS:www.example.com" });

	pem_file(ca_file, &root, 1);
	ss_and_root[0] = root;
	ss_and_root[1] = ss;
	pem_file(ca_ss_file, ss_and_root, 2);
	pem_file(sha1ca_file, &sha1root, 1);

	/* CRL from the intermediate revoking revleaf. */
	crl = X509_CRL_new();
	X509_CRL_set_version(crl, 1);
	X509_CRL_set_issuer_name(crl, X509_get_subject_name(inter));
	t = ASN1_TIME_new();
	ASN1_TIME_set_string(t, "20250601000000Z");
	X509_CRL_set1_lastUpdate(crl, t);
	ASN1_TIME_set_string(t, "20350101000000Z");
	X509_CRL_set1_nextUpdate(crl, t);
	rv = X509_REVOKED_new();
	X509_REVOKED_set_serialNumber(rv, X509_get_serialNumber(revleaf));
	ASN1_TIME_set_string(t, "20250701000000Z");
	X509_REVOKED_set_revocationDate(rv, t);
	ASN1_TIME_free(t);
	{
		ASN1_ENUMERATED *reason = ASN1_ENUMERATED_new();

		ASN1_ENUMERATED_set(reason, 1); /* keyCompromise */
		X509_REVOKED_add1_ext_i2d(rv, NID_crl_reason, reason, 0, 0);
		ASN1_ENUMERATED_free(reason);
	}
	X509_CRL_add0_revoked(crl, rv);
	X509_CRL_sort(crl);
	assert_true(X509_CRL_sign(crl, k_int, EVP_sha256()) > 0);
	tmp_file(crl_file, "");
	f = fopen(crl_file, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_X509_CRL(f, crl), 1);
	fclose(f);
	X509_CRL_free(crl);

	l_base = load(ca_file, NULL, NULL, NULL);
	return 0;
}

static int teardown(void **state)
{
	X509 *all[] = { root,	   inter,    leaf,   root2,    int2,	 leaf2,
			ss,	   wc,	     pw,     sha1leaf, sha1root, sha1int,
			sha1rleaf, weakleaf, weakec, revleaf,  otherleaf };

	(void)state;
	lists_free(l_base);
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		X509_free(all[i]);
	EVP_PKEY_free(k_root);
	EVP_PKEY_free(k_int);
	EVP_PKEY_free(k_leaf);
	EVP_PKEY_free(k_root2);
	EVP_PKEY_free(k_int2);
	EVP_PKEY_free(k_rsa1024);
	EVP_PKEY_free(k_p224);
	cert_cache_free(cache);
	for (int i = 0; i < n_tmp; i++)
		unlink(tmp_paths[i]);
	return 0;
}

/* ---- tests ---- */

static void test_good(void **state)
{
	struct cs_report r;

	(void)state;
	rep(&r, "www.example.com", T2026, leaf, inter, NULL);
	clean(run(l_base, &r));
	rep(&r, "www.example.com", T2026, leaf, inter, root); /* root sent too: still fine */
	clean(run(l_base, &r));
	rep(&r, NULL, T2026, leaf, inter, NULL); /* no SNI: no name to check */
	clean(run(l_base, &r));
}

/* A chain nobody saw is not a chain that passed: unverified, never ok. */
static void test_unverified(void **state)
{
	struct cs_report r;
	const struct verdict *vv;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.action = REPORT_CERTIFICATE_HIDDEN;
	r.version = 0x0304;
	r.has_sni = true;
	strcpy(r.sni, "www.example.com");
	r.check_time = T2026;
	vv = run(l_base, &r);
	assert_int_equal(vv->n, 0);
	assert_true(vv->unverified);
	assert_int_equal(verdict_slot(vv), VERDICT_UNVERIFIED);
	assert_string_equal(verdict_name(vv), "unverified");
	rep(&r, "www.example.com", T2026, leaf, inter, NULL); /* a source gave it */
	vv = run(l_base, &r);
	assert_false(vv->unverified);
	assert_string_equal(verdict_name(vv), "ok");
	assert_int_equal(verdict_slot(vv), VERDICT_OK);
	assert_string_equal(verdict_slot_name(F_REVOKED_CRL), "revoked.crl");
}

static void test_incomplete(void **state)
{
	struct cs_report r;
	const struct finding *f;

	(void)state;
	rep(&r, "www.example.com", T2026, leaf, NULL, NULL);
	f = only(run(l_base, &r), F_CHAIN_INCOMPLETE, SEV_HIGH);
	assert_non_null(strstr(f->message, "Test Int")); /* names the missing issuer */
	assert_int_equal(f->cert, 0);
	/* An earlier complete chain does not save a later incomplete one. */
	{
		struct checker *c = checker_new(NULL);

		checker_set_lists(c, l_base);
		rep(&r, "www.example.com", T2026, leaf, inter, NULL);
		checks_run(c, &r, &v);
		clean(&v);
		rep(&r, "www.example.com", T2026, leaf, NULL, NULL);
		checks_run(c, &r, &v);
		only(&v, F_CHAIN_INCOMPLETE, SEV_HIGH);
		checker_free(c);
	}
}

static void test_untrusted(void **state)
{
	struct cs_report r;

	(void)state;
	rep(&r, "www.example.com", T2026, leaf2, int2, root2);
	assert_non_null(
		strstr(only(run(l_base, &r), F_CHAIN_UNTRUSTED, SEV_HIGH)->message, "Rogue Root"));
	/* The same chain is fine against a store that trusts it: the store is what matters. */
	{
		char path[64];
		struct lists *l;

		pem_file(path, &root2, 1);
		l = load(path, NULL, NULL, NULL);
		clean(run(l, &r));
		lists_free(l);
	}
	/* Verified as a TLS client would: a client-auth-only leaf is no server certificate. */
	{
		X509 *cl = x509_mint(&(struct x509_spec){
			.key = k_leaf,
			.signer = k_int,
			.issuer = inter,
			.cn = "www.example.com",
			.serial = 0x1008,
			.san = "DNS:www.example.com",
			.exts = (const char *const[]){ "extendedKeyUsage", "clientAuth", NULL } });
		rep(&r, "www.example.com", T2026, cl, inter, NULL);
		assert_non_null(strstr(only(run(l_base, &r), F_CHAIN_UNTRUSTED, SEV_HIGH)->message,
				       "purpose"));
		X509_free(cl);
	}
	/* Intermediate signed by someone else (bad signature) is untrusted, not incomplete. */
	{
		X509 *fake = x509_mint(&(struct x509_spec){ .key = k_int,
							    .signer = k_root2,
							    .issuer = root,
							    .cn = "Test Int",
							    .serial = 2,
							    .ca = true,
							    .nb = "20200101000000Z",
							    .na = "20400101000000Z" });

		rep(&r, "www.example.com", T2026, leaf, fake, NULL);
		only(run(l_base, &r), F_CHAIN_UNTRUSTED, SEV_HIGH);
		X509_free(fake);
	}
}

static void test_self_signed(void **state)
{
	struct cs_report r;
	struct lists *l;

	(void)state;
	rep(&r, "www.example.com", T2026, ss, NULL, NULL);
	only(run(l_base, &r), F_SELF_SIGNED, SEV_MEDIUM); /* not chain.untrusted too */
	l = load(ca_ss_file, NULL, NULL, NULL);		  /* a trust anchor itself: fine */
	clean(run(l, &r));
	lists_free(l);
}

static void test_hostname(void **state)
{
	static const struct {
		X509 **x;
		const char *sni;
		bool ok;
	} cases[] = {
		{ &leaf, "www.example.com", true },
		{ &leaf, "WWW.Example.COM", true },
		{ &leaf, "example.com", true },
		{ &leaf, "www.example.org", false },
		{ &leaf, "a.www.example.com", false },
		{ &leaf, "192.0.2.1", true }, /* IP literal against the IP SAN */
		{ &leaf, "192.0.2.9", false },
		{ &leaf, "::1", false },
		{ &wc, "a.example.com", true },
		{ &wc, "a.b.example.com", false }, /* one label only */
		{ &wc, "example.com", false },	   /* the wildcard needs a label */
		{ &pw, "www.example.com", false }, /* no partial wildcards */
	};
	struct cs_report r;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("  %s\n", cases[i].sni);
		rep(&r, cases[i].sni, T2026, *cases[i].x, inter, NULL);
		if (cases[i].ok)
			clean(run(l_base, &r));
		else
			assert_non_null(strstr(
				only(run(l_base, &r), F_HOSTNAME_MISMATCH, SEV_HIGH)->message,
				cases[i].sni));
	}
}

/* One checker for many handshakes, as the daemon runs: the remembered
 * (leaf, SNI) and (certificate, issuer) answers never leak into another
 * leaf's, name's or chain's verdict. */
static void test_memo_one_checker(void **state)
{
	static const struct {
		X509 **x;
		const char *sni;
		bool ok;
	} cases[] = {
		{ &leaf, "www.example.com", true },  { &wc, "www.example.com", true },
		{ &leaf, "www.example.org", false }, { &wc, "a.b.example.com", false },
		{ &leaf, "a.b.example.com", false }, { &pw, "www.example.com", false },
		{ &leaf, "192.0.2.1", true },	     { &wc, "a.example.com", true },
	};
	struct checker *c = checker_new(NULL);
	struct lists *l = load(ca_file, NULL, NULL, crl_file);
	const struct finding *f;
	struct cs_report r;

	(void)state;
	assert_non_null(c);
	checker_set_lists(c, l);
	for (int round = 0; round < 3; round++) {
		for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
			size_t i = round == 1 ? sizeof(cases) / sizeof(cases[0]) - 1 - k : k;

			rep(&r, cases[i].sni, T2026, *cases[i].x, inter, NULL);
			checks_run(c, &r, &v);
			assert_int_equal(find(&v, F_HOSTNAME_MISMATCH) == NULL, cases[i].ok);
		}
		/* the CRL's signature is checked only when the leaf's issuer was sent */
		rep(&r, "revoked.example.com", T2026, revleaf, inter, NULL);
		checks_run(c, &r, &v);
		assert_non_null(f = find(&v, F_REVOKED_CRL));
		assert_null(strstr(f->message, "not verified"));
		rep(&r, "revoked.example.com", T2026, revleaf, leaf, NULL); /* not its issuer */
		checks_run(c, &r, &v);
		assert_non_null(f = find(&v, F_REVOKED_CRL));
		assert_non_null(strstr(f->message, "not verified"));
	}
	checker_free(c);
	lists_free(l);
}

static void test_validity(void **state)
{
	struct cs_report r;
	const struct finding *f;

	(void)state;
	rep(&r, "www.example.com", T2028, leaf, inter, NULL);
	f = only(run(l_base, &r), F_EXPIRED, SEV_HIGH);
	assert_non_null(strstr(f->message, "2027-01-01"));
	assert_int_equal(f->cert, 0);
	rep(&r, "www.example.com", T2024, leaf, inter, NULL);
	f = only(run(l_base, &r), F_NOT_YET_VALID, SEV_HIGH);
	assert_non_null(strstr(f->message, "2025-01-01"));
	/* The same certificate, judged at a time inside its window. */
	rep(&r, "www.example.com", T2026, leaf, inter, NULL);
	clean(run(l_base, &r));
	/* Boundaries: notAfter itself is still valid, one second later is not. */
	rep(&r, "www.example.com", T2027, leaf, inter, NULL);
	assert_null(find(run(l_base, &r), F_EXPIRED));
	rep(&r, "www.example.com", T2027 + 1, leaf, inter, NULL);
	assert_non_null(find(run(l_base, &r), F_EXPIRED));
	/* An expired intermediate is named as such. */
	{
		X509 *old = x509_mint(&(struct x509_spec){ .key = k_int,
							   .signer = k_root,
							   .issuer = root,
							   .cn = "Test Int",
							   .serial = 3,
							   .ca = true,
							   .nb = "20200101000000Z",
							   .na = "20251201000000Z" });

		rep(&r, "www.example.com", T2026, leaf, old, NULL);
		f = only(run(l_base, &r), F_EXPIRED, SEV_HIGH);
		assert_int_equal(f->cert, 1);
		assert_non_null(strstr(f->message, "Test Int"));
		X509_free(old);
	}
}

static void test_expiring_soon(void **state)
{
	struct checks_opts o = { .warn_days = 14 };
	struct cs_report r;

	(void)state;
	rep(&r, "www.example.com", T2027 - 10 * 86400, leaf, inter, NULL);
	assert_non_null(strstr(only(run_with(&o, l_base, &r), F_EXPIRING_SOON, SEV_LOW)->message,
			       "2027-01-01"));
	only(run(l_base, &r), F_EXPIRING_SOON, SEV_LOW); /* default 14 */
	o.warn_days = 7;
	clean(run_with(&o, l_base, &r));
	o.warn_days = 30;
	rep(&r, "www.example.com", T2027 - 20 * 86400, leaf, inter, NULL);
	only(run_with(&o, l_base, &r), F_EXPIRING_SOON, SEV_LOW);
	clean(run(l_base, &r));
	o.warn_days = -1; /* off */
	rep(&r, "www.example.com", T2027 - 86400, leaf, inter, NULL);
	clean(run_with(&o, l_base, &r));
}

static void test_weak_signature(void **state)
{
	struct cs_report r;
	const struct finding *f;
	struct lists *l;

	(void)state;
	rep(&r, "www.example.com", T2026, sha1leaf, inter, NULL);
	f = only(run(l_base, &r), F_WEAK_SIGNATURE, SEV_MEDIUM);
	assert_non_null(strstr(f->message, "SHA-1"));
	/* A SHA-1 self-signed root sent last is not a weakness: nobody checks it. */
	l = load(sha1ca_file, NULL, NULL, NULL);
	rep(&r, "www.example.com", T2026, sha1rleaf, sha1int, sha1root);
	clean(run(l, &r));
	lists_free(l);
}

static void test_weak_key(void **state)
{
	struct cs_report r;

	(void)state;
	rep(&r, "www.example.com", T2026, weakleaf, inter, NULL);
	assert_non_null(
		strstr(only(run(l_base, &r), F_WEAK_KEY, SEV_MEDIUM)->message, "1024-bit RSA"));
	rep(&r, "www.example.com", T2026, weakec, inter, NULL);
	assert_non_null(
		strstr(only(run(l_base, &r), F_WEAK_KEY, SEV_MEDIUM)->message, "224-bit EC"));
}

static void test_deny(void **state)
{
	char deny[64], text[256];
	struct cs_report r;
	const struct finding *f;
	struct lists *l;

	(void)state;
	rep(&r, "www.example.com", T2026, leaf, inter, NULL);
	snprintf(text, sizeof(text), "# incident 42\nsha256:%s\n", r.chain[0]->sha256_hex);
	tmp_file(deny, text);
	l = load(ca_file, deny, NULL, NULL);
	f = only(run(l, &r), F_REVOKED_DENY, SEV_CRITICAL);
	assert_non_null(strstr(f->message, ":2")); /* the entry's line */
	assert_non_null(strstr(f->message, "www.example.com"));
	rep(&r, "www.example.com", T2026, otherleaf, inter, NULL); /* same key, other cert */
	clean(run(l, &r));
	lists_free(l);
}

static void test_crl(void **state)
{
	struct cs_report r;
	const struct finding *f;
	struct lists *l;

	(void)state;
	l = load(ca_file, NULL, NULL, crl_file);
	rep(&r, "revoked.example.com", T2026, revleaf, inter, NULL);
	f = only(run(l, &r), F_REVOKED_CRL, SEV_CRITICAL);
	assert_non_null(strstr(f->message, "666")); /* the serial */
	assert_non_null(strstr(f->message, "keyCompromise"));
	assert_null(strstr(f->message, "not verified")); /* checked against the intermediate sent */
	assert_int_equal(f->cert, 0);
	/* Without its issuer the CRL's signature cannot be checked: still revoked, and said so. */
	rep(&r, "revoked.example.com", T2026, revleaf, NULL, NULL);
	f = find(run(l, &r), F_REVOKED_CRL);
	assert_non_null(f);
	assert_int_equal(f->sev, SEV_CRITICAL);
	assert_non_null(strstr(f->message, "not verified"));
	rep(&r, "www.example.com", T2026, leaf, inter, NULL);
	clean(run(l, &r));
	rep(&r, "revoked.example.com", T2026, revleaf, inter, NULL);
	clean(run(l_base, &r)); /* without the CRL nothing is known */
	lists_free(l);
}

static void ocsp_revoked(struct cs_report *r)
{
	r->have_ocsp = true;
	r->ocsp.parse_ok = true;
	r->ocsp.response_status = 0;
	r->ocsp.cert_status = OCSP_ST_REVOKED;
	r->ocsp.matched_leaf = true;
	r->ocsp.this_update = T2026 - 3600;
	r->ocsp.next_update = T2026 + 86400;
	r->ocsp.revocation_time = T2026 - 86400 * 30;
	r->ocsp.reason = 1;
	strcpy(r->ocsp.reason_str, "keyCompromise");
	r->ocsp.signature_checked = r->ocsp.signature_ok = true;
}

static void test_ocsp(void **state)
{
	struct cs_report r;
	const struct finding *f;

	(void)state;
	rep(&r, "www.example.com", T2026, leaf, inter, NULL);
	ocsp_revoked(&r);
	f = only(run(l_base, &r), F_REVOKED_OCSP, SEV_CRITICAL);
	assert_non_null(strstr(f->message, "signature verified"));
	assert_non_null(strstr(f->message, "fresh"));
	assert_non_null(strstr(f->message, "keyCompromise"));
	r.check_time = T2026 + 2 * 86400; /* stale, but still revoked */
	f = only(run(l_base, &r), F_REVOKED_OCSP, SEV_CRITICAL);
	assert_non_null(strstr(f->message, "stale"));
	r.check_time = T2026;
	r.ocsp.signature_checked = false; /* issuer unknown: still the server's own word */
	assert_non_null(strstr(only(run(l_base, &r), F_REVOKED_OCSP, SEV_CRITICAL)->message,
			       "signature unchecked"));
	r.ocsp.signature_checked = true;
	r.ocsp.signature_ok = false; /* forged or broken: its own finding, unproven */
	f = only(run(l_base, &r), F_OCSP_BAD_SIGNATURE, SEV_MEDIUM);
	assert_non_null(strstr(f->message, "INVALID"));
	assert_non_null(strstr(f->message, "keyCompromise"));
	ocsp_revoked(&r);
	r.ocsp.cert_status = OCSP_ST_GOOD;
	clean(run(l_base, &r));
	ocsp_revoked(&r);
	r.ocsp.matched_leaf = false; /* about some other certificate */
	clean(run(l_base, &r));
	ocsp_revoked(&r);
	r.have_ocsp = false;
	clean(run(l_base, &r));
}

static void test_pins(void **state)
{
	char pins[64], text[512];
	struct cs_report r;
	const struct verdict *vv;
	const struct finding *f;
	struct lists *l;

	(void)state;
	rep(&r, "www.example.com", T2026, leaf, inter, NULL);
	/* Leaf pinned by DER hash; the intermediate's SPKI pins *.pinned.test; an endpoint rule. */
	snprintf(text, sizeof(text),
		 "www.example.com sha256:%s\n"
		 "*.pinned.test spki:%s\n"
		 "example.com sha256:%064d\n"
		 "192.0.2.1:443 spki:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
		 r.chain[0]->sha256_hex, r.chain[1]->spki_sha256_b64, 0);
	tmp_file(pins, text);
	l = load(ca_file, NULL, pins, NULL);
	vv = run(l, &r);
	clean(vv);
	assert_null(vv->pin_pattern);
	rep(&r, "www.example.com", T2026, otherleaf, inter, NULL); /* another leaf, same name */
	vv = run(l, &r);
	f = only(vv, F_PIN_MISMATCH, SEV_CRITICAL);
	assert_non_null(strstr(f->message, "www.example.com"));
	assert_non_null(vv->pin_pattern);
	assert_non_null(strstr(vv->pin_pattern, "www.example.com"));
	assert_int_equal(vv->n_pin_expected, 1);
	assert_non_null(strstr(vv->pin_expected[0], "sha256:"));
	/* spki pins match any certificate of the chain. */
	rep(&r, "a.pinned.test", T2026, wc, inter, NULL);
	assert_null(find(run(l, &r), F_PIN_MISMATCH)); /* hostname.mismatch only */
	rep(&r, "a.pinned.test", T2026, leaf2, int2, root2);
	assert_non_null(find(run(l, &r), F_PIN_MISMATCH));
	rep(&r, "example.com", T2026, leaf, inter, NULL);
	only(run(l, &r), F_PIN_MISMATCH, SEV_CRITICAL);
	/* No SNI: the endpoint rule applies. */
	rep(&r, NULL, T2026, leaf, inter, NULL);
	vv = run(l, &r);
	only(vv, F_PIN_MISMATCH, SEV_CRITICAL);
	assert_non_null(strstr(vv->pin_pattern, "192.0.2.1:443"));
	lists_free(l);
}

static void test_client_rejected(void **state)
{
	struct cs_report r;
	const struct finding *f;

	(void)state;
	rep(&r, NULL, T2026, leaf, inter, NULL);
	r.action = REPORT_ALERT;
	r.alert_from_client = true;
	r.alert_level = 2;
	r.alert_desc = 42;
	strcpy(r.alert_cert_sha256, r.chain[0]->sha256_hex);
	f = only(run(l_base, &r), F_CLIENT_REJECTED, SEV_HIGH);
	assert_non_null(strstr(f->message, "bad_certificate"));
	assert_non_null(strstr(f->message, "www.example.com"));
	r.chain_len = 0; /* the alert alone still names the certificate */
	assert_non_null(
		strstr(only(run(l_base, &r), F_CLIENT_REJECTED, SEV_HIGH)->message, "sha256 "));
	r.alert_level = 1;
	clean(run(l_base, &r));
	r.alert_level = 2;
	r.alert_from_client = false;
	clean(run(l_base, &r));
	r.alert_from_client = true;
	r.alert_cert_sha256[0] = '\0'; /* before any certificate */
	clean(run(l_base, &r));
	/* Other actions are not judged, even with a bad chain. */
	rep(&r, "nomatch.test", T2028, leaf, NULL, NULL);
	r.action = REPORT_CLIENT_CERTIFICATE;
	clean(run(l_base, &r));
	r.action = REPORT_RESUMED;
	clean(run(l_base, &r));
}

static void test_ignore_and_order(void **state)
{
	struct checks_opts o = { .warn_days = 14 };
	char deny[64], text[256];
	struct cs_report r;
	const struct verdict *vv;
	struct lists *l;

	(void)state;
	/* Several findings at once, sorted worst first, then by code. */
	rep(&r, "www.example.org", T2028, weakleaf, NULL, NULL);
	snprintf(text, sizeof(text), "sha256:%s\n", r.chain[0]->sha256_hex);
	tmp_file(deny, text);
	l = load(ca_file, deny, NULL, NULL);
	vv = run(l, &r);
	dump(vv);
	assert_int_equal(vv->n, 5);
	assert_int_equal(vv->worst, SEV_CRITICAL);
	assert_int_equal(vv->f[0].code, F_REVOKED_DENY);
	assert_int_equal(vv->f[1].code, F_CHAIN_INCOMPLETE);
	assert_int_equal(vv->f[2].code, F_HOSTNAME_MISMATCH);
	assert_int_equal(vv->f[3].code, F_EXPIRED);
	assert_int_equal(vv->f[4].code, F_WEAK_KEY);
	finding_set_add(&o.ignore, F_REVOKED_DENY);
	finding_set_add(&o.ignore, F_HOSTNAME_MISMATCH);
	vv = run_with(&o, l, &r);
	assert_int_equal(vv->n, 3);
	assert_int_equal(vv->worst, SEV_HIGH);
	assert_null(find(vv, F_REVOKED_DENY));
	assert_null(find(vv, F_HOSTNAME_MISMATCH));
	memset(&o.ignore, 0, sizeof(o.ignore));
	finding_set_add(&o.ignore, F_CHAIN_INCOMPLETE);
	rep(&r, "www.example.com", T2026, leaf, NULL, NULL);
	clean(run_with(&o, l_base, &r));
	lists_free(l);
}

static void test_cache(void **state)
{
	char deny[64], text[256];
	struct checker_stats st;
	struct checker *c = checker_new(NULL);
	struct cs_report r;
	struct lists *l;

	(void)state;
	checker_set_lists(c, l_base);
	rep(&r, "www.example.com", T2026, leaf, inter, NULL);
	checks_run(c, &r, &v);
	clean(&v);
	checks_run(c, &r, &v);
	clean(&v);
	checker_stats(c, &st);
	assert_int_equal(st.runs, 2);
	assert_int_equal(st.chain_verifications, 1);
	assert_int_equal(st.chain_cache_hits, 1);
	/* Time is never cached: the same cached chain, judged later, is expired. */
	r.check_time = T2028;
	checks_run(c, &r, &v);
	only(&v, F_EXPIRED, SEV_HIGH);
	checker_stats(c, &st);
	assert_int_equal(st.chain_cache_hits, 2);
	/* A reload denying the leaf: the very next run says so, and re-verifies. */
	r.check_time = T2026;
	snprintf(text, sizeof(text), "sha256:%s\n", r.chain[0]->sha256_hex);
	tmp_file(deny, text);
	l = load(ca_file, deny, NULL, NULL);
	checker_set_lists(c, l);
	checks_run(c, &r, &v);
	only(&v, F_REVOKED_DENY, SEV_CRITICAL);
	checker_stats(c, &st);
	assert_int_equal(st.chain_verifications, 2);
	/* A reload with another trust store changes the chain verdict at once. */
	{
		struct lists *l2 = load(sha1ca_file, NULL, NULL, NULL);

		checker_set_lists(c, l2);
		checks_run(c, &r, &v);
		/* the sent chain ends at Test Int, whose root this store lacks */
		assert_non_null(
			strstr(only(&v, F_CHAIN_UNTRUSTED, SEV_HIGH)->message, "unknown root"));
		checker_set_lists(c, l_base);
		lists_free(l2);
	}
	lists_free(l);
	checker_free(c);
}

/* More distinct chains than the cache holds: bounded, least recently used goes. */
static void test_cache_bound(void **state)
{
	enum { N = 4096 + 16 };
	struct checker *c = checker_new(NULL);
	struct cert_facts *fl = malloc(N * sizeof(*fl));
	struct checker_stats st;
	struct cs_report r;

	(void)state;
	checker_set_lists(c, l_base);
	rep(&r, "www.example.com", T2026, leaf, inter, NULL);
	/* Copies of the leaf's facts with distinct fingerprints: distinct chains to the cache. */
	for (uint32_t i = 0; i < N; i++) {
		fl[i] = *r.chain[0];
		memcpy(fl[i].sha256, &i, sizeof(i));
	}
	for (uint32_t i = 0; i < N; i++) {
		r.chain[0] = &fl[i];
		checks_run(c, &r, &v);
		if (i == 0 || i == N - 1)
			clean(&v);
		r.chain[0] = &fl[0]; /* kept recently used throughout */
		checks_run(c, &r, &v);
	}
	checker_stats(c, &st);
	assert_int_equal(st.chain_verifications, N);
	r.chain[0] = &fl[0]; /* kept warm: still cached */
	checks_run(c, &r, &v);
	r.chain[0] = &fl[N - 1]; /* the newest: cached */
	checks_run(c, &r, &v);
	checker_stats(c, &st);
	assert_int_equal(st.chain_verifications, N);
	r.chain[0] = &fl[1]; /* old and cold: evicted */
	checks_run(c, &r, &v);
	checker_stats(c, &st);
	assert_int_equal(st.chain_verifications, N + 1);
	free(fl);
	checker_free(c);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(finding_name(F_REVOKED_CRL), "revoked.crl");
	assert_string_equal(finding_name(F_NOT_YET_VALID), "cert.not_yet_valid");
	assert_string_equal(finding_name(F_CLIENT_REJECTED), "client.rejected");
	assert_string_equal(finding_name(F_OCSP_BAD_SIGNATURE), "ocsp.bad_signature");
	assert_string_equal(finding_name(F_MAX), "unknown");
	assert_int_equal(finding_parse("chain.incomplete"), F_CHAIN_INCOMPLETE);
	assert_int_equal(finding_parse("chain"), -1);
	assert_int_equal(finding_parse(""), -1);
	assert_int_equal(finding_parse(NULL), -1);
	assert_string_equal(severity_name(SEV_CRITICAL), "critical");
	assert_string_equal(severity_name(SEV_HIGH), "high");
	assert_string_equal(severity_name(SEV_MEDIUM), "medium");
	assert_string_equal(severity_name(SEV_LOW), "low");
	assert_string_equal(severity_name(SEV_OK), "ok");
	assert_string_equal(need_name(NEED_CHAIN), "chain");
	assert_string_equal(need_name(NEED_ALERT), "alert");
	assert_null(need_name(NEED_CHAIN | NEED_SNI));
	assert_string_equal(event_action_name(EV_TLS_SUMMARY), "tls-summary");
	assert_string_equal(event_action_name(EV_READ_DONE), "certsentry-read-done");
	assert_string_equal(event_action_name(EV_MAX), "unknown");
}

/* Every row of findings.def: a unique code that parses back to its row, a
 * severity, needs and a description; rows worst first. */
static void test_findings_table(void **state)
{
	(void)state;
	assert_true(F_MAX > 0);
	for (int i = 0; i < F_MAX; i++) {
		const char *n = finding_name(i);

		print_message("  %-20s %-8s %s\n", n, severity_name(finding_severity(i)),
			      finding_description(i));
		assert_int_equal(finding_parse(n), i);
		assert_true(strlen(n) > 2 && strchr(n, '.'));
		for (const char *p = n; *p; p++) /* a rule name and a Prometheus label value */
			assert_true((*p >= 'a' && *p <= 'z') || *p == '.' || *p == '_');
		for (int j = 0; j < i; j++)
			assert_string_not_equal(finding_name(j), n);
		assert_true(finding_severity(i) >= SEV_CRITICAL && finding_severity(i) < SEV_OK);
		assert_true(finding_needs(i) && !(finding_needs(i) & ~(unsigned)NEED_ALL));
		assert_true(strlen(finding_description(i)) > 10);
		assert_null(strchr(finding_description(i), '|')); /* a README table cell */
		if (i)
			assert_true(finding_severity(i - 1) <= finding_severity(i));
	}
	for (unsigned b = 1; b & NEED_ALL; b <<= 1)
		assert_non_null(need_name(b));
}

/* Every row of events.def: a unique action; the handshake ones are report.h's. */
static void test_events_table(void **state)
{
	(void)state;
	for (int i = 0; i < EV_MAX; i++) {
		const char *n = event_action_name(i);

		assert_true(!strncmp(n, "tls-", 4) || !strncmp(n, "certsentry-", 11));
		assert_true(strlen(event_action_description(i)) > 10);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(event_action_name(j), n);
	}
	assert_string_equal(event_action_name((enum event_action)REPORT_CERTIFICATE),
			    "tls-certificate");
	assert_string_equal(event_action_name((enum event_action)REPORT_CERTIFICATE_HIDDEN),
			    "tls-certificate-hidden");
	assert_string_equal(event_action_name((enum event_action)REPORT_RESUMED),
			    "tls-session-resumed");
	assert_string_equal(event_action_name((enum event_action)REPORT_CLIENT_CERTIFICATE),
			    "tls-client-certificate");
	assert_string_equal(event_action_name((enum event_action)REPORT_ALERT), "tls-alert");
	assert_string_equal(event_action_name((enum event_action)REPORT_INCOMPLETE),
			    "tls-handshake-incomplete");
}

/* Sets of codes beyond 32 (the old uint32_t mask broke at the 33rd): each
 * bit alone, in a set of 100, and nothing past the end. */
static void test_bits(void **state)
{
	enum { N = 100 };
	uint64_t w[BITS_WORDS(N)];
	struct finding_set fs;

	(void)state;
	assert_int_equal(sizeof(w), 2 * sizeof(uint64_t));
	for (size_t i = 0; i < N; i++) {
		memset(w, 0, sizeof(w));
		bits_set(w, N, i);
		for (size_t j = 0; j < N + 8; j++)
			if (bits_test(w, N, j) != (i == j))
				fail_msg("bit %zu set, bit %zu reads %d", i, j, bits_test(w, N, j));
	}
	memset(w, 0, sizeof(w));
	bits_set(w, N, N); /* out of range: ignored */
	bits_set(w, 70, 80);
	assert_int_equal(w[0] | w[1], 0);
	assert_false(bits_test(w, 64, 64));
	/* The finding set: a bit per row, every row. */
	assert_true(8 * sizeof(fs.w) >= F_MAX);
	for (int i = 0; i < F_MAX; i++) {
		memset(&fs, 0, sizeof(fs));
		finding_set_add(&fs, i);
		for (int j = 0; j < F_MAX; j++)
			assert_int_equal(finding_set_has(&fs, j), i == j);
		assert_false(finding_set_has(&fs, F_MAX));
	}
}

/* ---- a witness per finding: table severity and needs hold in the checks ---- */

enum {
	W_NONE,
	W_OCSP,
	W_OCSP_FORGED,
	W_ALERT,
	W_ABORTED,
	W_ABORTING,
	W_INV_CHANGED,
	W_INV_ROLLBACK,
	W_INV_INCONSISTENT
};

static const struct witness {
	enum finding_code code;
	X509 **c0, **c1, **c2; /* the chain sent, leaf first */
	const char *sni;
	int64_t t;
	int extra;
} witnesses[] = {
	{ F_REVOKED_CRL, &revleaf, &inter, NULL, "revoked.example.com", T2026, W_NONE },
	{ F_REVOKED_DENY, &otherleaf, &inter, NULL, "www.example.com", T2026, W_NONE },
	{ F_REVOKED_OCSP, &leaf, &inter, NULL, "www.example.com", T2026, W_OCSP },
	{ F_PIN_MISMATCH, &leaf, &inter, NULL, "www.example.com", T2026, W_NONE },
	{ F_CHAIN_UNTRUSTED, &leaf2, &int2, &root2, "www.example.com", T2026, W_NONE },
	{ F_CHAIN_INCOMPLETE, &leaf, NULL, NULL, "www.example.com", T2026, W_NONE },
	{ F_HOSTNAME_MISMATCH, &leaf, &inter, NULL, "www.example.org", T2026, W_NONE },
	{ F_EXPIRED, &leaf, &inter, NULL, "www.example.com", T2028, W_NONE },
	{ F_NOT_YET_VALID, &leaf, &inter, NULL, "www.example.com", T2024, W_NONE },
	{ F_CLIENT_REJECTED, &leaf, &inter, NULL, NULL, T2026, W_ALERT },
	{ F_CLIENT_ABORTING, &leaf, &inter, NULL, NULL, T2026, W_ABORTING },
	{ F_CLIENT_ABORTED, &leaf, &inter, NULL, NULL, T2026, W_ABORTED },
	{ F_OCSP_BAD_SIGNATURE, &leaf, &inter, NULL, "www.example.com", T2026, W_OCSP_FORGED },
	{ F_SELF_SIGNED, &ss, NULL, NULL, "www.example.com", T2026, W_NONE },
	{ F_WEAK_SIGNATURE, &sha1leaf, &inter, NULL, "www.example.com", T2026, W_NONE },
	{ F_WEAK_KEY, &weakleaf, &inter, NULL, "www.example.com", T2026, W_NONE },
	{ F_EXPIRING_SOON, &leaf, &inter, NULL, "www.example.com", T2027 - 10 * 86400, W_NONE },
	{ F_CERT_CHANGED, &leaf, &inter, NULL, "www.example.com", T2026, W_INV_CHANGED },
	{ F_CERT_ROLLBACK, &leaf, &inter, NULL, "www.example.com", T2026, W_INV_ROLLBACK },
	{ F_CERT_INCONSISTENT, &leaf, &inter, NULL, "www.example.com", T2026, W_INV_INCONSISTENT },
};

/* The leaves the endpoint served before the witness's handshake, seconds
 * before it: 1 its own leaf, 2 another one. */
static const struct {
	int extra;
	int64_t ago[3];
	int which[3];
} histories[] = {
	{ W_INV_CHANGED, { 1000 }, { 2 } },
	{ W_INV_ROLLBACK, { 3000, 2000 }, { 1, 2 } },
	{ W_INV_INCONSISTENT, { 20, 10 }, { 1, 2 } },
};

/* Judges r as the witness wants; an inventory witness with a memory
 * inventory that saw its history first (none when inv is false). */
static const struct verdict *run_witness(const struct witness *w, const struct checks_opts *o,
					 const struct lists *l, struct cs_report *r, bool inv)
{
	char err[128];
	struct inventory_opts io = { .memory_only = true };
	struct inventory *in;
	struct checker *c;
	struct cs_report p;

	if (w->extra < W_INV_CHANGED)
		return run_with(o, l, r);
	c = checker_new(o);
	assert_non_null(c);
	checker_set_lists(c, l);
	in = inv ? inventory_open(&io, err, sizeof(err)) : NULL;
	if (inv) {
		assert_non_null(in);
		checker_set_sources(c, &(struct check_sources){ .inv = in });
	}
	for (size_t i = 0; i < sizeof(histories) / sizeof(histories[0]); i++)
		for (int k = 0; histories[i].extra == w->extra && k < 3 && histories[i].ago[k];
		     k++) {
			p = *r;
			if (histories[i].which[k] == 2 && p.chain_len)
				p.chain[0] = x509_facts(cache, otherleaf);
			p.ts_ns = (uint64_t)(r->check_time - histories[i].ago[k]) * 1000000000ULL;
			checks_run(c, &p, &v);
		}
	r->ts_ns = (uint64_t)r->check_time * 1000000000ULL;
	checks_run(c, r, &v);
	checker_free(c);
	inventory_close(in);
	return &v;
}

static void ocsp_revoked(struct cs_report *r);

static void witness_report(const struct witness *w, struct cs_report *r)
{
	rep(r, w->sni, w->t, *w->c0, w->c1 ? *w->c1 : NULL, w->c2 ? *w->c2 : NULL);
	if (w->extra == W_OCSP || w->extra == W_OCSP_FORGED) {
		ocsp_revoked(r);
		r->ocsp.signature_ok = w->extra == W_OCSP;
	}
	if (w->extra == W_ALERT) {
		r->action = REPORT_ALERT;
		r->alert_from_client = true;
		r->alert_level = 2;
		r->alert_desc = 42;
		strcpy(r->alert_cert_sha256, r->chain[0]->sha256_hex);
	}
	if (w->extra == W_ABORTED) {
		r->action = REPORT_CLIENT_OUTCOME;
		r->outcome = OUTCOME_ABORTED;
		r->outcome_rec_len = 19;
	}
	if (w->extra == W_ABORTING) {
		r->action = REPORT_CLIENT_ABORTING;
		r->win_s = 60;
		r->win_total = 40;
		r->win_aborted = 30;
	}
}

/* Takes away one NEED_* thing from a report (lists: see the caller). */
static void strip(struct cs_report *r, unsigned need)
{
	switch (need) {
	case NEED_CHAIN:
		r->chain_len = 0;
		break;
	case NEED_SNI:
		r->has_sni = false;
		r->sni[0] = '\0';
		break;
	case NEED_OCSP:
		r->have_ocsp = false;
		break;
	case NEED_ALERT:
		if (r->action == REPORT_ALERT)
			r->action = REPORT_CERTIFICATE;
		r->outcome_alert = false;
		break;
	case NEED_OUTCOME:
		if (r->action == REPORT_CLIENT_OUTCOME || r->action == REPORT_CLIENT_ABORTING)
			r->action = REPORT_CERTIFICATE;
		break;
	default:
		break;
	}
}

/* The lists every witness is judged with: trust store, CRL, deny, pins. */
static struct lists *witness_lists(void)
{
	char deny[64], pins[64], text[160];
	struct cs_report r;

	rep(&r, NULL, T2026, otherleaf, NULL, NULL);
	snprintf(text, sizeof(text), "sha256:%s\n", r.chain[0]->sha256_hex);
	tmp_file(deny, text);
	tmp_file(pins, "192.0.2.1:443 spki:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n");
	return load(ca_file, deny, pins, crl_file);
}

/* Each finding happens with its table severity; and exactly what its row
 * says it needs is needed: taking away one thing it needs makes it go,
 * taking away anything else leaves it. */
static void test_witnesses(void **state)
{
	struct lists *l = witness_lists();
	const struct finding *f;
	struct cs_report r;
	bool seen[F_MAX] = { false };

	(void)state;
	for (size_t i = 0; i < sizeof(witnesses) / sizeof(witnesses[0]); i++) {
		const struct witness *w = &witnesses[i];

		print_message("  %s\n", finding_name(w->code));
		seen[w->code] = true;
		witness_report(w, &r);
		f = find(run_witness(w, NULL, l, &r, true), w->code);
		if (!f)
			dump(&v);
		assert_non_null(f);
		assert_int_equal(f->sev, finding_severity(w->code));
		assert_true(v.worst <= f->sev);
		for (unsigned b = 1; b & NEED_ALL; b <<= 1) {
			bool needed = finding_needs(w->code) & b;

			witness_report(w, &r);
			strip(&r, b);
			f = find(run_witness(w, NULL, b == NEED_LISTS ? NULL : l, &r,
					     b != NEED_INVENTORY),
				 w->code);
			if ((f != NULL) == needed)
				fail_msg("%s without %s: %s", finding_name(w->code), need_name(b),
					 needed ? "still there, yet the table says it needs it" :
						  "gone, yet the table does not say it needs it");
		}
	}
	for (int c = 0; c < F_MAX; c++)
		if (!seen[c])
			fail_msg("%s has no witness here", finding_name(c));
	lists_free(l);
}

/* --ignore, for every code: that one goes, the others stay. */
static void test_ignore_every_code(void **state)
{
	struct checks_opts o = { .warn_days = 14 };
	struct lists *l = witness_lists();
	struct cs_report r;
	struct verdict all;

	(void)state;
	for (size_t i = 0; i < sizeof(witnesses) / sizeof(witnesses[0]); i++) {
		witness_report(&witnesses[i], &r);
		memset(&o.ignore, 0, sizeof(o.ignore));
		all = *run_witness(&witnesses[i], &o, l, &r, true);
		finding_set_add(&o.ignore, witnesses[i].code);
		print_message("  --ignore %s\n", finding_name(witnesses[i].code));
		witness_report(&witnesses[i], &r);
		run_witness(&witnesses[i], &o, l, &r, true);
		assert_null(find(&v, witnesses[i].code));
		assert_int_equal(v.n, all.n - 1);
		for (uint32_t k = 0; k < all.n; k++)
			if (all.f[k].code != witnesses[i].code)
				assert_non_null(find(&v, all.f[k].code));
	}
	/* Everything ignored at once: a clean verdict. */
	for (int c = 0; c < F_MAX; c++)
		finding_set_add(&o.ignore, c);
	witness_report(&witnesses[0], &r);
	clean(run_with(&o, l, &r));
	lists_free(l);
}

/* Among findings of one severity, the table's row order decides. */
static void test_order_is_row_order(void **state)
{
	struct lists *l = witness_lists();
	struct cs_report r;

	(void)state;
	/* Expired, not chain-complete, wrong name, weak key, denied... at once. */
	rep(&r, "www.example.org", T2028, otherleaf, NULL, NULL);
	ocsp_revoked(&r);
	r.ocsp.signature_ok = false;
	run(l, &r);
	dump(&v);
	assert_true(v.n >= 4);
	for (uint32_t i = 1; i < v.n; i++) {
		assert_true(v.f[i - 1].sev < v.f[i].sev ||
			    (v.f[i - 1].sev == v.f[i].sev && v.f[i - 1].code < v.f[i].code));
		assert_int_equal(v.f[i].sev, finding_severity(v.f[i].code));
	}
	assert_int_equal(v.worst, v.f[0].sev);
	lists_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_unverified),
		cmocka_unit_test(test_incomplete),
		cmocka_unit_test(test_untrusted),
		cmocka_unit_test(test_self_signed),
		cmocka_unit_test(test_hostname),
		cmocka_unit_test(test_memo_one_checker),
		cmocka_unit_test(test_validity),
		cmocka_unit_test(test_expiring_soon),
		cmocka_unit_test(test_weak_signature),
		cmocka_unit_test(test_weak_key),
		cmocka_unit_test(test_deny),
		cmocka_unit_test(test_crl),
		cmocka_unit_test(test_ocsp),
		cmocka_unit_test(test_pins),
		cmocka_unit_test(test_client_rejected),
		cmocka_unit_test(test_ignore_and_order),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_cache_bound),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_findings_table),
		cmocka_unit_test(test_events_table),
		cmocka_unit_test(test_bits),
		cmocka_unit_test(test_witnesses),
		cmocka_unit_test(test_ignore_every_code),
		cmocka_unit_test(test_order_is_row_order),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
