/* fstore.h - fetched objects kept in the state directory: a body file and a meta file per object. */
#ifndef CS_FSTORE_H
#define CS_FSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/x509.h>
#include "fetch.h"

/*
 * One directory per kind (STATE/crl, STATE/ocsp, STATE/aia). Object KEY
 * (a SHA-256 the owner derives) is KEYHEX.der, the bytes as fetched (so
 * `openssl crl -inform DER -in ...` reads a CRL), and KEYHEX.meta, text:
 * where it came from, when, its validators, the body's SHA-256 and, for a
 * CRL, the issuer certificate it was verified against (PEM). Each file is
 * written to a temporary name and renamed; the body's digest in the meta
 * tells a matching pair from a torn one, which is removed when found.
 * Bounds are the owner's: it removes what it evicts. No state is shared
 * between calls, so the owner's threads may use one store for
 * different keys at once.
 */

#define FSTORE_KEY_LEN	32
#define FSTORE_KIND_MAX 16

struct fstore_meta {
	char kind[FSTORE_KIND_MAX]; /* "crl", "delta", "ocsp", "aia" */
	char url[FETCH_URL_MAX + 1];
	int64_t fetched;	   /* Unix s of the last fetch that confirmed it */
	char etag[FETCH_ETAG_MAX]; /* validators for the next conditional GET */
	int64_t last_modified;
};

struct fstore;

/* Creates dir (mode 0700, parents too) and removes leftover temporary
 * files. NULL with "DIR: why" in err. */
struct fstore *fstore_open(const char *dir, char *err, size_t errlen);
void fstore_close(struct fstore *s);
const char *fstore_dir(const struct fstore *s);

/* cert may be NULL. 0, or -1 with "PATH: why" in err. */
int fstore_put(struct fstore *s, const uint8_t key[FSTORE_KEY_LEN], const struct fstore_meta *m,
	       X509 *cert, const uint8_t *body, size_t len, char *err, size_t errlen);
/* Rewrites the meta only (a 304 confirmed the body): fetched and validators. */
int fstore_touch(struct fstore *s, const uint8_t key[FSTORE_KEY_LEN], const struct fstore_meta *m,
		 char *err, size_t errlen);
void fstore_remove(struct fstore *s, const uint8_t key[FSTORE_KEY_LEN]);

/* Called once per intact object; body and cert are the callee's to keep
 * (free() and X509_free()) or to drop. */
typedef void (*fstore_each_fn)(void *ctx, const uint8_t key[FSTORE_KEY_LEN],
			       const struct fstore_meta *m, X509 *cert, uint8_t *body, size_t len);
/* Hands over every intact object whose body is at most max_body bytes and
 * removes the rest (torn, unreadable, larger, a body without meta).
 * Returns the objects handed over; *removed (may be NULL) counts the rest. */
uint32_t fstore_each(struct fstore *s, size_t max_body, fstore_each_fn fn, void *ctx,
		     uint32_t *removed);

#endif
