/* fetchdrive.c - drives the CRL, OCSP and AIA fetchers from a main loop of its own, one command a line. */
/*
 *   fetchdrive [options] < commands > JSON lines
 *
 * The loop is the daemon's in miniature: it waits at most --tick-ms for a
 * command on stdin, then calls fetch_tick(), crlfetch_tick() and
 * ocspfetch_tick(), counting ticks and timing each one (wall clock and the
 * loop thread's CPU time). Commands (words
 * separated by blanks; TAG is echoed so a test can find the answer):
 *
 *   crl TAG CERT ISSUER     crlfetch_check(CERT, ISSUER): one line, at once
 *   ocsp TAG CERT ISSUER    ocspfetch_check
 *   aia TAG CERT [ROOT]     aiafetch_issuer; with ROOT (a trust anchor PEM),
 *                           whether CERT + the fetched issuer verify up to it
 *   get TAG URL [MAXBYTES]  a plain fetch_submit; its end is an event line
 *                           saying how many ticks passed while it was out
 *   stats TAG               every counter, the tick count, the slowest tick
 *   quit                    (end of input too)
 *
 * Every line holds "tick" (ticks so far). Events (callbacks) are lines with
 * "event": "crl", "ocsp", "aia" or "get".
 */
#include <argp.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509_vfy.h>

#include "aiafetch.h"
#include "cert.h"
#include "crlfetch.h"
#include "fetch.h"
#include "fmt.h"
#include "json.h"
#include "ocspfetch.h"

#define LINE_MAX_LEN 4096
#define GETS_MAX     64

static struct {
	struct fetch_opts fo;
	struct crlfetch_opts co;
	struct ocspfetch_opts oo;
	struct aiafetch_opts ao;
	uint32_t tick_ms;
} opt = { .tick_ms = 10 };

static struct {
	struct fetch *f;
	struct cert_cache *certs;
	struct crlfetch *crl;
	struct ocspfetch *ocsp;
	struct aiafetch *aia;
	uint64_t ticks, max_tick_us, max_tick_cpu_us, max_cmd_us;
	struct {
		char tag[64];
		uint64_t tick;
		bool used;
	} gets[GETS_MAX];
} g;

enum {
	O_STATE = 1000,
	O_ALLOW,
	O_ALLOW_LOCAL,
	O_CRL_MAX,
	O_CRL_TOTAL,
	O_MAX_CRLS,
	O_REFRESH_MIN,
	O_REFRESH_MAX,
	O_BACKOFF_MIN,
	O_BACKOFF_MAX,
	O_TIMEOUT,
	O_CONNECT_TIMEOUT,
	O_CONC,
	O_RATE,
	O_REDIRS,
	O_NONCE,
	O_TICK,
	O_QUEUE,
};

static const struct argp_option opts[] = {
	{ "state", O_STATE, "DIR", 0, "State directory (crl/, ocsp/, aia/ under it)", 0 },
	{ "allow", O_ALLOW, "GLOB", 0, "Host pattern allowed (repeatable; none: any host)", 0 },
	{ "allow-local", O_ALLOW_LOCAL, NULL, 0, "Allow loopback and link-local addresses", 0 },
	{ "crl-max-bytes", O_CRL_MAX, "N", 0, "Bytes per CRL", 0 },
	{ "crl-total-bytes", O_CRL_TOTAL, "N", 0, "Bytes of CRLs held in all", 0 },
	{ "max-crls", O_MAX_CRLS, "N", 0, "CRL distribution points followed", 0 },
	{ "refresh-min", O_REFRESH_MIN, "S", 0, "Shortest refresh interval (CRL, OCSP)", 0 },
	{ "refresh-max", O_REFRESH_MAX, "S", 0, "Longest refresh interval (CRL, OCSP)", 0 },
	{ "backoff-min", O_BACKOFF_MIN, "S", 0, "First backoff after a failure", 0 },
	{ "backoff-max", O_BACKOFF_MAX, "S", 0, "Longest backoff", 0 },
	{ "timeout-ms", O_TIMEOUT, "MS", 0, "Total time per transfer", 0 },
	{ "connect-timeout-ms", O_CONNECT_TIMEOUT, "MS", 0, "Connect time", 0 },
	{ "max-concurrent", O_CONC, "N", 0, "Transfers at once", 0 },
	{ "max-queued", O_QUEUE, "N", 0, "Transfers waiting", 0 },
	{ "rate", O_RATE, "N", 0, "Transfer starts per minute", 0 },
	{ "max-redirects", O_REDIRS, "N", 0, "Redirects followed", 0 },
	{ "nonce", O_NONCE, NULL, 0, "Send an OCSP nonce", 0 },
	{ "tick-ms", O_TICK, "MS", 0, "Longest wait for input per tick (default 10)", 0 },
	{ 0 },
};

static uint64_t num(struct argp_state *st, const char *arg, const char *name)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno || end == arg || *end)
		argp_error(st, "%s: '%s' is not a number", name, arg);
	return v;
}

static error_t parse_arg(int key, char *arg, struct argp_state *st)
{
	switch (key) {
	case O_STATE:
		opt.co.state_dir = opt.oo.state_dir = opt.ao.state_dir = arg;
		break;
	case O_ALLOW:
		if (opt.fo.n_allow >= FETCH_ALLOW_MAX)
			argp_error(st, "--allow: at most %d", FETCH_ALLOW_MAX);
		opt.fo.allow[opt.fo.n_allow++] = arg;
		break;
	case O_ALLOW_LOCAL:
		opt.fo.allow_local = true;
		break;
	case O_CRL_MAX:
		opt.co.max_crl_bytes = num(st, arg, "--crl-max-bytes");
		break;
	case O_CRL_TOTAL:
		opt.co.max_total_bytes = num(st, arg, "--crl-total-bytes");
		break;
	case O_MAX_CRLS:
		opt.co.max_crls = (uint32_t)num(st, arg, "--max-crls");
		break;
	case O_REFRESH_MIN:
		opt.co.refresh_min_s = opt.oo.refresh_min_s =
			(uint32_t)num(st, arg, "--refresh-min");
		break;
	case O_REFRESH_MAX:
		opt.co.refresh_max_s = opt.oo.refresh_max_s =
			(uint32_t)num(st, arg, "--refresh-max");
		break;
	case O_BACKOFF_MIN:
		opt.fo.backoff_min_s = (uint32_t)num(st, arg, "--backoff-min");
		break;
	case O_BACKOFF_MAX:
		opt.fo.backoff_max_s = (uint32_t)num(st, arg, "--backoff-max");
		break;
	case O_TIMEOUT:
		opt.fo.timeout_ms = (uint32_t)num(st, arg, "--timeout-ms");
		break;
	case O_CONNECT_TIMEOUT:
		opt.fo.connect_timeout_ms = (uint32_t)num(st, arg, "--connect-timeout-ms");
		break;
	case O_CONC:
		opt.fo.max_concurrent = (uint32_t)num(st, arg, "--max-concurrent");
		break;
	case O_QUEUE:
		opt.fo.max_queued = (uint32_t)num(st, arg, "--max-queued");
		break;
	case O_RATE:
		opt.fo.rate_per_min = (uint32_t)num(st, arg, "--rate");
		break;
	case O_REDIRS:
		opt.fo.max_redirects = (uint32_t)num(st, arg, "--max-redirects");
		break;
	case O_NONCE:
		opt.oo.nonce = true;
		break;
	case O_TICK:
		opt.tick_ms = (uint32_t)num(st, arg, "--tick-ms");
		break;
	case ARGP_KEY_ARG:
		argp_error(st, "no arguments: commands come on stdin");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static uint64_t clock_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* ---- output ---- */

static char obuf[16384];

static void begin(struct jw *w, const char *key, const char *val, const char *tag)
{
	jw_init(w, obuf, sizeof(obuf));
	jw_obj_begin(w, NULL);
	jw_str(w, key, val);
	if (tag)
		jw_str(w, "tag", tag);
	jw_uint(w, "tick", g.ticks);
}

static void end(struct jw *w)
{
	jw_finish(w);
	puts(obuf);
	fflush(stdout);
}

static void hex32(const uint8_t *b, char out[65])
{
	fmt_hex(out, 65, b, 32, true);
}

/* ---- events ---- */

static void on_crl(void *ctx, const struct crlfetch_event *e)
{
	static const char *const kinds[] = { "updated", "unchanged", "failed" };
	struct jw w;
	char h[65];

	(void)ctx;
	begin(&w, "event", "crl", NULL);
	jw_str(&w, "kind", kinds[e->kind]);
	jw_str(&w, "url", e->url);
	jw_bool(&w, "delta", e->delta);
	jw_str(&w, "issuer", e->issuer_dn);
	hex32(e->issuer_sha256, h);
	jw_str(&w, "issuer_sha256", h);
	if (e->kind == CRLF_EV_FAILED) {
		jw_str(&w, "fail", crlfetch_fail_name(e->fail));
		if (e->fail == CRLF_F_FETCH)
			jw_str(&w, "fetch", fetch_result_name(e->fetch));
		jw_str(&w, "why", e->why);
		jw_bool(&w, "have_crl", e->have_crl);
		jw_int(&w, "retry_in", e->next_attempt - (int64_t)time(NULL));
	} else {
		jw_str(&w, "crl_number", e->crl_number);
		jw_time_s(&w, "this_update", e->this_update);
		jw_time_s(&w, "next_update", e->next_update);
		jw_uint(&w, "entries", e->entries);
	}
	end(&w);
}

static const char *ocsp_status_str(enum ocspfetch_status s)
{
	static const char *const n[] = { "none", "good", "revoked", "unknown" };

	return (unsigned)s < 4 ? n[s] : "?";
}

static void on_ocsp(void *ctx, const struct ocspfetch_event *e)
{
	struct jw w;
	char h[65];

	(void)ctx;
	begin(&w, "event", "ocsp", NULL);
	jw_str(&w, "kind", e->kind == OCSPF_EV_UPDATED ? "updated" : "failed");
	jw_str(&w, "url", e->url);
	hex32(e->leaf_sha256, h);
	jw_str(&w, "leaf_sha256", h);
	if (e->kind == OCSPF_EV_UPDATED) {
		jw_str(&w, "status", ocsp_status_str(e->status));
		jw_bool(&w, "changed", e->changed);
		jw_time_s(&w, "this_update", e->this_update);
		if (e->next_update)
			jw_time_s(&w, "next_update", e->next_update);
	} else {
		jw_str(&w, "fail", ocspfetch_fail_name(e->fail));
		if (e->fail == OCSPF_F_FETCH)
			jw_str(&w, "fetch", fetch_result_name(e->fetch));
		jw_str(&w, "why", e->why);
	}
	end(&w);
}

static void on_aia(void *ctx, const struct aiafetch_event *e)
{
	struct jw w;

	(void)ctx;
	begin(&w, "event", "aia", NULL);
	jw_str(&w, "kind", e->kind == AIAF_EV_FETCHED ? "fetched" : "failed");
	jw_str(&w, "url", e->url);
	jw_str(&w, "for_issuer", e->for_issuer_dn);
	jw_uint(&w, "certs", e->certs);
	if (e->kind == AIAF_EV_FAILED) {
		jw_str(&w, "fail", aiafetch_fail_name(e->fail));
		if (e->fail == AIAF_F_FETCH)
			jw_str(&w, "fetch", fetch_result_name(e->fetch));
		jw_str(&w, "why", e->why);
	}
	end(&w);
}

static void on_get(void *ctx, struct fetch_resp *r)
{
	uint32_t slot;
	struct jw w;

	(void)ctx;
	memcpy(&slot, r->tag, sizeof(slot));
	begin(&w, "event", "get", g.gets[slot].tag);
	jw_str(&w, "result", fetch_result_name(r->result));
	jw_int(&w, "http_status", r->http_status);
	jw_uint(&w, "len", r->len);
	jw_uint(&w, "redirects", r->redirects);
	jw_str(&w, "final_url", r->final_url);
	jw_str(&w, "error", r->error);
	jw_uint(&w, "elapsed_ms", r->elapsed_ms);
	/* the loop went on while this was out: ticks since the submit */
	jw_uint(&w, "ticks_waited", g.ticks - g.gets[slot].tick);
	end(&w);
	g.gets[slot].used = false;
}

/* ---- commands ---- */

static struct cert_facts *load_cert(const char *path)
{
	FILE *fp = fopen(path, "r");
	X509 *x = fp ? PEM_read_X509(fp, NULL, NULL, NULL) : NULL;
	unsigned char *der = NULL;
	struct cert_facts *f = NULL;
	int n;

	if (fp)
		fclose(fp);
	if (x && (n = i2d_X509(x, &der)) > 0)
		f = cert_get(g.certs, der, (size_t)n);
	OPENSSL_free(der);
	X509_free(x);
	return f;
}

static void error_line(const char *tag, const char *fmt, const char *arg)
{
	struct jw w;
	char msg[512];

	snprintf(msg, sizeof(msg), fmt, arg);
	begin(&w, "error", msg, tag);
	end(&w);
}

static void cmd_crl(const char *tag, struct cert_facts *c, struct cert_facts *i)
{
	static const char *const st[] = { "none", "good", "revoked" };
	struct crlfetch_answer a;
	struct jw w;
	uint64_t t0 = clock_us(CLOCK_MONOTONIC);

	crlfetch_check(g.crl, c, i, &a);
	t0 = clock_us(CLOCK_MONOTONIC) - t0;
	begin(&w, "cmd", "crl", tag);
	jw_uint(&w, "check_us", t0); /* what the verdict waits for */
	jw_str(&w, "status", st[a.status]);
	if (a.status == CRLF_NONE)
		jw_str(&w, "none", crlfetch_none_name(a.none));
	jw_str(&w, "why", a.why);
	jw_str(&w, "url", a.url);
	if (a.status != CRLF_NONE) {
		jw_str(&w, "crl_number", a.crl_number);
		jw_time_s(&w, "this_update", a.this_update);
		if (a.next_update)
			jw_time_s(&w, "next_update", a.next_update);
		jw_time_s(&w, "fetched", a.fetched);
		jw_bool(&w, "stale", a.stale);
		jw_bool(&w, "partitioned", a.partitioned);
		jw_bool(&w, "delta", a.delta);
		if (a.delta) {
			jw_str(&w, "delta_number", a.delta_number);
			jw_str(&w, "delta_url", a.delta_url);
		}
	}
	if (a.status == CRLF_REVOKED) {
		jw_time_s(&w, "revocation_time", a.revocation_time);
		jw_str(&w, "reason", a.reason_str);
		jw_bool(&w, "by_delta", a.by_delta);
	}
	end(&w);
}

static void cmd_ocsp(const char *tag, struct cert_facts *c, struct cert_facts *i)
{
	struct ocspfetch_answer a;
	struct jw w;

	ocspfetch_check(g.ocsp, c, i, &a);
	begin(&w, "cmd", "ocsp", tag);
	jw_str(&w, "status", ocsp_status_str(a.status));
	if (a.status == OCSPF_NONE) {
		jw_str(&w, "none", ocspfetch_none_name(a.none));
		jw_str(&w, "why", a.why);
	} else {
		jw_time_s(&w, "this_update", a.this_update);
		if (a.next_update)
			jw_time_s(&w, "next_update", a.next_update);
		jw_time_s(&w, "produced_at", a.produced_at);
		jw_str(&w, "responder", a.responder);
	}
	jw_str(&w, "url", a.url);
	if (a.status == OCSPF_REVOKED) {
		jw_time_s(&w, "revocation_time", a.revocation_time);
		jw_str(&w, "reason", a.reason_str);
	}
	end(&w);
}

/* Does cert, with the issuer AIA gave, verify up to root? */
static const char *chain_to(X509 *cert, X509 *issuer, const char *root_path, char *buf, size_t cap)
{
	FILE *fp = fopen(root_path, "r");
	X509 *root = fp ? PEM_read_X509(fp, NULL, NULL, NULL) : NULL;
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	int ok = 0;

	if (fp)
		fclose(fp);
	if (root && st && ctx && untrusted && X509_STORE_add_cert(st, root) &&
	    (!issuer || sk_X509_push(untrusted, issuer)) &&
	    X509_STORE_CTX_init(ctx, st, cert, untrusted)) {
		ok = X509_verify_cert(ctx);
		snprintf(buf, cap, "%s",
			 ok == 1 ? "complete" :
				   X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	} else {
		snprintf(buf, cap, "cannot verify (root %s unreadable?)", root_path);
	}
	sk_X509_free(untrusted);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	X509_free(root);
	return buf;
}

static void cmd_aia(const char *tag, struct cert_facts *c, const char *root)
{
	struct aiafetch_answer a;
	struct jw w;
	char chain[160];

	aiafetch_issuer(g.aia, c, &a);
	begin(&w, "cmd", "aia", tag);
	jw_str(&w, "state", aiafetch_state_name(a.state));
	jw_str(&w, "url", a.url);
	jw_uint(&w, "certs", a.certs);
	if (a.state == AIAF_FAILED) {
		jw_str(&w, "fail", aiafetch_fail_name(a.fail));
		if (a.fail == AIAF_F_FETCH)
			jw_str(&w, "fetch", fetch_result_name(a.fetch));
	}
	if (a.state != AIAF_FOUND)
		jw_str(&w, "why", a.why);
	if (a.issuer) {
		char *dn = X509_NAME_oneline(X509_get_subject_name(a.issuer), NULL, 0);

		jw_str(&w, "issuer", dn);
		OPENSSL_free(dn);
	}
	if (root)
		jw_str(&w, "chain",
		       chain_to(c->x509, a.state == AIAF_FOUND ? a.issuer : NULL, root, chain,
				sizeof(chain)));
	end(&w);
	X509_free(a.issuer);
}

static void cmd_get(const char *tag, const char *url, const char *max)
{
	struct fetch_req r = { .url = url,
			       .done = on_get,
			       .max_bytes = max ? strtoull(max, NULL, 10) : 0 };
	enum fetch_result res;
	uint32_t slot = 0;
	struct jw w;

	while (slot < GETS_MAX && g.gets[slot].used)
		slot++;
	if (slot == GETS_MAX) {
		error_line(tag, "%s: too many gets at once", "get");
		return;
	}
	memcpy(r.tag, &slot, sizeof(slot));
	res = fetch_submit(g.f, &r);
	begin(&w, "cmd", "get", tag);
	jw_str(&w, "submitted", fetch_result_name(res));
	end(&w);
	if (res == FETCH_OK) {
		g.gets[slot].used = true;
		g.gets[slot].tick = g.ticks;
		snprintf(g.gets[slot].tag, sizeof(g.gets[slot].tag), "%s", tag);
	}
}

static void counters(struct jw *w, const char *key, const uint64_t *v, uint32_t n,
		     const char *(*name)(int))
{
	jw_obj_begin(w, key);
	for (uint32_t i = 0; i < n; i++)
		if (v[i])
			jw_uint(w, name((int)i), v[i]);
	jw_obj_end(w);
}

static const char *fr_name(int i)
{
	return fetch_result_name((enum fetch_result)i);
}
static const char *cf_name(int i)
{
	return crlfetch_fail_name((enum crlfetch_fail)i);
}
static const char *of_name(int i)
{
	return ocspfetch_fail_name((enum ocspfetch_fail)i);
}
static const char *af_name(int i)
{
	return aiafetch_fail_name((enum aiafetch_fail)i);
}

static void cmd_stats(const char *tag)
{
	struct fetch_stats fs;
	struct crlfetch_stats cs;
	struct ocspfetch_stats os;
	struct aiafetch_stats as;
	struct jw w;

	fetch_stats(g.f, &fs);
	crlfetch_stats(g.crl, &cs);
	ocspfetch_stats(g.ocsp, &os);
	aiafetch_stats(g.aia, &as);
	begin(&w, "cmd", "stats", tag);
	/* wall clock (what the loop waited) and this thread's CPU (what
	 * the fetchers cost it; the CRL worker thread is not in it) */
	jw_uint(&w, "max_tick_us", g.max_tick_us);
	jw_uint(&w, "max_tick_cpu_us", g.max_tick_cpu_us);
	jw_uint(&w, "max_cmd_us", g.max_cmd_us);
	jw_obj_begin(&w, "fetch");
	jw_uint(&w, "submitted", fs.submitted);
	jw_uint(&w, "started", fs.started);
	jw_uint(&w, "redirects", fs.redirects);
	jw_uint(&w, "bytes", fs.bytes);
	jw_uint(&w, "active", fs.active);
	jw_uint(&w, "queued", fs.queued);
	jw_uint(&w, "max_active", fs.max_active);
	counters(&w, "results", fs.results, FETCH_RESULT_MAX, fr_name);
	jw_obj_end(&w);
	jw_obj_begin(&w, "crl");
	jw_uint(&w, "followed", cs.followed);
	jw_uint(&w, "held", cs.held);
	jw_uint(&w, "bytes", cs.bytes);
	jw_uint(&w, "loaded", cs.loaded);
	jw_uint(&w, "fetches", cs.fetches);
	jw_uint(&w, "updated", cs.updated);
	jw_uint(&w, "unchanged", cs.unchanged);
	jw_uint(&w, "evicted", cs.evicted);
	jw_uint(&w, "store_errors", cs.store_errors);
	jw_uint(&w, "checks", cs.checks);
	jw_uint(&w, "revoked", cs.revoked);
	counters(&w, "failed", cs.failed, CRLF_F_MAX, cf_name);
	counters(&w, "fetch_failed", cs.fetch_failed, FETCH_RESULT_MAX, fr_name);
	jw_obj_end(&w);
	jw_obj_begin(&w, "ocsp");
	jw_uint(&w, "followed", os.followed);
	jw_uint(&w, "held", os.held);
	jw_uint(&w, "loaded", os.loaded);
	jw_uint(&w, "queries", os.queries);
	jw_uint(&w, "updated", os.updated);
	counters(&w, "failed", os.failed, OCSPF_F_MAX, of_name);
	counters(&w, "fetch_failed", os.fetch_failed, FETCH_RESULT_MAX, fr_name);
	jw_obj_end(&w);
	jw_obj_begin(&w, "aia");
	jw_uint(&w, "followed", as.followed);
	jw_uint(&w, "held", as.held);
	jw_uint(&w, "loaded", as.loaded);
	jw_uint(&w, "fetches", as.fetches);
	jw_uint(&w, "fetched", as.fetched);
	jw_uint(&w, "found", as.found);
	counters(&w, "failed", as.failed, AIAF_F_MAX, af_name);
	counters(&w, "fetch_failed", as.fetch_failed, FETCH_RESULT_MAX, fr_name);
	jw_obj_end(&w);
	end(&w);
}

/* One command line; false on quit. */
static bool command(char *line)
{
	char *v[5] = { 0 }, *save = NULL;
	struct cert_facts *c = NULL, *i = NULL;
	int n = 0;
	uint64_t t0 = clock_us(CLOCK_MONOTONIC), dt;

	for (char *p = strtok_r(line, " \t\r", &save); p && n < 5;
	     p = strtok_r(NULL, " \t\r", &save))
		v[n++] = p;
	if (n == 0)
		return true;
	if (!strcmp(v[0], "quit"))
		return false;
	if (n < 2) {
		error_line(NULL, "'%s': no TAG", v[0]);
		return true;
	}
	if (!strcmp(v[0], "stats")) {
		cmd_stats(v[1]);
		return true;
	}
	if (!strcmp(v[0], "get") && n >= 3) {
		cmd_get(v[1], v[2], v[3]);
		return true;
	}
	if (n < 3 || !(c = load_cert(v[2]))) {
		error_line(v[1], "%s: no certificate (PEM) to read", n >= 3 ? v[2] : "?");
		return true;
	}
	if (!strcmp(v[0], "aia")) {
		cmd_aia(v[1], c, v[3]);
	} else if ((!strcmp(v[0], "crl") || !strcmp(v[0], "ocsp")) && n >= 4) {
		if (!(i = load_cert(v[3])))
			error_line(v[1], "%s: no issuer certificate (PEM) to read", v[3]);
		else if (!strcmp(v[0], "crl"))
			cmd_crl(v[1], c, i);
		else
			cmd_ocsp(v[1], c, i);
	} else {
		error_line(v[1], "'%s': not a command (crl, ocsp, aia, get, stats, quit)", v[0]);
	}
	dt = clock_us(CLOCK_MONOTONIC) - t0;
	if (dt > g.max_cmd_us)
		g.max_cmd_us = dt;
	cert_put(g.certs, c);
	cert_put(g.certs, i);
	return true;
}

int main(int argc, char **argv)
{
	static const struct argp argp = {
		.options = opts,
		.parser = parse_arg,
		.doc = "Drives certsentry's fetchers: commands on stdin, JSON lines on stdout."
	};
	char err[512], buf[LINE_MAX_LEN];
	size_t have = 0;
	bool run = true, eof = false;

	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return 2;
	opt.co.event = on_crl;
	opt.oo.event = on_ocsp;
	opt.ao.event = on_aia;
	if (!(g.certs = cert_cache_new(CERT_CACHE_DEFAULT)) ||
	    !(g.f = fetch_new(&opt.fo, err, sizeof(err)))) {
		fprintf(stderr, "fetchdrive: %s\n", g.certs ? err : "out of memory");
		return 2;
	}
	opt.co.certs = g.certs;
	if (!(g.crl = crlfetch_new(g.f, &opt.co, err, sizeof(err))) ||
	    !(g.ocsp = ocspfetch_new(g.f, &opt.oo, err, sizeof(err))) ||
	    !(g.aia = aiafetch_new(g.f, &opt.ao, err, sizeof(err)))) {
		fprintf(stderr, "fetchdrive: %s\n", err);
		return 2;
	}
	{
		struct jw w;

		begin(&w, "event", "ready", NULL);
		end(&w);
	}
	while (run) {
		struct pollfd p = { .fd = 0, .events = POLLIN };
		uint64_t t0, c0;

		if (!eof && poll(&p, 1, (int)opt.tick_ms) > 0) {
			ssize_t r = read(0, buf + have, sizeof(buf) - 1 - have);
			char *nl;

			if (r <= 0)
				eof = true, run = false;
			else
				have += (size_t)r;
			while (run && (nl = memchr(buf, '\n', have))) {
				size_t len = (size_t)(nl - buf) + 1;

				*nl = 0;
				run = command(buf);
				memmove(buf, buf + len, have - len);
				have -= len;
			}
			if (have == sizeof(buf) - 1) {
				error_line(NULL, "%s", "line too long: dropped");
				have = 0;
			}
		}
		t0 = clock_us(CLOCK_MONOTONIC);
		c0 = clock_us(CLOCK_THREAD_CPUTIME_ID);
		fetch_tick(g.f);
		crlfetch_tick(g.crl);
		ocspfetch_tick(g.ocsp);
		c0 = clock_us(CLOCK_THREAD_CPUTIME_ID) - c0;
		t0 = clock_us(CLOCK_MONOTONIC) - t0;
		if (t0 > g.max_tick_us)
			g.max_tick_us = t0;
		if (c0 > g.max_tick_cpu_us)
			g.max_tick_cpu_us = c0;
		g.ticks++;
	}
	aiafetch_free(g.aia);
	ocspfetch_free(g.ocsp);
	crlfetch_free(g.crl);
	fetch_free(g.f);
	cert_cache_free(g.certs);
	return 0;
}
