/* lists_index.c - what a generation's lookups stand on: an arena, a hash index, a keyed map. */
/*
 * Why not htab.h here: a generation's CRL entries (one per revoked serial,
 * millions in some CAs' CRLs) are built once, never deleted, and held in
 * arrays that grow by realloc as CRL files load. An open-addressing index of
 * (hash, entry index) slots fits that: 8 B a slot, at most half full, and
 * no pointer into the array, which may move. On htab.h each entry would
 * embed a 24 B struct hnode (its pprev points into the array: every grow
 * would have to relink) plus 8 B buckets. Measured for 1,000,000 serials
 * (sizeof and the tables' own sizing rules, x86-64): hidx 16 B crl_ent +
 * 16.8 B of slots = 32.8 B an entry (32.8 MB); htab 40 B crl_ent + 8.4 B of
 * buckets = 48.4 B (48.4 MB), 48% more; 3,000,000: 38.4 B against 51.2 B.
 * The hash is still htab.h's keyed one (lists_hash).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lists_int.h"

void *lists_grow(void *p, uint32_t *cap, uint64_t need, size_t size, uint32_t first)
{
	uint64_t nc = *cap ? *cap : first;
	void *np;

	if (need <= *cap)
		return p;
	while (nc < need)
		nc *= 2;
	if (nc > UINT32_MAX || !(np = realloc(p, nc * size)))
		return NULL;
	*cap = (uint32_t)nc;
	return np;
}

/* ---- arena ---- */

struct arena {
	struct arena *next;
	size_t used, cap;
	max_align_t data[];
};

void *arena_alloc(struct arena **ap, size_t n)
{
	struct arena *a = *ap;
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (!a || a->cap - a->used < n) {
		size_t cap = n > 65536 ? n : 65536;

		if (!(a = malloc(sizeof(*a) + cap)))
			return NULL;
		a->next = *ap;
		a->used = 0;
		a->cap = cap;
		*ap = a;
	}
	p = (char *)a->data + a->used;
	a->used += n;
	return p;
}

char *arena_strndup(struct arena **ap, const char *s, size_t n)
{
	char *p = arena_alloc(ap, n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

char *arena_printf(struct arena **ap, const char *fmt, ...)
{
	va_list ap1, ap2;
	int n;
	char *p;

	va_start(ap1, fmt);
	va_copy(ap2, ap1);
	n = vsnprintf(NULL, 0, fmt, ap1);
	va_end(ap1);
	p = n < 0 ? NULL : arena_alloc(ap, (size_t)n + 1);
	if (p)
		vsnprintf(p, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	return p;
}

void arena_free(struct arena *a)
{
	while (a) {
		struct arena *n = a->next;

		free(a);
		a = n;
	}
}

/* ---- hash index ---- */

bool hidx_reserve(struct hidx *t, uint64_t want)
{
	uint64_t cap = t->s ? (uint64_t)t->mask + 1 : 0, nc = cap ? cap : 16;
	struct hidx_slot *ns;

	while (nc < want * 2)
		nc *= 2;
	if (nc == cap)
		return true;
	if (nc > ((uint64_t)1 << 31) || !(ns = calloc(nc, sizeof(*ns))))
		return false;
	for (uint64_t i = 0; i < cap; i++) {
		uint64_t j;

		if (!t->s[i].idx1)
			continue;
		for (j = t->s[i].h & (nc - 1); ns[j].idx1; j = (j + 1) & (nc - 1))
			;
		ns[j] = t->s[i];
	}
	free(t->s);
	t->s = ns;
	t->mask = (uint32_t)(nc - 1);
	return true;
}

bool hidx_add(struct hidx *t, uint32_t h, uint32_t idx)
{
	uint32_t j;

	if (!hidx_reserve(t, (uint64_t)t->n + 1))
		return false;
	for (j = h & t->mask; t->s[j].idx1; j = (j + 1) & t->mask)
		;
	t->s[j].h = h;
	t->s[j].idx1 = idx + 1;
	t->n++;
	return true;
}

uint32_t hidx_next(const struct hidx *t, uint32_t h, uint32_t *c)
{
	uint32_t j;

	if (!t->s)
		return UINT32_MAX;
	for (j = *c == HIDX_START ? h & t->mask : (*c + 1) & t->mask; t->s[j].idx1;
	     j = (j + 1) & t->mask)
		if (t->s[j].h == h) {
			*c = j;
			return t->s[j].idx1 - 1;
		}
	return UINT32_MAX;
}

/* ---- byte-string keyed map ---- */

const void *kmap_get(const struct kmap *m, const struct hseed *seed, const void *key, size_t klen)
{
	uint32_t h = lists_hash(seed, 0xcbf29ce484222325ULL, key, klen), c = HIDX_START, i;

	while ((i = hidx_next(&m->ht, h, &c)) != UINT32_MAX)
		if (m->e[i].klen == klen && !memcmp(m->e[i].key, key, klen))
			return m->e[i].val;
	return NULL;
}

int kmap_put(struct kmap *m, struct arena **ar, const struct hseed *seed, const void *key,
	     size_t klen, const void *val, const void **old)
{
	uint32_t h = lists_hash(seed, 0xcbf29ce484222325ULL, key, klen);
	const void *o = kmap_get(m, seed, key, klen);
	struct kent *ne;
	uint8_t *k;

	if (o) {
		if (old)
			*old = o;
		return 0;
	}
	if (m->n >= ENTRIES_MAX)
		return -1;
	if (!(ne = lists_grow(m->e, &m->cap, (uint64_t)m->n + 1, sizeof(*m->e), 64)))
		return -1;
	m->e = ne;
	if (!(k = arena_alloc(ar, klen ? klen : 1)))
		return -1;
	memcpy(k, key, klen);
	if (!hidx_add(&m->ht, h, m->n))
		return -1;
	m->e[m->n++] = (struct kent){ k, (uint32_t)klen, val };
	return 1;
}

void kmap_free(struct kmap *m)
{
	free(m->ht.s);
	free(m->e);
}
