/* sources.h - the daemon's fetched sources (CRL, OCSP, AIA) and inventory: setup, tick, follow-ups, teardown. */
#ifndef CS_SOURCES_H
#define CS_SOURCES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "aiafetch.h"
#include "cert.h"
#include "checks.h"
#include "crlfetch.h"
#include "events.h"
#include "fetch.h"
#include "inventory.h"
#include "ocspfetch.h"
#include "report.h"

#define SOURCES_HELD	     256  /* recent chains judged again when a fetch completes */
#define SOURCES_METRIC_CERTS 1000 /* (SNI, leaf) series on /metrics by default */

/*
 * What the main loop owns besides capture and output. Nothing here waits:
 * fetches run on libcurl's multi interface and crlfetch's worker, the
 * inventory writes in one transaction a second. A chain is judged at once
 * with what is held; when a fetch that may change verdicts completes, the
 * chains of the last SOURCES_HELD handshakes are judged again and each whose
 * verdict changed is handed to the follow-up callback.
 */
struct sources_opts {
	const char *state_dir; /* NULL: INV_STATE_DIR_DEFAULT */
	bool inventory;	       /* keep the inventory (STATE_DIR/inventory.sqlite) */
	bool fetch_crl, fetch_ocsp, fetch_aia;
	struct fetch_opts fetch;
	struct crlfetch_opts crl;   /* certs, state_dir, event, ctx: set here */
	struct ocspfetch_opts ocsp; /* state_dir, event, ctx: set here */
	struct aiafetch_opts aia;   /* likewise */
	struct inventory_opts inv;  /* state_dir, on_error, ctx: set here */
	uint32_t metric_certs;	    /* 0: SOURCES_METRIC_CERTS */
};

/* An operational event (fetch failed, inventory error...). */
typedef void (*sources_status_fn)(void *ctx, enum event_action action, const char *severity,
				  const char *msg);
/* A held chain whose verdict changed when judged again: r->verdict, r->recheck
 * and r->recheck_prev are set; valid during the call. */
typedef void (*sources_followup_fn)(void *ctx, const struct cs_report *r);

struct sources;

/* True if o asks for anything (a fetcher or the inventory). */
bool sources_wanted(const struct sources_opts *o);
/* Opens what o asks for and hands it to chk (checker_set_sources). NULL
 * with the reason in err (a state directory that cannot be made, bad
 * bounds). certs and chk stay the caller's and must outlive it. */
struct sources *sources_open(const struct sources_opts *o, struct cert_cache *certs,
			     struct checker *chk, sources_status_fn status,
			     sources_followup_fn followup, void *ctx, char *err, size_t errlen);
/* Flushes the inventory, stops the fetches, detaches from the checker. */
void sources_close(struct sources *s);

/* A judged server chain, remembered to be judged again (references taken). */
void sources_hold(struct sources *s, const struct cs_report *r, const struct verdict *v);
/* Every main-loop tick: fetches moved on, their events, follow-ups, and the
 * inventory flushed (about once a second). now_ns: epoch ns. */
void sources_tick(struct sources *s, uint64_t now_ns);

/* Counters for counters.def. */
struct sources_counters {
	struct fetch_stats fetch;
	struct crlfetch_stats crl;
	struct ocspfetch_stats ocsp;
	struct aiafetch_stats aia;
	struct inventory_stats inv;
	uint64_t rechecks, followups;	/* chains judged again; verdicts that changed */
	uint64_t metric_certs_left_out; /* (SNI, leaf) series left out at the last scrape */
};
void sources_counters(const struct sources *s, struct sources_counters *c);

/* certsentry_certificate_not_after_seconds and _last_seen_seconds per
 * (SNI, leaf SHA-256 prefix, issuer CN), at most metric_certs of them,
 * appended as Prometheus text into buf; returns the length written. */
size_t sources_metrics(struct sources *s, char *buf, size_t cap);

#endif
