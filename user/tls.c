/* tls.c - TLS record layer and handshake message decoding for hostile input. */
#include "tls.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#define TLS_REC_MAX  (16384 + 2048) /* TLSCiphertext bound, RFC 5246 6.2.3 */
#define TLS_MSG_HARD 0xFFFFFFu	    /* the 24-bit handshake length field */
#define TLS_PEEK     8		    /* body bytes kept of non-handshake records */

#define EXT_SERVER_NAME	       0
#define EXT_SUPPORTED_GROUPS   10
#define EXT_EC_POINT_FORMATS   11
#define EXT_SIGNATURE_ALGS     13
#define EXT_ALPN	       16
#define EXT_SESSION_TICKET     35
#define EXT_PRE_SHARED_KEY     41
#define EXT_EARLY_DATA	       42
#define EXT_SUPPORTED_VERSIONS 43
#define EXT_KEY_SHARE	       51

/* RFC 8446 4.1.3: SHA-256("HelloRetryRequest") as the random. */
static const uint8_t hrr_random[32] = {
	0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C,
	0x02, 0x1E, 0x65, 0xB8, 0x91, 0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB,
	0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
};

/* ---- record layer ------------------------------------------------------ */

/* p->cs: where a Certificate handed over by entry is. */
enum { CS_OFF, CS_LIST, CS_LEN, CS_BODY, CS_BAD };

static int fail(struct tls_parser *p, const struct tls_cb *cb, void *ctx, const char *what)
{
	p->failed = true;
	if (cb && cb->error)
		cb->error(ctx, what);
	return -1;
}

void tls_parser_init(struct tls_parser *p, uint32_t msg_max)
{
	memset(p, 0, sizeof(*p));
	if (msg_max == 0)
		msg_max = TLS_MSG_MAX_DEFAULT;
	/* Capping at the field maximum also keeps 4 + msg_max from overflowing. */
	p->msg_max = msg_max > TLS_MSG_HARD ? TLS_MSG_HARD : msg_max;
}

/* The held bytes were handed over: a paused direction keeps no buffer. */
static void msg_drop(struct tls_parser *p)
{
	if (p->wipe && p->msg)
		explicit_bzero(p->msg, p->msg_cap);
	free(p->msg);
	p->msg = NULL;
	p->msg_have = p->msg_cap = 0;
}

/* Held bytes at most twice over: a buffer that served an earlier message
 * or certificate is cut to what is held, or freed if nothing is. */
void tls_parser_trim_slow(struct tls_parser *p)
{
	uint8_t *m;

	if (!p->msg_have || p->wipe) { /* wipe: no copy left behind by realloc */
		if (!p->msg_have)
			msg_drop(p);
		return;
	}
	m = realloc(p->msg, p->msg_have);
	if (m) {
		p->msg = m;
		p->msg_cap = p->msg_have;
	}
}

/* Also ends the parser: a callback may free it in the middle of a feed
 * (the flow is done), and nothing may be parsed or reported after that. */
void tls_parser_free(struct tls_parser *p)
{
	msg_drop(p);
	p->mh_have = 0;
	p->cs = CS_OFF;
	p->failed = true;
}

static uint32_t get24(const uint8_t *b)
{
	return (uint32_t)b[0] << 16 | (uint32_t)b[1] << 8 | b[2];
}

/* Handshake records are parsed as messages only while in the clear. */
static bool rec_is_hs(const struct tls_parser *p)
{
	return p->rec_type == TLS_CT_HANDSHAKE && !p->encrypted;
}

/* A complete 5-byte header: validate it and start the record. */
static int rec_begin(struct tls_parser *p, const struct tls_cb *cb, void *ctx)
{
	uint8_t type = p->hdr[0];

	if (type < TLS_CT_CCS || type > TLS_CT_HEARTBEAT || p->hdr[1] != TLS_MAJOR)
		return fail(p, cb, ctx, "not a TLS record");
	p->rec_type = type;
	p->rec_version = (uint16_t)(p->hdr[1] << 8 | p->hdr[2]);
	p->rec_len = (uint16_t)(p->hdr[3] << 8 | p->hdr[4]);
	if (p->rec_len > TLS_REC_MAX)
		return fail(p, cb, ctx, "record too long");
	p->rec_left = p->rec_len;
	p->rec_reported = false;
	p->rec_peek_have = 0;
	if (p->records < UINT32_MAX) /* only "none yet" matters */
		p->records++;
	if (type == TLS_CT_HANDSHAKE && !p->encrypted && p->rec_len == 0)
		return fail(p, cb, ctx, "empty handshake record");
	if (type == TLS_CT_CCS && !p->encrypted) {
		/* Handshake messages must not span a key change. */
		if (tls_parser_in_message(p))
			return fail(p, cb, ctx, "ChangeCipherSpec inside a handshake message");
		/* RFC 8446 D.4: after a HelloRetryRequest the CCS is a dummy. */
		if (!p->hrr)
			p->encrypted = true;
	}
	return 0;
}

/*
 * Body bytes of a record that is not parsed: keep the first few and report
 * the record as soon as they are here. The capture may stop right after
 * them, so never wait for more.
 */
static void rec_other(struct tls_parser *p, const uint8_t *d, size_t n, const struct tls_cb *cb,
		      void *ctx)
{
	uint32_t want = p->rec_len < TLS_PEEK ? p->rec_len : TLS_PEEK;

	if (p->rec_reported)
		return;
	if (p->rec_peek_have < want) {
		size_t k = want - p->rec_peek_have;

		if (k > n)
			k = n;
		memcpy(p->rec_peek + p->rec_peek_have, d, k);
		p->rec_peek_have += (uint8_t)k;
	}
	if (p->rec_peek_have == want) {
		p->rec_reported = true;
		if (cb && cb->record)
			cb->record(ctx, p->rec_type, p->rec_version, p->rec_peek, p->rec_peek_have,
				   p->rec_len);
	}
}

/*
 * Room for need bytes in msg, of a whole of lim: what is held at most
 * doubled, never past lim. Memory follows what arrived, not what a header
 * claims, and a paused connection holds little slack.
 */
static int msg_reserve(struct tls_parser *p, uint32_t need, uint32_t lim)
{
	uint32_t cap = p->msg_cap * 2; /* msg_cap <= 2^24 + 3: no overflow */
	uint8_t *m;

	if (need <= p->msg_cap)
		return 0;
	if (cap < need)
		cap = need;
	if (cap > lim || lim <= 2 * need) /* the whole, where that is within the rule */
		cap = lim;
	m = realloc(p->msg, cap);
	if (!m)
		return -1;
	p->msg = m;
	p->msg_cap = cap;
	return 0;
}

static void msg_deliver(struct tls_parser *p, uint8_t type, const uint8_t *body, uint32_t body_len,
			const struct tls_cb *cb, void *ctx)
{
	/* ServerHello: legacy_version(2) random(32). Only TLS 1.3 has HRR, and
	 * TLS 1.3 encrypts with outer type 23 records, so this is sticky. */
	if (type == TLS_HS_SERVER_HELLO && body_len >= 34 && memcmp(body + 2, hrr_random, 32) == 0)
		p->hrr = true;
	if (cb && cb->handshake)
		cb->handshake(ctx, type, body, body_len);
}

/* A certificate's bytes (n, within its entry): handed over in place when
 * whole here, else held in msg until they are. */
static int cs_body(struct tls_parser *p, const uint8_t *d, uint32_t n, const struct tls_cb *cb,
		   void *ctx)
{
	if (p->msg_have == 0 && n == p->cs_ent) {
		cb->cert_entry(ctx, d, n);
	} else {
		if (msg_reserve(p, p->msg_have + n, p->cs_ent) < 0)
			return -1;
		memcpy(p->msg + p->msg_have, d, n);
		p->msg_have += n;
		if (p->msg_have < p->cs_ent)
			return 0;
		cb->cert_entry(ctx, p->msg, p->cs_ent);
		p->msg_have = 0; /* the buffer serves the next one (tls_parser_trim) */
	}
	p->cs = CS_LEN;
	return 0;
}

/*
 * n bytes of a Certificate message, left bytes of it to come with these:
 * the list length, which must fill the message, then entries of a 3-byte
 * length and a non-empty certificate, which must fill the list (the rules
 * tls_parse_certificate applies). A broken rule makes the rest skipped.
 */
static int cs_feed(struct tls_parser *p, const uint8_t *d, uint32_t n, uint32_t left,
		   const struct tls_cb *cb, void *ctx)
{
	while (n > 0 && p->cs != CS_BAD && !p->failed) {
		uint32_t k, v;

		if (p->cs == CS_BODY) {
			k = p->cs_ent - p->msg_have;
			if (k > n)
				k = n;
			if (cs_body(p, d, k, cb, ctx) < 0)
				return -1;
		} else {
			k = 3u - p->cs_lb_have;
			if (k > n)
				k = n;
			memcpy(p->cs_lb + p->cs_lb_have, d, k);
			p->cs_lb_have += (uint8_t)k;
			if (p->cs_lb_have == 3) {
				p->cs_lb_have = 0;
				v = get24(p->cs_lb);
				if (p->cs == CS_LIST)
					p->cs = v == left - k ? CS_LEN : CS_BAD;
				else if (v == 0 || v > left - k)
					p->cs = CS_BAD;
				else {
					p->cs = CS_BODY;
					p->cs_ent = v;
				}
			}
		}
		d += k;
		n -= k;
		left -= k;
	}
	return 0;
}

/* The message's last byte is in: hand it over, and hold nothing of it. */
static void msg_end(struct tls_parser *p, const struct tls_cb *cb, void *ctx)
{
	uint8_t cs = p->cs;

	p->mh_have = 0;
	p->cs = CS_OFF;
	if (cs != CS_OFF) {
		/* Complete where every entry was whole and filled the list. */
		cb->cert_end(ctx, cs == CS_LEN && p->cs_lb_have == 0);
		p->cs_lb_have = 0;
		return;
	}
	msg_deliver(p, p->mh[0], p->msg ? p->msg : p->mh, p->msg_have, cb, ctx);
	p->msg_have = 0; /* the buffer serves the next message (tls_parser_trim) */
}

/* Handshake record bytes: cut them into messages. */
static int hs_feed(struct tls_parser *p, const uint8_t *d, size_t n, const struct tls_cb *cb,
		   void *ctx)
{
	while (n > 0) {
		uint32_t blen, k;

		/* Fast path: a whole message in this piece needs no copy. */
		if (p->mh_have == 0 && n >= 4) {
			blen = get24(d + 1);
			if (blen > p->msg_max)
				return fail(p, cb, ctx, "handshake message too long");
			if (n - 4 >= blen) {
				msg_deliver(p, d[0], d + 4, blen, cb, ctx);
				if (p->failed)
					return -1;
				d += 4 + (size_t)blen;
				n -= 4 + (size_t)blen;
				continue;
			}
		}
		if (p->mh_have < 4) {
			k = 4u - p->mh_have;
			if (k > n)
				k = (uint32_t)n;
			memcpy(p->mh + p->mh_have, d, k);
			p->mh_have += (uint8_t)k;
			d += k;
			n -= k;
			if (p->mh_have < 4)
				break;
			p->msg_left = get24(p->mh + 1);
			if (p->msg_left > p->msg_max)
				return fail(p, cb, ctx, "handshake message too long");
			if (p->mh[0] == TLS_HS_CERTIFICATE && cb && cb->cert_entry && cb->cert_end)
				p->cs = CS_LIST;
		}
		k = p->msg_left < n ? p->msg_left : (uint32_t)n;
		if (p->cs != CS_OFF) {
			if (cs_feed(p, d, k, p->msg_left, cb, ctx) < 0)
				return fail(p, cb, ctx, "out of memory");
		} else if (k) {
			if (msg_reserve(p, p->msg_have + k, p->msg_left + p->msg_have) < 0)
				return fail(p, cb, ctx, "out of memory");
			memcpy(p->msg + p->msg_have, d, k);
			p->msg_have += k;
		}
		if (p->failed)
			return -1;
		p->msg_left -= k;
		d += k;
		n -= k;
		if (p->msg_left == 0) {
			msg_end(p, cb, ctx);
			if (p->failed)
				return -1;
		}
	}
	return 0;
}

/* ---- SSLv2 first record -------------------------------------------------- */

/*
 * p->ssl2. Only a stream's first record may be SSLv2 (2-byte header, high
 * bit set). A CLIENT-HELLO may be followed by TLS records (the server
 * answered in TLS); any further SSLv2 record means an SSLv2 session, whose
 * next messages carry nothing we parse: the direction then stops quietly.
 */
enum { V2_NONE, V2_HDR, V2_BODY, V2_AFTER, V2_STOPPED };

static void v2_stop(struct tls_parser *p)
{
	p->ssl2 = V2_STOPPED;
	p->encrypted = true;
}

/* hdr holds the 2-byte header and the msg_type byte. */
static int v2_begin(struct tls_parser *p, const struct tls_cb *cb, void *ctx)
{
	uint32_t len = wire_ssl2_rec_len(p->hdr);
	uint8_t type = p->hdr[2];

	if (p->records < UINT32_MAX) /* only "none yet" matters */
		p->records++;
	p->hdr_have = 0;
	if (len == 0) /* the type byte was not in this record */
		return fail(p, cb, ctx, "bad SSLv2 record");
	if (type != 1 && type != 4) { /* not a hello: keys follow, then ciphertext */
		v2_stop(p);
		return 0;
	}
	if (len - 1 > p->msg_max)
		return fail(p, cb, ctx, "handshake message too long");
	p->rec_type = type == 1 ? TLS_HS_SSL2_CLIENT_HELLO : TLS_HS_SSL2_SERVER_HELLO;
	p->rec_version = TLS_V_SSL2;
	p->rec_len = (uint16_t)len;
	p->rec_left = (uint16_t)(len - 1);
	p->msg_have = 0;
	p->ssl2 = V2_BODY;
	return 0;
}

/* Hello body bytes (n <= rec_left); delivered whole, without a copy when
 * the whole body is in this piece. */
static int v2_feed(struct tls_parser *p, const uint8_t *d, size_t n, const struct tls_cb *cb,
		   void *ctx)
{
	const uint8_t *body = n ? d : p->hdr;

	if (p->msg_have > 0 || n < p->rec_left) {
		if (msg_reserve(p, p->msg_have + (uint32_t)n, p->rec_len - 1) < 0)
			return fail(p, cb, ctx, "out of memory");
		memcpy(p->msg + p->msg_have, d, n);
		p->msg_have += (uint32_t)n;
		body = p->msg;
	}
	p->rec_left -= (uint16_t)n;
	if (p->rec_left > 0)
		return 0;
	p->ssl2 = V2_AFTER;
	if (cb && cb->handshake)
		cb->handshake(ctx, p->rec_type, body, p->rec_len - 1);
	msg_drop(p);
	return p->failed ? -1 : 0;
}

int tls_parser_feed(struct tls_parser *p, const uint8_t *data, size_t len, const struct tls_cb *cb,
		    void *ctx)
{
	while (len > 0 && !p->failed && p->ssl2 != V2_STOPPED) {
		if (p->ssl2 == V2_BODY) {
			size_t k = p->rec_left < len ? p->rec_left : len;

			if (v2_feed(p, data, k, cb, ctx) < 0)
				return -1;
			data += k;
			len -= k;
			continue;
		}
		if (p->hdr_have == 0 && (data[0] & 0x80)) {
			if (p->ssl2 == V2_AFTER) {
				v2_stop(p);
				break;
			}
			if (p->records == 0)
				p->ssl2 = V2_HDR;
		}
		if (p->hdr_have < TLS_HDR_LEN) {
			size_t need = p->ssl2 == V2_HDR ? SSL2_HDR_LEN + 1 : TLS_HDR_LEN;
			size_t k = need - p->hdr_have;

			if (k > len)
				k = len;
			memcpy(p->hdr + p->hdr_have, data, k);
			p->hdr_have += (uint8_t)k;
			data += k;
			len -= k;
			if (p->hdr_have < need)
				break;
			if (p->ssl2 == V2_HDR) {
				if (v2_begin(p, cb, ctx) < 0)
					return -1;
				if (p->ssl2 == V2_BODY && p->rec_left == 0 &&
				    v2_feed(p, NULL, 0, cb, ctx) < 0)
					return -1;
				continue;
			}
			if (rec_begin(p, cb, ctx) < 0)
				return -1;
			p->ssl2 = V2_NONE; /* TLS from here: no more SSLv2 */
			if (!rec_is_hs(p) && p->rec_len == 0)
				rec_other(p, NULL, 0, cb, ctx); /* report it now */
		} else {
			size_t k = p->rec_left < len ? p->rec_left : len;

			if (rec_is_hs(p)) {
				if (hs_feed(p, data, k, cb, ctx) < 0)
					return -1;
			} else {
				rec_other(p, data, k, cb, ctx);
			}
			p->rec_left -= (uint16_t)k;
			data += k;
			len -= k;
		}
		if (p->rec_left == 0)
			p->hdr_have = 0; /* record done, next header */
	}
	return p->failed ? -1 : 0;
}

/* ---- bounded reader for handshake bodies ------------------------------- */

struct rd {
	const uint8_t *p;
	size_t n;
};

static inline bool rd_bytes(struct rd *r, size_t n, const uint8_t **out)
{
	if (r->n < n)
		return false;
	if (out)
		*out = r->p;
	r->p += n;
	r->n -= n;
	return true;
}

static inline bool rd_uint(struct rd *r, unsigned w, uint32_t *v)
{
	const uint8_t *b;

	if (!rd_bytes(r, w, &b))
		return false;
	*v = 0;
	while (w--)
		*v = *v << 8 | *b++;
	return true;
}

static inline bool rd_u16(struct rd *r, uint16_t *v)
{
	uint32_t x;

	if (!rd_uint(r, 2, &x))
		return false;
	*v = (uint16_t)x;
	return true;
}

/* A vector with a w-byte length prefix becomes the sub-reader v. */
static bool rd_vec(struct rd *r, unsigned w, struct rd *v)
{
	uint32_t n;

	if (!rd_uint(r, w, &n) || !rd_bytes(r, n, &v->p))
		return false;
	v->n = n;
	return true;
}

/* Extensions tracked for duplicate detection: a repeated one could make us
 * report a different value than the peer acts on. Each one's bit is its
 * index here (EXT_TRACK_* below count on this order). */
static const uint16_t tracked_exts[] = {
	EXT_SERVER_NAME,      EXT_ALPN,
	EXT_SESSION_TICKET,   EXT_SUPPORTED_VERSIONS,
	EXT_SUPPORTED_GROUPS, EXT_EC_POINT_FORMATS,
	EXT_SIGNATURE_ALGS,   EXT_PRE_SHARED_KEY,
	EXT_EARLY_DATA,	      EXT_KEY_SHARE,
};
_Static_assert(sizeof(tracked_exts) / sizeof(tracked_exts[0]) <= 32, "a uint32_t of bits");

/* The extension's bit, 0 if not tracked. */
static uint32_t ext_bit(uint16_t type)
{
	for (uint32_t i = 0; i < sizeof(tracked_exts) / sizeof(tracked_exts[0]); i++)
		if (tracked_exts[i] == type)
			return 1u << i;
	return 0;
}

/* The extensions each decoder reads, so the ones it may not see twice. */
#define EXT_TRACK_SH 0x00fu
#define EXT_TRACK_CH 0x3ffu
_Static_assert(EXT_TRACK_CH == (1u << (sizeof(tracked_exts) / sizeof(tracked_exts[0]))) - 1,
	       "a ClientHello tracks every extension of the table");

/* Append an ALPN name; whole names only, stops at the first that does not
 * fit. ',' and NUL would make the joined string ambiguous: shown as '?'. */
static void alpn_add(char *out, size_t *used, bool *full, const uint8_t *s, size_t n)
{
	size_t sep = *used ? 1 : 0;

	if (*full || n > TLS_ALPN_MAX - *used - sep) {
		*full = true;
		return;
	}
	if (sep)
		out[(*used)++] = ',';
	for (size_t i = 0; i < n; i++)
		out[(*used)++] = (s[i] == ',' || s[i] == 0) ? '?' : (char)s[i];
	out[*used] = 0;
}

/* ProtocolNameList (RFC 7301): non-empty list of non-empty names. ends, if
 * not NULL, gets the first and last byte of the first name (JA4 reads
 * them raw, whatever alpn_add made of them). */
static int alpn_list(struct rd *d, char *out, bool single, uint8_t *ends)
{
	struct rd l, name;
	size_t used = 0;
	bool full = false;
	unsigned count = 0;

	if (!rd_vec(d, 2, &l) || d->n != 0 || l.n == 0)
		return -1;
	while (l.n > 0) {
		if (!rd_vec(&l, 1, &name) || name.n == 0)
			return -1;
		if (ends && count == 0) {
			ends[0] = name.p[0];
			ends[1] = name.p[name.n - 1];
		}
		if (single && name.n > TLS_ALPN_MAX)
			name.n = TLS_ALPN_MAX; /* selected: keep a prefix */
		alpn_add(out, &used, &full, name.p, name.n);
		count++;
	}
	return single && count != 1 ? -1 : 0;
}

/* ---- ClientHello -------------------------------------------------------- */

/* One value of a bounded list: kept while there is room, always counted.
 * Totals cannot wrap: no list in a 2^24-byte message has 2^16 entries of
 * two bytes or more, and extensions take four bytes each. */
static void keep16(uint16_t *list, uint16_t *n, uint16_t *total, size_t max, uint16_t v)
{
	if (*n < max)
		list[(*n)++] = v;
	(*total)++;
}

#define KEEP(ch, name, max, v) keep16((ch)->name, &(ch)->n_##name, &(ch)->name##_total, max, v)

/* server_name (RFC 6066): one host_name; no NUL, which would let the
 * reported name differ from what the server compares. */
static int ch_sni(struct rd *d, struct tls_client_hello *ch)
{
	struct rd l, name;
	uint8_t type;
	const uint8_t *t;

	if (!rd_vec(d, 2, &l) || d->n != 0 || l.n == 0)
		return -1;
	while (l.n > 0) {
		if (!rd_bytes(&l, 1, &t) || !rd_vec(&l, 2, &name))
			return -1;
		type = t[0];
		if (type != 0)
			continue;
		if (ch->has_sni || name.n == 0 || memchr(name.p, 0, name.n))
			return -1;
		if (name.n > TLS_SNI_MAX)
			name.n = TLS_SNI_MAX;
		memcpy(ch->sni, name.p, name.n);
		ch->sni[name.n] = 0;
		ch->has_sni = true;
	}
	return 0;
}

static int ch_versions(struct rd *d, struct tls_client_hello *ch)
{
	struct rd l;
	uint16_t v;

	if (!rd_vec(d, 1, &l) || d->n != 0 || l.n < 2 || l.n % 2)
		return -1;
	while (rd_u16(&l, &v)) {
		if (wire_tls13_version(v))
			ch->offers_tls13 = true;
		KEEP(ch, versions, TLS_CH_VERSIONS_MAX, v);
	}
	return 0;
}

/*
 * supported_groups and signature_algorithms: a list of 16-bit values that
 * must fill the extension. An empty list is the server's to refuse; only a
 * list we cannot read makes the hello malformed.
 */
static int ch_u16_list(struct rd *d, uint16_t *list, uint16_t *n, uint16_t *total, size_t max)
{
	struct rd l;
	uint16_t v;

	if (!rd_vec(d, 2, &l) || d->n != 0 || l.n % 2)
		return -1;
	while (rd_u16(&l, &v))
		keep16(list, n, total, max, v);
	return 0;
}

static int ch_formats(struct rd *d, struct tls_client_hello *ch)
{
	struct rd l;
	const uint8_t *f;

	if (!rd_vec(d, 1, &l) || d->n != 0)
		return -1;
	while (rd_bytes(&l, 1, &f)) {
		if (ch->n_formats < TLS_CH_FORMATS_MAX)
			ch->formats[ch->n_formats++] = f[0];
		ch->formats_total++;
	}
	return 0;
}

/* KeyShareClientHello (RFC 8446 4.2.8): entries of group and key. */
static int ch_key_share(struct rd *d, struct tls_client_hello *ch)
{
	struct rd l, key;
	uint16_t g;

	if (!rd_vec(d, 2, &l) || d->n != 0)
		return -1;
	while (l.n > 0) {
		if (!rd_u16(&l, &g) || !rd_vec(&l, 2, &key))
			return -1;
		KEEP(ch, shares, TLS_CH_SHARES_MAX, g);
	}
	return 0;
}

static int ch_ext_cb(uint16_t type, struct rd *d, void *arg)
{
	struct tls_client_hello *ch = arg;

	KEEP(ch, exts, TLS_CH_EXTS_MAX, type);
	switch (type) {
	case EXT_SERVER_NAME:
		return ch_sni(d, ch);
	case EXT_ALPN:
		ch->has_alpn = true;
		return alpn_list(d, ch->alpn, false, ch->alpn_ends);
	case EXT_SUPPORTED_VERSIONS:
		return ch_versions(d, ch);
	case EXT_SESSION_TICKET:
		if (d->n > 0)
			ch->has_session = true;
		return 0;
	case EXT_SUPPORTED_GROUPS:
		return ch_u16_list(d, ch->groups, &ch->n_groups, &ch->groups_total,
				   TLS_CH_GROUPS_MAX);
	case EXT_SIGNATURE_ALGS:
		return ch_u16_list(d, ch->sigalgs, &ch->n_sigalgs, &ch->sigalgs_total,
				   TLS_CH_SIGALGS_MAX);
	case EXT_EC_POINT_FORMATS:
		return ch_formats(d, ch);
	case EXT_KEY_SHARE:
		return ch_key_share(d, ch);
	case EXT_PRE_SHARED_KEY:
		ch->has_psk = true;
		return 0;
	case EXT_EARLY_DATA:
		ch->has_early_data = true;
		return 0;
	}
	return 0;
}

/* Extensions block: must fill the rest of the body exactly. The types in
 * track (EXT_TRACK_*) may appear once. */
static int for_extensions(struct rd *r, int (*fn)(uint16_t, struct rd *, void *), void *arg,
			  uint32_t track)
{
	struct rd exts, d;
	uint32_t seen = 0, bit;
	uint16_t type;

	if (r->n == 0)
		return 0; /* no extensions: SSLv3 / TLS 1.0 style */
	if (!rd_vec(r, 2, &exts) || r->n != 0)
		return -1;
	while (exts.n > 0) {
		if (!rd_u16(&exts, &type) || !rd_vec(&exts, 2, &d))
			return -1;
		bit = ext_bit(type) & track;
		if (seen & bit)
			return -1;
		seen |= bit;
		if (fn(type, &d, arg) < 0)
			return -1;
	}
	return 0;
}

/* TLS and DTLS ClientHello differ only by DTLS's cookie<0..255>. */
static int client_hello(const uint8_t *b, size_t len, struct tls_client_hello *ch, bool dtls)
{
	struct rd r = { b, len }, v;
	const uint8_t *random;
	uint16_t suite;

	memset(ch, 0, sizeof(*ch));
	ch->dtls = dtls;
	if (!rd_u16(&r, &ch->version) || !rd_bytes(&r, 32, &random))
		return -1;
	memcpy(ch->random, random, 32);
	if (!rd_vec(&r, 1, &v) || v.n > 32) /* session_id */
		return -1;
	memcpy(ch->session_id, v.p, v.n);
	ch->session_id_len = (uint8_t)v.n;
	ch->has_session = v.n > 0;
	if (dtls && !rd_vec(&r, 1, &v)) /* cookie */
		return -1;
	if (!rd_vec(&r, 2, &v) || v.n < 2 || v.n % 2) /* cipher_suites */
		return -1;
	while (rd_u16(&v, &suite))
		KEEP(ch, suites, TLS_CH_SUITES_MAX, suite);
	if (!rd_vec(&r, 1, &v) || v.n < 1) /* compression_methods */
		return -1;
	return for_extensions(&r, ch_ext_cb, ch, EXT_TRACK_CH);
}

int tls_parse_client_hello(const uint8_t *b, size_t len, struct tls_client_hello *ch)
{
	return client_hello(b, len, ch, false);
}

int tls_parse_dtls_client_hello(const uint8_t *b, size_t len, struct tls_client_hello *ch)
{
	return client_hello(b, len, ch, true);
}

/*
 * SSLv2 CLIENT-HELLO (after msg_type): version, cipher_specs_length,
 * session_id_length, challenge_length, then the three fields. Lengths must
 * add up to the message exactly (SSLv2 spec; RFC 5246 E.2). Specs 00 xx yy
 * are the TLS suite xx yy; SSLv2's own are not kept.
 */
int tls_parse_ssl2_client_hello(const uint8_t *b, size_t len, struct tls_client_hello *ch)
{
	struct rd r = { b, len };
	const uint8_t *specs, *sid, *chal;
	uint16_t cs, sid_len, chal_len;

	memset(ch, 0, sizeof(*ch));
	ch->ssl2 = true;
	if (!rd_u16(&r, &ch->version) || !rd_u16(&r, &cs) || !rd_u16(&r, &sid_len) ||
	    !rd_u16(&r, &chal_len))
		return -1;
	if (cs == 0 || cs % 3 || sid_len > 32 || chal_len < 16 || chal_len > 32 ||
	    r.n != (size_t)cs + sid_len + chal_len)
		return -1;
	if (!rd_bytes(&r, cs, &specs) || !rd_bytes(&r, sid_len, &sid) ||
	    !rd_bytes(&r, chal_len, &chal))
		return -1; /* cannot happen: r.n checked */
	for (size_t i = 0; i < cs; i += 3)
		if (specs[i] == 0)
			KEEP(ch, suites, TLS_CH_SUITES_MAX,
			     (uint16_t)(specs[i + 1] << 8 | specs[i + 2]));
	memcpy(ch->session_id, sid, sid_len);
	ch->session_id_len = (uint8_t)sid_len;
	ch->has_session = sid_len > 0;
	memcpy(ch->random + 32 - chal_len, chal, chal_len);
	return 0;
}

/* ---- ServerHello -------------------------------------------------------- */

static int sh_ext_cb(uint16_t type, struct rd *d, void *arg)
{
	struct tls_server_hello *sh = arg;

	switch (type) {
	case EXT_SUPPORTED_VERSIONS:
		if (d->n != 2)
			return -1;
		rd_u16(d, &sh->version);
		return 0;
	case EXT_ALPN:
		return alpn_list(d, sh->alpn, true, NULL);
	}
	return 0;
}

int tls_parse_server_hello(const uint8_t *b, size_t len, struct tls_server_hello *sh)
{
	struct rd r = { b, len }, v;
	const uint8_t *random;

	memset(sh, 0, sizeof(*sh));
	if (!rd_u16(&r, &sh->legacy_version) || !rd_bytes(&r, 32, &random))
		return -1;
	sh->hrr = memcmp(random, hrr_random, 32) == 0;
	if (!rd_vec(&r, 1, &v) || v.n > sizeof(sh->session_id))
		return -1;
	memcpy(sh->session_id, v.p, v.n);
	sh->session_id_len = (uint8_t)v.n;
	if (!rd_u16(&r, &sh->cipher) || !rd_bytes(&r, 1, NULL)) /* compression */
		return -1;
	sh->version = sh->legacy_version;
	return for_extensions(&r, sh_ext_cb, sh, EXT_TRACK_SH);
}

/* ---- Certificate -------------------------------------------------------- */

int tls_parse_certificate(const uint8_t *b, size_t len, struct tls_cert_list *cl)
{
	struct rd r = { b, len }, c;

	memset(cl, 0, sizeof(*cl));
	/* The list length must match the message: a mismatch means a
	 * truncated or forged message, and no partial chain is reported. */
	if (!rd_vec(&r, 3, &c) || r.n != 0)
		return -1;
	while (c.n > 0) {
		struct rd der;

		if (!rd_vec(&c, 3, &der) || der.n == 0)
			return -1;
		if (cl->n < TLS_CHAIN_MAX) {
			cl->der[cl->n] = der.p;
			cl->der_len[cl->n] = (uint32_t)der.n;
			cl->n++;
		}
		cl->total++; /* <= 2^24 / 4: cannot wrap */
	}
	return 0;
}

/*
 * SSLv2 SERVER-HELLO (after msg_type): session_id_hit, certificate_type,
 * version, certificate_length, cipher_specs_length, connection_id_length,
 * then the certificate, cipher specs and connection id. On a session-id
 * hit there is no certificate (its type and length are then 0).
 */
int tls_parse_ssl2_server_hello(const uint8_t *b, size_t len, struct tls_server_hello *sh,
				struct tls_cert_list *cl)
{
	struct rd r = { b, len };
	const uint8_t *h, *cert;
	uint16_t clen, cs, cid;

	memset(sh, 0, sizeof(*sh));
	memset(cl, 0, sizeof(*cl));
	if (!rd_bytes(&r, 2, &h) || !rd_u16(&r, &sh->legacy_version) || !rd_u16(&r, &clen) ||
	    !rd_u16(&r, &cs) || !rd_u16(&r, &cid))
		return -1;
	if (r.n != (size_t)clen + cs + cid || cs % 3 || cid < 16 || cid > 32)
		return -1;
	if (h[0] ? clen != 0 : (h[1] != 1 || clen == 0)) /* 1: X.509 */
		return -1;
	if (!rd_bytes(&r, clen, &cert))
		return -1;
	sh->version = TLS_V_SSL2; /* SSLv2 whatever the field says */
	if (clen) {
		cl->der[0] = cert;
		cl->der_len[0] = clen;
		cl->n = cl->total = 1;
	}
	return 0;
}

/* ---- CertificateStatus -------------------------------------------------- */

/* RFC 6066 8: status_type ocsp(1), then OCSPResponse<1..2^24-1>, which
 * must fill the message. */
int tls_parse_certificate_status(const uint8_t *b, size_t len, const uint8_t **der, size_t *der_len)
{
	struct rd r = { b, len }, v;
	const uint8_t *t;

	*der = NULL;
	*der_len = 0;
	if (!rd_bytes(&r, 1, &t) || t[0] != 1 || !rd_vec(&r, 3, &v) || r.n != 0 || v.n == 0)
		return -1;
	*der = v.p;
	*der_len = v.n;
	return 0;
}

/* ---- names -------------------------------------------------------------- */

const char *tls_version_number(uint16_t v)
{
	if (wire_tls13_version(v))
		return "1.3"; /* DTLS 1.3 and the drafts too */
	switch (v) {
	case TLS_V_SSL2:
		return "2";
	case TLS_V_SSL3:
		return "3.0";
	case TLS_V_10:
		return "1.0";
	case TLS_V_11:
		return "1.1";
	case TLS_V_12:
		return "1.2";
	case DTLS_V_10:
		return "1.0";
	case DTLS_V_12:
		return "1.2";
	}
	return NULL;
}

const char *tls_version_protocol(uint16_t v)
{
	if (!tls_version_number(v))
		return NULL;
	if (v == TLS_V_SSL3 || v == TLS_V_SSL2)
		return "ssl";
	return (v >> 8) == DTLS_MAJOR ? "dtls" : "tls";
}

/* Suites OpenSSL 3.0 no longer knows but that old peers still offer. */
static const struct {
	uint16_t id;
	const char *name;
} old_suites[] = {
	{ 0x0000, "TLS_NULL_WITH_NULL_NULL" },
	{ 0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5" },
	{ 0x0004, "TLS_RSA_WITH_RC4_128_MD5" },
	{ 0x0005, "TLS_RSA_WITH_RC4_128_SHA" },
	{ 0x0008, "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA" },
	{ 0x0009, "TLS_RSA_WITH_DES_CBC_SHA" },
	{ 0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA" },
	{ 0x0013, "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA" },
	{ 0x0015, "TLS_DHE_RSA_WITH_DES_CBC_SHA" },
	{ 0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA" },
	{ 0x0018, "TLS_DH_anon_WITH_RC4_128_MD5" },
	{ 0x001B, "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA" },
	{ 0x00FF, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV" },
	{ 0x5600, "TLS_FALLBACK_SCSV" },
	{ 0xC007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA" },
	{ 0xC008, "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA" },
	{ 0xC011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA" },
	{ 0xC012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA" },
};

/* One SSL object for SSL_CIPHER_find, made once; it is only read after
 * that (a bsearch over static tables), so threads may share it. It is
 * never freed: one small allocation for the life of the process. */
static SSL *cipher_ssl;
static pthread_once_t cipher_once = PTHREAD_ONCE_INIT;

static void cipher_init(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_method());

	if (!ctx)
		return;
	cipher_ssl = SSL_new(ctx);
	SSL_CTX_free(ctx); /* the SSL keeps its own reference */
}

const char *tls_cipher_name(uint16_t id)
{
	const uint8_t b[2] = { (uint8_t)(id >> 8), (uint8_t)id };
	const SSL_CIPHER *c = NULL;
	const char *name = NULL;

	pthread_once(&cipher_once, cipher_init);
	if (cipher_ssl)
		c = SSL_CIPHER_find(cipher_ssl, b);
	if (c)
		name = SSL_CIPHER_standard_name(c);
	if (name)
		return name;
	for (size_t i = 0; i < sizeof(old_suites) / sizeof(old_suites[0]); i++)
		if (old_suites[i].id == id)
			return old_suites[i].name;
	return NULL;
}

static const char *const alert_names[] = {
	[0] = "close_notify",
	[10] = "unexpected_message",
	[20] = "bad_record_mac",
	[21] = "decryption_failed",
	[22] = "record_overflow",
	[30] = "decompression_failure",
	[40] = "handshake_failure",
	[41] = "no_certificate",
	[42] = "bad_certificate",
	[43] = "unsupported_certificate",
	[44] = "certificate_revoked",
	[45] = "certificate_expired",
	[46] = "certificate_unknown",
	[47] = "illegal_parameter",
	[48] = "unknown_ca",
	[49] = "access_denied",
	[50] = "decode_error",
	[51] = "decrypt_error",
	[60] = "export_restriction",
	[70] = "protocol_version",
	[71] = "insufficient_security",
	[80] = "internal_error",
	[86] = "inappropriate_fallback",
	[90] = "user_canceled",
	[100] = "no_renegotiation",
	[109] = "missing_extension",
	[110] = "unsupported_extension",
	[111] = "certificate_unobtainable",
	[112] = "unrecognized_name",
	[113] = "bad_certificate_status_response",
	[114] = "bad_certificate_hash_value",
	[115] = "unknown_psk_identity",
	[116] = "certificate_required",
	[120] = "no_application_protocol",
};

const char *tls_alert_name(uint8_t desc)
{
	if (desc >= sizeof(alert_names) / sizeof(alert_names[0]))
		return NULL;
	return alert_names[desc];
}

/* ---- TLS 1.3 Certificate ------------------------------------------------- */

#define EXT_STATUS_REQUEST 5

/* One CertificateEntry's extensions: each type once, filling the block.
 * status_request holds a CertificateStatus (RFC 8446 4.4.2.1). */
static int cert13_extensions(struct rd *e, bool leaf, const uint8_t **ocsp, size_t *ocsp_len)
{
	uint16_t types[16];
	unsigned ntypes = 0;

	while (e->n > 0) {
		struct rd d;
		uint16_t type;

		if (!rd_u16(e, &type) || !rd_vec(e, 2, &d))
			return -1;
		for (unsigned i = 0; i < ntypes; i++)
			if (types[i] == type)
				return -1;
		if (ntypes == sizeof(types) / sizeof(types[0]))
			return -1; /* more kinds than TLS 1.3 defines for an entry */
		types[ntypes++] = type;
		if (type == EXT_STATUS_REQUEST && leaf &&
		    tls_parse_certificate_status(d.p, d.n, ocsp, ocsp_len) < 0)
			return -1;
	}
	return 0;
}

int tls_parse_certificate13(const uint8_t *b, size_t len, struct tls_cert_list *cl,
			    const uint8_t **ocsp, size_t *ocsp_len)
{
	struct rd r = { b, len }, ctx, list;

	memset(cl, 0, sizeof(*cl));
	*ocsp = NULL;
	*ocsp_len = 0;
	if (!rd_vec(&r, 1, &ctx) || !rd_vec(&r, 3, &list) || r.n != 0)
		return -1;
	while (list.n > 0) {
		struct rd der, ext;

		if (!rd_vec(&list, 3, &der) || der.n == 0 || !rd_vec(&list, 2, &ext) ||
		    cert13_extensions(&ext, cl->total == 0, ocsp, ocsp_len) < 0)
			goto bad;
		if (cl->n < TLS_CHAIN_MAX) {
			cl->der[cl->n] = der.p;
			cl->der_len[cl->n] = (uint32_t)der.n;
			cl->n++;
		}
		cl->total++; /* <= 2^24 / 6: cannot wrap */
	}
	return 0;
bad:
	memset(cl, 0, sizeof(*cl));
	*ocsp = NULL;
	*ocsp_len = 0;
	return -1;
}
