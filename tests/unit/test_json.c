/* test_json.c - json.c: escaping, UTF-8 repair, bounds, and truncation that still parses. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <json-c/json.h>
#include "json.h"

/* json-c in strict mode with UTF-8 validation; NULL unless s is exactly one
 * JSON text. */
static json_object *parse_strict(const char *s, size_t n)
{
	struct json_tokener *tok = json_tokener_new();
	json_object *o;

	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, s, (int)n);
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != n) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* {"s":<s as n bytes>} rendered into a roomy buffer. */
static const char *one_str(const char *s, size_t n)
{
	static char buf[8192];
	struct jw w;

	jw_init(&w, buf, sizeof(buf));
	jw_obj_begin(&w, NULL);
	jw_strn(&w, "s", s, n);
	jw_obj_end(&w);
	jw_finish(&w);
	assert_false(w.truncated);
	return buf;
}

static void expect_str(const char *in, size_t n, const char *want)
{
	const char *got = one_str(in, n);
	char full[8192];
	json_object *o;

	snprintf(full, sizeof(full), "{\"s\":\"%s\"}", want);
	assert_string_equal(got, full);
	o = parse_strict(got, strlen(got));
	assert_non_null(o);
	json_object_put(o);
}

#define EXPECT(lit, want) expect_str(lit, sizeof(lit) - 1, want)
#define FFFD		  "\xEF\xBF\xBD"

static void test_escapes(void **state)
{
	(void)state;
	EXPECT("plain", "plain");
	EXPECT("q\"b\\s/", "q\\\"b\\\\s/");
	EXPECT("\n\t\r\b\f", "\\n\\t\\r\\b\\f");
	EXPECT("\x01\x1f\x7f\x1b[31m", "\\u0001\\u001f\\u007f\\u001b[31m");
	EXPECT("a\0b", "a\\u0000b");
	EXPECT("\xc2\x85\xc2\x9b", "\\u0085\\u009b");	      /* C1 controls */
	EXPECT("\xe2\x80\xa8\xe2\x80\xa9", "\\u2028\\u2029"); /* line separators */
	EXPECT("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
	       "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	EXPECT("", "");
}

/* Every byte 0x80..0xFF alone is not UTF-8: each becomes one U+FFFD. */
static void test_lone_high_bytes(void **state)
{
	(void)state;
	for (int b = 0x80; b <= 0xFF; b++) {
		char in[4] = { 'a', (char)b, 'z', 0 };

		expect_str(in, 3, "a" FFFD "z");
		expect_str(in + 1, 1, FFFD); /* at the very end */
	}
}

static void test_bad_sequences(void **state)
{
	(void)state;
	EXPECT("\xc0\x80", FFFD FFFD);		/* overlong NUL */
	EXPECT("\xc1\xbf", FFFD FFFD);		/* overlong DEL */
	EXPECT("\xe0\x80\x80", FFFD FFFD FFFD); /* overlong 3-byte */
	EXPECT("\xe0\x9f\xbf", FFFD FFFD FFFD);
	EXPECT("\xf0\x80\x80\x80", FFFD FFFD FFFD FFFD); /* overlong 4-byte */
	EXPECT("\xf0\x8f\xbf\xbf", FFFD FFFD FFFD FFFD);
	EXPECT("\xed\xa0\x80", FFFD FFFD FFFD);				   /* U+D800 */
	EXPECT("\xed\xbf\xbf", FFFD FFFD FFFD);				   /* U+DFFF */
	EXPECT("\xed\xa0\xbd\xed\xb8\x80", FFFD FFFD FFFD FFFD FFFD FFFD); /* CESU pair */
	EXPECT("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD);		   /* U+110000 */
	EXPECT("\xf5\x80\x80\x80", FFFD FFFD FFFD FFFD);
	EXPECT("\xe2\x82", FFFD FFFD); /* cut at the end */
	EXPECT("\xe2\x82"
	       "A",
	       FFFD FFFD "A"); /* cut by ASCII */
	EXPECT("\xf0\x9f\x98", FFFD FFFD FFFD);
	EXPECT("\xc3\"", FFFD "\\\""); /* a quote is never eaten */
	/* the edges that are valid */
	EXPECT("\xc2\x80", "\\u0080");
	EXPECT("\xdf\xbf", "\xdf\xbf");
	EXPECT("\xe0\xa0\x80", "\xe0\xa0\x80");
	EXPECT("\xed\x9f\xbf", "\xed\x9f\xbf");
	EXPECT("\xee\x80\x80", "\xee\x80\x80");
	EXPECT("\xef\xbf\xbf", "\xef\xbf\xbf");
	EXPECT("\xf0\x90\x80\x80", "\xf0\x90\x80\x80");
	EXPECT("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf");
}

/* Random code points, UTF-8 encoded, written and read back by json-c. */
static size_t put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 63));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 63));
		o[2] = (char)(0x80 | (cp & 63));
		return 3;
	}
	o[0] = (char)(0xF0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 63));
	o[2] = (char)(0x80 | (cp >> 6 & 63));
	o[3] = (char)(0x80 | (cp & 63));
	return 4;
}

static void test_roundtrip_random(void **state)
{
	char in[512];
	uint32_t seed = 12345;

	(void)state;
	for (int iter = 0; iter < 2000; iter++) {
		size_t n = 0;
		json_object *o, *v;
		const char *out;

		while (n < sizeof(in) - 8) {
			uint32_t cp;

			seed = seed * 1103515245u + 12345u;
			switch (seed >> 29) {
			case 0:
			case 1:
				cp = (seed >> 8) & 0x7F;
				break;
			case 2:
				cp = (seed >> 8) & 0x7FF;
				break;
			case 3:
				cp = (seed >> 8) & 0xFFFF;
				break;
			default:
				cp = (seed >> 8) % 0x110000;
				break;
			}
			if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF))
				cp = '?'; /* json-c strings stop at NUL; no surrogates */
			n += put_utf8(in + n, cp);
			if ((seed & 0xF) == 0)
				break;
		}
		out = one_str(in, n);
		o = parse_strict(out, strlen(out));
		assert_non_null(o);
		assert_true(json_object_object_get_ex(o, "s", &v));
		assert_int_equal(json_object_get_string_len(v), n);
		assert_memory_equal(json_object_get_string(v), in, n);
		json_object_put(o);
	}
}

/* Random bytes: never invalid JSON, never invalid UTF-8. */
static void test_random_bytes(void **state)
{
	char in[256];
	uint32_t seed = 777;

	(void)state;
	for (int iter = 0; iter < 5000; iter++) {
		size_t n = iter % sizeof(in);
		const char *out;
		json_object *o;

		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			in[i] = (char)(seed >> 16);
		}
		out = one_str(in, n);
		o = parse_strict(out, strlen(out));
		assert_non_null(o);
		json_object_put(o);
	}
}

static void test_values(void **state)
{
	json_object *o;
	char buf[1024];
	struct jw w;

	(void)state;
	jw_init(&w, buf, sizeof(buf));
	jw_obj_begin(&w, NULL);
	jw_int(&w, "min", INT64_MIN);
	jw_int(&w, "neg", -1);
	jw_uint(&w, "max", UINT64_MAX);
	jw_bool(&w, "t", true);
	jw_bool(&w, "f", false);
	jw_str(&w, "null", NULL);
	jw_arr_begin(&w, "a");
	jw_int(&w, "ignored-key", 1);
	jw_obj_begin(&w, NULL);
	jw_obj_end(&w);
	jw_arr_begin(&w, NULL);
	jw_arr_end(&w);
	jw_str(&w, NULL, "x");
	jw_arr_end(&w);
	jw_obj_begin(&w, "o");
	jw_obj_end(&w);
	jw_time_ns(&w, "ns", 1795715501123456789ULL);
	jw_time_s(&w, "s", 1795715501);
	jw_time_s(&w, "epoch", 0);
	jw_time_s(&w, "old", -631152000);
	jw_time_s(&w, "end", 253402300799LL);
	jw_time_s(&w, "far", 253402300800LL);
	jw_time_s(&w, "huge", INT64_MIN);
	jw_obj_end(&w);
	jw_str(&w, "after", "ignored: one top-level value");
	assert_int_equal(jw_finish(&w), strlen(buf));
	assert_false(w.truncated);
	assert_string_equal(
		buf, "{\"min\":-9223372036854775808,\"neg\":-1,\"max\":18446744073709551615,"
		     "\"t\":true,\"f\":false,\"null\":null,\"a\":[1,{},[],\"x\"],\"o\":{},"
		     "\"ns\":\"2026-11-26T17:51:41.123Z\",\"s\":\"2026-11-26T17:51:41.000Z\","
		     "\"epoch\":\"1970-01-01T00:00:00.000Z\",\"old\":\"1950-01-01T00:00:00.000Z\","
		     "\"end\":\"9999-12-31T23:59:59.000Z\",\"far\":null,\"huge\":null}");
	o = parse_strict(buf, strlen(buf));
	assert_non_null(o);
	json_object_put(o);
}

/* A document with everything: nesting, long and hostile strings, arrays. */
static void build(struct jw *w)
{
	jw_obj_begin(w, NULL);
	jw_time_ns(w, "@timestamp", 1795715501123000000ULL);
	jw_obj_begin(w, "event");
	jw_str(w, "kind", "event");
	jw_arr_begin(w, "category");
	jw_str(w, NULL, "network");
	jw_arr_end(w);
	jw_obj_end(w);
	jw_obj_begin(w, "tls");
	jw_obj_begin(w, "server");
	jw_obj_begin(w, "x509");
	jw_str(w, "subject", "CN=\\1B[31m\"quoted\" \xff\xfe \xe2\x82\xac\n\t");
	jw_arr_begin(w, "alternative_names");
	for (int i = 0; i < 12; i++) {
		char h[32];

		snprintf(h, sizeof(h), "h%d.example.com", i);
		jw_str(w, NULL, h);
	}
	jw_arr_end(w);
	jw_int(w, "public_key_size", 2048);
	jw_obj_end(w);
	jw_obj_end(w);
	jw_obj_end(w);
	jw_arr_begin(w, "chain");
	for (int i = 0; i < 3; i++) {
		jw_obj_begin(w, NULL);
		jw_uint(w, "der_length", 1000u + (unsigned)i);
		jw_arr_begin(w, "empty");
		jw_arr_end(w);
		jw_bool(w, "self_signed", i == 2);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_obj_end(w);
}

/* Every cap from 1 up: no byte written past cap, and from JW_CAP_MIN on the
 * text parses, is marked when cut, and is the full text when not. */
static void test_truncation_every_cap(void **state)
{
	char full[8192], *buf;
	json_object *o;
	struct jw w;
	size_t flen, cap, n;
	size_t first_whole = 0;

	(void)state;
	jw_init(&w, full, sizeof(full));
	build(&w);
	flen = jw_finish(&w);
	assert_false(w.truncated);
	o = parse_strict(full, flen);
	assert_non_null(o);
	json_object_put(o);

	buf = malloc(flen + 256);
	for (cap = 1; cap <= flen + 64; cap++) {
		json_object *mark;

		memset(buf, 0xA5, flen + 256);
		jw_init(&w, buf, cap);
		build(&w);
		n = jw_finish(&w);
		for (size_t i = cap; i < flen + 256; i++)
			assert_int_equal((unsigned char)buf[i], 0xA5);
		assert_true(n < cap);
		assert_int_equal(strlen(buf), n);
		if (cap < JW_CAP_MIN) {
			assert_int_equal(n, 0);
			continue;
		}
		o = parse_strict(buf, n);
		if (!o)
			fail_msg("cap %zu: does not parse: %s", cap, buf);
		if (w.truncated) {
			assert_true(json_object_object_get_ex(o, "certsentry.truncated", &mark));
			assert_true(json_object_get_boolean(mark));
			assert_int_equal(first_whole, 0); /* truncation is monotonic in cap */
		} else {
			assert_string_equal(buf, full);
			if (!first_whole)
				first_whole = cap;
		}
		json_object_put(o);
	}
	/* whole once the mark's reserve fits behind the text */
	assert_int_equal(first_whole, flen + 1 + 28);
	free(buf);
}

/* Members written once, then copied into another writer as an object (the
 * output's certificate cache): at every cap the text parses, and it is the
 * same text as writing the members token by token, or cut before the key. */
enum members_how { TOKENS, WITH, TRY_WITH };

static void with_members(struct jw *w, enum members_how how, const char *m, size_t mlen)
{
	jw_obj_begin(w, NULL);
	jw_str(w, "before", "x");
	jw_arr_begin(w, "chain");
	if (how == WITH) {
		jw_obj_begin_with(w, NULL, m, mlen);
	} else if (how == TOKENS || !jw_obj_try_with(w, NULL, m, mlen)) {
		jw_obj_begin(w, NULL);
		jw_str(w, "sha256", "AB");
		jw_uint(w, "der_length", 738);
		jw_arr_begin(w, "alternative_names");
		jw_str(w, NULL, "a.example");
		jw_str(w, NULL, "b.example");
		jw_arr_end(w);
	}
	jw_str(w, "validity", "valid");
	jw_obj_end(w);
	jw_arr_end(w);
	jw_str(w, "after", "y");
	jw_obj_end(w);
}

static void test_obj_begin_with(void **state)
{
	char m[256], full[512], want[512], buf[512];
	size_t mlen, flen, wlen, n;
	json_object *o;
	struct jw w;

	(void)state;
	jw_init(&w, m, sizeof(m)); /* the members, as the cache makes them */
	jw_obj_begin(&w, NULL);
	jw_str(&w, "sha256", "AB");
	jw_uint(&w, "der_length", 738);
	jw_arr_begin(&w, "alternative_names");
	jw_str(&w, NULL, "a.example");
	jw_str(&w, NULL, "b.example");
	jw_arr_end(&w);
	mlen = jw_finish(&w) - 2;
	memmove(m, m + 1, mlen);
	jw_init(&w, want, sizeof(want));
	with_members(&w, TOKENS, NULL, 0);
	wlen = jw_finish(&w);
	jw_init(&w, full, sizeof(full));
	with_members(&w, WITH, m, mlen);
	flen = jw_finish(&w);
	assert_false(w.truncated);
	assert_int_equal(flen, wlen);
	assert_string_equal(full, want);
	for (size_t cap = JW_CAP_MIN; cap <= flen + 40; cap++) {
		jw_init(&w, buf, cap);
		with_members(&w, WITH, m, mlen);
		n = jw_finish(&w);
		o = parse_strict(buf, n);
		if (!o)
			fail_msg("cap %zu: does not parse: %s", cap, buf);
		json_object_put(o);
		if (w.truncated) /* all members or none: never half of them */
			assert_true(strstr(buf, "\"sha256\"") == NULL ||
				    strstr(buf, "b.example") != NULL);
		else
			assert_string_equal(buf, full);
	}
	/* jw_obj_try_with, token by token where the members do not fit: at
	 * every cap byte for byte the text written token by token. */
	for (size_t cap = JW_CAP_MIN; cap <= flen + 40; cap++) {
		jw_init(&w, want, cap);
		with_members(&w, TOKENS, NULL, 0);
		wlen = jw_finish(&w);
		jw_init(&w, buf, cap);
		with_members(&w, TRY_WITH, m, mlen);
		n = jw_finish(&w);
		assert_int_equal(n, wlen);
		assert_string_equal(buf, want);
	}
	/* No members: an empty object that takes members after it. */
	jw_init(&w, buf, sizeof(buf));
	jw_obj_begin_with(&w, NULL, "", 0);
	jw_str(&w, "k", "v");
	jw_obj_end(&w);
	jw_finish(&w);
	assert_string_equal(buf, "{\"k\":\"v\"}");
}

/* An object that got no member is taken back whole, key and comma too,
 * wherever it sits among its siblings; one that got a member is kept. */
static void test_obj_end_or_drop(void **state)
{
	char buf[256];
	struct jw w;
	json_object *o;
	size_t n;

	(void)state;
	jw_init(&w, buf, sizeof(buf));
	jw_obj_begin(&w, NULL);
	jw_obj_begin(&w, "first"); /* first member of its parent */
	jw_obj_end_or_drop(&w);
	jw_str(&w, "a", "1");
	jw_obj_begin(&w, "mid");   /* after a comma */
	jw_obj_begin(&w, "inner"); /* nested, empty too */
	jw_obj_end_or_drop(&w);
	jw_obj_end_or_drop(&w);
	jw_obj_begin(&w, "kept");
	jw_obj_begin(&w, "gone");
	jw_obj_end_or_drop(&w);
	jw_uint(&w, "n", 2);
	jw_obj_end_or_drop(&w);
	jw_arr_begin(&w, "arr"); /* in an array: no key to take back */
	jw_obj_begin(&w, NULL);
	jw_obj_end_or_drop(&w);
	jw_obj_begin(&w, NULL);
	jw_bool(&w, "x", true);
	jw_obj_end_or_drop(&w);
	jw_arr_end(&w);
	jw_obj_begin(&w, "last");
	jw_obj_end_or_drop(&w);
	jw_obj_end_or_drop(&w); /* the top level stays, even if empty */
	n = jw_finish(&w);
	assert_false(w.truncated);
	assert_string_equal(buf, "{\"a\":\"1\",\"kept\":{\"n\":2},\"arr\":[{\"x\":true}]}");
	assert_int_equal(n, strlen(buf));
	o = parse_strict(buf, n);
	assert_non_null(o);
	json_object_put(o);

	jw_init(&w, buf, sizeof(buf));
	jw_obj_begin(&w, NULL);
	jw_obj_begin(&w, "only");
	jw_obj_end_or_drop(&w);
	jw_obj_end_or_drop(&w);
	jw_finish(&w);
	assert_string_equal(buf, "{}");

	/* Under every bound, the text still parses and holds no "k":{} */
	for (size_t cap = JW_CAP_MIN; cap < 120; cap++) {
		jw_init(&w, buf, cap);
		jw_obj_begin(&w, NULL);
		jw_str(&w, "a", "some text to fill the buffer");
		jw_obj_begin(&w, "e");
		jw_obj_end_or_drop(&w);
		jw_obj_begin(&w, "f");
		jw_str(&w, "b", "more");
		jw_obj_end_or_drop(&w);
		jw_obj_begin(&w, "g");
		jw_obj_end_or_drop(&w);
		n = jw_finish(&w);
		o = parse_strict(buf, n);
		if (!o)
			fail_msg("cap %zu: does not parse: %s", cap, buf);
		json_object_put(o);
		assert_null(strstr(buf, "\"e\""));
		assert_null(strstr(buf, "\"g\""));
	}
}

static void test_truncation_arrays_and_depth(void **state)
{
	char buf[4096];
	struct jw w;
	json_object *o;
	size_t n;

	(void)state;
	/* top-level array: closed, no place for the mark */
	for (size_t cap = JW_CAP_MIN; cap < 200; cap++) {
		jw_init(&w, buf, cap);
		jw_arr_begin(&w, NULL);
		for (int i = 0; i < 50; i++)
			jw_str(&w, NULL, "item");
		n = jw_finish(&w);
		o = parse_strict(buf, n);
		assert_non_null(o);
		assert_true(json_object_is_type(o, json_type_array));
		json_object_put(o);
	}
	/* deeper than JW_DEPTH_MAX: cut, still valid and marked */
	jw_init(&w, buf, sizeof(buf));
	jw_obj_begin(&w, NULL);
	for (int i = 0; i < JW_DEPTH_MAX + 4; i++)
		jw_obj_begin(&w, "d");
	jw_str(&w, "deep", "x");
	for (int i = 0; i < JW_DEPTH_MAX + 4; i++)
		jw_obj_end(&w);
	n = jw_finish(&w);
	assert_true(w.truncated);
	o = parse_strict(buf, n);
	assert_non_null(o);
	assert_non_null(strstr(buf, "\"certsentry.truncated\":true}"));
	json_object_put(o);
	/* after a cut nothing more is added, even a value that would fit */
	jw_init(&w, buf, 64);
	jw_obj_begin(&w, NULL);
	jw_str(&w, "long", "0123456789012345678901234567890123456789");
	jw_int(&w, "n", 1);
	n = jw_finish(&w);
	assert_string_equal(buf, "{\"certsentry.truncated\":true}");
	/* an empty writer and a NULL buffer */
	jw_init(&w, NULL, 0);
	jw_obj_begin(&w, NULL);
	assert_int_equal(jw_finish(&w), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_lone_high_bytes),
		cmocka_unit_test(test_bad_sequences),
		cmocka_unit_test(test_roundtrip_random),
		cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_truncation_every_cap),
		cmocka_unit_test(test_truncation_arrays_and_depth),
		cmocka_unit_test(test_obj_begin_with),
		cmocka_unit_test(test_obj_end_or_drop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
