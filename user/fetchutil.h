/* fetchutil.h - what the CRL, OCSP and AIA fetchers share: URLs from extensions, keys, refresh times. */
#ifndef CS_FETCHUTIL_H
#define CS_FETCHUTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <openssl/x509v3.h>
#include "fetch.h"
#include "fstore.h"

#define FU_URLS_MAX 4 /* URLs taken from one extension */

struct fu_urls {
	uint32_t n;
	bool skipped; /* some names were not usable (LDAP, indirect, ...) */
	char u[FU_URLS_MAX][FETCH_URL_MAX + 1];
};

/* http:// and https:// URIs of CRL distribution points (NID_crl_distribution_points
 * or NID_freshest_crl) without reasons or cRLIssuer. dps may be NULL. */
void fu_dp_urls(const STACK_OF(DIST_POINT) * dps, struct fu_urls *out);
/* The same from a certificate's extension nid. */
void fu_cert_dp_urls(X509 *x, int nid, struct fu_urls *out);
/* http(s) URLs of the Authority Information Access method (NID_ad_OCSP,
 * NID_ad_ca_issuers). */
void fu_aia_urls(X509 *x, int method, struct fu_urls *out);
/* True if one of g's URIs is url. */
bool fu_names_have_uri(const GENERAL_NAMES *g, const char *url);

/* SHA-256 over the NUL-terminated strings (each with its NUL), NULL ends. */
void fu_key(uint8_t out[32], const char *s, ...) __attribute__((sentinel));

/* When to fetch again after a fetch at now of something valid until
 * next_update (0: unknown): halfway there but at most max_s, less up to a
 * tenth at random (so that many sensors do not ask at once), and never
 * sooner than min_s. */
int64_t fu_refresh_at(int64_t now, int64_t next_update, uint32_t min_s, uint32_t max_s);

/* When to try url again after a fetch at now failed with fr: when fetch.c's
 * backoff for it ends; for what only a restart with other options mends (a
 * URL not allowed or not usable), at max_s. */
int64_t fu_retry_at(struct fetch *f, const char *url, enum fetch_result fr, int64_t now,
		    uint32_t max_s);

/*
 * A fetcher's objects kept in STATE_DIR/sub: the directory opened (created)
 * and each intact object of at most max_body bytes handed to fn, *store set
 * before (fn may remove through it). No state_dir: memory only, *store NULL.
 * 0, or -1 with the reason in err.
 */
int fu_store_open(const char *state_dir, const char *sub, size_t max_body, fstore_each_fn fn,
		  void *ctx, struct fstore **store, char *err, size_t errlen);

/*
 * An answer remembered per (certificate, issuer). Every handshake of a busy
 * endpoint asks a fetcher the same question, and computing the answer costs
 * extension decoding and key hashing (tens of thousands of instructions);
 * a fetcher keeps the answer in a direct-mapped table of FU_MEMO_SLOTS and
 * gives it again while its generation (bumped whenever anything an answer
 * reads changes) is the same and now lies in (after, until].
 */
#define FU_MEMO_SLOTS 256

struct fu_memo {
	uint8_t cert[32], issuer[32]; /* SHA-256 of each DER; issuer zero if none */
	uint64_t gen;		      /* the fetcher's generation when made; 0: empty */
	int64_t after, until;	      /* the answer holds while after < now <= until */
};

/* The slot of (cert, issuer) (issuer may be NULL) in a table of FU_MEMO_SLOTS. */
uint32_t fu_memo_slot(const uint8_t cert[32], const uint8_t *issuer);
/* True if m is the answer for (cert, issuer) at gen and now. */
bool fu_memo_holds(const struct fu_memo *m, const uint8_t cert[32], const uint8_t *issuer,
		   uint64_t gen, int64_t now);
/* m now names (cert, issuer) at gen, holding in (after, until]. */
void fu_memo_set(struct fu_memo *m, const uint8_t cert[32], const uint8_t *issuer, uint64_t gen,
		 int64_t after, int64_t until);

/* "2024-05-01T12:00:00Z" into buf (>= 21 bytes), "-" for 0. */
const char *fu_time_text(int64_t t, char *buf, size_t cap);

#endif
