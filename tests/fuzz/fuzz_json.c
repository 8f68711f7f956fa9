/* fuzz_json.c - json.c: a sequence of writer calls decoded from the input,
 * into a buffer as small as JW_CAP_MIN; whatever happens, jw_finish() must
 * give one JSON object or array that parses strictly and is valid UTF-8.
 * Values are any bytes; keys are what json.c takes them to be since
 * 939fe66: constants of the program (printable ASCII, no quote or
 * backslash), written unescaped, so they come from a fixed list here. */
#include "fuzz_common.h"
#include "fuzz_out.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	size_t cap = JW_CAP_MIN + fz_u16(&f) % 4096, n;
	char *buf = malloc(cap);
	struct json_tokener *tok;
	struct json_object *o;
	struct jw w;
	int ops = 0;

	FUZZ_CHECK(buf);
	jw_init(&w, buf, cap);
	jw_obj_begin(&w, NULL);
	while (f.n > 0 && ops++ < 2000) {
		uint8_t op = fz_u8(&f);
		const uint8_t *s;
		size_t sl = fz_take(&f, fz_u8(&f) % 64, &s);
		static const char *const keys[] = {
			"",
			"a",
			"ip",
			"port",
			"@timestamp",
			"certsentry.truncated",
			"x509",
			"alternative_names",
			"distinguished_name",
			"a key with spaces",
		};
		const char *key = keys[sl % (sizeof(keys) / sizeof(keys[0]))];
		char val[65];

		memcpy(val, s, sl);
		val[sl] = 0; /* for jw_str: cut at a NUL */
		switch (op % 12) {
		case 0:
			jw_obj_begin(&w, key);
			break;
		case 1:
			jw_arr_begin(&w, key);
			break;
		case 2:
			jw_obj_end(&w);
			break;
		case 3:
			jw_arr_end(&w);
			break;
		case 4:
			jw_strn(&w, key, (const char *)s, sl);
			break; /* any bytes, NULs too */
		case 5:
			jw_str(&w, key, (op & 0x80) ? NULL : val);
			break;
		case 6:
			jw_int(&w, key, (int64_t)((uint64_t)fz_u32(&f) << 32 | fz_u32(&f)));
			break;
		case 7:
			jw_uint(&w, key, (uint64_t)fz_u32(&f) << 32 | fz_u32(&f));
			break;
		case 8:
			jw_bool(&w, key, op & 0x80);
			break;
		case 9:
			jw_time_s(&w, key, (int64_t)((uint64_t)fz_u32(&f) << 32 | fz_u32(&f)));
			break;
		case 10:
			jw_time_ns(&w, key, (uint64_t)fz_u32(&f) << 32 | fz_u32(&f));
			break;
		case 11:
			jw_obj_begin(&w, NULL);
			break; /* a keyless member */
		}
		FUZZ_CHECK(w.len < cap && buf[w.len] == 0);
	}
	n = jw_finish(&w);
	FUZZ_CHECK(n < cap && n == strlen(buf));
	tok = json_tokener_new();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, buf, (int)n);
	if (!o || (size_t)json_tokener_get_parse_end(tok) != n) {
		fprintf(stderr, "bad JSON (%s): %s\n",
			json_tokener_error_desc(json_tokener_get_error(tok)), buf);
		abort();
	}
	json_object_put(o);
	json_tokener_free(tok);
	free(buf);
	return 0;
}
