/* test_syslog.c - syslog_msg.c and the syslog sinks: RFC 5424 headers, UDP bounds, TCP frames, reconnects, losses. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <regex.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <cmocka.h>
#include "sink.h"
#include "syslog_msg.h"

/* The network tests run in a network namespace of their own (root), with
 * only its loopback: nothing leaves it, and its ports are ours. */
static bool own_netns;
static char dir[64];

static void lo_up(void)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	strcpy(ifr.ifr_name, "lo");
	if (fd >= 0 && !ioctl(fd, SIOCGIFFLAGS, &ifr)) {
		ifr.ifr_flags |= IFF_UP;
		own_netns = !ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	if (fd >= 0)
		close(fd);
}

static int setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN); /* as main does */
	snprintf(dir, sizeof(dir), "/tmp/cs-test-syslog.XXXXXX");
	if (!unshare(CLONE_NEWNET))
		lo_up();
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void need_netns(void)
{
	if (!own_netns)
		skip(); /* not root: no namespace of our own */
}

static void assert_stats(const struct sink *s, uint64_t lines, uint64_t lost, uint64_t cut)
{
	struct sink_stats st;

	sink_stats(s, &st);
	assert_int_equal(st.lines, lines);
	assert_int_equal(st.lost, lost);
	assert_int_equal(st.truncated, cut);
}

static void assert_match(const char *got, const char *pattern)
{
	regex_t re;

	assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
	if (regexec(&re, got, 0, NULL, 0))
		fail_msg("'%.300s' does not match '%s'", got, pattern);
	regfree(&re);
}

static int line_at(struct sink *s, const char *text, size_t len, int sev, const char *msgid)
{
	const struct sink_line l = { text, len, sev, msgid };

	return sink_write_line(s, &l);
}

/* ---- syslog_msg.c ---- */

/* <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD, each field printable
 * ASCII; MSGID cut at 32 and nil when there is none; the sequence counts. */
static void test_header_5424(void **state)
{
	struct syslog_origin o;
	char buf[SYSLOG_HEADER_MAX], want[256];

	(void)state;
	syslog_origin_init(&o, SYSLOG_5424, false);
	assert_true(o.hostname);
	syslog_header(&o, buf, sizeof(buf), 2, "tls-certificate");
	snprintf(want, sizeof(want),
		 "^<26>1 20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:"
		 "[0-6][0-9]\\.[0-9]{6}Z [!-~]{1,255} certsentry %d tls-certificate "
		 "\\[meta sequenceId=\"1\"\\] $",
		 (int)getpid());
	assert_match(buf, want);
	syslog_header(&o, buf, sizeof(buf), 6, NULL);
	assert_match(buf, " certsentry [0-9]+ - \\[meta sequenceId=\"2\"\\] $");
	syslog_header(&o, buf, sizeof(buf), 7, "an action with spaces and much too long to be one");
	assert_match(buf, " an_action_with_spaces_and_much_t \\[meta sequenceId=\"3\"\\] $");
	o.seq = 2147483647u; /* RFC 5424 7.3.1: after 2^31-1 comes 1 */
	syslog_header(&o, buf, sizeof(buf), 7, "x");
	assert_match(buf, "sequenceId=\"1\"");
}

/* 3164 names the host for a server (without its domain), not for /dev/log. */
static void test_header_3164(void **state)
{
	struct syslog_origin o;
	char buf[SYSLOG_HEADER_MAX], want[160];

	(void)state;
	syslog_origin_init(&o, 0, true);
	assert_int_equal(o.format, SYSLOG_3164);
	assert_null(strchr(o.host, '.'));
	syslog_header(&o, buf, sizeof(buf), 3, "ignored");
	snprintf(want, sizeof(want),
		 "^<27>[A-Z][a-z]{2} [ 123][0-9] [0-2][0-9]:[0-5][0-9]:[0-6][0-9] "
		 "[!-~]+ certsentry\\[%d\\]: $",
		 (int)getpid());
	assert_match(buf, want);
	syslog_origin_init(&o, SYSLOG_3164, false);
	syslog_header(&o, buf, sizeof(buf), 3, NULL);
	assert_match(buf, "^<27>[A-Z][a-z]{2} [ 123][0-9] [0-9:]{8} certsentry\\[[0-9]+\\]: $");
}

static void test_parse(void **state)
{
	struct sockaddr_storage ss;
	const char *hp;
	char err[256];
	socklen_t len;

	(void)state;
	assert_int_equal(syslog_format_parse("5424"), SYSLOG_5424);
	assert_int_equal(syslog_format_parse("rfc3164"), SYSLOG_3164);
	assert_int_equal(syslog_format_parse("5425"), -1);
	assert_string_equal(syslog_server_sink("udp://h:514", &hp), "syslog-udp");
	assert_string_equal(hp, "h:514");
	assert_string_equal(syslog_server_sink("tcp://[::1]:601", &hp), "syslog-tcp");
	assert_string_equal(hp, "[::1]:601");
	assert_null(syslog_server_sink("relp://h:514", &hp));
	assert_int_equal(syslog_resolve("127.0.0.1:514", SOCK_DGRAM, &ss, &len, err, sizeof(err)),
			 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 514);
	assert_int_equal(syslog_resolve("[::1]:601", SOCK_STREAM, &ss, &len, err, sizeof(err)), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(syslog_resolve("127.0.0.1", SOCK_DGRAM, &ss, &len, err, sizeof(err)), -1);
	assert_string_equal(err, "'127.0.0.1' is not HOST:PORT");
	assert_int_equal(syslog_resolve("127.0.0.1:99999", SOCK_DGRAM, &ss, &len, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "port 1-65535"));
}

/* A name that does not resolve (asked only inside our namespace, where no
 * query can leave). */
static void test_resolve_fails(void **state)
{
	struct sockaddr_storage ss;
	char err[256];
	socklen_t len;

	(void)state;
	need_netns();
	assert_int_equal(syslog_resolve("no-such-host.invalid:514", SOCK_DGRAM, &ss, &len, err,
					sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "cannot resolve 'no-such-host.invalid'"));
}

/* ---- the local socket in 5424 ---- */

static void test_unix_5424(void **state)
{
	const struct sink_opts o = { .syslog_format = SYSLOG_5424 };
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 5 };
	char err[256], got[512];
	struct sink *s;
	ssize_t n;
	int fd;

	(void)state;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s/log.sock", dir);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	s = sink_open_opts("syslog", a.sun_path, &o, err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(line_at(s, "{\"a\":1}", 7, 4, "certsentry-stats"), 0);
	n = recv(fd, got, sizeof(got) - 1, 0);
	assert_true(n > 0);
	got[n] = '\0';
	assert_match(got, "^<28>1 [0-9T:.-]+Z [!-~]+ certsentry [0-9]+ certsentry-stats "
			  "\\[meta sequenceId=\"1\"\\] \\{\"a\":1\\}$");
	assert_stats(s, 1, 0, 0);
	sink_free(s);
	close(fd);
}

/* ---- UDP ---- */

static int udp_server(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_sec = 5 };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	*port = ntohs(a.sin_port);
	return fd;
}

/* The message part of datagram buf[0..n): after the 5424 header's SD. */
static const char *msg_of(const char *buf)
{
	const char *p = strstr(buf, "\"] ");

	assert_non_null(p);
	return p + 3;
}

/* Whole lines arrive whole; a line past the datagram bound is cut at a
 * character boundary, delivered and counted; a port nobody listens on
 * costs lines, counted, and the sink goes on. */
static void test_udp(void **state)
{
	const struct sink_opts o = { .syslog_format = SYSLOG_5424 };
	char err[256], hp[32], *big, *got;
	struct sink *s;
	uint16_t port;
	ssize_t n;
	int fd;

	(void)state;
	need_netns();
	fd = udp_server(&port);
	snprintf(hp, sizeof(hp), "127.0.0.1:%u", port);
	s = sink_open_opts("syslog-udp", hp, &o, err, sizeof(err));
	assert_non_null(s);
	assert_string_equal(s->name, "syslog-udp");
	got = malloc(65536);
	big = malloc(20000);
	assert_int_equal(line_at(s, "{\"one\":1}", 9, 6, "tls-certificate"), 0);
	n = recv(fd, got, 65535, 0);
	assert_true(n > 0);
	got[n] = '\0';
	assert_string_equal(msg_of(got), "{\"one\":1}");
	/* 20000 bytes of 'é' (2 bytes each) after one ASCII byte: the cut
	 * may not split one */
	big[0] = '{';
	for (int i = 1; i + 1 < 20000; i += 2)
		memcpy(big + i, "\xc3\xa9", 2);
	assert_int_equal(line_at(s, big, 19999, 6, "tls-certificate"), 0);
	n = recv(fd, got, 65535, 0);
	assert_true(n > 0 && n <= SYSLOG_UDP_MAX);
	got[n] = '\0';
	assert_true(n >= SYSLOG_UDP_MAX - 1);
	assert_int_equal((strlen(msg_of(got)) - 1) % 2, 0);
	assert_memory_equal(msg_of(got), big, strlen(msg_of(got)));
	assert_stats(s, 2, 0, 1);
	/* nobody listens: a datagram draws an ICMP error, a later send
	 * reports it and is lost */
	close(fd);
	{
		struct sink_stats st = { 0 };
		int sent = 2;

		for (; sent < 100 && !st.lost; sent++) {
			line_at(s, "gone", 4, 6, "x");
			sink_stats(s, &st);
			usleep(10000);
		}
		assert_int_equal(st.lost, 1);
		assert_int_equal(st.write_errors, 1);
		assert_int_equal(st.lines + st.lost, sent);
	}
	sink_free(s);
	free(big);
	free(got);
}

/* ---- TCP ---- */

static int tcp_listener(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons(*port) };
	socklen_t len = sizeof(a);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* Flushes the sink until the listener has a connection to accept (the
 * sink connects without blocking, after its backoff); the accepted fd. */
static int accept_from(struct sink *s, int lfd)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };

	for (int i = 0; i < 2000; i++) { /* 20 s at most: backoff reaches 10 s */
		sink_flush(s);
		if (poll(&p, 1, 10) == 1)
			return accept(lfd, NULL, NULL);
	}
	fail_msg("the sink never connected");
	return -1;
}

/* Reads octet-counted frames from fd until want of them arrived (or 5 s
 * pass), flushing the sink meanwhile; returns how many. Each frame's MSG
 * goes into msgs[i] (malloc'ed). */
static int read_frames(struct sink *s, int fd, char **msgs, int want)
{
	static char buf[1 << 20];
	size_t have = 0;
	int got = 0;

	for (int tries = 0; got < want && tries < 500; tries++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char *sp;
		size_t len;
		ssize_t n;

		sink_flush(s);
		if (poll(&p, 1, 10) == 1) {
			n = read(fd, buf + have, sizeof(buf) - have);
			if (n <= 0)
				break;
			have += (size_t)n;
		}
		while ((sp = memchr(buf, ' ', have < 24 ? have : 24)) &&
		       (len = strtoul(buf, NULL, 10)) + (size_t)(sp + 1 - buf) <= have) {
			char *frame = sp + 1;

			assert_true(got < want);
			msgs[got] = strndup(msg_of(frame), len - (size_t)(msg_of(frame) - frame));
			assert_non_null(msgs[got]);
			got++;
			memmove(buf, frame + len, have - (size_t)(frame + len - buf));
			have -= (size_t)(frame + len - buf);
		}
	}
	return got;
}

static void free_msgs(char **m, int n)
{
	for (int i = 0; i < n; i++)
		free(m[i]);
}

/* Lines become octet-counted frames, 20 KB ones too, delivered once the
 * server acknowledged them. */
static void test_tcp_frames(void **state)
{
	const struct sink_opts o = { .syslog_format = SYSLOG_5424 };
	char err[256], hp[32], *msgs[4], *big = malloc(30001);
	uint16_t port = 0;
	struct sink *s;
	int lfd, fd;

	(void)state;
	need_netns();
	lfd = tcp_listener(&port);
	snprintf(hp, sizeof(hp), "127.0.0.1:%u", port);
	s = sink_open_opts("syslog-tcp", hp, &o, err, sizeof(err));
	assert_non_null(s);
	memset(big, 'x', 30000);
	big[0] = '{';
	big[30000] = '\0';
	line_at(s, "{\"a\":1}", 7, 6, "tls-certificate");
	line_at(s, big, 30000, 2, "tls-certificate");
	line_at(s, "{\"c\":\"\\n\"}", 10, 6, "certsentry-stats");
	fd = accept_from(s, lfd);
	assert_int_equal(read_frames(s, fd, msgs, 3), 3);
	assert_string_equal(msgs[0], "{\"a\":1}");
	assert_string_equal(msgs[1], big);
	assert_string_equal(msgs[2], "{\"c\":\"\\n\"}");
	free_msgs(msgs, 3);
	for (int i = 0; i < 100; i++) /* the acknowledgements */
		sink_flush(s);
	assert_stats(s, 3, 0, 0);
	sink_free(s);
	close(fd);
	close(lfd);
	free(big);
}

/* The server goes away and comes back: lines written meanwhile wait in the
 * queue and arrive on the new connection, once each, none torn. */
static void test_tcp_reconnect(void **state)
{
	const struct sink_opts o = { .syslog_format = SYSLOG_5424 };
	char err[256], hp[32], *msgs[8], line[32];
	uint16_t port = 0;
	struct sink *s;
	int lfd, fd;

	(void)state;
	need_netns();
	lfd = tcp_listener(&port);
	snprintf(hp, sizeof(hp), "127.0.0.1:%u", port);
	s = sink_open_opts("syslog-tcp", hp, &o, err, sizeof(err));
	assert_non_null(s);
	line_at(s, "{\"n\":0}", 7, 6, "a");
	fd = accept_from(s, lfd);
	assert_int_equal(read_frames(s, fd, msgs, 1), 1);
	assert_string_equal(msgs[0], "{\"n\":0}");
	free_msgs(msgs, 1);
	close(fd); /* the server restarts */
	close(lfd);
	for (int i = 1; i <= 4; i++) {
		snprintf(line, sizeof(line), "{\"n\":%d}", i);
		line_at(s, line, strlen(line), 6, "a");
		sink_flush(s);
		usleep(20000);
	}
	lfd = tcp_listener(&port); /* back, on the same port */
	fd = accept_from(s, lfd);
	assert_int_equal(read_frames(s, fd, msgs, 4), 4);
	for (int i = 1; i <= 4; i++) {
		snprintf(line, sizeof(line), "{\"n\":%d}", i);
		assert_string_equal(msgs[i - 1], line);
	}
	free_msgs(msgs, 4);
	for (int i = 0; i < 100; i++)
		sink_flush(s);
	{
		struct sink_stats st;

		sink_stats(s, &st);
		assert_int_equal(st.lines, 5);
		assert_int_equal(st.lost, 0);
		assert_true(st.write_errors >= 1); /* the lost connection */
	}
	sink_free(s);
	close(fd);
	close(lfd);
}

/* Nobody listens, or the server stops reading: writes never wait; what the
 * queue cannot hold is lost, counted; what it held arrives later; at exit
 * what is left is lost after a bounded wait. */
static void test_tcp_queue_bound(void **state)
{
	const struct sink_opts o = { .syslog_format = SYSLOG_5424, .queue_bytes = 64 * 1024 };
	char err[256], hp[32], *line = malloc(10000), **msgs = calloc(64, sizeof(char *));
	struct sink_stats st;
	uint16_t port = 0;
	struct sink *s;
	int lfd, fd, got;

	(void)state;
	need_netns();
	lfd = tcp_listener(&port);
	close(lfd); /* a port nobody listens on */
	snprintf(hp, sizeof(hp), "127.0.0.1:%u", port);
	s = sink_open_opts("syslog-tcp", hp, &o, err, sizeof(err));
	assert_non_null(s);
	memset(line, 'q', 10000);
	for (int i = 0; i < 10; i++) {
		line[0] = (char)('0' + i);
		line_at(s, line, 10000, 6, "a");
		sink_flush(s);
	}
	sink_stats(s, &st);
	assert_int_equal(st.lines, 0);
	assert_int_equal(st.lost, 4); /* 6 frames of 10 KB fit in 64 KiB */
	lfd = tcp_listener(&port);
	fd = accept_from(s, lfd);
	got = read_frames(s, fd, msgs, 6);
	assert_int_equal(got, 6);
	for (int i = 0; i < 6; i++)
		assert_int_equal(msgs[i][0], '0' + i); /* the oldest were kept */
	free_msgs(msgs, got);
	/* the server stops reading: the socket buffers fill, then the queue */
	for (int i = 0; i < 2000; i++) {
		line_at(s, line, 10000, 6, "a");
		sink_flush(s);
	}
	sink_stats(s, &st);
	assert_true(st.lost > 4);
	assert_true(st.lines >= 6);
	close(fd);
	close(lfd);
	sink_free(s); /* nobody there: a bounded wait, then lost */
	free(line);
	free(msgs);
}

static void test_open_errors(void **state)
{
	const struct sink_opts small = { .queue_bytes = 1000 };
	char err[256];

	(void)state;
	assert_null(sink_open("syslog-tcp", "localhost", err, sizeof(err)));
	assert_string_equal(err, "--syslog-server: 'localhost' is not HOST:PORT");
	assert_null(sink_open("syslog-udp", "[::1]:0", err, sizeof(err)));
	assert_non_null(strstr(err, "--syslog-server: "));
	assert_null(sink_open_opts("syslog-tcp", "127.0.0.1:601", &small, err, sizeof(err)));
	assert_string_equal(err, "--syslog-server: queue of 1000 bytes is below 65536");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_5424),	cmocka_unit_test(test_header_3164),
		cmocka_unit_test(test_parse),		cmocka_unit_test(test_resolve_fails),
		cmocka_unit_test(test_unix_5424),	cmocka_unit_test(test_udp),
		cmocka_unit_test(test_tcp_frames),	cmocka_unit_test(test_tcp_reconnect),
		cmocka_unit_test(test_tcp_queue_bound), cmocka_unit_test(test_open_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
