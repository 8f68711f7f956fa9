/* inventory.c - which leaf each server/SNI served when, in SQLite: changes, rollbacks, flips. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include "certsentry.h"
#include "fmt.h"
#include "inventory.h"
#include "json.h"
#include "htab.h"

/*
 * How it works. The live path keeps the hot endpoints in memory (a hash
 * table in LRU order, each with its leaves) and decides there; a miss loads
 * the endpoint's rows once. inventory_flush() writes the endpoints touched
 * since the last flush in one transaction (WAL, synchronous=NORMAL). When
 * the file cannot be written the same schema lives in an in-memory SQLite
 * database; when the file is back, that database is merged into it. So the
 * dump and the metrics read one schema, whichever database is current.
 *
 * Decisions, per (endpoint, SNI, key type) "slot", with W the window:
 * - The first leaf of an endpoint is only recorded.
 * - A leaf never served here replaces the slot's established leaf:
 *   cert.changed; a rollback if it was issued before the one it replaces,
 *   a renewal if it was issued later for the same subject and SANs.
 * - A leaf served here before comes back (a "return"): a change only if
 *   the two leaves were never served within W of each other around the
 *   switch (the established one was served at least W after the returning
 *   one was last seen, or the returning one at least W after the
 *   established one was last seen); then it is a rollback unless it was
 *   issued after the one it replaces (that undoes a rollback).
 * - Otherwise both leaves are being served: cert.inconsistent, with each
 *   leaf's share of the handshakes in W, at most once per repeat_s.
 * - Hysteresis: after INV_FLAP_CHANGES reported changes within
 *   flap_hold_s, further changes are flapping: cert.inconsistent (shares
 *   over the hold) instead of changed/rollback.
 * - Time: each endpoint's times never move back (a handshake older than
 *   the last is counted as seen at the last); rules compare stored times,
 *   so a clock step back can cost a report, never invent a rollback.
 */

#define NS	       1000000000LL
#define SLOTS_MAX      4 /* key types per endpoint (RSA, EC, ...) */
#define LEAVES_MIN     (SLOTS_MAX + 1)
#define PENDING_MAX    8192 /* certificates waiting for the next flush */
#define PENDING_BYTES  (16u << 20)
#define SANS_JSON_MAX  (64u << 10)
#define PRUNE_EVERY_NS (60 * NS)
#define DUMP_LINE_MAX  (1u << 20)
#define KNOWN_CERTS    4096 /* certificates remembered as already stored */

/* ---- state ---- */

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

/* ---- small helpers ---- */

/* n bytes from s, exactly 2n hex digits */
static bool hex_parse(const char *s, uint8_t *out, size_t n)
{
	return s && strlen(s) == 2 * n && fmt_unhex(s, 2 * n, out);
}

/* Copies s into out[cap], marking a cut with "..." (cap >= 4). */
static void copy_cut(char *out, size_t cap, const char *s, size_t keep)
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

static int64_t later_minus(int64_t later, int64_t earlier) /* saturating at 0 */
{
	if (later <= earlier)
		return 0;
	if (earlier < 0 && later > INT64_MAX + earlier)
		return INT64_MAX;
	return later - earlier;
}

static int64_t to_s(int64_t ns)
{
	return ns / NS;
}

static int64_t to_ns(int64_t s)
{
	if (s > INT64_MAX / NS)
		return INT64_MAX;
	return s < INT64_MIN / NS ? INT64_MIN + 1 : s * NS;
}

static void slide_add(struct slide *s, int64_t t, int64_t span)
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
static uint64_t slide_count(const struct slide *s, int64_t t, int64_t span)
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

/* ---- errors ---- */

static const char *const err_names[INV_ERR_MAX] = {
	[INV_ERR_STATE_DIR] = "state_dir", [INV_ERR_CORRUPT] = "corrupt",
	[INV_ERR_LOCKED] = "locked",	   [INV_ERR_WRITE] = "write",
	[INV_ERR_VERSION] = "version",	   [INV_ERR_RECOVERED] = "recovered",
};

const char *inventory_error_name(enum inv_error e)
{
	return (unsigned)e < INV_ERR_MAX ? err_names[e] : "unknown";
}

__attribute__((format(printf, 3, 4))) static void report(struct inventory *inv, enum inv_error kind,
							 const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	inv->st.errors[kind]++;
	if (inv->o.on_error)
		inv->o.on_error(inv->o.ctx, kind, msg);
}

static enum inv_error classify(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return INV_ERR_CORRUPT;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return INV_ERR_LOCKED;
	case SQLITE_READONLY:
	case SQLITE_CANTOPEN:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return INV_ERR_STATE_DIR;
	default:
		return INV_ERR_WRITE;
	}
}

static const char *rc_text(sqlite3 *db, int rc)
{
	const char *m = db ? sqlite3_errmsg(db) : NULL;

	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
		return "database is locked (another process holds it)";
	return m && *m && strcmp(m, "not an error") ? m : sqlite3_errstr(rc);
}

/* ---- schema ---- */

/* Comments stay in the schema: `sqlite3 inventory.sqlite .schema` shows them. */
static const char schema_sql[] =
	"CREATE TABLE endpoints (\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  address TEXT NOT NULL,        -- server IP address\n"
	"  port INTEGER NOT NULL,\n"
	"  sni TEXT NOT NULL,            -- '' when the client sent no SNI\n"
	"  first_seen INTEGER NOT NULL,  -- Unix seconds\n"
	"  last_seen INTEGER NOT NULL,\n"
	"  current_leaf TEXT,            -- certificates.sha256 of the leaf served last\n"
	"  UNIQUE (address, port, sni)\n"
	");\n"
	"CREATE INDEX endpoints_last_seen ON endpoints (last_seen);\n"
	"CREATE TABLE certificates (\n"
	"  sha256 TEXT PRIMARY KEY,      -- uppercase hex of the DER\n"
	"  serial TEXT,                  -- uppercase hex\n"
	"  subject TEXT,                 -- RFC 2253\n"
	"  issuer TEXT,\n"
	"  issuer_cn TEXT,\n"
	"  sans TEXT,                    -- JSON array\n"
	"  names_sha256 TEXT,            -- digest of subject and sorted SANs (renewals)\n"
	"  key_type TEXT,\n"
	"  not_before INTEGER,           -- Unix seconds\n"
	"  not_after INTEGER,\n"
	"  parse_error TEXT,             -- NULL when it parsed\n"
	"  der_len INTEGER NOT NULL,\n"
	"  der BLOB                      -- NULL when longer than the bound\n"
	");\n"
	"CREATE TABLE served (           -- one row per leaf an endpoint served\n"
	"  endpoint_id INTEGER NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,\n"
	"  leaf_sha256 TEXT NOT NULL,    -- certificates.sha256\n"
	"  first_seen INTEGER NOT NULL,\n"
	"  last_seen INTEGER NOT NULL,\n"
	"  handshakes INTEGER NOT NULL,\n"
	"  verdict TEXT,                 -- worst finding of the last handshake, or 'ok'\n"
	"  PRIMARY KEY (endpoint_id, leaf_sha256)\n"
	");\n"
	"CREATE INDEX served_last_seen ON served (last_seen);\n"
	"CREATE TABLE chains (           -- the chain last sent with each served leaf\n"
	"  endpoint_id INTEGER NOT NULL,\n"
	"  leaf_sha256 TEXT NOT NULL,\n"
	"  position INTEGER NOT NULL,    -- 0 is the leaf\n"
	"  cert_sha256 TEXT NOT NULL,    -- certificates.sha256\n"
	"  PRIMARY KEY (endpoint_id, leaf_sha256, position),\n"
	"  FOREIGN KEY (endpoint_id, leaf_sha256) REFERENCES served ON DELETE CASCADE\n"
	");\n"
	"CREATE INDEX chains_cert ON chains (cert_sha256);\n";

static const char *const stmt_sql[ST_MAX] = {
	[ST_LOAD] =
		"SELECT s.leaf_sha256, s.first_seen, s.last_seen, s.handshakes, s.verdict,"
		" c.serial, c.issuer, c.key_type, c.names_sha256, c.not_before, c.not_after,"
		" c.sha256 IS NOT NULL AND c.parse_error IS NULL, e.first_seen, e.last_seen, e.id"
		" FROM endpoints e JOIN served s ON s.endpoint_id = e.id"
		" LEFT JOIN certificates c ON c.sha256 = s.leaf_sha256"
		" WHERE e.address = ?1 AND e.port = ?2 AND e.sni = ?3"
		" ORDER BY s.last_seen DESC LIMIT ?4",
	[ST_EP_UPSERT] =
		"INSERT INTO endpoints (address, port, sni, first_seen, last_seen, current_leaf)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (address, port, sni) DO UPDATE SET"
		" first_seen = min(first_seen, excluded.first_seen),"
		" last_seen = max(last_seen, excluded.last_seen),"
		" current_leaf = excluded.current_leaf"
		" RETURNING id",
	[ST_EP_UPDATE] = "UPDATE endpoints SET first_seen = min(first_seen, ?2),"
			 " last_seen = max(last_seen, ?3), current_leaf = ?4 WHERE id = ?1",
	[ST_SERVED_UPSERT] =
		"INSERT INTO served (endpoint_id, leaf_sha256, first_seen, last_seen, handshakes,"
		" verdict) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (endpoint_id, leaf_sha256)"
		" DO UPDATE SET first_seen = excluded.first_seen, last_seen = excluded.last_seen,"
		" handshakes = excluded.handshakes, verdict = excluded.verdict",
	[ST_CHAIN_DEL] = "DELETE FROM chains WHERE endpoint_id = ?1 AND leaf_sha256 = ?2",
	[ST_CHAIN_INS] = "INSERT INTO chains (endpoint_id, leaf_sha256, position, cert_sha256)"
			 " VALUES (?1, ?2, ?3, ?4)",
	[ST_CERT_INS] =
		"INSERT INTO certificates (sha256, serial, subject, issuer, issuer_cn, sans,"
		" names_sha256, key_type, not_before, not_after, parse_error, der_len, der)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
		" ON CONFLICT (sha256) DO NOTHING",
	[ST_TRIM] = "DELETE FROM served WHERE endpoint_id = ?1 AND leaf_sha256 NOT IN"
		    " (SELECT leaf_sha256 FROM served WHERE endpoint_id = ?1"
		    " ORDER BY last_seen DESC LIMIT ?2)",
};

/* The whole of a memory database merged into the file attached as disk:
 * newest wins for what is served now, counts keep the larger. */
static const char merge_sql[] =
	"INSERT INTO disk.certificates SELECT * FROM main.certificates WHERE true"
	" ON CONFLICT (sha256) DO NOTHING;"
	"INSERT INTO disk.endpoints (address, port, sni, first_seen, last_seen, current_leaf)"
	" SELECT address, port, sni, first_seen, last_seen, current_leaf FROM main.endpoints"
	" WHERE true ON CONFLICT (address, port, sni) DO UPDATE SET"
	" first_seen = min(first_seen, excluded.first_seen),"
	" current_leaf = CASE WHEN excluded.last_seen >= last_seen"
	"  THEN excluded.current_leaf ELSE current_leaf END,"
	" last_seen = max(last_seen, excluded.last_seen);"
	"INSERT INTO disk.served (endpoint_id, leaf_sha256, first_seen, last_seen, handshakes,"
	" verdict) SELECT d.id, s.leaf_sha256, s.first_seen, s.last_seen, s.handshakes,"
	" s.verdict FROM main.served s JOIN main.endpoints m ON m.id = s.endpoint_id"
	" JOIN disk.endpoints d ON d.address = m.address AND d.port = m.port AND d.sni = m.sni"
	" WHERE true ON CONFLICT (endpoint_id, leaf_sha256) DO UPDATE SET"
	" first_seen = min(first_seen, excluded.first_seen),"
	" verdict = CASE WHEN excluded.last_seen >= last_seen"
	"  THEN excluded.verdict ELSE verdict END,"
	" last_seen = max(last_seen, excluded.last_seen),"
	" handshakes = max(handshakes, excluded.handshakes);"
	"DELETE FROM disk.chains WHERE (endpoint_id, leaf_sha256) IN"
	" (SELECT d.id, c.leaf_sha256 FROM main.chains c JOIN main.endpoints m"
	" ON m.id = c.endpoint_id JOIN disk.endpoints d ON d.address = m.address"
	" AND d.port = m.port AND d.sni = m.sni);"
	"INSERT INTO disk.chains SELECT d.id, c.leaf_sha256, c.position, c.cert_sha256"
	" FROM main.chains c JOIN main.endpoints m ON m.id = c.endpoint_id"
	" JOIN disk.endpoints d ON d.address = m.address AND d.port = m.port AND d.sni = m.sni"
	" JOIN disk.served v ON v.endpoint_id = d.id AND v.leaf_sha256 = c.leaf_sha256;";

/* ---- connections ---- */

static void conn_close(struct dbconn *c)
{
	for (int i = 0; i < ST_MAX; i++)
		sqlite3_finalize(c->st[i]);
	sqlite3_close_v2(c->db);
	memset(c, 0, sizeof(*c));
}

static int exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* One integer (or the first column of the first row as text into txt). */
static int query1(sqlite3 *db, const char *sql, int64_t *v, char *txt, size_t cap)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (v)
			*v = sqlite3_column_int64(st, 0);
		if (txt)
			snprintf(txt, cap, "%s", (const char *)sqlite3_column_text(st, 0) ?: "");
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

static int prepare_all(struct dbconn *c)
{
	for (int i = 0; i < ST_MAX; i++) {
		int rc = sqlite3_prepare_v3(c->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					    &c->st[i], NULL);

		if (rc != SQLITE_OK)
			return rc;
	}
	return SQLITE_OK;
}

static int create_schema(sqlite3 *db)
{
	char sql[sizeof(schema_sql) + 128];
	int rc;

	snprintf(sql, sizeof(sql), "BEGIN IMMEDIATE;%sPRAGMA user_version = %d;COMMIT;", schema_sql,
		 INV_SCHEMA_VERSION);
	rc = exec(db, sql);
	if (rc != SQLITE_OK)
		exec(db, "ROLLBACK");
	return rc;
}

static int mem_open(struct dbconn *c)
{
	int rc = sqlite3_open_v2(":memory:", &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
				 NULL);

	c->memory = true;
	if (rc == SQLITE_OK)
		rc = exec(c->db, "PRAGMA foreign_keys = ON");
	if (rc == SQLITE_OK)
		rc = create_schema(c->db);
	if (rc == SQLITE_OK)
		rc = prepare_all(c);
	if (rc != SQLITE_OK)
		conn_close(c);
	return rc;
}

static int mkdir_p(const char *dir, mode_t mode)
{
	char p[PATH_MAX];
	struct stat sb;
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(p))
		return errno = ENAMETOOLONG, -1;
	memcpy(p, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		p[i] = '\0';
		if (mkdir(p, mode) && errno != EEXIST)
			return -1;
		p[i] = i == n ? '\0' : '/';
	}
	if (stat(dir, &sb))
		return -1;
	return S_ISDIR(sb.st_mode) ? 0 : (errno = ENOTDIR, -1);
}

/* The file is not (or no longer) a database of ours: keep the last one for
 * a post-mortem beside the new one, never more. */
static void move_aside(struct inventory *inv, char *aside, size_t cap)
{
	char p[PATH_MAX + 16];

	snprintf(aside, cap, "%s.corrupt", inv->path);
	if (rename(inv->path, aside)) {
		snprintf(aside, cap, "nowhere (%s), removed", strerror(errno));
		unlink(inv->path);
	}
	snprintf(p, sizeof(p), "%s-wal", inv->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", inv->path);
	unlink(p);
}

/* Checks an opened file is an inventory we can use, creating the schema in
 * an empty one. SQLITE_NOTADB when it is something else. */
static int file_setup(struct inventory *inv, struct dbconn *c, int64_t *version)
{
	char txt[64];
	int64_t tables = 0;
	int rc;

	sqlite3_extended_result_codes(c->db, 1);
	rc = query1(c->db, "PRAGMA user_version", version, NULL, 0);
	if (rc != SQLITE_OK)
		return rc;
	if (*version > INV_SCHEMA_VERSION)
		return SQLITE_OK;
	rc = query1(c->db, "SELECT count(*) FROM sqlite_schema", &tables, NULL, 0);
	if (rc != SQLITE_OK)
		return rc;
	if (*version == 0 && tables > 0)
		return SQLITE_NOTADB; /* some other database */
	rc = query1(c->db, "PRAGMA quick_check", NULL, txt, sizeof(txt));
	if (rc != SQLITE_OK)
		return rc;
	if (strcmp(txt, "ok"))
		return SQLITE_CORRUPT;
	rc = query1(c->db, "PRAGMA journal_mode = WAL", NULL, txt, sizeof(txt));
	if (rc == SQLITE_OK && strcmp(txt, "wal"))
		rc = SQLITE_READONLY;
	if (rc == SQLITE_OK)
		rc = exec(c->db, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;"
				 "PRAGMA journal_size_limit = 8388608");
	if (rc == SQLITE_OK) {
		char sql[96];
		int64_t page = 4096;

		query1(c->db, "PRAGMA page_size", &page, NULL, 0);
		if (page <= 0)
			page = 4096;
		snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %lld",
			 (long long)((int64_t)inv->o.max_db_mb * (1 << 20) / page));
		rc = query1(c->db, sql, NULL, NULL, 0);
	}
	if (rc == SQLITE_OK && *version == 0)
		rc = create_schema(c->db);
	if (rc == SQLITE_OK)
		rc = prepare_all(c);
	return rc;
}

/*
 * Opens the file, creating directory and file, and recreating it once if
 * it is not a usable inventory (reported as CORRUPT). -1 with *why and msg
 * when the file cannot be used now.
 */
static int file_open(struct inventory *inv, struct dbconn *c, enum inv_error *why, char *msg,
		     size_t cap)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		int64_t version = 0;
		char aside[PATH_MAX + 64];
		int fd, rc;

		if (mkdir_p(inv->dir, 0750)) {
			*why = INV_ERR_STATE_DIR;
			snprintf(msg, cap, "state directory %s: %s", inv->dir, strerror(errno));
			return -1;
		}
		fd = open(inv->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
		if (fd < 0) {
			*why = errno == ENOSPC || errno == EDQUOT ? INV_ERR_WRITE :
								    INV_ERR_STATE_DIR;
			snprintf(msg, cap, "%s: %s", inv->path, strerror(errno));
			return -1;
		}
		close(fd);
		rc = sqlite3_open_v2(inv->path, &c->db, SQLITE_OPEN_READWRITE, NULL);
		if (rc == SQLITE_OK)
			rc = file_setup(inv, c, &version);
		if (rc == SQLITE_OK && version > INV_SCHEMA_VERSION) {
			*why = INV_ERR_VERSION;
			snprintf(msg, cap,
				 "%s: schema version %lld is newer than this certsentry's"
				 " (%d); left alone",
				 inv->path, (long long)version, INV_SCHEMA_VERSION);
			conn_close(c);
			return -1;
		}
		if (rc == SQLITE_OK)
			return 0;
		*why = classify(rc);
		snprintf(msg, cap, "%s: %s", inv->path, rc_text(c->db, rc));
		conn_close(c);
		if (*why != INV_ERR_CORRUPT || attempt)
			return -1;
		move_aside(inv, aside, sizeof(aside));
		report(inv, INV_ERR_CORRUPT, "%s; moved aside to %s, starting a new inventory", msg,
		       aside);
	}
	return -1;
}

/*
 * Opens path read-only if it is an inventory of this schema version
 * (SQLITE_NOTADB if not). Without a -shm file that could be made (a
 * read-only directory, nobody running), as immutable: nobody can be
 * writing it then; never while a lock is held.
 */
static int open_readonly(const char *path, sqlite3 **db)
{
	char uri[PATH_MAX + 32];
	int rc = SQLITE_CANTOPEN;

	/* As a URI, '?', '#' and '%' in the path would mean something else. */
	for (int immutable = 0; immutable < 2 && !strpbrk(path, "?#%"); immutable++) {
		int64_t version = 0;

		snprintf(uri, sizeof(uri), "file:%s%s", path, immutable ? "?immutable=1" : "");
		rc = sqlite3_open_v2(uri, db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
		if (rc == SQLITE_OK)
			rc = query1(*db, "PRAGMA user_version", &version, NULL, 0);
		if (rc == SQLITE_OK && version != INV_SCHEMA_VERSION)
			rc = SQLITE_NOTADB;
		if (rc == SQLITE_OK)
			return rc;
		if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED ||
		    (rc & 0xff) == SQLITE_NOTADB || immutable)
			break;
		sqlite3_close_v2(*db);
		*db = NULL;
	}
	return rc & 0xff;
}

/* In memory after a failure, the file may still read (a writer holds the
 * lock, the directory or the disk is read-only or full): opened read-only
 * for the history of endpoints the memory does not know yet. */
static void ro_open(struct inventory *inv)
{
	struct dbconn *c = &inv->ro;

	if (c->db || inv->o.memory_only || access(inv->path, R_OK))
		return;
	if (open_readonly(inv->path, &c->db) != SQLITE_OK ||
	    sqlite3_prepare_v3(c->db, stmt_sql[ST_LOAD], -1, SQLITE_PREPARE_PERSISTENT,
			       &c->st[ST_LOAD], NULL) != SQLITE_OK)
		conn_close(c);
}

/* ---- the hot endpoints ---- */

static uint64_t ep_hash(const struct inventory *inv, uint8_t family, const uint8_t *addr,
			uint16_t port, const char *sni)
{
	uint64_t h = hash_more(&inv->tab.seed, (uint64_t)family << 16 | port, addr, 16);

	return sni ? hash_more(&inv->tab.seed, h, sni, strlen(sni)) : h;
}

static bool ep_match(const struct endpoint *e, uint8_t family, const uint8_t *addr, uint16_t port,
		     const char *sni)
{
	return e->family == family && e->port == port && !memcmp(e->addr, addr, 16) &&
	       e->has_sni == (sni != NULL) && (!sni || !strcmp(e->sni, sni));
}

static void ep_set_dirty(struct inventory *inv, struct endpoint *e)
{
	if (e->dirty)
		return;
	e->dirty = true;
	e->dnext = inv->dirty;
	inv->dirty = e;
}

static void leaf_free(struct leaf *l)
{
	free(l->issuer);
	free(l->pc);
	l->issuer = NULL;
	l->pc = NULL;
}

static void ep_free(struct endpoint *e)
{
	for (uint32_t i = 0; i < e->n_leaves; i++)
		leaf_free(&e->leaves[i]);
	free(e->leaves);
	free(e);
}

static int slot_of(struct endpoint *e, const char *key_type)
{
	uint32_t i;

	for (i = 0; i < e->n_slots; i++)
		if (!strcmp(e->slots[i].key_type, key_type))
			return (int)i;
	if (e->n_slots == SLOTS_MAX)
		return SLOTS_MAX - 1; /* a fifth key type shares the last slot */
	memset(&e->slots[i], 0, sizeof(e->slots[i]));
	snprintf(e->slots[i].key_type, sizeof(e->slots[i].key_type), "%s", key_type);
	e->slots[i].est = -1;
	e->n_slots++;
	return (int)i;
}

/* The slot's leaf served last: what it serves, as far as anyone can tell. */
static int slot_latest(const struct endpoint *e, int slot, int except)
{
	int best = -1;

	for (uint32_t i = 0; i < e->n_leaves; i++)
		if (e->leaves[i].slot == slot && (int)i != except &&
		    (best < 0 || e->leaves[i].last_ns > e->leaves[best].last_ns))
			best = (int)i;
	return best;
}

static bool leaf_grow(struct endpoint *e, uint32_t max)
{
	struct leaf *n;
	uint32_t cap;

	if (e->n_leaves < e->cap_leaves)
		return true;
	cap = e->cap_leaves ? e->cap_leaves * 2 : 2;
	if (cap > max)
		cap = max;
	n = realloc(e->leaves, cap * sizeof(*n));
	if (!n)
		return false;
	e->leaves = n;
	e->cap_leaves = cap;
	return true;
}

/* Drops leaf i: the last moves into its place; a slot whose established
 * leaf went falls back on its latest other. */
static void leaf_remove(struct endpoint *e, uint32_t i)
{
	uint32_t last = e->n_leaves - 1;

	leaf_free(&e->leaves[i]);
	if (i != last)
		e->leaves[i] = e->leaves[last];
	e->n_leaves--;
	if (e->current == (int)i)
		e->current = -1;
	else if (e->current == (int)last)
		e->current = (int)i;
	for (uint32_t s = 0; s < e->n_slots; s++) {
		struct slot *sl = &e->slots[s];

		if (sl->est == (int)i)
			sl->est = slot_latest(e, (int)s, -1);
		else if (sl->est == (int)last)
			sl->est = (int)i;
	}
	e->trim = true;
}

/* The endpoint's rows from one database, newest first; an SQLite code. */
static int load_rows(struct inventory *inv, sqlite3_stmt *st, struct endpoint *e)
{
	int rc;

	sqlite3_bind_text(st, 1, e->addr_text, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, e->port);
	sqlite3_bind_text(st, 3, e->has_sni ? e->sni : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, (int)inv->o.max_leaves);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct leaf *l;
		const char *s;

		if (!leaf_grow(e, inv->o.max_leaves))
			break;
		l = &e->leaves[e->n_leaves];
		memset(l, 0, sizeof(*l));
		if (!hex_parse((const char *)sqlite3_column_text(st, 0), l->sha, 32))
			continue;
		l->first_ns = to_ns(sqlite3_column_int64(st, 1));
		l->last_ns = to_ns(sqlite3_column_int64(st, 2));
		l->handshakes = (uint64_t)sqlite3_column_int64(st, 3);
		snprintf(l->verdict, sizeof(l->verdict), "%s",
			 (const char *)sqlite3_column_text(st, 4) ?: "");
		copy_cut(l->serial, sizeof(l->serial), (const char *)sqlite3_column_text(st, 5),
			 INV_SERIAL_MAX);
		s = (const char *)sqlite3_column_text(st, 6);
		if (s && (l->issuer = malloc(INV_ISSUER_MAX + 4)))
			copy_cut(l->issuer, INV_ISSUER_MAX + 4, s, INV_ISSUER_MAX);
		snprintf(l->key_type, sizeof(l->key_type), "%s",
			 (const char *)sqlite3_column_text(st, 7) ?: "");
		l->names_known = hex_parse((const char *)sqlite3_column_text(st, 8), l->names, 32);
		l->not_before = sqlite3_column_int64(st, 9);
		l->not_after = sqlite3_column_int64(st, 10);
		l->parsed = sqlite3_column_int(st, 11);
		e->first_ns = to_ns(sqlite3_column_int64(st, 12));
		e->last_ns = to_ns(sqlite3_column_int64(st, 13));
		e->id = sqlite3_column_int64(st, 14);
		l->slot = (uint8_t)slot_of(e, l->key_type);
		e->n_leaves++;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/*
 * Loads the endpoint's history. A failed read leaves it empty and marks the
 * connection for inventory_flush() to deal with. In memory after a
 * failure, an endpoint the memory does not know is looked up in the file,
 * read-only, when that still reads: decisions keep its history, and its
 * rows are copied into memory.
 */
static void ep_load(struct inventory *inv, struct endpoint *e)
{
	int rc;

	if (!inv->c.st[ST_LOAD])
		return;
	rc = load_rows(inv, inv->c.st[ST_LOAD], e);
	if (rc != SQLITE_OK && !inv->broken_rc)
		inv->broken_rc = rc;
	if (!e->n_leaves && inv->c.memory && inv->ro.st[ST_LOAD] &&
	    load_rows(inv, inv->ro.st[ST_LOAD], e) == SQLITE_OK) {
		e->id = 0; /* the file's, not the memory's */
		for (uint32_t i = 0; i < e->n_leaves; i++)
			e->leaves[i].dirty = true;
	}
	for (uint32_t s = 0; s < e->n_slots; s++)
		e->slots[s].est = slot_latest(e, (int)s, -1);
	e->current = e->n_leaves ? 0 : -1; /* rows come newest first */
}

static int flush_writes(struct inventory *inv, int64_t now);

static void ep_unlink(struct inventory *inv, struct endpoint *e)
{
	struct endpoint **pp;

	htab_del(&inv->tab, &e->h);
	lru_unlink(&inv->lru, &e->lru);
	if (e->dirty) { /* only when even memory could not take it */
		for (pp = &inv->dirty; *pp && *pp != e; pp = &(*pp)->dnext)
			;
		if (*pp)
			*pp = e->dnext;
	}
	inv->st.hot--;
}

/* Makes room: the least recently used endpoint goes, written first. */
static void ep_evict(struct inventory *inv)
{
	struct endpoint *e = lru_entry(inv->lru.tail, struct endpoint, lru);

	if (!e)
		return;
	if (e->dirty) { /* more endpoints than hot since the last flush */
		inv->st.forced_flushes++;
		flush_writes(inv, inv->now_ns);
	}
	ep_unlink(inv, e);
	ep_free(e);
	inv->st.evictions++;
}

static struct endpoint *ep_get(struct inventory *inv, const struct report_endpoint *srv,
			       const char *sni)
{
	uint8_t addr[16] = { 0 };
	struct endpoint *e;
	struct hnode *n;
	uint64_t h;

	memcpy(addr, srv->addr, srv->family == CS_AF_INET6 ? 16 : 4);
	h = ep_hash(inv, srv->family, addr, srv->port, sni);
	htab_for_hash(&inv->tab, h, n)
	{
		e = htab_entry(n, struct endpoint, h);
		if (ep_match(e, srv->family, addr, srv->port, sni)) {
			lru_touch(&inv->lru, &e->lru);
			inv->st.hot_hits++;
			return e;
		}
	}
	if (inv->st.hot >= inv->o.hot)
		ep_evict(inv);
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->family = srv->family;
	memcpy(e->addr, addr, 16);
	e->port = srv->port;
	e->has_sni = sni != NULL;
	if (sni)
		memcpy(e->sni, sni, strlen(sni) + 1);
	if (!fmt_ip(srv, e->addr_text, sizeof(e->addr_text)))
		snprintf(e->addr_text, sizeof(e->addr_text), "?");
	e->first_ns = INT64_MAX;
	e->last_ns = INT64_MIN;
	e->current = -1;
	inv->st.loads++;
	ep_load(inv, e);
	htab_add(&inv->tab, &e->h, h);
	lru_push(&inv->lru, &e->lru);
	inv->st.hot++;
	return e;
}

/* After a switch of database everything in memory is written again; chains
 * (with their certificates) at the next sighting of each leaf. */
static void known_clear(struct inventory *inv)
{
	if (inv->known)
		memset(inv->known, 0, KNOWN_CERTS * sizeof(*inv->known));
}

static uint8_t *known_slot(struct inventory *inv, const uint8_t sha[32])
{
	uint32_t k;

	memcpy(&k, sha, sizeof(k)); /* a digest: its bytes are already mixed */
	return inv->known ? inv->known[k % KNOWN_CERTS] : NULL;
}

static void mark_all_dirty(struct inventory *inv)
{
	for (struct lru_node *n = inv->lru.head; n; n = n->next) {
		struct endpoint *e = lru_entry(n, struct endpoint, lru);

		e->id = 0;
		for (uint32_t i = 0; i < e->n_leaves; i++) {
			e->leaves[i].dirty = true;
			e->leaves[i].chain_hash = 0;
			free(e->leaves[i].pc);
			e->leaves[i].pc = NULL;
		}
		ep_set_dirty(inv, e);
	}
	known_clear(inv);
}

/* ---- pending certificate rows ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Subject and the set of SANs: equal for a renewal of the same names. */
static bool names_digest(const struct cert_facts *f, uint8_t out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char **s = NULL;
	bool ok = false;

	if (!ctx || (f->n_sans && !(s = malloc(f->n_sans * sizeof(*s)))))
		goto out;
	for (uint32_t i = 0; i < f->n_sans; i++)
		s[i] = f->sans[i];
	if (f->n_sans)
		qsort(s, f->n_sans, sizeof(*s), cmp_str);
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		goto out;
	EVP_DigestUpdate(ctx, f->subject_dn ? f->subject_dn : "",
			 f->subject_dn ? strlen(f->subject_dn) + 1 : 1);
	EVP_DigestUpdate(ctx, &f->total_sans, sizeof(f->total_sans));
	for (uint32_t i = 0; i < f->n_sans; i++)
		EVP_DigestUpdate(ctx, s[i], strlen(s[i]) + 1);
	ok = EVP_DigestFinal_ex(ctx, out, NULL) == 1;
out:
	free(s);
	EVP_MD_CTX_free(ctx);
	return ok;
}

static char *sans_json(const struct cert_facts *f)
{
	size_t cap = 3 + JW_CAP_MIN;
	struct jw w;
	char *buf;

	for (uint32_t i = 0; i < f->n_sans && cap < SANS_JSON_MAX; i++)
		cap += 6 * strlen(f->sans[i]) + 3;
	if (cap > SANS_JSON_MAX)
		cap = SANS_JSON_MAX;
	if (!(buf = malloc(cap)))
		return NULL;
	jw_init(&w, buf, cap);
	jw_arr_begin(&w, NULL);
	for (uint32_t i = 0; i < f->n_sans; i++)
		jw_str(&w, NULL, f->sans[i]);
	jw_arr_end(&w);
	jw_finish(&w);
	return buf;
}

static void pcert_free(struct pcert *p)
{
	free(p->serial);
	free(p->subject);
	free(p->issuer);
	free(p->issuer_cn);
	free(p->sans);
	free(p->parse_error);
	free(p);
}

static struct pcert *pcert_new(const struct cert_facts *f)
{
	uint32_t keep = f->der && f->der_len <= INV_DER_MAX ? f->der_len : 0;
	struct pcert *p = calloc(1, sizeof(*p) + keep);
	uint8_t names[32];

	if (!p)
		return NULL;
	memcpy(p->sha256, f->sha256, 32);
	fmt_hex(p->sha, sizeof(p->sha), f->sha256, 32, true);
	p->der_len = f->der_len;
	p->der_kept = keep;
	if (keep)
		memcpy(p->der, f->der, keep);
	p->parsed = f->parse_ok;
	if (f->parse_ok) {
		p->serial = strdup(f->serial_hex ? f->serial_hex : "");
		p->subject = strdup(f->subject_dn ? f->subject_dn : "");
		p->issuer = strdup(f->issuer_dn ? f->issuer_dn : "");
		p->issuer_cn = f->issuer_cn ? strdup(f->issuer_cn) : NULL;
		p->sans = sans_json(f);
		p->not_before = f->not_before;
		p->not_after = f->not_after;
		snprintf(p->key_type, sizeof(p->key_type), "%s", f->key_alg);
		if ((p->names_known = names_digest(f, names)))
			fmt_hex(p->names, sizeof(p->names), names, 32, true);
		if (!p->serial || !p->subject || !p->issuer || !p->sans) {
			pcert_free(p);
			return NULL;
		}
	} else if (!(p->parse_error =
			     strdup(f->parse_error[0] ? f->parse_error : "did not parse"))) {
		pcert_free(p);
		return NULL;
	}
	return p;
}

/* Queues the chain of leaf l (and its certificates) for the next flush;
 * false when the pending bound is reached (tried again next sighting). */
static bool queue_chain(struct inventory *inv, struct leaf *l, struct cert_facts *const *chain,
			uint32_t n)
{
	struct pcert *first = NULL, **tail = &first;
	size_t bytes = 0;
	uint32_t m = 0;

	if (n > INV_CHAIN_MAX)
		n = INV_CHAIN_MAX;
	while (m < n && chain[m])
		m++;
	if (inv->n_pending + m > PENDING_MAX || inv->pending_bytes > PENDING_BYTES) {
		inv->st.pending_dropped++;
		return false;
	}
	if (!l->pc && !(l->pc = malloc(sizeof(*l->pc))))
		return false;
	for (uint32_t i = 0; i < m; i++) {
		uint8_t *k = known_slot(inv, chain[i]->sha256);
		struct pcert *p;

		memcpy(l->pc->sha[i], chain[i]->sha256, 32);
		if (k && !memcmp(k, chain[i]->sha256, 32))
			continue; /* stored already */
		if (!(p = pcert_new(chain[i]))) {
			while (first) {
				struct pcert *nx = first->next;

				pcert_free(first);
				first = nx;
			}
			free(l->pc);
			l->pc = NULL;
			return false;
		}
		*tail = p;
		tail = &p->next;
		bytes += sizeof(*p) + p->der_kept;
	}
	/* Known from now: pending rows are written before anything else can
	 * be (a failed write keeps them, and a new database clears known). */
	for (struct pcert *p = first; p; p = p->next) {
		uint8_t *k = known_slot(inv, p->sha256);

		if (k)
			memcpy(k, p->sha256, 32);
	}
	l->pc->n = m;
	*tail = inv->pending;
	inv->pending = first;
	inv->n_pending += m;
	inv->pending_bytes += bytes;
	return true;
}

static void pending_clear(struct inventory *inv)
{
	while (inv->pending) {
		struct pcert *nx = inv->pending->next;

		pcert_free(inv->pending);
		inv->pending = nx;
	}
	inv->n_pending = 0;
	inv->pending_bytes = 0;
}

/* ---- leaves ---- */

static int leaf_find(const struct endpoint *e, const uint8_t sha[32])
{
	if (e->current >= 0 && !memcmp(e->leaves[e->current].sha, sha, 32))
		return e->current;
	for (uint32_t i = 0; i < e->n_leaves; i++)
		if (!memcmp(e->leaves[i].sha, sha, 32))
			return (int)i;
	return -1;
}

static int leaf_add(struct inventory *inv, struct endpoint *e, const struct cert_facts *f)
{
	struct leaf *l;

	if (e->n_leaves >= inv->o.max_leaves) {
		uint32_t old = 0;

		for (uint32_t i = 1; i < e->n_leaves; i++)
			if (e->leaves[i].last_ns < e->leaves[old].last_ns)
				old = i;
		leaf_remove(e, old);
		inv->st.pruned_leaves++;
	}
	if (!leaf_grow(e, inv->o.max_leaves))
		return -1;
	l = &e->leaves[e->n_leaves];
	memset(l, 0, sizeof(*l));
	memcpy(l->sha, f->sha256, 32);
	l->first_ns = l->last_ns = INT64_MIN;
	l->parsed = f->parse_ok;
	if (f->parse_ok) {
		copy_cut(l->serial, sizeof(l->serial), f->serial_hex, INV_SERIAL_MAX);
		if (f->issuer_dn && (l->issuer = malloc(INV_ISSUER_MAX + 4)))
			copy_cut(l->issuer, INV_ISSUER_MAX + 4, f->issuer_dn, INV_ISSUER_MAX);
		snprintf(l->key_type, sizeof(l->key_type), "%s", f->key_alg);
		l->not_before = f->not_before;
		l->not_after = f->not_after;
		l->names_known = names_digest(f, l->names);
	}
	l->slot = (uint8_t)slot_of(e, l->key_type);
	return (int)e->n_leaves++;
}

static uint64_t chain_hash(const struct inventory *inv, struct cert_facts *const *chain, uint32_t n)
{
	uint64_t h = 0;

	if (n > INV_CHAIN_MAX)
		n = INV_CHAIN_MAX;
	for (uint32_t i = 0; i < n && chain[i]; i++)
		h = hash_more(&inv->tab.seed, h, chain[i]->sha256, 32);
	return h | 1;
}

static void leaf_touch(struct inventory *inv, struct leaf *l, struct cert_facts *const *chain,
		       uint32_t n, const char *verdict, int64_t t)
{
	uint64_t ch;

	if (l->last_ns == INT64_MIN)
		l->first_ns = l->last_ns = t;
	else if (t > l->last_ns)
		l->last_ns = t;
	else if (t < l->first_ns)
		l->first_ns = t;
	l->handshakes++;
	slide_add(&l->win, t, inv->window_ns);
	slide_add(&l->hold, t, inv->hold_ns);
	if (verdict && strncmp(l->verdict, verdict, sizeof(l->verdict) - 1))
		snprintf(l->verdict, sizeof(l->verdict), "%s", verdict);
	ch = chain_hash(inv, chain, n);
	if (ch != l->chain_hash && queue_chain(inv, l, chain, n))
		l->chain_hash = ch;
	l->dirty = true;
}

/* ---- decisions ---- */

static void leaf_info(const struct leaf *l, struct inventory_leaf *out)
{
	fmt_hex(out->sha256, sizeof(out->sha256), l->sha, 32, true);
	snprintf(out->serial, sizeof(out->serial), "%s", l->serial);
	snprintf(out->issuer, sizeof(out->issuer), "%s", l->issuer ? l->issuer : "");
	snprintf(out->key_type, sizeof(out->key_type), "%s", l->key_type);
	out->parsed = l->parsed;
	out->not_before = l->not_before;
	out->not_after = l->not_after;
	out->first_seen = to_s(l->first_ns);
	out->last_seen = to_s(l->last_ns);
	out->handshakes = l->handshakes;
}

static int cmp_share(const void *a, const void *b)
{
	const struct inventory_share *x = a, *y = b;

	return x->handshakes < y->handshakes ? 1 : x->handshakes > y->handshakes ? -1 : 0;
}

/* cert.inconsistent for the slot: the leaves served within the span, with
 * their shares; said at most once per repeat_s. */
static uint32_t inconsistent(struct inventory *inv, struct endpoint *e, struct slot *s,
			     bool flapping, int64_t t, struct inventory_decision *d)
{
	int64_t span = flapping ? inv->hold_ns : inv->window_ns;
	int slot = (int)(s - e->slots);
	struct inventory_share sh[INV_SHARES_MAX];
	uint64_t total = 0;
	uint32_t n = 0, seen = 0;

	if (s->incons_ns && later_minus(t, s->incons_ns) < inv->repeat_ns) {
		inv->st.inconsistent_held++;
		return 0;
	}
	for (uint32_t i = 0; i < e->n_leaves; i++) {
		const struct leaf *l = &e->leaves[i];
		uint64_t c;

		if (l->slot != slot || later_minus(t, l->last_ns) >= span)
			continue;
		seen++;
		c = slide_count(flapping ? &l->hold : &l->win, t, span);
		c = c ? c : 1;
		if (n < INV_SHARES_MAX) {
			leaf_info(l, &sh[n].leaf);
			sh[n++].handshakes = c;
		} else if (c > sh[INV_SHARES_MAX - 1].handshakes) {
			leaf_info(l, &sh[INV_SHARES_MAX - 1].leaf);
			sh[INV_SHARES_MAX - 1].handshakes = c;
		}
		qsort(sh, n, sizeof(sh[0]), cmp_share);
	}
	if (seen < 2)
		return 0;
	s->incons_ns = t;
	inv->st.inconsistent++;
	if (d) {
		for (uint32_t i = 0; i < n; i++)
			total += sh[i].handshakes;
		for (uint32_t i = 0; i < n; i++) {
			d->shares[i] = sh[i];
			d->shares[i].permille = (uint32_t)(sh[i].handshakes * 1000 / total);
		}
		d->n_shares = n;
		d->window_s = (uint32_t)(span / NS);
	}
	return INV_INCONSISTENT | (flapping ? INV_FLAPPING : 0);
}

static bool is_flapping(const struct inventory *inv, const struct slot *s, int64_t t)
{
	int64_t oldest = s->changes[INV_FLAP_CHANGES - 1];

	return oldest && later_minus(t, oldest) < inv->hold_ns;
}

enum change_kind { CH_NEW, CH_RETURN, CH_KEY_TYPE };

/* The slot's established leaf pi gives way to xi. */
static uint32_t change(struct inventory *inv, struct endpoint *e, struct slot *s, int pi, int xi,
		       enum change_kind kind, int64_t prev_seen, int64_t t,
		       struct inventory_decision *d)
{
	const struct leaf *p = &e->leaves[pi], *x = &e->leaves[xi];
	bool both = p->parsed && x->parsed;
	uint32_t flags = INV_CHANGED, why = 0;

	if (kind != CH_KEY_TYPE && is_flapping(inv, s, t)) {
		s->est = xi;
		inv->st.flapping++;
		return inconsistent(inv, e, s, true, t, d);
	}
	memmove(&s->changes[1], &s->changes[0], sizeof(s->changes) - sizeof(s->changes[0]));
	s->changes[0] = t;
	s->est = xi;
	inv->st.changed++;
	if (kind == CH_KEY_TYPE) {
		flags |= INV_NEW_KEY_TYPE; /* dates across key types say nothing */
	} else {
		if (both && x->not_before < p->not_before)
			why |= INV_RB_ISSUED_BEFORE;
		if (kind == CH_RETURN && !(both && x->not_before > p->not_before))
			why |= INV_RB_SERVED_BEFORE;
		if (why) {
			flags |= INV_ROLLBACK;
			inv->st.rollback++;
		} else if (kind == CH_NEW && both && x->not_before > p->not_before &&
			   x->names_known && p->names_known && !memcmp(x->names, p->names, 32)) {
			flags |= INV_RENEWAL;
		}
	}
	if (d) {
		leaf_info(p, &d->prev);
		leaf_info(x, &d->cur);
		d->rollback_why = why;
		d->absent_s = kind == CH_RETURN ? to_s(later_minus(t, prev_seen)) : 0;
	}
	return flags;
}

static uint32_t decide(struct inventory *inv, struct endpoint *e, int xi, bool is_new,
		       bool had_leaves, int64_t prev_seen, int64_t t, struct inventory_decision *d)
{
	struct slot *s = &e->slots[e->leaves[xi].slot];
	const struct leaf *c;
	int ci = s->est;

	if (ci < 0) {
		s->est = xi;
		if (!had_leaves) {
			inv->st.first_seen++;
			return INV_FIRST_SEEN;
		}
		ci = e->current >= 0 && e->current != xi ? e->current : -1;
		for (uint32_t i = 0; ci < 0 && i < e->n_leaves; i++)
			if ((int)i != xi)
				ci = (int)i;
		return ci < 0 ? 0 : change(inv, e, s, ci, xi, CH_KEY_TYPE, 0, t, d);
	}
	if (ci == xi)
		return 0;
	if (is_new)
		return change(inv, e, s, ci, xi, CH_NEW, 0, t, d);
	c = &e->leaves[ci];
	/* Never served within a window of each other around the switch: the
	 * returning leaf had stopped (or the established one has). */
	if (later_minus(c->last_ns, prev_seen) >= inv->window_ns ||
	    later_minus(prev_seen, c->last_ns) >= inv->window_ns)
		return change(inv, e, s, ci, xi, CH_RETURN, prev_seen, t, d);
	return inconsistent(inv, e, s, false, t, d);
}

uint32_t inventory_observe(struct inventory *inv, const struct report_endpoint *server,
			   const char *sni, struct cert_facts *const *chain, uint32_t n,
			   const char *verdict, uint64_t ts_ns, struct inventory_decision *d)
{
	char sni_buf[TLS_SNI_MAX + 1];
	struct endpoint *e;
	int64_t t, prev_seen;
	bool is_new, had;
	uint32_t flags;
	int xi;

	if (d) {
		d->flags = d->rollback_why = d->n_shares = 0;
		d->absent_s = 0;
		d->window_s = 0;
	}
	if (!inv)
		return 0;
	inv->st.observations++;
	if (!server || !chain || !n || !chain[0] ||
	    (server->family != CS_AF_INET && server->family != CS_AF_INET6)) {
		inv->st.no_chain++;
		return 0;
	}
	if (sni) {
		size_t k = strnlen(sni, TLS_SNI_MAX);

		memcpy(sni_buf, sni, k);
		sni_buf[k] = '\0';
		sni = sni_buf;
	}
	t = ts_ns > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)ts_ns;
	if (t > inv->clock_ns)
		inv->clock_ns = t;
	if (!(e = ep_get(inv, server, sni)))
		return 0;
	/* The endpoint's clock never goes back: stored times stay ordered, so
	 * a step back cannot make a leaf look absent that was just served. */
	if (e->n_leaves && t < e->last_ns) {
		if (t < e->last_ns - NS)
			inv->st.clock_backwards++;
		t = e->last_ns;
	}
	had = e->n_leaves > 0;
	xi = leaf_find(e, chain[0]->sha256);
	is_new = xi < 0;
	if (is_new && (xi = leaf_add(inv, e, chain[0])) < 0)
		return 0;
	prev_seen = e->leaves[xi].last_ns;
	leaf_touch(inv, &e->leaves[xi], chain, n, verdict, t);
	if (t < e->first_ns)
		e->first_ns = t;
	if (t > e->last_ns)
		e->last_ns = t;
	flags = decide(inv, e, xi, is_new, had, prev_seen, t, d);
	e->current = xi;
	ep_set_dirty(inv, e);
	if (d)
		d->flags = flags;
	return flags;
}

/* ---- writing ---- */

static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static int write_leaf(struct inventory *inv, int64_t id, const struct leaf *l)
{
	sqlite3_stmt *st = inv->c.st[ST_SERVED_UPSERT];
	char sha[65];
	int rc;

	fmt_hex(sha, sizeof(sha), l->sha, 32, true);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, sha, 64, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, to_s(l->first_ns));
	sqlite3_bind_int64(st, 4, to_s(l->last_ns));
	sqlite3_bind_int64(st, 5, (int64_t)(l->handshakes > INT64_MAX ? INT64_MAX : l->handshakes));
	sqlite3_bind_text(st, 6, l->verdict, -1, SQLITE_TRANSIENT);
	if ((rc = step_done(st)) != SQLITE_OK || !l->pc)
		return rc;
	st = inv->c.st[ST_CHAIN_DEL];
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, sha, 64, SQLITE_TRANSIENT);
	if ((rc = step_done(st)) != SQLITE_OK)
		return rc;
	st = inv->c.st[ST_CHAIN_INS];
	for (uint32_t i = 0; i < l->pc->n && rc == SQLITE_OK; i++) {
		char c[65];

		fmt_hex(c, sizeof(c), l->pc->sha[i], 32, true);
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_text(st, 2, sha, 64, SQLITE_TRANSIENT);
		sqlite3_bind_int(st, 3, (int)i);
		sqlite3_bind_text(st, 4, c, 64, SQLITE_TRANSIENT);
		rc = step_done(st);
	}
	return rc;
}

/* The endpoint row: by id when known (cheaper), else inserted or found. */
static int write_endpoint_row(struct inventory *inv, struct endpoint *e)
{
	sqlite3_stmt *st;
	char cur[65] = "";
	int rc;

	if (e->current >= 0)
		fmt_hex(cur, sizeof(cur), e->leaves[e->current].sha, 32, true);
	if (e->id) {
		st = inv->c.st[ST_EP_UPDATE];
		sqlite3_bind_int64(st, 1, e->id);
		sqlite3_bind_int64(st, 2, to_s(e->first_ns));
		sqlite3_bind_int64(st, 3, to_s(e->last_ns));
		if (cur[0])
			sqlite3_bind_text(st, 4, cur, 64, SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(st, 4);
		if ((rc = step_done(st)) != SQLITE_OK || sqlite3_changes(inv->c.db) == 1)
			return rc;
		e->id = 0; /* pruned meanwhile: insert it again */
	}
	st = inv->c.st[ST_EP_UPSERT];
	sqlite3_bind_text(st, 1, e->addr_text, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, e->port);
	sqlite3_bind_text(st, 3, e->has_sni ? e->sni : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, to_s(e->first_ns));
	sqlite3_bind_int64(st, 5, to_s(e->last_ns));
	if (cur[0])
		sqlite3_bind_text(st, 6, cur, 64, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 6);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		e->id = sqlite3_column_int64(st, 0);
		rc = sqlite3_step(st);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int write_endpoint(struct inventory *inv, struct endpoint *e)
{
	sqlite3_stmt *st;
	int64_t id;
	int rc;

	if ((rc = write_endpoint_row(inv, e)) != SQLITE_OK)
		return rc;
	id = e->id;
	inv->st.rows_written++;
	for (uint32_t i = 0; i < e->n_leaves; i++) {
		if (!e->leaves[i].dirty)
			continue;
		if ((rc = write_leaf(inv, id, &e->leaves[i])) != SQLITE_OK)
			return rc;
		inv->st.rows_written++;
	}
	if (e->trim) {
		st = inv->c.st[ST_TRIM];
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int(st, 2, (int)inv->o.max_leaves);
		if ((rc = step_done(st)) != SQLITE_OK)
			return rc;
		inv->gc = true;
	}
	return SQLITE_OK;
}

static int write_cert(struct inventory *inv, const struct pcert *p)
{
	sqlite3_stmt *st = inv->c.st[ST_CERT_INS];

	sqlite3_bind_text(st, 1, p->sha, 64, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, p->serial, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, p->subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, p->issuer, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, p->issuer_cn, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, p->sans, -1, SQLITE_STATIC);
	if (p->names_known)
		sqlite3_bind_text(st, 7, p->names, 64, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 7);
	sqlite3_bind_text(st, 8, p->parsed ? p->key_type : NULL, -1, SQLITE_STATIC);
	if (p->parsed) {
		sqlite3_bind_int64(st, 9, p->not_before);
		sqlite3_bind_int64(st, 10, p->not_after);
	} else {
		sqlite3_bind_null(st, 9);
		sqlite3_bind_null(st, 10);
	}
	sqlite3_bind_text(st, 11, p->parse_error, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 12, p->der_len);
	if (p->der_kept)
		sqlite3_bind_blob(st, 13, p->der, (int)p->der_kept, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 13);
	return step_done(st);
}

/* Everything pending in one transaction; on failure nothing is cleared. */
static int write_all(struct inventory *inv)
{
	int rc;

	if (!inv->c.db)
		return SQLITE_CANTOPEN;
	if (!inv->dirty && !inv->pending)
		return SQLITE_OK;
	rc = exec(inv->c.db, "BEGIN IMMEDIATE");
	for (struct endpoint *e = inv->dirty; e && rc == SQLITE_OK; e = e->dnext)
		rc = write_endpoint(inv, e);
	for (struct pcert *p = inv->pending; p && rc == SQLITE_OK; p = p->next)
		if ((rc = write_cert(inv, p)) == SQLITE_OK)
			inv->st.rows_written++;
	if (rc == SQLITE_OK)
		rc = exec(inv->c.db, "COMMIT");
	if (rc != SQLITE_OK) {
		int keep = rc;

		if (!sqlite3_get_autocommit(inv->c.db))
			exec(inv->c.db, "ROLLBACK");
		return keep;
	}
	while (inv->dirty) {
		struct endpoint *e = inv->dirty;

		for (uint32_t i = 0; i < e->n_leaves; i++) {
			e->leaves[i].dirty = false;
			free(e->leaves[i].pc);
			e->leaves[i].pc = NULL;
		}
		e->dirty = e->trim = false;
		inv->dirty = e->dnext;
		e->dnext = NULL;
	}
	pending_clear(inv);
	return SQLITE_OK;
}

/* ---- pruning ---- */

static int64_t changes_of(struct inventory *inv, const char *sql, int *rc)
{
	if (*rc == SQLITE_OK)
		*rc = exec(inv->c.db, sql);
	return *rc == SQLITE_OK ? sqlite3_changes64(inv->c.db) : 0;
}

/* The oldest endpoints (by last sighting) go, with their rows. */
static int64_t prune_oldest(struct inventory *inv, int64_t count, int *rc)
{
	char sql[160];

	snprintf(sql, sizeof(sql),
		 "DELETE FROM endpoints WHERE id IN (SELECT id FROM endpoints"
		 " ORDER BY last_seen, id LIMIT %lld)",
		 (long long)count);
	return changes_of(inv, sql, rc);
}

/* The file's pages in use against its bound (0 for memory). */
static double db_fill(struct inventory *inv)
{
	int64_t pages = 0, free_pages = 0, max = 0;

	if (inv->c.memory)
		return 0;
	query1(inv->c.db, "PRAGMA page_count", &pages, NULL, 0);
	query1(inv->c.db, "PRAGMA freelist_count", &free_pages, NULL, 0);
	query1(inv->c.db, "PRAGMA max_page_count", &max, NULL, 0);
	return max > 0 ? (double)(pages - free_pages) / (double)max : 0;
}

static int prune(struct inventory *inv, int64_t now)
{
	int64_t n = 0, age_s = (int64_t)inv->o.max_age_days * 86400, ref = now;
	char sql[160];
	int rc;

	if (!inv->c.db)
		return SQLITE_CANTOPEN;
	/* Replays carry old times: age is measured on the traffic's clock. */
	if (inv->clock_ns && inv->clock_ns < ref)
		ref = inv->clock_ns;
	rc = exec(inv->c.db, "BEGIN IMMEDIATE");
	snprintf(sql, sizeof(sql), "DELETE FROM served WHERE last_seen < %lld",
		 (long long)(to_s(ref) - age_s));
	if (inv->clock_ns && (n = changes_of(inv, sql, &rc)) > 0) {
		inv->st.pruned_leaves += (uint64_t)n;
		inv->gc = true;
	}
	if (inv->gc)
		inv->st.pruned_endpoints += (uint64_t)changes_of(
			inv,
			"DELETE FROM endpoints WHERE NOT EXISTS"
			" (SELECT 1 FROM served WHERE endpoint_id = endpoints.id)",
			&rc);
	if (rc == SQLITE_OK)
		rc = query1(inv->c.db, "SELECT count(*) FROM endpoints", &n, NULL, 0);
	if (rc == SQLITE_OK && n > (int64_t)inv->o.max_endpoints) {
		int64_t gone = prune_oldest(inv, n - inv->o.max_endpoints, &rc);

		inv->st.pruned_endpoints += (uint64_t)gone;
		n -= gone;
		inv->gc = true;
	}
	if (rc == SQLITE_OK && db_fill(inv) > 0.9) { /* the size bound: a tenth goes */
		inv->st.pruned_endpoints += (uint64_t)prune_oldest(inv, n / 10 + 1, &rc);
		inv->gc = true;
	}
	if (inv->gc) {
		n = changes_of(inv,
			       "DELETE FROM certificates WHERE NOT EXISTS (SELECT 1"
			       " FROM chains WHERE cert_sha256 = certificates.sha256)",
			       &rc);
		inv->st.pruned_certs += (uint64_t)n;
		if (n)
			known_clear(inv);
	}
	if (rc == SQLITE_OK)
		rc = exec(inv->c.db, "COMMIT");
	if (rc != SQLITE_OK) {
		if (!sqlite3_get_autocommit(inv->c.db))
			exec(inv->c.db, "ROLLBACK");
		return rc;
	}
	inv->gc = false;
	return SQLITE_OK;
}

/* ---- failures and recovery ---- */

static void go_memory(struct inventory *inv, enum inv_error why, const char *msg, int64_t now)
{
	conn_close(&inv->c);
	if (!inv->episode)
		report(inv, why, "%s; keeping the inventory in memory, trying again every %u s",
		       msg, inv->o.retry_s);
	inv->episode = true;
	inv->retry_ns = now + (int64_t)inv->o.retry_s * NS;
	if (mem_open(&inv->c) == SQLITE_OK)
		mark_all_dirty(inv);
	ro_open(inv);
}

/* A statement failed with rc: recreate a corrupt file, make room in a full
 * one, otherwise go on in memory. */
static void handle_failure(struct inventory *inv, int rc, int64_t now)
{
	enum inv_error why = classify(rc);
	char msg[PATH_MAX + 256], aside[PATH_MAX + 64];

	snprintf(msg, sizeof(msg), "%s: %s", inv->c.memory ? "inventory in memory" : inv->path,
		 rc_text(inv->c.db, rc));
	inv->st.flush_errors++;
	if (inv->c.memory || !inv->c.db) {
		conn_close(&inv->c);
		if (mem_open(&inv->c) == SQLITE_OK)
			mark_all_dirty(inv);
		return;
	}
	if ((rc & 0xff) == SQLITE_FULL && db_fill(inv) > 0.8) {
		int prc = exec(inv->c.db, "BEGIN IMMEDIATE");
		int64_t fifth = 1 + inv->o.max_endpoints / 5;

		inv->st.pruned_endpoints += (uint64_t)prune_oldest(inv, fifth, &prc);
		if (prc == SQLITE_OK && exec(inv->c.db, "COMMIT") == SQLITE_OK) {
			inv->gc = true;
			return; /* room made inside the bound: write again */
		}
		if (!sqlite3_get_autocommit(inv->c.db))
			exec(inv->c.db, "ROLLBACK");
	}
	if (why == INV_ERR_CORRUPT) {
		enum inv_error w2;
		char m2[PATH_MAX + 256];

		conn_close(&inv->c);
		move_aside(inv, aside, sizeof(aside));
		report(inv, INV_ERR_CORRUPT, "%s; moved aside to %s, starting a new inventory", msg,
		       aside);
		if (file_open(inv, &inv->c, &w2, m2, sizeof(m2)) == 0) {
			mark_all_dirty(inv);
			return;
		}
		go_memory(inv, w2, m2, now);
		return;
	}
	go_memory(inv, why, msg, now);
}

/* In memory after a failure: if the file opens, merge memory into it and
 * go back to it. */
static void try_file(struct inventory *inv, int64_t now)
{
	struct dbconn f = { 0 };
	enum inv_error why;
	char msg[PATH_MAX + 256];
	sqlite3_stmt *st = NULL;
	int rc;

	inv->retry_ns = now + (int64_t)inv->o.retry_s * NS;
	/* SQLite shares what it knows of a file between the connections of a
	 * process: a read-only one would make the merge read-only too. */
	conn_close(&inv->ro);
	if (file_open(inv, &f, &why, msg, sizeof(msg)) < 0) {
		inv->st.flush_errors++;
		ro_open(inv);
		return;
	}
	rc = sqlite3_prepare_v2(inv->c.db, "ATTACH DATABASE ?1 AS disk", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, inv->path, -1, SQLITE_STATIC);
		rc = step_done(st);
		sqlite3_finalize(st);
	}
	if (rc == SQLITE_OK) {
		rc = exec(inv->c.db, "BEGIN IMMEDIATE");
		if (rc == SQLITE_OK)
			rc = exec(inv->c.db, merge_sql);
		if (rc == SQLITE_OK)
			rc = exec(inv->c.db, "COMMIT");
		if (rc != SQLITE_OK && !sqlite3_get_autocommit(inv->c.db))
			exec(inv->c.db, "ROLLBACK");
		exec(inv->c.db, "DETACH DATABASE disk");
	}
	if (rc != SQLITE_OK) {
		inv->st.flush_errors++;
		conn_close(&f);
		ro_open(inv);
		return;
	}
	conn_close(&inv->c);
	conn_close(&inv->ro);
	inv->c = f;
	inv->episode = false;
	for (struct lru_node *n = inv->lru.head; n; n = n->next)
		lru_entry(n, struct endpoint, lru)->id = 0; /* ids were the memory's */
	inv->gc = true;
	report(inv, INV_ERR_RECOVERED,
	       "%s: writing the inventory to the file again; what was kept"
	       " in memory is merged into it",
	       inv->path);
}

/* Writes what is pending; after a failure, once more into whatever
 * database that left. SQLITE_OK, or the second failure. */
static int flush_writes(struct inventory *inv, int64_t now)
{
	int rc;

	if (!inv->c.db && mem_open(&inv->c) == SQLITE_OK)
		mark_all_dirty(inv);
	if (inv->broken_rc) {
		rc = inv->broken_rc;
		inv->broken_rc = 0;
		handle_failure(inv, rc, now);
	}
	if (!inv->dirty && !inv->pending)
		return SQLITE_OK;
	inv->st.flushes++;
	if ((rc = write_all(inv)) == SQLITE_OK)
		return rc;
	handle_failure(inv, rc, now);
	if ((rc = write_all(inv)) != SQLITE_OK)
		inv->st.flush_errors++;
	return rc;
}

int inventory_flush(struct inventory *inv, uint64_t now_ns)
{
	int64_t now = now_ns > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)now_ns;
	int rc;

	if (!inv)
		return -1;
	inv->now_ns = now;
	if (flush_writes(inv, now) != SQLITE_OK)
		return -1;
	if (inv->episode && !inv->o.memory_only && now >= inv->retry_ns)
		try_file(inv, now);
	if (now >= inv->prune_ns) { /* gc waits for it too: trims can come every second */
		inv->prune_ns = now + PRUNE_EVERY_NS;
		if ((rc = prune(inv, now)) != SQLITE_OK)
			handle_failure(inv, rc, now);
	}
	return 0;
}

/* ---- open, close, stats ---- */

#define DEF(field, v)                       \
	do {                                \
		if (!inv->o.field)          \
			inv->o.field = (v); \
	} while (0)

struct inventory *inventory_open(const struct inventory_opts *o, char *err, size_t errlen)
{
	struct inventory *inv;
	enum inv_error why;
	char msg[PATH_MAX + 256];

	if (o && o->max_leaves && o->max_leaves < LEAVES_MIN) {
		snprintf(err, errlen, "inventory: at least %d leaves per endpoint", LEAVES_MIN);
		return NULL;
	}
	if (o && o->state_dir && strlen(o->state_dir) + sizeof(INV_DB_NAME) + 16 > PATH_MAX) {
		snprintf(err, errlen, "inventory: state directory name too long");
		return NULL;
	}
	if (!(inv = calloc(1, sizeof(*inv)))) {
		snprintf(err, errlen, "inventory: out of memory");
		return NULL;
	}
	if (o)
		inv->o = *o;
	if (!inv->o.state_dir)
		inv->o.state_dir = INV_STATE_DIR_DEFAULT;
	DEF(window_s, INV_WINDOW_S_DEFAULT);
	DEF(repeat_s, INV_REPEAT_S_DEFAULT);
	DEF(flap_hold_s, INV_FLAP_HOLD_S_DEFAULT);
	DEF(max_endpoints, INV_ENDPOINTS_DEFAULT);
	DEF(max_leaves, INV_LEAVES_DEFAULT);
	DEF(max_age_days, INV_AGE_DAYS_DEFAULT);
	DEF(hot, INV_HOT_DEFAULT);
	DEF(max_db_mb, INV_DB_MB_DEFAULT);
	DEF(retry_s, INV_RETRY_S_DEFAULT);
	if (inv->o.hot > inv->o.max_endpoints)
		inv->o.hot = inv->o.max_endpoints;
	snprintf(inv->dir, sizeof(inv->dir), "%s", inv->o.state_dir);
	inv->o.state_dir = inv->dir;
	if ((size_t)snprintf(inv->path, sizeof(inv->path), "%s/%s", inv->dir, INV_DB_NAME) >=
	    sizeof(inv->path))
		inv->path[0] = '\0'; /* cannot happen: the length was checked above */
	inv->window_ns = (int64_t)inv->o.window_s * NS;
	inv->repeat_ns = (int64_t)inv->o.repeat_s * NS;
	inv->hold_ns = (int64_t)inv->o.flap_hold_s * NS;
	inv->known = calloc(KNOWN_CERTS, sizeof(*inv->known));
	if (!htab_init(&inv->tab, inv->o.hot) || !inv->known) {
		htab_fini(&inv->tab);
		free(inv->known);
		free(inv);
		snprintf(err, errlen, "inventory: out of memory");
		return NULL;
	}
	if (inv->o.memory_only || file_open(inv, &inv->c, &why, msg, sizeof(msg)) < 0) {
		if (!inv->o.memory_only)
			go_memory(inv, why, msg, 0);
		else if (mem_open(&inv->c) != SQLITE_OK) {
			snprintf(err, errlen, "inventory: cannot open an in-memory database");
			inventory_close(inv);
			return NULL;
		}
	}
	return inv;
}

void inventory_close(struct inventory *inv)
{
	struct timespec ts;
	int64_t now;

	if (!inv)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec * NS + ts.tv_nsec;
	if (inv->c.db) {
		inventory_flush(inv, (uint64_t)now);
		if (inv->episode && !inv->o.memory_only)
			try_file(inv, now); /* a last chance for what memory holds */
	}
	while (inv->lru.head) {
		struct endpoint *e = lru_entry(inv->lru.head, struct endpoint, lru);

		lru_unlink(&inv->lru, &e->lru);
		ep_free(e);
	}
	pending_clear(inv);
	conn_close(&inv->c);
	conn_close(&inv->ro);
	htab_fini(&inv->tab);
	free(inv->known);
	free(inv);
}

void inventory_stats(const struct inventory *inv, struct inventory_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!inv)
		return;
	*st = inv->st;
	st->in_memory = inv->c.memory;
}

/* ---- out: dump ---- */

int inventory_format_parse(const char *s)
{
	if (s && !strcmp(s, "text"))
		return INV_FORMAT_TEXT;
	if (s && !strcmp(s, "json"))
		return INV_FORMAT_JSON;
	return -1;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);

	return s ? s : "";
}

enum dq { DQ_ENDPOINTS, DQ_LEAVES, DQ_CHAIN, DQ_SANS, DQ_MAX };

static const char *const dump_sql[DQ_MAX] = {
	[DQ_ENDPOINTS] = "SELECT id, address, port, sni, first_seen, last_seen FROM endpoints"
			 " ORDER BY sni, address, port",
	[DQ_LEAVES] = "SELECT s.leaf_sha256, s.first_seen, s.last_seen, s.handshakes, s.verdict,"
		      " c.sha256 IS NOT NULL, c.parse_error, c.serial, c.subject, c.issuer,"
		      " c.issuer_cn, c.sans, c.key_type, c.not_before, c.not_after"
		      " FROM served s LEFT JOIN certificates c ON c.sha256 = s.leaf_sha256"
		      " WHERE s.endpoint_id = ?1 ORDER BY s.last_seen DESC, s.leaf_sha256",
	[DQ_CHAIN] = "SELECT cert_sha256 FROM chains WHERE endpoint_id = ?1 AND leaf_sha256 = ?2"
		     " ORDER BY position",
	[DQ_SANS] = "SELECT value FROM json_each(?1)",
};

/* One row of DQ_ENDPOINTS / DQ_LEAVES, valid until the next step. */
struct dendpoint {
	int64_t id, port, first_seen, last_seen;
	const char *address, *sni; /* sni "" when none was sent */
};

struct dleaf {
	const char *sha256, *verdict; /* verdict NULL if never given */
	int64_t first_seen, last_seen, handshakes;
	bool known;		 /* its certificates row exists */
	const char *parse_error; /* NULL when it parsed */
	const char *serial, *subject, *issuer, *issuer_cn, *sans, *key_type;
	int64_t not_before, not_after;
};

static void dendpoint_read(sqlite3_stmt *st, struct dendpoint *e)
{
	e->id = sqlite3_column_int64(st, 0);
	e->address = col_text(st, 1);
	e->port = sqlite3_column_int64(st, 2);
	e->sni = col_text(st, 3);
	e->first_seen = sqlite3_column_int64(st, 4);
	e->last_seen = sqlite3_column_int64(st, 5);
}

static void dleaf_read(sqlite3_stmt *st, struct dleaf *l)
{
	l->sha256 = col_text(st, 0);
	l->first_seen = sqlite3_column_int64(st, 1);
	l->last_seen = sqlite3_column_int64(st, 2);
	l->handshakes = sqlite3_column_int64(st, 3);
	l->verdict = (const char *)sqlite3_column_text(st, 4);
	l->known = sqlite3_column_int(st, 5);
	l->parse_error = l->known ? (const char *)sqlite3_column_text(st, 6) : "no certificate row";
	l->serial = col_text(st, 7);
	l->subject = col_text(st, 8);
	l->issuer = col_text(st, 9);
	l->issuer_cn = (const char *)sqlite3_column_text(st, 10);
	l->sans = (const char *)sqlite3_column_text(st, 11);
	l->key_type = col_text(st, 12);
	l->not_before = sqlite3_column_int64(st, 13);
	l->not_after = sqlite3_column_int64(st, 14);
}

struct dumper {
	sqlite3_stmt *q[DQ_MAX];
	const struct inventory_dump_opts *o;
	int64_t window_s;
	FILE *out;
	char *line;	 /* JSON */
	char safe[2048]; /* text */
};

/* "now": served within the window of the endpoint's last handshake. */
static const char *dleaf_state(const struct dumper *dp, const struct dleaf *l, int64_t ep_last)
{
	return l->last_seen >= ep_last - dp->window_s ? "now" : "before";
}

static const char *safe(struct dumper *dp, const char *s, enum fmt_safe_mode m)
{
	fmt_safe(dp->safe, sizeof(dp->safe), s, m, 512);
	return dp->safe;
}

static void json_leaf(struct dumper *dp, struct jw *w, const struct dleaf *l,
		      const struct dendpoint *e)
{
	sqlite3_stmt *c = dp->q[DQ_CHAIN], *s = dp->q[DQ_SANS];

	jw_obj_begin(w, NULL);
	jw_str(w, "state", dleaf_state(dp, l, e->last_seen));
	jw_str(w, "sha256", l->sha256);
	if (l->known && !l->parse_error) {
		jw_str(w, "serial", l->serial);
		jw_str(w, "subject", l->subject);
		jw_str(w, "issuer", l->issuer);
		jw_str(w, "issuer_cn", l->issuer_cn);
		jw_arr_begin(w, "sans");
		sqlite3_bind_text(s, 1, l->sans ? l->sans : "[]", -1, SQLITE_STATIC);
		while (sqlite3_step(s) == SQLITE_ROW)
			jw_str(w, NULL, col_text(s, 0));
		sqlite3_reset(s);
		jw_arr_end(w);
		jw_str(w, "key_type", l->key_type);
		jw_time_s(w, "not_before", l->not_before);
		jw_time_s(w, "not_after", l->not_after);
	} else {
		jw_str(w, "parse_error", l->parse_error);
	}
	jw_time_s(w, "first_seen", l->first_seen);
	jw_time_s(w, "last_seen", l->last_seen);
	jw_uint(w, "handshakes", (uint64_t)l->handshakes);
	jw_str(w, "verdict", l->verdict);
	jw_arr_begin(w, "chain");
	sqlite3_bind_int64(c, 1, e->id);
	sqlite3_bind_text(c, 2, l->sha256, -1, SQLITE_STATIC);
	while (sqlite3_step(c) == SQLITE_ROW)
		jw_str(w, NULL, col_text(c, 0));
	sqlite3_reset(c);
	jw_arr_end(w);
	jw_obj_end(w);
}

/* The text table: one layout for the header and the rows. */
static void text_row(FILE *out, const char *const col[8], const char *serial, const char *issuer)
{
	fprintf(out, "  %-6s  %-16.16s  %-10s  %-10s  %-20s  %-20s  %10s  %-20s  %-40s  %s\n",
		col[0], col[1], col[2], col[3], col[4], col[5], col[6], col[7], serial, issuer);
}

static void text_leaf(struct dumper *dp, const struct dleaf *l, const struct dendpoint *e)
{
	bool parsed = l->known && !l->parse_error;
	char nb[16] = "-", na[16] = "-", fs[32], ls[32], hs[24], verdict[32], serial[96];
	const char *col[8] = {
		dleaf_state(dp, l, e->last_seen), l->sha256, nb, na, fs, ls, hs, verdict
	};
	const char *issuer;

	if (parsed) {
		fmt_time(nb, sizeof(nb), l->not_before, 0, FMT_DAY, "-");
		fmt_time(na, sizeof(na), l->not_after, 0, FMT_DAY, "-");
	}
	fmt_time(fs, sizeof(fs), l->first_seen, 0, FMT_S, "-");
	fmt_time(ls, sizeof(ls), l->last_seen, 0, FMT_S, "-");
	snprintf(hs, sizeof(hs), "%lld", (long long)l->handshakes);
	fmt_safe(verdict, sizeof(verdict), l->verdict ? l->verdict : "-", FMT_WORD, 20);
	fmt_safe(serial, sizeof(serial), parsed ? l->serial : "-", FMT_WORD, 64);
	if (parsed) {
		issuer = safe(dp, l->issuer, FMT_TAIL);
	} else {
		char why[512];

		fmt_safe(why, sizeof(why), l->parse_error, FMT_TAIL, 256);
		snprintf(dp->safe, sizeof(dp->safe), "(did not parse: %s)", why);
		issuer = dp->safe;
	}
	text_row(dp->out, col, serial, issuer);
}

static void dump_endpoint(struct dumper *dp, const struct dendpoint *e)
{
	static const char *const head[8] = { "STATE",	   "SHA-256",	"NOT BEFORE", "NOT AFTER",
					     "FIRST SEEN", "LAST SEEN", "HANDSHAKES", "VERDICT" };
	sqlite3_stmt *q = dp->q[DQ_LEAVES];
	bool v6 = strchr(e->address, ':') != NULL;
	struct dleaf l;

	sqlite3_bind_int64(q, 1, e->id);
	if (dp->o->format == INV_FORMAT_JSON) {
		struct jw w;

		jw_init(&w, dp->line, DUMP_LINE_MAX);
		jw_obj_begin(&w, NULL);
		jw_str(&w, "address", e->address);
		jw_int(&w, "port", e->port);
		jw_str(&w, "sni", *e->sni ? e->sni : NULL);
		jw_time_s(&w, "first_seen", e->first_seen);
		jw_time_s(&w, "last_seen", e->last_seen);
		jw_arr_begin(&w, "leaves");
		while (sqlite3_step(q) == SQLITE_ROW) {
			dleaf_read(q, &l);
			json_leaf(dp, &w, &l, e);
		}
		jw_arr_end(&w);
		jw_obj_end(&w);
		jw_finish(&w);
		fprintf(dp->out, "%s\n", dp->line);
	} else {
		char fs[32], ls[32];

		fmt_time(fs, sizeof(fs), e->first_seen, 0, FMT_S, "-");
		fmt_time(ls, sizeof(ls), e->last_seen, 0, FMT_S, "-");
		fprintf(dp->out, "%s%s%s:%lld  ", v6 ? "[" : "", e->address, v6 ? "]" : "",
			(long long)e->port);
		if (*e->sni)
			fprintf(dp->out, "sni %s", safe(dp, e->sni, FMT_WORD));
		else
			fprintf(dp->out, "no SNI");
		fprintf(dp->out, "  first seen %s  last seen %s\n", fs, ls);
		text_row(dp->out, head, "SERIAL", "ISSUER");
		while (sqlite3_step(q) == SQLITE_ROW) {
			dleaf_read(q, &l);
			text_leaf(dp, &l, e);
		}
	}
	sqlite3_reset(q);
}

static int dump_db(sqlite3 *db, const struct inventory_dump_opts *o, FILE *out, char *err,
		   size_t errlen)
{
	struct inventory_dump_opts def = { 0 };
	struct dumper dp = { .o = o ? o : &def, .out = out };
	int rc = SQLITE_OK, n = 0;

	dp.window_s = dp.o->window_s ? dp.o->window_s : INV_WINDOW_S_DEFAULT;
	if (dp.o->format == INV_FORMAT_JSON && !(dp.line = malloc(DUMP_LINE_MAX))) {
		snprintf(err, errlen, "inventory: out of memory");
		return -1;
	}
	for (int i = 0; i < DQ_MAX && rc == SQLITE_OK; i++)
		rc = sqlite3_prepare_v2(db, dump_sql[i], -1, &dp.q[i], NULL);
	if (rc == SQLITE_OK)
		rc = exec(db, "BEGIN"); /* one consistent snapshot */
	while (rc == SQLITE_OK && (rc = sqlite3_step(dp.q[DQ_ENDPOINTS])) == SQLITE_ROW) {
		struct dendpoint e;

		rc = SQLITE_OK;
		dendpoint_read(dp.q[DQ_ENDPOINTS], &e);
		if (dp.o->sni_glob && fnmatch(dp.o->sni_glob, e.sni, FNM_CASEFOLD))
			continue;
		if (dp.o->format == INV_FORMAT_TEXT && n)
			fputc('\n', out);
		dump_endpoint(&dp, &e);
		n++;
	}
	if (rc == SQLITE_DONE)
		rc = SQLITE_OK;
	if (rc != SQLITE_OK)
		snprintf(err, errlen, "inventory: %s", rc_text(db, rc));
	if (!sqlite3_get_autocommit(db))
		exec(db, "COMMIT");
	for (int i = 0; i < DQ_MAX; i++)
		sqlite3_finalize(dp.q[i]);
	free(dp.line);
	if (rc == SQLITE_OK && ferror(out)) {
		snprintf(err, errlen, "inventory: write error");
		return -1;
	}
	return rc == SQLITE_OK ? 0 : -1;
}

int inventory_dump_dir(const char *state_dir, const struct inventory_dump_opts *o, FILE *out,
		       char *err, size_t errlen)
{
	char path[PATH_MAX];
	sqlite3 *db = NULL;
	int rc, ret;

	if (!state_dir)
		state_dir = INV_STATE_DIR_DEFAULT;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", state_dir, INV_DB_NAME) >= sizeof(path)) {
		snprintf(err, errlen, "inventory: state directory name too long");
		return -1;
	}
	if (access(path, R_OK)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = open_readonly(path, &db);
	if (rc == SQLITE_NOTADB)
		snprintf(err, errlen, "%s: not an inventory of schema version %d", path,
			 INV_SCHEMA_VERSION);
	else if (rc != SQLITE_OK)
		snprintf(err, errlen, "%s: %s", path, rc_text(db, rc));
	ret = rc == SQLITE_OK ? dump_db(db, o, out, err, errlen) : -1;
	sqlite3_close_v2(db);
	return ret;
}

int inventory_dump(struct inventory *inv, const struct inventory_dump_opts *o, FILE *out, char *err,
		   size_t errlen)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (!inv || inventory_flush(inv, (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec) ||
	    !inv->c.db) {
		snprintf(err, errlen, "inventory: nothing to read");
		return -1;
	}
	return dump_db(inv->c.db, o, out, err, errlen);
}

/* ---- out: metrics ---- */

int inventory_metrics(struct inventory *inv, uint32_t cap, inventory_metric_fn fn, void *ctx,
		      uint64_t *left_out)
{
	static const char sql[] =
		"SELECT e.sni, s.leaf_sha256, coalesce(c.issuer_cn, ''), c.not_after,"
		" c.sha256 IS NOT NULL AND c.parse_error IS NULL, max(s.last_seen) AS seen"
		" FROM served s JOIN endpoints e ON e.id = s.endpoint_id"
		" LEFT JOIN certificates c ON c.sha256 = s.leaf_sha256"
		" GROUP BY e.sni, s.leaf_sha256 ORDER BY seen DESC, e.sni, s.leaf_sha256";
	struct timespec ts;
	sqlite3_stmt *st;
	uint32_t n = 0;
	int rc;

	if (left_out)
		*left_out = 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (!inv || inventory_flush(inv, (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec) ||
	    !inv->c.db)
		return -1;
	if (sqlite3_prepare_v2(inv->c.db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct inventory_metric m = {
			.sni = col_text(st, 0),
			.sha256 = col_text(st, 1),
			.issuer_cn = col_text(st, 2),
			.has_not_after = sqlite3_column_int(st, 4),
			.not_after = sqlite3_column_int64(st, 3),
			.last_seen = sqlite3_column_int64(st, 5),
		};

		if (n++ < cap)
			fn(ctx, &m);
		else if (left_out)
			(*left_out)++;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}
