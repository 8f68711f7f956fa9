/* periodic.h - the main loop's periodic tasks: {name, period, function} on the monotonic clock. */
#ifndef CS_PERIODIC_H
#define CS_PERIODIC_H

#include <stddef.h>
#include <stdint.h>

#define PERIODIC_NS_PER_MS 1000000ULL
#define PERIODIC_NS_PER_S  1000000000ULL

struct periodic {
	const char *name;
	uint64_t period_ns; /* > 0 */
	void (*run)(void *ctx, uint64_t now_ns);
	uint64_t due_ns; /* CLOCK_MONOTONIC; set by periodic_start() */
};

/* Each task first due one period after now. */
void periodic_start(struct periodic *t, size_t n, uint64_t now_ns);

/*
 * Runs, in table order, every task due at now (CLOCK_MONOTONIC ns), and
 * sets when it is due next: a period later, or a period after now when the
 * loop fell behind (missed runs are skipped, not caught up). Returns how
 * many ran.
 */
unsigned periodic_run(struct periodic *t, size_t n, uint64_t now_ns, void *ctx);

/* Task t is due a whole period after now (its work was just done otherwise). */
void periodic_restart(struct periodic *t, uint64_t now_ns);

#endif
