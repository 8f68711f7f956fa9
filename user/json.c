/* json.c - bounded JSON writer: whole tokens or nothing, repaired UTF-8, always parses. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "json.h"

#define JW_MARK		",\"certsentry.truncated\":true"
#define JW_MARK_LEN	(sizeof(JW_MARK) - 1)

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

/* ---- UTF-8 ---- */

size_t jw_utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xBF;	/* allowed range of the 2nd byte */
	size_t len;
	uint32_t v;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2, v = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3, v = c & 0x0F;
		if (c == 0xE0)
			lo = 0xA0;		/* overlong */
		else if (c == 0xED)
			hi = 0x9F;		/* surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4, v = c & 0x07;
		if (c == 0xF0)
			lo = 0x90;		/* overlong */
		else if (c == 0xF4)
			hi = 0x8F;		/* > U+10FFFF */
	} else {
		return 0;			/* C0, C1, F5..FF, lone continuation */
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	v = (v << 6) | (s[1] & 0x3F);
	for (size_t i = 2; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3F);
	}
	*cp = v;
	return len;
}

/* ---- terminal text ---- */

static bool cp_unsafe(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9F) || (cp >= 0x200B && cp <= 0x200F) ||
	       (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) ||
	       cp == 0xFEFF;
}

/* Appends p[0..n) if it fits whole (one byte stays for the NUL). */
static bool ts_put(char *out, size_t cap, size_t *len, const char *p, size_t n)
{
	if (n >= cap - *len)
		return false;
	memcpy(out + *len, p, n);
	*len += n;
	return true;
}

size_t text_safe(char *out, size_t cap, const char *str, enum text_safe_mode m, size_t max)
{
	const unsigned char *s = (const unsigned char *)(str ? str : "");
	size_t n = strlen((const char *)s), i = 0, len = 0;
	bool ok = true;
	char esc[16];

	if (!cap)
		return 0;
	if (m == TEXT_QUOTED && cap < 3)
		m = TEXT_WORD;		/* no room for the quotes: escape instead */
	if (m == TEXT_QUOTED)
		cap--, ok = ts_put(out, cap, &len, "\"", 1);	/* the closing quote's room */
	while (ok && i < n && i < max) {
		uint32_t cp;
		size_t k = jw_utf8_seq(s + i, n - i, &cp);

		if (k == 0 || cp < 0x20 || cp == 0x7F || (m == TEXT_WORD && cp == ' ')) {
			snprintf(esc, sizeof(esc), "\\x%02X", s[i]);
			ok = ts_put(out, cap, &len, esc, 4);
			k = 1;
		} else if ((cp == '"' || cp == '\\') && m != TEXT_TAIL) {
			snprintf(esc, sizeof(esc), "\\%c", (char)cp);
			ok = ts_put(out, cap, &len, esc, 2);
		} else if (cp_unsafe(cp)) {
			snprintf(esc, sizeof(esc), "\\u{%04X}", (unsigned)cp);
			ok = ts_put(out, cap, &len, esc, strlen(esc));
		} else {
			ok = ts_put(out, cap, &len, (const char *)s + i, k);
		}
		if (ok)
			i += k;
	}
	if (i < n)
		ts_put(out, cap, &len, "...", 3);
	if (m == TEXT_QUOTED)
		out[len++] = '"';
	out[len] = '\0';
	return len;
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
 * from driving a terminal or breaking JavaScript consumers. */
static bool jw_plain(unsigned char c)
{
	return c >= 0x20 && c < 0x7F && c != '"' && c != '\\';
}

static int jw_put_str(struct jw *w, size_t lim, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	char esc[8];

	if (jw_put(w, lim, "\"", 1))
		return -1;
	while (i < n) {
		size_t j = i, k, rlen;
		const char *rep;
		uint32_t cp;

		/* Printable ASCII, nearly all of any log line: copied in runs. */
		while (j < n && jw_plain(s[j]))
			j++;
		if (jw_put(w, lim, (const char *)s + i, j - i))
			return -1;
		if ((i = j) == n)
			break;
		k = jw_utf8_seq(s + i, n - i, &cp);
		if (k == 0) {
			rep = "\xEF\xBF\xBD", k = 1;
		} else if (cp == '"') {
			rep = "\\\"";
		} else if (cp == '\\') {
			rep = "\\\\";
		} else if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) ||
			   cp == 0x2028 || cp == 0x2029) {
			switch (cp) {
			case '\n': rep = "\\n"; break;
			case '\t': rep = "\\t"; break;
			case '\r': rep = "\\r"; break;
			case '\b': rep = "\\b"; break;
			case '\f': rep = "\\f"; break;
			default:
				snprintf(esc, sizeof(esc), "\\u%04x", (unsigned)cp);
				rep = esc;
			}
		} else {
			rep = NULL;		/* valid UTF-8, kept as it is */
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
	size_t res = jw_reserve(w->depth + opens), lim;

	if (w->truncated || !w->buf)
		return 0;
	if (w->depth == 0 && w->len > 0)
		return 0;		/* one top-level value only */
	if (w->cap <= res)
		goto full;
	lim = w->cap - res;
	if (w->depth > 0) {
		int d = w->depth - 1;
		if (!w->first[d] && jw_put(w, lim, ",", 1))
			goto full;
		/* Keys are constants of this program, never bytes from the wire:
		 * they need quotes, not escaping. */
		if (w->close[d] == '}' &&
		    (jw_put(w, lim, "\"", 1) ||
		     jw_put(w, lim, key ? key : "", key ? strlen(key) : 0) ||
		     jw_put(w, lim, "\":", 2)))
			goto full;
	}
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
		return;		/* jw_finish() closes what is left */
	w->depth--;
	w->buf[w->len++] = w->close[w->depth];
	w->buf[w->len] = '\0';
}

void jw_obj_begin(struct jw *w, const char *key) { jw_open(w, key, '{', '}'); }

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
		w->len = start;		/* not even the key: the object never began */
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
void jw_arr_begin(struct jw *w, const char *key) { jw_open(w, key, '[', ']'); }
void jw_obj_end(struct jw *w) { jw_close(w); }

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

void jw_arr_end(struct jw *w) { jw_close(w); }

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

static void put_digits(char *p, int v, int width)
{
	while (width--) {
		p[width] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* Proleptic Gregorian date of a day count from 1970-01-01 (H. Hinnant's
 * civil_from_days): gmtime_r takes glibc's time-zone lock on every call. */
static void civil(int64_t days, int *y, int *m, int *d)
{
	int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;

	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

bool jw_fmt_time(char *out, size_t cap, int64_t s, unsigned ms)
{
	struct tm tm;
	int64_t days, sec;

	/* 0000-01-01 .. 9999-12-31: the range X.509 and RFC 3339 can hold */
	if (s < -62167219200LL || s > 253402300799LL) {
		if (cap)
			out[0] = '\0';
		return false;
	}
	if (cap < 25) {
		if (cap)
			out[0] = '\0';
		return false;
	}
	days = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
	sec = s - days * 86400;
	civil(days, &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	tm.tm_hour = (int)(sec / 3600);
	tm.tm_min = (int)(sec / 60 % 60);
	tm.tm_sec = (int)(sec % 60);
	/* By hand: snprintf here was an eighth of an offline run. */
	put_digits(out, tm.tm_year + 1900, 4);
	out[4] = '-';
	put_digits(out + 5, tm.tm_mon + 1, 2);
	out[7] = '-';
	put_digits(out + 8, tm.tm_mday, 2);
	out[10] = 'T';
	put_digits(out + 11, tm.tm_hour, 2);
	out[13] = ':';
	put_digits(out + 14, tm.tm_min, 2);
	out[16] = ':';
	put_digits(out + 17, tm.tm_sec, 2);
	out[19] = '.';
	put_digits(out + 20, (int)(ms % 1000), 3);
	out[23] = 'Z';
	out[24] = '\0';
	return true;
}

void jw_time_s(struct jw *w, const char *key, int64_t s)
{
	char t[32];

	if (jw_fmt_time(t, sizeof(t), s, 0))
		jw_scalar(w, key, t, strlen(t), true);
	else
		jw_scalar(w, key, "null", 4, false);
}

void jw_time_ns(struct jw *w, const char *key, uint64_t ns)
{
	char t[32];

	if (jw_fmt_time(t, sizeof(t), (int64_t)(ns / 1000000000ULL),
			(unsigned)(ns / 1000000ULL % 1000)))
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
			size_t skip = w->first[0] ? 1 : 0;	/* no comma in {} */
			memcpy(w->buf + w->len, &JW_MARK[skip], JW_MARK_LEN - skip);
			w->len += JW_MARK_LEN - skip;
		}
		w->buf[w->len++] = w->close[0];
		w->depth = 0;
	}
	w->buf[w->len] = '\0';
	return w->len;
}
