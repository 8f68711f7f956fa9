/* inventory_store.c - the inventory's SQLite store: schema, files, writes, pruning, recovery. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "inventory_int.h"
#include "inventory_store.h"

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

const char *rc_text(sqlite3 *db, int rc)
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

void conn_close(struct dbconn *c)
{
	for (int i = 0; i < ST_MAX; i++)
		sqlite3_finalize(c->st[i]);
	sqlite3_close_v2(c->db);
	memset(c, 0, sizeof(*c));
}

int exec(sqlite3 *db, const char *sql)
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

int mem_open(struct dbconn *c)
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
int file_open(struct inventory *inv, struct dbconn *c, enum inv_error *why, char *msg, size_t cap)
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
int open_readonly(const char *path, sqlite3 **db)
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

void go_memory(struct inventory *inv, enum inv_error why, const char *msg, int64_t now)
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
void try_file(struct inventory *inv, int64_t now)
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
int flush_writes(struct inventory *inv, int64_t now)
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
