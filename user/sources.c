/* sources.c - the daemon's fetched sources (CRL, OCSP, AIA) and inventory: setup, tick, follow-ups, teardown. */
#include "sources.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fetchutil.h"

#define FLUSH_NS   1000000000ULL /* the inventory is written once a second */
#define REASON_MAX 160
#define HELD_INDEX (2 * SOURCES_HELD) /* slots of the index of held targets */

/* A judged chain kept to be judged again: the report with references to its
 * certificates, and the verdict it had. */
struct held {
	bool used;
	struct cs_report r;
	char verdict[48];
};

struct sources {
	struct sources_opts o;
	struct cert_cache *certs;
	struct checker *chk;
	struct fetch *f;
	struct crlfetch *crl;
	struct ocspfetch *ocsp;
	struct aiafetch *aia;
	struct inventory *inv;
	sources_status_fn status;
	sources_followup_fn followup;
	void *ctx;
	struct held *held; /* SOURCES_HELD, a ring */
	uint32_t next_held;
	/* Where each target was held last (1 + index in held, 0: none), by a
	 * hash: a repeated handshake finds its place without a scan. */
	uint16_t held_at[HELD_INDEX];
	char recheck[REASON_MAX]; /* why the held chains are due again, "" if not */
	uint64_t last_flush;
	uint64_t rechecks, followups, left_out;
	char *mbuf; /* the second metric family while rendering */
	size_t mbuf_cap;
};

bool sources_wanted(const struct sources_opts *o)
{
	return o->inventory || o->fetch_crl || o->fetch_ocsp || o->fetch_aia;
}

static void say(struct sources *s, enum event_action a, const char *sev, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void say(struct sources *s, enum event_action a, const char *sev, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s->status)
		s->status(s->ctx, a, sev, msg);
}

static void due(struct sources *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A completed fetch may change verdicts: the held chains are judged again
 * at the end of this tick (the first reason names it). */
static void due(struct sources *s, const char *fmt, ...)
{
	va_list ap;

	if (s->recheck[0])
		return;
	va_start(ap, fmt);
	vsnprintf(s->recheck, sizeof(s->recheck), fmt, ap);
	va_end(ap);
}

static int64_t retry_in(int64_t at)
{
	int64_t d = at - (int64_t)time(NULL);

	return d > 0 ? d : 0;
}

/* ---- fetcher events ---- */

static void on_crl(void *ctx, const struct crlfetch_event *e)
{
	struct sources *s = ctx;
	char t[32];

	switch (e->kind) {
	case CRLF_EV_UPDATED:
		say(s, EV_FETCH_UPDATED, "info",
		    "crl url=%s%s number=%s this_update=%s entries=%u issuer=%s", e->url,
		    e->delta ? " delta" : "", e->crl_number[0] ? e->crl_number : "none",
		    fu_time_text(e->this_update, t, sizeof(t)), e->entries, e->issuer_dn);
		due(s, "CRL %s number %s came", e->url, e->crl_number[0] ? e->crl_number : "none");
		break;
	case CRLF_EV_UNCHANGED:
		break;
	case CRLF_EV_FAILED:
		say(s, EV_FETCH_FAILED, "warning",
		    "crl url=%s%s failed: %s%s%s (%s); %s; retry in %llds; issuer=%s", e->url,
		    e->delta ? " delta" : "", crlfetch_fail_name(e->fail),
		    e->fail == CRLF_F_FETCH ? " " : "",
		    e->fail == CRLF_F_FETCH ? fetch_result_name(e->fetch) : "", e->why,
		    e->have_crl ? "the CRL held before stays in force" :
				  "no CRL held: revocation of its certificates is unknown",
		    (long long)retry_in(e->next_attempt), e->issuer_dn);
		break;
	}
}

static void on_ocsp(void *ctx, const struct ocspfetch_event *e)
{
	static const char *const st[] = { "none", "good", "revoked", "unknown" };
	struct sources *s = ctx;
	char t[32];

	if (e->kind == OCSPF_EV_UPDATED) {
		say(s, EV_FETCH_UPDATED, "info", "ocsp url=%s status=%s this_update=%s", e->url,
		    st[e->status], fu_time_text(e->this_update, t, sizeof(t)));
		if (e->changed)
			due(s, "OCSP answer from %s: %s", e->url, st[e->status]);
		return;
	}
	say(s, EV_FETCH_FAILED, "warning", "ocsp url=%s failed: %s%s%s (%s); retry in %llds",
	    e->url, ocspfetch_fail_name(e->fail), e->fail == OCSPF_F_FETCH ? " " : "",
	    e->fail == OCSPF_F_FETCH ? fetch_result_name(e->fetch) : "", e->why,
	    (long long)retry_in(e->next_attempt));
}

static void on_aia(void *ctx, const struct aiafetch_event *e)
{
	struct sources *s = ctx;

	if (e->kind == AIAF_EV_FETCHED) {
		say(s, EV_FETCH_UPDATED, "info", "aia url=%s certificates=%u for_issuer=%s", e->url,
		    e->certs, e->for_issuer_dn ? e->for_issuer_dn : "?");
		due(s, "AIA issuer from %s came", e->url);
		return;
	}
	say(s, EV_FETCH_FAILED, "warning", "aia url=%s failed: %s%s%s (%s)", e->url,
	    aiafetch_fail_name(e->fail), e->fail == AIAF_F_FETCH ? " " : "",
	    e->fail == AIAF_F_FETCH ? fetch_result_name(e->fetch) : "", e->why);
}

static void on_inv_error(void *ctx, enum inv_error kind, const char *msg)
{
	struct sources *s = ctx;

	say(s, EV_INVENTORY_ERROR, kind == INV_ERR_RECOVERED ? "info" : "error", "%s: %s",
	    inventory_error_name(kind), msg);
}

/* ---- open, close ---- */

/* The state directory, 0750, made if missing (its parents are not). */
static int state_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (!mkdir(dir, 0750) || errno == EEXIST) {
		if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "--state-dir %s: not a directory", dir);
			return -1;
		}
		return 0;
	}
	snprintf(err, errlen, "--state-dir %s: %s", dir, strerror(errno));
	return -1;
}

struct sources *sources_open(const struct sources_opts *o, struct cert_cache *certs,
			     struct checker *chk, sources_status_fn status,
			     sources_followup_fn followup, void *ctx, char *err, size_t errlen)
{
	struct sources *s = calloc(1, sizeof(*s));
	struct check_sources cs = { 0 };
	const char *dir = o->state_dir ? o->state_dir : INV_STATE_DIR_DEFAULT;

	if (!s || !(s->held = calloc(SOURCES_HELD, sizeof(*s->held)))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	s->o = *o;
	s->o.state_dir = dir;
	s->certs = certs;
	s->chk = chk;
	s->status = status;
	s->followup = followup;
	s->ctx = ctx;
	if (state_dir(dir, err, errlen))
		goto fail;
	if ((o->fetch_crl || o->fetch_ocsp || o->fetch_aia) &&
	    !(s->f = fetch_new(&o->fetch, err, errlen)))
		goto fail;
	if (o->fetch_crl) {
		s->o.crl.certs = certs;
		s->o.crl.state_dir = dir;
		s->o.crl.event = on_crl;
		s->o.crl.ctx = s;
		if (!(s->crl = crlfetch_new(s->f, &s->o.crl, err, errlen)))
			goto fail;
	}
	if (o->fetch_ocsp) {
		s->o.ocsp.state_dir = dir;
		s->o.ocsp.event = on_ocsp;
		s->o.ocsp.ctx = s;
		if (!(s->ocsp = ocspfetch_new(s->f, &s->o.ocsp, err, errlen)))
			goto fail;
	}
	if (o->fetch_aia) {
		s->o.aia.state_dir = dir;
		s->o.aia.event = on_aia;
		s->o.aia.ctx = s;
		if (!(s->aia = aiafetch_new(s->f, &s->o.aia, err, errlen)))
			goto fail;
	}
	if (o->inventory) {
		s->o.inv.state_dir = dir;
		s->o.inv.on_error = on_inv_error;
		s->o.inv.ctx = s;
		if (!(s->inv = inventory_open(&s->o.inv, err, errlen)))
			goto fail;
	}
	cs = (struct check_sources){ .crl = s->crl, .ocsp = s->ocsp, .aia = s->aia, .inv = s->inv };
	checker_set_sources(chk, &cs);
	return s;
fail:
	sources_close(s);
	return NULL;
}

static void held_drop(struct sources *s, struct held *h)
{
	for (uint32_t i = 0; i < h->r.chain_len; i++)
		cert_put(s->certs, h->r.chain[i]);
	h->used = false;
}

void sources_close(struct sources *s)
{
	if (!s)
		return;
	if (s->chk)
		checker_set_sources(s->chk, NULL);
	inventory_close(s->inv);
	/* The fetchers cancel their own requests before the fetcher goes. */
	aiafetch_free(s->aia);
	ocspfetch_free(s->ocsp);
	crlfetch_free(s->crl);
	fetch_free(s->f);
	for (uint32_t i = 0; s->held && i < SOURCES_HELD; i++)
		if (s->held[i].used)
			held_drop(s, &s->held[i]);
	free(s->held);
	free(s->mbuf);
	free(s);
}

/* ---- follow-ups ---- */

static bool same_handshake_target(const struct cs_report *a, const struct cs_report *b)
{
	return a->chain_len == b->chain_len && !strcmp(a->sni, b->sni) &&
	       a->server.family == b->server.family && a->server.port == b->server.port &&
	       !memcmp(a->server.addr, b->server.addr, sizeof(a->server.addr)) &&
	       !memcmp(a->chain[0]->sha256, b->chain[0]->sha256, 32);
}

static uint32_t held_slot(const struct cs_report *r)
{
	uint32_t h, addr;

	memcpy(&h, r->chain[0]->sha256, sizeof(h)); /* a digest: already mixed */
	memcpy(&addr, r->server.addr + 12, sizeof(addr));
	h ^= addr ^ r->server.port;
	for (const char *p = r->sni; *p; p++) /* FNV-1a: one leaf serves many names */
		h = (h ^ (uint8_t)*p) * 16777619u;
	return h % HELD_INDEX;
}

/* The place of r's target, if held (the index first, a scan if it missed). */
static struct held *held_find(struct sources *s, const struct cs_report *r, uint32_t slot)
{
	uint32_t at = s->held_at[slot];

	if (at && s->held[at - 1].used && same_handshake_target(&s->held[at - 1].r, r))
		return &s->held[at - 1];
	for (uint32_t i = 0; i < SOURCES_HELD; i++)
		if (s->held[i].used && same_handshake_target(&s->held[i].r, r))
			return &s->held[i];
	return NULL;
}

/* The same certificate objects (the cache gives one per DER while held). */
static bool same_certs(const struct held *h, const struct cs_report *r, uint32_t n)
{
	if (!h->used || h->r.chain_len != n)
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (h->r.chain[i] != r->chain[i])
			return false;
	return true;
}

void sources_hold(struct sources *s, const struct cs_report *r, const struct verdict *v)
{
	uint32_t n = r->chain_len < TLS_CHAIN_MAX ? r->chain_len : TLS_CHAIN_MAX, slot;
	const char *name;
	struct held *h;
	size_t k;

	if (!s || r->action != REPORT_CERTIFICATE || !n || r->recheck)
		return;
	slot = held_slot(r);
	if (!(h = held_find(s, r, slot))) { /* the oldest place goes */
		h = &s->held[s->next_held];
		s->next_held = (s->next_held + 1) % SOURCES_HELD;
	}
	s->held_at[slot] = (uint16_t)(h - s->held + 1);
	if (same_certs(h, r, n)) { /* the references held stay */
		h->r = *r;
		h->r.verdict = NULL;
		h->r.chain_len = n;
	} else {
		if (h->used)
			held_drop(s, h);
		h->r = *r;
		h->r.verdict = NULL;
		h->r.chain_len = 0;
		for (uint32_t i = 0; i < n; i++) {
			struct cert_facts *f =
				cert_get(s->certs, r->chain[i]->der, r->chain[i]->der_len);

			if (!f)
				break;
			h->r.chain[h->r.chain_len++] = f;
		}
	}
	name = verdict_name(v);
	k = strnlen(name, sizeof(h->verdict) - 1);
	memcpy(h->verdict, name, k);
	h->verdict[k] = '\0';
	h->used = h->r.chain_len > 0;
}

/* Every held chain judged again as of now; a changed verdict is a follow-up. */
static void recheck_all(struct sources *s)
{
	struct verdict v;
	struct cs_report r;

	for (uint32_t i = 0; i < SOURCES_HELD; i++) {
		struct held *h = &s->held[i];

		if (!h->used)
			continue;
		r = h->r;
		r.recheck = s->recheck;
		r.recheck_prev = h->verdict;
		r.check_time = (int64_t)time(NULL);
		r.ts_ns = (uint64_t)r.check_time * 1000000000ULL;
		r.mono_ns = 0;
		checks_run(s->chk, &r, &v);
		s->rechecks++;
		if (!strcmp(verdict_name(&v), h->verdict))
			continue;
		r.verdict = &v;
		s->followups++;
		if (s->followup)
			s->followup(s->ctx, &r);
		snprintf(h->verdict, sizeof(h->verdict), "%s", verdict_name(&v));
	}
	s->recheck[0] = '\0';
}

void sources_tick(struct sources *s, uint64_t now_ns)
{
	if (!s)
		return;
	if (s->f) {
		fetch_tick(s->f);
		if (s->crl)
			crlfetch_tick(s->crl);
		if (s->ocsp)
			ocspfetch_tick(s->ocsp);
	}
	if (s->recheck[0])
		recheck_all(s);
	if (s->inv && now_ns - s->last_flush >= FLUSH_NS) {
		inventory_flush(s->inv, now_ns);
		s->last_flush = now_ns;
	}
}

/* ---- counters, metrics ---- */

void sources_counters(const struct sources *s, struct sources_counters *c)
{
	memset(c, 0, sizeof(*c));
	if (!s)
		return;
	if (s->f)
		fetch_stats(s->f, &c->fetch);
	if (s->crl)
		crlfetch_stats(s->crl, &c->crl);
	if (s->ocsp)
		ocspfetch_stats(s->ocsp, &c->ocsp);
	if (s->aia)
		aiafetch_stats(s->aia, &c->aia);
	if (s->inv)
		inventory_stats(s->inv, &c->inv);
	c->rechecks = s->rechecks;
	c->followups = s->followups;
	c->metric_certs_left_out = s->left_out;
}

struct mrender {
	char *a, *b; /* not_after lines, last_seen lines */
	size_t cap, na, nb;
};

/* A label value as the exposition format wants it: \\, \" and \n escaped. */
static void label_value(char *out, size_t cap, const char *s, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; s[i] && i < max && n + 3 < cap; i++) {
		if (s[i] == '\\' || s[i] == '"') {
			out[n++] = '\\';
			out[n++] = s[i];
		} else if (s[i] == '\n') {
			out[n++] = '\\';
			out[n++] = 'n';
		} else {
			out[n++] = s[i];
		}
	}
	out[n] = '\0';
}

static void mappend(char *buf, size_t cap, size_t *n, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void mappend(char *buf, size_t cap, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (*n >= cap)
		return;
	va_start(ap, fmt);
	k = vsnprintf(buf + *n, cap - *n, fmt, ap);
	va_end(ap);
	if (k > 0)
		*n = *n + (size_t)k < cap ? *n + (size_t)k : cap;
}

static void on_metric(void *ctx, const struct inventory_metric *m)
{
	struct mrender *mr = ctx;
	char sni[300], iss[200], labels[600];

	label_value(sni, sizeof(sni), m->sni, 255);
	label_value(iss, sizeof(iss), m->issuer_cn, 64);
	snprintf(labels, sizeof(labels), "{sni=\"%s\",sha256=\"%.16s\",issuer_cn=\"%s\"}", sni,
		 m->sha256, iss);
	if (m->has_not_after)
		mappend(mr->a, mr->cap, &mr->na,
			"certsentry_certificate_not_after_seconds%s %lld\n", labels,
			(long long)m->not_after);
	mappend(mr->b, mr->cap, &mr->nb, "certsentry_certificate_last_seen_seconds%s %lld\n",
		labels, (long long)m->last_seen);
}

size_t sources_metrics(struct sources *s, char *buf, size_t cap)
{
	struct mrender mr = { .a = buf, .cap = cap };
	uint64_t left = 0;

	if (!s || !s->inv || !cap)
		return 0;
	if (s->mbuf_cap < cap) {
		char *p = realloc(s->mbuf, cap);

		if (!p)
			return 0;
		s->mbuf = p;
		s->mbuf_cap = cap;
	}
	mr.b = s->mbuf;
	mappend(mr.a, cap, &mr.na,
		"# HELP certsentry_certificate_not_after_seconds notAfter of "
		"each leaf served, by SNI, leaf SHA-256 prefix and issuer CN (Unix s).\n"
		"# TYPE certsentry_certificate_not_after_seconds gauge\n");
	mappend(mr.b, cap, &mr.nb,
		"# HELP certsentry_certificate_last_seen_seconds When each "
		"leaf was last served (Unix s).\n"
		"# TYPE certsentry_certificate_last_seen_seconds gauge\n");
	if (inventory_metrics(s->inv, s->o.metric_certs ? s->o.metric_certs : SOURCES_METRIC_CERTS,
			      on_metric, &mr, &left))
		return 0;
	s->left_out = left;
	/* Whole lines only: a series cut by the bound is dropped, not torn. */
	while (mr.na && mr.a[mr.na - 1] != '\n')
		mr.na--;
	while (mr.nb && mr.b[mr.nb - 1] != '\n')
		mr.nb--;
	if (mr.nb > cap - mr.na)
		mr.nb = cap - mr.na;
	while (mr.nb && mr.b[mr.nb - 1] != '\n')
		mr.nb--;
	memcpy(buf + mr.na, mr.b, mr.nb);
	return mr.na + mr.nb;
}
