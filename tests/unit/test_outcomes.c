/* test_outcomes.c - outcomes.c: the TLS 1.3 client outcome classifier case by case, and the
 * per-(server, SNI) abort rate: it fires, it does not, it clears. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <linux/types.h>
#include "certsentry.h"
#include "outcomes.h"

/* ---- the classifier ---- */

static enum client_outcome decided(struct outcome_track *o)
{
	return outcome_pending(o) ? OUTCOME_NONE : (enum client_outcome)o->outcome;
}

/* Finished (53 bytes of ciphertext with SHA-256) right after the flight. */
static void test_accepted(void **state)
{
	struct outcome_track o = { 0 };

	(void)state;
	outcome_flight(&o, false);
	assert_true(outcome_pending(&o));
	outcome_record(&o, 53, 6 + 58);
	assert_int_equal(decided(&o), OUTCOME_ACCEPTED);
	assert_true(outcome_take(&o));
	assert_false(outcome_take(&o)); /* once */
}

/* The shape: one 19-byte record, then FIN (half-close) right at its end. */
static void test_half_close_after_alert(void **state)
{
	struct outcome_track o = { 0 };

	(void)state;
	outcome_flight(&o, false);
	outcome_record(&o, OUTCOME_ALERT_LEN, 1000);
	assert_true(outcome_pending(&o)); /* the close decides */
	outcome_close(&o, true, false, 1000);
	assert_int_equal(decided(&o), OUTCOME_ABORTED);
	assert_string_equal(o.reason, "one alert-sized record, then FIN");
}

/* ... or a reset right at its end (BoringSSL, NSS closing with unread data). */
static void test_reset_after_alert(void **state)
{
	struct outcome_track o = { 0 };

	(void)state;
	outcome_flight(&o, false);
	outcome_record(&o, OUTCOME_ALERT_LEN, 1000);
	outcome_close(&o, true, true, 1000);
	assert_int_equal(decided(&o), OUTCOME_ABORTED);
}

/* A reset with no record (the client gave up before answering): unknown. */
static void test_reset_before_any_record(void **state)
{
	struct outcome_track o = { 0 };

	(void)state;
	outcome_flight(&o, false);
	outcome_close(&o, true, true, 517);
	assert_int_equal(decided(&o), OUTCOME_UNKNOWN);
}

/* A client that sends only its ClientHello and closes: unknown, never aborted;
 * and one whose connection just ends (idle, capture over): unknown too. */
static void test_client_hello_only(void **state)
{
	struct outcome_track o = { 0 }, p = { 0 }, q = { 0 };

	(void)state;
	outcome_close(&o, true, false, 517); /* no flight: nothing to classify */
	assert_false(outcome_pending(&o));
	assert_false(outcome_take(&o));
	outcome_flight(&p, false);
	outcome_close(&p, true, false, 517);
	assert_int_equal(decided(&p), OUTCOME_UNKNOWN);
	outcome_flight(&q, false);
	outcome_end(&q, "idle");
	assert_int_equal(decided(&q), OUTCOME_UNKNOWN);
	assert_string_equal(q.reason, "idle");
}

/* The server aborts: it closes (or resets) first; the client's short record
 * that follows answers the server, not the certificate. */
static void test_server_aborts(void **state)
{
	struct outcome_track o = { 0 }, p = { 0 }, q = { 0 };

	(void)state;
	outcome_flight(&o, false);
	outcome_close(&o, false, false, 0);
	outcome_record(&o, OUTCOME_ALERT_LEN, 1000);
	outcome_close(&o, true, false, 1000);
	assert_int_equal(decided(&o), OUTCOME_UNKNOWN);
	outcome_flight(&p, false);
	outcome_close(&p, false, true, 0);
	assert_int_equal(decided(&p), OUTCOME_UNKNOWN);
	/* after the client's short record the server answering the alert
	 * (FIN, then the client's FIN; or a reset) is still the shape */
	outcome_flight(&q, false);
	outcome_record(&q, OUTCOME_ALERT_LEN, 1000);
	outcome_close(&q, false, false, 0);
	assert_true(outcome_pending(&q));
	outcome_close(&q, true, false, 1000);
	assert_int_equal(decided(&q), OUTCOME_ABORTED);
	memset(&q, 0, sizeof(q));
	outcome_flight(&q, false);
	outcome_record(&q, OUTCOME_ALERT_LEN, 1000);
	outcome_close(&q, false, true, 0);
	assert_int_equal(decided(&q), OUTCOME_ABORTED);
}

/* A client certificate flight: its first record holds a Certificate (long:
 * accepted), or an empty one in a record of its own (4 + 4 + 1 + 16 = 25
 * bytes: neither shape, unknown; never aborted). */
static void test_client_certificate_flight(void **state)
{
	struct outcome_track o = { 0 }, p = { 0 };

	(void)state;
	outcome_flight(&o, false);
	outcome_record(&o, 1200, 1800);
	assert_int_equal(decided(&o), OUTCOME_ACCEPTED);
	outcome_flight(&p, false);
	outcome_record(&p, 25, 560);
	outcome_close(&p, true, false, 560);
	assert_int_equal(decided(&p), OUTCOME_UNKNOWN);
}

/* Not the shape: bytes after the short record, a second record, early data. */
static void test_not_the_shape(void **state)
{
	struct outcome_track o = { 0 }, p = { 0 }, q = { 0 };

	(void)state;
	outcome_flight(&o, false);
	outcome_record(&o, OUTCOME_ALERT_LEN, 1000);
	outcome_close(&o, true, false, 1100);
	assert_int_equal(decided(&o), OUTCOME_UNKNOWN);
	outcome_flight(&p, false);
	outcome_record(&p, OUTCOME_ALERT_LEN, 1000);
	outcome_record(&p, 100, 1105);
	outcome_close(&p, true, false, 1105);
	assert_int_equal(decided(&p), OUTCOME_UNKNOWN);
	outcome_flight(&q, true);
	outcome_record(&q, OUTCOME_ALERT_LEN, 1000);
	outcome_close(&q, true, false, 1000);
	assert_int_equal(decided(&q), OUTCOME_UNKNOWN);
}

/* An alert read (in the clear, or decrypted) is aborted for sure; a
 * decrypted handshake record accepted. */
static void test_read_alert_and_handshake(void **state)
{
	struct outcome_track o = { 0 }, p = { 0 };

	(void)state;
	outcome_alert(&o, "before the flight"); /* no flight: not this client's answer */
	assert_false(outcome_pending(&o));
	assert_false(outcome_take(&o));
	outcome_flight(&o, false);
	outcome_alert(&o, "an alert in the clear");
	assert_int_equal(decided(&o), OUTCOME_ABORTED);
	outcome_flight(&p, false);
	outcome_record(&p, OUTCOME_ALERT_LEN, 1000);
	outcome_accepted(&p, "decrypted");
	assert_int_equal(decided(&p), OUTCOME_ACCEPTED);
}

/* ---- the rate ---- */

struct got {
	int n;
	struct cs_report r[8];
};

static void on_emit(void *ctx, const struct cs_report *r)
{
	struct got *g = ctx;

	if (g->n < 8)
		g->r[g->n++] = *r;
}

#define SEC 1000000000ULL

/* One outcome for (192.0.2.1:443, www.example.test), from a client family. */
static void outcome(struct outcomes *t, uint64_t ts, enum client_outcome out, const char *ja4)
{
	struct cs_report r;

	memset(&r, 0, sizeof(r));
	r.action = REPORT_CLIENT_OUTCOME;
	r.ts_ns = ts;
	r.server.family = CS_AF_INET;
	memcpy(r.server.addr, "\xc0\x00\x02\x01", 4);
	r.server.port = 443;
	r.has_sni = true;
	strcpy(r.sni, "www.example.test");
	r.outcome = out;
	r.have_hello = true;
	strcpy(r.hello.fp.ja4, ja4);
	if (out == OUTCOME_ABORTED)
		strcpy(r.alert_cert_sha256, "AB12");
	outcomes_count(t, &r);
}

#define CHROMIUM "t13d1516h2_8daaf6152771_d8a2da3f94cd"
#define OPENSSL	 "t13d311000_e8f1e7e78f70_1f22a2ca17c4"

/* 30 refuse and 10 accept within a minute: client.aborting, once, naming
 * the counts, the leaf and the family that aborts; then accepts push the
 * share under 20%: cleared. */
static void test_rate_fires_and_clears(void **state)
{
	struct got g = { 0 };
	struct outcomes_opts oo = { .emit = on_emit, .ctx = &g };
	struct outcomes *t = outcomes_new(&oo);
	struct outcomes_stats st;
	uint64_t ts = 1700000000ULL * SEC;

	(void)state;
	for (int i = 0; i < 10; i++)
		outcome(t, ts + i * SEC, OUTCOME_ACCEPTED, OPENSSL);
	for (int i = 0; i < 30; i++)
		outcome(t, ts + (10 + i) * SEC, OUTCOME_ABORTED, CHROMIUM);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.r[0].action, REPORT_CLIENT_ABORTING);
	/* it fired once there were 20 handshakes: 10 aborted of 20 */
	assert_int_equal(g.r[0].win_total, 20);
	assert_int_equal(g.r[0].win_aborted, 10);
	assert_string_equal(g.r[0].alert_cert_sha256, "AB12");
	assert_string_equal(g.r[0].sni, "www.example.test");
	assert_int_equal(g.r[0].n_families, 2);
	assert_string_equal(g.r[0].families[0].ja4, CHROMIUM);
	assert_int_equal(g.r[0].families[0].aborted, 10);
	assert_int_equal(g.r[0].families[1].aborted, 0);
	assert_int_equal(g.r[0].families[1].total, 10);
	/* 100 accepted later in the same minute: 30 of 140 is still over 20%,
	 * 30 of 151 is under */
	for (int i = 0; i < 121; i++)
		outcome(t, ts + 45 * SEC, OUTCOME_ACCEPTED, OPENSSL);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.r[1].action, REPORT_CLIENT_ABORTING_CLEARED);
	assert_true(g.r[1].win_aborted * 100 < 20 * g.r[1].win_total);
	outcomes_stats(t, &st);
	assert_int_equal(st.total[OUTCOME_ABORTED], 30);
	assert_int_equal(st.total[OUTCOME_ACCEPTED], 131);
	assert_int_equal(st.alerts, 1);
	assert_int_equal(st.clears, 1);
	assert_int_equal(st.n_metric, 1);
	assert_string_equal(st.metric[0].label, "192.0.2.1:443 www.example.test");
	assert_int_equal(st.metric[0].aborted, 30);
	outcomes_free(t);
}

/* 2 of 100 close early: no alert. Unknown outcomes never count. */
static void test_rate_quiet(void **state)
{
	struct got g = { 0 };
	struct outcomes_opts oo = { .emit = on_emit, .ctx = &g };
	struct outcomes *t = outcomes_new(&oo);
	uint64_t ts = 1700000000ULL * SEC;

	(void)state;
	for (int i = 0; i < 100; i++)
		outcome(t, ts + i * SEC / 2, i % 50 == 7 ? OUTCOME_ABORTED : OUTCOME_ACCEPTED,
			OPENSSL);
	for (int i = 0; i < 50; i++)
		outcome(t, ts + 55 * SEC, OUTCOME_UNKNOWN, CHROMIUM);
	assert_int_equal(g.n, 0);
	/* 19 aborts: below the minimum of 20 handshakes, however high the share */
	for (int i = 0; i < 19; i++)
		outcome(t, ts + 200 * SEC, OUTCOME_ABORTED, CHROMIUM);
	assert_int_equal(g.n, 0);
	outcomes_free(t);
}

/* Raised, then no traffic: the window empties and the tick clears it. */
static void test_rate_clears_on_tick(void **state)
{
	struct got g = { 0 };
	struct outcomes_opts oo = {
		.window_s = 10, .pct = 50, .min = 4, .emit = on_emit, .ctx = &g
	};
	struct outcomes *t = outcomes_new(&oo);
	uint64_t ts = 1700000000ULL * SEC;

	(void)state;
	for (int i = 0; i < 4; i++)
		outcome(t, ts, OUTCOME_ABORTED, CHROMIUM);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.r[0].win_s, 10);
	outcomes_tick(t, ts + 5 * SEC);
	assert_int_equal(g.n, 1);
	outcomes_tick(t, ts + 11 * SEC);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.r[1].action, REPORT_CLIENT_ABORTING_CLEARED);
	assert_int_equal(g.r[1].win_total, 0);
	outcomes_free(t);
}

/* A refusal that names no certificate gets the last leaf seen in the clear
 * for its (server, SNI), saying so; one that names its own keeps it. */
static void test_annotate_last_leaf(void **state)
{
	struct outcomes_opts oo = { 0 };
	struct outcomes *t = outcomes_new(&oo);
	struct cert_facts leaf;
	struct cs_report c, a, b;

	(void)state;
	memset(&leaf, 0, sizeof(leaf));
	strcpy(leaf.sha256_hex, "C0FFEE");
	memset(&c, 0, sizeof(c));
	c.action = REPORT_CERTIFICATE;
	c.server.family = CS_AF_INET;
	c.server.port = 443;
	c.has_sni = true;
	strcpy(c.sni, "www.example.test");
	c.chain[0] = &leaf;
	c.chain_len = 1;
	outcomes_annotate(t, &c);
	a = c;
	a.action = REPORT_ALERT;
	a.chain_len = 0;
	a.alert_from_client = true;
	outcomes_annotate(t, &a);
	assert_string_equal(a.alert_cert_sha256, "C0FFEE");
	assert_int_equal(a.cert_basis, CERT_BASIS_ENDPOINT);
	b = a;
	strcpy(b.alert_cert_sha256, "BEEF");
	b.cert_basis = 0;
	outcomes_annotate(t, &b);
	assert_string_equal(b.alert_cert_sha256, "BEEF");
	assert_int_equal(b.cert_basis, CERT_BASIS_CONNECTION);
	/* another SNI: nothing seen for it */
	b = a;
	strcpy(b.sni, "other.example.test");
	b.alert_cert_sha256[0] = '\0';
	b.cert_basis = 0;
	outcomes_annotate(t, &b);
	assert_string_equal(b.alert_cert_sha256, "");
	outcomes_free(t);
}

/* Only a refusal, or a finding, makes a client outcome worth a line of its own. */
static void test_quiet(void **state)
{
	struct cs_report r;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.action = REPORT_CLIENT_OUTCOME;
	r.outcome = OUTCOME_ACCEPTED;
	assert_true(outcomes_quiet(&r, false));
	assert_false(outcomes_quiet(&r, true));
	r.outcome = OUTCOME_UNKNOWN;
	assert_true(outcomes_quiet(&r, false));
	r.outcome = OUTCOME_ABORTED;
	assert_false(outcomes_quiet(&r, false));
	r.outcome_alert = true;
	assert_false(outcomes_quiet(&r, false));
	/* any other event is never an outcome's to silence */
	r.action = REPORT_CERTIFICATE;
	r.outcome = OUTCOME_ACCEPTED;
	assert_false(outcomes_quiet(&r, false));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted),
		cmocka_unit_test(test_half_close_after_alert),
		cmocka_unit_test(test_reset_after_alert),
		cmocka_unit_test(test_reset_before_any_record),
		cmocka_unit_test(test_client_hello_only),
		cmocka_unit_test(test_server_aborts),
		cmocka_unit_test(test_client_certificate_flight),
		cmocka_unit_test(test_not_the_shape),
		cmocka_unit_test(test_read_alert_and_handshake),
		cmocka_unit_test(test_rate_fires_and_clears),
		cmocka_unit_test(test_rate_quiet),
		cmocka_unit_test(test_rate_clears_on_tick),
		cmocka_unit_test(test_annotate_last_leaf),
		cmocka_unit_test(test_quiet),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
