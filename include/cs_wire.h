/* cs_wire.h - TLS, SSLv2 and DTLS wire facts and recognisers, shared by kernel and userspace. */
#ifndef CS_WIRE_H
#define CS_WIRE_H

/*
 * One definition of "is this TLS" for bpf/certsentry.bpf.c (clang -target
 * bpf, after vmlinux.h), the offline selection (user/select.c), the
 * connection table (user/flow.c) and the parsers (user/tls.c, user/dtls.c).
 * Every recogniser takes the bytes and how many of them there are, reads
 * nothing past that, and is small enough for the verifier: no loops, only
 * constant offsets.
 */
#ifdef __bpf__
#define WIRE_FN static inline __attribute__((always_inline)) /* vmlinux.h: __u8.., bool */
#else
#include <stdbool.h>
#include <linux/types.h>
#define WIRE_FN static inline
#endif
#include "certsentry.h" /* enum cs_mode */

/* Record content types (TLS and DTLS alike). */
#define TLS_CT_CCS	 20
#define TLS_CT_ALERT	 21
#define TLS_CT_HANDSHAKE 22
#define TLS_CT_APPDATA	 23
#define TLS_CT_HEARTBEAT 24

/* Handshake message types. */
#define TLS_HS_CLIENT_HELLO	    1
#define TLS_HS_SERVER_HELLO	    2
#define TLS_HS_HELLO_VERIFY_REQUEST 3 /* DTLS */
#define TLS_HS_CERTIFICATE	    11
#define TLS_HS_SERVER_KEY_EXCHANGE  12
#define TLS_HS_CERTIFICATE_REQUEST  13
#define TLS_HS_SERVER_HELLO_DONE    14
#define TLS_HS_CLIENT_KEY_EXCHANGE  16
#define TLS_HS_CERTIFICATE_STATUS   22

/* Protocol versions as they appear on the wire. */
#define TLS_V_SSL2    0x0002
#define TLS_V_SSL3    0x0300
#define TLS_V_10      0x0301
#define TLS_V_11      0x0302
#define TLS_V_12      0x0303
#define TLS_V_13      0x0304
#define DTLS_V_10     0xfeff
#define DTLS_V_12     0xfefd
#define DTLS_V_13     0xfefc
#define TLS_MAJOR     3 /* record versions 03 00 (SSL 3.0) .. 03 04 */
#define TLS_MINOR_MAX 4
#define DTLS_MAJOR    0xfe /* record versions fe ff, fe fd, fe fc */

#define TLS_ALERT_WARNING 1
#define TLS_ALERT_FATAL	  2

/* Header lengths. */
#define TLS_HDR_LEN	5  /* type, version(2), length(2) */
#define TLS_HS_HDR_LEN	4  /* type, length(3) */
#define TLS_ALERT_LEN	7  /* a whole alert record: header, level, description */
#define SSL2_HDR_LEN	2  /* 2-byte form: high bit set, 15-bit length */
#define DTLS_HDR_LEN	13 /* type, version(2), epoch(2), seq(6), length(2) */
#define DTLS_HS_HDR_LEN 12 /* type, length(3), seq(2), offset(3), fragment length(3) */

/* RFC 7983: a UDP datagram whose first byte is 20..63 is DTLS. */
#define DTLS_MUX_MIN 20
#define DTLS_MUX_MAX 63

/* Bytes a TCP payload's start is judged on (wire_tcp_start): under
 * WIRE_START_SHORT only a hello header prefix can match, and only 8 can
 * show an SSLv2 hello. */
#define WIRE_START_PEEK	 8
#define WIRE_START_SHORT 6
/* A DTLS hello is judged on 14 bytes (header and handshake type), asked of
 * datagrams of at least 16. */
#define DTLS_HELLO_PEEK 16

/* TLS 1.3 or DTLS 1.3, final or draft (7f xx, and 7e xx of Facebook's
 * drafts): the handshake past the ServerHello is encrypted. */
WIRE_FN bool wire_tls13_version(__u16 v)
{
	return v == TLS_V_13 || v == DTLS_V_13 || (v >> 8) == 0x7f || (v >> 8) == 0x7e;
}

/* 03 {00..04}: a TLS record version, at b. */
WIRE_FN bool wire_tls_version(const __u8 *b)
{
	return b[0] == TLS_MAJOR && b[1] <= TLS_MINOR_MAX;
}

/* 16 03 {00..04} len(2) {01|02}: a handshake record starting with a
 * ClientHello or ServerHello. */
WIRE_FN bool wire_tls_hello(const __u8 *b, __u32 n)
{
	return n >= TLS_HDR_LEN + 1 && b[0] == TLS_CT_HANDSHAKE && wire_tls_version(b + 1) &&
	       (b[5] == TLS_HS_CLIENT_HELLO || b[5] == TLS_HS_SERVER_HELLO);
}

/*
 * 1..5 bytes that may begin a hello's record header: 16, then 03, then
 * {00..04}, as far as they go (bytes 3-4, the length, are anything). A peer
 * may send its first bytes alone; the record walk completes the header.
 */
WIRE_FN bool wire_tls_hello_prefix(const __u8 *b, __u32 n)
{
	if (n < 1 || n > TLS_HDR_LEN || b[0] != TLS_CT_HANDSHAKE)
		return false;
	return (n < 2 || b[1] == TLS_MAJOR) && (n < 3 || b[2] <= TLS_MINOR_MAX);
}

/* 15 03 {00..04} 00 02 {01|02}: a whole alert record, warning or fatal. */
WIRE_FN bool wire_tls_alert(const __u8 *b, __u32 n)
{
	return n >= TLS_HDR_LEN + 1 && b[0] == TLS_CT_ALERT && wire_tls_version(b + 1) &&
	       b[3] == 0 && b[4] == 2 && (b[5] == TLS_ALERT_WARNING || b[5] == TLS_ALERT_FATAL);
}

/* Length of an SSLv2 record with a 2-byte header (the 15 bits after the top one). */
WIRE_FN __u32 wire_ssl2_rec_len(const __u8 *b)
{
	return (__u32)(b[0] & 0x7f) << 8 | b[1];
}

/*
 * An SSLv2 record with a 2-byte header, its first 8 bytes: CLIENT-HELLO (1),
 * version 0.2 or 3.0-3.4 (a TLS client's compatible hello), a non-empty
 * list of whole 3-byte cipher specs that fits in the record, a session id
 * shorter than 256 bytes; or SERVER-HELLO (4), session-id-hit 0|1,
 * certificate type 1 (X.509), version 0.2. The checks past the version
 * matter: an SSLv2 direction is not walked but copied to the cap, so a
 * false start on binary data is expensive.
 */
WIRE_FN bool wire_ssl2_hello(const __u8 *b, __u32 n)
{
	__u32 specs;

	if (n < WIRE_START_PEEK || !(b[0] & 0x80))
		return false;
	if (b[2] == 4)
		return b[3] <= 1 && b[4] == 1 && b[5] == 0 && b[6] == 2;
	if (b[2] != 1 || !((b[3] == 0 && b[4] == 2) || wire_tls_version(b + 3)))
		return false;
	specs = (__u32)b[5] << 8 | b[6];
	return specs && specs % 3 == 0 && 9 + specs <= wire_ssl2_rec_len(b) && b[7] == 0;
}

/* What the start of a TCP payload may begin (wire_tcp_start). */
enum wire_start {
	WIRE_NOT_TLS = 0,
	WIRE_TLS_CLIENT_HELLO,
	WIRE_TLS_SERVER_HELLO,
	WIRE_TLS_PREFIX, /* 1..5 bytes of a hello's record header */
	WIRE_SSL2_CLIENT_HELLO,
	WIRE_SSL2_SERVER_HELLO,
	WIRE_ALERT_WARNING, /* alerts start a direction only if */
	WIRE_ALERT_FATAL,   /* its reverse is tracked: the caller asks */
};

/*
 * The first n bytes of a TCP payload: min(payload, WIRE_START_PEEK), or 6
 * of a payload of 7 (an alert or hello header needs no more). A payload
 * under WIRE_START_SHORT bytes must be given whole: it can only be a hello
 * header prefix.
 */
WIRE_FN enum wire_start wire_tcp_start(const __u8 *b, __u32 n)
{
	if (n < WIRE_START_SHORT)
		return wire_tls_hello_prefix(b, n) ? WIRE_TLS_PREFIX : WIRE_NOT_TLS;
	if (b[0] & 0x80) {
		if (!wire_ssl2_hello(b, n))
			return WIRE_NOT_TLS;
		return b[2] == 1 ? WIRE_SSL2_CLIENT_HELLO : WIRE_SSL2_SERVER_HELLO;
	}
	if (wire_tls_hello(b, n))
		return b[5] == TLS_HS_CLIENT_HELLO ? WIRE_TLS_CLIENT_HELLO : WIRE_TLS_SERVER_HELLO;
	if (wire_tls_alert(b, n))
		return b[5] == TLS_ALERT_WARNING ? WIRE_ALERT_WARNING : WIRE_ALERT_FATAL;
	return WIRE_NOT_TLS;
}

/*
 * How a direction that starts with k is copied (an enum cs_mode of
 * certsentry.h), or -1 for not at all. CS_MODE_ALERT stands only while the
 * reverse direction is tracked: the caller looks, as only it can. *client:
 * a (TLS or SSLv2) ClientHello; *skip: bytes the record walk hops over at
 * the start (a warning alert, after which the handshake goes on).
 */
WIRE_FN int wire_start_mode(enum wire_start k, __u8 *client, __u32 *skip)
{
	*client = k == WIRE_TLS_CLIENT_HELLO || k == WIRE_SSL2_CLIENT_HELLO;
	*skip = k == WIRE_ALERT_WARNING ? TLS_ALERT_LEN : 0;
	switch (k) {
	case WIRE_TLS_CLIENT_HELLO:
	case WIRE_TLS_SERVER_HELLO:
	case WIRE_TLS_PREFIX:
		return CS_MODE_TLS;
	case WIRE_SSL2_CLIENT_HELLO:
	case WIRE_SSL2_SERVER_HELLO:
		return CS_MODE_SSL2;
	case WIRE_ALERT_WARNING:
	case WIRE_ALERT_FATAL:
		return CS_MODE_ALERT;
	default:
		return -1;
	}
}

/*
 * The continuation rule: a TCP payload segment that continues, byte for
 * byte, a payload segment of its direction sent without PSH cannot start a
 * direction, so its payload is not looked at. Senders set PSH on the last
 * segment of a write (Linux unless MSG_MORE or TCP_CORK; TSO keeps it on
 * the last piece and GRO on the merged packet), so a hello written on its
 * own follows a PSH segment or none. What it misses is a hello written
 * right after a write the stack sent without PSH: a corked one (a PROXY
 * protocol header sent with MSG_MORE), or, on stacks that push only when
 * the send buffer empties (BSD), one still queued when the hello was
 * written. Bulk data that is not TLS then costs no payload read per segment
 * (on paged packets a copy of a cold cache line).
 *
 * *cont holds where the last non-PSH payload segment asked about ended,
 * tagged with its direction's hint mix (cs_hint_mix) so that another
 * direction sharing the slot (the kernel's hint bucket, struct cs_hint)
 * almost never matches: it only overwrites it, which costs a peek. Asked
 * only where a segment could start a direction: in an untracked direction,
 * or outside a tracked one's window (a new connection on the same ports).
 * True: it continues (do not peek). It leaves its own end unless it has PSH.
 */
WIRE_FN bool wire_tcp_continues(__u32 *cont, __u32 mix, __u32 seq, __u32 plen, __u8 flags)
{
	bool hit = plen && *cont == (seq ^ mix);

	if (plen && !(flags & CS_TCP_PSH))
		*cont = (seq + plen) ^ mix;
	return hit;
}

/* Which port of a direction that starts as it does is the server's. */
enum wire_side {
	WIRE_SIDE_EITHER = 0, /* a hello header prefix, an alert: could be either */
	WIRE_SIDE_DST,	      /* a ClientHello: sent to the server */
	WIRE_SIDE_SRC,	      /* a ServerHello (or HelloVerifyRequest): sent by it */
};

WIRE_FN enum wire_side wire_tcp_side(enum wire_start k)
{
	if (k == WIRE_TLS_CLIENT_HELLO || k == WIRE_SSL2_CLIENT_HELLO)
		return WIRE_SIDE_DST;
	if (k == WIRE_TLS_SERVER_HELLO || k == WIRE_SSL2_SERVER_HELLO)
		return WIRE_SIDE_SRC;
	return WIRE_SIDE_EITHER;
}

/*
 * --port in the kernel (and select.c): may a direction from sport to dport
 * start, its server on side? An alert starts a direction only while the
 * reverse one is tracked, which passed this already: either port will do.
 */
WIRE_FN bool wire_port_wanted(const volatile struct cs_port_set *set, enum wire_side side,
			      __u16 sport, __u16 dport)
{
	if (!set->on)
		return true;
	if (side != WIRE_SIDE_SRC && cs_port_in(set, dport))
		return true;
	return side != WIRE_SIDE_DST && cs_port_in(set, sport);
}

/*
 * The walk over a TCP direction's TLS records (the kernel, select.c and
 * flow.c each walk with these): it takes handshake records, goes on past a
 * ChangeCipherSpec, and stops at the first record it does not take; the copy
 * then ends with that record's header and CS_TAIL_BYTES of it.
 *
 * - A ChangeCipherSpec no longer ends the handshake by itself: the record
 *   after it decides. A handshake record holding a hello (its handshake
 *   type 1 or 2, and a handshake length that fits the record) is TLS 1.3's
 *   HelloRetryRequest dance (HRR, CCS, ServerHello; or the client's CCS
 *   before its second ClientHello): the walk goes on. Any other handshake
 *   record is TLS 1.2's encrypted Finished: stop there.
 * - Application data right after handshake records or a CCS is TLS 1.3's
 *   encrypted part: stop there, unless the direction may take enc_max
 *   encrypted records whole (a key source can decrypt them): then those are
 *   taken, and the walk stops at the record after the last one, or at any
 *   record among them that is not application data.
 * - Anything else (an alert, a heartbeat, junk) stops the walk.
 *
 * The unit the walk reads next at w->rec is a record header, or, after a
 * handshake record header that follows a CCS, that record's first 4 body
 * bytes (the handshake header): wire_walk_need() says how many.
 */
enum wire_walk_phase {
	WIRE_WALK_OFF = 0,   /* not walked (SSLv2, DTLS), or stopped */
	WIRE_WALK_CLEAR,     /* handshake in the clear */
	WIRE_WALK_CCS,	     /* just after a ChangeCipherSpec */
	WIRE_WALK_HELLO,     /* a handshake record after a CCS: its handshake header next */
	WIRE_WALK_ENCRYPTED, /* TLS 1.3's encrypted records, taken whole */
};

/* What a unit did to the walk (wire_walk_unit). */
enum wire_step {
	WIRE_STOP = 0, /* stop at the record at w->rec */
	WIRE_NEXT,     /* went on; no bytes of a record taken yet (a CCS, a header
				 * whose handshake header decides) */
	WIRE_TOOK,     /* went on past a record it takes: handshake or encrypted */
};

struct wire_walk {
	__u32 rec;    /* stream position of the unit to read */
	__u16 body;   /* WIRE_WALK_HELLO: body length of the record at rec - 5 */
	__u8 phase;   /* enum wire_walk_phase */
	__u8 enc;     /* encrypted records taken */
	__u8 enc_max; /* encrypted records this direction may take */
};

/* A TLS 1.3 encrypted alert's record body: 2 bytes, the inner content
 * type and a 16-byte tag (AES-GCM and ChaCha20-Poly1305 alike). A client's
 * first encrypted record of this size is a refusal if its close follows. */
#define WIRE_TLS13_ALERT_LEN 19

/* Bytes from the header at h to the next one. */
WIRE_FN __u32 wire_tls_rec_span(const __u8 *h)
{
	return TLS_HDR_LEN + ((__u32)h[3] << 8 | h[4]);
}

/* Bytes of the unit the walk reads next. */
WIRE_FN __u32 wire_walk_need(__u8 phase)
{
	return phase == WIRE_WALK_HELLO ? TLS_HS_HDR_LEN : TLS_HDR_LEN;
}

/* A handshake header m (type, length(3)) at the start of a record body of
 * len bytes: a ClientHello or ServerHello (HelloRetryRequest included) that
 * fits in the record. An encrypted Finished looks like it by chance about
 * once in 10^7. */
WIRE_FN bool wire_tls_hello_fits(const __u8 *m, __u32 len)
{
	__u32 hs_len = (__u32)m[1] << 16 | (__u32)m[2] << 8 | m[3];

	return (m[0] == TLS_HS_CLIENT_HELLO || m[0] == TLS_HS_SERVER_HELLO) &&
	       TLS_HS_HDR_LEN + hs_len <= len;
}

/* A record header h in the walk's phase (not WIRE_WALK_HELLO). */
WIRE_FN enum wire_step wire_walk_header(struct wire_walk *w, const __u8 *h)
{
	__u32 len = (__u32)h[3] << 8 | h[4];

	switch (h[0]) {
	case TLS_CT_HANDSHAKE:
		if (w->phase == WIRE_WALK_CLEAR)
			break;
		if (w->phase != WIRE_WALK_CCS || len < TLS_HS_HDR_LEN)
			return WIRE_STOP;
		w->phase = WIRE_WALK_HELLO;
		w->body = len;
		w->rec += TLS_HDR_LEN;
		return WIRE_NEXT;
	case TLS_CT_CCS:
		if (w->phase != WIRE_WALK_CLEAR)
			return WIRE_STOP;
		w->phase = WIRE_WALK_CCS;
		w->rec += TLS_HDR_LEN + len;
		return WIRE_NEXT;
	case TLS_CT_APPDATA:
		if (w->enc >= w->enc_max)
			return WIRE_STOP;
		w->enc++;
		w->phase = WIRE_WALK_ENCRYPTED;
		break;
	default:
		return WIRE_STOP;
	}
	w->rec += TLS_HDR_LEN + len;
	return WIRE_TOOK;
}

/*
 * One unit of wire_walk_need(w->phase) bytes at u, read at w->rec: moves
 * w->rec to the next unit, or returns WIRE_STOP with w->rec at the start of
 * the record the walk stops at.
 */
WIRE_FN enum wire_step wire_walk_unit(struct wire_walk *w, const __u8 *u)
{
	if (w->phase != WIRE_WALK_HELLO)
		return wire_walk_header(w, u);
	if (!wire_tls_hello_fits(u, w->body)) {
		w->rec -= TLS_HDR_LEN;
		return WIRE_STOP;
	}
	w->phase = WIRE_WALK_CLEAR;
	w->rec += w->body;
	return WIRE_TOOK;
}

/* The first byte of a UDP payload says DTLS (RFC 7983). */
WIRE_FN bool wire_dtls_mux(__u8 first)
{
	return first >= DTLS_MUX_MIN && first <= DTLS_MUX_MAX;
}

/* 16 fe {ff|fd|fc} epoch 0, seq(6), length(2), then handshake type 1
 * ClientHello, 2 ServerHello or 3 HelloVerifyRequest: a DTLS hello record. */
WIRE_FN bool wire_dtls_hello(const __u8 *b, __u32 n)
{
	return n >= DTLS_HELLO_PEEK && b[0] == TLS_CT_HANDSHAKE && b[1] == DTLS_MAJOR &&
	       b[2] >= (DTLS_V_13 & 0xff) && b[2] != 0xfe && b[3] == 0 && b[4] == 0 &&
	       b[13] >= TLS_HS_CLIENT_HELLO && b[13] <= TLS_HS_HELLO_VERIFY_REQUEST;
}

/* A DTLS hello (wire_dtls_hello): a ClientHello goes to the server, a
 * ServerHello or HelloVerifyRequest comes from it. */
WIRE_FN enum wire_side wire_dtls_side(const __u8 *b)
{
	return b[13] == TLS_HS_CLIENT_HELLO ? WIRE_SIDE_DST : WIRE_SIDE_SRC;
}

/* DTLS records of a datagram: this many bytes from the header at h to the
 * next; the handshake in the clear ends at any record that is not a
 * handshake record of epoch 0 (CCS, alert, application data, DTLS 1.3's
 * unified headers, an epoch 1 Finished whose CCS was lost). */
WIRE_FN __u32 wire_dtls_rec_span(const __u8 *h)
{
	return DTLS_HDR_LEN + ((__u32)h[11] << 8 | h[12]);
}

WIRE_FN bool wire_dtls_rec_ends(const __u8 *h)
{
	return h[0] != TLS_CT_HANDSHAKE || h[3] || h[4];
}

#endif
