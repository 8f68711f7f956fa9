/* served.h - served chains and Go TLS secrets, assembled per thread from the uprobe source's ring records. */
#ifndef CS_SERVED_H
#define CS_SERVED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "certsentry.h"
#include "keylog.h"
#include "tls.h"

#define SERVED_THREADS_MAX 1024			/* threads with a chain in progress */
#define SERVED_BYTES_MAX   (16u * 1024 * 1024)	/* DER bytes held for them, in all */
#define SERVED_TTL_NS	   (10ULL * 1000000000) /* a chain not sent by then is dropped */

/* How a chain was tied to its connection. */
enum uprobe_binding {
	UPROBE_BIND_EXACT = 1, /* the building thread's next send, on that TCP socket */
};

struct encports;

/* A chain a local server wrote into its Certificate message, and the
 * connection it went out on. The pointers live until the callback returns. */
struct served_chain {
	/* The served direction, as the capture keys it: src (saddr, sport) is
	 * the server's socket, dst the client; proto IPPROTO_TCP; addresses in
	 * network byte order, ports in host order; an IPv4-mapped IPv6 socket
	 * (::ffff:a.b.c.d) is reported as the IPv4 it is on the wire. */
	struct cs_flow_key key;
	uint32_t tgid, tid;
	char comm[16];
	enum uprobe_binding binding;
	uint32_t n;	/* certificates kept, leaf first (<= TLS_CHAIN_MAX) */
	uint32_t total; /* certificates in the chain */
	const uint8_t *der[TLS_CHAIN_MAX];
	uint32_t der_len[TLS_CHAIN_MAX];
	uint64_t ts_ns;	  /* the send: CLOCK_REALTIME ns */
	uint64_t mono_ns; /* the same instant, CLOCK_MONOTONIC */
};

struct uprobe_cbs {
	void (*on_chain)(void *ctx, const struct served_chain *c);
	/* A Go program's crypto/tls secret, ready for keylog_add(); the secret
	 * is only valid during the call. */
	void (*on_secret)(void *ctx, enum keylog_label label,
			  const uint8_t client_random[KEYLOG_RANDOM_LEN], const uint8_t *secret,
			  size_t len);
	/* The local ports Go servers listen on changed (each rescan that
	 * changes them): their connections need the encrypted flight copied
	 * (CS_COPY_ENC_PORTS). The set is only valid during the call. */
	void (*on_go_ports)(void *ctx, const struct encports *ports);
	void *ctx;
};

enum served_counter {
	SERVED_C_CHAINS,       /* chains delivered */
	SERVED_C_TRUNCATED,    /* ... of them with more than TLS_CHAIN_MAX certificates */
	SERVED_C_SECRETS,      /* secrets delivered */
	SERVED_C_SECRET_DUPS,  /* the same secret again from the same thread (Go stack growth) */
	SERVED_C_SECRET_LABEL, /* secrets under a label the key log does not know (dropped) */
	SERVED_C_ORPHANED,     /* chains replaced by the thread's next before any send */
	SERVED_C_EXPIRED,      /* chains never sent (thread gone, or older than the TTL) */
	SERVED_C_INCOMPLETE,   /* chains with records lost (ring full) or out of order */
	SERVED_C_OVERSIZE,     /* chains dropped: a certificate over CS_UP_CERT_MAX */
	SERVED_C_EVICTED,      /* chains dropped: thread table or byte budget full */
	SERVED_C_NO_CHAIN,     /* bind records for a chain not held */
	SERVED_C_BAD_RECORD,   /* malformed records */
	SERVED_C_BAD_ADDR,     /* bind records of an unknown address family */
	SERVED_C_MAX
};

struct served;

/* real_minus_mono: CLOCK_REALTIME - CLOCK_MONOTONIC, for the ts_ns of chains. */
struct served *served_new(const struct uprobe_cbs *cb, int64_t real_minus_mono);
void served_free(struct served *s);
/* One ring record (struct cs_up_cert/bind/secret): calls back when it
 * completes a chain or is a secret. -1 if malformed (counted). */
int served_record(struct served *s, const void *data, size_t size);
/* Drops chains in progress whose thread is gone (alive() false; NULL: not
 * asked) or that started more than SERVED_TTL_NS before now_mono. */
void served_expire(struct served *s, uint64_t now_mono,
		   bool (*alive)(void *actx, uint32_t tgid, uint32_t tid), void *actx);
/* Threads with a chain in progress, and the DER bytes held for them. */
void served_held(const struct served *s, uint32_t *threads, uint64_t *bytes);
void served_counters(const struct served *s, uint64_t out[SERVED_C_MAX]);
const char *served_counter_name(int i);

#endif
