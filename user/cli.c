/* cli.c - the option table and its parsers, argp built from it, and the choice of command. */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "conffile.h"
#include "findings.h"
#include "flow.h"
#include "sink.h"
#include "syslog_msg.h"
#include "term.h"

const char *argp_program_version = "certsentry 0.1";
const char *argp_program_bug_address = "<certsentry@localhost>";

typedef int cli_parse_fn(const struct cli_option *o, const char *arg, struct config *c, char *why,
			 size_t whylen);

/* How a number's bounds read in a message. */
enum cli_unit { U_NUMBER, U_POW2, U_SECONDS, U_MB, U_DAYS, U_PERCENT };

struct cli_option {
	const char *name; /* --name, and the key in a config file */
	int key;	  /* -k, or 0 */
	const char *arg;  /* the value's name in --help; NULL: a flag */
	bool arg_optional;
	bool hidden;  /* left out of --help (tests only) */
	bool no_file; /* not a config file's key */
	bool live;    /* a SIGHUP applies it (the others need a restart) */
	enum cli_group group;
	uint32_t also; /* groups whose commands take it too (1u << group) */
	const char *help;
	cli_parse_fn *parse;
	size_t off;	   /* offsetof(struct config, what parse sets) */
	size_t size;	   /* sizeof the field */
	size_t n_off;	   /* a list's: offsetof its count (an int) */
	uint32_t min, max; /* a number's bounds; a list's length (max) */
	enum cli_unit unit;
	const char *cite; /* the option in messages, if not "--name" */
};

static int set_str(const struct cli_option *o, const char *arg, struct config *c, char *why,
		   size_t whylen);
static int set_flag(const struct cli_option *o, const char *arg, struct config *c, char *why,
		    size_t whylen);
static int set_u32(const struct cli_option *o, const char *arg, struct config *c, char *why,
		   size_t whylen);
static cli_parse_fn add_str, set_format, set_syslog, set_syslog_server, set_syslog_format,
	set_event_socket, add_sni, add_port, add_host, set_color, set_check_time, set_list,
	set_warn_days, add_ignore, add_allow, set_refresh, set_bytes, set_uprobe, add_pid;

#define FSIZE(field) sizeof(((struct config *)0)->field)
#define AT(field)    .off = offsetof(struct config, field), .size = FSIZE(field)
/* offsetof, and a build error unless the field is a T (the kernel's typecheck). */
#define OFFSET_T(field, T) \
	(offsetof(struct config, field) + 0 * sizeof((T *)0 == &((struct config *)0)->field))
#define OFF_T(field, T) OFFSET_T(field, T), .size = FSIZE(field)
#define STR(field)	.parse = set_str, .off = OFF_T(field, const char *)
#define FLAG(field)	.parse = set_flag, .off = OFF_T(field, bool)
#define U32(field, lo, hi, u) \
	.parse = set_u32, .off = OFF_T(field, uint32_t), .min = (lo), .max = (hi), .unit = (u)
/* Repeatable: array[count++] = the value, up to the array's length. */
#define STRS(array, count)                                                                     \
	.parse = add_str, .off = OFF_T(array[0], const char *), .n_off = OFFSET_T(count, int), \
	.max = sizeof(((struct config *)0)->array) / sizeof(((struct config *)0)->array[0])

/* --help sorts each group by name; this order is the table's only. */
// clang-format off
static const struct cli_option options[] = {
	{ .name = "interface", .key = 'i', .arg = "IFACE", STRS(cap.ifaces, cap.n_ifaces),
	  .cite = "-i",
	  .help = "Interface to watch (repeatable; default: all up but lo)" },
	{ .name = "read", .key = 'r', .arg = "FILE", STR(read_file),
	  .help = "Read a pcap/pcapng file (.gz too; - for stdin) instead" },
	{ .name = "format", .key = 'f', .arg = "FMT", .parse = set_format, AT(format),
	  .also = 1u << CLI_G_TAIL,
	  .help = "Output format: json, or text (default when stdout is a terminal)" },
	{ .name = "output", .key = 'o', .arg = "FILE", STR(out_file),
	  .help = "Append output to FILE instead of stdout" },
	{ .name = "syslog", .arg = "SOCKET", .arg_optional = true, .parse = set_syslog, AT(syslog),
	  .help = "Send each line to syslog (default socket /dev/log) instead of stdout "
		  "(with -o: also)" },
	{ .name = "syslog-server", .arg = "URL", .parse = set_syslog_server, AT(syslog_server),
	  .help = "Send each line to a syslog server: udp://HOST:PORT or tcp://HOST:PORT" },
	{ .name = "syslog-format", .arg = "3164|5424", .parse = set_syslog_format,
	  AT(syslog_format),
	  .help = "Syslog framing: RFC 3164 (default) or RFC 5424 (MSGID: the event.action)" },
	{ .name = "syslog-queue", .arg = "BYTES", U32(syslog_queue, 65536, 1u << 30, U_NUMBER),
	  .help = "tcp://: bytes held while the server is away (default 4 MiB)" },
	{ .name = "event-socket", .arg = "PATH", .arg_optional = true, .parse = set_event_socket,
	  AT(event_socket),
	  .help = "Also serve each line as JSON to `certsentry tail` on a UNIX socket, mode 0660 "
		  "(default PATH " SINK_SOCKET_DEFAULT "; live only)" },
	{ .name = "event-socket-group", .arg = "GROUP", STR(event_socket_group),
	  .help = "Group that may connect to the event socket (default " SINK_SOCKET_GROUP
		  " if that group exists, else root's)" },
	/* room for the longest line (256 KiB) and more: a reader keeping up is never dropped */
	{ .name = "event-socket-queue", .arg = "BYTES",
	  U32(event_socket_queue, 1u << 19, 1u << 30, U_NUMBER),
	  .help = "Bytes held for a subscriber that falls behind before it is dropped "
		  "(default 1048576)" },
	{ .name = "max-bytes", .arg = "N", U32(max_bytes, 512, 16u << 20, U_NUMBER),
	  .help = "Handshake bytes copied per direction (default 524288)" },
	{ .name = "check-time", .arg = "WHEN", .parse = set_check_time, AT(check_time),
	  .help = "Judge validity at: packet (default: the packet's capture time), now, "
		  "or a time like 2024-05-01T12:00:00Z" },
	/* One record carries up to CS_EVENT_DATA_MAX bytes plus headers: a
	 * smaller ring could never hold a large certificate. */
	{ .name = "ring-size", .arg = "BYTES",
	  U32(cap.ring_bytes, 2 * CS_EVENT_DATA_MAX, 1u << 30, U_POW2),
	  .help = "Kernel ring buffer size, a power of two (default 16 MiB)" },
	{ .name = "max-flows", .arg = "N", U32(cap.max_flows, 64, 1u << 24, U_NUMBER),
	  .help = "Kernel flow table entries (default 65536)" },
	{ .name = "max-conns", .arg = "N", U32(max_conns, 16, 1u << 24, U_NUMBER),
	  .help = "Connections followed at once (default 131072)" },
	{ .name = "max-memory", .arg = "MB", U32(max_mem_mb, 1, 65536, U_MB),
	  .help = "Bound on connection state; oldest evicted, counted (default 80)" },
	{ .name = "stats-interval", .arg = "S", U32(stats_s, 1, 86400, U_SECONDS),
	  .help = "Write counters every S seconds, at once on ring-buffer drops (default 60)" },
	{ .name = "metrics", .arg = "[ADDR:]PORT", STR(metrics),
	  .help = "Serve Prometheus metrics on http://ADDR:PORT/metrics (live)" },
	{ .name = "clsact", FLAG(cap.force_clsact),
	  .help = "Attach with a clsact filter even where tcx exists" },
	{ .name = "user", .arg = "NAME", STR(drop.user),
	  .help = "After attaching, run as NAME with no capabilities and a seccomp allow-list "
		  "(default: " PRIVDROP_DEFAULT_USER " if that user exists)" },
	{ .name = "no-drop", FLAG(drop.no_drop),
	  .help = "Keep root and every capability after attaching" },
	/* Tests only: shows the filter refusing what it does not list. */
	{ .name = "seccomp-selftest", .hidden = true, FLAG(drop.selftest),
	  .help = "Tests only: on SIGUSR2, try a call the seccomp list refuses, say the answer" },
	{ .name = "verbose", .key = 'v', FLAG(cap.verbose), .help = "Print libbpf debug output" },
	{ .name = "config", .arg = "FILE", STR(config_file), .no_file = true,
	  .help = "Read options from FILE, key = value a line (default " CONFFILE_DEFAULT
		  " if it exists; \"\" for none); the command line overrides it" },
	{ .name = "check-config", FLAG(check_config), .no_file = true,
	  .help = "Check the config file and every list it names, and exit (0: fine)" },
	{ .name = "list-findings", .no_file = true, .parse = set_list, AT(list),
	  .min = CLI_LIST_FINDINGS,
	  .help = "Print every finding code, its severity, needs and description "
		  "(-f json: as JSON), and exit" },
	{ .name = "list-events", .no_file = true, .parse = set_list, AT(list),
	  .min = CLI_LIST_EVENTS,
	  .help = "Print every event.action written, with a description (-f json: as JSON), "
		  "and exit" },
	/* Until a key source turns it on: lets the tests see what it gets. */
	{ .name = "copy-encrypted", .hidden = true, FLAG(cap.copy_encrypted),
	  .help = "Tests only: copy TLS 1.3's encrypted flight and write a line per record" },

	{ .name = "keylog", .arg = "FILE", .group = CLI_G_TLS13, STRS(keylog_paths, n_keylog),
	  .help = "NSS key log (SSLKEYLOGFILE) file or FIFO, not world-readable: decrypt the "
		  "server's flight (repeatable; live: followed as it grows; -r: read first)" },
	{ .name = "uprobe", .group = CLI_G_TLS13, .parse = set_uprobe, AT(uprobe), .min = 1,
	  .help = "The local TLS servers' chains by uprobes (OpenSSL 3; Go's secrets); "
		  "default on live when the kernel allows" },
	{ .name = "no-uprobe", .group = CLI_G_TLS13, .parse = set_uprobe, AT(uprobe), .min = 0,
	  .help = "No uprobes" },
	{ .name = "uprobe-pid", .arg = "PID", .group = CLI_G_TLS13, .parse = add_pid, AT(up.pids),
	  .n_off = OFFSET_T(up.n_pids, int), .min = 1, .max = UPROBE_PIDS_MAX,
	  .help = "Follow this server process even without a listening socket (repeatable)" },
	{ .name = "uprobe-path", .arg = "PATH", .group = CLI_G_TLS13, STRS(up.paths, up.n_paths),
	  .help = "Attach to this binary or library: static OpenSSL, Go (repeatable)" },

	{ .name = "ca-file", .live = true, .arg = "FILE", .group = CLI_G_CHECKS, STR(lists.ca_file),
	  .help = "Trust store file (default: the system bundle)" },
	{ .name = "ca-path", .live = true, .arg = "DIR", .group = CLI_G_CHECKS, STR(lists.ca_path),
	  .help = "Trust store directory (hashed, c_rehash)" },
	{ .name = "crl", .live = true, .arg = "FILE|DIR", .group = CLI_G_CHECKS,
	  STRS(lists.crl_paths, lists.n_crl),
	  .help = "CRLs, PEM or DER (repeatable)" },
	{ .name = "deny", .live = true, .arg = "FILE", .group = CLI_G_CHECKS, STR(lists.deny_file),
	  .help = "Deny list: sha256:HEX, spki:B64, serial:HEX issuer:DN" },
	{ .name = "pins", .live = true, .arg = "FILE", .group = CLI_G_CHECKS, STR(lists.pins_file),
	  .help = "Pins: PATTERN sha256:HEX|spki:B64 ... per line" },
	{ .name = "warn-days", .arg = "N", .group = CLI_G_CHECKS, .parse = set_warn_days,
	  AT(checks.warn_days), .min = 0, .max = 3650, .unit = U_DAYS,
	  .help = "cert.expiring_soon within N days (default 14, 0: off)" },
	{ .name = "ignore", .arg = "CODE", .group = CLI_G_CHECKS, .parse = add_ignore,
	  AT(checks.ignore),
	  .help = "Never report this finding code (repeatable)" },
	{ .name = "summary-interval", .arg = "S", .group = CLI_G_CHECKS,
	  U32(summary_s, 1, 86400, U_SECONDS),
	  .help = "Write repeats as summaries every S seconds (default 60)" },
	{ .name = "every", .group = CLI_G_CHECKS, FLAG(every),
	  .help = "Write every handshake, no dedup" },

	{ .name = "sni", .arg = "GLOB", .group = CLI_G_FILTER, .parse = add_sni, AT(filter),
	  .help = "Only events whose SNI matches GLOB (repeatable; *.example.com)" },
	{ .name = "port", .arg = "N", .group = CLI_G_FILTER, .parse = add_port, AT(filter),
	  .help = "Only events whose server port is N (repeatable)" },
	{ .name = "host", .arg = "IP|CIDR", .group = CLI_G_FILTER, .parse = add_host, AT(filter),
	  .help = "Only events with an end (client or server) in IP|CIDR (repeatable)" },
	{ .name = "alerts-only", .group = CLI_G_FILTER, FLAG(filter.alerts_only),
	  .help = "Only alerts (event.kind alert)" },

	{ .name = "socket", .arg = "PATH", .group = CLI_G_TAIL, STR(tail_socket),
	  .help = "The service's event socket (default " SINK_SOCKET_DEFAULT ")" },
	{ .name = "color", .arg = "WHEN", .arg_optional = true, .also = 1u << CLI_G_TAIL,
	  .parse = set_color, AT(color),
	  .help = "Colour text by severity: auto (default: a terminal without NO_COLOR), "
		  "always, never" },
	{ .name = "confirm", .group = CLI_G_CONFIRM, FLAG(confirm),
	  .help = "For a TLS 1.3 endpoint (server, port, SNI) whose chain no source gave, make "
		  "our own handshake to it and check what it serves (source: confirm)" },
	{ .name = "confirm-ttl", .arg = "S", .group = CLI_G_CONFIRM,
	  U32(confirm_ttl_s, 1, 7 * 86400, U_SECONDS),
	  .help = "At most one confirm per endpoint per S seconds (default 60)" },
	{ .name = "confirm-rate", .arg = "N", .group = CLI_G_CONFIRM,
	  U32(confirm_rate, 1, 10000, U_NUMBER),
	  .help = "At most N confirm handshakes started per second (default 10)" },
	{ .name = "confirm-timeout", .arg = "MS", .group = CLI_G_CONFIRM,
	  U32(confirm_timeout_ms, 10, 600000, U_NUMBER),
	  .help = "Give a confirm handshake up after MS milliseconds (default 5000)" },
	{ .name = "confirm-remote", .group = CLI_G_CONFIRM, FLAG(confirm_remote),
	  .help = "Confirm servers at any address, not only this host's own" },
	{ .name = "abort-share", .arg = "PCT", .group = CLI_G_CHECKS,
	  U32(outcomes.pct, 1, 100, U_PERCENT),
	  .help = "client.aborting when clients abort PCT% of a (server, SNI)'s TLS 1.3 "
		  "handshakes (default 20)" },
	{ .name = "abort-min", .arg = "N", .group = CLI_G_CHECKS,
	  U32(outcomes.min, 1, 1000000, U_NUMBER),
	  .help = "client.aborting needs at least N TLS 1.3 handshakes of the (server, SNI) "
		  "in the window (default 20)" },
	{ .name = "abort-window", .arg = "S", .group = CLI_G_CHECKS,
	  U32(outcomes.window_s, 1, OUTCOMES_WINDOW_MAX_S, U_SECONDS),
	  .help = "client.aborting's window, in seconds (default 60)" },
	{ .name = "state-dir", .arg = "DIR", .group = CLI_G_SOURCES, STR(src.state_dir),
	  .help = "Fetched CRLs/OCSP/AIA and the inventory (default /var/lib/certsentry; "
		  "made 0750)" },
	{ .name = "inventory", .group = CLI_G_SOURCES, FLAG(src.inventory),
	  .help = "Keep the certificate inventory (SQLite in the state directory): "
		  "cert.changed, cert.rollback, cert.inconsistent, per-certificate metrics" },
	{ .name = "inventory-window", .arg = "S", .group = CLI_G_SOURCES,
	  U32(src.inv.window_s, 1, 86400, U_SECONDS),
	  .help = "Two leaves served within S seconds are cert.inconsistent (default 300)" },
	{ .name = "metrics-certs", .arg = "N", .group = CLI_G_SOURCES,
	  U32(src.metric_certs, 1, 100000, U_NUMBER),
	  .help = "(SNI, leaf) series on /metrics at most (default 1000)" },
	{ .name = "fetch-crl", .group = CLI_G_SOURCES, FLAG(src.fetch_crl),
	  .help = "Fetch the CRLs certificates name (distribution points), verified "
		  "against the issuer" },
	{ .name = "fetch-ocsp", .group = CLI_G_SOURCES, FLAG(src.fetch_ocsp),
	  .help = "Ask the leaf's OCSP responder when the server staples nothing" },
	{ .name = "fetch-aia", .group = CLI_G_SOURCES, FLAG(src.fetch_aia),
	  .help = "Fetch a missing issuer from AIA caIssuers, as browsers do" },
	{ .name = "fetch-allow", .arg = "PATTERN", .group = CLI_G_SOURCES, .parse = add_allow,
	  AT(src.fetch), .max = FETCH_ALLOW_MAX,
	  .help = "Hosts fetched from (glob, repeatable; none: any host)" },
	{ .name = "fetch-max-crl-bytes", .arg = "N", .group = CLI_G_SOURCES, .parse = set_bytes,
	  AT(src.crl.max_crl_bytes),
	  .help = "Bytes per CRL (default 64 MiB)" },
	{ .name = "fetch-max-total-bytes", .arg = "N", .group = CLI_G_SOURCES, .parse = set_bytes,
	  AT(src.crl.max_total_bytes),
	  .help = "Bytes of all CRLs held, memory and disk (default 1 GiB)" },
	{ .name = "fetch-max-crls", .arg = "N", .group = CLI_G_SOURCES,
	  U32(src.crl.max_crls, 1, 1u << 20, U_NUMBER),
	  .help = "CRL distribution points followed (default 1024)" },
	{ .name = "fetch-concurrent", .arg = "N", .group = CLI_G_SOURCES,
	  U32(src.fetch.max_concurrent, 1, 256, U_NUMBER),
	  .help = "Fetches at once (default 4)" },
	{ .name = "fetch-rate", .arg = "N", .group = CLI_G_SOURCES,
	  U32(src.fetch.rate_per_min, 1, 1u << 20, U_NUMBER),
	  .help = "Fetch starts per minute (default 120)" },
	{ .name = "fetch-timeout-ms", .arg = "MS", .group = CLI_G_SOURCES,
	  U32(src.fetch.timeout_ms, 100, 3600000, U_NUMBER),
	  .help = "Whole time per fetch (default 60000)" },
	{ .name = "fetch-refresh-min", .arg = "S", .group = CLI_G_SOURCES, .parse = set_refresh,
	  AT(src), .min = 1, .max = 86400 * 30, .unit = U_SECONDS,
	  .help = "CRL/OCSP never fetched again sooner (default 300 CRL, 60 OCSP)" },
	{ .name = "fetch-refresh-max", .arg = "S", .group = CLI_G_SOURCES, .parse = set_refresh,
	  AT(src), .min = 1, .max = 86400 * 30, .unit = U_SECONDS,
	  .help = "... and never later (default 3600; halfway to nextUpdate if sooner)" },
	{ .name = "fetch-backoff-min", .arg = "S", .group = CLI_G_SOURCES,
	  U32(src.fetch.backoff_min_s, 1, 86400, U_SECONDS),
	  .help = "After a failed fetch, wait S (default 60), doubling ..." },
	{ .name = "fetch-backoff-max", .arg = "S", .group = CLI_G_SOURCES,
	  U32(src.fetch.backoff_max_s, 1, 86400, U_SECONDS),
	  .help = "... up to S (default 3600)" },
	{ .name = "fetch-proxy", .arg = "URL", .group = CLI_G_SOURCES, STR(src.fetch.proxy),
	  .help = "HTTP proxy for fetches (default none; the environment's is ignored)" },
	{ .name = "fetch-nonce", .group = CLI_G_SOURCES, FLAG(src.ocsp.nonce),
	  .help = "Send a nonce in OCSP requests" },
};
// clang-format on
#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

static const char *const group_titles[CLI_G_MAX] = {
	[CLI_G_TLS13] = "TLS 1.3 (its certificate is encrypted): where to get it",
	[CLI_G_CHECKS] = "Checks (lists reload on SIGHUP and when their files change):",
	[CLI_G_FILTER] = "Filters (every kind given must match; one of a kind's values):",
	[CLI_G_TAIL] = "Tail:",
	[CLI_G_CONFIRM] = "Confirm (live; it sends traffic): fetch hidden TLS 1.3 chains with our "
			  "own handshake:",
	[CLI_G_SOURCES] = "Fetched revocation, AIA and the inventory (live; "
			  "`certsentry inventory --help` reads it):",
};

void config_defaults(struct config *c)
{
	*c = (struct config){
		.format = OUTPUT_JSON,
		.checks = { .warn_days = 14 },
		.summary_s = 60,
		.stats_s = 60,
		.uprobe = -1,
	};
}

/* ---- values ---- */

static void *field(const struct cli_option *o, struct config *c)
{
	return (char *)c + o->off;
}

static int set_str(const struct cli_option *o, const char *arg, struct config *c, char *why,
		   size_t whylen)
{
	(void)why;
	(void)whylen;
	*(const char **)field(o, c) = arg;
	return 0;
}

/* Bare (the command line, or a bare key in a file), or a file's true|false. */
static int set_flag(const struct cli_option *o, const char *arg, struct config *c, char *why,
		    size_t whylen)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; arg && i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcmp(arg, no[i])) {
			*(bool *)field(o, c) = false;
			return 0;
		}
		if (!strcmp(arg, yes[i]))
			arg = NULL;
	}
	if (arg) {
		snprintf(why, whylen, "'%s' is not true or false", arg);
		return CLI_BAD;
	}
	*(bool *)field(o, c) = true;
	return 0;
}

/* o's bounds as a message says them. */
static void bounds_text(const struct cli_option *o, char *buf, size_t len)
{
	switch (o->unit) {
	case U_POW2:
		snprintf(buf, len, "a power of two from %u to 2^%d", o->min,
			 31 - __builtin_clz(o->max));
		break;
	case U_SECONDS:
		snprintf(buf, len, "%u-%u seconds", o->min, o->max);
		break;
	case U_MB:
		snprintf(buf, len, "%u-%u MB", o->min, o->max);
		break;
	case U_DAYS:
		snprintf(buf, len, "a number of days (%u-%u)", o->min, o->max);
		break;
	case U_PERCENT:
		snprintf(buf, len, "a percentage from %u to %u", o->min, o->max);
		break;
	default:
		snprintf(buf, len, "a number from %u to %u", o->min, o->max);
	}
}

/* A number within o's bounds (strtoul's forms: 0x.. and 0.. too). */
static int parse_u32(const struct cli_option *o, const char *arg, uint32_t *out, char *why,
		     size_t whylen)
{
	char *end, b[64];
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 0);
	if (errno || end == arg || *end || v < o->min || v > o->max ||
	    (o->unit == U_POW2 && (v & (v - 1)))) {
		bounds_text(o, b, sizeof(b));
		snprintf(why, whylen, "'%s' is not %s", arg, b);
		return CLI_BAD;
	}
	*out = (uint32_t)v;
	return 0;
}

static int set_u32(const struct cli_option *o, const char *arg, struct config *c, char *why,
		   size_t whylen)
{
	return parse_u32(o, arg, field(o, c), why, whylen);
}

/* --fetch-allow: a host glob, up to FETCH_ALLOW_MAX. */
static int add_allow(const struct cli_option *o, const char *arg, struct config *c, char *why,
		     size_t whylen)
{
	struct fetch_opts *f = field(o, c);

	if (f->n_allow >= o->max) {
		snprintf(why, whylen, "at most %u", o->max);
		return CLI_BAD;
	}
	if (!*arg || strchr(arg, '/')) {
		snprintf(why, whylen, "'%s' is not a host pattern (like *.example.com)", arg);
		return CLI_BAD;
	}
	f->allow[f->n_allow++] = arg;
	return 0;
}

/* --fetch-refresh-min/max: the CRL and the OCSP fetcher alike. */
static int set_refresh(const struct cli_option *o, const char *arg, struct config *c, char *why,
		       size_t whylen)
{
	struct sources_opts *s = field(o, c);
	uint32_t v;

	if (parse_u32(o, arg, &v, why, whylen))
		return CLI_BAD;
	if (!strcmp(o->name, "fetch-refresh-min"))
		s->crl.refresh_min_s = s->ocsp.refresh_min_s = v;
	else
		s->crl.refresh_max_s = s->ocsp.refresh_max_s = v;
	return 0;
}

/* A byte count from 1 KiB to 1 TiB. */
static int set_bytes(const struct cli_option *o, const char *arg, struct config *c, char *why,
		     size_t whylen)
{
	unsigned long long b;
	char *end;

	errno = 0;
	b = strtoull(arg, &end, 0);
	if (errno || end == arg || *end || b < 1024 || b > (1ULL << 40)) {
		snprintf(why, whylen, "'%s' is not a number of bytes from 1024 to 2^40", arg);
		return CLI_BAD;
	}
	*(uint64_t *)field(o, c) = b;
	return 0;
}

static int set_warn_days(const struct cli_option *o, const char *arg, struct config *c, char *why,
			 size_t whylen)
{
	uint32_t d;

	if (parse_u32(o, arg, &d, why, whylen))
		return CLI_BAD;
	*(int *)field(o, c) = d ? (int)d : -1; /* 0: no expiry warnings */
	return 0;
}

static int add_str(const struct cli_option *o, const char *arg, struct config *c, char *why,
		   size_t whylen)
{
	int *n = (int *)((char *)c + o->n_off);

	if (*n < 0 || (uint32_t)*n >= o->max) {
		snprintf(why, whylen, "at most %u", o->max);
		return CLI_BAD;
	}
	((const char **)field(o, c))[(*n)++] = arg;
	return 0;
}

static int set_format(const struct cli_option *o, const char *arg, struct config *c, char *why,
		      size_t whylen)
{
	int f = format_parse(arg);

	if (f < 0) {
		snprintf(why, whylen, "'%s' is not %s", arg, format_names());
		return CLI_BAD;
	}
	*(enum output_format *)field(o, c) = f;
	c->format_set = true; /* the lists print text unless asked */
	return 0;
}

static int set_syslog(const struct cli_option *o, const char *arg, struct config *c, char *why,
		      size_t whylen)
{
	(void)why;
	(void)whylen;
	*(const char **)field(o, c) = arg ? arg : "/dev/log";
	return 0;
}

static int set_syslog_server(const struct cli_option *o, const char *arg, struct config *c,
			     char *why, size_t whylen)
{
	const char *hostport;

	if (!syslog_server_sink(arg, &hostport)) {
		snprintf(why, whylen, "'%s' is not udp://HOST:PORT or tcp://HOST:PORT", arg);
		return CLI_BAD;
	}
	*(const char **)field(o, c) = arg;
	return 0;
}

static int set_syslog_format(const struct cli_option *o, const char *arg, struct config *c,
			     char *why, size_t whylen)
{
	int f = syslog_format_parse(arg);

	if (f < 0) {
		snprintf(why, whylen, "'%s' is not 3164 or 5424", arg);
		return CLI_BAD;
	}
	*(int *)field(o, c) = f;
	return 0;
}

static int set_event_socket(const struct cli_option *o, const char *arg, struct config *c,
			    char *why, size_t whylen)
{
	(void)why;
	(void)whylen;
	*(const char **)field(o, c) = arg ? arg : SINK_SOCKET_DEFAULT;
	return 0;
}

static int add_sni(const struct cli_option *o, const char *arg, struct config *c, char *why,
		   size_t whylen)
{
	return filter_add_sni(field(o, c), arg, why, whylen) ? CLI_BAD : 0;
}

static int add_port(const struct cli_option *o, const char *arg, struct config *c, char *why,
		    size_t whylen)
{
	return filter_add_port(field(o, c), arg, why, whylen) ? CLI_BAD : 0;
}

static int add_host(const struct cli_option *o, const char *arg, struct config *c, char *why,
		    size_t whylen)
{
	return filter_add_host(field(o, c), arg, why, whylen) ? CLI_BAD : 0;
}

static int set_color(const struct cli_option *o, const char *arg, struct config *c, char *why,
		     size_t whylen)
{
	static const char *const names[] = {
		[CLI_COLOR_AUTO] = "auto", [CLI_COLOR_ALWAYS] = "always", [CLI_COLOR_NEVER] = "never"
	};

	for (int i = 0; i < 3; i++)
		if (!strcmp(arg ? arg : "always", names[i])) {
			*(enum cli_color *)field(o, c) = (enum cli_color)i;
			return 0;
		}
	snprintf(why, whylen, "'%s' is not auto, always or never", arg);
	return CLI_BAD;
}

/* "now", "packet", or RFC 3339 UTC ("2024-05-01T12:00:00Z", "2024-05-01"). */
static int set_check_time(const struct cli_option *o, const char *arg, struct config *c, char *why,
			  size_t whylen)
{
	int64_t *when = field(o, c);
	struct tm tm = { 0 };
	const char *end;

	if (!strcmp(arg, "now") || !strcmp(arg, "packet")) {
		*when = !strcmp(arg, "now") ? FLOW_CHECK_NOW : FLOW_CHECK_PACKET;
		return 0;
	}
	end = strptime(arg, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		end = strptime(arg, "%Y-%m-%d", &tm);
	if (end && (!*end || !strcmp(end, "Z")) && (*when = timegm(&tm)) > 0)
		return 0;
	snprintf(why, whylen, "'%s' is not now, packet or YYYY-MM-DD[THH:MM:SSZ]", arg);
	return CLI_BAD;
}

static int add_ignore(const struct cli_option *o, const char *arg, struct config *c, char *why,
		      size_t whylen)
{
	int code = finding_parse(arg);

	if (code < 0) {
		snprintf(why, whylen, "'%s' is not a finding code (e.g. cert.expiring_soon)", arg);
		return CLI_BAD;
	}
	finding_set_add(field(o, c), (enum finding_code)code);
	return 0;
}

static int set_list(const struct cli_option *o, const char *arg, struct config *c, char *why,
		    size_t whylen)
{
	enum cli_list *list = field(o, c);

	(void)arg;
	if (*list && *list != (enum cli_list)o->min) {
		snprintf(why, whylen, "--list-findings and --list-events cannot be used together");
		return CLI_CONFLICT;
	}
	*list = (enum cli_list)o->min;
	return 0;
}

/* --uprobe (min 1), --no-uprobe (min 0) */
static int set_uprobe(const struct cli_option *o, const char *arg, struct config *c, char *why,
		      size_t whylen)
{
	(void)arg;
	(void)why;
	(void)whylen;
	*(int *)field(o, c) = (int)o->min;
	return 0;
}

static int add_pid(const struct cli_option *o, const char *arg, struct config *c, char *why,
		   size_t whylen)
{
	int *n = (int *)((char *)c + o->n_off);
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < 1 || v > (1L << 22)) {
		snprintf(why, whylen, "'%s' is not a process id", arg);
		return CLI_BAD;
	}
	if (*n < 0 || (uint32_t)*n >= o->max) {
		snprintf(why, whylen, "at most %u", o->max);
		return CLI_BAD;
	}
	((pid_t *)field(o, c))[(*n)++] = (pid_t)v;
	return 0;
}

/* ---- the table's interface ---- */

const struct cli_option *cli_option_find(const char *name)
{
	for (size_t i = 0; i < N_OPTIONS; i++)
		if (!strcmp(options[i].name, name))
			return &options[i];
	return NULL;
}

const char *cli_option_name(size_t i, bool *hidden)
{
	if (i >= N_OPTIONS)
		return NULL;
	if (hidden)
		*hidden = options[i].hidden;
	return options[i].name;
}

int cli_apply(struct config *c, const struct cli_option *o, const char *arg, char *why,
	      size_t whylen)
{
	why[0] = '\0';
	if (o->arg && !o->arg_optional && !arg) {
		snprintf(why, whylen, "needs a value (%s)", o->arg);
		return CLI_BAD;
	}
	if (!o->arg && arg && o->parse != set_flag) {
		snprintf(why, whylen, "takes no value");
		return CLI_BAD;
	}
	return o->parse(o, arg, c, why, whylen);
}

bool cli_option_file_ok(const struct cli_option *o)
{
	return !o->no_file;
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static bool option_eq(const struct cli_option *o, const struct config *a, const struct config *b)
{
	const void *fa = (const char *)a + o->off, *fb = (const char *)b + o->off;

	if (o->parse == add_str) {
		int n = *(const int *)((const char *)a + o->n_off);

		if (n != *(const int *)((const char *)b + o->n_off))
			return false;
		for (int i = 0; i < n; i++)
			if (!str_eq(((const char *const *)fa)[i], ((const char *const *)fb)[i]))
				return false;
		return true;
	}
	if (o->parse == set_str || o->parse == set_syslog)
		return str_eq(*(const char *const *)fa, *(const char *const *)fb);
	return !memcmp(fa, fb, o->size);
}

unsigned cli_restart_needed(const struct config *old, const struct config *new, char *buf,
			    size_t len)
{
	unsigned n = 0;
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct cli_option *o = &options[i];

		if (o->live || o->no_file || option_eq(o, old, new))
			continue;
		if (used < len)
			used += snprintf(buf + used, len - used, "%s%s", n ? "," : "", o->name);
		n++;
	}
	return n;
}

int cli_check(const struct config *c, char *why, size_t whylen)
{
	if (c->read_file && c->cap.n_ifaces) {
		snprintf(why, whylen, "-r and -i cannot be used together");
		return -1;
	}
	if (c->syslog_format && !c->syslog && !c->syslog_server) {
		snprintf(why, whylen, "--syslog-format needs --syslog or --syslog-server");
		return -1;
	}
	if (c->syslog_queue && (!c->syslog_server || strncmp(c->syslog_server, "tcp://", 6))) {
		snprintf(why, whylen, "--syslog-queue needs --syslog-server tcp://");
		return -1;
	}
	if (c->event_socket && c->read_file) {
		snprintf(why, whylen, "--event-socket serves a live capture, not -r");
		return -1;
	}
	if (c->read_file && c->confirm) {
		snprintf(why, whylen,
			 "--confirm is live only: a capture's servers are not "
			 "asked again (-r)");
		return -1;
	}
	if (!c->confirm &&
	    (c->confirm_ttl_s || c->confirm_rate || c->confirm_timeout_ms || c->confirm_remote)) {
		snprintf(why, whylen,
			 "--confirm-ttl, --confirm-rate, --confirm-timeout and "
			 "--confirm-remote need --confirm");
		return -1;
	}
	if (c->read_file && sources_wanted(&c->src)) {
		snprintf(why, whylen, "--inventory and --fetch-* work live only, not with -r");
		return -1;
	}
	if (c->read_file && c->uprobe == 1) {
		snprintf(why, whylen, "--uprobe watches local servers live: not with -r");
		return -1;
	}
	if ((c->up.n_pids || c->up.n_paths) && !c->uprobe) {
		snprintf(why, whylen,
			 "--uprobe-pid and --uprobe-path need the uprobes: not with "
			 "--no-uprobe");
		return -1;
	}
	return 0;
}

/* ---- argp, built from the table ---- */

/* Long-only options get argp keys past every character. */
#define KEY_BASE 0x100

static const struct cli_option *by_key(int key)
{
	if (key >= KEY_BASE && key < KEY_BASE + (int)N_OPTIONS)
		return &options[key - KEY_BASE];
	for (size_t i = 0; i < N_OPTIONS; i++)
		if (options[i].key && options[i].key == key)
			return &options[i];
	return NULL;
}

/* One pass of argp over the command line. */
struct parse_ctx {
	struct config *c;
	bool seen[N_OPTIONS]; /* given on this command line already */
	bool quiet;	      /* a reload: why into err, nothing printed */
	char err[1024];
};

/* Options of which the command line's one replaces the file's other. */
static const char *const overrides[][2] = {
	{ "read", "interface" },
	{ "interface", "read" },
};

/* o back to its value before any option (a list: empty). */
static void option_reset(const struct cli_option *o, struct config *c)
{
	struct config d;

	config_defaults(&d);
	if (o->n_off)
		*(int *)((char *)c + o->n_off) = 0;
	memcpy((char *)c + o->off, (char *)&d + o->off, o->size);
}

/* The command line's first use of o: what the file gave o (and what o
 * excludes) goes, unless the command line gave that too. */
static void cmdline_first(struct parse_ctx *p, const struct cli_option *o)
{
	size_t i = (size_t)(o - options);

	if (p->seen[i])
		return;
	p->seen[i] = true;
	if (o->n_off || o->parse == add_ignore)
		option_reset(o, p->c);
	for (size_t k = 0; k < sizeof(overrides) / sizeof(overrides[0]); k++) {
		const struct cli_option *x = cli_option_find(overrides[k][1]);

		if (!strcmp(overrides[k][0], o->name) && x && !p->seen[x - options])
			option_reset(x, p->c);
	}
}

static error_t parse_fail(struct argp_state *state, struct parse_ctx *p, const char *msg)
{
	if (!p->quiet)
		argp_error(state, "%s", msg);
	snprintf(p->err, sizeof(p->err), "%s", msg);
	return EINVAL;
}

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	struct parse_ctx *p = state->input;
	const struct cli_option *o = by_key(key);
	char why[512], msg[640];
	int rc;

	if (key == ARGP_KEY_END) {
		if (cli_check(p->c, why, sizeof(why)))
			return parse_fail(state, p, why);
		return 0;
	}
	if (!o)
		return ARGP_ERR_UNKNOWN;
	cmdline_first(p, o);
	rc = cli_apply(p->c, o, arg, why, sizeof(why));
	if (rc == CLI_CONFLICT)
		return parse_fail(state, p, why);
	if (rc) {
		if (o->cite)
			snprintf(msg, sizeof(msg), "%s: %s", o->cite, why);
		else
			snprintf(msg, sizeof(msg), "--%s: %s", o->name, why);
		return parse_fail(state, p, msg);
	}
	return 0;
}

/* The argp options of the groups asked for, each group after its title,
 * groups in order (argp gives an entry without a group its predecessor's). */
static void argp_options(uint32_t groups, struct argp_option *out)
{
	size_t n = 0;

	for (int g = 0; g < CLI_G_MAX; g++) {
		if (!(groups & (1u << g)))
			continue;
		if (group_titles[g])
			out[n++] = (struct argp_option){ .doc = group_titles[g], .group = g };
		for (size_t i = 0; i < N_OPTIONS; i++) {
			const struct cli_option *o = &options[i];

			/* also: once, under the first such group, if its own is not taken */
			if (o->group != (enum cli_group)g &&
			    ((groups & (1u << o->group)) || !(o->also & groups) ||
			     __builtin_ctz(o->also & groups) != g))
				continue;
			out[n++] = (struct argp_option){
				.name = o->name,
				.key = o->key ? o->key : KEY_BASE + (int)i,
				.arg = o->arg,
				.flags = (o->arg_optional ? OPTION_ARG_OPTIONAL : 0) |
					 (o->hidden ? OPTION_HIDDEN : 0),
				.doc = o->help,
				.group = g,
			};
		}
	}
	out[n] = (struct argp_option){ 0 };
}

/* What a reload needs to parse the same command line again. */
static struct {
	int argc;
	char **argv; /* the command's: argv[0] "certsentry NAME" */
	const struct cli_command *cmd;
	struct conffile *file; /* the one cli_parse() applied */
} parsed;

const struct conffile *cli_conffile(void)
{
	return parsed.file;
}

/* The file asked for, or the default one if it is there; NULL: none. */
static const char *conffile_name(const struct config *c)
{
	if (c->config_file)
		return *c->config_file ? c->config_file : NULL;
	return access(CONFFILE_DEFAULT, F_OK) ? NULL : CONFFILE_DEFAULT;
}

/* Defaults, the file, the command line: 0, -1 (err set unless argp printed
 * it: *printed), with *f the file's values. */
static int parse_all(struct config *c, const char *path, bool quiet, struct conffile **f, char *err,
		     size_t errlen)
{
	struct argp_option opts[N_OPTIONS + CLI_G_MAX + 1];
	struct argp argp = { .options = opts, .parser = parse_arg, .doc = parsed.cmd->doc };
	struct parse_ctx *p = calloc(1, sizeof(*p));
	int rc;

	*f = NULL;
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	config_defaults(c);
	if (path && !(*f = conffile_apply(path, c, err, errlen))) {
		free(p);
		return -1;
	}
	p->c = c;
	p->quiet = quiet;
	argp_options(parsed.cmd->groups, opts);
	rc = argp_parse(&argp, parsed.argc, parsed.argv, quiet ? ARGP_SILENT : 0, NULL, p);
	if (rc) {
		snprintf(err, errlen, "%s", p->err[0] ? p->err : "the command line");
		conffile_free(*f);
		*f = NULL;
	}
	free(p);
	return rc ? -1 : 0;
}

int cli_reload(struct config *c, struct conffile **f, char *err, size_t errlen)
{
	struct config first;

	if (!parsed.cmd) {
		snprintf(err, errlen, "nothing parsed yet");
		return -1;
	}
	/* --config itself comes from the command line only */
	if (parse_all(&first, NULL, true, f, err, errlen))
		return -1;
	return parse_all(c, conffile_name(&first), true, f, err, errlen);
}

const struct cli_command *cli_parse(int argc, char **argv, const struct cli_command *cmds,
				    size_t n_cmds, struct config *c)
{
	const struct cli_command *cmd = NULL;
	char **av, *name = NULL, err[1024];
	const char *path;
	bool check;

	for (size_t i = 0; i < n_cmds && argc > 1; i++)
		if (cmds[i].name && !strcmp(cmds[i].name, argv[1]))
			cmd = &cmds[i];
	for (size_t i = 0; i < n_cmds && !cmd; i++)
		if (!cmds[i].name)
			cmd = &cmds[i];
	if (!cmd)
		return NULL;
	/* kept for a reload: argp may permute it */
	if (!(av = calloc((size_t)argc + 1, sizeof(*av))))
		return NULL;
	memcpy(av, argv, (size_t)argc * sizeof(*av));
	if (cmd->name) {
		/* "certsentry NAME" is the program in argp's messages */
		if (asprintf(&name, "%s %s", argv[0], cmd->name) < 0) {
			free(av);
			return NULL;
		}
		av[0] = name;
		memmove(av + 1, av + 2, (size_t)(argc - 2) * sizeof(*av));
		av[--argc] = NULL;
	}
	conffile_free(parsed.file);
	if (parsed.cmd && parsed.cmd->name)
		free(parsed.argv[0]);
	free(parsed.argv);
	parsed.argc = argc;
	parsed.argv = av;
	parsed.cmd = cmd;
	parsed.file = NULL;
	/* the command line once alone: its own errors, and which file */
	if (parse_all(c, NULL, false, &parsed.file, err, sizeof(err)))
		return NULL;
	if (!(path = conffile_name(c)))
		return cmd;
	check = c->check_config;
	/* argp prints and exits on its own errors; what is left is the file's */
	if (parse_all(c, path, false, &parsed.file, err, sizeof(err))) {
		fprintf(stderr, check ? "%s\n" : "certsentry: %s\n", err);
		return NULL;
	}
	return cmd;
}
