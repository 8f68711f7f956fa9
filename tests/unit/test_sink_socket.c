/* test_sink_socket.c - sink_socket.c: the hello line, subscribers, the bound, a slow one dropped. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <cmocka.h>
#include <json-c/json.h>
#include "sink.h"

extern const char *argp_program_version; /* cli.c */

static char dir[64], path[128], gid[16];

static int setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "/tmp/cs-test-sock.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/events.sock", dir);
	snprintf(gid, sizeof(gid), "%u", (unsigned)getgid());
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return rmdir(dir);
}

static struct sink *listen_on(unsigned max, size_t queue)
{
	const struct sink_opts o = { .max_subs = max, .queue_bytes = queue, .group = gid };
	char err[256] = "";
	struct sink *s = sink_socket_open(path, &o, err, sizeof(err));

	if (!s)
		fail_msg("listen: %s", err);
	return s;
}

static int connect_to(int rcvbuf)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	if (rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	strcpy(sa.sun_path, path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* One line from fd (blocking), without its '\n'; NULL at end of file. */
static char *read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	while (n + 1 < cap) {
		ssize_t r = read(fd, buf + n, 1);

		if (r <= 0)
			return NULL;
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = '\0';
	return buf;
}

/* Everything readable now, without waiting: how many lines. */
static unsigned drain(int fd)
{
	char buf[65536];
	unsigned lines = 0;
	ssize_t r;

	while ((r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		for (ssize_t i = 0; i < r; i++)
			lines += buf[i] == '\n';
	return lines;
}

static struct sink_stats stats(struct sink *s)
{
	struct sink_stats st;

	sink_stats(s, &st);
	return st;
}

/* The first line says who serves: program, version, start time, pid; the
 * socket is 0660. */
static void test_hello(void **state)
{
	struct sink *s = listen_on(4, 0);
	char line[512];
	struct json_object *j, *h, *v;
	struct stat st;
	int fd;

	(void)state;
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);
	assert_int_equal(st.st_gid, getgid());
	fd = connect_to(0);
	sink_poll(s);
	assert_non_null(read_line(fd, line, sizeof(line)));
	j = json_tokener_parse(line);
	assert_non_null(j);
	assert_true(json_object_object_get_ex(j, "hello", &h));
	assert_true(json_object_object_get_ex(h, "program", &v));
	assert_string_equal(json_object_get_string(v), "certsentry");
	assert_true(json_object_object_get_ex(h, "version", &v));
	assert_string_equal(json_object_get_string(v), strchr(argp_program_version, ' ') + 1);
	assert_true(json_object_object_get_ex(h, "pid", &v));
	assert_int_equal(json_object_get_int(v), getpid());
	assert_true(json_object_object_get_ex(h, "started", &v));
	assert_int_equal(strlen(json_object_get_string(v)), strlen("2026-12-07T14:00:00Z"));
	assert_true(json_object_object_get_ex(h, "subscribers_max", &v));
	assert_int_equal(json_object_get_int(v), 4);
	json_object_put(j);
	assert_int_equal(stats(s).subscribers, 1);
	close(fd);
	sink_free(s);
	assert_int_equal(access(path, F_OK), -1); /* the socket file went with it */
}

/* Every subscriber gets every line, whole and in order, after its hello;
 * one that leaves frees its slot. */
static void test_subscribers(void **state)
{
	struct sink *s = listen_on(4, 0);
	char line[512];
	int fd[3];

	(void)state;
	for (int i = 0; i < 3; i++)
		fd[i] = connect_to(0);
	sink_poll(s);
	assert_int_equal(stats(s).subscribers, 3);
	assert_int_equal(sink_write(s, "{\"n\":1}", 7, 6), 0);
	assert_int_equal(sink_write(s, "{\"n\":2}", 7, 3), 0);
	assert_int_equal(sink_flush(s), 0);
	for (int i = 0; i < 3; i++) {
		assert_non_null(read_line(fd[i], line, sizeof(line)));
		assert_non_null(strstr(line, "\"hello\""));
		assert_string_equal(read_line(fd[i], line, sizeof(line)), "{\"n\":1}");
		assert_string_equal(read_line(fd[i], line, sizeof(line)), "{\"n\":2}");
	}
	close(fd[1]);
	sink_poll(s);
	assert_int_equal(stats(s).subscribers, 2);
	assert_int_equal(sink_write(s, "{\"n\":3}", 7, 6), 0);
	sink_flush(s);
	assert_string_equal(read_line(fd[0], line, sizeof(line)), "{\"n\":3}");
	assert_string_equal(read_line(fd[2], line, sizeof(line)), "{\"n\":3}");
	assert_int_equal(stats(s).sub_dropped, 0);
	assert_int_equal(stats(s).sub_lost, 0);
	close(fd[0]);
	close(fd[2]);
	sink_free(s);
}

/* Past the bound a connection is told why and closed; counted. */
static void test_bound(void **state)
{
	struct sink *s = listen_on(2, 0);
	char line[512];
	int a = connect_to(0), b = connect_to(0), c;

	(void)state;
	sink_poll(s);
	c = connect_to(0);
	sink_poll(s);
	assert_non_null(read_line(c, line, sizeof(line)));
	assert_string_equal(line, "{\"error\":\"too many subscribers (2)\"}");
	assert_null(read_line(c, line, sizeof(line))); /* closed */
	assert_int_equal(stats(s).subscribers, 2);
	assert_int_equal(stats(s).sub_refused, 1);
	close(a);
	sink_poll(s); /* a's slot is free again */
	close(c);
	c = connect_to(0);
	sink_poll(s);
	assert_non_null(strstr(read_line(c, line, sizeof(line)), "\"hello\""));
	assert_int_equal(stats(s).subscribers, 2);
	close(b);
	close(c);
	sink_free(s);
}

/*
 * One that never reads fills the socket, then its queue, and is dropped;
 * what it got and what was counted lost add up to what was written while
 * it was there. The one that reads gets everything; writing never blocks.
 */
static void test_slow_dropped(void **state)
{
	struct sink *s = listen_on(4, 8192);
	char line[1000], buf[512];
	int slow = connect_to(4096), fast = connect_to(0);
	unsigned written = 0, fast_got = 0, slow_got;

	(void)state;
	memset(line, 'x', sizeof(line));
	sink_poll(s);
	assert_non_null(read_line(fast, buf, sizeof(buf))); /* hello */
	while (stats(s).sub_dropped == 0 && written < 100000) {
		assert_int_equal(sink_write(s, line, sizeof(line), 6), 0);
		written++;
		sink_flush(s);
		fast_got += drain(fast);
	}
	assert_int_equal(stats(s).sub_dropped, 1);
	assert_int_equal(stats(s).subscribers, 1);
	slow_got = drain(slow) - 1; /* less its hello */
	assert_int_equal(slow_got + stats(s).sub_lost, written);
	assert_true(stats(s).sub_lost > 0);
	assert_int_equal(recv(slow, buf, sizeof(buf), 0), 0); /* closed on it */
	for (int i = 0; i < 10; i++) {			      /* a queue's worth at a time */
		sink_write(s, line, sizeof(line), 6);
		written++;
		sink_flush(s);
		fast_got += drain(fast);
	}
	assert_int_equal(fast_got, written);
	assert_int_equal(stats(s).sub_dropped, 1);
	assert_int_equal(stats(s).lost, 0); /* the sink's own delivery: untouched */
	close(slow);
	close(fast);
	sink_free(s);
}

/* A live socket at the path is another instance's: refused. A stale one
 * is replaced; a file that is not a socket is an error; so is a bad group. */
static void test_path_rules(void **state)
{
	const struct sink_opts dflt = { 0 }, bad_group = { .group = "no-such-group-cs" };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sink *s = listen_on(4, 0), *t;
	char err[256];
	FILE *f;
	int fd;

	(void)state;
	t = sink_socket_open(path, &dflt, err, sizeof(err));
	assert_null(t);
	assert_non_null(strstr(err, "another process is serving events there"));
	sink_free(s);
	/* a socket left by a process that ended: nobody answers */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	strcpy(sa.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	s = listen_on(4, 0);
	sink_free(s);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	assert_null(sink_socket_open(path, &dflt, err, sizeof(err)));
	assert_non_null(strstr(err, "exists and is not a socket"));
	unlink(path);
	assert_null(sink_socket_open(path, &bad_group, err, sizeof(err)));
	assert_string_equal(err, "no group named 'no-such-group-cs' (--event-socket-group)");
	/* through the table, errors name the option */
	assert_null(sink_open_opts("socket", path, &bad_group, err, sizeof(err)));
	assert_string_equal(err, "--event-socket: no group named 'no-such-group-cs' "
				 "(--event-socket-group)");
	assert_int_equal(access(path, F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello),	   cmocka_unit_test(test_subscribers),
		cmocka_unit_test(test_bound),	   cmocka_unit_test(test_slow_dropped),
		cmocka_unit_test(test_path_rules),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
