/* test_privdrop.c - the seccomp allow-list in a child: the steady state passes, the rest gets EPERM. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <curl/curl.h>
#include <cmocka.h>
#include "lists.h"
#include "privdrop.h"

/* A loopback HTTP server in the parent, for the child's libcurl fetch. */
static int listen_fd = -1;
static int port;

static void *serve(void *arg)
{
	static const char resp[] = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";
	char buf[1024];
	int fd;

	(void)arg;
	while ((fd = accept(listen_fd, NULL, NULL)) >= 0) {
		if (read(fd, buf, sizeof(buf)) > 0 && write(fd, resp, sizeof(resp) - 1) < 0)
			fprintf(stderr, "serve: write: %s\n", strerror(errno));
		close(fd);
	}
	return NULL;
}

static int setup(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	pthread_t t;

	(void)state;
	listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(listen_fd, 8) || getsockname(listen_fd, (struct sockaddr *)&a, &len))
		return -1;
	port = ntohs(a.sin_port);
	if (pthread_create(&t, NULL, serve, NULL))
		return -1;
	pthread_detach(t);
	return curl_global_init(CURL_GLOBAL_DEFAULT) ? -1 : 0;
}

/* Runs fn in a child under the filter; its exit status: 0, or the number
 * of the step that went wrong. _exit: no atexit handlers (LeakSanitizer's
 * check needs ptrace, which the filter refuses). */
static int in_child(int (*fn)(void))
{
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		int rc = privdrop_seccomp(false);

		_exit(rc ? 100 : fn());
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (WIFSIGNALED(st))
		fail_msg("child killed by signal %d", WTERMSIG(st));
	return WEXITSTATUS(st);
}

static size_t sink_body(char *p, size_t sz, size_t n, void *ctx)
{
	size_t *got = ctx;

	(void)p;
	*got += sz * n;
	return sz * n;
}

/* What the steady state does: list reloads (OpenSSL reading the system
 * trust store), files, inotify, epoll, syslog's datagram, a libcurl fetch
 * by name (the resolver's thread included). */
static int steady_state(void)
{
	struct lists_opts lo = { 0 };
	char err[256], url[64], buf[64];
	struct lists *l;
	struct stat st;
	DIR *d;
	int fd, ifd, efd;
	CURL *c;
	long code = 0;
	size_t got = 0;
	struct sockaddr_un un = { .sun_family = AF_UNIX, .sun_path = "/nonexistent/log" };

	if (!(l = lists_load(&lo, err, sizeof(err))))
		return 1;
	lists_free(l);
	if ((fd = open("/etc/hosts", O_RDONLY | O_CLOEXEC)) < 0 || read(fd, buf, sizeof(buf)) < 0 ||
	    fstat(fd, &st) || close(fd) || stat("/etc/hosts", &st))
		return 2;
	if (!(d = opendir("/etc")) || !readdir(d) || closedir(d))
		return 3;
	if ((ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0 ||
	    inotify_add_watch(ifd, "/etc", IN_CLOSE_WRITE | IN_MOVED_TO) < 0)
		return 4;
	/* maxevents 0: EINVAL, an answer from past the filter */
	if ((efd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    epoll_wait(efd, (struct epoll_event *)buf, 0, 0) != -1 || errno != EINVAL)
		return 5;
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
	    sendto(fd, "x", 1, 0, (struct sockaddr *)&un, sizeof(un)) != -1 || errno != ENOENT)
		return 6;
	close(fd);
	snprintf(url, sizeof(url), "http://localhost:%d/x", port);
	if (!(c = curl_easy_init()))
		return 7;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &got);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	if (curl_easy_perform(c) != CURLE_OK)
		return 8;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	if (code != 200 || got != 2)
		return 9;
	if (ioctl(STDIN_FILENO, FIONREAD, &fd) && errno == EPERM)
		return 10;
	if ((fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)) < 0)
		return 11;
	close(fd);
	return 0;
}

static void test_steady_state_allowed(void **state)
{
	(void)state;
	assert_int_equal(in_child(steady_state), 0);
}

/* Each must come back EPERM (and the process go on to the next). */
static int refused(void)
{
	char *argv[] = { "/bin/true", NULL }, c = 'x';
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	if (syscall(SYS_unshare, 0) != -1 || errno != EPERM)
		return 1;
	if (socket(AF_PACKET, SOCK_RAW, 0) != -1 || errno != EPERM)
		return 2;
	if (ioctl(STDIN_FILENO, TIOCSTI, &c) != -1 || errno != EPERM)
		return 3;
	if (execve(argv[0], argv, NULL) != -1 || errno != EPERM)
		return 4;
	if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != -1 || errno != EPERM)
		return 5;
	if (syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr)) != -1 || errno != EPERM)
		return 6;
	if (syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr)) != -1 || errno != EPERM)
		return 7;
	if (mount("none", "/mnt", "tmpfs", 0, NULL) != -1 || errno != EPERM)
		return 8;
	if (kill(getppid(), 0) != -1 || errno != EPERM)
		return 9;
	if (setuid(0) != -1 || errno != EPERM)
		return 10;
	if (syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0) != -1 || errno != EPERM)
		return 11;
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != -1 || errno != EPERM)
		return 12;
	/* netlink: the route protocol only (nftables is NETLINK_NETFILTER) */
	if (socket(AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER) != -1 || errno != EPERM)
		return 13;
	if (mkdir("/tmp/cs-privdrop-never", 0700) != -1 || errno != EPERM)
		return 14;
	return 0;
}

static void test_others_refused_not_killed(void **state)
{
	(void)state;
	assert_int_equal(in_child(refused), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_steady_state_allowed),
		cmocka_unit_test(test_others_refused_not_killed),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
