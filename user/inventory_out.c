/* inventory_out.c - the inventory read back: `certsentry inventory` (text, JSON) and /metrics. */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "inventory_int.h"
#include "inventory_store.h"
#include "json.h"

#define DUMP_LINE_MAX (1u << 20)

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
