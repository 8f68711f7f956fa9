/* clock.h - the two clocks the live sources stamp with: the kernel's CLOCK_MONOTONIC and the wall clock. */
#ifndef CS_CLOCK_H
#define CS_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* CLOCK_REALTIME - CLOCK_MONOTONIC now: turns bpf_ktime_get_ns() stamps into
 * wall-clock time (the monotonic read is taken on both sides of the real one). */
static inline int64_t clock_real_minus_mono(void)
{
	int64_t m1 = clock_ns(CLOCK_MONOTONIC);
	int64_t r = clock_ns(CLOCK_REALTIME);
	int64_t m2 = clock_ns(CLOCK_MONOTONIC);

	return r - (m1 + (m2 - m1) / 2);
}

#endif
