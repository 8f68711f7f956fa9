/* inventory.h - which leaf each server/SNI served when, in SQLite: changes, rollbacks, flips. */
#ifndef CS_INVENTORY_H
#define CS_INVENTORY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "cert.h"
#include "report.h"

#define INV_STATE_DIR_DEFAULT "/var/lib/certsentry"
#define INV_DB_NAME	      "inventory.sqlite" /* in the state directory */
#define INV_SCHEMA_VERSION    1			 /* PRAGMA user_version */

/* Defaults: a 0 in struct inventory_opts takes these. */
#define INV_WINDOW_S_DEFAULT	300   /* cert.inconsistent window */
#define INV_REPEAT_S_DEFAULT	3600  /* an ongoing inconsistency is said again after */
#define INV_FLAP_HOLD_S_DEFAULT 86400 /* changes counted for flapping over this */
#define INV_FLAP_CHANGES	3     /* changes reported per hold; more are flapping */
#define INV_ENDPOINTS_DEFAULT	10000 /* (address, port, SNI) in the database */
#define INV_LEAVES_DEFAULT	16    /* leaves kept per endpoint */
#define INV_AGE_DAYS_DEFAULT	400   /* a leaf not served for this long is forgotten */
#define INV_HOT_DEFAULT		4096  /* endpoints held in memory */
#define INV_DB_MB_DEFAULT	256   /* database file bound */
#define INV_RETRY_S_DEFAULT	10    /* after a failure, the file is tried again */

#define INV_CHAIN_MAX	10    /* certificates kept per chain, leaf first */
#define INV_DER_MAX	16384 /* a larger certificate is kept without its DER */
#define INV_SHARES_MAX	8     /* leaves named in one cert.inconsistent */
#define INV_SERIAL_MAX	64    /* hex digits in a decision */
#define INV_ISSUER_MAX	255   /* bytes of the issuer DN in a decision */
#define INV_VERDICT_MAX 47    /* bytes of the verdict kept per leaf */

struct inventory;

/* Why the inventory left the database file, or came back to it. */
enum inv_error {
	INV_ERR_STATE_DIR, /* state directory missing and not creatable, or not writable */
	INV_ERR_CORRUPT,   /* not a readable inventory: moved aside, recreated */
	INV_ERR_LOCKED,	   /* another process holds the database */
	INV_ERR_WRITE,	   /* a write failed: disk full, I/O error */
	INV_ERR_VERSION,   /* written by a newer certsentry: left alone */
	INV_ERR_RECOVERED, /* writing to the file again, what was kept in memory merged */
	INV_ERR_MAX
};

/* Called from inventory_open/observe/flush, in the caller's thread. Except
 * for RECOVERED and CORRUPT the inventory now runs in memory (same
 * decisions; the history of endpoints not in memory is read from the file
 * while it still reads, else missing) and tries the file again every
 * retry_s, merging memory into it; one call per episode. */
typedef void (*inventory_error_fn)(void *ctx, enum inv_error kind, const char *msg);

struct inventory_opts {
	const char *state_dir;	     /* NULL: INV_STATE_DIR_DEFAULT */
	bool memory_only;	     /* no file at all (replays, tests) */
	uint32_t window_s;	     /* 0: INV_WINDOW_S_DEFAULT */
	uint32_t repeat_s;	     /* 0: INV_REPEAT_S_DEFAULT */
	uint32_t flap_hold_s;	     /* 0: INV_FLAP_HOLD_S_DEFAULT */
	uint32_t max_endpoints;	     /* 0: INV_ENDPOINTS_DEFAULT */
	uint32_t max_leaves;	     /* 0: INV_LEAVES_DEFAULT */
	uint32_t max_age_days;	     /* 0: INV_AGE_DAYS_DEFAULT */
	uint32_t hot;		     /* 0: INV_HOT_DEFAULT (at most max_endpoints) */
	uint32_t max_db_mb;	     /* 0: INV_DB_MB_DEFAULT */
	uint32_t retry_s;	     /* 0: INV_RETRY_S_DEFAULT */
	inventory_error_fn on_error; /* may be NULL */
	void *ctx;
};

/*
 * Opens (creating the directory 0750 and the file 0640 if missing) or falls
 * back to memory, reporting why through on_error. NULL only for bad options
 * or no memory, with the reason in err.
 */
struct inventory *inventory_open(const struct inventory_opts *o, char *err, size_t errlen);
/* Flushes what is pending and closes. */
void inventory_close(struct inventory *inv);

/* ---- the live path ---- */

/*
 * Decisions are per (server, port, SNI, key type), W = window_s:
 * - the endpoint's first leaf: INV_FIRST_SEEN only;
 * - a leaf never served there replaces the current one: CHANGED (+ROLLBACK
 *   if issued before it, +RENEWAL if issued later for the same subject and
 *   SANs);
 * - a leaf served there before comes back: CHANGED+ROLLBACK when the two
 *   were not served within W of each other around the switch (unless it was
 *   issued after the one it replaces: then CHANGED, the undoing of a
 *   rollback); when they were, both are being served: INCONSISTENT with
 *   shares over W, said at most once per repeat_s;
 * - after INV_FLAP_CHANGES changes within flap_hold_s, further changes give
 *   INCONSISTENT|FLAPPING (shares over the hold) instead;
 * - an endpoint's clock never goes back: a step back can delay a report,
 *   never invent a rollback.
 * Not thread-safe: one thread (the consumer) owns the inventory.
 */
enum inv_flag {
	INV_FIRST_SEEN = 1u << 0,   /* the endpoint's first leaf: nothing to compare */
	INV_CHANGED = 1u << 1,	    /* cert.changed: prev -> cur */
	INV_ROLLBACK = 1u << 2,	    /* cert.rollback: prev -> cur, see rollback_why */
	INV_INCONSISTENT = 1u << 3, /* cert.inconsistent: shares[] */
	INV_RENEWAL = 1u << 4,	    /* with CHANGED: later notBefore, same subject and SANs */
	INV_NEW_KEY_TYPE = 1u << 5, /* with CHANGED: first leaf of another key type */
	INV_FLAPPING = 1u << 6,	    /* with INCONSISTENT: the leaf changes too often */
};

enum inv_rollback_why {
	INV_RB_ISSUED_BEFORE = 1u << 0, /* cur.not_before < prev.not_before */
	INV_RB_SERVED_BEFORE = 1u << 1, /* cur was served here before and had stopped */
};

/* A leaf as a decision names it. Times are Unix seconds. */
struct inventory_leaf {
	char sha256[65];		 /* uppercase hex */
	char serial[INV_SERIAL_MAX + 4]; /* hex, "..." when cut */
	char issuer[INV_ISSUER_MAX + 4]; /* DN, "..." when cut */
	char key_type[32];		 /* "RSA", "EC", ...; "" if it did not parse */
	bool parsed;			 /* false: serial/issuer/dates unknown */
	int64_t not_before, not_after;
	int64_t first_seen, last_seen; /* at this endpoint */
	uint64_t handshakes;
};

struct inventory_share {
	struct inventory_leaf leaf;
	uint64_t handshakes; /* within the window (estimated) */
	uint32_t permille;   /* of the handshakes of all leaves named */
};

struct inventory_decision {
	uint32_t flags;			 /* enum inv_flag */
	uint32_t rollback_why;		 /* enum inv_rollback_why */
	struct inventory_leaf prev, cur; /* CHANGED, ROLLBACK */
	int64_t absent_s;		 /* SERVED_BEFORE: how long cur had not been served */
	uint32_t window_s;		 /* INCONSISTENT: the span shares[] cover */
	uint32_t n_shares;
	struct inventory_share shares[INV_SHARES_MAX]; /* largest first */
};

/*
 * One handshake that showed a chain (leaf first, n > 0) from server, with
 * SNI sni (NULL: none sent), at capture time ts_ns (epoch ns). verdict: the
 * worst code of the certificate checks ("ok" if none), kept as the leaf's
 * last verdict. Memory only, microseconds; inventory_flush() writes.
 * Returns the flags, also in d (may be NULL) with the details. Decisions
 * are per (server, port, SNI, key type), so dual RSA/ECDSA certificates do
 * not alternate.
 */
uint32_t inventory_observe(struct inventory *inv, const struct report_endpoint *server,
			   const char *sni, struct cert_facts *const *chain, uint32_t n,
			   const char *verdict, uint64_t ts_ns, struct inventory_decision *d);

/*
 * Writes what observe kept, in one transaction; prunes every minute; tries
 * the file again when due. Call about once a second from the main loop
 * (now_ns: epoch ns). 0 when everything is stored (in the file or, after a
 * failure, in memory), -1 when even memory failed (counted, retried).
 */
int inventory_flush(struct inventory *inv, uint64_t now_ns);

struct inventory_stats {
	uint64_t observations, no_chain;
	uint64_t first_seen, changed, rollback, inconsistent, flapping;
	uint64_t inconsistent_held; /* said again within repeat_s: not reported */
	uint64_t hot_hits, loads, evictions, forced_flushes;
	uint64_t flushes, flush_errors, rows_written;
	uint64_t pruned_endpoints, pruned_leaves, pruned_certs;
	uint64_t pending_dropped;     /* chains not queued: pending bound reached */
	uint64_t clock_backwards;     /* a handshake older than its endpoint's last */
	uint64_t errors[INV_ERR_MAX]; /* on_error calls by kind */
	uint64_t hot;		      /* endpoints in memory now */
	bool in_memory;		      /* not writing to the file now */
};
void inventory_stats(const struct inventory *inv, struct inventory_stats *st);
const char *inventory_error_name(enum inv_error e); /* "corrupt", ... */

/* ---- out ---- */

enum inv_format { INV_FORMAT_TEXT, INV_FORMAT_JSON };
int inventory_format_parse(const char *s); /* "text"/"json", or -1 */

struct inventory_dump_opts {
	const char *sni_glob;	/* fnmatch, case-insensitive; NULL: all ("" is no SNI) */
	enum inv_format format; /* text table, or one JSON object per endpoint */
	uint32_t window_s;	/* "now": seen within this of the endpoint's last */
};

/* What each endpoint serves now and served before: from the database in
 * state_dir (opened read-only; the daemon may be running), or from a live
 * inventory (flushed first). 0, or -1 with the reason in err. */
int inventory_dump_dir(const char *state_dir, const struct inventory_dump_opts *o, FILE *out,
		       char *err, size_t errlen);
int inventory_dump(struct inventory *inv, const struct inventory_dump_opts *o, FILE *out, char *err,
		   size_t errlen);

/* One served (SNI, leaf), over all endpoints, for /metrics. */
struct inventory_metric {
	const char *sni;	      /* "" when none was sent */
	const char *sha256;	      /* uppercase hex; labels may take a prefix */
	const char *issuer_cn;	      /* "" if none or unparsed */
	bool has_not_after;	      /* false: the leaf did not parse */
	int64_t not_after, last_seen; /* Unix s */
};
typedef void (*inventory_metric_fn)(void *ctx, const struct inventory_metric *m);

/* Calls fn for at most cap served (SNI, leaf), most recently seen first,
 * whatever their verdict (m and its strings are valid during the call);
 * *left_out counts the rest. Flushes first. 0, or -1 on error. */
int inventory_metrics(struct inventory *inv, uint32_t cap, inventory_metric_fn fn, void *ctx,
		      uint64_t *left_out);

#endif
