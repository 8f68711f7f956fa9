/* crlfetch.h - CRLs named by the certificates themselves: fetched, verified, kept and refreshed. */
#ifndef CS_CRLFETCH_H
#define CS_CRLFETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cert.h"
#include "fetch.h"

/*
 * crlfetch_check(cert, issuer) answers at once from the CRLs held and, for
 * a CRL Distribution Point (http/https) it has not seen, schedules a fetch:
 * the first sighting is answered "none: pending"; the event callback later
 * says the CRL arrived (or why not), and the caller checks again.
 *
 * A CRL is used only if it is signed by the key of the issuer it is
 * checked for (name and signature), is not older than the one held (CRL
 * number, else thisUpdate), and, for a partitioned CRL (Issuing
 * Distribution Point with a name), names the distribution point of the
 * certificate being checked; its onlyContainsUser/CACerts scope is honoured
 * and onlySomeReasons counts only for a certificate it lists. Delta CRLs
 * named by a complete CRL's Freshest CRL extension are fetched and applied
 * on top of it (removeFromCRL included) when their BaseCRLNumber is at most
 * the complete CRL's number. Not handled (the answer says so): distribution
 * points with a cRLIssuer (indirect CRLs) or reasons, LDAP URLs, a
 * Freshest CRL extension found only in the certificate.
 *
 * Parsing, verifying and writing a fetched CRL (up to max_crl_bytes) is done
 * by a worker thread so that a large CRL never holds up the caller; CRLs in
 * the state directory are loaded by crlfetch_new(), before it returns.
 * Everything else, callbacks included, runs in the caller's thread, from
 * fetch_tick() or crlfetch_tick().
 */

#define CRLF_NUM_MAX   48  /* a CRL number in decimal (RFC 5280: at most 20 octets) */
#define CRLF_URL_SHOWN 512 /* URL bytes copied into answers */

enum crlfetch_status {
	CRLF_NONE, /* nothing to go by: none says why */
	CRLF_GOOD, /* covered by a CRL in force and not on it */
	CRLF_REVOKED,
};

/* Why CRLF_NONE. */
enum crlfetch_none {
	CRLF_N_NO_ISSUER,   /* no issuer given, or it did not issue the certificate */
	CRLF_N_NO_CDP,	    /* no http(s) CRL distribution point we can use */
	CRLF_N_PENDING,	    /* the first fetch is queued, in flight or being verified */
	CRLF_N_FAILED,	    /* no CRL yet: the last fetch failed */
	CRLF_N_REJECTED,    /* no CRL yet: what came was rejected */
	CRLF_N_NOT_COVERED, /* the CRL's scope leaves the certificate out */
	CRLF_N_FULL,	    /* at the bound on CRLs followed */
	CRLF_N_MAX
};
const char *crlfetch_none_name(enum crlfetch_none n); /* "no_issuer", "pending", ... */

/* Why a fetched CRL was not taken. */
enum crlfetch_fail {
	CRLF_F_FETCH,	  /* the fetch itself failed (fetch_result says how) */
	CRLF_F_PARSE,	  /* not one DER or PEM CRL */
	CRLF_F_ISSUER,	  /* its issuer name is not the certificate's issuer */
	CRLF_F_SIGNATURE, /* its signature does not verify with the issuer's key */
	CRLF_F_KIND,	  /* a delta where a complete CRL was expected, or the reverse,
					 * or a delta for a newer base than the one held */
	CRLF_F_OLDER,	  /* older than the CRL held (a replay, or a stale mirror) */
	CRLF_F_BOUND,	  /* would not fit the bound on bytes held */
	CRLF_F_MAX
};
const char *crlfetch_fail_name(enum crlfetch_fail f); /* "fetch", "parse", "signature", ... */

struct crlfetch_answer {
	enum crlfetch_status status;
	enum crlfetch_none none; /* status CRLF_NONE */
	char why[256];		 /* NONE: for a person; else remarks ("" or "stale since ...") */
	/* What was consulted (GOOD, REVOKED; url also for NONE when there is one): */
	char url[CRLF_URL_SHOWN];
	char crl_number[CRLF_NUM_MAX];	  /* "" if the CRL has none */
	int64_t this_update, next_update; /* Unix s; next_update 0 if absent */
	int64_t fetched;		  /* when a fetch last confirmed it */
	bool stale;			  /* past nextUpdate (refreshes failing) */
	bool delta;			  /* a delta CRL was applied too */
	char delta_number[CRLF_NUM_MAX];
	char delta_url[CRLF_URL_SHOWN];
	int64_t delta_this_update;
	bool partitioned; /* the CRL has an Issuing Distribution Point naming its partition */
	/* REVOKED: */
	int64_t revocation_time;
	int reason; /* CRLReason, -1 if none */
	char reason_str[32];
	bool by_delta; /* the entry was on the delta CRL */
};

enum crlfetch_event_kind {
	CRLF_EV_UPDATED,   /* a new CRL is in force: verdicts on the issuer may change */
	CRLF_EV_UNCHANGED, /* a refresh confirmed the CRL held (304, or same number) */
	CRLF_EV_FAILED,	   /* a fetch failed or its CRL was rejected */
};

struct crlfetch_event {
	enum crlfetch_event_kind kind;
	const char *url;
	bool delta;
	const char *issuer_dn;	      /* RFC 2253, as cert_facts.subject_dn of the issuer */
	const uint8_t *issuer_sha256; /* [32], of the issuer certificate's DER (cert_facts.sha256) */
	/* UPDATED, UNCHANGED: the CRL in force */
	const char *crl_number;
	int64_t this_update, next_update;
	uint32_t entries;
	/* FAILED */
	enum crlfetch_fail fail;
	enum fetch_result fetch; /* fail == CRLF_F_FETCH */
	const char *why;
	bool have_crl;	      /* an earlier CRL stays in force */
	int64_t next_attempt; /* Unix s */
};
typedef void (*crlfetch_event_fn)(void *ctx, const struct crlfetch_event *e);

/* A field left 0 takes its default. */
struct crlfetch_opts {
	struct cert_cache *certs; /* required: issuers are held as its entries */
	const char *state_dir;	  /* CRLs kept in STATE_DIR/crl; NULL: memory only */
	uint64_t max_crl_bytes;	  /* per CRL (default 64 MiB) */
	uint64_t max_total_bytes; /* every CRL held, memory and disk (default 1 GiB) */
	uint32_t max_crls;	  /* distribution points followed (default 1024) */
	uint32_t refresh_min_s;	  /* never sooner after a fetch (default 300) */
	uint32_t refresh_max_s;	  /* never later (default 3600), and halfway to nextUpdate */
	crlfetch_event_fn event;  /* may be NULL */
	void *ctx;
};

struct crlfetch;

/* Loads the CRLs kept in the state directory (each verified again against
 * the issuer certificate kept with it) and starts the worker. NULL with a
 * reason in err. f is shared, not owned. */
struct crlfetch *crlfetch_new(struct fetch *f, const struct crlfetch_opts *o, char *err,
			      size_t errlen);
void crlfetch_free(struct crlfetch *c);

/* Never waits. cert and issuer are parsed (x509 set); issuer may be NULL. */
enum crlfetch_status crlfetch_check(struct crlfetch *c, const struct cert_facts *cert,
				    const struct cert_facts *issuer, struct crlfetch_answer *a);
/* Starts the fetches that are due and takes in the worker's results
 * (events). Call every tick, after fetch_tick(). */
void crlfetch_tick(struct crlfetch *c);

/* The key (STATE_DIR/crl/KEYHEX.der) of issuer's CRL at url. */
void crlfetch_key(const struct cert_facts *issuer, const char *url, uint8_t key[32]);

struct crlfetch_stats {
	uint32_t followed; /* distribution points (deltas included) */
	uint32_t held;	   /* with a CRL in force */
	uint64_t bytes;	   /* DER bytes of the CRLs in force */
	uint64_t loaded;   /* from the state directory at start */
	uint64_t fetches;  /* submitted */
	uint64_t updated, unchanged;
	uint64_t failed[CRLF_F_MAX];		 /* by reason */
	uint64_t fetch_failed[FETCH_RESULT_MAX]; /* CRLF_F_FETCH, by fetch result */
	uint64_t evicted;			 /* for the bounds */
	uint64_t store_errors; /* state directory writes that failed (the CRL is still used) */
	uint64_t checks, revoked;
};
void crlfetch_stats(const struct crlfetch *c, struct crlfetch_stats *st);

#endif
