/* uprobe.c - the local TLS server as a source: loads bpf/uprobe.bpf.c, finds the servers (and follows them), attaches per file, reads the ring. */
#include <errno.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/capability.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "clock.h"
#include "elfsym.h"
#include "encports.h"
#include "privdrop.h"
#include "procscan.h"
#include "uprobe.h"
#include "uprobe.skel.h"

#define PROC	     "/proc"
#define GO_CACHE_MAX 256 /* executables looked at for the Go symbol */

enum att_kind { ATT_I2D, ATT_GO };

/* One file with uprobes: libcrypto (or a static binary) for i2d_X509, or a
 * Go executable for writeKeyLog. Identified by the kernel's (dev, ino). */
struct att {
	bool used;
	enum att_kind kind;
	bool named; /* from --uprobe-path: kept until close */
	bool told;  /* a failure to attach was said (verbose) */
	uint64_t dev, ino;
	uint32_t gen;		  /* last scan that found a process using it */
	struct bpf_link *link[2]; /* entry, return (i2d only) */
};

/* What an executable said about the Go symbol (whether or not it has it). */
struct go_exe {
	uint64_t dev, ino;
	int64_t mtime;
	bool has;
};

struct uprobe {
	struct uprobe_bpf *skel;
	struct ring_buffer *rb;
	struct bpf_link *send_link;
	struct served *served;
	struct uprobe_opts o;
	uint32_t gen;
	uint64_t next_scan_ns;
	struct att att[UPROBE_FILES_MAX];
	struct go_exe go[GO_CACHE_MAX];
	uint32_t go_next;
	struct cs_up_file named_ssl[UPROBE_PATHS_MAX]; /* named files that are their own callers */
	int n_named_ssl;
	struct inode_set listen;
	struct procscan_memo memo; /* processes that held no listener */
	struct uprobe_cbs cb;
	struct encports go_told, go_seen; /* Go servers' ports: told, this scan's */
	bool named_go;			  /* a --uprobe-path with the Go symbol */
	bool frozen;			  /* uprobe_freeze: no more attaching */
	int handled;
	uint64_t c[UPROBE_C_MAX]; /* this file's part of it */
};

static const char *const kernel_names[CS_UP_C_MAX] = {
	[CS_UP_C_CALLS] = "kernel_i2d_calls_total",
	[CS_UP_C_FILTERED] = "kernel_i2d_filtered_total",
	[CS_UP_C_VMA] = "kernel_i2d_vma_lookups_total",
	[CS_UP_C_CERTS] = "kernel_certificates_total",
	[CS_UP_C_BYTES] = "kernel_certificate_bytes_total",
	[CS_UP_C_OVERSIZE] = "kernel_certificates_oversize_total",
	[CS_UP_C_SKIPPED] = "kernel_certificates_past_chain_max_total",
	[CS_UP_C_CHAINS] = "kernel_chains_total",
	[CS_UP_C_RESTARTS] = "kernel_chains_restarted_total",
	[CS_UP_C_BINDS] = "kernel_binds_total",
	[CS_UP_C_NOT_TCP] = "kernel_sends_not_tcp_total",
	[CS_UP_C_STALE] = "kernel_chains_stale_total",
	[CS_UP_C_SECRETS] = "kernel_go_secrets_total",
	[CS_UP_C_BAD_SECRET] = "kernel_go_secrets_bad_total",
	[CS_UP_C_RECORDS] = "kernel_ring_records_total",
	[CS_UP_C_RB_FAIL] = "kernel_ringbuf_drops_total",
	[CS_UP_C_READ_FAIL] = "kernel_user_read_failures_total",
	[CS_UP_C_MAP_FULL] = "kernel_map_full_total",
};

static const char *const own_names[UPROBE_C_MAX - UPROBE_C_RESCANS] = {
	[UPROBE_C_RESCANS - UPROBE_C_RESCANS] = "rescans_total",
	[UPROBE_C_PROCESSES - UPROBE_C_RESCANS] = "processes",
	[UPROBE_C_FILES - UPROBE_C_RESCANS] = "files_attached",
	[UPROBE_C_ATTACHED - UPROBE_C_RESCANS] = "attach_total",
	[UPROBE_C_DETACHED - UPROBE_C_RESCANS] = "detach_total",
	[UPROBE_C_ATTACH_FAIL - UPROBE_C_RESCANS] = "attach_failures_total",
	[UPROBE_C_GONE - UPROBE_C_RESCANS] = "ended_state_removed_total",
	[UPROBE_C_PENDING - UPROBE_C_RESCANS] = "kernel_threads_pending",
	[UPROBE_C_GO_PORTS - UPROBE_C_RESCANS] = "go_server_ports",
	[UPROBE_C_GO_PORTS_FULL - UPROBE_C_RESCANS] = "go_server_ports_left_out_total",
	[UPROBE_C_SYSTEM_SSL - UPROBE_C_RESCANS] = "system_libssl_attached",
};

const char *uprobe_counter_name(int i)
{
	if (i >= 0 && i < CS_UP_C_MAX)
		return kernel_names[i];
	if (i >= CS_UP_C_MAX && i < CS_UP_C_MAX + SERVED_C_MAX)
		return served_counter_name(i - CS_UP_C_MAX);
	if (i >= UPROBE_C_RESCANS && i < UPROBE_C_MAX)
		return own_names[i - UPROBE_C_RESCANS];
	return "unknown";
}

static int print_verbose(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	return vfprintf(stderr, fmt, ap);
}

static uint64_t kdev_of(dev_t d)
{
	return procscan_kdev(major(d), minor(d));
}

/* ---- attaching ---- */

static struct att *att_find(struct uprobe *u, enum att_kind kind, uint64_t dev, uint64_t ino)
{
	int i;

	for (i = 0; i < UPROBE_FILES_MAX; i++)
		if (u->att[i].used && u->att[i].kind == kind && u->att[i].dev == dev &&
		    u->att[i].ino == ino)
			return &u->att[i];
	return NULL;
}

static void att_free(struct uprobe *u, struct att *a)
{
	bpf_link__destroy(a->link[0]);
	bpf_link__destroy(a->link[1]);
	if (a->link[0])
		u->c[UPROBE_C_FILES]--;
	memset(a, 0, sizeof(*a));
}

static struct bpf_link *attach_at(struct bpf_program *prog, const char *path, uint64_t off,
				  bool ret)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uo, .retprobe = ret);

	return bpf_program__attach_uprobe_opts(prog, -1, path, off, &uo);
}

static const char *const symbols[] = { [ATT_I2D] = "i2d_X509", [ATT_GO] = UPROBE_GO_SYMBOL };

/* Attaches kind's probes to the file at path, once per file (dev, ino).
 * The record is kept even if the file cannot be attached, so that a bad
 * file is not tried again at every scan. NULL only when the table is full. */
static struct att *ensure(struct uprobe *u, enum att_kind kind, const char *path, uint64_t dev,
			  uint64_t ino, char *err, size_t errlen)
{
	struct att *a = att_find(u, kind, dev, ino);
	uint64_t off;
	int i;

	if (a) {
		a->gen = u->gen;
		return a;
	}
	for (i = 0; i < UPROBE_FILES_MAX && u->att[i].used; i++)
		;
	if (i == UPROBE_FILES_MAX) {
		snprintf(err, errlen, "%s: more than %d files to attach to", path,
			 UPROBE_FILES_MAX);
		u->c[UPROBE_C_ATTACH_FAIL]++;
		return NULL;
	}
	a = &u->att[i];
	a->used = true;
	a->kind = kind;
	a->dev = dev;
	a->ino = ino;
	a->gen = u->gen;
	if (elfsym_offset(path, symbols[kind], &off, err, errlen)) {
		u->c[UPROBE_C_ATTACH_FAIL]++;
		return a;
	}
	if (kind == ATT_I2D) {
		a->link[0] = attach_at(u->skel->progs.up_i2d_entry, path, off, false);
		if (a->link[0])
			a->link[1] = attach_at(u->skel->progs.up_i2d_return, path, off, true);
		if (!a->link[1]) {
			bpf_link__destroy(a->link[0]);
			a->link[0] = NULL;
		}
	} else {
		a->link[0] = attach_at(u->skel->progs.up_go_keylog, path, off, false);
	}
	if (!a->link[0]) {
		snprintf(err, errlen, "%s: attaching a uprobe at %s (offset %#" PRIx64 "): %s",
			 path, symbols[kind], off, strerror(errno));
		u->c[UPROBE_C_ATTACH_FAIL]++;
		return a;
	}
	u->c[UPROBE_C_ATTACHED]++;
	u->c[UPROBE_C_FILES]++;
	return a;
}

/* any: every process mapping the file counts (see CS_UP_FILE_ANY). */
static void add_ssl_file(struct uprobe *u, uint64_t dev, uint64_t ino, bool any)
{
	struct cs_up_file f = { .dev = dev, .ino = ino };
	__u8 flags = any ? CS_UP_FILE_ANY : 0, old;

	if (!bpf_map__lookup_elem(u->skel->maps.ssl_files, &f, sizeof(f), &old, sizeof(old), 0))
		flags |= old;
	bpf_map__update_elem(u->skel->maps.ssl_files, &f, sizeof(f), &flags, sizeof(flags),
			     BPF_ANY);
}

/* ---- one process ---- */

struct pscan {
	struct uprobe *u;
	pid_t pid;
	struct cs_up_range ssl; /* OpenSSL's callers: libssl's text */
	struct cs_up_file ssl_file;
	char crypto_path[PROCSCAN_PATH_MAX];
	char crypto_mapped[PROCSCAN_PATH_MAX]; /* the path the maps line names */
	struct cs_up_file crypto_file;
};

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

static bool named_ssl(const struct uprobe *u, uint64_t dev, uint64_t ino)
{
	int i;

	for (i = 0; i < u->n_named_ssl; i++)
		if (u->named_ssl[i].dev == dev && u->named_ssl[i].ino == ino)
			return true;
	return false;
}

static int on_map(void *ctx, const struct proc_map *m)
{
	struct pscan *ps = ctx;
	const char *b = base_name(m->path);
	uint64_t dev = procscan_kdev(m->dev_major, m->dev_minor);

	if (m->path[0] != '/' || !m->ino)
		return 0;
	if (m->perms[2] == 'x' &&
	    (!strncmp(b, "libssl.so.3", 11) || named_ssl(ps->u, dev, m->ino))) {
		if (!ps->ssl.end) {
			ps->ssl.start = m->start;
			ps->ssl_file.dev = dev;
			ps->ssl_file.ino = m->ino;
		}
		if (ps->ssl_file.dev == dev && ps->ssl_file.ino == m->ino)
			ps->ssl.end = m->end;
	}
	if (!ps->crypto_path[0] && !strncmp(b, "libcrypto.so.3", 14)) {
		/* map_files names the very file mapped, even if replaced since. */
		snprintf(ps->crypto_path, sizeof(ps->crypto_path),
			 PROC "/%d/map_files/%" PRIx64 "-%" PRIx64, ps->pid, m->start, m->end);
		snprintf(ps->crypto_mapped, sizeof(ps->crypto_mapped), "%s", m->path);
		ps->crypto_file.dev = dev;
		ps->crypto_file.ino = m->ino;
	}
	return 0;
}

/* A file found through pid could not be attached: said once, when verbose. */
static void report(const struct uprobe *u, pid_t pid, struct att *a, const char *err)
{
	if (!u->o.verbose || (a && (a->link[0] || a->told)))
		return;
	fprintf(stderr, "uprobe: pid %d: %s\n", pid, err);
	if (a)
		a->told = true;
}

/* Does the executable of pid have the Go symbol? Remembered per file. */
static const struct go_exe *go_lookup(struct uprobe *u, const char *exe, const struct stat *st)
{
	uint64_t dev = kdev_of(st->st_dev);
	struct go_exe *g;
	char err[256];
	uint64_t off;
	uint32_t i;

	for (i = 0; i < GO_CACHE_MAX; i++) {
		g = &u->go[i];
		if (g->dev == dev && g->ino == (uint64_t)st->st_ino && g->mtime == st->st_mtime)
			return g;
	}
	g = &u->go[u->go_next++ % GO_CACHE_MAX];
	memset(g, 0, sizeof(*g));
	g->dev = dev;
	g->ino = st->st_ino;
	g->mtime = st->st_mtime;
	g->has = !elfsym_offset(exe, UPROBE_GO_SYMBOL, &off, err, sizeof(err));
	return g;
}

/* A Go server's listening ports: its connections need the flight copied. */
static void go_ports(struct uprobe *u, pid_t pid)
{
	uint16_t ports[CS_ENC_PORTS_MAX];
	size_t n = procscan_holds(PROC, pid, &u->listen, ports, CS_ENC_PORTS_MAX), i;

	if (n > CS_ENC_PORTS_MAX) {
		u->c[UPROBE_C_GO_PORTS_FULL] += n - CS_ENC_PORTS_MAX;
		n = CS_ENC_PORTS_MAX;
	}
	for (i = 0; i < n; i++)
		if (!encports_add(&u->go_seen, ports[i]))
			u->c[UPROBE_C_GO_PORTS_FULL]++;
}

static void scan_go(struct uprobe *u, pid_t pid)
{
	char exe[64], err[256];
	const struct go_exe *g;
	struct stat st;

	snprintf(exe, sizeof(exe), PROC "/%d/exe", pid);
	if (stat(exe, &st))
		return;
	g = go_lookup(u, exe, &st);
	if (!g->has)
		return;
	report(u, pid, ensure(u, ATT_GO, exe, g->dev, g->ino, err, sizeof(err)), err);
	go_ports(u, pid);
}

/* After a scan: the Go servers' ports, if they changed. */
static void go_ports_tell(struct uprobe *u)
{
	u->c[UPROBE_C_GO_PORTS] = u->go_seen.n;
	if (!memcmp(&u->go_told, &u->go_seen, sizeof(u->go_told)))
		return;
	u->go_told = u->go_seen;
	if (u->cb.on_go_ports)
		u->cb.on_go_ports(u->cb.ctx, &u->go_told);
}

static void scan_process(struct uprobe *u, pid_t pid)
{
	struct pscan ps = { .u = u, .pid = pid };
	char err[PROCSCAN_PATH_MAX + 128];
	__u32 tgid = pid;

	scan_go(u, pid);
	if (procscan_maps(PROC, pid, on_map, &ps) || !ps.ssl.end)
		return;
	u->c[UPROBE_C_PROCESSES]++;
	/* Without discovery only named processes and their children count. */
	add_ssl_file(u, ps.ssl_file.dev, ps.ssl_file.ino, !u->o.no_discover);
	bpf_map__update_elem(u->skel->maps.ssl_text, &tgid, sizeof(tgid), &ps.ssl, sizeof(ps.ssl),
			     BPF_ANY);
	if (ps.crypto_path[0]) /* else a static build: attached by --uprobe-path */
		report(u, pid,
		       ensure(u, ATT_I2D, ps.crypto_path, ps.crypto_file.dev, ps.crypto_file.ino,
			      err, sizeof(err)),
		       err);
}

/* The system's libssl.so.3 and libcrypto.so.3, found in our own mappings
 * (we link them; our own mount namespace: the path the maps name, since
 * map_files needs CAP_CHECKPOINT_RESTORE even for ourselves): every process
 * mapping that libssl counts, and the file stays attached while no server
 * uses it. */
static int add_system_ssl(struct uprobe *u, char *err, size_t errlen)
{
	struct pscan ps = { .u = u, .pid = getpid() };
	struct att *a;
	int ret = procscan_maps(PROC, ps.pid, on_map, &ps);

	if (ret || !ps.ssl.end || !ps.crypto_path[0]) {
		snprintf(err, errlen, "the system's libssl.so.3 and libcrypto.so.3: %s",
			 ret ? strerror(-ret) : "not mapped by this program");
		return -1;
	}
	a = ensure(u, ATT_I2D, ps.crypto_mapped, ps.crypto_file.dev, ps.crypto_file.ino, err,
		   errlen);
	if (!a || !a->link[0])
		return -1;
	a->named = true;
	add_ssl_file(u, ps.ssl_file.dev, ps.ssl_file.ino, true);
	u->c[UPROBE_C_SYSTEM_SSL] = 1;
	return 0;
}

/* ---- the scan ---- */

static bool named_pid(const struct uprobe *u, pid_t pid)
{
	int i;

	for (i = 0; i < u->o.n_pids; i++)
		if (u->o.pids[i] == pid)
			return true;
	return false;
}

static bool thread_alive(void *actx, uint32_t tgid, uint32_t tid)
{
	char path[64];

	(void)actx;
	snprintf(path, sizeof(path), PROC "/%u/task/%u", tgid, tid);
	return !access(path, F_OK);
}

static bool process_alive(uint32_t tgid)
{
	char path[32];

	snprintf(path, sizeof(path), PROC "/%u", tgid);
	return !access(path, F_OK);
}

/* The keys (__u32) of a hash map, at most max of them, in a new array. */
static __u32 *map_keys(struct bpf_map *m, uint32_t max, uint32_t *n)
{
	__u32 *k = calloc(max, sizeof(*k));

	*n = 0;
	if (!k)
		return NULL;
	while (*n < max && !bpf_map__get_next_key(m, *n ? &k[*n - 1] : NULL, &k[*n], sizeof(*k)))
		(*n)++;
	return k;
}

/* Kernel state of processes and threads that ended, and of chains never sent.
 * Ages are signed: a chain may start while we scan, after now was read. */
static void prune(struct uprobe *u, uint64_t now)
{
	struct bpf_map *m = u->skel->maps.ssl_text;
	struct cs_up_call call;
	struct cs_up_pending p;
	uint32_t n, i;
	__u32 *k = map_keys(m, CS_UP_TGIDS_MAX, &n);

	for (i = 0; k && i < n; i++)
		if (!process_alive(k[i]) && !bpf_map__delete_elem(m, &k[i], sizeof(*k), 0))
			u->c[UPROBE_C_GONE]++;
	free(k);
	/* i2d_X509 calls whose return never came (the thread ended inside). */
	m = u->skel->maps.calls;
	k = map_keys(m, CS_UP_THREADS_MAX, &n);
	for (i = 0; k && i < n; i++)
		if (!bpf_map__lookup_elem(m, &k[i], sizeof(*k), &call, sizeof(call), 0) &&
		    !thread_alive(NULL, call.tgid, k[i]) &&
		    !bpf_map__delete_elem(m, &k[i], sizeof(*k), 0))
			u->c[UPROBE_C_GONE]++;
	free(k);
	m = u->skel->maps.pending;
	k = map_keys(m, CS_UP_THREADS_MAX, &n);
	for (i = 0; k && i < n; i++)
		if (!bpf_map__lookup_elem(m, &k[i], sizeof(*k), &p, sizeof(p), 0) &&
		    ((int64_t)(now - p.ts_ns) > (int64_t)SERVED_TTL_NS ||
		     !thread_alive(NULL, p.tgid, k[i])) &&
		    !bpf_map__delete_elem(m, &k[i], sizeof(*k), 0)) {
			__sync_fetch_and_sub(&u->skel->bss->pending_n, 1);
			u->c[UPROBE_C_GONE]++;
		}
	free(k);
	served_expire(u->served, now, thread_alive, NULL);
}

int uprobe_rescan(struct uprobe *u)
{
	bool discover = !u->o.no_discover;
	struct dirent *de;
	DIR *d;
	int i, ret = 0;

	u->gen++;
	u->c[UPROBE_C_RESCANS]++;
	u->c[UPROBE_C_PROCESSES] = 0;
	encports_clear(&u->go_seen);
	if (discover) {
		ret = procscan_listeners(PROC, &u->listen);
		if (ret < 0)
			return ret;
		procscan_memo_begin(&u->memo, &u->listen);
	}
	d = opendir(PROC);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		pid_t pid = procscan_pid(de->d_name);

		if (pid && (named_pid(u, pid) ||
			    (discover && procscan_memo_holds(&u->memo, PROC, pid, &u->listen))))
			scan_process(u, pid);
	}
	closedir(d);
	go_ports_tell(u);
	for (i = 0; i < UPROBE_FILES_MAX; i++) {
		struct att *a = &u->att[i];

		if (a->used && !a->named && a->gen != u->gen) {
			if (a->link[0])
				u->c[UPROBE_C_DETACHED]++;
			att_free(u, a);
		}
	}
	prune(u, clock_ns(CLOCK_MONOTONIC));
	u->next_scan_ns = clock_ns(CLOCK_MONOTONIC) + (uint64_t)u->o.rescan_ms * 1000000;
	return 0;
}

/* ---- opening ---- */

static int add_path(struct uprobe *u, const char *path, char *err, size_t errlen)
{
	uint64_t off, dev;
	int has_i2d, has_go;
	struct stat st;
	struct att *a;

	if (stat(path, &st)) {
		snprintf(err, errlen, "--uprobe-path %s: %s", path, strerror(errno));
		return -1;
	}
	dev = kdev_of(st.st_dev);
	has_i2d = elfsym_offset(path, "i2d_X509", &off, err, errlen);
	if (has_i2d < 0)
		return -1;
	has_go = elfsym_offset(path, UPROBE_GO_SYMBOL, &off, err, errlen);
	if (has_i2d && has_go) {
		snprintf(err, errlen,
			 "--uprobe-path %s: neither OpenSSL's i2d_X509 nor Go's %s "
			 "is defined there",
			 path, UPROBE_GO_SYMBOL);
		return -1;
	}
	if (!has_i2d) {
		a = ensure(u, ATT_I2D, path, dev, st.st_ino, err, errlen);
		if (!a || !a->link[0])
			return -1;
		a->named = true;
		/* OpenSSL linked in statically: its own text holds the callers. */
		if (!elfsym_offset(path, "SSL_do_handshake", &off, err, errlen) &&
		    u->n_named_ssl < UPROBE_PATHS_MAX) {
			u->named_ssl[u->n_named_ssl].dev = dev;
			u->named_ssl[u->n_named_ssl++].ino = st.st_ino;
			add_ssl_file(u, dev, st.st_ino, true);
		}
	}
	if (!has_go) {
		a = ensure(u, ATT_GO, path, dev, st.st_ino, err, errlen);
		if (!a || !a->link[0])
			return -1;
		a->named = true;
		u->named_go = true;
	}
	return 0;
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct uprobe *u = ctx;

	u->handled++;
	served_record(u->served, data, size);
	return 0;
}

static int load(struct uprobe *u, char *err, size_t errlen)
{
	int ret;

	u->skel = uprobe_bpf__open();
	if (!u->skel) {
		snprintf(err, errlen, "opening the uprobe BPF object: %s", strerror(errno));
		return -1;
	}
	if (u->o.ring_bytes && bpf_map__set_max_entries(u->skel->maps.events, u->o.ring_bytes)) {
		snprintf(err, errlen,
			 "uprobe ring buffer size %u: not a power of two of at least "
			 "a page",
			 u->o.ring_bytes);
		return -1;
	}
	ret = uprobe_bpf__load(u->skel);
	if (ret) {
		snprintf(err, errlen, "loading the uprobe BPF program: %s%s", strerror(-ret),
			 u->o.verbose ? "" : " (verbose shows the verifier log)");
		return -1;
	}
	u->send_link = bpf_program__attach_trace(u->skel->progs.up_send);
	if (!u->send_link) {
		snprintf(err, errlen, "attaching tp_btf/sock_send_length: %s", strerror(errno));
		return -1;
	}
	u->rb = ring_buffer__new(bpf_map__fd(u->skel->maps.events), on_record, u, NULL);
	if (!u->rb) {
		snprintf(err, errlen, "uprobe ring buffer: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Root, or a service's ambient capabilities: CAP_BPF and CAP_PERFMON load,
 * CAP_SYS_ADMIN attaches (uprobe perf events are refused without it: EACCES
 * on 6.x); discovery reads other users' /proc entries: CAP_SYS_PTRACE,
 * CAP_DAC_READ_SEARCH, map_files CAP_SYS_ADMIN; without them it finds less. */
static bool may_load(void)
{
	return privdrop_has_caps(PRIVDROP_CAP(CAP_BPF) | PRIVDROP_CAP(CAP_PERFMON) |
				 PRIVDROP_CAP(CAP_SYS_ADMIN));
}

struct uprobe *uprobe_open(const struct uprobe_opts *o, const struct uprobe_cbs *cb, char *err,
			   size_t errlen)
{
	struct uprobe *u;
	int i;

	if (o->n_pids < 0 || o->n_pids > UPROBE_PIDS_MAX || o->n_paths < 0 ||
	    o->n_paths > UPROBE_PATHS_MAX) {
		snprintf(err, errlen, "at most %d --uprobe-pid and %d --uprobe-path",
			 UPROBE_PIDS_MAX, UPROBE_PATHS_MAX);
		return NULL;
	}
	if (!may_load()) {
		snprintf(err, errlen,
			 "need root (or CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN) to load uprobes");
		return NULL;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		snprintf(err, errlen,
			 "kernel has no BTF (/sys/kernel/btf/vmlinux missing): "
			 "needs CONFIG_DEBUG_INFO_BTF");
		return NULL;
	}
	for (i = 0; i < o->n_pids; i++) {
		if (o->pids[i] <= 0 || !process_alive(o->pids[i])) {
			snprintf(err, errlen, "--uprobe-pid %d: no such process", o->pids[i]);
			return NULL;
		}
	}
	u = calloc(1, sizeof(*u));
	if (!u) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	u->o = *o;
	u->cb = *cb;
	if (!u->o.rescan_ms)
		u->o.rescan_ms = UPROBE_RESCAN_MS;
	if (o->verbose)
		libbpf_set_print(print_verbose);
	u->served = served_new(cb, clock_real_minus_mono());
	if (!u->served) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (load(u, err, errlen))
		goto fail;
	for (i = 0; i < o->n_paths; i++)
		if (add_path(u, o->paths[i], err, errlen))
			goto fail;
	if (o->system_ssl && add_system_ssl(u, err, errlen))
		goto fail;
	i = uprobe_rescan(u);
	if (i) {
		snprintf(err, errlen, "scanning " PROC ": %s", strerror(-i));
		goto fail;
	}
	return u;
fail:
	uprobe_close(u);
	return NULL;
}

void uprobe_freeze(struct uprobe *u)
{
	u->frozen = true;
}

bool uprobe_go_ports_known(const struct uprobe *u)
{
	return !u->o.no_discover || (!u->named_go && !u->o.n_pids);
}

int uprobe_poll(struct uprobe *u, int timeout_ms)
{
	int ret;

	u->handled = 0;
	/* No record wakes the epoll (uprobe.bpf.c): with a wait, it returns
	 * early only if records wait already; without one, no syscall: the
	 * ring's positions say what waits. */
	ret = timeout_ms > 0 ? ring_buffer__poll(u->rb, timeout_ms) : 0;
	if (ret == 0)
		ret = ring_buffer__consume(u->rb);
	if ((uint64_t)clock_ns(CLOCK_MONOTONIC) >= u->next_scan_ns) {
		if (!u->frozen) {
			uprobe_rescan(u);
		} else {
			prune(u, clock_ns(CLOCK_MONOTONIC));
			u->next_scan_ns =
				clock_ns(CLOCK_MONOTONIC) + (uint64_t)u->o.rescan_ms * 1000000;
		}
	}
	if (ret < 0)
		return ret;
	return u->handled;
}

void uprobe_counters(struct uprobe *u, uint64_t out[UPROBE_C_MAX])
{
	int ncpu = libbpf_num_possible_cpus(), j;
	uint64_t *v;
	__u32 i;

	memcpy(out, u->c, sizeof(u->c));
	served_counters(u->served, out + CS_UP_C_MAX);
	out[UPROBE_C_PENDING] = *(volatile __u64 *)&u->skel->bss->pending_n;
	v = ncpu > 0 ? calloc(ncpu, sizeof(*v)) : NULL;
	if (!v)
		return;
	for (i = 0; i < CS_UP_C_MAX; i++) {
		out[i] = 0;
		if (bpf_map__lookup_elem(u->skel->maps.counters, &i, sizeof(i), v,
					 sizeof(*v) * ncpu, 0))
			continue;
		for (j = 0; j < ncpu; j++)
			out[i] += v[j];
	}
	free(v);
}

void uprobe_close(struct uprobe *u)
{
	int i;

	if (!u)
		return;
	for (i = 0; i < UPROBE_FILES_MAX; i++)
		if (u->att[i].used)
			att_free(u, &u->att[i]);
	bpf_link__destroy(u->send_link);
	ring_buffer__free(u->rb);
	uprobe_bpf__destroy(u->skel);
	served_free(u->served);
	procscan_set_free(&u->listen);
	procscan_memo_free(&u->memo);
	free(u);
}
