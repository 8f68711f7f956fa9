/* inventory_decide.c - the inventory's decisions: cert.changed, rollback, inconsistent, flapping. */
#include <stdlib.h>
#include <string.h>
#include "inventory_decide.h"

/* ---- decisions ---- */

static void leaf_info(const struct leaf *l, struct inventory_leaf *out)
{
	fmt_hex(out->sha256, sizeof(out->sha256), l->sha, 32, true);
	snprintf(out->serial, sizeof(out->serial), "%s", l->serial);
	snprintf(out->issuer, sizeof(out->issuer), "%s", l->issuer ? l->issuer : "");
	snprintf(out->key_type, sizeof(out->key_type), "%s", l->key_type);
	out->parsed = l->parsed;
	out->not_before = l->not_before;
	out->not_after = l->not_after;
	out->first_seen = to_s(l->first_ns);
	out->last_seen = to_s(l->last_ns);
	out->handshakes = l->handshakes;
}

static int cmp_share(const void *a, const void *b)
{
	const struct inventory_share *x = a, *y = b;

	return x->handshakes < y->handshakes ? 1 : x->handshakes > y->handshakes ? -1 : 0;
}

/* cert.inconsistent for the slot: the leaves served within the span, with
 * their shares; said at most once per repeat_s. */
static uint32_t inconsistent(struct inventory *inv, struct endpoint *e, struct slot *s,
			     bool flapping, int64_t t, struct inventory_decision *d)
{
	int64_t span = flapping ? inv->hold_ns : inv->window_ns;
	int slot = (int)(s - e->slots);
	struct inventory_share sh[INV_SHARES_MAX];
	uint64_t total = 0;
	uint32_t n = 0, seen = 0;

	if (s->incons_ns && later_minus(t, s->incons_ns) < inv->repeat_ns) {
		inv->st.inconsistent_held++;
		return 0;
	}
	for (uint32_t i = 0; i < e->n_leaves; i++) {
		const struct leaf *l = &e->leaves[i];
		uint64_t c;

		if (l->slot != slot || later_minus(t, l->last_ns) >= span)
			continue;
		seen++;
		c = slide_count(flapping ? &l->hold : &l->win, t, span);
		c = c ? c : 1;
		if (n < INV_SHARES_MAX) {
			leaf_info(l, &sh[n].leaf);
			sh[n++].handshakes = c;
		} else if (c > sh[INV_SHARES_MAX - 1].handshakes) {
			leaf_info(l, &sh[INV_SHARES_MAX - 1].leaf);
			sh[INV_SHARES_MAX - 1].handshakes = c;
		}
		qsort(sh, n, sizeof(sh[0]), cmp_share);
	}
	if (seen < 2)
		return 0;
	s->incons_ns = t;
	inv->st.inconsistent++;
	if (d) {
		for (uint32_t i = 0; i < n; i++)
			total += sh[i].handshakes;
		for (uint32_t i = 0; i < n; i++) {
			d->shares[i] = sh[i];
			d->shares[i].permille = (uint32_t)(sh[i].handshakes * 1000 / total);
		}
		d->n_shares = n;
		d->window_s = (uint32_t)(span / NS);
	}
	return INV_INCONSISTENT | (flapping ? INV_FLAPPING : 0);
}

static bool is_flapping(const struct inventory *inv, const struct slot *s, int64_t t)
{
	int64_t oldest = s->changes[INV_FLAP_CHANGES - 1];

	return oldest && later_minus(t, oldest) < inv->hold_ns;
}

enum change_kind { CH_NEW, CH_RETURN, CH_KEY_TYPE };

/* The slot's established leaf pi gives way to xi. */
static uint32_t change(struct inventory *inv, struct endpoint *e, struct slot *s, int pi, int xi,
		       enum change_kind kind, int64_t prev_seen, int64_t t,
		       struct inventory_decision *d)
{
	const struct leaf *p = &e->leaves[pi], *x = &e->leaves[xi];
	bool both = p->parsed && x->parsed;
	uint32_t flags = INV_CHANGED, why = 0;

	if (kind != CH_KEY_TYPE && is_flapping(inv, s, t)) {
		s->est = xi;
		inv->st.flapping++;
		return inconsistent(inv, e, s, true, t, d);
	}
	memmove(&s->changes[1], &s->changes[0], sizeof(s->changes) - sizeof(s->changes[0]));
	s->changes[0] = t;
	s->est = xi;
	inv->st.changed++;
	if (kind == CH_KEY_TYPE) {
		flags |= INV_NEW_KEY_TYPE; /* dates across key types say nothing */
	} else {
		if (both && x->not_before < p->not_before)
			why |= INV_RB_ISSUED_BEFORE;
		if (kind == CH_RETURN && !(both && x->not_before > p->not_before))
			why |= INV_RB_SERVED_BEFORE;
		if (why) {
			flags |= INV_ROLLBACK;
			inv->st.rollback++;
		} else if (kind == CH_NEW && both && x->not_before > p->not_before &&
			   x->names_known && p->names_known && !memcmp(x->names, p->names, 32)) {
			flags |= INV_RENEWAL;
		}
	}
	if (d) {
		leaf_info(p, &d->prev);
		leaf_info(x, &d->cur);
		d->rollback_why = why;
		d->absent_s = kind == CH_RETURN ? to_s(later_minus(t, prev_seen)) : 0;
	}
	return flags;
}

uint32_t decide(struct inventory *inv, struct endpoint *e, int xi, bool is_new, bool had_leaves,
		int64_t prev_seen, int64_t t, struct inventory_decision *d)
{
	struct slot *s = &e->slots[e->leaves[xi].slot];
	const struct leaf *c;
	int ci = s->est;

	if (ci < 0) {
		s->est = xi;
		if (!had_leaves) {
			inv->st.first_seen++;
			return INV_FIRST_SEEN;
		}
		ci = e->current >= 0 && e->current != xi ? e->current : -1;
		for (uint32_t i = 0; ci < 0 && i < e->n_leaves; i++)
			if ((int)i != xi)
				ci = (int)i;
		return ci < 0 ? 0 : change(inv, e, s, ci, xi, CH_KEY_TYPE, 0, t, d);
	}
	if (ci == xi)
		return 0;
	if (is_new)
		return change(inv, e, s, ci, xi, CH_NEW, 0, t, d);
	c = &e->leaves[ci];
	/* Never served within a window of each other around the switch: the
	 * returning leaf had stopped (or the established one has). */
	if (later_minus(c->last_ns, prev_seen) >= inv->window_ns ||
	    later_minus(prev_seen, c->last_ns) >= inv->window_ns)
		return change(inv, e, s, ci, xi, CH_RETURN, prev_seen, t, d);
	return inconsistent(inv, e, s, false, t, d);
}
