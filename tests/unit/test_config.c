/* test_config.c - the config file: keys, file:line errors, the command line over it, reload, check. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "cli.h"
#include "conffile.h"

static char dir[] = "/tmp/test_config.XXXXXX";

static int run_none(const struct config *c)
{
	(void)c;
	return 0;
}

static const struct cli_command cmds[] = {
	{ .name = NULL, .doc = "watch", .groups = CLI_GROUPS_ALL, .run = run_none },
};

/* dir/name holding text; the path (static until the next call). */
static const char *write_file(const char *name, const char *text)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	return path;
}

static const struct cli_command *parse(struct config *c, int argc, const char **argv)
{
	return cli_parse(argc, (char **)argv, cmds, 1, c);
}

static void test_good_file(void **state)
{
	const char *p = write_file("good.conf", "# a comment\n"
						"\n"
						"format = text\n"
						"  every  \n"
						"clsact = false\n"
						"warn-days=30   # days\n"
						"max-flows = 0x100\n"
						"deny = /etc/certsentry/deny list\n");
	struct config c;
	struct conffile *f;
	char err[512], w[512];

	(void)state;
	config_defaults(&c);
	f = conffile_apply(p, &c, err, sizeof(err));
	assert_non_null(f);
	assert_int_equal(c.format, OUTPUT_TEXT);
	assert_true(c.every);
	assert_false(c.cap.force_clsact);
	assert_int_equal(c.checks.warn_days, 30);
	assert_int_equal(c.cap.max_flows, 256);
	/* a value runs to the end of the line: blanks inside it are kept */
	assert_string_equal(c.lists.deny_file, "/etc/certsentry/deny list");
	assert_int_equal(conffile_settings(f), 6);
	snprintf(err, sizeof(err), "%s:8", p);
	assert_string_equal(conffile_where(f, c.lists.deny_file, w, sizeof(w)), err);
	assert_null(conffile_where(f, "/etc/certsentry/deny list", w, sizeof(w)));
	conffile_free(f);
}

static void expect_error(const char *text, const char *msg)
{
	const char *p = write_file("bad.conf", text);
	struct config c;
	char err[512], want[512];

	config_defaults(&c);
	assert_null(conffile_apply(p, &c, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s:%s", p, msg);
	assert_string_equal(err, want);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error(
		"format = text\n\n# x\nbogus = 1\n",
		"4: bogus: unknown key (the keys are the long options, see certsentry --help)");
	expect_error("max-bytes = 12x\n", "1: max-bytes: '12x' is not a number from 512 to "
					  "16777216");
	expect_error("every = maybe\n", "1: every: 'maybe' is not true or false");
	expect_error("every\nformat\n", "2: format: needs a value (FMT)");
	expect_error("format = xml\n", "1: format: 'xml' is not json or text");
	expect_error("config = /etc/other.conf\n", "1: config: not allowed in a config file");
	expect_error("check-config\n", "1: check-config: not allowed in a config file");
	expect_error("= text\n", "1: no key before '='");
	expect_error("ignore = cert.nope\n",
		     "1: ignore: 'cert.nope' is not a finding code (e.g. cert.expiring_soon)");
}

static void test_repeatable(void **state)
{
	const char *p = write_file("rep.conf", "crl = /a.crl\ncrl = /b.crl\ninterface = eth1\n"
					       "interface = eth2\n");
	char text[64 * 17] = "";
	struct config c;
	struct conffile *f;
	char err[512];

	(void)state;
	config_defaults(&c);
	assert_non_null(f = conffile_apply(p, &c, err, sizeof(err)));
	assert_int_equal(c.lists.n_crl, 2);
	assert_string_equal(c.lists.crl_paths[0], "/a.crl");
	assert_string_equal(c.lists.crl_paths[1], "/b.crl");
	assert_int_equal(c.cap.n_ifaces, 2);
	assert_string_equal(c.cap.ifaces[1], "eth2");
	conffile_free(f);
	/* bounded by the array: the 17th CRL is an error on its line */
	for (int i = 0; i < LISTS_CRL_PATHS_MAX + 1; i++)
		strcat(text, "crl = /x\n");
	expect_error(text, "17: crl: at most 16");
}

static void test_override(void **state)
{
	const char *p = write_file("over.conf",
				   "format = text\nwarn-days = 30\ncrl = /a.crl\n"
				   "crl = /b.crl\ninterface = eth1\nsyslog = /dev/log\n"
				   "max-flows = 128\n");
	char path[256];
	const char *argv[] = { "certsentry", "--config", path,	     "--warn-days",
			       "5",	     "--crl",	 "/c.crl",   "-r",
			       "x.pcap",     "-o",	 "out.json", NULL };
	const char *only[] = { "certsentry", "--config", path, NULL };
	const char *none[] = { "certsentry", "--config", "", NULL };
	struct config c;

	(void)state;
	snprintf(path, sizeof(path), "%s", p);
	/* the file alone */
	assert_non_null(parse(&c, 3, only));
	assert_int_equal(c.checks.warn_days, 30);
	assert_int_equal(c.lists.n_crl, 2);
	assert_string_equal(c.cap.ifaces[0], "eth1");
	assert_non_null(cli_conffile());
	/* the command line over it: a value replaces the file's, a repeatable
	 * option all the file's values; -r drops its -i; -o and the file's
	 * --syslog are both destinations */
	assert_non_null(parse(&c, 11, argv));
	assert_int_equal(c.format, OUTPUT_TEXT); /* the file's, untouched */
	assert_int_equal(c.cap.max_flows, 128);
	assert_int_equal(c.checks.warn_days, 5);
	assert_int_equal(c.lists.n_crl, 1);
	assert_string_equal(c.lists.crl_paths[0], "/c.crl");
	assert_string_equal(c.read_file, "x.pcap");
	assert_int_equal(c.cap.n_ifaces, 0);
	assert_string_equal(c.out_file, "out.json");
	assert_string_equal(c.syslog, "/dev/log");
	/* "" is no file at all */
	assert_non_null(parse(&c, 3, none));
	assert_null(cli_conffile());
	assert_int_equal(c.checks.warn_days, 14);
}

static void test_reload(void **state)
{
	char path[256];
	const char *argv[] = { "certsentry", "--config", path, "--max-conns", "100", NULL };
	struct config c, next;
	struct conffile *f;
	char err[512], names[512];

	(void)state;
	snprintf(path, sizeof(path), "%s",
		 write_file("reload.conf", "deny = /d1\nmax-flows = 128\nmax-conns = 64\n"));
	assert_non_null(parse(&c, 5, argv));
	assert_string_equal(c.lists.deny_file, "/d1");
	assert_int_equal(c.max_conns, 100);
	/* the file changes: the list applies, max-flows needs a restart, and
	 * the command line's max-conns still wins over the file's new one */
	write_file("reload.conf", "deny = /d2\nmax-flows = 256\nmax-conns = 32\nevery\n");
	assert_int_equal(cli_reload(&next, &f, err, sizeof(err)), 0);
	assert_non_null(f);
	assert_string_equal(next.lists.deny_file, "/d2");
	assert_int_equal(next.max_conns, 100);
	assert_int_equal(cli_restart_needed(&c, &next, names, sizeof(names)), 2);
	assert_string_equal(names, "max-flows,every");
	conffile_free(f);
	/* only lists changed: nothing needs a restart */
	write_file("reload.conf", "deny = /d3\nmax-flows = 128\n");
	assert_int_equal(cli_reload(&next, &f, err, sizeof(err)), 0);
	assert_int_equal(cli_restart_needed(&c, &next, names, sizeof(names)), 0);
	assert_string_equal(names, "");
	conffile_free(f);
	/* a bad file: the error, nothing applied */
	write_file("reload.conf", "deny = /d4\nmax-flows = 1\n");
	assert_int_equal(cli_reload(&next, &f, err, sizeof(err)), -1);
	assert_null(f);
	snprintf(names, sizeof(names), "%s:2: max-flows: '1' is not a number from 64 to 16777216",
		 path);
	assert_string_equal(err, names);
}

static void test_check(void **state)
{
	char cpath[256], pins[256], out[512] = "", errs[1024] = "", want[600];
	const char *argv[] = { "certsentry", "--config", cpath, NULL };
	struct config c;
	FILE *o, *e;

	(void)state;
	snprintf(pins, sizeof(pins), "%s", write_file("pins", "example.test sha256:zz\n"));
	snprintf(want, sizeof(want), "ca-path = /nonexistent-dir-for-test\npins = %s\n", pins);
	snprintf(cpath, sizeof(cpath), "%s", write_file("check.conf", want));
	assert_non_null(parse(&c, 3, argv));
	assert_non_null(o = fmemopen(out, sizeof(out), "w"));
	assert_non_null(e = fmemopen(errs, sizeof(errs), "w"));
	assert_int_equal(conffile_check(&c, cli_conffile(), o, e), 1);
	fclose(o);
	fclose(e);
	/* the first list that fails, named by its key and the config's line */
	snprintf(want, sizeof(want), "%s:1: ca-path: ", cpath);
	assert_ptr_equal(strstr(errs, want), errs);
	assert_string_equal(out, "");

	snprintf(want, sizeof(want), "pins = %s\n", pins);
	write_file("check.conf", want);
	assert_non_null(parse(&c, 3, argv));
	memset(errs, 0, sizeof(errs));
	assert_non_null(o = fmemopen(out, sizeof(out), "w"));
	assert_non_null(e = fmemopen(errs, sizeof(errs), "w"));
	assert_int_equal(conffile_check(&c, cli_conffile(), o, e), 1);
	fclose(o);
	fclose(e);
	snprintf(want, sizeof(want), "%s:1: pins: %s:1: ", cpath, pins);
	assert_ptr_equal(strstr(errs, want), errs);

	write_file("pins", "example.test sha256:"
			   "0000000000000000000000000000000000000000000000000000000000000000\n");
	memset(errs, 0, sizeof(errs));
	assert_non_null(o = fmemopen(out, sizeof(out), "w"));
	assert_non_null(e = fmemopen(errs, sizeof(errs), "w"));
	assert_int_equal(conffile_check(&c, cli_conffile(), o, e), 0);
	fclose(o);
	fclose(e);
	snprintf(want, sizeof(want), "%s: ok, 1 settings;", cpath);
	assert_ptr_equal(strstr(out, want), out);
	assert_non_null(strstr(out, " pin_rules=1\n"));
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_file),  cmocka_unit_test(test_errors),
		cmocka_unit_test(test_repeatable), cmocka_unit_test(test_override),
		cmocka_unit_test(test_reload),	   cmocka_unit_test(test_check),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
