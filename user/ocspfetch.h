/* ocspfetch.h - OCSP where the CA still runs it: the leaf's responder asked, its answer verified and cached. */
#ifndef CS_OCSPFETCH_H
#define CS_OCSPFETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cert.h"
#include "fetch.h"

/*
 * For a leaf with an http(s) OCSP URL in its Authority Information Access
 * (and, the caller's business, no stapled response): ocspfetch_check()
 * answers from the cache at once and, if there is no fresh answer, POSTs an
 * OCSP request (SHA-1 CertID, as responders expect; a nonce if asked) and
 * says "none: pending". The response is taken only if ocsp_parse() (ocsp.c,
 * the same code as for staples) finds it successful, with a single response
 * for this CertID, signed by the issuer or by a responder certificate the
 * issuer signed for OCSP signing, and fresh: thisUpdate not after now +
 * skew, nextUpdate (if any) not before now - skew, and the nonce echoed if
 * one was sent and the responder returns one. It is used until its
 * nextUpdate (without one, refresh_max after it came) plus skew, asked for
 * again halfway to nextUpdate or after refresh_max, whichever is first,
 * kept in memory and in STATE_DIR/ocsp, and verified again when first used
 * after a restart. Callbacks run in the
 * caller's thread, from fetch_tick() or ocspfetch_tick().
 */

enum ocspfetch_status {
	OCSPF_NONE, /* no answer to go by: none says why */
	OCSPF_GOOD,
	OCSPF_REVOKED,
	OCSPF_UNKNOWN, /* the responder does not know the certificate */
};

enum ocspfetch_none {
	OCSPF_N_NO_ISSUER, /* no issuer, or it did not issue the leaf */
	OCSPF_N_NO_URL,	   /* no http(s) OCSP URL in the leaf */
	OCSPF_N_PENDING,   /* the first query is queued or in flight */
	OCSPF_N_EXPIRED,   /* the answer held is past its nextUpdate; asking again */
	OCSPF_N_FAILED,	   /* no answer: the last query failed */
	OCSPF_N_REJECTED,  /* no answer: the last response was rejected */
	OCSPF_N_FULL,	   /* at the bound on answers held */
	OCSPF_N_MAX
};
const char *ocspfetch_none_name(enum ocspfetch_none n);

enum ocspfetch_fail {
	OCSPF_F_FETCH,	   /* the HTTP exchange failed (fetch_result says how) */
	OCSPF_F_PARSE,	   /* not an OCSPResponse */
	OCSPF_F_STATUS,	   /* the responder said tryLater, unauthorized, ... */
	OCSPF_F_NO_MATCH,  /* no single response for this certificate */
	OCSPF_F_SIGNATURE, /* not signed by the issuer or its OCSP responder */
	OCSPF_F_STALE,	   /* thisUpdate in the future or nextUpdate past */
	OCSPF_F_NONCE,	   /* a nonce came back, not ours */
	OCSPF_F_MAX
};
const char *ocspfetch_fail_name(enum ocspfetch_fail f);

struct ocspfetch_answer {
	enum ocspfetch_status status;
	enum ocspfetch_none none;		       /* status OCSPF_NONE */
	char why[256];				       /* NONE: for a person */
	char url[512];				       /* the responder asked ("" if none) */
	int64_t produced_at, this_update, next_update; /* Unix s; next_update 0 if absent */
	int64_t fetched;
	char responder[256]; /* responder id: DN or key hash */
	/* REVOKED: */
	int64_t revocation_time;
	int reason; /* CRLReason, -1 if none */
	char reason_str[32];
};

enum ocspfetch_event_kind {
	OCSPF_EV_UPDATED, /* a verified response is in force: the verdict may change */
	OCSPF_EV_FAILED,  /* a query failed or its response was rejected */
};

struct ocspfetch_event {
	enum ocspfetch_event_kind kind;
	const char *url;
	const uint8_t *leaf_sha256; /* [32], cert_facts.sha256 of the leaf */
	/* UPDATED */
	enum ocspfetch_status status;
	bool changed; /* differs from the answer held before (or there was none) */
	int64_t this_update, next_update;
	/* FAILED */
	enum ocspfetch_fail fail;
	enum fetch_result fetch; /* fail == OCSPF_F_FETCH */
	const char *why;
	int64_t next_attempt; /* Unix s */
};
typedef void (*ocspfetch_event_fn)(void *ctx, const struct ocspfetch_event *e);

/* A field left 0 takes its default. */
struct ocspfetch_opts {
	const char *state_dir;	  /* answers kept in STATE_DIR/ocsp; NULL: memory only */
	uint32_t max_answers;	  /* leaves followed (default 4096) */
	uint32_t max_bytes;	  /* per response (default 64 KiB) */
	uint32_t refresh_min_s;	  /* never sooner after a query (default 60) */
	uint32_t refresh_max_s;	  /* never later (default 3600), and halfway to nextUpdate */
	uint32_t skew_s;	  /* clock skew allowed on thisUpdate/nextUpdate (default 300) */
	bool nonce;		  /* send a nonce (many CA responders ignore it) */
	ocspfetch_event_fn event; /* may be NULL */
	void *ctx;
};

struct ocspfetch;

struct ocspfetch *ocspfetch_new(struct fetch *f, const struct ocspfetch_opts *o, char *err,
				size_t errlen);
void ocspfetch_free(struct ocspfetch *of);

/* Never waits. leaf and issuer are parsed (x509 set); issuer may be NULL. */
enum ocspfetch_status ocspfetch_check(struct ocspfetch *of, const struct cert_facts *leaf,
				      const struct cert_facts *issuer, struct ocspfetch_answer *a);
/* Starts the queries that are due. Call every tick, after fetch_tick(). */
void ocspfetch_tick(struct ocspfetch *of);

struct ocspfetch_stats {
	uint32_t followed; /* leaves with an entry */
	uint32_t held;	   /* with a verified answer */
	uint64_t loaded;   /* answers found in the state directory at start */
	uint64_t queries;  /* submitted */
	uint64_t updated;
	uint64_t failed[OCSPF_F_MAX];
	uint64_t fetch_failed[FETCH_RESULT_MAX];
	uint64_t evicted, store_errors;
	uint64_t checks;
	uint64_t answers[4]; /* by enum ocspfetch_status */
};
void ocspfetch_stats(const struct ocspfetch *of, struct ocspfetch_stats *st);

#endif
