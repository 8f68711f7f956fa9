/* test_output.c - output.c: ECS JSON lines read back with json-c, and terminal-safe text. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/types.h>
#include <cmocka.h>
#include "x509_helpers.h"
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "certsentry.h"
#include "checks.h"
#include "fmt.h"
#include "inventory.h"
#include "json.h"
#include "served.h"
#include "output.h"

#ifdef CS_TEST_TLS_STUBS /* only while user/tls.c is not there */
const char *tls_version_number(uint16_t v)
{
	return v == 0x0303 ? "1.2" : v == 0x0304 ? "1.3" : NULL;
}
const char *tls_version_protocol(uint16_t v)
{
	return tls_version_number(v) ? "tls" : NULL;
}
const char *tls_cipher_name(uint16_t id)
{
	return id == 0xC02F ? "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" :
	       id == 0x1301 ? "TLS_AES_128_GCM_SHA256" :
			      NULL;
}
#endif

static EVP_PKEY *k_ca, *k_leaf;
static struct cert_cache *cache;
static uint8_t *der_int, *der_leaf, *der_hostile;
static size_t len_int, len_leaf, len_hostile;

/* ---- minting ---- */

static X509_NAME *name2(const char *o, const char *cn)
{
	X509_NAME *n = X509_NAME_new();

	if (o)
		X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *)o, -1, -1,
					   0);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	return n;
}

/* subj/iss taken. gens taken (may be NULL). Signed by k_ca, as DER. */
static uint8_t *mint(X509_NAME *subj, X509_NAME *iss, long serial, EVP_PKEY *key,
		     GENERAL_NAMES *gens, size_t *len)
{
	const struct x509_spec s = {
		.key = key,
		.signer = k_ca,
		.subj = subj,
		.iss_name = iss,
		.serial = serial,
		.gens = gens,
		.bare = true,
	};
	X509 *x = x509_mint(&s);
	uint8_t *d = NULL;
	int n = i2d_X509(x, &d);

	assert_true(n > 0);
	*len = (size_t)n;
	X509_free(x);
	return d;
}

static void add_gen(GENERAL_NAMES *gens, int type, const void *v, int len)
{
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_STRING *s =
		ASN1_STRING_type_new(type == GEN_IPADD ? V_ASN1_OCTET_STRING : V_ASN1_IA5STRING);

	ASN1_STRING_set(s, v, len);
	GENERAL_NAME_set0_value(g, type, s);
	sk_GENERAL_NAME_push(gens, g);
}

static int setup(void **state)
{
	GENERAL_NAMES *g = GENERAL_NAMES_new(), *h = GENERAL_NAMES_new();
	static const uint8_t ip[4] = { 192, 0, 2, 7 };

	(void)state;
	signal(SIGPIPE, SIG_IGN); /* as main does */
	k_ca = EVP_EC_gen("P-256");
	k_leaf = EVP_RSA_gen(2048);
	cache = cert_cache_new(64);
	der_int = mint(name2("Test PKI", "Test Intermediate"), name2("Test PKI", "Test Root"),
		       0x1000, k_ca, NULL, &len_int);
	add_gen(g, GEN_DNS, "example.com", -1);
	add_gen(g, GEN_DNS, "www.example.com", -1);
	add_gen(g, GEN_IPADD, ip, 4);
	der_leaf = mint(name2("Example Org", "example.com"), name2(NULL, "Test Intermediate"),
			0x1001, k_leaf, g, &len_leaf);
	add_gen(h, GEN_DNS, "\xff\x1b]0;pwn\x07.example", -1);
	add_gen(h, GEN_DNS,
		"\xc2\x9b"
		"31m\xe2\x80\xae"
		"moc.elgoog",
		-1); /* CSI, RLO */
	der_hostile = mint(name2("\"Org\"\n", "\x1b[2J\x1b[31mred\r\x7f\xc2\x85"
					      "end"),
			   name2(NULL, "Test Intermediate"), 0x1002, k_ca, h, &len_hostile);
	return k_ca && k_leaf && cache ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	OPENSSL_free(der_int), OPENSSL_free(der_leaf), OPENSSL_free(der_hostile);
	cert_cache_free(cache);
	EVP_PKEY_free(k_ca), EVP_PKEY_free(k_leaf);
	return 0;
}

/* ---- reports ---- */

static void base_report(struct cs_report *r)
{
	memset(r, 0, sizeof(*r));
	r->action = REPORT_CERTIFICATE;
	r->ts_ns = 1795715501123456789ULL; /* 2026-11-26T17:51:41.123Z */
	r->client.family = r->server.family = CS_AF_INET;
	inet_pton(AF_INET, "10.0.0.1", r->client.addr);
	inet_pton(AF_INET, "10.0.0.2", r->server.addr);
	r->client.port = 51234;
	r->server.port = 443;
	r->ifindex = 2;
	r->hook = CS_HOOK_INGRESS;
	r->ifname = "eth0";
	r->version = 0x0303;
	r->cipher = 0xC02F;
	r->have_server_hello = true;
	r->has_sni = true;
	strcpy(r->sni, "example.com");
	strcpy(r->alpn_offered, "h2,http/1.1");
	strcpy(r->alpn, "h2");
	r->chain[0] = cert_get(cache, der_leaf, len_leaf);
	r->chain[1] = cert_get(cache, der_int, len_int);
	r->chain_len = 2;
	r->chain_total = 3;
}

static void put_report(struct cs_report *r)
{
	for (uint32_t i = 0; i < r->chain_len; i++)
		cert_put(cache, r->chain[i]);
}

/* Renders one report (or status if r is NULL) and returns the bytes written. */
static char *render(enum output_format fmt, const struct cs_report *r, size_t *len,
		    struct output_stats *st)
{
	FILE *f = tmpfile();
	struct output *o = output_new(f, fmt);
	char *buf;
	long n;

	assert_non_null(o);
	if (r)
		assert_int_equal(output_report(o, r), 0);
	else
		assert_int_equal(output_status(o, 1795715501123456789ULL, "start", "error",
					       "bad list \"x\"\n\x1b[31m line 3"),
				 0);
	assert_int_equal(output_flush(o), 0);
	output_stats(o, st);
	n = ftell(f);
	assert_true(n > 0);
	buf = malloc((size_t)n + 1);
	rewind(f);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	*len = (size_t)n;
	output_free(o);
	fclose(f);
	return buf;
}

/* One line: exactly one '\n', at the end. */
static void assert_one_line(const char *s, size_t n)
{
	assert_true(n > 0);
	assert_int_equal(s[n - 1], '\n');
	assert_ptr_equal(memchr(s, '\n', n), s + n - 1);
	assert_int_equal(strlen(s), n);
}

static json_object *parse_line(const char *s, size_t n)
{
	struct json_tokener *tok = json_tokener_new();
	json_object *o;

	assert_one_line(s, n);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, s, (int)n - 1);
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != n - 1)
		fail_msg("not one JSON text: %s", s);
	json_tokener_free(tok);
	return o;
}

static json_object *at(json_object *o, const char *ptr)
{
	json_object *v = NULL;

	if (json_pointer_get(o, ptr, &v) != 0)
		return NULL;
	return v;
}

static const char *str_at(json_object *o, const char *ptr)
{
	json_object *v = at(o, ptr);

	if (!v || !json_object_is_type(v, json_type_string))
		fail_msg("%s: not a string", ptr);
	return json_object_get_string(v);
}

static int64_t int_at(json_object *o, const char *ptr)
{
	json_object *v = at(o, ptr);

	if (!v || !json_object_is_type(v, json_type_int))
		fail_msg("%s: not an integer", ptr);
	return json_object_get_int64(v);
}

/* ---- tests ---- */

static void test_json_full(void **state)
{
	struct cs_report r;
	struct output_stats st;
	size_t n;
	char *s, hex[65];
	json_object *o;

	(void)state;
	base_report(&r);
	s = render(OUTPUT_JSON, &r, &n, &st);
	o = parse_line(s, n);
	sha256_hex(der_leaf, len_leaf, hex);

	assert_string_equal(str_at(o, "/@timestamp"), "2026-11-26T17:51:41.123Z");
	assert_string_equal(str_at(o, "/event/kind"), "event");
	assert_string_equal(str_at(o, "/event/category/0"), "network");
	assert_string_equal(str_at(o, "/event/type/0"), "info");
	assert_string_equal(str_at(o, "/event/action"), "tls-certificate");
	assert_string_equal(str_at(o, "/event/dataset"), "certsentry.tls");
	assert_string_equal(str_at(o, "/source/ip"), "10.0.0.1");
	assert_int_equal(int_at(o, "/source/port"), 51234);
	assert_string_equal(str_at(o, "/destination/ip"), "10.0.0.2");
	assert_int_equal(int_at(o, "/destination/port"), 443);
	assert_string_equal(str_at(o, "/destination/domain"), "example.com"); /* ECS: the SNI */
	assert_null(at(o, "/source/domain"));
	assert_string_equal(str_at(o, "/network/type"), "ipv4");
	assert_string_equal(str_at(o, "/network/transport"), "tcp");
	assert_string_equal(str_at(o, "/network/protocol"), "tls");
	assert_string_equal(str_at(o, "/observer/ingress/interface/name"), "eth0");
	assert_string_equal(str_at(o, "/observer/ingress/interface/id"), "2");
	assert_null(at(o, "/observer/egress"));
	assert_string_equal(str_at(o, "/tls/version"), "1.2");
	assert_string_equal(str_at(o, "/tls/version_protocol"), "tls");
	assert_string_equal(str_at(o, "/tls/cipher"), "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
	assert_string_equal(str_at(o, "/tls/client/server_name"), "example.com");
	assert_string_equal(str_at(o, "/tls/next_protocol"), "h2");
	assert_string_equal(str_at(o, "/tls/server/hash/sha256"), hex);
	assert_string_equal(str_at(o, "/tls/server/not_before"), "2025-01-01T00:00:00.000Z");
	assert_string_equal(str_at(o, "/tls/server/not_after"), "2027-01-01T00:00:00.000Z");
	assert_string_equal(str_at(o, "/tls/server/subject"), "CN=example.com,O=Example Org");
	assert_string_equal(str_at(o, "/tls/server/issuer"), "CN=Test Intermediate");
	assert_string_equal(str_at(o, "/tls/server/x509/serial_number"), "1001");
	assert_string_equal(str_at(o, "/tls/server/x509/subject/distinguished_name"),
			    "CN=example.com,O=Example Org");
	assert_string_equal(str_at(o, "/tls/server/x509/subject/common_name/0"), "example.com");
	assert_int_equal(json_object_array_length(at(o, "/tls/server/x509/subject/common_name")),
			 1);
	assert_string_equal(str_at(o, "/tls/server/x509/issuer/common_name/0"),
			    "Test Intermediate");
	assert_string_equal(str_at(o, "/tls/server/x509/not_after"), "2027-01-01T00:00:00.000Z");
	assert_int_equal(json_object_array_length(at(o, "/tls/server/x509/alternative_names")), 3);
	assert_string_equal(str_at(o, "/tls/server/x509/alternative_names/2"), "192.0.2.7");
	assert_string_equal(str_at(o, "/tls/server/x509/public_key_algorithm"), "RSA");
	assert_int_equal(int_at(o, "/tls/server/x509/public_key_size"), 2048);
	assert_null(at(o, "/tls/server/x509/public_key_curve"));
	assert_string_equal(str_at(o, "/tls/server/x509/signature_algorithm"), "ecdsa-with-SHA256");
	assert_int_equal(int_at(o, "/certsentry/chain_length"), 2);
	assert_int_equal(int_at(o, "/certsentry/chain_total"), 3);
	assert_string_equal(str_at(o, "/certsentry/client_alpn"), "h2,http/1.1");
	assert_int_equal(json_object_array_length(at(o, "/certsentry/chain")), 2);
	assert_string_equal(str_at(o, "/certsentry/chain/0/sha256"), hex);
	assert_string_equal(str_at(o, "/certsentry/chain/0/spki_sha256"),
			    r.chain[0]->spki_sha256_b64);
	assert_int_equal(int_at(o, "/certsentry/chain/0/der_length"), len_leaf);
	assert_string_equal(str_at(o, "/certsentry/chain/1/subject"),
			    "CN=Test Intermediate,O=Test PKI");
	assert_string_equal(str_at(o, "/certsentry/chain/1/public_key_curve"), "prime256v1");
	assert_string_equal(str_at(o, "/certsentry/chain/1/serial_number"), "1000");
	assert_false(json_object_get_boolean(at(o, "/certsentry/chain/1/self_signed")));
	assert_null(at(o, "/certsentry/chain/0/parse_error"));
	assert_null(at(o, "/certsentry/reason"));
	assert_null(at(o, "/certsentry.truncated"));
	assert_int_equal(st.lines, 1);
	assert_int_equal(st.truncated, 0);
	assert_int_equal(st.write_errors, 0);
	if (getenv("TEST_OUTPUT_SHOW"))
		fputs(s, stderr);
	json_object_put(o);
	free(s);
	put_report(&r);
}

static void test_json_hidden_v6(void **state)
{
	struct cs_report r;
	struct output_stats st;
	size_t n;
	char *s;
	json_object *o;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.action = REPORT_CERTIFICATE_HIDDEN;
	r.ts_ns = 1000000;
	r.client.family = r.server.family = CS_AF_INET6;
	inet_pton(AF_INET6, "2001:db8::1", r.client.addr);
	inet_pton(AF_INET6, "2001:db8::2", r.server.addr);
	r.client.port = 40000;
	r.server.port = 8443;
	r.hook = CS_HOOK_EGRESS;
	r.ifname = "veth0";
	r.version = 0x0304;
	r.cipher = 0x1301;
	r.have_server_hello = true;
	s = render(OUTPUT_JSON, &r, &n, &st);
	o = parse_line(s, n);
	assert_string_equal(str_at(o, "/@timestamp"), "1970-01-01T00:00:00.001Z");
	assert_string_equal(str_at(o, "/event/action"), "tls-certificate-hidden");
	assert_string_equal(str_at(o, "/source/ip"), "2001:db8::1");
	assert_string_equal(str_at(o, "/destination/ip"), "2001:db8::2");
	assert_string_equal(str_at(o, "/network/type"), "ipv6");
	assert_string_equal(str_at(o, "/observer/egress/interface/name"), "veth0");
	assert_null(at(o, "/observer/egress/interface/id")); /* ifindex 0 */
	assert_null(at(o, "/observer/ingress"));
	assert_string_equal(str_at(o, "/tls/version"), "1.3");
	assert_string_equal(str_at(o, "/tls/cipher"), "TLS_AES_128_GCM_SHA256");
	assert_null(at(o, "/tls/client")); /* no SNI */
	assert_null(at(o, "/destination/domain"));
	assert_null(at(o, "/tls/next_protocol"));
	assert_null(at(o, "/tls/server"));
	assert_string_equal(str_at(o, "/certsentry/reason"),
			    "TLS 1.3: certificate encrypted, no key source gave it");
	assert_null(at(o, "/certsentry/chain"));
	assert_null(at(o, "/certsentry/client_alpn"));
	json_object_put(o);
	free(s);

	/* text: brackets around v6, says why there is no certificate */
	s = render(OUTPUT_TEXT, &r, &n, &st);
	assert_string_equal(
		s, "1970-01-01T00:00:00.001Z tls-certificate-hidden [2001:db8::1]:40000 -> "
		   "[2001:db8::2]:8443 if=veth0/out TLS1.3 TLS_AES_128_GCM_SHA256 "
		   "certificate encrypted (TLS 1.3), no key source\n");
	free(s);

	/* judged: unverified, plainly, and not an alert */
	{
		struct verdict v = { .worst = SEV_OK, .unverified = true };

		r.verdict = &v;
		s = render(OUTPUT_JSON, &r, &n, &st);
		o = parse_line(s, n);
		assert_string_equal(str_at(o, "/certsentry/verdict"), "unverified");
		assert_string_equal(str_at(o, "/event/kind"), "event");
		assert_null(at(o, "/rule"));
		json_object_put(o);
		free(s);
		s = render(OUTPUT_TEXT, &r, &n, &st);
		assert_non_null(strstr(s, "certificate encrypted (TLS 1.3), no key source "
					  "verdict=unverified\n"));
		assert_null(strstr(s, "verdict=ok"));
		free(s);
	}
}

static void test_json_no_server_hello_bad_leaf(void **state)
{
	static const uint8_t junk[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	struct cs_report r;
	struct output_stats st;
	size_t n;
	char *s, hex[65];
	json_object *o;

	(void)state;
	base_report(&r);
	put_report(&r);
	r.have_server_hello = false;
	r.version = 0;
	r.cipher = 0;
	r.alpn[0] = '\0';
	r.ifname = NULL;
	r.ifindex = 0;
	r.chain[0] = cert_get(cache, junk, sizeof(junk));
	r.chain_len = r.chain_total = 1;
	s = render(OUTPUT_JSON, &r, &n, &st);
	o = parse_line(s, n);
	sha256_hex(junk, sizeof(junk), hex);
	assert_null(at(o, "/tls/version"));
	assert_null(at(o, "/tls/version_protocol"));
	assert_null(at(o, "/tls/cipher"));
	assert_null(at(o, "/observer"));
	assert_string_equal(str_at(o, "/tls/server/hash/sha256"), hex);
	assert_null(at(o, "/tls/server/x509"));
	assert_true(strlen(str_at(o, "/certsentry/chain/0/parse_error")) > 0);
	assert_int_equal(int_at(o, "/certsentry/chain/0/der_length"), sizeof(junk));
	assert_null(at(o, "/certsentry/chain/0/subject"));
	json_object_put(o);
	free(s);
	s = render(OUTPUT_TEXT, &r, &n, &st);
	assert_one_line(s, n);
	assert_non_null(strstr(s, " leaf=unparsable error=\""));
	assert_null(strstr(s, "TLS1"));
	free(s);
	put_report(&r);
}

/* Fails on any object without members, anywhere in the line. */
static void assert_no_empty_object(json_object *o, const char *where)
{
	if (json_object_is_type(o, json_type_object)) {
		if (!json_object_object_length(o))
			fail_msg("an empty object at %s", where);
		json_object_object_foreach(o, k, v)
		{
			(void)k;
			assert_no_empty_object(v, where);
		}
	} else if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++)
			assert_no_empty_object(json_object_array_get_idx(o, i), where);
	}
}

/* An alert or a hole seen before any hello has nothing for tls: the line
 * has no "tls" at all, rather than "tls":{}; nor has any line an empty
 * object elsewhere (a resumption without a verdict: no "certsentry":{}). */
static void test_json_no_empty_tls(void **state)
{
	static const enum report_action actions[] = {
		REPORT_ALERT,	    REPORT_INCOMPLETE, REPORT_CERTIFICATE_HIDDEN,
		REPORT_CERTIFICATE, REPORT_RESUMED,
	};
	struct cs_report r;
	struct output_stats st;
	size_t n;
	char *s;
	json_object *o;

	(void)state;
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		base_report(&r);
		put_report(&r);
		r.action = actions[i];
		r.version = 0;
		r.cipher = 0;
		r.have_server_hello = false;
		r.has_sni = false;
		r.sni[0] = r.alpn[0] = r.alpn_offered[0] = '\0';
		r.chain_len = r.chain_total = 0;
		r.chain[0] = r.chain[1] = NULL;
		s = render(OUTPUT_JSON, &r, &n, &st);
		o = parse_line(s, n);
		if (actions[i] == REPORT_RESUMED) /* all it knows: tls.resumed */
			assert_true(json_object_get_boolean(at(o, "/tls/resumed")));
		else if (at(o, "/tls"))
			fail_msg("action %d: a tls object with nothing to say: %s", actions[i], s);
		assert_null(at(o, "/destination/domain"));
		assert_no_empty_object(o, s);
		json_object_put(o);
		free(s);
		/* the same with an SNI: tls.client.server_name and destination.domain */
		r.has_sni = true;
		strcpy(r.sni, "only-sni.example");
		s = render(OUTPUT_JSON, &r, &n, &st);
		o = parse_line(s, n);
		assert_string_equal(str_at(o, "/tls/client/server_name"), "only-sni.example");
		assert_string_equal(str_at(o, "/destination/domain"), "only-sni.example");
		assert_no_empty_object(o, s);
		json_object_put(o);
		free(s);
	}
}

static void test_text_line(void **state)
{
	struct cs_report r;
	struct output_stats st;
	size_t n;
	char *s, want[512];

	(void)state;
	base_report(&r);
	s = render(OUTPUT_TEXT, &r, &n, &st);
	snprintf(
		want, sizeof(want),
		"2026-11-26T17:51:41.123Z tls-certificate 10.0.0.1:51234 -> 10.0.0.2:443 if=eth0/in "
		"sni=example.com TLS1.2 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 alpn=h2 "
		"leaf=\"CN=example.com,O=Example Org\" issuer=\"CN=Test Intermediate\" serial=1001 "
		"sha256=%.16s expires=2027-01-01 chain=3\n",
		r.chain[0]->sha256_hex);
	assert_string_equal(s, want);
	assert_int_equal(st.lines, 1);
	free(s);

	/* a chain not seen on the wire says how it was had */
	r.source = SOURCE_UPROBE;
	r.binding = UPROBE_BIND_EXACT;
	s = render(OUTPUT_TEXT, &r, &n, &st);
	assert_non_null(strstr(s, " alpn=h2 source=uprobe/exact leaf="));
	free(s);
	r.source = SOURCE_KEYLOG;
	s = render(OUTPUT_TEXT, &r, &n, &st);
	assert_non_null(strstr(s, " alpn=h2 source=keylog leaf="));
	free(s);
	put_report(&r);
}

/* A pin mismatch and a rollback name what was expected beside what was
 * served, in the text line and in the JSON alike. */
static void test_text_expected(void **state)
{
	static const char pin_sha[] =
		"sha256:0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF";
	static const char pin_spki[] = "spki:AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/abcde=";
	struct inventory_decision d = { .flags = INV_ROLLBACK,
					.rollback_why = INV_RB_SERVED_BEFORE };
	struct verdict v = { .n = 2, .worst = SEV_CRITICAL };
	struct output_stats st;
	struct cs_report r;
	json_object *o;
	size_t n;
	char *s;

	(void)state;
	base_report(&r);
	v.f[0] = (struct finding){ F_PIN_MISMATCH, SEV_CRITICAL, 0, "no pin matches" };
	v.f[1] = (struct finding){ F_CERT_ROLLBACK, SEV_HIGH, 0, "served again" };
	v.pin_pattern = "example.com (pins.txt:3)";
	v.pin_expected[0] = pin_sha;
	v.pin_expected[1] = pin_spki;
	v.n_pin_expected = 2;
	strcpy(d.prev.sha256, "FEDCBA9876543210FEDCBA9876543210FEDCBA9876543210FEDCBA9876543210");
	strcpy(d.prev.serial, "0FFE");
	strcpy(d.prev.issuer, "CN=Old \"CA\"");
	d.prev.parsed = true;
	d.prev.not_after = 1767225599; /* 2025-12-31T23:59:59Z */
	strcpy(d.cur.sha256, r.chain[0]->sha256_hex);
	v.change = &d;
	r.verdict = &v;

	s = render(OUTPUT_TEXT, &r, &n, &st);
	assert_one_line(s, n);
	assert_non_null(strstr(s, " chain=3 prev_sha256=FEDCBA9876543210 prev_serial=0FFE "
				  "prev_expires=2025-12-31 prev_issuer=\"CN=Old \\\"CA\\\"\" "
				  "pin_rule=\"example.com (pins.txt:3)\" "
				  "expected=sha256:0123456789ABCDEF,spki:AbCdEfGhIjKlMnOp "
				  "ALERT[critical] pin.mismatch: "));
	free(s);
	s = render(OUTPUT_JSON, &r, &n, &st);
	o = parse_line(s, n);
	assert_string_equal(str_at(o, "/certsentry/change/previous/sha256"), d.prev.sha256);
	assert_string_equal(str_at(o, "/certsentry/change/previous/serial"), "0FFE");
	assert_string_equal(str_at(o, "/certsentry/change/previous/not_after"),
			    "2025-12-31T23:59:59.000Z");
	assert_string_equal(str_at(o, "/certsentry/change/previous/issuer"), "CN=Old \"CA\"");
	assert_string_equal(str_at(o, "/certsentry/pin/rule"), "example.com (pins.txt:3)");
	assert_string_equal(str_at(o, "/certsentry/pin/expected/0"), pin_sha);
	assert_string_equal(str_at(o, "/certsentry/pin/expected/1"), pin_spki);
	json_object_put(o);
	free(s);

	/* a change whose previous leaf did not parse: its fingerprint alone */
	d.prev.parsed = false;
	v.pin_pattern = NULL;
	s = render(OUTPUT_TEXT, &r, &n, &st);
	assert_non_null(strstr(s, " chain=3 prev_sha256=FEDCBA9876543210 ALERT[critical]"));
	assert_null(strstr(s, "pin_rule="));
	free(s);
	put_report(&r);
}

/* certsentry.source on every chain; the binding with uprobe's only. */
static void test_json_source(void **state)
{
	static const char *const names[] = { "wire", "keylog", "uprobe", "confirm" };
	struct cs_report r;
	struct output_stats st;
	json_object *o;
	size_t n;
	char *s;

	(void)state;
	base_report(&r);
	for (int i = SOURCE_WIRE; i <= SOURCE_CONFIRM; i++) {
		r.source = (enum report_source)i;
		r.binding = UPROBE_BIND_EXACT;
		s = render(OUTPUT_JSON, &r, &n, &st);
		o = parse_line(s, n);
		assert_string_equal(str_at(o, "/certsentry/source"), names[i]);
		if (i == SOURCE_UPROBE)
			assert_string_equal(str_at(o, "/certsentry/binding"), "exact");
		else
			assert_null(at(o, "/certsentry/binding"));
		json_object_put(o);
		free(s);
	}
	put_report(&r);
}

/* No byte a terminal would act on: C0 controls (but the final '\n'), DEL,
 * invalid UTF-8, C1 controls, bidi overrides. */
static void assert_terminal_safe(const char *s, size_t n)
{
	for (size_t i = 0; i + 1 < n;) {
		uint32_t cp;
		size_t k = fmt_utf8_seq((const unsigned char *)s + i, n - 1 - i, &cp);

		if (k == 0)
			fail_msg("invalid UTF-8 at %zu: %s", i, s);
		if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) ||
		    (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069))
			fail_msg("unsafe U+%04X at %zu: %s", (unsigned)cp, i, s);
		i += k;
	}
}

static void test_hostile(void **state)
{
	struct cs_report r;
	struct output_stats st;
	size_t n;
	char *s;
	json_object *o;

	(void)state;
	base_report(&r);
	put_report(&r);
	r.chain[0] = cert_get(cache, der_hostile, len_hostile);
	r.chain_len = 1;
	strcpy(r.sni, "evil.example\x1b[2J sni=fake \xff\"\xe2\x80\xae\xc2\x9b");
	strcpy(r.alpn, "h2\r\nx");
	s = render(OUTPUT_JSON, &r, &n, &st);
	o = parse_line(s, n); /* valid UTF-8 JSON whatever the certificate holds */
	assert_string_equal(str_at(o, "/tls/server/x509/subject/common_name/0"),
			    "\x1b[2J\x1b[31mred\r\x7f\xc2\x85"
			    "end");
	assert_string_equal(str_at(o, "/tls/server/x509/alternative_names/0"),
			    "\xef\xbf\xbd\x1b]0;pwn\x07.example");
	assert_string_equal(str_at(o, "/tls/server/x509/alternative_names/1"), "\xc2\x9b"
									       "31m\xe2\x80\xae"
									       "moc.elgoog");
	assert_string_equal(str_at(o, "/tls/client/server_name"),
			    "evil.example\x1b[2J sni=fake \xef\xbf\xbd\"\xe2\x80\xae\xc2\x9b");
	assert_string_equal(str_at(o, "/tls/next_protocol"), "h2\r\nx");
	assert_null(strchr(s, '\x1b')); /* escaped in the line itself, too */
	json_object_put(o);
	free(s);

	s = render(OUTPUT_TEXT, &r, &n, &st);
	assert_one_line(s, n);
	assert_terminal_safe(s, n);
	assert_non_null(strstr(
		s, " sni=evil.example\\x1B[2J\\x20sni=fake\\x20\\xFF\\\"\\u{202E}\\u{009B} "));
	assert_non_null(strstr(s, " alpn=h2\\x0D\\x0Ax "));
	assert_non_null(strstr(
		s,
		"leaf=\"CN=\\\\1B[2J\\\\1B[31mred\\\\0D\\\\7F\\\\C2\\\\85end,O=\\\\\\\"Org\\\\\\\"\\\\0A\""));
	free(s);
	put_report(&r);
}

/* A chain that cannot fit the line: cut, marked, still one valid JSON line. */
static void test_truncated_chain(void **state)
{
	GENERAL_NAMES *g = GENERAL_NAMES_new();
	struct cs_report r;
	struct output_stats st;
	char host[300], *s;
	size_t n, dl;
	uint8_t *d;
	json_object *o, *v;

	(void)state;
	for (int i = 0; i < 10000; i++) {
		snprintf(host, sizeof(host), "%05d-%060d.example", i, 0);
		add_gen(g, GEN_DNS, host, -1);
	}
	d = mint(name2(NULL, "many.example"), name2(NULL, "Test Intermediate"), 77, k_ca, g, &dl);
	base_report(&r);
	put_report(&r);
	for (int i = 0; i < TLS_CHAIN_MAX; i++)
		r.chain[i] = cert_get(cache, d, dl);
	r.chain_len = r.chain_total = TLS_CHAIN_MAX;
	assert_int_equal(r.chain[0]->n_sans, CERT_SANS_MAX);
	assert_int_equal(r.chain[0]->total_sans, 10000);
	s = render(OUTPUT_JSON, &r, &n, &st);
	assert_true(n <= 256 * 1024 + 1);
	o = parse_line(s, n);
	assert_true(json_object_object_get_ex(o, "certsentry.truncated", &v));
	assert_true(json_object_get_boolean(v));
	assert_string_equal(str_at(o, "/event/action"), "tls-certificate");
	assert_int_equal(int_at(o, "/certsentry/chain_length"), TLS_CHAIN_MAX);
	assert_int_equal(st.truncated, 1);
	assert_int_equal(st.lines, 1);
	json_object_put(o);
	free(s);

	/* one such certificate alone fits: 1024 names kept, total reported */
	r.chain_len = 1;
	s = render(OUTPUT_JSON, &r, &n, &st);
	o = parse_line(s, n);
	assert_null(at(o, "/certsentry.truncated"));
	assert_int_equal(json_object_array_length(at(o, "/tls/server/x509/alternative_names")),
			 CERT_SANS_MAX);
	assert_int_equal(int_at(o, "/certsentry/chain/0/alternative_names_total"), 10000);
	json_object_put(o);
	free(s);
	s = render(OUTPUT_TEXT, &r, &n, &st);
	assert_one_line(s, n);
	free(s);
	r.chain_len = TLS_CHAIN_MAX;
	put_report(&r);
	OPENSSL_free(d);
}

/* The certificate JSON cache: lines for certificates that share a slot (two
 * minted until their SHA-256s collide in it), written in turns through one
 * output, each name their own certificate, the same line as a fresh output
 * writes. */
static void test_cert_json_cache(void **state)
{
	uint8_t *d[128], md[32];
	size_t dl[128], n, one_n;
	int a = -1, b = -1, slot[128];
	struct cs_report r;
	struct output_stats st;
	struct output *o;
	char hex[65], *one;
	FILE *f = tmpfile();

	(void)state;
	for (int i = 0; i < 128 && b < 0; i++) {
		d[i] = mint(name2(NULL, "slot.example"), name2(NULL, "Test Intermediate"), 5000 + i,
			    k_ca, NULL, &dl[i]);
		EVP_Digest(d[i], dl[i], md, NULL, EVP_sha256(), NULL);
		slot[i] = (md[0] | md[1] << 8) % 512; /* FRAG_SLOTS */
		for (int j = 0; j < i && b < 0; j++)
			if (slot[j] == slot[i])
				a = j, b = i;
	}
	assert_true(b >= 0); /* 128 into 512 slots: no collision has p < 1e-7 */
	o = output_new(f, OUTPUT_JSON);
	base_report(&r);
	put_report(&r);
	r.chain_len = r.chain_total = 1;
	r.check_time = 1795715501;
	for (int k = 0; k < 6; k++) {
		int i = k % 2 ? b : a;

		r.chain[0] = cert_get(cache, d[i], dl[i]);
		assert_int_equal(output_report(o, &r), 0);
		cert_put(cache, r.chain[0]);
	}
	assert_int_equal(output_flush(o), 0);
	output_free(o);
	rewind(f);
	for (int k = 0; k < 6; k++) {
		char line[16384];
		json_object *j;
		int i = k % 2 ? b : a;

		assert_non_null(fgets(line, sizeof(line), f));
		j = parse_line(line, strlen(line));
		sha256_hex(d[i], dl[i], hex);
		assert_string_equal(str_at(j, "/tls/server/hash/sha256"), hex);
		assert_string_equal(str_at(j, "/certsentry/chain/0/sha256"), hex);
		assert_string_equal(str_at(j, "/certsentry/chain/0/validity"), "valid");
		json_object_put(j);
		if (k < 2)
			continue;
		r.chain[0] = cert_get(cache, d[i], dl[i]); /* a fresh output, no cache */
		one = render(OUTPUT_JSON, &r, &one_n, &st);
		cert_put(cache, r.chain[0]);
		n = strlen(line);
		assert_int_equal(n, one_n);
		assert_memory_equal(line, one, n);
		free(one);
	}
	fclose(f);
	for (int i = 0; i <= b; i++)
		OPENSSL_free(d[i]);
}

static void test_status(void **state)
{
	struct output_stats st;
	size_t n;
	char *s;
	json_object *o;

	(void)state;
	s = render(OUTPUT_JSON, NULL, &n, &st);
	o = parse_line(s, n);
	assert_string_equal(str_at(o, "/@timestamp"), "2026-11-26T17:51:41.123Z");
	assert_string_equal(str_at(o, "/event/kind"), "event");
	assert_string_equal(str_at(o, "/event/action"), "start");
	assert_int_equal(int_at(o, "/event/severity"), 3);
	assert_string_equal(str_at(o, "/log/level"), "error");
	assert_string_equal(str_at(o, "/message"), "bad list \"x\"\n\x1b[31m line 3");
	json_object_put(o);
	free(s);
	s = render(OUTPUT_TEXT, NULL, &n, &st);
	assert_string_equal(
		s, "2026-11-26T17:51:41.123Z start [error] bad list \"x\"\\x0A\\x1B[31m line 3\n");
	free(s);
}

static void test_write_errors(void **state)
{
	struct cs_report r;
	struct output_stats st;
	struct output *o;
	FILE *f = fopen("/dev/full", "w");
	int p[2];

	(void)state;
	base_report(&r);
	assert_non_null(f);
	o = output_new(f, OUTPUT_JSON);
	assert_int_equal(output_report(o, &r), 0);		     /* buffered until the flush */
	assert_int_equal(output_flush(o), -1);			     /* ENOSPC */
	assert_int_equal(output_status(o, 0, "x", "info", "y"), -1); /* flushed at once */
	output_stats(o, &st);
	assert_int_equal(st.write_errors, 2);
	output_free(o);
	fclose(f);

	assert_int_equal(pipe(p), 0);
	close(p[0]); /* reader gone: EPIPE, SIGPIPE ignored */
	f = fdopen(p[1], "w");
	o = output_new(f, OUTPUT_TEXT);
	assert_int_equal(output_report(o, &r), 0);
	assert_int_equal(output_report(o, &r), 0);
	assert_int_equal(output_flush(o), -1); /* EPIPE */
	output_stats(o, &st);
	assert_int_equal(st.write_errors, 1); /* one failed write of two lines */
	output_free(o);
	fclose(f);
	output_stats(NULL, &st);
	assert_int_equal(st.lines, 0);
	put_report(&r);
}

/* ---- summaries, the envelope, several sinks ---- */

static void base_summary(struct dedup_summary *s)
{
	memset(s, 0, sizeof(*s));
	s->action = REPORT_CERTIFICATE;
	s->server.family = CS_AF_INET;
	inet_pton(AF_INET, "10.0.0.2", s->server.addr);
	s->server.port = 443;
	s->has_sni = true;
	strcpy(s->sni, "exa mple.com");
	strcpy(s->leaf_sha256, "AB12CD34EF56AB12CD34EF56AB12CD34EF56AB12CD34EF56AB12CD34EF56AB12");
	s->verdict = "revoked.crl";
	s->severity = 2;
	s->count = 41;
	s->first_ns = 1795715400000000000ULL;
	s->last_ns = 1795715500999000000ULL;
	s->clients = 7;
	s->ts_ns = 1795715501123456789ULL;
}

/* Everything a memfd-backed output wrote, as a string. */
static char *drain(FILE *f)
{
	long n = lseek(fileno(f), 0, SEEK_END);
	char *buf = malloc((size_t)n + 1);

	assert_true(n >= 0);
	assert_int_equal(pread(fileno(f), buf, (size_t)n, 0), n);
	buf[n] = '\0';
	return buf;
}

static void test_summary(void **state)
{
	struct dedup_summary s;
	FILE *jf = tmpfile(), *tf = tmpfile();
	struct output *j = output_new(jf, OUTPUT_JSON), *t = output_new(tf, OUTPUT_TEXT);
	json_object *o;
	char *js, *ts, *first, *second;

	(void)state;
	base_summary(&s);
	assert_int_equal(output_summary(j, &s), 0);
	assert_int_equal(output_summary(t, &s), 0);
	s.verdict = "unverified";
	s.severity = 6;
	s.has_sni = false;
	s.clients_capped = true;
	s.action = REPORT_CERTIFICATE_HIDDEN;
	s.leaf_sha256[0] = '\0';
	assert_int_equal(output_summary(j, &s), 0);
	assert_int_equal(output_summary(t, &s), 0);
	output_free(j);
	output_free(t);
	js = drain(jf);
	ts = drain(tf);
	assert_string_equal(
		ts,
		"2026-11-26T17:51:41.123Z summary tls-certificate seen 41 more times from 7 clients"
		" -> 10.0.0.2:443 sni=exa\\x20mple.com sha256=AB12CD34EF56AB12 verdict=revoked.crl"
		" first=2026-11-26T17:50:00.000Z last=2026-11-26T17:51:40.999Z\n"
		"2026-11-26T17:51:41.123Z summary tls-certificate-hidden seen 41 more times from"
		" >7 clients -> 10.0.0.2:443 verdict=unverified first=2026-11-26T17:50:00.000Z"
		" last=2026-11-26T17:51:40.999Z\n");
	second = strchr(js, '\n') + 1;
	first = strndup(js, (size_t)(second - js));
	o = parse_line(first, strlen(first));
	free(first);
	assert_string_equal(str_at(o, "/event/kind"), "alert");
	assert_int_equal(int_at(o, "/event/severity"), 2);
	assert_string_equal(str_at(o, "/event/action"), "tls-summary");
	assert_null(at(o, "/event/count")); /* not an ECS field */
	assert_int_equal(int_at(o, "/certsentry/summary/count"), 41);
	assert_string_equal(str_at(o, "/destination/domain"), "exa mple.com");
	assert_string_equal(str_at(o, "/event/start"), "2026-11-26T17:50:00.000Z");
	assert_string_equal(str_at(o, "/event/end"), "2026-11-26T17:51:40.999Z");
	assert_string_equal(str_at(o, "/rule/name"), "revoked.crl");
	assert_string_equal(str_at(o, "/destination/ip"), "10.0.0.2");
	assert_string_equal(str_at(o, "/tls/client/server_name"), "exa mple.com");
	assert_string_equal(str_at(o, "/tls/server/hash/sha256"),
			    "AB12CD34EF56AB12CD34EF56AB12CD34EF56AB12CD34EF56AB12CD34EF56AB12");
	assert_string_equal(str_at(o, "/certsentry/summary/of"), "tls-certificate");
	assert_int_equal(int_at(o, "/certsentry/summary/distinct_clients"), 7);
	assert_null(at(o, "/certsentry/summary/distinct_clients_capped"));
	json_object_put(o);
	o = parse_line(second, strlen(second));
	assert_string_equal(str_at(o, "/event/kind"), "event");
	assert_null(at(o, "/rule"));
	assert_null(at(o, "/tls")); /* no SNI, no leaf: no "tls":{} */
	assert_null(at(o, "/destination/domain"));
	assert_string_equal(str_at(o, "/certsentry/summary/of"), "tls-certificate-hidden");
	assert_true(json_object_get_boolean(at(o, "/certsentry/summary/distinct_clients_capped")));
	json_object_put(o);
	free(js);
	free(ts);
	fclose(jf);
	fclose(tf);
}

/* The keys of a JSON object, in the order the line has them. */
static int keys_of(json_object *o, const char **keys, int max)
{
	int n = 0;

	json_object_object_foreach(o, k, v)
	{
		(void)v;
		if (n < max)
			keys[n++] = k;
	}
	return n;
}

/* Where key is among keys, -1 if absent. */
static int key_pos(const char **keys, int n, const char *key)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(keys[i], key))
			return i;
	return -1;
}

/* Report, summary and status lines open alike: @timestamp, ecs, event,
 * byte for byte up to event.kind's value, and event's common members in
 * one order. */
static void test_envelope_same(void **state)
{
	static const char *const common[] = { "kind", "severity", "action", "dataset" };
	struct cs_report r;
	struct dedup_summary s;
	struct verdict v = { .n = 0, .worst = SEV_OK };
	FILE *f = tmpfile();
	struct output *o = output_new(f, OUTPUT_JSON);
	char *all, *line[3], *save = NULL;
	const char *keys[3][16];
	int nk[3];
	size_t prefix = 0;

	(void)state;
	base_report(&r);
	r.verdict = &v;
	base_summary(&s);
	s.verdict = "ok";
	s.severity = SEV_OK;
	assert_int_equal(output_report(o, &r), 0);
	assert_int_equal(output_summary(o, &s), 0);
	assert_int_equal(output_status(o, r.ts_ns, "certsentry-stats", "info", "x=1"), 0);
	output_free(o);
	all = drain(f);
	for (int i = 0; i < 3; i++)
		assert_non_null(line[i] = strtok_r(i ? NULL : all, "\n", &save));
	prefix = strlen(
		"{\"@timestamp\":\"2026-11-26T17:51:41.123Z\",\"ecs\":{\"version\":\"8.11.0\"},"
		"\"event\":{\"kind\":\"");
	for (int i = 0; i < 3; i++) {
		json_object *j = json_tokener_parse(line[i]), *ev = at(j, "/event");
		const char *top[3];

		assert_non_null(j);
		assert_memory_equal(line[i], line[0], prefix);
		assert_int_equal(keys_of(j, top, 3), 3);
		assert_string_equal(top[0], "@timestamp");
		assert_string_equal(top[1], "ecs");
		assert_string_equal(top[2], "event");
		nk[i] = keys_of(ev, keys[i], 16);
		for (size_t a = 0; a < 4; a++)
			for (size_t b = a + 1; b < 4; b++)
				assert_true(key_pos(keys[i], nk[i], common[a]) <
					    key_pos(keys[i], nk[i], common[b]));
		assert_int_equal(int_at(j, "/event/severity"), 6);
		json_object_put(j);
	}
	free(all);
	fclose(f);
	put_report(&r);
}

/* Sinks of one format get the same bytes; each format is built once per
 * line; every sink counts its own lines. */
static void test_several_sinks(void **state)
{
	struct cs_report r;
	FILE *f[3] = { tmpfile(), tmpfile(), tmpfile() };
	struct output *o = output_create();
	struct output_stats st;
	char *got[3];

	(void)state;
	base_report(&r);
	assert_int_equal(output_add_sink(o, sink_file_fd(fileno(f[0])), OUTPUT_JSON), 0);
	assert_int_equal(output_add_sink(o, sink_file_fd(fileno(f[1])), OUTPUT_TEXT), 0);
	assert_int_equal(output_add_sink(o, sink_file_fd(fileno(f[2])), OUTPUT_JSON), 0);
	assert_int_equal(output_add_sink(o, sink_file_fd(fileno(f[2])), OUTPUT_TEXT), 0);
	/* one too many: refused, and the sink is freed (LeakSanitizer) */
	assert_int_equal(output_add_sink(o, sink_file_fd(fileno(f[2])), OUTPUT_TEXT), -1);
	assert_int_equal(output_add_sink(o, NULL, OUTPUT_TEXT), -1);
	assert_int_equal(output_report(o, &r), 0);
	assert_int_equal(output_status(o, r.ts_ns, "certsentry-started", "info", "go"), 0);
	output_stats(o, &st);
	assert_int_equal(st.lines, 8);
	assert_int_equal(st.lost, 0);
	output_free(o);
	for (int i = 0; i < 3; i++)
		got[i] = drain(f[i]);
	assert_non_null(strstr(got[0], "\"action\":\"tls-certificate\""));
	assert_non_null(strstr(got[1], " tls-certificate 10.0.0.1:51234 -> 10.0.0.2:443 "));
	/* the third file has two sinks: the JSON batch, then the text batch */
	assert_int_equal(strlen(got[2]), strlen(got[0]) + strlen(got[1]));
	assert_memory_equal(got[2], got[0], strlen(got[0]));
	assert_string_equal(got[2] + strlen(got[0]), got[1]);
	for (int i = 0; i < 3; i++) {
		free(got[i]);
		fclose(f[i]);
	}
	put_report(&r);
}

static void test_format_table(void **state)
{
	(void)state;
	assert_int_equal(format_parse("json"), OUTPUT_JSON);
	assert_int_equal(format_parse("text"), OUTPUT_TEXT);
	assert_int_equal(format_parse("xml"), -1);
	assert_int_equal(format_parse(""), -1);
	assert_string_equal(format_names(), "json or text");
	for (int i = 0; i < OUTPUT_FORMATS; i++) {
		const struct format_ops *f = format_ops(i);

		assert_non_null(f);
		assert_non_null(f->report);
		assert_non_null(f->summary);
		assert_non_null(f->status);
		assert_true(!f->state_new == !f->state_free);
	}
	assert_null(format_ops(OUTPUT_FORMATS));
}

/* output_reopen() reaches every sink: the -o file after a rename. */
static void test_output_reopen(void **state)
{
	char dir[] = "/tmp/cs-test-output.XXXXXX", path[64], old[64], err[256];
	struct output *o = output_create();
	size_t n;
	char *s;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/out.log", dir);
	snprintf(old, sizeof(old), "%s/out.log.1", dir);
	assert_int_equal(output_add_sink(o, sink_open("file", path, err, sizeof(err)), OUTPUT_TEXT),
			 0);
	output_status(o, 0, "one", "info", NULL);
	assert_int_equal(rename(path, old), 0);
	assert_int_equal(output_reopen(o, err, sizeof(err)), 0);
	output_status(o, 0, "two", "info", NULL);
	output_free(o);
	for (int i = 0; i < 2; i++) {
		assert_non_null(f = fopen(i ? path : old, "r"));
		s = calloc(1, 256);
		n = fread(s, 1, 255, f);
		assert_true(n > 0);
		assert_non_null(strstr(s, i ? " two [info] " : " one [info] "));
		assert_null(strstr(s, i ? " one " : " two "));
		free(s);
		fclose(f);
		unlink(i ? path : old);
	}
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_full),
		cmocka_unit_test(test_json_hidden_v6),
		cmocka_unit_test(test_json_source),
		cmocka_unit_test(test_json_no_server_hello_bad_leaf),
		cmocka_unit_test(test_json_no_empty_tls),
		cmocka_unit_test(test_text_line),
		cmocka_unit_test(test_text_expected),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_truncated_chain),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_write_errors),
		cmocka_unit_test(test_cert_json_cache),
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_envelope_same),
		cmocka_unit_test(test_several_sinks),
		cmocka_unit_test(test_format_table),
		cmocka_unit_test(test_output_reopen),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
