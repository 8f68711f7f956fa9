/* outcomes.c - what TLS 1.3 clients did after the server's flight: the per-connection classifier and the per-(server, SNI) abort rate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fmt.h"
#include "lru.h"
#include "outcomes.h"

/* ---- the classifier ---- */

enum { OT_NONE = 0, OT_FLIGHT, OT_RECORD, OT_DECIDED };

static void decide(struct outcome_track *o, enum client_outcome out, const char *why)
{
	if (o->state == OT_DECIDED)
		return;
	o->state = OT_DECIDED;
	o->outcome = out;
	o->reason = why;
}

void outcome_flight(struct outcome_track *o, bool early_data)
{
	if (o->state != OT_NONE)
		return;
	o->state = OT_FLIGHT;
	o->early_data = early_data;
}

void outcome_record(struct outcome_track *o, uint16_t len, uint32_t end)
{
	if (o->state == OT_RECORD) {
		decide(o, OUTCOME_UNKNOWN, "a second record after a short first one");
		return;
	}
	if (o->state != OT_FLIGHT)
		return;
	o->rec_len = len;
	o->rec_end = end;
	if (o->early_data)
		decide(o, OUTCOME_UNKNOWN, "early data offered: the record may be 0-RTT data");
	else if (o->server_closed)
		decide(o, OUTCOME_UNKNOWN, "the server closed first");
	else if (len >= OUTCOME_FINISHED_MIN)
		decide(o, OUTCOME_ACCEPTED, "a record the size of a Finished or more");
	else if (len == OUTCOME_ALERT_LEN)
		o->state = OT_RECORD; /* the close decides */
	else
		decide(o, OUTCOME_UNKNOWN, "a first record neither a Finished nor an alert");
}

/* What was read replaces what the sizes said, until it is handed on. */
static void exact(struct outcome_track *o, enum client_outcome out, const char *reason)
{
	if (o->state == OT_NONE || o->exact || o->reported)
		return;
	o->state = OT_FLIGHT;
	decide(o, out, reason);
	o->exact = true;
}

void outcome_alert(struct outcome_track *o, const char *reason)
{
	exact(o, OUTCOME_ABORTED, reason);
}

void outcome_accepted(struct outcome_track *o, const char *reason)
{
	exact(o, OUTCOME_ACCEPTED, reason);
}

void outcome_close(struct outcome_track *o, bool from_client, bool rst, uint32_t off)
{
	switch (o->state) {
	case OT_FLIGHT:
		if (from_client)
			decide(o, OUTCOME_UNKNOWN, "the client closed without an encrypted record");
		else if (rst)
			decide(o, OUTCOME_UNKNOWN, "the server reset the connection first");
		else
			o->server_closed = true;
		break;
	case OT_RECORD:
		/* The server answering the alert by closing is part of the
		 * shape; a reset from it ends the connection: nothing can
		 * follow the short record any more. */
		if (!from_client && rst)
			decide(o, OUTCOME_ABORTED, "one alert-sized record, then the server reset");
		else if (!from_client)
			break;
		else if (off == o->rec_end)
			decide(o, OUTCOME_ABORTED,
			       rst ? "one alert-sized record, then a reset" :
				     "one alert-sized record, then FIN");
		else
			decide(o, OUTCOME_UNKNOWN, "more bytes after an alert-sized record");
		break;
	default:
		break;
	}
}

void outcome_end(struct outcome_track *o, const char *why)
{
	if (o->state == OT_FLIGHT || o->state == OT_RECORD)
		decide(o, OUTCOME_UNKNOWN, why);
}

bool outcome_take(struct outcome_track *o)
{
	if (o->state != OT_DECIDED || o->reported)
		return false;
	o->reported = true;
	return true;
}

bool outcome_pending(const struct outcome_track *o)
{
	return o->state == OT_FLIGHT || o->state == OT_RECORD;
}

const char *outcome_name(enum client_outcome o)
{
	static const char *const names[OUTCOME_MAX] = { "none", "accepted", "aborted", "unknown" };

	return (unsigned)o < OUTCOME_MAX ? names[o] : "none";
}

/* ---- the rate ---- */

#define BUCKETS	     60	  /* a window is this many buckets */
#define HASH_BUCKETS 8192 /* chains, >= OUTCOMES_ENDPOINTS_MAX */

struct bucket {
	uint64_t idx; /* which time slot it counts */
	uint32_t accepted, aborted;
};

struct family {
	char ja4[JA4_LEN + 1];
	uint32_t total, aborted;
};

struct endpoint {
	struct endpoint *hnext;
	struct lru_node lru;
	uint64_t hash;
	struct report_endpoint server;
	bool has_sni, alerting;
	char sni[TLS_SNI_MAX + 1];
	char leaf[65];	       /* last leaf seen in the clear */
	char aborted_leaf[65]; /* the leaf the last refusal named */
	uint8_t aborted_basis;
	int metric; /* its slot in stats.metric, -1: none */
	struct bucket b[BUCKETS];
	uint32_t n_fam;
	struct family fam[OUTCOMES_FAMILIES_MAX];
};

struct outcomes {
	struct outcomes_opts o;
	uint64_t slot_ns; /* one bucket's span */
	struct endpoint *h[HASH_BUCKETS];
	struct lru lru;
	struct outcomes_stats st;
};

struct outcomes *outcomes_new(const struct outcomes_opts *o)
{
	struct outcomes *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->o = *o;
	if (!t->o.window_s)
		t->o.window_s = OUTCOMES_WINDOW_DEFAULT_S;
	if (!t->o.pct || t->o.pct > 100)
		t->o.pct = OUTCOMES_PCT_DEFAULT;
	if (!t->o.min)
		t->o.min = OUTCOMES_MIN_DEFAULT;
	/* 60 buckets over the window: a 60 s window moves by the second. */
	t->slot_ns = (uint64_t)t->o.window_s * 1000000000ULL / BUCKETS;
	return t;
}

static struct endpoint *ep_of(struct lru_node *n)
{
	return n ? lru_entry(n, struct endpoint, lru) : NULL;
}

static void ep_unhash(struct outcomes *t, struct endpoint *e)
{
	struct endpoint **pp = &t->h[e->hash % HASH_BUCKETS];

	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	lru_unlink(&t->lru, &e->lru);
	t->st.endpoints--;
}

void outcomes_free(struct outcomes *t)
{
	if (!t)
		return;
	while (t->lru.head) {
		struct endpoint *e = ep_of(t->lru.head);

		ep_unhash(t, e);
		free(e);
	}
	free(t);
}

/* FNV-1a over the server endpoint and the SNI. */
static uint64_t ep_hash(const struct report_endpoint *s, const char *sni)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const uint8_t *p = s->addr;

	for (int i = 0; i < 16; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	h = (h ^ s->port ^ (uint64_t)s->family << 16) * 0x100000001b3ULL;
	for (; *sni; sni++)
		h = (h ^ (uint8_t)*sni) * 0x100000001b3ULL;
	return h;
}

static bool ep_match(const struct endpoint *e, const struct cs_report *r)
{
	return e->server.family == r->server.family && e->server.port == r->server.port &&
	       !memcmp(e->server.addr, r->server.addr, 16) && e->has_sni == r->has_sni &&
	       !strcmp(e->sni, r->sni);
}

/* Label characters Prometheus and people read safely. */
static void metric_label(char *dst, size_t cap, const struct endpoint *e)
{
	char ep[64];
	size_t n;

	n = (size_t)snprintf(dst, cap, "%s %s", fmt_endpoint(&e->server, ep, sizeof(ep)),
			     e->has_sni ? e->sni : "-");
	for (size_t i = 0; i < n && i < cap - 1; i++) {
		char c = dst[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr(".:-_ *[]", c)))
			dst[i] = '_';
	}
}

static struct endpoint *ep_get(struct outcomes *t, const struct cs_report *r, bool create)
{
	uint64_t h = ep_hash(&r->server, r->sni);
	struct endpoint *e;

	for (e = t->h[h % HASH_BUCKETS]; e; e = e->hnext)
		if (e->hash == h && ep_match(e, r)) {
			lru_touch(&t->lru, &e->lru);
			return e;
		}
	if (!create)
		return NULL;
	if (t->st.endpoints >= OUTCOMES_ENDPOINTS_MAX && t->lru.tail) {
		struct endpoint *old = ep_of(t->lru.tail);

		ep_unhash(t, old);
		if (old->metric >= 0)
			t->st.metric[old->metric].label[0] = '\0'; /* slot free */
		free(old);
		t->st.evicted++;
	}
	if (!(e = calloc(1, sizeof(*e))))
		return NULL;
	e->hash = h;
	e->server = r->server;
	e->has_sni = r->has_sni;
	memcpy(e->sni, r->sni, sizeof(e->sni));
	e->metric = -1;
	for (uint32_t i = 0; i < OUTCOMES_METRIC_ENDPOINTS; i++) {
		if (i < t->st.n_metric && t->st.metric[i].label[0])
			continue;
		e->metric = (int)i;
		memset(&t->st.metric[i], 0, sizeof(t->st.metric[i]));
		metric_label(t->st.metric[i].label, sizeof(t->st.metric[i].label), e);
		if (i >= t->st.n_metric)
			t->st.n_metric = i + 1;
		break;
	}
	e->hnext = t->h[h % HASH_BUCKETS];
	t->h[h % HASH_BUCKETS] = e;
	lru_push(&t->lru, &e->lru);
	t->st.endpoints++;
	return e;
}

static bool refusal(const struct cs_report *r)
{
	return r->alert_from_client && (r->action == REPORT_ALERT ||
					(r->action == REPORT_CLIENT_OUTCOME && r->outcome_alert));
}

void outcomes_annotate(struct outcomes *t, struct cs_report *r)
{
	struct endpoint *e;

	if (r->action == REPORT_CERTIFICATE && r->chain_len && r->chain[0]) {
		if ((e = ep_get(t, r, true)))
			memcpy(e->leaf, r->chain[0]->sha256_hex, sizeof(e->leaf));
		return;
	}
	if (r->alert_cert_sha256[0]) {
		if (!r->cert_basis)
			r->cert_basis = CERT_BASIS_CONNECTION;
		return;
	}
	if (r->action != REPORT_CLIENT_OUTCOME && !refusal(r))
		return;
	if ((e = ep_get(t, r, false)) && e->leaf[0]) {
		memcpy(r->alert_cert_sha256, e->leaf, sizeof(r->alert_cert_sha256));
		r->cert_basis = CERT_BASIS_ENDPOINT;
	}
}

bool outcomes_quiet(const struct cs_report *r, bool has_findings)
{
	return r->action == REPORT_CLIENT_OUTCOME && r->outcome != OUTCOME_ABORTED && !has_findings;
}

static uint64_t slot(const struct outcomes *t, uint64_t ts_ns)
{
	return ts_ns / (t->slot_ns ? t->slot_ns : 1);
}

/* The window ending at slot now: accepted and aborted summed. */
static void window(const struct endpoint *e, uint64_t now, uint32_t *acc, uint32_t *ab)
{
	*acc = *ab = 0;
	for (int i = 0; i < BUCKETS; i++)
		if (e->b[i].idx + BUCKETS > now && e->b[i].idx <= now) {
			*acc += e->b[i].accepted;
			*ab += e->b[i].aborted;
		}
}

static int fam_cmp(const void *x, const void *y)
{
	const struct family *a = x, *b = y;

	return a->aborted != b->aborted ? (a->aborted < b->aborted ? 1 : -1) :
					  (a->total < b->total) - (a->total > b->total);
}

static void emit(struct outcomes *t, struct endpoint *e, enum report_action action, uint64_t ts_ns,
		 uint32_t acc, uint32_t ab)
{
	struct family sorted[OUTCOMES_FAMILIES_MAX];
	struct cs_report r;

	memset(&r, 0, sizeof(r));
	r.action = action;
	r.ts_ns = ts_ns;
	r.check_time = (int64_t)(ts_ns / 1000000000ULL);
	r.server = e->server;
	r.has_sni = e->has_sni;
	memcpy(r.sni, e->sni, sizeof(r.sni));
	memcpy(r.alert_cert_sha256, e->aborted_leaf[0] ? e->aborted_leaf : e->leaf,
	       sizeof(r.alert_cert_sha256));
	r.cert_basis = e->aborted_leaf[0] ? e->aborted_basis :
		       e->leaf[0]	  ? CERT_BASIS_ENDPOINT :
					    CERT_BASIS_NONE;
	r.win_s = t->o.window_s;
	r.win_pct = t->o.pct;
	r.win_min = t->o.min;
	r.win_accepted = acc;
	r.win_aborted = ab;
	r.win_total = acc + ab;
	memcpy(sorted, e->fam, sizeof(sorted));
	qsort(sorted, e->n_fam, sizeof(sorted[0]), fam_cmp);
	for (uint32_t i = 0; i < e->n_fam && i < REPORT_FAMILIES_MAX; i++) {
		memcpy(r.families[i].ja4, sorted[i].ja4, sizeof(r.families[i].ja4));
		r.families[i].total = sorted[i].total;
		r.families[i].aborted = sorted[i].aborted;
		r.n_families = i + 1;
	}
	if (action == REPORT_CLIENT_ABORTING)
		t->st.alerts++;
	else
		t->st.clears++;
	if (t->o.emit)
		t->o.emit(t->o.ctx, &r);
}

/* Raise or clear the alert for e as of slot now. */
static void judge(struct outcomes *t, struct endpoint *e, uint64_t ts_ns)
{
	uint32_t acc, ab, n;
	bool high;

	window(e, slot(t, ts_ns), &acc, &ab);
	n = acc + ab;
	high = n >= t->o.min && (uint64_t)ab * 100 >= (uint64_t)t->o.pct * n;
	if (high != e->alerting) {
		e->alerting = high;
		emit(t, e, high ? REPORT_CLIENT_ABORTING : REPORT_CLIENT_ABORTING_CLEARED, ts_ns,
		     acc, ab);
	}
	if (!n && !e->alerting)
		e->n_fam = 0; /* families describe the window's clients */
}

static void count_family(struct endpoint *e, const struct cs_report *r, bool aborted)
{
	const char *ja4 = r->have_hello ? r->hello.fp.ja4 : "";
	uint32_t i;

	for (i = 0; i < e->n_fam && strcmp(e->fam[i].ja4, ja4); i++)
		;
	if (i == e->n_fam) {
		if (e->n_fam == OUTCOMES_FAMILIES_MAX)
			return; /* the first families seen stay */
		snprintf(e->fam[i].ja4, sizeof(e->fam[i].ja4), "%s", ja4);
		e->n_fam++;
	}
	e->fam[i].total++;
	e->fam[i].aborted += aborted;
}

void outcomes_count(struct outcomes *t, const struct cs_report *r)
{
	enum client_outcome out = (enum client_outcome)r->outcome;
	struct endpoint *e;
	struct bucket *b;
	uint64_t now;
	uint32_t acc, ab;

	if (out == OUTCOME_NONE || out >= OUTCOME_MAX)
		return;
	t->st.total[out]++;
	if (!(e = ep_get(t, r, true)))
		return;
	if (e->metric >= 0) {
		struct outcomes_endpoint_stat *m = &t->st.metric[e->metric];

		m->accepted += out == OUTCOME_ACCEPTED;
		m->aborted += out == OUTCOME_ABORTED;
		m->unknown += out == OUTCOME_UNKNOWN;
	}
	if (out == OUTCOME_UNKNOWN)
		return;
	now = slot(t, r->ts_ns);
	window(e, now, &acc, &ab);
	if (!acc && !ab && !e->alerting)
		e->n_fam = 0;
	b = &e->b[now % BUCKETS];
	if (b->idx != now)
		*b = (struct bucket){ .idx = now };
	if (out == OUTCOME_ABORTED) {
		b->aborted++;
		if (r->alert_cert_sha256[0]) {
			memcpy(e->aborted_leaf, r->alert_cert_sha256, sizeof(e->aborted_leaf));
			e->aborted_basis = r->cert_basis;
		}
	} else {
		b->accepted++;
	}
	count_family(e, r, out == OUTCOME_ABORTED);
	judge(t, e, r->ts_ns);
}

void outcomes_tick(struct outcomes *t, uint64_t now_ns)
{
	for (struct lru_node *n = t->lru.head; n; n = n->next) {
		struct endpoint *e = ep_of(n);

		if (e->alerting)
			judge(t, e, now_ns);
	}
}

void outcomes_stats(const struct outcomes *t, struct outcomes_stats *st)
{
	*st = t->st;
}
