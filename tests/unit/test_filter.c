/* test_filter.c - filter.c: each kind of condition, kinds together, and the option values refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "filter.h"

static struct filter_addr addr(const char *s)
{
	struct filter_addr a;

	assert_int_equal(filter_addr_parse(s, &a), 0);
	return a;
}

static void test_empty_matches_all(void **state)
{
	struct filter f = { 0 };
	struct filter_addr a = addr("192.0.2.1");

	(void)state;
	assert_false(filter_active(&f));
	assert_true(filter_match(&f, NULL, 0, NULL, false));
	assert_true(filter_match(&f, "x.example", 443, &a, true));
}

/* Globs, case-insensitive; an event without SNI fails an SNI condition. */
static void test_sni(void **state)
{
	struct filter f = { 0 };
	char why[128];

	(void)state;
	assert_int_equal(filter_add_sni(&f, "*.example.com", why, sizeof(why)), 0);
	assert_int_equal(filter_add_sni(&f, "api.test", why, sizeof(why)), 0);
	assert_true(filter_active(&f));
	assert_true(filter_match(&f, "www.Example.COM", 0, NULL, false));
	assert_true(filter_match(&f, "api.test", 0, NULL, false));
	assert_false(filter_match(&f, "example.com", 0, NULL, false));
	assert_false(filter_match(&f, "api.test.evil", 0, NULL, false));
	assert_false(filter_match(&f, NULL, 0, NULL, false));
	assert_int_equal(filter_add_sni(&f, "", why, sizeof(why)), -1);
	assert_string_equal(why, "an empty pattern matches nothing");
}

static void test_port(void **state)
{
	struct filter f = { 0 };
	char why[128];

	(void)state;
	assert_int_equal(filter_add_port(&f, "443", why, sizeof(why)), 0);
	assert_int_equal(filter_add_port(&f, "8443", why, sizeof(why)), 0);
	assert_true(filter_match(&f, NULL, 443, NULL, false));
	assert_true(filter_match(&f, NULL, 8443, NULL, false));
	assert_false(filter_match(&f, NULL, 80, NULL, false));
	assert_false(filter_match(&f, NULL, 0, NULL, false));
	for (const char *bad[] = { "0", "65536", "44x", "", "-1" }, **b = bad; b < bad + 5; b++) {
		assert_int_equal(filter_add_port(&f, *b, why, sizeof(why)), -1);
		assert_non_null(strstr(why, "is not a port (1-65535)"));
	}
}

/* Addresses and networks of both families, prefixes at byte and bit edges. */
static void test_host(void **state)
{
	struct filter f = { 0 };
	struct filter_addr in1 = addr("10.1.2.3"), out1 = addr("10.2.0.1"),
			   in6 = addr("2001:db8:0:7f::1"), out6 = addr("2001:db8:0:80::1"),
			   one = addr("192.0.2.7"), mapped = addr("::ffff:10.1.2.3");
	char why[128];

	(void)state;
	assert_int_equal(filter_add_host(&f, "10.1.0.0/16", why, sizeof(why)), 0);
	assert_int_equal(filter_add_host(&f, "2001:db8:0:0::/57", why, sizeof(why)), 0);
	assert_int_equal(filter_add_host(&f, "192.0.2.7", why, sizeof(why)), 0);
	assert_true(filter_match(&f, NULL, 0, &in1, false));
	assert_false(filter_match(&f, NULL, 0, &out1, false));
	assert_true(filter_match(&f, NULL, 0, &in6, false));
	assert_false(filter_match(&f, NULL, 0, &out6, false));
	assert_true(filter_match(&f, NULL, 0, &one, false));
	assert_false(filter_match(&f, NULL, 0, &mapped, false)); /* another family */
	assert_false(filter_match(&f, NULL, 0, NULL, false));
	assert_int_equal(filter_add_host(&f, "10.1.2.3/16", why, sizeof(why)), -1);
	assert_string_equal(why, "'10.1.2.3/16' has host bits set past /16");
	assert_int_equal(filter_add_host(&f, "10.0.0.0/33", why, sizeof(why)), -1);
	assert_string_equal(why, "'10.0.0.0/33': the prefix length is not 0-32");
	assert_int_equal(filter_add_host(&f, "example.com", why, sizeof(why)), -1);
	assert_string_equal(why, "'example.com' is not an IP address or CIDR network");
	assert_int_equal(filter_add_host(&f, "0.0.0.0/0", why, sizeof(why)), 0);
	assert_true(filter_match(&f, NULL, 0, &out1, false));
}

/* Every kind given must hold; alerts_only needs an alert. */
static void test_kinds_together(void **state)
{
	struct filter f = { 0 };
	struct filter_addr a = addr("192.0.2.1"), b = addr("198.51.100.1");
	char why[128];

	(void)state;
	filter_add_sni(&f, "*.example.com", why, sizeof(why));
	filter_add_port(&f, "443", why, sizeof(why));
	filter_add_host(&f, "192.0.2.0/24", why, sizeof(why));
	f.alerts_only = true;
	assert_true(filter_match(&f, "www.example.com", 443, &a, true));
	assert_false(filter_match(&f, "www.example.com", 443, &a, false));
	assert_false(filter_match(&f, "www.example.org", 443, &a, true));
	assert_false(filter_match(&f, "www.example.com", 8443, &a, true));
	assert_false(filter_match(&f, "www.example.com", 443, &b, true));
}

/* Bounded: FILTER_MAX values a kind. */
static void test_bound(void **state)
{
	struct filter f = { 0 };
	char why[128];

	(void)state;
	for (int i = 0; i < FILTER_MAX; i++)
		assert_int_equal(filter_add_port(&f, "443", why, sizeof(why)), 0);
	assert_int_equal(filter_add_port(&f, "443", why, sizeof(why)), -1);
	assert_string_equal(why, "at most 8");
	assert_int_equal(f.n_port, FILTER_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_matches_all),
		cmocka_unit_test(test_sni),
		cmocka_unit_test(test_port),
		cmocka_unit_test(test_host),
		cmocka_unit_test(test_kinds_together),
		cmocka_unit_test(test_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
