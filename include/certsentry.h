/* certsentry.h - the ABI between the kernel program and userspace: maps, ring records, limits. */
#ifndef CERTSENTRY_H
#define CERTSENTRY_H

/*
 * Included by bpf/certsentry.bpf.c (after vmlinux.h) and by userspace (after
 * <linux/types.h>), so only __u8/__u16/__u32/__u64 types appear here.
 * Every change here is an ABI change: keep fields naturally aligned; the
 * assertions at the end pin the layouts both sides rely on. What TLS looks
 * like on the wire is cs_wire.h's.
 */

/* ---- Limits ---------------------------------------------------------------- */

#define CS_MAX_BYTES_DEFAULT (512 * 1024) /* copied per direction */
#define CS_EVENT_DATA_MAX    16384	  /* payload bytes per ring record */
#define CS_RINGBUF_BYTES     (16 * 1024 * 1024)
#define CS_FLOWS_MAX	     65536 /* LRU hash "flows" */
#define CS_DONE_FLOWS_MAX    4096  /* LRU hash "done_flows" */
#define CS_WALK_MAX	     32	   /* TLS/DTLS record headers walked per packet */
#define CS_TAIL_BYTES	     8	   /* copied of the record the walk stops at */
/* TLS 1.3's encrypted records copied whole, only while a key source is
 * configured (the program's copy_encrypted): a direction that did not start
 * with a ClientHello (the server) takes its flight, EncryptedExtensions,
 * [CertificateRequest], Certificate, CertificateVerify, Finished: 5 records
 * when each message has its own (OpenSSL, Go), fewer when they share one,
 * and 8 leaves room for a chain over 16 KiB split over up to 4 records.
 * The client takes 1: its Finished, Certificate or alert. Userspace ends a
 * direction sooner through done_flows. */
#define CS_ENC_SERVER_RECS 8
#define CS_ENC_CLIENT_RECS 1

/* The program's copy_encrypted: which TCP directions take TLS 1.3's
 * encrypted flight. A key-log file may hold any connection's secrets: all.
 * The uprobe source alone gives secrets only for the Go servers it found
 * (OpenSSL servers give their chain itself): only connections to a server
 * port in the map "enc_ports" (userspace: struct encports), looked up when
 * the direction starts. */
enum cs_copy_enc {
	CS_COPY_ENC_NONE = 0,
	CS_COPY_ENC_ALL = 1,
	CS_COPY_ENC_PORTS = 2,
};

#define CS_ENC_PORTS_MAX 256 /* entries of "enc_ports" (key: __u16 port, value: __u8) */

/* The server's port of a direction: client, it started with a ClientHello. */
static inline __u16 cs_server_port(__u16 sport, __u16 dport, int client)
{
	return client ? dport : sport;
}

/* Does a direction take the encrypted flight? listed: its server port is
 * in enc_ports (asked only for CS_COPY_ENC_PORTS). */
static inline int cs_enc_copied(__u32 copy_encrypted, int listed)
{
	return copy_encrypted == CS_COPY_ENC_ALL || (copy_encrypted == CS_COPY_ENC_PORTS && listed);
}

/* Encrypted records a TCP direction may take whole (cs_wire.h's walk):
 * none unless copied (cs_enc_copied); client: it started with a ClientHello. */
static inline __u8 cs_enc_max(int copied, int client)
{
	if (!copied)
		return 0;
	return client ? CS_ENC_CLIENT_RECS : CS_ENC_SERVER_RECS;
}

/* ---- Flow key --------------------------------------------------------------- */

enum cs_family { CS_AF_INET = 4, CS_AF_INET6 = 6 };

/* Directional 5-tuple: src is the sender of the bytes. Addresses are in
 * network byte order (IPv4 in the first 4 bytes, rest zero); ports are in
 * host byte order. No padding: keys are compared and hashed as bytes. It is
 * the key of "flows" and "done_flows" (value: a __u8, any). */
struct cs_flow_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u8 family; /* enum cs_family */
	__u8 proto;  /* IPPROTO_TCP, or IPPROTO_UDP (DTLS) */
	__u8 pad[2];
};

/* ---- Ring records (ring buffer "events") ------------------------------------ */

enum cs_event_type {
	CS_EV_DATA = 1,	 /* len payload bytes at TCP sequence seq; for UDP
				 * one datagram, seq = offset in it (see below) */
	CS_EV_CLOSE = 2, /* FIN or RST seen (tcp_flags says which); len 0 */
};

enum cs_hook { CS_HOOK_INGRESS = 0, CS_HOOK_EGRESS = 1 };

/* TCP flag bits as in the TCP header's 13th byte. */
#define CS_TCP_FIN 0x01
#define CS_TCP_SYN 0x02
#define CS_TCP_RST 0x04
#define CS_TCP_PSH 0x08
#define CS_TCP_ACK 0x10

/* One ring record: this header, then len payload bytes. */
struct cs_event {
	__u64 ts_ns; /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	struct cs_flow_key key;
	__u32 seq; /* TCP sequence number of the first byte */
	__u32 ifindex;
	__u32 len;
	__u8 type; /* enum cs_event_type */
	__u8 hook; /* enum cs_hook */
	__u8 tcp_flags;
	__u8 pad;
};

/*
 * A CS_EV_CLOSE record's seq is the sequence number just past the segment's
 * payload (the FIN's own sequence number); its tcp_flags say FIN or RST. It
 * comes once per direction, and may precede data segments that were
 * reordered behind the FIN (different CPUs): userspace should not drop data
 * that arrives after a CLOSE but lies below its seq.
 *
 * UDP (key.proto IPPROTO_UDP) directions carry DTLS. Each copied datagram is
 * one CS_EV_DATA record whose seq is 0 (the offset of data[0] in the
 * datagram; only a datagram over CS_EVENT_DATA_MAX bytes is split, its
 * further pieces at seq 16384, 32768...). UDP has no CLOSE: idle entries
 * age out of the LRU, or go when userspace marks them done.
 */

/* ---- Flow state (value of "flows") ------------------------------------------ */

/* How a direction started: decides how its bytes are walked. */
enum cs_mode {
	CS_MODE_TLS = 0,   /* TLS hello record: records walked */
	CS_MODE_SSL2 = 1,  /* SSLv2 CLIENT-/SERVER-HELLO: not walked, copied to the cap */
	CS_MODE_ALERT = 2, /* TLS Alert while the reverse direction is tracked: walked;
				 * a warning alert at the start is hopped over */
	CS_MODE_DTLS = 3,  /* UDP, DTLS hello: datagrams copied whole */
};

/* Offsets are sequence numbers minus isn, so retransmissions never count
 * twice. For a UDP direction hi counts the bytes copied, limit is the cap
 * (lowered to hi when the handshake is over), isn and next_rec are 0. */
struct cs_flow_state {
	__u32 isn;	/* seq of the first TLS record of this direction */
	__u32 next_rec; /* seq of the walk's next unit (cs_wire.h: a record
				 * header, or a handshake header after a CCS) */
	__u32 limit;	/* copy offsets [0, limit): max_bytes, or less once the
				 * walk stopped at a record (its header + CS_TAIL_BYTES),
				 * or the FIN's offset once closing */
	__u32 hi;	/* highest offset seen (end of a segment) */
	__u8 walking;	/* enum wire_walk_phase: 0 once stopped, or never walked */
	__u8 done;	/* hi reached limit: nothing more to copy */
	__u8 closing;	/* FIN/RST seen (CLOSE sent) before all data was: the
				 * entry stays until the missing data arrives */
	__u8 mode;	/* enum cs_mode: what started the direction */
	/* A unit split across packets: its first part_len (1..4) bytes, at
	 * seq next_rec, packed from the top byte down (byte 0 in bits 31..24);
	 * the packet at next_rec + part_len completes it. part_len 0: none kept. */
	__u32 part;
	__u8 part_len;
	/* The direction began with a ClientHello. Its records wake the reader
	 * only where its TLS 1.3 outcome is decided or for an alert in the
	 * clear: the server's answer does, and brings the rest along. */
	__u8 quiet;
	__u8 enc;     /* encrypted records taken (wire_walk.enc) */
	__u8 enc_max; /* ... at most (cs_enc_max), set when the direction starts */
	__u16 body;   /* walking WIRE_WALK_HELLO: the record's body length */
	/* A quiet direction's first encrypted record was alert-sized
	 * (WIRE_TLS13_ALERT_LEN): its FIN/RST decides the client's outcome and
	 * wakes the reader. */
	__u8 outcome_close;
	__u8 pad3;
};

/* ---- Hints (array map "hints") ---------------------------------------------- */

/*
 * Lookup-free pre-check: 1 << CS_HINT_BITS buckets. A bucket sums up the
 * tracked directions that hash to it in one 64-bit word: their number times
 * 2^CS_HINT_COUNT_SHIFT plus the sum of their 32-bit tags (exact: fewer than
 * 2^15 tags under 2^32 cannot carry into the count). One atomic add changes
 * both halves and one load reads both, so a packet learns without the hash
 * table: no flow in its bucket, or one flow whose tag is not its own, means
 * not tracked; anything else is looked up. The kernel adds before it inserts
 * a flow and subtracts after it deletes one; entries the LRU evicts leave
 * their part behind, which only costs lookups later. A bucket that reaches
 * CS_HINT_SATURATED flows (a seed-guessing attack, nothing else) turns
 * sticky: always looked up, never counted again. The mix is keyed with a
 * random seed (the program's hint_seed) so that nobody can aim connections
 * at one bucket. Userspace that inserts into "flows" itself must add
 * cs_hint_part() to the bucket too.
 */
#define CS_HINT_BITS	    18
#define CS_HINT_COUNT_SHIFT 48
#define CS_HINT_SATURATED   0x4000

struct cs_hint {
	__u64 v;      /* count << CS_HINT_COUNT_SHIFT | sum of tags */
	__u32 sticky; /* set once, never cleared */
	__u32 cont;   /* cs_wire.h's wire_tcp_continues: the end of the last
		       * non-PSH segment of the bucket it saw, ^ its mix */
};

/* s, d: first ^ last 32-bit word of saddr/daddr as stored in the key (for
 * IPv4 simply the address); ports: sport << 16 | dport. The bucket is the
 * top CS_HINT_BITS bits; the tag is all 32 (two flows of one bucket share
 * the top bits, so their tags differ in the other 14 unless they collide). */
static inline __u32 cs_hint_mix(__u32 seed, __u32 s, __u32 d, __u32 ports)
{
	__u32 h = (s ^ seed) * 0x9E3779B1u;

	h = (h ^ d) * 0x85EBCA77u;
	h = (h ^ ports) * 0xC2B2AE3Du;
	return h ^ (h >> 16 & ((1u << (32 - CS_HINT_BITS)) - 1));
}

static inline __u32 cs_hint_bucket(__u32 mix)
{
	return mix >> (32 - CS_HINT_BITS);
}

/* What one flow of tag mix adds to its bucket's v. */
static inline __u64 cs_hint_part(__u32 mix)
{
	return (1ULL << CS_HINT_COUNT_SHIFT) + mix;
}

/* Does a bucket say "look it up" for a flow of tag mix? */
static inline int cs_hint_maybe(const struct cs_hint *b, __u32 mix)
{
	__u64 v = *(volatile const __u64 *)&b->v;

	/* The tracked flow itself and a bucket of several decide on v alone:
	 * the sticky mark matters only where v would say "no". */
	if (v == cs_hint_part(mix) || (v && v >> CS_HINT_COUNT_SHIFT != 1))
		return 1;
	return b->sticky != 0;
}

/* The mix of a key (userspace; the kernel mixes the same words while parsing). */
static inline __u32 cs_flow_hint(__u32 seed, const struct cs_flow_key *k)
{
	__u32 s0, s3, d0, d3;

	__builtin_memcpy(&s0, k->saddr, 4);
	__builtin_memcpy(&s3, k->saddr + 12, 4);
	__builtin_memcpy(&d0, k->daddr, 4);
	__builtin_memcpy(&d3, k->daddr + 12, 4);
	return cs_hint_mix(seed, s0 ^ s3, d0 ^ d3, (__u32)k->sport << 16 | k->dport);
}

/* ---- Port set (the program's port_set: --port in the kernel) ----------------- */

/*
 * The server ports a direction may start on (cs_wire.h's wire_port_wanted
 * says which port of it is the server's); with none set, every port. Filled
 * by userspace before load, read-only after: a filtered-out port costs no
 * map entry, no copy and no ring space. select.c keeps the same set.
 */
#define CS_PORT_SET_BYTES (65536 / 8)

struct cs_port_set {
	__u32 on;		      /* any port set */
	__u8 bits[CS_PORT_SET_BYTES]; /* port p: bit p % 8 of byte p / 8 */
};

/* Userspace, before load. */
static inline void cs_port_set_add(struct cs_port_set *s, __u16 port)
{
	s->bits[port >> 3] |= (__u8)(1u << (port & 7));
	s->on = 1;
}

static inline int cs_port_in(const volatile struct cs_port_set *s, __u16 port)
{
	return s->bits[port >> 3] >> (port & 7) & 1;
}

/* ---- Counters (per-CPU array map "counters", index = enum value) ------------ */

enum cs_counter {
	CS_C_PACKETS,	  /* every packet the classifier saw */
	CS_C_TCP_PAYLOAD, /* TCP packets with payload */
	CS_C_FLOWS,	  /* flow directions started */
	CS_C_BYTES,	  /* payload bytes copied to the ring */
	CS_C_EVENTS,	  /* ring records written */
	CS_C_RB_FAIL,	  /* ring-buffer output failures (drops) */
	CS_C_CAPPED,	  /* directions that reached the byte cap */
	CS_C_COPY_FAIL,	  /* bpf_skb_load_bytes of payload failed (should stay 0) */
	CS_C_WAKEUPS,	  /* records that woke the blocked reader (one irq_work each) */
	CS_C_CONTINUED,	  /* payload segments not peeked for a start (wire_tcp_continues) */
	CS_C_MAX
};

/* ---- tc handle (clsact fallback) -------------------------------------------- */

/* A clsact filter's handle and priority: these plus the slot its instance
 * holds (user/clsact.c), so instances side by side never share one and a
 * start tells a dead instance's filters from a live one's. */
#define CS_TC_HANDLE 0xce55
#define CS_TC_PRIO   0xce55
#define CS_TC_SLOTS  32 /* instances on one host at once */

/* ---- What both sides rely on ------------------------------------------------ */

#define CS_ABI_SIZE(type, size) _Static_assert(sizeof(type) == (size), #type " changed size")
#define CS_ABI_AT(type, field, off) \
	_Static_assert(__builtin_offsetof(type, field) == (off), #type "." #field " moved")

/* Keys are hashed 8 bytes at a time and compared as bytes (select.c, flow maps). */
CS_ABI_SIZE(struct cs_flow_key, 40);
CS_ABI_AT(struct cs_flow_key, sport, 32);
CS_ABI_AT(struct cs_flow_key, proto, 37);
/* The payload follows the record header 8-byte aligned. */
CS_ABI_SIZE(struct cs_event, 64);
CS_ABI_AT(struct cs_event, key, 8);
CS_ABI_AT(struct cs_event, seq, 48);
CS_ABI_AT(struct cs_event, len, 56);
CS_ABI_AT(struct cs_event, type, 60);
/* Tests and tools read "flows" values. */
CS_ABI_SIZE(struct cs_flow_state, 32);
CS_ABI_AT(struct cs_flow_state, part, 20);
CS_ABI_AT(struct cs_flow_state, body, 28);
/* The atomic add needs v 8-byte aligned, the array map the whole at 16. */
CS_ABI_SIZE(struct cs_hint, 16);
CS_ABI_AT(struct cs_hint, v, 0);
CS_ABI_AT(struct cs_hint, cont, 12);
/* The copy loop bounds a chunk's length with a mask. */
_Static_assert((CS_EVENT_DATA_MAX & (CS_EVENT_DATA_MAX - 1)) == 0,
	       "CS_EVENT_DATA_MAX must be a power of two");
/* A saturated bucket's tag sum stays below 2^CS_HINT_COUNT_SHIFT. */
_Static_assert(CS_HINT_SATURATED < 1u << (CS_HINT_COUNT_SHIFT - 32 - 1),
	       "CS_HINT_SATURATED lets tags carry into the count");
_Static_assert(CS_HINT_BITS > 0 && CS_HINT_BITS < 32, "CS_HINT_BITS out of range");

#endif
