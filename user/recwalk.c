/* recwalk.c - the kernel's record walk over a TCP direction's in-order bytes: where the copy ends, what it takes whole. */
#include <stdlib.h>
#include <string.h>
#include "recwalk.h"

/* recwalk.state; zeroed (never started) is over. */
enum { OVER = 0, WALKING, STOPPED };

void recwalk_init(struct recwalk *s, bool walk, uint32_t skip, uint8_t enc_max)
{
	memset(s, 0, sizeof(*s));
	s->w.rec = skip;
	s->w.phase = walk ? WIRE_WALK_CLEAR : WIRE_WALK_OFF;
	s->w.enc_max = enc_max > CS_ENC_SERVER_RECS ? CS_ENC_SERVER_RECS : enc_max;
	s->state = walk ? WALKING : OVER;
}

void recwalk_free(struct recwalk *s)
{
	for (int i = 0; s->rec && i < s->n; i++)
		free(s->rec[i].body);
	free(s->rec);
	memset(s, 0, sizeof(*s));
}

const struct recwalk_record *recwalk_record(const struct recwalk *s, uint32_t i)
{
	if (!s->rec || i >= s->n || i >= s->w.enc_max || (s->filling && i == s->n - 1u) ||
	    !s->rec[i].body)
		return NULL;
	return &s->rec[i];
}

/* While a record is taken and until the next unit starts, s->unit is its
 * header. */
const uint8_t *recwalk_last_hdr(const struct recwalk *s)
{
	return s->n ? s->unit : NULL;
}

bool recwalk_stop_record(const struct recwalk *s, uint8_t hdr[TLS_HDR_LEN], uint32_t *off)
{
	if (!s->end || s->w.phase == WIRE_WALK_HELLO)
		return false;
	memcpy(hdr, s->unit, TLS_HDR_LEN);
	*off = s->w.rec;
	return true;
}

static uint32_t min32(uint32_t a, size_t b)
{
	return b < a ? (uint32_t)b : a;
}

/* The body length of the record whose header is the unit. */
static uint32_t unit_len(const struct recwalk *s)
{
	return (uint32_t)s->unit[3] << 8 | s->unit[4];
}

/* An encrypted record's header (the unit just read): hold its body. The
 * walk takes at most w.enc_max of them (cs_wire.h). */
static void record_begin(struct recwalk *s)
{
	struct recwalk_record *r;

	if (!s->n && (s->rec = calloc(s->w.enc_max, sizeof(*s->rec))))
		s->mem += s->w.enc_max * (uint32_t)sizeof(*s->rec);
	s->fill = 0;
	s->filling = true;
	if (!s->rec || s->n >= s->w.enc_max) {
		s->n += s->n < UINT8_MAX;
		return;
	}
	r = &s->rec[s->n++];
	memcpy(r->hdr, s->unit, TLS_HDR_LEN);
	r->len = unit_len(s);
	r->body = NULL;
	if (r->len > RECWALK_REC_MAX)
		return; /* not held: recwalk_record says NULL */
	/* An empty record still gets a (non-NULL) buffer: it is held. */
	r->body = malloc(r->len ? r->len : 1);
	if (r->body)
		s->mem += r->len;
}

/* The walk stopped at the record at w.rec: it is over once that record's
 * header and up to CS_TAIL_BYTES of its body went by (what the source
 * copies of it). The unit read was its header, or, after a CCS, its
 * handshake header (the record's length then in w.body). */
static void stop(struct recwalk *s, uint8_t phase)
{
	uint32_t len = phase == WIRE_WALK_HELLO ? s->w.body :
						  (uint32_t)s->unit[3] << 8 | s->unit[4];

	s->state = STOPPED;
	s->end = s->w.rec + TLS_HDR_LEN + (len < CS_TAIL_BYTES ? len : CS_TAIL_BYTES);
}

/* A whole unit is in s->unit: step the walk (cs_wire.h). */
static void unit_done(struct recwalk *s)
{
	uint8_t phase = s->w.phase;
	enum wire_step st;

	s->have = 0;
	st = wire_walk_unit(&s->w, s->unit);
	if (st == WIRE_STOP)
		stop(s, phase);
	else if (st == WIRE_TOOK && phase != WIRE_WALK_HELLO && s->unit[0] == TLS_CT_APPDATA)
		record_begin(s);
}

/* The record taking body bytes, NULL if not held. */
static const struct recwalk_record *recwalk_record_filling(const struct recwalk *s)
{
	return s->filling && s->rec && s->n <= s->w.enc_max ? &s->rec[s->n - 1] : NULL;
}

/* Body bytes up to the next unit; the encrypted record being held takes them. */
static size_t body_bytes(struct recwalk *s, const uint8_t *b, size_t n, enum recwalk_event *ev)
{
	uint32_t k = min32(s->w.rec - s->pos, n);
	const struct recwalk_record *r = recwalk_record_filling(s);

	s->pos += k;
	if (!s->filling)
		return k;
	if (r && r->body)
		memcpy(r->body + s->fill, b, k);
	s->fill += k;
	if (s->fill == unit_len(s)) {
		s->filling = false;
		*ev = RECWALK_RECORD;
	}
	return k;
}

size_t recwalk_feed(struct recwalk *s, const uint8_t *b, size_t n, enum recwalk_event *ev)
{
	size_t i = 0;
	uint32_t k;

	*ev = RECWALK_MORE;
	while (i < n && *ev == RECWALK_MORE) {
		if (s->state == OVER)
			return n;
		if (s->state == STOPPED) {
			k = min32(s->end - s->pos, n - i);
			i += k;
			s->pos += k;
		} else if (!s->have && s->pos != s->w.rec) {
			i += body_bytes(s, b + i, n - i, ev);
			continue;
		} else {
			k = min32(wire_walk_need(s->w.phase) - s->have, n - i);
			memcpy(s->unit + s->have, b + i, k);
			s->have += k;
			i += k;
			s->pos += k;
			if (s->have < wire_walk_need(s->w.phase))
				continue;
			unit_done(s);
			/* An empty encrypted record is whole at its header. */
			if (s->filling && !unit_len(s)) {
				s->filling = false;
				*ev = RECWALK_RECORD;
			}
		}
		if (s->state == STOPPED && s->pos == s->end) {
			s->state = OVER;
			*ev = RECWALK_END;
		}
	}
	return i;
}
