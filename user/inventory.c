/* inventory.c - which leaf each server/SNI served when: the hot endpoints, observe, open, close. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>
#include "defaults.h"
#include "inventory_decide.h"
#include "inventory_int.h"
#include "inventory_store.h"
#include "json.h"

/*
 * How it works. The live path keeps the hot endpoints in memory (a hash
 * table in LRU order, each with its leaves) and decides there; a miss loads
 * the endpoint's rows once. inventory_flush() writes the endpoints touched
 * since the last flush in one transaction (WAL, synchronous=NORMAL). When
 * the file cannot be written the same schema lives in an in-memory SQLite
 * database; when the file is back, that database is merged into it. So the
 * dump and the metrics read one schema, whichever database is current.
 *
 * Decisions, per (endpoint, SNI, key type) "slot", with W the window:
 * - The first leaf of an endpoint is only recorded.
 * - A leaf never served here replaces the slot's established leaf:
 *   cert.changed; a rollback if it was issued before the one it replaces,
 *   a renewal if it was issued later for the same subject and SANs.
 * - A leaf served here before comes back (a "return"): a change only if
 *   the two leaves were never served within W of each other around the
 *   switch (the established one was served at least W after the returning
 *   one was last seen, or the returning one at least W after the
 *   established one was last seen); then it is a rollback unless it was
 *   issued after the one it replaces (that undoes a rollback).
 * - Otherwise both leaves are being served: cert.inconsistent, with each
 *   leaf's share of the handshakes in W, at most once per repeat_s.
 * - Hysteresis: after INV_FLAP_CHANGES reported changes within
 *   flap_hold_s, further changes are flapping: cert.inconsistent (shares
 *   over the hold) instead of changed/rollback.
 * - Time: each endpoint's times never move back (a handshake older than
 *   the last is counted as seen at the last); rules compare stored times,
 *   so a clock step back can cost a report, never invent a rollback.
 */

/* ---- the hot endpoints ---- */

static uint64_t ep_hash(const struct inventory *inv, uint8_t family, const uint8_t *addr,
			uint16_t port, const char *sni)
{
	uint64_t h = hash_more(&inv->tab.seed, (uint64_t)family << 16 | port, addr, 16);

	return sni ? hash_more(&inv->tab.seed, h, sni, strlen(sni)) : h;
}

static bool ep_match(const struct endpoint *e, uint8_t family, const uint8_t *addr, uint16_t port,
		     const char *sni)
{
	return e->family == family && e->port == port && !memcmp(e->addr, addr, 16) &&
	       e->has_sni == (sni != NULL) && (!sni || !strcmp(e->sni, sni));
}

static void ep_set_dirty(struct inventory *inv, struct endpoint *e)
{
	if (e->dirty)
		return;
	e->dirty = true;
	e->dnext = inv->dirty;
	inv->dirty = e;
}

static void leaf_free(struct leaf *l)
{
	free(l->issuer);
	free(l->pc);
	l->issuer = NULL;
	l->pc = NULL;
}

static void ep_free(struct endpoint *e)
{
	for (uint32_t i = 0; i < e->n_leaves; i++)
		leaf_free(&e->leaves[i]);
	free(e->leaves);
	free(e);
}

static int slot_of(struct endpoint *e, const char *key_type)
{
	uint32_t i;

	for (i = 0; i < e->n_slots; i++)
		if (!strcmp(e->slots[i].key_type, key_type))
			return (int)i;
	if (e->n_slots == SLOTS_MAX)
		return SLOTS_MAX - 1; /* a fifth key type shares the last slot */
	memset(&e->slots[i], 0, sizeof(e->slots[i]));
	snprintf(e->slots[i].key_type, sizeof(e->slots[i].key_type), "%s", key_type);
	e->slots[i].est = -1;
	e->n_slots++;
	return (int)i;
}

/* The slot's leaf served last: what it serves, as far as anyone can tell. */
static int slot_latest(const struct endpoint *e, int slot, int except)
{
	int best = -1;

	for (uint32_t i = 0; i < e->n_leaves; i++)
		if (e->leaves[i].slot == slot && (int)i != except &&
		    (best < 0 || e->leaves[i].last_ns > e->leaves[best].last_ns))
			best = (int)i;
	return best;
}

static bool leaf_grow(struct endpoint *e, uint32_t max)
{
	struct leaf *n;
	uint32_t cap;

	if (e->n_leaves < e->cap_leaves)
		return true;
	cap = e->cap_leaves ? e->cap_leaves * 2 : 2;
	if (cap > max)
		cap = max;
	n = realloc(e->leaves, cap * sizeof(*n));
	if (!n)
		return false;
	e->leaves = n;
	e->cap_leaves = cap;
	return true;
}

/* Drops leaf i: the last moves into its place; a slot whose established
 * leaf went falls back on its latest other. */
static void leaf_remove(struct endpoint *e, uint32_t i)
{
	uint32_t last = e->n_leaves - 1;

	leaf_free(&e->leaves[i]);
	if (i != last)
		e->leaves[i] = e->leaves[last];
	e->n_leaves--;
	if (e->current == (int)i)
		e->current = -1;
	else if (e->current == (int)last)
		e->current = (int)i;
	for (uint32_t s = 0; s < e->n_slots; s++) {
		struct slot *sl = &e->slots[s];

		if (sl->est == (int)i)
			sl->est = slot_latest(e, (int)s, -1);
		else if (sl->est == (int)last)
			sl->est = (int)i;
	}
	e->trim = true;
}

/* The endpoint's rows from one database, newest first; an SQLite code. */
static int load_rows(struct inventory *inv, sqlite3_stmt *st, struct endpoint *e)
{
	int rc;

	sqlite3_bind_text(st, 1, e->addr_text, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, e->port);
	sqlite3_bind_text(st, 3, e->has_sni ? e->sni : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, (int)inv->o.max_leaves);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct leaf *l;
		const char *s;

		if (!leaf_grow(e, inv->o.max_leaves))
			break;
		l = &e->leaves[e->n_leaves];
		memset(l, 0, sizeof(*l));
		if (!hex_parse((const char *)sqlite3_column_text(st, 0), l->sha, 32))
			continue;
		l->first_ns = to_ns(sqlite3_column_int64(st, 1));
		l->last_ns = to_ns(sqlite3_column_int64(st, 2));
		l->handshakes = (uint64_t)sqlite3_column_int64(st, 3);
		snprintf(l->verdict, sizeof(l->verdict), "%s",
			 (const char *)sqlite3_column_text(st, 4) ?: "");
		copy_cut(l->serial, sizeof(l->serial), (const char *)sqlite3_column_text(st, 5),
			 INV_SERIAL_MAX);
		s = (const char *)sqlite3_column_text(st, 6);
		if (s && (l->issuer = malloc(INV_ISSUER_MAX + 4)))
			copy_cut(l->issuer, INV_ISSUER_MAX + 4, s, INV_ISSUER_MAX);
		snprintf(l->key_type, sizeof(l->key_type), "%s",
			 (const char *)sqlite3_column_text(st, 7) ?: "");
		l->names_known = hex_parse((const char *)sqlite3_column_text(st, 8), l->names, 32);
		l->not_before = sqlite3_column_int64(st, 9);
		l->not_after = sqlite3_column_int64(st, 10);
		l->parsed = sqlite3_column_int(st, 11);
		e->first_ns = to_ns(sqlite3_column_int64(st, 12));
		e->last_ns = to_ns(sqlite3_column_int64(st, 13));
		e->id = sqlite3_column_int64(st, 14);
		l->slot = (uint8_t)slot_of(e, l->key_type);
		e->n_leaves++;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/*
 * Loads the endpoint's history. A failed read leaves it empty and marks the
 * connection for inventory_flush() to deal with. In memory after a
 * failure, an endpoint the memory does not know is looked up in the file,
 * read-only, when that still reads: decisions keep its history, and its
 * rows are copied into memory.
 */
static void ep_load(struct inventory *inv, struct endpoint *e)
{
	int rc;

	if (!inv->c.st[ST_LOAD])
		return;
	rc = load_rows(inv, inv->c.st[ST_LOAD], e);
	if (rc != SQLITE_OK && !inv->broken_rc)
		inv->broken_rc = rc;
	if (!e->n_leaves && inv->c.memory && inv->ro.st[ST_LOAD] &&
	    load_rows(inv, inv->ro.st[ST_LOAD], e) == SQLITE_OK) {
		e->id = 0; /* the file's, not the memory's */
		for (uint32_t i = 0; i < e->n_leaves; i++)
			e->leaves[i].dirty = true;
	}
	for (uint32_t s = 0; s < e->n_slots; s++)
		e->slots[s].est = slot_latest(e, (int)s, -1);
	e->current = e->n_leaves ? 0 : -1; /* rows come newest first */
}

static void ep_unlink(struct inventory *inv, struct endpoint *e)
{
	struct endpoint **pp;

	htab_del(&inv->tab, &e->h);
	lru_unlink(&inv->lru, &e->lru);
	if (e->dirty) { /* only when even memory could not take it */
		for (pp = &inv->dirty; *pp && *pp != e; pp = &(*pp)->dnext)
			;
		if (*pp)
			*pp = e->dnext;
	}
	inv->st.hot--;
}

/* Makes room: the least recently used endpoint goes, written first. */
static void ep_evict(struct inventory *inv)
{
	struct endpoint *e = lru_entry(inv->lru.tail, struct endpoint, lru);

	if (!e)
		return;
	if (e->dirty) { /* more endpoints than hot since the last flush */
		inv->st.forced_flushes++;
		flush_writes(inv, inv->now_ns);
	}
	ep_unlink(inv, e);
	ep_free(e);
	inv->st.evictions++;
}

static struct endpoint *ep_get(struct inventory *inv, const struct report_endpoint *srv,
			       const char *sni)
{
	uint8_t addr[16] = { 0 };
	struct endpoint *e;
	struct hnode *n;
	uint64_t h;

	memcpy(addr, srv->addr, srv->family == CS_AF_INET6 ? 16 : 4);
	h = ep_hash(inv, srv->family, addr, srv->port, sni);
	htab_for_hash(&inv->tab, h, n)
	{
		e = htab_entry(n, struct endpoint, h);
		if (ep_match(e, srv->family, addr, srv->port, sni)) {
			lru_touch(&inv->lru, &e->lru);
			inv->st.hot_hits++;
			return e;
		}
	}
	if (inv->st.hot >= inv->o.hot)
		ep_evict(inv);
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->family = srv->family;
	memcpy(e->addr, addr, 16);
	e->port = srv->port;
	e->has_sni = sni != NULL;
	if (sni)
		memcpy(e->sni, sni, strlen(sni) + 1);
	if (!fmt_ip(srv, e->addr_text, sizeof(e->addr_text)))
		snprintf(e->addr_text, sizeof(e->addr_text), "?");
	e->first_ns = INT64_MAX;
	e->last_ns = INT64_MIN;
	e->current = -1;
	inv->st.loads++;
	ep_load(inv, e);
	htab_add(&inv->tab, &e->h, h);
	lru_push(&inv->lru, &e->lru);
	inv->st.hot++;
	return e;
}

/* After a switch of database everything in memory is written again; chains
 * (with their certificates) at the next sighting of each leaf. */
void known_clear(struct inventory *inv)
{
	if (inv->known)
		memset(inv->known, 0, KNOWN_CERTS * sizeof(*inv->known));
}

static uint8_t *known_slot(struct inventory *inv, const uint8_t sha[32])
{
	uint32_t k;

	memcpy(&k, sha, sizeof(k)); /* a digest: its bytes are already mixed */
	return inv->known ? inv->known[k % KNOWN_CERTS] : NULL;
}

void mark_all_dirty(struct inventory *inv)
{
	for (struct lru_node *n = inv->lru.head; n; n = n->next) {
		struct endpoint *e = lru_entry(n, struct endpoint, lru);

		e->id = 0;
		for (uint32_t i = 0; i < e->n_leaves; i++) {
			e->leaves[i].dirty = true;
			e->leaves[i].chain_hash = 0;
			free(e->leaves[i].pc);
			e->leaves[i].pc = NULL;
		}
		ep_set_dirty(inv, e);
	}
	known_clear(inv);
}

/* ---- pending certificate rows ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Subject and the set of SANs: equal for a renewal of the same names. */
static bool names_digest(const struct cert_facts *f, uint8_t out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char **s = NULL;
	bool ok = false;

	if (!ctx || (f->n_sans && !(s = malloc(f->n_sans * sizeof(*s)))))
		goto out;
	for (uint32_t i = 0; i < f->n_sans; i++)
		s[i] = f->sans[i];
	if (f->n_sans)
		qsort(s, f->n_sans, sizeof(*s), cmp_str);
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		goto out;
	EVP_DigestUpdate(ctx, f->subject_dn ? f->subject_dn : "",
			 f->subject_dn ? strlen(f->subject_dn) + 1 : 1);
	EVP_DigestUpdate(ctx, &f->total_sans, sizeof(f->total_sans));
	for (uint32_t i = 0; i < f->n_sans; i++)
		EVP_DigestUpdate(ctx, s[i], strlen(s[i]) + 1);
	ok = EVP_DigestFinal_ex(ctx, out, NULL) == 1;
out:
	free(s);
	EVP_MD_CTX_free(ctx);
	return ok;
}

static char *sans_json(const struct cert_facts *f)
{
	size_t cap = 3 + JW_CAP_MIN;
	struct jw w;
	char *buf;

	for (uint32_t i = 0; i < f->n_sans && cap < SANS_JSON_MAX; i++)
		cap += 6 * strlen(f->sans[i]) + 3;
	if (cap > SANS_JSON_MAX)
		cap = SANS_JSON_MAX;
	if (!(buf = malloc(cap)))
		return NULL;
	jw_init(&w, buf, cap);
	jw_arr_begin(&w, NULL);
	for (uint32_t i = 0; i < f->n_sans; i++)
		jw_str(&w, NULL, f->sans[i]);
	jw_arr_end(&w);
	jw_finish(&w);
	return buf;
}

static void pcert_free(struct pcert *p)
{
	free(p->serial);
	free(p->subject);
	free(p->issuer);
	free(p->issuer_cn);
	free(p->sans);
	free(p->parse_error);
	free(p);
}

static struct pcert *pcert_new(const struct cert_facts *f)
{
	uint32_t keep = f->der && f->der_len <= INV_DER_MAX ? f->der_len : 0;
	struct pcert *p = calloc(1, sizeof(*p) + keep);
	uint8_t names[32];

	if (!p)
		return NULL;
	memcpy(p->sha256, f->sha256, 32);
	fmt_hex(p->sha, sizeof(p->sha), f->sha256, 32, true);
	p->der_len = f->der_len;
	p->der_kept = keep;
	if (keep)
		memcpy(p->der, f->der, keep);
	p->parsed = f->parse_ok;
	if (f->parse_ok) {
		p->serial = strdup(f->serial_hex ? f->serial_hex : "");
		p->subject = strdup(f->subject_dn ? f->subject_dn : "");
		p->issuer = strdup(f->issuer_dn ? f->issuer_dn : "");
		p->issuer_cn = f->issuer_cn ? strdup(f->issuer_cn) : NULL;
		p->sans = sans_json(f);
		p->not_before = f->not_before;
		p->not_after = f->not_after;
		snprintf(p->key_type, sizeof(p->key_type), "%s", f->key_alg);
		if ((p->names_known = names_digest(f, names)))
			fmt_hex(p->names, sizeof(p->names), names, 32, true);
		if (!p->serial || !p->subject || !p->issuer || !p->sans) {
			pcert_free(p);
			return NULL;
		}
	} else if (!(p->parse_error =
			     strdup(f->parse_error[0] ? f->parse_error : "did not parse"))) {
		pcert_free(p);
		return NULL;
	}
	return p;
}

/* Queues the chain of leaf l (and its certificates) for the next flush;
 * false when the pending bound is reached (tried again next sighting). */
static bool queue_chain(struct inventory *inv, struct leaf *l, struct cert_facts *const *chain,
			uint32_t n)
{
	struct pcert *first = NULL, **tail = &first;
	size_t bytes = 0;
	uint32_t m = 0;

	if (n > INV_CHAIN_MAX)
		n = INV_CHAIN_MAX;
	while (m < n && chain[m])
		m++;
	if (inv->n_pending + m > PENDING_MAX || inv->pending_bytes > PENDING_BYTES) {
		inv->st.pending_dropped++;
		return false;
	}
	if (!l->pc && !(l->pc = malloc(sizeof(*l->pc))))
		return false;
	for (uint32_t i = 0; i < m; i++) {
		uint8_t *k = known_slot(inv, chain[i]->sha256);
		struct pcert *p;

		memcpy(l->pc->sha[i], chain[i]->sha256, 32);
		if (k && !memcmp(k, chain[i]->sha256, 32))
			continue; /* stored already */
		if (!(p = pcert_new(chain[i]))) {
			while (first) {
				struct pcert *nx = first->next;

				pcert_free(first);
				first = nx;
			}
			free(l->pc);
			l->pc = NULL;
			return false;
		}
		*tail = p;
		tail = &p->next;
		bytes += sizeof(*p) + p->der_kept;
	}
	/* Known from now: pending rows are written before anything else can
	 * be (a failed write keeps them, and a new database clears known). */
	for (struct pcert *p = first; p; p = p->next) {
		uint8_t *k = known_slot(inv, p->sha256);

		if (k)
			memcpy(k, p->sha256, 32);
	}
	l->pc->n = m;
	*tail = inv->pending;
	inv->pending = first;
	inv->n_pending += m;
	inv->pending_bytes += bytes;
	return true;
}

void pending_clear(struct inventory *inv)
{
	while (inv->pending) {
		struct pcert *nx = inv->pending->next;

		pcert_free(inv->pending);
		inv->pending = nx;
	}
	inv->n_pending = 0;
	inv->pending_bytes = 0;
}

/* ---- leaves ---- */

static int leaf_find(const struct endpoint *e, const uint8_t sha[32])
{
	if (e->current >= 0 && !memcmp(e->leaves[e->current].sha, sha, 32))
		return e->current;
	for (uint32_t i = 0; i < e->n_leaves; i++)
		if (!memcmp(e->leaves[i].sha, sha, 32))
			return (int)i;
	return -1;
}

static int leaf_add(struct inventory *inv, struct endpoint *e, const struct cert_facts *f)
{
	struct leaf *l;

	if (e->n_leaves >= inv->o.max_leaves) {
		uint32_t old = 0;

		for (uint32_t i = 1; i < e->n_leaves; i++)
			if (e->leaves[i].last_ns < e->leaves[old].last_ns)
				old = i;
		leaf_remove(e, old);
		inv->st.pruned_leaves++;
	}
	if (!leaf_grow(e, inv->o.max_leaves))
		return -1;
	l = &e->leaves[e->n_leaves];
	memset(l, 0, sizeof(*l));
	memcpy(l->sha, f->sha256, 32);
	l->first_ns = l->last_ns = INT64_MIN;
	l->parsed = f->parse_ok;
	if (f->parse_ok) {
		copy_cut(l->serial, sizeof(l->serial), f->serial_hex, INV_SERIAL_MAX);
		if (f->issuer_dn && (l->issuer = malloc(INV_ISSUER_MAX + 4)))
			copy_cut(l->issuer, INV_ISSUER_MAX + 4, f->issuer_dn, INV_ISSUER_MAX);
		snprintf(l->key_type, sizeof(l->key_type), "%s", f->key_alg);
		l->not_before = f->not_before;
		l->not_after = f->not_after;
		l->names_known = names_digest(f, l->names);
	}
	l->slot = (uint8_t)slot_of(e, l->key_type);
	return (int)e->n_leaves++;
}

static uint64_t chain_hash(const struct inventory *inv, struct cert_facts *const *chain, uint32_t n)
{
	uint64_t h = 0;

	if (n > INV_CHAIN_MAX)
		n = INV_CHAIN_MAX;
	for (uint32_t i = 0; i < n && chain[i]; i++)
		h = hash_more(&inv->tab.seed, h, chain[i]->sha256, 32);
	return h | 1;
}

static void leaf_touch(struct inventory *inv, struct leaf *l, struct cert_facts *const *chain,
		       uint32_t n, const char *verdict, int64_t t)
{
	uint64_t ch;

	if (l->last_ns == INT64_MIN)
		l->first_ns = l->last_ns = t;
	else if (t > l->last_ns)
		l->last_ns = t;
	else if (t < l->first_ns)
		l->first_ns = t;
	l->handshakes++;
	slide_add(&l->win, t, inv->window_ns);
	slide_add(&l->hold, t, inv->hold_ns);
	if (verdict && strncmp(l->verdict, verdict, sizeof(l->verdict) - 1))
		snprintf(l->verdict, sizeof(l->verdict), "%s", verdict);
	ch = chain_hash(inv, chain, n);
	if (ch != l->chain_hash && queue_chain(inv, l, chain, n))
		l->chain_hash = ch;
	l->dirty = true;
}

uint32_t inventory_observe(struct inventory *inv, const struct report_endpoint *server,
			   const char *sni, struct cert_facts *const *chain, uint32_t n,
			   const char *verdict, uint64_t ts_ns, struct inventory_decision *d)
{
	char sni_buf[TLS_SNI_MAX + 1];
	struct endpoint *e;
	int64_t t, prev_seen;
	bool is_new, had;
	uint32_t flags;
	int xi;

	if (d) {
		d->flags = d->rollback_why = d->n_shares = 0;
		d->absent_s = 0;
		d->window_s = 0;
	}
	if (!inv)
		return 0;
	inv->st.observations++;
	if (!server || !chain || !n || !chain[0] ||
	    (server->family != CS_AF_INET && server->family != CS_AF_INET6)) {
		inv->st.no_chain++;
		return 0;
	}
	if (sni) {
		size_t k = strnlen(sni, TLS_SNI_MAX);

		memcpy(sni_buf, sni, k);
		sni_buf[k] = '\0';
		sni = sni_buf;
	}
	t = ts_ns > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)ts_ns;
	if (t > inv->clock_ns)
		inv->clock_ns = t;
	if (!(e = ep_get(inv, server, sni)))
		return 0;
	/* The endpoint's clock never goes back: stored times stay ordered, so
	 * a step back cannot make a leaf look absent that was just served. */
	if (e->n_leaves && t < e->last_ns) {
		if (t < e->last_ns - NS)
			inv->st.clock_backwards++;
		t = e->last_ns;
	}
	had = e->n_leaves > 0;
	xi = leaf_find(e, chain[0]->sha256);
	is_new = xi < 0;
	if (is_new && (xi = leaf_add(inv, e, chain[0])) < 0)
		return 0;
	prev_seen = e->leaves[xi].last_ns;
	leaf_touch(inv, &e->leaves[xi], chain, n, verdict, t);
	if (t < e->first_ns)
		e->first_ns = t;
	if (t > e->last_ns)
		e->last_ns = t;
	flags = decide(inv, e, xi, is_new, had, prev_seen, t, d);
	e->current = xi;
	ep_set_dirty(inv, e);
	if (d)
		d->flags = flags;
	return flags;
}

/* ---- open, close, stats ---- */

struct inventory *inventory_open(const struct inventory_opts *o, char *err, size_t errlen)
{
	struct inventory *inv;
	enum inv_error why;
	char msg[PATH_MAX + 256];

	if (o && o->max_leaves && o->max_leaves < LEAVES_MIN) {
		snprintf(err, errlen, "inventory: at least %d leaves per endpoint", LEAVES_MIN);
		return NULL;
	}
	if (o && o->state_dir && strlen(o->state_dir) + sizeof(INV_DB_NAME) + 16 > PATH_MAX) {
		snprintf(err, errlen, "inventory: state directory name too long");
		return NULL;
	}
	if (!(inv = calloc(1, sizeof(*inv)))) {
		snprintf(err, errlen, "inventory: out of memory");
		return NULL;
	}
	if (o)
		inv->o = *o;
	OPT_DEFAULT(inv->o.state_dir, INV_STATE_DIR_DEFAULT);
	OPT_DEFAULT(inv->o.window_s, INV_WINDOW_S_DEFAULT);
	OPT_DEFAULT(inv->o.repeat_s, INV_REPEAT_S_DEFAULT);
	OPT_DEFAULT(inv->o.flap_hold_s, INV_FLAP_HOLD_S_DEFAULT);
	OPT_DEFAULT(inv->o.max_endpoints, INV_ENDPOINTS_DEFAULT);
	OPT_DEFAULT(inv->o.max_leaves, INV_LEAVES_DEFAULT);
	OPT_DEFAULT(inv->o.max_age_days, INV_AGE_DAYS_DEFAULT);
	OPT_DEFAULT(inv->o.hot, INV_HOT_DEFAULT);
	OPT_DEFAULT(inv->o.max_db_mb, INV_DB_MB_DEFAULT);
	OPT_DEFAULT(inv->o.retry_s, INV_RETRY_S_DEFAULT);
	if (inv->o.hot > inv->o.max_endpoints)
		inv->o.hot = inv->o.max_endpoints;
	snprintf(inv->dir, sizeof(inv->dir), "%s", inv->o.state_dir);
	inv->o.state_dir = inv->dir;
	if ((size_t)snprintf(inv->path, sizeof(inv->path), "%s/%s", inv->dir, INV_DB_NAME) >=
	    sizeof(inv->path))
		inv->path[0] = '\0'; /* cannot happen: the length was checked above */
	inv->window_ns = (int64_t)inv->o.window_s * NS;
	inv->repeat_ns = (int64_t)inv->o.repeat_s * NS;
	inv->hold_ns = (int64_t)inv->o.flap_hold_s * NS;
	inv->known = calloc(KNOWN_CERTS, sizeof(*inv->known));
	if (!htab_init(&inv->tab, inv->o.hot) || !inv->known) {
		htab_fini(&inv->tab);
		free(inv->known);
		free(inv);
		snprintf(err, errlen, "inventory: out of memory");
		return NULL;
	}
	if (inv->o.memory_only || file_open(inv, &inv->c, &why, msg, sizeof(msg)) < 0) {
		if (!inv->o.memory_only)
			go_memory(inv, why, msg, 0);
		else if (mem_open(&inv->c) != SQLITE_OK) {
			snprintf(err, errlen, "inventory: cannot open an in-memory database");
			inventory_close(inv);
			return NULL;
		}
	}
	return inv;
}

void inventory_close(struct inventory *inv)
{
	struct timespec ts;
	int64_t now;

	if (!inv)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec * NS + ts.tv_nsec;
	if (inv->c.db) {
		inventory_flush(inv, (uint64_t)now);
		if (inv->episode && !inv->o.memory_only)
			try_file(inv, now); /* a last chance for what memory holds */
	}
	while (inv->lru.head) {
		struct endpoint *e = lru_entry(inv->lru.head, struct endpoint, lru);

		lru_unlink(&inv->lru, &e->lru);
		ep_free(e);
	}
	pending_clear(inv);
	conn_close(&inv->c);
	conn_close(&inv->ro);
	htab_fini(&inv->tab);
	free(inv->known);
	free(inv);
}

void inventory_stats(const struct inventory *inv, struct inventory_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!inv)
		return;
	*st = inv->st;
	st->in_memory = inv->c.memory;
}
