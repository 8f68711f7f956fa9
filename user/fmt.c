/* fmt.c - text written in many places: names, times, endpoints, hex, errors, terminal-safe text. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <linux/types.h>
#include "certsentry.h"
#include "fmt.h"
#include "report.h"

/* ---- certificates ---- */

/* The name's RFC 2253 text in a memory BIO; *p and the length point into it. */
static BIO *dn_bio(const X509_NAME *n, char **p, long *len)
{
	BIO *b = BIO_new(BIO_s_mem());

	if (b && X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253) >= 0 &&
	    (*len = BIO_get_mem_data(b, p)) >= 0)
		return b;
	BIO_free(b);
	return NULL;
}

char *fmt_dn(const X509_NAME *n)
{
	char *p, *s = NULL;
	long len;
	BIO *b = dn_bio(n, &p, &len);

	if (b && (s = malloc((size_t)len + 1))) {
		if (len) /* an empty name: the BIO has no data pointer */
			memcpy(s, p, (size_t)len);
		s[len] = '\0';
	}
	BIO_free(b);
	return s;
}

const char *fmt_dn_buf(char *out, size_t cap, const X509_NAME *n)
{
	char *p;
	long len;
	BIO *b = dn_bio(n, &p, &len);
	size_t k = b ? (size_t)len : 0;

	if (k >= cap)
		k = cap - 1;
	if (k)
		memcpy(out, p, k);
	out[k] = '\0';
	BIO_free(b);
	return out;
}

void fmt_copy(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strnlen(src, cap - 1) : 0;

	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
}

size_t fmt_hex(char *out, size_t cap, const void *p, size_t n, bool upper)
{
	const char *hx = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	const uint8_t *b = p;
	size_t o = 0;

	for (size_t i = 0; i < n && o + 2 < cap; i++) {
		out[o++] = hx[b[i] >> 4];
		out[o++] = hx[b[i] & 15];
	}
	out[o] = '\0';
	return o;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool fmt_unhex(const char *s, size_t digits, uint8_t *out)
{
	if (digits % 2)
		return false;
	for (size_t i = 0; i < digits; i += 2) {
		int hi = hexval(s[i]), lo = hi < 0 ? -1 : hexval(s[i + 1]);

		if (lo < 0)
			return false;
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

void fmt_serial(char *out, size_t cap, const ASN1_INTEGER *a)
{
	int n = a ? ASN1_STRING_length(a) : 0;
	bool neg = a && ASN1_STRING_type(a) == V_ASN1_NEG_INTEGER;

	if (cap < 3) {
		out[0] = '\0';
		return;
	}
	out[0] = '-';
	if (n <= 0)
		memcpy(out + neg, "00", 3);
	else
		fmt_hex(out + neg, cap - neg, ASN1_STRING_get0_data(a), (size_t)n, true);
}

const char *fmt_pin_short(char *out, size_t cap, const char *pin)
{
	const char *colon = strchr(pin, ':');
	int n = colon && colon - pin < 16 ? (int)(colon - pin) + 1 + 16 : 16;

	snprintf(out, cap, "%.*s", n, pin);
	return out;
}

void fmt_err(char *err, size_t cap, const char *fmt, ...)
{
	va_list ap;

	if (!err || !cap)
		return;
	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
}

const char *fmt_ossl_reason(void)
{
	unsigned long e = ERR_peek_last_error();

	return e ? ERR_reason_error_string(e) : NULL;
}

/* ---- times ---- */

static void put_digits(char *p, int v, int width)
{
	while (width--) {
		p[width] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* Proleptic Gregorian date of a day count from 1970-01-01 (H. Hinnant's
 * civil_from_days). */
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

static bool time_none(char *out, size_t cap, const char *none)
{
	if (cap)
		snprintf(out, cap, "%s", none ? none : "");
	return false;
}

bool fmt_time(char *out, size_t cap, int64_t s, unsigned ms, enum fmt_time_unit u, const char *none)
{
	static const size_t need[] = { [FMT_DAY] = 11, [FMT_S] = 21, [FMT_MS] = 25 };
	int64_t days, sec;
	int y, mo, d;

	/* 0000-01-01 .. 9999-12-31: the range X.509 and RFC 3339 can hold */
	if (s < -62167219200LL || s > 253402300799LL || cap < need[u])
		return time_none(out, cap, none);
	days = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
	sec = s - days * 86400;
	civil(days, &y, &mo, &d);
	/* By hand: snprintf here was an eighth of an offline run. */
	put_digits(out, y, 4);
	out[4] = '-';
	put_digits(out + 5, mo, 2);
	out[7] = '-';
	put_digits(out + 8, d, 2);
	if (u == FMT_DAY) {
		out[10] = '\0';
		return true;
	}
	out[10] = 'T';
	put_digits(out + 11, (int)(sec / 3600), 2);
	out[13] = ':';
	put_digits(out + 14, (int)(sec / 60 % 60), 2);
	out[16] = ':';
	put_digits(out + 17, (int)(sec % 60), 2);
	if (u == FMT_S) {
		memcpy(out + 19, "Z", 2);
		return true;
	}
	out[19] = '.';
	put_digits(out + 20, (int)(ms % 1000), 3);
	memcpy(out + 23, "Z", 2);
	return true;
}

bool fmt_time_ns(char *out, size_t cap, uint64_t ns, const char *none)
{
	return fmt_time(out, cap, (int64_t)(ns / 1000000000ULL), (unsigned)(ns / 1000000ULL % 1000),
			FMT_MS, none);
}

/* ---- endpoints ---- */

/* Dotted quad, as inet_ntop writes it (NULL, ENOSPC, if out is too short):
 * by hand, as glibc's goes through sprintf, a tenth of a JSON line's cost. */
static const char *ip4_text(const uint8_t a[4], char *out, size_t cap)
{
	char t[INET_ADDRSTRLEN], *p = t;

	for (int i = 0; i < 4; i++) {
		unsigned v = a[i];

		if (v >= 100)
			*p++ = (char)('0' + v / 100);
		if (v >= 10)
			*p++ = (char)('0' + v / 10 % 10);
		*p++ = (char)('0' + v % 10);
		*p++ = i < 3 ? '.' : '\0';
	}
	if ((size_t)(p - t) > cap) {
		errno = ENOSPC;
		return NULL;
	}
	return memcpy(out, t, (size_t)(p - t));
}

const char *fmt_ip(const struct report_endpoint *ep, char *out, size_t cap)
{
	if (ep->family == CS_AF_INET)
		return ip4_text(ep->addr, out, cap);
	if (ep->family == CS_AF_INET6)
		return inet_ntop(AF_INET6, ep->addr, out, (socklen_t)cap);
	return NULL;
}

const char *fmt_endpoint(const struct report_endpoint *ep, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];
	const char *s = fmt_ip(ep, ip, sizeof(ip));

	snprintf(out, cap, ep->family == CS_AF_INET6 ? "[%s]:%u" : "%s:%u", s ? s : "?", ep->port);
	return out;
}

/* ---- text ---- */

size_t fmt_utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the 2nd byte */
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
			lo = 0xA0; /* overlong */
		else if (c == 0xED)
			hi = 0x9F; /* surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4, v = c & 0x07;
		if (c == 0xF0)
			lo = 0x90; /* overlong */
		else if (c == 0xF4)
			hi = 0x8F; /* > U+10FFFF */
	} else {
		return 0; /* C0, C1, F5..FF, lone continuation */
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

/* Code points a terminal would act on or that can make a line lie about
 * itself: C1 controls, bidi overrides/isolates, line separators, BOM. */
static bool cp_unsafe(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9F) || (cp >= 0x200B && cp <= 0x200F) ||
	       (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0xFEFF;
}

/* Appends p[0..n) if it fits whole (one byte stays for the NUL). */
static bool put(char *out, size_t cap, size_t *len, const char *p, size_t n)
{
	if (n >= cap - *len)
		return false;
	memcpy(out + *len, p, n);
	*len += n;
	return true;
}

size_t fmt_safe_run(char *out, size_t cap, const char *str, size_t n, size_t max,
		    enum fmt_safe_mode m, size_t *used)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, len = 0;
	bool ok = cap > 0;
	char esc[16];

	while (ok && i < n && i < max) {
		uint32_t cp;
		size_t k = fmt_utf8_seq(s + i, n - i, &cp);

		if (k == 0 || cp < 0x20 || cp == 0x7F || (m == FMT_WORD && cp == ' ')) {
			snprintf(esc, sizeof(esc), "\\x%02X", s[i]);
			ok = put(out, cap, &len, esc, 4);
			k = 1;
		} else if ((cp == '"' || cp == '\\') && m != FMT_TAIL) {
			snprintf(esc, sizeof(esc), "\\%c", (char)cp);
			ok = put(out, cap, &len, esc, 2);
		} else if (cp_unsafe(cp)) {
			snprintf(esc, sizeof(esc), "\\u{%04X}", (unsigned)cp);
			ok = put(out, cap, &len, esc, strlen(esc));
		} else {
			ok = put(out, cap, &len, (const char *)s + i, k);
		}
		if (ok)
			i += k;
	}
	if (cap)
		out[len] = '\0';
	*used = i;
	return len;
}

size_t fmt_safe(char *out, size_t cap, const char *str, enum fmt_safe_mode m, size_t max)
{
	size_t n = str ? strlen(str) : 0, len = 0, used;

	if (!cap)
		return 0;
	if (m == FMT_QUOTED && cap < 3)
		m = FMT_WORD; /* no room for the quotes: escape instead */
	if (m == FMT_QUOTED) {
		cap--; /* the closing quote's room */
		put(out, cap, &len, "\"", 1);
	}
	len += fmt_safe_run(out + len, cap - len, str ? str : "", n, max, m, &used);
	if (used < n)
		put(out, cap, &len, "...", 3);
	if (m == FMT_QUOTED)
		out[len++] = '"';
	out[len] = '\0';
	return len;
}
