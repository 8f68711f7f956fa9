/* test_filter.c - --sni, --port, --host, --alerts-only on reports, and their parse errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include "cli.h"
#include "filter.h"

static struct cs_report rep(const char *sni, const char *cip, const char *sip, uint16_t sport)
{
	struct cs_report r = { .action = REPORT_CERTIFICATE };
	int af = strchr(sip, ':') ? AF_INET6 : AF_INET;

	if (sni) {
		r.has_sni = true;
		snprintf(r.sni, sizeof(r.sni), "%s", sni);
	}
	r.client.family = r.server.family = af == AF_INET ? 4 : 6;
	assert_int_equal(inet_pton(af, cip, r.client.addr), 1);
	assert_int_equal(inet_pton(af, sip, r.server.addr), 1);
	r.client.port = 50000;
	r.server.port = sport;
	return r;
}

/* Options applied as the command line or a file would. */
static void opt(struct config *c, const char *name, const char *value)
{
	char why[256];

	assert_int_equal(cli_apply(c, cli_option_find(name), value, why, sizeof(why)), 0);
}

static void test_filters(void **state)
{
	struct cs_report a = rep("www.Example.test", "10.0.0.1", "10.1.2.3", 443);
	struct cs_report b = rep("api.other.test", "10.0.0.1", "192.0.2.9", 8443);
	struct cs_report c = rep(NULL, "2001:db8::1", "2001:db8:1::5", 443);
	struct config cfg;

	(void)state;
	config_defaults(&cfg);
	assert_false(filter_any(&cfg.filter));
	assert_true(filter_pass(&cfg.filter, &b, false));

	opt(&cfg, "sni", "*.example.test");
	opt(&cfg, "sni", "api.*");
	assert_true(filter_pass(&cfg.filter, &a, false));	/* any case */
	assert_true(filter_pass(&cfg.filter, &b, false));
	assert_false(filter_pass(&cfg.filter, &c, false));	/* no SNI */

	config_defaults(&cfg);
	opt(&cfg, "port", "8443");
	assert_false(filter_pass(&cfg.filter, &a, false));
	assert_true(filter_pass(&cfg.filter, &b, false));

	config_defaults(&cfg);
	opt(&cfg, "host", "10.1.0.0/16");
	opt(&cfg, "host", "2001:db8:1::/48");
	assert_true(filter_pass(&cfg.filter, &a, false));
	assert_false(filter_pass(&cfg.filter, &b, false));
	assert_true(filter_pass(&cfg.filter, &c, false));
	config_defaults(&cfg);
	opt(&cfg, "host", "10.0.0.1");			/* the client end matches too */
	assert_true(filter_pass(&cfg.filter, &b, false));
	assert_false(filter_pass(&cfg.filter, &c, false));
	config_defaults(&cfg);
	opt(&cfg, "host", "10.1.2.0/23");		/* a prefix not on a byte */
	assert_true(filter_pass(&cfg.filter, &a, false));
	opt(&cfg, "alerts-only", NULL);			/* every filter given must pass */
	assert_false(filter_pass(&cfg.filter, &a, false));
	assert_true(filter_pass(&cfg.filter, &a, true));
}

static void test_errors(void **state)
{
	struct config c;
	char why[256];

	(void)state;
	config_defaults(&c);
	assert_int_equal(cli_apply(&c, cli_option_find("port"), "0", why, sizeof(why)), CLI_BAD);
	assert_string_equal(why, "'0' is not a port (1-65535)");
	assert_int_equal(cli_apply(&c, cli_option_find("port"), "65536", why, sizeof(why)),
			 CLI_BAD);
	assert_int_equal(cli_apply(&c, cli_option_find("host"), "10.0.0.0/33", why, sizeof(why)),
			 CLI_BAD);
	assert_string_equal(why, "'10.0.0.0/33' is not an IP address or CIDR (192.0.2.0/24, "
			    "2001:db8::/32)");
	assert_int_equal(cli_apply(&c, cli_option_find("host"), "example.test", why, sizeof(why)),
			 CLI_BAD);
	for (int i = 0; i < FILTER_MAX; i++)
		assert_int_equal(cli_apply(&c, cli_option_find("port"), "443", why, sizeof(why)), 0);
	assert_int_equal(cli_apply(&c, cli_option_find("port"), "443", why, sizeof(why)), CLI_BAD);
	assert_string_equal(why, "at most 16");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
