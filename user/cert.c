/* cert.c - X.509 facts from DER with OpenSSL 3, cached by the DER itself (LRU, refcounted). */
#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "cert.h"
#include "fmt.h"
#include "htab.h"

/* A TLS handshake message holds at most 2^24-1 bytes; anything longer did
 * not come from one, and d2i_X509 takes a long. */
#define CERT_DER_MAX (1u << 24)

/* DER bytes kept by the cache (each entry keeps its certificate's bytes to
 * recognise it again); past this the least recently used go first. */
#define CERT_CACHE_BYTES (8u << 20)

/*
 * Not thread-safe: the one consumer thread owns the cache.
 * Cache entry. Referenced entries are only in the hash table; unreferenced
 * ones are also on the LRU list, so eviction takes the list tail in O(1)
 * and never has to skip entries someone still holds.
 */
struct centry {
	struct cert_facts f; /* first member: cert_put() casts back */
	struct hnode h;	     /* keyed hash of der */
	struct lru_node lru; /* unreferenced only, most recently released first */
	uint8_t der[];	     /* f.der_len bytes: what a hit is compared with */
};

/*
 * Found again by a keyed hash of the DER and a byte compare, not by SHA-256:
 * through OpenSSL's EVP layer a digest of a certificate costs about a
 * microsecond, several times the hash and compare, and it was a sixth of the
 * live path. The SHA-256 is computed once, for a new certificate.
 */
struct cert_cache {
	struct htab t;
	struct lru lru;
	uint32_t max;
	size_t der_bytes; /* sum of the entries' f.der_len */
	struct cert_cache_stats st;
};

/* ---- small helpers ---- */

static EVP_MD *sha256_impl;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
	sha256_impl = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* Fetched once: EVP_sha256() looks the provider up on every digest, a
 * third of the cost of hashing a certificate. */
static const EVP_MD *sha256_md(void)
{
	pthread_once(&sha256_once, sha256_fetch);
	return sha256_impl ? sha256_impl : EVP_sha256();
}

bool cert_sha256(const void *p, size_t n, uint8_t out[32])
{
	return EVP_Digest(n ? p : "", n, out, NULL, sha256_md(), NULL) == 1;
}

/* Copy of n bytes as a C string. NUL bytes become U+FFFD so that
 * "bank.example\0.evil.example" cannot hide its tail from the log. */
static char *dup_bytes(const unsigned char *s, size_t n)
{
	size_t nul = 0, j = 0;
	char *out;

	for (size_t i = 0; i < n; i++)
		nul += s[i] == '\0';
	if (n > SIZE_MAX / 2 - 1 || !(out = malloc(n + 2 * nul + 1)))
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i]) {
			out[j++] = (char)s[i];
		} else {
			memcpy(out + j, "\xEF\xBF\xBD", 3);
			j += 3;
		}
	}
	out[j] = '\0';
	return out;
}

/* ---- facts ---- */

/* The last CN (the most specific one, as browsers used to take it), UTF-8. */
static char *name_cn(const X509_NAME *n)
{
	int i = -1, last = -1, len;
	const ASN1_STRING *d;
	unsigned char *u = NULL;
	char *s;

	while ((i = X509_NAME_get_index_by_NID(n, NID_commonName, i)) >= 0)
		last = i;
	if (last < 0)
		return NULL;
	d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, last));
	if (!d)
		return NULL;
	len = ASN1_STRING_to_UTF8(&u, d);
	if (len < 0) /* undecodable in its type: keep the raw bytes, JSON repairs them */
		return dup_bytes(ASN1_STRING_get0_data(d), (size_t)ASN1_STRING_length(d));
	s = dup_bytes(u, (size_t)len);
	OPENSSL_free(u);
	return s;
}

static char *serial_text(const ASN1_INTEGER *a)
{
	int n = a ? ASN1_STRING_length(a) : 0;
	size_t cap = FMT_SERIAL_CAP(n > 0 ? n : 1);
	char *s = malloc(cap);

	if (s)
		fmt_serial(s, cap, a);
	return s;
}

static char *gen_text(const GENERAL_NAME *g)
{
	const ASN1_STRING *s;
	char ip[INET6_ADDRSTRLEN], t[48];

	switch (g->type) {
	case GEN_DNS:
		s = g->d.dNSName;
		break;
	case GEN_EMAIL:
		s = g->d.rfc822Name;
		break;
	case GEN_URI:
		s = g->d.uniformResourceIdentifier;
		break;
	case GEN_IPADD:
		s = g->d.iPAddress;
		if (ASN1_STRING_length(s) == 4)
			inet_ntop(AF_INET, ASN1_STRING_get0_data(s), ip, sizeof(ip));
		else if (ASN1_STRING_length(s) == 16)
			inet_ntop(AF_INET6, ASN1_STRING_get0_data(s), ip, sizeof(ip));
		else {
			snprintf(t, sizeof(t), "<invalid IP length %d>", ASN1_STRING_length(s));
			return strdup(t);
		}
		return strdup(ip);
	default:
		return NULL;
	}
	return dup_bytes(ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s));
}

static bool gen_kept(const GENERAL_NAME *g)
{
	return g->type == GEN_DNS || g->type == GEN_EMAIL || g->type == GEN_URI ||
	       g->type == GEN_IPADD;
}

/* Every subjectAltName extension (duplicates are invalid but seen), first
 * CERT_SANS_MAX names kept, all counted. */
static void sans_collect(struct cert_facts *f, X509 *x)
{
	uint32_t cap = 0;
	int pos = -1;

	while ((pos = X509_get_ext_by_NID(x, NID_subject_alt_name, pos)) >= 0) {
		GENERAL_NAMES *gens = X509V3_EXT_d2i(X509_get_ext(x, pos));
		int n = gens ? sk_GENERAL_NAME_num(gens) : 0;

		for (int i = 0; i < n; i++) {
			const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
			char *t;

			if (!gen_kept(g))
				continue;
			f->total_sans++;
			if (f->n_sans >= CERT_SANS_MAX)
				continue;
			if (f->n_sans == cap) {
				uint32_t nc = cap ? cap * 2 : 8;
				char **ns;

				if (nc > CERT_SANS_MAX)
					nc = CERT_SANS_MAX;
				if (!(ns = realloc(f->sans, nc * sizeof(*ns))))
					continue;
				f->sans = ns, cap = nc;
			}
			if ((t = gen_text(g)))
				f->sans[f->n_sans++] = t;
		}
		GENERAL_NAMES_free(gens);
	}
}

int64_t cert_time_unix(const ASN1_TIME *t)
{
	struct tm tm;

	/* NULL would mean "now" to ASN1_TIME_to_tm */
	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return 0;
	return (int64_t)timegm(&tm);
}

/* Algorithms OpenSSL 3.0 has no names for (FIPS 204/205/203, NIST OIDs). */
static const char *pq_name(const ASN1_OBJECT *o)
{
	static const char *const sig[] = {
		"ML-DSA-44",	      "ML-DSA-65",	    "ML-DSA-87",
		"SLH-DSA-SHA2-128s",  "SLH-DSA-SHA2-128f",  "SLH-DSA-SHA2-192s",
		"SLH-DSA-SHA2-192f",  "SLH-DSA-SHA2-256s",  "SLH-DSA-SHA2-256f",
		"SLH-DSA-SHAKE-128s", "SLH-DSA-SHAKE-128f", "SLH-DSA-SHAKE-192s",
		"SLH-DSA-SHAKE-192f", "SLH-DSA-SHAKE-256s", "SLH-DSA-SHAKE-256f",
	};
	static const char *const kem[] = { "ML-KEM-512", "ML-KEM-768", "ML-KEM-1024" };
	char t[64], *end;
	unsigned long v;

	if (OBJ_obj2txt(t, sizeof(t), o, 1) <= 0)
		return NULL;
	if (!strncmp(t, "2.16.840.1.101.3.4.3.", 21)) {
		v = strtoul(t + 21, &end, 10);
		if (!*end && v >= 17 && v < 17 + sizeof(sig) / sizeof(sig[0]))
			return sig[v - 17];
	} else if (!strncmp(t, "2.16.840.1.101.3.4.4.", 21)) {
		v = strtoul(t + 21, &end, 10);
		if (!*end && v >= 1 && v < 1 + sizeof(kem) / sizeof(kem[0]))
			return kem[v - 1];
	}
	return NULL;
}

static void obj_name(char *out, size_t cap, const ASN1_OBJECT *o, bool long_name)
{
	const char *pq = o ? pq_name(o) : NULL;
	int nid = o ? OBJ_obj2nid(o) : NID_undef;

	out[0] = '\0';
	if (pq)
		snprintf(out, cap, "%s", pq);
	else if (nid != NID_undef && !long_name)
		snprintf(out, cap, "%s", OBJ_nid2sn(nid));
	else if (o)
		OBJ_obj2txt(out, (int)cap, o, 0); /* long name, or dotted OID */
}

static void key_facts(struct cert_facts *f, X509 *x)
{
	EVP_PKEY *pk = X509_get0_pubkey(x); /* NULL for types 3.0 cannot load */
	ASN1_OBJECT *alg = NULL;
	const char *n;

	if (!pk) {
		X509_PUBKEY_get0_param(&alg, NULL, NULL, NULL, X509_get_X509_PUBKEY(x));
		obj_name(f->key_alg, sizeof(f->key_alg), alg, false);
		return;
	}
	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_RSA:
		n = "RSA";
		break;
	case EVP_PKEY_RSA_PSS:
		n = "RSA-PSS";
		break;
	case EVP_PKEY_EC:
		n = "EC";
		break;
	case EVP_PKEY_DSA:
		n = "DSA";
		break;
	case EVP_PKEY_ED25519:
		n = "Ed25519";
		break;
	case EVP_PKEY_ED448:
		n = "Ed448";
		break;
	case NID_undef:
		n = EVP_PKEY_get0_type_name(pk);
		break; /* provider-only */
	default:
		n = OBJ_nid2sn(EVP_PKEY_get_base_id(pk));
		break;
	}
	snprintf(f->key_alg, sizeof(f->key_alg), "%s", n ? n : "unknown");
	f->key_bits = EVP_PKEY_get_bits(pk) > 0 ? EVP_PKEY_get_bits(pk) : 0;
	if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_EC &&
	    !EVP_PKEY_get_group_name(pk, f->key_curve, sizeof(f->key_curve), NULL))
		f->key_curve[0] = '\0'; /* explicit parameters: no name */
}

static void spki_hash(struct cert_facts *f, X509 *x)
{
	unsigned char *der = NULL, md[32];
	int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);

	if (n > 0 && EVP_Digest(der, (size_t)n, md, NULL, sha256_md(), NULL))
		EVP_EncodeBlock((unsigned char *)f->spki_sha256_b64, md, 32);
	OPENSSL_free(der);
}

static void parse_fail(struct cert_facts *f, const char *what)
{
	const char *r = fmt_ossl_reason();

	f->parse_ok = false;
	if (r)
		snprintf(f->parse_error, sizeof(f->parse_error), "%s: %s", what, r);
	else
		snprintf(f->parse_error, sizeof(f->parse_error), "%s", what);
}

static void facts_parse(struct cert_facts *f, const uint8_t *der, size_t len)
{
	const unsigned char *p = der; /* d2i advances its own copy */
	const X509_ALGOR *sig = NULL;
	const ASN1_OBJECT *sobj = NULL;
	X509 *x;

	if (len == 0 || len > CERT_DER_MAX) {
		parse_fail(f, len ? "certificate too large" : "empty certificate");
		return;
	}
	if (!(x = d2i_X509(NULL, &p, (long)len))) {
		parse_fail(f, "not a DER X.509 certificate");
		return;
	}
	if (p != der + len) { /* TLS gives the length: extra bytes are not ours to ignore */
		snprintf(f->parse_error, sizeof(f->parse_error),
			 "%zu bytes of trailing data after the certificate",
			 len - (size_t)(p - der));
		X509_free(x);
		return;
	}
	f->parse_ok = true;
	f->x509 = x;
	spki_hash(f, x);
	f->serial_hex = serial_text(X509_get0_serialNumber(x));
	f->subject_dn = fmt_dn(X509_get_subject_name(x));
	f->subject_cn = name_cn(X509_get_subject_name(x));
	f->issuer_dn = fmt_dn(X509_get_issuer_name(x));
	f->issuer_cn = name_cn(X509_get_issuer_name(x));
	sans_collect(f, x);
	f->not_before = cert_time_unix(X509_get0_notBefore(x));
	f->not_after = cert_time_unix(X509_get0_notAfter(x));
	key_facts(f, x);
	X509_get0_signature(NULL, &sig, x);
	if (sig)
		X509_ALGOR_get0(&sobj, NULL, NULL, sig);
	obj_name(f->sig_alg, sizeof(f->sig_alg), sobj, true); /* as `x509 -text` */
	/* Names (and AKID) match and the signature verifies with its own key;
	 * bad PSS parameters or an unloadable key just fail the check. */
	f->self_signed = X509_self_signed(x, 1) == 1;
}

static void facts_fill(struct cert_facts *f, const uint8_t sha[32], const uint8_t *der, size_t len)
{
	memcpy(f->sha256, sha, 32);
	fmt_hex(f->sha256_hex, sizeof(f->sha256_hex), f->sha256, 32, true);
	f->der_len = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
	if (der)
		facts_parse(f, der, len);
	else
		parse_fail(f, "no certificate bytes");
	ERR_clear_error(); /* failures above are reported in parse_error, not left queued */
}

static void facts_free(struct cert_facts *f)
{
	for (uint32_t i = 0; i < f->n_sans; i++)
		free(f->sans[i]);
	free(f->sans);
	free(f->serial_hex);
	free(f->subject_dn);
	free(f->subject_cn);
	free(f->issuer_dn);
	free(f->issuer_cn);
	X509_free(f->x509);
}

/* ---- cache ---- */

static struct centry *lru_centry(struct lru_node *n)
{
	return lru_entry(n, struct centry, lru);
}

static void entry_free(struct centry *e)
{
	facts_free(&e->f);
	free(e);
}

static void evict(struct cert_cache *c)
{
	while ((c->st.entries > c->max || c->der_bytes > CERT_CACHE_BYTES) && c->lru.tail) {
		struct centry *e = lru_centry(c->lru.tail);

		lru_unlink(&c->lru, &e->lru);
		htab_del(&c->t, &e->h);
		c->der_bytes -= e->f.der_len;
		entry_free(e);
		c->st.entries--;
		c->st.evictions++;
	}
}

struct cert_cache *cert_cache_new(uint32_t max_entries)
{
	struct cert_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->max = max_entries ? max_entries : CERT_CACHE_DEFAULT;
	if (!htab_init(&c->t, c->max)) {
		free(c);
		return NULL;
	}
	return c;
}

void cert_cache_free(struct cert_cache *c)
{
	struct hnode *n, *nx;

	if (!c)
		return;
	htab_for_each(&c->t, n, nx) entry_free(htab_entry(n, struct centry, h));
	htab_fini(&c->t);
	free(c);
}

static struct centry *cache_find(const struct cert_cache *c, uint64_t h, const uint8_t *der,
				 size_t len)
{
	struct hnode *n;

	htab_for_hash(&c->t, h, n)
	{
		struct centry *e = htab_entry(n, struct centry, h);

		if (e->f.der_len == len && !memcmp(e->der, der, len))
			return e;
	}
	return NULL;
}

struct cert_facts *cert_get(struct cert_cache *c, const uint8_t *der, size_t len)
{
	uint8_t sha[32];
	struct centry *e;
	uint64_t h;

	if (!der)
		len = 0;
	/* Longer than any handshake message: not a certificate we could have
	 * been given, and der_len would not hold it. */
	if (!c || len > CERT_DER_MAX)
		return NULL;
	h = htab_hash(&c->t, der, len);
	if ((e = cache_find(c, h, der, len))) {
		if (e->f.refs++ == 0)
			lru_unlink(&c->lru, &e->lru);
		c->st.hits++;
		return &e->f;
	}
	if (!cert_sha256(der, len, sha) || !(e = calloc(1, sizeof(*e) + len)))
		return NULL;
	if (len)
		memcpy(e->der, der, len);
	c->der_bytes += len;
	facts_fill(&e->f, sha, der, len);
	e->f.der = e->der;
	e->f.refs = 1;
	htab_add(&c->t, &e->h, h);
	c->st.entries++;
	c->st.misses++;
	evict(c);
	return &e->f;
}

void cert_put(struct cert_cache *c, struct cert_facts *f)
{
	struct centry *e = (struct centry *)f;

	if (!c || !f || f->refs == 0)
		return;
	if (--f->refs == 0) {
		lru_push(&c->lru, &e->lru);
		evict(c);
	}
}

void cert_cache_stats(const struct cert_cache *c, struct cert_cache_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (c)
		*st = c->st;
}
