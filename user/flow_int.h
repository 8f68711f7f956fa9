/* flow_int.h - what the flow stages (user/flow*.c) share: the connection table's types. */
#ifndef CS_FLOW_INT_H
#define CS_FLOW_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "dtls.h"
#include "flow.h"
#include "htab.h"
#include "ja.h"
#include "lru.h"
#include "outcomes.h"
#include "reasm.h"
#include "recwalk.h"
#include "served.h"
#include "tls.h"
#include "tls13.h"

enum role { ROLE_UNKNOWN, ROLE_CLIENT, ROLE_SERVER };

struct conn;

/* A TLS 1.3 handshake whose chain is encrypted, waiting (bounded in time)
 * for a source to give it: the key log (decrypt the server's flight) or the
 * local server's uprobes. */
struct hidden {
	struct hidden *next, *prev; /* flow_table.hid: oldest, earliest deadline, first */
	struct conn *c;		    /* NULL: the connection ended; a served chain may come */
	struct cs_flow_key key;	    /* the server's direction */
	uint64_t deadline_ns;	    /* packet time */
	struct cs_report r;	    /* the tls-certificate-hidden report, as of the ServerHello */
	struct tls13_flight *fl;    /* the secret was found: the flight being decrypted */
	uint32_t next_idx;	    /* server records fed to fl */
	bool failed, asked;	    /* fl failed; need_keys was called */
	struct cs_report *got;	    /* the chain, once the Certificate is decrypted */
};

/* A served chain that came before its connection's ServerHello. */
struct served_early {
	struct cs_flow_key key; /* the server's direction */
	uint64_t ts_ns, mono_ns;
	uint8_t binding;
	uint32_t n, total;
	struct cert_facts *chain[TLS_CHAIN_MAX];
};

/* A Certificate message's chain, taken an entry at a time (tls_cb.cert_entry). */
struct chain_acc {
	uint32_t n, total; /* refs in chain; entries in the message so far */
	uint32_t own;	   /* DER bytes of entries no one else held when taken */
	uint32_t cap;	   /* room in chain */
	struct cert_facts *chain[];
};

/* One direction, inside its struct conn (dir_conn): 100k connections must
 * fit the memory bound, so it holds no pointer back and packs its flags. */
struct dir {
	union {
		struct chain_acc *acc;	/* TCP, heap: only while a Certificate is under way */
		struct dtls_parser *dp; /* UDP (heap: TCP needs none) */
	};
	struct reasm r;		  /* TCP */
	struct tls_parser p;	  /* TCP */
	struct recwalk w;	  /* TCP: where the source stops copying */
	uint32_t isn;		  /* sequence number of the first byte */
	uint8_t idx;		  /* d[idx] in its connection */
	uint8_t role;		  /* enum role */
	bool done;		  /* needs no more bytes */
	uint8_t client_start : 1; /* it started with a ClientHello (the kernel's quiet) */
	uint8_t closed : 1;	  /* FIN or RST seen */
	uint8_t gap_reported : 1;
};

/* What a connection needs only late or seldom (a TLS 1.3 handshake, a chain
 * seen): allocated on first use (conn_rare), so that 100k connections paused
 * inside a Certificate do not carry it. */
struct conn_rare {
	struct outcome_track ot;   /* TLS 1.3: what the client did after the flight */
	struct cs_report *pending; /* chain waiting for a CertificateStatus */
	struct hidden *hid;	   /* TLS 1.3: waiting for a source */
	bool have_leaf;
	uint8_t leaf_sha256[32]; /* server leaf, once seen (have_leaf); leaf_hex() */
};

struct conn {
	struct hnode h;		/* in the table, by key_hash() */
	struct lru_node lru;	/* recency, most recent at the head */
	struct cs_flow_key key; /* the sender of d[0] (conn_key) */
	struct dir d[2];
	uint64_t last_ns;
	uint32_t mem; /* bytes accounted to this connection */
	/* Heap strings, NULL when absent: most connections carry no ALPN and a
	 * short SNI, and 100k of them must fit the memory bound. */
	char *sni, *alpn_offered, *alpn;
	/* The client side: its hello's facts (heap: ~136 bytes, only for
	 * hellos that decoded). */
	struct hello_summary *hello;
	struct conn_rare *rare; /* NULL until needed */
	/* The ClientHello's session id, until the ServerHello says whether it
	 * resumes: its length and its keyed hash (the table's, htab_hash: no
	 * one can make another id hash alike), 8 bytes instead of 33. */
	uint64_t ch_sid_hash;
	uint8_t ch_sid_len;
	uint16_t version, cipher;
	bool udp;
	bool have_ch, have_sh, has_sni, resumed, hidden, chain_seen, hello_retry;
	bool have_random;
	uint8_t random[32]; /* client_random: the key log's join */
};

struct conn_rare *conn_rare(struct conn *c);

/* d's connection, from its index: a pointer back would cost 16 B a connection. */
static inline struct conn *dir_conn(const struct dir *d)
{
	return (struct conn *)((const char *)(d - d->idx) - offsetof(struct conn, d));
}

static inline struct hidden *conn_hid(const struct conn *c)
{
	return c->rare ? c->rare->hid : NULL;
}

struct flow_table {
	struct flow_opts o;
	struct htab conns; /* by key_hash(), bounded by o.max_conns */
	struct lru lru;
	uint64_t now_ns, last_expire_ns;
	const struct cs_segment *seg; /* segment being processed */
	struct flow_stats st;
	struct reasm_stats reasm_st; /* all TCP directions' */
	struct hidden *hid_head, *hid_tail;
	struct served_early early[FLOW_SERVED_EARLY_MAX];
	uint32_t n_early;
	struct ja_memo *ja; /* hello fingerprints, remembered */
};

/* flow.c: the table, its keys and the reports about a connection. */
bool key_eq(const struct cs_flow_key *a, const struct cs_flow_key *b);
void conn_key(const struct conn *c, int i, struct cs_flow_key *out);
int dir_index(const struct dir *d);
/* Accounts what c holds now to the memory bound (t->st.mem): after any
 * change outside a segment (a source's chain, a key arriving). */
void mem_update(struct flow_table *t, struct conn *c);
struct conn *conn_find(struct flow_table *t, const struct cs_flow_key *k, int *idx);
int64_t check_time(const struct flow_table *t, uint64_t ts_ns);
void report_init(struct flow_table *t, struct conn *c, int server_idx, struct cs_report *r,
		 enum report_action action);
int server_index(const struct conn *c, int fallback);
void emit(struct flow_table *t, const struct cs_report *r);
void release_chain(struct flow_table *t, struct cs_report *r);
void fill_chain(struct flow_table *t, struct cs_report *r, const struct tls_cert_list *cl);
void leaf_keep(struct conn *c, const struct cs_report *r);
void leaf_hex(const struct conn *c, char out[65]);

/* flow_outcome.c: what a TLS 1.3 client did after the server's flight. */
bool from_server(const struct dir *d);
void outcome_fill(const struct conn *c, struct cs_report *r);
void report_outcome(struct flow_table *t, struct conn *c);
void client_record(struct flow_table *t, struct dir *d, const uint8_t *hdr, uint32_t end,
		   const struct recwalk_record *whole);
void client_walk_end(struct flow_table *t, struct dir *d);
void on_close(struct flow_table *t, struct dir *d, const struct cs_segment *s);

/* flow_tls13.c: a TLS 1.3 chain hidden on the wire, given by a source. */
void hidden_start(struct flow_table *t, struct dir *d);
void hidden_records(struct flow_table *t, struct hidden *h);
void hidden_give_up(struct flow_table *t, struct hidden *h);
void hidden_conn_end(struct flow_table *t, struct conn *c);
void hidden_expire(struct flow_table *t, uint64_t now_ns);
void served_early_release(struct flow_table *t, uint32_t i);
void served_early_drop(struct flow_table *t, const struct cs_flow_key *k);

#endif
