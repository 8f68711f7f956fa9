/* clsact.h - the clsact fallback for instances side by side: a slot each, dead runs' filters swept. */
#ifndef CS_CLSACT_H
#define CS_CLSACT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Where tcx is missing (or --clsact), each instance attaches clsact filters
 * with the handle and priority of a slot it holds for its whole life: an
 * flock'ed file CLSACT_RUN_DIR/slot.N (holding its pid), N < CS_TC_SLOTS,
 * priority CS_TC_PRIO + N. Death, kill -9 included, frees the slot but not
 * the filters, so a start removes the filters of every slot nobody holds,
 * and only those, and only programs named cs_tc*. The clsact qdisc is
 * deleted by whichever instance leaves it without filters, if certsentry
 * created it (CLSACT_RUN_DIR/qdisc.NETNS.IFINDEX says so). Changes to
 * filters and qdiscs are serialised by an flock on CLSACT_RUN_DIR/tc.lock.
 */
#define CLSACT_RUN_DIR "/run/certsentry"

struct clsact {
	int lock_fd; /* tc.lock, while held; else -1 */
	int slot;    /* -1 until the first filter */
	int slot_fd;
};

void clsact_init(struct clsact *c);
/* Waits for the other instances' changes to be over; a run directory that
 * cannot be made leaves it unlocked (and clsact_attach will fail). */
void clsact_lock(struct clsact *c);
void clsact_unlock(struct clsact *c);
/* Removes the filters dead instances left on ifindex (and the qdisc, if
 * certsentry created it and nothing is left on it). Under clsact_lock. */
void clsact_sweep(struct clsact *c, int ifindex, const char *ifname);
/* Attaches prog_fd to one hook of ifindex with this instance's handle and
 * priority (taking a slot first), creating the qdisc if missing. Under
 * clsact_lock. Returns 0, or -1 with a one-line reason in err. */
int clsact_attach(struct clsact *c, int ifindex, const char *ifname, bool egress, int prog_fd,
		  char *err, size_t errlen);
/* Removes this instance's filter from one hook. Under clsact_lock. */
int clsact_detach(struct clsact *c, int ifindex, bool egress);
/* Deletes the qdisc of ifindex if certsentry created it and no filter is
 * left on it. Under clsact_lock. */
void clsact_put_qdisc(int ifindex);
/* Gives the slot back (at exit; death gives it back too). */
void clsact_release(struct clsact *c);

#endif
