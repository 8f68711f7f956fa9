/* served.c - assembles the uprobe source's ring records into served chains (per thread, bounded) and passes Go secrets on. */
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "served.h"
#include "cs_uprobe.h"
#include "htab.h"

_Static_assert(CS_UP_CHAIN_MAX == TLS_CHAIN_MAX, "the kernel copies what a chain keeps");
_Static_assert(CS_UP_RANDOM_LEN == KEYLOG_RANDOM_LEN, "a client_random is a client_random");

#define RECENT_SECRETS 16 /* fingerprints kept to drop a repeated secret */
#define GONE_MAX       64 /* chains evicted, whose later records are ignored */

/* A certificate being received: der_len bytes, have of them so far. */
struct piece {
	uint8_t *der;
	uint32_t der_len;
	uint32_t have;
};

/* One thread's chain in progress. */
struct thread {
	bool used;
	uint32_t tid, tgid;
	uint64_t chain;	   /* the kernel's chain id */
	uint64_t start_ns; /* first record, CLOCK_MONOTONIC */
	uint32_t total;	   /* certificates announced so far */
	bool broken;	   /* a record is missing: never delivered */
	bool oversize;	   /* a certificate was too big to copy */
	struct piece cert[TLS_CHAIN_MAX];
	struct hnode h;	     /* keyed hash of tid */
	struct lru_node lru; /* most recently used first */
};

struct served {
	struct uprobe_cbs cb;
	int64_t real_minus_mono;
	struct htab tab;
	struct thread th[SERVED_THREADS_MAX];
	struct lru lru;
	uint32_t n_threads;
	uint64_t bytes;
	uint64_t recent[RECENT_SECRETS]; /* tid and hash of a secret record */
	uint32_t recent_pos;
	struct {
		uint32_t tid;
		uint64_t chain;
	} gone[GONE_MAX];
	uint32_t gone_pos;
	uint64_t c[SERVED_C_MAX];
};

static const char *const counter_names[SERVED_C_MAX] = {
	[SERVED_C_CHAINS] = "chains_delivered",
	[SERVED_C_TRUNCATED] = "chains_truncated",
	[SERVED_C_SECRETS] = "secrets_delivered",
	[SERVED_C_SECRET_DUPS] = "secrets_repeated",
	[SERVED_C_SECRET_LABEL] = "secrets_unknown_label",
	[SERVED_C_ORPHANED] = "chains_orphaned",
	[SERVED_C_EXPIRED] = "chains_expired",
	[SERVED_C_INCOMPLETE] = "chains_incomplete",
	[SERVED_C_OVERSIZE] = "chains_oversize",
	[SERVED_C_EVICTED] = "chains_evicted",
	[SERVED_C_NO_CHAIN] = "binds_without_chain",
	[SERVED_C_BAD_RECORD] = "records_malformed",
	[SERVED_C_BAD_ADDR] = "binds_unknown_family",
};

const char *served_counter_name(int i)
{
	return i >= 0 && i < SERVED_C_MAX ? counter_names[i] : "unknown";
}

struct served *served_new(const struct uprobe_cbs *cb, int64_t real_minus_mono)
{
	struct served *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	if (!htab_init(&s->tab, SERVED_THREADS_MAX)) {
		free(s);
		return NULL;
	}
	if (cb)
		s->cb = *cb;
	s->real_minus_mono = real_minus_mono;
	return s;
}

static struct thread *find(struct served *s, uint32_t tid)
{
	struct hnode *n;

	htab_for_hash(&s->tab, htab_hash(&s->tab, &tid, sizeof(tid)), n)
	{
		struct thread *t = htab_entry(n, struct thread, h);

		if (t->tid == tid)
			return t;
	}
	return NULL;
}

static void clear_chain(struct served *s, struct thread *t)
{
	uint32_t i;

	for (i = 0; i < TLS_CHAIN_MAX; i++) {
		if (t->cert[i].der) {
			s->bytes -= t->cert[i].der_len;
			free(t->cert[i].der);
		}
	}
	memset(t->cert, 0, sizeof(t->cert));
	t->total = 0;
	t->broken = t->oversize = false;
}

static void drop(struct served *s, struct thread *t, int counter)
{
	if (counter >= 0)
		s->c[counter]++;
	clear_chain(s, t);
	htab_del(&s->tab, &t->h);
	lru_unlink(&s->lru, &t->lru);
	t->used = false;
	s->n_threads--;
}

/* Drops a chain for want of room; the rest of its records, still in the
 * ring, are ignored rather than counted again as incomplete. */
static void evict(struct served *s, struct thread *t)
{
	s->gone[s->gone_pos % GONE_MAX].tid = t->tid;
	s->gone[s->gone_pos++ % GONE_MAX].chain = t->chain;
	drop(s, t, SERVED_C_EVICTED);
}

static bool evicted(const struct served *s, uint32_t tid, uint64_t chain)
{
	uint32_t i;

	for (i = 0; i < GONE_MAX; i++)
		if (s->gone[i].tid == tid && s->gone[i].chain == chain)
			return true;
	return false;
}

static struct thread *add(struct served *s, uint32_t tid)
{
	struct thread *t = NULL;
	uint32_t i;

	if (s->n_threads == SERVED_THREADS_MAX)
		evict(s, lru_entry(s->lru.tail, struct thread, lru));
	for (i = 0; i < SERVED_THREADS_MAX; i++) {
		if (!s->th[i].used) {
			t = &s->th[i];
			break;
		}
	}
	if (!t)
		return NULL;
	memset(t, 0, sizeof(*t));
	t->used = true;
	t->tid = tid;
	htab_add(&s->tab, &t->h, htab_hash(&s->tab, &tid, sizeof(tid)));
	lru_push(&s->lru, &t->lru);
	s->n_threads++;
	return t;
}

/* The certificate index expected next: the first not yet complete. */
static uint32_t expected(const struct thread *t)
{
	uint32_t i = t->total;

	if (i && i <= TLS_CHAIN_MAX && t->cert[i - 1].have < t->cert[i - 1].der_len)
		return i - 1;
	return i;
}

static int on_cert(struct served *s, const struct cs_up_cert *r, size_t size)
{
	struct thread *t;
	struct piece *p;
	const uint8_t *data = (const uint8_t *)(r + 1);

	if (r->len > size - sizeof(*r) || r->off > r->der_len || r->len > r->der_len - r->off ||
	    (!r->flags && (r->der_len > CS_UP_CERT_MAX || !r->len)) || (r->flags && r->len)) {
		s->c[SERVED_C_BAD_RECORD]++;
		return -1;
	}
	if (evicted(s, r->h.tid, r->h.chain))
		return 0;
	t = find(s, r->h.tid);
	if (t && t->chain != r->h.chain) {
		/* The thread began another chain: the one held never went out. */
		drop(s, t, t->chain < r->h.chain ? SERVED_C_ORPHANED : SERVED_C_INCOMPLETE);
		t = NULL;
	}
	if (!t) {
		t = add(s, r->h.tid);
		if (!t)
			return 0;
		t->tgid = r->h.tgid;
		t->chain = r->h.chain;
		t->start_ns = r->h.ts_ns;
	}
	lru_touch(&s->lru, &t->lru);
	if (t->broken)
		return 0;
	if (r->index != expected(t) || (r->index == t->total) != (r->off == 0)) {
		t->broken = true; /* a record of this chain was lost */
		return 0;
	}
	if (r->index == t->total)
		t->total++;
	if (r->flags & CS_UP_CERT_OVERSIZE)
		t->oversize = true;
	if (r->flags || r->index >= TLS_CHAIN_MAX)
		return 0;
	p = &t->cert[r->index];
	if (!p->der) {
		if (s->bytes + r->der_len > SERVED_BYTES_MAX || !(p->der = malloc(r->der_len))) {
			evict(s, t);
			return 0;
		}
		p->der_len = r->der_len;
		s->bytes += r->der_len;
	}
	if (r->off != p->have || r->der_len != p->der_len) {
		t->broken = true;
		return 0;
	}
	memcpy(p->der + p->have, data, r->len);
	p->have += r->len;
	return 0;
}

/* The socket's addresses as the capture keys the server's direction. */
static int bind_key(const struct cs_up_bind *b, struct cs_flow_key *k)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	memset(k, 0, sizeof(*k));
	k->sport = b->lport;
	k->dport = b->rport;
	k->proto = IPPROTO_TCP;
	if (b->family == AF_INET || (b->family == AF_INET6 && !memcmp(b->local, mapped, 12) &&
				     !memcmp(b->remote, mapped, 12))) {
		int off = b->family == AF_INET ? 0 : 12;

		k->family = CS_AF_INET;
		memcpy(k->saddr, b->local + off, 4);
		memcpy(k->daddr, b->remote + off, 4);
		return 0;
	}
	if (b->family != AF_INET6)
		return -1;
	k->family = CS_AF_INET6;
	memcpy(k->saddr, b->local, 16);
	memcpy(k->daddr, b->remote, 16);
	return 0;
}

static bool complete(const struct thread *t, uint32_t n)
{
	uint32_t i;

	if (t->total != n || !n)
		return false;
	for (i = 0; i < n && i < TLS_CHAIN_MAX; i++)
		if (!t->cert[i].der || t->cert[i].have != t->cert[i].der_len)
			return false;
	return true;
}

static void deliver(struct served *s, struct thread *t, const struct cs_up_bind *b,
		    const struct cs_flow_key *k)
{
	struct served_chain c;
	uint32_t i;

	memset(&c, 0, sizeof(c));
	c.key = *k;
	c.tgid = b->h.tgid;
	c.tid = b->h.tid;
	memcpy(c.comm, b->comm, sizeof(c.comm) - 1);
	c.binding = UPROBE_BIND_EXACT;
	c.total = t->total;
	c.n = t->total < TLS_CHAIN_MAX ? t->total : TLS_CHAIN_MAX;
	for (i = 0; i < c.n; i++) {
		c.der[i] = t->cert[i].der;
		c.der_len[i] = t->cert[i].der_len;
	}
	c.mono_ns = b->h.ts_ns;
	c.ts_ns = (uint64_t)((int64_t)b->h.ts_ns + s->real_minus_mono);
	s->c[SERVED_C_CHAINS]++;
	if (c.total > TLS_CHAIN_MAX)
		s->c[SERVED_C_TRUNCATED]++;
	if (s->cb.on_chain)
		s->cb.on_chain(s->cb.ctx, &c);
}

static int on_bind(struct served *s, const struct cs_up_bind *b)
{
	struct thread *t = find(s, b->h.tid);
	struct cs_flow_key k;

	if (evicted(s, b->h.tid, b->h.chain))
		return 0;
	if (!t || t->chain != b->h.chain) {
		s->c[SERVED_C_NO_CHAIN]++;
		if (t && t->chain < b->h.chain)
			drop(s, t, SERVED_C_INCOMPLETE);
		return 0;
	}
	if (bind_key(b, &k)) {
		drop(s, t, SERVED_C_BAD_ADDR);
		return -1;
	}
	if (t->oversize)
		drop(s, t, SERVED_C_OVERSIZE);
	else if (t->broken || !complete(t, b->n))
		drop(s, t, SERVED_C_INCOMPLETE);
	else {
		deliver(s, t, b, &k);
		drop(s, t, -1);
	}
	return 0;
}

/* A keyed hash of the record's tid and arguments: spots the same call
 * twice (a Go function re-entered from its start after its stack grew). */
static uint64_t secret_hash(const struct served *s, const struct cs_up_secret *r)
{
	uint64_t h = hash_more(&s->tab.seed, r->h.tid, r->label, r->label_len);

	h = hash_more(&s->tab.seed, h, r->random, CS_UP_RANDOM_LEN);
	return hash_more(&s->tab.seed, h, r->secret, r->secret_len);
}

/* The key log's label of that name, or KEYLOG_LABEL_MAX. */
static enum keylog_label label_of(const char *name, size_t len)
{
	enum keylog_label l;
	const char *n;

	for (l = 0; l < KEYLOG_LABEL_MAX; l++) {
		n = keylog_label_name(l);
		if (n && strlen(n) == len && !memcmp(n, name, len))
			return l;
	}
	return KEYLOG_LABEL_MAX;
}

static int on_secret(struct served *s, const struct cs_up_secret *r)
{
	enum keylog_label label;
	uint64_t h;
	uint32_t i;

	if (!r->label_len || r->label_len > CS_UP_LABEL_MAX || !r->secret_len ||
	    r->secret_len > CS_UP_SECRET_MAX || memchr(r->label, 0, r->label_len)) {
		s->c[SERVED_C_BAD_RECORD]++;
		return -1;
	}
	h = secret_hash(s, r);
	for (i = 0; i < RECENT_SECRETS; i++) {
		if (s->recent[i] == h) {
			s->c[SERVED_C_SECRET_DUPS]++;
			return 0;
		}
	}
	s->recent[s->recent_pos++ % RECENT_SECRETS] = h;
	label = label_of(r->label, r->label_len);
	if (label == KEYLOG_LABEL_MAX) {
		s->c[SERVED_C_SECRET_LABEL]++;
		return 0;
	}
	s->c[SERVED_C_SECRETS]++;
	if (s->cb.on_secret)
		s->cb.on_secret(s->cb.ctx, label, r->random, r->secret, r->secret_len);
	return 0;
}

int served_record(struct served *s, const void *data, size_t size)
{
	const struct cs_up_hdr *h = data;

	if (size < sizeof(*h))
		goto bad;
	switch (h->type) {
	case CS_UP_REC_CERT:
		if (size < sizeof(struct cs_up_cert))
			goto bad;
		return on_cert(s, data, size);
	case CS_UP_REC_BIND:
		if (size < sizeof(struct cs_up_bind))
			goto bad;
		return on_bind(s, data);
	case CS_UP_REC_SECRET:
		if (size < sizeof(struct cs_up_secret))
			goto bad;
		return on_secret(s, data);
	}
bad:
	s->c[SERVED_C_BAD_RECORD]++;
	return -1;
}

void served_expire(struct served *s, uint64_t now_mono,
		   bool (*alive)(void *actx, uint32_t tgid, uint32_t tid), void *actx)
{
	uint32_t i;

	for (i = 0; i < SERVED_THREADS_MAX; i++) {
		struct thread *t = &s->th[i];

		if (!t->used)
			continue;
		/* Signed: a record may be stamped after now_mono was read. */
		if ((int64_t)(now_mono - t->start_ns) > (int64_t)SERVED_TTL_NS ||
		    (alive && !alive(actx, t->tgid, t->tid)))
			drop(s, t, SERVED_C_EXPIRED);
	}
}

void served_held(const struct served *s, uint32_t *threads, uint64_t *bytes)
{
	*threads = s->n_threads;
	*bytes = s->bytes;
}

void served_counters(const struct served *s, uint64_t out[SERVED_C_MAX])
{
	memcpy(out, s->c, sizeof(s->c));
}

void served_free(struct served *s)
{
	uint32_t i;

	if (!s)
		return;
	for (i = 0; i < SERVED_THREADS_MAX; i++)
		if (s->th[i].used)
			clear_chain(s, &s->th[i]);
	explicit_bzero(s->recent, sizeof(s->recent));
	htab_fini(&s->tab);
	free(s);
}
