/* inventory_int.h - what the inventory's stages (user/inventory*.c) share: its state and units. */
#ifndef CS_INVENTORY_INT_H
#define CS_INVENTORY_INT_H

#include <arpa/inet.h>
#include <linux/types.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sqlite3.h>
#include "certsentry.h"
#include "fmt.h"
#include "htab.h"
#include "inventory.h"
#include "lru.h"

#define NS	       1000000000LL
#define SLOTS_MAX      4 /* key types per endpoint (RSA, EC, ...) */
#define LEAVES_MIN     (SLOTS_MAX + 1)
#define PENDING_MAX    8192 /* certificates waiting for the next flush */
#define PENDING_BYTES  (16u << 20)
#define SANS_JSON_MAX  (64u << 10)
#define PRUNE_EVERY_NS (60 * NS)
#define KNOWN_CERTS    4096 /* certificates remembered as already stored */

struct slide { /* handshakes in a sliding span, two buckets */
	int64_t bucket;
	uint32_t cur, prev;
};

struct pchain { /* a chain to write at the next flush */
	uint32_t n;
	uint8_t sha[INV_CHAIN_MAX][32];
};

struct leaf {
	uint8_t sha[32];
	uint8_t names[32];	   /* subject and sorted SANs: what a renewal keeps */
	uint64_t chain_hash;	   /* of the chain's SHA-256s; 0: not stored yet */
	int64_t first_ns, last_ns; /* INT64_MIN: not seen yet */
	uint64_t handshakes;
	struct slide win, hold;
	int64_t not_before, not_after;
	bool parsed, names_known, dirty;
	uint8_t slot;
	char key_type[32];
	char serial[INV_SERIAL_MAX + 4];
	char *issuer; /* cut at INV_ISSUER_MAX */
	char verdict[INV_VERDICT_MAX + 1];
	struct pchain *pc;
};

struct slot {
	char key_type[32];
	int est;			   /* the leaf this slot serves as far as decisions go */
	int64_t changes[INV_FLAP_CHANGES]; /* last reported changes, newest first */
	int64_t incons_ns;		   /* last cert.inconsistent; 0: never */
};

struct endpoint {
	struct hnode h; /* keyed hash of family, address, port, SNI */
	struct endpoint *dnext;
	struct lru_node lru;
	uint8_t family, addr[16];
	uint16_t port;
	bool has_sni, dirty, trim; /* trim: leaves were dropped, drop their rows */
	char sni[TLS_SNI_MAX + 1];
	char addr_text[INET6_ADDRSTRLEN];
	int64_t first_ns, last_ns;
	uint32_t n_leaves, cap_leaves, n_slots;
	int current; /* leaf served last, -1 none */
	int64_t id;  /* endpoints.id, 0: not known */
	struct leaf *leaves;
	struct slot slots[SLOTS_MAX];
};

struct pcert { /* a certificate row to insert at the next flush */
	struct pcert *next;
	uint8_t sha256[32];
	char sha[65], names[65], key_type[32];
	char *serial, *subject, *issuer, *issuer_cn, *sans, *parse_error;
	bool parsed, names_known;
	int64_t not_before, not_after;
	uint32_t der_len, der_kept;
	uint8_t der[];
};

enum stmt {
	ST_LOAD,
	ST_EP_UPSERT,
	ST_EP_UPDATE,
	ST_SERVED_UPSERT,
	ST_CHAIN_DEL,
	ST_CHAIN_INS,
	ST_CERT_INS,
	ST_TRIM,
	ST_MAX
};

struct dbconn {
	sqlite3 *db;
	sqlite3_stmt *st[ST_MAX];
	bool memory;
};

struct inventory {
	struct inventory_opts o; /* defaults filled in */
	char dir[PATH_MAX], path[PATH_MAX];
	struct dbconn c;
	struct dbconn ro; /* in memory after a failure: the file, read-only */
	int broken_rc;	  /* a read failed outside flush: flush handles it */
	bool episode;	  /* in memory after a failure, retrying the file */
	bool gc;	  /* rows were deleted: collect orphan certificates */
	int64_t retry_ns, prune_ns;
	int64_t clock_ns; /* the latest handshake time seen */
	int64_t now_ns;	  /* of the last inventory_flush() */
	int64_t window_ns, repeat_ns, hold_ns;
	struct htab tab; /* the hot endpoints, at most o.hot */
	struct lru lru;
	struct endpoint *dirty;
	struct pcert *pending;
	uint32_t n_pending;
	size_t pending_bytes;
	/* Certificates the database already has (direct-mapped by SHA-256):
	 * a chain of known ones queues no copies. Cleared when the database
	 * changes or certificates are collected. */
	uint8_t (*known)[32];
	struct inventory_stats st;
};

/* n bytes from s, exactly 2n hex digits */
static inline bool hex_parse(const char *s, uint8_t *out, size_t n)
{
	return s && strlen(s) == 2 * n && fmt_unhex(s, 2 * n, out);
}

/* Copies s into out[cap], marking a cut with "..." (cap >= 4). */
static inline void copy_cut(char *out, size_t cap, const char *s, size_t keep)
{
	size_t n = s ? strlen(s) : 0;

	if (n <= keep && n < cap) {
		memcpy(out, s ? s : "", n + 1);
		return;
	}
	if (keep > cap - 4)
		keep = cap - 4;
	memcpy(out, s, keep);
	memcpy(out + keep, "...", 4);
}

static inline int64_t later_minus(int64_t later, int64_t earlier) /* saturating at 0 */
{
	if (later <= earlier)
		return 0;
	if (earlier < 0 && later > INT64_MAX + earlier)
		return INT64_MAX;
	return later - earlier;
}

static inline int64_t to_s(int64_t ns)
{
	return ns / NS;
}

static inline int64_t to_ns(int64_t s)
{
	if (s > INT64_MAX / NS)
		return INT64_MAX;
	return s < INT64_MIN / NS ? INT64_MIN + 1 : s * NS;
}

static inline void slide_add(struct slide *s, int64_t t, int64_t span)
{
	int64_t b = t / span;

	if (b > s->bucket) {
		s->prev = b == s->bucket + 1 ? s->cur : 0;
		s->cur = 0;
		s->bucket = b;
	}
	if (s->cur < UINT32_MAX)
		s->cur++;
}

/* Handshakes in (t - span, t]: the older bucket weighted by its overlap. */
static inline uint64_t slide_count(const struct slide *s, int64_t t, int64_t span)
{
	int64_t b = t / span, left = span - t % span;

	if (b < s->bucket) /* the clock went back */
		return (uint64_t)s->cur + s->prev;
	if (b == s->bucket)
		return s->cur + (uint64_t)((double)s->prev * (double)left / (double)span);
	if (b == s->bucket + 1)
		return (uint64_t)((double)s->cur * (double)left / (double)span);
	return 0;
}

/* inventory.c: the hot endpoints and what waits for the next flush. */
void known_clear(struct inventory *inv);
void mark_all_dirty(struct inventory *inv);
void pending_clear(struct inventory *inv);

#endif
