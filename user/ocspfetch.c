/* ocspfetch.c - OCSP where the CA still runs it: the leaf's responder asked, its answer verified and cached. */
#include "defaults.h"
#include "ocspfetch.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>

#include "fetchutil.h"
#include "fstore.h"
#include "htab.h"
#include "ocsp.h"

#define ANSWERS_DEFAULT	    4096u
#define BYTES_DEFAULT	    (64u << 10)
#define REFRESH_MIN_DEFAULT 60u
#define REFRESH_MAX_DEFAULT 3600u
#define SKEW_DEFAULT	    300u
#define NONCE_LEN	    16

static const char *const none_names[OCSPF_N_MAX] = {
	[OCSPF_N_NO_ISSUER] = "no_issuer", [OCSPF_N_NO_URL] = "no_url",
	[OCSPF_N_PENDING] = "pending",	   [OCSPF_N_EXPIRED] = "expired",
	[OCSPF_N_FAILED] = "fetch_failed", [OCSPF_N_REJECTED] = "rejected",
	[OCSPF_N_FULL] = "full",
};

static const char *const fail_names[OCSPF_F_MAX] = {
	[OCSPF_F_FETCH] = "fetch",	   [OCSPF_F_PARSE] = "parse",
	[OCSPF_F_STATUS] = "status",	   [OCSPF_F_NO_MATCH] = "no_match",
	[OCSPF_F_SIGNATURE] = "signature", [OCSPF_F_STALE] = "stale",
	[OCSPF_F_NONCE] = "nonce",
};

const char *ocspfetch_none_name(enum ocspfetch_none n)
{
	return (unsigned)n < OCSPF_N_MAX ? none_names[n] : "?";
}

const char *ocspfetch_fail_name(enum ocspfetch_fail f)
{
	return (unsigned)f < OCSPF_F_MAX ? fail_names[f] : "?";
}

struct oc_ent {
	struct hnode32 kt; /* SHA-256 of the SHA-1 CertID's DER */
	struct lru_node lru;
	char *url;
	X509 *leaf, *issuer; /* references; NULL for an answer loaded and not yet used */
	uint8_t leaf_sha256[32];
	uint8_t *der; /* the response held */
	size_t len;
	struct ocsp_facts facts;
	bool have;	   /* der verified for leaf and issuer: facts hold */
	OCSP_REQUEST *req; /* the query in flight (its nonce) */
	int64_t fetched, next_fetch;
	bool busy;
	bool failed;
	enum ocspfetch_fail fail;
	enum fetch_result fres;
	char why[192];
};

/* An answer remembered (fetchutil.h) with the entry it consulted (NULL if
 * none), which a use of it touches as a check would. */
struct oc_memo {
	struct fu_memo k;
	struct oc_ent *e;
	struct ocspfetch_answer a;
};

struct ocspfetch {
	struct ocspfetch_opts o;
	struct fetch *f;
	struct fstore *store;
	struct htab t;
	struct lru lru;
	uint32_t held;
	int64_t due_min;
	uint8_t (*due_keys)[HKEY32_LEN];
	struct ocspfetch_stats st;
	/* Bumped whenever an entry comes, goes or changes (every change of
	 * one is an event): remembered answers older than it are not used. */
	uint64_t gen;
	struct oc_memo *memo; /* FU_MEMO_SLOTS */
};

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

static struct oc_ent *ent_of(struct hnode *n)
{
	return htab_entry(n, struct oc_ent, kt.h);
}

static void due(struct ocspfetch *of, int64_t t)
{
	if (t < of->due_min)
		of->due_min = t;
}

static void drop_answer(struct ocspfetch *of, struct oc_ent *e)
{
	if (e->have)
		of->held--;
	e->have = false;
	free(e->der);
	e->der = NULL;
	e->len = 0;
}

static void ent_remove(struct ocspfetch *of, struct oc_ent *e, bool forget_disk)
{
	of->gen++;
	htab_del(&of->t, &e->kt.h);
	lru_unlink(&of->lru, &e->lru);
	if (forget_disk && of->store)
		fstore_remove(of->store, e->kt.key);
	drop_answer(of, e);
	X509_free(e->leaf);
	X509_free(e->issuer);
	OCSP_REQUEST_free(e->req);
	free(e->url);
	free(e);
}

static bool evict_one(struct ocspfetch *of)
{
	for (struct lru_node *n = of->lru.tail; n; n = n->prev) {
		struct oc_ent *e = lru_entry(n, struct oc_ent, lru);

		if (e->busy)
			continue;
		ent_remove(of, e, true);
		of->st.evicted++;
		return true;
	}
	return false;
}

static struct oc_ent *ent_new(struct ocspfetch *of, const uint8_t *key, const char *url)
{
	struct oc_ent *e;

	if (of->t.n >= of->o.max_answers && !evict_one(of))
		return NULL;
	if (!(e = calloc(1, sizeof(*e))) || !(e->url = strdup(url))) {
		free(e);
		return NULL;
	}
	memcpy(e->kt.key, key, HKEY32_LEN);
	e->next_fetch = INT64_MAX;
	htab_add32(&of->t, &e->kt);
	of->gen++;
	lru_push(&of->lru, &e->lru);
	return e;
}

static void emit(struct ocspfetch *of, struct oc_ent *e, enum ocspfetch_event_kind kind,
		 bool changed)
{
	struct ocspfetch_event ev = {
		.kind = kind,
		.url = e->url,
		.leaf_sha256 = e->leaf_sha256,
		.status = !e->have				  ? OCSPF_NONE :
			  e->facts.cert_status == OCSP_ST_GOOD	  ? OCSPF_GOOD :
			  e->facts.cert_status == OCSP_ST_REVOKED ? OCSPF_REVOKED :
								    OCSPF_UNKNOWN,
		.changed = changed,
		.this_update = e->facts.this_update,
		.next_update = e->facts.next_update,
		.fail = e->fail,
		.fetch = e->fres,
		.why = e->why,
		.next_attempt = e->next_fetch,
	};

	of->gen++;
	if (of->o.event)
		of->o.event(of->o.ctx, &ev);
}

static void failed(struct ocspfetch *of, struct oc_ent *e, enum ocspfetch_fail f,
		   enum fetch_result fr, const char *why, int64_t next)
{
	e->failed = true;
	e->fail = f;
	e->fres = fr;
	snprintf(e->why, sizeof(e->why), "%.*s", (int)sizeof(e->why) - 1, why);
	of->st.failed[f]++;
	if (f == OCSPF_F_FETCH)
		of->st.fetch_failed[fr]++;
	e->next_fetch = next;
	due(of, next);
	emit(of, e, OCSPF_EV_FAILED, false);
}

static int64_t retry_at(struct ocspfetch *of, const struct oc_ent *e, enum fetch_result fr,
			int64_t now)
{
	return fu_retry_at(of->f, e->url, fr, now, of->o.refresh_max_s);
}

/* 0 = a nonce came back and it is not ours; anything else is acceptable
 * (OCSP_check_nonce: the responder may leave it out). */
static int nonce_check(OCSP_REQUEST *req, const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	OCSP_RESPONSE *r = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
	OCSP_BASICRESP *bs = r ? OCSP_response_get1_basic(r) : NULL;
	int rc = bs ? OCSP_check_nonce(req, bs) : 0;

	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(r);
	return rc;
}

/* The response's verdict for e's leaf: 0, or -1 with fail and why. */
static int vet(struct ocspfetch *of, struct oc_ent *e, const uint8_t *der, size_t len,
	       OCSP_REQUEST *req, struct ocsp_facts *fx, enum ocspfetch_fail *fail, char *why,
	       size_t cap)
{
	int64_t now = now_s();
	char t[32];

	if (len > LONG_MAX || ocsp_parse(der, len, e->leaf, e->issuer, fx) < 0) {
		*fail = OCSPF_F_PARSE;
		snprintf(why, cap, "%s", fx->parse_error);
		return -1;
	}
	if (fx->response_status != 0) {
		*fail = OCSPF_F_STATUS;
		snprintf(why, cap, "responder said %s", fx->response_status_str);
		return -1;
	}
	if (fx->cert_status == OCSP_ST_NONE) {
		*fail = OCSPF_F_NO_MATCH;
		snprintf(why, cap, "none of its %u single responses is for this certificate",
			 fx->n_responses);
		return -1;
	}
	if (!fx->signature_ok) {
		*fail = OCSPF_F_SIGNATURE;
		snprintf(why, cap,
			 "not signed by the issuer or a responder it authorised "
			 "(responder %.100s)",
			 fx->responder);
		return -1;
	}
	if (fx->this_update > now + of->o.skew_s) {
		*fail = OCSPF_F_STALE;
		snprintf(why, cap, "thisUpdate %s is in the future",
			 fu_time_text(fx->this_update, t, sizeof(t)));
		return -1;
	}
	if (fx->next_update && fx->next_update + of->o.skew_s < now) {
		*fail = OCSPF_F_STALE;
		snprintf(why, cap, "nextUpdate %s has passed",
			 fu_time_text(fx->next_update, t, sizeof(t)));
		return -1;
	}
	if (req && nonce_check(req, der, len) == 0) {
		*fail = OCSPF_F_NONCE;
		snprintf(why, cap, "the response's nonce is not the one sent");
		return -1;
	}
	return 0;
}

static void schedule(struct ocspfetch *of, struct oc_ent *e, int64_t now)
{
	e->next_fetch =
		fu_refresh_at(now, e->facts.next_update, of->o.refresh_min_s, of->o.refresh_max_s);
	due(of, e->next_fetch);
}

static void on_fetched(void *ctx, struct fetch_resp *r)
{
	struct ocspfetch *of = ctx;
	struct oc_ent *e = ent_of(htab_find32(&of->t, r->tag));
	enum ocspfetch_fail fail;
	struct ocsp_facts fx;
	int64_t now = now_s();
	OCSP_REQUEST *req;
	char why[192], err[192];
	bool changed;

	if (!e)
		return;
	e->busy = false;
	req = e->req;
	e->req = NULL;
	if (r->result != FETCH_OK) {
		snprintf(why, sizeof(why), "%s: %.160s", fetch_result_name(r->result), r->error);
		failed(of, e, OCSPF_F_FETCH, r->result, why, retry_at(of, e, r->result, now));
		goto out;
	}
	if (vet(of, e, r->body, r->len, of->o.nonce ? req : NULL, &fx, &fail, why, sizeof(why)) <
	    0) {
		fetch_penalize(of->f, e->url);
		failed(of, e, fail, FETCH_OK, why, retry_at(of, e, FETCH_OK, now));
		goto out;
	}
	changed = !e->have || e->facts.cert_status != fx.cert_status;
	drop_answer(of, e);
	e->len = r->len;
	e->der = fetch_take_body(r);
	e->facts = fx;
	e->have = true;
	of->held++;
	e->fetched = now;
	e->failed = false;
	of->st.updated++;
	if (of->store) {
		struct fstore_meta m = { .kind = "ocsp", .fetched = now };

		snprintf(m.url, sizeof(m.url), "%s", e->url);
		if (fstore_put(of->store, e->kt.key, &m, NULL, e->der, e->len, err, sizeof(err)) <
		    0)
			of->st.store_errors++;
	}
	schedule(of, e, now);
	emit(of, e, OCSPF_EV_UPDATED, changed);
out:
	OCSP_REQUEST_free(req);
	ERR_clear_error();
}

static void submit(struct ocspfetch *of, struct oc_ent *e, int64_t now)
{
	struct fetch_req r = {
		.url = e->url,
		.content_type = "application/ocsp-request",
		.max_bytes = of->o.max_bytes,
		.done = on_fetched,
		.ctx = of,
	};
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	OCSP_CERTID *id = OCSP_cert_to_id(EVP_sha1(), e->leaf, e->issuer);
	unsigned char *der = NULL;
	uint32_t left = fetch_backoff_left(of->f, e->url);
	enum fetch_result res;
	char why[64];
	int n = -1;

	if (left) { /* backing off after the last failure: its reason stands */
		OCSP_REQUEST_free(req);
		OCSP_CERTID_free(id);
		e->next_fetch = now + left;
		due(of, e->next_fetch);
		return;
	}
	if (req && id && OCSP_request_add0_id(req, id)) {
		id = NULL;
		if (!of->o.nonce || OCSP_request_add1_nonce(req, NULL, NONCE_LEN))
			n = i2d_OCSP_REQUEST(req, &der);
	}
	OCSP_CERTID_free(id);
	if (n <= 0) {
		OCSP_REQUEST_free(req);
		ERR_clear_error();
		failed(of, e, OCSPF_F_FETCH, FETCH_E_IO, "cannot build the OCSP request",
		       now + of->o.refresh_min_s);
		return;
	}
	r.post = der;
	r.post_len = (size_t)n;
	memcpy(r.tag, e->kt.key, HKEY32_LEN);
	of->st.queries++;
	res = fetch_submit(of->f, &r);
	OPENSSL_free(der);
	if (res == FETCH_OK) {
		OCSP_REQUEST_free(e->req);
		e->req = req;
		e->busy = true;
		return;
	}
	OCSP_REQUEST_free(req);
	snprintf(why, sizeof(why), "%s: not sent", fetch_result_name(res));
	failed(of, e, OCSPF_F_FETCH, res, why, retry_at(of, e, res, now));
}

void ocspfetch_tick(struct ocspfetch *of)
{
	int64_t now = now_s();
	struct hnode *n, *nx;
	uint32_t nd = 0;

	if (now < of->due_min)
		return;
	/* keys first: a refused submit is an event, whose callback may check */
	of->due_min = INT64_MAX;
	htab_for_each(&of->t, n, nx)
	{
		struct oc_ent *e = ent_of(n);

		if (e->busy || !e->leaf)
			continue;
		if (e->next_fetch <= now && nd < of->o.max_answers)
			memcpy(of->due_keys[nd++], e->kt.key, HKEY32_LEN);
		else
			due(of, e->next_fetch);
	}
	for (uint32_t i = 0; i < nd; i++) {
		struct oc_ent *e = ent_of(htab_find32(&of->t, of->due_keys[i]));

		if (e && !e->busy)
			submit(of, e, now);
	}
}

static void none(struct ocspfetch_answer *a, enum ocspfetch_none n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void none(struct ocspfetch_answer *a, enum ocspfetch_none n, const char *fmt, ...)
{
	va_list ap;

	a->status = OCSPF_NONE;
	a->none = n;
	va_start(ap, fmt);
	vsnprintf(a->why, sizeof(a->why), fmt, ap);
	va_end(ap);
}

/* The key of (leaf, issuer): SHA-256 of the SHA-1 CertID. */
static bool certid_key(X509 *leaf, X509 *issuer, uint8_t key[32])
{
	OCSP_CERTID *id = OCSP_cert_to_id(EVP_sha1(), leaf, issuer);
	unsigned char *der = NULL;
	int n = id ? i2d_OCSP_CERTID(id, &der) : -1;
	bool ok = n > 0 && cert_sha256(der, (size_t)n, key);

	OPENSSL_free(der);
	OCSP_CERTID_free(id);
	return ok;
}

/* An answer loaded from the state directory, checked for its leaf now. */
static void vet_loaded(struct ocspfetch *of, struct oc_ent *e, int64_t now)
{
	enum ocspfetch_fail fail;
	struct ocsp_facts fx;
	char why[192];

	if (vet(of, e, e->der, e->len, NULL, &fx, &fail, why, sizeof(why)) < 0) {
		drop_answer(of, e);
		if (of->store)
			fstore_remove(of->store, e->kt.key);
		e->next_fetch = now;
		due(of, now);
		return;
	}
	e->facts = fx;
	e->have = true;
	of->held++;
	schedule(of, e, e->fetched < now ? e->fetched : now);
}

/* An answer is good to its nextUpdate; one without is good until the
 * refresh after it should have replaced it. */
static int64_t expiry(const struct ocspfetch *of, const struct oc_ent *e)
{
	return (e->facts.next_update ? e->facts.next_update : e->fetched + of->o.refresh_max_s) +
	       of->o.skew_s;
}

static void answer_from(const struct oc_ent *e, struct ocspfetch_answer *a)
{
	const struct ocsp_facts *fx = &e->facts;

	a->status = fx->cert_status == OCSP_ST_GOOD    ? OCSPF_GOOD :
		    fx->cert_status == OCSP_ST_REVOKED ? OCSPF_REVOKED :
							 OCSPF_UNKNOWN;
	a->produced_at = fx->produced_at;
	a->this_update = fx->this_update;
	a->next_update = fx->next_update;
	a->fetched = e->fetched;
	snprintf(a->responder, sizeof(a->responder), "%s", fx->responder);
	if (a->status == OCSPF_REVOKED) {
		a->revocation_time = fx->revocation_time;
		a->reason = fx->reason;
		snprintf(a->reason_str, sizeof(a->reason_str), "%s", fx->reason_str);
	}
}

/* The answer for leaf issued by issuer, found anew. m learns the entry it
 * consulted and until when the answer holds; false: not to be remembered
 * (the answer held expired, and a query is due). */
static bool answer(struct ocspfetch *of, const struct cert_facts *leaf,
		   const struct cert_facts *issuer, struct ocspfetch_answer *a, int64_t now,
		   struct oc_memo *m)
{
	struct fu_urls u;
	struct oc_ent *e;
	uint8_t key[32];
	char t[32];

	if (!leaf->x509 || !issuer || !issuer->x509 ||
	    X509_check_issued(issuer->x509, leaf->x509) != X509_V_OK) {
		none(a, OCSPF_N_NO_ISSUER, "issuer unknown, or not the leaf's issuer");
		return true;
	}
	fu_aia_urls(leaf->x509, NID_ad_OCSP, &u);
	if (!u.n) {
		none(a, OCSPF_N_NO_URL, "no http(s) OCSP URL in the certificate");
		return true;
	}
	if (!certid_key(leaf->x509, issuer->x509, key)) {
		none(a, OCSPF_N_NO_ISSUER, "cannot make the OCSP CertID");
		return true;
	}
	snprintf(a->url, sizeof(a->url), "%.*s", (int)sizeof(a->url) - 1, u.u[0]);
	if ((e = ent_of(htab_find32(&of->t, key)))) {
		lru_touch(&of->lru, &e->lru);
	} else if (!(e = ent_new(of, key, u.u[0]))) {
		none(a, OCSPF_N_FULL, "bound of %u OCSP answers reached", of->o.max_answers);
		return true;
	}
	m->e = e;
	if (!e->leaf) { /* new, or loaded from the state directory */
		e->leaf = leaf->x509;
		e->issuer = issuer->x509;
		X509_up_ref(e->leaf);
		X509_up_ref(e->issuer);
		memcpy(e->leaf_sha256, leaf->sha256, 32);
		of->gen++;
		if (e->der)
			vet_loaded(of, e, now);
		else {
			e->next_fetch = now;
			due(of, now);
		}
	}
	snprintf(a->url, sizeof(a->url), "%s", e->url);
	if (e->have && now <= expiry(of, e)) {
		answer_from(e, a);
		m->k.until = expiry(of, e);
	} else if (e->have) {
		none(a, OCSPF_N_EXPIRED, "the answer held expired at %s; asking again",
		     fu_time_text(expiry(of, e), t, sizeof(t)));
		if (!e->busy && e->next_fetch > now) {
			e->next_fetch = now;
			due(of, now);
		}
		return false;
	} else if (e->failed) {
		none(a, e->fail == OCSPF_F_FETCH ? OCSPF_N_FAILED : OCSPF_N_REJECTED,
		     "%s %.200s: %.160s", e->fail == OCSPF_F_FETCH ? "query to" : "response from",
		     e->url, e->why);
	} else {
		none(a, OCSPF_N_PENDING, "asking %.200s", e->url);
	}
	return true;
}

/*
 * A repeated check of the same (leaf, issuer) takes the answer remembered,
 * while no entry changed (of->gen) and the answer held has not expired: the
 * entry is touched as a check would, and queries are due as they were.
 */
enum ocspfetch_status ocspfetch_check(struct ocspfetch *of, const struct cert_facts *leaf,
				      const struct cert_facts *issuer, struct ocspfetch_answer *a)
{
	const uint8_t *iss = issuer ? issuer->sha256 : NULL;
	int64_t now = now_s();
	struct oc_memo *m;

	of->st.checks++;
	memset(a, 0, sizeof(*a));
	a->reason = -1;
	if (!leaf) {
		none(a, OCSPF_N_NO_ISSUER, "issuer unknown, or not the leaf's issuer");
		goto out;
	}
	m = &of->memo[fu_memo_slot(leaf->sha256, iss)];
	if (fu_memo_holds(&m->k, leaf->sha256, iss, of->gen, now)) {
		if (m->e)
			lru_touch(&of->lru, &m->e->lru);
		*a = m->a;
		goto out;
	}
	m->k.gen = 0;
	m->k.until = INT64_MAX;
	m->e = NULL;
	/* an entry it made or evicted changed the generation: the answer
	 * holds from here */
	if (answer(of, leaf, issuer, a, now, m)) {
		fu_memo_set(&m->k, leaf->sha256, iss, of->gen, INT64_MIN, m->k.until);
		m->a = *a;
	}
out:
	of->st.answers[a->status]++;
	return a->status;
}

static void load_one(void *ctx, const uint8_t key[FSTORE_KEY_LEN], const struct fstore_meta *m,
		     X509 *cert, uint8_t *body, size_t len)
{
	struct ocspfetch *of = ctx;
	struct oc_ent *e;

	X509_free(cert);
	if (strcmp(m->kind, "ocsp") || of->t.n >= of->o.max_answers || htab_find32(&of->t, key) ||
	    !(e = ent_new(of, key, m->url))) {
		free(body);
		fstore_remove(of->store, key);
		return;
	}
	e->der = body;
	e->len = len;
	e->fetched = m->fetched;
	of->st.loaded++;
}

struct ocspfetch *ocspfetch_new(struct fetch *f, const struct ocspfetch_opts *o, char *err,
				size_t errlen)
{
	struct ocspfetch *of = calloc(1, sizeof(*of));

	if (!of) {
		snprintf(err, errlen, "ocspfetch: out of memory");
		return NULL;
	}
	of->o = *o;
	of->f = f;
	OPT_DEFAULT(of->o.max_answers, ANSWERS_DEFAULT);
	OPT_DEFAULT(of->o.max_bytes, BYTES_DEFAULT);
	OPT_DEFAULT(of->o.refresh_min_s, REFRESH_MIN_DEFAULT);
	OPT_DEFAULT(of->o.refresh_max_s, REFRESH_MAX_DEFAULT);
	OPT_DEFAULT(of->o.skew_s, SKEW_DEFAULT);
	if (of->o.refresh_max_s < of->o.refresh_min_s)
		of->o.refresh_max_s = of->o.refresh_min_s;
	of->due_min = INT64_MAX;
	if (!htab_init(&of->t, of->o.max_answers) ||
	    !(of->due_keys = calloc(of->o.max_answers, sizeof(*of->due_keys))) ||
	    !(of->memo = calloc(FU_MEMO_SLOTS, sizeof(*of->memo)))) {
		snprintf(err, errlen, "ocspfetch: out of memory");
		goto fail;
	}
	if (fu_store_open(o->state_dir, "ocsp", of->o.max_bytes, load_one, of, &of->store, err,
			  errlen))
		goto fail;
	return of;
fail:
	ocspfetch_free(of);
	return NULL;
}

void ocspfetch_free(struct ocspfetch *of)
{
	if (!of)
		return;
	if (of->f)
		fetch_cancel(of->f, of);
	while (of->lru.head)
		ent_remove(of, lru_entry(of->lru.head, struct oc_ent, lru), false);
	htab_fini(&of->t);
	fstore_close(of->store);
	free(of->due_keys);
	free(of->memo);
	free(of);
}

void ocspfetch_stats(const struct ocspfetch *of, struct ocspfetch_stats *st)
{
	*st = of->st;
	st->followed = of->t.n;
	st->held = of->held;
}
