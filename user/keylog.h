/* keylog.h - TLS secrets by client_random: NSS key-log lines (files, FIFOs) and binary sources. */
#ifndef CS_KEYLOG_H
#define CS_KEYLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum keylog_label {
	KEYLOG_CLIENT_RANDOM, /* TLS <= 1.2 master secret, 48 bytes */
	KEYLOG_CLIENT_EARLY_TRAFFIC_SECRET,
	KEYLOG_CLIENT_HANDSHAKE_TRAFFIC_SECRET,
	KEYLOG_SERVER_HANDSHAKE_TRAFFIC_SECRET,
	KEYLOG_CLIENT_TRAFFIC_SECRET_0,
	KEYLOG_SERVER_TRAFFIC_SECRET_0,
	KEYLOG_EXPORTER_SECRET,
	KEYLOG_LABEL_MAX
};

#define KEYLOG_RANDOM_LEN      32
#define KEYLOG_SECRET_MAX      48  /* TLS 1.3 secrets: 32 or 48 (the suite's hash) */
#define KEYLOG_LINE_MAX	       512 /* longer lines are skipped whole, counted */
#define KEYLOG_ENTRIES_DEFAULT 16384
#define KEYLOG_TTL_DEFAULT_NS  (30ULL * 1000000000ULL)

/* What became of a line (or a binary secret); each is counted. */
enum keylog_outcome {
	KEYLOG_ADDED,	  /* a secret stored */
	KEYLOG_DUPLICATE, /* the same secret again: nothing changed */
	KEYLOG_COMMENT,	  /* a comment or a blank line */
	KEYLOG_UNUSED,	  /* valid, but a label this store does not keep */
	/* rejected, from here on */
	KEYLOG_BAD_LABEL,  /* not one of enum keylog_label's names */
	KEYLOG_BAD_FORMAT, /* not LABEL RANDOM SECRET */
	KEYLOG_BAD_RANDOM, /* client_random is not 32 bytes (64 hex digits) */
	KEYLOG_BAD_SECRET, /* secret length not valid for the label */
	KEYLOG_BAD_HEX,	   /* a character that is not a hex digit */
	KEYLOG_TOO_LONG,   /* a line longer than KEYLOG_LINE_MAX */
	KEYLOG_PARTIAL,	   /* a line cut off: truncation, replacement, writer gone */
	KEYLOG_CONFLICT,   /* another secret for a label and random already held
					 * (the first is kept: the record's authentication
					 * rejects a wrong one, a wrong certificate is not
					 * possible either way) */
	KEYLOG_OUTCOME_MAX
};
#define KEYLOG_REJECTED(o) ((o) >= KEYLOG_BAD_LABEL)

struct keylog_stats {
	uint64_t lines; /* lines and binary secrets offered */
	uint64_t outcome[KEYLOG_OUTCOME_MAX];
	uint64_t entries;	 /* client_randoms held now */
	uint64_t evicted;	 /* dropped for room, oldest first */
	uint64_t expired;	 /* dropped after the ttl */
	uint64_t expired_unused; /* of those, never looked up */
	uint64_t forgotten;	 /* dropped by keylog_forget */
};

struct keylog_config {
	uint32_t max_entries; /* 0: KEYLOG_ENTRIES_DEFAULT */
	uint64_t ttl_ns;      /* 0: KEYLOG_TTL_DEFAULT_NS, from the first secret */
	uint32_t labels;      /* 1u << label for each kept; 0: all */
};

/* The store: bounded, secrets in memory excluded from core dumps, wiped
 * (explicit_bzero) when forgotten, evicted, expired and freed. cfg may be
 * NULL (defaults). Never logs a secret. */
struct keylog *keylog_new(const struct keylog_config *cfg);
void keylog_free(struct keylog *k);

/* A binary secret (e.g. a uprobe's). */
enum keylog_outcome keylog_add(struct keylog *k, enum keylog_label label,
			       const uint8_t random[KEYLOG_RANDOM_LEN], const uint8_t *secret,
			       size_t len, uint64_t now_ns);
/* One NSS key-log line without its '\n' (a trailing '\r' is fine):
 * "LABEL <64 hex client_random> <hex secret>", '#' comments, blank lines. */
enum keylog_outcome keylog_add_line(struct keylog *k, const char *line, size_t len,
				    uint64_t now_ns);
/* Counts a line that could not be handed over whole (KEYLOG_TOO_LONG, KEYLOG_PARTIAL). */
void keylog_count(struct keylog *k, enum keylog_outcome o);

/* The secret for (random, label), NULL if none. Valid until the next call
 * that adds, forgets or expires. */
const uint8_t *keylog_find(struct keylog *k, const uint8_t random[KEYLOG_RANDOM_LEN],
			   enum keylog_label label, size_t *len);
/* The connection is decrypted (or given up): wipe all its secrets now. */
void keylog_forget(struct keylog *k, const uint8_t random[KEYLOG_RANDOM_LEN]);
/* Wipes the secrets older than the ttl (keylog_add also does). */
void keylog_expire(struct keylog *k, uint64_t now_ns);
void keylog_get_stats(const struct keylog *k, struct keylog_stats *st);

/* "CLIENT_HANDSHAKE_TRAFFIC_SECRET", ...; "added", "bad_hex", ... (the
 * counters' names for stats lines and metrics). NULL if out of range. */
const char *keylog_label_name(enum keylog_label l);
const char *keylog_outcome_name(enum keylog_outcome o);

/* ---- a key-log file or FIFO, followed ---- */

struct keylog_file;

/*
 * Opens a regular file or a FIFO. Refused, with the path and the mode in
 * err: anything else, and a mode that gives "other" any access or lets the
 * group write. follow: live, read what is appended as it comes (partial
 * last line kept until its newline), notice truncation and replacement
 * (reopened, checked again), never block; else read once to the end
 * (offline), a FIFO until its writer closes.
 */
struct keylog_file *keylog_file_open(const char *path, bool follow, char *err, size_t errlen);
/* For the main loop's poll (POLLIN): inotify for a file, the FIFO itself
 * (the same number across reopens). -1: none, call keylog_file_read on a
 * timer. Ask again after keylog_file_read returned -1. */
int keylog_file_fd(const struct keylog_file *f);
/* Reads what is new into k. 0: caught up; 1: more is waiting (a bounded
 * amount is read per call), call again; -1: a new problem, said in err
 * (once: while it lasts, later calls return 0). */
int keylog_file_read(struct keylog_file *f, struct keylog *k, uint64_t now_ns, char *err,
		     size_t errlen);
/* Wipes the partial line held and closes. */
void keylog_file_close(struct keylog_file *f);

#endif
