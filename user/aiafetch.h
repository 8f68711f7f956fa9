/* aiafetch.h - the issuer a certificate names by its AIA caIssuers URL: fetched, checked, cached. */
#ifndef CS_AIAFETCH_H
#define CS_AIAFETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/x509.h>
#include "cert.h"
#include "fetch.h"

/*
 * What browsers do for a server that leaves out an intermediate: follow the
 * last certificate's Authority Information Access caIssuers URL (http or
 * https; DER certificate, PKCS#7 certs-only bundle, or PEM of either). The
 * object at a URL is fetched once, kept (memory and STATE_DIR/aia) for
 * refresh_s, and shared by every certificate naming it. An issuer is
 * returned only if its name and key issued the certificate (the signature
 * is checked); whether it leads to the trust store is the caller's
 * question. Callbacks run in the caller's thread, from fetch_tick().
 */

enum aiafetch_state {
	AIAF_NONE,    /* no http(s) caIssuers URL in the certificate */
	AIAF_FOUND,   /* issuer set */
	AIAF_PENDING, /* the fetch is queued or in flight */
	AIAF_FAILED,  /* fail and why say what went wrong */
};
const char *aiafetch_state_name(enum aiafetch_state s);

enum aiafetch_fail {
	AIAF_F_FETCH,	   /* the fetch failed (fetch_result says how) */
	AIAF_F_PARSE,	   /* no certificate in what came */
	AIAF_F_NOT_ISSUER, /* none of the certificates that came issued it */
	AIAF_F_MAX
};
const char *aiafetch_fail_name(enum aiafetch_fail f);

struct aiafetch_answer {
	enum aiafetch_state state;
	X509 *issuer; /* FOUND: a reference of the caller's, X509_free() it */
	char url[512];
	uint32_t certs;		 /* certificates in the object fetched */
	enum aiafetch_fail fail; /* FAILED */
	enum fetch_result fetch; /* fail == AIAF_F_FETCH */
	char why[256];
};

enum aiafetch_event_kind {
	AIAF_EV_FETCHED, /* certificates came: answers for who asked may change */
	AIAF_EV_FAILED,
};

struct aiafetch_event {
	enum aiafetch_event_kind kind;
	const char *url;
	/* Issuer DN (RFC 2253) of the certificate that first asked for this URL:
	 * handshakes whose last certificate names it are worth checking again. */
	const char *for_issuer_dn;
	uint32_t certs;
	enum aiafetch_fail fail;
	enum fetch_result fetch;
	const char *why;
};
typedef void (*aiafetch_event_fn)(void *ctx, const struct aiafetch_event *e);

/* A field left 0 takes its default. */
struct aiafetch_opts {
	const char *state_dir;	 /* objects kept in STATE_DIR/aia; NULL: memory only */
	uint32_t max_objects;	 /* URLs followed (default 256) */
	uint32_t max_bytes;	 /* per object (default 256 KiB) */
	uint32_t refresh_s;	 /* an object is fetched again after (default 86400) */
	aiafetch_event_fn event; /* may be NULL */
	void *ctx;
};

struct aiafetch;

struct aiafetch *aiafetch_new(struct fetch *f, const struct aiafetch_opts *o, char *err,
			      size_t errlen);
void aiafetch_free(struct aiafetch *a);

/* Never waits. cert is parsed (x509 set). */
enum aiafetch_state aiafetch_issuer(struct aiafetch *a, const struct cert_facts *cert,
				    struct aiafetch_answer *ans);

struct aiafetch_stats {
	uint32_t followed, held; /* URLs with an entry; with certificates */
	uint64_t loaded, fetches, fetched;
	uint64_t failed[AIAF_F_MAX];
	uint64_t fetch_failed[FETCH_RESULT_MAX];
	uint64_t evicted, store_errors;
	uint64_t lookups, found;
};
void aiafetch_stats(const struct aiafetch *a, struct aiafetch_stats *st);

#endif
