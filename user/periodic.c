/* periodic.c - the main loop's periodic tasks: {name, period, function} on the monotonic clock. */
#include "periodic.h"

void periodic_start(struct periodic *t, size_t n, uint64_t now_ns)
{
	for (size_t i = 0; i < n; i++)
		periodic_restart(&t[i], now_ns);
}

void periodic_restart(struct periodic *t, uint64_t now_ns)
{
	t->due_ns = now_ns + t->period_ns;
}

unsigned periodic_run(struct periodic *t, size_t n, uint64_t now_ns, void *ctx)
{
	unsigned ran = 0;

	for (size_t i = 0; i < n; i++) {
		if (now_ns < t[i].due_ns)
			continue;
		t[i].run(ctx, now_ns);
		ran++;
		t[i].due_ns += t[i].period_ns;
		if (t[i].due_ns <= now_ns)
			t[i].due_ns = now_ns + t[i].period_ns;
	}
	return ran;
}
