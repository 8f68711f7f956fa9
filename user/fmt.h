/* fmt.h - text written in many places: names, times, endpoints, hex, errors, terminal-safe text. */
#ifndef CS_FMT_H
#define CS_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/types.h>

struct report_endpoint;

/* ---- certificates ---- */

/* A name in RFC 2253 form, as `openssl x509 -nameopt RFC2253` prints it:
 * controls and non-ASCII bytes come out as \XX, so the text is printable
 * ASCII. fmt_dn: malloc'd, NULL on failure; fmt_dn_buf: cut to fit out
 * (cap >= 1), "" on failure, returns out. */
char *fmt_dn(const X509_NAME *n);
const char *fmt_dn_buf(char *out, size_t cap, const X509_NAME *n);

/* Hex of p[0..n), as many whole bytes as fit out (cap >= 1, terminated);
 * returns the length written. */
size_t fmt_hex(char *out, size_t cap, const void *p, size_t n, bool upper);
/* src (NULL: "") cut to fit dst (cap >= 1), always terminated: snprintf's
 * "%s" without the formatter, which was a visible share of each report. */
void fmt_copy(char *dst, size_t cap, const char *src);
/* digits hex digits (either case, an even number) into digits / 2 bytes;
 * false on anything else. */
bool fmt_unhex(const char *s, size_t digits, uint8_t *out);
/* A serial as i2a_ASN1_INTEGER (so `openssl x509 -serial`) prints it:
 * uppercase content octets, no separators, '-' first if negative, "00"
 * for none. Needs 2 * length + 2 bytes to be whole (FMT_SERIAL_CAP). */
#define FMT_SERIAL_CAP(len) (2 * (size_t)(len) + 2)
void fmt_serial(char *out, size_t cap, const ASN1_INTEGER *a);

/* A pin ("sha256:HEX", "spki:BASE64") as short as a line's sha256=: its
 * kind and the first 16 characters of the value (unescaped: pass it on to
 * fmt_safe). FMT_PIN_SHORT_CAP bytes hold it; returns out. */
#define FMT_PIN_SHORT_CAP 40
const char *fmt_pin_short(char *out, size_t cap, const char *pin);

/* An error message into err[cap], printf-style; nothing when err is NULL
 * or cap 0 (callers that do not want the text pass NULL). */
void fmt_err(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The reason string of the last OpenSSL error queued; NULL when nothing is
 * queued or it has none. The queue is left as it is. */
const char *fmt_ossl_reason(void);

/* ---- times ---- */

enum fmt_time_unit {
	FMT_DAY, /* 2026-11-26 */
	FMT_S,	 /* 2026-11-26T17:51:41Z */
	FMT_MS,	 /* 2026-11-26T17:51:41.123Z */
};
#define FMT_TIME_CAP 32 /* room for any of them */

/*
 * Unix seconds s (and ms milliseconds) as RFC 3339 UTC. Years 0000-9999
 * only, what X.509 and RFC 3339 hold; outside them, or when out cannot
 * hold it, out gets none instead ("" for NULL) and the result is false. By hand,
 * not gmtime_r + strftime: those take glibc's time-zone lock on every call.
 */
bool fmt_time(char *out, size_t cap, int64_t s, unsigned ms, enum fmt_time_unit u,
	      const char *none);
/* Epoch ns with milliseconds. */
bool fmt_time_ns(char *out, size_t cap, uint64_t ns, const char *none);

/* ---- endpoints ---- */

/* The address as text, NULL if the endpoint has no family. */
const char *fmt_ip(const struct report_endpoint *ep, char *out, size_t cap);
/* "192.0.2.1:443", "[2001:db8::1]:443" ("?" for the address if it has
 * no family); returns out. FMT_ENDPOINT_CAP always suffices. */
#define FMT_ENDPOINT_CAP 56
const char *fmt_endpoint(const struct report_endpoint *ep, char *out, size_t cap);

/* ---- text ---- */

/* Length of the valid UTF-8 sequence at s (1..4, storing the code point),
 * 0 if s[0] starts no valid one (overlong, surrogate, past U+10FFFF, cut
 * by n). */
size_t fmt_utf8_seq(const unsigned char *s, size_t n, uint32_t *cp);

enum fmt_safe_mode {
	FMT_WORD,   /* bare value: space, quote, backslash escaped too */
	FMT_QUOTED, /* inside "" (added here): quote and backslash escaped */
	FMT_TAIL,   /* last thing on the line: nothing after it to fake */
};

/*
 * Untrusted text for a terminal: controls and bad bytes as \xHH, code points
 * a terminal acts on (C1, bidi overrides, line separators, BOM) as \u{...},
 * so a value can neither drive the terminal nor fake another field. At most
 * max input bytes, then "...". Writes into out (cap >= 1, NUL-terminated),
 * whole escapes only; returns the length written.
 */
size_t fmt_safe(char *out, size_t cap, const char *str, enum fmt_safe_mode m, size_t max);
/* The escapes alone (no quotes, no "..."): as many as fit out[cap] whole,
 * one byte kept for the NUL, of s[0..n) up to max bytes (a UTF-8 sequence
 * starting before max is taken whole). Returns the length written; *used
 * is how many bytes of s they stand for. */
size_t fmt_safe_run(char *out, size_t cap, const char *s, size_t n, size_t max,
		    enum fmt_safe_mode m, size_t *used);

#endif
