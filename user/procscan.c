/* procscan.c - reads /proc: listening TCP sockets of every network namespace, the sockets a process holds, its mappings. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include "procscan.h"

#define TCP_LISTEN 0x0A

pid_t procscan_pid(const char *name)
{
	char *end;
	long v;

	if (name[0] < '1' || name[0] > '9')
		return 0;
	errno = 0;
	v = strtol(name, &end, 10);
	if (*end || errno || v <= 0 || v > INT32_MAX)
		return 0;
	return (pid_t)v;
}

uint64_t procscan_kdev(uint32_t major, uint32_t minor)
{
	return (uint64_t)major << 20 | (minor & 0xfffff);
}

int procscan_parse_map(char *line, struct proc_map *m)
{
	char *nl = strchr(line, '\n');
	int n = 0;

	if (nl)
		*nl = 0;
	memset(m, 0, sizeof(*m));
	if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %x:%x %" SCNu64 " %n", &m->start,
		   &m->end, m->perms, &m->off, &m->dev_major, &m->dev_minor, &m->ino, &n) != 7 ||
	    !n || m->end < m->start || strlen(m->perms) != 4)
		return -1;
	m->path = line + n;
	return 0;
}

int procscan_parse_tcp(const char *line, uint64_t *ino, uint16_t *port)
{
	unsigned st, lport;
	int n = 0;

	/* "  sl  local_address rem_address   st tx_queue..." heads the file. */
	if (strstr(line, "local_address"))
		return 0;
	if (sscanf(line,
		   " %*u: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x %*x:%*x %*x:%*x %*x %*u"
		   " %*u %" SCNu64 "%n",
		   &lport, &st, ino, &n) != 3 ||
	    !n || lport > 0xffff)
		return -1;
	*port = (uint16_t)lport;
	return st == TCP_LISTEN;
}

static int cmp_ino(const void *a, const void *b)
{
	uint64_t x = ((const struct listener *)a)->ino, y = ((const struct listener *)b)->ino;

	return x < y ? -1 : x > y;
}

static int set_add(struct inode_set *s, struct listener v)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		struct listener *nv;

		if (cap > PROCSCAN_INODES_MAX)
			cap = PROCSCAN_INODES_MAX;
		if (s->n == cap) {
			s->full = true;
			return 0;
		}
		nv = realloc(s->v, cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		s->v = nv;
		s->cap = cap;
	}
	s->v[s->n++] = v;
	return 0;
}

/*
 * The kernel lists its listening hash before the established one (tcp_get_idx:
 * listening_get_idx, then established_get_idx), so the first row in another
 * state ends the listeners: stop there. The rest is every connection of the
 * namespace, TIME_WAIT included, tens of thousands on a busy edge, and
 * generating it was most of certsentry's CPU at a rescan every 2 s.
 */
static int read_tcp(const char *path, struct inode_set *s)
{
	FILE *f = fopen(path, "re");
	char line[512];
	struct listener l;
	int ret = 0, r;
	bool head = true;

	if (!f)
		return errno == ENOENT ? 0 : -errno; /* no IPv6 in this kernel */
	while (!ret && fgets(line, sizeof(line), f)) {
		r = procscan_parse_tcp(line, &l.ino, &l.port);
		if (r == 1)
			ret = set_add(s, l);
		else if (r == 0 && !head)
			break;
		head = false;
	}
	fclose(f);
	return ret;
}

/* The inode number of a "type:[N]" link, or 0. */
static uint64_t link_inode(const char *path, const char *type)
{
	char buf[64], *end;
	size_t tl = strlen(type);
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);
	uint64_t v;

	if (n <= 0)
		return 0;
	buf[n] = 0;
	if (strncmp(buf, type, tl) || buf[tl] != ':' || buf[tl + 1] != '[')
		return 0;
	v = strtoull(buf + tl + 2, &end, 10);
	return *end == ']' && !end[1] ? v : 0;
}

/*
 * A namespace's listeners over sock_diag: asked for TCP_LISTEN alone, the
 * kernel walks its listening hash and stops (inet_diag_dump_icsk), where
 * /proc/PID/net/tcp steps past the last listener into the established hash,
 * whose every bucket (262,144 on a 24 GiB host, shared by all namespaces) it
 * reads to find the namespace's first connection: that walk, twice per
 * namespace (tcp, tcp6), was most of a rescan's CPU. 0, or -errno.
 */
static int diag_dump(int fd, int family, struct inode_set *s)
{
	struct {
		struct nlmsghdr nh;
		struct inet_diag_req_v2 r;
	} req = {
		.nh = { .nlmsg_len = sizeof(req),
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.r = { .sdiag_family = (uint8_t)family,
		       .sdiag_protocol = IPPROTO_TCP,
		       .idiag_states = 1u << TCP_LISTEN },
	};
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	long buf[8192 / sizeof(long)];
	struct listener l;
	int ret = 0;

	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h = (struct nlmsghdr *)buf;

		if (n < 0)
			return errno == EINTR ? -EINTR : -errno;
		for (; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			const struct inet_diag_msg *m = NLMSG_DATA(h);

			if (h->nlmsg_type == NLMSG_DONE)
				return ret;
			if (h->nlmsg_type == NLMSG_ERROR)
				return -EPROTO;
			if (ret || h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)) ||
			    m->idiag_state != TCP_LISTEN)
				continue; /* full: drain the dump all the same */
			l.ino = m->idiag_inode;
			l.port = ntohs(m->id.idiag_sport);
			ret = set_add(s, l);
		}
	}
}

/* A sock_diag socket in the namespace of nspath: entered for the call only
 * (this thread; self is our own, to come back to). -errno if it cannot be. */
static int diag_socket(const char *nspath, int self)
{
	int ns = open(nspath, O_RDONLY | O_CLOEXEC), fd, err;

	if (ns < 0)
		return -errno;
	if (setns(ns, CLONE_NEWNET)) {
		err = -errno;
		close(ns);
		return err;
	}
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	err = fd < 0 ? -errno : 0;
	close(ns);
	if (setns(self, CLONE_NEWNET)) {
		/* Cannot be: we hold our own namespace. Stay out of use. */
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	return fd < 0 ? err : fd;
}

/* The listeners of the namespace of pid (whose inode is ns; ours is
 * self_ns, entered by self_fd, -1 if it could not be opened): sock_diag
 * where the namespace can be entered, else its net/tcp files (a proc tree
 * that is not the kernel's, a namespace we may not enter). */
static int ns_listeners(const char *proc, pid_t pid, uint64_t ns, uint64_t self_ns, int self_fd,
			struct inode_set *s)
{
	char path[PROCSCAN_PATH_MAX];
	size_t n0 = s->n;
	bool full0 = s->full;
	int fd = -1, ret;

	if (ns == self_ns)
		fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	else if (self_fd >= 0) {
		snprintf(path, sizeof(path), "%s/%d/ns/net", proc, pid);
		fd = diag_socket(path, self_fd);
	}
	if (fd >= 0) {
		ret = diag_dump(fd, AF_INET, s);
		if (!ret)
			ret = diag_dump(fd, AF_INET6, s);
		close(fd);
		if (!ret)
			return 0;
		s->n = n0; /* what it gave may be part: read the files instead */
		s->full = full0;
	}
	snprintf(path, sizeof(path), "%s/%d/net/tcp", proc, pid);
	ret = read_tcp(path, s);
	snprintf(path, sizeof(path), "%s/%d/net/tcp6", proc, pid);
	if (!ret)
		ret = read_tcp(path, s);
	return ret;
}

int procscan_listeners(const char *proc, struct inode_set *set)
{
	uint64_t seen[PROCSCAN_NETNS_MAX];
	char path[PROCSCAN_PATH_MAX];
	int n_seen = 0, i, ret = 0, self_fd;
	uint64_t self_ns;
	struct dirent *de;
	DIR *d = opendir(proc);

	set->n = 0;
	set->full = false;
	if (!d)
		return -errno;
	self_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	self_ns = link_inode("/proc/thread-self/ns/net", "net");
	while (!ret && (de = readdir(d)) && n_seen < PROCSCAN_NETNS_MAX) {
		pid_t pid = procscan_pid(de->d_name);
		uint64_t ns;

		if (!pid)
			continue;
		snprintf(path, sizeof(path), "%s/%d/ns/net", proc, pid);
		ns = link_inode(path, "net");
		if (!ns)
			continue;
		for (i = 0; i < n_seen && seen[i] != ns; i++)
			;
		if (i < n_seen)
			continue;
		seen[n_seen++] = ns;
		ret = ns_listeners(proc, pid, ns, self_ns, self_fd, set);
	}
	closedir(d);
	if (self_fd >= 0)
		close(self_fd);
	if (ret)
		return ret;
	if (set->n)
		qsort(set->v, set->n, sizeof(*set->v), cmp_ino);
	return n_seen;
}

int procscan_listening_ports(const char *netdir, struct cs_port_set *ports)
{
	static const char *const files[] = { "tcp", "tcp6" };
	struct inode_set set = { 0 };
	char path[PROCSCAN_PATH_MAX];
	int n = 0;

	memset(ports, 0, sizeof(*ports));
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", netdir, files[i]);
		set.n = 0;
		if (read_tcp(path, &set))
			continue;
		for (size_t j = 0; j < set.n; j++)
			cs_port_set_add(ports, set.v[j].port);
		n += (int)set.n;
	}
	procscan_set_free(&set);
	return n;
}

void procscan_set_free(struct inode_set *set)
{
	free(set->v);
	memset(set, 0, sizeof(*set));
}

/* The listener the socket link at path is, or NULL. */
static const struct listener *link_listener(const char *path, const struct inode_set *set)
{
	struct listener key = { .ino = link_inode(path, "socket") };

	return key.ino ? bsearch(&key, set->v, set->n, sizeof(*set->v), cmp_ino) : NULL;
}

/* procscan_holds, and the first fd found holding one in *first (if any). */
static size_t holds(const char *proc, pid_t pid, const struct inode_set *set, uint16_t *ports,
		    size_t max, int *first)
{
	char path[PROCSCAN_PATH_MAX];
	const struct listener *l;
	struct dirent *de;
	size_t found = 0;
	DIR *d;

	if (!set->n)
		return 0;
	snprintf(path, sizeof(path), "%s/%d/fd", proc, pid);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%d/fd/%s", proc, pid, de->d_name);
		if (!(l = link_listener(path, set)))
			continue;
		if (!found)
			*first = atoi(de->d_name);
		if (found < max)
			ports[found] = l->port;
		if (++found >= max)
			break; /* all that was asked: (without ports) one is enough */
	}
	closedir(d);
	return found;
}

size_t procscan_holds(const char *proc, pid_t pid, const struct inode_set *set, uint16_t *ports,
		      size_t max)
{
	int first;

	return holds(proc, pid, set, ports, max, &first);
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = ((const struct pid_fds *)a)->pid, y = ((const struct pid_fds *)b)->pid;

	return x < y ? -1 : x > y;
}

/* Is an inode of set not among the last scan's (both sorted)? */
static bool listener_new(const struct procscan_memo *m, const struct inode_set *set)
{
	size_t i, j = 0;

	for (i = 0; i < set->n; i++) {
		while (j < m->n_ino && m->ino[j] < set->v[i].ino)
			j++;
		if (j == m->n_ino || m->ino[j] != set->v[i].ino)
			return true;
	}
	return false;
}

int procscan_memo_begin(struct procscan_memo *m, const struct inode_set *set)
{
	struct pid_fds *t = m->prev;
	size_t i;

	m->gen++;
	m->fresh = listener_new(m, set);
	m->prev = m->v;
	m->n_prev = m->n;
	m->v = t;
	m->n = 0;
	if (m->n_prev)
		qsort(m->prev, m->n_prev, sizeof(*m->prev), cmp_pid);
	if (set->n > m->cap_ino) {
		uint64_t *v = realloc(m->ino, set->n * sizeof(*v));

		if (!v) {
			m->n_ino = 0; /* every listener new next time */
			return -ENOMEM;
		}
		m->ino = v;
		m->cap_ino = set->n;
	}
	for (i = 0; i < set->n; i++)
		m->ino[i] = set->v[i].ino;
	m->n_ino = set->n;
	return 0;
}

/* Remembers pid's "no" for the next scan (not at all past the bound). */
static void memo_keep(struct procscan_memo *m, const struct pid_fds *e)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 256;
		struct pid_fds *a, *b;

		if (cap > PROCSCAN_MEMO_MAX)
			return;
		/* both arrays swap at each scan: the same size */
		a = realloc(m->v, cap * sizeof(*a));
		if (!a)
			return;
		m->v = a;
		b = realloc(m->prev, cap * sizeof(*b));
		if (!b)
			return;
		m->prev = b;
		m->cap = cap;
	}
	m->v[m->n++] = *e;
}

size_t procscan_memo_holds(struct procscan_memo *m, const char *proc, pid_t pid,
			   const struct inode_set *set)
{
	char path[PROCSCAN_PATH_MAX];
	struct pid_fds e = { .pid = pid, .gen = m->gen, .fd = -1 };
	const struct pid_fds *was;
	struct stat st;
	size_t n;

	if (!set->n)
		return 0;
	snprintf(path, sizeof(path), "%s/%d/fd", proc, pid);
	if (stat(path, &st))
		return 0; /* gone, or not ours to read: procscan_holds finds none either */
	e.ino = st.st_ino;
	e.size = (uint64_t)st.st_size;
	was = m->n_prev ? bsearch(&e, m->prev, m->n_prev, sizeof(*m->prev), cmp_pid) : NULL;
	if (was && was->fd >= 0 && was->ino == e.ino) {
		/* a holder: is the fd that held one still one? (a server's fd
		 * directory lists thousands of connections before we could stop) */
		snprintf(path, sizeof(path), "%s/%d/fd/%d", proc, pid, was->fd);
		if (link_listener(path, set)) {
			e.fd = was->fd;
			memo_keep(m, &e);
			return 1;
		}
	}
	if (was && was->fd < 0 && !m->fresh && e.size && was->ino == e.ino && was->size == e.size &&
	    m->gen - was->gen < PROCSCAN_MEMO_RECHECK) {
		e.gen = was->gen; /* trusted since that look */
		memo_keep(m, &e);
		return 0;
	}
	m->looked++;
	n = holds(proc, pid, set, NULL, 0, &e.fd);
	memo_keep(m, &e);
	return n;
}

void procscan_memo_free(struct procscan_memo *m)
{
	free(m->v);
	free(m->prev);
	free(m->ino);
	memset(m, 0, sizeof(*m));
}

int procscan_maps(const char *proc, pid_t pid, int (*fn)(void *ctx, const struct proc_map *m),
		  void *ctx)
{
	char path[PROCSCAN_PATH_MAX], *line = NULL;
	size_t cap = 0;
	struct proc_map m;
	int ret = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%d/maps", proc, pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (!ret && getline(&line, &cap, f) > 0)
		if (!procscan_parse_map(line, &m))
			ret = fn(ctx, &m);
	free(line);
	fclose(f);
	return ret;
}
