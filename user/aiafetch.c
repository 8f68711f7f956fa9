/* aiafetch.c - the issuer a certificate names by its AIA caIssuers URL: fetched, checked, cached. */
#include "aiafetch.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>

#include "defaults.h"
#include "fetchutil.h"
#include "fstore.h"
#include "htab.h"

#define OBJECTS_DEFAULT 256u
#define BYTES_DEFAULT	(256u << 10)
#define REFRESH_DEFAULT 86400u
#define CERTS_MAX	16 /* certificates taken from one object */

static const char *const state_names[] = {
	[AIAF_NONE] = "none",
	[AIAF_FOUND] = "found",
	[AIAF_PENDING] = "pending",
	[AIAF_FAILED] = "failed",
};

static const char *const fail_names[AIAF_F_MAX] = {
	[AIAF_F_FETCH] = "fetch",
	[AIAF_F_PARSE] = "parse",
	[AIAF_F_NOT_ISSUER] = "not_issuer",
};

const char *aiafetch_state_name(enum aiafetch_state s)
{
	return (unsigned)s <= AIAF_FAILED ? state_names[s] : "?";
}

const char *aiafetch_fail_name(enum aiafetch_fail f)
{
	return (unsigned)f < AIAF_F_MAX ? fail_names[f] : "?";
}

struct aia_ent {
	struct hnode32 kt; /* SHA-256 of "aia" and the URL */
	struct lru_node lru;
	char *url;
	char *for_dn;		/* issuer DN of the first certificate that asked */
	STACK_OF(X509) * certs; /* NULL until fetched */
	int64_t fetched;
	bool busy;
	bool failed;
	enum aiafetch_fail fail;
	enum fetch_result fres;
	char why[192];
	uint8_t memo_sha[32]; /* last certificate answered, and which one issued it */
	int memo_idx;	      /* -1 none of them; -2 no memo */
};

/* A certificate's caIssuers URL, remembered by the certificate alone (its
 * DER decides it; fetchutil.h): the extension decoded and the key hashed
 * once, the entry found by the key while it is there. */
struct aia_memo {
	struct fu_memo k;
	bool has_url;
	uint8_t key[32];
};

struct aiafetch {
	struct aiafetch_opts o;
	struct fetch *f;
	struct fstore *store;
	struct htab t;
	struct lru lru;
	uint32_t held;
	struct aiafetch_stats st;
	struct aia_memo *memo; /* FU_MEMO_SLOTS */
};

static struct aia_ent *ent_of(struct hnode *n)
{
	return htab_entry(n, struct aia_ent, kt.h);
}

static void set_certs(struct aiafetch *a, struct aia_ent *e, STACK_OF(X509) * certs)
{
	if (e->certs)
		a->held--;
	sk_X509_pop_free(e->certs, X509_free);
	e->certs = certs;
	if (certs)
		a->held++;
	e->memo_idx = -2;
}

static void ent_remove(struct aiafetch *a, struct aia_ent *e, bool forget_disk)
{
	htab_del(&a->t, &e->kt.h);
	lru_unlink(&a->lru, &e->lru);
	if (forget_disk && a->store)
		fstore_remove(a->store, e->kt.key);
	set_certs(a, e, NULL);
	free(e->url);
	free(e->for_dn);
	free(e);
}

static struct aia_ent *ent_new(struct aiafetch *a, const uint8_t *key, const char *url)
{
	struct aia_ent *e;

	while (a->t.n >= a->o.max_objects) {
		struct lru_node *n = a->lru.tail;

		while (n && lru_entry(n, struct aia_ent, lru)->busy)
			n = n->prev;
		if (!n)
			return NULL;
		ent_remove(a, lru_entry(n, struct aia_ent, lru), true);
		a->st.evicted++;
	}
	if (!(e = calloc(1, sizeof(*e))) || !(e->url = strdup(url))) {
		free(e);
		return NULL;
	}
	memcpy(e->kt.key, key, HKEY32_LEN);
	e->memo_idx = -2;
	htab_add32(&a->t, &e->kt);
	lru_push(&a->lru, &e->lru);
	return e;
}

static bool push_cert(STACK_OF(X509) * sk, X509 *x)
{
	if (sk_X509_num(sk) >= CERTS_MAX || !sk_X509_push(sk, x)) {
		X509_free(x);
		return false;
	}
	return true;
}

static void push_p7(STACK_OF(X509) * sk, PKCS7 *p7)
{
	STACK_OF(X509) *in = p7 && PKCS7_type_is_signed(p7) && p7->d.sign ? p7->d.sign->cert : NULL;

	for (int i = 0; i < sk_X509_num(in); i++) {
		X509 *x = sk_X509_value(in, i);

		X509_up_ref(x);
		if (!push_cert(sk, x))
			break;
	}
}

/* DER certificate, DER PKCS#7, or PEM blocks of either. NULL if no certificate. */
static STACK_OF(X509) * decode(const uint8_t *b, size_t n)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	const unsigned char *p = b;

	if (!sk || n == 0 || n > INT_MAX)
		goto none;
	if (n >= 10 && memmem(b, n < 64 ? n : 64, "-----BEGIN", 10)) {
		BIO *bio = BIO_new_mem_buf(b, (int)n);
		STACK_OF(X509_INFO) *infos = bio ? PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL) :
						   NULL;

		for (int i = 0; i < sk_X509_INFO_num(infos); i++) {
			X509_INFO *xi = sk_X509_INFO_value(infos, i);

			if (xi->x509) {
				X509_up_ref(xi->x509);
				push_cert(sk, xi->x509);
			}
		}
		sk_X509_INFO_pop_free(infos, X509_INFO_free);
		if (!sk_X509_num(sk) && bio && BIO_reset(bio) == 0) {
			PKCS7 *p7 = PEM_read_bio_PKCS7(bio, NULL, NULL, NULL);

			push_p7(sk, p7);
			PKCS7_free(p7);
		}
		BIO_free(bio);
	} else {
		X509 *x = d2i_X509(NULL, &p, (long)n);

		if (x && p == b + n) {
			push_cert(sk, x);
		} else {
			PKCS7 *p7;

			X509_free(x);
			p = b;
			if ((p7 = d2i_PKCS7(NULL, &p, (long)n)) && p == b + n)
				push_p7(sk, p7);
			PKCS7_free(p7);
		}
	}
	ERR_clear_error();
	if (sk_X509_num(sk))
		return sk;
none:
	sk_X509_pop_free(sk, X509_free);
	ERR_clear_error();
	return NULL;
}

static void emit(struct aiafetch *a, struct aia_ent *e, enum aiafetch_event_kind kind)
{
	struct aiafetch_event ev = {
		.kind = kind,
		.url = e->url,
		.for_issuer_dn = e->for_dn,
		.certs = e->certs ? (uint32_t)sk_X509_num(e->certs) : 0,
		.fail = e->fail,
		.fetch = e->fres,
		.why = e->why,
	};

	if (a->o.event)
		a->o.event(a->o.ctx, &ev);
}

static void failed(struct aiafetch *a, struct aia_ent *e, enum aiafetch_fail f,
		   enum fetch_result fr, const char *why)
{
	e->failed = true;
	e->fail = f;
	e->fres = fr;
	snprintf(e->why, sizeof(e->why), "%.*s", (int)sizeof(e->why) - 1, why);
	a->st.failed[f]++;
	if (f == AIAF_F_FETCH)
		a->st.fetch_failed[fr]++;
}

static void on_fetched(void *ctx, struct fetch_resp *r)
{
	struct aiafetch *a = ctx;
	struct aia_ent *e = ent_of(htab_find32(&a->t, r->tag));
	STACK_OF(X509) * certs;
	char why[192], err[192];

	if (!e)
		return;
	e->busy = false;
	if (r->result != FETCH_OK) {
		snprintf(why, sizeof(why), "%s: %.160s", fetch_result_name(r->result), r->error);
		failed(a, e, AIAF_F_FETCH, r->result, why);
		emit(a, e, AIAF_EV_FAILED);
		return;
	}
	if (!(certs = decode(r->body, r->len))) {
		fetch_penalize(a->f, e->url);
		failed(a, e, AIAF_F_PARSE, FETCH_OK,
		       "no certificate in it (DER, PKCS#7 or PEM expected)");
		emit(a, e, AIAF_EV_FAILED);
		return;
	}
	set_certs(a, e, certs);
	e->fetched = (int64_t)time(NULL);
	e->failed = false;
	a->st.fetched++;
	if (a->store) {
		struct fstore_meta m = { .kind = "aia", .fetched = e->fetched };

		snprintf(m.url, sizeof(m.url), "%s", e->url);
		if (fstore_put(a->store, e->kt.key, &m, NULL, r->body, r->len, err, sizeof(err)) <
		    0)
			a->st.store_errors++;
	}
	emit(a, e, AIAF_EV_FETCHED);
}

static void submit(struct aiafetch *a, struct aia_ent *e)
{
	struct fetch_req r = {
		.url = e->url,
		.max_bytes = a->o.max_bytes,
		.done = on_fetched,
		.ctx = a,
	};
	enum fetch_result res;
	char why[64];

	memcpy(r.tag, e->kt.key, HKEY32_LEN);
	a->st.fetches++;
	if ((res = fetch_submit(a->f, &r)) == FETCH_OK) {
		e->busy = true;
		return;
	}
	snprintf(why, sizeof(why), "%s: not fetched", fetch_result_name(res));
	failed(a, e, AIAF_F_FETCH, res, why);
}

/* Which of e's certificates issued x (name and signature): index or -1. */
static int issuer_of(struct aia_ent *e, const struct cert_facts *cert)
{
	if (e->memo_idx != -2 && !memcmp(e->memo_sha, cert->sha256, 32))
		return e->memo_idx;
	e->memo_idx = -1;
	for (int i = 0; i < sk_X509_num(e->certs); i++) {
		X509 *c = sk_X509_value(e->certs, i);
		EVP_PKEY *pk = X509_get0_pubkey(c);

		if (X509_check_issued(c, cert->x509) == X509_V_OK && pk &&
		    X509_verify(cert->x509, pk) == 1) {
			e->memo_idx = i;
			break;
		}
	}
	ERR_clear_error();
	memcpy(e->memo_sha, cert->sha256, 32);
	return e->memo_idx;
}

/* The entry of cert's caIssuers URL, found or made; NULL with ans said
 * (none, or the bound reached). */
static struct aia_ent *entry_of(struct aiafetch *a, const struct cert_facts *cert,
				struct aiafetch_answer *ans)
{
	struct aia_memo *m = &a->memo[fu_memo_slot(cert->sha256, NULL)];
	bool known = fu_memo_holds(&m->k, cert->sha256, NULL, 1, 0);
	struct aia_ent *e = NULL;
	struct fu_urls u;

	if (known && m->has_url && (e = ent_of(htab_find32(&a->t, m->key)))) {
		lru_touch(&a->lru, &e->lru);
		return e;
	}
	if (!known || m->has_url) { /* new, or its entry evicted since: the URL again */
		fu_aia_urls(cert->x509, NID_ad_ca_issuers, &u);
		m->has_url = u.n > 0;
		if (u.n)
			fu_key(m->key, "aia", u.u[0], NULL);
		fu_memo_set(&m->k, cert->sha256, NULL, 1, INT64_MIN, INT64_MAX);
	}
	if (!m->has_url) {
		snprintf(ans->why, sizeof(ans->why), "no http(s) caIssuers URL in the certificate");
		ans->state = AIAF_NONE;
		return NULL;
	}
	if ((e = ent_of(htab_find32(&a->t, m->key)))) {
		lru_touch(&a->lru, &e->lru);
	} else if (!(e = ent_new(a, m->key, u.u[0]))) {
		snprintf(ans->url, sizeof(ans->url), "%.*s", (int)sizeof(ans->url) - 1, u.u[0]);
		snprintf(ans->why, sizeof(ans->why), "bound of %u caIssuers URLs reached",
			 a->o.max_objects);
		ans->fail = AIAF_F_FETCH;
		ans->fetch = FETCH_E_BUSY;
		ans->state = AIAF_FAILED;
	}
	return e;
}

enum aiafetch_state aiafetch_issuer(struct aiafetch *a, const struct cert_facts *cert,
				    struct aiafetch_answer *ans)
{
	int64_t now = (int64_t)time(NULL);
	struct aia_ent *e;
	int idx;

	memset(ans, 0, sizeof(*ans));
	a->st.lookups++;
	if (!cert || !cert->x509) {
		snprintf(ans->why, sizeof(ans->why), "certificate did not parse");
		return ans->state = AIAF_NONE;
	}
	if (!(e = entry_of(a, cert, ans)))
		return ans->state;
	/* found by its key: its URL is the certificate's */
	snprintf(ans->url, sizeof(ans->url), "%.*s", (int)sizeof(ans->url) - 1, e->url);
	if (!e->for_dn && cert->issuer_dn)
		e->for_dn = strdup(cert->issuer_dn);
	/* new, failed and out of its backoff, or due for a refresh; what is
	 * held is used meanwhile */
	if (!e->busy && (!e->certs || now - e->fetched >= (int64_t)a->o.refresh_s) &&
	    !fetch_backoff_left(a->f, e->url))
		submit(a, e);
	if (e->certs) {
		ans->certs = (uint32_t)sk_X509_num(e->certs);
		if ((idx = issuer_of(e, cert)) >= 0) {
			ans->issuer = sk_X509_value(e->certs, idx);
			X509_up_ref(ans->issuer);
			a->st.found++;
			return ans->state = AIAF_FOUND;
		}
		ans->fail = AIAF_F_NOT_ISSUER;
		snprintf(ans->why, sizeof(ans->why),
			 "none of the %u certificates at %.200s issued it", ans->certs, e->url);
		return ans->state = AIAF_FAILED;
	}
	if (e->failed) {
		ans->fail = e->fail;
		ans->fetch = e->fres;
		snprintf(ans->why, sizeof(ans->why), "%.80s: %.160s", e->url, e->why);
		return ans->state = AIAF_FAILED;
	}
	snprintf(ans->why, sizeof(ans->why), "fetching %.200s", e->url);
	return ans->state = AIAF_PENDING;
}

static void load_one(void *ctx, const uint8_t key[FSTORE_KEY_LEN], const struct fstore_meta *m,
		     X509 *cert, uint8_t *body, size_t len)
{
	struct aiafetch *a = ctx;
	STACK_OF(X509) *certs = NULL;
	struct aia_ent *e;

	X509_free(cert);
	if (strcmp(m->kind, "aia") || a->t.n >= a->o.max_objects || htab_find32(&a->t, key) ||
	    !(certs = decode(body, len)) || !(e = ent_new(a, key, m->url))) {
		sk_X509_pop_free(certs, X509_free);
		free(body);
		fstore_remove(a->store, key);
		return;
	}
	set_certs(a, e, certs);
	e->fetched = m->fetched;
	a->st.loaded++;
	free(body);
}

struct aiafetch *aiafetch_new(struct fetch *f, const struct aiafetch_opts *o, char *err,
			      size_t errlen)
{
	struct aiafetch *a = calloc(1, sizeof(*a));

	if (!a) {
		snprintf(err, errlen, "aiafetch: out of memory");
		return NULL;
	}
	a->o = *o;
	a->f = f;
	OPT_DEFAULT(a->o.max_objects, OBJECTS_DEFAULT);
	OPT_DEFAULT(a->o.max_bytes, BYTES_DEFAULT);
	OPT_DEFAULT(a->o.refresh_s, REFRESH_DEFAULT);
	if (!htab_init(&a->t, a->o.max_objects) ||
	    !(a->memo = calloc(FU_MEMO_SLOTS, sizeof(*a->memo)))) {
		snprintf(err, errlen, "aiafetch: out of memory");
		goto fail;
	}
	if (fu_store_open(o->state_dir, "aia", a->o.max_bytes, load_one, a, &a->store, err, errlen))
		goto fail;
	return a;
fail:
	aiafetch_free(a);
	return NULL;
}

void aiafetch_free(struct aiafetch *a)
{
	if (!a)
		return;
	if (a->f)
		fetch_cancel(a->f, a);
	while (a->lru.head)
		ent_remove(a, lru_entry(a->lru.head, struct aia_ent, lru), false);
	htab_fini(&a->t);
	fstore_close(a->store);
	free(a->memo);
	free(a);
}

void aiafetch_stats(const struct aiafetch *a, struct aiafetch_stats *st)
{
	*st = a->st;
	st->followed = a->t.n;
	st->held = a->held;
}
