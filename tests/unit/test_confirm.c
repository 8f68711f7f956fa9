/* test_confirm.c - unit tests for --confirm (user/confirm.c): token bucket, ttl, own addresses, queue bound, failure reasons on real loopback sockets. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/types.h>

#include "certsentry.h"
#include "confirm.h"
#include "tls_handshake.h"
#include "x509_helpers.h"

#define S  1000000000ULL
#define T0 (1000 * S) /* a monotonic time far from 0 */

struct got {
	int reports, failures;
	enum confirm_result last;
	char detail[160];
	struct cs_report r; /* the last report, its chain dropped */
	char leaf_sha256[65];
	uint32_t chain_len;
};

static void on_report(void *ctx, const struct cs_report *r)
{
	struct got *g = ctx;

	g->reports++;
	g->r = *r;
	g->chain_len = r->chain_len;
	if (r->chain_len)
		memcpy(g->leaf_sha256, r->chain[0]->sha256_hex, sizeof(g->leaf_sha256));
	memset(g->r.chain, 0, sizeof(g->r.chain));
}

static void on_failed(void *ctx, const struct confirm_failure *f)
{
	struct got *g = ctx;

	g->failures++;
	g->last = f->result;
	snprintf(g->detail, sizeof(g->detail), "%s", f->detail);
}

/* A hidden TLS 1.3 handshake to ip:port with that SNI. */
static struct cs_report hidden(const char *ip, uint16_t port, const char *sni)
{
	struct cs_report r;

	memset(&r, 0, sizeof(r));
	r.action = REPORT_CERTIFICATE_HIDDEN;
	r.transport = IPPROTO_TCP;
	r.version = 0x0304;
	if (strchr(ip, ':')) {
		r.server.family = r.client.family = CS_AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, ip, r.server.addr), 1);
	} else {
		r.server.family = r.client.family = CS_AF_INET;
		assert_int_equal(inet_pton(AF_INET, ip, r.server.addr), 1);
	}
	r.server.port = port;
	r.client.port = 40000;
	if (sni) {
		r.has_sni = true;
		snprintf(r.sni, sizeof(r.sni), "%s", sni);
	}
	return r;
}

static struct confirm *mk(struct confirm_opts *o, struct got *g)
{
	char err[128];
	struct confirm *c;

	o->report = on_report;
	o->failed = on_failed;
	o->ctx = g;
	c = confirm_new(o, err, sizeof(err));
	assert_non_null(c);
	return c;
}

static void stats(struct confirm *c, struct confirm_stats *st)
{
	confirm_stats(c, st);
}

static void test_bucket(void **state)
{
	struct confirm_bucket b;

	(void)state;
	confirm_bucket_init(&b, 2, 2, T0);
	assert_true(confirm_bucket_take(&b, T0));
	assert_true(confirm_bucket_take(&b, T0));
	assert_false(confirm_bucket_take(&b, T0));	   /* the burst is spent */
	assert_false(confirm_bucket_take(&b, T0 + S / 4)); /* half a token */
	assert_true(confirm_bucket_take(&b, T0 + S / 2));  /* one token at 2/s */
	assert_false(confirm_bucket_take(&b, T0 + S / 2));
	/* A long quiet time refills up to the burst, no more. */
	assert_true(confirm_bucket_take(&b, T0 + 100000 * S));
	assert_true(confirm_bucket_take(&b, T0 + 100000 * S));
	assert_false(confirm_bucket_take(&b, T0 + 100000 * S));
	/* A clock that steps back takes nothing and gives nothing. */
	assert_false(confirm_bucket_take(&b, T0));
	assert_false(confirm_bucket_take(&b, T0 + 100000 * S));
}

static void test_rate(void **state)
{
	struct confirm_opts o = { .rate = 2, .max_queue = 16 };
	struct confirm_stats st;
	struct got g = { 0 };
	struct confirm *c = mk(&o, &g);
	struct cs_report r;

	(void)state;
	for (uint16_t p = 1; p <= 5; p++) {
		r = hidden("127.0.0.1", p, "a.test");
		assert_false(confirm_on_report(c, &r, T0));
	}
	stats(c, &st);
	assert_int_equal(st.queued, 2);
	assert_int_equal(st.skipped[CONFIRM_S_RATE], 3);
	/* Skipped for the rate is not remembered: the next handshake may go. */
	r = hidden("127.0.0.1", 3, "a.test");
	confirm_on_report(c, &r, T0 + S / 2);
	stats(c, &st);
	assert_int_equal(st.queued, 3);
	assert_int_equal(st.skipped[CONFIRM_S_TTL], 0);
	confirm_free(c);
}

/* Ticks until nothing is queued or in flight (each socket answers at once). */
static void drain(struct confirm *c, uint64_t now)
{
	struct confirm_stats st;

	for (int i = 0; i < 2000; i++) {
		confirm_tick(c, now);
		stats(c, &st);
		if (!st.queued && !st.active)
			return;
		usleep(1000);
	}
	fail_msg("confirm did not finish: queued %lu active %lu", (unsigned long)st.queued,
		 (unsigned long)st.active);
}

/* A loopback port with nothing listening. */
static uint16_t closed_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* A loopback listener; accepts nothing unless the test does. */
static int listener(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static void test_ttl(void **state)
{
	struct confirm_opts o = { .ttl_s = 60, .rate = 1000 };
	struct confirm_stats st;
	struct got g = { 0 };
	struct confirm *c = mk(&o, &g);
	uint16_t port = closed_port();
	struct cs_report r = hidden("127.0.0.1", port, "a.test");

	(void)state;
	confirm_on_report(c, &r, T0);
	confirm_on_report(c, &r, T0 + S); /* queued: not twice */
	drain(c, T0 + S);
	confirm_on_report(c, &r, T0 + 30 * S); /* done, within the ttl */
	stats(c, &st);
	assert_int_equal(st.attempts, 1);
	assert_int_equal(st.skipped[CONFIRM_S_TTL], 2);
	/* Another SNI on the same port is another endpoint. */
	r = hidden("127.0.0.1", port, "b.test");
	confirm_on_report(c, &r, T0 + 30 * S);
	r = hidden("127.0.0.1", port, NULL);
	confirm_on_report(c, &r, T0 + 30 * S);
	drain(c, T0 + 30 * S);
	stats(c, &st);
	assert_int_equal(st.attempts, 3);
	/* The ttl has run out: once more. */
	r = hidden("127.0.0.1", port, "a.test");
	confirm_on_report(c, &r, T0 + 61 * S);
	drain(c, T0 + 61 * S);
	stats(c, &st);
	assert_int_equal(st.attempts, 4);
	assert_int_equal(st.skipped[CONFIRM_S_TTL], 2);
	/* Nothing listens: every one failed to connect, and said why. */
	assert_int_equal(st.results[CONFIRM_R_CONNECT], 4);
	assert_int_equal(st.failed, 4);
	assert_int_equal(g.failures, 4);
	assert_int_equal(g.last, CONFIRM_R_CONNECT);
	assert_string_equal(g.detail, "Connection refused");
	assert_int_equal(g.reports, 0);
	confirm_free(c);
}

/* A chain another source gave for the endpoint makes a confirm needless. */
static void test_seen(void **state)
{
	struct confirm_opts o = { .ttl_s = 60 };
	struct confirm_stats st;
	struct got g = { 0 };
	struct confirm *c = mk(&o, &g);
	struct cs_report r = hidden("127.0.0.1", 443, "a.test");

	(void)state;
	r.action = REPORT_CERTIFICATE;
	assert_false(confirm_on_report(c, &r, T0));
	r.action = REPORT_CERTIFICATE_HIDDEN;
	confirm_on_report(c, &r, T0 + 10 * S);
	stats(c, &st);
	assert_int_equal(st.skipped[CONFIRM_S_SEEN], 1);
	assert_int_equal(st.queued, 0);
	confirm_on_report(c, &r, T0 + 70 * S);
	stats(c, &st);
	assert_int_equal(st.queued, 1);
	/* Our own results and other events are not triggers. */
	r = hidden("127.0.0.1", 444, "a.test");
	r.source = SOURCE_CONFIRM;
	confirm_on_report(c, &r, T0 + 70 * S);
	r = hidden("127.0.0.1", 445, "a.test");
	r.action = REPORT_RESUMED;
	confirm_on_report(c, &r, T0 + 70 * S);
	r = hidden("127.0.0.1", 446, "a.test");
	r.transport = IPPROTO_UDP;
	confirm_on_report(c, &r, T0 + 70 * S);
	stats(c, &st);
	assert_int_equal(st.queued, 1);
	confirm_free(c);
}

static void test_own_addresses(void **state)
{
	struct confirm_addrs a;
	struct report_endpoint e = { 0 };
	struct ifaddrs *ifa, *i;
	int checked = 0;

	(void)state;
	assert_int_equal(confirm_addrs_load(&a), 0);
	e.family = CS_AF_INET;
	inet_pton(AF_INET, "127.0.0.1", e.addr);
	assert_true(confirm_addrs_has(&a, &e));
	inet_pton(AF_INET, "127.3.2.1", e.addr); /* all of 127/8 */
	assert_true(confirm_addrs_has(&a, &e));
	inet_pton(AF_INET, "192.0.2.77", e.addr); /* TEST-NET-1: no host has it */
	assert_false(confirm_addrs_has(&a, &e));
	memset(e.addr, 0, sizeof(e.addr));
	e.family = CS_AF_INET6;
	inet_pton(AF_INET6, "::1", e.addr);
	assert_true(confirm_addrs_has(&a, &e));
	inet_pton(AF_INET6, "2001:db8::77", e.addr);
	assert_false(confirm_addrs_has(&a, &e));
	/* Every address getifaddrs gives is one. */
	assert_int_equal(getifaddrs(&ifa), 0);
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
			continue;
		memset(&e, 0, sizeof(e));
		e.family = CS_AF_INET;
		memcpy(e.addr, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, 4);
		assert_true(confirm_addrs_has(&a, &e));
		checked++;
	}
	freeifaddrs(ifa);
	assert_true(checked > 0);
}

static void test_remote_rule(void **state)
{
	struct confirm_opts o = { 0 };
	struct confirm_stats st;
	struct got g = { 0 };
	struct confirm *c = mk(&o, &g);
	struct cs_report r = hidden("192.0.2.77", 443, "a.test");

	(void)state;
	confirm_on_report(c, &r, T0);
	r = hidden("2001:db8::77", 443, "a.test");
	confirm_on_report(c, &r, T0);
	r = hidden("::1", 443, "a.test");
	confirm_on_report(c, &r, T0);
	stats(c, &st);
	assert_int_equal(st.skipped[CONFIRM_S_REMOTE], 2);
	assert_int_equal(st.queued, 1);
	confirm_free(c);

	o.remote = true;
	c = mk(&o, &g);
	r = hidden("192.0.2.77", 443, "a.test");
	confirm_on_report(c, &r, T0);
	stats(c, &st);
	assert_int_equal(st.skipped[CONFIRM_S_REMOTE], 0);
	assert_int_equal(st.queued, 1);
	confirm_free(c); /* never ticked: nothing was sent */
}

static void test_queue_bound(void **state)
{
	struct confirm_opts o = { .rate = 1000, .max_queue = 3, .max_active = 1 };
	struct confirm_stats st;
	struct got g = { 0 };
	struct confirm *c = mk(&o, &g);
	uint16_t port = closed_port();
	struct cs_report r;

	(void)state;
	for (int i = 0; i < 5; i++) {
		char sni[32];

		snprintf(sni, sizeof(sni), "h%d.test", i);
		r = hidden("127.0.0.1", port, sni);
		confirm_on_report(c, &r, T0);
	}
	stats(c, &st);
	assert_int_equal(st.queued, 3);
	assert_int_equal(st.skipped[CONFIRM_S_QUEUE], 2);
	/* One at a time: the first tick starts one of them. */
	confirm_tick(c, T0);
	stats(c, &st);
	assert_int_equal(st.attempts, 1);
	assert_true(st.queued == 2);
	drain(c, T0);
	stats(c, &st);
	assert_int_equal(st.attempts, 3);
	assert_int_equal(st.results[CONFIRM_R_CONNECT], 3);
	confirm_free(c);
}

/* A listener that accepts (the kernel's backlog does) and never answers. */
static void test_timeout(void **state)
{
	struct confirm_opts o = { .timeout_ms = 2000 };
	struct confirm_stats st;
	struct got g = { 0 };
	struct confirm *c = mk(&o, &g);
	uint16_t port;
	int lfd = listener(&port);
	struct cs_report r = hidden("127.0.0.1", port, "a.test");

	(void)state;
	confirm_on_report(c, &r, T0);
	for (int i = 0; i < 20; i++) {
		confirm_tick(c, T0 + (uint64_t)i * 1000000); /* within the timeout */
		usleep(1000);
	}
	stats(c, &st);
	assert_int_equal(st.active, 1);
	confirm_tick(c, T0 + 2 * S);
	stats(c, &st);
	assert_int_equal(st.active, 0);
	assert_int_equal(st.results[CONFIRM_R_TIMEOUT], 1);
	assert_int_equal(g.last, CONFIRM_R_TIMEOUT);
	assert_non_null(strstr(g.detail, "within the timeout"));
	close(lfd);
	confirm_free(c);
}

/* A server that closes at once: closed, not a chain. */
static void test_closed(void **state)
{
	struct confirm_opts o = { 0 };
	struct confirm_stats st;
	struct got g = { 0 };
	struct confirm *c = mk(&o, &g);
	uint16_t port;
	int lfd = listener(&port), fd = -1;
	struct cs_report r = hidden("127.0.0.1", port, "a.test");

	(void)state;
	confirm_on_report(c, &r, T0);
	confirm_tick(c, T0);
	fd = accept(lfd, NULL, NULL);
	assert_true(fd >= 0);
	close(fd);
	drain(c, T0);
	stats(c, &st);
	assert_int_equal(st.results[CONFIRM_R_CLOSED], 1);
	assert_int_equal(g.reports, 0);
	close(lfd);
	confirm_free(c);
}

/* A real TLS 1.3 server on a loopback socket, moved on in the same loop as
 * confirm_tick(): the chain it serves comes back as a confirm report. */
static void test_fetch_chain(void **state)
{
	struct confirm_opts o = { 0 };
	struct confirm_stats st;
	struct got g = { 0 };
	struct cert_cache *certs = cert_cache_new(16);
	struct confirm *c;
	SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());
	SSL *srv = NULL;
	uint16_t port;
	int lfd = listener(&port), fd = -1, i;
	struct cs_report r = hidden("127.0.0.1", port, "www.example.test");
	char want[65];
	const char *sni;

	(void)state;
	assert_non_null(certs);
	assert_non_null(sctx);
	assert_true(SSL_CTX_set_min_proto_version(sctx, TLS1_3_VERSION));
	assert_true(SSL_CTX_use_certificate(sctx, pki.leaf));
	assert_true(SSL_CTX_use_PrivateKey(sctx, pki.leaf_key));
	assert_true(SSL_CTX_add1_chain_cert(sctx, pki.ca));
	SSL_CTX_set_alpn_select_cb(sctx, alpn_select, NULL);
	o.certs = certs;
	c = mk(&o, &g);
	snprintf(r.alpn_offered, sizeof(r.alpn_offered), "http/1.1,h2");
	confirm_on_report(c, &r, T0);
	for (i = 0; i < 5000 && !g.reports && !g.failures; i++) {
		confirm_tick(c, T0);
		if (fd < 0 && (fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
			assert_non_null(srv = SSL_new(sctx));
			assert_true(SSL_set_fd(srv, fd));
		}
		if (srv)
			SSL_accept(srv); /* as far as it goes without waiting */
		usleep(200);
	}
	assert_int_equal(g.failures, 0);
	assert_int_equal(g.reports, 1);
	assert_int_equal(g.r.action, REPORT_CERTIFICATE);
	assert_int_equal(g.r.source, SOURCE_CONFIRM);
	assert_int_equal(g.r.version, 0x0304);
	assert_int_equal(g.r.server.port, port);
	assert_int_equal(g.r.client.family, CS_AF_INET);
	assert_true(g.r.client.port != 0);
	assert_true(g.r.has_sni);
	assert_string_equal(g.r.sni, "www.example.test");
	assert_string_equal(g.r.alpn, "h2");
	assert_string_equal(g.r.alpn_offered, "http/1.1,h2");
	assert_int_equal(g.chain_len, 2);
	assert_int_equal(g.r.chain_total, 2);
	sha256_hex(pki.leaf_der, (size_t)pki.leaf_der_len, want);
	assert_string_equal(g.leaf_sha256, want);
	/* The server got our SNI. */
	sni = SSL_get_servername(srv, TLSEXT_NAMETYPE_host_name);
	assert_non_null(sni);
	assert_string_equal(sni, "www.example.test");
	stats(c, &st);
	assert_int_equal(st.attempts, 1);
	assert_int_equal(st.results[CONFIRM_R_OK], 1);
	assert_int_equal(st.failed, 0);
	confirm_free(c);
	SSL_free(srv);
	close(fd);
	close(lfd);
	SSL_CTX_free(sctx);
	cert_cache_free(certs);
}

static void test_names(void **state)
{
	(void)state;
	for (uint32_t i = 0; i < CONFIRM_R_MAX; i++)
		assert_string_not_equal(confirm_result_name(i), "unknown");
	for (uint32_t i = 0; i < CONFIRM_S_MAX; i++)
		assert_string_not_equal(confirm_skip_name(i), "unknown");
	assert_string_equal(confirm_result_name(CONFIRM_R_MAX), "unknown");
	assert_string_equal(confirm_result_name(CONFIRM_R_TIMEOUT), "timeout");
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* as the daemon: a peer's close is an error, not an end */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket),	      cmocka_unit_test(test_rate),
		cmocka_unit_test(test_ttl),	      cmocka_unit_test(test_seen),
		cmocka_unit_test(test_own_addresses), cmocka_unit_test(test_remote_rule),
		cmocka_unit_test(test_queue_bound),   cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_closed),	      cmocka_unit_test(test_fetch_chain),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, setup_pki, teardown_pki);
}
