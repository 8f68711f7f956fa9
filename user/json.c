/* json.c - bounded JSON writer: whole tokens or nothing, repaired UTF-8, always parses. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "fmt.h"
#include "json.h"

#define JW_MARK	    ",\"certsentry.truncated\":true"
#define JW_MARK_LEN (sizeof(JW_MARK) - 1)

/* Room that must stay free once depth containers are open: one closer each,
 * the truncation mark and the NUL. Keeping it at every step is what lets
 * jw_finish() always produce a complete text. */
static size_t jw_reserve(int depth)
{
	return (size_t)depth + JW_MARK_LEN + 1;
}

void jw_init(struct jw *w, char *buf, size_t cap)
{
	memset(w, 0, sizeof(*w));
	w->buf = buf;
	w->cap = cap;
	if (buf && cap)
		buf[0] = '\0';
}

/* ---- raw output, bounded by lim ---- */

static int jw_put(struct jw *w, size_t lim, const char *s, size_t n)
{
	if (n > lim || w->len > lim - n)
		return -1;
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	return 0;
}

/* Quoted, escaped, UTF-8-repaired string. C1 controls and U+2028/2029 are
 * escaped too: harmless in JSON, and they keep `cat`/`tail -f` of the log
 * from driving a terminal or breaking JavaScript consumers.
 * Bytes copied as they are: printable ASCII but '"' and '\\'. A table: the
 * run scan is most of a line's cost, and one load a byte beats four tests. */
static const bool jw_plain[256] = {
	[' ' ... '!'] = true,
	['#' ... '['] = true, /* '"' (0x22) escaped */
	[']' ... '~'] = true, /* '\\' (0x5C) escaped */
};

/* How many bytes of s[0..n) come before the first to escape: eight at a
 * time while none of the eight may need it (any byte < 0x20, > 0x7E, '"'
 * or '\\' sends the rest to the table; a false alarm only costs speed). */
static size_t jw_plain_run(const unsigned char *s, size_t n)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = ones * 0x80;
	size_t j = 0;

	for (; n - j >= 8; j += 8) {
		uint64_t x, q, b;

		memcpy(&x, s + j, 8);
		q = x ^ (ones * '"');
		b = x ^ (ones * '\\');
		if ((((x - ones * 0x20) & ~x) | ((x + ones) | x) | ((q - ones) & ~q) |
		     ((b - ones) & ~b)) &
		    highs)
			break;
	}
	while (j < n && jw_plain[s[j]])
		j++;
	return j;
}

static int jw_put_str(struct jw *w, size_t lim, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = jw_plain_run(s, n);
	char esc[8], *p;

	if (i == n) { /* nothing to escape, as nearly every value: one copy */
		if (w->len > lim || n + 2 > lim - w->len)
			return -1;
		p = w->buf + w->len;
		*p = '"';
		memcpy(p + 1, s, n);
		p[n + 1] = '"';
		w->len += n + 2;
		return 0;
	}
	if (jw_put(w, lim, "\"", 1) || jw_put(w, lim, str, i))
		return -1;
	while (i < n) {
		size_t j = i + jw_plain_run(s + i, n - i), k, rlen;
		const char *rep;
		uint32_t cp;

		/* Printable ASCII, nearly all of any log line: copied in runs. */
		if (jw_put(w, lim, (const char *)s + i, j - i))
			return -1;
		if ((i = j) == n)
			break;
		k = fmt_utf8_seq(s + i, n - i, &cp);
		if (k == 0) {
			rep = "\xEF\xBF\xBD", k = 1;
		} else if (cp == '"') {
			rep = "\\\"";
		} else if (cp == '\\') {
			rep = "\\\\";
		} else if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 ||
			   cp == 0x2029) {
			switch (cp) {
			case '\n':
				rep = "\\n";
				break;
			case '\t':
				rep = "\\t";
				break;
			case '\r':
				rep = "\\r";
				break;
			case '\b':
				rep = "\\b";
				break;
			case '\f':
				rep = "\\f";
				break;
			default:
				snprintf(esc, sizeof(esc), "\\u%04x", (unsigned)cp);
				rep = esc;
			}
		} else {
			rep = NULL; /* valid UTF-8, kept as it is */
		}
		rlen = rep ? strlen(rep) : k;
		if (jw_put(w, lim, rep ? rep : (const char *)s + i, rlen))
			return -1;
		i += k;
	}
	return jw_put(w, lim, "\"", 1);
}

/* ---- tokens ---- */

/* Starts a token that leaves depth+opens containers open: writes the comma
 * and key. Returns the limit to write the value within, 0 if the token must
 * not be written. */
static size_t jw_tok_begin(struct jw *w, const char *key, int opens)
{
	size_t res = jw_reserve(w->depth + opens), lim, klen, need;
	char *p;
	int d;

	if (w->truncated || !w->buf)
		return 0;
	if (w->depth == 0 && w->len > 0)
		return 0; /* one top-level value only */
	if (w->cap <= res)
		goto full;
	lim = w->cap - res;
	if (w->depth == 0)
		return lim;
	d = w->depth - 1;
	/* Keys are constants of this program, never bytes from the wire: they
	 * need quotes, not escaping. Comma and key go in whole or not at all. */
	klen = w->close[d] == '}' && key ? strlen(key) : 0;
	need = !w->first[d] + (w->close[d] == '}' ? klen + 3 : 0);
	if (w->len > lim || need > lim - w->len)
		goto full;
	p = w->buf + w->len;
	if (!w->first[d])
		*p++ = ',';
	if (w->close[d] == '}') {
		*p++ = '"';
		if (klen)
			memcpy(p, key, klen);
		p += klen;
		*p++ = '"';
		*p++ = ':';
	}
	w->len = (size_t)(p - w->buf);
	return lim;
full:
	w->truncated = true;
	return 0;
}

/* Ends a token: on failure rolls back to where it began. */
static void jw_tok_end(struct jw *w, size_t start, int rc)
{
	if (rc) {
		w->len = start;
		w->truncated = true;
	} else if (w->depth > 0) {
		w->first[w->depth - 1] = false;
	}
	if (w->buf && w->cap)
		w->buf[w->len < w->cap ? w->len : w->cap - 1] = '\0';
}

/* Writes one scalar token: key then raw value text (or a string if quote). */
static void jw_scalar(struct jw *w, const char *key, const char *v, size_t n, bool quote)
{
	size_t start = w->len, lim = jw_tok_begin(w, key, 0);
	int rc;

	if (!lim) {
		jw_tok_end(w, start, w->truncated);
		return;
	}
	rc = quote ? jw_put_str(w, lim, v, n) : jw_put(w, lim, v, n);
	jw_tok_end(w, start, rc);
}

static void jw_open(struct jw *w, const char *key, char open, char close)
{
	size_t start = w->len, lim;
	bool pfirst = w->depth > 0 && w->first[w->depth - 1];
	int rc;

	if (w->depth >= JW_DEPTH_MAX) {
		w->truncated = true;
		return;
	}
	lim = jw_tok_begin(w, key, 1);
	if (!lim) {
		jw_tok_end(w, start, w->truncated);
		return;
	}
	rc = jw_put(w, lim, &open, 1);
	jw_tok_end(w, start, rc);
	if (rc)
		return;
	w->first[w->depth] = true;
	w->close[w->depth] = close;
	w->start[w->depth] = start;
	w->pfirst[w->depth] = pfirst;
	w->depth++;
}

/* The closer was reserved when the container opened, so this cannot fail. */
static void jw_close(struct jw *w)
{
	if (w->truncated || w->depth == 0)
		return; /* jw_finish() closes what is left */
	w->depth--;
	w->buf[w->len++] = w->close[w->depth];
	w->buf[w->len] = '\0';
}

void jw_obj_begin(struct jw *w, const char *key)
{
	jw_open(w, key, '{', '}');
}

void jw_obj_begin_with(struct jw *w, const char *key, const char *members, size_t n)
{
	size_t start = w->len, lim;
	int depth = w->depth;
	bool pfirst = depth > 0 && w->first[depth - 1];

	jw_open(w, key, '{', '}');
	if (w->truncated || w->depth != depth + 1 || !n)
		return;
	/* Members as one token: all of them or, past the bound, none. */
	lim = w->cap - jw_reserve(w->depth);
	if (jw_put(w, lim, members, n)) {
		w->len = start; /* not even the key: the object never began */
		w->depth = depth;
		if (depth > 0)
			w->first[depth - 1] = pfirst;
		w->truncated = true;
		w->buf[w->len] = '\0';
		return;
	}
	w->first[w->depth - 1] = false;
	w->buf[w->len] = '\0';
}

bool jw_obj_try_with(struct jw *w, const char *key, const char *members, size_t n)
{
	int depth = w->depth;
	bool ok;

	if (w->truncated)
		return false;
	jw_obj_begin_with(w, key, members, n);
	ok = !w->truncated && w->depth == depth + 1;
	/* Failing, jw_obj_begin_with took back all it wrote but the mark. */
	w->truncated = false;
	return ok;
}

void jw_arr_begin(struct jw *w, const char *key)
{
	jw_open(w, key, '[', ']');
}
void jw_obj_end(struct jw *w)
{
	jw_close(w);
}

/* Nothing was written since the object's token began (first[] still set),
 * so rewinding to its start undoes exactly it. The top-level object stays;
 * after truncation jw_finish() owns the closing. */
void jw_obj_end_or_drop(struct jw *w)
{
	int d = w->depth - 1;

	if (w->truncated || w->depth < 2 || !w->first[d] || w->close[d] != '}') {
		jw_close(w);
		return;
	}
	w->len = w->start[d];
	w->depth = d;
	w->first[d - 1] = w->pfirst[d];
	w->buf[w->len] = '\0';
}

void jw_arr_end(struct jw *w)
{
	jw_close(w);
}

void jw_strn(struct jw *w, const char *key, const char *s, size_t n)
{
	if (!s)
		jw_scalar(w, key, "null", 4, false);
	else
		jw_scalar(w, key, s, n, true);
}

void jw_str(struct jw *w, const char *key, const char *s)
{
	jw_strn(w, key, s, s ? strlen(s) : 0);
}

/* Decimal digits of v, right-aligned in t[0..24); returns the first. */
static char *jw_digits(char t[24], uint64_t v)
{
	char *p = t + 24;

	do
		*--p = (char)('0' + v % 10);
	while (v /= 10);
	return p;
}

void jw_int(struct jw *w, const char *key, int64_t v)
{
	char t[24], *p = jw_digits(t, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);

	if (v < 0)
		*--p = '-';
	jw_scalar(w, key, p, (size_t)(t + 24 - p), false);
}

void jw_uint(struct jw *w, const char *key, uint64_t v)
{
	char t[24], *p = jw_digits(t, v);

	jw_scalar(w, key, p, (size_t)(t + 24 - p), false);
}

void jw_bool(struct jw *w, const char *key, bool v)
{
	jw_scalar(w, key, v ? "true" : "false", v ? 4 : 5, false);
}

/* ---- time ---- */

void jw_time_s(struct jw *w, const char *key, int64_t s)
{
	char t[FMT_TIME_CAP];

	if (fmt_time(t, sizeof(t), s, 0, FMT_MS, NULL))
		jw_scalar(w, key, t, strlen(t), true);
	else
		jw_scalar(w, key, "null", 4, false);
}

void jw_time_ns(struct jw *w, const char *key, uint64_t ns)
{
	char t[FMT_TIME_CAP];

	if (fmt_time_ns(t, sizeof(t), ns, NULL))
		jw_scalar(w, key, t, strlen(t), true);
	else
		jw_scalar(w, key, "null", 4, false);
}

/* ---- finish ---- */

size_t jw_finish(struct jw *w)
{
	if (!w->buf || !w->cap)
		return 0;
	/* Inner containers first, then the mark in the outermost object. */
	while (w->depth > 1)
		w->buf[w->len++] = w->close[--w->depth];
	if (w->depth == 1) {
		if (w->truncated && w->close[0] == '}') {
			size_t skip = w->first[0] ? 1 : 0; /* no comma in {} */
			memcpy(w->buf + w->len, &JW_MARK[skip], JW_MARK_LEN - skip);
			w->len += JW_MARK_LEN - skip;
		}
		w->buf[w->len++] = w->close[0];
		w->depth = 0;
	}
	w->buf[w->len] = '\0';
	return w->len;
}
