/* test_fmt.c - fmt.c: RFC 3339 times, RFC 2253 names, hex, serials, endpoints, safe text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <linux/types.h>
#include "certsentry.h"
#include "fmt.h"
#include "report.h"

/* Cut to fit, always terminated, NULL as "". */
static void test_copy(void **state)
{
	char b[6];

	(void)state;
	memset(b, 'x', sizeof(b));
	fmt_copy(b, sizeof(b), "abc");
	assert_string_equal(b, "abc");
	fmt_copy(b, sizeof(b), "abcdefgh");
	assert_string_equal(b, "abcde");
	fmt_copy(b, sizeof(b), NULL);
	assert_string_equal(b, "");
	fmt_copy(b, 1, "abc");
	assert_string_equal(b, "");
}

static void test_utf8_seq(void **state)
{
	uint32_t cp = 0;

	(void)state;
	assert_int_equal(fmt_utf8_seq((const unsigned char *)"A", 1, &cp), 1);
	assert_int_equal(cp, 'A');
	assert_int_equal(fmt_utf8_seq((const unsigned char *)"\xe2\x80\xa8", 3, &cp), 3);
	assert_int_equal(cp, 0x2028);
	assert_int_equal(fmt_utf8_seq((const unsigned char *)"\xf4\x8f\xbf\xbf", 4, &cp), 4);
	assert_int_equal(cp, 0x10FFFF);
	assert_int_equal(fmt_utf8_seq((const unsigned char *)"\xf4\x8f\xbf\xbf", 3, &cp),
			 0); /* n bounds */
	assert_int_equal(fmt_utf8_seq((const unsigned char *)"\xed\xa0\x80", 3, &cp), 0);
	assert_int_equal(fmt_utf8_seq((const unsigned char *)"\x80", 1, &cp), 0);
}

/* fmt_time's own calendar against gmtime_r over all of 0000..9999. */
static void test_fmt_time_vs_gmtime(void **state)
{
	static const int64_t edges[] = { -62167219200LL,
					 -62167219199LL,
					 -1,
					 0,
					 1,
					 86399,
					 86400,
					 951782399,
					 951782400,
					 951868800,
					 4107542399LL,
					 253402300799LL,
					 -2208988800LL,
					 -12219292800LL };
	uint64_t x = 0x9E3779B97F4A7C15ULL;
	char got[32], want[96];

	(void)state;
	for (int i = 0; i < 200000 + (int)(sizeof(edges) / sizeof(edges[0])); i++) {
		int64_t s;
		struct tm tm;
		time_t t;

		if (i < (int)(sizeof(edges) / sizeof(edges[0]))) {
			s = edges[i];
		} else {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			s = -62167219200LL + (int64_t)(x % (253402300799ULL + 62167219200ULL + 1));
		}
		t = (time_t)s;
		assert_non_null(gmtime_r(&t, &tm));
		snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.042Z",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec);
		assert_true(fmt_time(got, sizeof(got), s, 42, FMT_MS, NULL));
		if (strcmp(got, want))
			fail_msg("%lld: %s, gmtime_r says %s", (long long)s, got, want);
	}
	assert_false(fmt_time(got, sizeof(got), -62167219201LL, 0, FMT_MS, NULL));
	assert_false(fmt_time(got, sizeof(got), 253402300800LL, 0, FMT_MS, "-"));
	assert_string_equal(got, "-");
}

/* fmt_safe: controls, bad bytes and bidi overrides escaped per mode; cut
 * at whole escapes, always NUL-terminated, never past cap. */
static void test_safe(void **state)
{
	const char *in = "a b\"c\\\x1b[1m\xe2\x80\xae\xff\xc3\xa9";
	char out[128], big[64];

	(void)state;
	fmt_safe(out, sizeof(out), in, FMT_WORD, 512);
	assert_string_equal(out, "a\\x20b\\\"c\\\\\\x1B[1m\\u{202E}\\xFF\xc3\xa9");
	fmt_safe(out, sizeof(out), in, FMT_QUOTED, 512);
	assert_string_equal(out, "\"a b\\\"c\\\\\\x1B[1m\\u{202E}\\xFF\xc3\xa9\"");
	fmt_safe(out, sizeof(out), in, FMT_TAIL, 512);
	assert_string_equal(out, "a b\"c\\\\x1B[1m\\u{202E}\\xFF\xc3\xa9");
	fmt_safe(out, sizeof(out), "abcdef", FMT_WORD, 3);
	assert_string_equal(out, "abc...");
	assert_int_equal(fmt_safe(out, sizeof(out), NULL, FMT_QUOTED, 10), 2);
	for (size_t cap = 1; cap < sizeof(big); cap++) {
		size_t n;

		memset(big, 'Z', sizeof(big));
		n = fmt_safe(big, cap, in, cap % 3 == 0 ? FMT_QUOTED : FMT_WORD, 512);
		assert_true(n < cap);
		assert_int_equal(big[n], '\0');
		assert_int_equal(strlen(big), n);
		for (size_t i = cap; i < sizeof(big); i++)
			assert_int_equal(big[i], 'Z');
	}
}

/* Each unit, and none written whenever the time or the room does not do. */
static void test_time_units(void **state)
{
	char out[FMT_TIME_CAP], small[11];

	(void)state;
	assert_true(fmt_time(out, sizeof(out), 1764179501, 7, FMT_MS, NULL));
	assert_string_equal(out, "2025-11-26T17:51:41.007Z");
	assert_true(fmt_time(out, sizeof(out), 1764179501, 7, FMT_S, NULL));
	assert_string_equal(out, "2025-11-26T17:51:41Z");
	assert_true(fmt_time(out, sizeof(out), 1764179501, 7, FMT_DAY, NULL));
	assert_string_equal(out, "2025-11-26");
	assert_true(fmt_time(small, sizeof(small), -1, 0, FMT_DAY, "?"));
	assert_string_equal(small, "1969-12-31");
	assert_false(fmt_time(small, sizeof(small), 0, 0, FMT_S, "?"));
	assert_string_equal(small, "?");
	assert_false(fmt_time(out, 24, 0, 0, FMT_MS, NULL));
	assert_string_equal(out, "");
	assert_true(fmt_time(out, 21, 0, 0, FMT_S, NULL));
	assert_string_equal(out, "1970-01-01T00:00:00Z");
	assert_true(fmt_time_ns(out, sizeof(out), 1764179501123456789ULL, "-"));
	assert_string_equal(out, "2025-11-26T17:51:41.123Z");
	assert_true(fmt_time_ns(out, sizeof(out), UINT64_MAX, "-")); /* ns run out first */
	assert_string_equal(out, "2554-07-21T23:34:33.709Z");
}

/* RFC 2253 as `openssl x509 -nameopt RFC2253` prints it: last RDN first,
 * specials escaped, NUL, controls and non-ASCII bytes as \XX. */
static void test_dn(void **state)
{
	static const unsigned char v[] = { 'a', 0, 'b', 0xc3, 0xa9, 1, '"', ',', '\\' };
	static const char want[] = "O=a\\00b\\C3\\83\\C2\\A9\\01\\\"\\,\\\\,"
				   "CN=a\\00b\\C3\\A9\\01\\\"\\,\\\\";
	X509_NAME *n = X509_NAME_new();
	char buf[16], *s;

	(void)state;
	assert_non_null(n);
	assert_int_equal(
		X509_NAME_add_entry_by_txt(n, "CN", V_ASN1_UTF8STRING, v, sizeof(v), -1, 0), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "O", V_ASN1_T61STRING, v, sizeof(v), -1, 0),
			 1);
	s = fmt_dn(n);
	assert_non_null(s);
	assert_string_equal(s, want);
	free(s);
	assert_ptr_equal(fmt_dn_buf(buf, sizeof(buf), n), buf);
	assert_int_equal(strlen(buf), sizeof(buf) - 1);
	assert_memory_equal(buf, want, sizeof(buf) - 1);
	X509_NAME_free(n);
	n = X509_NAME_new();
	s = fmt_dn(n);
	assert_string_equal(s, "");
	free(s);
	X509_NAME_free(n);
}

static void test_hex(void **state)
{
	static const uint8_t b[] = { 0x00, 0x9f, 0xa0, 0xff };
	uint8_t back[4];
	char out[16];

	(void)state;
	assert_int_equal(fmt_hex(out, sizeof(out), b, sizeof(b), true), 8);
	assert_string_equal(out, "009FA0FF");
	assert_int_equal(fmt_hex(out, sizeof(out), b, sizeof(b), false), 8);
	assert_string_equal(out, "009fa0ff");
	assert_int_equal(fmt_hex(out, 6, b, sizeof(b), true), 4); /* whole bytes only */
	assert_string_equal(out, "009F");
	assert_int_equal(fmt_hex(out, 1, b, sizeof(b), true), 0);
	assert_string_equal(out, "");
	assert_true(fmt_unhex("009fA0Ff", 8, back));
	assert_memory_equal(back, b, sizeof(b));
	assert_false(fmt_unhex("009g", 4, back));
	assert_false(fmt_unhex("00 9", 4, back));
	assert_false(fmt_unhex("009", 3, back)); /* odd */
	assert_true(fmt_unhex("", 0, back));
}

/* As `openssl x509 -serial` prints them: i2a_ASN1_INTEGER's digits. */
static void test_serial(void **state)
{
	ASN1_INTEGER *a = ASN1_INTEGER_new();
	char out[FMT_SERIAL_CAP(8)], small[6];

	(void)state;
	assert_non_null(a);
	assert_int_equal(ASN1_INTEGER_set_int64(a, 0x0102030405060708LL), 1);
	fmt_serial(out, sizeof(out), a);
	assert_string_equal(out, "0102030405060708");
	fmt_serial(small, sizeof(small), a);
	assert_string_equal(small, "0102");
	assert_int_equal(ASN1_INTEGER_set_int64(a, -255), 1);
	fmt_serial(out, sizeof(out), a);
	assert_string_equal(out, "-FF");
	assert_int_equal(ASN1_INTEGER_set_int64(a, 0), 1);
	fmt_serial(out, sizeof(out), a);
	assert_string_equal(out, "00");
	fmt_serial(out, sizeof(out), NULL);
	assert_string_equal(out, "00");
	ASN1_INTEGER_free(a);
}

static void test_endpoint(void **state)
{
	struct report_endpoint v4 = { .family = CS_AF_INET, .port = 443 };
	struct report_endpoint v6 = { .family = CS_AF_INET6, .port = 8443 };
	struct report_endpoint none = { .port = 1 };
	char out[FMT_ENDPOINT_CAP], ip[INET6_ADDRSTRLEN];

	(void)state;
	inet_pton(AF_INET, "192.0.2.1", v4.addr);
	inet_pton(AF_INET6, "2001:db8::1", v6.addr);
	assert_string_equal(fmt_endpoint(&v4, out, sizeof(out)), "192.0.2.1:443");
	assert_string_equal(fmt_endpoint(&v6, out, sizeof(out)), "[2001:db8::1]:8443");
	assert_string_equal(fmt_endpoint(&none, out, sizeof(out)), "?:1");
	assert_string_equal(fmt_ip(&v6, ip, sizeof(ip)), "2001:db8::1");
	assert_null(fmt_ip(&none, ip, sizeof(ip)));
	/* IPv4 by hand: byte for byte inet_ntop's text, and its ENOSPC */
	for (unsigned i = 0; i < 4096; i++) {
		static const uint8_t b[] = { 0, 1, 9, 10, 42, 99, 100, 199, 200, 255 };
		char want[INET_ADDRSTRLEN];

		for (int k = 0; k < 4; k++)
			v4.addr[k] = b[(i * 2654435761u >> (8 * k)) % sizeof(b)];
		inet_ntop(AF_INET, v4.addr, want, sizeof(want));
		assert_string_equal(fmt_ip(&v4, ip, sizeof(ip)), want);
		assert_non_null(fmt_ip(&v4, ip, strlen(want) + 1));
		assert_null(fmt_ip(&v4, ip, strlen(want)));
	}
	/* the longest fits */
	memset(v6.addr, 0xff, sizeof(v6.addr));
	v6.port = 65535;
	assert_string_equal(fmt_endpoint(&v6, out, sizeof(out)),
			    "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
}

/* The run the text format writes into a line: whole escapes while they
 * fit, and how much of the input they took, so the caller knows it was cut. */
static void test_safe_run(void **state)
{
	const char *in = "ab\x1b\xe2\x80\xae"
			 "cd";
	size_t used, n;
	char out[32];

	(void)state;
	n = fmt_safe_run(out, sizeof(out), in, strlen(in), 512, FMT_WORD, &used);
	assert_string_equal(out, "ab\\x1B\\u{202E}cd");
	assert_int_equal(n, strlen(out));
	assert_int_equal(used, strlen(in));
	/* room for "ab" and 3 bytes: the \x1B escape (4) does not fit whole */
	n = fmt_safe_run(out, 6, in, strlen(in), 512, FMT_WORD, &used);
	assert_string_equal(out, "ab");
	assert_int_equal(used, 2);
	/* max cuts the input; a sequence that starts before it is taken whole */
	n = fmt_safe_run(out, sizeof(out), in, strlen(in), 4, FMT_TAIL, &used);
	assert_string_equal(out, "ab\\x1B\\u{202E}");
	assert_int_equal(used, 6);
	assert_int_equal(fmt_safe_run(out, 0, in, strlen(in), 512, FMT_TAIL, &used), 0);
	assert_int_equal(used, 0);
}

/* The reason of the error queued last, the queue left alone. */
static void test_ossl_reason(void **state)
{
	const unsigned char junk[] = { 0x30, 0x03, 0x02, 0x01 };
	const unsigned char *p = junk;

	(void)state;
	ERR_clear_error();
	assert_null(fmt_ossl_reason());
	assert_null(d2i_X509(NULL, &p, sizeof(junk)));
	assert_non_null(fmt_ossl_reason());
	assert_non_null(fmt_ossl_reason());
	assert_int_not_equal(ERR_peek_last_error(), 0);
	ERR_clear_error();
}

/* printf into the caller's buffer, cut to it; a NULL buffer is left alone. */
static void test_err(void **state)
{
	char err[8];

	(void)state;
	fmt_err(err, sizeof(err), "%s %d", "port", 65536);
	assert_string_equal(err, "port 65");
	memset(err, 'x', sizeof(err));
	fmt_err(err, 0, "%s", "untouched");
	assert_int_equal(err[0], 'x');
	fmt_err(NULL, 64, "%s", "nowhere");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fmt_time_vs_gmtime),
		cmocka_unit_test(test_time_units),
		cmocka_unit_test(test_dn),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_serial),
		cmocka_unit_test(test_endpoint),
		cmocka_unit_test(test_utf8_seq),
		cmocka_unit_test(test_safe),
		cmocka_unit_test(test_safe_run),
		cmocka_unit_test(test_ossl_reason),
		cmocka_unit_test(test_err),
		cmocka_unit_test(test_copy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
