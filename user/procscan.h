/* procscan.h - what /proc says about processes: listening TCP sockets in every network namespace, open sockets, mappings. */
#ifndef CS_PROCSCAN_H
#define CS_PROCSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/types.h>
#include "certsentry.h"

#define PROCSCAN_INODES_MAX 65536 /* listening sockets remembered per scan */
#define PROCSCAN_NETNS_MAX  1024  /* network namespaces read per scan */
#define PROCSCAN_PATH_MAX   512

/* One line of /proc/PID/maps. path points into the line (may be ""). */
struct proc_map {
	uint64_t start, end, off;
	uint32_t dev_major, dev_minor;
	uint64_t ino;
	char perms[5];
	const char *path;
};

/* Parses "start-end perms off maj:min ino [path]"; 0 or -1. The line's
 * newline, if any, is cut. */
int procscan_parse_map(char *line, struct proc_map *m);
/* A /proc/net/tcp{,6} line: 1 if it is a listening socket (state 0A), with
 * its inode and local port; 0 for any other socket (or the header); -1 if
 * malformed. */
int procscan_parse_tcp(const char *line, uint64_t *ino, uint16_t *port);
/* The kernel's dev_t for a maps line's major:minor (as struct cs_up_file). */
uint64_t procscan_kdev(uint32_t major, uint32_t minor);

/* A listening socket. */
struct listener {
	uint64_t ino;
	uint16_t port;
};

/* Listening sockets, sorted by inode. */
struct inode_set {
	struct listener *v;
	size_t n, cap;
	bool full; /* PROCSCAN_INODES_MAX reached: some were left out */
};

/* Fills set with the inodes of listening TCP sockets (IPv4 and IPv6) of
 * every network namespace some process under proc (normally "/proc") is
 * in: over sock_diag where the namespace can be entered (ours; others with
 * CAP_SYS_ADMIN), else from its net/tcp{,6}. Returns namespaces read, or
 * -errno. */
int procscan_listeners(const char *proc, struct inode_set *set);
void procscan_set_free(struct inode_set *set);
/* The ports TCP sockets listen on in the namespace whose net directory is
 * netdir ("/proc/self/net": our own; readable without privileges): ports
 * cleared, then one bit each (a fixed 8 KiB, however many sockets). Returns
 * the listening sockets read (a file that cannot be read adds none). */
int procscan_listening_ports(const char *netdir, struct cs_port_set *ports);
/* How many open sockets of process pid have their inode in set (0: none),
 * counting up to max (at least 1): their ports go to ports (NULL if max is
 * 0: is there one?). */
size_t procscan_holds(const char *proc, pid_t pid, const struct inode_set *set, uint16_t *ports,
		      size_t max);
/*
 * procscan_holds for every process at every rescan readlinks each fd of each
 * process. The memo keeps, per pid, the scan's "holds no listener" with what
 * its fd directory said then (its inode, new with each process; its size,
 * the count of open fds since Linux 6.2): a process is looked at again when
 * either changed, when a listener appeared that was not there before (a new
 * server: every process is looked at), or PROCSCAN_MEMO_RECHECK scans on (a
 * listener passed in as another fd closed, the count unchanged). A size of
 * 0 (older kernels) is never trusted. A holder is asked about the fd it
 * held one at first: still a listener, it holds one (exact, one readlink).
 */
#define PROCSCAN_MEMO_MAX     65536 /* processes remembered */
#define PROCSCAN_MEMO_RECHECK 16    /* scans a "no" is trusted for */

struct pid_fds {
	pid_t pid;
	int fd;	      /* the first fd found holding a listener, -1: none */
	uint32_t gen; /* scan that looked */
	uint64_t ino, size;
};

struct procscan_memo {
	struct pid_fds *v, *prev; /* this scan's, the last one's (sorted by pid) */
	size_t n, n_prev, cap;
	uint64_t *ino; /* the last scan's listeners (inodes, sorted) */
	size_t n_ino, cap_ino;
	uint32_t gen;
	bool fresh;	 /* a listener is new: every process is looked at */
	uint64_t looked; /* fd directories read (for tests) */
};

/* A new scan with these listeners (set, sorted as procscan_listeners made
 * it). -ENOMEM: the next scan looks at every process. */
int procscan_memo_begin(struct procscan_memo *m, const struct inode_set *set);
/* procscan_holds(proc, pid, set, NULL, 0), or 0 without looking where the
 * memo says pid cannot hold a listener it did not before, or 1 where the
 * fd that held one still does. */
size_t procscan_memo_holds(struct procscan_memo *m, const char *proc, pid_t pid,
			   const struct inode_set *set);
void procscan_memo_free(struct procscan_memo *m);

/* Calls fn for each line of pid's maps until fn returns non-zero (which is
 * returned); -errno if the file cannot be read. */
int procscan_maps(const char *proc, pid_t pid, int (*fn)(void *ctx, const struct proc_map *m),
		  void *ctx);
/* Is this a process (a numeric /proc entry)? 0 if not; else its pid. */
pid_t procscan_pid(const char *name);

#endif
