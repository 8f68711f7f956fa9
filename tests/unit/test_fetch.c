/* test_fetch.c - unit tests for the fetchers' offline parts: URLs, allow-list, addresses,
 * backoff, refusals (user/fetch.c), extension URLs and refresh times (user/fetchutil.c),
 * the state directory (user/fstore.c), and CRLs answered from it (user/crlfetch.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "x509_helpers.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cert.h"
#include "crlfetch.h"
#include "fetch.h"
#include "fetchutil.h"
#include "fstore.h"

/* ---- fetch: URLs, hosts, addresses, backoff, refusals ------------------------- */

static void test_url_host(void **state)
{
	char h[256];

	(void)state;
	assert_int_equal(fetch_url_host("http://CRL.Example.COM:8080/x.crl", h, sizeof(h)),
			 FETCH_OK);
	assert_string_equal(h, "crl.example.com");
	assert_int_equal(fetch_url_host("https://[2001:DB8::1]/a", h, sizeof(h)), FETCH_OK);
	assert_string_equal(h, "2001:db8::1");
	assert_int_equal(fetch_url_host("ftp://example.com/x.crl", h, sizeof(h)), FETCH_E_URL);
	assert_int_equal(fetch_url_host("ldap://example.com/cn=x", h, sizeof(h)), FETCH_E_URL);
	assert_int_equal(fetch_url_host("example.com/x.crl", h, sizeof(h)), FETCH_E_URL);
	assert_int_equal(fetch_url_host("http://:80/x.crl", h, sizeof(h)), FETCH_E_URL);
	assert_int_equal(fetch_url_host("http://a b/", h, sizeof(h)), FETCH_E_URL);
	assert_int_equal(fetch_url_host(NULL, h, sizeof(h)), FETCH_E_URL);
	{
		char *big = malloc(FETCH_URL_MAX + 32);

		assert_non_null(big);
		strcpy(big, "http://example.com/");
		memset(big + 19, 'a', FETCH_URL_MAX);
		big[FETCH_URL_MAX + 19] = 0;
		assert_int_equal(fetch_url_host(big, h, sizeof(h)), FETCH_E_URL);
		free(big);
	}
	/* a host longer than the caller's buffer is refused, not cut */
	assert_int_equal(fetch_url_host("http://abcdefgh.example/", h, 8), FETCH_E_URL);
}

static void test_allow_list(void **state)
{
	struct fetch_opts o = { .allow = { "*.example.com", "10.0.0.*" }, .n_allow = 2 };
	struct fetch_opts none = { 0 };
	struct fetch *f, *any;
	char err[256];

	(void)state;
	assert_non_null(f = fetch_new(&o, err, sizeof(err)));
	assert_true(fetch_host_allowed(f, "crl.example.com"));
	assert_true(fetch_host_allowed(f, "CRL.EXAMPLE.COM"));
	assert_true(fetch_host_allowed(f, "10.0.0.7"));
	assert_false(fetch_host_allowed(f, "example.com"));
	assert_false(fetch_host_allowed(f, "crl.example.com.evil.test"));
	assert_false(fetch_host_allowed(f, "10.0.1.7"));
	fetch_free(f);
	assert_non_null(any = fetch_new(&none, err, sizeof(err)));
	assert_true(fetch_host_allowed(any, "anything.test"));
	fetch_free(any);

	/* patterns are hosts, not URLs */
	o.allow[0] = "http://example.com/";
	assert_null(fetch_new(&o, err, sizeof(err)));
	assert_non_null(strstr(err, "--fetch-allow: 'http://example.com/'"));
	o.allow[0] = "";
	assert_null(fetch_new(&o, err, sizeof(err)));
}

static bool local(const char *addr)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

	if (inet_pton(AF_INET, addr, &in->sin_addr) == 1)
		in->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1)
		in6->sin6_family = AF_INET6;
	else
		fail_msg("bad test address %s", addr);
	return fetch_addr_is_local((struct sockaddr *)&ss);
}

static void test_local_addresses(void **state)
{
	(void)state;
	assert_true(local("127.0.0.1"));
	assert_true(local("127.9.9.9"));
	assert_true(local("0.0.0.0"));
	assert_true(local("169.254.169.254")); /* cloud metadata */
	assert_true(local("224.0.0.1"));
	assert_true(local("255.255.255.255"));
	assert_true(local("::1"));
	assert_true(local("::"));
	assert_true(local("fe80::1"));
	assert_true(local("ff02::1"));
	assert_true(local("::ffff:127.0.0.1"));
	assert_true(local("::ffff:169.254.1.1"));
	assert_false(local("10.0.0.1"));
	assert_false(local("192.168.1.1"));
	assert_false(local("8.8.8.8"));
	assert_false(local("2001:db8::1"));
	assert_false(local("::ffff:10.0.0.1"));
}

static void test_backoff_doubles(void **state)
{
	struct fetch_opts o = { .backoff_min_s = 60, .backoff_max_s = 3600 };

	(void)state;
	assert_int_equal(fetch_backoff_s(&o, 0), 0);
	assert_int_equal(fetch_backoff_s(&o, 1), 60);
	assert_int_equal(fetch_backoff_s(&o, 2), 120);
	assert_int_equal(fetch_backoff_s(&o, 6), 1920);
	assert_int_equal(fetch_backoff_s(&o, 7), 3600);
	assert_int_equal(fetch_backoff_s(&o, 4000000000u), 3600);
}

static int calls;
static void count_done(void *ctx, struct fetch_resp *r)
{
	(void)ctx;
	(void)r;
	calls++;
}

/* Refusals come back from fetch_submit at once, are counted, and never
 * call back; nothing here touches the network (fetch_tick is not called). */
static void test_refusals(void **state)
{
	struct fetch_opts o = { .allow = { "*.example.test" }, .n_allow = 1, .max_queued = 1 };
	struct fetch_req r = { .done = count_done };
	struct fetch_stats st;
	struct fetch *f;
	char err[256];
	int ctx;

	(void)state;
	calls = 0;
	assert_non_null(f = fetch_new(&o, err, sizeof(err)));
	r.url = "http://crl.elsewhere.test/x.crl";
	assert_int_equal(fetch_submit(f, &r), FETCH_E_DISALLOWED);
	r.url = "gopher://crl.example.test/";
	assert_int_equal(fetch_submit(f, &r), FETCH_E_URL);
	r.url = "http://crl.example.test/a.crl";
	r.ctx = &ctx;
	assert_int_equal(fetch_submit(f, &r), FETCH_OK);
	r.url = "http://crl.example.test/b.crl";
	assert_int_equal(fetch_submit(f, &r), FETCH_E_BUSY);
	/* a body found unusable backs its URL off like a failed fetch */
	assert_int_equal(fetch_backoff_left(f, r.url), 0);
	fetch_penalize(f, r.url);
	assert_in_range(fetch_backoff_left(f, r.url), 59, 60);
	assert_int_equal(fetch_submit(f, &r), FETCH_E_BACKOFF);
	fetch_stats(f, &st);
	assert_int_equal(st.submitted, 5);
	assert_int_equal(st.queued, 1);
	assert_int_equal(st.results[FETCH_E_DISALLOWED], 1);
	assert_int_equal(st.results[FETCH_E_URL], 1);
	assert_int_equal(st.results[FETCH_E_BUSY], 1);
	assert_int_equal(st.results[FETCH_E_BACKOFF], 1);
	/* what a module does before it goes away */
	fetch_cancel(f, &ctx);
	fetch_stats(f, &st);
	assert_int_equal(st.queued, 0);
	assert_int_equal(calls, 0);
	fetch_free(f);
	for (int i = 0; i < FETCH_RESULT_MAX; i++)
		assert_string_not_equal(fetch_result_name(i), "?");
}

/* ---- fetchutil ------------------------------------------------------------------ */

static EVP_PKEY *ca_key, *other_key, *leaf_key;
static X509 *ca_cert, *fake_ca_cert;

/* Valid for a day from an hour ago; basicConstraints (critical) and SKID,
 * then exts (name, value pairs). */
static X509 *mint(X509 *iss, EVP_PKEY *signer, EVP_PKEY *key, const char *cn, long serial, bool ca,
		  const char *const *exts)
{
	const char *all[24] = { "subjectKeyIdentifier", "hash" };
	size_t n = 2;
	struct x509_spec s = {
		.key = key,
		.signer = signer,
		.issuer = iss,
		.cn = cn,
		.o = "",
		.serial = serial,
		.from_now = true,
		.nb_s = -3600,
		.na_s = 86400,
		.ca = ca,
		.bare = true,
		.exts = all,
	};

	if (!ca) {
		all[0] = "basicConstraints", all[1] = "critical,CA:FALSE";
		all[2] = "subjectKeyIdentifier", all[3] = "hash";
		n = 4;
	}
	for (; exts && exts[0]; exts += 2, n += 2) {
		assert_true(n + 3 <= sizeof(all) / sizeof(all[0]));
		all[n] = exts[0], all[n + 1] = exts[1];
	}
	all[n] = NULL;
	return x509_mint(&s);
}

static int setup(void **state)
{
	(void)state;
	ca_key = EVP_EC_gen("P-256");
	other_key = EVP_EC_gen("P-256");
	leaf_key = EVP_EC_gen("P-256");
	assert_non_null(ca_key);
	ca_cert = mint(NULL, ca_key, ca_key, "Fetch Test CA", 1, true, NULL);
	/* the CA's name with another key */
	fake_ca_cert = mint(NULL, other_key, other_key, "Fetch Test CA", 1, true, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	X509_free(ca_cert);
	X509_free(fake_ca_cert);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(other_key);
	EVP_PKEY_free(leaf_key);
	return 0;
}

static void test_extension_urls(void **state)
{
	static const char *const exts[] = {
		"crlDistributionPoints",
		"URI:ldap://ldap.example.test/cn=ca,URI:http://crl.example.test/ca.crl,URI:HTTPS://crl2.example.test/ca.crl",
		"authorityInfoAccess",
		"OCSP;URI:http://ocsp.example.test,caIssuers;URI:http://ca.example.test/ca.der,caIssuers;URI:ldap://x/y",
		NULL,
	};
	X509 *x = mint(ca_cert, ca_key, leaf_key, "leaf", 2, false, exts);
	X509 *bare = mint(ca_cert, ca_key, leaf_key, "bare", 3, false, NULL);
	struct fu_urls u;

	(void)state;
	fu_cert_dp_urls(x, NID_crl_distribution_points, &u);
	assert_int_equal(u.n, 2);
	assert_string_equal(u.u[0], "http://crl.example.test/ca.crl");
	assert_string_equal(u.u[1], "HTTPS://crl2.example.test/ca.crl");
	assert_true(u.skipped); /* the LDAP one */
	fu_aia_urls(x, NID_ad_OCSP, &u);
	assert_int_equal(u.n, 1);
	assert_string_equal(u.u[0], "http://ocsp.example.test");
	fu_aia_urls(x, NID_ad_ca_issuers, &u);
	assert_int_equal(u.n, 1);
	assert_string_equal(u.u[0], "http://ca.example.test/ca.der");
	assert_true(u.skipped);
	fu_cert_dp_urls(bare, NID_crl_distribution_points, &u);
	assert_int_equal(u.n, 0);
	assert_false(u.skipped);
	fu_aia_urls(bare, NID_ad_OCSP, &u);
	assert_int_equal(u.n, 0);
	X509_free(x);
	X509_free(bare);
}

/* Partial (reasons) and indirect (cRLIssuer) distribution points are not followed. */
static void test_partial_dp_skipped(void **state)
{
	STACK_OF(DIST_POINT) *dps = sk_DIST_POINT_new_null();
	DIST_POINT *dp = DIST_POINT_new();
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_IA5STRING *s = ASN1_IA5STRING_new();
	struct fu_urls u;

	(void)state;
	assert_true(ASN1_STRING_set(s, "http://crl.example.test/some.crl", -1));
	GENERAL_NAME_set0_value(g, GEN_URI, s);
	dp->distpoint = DIST_POINT_NAME_new();
	dp->distpoint->type = 0;
	dp->distpoint->name.fullname = sk_GENERAL_NAME_new_null();
	sk_GENERAL_NAME_push(dp->distpoint->name.fullname, g);
	dp->reasons = ASN1_BIT_STRING_new();
	assert_true(ASN1_BIT_STRING_set_bit(dp->reasons, 1, 1));
	sk_DIST_POINT_push(dps, dp);
	fu_dp_urls(dps, &u);
	assert_int_equal(u.n, 0);
	assert_true(u.skipped);
	sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
}

static void test_refresh_at(void **state)
{
	int64_t now = 1800000000;

	(void)state;
	for (int i = 0; i < 2000; i++) {
		/* far nextUpdate: at most max_s, at least 90% of it */
		int64_t t = fu_refresh_at(now, now + 7 * 86400, 300, 3600);

		assert_in_range(t, now + 3240, now + 3600);
		/* near nextUpdate: about halfway there */
		t = fu_refresh_at(now, now + 1000, 60, 3600);
		assert_in_range(t, now + 450, now + 500);
		/* past nextUpdate, or none: max_s, never under min_s */
		assert_in_range(fu_refresh_at(now, now - 10, 300, 3600), now + 3240, now + 3600);
		assert_int_equal(fu_refresh_at(now, now + 100, 300, 3600), now + 300);
		assert_int_equal(fu_refresh_at(now, 0, 5, 2), now + 5);
	}
}

/* ---- fstore ---------------------------------------------------------------------- */

static char *tmpdir(void)
{
	char *d = strdup("/tmp/certsentry-fetch-XXXXXX");

	assert_non_null(d);
	assert_non_null(mkdtemp(d));
	return d;
}

static void rm_rf(const char *d)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	assert_int_equal(system(cmd), 0);
}

static int seen;
static char seen_url[256];
static bool seen_cert;

static void collect(void *ctx, const uint8_t key[32], const struct fstore_meta *m, X509 *cert,
		    uint8_t *body, size_t len)
{
	(void)ctx;
	(void)key;
	seen++;
	snprintf(seen_url, sizeof(seen_url), "%.255s", m->url);
	seen_cert = cert != NULL;
	assert_int_equal(len, 5);
	assert_memory_equal(body, "hello", 5);
	X509_free(cert);
	free(body);
}

static void write_at(const char *dir, const char *name, const char *text)
{
	char p[512];
	FILE *fp;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_non_null(fp = fopen(p, "w"));
	fputs(text, fp);
	fclose(fp);
}

static void test_fstore(void **state)
{
	char *root = tmpdir(), dir[512], err[256], p[600];
	struct fstore_meta m = { .kind = "crl", .fetched = 1800000000, .etag = "\"v1\"" };
	uint8_t k1[32], k2[32];
	struct fstore *s;
	uint32_t removed;

	(void)state;
	memset(k1, 0x11, sizeof(k1));
	memset(k2, 0x22, sizeof(k2));
	snprintf(dir, sizeof(dir), "%s/state/crl", root);
	assert_non_null(s = fstore_open(dir, err, sizeof(err))); /* parents made */
	snprintf(m.url, sizeof(m.url), "http://crl.example.test/a.crl");
	assert_int_equal(
		fstore_put(s, k1, &m, ca_cert, (const uint8_t *)"hello", 5, err, sizeof(err)), 0);
	assert_int_equal(fstore_put(s, k2, &m, NULL, (const uint8_t *)"hello", 5, err, sizeof(err)),
			 0);
	fstore_close(s);

	/* leftovers of an interrupted write go at open */
	write_at(dir, ".1111.der.tmp", "partial");
	assert_non_null(s = fstore_open(dir, err, sizeof(err)));
	snprintf(p, sizeof(p), "%s/.1111.der.tmp", dir);
	assert_int_equal(access(p, F_OK), -1);
	seen = 0;
	assert_int_equal(fstore_each(s, 1024, collect, NULL, &removed), 2);
	assert_int_equal(seen, 2);
	assert_int_equal(removed, 0);
	assert_string_equal(seen_url, "http://crl.example.test/a.crl");

	/* a 304: the meta is rewritten, the body and certificate stay */
	m.fetched = 1800000100;
	assert_int_equal(fstore_touch(s, k1, &m, err, sizeof(err)), 0);
	fstore_remove(s, k2);
	seen = 0;
	assert_int_equal(fstore_each(s, 1024, collect, NULL, &removed), 1);
	assert_true(seen_cert);

	/* a body that is not the one the meta describes (torn), a body without
	 * meta, a body over the bound: all removed */
	snprintf(p, sizeof(p),
		 "%s/1111111111111111111111111111111111111111111111111111111111111111.der", dir);
	write_at(dir, "1111111111111111111111111111111111111111111111111111111111111111.der",
		 "jello");
	write_at(dir, "3333333333333333333333333333333333333333333333333333333333333333.der",
		 "hello");
	seen = 0;
	assert_int_equal(fstore_each(s, 1024, collect, NULL, &removed), 0);
	assert_int_equal(removed, 2);
	assert_int_equal(access(p, F_OK), -1);
	assert_int_equal(fstore_put(s, k1, &m, NULL, (const uint8_t *)"hello", 5, err, sizeof(err)),
			 0);
	assert_int_equal(fstore_each(s, 4, collect, NULL, &removed), 0);
	assert_int_equal(removed, 1);
	fstore_close(s);

	/* a state directory that cannot be made says where */
	write_at(root, "file", "x");
	snprintf(p, sizeof(p), "%s/file/crl", root);
	assert_null(fstore_open(p, err, sizeof(err)));
	assert_non_null(strstr(err, p));
	rm_rf(root);
	free(root);
}

/* ---- crlfetch: CRLs answered from the state directory ----------------------------- */

#define URL_A "http://crl.example.test/a.crl"
#define URL_P "http://crl.example.test/part7.crl"

static ASN1_INTEGER *int_of(long v)
{
	ASN1_INTEGER *a = ASN1_INTEGER_new();

	assert_non_null(a);
	assert_true(ASN1_INTEGER_set(a, v));
	return a;
}

static GENERAL_NAMES *uri_names(const char *uri)
{
	GENERAL_NAMES *g = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *n = GENERAL_NAME_new();
	ASN1_IA5STRING *s = ASN1_IA5STRING_new();

	assert_true(ASN1_STRING_set(s, uri, -1));
	GENERAL_NAME_set0_value(n, GEN_URI, s);
	sk_GENERAL_NAME_push(g, n);
	return g;
}

/* A CRL by signer under iss's name: number, revoked serials (keyCompromise),
 * an Issuing Distribution Point naming idp_uri (onlyCA if only_ca). */
static X509_CRL *make_crl(EVP_PKEY *signer, long number, const long *revoked, int n,
			  const char *idp_uri, bool only_ca)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t = ASN1_TIME_new();
	ASN1_INTEGER *num = int_of(number);

	assert_non_null(crl);
	assert_true(X509_CRL_set_version(crl, 1));
	assert_true(X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca_cert)));
	assert_non_null(X509_gmtime_adj(t, -60));
	assert_true(X509_CRL_set1_lastUpdate(crl, t));
	assert_non_null(X509_gmtime_adj(t, 86400));
	assert_true(X509_CRL_set1_nextUpdate(crl, t));
	for (int i = 0; i < n; i++) {
		X509_REVOKED *r = X509_REVOKED_new();
		ASN1_INTEGER *s = int_of(revoked[i]);
		ASN1_ENUMERATED *why = ASN1_ENUMERATED_new();

		assert_non_null(X509_gmtime_adj(t, -3600));
		assert_true(X509_REVOKED_set_serialNumber(r, s));
		assert_true(X509_REVOKED_set_revocationDate(r, t));
		assert_true(ASN1_ENUMERATED_set(why, 1));
		assert_true(X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, why, 0, 0));
		assert_true(X509_CRL_add0_revoked(crl, r));
		ASN1_INTEGER_free(s);
		ASN1_ENUMERATED_free(why);
	}
	assert_true(X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0));
	if (idp_uri || only_ca) {
		ISSUING_DIST_POINT *idp = ISSUING_DIST_POINT_new();

		if (idp_uri) {
			idp->distpoint = DIST_POINT_NAME_new();
			idp->distpoint->type = 0;
			idp->distpoint->name.fullname = uri_names(idp_uri);
		}
		idp->onlyCA = only_ca;
		assert_true(X509_CRL_add1_ext_i2d(crl, NID_issuing_distribution_point, idp, 1, 0));
		ISSUING_DIST_POINT_free(idp);
	}
	assert_true(X509_CRL_sort(crl));
	assert_true(X509_CRL_sign(crl, signer, EVP_sha256()) > 0);
	ASN1_TIME_free(t);
	ASN1_INTEGER_free(num);
	return crl;
}

/* Keeps crl in the state directory as crlfetch keeps what it fetched from url. */
static void keep(const char *state, struct cert_cache *cc, const char *url, X509_CRL *crl,
		 X509 *kept_issuer)
{
	struct fstore_meta m = { .kind = "crl", .fetched = (int64_t)time(NULL) };
	unsigned char *der = NULL, *cder = NULL;
	int n = i2d_X509_CRL(crl, &der), cn = i2d_X509(ca_cert, &cder);
	struct cert_facts *iss = cert_get(cc, cder, (size_t)cn);
	struct fstore *s;
	char dir[512], err[256];
	uint8_t key[32];

	snprintf(dir, sizeof(dir), "%s/crl", state);
	assert_non_null(s = fstore_open(dir, err, sizeof(err)));
	snprintf(m.url, sizeof(m.url), "%s", url);
	crlfetch_key(iss, url, key);
	assert_int_equal(fstore_put(s, key, &m, kept_issuer, der, (size_t)n, err, sizeof(err)), 0);
	fstore_close(s);
	cert_put(cc, iss);
	OPENSSL_free(der);
	OPENSSL_free(cder);
	X509_CRL_free(crl);
}

static void test_crl_from_state(void **state)
{
	static const char *const cdp_a[] = { "crlDistributionPoints", "URI:" URL_A, NULL };
	static const char *const cdp_p[] = { "crlDistributionPoints", "URI:" URL_P, NULL };
	static const char *const cdp_x[] = { "crlDistributionPoints",
					     "URI:http://crl.example.test/x.crl", NULL };
	static const long revoked[] = { 0x2222 };
	char *root = tmpdir();
	struct cert_cache *cc = cert_cache_new(64);
	struct crlfetch_opts o = { .certs = cc, .state_dir = root, .refresh_min_s = 3600 };
	struct fetch_opts fo = { .n_allow = 0 };
	struct crlfetch_answer a;
	struct crlfetch_stats st;
	struct fetch *f;
	struct crlfetch *c;
	char err[256];
	X509 *good = mint(ca_cert, ca_key, leaf_key, "good", 0x1111, false, cdp_a);
	X509 *bad = mint(ca_cert, ca_key, leaf_key, "revoked", 0x2222, false, cdp_a);
	X509 *part = mint(ca_cert, ca_key, leaf_key, "partitioned", 0x3333, false, cdp_p);
	X509 *forged = mint(ca_cert, ca_key, leaf_key, "forged", 0x4444, false, cdp_x);
	X509 *nocdp = mint(ca_cert, ca_key, leaf_key, "nocdp", 0x5555, false, NULL);
	struct cert_facts *fg, *fb, *fp, *fx, *fn, *fi, *ff;

	(void)state;
	assert_non_null(cc);
	/* a.crl: signed by the CA, revokes 0x2222; part7.crl: a partition that
	 * names part9 only; x.crl: the CA's name, another key */
	keep(root, cc, URL_A, make_crl(ca_key, 41, revoked, 1, NULL, false), ca_cert);
	keep(root, cc, URL_P,
	     make_crl(ca_key, 7, revoked, 1, "http://crl.example.test/part9.crl", false), ca_cert);
	keep(root, cc, "http://crl.example.test/x.crl",
	     make_crl(other_key, 99, NULL, 0, NULL, false), ca_cert);
	assert_non_null(f = fetch_new(&fo, err, sizeof(err)));
	assert_non_null(c = crlfetch_new(f, &o, err, sizeof(err)));
	crlfetch_stats(c, &st);
	assert_int_equal(st.loaded, 2); /* the forged one was dropped */
	assert_int_equal(st.held, 2);

	fg = x509_facts(cc, good), fb = x509_facts(cc, bad), fp = x509_facts(cc, part);
	fx = x509_facts(cc, forged), fn = x509_facts(cc, nocdp), fi = x509_facts(cc, ca_cert);
	ff = x509_facts(cc, fake_ca_cert);

	/* answered at once from what was kept: no fetch needed */
	assert_int_equal(crlfetch_check(c, fg, fi, &a), CRLF_GOOD);
	assert_string_equal(a.crl_number, "41");
	assert_string_equal(a.url, URL_A);
	assert_true(a.this_update > 0 && a.next_update > a.this_update);
	assert_false(a.stale);
	assert_int_equal(crlfetch_check(c, fb, fi, &a), CRLF_REVOKED);
	assert_string_equal(a.reason_str, "keyCompromise");
	assert_int_equal(a.reason, 1);
	assert_string_equal(a.crl_number, "41");
	/* asked again (every handshake does): the same answer, remembered,
	 * and counted again */
	memset(&a, 0x55, sizeof(a));
	assert_int_equal(crlfetch_check(c, fb, fi, &a), CRLF_REVOKED);
	assert_string_equal(a.reason_str, "keyCompromise");
	assert_string_equal(a.crl_number, "41");
	assert_string_equal(a.url, URL_A);

	/* a partition for other certificates covers nothing here, even one it lists */
	assert_int_equal(crlfetch_check(c, fp, fi, &a), CRLF_NONE);
	assert_int_equal(a.none, CRLF_N_NOT_COVERED);
	assert_non_null(strstr(a.why, "partition"));

	/* the CRL signed with another key never made it in: pending a fetch */
	assert_int_equal(crlfetch_check(c, fx, fi, &a), CRLF_NONE);
	assert_int_equal(a.none, CRLF_N_PENDING);

	/* no distribution point; no issuer; one with another name */
	assert_int_equal(crlfetch_check(c, fn, fi, &a), CRLF_NONE);
	assert_int_equal(a.none, CRLF_N_NO_CDP);
	assert_int_equal(crlfetch_check(c, fg, NULL, &a), CRLF_NONE);
	assert_int_equal(a.none, CRLF_N_NO_ISSUER);
	assert_int_equal(crlfetch_check(c, fi, fg, &a), CRLF_NONE);
	assert_int_equal(a.none, CRLF_N_NO_ISSUER);
	/* the issuer's name with another key: the CRL held (signed by the real
	 * key) is not used for it; another one is followed, which only a CRL
	 * signed by that key could satisfy */
	assert_int_equal(crlfetch_check(c, fg, ff, &a), CRLF_NONE);
	assert_int_equal(a.none, CRLF_N_PENDING);
	crlfetch_stats(c, &st);
	assert_int_equal(st.revoked, 2);
	assert_int_equal(st.followed, 4); /* a, part7, x and a-for-the-fake, the last two pending */

	crlfetch_free(c);
	fetch_free(f);
	for (int i = 0; i < CRLF_N_MAX; i++)
		assert_string_not_equal(crlfetch_none_name(i), "?");
	for (int i = 0; i < CRLF_F_MAX; i++)
		assert_string_not_equal(crlfetch_fail_name(i), "?");
	cert_put(cc, fg), cert_put(cc, fb), cert_put(cc, fp), cert_put(cc, fx);
	cert_put(cc, fn), cert_put(cc, fi), cert_put(cc, ff);
	cert_cache_free(cc);
	X509_free(good), X509_free(bad), X509_free(part), X509_free(forged), X509_free(nocdp);
	rm_rf(root);
	free(root);
}

/* A CA certificate against an onlyContainsCACerts CRL is covered; a leaf is not.
 * And the bound on CRLs held applies to what is loaded. */
static void test_crl_scope_and_bound(void **state)
{
	static const char *const cdp_a[] = { "crlDistributionPoints", "URI:" URL_A, NULL };
	static const char *const cdp_b[] = { "crlDistributionPoints",
					     "URI:http://crl.example.test/b.crl", NULL };
	char *root = tmpdir();
	struct cert_cache *cc = cert_cache_new(64);
	struct crlfetch_opts o = { .certs = cc, .state_dir = root, .max_crls = 1 };
	struct fetch_opts fo = { 0 };
	struct crlfetch_answer a;
	struct crlfetch_stats st;
	struct fetch *f;
	struct crlfetch *c;
	char err[256], dir[512];
	X509 *sub = mint(ca_cert, ca_key, other_key, "Sub CA", 0x77, true, cdp_a);
	X509 *leaf = mint(ca_cert, ca_key, leaf_key, "leaf", 0x78, false, cdp_a);
	X509 *leaf_b = mint(ca_cert, ca_key, leaf_key, "leaf b", 0x79, false, cdp_b);
	struct cert_facts *fs, *fl, *fb, *fi;
	int files = 0;

	(void)state;
	keep(root, cc, URL_A, make_crl(ca_key, 5, NULL, 0, NULL, true), ca_cert);
	assert_non_null(f = fetch_new(&fo, err, sizeof(err)));
	assert_non_null(c = crlfetch_new(f, &o, err, sizeof(err)));
	fs = x509_facts(cc, sub), fl = x509_facts(cc, leaf), fb = x509_facts(cc, leaf_b);
	fi = x509_facts(cc, ca_cert);
	assert_int_equal(crlfetch_check(c, fs, fi, &a), CRLF_GOOD);
	assert_int_equal(crlfetch_check(c, fl, fi, &a), CRLF_NONE);
	assert_int_equal(a.none, CRLF_N_NOT_COVERED);
	assert_non_null(strstr(a.why, "CA certificates only"));
	/* one CRL followed at most: following b.crl evicts a.crl, on disk too */
	assert_int_equal(crlfetch_check(c, fb, fi, &a), CRLF_NONE);
	assert_int_equal(a.none, CRLF_N_PENDING);
	crlfetch_stats(c, &st);
	assert_int_equal(st.followed, 1);
	assert_int_equal(st.evicted, 1);
	assert_int_equal(st.held, 0);
	/* the answer remembered for the sub CA went with a.crl: followed again
	 * (evicting b.crl), pending, not the GOOD of the CRL no longer held */
	assert_int_equal(crlfetch_check(c, fs, fi, &a), CRLF_NONE);
	assert_int_equal(a.none, CRLF_N_PENDING);
	crlfetch_stats(c, &st);
	assert_int_equal(st.evicted, 2);
	assert_int_equal(crlfetch_check(c, fb, fi, &a), CRLF_NONE);
	assert_int_equal(a.none, CRLF_N_PENDING);
	crlfetch_stats(c, &st);
	assert_int_equal(st.evicted, 3);
	crlfetch_free(c);
	fetch_free(f);
	snprintf(dir, sizeof(dir), "%s/crl", root);
	{
		DIR *d = opendir(dir);
		struct dirent *de;

		assert_non_null(d);
		while ((de = readdir(d)))
			files += de->d_name[0] != '.';
		closedir(d);
	}
	assert_int_equal(files, 0);
	cert_put(cc, fs), cert_put(cc, fl), cert_put(cc, fb), cert_put(cc, fi);
	cert_cache_free(cc);
	X509_free(sub), X509_free(leaf), X509_free(leaf_b);
	rm_rf(root);
	free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_host),
		cmocka_unit_test(test_allow_list),
		cmocka_unit_test(test_local_addresses),
		cmocka_unit_test(test_backoff_doubles),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_extension_urls),
		cmocka_unit_test(test_partial_dp_skipped),
		cmocka_unit_test(test_refresh_at),
		cmocka_unit_test(test_fstore),
		cmocka_unit_test(test_crl_from_state),
		cmocka_unit_test(test_crl_scope_and_bound),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
