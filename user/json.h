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
#define JW_CAP_MIN   31 /* "{" + "}" + the truncation mark + NUL */

struct jw {
	char *buf;
	size_t cap, len;
	bool truncated;
	int depth;
	bool first[JW_DEPTH_MAX];   /* no member written yet at this depth */
	char close[JW_DEPTH_MAX];   /* '}' or ']' */
	size_t start[JW_DEPTH_MAX]; /* where the container's token (comma, key) began */
	bool pfirst[JW_DEPTH_MAX];  /* its parent's first[] before it */
};

void jw_init(struct jw *w, char *buf, size_t cap);
void jw_obj_begin(struct jw *w, const char *key); /* key NULL at top/in arrays */
void jw_obj_end(struct jw *w);
/* Closes an object; if no member went into it, takes it back whole (its key
 * and comma too), so a line never carries an empty "key":{}. */
void jw_obj_end_or_drop(struct jw *w);
void jw_arr_begin(struct jw *w, const char *key);
void jw_arr_end(struct jw *w);
/* Opens an object whose first members are members[0..n): text this writer
 * made earlier ("k":v pairs, comma-separated, no braces), trusted as JSON. */
void jw_obj_begin_with(struct jw *w, const char *key, const char *members, size_t n);
/* The same where they fit; where they do not, writes nothing, leaves the
 * writer as it was (not truncated) and returns false, so the caller can
 * write them token by token and be cut where that cuts. */
bool jw_obj_try_with(struct jw *w, const char *key, const char *members, size_t n);
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

#endif
