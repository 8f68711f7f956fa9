/* test_sink.c - sink_file.c and sink_syslog.c: batches, rotation, cut-back, torn pipes, losses. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <signal.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <cmocka.h>
#include "sink.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN); /* as main does */
	signal(SIGXFSZ, SIG_IGN); /* RLIMIT_FSIZE: a short write, not a kill */
	snprintf(dir, sizeof(dir), "/tmp/cs-test-sink.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void path_in(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "%s/%s", dir, name);
}

/* The whole file as a string (at most 1 MiB). */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 1 << 20);

	assert_non_null(f);
	assert_non_null(buf);
	*len = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	return buf;
}

static void assert_file(const char *path, const char *want)
{
	size_t n;
	char *got = slurp(path, &n);

	assert_int_equal(n, strlen(want));
	assert_string_equal(got, want);
	free(got);
}

static void assert_stats(const struct sink *s, uint64_t lines, uint64_t lost, uint64_t errs)
{
	struct sink_stats st;

	sink_stats(s, &st);
	assert_int_equal(st.lines, lines);
	assert_int_equal(st.lost, lost);
	assert_int_equal(st.write_errors, errs);
}

/* ---- file ---- */

/* Lines wait for the flush, then leave together with their newlines; a
 * descriptor opened without O_APPEND is switched to it. */
static void test_file_batches(void **state)
{
	char path[128];
	struct sink *s;
	int fd;

	(void)state;
	path_in(path, sizeof(path), "batch.log");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	s = sink_file_fd(fd);
	assert_non_null(s);
	assert_true(fcntl(fd, F_GETFL) & O_APPEND);
	assert_int_equal(sink_write(s, "one", 3, 6), 0);
	assert_int_equal(sink_write(s, "", 0, 6), 0);
	assert_int_equal(sink_write(s, "three", 5, 2), 0);
	assert_file(path, "");
	assert_stats(s, 0, 0, 0);
	assert_int_equal(sink_flush(s), 0);
	assert_file(path, "one\n\nthree\n");
	assert_stats(s, 3, 0, 0);
	assert_int_equal(sink_flush(s), 0); /* nothing held: nothing written */
	sink_free(s);			    /* a descriptor it was given stays open */
	assert_int_equal(write(fd, "x\n", 2), 2);
	close(fd);
	assert_file(path, "one\n\nthree\nx\n");
}

/* A line longer than a batch goes out alone, after what was held before it. */
static void test_file_huge_line(void **state)
{
	size_t big = 100 * 1024, n;
	char path[128], *line = malloc(big), *got;
	struct sink *s;
	char err[256];

	(void)state;
	assert_non_null(line);
	memset(line, 'h', big);
	path_in(path, sizeof(path), "huge.log");
	s = sink_open("file", path, err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(sink_write(s, "before", 6, 6), 0);
	assert_int_equal(sink_write(s, line, big, 6), 0); /* written now */
	got = slurp(path, &n);
	assert_int_equal(n, 7 + big + 1);
	assert_memory_equal(got, "before\n", 7);
	assert_memory_equal(got + 7, line, big);
	assert_int_equal(got[n - 1], '\n');
	assert_stats(s, 2, 0, 0);
	free(got);
	free(line);
	sink_free(s);
}

/* Log rotation: the file is renamed away, then the sink reopens: lines up
 * to the reopen stay in the renamed file, later ones go to a new file. */
static void test_file_reopen_after_rename(void **state)
{
	char path[128], rotated[128], err[256] = "";
	struct sink *s;

	(void)state;
	path_in(path, sizeof(path), "rot.log");
	path_in(rotated, sizeof(rotated), "rot.log.1");
	s = sink_open("file", path, err, sizeof(err));
	assert_non_null(s);
	sink_write(s, "one", 3, 6);
	assert_int_equal(sink_flush(s), 0);
	assert_int_equal(rename(path, rotated), 0);
	sink_write(s, "two", 3, 6); /* held across the rename */
	assert_int_equal(sink_reopen(s, err, sizeof(err)), 0);
	sink_write(s, "three", 5, 6);
	assert_int_equal(sink_flush(s), 0);
	assert_file(rotated, "one\ntwo\n");
	assert_file(path, "three\n");
	assert_stats(s, 3, 0, 0);
	sink_free(s);
}

/* A reopen that fails names the file and keeps the old one in use. */
static void test_file_reopen_fails(void **state)
{
	char sub[128], path[160], moved[128], err[256] = "";
	struct sink *s;

	(void)state;
	path_in(sub, sizeof(sub), "gone");
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(path, sizeof(path), "%s/x.log", sub);
	path_in(moved, sizeof(moved), "x.log.old");
	s = sink_open("file", path, err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(rename(path, moved), 0);
	assert_int_equal(rmdir(sub), 0);
	assert_int_equal(sink_reopen(s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, strerror(ENOENT)));
	sink_write(s, "still", 5, 6);
	assert_int_equal(sink_flush(s), 0);
	assert_file(moved, "still\n");
	sink_free(s);
}

/* A descriptor it was given has no name to reopen by: a no-op. */
static void test_file_reopen_fd(void **state)
{
	FILE *f = tmpfile();
	struct sink *s = sink_file_fd(fileno(f));
	char err[64] = "";

	(void)state;
	assert_int_equal(sink_reopen(s, err, sizeof(err)), 0);
	sink_write(s, "a", 1, 6);
	assert_int_equal(sink_flush(s), 0);
	assert_int_equal(lseek(fileno(f), 0, SEEK_END), 2);
	sink_free(s);
	fclose(f);
}

/* A full disk: the batch is lost whole, counted as lines and as one failed
 * write; the sink goes on. */
static void test_file_full_disk(void **state)
{
	int fd = open("/dev/full", O_WRONLY);
	struct sink *s = sink_file_fd(fd);

	(void)state;
	assert_non_null(s);
	sink_write(s, "a", 1, 6);
	sink_write(s, "b", 1, 6);
	assert_int_equal(sink_flush(s), -1);
	assert_stats(s, 0, 2, 1);
	sink_write(s, "c", 1, 6);
	assert_int_equal(sink_flush(s), -1);
	assert_stats(s, 0, 3, 2);
	sink_free(s);
	close(fd);
}

/* A short write to a regular file (here the file size limit) is cut back
 * to where the batch began: the file ends with a whole line. */
static void test_file_cut_back(void **state)
{
	struct rlimit old, lim;
	char path[128], err[256], line[32];
	struct sink *s;

	(void)state;
	path_in(path, sizeof(path), "cut.log");
	s = sink_open("file", path, err, sizeof(err));
	assert_non_null(s);
	sink_write(s, "first batch, whole", 18, 6);
	assert_int_equal(sink_flush(s), 0);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 60;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	for (int i = 0; i < 3; i++) {
		snprintf(line, sizeof(line), "second batch, line %d", i);
		sink_write(s, line, strlen(line), 6);
	}
	assert_int_equal(sink_flush(s), -1); /* 41 of 63 bytes fit */
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_file(path, "first batch, whole\n");
	assert_stats(s, 1, 3, 1);
	sink_write(s, "third", 5, 6);
	assert_int_equal(sink_flush(s), 0);
	assert_file(path, "first batch, whole\nthird\n");
	sink_free(s);
}

/* A pipe that takes part of a batch cannot be cut back: the lines that
 * got through whole are counted delivered, the rest lost, and the next
 * batch starts on a new line so the torn one cannot glue to it. */
static void test_pipe_torn(void **state)
{
	char line[100], *got = malloc(1 << 16);
	int p[2], pipe_cap;
	struct sink *s;
	ssize_t n;

	(void)state;
	assert_non_null(got);
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	pipe_cap = fcntl(p[1], F_SETPIPE_SZ, 4096);
	assert_int_equal(pipe_cap, 4096);
	s = sink_file_fd(p[1]);
	memset(line, 'p', sizeof(line));
	for (int i = 0; i < 60; i++) /* 60 lines of 100 bytes: 6000 > 4096 */
		sink_write(s, line, 99, 6);
	assert_int_equal(sink_flush(s), -1);
	assert_stats(s, 40, 20, 1); /* 4096 = 40 whole lines and 96 bytes */
	n = read(p[0], got, 1 << 16);
	assert_int_equal(n, 4096);
	assert_memory_equal(got + 40 * 100 - 1, "\n", 1);
	assert_int_equal(fcntl(p[1], F_SETPIPE_SZ, 65536), 65536);
	sink_write(s, "next", 4, 6);
	assert_int_equal(sink_flush(s), 0);
	n = read(p[0], got, 1 << 16);
	assert_int_equal(n, 6);
	assert_memory_equal(got, "\nnext\n", 6);
	assert_stats(s, 41, 20, 1);
	sink_free(s);
	close(p[0]);
	close(p[1]);
	free(got);
}

/* A closed pipe (EPIPE, SIGPIPE ignored) costs the batch, counted. */
static void test_pipe_closed(void **state)
{
	struct sink *s;
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	close(p[0]);
	s = sink_file_fd(p[1]);
	sink_write(s, "a", 1, 6);
	sink_write(s, "b", 1, 6);
	assert_int_equal(sink_flush(s), -1);
	assert_stats(s, 0, 2, 1);
	sink_free(s);
	close(p[1]);
}

/* ---- syslog ---- */

static int bind_dgram(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	struct timeval tv = { .tv_sec = 5 };

	assert_true(fd >= 0);
	assert_true(strlen(path) < sizeof(a.sun_path));
	strcpy(a.sun_path, path);
	unlink(path);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* One datagram per line, at once: <PRI>Mmm dd hh:mm:ss certsentry[PID]: LINE,
 * PRI = facility daemon (3) * 8 + the line's severity. */
static void assert_datagram(int fd, int pri, const char *line)
{
	char got[512], want[256];
	regex_t re;
	ssize_t n = recv(fd, got, sizeof(got) - 1, 0);

	assert_true(n > 0);
	got[n] = '\0';
	snprintf(want, sizeof(want),
		 "^<%d>[A-Z][a-z]{2} [ 123][0-9] [0-2][0-9]:[0-5][0-9]:[0-6][0-9] "
		 "certsentry\\[%d\\]: %s$",
		 pri, (int)getpid(), line);
	assert_int_equal(regcomp(&re, want, REG_EXTENDED | REG_NOSUB), 0);
	if (regexec(&re, got, 0, NULL, 0))
		fail_msg("datagram '%s' does not match '%s'", got, want);
	regfree(&re);
}

/* Lines go out as datagrams; a daemon that is down costs lines, counted;
 * one that comes back (a new socket at the same path) gets the next. */
static void test_syslog(void **state)
{
	char path[128], err[256];
	struct sink *s;
	int fd;

	(void)state;
	path_in(path, sizeof(path), "log.sock");
	fd = bind_dgram(path);
	s = sink_open("syslog", path, err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(sink_write(s, "{\"a\":1}", 7, 2), 0);
	assert_int_equal(sink_flush(s), 0);
	assert_datagram(fd, 3 * 8 + 2, "\\{\"a\":1\\}");
	assert_int_equal(sink_write(s, "hello", 5, 6), 0);
	assert_datagram(fd, 3 * 8 + 6, "hello");
	assert_stats(s, 2, 0, 0);
	close(fd);
	unlink(path);
	assert_int_equal(sink_write(s, "lost", 4, 4), -1);
	assert_int_equal(sink_reopen(s, err, sizeof(err)), 0); /* nothing to reopen */
	assert_stats(s, 2, 1, 1);
	fd = bind_dgram(path);
	assert_int_equal(sink_write(s, "back", 4, 4), 0);
	assert_datagram(fd, 3 * 8 + 4, "back");
	assert_stats(s, 3, 1, 1);
	sink_free(s);
	close(fd);
}

/* ---- the table ---- */

static void test_sink_open_errors(void **state)
{
	char err[256], path[200];
	struct sink *s;

	(void)state;
	assert_null(sink_open("carrier-pigeon", NULL, err, sizeof(err)));
	assert_string_equal(err, "no sink named 'carrier-pigeon'");
	path_in(path, sizeof(path), "no/such/dir/x.log");
	assert_null(sink_open("file", path, err, sizeof(err)));
	assert_non_null(strstr(err, "--output: "));
	assert_non_null(strstr(err, path));
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	assert_null(sink_open("syslog", path, err, sizeof(err)));
	assert_non_null(strstr(err, "--syslog: socket path too long"));
	/* no argument: stdout, and /dev/log (the socket need not exist) */
	s = sink_open("file", NULL, err, sizeof(err));
	assert_non_null(s);
	assert_string_equal(s->name, "file");
	sink_free(s);
	s = sink_open("syslog", NULL, err, sizeof(err));
	assert_non_null(s);
	assert_string_equal(s->name, "syslog");
	sink_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_batches),
		cmocka_unit_test(test_file_huge_line),
		cmocka_unit_test(test_file_reopen_after_rename),
		cmocka_unit_test(test_file_reopen_fails),
		cmocka_unit_test(test_file_reopen_fd),
		cmocka_unit_test(test_file_full_disk),
		cmocka_unit_test(test_file_cut_back),
		cmocka_unit_test(test_pipe_torn),
		cmocka_unit_test(test_pipe_closed),
		cmocka_unit_test(test_syslog),
		cmocka_unit_test(test_sink_open_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
