/* test_periodic.c - the periodic task table on a clock the test sets: when tasks run, in order. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "periodic.h"

#define MS PERIODIC_NS_PER_MS

/* Each run appends "name@ms " to the log. */
struct log {
	char text[1024];
	size_t len;
	struct periodic *t; /* the table, for restarts */
};

static struct log lg;

static void note(const char *name, uint64_t now)
{
	lg.len += (size_t)snprintf(lg.text + lg.len, sizeof(lg.text) - lg.len, "%s@%llu ", name,
				   (unsigned long long)(now / MS));
}

static void run_a(void *ctx, uint64_t now)
{
	assert_ptr_equal(ctx, &lg);
	note("a", now);
}

static void run_b(void *ctx, uint64_t now)
{
	(void)ctx;
	note("b", now);
}

/* As the drops task: its work counts as the stats task's, which waits a
 * whole period again. */
static void run_restart(void *ctx, uint64_t now)
{
	struct log *l = ctx;

	note("r", now);
	periodic_restart(&l->t[1], now);
}

static void test_order_and_periods(void **state)
{
	struct periodic t[] = {
		{ .name = "a", .period_ns = 50 * MS, .run = run_a },
		{ .name = "b", .period_ns = 1000 * MS, .run = run_b },
	};
	const uint64_t start = 7000 * MS;

	(void)state;
	memset(&lg, 0, sizeof(lg));
	periodic_start(t, 2, start);
	assert_int_equal(periodic_run(t, 2, start, &lg), 0); /* nothing due at start */
	assert_int_equal(periodic_run(t, 2, start + 49 * MS, &lg), 0);
	assert_int_equal(periodic_run(t, 2, start + 50 * MS, &lg), 1);
	assert_int_equal(periodic_run(t, 2, start + 60 * MS, &lg), 0);
	assert_int_equal(periodic_run(t, 2, start + 100 * MS, &lg), 1);
	/* both due: table order */
	assert_int_equal(periodic_run(t, 2, start + 1000 * MS, &lg), 2);
	assert_string_equal(lg.text, "a@7050 a@7100 a@8000 b@8000 ");
	/* the cadence holds when a run comes late (due times stay on the grid) */
	lg.len = 0;
	lg.text[0] = '\0';
	assert_int_equal(periodic_run(t, 2, start + 1070 * MS, &lg), 1);
	assert_int_equal(periodic_run(t, 2, start + 1099 * MS, &lg), 0);
	assert_int_equal(periodic_run(t, 2, start + 1100 * MS, &lg), 1);
	/* a stall: one run, not one per period missed, then a period after now */
	assert_int_equal(periodic_run(t, 2, start + 5432 * MS, &lg), 2);
	assert_int_equal(periodic_run(t, 2, start + 5481 * MS, &lg), 0);
	assert_int_equal(periodic_run(t, 2, start + 5482 * MS, &lg), 1);
	assert_string_equal(lg.text, "a@8070 a@8100 a@12432 b@12432 a@12482 ");
}

static void test_restart(void **state)
{
	struct periodic t[] = {
		{ .name = "r", .period_ns = 1000 * MS, .run = run_restart },
		{ .name = "s", .period_ns = 3000 * MS, .run = run_b },
	};

	(void)state;
	memset(&lg, 0, sizeof(lg));
	lg.t = t;
	periodic_start(t, 2, 0);
	for (uint64_t now = 0; now <= 8000 * MS; now += 500 * MS)
		periodic_run(t, 2, now, &lg);
	/* s would be due at 3 s; r restarts it each second, so it never is */
	assert_string_equal(lg.text, "r@1000 r@2000 r@3000 r@4000 r@5000 r@6000 r@7000 r@8000 ");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_periods),
		cmocka_unit_test(test_restart),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
