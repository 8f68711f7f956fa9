/* htab.h - the one hash table (intrusive, bounded by its user, keyed hash) and the one hash mix. */
#ifndef CS_HTAB_H
#define CS_HTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "lru.h"

/*
 * One table for every module, as redis has its one dict. It is intrusive
 * (an entry embeds a struct hnode, and a struct lru_node from lru.h when it
 * keeps recency), never allocates past htab_init() and never resizes: each
 * user sizes it for its own bound and evicts before it adds (usually the
 * tail of its LRU list). Lookups compare the stored 64-bit hash first, so a
 * chain walk touches a key only when the hashes are equal.
 *
 * The hash is keyed: each table draws a random seed, so whoever crafts the
 * keys (5-tuples, certificates, SNIs, URLs from the wire) cannot pile them
 * into one bucket, and digests of attacker-chosen data are hashed again for
 * the same reason. It is a multiply-fold hash in the style of wyhash (Go's
 * runtime map hash, also seeded per map): 16 bytes per 64x64->128 multiply,
 * a few instructions per word. It is not a MAC: anything whose identity
 * matters (a cached verdict) compares the whole key on a hash match.
 */

/* ---- the hash ---- */

struct hseed {
	uint64_t k0, k1;
};

/* A fresh random seed (getrandom; a clock-and-address mix if it fails). */
void hseed_init(struct hseed *s);

/* The high and low halves of a*b folded together: each output bit depends
 * on the bits of both inputs. */
static inline uint64_t hash_fold(uint64_t a, uint64_t b)
{
	unsigned __int128 p = (unsigned __int128)a * b;

	return (uint64_t)p ^ (uint64_t)(p >> 64);
}

static inline uint64_t hash_rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint64_t hash_rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* The state h carried on over n more bytes: a key of several parts hashes
 * them in turn, starting from 0 (each part's length is folded in, so "ab",
 * "c" and "a", "bc" differ). */
static inline uint64_t hash_more(const struct hseed *s, uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t left = n;
	uint64_t x = 0, y = 0;

	h ^= s->k0;
	for (; left > 16; left -= 16, b += 16)
		h = hash_fold(hash_rd64(b) ^ s->k1, hash_rd64(b + 8) ^ h);
	/* The last 1..16 bytes, read as two overlapping words: for a given
	 * length the pair still determines every byte. */
	if (left > 8) {
		x = hash_rd64(b);
		y = hash_rd64(b + left - 8);
	} else if (left >= 4) {
		x = hash_rd32(b);
		y = hash_rd32(b + left - 4);
	} else if (left) {
		x = (uint64_t)b[0] << 16 | (uint64_t)b[left >> 1] << 8 | b[left - 1];
	}
	h = hash_fold(x ^ s->k1, y ^ h);
	return hash_fold(h ^ s->k0, (uint64_t)n ^ 0x9e3779b97f4a7c15ULL);
}

static inline uint64_t hash_bytes(const struct hseed *s, const void *p, size_t n)
{
	return hash_more(s, 0, p, n);
}

/* ---- the table ---- */

struct hnode {
	struct hnode *next, **pprev; /* bucket chain, as the kernel's hlist */
	uint64_t hash;
};

struct htab {
	struct hnode **b;
	uint32_t mask; /* buckets - 1, a power of two - 1 */
	uint32_t n;    /* nodes in the table */
	struct hseed seed;
};

/* Buckets for max entries: the power of two at or above it (16 to 2^24),
 * so chains average at most one node when the table is full; the seed is
 * drawn here. false: out of memory. */
bool htab_init(struct htab *t, uint32_t max);
/* Frees the buckets (the entries are the user's). */
void htab_fini(struct htab *t);

/* The node embedding member m of type, from its hnode (NULL stays NULL). */
#define htab_entry(n, type, m)                                                \
	({                                                                    \
		struct hnode *n_ = (n);                                       \
		n_ ? (type *)((char *)n_ - offsetof(type, m)) : (type *)NULL; \
	})

static inline uint64_t htab_hash(const struct htab *t, const void *key, size_t n)
{
	return hash_bytes(&t->seed, key, n);
}

/* The first node stored under hash h, then the next one (the caller
 * compares keys: equal hashes are not equal keys). */
static inline struct hnode *htab_first(const struct htab *t, uint64_t h)
{
	struct hnode *n = t->b[h & t->mask];

	while (n && n->hash != h)
		n = n->next;
	return n;
}

static inline struct hnode *htab_next(const struct hnode *n)
{
	uint64_t h = n->hash;

	for (n = n->next; n && n->hash != h; n = n->next)
		;
	return (struct hnode *)n;
}

#define htab_for_hash(t, h, n) for ((n) = htab_first(t, h); (n); (n) = htab_next(n))

/* n under hash h; n is not in a table. */
static inline void htab_add(struct htab *t, struct hnode *n, uint64_t h)
{
	struct hnode **b = &t->b[h & t->mask];

	n->hash = h;
	n->next = *b;
	n->pprev = b;
	if (*b)
		(*b)->pprev = &n->next;
	*b = n;
	t->n++;
}

/* n is in table t. */
static inline void htab_del(struct htab *t, struct hnode *n)
{
	*n->pprev = n->next;
	if (n->next)
		n->next->pprev = n->pprev;
	n->next = NULL;
	n->pprev = NULL;
	t->n--;
}

/* Every node; n may be deleted in the body (nx holds the next). The two
 * loops are nested: leave with return or goto, not break. */
#define htab_for_each(t, n, nx)                                   \
	for (uint32_t hb_ = 0; (t)->b && hb_ <= (t)->mask; hb_++) \
		for ((n) = (t)->b[hb_]; (n) && ((nx) = (n)->next, 1); (n) = (nx))

/* ---- entries keyed by a 32-byte digest (fetch state: SHA-256 of what an
 * entry stands for; hashed again with the seed, as the digest's inputs
 * come from certificates anyone can mint) ---- */

#define HKEY32_LEN 32

struct hnode32 {
	struct hnode h;
	uint8_t key[HKEY32_LEN];
};

/* The node of the entry with that key, or NULL. */
static inline struct hnode *htab_find32(const struct htab *t, const uint8_t key[HKEY32_LEN])
{
	struct hnode *n;

	htab_for_hash(t, htab_hash(t, key, HKEY32_LEN),
		      n) if (!memcmp(htab_entry(n, struct hnode32, h)->key, key,
				     HKEY32_LEN)) return n;
	return NULL;
}

/* n->key set, n not in a table. */
static inline void htab_add32(struct htab *t, struct hnode32 *n)
{
	htab_add(t, &n->h, htab_hash(t, n->key, HKEY32_LEN));
}

/* ---- a 2-way set: a fixed memo of answers, two probes ----
 *
 * For answers that depend on their key alone (checks.c: does this leaf
 * cover this SNI, did this certificate issue that one): no chains, the
 * memory fixed at way2_init. A key lives in the set of its hash (entries
 * hash & ~1 and hash | 1); a new one takes an unused entry of the set, else
 * the one used less recently. Direct-mapped, two of a handful of live keys
 * shared a slot in about one process in eight and evicted each other on
 * every use. Every entry starts with a struct way2_tag.
 */
struct way2_tag {
	uint32_t stamp; /* last use */
	bool used;	/* holds an answer */
};

struct way2 {
	char *e;
	uint32_t mask; /* entries - 1 */
	uint32_t clock;
};

/* n entries (a power of two, 2 or more) of size bytes, all unused; false:
 * out of memory. */
static inline bool way2_init(struct way2 *s, uint32_t n, size_t size)
{
	s->e = calloc(n, size);
	s->mask = n - 1;
	s->clock = 0;
	return s->e != NULL;
}

static inline void way2_fini(struct way2 *s)
{
	free(s->e);
	s->e = NULL;
}

/* The entry of hash's set that eq finds key in (*hit true), or the one to
 * fill (*hit false: the caller writes the key and answer and sets
 * tag.used). Either is stamped as used now. By type, the entry's: inlined,
 * its size and eq are constants and the two probes cost what hand-written
 * ones did. */
#define way2_get(s, hash, type, eq, key, hit) \
	((type *)way2_get_(s, hash, sizeof(type), eq, key, hit))

static inline void *way2_get_(struct way2 *s, uint32_t hash, size_t size,
			      bool (*eq)(const void *entry, const void *key), const void *key,
			      bool *hit)
{
	uint32_t slot = hash & s->mask;
	struct way2_tag *t0 = (struct way2_tag *)(s->e + (size_t)(slot & ~1u) * size),
			*t1 = (struct way2_tag *)(s->e + (size_t)(slot | 1u) * size), *t;
	bool h0 = t0->used && eq(t0, key), h1 = t1->used && eq(t1, key);

	*hit = h0 || h1;
	if (*hit)
		t = h0 ? t0 : t1;
	else if (!t0->used || !t1->used)
		t = !t0->used ? t0 : t1;
	else
		t = (int32_t)(t0->stamp - t1->stamp) <= 0 ? t0 : t1;
	t->stamp = ++s->clock;
	return t;
}

#endif
