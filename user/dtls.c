/* dtls.c - DTLS records and handshake fragment reassembly, for hostile datagrams. */
#include "dtls.h"

#include <stdlib.h>
#include <string.h>

#define DTLS_REC_MAX (16384 + 2048) /* DTLSCiphertext bound, RFC 6347 4.1 */
#define DTLS_PEEK    8		    /* body bytes reported of other records */
#define MSG_HARD     0xFFFFFFu	    /* the 24-bit length field */
#define MSG_CAP0     1024
#define CT_TLS12_CID 25 /* RFC 9146: a connection id of unknown length */
#define CT_ACK	     26 /* RFC 9147 */

struct dtls_msg {
	bool used;
	bool known; /* type and len set by a first fragment */
	uint8_t type;
	uint16_t seq;
	uint32_t len;	      /* body length all its fragments claim */
	uint32_t have;	      /* distinct body bytes received */
	uint32_t cap;	      /* bytes allocated; bits covers cap too */
	uint8_t *body, *bits; /* bits: one per body byte received */
};

void dtls_parser_init(struct dtls_parser *p, uint32_t msg_max)
{
	memset(p, 0, sizeof(*p));
	if (msg_max == 0)
		msg_max = TLS_MSG_MAX_DEFAULT;
	p->msg_max = msg_max > MSG_HARD ? MSG_HARD : msg_max;
}

static void msg_clear(struct dtls_msg *m)
{
	free(m->body);
	free(m->bits);
	memset(m, 0, sizeof(*m));
}

/* Also ends the parser: a callback may call it in the middle of a datagram. */
void dtls_parser_free(struct dtls_parser *p)
{
	if (p->msgs) {
		for (int i = 0; i < DTLS_MSGS_MAX; i++)
			msg_clear(&p->msgs[i]);
		free(p->msgs);
		p->msgs = NULL;
	}
	p->failed = true;
}

static int fail(struct dtls_parser *p, const struct tls_cb *cb, void *ctx, const char *what)
{
	p->failed = true;
	if (cb && cb->error)
		cb->error(ctx, what);
	return -1;
}

static uint32_t get16(const uint8_t *b)
{
	return (uint32_t)b[0] << 8 | b[1];
}

static uint32_t get24(const uint8_t *b)
{
	return (uint32_t)b[0] << 16 | (uint32_t)b[1] << 8 | b[2];
}

/*
 * The slot for message seq, new if need be. When all slots are taken, the
 * message furthest ahead gives way to an earlier one: delivery is in order,
 * so the earliest are the ones that can make progress. NULL: no room.
 */
static struct dtls_msg *msg_slot(struct dtls_parser *p, uint16_t seq)
{
	struct dtls_msg *free_m = NULL, *hi = NULL;

	for (int i = 0; i < DTLS_MSGS_MAX; i++) {
		struct dtls_msg *m = &p->msgs[i];

		if (!m->used) {
			if (!free_m)
				free_m = m;
			continue;
		}
		if (m->seq == seq)
			return m;
		if (!hi || m->seq > hi->seq)
			hi = m;
	}
	if (!free_m) {
		if (hi->seq < seq)
			return NULL;
		msg_clear(hi);
		free_m = hi;
	}
	free_m->used = true;
	free_m->seq = seq;
	return free_m;
}

/* Room for body bytes [0, end): grown as fragments arrive, not to the
 * claimed length at once, so a lying length costs only what was sent. */
static int msg_grow(struct dtls_msg *m, uint32_t end)
{
	uint32_t cap = m->cap ? m->cap : MSG_CAP0;
	size_t ob = ((size_t)m->cap + 7) / 8, nb;
	uint8_t *b;

	if (end <= m->cap)
		return 0;
	while (cap < end) /* end <= 2^24 - 1: no overflow */
		cap *= 2;
	if (cap > m->len)
		cap = m->len;
	nb = ((size_t)cap + 7) / 8;
	if (!(b = realloc(m->body, cap)))
		return -1;
	m->body = b;
	if (!(b = realloc(m->bits, nb)))
		return -1;
	memset(b + ob, 0, nb - ob);
	m->bits = b;
	m->cap = cap;
	return 0;
}

/* Copy in the bytes not yet held (the first copy of a byte wins). Returns
 * how many were new. */
static uint32_t msg_fill(struct dtls_msg *m, uint32_t off, const uint8_t *d, uint32_t n)
{
	uint32_t added = 0;

	for (uint32_t i = off; i < off + n; i++) {
		uint8_t bit = (uint8_t)(1u << (i & 7));

		if (m->bits[i >> 3] & bit)
			continue;
		m->bits[i >> 3] |= bit;
		m->body[i] = d[i - off];
		added++;
	}
	m->have += added;
	return added;
}

static bool msg_complete(const struct dtls_msg *m)
{
	return m->used && m->have == m->len;
}

/* Nothing delivered yet and message next_seq is missing, but the earliest
 * message held is a complete hello: the capture missed the start (or the
 * first ClientHello), so the sequence starts there. */
static void resync(struct dtls_parser *p)
{
	struct dtls_msg *lo = NULL;

	for (int i = 0; i < DTLS_MSGS_MAX; i++)
		if (p->msgs[i].used && (!lo || p->msgs[i].seq < lo->seq))
			lo = &p->msgs[i];
	if (lo && lo->seq > p->next_seq && msg_complete(lo) &&
	    (lo->type == TLS_HS_CLIENT_HELLO || lo->type == TLS_HS_SERVER_HELLO ||
	     lo->type == TLS_HS_HELLO_VERIFY_REQUEST))
		p->next_seq = lo->seq;
}

/* Deliver complete messages in message_seq order, each once. */
static int deliver(struct dtls_parser *p, const struct tls_cb *cb, void *ctx)
{
	for (;;) {
		struct dtls_msg *m = NULL, taken;

		if (!p->started)
			resync(p);
		for (int i = 0; i < DTLS_MSGS_MAX && !m; i++)
			if (p->msgs[i].used && p->msgs[i].seq == p->next_seq)
				m = &p->msgs[i];
		if (!m || !msg_complete(m))
			return 0;
		/* Detached first: the callback may free the parser. */
		taken = *m;
		memset(m, 0, sizeof(*m));
		p->next_seq++;
		p->started = true;
		if (cb && cb->handshake)
			cb->handshake(ctx, taken.type, taken.len ? taken.body : (const uint8_t *)"",
				      taken.len);
		msg_clear(&taken);
		if (p->failed)
			return -1;
	}
}

/* Handshake fragments of one epoch-0 record. A fragment breaking a rule is
 * skipped (its length is still known); a header that does not fit ends the
 * record. */
static int hs_record(struct dtls_parser *p, const uint8_t *d, size_t n, const struct tls_cb *cb,
		     void *ctx)
{
	while (n > 0) {
		uint32_t len, off, flen;
		uint16_t seq;
		uint8_t type;
		struct dtls_msg *m;

		if (n < DTLS_HS_HDR_LEN || (flen = get24(d + 9)) > n - DTLS_HS_HDR_LEN) {
			p->stats.bad_records++;
			return 0;
		}
		type = d[0];
		len = get24(d + 1);
		seq = (uint16_t)get16(d + 4);
		off = get24(d + 6);
		d += DTLS_HS_HDR_LEN;
		n -= DTLS_HS_HDR_LEN;
		p->stats.fragments++;
		if (len > p->msg_max || off > len || flen > len - off) {
			p->stats.bad_records++;
		} else if (seq < p->next_seq) {
			p->stats.dup_fragments++; /* retransmitted, delivered */
		} else {
			if (!p->msgs && !(p->msgs = calloc(DTLS_MSGS_MAX, sizeof(*p->msgs))))
				return fail(p, cb, ctx, "out of memory");
			if (!(m = msg_slot(p, seq))) {
				p->stats.bad_records++; /* too far ahead, no room */
			} else if (m->known && (m->type != type || m->len != len)) {
				p->stats.bad_records++; /* disagrees with earlier fragments */
			} else {
				m->known = true;
				m->type = type;
				m->len = len;
				if (flen && msg_grow(m, off + flen) < 0)
					return fail(p, cb, ctx, "out of memory");
				if (flen && msg_fill(m, off, d, flen) == 0)
					p->stats.dup_fragments++;
				if (msg_complete(m) && deliver(p, cb, ctx) < 0)
					return -1;
			}
		}
		d += flen;
		n -= flen;
	}
	return 0;
}

static void report(const struct tls_cb *cb, void *ctx, uint8_t type, uint16_t version,
		   const uint8_t *body, size_t avail, size_t len)
{
	if (avail > DTLS_PEEK)
		avail = DTLS_PEEK;
	if (cb && cb->record)
		cb->record(ctx, type, version, body, avail, len);
}

/*
 * DTLS 1.3 unified header (RFC 9147 4): 001CSLEE, [CID], seq(1 or 2),
 * [length(2)]. Returns the bytes it takes, 0 if the rest is bad. Without
 * a length, or with a connection id whose length only the endpoints
 * know, the record is the rest of the datagram.
 */
static size_t unified(struct dtls_parser *p, const uint8_t *d, size_t n, const struct tls_cb *cb,
		      void *ctx)
{
	size_t h = 1 + ((d[0] & 0x08) ? 2 : 1), rlen;

	if (d[0] & 0x10) {
		p->stats.records++;
		report(cb, ctx, TLS_CT_APPDATA, DTLS_V_13, d, 0, n);
		return n;
	}
	if (n < h + ((d[0] & 0x04) ? 2 : 0)) {
		p->stats.bad_records++;
		return 0;
	}
	if (d[0] & 0x04) {
		rlen = get16(d + h);
		h += 2;
		if (rlen > n - h) {
			p->stats.bad_records++;
			return 0;
		}
	} else {
		rlen = n - h;
	}
	p->stats.records++;
	report(cb, ctx, TLS_CT_APPDATA, DTLS_V_13, d + h, rlen, rlen);
	return h + rlen;
}

int dtls_feed_datagram(struct dtls_parser *p, const uint8_t *d, size_t len, const struct tls_cb *cb,
		       void *ctx)
{
	if (p->failed)
		return -1;
	p->stats.datagrams++;
	/* RFC 7983 5: the first byte tells what a datagram on a shared port is. */
	if (len == 0 || d[0] < 20 || d[0] > 63) {
		if (len && d[0] <= 3)
			p->stats.stun++;
		else
			p->stats.not_dtls++;
		return 0;
	}
	while (len > 0 && !p->failed) {
		uint8_t type = d[0];
		uint16_t version, epoch;
		size_t rlen, k;

		if (type >= 32 && type <= 63) {
			if (!(k = unified(p, d, len, cb, ctx)))
				break;
			d += k;
			len -= k;
			continue;
		}
		if (type < TLS_CT_CCS || type > CT_ACK || len < DTLS_HDR_LEN ||
		    d[1] != DTLS_MAJOR) {
			p->stats.bad_records++; /* garbage: the rest of the datagram */
			break;
		}
		version = (uint16_t)get16(d + 1);
		epoch = (uint16_t)get16(d + 3);
		if (type == CT_TLS12_CID) {
			p->stats.records++;
			report(cb, ctx, type, version, d, 0, len);
			break;
		}
		rlen = get16(d + 11);
		if (rlen > len - DTLS_HDR_LEN || rlen > DTLS_REC_MAX) {
			p->stats.bad_records++;
			break;
		}
		p->stats.records++;
		/* Sequence numbers are not checked: jumps and replays are normal
		 * on UDP, and duplicates are caught per handshake message. */
		if (type == TLS_CT_HANDSHAKE && epoch == 0) {
			if (hs_record(p, d + DTLS_HDR_LEN, rlen, cb, ctx) < 0)
				return -1;
		} else {
			report(cb, ctx, type, version, d + DTLS_HDR_LEN, rlen, rlen);
		}
		d += DTLS_HDR_LEN + rlen;
		len -= DTLS_HDR_LEN + rlen;
	}
	return p->failed ? -1 : 0;
}
