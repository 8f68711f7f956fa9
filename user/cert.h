/* cert.h - X.509 facts from DER with OpenSSL, cached by the DER itself. */
#ifndef CS_CERT_H
#define CS_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/x509.h>

#define CERT_SANS_MAX	   1024 /* alternative names kept per certificate */
#define CERT_CACHE_DEFAULT 4096 /* distinct certificates cached */

/*
 * Strings are as OpenSSL prints them (DNs in RFC 2253 form, the same as
 * `openssl x509 -subject -nameopt RFC2253`) and may hold any bytes: the JSON
 * writer makes them valid UTF-8. A certificate that does not parse still has
 * sha256/der_len and parse_error set.
 */
struct cert_facts {
	uint8_t sha256[32];
	char sha256_hex[65]; /* uppercase */
	uint32_t der_len;
	const uint8_t *der; /* der_len bytes, held by the cache while referenced */
	bool parse_ok;
	char parse_error[96];
	char spki_sha256_b64[45];      /* base64 SHA-256 of SubjectPublicKeyInfo */
	char *serial_hex;	       /* uppercase, no separators, leading '-' if negative */
	char *subject_dn, *subject_cn; /* cn may be NULL */
	char *issuer_dn, *issuer_cn;
	char **sans; /* DNS, IP, email, URI as text */
	uint32_t n_sans;
	uint32_t total_sans;	       /* before the CERT_SANS_MAX cut */
	int64_t not_before, not_after; /* Unix seconds */
	char key_alg[32];	       /* "RSA", "EC", "Ed25519", "DSA", "ML-DSA-65", ... */
	int key_bits;
	char key_curve[32]; /* EC curve name, else "" */
	char sig_alg[64];   /* "sha256WithRSAEncryption", ... */
	bool self_signed;   /* subject == issuer and self-verifies */
	X509 *x509;	    /* for chain checks; NULL if !parse_ok */
	uint32_t refs;	    /* owned by the cache */
};

struct cert_cache;

struct cert_cache *cert_cache_new(uint32_t max_entries);
void cert_cache_free(struct cert_cache *c);
/*
 * Facts for one DER certificate: parsed once, then served from the cache.
 * Returns a reference (NULL only on allocation failure, or for len over
 * 16 MiB, more than any handshake message holds); release it with
 * cert_put(). Least recently used unreferenced entries are evicted past
 * max_entries or 8 MiB of certificate bytes.
 */
struct cert_facts *cert_get(struct cert_cache *c, const uint8_t *der, size_t len);
void cert_put(struct cert_cache *c, struct cert_facts *f);

/* An ASN.1 time as Unix seconds; 0 for NULL or a time that does not convert. */
int64_t cert_time_unix(const ASN1_TIME *t);

/* SHA-256 of p[0..n) with the digest fetched once; false on failure. */
bool cert_sha256(const void *p, size_t n, uint8_t out[32]);

struct cert_cache_stats {
	uint64_t hits, misses, evictions, entries;
};
void cert_cache_stats(const struct cert_cache *c, struct cert_cache_stats *st);

#endif
