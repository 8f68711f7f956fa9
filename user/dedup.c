/* dedup.c - first sightings written at once, repeats counted into periodic summaries. */
#include <stdlib.h>
#include <string.h>
#include "dedup.h"
#include "htab.h"

#define DEDUP_QUIET_INTERVALS 3 /* forget a key after this many silent intervals */

struct entry {
	struct hnode h;
	struct lru_node lru;	/* by last sighting, most recent at the head */
	struct dedup_summary s; /* key fields + counts since the last line */
	uint64_t last_line_ns;	/* last time a line (event or summary) was written */
	uint32_t *clients;	/* hashes of distinct client addresses */
	uint32_t nclients_cap;
};

struct dedup {
	uint32_t interval_s;
	bool every;
	struct htab t;
	struct lru lru;
	dedup_emit_fn fn;
	void *ctx;
	struct dedup_stats st;
};

static uint64_t key_hash(const struct dedup *d, const struct dedup_summary *k)
{
	const struct hseed *s = &d->t.seed;
	uint64_t h;

	h = hash_more(s, k->action, &k->server, sizeof(k->server));
	h = hash_more(s, h, k->sni, strlen(k->sni));
	h = hash_more(s, h, k->leaf_sha256, strlen(k->leaf_sha256));
	return hash_more(s, h, k->verdict, strlen(k->verdict));
}

static bool key_eq(const struct dedup_summary *a, const struct dedup_summary *b)
{
	return a->action == b->action && !memcmp(&a->server, &b->server, sizeof(a->server)) &&
	       a->has_sni == b->has_sni && !strcmp(a->sni, b->sni) &&
	       !strcmp(a->leaf_sha256, b->leaf_sha256) && !strcmp(a->verdict, b->verdict);
}

static void key_from_report(struct dedup_summary *k, const struct cs_report *r, const char *verdict,
			    int severity)
{
	memset(k, 0, sizeof(*k));
	k->action = r->action;
	k->server = r->server;
	k->has_sni = r->has_sni;
	memcpy(k->sni, r->sni, sizeof(k->sni));
	if (r->chain_len && r->chain[0])
		memcpy(k->leaf_sha256, r->chain[0]->sha256_hex, sizeof(k->leaf_sha256));
	else if (r->action == REPORT_ALERT)
		memcpy(k->leaf_sha256, r->alert_cert_sha256, sizeof(k->leaf_sha256));
	k->verdict = verdict; /* verdict_name(): static */
	k->severity = severity;
}

static struct entry *lru_ent(struct lru_node *n)
{
	return lru_entry(n, struct entry, lru);
}

static void entry_free(struct dedup *d, struct entry *e)
{
	htab_del(&d->t, &e->h);
	lru_unlink(&d->lru, &e->lru);
	free(e->clients);
	free(e);
	d->st.entries--;
}

static uint32_t client_hash(const struct dedup *d, const struct report_endpoint *c)
{
	uint32_t h = (uint32_t)htab_hash(&d->t, c->addr, sizeof(c->addr));

	return h ? h : 1; /* 0 marks an empty slot */
}

/* Open addressing over a table that doubles up to DEDUP_CLIENTS_MAX. */
static void add_client(struct dedup *d, struct entry *e, const struct report_endpoint *c)
{
	uint32_t h = client_hash(d, c), i;

	if (e->s.clients_capped)
		return;
	if ((e->s.clients + 1) * 2 > e->nclients_cap) {
		uint32_t cap = e->nclients_cap ? e->nclients_cap * 2 : 8, *t;

		if (cap > DEDUP_CLIENTS_MAX * 2) {
			e->s.clients_capped = true;
			return;
		}
		if (!(t = calloc(cap, sizeof(*t))))
			return;
		for (uint32_t j = 0; j < e->nclients_cap; j++) {
			if (!e->clients[j])
				continue;
			for (i = e->clients[j] & (cap - 1); t[i]; i = (i + 1) & (cap - 1))
				;
			t[i] = e->clients[j];
		}
		free(e->clients);
		e->clients = t;
		e->nclients_cap = cap;
	}
	for (i = h & (e->nclients_cap - 1); e->clients[i]; i = (i + 1) & (e->nclients_cap - 1))
		if (e->clients[i] == h)
			return;
	e->clients[i] = h;
	e->s.clients++;
}

static void reset_counts(struct entry *e)
{
	e->s.count = 0;
	e->s.clients = 0;
	e->s.clients_capped = false;
	if (e->clients)
		memset(e->clients, 0, e->nclients_cap * sizeof(*e->clients));
}

static void summarise(struct dedup *d, struct entry *e, uint64_t now_ns)
{
	e->s.ts_ns = now_ns;
	if (d->fn)
		d->fn(d->ctx, &e->s);
	d->st.summaries++;
	e->last_line_ns = now_ns;
	reset_counts(e);
}

static struct entry *find(struct dedup *d, const struct dedup_summary *k, uint64_t h)
{
	struct hnode *n;

	htab_for_hash(&d->t, h, n)
	{
		struct entry *e = htab_entry(n, struct entry, h);

		if (key_eq(&e->s, k))
			return e;
	}
	return NULL;
}

bool dedup_admit(struct dedup *d, const struct cs_report *r, const char *verdict, int severity,
		 uint64_t now_ns)
{
	struct dedup_summary k;
	struct entry *e;
	uint64_t h;

	if (d->every) {
		d->st.admitted++;
		return true;
	}
	key_from_report(&k, r, verdict, severity);
	h = key_hash(d, &k);
	if ((e = find(d, &k, h))) {
		if (!e->s.count)
			e->s.first_ns = r->ts_ns;
		e->s.count++;
		e->s.last_ns = r->ts_ns;
		add_client(d, e, &r->client);
		lru_touch(&d->lru, &e->lru);
		d->st.suppressed++;
		return false;
	}
	/* Full: forget the quietest key, writing what it still owes first. */
	if (d->st.entries >= DEDUP_ENTRIES_MAX && d->lru.tail) {
		struct entry *old = lru_ent(d->lru.tail);

		if (old->s.count)
			summarise(d, old, now_ns);
		entry_free(d, old);
		d->st.evicted++;
	}
	if ((e = calloc(1, sizeof(*e)))) {
		e->s = k;
		e->last_line_ns = now_ns;
		htab_add(&d->t, &e->h, h);
		lru_push(&d->lru, &e->lru);
		d->st.entries++;
	}
	d->st.admitted++;
	return true;
}

void dedup_flush(struct dedup *d, uint64_t now_ns, bool at_exit)
{
	uint64_t iv = (uint64_t)d->interval_s * 1000000000ULL;
	struct entry *e, *prev;

	for (e = lru_ent(d->lru.tail); e; e = prev) {
		prev = lru_ent(e->lru.prev);
		if (e->s.count && (at_exit || now_ns - e->last_line_ns >= iv)) {
			summarise(d, e, now_ns);
			continue;
		}
		if (!e->s.count && now_ns - e->last_line_ns >= DEDUP_QUIET_INTERVALS * iv)
			entry_free(d, e);
	}
}

struct dedup *dedup_new(uint32_t interval_s, bool every, dedup_emit_fn fn, void *ctx)
{
	struct dedup *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->interval_s = interval_s ? interval_s : 60;
	d->every = every;
	d->fn = fn;
	d->ctx = ctx;
	if (!htab_init(&d->t, DEDUP_ENTRIES_MAX)) {
		free(d);
		return NULL;
	}
	return d;
}

void dedup_free(struct dedup *d)
{
	if (!d)
		return;
	while (d->lru.head)
		entry_free(d, lru_ent(d->lru.head));
	htab_fini(&d->t);
	free(d);
}

void dedup_stats(const struct dedup *d, struct dedup_stats *st)
{
	*st = d->st;
}
