/* clsact.c - clsact filters of instances side by side: slots, stale filters, the shared qdisc. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "certsentry.h"
#include "clsact.h"

#define PROG_PREFIX  "cs_tc" /* cs_tc, cs_tc_l3: ours to sweep */
#define NL_BUF	     16384
#define LOCK_WAIT_MS 5000 /* tc.lock is held for a few netlink calls */
#define LOCK_POLL_MS 10

static const char *netns_name(void);

void clsact_init(struct clsact *c)
{
	c->lock_fd = -1;
	c->slot = -1;
	c->slot_fd = -1;
	netns_name(); /* now, before a seccomp filter may refuse the socket */
}

/* CLSACT_RUN_DIR/name, opened (created if create); -1 with errno set. */
static int run_file(const char *name, bool create)
{
	char path[128];
	int fd;

	if (create && mkdir(CLSACT_RUN_DIR, 0755) && errno != EEXIST)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", CLSACT_RUN_DIR, name);
	fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
	/* After the privilege drop (privdrop.h) a file root made can still be
	 * flock'ed, read-only. */
	if (fd < 0 && errno == EACCES)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd;
}

/* Bounded: an instance stopped (SIGSTOP) while holding the lock must not
 * keep the others from starting or stopping. */
void clsact_lock(struct clsact *c)
{
	int waited;

	if (c->lock_fd >= 0)
		return;
	c->lock_fd = run_file("tc.lock", true);
	if (c->lock_fd < 0)
		return;
	for (waited = 0; flock(c->lock_fd, LOCK_EX | LOCK_NB); waited += LOCK_POLL_MS) {
		if ((errno != EWOULDBLOCK && errno != EINTR) || waited >= LOCK_WAIT_MS) {
			fprintf(stderr, "certsentry: %s/tc.lock: %s; going on without it\n",
				CLSACT_RUN_DIR,
				errno == EWOULDBLOCK ? "held too long" : strerror(errno));
			clsact_unlock(c);
			return;
		}
		usleep(LOCK_POLL_MS * 1000);
	}
}

void clsact_unlock(struct clsact *c)
{
	if (c->lock_fd < 0)
		return;
	close(c->lock_fd); /* and with it the lock */
	c->lock_fd = -1;
}

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

/* This network namespace's name in CLSACT_RUN_DIR: filters, qdiscs and
 * interface numbers are per namespace, and so are the files that say whose
 * they are. Its cookie (5.14+), not its inode: the kernel reuses inode
 * numbers, so a dead namespace's qdisc marker would pass to a new one and
 * a start there would delete a qdisc certsentry did not make. Cookies are
 * never reused while the system runs, and /run goes with it. */
static char netns_id[24];

static const char *netns_name(void)
{
	uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);
	struct stat st;
	int fd;

	if (netns_id[0])
		return netns_id;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && !getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) &&
	    len == sizeof(cookie))
		snprintf(netns_id, sizeof(netns_id), "c%llu", (unsigned long long)cookie);
	else
		snprintf(netns_id, sizeof(netns_id), "%lu",
			 stat("/proc/self/ns/net", &st) ? 0UL : (unsigned long)st.st_ino);
	if (fd >= 0)
		close(fd);
	return netns_id;
}

/* A slot's file: per namespace, or an instance in another namespace holding
 * slot N would keep this one's sweep from removing a dead slot-N filter. */
static void slot_name(int slot, char *buf, size_t len)
{
	snprintf(buf, len, "slot.%s.%d", netns_name(), slot);
}

/* The slot's file, locked, or -1: held by a live instance, or absent and
 * not to be created. */
static int slot_lock(int slot, bool create)
{
	char name[48];
	int fd, e;

	slot_name(slot, name, sizeof(name));
	fd = run_file(name, create);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static void hook_init(struct bpf_tc_hook *h, int ifindex, bool egress)
{
	memset(h, 0, sizeof(*h));
	h->sz = sizeof(*h);
	h->ifindex = ifindex;
	h->attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS;
}

static void opts_init(struct bpf_tc_opts *o, int slot, int prog_fd)
{
	memset(o, 0, sizeof(*o));
	o->sz = sizeof(*o);
	o->handle = CS_TC_HANDLE + slot;
	o->priority = CS_TC_PRIO + slot;
	o->prog_fd = prog_fd;
}

/* Is program id one of ours (by name)? */
static bool prog_is_ours(__u32 id)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);
	bool ours;

	if (fd < 0)
		return false;
	memset(&info, 0, sizeof(info));
	ours = !bpf_obj_get_info_by_fd(fd, &info, &len) &&
	       !strncmp(info.name, PROG_PREFIX, strlen(PROG_PREFIX));
	close(fd);
	return ours;
}

/* Removes slot's filters from ifindex, if they run a program of ours. */
static void remove_slot_filters(int slot, int ifindex, const char *ifname)
{
	struct bpf_tc_hook h;
	struct bpf_tc_opts o;

	for (int egress = 0; egress < 2; egress++) {
		hook_init(&h, ifindex, egress);
		opts_init(&o, slot, 0);
		if (bpf_tc_query(&h, &o) || !prog_is_ours(o.prog_id))
			continue;
		opts_init(&o, slot, 0);
		if (!bpf_tc_detach(&h, &o))
			fprintf(stderr,
				"certsentry: removed a stale filter (priority %#x) from %s %s\n",
				CS_TC_PRIO + slot, ifname, egress ? "egress" : "ingress");
	}
}

/* Filters on one clsact hook of ifindex, by a netlink dump; -1 if unknown
 * (no qdisc, or netlink said no). */
static int filter_count(int ifindex, bool egress)
{
	struct {
		struct nlmsghdr n;
		struct tcmsg t;
	} req = {
		.n = {
			.nlmsg_len = NLMSG_LENGTH(sizeof(struct tcmsg)),
			.nlmsg_type = RTM_GETTFILTER,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
			.nlmsg_seq = 1,
		},
		.t = {
			.tcm_family = AF_UNSPEC,
			.tcm_ifindex = ifindex,
			.tcm_parent = TC_H_MAKE(TC_H_CLSACT,
						egress ? TC_H_MIN_EGRESS : TC_H_MIN_INGRESS),
		},
	};
	static char buf[NL_BUF] __attribute__((aligned(NLMSG_ALIGNTO)));
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), n = 0;

	if (fd < 0)
		return -1;
	if (send(fd, &req, req.n.nlmsg_len, 0) < 0)
		n = -1;
	while (n >= 0) {
		ssize_t len = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h = (struct nlmsghdr *)buf;

		if (len <= 0) {
			n = -1;
			break;
		}
		for (; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == NLMSG_DONE)
				goto out;
			if (h->nlmsg_type == NLMSG_ERROR) {
				n = -1;
				goto out;
			}
			if (h->nlmsg_type == RTM_NEWTFILTER)
				n++;
		}
	}
out:
	close(fd);
	return n;
}

/* The file saying certsentry created ifindex's clsact qdisc (in this
 * network namespace: ifindexes are per namespace). */
static void qdisc_marker(int ifindex, char *buf, size_t len)
{
	snprintf(buf, len, "qdisc.%s.%d", netns_name(), ifindex);
}

void clsact_put_qdisc(int ifindex)
{
	struct bpf_tc_hook h;
	char name[64], path[192];

	qdisc_marker(ifindex, name, sizeof(name));
	snprintf(path, sizeof(path), "%s/%s", CLSACT_RUN_DIR, name);
	if (access(path, F_OK))
		return; /* not ours to delete */
	if (filter_count(ifindex, false) != 0 || filter_count(ifindex, true) != 0)
		return; /* someone's filters (or no qdisc) */
	hook_init(&h, ifindex, false);
	h.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
	bpf_tc_hook_destroy(&h);
	unlink(path);
}

void clsact_sweep(struct clsact *c, int ifindex, const char *ifname)
{
	for (int slot = 0; slot < CS_TC_SLOTS; slot++) {
		int fd;

		if (slot == c->slot)
			continue;
		/* Slot 0 is also where runs before slots put their filters. */
		fd = slot_lock(slot, slot == 0);
		if (fd < 0)
			continue;
		remove_slot_filters(slot, ifindex, ifname);
		close(fd);
	}
	clsact_put_qdisc(ifindex);
}

/* A free slot, held until exit: its file says whose it is. */
static int take_slot(struct clsact *c, char *err, size_t errlen)
{
	char pid[24], name[48];
	int n;

	if (c->slot >= 0)
		return 0;
	for (int slot = 0; slot < CS_TC_SLOTS; slot++) {
		int fd = slot_lock(slot, true);

		slot_name(slot, name, sizeof(name));
		if (fd < 0 && errno != EWOULDBLOCK) {
			snprintf(err, errlen, "clsact: %s/%s: %s", CLSACT_RUN_DIR, name,
				 strerror(errno));
			return -1;
		}
		if (fd < 0)
			continue;
		n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
		if (ftruncate(fd, 0) || pwrite(fd, pid, n, 0) != n)
			fprintf(stderr, "certsentry: %s/%s: %s\n", CLSACT_RUN_DIR, name,
				strerror(errno));
		c->slot = slot;
		c->slot_fd = fd;
		return 0;
	}
	snprintf(
		err, errlen,
		"clsact: all %d filter slots of this network namespace in %s are held by running instances",
		CS_TC_SLOTS, CLSACT_RUN_DIR);
	return -1;
}

/* Creates the qdisc if it is missing, and says certsentry did. */
static int make_qdisc(int ifindex, const char *ifname, char *err, size_t errlen)
{
	struct bpf_tc_hook h;
	char name[64];
	int ret, fd;

	hook_init(&h, ifindex, false);
	ret = bpf_tc_hook_create(&h);
	if (ret == -EEXIST)
		return 0;
	if (ret) {
		/* bpf_tc_* return -errno from netlink */
		snprintf(err, errlen, "%s: creating clsact qdisc: %s", ifname, strerror(-ret));
		return -1;
	}
	qdisc_marker(ifindex, name, sizeof(name));
	fd = run_file(name, true);
	if (fd >= 0)
		close(fd);
	return 0;
}

int clsact_attach(struct clsact *c, int ifindex, const char *ifname, bool egress, int prog_fd,
		  char *err, size_t errlen)
{
	struct bpf_tc_hook h;
	struct bpf_tc_opts o;
	int ret;

	if (take_slot(c, err, errlen) || make_qdisc(ifindex, ifname, err, errlen))
		return -1;
	hook_init(&h, ifindex, egress);
	opts_init(&o, c->slot, prog_fd);
	ret = bpf_tc_attach(&h, &o);
	if (ret) {
		snprintf(err, errlen, "%s: attaching %s filter (priority %#x): %s", ifname,
			 egress ? "egress" : "ingress", CS_TC_PRIO + c->slot, strerror(-ret));
		return -1;
	}
	return 0;
}

int clsact_detach(struct clsact *c, int ifindex, bool egress)
{
	struct bpf_tc_hook h;
	struct bpf_tc_opts o;

	if (c->slot < 0)
		return -1;
	hook_init(&h, ifindex, egress);
	opts_init(&o, c->slot, 0);
	return bpf_tc_detach(&h, &o);
}

void clsact_release(struct clsact *c)
{
	char name[48];

	/* No pid in a slot nobody holds. */
	if (c->slot_fd >= 0 && ftruncate(c->slot_fd, 0)) {
		slot_name(c->slot, name, sizeof(name));
		fprintf(stderr, "certsentry: %s/%s: %s\n", CLSACT_RUN_DIR, name, strerror(errno));
	}
	if (c->slot_fd >= 0)
		close(c->slot_fd);
	c->slot_fd = -1;
	c->slot = -1;
	clsact_unlock(c);
}
