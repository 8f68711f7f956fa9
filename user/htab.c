/* htab.c - the one hash table's seeds and buckets (the rest is inline in htab.h). */
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include "htab.h"

#define HTAB_BUCKETS_MIN 16u
#define HTAB_BUCKETS_MAX (1u << 24)

void hseed_init(struct hseed *s)
{
	static const struct hseed fixed = { 0x243f6a8885a308d3ULL, 0x13198a2e03707344ULL };
	struct timespec ts;

	if (getrandom(s, sizeof(*s), GRND_NONBLOCK) == sizeof(*s))
		return;
	/* No entropy yet (early boot): unpredictable enough for bucket choice,
	 * which is all the seed guards. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	s->k0 = hash_fold((uint64_t)ts.tv_nsec ^ fixed.k0, (uint64_t)(uintptr_t)s ^ fixed.k1);
	s->k1 = hash_fold((uint64_t)ts.tv_sec ^ fixed.k1, (uint64_t)getpid() ^ s->k0);
}

bool htab_init(struct htab *t, uint32_t max)
{
	uint32_t nb = HTAB_BUCKETS_MIN;

	while (nb < max && nb < HTAB_BUCKETS_MAX)
		nb <<= 1;
	t->b = calloc(nb, sizeof(*t->b));
	t->mask = nb - 1;
	t->n = 0;
	hseed_init(&t->seed);
	return t->b != NULL;
}

void htab_fini(struct htab *t)
{
	free(t->b);
	t->b = NULL;
	t->n = 0;
}
