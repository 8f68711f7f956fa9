/* ktable.h - a chained hash table of entries keyed by a SHA-256, intrusive like lru.h. */
#ifndef CS_KTABLE_H
#define CS_KTABLE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define KT_KEY_LEN 32

struct kt_node {
	struct kt_node *next;
	uint8_t key[KT_KEY_LEN];
};

struct ktable {
	struct kt_node **b;
	uint32_t mask;
	uint32_t n;
};

/* Buckets: the next power of two at or above want (at least 16). */
static inline bool kt_init(struct ktable *t, uint32_t want)
{
	uint32_t nb = 16;

	while (nb < want && nb < (1u << 24))
		nb *= 2;
	t->b = calloc(nb, sizeof(*t->b));
	t->mask = nb - 1;
	t->n = 0;
	return t->b != NULL;
}

static inline void kt_fini(struct ktable *t)
{
	free(t->b);
	t->b = NULL;
}

/* Keys are digests: their first bytes are already uniform. */
static inline uint32_t kt_slot(const struct ktable *t, const uint8_t *key)
{
	uint32_t h;

	memcpy(&h, key, sizeof(h));
	return h & t->mask;
}

static inline struct kt_node *kt_find(const struct ktable *t, const uint8_t *key)
{
	for (struct kt_node *n = t->b[kt_slot(t, key)]; n; n = n->next)
		if (!memcmp(n->key, key, KT_KEY_LEN))
			return n;
	return NULL;
}

/* n->key set, not in the table yet. */
static inline void kt_add(struct ktable *t, struct kt_node *n)
{
	struct kt_node **b = &t->b[kt_slot(t, n->key)];

	n->next = *b;
	*b = n;
	t->n++;
}

static inline void kt_del(struct ktable *t, struct kt_node *n)
{
	for (struct kt_node **p = &t->b[kt_slot(t, n->key)]; *p; p = &(*p)->next)
		if (*p == n) {
			*p = n->next;
			n->next = NULL;
			t->n--;
			return;
		}
}

#endif
