/* pcapmangle.c - rewrite a capture's TCP segments: reorder, duplicate, overlap, re-split, VLAN tags, raw IP. */
/*
 *   pcapmangle [OPTIONS] IN.pcap OUT.pcap        (- for stdin / stdout)
 *   pcapmangle --tls-stats IN.pcap               one line per TLS direction
 *
 * Test-data generator for certsentry's reassembly tests. It reads any capture
 * libpcap reads (pcap, pcapng; Ethernet, Linux cooked v1/v2, raw IP, BSD
 * loopback), parses IPv4/IPv6 (extension headers walked) and TCP, applies the
 * requested changes, and writes a pcap with nanosecond timestamps. Every TCP
 * packet it writes has correct IPv4 header and TCP checksums (recomputed, so
 * the partial checksums of a capture taken on lo come out right too).
 *
 * Order of operations: --wrap-at, --split, --overlap, --reorder, --duplicate,
 * --drop, then the link layer (--vlan/--qinq or --to-raw) on output. The
 * random choices come from --seed (or --reorder SEED): the same seed, the
 * same file.
 *
 * --tls-stats reads IN and prints one line per TLS direction (how many TCP
 * segments carry its Certificate message, which packets it spans) and a
 * summary of the file's segments: in order, reordered, duplicate,
 * overlapping, bytes missing. The tests use it to check that a mangled file
 * is what it claims to be.
 *
 * Packets that decide what the kernel tracks stay where they are, so a mangled
 * capture describes the same connections: SYN, FIN and RST packets, packets
 * whose payload starts with a TLS ClientHello/ServerHello record (a
 * direction's tracking starts there), truncated frames and everything that is
 * not TCP. Only the packets between two such fixed packets are shuffled and
 * duplicated, so no data moves before its direction's hello or after its FIN
 * (--move-all lifts that, to probe what happens when it does).
 */
#include <argp.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <pcap/pcap.h>
#include "cs_wire.h"
#include "inet_csum.h"
#include "pcapfile.h"

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08

static struct {
	const char *in, *out;
	uint64_t seed;
	bool reorder;
	unsigned window;
	unsigned dup_pct;
	unsigned drop_pct;
	bool overlap;
	int vlan, qinq; /* -1: none */
	bool to_raw;
	unsigned split;
	bool tls_stats;
	bool move_all;
	long wrap_at; /* -1: off */
	bool verbose;
} opt = { .window = 8, .vlan = -1, .qinq = -1, .wrap_at = -1 };

/* ------------------------------------------------------------------ model */

struct pkt {
	uint64_t ts_ns;
	/* opaque: written as captured (l2 only holds the whole frame) */
	bool tcp;
	uint8_t *l2;
	uint32_t l2len; /* link header (Ethernet incl. tags...) */
	uint8_t *ip;
	uint32_t iplen; /* IP header incl. IPv6 extension headers */
	uint8_t *th;
	uint32_t thlen; /* TCP header incl. options */
	uint8_t *pay;
	uint32_t paylen;
	uint32_t wirelen; /* opaque frames: original length */
	int ver;	  /* 4, 6; 0 for opaque frames */
	int ipoff;	  /* opaque frames: offset of an IP header, or -1 */
	uint32_t seq;
	uint8_t flags;
	bool fixed;
};

static struct pkt *pk;
static size_t npk, cappk;
static int linktype;

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p) {
		fprintf(stderr, "pcapmangle: out of memory\n");
		exit(1);
	}
	return p;
}

static uint8_t *dup_bytes(const uint8_t *p, uint32_t n)
{
	uint8_t *q = xmalloc(n);

	memcpy(q, p, n);
	return q;
}

static struct pkt *push(const struct pkt *p)
{
	if (npk == cappk) {
		cappk = cappk ? cappk * 2 : 1024;
		pk = realloc(pk, cappk * sizeof(*pk));
		if (!pk) {
			fprintf(stderr, "pcapmangle: out of memory\n");
			exit(1);
		}
	}
	pk[npk] = *p;
	return &pk[npk++];
}

/* A deep copy whose payload is pay[from, from + n). */
static struct pkt clone_part(const struct pkt *p, uint32_t from, uint32_t n)
{
	struct pkt q = *p;

	q.l2 = dup_bytes(p->l2, p->l2len);
	if (p->tcp) {
		q.ip = dup_bytes(p->ip, p->iplen);
		q.th = dup_bytes(p->th, p->thlen);
		q.pay = dup_bytes(p->pay + from, n);
		q.paylen = n;
		q.seq = p->seq + from;
	}
	return q;
}

static void free_pkt(struct pkt *p)
{
	free(p->l2);
	if (p->tcp) {
		free(p->ip);
		free(p->th);
		free(p->pay);
	}
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}
static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}
static void wr32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

/* ------------------------------------------------------------------ parse */

/* Splits a frame into link header, IP header, TCP header and payload; a frame
 * that is not a complete, unfragmented TCP packet stays opaque. */
static void parse_frame(const struct pcap_pkthdr *h, const uint8_t *f, uint64_t ts_ns)
{
	struct pkt p = { .ts_ns = ts_ns, .wirelen = h->len, .ipoff = -1 };
	uint32_t cap = h->caplen, iplen, tot, doff;
	const uint8_t *ip;
	int off = pcapfile_l3_offset(linktype, f, cap);
	uint8_t nh;

	p.ipoff = off;
	if (off < 0 || cap < h->len || cap - off < 20)
		goto opaque;
	ip = f + off;
	if (ip[0] >> 4 == 4) {
		iplen = (ip[0] & 15) * 4u;
		tot = rd16(ip + 2);
		if (iplen < 20 || tot < iplen || tot > cap - off)
			goto opaque;
		if (rd16(ip + 6) & 0x3fff || ip[9] != 6)
			goto opaque;
		p.ver = 4;
	} else if (ip[0] >> 4 == 6) {
		if (cap - off < 40)
			goto opaque;
		tot = 40 + rd16(ip + 4);
		if (tot == 40 || tot > cap - off)
			goto opaque;
		iplen = 40, nh = ip[6];
		for (int i = 0; nh != 6; i++) {
			if (i >= 8 || !(nh == 0 || nh == 43 || nh == 60) || iplen + 8 > tot)
				goto opaque;
			nh = ip[iplen];
			iplen += (ip[iplen + 1] + 1) * 8u;
			if (iplen > tot)
				goto opaque;
		}
		p.ver = 6;
	} else {
		goto opaque;
	}
	if (tot - iplen < 20)
		goto opaque;
	doff = (ip[iplen + 12] >> 4) * 4u;
	if (doff < 20 || doff > tot - iplen)
		goto opaque;
	p.tcp = true;
	p.l2 = dup_bytes(f, off), p.l2len = off;
	p.ip = dup_bytes(ip, iplen), p.iplen = iplen;
	p.th = dup_bytes(ip + iplen, doff), p.thlen = doff;
	p.pay = dup_bytes(ip + iplen + doff, tot - iplen - doff), p.paylen = tot - iplen - doff;
	p.seq = rd32(p.th + 4);
	p.flags = p.th[13];
	push(&p);
	return;
opaque:
	p.ver = 0;
	p.l2 = dup_bytes(f, cap), p.l2len = cap;
	push(&p);
}

static void read_capture(void)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const uint8_t *f;
	pcap_t *pc;
	int rc;

	pc = pcap_open_offline_with_tstamp_precision(opt.in, PCAP_TSTAMP_PRECISION_NANO, err);
	if (!pc) {
		fprintf(stderr, "pcapmangle: %s\n", err);
		exit(1);
	}
	linktype = pcap_datalink(pc);
	if (!pcapfile_lt_known(linktype)) {
		fprintf(stderr, "pcapmangle: %s: link type %d (%s) not supported\n", opt.in,
			linktype, pcap_datalink_val_to_name(linktype));
		exit(1);
	}
	while ((rc = pcap_next_ex(pc, &h, &f)) == 1)
		parse_frame(h, f, (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec);
	if (rc == PCAP_ERROR) {
		fprintf(stderr, "pcapmangle: %s: %s\n", opt.in, pcap_geterr(pc));
		exit(1);
	}
	pcap_close(pc);
}

/* ------------------------------------------------------------------ random */

static uint64_t rng;

static uint64_t rnd(void) /* splitmix64 */
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t rnd_below(uint32_t n)
{
	return n ? (uint32_t)(rnd() % n) : 0;
}

/* ------------------------------------------------------------------ mangle */

/* Payload packets carrying neither SYN (TFO data) nor anything we keep whole. */
static bool cuttable(const struct pkt *p)
{
	return p->tcp && p->paylen && !(p->flags & TCP_SYN);
}

/* --split MSS: every payload packet becomes ceil(len / MSS) packets; FIN and
 * PSH (and RST) stay on the last piece. */
static void do_split(void)
{
	struct pkt *old = pk;
	size_t nold = npk;

	pk = NULL, npk = cappk = 0;
	for (size_t i = 0; i < nold; i++) {
		struct pkt *p = &old[i];

		if (!cuttable(p) || p->paylen <= opt.split) {
			push(p);
			continue;
		}
		for (uint32_t off = 0; off < p->paylen; off += opt.split) {
			uint32_t n = p->paylen - off < opt.split ? p->paylen - off : opt.split;
			struct pkt q = clone_part(p, off, n);

			if (off + n < p->paylen) {
				q.flags &= ~(TCP_FIN | TCP_RST | TCP_PSH);
				q.th[13] = q.flags;
			}
			push(&q);
		}
		free_pkt(p);
	}
	free(old);
}

/* --overlap: every other payload packet of 4+ bytes (that is not a hello or
 * a FIN/RST) becomes [0, k + m) and [k, len): m bytes sent twice, identical. */
static void do_overlap(void)
{
	struct pkt *old = pk;
	size_t nold = npk;
	unsigned n = 0;

	pk = NULL, npk = cappk = 0;
	for (size_t i = 0; i < nold; i++) {
		struct pkt *p = &old[i];
		uint32_t k, m;

		if (!cuttable(p) || p->paylen < 4 || p->flags & (TCP_FIN | TCP_RST) ||
		    wire_tls_hello(p->pay, p->paylen) || n++ % 2) {
			push(p);
			continue;
		}
		k = 1 + rnd_below(p->paylen - 2);     /* 1 .. len-2 */
		m = 1 + rnd_below(p->paylen - k - 1); /* k + m < len */
		struct pkt a = clone_part(p, 0, k + m), b = clone_part(p, k, p->paylen - k);
		a.flags &= ~(TCP_FIN | TCP_PSH);
		a.th[13] = a.flags;
		push(&a);
		push(&b);
		free_pkt(p);
	}
	free(old);
}

static void mark_fixed(void)
{
	for (size_t i = 0; i < npk; i++) {
		struct pkt *p = &pk[i];

		p->fixed = !p->tcp || (!opt.move_all && (p->flags & (TCP_SYN | TCP_FIN | TCP_RST) ||
							 wire_tls_hello(p->pay, p->paylen)));
	}
}

/* --reorder: Fisher-Yates inside windows of `window` movable packets; runs of
 * movable packets end at every fixed one. */
static void do_reorder(void)
{
	size_t i = 0;

	while (i < npk) {
		size_t j = i, w;

		if (pk[i].fixed) {
			i++;
			continue;
		}
		while (j < npk && !pk[j].fixed)
			j++;
		for (size_t a = i; a < j; a += opt.window) {
			w = j - a < opt.window ? j - a : opt.window;
			for (size_t k = w - 1; k > 0; k--) {
				size_t r = rnd_below((uint32_t)k + 1);
				struct pkt t = pk[a + k];
				pk[a + k] = pk[a + r];
				pk[a + r] = t;
			}
		}
		i = j;
	}
}

struct slot {
	uint64_t key;
	struct pkt p;
};

static int slot_cmp(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;

	return x->key < y->key ? -1 : x->key > y->key;
}

/* --duplicate PCT: a copy of PCT% of the movable payload packets, sent again
 * 0 to `window` packets later, never past the next fixed packet. */
static void do_duplicate(void)
{
	struct slot *s = xmalloc(npk * 2 * sizeof(*s));
	size_t ns = 0, i = 0;

	while (i < npk) {
		size_t j = i;

		if (pk[i].fixed) {
			s[ns].key = 2 * i + 1, s[ns++].p = pk[i];
			i++;
			continue;
		}
		while (j < npk && !pk[j].fixed)
			j++;
		for (size_t k = i; k < j; k++) {
			s[ns].key = 2 * k + 1, s[ns++].p = pk[k];
			if (pk[k].paylen && rnd_below(100) < opt.dup_pct) {
				size_t at = k + rnd_below(opt.window + 1);
				if (at >= j)
					at = j - 1;
				s[ns].key = 2 * at + 2; /* after the packet at `at` */
				s[ns++].p = clone_part(&pk[k], 0, pk[k].paylen);
			}
		}
		i = j;
	}
	/* keys are unique for originals; duplicates aimed at the same slot keep
	 * their order (qsort is not stable: break ties by insertion order) */
	for (size_t k = 0; k < ns; k++)
		s[k].key = s[k].key << 20 | (k & 0xfffff);
	qsort(s, ns, sizeof(*s), slot_cmp);
	if (ns > cappk) {
		pk = realloc(pk, ns * sizeof(*pk));
		if (!pk) {
			fprintf(stderr, "pcapmangle: out of memory\n");
			exit(1);
		}
		cappk = ns;
	}
	for (size_t k = 0; k < ns; k++)
		pk[k] = s[k].p;
	npk = ns;
	free(s);
}

/* --drop PCT: lose PCT% of the movable payload packets (a negative control:
 * holes the reassembly cannot fill). */
static void do_drop(void)
{
	size_t j = 0;

	for (size_t i = 0; i < npk; i++) {
		if (!pk[i].fixed && pk[i].paylen && rnd_below(100) < opt.drop_pct) {
			free_pkt(&pk[i]);
			continue;
		}
		pk[j++] = pk[i];
	}
	npk = j;
}

/* ------------------------------------------------------------------ output */

/* Builds a frame into buf (big enough); returns its length. */
static uint32_t build_tcp(const struct pkt *p, uint8_t *buf, bool raw)
{
	uint32_t n = 0, l4len = p->thlen + p->paylen, sum = 0;
	uint8_t *ip, *th, pseudo[40];

	if (!raw) {
		if (linktype == DLT_EN10MB && (opt.vlan >= 0 || opt.qinq >= 0)) {
			memcpy(buf, p->l2, 12), n = 12;
			if (opt.qinq >= 0) {
				wr16(buf + n, ET_8021AD), wr16(buf + n + 2, (uint16_t)opt.qinq);
				n += 4;
			}
			if (opt.vlan >= 0) {
				wr16(buf + n, ET_8021Q), wr16(buf + n + 2, (uint16_t)opt.vlan);
				n += 4;
			}
			memcpy(buf + n, p->l2 + 12, p->l2len - 12), n += p->l2len - 12;
		} else {
			memcpy(buf, p->l2, p->l2len), n = p->l2len;
		}
	}
	ip = buf + n;
	memcpy(ip, p->ip, p->iplen);
	th = ip + p->iplen;
	memcpy(th, p->th, p->thlen);
	memcpy(th + p->thlen, p->pay, p->paylen);
	wr32(th + 4, p->seq);
	th[13] = p->flags;
	wr16(th + 16, 0);
	if (p->ver == 4) {
		wr16(ip + 2, (uint16_t)(p->iplen + l4len));
		wr16(ip + 10, 0);
		wr16(ip + 10, csum_fold(csum_add(0, ip, p->iplen)));
		memcpy(pseudo, ip + 12, 8);
		pseudo[8] = 0, pseudo[9] = 6;
		wr16(pseudo + 10, (uint16_t)l4len);
		sum = csum_add(0, pseudo, 12);
	} else {
		wr16(ip + 4, (uint16_t)(p->iplen - 40 + l4len));
		memcpy(pseudo, ip + 8, 32);
		sum = csum_add(0, pseudo, 32);
		sum += l4len >> 16, sum += l4len & 0xffff;
		sum += 6;
	}
	sum = csum_add(sum, th, l4len);
	wr16(th + 16, csum_fold(sum));
	return n + p->iplen + l4len;
}

static void write_capture(void)
{
	uint8_t *buf = xmalloc(262144 + 64);
	uint64_t last = 0;
	size_t written = 0, dropped = 0;
	char err[PCAP_ERRBUF_SIZE + 256];
	struct pcapw w;

	if (pcapw_open(&w, opt.out, opt.to_raw ? DLT_RAW : linktype, 262144, true, err,
		       sizeof(err))) {
		fprintf(stderr, "pcapmangle: %s\n", err);
		exit(1);
	}
	for (size_t i = 0; i < npk; i++) {
		struct pkt *p = &pk[i];
		uint32_t caplen, len;
		const uint8_t *f = buf;
		uint64_t ts = p->ts_ns > last ? p->ts_ns : last;

		last = ts;
		if (p->tcp) {
			uint32_t need = p->l2len + 8 + p->iplen + p->thlen + p->paylen;
			if (need > 262144) {
				dropped++;
				continue;
			}
			caplen = len = build_tcp(p, buf, opt.to_raw);
		} else if (opt.to_raw) {
			if (p->ipoff < 0 || (uint32_t)p->ipoff >= p->l2len) {
				dropped++;
				continue;
			}
			f = p->l2 + p->ipoff;
			caplen = p->l2len - p->ipoff;
			len = p->wirelen - p->ipoff;
		} else if (linktype == DLT_EN10MB && (opt.vlan >= 0 || opt.qinq >= 0) &&
			   p->l2len >= 14) {
			uint32_t n = 12;
			memcpy(buf, p->l2, 12);
			if (opt.qinq >= 0)
				wr16(buf + n, ET_8021AD), wr16(buf + n + 2, (uint16_t)opt.qinq),
					n += 4;
			if (opt.vlan >= 0)
				wr16(buf + n, ET_8021Q), wr16(buf + n + 2, (uint16_t)opt.vlan),
					n += 4;
			if (p->l2len - 12 > 262144) {
				dropped++;
				continue;
			}
			memcpy(buf + n, p->l2 + 12, p->l2len - 12);
			caplen = n + p->l2len - 12;
			len = p->wirelen + (n - 12);
		} else {
			f = p->l2;
			caplen = p->l2len;
			len = p->wirelen;
		}
		pcapw_put(&w, ts, f, caplen, len);
		written++;
	}
	if (pcapw_close(&w)) {
		fprintf(stderr, "pcapmangle: %s: write error\n", opt.out);
		exit(1);
	}
	free(buf);
	if (opt.verbose)
		fprintf(stderr, "pcapmangle: %zu packets written, %zu dropped\n", written, dropped);
}

/* ------------------------------------------------------------------ --tls-stats */

/* For each direction whose first payload is a TLS hello: reassemble its first
 * 256 KiB (from the hello's seq), walk the handshake records, and count the
 * distinct TCP segments that carry a byte of the Certificate message.
 * packets=A-B: the first and last payload packet of the direction (1-based
 * packet numbers of the file), to see how connections interleave. */
#define STREAM_MAX (256u * 1024)

struct dirstat {
	uint8_t key[37]; /* ver, saddr[16], daddr[16], sport, dport */
	uint32_t isn;
	uint8_t *buf, *have;
	size_t *pkts, npkts, cappkts; /* indexes into pk[] of this direction */
};

static void dir_key(const struct pkt *p, uint8_t *k)
{
	memset(k, 0, 37);
	k[0] = (uint8_t)p->ver;
	if (p->ver == 4)
		memcpy(k + 1, p->ip + 12, 4), memcpy(k + 17, p->ip + 16, 4);
	else
		memcpy(k + 1, p->ip + 8, 16), memcpy(k + 17, p->ip + 24, 16);
	memcpy(k + 33, p->th, 4);
}

static void key_str(const uint8_t *k, char *s, size_t n)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
	int af = k[0] == 4 ? AF_INET : AF_INET6;

	inet_ntop(af, k + 1, a, sizeof(a));
	inet_ntop(af, k + 17, b, sizeof(b));
	if (k[0] == 4)
		snprintf(s, n, "%s:%u > %s:%u", a, rd16(k + 33), b, rd16(k + 35));
	else
		snprintf(s, n, "[%s]:%u > [%s]:%u", a, rd16(k + 33), b, rd16(k + 35));
}

static void tls_stats(void)
{
	struct dirstat *ds = NULL;
	size_t nds = 0;

	for (size_t i = 0; i < npk; i++) {
		struct pkt *p = &pk[i];
		uint8_t k[37];
		size_t d;

		if (!p->tcp || !p->paylen)
			continue;
		dir_key(p, k);
		for (d = 0; d < nds && memcmp(ds[d].key, k, 37); d++)
			;
		if (d == nds) {
			if (!wire_tls_hello(p->pay, p->paylen))
				continue;
			ds = realloc(ds, (nds + 1) * sizeof(*ds));
			if (!ds)
				exit(1);
			memset(&ds[d], 0, sizeof(ds[d]));
			memcpy(ds[d].key, k, 37);
			ds[d].isn = p->seq + (p->flags & TCP_SYN ? 1 : 0);
			ds[d].buf = xmalloc(STREAM_MAX);
			ds[d].have = calloc(1, STREAM_MAX);
			if (!ds[d].have) {
				fprintf(stderr, "pcapmangle: out of memory\n");
				exit(1);
			}
			nds++;
		}
		if (ds[d].npkts == ds[d].cappkts) {
			ds[d].cappkts = ds[d].cappkts ? ds[d].cappkts * 2 : 64;
			ds[d].pkts = realloc(ds[d].pkts, ds[d].cappkts * sizeof(size_t));
			if (!ds[d].pkts)
				exit(1);
		}
		ds[d].pkts[ds[d].npkts++] = i;
		for (uint32_t b = 0; b < p->paylen; b++) {
			uint32_t off = p->seq + b - ds[d].isn;
			if (off < STREAM_MAX)
				ds[d].buf[off] = p->pay[b], ds[d].have[off] = 1;
		}
	}
	for (size_t d = 0; d < nds; d++) {
		struct dirstat *s = &ds[d];
		uint32_t *map = xmalloc(STREAM_MAX * sizeof(uint32_t));
		uint8_t *hs = xmalloc(STREAM_MAX);
		uint32_t nhs = 0, off = 0, c0 = 0, c1 = 0, segs = 0, recs = 0;
		bool found = false;
		char name[128];

		/* records -> handshake byte stream, remembering each byte's offset */
		while (off + 5 <= STREAM_MAX && s->have[off] && s->have[off + 4]) {
			const uint8_t *h = s->buf + off;
			uint32_t rl = rd16(h + 3);
			if (h[0] != 0x16 || off + 5 + rl > STREAM_MAX)
				break;
			for (uint32_t b = 0; b < rl && s->have[off + 5 + b]; b++)
				map[nhs] = off + 5 + b, hs[nhs++] = h[5 + b];
			off += 5 + rl;
			recs++;
		}
		for (uint32_t m = 0; m + 4 <= nhs;) {
			uint32_t ml = (uint32_t)hs[m + 1] << 16 | rd16(hs + m + 2);
			if (hs[m] == 11 && m + 4 + ml <= nhs) {
				c0 = map[m], c1 = map[m + 4 + ml - 1] + 1;
				found = true;
				break;
			}
			m += 4 + ml;
		}
		if (found) {
			/* distinct (seq, len) pairs overlapping [c0, c1) */
			for (size_t a = 0; a < s->npkts; a++) {
				struct pkt *p = &pk[s->pkts[a]];
				uint32_t lo = p->seq - s->isn, hi = lo + p->paylen;
				bool seen = false;
				if (hi <= c0 || lo >= c1)
					continue;
				for (size_t b = 0; b < a && !seen; b++) {
					struct pkt *q = &pk[s->pkts[b]];
					seen = q->seq == p->seq && q->paylen == p->paylen;
				}
				if (!seen)
					segs++;
			}
		}
		key_str(s->key, name, sizeof(name));
		printf("%s records=%u certificate_bytes=%u certificate_segments=%u packets=%zu-%zu\n",
		       name, recs, found ? c1 - c0 : 0, segs, s->pkts[0] + 1,
		       s->pkts[s->npkts - 1] + 1);
		free(map);
		free(hs);
		free(s->buf);
		free(s->have);
		free(s->pkts);
	}
	free(ds);
}

/* The last --tls-stats line: how the file's TCP payload packets relate to
 * what came before in their direction (offsets from the direction's first
 * packet; SYN counts as one byte): in order, reordered (fills a hole behind
 * data already seen), duplicate (every byte seen before) or overlapping (some
 * bytes seen before, some new); missing_bytes: holes never filled. */
#define COVER_MAX (4u << 20)

struct cover {
	uint8_t key[37];
	uint32_t base, max_end;
	uint8_t *bits;
};

static void order_summary(void)
{
	struct cover *cv = NULL;
	size_t ncv = 0;
	uint64_t n = 0, in_order = 0, reordered = 0, dup = 0, overlap = 0, beyond = 0, missing = 0;

	for (size_t i = 0; i < npk; i++) {
		struct pkt *p = &pk[i];
		uint8_t k[37];
		uint32_t rel, seq, len, seen = 0;
		size_t d;

		if (!p->tcp)
			continue;
		seq = p->seq + (p->flags & TCP_SYN ? 1 : 0);
		dir_key(p, k);
		for (d = 0; d < ncv && memcmp(cv[d].key, k, 37); d++)
			;
		if (d == ncv) {
			cv = realloc(cv, (ncv + 1) * sizeof(*cv));
			if (!cv)
				exit(1);
			memcpy(cv[d].key, k, 37);
			cv[d].base = seq, cv[d].max_end = 0;
			cv[d].bits = calloc(1, COVER_MAX / 8);
			if (!cv[d].bits)
				exit(1);
			ncv++;
		}
		if (!p->paylen)
			continue;
		n++;
		rel = seq - cv[d].base, len = p->paylen;
		if ((int32_t)rel < 0 || rel >= COVER_MAX || len > COVER_MAX - rel) {
			beyond++;
			continue;
		}
		for (uint32_t b = rel; b < rel + len; b++)
			seen += cv[d].bits[b / 8] >> (b % 8) & 1;
		if (seen == len)
			dup++;
		else if (seen)
			overlap++;
		else if (rel < cv[d].max_end)
			reordered++;
		else
			in_order++;
		for (uint32_t b = rel; b < rel + len; b++)
			cv[d].bits[b / 8] |= (uint8_t)(1 << (b % 8));
		if (rel + len > cv[d].max_end)
			cv[d].max_end = rel + len;
	}
	for (size_t d = 0; d < ncv; d++) {
		for (uint32_t b = 0; b < cv[d].max_end; b++)
			missing += !(cv[d].bits[b / 8] >> (b % 8) & 1);
		free(cv[d].bits);
	}
	printf("summary: packets=%zu tcp_payload=%" PRIu64 " in_order=%" PRIu64
	       " reordered=%" PRIu64 " duplicate=%" PRIu64 " overlapping=%" PRIu64
	       " unplaced=%" PRIu64 " missing_bytes=%" PRIu64 "\n",
	       npk, n, in_order, reordered, dup, overlap, beyond, missing);
	free(cv);
}

/* --wrap-at N: shift every direction's sequence numbers (and the reverse
 * direction's acknowledgement numbers) so that byte N of the direction,
 * counted from its first packet's seq (the SYN), has sequence number 0: the
 * stream crosses 2^32 there. */
static void do_wrap(void)
{
	struct {
		uint8_t key[37];
		uint32_t delta;
	} *w = NULL;
	size_t nw = 0;

	for (size_t i = 0; i < npk; i++) {
		struct pkt *p = &pk[i];
		uint8_t k[37], r[37];
		size_t d;

		if (!p->tcp)
			continue;
		dir_key(p, k);
		for (d = 0; d < nw && memcmp(w[d].key, k, 37); d++)
			;
		if (d == nw) {
			w = realloc(w, (nw + 1) * sizeof(*w));
			if (!w)
				exit(1);
			memcpy(w[d].key, k, 37);
			w[d].delta = 0u - p->seq - (uint32_t)opt.wrap_at;
			nw++;
		}
		p->seq += w[d].delta;
		/* the reverse direction's key: addresses and ports swapped */
		r[0] = k[0];
		memcpy(r + 1, k + 17, 16), memcpy(r + 17, k + 1, 16);
		memcpy(r + 33, k + 35, 2), memcpy(r + 35, k + 33, 2);
		for (d = 0; d < nw && memcmp(w[d].key, r, 37); d++)
			;
		if (d < nw && p->th[13] & 0x10)
			wr32(p->th + 8, rd32(p->th + 8) + w[d].delta);
	}
	free(w);
}

/* ------------------------------------------------------------------ main */

enum {
	O_REORDER = 1000,
	O_WINDOW,
	O_DUP,
	O_OVERLAP,
	O_VLAN,
	O_QINQ,
	O_RAW,
	O_SPLIT,
	O_STATS,
	O_SEED,
	O_DROP,
	O_ALL,
	O_WRAP
};

static const struct argp_option options[] = {
	{ "reorder", O_REORDER, "SEED", 0, "Shuffle movable TCP packets within windows", 0 },
	{ "window", O_WINDOW, "N", 0, "Window for --reorder and --duplicate (default 8)", 0 },
	{ "duplicate", O_DUP, "PCT", 0, "Send PCT% of the movable payload packets twice", 0 },
	{ "overlap", O_OVERLAP, NULL, 0,
	  "Re-cut every other payload packet into two overlapping pieces", 0 },
	{ "wrap-at", O_WRAP, "N", 0,
	  "Shift sequence numbers so each direction's byte N has seq 0 (wraps 2^32)", 0 },
	{ "move-all", O_ALL, NULL, 0,
	  "Let --reorder/--duplicate/--drop touch hellos, SYN, FIN and RST too", 0 },
	{ "drop", O_DROP, "PCT", 0, "Lose PCT% of the movable payload packets (negative control)",
	  0 },
	{ "seed", O_SEED, "SEED", 0,
	  "Seed of the random choices (default 1; --reorder SEED sets it too)", 0 },
	{ "vlan", O_VLAN, "ID", 0, "Add an 802.1Q tag (Ethernet captures)", 0 },
	{ "qinq", O_QINQ, "ID", 0, "Add an outer 802.1ad (0x88a8) tag", 0 },
	{ "to-raw", O_RAW, NULL, 0, "Strip the link layer: LINKTYPE_RAW (for TUN replay)", 0 },
	{ "split", O_SPLIT, "MSS", 0, "Re-segment TCP payloads into MSS-byte segments", 0 },
	{ "tls-stats", O_STATS, NULL, 0,
	  "Print TLS directions, their Certificate segments and a summary of segment order; write nothing",
	  0 },
	{ "verbose", 'v', NULL, 0, "Say how many packets were written", 0 },
	{},
};

static unsigned long num(struct argp_state *st, const char *name, const char *s, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || end == s || *end || v > max)
		argp_error(st, "%s: '%s' is not a number up to %lu", name, s, max);
	return v;
}

static error_t parse_opt(int key, char *arg, struct argp_state *st)
{
	switch (key) {
	case O_REORDER:
		opt.reorder = true;
		opt.seed = num(st, "--reorder", arg, ~0ul);
		break;
	case O_SEED:
		opt.seed = num(st, "--seed", arg, ~0ul);
		break;
	case O_WINDOW:
		opt.window = num(st, "--window", arg, 1u << 20);
		if (!opt.window)
			opt.window = 1;
		break;
	case O_DUP:
		opt.dup_pct = num(st, "--duplicate", arg, 100);
		break;
	case O_DROP:
		opt.drop_pct = num(st, "--drop", arg, 100);
		break;
	case O_OVERLAP:
		opt.overlap = true;
		break;
	case O_ALL:
		opt.move_all = true;
		break;
	case O_WRAP:
		opt.wrap_at = (long)num(st, "--wrap-at", arg, 1ul << 31);
		break;
	case O_VLAN:
		opt.vlan = num(st, "--vlan", arg, 4095);
		break;
	case O_QINQ:
		opt.qinq = num(st, "--qinq", arg, 4095);
		break;
	case O_RAW:
		opt.to_raw = true;
		break;
	case O_SPLIT:
		opt.split = num(st, "--split", arg, 65535);
		if (!opt.split)
			argp_error(st, "--split: MSS must be at least 1");
		break;
	case O_STATS:
		opt.tls_stats = true;
		break;
	case 'v':
		opt.verbose = true;
		break;
	case ARGP_KEY_ARG:
		if (st->arg_num == 0)
			opt.in = arg;
		else if (st->arg_num == 1)
			opt.out = arg;
		else
			argp_usage(st);
		break;
	case ARGP_KEY_END:
		if (!opt.in || (!opt.out && !opt.tls_stats))
			argp_usage(st);
		if (opt.to_raw && (opt.vlan >= 0 || opt.qinq >= 0))
			argp_error(st, "--to-raw and --vlan/--qinq exclude each other");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp argp = {
	options,
	parse_opt,
	"IN OUT\n--tls-stats IN",
	"pcapmangle: rewrite a capture's TCP segments for reassembly tests.\v"
	"IN and OUT may be - (stdin, stdout). Output is a nanosecond pcap.",
	NULL,
	NULL,
	NULL,
};

int main(int argc, char **argv)
{
	argp_parse(&argp, argc, argv, 0, NULL, NULL);
	rng = opt.seed ? opt.seed : 1;
	read_capture();
	if (opt.tls_stats) {
		tls_stats();
		order_summary();
		return 0;
	}
	if ((opt.vlan >= 0 || opt.qinq >= 0) && linktype != DLT_EN10MB) {
		fprintf(stderr,
			"pcapmangle: --vlan/--qinq need an Ethernet capture (link type %s)\n",
			pcap_datalink_val_to_name(linktype));
		return 1;
	}
	if (opt.wrap_at >= 0)
		do_wrap();
	if (opt.split)
		do_split();
	if (opt.overlap)
		do_overlap();
	mark_fixed();
	if (opt.reorder)
		do_reorder();
	if (opt.dup_pct)
		do_duplicate();
	if (opt.drop_pct)
		do_drop();
	write_capture();
	for (size_t i = 0; i < npk; i++)
		free_pkt(&pk[i]);
	free(pk);
	return 0;
}
