/* json.h - a small JSON writer into a bounded buffer; always valid UTF-8. */
#ifndef CS_JSON_H
#define CS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Writes one JSON text into buf. Nesting and commas are tracked here, so
 * callers just say key/value. On overflow the writer sets truncated and
 * stops adding; jw_finish() then still closes every open object/array so the
 * text parses (an object is marked with "certsentry.truncated": true).
 * Strings: invalid UTF-8 bytes become U+FFFD, control characters \u00XX;
 * a NULL string is written as null. Keys are written as given, unescaped:
 * they must be constants of the program (printable ASCII without '"' or
 * '\\'), never bytes from the wire.
 * Every token is written whole or not at all, and room is always kept for the
 * closers and the mark, so with cap >= JW_CAP_MIN the result always parses.
 */
#define JW_DEPTH_MAX 16
#define JW_CAP_MIN 31	/* "{" + "}" + the truncation mark + NUL */

struct jw {
	char *buf;
	size_t cap, len;
	bool truncated;
	int depth;
	bool first[JW_DEPTH_MAX];	/* no member written yet at this depth */
	char close[JW_DEPTH_MAX];	/* '}' or ']' */
	size_t start[JW_DEPTH_MAX];	/* where the container's token (comma, key) began */
	bool pfirst[JW_DEPTH_MAX];	/* its parent's first[] before it */
};

void jw_init(struct jw *w, char *buf, size_t cap);
void jw_obj_begin(struct jw *w, const char *key);	/* key NULL at top/in arrays */
void jw_obj_end(struct jw *w);
/* Closes an object; if no member went into it, takes it back whole (its key
 * and comma too), so a line never carries an empty "key":{}. */
void jw_obj_end_or_drop(struct jw *w);
void jw_arr_begin(struct jw *w, const char *key);
void jw_arr_end(struct jw *w);
/* Opens an object whose first members are members[0..n): text this writer
 * made earlier ("k":v pairs, comma-separated, no braces), trusted as JSON. */
void jw_obj_begin_with(struct jw *w, const char *key, const char *members, size_t n);
void jw_str(struct jw *w, const char *key, const char *s);
void jw_strn(struct jw *w, const char *key, const char *s, size_t n);
void jw_int(struct jw *w, const char *key, int64_t v);
void jw_uint(struct jw *w, const char *key, uint64_t v);
void jw_bool(struct jw *w, const char *key, bool v);
/* RFC 3339 UTC with milliseconds from Unix ns, e.g. 2026-11-26T17:51:41.123Z */
void jw_time_ns(struct jw *w, const char *key, uint64_t ns);
void jw_time_s(struct jw *w, const char *key, int64_t s);
/* Closes what is open; returns the length (buf is NUL-terminated). */
size_t jw_finish(struct jw *w);

/* Helpers shared with the text writer. Length of the valid UTF-8 sequence
 * at s (1..4, storing the code point), 0 if s[0] starts no valid one. */
size_t jw_utf8_seq(const unsigned char *s, size_t n, uint32_t *cp);
/* RFC 3339 UTC with milliseconds into out (>= 32 bytes); false if the
 * year is outside 0..9999. */
bool jw_fmt_time(char *out, size_t cap, int64_t s, unsigned ms);

enum text_safe_mode {
	TEXT_WORD,	/* bare value: space, quote, backslash escaped too */
	TEXT_QUOTED,	/* inside "" (added here): quote and backslash escaped */
	TEXT_TAIL,	/* last thing on the line: nothing after it to fake */
};
/*
 * Untrusted text for a terminal: controls and bad bytes as \xHH, code points
 * a terminal acts on (C1, bidi overrides, line separators, BOM) as \u{...},
 * so a value can neither drive the terminal nor fake another field. At most
 * max input bytes, then "...". Writes into out (cap >= 1, NUL-terminated),
 * whole escapes only; returns the length written.
 */
size_t text_safe(char *out, size_t cap, const char *str, enum text_safe_mode m, size_t max);

#endif
