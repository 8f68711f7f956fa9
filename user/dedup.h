/* dedup.h - first sightings written at once, repeats counted into periodic summaries. */
#ifndef CS_DEDUP_H
#define CS_DEDUP_H

#include <stdbool.h>
#include <stdint.h>
#include "report.h"

#define DEDUP_ENTRIES_MAX 16384 /* distinct (server, SNI, leaf, verdict) kept */
#define DEDUP_CLIENTS_MAX 256	/* distinct clients counted exactly per entry */

/* What a summary says about one key over one interval. */
struct dedup_summary {
	enum report_action action;
	struct report_endpoint server;
	bool has_sni;
	char sni[TLS_SNI_MAX + 1];
	char leaf_sha256[65];	    /* "" when the handshake showed no chain */
	const char *verdict;	    /* verdict_name(): worst code, "ok", "unverified" */
	int severity;		    /* enum severity */
	uint64_t count;		    /* repeats since the last line about this key */
	uint64_t first_ns, last_ns; /* of those repeats */
	uint32_t clients;	    /* distinct client addresses among them */
	bool clients_capped;	    /* more than DEDUP_CLIENTS_MAX */
	uint64_t ts_ns;		    /* when the summary is written */
};

typedef void (*dedup_emit_fn)(void *ctx, const struct dedup_summary *s);

struct dedup;

/* interval_s: how often repeats are summarised; every: write everything;
 * fn receives every summary (also one for a key evicted with pending counts). */
struct dedup *dedup_new(uint32_t interval_s, bool every, dedup_emit_fn fn, void *ctx);
void dedup_free(struct dedup *d);
/* true: write this report now (a first sighting); false: counted for a
 * summary. verdict is verdict_name() (the worst code, "ok" or "unverified"), severity its level. */
bool dedup_admit(struct dedup *d, const struct cs_report *r, const char *verdict, int severity,
		 uint64_t now_ns);
/* Summaries due at now_ns; at_exit writes every pending count. Entries
 * quiet for several intervals are forgotten. */
void dedup_flush(struct dedup *d, uint64_t now_ns, bool at_exit);

struct dedup_stats {
	uint64_t admitted, suppressed, summaries, entries, evicted;
};
void dedup_stats(const struct dedup *d, struct dedup_stats *st);

#endif
