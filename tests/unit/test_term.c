/* test_term.c - the terminal view: when to colour, the status line, the exit summary table. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "cert.h"
#include "term.h"

static void test_color(void **state)
{
	(void)state;
	assert_true(term_color_wanted(TERM_COLOR_AUTO, true, NULL));
	assert_false(term_color_wanted(TERM_COLOR_AUTO, false, NULL));
	/* NO_COLOR set to anything but empty turns auto off */
	assert_false(term_color_wanted(TERM_COLOR_AUTO, true, "1"));
	assert_true(term_color_wanted(TERM_COLOR_AUTO, true, ""));
	/* always and never are not overridden */
	assert_true(term_color_wanted(TERM_COLOR_ALWAYS, false, "1"));
	assert_false(term_color_wanted(TERM_COLOR_NEVER, true, NULL));
	assert_int_equal(term_color_parse("auto"), TERM_COLOR_AUTO);
	assert_int_equal(term_color_parse("always"), TERM_COLOR_ALWAYS);
	assert_int_equal(term_color_parse("never"), TERM_COLOR_NEVER);
	assert_int_equal(term_color_parse("yes"), -1);
	assert_string_equal(term_severity_color("critical"), "\033[1;31m");
	assert_string_equal(term_severity_color("info"), "");
	assert_string_equal(term_severity_color("high"), "\033[31m");
	assert_string_equal(term_severity_color(NULL), "");
}

/* A certificate report from client 10.0.0.c to sni, leaf sha256 starting with hex. */
static void report(struct term_view *v, const char *sni, char hexdigit, uint8_t client,
		   const char *verdict, bool alert)
{
	static struct cert_facts leaf;
	struct cs_report r = { .action = REPORT_CERTIFICATE, .has_sni = true, .chain_len = 1 };

	memset(leaf.sha256_hex, hexdigit, 64);
	leaf.sha256_hex[64] = '\0';
	r.chain[0] = &leaf;
	snprintf(r.sni, sizeof(r.sni), "%s", sni);
	r.client.family = 4;
	r.client.addr[0] = 10;
	r.client.addr[3] = client;
	r.client.port = (uint16_t)(40000 + client);
	term_view_report(v, &r, verdict, alert);
}

static void test_status_and_table(void **state)
{
	struct term_view *v = term_view_new();
	struct cs_report hidden = { .action = REPORT_CERTIFICATE_HIDDEN };
	char line[256], out[8192] = "";
	FILE *f;

	(void)state;
	assert_non_null(v);
	report(v, "a.example", 'A', 1, "ok", false);
	report(v, "a.example", 'A', 1, "ok", false);
	report(v, "a.example", 'A', 2, "ok", false);
	report(v, "a.example", 'B', 3, "revocation.revoked", true);
	/* an alert stays the row's verdict */
	report(v, "a.example", 'B', 3, "ok", false);
	term_view_report(v, &hidden, "ok", false);
	term_status_text(v, 7, 3, line, sizeof(line));
	assert_string_equal(line, "6 handshakes/s  5 certificates  1 alerts  1 unverified TLS 1.3  "
				  "7 drops  3 flows");
	/* a second later with nothing new: the rate falls, the totals stay */
	term_status_text(v, 7, 0, line, sizeof(line));
	assert_string_equal(line, "0 handshakes/s  5 certificates  1 alerts  1 unverified TLS 1.3  "
				  "7 drops  0 flows");

	assert_non_null(f = fmemopen(out, sizeof(out), "w"));
	term_summary_print(v, f);
	fclose(f);
	assert_string_equal(
		out,
		"SNI                                      LEAF                COUNT  CLIENTS  VERDICT\n"
		"a.example                                AAAAAAAAAAAAAAAA        3        2  ok\n"
		"a.example                                BBBBBBBBBBBBBBBB        2        1  revocation.revoked\n");
	term_view_free(v);
}

static void test_table_bounds(void **state)
{
	struct term_view *v = term_view_new();
	char sni[32], out[16384] = "", *last;
	FILE *f;

	(void)state;
	/* clients past the bound are "16+" */
	for (int c = 0; c < TERM_SUMMARY_CLIENTS + 3; c++)
		report(v, "many.example", 'C', (uint8_t)c, "ok", false);
	/* pairs past the table are counted, not shown */
	for (int i = 0; i < TERM_SUMMARY_ROWS + 5; i++) {
		snprintf(sni, sizeof(sni), "h%d.example", i);
		report(v, sni, 'D', 1, "ok", false);
		report(v, sni, 'D', 2, "ok", false);
	}
	assert_non_null(f = fmemopen(out, sizeof(out), "w"));
	term_summary_print(v, f);
	fclose(f);
	assert_non_null(strstr(out, "many.example                             CCCCCCCCCCCCCCCC"
				    "       19      16+  ok\n"));
	assert_null(strstr(out, "h63.example"));
	assert_non_null(strstr(out, "h62.example"));
	last = strstr(out, "...");
	assert_non_null(last);
	assert_string_equal(last, "... 6 more (SNI, leaf) pairs, 12 handshakes\n");
	term_view_free(v);
}

/* A hostile SNI is escaped and cut to its column. */
static void test_hostile_sni(void **state)
{
	struct term_view *v = term_view_new();
	char out[4096] = "";
	FILE *f;

	(void)state;
	report(v, "evil\033[2J.example", 'E', 1, "ok", false);
	assert_non_null(f = fmemopen(out, sizeof(out), "w"));
	term_summary_print(v, f);
	fclose(f);
	assert_null(strchr(out, '\033'));
	assert_non_null(strstr(out, "evil\\x1B[2J.example"));
	term_view_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_color),
		cmocka_unit_test(test_status_and_table),
		cmocka_unit_test(test_table_bounds),
		cmocka_unit_test(test_hostile_sni),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
