/* test_cli.c - the option table: bounds, messages, options by name (as a config file), commands. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <cmocka.h>
#include "cli.h"
#include "flow.h"

/* Applies "name = value" as a config file would; returns cli_apply's answer. */
static int apply(struct config *c, const char *name, const char *value, char *why, size_t len)
{
	const struct cli_option *o = cli_option_find(name);

	assert_non_null(o);
	return cli_apply(c, o, value, why, len);
}

static void expect_bad(const char *name, const char *value, const char *msg)
{
	struct config c;
	char why[256];

	config_defaults(&c);
	assert_int_equal(apply(&c, name, value, why, sizeof(why)), CLI_BAD);
	assert_string_equal(why, msg);
}

static void test_bounds(void **state)
{
	struct config c;
	char why[256];

	(void)state;
	/* each number at its bounds, and one past each, with the message the
	 * command line has always given */
	config_defaults(&c);
	assert_int_equal(apply(&c, "max-bytes", "512", why, sizeof(why)), 0);
	assert_int_equal(c.max_bytes, 512);
	assert_int_equal(apply(&c, "max-bytes", "0x1000000", why, sizeof(why)), 0);
	assert_int_equal(c.max_bytes, 16u << 20);
	expect_bad("max-bytes", "511", "'511' is not a number from 512 to 16777216");
	expect_bad("max-bytes", "16777217", "'16777217' is not a number from 512 to 16777216");
	expect_bad("max-bytes", "12x", "'12x' is not a number from 512 to 16777216");
	expect_bad("max-bytes", "", "'' is not a number from 512 to 16777216");
	expect_bad("max-flows", "63", "'63' is not a number from 64 to 16777216");
	expect_bad("max-conns", "16777217", "'16777217' is not a number from 16 to 16777216");
	expect_bad("max-memory", "0", "'0' is not 1-65536 MB");
	expect_bad("stats-interval", "86401", "'86401' is not 1-86400 seconds");
	expect_bad("summary-interval", "0", "'0' is not 1-86400 seconds");
	expect_bad("warn-days", "3651", "'3651' is not a number of days (0-3650)");
	expect_bad("ring-size", "16384", "'16384' is not a power of two from 32768 to 2^30");
	expect_bad("ring-size", "40000", "'40000' is not a power of two from 32768 to 2^30");
	expect_bad("ring-size", "2147483648",
		   "'2147483648' is not a power of two from 32768 to 2^30");
	assert_int_equal(apply(&c, "ring-size", "32768", why, sizeof(why)), 0);
	assert_int_equal(c.cap.ring_bytes, 32768);
	assert_int_equal(apply(&c, "ring-size", "1073741824", why, sizeof(why)), 0);
	assert_int_equal(apply(&c, "warn-days", "0", why, sizeof(why)), 0);
	assert_int_equal(c.checks.warn_days, -1); /* 0: off */
	assert_int_equal(apply(&c, "warn-days", "30", why, sizeof(why)), 0);
	assert_int_equal(c.checks.warn_days, 30);
}

static void test_values(void **state)
{
	struct config c;
	char why[256];

	(void)state;
	config_defaults(&c);
	assert_int_equal(c.format, OUTPUT_JSON);
	assert_int_equal(c.stats_s, 60);
	assert_int_equal(c.summary_s, 60);
	assert_int_equal(c.checks.warn_days, 14);
	assert_int_equal(apply(&c, "format", "text", why, sizeof(why)), 0);
	assert_int_equal(c.format, OUTPUT_TEXT);
	assert_true(c.format_set);
	expect_bad("format", "xml", "'xml' is not json or text");
	assert_int_equal(apply(&c, "check-time", "now", why, sizeof(why)), 0);
	assert_int_equal(c.check_time, FLOW_CHECK_NOW);
	assert_int_equal(apply(&c, "check-time", "2024-05-01T12:00:00Z", why, sizeof(why)), 0);
	assert_int_equal(c.check_time, 1714564800);
	assert_int_equal(apply(&c, "check-time", "2024-05-01", why, sizeof(why)), 0);
	assert_int_equal(c.check_time, 1714521600);
	expect_bad("check-time", "yesterday",
		   "'yesterday' is not now, packet or YYYY-MM-DD[THH:MM:SSZ]");
	expect_bad("check-time", "2024-05-01Tx",
		   "'2024-05-01Tx' is not now, packet or YYYY-MM-DD[THH:MM:SSZ]");
	assert_int_equal(apply(&c, "ignore", "cert.expiring_soon", why, sizeof(why)), 0);
	expect_bad("ignore", "nope", "'nope' is not a finding code (e.g. cert.expiring_soon)");
	assert_int_equal(apply(&c, "syslog", NULL, why, sizeof(why)), 0);
	assert_string_equal(c.syslog, "/dev/log");
	assert_int_equal(apply(&c, "syslog", "/run/log", why, sizeof(why)), 0);
	assert_string_equal(c.syslog, "/run/log");
	assert_int_equal(apply(&c, "deny", "/etc/deny", why, sizeof(why)), 0);
	assert_string_equal(c.lists.deny_file, "/etc/deny");
	assert_int_equal(apply(&c, "every", NULL, why, sizeof(why)), 0);
	assert_true(c.every);
	assert_int_equal(apply(&c, "clsact", NULL, why, sizeof(why)), 0);
	assert_true(c.cap.force_clsact);
	assert_int_equal(apply(&c, "copy-encrypted", NULL, why, sizeof(why)), 0);
	assert_true(c.cap.copy_encrypted);
	/* what a file could get wrong that argp catches on the command line */
	assert_int_equal(apply(&c, "every", "maybe", why, sizeof(why)), CLI_BAD);
	assert_string_equal(why, "'maybe' is not true or false");
	assert_int_equal(apply(&c, "every", "false", why, sizeof(why)), 0);
	assert_false(c.every);
	assert_int_equal(apply(&c, "every", "true", why, sizeof(why)), 0);
	assert_true(c.every);
	assert_int_equal(apply(&c, "list-events", "yes", why, sizeof(why)), CLI_BAD);
	assert_string_equal(why, "takes no value");
	assert_int_equal(apply(&c, "deny", NULL, why, sizeof(why)), CLI_BAD);
	assert_string_equal(why, "needs a value (FILE)");
	assert_null(cli_option_find("no-such-option"));
	assert_null(cli_option_find(""));
}

static void test_repeatable(void **state)
{
	struct config c;
	char why[256], name[8];

	(void)state;
	config_defaults(&c);
	for (int i = 0; i < LISTS_CRL_PATHS_MAX; i++)
		assert_int_equal(apply(&c, "crl", "x.crl", why, sizeof(why)), 0);
	assert_int_equal(c.lists.n_crl, LISTS_CRL_PATHS_MAX);
	assert_int_equal(apply(&c, "crl", "x.crl", why, sizeof(why)), CLI_BAD);
	assert_string_equal(why, "at most 16");
	for (int i = 0; i < CAPTURE_IFACES_MAX; i++)
		assert_int_equal(apply(&c, "interface", "eth0", why, sizeof(why)), 0);
	assert_int_equal(apply(&c, "interface", "eth0", why, sizeof(why)), CLI_BAD);
	snprintf(name, sizeof(name), "%d", CAPTURE_IFACES_MAX);
	assert_non_null(strstr(why, name));
	assert_int_equal(apply(&c, "list-findings", NULL, why, sizeof(why)), 0);
	assert_int_equal(apply(&c, "list-findings", NULL, why, sizeof(why)), 0);
	assert_int_equal(apply(&c, "list-events", NULL, why, sizeof(why)), CLI_CONFLICT);
	assert_string_equal(why, "--list-findings and --list-events cannot be used together");
	config_defaults(&c);
	assert_int_equal(cli_check(&c, why, sizeof(why)), 0);
	c.read_file = "x.pcap";
	assert_int_equal(cli_check(&c, why, sizeof(why)), 0);
	c.cap.n_ifaces = 1;
	assert_int_equal(cli_check(&c, why, sizeof(why)), -1);
	assert_string_equal(why, "-r and -i cannot be used together");
	/* lines go to -o and syslog at once; the syslog options need a syslog */
	config_defaults(&c);
	c.syslog = "/dev/log";
	c.out_file = "x.log";
	assert_int_equal(cli_check(&c, why, sizeof(why)), 0);
	c.syslog_queue = 65536;
	assert_int_equal(cli_check(&c, why, sizeof(why)), -1);
	assert_string_equal(why, "--syslog-queue needs --syslog-server tcp://");
	assert_int_equal(apply(&c, "syslog-server", "udp://127.0.0.1:514", why, sizeof(why)), 0);
	assert_int_equal(cli_check(&c, why, sizeof(why)), -1);
	assert_int_equal(apply(&c, "syslog-server", "tcp://[::1]:6514", why, sizeof(why)), 0);
	assert_int_equal(cli_check(&c, why, sizeof(why)), 0);
	assert_int_equal(apply(&c, "syslog-server", "http://x:1", why, sizeof(why)), CLI_BAD);
	assert_string_equal(why, "'http://x:1' is not udp://HOST:PORT or tcp://HOST:PORT");
	assert_int_equal(apply(&c, "syslog-queue", "100", why, sizeof(why)), CLI_BAD);
	assert_int_equal(apply(&c, "syslog-format", "5424", why, sizeof(why)), 0);
	assert_int_equal(c.syslog_format, 5424);
	assert_int_equal(apply(&c, "syslog-format", "rfc9999", why, sizeof(why)), CLI_BAD);
	assert_string_equal(why, "'rfc9999' is not 3164 or 5424");
	config_defaults(&c);
	c.syslog_format = 5424;
	assert_int_equal(cli_check(&c, why, sizeof(why)), -1);
	assert_string_equal(why, "--syslog-format needs --syslog or --syslog-server");
	/* --confirm: live only, and its settings need it */
	config_defaults(&c);
	assert_int_equal(apply(&c, "confirm-ttl", "30", why, sizeof(why)), 0);
	assert_int_equal(c.confirm_ttl_s, 30);
	assert_int_equal(cli_check(&c, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "need --confirm"));
	assert_int_equal(apply(&c, "confirm", NULL, why, sizeof(why)), 0);
	assert_int_equal(cli_check(&c, why, sizeof(why)), 0);
	c.read_file = "x.pcap";
	assert_int_equal(cli_check(&c, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "--confirm is live only"));
	expect_bad("confirm-rate", "0", "'0' is not a number from 1 to 10000");
	expect_bad("confirm-ttl", "604801", "'604801' is not 1-604800 seconds");
	expect_bad("confirm-timeout", "9", "'9' is not a number from 10 to 600000");
}

/* ---- commands ---- */

static int ran;

static int run_watch(const struct config *c)
{
	(void)c;
	return ran = 1;
}

static int run_tail(const struct config *c)
{
	(void)c;
	return ran = 2;
}

static const struct cli_command cmds[] = {
	{ .name = NULL, .doc = "watch", .groups = CLI_GROUPS_ALL, .run = run_watch },
	{ .name = "tail", .doc = "tail", .groups = 1u << CLI_G_MAIN, .run = run_tail },
};

static const struct cli_command *parse(struct config *c, int argc, const char **argv)
{
	return cli_parse(argc, (char **)argv, cmds, sizeof(cmds) / sizeof(cmds[0]), c);
}

/* Runs cli_parse in a child, which argp makes exit on a bad option or
 * --help: the exit status, with its stdout and stderr in out. */
static int parse_fails(int argc, const char **argv, char *out, size_t len)
{
	size_t got = 0;
	int fds[2], st;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		struct config c;

		dup2(fds[1], 1);
		dup2(fds[1], 2);
		close(fds[0]);
		parse(&c, argc, argv);
		_exit(0);
	}
	close(fds[1]);
	while (got + 1 < len && (n = read(fds[0], out + got, len - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_commands(void **state)
{
	const char *watch[] = { "certsentry", "-f", "text", "--warn-days", "3", NULL };
	const char *tail[] = { "certsentry", "tail", "-f", "text", NULL };
	const char *tail_bad[] = { "certsentry", "tail", "--deny", "x", NULL };
	const char *bad[] = { "certsentry", "--max-bytes", "12x", NULL };
	const char *both[] = { "certsentry", "-r", "x", "-i", "lo", NULL };
	const char *fmt[] = { "certsentry", "-f", "xml", NULL };
	const char *when[] = { "certsentry", "--check-time", "soon", NULL };
	const char *flag[] = { "certsentry", "--every=yes", NULL };
	const struct cli_command *cmd;
	struct config c;
	char err[1024];

	(void)state;
	cmd = parse(&c, 5, watch);
	assert_ptr_equal(cmd, &cmds[0]);
	assert_int_equal(c.format, OUTPUT_TEXT);
	assert_int_equal(c.checks.warn_days, 3);
	assert_int_equal(cmd->run(&c), 1);
	cmd = parse(&c, 4, tail);
	assert_ptr_equal(cmd, &cmds[1]);
	assert_int_equal(c.format, OUTPUT_TEXT);
	assert_int_equal(c.checks.warn_days, 14); /* defaults again */
	assert_int_equal(cmd->run(&c), 2);
	assert_int_equal(ran, 2);

	/* tail takes only the main group: --deny is not one of its options */
	assert_int_equal(parse_fails(4, tail_bad, err, sizeof(err)), 64);
	assert_non_null(strstr(err, "unrecognized option '--deny'"));
	assert_non_null(strstr(err, "Try `certsentry tail --help'"));
	assert_int_equal(parse_fails(3, bad, err, sizeof(err)), 64);
	assert_non_null(strstr(err, "certsentry: --max-bytes: '12x' is not a number from 512 to "
				    "16777216\n"));
	assert_int_equal(parse_fails(5, both, err, sizeof(err)), 64);
	assert_non_null(strstr(err, "certsentry: -r and -i cannot be used together\n"));
	/* an option with a parser of its own is named the same way */
	assert_int_equal(parse_fails(3, fmt, err, sizeof(err)), 64);
	assert_non_null(strstr(err, "certsentry: --format: 'xml' is not json or text\n"));
	assert_int_equal(parse_fails(3, when, err, sizeof(err)), 64);
	assert_non_null(strstr(err, "certsentry: --check-time: 'soon' is not now, packet or "
				    "YYYY-MM-DD[THH:MM:SSZ]\n"));
	assert_int_equal(parse_fails(2, flag, err, sizeof(err)), 64);
	assert_non_null(strstr(err, "option '--every' doesn't allow an argument"));
}

/* --help is made from the table: every option in it once, hidden ones not. */
static void test_help(void **state)
{
	const char *help[] = { "certsentry", "--help", NULL };
	char out[16384], want[64];
	const char *name, *at;
	size_t n = 0;
	bool hidden;

	(void)state;
	assert_int_equal(parse_fails(2, help, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "Usage: certsentry [OPTION...]"));
	assert_non_null(strstr(out, "\n Checks (lists reload on SIGHUP"));
	for (; (name = cli_option_name(n, &hidden)); n++) {
		assert_ptr_equal(cli_option_find(name), cli_option_find(name));
		snprintf(want, sizeof(want), "--%s", name);
		/* "--NAME" followed by what ends a name in argp's help */
		for (at = out; (at = strstr(at, want)); at++)
			if (strchr("=[ ,\n", at[strlen(want)]))
				break;
		if (hidden)
			assert_null(at);
		else
			assert_non_null(at);
		/* each name once in the table */
		for (size_t j = 0; j < n; j++)
			assert_string_not_equal(cli_option_name(j, NULL), name);
	}
	assert_true(n > 20);
	assert_null(cli_option_name(n, NULL));
	assert_non_null(cli_option_find("copy-encrypted")); /* hidden, and applies */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bounds),	   cmocka_unit_test(test_values),
		cmocka_unit_test(test_repeatable), cmocka_unit_test(test_commands),
		cmocka_unit_test(test_help),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
