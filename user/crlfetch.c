/* crlfetch.c - CRLs named by the certificates themselves: fetched, verified, kept and refreshed. */
#include "crlfetch.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "defaults.h"
#include "fetchutil.h"
#include "fmt.h"
#include "fstore.h"
#include "htab.h"
#include "ocsp.h"

#define CRL_BYTES_DEFAULT   ((uint64_t)64 << 20)
#define TOTAL_BYTES_DEFAULT ((uint64_t)1 << 30)
#define CRL_BYTES_CAP	    ((uint64_t)1 << 30) /* a CRL body is held in one allocation */
#define CRLS_DEFAULT	    1024u
#define REFRESH_MIN_DEFAULT 300u
#define REFRESH_MAX_DEFAULT 3600u
#define START_SPREAD_S	    60u /* CRLs due at start are fetched within this */

static const char *const none_names[CRLF_N_MAX] = {
	[CRLF_N_NO_ISSUER] = "no_issuer", [CRLF_N_NO_CDP] = "no_cdp",
	[CRLF_N_PENDING] = "pending",	  [CRLF_N_FAILED] = "fetch_failed",
	[CRLF_N_REJECTED] = "rejected",	  [CRLF_N_NOT_COVERED] = "not_covered",
	[CRLF_N_FULL] = "full",
};

static const char *const fail_names[CRLF_F_MAX] = {
	[CRLF_F_FETCH] = "fetch",	  [CRLF_F_PARSE] = "parse", [CRLF_F_ISSUER] = "issuer",
	[CRLF_F_SIGNATURE] = "signature", [CRLF_F_KIND] = "kind",   [CRLF_F_OLDER] = "older",
	[CRLF_F_BOUND] = "bound",
};

const char *crlfetch_none_name(enum crlfetch_none n)
{
	return (unsigned)n < CRLF_N_MAX ? none_names[n] : "?";
}

const char *crlfetch_fail_name(enum crlfetch_fail f)
{
	return (unsigned)f < CRLF_F_MAX ? fail_names[f] : "?";
}

/* What a CRL says about itself, read once when it is taken. */
struct crl_info {
	ASN1_INTEGER *num; /* CRL number, NULL if none */
	char number[CRLF_NUM_MAX];
	int64_t this_update, next_update;
	uint32_t entries;
	ASN1_INTEGER *base_num;	 /* a delta CRL's BaseCRLNumber, else NULL */
	ISSUING_DIST_POINT *idp; /* NULL if none */
	char *freshest;		 /* first http(s) URL of its Freshest CRL extension */
};

struct crl_ent {
	struct hnode32 kt;   /* the key: issuer key and name, URL (and "delta") */
	struct lru_node lru; /* complete CRLs only; a delta goes with its base */
	char *url;
	bool delta;
	struct crl_ent *base;	/* delta: the complete CRL naming it */
	struct crl_ent *dent;	/* complete CRL: its delta */
	struct cert_facts *iss; /* a reference in the cert cache */
	X509_CRL *crl;		/* in force (verified), or NULL */
	size_t der_len;
	struct crl_info info;
	int64_t fetched;
	char etag[FETCH_ETAG_MAX];
	int64_t last_modified;
	int64_t next_fetch;
	bool busy;   /* a fetch or the worker has it */
	bool failed; /* the last attempt failed */
	enum crlfetch_fail fail;
	enum fetch_result fres;
	char why[192];
};

/* A fetched body on its way through the worker, and back. */
struct crl_job {
	struct crl_job *next;
	uint8_t key[HKEY32_LEN];
	bool delta;
	X509 *issuer; /* a reference */
	uint8_t *body;
	size_t len;
	ASN1_INTEGER *held; /* number of the CRL held (dup), or NULL */
	int64_t held_this;
	ASN1_INTEGER *base_num; /* delta: number of the complete CRL held */
	struct fstore_meta meta;
	/* results */
	bool ok, unchanged;
	enum crlfetch_fail fail;
	char why[192];
	X509_CRL *crl;
	struct crl_info info;
	char store_err[192];
};

struct jobq {
	struct crl_job *head, *tail;
};

/* An answer remembered (fetchutil.h) with the entries it consulted, which a
 * use of it touches as a check would. */
struct crl_memo {
	struct fu_memo k;
	uint32_t n;
	struct crl_ent *ents[FU_URLS_MAX];
	struct crlfetch_answer a;
};

struct crlfetch {
	struct crlfetch_opts o;
	struct fetch *f;
	struct fstore *store;
	struct htab t;
	struct lru lru;
	uint32_t held;
	uint64_t bytes;
	int64_t due_min;
	struct crlfetch_stats st;
	pthread_t worker;
	bool worker_on;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	struct jobq todo, done;		 /* under mu */
	uint64_t pending;		 /* body bytes handed to the worker, not back yet */
	uint8_t (*due_keys)[HKEY32_LEN]; /* max_crls: what one tick submits */
	/* Bumped whenever an entry comes, goes or changes (every change of
	 * one is an event): remembered answers older than it are not used. */
	uint64_t gen;
	struct crl_memo *memo; /* FU_MEMO_SLOTS */
};

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

static struct crl_ent *ent_of(struct hnode *n)
{
	return htab_entry(n, struct crl_ent, kt.h);
}

static void jq_push(struct jobq *q, struct crl_job *j)
{
	j->next = NULL;
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
}

static struct crl_job *jq_pop(struct jobq *q)
{
	struct crl_job *j = q->head;

	if (j && !(q->head = j->next))
		q->tail = NULL;
	return j;
}

static void info_free(struct crl_info *in)
{
	ASN1_INTEGER_free(in->num);
	ASN1_INTEGER_free(in->base_num);
	ISSUING_DIST_POINT_free(in->idp);
	free(in->freshest);
	memset(in, 0, sizeof(*in));
}

static void job_free(struct crl_job *j)
{
	if (!j)
		return;
	X509_free(j->issuer);
	free(j->body);
	ASN1_INTEGER_free(j->held);
	ASN1_INTEGER_free(j->base_num);
	X509_CRL_free(j->crl);
	info_free(&j->info);
	free(j);
}

/* ---- reading a CRL (worker thread, and at start) ---- */

static void num_text(const ASN1_INTEGER *a, char *out, size_t cap)
{
	BIGNUM *bn = a ? ASN1_INTEGER_to_BN(a, NULL) : NULL;
	char *d = bn ? BN_bn2dec(bn) : NULL;

	snprintf(out, cap, "%s", d ? d : "");
	OPENSSL_free(d);
	BN_free(bn);
}

static void info_get(X509_CRL *crl, struct crl_info *in)
{
	STACK_OF(DIST_POINT) * fr;
	struct fu_urls u;
	int n;

	memset(in, 0, sizeof(*in));
	in->num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	num_text(in->num, in->number, sizeof(in->number));
	in->this_update = cert_time_unix(X509_CRL_get0_lastUpdate(crl));
	in->next_update = cert_time_unix(X509_CRL_get0_nextUpdate(crl));
	n = sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)); /* -1: no entries at all */
	in->entries = n > 0 ? (uint32_t)n : 0;
	in->base_num = X509_CRL_get_ext_d2i(crl, NID_delta_crl, NULL, NULL);
	in->idp = X509_CRL_get_ext_d2i(crl, NID_issuing_distribution_point, NULL, NULL);
	fr = X509_CRL_get_ext_d2i(crl, NID_freshest_crl, NULL, NULL);
	fu_dp_urls(fr, &u);
	sk_DIST_POINT_pop_free(fr, DIST_POINT_free);
	if (u.n)
		in->freshest = strdup(u.u[0]);
}

/* One DER CRL, exactly, or the first PEM one. */
static X509_CRL *decode(const uint8_t *b, size_t n, char *why, size_t cap)
{
	const unsigned char *p = b;
	X509_CRL *crl;
	size_t i = 0;

	while (i < n && i < 64 && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n'))
		i++;
	if (n - i >= 10 && !memcmp(b + i, "-----BEGIN", 10)) {
		BIO *bio = n <= INT_MAX ? BIO_new_mem_buf(b, (int)n) : NULL;

		crl = bio ? PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL) : NULL;
		BIO_free(bio);
		if (!crl)
			snprintf(why, cap, "PEM body holds no parsable X509 CRL");
		return crl;
	}
	if (n == 0 || n > LONG_MAX || !(crl = d2i_X509_CRL(NULL, &p, (long)n))) {
		snprintf(why, cap, "not a DER CRL (%zu bytes%s)", n,
			 n && b[0] != 0x30 ? ", does not start with a SEQUENCE" :
					     ", cut short or malformed");
		return NULL;
	}
	if (p != b + n) {
		snprintf(why, cap, "%zu bytes after the DER CRL", (size_t)(b + n - p));
		X509_CRL_free(crl);
		return NULL;
	}
	return crl;
}

/* Sorts the entries now, in this thread, so that lookups later only read. */
static void presort(X509_CRL *crl)
{
	ASN1_INTEGER *zero = ASN1_INTEGER_new();
	X509_REVOKED *r;

	if (zero)
		X509_CRL_get0_by_serial(crl, &r, zero);
	ASN1_INTEGER_free(zero);
}

/* Issuer name, signature and kind; 0 or -1 with fail/why set. */
static int vet(X509_CRL *crl, X509 *issuer, bool want_delta, const struct crl_info *in,
	       enum crlfetch_fail *fail, char *why, size_t cap)
{
	EVP_PKEY *pk = X509_get0_pubkey(issuer);

	if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer))) {
		*fail = CRLF_F_ISSUER;
		snprintf(why, cap, "CRL issuer name is not the certificate's issuer");
		return -1;
	}
	if (!pk || X509_CRL_verify(crl, pk) != 1) {
		*fail = CRLF_F_SIGNATURE;
		snprintf(why, cap, "CRL signature does not verify with the issuer's key");
		return -1;
	}
	if (want_delta != (in->base_num != NULL)) {
		*fail = CRLF_F_KIND;
		snprintf(why, cap,
			 want_delta ? "not a delta CRL (no Delta CRL Indicator)" :
				      "a delta CRL where a complete CRL was expected");
		return -1;
	}
	return 0;
}

/* The worker's part: decode, vet, compare with what is held, keep on disk. */
static void job_run(struct crlfetch *c, struct crl_job *j)
{
	char when[32];

	if (!(j->crl = decode(j->body, j->len, j->why, sizeof(j->why)))) {
		j->fail = CRLF_F_PARSE;
		return;
	}
	info_get(j->crl, &j->info);
	if (vet(j->crl, j->issuer, j->delta, &j->info, &j->fail, j->why, sizeof(j->why)) < 0)
		return;
	if (j->delta && ASN1_INTEGER_cmp(j->info.base_num, j->base_num) > 0) {
		j->fail = CRLF_F_KIND;
		snprintf(j->why, sizeof(j->why),
			 "delta CRL for a newer complete CRL than the one held");
		return;
	}
	if (j->held && j->info.num) {
		int cmp = ASN1_INTEGER_cmp(j->info.num, j->held);

		if (cmp < 0) {
			j->fail = CRLF_F_OLDER;
			snprintf(j->why, sizeof(j->why), "CRL number %s is lower than the one held",
				 j->info.number);
			return;
		}
		j->unchanged = cmp == 0;
	} else if (j->held_this && j->info.this_update < j->held_this) {
		j->fail = CRLF_F_OLDER;
		snprintf(j->why, sizeof(j->why), "thisUpdate %s is older than the CRL held",
			 fu_time_text(j->info.this_update, when, sizeof(when)));
		return;
	}
	presort(j->crl);
	j->ok = true;
	if (!c->store)
		return;
	if (j->unchanged)
		fstore_touch(c->store, j->key, &j->meta, j->store_err, sizeof(j->store_err));
	else
		fstore_put(c->store, j->key, &j->meta, j->issuer, j->body, j->len, j->store_err,
			   sizeof(j->store_err));
}

static void *worker(void *arg)
{
	struct crlfetch *c = arg;
	struct crl_job *j;

	pthread_mutex_lock(&c->mu);
	while (!c->stop) {
		if (!(j = jq_pop(&c->todo))) {
			pthread_cond_wait(&c->cv, &c->mu);
			continue;
		}
		pthread_mutex_unlock(&c->mu);
		job_run(c, j);
		ERR_clear_error();
		pthread_mutex_lock(&c->mu);
		jq_push(&c->done, j);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* ---- entries ---- */

static void due(struct crlfetch *c, int64_t t)
{
	if (t < c->due_min)
		c->due_min = t;
}

static void emit(struct crlfetch *c, struct crl_ent *e, enum crlfetch_event_kind kind)
{
	struct crlfetch_event ev = {
		.kind = kind,
		.url = e->url,
		.delta = e->delta,
		.issuer_dn = e->iss->subject_dn,
		.issuer_sha256 = e->iss->sha256,
		.crl_number = e->info.number,
		.this_update = e->info.this_update,
		.next_update = e->info.next_update,
		.entries = e->info.entries,
		.fail = e->fail,
		.fetch = e->fres,
		.why = e->why,
		.have_crl = e->crl != NULL,
		.next_attempt = e->next_fetch,
	};

	c->gen++;
	if (c->o.event)
		c->o.event(c->o.ctx, &ev);
}

static void ent_free(struct crlfetch *c, struct crl_ent *e)
{
	c->gen++;
	if (e->crl) {
		c->held--;
		c->bytes -= e->der_len;
	}
	X509_CRL_free(e->crl);
	info_free(&e->info);
	cert_put(c->o.certs, e->iss);
	free(e->url);
	free(e);
}

/* Forgets e (and its delta), on disk too when forget_disk. */
static void ent_remove(struct crlfetch *c, struct crl_ent *e, bool forget_disk)
{
	if (e->dent)
		ent_remove(c, e->dent, forget_disk);
	if (e->base)
		e->base->dent = NULL;
	htab_del(&c->t, &e->kt.h);
	if (!e->delta)
		lru_unlink(&c->lru, &e->lru);
	if (forget_disk && c->store)
		fstore_remove(c->store, e->kt.key);
	ent_free(c, e);
}

/* The least recently consulted complete CRL that is not busy and not keep. */
static bool evict_one(struct crlfetch *c, const struct crl_ent *keep)
{
	for (struct lru_node *n = c->lru.tail; n; n = n->prev) {
		struct crl_ent *e = lru_entry(n, struct crl_ent, lru);

		if (e == keep || e->busy || (e->dent && e->dent->busy))
			continue;
		ent_remove(c, e, true);
		c->st.evicted++;
		return true;
	}
	return false;
}

static struct crl_ent *ent_new(struct crlfetch *c, const uint8_t *key, const char *url,
			       struct cert_facts *iss, bool delta)
{
	struct crl_ent *e = calloc(1, sizeof(*e));

	if (!e || !(e->url = strdup(url))) {
		free(e);
		cert_put(c->o.certs, iss);
		return NULL;
	}
	memcpy(e->kt.key, key, HKEY32_LEN);
	e->delta = delta;
	e->iss = iss;
	c->gen++;
	htab_add32(&c->t, &e->kt);
	if (!delta)
		lru_push(&c->lru, &e->lru);
	return e;
}

/* A reference of our own to the issuer's facts. */
static struct cert_facts *facts_ref(struct crlfetch *c, X509 *x)
{
	unsigned char *der = NULL;
	struct cert_facts *f;
	int n = i2d_X509(x, &der);

	if (n <= 0)
		return NULL;
	f = cert_get(c->o.certs, der, (size_t)n);
	OPENSSL_free(der);
	if (f && !f->parse_ok) {
		cert_put(c->o.certs, f);
		f = NULL;
	}
	return f;
}

static void delta_key(const struct crl_ent *base, const char *url, uint8_t out[32])
{
	char hex[65];

	fmt_hex(hex, sizeof(hex), base->kt.key, HKEY32_LEN, false);
	fu_key(out, "delta", hex, url, NULL);
}

/* After base took a new CRL: follow the delta its Freshest CRL names. */
static void link_delta(struct crlfetch *c, struct crl_ent *base, int64_t now)
{
	const char *url = base->info.freshest;
	uint8_t dk[32];
	struct cert_facts *iss;
	struct crl_ent *d;

	if (!url) {
		if (base->dent && !base->dent->busy)
			ent_remove(c, base->dent, true);
		return;
	}
	delta_key(base, url, dk);
	if (base->dent && memcmp(base->dent->kt.key, dk, HKEY32_LEN) && !base->dent->busy)
		ent_remove(c, base->dent, true);
	if (base->dent) {
		due(c, base->dent->next_fetch);
		return;
	}
	if (c->t.n >= c->o.max_crls && !evict_one(c, base))
		return;
	if ((iss = facts_ref(c, base->iss->x509)) && (d = ent_new(c, dk, url, iss, true))) {
		d->base = base;
		base->dent = d;
		d->next_fetch = now;
		due(c, now);
	}
}

static void failed(struct crlfetch *c, struct crl_ent *e, enum crlfetch_fail f,
		   enum fetch_result fr, const char *why, int64_t next)
{
	e->failed = true;
	e->fail = f;
	e->fres = fr;
	snprintf(e->why, sizeof(e->why), "%.*s", (int)sizeof(e->why) - 1, why);
	c->st.failed[f]++;
	if (f == CRLF_F_FETCH)
		c->st.fetch_failed[fr]++;
	e->next_fetch = next;
	due(c, next);
	emit(c, e, CRLF_EV_FAILED);
}

static int64_t retry_at(struct crlfetch *c, const struct crl_ent *e, enum fetch_result fr,
			int64_t now)
{
	return fu_retry_at(c->f, e->url, fr, now, c->o.refresh_max_s);
}

static void schedule(struct crlfetch *c, struct crl_ent *e, int64_t now)
{
	e->next_fetch =
		fu_refresh_at(now, e->info.next_update, c->o.refresh_min_s, c->o.refresh_max_s);
	due(c, e->next_fetch);
}

/* The worker's verdict on a fetched CRL, in the caller's thread. */
static void install(struct crlfetch *c, struct crl_job *j)
{
	struct crl_ent *e = ent_of(htab_find32(&c->t, j->key));
	int64_t now = now_s();

	c->pending -= j->len;
	if (!e) { /* evicted meanwhile */
		if (j->ok && c->store)
			fstore_remove(c->store, j->key);
		job_free(j);
		return;
	}
	e->busy = false;
	if (!j->ok) {
		fetch_penalize(c->f, e->url);
		failed(c, e, j->fail, FETCH_OK, j->why, retry_at(c, e, FETCH_OK, now));
		job_free(j);
		return;
	}
	if (j->store_err[0])
		c->st.store_errors++;
	e->fetched = j->meta.fetched;
	snprintf(e->etag, sizeof(e->etag), "%s", j->meta.etag);
	e->last_modified = j->meta.last_modified;
	if (j->unchanged) {
		e->failed = false;
		c->st.unchanged++;
		schedule(c, e, now);
		emit(c, e, CRLF_EV_UNCHANGED);
		job_free(j);
		return;
	}
	while (c->bytes - e->der_len + j->len > c->o.max_total_bytes)
		if (!evict_one(c, e->delta ? e->base : e))
			break;
	if (c->bytes - e->der_len + j->len > c->o.max_total_bytes) {
		char why[96];

		snprintf(why, sizeof(why), "%zu bytes do not fit the bound of %llu bytes of CRLs",
			 j->len, (unsigned long long)c->o.max_total_bytes);
		if (c->store)
			fstore_remove(c->store, j->key);
		failed(c, e, CRLF_F_BOUND, FETCH_OK, why, now + c->o.refresh_max_s);
		job_free(j);
		return;
	}
	if (e->crl) {
		c->held--;
		c->bytes -= e->der_len;
		X509_CRL_free(e->crl);
	}
	info_free(&e->info);
	e->crl = j->crl;
	e->info = j->info;
	e->der_len = j->len;
	j->crl = NULL;
	memset(&j->info, 0, sizeof(j->info));
	c->held++;
	c->bytes += e->der_len;
	e->failed = false;
	c->st.updated++;
	schedule(c, e, now);
	if (!e->delta)
		link_delta(c, e, now);
	emit(c, e, CRLF_EV_UPDATED);
	job_free(j);
}

/* ---- fetching ---- */

static void on_fetched(void *ctx, struct fetch_resp *r)
{
	struct crlfetch *c = ctx;
	struct crl_ent *e = ent_of(htab_find32(&c->t, r->tag));
	int64_t now = now_s();
	struct crl_job *j;

	if (!e)
		return;
	if (r->result == FETCH_NOT_MODIFIED && e->crl) {
		struct fstore_meta m = { .fetched = now, .last_modified = e->last_modified };
		char err[192];

		e->busy = false;
		e->fetched = now;
		if (r->etag[0])
			snprintf(e->etag, sizeof(e->etag), "%s", r->etag);
		snprintf(m.kind, sizeof(m.kind), "%s", e->delta ? "delta" : "crl");
		snprintf(m.url, sizeof(m.url), "%s", e->url);
		snprintf(m.etag, sizeof(m.etag), "%s", e->etag);
		if (c->store && fstore_touch(c->store, e->kt.key, &m, err, sizeof(err)) < 0)
			c->st.store_errors++;
		e->failed = false;
		c->st.unchanged++;
		schedule(c, e, now);
		emit(c, e, CRLF_EV_UNCHANGED);
		return;
	}
	if (r->result != FETCH_OK) {
		char why[FETCH_URL_MAX / 8 + 256];

		e->busy = false;
		snprintf(why, sizeof(why), "%s: %s", fetch_result_name(r->result), r->error);
		failed(c, e, CRLF_F_FETCH, r->result, why, retry_at(c, e, r->result, now));
		return;
	}
	if (!(j = calloc(1, sizeof(*j)))) {
		e->busy = false;
		failed(c, e, CRLF_F_PARSE, FETCH_OK, "out of memory", now + c->o.refresh_min_s);
		return;
	}
	memcpy(j->key, e->kt.key, HKEY32_LEN);
	j->delta = e->delta;
	j->issuer = e->iss->x509;
	X509_up_ref(j->issuer);
	j->len = r->len;
	j->body = fetch_take_body(r);
	j->held = e->crl && e->info.num ? ASN1_INTEGER_dup(e->info.num) : NULL;
	j->held_this = e->crl ? e->info.this_update : 0;
	if (e->delta && e->base && e->base->info.num)
		j->base_num = ASN1_INTEGER_dup(e->base->info.num);
	snprintf(j->meta.kind, sizeof(j->meta.kind), "%s", e->delta ? "delta" : "crl");
	snprintf(j->meta.url, sizeof(j->meta.url), "%s", e->url);
	j->meta.fetched = now;
	snprintf(j->meta.etag, sizeof(j->meta.etag), "%s", r->etag);
	j->meta.last_modified = r->last_modified;
	if (e->delta && !j->base_num) {
		/* a delta needs a complete CRL with a number to apply to */
		e->busy = false;
		failed(c, e, CRLF_F_KIND, FETCH_OK, "the complete CRL has no CRL number",
		       now + c->o.refresh_max_s);
		job_free(j);
		return;
	}
	c->pending += j->len;
	pthread_mutex_lock(&c->mu);
	jq_push(&c->todo, j);
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

static void submit(struct crlfetch *c, struct crl_ent *e, int64_t now)
{
	struct fetch_req r = {
		.url = e->url,
		.max_bytes = (size_t)c->o.max_crl_bytes,
		.done = on_fetched,
		.ctx = c,
	};
	uint32_t left = fetch_backoff_left(c->f, e->url);
	enum fetch_result res;
	char why[256];

	/* still backing off after the last failure: its reason stands */
	if (left) {
		e->next_fetch = now + left;
		due(c, e->next_fetch);
		return;
	}
	if (e->crl) {
		r.if_none_match = e->etag[0] ? e->etag : NULL;
		r.if_modified_since = e->last_modified;
	}
	memcpy(r.tag, e->kt.key, HKEY32_LEN);
	c->st.fetches++;
	if ((res = fetch_submit(c->f, &r)) == FETCH_OK) {
		e->busy = true;
		return;
	}
	snprintf(why, sizeof(why), "%s: not fetched", fetch_result_name(res));
	failed(c, e, CRLF_F_FETCH, res, why, retry_at(c, e, res, now));
}

void crlfetch_tick(struct crlfetch *c)
{
	struct hnode *n, *nx;
	struct crl_job *j;
	uint32_t nd = 0;
	int64_t now;

	for (;;) {
		pthread_mutex_lock(&c->mu);
		j = jq_pop(&c->done);
		pthread_mutex_unlock(&c->mu);
		if (!j)
			break;
		install(c, j);
	}
	now = now_s();
	/* bodies waiting for the worker are memory too: no new fetch while
	 * two CRLs' worth wait (what is due stays due) */
	if (now < c->due_min || c->pending >= 2 * c->o.max_crl_bytes)
		return;
	/* Keys first, then submits: a submit refused at once is an event,
	 * and its callback may check (and so add or evict entries). */
	c->due_min = INT64_MAX;
	htab_for_each(&c->t, n, nx)
	{
		struct crl_ent *e = ent_of(n);

		if (e->busy || (e->delta && !(e->base && e->base->crl)))
			continue;
		if (e->next_fetch <= now && nd < c->o.max_crls)
			memcpy(c->due_keys[nd++], e->kt.key, HKEY32_LEN);
		else
			due(c, e->next_fetch);
	}
	for (uint32_t i = 0; i < nd; i++) {
		struct crl_ent *e = ent_of(htab_find32(&c->t, c->due_keys[i]));

		if (e && !e->busy)
			submit(c, e, now);
	}
}

/* ---- answering ---- */

static void fill_consulted(const struct crl_ent *e, struct crlfetch_answer *a, int64_t now)
{
	char t[32];

	snprintf(a->url, sizeof(a->url), "%s", e->url);
	snprintf(a->crl_number, sizeof(a->crl_number), "%s", e->info.number);
	a->this_update = e->info.this_update;
	a->next_update = e->info.next_update;
	a->fetched = e->fetched;
	a->stale = e->info.next_update && now > e->info.next_update;
	a->partitioned = e->info.idp && e->info.idp->distpoint;
	a->why[0] = 0;
	if (a->stale)
		snprintf(a->why, sizeof(a->why), "CRL stale since %s%s%.160s",
			 fu_time_text(e->info.next_update, t, sizeof(t)),
			 e->failed ? "; last refresh: " : "", e->failed ? e->why : "");
}

static void fill_revoked(X509_REVOKED *rv, struct crlfetch_answer *a)
{
	ASN1_ENUMERATED *en = X509_REVOKED_get_ext_d2i(rv, NID_crl_reason, NULL, NULL);
	const char *name;

	a->status = CRLF_REVOKED;
	a->revocation_time = cert_time_unix(X509_REVOKED_get0_revocationDate(rv));
	a->reason = en ? (int)ASN1_ENUMERATED_get(en) : -1;
	name = ocsp_reason_name(a->reason);
	snprintf(a->reason_str, sizeof(a->reason_str), "%s", name ? name : "");
	ASN1_ENUMERATED_free(en);
}

static bool not_covered(struct crlfetch_answer *a, const char *why)
{
	a->status = CRLF_NONE;
	a->none = CRLF_N_NOT_COVERED;
	snprintf(a->why, sizeof(a->why), "CRL from %.160s does not cover it: %.60s", a->url, why);
	return false;
}

/* Does e's scope take in x (RFC 5280 6.3.3 b)? */
static bool in_scope(const struct crl_ent *e, X509 *x, const struct fu_urls *cdp,
		     struct crlfetch_answer *a)
{
	const ISSUING_DIST_POINT *idp = e->info.idp;
	bool is_ca = X509_check_ca(x) > 0, named = false;

	if (!idp)
		return true;
	if (idp->distpoint) {
		if (idp->distpoint->type != 0)
			return not_covered(a, "its issuing distribution point is a relative name");
		for (uint32_t i = 0; i < cdp->n && !named; i++)
			named = fu_names_have_uri(idp->distpoint->name.fullname, cdp->u[i]);
		if (!named)
			return not_covered(a, "it is the partition of other distribution points");
	}
	if (idp->onlyuser && is_ca)
		return not_covered(a, "it lists end-entity certificates only");
	if (idp->onlyCA && !is_ca)
		return not_covered(a, "it lists CA certificates only");
	if (idp->onlyattr)
		return not_covered(a, "it lists attribute certificates only");
	if (idp->indirectCRL)
		return not_covered(a, "it is an indirect CRL");
	return true;
}

/* A delta applies on top of base if it was built on this base or an older
 * one, and is newer than it. */
static bool delta_applies(const struct crl_ent *base, const struct crl_ent *d)
{
	return d && d->crl && base->info.num && d->info.base_num && d->info.num &&
	       ASN1_INTEGER_cmp(d->info.base_num, base->info.num) <= 0 &&
	       ASN1_INTEGER_cmp(d->info.num, base->info.num) > 0;
}

/* The answer of a CRL in force. */
static enum crlfetch_status consult(struct crl_ent *e, X509 *x, const struct fu_urls *cdp,
				    struct crlfetch_answer *a, int64_t now)
{
	struct crl_ent *d = e->dent;
	X509_REVOKED *rv = NULL;
	int rc;

	fill_consulted(e, a, now);
	if (!in_scope(e, x, cdp, a))
		return CRLF_NONE;
	if (delta_applies(e, d)) {
		a->delta = true;
		snprintf(a->delta_number, sizeof(a->delta_number), "%s", d->info.number);
		snprintf(a->delta_url, sizeof(a->delta_url), "%s", d->url);
		a->delta_this_update = d->info.this_update;
		rc = X509_CRL_get0_by_cert(d->crl, &rv, x);
		if (rc == 1) {
			fill_revoked(rv, a);
			a->by_delta = true;
			return a->status;
		}
		if (rc == 2) { /* removeFromCRL: off hold since the base */
			a->status = CRLF_GOOD;
			return a->status;
		}
	}
	if (X509_CRL_get0_by_cert(e->crl, &rv, x) == 1) {
		fill_revoked(rv, a);
		return a->status;
	}
	if (e->info.idp && e->info.idp->onlysomereasons)
		return not_covered(a, "it lists only some revocation reasons");
	a->status = CRLF_GOOD;
	return a->status;
}

/* Issuer key and name, and URL: one CRL whichever certificate of that
 * issuer (a cross-signed one too) names it. */
void crlfetch_key(const struct cert_facts *issuer, const char *url, uint8_t key[32])
{
	fu_key(key, "crl", issuer->spki_sha256_b64, issuer->subject_dn ? issuer->subject_dn : "",
	       url, NULL);
}

/* The entry followed for (issuer, url): found, or made and scheduled. */
static struct crl_ent *follow(struct crlfetch *c, const struct cert_facts *issuer, const char *url,
			      int64_t now)
{
	struct cert_facts *iss;
	struct crl_ent *e;
	uint8_t key[32];

	crlfetch_key(issuer, url, key);
	if ((e = ent_of(htab_find32(&c->t, key)))) {
		lru_touch(&c->lru, &e->lru);
		return e;
	}
	if (c->t.n >= c->o.max_crls && !evict_one(c, NULL))
		return NULL;
	if (!(iss = facts_ref(c, issuer->x509)) || !(e = ent_new(c, key, url, iss, false)))
		return NULL;
	e->next_fetch = now;
	due(c, now);
	return e;
}

static void none(struct crlfetch_answer *a, enum crlfetch_none n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void none(struct crlfetch_answer *a, enum crlfetch_none n, const char *fmt, ...)
{
	va_list ap;

	a->status = CRLF_NONE;
	a->none = n;
	va_start(ap, fmt);
	vsnprintf(a->why, sizeof(a->why), fmt, ap);
	va_end(ap);
}

/* NONE answers rank: the most telling one is kept. */
static int rank(enum crlfetch_none n)
{
	switch (n) {
	case CRLF_N_NOT_COVERED:
		return 5;
	case CRLF_N_REJECTED:
		return 4;
	case CRLF_N_FAILED:
		return 3;
	case CRLF_N_PENDING:
		return 2;
	case CRLF_N_FULL:
		return 1;
	default:
		return 0;
	}
}

/* Widens nothing, narrows m's window to when e's staleness, as a consult at
 * now saw it, stays the same. */
static void memo_window(struct crl_memo *m, const struct crl_ent *e, int64_t now)
{
	int64_t nu = e->info.next_update;

	if (!nu)
		return;
	if (now > nu && nu > m->k.after)
		m->k.after = nu;
	else if (now <= nu && nu < m->k.until)
		m->k.until = nu;
}

/* The answer for cert issued by issuer, found anew; m (may be NULL) learns
 * which entries it consulted and until when it holds. */
static void answer(struct crlfetch *c, const struct cert_facts *cert,
		   const struct cert_facts *issuer, struct crlfetch_answer *a, int64_t now,
		   struct crl_memo *m)
{
	struct crlfetch_answer best, cur;
	struct fu_urls cdp;
	bool good = false;

	if (!cert->x509 || !issuer || !issuer->x509) {
		none(a, CRLF_N_NO_ISSUER, "issuer unknown: not sent and not found");
		return;
	}
	if (X509_check_issued(issuer->x509, cert->x509) != X509_V_OK) {
		none(a, CRLF_N_NO_ISSUER, "the certificate given as issuer did not issue it");
		return;
	}
	fu_cert_dp_urls(cert->x509, NID_crl_distribution_points, &cdp);
	if (!cdp.n) {
		none(a, CRLF_N_NO_CDP, "no http(s) CRL distribution point%s",
		     cdp.skipped ? " (only LDAP, indirect or partial ones, not followed)" : "");
		return;
	}
	memset(&best, 0, sizeof(best));
	best.none = CRLF_N_MAX;
	for (uint32_t i = 0; i < cdp.n; i++) {
		struct crl_ent *e = follow(c, issuer, cdp.u[i], now);
		enum crlfetch_status st;

		memset(&cur, 0, sizeof(cur));
		cur.reason = -1;
		snprintf(cur.url, sizeof(cur.url), "%s", cdp.u[i]);
		if (e && m) {
			m->ents[m->n++] = e;
			memo_window(m, e, now);
		}
		if (!e) {
			none(&cur, CRLF_N_FULL, "bound of %u CRLs followed reached", c->o.max_crls);
		} else if (e->crl) {
			st = consult(e, cert->x509, &cdp, &cur, now);
			if (st == CRLF_REVOKED) {
				*a = cur;
				return;
			}
			if (st == CRLF_GOOD && !good) {
				*a = cur;
				good = true;
			}
		} else if (e->failed) {
			none(&cur, e->fail == CRLF_F_FETCH ? CRLF_N_FAILED : CRLF_N_REJECTED,
			     "%s %.200s: %.160s", e->fail == CRLF_F_FETCH ? "fetch of" : "CRL from",
			     e->url, e->why);
		} else {
			none(&cur, CRLF_N_PENDING, "fetching %.200s", e->url);
		}
		if (!good && cur.status == CRLF_NONE &&
		    (best.none == CRLF_N_MAX || rank(cur.none) > rank(best.none)))
			best = cur;
	}
	if (!good)
		*a = best;
}

/*
 * A repeated check of the same (certificate, issuer) takes the answer
 * remembered, while no entry changed (c->gen) and the staleness of the CRLs
 * it consulted is the same: what is followed, fetched and evicted is
 * unchanged, and the entries consulted are touched as a check would.
 */
enum crlfetch_status crlfetch_check(struct crlfetch *c, const struct cert_facts *cert,
				    const struct cert_facts *issuer, struct crlfetch_answer *a)
{
	const uint8_t *iss = issuer ? issuer->sha256 : NULL;
	int64_t now = now_s();
	struct crl_memo *m;

	c->st.checks++;
	if (!cert) {
		memset(a, 0, sizeof(*a));
		a->reason = -1;
		none(a, CRLF_N_NO_ISSUER, "issuer unknown: not sent and not found");
		return a->status;
	}
	m = &c->memo[fu_memo_slot(cert->sha256, iss)];
	if (fu_memo_holds(&m->k, cert->sha256, iss, c->gen, now)) {
		for (uint32_t i = 0; i < m->n; i++)
			lru_touch(&c->lru, &m->ents[i]->lru);
		*a = m->a;
	} else {
		uint64_t evicted = c->st.evicted;

		memset(a, 0, sizeof(*a));
		a->reason = -1;
		m->n = 0;
		m->k.gen = 0;
		m->k.after = INT64_MIN;
		m->k.until = INT64_MAX;
		answer(c, cert, issuer, a, now, m);
		/* Entries it made changed the generation: the answer holds from
		 * here. One it evicted (the bound reached) may be one it
		 * consulted: not remembered, the next check makes it again. */
		if (c->st.evicted == evicted) {
			fu_memo_set(&m->k, cert->sha256, iss, c->gen, m->k.after, m->k.until);
			m->a = *a;
		}
	}
	if (a->status == CRLF_REVOKED)
		c->st.revoked++;
	return a->status;
}

/* ---- start and end ---- */

struct loaded {
	struct crl_ent *e;
	struct loaded *next;
};

/* One CRL from the state directory: verified again, as a fetched one. */
static void load_one(void *ctx, const uint8_t key[FSTORE_KEY_LEN], const struct fstore_meta *m,
		     X509 *cert, uint8_t *body, size_t len)
{
	struct crlfetch *c = ctx;
	bool delta = !strcmp(m->kind, "delta");
	enum crlfetch_fail fail;
	struct crl_info in = { 0 };
	struct cert_facts *iss = NULL;
	struct crl_ent *e;
	X509_CRL *crl = NULL;
	char why[192];
	int64_t now = now_s();

	if ((!delta && strcmp(m->kind, "crl")) || !cert ||
	    !(crl = decode(body, len, why, sizeof(why))))
		goto drop;
	info_get(crl, &in);
	if (vet(crl, cert, delta, &in, &fail, why, sizeof(why)) < 0 || c->t.n >= c->o.max_crls ||
	    c->bytes + len > c->o.max_total_bytes || !(iss = facts_ref(c, cert)) ||
	    !(e = ent_new(c, key, m->url, iss, delta)))
		goto drop;
	presort(crl);
	e->crl = crl;
	e->info = in;
	e->der_len = len;
	e->fetched = m->fetched;
	snprintf(e->etag, sizeof(e->etag), "%s", m->etag);
	e->last_modified = m->last_modified;
	e->next_fetch =
		fu_refresh_at(m->fetched, in.next_update, c->o.refresh_min_s, c->o.refresh_max_s);
	if (e->next_fetch <= now) /* overdue: spread them out */
		e->next_fetch = now + arc4random_uniform(START_SPREAD_S < c->o.refresh_min_s ?
								 START_SPREAD_S :
								 c->o.refresh_min_s);
	due(c, e->next_fetch);
	c->held++;
	c->bytes += len;
	c->st.loaded++;
	X509_free(cert);
	free(body);
	return;
drop:
	info_free(&in);
	X509_CRL_free(crl);
	X509_free(cert);
	free(body);
	fstore_remove(c->store, key);
}

/* Deltas find their bases; a delta without one is dropped. */
static void link_loaded(struct crlfetch *c)
{
	struct hnode *n, *nx;

	htab_for_each(&c->t, n, nx)
	{
		struct crl_ent *e = ent_of(n), *d;
		uint8_t dk[32];

		if (e->delta || !e->info.freshest)
			continue;
		delta_key(e, e->info.freshest, dk);
		if ((d = ent_of(htab_find32(&c->t, dk))) && d->delta) {
			d->base = e;
			e->dent = d;
			c->gen++;
		}
	}
	htab_for_each(&c->t, n, nx)
	{
		struct crl_ent *e = ent_of(n);

		if (e->delta && !e->base)
			ent_remove(c, e, true);
	}
}

struct crlfetch *crlfetch_new(struct fetch *f, const struct crlfetch_opts *o, char *err,
			      size_t errlen)
{
	struct crlfetch *c;

	if (!o->certs) {
		snprintf(err, errlen, "crlfetch: no certificate cache");
		return NULL;
	}
	if (!(c = calloc(1, sizeof(*c)))) {
		snprintf(err, errlen, "crlfetch: out of memory");
		return NULL;
	}
	c->o = *o;
	c->f = f;
	OPT_DEFAULT(c->o.max_crl_bytes, CRL_BYTES_DEFAULT);
	if (c->o.max_crl_bytes > CRL_BYTES_CAP)
		c->o.max_crl_bytes = CRL_BYTES_CAP;
	OPT_DEFAULT(c->o.max_total_bytes, TOTAL_BYTES_DEFAULT);
	OPT_DEFAULT(c->o.max_crls, CRLS_DEFAULT);
	OPT_DEFAULT(c->o.refresh_min_s, REFRESH_MIN_DEFAULT);
	OPT_DEFAULT(c->o.refresh_max_s, REFRESH_MAX_DEFAULT);
	if (c->o.refresh_max_s < c->o.refresh_min_s)
		c->o.refresh_max_s = c->o.refresh_min_s;
	c->due_min = INT64_MAX;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	if (!htab_init(&c->t, c->o.max_crls) ||
	    !(c->due_keys = calloc(c->o.max_crls, sizeof(*c->due_keys))) ||
	    !(c->memo = calloc(FU_MEMO_SLOTS, sizeof(*c->memo)))) {
		snprintf(err, errlen, "crlfetch: out of memory");
		goto fail;
	}
	if (fu_store_open(o->state_dir, "crl", (size_t)c->o.max_crl_bytes, load_one, c, &c->store,
			  err, errlen))
		goto fail;
	if (c->store)
		link_loaded(c);
	if (pthread_create(&c->worker, NULL, worker, c)) {
		snprintf(err, errlen, "crlfetch: cannot start the worker thread: %s",
			 strerror(errno));
		goto fail;
	}
	c->worker_on = true;
	return c;
fail:
	crlfetch_free(c);
	return NULL;
}

void crlfetch_free(struct crlfetch *c)
{
	struct hnode *n, *nx;
	struct crl_job *j;

	if (!c)
		return;
	if (c->worker_on) {
		pthread_mutex_lock(&c->mu);
		c->stop = true;
		pthread_cond_signal(&c->cv);
		pthread_mutex_unlock(&c->mu);
		pthread_join(c->worker, NULL);
	}
	if (c->f)
		fetch_cancel(c->f, c);
	while ((j = jq_pop(&c->todo)))
		job_free(j);
	while ((j = jq_pop(&c->done)))
		job_free(j);
	htab_for_each(&c->t, n, nx) ent_free(c, ent_of(n));
	htab_fini(&c->t);
	fstore_close(c->store);
	free(c->due_keys);
	free(c->memo);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

void crlfetch_stats(const struct crlfetch *c, struct crlfetch_stats *st)
{
	*st = c->st;
	st->followed = c->t.n;
	st->held = c->held;
	st->bytes = c->bytes;
}
