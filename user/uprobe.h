/* uprobe.h - the local TLS server as a source: uprobes in OpenSSL 3 servers (the chain each connection is served) and Go servers (their TLS secrets). */
#ifndef CS_UPROBE_SOURCE_H
#define CS_UPROBE_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/types.h>
#include "cs_uprobe.h"
#include "served.h"

#define UPROBE_PIDS_MAX	 64
#define UPROBE_PATHS_MAX 16
#define UPROBE_FILES_MAX 64 /* files with uprobes attached at once */
#define UPROBE_RESCAN_MS 2000
#define UPROBE_GO_SYMBOL "crypto/tls.(*Config).writeKeyLog"

struct uprobe_opts {
	/* --uprobe-pid: processes followed even without a listening socket. */
	pid_t pids[UPROBE_PIDS_MAX];
	int n_pids;
	/* --uprobe-path: files attached whatever runs them: a binary or
	 * library with OpenSSL's i2d_X509 (static builds, a private libcrypto)
	 * and/or Go's crypto/tls.(*Config).writeKeyLog. */
	const char *paths[UPROBE_PATHS_MAX];
	int n_paths;
	bool no_discover;    /* only what pids and paths name (and children of
				 * named processes, such as a server's workers) */
	bool system_ssl;     /* also the system's libssl.so.3 and libcrypto.so.3
				 * (as this program maps them), whether or not a
				 * server uses them yet; kept until close */
	uint32_t rescan_ms;  /* process rescan period; 0 = UPROBE_RESCAN_MS */
	uint32_t ring_bytes; /* 0 = CS_UP_RING_BYTES; a power of two >= page size */
	bool verbose;	     /* libbpf debug output */
};

/* Counters: the kernel's (enum cs_up_counter), then the assembler's (enum
 * served_counter), then these, in one index space. */
enum uprobe_counter {
	UPROBE_C_RESCANS = CS_UP_C_MAX + SERVED_C_MAX, /* process scans */
	UPROBE_C_PROCESSES,	/* gauge: processes with OpenSSL's callers found, last scan */
	UPROBE_C_FILES,		/* gauge: files with uprobes attached */
	UPROBE_C_ATTACHED,	/* files attached, in all */
	UPROBE_C_DETACHED,	/* files detached: no process of ours maps them any more */
	UPROBE_C_ATTACH_FAIL,	/* files that could not be attached */
	UPROBE_C_GONE,		/* per-process and per-thread kernel state of ended ones removed */
	UPROBE_C_PENDING,	/* gauge: threads the kernel holds a chain not yet sent for */
	UPROBE_C_GO_PORTS,	/* gauge: local ports Go servers listen on, last scan */
	UPROBE_C_GO_PORTS_FULL, /* Go servers' ports left out: over CS_ENC_PORTS_MAX */
	UPROBE_C_SYSTEM_SSL,	/* gauge: 1 if the system's libssl.so.3 is attached (system_ssl) */
	UPROBE_C_MAX
};

struct uprobe;

/* Loads the program, attaches tp_btf/sock_send_length, the paths given, and
 * (unless no_discover) whatever a first scan finds: processes with a
 * listening TCP socket (any network namespace) that map libssl.so.3 get
 * i2d_X509 probes on their libcrypto.so.3 (once per file), Go binaries with
 * the writeKeyLog symbol get that probe. NULL with a one-line reason in err
 * (not root, no BTF, a bad path or pid...); nothing stays attached then. */
struct uprobe *uprobe_open(const struct uprobe_opts *o, const struct uprobe_cbs *cb, char *err,
			   size_t errlen);
/* Does the source know every port of the Go servers it follows
 * (on_go_ports)? Not without discovery when --uprobe-path or --uprobe-pid
 * names what to follow: listening sockets are not read then. */
bool uprobe_go_ports_known(const struct uprobe *u);
/* Handles waiting records, calling back (no record wakes a sleeper:
 * timeout_ms ends early only if records wait already);
 * rescans the processes when the period has passed. Records handled, or
 * -errno (-EINTR on a signal). */
int uprobe_poll(struct uprobe *u, int timeout_ms);
/* Rescans now: new processes, ended ones, files no longer used. */
int uprobe_rescan(struct uprobe *u);
/* Before privileges are dropped: what is attached stays attached (a
 * uprobe on a file fires in every process that maps it, started later or
 * not, and the kernel finds a new process's libssl from its own mappings),
 * and the rescans stop attaching and detaching (reading other processes'
 * /proc entries needs the privileges); only ended processes' kernel state
 * is still removed. */
void uprobe_freeze(struct uprobe *u);
void uprobe_counters(struct uprobe *u, uint64_t out[UPROBE_C_MAX]);
const char *uprobe_counter_name(int i);
/* Detaches everything and frees; callbacks are not called any more. */
void uprobe_close(struct uprobe *u);

#endif
