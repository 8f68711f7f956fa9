/* test_lists.c - the lists module (lists*.c) against a PKI, CRLs and list files minted here. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "x509_helpers.h"
#include "certsentry.h"
#include "cert.h"
#include "lists.h"

static char dir[64]; /* scratch directory, removed at the end */
static EVP_PKEY *k_root, *k_int, *k_leaf, *k_bad;
static X509 *x_root, *x_int, *x_leaf, *x_leaf2, *x_leaf3;
static struct cert_cache *cache;
static struct cert_facts *f_root, *f_int, *f_leaf, *f_leaf2, *f_leaf3;
static char ca_pem[128];

/* ---- minting ---- */

/* Made now, valid for a year; a leaf says CA:FALSE. */
static X509 *mint(X509 *iss, EVP_PKEY *signer, EVP_PKEY *key, const char *cn, const char *o,
		  const ASN1_INTEGER *serial, bool ca)
{
	static const char *const leaf_bc[] = { "basicConstraints", "CA:FALSE", NULL };
	const struct x509_spec s = {
		.key = key,
		.signer = signer,
		.issuer = iss,
		.cn = cn,
		.o = o,
		.serial_int = serial,
		.from_now = true,
		.nb_s = -3600,
		.na_s = 86400L * 365,
		.ca = ca,
		.bare = true,
		.exts = ca ? NULL : leaf_bc,
	};

	return x509_mint(&s);
}

static ASN1_INTEGER *int_of(long v)
{
	ASN1_INTEGER *a = ASN1_INTEGER_new();

	ASN1_INTEGER_set(a, v);
	return a;
}

static X509 *mint_l(X509 *iss, EVP_PKEY *signer, EVP_PKEY *key, const char *cn, long serial,
		    bool ca)
{
	ASN1_INTEGER *s = int_of(serial);
	X509 *x = mint(iss, signer, key, cn, "certsentry test", s, ca);

	ASN1_INTEGER_free(s);
	return x;
}

struct rev {
	const ASN1_INTEGER *serial;
	int reason;
};

static X509_CRL *make_crl(X509 *iss, EVP_PKEY *key, const struct rev *r, size_t n, long next_off)
{
	X509_CRL *c = X509_CRL_new();
	ASN1_TIME *last = ASN1_TIME_adj(NULL, time(NULL), 0, -86400L * 2 - 60);
	ASN1_TIME *next = ASN1_TIME_adj(NULL, time(NULL), 0, next_off);
	ASN1_TIME *when = ASN1_TIME_adj(NULL, 1700000000, 0, 0);

	assert_int_equal(X509_CRL_set_version(c, 1), 1);
	X509_CRL_set_issuer_name(c, X509_get_subject_name(iss));
	X509_CRL_set1_lastUpdate(c, last);
	X509_CRL_set1_nextUpdate(c, next);
	for (size_t i = 0; i < n; i++) {
		X509_REVOKED *rv = X509_REVOKED_new();

		X509_REVOKED_set_serialNumber(rv, (ASN1_INTEGER *)r[i].serial);
		X509_REVOKED_set_revocationDate(rv, when);
		if (r[i].reason >= 0) {
			ASN1_ENUMERATED *e = ASN1_ENUMERATED_new();

			ASN1_ENUMERATED_set(e, r[i].reason);
			assert_int_equal(X509_REVOKED_add1_ext_i2d(rv, NID_crl_reason, e, 0, 0), 1);
			ASN1_ENUMERATED_free(e);
		}
		assert_int_equal(X509_CRL_add0_revoked(c, rv), 1);
	}
	X509_CRL_sort(c);
	assert_true(X509_CRL_sign(c, key, EVP_sha256()) > 0);
	ASN1_TIME_free(last);
	ASN1_TIME_free(next);
	ASN1_TIME_free(when);
	return c;
}

/* ---- files ---- */

static const char *path_of(const char *name)
{
	static char p[8][256];
	static int k;

	k = (k + 1) % 8;
	snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
	return p[k];
}

static const char *write_text(const char *name, const char *text)
{
	const char *p = path_of(name);
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return p;
}

static const char *write_crl(const char *name, X509_CRL *c, bool pem)
{
	const char *p = path_of(name);
	FILE *f = fopen(p, pem ? "a" : "w");

	assert_non_null(f);
	assert_int_equal(pem ? PEM_write_X509_CRL(f, c) : i2d_X509_CRL_fp(f, c), 1);
	fclose(f);
	return p;
}

static struct lists *load(const char *deny, const char *pins, const char *const *crls, int n_crl,
			  char *err, size_t errlen)
{
	struct lists_opts o = {
		.ca_file = ca_pem, .deny_file = deny, .pins_file = pins, .n_crl = n_crl
	};

	for (int i = 0; i < n_crl; i++)
		o.crl_paths[i] = crls[i];
	return lists_load(&o, err, errlen);
}

static bool has_warning(const struct lists *l, const char *needle)
{
	const char *w;

	for (uint32_t i = 0; (w = lists_warning(l, i)); i++)
		if (strstr(w, needle))
			return true;
	return false;
}

static void hex_colons_lower(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 3 * i, "%02x%s", b[i], i + 1 < n ? ":" : "");
}

/* ---- setup ---- */

static int setup(void **state)
{
	ASN1_INTEGER *s;
	FILE *f;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_lists.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	cache = cert_cache_new(64);
	k_root = x509_ec_key();
	k_int = x509_ec_key();
	k_leaf = x509_ec_key();
	k_bad = x509_ec_key();
	x_root = mint_l(NULL, k_root, k_root, "certsentry Test Root", 1, true);
	x_int = mint_l(x_root, k_root, k_int, "certsentry Test Intermediate", 2, true);
	x_leaf = mint_l(x_int, k_int, k_leaf, "www.example.test", 0x1001, false);
	x_leaf2 = mint_l(x_int, k_int, k_bad, "other.example.test", 0x1002, false);
	s = int_of(0xABC); /* cert.c prints "0ABC": leading zero nibble */
	x_leaf3 = mint(x_int, k_int, k_leaf, "third.example.test", "certsentry test", s, false);
	ASN1_INTEGER_free(s);
	f_root = x509_facts(cache, x_root);
	f_int = x509_facts(cache, x_int);
	f_leaf = x509_facts(cache, x_leaf);
	f_leaf2 = x509_facts(cache, x_leaf2);
	f_leaf3 = x509_facts(cache, x_leaf3);
	snprintf(ca_pem, sizeof(ca_pem), "%s/ca.pem", dir);
	if (!(f = fopen(ca_pem, "w")))
		return -1;
	PEM_write_X509(f, x_root);
	fclose(f);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	cert_put(cache, f_root);
	cert_put(cache, f_int);
	cert_put(cache, f_leaf);
	cert_put(cache, f_leaf2);
	cert_put(cache, f_leaf3);
	cert_cache_free(cache);
	X509_free(x_root);
	X509_free(x_int);
	X509_free(x_leaf);
	X509_free(x_leaf2);
	X509_free(x_leaf3);
	EVP_PKEY_free(k_root);
	EVP_PKEY_free(k_int);
	EVP_PKEY_free(k_leaf);
	EVP_PKEY_free(k_bad);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- trust store ---- */

static void test_trust_store(void **state)
{
	char err[512], hp[300], sub[256];
	struct lists_sizes sz;
	struct lists *l;
	struct lists_opts o = { 0 };
	FILE *f;

	(void)state;
	l = load(NULL, NULL, NULL, 0, err, sizeof(err));
	assert_non_null(l);
	lists_sizes(l, &sz);
	assert_int_equal(sz.ca_certs, 1);
	assert_non_null(lists_trust_store(l));
	lists_free(l);

	/* a hashed directory, as c_rehash makes it */
	snprintf(sub, sizeof(sub), "%s/capath", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(hp, sizeof(hp), "%s/%08lx.0", sub, X509_subject_name_hash(x_root));
	f = fopen(hp, "w");
	PEM_write_X509(f, x_root);
	PEM_write_X509(f, x_int);
	fclose(f);
	o.ca_path = sub;
	l = lists_load(&o, err, sizeof(err));
	assert_non_null(l);
	lists_sizes(l, &sz);
	assert_int_equal(sz.ca_certs, 2);
	lists_free(l);

	/* the system bundle, where there is one */
	o.ca_path = NULL;
	l = lists_load(&o, err, sizeof(err));
	assert_non_null(l);
	lists_sizes(l, &sz);
	printf("system trust store: %u CA certificates\n", sz.ca_certs);
	if (access("/etc/ssl/certs/ca-certificates.crt", R_OK) == 0)
		assert_true(sz.ca_certs > 10);
	lists_free(l);

	o.ca_file = path_of("no-such-ca.pem");
	assert_null(lists_load(&o, err, sizeof(err)));
	assert_non_null(strstr(err, "no-such-ca.pem: cannot open"));
	o.ca_file = write_text("garbage-ca.pem", "not a certificate\n");
	assert_null(lists_load(&o, err, sizeof(err)));
	assert_non_null(strstr(err, "garbage-ca.pem: cannot load CA certificates"));
}

/* ---- deny ---- */

static void test_deny_valid(void **state)
{
	char text[2048], hex[100], line_sha[32], line_spki[32], line_ser[32], err[512];
	const char *p, *w;
	struct lists_sizes sz;
	struct lists *l;

	(void)state;
	assert_string_equal(f_leaf->serial_hex, "1001");
	assert_string_equal(f_leaf3->serial_hex, "0ABC");
	assert_non_null(strchr(f_leaf3->issuer_dn, ' ')); /* the DN has spaces */
	hex_colons_lower(f_leaf->sha256, 32, hex);
	snprintf(text, sizeof(text),
		 "\xef\xbb\xbf# deny list\n"
		 "\n"
		 "   \t\n"
		 "sha256:%s   # leaf, lower case with colons\n"
		 "spki:%s\n"
		 "SERIAL:00:AB:C issuer: %s  # the rest of the line is the DN\n"
		 "serial:-1F issuer:CN=nobody\n"
		 "sha256:%s\n",
		 hex, f_leaf2->spki_sha256_b64, f_leaf3->issuer_dn, f_leaf->sha256_hex);
	p = write_text("deny.txt", text);
	l = load(p, NULL, NULL, 0, err, sizeof(err));
	if (!l)
		fail_msg("%s", err);
	lists_sizes(l, &sz);
	assert_int_equal(sz.deny_sha256, 1); /* the repeat at line 8 is the same entry */
	assert_int_equal(sz.deny_spki, 1);
	assert_int_equal(sz.deny_serial, 2);
	snprintf(line_sha, sizeof(line_sha), "deny.txt:4");
	snprintf(line_spki, sizeof(line_spki), "deny.txt:5");
	snprintf(line_ser, sizeof(line_ser), "deny.txt:6");
	assert_non_null(w = lists_denied(l, f_leaf));
	assert_non_null(strstr(w, line_sha));
	assert_string_equal(w + strlen(w) - strlen(line_sha), line_sha);
	assert_non_null(w = lists_denied(l, f_leaf2));
	assert_string_equal(w + strlen(w) - strlen(line_spki), line_spki);
	assert_non_null(w = lists_denied(l, f_leaf3));
	assert_string_equal(w + strlen(w) - strlen(line_ser), line_ser);
	assert_null(lists_denied(l, f_int));
	assert_null(lists_denied(l, f_root));
	lists_free(l);

	/* serial with a different issuer, or the issuer DN altered: no match */
	snprintf(text, sizeof(text), "serial:ABC issuer:%s\nserial:1001 issuer:%sX\n",
		 f_leaf->subject_dn, f_leaf->issuer_dn);
	l = load(write_text("deny2.txt", text), NULL, NULL, 0, err, sizeof(err));
	assert_non_null(l);
	assert_null(lists_denied(l, f_leaf3));
	assert_null(lists_denied(l, f_leaf));
	lists_free(l);
}

static void test_deny_invalid(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "# ok\nsha256:"
		  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n",
		  "deny.bad:2: sha256: expected 64 hex digits, got 63" },
		{ "sha256:"
		  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdefAA\n",
		  "deny.bad:1: sha256: expected 64 hex digits, got 66" },
		{ "\n\nsha256:"
		  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg\n",
		  "deny.bad:3: sha256: not a hex digit" },
		{ "sha256::01\n", "deny.bad:1: sha256: ':' is allowed only between hex digits" },
		{ "sha256:"
		  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef extra\n",
		  "deny.bad:1: sha256: unexpected text after the hash" },
		{ "spki:abc=\n",
		  "deny.bad:1: spki: expected 44 base64 characters (a SHA-256), got 4" },
		{ "spki:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA!=\n",
		  "deny.bad:1: spki: '!' at 43" },
		{ "spki:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
		  "deny.bad:1: spki: does not decode" },
		{ "serial:1001\n", "deny.bad:1: serial: expected \"issuer:<DN>\"" },
		{ "serial:1001 issuer:   # nothing\n", "deny.bad:1: issuer: empty DN" },
		{ "serial:XYZ issuer:CN=a\n", "deny.bad:1: serial: not a hex digit" },
		{ "serial: issuer:CN=a\n", "deny.bad:1: serial: expected hex digits" },
		{ "md5:0011\n", "deny.bad:1: unknown entry 'md5:0011'" },
		{ "sha256:00\0\n", "deny.bad:1: NUL byte" },
	};
	char err[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		const char *p = path_of("deny.bad");
		FILE *f = fopen(p, "w");
		size_t n = strlen(cases[i].text);

		if (strstr(cases[i].want, "NUL"))
			n += 2; /* the text holds a NUL */
		fwrite(cases[i].text, 1, n, f);
		fclose(f);
		err[0] = '\0';
		assert_null(load(p, NULL, NULL, 0, err, sizeof(err)));
		if (!strstr(err, cases[i].want))
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, err, cases[i].want);
	}
	/* a line too long */
	{
		char *big = malloc(6000);

		memcpy(big, "serial:01 issuer:CN=", 20);
		memset(big + 20, 'a', 5000);
		strcpy(big + 5020, "\n");
		assert_null(load(write_text("deny.long", big), NULL, NULL, 0, err, sizeof(err)));
		assert_non_null(strstr(err, "deny.long:1: line longer than 4096 bytes"));
		free(big);
	}
}

/* ---- pins ---- */

static void test_pins(void **state)
{
	char text[2048], err[512];
	struct report_endpoint ep4 = { .family = CS_AF_INET, .port = 443 },
			       ep6 = { .family = CS_AF_INET6, .port = 443 };
	struct cert_facts *good[2] = { f_leaf, f_int }, *other[1] = { f_leaf2 },
			  *other_int[2] = { f_leaf2, f_int };
	const struct pin_rule *r;
	const char *pins[LISTS_PINS_PER_RULE];
	struct lists_sizes sz;
	struct lists *l;

	(void)state;
	inet_pton(AF_INET, "192.0.2.1", ep4.addr);
	inet_pton(AF_INET6, "2001:db8::1", ep6.addr);
	snprintf(text, sizeof(text),
		 "# pins\n"
		 "www.example.test sha256:%s   # exact\n"
		 "*.example.test\tspki:%s spki:%s\n"
		 "192.0.2.1:443 sha256:%s\n"
		 "[2001:db8::1]:443 spki:%s\n",
		 f_leaf->sha256_hex, f_int->spki_sha256_b64, f_root->spki_sha256_b64,
		 f_leaf->sha256_hex, f_leaf->spki_sha256_b64);
	l = load(NULL, write_text("pins.txt", text), NULL, 0, err, sizeof(err));
	if (!l)
		fail_msg("%s", err);
	lists_sizes(l, &sz);
	assert_int_equal(sz.pin_rules, 4);

	/* exact, case and trailing dot do not matter; it wins over the wildcard */
	assert_non_null(r = lists_pin_rule(l, "WWW.Example.TEST.", NULL));
	assert_non_null(strstr(pin_rule_pattern(r), "www.example.test ("));
	assert_non_null(strstr(pin_rule_pattern(r), "pins.txt:2)"));
	assert_int_equal(pin_rule_pins(r, pins, LISTS_PINS_PER_RULE), 1);
	assert_int_equal(strncmp(pins[0], "sha256:", 7), 0);
	assert_string_equal(pins[0] + 7, f_leaf->sha256_hex);
	assert_true(pin_rule_matches(r, good, 2));
	assert_false(pin_rule_matches(r, other_int, 2));
	assert_false(pin_rule_matches(r, good, 0));

	/* wildcard: exactly one label */
	assert_non_null(r = lists_pin_rule(l, "a.example.test", NULL));
	assert_non_null(strstr(pin_rule_pattern(r), "*.example.test ("));
	assert_int_equal(pin_rule_pins(r, pins, LISTS_PINS_PER_RULE), 2);
	assert_int_equal(pin_rule_pins(r, pins, 1), 1);
	assert_true(pin_rule_matches(r, other_int, 2)); /* spki of the intermediate */
	assert_false(pin_rule_matches(r, other, 1));
	assert_null(lists_pin_rule(l, "example.test", NULL));
	assert_null(lists_pin_rule(l, "a.b.example.test", NULL));
	assert_null(lists_pin_rule(l, ".example.test", NULL));
	assert_null(lists_pin_rule(l, "", NULL));
	assert_null(lists_pin_rule(l, NULL, NULL));

	/* endpoints, after the SNI found nothing */
	assert_non_null(r = lists_pin_rule(l, "unrelated.test", &ep4));
	assert_non_null(strstr(pin_rule_pattern(r), "192.0.2.1:443 ("));
	assert_true(pin_rule_matches(r, good, 2));
	assert_false(pin_rule_matches(r, other, 1));
	assert_non_null(r = lists_pin_rule(l, NULL, &ep6));
	assert_non_null(strstr(pin_rule_pattern(r), "[2001:db8::1]:443 ("));
	assert_true(pin_rule_matches(r, good, 1));
	assert_non_null(r = lists_pin_rule(l, "a.example.test", &ep4)); /* SNI first */
	assert_non_null(strstr(pin_rule_pattern(r), "*.example.test"));
	ep4.port = 8443;
	assert_null(lists_pin_rule(l, NULL, &ep4));
	ep4.port = 443;
	ep4.addr[3] = 2;
	assert_null(lists_pin_rule(l, NULL, &ep4));
	ep6.family = CS_AF_INET; /* same bytes, other family */
	assert_null(lists_pin_rule(l, NULL, &ep6));
	lists_free(l);
}

static void test_pins_invalid(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "a.test sha256:00\n", "pins.bad:1: sha256: expected 64 hex digits, got 2" },
		{ "a.test\n", "pins.bad:1: pattern 'a.test' has no pins" },
		{ "a.test md5:00\n",
		  "pins.bad:1: pin 'md5:00': expected sha256:<hex> or spki:<base64>" },
		{ "a*.test spki:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
		  "pins.bad:1: pattern 'a*.test': '*' is allowed only" },
		{ "*. spki:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
		  "pins.bad:1: pattern '*.': not a host name" },
		{ "a..b spki:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
		  "pins.bad:1: pattern 'a..b': not a host name" },
		{ "192.0.2.1:0 spki:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
		  "pins.bad:1: pattern '192.0.2.1:0': expected IPv4:port" },
		{ "192.0.2.300:443 spki:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
		  "pins.bad:1: pattern '192.0.2.300:443'" },
		{ "[2001:db8::1:443 spki:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
		  "pins.bad:1: pattern '[2001:db8::1:443': expected [IPv6]:port" },
		{ "# dup\nA.test spki:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
		  "a.TEST. spki:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
		  "pins.bad:3: duplicate pattern 'a.test' (first at /" },
		{ "A.test spki:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n"
		  "a.TEST. spki:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
		  "/pins.bad:1)" },
		{ "[2001:db8::1]:443 spki:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
		  "[2001:0db8:0::1]:443 spki:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
		  "pins.bad:2: duplicate pattern" },
	};
	char err[512], text[2048];
	int n;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		err[0] = '\0';
		assert_null(load(NULL, write_text("pins.bad", cases[i].text), NULL, 0, err,
				 sizeof(err)));
		if (!strstr(err, cases[i].want))
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, err, cases[i].want);
	}
	n = snprintf(text, sizeof(text), "a.test");
	for (int i = 0; i <= LISTS_PINS_PER_RULE; i++)
		n += snprintf(text + n, sizeof(text) - (size_t)n, " spki:%s",
			      f_leaf->spki_sha256_b64);
	snprintf(text + n, sizeof(text) - (size_t)n, "\n");
	assert_null(load(NULL, write_text("pins.bad", text), NULL, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "pins.bad:1: more than 16 pins"));
}

/* ---- CRLs ---- */

static void check_hit(const struct lists *l, const struct cert_facts *f,
		      const struct cert_facts *iss, bool revoked, bool verified, int reason,
		      const char *src)
{
	struct crl_hit h;

	memset(&h, 0xa5, sizeof(h));
	assert_int_equal(lists_crl_revoked(l, f, iss, &h), revoked);
	assert_int_equal(h.revoked, revoked);
	if (!revoked) {
		assert_int_equal(h.reason, -1);
		return;
	}
	assert_int_equal(h.crl_verified, verified);
	assert_int_equal(h.reason, reason);
	assert_int_equal(h.revocation_time, 1700000000);
	if (reason == 1)
		assert_string_equal(h.reason_str, "keyCompromise");
	if (reason == -1)
		assert_string_equal(h.reason_str, "");
	if (src)
		assert_non_null(strstr(h.source, src));
}

static void test_crl_pem_der_dir(void **state)
{
	struct rev r_int[] = { { X509_get0_serialNumber(x_leaf), 1 },
			       { X509_get0_serialNumber(x_leaf3), -1 } };
	struct rev r_root[] = { { X509_get0_serialNumber(x_int), 4 } };
	X509_CRL *c_int = make_crl(x_int, k_int, r_int, 2, 86400),
		 *c_root = make_crl(x_root, k_root, r_root, 1, 86400);
	const char *paths[2];
	char err[512], sub[256], lnk[300];
	struct lists_sizes sz;
	struct lists *l;

	(void)state;
	/* PEM, issuer not in the trust store: used, unverified until the chain is seen */
	paths[0] = write_crl("int.crl.pem", c_int, true);
	l = load(NULL, NULL, paths, 1, err, sizeof(err));
	if (!l)
		fail_msg("%s", err);
	lists_sizes(l, &sz);
	assert_int_equal(sz.crls, 1);
	assert_int_equal(sz.crl_entries, 2);
	assert_int_equal(sz.crls_unverified, 1);
	assert_int_equal(sz.crls_stale, 0);
	assert_true(has_warning(l, "int.crl.pem: CRL issuer CN=certsentry Test Intermediate"));
	check_hit(l, f_leaf, NULL, true, false, 1, "int.crl.pem");
	check_hit(l, f_leaf, f_int, true, true, 1, "int.crl.pem");
	check_hit(l, f_leaf, f_int, true, true, 1, "int.crl.pem"); /* memoised */
	check_hit(l, f_leaf3, f_int, true, true, -1, NULL);
	check_hit(l, f_leaf2, f_int, false, false, -1, NULL);
	check_hit(l, f_int, f_root, false, false, -1, NULL);
	/* an "issuer" of the right name but another key: the CRL does not count */
	{
		X509 *fake =
			mint_l(x_root, k_root, k_bad, "certsentry Test Intermediate", 99, true);
		struct cert_facts *ff = x509_facts(cache, fake);

		check_hit(l, f_leaf, ff, false, false, -1, NULL);
		check_hit(l, f_leaf, f_int, true, true, 1, NULL);
		cert_put(cache, ff);
		X509_free(fake);
	}
	lists_free(l);

	/* DER, and a second CRL appended to the PEM file: two CRLs in one file */
	paths[0] = write_crl("root.crl.der", c_root, false);
	paths[1] = write_crl("int.crl.pem", c_root, true);
	l = load(NULL, NULL, paths, 2, err, sizeof(err));
	if (!l)
		fail_msg("%s", err);
	lists_sizes(l, &sz);
	assert_int_equal(sz.crls, 3);
	assert_int_equal(sz.crl_entries, 4);
	assert_int_equal(sz.crls_unverified, 1); /* the root's are verified at load */
	check_hit(l, f_int, NULL, true, true, 4, "root.crl.der");
	check_hit(l, f_leaf, NULL, true, false, 1, "int.crl.pem");
	lists_free(l);

	/* a directory: every file, a hashed symlink to one of them counted once,
	 * hidden files and subdirectories skipped */
	snprintf(sub, sizeof(sub), "%s/crls", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	write_crl("crls/a.der", c_root, false);
	write_crl("crls/b.pem", c_int, true);
	write_text("crls/.b.pem.swp", "garbage");
	assert_int_equal(mkdir(path_of("crls/sub"), 0700), 0);
	snprintf(lnk, sizeof(lnk), "%s/crls/12345678.r0", dir);
	assert_int_equal(symlink("b.pem", lnk), 0);
	paths[0] = sub;
	l = load(NULL, NULL, paths, 1, err, sizeof(err));
	if (!l)
		fail_msg("%s", err);
	lists_sizes(l, &sz);
	assert_int_equal(sz.crls, 2);
	assert_int_equal(sz.crl_entries, 3);
	check_hit(l, f_int, f_root, true, true, 4, "crls/a.der");
	check_hit(l, f_leaf, f_int, true, true, 1, NULL);
	lists_free(l);

	/* a file in the directory that is not a CRL: an error naming it */
	write_text("crls/c.txt", "hello\n");
	assert_null(load(NULL, NULL, paths, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "crls/c.txt: DER CRL 1 does not parse"));
	unlink(path_of("crls/c.txt"));

	X509_CRL_free(c_int);
	X509_CRL_free(c_root);
}

static void test_crl_bad_signature_and_stale(void **state)
{
	struct rev r_root[] = { { X509_get0_serialNumber(x_int), 1 } };
	struct rev r_int[] = { { X509_get0_serialNumber(x_leaf), 1 } };
	/* claims to be the root's, signed by another key */
	X509_CRL *forged = make_crl(x_root, k_bad, r_root, 1, 86400);
	X509_CRL *forged_int = make_crl(x_int, k_bad, r_int, 1, 86400);
	X509_CRL *stale = make_crl(x_int, k_int, r_int, 1, -86400);
	const char *paths[1];
	char err[512];
	struct lists_sizes sz;
	struct lists *l;

	(void)state;
	paths[0] = write_crl("forged.crl", forged, false);
	l = load(NULL, NULL, paths, 1, err, sizeof(err));
	assert_non_null(l);
	lists_sizes(l, &sz);
	assert_int_equal(sz.crls, 0);
	assert_int_equal(sz.crl_entries, 0);
	assert_true(has_warning(l, "forged.crl: CRL of CN=certsentry Test Root,O=certsentry test: "
				   "signature does not verify"));
	check_hit(l, f_int, f_root, false, false, -1, NULL);
	check_hit(l, f_int, NULL, false, false, -1, NULL);
	lists_free(l);

	/* issuer unknown at load: taken unverified, refused once the real issuer is seen */
	paths[0] = write_crl("forged-int.crl", forged_int, false);
	l = load(NULL, NULL, paths, 1, err, sizeof(err));
	assert_non_null(l);
	check_hit(l, f_leaf, NULL, true, false, 1, NULL);
	check_hit(l, f_leaf, f_int, false, false, -1, NULL);
	lists_free(l);

	paths[0] = write_crl("stale.crl", stale, true);
	l = load(NULL, NULL, paths, 1, err, sizeof(err));
	assert_non_null(l);
	lists_sizes(l, &sz);
	assert_int_equal(sz.crls_stale, 1);
	assert_true(has_warning(
		l, "stale.crl: CRL of CN=certsentry Test Intermediate,O=certsentry test "
		   "is past its nextUpdate"));
	assert_null(lists_warning(l, 2));
	check_hit(l, f_leaf, f_int, true, true, 1, NULL); /* still used */
	lists_free(l);

	X509_CRL_free(forged);
	X509_CRL_free(forged_int);
	X509_CRL_free(stale);
}

/* An indirect CRL (RFC 5280 5.3.3): an entry after a certificateIssuer
 * extension is another CA's serial, not the CRL issuer's. */
static void test_crl_indirect(void **state)
{
	X509_CRL *c = X509_CRL_new();
	ASN1_TIME *t = ASN1_TIME_adj(NULL, time(NULL), 0, -60),
		  *nt = ASN1_TIME_adj(NULL, time(NULL), 1, 0);
	X509_EXTENSION *idp = X509V3_EXT_nconf_nid(NULL, NULL, NID_issuing_distribution_point,
						   "critical,indirectCRL:TRUE");
	X509_REVOKED *own = X509_REVOKED_new(), *other = X509_REVOKED_new();
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *g = GENERAL_NAME_new();
	const char *paths[1];
	char err[512];
	struct lists *l;

	(void)state;
	assert_non_null(idp);
	X509_CRL_set_version(c, 1);
	X509_CRL_set_issuer_name(c, X509_get_subject_name(x_int));
	X509_CRL_set1_lastUpdate(c, t);
	X509_CRL_set1_nextUpdate(c, nt);
	X509_CRL_add_ext(c, idp, -1);
	X509_REVOKED_set_serialNumber(own, (ASN1_INTEGER *)X509_get0_serialNumber(x_leaf3));
	X509_REVOKED_set_revocationDate(own, t);
	X509_REVOKED_set_serialNumber(other, (ASN1_INTEGER *)X509_get0_serialNumber(x_leaf));
	X509_REVOKED_set_revocationDate(other, t);
	GENERAL_NAME_set0_value(g, GEN_DIRNAME, X509_NAME_dup(X509_get_subject_name(x_root)));
	sk_GENERAL_NAME_push(gens, g);
	assert_int_equal(X509_REVOKED_add1_ext_i2d(other, NID_certificate_issuer, gens, 1, 0), 1);
	X509_CRL_add0_revoked(c, own);
	X509_CRL_add0_revoked(c, other);
	assert_true(X509_CRL_sign(c, k_int, EVP_sha256()) > 0);
	paths[0] = write_crl("indirect.crl", c, false);
	l = load(NULL, NULL, paths, 1, err, sizeof(err));
	if (!l)
		fail_msg("%s", err);
	assert_true(lists_crl_revoked(l, f_leaf3, f_int, NULL));
	assert_false(lists_crl_revoked(l, f_leaf, f_int, NULL)); /* that serial is the root's */
	lists_free(l);
	GENERAL_NAMES_free(gens);
	X509_EXTENSION_free(idp);
	ASN1_TIME_free(t);
	ASN1_TIME_free(nt);
	X509_CRL_free(c);
}

/* ---- file errors and leaks ---- */

static void test_file_errors(void **state)
{
	struct rev r_int[] = { { X509_get0_serialNumber(x_leaf), 1 } };
	X509_CRL *c = make_crl(x_int, k_int, r_int, 1, 86400);
	unsigned char *der = NULL;
	int n = i2d_X509_CRL(c, &der);
	const char *paths[2], *p;
	char err[512], *pem;
	BIO *b = BIO_new(BIO_s_mem());
	long pl;
	FILE *f;

	(void)state;
	/* missing, directory, FIFO */
	assert_null(load(path_of("missing.txt"), NULL, NULL, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "missing.txt: cannot open: No such file"));
	assert_null(load(dir, NULL, NULL, 0, err, sizeof(err)));
	assert_non_null(strstr(err, ": is a directory, expected a file"));
	assert_null(load(NULL, dir, NULL, 0, err, sizeof(err)));
	assert_non_null(strstr(err, ": is a directory, expected a file"));
	p = path_of("fifo");
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_null(load(p, NULL, NULL, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "fifo: not a regular file"));
	paths[0] = path_of("missing.crl");
	assert_null(load(NULL, NULL, paths, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "missing.crl: cannot open"));

	/* truncated DER and PEM CRLs, an empty one */
	f = fopen(paths[0] = path_of("trunc.der"), "w");
	fwrite(der, 1, (size_t)n / 2, f);
	fclose(f);
	assert_null(load(NULL, NULL, paths, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "trunc.der: DER CRL 1 does not parse"));
	PEM_write_bio_X509_CRL(b, c);
	pl = BIO_get_mem_data(b, &pem);
	f = fopen(paths[0] = path_of("trunc.pem"), "w");
	fwrite(pem, 1, (size_t)pl - 40, f);
	fclose(f);
	assert_null(load(NULL, NULL, paths, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "trunc.pem: "));
	assert_non_null(strstr(err, "does not parse"));
	paths[0] = ca_pem; /* PEM, but a certificate */
	assert_null(load(NULL, NULL, paths, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "ca.pem: no PEM CRL in the file"));
	paths[0] = write_text("empty.crl", "");
	assert_null(load(NULL, NULL, paths, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "empty.crl: "));

	/* a deny file cut in the middle of its last line */
	assert_null(load(write_text("trunc.deny", "# x\nsha256:0123456789ABCDEF"), NULL, NULL, 0,
			 err, sizeof(err)));
	assert_non_null(strstr(err, "trunc.deny:2: sha256: expected 64 hex digits, got 16"));

	/* unreadable: root reads anything, so try it as nobody */
	p = write_text("unreadable.txt", "# x\n");
	assert_int_equal(chmod(p, 0), 0);
	if (geteuid() == 0) {
		int pfd[2], st;
		pid_t pid;
		ssize_t got;

		assert_int_equal(chmod(dir, 0711), 0);
		assert_int_equal(pipe(pfd), 0);
		if (!(pid = fork())) {
			struct lists *l;

			close(pfd[0]);
			if (setgid(65534) || setuid(65534))
				_exit(2);
			l = load(p, NULL, NULL, 0, err, sizeof(err));
			if (write(pfd[1], err, strlen(err) + 1) < 0)
				_exit(3);
			_exit(l ? 1 : 0);
		}
		close(pfd[1]);
		memset(err, 0, sizeof(err));
		got = read(pfd[0], err, sizeof(err) - 1);
		close(pfd[0]);
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
		assert_true(got > 0);
		assert_non_null(strstr(err, "unreadable.txt: cannot open: Permission denied"));
		chmod(dir, 0700);
	} else {
		assert_null(load(p, NULL, NULL, 0, err, sizeof(err)));
		assert_non_null(strstr(err, "unreadable.txt: cannot open: Permission denied"));
	}

	OPENSSL_free(der);
	BIO_free(b);
	X509_CRL_free(c);
}

/* A failure after CRLs, deny entries and pins were built: everything freed
 * (LeakSanitizer in the SAN build says so at exit), and err is the cause. */
static void test_failure_frees(void **state)
{
	struct rev r_int[] = { { X509_get0_serialNumber(x_leaf), 1 } };
	X509_CRL *c = make_crl(x_int, k_int, r_int, 1, -10);
	char text[512], err[512];
	const char *paths[1];

	(void)state;
	paths[0] = write_crl("leak.crl", c, true);
	snprintf(text, sizeof(text), "sha256:%s\nspki:%s\nserial:01 issuer:CN=x\n",
		 f_leaf->sha256_hex, f_leaf->spki_sha256_b64);
	write_text("leak.deny", text);
	snprintf(text, sizeof(text),
		 "a.test sha256:%s\n*.b.test spki:%s\n10.0.0.1:443 spki:%s\nbad pattern\n",
		 f_leaf->sha256_hex, f_leaf->spki_sha256_b64, f_leaf->spki_sha256_b64);
	write_text("leak.pins", text);
	assert_null(load(path_of("leak.deny"), path_of("leak.pins"), paths, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "leak.pins:4: pin 'pattern'"));
	X509_CRL_free(c);
}

/* ---- scale ---- */

#define BIG_N 200000

static ASN1_INTEGER *big_serial(uint32_t i)
{
	unsigned char b[16];
	BIGNUM *bn;
	ASN1_INTEGER *a;

	/* 16 bytes like real CA serials, spread over the space */
	b[0] = 0x4a;
	for (int k = 1; k < 16; k++)
		b[k] = (unsigned char)((i * 2654435761u) >> ((k % 4) * 8) ^ (unsigned)k * 31u);
	b[12] = (unsigned char)(i >> 24);
	b[13] = (unsigned char)(i >> 16);
	b[14] = (unsigned char)(i >> 8);
	b[15] = (unsigned char)i;
	bn = BN_bin2bn(b, 16, NULL);
	a = BN_to_ASN1_INTEGER(bn, NULL);
	BN_free(bn);
	return a;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_crl_200k(void **state)
{
	struct rev *r = calloc(BIG_N, sizeof(*r));
	ASN1_INTEGER **s = calloc(BIG_N, sizeof(*s)), *absent = big_serial(BIG_N + 7);
	X509_CRL *c;
	X509 *xin, *xout;
	struct cert_facts *fin, *fout;
	const char *paths[1];
	char err[512];
	struct lists_sizes sz;
	struct lists *l;
	struct crl_hit h;
	double t0, t_load, t_look;
	struct stat st;
	int lookups = 1000000;

	(void)state;
	for (uint32_t i = 0; i < BIG_N; i++) {
		s[i] = big_serial(i);
		r[i] = (struct rev){ s[i], i % 3 ? 1 : -1 };
	}
	t0 = now_s();
	c = make_crl(x_int, k_int, r, BIG_N, 86400);
	paths[0] = write_crl("big.crl", c, false);
	printf("200k CRL: generated in %.2f s, ", now_s() - t0);
	X509_CRL_free(c);
	assert_int_equal(stat(paths[0], &st), 0);
	printf("%lld bytes DER\n", (long long)st.st_size);

	t0 = now_s();
	l = load(NULL, NULL, paths, 1, err, sizeof(err));
	t_load = now_s() - t0;
	if (!l)
		fail_msg("%s", err);
	lists_sizes(l, &sz);
	assert_int_equal(sz.crl_entries, BIG_N);
	printf("200k CRL: lists_load %.3f s (%u entries)\n", t_load, sz.crl_entries);

	/* the issuer in the trust store: the signature over 9 MB is checked at load */
	{
		struct lists_opts o = { .ca_file = path_of("ca-int.pem"),
					.crl_paths = { paths[0] },
					.n_crl = 1 };
		FILE *f = fopen(o.ca_file, "w");

		PEM_write_X509(f, x_root);
		PEM_write_X509(f, x_int);
		fclose(f);
		t0 = now_s();
		struct lists *lv = lists_load(&o, err, sizeof(err));
		t_load = now_s() - t0;
		assert_non_null(lv);
		lists_sizes(lv, &sz);
		assert_int_equal(sz.crl_entries, BIG_N);
		assert_int_equal(sz.crls_unverified, 0);
		printf("200k CRL: lists_load with signature check %.3f s\n", t_load);
		lists_free(lv);
	}

	xin = mint(x_int, k_int, k_leaf, "in.example.test", "certsentry test", s[BIG_N / 2 + 1],
		   false);
	xout = mint(x_int, k_int, k_leaf, "out.example.test", "certsentry test", absent, false);
	fin = x509_facts(cache, xin);
	fout = x509_facts(cache, xout);
	assert_true(lists_crl_revoked(l, fin, f_int, &h));
	assert_true(h.crl_verified);
	assert_int_equal(h.reason, 1); /* (BIG_N/2+1) % 3 != 0 */
	assert_false(lists_crl_revoked(l, fout, f_int, &h));
	t0 = now_s();
	for (int i = 0; i < lookups; i++)
		assert_false(lists_crl_revoked(l, fout, f_int, &h));
	t_look = now_s() - t0;
	printf("200k CRL: %d lookups (not revoked) %.0f ns each\n", lookups,
	       t_look / lookups * 1e9);
	t0 = now_s();
	for (int i = 0; i < lookups / 10; i++)
		assert_true(lists_crl_revoked(l, fin, f_int, &h));
	printf("200k CRL: %d lookups (revoked, verified) %.0f ns each\n", lookups / 10,
	       (now_s() - t0) / (lookups / 10) * 1e9);

	cert_put(cache, fin);
	cert_put(cache, fout);
	X509_free(xin);
	X509_free(xout);
	lists_free(l);
	for (uint32_t i = 0; i < BIG_N; i++)
		ASN1_INTEGER_free(s[i]);
	ASN1_INTEGER_free(absent);
	free(s);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trust_store),
		cmocka_unit_test(test_deny_valid),
		cmocka_unit_test(test_deny_invalid),
		cmocka_unit_test(test_pins),
		cmocka_unit_test(test_pins_invalid),
		cmocka_unit_test(test_crl_pem_der_dir),
		cmocka_unit_test(test_crl_bad_signature_and_stale),
		cmocka_unit_test(test_crl_indirect),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_failure_frees),
		cmocka_unit_test(test_crl_200k),
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests(tests, setup, teardown);
}
