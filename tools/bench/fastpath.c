/* fastpath.c - ns per packet of the TC program by packet class, against an empty program, with BPF_PROG_TEST_RUN. */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "certsentry.h"
#include "certsentry.skel.h"
#include "../../tests/bpf/tls_records.h"

#define FRAME_MAX  3600
#define ROUNDS_MAX 31
#define FILL_FLOWS 50000

struct pkt {
	uint8_t b[FRAME_MAX];
	size_t len;
};

/* One loaded object: its own flow table, so classes that need an empty
 * table and classes that need a full one can be measured in turn. */
struct inst {
	struct certsentry_bpf *skel;
	struct ring_buffer *rb;
	int tc_fd, empty_fd, flows_fd, hints_fd;
	uint32_t seed;
};

enum kind { K_PLAIN, K_COPY, K_NEW_FLOW };

struct cls {
	const char *name;
	struct inst *in;
	enum kind kind;
	struct pkt *p;
	struct cs_flow_key key;		     /* K_NEW_FLOW: deleted before each run */
	double v[ROUNDS_MAX], b[ROUNDS_MAX]; /* cs_tc, cs_empty (ns/packet) */
};

static unsigned int repeat = 1000000, rounds = 5;

/* ---- frames ---- */

enum { P_TCP, P_UDP };

/* IPv4 (or IPv6 with hop-by-hop + destination options) frame, addresses
 * chosen by a and port. */
static void build(struct pkt *p, int v6, int l4, uint32_t a, uint16_t sport, uint32_t seq,
		  uint8_t flags, const uint8_t *pl, size_t plen)
{
	uint8_t *ip = p->b + 14, *l, *end;
	uint16_t v;
	uint32_t x;

	memset(p->b, 0, sizeof(p->b));
	memcpy(p->b, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
	v = htons(v6 ? 0x86dd : 0x0800);
	memcpy(p->b + 12, &v, 2);
	x = htonl(a);
	if (!v6) {
		ip[0] = 0x45;
		ip[8] = 64;
		ip[9] = l4 == P_UDP ? 17 : 6;
		memcpy(ip + 12, &x, 4);
		memcpy(ip + 16, "\xc0\x00\x02\x01", 4);
		l = ip + 20;
	} else {
		ip[0] = 0x60;
		ip[6] = 0;
		ip[7] = 64;
		memcpy(ip + 8, "\x20\x01\x0d\xb8", 4);
		memcpy(ip + 20, &x, 4);
		memcpy(ip + 24, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
		l = ip + 40;
		l[0] = 60;
		l[2] = 1;
		l[3] = 4;
		l += 8;
		l[0] = l4 == P_UDP ? 17 : 6;
		l[1] = 1;
		l[2] = 1;
		l[3] = 12;
		l += 16;
	}
	v = htons(sport);
	memcpy(l, &v, 2);
	v = htons(443);
	memcpy(l + 2, &v, 2);
	if (l4 == P_UDP) {
		v = htons(8 + plen);
		memcpy(l + 4, &v, 2);
		end = l + 8;
	} else {
		x = htonl(seq);
		memcpy(l + 4, &x, 4);
		l[12] = 5 << 4;
		l[13] = flags;
		l[14] = 0xff;
		end = l + 20;
	}
	if (plen)
		memcpy(end, pl, plen);
	end += plen;
	if (!v6) {
		v = htons(end - ip);
		memcpy(ip + 2, &v, 2);
	} else {
		v = htons(end - ip - 40);
		memcpy(ip + 4, &v, 2);
	}
	p->len = end - p->b;
}

static void key_of(struct cs_flow_key *k, uint32_t a, uint16_t sport)
{
	uint32_t x = htonl(a);

	memset(k, 0, sizeof(*k));
	memcpy(k->saddr, &x, 4);
	memcpy(k->daddr, "\xc0\x00\x02\x01", 4);
	k->sport = sport;
	k->dport = 443;
	k->family = CS_AF_INET;
	k->proto = 6;
}

/* ---- running ---- */

static int drain_cb(void *ctx, void *data, size_t size)
{
	(void)ctx;
	(void)data;
	(void)size;
	return 0;
}

static int inst_open(struct inst *in)
{
	in->skel = certsentry_bpf__open();
	if (!in->skel)
		return -1;
	in->seed = (uint32_t)time(NULL) * 0x9E3779B1u; /* as capture.c: a secret per load */
	in->skel->rodata->hint_seed = in->seed;
	if (certsentry_bpf__load(in->skel))
		return -1;
	in->tc_fd = bpf_program__fd(in->skel->progs.cs_tc);
	in->empty_fd = bpf_program__fd(in->skel->progs.cs_empty);
	in->flows_fd = bpf_map__fd(in->skel->maps.flows);
	in->hints_fd = bpf_map__fd(in->skel->maps.hints);
	in->rb = ring_buffer__new(bpf_map__fd(in->skel->maps.events), drain_cb, NULL, NULL);
	return in->rb ? 0 : -1;
}

static void inst_close(struct inst *in)
{
	ring_buffer__free(in->rb);
	certsentry_bpf__destroy(in->skel);
}

static uint64_t counter(struct inst *in, int idx)
{
	int ncpu = libbpf_num_possible_cpus(), i;
	uint64_t v[1024] = { 0 }, sum = 0;
	__u32 k = idx;

	if (ncpu <= 0 || ncpu > 1024 ||
	    bpf_map_lookup_elem(bpf_map__fd(in->skel->maps.counters), &k, v))
		return 0;
	for (i = 0; i < ncpu; i++)
		sum += v[i];
	return sum;
}

static double run(int fd, const struct pkt *p, unsigned int rep)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->b, .data_size_in = p->len, .repeat = rep);

	if (bpf_prog_test_run_opts(fd, &o)) {
		fprintf(stderr, "fastpath: BPF_PROG_TEST_RUN: %s\n", strerror(errno));
		exit(1);
	}
	return o.duration;
}

/* Packets that copy: as many per run as stay under the ring's wakeup mark
 * (an eighth full: past it every record wakes the reader, as it should when
 * a reader falls behind, which no live reader here does), drained after. */
static double run_drained(struct inst *in, const struct pkt *p, unsigned int rep)
{
	unsigned int per = (CS_RINGBUF_BYTES / 8) / (p->len + 64 + 8) - 1, done = 0;
	double sum = 0;

	if (per < 1)
		per = 1;
	while (done < rep) {
		unsigned int n = rep - done < per ? rep - done : per;

		sum += run(in->tc_fd, p, n) * n;
		ring_buffer__consume(in->rb);
		done += n;
	}
	return sum / rep;
}

/* A new flow each time: the entry is deleted between single runs, so each
 * run is timed alone (the timer's own cost is in the empty baseline too). */
static void run_new_flow(struct cls *c, unsigned int round)
{
	unsigned int j, n = repeat / 50 ? repeat / 50 : 1;
	__u32 idx = cs_hint_bucket(cs_flow_hint(c->in->seed, &c->key));
	struct cs_hint zero = { 0 };
	double s = 0, e = 0;

	for (j = 0; j < n; j++) {
		bpf_map_delete_elem(c->in->flows_fd, &c->key);
		bpf_map_update_elem(c->in->hints_fd, &idx, &zero, 0);
		e += run(c->in->empty_fd, c->p, 1);
		s += run(c->in->tc_fd, c->p, 1);
		if (!(j & 1023))
			ring_buffer__consume(c->in->rb);
	}
	ring_buffer__consume(c->in->rb);
	c->b[round] = e / n;
	c->v[round] = s / n;
}

static void run_class(struct cls *c, unsigned int round)
{
	unsigned int rep = c->kind == K_COPY ? repeat / 10 : repeat;

	if (c->kind == K_NEW_FLOW) {
		run_new_flow(c, round);
		return;
	}
	if (!rep)
		rep = 1;
	c->b[round] = run(c->in->empty_fd, c->p, rep);
	c->v[round] = c->kind == K_COPY ? run_drained(c->in, c->p, rep) :
					  run(c->in->tc_fd, c->p, rep);
}

/* 50,000 tracked directions of other connections, hint buckets included. */
static int fill_flows(struct inst *in)
{
	static uint64_t sum[1 << CS_HINT_BITS];
	struct cs_flow_state st = {
		.isn = 1, .next_rec = 1, .limit = CS_MAX_BYTES_DEFAULT, .walking = 1
	};
	struct cs_flow_key k;
	struct cs_hint h;
	__u32 i, mix;

	for (i = 0; i < FILL_FLOWS; i++) {
		key_of(&k, 0x0a800000 + i, 1024 + (i % 60000));
		if (bpf_map_update_elem(in->flows_fd, &k, &st, BPF_NOEXIST))
			return -1;
		mix = cs_flow_hint(in->seed, &k);
		sum[cs_hint_bucket(mix)] += cs_hint_part(mix);
	}
	for (i = 0; i < (1u << CS_HINT_BITS); i++) {
		if (!sum[i] || bpf_map_lookup_elem(in->hints_fd, &i, &h))
			continue;
		h.v += sum[i];
		bpf_map_update_elem(in->hints_fd, &i, &h, 0);
	}
	return 0;
}

static uint64_t hint_get(struct inst *in, uint32_t a, uint16_t sport)
{
	struct cs_flow_key k;
	struct cs_hint h = { 0 };
	__u32 idx;

	key_of(&k, a, sport);
	idx = cs_hint_bucket(cs_flow_hint(in->seed, &k));
	bpf_map_lookup_elem(in->hints_fd, &idx, &h);
	return h.v | h.sticky;
}

/* The bucket of an untracked key holds n tracked directions of other
 * connections (tags of the same bucket, not its own): with one the tag
 * answers, with two the hash lookup (a miss) is forced. */
static void hint_set(struct inst *in, uint32_t a, uint16_t sport, unsigned int n)
{
	struct cs_flow_key k;
	struct cs_hint h = { 0 };
	__u32 mix, idx;

	key_of(&k, a, sport);
	mix = cs_flow_hint(in->seed, &k);
	idx = cs_hint_bucket(mix);
	for (unsigned int j = 1; j <= n; j++)
		h.v += cs_hint_part(mix ^ j); /* low bits: same bucket, other tag */
	bpf_map_update_elem(in->hints_fd, &idx, &h, 0);
}

/* An untracked port on address a whose bucket is empty. */
static uint16_t free_port(struct inst *in, uint32_t a, uint16_t from)
{
	while (hint_get(in, a, from))
		from++;
	return from;
}

/* ---- output ---- */

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct stat3 {
	double med, min, max;
};

static struct stat3 stats(const double *v, unsigned int n)
{
	double s[ROUNDS_MAX];
	struct stat3 r;

	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_d);
	r.med = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	r.min = s[0];
	r.max = s[n - 1];
	return r;
}

static void report(const struct cls *r, int n, const char *json)
{
	FILE *f = NULL;
	int i;

	printf("%-34s %9s %9s %9s %9s %9s %7s\n", "class", "median", "min", "max", "empty", "delta",
	       "ratio");
	for (i = 0; i < n; i++) {
		struct stat3 v = stats(r[i].v, rounds), b = stats(r[i].b, rounds);

		printf("%-34s %9.1f %9.1f %9.1f %9.1f %+9.1f %7.2f\n", r[i].name, v.med, v.min,
		       v.max, b.med, v.med - b.med, b.med > 0 ? v.med / b.med : 0);
	}
	printf("(ns per packet, BPF_PROG_TEST_RUN, %u rounds of %u; copy classes %u per round)\n",
	       rounds, repeat, repeat / 10 ? repeat / 10 : 1);
	if (!json)
		return;
	f = fopen(json, "w");
	if (!f) {
		fprintf(stderr, "fastpath: %s: %s\n", json, strerror(errno));
		exit(1);
	}
	fprintf(f, "[\n");
	for (i = 0; i < n; i++) {
		struct stat3 v = stats(r[i].v, rounds), b = stats(r[i].b, rounds);

		fprintf(f,
			"  {\"name\": \"%s\", \"value\": %.1f, \"unit\": \"ns\", \"baseline\": %.1f, "
			"\"ratio\": %.3f, \"min\": %.1f, \"max\": %.1f}%s\n",
			r[i].name, v.med, b.med, b.med > 0 ? v.med / b.med : 0, v.min, v.max,
			i + 1 < n ? "," : "");
	}
	fprintf(f, "]\n");
	fclose(f);
}

static void prog_info(const char *name, int fd)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		printf("%s: %u verified insns, %u xlated bytes, %u jited bytes\n", name,
		       info.verified_insns, info.xlated_prog_len, info.jited_prog_len);
}

static int quiet(enum libbpf_print_level l, const char *fmt, va_list ap)
{
	if (l == LIBBPF_DEBUG || !getenv("CS_VERBOSE"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void usage(void)
{
	fprintf(stderr, "usage: fastpath [--repeat N] [--rounds N] [--json FILE]\n");
	exit(2);
}

static struct cls *add(struct cls *c, int *n, const char *name, struct inst *in, enum kind kind,
		       struct pkt *p)
{
	struct cls *r = &c[(*n)++];

	memset(r, 0, sizeof(*r));
	r->name = name;
	r->in = in;
	r->kind = kind;
	r->p = p;
	return r;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = { { "repeat", required_argument, NULL, 'n' },
					    { "rounds", required_argument, NULL, 'r' },
					    { "json", required_argument, NULL, 'j' },
					    { "help", no_argument, NULL, 'h' },
					    { 0 } };
	static struct pkt pk[24];
	static uint8_t pl[FRAME_MAX];
	static struct cls cl[24];
	static struct inst a, b; /* a: (nearly) empty table, b: 50,000 flows */
	const char *json = NULL;
	const uint32_t ua = 0x0a000001;
	struct pkt *warm;
	unsigned int r;
	cpu_set_t cpus;
	int c, n = 0, np = 0, i;
	uint16_t up;
	uint64_t fails;

	while ((c = getopt_long(argc, argv, "n:r:j:h", lo, NULL)) != -1) {
		switch (c) {
		case 'n':
			repeat = strtoul(optarg, NULL, 0);
			break;
		case 'r':
			rounds = strtoul(optarg, NULL, 0);
			break;
		case 'j':
			json = optarg;
			break;
		default:
			usage();
		}
	}
	if (!repeat || !rounds || rounds > ROUNDS_MAX)
		usage();
	if (geteuid() != 0) {
		printf("SKIPPED: fastpath needs root for BPF_PROG_TEST_RUN\n");
		return 0;
	}
	libbpf_set_print(quiet);
	if (inst_open(&a) || inst_open(&b)) {
		printf("SKIPPED: cannot load the BPF object (%s); CS_VERBOSE=1 shows why\n",
		       strerror(errno));
		return 0;
	}
	if (fill_flows(&b)) {
		fprintf(stderr, "fastpath: filling the flow table: %s\n", strerror(errno));
		return 1;
	}
	/* One CPU: TEST_RUN runs where we are; keep it from wandering. */
	CPU_ZERO(&cpus);
	CPU_SET(sched_getcpu() >= 0 ? sched_getcpu() : 0, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	prog_info("cs_tc", a.tc_fd);
	prog_info("cs_tc_l3", bpf_program__fd(a.skel->progs.cs_tc_l3));
	prog_info("cs_empty", a.empty_fd);

	memset(pl, 'x', sizeof(pl));
	build(&pk[np], 0, P_UDP, ua, 40000, 0, 0, pl, 1400);
	add(cl, &n, "udp_1400", &a, K_PLAIN, &pk[np++]);
	/* A DTLS handshake record that is no hello: the whole start check. */
	dtls_rec(pl, 22, 0, 11, 1400);
	build(&pk[np], 0, P_UDP, ua + 4, 40000, 0, 0, pl, 1400);
	add(cl, &n, "udp_1400_untracked_dtls_like", &a, K_PLAIN, &pk[np++]);
	/* A tracked DTLS direction: STUN on it (not copied), and application
	 * data after its CCS (done). */
	dtls_rec(pl, 22, 0, 1, 200);
	build(&pk[np], 0, P_UDP, ua + 5, 40000, 0, 0, pl, 200);
	run(a.tc_fd, &pk[np], 1);
	memset(pl, 0, 1400);
	pl[1] = 1;
	build(&pk[np], 0, P_UDP, ua + 5, 40000, 0, 0, pl, 1400);
	add(cl, &n, "udp_1400_tracked_stun", &a, K_PLAIN, &pk[np++]);
	dtls_rec(pl, 22, 0, 1, 200);
	build(&pk[np], 0, P_UDP, ua + 6, 40000, 0, 0, pl, 200);
	run(a.tc_fd, &pk[np], 1);
	dtls_rec(pl, 20, 0, 0, 14);
	build(&pk[np], 0, P_UDP, ua + 6, 40000, 0, 0, pl, 14);
	run(a.tc_fd, &pk[np], 1);
	dtls_rec(pl, 23, 1, 0, 1400);
	build(&pk[np], 0, P_UDP, ua + 6, 40000, 0, 0, pl, 1400);
	add(cl, &n, "udp_1400_tracked_done", &a, K_PLAIN, &pk[np++]);
	ring_buffer__consume(a.rb);
	memset(pl, 'x', sizeof(pl));
	build(&pk[np], 0, P_TCP, ua, 40000, 1, CS_TCP_ACK, NULL, 0);
	add(cl, &n, "tcp_pure_ack", &a, K_PLAIN, &pk[np++]);
	up = free_port(&a, ua, 40000);
	build(&pk[np], 0, P_TCP, ua, up, 1, CS_TCP_ACK, pl, 1400);
	warm = &pk[np];
	add(cl, &n, "tcp_1400_untracked_0_flows", &a, K_PLAIN, &pk[np++]);
	hint_set(&a, ua + 8, 40000, 1);
	build(&pk[np], 0, P_TCP, ua + 8, 40000, 1, CS_TCP_ACK, pl, 1400);
	add(cl, &n, "tcp_1400_untracked_0_flows_shared", &a, K_PLAIN, &pk[np++]);
	hint_set(&a, ua + 9, 40000, 2);
	build(&pk[np], 0, P_TCP, ua + 9, 40000, 1, CS_TCP_ACK, pl, 1400);
	add(cl, &n, "tcp_1400_untracked_0_flows_lookup", &a, K_PLAIN, &pk[np++]);
	/* The PSH segment that ends a write, right after a segment without
	 * PSH: it continues it (cs_wire.h, wire_tcp_continues), not peeked. */
	build(&pk[np], 0, P_TCP, ua + 11, 40000, 1, CS_TCP_ACK, pl, 1400);
	run(a.tc_fd, &pk[np], 1);
	build(&pk[np], 0, P_TCP, ua + 11, 40000, 1401, CS_TCP_ACK | CS_TCP_PSH, pl, 1400);
	add(cl, &n, "tcp_1400_untracked_continued", &a, K_PLAIN, &pk[np++]);
	build(&pk[np], 1, P_TCP, ua, 40000, 1, CS_TCP_ACK, pl, 1400);
	add(cl, &n, "ipv6_2ext_1400_untracked", &a, K_PLAIN, &pk[np++]);
	up = free_port(&b, ua, 40000);
	build(&pk[np], 0, P_TCP, ua, up, 1, CS_TCP_ACK, pl, 1400);
	add(cl, &n, "tcp_1400_untracked_50k_flows", &b, K_PLAIN, &pk[np++]);
	hint_set(&b, ua + 8, 40000, 1);
	build(&pk[np], 0, P_TCP, ua + 8, 40000, 1, CS_TCP_ACK, pl, 1400);
	add(cl, &n, "tcp_1400_untracked_50k_flows_shared", &b, K_PLAIN, &pk[np++]);
	hint_set(&b, ua + 9, 40000, 2);
	build(&pk[np], 0, P_TCP, ua + 9, 40000, 1, CS_TCP_ACK, pl, 1400);
	add(cl, &n, "tcp_1400_untracked_50k_flows_lookup", &b, K_PLAIN, &pk[np++]);

	/* A tracked direction past its ChangeCipherSpec: done. */
	tls_rec(pl, 22, 2, 100);
	tls_rec(pl + 100, 20, 1, 6);
	tls_rec(pl + 106, 23, 0, 300);
	build(&pk[np], 0, P_TCP, ua + 3, 40000, 1000, CS_TCP_ACK, pl, 406);
	run(a.tc_fd, &pk[np], 1);
	memset(pl, 'x', sizeof(pl));
	build(&pk[np], 0, P_TCP, ua + 3, 40000, 1406, CS_TCP_ACK, pl, 1400);
	add(cl, &n, "tcp_1400_tracked_done", &a, K_PLAIN, &pk[np++]);
	/* The same past a segment without PSH: not peeked for a new connection. */
	build(&pk[np], 0, P_TCP, ua + 3, 40000, 1406, CS_TCP_ACK, pl, 1400);
	run(a.tc_fd, &pk[np], 1);
	build(&pk[np], 0, P_TCP, ua + 3, 40000, 2806, CS_TCP_ACK | CS_TCP_PSH, pl, 1400);
	add(cl, &n, "tcp_1400_tracked_done_continued", &a, K_PLAIN, &pk[np++]);

	/* A new flow's ClientHello, each run alone. */
	tls_rec(pl, 22, 1, 517);
	build(&pk[np], 0, P_TCP, ua + 1, 40000, 1, CS_TCP_ACK, pl, 517);
	key_of(&add(cl, &n, "client_hello_new_flow", &a, K_NEW_FLOW, &pk[np++])->key, ua + 1,
	       40000);

	/* A tracked direction in its Certificate: 1400 bytes copied. */
	tls_rec(pl, 22, 2, 100);
	build(&pk[np], 0, P_TCP, ua + 2, 40000, 1000, CS_TCP_ACK, pl, 100);
	run(a.tc_fd, &pk[np], 1);
	tls_rec(pl, 22, 11, 3000);
	build(&pk[np], 0, P_TCP, ua + 2, 40000, 1100, CS_TCP_ACK, pl, 1400);
	add(cl, &n, "cert_1400_copied", &a, K_COPY, &pk[np++]);
	ring_buffer__consume(a.rb);

	/* The same with PSH, the end of the server's write, while the reader
	 * is busy (no reader blocks here): it needs no wakeup. */
	tls_rec(pl, 22, 2, 100);
	build(&pk[np], 0, P_TCP, ua + 10, 40000, 1000, CS_TCP_ACK, pl, 100);
	run(a.tc_fd, &pk[np], 1);
	tls_rec(pl, 22, 11, 3000);
	build(&pk[np], 0, P_TCP, ua + 10, 40000, 1100, CS_TCP_ACK | CS_TCP_PSH, pl, 1400);
	add(cl, &n, "cert_1400_copied_psh", &a, K_COPY, &pk[np++]);
	ring_buffer__consume(a.rb);

	/* Warm up (CPU frequency, caches), then rounds over all classes in
	 * turn, so that noise from elsewhere spreads over every class. */
	for (i = 0; i < 3; i++)
		run(a.tc_fd, warm, repeat);
	for (r = 0; r < rounds; r++)
		for (i = 0; i < n; i++)
			run_class(&cl[i], r);

	report(cl, n, json);
	fails = counter(&a, CS_C_RB_FAIL) + counter(&b, CS_C_RB_FAIL);
	if (fails)
		printf("warning: %llu ring-buffer output failures during the run\n",
		       (unsigned long long)fails);
	inst_close(&a);
	inst_close(&b);
	return 0;
}
