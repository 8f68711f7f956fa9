/* test_counters.c - counters.def: the table's rules, the status lines it writes, /metrics from it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "counters.h"
#include "metrics.h"

static const unsigned line_sets[] = { CL_LIVE | CL_CONFIRM, CL_READ, CL_LISTS };

/* A snapshot where every counter has its own value. */
static void snap_fill(struct counter_snap *s)
{
	memset(s, 0, sizeof(*s));
	s->kernel[CS_C_PACKETS] = 1;
	s->kernel[CS_C_TCP_PAYLOAD] = 2;
	s->kernel[CS_C_FLOWS] = 3;
	s->kernel[CS_C_BYTES] = 4;
	s->kernel[CS_C_EVENTS] = 5;
	s->kernel[CS_C_RB_FAIL] = 6;
	s->kernel[CS_C_COPY_FAIL] = 7;
	s->kernel[CS_C_CAPPED] = 8;
	s->flow = (struct flow_stats){ .conns = 11,
				       .reports = 12,
				       .parse_errors = 13,
				       .gaps = 14,
				       .evicted = 15,
				       .evicted_mem = 16,
				       .expired = 17,
				       .mem_peak = 18,
				       .active = 90,
				       .mem = 91 };
	s->out = (struct output_stats){
		.write_errors = 19, .lines = 92, .lost = 93, .truncated = 98
	};
	s->dedup = (struct dedup_stats){ .suppressed = 20, .summaries = 21 };
	s->pcap = (struct pcap_source_stats){ .packets = 31,
					      .bytes = 32,
					      .tcp_payload = 33,
					      .flows = 34,
					      .segments = 35,
					      .fragments = 36,
					      .malformed = 37,
					      .truncated = 38,
					      .capped = 39 };
	s->lists = (struct lists_sizes){ .ca_certs = 41,
					 .crls = 42,
					 .crl_entries = 43,
					 .crls_stale = 44,
					 .crls_unverified = 45,
					 .deny_sha256 = 46,
					 .deny_spki = 47,
					 .deny_serial = 48,
					 .pin_rules = 49 };
	s->certs = (struct cert_cache_stats){ .hits = 94, .misses = 95 };
	s->app.reloads_ok = 96;
	s->app.reloads_failed = 97;
	for (int i = 0; i <= F_MAX; i++)
		s->app.verdicts[i] = 1000 + (uint64_t)i;
	s->app.verdicts[VERDICT_UNVERIFIED] = 99;
	s->flow.keylog_chains = 101;
	s->flow.served_chains = 102;
	s->flow.keylog_auth_failed = 103;
	s->flow.keylog_failed = 104;
	s->keylog.outcome[KEYLOG_BAD_HEX] = 100;
	s->keylog.outcome[KEYLOG_CONFLICT] = 5;
	s->keylog.outcome[KEYLOG_ADDED] = 7; /* not a rejection */
	s->flow.served_clear = 106;
	s->flow.served_unmatched = 107;
	s->flow.served_late = 108;
	s->app.uprobe_uncovered = 109;
	for (int i = 0; i < F_MAX; i++)
		s->app.findings[i] = 2000 + (uint64_t)i;
	hist_record(&s->app.latency, 1);    /* [1, 2) */
	hist_record(&s->app.latency, 1000); /* [512, 1024) */
	hist_record(&s->app.latency, 5000); /* [4096, 8192) */
}

/* ---- the table ---- */

static bool is_name(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

/* Keys are unique in each line; a row with a key says which lines; a
 * counter's name ends in _total; every live status counter is a metric
 * too, so the stats line and /metrics tell the same things. */
static void test_table_rows(void **state)
{
	(void)state;
	assert_true(counter_table_len > 40);
	for (size_t i = 0; i < counter_table_len; i++) {
		const struct counter_def *c = &counter_table[i];

		assert_true(c->key || c->metric);
		assert_int_equal(!c->key, !c->lines);
		if (c->key)
			assert_true(is_name(c->key));
		if (c->metric)
			assert_true(is_name(c->metric));
		if (c->lines & (CL_LIVE | CL_CONFIRM))
			assert_non_null(c->metric);
		if (c->type && !strcmp(c->type, "counter")) {
			size_t n = strlen(c->metric);

			assert_true(n > 6 && !strcmp(c->metric + n - 6, "_total"));
		}
		if (c->shape == COUNTER_FAMILY)
			assert_true(c->n > 0 && c->name_at && c->value_at && is_name(c->label));
		if (c->shape == COUNTER_HISTOGRAM)
			assert_non_null(c->hist);
		if (c->shape == COUNTER_ONE)
			assert_non_null(c->value);
		for (size_t l = 0; l < 3 && c->key; l++)
			for (size_t j = i + 1; j < counter_table_len; j++)
				if ((c->lines & line_sets[l]) &&
				    (counter_table[j].lines & line_sets[l]))
					assert_string_not_equal(c->key, counter_table[j].key);
	}
}

/* A family's rows are adjacent among the rows with a metric, the first
 * carries its help and type, the rest carry neither and differ by label. */
static void test_table_families(void **state)
{
	const struct counter_def *prev = NULL; /* the last row with a metric */

	(void)state;
	for (size_t i = 0; i < counter_table_len; i++) {
		const struct counter_def *c = &counter_table[i];
		bool first = !prev || (c->metric && strcmp(prev->metric, c->metric));

		if (!c->metric) {
			assert_non_null(c->help); /* documented all the same */
			continue;
		}
		if (first) {
			for (size_t j = 0; j < i; j++)
				if (counter_table[j].metric)
					assert_string_not_equal(counter_table[j].metric, c->metric);
			assert_non_null(c->help);
			assert_non_null(c->type);
		} else {
			assert_null(c->help);
			assert_null(c->type);
			assert_int_equal(c->shape, COUNTER_ONE);
			assert_int_equal(prev->shape, COUNTER_ONE);
			assert_non_null(c->label);
			assert_non_null(prev->label);
			assert_string_not_equal(c->label, prev->label);
		}
		prev = c;
	}
}

/* ---- status lines ---- */

/* The keys and their order are what the README, the tests and whoever
 * parses the lines rely on. */
static void test_status_lines(void **state)
{
	struct counter_snap s;
	char line[COUNTERS_LINE_MAX];
	size_t n;

	(void)state;
	snap_fill(&s);
	n = counters_line(&s, CL_LIVE, line, sizeof(line));
	assert_int_equal(n, strlen(line));
	assert_string_equal(
		line,
		"packets=1 tcp_payload=2 flows=3 bytes=4 events=5 ringbuf_drops=6 copy_failures=7"
		" capped=8 connections=11 reports=12 parse_errors=13 gaps=14 evicted=15"
		" evicted_mem=16 expired=17 flow_mem_peak=18 output_errors=19 suppressed=20"
		" summaries=21 latency_p50_us<=1024 latency_p99_us<=8192 latency_n=3 unverified=99"
		" keylog_chains=101 uprobe_chains=102 keylog_auth_failed=103 keylog_failed=104"
		" keylog_rejected=105 uprobe_clear=106 uprobe_unmatched=107 uprobe_late=108"
		" uprobe_uncovered=109");
	counters_line(&s, CL_READ, line, sizeof(line));
	assert_string_equal(
		line,
		"packets=31 bytes=32 tcp_payload=33 directions=34 segments=35 fragments=36"
		" malformed=37 truncated=38 capped=39 connections=11 reports=12 parse_errors=13"
		" gaps=14 evicted=15 evicted_mem=16 expired=17 flow_mem_peak=18 output_errors=19 unverified=99"
		" keylog_chains=101 uprobe_chains=102 keylog_auth_failed=103 keylog_failed=104"
		" keylog_rejected=105");
	counters_line(&s, CL_LISTS, line, sizeof(line));
	assert_string_equal(line,
			    "ca_certs=41 crls=42 crl_entries=43 crls_stale=44 crls_unverified=45"
			    " deny_sha256=46 deny_spki=47 deny_serial=48 pin_rules=49");
}

/* Each confirm result and skip reason (confirm.c names them) is one series
 * of its family, and the --confirm line lists them in that order. */
static bool has_series(const char *metric, const char *label_name, const char *value)
{
	char want[64];

	snprintf(want, sizeof(want), "%s=\"%s\"", label_name, value);
	for (size_t i = 0; i < counter_table_len; i++)
		if (counter_table[i].metric && !strcmp(counter_table[i].metric, metric) &&
		    counter_table[i].label && !strcmp(counter_table[i].label, want))
			return true;
	return false;
}

static void test_confirm_rows(void **state)
{
	struct counter_snap s;
	char line[COUNTERS_LINE_MAX];

	(void)state;
	for (uint32_t r = 0; r < CONFIRM_R_MAX; r++)
		assert_true(
			has_series("confirm_handshakes_total", "result", confirm_result_name(r)));
	for (uint32_t r = 0; r < CONFIRM_S_MAX; r++)
		assert_true(has_series("confirm_skipped_total", "reason", confirm_skip_name(r)));
	memset(&s, 0, sizeof(s));
	s.confirm.attempts = 9;
	for (uint32_t r = 0; r < CONFIRM_R_MAX; r++)
		s.confirm.results[r] = 10 + r;
	for (uint32_t r = 0; r < CONFIRM_S_MAX; r++)
		s.confirm.skipped[r] = 20 + r;
	s.confirm.own_reports = 30;
	counters_line(&s, CL_CONFIRM, line, sizeof(line));
	assert_string_equal(
		line,
		"confirm_attempts=9 confirm_ok=10 confirm_connect_failed=11 confirm_timeouts=12"
		" confirm_tls_failed=13 confirm_closed=14 confirm_no_chain=15 confirm_skipped_ttl=20"
		" confirm_skipped_rate=21 confirm_skipped_remote=22 confirm_skipped_queue=23"
		" confirm_skipped_seen=24 confirm_own_reports=30");
	/* The live line with them, at twenty digits each, still fits. */
	memset(&s, 0xff, sizeof(s));
	assert_true(counters_line(&s, CL_LIVE | CL_CONFIRM, line, sizeof(line)) < sizeof(line) - 1);
}

/* Twenty-digit values everywhere still fit; a short buffer is cut, ended. */
static void test_status_line_bounds(void **state)
{
	struct counter_snap s;
	char line[COUNTERS_LINE_MAX], small[24];
	size_t n;

	(void)state;
	memset(&s, 0xff, sizeof(s));
	n = counters_line(&s, CL_LIVE, line, sizeof(line));
	assert_true(n < sizeof(line) - 1);
	assert_non_null(strstr(line, "packets=18446744073709551615 "));
	n = counters_line(&s, CL_READ, line, sizeof(line));
	assert_true(n < sizeof(line) - 1);
	snap_fill(&s);
	n = counters_line(&s, CL_LIVE, small, sizeof(small));
	assert_int_equal(n, sizeof(small) - 1);
	assert_int_equal(strlen(small), n);
	assert_int_equal(counters_line(&s, CL_LIVE, small, 0), 0);
}

static void test_hist(void **state)
{
	struct log2_hist h = { 0 };

	(void)state;
	assert_int_equal(hist_quantile(&h, 0.5), 0);
	hist_record(&h, 0);
	hist_record(&h, 1);
	hist_record(&h, 1023);
	hist_record(&h, 1024);
	hist_record(&h, UINT64_MAX);
	assert_int_equal(h.bucket[0], 1);
	assert_int_equal(h.bucket[1], 1);
	assert_int_equal(h.bucket[10], 1);
	assert_int_equal(h.bucket[11], 1);
	assert_int_equal(h.bucket[HIST_BUCKETS - 1], 1);
	assert_int_equal(h.n, 5);
	assert_int_equal(hist_quantile(&h, 0.0), 1);
	assert_int_equal(hist_quantile(&h, 0.5), 1024);
	assert_int_equal(hist_quantile(&h, 0.99), 1ULL << (HIST_BUCKETS - 1));
}

/* Nothing to read from: zeros, no crash. */
static void test_read_nothing(void **state)
{
	struct counter_src src = { 0 };
	struct counter_snap s, zero;

	(void)state;
	memset(&s, 0xab, sizeof(s));
	counters_read(&src, &s);
	memset(&zero, 0, sizeof(zero));
	assert_memory_equal(&s, &zero, sizeof(s));
}

/* ---- /metrics ---- */

static const char *sample(const char *text, const char *series)
{
	static char want[256];
	const char *p;

	snprintf(want, sizeof(want), "\ncertsentry_%s ", series);
	p = strstr(text, want);
	return p ? p + strlen(want) : NULL;
}

static void assert_sample(const char *text, const char *series, uint64_t v)
{
	const char *p = sample(text, series);

	if (!p)
		fail_msg("no series %s", series);
	assert_int_equal(strtoull(p, NULL, 10), v);
}

/* Every family: HELP, TYPE, then its samples, once; samples named after it. */
static void test_metrics_shape(void **state)
{
	struct counter_snap s;
	char *buf = malloc(256 * 1024), *save = NULL, *l, fam[128] = "", type[16] = "";
	char seen[8192] = " ";
	size_t n;

	(void)state;
	snap_fill(&s);
	n = metrics_render(&s, buf, 256 * 1024);
	assert_true(n > 0 && n < 256 * 1024 && buf[n - 1] == '\n');
	buf[n] = '\0';
	for (l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char name[128], key[160];

		if (!strncmp(l, "# HELP ", 7)) {
			assert_int_equal(sscanf(l, "# HELP certsentry_%127s ", fam), 1);
			snprintf(key, sizeof(key), " %s ", fam);
			if (strstr(seen, key))
				fail_msg("family %s twice", fam);
			assert_true(strlen(seen) + strlen(key) < sizeof(seen));
			strcat(seen, key + 1);
			l = strtok_r(NULL, "\n", &save);
			assert_non_null(l);
			assert_int_equal(sscanf(l, "# TYPE certsentry_%127s %15s", name, type), 2);
			assert_string_equal(name, fam);
			assert_true(!strcmp(type, "counter") || !strcmp(type, "gauge") ||
				    !strcmp(type, "histogram"));
			continue;
		}
		assert_int_equal(sscanf(l, "certsentry_%127[a-z0-9_]", name), 1);
		if (!strcmp(type, "histogram")) {
			snprintf(key, sizeof(key), "%s_bucket", fam);
			if (strcmp(name, key)) {
				snprintf(key, sizeof(key), "%s_count", fam);
				assert_string_equal(name, key);
			}
		} else {
			assert_string_equal(name, fam);
		}
		assert_non_null(strchr(l, ' '));
	}
	free(buf);
}

/* The values are the snapshot's, in each shape of row. */
static void test_metrics_values(void **state)
{
	struct counter_snap s;
	char *buf = malloc(256 * 1024), series[128];
	size_t n;

	(void)state;
	snap_fill(&s);
	n = metrics_render(&s, buf, 256 * 1024);
	buf[n] = '\0';
	assert_sample(buf, "kernel_packets_total", 1);
	assert_sample(buf, "kernel_ringbuf_drops_total", 6);
	assert_sample(buf, "connections_total", 11);
	assert_sample(buf, "connections_active", 90);
	assert_sample(buf, "flow_memory_bytes", 91);
	assert_sample(buf, "output_lines_total", 92);
	assert_sample(buf, "output_lines_lost_total", 93);
	assert_sample(buf, "output_lines_truncated_total", 98);
	assert_sample(buf, "output_write_errors_total", 19);
	assert_sample(buf, "cert_cache_misses_total", 95);
	assert_sample(buf, "lists_reloads_total{result=\"ok\"}", 96);
	assert_sample(buf, "lists_reloads_total{result=\"error\"}", 97);
	assert_sample(buf, "list_entries{list=\"ca\"}", 41);
	assert_sample(buf, "list_entries{list=\"deny\"}", 46 + 47 + 48);
	assert_sample(buf, "list_entries{list=\"pins\"}", 49);
	assert_sample(buf, "handshakes_total{verdict=\"ok\"}", 1000 + F_MAX);
	/* never under ok, nor among the checked */
	assert_null(strstr(buf, "handshakes_total{verdict=\"unverified\"}"));
	assert_sample(buf, "handshakes_unverified_total", 99);
	assert_sample(buf, "tls13_chains_total{source=\"keylog\"}", 101);
	assert_sample(buf, "tls13_chains_total{source=\"uprobe\"}", 102);
	assert_sample(buf, "keylog_decrypt_failures_total{reason=\"auth\"}", 103);
	assert_sample(buf, "keylog_lines_rejected_total", 105);
	assert_sample(buf, "keylog_lines_total{outcome=\"bad_hex\"}", 100);
	assert_sample(buf, "uprobe_chains_unused_total{why=\"unmatched\"}", 107);
	for (int i = 0; i < F_MAX; i++) {
		snprintf(series, sizeof(series), "handshakes_total{verdict=\"%s\"}",
			 finding_name(i));
		assert_sample(buf, series, 1000 + (uint64_t)i);
		snprintf(series, sizeof(series), "findings_total{code=\"%s\"}", finding_name(i));
		assert_sample(buf, series, 2000 + (uint64_t)i);
	}
	assert_sample(buf, "report_latency_seconds_bucket{le=\"1e-06\"}", 0);
	assert_sample(buf, "report_latency_seconds_bucket{le=\"2e-06\"}", 1);
	assert_sample(buf, "report_latency_seconds_bucket{le=\"0.001024\"}", 2);
	assert_sample(buf, "report_latency_seconds_bucket{le=\"0.008192\"}", 3);
	assert_sample(buf, "report_latency_seconds_bucket{le=\"+Inf\"}", 3);
	assert_sample(buf, "report_latency_seconds_count", 3);
	/* the file counters are for the read-done line only */
	assert_null(strstr(buf, " 31\n"));
	/* a short buffer: cut, never past it */
	assert_int_equal(metrics_render(&s, buf, 100), 100);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_rows),	   cmocka_unit_test(test_table_families),
		cmocka_unit_test(test_status_lines),	   cmocka_unit_test(test_confirm_rows),
		cmocka_unit_test(test_status_line_bounds), cmocka_unit_test(test_hist),
		cmocka_unit_test(test_read_nothing),	   cmocka_unit_test(test_metrics_shape),
		cmocka_unit_test(test_metrics_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
