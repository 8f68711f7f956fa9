/* fetch.h - bounded HTTP(S) requests on libcurl's multi interface, driven from the main loop. */
#ifndef CS_FETCH_H
#define CS_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * Nothing here blocks: fetch_submit() queues, fetch_tick() starts what the
 * bounds allow, moves every transfer as far as its sockets let it without
 * waiting (curl_multi_perform; DNS runs in curl's resolver threads) and
 * calls the completion callbacks, in the caller's thread. Call fetch_tick()
 * from the main loop every tick (the daemon's loop wakes at least every
 * 50 ms); with nothing queued or in flight it returns at once.
 */

#define FETCH_URL_MAX  2048 /* longer URLs are refused (FETCH_E_URL) */
#define FETCH_TAG_LEN  32   /* caller bytes returned with the response */
#define FETCH_ETAG_MAX 128

/* Every way a request ends. One table (fetch.c) names them. */
enum fetch_result {
	FETCH_OK = 0,	    /* 2xx, the whole body */
	FETCH_NOT_MODIFIED, /* 304 to a conditional GET: what the caller has is current */
	FETCH_E_URL,	    /* not an http:// or https:// URL, or too long */
	FETCH_E_DISALLOWED, /* host matches no allow-list pattern */
	FETCH_E_ADDRESS,    /* resolved only to loopback, link-local, multicast or unspecified */
	FETCH_E_BACKOFF,    /* the URL failed recently; retry after its backoff */
	FETCH_E_BUSY,	    /* the queue is full */
	FETCH_E_DNS,	    /* name did not resolve */
	FETCH_E_CONNECT,    /* refused, unreachable, or the connect timed out */
	FETCH_E_TLS,	    /* https: handshake or server certificate failed */
	FETCH_E_TIMEOUT,    /* the total time per transfer ran out */
	FETCH_E_HTTP,	    /* a status other than 2xx and 304 (http_status says which) */
	FETCH_E_REDIRECT,   /* too many redirects, or one to a non-http(s) URL or on a POST */
	FETCH_E_TOO_LARGE,  /* over max_bytes: by Content-Length before the body, or counted */
	FETCH_E_TRUNCATED,  /* the connection closed before Content-Length bytes came */
	FETCH_E_IO,	    /* anything else (error says what curl said) */
	FETCH_RESULT_MAX
};

/* "ok", "not_modified", "url", "disallowed", ... (metric label values). */
const char *fetch_result_name(enum fetch_result r);

#define FETCH_ALLOW_MAX 64

/* A field left 0 takes its default. */
struct fetch_opts {
	uint32_t max_concurrent; /* transfers at once (default 4) */
	uint32_t max_queued;	 /* waiting to start (default 1024) */
	uint32_t rate_per_min; /* transfer starts per minute (default 120; burst max_concurrent) */
	uint32_t timeout_ms;   /* whole transfer, redirects included (default 60000) */
	uint32_t connect_timeout_ms; /* (default 10000) */
	uint32_t max_redirects;	     /* followed per request (default 3; http and https only) */
	uint32_t backoff_min_s;	     /* after a URL's first failure (default 60) ... */
	uint32_t backoff_max_s;	     /* ... doubling up to this (default 3600) */
	/* Host glob patterns (fnmatch(3), case-insensitive: "*.example.com",
	 * "10.0.0.*"); none means any host. Checked on every redirect too. */
	const char *allow[FETCH_ALLOW_MAX];
	uint32_t n_allow;
	/* Loopback, link-local, multicast and unspecified addresses are
	 * refused unless set: certificates come from the wire, and a URL in
	 * one must not make the sensor poke at its own host's services. */
	bool allow_local;
	/* Body bytes a transfer takes in per fetch_tick() (default 256 KiB);
	 * past it the transfer pauses until the next tick, so that a 64 MiB
	 * CRL costs many short ticks instead of one long one (copying into
	 * fresh pages is what costs: about 1.5 ms for 256 KiB measured here;
	 * at 50 ms ticks that is still 5 MiB/s). */
	uint32_t tick_bytes;
	const char *proxy;	/* NULL: none (the environment's *_proxy is ignored) */
	const char *user_agent; /* NULL: "certsentry" */
};

struct fetch_resp;
/* Called from fetch_tick() when a request ends, whatever the result. It may
 * call fetch_submit() and fetch_take_body(), never fetch_free(). */
typedef void (*fetch_done_fn)(void *ctx, struct fetch_resp *r);

struct fetch_req {
	const char *url;
	const void *post; /* NULL: GET; else POSTed with content_type */
	size_t post_len;
	const char *content_type;
	size_t max_bytes;	   /* body bound (0: 1 MiB) */
	const char *if_none_match; /* ETag of what the caller has, or NULL */
	int64_t if_modified_since; /* Unix s of what the caller has, or 0 */
	fetch_done_fn done;
	void *ctx;
	uint8_t tag[FETCH_TAG_LEN]; /* the caller's own bytes, handed back as given */
};

struct fetch_resp {
	enum fetch_result result;
	long http_status;      /* 0 if no response */
	const char *url;       /* as requested */
	const char *final_url; /* after redirects */
	uint32_t redirects;
	uint8_t *body; /* FETCH_OK: the body (NUL after it); valid during the callback */
	size_t len;
	char etag[FETCH_ETAG_MAX]; /* "" if none */
	int64_t last_modified;	   /* Unix s, 0 if none */
	uint64_t elapsed_ms;	   /* from start to end, queueing excluded */
	char error[192];	   /* what went wrong, for a person: "HTTP 404", "..." */
	void *ctx;
	uint8_t tag[FETCH_TAG_LEN];
};

/* The body, now the caller's to free(); r->body becomes NULL. */
uint8_t *fetch_take_body(struct fetch_resp *r);

struct fetch;

/* NULL with a reason in err for bad options (a pattern that is empty or
 * holds '/', a bound of 0 where one is needed) or when curl cannot start. */
struct fetch *fetch_new(const struct fetch_opts *o, char *err, size_t errlen);
/* Aborts whatever is in flight; no callback is called. */
void fetch_free(struct fetch *f);

/* 0 (FETCH_OK): queued, done() will be called from a later fetch_tick().
 * Otherwise why it was refused at once (URL, DISALLOWED, BACKOFF, BUSY),
 * counted like any result; done() is not called. */
enum fetch_result fetch_submit(struct fetch *f, const struct fetch_req *r);
/* Drops the requests of ctx, queued or in flight, without calling back:
 * what a module calls before freeing itself. */
void fetch_cancel(struct fetch *f, const void *ctx);
void fetch_tick(struct fetch *f);

/* The caller found a fetched body unusable (not a CRL, bad signature):
 * back the URL off as if the fetch had failed. */
void fetch_penalize(struct fetch *f, const char *url);
/* Seconds until url may be fetched again (0: now). */
uint32_t fetch_backoff_left(const struct fetch *f, const char *url);

struct fetch_stats {
	uint64_t submitted;		    /* fetch_submit calls */
	uint64_t started;		    /* transfers begun */
	uint64_t redirects;		    /* followed */
	uint64_t bytes;			    /* body bytes received */
	uint64_t results[FETCH_RESULT_MAX]; /* every request's end, refusals included */
	uint32_t active, queued;	    /* now */
	uint32_t max_active;		    /* most at once since the start */
};
void fetch_stats(const struct fetch *f, struct fetch_stats *st);

/* Exposed for the tests: */
/* The host of an http(s) URL, lower case, IPv6 without brackets; FETCH_OK,
 * or FETCH_E_URL. */
enum fetch_result fetch_url_host(const char *url, char *host, size_t cap);
bool fetch_host_allowed(const struct fetch *f, const char *host);
/* Loopback, link-local, multicast or unspecified (IPv4-mapped included). */
bool fetch_addr_is_local(const struct sockaddr *sa);
/* The backoff after n consecutive failures, in seconds. */
uint32_t fetch_backoff_s(const struct fetch_opts *o, uint32_t n);

#endif
