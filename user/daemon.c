/* daemon.c - one run: capture or pcap -> flow -> checks -> dedup -> output, and the loops. */
#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "capture.h"
#include "cert.h"
#include "checks.h"
#include "clock.h"
#include "confirm.h"
#include "conffile.h"
#include "counters.h"
#include "daemon.h"
#include "dedup.h"
#include "encports.h"
#include "events.h"
#include "filter.h"
#include "flow.h"
#include "fmt.h"
#include "keylog.h"
#include "lists.h"
#include "metrics.h"
#include "outcomes.h"
#include "output.h"
#include "pcap.h"
#include "periodic.h"
#include "privdrop.h"
#include "procscan.h"
#include "sources.h"
#include "syslog_msg.h"
#include "uprobe.h"
#include "term.h"
#include "watch.h"

/* Longest wait of a record the kernel did not wake us for; also the period
 * of the metrics and list-reload checks. */
#define POLL_MS 50
/* A batch of ring records is cut short for a line that has waited this long
 * for the batch's flush; lines whose latency waits for their flush, at most. */
#define LINE_HOLD_NS   250000ULL
#define LINES_HELD_MAX 64

/* The live loop's periodic tasks, by index in struct app's table. */
enum {
	T_LISTS,
	T_METRICS,
	T_SINKS,
	T_SOURCES,
	T_FLOWS,
	T_OUTCOMES,
	T_DEDUP,
	T_DROPS,
	T_STATS,
	T_KEYS,
	T_TERM,
	T_MAX
};

struct app {
	const struct config *cfg;  /* &cur */
	struct config cur;	   /* the command line's and the file's; SIGHUP: lists anew */
	struct conffile *reloaded; /* the last SIGHUP's file: cur.lists points into it */
	struct output *out;
	struct capture *cap;	  /* NULL offline */
	struct pcap_source *pcap; /* NULL live */
	struct flow_table *flows;
	struct cert_cache *certs;
	struct lists *lists; /* the generation in force */
	struct checker *checker;
	struct dedup *dedup;
	struct watch *watch;
	struct metrics *metrics;
	struct confirm *confirm; /* --confirm, live */
	struct outcomes *outcomes;
	struct sources *src;	/* fetched sources, inventory; NULL when off */
	struct term_view *term; /* live, stderr a terminal: status line, exit table */
	bool term_shown;	/* the status line is on stderr now */
	const struct pcap_source_stats *pcap_stats; /* offline, once the file is read */
	struct app_counters counters;
	struct periodic tasks[T_MAX]; /* live */
	uint64_t rb_drops;	      /* ring-buffer drops already reported */
	/* TLS 1.3 key sources */
	struct keylog *keylog; /* secrets: --keylog files, Go uprobes */
	struct keylog_file *kfiles[CLI_KEYLOG_FILES_MAX];
	int n_kfiles;
	struct uprobe *uprobe;
	bool secrets_new;    /* since flow_keys_arrived */
	bool copy_encrypted; /* the source copies TLS 1.3's encrypted flight */
	/* ... only to these server ports (the Go servers the uprobe source
	 * found; NULL: to all): the flow stage's and the kernel's set */
	struct encports *enc_ports;
	bool uprobe_frozen; /* privileges dropped: uprobe_freeze before */
	/* ... local server ports said not covered (keysrc_hidden), a bit each */
	struct cs_port_set uncovered;
	/* ... the ports listening in our namespace, read at most once per
	 * rescan period (0: never read), not per hidden handshake */
	struct cs_port_set listening;
	uint64_t listening_ns;
	/* Lines handed to the output since its last flush (lines_flush): the
	 * kernel times of their packets, recorded as latency when they leave. */
	uint64_t held[LINES_HELD_MAX];
	uint32_t n_held;
	uint64_t held_since; /* when the first of them was handed on, 0: none */
};

static volatile sig_atomic_t exiting, reload_requested;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_requested = 1;
	else
		exiting = 1;
}

static uint64_t wall_ns(void)
{
	return (uint64_t)clock_ns(CLOCK_REALTIME);
}

static uint64_t mono_ns(void)
{
	return (uint64_t)clock_ns(CLOCK_MONOTONIC);
}

/* ---- status lines ---- */

/* The status line goes before any other line is written, so they never share one. */
static void term_clear(struct app *a)
{
	if (a->term_shown) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		a->term_shown = false;
	}
}

static void status(struct app *a, enum event_action action, const char *sev, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void status(struct app *a, enum event_action action, const char *sev, const char *fmt, ...)
{
	char msg[COUNTERS_LINE_MAX + 256]; /* a status line with every counter */
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	term_clear(a);
	output_status(a->out, wall_ns(), event_action_name(action), sev, msg);
}

static void read_counters(const struct app *a, struct counter_snap *c)
{
	const struct counter_src src = {
		.cap = a->cap,
		.pcap = a->pcap_stats,
		.flows = a->flows,
		.out = a->out,
		.dedup = a->dedup,
		.certs = a->certs,
		.lists = a->lists,
		.app = &a->counters,
		.confirm = a->confirm,
		.outcomes = a->outcomes,
		.sources = a->src,
		.keylog = a->keylog,
	};

	counters_read(&src, c);
}

static void metrics_read(void *ctx, struct counter_snap *c)
{
	read_counters(ctx, c);
}

static void stats_event(struct app *a, enum event_action action)
{
	struct counter_snap c;
	char line[COUNTERS_LINE_MAX];

	read_counters(a, &c);
	counters_line(&c, CL_LIVE | (a->confirm ? CL_CONFIRM : 0), line, sizeof(line));
	status(a, action, c.kernel[CS_C_RB_FAIL] ? "warning" : "info", "%s", line);
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

/* ---- the pipeline ---- */

/* The output's lines leave now. Live, their latency ends here: from the
 * packet that completed the handshake message, stamped by the kernel with
 * CLOCK_MONOTONIC, to the line flushed (the batch's lines leave together). */
static void lines_flush(struct app *a)
{
	uint64_t now;

	output_flush(a->out);
	if (!a->held_since)
		return;
	now = mono_ns();
	for (uint32_t i = 0; i < a->n_held; i++)
		hist_record(&a->counters.latency, (now - a->held[i]) / 1000);
	a->n_held = 0;
	a->held_since = 0;
}

/* A line handed to the output, about the packet at kernel time pkt_mono
 * (0: none, e.g. a rate alert). */
static void line_held(struct app *a, uint64_t pkt_mono)
{
	if (a->n_held == LINES_HELD_MAX)
		lines_flush(a);
	if (!a->held_since)
		a->held_since = mono_ns();
	if (pkt_mono)
		a->held[a->n_held++] = pkt_mono;
}

/* Live, each ring record: a line does not wait for the end of a long batch. */
static int live_segment(void *ctx, const struct cs_segment *s)
{
	struct app *a = ctx;
	int rc = flow_segment(a->flows, s);

	if (a->held_since && mono_ns() - a->held_since >= LINE_HOLD_NS)
		lines_flush(a);
	return rc;
}

/* flow -> checks -> dedup -> output: the verdict stages, in that order. */
static void filter_end(const struct report_endpoint *ep, struct filter_addr *fa)
{
	fa->family = ep->family;
	memcpy(fa->addr, ep->addr, sizeof(fa->addr));
}

/* --sni, --port, --host, --alerts-only (filter.c, as `certsentry tail`
 * asks it): --host may match either end. */
static bool report_passes(const struct filter *f, const struct cs_report *r, bool alert)
{
	const char *sni = r->has_sni ? r->sni : NULL;
	struct filter_addr s, c;

	if (!filter_active(f))
		return true;
	filter_end(&r->server, &s);
	filter_end(&r->client, &c);
	return filter_match(f, sni, r->server.port, s.family ? &s : NULL, alert) ||
	       (c.family && filter_match(f, sni, r->server.port, &c, alert));
}

static void keysrc_hidden(struct app *a, const struct cs_report *r);

static void on_report(void *ctx, const struct cs_report *r)
{
	struct app *a = ctx;
	struct cs_report copy = *r;
	struct verdict v;

	/* Our own confirm handshakes, seen by the capture: not news. */
	if (a->confirm && confirm_on_report(a->confirm, r, mono_ns()))
		return;
	if (a->cap && r->ifindex)
		copy.ifname = capture_ifname(a->cap, r->ifindex);
	outcomes_annotate(a->outcomes, &copy);
	checks_run(a->checker, &copy, &v);
	copy.verdict = &v;
	a->counters.verdicts[verdict_slot(&v)]++;
	for (uint32_t i = 0; i < v.n; i++)
		a->counters.findings[v.f[i].code]++;
	if (a->term)
		term_view_report(a->term, &copy, verdict_name(&v), v.n > 0);
	dedup_flush(a->dedup, r->ts_ns, false);
	/* filters choose what is written: every stage above saw the handshake
	 * (but for --port's other ports: those were never copied) */
	if (!report_passes(&a->cfg->filter, &copy, v.n > 0))
		goto counted;
	/* Every TLS 1.3 handshake has an outcome: only a refusal is news. */
	if (!a->cfg->every && outcomes_quiet(&copy, v.n > 0))
		goto counted;
	/* A rate alert and its clearing are each news: never folded into a summary. */
	if (r->action == REPORT_CLIENT_ABORTING || r->action == REPORT_CLIENT_ABORTING_CLEARED ||
	    dedup_admit(a->dedup, &copy, verdict_name(&v), v.worst, r->ts_ns)) {
		term_clear(a); /* the line leaves at the batch's flush, before a redraw */
		output_report(a->out, &copy);
		line_held(a, r->mono_ns);
	}
counted:
	sources_hold(a->src, &copy, &v);
	/* Counted after its own line: an alert it raises follows it. */
	outcomes_count(a->outcomes, &copy);
	if (r->action == REPORT_CERTIFICATE_HIDDEN)
		keysrc_hidden(a, r);
}

/* outcomes.c's tls-client-aborting(-cleared): judged and written like a handshake. */
static struct outcomes *outcomes_open(struct app *a)
{
	struct outcomes_opts o = a->cfg->outcomes;

	o.emit = on_report;
	o.ctx = a;
	return outcomes_new(&o);
}

/* ---- fetched sources and the inventory: setup, tick, teardown ---- */

/* A chain judged again after a fetch, whose verdict changed: written at
 * once, past dedup (it is news). */
static void on_followup(void *ctx, const struct cs_report *r)
{
	struct app *a = ctx;

	a->counters.verdicts[r->verdict->n ? r->verdict->f[0].code : F_MAX]++;
	for (uint32_t i = 0; i < r->verdict->n; i++)
		a->counters.findings[r->verdict->f[i].code]++;
	output_report(a->out, r);
	output_flush(a->out);
}

static void on_source_status(void *ctx, enum event_action action, const char *sev, const char *msg)
{
	status(ctx, action, sev, "%s", msg);
}

static size_t metrics_certs(void *ctx, char *buf, size_t cap)
{
	return sources_metrics(((struct app *)ctx)->src, buf, cap);
}

static int sources_setup(struct app *a)
{
	char err[512];

	if (!sources_wanted(&a->cfg->src))
		return 0;
	a->src = sources_open(&a->cfg->src, a->certs, a->checker, on_source_status, on_followup, a,
			      err, sizeof(err));
	if (!a->src) {
		fprintf(stderr, "certsentry: %s\n", err);
		return -1;
	}
	metrics_set_extra(a->metrics, metrics_certs, a);
	return 0;
}

/* Fetches moved on (never waiting), follow-ups, the inventory flushed. */
static void task_sources(void *ctx, uint64_t now)
{
	(void)now;
	sources_tick(((struct app *)ctx)->src, wall_ns());
}

static void sources_teardown(struct app *a)
{
	sources_close(a->src);
	a->src = NULL;
}

static void on_summary(void *ctx, const struct dedup_summary *s)
{
	term_clear(ctx);
	output_summary(((struct app *)ctx)->out, s);
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

/* The flow needs no more bytes of this direction: the source stops copying. */
static void on_done(void *ctx, const struct cs_flow_key *k)
{
	struct app *a = ctx;

	if (a->cap)
		capture_flow_done(a->cap, k);
	else if (a->pcap)
		pcap_source_done(a->pcap, k);
}

/* A new generation replaces the old only once it loaded completely. */
static void reload_lists(struct app *a)
{
	char err[512];
	struct lists *l = lists_load(&a->cfg->lists, err, sizeof(err));

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

/* The list files whose changes trigger a reload. */
static int watched_paths(const struct lists_opts *o, const char **p)
{
	int n = 0;

	if (o->ca_file)
		p[n++] = o->ca_file;
	if (o->ca_path)
		p[n++] = o->ca_path;
	if (o->deny_file)
		p[n++] = o->deny_file;
	if (o->pins_file)
		p[n++] = o->pins_file;
	for (int i = 0; i < o->n_crl && n < WATCH_PATHS_MAX; i++)
		p[n++] = o->crl_paths[i];
	return n;
}

/* ---- TLS 1.3 key sources: --keylog files, --uprobe ---- */

/* The key store's clock: offline every secret is as old as the capture. */
static uint64_t keylog_now(const struct app *a)
{
	return a->cfg->read_file ? 0 : mono_ns();
}

/* What the key-log files have now; a problem is said once, while it lasts. */
static void keylogs_read(struct app *a)
{
	struct keylog_stats before, after;
	char err[512];
	int rc, rounds;

	keylog_get_stats(a->keylog, &before);
	for (int i = 0; i < a->n_kfiles; i++) {
		rounds = 64; /* bounded per call; the rest next tick */
		while ((rc = keylog_file_read(a->kfiles[i], a->keylog, keylog_now(a), err,
					      sizeof(err))) == 1 &&
		       --rounds)
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

/* The Go servers' ports changed: the kernel copies their flights, the
 * flow stage expects them. */
static void on_go_ports(void *ctx, const struct encports *ports)
{
	struct app *a = ctx;
	int rc;

	if (!a->enc_ports)
		return;
	*a->enc_ports = *ports;
	if (a->cap && (rc = capture_enc_ports(a->cap, a->enc_ports)))
		status(a, EV_UPROBE, "warning", "Go servers' ports to the kernel: %s",
		       strerror(-rc));
}

/* A TLS 1.3 handshake no source saw the chain of. With the uprobes frozen by
 * the privilege drop, a server this host listens on (in our network
 * namespace) is one they do not cover: said once per port, counted. */
static void keysrc_hidden(struct app *a, const struct cs_report *r)
{
	uint64_t period =
		(a->cfg->up.rescan_ms ? a->cfg->up.rescan_ms : UPROBE_RESCAN_MS) * 1000000ULL;
	uint16_t port = r->server.port;
	uint64_t now;

	if (!a->uprobe || !a->uprobe_frozen || cs_port_in(&a->uncovered, port))
		return;
	/* A burst of hidden handshakes (to remote servers, most of them) reads
	 * /proc once; a server started since is said at its first hidden
	 * handshake after the next read. */
	now = mono_ns();
	if (!a->listening_ns || now - a->listening_ns >= period) {
		procscan_listening_ports("/proc/self/net", &a->listening);
		a->listening_ns = now;
	}
	if (!cs_port_in(&a->listening, port))
		return;
	cs_port_set_add(&a->uncovered, port);
	a->counters.uprobe_uncovered++;
	status(a, EV_UPROBE, "warning",
	       "TLS 1.3 server on local port %u: its chain is not seen: its binary was not "
	       "attached before privileges were dropped (restart certsentry, or run it with "
	       "--uprobe to keep the privileges)",
	       port);
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

	if (keylog_add(a->keylog, label, client_random, secret, len, keylog_now(a)) == KEYLOG_ADDED)
		a->secrets_new = true;
}

/* Will run_live drop privileges (privdrop.h)? Then the uprobe source
 * attaches before and stays as it is (uprobe_freeze), unless --uprobe asked
 * to keep the privileges for following new servers. */
static bool privileges_dropped(const struct config *cfg)
{
	return !cfg->drop.no_drop && (cfg->drop.user || getpwnam(PRIVDROP_DEFAULT_USER));
}

/* Before the flow stage and the capture: what decides fo's key sources and
 * whether the encrypted flight is copied. 0, or the exit code. */
static int keysrc_open(struct app *a, struct flow_opts *fo)
{
	const struct uprobe_cbs cb = {
		.on_chain = on_served,
		.on_secret = on_go_secret,
		.on_go_ports = on_go_ports,
		.ctx = a,
	};
	const struct config *cfg = a->cfg;
	bool live = !cfg->read_file;
	char err[512];
	int rc = 0;

	if (!cfg->n_keylog && !(live && cfg->uprobe))
		return 0;
	/* Until the uprobe source says otherwise (files copy for all). */
	if (!cfg->n_keylog && !(a->enc_ports = calloc(1, sizeof(*a->enc_ports)))) {
		fprintf(stderr, "certsentry: out of memory\n");
		return 1;
	}
	if (!(a->keylog = keylog_new(NULL))) {
		fprintf(stderr, "certsentry: out of memory\n");
		return 1;
	}
	for (int i = 0; i < cfg->n_keylog; i++) {
		a->kfiles[i] = keylog_file_open(cfg->keylog_paths[i], live, err, sizeof(err));
		if (!a->kfiles[i]) {
			fprintf(stderr, "certsentry: --keylog: %s\n", err);
			return 2;
		}
		a->n_kfiles++;
		/* offline: every secret before the first packet */
		while (!live &&
		       (rc = keylog_file_read(a->kfiles[i], a->keylog, 0, err, sizeof(err))) == 1)
			;
		if (!live && rc < 0)
			status(a, EV_KEYLOG_ERROR, "warning", "%s", err);
	}
	if (live && cfg->uprobe) {
		struct uprobe_opts uo = cfg->up;

		/* Under the drop: the system's libssl too, for servers started later. */
		a->uprobe_frozen = cfg->uprobe == -1 && privileges_dropped(cfg);
		uo.system_ssl = a->uprobe_frozen;
		a->uprobe = uprobe_open(&uo, &cb, err, sizeof(err));
		a->uprobe_frozen = a->uprobe && a->uprobe_frozen;
		if (!a->uprobe && (cfg->uprobe == 1 || cfg->up.n_pids || cfg->up.n_paths)) {
			fprintf(stderr, "certsentry: --uprobe: %s\n", err);
			return 2;
		}
		if (!a->uprobe)
			status(a, EV_UPROBE, "warning",
			       "no uprobes (TLS 1.3 chains of local servers stay hidden): %s", err);
		else if (a->uprobe_frozen)
			status(a, EV_UPROBE, "info",
			       "uprobes attached before privileges are dropped: the servers found "
			       "now and any later one using the system's libssl.so.3; a new binary "
			       "(a Go server, another OpenSSL) needs a restart, or --uprobe to keep "
			       "the privileges");
		else
			status(a, EV_UPROBE, "info",
			       "uprobes attached: local TLS servers' chains are seen");
	}
	if (!a->n_kfiles && !a->uprobe) { /* no key source after all */
		keylog_free(a->keylog);
		a->keylog = NULL;
		free(a->enc_ports);
		a->enc_ports = NULL;
		return 0;
	}
	fo->keylog = a->keylog;
	fo->wait_served = a->uprobe != NULL;
	fo->need_keys = a->n_kfiles ? need_keys : NULL;
	/* The server's encrypted flight, for the secrets: a key-log file may
	 * hold any connection's; the uprobes give Go servers' only (OpenSSL's
	 * give the chain itself). */
	if (a->n_kfiles || !uprobe_go_ports_known(a->uprobe)) {
		free(a->enc_ports);
		a->enc_ports = NULL;
	}
	fo->copy_encrypted = a->copy_encrypted = true;
	fo->enc_ports = a->enc_ports;
	return 0;
}

/* The main loop's turn: uprobe records, key-log lines, then the handshakes
 * that wait for them. */
static void keysrc_poll(struct app *a)
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
static void task_keys(void *ctx, uint64_t now)
{
	struct app *a = ctx;

	(void)now;
	if (a->keylog)
		keylog_expire(a->keylog, keylog_now(a));
}

static void keysrc_close(struct app *a)
{
	uprobe_close(a->uprobe);
	a->uprobe = NULL;
	for (int i = 0; i < a->n_kfiles; i++)
		keylog_file_close(a->kfiles[i]);
	a->n_kfiles = 0;
	keylog_free(a->keylog);
	a->keylog = NULL;
	free(a->enc_ports);
	a->enc_ports = NULL;
}

/* ---- live: the periodic tasks ---- */

/* SIGHUP with a config file: the file again; what the lists need applies
 * now, the rest is named for a restart. */
static void reload_config(struct app *a)
{
	const char *watched[WATCH_PATHS_MAX];
	struct config next;
	struct conffile *f;
	char err[1024], names[512];

	if (cli_reload(&next, &f, err, sizeof(err))) {
		status(a, EV_CONFIG_ERROR, "error", "%s; the settings in force stay", err);
		return;
	}
	if (!f && !cli_conffile())
		return; /* no file then or now: nothing to say */
	if (cli_restart_needed(&a->cur, &next, names, sizeof(names)))
		status(a, EV_CONFIG_RELOADED, "warning", "file=%s restart_needed=%s",
		       f ? conffile_path(f) : "none", names);
	else
		status(a, EV_CONFIG_RELOADED, "info", "file=%s restart_needed=none",
		       f ? conffile_path(f) : "none");
	a->cur.lists = next.lists;
	conffile_free(a->reloaded);
	a->reloaded = f;
	watch_free(a->watch);
	a->watch = watch_new(watched, watched_paths(&a->cur.lists, watched));
}

/* SIGHUP: the config file and lists again, and the -o file opened again by name (log rotation
 * renames it, then signals); a change of a list file: lists only. */
static void task_lists(void *ctx, uint64_t now)
{
	struct app *a = ctx;
	bool changed = watch_changed(a->watch);
	char err[512];

	(void)now;
	if (reload_requested && output_reopen(a->out, err, sizeof(err)))
		fprintf(stderr, "certsentry: %s; lines still go to the old file\n", err);
	if (reload_requested)
		reload_config(a);
	if (reload_requested || changed) {
		reload_requested = 0;
		reload_lists(a);
	}
}

static void task_metrics(void *ctx, uint64_t now)
{
	struct app *a = ctx;

	(void)now;
	if (a->metrics)
		metrics_poll(a->metrics);
}

/* The event socket takes in subscribers and sends what waits for them. */
static void task_sinks(void *ctx, uint64_t now)
{
	(void)now;
	output_poll(((struct app *)ctx)->out);
}

static void task_flows(void *ctx, uint64_t now)
{
	(void)now;
	flow_expire(((struct app *)ctx)->flows, wall_ns());
}

/* A (server, SNI) whose clients stopped coming clears by itself. */
static void task_outcomes(void *ctx, uint64_t now)
{
	(void)now;
	outcomes_tick(((struct app *)ctx)->outcomes, wall_ns());
}

static void task_dedup(void *ctx, uint64_t now)
{
	(void)now;
	dedup_flush(((struct app *)ctx)->dedup, wall_ns(), false);
}

/* Drops are news at once: a stats line now, and the next one a whole
 * interval later. */
static void task_drops(void *ctx, uint64_t now)
{
	struct app *a = ctx;
	uint64_t c[CS_C_MAX];

	capture_counters(a->cap, c);
	if (c[CS_C_RB_FAIL] <= a->rb_drops)
		return;
	a->rb_drops = c[CS_C_RB_FAIL];
	stats_event(a, EV_RINGBUF_DROPS);
	periodic_restart(&a->tasks[T_STATS], now);
}

static void task_stats(void *ctx, uint64_t now)
{
	(void)now;
	stats_event(ctx, EV_STATS);
}

/* The terminal's status line, redrawn in place. */
static void task_term(void *ctx, uint64_t now)
{
	struct app *a = ctx;
	struct flow_stats fs;
	uint64_t c[CS_C_MAX];
	char line[256];

	(void)now;
	if (!a->term)
		return;
	capture_counters(a->cap, c);
	flow_stats(a->flows, &fs);
	term_status_text(a->term, c[CS_C_RB_FAIL], fs.active, line, sizeof(line));
	fprintf(stderr, "\r\033[K%s", line);
	fflush(stderr);
	a->term_shown = true;
}

static void tasks_init(struct app *a)
{
	const uint64_t poll = POLL_MS * PERIODIC_NS_PER_MS, sec = PERIODIC_NS_PER_S;
	const uint64_t stats = a->cfg->stats_s * sec;
	const struct periodic t[T_MAX] = {
		/* a reload or a scrape may wait a poll; a syscall per ring wakeup is not free */
		[T_LISTS] = { .name = "lists", .period_ns = poll, .run = task_lists },
		[T_METRICS] = { .name = "metrics", .period_ns = poll, .run = task_metrics },
		[T_SINKS] = { .name = "sinks", .period_ns = poll, .run = task_sinks },
		[T_SOURCES] = { .name = "sources", .period_ns = poll, .run = task_sources },
		[T_FLOWS] = { .name = "flows", .period_ns = sec, .run = task_flows },
		[T_OUTCOMES] = { .name = "outcomes", .period_ns = sec, .run = task_outcomes },
		[T_DEDUP] = { .name = "dedup", .period_ns = sec, .run = task_dedup },
		[T_DROPS] = { .name = "drops", .period_ns = sec, .run = task_drops },
		[T_STATS] = { .name = "stats", .period_ns = stats, .run = task_stats },
		[T_KEYS] = { .name = "keys", .period_ns = sec, .run = task_keys },
		[T_TERM] = { .name = "term", .period_ns = sec, .run = task_term },
	};

	memcpy(a->tasks, t, sizeof(t));
	periodic_start(a->tasks, T_MAX, mono_ns());
}

/* ---- live: --confirm ---- */

static void on_confirm_failed(void *ctx, const struct confirm_failure *f)
{
	char ep[FMT_ENDPOINT_CAP], sni[4 * TLS_SNI_MAX + 8];

	/* The SNI came from a client: escaped, so it cannot fake a field. */
	fmt_safe(sni, sizeof(sni), f->has_sni ? f->sni : "-", FMT_WORD, TLS_SNI_MAX);
	status(ctx, EV_CONFIRM_FAILED, "warning", "server=%s sni=%s reason=%s elapsed_ms=%llu: %s",
	       fmt_endpoint(&f->server, ep, sizeof(ep)), sni, confirm_result_name(f->result),
	       (unsigned long long)f->elapsed_ms, f->detail);
}

/* Its reports join the pipeline at on_report, like the flow stage's. */
static int confirm_setup(struct app *a)
{
	const struct config *cfg = a->cfg;
	struct confirm_opts o = {
		.ttl_s = cfg->confirm_ttl_s,
		.rate = cfg->confirm_rate,
		.timeout_ms = cfg->confirm_timeout_ms,
		.remote = cfg->confirm_remote,
		.check_time = cfg->check_time,
		.certs = a->certs,
		.report = on_report,
		.failed = on_confirm_failed,
		.ctx = a,
	};
	char err[256];

	if (!cfg->confirm)
		return 0;
	if (!(a->confirm = confirm_new(&o, err, sizeof(err)))) {
		fprintf(stderr, "certsentry: %s\n", err);
		return -1;
	}
	return 0;
}

/* Every loop turn: the handshakes move on, their lines leave now. */
static void confirm_run(struct app *a)
{
	if (!a->confirm)
		return;
	confirm_tick(a->confirm, mono_ns());
	lines_flush(a);
}

static void confirm_teardown(struct app *a)
{
	confirm_free(a->confirm);
	a->confirm = NULL;
}

/* ---- live ---- */

static const char *ifaces_text(const struct capture_opts *o, char *buf, size_t len)
{
	size_t n = 0;

	if (!o->n_ifaces)
		return "every interface that is up, except lo";
	buf[0] = '\0';
	for (int i = 0; i < o->n_ifaces && n < len; i++)
		n += snprintf(buf + n, len - n, "%s%s", i ? "," : "", o->ifaces[i]);
	return buf;
}

/* The program loaded and attached, /metrics listening: 0, or the exit status. */
static int live_open(struct app *a)
{
	struct capture_opts co = a->cfg->cap;
	char err[256];
	int rc;

	co.max_bytes = a->cfg->max_bytes;
	co.copy_encrypted = a->copy_encrypted;
	co.ports = a->cfg->filter.port; /* --port in the kernel too */
	co.n_ports = a->cfg->filter.n_port;
	co.copy_by_port = a->enc_ports != NULL;
	if (!(a->cap = capture_open(&co, err, sizeof(err)))) {
		fprintf(stderr, "certsentry: %s\n", err);
		return 1;
	}
	if (a->enc_ports && (rc = capture_enc_ports(a->cap, a->enc_ports))) {
		fprintf(stderr, "certsentry: Go servers' ports to the kernel: %s\n", strerror(-rc));
		capture_close(a->cap);
		a->cap = NULL;
		return 1;
	}
	if (a->cfg->metrics &&
	    !(a->metrics = metrics_start(a->cfg->metrics, metrics_read, a, err, sizeof(err)))) {
		fprintf(stderr, "certsentry: %s\n", err);
		capture_close(a->cap);
		a->cap = NULL;
		return 2;
	}
	if (confirm_setup(a)) {
		metrics_stop(a->metrics);
		a->metrics = NULL;
		capture_close(a->cap);
		a->cap = NULL;
		return 1;
	}
	if (sources_setup(a)) {
		confirm_teardown(a);
		metrics_stop(a->metrics);
		a->metrics = NULL;
		capture_close(a->cap);
		a->cap = NULL;
		return 2;
	}
	return 0;
}

static int run_live(struct app *a)
{
	struct privdrop_opts drop = a->cfg->drop;
	char fl[512], dropped[256];
	int rc, n;

	if ((rc = live_open(a)))
		return rc;
	drop.clsact = capture_uses_clsact(a->cap);
	if (a->uprobe && !a->uprobe_frozen && privileges_dropped(a->cfg))
		drop.no_drop = true; /* --uprobe asked for them */
	if (a->uprobe_frozen)
		uprobe_freeze(a->uprobe);
	if (privdrop_apply(&drop, dropped, sizeof(dropped))) {
		fprintf(stderr, "certsentry: %s\n", dropped);
		return 1;
	}
	status(a, EV_STARTED, "info", "capturing on %s; %s",
	       ifaces_text(&a->cfg->cap, fl, sizeof(fl)), dropped);
	lists_event(a, EV_LISTS_LOADED);
	tasks_init(a);
	while (!exiting) {
		/* The kernel wakes us for the server's flights only; the timeout
		 * bounds how long the rest (client certificates and alerts,
		 * closes) may wait in the ring on a quiet host. */
		n = capture_poll(a->cap, confirm_poll_ms(a->confirm, POLL_MS), live_segment, a);
		keysrc_poll(a);
		lines_flush(a); /* this batch's lines leave now */
		if (n < 0 && n != -EINTR) {
			fprintf(stderr, "certsentry: ring buffer: %s\n", strerror(-n));
			break;
		}
		periodic_run(a->tasks, T_MAX, mono_ns(), a);
		confirm_run(a);
	}
	return 0;
}

/* After the last packet: pending chains and summaries out, then the counters. */
static void finish_live(struct app *a)
{
	flow_drain(a->flows);
	dedup_flush(a->dedup, wall_ns(), true);
	lines_flush(a);
	stats_event(a, EV_STOPPED);
	confirm_teardown(a);
	sources_teardown(a);
	if (a->term) {
		output_flush(a->out);
		term_summary_print(a->term, stderr);
	}
	metrics_stop(a->metrics);
	a->metrics = NULL;
	capture_close(a->cap);
	a->cap = NULL;
}

/* ---- offline ---- */

static int run_offline(struct app *a)
{
	const struct config *cfg = a->cfg;
	const struct lists_opts *lo = &cfg->lists;
	char err[512], line[COUNTERS_LINE_MAX];
	struct pcap_source_stats ps;
	struct counter_snap c;
	struct pcap_source *src;
	int rc;

	src = pcap_source_open(cfg->read_file,
			       cfg->max_bytes ? cfg->max_bytes : CS_MAX_BYTES_DEFAULT, err,
			       sizeof(err));
	if (!src) {
		fprintf(stderr, "certsentry: %s\n", err);
		return 1;
	}
	a->pcap = src;
	pcap_source_copy_encrypted(src, a->copy_encrypted);
	for (uint32_t i = 0; i < cfg->filter.n_port; i++)
		pcap_source_port(src, cfg->filter.port[i]); /* as the kernel would */
	if (lo->ca_file || lo->ca_path || lo->n_crl || lo->deny_file || lo->pins_file)
		lists_event(a, EV_LISTS_LOADED);
	rc = pcap_source_run(src, flow_segment, a->flows, err, sizeof(err));
	a->pcap = NULL;
	pcap_source_stats(src, &ps);
	pcap_source_close(src);
	/* Whatever was read before an error is still reported. */
	flow_drain(a->flows);
	dedup_flush(a->dedup, wall_ns(), true);
	if (rc < 0) {
		fprintf(stderr, "certsentry: %s\n", err);
		status(a, EV_READ_ERROR, "error", "%s", err);
	}
	a->pcap_stats = &ps;
	read_counters(a, &c);
	a->pcap_stats = NULL;
	counters_line(&c, CL_READ, line, sizeof(line));
	status(a, EV_READ_DONE, rc < 0 ? "error" : "info", "file=%s %s", cfg->read_file, line);
	return rc < 0 ? 1 : 0;
}

/* ---- a run ---- */

/* --event-socket: every line also as JSON (built once) to subscribers. */
static int event_socket_open(struct app *a)
{
	const struct sink_opts so = { .group = a->cfg->event_socket_group,
				      .queue_bytes = a->cfg->event_socket_queue };
	char err[512] = "out of memory";
	struct sink *sink;

	if (!a->cfg->event_socket)
		return 0;
	if (!(sink = sink_open_opts("socket", a->cfg->event_socket, &so, err, sizeof(err))) ||
	    output_add_sink(a->out, sink, OUTPUT_JSON)) {
		fprintf(stderr, "certsentry: %s\n", err);
		return 2;
	}
	return 0;
}

/* One sink by its name in sinks.def onto the output: 0, or -1 with err set. */
static int sink_add(struct app *a, const char *name, const char *arg, const struct sink_opts *so,
		    enum output_format fmt, char *err, size_t errlen)
{
	struct sink *s = sink_open_opts(name, arg, so, err, errlen);

	return s && !output_add_sink(a->out, s, fmt) ? 0 : -1;
}

/* Where lines go, each a sink by its name in sinks.def: the -o file (stdout
 * if no sink is named), the syslog socket, a syslog server; any together.
 * 0, or the exit status; app_close() frees what was made. */
static int output_open(struct app *a)
{
	const struct config *cfg = a->cfg;
	const struct sink_opts so = {
		.syslog_format = cfg->syslog_format,
		.queue_bytes = cfg->syslog_queue,
	};
	const char *hp = NULL, *server = cfg->syslog_server ?
						 syslog_server_sink(cfg->syslog_server, &hp) :
						 NULL;
	char err[512] = "out of memory";
	bool to_tty = !cfg->syslog && !cfg->out_file && !server && isatty(STDOUT_FILENO);
	enum output_format fmt = cfg->format;

	/* a person reads a terminal; anything else gets JSON */
	if (!cfg->format_set && to_tty)
		fmt = OUTPUT_TEXT;
	format_text_color(
		term_color_wanted((enum term_color)cfg->color, to_tty, getenv("NO_COLOR")));
	if (!cfg->read_file && isatty(STDERR_FILENO) && !(a->term = term_view_new())) {
		fprintf(stderr, "certsentry: out of memory\n");
		return 1;
	}
	if (!(a->out = output_create())) {
		fprintf(stderr, "certsentry: out of memory\n");
		return 1;
	}
	if (((cfg->out_file || (!cfg->syslog && !server)) &&
	     sink_add(a, "file", cfg->out_file, &so, fmt, err, sizeof(err))) ||
	    (cfg->syslog && sink_add(a, "syslog", cfg->syslog, &so, fmt, err, sizeof(err))) ||
	    (server && sink_add(a, server, hp, &so, fmt, err, sizeof(err)))) {
		fprintf(stderr, "certsentry: %s\n", err);
		return 2;
	}
	return event_socket_open(a);
}

/* The stages after the source, and the first generation of lists. 0, or
 * the exit status. */
static int pipeline_open(struct app *a)
{
	const struct config *cfg = a->cfg;
	const char *watched[WATCH_PATHS_MAX];
	struct flow_opts fo = {
		/* Live, the packet's time is now; offline it is the capture's. */
		.check_time = cfg->check_time,
		.max_conns = cfg->max_conns,
		.max_mem = (uint64_t)cfg->max_mem_mb << 20,
		.report = on_report,
		.done = on_done,
		/* the live source copies them by cfg->cap too */
		.copy_encrypted = cfg->cap.copy_encrypted,
		.encrypted = cfg->cap.copy_encrypted ? on_encrypted : NULL,
		.ctx = a,
	};
	char err[512];
	int rc;

	a->copy_encrypted = cfg->cap.copy_encrypted;
	if ((rc = keysrc_open(a, &fo)))
		return rc;
	a->certs = cert_cache_new(CERT_CACHE_DEFAULT);
	fo.certs = a->certs;
	a->flows = flow_new(&fo);
	a->checker = checker_new(&cfg->checks);
	a->dedup = dedup_new(cfg->summary_s, cfg->every, on_summary, a);
	a->outcomes = outcomes_open(a);
	if (!a->certs || !a->flows || !a->checker || !a->dedup || !a->outcomes) {
		fprintf(stderr, "certsentry: out of memory\n");
		return 1;
	}
	if (!(a->lists = lists_load(&cfg->lists, err, sizeof(err)))) {
		fprintf(stderr, "certsentry: %s\n", err);
		return 2;
	}
	checker_set_lists(a->checker, a->lists);
	a->watch = watch_new(watched, watched_paths(&cfg->lists, watched));
	return 0;
}

static void app_close(struct app *a)
{
	if (a->cap)
		finish_live(a);
	flow_free(a->flows);
	keysrc_close(a);
	output_flush(a->out);
	watch_free(a->watch);
	dedup_free(a->dedup);
	outcomes_free(a->outcomes);
	checker_free(a->checker);
	lists_free(a->lists);
	cert_cache_free(a->certs);
	output_free(a->out);
	conffile_free(a->reloaded);
	term_view_free(a->term);
}

int daemon_run(const struct config *c)
{
	struct app a = { .cur = *c };
	int rc;

	a.cfg = &a.cur;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	if (!(rc = output_open(&a)) && !(rc = pipeline_open(&a)))
		rc = c->read_file ? run_offline(&a) : run_live(&a);
	app_close(&a);
	return rc;
}
