/* reasm.c - one TCP stream direction put back in order (policy in reasm.h). */
#include "reasm.h"

#include <stdlib.h>
#include <string.h>

/* Larger pushes are split so every offset below stays far from 2^31. */
#define REASM_CHUNK (1u << 30)

struct reasm_seg {
	struct reasm_seg *next;
	uint32_t seq, len;
	uint8_t data[];
};

void reasm_init(struct reasm *r, uint32_t max_held, struct reasm_stats *stats)
{
	memset(r, 0, sizeof(*r));
	r->max_held = max_held;
	r->stats = stats;
}

static void drop_held(struct reasm *r)
{
	struct reasm_seg *s, *next;

	for (s = r->held_list; s; s = next) {
		next = s->next;
		free(s);
	}
	r->held_list = NULL;
	r->held = 0;
}

/* Also ends the stream, so a callback that frees it stops delivery. */
void reasm_free(struct reasm *r)
{
	drop_held(r);
	r->failed = true;
}

void reasm_give_up(struct reasm *r)
{
	if (r->failed)
		return;
	if (r->held_list)
		r->stats->gaps++; /* only a real hole counts as a gap */
	r->failed = true;
	drop_held(r);
}

/* Distance of seq ahead of base, mod 2^32. */
static uint32_t rel(uint32_t base, uint32_t seq)
{
	return seq - base;
}

/* Hand bytes over; the callback may give up on the stream (-1 then). */
static int deliver(struct reasm *r, const uint8_t *d, uint32_t n, reasm_data_fn fn, void *ctx)
{
	r->next_seq += n;
	r->stats->delivered += n;
	if (fn)
		fn(ctx, d, n);
	return r->failed ? -1 : 0;
}

/* New bytes [so, eo) (offsets from base, data d) against held segment h:
 * the held bytes arrived first and win; count what the new ones repeat. */
static void overlap(struct reasm *r, uint32_t base, const struct reasm_seg *h, const uint8_t *d,
		    uint32_t so, uint32_t eo)
{
	uint32_t hs = rel(base, h->seq), he = hs + h->len;
	uint32_t lo = hs > so ? hs : so, hi = he < eo ? he : eo;

	if (lo >= hi)
		return;
	r->stats->dup_bytes += hi - lo;
	for (uint32_t i = lo; i < hi; i++)
		if (h->data[i - hs] != d[i - so])
			r->stats->conflict_bytes++;
}

/* Pop the first held segment and deliver it. */
static int deliver_held(struct reasm *r, reasm_data_fn fn, void *ctx)
{
	struct reasm_seg *h = r->held_list;
	int rc;

	r->held_list = h->next;
	r->held -= h->len;
	rc = deliver(r, h->data, h->len, fn, ctx);
	free(h);
	return rc;
}

/* Segment starting exactly at next_seq: deliver it in place, letting held
 * bytes it overlaps win, then whatever held data has become contiguous. */
static int push_in_order(struct reasm *r, const uint8_t *d, uint32_t len, reasm_data_fn fn,
			 void *ctx)
{
	uint32_t base = r->next_seq, cur = 0;
	struct reasm_seg *h;

	while (cur < len) {
		uint32_t hs;

		h = r->held_list;
		hs = h ? rel(base, h->seq) : len;
		if (hs >= len) {
			if (deliver(r, d + cur, len - cur, fn, ctx) < 0)
				return -1;
			break;
		}
		if (hs > cur && deliver(r, d + cur, hs - cur, fn, ctx) < 0)
			return -1;
		overlap(r, base, h, d, 0, len);
		cur = hs + h->len;
		if (deliver_held(r, fn, ctx) < 0)
			return -1;
	}
	while ((h = r->held_list) && h->seq == r->next_seq)
		if (deliver_held(r, fn, ctx) < 0)
			return -1;
	return 0;
}

static int gap(struct reasm *r)
{
	r->stats->gaps++;
	r->failed = true;
	drop_held(r);
	return -1;
}

/* Bytes of [so, eo) not yet covered by held segments. */
static uint32_t uncovered(const struct reasm *r, uint32_t base, uint32_t so, uint32_t eo)
{
	uint32_t cur = so, need = 0;

	for (const struct reasm_seg *h = r->held_list; h && cur < eo; h = h->next) {
		uint32_t hs = rel(base, h->seq), he = hs + h->len;

		if (he <= cur)
			continue;
		if (hs >= eo)
			break;
		if (hs > cur)
			need += hs - cur;
		cur = he;
	}
	return cur < eo ? need + (eo - cur) : need;
}

static struct reasm_seg *seg_new(uint32_t seq, const uint8_t *d, uint32_t n)
{
	struct reasm_seg *s = malloc(sizeof(*s) + n);

	if (s) {
		s->next = NULL;
		s->seq = seq;
		s->len = n;
		memcpy(s->data, d, n);
	}
	return s;
}

/* Segment ahead of a hole at offset so: hold copies of the bytes no held
 * segment has yet, keeping the list sorted and non-overlapping. */
static int push_ahead(struct reasm *r, uint32_t so, const uint8_t *d, uint32_t len)
{
	uint32_t base = r->next_seq, eo = so + len, cur = so;
	uint32_t need = uncovered(r, base, so, eo);
	struct reasm_seg **pp = &r->held_list, *h, *s;

	r->stats->ooo_segments++;
	if (need > r->max_held - r->held)
		return gap(r);
	while (cur < eo) {
		uint32_t hs = 0, he = 0, end;

		h = *pp;
		if (h) {
			hs = rel(base, h->seq);
			he = hs + h->len;
			if (he <= cur) {
				pp = &h->next;
				continue;
			}
		}
		if (!h || hs > cur) {
			end = (!h || hs > eo) ? eo : hs;
			s = seg_new(base + cur, d + (cur - so), end - cur);
			if (!s)
				return gap(r);
			s->next = h;
			*pp = s;
			pp = &s->next;
			r->held += s->len;
			cur = end;
			continue;
		}
		overlap(r, base, h, d, so, eo);
		cur = he;
		pp = &h->next;
	}
	if (r->held > r->stats->held_max)
		r->stats->held_max = r->held;
	return 0;
}

static int push_one(struct reasm *r, uint32_t seq, const uint8_t *d, uint32_t len, reasm_data_fn fn,
		    void *ctx)
{
	uint32_t behind = r->next_seq - seq;

	if (behind > 0 && behind <= INT32_MAX) {
		/* Starts before next_seq: those bytes went out already. We no
		 * longer have them, so conflicts there cannot be seen. */
		uint32_t dup = behind < len ? behind : len;

		r->stats->dup_bytes += dup;
		if (dup == len)
			return 0;
		d += dup;
		len -= dup;
		seq += dup;
	}
	if (seq == r->next_seq)
		return push_in_order(r, d, len, fn, ctx);
	return push_ahead(r, rel(r->next_seq, seq), d, len);
}

int reasm_push(struct reasm *r, uint32_t seq, const uint8_t *data, size_t len, reasm_data_fn fn,
	       void *ctx)
{
	if (r->failed)
		return -1;
	if (len == 0)
		return 0;
	if (!r->started) {
		r->started = true;
		r->next_seq = seq;
	}
	while (len > 0) {
		uint32_t n = len > REASM_CHUNK ? REASM_CHUNK : (uint32_t)len;

		if (push_one(r, seq, data, n, fn, ctx) < 0)
			return -1;
		seq += n;
		data += n;
		len -= n;
	}
	return 0;
}
