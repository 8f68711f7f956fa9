/* test_htab.c - unit tests for the one hash table and hash (user/htab.h): keyed, spread, intrusive, LRU. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <linux/types.h>
#include "certsentry.h"
#include "htab.h"

struct item {
	struct hnode h;
	struct lru_node lru;
	uint32_t key;
};

static struct item *item_find(const struct htab *t, uint32_t key)
{
	struct hnode *n;

	htab_for_hash(t, htab_hash(t, &key, sizeof(key)), n)
	{
		struct item *it = htab_entry(n, struct item, h);

		if (it->key == key)
			return it;
	}
	return NULL;
}

/* Every length from 0 to 64 bytes: the same bytes hash alike, any one bit
 * flipped hashes differently, and zero-filled keys of every length differ
 * (the length is part of the hash). A chance collision is 2^-64. */
static void test_hash_bits(void **state)
{
	uint8_t buf[64 + 8];
	uint64_t by_len[65];
	struct hseed s;

	(void)state;
	hseed_init(&s);
	for (size_t n = 0; n <= 64; n++) {
		memset(buf, 0, sizeof(buf));
		by_len[n] = hash_bytes(&s, buf, n);
		for (size_t m = 0; m < n; m++)
			assert_true(by_len[m] != by_len[n]);
		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)(i * 37 + n);
		uint64_t h = hash_bytes(&s, buf, n);

		assert_true(hash_bytes(&s, buf, n) == h);
		/* bytes past n are not read */
		buf[n] ^= 0xff;
		assert_true(hash_bytes(&s, buf, n) == h);
		for (size_t bit = 0; bit < n * 8; bit++) {
			buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			assert_true(hash_bytes(&s, buf, n) != h);
			buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
	}
}

/* A key of parts: where one part ends is part of the hash. */
static void test_hash_parts(void **state)
{
	struct hseed s;
	uint64_t a, b;

	(void)state;
	hseed_init(&s);
	a = hash_more(&s, hash_more(&s, 0, "ab", 2), "c", 1);
	b = hash_more(&s, hash_more(&s, 0, "a", 1), "bc", 2);
	assert_true(a != b);
	assert_true(hash_bytes(&s, "abc", 3) != a);
	assert_true(hash_more(&s, 1, "abc", 3) != hash_more(&s, 2, "abc", 3));
}

/* Two seeds, two hashes: the bucket of a key cannot be known beforehand. */
static void test_hash_seeded(void **state)
{
	struct hseed s1, s2;
	uint32_t differ = 0;

	(void)state;
	hseed_init(&s1);
	hseed_init(&s2);
	assert_true(s1.k0 != s2.k0 || s1.k1 != s2.k1);
	for (uint32_t k = 0; k < 64; k++)
		differ += (hash_bytes(&s1, &k, sizeof(k)) & 0xffff) !=
			  (hash_bytes(&s2, &k, sizeof(k)) & 0xffff);
	assert_true(differ > 48);
}

/* Keys an attacker would pick against an unkeyed table: 5-tuples one port
 * apart, and digests that share their first 8 bytes (the old fetch tables
 * bucketed by those). Both spread as random keys do: about 1/e of the
 * buckets stay empty and no chain is long. */
static void spread(const void *keys, size_t klen, uint32_t n)
{
	struct htab t;
	uint32_t *len, empty = 0, longest = 0;

	assert_true(htab_init(&t, n));
	assert_int_equal(t.mask + 1, n);
	len = calloc(n, sizeof(*len));
	assert_non_null(len);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t b = (uint32_t)htab_hash(&t, (const uint8_t *)keys + i * klen, klen) &
			     t.mask;

		if (++len[b] > longest)
			longest = len[b];
	}
	for (uint32_t i = 0; i < n; i++)
		empty += !len[i];
	/* Poisson(1): 36.8% empty, sigma 0.2% at this size; the longest of
	 * 65,536 chains is 8 or 9. */
	assert_in_range(empty, n * 35 / 100, n * 39 / 100);
	assert_in_range(longest, 1, 14);
	free(len);
	htab_fini(&t);
}

static void test_spread(void **state)
{
	enum { N = 65536 };
	struct cs_flow_key *fk = calloc(N, sizeof(*fk));
	uint8_t(*dg)[32] = calloc(N, 32);

	(void)state;
	assert_non_null(fk);
	assert_non_null(dg);
	for (uint32_t i = 0; i < N; i++) {
		fk[i].family = CS_AF_INET;
		fk[i].proto = 6;
		memcpy(fk[i].saddr, "\x0a\x00\x00\x01", 4);
		memcpy(fk[i].daddr, "\x0a\x00\x00\x02", 4);
		fk[i].sport = (uint16_t)(1024 + i);
		fk[i].dport = 443;
		memset(dg[i], 0xab, 8);
		memcpy(dg[i] + 8, &i, sizeof(i));
	}
	spread(fk, sizeof(*fk), N);
	spread(dg, 32, N);
	free(fk);
	free(dg);
}

/* Add, find, delete, walk: the table holds what was added and nothing else. */
static void test_table(void **state)
{
	enum { N = 5000 };
	struct item *it = calloc(N, sizeof(*it));
	struct hnode *n, *nx;
	struct htab t;
	uint32_t seen = 0;

	(void)state;
	assert_non_null(it);
	assert_true(htab_init(&t, 1000)); /* more entries than buckets: chains */
	assert_int_equal(t.mask + 1, 1024);
	for (uint32_t i = 0; i < N; i++) {
		it[i].key = i * 7919;
		htab_add(&t, &it[i].h, htab_hash(&t, &it[i].key, sizeof(it[i].key)));
	}
	assert_int_equal(t.n, N);
	for (uint32_t i = 0; i < N; i++)
		assert_ptr_equal(item_find(&t, i * 7919), &it[i]);
	assert_null(item_find(&t, 1));
	for (uint32_t i = 0; i < N; i += 2)
		htab_del(&t, &it[i].h);
	assert_int_equal(t.n, N / 2);
	for (uint32_t i = 0; i < N; i++)
		assert_ptr_equal(item_find(&t, i * 7919), i % 2 ? &it[i] : NULL);
	htab_for_each(&t, n, nx)
	{
		struct item *x = htab_entry(n, struct item, h);

		assert_int_equal((x - it) % 2, 1);
		seen++;
		htab_del(&t, n); /* deleting the node in hand is allowed */
	}
	assert_int_equal(seen, N / 2);
	assert_int_equal(t.n, 0);
	for (uint32_t i = 0; i <= t.mask; i++)
		assert_null(t.b[i]);
	htab_fini(&t);
	assert_null(t.b);
	free(it);
}

/* Equal hashes are not equal keys: htab_next walks only the nodes stored
 * under the same hash, and the caller's compare tells them apart. */
static void test_same_hash(void **state)
{
	struct item a = { .key = 1 }, b = { .key = 2 }, c = { .key = 3 };
	struct hnode *n;
	struct htab t;
	uint32_t found = 0;

	(void)state;
	assert_true(htab_init(&t, 16));
	htab_add(&t, &a.h, 42);
	htab_add(&t, &b.h, 42 + 16); /* same bucket, other hash */
	htab_add(&t, &c.h, 42);
	htab_for_hash(&t, 42, n) found |= 1u << htab_entry(n, struct item, h)->key;
	assert_int_equal(found, (1u << 1) | (1u << 3));
	htab_del(&t, &c.h);
	assert_ptr_equal(htab_first(&t, 42), &a.h);
	assert_null(htab_next(&a.h));
	htab_fini(&t);
}

static void test_key32(void **state)
{
	struct hnode32 k[3];
	uint8_t probe[32];
	struct htab t;

	(void)state;
	assert_true(htab_init(&t, 4));
	for (int i = 0; i < 3; i++) {
		memset(k[i].key, 0x11 * (i + 1), sizeof(k[i].key));
		htab_add32(&t, &k[i]);
	}
	for (int i = 0; i < 3; i++) {
		memset(probe, 0x11 * (i + 1), sizeof(probe));
		assert_ptr_equal(htab_find32(&t, probe), &k[i].h);
	}
	probe[31] ^= 1;
	assert_null(htab_find32(&t, probe));
	htab_del(&t, &k[1].h);
	memset(probe, 0x22, sizeof(probe));
	assert_null(htab_find32(&t, probe));
	htab_fini(&t);
}

/* Recency: touched to the head, the tail is the least recently used. */
static void test_lru(void **state)
{
	struct item it[4];
	struct lru l = { 0 };

	(void)state;
	assert_null(lru_entry(l.tail, struct item, lru));
	for (int i = 0; i < 4; i++)
		lru_push(&l, &it[i].lru);
	assert_ptr_equal(lru_entry(l.tail, struct item, lru), &it[0]);
	lru_touch(&l, &it[0].lru);
	lru_touch(&l, &it[0].lru); /* already at the head */
	assert_ptr_equal(lru_entry(l.head, struct item, lru), &it[0]);
	assert_ptr_equal(lru_entry(l.tail, struct item, lru), &it[1]);
	lru_unlink(&l, &it[1].lru);
	lru_unlink(&l, &it[0].lru);
	assert_ptr_equal(lru_entry(l.head, struct item, lru), &it[3]);
	assert_ptr_equal(lru_entry(l.tail, struct item, lru), &it[2]);
	lru_unlink(&l, &it[3].lru);
	lru_unlink(&l, &it[2].lru);
	assert_null(l.head);
	assert_null(l.tail);
}

/* ---- way2 ---- */

struct answer {
	struct way2_tag tag;
	int key, val;
};

static bool answer_eq(const void *entry, const void *key)
{
	return ((const struct answer *)entry)->key == *(const int *)key;
}

/* key's answer in s under hash: *fills counts the misses (the "work"). */
static struct answer *ask(struct way2 *s, uint32_t hash, int key, int *fills)
{
	bool hit;
	struct answer *a = way2_get(s, hash, struct answer, answer_eq, &key, &hit);

	if (!hit) {
		a->key = key;
		a->val = key * 10;
		a->tag.used = true;
		(*fills)++;
	}
	assert_int_equal(a->val, key * 10);
	return a;
}

/* Two keys of one set both stay; a third puts out the one used less
 * recently, across the stamps' wrap too; an entry left unused (an answer
 * not to keep) is taken first; other sets are untouched. */
static void test_way2(void **state)
{
	struct way2 s;
	struct answer *a, *b, *other;
	int fills = 0;

	(void)state;
	assert_true(way2_init(&s, 8, sizeof(struct answer)));
	for (int round = 0; round < 2; round++) {
		a = ask(&s, 4, 1, &fills);
		b = ask(&s, 5, 2, &fills); /* 5: the same set as 4 */
		assert_ptr_not_equal(a, b);
		assert_ptr_equal(ask(&s, 4, 1, &fills), a);
		assert_ptr_equal(ask(&s, 4, 2, &fills), b); /* either way of the set */
		other = ask(&s, 2, 7, &fills);
		assert_int_equal(fills, 3);
		/* 1 used last: 3 takes 2's way, then 2 takes 1's (3 was newer) */
		ask(&s, 4, 1, &fills);
		assert_ptr_equal(ask(&s, 4, 3, &fills), b);
		assert_ptr_equal(ask(&s, 4, 2, &fills), a);
		assert_int_equal(fills, 5);
		assert_ptr_equal(ask(&s, 3, 7, &fills), other); /* set 2-3 kept it */
		assert_int_equal(fills, 5);
		/* not kept: the way is taken again before the older one */
		a->tag.used = false;
		assert_ptr_equal(ask(&s, 4, 9, &fills), a);
		assert_int_equal(fills, 6);
		/* again with the clock about to wrap */
		way2_fini(&s);
		assert_true(way2_init(&s, 8, sizeof(struct answer)));
		s.clock = UINT32_MAX - 3;
		fills = 0;
	}
	way2_fini(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_bits),   cmocka_unit_test(test_hash_parts),
		cmocka_unit_test(test_hash_seeded), cmocka_unit_test(test_spread),
		cmocka_unit_test(test_table),	    cmocka_unit_test(test_same_hash),
		cmocka_unit_test(test_key32),	    cmocka_unit_test(test_lru),
		cmocka_unit_test(test_way2),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
