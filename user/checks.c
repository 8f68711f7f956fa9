/* checks.c - the verdict: a table of checks (revocation, pins, chain, hostname, validity, crypto, alerts), chain results cached. */
#include "checks.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <linux/types.h>
#include "aiafetch.h"
#include "certsentry.h"
#include "crlfetch.h"
#include "fmt.h"
#include "htab.h"
#include "inventory.h"
#include "ocspfetch.h"

#define CHAIN_CACHE_MAX	  4096 /* distinct chains whose verification is remembered */
#define MEMO_SLOTS	  1024 /* (leaf, SNI) and (certificate, issuer) answers kept; a power of two */
#define DEFAULT_WARN_DAYS 14

_Static_assert(F_MAX <= INT8_MAX, "struct chain_result keeps a code in an int8_t");

/* Outcome of X509_verify_cert for one chain: everything the findings need,
 * nothing that depends on the observation time, so it can be cached. */
struct chain_result {
	int8_t code;	   /* F_CHAIN_UNTRUSTED, F_CHAIN_INCOMPLETE, F_SELF_SIGNED, or -1 */
	int8_t cert;	   /* chain index of the certificate at fault, -1 if not sent */
	int err;	   /* X509_V_ERR_* */
	char subject[96];  /* of the certificate at fault when it was not sent */
	char message[256]; /* the finding's sentence: the chain's alone */
};

/* OpenSSL decodes the SAN extension on every X509_check_host and compares
 * names on every X509_check_issued; the answers depend on the certificates
 * (and name) alone, so they are kept in 2-way sets (htab.h: way2). */
struct host_memo {
	struct way2_tag tag;
	uint8_t sha256[32]; /* of the leaf */
	int rc;		    /* X509_check_host / X509_check_ip_asc */
	char sni[TLS_SNI_MAX + 1];
};

struct issued_memo {
	struct way2_tag tag;
	uint8_t sub[32], iss[32];
	bool issued;
};

/* A verified chain, known by its certificates' SHA-256s in order. */
struct chain_entry {
	struct hnode h;	     /* keyed hash of sha[0..n) */
	struct lru_node lru; /* most recently used first */
	struct chain_result res;
	uint32_t n;
	uint8_t sha[][32];
};

/* One checker per thread: the cache and stats are not locked. */
struct checker {
	struct checks_opts o;
	const struct lists *l;
	int64_t now;	    /* the time the report in hand is judged at */
	struct htab chains; /* at most CHAIN_CACHE_MAX; its seed also picks memo slots */
	struct lru lru;
	struct way2 host, issued;	 /* MEMO_SLOTS each */
	struct check_sources src;	 /* fetched sources and the inventory, or NULLs */
	struct inventory_decision inv_d; /* the last report's, pointed to by its verdict */
	struct checker_stats st;
};

/* ---- chain cache: verdicts of X509_verify_cert, least recently used out ---- */

static uint64_t chain_hash(const struct checker *c, const struct cs_report *r, uint32_t n)
{
	uint64_t h = 0;

	for (uint32_t i = 0; i < n; i++)
		h = hash_more(&c->chains.seed, h, r->chain[i]->sha256, 32);
	return h;
}

static bool chain_eq(const struct chain_entry *e, const struct cs_report *r, uint32_t n)
{
	if (e->n != n)
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (memcmp(e->sha[i], r->chain[i]->sha256, 32))
			return false;
	return true;
}

static void cache_drop(struct checker *c, struct chain_entry *e)
{
	htab_del(&c->chains, &e->h);
	lru_unlink(&c->lru, &e->lru);
	free(e);
}

static void cache_clear(struct checker *c)
{
	while (c->lru.head)
		cache_drop(c, lru_entry(c->lru.head, struct chain_entry, lru));
}

static const struct chain_result *cache_get(struct checker *c, const struct cs_report *r,
					    uint32_t n, uint64_t h)
{
	struct hnode *p;

	htab_for_hash(&c->chains, h, p)
	{
		struct chain_entry *e = htab_entry(p, struct chain_entry, h);

		if (chain_eq(e, r, n)) {
			lru_touch(&c->lru, &e->lru);
			return &e->res;
		}
	}
	return NULL;
}

static void cache_put(struct checker *c, const struct cs_report *r, uint32_t n, uint64_t h,
		      const struct chain_result *res)
{
	struct chain_entry *e;

	if (c->chains.n >= CHAIN_CACHE_MAX)
		cache_drop(c, lru_entry(c->lru.tail, struct chain_entry, lru));
	if (!(e = malloc(sizeof(*e) + (size_t)n * 32)))
		return; /* judged again next time */
	e->res = *res;
	e->n = n;
	for (uint32_t i = 0; i < n; i++)
		memcpy(e->sha[i], r->chain[i]->sha256, 32);
	htab_add(&c->chains, &e->h, h);
	lru_push(&c->lru, &e->lru);
}

/* ---- checker ---- */

struct checker *checker_new(const struct checks_opts *o)
{
	struct checker *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	if (o)
		c->o = *o;
	/* 0 is what a zeroed opts holds: the default; negative turns the warning off. */
	if (!o || c->o.warn_days == 0)
		c->o.warn_days = DEFAULT_WARN_DAYS;
	if (!htab_init(&c->chains, CHAIN_CACHE_MAX) ||
	    !way2_init(&c->host, MEMO_SLOTS, sizeof(struct host_memo)) ||
	    !way2_init(&c->issued, MEMO_SLOTS, sizeof(struct issued_memo))) {
		checker_free(c);
		return NULL;
	}
	return c;
}

void checker_free(struct checker *c)
{
	if (!c)
		return;
	cache_clear(c);
	htab_fini(&c->chains);
	way2_fini(&c->host);
	way2_fini(&c->issued);
	free(c);
}

void checker_set_lists(struct checker *c, const struct lists *l)
{
	c->l = l;
	cache_clear(c); /* verification depends on the trust store: judge every chain again */
}

void checker_set_sources(struct checker *c, const struct check_sources *s)
{
	if (s)
		c->src = *s;
	else
		memset(&c->src, 0, sizeof(c->src));
}

void checker_stats(const struct checker *c, struct checker_stats *st)
{
	*st = c->st;
}

/* ---- helpers ---- */

/* "'www.example.com' (serial 04A5..., sha256 DA2BAAA496289600)": how on-call finds it. */
static const char *cert_label(const struct cert_facts *f, char *buf, size_t cap)
{
	const char *n;

	if (!f->parse_ok) {
		snprintf(buf, cap, "unparseable certificate (sha256 %.16s)", f->sha256_hex);
		return buf;
	}
	n = f->subject_cn && *f->subject_cn ? f->subject_cn :
	    f->subject_dn && *f->subject_dn ? f->subject_dn :
					      "(empty subject)";
	snprintf(buf, cap, "'%.64s' (serial %.40s, sha256 %.16s)", n,
		 f->serial_hex ? f->serial_hex : "?", f->sha256_hex);
	return buf;
}

static const char *time_text(int64_t t, char *buf, size_t cap)
{
	if (!fmt_time(buf, cap, t, 0, FMT_S, NULL))
		snprintf(buf, cap, "%lld", (long long)t);
	return buf;
}

static void add(struct checker *c, struct verdict *v, enum finding_code code, int cert,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The verdict's slot for a new finding, or NULL when the code is ignored
 * or already there (one per code: the first, leaf-most, wins). The
 * severity is the code's own, from the table. */
static struct finding *add_slot(struct checker *c, struct verdict *v, enum finding_code code,
				int cert)
{
	struct finding *f;

	if (finding_set_has(&c->o.ignore, code))
		return NULL;
	for (uint32_t i = 0; i < v->n; i++)
		if (v->f[i].code == code)
			return NULL;
	f = &v->f[v->n++];
	f->code = code;
	f->sev = finding_severity(code);
	f->cert = cert;
	return f;
}

static void add(struct checker *c, struct verdict *v, enum finding_code code, int cert,
		const char *fmt, ...)
{
	struct finding *f = add_slot(c, v, code, cert);
	va_list ap;

	if (!f)
		return;
	va_start(ap, fmt);
	vsnprintf(f->message, sizeof(f->message), fmt, ap);
	va_end(ap);
}

/* The memo slot of a certificate (its SHA-256) and what else the answer
 * depends on. */
static uint32_t memo_slot(const struct checker *c, const uint8_t *sha, const void *more, size_t n)
{
	return (uint32_t)hash_more(&c->chains.seed, hash_rd64(sha), more, n) & (MEMO_SLOTS - 1);
}

struct issued_key {
	const uint8_t *sub, *iss;
};

static bool issued_eq(const void *entry, const void *key)
{
	const struct issued_memo *m = entry;
	const struct issued_key *k = key;

	return !memcmp(m->sub, k->sub, 32) && !memcmp(m->iss, k->iss, 32);
}

static bool issued_by(struct checker *c, const struct cert_facts *sub, const struct cert_facts *iss)
{
	struct issued_key k = { sub->sha256, iss->sha256 };
	struct issued_memo *m;
	bool hit;

	if (!sub->x509 || !iss->x509)
		return false;
	m = way2_get(&c->issued, memo_slot(c, sub->sha256, iss->sha256, 32), struct issued_memo,
		     issued_eq, &k, &hit);
	if (!hit) {
		memcpy(m->sub, sub->sha256, 32);
		memcpy(m->iss, iss->sha256, 32);
		m->issued = X509_check_issued(iss->x509, sub->x509) == X509_V_OK;
		m->tag.used = true;
	}
	return m->issued;
}

/* ---- chain verification (cached) ---- */

static int8_t chain_index(const struct cs_report *r, X509 *x)
{
	for (uint32_t i = 0; x && i < r->chain_len; i++)
		if (r->chain[i]->x509 == x ||
		    (r->chain[i]->x509 && !X509_cmp(r->chain[i]->x509, x)))
			return (int8_t)i;
	return -1;
}

/* False when verification could not run (allocation failure): nothing to cache. */
static bool verify_chain(const struct checker *c, const struct cs_report *r, X509 *extra,
			 struct chain_result *res)
{
	X509_STORE *store = lists_trust_store(c->l);
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509_VERIFY_PARAM *p;
	X509 *bad;
	bool done = false;
	int rc, err;

	memset(res, 0, sizeof(*res));
	res->code = -1;
	res->cert = -1;
	if (!store || !untrusted || !ctx)
		goto out;
	/* Only what this server sent: a cache of earlier intermediates would hide
	 * a server that omits its own. */
	for (uint32_t i = 1; i < r->chain_len; i++)
		if (r->chain[i]->x509)
			sk_X509_push(untrusted, r->chain[i]->x509);
	if (extra) /* an issuer fetched by AIA, as a browser would */
		sk_X509_push(untrusted, extra);
	if (!X509_STORE_CTX_init(ctx, store, r->chain[0]->x509, untrusted))
		goto out;
	X509_STORE_CTX_set_default(ctx, "ssl_server"); /* purpose and trust as a TLS client */
	p = X509_STORE_CTX_get0_param(ctx);
	/* Time is judged per report at check_time, so the result stays cacheable;
	 * CRLs are the lists' business; a partial chain is not a trusted one. */
	X509_VERIFY_PARAM_set_flags(p, X509_V_FLAG_NO_CHECK_TIME);
	X509_VERIFY_PARAM_clear_flags(p, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_CRL_CHECK |
						 X509_V_FLAG_CRL_CHECK_ALL);
	rc = X509_verify_cert(ctx);
	err = X509_STORE_CTX_get_error(ctx);
	if (rc < 0 && err == X509_V_OK) /* internal error, not a verdict */
		goto out;
	done = true;
	if (rc == 1)
		goto out;
	bad = X509_STORE_CTX_get_current_cert(ctx);
	res->err = err;
	res->cert = chain_index(r, bad);
	if (res->cert < 0 && bad)
		fmt_dn_buf(res->subject, sizeof(res->subject), X509_get_subject_name(bad));
	switch (err) {
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
		res->code = F_SELF_SIGNED;
		res->cert = 0;
		break;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
		/* Only a leaf whose issuer was not sent lacks an intermediate; a
		 * sent chain ending in a CA certificate whose issuer is no trust
		 * anchor is a root the store does not know (a private PKI): telling
		 * its owner to "send the missing intermediate" would be wrong. */
		if (res->cert == 0 && !r->chain[0]->self_signed) {
			res->code = F_CHAIN_INCOMPLETE;
			break;
		}
		/* fall through */
	default:
		res->code = F_CHAIN_UNTRUSTED;
		break;
	}
out:
	X509_STORE_CTX_free(ctx);
	sk_X509_free(untrusted);
	ERR_clear_error(); /* verification failures are findings, not queued errors */
	return done;
}

/* A finding's sentence, cut to fit as add() cuts it. */
static void msgf(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void msgf(char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, cap, fmt, ap);
	va_end(ap);
}

/* The sentence of a chain finding, made once per chain and cached. */
static void chain_message(const struct cs_report *r, struct chain_result *res)
{
	char a[192], b[192];

	res->message[0] = '\0';
	if (res->code < 0)
		return;
	cert_label(r->chain[0], a, sizeof(a));
	switch (res->code) {
	case F_SELF_SIGNED:
		msgf(res->message, sizeof(res->message),
		     "Leaf %s is self-signed and not a trust anchor: replace it with a CA-issued certificate.",
		     a);
		break;
	case F_CHAIN_INCOMPLETE: {
		const struct cert_facts *f = r->chain[res->cert];
		const char *iss = f->issuer_cn ? f->issuer_cn : f->issuer_dn ? f->issuer_dn : "?";

		if (res->cert == 0)
			snprintf(b, sizeof(b), "its issuer '%.64s'", iss);
		else
			snprintf(b, sizeof(b), "'%.64s', issuer of intermediate '%.48s',", iss,
				 f->subject_cn ? f->subject_cn :
				 f->subject_dn ? f->subject_dn :
						 "?");
		msgf(res->message, sizeof(res->message),
		     "Chain of %s is incomplete: %s is neither sent nor a trust anchor; send the missing intermediate.",
		     a, b);
		break;
	}
	case F_CHAIN_UNTRUSTED:
		if (res->cert > 0 && (res->err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
				      res->err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT)) {
			const struct cert_facts *f = r->chain[res->cert];

			msgf(res->message, sizeof(res->message),
			     "Chain of %s is not trusted: it ends at '%.64s', issued by '%.64s', "
			     "which is not in the trust store (an unknown root, not a missing "
			     "intermediate).",
			     a,
			     f->subject_cn ? f->subject_cn :
			     f->subject_dn ? f->subject_dn :
					     "?",
			     f->issuer_cn ? f->issuer_cn :
			     f->issuer_dn ? f->issuer_dn :
					    "?");
			break;
		}
		if (res->cert >= 0)
			cert_label(r->chain[res->cert], b, sizeof(b));
		else
			snprintf(b, sizeof(b), "'%.80s'", res->subject[0] ? res->subject : "?");
		msgf(res->message, sizeof(res->message), "Chain of %s is not trusted: %s (at %s).",
		     a, X509_verify_cert_error_string(res->err), b);
		break;
	default:
		break;
	}
}

static bool missing_issuer(const struct chain_result *res)
{
	return res->code != F_SELF_SIGNED &&
	       (res->err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
		res->err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT);
}

static const char *cert_name(const struct cert_facts *f, bool issuer)
{
	const char *cn = issuer ? f->issuer_cn : f->subject_cn;
	const char *dn = issuer ? f->issuer_dn : f->subject_dn;

	return cn && *cn ? cn : dn && *dn ? dn : "?";
}

/*
 * The chain stops at a certificate whose issuer is neither sent nor trusted
 * and that names its issuer by AIA caIssuers: what a browser fetches. True
 * when the fetched issuer decides the finding (added here); false while the
 * fetch is pending or failed, or without a URL: the chain's own finding.
 * Not cached: the answer changes when the fetch completes.
 */
static bool check_chain_aia(struct checker *c, const struct cs_report *r,
			    const struct chain_result *res, struct verdict *v)
{
	const struct cert_facts *last = r->chain[res->cert];
	struct aiafetch_answer ans;
	struct chain_result with;
	char a[192];
	bool ok;

	if (!last->x509 || aiafetch_issuer(c->src.aia, last, &ans) != AIAF_FOUND)
		return false;
	ok = verify_chain(c, r, ans.issuer, &with) && with.code < 0;
	X509_free(ans.issuer);
	cert_label(r->chain[0], a, sizeof(a));
	if (ok)
		add(c, v, F_CHAIN_INCOMPLETE, res->cert,
		    "Chain of %s is incomplete: issuer '%.40s' is not sent; browsers that fetch AIA "
		    "accept it, curl, Go and Java refuse: send the intermediate.",
		    a, cert_name(last, true));
	else
		add(c, v, F_CHAIN_UNTRUSTED, res->cert,
		    "Chain of %s is not trusted: '%.40s' (AIA %.60s) does not lead to the trust "
		    "store (unknown root).",
		    a, cert_name(last, true), ans.url);
	return true;
}

static void check_chain(struct checker *c, const struct cs_report *r, struct verdict *v)
{
	const struct chain_result *res;
	struct chain_result fresh;
	struct finding *f;
	uint32_t n = r->chain_len < TLS_CHAIN_MAX ? r->chain_len : TLS_CHAIN_MAX;
	uint64_t h;

	if (!r->chain[0]->x509 || !lists_trust_store(c->l))
		return;
	h = chain_hash(c, r, n);
	if ((res = cache_get(c, r, n, h))) {
		c->st.chain_cache_hits++;
	} else {
		c->st.chain_verifications++;
		if (!verify_chain(c, r, NULL, &fresh))
			return;
		chain_message(r, &fresh);
		cache_put(c, r, n, h, &fresh);
		res = &fresh;
	}
	if (res->code >= 0 && res->cert >= 0 && c->src.aia && missing_issuer(res) &&
	    check_chain_aia(c, r, res, v))
		return;
	if (res->code < 0 || !(f = add_slot(c, v, (enum finding_code)res->code,
					    res->code == F_SELF_SIGNED ? 0 : res->cert)))
		return;
	memcpy(f->message, res->message, sizeof(f->message));
}

/* ---- per-certificate checks (never cached: lookups are O(1), time moves) ---- */

/* "NAME: WHY" (WHY cut at 200 bytes) into d->why, as snprintf would. */
static void source_why(struct verdict_source *d, const char *name, const char *why)
{
	size_t n, cap = sizeof(d->why);

	fmt_copy(d->why, cap, name);
	n = strlen(d->why);
	fmt_copy(d->why + n, cap - n, ": ");
	n = strlen(d->why);
	fmt_copy(d->why + n, cap - n < 201 ? cap - n : 201, why);
}

static void source_set(struct verdict_source *d, const char *source, const char *status,
		       const char *url, const char *number, int64_t this_update, const char *why)
{
	d->set = true;
	d->source = source;
	d->status = status;
	fmt_copy(d->url, sizeof(d->url), url);
	fmt_copy(d->number, sizeof(d->number), number);
	d->this_update = this_update;
	fmt_copy(d->why, sizeof(d->why), why);
}

/* A CRL the certificate names itself (--fetch-crl), fetched and verified. */
static void crl_fetched(struct checker *c, uint32_t i, const struct cert_facts *f,
			const struct cert_facts *iss, struct verdict *v)
{
	static const char *const st[] = { "none", "good", "revoked" };
	struct crlfetch_answer ans;
	char a[192], t[32], u[32];

	crlfetch_check(c->src.crl, f, iss, &ans);
	if (i == 0 && !v->rev_crl.set) {
		source_set(&v->rev_crl, "fetched", st[ans.status], ans.url, ans.crl_number,
			   ans.this_update, NULL);
		if (ans.status == CRLF_NONE)
			source_why(&v->rev_crl, crlfetch_none_name(ans.none), ans.why);
	}
	if (ans.status != CRLF_REVOKED)
		return;
	add(c, v, F_REVOKED_CRL, (int)i,
	    "%s %s is revoked by the CRL fetched from %.80s (number %s, thisUpdate %s) since %s "
	    "(reason %s)%s: replace it.",
	    i ? "Chain certificate" : "Leaf", cert_label(f, a, sizeof(a)), ans.url,
	    ans.crl_number[0] ? ans.crl_number : "none", time_text(ans.this_update, u, sizeof(u)),
	    time_text(ans.revocation_time, t, sizeof(t)),
	    ans.reason_str[0] ? ans.reason_str : "unspecified", ans.stale ? ", CRL stale" : "");
}

static void check_revocation(struct checker *c, const struct cs_report *r, struct verdict *v)
{
	char a[192], t[32];

	for (uint32_t i = 0; i < r->chain_len; i++) {
		const struct cert_facts *f = r->chain[i], *iss = NULL;
		struct crl_hit hit;
		const char *d;

		if ((d = lists_denied(c->l, f)))
			add(c, v, F_REVOKED_DENY, (int)i,
			    "%s %s is on the deny list (%s): replace it.",
			    i ? "Chain certificate" : "Leaf", cert_label(f, a, sizeof(a)), d);
		if (!f->parse_ok)
			continue;
		if (i + 1 < r->chain_len && issued_by(c, f, r->chain[i + 1]))
			iss = r->chain[i + 1];
		memset(&hit, 0, sizeof(hit));
		if (lists_crl_revoked(c->l, f, iss, &hit) && hit.revoked) {
			if (i == 0)
				source_set(&v->rev_crl, "loaded", "revoked", hit.source, NULL, 0,
					   NULL);
			add(c, v, F_REVOKED_CRL, (int)i,
			    "%s %s is revoked by CRL %.60s since %s (reason %s)%s: replace it.",
			    i ? "Chain certificate" : "Leaf", cert_label(f, a, sizeof(a)),
			    hit.source, time_text(hit.revocation_time, t, sizeof(t)),
			    hit.reason_str[0] ? hit.reason_str : "unspecified",
			    hit.crl_verified ? "" : ", CRL signature not verified");
		}
		if (c->src.crl)
			crl_fetched(c, i, f, iss, v);
	}
}

/* The leaf's responder asked (--fetch-ocsp) when the server stapled nothing. */
static void check_ocsp_fetched(struct checker *c, const struct cs_report *r, struct verdict *v)
{
	static const char *const st[] = { "none", "good", "revoked", "unknown" };
	const struct cert_facts *leaf = r->chain[0], *iss = NULL;
	struct ocspfetch_answer ans;
	char a[192], t[32], u[32];

	if (r->have_ocsp || !c->src.ocsp)
		return;
	if (r->chain_len > 1 && issued_by(c, leaf, r->chain[1]))
		iss = r->chain[1];
	ocspfetch_check(c->src.ocsp, leaf, iss, &ans);
	source_set(&v->rev_ocsp, "fetched", st[ans.status], ans.url, NULL, ans.this_update, NULL);
	if (ans.status == OCSPF_NONE)
		source_why(&v->rev_ocsp, ocspfetch_none_name(ans.none), ans.why);
	if (ans.status != OCSPF_REVOKED)
		return;
	add(c, v, F_REVOKED_OCSP, 0,
	    "Leaf %s revoked (OCSP responder %.80s: %s since %s; verified; thisUpdate %s): "
	    "replace it.",
	    cert_label(leaf, a, sizeof(a)), ans.url,
	    ans.reason_str[0] ? ans.reason_str : "unspecified",
	    time_text(ans.revocation_time, t, sizeof(t)), time_text(ans.this_update, u, sizeof(u)));
}

/* What certsentry.revocation says when a source was not looked at. */
static void revocation_defaults(const struct checker *c, const struct cs_report *r,
				struct verdict *v)
{
	static const char *const ost[] = { "good", "revoked", "unknown" };

	if (!v->rev_crl.set)
		source_set(&v->rev_crl, "none", "none", NULL, NULL, 0,
			   c->src.crl ?
				   "the leaf did not parse" :
				   "no loaded CRL lists it and CRL fetching is off (--fetch-crl)");
	if (v->rev_ocsp.set)
		return;
	if (r->have_ocsp && r->ocsp.parse_ok && r->ocsp.matched_leaf && r->ocsp.cert_status >= 0 &&
	    r->ocsp.cert_status <= 2)
		source_set(&v->rev_ocsp, "staple", ost[r->ocsp.cert_status], NULL, NULL,
			   r->ocsp.this_update, NULL);
	else
		source_set(&v->rev_ocsp, "none", "none", NULL, NULL, 0,
			   r->have_ocsp ?
				   "the stapled response does not answer for the leaf" :
				   "no stapled response and OCSP fetching is off (--fetch-ocsp)");
}

/*
 * The inventory remembers which leaf each (server, port, SNI) served: a
 * change is cert.changed, a return of an older or earlier-served leaf
 * cert.rollback, two leaves served at once cert.inconsistent. Runs last: the
 * inventory keeps the verdict so far as the leaf's. Not for a recheck (the
 * handshake was counted when it happened).
 */
static void check_inventory(struct checker *c, const struct cs_report *r, struct verdict *v)
{
	struct inventory_decision *d = &c->inv_d;
	const struct inventory_leaf *p = &d->prev, *n = &d->cur;
	enum finding_code worst = F_MAX;
	char t1[32], t2[32], sh[256];
	uint32_t fl;
	size_t k = 0;

	if (!c->src.inv || r->recheck)
		return;
	for (uint32_t i = 0; i < v->n; i++)
		if (worst == F_MAX || v->f[i].sev < finding_severity(worst) ||
		    (v->f[i].sev == finding_severity(worst) && v->f[i].code < worst))
			worst = v->f[i].code;
	fl = inventory_observe(c->src.inv, &r->server, r->has_sni && r->sni[0] ? r->sni : NULL,
			       (struct cert_facts *const *)r->chain, r->chain_len,
			       worst == F_MAX ? "ok" : finding_name(worst), r->ts_ns, d);
	if (fl & (INV_CHANGED | INV_ROLLBACK | INV_INCONSISTENT))
		v->change = d;
	if (fl & INV_ROLLBACK)
		add(c, v, F_CERT_ROLLBACK, 0,
		    "Rollback: serial %.40s (sha256 %.16s, notBefore %s) is served again in place of "
		    "serial %.40s (sha256 %.16s, notBefore %s)%s: find who redeployed the old one.",
		    n->serial, n->sha256, time_text(n->not_before, t1, sizeof(t1)), p->serial,
		    p->sha256, time_text(p->not_before, t2, sizeof(t2)),
		    d->rollback_why & INV_RB_SERVED_BEFORE ? " (served here before)" :
							     " (issued before it)");
	if (fl & INV_CHANGED)
		add(c, v, F_CERT_CHANGED, 0,
		    "Served leaf changed%s: serial %.40s (sha256 %.16s, notAfter %s) replaced serial "
		    "%.40s (sha256 %.16s).",
		    fl & INV_RENEWAL ? " (a renewal)" : "", n->serial, n->sha256,
		    time_text(n->not_after, t1, sizeof(t1)), p->serial, p->sha256);
	if (fl & INV_INCONSISTENT) {
		sh[0] = '\0';
		for (uint32_t i = 0; i < d->n_shares && k < sizeof(sh); i++)
			k += (size_t)snprintf(sh + k, sizeof(sh) - k, "%s%.16s %u.%u%%",
					      i ? ", " : "", d->shares[i].leaf.sha256,
					      d->shares[i].permille / 10,
					      d->shares[i].permille % 10);
		add(c, v, F_CERT_INCONSISTENT, 0,
		    "%u leaves served for one endpoint within %u s%s: %s; one backend is on "
		    "another certificate.",
		    d->n_shares, d->window_s, fl & INV_FLAPPING ? " (flapping)" : "", sh);
	}
}

/*
 * A revoked staple with a bad signature proves nothing (anyone on the path
 * could have forged it), but a server stapling garbage is worth a look: a
 * finding of its own, ocsp.bad_signature, medium. Verified or unverifiable
 * (issuer not sent) is revoked.ocsp: the server itself is handing it out.
 */
static void check_ocsp(struct checker *c, const struct cs_report *r, struct verdict *v)
{
	int64_t now = c->now;
	const struct ocsp_facts *o = &r->ocsp;
	char a[192], t1[32], t2[32], fresh[64];

	if (!o->parse_ok || o->response_status != 0 || o->cert_status != OCSP_ST_REVOKED ||
	    !o->matched_leaf)
		return;
	if (now < o->this_update)
		snprintf(fresh, sizeof(fresh), "not yet valid until %s",
			 time_text(o->this_update, t2, sizeof(t2)));
	else if (o->next_update && now > o->next_update)
		snprintf(fresh, sizeof(fresh), "stale since %s",
			 time_text(o->next_update, t2, sizeof(t2)));
	else
		snprintf(fresh, sizeof(fresh), "fresh");
	cert_label(r->chain[0], a, sizeof(a));
	time_text(o->revocation_time, t1, sizeof(t1));
	if (o->signature_checked && !o->signature_ok)
		add(c, v, F_OCSP_BAD_SIGNATURE, 0,
		    "Leaf %s: the stapled OCSP response says revoked (%s since %s; %s) but its "
		    "signature is INVALID: unproven, find out who staples it.",
		    a, o->reason_str[0] ? o->reason_str : "unspecified", t1, fresh);
	else
		add(c, v, F_REVOKED_OCSP, 0,
		    "Leaf %s revoked (OCSP staple: %s since %s; signature %s; %s): replace it.", a,
		    o->reason_str[0] ? o->reason_str : "unspecified", t1,
		    o->signature_checked ? "verified" : "unchecked (issuer unknown)", fresh);
}

static void check_pins(struct checker *c, const struct cs_report *r, struct verdict *v)
{
	const char *sni = r->has_sni && r->sni[0] ? r->sni : NULL;
	const struct pin_rule *rule = lists_pin_rule(c->l, sni, &r->server);
	char a[192], ep[64];
	uint32_t n;

	if (!rule || pin_rule_matches(rule, r->chain, r->chain_len) ||
	    finding_set_has(&c->o.ignore, F_PIN_MISMATCH))
		return;
	v->pin_pattern = pin_rule_pattern(rule);
	n = pin_rule_pins(rule, v->pin_expected, VERDICT_PINS_MAX);
	v->n_pin_expected = n < VERDICT_PINS_MAX ? n : VERDICT_PINS_MAX;
	add(c, v, F_PIN_MISMATCH, 0,
	    "Leaf %s served for %.64s matches none of the %u pins of rule %.80s.",
	    cert_label(r->chain[0], a, sizeof(a)),
	    sni ? sni : fmt_endpoint(&r->server, ep, sizeof(ep)), v->n_pin_expected,
	    v->pin_pattern ? v->pin_pattern : "?");
}

static int host_match(X509 *x, const char *sni)
{
	uint8_t ip[16];
	int rc;

	/* RFC 6066 forbids IP literals in SNI, but clients send them: judge them as IPs. */
	if (inet_pton(AF_INET, sni, ip) == 1 || inet_pton(AF_INET6, sni, ip) == 1)
		rc = X509_check_ip_asc(x, sni, 0);
	else /* RFC 6125: "*" only as the whole left-most label, one label deep */
		rc = X509_check_host(x, sni, strlen(sni), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
				     NULL);
	ERR_clear_error();
	return rc;
}

struct host_key {
	const uint8_t *sha256;
	const char *sni;
};

static bool host_eq(const void *entry, const void *key)
{
	const struct host_memo *m = entry;
	const struct host_key *k = key;

	return !memcmp(m->sha256, k->sha256, 32) && !strcmp(m->sni, k->sni);
}

static void check_hostname(struct checker *c, const struct cs_report *r, struct verdict *v)
{
	const struct cert_facts *leaf = r->chain[0];
	struct host_key k = { leaf->sha256, r->sni };
	struct host_memo *m;
	char a[192];
	bool hit;
	int rc;

	if (!leaf->x509)
		return;
	m = way2_get(&c->host, memo_slot(c, leaf->sha256, r->sni, strlen(r->sni)), struct host_memo,
		     host_eq, &k, &hit);
	if (hit) {
		rc = m->rc;
	} else {
		rc = host_match(leaf->x509, r->sni);
		memcpy(m->sha256, leaf->sha256, 32);
		snprintf(m->sni, sizeof(m->sni), "%s", r->sni);
		m->rc = rc;
		m->tag.used = rc != -1; /* an internal error may not happen again */
	}
	if (rc == 1 || rc == -1) /* -1: internal error, no evidence either way */
		return;
	add(c, v, F_HOSTNAME_MISMATCH, 0,
	    "Leaf %s does not cover the requested server name '%.64s' (SNI): serve a certificate for that name.",
	    cert_label(r->chain[0], a, sizeof(a)), r->sni);
}

static void check_time(struct checker *c, const struct cs_report *r, struct verdict *v)
{
	int64_t now = c->now;
	int n_exp = 0, n_nyv = 0, i_exp = -1, i_nyv = -1;
	char a[192], t[32];
	const struct cert_facts *f;

	for (uint32_t i = 0; i < r->chain_len; i++) {
		f = r->chain[i];
		if (!f->parse_ok)
			continue;
		if (now > f->not_after && !n_exp++)
			i_exp = (int)i;
		if (now < f->not_before && !n_nyv++)
			i_nyv = (int)i;
	}
	if (i_exp >= 0) {
		f = r->chain[i_exp];
		add(c, v, F_EXPIRED, i_exp, "%s %s expired on %s%s: renew it.",
		    i_exp ? "Chain certificate" : "Leaf", cert_label(f, a, sizeof(a)),
		    time_text(f->not_after, t, sizeof(t)),
		    n_exp > 1 ? " (and other chain certificates)" : "");
	}
	if (i_nyv >= 0) {
		f = r->chain[i_nyv];
		add(c, v, F_NOT_YET_VALID, i_nyv,
		    "%s %s is not valid until %s%s: check the issuing date or the clocks.",
		    i_nyv ? "Chain certificate" : "Leaf", cert_label(f, a, sizeof(a)),
		    time_text(f->not_before, t, sizeof(t)),
		    n_nyv > 1 ? " (and other chain certificates)" : "");
	}
	f = r->chain[0];
	if (f->parse_ok && c->o.warn_days > 0 && now <= f->not_after &&
	    f->not_after - now < (int64_t)c->o.warn_days * 86400)
		add(c, v, F_EXPIRING_SOON, 0, "Leaf %s expires on %s, in %.1f days: renew it.",
		    cert_label(f, a, sizeof(a)), time_text(f->not_after, t, sizeof(t)),
		    (double)(f->not_after - now) / 86400.0);
}

static bool weak_digest(const struct cert_facts *f, const char **name)
{
	int md = NID_undef;

	if (f->x509 && !X509_get_signature_info(f->x509, &md, NULL, NULL, NULL))
		md = NID_undef;
	switch (md) {
	case NID_md2:
		*name = "MD2";
		return true;
	case NID_md4:
		*name = "MD4";
		return true;
	case NID_md5:
	case NID_md5_sha1:
		*name = "MD5";
		return true;
	case NID_sha1:
		*name = "SHA-1";
		return true;
	case NID_undef: /* unknown to OpenSSL: go by the printed name */
		if (strcasestr(f->sig_alg, "md5")) {
			*name = "MD5";
			return true;
		}
		if (strcasestr(f->sig_alg, "sha1") || strcasestr(f->sig_alg, "sha-1")) {
			*name = "SHA-1";
			return true;
		}
		return false;
	default:
		return false;
	}
}

static void check_crypto(struct checker *c, const struct cs_report *r, struct verdict *v)
{
	const struct cert_facts *f;
	const char *md;
	char a[192];

	for (uint32_t i = 0; i < r->chain_len; i++) {
		f = r->chain[i];
		if (!f->parse_ok)
			continue;
		/* A root's own signature is never checked by anyone: skip a self-signed top. */
		if (!(i + 1 == r->chain_len && i > 0 && f->self_signed) && weak_digest(f, &md))
			add(c, v, F_WEAK_SIGNATURE, (int)i,
			    "%s %s is signed with %s (%s): reissue it with SHA-256 or better.",
			    i ? "Chain certificate" : "Leaf", cert_label(f, a, sizeof(a)), md,
			    f->sig_alg);
		if (f->key_bits > 0 &&
		    ((!strncmp(f->key_alg, "RSA", 3) || !strcmp(f->key_alg, "DSA")) ?
			     f->key_bits < 2048 :
		     !strcmp(f->key_alg, "EC") ? f->key_bits < 256 :
						 false))
			add(c, v, F_WEAK_KEY, (int)i,
			    "%s %s has a %d-bit %s key: reissue it with RSA 2048+ or EC 256+.",
			    i ? "Chain certificate" : "Leaf", cert_label(f, a, sizeof(a)),
			    f->key_bits, f->key_alg);
	}
}

/* A TLS 1.3 client refusing what it never showed us: only the alerts
 * that name a certificate say it was the certificate. */
static bool cert_alert(uint8_t desc)
{
	return (desc >= 42 && desc <= 46) || desc == 48; /* bad_certificate..unknown_ca */
}

/* Which certificate a refusal names, and from where (report.h cert_basis). */
static int refused_cert(const struct cs_report *r, char *a, size_t cap)
{
	if (!r->alert_cert_sha256[0]) {
		snprintf(a, cap, "(not seen: TLS 1.3 encrypts it)");
		return -1;
	}
	if (r->chain_len && !strcasecmp(r->chain[0]->sha256_hex, r->alert_cert_sha256)) {
		cert_label(r->chain[0], a, cap);
		return 0;
	}
	snprintf(a, cap, "sha256 %.16s%s", r->alert_cert_sha256,
		 r->cert_basis == CERT_BASIS_ENDPOINT ?
			 " (the last one seen for this server and SNI)" :
			 "");
	return -1;
}

static void check_alert(struct checker *c, const struct cs_report *r, struct verdict *v)
{
	const char *n = tls_alert_name(r->alert_desc);
	bool tls13 = wire_tls13_version(r->version);
	char a[256], ep[64];
	int cert;

	if (!r->alert_from_client || r->alert_level != 2)
		return;
	/* TLS 1.2: a fatal alert after a certificate. TLS 1.3: one of the
	 * certificate alerts after the ServerHello, whether or not a source
	 * showed the certificate. */
	if (!r->alert_cert_sha256[0] && !(tls13 && cert_alert(r->alert_desc)))
		return;
	cert = refused_cert(r, a, sizeof(a));
	add(c, v, F_CLIENT_REJECTED, cert,
	    "Client %s rejected certificate %s with fatal alert %s (%u)%s: check what it distrusts.",
	    fmt_endpoint(&r->client, ep, sizeof(ep)), a, n ? n : "unknown", r->alert_desc,
	    r->outcome_decrypted ? ", decrypted with its key log" : "");
}

/* TLS 1.3's encrypted abort shape, without a key to read the alert. */
static void check_outcome(struct checker *c, const struct cs_report *r, struct verdict *v)
{
	char a[256], ep[64];

	if (r->action != REPORT_CLIENT_OUTCOME || r->outcome != OUTCOME_ABORTED || r->outcome_alert)
		return;
	add(c, v, F_CLIENT_ABORTED, refused_cert(r, a, sizeof(a)),
	    "Client %s%s%s closed after one %u-byte encrypted record (an alert's size) and no "
	    "Finished: it probably refused certificate %s.",
	    fmt_endpoint(&r->client, ep, sizeof(ep)),
	    r->have_hello && r->hello.fp.ja4[0] ? " ja4=" : "",
	    r->have_hello ? r->hello.fp.ja4 : "", r->outcome_rec_len, a);
}

/* outcomes.c's rate alert: the message is its window. */
static void check_aborting(struct checker *c, const struct cs_report *r, struct verdict *v)
{
	char fam[256] = "", ep[64];
	size_t n = 0;

	if (r->action != REPORT_CLIENT_ABORTING)
		return;
	for (uint32_t i = 0; i < r->n_families && n < sizeof(fam); i++)
		n += snprintf(fam + n, sizeof(fam) - n, "%s%s %u/%u", i ? ", " : "",
			      r->families[i].ja4[0] ? r->families[i].ja4 : "(no ja4)",
			      r->families[i].aborted, r->families[i].total);
	add(c, v, F_CLIENT_ABORTING, -1,
	    "Clients of %s%s%s aborted %u of %u TLS 1.3 handshakes (%u%%) in %us, leaf %.16s; "
	    "aborting by JA4: %s.",
	    fmt_endpoint(&r->server, ep, sizeof(ep)), r->has_sni ? " sni=" : "",
	    r->has_sni ? r->sni : "", r->win_aborted, r->win_total,
	    r->win_total ? 100 * r->win_aborted / r->win_total : 0, r->win_s,
	    r->alert_cert_sha256[0] ? r->alert_cert_sha256 : "unknown", fam[0] ? fam : "none");
}

/* Garbage where the leaf should be: no client can verify it. */
static void check_leaf_parses(struct checker *c, const struct cs_report *r, struct verdict *v)
{
	const struct cert_facts *f = r->chain[0];

	if (!f->parse_ok)
		add(c, v, F_CHAIN_UNTRUSTED, 0,
		    "Leaf certificate (sha256 %.16s, %u bytes) does not parse (%s): "
		    "no client can verify it.",
		    f->sha256_hex, f->der_len, f->parse_error);
}

/* ---- the checks, as a table ---- */

/* Beyond findings.h's NEED_*: a server leaf in the clear, parsed or not. */
#define NEED_LEAF (NEED_ALL + 1u)

typedef void check_fn(struct checker *c, const struct cs_report *r, struct verdict *v);

/*
 * Every check, run in this order on each report that holds what it needs.
 * The order matters only within a code (its first finding wins, leaf-most);
 * a verdict's order is the findings table's. A new finding: a row in
 * findings.def, and here a row with its check, or a case in one.
 */
static const struct check {
	check_fn *run;
	unsigned needs; /* NEED_* */
} checks[] = {
	{ check_alert, NEED_ALERT },
	{ check_outcome, NEED_OUTCOME },
	{ check_aborting, NEED_OUTCOME },
	{ check_leaf_parses, NEED_LEAF },
	{ check_revocation, NEED_CHAIN | NEED_LISTS },
	{ check_pins, NEED_CHAIN | NEED_LISTS },
	{ check_chain, NEED_CHAIN | NEED_LISTS },
	{ check_ocsp, NEED_CHAIN | NEED_OCSP },
	{ check_ocsp_fetched, NEED_CHAIN | NEED_OCSP },
	{ check_hostname, NEED_CHAIN | NEED_SNI },
	{ check_time, NEED_CHAIN },
	{ check_crypto, NEED_CHAIN },
	{ check_inventory, NEED_CHAIN | NEED_INVENTORY }, /* last: it keeps the verdict */
};

/* What a report, with the checker's lists, holds: NEED_* bits. */
static unsigned holdings(const struct checker *c, const struct cs_report *r)
{
	bool leaf = r->action == REPORT_CERTIFICATE && r->chain_len && r->chain[0];
	unsigned h = 0;

	if (r->action == REPORT_ALERT || r->outcome_alert)
		h |= NEED_ALERT;
	if (r->action == REPORT_CLIENT_OUTCOME || r->action == REPORT_CLIENT_ABORTING)
		h |= NEED_OUTCOME;
	if (leaf)
		h |= NEED_LEAF;
	if (leaf && r->chain[0]->parse_ok)
		h |= NEED_CHAIN;
	if (r->has_sni && r->sni[0])
		h |= NEED_SNI;
	if (c->l)
		h |= NEED_LISTS;
	if (r->have_ocsp || c->src.ocsp)
		h |= NEED_OCSP;
	if (c->src.inv && !r->recheck)
		h |= NEED_INVENTORY;
	return h;
}

/* Worst first; within a severity, the earlier row of findings.def (codes
 * are numbered in row order). At most one finding per code: no ties. */
static int finding_cmp(const void *x, const void *y)
{
	const struct finding *a = x, *b = y;

	if (a->sev != b->sev)
		return a->sev < b->sev ? -1 : 1;
	return a->code < b->code ? -1 : a->code > b->code;
}

void checks_run(struct checker *c, const struct cs_report *r, struct verdict *v)
{
	unsigned have = holdings(c, r);

	memset(v, 0, sizeof(*v));
	v->worst = SEV_OK;
	c->st.runs++;
	/* 0 means the caller had no clock: judge as of now rather than 1970. */
	c->now = r->check_time ? r->check_time : (int64_t)time(NULL);
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
		if ((checks[i].needs & have) == checks[i].needs)
			checks[i].run(c, r, v);
	if (have & NEED_CHAIN)
		revocation_defaults(c, r, v);
	qsort(v->f, v->n, sizeof(v->f[0]), finding_cmp);
	if (v->n)
		v->worst = v->f[0].sev;
	v->unverified = r->action == REPORT_CERTIFICATE_HIDDEN;
}

int verdict_slot(const struct verdict *v)
{
	if (v->n)
		return v->f[0].code;
	return v->unverified ? VERDICT_UNVERIFIED : VERDICT_OK;
}

const char *verdict_slot_name(int slot)
{
	if (slot == VERDICT_UNVERIFIED)
		return "unverified";
	if (slot == VERDICT_OK)
		return "ok";
	return finding_name(slot);
}

const char *verdict_name(const struct verdict *v)
{
	return verdict_slot_name(verdict_slot(v));
}
