/* test_procscan.c - unit tests for /proc reading (user/procscan.c, on a tree we make) and ELF symbol offsets (user/elfsym.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <sched.h>
#include <signal.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "elfsym.h"
#include "procscan.h"

static void test_parse_map(void **state)
{
	char l1[] = "7f2a1c000000-7f2a1c0b6000 r-xp 00021000 fd:01 1234567                    "
		    "/usr/lib/x86_64-linux-gnu/libssl.so.3\n";
	char l2[] = "7ffd5e3f1000-7ffd5e412000 rw-p 00000000 00:00 0                          "
		    "[stack]\n";
	char l3[] = "55d0c0000000-55d0c0021000 rw-p 00000000 00:00 0 \n";
	char l4[] = "7f0000000000-7f0000001000 r-xp 00000000 08:02 42 "
		    "/opt/lib/libcrypto.so.3 (deleted)";
	char bad1[] = "7f0000000000 r-xp 00000000 08:02 42 /x";
	char bad2[] = "7f0000001000-7f0000000000 r-xp 00000000 08:02 42 /x";
	struct proc_map m;

	(void)state;
	assert_int_equal(procscan_parse_map(l1, &m), 0);
	assert_int_equal(m.start, 0x7f2a1c000000ULL);
	assert_int_equal(m.end, 0x7f2a1c0b6000ULL);
	assert_string_equal(m.perms, "r-xp");
	assert_int_equal(m.off, 0x21000);
	assert_int_equal(m.dev_major, 0xfd);
	assert_int_equal(m.dev_minor, 1);
	assert_int_equal(m.ino, 1234567);
	assert_string_equal(m.path, "/usr/lib/x86_64-linux-gnu/libssl.so.3");
	assert_int_equal(procscan_parse_map(l2, &m), 0);
	assert_string_equal(m.path, "[stack]");
	assert_int_equal(m.ino, 0);
	assert_int_equal(procscan_parse_map(l3, &m), 0);
	assert_string_equal(m.path, "");
	assert_int_equal(procscan_parse_map(l4, &m), 0);
	assert_string_equal(m.path, "/opt/lib/libcrypto.so.3 (deleted)");
	assert_int_equal(procscan_parse_map(bad1, &m), -1);
	assert_int_equal(procscan_parse_map(bad2, &m), -1);
}

static void test_parse_tcp(void **state)
{
	static const char head[] = "  sl  local_address rem_address   st tx_queue rx_queue tr "
				   "tm->when retrnsmt   uid  timeout inode\n";
	static const char listen4[] = "   0: 0100007F:1151 00000000:0000 0A 00000000:00000000 "
				      "00:00000000 00000000     0        0 56789 1 "
				      "0000000000000000 100 0 0 10 0\n";
	static const char estab4[] = "   1: 0100007F:1151 0100007F:C35A 01 00000000:00000000 "
				     "00:00000000 00000000     0        0 56790 1 "
				     "0000000000000000 20 4 30 10 -1\n";
	static const char listen6[] = "   0: 00000000000000000000000000000000:01BB "
				      "00000000000000000000000000000000:0000 0A "
				      "00000000:00000000 00:00000000 00000000     0        0 777 1 "
				      "0000000000000000 100 0 0 10 0\n";
	uint64_t ino = 0;
	uint16_t port = 0;

	(void)state;
	assert_int_equal(procscan_parse_tcp(head, &ino, &port), 0);
	assert_int_equal(procscan_parse_tcp(listen4, &ino, &port), 1);
	assert_int_equal(ino, 56789);
	assert_int_equal(port, 0x1151);
	assert_int_equal(procscan_parse_tcp(estab4, &ino, &port), 0);
	assert_int_equal(procscan_parse_tcp(listen6, &ino, &port), 1);
	assert_int_equal(ino, 777);
	assert_int_equal(port, 443);
	assert_int_equal(procscan_parse_tcp("garbage\n", &ino, &port), -1);
	assert_int_equal(procscan_parse_tcp("   0: 0100007F:1151 00000000:0000 0A\n", &ino, &port),
			 -1);
	assert_int_equal(
		procscan_parse_tcp("   0: 0100007F:11511 00000000:0000 0A 00000000:00000000 "
				   "00:00000000 00000000     0        0 5 1\n",
				   &ino, &port),
		-1);
}

static void test_kdev_pid(void **state)
{
	(void)state;
	assert_int_equal(procscan_kdev(0xfd, 1), 0xfd00001);
	assert_int_equal(procscan_kdev(8, 2), (8 << 20) | 2);
	assert_int_equal(procscan_pid("123"), 123);
	assert_int_equal(procscan_pid("0"), 0);
	assert_int_equal(procscan_pid("12a"), 0);
	assert_int_equal(procscan_pid("self"), 0);
	assert_int_equal(procscan_pid("99999999999"), 0);
}

/* ---- a /proc of our own ---- */

static char root[64];

static void put(const char *rel, const char *content)
{
	char path[256], *slash;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (slash = strchr(path + strlen(root) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = 0;
		mkdir(path, 0700);
		*slash = '/';
	}
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static void link_to(const char *rel, const char *target)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	assert_int_equal(symlink(target, path), 0);
}

static int unlink_rel(const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	return unlink(path);
}

static const char tcp_head[] = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
			       "retrnsmt   uid  timeout inode\n";

static void tcp_line(char *buf, size_t len, int state, unsigned ino)
{
	snprintf(buf, len,
		 "%s   0: 0100007F:1151 00000000:0000 %02X 00000000:00000000 00:00000000 "
		 "00000000     0        0 %u 1 0000000000000000 100 0 0 10 0\n",
		 tcp_head, state, ino);
}

/* pid 100 and 101 share netns 111 (101's net files must not be read: one
 * namespace, one read); 102 is in netns 222 (IPv6 only); 103 holds 222's
 * listener; 104 holds a socket that does not listen. */
static int setup_proc(void **state)
{
	char buf[512];

	(void)state;
	strcpy(root, "/tmp/cs-procscan.XXXXXX");
	assert_non_null(mkdtemp(root));
	tcp_line(buf, sizeof(buf), 0x0A, 5000);
	put("100/net/tcp", buf);
	put("100/net/tcp6", tcp_head);
	tcp_line(buf, sizeof(buf), 0x0A, 6000);
	put("101/net/tcp", buf);
	tcp_line(buf, sizeof(buf), 0x01, 7001);
	put("102/net/tcp", buf);
	tcp_line(buf, sizeof(buf), 0x0A, 7000);
	put("102/net/tcp6", buf);
	put("103/maps", "7f0000000000-7f0000010000 r-xp 00000000 fd:01 11 /lib/libssl.so.3\n"
			"7f0000020000-7f0000030000 r--p 00000000 fd:01 12 /lib/libcrypto.so.3\n");
	/* The kernel lists listeners first: a LISTEN row after a connection's
	 * cannot occur, and one is not read. */
	put("105/net/tcp", "  sl  local_address rem_address   st\n"
			   "   0: 0100007F:1151 00000000:0000 0A 00000000:00000000 00:00000000 "
			   "00000000     0        0 5100 1 0000000000000000 100 0 0 10 0\n"
			   "   1: 0100007F:1151 0100007F:9000 01 00000000:00000000 00:00000000 "
			   "00000000     0        0 5101 1 0000000000000000 100 0 0 10 0\n"
			   "   2: 0100007F:1153 00000000:0000 0A 00000000:00000000 00:00000000 "
			   "00000000     0        0 5102 1 0000000000000000 100 0 0 10 0\n");
	put("104/comm", "x\n");
	put("self/comm", "x\n");
	put("100/fd/.keep", "");
	put("101/fd/.keep", "");
	put("103/fd/.keep", "");
	put("104/fd/.keep", "");
	put("100/ns/.keep", "");
	put("101/ns/.keep", "");
	put("102/ns/.keep", "");
	link_to("100/ns/net", "net:[111]");
	link_to("101/ns/net", "net:[111]");
	link_to("102/ns/net", "net:[222]");
	link_to("100/fd/3", "socket:[5000]");
	link_to("103/fd/4", "/dev/null");
	link_to("103/fd/5", "socket:[7000]");
	link_to("104/fd/1", "socket:[9999]");
	link_to("104/fd/2", "pipe:[5000]");
	return 0;
}

/* test_memo's tree is on tmpfs: a directory's size counts its entries, as
 * /proc/PID/fd's counts fds. 100 holds listener 5000, 101 nothing, 104 a
 * socket that does not listen. */
static int setup_memo(void **state)
{
	(void)state;
	strcpy(root, "/dev/shm/cs-procscan.XXXXXX");
	assert_non_null(mkdtemp(root));
	put("101/fd/.keep", "");
	put("104/fd/.keep", "");
	put("100/fd/.keep", "");
	link_to("100/fd/3", "socket:[5000]");
	link_to("104/fd/1", "socket:[9999]");
	return 0;
}

static int teardown_proc(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_listeners(void **state)
{
	struct cs_port_set lp;
	struct inode_set set = { 0 };
	uint16_t ports[4] = { 0 };
	char netdir[128];

	(void)state;
	assert_int_equal(procscan_listeners(root, &set), 2);
	assert_int_equal(set.n, 2);
	assert_int_equal(set.v[0].ino, 5000);
	assert_int_equal(set.v[1].ino, 7000);
	assert_int_equal(set.v[0].port, 0x1151);
	assert_false(set.full);
	assert_int_equal(procscan_holds(root, 100, &set, NULL, 0), 1);
	assert_int_equal(procscan_holds(root, 103, &set, ports, 4), 1);
	assert_int_equal(ports[0], 0x1151);
	assert_int_equal(procscan_holds(root, 104, &set, ports, 4), 0); /* a pipe of that number */
	assert_int_equal(procscan_holds(root, 101, &set, NULL, 0), 0);
	assert_int_equal(procscan_holds(root, 555, &set, ports, 4), 0);
	snprintf(netdir, sizeof(netdir), "%s/100/net", root);
	assert_int_equal(procscan_listening_ports(netdir, &lp), 1);
	assert_true(cs_port_in(&lp, 0x1151));
	assert_false(cs_port_in(&lp, 443));
	snprintf(netdir, sizeof(netdir), "%s/105/net", root); /* stops at the first connection */
	assert_int_equal(procscan_listening_ports(netdir, &lp), 1);
	assert_true(cs_port_in(&lp, 0x1151));
	assert_false(cs_port_in(&lp, 0x1153));
	snprintf(netdir, sizeof(netdir), "%s/104/net", root); /* none there */
	assert_int_equal(procscan_listening_ports(netdir, &lp), 0);
	assert_false(cs_port_in(&lp, 0x1151));
	procscan_set_free(&set);
	assert_int_equal(procscan_listeners("/nonexistent-proc", &set), -ENOENT);
	procscan_set_free(&set);
}

/* A listening TCP socket of family on port 0 (any address): its fd; its
 * inode and port out. */
static int listen_any(int family, uint64_t *ino, uint16_t *port)
{
	struct sockaddr_storage ss = { .ss_family = (sa_family_t)family };
	socklen_t len = sizeof(ss);
	struct stat st;
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&ss,
		 family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) ||
	    listen(fd, 1) || getsockname(fd, (struct sockaddr *)&ss, &len) || fstat(fd, &st)) {
		close(fd);
		return -1;
	}
	*ino = st.st_ino;
	*port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
					  ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

static const struct listener *find_ino(const struct inode_set *s, uint64_t ino)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].ino == ino)
			return &s->v[i];
	return NULL;
}

/* The kernel's /proc: our listeners (sock_diag in our namespace), and, where
 * we may make a network namespace, a child's listener there (entered and
 * left); this thread is back in its own namespace after. */
static void test_listeners_kernel(void **state)
{
	uint64_t ino4, ino6, cino = 0, self_before, self_after;
	uint16_t port4, port6, cport = 0, ports[4];
	struct inode_set set = { 0 };
	const struct listener *l;
	int fd4, fd6, p[2], q[2];
	struct stat st;
	pid_t child;

	(void)state;
	assert_int_equal(stat("/proc/thread-self/ns/net", &st), 0);
	self_before = st.st_ino;
	fd4 = listen_any(AF_INET, &ino4, &port4);
	assert_true(fd4 >= 0);
	fd6 = listen_any(AF_INET6, &ino6, &port6); /* -1 on a kernel without IPv6 */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(pipe(q), 0);
	child = fork();
	assert_true(child >= 0);
	if (!child) { /* its own namespace and a listener there, until q closes */
		int fd = -1;
		char c;

		close(q[1]);
		if (!unshare(CLONE_NEWNET))
			fd = listen_any(AF_INET, &cino, &cport);
		if (fd < 0)
			cino = 0;
		(void)!write(p[1], &cino, sizeof(cino));
		(void)!write(p[1], &cport, sizeof(cport));
		(void)!read(q[0], &c, 1);
		_exit(0);
	}
	close(q[0]);
	assert_int_equal(read(p[0], &cino, sizeof(cino)), sizeof(cino));
	assert_int_equal(read(p[0], &cport, sizeof(cport)), sizeof(cport));
	assert_true(procscan_listeners("/proc", &set) >= 1);
	assert_non_null(l = find_ino(&set, ino4));
	assert_int_equal(l->port, port4);
	if (fd6 >= 0) {
		assert_non_null(l = find_ino(&set, ino6));
		assert_int_equal(l->port, port6);
	}
	if (cino) { /* else no CAP_SYS_ADMIN: not ours to see */
		assert_non_null(l = find_ino(&set, cino));
		assert_int_equal(l->port, cport);
		/* ours, inherited, and its own (the last fd) */
		assert_int_equal(procscan_holds("/proc", child, &set, ports, 4), fd6 >= 0 ? 3 : 2);
		assert_int_equal(ports[fd6 >= 0 ? 2 : 1], cport);
	}
	assert_int_equal(procscan_holds("/proc", getpid(), &set, ports, 4), fd6 >= 0 ? 2 : 1);
	assert_int_equal(stat("/proc/thread-self/ns/net", &st), 0);
	self_after = st.st_ino;
	assert_int_equal(self_after, self_before);
	close(q[1]);
	assert_int_equal(waitpid(child, NULL, 0), child);
	close(p[0]);
	close(p[1]);
	close(fd4);
	if (fd6 >= 0)
		close(fd6);
	procscan_set_free(&set);
}

/* Each scan's answers are procscan_holds'; a process is looked at again when
 * its fds change, a listener is new, or after PROCSCAN_MEMO_RECHECK scans.
 * h: whether 100, 101, 104 hold one; returns the processes looked at. */
static size_t memo_scan(struct procscan_memo *m, const struct inode_set *set, bool h[3])
{
	static const pid_t pids[3] = { 100, 101, 104 };
	uint64_t looked = m->looked;

	assert_int_equal(procscan_memo_begin(m, set), 0);
	for (int i = 0; i < 3; i++)
		h[i] = procscan_memo_holds(m, root, pids[i], set);
	assert_int_equal(procscan_memo_holds(m, root, 555, set), 0); /* no such process */
	return m->looked - looked;
}

static void test_memo(void **state)
{
	struct procscan_memo m = { 0 };
	struct inode_set set = { 0 };
	bool h[3];
	int i;

	(void)state;
	set.v = calloc(2, sizeof(*set.v));
	assert_non_null(set.v);
	set.n = set.cap = 2;
	set.v[0].ino = 5000;
	set.v[1].ino = 7000;
	assert_int_equal(memo_scan(&m, &set, h), 3); /* first: all */
	assert_true(h[0] && !h[1] && !h[2]);
	/* none: the holder's fd 3 is still a listener, the others' fds are the same */
	assert_int_equal(memo_scan(&m, &set, h), 0);
	assert_true(h[0] && !h[1] && !h[2]);
	/* 101 is given 100's listener (an fd passed in): its fds changed */
	link_to("101/fd/7", "socket:[5000]");
	assert_int_equal(memo_scan(&m, &set, h), 1);
	assert_true(h[0] && h[1] && !h[2]);
	/* a listener that was not there (104's socket, now listening): every
	 * process that held none */
	set.v[1].ino = 9999;
	assert_int_equal(memo_scan(&m, &set, h), 1);
	assert_true(h[0] && h[1] && h[2]);
	/* 104 lets go of it in place (closed, another socket at that fd): its
	 * count is the same, but the fd that held one is asked */
	assert_int_equal(unlink_rel("104/fd/1"), 0);
	link_to("104/fd/1", "socket:[8888]");
	set.v[1].ino = 7000;
	assert_int_equal(memo_scan(&m, &set, h), 1);
	assert_true(h[0] && h[1] && !h[2]);
	for (i = 0; i < PROCSCAN_MEMO_RECHECK - 1; i++)
		assert_int_equal(memo_scan(&m, &set, h), 0);
	/* 104 is given 100's listener in place: unseen until its "no" ages out */
	assert_int_equal(unlink_rel("104/fd/1"), 0);
	link_to("104/fd/1", "socket:[5000]");
	assert_int_equal(memo_scan(&m, &set, h), 1);
	assert_true(h[2]);
	/* 100 closes its listener */
	assert_int_equal(unlink_rel("100/fd/3"), 0);
	assert_int_equal(memo_scan(&m, &set, h), 1);
	assert_true(!h[0] && h[1] && h[2]);
	procscan_memo_free(&m);
	procscan_set_free(&set);
}

struct maps_seen {
	int n;
	uint64_t ino[4];
	char path[4][64];
};

static int collect(void *ctx, const struct proc_map *m)
{
	struct maps_seen *s = ctx;

	if (s->n == 4)
		return 7;
	s->ino[s->n] = m->ino;
	snprintf(s->path[s->n], sizeof(s->path[0]), "%s", m->path);
	s->n++;
	return 0;
}

static void test_maps(void **state)
{
	struct maps_seen s = { 0 };

	(void)state;
	assert_int_equal(procscan_maps(root, 103, collect, &s), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.ino[0], 11);
	assert_string_equal(s.path[0], "/lib/libssl.so.3");
	assert_string_equal(s.path[1], "/lib/libcrypto.so.3");
	assert_int_equal(procscan_maps(root, 555, collect, &s), -ENOENT);
}

/* ---- ELF ---- */

struct find_map {
	uint64_t addr, off;
	bool found;
};

static int find_exec(void *ctx, const struct proc_map *m)
{
	struct find_map *f = ctx;

	if (f->addr >= m->start && f->addr < m->end) {
		f->off = f->addr - m->start + m->off;
		f->found = true;
		return 1;
	}
	return 0;
}

/* The offset elfsym gives for one of our own functions is where the kernel
 * mapped it from. */
static void test_elfsym_self(void **state)
{
	struct find_map f = { .addr = (uint64_t)(uintptr_t)&elfsym_offset };
	char err[256];
	uint64_t off = 0;

	(void)state;
	assert_int_equal(procscan_maps("/proc", getpid(), find_exec, &f), 1);
	assert_true(f.found);
	assert_int_equal(elfsym_offset("/proc/self/exe", "elfsym_offset", &off, err, sizeof(err)),
			 0);
	assert_int_equal(off, f.off);
	assert_int_equal(elfsym_offset("/proc/self/exe", "no_such_function_here", &off, err,
				       sizeof(err)),
			 1);
	assert_non_null(strstr(err, "no function no_such_function_here"));
}

static void test_elfsym_errors(void **state)
{
	char err[256], path[] = "/tmp/cs-elfsym.XXXXXX";
	uint64_t off;
	int fd;

	(void)state;
	assert_int_equal(elfsym_offset("/nonexistent/lib.so", "x", &off, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/lib.so"));
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "not an ELF file\n", 16), 16);
	close(fd);
	assert_int_equal(elfsym_offset(path, "x", &off, err, sizeof(err)), -ENOEXEC);
	assert_non_null(strstr(err, "not an ELF file"));
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_map),
		cmocka_unit_test(test_parse_tcp),
		cmocka_unit_test(test_kdev_pid),
		cmocka_unit_test_setup_teardown(test_listeners, setup_proc, teardown_proc),
		cmocka_unit_test_setup_teardown(test_maps, setup_proc, teardown_proc),
		cmocka_unit_test(test_listeners_kernel),
		cmocka_unit_test_setup_teardown(test_memo, setup_memo, teardown_proc),
		cmocka_unit_test(test_elfsym_self),
		cmocka_unit_test(test_elfsym_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
