/* select.c - parse captured frames to TCP/UDP and pick the TLS and DTLS bytes the kernel would copy. */
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <pcap/dlt.h>
#include "select.h"
#include "cs_wire.h"
#include "encports.h"
#include "htab.h"

#define NIL UINT32_MAX

#define ETH_HLEN  14
#define SLL_HLEN  16
#define SLL2_HLEN 20
#define NULL_HLEN 4 /* DLT_NULL / DLT_LOOP address family */
#define VLAN_HLEN 4
#define IP4_HLEN  20
#define IP6_HLEN  40
#define TCP_HLEN  20
#define UDP_HLEN  8

#define ETH_IPV4     0x0800
#define ETH_IPV6     0x86dd
#define ETH_8021Q    0x8100
#define ETH_8021AD   0x88a8
#define ETH_QINQ_OLD 0x9100 /* pre-802.1ad QinQ, still seen */

#define IP4_MF_OFFSET 0x3fff /* MF flag | fragment offset */
#define IP6_HOP	      0
#define IP6_ROUTING   43
#define IP6_FRAGMENT  44
#define IP6_DSTOPTS   60

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- parse ----------------------------------------------------------------- */

bool sel_linktype_ok(int lt)
{
	switch (lt) {
	case DLT_EN10MB:
	case DLT_LINUX_SLL:
	case DLT_LINUX_SLL2:
	case DLT_RAW:
	case SEL_LINKTYPE_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
	case DLT_NULL:
	case DLT_LOOP:
		return true;
	}
	return false;
}

/* BSD loopback AF value, in either byte order (DLT_NULL is the writer's host
 * order, DLT_LOOP network order); AF_INET6 is 24, 28 or 30 depending on the
 * BSD, 10 on Linux. Returns the IP version or 0. */
static int bsd_af(const uint8_t *p)
{
	uint32_t be = rd32(p);
	uint32_t le = (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];

	for (int i = 0; i < 2; i++) {
		uint32_t v = i ? le : be;

		if (v == 2)
			return 4;
		if (v == 10 || v == 24 || v == 28 || v == 30)
			return 6;
	}
	return 0;
}

/* The EtherType after up to SEL_VLAN_MAX tags the NIC did not strip (QinQ
 * included, bounded like the kernel); *off moves past them. */
static int skip_vlan(const uint8_t *f, uint32_t caplen, uint32_t *off, uint16_t *et)
{
	for (int n = 0; *et == ETH_8021Q || *et == ETH_8021AD || *et == ETH_QINQ_OLD; n++) {
		if (n >= SEL_VLAN_MAX)
			return SEL_NOT_IP;
		if (caplen - *off < VLAN_HLEN)
			return SEL_MALFORMED;
		*et = rd16(f + *off + 2);
		*off += VLAN_HLEN;
	}
	return SEL_OK;
}

/* Finds the start of the IP header and its version (0: read it from the
 * header). Returns SEL_OK or why not. */
static int parse_l2(int lt, const uint8_t *f, uint32_t caplen, uint32_t *off, int *ver)
{
	uint16_t et;
	int rc;

	*off = 0;
	*ver = 0;
	switch (lt) {
	case DLT_EN10MB:
		if (caplen < ETH_HLEN)
			return SEL_MALFORMED;
		et = rd16(f + 12);
		*off = ETH_HLEN;
		break;
	case DLT_LINUX_SLL:
		if (caplen < SLL_HLEN)
			return SEL_MALFORMED;
		et = rd16(f + 14);
		*off = SLL_HLEN;
		break;
	case DLT_LINUX_SLL2:
		if (caplen < SLL2_HLEN)
			return SEL_MALFORMED;
		et = rd16(f);
		*off = SLL2_HLEN;
		break;
	case DLT_NULL:
	case DLT_LOOP:
		if (caplen < NULL_HLEN)
			return SEL_MALFORMED;
		*off = NULL_HLEN;
		*ver = bsd_af(f);
		return *ver ? SEL_OK : SEL_NOT_IP;
	case DLT_RAW:
	case SEL_LINKTYPE_RAW:
		return SEL_OK;
	case DLT_IPV4:
		*ver = 4;
		return SEL_OK;
	case DLT_IPV6:
		*ver = 6;
		return SEL_OK;
	default:
		return SEL_BAD_LINKTYPE;
	}
	rc = skip_vlan(f, caplen, off, &et);
	if (rc != SEL_OK)
		return rc;
	if (et == ETH_IPV4)
		*ver = 4;
	else if (et == ETH_IPV6)
		*ver = 6;
	else
		return SEL_NOT_IP;
	return SEL_OK;
}

/* IPv4 header at ip (cap bytes captured, wire on the wire). Sets the L4
 * offset and the IP datagram length. */
static int parse_ip4(const uint8_t *ip, uint32_t cap, uint32_t wire, struct sel_pkt *o,
		     uint32_t *l4, uint32_t *tot)
{
	uint32_t ihl;

	if (cap < IP4_HLEN || ip[0] >> 4 != 4)
		return SEL_MALFORMED;
	ihl = (uint32_t)(ip[0] & 15) * 4;
	if (ihl < IP4_HLEN || ihl > cap)
		return SEL_MALFORMED;
	*tot = rd16(ip + 2);
	if (*tot == 0 || *tot > wire) /* BIG TCP, or a lying header */
		*tot = wire;
	if (*tot < ihl)
		return SEL_MALFORMED;
	if (rd16(ip + 6) & IP4_MF_OFFSET)
		return SEL_FRAGMENT;
	if (ip[9] != IPPROTO_TCP && ip[9] != IPPROTO_UDP)
		return SEL_NOT_TCP;
	o->key.proto = ip[9];
	o->key.family = CS_AF_INET;
	memcpy(o->key.saddr, ip + 12, 4);
	memcpy(o->key.daddr, ip + 16, 4);
	*l4 = ihl;
	return SEL_OK;
}

/* Walks hop-by-hop, routing and destination options headers, at most
 * SEL_IP6_EXT_MAX; anything else is not a segment we read. */
static int parse_ip6(const uint8_t *ip, uint32_t cap, uint32_t wire, struct sel_pkt *o,
		     uint32_t *l4, uint32_t *tot)
{
	uint32_t h = IP6_HLEN;
	uint8_t nh;

	if (cap < IP6_HLEN || ip[0] >> 4 != 6)
		return SEL_MALFORMED;
	*tot = IP6_HLEN + (uint32_t)rd16(ip + 4);
	if (*tot == IP6_HLEN || *tot > wire) /* jumbogram / BIG TCP, or lying */
		*tot = wire;
	nh = ip[6];
	for (int i = 0; nh != IPPROTO_TCP && nh != IPPROTO_UDP; i++) {
		if (i >= SEL_IP6_EXT_MAX)
			return SEL_NOT_TCP;
		if (nh == IP6_FRAGMENT)
			return SEL_FRAGMENT;
		if (nh != IP6_HOP && nh != IP6_ROUTING && nh != IP6_DSTOPTS)
			return SEL_NOT_TCP; /* AH, ESP, no next header ... */
		if (h > cap - 2 || h > *tot - 2)
			return SEL_MALFORMED;
		nh = ip[h];
		h += ((uint32_t)ip[h + 1] + 1) * 8; /* h < cap, + 2048 at most */
		if (h > *tot)
			return SEL_MALFORMED;
	}
	o->key.family = CS_AF_INET6;
	o->key.proto = nh;
	memcpy(o->key.saddr, ip + 8, 16);
	memcpy(o->key.daddr, ip + 24, 16);
	*l4 = h;
	return SEL_OK;
}

/* The UDP header at l4 (l4 <= tot, l4 <= cap). Like the kernel, the payload
 * length comes from the IP header, not from the UDP length field. */
static int parse_udp(const uint8_t *ip, uint32_t cap, uint32_t l4, uint32_t tot, struct sel_pkt *o)
{
	if (tot - l4 < UDP_HLEN || cap - l4 < UDP_HLEN)
		return SEL_MALFORMED;
	o->key.sport = rd16(ip + l4);
	o->key.dport = rd16(ip + l4 + 2);
	o->len = tot - l4 - UDP_HLEN;
	o->payload = ip + l4 + UDP_HLEN;
	o->caplen = cap - l4 - UDP_HLEN < o->len ? cap - l4 - UDP_HLEN : o->len;
	return SEL_OK;
}

/* The TCP header at l4 (l4 <= tot <= wire, l4 <= cap): it must be in the
 * datagram and captured. */
static int parse_tcp(const uint8_t *ip, uint32_t cap, uint32_t l4, uint32_t tot, struct sel_pkt *o)
{
	const uint8_t *tcp = ip + l4;
	uint32_t doff;

	if (tot - l4 < TCP_HLEN || cap - l4 < TCP_HLEN)
		return SEL_MALFORMED;
	doff = (uint32_t)(tcp[12] >> 4) * 4;
	if (doff < TCP_HLEN || doff > tot - l4 || doff > cap - l4)
		return SEL_MALFORMED;
	o->key.sport = rd16(tcp);
	o->key.dport = rd16(tcp + 2);
	o->flags = tcp[13];
	o->seq = rd32(tcp + 4);
	if (o->flags & CS_TCP_SYN) /* TFO data follows the SYN */
		o->seq++;
	o->len = tot - l4 - doff;
	o->payload = tcp + doff;
	/* Only a snapshot-length cut may leave bytes out (tot <= wire was checked). */
	o->caplen = cap - l4 - doff < o->len ? cap - l4 - doff : o->len;
	return SEL_OK;
}

int sel_parse(int lt, const uint8_t *f, uint32_t caplen, uint32_t wirelen, struct sel_pkt *o)
{
	uint32_t off, l4 = 0, tot = 0, cap, wire;
	const uint8_t *ip;
	int ver, rc;

	memset(o, 0, sizeof(*o));
	if (wirelen < caplen)
		wirelen = caplen;
	rc = parse_l2(lt, f, caplen, &off, &ver);
	if (rc != SEL_OK)
		return rc;
	ip = f + off;
	cap = caplen - off;
	wire = wirelen - off;
	if (cap < 1)
		return SEL_MALFORMED;
	if (ver == 0)
		ver = ip[0] >> 4;
	if (ver == 4)
		rc = parse_ip4(ip, cap, wire, o, &l4, &tot);
	else if (ver == 6)
		rc = parse_ip6(ip, cap, wire, o, &l4, &tot);
	else
		return SEL_NOT_IP;
	if (rc != SEL_OK)
		return rc;
	if (l4 > cap)
		return SEL_MALFORMED;
	if (o->key.proto == IPPROTO_UDP)
		return parse_udp(ip, cap, l4, tot, o);
	return parse_tcp(ip, cap, l4, tot, o);
}

/* ---- table ----------------------------------------------------------------- */

struct dir {
	struct cs_flow_key key;
	uint32_t isn;		       /* seq of the packet that started tracking */
	struct wire_walk w;	       /* rule 5: w.rec the next unit's seq, w.phase 0
					 * once stopped (or never walked) */
	uint32_t limit;		       /* copy offsets below this (UDP: bytes) */
	uint32_t hi;		       /* UDP: bytes selected so far */
	struct hnode h;		       /* in the table; h.next links the free list */
	struct lru_node lru;	       /* most recent first */
	uint8_t reached;	       /* a packet reached limit (counted once) */
	uint8_t user_done;	       /* sel_done: forget at the next payload */
	uint8_t mode;		       /* enum cs_mode */
	uint8_t part_len;	       /* rule 6: bytes of a split unit kept */
	uint8_t part[TLS_HDR_LEN - 1]; /* ... the bytes, from w.rec */
};

struct sel {
	struct dir *d;
	uint32_t cap;	    /* entries in d */
	uint32_t fresh;	    /* d[fresh..cap) never used yet */
	struct hnode *free; /* dropped entries, through h.next */
	struct htab tab;
	struct lru lru;
	uint32_t max_bytes;
	bool copy_encrypted;		  /* rule 5: the kernel's copy_encrypted */
	const struct encports *enc_ports; /* ... by port (CS_COPY_ENC_PORTS) */
	struct cs_port_set ports;	  /* rule 14: the kernel's port_set */
	/* Rule 2e: the kernel's hint buckets' cont words, 1 << CS_HINT_BITS of
	 * them, mixed with seed as the kernel mixes with its hint_seed. */
	uint32_t *cont;
	uint32_t seed;
	struct sel_stats st;
};

struct sel *sel_new(uint32_t capacity, uint32_t max_bytes)
{
	struct sel *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->cap = capacity ? capacity : CS_FLOWS_MAX;
	if (t->cap > (1u << 24)) /* keeps sizes sane */
		t->cap = 1u << 24;
	t->max_bytes = max_bytes ? max_bytes : CS_MAX_BYTES_DEFAULT;
	t->d = calloc(t->cap, sizeof(*t->d));
	t->cont = calloc(1u << CS_HINT_BITS, sizeof(*t->cont));
	if (!t->d || !t->cont || !htab_init(&t->tab, t->cap)) {
		sel_free(t);
		return NULL;
	}
	return t;
}

void sel_free(struct sel *t)
{
	if (!t)
		return;
	free(t->d);
	free(t->cont);
	htab_fini(&t->tab);
	free(t);
}

static uint32_t find(const struct sel *t, const struct cs_flow_key *k)
{
	struct hnode *n;

	htab_for_hash(&t->tab, htab_hash(&t->tab, k, sizeof(*k)), n)
	{
		struct dir *d = htab_entry(n, struct dir, h);

		if (!memcmp(&d->key, k, sizeof(*k)))
			return (uint32_t)(d - t->d);
	}
	return NIL;
}

static void drop(struct sel *t, uint32_t i)
{
	struct dir *d = &t->d[i];

	htab_del(&t->tab, &d->h);
	lru_unlink(&t->lru, &d->lru);
	d->h.next = t->free;
	t->free = &d->h;
	t->st.active--;
}

/* A free entry: a dropped one, a never used one, or the least recently
 * used one when the table is full. */
static struct dir *take_entry(struct sel *t)
{
	struct dir *d;

	if (!t->free) {
		if (t->fresh < t->cap)
			return &t->d[t->fresh++];
		drop(t, (uint32_t)(lru_entry(t->lru.tail, struct dir, lru) - t->d));
		t->st.evicted++;
	}
	d = htab_entry(t->free, struct dir, h);
	t->free = d->h.next;
	return d;
}

static uint32_t insert(struct sel *t, const struct cs_flow_key *k)
{
	struct dir *d = take_entry(t);

	memset(d, 0, sizeof(*d));
	d->key = *k;
	htab_add(&t->tab, &d->h, htab_hash(&t->tab, k, sizeof(*k)));
	lru_push(&t->lru, &d->lru);
	t->st.active++;
	return (uint32_t)(d - t->d);
}

/* ---- rules ----------------------------------------------------------------- */

static bool reverse_tracked(const struct sel *t, const struct cs_flow_key *k)
{
	struct cs_flow_key r = *k;

	memcpy(r.saddr, k->daddr, 16);
	memcpy(r.daddr, k->saddr, 16);
	r.sport = k->dport;
	r.dport = k->sport;
	return find(t, &r) != NIL;
}

/* Rule 2 (wire_tcp_start, wire_start_mode): does this payload start a TCP
 * direction? Returns an enum cs_mode or -1; *skip is what the walk hops over
 * at the start (a warning alert). */
static int tcp_start(const struct sel *t, const struct sel_pkt *p, uint32_t *skip, bool *client)
{
	uint32_t n = p->caplen < WIRE_START_PEEK ? p->caplen : WIRE_START_PEEK;
	enum wire_start k;
	__u8 c;
	int mode;

	*skip = 0;
	*client = false;
	/* A payload this short is judged whole: only if all of it was captured. */
	if (n < WIRE_START_SHORT && n != p->len)
		return -1;
	k = wire_tcp_start(p->payload, n);
	mode = wire_start_mode(k, &c, skip);
	*client = c;
	if (mode == CS_MODE_ALERT && !reverse_tracked(t, &p->key))
		return -1;
	if (mode < 0 || !wire_port_wanted(&t->ports, wire_tcp_side(k), p->key.sport, p->key.dport))
		return -1;
	return mode;
}

static void dir_init(struct sel *t, struct dir *d, uint32_t seq, int mode, uint32_t skip,
		     bool client)
{
	d->isn = seq;
	memset(&d->w, 0, sizeof(d->w));
	d->w.rec = seq + skip;
	if (mode == CS_MODE_TLS || mode == CS_MODE_ALERT)
		d->w.phase = WIRE_WALK_CLEAR;
	d->w.enc_max = encports_enc_max(encports_mode(t->copy_encrypted, t->enc_ports),
					t->enc_ports, &d->key, client);
	d->limit = t->max_bytes;
	d->hi = 0;
	d->reached = 0;
	d->mode = (uint8_t)mode;
	d->part_len = 0;
}

/* Rule 5: the walk stops at the record at w.rec: copy its header and
 * CS_TAIL_BYTES of its body, nothing after. */
static void walk_stop(struct sel *t, struct dir *d)
{
	uint32_t lim = d->w.rec - d->isn + TLS_HDR_LEN + CS_TAIL_BYTES;

	d->w.phase = WIRE_WALK_OFF;
	d->part_len = 0;
	t->st.stopped++;
	if (lim < d->limit)
		d->limit = lim;
}

/* Rule 6: p starts where the kept part of the unit at w.rec ends.
 * Returns true with the whole unit in u, or false (kept a longer part). */
static bool join_unit(struct dir *d, const struct sel_pkt *p, uint8_t u[TLS_HDR_LEN])
{
	uint32_t k = d->part_len, need = wire_walk_need(d->w.phase), n = need - k;

	if (n > p->caplen)
		n = p->caplen;
	if (!n)
		return false;
	memcpy(u, d->part, k);
	memcpy(u + k, p->payload, n);
	if (k + n < need) {
		memcpy(d->part, u, k + n);
		d->part_len = (uint8_t)(k + n);
		return false;
	}
	d->part_len = 0;
	return true;
}

/* Rules 5 and 6: the units (cs_wire.h: record headers, the handshake
 * header of a handshake record after a CCS) wholly inside this packet; the
 * record the walk stops at lowers limit. A unit cut by the packet end is
 * kept (its first bytes) for the packet that continues it. */
static void walk(struct sel *t, struct dir *d, const struct sel_pkt *p)
{
	struct wire_walk w = d->w;
	uint32_t tail = 0;
	uint8_t u[TLS_HDR_LEN];

	if (d->part_len && p->seq == d->w.rec + d->part_len) {
		if (!join_unit(d, p, u))
			return;
		if (wire_walk_unit(&w, u) == WIRE_STOP) {
			d->w = w;
			walk_stop(t, d);
			return;
		}
	}
	for (int i = 0; i < SEL_WALK_MAX; i++) {
		uint32_t pos = w.rec - p->seq, need = wire_walk_need(w.phase);

		if (pos >= p->caplen)
			break;
		if (p->caplen - pos < need) {
			tail = p->caplen - pos;
			break;
		}
		if (wire_walk_unit(&w, p->payload + pos) == WIRE_STOP) {
			d->w = w;
			walk_stop(t, d);
			return;
		}
	}
	if (w.rec != d->w.rec)
		d->part_len = 0;
	d->w = w;
	if (tail > d->part_len) {
		memcpy(d->part, p->payload + (w.rec - p->seq), tail);
		d->part_len = (uint8_t)tail;
	}
}

/* Rule 2e (wire_tcp_continues): a segment that continues a non-PSH one
 * cannot start (or restart, rule 3) a direction. */
static bool continues(struct sel *t, const struct sel_pkt *p)
{
	uint32_t mix = cs_flow_hint(t->seed, &p->key);

	return wire_tcp_continues(&t->cont[cs_hint_bucket(mix)], mix, p->seq, p->len, p->flags);
}

/* Rules 3-6 and 8 for a payload packet of a tracked TCP direction. Returns
 * false if the direction is to be forgotten (userspace is done with it). */
static bool tracked_data(struct sel *t, uint32_t i, const struct sel_pkt *p, struct sel_verdict *v)
{
	struct dir *d = &t->d[i];
	int32_t off = (int32_t)(p->seq - d->isn);
	uint32_t n, skip;
	bool client;
	int mode;

	if (off < 0 || (uint32_t)off >= d->limit) {
		/* Same 5-tuple, new connection (or a second hello far away);
		 * past the handshake, the segments of a write are not peeked. */
		mode = continues(t, p) ? -1 : tcp_start(t, p, &skip, &client);
		if (mode < 0)
			return true;
		dir_init(t, d, p->seq, mode, skip, client);
		off = 0;
	}
	if (d->user_done)
		return false;
	if (d->w.phase)
		walk(t, d, p);
	n = d->limit - (uint32_t)off;
	if (n > p->caplen)
		n = p->caplen;
	if (n) {
		v->data_seq = p->seq;
		v->data_len = n;
		v->data_flags = p->flags;
		t->st.bytes += n;
	}
	if (p->len >= d->limit - (uint32_t)off && !d->reached) {
		d->reached = 1;
		if (d->limit >= t->max_bytes)
			t->st.capped++;
	}
	return true;
}

/* Rule 11: a record that is not a handshake record of epoch 0, within the
 * first SEL_WALK_MAX whole record headers of the datagram. */
static bool dtls_ends(const uint8_t *p, uint32_t n)
{
	uint32_t pos = 0;

	for (int i = 0; i < SEL_WALK_MAX && pos < n && n - pos >= DTLS_HDR_LEN; i++) {
		if (wire_dtls_rec_ends(p + pos))
			return true;
		pos += wire_dtls_rec_span(p + pos);
	}
	return false;
}

/* Rule 10: the direction of a DTLS datagram, tracked or started by it; NIL
 * if neither. */
static uint32_t udp_direction(struct sel *t, const struct sel_pkt *p)
{
	uint32_t i = find(t, &p->key);

	/* Not DTLS (STUN, TURN channel, RTP ...): the kernel looks no further. */
	if (!p->caplen || !wire_dtls_mux(p->payload[0])) {
		if (i == NIL)
			t->st.not_tls++;
		return NIL;
	}
	if (i != NIL) {
		lru_touch(&t->lru, &t->d[i].lru);
		return i;
	}
	if (!wire_dtls_hello(p->payload, p->caplen) ||
	    !wire_port_wanted(&t->ports, wire_dtls_side(p->payload), p->key.sport, p->key.dport)) {
		t->st.not_tls++;
		return NIL;
	}
	i = insert(t, &p->key);
	dir_init(t, &t->d[i], 0, CS_MODE_DTLS, 0, false);
	t->st.flows++;
	return i;
}

/* Rules 10-12: one UDP datagram. */
static void udp_packet(struct sel *t, const struct sel_pkt *p, struct sel_verdict *v)
{
	struct dir *d;
	uint32_t i, n;
	bool end;

	if (!p->len)
		return;
	i = udp_direction(t, p);
	if (i == NIL)
		return;
	d = &t->d[i];
	if (d->reached) {
		if (!wire_dtls_hello(p->payload, p->caplen))
			return;
		dir_init(t, d, 0, CS_MODE_DTLS, 0, false);
	}
	if (d->user_done) {
		drop(t, i);
		return;
	}
	end = dtls_ends(p->payload, p->caplen);
	n = d->limit - d->hi;
	if (n > p->len)
		n = p->len;
	v->data_seq = 0;
	v->data_len = n < p->caplen ? n : p->caplen;
	t->st.bytes += v->data_len;
	d->hi += n;
	if (end) {
		d->limit = d->hi;
		t->st.stopped++;
	}
	if (d->hi >= d->limit) {
		d->reached = 1;
		if (!end && d->limit >= t->max_bytes)
			t->st.capped++;
	}
}

/* Rule 2: the direction of a TCP packet, tracked or started by it; NIL if
 * neither. */
static uint32_t tcp_direction(struct sel *t, const struct sel_pkt *p)
{
	uint32_t i = find(t, &p->key), skip;
	bool client;
	int mode;

	if (i != NIL) {
		lru_touch(&t->lru, &t->d[i].lru);
		return i;
	}
	mode = continues(t, p) ? -1 : tcp_start(t, p, &skip, &client);
	if (mode < 0) {
		if (p->len)
			t->st.not_tls++;
		return NIL;
	}
	i = insert(t, &p->key);
	dir_init(t, &t->d[i], p->seq, mode, skip, client);
	t->st.flows++;
	return i;
}

void sel_packet(struct sel *t, const struct sel_pkt *p, struct sel_verdict *v)
{
	uint32_t i;

	memset(v, 0, sizeof(*v));
	if (p->key.proto == IPPROTO_UDP) {
		udp_packet(t, p, v);
		return;
	}
	if (!p->len && !(p->flags & (CS_TCP_FIN | CS_TCP_RST)))
		return; /* pure ACK, SYN: nothing to see */
	i = tcp_direction(t, p);
	if (i == NIL)
		return;
	if (p->len && !tracked_data(t, i, p, v)) {
		drop(t, i); /* no close either, like the kernel */
		return;
	}
	if (p->flags & (CS_TCP_FIN | CS_TCP_RST)) {
		v->close = true;
		v->close_seq = p->seq + p->len;
		v->close_flags = p->flags;
		t->st.closed++;
		drop(t, i);
	}
}

void sel_copy_encrypted(struct sel *t, bool on)
{
	t->copy_encrypted = on;
}

void sel_hint_seed(struct sel *t, uint32_t seed)
{
	t->seed = seed;
}

void sel_port(struct sel *t, uint16_t port)
{
	cs_port_set_add(&t->ports, port);
}

void sel_enc_ports(struct sel *t, const struct encports *e)
{
	t->enc_ports = e;
}

void sel_done(struct sel *t, const struct cs_flow_key *k)
{
	uint32_t i = find(t, k);

	if (i != NIL)
		t->d[i].user_done = 1;
}

void sel_get_stats(const struct sel *t, struct sel_stats *out)
{
	*out = t->st;
}
