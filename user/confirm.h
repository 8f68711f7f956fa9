/* confirm.h - --confirm: our own TLS handshake to a listener whose TLS 1.3 chain no source gave. */
#ifndef CS_CONFIRM_H
#define CS_CONFIRM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cert.h"
#include "report.h"

/*
 * A TLS 1.3 handshake whose chain no source saw (REPORT_CERTIFICATE_HIDDEN)
 * names an endpoint: (server address, port, SNI). confirm_on_report() decides
 * whether to fetch that endpoint's chain ourselves (at most once per ttl, a
 * token bucket, only the host's own addresses unless remote, a bounded queue),
 * confirm_tick() drives the handshakes on non-blocking sockets without ever
 * waiting, and what a handshake fetched comes back through opts.report as a
 * REPORT_CERTIFICATE with source SOURCE_CONFIRM: the same checks, dedup and
 * output as a chain seen on the wire.
 */

#define CONFIRM_TTL_DEFAULT_S	   60
#define CONFIRM_RATE_DEFAULT	   10	/* handshakes started per second (burst: as many) */
#define CONFIRM_TIMEOUT_DEFAULT_MS 5000 /* connect to the end of the handshake */
#define CONFIRM_ACTIVE_DEFAULT	   8	/* handshakes in flight at once */
#define CONFIRM_QUEUE_DEFAULT	   64	/* admitted, waiting for a free slot */
#define CONFIRM_ENDPOINTS_DEFAULT  4096 /* endpoints remembered for the ttl (LRU) */
#define CONFIRM_ADDRS_MAX	   256	/* own addresses kept (getifaddrs) */
#define CONFIRM_OWN_CONNS	   256	/* our recent connections, to know their reports */

/* How a handshake ended (the result label of certsentry_confirm_handshakes_total). */
enum confirm_result {
	CONFIRM_R_OK,	    /* the server sent a chain */
	CONFIRM_R_CONNECT,  /* refused, unreachable, no socket */
	CONFIRM_R_TIMEOUT,  /* not done within the timeout */
	CONFIRM_R_TLS,	    /* the TLS handshake failed (OpenSSL said why) */
	CONFIRM_R_CLOSED,   /* the server closed before its certificate */
	CONFIRM_R_NO_CHAIN, /* a handshake without a certificate (PSK, anonymous) */
	CONFIRM_R_MAX
};

/* Why a hidden handshake did not lead to one of ours (certsentry_confirm_skipped_total). */
enum confirm_skip {
	CONFIRM_S_TTL,	  /* this endpoint was confirmed (or is queued) within the ttl */
	CONFIRM_S_RATE,	  /* no token: over --confirm-rate */
	CONFIRM_S_REMOTE, /* not one of the host's addresses, and no --confirm-remote */
	CONFIRM_S_QUEUE,  /* the queue is full */
	CONFIRM_S_SEEN,	  /* another source gave this endpoint's chain within the ttl */
	CONFIRM_S_MAX
};

const char *confirm_result_name(uint32_t r); /* "ok", "connect", "timeout", ... */
const char *confirm_skip_name(uint32_t s);   /* "ttl", "rate", "remote", ... */

/* A handshake that did not give a chain, for the failure event. */
struct confirm_failure {
	enum confirm_result result;
	struct report_endpoint server;
	bool has_sni;
	const char *sni;
	uint64_t elapsed_ms;
	const char *detail; /* what the socket or OpenSSL said, never NULL */
};

/* A field left 0 takes its default. */
struct confirm_opts {
	uint32_t ttl_s;
	uint32_t rate; /* per second */
	uint32_t timeout_ms;
	uint32_t max_active;
	uint32_t max_queue;
	uint32_t max_endpoints;
	bool remote;	    /* --confirm-remote: any server address */
	int64_t check_time; /* FLOW_CHECK_NOW/PACKET (both: now), or a fixed Unix time */
	struct cert_cache *certs;
	/* A fetched chain: the report and its certs are borrowed. */
	void (*report)(void *ctx, const struct cs_report *r);
	void (*failed)(void *ctx, const struct confirm_failure *f); /* may be NULL */
	void *ctx;
};

struct confirm_stats {
	uint64_t attempts; /* handshakes started */
	uint64_t results[CONFIRM_R_MAX];
	uint64_t failed; /* every result but ok */
	uint64_t skipped[CONFIRM_S_MAX];
	uint64_t own_reports;	 /* reports of our own handshakes, dropped */
	uint64_t evicted;	 /* endpoints forgotten before their ttl */
	uint64_t queued, active; /* now */
};

struct confirm;

/* NULL with err set when OpenSSL cannot make a client context or memory runs out.
 * The caller ignores SIGPIPE (the daemon does): a server may close first. */
struct confirm *confirm_new(const struct confirm_opts *o, char *err, size_t errlen);
/* Aborts what is in flight; no callback is called. NULL is fine. */
void confirm_free(struct confirm *c);

/*
 * Every report of the pipeline, before its checks (now: CLOCK_MONOTONIC ns).
 * A hidden TLS 1.3 handshake may queue a confirm; a chain from another
 * source marks its endpoint seen. Returns true for a report of one of our
 * own handshakes (the capture sees them too): the caller drops it.
 */
bool confirm_on_report(struct confirm *c, const struct cs_report *r, uint64_t now);

/* Starts what the bounds allow and moves every handshake as far as its
 * socket lets it, without waiting; calls opts.report / opts.failed. */
void confirm_tick(struct confirm *c, uint64_t now);

/* How long the main loop may sleep before the next tick: short while
 * handshakes are in flight, else max_ms. */
int confirm_poll_ms(const struct confirm *c, int max_ms);

void confirm_stats(const struct confirm *c, struct confirm_stats *st);

/* ---- the rules, on their own (unit tests) ---- */

/* Tokens in millionths; refills rate per second up to burst. */
struct confirm_bucket {
	uint64_t micro, burst_micro, rate;
	uint64_t last_ns;
};
void confirm_bucket_init(struct confirm_bucket *b, uint32_t rate, uint32_t burst, uint64_t now);
bool confirm_bucket_take(struct confirm_bucket *b, uint64_t now);

/* The host's addresses (in the caller's network namespace). */
struct confirm_addrs {
	uint32_t n;
	struct {
		uint8_t family; /* enum cs_family */
		uint8_t addr[16];
	} a[CONFIRM_ADDRS_MAX];
};
/* getifaddrs(); -1 with errno on failure. */
int confirm_addrs_load(struct confirm_addrs *s);
/* One of them, or a loopback address (127/8, ::1). */
bool confirm_addrs_has(const struct confirm_addrs *s, const struct report_endpoint *e);

#endif
