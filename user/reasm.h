/* reasm.h - one direction of a TCP byte stream, put back in order. */
#ifndef CS_REASM_H
#define CS_REASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Policy: the stream starts at the first byte pushed (the capture sources
 * only hand over a direction from a segment that starts a TLS record). Bytes
 * already delivered are never delivered again; where segments overlap, the
 * bytes that arrived first win (retransmissions with different content are
 * counted as conflicts). Segments ahead of the next expected byte are held,
 * up to max_held bytes; a hole that stays open past that bound makes the
 * direction give up (reasm.failed), counted in stats.
 * Sequence arithmetic is modulo 2^32 throughout (wraparound is normal).
 */

struct reasm_seg; /* held out-of-order segment (private) */

struct reasm_stats {
	uint64_t delivered;	 /* bytes handed to the callback */
	uint64_t dup_bytes;	 /* retransmitted bytes dropped */
	uint64_t conflict_bytes; /* overlapping bytes that differed */
	uint64_t held_max;	 /* largest number of bytes ever held */
	uint32_t ooo_segments;	 /* segments that arrived ahead of a hole */
	uint32_t gaps;		 /* holes that made the direction give up */
};

struct reasm {
	bool started;
	bool failed;		     /* gave up: a hole never filled */
	uint32_t next_seq;	     /* next byte expected */
	uint32_t max_held;	     /* bound on bytes held out of order */
	uint32_t held;		     /* bytes currently held */
	struct reasm_seg *held_list; /* sorted by seq */
	struct reasm_stats *stats;   /* the caller's, shared by its streams */
};

/* Called with each run of newly contiguous bytes, in stream order. */
typedef void (*reasm_data_fn)(void *ctx, const uint8_t *data, size_t len);

/* stats: where the counts add up, outliving r (one per stream would cost 40
 * bytes in each of 100k connections' directions). */
void reasm_init(struct reasm *r, uint32_t max_held, struct reasm_stats *stats);
/* Push one segment. Returns 0, or -1 once the direction has given up. */
int reasm_push(struct reasm *r, uint32_t seq, const uint8_t *data, size_t len, reasm_data_fn fn,
	       void *ctx);
/* Give up on a hole now (idle timeout, FIN with a hole): drops held bytes. */
void reasm_give_up(struct reasm *r);
/* Frees held bytes and ends the stream; may be called from the callback. */
void reasm_free(struct reasm *r);

#endif
