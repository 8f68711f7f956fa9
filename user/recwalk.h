/* recwalk.h - the kernel's record walk over a TCP direction's in-order bytes: where the copy ends, what it takes whole. */
#ifndef CS_RECWALK_H
#define CS_RECWALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "certsentry.h"
#include "cs_wire.h"

/*
 * The flow stage must know where the source stops copying a direction, so
 * that it calls the direction done there and not sooner or later. The rule
 * is cs_wire.h's (wire_walk_unit), which the kernel and select.c apply to
 * packets; here it runs over the reassembled stream, so no packet
 * boundaries, gaps or retransmissions matter. The walk ends once the record
 * it stops at has shown its header and up to CS_TAIL_BYTES of its body (all
 * the source copies of it that belongs to it).
 *
 * With enc_max > 0 (cs_enc_max: a key source is configured) TLS 1.3's
 * encrypted records are taken whole, as the source copies them: each one is
 * held here, up to RECWALK_REC_MAX bytes of body (RFC 8446 5.2's bound on a
 * record's ciphertext; longer ones are not held, and counted).
 */

#define RECWALK_REC_MAX (16384 + 256)

enum recwalk_event {
	RECWALK_MORE,	/* nothing yet: feed more */
	RECWALK_RECORD, /* an encrypted record is whole (recwalk_record) */
	RECWALK_END,	/* the walk is over: the source copies nothing more */
};

struct recwalk_record {
	uint8_t hdr[TLS_HDR_LEN];
	uint32_t len;  /* body bytes */
	uint8_t *body; /* NULL: over RECWALK_REC_MAX, not held */
};

struct recwalk {
	struct wire_walk w;	   /* w.rec: stream offset of the next unit */
	uint32_t pos;		   /* stream offset of the next byte fed */
	uint32_t end;		   /* stopped: where the stop record's tail ends */
	uint8_t unit[TLS_HDR_LEN]; /* the unit at w.rec, have bytes of it */
	uint8_t have;
	uint8_t state; /* recwalk.c: walking, stopped, over */
	uint8_t n;     /* records in rec[], the last maybe partial */
	bool filling;  /* rec[n - 1] still takes body bytes */
	uint32_t fill; /* ... this many so far */
	uint32_t mem;  /* bytes held: rec[] and the record bodies */
	/* enc_max entries, allocated with the first encrypted record: most
	 * directions take none, and 100k of them must fit the memory bound.
	 * NULL after that: no record is held (recwalk_record says NULL). */
	struct recwalk_record *rec;
};

/* walk: the direction is walked (it started with a TLS hello or alert; not
 * SSLv2); skip: bytes at the start hopped over (a warning alert, 7);
 * enc_max: cs_enc_max() for this direction. */
void recwalk_init(struct recwalk *s, bool walk, uint32_t skip, uint8_t enc_max);
/* Feeds the next n stream bytes; returns how many it took: all, or fewer
 * when an event (*ev) happened right after the last one taken. */
size_t recwalk_feed(struct recwalk *s, const uint8_t *b, size_t n, enum recwalk_event *ev);
/* The header of the last encrypted record taken (the one a RECWALK_RECORD
 * event is about), or NULL if the walk took none. */
const uint8_t *recwalk_last_hdr(const struct recwalk *s);
/* The i-th encrypted record (its index in the direction's encrypted
 * records, the record sequence number of the handshake keys), or NULL if
 * there is none (yet) or it was not held. */
const struct recwalk_record *recwalk_record(const struct recwalk *s, uint32_t i);
/* The record the walk stopped at, once its header went by: that header and
 * its stream offset; false if the walk has not stopped at a record header
 * (not yet, never walked, or at the handshake header after a CCS). */
bool recwalk_stop_record(const struct recwalk *s, uint8_t hdr[TLS_HDR_LEN], uint32_t *off);
void recwalk_free(struct recwalk *s);

#endif
