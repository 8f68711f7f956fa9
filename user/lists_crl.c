/* lists_crl.c - CRLs from --crl files and directories: indexed by serial, verified, looked up. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "lists_int.h"

/* CRLReason (RFC 5280 5.3.1) by value; 7 is unused. */
#define REASON_REMOVE_FROM_CRL 8

static const char *const reason_names[] = {
	"unspecified",	 "keyCompromise",	 "cACompromise",    "affiliationChanged",
	"superseded",	 "cessationOfOperation", "certificateHold", NULL,
	"removeFromCRL", "privilegeWithdrawn",	 "aACompromise",
};

static uint32_t serial_hash(const struct lists *l, const ASN1_INTEGER *a)
{
	uint64_t neg = ASN1_STRING_type(a) == V_ASN1_NEG_INTEGER;

	return lists_hash(&l->seed, 0x9e3779b97f4a7c15ULL * (neg + 1), ASN1_STRING_get0_data(a),
			  (size_t)ASN1_STRING_length(a));
}

/* ---- loading ---- */

/* 1: verified by a trust-store certificate of the issuer's name; 0: no
 * such certificate; -1: there is one and the signature does not verify. */
static int crl_check_store(struct lists *l, X509_CRL *c)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *sk = NULL;
	int rc = 0;

	if (ctx && X509_STORE_CTX_init(ctx, l->store, NULL, NULL) == 1)
		sk = X509_STORE_CTX_get1_certs(ctx, X509_CRL_get_issuer(c));
	for (int i = 0; i < sk_X509_num(sk); i++) {
		EVP_PKEY *pk = X509_get0_pubkey(sk_X509_value(sk, i));

		rc = -1;
		if (pk && X509_CRL_verify(c, pk) == 1) {
			rc = 1;
			break;
		}
	}
	sk_X509_pop_free(sk, X509_free);
	X509_STORE_CTX_free(ctx);
	ERR_clear_error(); /* "no certificate found" from the lookup is normal */
	return rc;
}

/* Room for one more CRL of nrev entries, within the bounds; -1 with err set. */
static int crl_reserve(struct lists *l, uint32_t nrev, const char *src, char *err, size_t errlen)
{
	uint64_t ents = (uint64_t)l->n_ent + nrev;
	void *p;

	if (l->n_crl >= CRLS_MAX) {
		fmt_err(err, errlen, "%s: more than %u CRLs in all", src, CRLS_MAX);
		return -1;
	}
	if (ents > ENTRIES_MAX) {
		fmt_err(err, errlen, "%s: more than %u CRL entries in all", src, ENTRIES_MAX);
		return -1;
	}
	if (!(p = lists_grow(l->crls, &l->cap_crl, (uint64_t)l->n_crl + 1, sizeof(*l->crls), 16)))
		goto oom;
	l->crls = p;
	if (!(p = lists_grow(l->ents, &l->cap_ent, ents, sizeof(*l->ents), 1024)))
		goto oom;
	l->ents = p;
	if (!hidx_reserve(&l->ent_ht, ents))
		goto oom;
	return 0;
oom:
	fmt_err(err, errlen, "%s: out of memory", src);
	return -1;
}

/* Entries may name other issuers (RFC 5280 5.3.3). */
static bool crl_indirect(X509_CRL *c)
{
	ISSUING_DIST_POINT *idp =
		X509_CRL_get_ext_d2i(c, NID_issuing_distribution_point, NULL, NULL);
	bool indirect = idp && idp->indirectCRL;

	ISSUING_DIST_POINT_free(idp);
	ERR_clear_error();
	return indirect;
}

/* What an operator should know about a CRL that is used anyway. */
static void crl_warn(struct lists *l, X509_CRL *c, const char *src, const char *dn, int vs)
{
	const ASN1_TIME *next = X509_CRL_get0_nextUpdate(c);
	char when[40];

	if (next && X509_cmp_time(next, NULL) < 0) {
		lists_time_text(next, when, sizeof(when));
		lists_warn(l, "%s: CRL of %s is past its nextUpdate (%s)", src, dn, when);
		l->sz.crls_stale++;
	}
	if (vs == 0) {
		lists_warn(l,
			   "%s: CRL issuer %s is not in the trust store: its signature is "
			   "checked only against a chain seen from that issuer",
			   src, dn);
		l->sz.crls_unverified++;
	}
}

/* Takes c. A CRL whose signature fails against a known issuer is dropped
 * with a warning: it is forged, corrupt, or not what it says it is. */
static int crl_add(struct lists *l, X509_CRL *c, const char *src, char *err, size_t errlen)
{
	STACK_OF(X509_REVOKED) *revs = X509_CRL_get_REVOKED(c);
	int vs = crl_check_store(l, c), nrev = sk_X509_REVOKED_num(revs);
	char *dn = lists_dn_text(&l->ar, X509_CRL_get_issuer(c));
	uint32_t ci;

	if (vs < 0) {
		lists_warn(l,
			   "%s: CRL of %s: signature does not verify against the trust store's "
			   "certificate of that name: not used",
			   src, dn);
		X509_CRL_free(c);
		return 0;
	}
	if (nrev < 0)
		nrev = 0;
	if (crl_reserve(l, (uint32_t)nrev, src, err, errlen) < 0) {
		X509_CRL_free(c);
		return -1;
	}
	ci = l->n_crl++;
	l->crls[ci] = (struct crl){
		.crl = c, .src = src, .verified = vs == 1, .indirect = crl_indirect(c)
	};
	for (int i = 0; i < nrev; i++) {
		X509_REVOKED *r = sk_X509_REVOKED_value(revs, i);

		/* cannot fail: reserved above */
		hidx_add(&l->ent_ht, serial_hash(l, X509_REVOKED_get0_serialNumber(r)), l->n_ent);
		l->ents[l->n_ent++] = (struct crl_ent){ r, ci };
	}
	l->sz.crls++;
	l->sz.crl_entries += (uint32_t)nrev;
	crl_warn(l, c, src, dn, vs);
	return 0;
}

/* The same file twice (a hashed symlink next to its target) is loaded once:
 * 1 seen before, 0 new (now remembered), -1 out of memory. */
static int crl_file_seen(struct lists *l, const char *path)
{
	struct stat st;
	void *p;

	if (stat(path, &st) < 0)
		return 0;
	for (uint32_t i = 0; i < l->n_seen; i++)
		if (l->seen[i].dev == st.st_dev && l->seen[i].ino == st.st_ino)
			return 1;
	if (!(p = lists_grow(l->seen, &l->cap_seen, (uint64_t)l->n_seen + 1, sizeof(*l->seen), 16)))
		return -1;
	l->seen = p;
	l->seen[l->n_seen].dev = st.st_dev;
	l->seen[l->n_seen++].ino = st.st_ino;
	return 0;
}

/* After the last PEM CRL read (n of them): 0 at a clean end, -1 with err set. */
static int pem_end(const BIO *b, int n, const char *path, char *err, size_t errlen)
{
	unsigned long e = ERR_peek_last_error();
	bool no_start = b && ERR_GET_LIB(e) == ERR_LIB_PEM &&
			ERR_GET_REASON(e) == PEM_R_NO_START_LINE;

	if (no_start && n > 0) {
		ERR_clear_error(); /* the end */
		return 0;
	}
	if (no_start)
		fmt_err(err, errlen, "%s: no PEM CRL in the file (\"-----BEGIN X509 CRL-----\")",
			path);
	else
		fmt_err(err, errlen, "%s: PEM CRL %d does not parse: %s", path, n + 1,
			lists_ossl_why());
	ERR_clear_error();
	return -1;
}

static int crls_from_pem(struct lists *l, const char *buf, size_t len, const char *path,
			 const char *src, char *err, size_t errlen)
{
	BIO *b = BIO_new_mem_buf(buf, (int)len);
	X509_CRL *c;
	int n = 0, rc = 0;

	while (!rc && (c = b ? PEM_read_bio_X509_CRL(b, NULL, NULL, NULL) : NULL)) {
		n++;
		rc = crl_add(l, c, src, err, errlen);
	}
	if (!rc)
		rc = pem_end(b, n, path, err, errlen);
	BIO_free(b);
	return rc;
}

/* One DER CRL, or several back to back. */
static int crls_from_der(struct lists *l, const char *buf, size_t len, const char *path,
			 const char *src, char *err, size_t errlen)
{
	const unsigned char *p = (const unsigned char *)buf, *end = p + len;
	int n = 0;

	while (p < end) {
		long rest = end - p > LONG_MAX ? LONG_MAX : (long)(end - p);
		X509_CRL *c = d2i_X509_CRL(NULL, &p, rest);

		if (!c) {
			fmt_err(err, errlen, "%s: DER CRL %d does not parse: %s", path, n + 1,
				lists_ossl_why());
			return -1;
		}
		n++;
		if (crl_add(l, c, src, err, errlen) < 0)
			return -1;
	}
	if (!n) {
		fmt_err(err, errlen, "%s: empty file, expected a CRL", path);
		return -1;
	}
	return 0;
}

static int load_crl_file(struct lists *l, const char *path, char *err, size_t errlen)
{
	const char *src = NULL;
	char *buf;
	size_t len;
	int rc;

	if (fileread_all(path, CRL_FILE_MAX, &buf, &len, err, errlen) < 0)
		return -1;
	rc = crl_file_seen(l, path);
	if (!rc && !(src = arena_strndup(&l->ar, path, strlen(path))))
		rc = -1;
	if (rc < 0)
		fmt_err(err, errlen, "%s: out of memory", path);
	if (rc) {
		free(buf);
		return rc < 0 ? -1 : 0;
	}
	ERR_clear_error();
	if (memmem(buf, len, "-----BEGIN", 10))
		rc = crls_from_pem(l, buf, len, path, src, err, errlen);
	else
		rc = crls_from_der(l, buf, len, path, src, err, errlen);
	free(buf);
	return rc;
}

int lists_load_crl_path(struct lists *l, const char *path, char *err, size_t errlen)
{
	struct stat st;
	uint32_t n, used;
	char **v;
	int rc;

	if (stat(path, &st) < 0) {
		fmt_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return load_crl_file(l, path, err, errlen);
	if (!(v = fileread_dir(path, DIR_FILES_MAX, &n, err, errlen)))
		return -1;
	rc = lists_load_dir_files(l, path, v, n, NULL, false, load_crl_file, &used, err, errlen);
	fileread_dir_free(v, n);
	if (!rc && !used)
		lists_warn(l, "%s: directory holds no CRL files", path);
	return rc;
}

/* ---- lookups ---- */

/* 1 verified by issuer's key, -1 not; memoised per CRL for the last issuer. */
static int crl_verify_lazy(struct lists *l, struct crl *cr, const struct cert_facts *issuer)
{
	EVP_PKEY *pk;
	int ok;

	pthread_mutex_lock(&l->mu);
	if (cr->lazy_ok && !memcmp(cr->lazy_sha256, issuer->sha256, 32)) {
		ok = cr->lazy_ok;
		pthread_mutex_unlock(&l->mu);
		return ok;
	}
	pk = X509_get0_pubkey(issuer->x509);
	ok = pk && X509_CRL_verify(cr->crl, pk) == 1 ? 1 : -1;
	ERR_clear_error();
	memcpy(cr->lazy_sha256, issuer->sha256, 32);
	cr->lazy_ok = (int8_t)ok;
	pthread_mutex_unlock(&l->mu);
	return ok;
}

/* X509_CRL_get0_by_cert: 1 listed, 0 not, 2 removeFromCRL. It sorts the
 * entries on first use, under the CRL's own lock. */
static int crl_by_cert(const struct crl *cr, X509 *x)
{
	X509_REVOKED *rv = NULL;
	int rc;

	rc = X509_CRL_get0_by_cert(cr->crl, &rv, x);
	ERR_clear_error();
	return rc;
}

static int entry_reason(const X509_REVOKED *r)
{
	int crit = 0;
	ASN1_ENUMERATED *e = X509_REVOKED_get_ext_d2i(r, NID_crl_reason, &crit, NULL);
	long v;

	if (!e) {
		ERR_clear_error();
		return -1;
	}
	v = ASN1_ENUMERATED_get(e);
	ASN1_ENUMERATED_free(e);
	return v >= 0 && v <= 255 ? (int)v : -1;
}

/* Does entry e revoke f (serial sn, issuer name in)? If so, *reason and
 * *ver (the CRL's signature is checked) say how. */
static bool entry_revokes(const struct lists *l, const struct crl_ent *e,
			  const struct cert_facts *f, const ASN1_INTEGER *sn, const X509_NAME *in,
			  const struct cert_facts *issuer, int *reason, bool *ver)
{
	const struct crl *cr = &l->crls[e->crl];
	const X509_NAME *cn = X509_CRL_get_issuer(cr->crl);
	int ok;

	*ver = cr->verified;
	if (ASN1_INTEGER_cmp(X509_REVOKED_get0_serialNumber(e->r), sn) || X509_NAME_cmp(cn, in))
		return false;
	/* removeFromCRL (delta CRLs): the certificate is no longer on hold */
	if ((*reason = entry_reason(e->r)) == REASON_REMOVE_FROM_CRL)
		return false;
	/* an indirect CRL's entry may belong to another issuer (its
	 * certificateIssuer extension): OpenSSL knows which, ask it */
	if (cr->indirect && crl_by_cert(cr, f->x509) != 1)
		return false;
	if (*ver || !issuer || !issuer->x509 ||
	    X509_NAME_cmp(X509_get_subject_name(issuer->x509), cn))
		return true;
	ok = crl_verify_lazy((struct lists *)l, (struct crl *)cr, issuer);
	/* a CRL the seen issuer did not sign says nothing about its certificates */
	*ver = ok > 0;
	return ok >= 0;
}

static void hit_set(struct crl_hit *hit, const struct crl *cr, const X509_REVOKED *r, int reason,
		    bool ver)
{
	struct tm tm;
	bool named = reason >= 0 && reason < (int)(sizeof(reason_names) / sizeof(*reason_names)) &&
		     reason_names[reason];

	hit->revoked = true;
	hit->crl_verified = ver;
	hit->reason = reason;
	snprintf(hit->reason_str, sizeof(hit->reason_str), "%s",
		 named	     ? reason_names[reason] :
		 reason >= 0 ? "unknown" :
			       "");
	snprintf(hit->source, sizeof(hit->source), "%s", cr->src);
	hit->revocation_time = ASN1_TIME_to_tm(X509_REVOKED_get0_revocationDate(r), &tm) ?
				       (int64_t)timegm(&tm) :
				       0;
}

bool lists_crl_revoked(const struct lists *l, const struct cert_facts *f,
		       const struct cert_facts *issuer, struct crl_hit *hit)
{
	struct crl_hit tmp;
	const ASN1_INTEGER *sn;
	const X509_NAME *in;
	uint32_t c = HIDX_START, i, h;
	bool found = false, ver = false;
	int reason = -1;

	if (!hit)
		hit = &tmp;
	memset(hit, 0, sizeof(*hit));
	hit->reason = -1;
	if (!l || !f || !f->x509 || !l->n_ent)
		return false;
	sn = X509_get0_serialNumber(f->x509);
	in = X509_get_issuer_name(f->x509);
	h = serial_hash(l, sn);
	while ((i = hidx_next(&l->ent_ht, h, &c)) != UINT32_MAX) {
		const struct crl_ent *e = &l->ents[i];

		if (!entry_revokes(l, e, f, sn, in, issuer, &reason, &ver))
			continue;
		/* a verified CRL's word is kept over an unverified one's */
		if (found && (hit->crl_verified || !ver))
			continue;
		found = true;
		hit_set(hit, &l->crls[e->crl], e->r, reason, ver);
		if (ver)
			break;
	}
	return found;
}
