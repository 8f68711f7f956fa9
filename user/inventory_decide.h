/* inventory_decide.h - the inventory's decisions: changed, rollback, inconsistent, flapping. */
#ifndef CS_INVENTORY_DECIDE_H
#define CS_INVENTORY_DECIDE_H

#include "inventory_int.h"

uint32_t decide(struct inventory *inv, struct endpoint *e, int xi, bool is_new, bool had_leaves,
		int64_t prev_seen, int64_t t, struct inventory_decision *d);

#endif
