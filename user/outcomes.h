/* outcomes.h - what TLS 1.3 clients did after the server's flight: the per-connection classifier and the per-(server, SNI) abort rate. */
#ifndef CS_OUTCOMES_H
#define CS_OUTCOMES_H

#include <stdbool.h>
#include <stdint.h>
#include "cs_wire.h"
#include "report.h"

/*
 * ---- The classifier (one per connection, driven by flow.c) ----
 *
 * After a TLS 1.3 ServerHello the client either goes on, sending (a CCS and)
 * its Finished, perhaps after a certificate flight: the first encrypted
 * record is then at least OUTCOME_FINISHED_MIN bytes of ciphertext; or it
 * refuses: one alert (2 bytes + content type + 16-byte tag = 19, the same
 * for AES-GCM and ChaCha20-Poly1305), then FIN or RST with nothing after
 * it (the server may close or reset in answer to the alert meanwhile).
 * Everything else is unknown: no record, a record of another length, more
 * bytes after the short one, a server that closed before the client's
 * record, early data. Only the client's stream offsets are compared: its
 * close must come right at the end of the short record.
 */
#define OUTCOME_FINISHED_MIN 53			  /* 4 + 32 (SHA-256 Finished) + 1 + 16 */
#define OUTCOME_ALERT_LEN    WIRE_TLS13_ALERT_LEN /* 2 + 1 + 16 */

struct outcome_track {
	uint8_t state;	    /* outcomes.c: none, flight, record, decided */
	uint8_t outcome;    /* enum client_outcome once decided */
	bool early_data;    /* the hello offered 0-RTT: records may be early data */
	bool server_closed; /* the server closed before the client's record */
	bool reported;	    /* the decision was handed on */
	bool exact;	    /* decided by a record read, not by sizes */
	bool alert_known;   /* alert_*: the client's alert, decrypted */
	uint8_t alert_level, alert_desc;
	uint16_t rec_len;   /* the client's first encrypted record */
	uint32_t rec_end;   /* its end, a client stream offset */
	const char *reason; /* static: why this outcome */
};

/* The server's TLS 1.3 ServerHello (not a HelloRetryRequest). */
void outcome_flight(struct outcome_track *o, bool early_data);
/* The client's first encrypted record after it: its length, and the client
 * stream offset just past it. Later calls are further records. */
void outcome_record(struct outcome_track *o, uint16_t len, uint32_t end);
/* The client's alert, read in the clear or decrypted: aborted, for sure.
 * Once the flight was seen, this replaces a decision by sizes not yet
 * handed on (outcome_take). */
void outcome_alert(struct outcome_track *o, const char *reason);
/* A decrypted handshake record from the client (its Finished or
 * certificate): accepted, for sure; likewise. */
void outcome_accepted(struct outcome_track *o, const char *reason);
/* FIN or RST of one side; off: the client's stream offset of its FIN/RST
 * (ignored for the server's). */
void outcome_close(struct outcome_track *o, bool from_client, bool rst, uint32_t off);
/* The connection ends (both sides closed, reset, idle, evicted, exit):
 * decides what is still open as unknown. */
void outcome_end(struct outcome_track *o, const char *why);
/* A decision not yet handed on: true once. */
bool outcome_take(struct outcome_track *o);
/* Classification began and is not decided: the connection must wait. */
bool outcome_pending(const struct outcome_track *o);

const char *outcome_name(enum client_outcome o); /* "accepted"...; "none" */

/*
 * ---- The rate (one table, the main loop's) ----
 *
 * Per (server, SNI): the outcomes of the last window_s seconds in one-second
 * buckets; client.aborting when aborted >= pct% of at least min classified
 * handshakes, cleared (an event) when the share falls below it again. The
 * table also remembers the last server leaf seen in the clear per (server,
 * SNI), to tie a TLS 1.3 refusal to a certificate when the connection
 * showed none. Bounded: OUTCOMES_ENDPOINTS_MAX entries, least recently
 * used evicted (counted); per entry OUTCOMES_FAMILIES_MAX client families.
 */
#define OUTCOMES_WINDOW_DEFAULT_S 60
#define OUTCOMES_PCT_DEFAULT	  20
#define OUTCOMES_MIN_DEFAULT	  20
#define OUTCOMES_WINDOW_MAX_S	  3600
#define OUTCOMES_ENDPOINTS_MAX	  4096
#define OUTCOMES_FAMILIES_MAX	  8
/* Endpoints with their own /metrics series: the first this many seen. */
#define OUTCOMES_METRIC_ENDPOINTS 32

struct outcomes_opts {
	uint32_t window_s; /* 0: default */
	uint32_t pct;	   /* 0: default; 1..100 */
	uint32_t min;	   /* 0: default */
	/* A rate alert or its clearing, as a report (REPORT_CLIENT_ABORTING*). */
	void (*emit)(void *ctx, const struct cs_report *r);
	void *ctx;
};

struct outcomes;

struct outcomes *outcomes_new(const struct outcomes_opts *o);
void outcomes_free(struct outcomes *t);
/*
 * Every report, before its checks: a REPORT_CERTIFICATE's leaf is
 * remembered for its (server, SNI); a client's refusal that names no
 * certificate gets that one (cert_basis CERT_BASIS_ENDPOINT).
 */
void outcomes_annotate(struct outcomes *t, struct cs_report *r);
/* Every report, after: its outcome counted (r->outcome), the window judged. */
void outcomes_count(struct outcomes *t, const struct cs_report *r);
/*
 * A client outcome that says nothing (accepted or unknown, no finding):
 * counted like any, but its line is written only under --every.
 */
bool outcomes_quiet(const struct cs_report *r, bool has_findings);
/* Once a second or so: windows move on without traffic (clears). */
void outcomes_tick(struct outcomes *t, uint64_t now_ns);

struct outcomes_stats {
	uint64_t total[OUTCOME_MAX]; /* handshakes by outcome ([OUTCOME_NONE] unused) */
	uint64_t alerts, clears;     /* client.aborting raised, cleared */
	uint64_t endpoints, evicted;
	uint32_t n_metric; /* per-endpoint series below */
	struct outcomes_endpoint_stat {
		char label[96]; /* "ADDR:PORT SNI", quoted-safe */
		uint64_t accepted, aborted, unknown;
	} metric[OUTCOMES_METRIC_ENDPOINTS];
};
void outcomes_stats(const struct outcomes *t, struct outcomes_stats *st);

#endif
