/* certsentry.bpf.c - TC classifier that copies the TLS handshake bytes of each TCP direction (and DTLS UDP direction) to a ring buffer. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "certsentry.h"
#include "cs_wire.h"

#define TC_ACT_UNSPEC (-1)

#define ETH_HLEN     14
#define VLAN_HLEN    4
#define ETH_P_IP     0x0800
#define ETH_P_IPV6   0x86DD
#define ETH_P_8021Q  0x8100
#define ETH_P_8021AD 0x88A8

#define NEXTHDR_HOP	0
#define NEXTHDR_TCP	6
#define NEXTHDR_UDP	17
#define NEXTHDR_ROUTING 43
#define NEXTHDR_DEST	60
#define IPV6_EXT_MAX	4 /* extension headers walked before giving up */

#define IP_MF_OFFSET 0x3fff /* MF flag | fragment offset */

/* What may start a TCP direction (tcp_start); >= 0 is an enum cs_mode. */
#define START_NONE (-1)

/* Direct packet reads only below this offset: keeps the verifier's packet
 * range tracking happy (it gives up above 64 KiB). */
#define DIRECT_OFF_MAX 1024

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 max_bytes = CS_MAX_BYTES_DEFAULT;
const volatile __u32 hint_seed; /* random, set by userspace at load */
/* enum cs_copy_enc, set at load: which directions' walk takes TLS 1.3's
 * encrypted flight whole (cs_enc_max): none, all (a key-log file), or those
 * of servers' ports in enc_ports (Go servers the uprobe source found). */
const volatile __u32 copy_encrypted;
/* 1: every TLS 1.3 client outcome is written (--every), so a client's first
 * encrypted record wakes the reader whatever its size; 0: only an
 * alert-sized one does (a refusal, the only outcome written by default). */
/* --port: the server ports a direction may start on (none set: any). */
const volatile struct cs_port_set port_set;
/*
 * 1 while the reader is blocked on the ring (capture_poll sets it before it
 * looks, 0 after); a record that should wake it clears it and wakes it. A
 * forced wakeup is an irq_work, a self-IPI: microseconds in a VM, and the
 * reader that is awake takes every record before it blocks again anyway.
 */
__u32 reader_waiting;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CS_FLOWS_MAX);
	__type(key, struct cs_flow_key);
	__type(value, struct cs_flow_state);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CS_DONE_FLOWS_MAX);
	__type(key, struct cs_flow_key);
	__type(value, __u8);
} done_flows SEC(".maps");

/* Filled by userspace as it finds the servers; read when a direction starts. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CS_ENC_PORTS_MAX);
	__type(key, __u16);
	__type(value, __u8);
} enc_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << CS_HINT_BITS);
	__type(key, __u32);
	__type(value, struct cs_hint);
} hints SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CS_C_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* One event being built: header + data, too big for the 512-byte stack. */
struct cs_scratch {
	struct cs_event ev;
	__u8 data[CS_EVENT_DATA_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cs_scratch);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, CS_RINGBUF_BYTES);
} events SEC(".maps");

/* What the parser found out about one TCP segment or UDP datagram. */
struct pkt {
	struct cs_flow_key key;
	__u32 seq;  /* sequence number of payload[0]; 0 for UDP */
	__u32 poff; /* payload offset from skb->data */
	__u32 plen; /* payload bytes, from the IP header's length */
	__u32 mix;  /* cs_hint_mix(): bucket in "hints" and tag */
	__u8 flags; /* TCP flags byte; 0 for UDP */
	__u8 hook;
};

static __always_inline void count(__u32 idx, __u64 v)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &idx);

	if (c)
		*c += v;
}

/* Header bytes from the linear area when they are there (cheapest), else
 * through bpf_skb_load_bytes, which also reads paged data. Never pulls.
 * A macro so the copy keeps the header type's alignment: word loads, not
 * the byte loads a memcpy from a void * becomes. */
#define load_hdr(skb, off, dst)                                                     \
	({                                                                          \
		void *data_ = (void *)(long)(skb)->data;                            \
		void *end_ = (void *)(long)(skb)->data_end;                         \
		__u32 off_ = (off);                                                 \
		int ret_ = 0;                                                       \
                                                                                    \
		if (off_ < DIRECT_OFF_MAX && data_ + off_ + sizeof(*(dst)) <= end_) \
			*(dst) = *(typeof(dst))(data_ + off_);                      \
		else                                                                \
			ret_ = bpf_skb_load_bytes(skb, off_, dst, sizeof(*(dst)));  \
		ret_;                                                               \
	})

/* End of the IP packet (skb offset): its own length field, not skb->len,
 * so Ethernet padding never counts; 0 means BIG TCP (length in the skb). */
static __always_inline __u32 ip_end(struct __sk_buff *skb, __u32 start, __u32 iplen)
{
	__u32 end = start + iplen;

	if (!iplen || end > skb->len)
		end = skb->len;
	return end;
}

static __always_inline int parse_tcp(struct __sk_buff *skb, __u32 off, __u32 end, struct pkt *p)
{
	struct tcphdr th;
	__u32 doff;

	if (load_hdr(skb, off, &th))
		return -1;
	doff = th.doff * 4;
	if (doff < sizeof(th) || off + doff > end)
		return -1;
	p->key.sport = bpf_ntohs(th.source);
	p->key.dport = bpf_ntohs(th.dest);
	p->key.proto = IPPROTO_TCP;
	p->flags = ((__u8 *)&th)[13];
	p->seq = bpf_ntohl(th.seq);
	if (p->flags & CS_TCP_SYN) /* TFO data follows the SYN's own number */
		p->seq++;
	p->poff = off + doff;
	p->plen = end - p->poff;
	return 0;
}

static __always_inline int parse_udp(struct __sk_buff *skb, __u32 off, __u32 end, struct pkt *p)
{
	struct udphdr uh;

	if (off + sizeof(uh) > end || load_hdr(skb, off, &uh))
		return -1;
	p->key.sport = bpf_ntohs(uh.source);
	p->key.dport = bpf_ntohs(uh.dest);
	p->key.proto = IPPROTO_UDP;
	p->poff = off + sizeof(uh);
	p->plen = end - p->poff;
	return 0;
}

static __always_inline int parse_l4(struct __sk_buff *skb, __u32 off, __u32 end, __u8 proto,
				    struct pkt *p)
{
	if (proto == IPPROTO_UDP)
		return parse_udp(skb, off, end, p);
	return parse_tcp(skb, off, end, p);
}

static __always_inline int parse_ipv4(struct __sk_buff *skb, __u32 off, struct pkt *p, __u32 *s,
				      __u32 *d)
{
	struct iphdr ih;
	__u32 hl, end;

	if (load_hdr(skb, off, &ih))
		return -1;
	hl = ih.ihl * 4;
	if (ih.version != 4 || hl < sizeof(ih) ||
	    (ih.protocol != IPPROTO_TCP && ih.protocol != IPPROTO_UDP))
		return -1;
	if (ih.frag_off & bpf_htons(IP_MF_OFFSET))
		return -1;
	end = ip_end(skb, off, bpf_ntohs(ih.tot_len));
	if (off + hl > end)
		return -1;
	__builtin_memcpy(p->key.saddr, &ih.saddr, 4);
	__builtin_memcpy(p->key.daddr, &ih.daddr, 4);
	p->key.family = CS_AF_INET;
	*s = ih.saddr;
	*d = ih.daddr;
	return parse_l4(skb, off + hl, end, ih.protocol, p);
}

/* Walks hop-by-hop, routing and destination options headers; anything else
 * (fragments, ESP, AH, no-next-header) is not a segment we can read. */
static __always_inline int parse_ipv6(struct __sk_buff *skb, __u32 off, struct pkt *p, __u32 *s,
				      __u32 *d)
{
	struct ipv6hdr h;
	struct {
		__u8 nh, len;
	} ext;
	__u32 end, nh;
	int i;

	if (load_hdr(skb, off, &h))
		return -1;
	end = ip_end(skb, off + sizeof(h), bpf_ntohs(h.payload_len));
	nh = h.nexthdr;
	off += sizeof(h);
#pragma unroll
	for (i = 0; i < IPV6_EXT_MAX; i++) {
		if (nh != NEXTHDR_HOP && nh != NEXTHDR_ROUTING && nh != NEXTHDR_DEST)
			break;
		if (load_hdr(skb, off, &ext))
			return -1;
		nh = ext.nh;
		off += (ext.len + 1) * 8;
	}
	if ((nh != NEXTHDR_TCP && nh != NEXTHDR_UDP) || off > end)
		return -1;
	__builtin_memcpy(p->key.saddr, &h.saddr, 16);
	__builtin_memcpy(p->key.daddr, &h.daddr, 16);
	p->key.family = CS_AF_INET6;
	*s = h.saddr.in6_u.u6_addr32[0] ^ h.saddr.in6_u.u6_addr32[3];
	*d = h.daddr.in6_u.u6_addr32[0] ^ h.daddr.in6_u.u6_addr32[3];
	return parse_l4(skb, off, end, nh, p);
}

/* Up to two VLAN tags the NIC left in the frame. */
static __always_inline int skip_vlan(struct __sk_buff *skb, __u32 *off, __u16 *proto)
{
	struct vlan_hdr vh;
	int i;

#pragma unroll
	for (i = 0; i < 2; i++) {
		if (*proto != ETH_P_8021Q && *proto != ETH_P_8021AD)
			return 0;
		if (load_hdr(skb, *off, &vh))
			return -1;
		*proto = bpf_ntohs(vh.h_vlan_encapsulated_proto);
		*off += VLAN_HLEN;
	}
	return 0;
}

static __always_inline int parse(struct __sk_buff *skb, __u32 l3off, struct pkt *p)
{
	__u16 proto = bpf_ntohs(skb->protocol);
	__u32 s, d;
	int err;

	if (l3off && skip_vlan(skb, &l3off, &proto))
		return -1;
	if (proto == ETH_P_IP)
		err = parse_ipv4(skb, l3off, p, &s, &d);
	else if (proto == ETH_P_IPV6)
		err = parse_ipv6(skb, l3off, p, &s, &d);
	else
		return -1;
	if (err)
		return err;
	p->mix = cs_hint_mix(hint_seed, s, d, (__u32)p->key.sport << 16 | p->key.dport);
	return 0;
}

/* Is the reverse direction of p tracked? (Only asked for rare packets.) */
static __always_inline bool reverse_tracked(const struct pkt *p)
{
	struct cs_flow_key k = {};

	__builtin_memcpy(k.saddr, p->key.daddr, sizeof(k.saddr));
	__builtin_memcpy(k.daddr, p->key.saddr, sizeof(k.daddr));
	k.sport = p->key.dport;
	k.dport = p->key.sport;
	k.family = p->key.family;
	k.proto = p->key.proto;
	return bpf_map_lookup_elem(&flows, &k) != NULL;
}

/* n (1..4) payload bytes at off, packed from the top byte down. */
static __always_inline int load_part(struct __sk_buff *skb, __u32 off, __u32 n, __u32 *out)
{
	__u8 b[4] = {};

	/* clang 14 drops a plain bound; this form keeps [1, 4] visible. */
	barrier_var(n);
	n = ((n - 1) & 3) + 1;
	if (bpf_skb_load_bytes(skb, off, b, n))
		return -1;
	*out = (__u32)b[0] << 24 | (__u32)b[1] << 16 | (__u32)b[2] << 8 | b[3];
	return 0;
}

/* n (1..5) payload bytes at off into b, for a payload too short for load_hdr. */
static __always_inline int load_short(struct __sk_buff *skb, __u32 off, __u32 n, __u8 *b)
{
	/* clang 14 drops a plain bound; this form keeps [1, WIRE_START_PEEK] visible. */
	barrier_var(n);
	n = ((n - 1) & (WIRE_START_PEEK - 1)) + 1;
	return bpf_skb_load_bytes(skb, off, b, n);
}

/*
 * Does this payload start a TCP direction, and as what (an enum cs_mode, or
 * START_NONE)? The rule is wire_tcp_start's; an alert counts only while the
 * reverse direction is tracked. *skip: bytes at the start the record walk
 * hops over (a warning alert); *client: it is a (TLS or SSLv2) ClientHello.
 * One 8-byte read; 6 bytes for payloads of 6 or 7; all of a shorter one.
 */
static __always_inline int tcp_start(struct __sk_buff *skb, const struct pkt *p, __u32 *skip,
				     __u8 *client)
{
	struct {
		__u8 b[WIRE_START_PEEK];
	} h = {};
	struct {
		__u8 b[WIRE_START_SHORT];
	} s;
	__u32 n = p->plen;
	enum wire_start k;
	int mode;

	*skip = 0;
	*client = 0;
	if (n >= sizeof(h)) {
		if (load_hdr(skb, p->poff, &h))
			return START_NONE;
		n = sizeof(h);
	} else if (n >= sizeof(s)) {
		if (load_hdr(skb, p->poff, &s))
			return START_NONE;
		__builtin_memcpy(h.b, s.b, sizeof(s));
		n = sizeof(s);
	} else if (!n || load_short(skb, p->poff, n, h.b)) {
		return START_NONE;
	}
	k = wire_tcp_start(h.b, n);
	mode = wire_start_mode(k, client, skip);
	/* An alert that answers a tracked hello (or comes before the answer).
	 * Rare, so the extra lookup is too. */
	if (mode == CS_MODE_ALERT && !reverse_tracked(p))
		return START_NONE;
	if (mode < 0 || !wire_port_wanted(&port_set, wire_tcp_side(k), p->key.sport, p->key.dport))
		return START_NONE;
	return mode;
}

/* p's bucket in "hints". */
static __always_inline struct cs_hint *hint_of(const struct pkt *p)
{
	__u32 idx = cs_hint_bucket(p->mix);

	return bpf_map_lookup_elem(&hints, &idx);
}

/* May p's direction be tracked? False is certain, true needs the lookup. */
static __always_inline bool hint_maybe(const struct cs_hint *b, const struct pkt *p)
{
	return !b || cs_hint_maybe(b, p->mix);
}

/* An untracked segment that continues a non-PSH one (cs_wire.h's
 * wire_tcp_continues, kept in its bucket, a line hint_maybe has just
 * read): it cannot start a direction, and its payload is not read. */
static __always_inline bool hint_continues(struct cs_hint *b, const struct pkt *p)
{
	if (!b || !wire_tcp_continues(&b->cont, p->mix, p->seq, p->plen, p->flags))
		return false;
	count(CS_C_CONTINUED, 1);
	return true;
}

/* Counts p's direction in (add) or out of its bucket. */
static __always_inline void hint_add(const struct pkt *p, bool add)
{
	__u32 idx = cs_hint_bucket(p->mix);
	struct cs_hint *b = bpf_map_lookup_elem(&hints, &idx);
	__u64 part = cs_hint_part(p->mix);

	if (!b || b->sticky)
		return;
	if (add && b->v >> CS_HINT_COUNT_SHIFT >= CS_HINT_SATURATED) {
		b->sticky = 1;
		return;
	}
	__sync_fetch_and_add(&b->v, add ? part : -part);
}

static __always_inline struct cs_scratch *scratch_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&scratch, &zero);
}

static __always_inline void ev_fill(struct cs_event *ev, struct __sk_buff *skb, const struct pkt *p,
				    __u8 type)
{
	ev->ts_ns = bpf_ktime_get_ns();
	ev->key = p->key;
	ev->ifindex = skb->ifindex;
	ev->type = type;
	ev->hook = p->hook;
	ev->tcp_flags = p->flags;
	ev->pad = 0;
}

/*
 * Waking the reader costs a context switch each; one per handshake is what a
 * report needs. The caller says whether a record may wake it (wake): only a
 * sender's write (PSH) of handshake bytes from a direction that did not start
 * with a ClientHello, i.e. the server's flights, SSLv2 and datagrams. The
 * client's records, CLOSE events and the tails after a handshake wait in the
 * ring for the next wakeup (the server's answer, at latest the reader's
 * poll timeout) or wake it when the ring fills up. A server's TLS 1.3 flight
 * wakes it where the walk stops at its first encrypted record not copied
 * (WAKE_NOW): nothing after it is copied, and the packet that carries the
 * PSH may hold only those encrypted records, so the hidden chain's source (a
 * uprobe record, a key log line) would otherwise wait for the poll timeout.
 * An alert in the clear wakes it from either side (WAKE_ALERT): a client
 * refusing the certificate is an alert line, and refusals are rare.
 * A TLS 1.3 client's outcome is decided by its first encrypted record (a
 * Finished's size, or the record decrypted with the key log) or, when that
 * record is alert-sized, by the close right after it. A refusal is news:
 * the client's write holding an alert-sized first record wakes it
 * (WAKE_OUTCOME), and so does the FIN/RST after it (cs_flow_state's
 * outcome_close). An accepted outcome waits like the client's other
 * records, also with --every, where it is a line: a wakeup costs the
 * server's CPU a self-IPI (~15 us in the benchmark VM), one more per TLS
 * 1.3 handshake measured +28 us of CPU per handshake, for a line that is
 * not an alert.
 */
enum cs_wake {
	WAKE_NONE = 0,
	WAKE_PUSHED,  /* a sender's write: PSH, or a datagram */
	WAKE_OUTCOME, /* the same, holding the direction's first encrypted record */
	WAKE_NOW,     /* the direction's copy ends here */
	WAKE_ALERT,   /* an alert in the clear, from either side */
};

static __always_inline bool wants_wakeup(const struct cs_event *ev, __u8 wake)
{
	if (wake >= WAKE_NOW)
		return true;
	if ((wake == WAKE_PUSHED || wake == WAKE_OUTCOME) &&
	    (ev->tcp_flags & CS_TCP_PSH || ev->key.proto == IPPROTO_UDP))
		return true;
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >
	       bpf_ringbuf_query(&events, BPF_RB_RING_SIZE) / 8;
}

/*
 * Should this record wake the reader? Only one that blocks (reader_waiting)
 * and only for a record that wants it. Whoever clears the flag wakes, so a
 * stale clear is always followed by a wakeup and the reader sets it again
 * before it next blocks.
 */
static __always_inline bool wake_claim(const struct cs_event *ev, __u8 wake)
{
	volatile __u32 *w = &reader_waiting;

	if (!*w || !wants_wakeup(ev, wake))
		return false;
	*w = 0;
	return true;
}

/*
 * Called after a record that did not wake is committed (its commit is a
 * full barrier): the reader either saw the record before it blocked or set
 * reader_waiting first, and then this sees it. The wakeup rides on an empty
 * record discarded at once (the reader skips it). Rare: a reader that was
 * already blocked was woken by the record itself.
 */
static __always_inline void ring_wake(const struct cs_event *ev, __u8 wake)
{
	void *nudge;

	if (!wake_claim(ev, wake))
		return;
	nudge = bpf_ringbuf_reserve(&events, sizeof(__u64), 0);
	if (!nudge) {
		reader_waiting = 1; /* the next record tries again */
		return;
	}
	bpf_ringbuf_discard(nudge, BPF_RB_FORCE_WAKEUP);
	count(CS_C_WAKEUPS, 1);
}

/* A reader blocked before the record is written is woken by the record's
 * own commit: one ring reservation (a lock with interrupts off) per wakeup
 * instead of two. */
static __always_inline void ring_out(void *ev, __u64 size, __u32 len, __u8 wake)
{
	bool now = wake_claim(ev, wake);
	long err =
		bpf_ringbuf_output(&events, ev, size, now ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);

	if (now && err)
		reader_waiting = 1; /* nothing was committed: the next record wakes */
	else if (now)
		count(CS_C_WAKEUPS, 1);
	else
		ring_wake(ev, wake);
	if (err) {
		count(CS_C_RB_FAIL, 1);
		return;
	}
	count(CS_C_EVENTS, 1);
	if (len)
		count(CS_C_BYTES, len);
}

struct copy_ctx {
	struct __sk_buff *skb;
	__u32 poff;
	__u32 seq;
	__u32 n;   /* payload bytes to copy, from payload[0] */
	__u8 wake; /* enum cs_wake (wants_wakeup) */
};

/* One ring record per CS_EVENT_DATA_MAX bytes, each with its own seq. */
static long copy_chunk(__u32 i, void *arg)
{
	struct copy_ctx *c = arg;
	struct cs_scratch *sc;
	__u32 start = i * CS_EVENT_DATA_MAX, len;

	if (start >= c->n)
		return 1;
	sc = scratch_get();
	if (!sc)
		return 1;
	len = c->n - start;
	if (len > CS_EVENT_DATA_MAX)
		len = CS_EVENT_DATA_MAX;
	/* clang 14 drops a plain bound; this form keeps [1, CHUNK] visible. */
	barrier_var(len);
	len = ((len - 1) & (CS_EVENT_DATA_MAX - 1)) + 1;
	if (bpf_skb_load_bytes(c->skb, c->poff + start, sc->data, len)) {
		count(CS_C_COPY_FAIL, 1);
		return 1;
	}
	sc->ev.seq = c->seq + start;
	sc->ev.len = len;
	ring_out(sc, sizeof(sc->ev) + len, len, c->wake);
	return 0;
}

static __always_inline void copy_payload(struct __sk_buff *skb, const struct pkt *p, __u32 n,
					 __u8 wake)
{
	struct copy_ctx c = { .skb = skb, .poff = p->poff, .seq = p->seq, .n = n, .wake = wake };
	struct cs_scratch *sc = scratch_get();

	if (!sc)
		return;
	ev_fill(&sc->ev, skb, p, CS_EV_DATA);
	bpf_loop((n + CS_EVENT_DATA_MAX - 1) / CS_EVENT_DATA_MAX, copy_chunk, &c, 0);
}

static __always_inline void emit_close(struct __sk_buff *skb, const struct pkt *p, __u8 wake)
{
	struct cs_scratch *sc = scratch_get();

	if (!sc)
		return;
	ev_fill(&sc->ev, skb, p, CS_EV_CLOSE);
	sc->ev.seq = p->seq + p->plen;
	sc->ev.len = 0;
	ring_out(&sc->ev, sizeof(sc->ev), 0, wake);
}

struct walk_ctx {
	struct __sk_buff *skb;
	__u32 poff;
	__u32 seq;
	__u32 plen;
	struct wire_walk w; /* w.rec: seq of the unit to read */
	__u32 tail;	    /* bytes (1..4) of the unit at w.rec the packet ends in */
	bool stop;	    /* the walk stops at the record at w.rec */
	bool took;	    /* the packet holds bytes of a record the walk takes */
	bool enc_stop;	    /* it stops at TLS 1.3's first encrypted record */
	bool alert_stop;    /* it stops at an alert in the clear */
	bool enc_first;	    /* it reads the direction's first encrypted record's header */
	__u16 enc_len;	    /* ... whose length is this */
};

/* One unit (cs_wire.h) read at w.rec: the walk goes on, or stops. */
static __always_inline bool walk_unit(struct walk_ctx *w, const __u8 *u)
{
	enum wire_step s;

	if (!w->w.enc && w->w.phase != WIRE_WALK_HELLO && u[0] == TLS_CT_APPDATA) {
		w->enc_first = true;
		w->enc_len = (__u16)u[3] << 8 | u[4];
	}
	s = wire_walk_unit(&w->w, u);

	if (s == WIRE_TOOK)
		w->took = true;
	w->stop = s == WIRE_STOP;
	/* Only where none was taken: a flight copied whole woke on its own PSH. */
	w->enc_stop = w->stop && !w->w.enc && w->w.phase != WIRE_WALK_HELLO &&
		      u[0] == TLS_CT_APPDATA;
	w->alert_stop = w->stop && w->w.phase != WIRE_WALK_HELLO && u[0] == TLS_CT_ALERT;
	return !w->stop;
}

/* Reads the unit at w.rec when the packet holds all of it. */
static long walk_rec(__u32 i, void *arg)
{
	struct walk_ctx *w = arg;
	__u32 pos = w->w.rec - w->seq, need = wire_walk_need(w->w.phase);
	__u8 u[TLS_HDR_LEN];

	if (pos >= w->plen)
		return 1;
	if (w->plen - pos < need) {
		w->tail = w->plen - pos;
		return 1;
	}
	/* clang 14 drops a plain bound; this form keeps [4, 5] visible. */
	barrier_var(need);
	need = TLS_HS_HDR_LEN + (need & 1);
	if (bpf_skb_load_bytes(w->skb, w->poff + pos, u, need))
		return 1;
	return !walk_unit(w, u);
}

/*
 * p starts right after the kept part of the unit at next_rec: completes it
 * into u (returns 1), or, for a packet too short to, keeps the longer part
 * (returns 0). A walk that stalled on every unit split across packets
 * would leave the cap alone to bound the copy.
 */
static __always_inline int join_unit(struct __sk_buff *skb, const struct pkt *p,
				     struct cs_flow_state *st, __u8 *u)
{
	__u32 k = st->part_len, need = wire_walk_need(st->walking), n = need - k, b;
	__u64 h;

	if (n > p->plen)
		n = p->plen;
	if (load_part(skb, p->poff, n, &b))
		return 0;
	h = (__u64)st->part << 32 | (__u64)b << (32 - 8 * k);
	if (k + n < need) {
		st->part = h >> 32;
		st->part_len = k + n;
		return 0;
	}
	st->part_len = 0;
	u[0] = h >> 56;
	u[1] = h >> 48;
	u[2] = h >> 40;
	u[3] = h >> 32;
	u[4] = h >> 24;
	return 1;
}

/* The walk stops at the record at seq rec: copy its header and
 * CS_TAIL_BYTES of its body, nothing after. */
static __always_inline void walk_stop(struct cs_flow_state *st, __u32 rec)
{
	__u32 limit = rec - st->isn + TLS_HDR_LEN + CS_TAIL_BYTES;

	st->walking = WIRE_WALK_OFF;
	st->part_len = 0;
	if (limit < st->limit)
		st->limit = limit;
}

/*
 * Walks the units this packet holds (cs_wire.h). Returns how its copy may
 * wake the reader (enum cs_wake): WAKE_ALERT where the walk stops at an
 * alert, WAKE_NOW where it stops at the first encrypted record (none
 * copied; a client's only if its outcome is a line now), WAKE_OUTCOME for
 * a packet holding the first encrypted record whose outcome is, WAKE_PUSHED for a packet that holds bytes of a record the walk
 * takes (handshake, or an encrypted record taken whole), WAKE_NONE for one
 * that starts with the record the walk stops at, or holds no more than a
 * CCS before it (TLS 1.2's CCS + Finished).
 */
static __always_inline __u8 walk(struct __sk_buff *skb, const struct pkt *p,
				 struct cs_flow_state *st)
{
	struct walk_ctx w = {
		.skb = skb, .poff = p->poff, .seq = p->seq, .plen = p->plen,
		.w = {
			.rec = st->next_rec, .body = st->body, .phase = st->walking, .enc = st->enc,
			.enc_max = st->enc_max,
		},
		/* It starts inside a record already taken. */
		.took = (__s32)(st->next_rec - p->seq) > 0,
	};
	__u8 u[TLS_HDR_LEN];
	bool outcome;

	if (st->part_len && p->seq == st->next_rec + st->part_len) {
		if (!join_unit(skb, p, st, u))
			return WAKE_NONE;
		walk_unit(&w, u);
	}
	/* Unless the next unit lies beyond this packet. */
	if (!w.stop && w.w.rec - w.seq < w.plen)
		bpf_loop(CS_WALK_MAX, walk_rec, &w, 0);
	if (w.w.rec != st->next_rec) {
		st->next_rec = w.w.rec;
		st->part_len = 0;
	}
	st->walking = w.w.phase;
	st->enc = w.w.enc;
	st->body = w.w.body;
	if (w.enc_first && st->quiet && w.enc_len == WIRE_TLS13_ALERT_LEN)
		st->outcome_close = 1;
	/* The packet holds a first encrypted record that says a refusal. */
	outcome = w.enc_first && st->outcome_close;
	if (w.stop) {
		walk_stop(st, w.w.rec);
		if (w.alert_stop)
			return WAKE_ALERT;
		if (w.enc_stop)
			return outcome || !st->quiet ? WAKE_NOW : WAKE_NONE;
	}
	/* Keep the first bytes of a unit the packet ends in (the longest seen,
	 * should a retransmission end sooner). */
	if (!w.stop && w.tail > st->part_len &&
	    !load_part(skb, p->poff + (w.w.rec - w.seq), w.tail, &st->part))
		st->part_len = w.tail;
	return outcome ? WAKE_OUTCOME : w.took ? WAKE_PUSHED : WAKE_NONE;
}

/* A quiet direction's (the client's) records wake the reader only where its
 * TLS 1.3 outcome is decided, or for an alert in the clear. */
static __always_inline __u8 quiet_wake(__u8 wake)
{
	if (wake == WAKE_ALERT)
		return wake;
	return wake >= WAKE_OUTCOME ? WAKE_OUTCOME : WAKE_NONE;
}

/* A starting TCP direction's cs_enc_max: enc_ports is looked up only for
 * CS_COPY_ENC_PORTS, once per direction. */
static __always_inline __u8 enc_max_of(const struct pkt *p, __u8 client)
{
	__u16 port = cs_server_port(p->key.sport, p->key.dport, client);
	int listed = copy_encrypted == CS_COPY_ENC_PORTS && bpf_map_lookup_elem(&enc_ports, &port);

	return cs_enc_max(cs_enc_copied(copy_encrypted, listed), client);
}

static __always_inline void flow_init(struct cs_flow_state *st, __u32 seq, int mode, __u32 skip,
				      __u8 client, __u8 enc_max)
{
	st->isn = seq;
	st->next_rec = seq + skip;
	st->limit = max_bytes ? max_bytes : CS_MAX_BYTES_DEFAULT;
	st->hi = 0;
	/* SSLv2 records cannot be walked; DTLS datagrams are looked at whole. */
	st->walking = mode == CS_MODE_TLS || mode == CS_MODE_ALERT ? WIRE_WALK_CLEAR :
								     WIRE_WALK_OFF;
	st->done = 0;
	st->closing = 0;
	st->mode = mode;
	st->part = 0;
	st->part_len = 0;
	st->quiet = client;
	st->enc = 0;
	st->enc_max = enc_max;
	st->body = 0;
	st->outcome_close = 0;
}

/* The bucket is bumped before the insert so that no other CPU can see the
 * entry behind a zero bucket. */
static __always_inline struct cs_flow_state *flow_new(const struct pkt *p, int mode, __u32 skip,
						      __u8 client)
{
	struct cs_flow_state st = {};

	flow_init(&st, p->seq, mode, skip, client,
		  mode == CS_MODE_DTLS ? 0 : enc_max_of(p, client));
	hint_add(p, true);
	if (bpf_map_update_elem(&flows, &p->key, &st, BPF_NOEXIST)) {
		hint_add(p, false);
		return NULL;
	}
	count(CS_C_FLOWS, 1);
	return bpf_map_lookup_elem(&flows, &p->key);
}

static __always_inline void flow_forget(const struct pkt *p)
{
	if (!bpf_map_delete_elem(&flows, &p->key))
		hint_add(p, false);
	bpf_map_delete_elem(&done_flows, &p->key);
}

/* Payload of a tracked direction: copy what lies below the limit. Returns
 * nonzero when the entry is gone. */
static __always_inline int tracked_data(struct __sk_buff *skb, const struct pkt *p,
					struct cs_flow_state *st)
{
	__s32 off = p->seq - st->isn;
	__u32 n, end, skip, cap = max_bytes ? max_bytes : CS_MAX_BYTES_DEFAULT;
	__u8 wake, client;
	int mode;

	if (off < 0 || (__u32)off >= st->limit) {
		/* Same 5-tuple, new connection (or a second hello far away);
		 * past the handshake, the segments of a write are not peeked. */
		mode = hint_continues(hint_of(p), p) ? START_NONE :
						       tcp_start(skb, p, &skip, &client);
		if (mode != START_NONE) {
			flow_init(st, p->seq, mode, skip, client, enc_max_of(p, client));
			off = 0;
		}
	}
	if (off < 0)
		return 0;
	if ((__u32)off < st->limit) {
		if (bpf_map_lookup_elem(&done_flows, &p->key)) {
			flow_forget(p);
			return -1;
		}
		/* SSLv2 is not walked: every write of it may matter. */
		if (st->walking)
			wake = walk(skb, p, st);
		else
			wake = st->mode == CS_MODE_SSL2 ? WAKE_PUSHED : WAKE_NONE;
		n = st->limit - off;
		if (n > p->plen)
			n = p->plen;
		if (n)
			copy_payload(skb, p, n, st->quiet ? quiet_wake(wake) : wake);
	}
	end = off + p->plen;
	if (end > st->hi)
		st->hi = end;
	if (st->hi >= st->limit && !st->done) {
		st->done = 1;
		if (st->limit >= cap)
			count(CS_C_CAPPED, 1);
	}
	if (st->done && st->closing) {
		flow_forget(p); /* the data the FIN overtook is in */
		return -1;
	}
	return 0;
}

/* FIN or RST: one CLOSE event. The entry goes now unless data the FIN
 * overtook (processed on another CPU, or lost) is still to come: then the
 * limit becomes the FIN's offset and the entry goes when that data is in. */
static __always_inline void tracked_close(struct __sk_buff *skb, const struct pkt *p,
					  struct cs_flow_state *st)
{
	__s32 fin = p->seq + p->plen - st->isn;

	if (!st->closing) {
		emit_close(skb, p, st->outcome_close ? WAKE_NOW : WAKE_NONE);
		st->closing = 1;
	}
	if (st->done || fin < 0 || st->hi >= (__u32)fin) {
		flow_forget(p);
		return;
	}
	if ((__u32)fin < st->limit)
		st->limit = fin;
}

/* On ingress the stack has set skb_iif to this device; locally sent
 * packets have none and forwarded ones carry another device's. */
static __always_inline __u8 hook_of(struct __sk_buff *skb)
{
	return skb->ingress_ifindex == skb->ifindex ? CS_HOOK_INGRESS : CS_HOOK_EGRESS;
}

static __always_inline void handle_tcp(struct __sk_buff *skb, struct pkt *p)
{
	struct cs_flow_state *st = NULL;
	struct cs_hint *b;
	__u32 skip;
	__u8 client;
	int mode;

	if (!p->plen && !(p->flags & (CS_TCP_FIN | CS_TCP_RST)))
		return; /* pure ACK, SYN: nothing to see */
	if (p->plen)
		count(CS_C_TCP_PAYLOAD, 1);
	b = hint_of(p);
	if (hint_maybe(b, p))
		st = bpf_map_lookup_elem(&flows, &p->key);
	if (!st) {
		if (hint_continues(b, p))
			return;
		mode = tcp_start(skb, p, &skip, &client);
		if (mode == START_NONE)
			return;
		st = flow_new(p, mode, skip, client);
		if (!st)
			return;
	}
	p->hook = hook_of(skb);
	if (p->plen && tracked_data(skb, p, st))
		return;
	if (p->flags & (CS_TCP_FIN | CS_TCP_RST))
		tracked_close(skb, p, st);
}

struct dtls_ctx {
	struct __sk_buff *skb;
	__u32 poff;
	__u32 plen;
	__u32 pos; /* offset of the record header to read */
	bool stop; /* a record that ends the handshake */
};

/* Reads the DTLS record header at pos: hops over it, or stops at one that
 * ends the handshake (wire_dtls_rec_ends). Datagrams hold whole records: a
 * header past the end is junk. */
static long dtls_rec(__u32 i, void *arg)
{
	struct dtls_ctx *c = arg;
	__u8 h[DTLS_HDR_LEN];

	if (c->pos >= c->plen || c->plen - c->pos < DTLS_HDR_LEN)
		return 1;
	if (bpf_skb_load_bytes(c->skb, c->poff + c->pos, h, sizeof(h)))
		return 1;
	if (wire_dtls_rec_ends(h)) {
		c->stop = true;
		return 1;
	}
	c->pos += wire_dtls_rec_span(h);
	return 0;
}

/*
 * A DTLS datagram (first byte 20..63) of a tracked UDP direction: copied
 * whole, up to the cap; the first one that holds a record ending the
 * handshake is the last. A hello on a finished direction starts it again.
 */
static __always_inline void udp_tracked(struct __sk_buff *skb, struct pkt *p,
					struct cs_flow_state *st, const __u8 *peek, bool have)
{
	struct dtls_ctx c = { .skb = skb, .poff = p->poff, .plen = p->plen };
	__u32 n, cap = max_bytes ? max_bytes : CS_MAX_BYTES_DEFAULT;

	if (st->done) {
		if (!have || !wire_dtls_hello(peek, DTLS_HELLO_PEEK))
			return;
		flow_init(st, 0, CS_MODE_DTLS, 0, 0, 0);
	}
	if (bpf_map_lookup_elem(&done_flows, &p->key)) {
		flow_forget(p);
		return;
	}
	bpf_loop(CS_WALK_MAX, dtls_rec, &c, 0);
	n = st->limit - st->hi; /* > 0: not done */
	if (n > p->plen)
		n = p->plen;
	p->hook = hook_of(skb);
	copy_payload(skb, p, n, WAKE_PUSHED);
	st->hi += n;
	if (c.stop)
		st->limit = st->hi;
	if (st->hi >= st->limit) {
		st->done = 1;
		if (!c.stop && st->limit >= cap)
			count(CS_C_CAPPED, 1);
	}
}

/*
 * UDP. Only a datagram whose first byte says DTLS (RFC 7983: 20..63) can
 * start a direction or be copied from one, so everything else (STUN, QUIC,
 * RTP, most DNS) costs one read and no map lookup, tracked flow or not.
 */
static __always_inline void handle_udp(struct __sk_buff *skb, struct pkt *p)
{
	struct cs_flow_state *st = NULL;
	struct {
		__u8 b[DTLS_HELLO_PEEK];
	} h = {};
	struct {
		__u8 b;
	} first;
	bool have = p->plen >= sizeof(h);

	if (have) {
		if (load_hdr(skb, p->poff, &h))
			return;
	} else {
		if (!p->plen || load_hdr(skb, p->poff, &first))
			return;
		h.b[0] = first.b;
	}
	if (!wire_dtls_mux(h.b[0]))
		return;
	if (hint_maybe(hint_of(p), p))
		st = bpf_map_lookup_elem(&flows, &p->key);
	if (!st) {
		if (!have || !wire_dtls_hello(h.b, sizeof(h)) ||
		    !wire_port_wanted(&port_set, wire_dtls_side(h.b), p->key.sport, p->key.dport))
			return;
		st = flow_new(p, CS_MODE_DTLS, 0, 0);
		if (!st)
			return;
	}
	udp_tracked(skb, p, st, h.b, have);
}

static __always_inline int handle(struct __sk_buff *skb, __u32 l3off)
{
	struct pkt p = {};

	count(CS_C_PACKETS, 1);
	if (parse(skb, l3off, &p))
		return TC_ACT_UNSPEC;
	if (p.key.proto == IPPROTO_UDP)
		handle_udp(skb, &p);
	else
		handle_tcp(skb, &p);
	return TC_ACT_UNSPEC;
}

/* Ethernet and Ethernet-like devices (loopback has a zero MAC header). */
SEC("tc")
int cs_tc(struct __sk_buff *skb)
{
	return handle(skb, ETH_HLEN);
}

/* L3 devices (tun, wireguard): the packet starts with the IP header. */
SEC("tc")
int cs_tc_l3(struct __sk_buff *skb)
{
	return handle(skb, 0);
}

/* The benchmark floor: what any attached classifier costs. */
SEC("tc")
int cs_empty(struct __sk_buff *skb)
{
	return TC_ACT_UNSPEC;
}
