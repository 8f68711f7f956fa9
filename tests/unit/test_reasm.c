/* test_reasm.c - unit tests for TCP stream reassembly (user/reasm.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "reasm.h"

/* Everything delivered, concatenated, plus what the last call pointed at. */
struct sink {
	uint8_t *buf;
	size_t len, cap;
	unsigned calls;
	const uint8_t *last_ptr;
	struct reasm *give_up_after; /* call reasm_give_up in the callback */
	struct reasm *free_after;    /* call reasm_free in the callback */
};

static void sink_fn(void *ctx, const uint8_t *d, size_t n)
{
	struct sink *s = ctx;

	assert_true(n > 0);
	if (s->len + n > s->cap) {
		s->cap = (s->len + n) * 2;
		s->buf = realloc(s->buf, s->cap);
		assert_non_null(s->buf);
	}
	memcpy(s->buf + s->len, d, n);
	s->len += n;
	s->calls++;
	s->last_ptr = d;
	if (s->give_up_after)
		reasm_give_up(s->give_up_after);
	if (s->free_after)
		reasm_free(s->free_after);
}

/* Each stream's counts, from zero. */
static struct reasm_stats st;

static void init(struct reasm *r, uint32_t max_held)
{
	memset(&st, 0, sizeof(st));
	reasm_init(r, max_held, &st);
}

static int push(struct reasm *r, struct sink *s, uint32_t seq, const char *str)
{
	return reasm_push(r, seq, (const uint8_t *)str, strlen(str), sink_fn, s);
}

static void assert_sink(const struct sink *s, const char *want)
{
	assert_int_equal(s->len, strlen(want));
	assert_memory_equal(s->buf, want, s->len);
}

static void test_in_order(void **state)
{
	struct reasm r;
	struct sink s = { 0 };
	const char *w = "world";

	(void)state;
	init(&r, 1000);
	assert_int_equal(push(&r, &s, 1000, "hello "), 0);
	assert_true(r.started);
	assert_int_equal(r.next_seq, 1006);
	assert_int_equal(reasm_push(&r, 1006, (const uint8_t *)w, 5, sink_fn, &s), 0);
	assert_ptr_equal(s.last_ptr, w); /* in order: no copy */
	assert_sink(&s, "hello world");
	assert_int_equal(st.delivered, 11);
	assert_int_equal(st.dup_bytes, 0);
	assert_int_equal(st.ooo_segments, 0);
	assert_int_equal(r.held, 0);
	reasm_free(&r);
	free(s.buf);
}

static void test_retransmission(void **state)
{
	struct reasm r;
	struct sink s = { 0 };

	(void)state;
	init(&r, 1000);
	push(&r, &s, 1, "abcdef");
	assert_int_equal(push(&r, &s, 1, "abcdef"), 0);
	assert_int_equal(push(&r, &s, 3, "XY"), 0); /* old, different */
	assert_sink(&s, "abcdef");
	assert_int_equal(s.calls, 1);
	assert_int_equal(st.dup_bytes, 8);
	assert_int_equal(st.conflict_bytes, 0); /* not kept: unknowable */
	assert_int_equal(st.delivered, 6);
	reasm_free(&r);
	free(s.buf);
}

static void test_partial_overlap(void **state)
{
	struct reasm r;
	struct sink s = { 0 };

	(void)state;
	init(&r, 1000);
	push(&r, &s, 100, "0123456789");
	assert_int_equal(push(&r, &s, 105, "XXXXXabcde"), 0);
	assert_sink(&s, "0123456789abcde");
	assert_int_equal(st.dup_bytes, 5);
	assert_int_equal(r.next_seq, 115);
	reasm_free(&r);
	free(s.buf);
}

static void test_out_of_order(void **state)
{
	struct reasm r;
	struct sink s = { 0 };

	(void)state;
	init(&r, 1000);
	push(&r, &s, 0, "AB");
	push(&r, &s, 6, "GH");
	push(&r, &s, 4, "EF");
	push(&r, &s, 10, "KL"); /* beyond a second hole */
	assert_sink(&s, "AB");
	assert_int_equal(r.held, 6);
	assert_int_equal(st.ooo_segments, 3);
	assert_int_equal(push(&r, &s, 2, "CD"), 0);
	assert_sink(&s, "ABCDEFGH");
	assert_int_equal(r.held, 2);
	push(&r, &s, 8, "IJ");
	assert_sink(&s, "ABCDEFGHIJKL");
	assert_int_equal(r.held, 0);
	assert_null(r.held_list);
	assert_int_equal(st.held_max, 6);
	assert_int_equal(st.delivered, 12);
	assert_false(r.failed);
	reasm_free(&r);
	free(s.buf);
}

static void test_wraparound(void **state)
{
	struct reasm r;
	struct sink s = { 0 };
	uint32_t base = 0xFFFFFFFAu;

	(void)state;
	init(&r, 1000);
	push(&r, &s, base, "abcd");	  /* ..fffd */
	push(&r, &s, base + 8, "ijkl");	  /* 0x2: past 2^32 */
	push(&r, &s, base + 2, "cdefgh"); /* overlap + fills */
	assert_sink(&s, "abcdefghijkl");
	assert_int_equal(r.next_seq, 6);
	push(&r, &s, 0xFFFFFFFFu, "XX"); /* old, across the wrap */
	assert_int_equal(s.len, 12);
	assert_int_equal(st.dup_bytes, 4);
	reasm_free(&r);
	free(s.buf);
}

static void test_hole_exceeds_max_held(void **state)
{
	struct reasm r;
	struct sink s = { 0 };
	uint8_t big[70];

	(void)state;
	memset(big, 'z', sizeof(big));
	init(&r, 100);
	push(&r, &s, 0, "0123456789");
	assert_int_equal(reasm_push(&r, 20, big, 60, sink_fn, &s), 0);
	assert_int_equal(r.held, 60);
	assert_int_equal(reasm_push(&r, 80, big, 70, sink_fn, &s), -1);
	assert_true(r.failed);
	assert_int_equal(st.gaps, 1);
	assert_int_equal(r.held, 0);
	assert_null(r.held_list);
	/* Filling the hole now is too late. */
	assert_int_equal(push(&r, &s, 10, "abcdefghij"), -1);
	assert_int_equal(s.len, 10);
	assert_int_equal(st.gaps, 1);
	reasm_free(&r);
	free(s.buf);
}

static void test_exactly_max_held(void **state)
{
	struct reasm r;
	struct sink s = { 0 };
	uint8_t b[100];

	(void)state;
	memset(b, 'q', sizeof(b));
	init(&r, 100);
	push(&r, &s, 0, "a");
	assert_int_equal(reasm_push(&r, 2, b, 100, sink_fn, &s), 0);
	assert_int_equal(r.held, 100);
	assert_int_equal(push(&r, &s, 1, "b"), 0);
	assert_int_equal(s.len, 102);
	assert_int_equal(st.held_max, 100);
	reasm_free(&r);
	free(s.buf);
}

static void test_duplicate_held(void **state)
{
	struct reasm r;
	struct sink s = { 0 };

	(void)state;
	init(&r, 1000);
	push(&r, &s, 0, "ab");
	push(&r, &s, 4, "efgh");
	assert_int_equal(push(&r, &s, 4, "efgh"), 0);
	assert_int_equal(push(&r, &s, 4, "eXgY"), 0);
	assert_int_equal(r.held, 4);
	assert_int_equal(st.dup_bytes, 8);
	assert_int_equal(st.conflict_bytes, 2);
	push(&r, &s, 2, "cd");
	assert_sink(&s, "abcdefgh");
	reasm_free(&r);
	free(s.buf);
}

static void test_overlapping_held_first_wins(void **state)
{
	struct reasm r;
	struct sink s = { 0 };

	(void)state;
	init(&r, 1000);
	push(&r, &s, 0, "..");
	push(&r, &s, 10, "AAAAAAAAAA");		 /* [10,20) */
	push(&r, &s, 5, "BBBBBBBBBBBBBBBBBBBB"); /* [5,25): spans it */
	push(&r, &s, 22, "CCCCCC");		 /* [22,28) */
	assert_int_equal(r.held, 23);		 /* [5,28) */
	assert_int_equal(st.dup_bytes, 13);
	assert_int_equal(st.conflict_bytes, 13);
	push(&r, &s, 2, "...");
	assert_sink(&s, ".....BBBBBAAAAAAAAAABBBBBCCC");
	reasm_free(&r);
	free(s.buf);
}

/* An in-order segment that covers held bytes: the held ones came first. */
static void test_in_order_over_held(void **state)
{
	struct reasm r;
	struct sink s = { 0 };

	(void)state;
	init(&r, 1000);
	push(&r, &s, 0, "x");
	push(&r, &s, 4, "AA");
	push(&r, &s, 8, "CCCC"); /* [8,12) */
	push(&r, &s, 13, "E");
	push(&r, &s, 1, "bbbbbbbbbb"); /* [1,11) */
	assert_sink(&s, "xbbbAAbbCCCC");
	assert_int_equal(st.dup_bytes, 5);
	assert_int_equal(st.conflict_bytes, 5);
	assert_int_equal(r.held, 1);
	assert_int_equal(r.next_seq, 12);
	push(&r, &s, 12, "dF"); /* 1 new byte, then held */
	assert_sink(&s, "xbbbAAbbCCCCdE");
	assert_int_equal(r.held, 0);
	assert_int_equal(st.conflict_bytes, 6);
	reasm_free(&r);
	free(s.buf);
}

static void test_zero_length(void **state)
{
	struct reasm r;
	struct sink s = { 0 };

	(void)state;
	init(&r, 1000);
	assert_int_equal(reasm_push(&r, 55, NULL, 0, sink_fn, &s), 0);
	assert_false(r.started);
	push(&r, &s, 100, "abc");
	assert_int_equal(reasm_push(&r, 7, NULL, 0, sink_fn, &s), 0);
	assert_int_equal(reasm_push(&r, 103, NULL, 0, sink_fn, &s), 0);
	assert_int_equal(r.next_seq, 103);
	assert_int_equal(s.calls, 1);
	assert_int_equal(st.dup_bytes, 0);
	assert_int_equal(st.ooo_segments, 0);
	reasm_free(&r);
	free(s.buf);
}

static void test_give_up(void **state)
{
	struct reasm r;
	struct sink s = { 0 };

	(void)state;
	init(&r, 1000);
	push(&r, &s, 0, "ab");
	reasm_give_up(&r); /* no hole: not a gap */
	assert_true(r.failed);
	assert_int_equal(st.gaps, 0);
	assert_int_equal(push(&r, &s, 2, "cd"), -1);
	reasm_free(&r);

	init(&r, 1000);
	push(&r, &s, 0, "ab");
	push(&r, &s, 5, "ff");
	reasm_give_up(&r);
	assert_int_equal(st.gaps, 1);
	assert_int_equal(r.held, 0);
	assert_null(r.held_list);
	reasm_give_up(&r);
	assert_int_equal(st.gaps, 1);
	reasm_free(&r);
	free(s.buf);
}

/* The consumer may give up from inside the callback (parser failed). */
static void test_give_up_in_callback(void **state)
{
	struct reasm r;
	struct sink s = { 0 };

	(void)state;
	init(&r, 1000);
	push(&r, &s, 0, "a");
	push(&r, &s, 3, "d");
	push(&r, &s, 5, "f");
	s.give_up_after = &r;
	assert_int_equal(push(&r, &s, 1, "bc"), -1);
	assert_int_equal(s.calls, 2); /* "a", "bc"; held ones dropped */
	assert_true(r.failed);
	assert_null(r.held_list);
	reasm_free(&r);

	/* Same with reasm_free (the flow is torn down). */
	init(&r, 1000);
	s.give_up_after = NULL;
	s.calls = 0;
	push(&r, &s, 0, "a");
	push(&r, &s, 3, "d");
	s.free_after = &r;
	assert_int_equal(push(&r, &s, 1, "bc"), -1);
	assert_int_equal(s.calls, 2);
	assert_null(r.held_list);
	assert_int_equal(push(&r, &s, 4, "e"), -1);
	free(s.buf);
}

/* xorshift: reproducible without libc rand() state. */
static uint32_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return (uint32_t)(*x >> 32);
}

struct piece {
	uint32_t off, len;
};

/* Random cuts and retransmissions, shuffled. With max_held below the
 * stream size it may give up: then what came out is a prefix. */
static bool run_random(uint64_t seed, uint32_t isn, uint32_t max_seg, uint32_t max_held)
{
	enum { LEN = 30000, MAXP = 65536 };
	static uint8_t stream[LEN];
	static struct piece p[MAXP];
	struct reasm r;
	struct sink s = { 0 };
	uint64_t x = seed;
	size_t np = 0;

	for (size_t i = 0; i < LEN; i++)
		stream[i] = (uint8_t)rnd(&x);
	/* A cover of the stream in random cuts... */
	for (uint32_t off = 0; off < LEN;) {
		uint32_t n = 1 + rnd(&x) % max_seg;

		if (n > LEN - off)
			n = LEN - off;
		p[np++] = (struct piece){ off, n };
		off += n;
	}
	/* ...plus retransmissions of random ranges, not on the cut lines. */
	for (size_t k = 0, extra = np / 2; k < extra; k++) {
		uint32_t off = rnd(&x) % LEN, n = 1 + rnd(&x) % (2 * max_seg);

		if (n > LEN - off)
			n = LEN - off;
		p[np++] = (struct piece){ off, n };
	}
	/* Shuffle all but the first: the stream starts at the first push. */
	for (size_t i = np - 1; i > 1; i--) {
		size_t j = 1 + rnd(&x) % i;
		struct piece t = p[i];

		p[i] = p[j];
		p[j] = t;
	}
	init(&r, max_held);
	for (size_t i = 0; i < np; i++) {
		if (reasm_push(&r, isn + p[i].off, stream + p[i].off, p[i].len, sink_fn, &s) == 0)
			continue;
		assert_true(max_held < LEN);
		assert_true(r.failed);
		assert_int_equal(st.gaps, 1);
		assert_int_equal(r.held, 0);
		assert_int_equal(st.delivered, s.len);
		assert_memory_equal(s.buf, stream, s.len);
		reasm_free(&r);
		free(s.buf);
		return true;
	}
	assert_true(st.held_max <= max_held);
	assert_int_equal(s.len, LEN);
	assert_memory_equal(s.buf, stream, LEN);
	assert_int_equal(st.delivered, LEN);
	assert_int_equal(st.conflict_bytes, 0);
	assert_int_equal(r.held, 0);
	assert_null(r.held_list);
	assert_int_equal(r.next_seq, (uint32_t)(isn + LEN));
	reasm_free(&r);
	free(s.buf);
	return false;
}

static void test_random_streams(void **state)
{
	unsigned gave_up = 0, bounded_ok = 0;

	(void)state;
	for (uint64_t seed = 1; seed <= 40; seed++) {
		uint32_t isn = (uint32_t)(seed * 0x9E3779B9u);

		if (seed % 4 == 0)
			isn = 0xFFFFFFFFu - (uint32_t)seed * 1000; /* wraps */
		assert_false(run_random(seed * 0x2545F4914F6CDD1Dull, isn, 1460, 30000));
		assert_false(run_random(seed * 0x9E3779B97F4A7C15ull, isn, 1 + (uint32_t)seed * 5,
					30000));
		if (run_random(seed * 0xD1B54A32D192ED03ull, isn, 1460, 20000))
			gave_up++;
		else
			bounded_ok++;
	}
	/* both outcomes of the bounded runs were exercised */
	assert_true(gave_up > 0 && bounded_ok > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order),
		cmocka_unit_test(test_retransmission),
		cmocka_unit_test(test_partial_overlap),
		cmocka_unit_test(test_out_of_order),
		cmocka_unit_test(test_wraparound),
		cmocka_unit_test(test_hole_exceeds_max_held),
		cmocka_unit_test(test_exactly_max_held),
		cmocka_unit_test(test_duplicate_held),
		cmocka_unit_test(test_overlapping_held_first_wins),
		cmocka_unit_test(test_in_order_over_held),
		cmocka_unit_test(test_zero_length),
		cmocka_unit_test(test_give_up),
		cmocka_unit_test(test_give_up_in_callback),
		cmocka_unit_test(test_random_streams),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
