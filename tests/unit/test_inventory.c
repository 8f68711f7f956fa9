/* test_inventory.c - the certificate inventory on real minted certificates and a real SQLite file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "x509_helpers.h"
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sqlite3.h>
#include <linux/types.h>
#include "certsentry.h"
#include "inventory.h"

#define NS 1000000000ULL
#define T0 1767225600LL /* 2026-01-01 */

static EVP_PKEY *k_ca, *k_ec, *k_rsa;
static X509 *ca;
static struct cert_cache *cache;
static struct cert_facts *f_ca;
static X509 *minted[256];
static int n_minted;

/* ---- certificates ---- */

/* A leaf issued by the test CA on nb ("YYYYMMDDhhmmssZ") for san. */
static struct cert_facts *leaf(const char *cn, long serial, const char *nb, const char *san,
			       EVP_PKEY *key)
{
	struct x509_spec s = {
		.key = key ? key : k_ec,
		.signer = k_ca,
		.issuer = ca,
		.cn = cn,
		.serial = serial,
		.nb = nb,
		.na = "20280101000000Z",
		.san = san,
	};
	X509 *x = x509_mint(&s);
	struct cert_facts *f = x509_facts(cache, x);

	assert_true(n_minted < 256);
	minted[n_minted++] = x;
	assert_true(f->parse_ok);
	return f;
}

static struct cert_facts *garbage(const char *bytes)
{
	struct cert_facts *f = cert_get(cache, (const uint8_t *)bytes, strlen(bytes));

	assert_non_null(f);
	assert_false(f->parse_ok);
	return f;
}

/* ---- state directories ---- */

static char dir[64];
static bool mounted; /* a test's mount over dir, in its private mount namespace */

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

static void dir_new(void)
{
	strcpy(dir, "/tmp/test_inventory_XXXXXX");
	assert_non_null(mkdtemp(dir));
}

static void dir_rm(void)
{
	if (mounted) /* a test failed with its mount in place */
		umount2(dir, MNT_DETACH);
	mounted = false;
	chmod(dir, 0700);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void db_path(char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s", dir, INV_DB_NAME);
}

/* ---- errors ---- */

static int err_count[INV_ERR_MAX];
static char err_last[1024];

static void on_error(void *ctx, enum inv_error kind, const char *msg)
{
	(void)ctx;
	err_count[kind]++;
	snprintf(err_last, sizeof(err_last), "%s", msg);
}

static struct inventory *open_inv(const char *state_dir, const struct inventory_opts *base)
{
	struct inventory_opts o = { 0 };
	struct inventory *inv;
	char err[256] = "";

	if (base)
		o = *base;
	o.state_dir = state_dir;
	o.on_error = on_error;
	inv = inventory_open(&o, err, sizeof(err));
	if (!inv)
		fail_msg("inventory_open: %s", err);
	return inv;
}

static void reset_errors(void)
{
	memset(err_count, 0, sizeof(err_count));
	err_last[0] = '\0';
}

/* ---- observations ---- */

static struct report_endpoint ep(const char *ip, uint16_t port)
{
	struct report_endpoint e = { .port = port };

	if (strchr(ip, ':')) {
		e.family = CS_AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, ip, e.addr), 1);
	} else {
		e.family = CS_AF_INET;
		assert_int_equal(inet_pton(AF_INET, ip, e.addr), 1);
	}
	return e;
}

static uint32_t obs(struct inventory *inv, const char *ip, const char *sni, struct cert_facts *f,
		    int64_t t, struct inventory_decision *d)
{
	struct report_endpoint e = ep(ip, 443);
	struct cert_facts *chain[2] = { f, f_ca };

	return inventory_observe(inv, &e, sni, chain, 2, "ok", (uint64_t)t * NS, d);
}

/* Serves f every step seconds over [from, to], counting the flags seen. */
struct tally {
	int first, changed, rollback, inconsistent, renewal, key_type, flapping;
};

static void tally_add(struct tally *t, uint32_t fl)
{
	t->first += !!(fl & INV_FIRST_SEEN);
	t->changed += !!(fl & INV_CHANGED);
	t->rollback += !!(fl & INV_ROLLBACK);
	t->inconsistent += !!(fl & INV_INCONSISTENT);
	t->renewal += !!(fl & INV_RENEWAL);
	t->key_type += !!(fl & INV_NEW_KEY_TYPE);
	t->flapping += !!(fl & INV_FLAPPING);
}

static void serve(struct inventory *inv, const char *sni, struct cert_facts *f, int64_t from,
		  int64_t to, int64_t step, struct tally *t)
{
	for (int64_t s = from; s <= to; s += step)
		tally_add(t, obs(inv, "192.0.2.10", sni, f, s, NULL));
}

static int64_t db_int(const char *sql)
{
	char path[128];
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;

	db_path(path, sizeof(path));
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void flush_at(struct inventory *inv, int64_t t)
{
	assert_int_equal(inventory_flush(inv, (uint64_t)t * NS), 0);
}

/* ---- setup ---- */

static int group_setup(void **state)
{
	struct x509_spec s = { .cn = "certsentry inventory test CA",
			       .serial = 1,
			       .ca = true,
			       .nb = "20240101000000Z",
			       .na = "20300101000000Z" };

	(void)state;
	k_ca = EVP_EC_gen("P-256");
	k_ec = EVP_EC_gen("P-256");
	k_rsa = EVP_RSA_gen(2048);
	assert_non_null(k_ca);
	assert_non_null(k_ec);
	assert_non_null(k_rsa);
	s.key = k_ca;
	ca = x509_mint(&s);
	cache = cert_cache_new(0);
	f_ca = x509_facts(cache, ca);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	cert_cache_free(cache);
	for (int i = 0; i < n_minted; i++)
		X509_free(minted[i]);
	X509_free(ca);
	EVP_PKEY_free(k_ca);
	EVP_PKEY_free(k_ec);
	EVP_PKEY_free(k_rsa);
	return 0;
}

static int test_setup(void **state)
{
	(void)state;
	reset_errors();
	dir_new();
	return 0;
}

static int test_teardown(void **state)
{
	(void)state;
	dir_rm();
	return 0;
}

/* ---- decisions ---- */

static void test_first_seen_then_quiet(void **state)
{
	struct cert_facts *a =
		leaf("www.example.com", 1001, "20250601000000Z", "DNS:www.example.com", NULL);
	struct inventory *inv = open_inv(dir, NULL);
	struct inventory_decision d;
	struct inventory_stats st;

	(void)state;
	assert_int_equal(obs(inv, "192.0.2.10", "www.example.com", a, T0, &d), INV_FIRST_SEEN);
	assert_int_equal(d.flags, INV_FIRST_SEEN);
	for (int i = 1; i < 100; i++)
		assert_int_equal(obs(inv, "192.0.2.10", "www.example.com", a, T0 + i, NULL), 0);
	flush_at(inv, T0 + 100);
	assert_int_equal(db_int("SELECT handshakes FROM served"), 100);
	assert_int_equal(db_int("SELECT last_seen - first_seen FROM served"), 99);
	assert_int_equal(db_int("SELECT count(*) FROM chains"), 2);
	assert_int_equal(db_int("SELECT count(*) FROM certificates WHERE der IS NOT NULL"), 2);
	assert_int_equal(db_int("PRAGMA user_version"), INV_SCHEMA_VERSION);
	inventory_stats(inv, &st);
	assert_int_equal(st.observations, 100);
	assert_int_equal(st.first_seen, 1);
	assert_false(st.in_memory);
	inventory_close(inv);
	assert_int_equal(err_count[INV_ERR_CORRUPT] + err_count[INV_ERR_WRITE], 0);
}

/* The seed incident: A, then the newer B, then A again, certsentry
 * restarted between every step. */
static void test_rollback_across_restarts(void **state)
{
	struct cert_facts *a =
		leaf("shop.example.com", 0xA1, "20250301000000Z", "DNS:shop.example.com", NULL);
	struct cert_facts *b =
		leaf("shop.example.com", 0xB2, "20251201000000Z", "DNS:shop.example.com", NULL);
	struct inventory_decision d;
	struct inventory *inv;
	struct tally t = { 0 };
	uint32_t fl;

	(void)state;
	inv = open_inv(dir, NULL);
	serve(inv, "shop.example.com", a, T0, T0 + 3600, 60, &t);
	inventory_close(inv);
	assert_int_equal(t.first, 1);
	assert_int_equal(t.changed, 0);

	inv = open_inv(dir, NULL);
	fl = obs(inv, "192.0.2.10", "shop.example.com", b, T0 + 4000, &d);
	assert_int_equal(fl, INV_CHANGED | INV_RENEWAL);
	assert_string_equal(d.prev.sha256, a->sha256_hex);
	assert_string_equal(d.cur.sha256, b->sha256_hex);
	serve(inv, "shop.example.com", b, T0 + 4060, T0 + 8000, 60, &t);
	inventory_close(inv);
	assert_int_equal(t.changed, 0);

	inv = open_inv(dir, NULL);
	fl = obs(inv, "192.0.2.10", "shop.example.com", a, T0 + 9000, &d);
	assert_int_equal(fl, INV_CHANGED | INV_ROLLBACK);
	assert_int_equal(d.rollback_why, INV_RB_ISSUED_BEFORE | INV_RB_SERVED_BEFORE);
	assert_string_equal(d.prev.sha256, b->sha256_hex);
	assert_string_equal(d.prev.serial, "B2");
	assert_int_equal(d.prev.not_before, b->not_before);
	assert_int_equal(d.prev.not_after, b->not_after);
	assert_string_equal(d.prev.issuer, b->issuer_dn);
	assert_string_equal(d.cur.sha256, a->sha256_hex);
	assert_string_equal(d.cur.serial, "A1");
	assert_int_equal(d.cur.not_before, a->not_before);
	assert_string_equal(d.cur.issuer, a->issuer_dn);
	assert_int_equal(d.cur.first_seen, T0);
	assert_int_equal(d.absent_s, 9000 - 3600);
	/* And it does not repeat while A stays. */
	t = (struct tally){ 0 };
	serve(inv, "shop.example.com", a, T0 + 9060, T0 + 12000, 60, &t);
	assert_int_equal(t.changed + t.rollback + t.inconsistent, 0);
	inventory_close(inv);
	assert_int_equal(db_int("SELECT count(*) FROM served"), 2);
	assert_int_equal(db_int("SELECT handshakes FROM served s JOIN certificates c ON"
				" c.sha256 = s.leaf_sha256 WHERE c.serial = 'B2'"),
			 67);
}

static void test_renewal_is_only_changed(void **state)
{
	struct cert_facts *a = leaf("api.example.com", 1, "20250101000000Z",
				    "DNS:api.example.com,DNS:api2.example.com", NULL);
	struct cert_facts *a2 = leaf("api.example.com", 2, "20250401000000Z",
				     "DNS:api2.example.com,DNS:api.example.com", NULL);
	struct cert_facts *c =
		leaf("api.example.com", 3, "20250701000000Z", "DNS:api.example.com", NULL);
	struct inventory *inv = open_inv(dir, NULL);
	struct inventory_decision d;
	struct tally t = { 0 };

	(void)state;
	serve(inv, "api.example.com", a, T0, T0 + 600, 10, &t);
	/* Same subject and SANs (in another order), issued later. */
	assert_int_equal(obs(inv, "192.0.2.10", "api.example.com", a2, T0 + 610, &d),
			 INV_CHANGED | INV_RENEWAL);
	assert_int_equal(d.rollback_why, 0);
	serve(inv, "api.example.com", a2, T0 + 620, T0 + 7200, 10, &t);
	assert_int_equal(t.changed + t.rollback + t.inconsistent, 0);
	/* Later but with fewer names: a change, not a renewal. */
	assert_int_equal(obs(inv, "192.0.2.10", "api.example.com", c, T0 + 7210, &d), INV_CHANGED);
	inventory_close(inv);
}

static void test_new_leaf_issued_before(void **state)
{
	struct cert_facts *n =
		leaf("old.example.com", 10, "20250901000000Z", "DNS:old.example.com", NULL);
	struct cert_facts *o =
		leaf("old.example.com", 9, "20250101000000Z", "DNS:old.example.com", NULL);
	struct inventory *inv = open_inv(dir, NULL);
	struct inventory_decision d;
	struct tally t = { 0 };

	(void)state;
	serve(inv, "old.example.com", n, T0, T0 + 600, 10, &t);
	/* Never served here, but older than what it replaces. */
	assert_int_equal(obs(inv, "192.0.2.10", "old.example.com", o, T0 + 610, &d),
			 INV_CHANGED | INV_ROLLBACK);
	assert_int_equal(d.rollback_why, INV_RB_ISSUED_BEFORE);
	inventory_close(inv);
}

/* Two backends behind one address: 2:1 for 30 minutes. */
static void test_alternating_is_inconsistent(void **state)
{
	struct cert_facts *a =
		leaf("lb.example.com", 21, "20250101000000Z", "DNS:lb.example.com", NULL);
	struct cert_facts *b =
		leaf("lb.example.com", 22, "20250601000000Z", "DNS:lb.example.com", NULL);
	struct inventory_opts o = { .repeat_s = 600 };
	struct inventory *inv = open_inv(dir, &o);
	struct inventory_decision d, last = { 0 };
	struct tally t = { 0 };

	(void)state;
	for (int64_t s = 0; s < 1800; s++) {
		uint32_t fl =
			obs(inv, "192.0.2.10", "lb.example.com", s % 3 == 2 ? b : a, T0 + s, &d);

		tally_add(&t, fl);
		if (fl & INV_INCONSISTENT)
			last = d;
	}
	assert_int_equal(t.first, 1);
	assert_int_equal(t.changed, 1); /* B's first appearance */
	assert_int_equal(t.rollback, 0);
	assert_int_equal(t.inconsistent, 3); /* at once, then every repeat_s */
	assert_int_equal(last.n_shares, 2);
	assert_int_equal(last.window_s, INV_WINDOW_S_DEFAULT);
	assert_string_equal(last.shares[0].leaf.sha256, a->sha256_hex);
	assert_string_equal(last.shares[1].leaf.sha256, b->sha256_hex);
	assert_in_range(last.shares[0].permille, 630, 700);
	assert_in_range(last.shares[1].permille, 300, 370);
	assert_in_range(last.shares[0].handshakes, 180, 220);
	inventory_close(inv);
}

/* B for one handshake, then A again: both within the window (inconsistent),
 * then once A has been served alone for a window, A is back: a rollback. */
static void test_quick_revert_settles_to_rollback(void **state)
{
	struct cert_facts *a =
		leaf("rv.example.com", 31, "20250101000000Z", "DNS:rv.example.com", NULL);
	struct cert_facts *b =
		leaf("rv.example.com", 32, "20250601000000Z", "DNS:rv.example.com", NULL);
	struct inventory *inv = open_inv(dir, NULL);
	struct inventory_decision d;
	struct tally t = { 0 };
	int64_t when = 0;

	(void)state;
	serve(inv, "rv.example.com", a, T0, T0 + 600, 10, &t);
	assert_int_equal(obs(inv, "192.0.2.10", "rv.example.com", b, T0 + 605, NULL),
			 INV_CHANGED | INV_RENEWAL);
	assert_int_equal(obs(inv, "192.0.2.10", "rv.example.com", a, T0 + 610, &d),
			 INV_INCONSISTENT);
	assert_int_equal(d.n_shares, 2);
	for (int64_t s = T0 + 620; s <= T0 + 1800; s += 10) {
		uint32_t fl = obs(inv, "192.0.2.10", "rv.example.com", a, s, &d);

		if (fl) {
			assert_int_equal(fl, INV_CHANGED | INV_ROLLBACK);
			assert_int_equal(when, 0);
			when = s;
			assert_string_equal(d.cur.sha256, a->sha256_hex);
			assert_string_equal(d.prev.sha256, b->sha256_hex);
		}
	}
	/* A seen at least a window after B's last sighting, before this one. */
	assert_int_equal(when, T0 + 920); /* A at 910 is 305 s after B at 605 */
	inventory_close(inv);
}

/* A and B swapped every hour: one changed, one rollback, the change back,
 * then flapping, never a stream of rollbacks. */
static void test_slow_flapping_is_held(void **state)
{
	struct cert_facts *a =
		leaf("flap.example.com", 41, "20250101000000Z", "DNS:flap.example.com", NULL);
	struct cert_facts *b =
		leaf("flap.example.com", 42, "20250601000000Z", "DNS:flap.example.com", NULL);
	struct inventory *inv = open_inv(dir, NULL);
	struct tally t = { 0 };

	(void)state;
	for (int h = 0; h < 24; h++)
		serve(inv, "flap.example.com", h % 2 ? b : a, T0 + h * 3600, T0 + h * 3600 + 3540,
		      60, &t);
	assert_int_equal(t.changed, INV_FLAP_CHANGES);
	assert_int_equal(t.rollback, 1);
	assert_true(t.flapping >= 1);
	assert_true(t.inconsistent <= 21); /* at most one per repeat_s */
	inventory_close(inv);
}

/* Alternating backends, then no traffic for half an hour, then A: the gap
 * is not evidence that B stopped. */
static void test_traffic_gap_is_no_rollback(void **state)
{
	struct cert_facts *a =
		leaf("gap.example.com", 51, "20250101000000Z", "DNS:gap.example.com", NULL);
	struct cert_facts *b =
		leaf("gap.example.com", 52, "20250601000000Z", "DNS:gap.example.com", NULL);
	struct inventory *inv = open_inv(dir, NULL);
	struct tally t = { 0 };

	(void)state;
	for (int64_t s = 0; s < 120; s++)
		tally_add(&t,
			  obs(inv, "192.0.2.10", "gap.example.com", s % 2 ? b : a, T0 + s, NULL));
	assert_int_equal(t.changed, 1);
	tally_add(&t, obs(inv, "192.0.2.10", "gap.example.com", a, T0 + 1920, NULL));
	tally_add(&t, obs(inv, "192.0.2.10", "gap.example.com", b, T0 + 1921, NULL));
	assert_int_equal(t.changed, 1);
	assert_int_equal(t.rollback, 0);
	inventory_close(inv);
}

static void test_sni_absent_and_ipv6(void **state)
{
	struct cert_facts *a =
		leaf("default.example.com", 61, "20250101000000Z", "DNS:default.example.com", NULL);
	struct cert_facts *b =
		leaf("v.example.com", 62, "20250101000000Z", "DNS:v.example.com", NULL);
	struct inventory *inv = open_inv(dir, NULL);

	(void)state;
	/* No SNI and an SNI on one address are two endpoints. */
	assert_int_equal(obs(inv, "192.0.2.10", NULL, a, T0, NULL), INV_FIRST_SEEN);
	assert_int_equal(obs(inv, "192.0.2.10", "v.example.com", b, T0 + 1, NULL), INV_FIRST_SEEN);
	assert_int_equal(obs(inv, "192.0.2.10", NULL, a, T0 + 2, NULL), 0);
	assert_int_equal(obs(inv, "2001:db8::10", NULL, a, T0 + 3, NULL), INV_FIRST_SEEN);
	assert_int_equal(obs(inv, "2001:db8::10", "v.example.com", b, T0 + 4, NULL),
			 INV_FIRST_SEEN);
	assert_int_equal(obs(inv, "2001:db8::10", NULL, b, T0 + 5, NULL), INV_CHANGED);
	flush_at(inv, T0 + 10);
	assert_int_equal(db_int("SELECT count(*) FROM endpoints"), 4);
	assert_int_equal(db_int("SELECT count(*) FROM endpoints WHERE sni = ''"), 2);
	assert_int_equal(db_int("SELECT count(*) FROM endpoints WHERE address = '2001:db8::10'"),
			 2);
	inventory_close(inv);
	/* After a restart the no-SNI endpoint still knows what it served. */
	inv = open_inv(dir, NULL);
	assert_int_equal(obs(inv, "2001:db8::10", NULL, b, T0 + 20, NULL), 0);
	inventory_close(inv);
}

/* The clock steps back an hour: times stay ordered, nothing is invented;
 * a real return after a real absence is still a rollback. */
static void test_clock_backwards(void **state)
{
	struct cert_facts *a =
		leaf("clk.example.com", 71, "20250101000000Z", "DNS:clk.example.com", NULL);
	struct cert_facts *b =
		leaf("clk.example.com", 72, "20250601000000Z", "DNS:clk.example.com", NULL);
	struct inventory *inv = open_inv(dir, NULL);
	struct inventory_stats st;
	struct tally t = { 0 };

	(void)state;
	serve(inv, "clk.example.com", a, T0, T0 + 600, 10, &t);
	serve(inv, "clk.example.com", a, T0 - 3600, T0 - 3000, 10, &t); /* stepped back */
	assert_int_equal(obs(inv, "192.0.2.10", "clk.example.com", b, T0 - 2990, NULL),
			 INV_CHANGED | INV_RENEWAL);
	/* A right after B, stored as at the same instant: both served, not a return. */
	assert_int_equal(obs(inv, "192.0.2.10", "clk.example.com", a, T0 - 2980, NULL),
			 INV_INCONSISTENT);
	inventory_stats(inv, &st);
	assert_true(st.clock_backwards >= 60);
	flush_at(inv, T0);
	assert_int_equal(db_int("SELECT last_seen FROM endpoints"), T0 + 600);
	assert_int_equal(db_int("SELECT min(first_seen) FROM served"), T0);
	/* The clock catches up; B alone for two windows, then A is a rollback. */
	serve(inv, "clk.example.com", b, T0 + 700, T0 + 1400, 10, &t);
	assert_int_equal(obs(inv, "192.0.2.10", "clk.example.com", a, T0 + 1410, NULL),
			 INV_CHANGED | INV_ROLLBACK);
	inventory_close(inv);
}

static void test_unparsable_leaves(void **state)
{
	struct cert_facts *x = garbage("\x30\x03\x02\x01\x01 not a certificate");
	struct cert_facts *y = garbage("\x30\x05 another broken one");
	struct inventory *inv = open_inv(dir, NULL);
	struct inventory_decision d;
	struct tally t = { 0 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	char err[256];

	(void)state;
	serve(inv, "bad.example.com", x, T0, T0 + 600, 10, &t);
	assert_int_equal(t.first, 1);
	assert_int_equal(obs(inv, "192.0.2.10", "bad.example.com", y, T0 + 610, &d), INV_CHANGED);
	assert_false(d.cur.parsed);
	assert_string_equal(d.cur.serial, "");
	serve(inv, "bad.example.com", y, T0 + 620, T0 + 1300, 10, &t);
	/* No dates to compare: served before is enough. */
	assert_int_equal(obs(inv, "192.0.2.10", "bad.example.com", x, T0 + 1310, &d),
			 INV_CHANGED | INV_ROLLBACK);
	assert_int_equal(d.rollback_why, INV_RB_SERVED_BEFORE);
	f = open_memstream(&buf, &len);
	assert_int_equal(inventory_dump(inv, NULL, f, err, sizeof(err)), 0);
	fclose(f);
	assert_non_null(strstr(buf, "(did not parse: "));
	free(buf);
	assert_int_equal(db_int("SELECT count(*) FROM certificates WHERE parse_error IS NOT NULL"),
			 2);
	inventory_close(inv);
}

/* RSA and ECDSA leaves for the same names, chosen by the client: not a flip. */
static void test_dual_key_types(void **state)
{
	struct cert_facts *ec =
		leaf("dual.example.com", 81, "20250101000000Z", "DNS:dual.example.com", k_ec);
	struct cert_facts *rsa =
		leaf("dual.example.com", 82, "20250201000000Z", "DNS:dual.example.com", k_rsa);
	struct inventory *inv = open_inv(dir, NULL);
	struct inventory_decision d;
	struct tally t = { 0 };

	(void)state;
	assert_int_equal(obs(inv, "192.0.2.10", "dual.example.com", ec, T0, NULL), INV_FIRST_SEEN);
	assert_int_equal(obs(inv, "192.0.2.10", "dual.example.com", rsa, T0 + 1, &d),
			 INV_CHANGED | INV_NEW_KEY_TYPE);
	assert_string_equal(d.cur.key_type, "RSA");
	assert_string_equal(d.prev.key_type, "EC");
	for (int64_t s = 2; s < 3600; s++)
		tally_add(&t, obs(inv, "192.0.2.10", "dual.example.com", s % 2 ? rsa : ec, T0 + s,
				  NULL));
	assert_int_equal(t.changed + t.rollback + t.inconsistent, 0);
	inventory_close(inv);
	/* Both known after a restart. */
	inv = open_inv(dir, NULL);
	assert_int_equal(obs(inv, "192.0.2.10", "dual.example.com", rsa, T0 + 4000, NULL), 0);
	assert_int_equal(obs(inv, "192.0.2.10", "dual.example.com", ec, T0 + 4001, NULL), 0);
	inventory_close(inv);
}

/* ---- bounds ---- */

static void test_prune_bounds(void **state)
{
	struct inventory_opts o = { .max_leaves = 5, .max_endpoints = 6, .max_age_days = 30 };
	struct cert_facts *l[8];
	struct inventory *inv = open_inv(dir, &o);
	struct inventory_stats st;
	char ip[32], cn[32];

	(void)state;
	for (int i = 0; i < 8; i++) {
		snprintf(cn, sizeof(cn), "p%d.example.com", i);
		l[i] = leaf(cn, 100 + i, "20250101000000Z", NULL, NULL);
	}
	/* Eight leaves in turn at one endpoint: the five latest stay. */
	for (int i = 0; i < 8; i++)
		obs(inv, "192.0.2.10", "p.example.com", l[i], T0 + 1000 * i, NULL);
	flush_at(inv, T0 + 8000);
	assert_int_equal(db_int("SELECT count(*) FROM served"), 5);
	assert_int_equal(db_int("SELECT min(s.first_seen) FROM served s"), T0 + 3000);
	/* Certificates no chain refers to are gone: five leaves and the CA. */
	assert_int_equal(db_int("SELECT count(*) FROM certificates"), 6);
	/* Eight endpoints: the six seen last stay. */
	for (int i = 0; i < 7; i++) {
		snprintf(ip, sizeof(ip), "198.51.100.%d", i + 1);
		obs(inv, ip, "q.example.com", l[0], T0 + 9000 + i, NULL);
	}
	flush_at(inv, T0 + 9100);
	flush_at(inv, T0 + 9200);
	assert_int_equal(db_int("SELECT count(*) FROM endpoints"), 6);
	assert_int_equal(db_int("SELECT min(last_seen) FROM endpoints"), T0 + 9001);
	/* A month and more later, one endpoint again: the rest aged out. */
	obs(inv, "203.0.113.1", "r.example.com", l[7], T0 + 40 * 86400, NULL);
	flush_at(inv, T0 + 40 * 86400);
	assert_int_equal(db_int("SELECT count(*) FROM endpoints"), 1);
	assert_int_equal(db_int("SELECT count(*) FROM served"), 1);
	assert_int_equal(db_int("SELECT count(*) FROM chains"), 2);
	assert_int_equal(db_int("SELECT count(*) FROM certificates"), 2);
	inventory_stats(inv, &st);
	assert_true(st.pruned_endpoints >= 7);
	assert_true(st.pruned_certs >= 4);
	inventory_close(inv);
}

/* The hot set is bounded too: endpoints beyond it are written and dropped
 * from memory, and loaded again with their history. */
static void test_hot_eviction_keeps_history(void **state)
{
	struct inventory_opts o = { .hot = 4 };
	struct cert_facts *a =
		leaf("hot.example.com", 91, "20250101000000Z", "DNS:hot.example.com", NULL);
	struct cert_facts *b =
		leaf("hot.example.com", 92, "20250601000000Z", "DNS:hot.example.com", NULL);
	struct inventory *inv = open_inv(dir, &o);
	struct inventory_stats st;
	char ip[32];

	(void)state;
	for (int i = 0; i < 20; i++) {
		snprintf(ip, sizeof(ip), "198.51.100.%d", i + 1);
		assert_int_equal(obs(inv, ip, "hot.example.com", a, T0 + i, NULL), INV_FIRST_SEEN);
	}
	inventory_stats(inv, &st);
	assert_int_equal(st.hot, 4);
	assert_true(st.evictions >= 16);
	for (int i = 0; i < 20; i++) {
		snprintf(ip, sizeof(ip), "198.51.100.%d", i + 1);
		assert_int_equal(obs(inv, ip, "hot.example.com", b, T0 + 1000 + i, NULL),
				 INV_CHANGED | INV_RENEWAL);
	}
	flush_at(inv, T0 + 2000);
	assert_int_equal(db_int("SELECT count(*) FROM served"), 40);
	inventory_close(inv);
}

/* ---- failures ---- */

static void write_garbage(const char *path, size_t n, int flags)
{
	int fd = open(path, O_WRONLY | flags);
	char buf[4096];

	assert_true(fd >= 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 131 + 7);
	for (size_t off = 0; off < n; off += sizeof(buf))
		assert_int_equal(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	close(fd);
}

static void test_corrupt_file_recreated(void **state)
{
	struct cert_facts *a =
		leaf("c.example.com", 111, "20250101000000Z", "DNS:c.example.com", NULL);
	struct inventory *inv = open_inv(dir, NULL);
	char path[128], aside[160];
	struct stat sb;

	(void)state;
	obs(inv, "192.0.2.10", "c.example.com", a, T0, NULL);
	inventory_close(inv);
	db_path(path, sizeof(path));
	write_garbage(path, 16384, 0);
	inv = open_inv(dir, NULL);
	assert_int_equal(err_count[INV_ERR_CORRUPT], 1);
	assert_non_null(strstr(err_last, "moved aside"));
	snprintf(aside, sizeof(aside), "%s.corrupt", path);
	assert_int_equal(stat(aside, &sb), 0);
	/* History is lost, the inventory works. */
	assert_int_equal(obs(inv, "192.0.2.10", "c.example.com", a, T0 + 10, NULL), INV_FIRST_SEEN);
	flush_at(inv, T0 + 10);
	assert_int_equal(db_int("SELECT count(*) FROM served"), 1);
	inventory_close(inv);

	/* Some other SQLite database in its place: moved aside too. */
	unlink(path);
	{
		sqlite3 *db;

		assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
		assert_int_equal(sqlite3_exec(db, "CREATE TABLE t (x)", NULL, NULL, NULL),
				 SQLITE_OK);
		sqlite3_close(db);
	}
	reset_errors();
	inv = open_inv(dir, NULL);
	assert_int_equal(err_count[INV_ERR_CORRUPT], 1);
	assert_int_equal(obs(inv, "192.0.2.10", "c.example.com", a, T0 + 20, NULL), INV_FIRST_SEEN);
	inventory_close(inv);
	assert_int_equal(db_int("SELECT count(*) FROM endpoints"), 1);
}

/* Garbage over the file while certsentry has it open: the capture goes on,
 * the damage is reported when a read meets it and the file is recreated,
 * with what memory holds written again. */
static void test_corrupt_while_open(void **state)
{
	struct cert_facts *a =
		leaf("co.example.com", 121, "20250101000000Z", "DNS:co.example.com", NULL);
	struct cert_facts *b =
		leaf("co.example.com", 122, "20250601000000Z", "DNS:co.example.com", NULL);
	struct inventory *inv = open_inv(dir, NULL);
	struct inventory_stats st;
	char path[128], ip[32];
	int fd;

	(void)state;
	for (int i = 0; i < 400; i++) {
		snprintf(ip, sizeof(ip), "198.51.%d.%d", 100 + i / 200, i % 200 + 1);
		obs(inv, ip, "co.example.com", a, T0 + i, NULL);
	}
	inventory_close(inv); /* checkpointed: all in the main file */
	inv = open_inv(dir, NULL);
	assert_int_equal(obs(inv, "198.51.100.1", "co.example.com", b, T0 + 1000, NULL),
			 INV_CHANGED | INV_RENEWAL);
	/* Garbage over everything but the first two pages... */
	db_path(path, sizeof(path));
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	{
		struct stat sb;
		char junk[4096];

		assert_int_equal(fstat(fd, &sb), 0);
		for (size_t i = 0; i < sizeof(junk); i++)
			junk[i] = (char)(i * 131 + 7);
		for (off_t off = 8192; off < sb.st_size; off += (off_t)sizeof(junk))
			assert_int_equal(pwrite(fd, junk, sizeof(junk), off),
					 (ssize_t)sizeof(junk));
	}
	close(fd);
	/* ...and another writer, so that our page cache is dropped and the
	 * next reads come from the file. */
	{
		sqlite3 *other;

		assert_int_equal(sqlite3_open(path, &other), SQLITE_OK);
		assert_int_equal(sqlite3_exec(other, "PRAGMA user_version = 1", NULL, NULL, NULL),
				 SQLITE_OK);
		sqlite3_close(other);
	}
	/* Cold endpoints are read from the damaged pages; decisions go on. */
	for (int i = 1; i < 400; i++) {
		snprintf(ip, sizeof(ip), "198.51.%d.%d", 100 + i / 200, i % 200 + 1);
		obs(inv, ip, "co.example.com", b, T0 + 1000 + i, NULL);
	}
	assert_int_equal(obs(inv, "198.51.100.1", "co.example.com", a, T0 + 2000, NULL),
			 INV_CHANGED | INV_ROLLBACK);
	flush_at(inv, T0 + 2000);
	assert_int_equal(err_count[INV_ERR_CORRUPT], 1);
	assert_non_null(strstr(err_last, "moved aside"));
	inventory_stats(inv, &st);
	assert_false(st.in_memory);
	inventory_close(inv);
	assert_int_equal(db_int("SELECT count(*) FROM pragma_quick_check WHERE quick_check = 'ok'"),
			 1);
	/* What memory held was written to the new file. */
	assert_int_equal(
		db_int("SELECT count(*) FROM served s JOIN endpoints e ON e.id = s.endpoint_id"
		       " WHERE e.address = '198.51.100.1'"),
		2);
}

/* Another process holds the write lock (in WAL mode every connection keeps a
 * shared lock, so that is the most another can hold while we are open): in
 * memory meanwhile, decisions unchanged, merged into the file when the lock
 * goes. */
static void test_locked_then_recovered(void **state)
{
	struct cert_facts *a =
		leaf("lk.example.com", 131, "20250101000000Z", "DNS:lk.example.com", NULL);
	struct cert_facts *b =
		leaf("lk.example.com", 132, "20250601000000Z", "DNS:lk.example.com", NULL);
	struct inventory_opts o = { .retry_s = 5 };
	struct inventory *inv = open_inv(dir, &o);
	struct inventory_stats st;
	struct tally t = { 0 };
	char path[128];
	sqlite3 *lock;

	(void)state;
	serve(inv, "lk.example.com", a, T0, T0 + 600, 10, &t);
	flush_at(inv, T0 + 600);
	db_path(path, sizeof(path));
	assert_int_equal(sqlite3_open(path, &lock), SQLITE_OK);
	assert_int_equal(sqlite3_exec(lock, "BEGIN EXCLUSIVE; DELETE FROM chains WHERE 0;", NULL,
				      NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(obs(inv, "192.0.2.10", "lk.example.com", b, T0 + 700, NULL),
			 INV_CHANGED | INV_RENEWAL);
	flush_at(inv, T0 + 700);
	assert_int_equal(err_count[INV_ERR_LOCKED], 1);
	assert_non_null(strstr(err_last, "locked"));
	inventory_stats(inv, &st);
	assert_true(st.in_memory);
	/* Still locked at the retry: still in memory, no second report. */
	serve(inv, "lk.example.com", b, T0 + 710, T0 + 1400, 10, &t);
	flush_at(inv, T0 + 710);
	flush_at(inv, T0 + 720);
	assert_int_equal(err_count[INV_ERR_LOCKED], 1);
	/* A return is still a rollback, decided in memory. */
	assert_int_equal(obs(inv, "192.0.2.10", "lk.example.com", a, T0 + 1410, NULL),
			 INV_CHANGED | INV_ROLLBACK);
	sqlite3_exec(lock, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(lock);
	flush_at(inv, T0 + 1420);
	assert_int_equal(err_count[INV_ERR_RECOVERED], 1);
	inventory_stats(inv, &st);
	assert_false(st.in_memory);
	inventory_close(inv);
	assert_int_equal(db_int("SELECT count(*) FROM served"), 2);
	assert_int_equal(db_int("SELECT handshakes FROM served s JOIN certificates c"
				" ON c.sha256 = s.leaf_sha256 WHERE c.serial = '84'"),
			 71);
	assert_int_equal(db_int("SELECT last_seen FROM endpoints"), T0 + 1410);

	/* Locked whole (exclusive locking mode) before certsentry starts. */
	assert_int_equal(sqlite3_open(path, &lock), SQLITE_OK);
	assert_int_equal(sqlite3_exec(lock,
				      "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;"
				      "DELETE FROM chains WHERE 0;",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	reset_errors();
	inv = open_inv(dir, &o);
	assert_int_equal(err_count[INV_ERR_LOCKED], 1);
	/* No history while locked out (not even a read: the holder may be
	 * writing): A is new to the memory. */
	assert_int_equal(obs(inv, "192.0.2.10", "lk.example.com", a, T0 + 2000, NULL),
			 INV_FIRST_SEEN);
	flush_at(inv, T0 + 2000);
	sqlite3_exec(lock, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(lock);
	flush_at(inv, T0 + 2010);
	assert_int_equal(err_count[INV_ERR_RECOVERED], 1);
	inventory_close(inv);
	assert_int_equal(db_int("SELECT last_seen FROM endpoints"), T0 + 2000);
	assert_int_equal(db_int("SELECT handshakes FROM served s JOIN certificates c"
				" ON c.sha256 = s.leaf_sha256 WHERE c.serial = '83'"),
			 62);
}

/* Locked for writing while certsentry runs: an endpoint that is not in
 * memory is still read from the file, so its rollback is found. */
static void test_locked_history_kept(void **state)
{
	struct cert_facts *a =
		leaf("lh.example.com", 171, "20250101000000Z", "DNS:lh.example.com", NULL);
	struct cert_facts *b =
		leaf("lh.example.com", 172, "20250601000000Z", "DNS:lh.example.com", NULL);
	struct inventory_opts o = { .retry_s = 5 };
	struct inventory *inv = open_inv(dir, &o);
	struct tally t = { 0 };
	char path[128];
	sqlite3 *lock;

	(void)state;
	serve(inv, "lh.example.com", a, T0, T0 + 600, 10, &t);
	serve(inv, "lh.example.com", b, T0 + 700, T0 + 1400, 10, &t);
	assert_int_equal(t.changed, 1);
	inventory_close(inv);
	inv = open_inv(dir, &o);
	db_path(path, sizeof(path));
	assert_int_equal(sqlite3_open(path, &lock), SQLITE_OK);
	assert_int_equal(sqlite3_exec(lock, "BEGIN EXCLUSIVE; DELETE FROM chains WHERE 0;", NULL,
				      NULL, NULL),
			 SQLITE_OK);
	obs(inv, "192.0.2.99", "other.example.com", a, T0 + 1900, NULL);
	flush_at(inv, T0 + 1900);
	assert_int_equal(err_count[INV_ERR_LOCKED], 1);
	assert_int_equal(obs(inv, "192.0.2.10", "lh.example.com", a, T0 + 2000, NULL),
			 INV_CHANGED | INV_ROLLBACK);
	flush_at(inv, T0 + 2000);
	sqlite3_exec(lock, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(lock);
	flush_at(inv, T0 + 2010);
	assert_int_equal(err_count[INV_ERR_RECOVERED], 1);
	inventory_close(inv);
	assert_int_equal(db_int("SELECT count(*) FROM endpoints"), 2);
	assert_int_equal(db_int("SELECT handshakes FROM served s JOIN certificates c"
				" ON c.sha256 = s.leaf_sha256 WHERE c.serial = 'AB'"),
			 62);
	assert_int_equal(db_int("SELECT handshakes FROM served s JOIN certificates c"
				" ON c.sha256 = s.leaf_sha256 WHERE c.serial = 'AC'"),
			 71);
}

/* The same with the sqlite3 CLI as the other process. */
static void test_locked_by_sqlite3_cli(void **state)
{
	struct cert_facts *a =
		leaf("cli.example.com", 141, "20250101000000Z", "DNS:cli.example.com", NULL);
	struct inventory_opts o = { .retry_s = 1 };
	struct inventory *inv = open_inv(dir, &o);
	char path[128], cmd[256];
	sqlite3 *probe;
	FILE *cli;
	int rc = SQLITE_OK;

	(void)state;
	obs(inv, "192.0.2.10", "cli.example.com", a, T0, NULL);
	flush_at(inv, T0);
	db_path(path, sizeof(path));
	snprintf(cmd, sizeof(cmd), "sqlite3 %s >/dev/null", path);
	cli = popen(cmd, "w");
	assert_non_null(cli);
	/* .timeout: the CLI fails at once on a lock held for a moment (it did, in
	 * CI), and then never holds the database this test waits for. */
	fprintf(cli, ".timeout 5000\n"
		     "BEGIN EXCLUSIVE;\n"
		     "INSERT INTO endpoints (address, port, sni, first_seen, last_seen)"
		     " VALUES ('0.0.0.0', 1, 'cli', 0, 0);\n");
	fflush(cli);
	assert_int_equal(sqlite3_open(path, &probe), SQLITE_OK);
	for (int i = 0; i < 1000 && rc != SQLITE_BUSY; i++) { /* until the CLI holds it */
		rc = sqlite3_exec(probe, "BEGIN IMMEDIATE; ROLLBACK", NULL, NULL, NULL);
		if (rc != SQLITE_BUSY)
			usleep(10000);
	}
	sqlite3_close(probe);
	assert_int_equal(rc, SQLITE_BUSY);
	obs(inv, "192.0.2.11", "cli.example.com", a, T0 + 1, NULL);
	flush_at(inv, T0 + 1);
	assert_int_equal(err_count[INV_ERR_LOCKED], 1);
	fprintf(cli, "ROLLBACK;\n.quit\n");
	pclose(cli);
	flush_at(inv, T0 + 10);
	assert_int_equal(err_count[INV_ERR_RECOVERED], 1);
	inventory_close(inv);
	assert_int_equal(db_int("SELECT count(*) FROM endpoints"), 2);
	assert_int_equal(db_int("SELECT count(*) FROM endpoints WHERE sni = 'cli'"), 0);
}

/* Makes dir read-only: a read-only bind mount in a private mount namespace
 * as root (root ignores modes), the mode otherwise. */
static void dir_readonly(bool ro)
{
	if (geteuid() != 0) {
		assert_int_equal(chmod(dir, ro ? 0500 : 0700), 0);
		return;
	}
	if (ro) {
		assert_int_equal(unshare(CLONE_NEWNS), 0);
		assert_int_equal(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
		assert_int_equal(mount(dir, dir, NULL, MS_BIND, NULL), 0);
		assert_int_equal(mount(NULL, dir, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL), 0);
		mounted = true;
	} else if (mounted) {
		assert_int_equal(umount2(dir, MNT_DETACH), 0);
		mounted = false;
	}
}

static void test_readonly_state_dir(void **state)
{
	struct cert_facts *a =
		leaf("ro.example.com", 151, "20250101000000Z", "DNS:ro.example.com", NULL);
	struct cert_facts *b =
		leaf("ro.example.com", 152, "20250601000000Z", "DNS:ro.example.com", NULL);
	struct inventory_opts o = { .retry_s = 5 };
	struct inventory *inv;
	struct tally t = { 0 };

	(void)state;
	/* The directory is read-only and the file does not exist yet. */
	dir_readonly(true);
	inv = open_inv(dir, &o);
	assert_int_equal(err_count[INV_ERR_STATE_DIR], 1);
	assert_non_null(strstr(err_last, INV_DB_NAME));
	serve(inv, "ro.example.com", a, T0, T0 + 600, 10, &t);
	serve(inv, "ro.example.com", b, T0 + 610, T0 + 1400, 10, &t);
	assert_int_equal(t.changed, 1);
	assert_int_equal(t.renewal, 1);
	flush_at(inv, T0 + 1400);
	flush_at(inv, T0 + 1410);
	assert_int_equal(err_count[INV_ERR_STATE_DIR], 1);
	dir_readonly(false);
	flush_at(inv, T0 + 1420);
	assert_int_equal(err_count[INV_ERR_RECOVERED], 1);
	inventory_close(inv);
	assert_int_equal(db_int("SELECT count(*) FROM served"), 2);
	assert_int_equal(db_int("SELECT sum(handshakes) FROM served"), 61 + 80);

	/* Read-only with the inventory in it: its history still decides
	 * (read as immutable: no -shm can be made there). */
	reset_errors();
	dir_readonly(true);
	inv = open_inv(dir, &o);
	assert_int_equal(err_count[INV_ERR_STATE_DIR], 1);
	assert_int_equal(obs(inv, "192.0.2.10", "ro.example.com", a, T0 + 2000, NULL),
			 INV_CHANGED | INV_ROLLBACK);
	flush_at(inv, T0 + 2000);
	dir_readonly(false);
	flush_at(inv, T0 + 2010);
	assert_int_equal(err_count[INV_ERR_RECOVERED], 1);
	inventory_close(inv);
	assert_int_equal(db_int("SELECT sum(handshakes) FROM served"), 61 + 80 + 1);
	assert_int_equal(db_int("SELECT last_seen FROM endpoints"), T0 + 2000);
}

static void test_missing_and_impossible_state_dir(void **state)
{
	struct cert_facts *a =
		leaf("md.example.com", 161, "20250101000000Z", "DNS:md.example.com", NULL);
	struct inventory *inv;
	char sub[128], file[192];
	struct stat sb;
	mode_t um = umask(022);

	(void)state;
	snprintf(sub, sizeof(sub), "%s/state/certsentry", dir);
	inv = open_inv(sub, NULL);
	assert_int_equal(stat(sub, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0750);
	snprintf(file, sizeof(file), "%s/%s", sub, INV_DB_NAME);
	assert_int_equal(stat(file, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0640);
	assert_int_equal(obs(inv, "192.0.2.10", "md.example.com", a, T0, NULL), INV_FIRST_SEEN);
	inventory_close(inv);

	/* Under a regular file: not creatable; in memory, decisions go on. */
	snprintf(file, sizeof(file), "%s/%s/sub", sub, INV_DB_NAME);
	inv = open_inv(file, NULL);
	assert_int_equal(err_count[INV_ERR_STATE_DIR], 1);
	assert_non_null(strstr(err_last, "Not a directory"));
	assert_int_equal(obs(inv, "192.0.2.10", "md.example.com", a, T0, NULL), INV_FIRST_SEEN);
	flush_at(inv, T0 + 100);
	inventory_close(inv);
	umask(um);
}

/* A full disk: a tiny tmpfs as root, a file size limit otherwise. */
static void test_disk_full(void **state)
{
	struct inventory_opts o = { .retry_s = 5 };
	struct inventory *inv;
	struct inventory_stats st;
	struct rlimit old_lim = { 0 };
	char fill[128], sni[64];
	bool tmpfs = geteuid() == 0;
	struct cert_facts *l[48];
	int64_t t = T0;

	(void)state;
	for (int i = 0; i < 48; i++) {
		snprintf(sni, sizeof(sni), "full%d.example.com", i);
		l[i] = leaf(sni, 200 + i, "20250101000000Z", NULL, NULL);
	}
	if (tmpfs) {
		assert_int_equal(unshare(CLONE_NEWNS), 0);
		assert_int_equal(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
		assert_int_equal(mount("tmpfs", dir, "tmpfs", 0, "size=400k,mode=0700"), 0);
		mounted = true;
	}
	inv = open_inv(dir, &o);
	obs(inv, "192.0.2.10", "full.example.com", l[0], t, NULL);
	flush_at(inv, t);
	snprintf(fill, sizeof(fill), "%s/filler", dir);
	if (tmpfs) {
		int fd = open(fill, O_WRONLY | O_CREAT, 0600);
		char buf[4096] = { 0 };

		while (write(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf))
			;
		close(fd);
	} else {
		struct stat sb;
		char wal[160];
		struct rlimit lim;

		snprintf(wal, sizeof(wal), "%s/%s-wal", dir, INV_DB_NAME);
		assert_int_equal(stat(wal, &sb), 0);
		getrlimit(RLIMIT_FSIZE, &old_lim);
		lim = old_lim;
		lim.rlim_cur = (rlim_t)sb.st_size + 8192;
		signal(SIGXFSZ, SIG_IGN);
		assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	}
	for (int i = 0; i < 48; i++) {
		char sn[64];

		snprintf(sn, sizeof(sn), "full%d.example.com", i);
		assert_int_equal(obs(inv, "192.0.2.10", sn, l[i], ++t, NULL), INV_FIRST_SEEN);
		flush_at(inv, t);
	}
	inventory_stats(inv, &st);
	assert_true(st.in_memory);
	assert_int_equal(err_count[INV_ERR_WRITE], 1);
	/* The capture went on: the last endpoint is known, in memory. */
	assert_int_equal(obs(inv, "192.0.2.10", "full47.example.com", l[47], ++t, NULL), 0);
	if (tmpfs)
		unlink(fill);
	else
		setrlimit(RLIMIT_FSIZE, &old_lim);
	flush_at(inv, t + 10);
	assert_int_equal(err_count[INV_ERR_RECOVERED], 1);
	inventory_close(inv);
	assert_int_equal(db_int("SELECT count(*) FROM endpoints"), 49);
	if (tmpfs) {
		assert_int_equal(umount2(dir, MNT_DETACH), 0);
		mounted = false;
	}
}

/* ---- out ---- */

static char *dump_to_string(struct inventory *inv, const char *glob, enum inv_format fmt)
{
	struct inventory_dump_opts o = { .sni_glob = glob, .format = fmt };
	char *buf = NULL, err[256] = "";
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	if (inv)
		assert_int_equal(inventory_dump(inv, &o, f, err, sizeof(err)), 0);
	else if (inventory_dump_dir(dir, &o, f, err, sizeof(err)))
		fail_msg("inventory_dump_dir: %s", err);
	fclose(f);
	return buf;
}

static void test_dump_text_and_json(void **state)
{
	struct cert_facts *a = leaf("www.example.com", 0x1001, "20250101000000Z",
				    "DNS:www.example.com,DNS:example.com", NULL);
	struct cert_facts *b = leaf("www.example.com", 0x1002, "20250601000000Z",
				    "DNS:www.example.com,DNS:example.com", NULL);
	struct cert_facts *c =
		leaf("other.test", 0x1003, "20250101000000Z", "DNS:other.test", NULL);
	struct inventory *inv = open_inv(dir, NULL);
	struct tally t = { 0 };
	char *txt, *js, *line, *save = NULL;
	int lines = 0, hostile_seen = 0;
	struct report_endpoint v6 = ep("2001:db8::443", 8443);
	struct cert_facts *ch[2] = { c, f_ca };

	(void)state;
	serve(inv, "www.example.com", a, T0, T0 + 600, 10, &t);
	serve(inv, "www.example.com", b, T0 + 700, T0 + 1300, 10, &t);
	obs(inv, "192.0.2.10", NULL, c, T0 + 1300, NULL);
	inventory_observe(inv, &v6, "WWW.Example.COM", ch, 2, "chain.untrusted", (T0 + 1300) * NS,
			  NULL);
	obs(inv, "192.0.2.10", "evil\x1b[31m\xe2\x80\xaeok", c, T0 + 1300, NULL);
	flush_at(inv, T0 + 1300);

	/* JSON: one object per endpoint, read back with json-c, from the file
	 * opened read-only while the inventory is open. */
	js = dump_to_string(NULL, NULL, INV_FORMAT_JSON);
	for (line = strtok_r(js, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_object *o = json_tokener_parse(line), *v, *leaves, *l0, *l1, *arr;
		const char *sni;

		assert_non_null(o);
		lines++;
		assert_true(json_object_object_get_ex(o, "sni", &v));
		sni = json_object_is_type(v, json_type_null) ? NULL : json_object_get_string(v);
		assert_true(json_object_object_get_ex(o, "leaves", &leaves));
		l0 = json_object_array_get_idx(leaves, 0);
		if (sni && !strcmp(sni, "www.example.com")) {
			assert_int_equal(json_object_array_length(leaves), 2);
			l1 = json_object_array_get_idx(leaves, 1);
			assert_true(json_object_object_get_ex(l0, "state", &v));
			assert_string_equal(json_object_get_string(v), "now");
			assert_true(json_object_object_get_ex(l0, "sha256", &v));
			assert_string_equal(json_object_get_string(v), b->sha256_hex);
			assert_true(json_object_object_get_ex(l0, "serial", &v));
			assert_string_equal(json_object_get_string(v), "1002");
			assert_true(json_object_object_get_ex(l0, "not_after", &v));
			assert_string_equal(json_object_get_string(v), "2028-01-01T00:00:00.000Z");
			assert_true(json_object_object_get_ex(l0, "handshakes", &v));
			assert_int_equal(json_object_get_int(v), 61);
			assert_true(json_object_object_get_ex(l0, "sans", &arr));
			assert_int_equal(json_object_array_length(arr), 2);
			assert_string_equal(
				json_object_get_string(json_object_array_get_idx(arr, 0)),
				"www.example.com");
			assert_true(json_object_object_get_ex(l0, "chain", &arr));
			assert_int_equal(json_object_array_length(arr), 2);
			assert_string_equal(
				json_object_get_string(json_object_array_get_idx(arr, 1)),
				f_ca->sha256_hex);
			assert_true(json_object_object_get_ex(l1, "state", &v));
			assert_string_equal(json_object_get_string(v), "before");
			assert_true(json_object_object_get_ex(l1, "serial", &v));
			assert_string_equal(json_object_get_string(v), "1001");
			assert_true(json_object_object_get_ex(l1, "last_seen", &v));
			assert_string_equal(json_object_get_string(v), "2026-01-01T00:10:00.000Z");
		} else if (sni && !strcmp(sni, "WWW.Example.COM")) {
			assert_true(json_object_object_get_ex(o, "address", &v));
			assert_string_equal(json_object_get_string(v), "2001:db8::443");
			assert_true(json_object_object_get_ex(o, "port", &v));
			assert_int_equal(json_object_get_int(v), 8443);
			assert_true(json_object_object_get_ex(l0, "verdict", &v));
			assert_string_equal(json_object_get_string(v), "chain.untrusted");
		} else if (sni) {
			hostile_seen++;
		}
		json_object_put(o);
	}
	assert_int_equal(lines, 4);
	assert_int_equal(hostile_seen, 1);
	free(js);

	/* The glob: case-insensitive; "" is no SNI. */
	js = dump_to_string(inv, "*.EXAMPLE.com", INV_FORMAT_JSON);
	lines = 0;
	for (char *p = js; (p = strchr(p, '\n')); p++)
		lines++;
	assert_int_equal(lines, 2);
	free(js);
	js = dump_to_string(inv, "", INV_FORMAT_JSON);
	assert_non_null(strstr(js, "\"sni\":null"));
	assert_null(strchr(strchr(js, '\n') + 1, '\n'));
	free(js);

	/* Text: a table per endpoint; hostile bytes escaped. */
	txt = dump_to_string(NULL, NULL, INV_FORMAT_TEXT);
	assert_non_null(strstr(txt, "192.0.2.10:443  sni www.example.com"));
	assert_non_null(strstr(txt, "[2001:db8::443]:8443  sni WWW.Example.COM"));
	assert_non_null(strstr(txt, "192.0.2.10:443  no SNI"));
	assert_non_null(strstr(txt, "STATE   SHA-256"));
	assert_non_null(strstr(txt, "  now     "));
	assert_non_null(strstr(txt, "  before  "));
	assert_non_null(strstr(txt, "evil\\x1B[31m\\u{202E}ok"));
	assert_null(strchr(txt, '\x1b'));
	assert_non_null(strstr(txt, "chain.untrusted"));
	free(txt);
	inventory_close(inv);
}

struct mcollect {
	int n;
	char sni[8][64];
	bool has_na[8];
	int64_t na[8], seen[8];
};

static void mcollect(void *ctx, const struct inventory_metric *m)
{
	struct mcollect *c = ctx;

	assert_true(c->n < 8);
	snprintf(c->sni[c->n], sizeof(c->sni[0]), "%s", m->sni);
	c->has_na[c->n] = m->has_not_after;
	c->na[c->n] = m->not_after;
	c->seen[c->n] = m->last_seen;
	assert_int_equal(strlen(m->sha256), 64);
	c->n++;
}

static void test_metrics_iterator(void **state)
{
	struct cert_facts *a = leaf("m1.example.com", 301, "20250101000000Z", NULL, NULL);
	struct cert_facts *b = leaf("m2.example.com", 302, "20250101000000Z", NULL, NULL);
	struct cert_facts *x = garbage("\x30\x01 unparsable");
	struct inventory *inv = open_inv(dir, NULL);
	struct mcollect c = { 0 };
	uint64_t left = 0;

	(void)state;
	/* One (SNI, leaf) on two addresses counts once, at its latest. */
	obs(inv, "192.0.2.10", "m1.example.com", a, T0, NULL);
	obs(inv, "192.0.2.11", "m1.example.com", a, T0 + 5, NULL);
	obs(inv, "192.0.2.10", "m2.example.com", b, T0 + 3, NULL);
	obs(inv, "192.0.2.10", "m3.example.com", x, T0 + 4, NULL);
	assert_int_equal(inventory_metrics(inv, 2, mcollect, &c, &left), 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(left, 1);
	assert_string_equal(c.sni[0], "m1.example.com");
	assert_int_equal(c.seen[0], T0 + 5);
	assert_true(c.has_na[0]);
	assert_int_equal(c.na[0], a->not_after);
	assert_string_equal(c.sni[1], "m3.example.com");
	assert_false(c.has_na[1]);
	inventory_close(inv);
}

/* The file as an operator sees it with the sqlite3 CLI. */
static void test_inspectable_with_sqlite3_cli(void **state)
{
	struct cert_facts *a =
		leaf("cli2.example.com", 401, "20250101000000Z", "DNS:cli2.example.com", NULL);
	struct inventory *inv = open_inv(dir, NULL);
	char path[128], cmd[512], out[1024] = "";
	size_t n;
	FILE *p;

	(void)state;
	obs(inv, "192.0.2.10", "cli2.example.com", a, T0, NULL);
	flush_at(inv, T0);
	db_path(path, sizeof(path));
	snprintf(cmd, sizeof(cmd),
		 "sqlite3 -readonly %s 'PRAGMA user_version' '.tables' "
		 "\"SELECT e.sni, c.serial, s.handshakes FROM served s JOIN endpoints e ON "
		 "e.id = s.endpoint_id JOIN certificates c ON c.sha256 = s.leaf_sha256\" 2>&1",
		 path);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	assert_int_equal(pclose(p), 0);
	assert_non_null(strstr(out, "1\n"));
	assert_non_null(strstr(out, "certificates"));
	assert_non_null(strstr(out, "chains"));
	assert_non_null(strstr(out, "endpoints"));
	assert_non_null(strstr(out, "served"));
	assert_non_null(strstr(out, "cli2.example.com|0191|1"));
	inventory_close(inv);
}

/* ---- cost (printed, not asserted) ---- */

static void count_metric(void *ctx, const struct inventory_metric *m)
{
	(void)m;
	++*(int *)ctx;
}

/* CPU time of this thread: steadier than the wall clock on a shared machine. */
static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_cost_figures(void **state)
{
	struct cert_facts *a =
		leaf("cost.example.com", 501, "20250101000000Z", "DNS:cost.example.com", NULL);
	struct inventory *inv = open_inv(dir, NULL);
	struct report_endpoint e[1000];
	struct cert_facts *ch[2] = { a, f_ca };
	double t0, hot, miss, known, flush_many, flush_few, flush_hot, metrics;
	uint64_t left = 0;
	int n_metrics = 0;
	int64_t t = T0;
	const int N = 200000;

	(void)state;
	for (int i = 0; i < 1000; i++) {
		char ip[32];

		snprintf(ip, sizeof(ip), "10.%d.%d.1", i / 250, i % 250);
		e[i] = ep(ip, 443);
	}
	/* New endpoints: a lookup in the database that finds nothing. */
	t0 = cpu_s();
	for (int i = 0; i < 1000; i++)
		inventory_observe(inv, &e[i], "cost.example.com", ch, 2, "ok", (uint64_t)++t * NS,
				  NULL);
	miss = cpu_s() - t0;
	/* 1000 observations over 1000 endpoints, one transaction. */
	t0 = cpu_s();
	flush_at(inv, t);
	flush_many = cpu_s() - t0;
	/* Hot: the same 100 endpoints over and over. */
	t0 = cpu_s();
	for (int i = 0; i < N; i++)
		inventory_observe(inv, &e[i % 100], "cost.example.com", ch, 2, "ok",
				  (uint64_t)t * NS + (uint64_t)i * 1000, NULL);
	hot = cpu_s() - t0;
	flush_at(inv, ++t);
	for (int i = 0; i < 1000; i++)
		inventory_observe(inv, &e[i % 10], "cost.example.com", ch, 2, "ok",
				  (uint64_t)++t * NS, NULL);
	t0 = cpu_s();
	flush_at(inv, t);
	flush_few = cpu_s() - t0;
	for (int i = 0; i < 1000; i++)
		inventory_observe(inv, &e[i], "cost.example.com", ch, 2, "ok", (uint64_t)++t * NS,
				  NULL);
	t0 = cpu_s();
	flush_at(inv, t);
	flush_hot = cpu_s() - t0;
	inventory_close(inv);
	/* Known endpoints not in memory: loaded from the file. */
	inv = open_inv(dir, NULL);
	t0 = cpu_s();
	for (int i = 0; i < 1000; i++)
		inventory_observe(inv, &e[i], "cost.example.com", ch, 2, "ok", (uint64_t)++t * NS,
				  NULL);
	known = cpu_s() - t0;
	flush_at(inv, t);
	t0 = cpu_s();
	assert_int_equal(inventory_metrics(inv, 500, count_metric, &n_metrics, &left), 0);
	metrics = cpu_s() - t0;
	assert_int_equal(n_metrics, 1); /* one SNI and leaf over 1000 addresses */
	printf("inventory cost (CPU): observe %.0f ns/call hot; %.1f us/call for an endpoint not in "
	       "memory (%.1f us when the file knows it); flush of 1000 observations: %.2f ms over "
	       "1000 new endpoints, %.2f ms over 1000 known, %.2f ms over 10; "
	       "metrics over 1000 endpoints %.2f ms\n",
	       hot / N * 1e9, miss / 1000 * 1e6, known / 1000 * 1e6, flush_many * 1e3,
	       flush_hot * 1e3, flush_few * 1e3, metrics * 1e3);
	inventory_close(inv);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, test_setup, test_teardown)
		T(test_first_seen_then_quiet),
		T(test_rollback_across_restarts),
		T(test_renewal_is_only_changed),
		T(test_new_leaf_issued_before),
		T(test_alternating_is_inconsistent),
		T(test_quick_revert_settles_to_rollback),
		T(test_slow_flapping_is_held),
		T(test_traffic_gap_is_no_rollback),
		T(test_sni_absent_and_ipv6),
		T(test_clock_backwards),
		T(test_unparsable_leaves),
		T(test_dual_key_types),
		T(test_prune_bounds),
		T(test_hot_eviction_keeps_history),
		T(test_corrupt_file_recreated),
		T(test_corrupt_while_open),
		T(test_locked_then_recovered),
		T(test_locked_history_kept),
		T(test_locked_by_sqlite3_cli),
		T(test_readonly_state_dir),
		T(test_missing_and_impossible_state_dir),
		T(test_disk_full),
		T(test_dump_text_and_json),
		T(test_metrics_iterator),
		T(test_inspectable_with_sqlite3_cli),
		T(test_cost_figures),
#undef T
	};

	if (argc > 1)
		cmocka_set_test_filter(argv[1]); /* one test while working on it */
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
