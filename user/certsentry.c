/* certsentry.c - command line and main loop: capture -> flow -> output. */
#include <argp.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "capture.h"
#include "cert.h"
#include "checks.h"
#include "counters.h"
#include "dedup.h"
#include "events.h"
#include "flow.h"
#include "keylog.h"
#include "lists.h"
#include "metrics.h"
#include "output.h"
#include "pcap.h"
#include "uprobe.h"
#include "watch.h"

#define KEYLOG_FILES_MAX	8

static struct env {
	struct capture_opts cap;
	const char *read_file;
	const char *out_file;
	enum output_format format;
	uint32_t max_bytes;
	int64_t check_time;		/* FLOW_CHECK_* or a fixed Unix time */
	bool format_set;
	struct lists_opts lists;
	struct checks_opts checks;
	uint32_t summary_s;
	uint32_t stats_s;
	const char *metrics;
	const char *syslog;
	uint32_t max_conns, max_mem_mb;
	bool every;
	int list;			/* OPT_LIST_FINDINGS or OPT_LIST_EVENTS: print it, exit */
	bool copy_encrypted;		/* --copy-encrypted: tests only (a line per record) */
	const char *keylog_paths[KEYLOG_FILES_MAX];	/* --keylog */
	int n_keylog;
	int uprobe;			/* --uprobe 1, --no-uprobe 0, default -1: live, if allowed */
	struct uprobe_opts up;		/* --uprobe-pid, --uprobe-path */
} env = {
	.uprobe = -1,
	.stats_s = 60,
	.format = OUTPUT_JSON,
	.checks = { .warn_days = 14 },
	.summary_s = 60,
};

const char *argp_program_version = "certsentry 0.1";
const char *argp_program_bug_address = "<certsentry@localhost>";
static const char doc[] =
	"certsentry: passive TLS certificate observer.\n\n"
	"Watches the TLS handshakes crossing this host (eBPF on tc ingress and\n"
	"egress) or in a capture file, and writes one JSON line per server\n"
	"certificate chain seen.\n\n"
	"EXAMPLES:\n"
	"  certsentry -i eth0              watch eth0 (root)\n"
	"  certsentry -i eth0 -f text      human-readable lines\n"
	"  certsentry -r capture.pcap      replay a capture (no privileges)\n"
	"  certsentry -r old.pcap --check-time now   judge an old capture as of today\n";

enum {
	OPT_MAX_BYTES = 1000, OPT_CLSACT, OPT_CHECK_TIME, OPT_CA_FILE, OPT_CA_PATH, OPT_CRL,
	OPT_DENY, OPT_PINS, OPT_WARN_DAYS, OPT_IGNORE, OPT_SUMMARY, OPT_EVERY, OPT_RING,
	OPT_FLOWS, OPT_STATS, OPT_METRICS, OPT_CONNS, OPT_MEM, OPT_SYSLOG, OPT_LIST_FINDINGS,
	OPT_LIST_EVENTS, OPT_COPY_ENC, OPT_KEYLOG, OPT_UPROBE, OPT_NO_UPROBE, OPT_UPROBE_PID,
	OPT_UPROBE_PATH,
};

static const struct argp_option opts[] = {
	{ "interface", 'i', "IFACE", 0, "Interface to watch (repeatable; default: all up but lo)", 0 },
	{ "read", 'r', "FILE", 0, "Read a pcap/pcapng file (.gz too; - for stdin) instead", 0 },
	{ "format", 'f', "FMT", 0, "Output format: json (default) or text", 0 },
	{ "output", 'o', "FILE", 0, "Append output to FILE instead of stdout", 0 },
	{ "syslog", OPT_SYSLOG, "SOCKET", OPTION_ARG_OPTIONAL,
	  "Send each line to syslog instead (default socket /dev/log)", 0 },
	{ "max-bytes", OPT_MAX_BYTES, "N", 0, "Handshake bytes copied per direction (default 524288)", 0 },
	{ "check-time", OPT_CHECK_TIME, "WHEN", 0,
	  "Judge validity at: packet (default: the packet's capture time), now, "
	  "or a time like 2024-05-01T12:00:00Z", 0 },
	{ "ring-size", OPT_RING, "BYTES", 0, "Kernel ring buffer size, a power of two (default 16 MiB)", 0 },
	{ "max-flows", OPT_FLOWS, "N", 0, "Kernel flow table entries (default 65536)", 0 },
	{ "max-conns", OPT_CONNS, "N", 0, "Connections followed at once (default 65536)", 0 },
	{ "max-memory", OPT_MEM, "MB", 0,
	  "Bound on connection state; oldest evicted, counted (default 32)", 0 },
	{ "stats-interval", OPT_STATS, "S", 0,
	  "Write counters every S seconds, at once on ring-buffer drops (default 60)", 0 },
	{ "metrics", OPT_METRICS, "[ADDR:]PORT", 0,
	  "Serve Prometheus metrics on http://ADDR:PORT/metrics (live)", 0 },
	{ "clsact", OPT_CLSACT, NULL, 0, "Attach with a clsact filter even where tcx exists", 0 },
	{ "verbose", 'v', NULL, 0, "Print libbpf debug output", 0 },
	{ "list-findings", OPT_LIST_FINDINGS, NULL, 0,
	  "Print every finding code, its severity, needs and description (-f json: as JSON), and exit", 0 },
	{ "list-events", OPT_LIST_EVENTS, NULL, 0,
	  "Print every event.action written, with a description (-f json: as JSON), and exit", 0 },
	/* Until a key source turns it on: lets the tests see what it gets. */
	{ "copy-encrypted", OPT_COPY_ENC, NULL, OPTION_HIDDEN,
	  "Tests only: copy TLS 1.3's encrypted flight and write a line per record", 0 },
	{ NULL, 0, NULL, 0, "TLS 1.3 (its certificate is encrypted): where to get it", 2 },
	{ "keylog", OPT_KEYLOG, "FILE", 0,
	  "NSS key log (SSLKEYLOGFILE) file or FIFO, not world-readable: decrypt the server's "
	  "flight (repeatable; live: followed as it grows; -r: read first)", 2 },
	{ "uprobe", OPT_UPROBE, NULL, 0,
	  "The local TLS servers' chains by uprobes (OpenSSL 3, Go secrets); default on live "
	  "when the kernel allows", 2 },
	{ "no-uprobe", OPT_NO_UPROBE, NULL, 0, "No uprobes", 2 },
	{ "uprobe-pid", OPT_UPROBE_PID, "PID", 0,
	  "Follow this server process even without a listening socket (repeatable)", 2 },
	{ "uprobe-path", OPT_UPROBE_PATH, "PATH", 0,
	  "Attach to this binary or library: static OpenSSL, Go (repeatable)", 2 },
	{ NULL, 0, NULL, 0, "Checks (lists reload on SIGHUP and when their files change):", 1 },
	{ "ca-file", OPT_CA_FILE, "FILE", 0, "Trust store file (default: the system bundle)", 1 },
	{ "ca-path", OPT_CA_PATH, "DIR", 0, "Trust store directory (hashed, c_rehash)", 1 },
	{ "crl", OPT_CRL, "FILE|DIR", 0, "CRLs, PEM or DER (repeatable)", 1 },
	{ "deny", OPT_DENY, "FILE", 0, "Deny list: sha256:HEX, spki:B64, serial:HEX issuer:DN", 1 },
	{ "pins", OPT_PINS, "FILE", 0, "Pins: PATTERN sha256:HEX|spki:B64 ... per line", 1 },
	{ "warn-days", OPT_WARN_DAYS, "N", 0, "cert.expiring_soon within N days (default 14, 0: off)", 1 },
	{ "ignore", OPT_IGNORE, "CODE", 0, "Never report this finding code (repeatable)", 1 },
	{ "summary-interval", OPT_SUMMARY, "S", 0,
	  "Write repeats as summaries every S seconds (default 60)", 1 },
	{ "every", OPT_EVERY, NULL, 0, "Write every handshake, no dedup", 1 },
	{},
};

static int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* "now", "packet", or RFC 3339 UTC ("2024-05-01T12:00:00Z", "2024-05-01"). */
static int parse_check_time(const char *s, int64_t *out)
{
	struct tm tm = { 0 };
	const char *end;

	if (!strcmp(s, "now") || !strcmp(s, "packet")) {
		*out = !strcmp(s, "now") ? FLOW_CHECK_NOW : FLOW_CHECK_PACKET;
		return 0;
	}
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		end = strptime(s, "%Y-%m-%d", &tm);
	if (!end || (*end && strcmp(end, "Z")))
		return -1;
	*out = timegm(&tm);
	return *out > 0 ? 0 : -1;
}

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 'i':
		if (env.cap.n_ifaces >= CAPTURE_IFACES_MAX)
			argp_error(state, "-i: at most %d interfaces", CAPTURE_IFACES_MAX);
		env.cap.ifaces[env.cap.n_ifaces++] = arg;
		break;
	case 'r':
		env.read_file = arg;
		break;
	case 'f': {
		int f = format_parse(arg);

		if (f < 0)
			argp_error(state, "--format: '%s' is not %s", arg, format_names());
		env.format = f;
		env.format_set = true;
		break;
	}
	case 'o':
		env.out_file = arg;
		break;
	case OPT_MAX_BYTES:
		if (parse_u32(arg, 512, 16u << 20, &env.max_bytes))
			argp_error(state, "--max-bytes: '%s' is not a number from 512 to 16777216", arg);
		break;
	case OPT_CLSACT:
		env.cap.force_clsact = true;
		break;
	case OPT_RING:
		/* One record carries up to CS_EVENT_DATA_MAX bytes plus headers:
		 * a smaller ring could never hold a large certificate. */
		if (parse_u32(arg, 2 * CS_EVENT_DATA_MAX, 1u << 30, &env.cap.ring_bytes) ||
		    (env.cap.ring_bytes & (env.cap.ring_bytes - 1)))
			argp_error(state, "--ring-size: '%s' is not a power of two from %u to 2^30",
				   arg, 2 * CS_EVENT_DATA_MAX);
		break;
	case OPT_FLOWS:
		if (parse_u32(arg, 64, 1u << 24, &env.cap.max_flows))
			argp_error(state, "--max-flows: '%s' is not a number from 64 to 16777216", arg);
		break;
	case OPT_CONNS:
		if (parse_u32(arg, 16, 1u << 24, &env.max_conns))
			argp_error(state, "--max-conns: '%s' is not a number from 16 to 16777216", arg);
		break;
	case OPT_MEM:
		if (parse_u32(arg, 1, 65536, &env.max_mem_mb))
			argp_error(state, "--max-memory: '%s' is not 1-65536 MB", arg);
		break;
	case OPT_SYSLOG:
		env.syslog = arg ? arg : "/dev/log";
		break;
	case OPT_METRICS:
		env.metrics = arg;
		break;
	case OPT_STATS:
		if (parse_u32(arg, 1, 86400, &env.stats_s))
			argp_error(state, "--stats-interval: '%s' is not 1-86400 seconds", arg);
		break;
	case OPT_CHECK_TIME:
		if (parse_check_time(arg, &env.check_time))
			argp_error(state, "--check-time: '%s' is not now, packet or "
				   "YYYY-MM-DD[THH:MM:SSZ]", arg);
		break;
	case 'v':
		env.cap.verbose = true;
		break;
	case OPT_COPY_ENC:
		env.copy_encrypted = true;
		env.cap.copy_encrypted = true;
		break;
	case OPT_KEYLOG:
		if (env.n_keylog >= KEYLOG_FILES_MAX)
			argp_error(state, "--keylog: at most %d files", KEYLOG_FILES_MAX);
		env.keylog_paths[env.n_keylog++] = arg;
		break;
	case OPT_UPROBE:
	case OPT_NO_UPROBE:
		env.uprobe = key == OPT_UPROBE;
		break;
	case OPT_UPROBE_PID: {
		uint32_t pid;

		if (parse_u32(arg, 1, 1u << 22, &pid) || env.up.n_pids >= UPROBE_PIDS_MAX)
			argp_error(state, "--uprobe-pid: '%s' is not a process id (at most %d)", arg,
				   UPROBE_PIDS_MAX);
		env.up.pids[env.up.n_pids++] = (pid_t)pid;
		break;
	}
	case OPT_UPROBE_PATH:
		if (env.up.n_paths >= UPROBE_PATHS_MAX)
			argp_error(state, "--uprobe-path: at most %d", UPROBE_PATHS_MAX);
		env.up.paths[env.up.n_paths++] = arg;
		break;
	case OPT_CA_FILE:
		env.lists.ca_file = arg;
		break;
	case OPT_CA_PATH:
		env.lists.ca_path = arg;
		break;
	case OPT_CRL:
		if (env.lists.n_crl >= LISTS_CRL_PATHS_MAX)
			argp_error(state, "--crl: at most %d", LISTS_CRL_PATHS_MAX);
		env.lists.crl_paths[env.lists.n_crl++] = arg;
		break;
	case OPT_DENY:
		env.lists.deny_file = arg;
		break;
	case OPT_PINS:
		env.lists.pins_file = arg;
		break;
	case OPT_WARN_DAYS: {
		uint32_t d;

		if (parse_u32(arg, 0, 3650, &d))
			argp_error(state, "--warn-days: '%s' is not a number of days (0-3650)", arg);
		env.checks.warn_days = d ? (int)d : -1;	/* 0: no expiry warnings */
		break;
	}
	case OPT_IGNORE: {
		int code = finding_parse(arg);

		if (code < 0)
			argp_error(state, "--ignore: '%s' is not a finding code (e.g. cert.expiring_soon)", arg);
		finding_set_add(&env.checks.ignore, (enum finding_code)code);
		break;
	}
	case OPT_SUMMARY:
		if (parse_u32(arg, 1, 86400, &env.summary_s))
			argp_error(state, "--summary-interval: '%s' is not 1-86400 seconds", arg);
		break;
	case OPT_EVERY:
		env.every = true;
		break;
	case OPT_LIST_FINDINGS:
	case OPT_LIST_EVENTS:
		if (env.list && env.list != key)
			argp_error(state, "--list-findings and --list-events cannot be used together");
		env.list = key;
		break;
	case ARGP_KEY_END:
		if (env.read_file && env.cap.n_ifaces)
			argp_error(state, "-r and -i cannot be used together");
		if (env.read_file && env.uprobe == 1)
			argp_error(state, "--uprobe watches local servers live: not with -r");
		if ((env.up.n_pids || env.up.n_paths) && !env.uprobe)
			argp_error(state, "--uprobe-pid and --uprobe-path need the uprobes: not with "
				   "--no-uprobe");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static volatile sig_atomic_t exiting, reload_requested;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_requested = 1;
	else
		exiting = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

struct app {
	struct output *out;
	struct capture *cap;		/* NULL offline */
	struct pcap_source *pcap;	/* NULL live */
	struct flow_table *flows;
	struct cert_cache *certs;
	struct lists *lists;		/* the generation in force */
	struct checker *checker;
	struct dedup *dedup;
	struct watch *watch;
	struct metrics *metrics;
	const struct pcap_source_stats *pcap_stats;	/* offline, once the file is read */
	struct app_counters counters;
	/* TLS 1.3 key sources */
	struct keylog *keylog;		/* secrets: --keylog files, Go uprobes */
	struct keylog_file *kfiles[KEYLOG_FILES_MAX];
	int n_kfiles;
	struct uprobe *uprobe;
	bool secrets_new;		/* since flow_keys_arrived */
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Live only: the kernel stamped the packet that completed the handshake
 * message with CLOCK_MONOTONIC; the line has just been flushed. */
static void latency_record(struct app *a, uint64_t pkt_mono)
{
	hist_record(&a->counters.latency, (mono_ns() - pkt_mono) / 1000);
}

static void status(struct app *a, enum event_action action, const char *sev, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void read_counters(const struct app *a, struct counter_snap *c)
{
	const struct counter_src src = {
		.cap = a->cap, .pcap = a->pcap_stats, .flows = a->flows, .out = a->out,
		.dedup = a->dedup, .certs = a->certs, .lists = a->lists, .app = &a->counters,
		.keylog = a->keylog,
	};

	counters_read(&src, c);
}

static void metrics_read(void *ctx, struct counter_snap *c)
{
	read_counters(ctx, c);
}

/* flow -> checks -> dedup -> output: the verdict stages, in that order. */
static void on_report(void *ctx, const struct cs_report *r)
{
	struct app *a = ctx;
	struct cs_report copy = *r;
	struct verdict v;

	if (a->cap && r->ifindex)
		copy.ifname = capture_ifname(a->cap, r->ifindex);
	checks_run(a->checker, &copy, &v);
	copy.verdict = &v;
	a->counters.verdicts[verdict_slot(&v)]++;
	for (uint32_t i = 0; i < v.n; i++)
		a->counters.findings[v.f[i].code]++;
	dedup_flush(a->dedup, r->ts_ns, false);
	if (dedup_admit(a->dedup, &copy, verdict_name(&v), v.worst,
			r->ts_ns)) {
		output_report(a->out, &copy);
		if (r->mono_ns)
			latency_record(a, r->mono_ns);
	}
}

static void on_summary(void *ctx, const struct dedup_summary *s)
{
	output_summary(((struct app *)ctx)->out, s);
}

static void lists_event(struct app *a, enum event_action action)
{
	struct counter_snap c;
	char line[COUNTERS_LINE_MAX];
	const char *w;

	read_counters(a, &c);
	counters_line(&c, CL_LISTS, line, sizeof(line));
	status(a, action, "info", "%s", line);
	for (uint32_t i = 0; (w = lists_warning(a->lists, i)); i++)
		status(a, EV_LISTS_WARNING, "warning", "%s", w);
}

/* A new generation replaces the old only once it loaded completely. */
static void reload_lists(struct app *a)
{
	char err[512];
	struct lists *l = lists_load(&env.lists, err, sizeof(err));

	if (!l) {
		a->counters.reloads_failed++;
		status(a, EV_LISTS_ERROR, "error",
		       "reload failed, previous lists stay in force: %s", err);
		return;
	}
	checker_set_lists(a->checker, l);
	lists_free(a->lists);
	a->lists = l;
	a->counters.reloads_ok++;
	lists_event(a, EV_LISTS_RELOADED);
}

/* SIGHUP: lists again, and the -o file opened again by name (log rotation
 * renames it, then signals); a change of a list file: lists only. */
static void maybe_reload(struct app *a)
{
	bool changed = watch_changed(a->watch);
	char err[512];

	if (reload_requested && output_reopen(a->out, err, sizeof(err)))
		fprintf(stderr, "certsentry: %s; lines still go to the old file\n", err);
	if (reload_requested || changed) {
		reload_requested = 0;
		reload_lists(a);
	}
}

/* --copy-encrypted (tests only): what a key source would get, one line per
 * record. */
static void on_encrypted(void *ctx, const struct cs_flow_key *k, bool from_server, uint32_t idx,
			 const uint8_t *hdr, const uint8_t *body, size_t len)
{
	(void)body;
	status(ctx, EV_ENCRYPTED_RECORD, "debug",
	       "from=%s sport=%u dport=%u idx=%u type=%u length=%zu",
	       from_server ? "server" : "client", k->sport, k->dport, idx, hdr[0], len);
}

static void on_done(void *ctx, const struct cs_flow_key *k)
{
	struct app *a = ctx;

	if (a->cap)
		capture_flow_done(a->cap, k);
	else if (a->pcap)
		pcap_source_done(a->pcap, k);
}

static void status(struct app *a, enum event_action action, const char *sev, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	output_status(a->out, now_ns(), event_action_name(action), sev, msg);
}

/* ---- TLS 1.3 key sources: --keylog files, --uprobe ---- */

/* The key store's clock: offline every secret is as old as the capture. */
static uint64_t keylog_now(void)
{
	return env.read_file ? 0 : mono_ns();
}

/* What the key-log files have now; a problem is said once, while it lasts. */
static void keylogs_read(struct app *a)
{
	struct keylog_stats before, after;
	char err[512];
	int rc, rounds;

	keylog_get_stats(a->keylog, &before);
	for (int i = 0; i < a->n_kfiles; i++) {
		rounds = 64;	/* bounded per call; the rest next tick */
		while ((rc = keylog_file_read(a->kfiles[i], a->keylog, keylog_now(), err,
					      sizeof(err))) == 1 && --rounds)
			;
		if (rc < 0)
			status(a, EV_KEYLOG_ERROR, "warning", "%s", err);
	}
	keylog_get_stats(a->keylog, &after);
	if (after.outcome[KEYLOG_ADDED] != before.outcome[KEYLOG_ADDED])
		a->secrets_new = true;
}

/* flow_opts.need_keys: a handshake waits for its secret. */
static void need_keys(void *ctx)
{
	keylogs_read(ctx);
}

static void on_served(void *ctx, const struct served_chain *sc)
{
	flow_served_chain(((struct app *)ctx)->flows, sc);
}

/* A Go server's secret (its writeKeyLog): into the same key store. */
static void on_go_secret(void *ctx, enum keylog_label label,
			 const uint8_t client_random[KEYLOG_RANDOM_LEN], const uint8_t *secret,
			 size_t len)
{
	struct app *a = ctx;

	if (keylog_add(a->keylog, label, client_random, secret, len, keylog_now()) == KEYLOG_ADDED)
		a->secrets_new = true;
}

/* Before the flow stage and the capture: what decides fo's key sources and
 * whether the encrypted flight is copied. 0, or the exit code. */
static int sources_open(struct app *a, struct flow_opts *fo)
{
	const struct uprobe_cbs cb = { .on_chain = on_served, .on_secret = on_go_secret, .ctx = a };
	bool live = !env.read_file;
	char err[512];
	int rc;

	if (!env.n_keylog && !(live && env.uprobe))
		return 0;
	if (!(a->keylog = keylog_new(NULL))) {
		fprintf(stderr, "certsentry: out of memory\n");
		return 1;
	}
	for (int i = 0; i < env.n_keylog; i++) {
		a->kfiles[i] = keylog_file_open(env.keylog_paths[i], live, err, sizeof(err));
		if (!a->kfiles[i]) {
			fprintf(stderr, "certsentry: --keylog: %s\n", err);
			return 2;
		}
		a->n_kfiles++;
		/* offline: every secret before the first packet */
		while (!live && (rc = keylog_file_read(a->kfiles[i], a->keylog, 0, err,
						       sizeof(err))) == 1)
			;
		if (!live && rc < 0)
			status(a, EV_KEYLOG_ERROR, "warning", "%s", err);
	}
	if (live && env.uprobe) {
		a->uprobe = uprobe_open(&env.up, &cb, err, sizeof(err));
		if (!a->uprobe && (env.uprobe == 1 || env.up.n_pids || env.up.n_paths)) {
			fprintf(stderr, "certsentry: --uprobe: %s\n", err);
			return 2;
		}
		status(a, EV_UPROBE, a->uprobe ? "info" : "warning", a->uprobe ?
		       "uprobes attached: local TLS servers' chains are seen" :
		       "no uprobes (TLS 1.3 chains of local servers stay hidden): %s", err);
	}
	if (!a->n_kfiles && !a->uprobe) {	/* no key source after all */
		keylog_free(a->keylog);
		a->keylog = NULL;
		return 0;
	}
	fo->keylog = a->keylog;
	fo->wait_served = a->uprobe != NULL;
	fo->need_keys = a->n_kfiles ? need_keys : NULL;
	/* the server's encrypted flight, for the secrets: files, Go servers */
	fo->copy_encrypted = env.cap.copy_encrypted = true;
	return 0;
}

/* The main loop's turn: uprobe records, key-log lines, then the handshakes
 * that wait for them. */
static void sources_poll(struct app *a)
{
	struct pollfd p = { .events = POLLIN };
	int n;

	if (a->uprobe && (n = uprobe_poll(a->uprobe, 0)) < 0 && n != -EINTR)
		fprintf(stderr, "certsentry: uprobe ring: %s\n", strerror(-n));
	for (int i = 0; i < a->n_kfiles; i++) {
		p.fd = keylog_file_fd(a->kfiles[i]);
		if (p.fd < 0 || poll(&p, 1, 0) > 0) {
			keylogs_read(a);
			break;
		}
	}
	if (a->secrets_new) {
		a->secrets_new = false;
		flow_keys_arrived(a->flows);
	}
}

/* Once a second: secrets past their time are wiped. */
static void sources_tick(struct app *a)
{
	if (a->keylog)
		keylog_expire(a->keylog, keylog_now());
}

static void sources_close(struct app *a)
{
	uprobe_close(a->uprobe);
	a->uprobe = NULL;
	for (int i = 0; i < a->n_kfiles; i++)
		keylog_file_close(a->kfiles[i]);
	a->n_kfiles = 0;
	keylog_free(a->keylog);
	a->keylog = NULL;
}

static const char *ifaces_text(char *buf, size_t len)
{
	size_t n = 0;

	if (!env.cap.n_ifaces)
		return "every interface that is up, except lo";
	buf[0] = '\0';
	for (int i = 0; i < env.cap.n_ifaces && n < len; i++)
		n += snprintf(buf + n, len - n, "%s%s", i ? "," : "", env.cap.ifaces[i]);
	return buf;
}

static void stats_event(struct app *a, enum event_action action)
{
	struct counter_snap c;
	char line[COUNTERS_LINE_MAX];

	read_counters(a, &c);
	counters_line(&c, CL_LIVE, line, sizeof(line));
	status(a, action, c.kernel[CS_C_RB_FAIL] ? "warning" : "info", "%s", line);
}

/* Longest wait of a record the kernel did not wake us for; also the period
 * of the metrics and list-reload checks. */
#define POLL_MS 50

static int run_live(struct app *a)
{
	char err[256], fl[512];
	uint64_t c[CS_C_MAX], last = now_ns(), last_stats = last, drops = 0, last_tick = 0;
	int n;

	env.cap.max_bytes = env.max_bytes;
	a->cap = capture_open(&env.cap, err, sizeof(err));
	if (!a->cap) {
		fprintf(stderr, "certsentry: %s\n", err);
		return 1;
	}
	if (env.metrics && !(a->metrics = metrics_start(env.metrics, metrics_read, a, err,
							 sizeof(err)))) {
		fprintf(stderr, "certsentry: %s\n", err);
		capture_close(a->cap);
		a->cap = NULL;
		return 2;
	}
	status(a, EV_STARTED, "info", "capturing on %s", ifaces_text(fl, sizeof(fl)));
	lists_event(a, EV_LISTS_LOADED);
	while (!exiting) {
		/* The kernel wakes us for the server's flights only; the timeout
		 * bounds how long the rest (client certificates and alerts,
		 * closes) may wait in the ring on a quiet host. */
		n = capture_poll(a->cap, POLL_MS, flow_segment, a->flows);
		sources_poll(a);
		output_flush(a->out);	/* this batch's lines leave now */
		if (n < 0 && n != -EINTR) {
			fprintf(stderr, "certsentry: ring buffer: %s\n", strerror(-n));
			break;
		}
		/* A scrape or a reload may wait a tick; a syscall per ring
		 * wakeup is not free. */
		if (mono_ns() - last_tick >= POLL_MS * 1000000ULL) {
			maybe_reload(a);
			if (a->metrics)
				metrics_poll(a->metrics);
			last_tick = mono_ns();
		}
		if (now_ns() - last > 1000000000ULL) {
			last = now_ns();
			flow_expire(a->flows, last);
			sources_tick(a);
			dedup_flush(a->dedup, last, false);
			/* Drops are news at once; the rest every stats interval. */
			capture_counters(a->cap, c);
			if (c[CS_C_RB_FAIL] > drops ||
			    last - last_stats >= (uint64_t)env.stats_s * 1000000000ULL) {
				stats_event(a, c[CS_C_RB_FAIL] > drops ? EV_RINGBUF_DROPS : EV_STATS);
				drops = c[CS_C_RB_FAIL];
				last_stats = last;
			}
		}
	}
	return 0;
}

/* After the last packet: pending chains and summaries out, then the counters. */
static void finish_live(struct app *a)
{
	flow_drain(a->flows);
	dedup_flush(a->dedup, now_ns(), true);
	stats_event(a, EV_STOPPED);
	metrics_stop(a->metrics);
	a->metrics = NULL;
	capture_close(a->cap);
	a->cap = NULL;
}

static int run_offline(struct app *a)
{
	char err[512], line[COUNTERS_LINE_MAX];
	struct pcap_source_stats ps;
	struct counter_snap c;
	struct pcap_source *src;
	int rc;

	src = pcap_source_open(env.read_file, env.max_bytes ? env.max_bytes : CS_MAX_BYTES_DEFAULT,
			       err, sizeof(err));
	if (!src) {
		fprintf(stderr, "certsentry: %s\n", err);
		return 1;
	}
	a->pcap = src;
	pcap_source_copy_encrypted(src, env.cap.copy_encrypted);
	if (env.lists.ca_file || env.lists.ca_path || env.lists.n_crl || env.lists.deny_file ||
	    env.lists.pins_file)
		lists_event(a, EV_LISTS_LOADED);
	rc = pcap_source_run(src, flow_segment, a->flows, err, sizeof(err));
	a->pcap = NULL;
	pcap_source_stats(src, &ps);
	pcap_source_close(src);
	/* Whatever was read before an error is still reported. */
	flow_drain(a->flows);
	dedup_flush(a->dedup, now_ns(), true);
	if (rc < 0) {
		fprintf(stderr, "certsentry: %s\n", err);
		status(a, EV_READ_ERROR, "error", "%s", err);
	}
	a->pcap_stats = &ps;
	read_counters(a, &c);
	a->pcap_stats = NULL;
	counters_line(&c, CL_READ, line, sizeof(line));
	status(a, EV_READ_DONE, rc < 0 ? "error" : "info", "file=%s %s", env.read_file, line);
	return rc < 0 ? 1 : 0;
}

/* The list files whose changes trigger a reload. */
static int watched_paths(const char **p)
{
	int n = 0;

	if (env.lists.ca_file)
		p[n++] = env.lists.ca_file;
	if (env.lists.ca_path)
		p[n++] = env.lists.ca_path;
	if (env.lists.deny_file)
		p[n++] = env.lists.deny_file;
	if (env.lists.pins_file)
		p[n++] = env.lists.pins_file;
	for (int i = 0; i < env.lists.n_crl && n < WATCH_PATHS_MAX; i++)
		p[n++] = env.lists.crl_paths[i];
	return n;
}

int main(int argc, char **argv)
{
	static const struct argp argp = { .options = opts, .parser = parse_arg, .doc = doc };
	const char *watched[WATCH_PATHS_MAX];
	struct flow_opts fo = { 0 };
	struct app a = { 0 };
	struct sink *sink;
	char err[512] = "out of memory";
	int rc;

	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return 2;
	if (env.list) {
		bool json = env.format_set && env.format == OUTPUT_JSON;	/* text unless asked */

		if (env.list == OPT_LIST_FINDINGS ? findings_list(stdout, json) : events_list(stdout, json)) {
			fprintf(stderr, "certsentry: cannot write the list to stdout\n");
			return 1;
		}
		return 0;
	}
	if (env.syslog && env.out_file) {
		fprintf(stderr, "certsentry: --syslog and -o cannot be used together\n");
		return 2;
	}
	if (!(a.out = output_create())) {
		fprintf(stderr, "certsentry: out of memory\n");
		return 1;
	}
	/* a sink by its name in sinks.def: syslog, or the -o file (none: stdout) */
	sink = env.syslog ? sink_open("syslog", env.syslog, err, sizeof(err)) :
			    sink_open("file", env.out_file, err, sizeof(err));
	if (!sink || output_add_sink(a.out, sink, env.format)) {
		fprintf(stderr, "certsentry: %s\n", err);
		output_free(a.out);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);

	a.certs = cert_cache_new(CERT_CACHE_DEFAULT);
	fo.certs = a.certs;
	/* Live, the packet's time is now; offline it is the capture's. */
	fo.check_time = env.check_time;
	fo.max_conns = env.max_conns;
	fo.max_mem = (uint64_t)env.max_mem_mb << 20;
	fo.report = on_report;
	fo.done = on_done;
	fo.copy_encrypted = env.copy_encrypted;
	if (env.copy_encrypted)
		fo.encrypted = on_encrypted;
	fo.ctx = &a;
	if ((rc = sources_open(&a, &fo))) {
		sources_close(&a);
		return rc;
	}
	a.flows = flow_new(&fo);
	a.checker = checker_new(&env.checks);
	a.dedup = dedup_new(env.summary_s, env.every, on_summary, &a);
	if (!a.certs || !a.flows || !a.checker || !a.dedup) {
		fprintf(stderr, "certsentry: out of memory\n");
		return 1;
	}
	if (!(a.lists = lists_load(&env.lists, err, sizeof(err)))) {
		fprintf(stderr, "certsentry: %s\n", err);
		return 2;
	}
	checker_set_lists(a.checker, a.lists);
	a.watch = watch_new(watched, watched_paths(watched));
	rc = env.read_file ? run_offline(&a) : run_live(&a);
	if (a.cap)
		finish_live(&a);
	flow_free(a.flows);
	sources_close(&a);
	output_flush(a.out);
	watch_free(a.watch);
	dedup_free(a.dedup);
	checker_free(a.checker);
	lists_free(a.lists);
	cert_cache_free(a.certs);
	output_free(a.out);
	return rc;
}
