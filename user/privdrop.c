/* privdrop.c - after attach: the unprivileged user, no capabilities, the seccomp allow-list. */
#include <errno.h>
#include <grp.h>
#include <linux/bpf.h>
#include <linux/netlink.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>
#include "privdrop.h"

/*
 * A syscall outside the list fails with EPERM; nothing is killed. The
 * daemon is a monitor: dead, it is blind, and a hostile certificate that
 * could kill it on purpose would blind it again after every restart. The
 * list is written from what the main loop, list reloads, the output sinks,
 * /metrics, and libcurl's fetches do, but no one can prove every rare path
 * of glibc, OpenSSL or libcurl stays inside it: such a path should fail like
 * any I/O error (reported, counted), not take the capture down. Code that an
 * attacker made run gets EPERM for everything not listed (no exec, no
 * ptrace, no new sockets of other families, no BPF program load), which is
 * what the list is for.
 */
#define REFUSED SCMP_ACT_ERRNO(EPERM)

/* Plain allow: no argument is worth filtering. */
static const int allowed[] = {
	/* files: list reloads (open, read, stat, directories), the -o file
	 * (append, cut back a torn batch, reopen by name), inotify */
	SCMP_SYS(read),
	SCMP_SYS(readv),
	SCMP_SYS(pread64),
	SCMP_SYS(write),
	SCMP_SYS(writev),
	SCMP_SYS(pwrite64),
	SCMP_SYS(lseek),
	SCMP_SYS(close),
	SCMP_SYS(open),
	SCMP_SYS(openat),
	SCMP_SYS(stat),
	SCMP_SYS(fstat),
	SCMP_SYS(lstat),
	SCMP_SYS(newfstatat),
	SCMP_SYS(statx),
	SCMP_SYS(statfs),
	SCMP_SYS(fstatfs),
	SCMP_SYS(access),
	SCMP_SYS(faccessat),
	SCMP_SYS(faccessat2),
	SCMP_SYS(readlink),
	SCMP_SYS(readlinkat),
	SCMP_SYS(getdents64),
	SCMP_SYS(fcntl),
	SCMP_SYS(flock),
	SCMP_SYS(dup),
	SCMP_SYS(dup2),
	SCMP_SYS(dup3),
	SCMP_SYS(pipe2),
	SCMP_SYS(eventfd2),
	SCMP_SYS(ftruncate),
	SCMP_SYS(fsync),
	SCMP_SYS(fdatasync),
	SCMP_SYS(inotify_init1),
	SCMP_SYS(inotify_add_watch),
	SCMP_SYS(inotify_rm_watch),
	/* memory */
	SCMP_SYS(brk),
	SCMP_SYS(mmap),
	SCMP_SYS(munmap),
	SCMP_SYS(mremap),
	SCMP_SYS(mprotect),
	SCMP_SYS(madvise),
	/* waiting: the ring buffer's epoll, /metrics and libcurl's poll */
	SCMP_SYS(poll),
	SCMP_SYS(ppoll),
	SCMP_SYS(select),
	SCMP_SYS(pselect6),
	SCMP_SYS(epoll_create1),
	SCMP_SYS(epoll_ctl),
	SCMP_SYS(epoll_wait),
	SCMP_SYS(epoll_pwait),
	SCMP_SYS(epoll_pwait2),
	SCMP_SYS(clock_gettime),
	SCMP_SYS(clock_getres),
	SCMP_SYS(clock_nanosleep),
	SCMP_SYS(nanosleep),
	SCMP_SYS(gettimeofday),
	SCMP_SYS(time),
	/* signals (SIGHUP, SIGTERM; abort() raises with tgkill) */
	SCMP_SYS(rt_sigaction),
	SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigreturn),
	SCMP_SYS(sigaltstack),
	SCMP_SYS(restart_syscall),
	SCMP_SYS(tgkill),
	/* sockets already open and those libcurl, the resolver and syslog
	 * make (their families are filtered below) */
	SCMP_SYS(connect),
	SCMP_SYS(accept),
	SCMP_SYS(accept4),
	SCMP_SYS(shutdown),
	SCMP_SYS(sendto),
	SCMP_SYS(sendmsg),
	SCMP_SYS(sendmmsg),
	SCMP_SYS(recvfrom),
	SCMP_SYS(recvmsg),
	SCMP_SYS(recvmmsg),
	SCMP_SYS(getsockopt),
	SCMP_SYS(setsockopt),
	SCMP_SYS(getsockname),
	SCMP_SYS(getpeername),
	SCMP_SYS(bind),
	/* threads (libcurl's resolver, the CRL fetch worker) and the process */
	SCMP_SYS(clone),
	SCMP_SYS(clone3),
	SCMP_SYS(futex),
	SCMP_SYS(set_robust_list),
	SCMP_SYS(rseq),
	SCMP_SYS(set_tid_address),
	SCMP_SYS(sched_yield),
	SCMP_SYS(sched_getaffinity),
	SCMP_SYS(exit),
	SCMP_SYS(exit_group),
	SCMP_SYS(getpid),
	SCMP_SYS(gettid),
	SCMP_SYS(getppid),
	SCMP_SYS(getuid),
	SCMP_SYS(geteuid),
	SCMP_SYS(getgid),
	SCMP_SYS(getegid),
	SCMP_SYS(getresuid),
	SCMP_SYS(getresgid),
	SCMP_SYS(getgroups),
	SCMP_SYS(getrandom),
	SCMP_SYS(uname),
	SCMP_SYS(sysinfo),
	SCMP_SYS(getrlimit),
	SCMP_SYS(prlimit64),
	SCMP_SYS(getrusage),
	SCMP_SYS(capget),
};

/* Address families a socket may still be made in: syslog's local socket,
 * libcurl's connections; and netlink, route protocol only (below), for the
 * resolver's address dump (AI_ADDRCONFIG) and clsact's filters at exit. */
static const int families[] = { AF_UNIX, AF_INET, AF_INET6 };

/* ioctls: isatty() (TCGETS), the terminal's width, and what libcurl and
 * OpenSSL ask of sockets. Not TIOCSTI (typing into a terminal). */
static const unsigned long ioctls[] = { TCGETS, TIOCGWINSZ, FIONREAD, FIONBIO };

/* BPF on the maps this run already holds: the counters read, the
 * done_flows map written. Loading a program or making a map is not. */
static const int bpf_cmds[] = {
	BPF_MAP_LOOKUP_ELEM,  BPF_MAP_UPDATE_ELEM,  BPF_MAP_DELETE_ELEM,
	BPF_MAP_GET_NEXT_KEY, BPF_MAP_LOOKUP_BATCH, BPF_OBJ_GET_INFO_BY_FD,
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Allowed when argument arg equals val. */
static int allow_if(scmp_filter_ctx ctx, int sys, unsigned int arg, uint64_t val)
{
	const struct scmp_arg_cmp c = {
		.arg = arg,
		.op = SCMP_CMP_EQ,
		.datum_a = val,
		.datum_b = 0,
	};

	return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, sys, 1, &c);
}

static int build(scmp_filter_ctx ctx, bool clsact)
{
	const struct scmp_arg_cmp route[2] = {
		{ .arg = 0, .op = SCMP_CMP_EQ, .datum_a = AF_NETLINK, .datum_b = 0 },
		{ .arg = 2, .op = SCMP_CMP_EQ, .datum_a = NETLINK_ROUTE, .datum_b = 0 },
	};
	size_t i;
	int rc = 0;

	for (i = 0; i < N(allowed) && !rc; i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
	for (i = 0; i < N(families) && !rc; i++)
		rc = allow_if(ctx, SCMP_SYS(socket), 0, families[i]);
	for (i = 0; i < N(ioctls) && !rc; i++)
		rc = allow_if(ctx, SCMP_SYS(ioctl), 1, ioctls[i]);
	for (i = 0; i < N(bpf_cmds) && !rc; i++)
		rc = allow_if(ctx, SCMP_SYS(bpf), 0, bpf_cmds[i]);
	if (!rc)
		rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2, route);
	if (!rc)
		rc = allow_if(ctx, SCMP_SYS(socketpair), 0, AF_UNIX);
	/* clsact's exit: its lock is made in a directory that exists, and its
	 * qdisc marker removed (where the directory is the user's) */
	if (!rc && clsact)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mkdir), 0);
	if (!rc && clsact)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(unlink), 0);
	/* prctl: the dumpable flag and thread names only (glibc, OpenSSL) */
	if (!rc)
		rc = allow_if(ctx, SCMP_SYS(prctl), 0, PR_GET_DUMPABLE);
	if (!rc)
		rc = allow_if(ctx, SCMP_SYS(prctl), 0, PR_SET_NAME);
	return rc;
}

int privdrop_seccomp(bool clsact)
{
	scmp_filter_ctx ctx = seccomp_init(REFUSED);
	int rc;

	if (!ctx)
		return -ENOMEM;
	/* no_new_privs comes with the filter (SCMP_FLTATR_CTL_NNP, the
	 * default); the daemon has one thread here, but say all. */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (!rc)
		rc = build(ctx, clsact);
	if (!rc)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	return rc;
}

/* The bounding set but keep, as far as CAP_SETPCAP allows (root has it; a
 * service started as its user has not, and its unit bounds the set instead).
 * Before the uid changes, which takes CAP_SETPCAP away. */
static void drop_bounding(uint64_t keep)
{
	for (int cap = 0; cap <= 63; cap++)
		if (!(keep & (1ULL << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) &&
		    errno == EINVAL)
			break; /* past the kernel's last capability */
}

/* Effective and permitted: keep (no more), inheritable and ambient empty. */
static int drop_caps(uint64_t keep)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		return -1;
	memset(d, 0, sizeof(d));
	d[0].effective = d[0].permitted = (uint32_t)keep;
	d[1].effective = d[1].permitted = (uint32_t)(keep >> 32);
	if (syscall(SYS_capset, &h, d) || prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0))
		return -1;
	memset(d, 0xff, sizeof(d));
	if (syscall(SYS_capget, &h, d))
		return -1;
	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		if (d[i].effective != (uint32_t)(keep >> (32 * i)) ||
		    d[i].permitted != (uint32_t)(keep >> (32 * i)) || d[i].inheritable)
			return -1;
	return 0;
}

static int become(const struct passwd *pw, char *msg, size_t msglen)
{
	uid_t r, e, s;
	gid_t rg, eg, sg;

	/* Groups first: changing them needs CAP_SETGID, gone with the uid. */
	if (setgroups(0, NULL) || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid)) {
		snprintf(msg, msglen, "cannot become user %s (uid %u): %s", pw->pw_name,
			 (unsigned)pw->pw_uid, strerror(errno));
		return -1;
	}
	if (getresuid(&r, &e, &s) || getresgid(&rg, &eg, &sg) || r != pw->pw_uid ||
	    e != pw->pw_uid || s != pw->pw_uid || rg != pw->pw_gid || eg != pw->pw_gid ||
	    sg != pw->pw_gid || getgroups(0, NULL) != 0) {
		snprintf(msg, msglen, "user %s: uid, gid or groups did not change", pw->pw_name);
		return -1;
	}
	return 0;
}

/* Hidden --seccomp-selftest: SIGUSR2 makes one call the list refuses and
 * says on stderr what came back. unshare(0) changes nothing and succeeds
 * for anyone, so EPERM here can only be the filter's answer. */
static void selftest(int sig)
{
	static const char yes[] = "certsentry: seccomp selftest: unshare(0) refused: EPERM\n";
	static const char no[] = "certsentry: seccomp selftest: unshare(0) allowed\n";
	static const char other[] = "certsentry: seccomp selftest: unshare(0) failed otherwise\n";
	int saved = errno;
	long rc = syscall(SYS_unshare, 0);
	const char *m = !rc ? no : errno == EPERM ? yes : other;

	(void)sig;
	if (write(STDERR_FILENO, m, strlen(m)) < 0) {
		/* stderr gone: nowhere to say it */
	}
	errno = saved;
}

int privdrop_apply(const struct privdrop_opts *o, char *msg, size_t msglen)
{
	const char *name = o->user ? o->user : PRIVDROP_DEFAULT_USER;
	/* clsact filters are removed at exit over netlink: that takes
	 * CAP_NET_ADMIN (a tcx link goes with its fd, and needs nothing) */
	const uint64_t keep = o->clsact ? 1ULL << CAP_NET_ADMIN : 0;
	struct passwd *pw;
	int rc;

	if (o->selftest)
		signal(SIGUSR2, selftest);
	if (o->no_drop) {
		snprintf(msg, msglen, "privileges kept (--no-drop)");
		return 0;
	}
	errno = 0;
	pw = getpwnam(name); /* before the filter: NSS reads its files */
	if (!pw) {
		snprintf(msg, msglen, "user %s does not exist%s", name,
			 o->user ? "" : ": privileges kept (--user NAME to drop them)");
		return o->user ? -1 : 0;
	}
	if (pw->pw_uid == 0) {
		snprintf(msg, msglen, "--user %s is root: nothing to drop to", name);
		return -1;
	}
	drop_bounding(keep);
	/* the permitted set survives the uid change only if asked to */
	if (keep && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0)) {
		snprintf(msg, msglen, "keepcaps: %s", strerror(errno));
		return -1;
	}
	if (become(pw, msg, msglen))
		return -1;
	if (drop_caps(keep)) {
		snprintf(msg, msglen, "capabilities could not all be dropped: %s", strerror(errno));
		return -1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		snprintf(msg, msglen, "no_new_privs: %s", strerror(errno));
		return -1;
	}
	if ((rc = privdrop_seccomp(o->clsact))) {
		snprintf(msg, msglen, "seccomp: %s", strerror(-rc));
		return -1;
	}
	snprintf(msg, msglen, "running as %s (uid %u, gid %u), %s, seccomp allow-list", pw->pw_name,
		 (unsigned)pw->pw_uid, (unsigned)pw->pw_gid,
		 keep ? "only CAP_NET_ADMIN kept (to remove the clsact filters at exit)" :
			"no capabilities");
	return 0;
}

bool privdrop_has_caps(uint64_t want)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	uint64_t eff;

	if (geteuid() == 0)
		return true;
	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d))
		return false;
	eff = (uint64_t)d[1].effective << 32 | d[0].effective;
	return (eff & want) == want;
}
