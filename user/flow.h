/* flow.h - connections: both directions of a TLS flow, reassembled and parsed into reports. */
#ifndef CS_FLOW_H
#define CS_FLOW_H

#include <stdint.h>
#include "cert.h"
#include "keylog.h"
#include "recwalk.h"
#include "report.h"
#include "segment.h"

/* 100,000 handshakes paused inside a Certificate are held by default: ~800 B
 * each (flow_memory_bytes / connections, `BENCH_SECTIONS=memory`). */
#define FLOW_CONNS_DEFAULT    131072	   /* connections tracked at once */
#define FLOW_IDLE_DEFAULT_S   60	   /* idle connection lifetime */
#define FLOW_HELD_DEFAULT     (256 * 1024) /* out-of-order bytes per direction */
#define FLOW_MEM_DEFAULT      (80u << 20)  /* all connection state together */
#define FLOW_HIDDEN_WAIT_MS   2000	   /* a TLS 1.3 chain waits this long for a source */
#define FLOW_SERVED_EARLY_MAX 256	   /* uprobe chains ahead of their ServerHello */

struct keylog;
struct served_chain;
struct encports;

/* flow_opts.check_time: judge validity at the packet's time, or now. */
#define FLOW_CHECK_PACKET 0
#define FLOW_CHECK_NOW	  (-1)

struct flow_opts {
	uint32_t max_conns; /* 0: FLOW_CONNS_DEFAULT */
	uint32_t idle_s;    /* 0: FLOW_IDLE_DEFAULT_S */
	uint32_t max_held;  /* 0: FLOW_HELD_DEFAULT */
	uint32_t msg_max;   /* 0: TLS_MSG_MAX_DEFAULT */
	uint64_t max_mem;   /* 0: FLOW_MEM_DEFAULT */
	int64_t check_time; /* FLOW_CHECK_*, or a fixed Unix time */
	struct cert_cache *certs;
	/* A handshake worth reporting. The report and its certs are borrowed. */
	void (*report)(void *ctx, const struct cs_report *r);
	/* This direction needs no more bytes: the source may stop copying it. */
	void (*done)(void *ctx, const struct cs_flow_key *k);
	/* The source copies TLS 1.3's encrypted records whole (the kernel's
	 * copy_encrypted, sel_copy_encrypted): set both alike. */
	bool copy_encrypted;
	/* With copy_encrypted: NULL, every direction; else only those whose
	 * server port is in the set (the kernel's CS_COPY_ENC_PORTS, its
	 * enc_ports map: keep both alike). Borrowed, may change as it goes. */
	const struct encports *enc_ports;
	/*
	 * With copy_encrypted: one whole encrypted record of a TLS 1.3
	 * handshake, as it completes. k is its sender's key; from_server: the
	 * direction did not start with a ClientHello (its flight, up to
	 * CS_ENC_SERVER_RECS records; the client gives 1: its Finished,
	 * Certificate or alert); idx its index among the direction's
	 * encrypted records (the record sequence number under the handshake
	 * traffic keys); hdr its 5-byte header (the AEAD's additional data);
	 * body the ciphertext, len bytes. Borrowed: the record stays held in
	 * the connection (flow_encrypted) until the connection ends. The
	 * server's direction is done once the client's record is in: what the
	 * server sends after it is past its flight.
	 */
	void (*encrypted)(void *ctx, const struct cs_flow_key *k, bool from_server, uint32_t idx,
			  const uint8_t *hdr, const uint8_t *body, size_t len);
	/*
	 * TLS 1.3 sources. keylog: secrets by client_random (--keylog files,
	 * a Go server's uprobe), owned by the caller; NULL: none. wait_served:
	 * a uprobe source may give chains (flow_served_chain). With either, a
	 * TLS 1.3 handshake's report waits up to hidden_wait_ms (0:
	 * FLOW_HIDDEN_WAIT_MS, packet time) for its chain, then says
	 * tls-certificate-hidden (verdict unverified). need_keys: called when a
	 * handshake's encrypted flight is held and its secret is not in keylog,
	 * to read what the key sources have now; it must not call flow_*.
	 */
	struct keylog *keylog;
	bool wait_served;
	uint32_t hidden_wait_ms;
	void (*need_keys)(void *ctx);
	void *ctx;
};

struct flow_stats {
	uint64_t conns; /* connections started */
	uint64_t active;
	uint64_t evicted;	   /* dropped to stay under max_conns */
	uint64_t evicted_mem;	   /* dropped to stay under max_mem */
	uint64_t mem, mem_peak;	   /* bytes of connection state */
	uint64_t expired;	   /* idle timeout */
	uint64_t ignored_segments; /* not part of a TLS connection we track */
	uint64_t parse_errors;	   /* directions whose TLS did not parse */
	uint64_t gaps;		   /* directions that lost bytes to a hole */
	uint64_t reports;
	uint64_t encrypted_records;	  /* whole encrypted records held (copy_encrypted) */
	uint64_t encrypted_oversize;	  /* ... not held: over RECWALK_REC_MAX */
	uint64_t client_alerts_decrypted; /* TLS 1.3 client records read with a key log */
	/* TLS 1.3 chains had from a source, and what did not work */
	uint64_t hidden_waiting;     /* gauge: handshakes waiting for a source */
	uint64_t keylog_chains;	     /* decrypted with a key log's secret */
	uint64_t keylog_auth_failed; /* a secret that did not open the flight (wrong key) */
	uint64_t keylog_failed;	     /* other flight errors (suite, lengths, messages) */
	uint64_t served_chains;	     /* a local server's chain (uprobe) */
	uint64_t served_clear;	     /* ... for a TLS 1.2 connection: the wire had it */
	uint64_t served_unmatched;   /* ... for no connection seen */
	uint64_t served_late;	     /* ... after its handshake was reported unverified */
};

struct flow_table;

struct flow_table *flow_new(const struct flow_opts *o);
/* The segment sink (a cs_segment_fn): ctx is the flow_table. */
int flow_segment(void *ctx, const struct cs_segment *seg);
/* The idx-th encrypted record held for the direction sent by k (see
 * flow_opts.encrypted), or NULL. Valid until the next flow_* call. */
const struct recwalk_record *flow_encrypted(struct flow_table *t, const struct cs_flow_key *k,
					    uint32_t idx);
/* A local server's chain and the connection it went out on (uprobe). */
void flow_served_chain(struct flow_table *t, const struct served_chain *sc);
/* New secrets are in opts.keylog: handshakes waiting for theirs try again. */
void flow_keys_arrived(struct flow_table *t);
/* Expires connections idle since before now_ns - idle_s (epoch ns). */
void flow_expire(struct flow_table *t, uint64_t now_ns);
void flow_stats(const struct flow_table *t, struct flow_stats *st);
/* Ends every connection, writing chains still pending: at exit nothing seen
 * is lost. */
void flow_drain(struct flow_table *t);
void flow_free(struct flow_table *t);

#endif
