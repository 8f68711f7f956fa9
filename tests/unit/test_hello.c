/* test_hello.c - unit tests for the ClientHello facts (tls.c's decoder), JA3/JA4
 * (ja.c) and the names and summary (hello.c), on crafted hellos. Real hellos
 * from OpenSSL are in test_tls.c; the peer corpus against tshark is
 * tests/e2e/test_fingerprints.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hello.h"
#include "ja.h"
#include "tls.h"

/* ---- a ClientHello builder ------------------------------------------------ */

struct chb {
	uint8_t b[16384];
	size_t n;
	size_t ext_len_at; /* where the extensions length goes */
};

static void put8(struct chb *c, unsigned v)
{
	assert_true(c->n < sizeof(c->b));
	c->b[c->n++] = (uint8_t)v;
}

static void put16(struct chb *c, unsigned v)
{
	put8(c, v >> 8);
	put8(c, v & 0xff);
}

static void put(struct chb *c, const void *p, size_t n)
{
	assert_true(c->n + n <= sizeof(c->b));
	if (n)
		memcpy(c->b + c->n, p, n);
	c->n += n;
}

static void patch16(struct chb *c, size_t at, size_t v)
{
	assert_true(v <= 0xffff);
	c->b[at] = (uint8_t)(v >> 8);
	c->b[at + 1] = (uint8_t)v;
}

/* version, random 0x11.., empty session id, [empty cookie], suites, null
 * compression, and the extensions length to come. */
static void ch_begin(struct chb *c, uint16_t version, bool dtls, const uint16_t *suites, size_t ns)
{
	c->n = 0;
	put16(c, version);
	for (int i = 0; i < 32; i++)
		put8(c, 0x11 + i);
	put8(c, 0);
	if (dtls)
		put8(c, 0);
	put16(c, 2 * ns);
	for (size_t i = 0; i < ns; i++)
		put16(c, suites[i]);
	put8(c, 1);
	put8(c, 0);
	c->ext_len_at = c->n;
	put16(c, 0);
}

static void ext(struct chb *c, uint16_t type, const void *body, size_t len)
{
	put16(c, type);
	put16(c, len);
	put(c, body, len);
}

/* An extension holding a list of 16-bit values behind a w-byte length. */
static void ext16(struct chb *c, uint16_t type, unsigned w, const uint16_t *v, size_t n)
{
	put16(c, type);
	put16(c, w + 2 * n);
	if (w == 1)
		put8(c, 2 * n);
	else
		put16(c, 2 * n);
	for (size_t i = 0; i < n; i++)
		put16(c, v[i]);
}

static void ext_sni(struct chb *c, const char *name)
{
	size_t n = strlen(name);

	put16(c, 0);
	put16(c, n + 5);
	put16(c, n + 3);
	put8(c, 0);
	put16(c, n);
	put(c, name, n);
}

/* ALPN with the given protocols (length-prefixed strings). */
static void ext_alpn(struct chb *c, const uint8_t *list, size_t len)
{
	put16(c, 16);
	put16(c, len + 2);
	put16(c, len);
	put(c, list, len);
}

static size_t ch_end(struct chb *c)
{
	patch16(c, c->ext_len_at, c->n - c->ext_len_at - 2);
	return c->n;
}

#define NOF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the spec's example ---------------------------------------------------- */

/* technical_details/JA4.md "Example": these suites, extensions (in this wire
 * order) and signature algorithms give the published JA4 and ja4_r. */
static const uint16_t ex_suites[] = {
	0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9,
	0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
};
static const uint16_t ex_sigalgs[] = {
	0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
};
static const char ex_ja4[] = "t13d1516h2_8daaf6152771_e5627efa2ab1";
static const char ex_ja4_r[] =
	"t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_"
	"0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_"
	"0403,0804,0401,0503,0805,0501,0806,0601";
/* The same hello by the JA3 definition; its MD5 made by Python's hashlib. */
static const char ex_ja3[] =
	"771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,"
	"27-0-51-16-17513-23-45-13-5-35-18-43-65281-11-10-21,29-23-24,0";
static const char ex_ja3_md5[] = "c000e2caf3a25423f9de6c8a4b12a975";

/* The example hello; with grease, GREASE values in every list and as
 * extensions, where Chromium puts them (and more). sigalgs: NULL for the
 * spec's list, else n_sig values. */
static size_t example(struct chb *c, bool grease, const uint16_t *sig, size_t n_sig)
{
	static const uint8_t alpn[] = { 2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1' };
	static const uint8_t cc[] = { 2, 0, 2 }, alps[] = { 0, 3, 2, 'h', '2' };
	static const uint8_t modes[] = { 1, 1 }, status[] = { 1, 0, 0, 0, 0 };
	static const uint8_t reneg[] = { 0 }, formats[] = { 1, 0 }, pad[12] = { 0 };
	uint16_t suites[NOF(ex_suites) + 1], sigs[NOF(ex_sigalgs) + 1];
	uint16_t groups[] = { 0x2a2a, 29, 23, 24 }, versions[] = { 0x3a3a, 0x0304, 0x0303 };
	uint8_t ks[2 + 2 + 2 + 1 + 2 + 2 + 32] = { 0 };
	size_t ns = 0, nsig = 0, nks = 0;

	if (grease)
		suites[ns++] = 0x0a0a;
	memcpy(suites + ns, ex_suites, sizeof(ex_suites));
	ns += NOF(ex_suites);
	if (!sig) {
		sig = ex_sigalgs;
		n_sig = NOF(ex_sigalgs);
	}
	if (grease)
		sigs[nsig++] = 0x4a4a;
	assert_true(n_sig <= NOF(ex_sigalgs));
	memcpy(sigs + nsig, sig, n_sig * sizeof(sig[0]));
	nsig += n_sig;
	/* key_share: [GREASE, 1-byte key], x25519 with a 32-byte key */
	nks = 2;
	if (grease) {
		ks[nks++] = 0x5a, ks[nks++] = 0x5a, ks[nks++] = 0, ks[nks++] = 1, ks[nks++] = 0;
	}
	ks[nks++] = 0, ks[nks++] = 29, ks[nks++] = 0, ks[nks++] = 32;
	nks += 32;
	ks[0] = 0, ks[1] = (uint8_t)(nks - 2);

	ch_begin(c, 0x0303, false, suites, ns);
	if (grease)
		ext(c, 0x0a0a, NULL, 0);
	ext(c, 0x001b, cc, sizeof(cc));
	ext_sni(c, "example.com");
	ext(c, 0x0033, ks, nks);
	ext_alpn(c, alpn, sizeof(alpn));
	ext(c, 0x4469, alps, sizeof(alps));
	ext(c, 0x0017, NULL, 0);
	ext(c, 0x002d, modes, sizeof(modes));
	ext16(c, 0x000d, 2, sigs, nsig);
	ext(c, 0x0005, status, sizeof(status));
	ext(c, 0x0023, NULL, 0);
	ext(c, 0x0012, NULL, 0);
	ext16(c, 0x002b, 1, versions + (grease ? 0 : 1), grease ? 3 : 2);
	ext(c, 0xff01, reneg, sizeof(reneg));
	ext(c, 0x000b, formats, sizeof(formats));
	ext16(c, 0x000a, 2, groups + (grease ? 0 : 1), grease ? 4 : 3);
	if (grease)
		ext(c, 0x1a1a, "\0", 1);
	ext(c, 0x0015, pad, sizeof(pad));
	return ch_end(c);
}

static void assert_prints(const struct tls_client_hello *ch, const char *j3, const char *j3h,
			  const char *j4, const char *j4r)
{
	char s[JA3_STR_MAX + 1], h[JA3_HASH_LEN + 1], f[JA4_LEN + 1], r[JA4_R_MAX + 1];

	assert_int_equal(ja3_string(ch, s, sizeof(s)), strlen(j3));
	assert_string_equal(s, j3);
	assert_int_equal(ja3_hash(ch, h, sizeof(h)), JA3_HASH_LEN);
	assert_string_equal(h, j3h);
	assert_int_equal(ja4(ch, f, sizeof(f)), JA4_LEN);
	assert_string_equal(f, j4);
	assert_int_equal(ja4_r(ch, r, sizeof(r)), strlen(j4r));
	assert_string_equal(r, j4r);
}

static void test_spec_example(void **state)
{
	struct chb c;
	struct tls_client_hello ch;
	size_t n = example(&c, false, NULL, 0);

	(void)state;
	assert_int_equal(tls_parse_client_hello(c.b, n, &ch), 0);
	/* The facts the decoder kept, in wire order. */
	assert_int_equal(ch.n_suites, 15);
	assert_int_equal(ch.suites_total, 15);
	assert_memory_equal(ch.suites, ex_suites, sizeof(ex_suites));
	assert_int_equal(ch.n_exts, 16);
	assert_int_equal(ch.exts[0], 0x001b);
	assert_int_equal(ch.exts[15], 0x0015);
	assert_int_equal(ch.n_sigalgs, 8);
	assert_memory_equal(ch.sigalgs, ex_sigalgs, sizeof(ex_sigalgs));
	assert_int_equal(ch.n_groups, 3);
	assert_int_equal(ch.groups[0], 29);
	assert_int_equal(ch.n_versions, 2);
	assert_int_equal(ch.versions[0], 0x0304);
	assert_int_equal(ch.n_formats, 1);
	assert_int_equal(ch.n_shares, 1);
	assert_int_equal(ch.shares[0], 29);
	assert_true(ch.offers_tls13);
	assert_true(ch.has_sni);
	assert_string_equal(ch.sni, "example.com");
	assert_string_equal(ch.alpn, "h2,http/1.1");
	assert_true(ch.has_alpn);
	assert_false(ch.has_psk || ch.has_early_data || ch.dtls || ch.ssl2);
	for (int i = 0; i < 32; i++)
		assert_int_equal(ch.random[i], 0x11 + i);
	assert_prints(&ch, ex_ja3, ex_ja3_md5, ex_ja4, ex_ja4_r);
}

/* GREASE in every list and as extensions changes neither fingerprint. */
static void test_grease_everywhere(void **state)
{
	struct chb c;
	struct tls_client_hello ch;
	struct hello_summary s;
	size_t n = example(&c, true, NULL, 0);

	(void)state;
	assert_int_equal(tls_parse_client_hello(c.b, n, &ch), 0);
	assert_int_equal(ch.n_suites, 16);
	assert_int_equal(ch.suites[0], 0x0a0a);
	assert_int_equal(ch.n_exts, 18);
	assert_int_equal(ch.exts[0], 0x0a0a);
	assert_int_equal(ch.n_groups, 4);
	assert_int_equal(ch.n_versions, 3);
	assert_int_equal(ch.n_sigalgs, 9);
	assert_int_equal(ch.n_shares, 2);
	assert_int_equal(ch.shares[0], 0x5a5a);
	assert_prints(&ch, ex_ja3, ex_ja3_md5, ex_ja4, ex_ja4_r);

	hello_summarize(&ch, NULL, &s);
	assert_string_equal(s.fp.ja3, ex_ja3_md5);
	assert_string_equal(s.fp.ja4, ex_ja4);
	assert_true(s.flags & HELLO_F_GREASE);
	assert_int_equal(s.suites_total, 15);
	assert_int_equal(s.n_groups, 3);
	assert_int_equal(s.groups_total, 3);
	assert_int_equal(s.groups[0], 29);
	assert_int_equal(s.n_versions, 2);
	assert_int_equal(s.versions[0], 0x0304);
	assert_int_equal(s.n_sigalgs, 8);
	assert_memory_equal(s.sigalgs, ex_sigalgs, sizeof(ex_sigalgs));
}

/* The memo gives what ja_prints makes: for a repeat with another random and
 * SNI (remembered), for the same lists in another order (made: JA3 differs),
 * and after more distinct hellos than it keeps (the first one evicted). */
static void test_memo(void **state)
{
	struct ja_memo *m = ja_memo_new();
	struct tls_client_hello ch, other;
	struct ja_prints p, want;
	struct chb c;
	size_t n = example(&c, false, NULL, 0);
	uint16_t x;

	(void)state;
	assert_non_null(m);
	assert_int_equal(tls_parse_client_hello(c.b, n, &ch), 0);
	assert_int_equal(ja_prints_memo(m, &ch, &p), 0);
	assert_string_equal(p.ja3, ex_ja3_md5);
	assert_string_equal(p.ja4, ex_ja4);
	assert_int_equal(ja_memo_hits(m), 0);

	other = ch;
	other.random[0] ^= 0xff;
	snprintf(other.sni, sizeof(other.sni), "other.example");
	memset(&p, 0, sizeof(p));
	assert_int_equal(ja_prints_memo(m, &other, &p), 0);
	assert_int_equal(ja_memo_hits(m), 1);
	assert_string_equal(p.ja3, ex_ja3_md5);
	assert_string_equal(p.ja4, ex_ja4);

	/* Two extensions swapped: JA4 sorts them, JA3 does not. */
	x = other.exts[1], other.exts[1] = other.exts[2], other.exts[2] = x;
	assert_int_equal(ja_prints(&other, &want), 0);
	assert_string_not_equal(want.ja3, ex_ja3_md5);
	assert_int_equal(ja_prints_memo(m, &other, &p), 0);
	assert_int_equal(ja_memo_hits(m), 1);
	assert_string_equal(p.ja3, want.ja3);
	assert_string_equal(p.ja4, ex_ja4);

	/* JA_MEMO_MAX other hellos (suite 0 varied) push the example out. */
	for (int i = 0; i < JA_MEMO_MAX; i++) {
		other = ch;
		other.suites[0] = (uint16_t)(0x1000 + i);
		assert_int_equal(ja_prints(&other, &want), 0);
		assert_int_equal(ja_prints_memo(m, &other, &p), 0);
		assert_string_equal(p.ja3, want.ja3);
		assert_string_equal(p.ja4, want.ja4);
	}
	assert_int_equal(ja_memo_hits(m), 1);
	assert_int_equal(ja_prints_memo(m, &ch, &p), 0);
	assert_int_equal(ja_memo_hits(m), 1);
	assert_string_equal(p.ja3, ex_ja3_md5);
	/* ... and the last of those is still there. */
	assert_int_equal(ja_prints_memo(m, &other, &p), 0);
	assert_int_equal(ja_memo_hits(m), 2);
	assert_string_equal(p.ja4, want.ja4);

	/* A hello with no prints is remembered with its error. */
	other = ch;
	other.suites_total = (uint16_t)(other.n_suites + 1);
	assert_int_equal(ja_prints_memo(m, &other, &p), JA_ERR_BOUNDS);
	assert_int_equal(ja_prints_memo(m, &other, &p), JA_ERR_BOUNDS);
	assert_int_equal(ja_memo_hits(m), 3);
	assert_string_equal(p.ja3, "");
	assert_string_equal(p.ja4, "");
	ja_memo_free(m);
}

/* The spec: "If there are no signature algorithms in the hello packet, then
 * the string ends without an underscore" and hashes to 6d807ffa2a79. The
 * extension is there (000d is listed) with no value, then only GREASE. */
static void test_spec_no_sigalgs(void **state)
{
	static const uint16_t only_grease[] = { 0x6a6a };
	struct chb c;
	struct tls_client_hello ch;
	char f[JA4_LEN + 1], r[JA4_R_MAX + 1];
	size_t n;

	(void)state;
	n = example(&c, false, only_grease, 0); /* an empty list */
	assert_int_equal(tls_parse_client_hello(c.b, n, &ch), 0);
	assert_int_equal(ch.n_sigalgs, 0);
	assert_int_equal(ja4(&ch, f, sizeof(f)), JA4_LEN);
	assert_string_equal(f, "t13d1516h2_8daaf6152771_6d807ffa2a79");
	n = example(&c, true, only_grease, 1); /* GREASE, then 0x6a6a */
	assert_int_equal(tls_parse_client_hello(c.b, n, &ch), 0);
	assert_int_equal(ch.n_sigalgs, 2);
	assert_int_equal(ja4(&ch, f, sizeof(f)), JA4_LEN);
	assert_string_equal(f, "t13d1516h2_8daaf6152771_6d807ffa2a79");
	assert_true(ja4_r(&ch, r, sizeof(r)) > 0);
	assert_non_null(strstr(r, "_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,"
				  "0033,4469,ff01"));
	assert_int_equal(r[strlen(r) - 1], '1'); /* ends with ff01: no '_' */
}

/* SSLv3/TLS 1.0 style: no extensions block. */
static void test_no_extensions(void **state)
{
	static const uint16_t suites[] = { 0x002f, 0x00ff };
	struct chb c;
	struct tls_client_hello ch;
	size_t n;

	(void)state;
	ch_begin(&c, 0x0301, false, suites, 2);
	n = c.ext_len_at; /* stop before the extensions length */
	assert_int_equal(tls_parse_client_hello(c.b, n, &ch), 0);
	assert_int_equal(ch.exts_total, 0);
	assert_prints(&ch, "769,47-255,,,", "096e971bea689c0bcdf91be95b4e0c0f",
		      "t10i020000_a5878986a7c9_000000000000", "t10i020000_002f,00ff_");
	/* An empty extensions block is the same hello for both. */
	n = ch_end(&c);
	assert_int_equal(tls_parse_client_hello(c.b, n, &ch), 0);
	assert_prints(&ch, "769,47-255,,,", "096e971bea689c0bcdf91be95b4e0c0f",
		      "t10i020000_a5878986a7c9_000000000000", "t10i020000_002f,00ff_");
}

/* The version part: supported_versions' newest, else legacy_version. */
static void test_ja4_versions(void **state)
{
	static const uint16_t s[] = { 0xc02f };
	static const struct {
		uint16_t legacy;
		bool dtls;
		uint16_t sv[3];
		size_t n_sv;
		const char *a;
	} t[] = {
		{ 0x0303, false, { 0 }, 0, "t12i010100" },
		{ 0x0300, false, { 0 }, 0, "ts3i010100" },
		{ 0x0303, false, { 0x0303, 0x0304 }, 2, "t13i010200" },
		{ 0x0303, false, { 0x7f1c, 0x0303 }, 2, "t00i010200" }, /* draft: unknown */
		{ 0x0303, false, { 0xfafa }, 1, "t00i010200" },		/* only GREASE */
		{ 0xfefd, true, { 0 }, 0, "dd2i010100" },
		{ 0xfefd, true, { 0xfefc, 0xfefd }, 2, "dd3i010200" }, /* DTLS counts down */
		{ 0xfefd, true, { 0xfefd, 0xfeff }, 2, "dd2i010200" },
		{ 0xfeff, true, { 0 }, 0, "dd1i010100" },
		{ 0x0002, false, { 0 }, 0, "ts2i010100" },
		{ 0x1234, false, { 0 }, 0, "t00i010100" },
	};
	struct chb c;
	struct tls_client_hello ch;
	char f[JA4_LEN + 1];

	(void)state;
	for (size_t i = 0; i < NOF(t); i++) {
		size_t n;

		ch_begin(&c, t[i].legacy, t[i].dtls, s, 1);
		ext(&c, 0x0017, NULL, 0);
		if (t[i].n_sv)
			ext16(&c, 0x002b, 1, t[i].sv, t[i].n_sv);
		n = ch_end(&c);
		if (t[i].dtls)
			assert_int_equal(tls_parse_dtls_client_hello(c.b, n, &ch), 0);
		else
			assert_int_equal(tls_parse_client_hello(c.b, n, &ch), 0);
		assert_int_equal(ja4(&ch, f, sizeof(f)), JA4_LEN);
		assert_memory_equal(f, t[i].a, 10);
	}
}

/* The ALPN part, with the spec's own examples of non-alphanumeric bytes. */
static void test_ja4_alpn(void **state)
{
	static const struct {
		uint8_t list[12];
		size_t len;
		const char *want;
	} t[] = {
		{ { 2, 'h', '2' }, 3, "h2" },
		{ { 8, 'h', 't', 't', 'p', '/', '1', '.', '1' }, 9, "h1" },
		{ { 1, 'h' }, 2, "hh" }, /* one character: first and last */
		{ { 1, 0xab }, 2, "ab" },
		{ { 2, 0xab, 0xcd }, 3, "ad" },
		{ { 2, 0x30, 0xab }, 3, "3b" },
		{ { 4, 0x30, 0x31, 0xab, 0xcd }, 5, "3d" },
		{ { 4, 0x30, 0xab, 0xcd, 0x31 }, 5, "01" },
		{ { 2, 'h', '2', 1, 'x' }, 5, "h2" }, /* the first protocol only */
	};
	static const uint16_t s[] = { 0xc02f };
	struct chb c;
	struct tls_client_hello ch;
	char f[JA4_LEN + 1];

	(void)state;
	for (size_t i = 0; i < NOF(t); i++) {
		size_t n;

		ch_begin(&c, 0x0303, false, s, 1);
		ext_alpn(&c, t[i].list, t[i].len);
		n = ch_end(&c);
		assert_int_equal(tls_parse_client_hello(c.b, n, &ch), 0);
		assert_int_equal(ja4(&ch, f, sizeof(f)), JA4_LEN);
		assert_memory_equal(f + 8, t[i].want, 2);
	}
	/* No ALPN: "00". */
	ch_begin(&c, 0x0303, false, s, 1);
	assert_int_equal(tls_parse_client_hello(c.b, ch_end(&c), &ch), 0);
	assert_int_equal(ja4(&ch, f, sizeof(f)), JA4_LEN);
	assert_memory_equal(f, "t12i010000_", 11);
}

/* Over 99 suites or extensions: "99". Duplicated suites count twice. */
static void test_ja4_counts(void **state)
{
	uint16_t s[150];
	struct chb c;
	struct tls_client_hello ch;
	char f[JA4_LEN + 1];
	size_t n;

	(void)state;
	for (size_t i = 0; i < NOF(s); i++)
		s[i] = (uint16_t)(0x0100 + i);
	s[1] = s[0];
	ch_begin(&c, 0x0303, false, s, NOF(s));
	for (unsigned i = 0; i < 50; i++)
		ext(&c, (uint16_t)(0x3000 + i), NULL, 0);
	n = ch_end(&c);
	assert_int_equal(tls_parse_client_hello(c.b, n, &ch), 0);
	assert_int_equal(ja4(&ch, f, sizeof(f)), JA4_LEN);
	assert_memory_equal(f, "t12i995000_", 11);
}

/* Each list at its bound is whole; one more is cut: counted, kept to the
 * bound, and then no fingerprint that reads that list is made. */
static void test_bounds(void **state)
{
	enum { SUITES, EXTS, GROUPS, SIGALGS, VERSIONS, FORMATS, SHARES };
	static const struct {
		size_t max;
		bool ja3, ja4; /* the fingerprints that read the list */
	} t[] = {
		[SUITES] = { TLS_CH_SUITES_MAX, true, true },
		[EXTS] = { TLS_CH_EXTS_MAX, true, true },
		[GROUPS] = { TLS_CH_GROUPS_MAX, true, false },
		[SIGALGS] = { TLS_CH_SIGALGS_MAX, false, true },
		[VERSIONS] = { TLS_CH_VERSIONS_MAX, false, true },
		[FORMATS] = { TLS_CH_FORMATS_MAX, true, false },
		[SHARES] = { TLS_CH_SHARES_MAX, false, false },
	};
	static uint16_t v[TLS_CH_SUITES_MAX + 1];
	static const uint16_t one[] = { 0xc02f };
	struct chb c;
	struct tls_client_hello ch;
	char f[JA4_LEN + 1], h[JA3_HASH_LEN + 1];
	struct ja_prints p;

	(void)state;
	for (size_t i = 0; i < NOF(v); i++)
		v[i] = (uint16_t)(0x0100 + i);
	for (size_t l = 0; l < NOF(t); l++) {
		for (size_t k = t[l].max; k <= t[l].max + 1; k++) {
			bool over = k > t[l].max;
			uint16_t n_kept = 0, total = 0;
			size_t n;

			ch_begin(&c, 0x0303, false, l == SUITES ? v : one, l == SUITES ? k : 1);
			if (l == EXTS)
				for (size_t i = 0; i < k; i++)
					ext(&c, (uint16_t)(0x3000 + i), NULL, 0);
			if (l == GROUPS)
				ext16(&c, 10, 2, v, k);
			if (l == SIGALGS)
				ext16(&c, 13, 2, v, k);
			if (l == VERSIONS)
				ext16(&c, 43, 1, v, k);
			if (l == FORMATS) {
				put16(&c, 11), put16(&c, k + 1), put8(&c, k);
				for (size_t i = 0; i < k; i++)
					put8(&c, i);
			}
			if (l == SHARES) {
				put16(&c, 51), put16(&c, 2 + 5 * k), put16(&c, 5 * k);
				for (size_t i = 0; i < k; i++)
					put16(&c, v[i]), put16(&c, 1), put8(&c, 0x42);
			}
			n = ch_end(&c);
			assert_int_equal(tls_parse_client_hello(c.b, n, &ch), 0);
			switch (l) {
			case SUITES:
				n_kept = ch.n_suites, total = ch.suites_total;
				break;
			case EXTS:
				n_kept = ch.n_exts, total = ch.exts_total;
				break;
			case GROUPS:
				n_kept = ch.n_groups, total = ch.groups_total;
				break;
			case SIGALGS:
				n_kept = ch.n_sigalgs, total = ch.sigalgs_total;
				break;
			case VERSIONS:
				n_kept = ch.n_versions, total = ch.versions_total;
				break;
			case FORMATS:
				n_kept = ch.n_formats, total = ch.formats_total;
				break;
			case SHARES:
				n_kept = ch.n_shares, total = ch.shares_total;
				break;
			}
			assert_int_equal(n_kept, t[l].max);
			assert_int_equal(total, k);
			assert_int_equal(ja3_hash(&ch, h, sizeof(h)),
					 over && t[l].ja3 ? JA_ERR_BOUNDS : JA3_HASH_LEN);
			assert_int_equal(ja4(&ch, f, sizeof(f)),
					 over && t[l].ja4 ? JA_ERR_BOUNDS : JA4_LEN);
			assert_int_equal(ja_prints(&ch, &p),
					 over && (t[l].ja3 || t[l].ja4) ? JA_ERR_BOUNDS : 0);
			assert_int_equal(strlen(p.ja3), over && t[l].ja3 ? 0 : JA3_HASH_LEN);
			assert_int_equal(strlen(p.ja4), over && t[l].ja4 ? 0 : JA4_LEN);
		}
	}
}

/* The longest hello within the bounds fits JA3_STR_MAX and JA4_R_MAX. */
static void test_longest_fits(void **state)
{
	static uint16_t s[TLS_CH_SUITES_MAX], g[TLS_CH_GROUPS_MAX], sig[TLS_CH_SIGALGS_MAX];
	static char js[JA3_STR_MAX + 1], jr[JA4_R_MAX + 1];
	struct chb c;
	struct tls_client_hello ch;
	size_t n;

	(void)state;
	for (size_t i = 0; i < NOF(s); i++)
		s[i] = (uint16_t)(0xfff0 - i); /* 5 digits, no GREASE */
	for (size_t i = 0; i < NOF(g); i++)
		g[i] = (uint16_t)(0xff00 - i);
	for (size_t i = 0; i < NOF(sig); i++)
		sig[i] = (uint16_t)(0xfe00 - i);
	ch_begin(&c, 0xffff, false, s, NOF(s));
	ext16(&c, 10, 2, g, NOF(g));
	ext16(&c, 13, 2, sig, NOF(sig));
	put16(&c, 11), put16(&c, 1 + TLS_CH_FORMATS_MAX), put8(&c, TLS_CH_FORMATS_MAX);
	for (size_t i = 0; i < TLS_CH_FORMATS_MAX; i++)
		put8(&c, 200 + i);
	for (size_t i = 3; i < TLS_CH_EXTS_MAX; i++)
		ext(&c, (uint16_t)(0xfd00 - i), NULL, 0);
	n = ch_end(&c);
	assert_int_equal(tls_parse_client_hello(c.b, n, &ch), 0);
	assert_int_equal(ch.n_exts, TLS_CH_EXTS_MAX);
	assert_int_equal(ch.exts_total, TLS_CH_EXTS_MAX);
	assert_true(ja3_string(&ch, js, sizeof(js)) > 0);
	assert_true(strlen(js) <= JA3_STR_MAX);
	assert_true(ja4_r(&ch, jr, sizeof(jr)) > 0);
	assert_true(strlen(jr) <= JA4_R_MAX);
}

/* A result that does not fit is refused whole: "" and JA_ERR_SPACE. */
static void test_buffer_sizes(void **state)
{
	struct chb c;
	struct tls_client_hello ch;
	char b[JA4_R_MAX + 1];
	size_t n = example(&c, false, NULL, 0);

	(void)state;
	assert_int_equal(tls_parse_client_hello(c.b, n, &ch), 0);
	memset(b, 'x', sizeof(b));
	assert_int_equal(ja4(&ch, b, JA4_LEN), JA_ERR_SPACE);
	assert_string_equal(b, "");
	assert_int_equal(ja4(&ch, b, JA4_LEN + 1), JA4_LEN);
	assert_int_equal(ja3_hash(&ch, b, JA3_HASH_LEN), JA_ERR_SPACE);
	assert_string_equal(b, "");
	assert_int_equal(ja3_string(&ch, b, strlen(ex_ja3)), JA_ERR_SPACE);
	assert_string_equal(b, "");
	assert_int_equal(ja3_string(&ch, b, strlen(ex_ja3) + 1), (int)strlen(ex_ja3));
	assert_int_equal(ja4_r(&ch, b, strlen(ex_ja4_r)), JA_ERR_SPACE);
	assert_int_equal(ja4_r(&ch, b, strlen(ex_ja4_r) + 1), (int)strlen(ex_ja4_r));
	assert_int_equal(ja4(&ch, NULL, 0), JA_ERR_SPACE); /* cap 0: nothing written */
	assert_int_equal(ja3_string(&ch, NULL, 0), JA_ERR_SPACE);
	assert_string_equal(ja_strerror(JA_ERR_SPACE), "buffer too small");
	assert_string_equal(ja_strerror(JA_ERR_SSL2), "SSLv2-format hello");
}

/* Duplicates: a decoded extension twice makes the hello malformed (which
 * would the server read?); others are kept and fingerprinted twice. */
static void test_duplicates(void **state)
{
	static const uint16_t s[] = { 0xc02f }, g[] = { 29 }, sig[] = { 0x0403 }, sv[] = { 0x0304 };
	static const uint8_t pad[4] = { 0 }, ks[] = { 0, 5, 0, 29, 0, 1, 9 };
	static const uint16_t decoded[] = { 10, 11, 13, 41, 42, 51, 43, 0, 16, 35 };
	struct chb c;
	struct tls_client_hello ch;
	char js[JA3_STR_MAX + 1];
	size_t n;

	(void)state;
	ch_begin(&c, 0x0303, false, s, 1);
	ext(&c, 21, pad, sizeof(pad));
	ext(&c, 0x4242, NULL, 0);
	ext(&c, 21, pad, 2);
	ext(&c, 0x4242, NULL, 0);
	n = ch_end(&c);
	assert_int_equal(tls_parse_client_hello(c.b, n, &ch), 0);
	assert_int_equal(ch.n_exts, 4);
	assert_true(ja3_string(&ch, js, sizeof(js)) > 0);
	assert_string_equal(js, "771,49199,21-16962-21-16962,,");

	for (size_t i = 0; i < NOF(decoded); i++) {
		ch_begin(&c, 0x0303, false, s, 1);
		for (int twice = 0; twice < 2; twice++) {
			switch (decoded[i]) {
			case 10:
				ext16(&c, 10, 2, g, 1);
				break;
			case 11:
				ext(&c, 11, "\1\0", 2);
				break;
			case 13:
				ext16(&c, 13, 2, sig, 1);
				break;
			case 43:
				ext16(&c, 43, 1, sv, 1);
				break;
			case 51:
				ext(&c, 51, ks, sizeof(ks));
				break;
			case 0:
				ext_sni(&c, "a.test");
				break;
			case 16:
				ext_alpn(&c, (const uint8_t *)"\2h2", 3);
				break;
			default:
				ext(&c, decoded[i], NULL, 0);
				break;
			}
			n = ch_end(&c);
			assert_int_equal(tls_parse_client_hello(c.b, n, &ch), twice ? -1 : 0);
		}
	}
}

/* Decoded lists that cannot be read make the hello malformed; every
 * truncation of a full hello is refused without a read past its end. */
static void test_malformed_lists(void **state)
{
	static const uint16_t s[] = { 0xc02f };
	static const struct {
		uint16_t type;
		uint8_t body[8];
		size_t len;
		int rc;
	} t[] = {
		{ 10, { 0, 3, 0, 29, 0 }, 5, -1 }, /* odd list */
		{ 10, { 0, 4, 0, 29 }, 4, -1 },	   /* list past the extension */
		{ 10, { 0, 2, 0, 29, 0 }, 5, -1 }, /* bytes after the list */
		{ 10, { 0, 0 }, 2, 0 },		   /* empty: the server's to refuse */
		{ 13, { 0, 1, 4 }, 3, -1 },
		{ 11, { 2, 0 }, 2, -1 },
		{ 11, { 0 }, 1, 0 },
		{ 51, { 0, 4, 0, 29, 0, 1 }, 6, -1 }, /* key past the list */
		{ 51, { 0, 3, 0, 29, 0 }, 5, -1 },
		{ 51, { 0, 0 }, 2, 0 }, /* HRR-bound: no shares */
		{ 43, { 2, 3 }, 2, -1 },
		{ 41, { 1, 2, 3 }, 3, 0 }, /* content not decoded */
	};
	struct chb c;
	struct tls_client_hello ch;
	size_t n;

	(void)state;
	for (size_t i = 0; i < NOF(t); i++) {
		ch_begin(&c, 0x0303, false, s, 1);
		ext(&c, t[i].type, t[i].body, t[i].len);
		n = ch_end(&c);
		assert_int_equal(tls_parse_client_hello(c.b, n, &ch), t[i].rc);
	}
	n = example(&c, true, NULL, 0);
	for (size_t k = 0; k < n; k++) {
		uint8_t *copy = malloc(k ? k : 1);

		assert_non_null(copy);
		memcpy(copy, c.b, k);
		/* cut right before the extensions: a hello without any */
		assert_int_equal(tls_parse_client_hello(copy, k, &ch), k == c.ext_len_at ? 0 : -1);
		free(copy);
	}
}

/* An SSLv2-format hello: version, challenge as the random, TLS suites;
 * no fingerprints (ja.h says why). */
static void test_ssl2(void **state)
{
	static const uint8_t
		b[] = {
			0x03, 0x01, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x10, /* TLS 1.0, 4 specs */
			0x01, 0x00, 0x80, 0x00, 0x00, 0x2f, 0x07, 0x00, 0xc0, 0x00,
			0x00, 0xff, 1,	  2,	3,    4,    5,	  6,	7,    8,
			9,    10,   11,	  12,	13,   14,   15,	  16, /* challenge */
		};
	struct tls_client_hello ch;
	struct hello_summary s;
	char o[JA4_R_MAX + 1];

	(void)state;
	assert_int_equal(tls_parse_ssl2_client_hello(b, sizeof(b), &ch), 0);
	assert_true(ch.ssl2);
	assert_int_equal(ch.version, 0x0301);
	assert_int_equal(ch.n_suites, 2);
	assert_int_equal(ch.suites[0], 0x002f);
	assert_int_equal(ch.suites[1], 0x00ff);
	for (int i = 0; i < 16; i++) {
		assert_int_equal(ch.random[i], 0);
		assert_int_equal(ch.random[16 + i], i + 1);
	}
	assert_int_equal(ja3_string(&ch, o, sizeof(o)), JA_ERR_SSL2);
	assert_int_equal(ja3_hash(&ch, o, sizeof(o)), JA_ERR_SSL2);
	assert_int_equal(ja4(&ch, o, sizeof(o)), JA_ERR_SSL2);
	assert_int_equal(ja4_r(&ch, o, sizeof(o)), JA_ERR_SSL2);
	hello_summarize(&ch, NULL, &s);
	assert_true(s.flags & HELLO_F_SSL2);
	assert_string_equal(s.fp.ja3, "");
	assert_string_equal(s.fp.ja4, "");
	assert_int_equal(s.n_versions, 1);
	assert_int_equal(s.versions[0], 0x0301);
	assert_int_equal(s.suites_total, 2);
}

/* ---- names ---------------------------------------------------------------- */

static void test_names(void **state)
{
	static const struct {
		enum hello_kind k;
		uint16_t v;
		const char *name;
	} t[] = {
		{ HELLO_GROUP, 0x11ec, "X25519MLKEM768" },
		{ HELLO_GROUP, 0x11eb, "SecP256r1MLKEM768" },
		{ HELLO_GROUP, 0x11ed, "SecP384r1MLKEM1024" },
		{ HELLO_GROUP, 0x6399, "X25519Kyber768Draft00" },
		{ HELLO_GROUP, 0x0201, "MLKEM768" },
		{ HELLO_GROUP, 29, "x25519" },
		{ HELLO_GROUP, 23, "secp256r1" },
		{ HELLO_GROUP, 0x0100, "ffdhe2048" },
		{ HELLO_SIGALG, 0x0403, "ecdsa_secp256r1_sha256" },
		{ HELLO_SIGALG, 0x0804, "rsa_pss_rsae_sha256" },
		{ HELLO_SIGALG, 0x0807, "ed25519" },
		{ HELLO_SIGALG, 0x0201, "rsa_pkcs1_sha1" },
		{ HELLO_SIGALG, 0x0905, "mldsa65" },
		{ HELLO_VERSION, 0x0304, "TLSv1.3" },
		{ HELLO_VERSION, 0x0301, "TLSv1.0" },
		{ HELLO_VERSION, 0x0300, "SSLv3" },
		{ HELLO_VERSION, 0xfefc, "DTLSv1.3" },
		{ HELLO_VERSION, 0x7f1c, "TLSv1.3-draft" },
		{ HELLO_VERSION, 0x7e02, "TLSv1.3-draft" },
		/* each table's ends (they are searched in halves) */
		{ HELLO_VERSION, 0x0002, "SSLv2" },
		{ HELLO_VERSION, 0xfeff, "DTLSv1.0" },
		{ HELLO_VERSION, 0xfefd, "DTLSv1.2" },
		{ HELLO_GROUP, 1, "sect163k1" },
		{ HELLO_GROUP, 0xff02, "arbitrary_explicit_char2_curves" },
		{ HELLO_SIGALG, 0x0101, "rsa_pkcs1_md5" },
		{ HELLO_SIGALG, 0x0906, "mldsa87" },
	};
	char buf[16];

	(void)state;
	for (size_t i = 0; i < NOF(t); i++)
		assert_string_equal(hello_name(t[i].k, t[i].v), t[i].name);
	for (unsigned g = 0; g < 16; g++) {
		uint16_t v = (uint16_t)(0x0a0a + 0x1010 * g);

		assert_true(hello_is_grease(v));
		assert_null(hello_name(HELLO_GROUP, v));
		assert_string_equal(hello_label(HELLO_SIGALG, v, buf, sizeof(buf)), "GREASE");
	}
	assert_null(hello_name(HELLO_VERSION, 0x0305));
	assert_null(hello_name(HELLO_VERSION, 0xfefe));
	assert_null(hello_name(HELLO_GROUP, 0));
	assert_null(hello_name(HELLO_GROUP, 0xffff));
	assert_null(hello_name(HELLO_SIGALG, 0x0100));
	assert_false(hello_is_grease(0x0a1a));
	assert_false(hello_is_grease(0x1a0a));
	assert_null(hello_name(HELLO_GROUP, 0x1234));
	assert_null(hello_name(HELLO_VERSION, 0x0305));
	assert_null(hello_name((enum hello_kind)7, 29));
	assert_string_equal(hello_label(HELLO_GROUP, 0x1234, buf, sizeof(buf)), "0x1234");
	assert_string_equal(hello_label(HELLO_GROUP, 29, buf, sizeof(buf)), "x25519");
}

/* What an event says of a Chromium-like hello: its groups by name. */
static void test_summary_names(void **state)
{
	static const uint16_t s[] = { 0x9a9a, 0x1301 };
	static const uint16_t g[] = { 0x9a9a, 0x11ec, 29, 23, 24 };
	static const uint16_t sv[] = { 0x9a9a, 0x0304, 0x0303 };
	static const char *const want[] = { "X25519MLKEM768", "x25519", "secp256r1", "secp384r1" };
	struct chb c;
	struct tls_client_hello ch;
	struct hello_summary sum;
	char buf[8];
	size_t n;

	(void)state;
	ch_begin(&c, 0x0303, false, s, 2);
	ext16(&c, 10, 2, g, NOF(g));
	ext16(&c, 43, 1, sv, NOF(sv));
	ext(&c, 42, NULL, 0);
	ext(&c, 41, "\0\0\0\0\0\0", 6);
	n = ch_end(&c);
	assert_int_equal(tls_parse_client_hello(c.b, n, &ch), 0);
	assert_true(ch.has_psk && ch.has_early_data);
	hello_summarize(&ch, NULL, &sum);
	assert_int_equal(sum.n_groups, 4);
	for (size_t i = 0; i < NOF(want); i++)
		assert_string_equal(hello_label(HELLO_GROUP, sum.groups[i], buf, sizeof(buf)),
				    want[i]);
	assert_int_equal(sum.n_versions, 2);
	assert_string_equal(hello_name(HELLO_VERSION, sum.versions[0]), "TLSv1.3");
	assert_int_equal(sum.suites_total, 1);
	assert_int_equal(sum.flags, HELLO_F_GREASE | HELLO_F_PSK | HELLO_F_EARLY_DATA);
	assert_int_equal(strlen(sum.fp.ja4), JA4_LEN);
	/* What a connection keeps stays small (100k connections in 32 MiB). */
	assert_true(sizeof(struct hello_summary) <= 144);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_example),
		cmocka_unit_test(test_grease_everywhere),
		cmocka_unit_test(test_spec_no_sigalgs),
		cmocka_unit_test(test_no_extensions),
		cmocka_unit_test(test_ja4_versions),
		cmocka_unit_test(test_ja4_alpn),
		cmocka_unit_test(test_ja4_counts),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_longest_fits),
		cmocka_unit_test(test_buffer_sizes),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_malformed_lists),
		cmocka_unit_test(test_ssl2),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_summary_names),
		cmocka_unit_test(test_memo),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
