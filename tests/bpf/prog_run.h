/* prog_run.h - the real TC program under BPF_PROG_TEST_RUN on crafted Ethernet frames, for the BPF tests. */
#ifndef CS_TESTS_PROG_RUN_H
#define CS_TESTS_PROG_RUN_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "certsentry.h"
#include "certsentry.skel.h"

#define MAX_EVENTS    16
#define FRAME_MAX     3600 /* BPF_PROG_TEST_RUN takes linear frames up to ~3.7 KB */
#define TC_ACT_UNSPEC (-1)
#define TEST_SEED     0x5eed1234u /* the hint mix's key, known here to aim flows at one bucket */

struct got {
	struct cs_event ev;
	uint8_t data[FRAME_MAX];
};

struct t {
	struct certsentry_bpf *skel;
	struct ring_buffer *rb;
	int prog_fd;
	int n;
	struct got ev[MAX_EVENTS];
};

/* ---- frames ---- */

struct flow {
	int family;
	const char *src, *dst;
	uint16_t sport, dport;
};

enum { EXT_NONE, EXT_TWO, EXT_FRAG };

struct frame_opts {
	uint8_t flags; /* TCP flags; 0 = ACK|PSH */
	int ext;       /* IPv6 extension headers */
	int pad;       /* Ethernet padding bytes after the IP packet */
	int udp;
	int vlan;
	int big_tcp; /* IPv4 tot_len 0 */
};

static inline size_t put_tcp(uint8_t *p, const struct flow *f, uint32_t seq, uint8_t flags)
{
	uint16_t v;
	uint32_t s = htonl(seq);

	memset(p, 0, 20);
	v = htons(f->sport);
	memcpy(p, &v, 2);
	v = htons(f->dport);
	memcpy(p + 2, &v, 2);
	memcpy(p + 4, &s, 4);
	p[12] = 5 << 4;
	p[13] = flags ? flags : (CS_TCP_ACK | 0x08);
	p[14] = 0xff;
	return 20;
}

static inline size_t put_udp(uint8_t *p, const struct flow *f, size_t plen)
{
	uint16_t v;

	memset(p, 0, 8);
	v = htons(f->sport);
	memcpy(p, &v, 2);
	v = htons(f->dport);
	memcpy(p + 2, &v, 2);
	v = htons(8 + plen);
	memcpy(p + 4, &v, 2);
	return 8;
}

/* Ethernet frame with one TCP (or UDP) segment; returns its length. */
static inline size_t frame(uint8_t *buf, const struct flow *f, uint32_t seq, const void *pl,
			   size_t plen, const struct frame_opts *o)
{
	static const struct frame_opts none;
	uint8_t *p = buf, *ip, *l4;
	uint16_t v;
	int l4proto;

	if (!o)
		o = &none;
	l4proto = o->udp ? 17 : 6;
	memset(buf, 0, FRAME_MAX);
	memcpy(p, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
	p += 12;
	if (o->vlan) {
		memcpy(p, "\x81\x00\x00\x07", 4);
		p += 4;
	}
	v = htons(f->family == 4 ? 0x0800 : 0x86dd);
	memcpy(p, &v, 2);
	p += 2;
	ip = p;
	if (f->family == 4) {
		ip[0] = 0x45;
		ip[8] = 64;
		ip[9] = l4proto;
		inet_pton(AF_INET, f->src, ip + 12);
		inet_pton(AF_INET, f->dst, ip + 16);
		l4 = ip + 20;
	} else {
		ip[0] = 0x60;
		ip[7] = 64;
		inet_pton(AF_INET6, f->src, ip + 8);
		inet_pton(AF_INET6, f->dst, ip + 24);
		l4 = ip + 40;
		if (o->ext == EXT_TWO) {
			ip[6] = 0; /* hop-by-hop, 8 bytes */
			l4[0] = 60;
			l4[1] = 0;
			l4[2] = 1;
			l4[3] = 4; /* PadN */
			l4 += 8;
			l4[0] = l4proto;
			l4[1] = 1; /* dest opts, 16 bytes */
			l4[2] = 1;
			l4[3] = 12;
			l4 += 16;
		} else if (o->ext == EXT_FRAG) {
			ip[6] = 44;
			l4[0] = l4proto;
			l4[3] = 1; /* offset 0, more fragments */
			l4 += 8;
		} else {
			ip[6] = l4proto;
		}
	}
	p = l4 + (o->udp ? put_udp(l4, f, plen) : put_tcp(l4, f, seq, o->flags));
	if (plen)
		memcpy(p, pl, plen);
	p += plen;
	if (f->family == 4) {
		v = o->big_tcp ? 0 : htons(p - ip);
		memcpy(ip + 2, &v, 2);
	} else {
		v = htons(p - ip - 40);
		memcpy(ip + 4, &v, 2);
	}
	memset(p, 0xee, o->pad);
	return p - buf + o->pad;
}

static inline void key_of_p(struct cs_flow_key *k, const struct flow *f, int proto)
{
	memset(k, 0, sizeof(*k));
	inet_pton(f->family == 4 ? AF_INET : AF_INET6, f->src, k->saddr);
	inet_pton(f->family == 4 ? AF_INET : AF_INET6, f->dst, k->daddr);
	k->sport = f->sport;
	k->dport = f->dport;
	k->family = f->family;
	k->proto = proto;
}

/* ---- running ---- */

static inline int on_event(void *ctx, void *data, size_t size)
{
	struct t *t = ctx;
	const struct cs_event *ev = data;

	assert_true(size >= sizeof(*ev));
	assert_true(ev->len <= size - sizeof(*ev));
	assert_true(t->n < MAX_EVENTS);
	assert_true(ev->len <= FRAME_MAX);
	memcpy(&t->ev[t->n].ev, ev, sizeof(*ev));
	memcpy(t->ev[t->n].data, ev + 1, ev->len);
	t->n++;
	return 0;
}

/* Runs one frame and collects the ring records it produced. */
static inline int run(struct t *t, const uint8_t *pkt, size_t len)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len, .repeat = 1);
	int err;

	t->n = 0;
	err = bpf_prog_test_run_opts(t->prog_fd, &o);
	assert_int_equal(err, 0);
	assert_int_equal((int)o.retval, TC_ACT_UNSPEC);
	ring_buffer__consume(t->rb);
	return t->n;
}

static inline uint64_t counter(struct t *t, int idx)
{
	int ncpu = libbpf_num_possible_cpus(), i;
	uint64_t v[512] = { 0 }, sum = 0;
	__u32 k = idx;

	assert_true(ncpu > 0 && ncpu <= 512);
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.counters), &k, v), 0);
	for (i = 0; i < ncpu; i++)
		sum += v[i];
	return sum;
}

/* copy_encrypted: an enum cs_copy_enc, as userspace sets it while a key
 * source is configured (true: CS_COPY_ENC_ALL); ports: --port's server
 * ports, until a 0 (NULL: every port). */

static inline int load_ports(void **state, uint32_t max_bytes, uint32_t copy_encrypted,
			     const uint16_t *ports)
{
	struct t *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	t->skel = certsentry_bpf__open();
	if (!t->skel)
		return -1;
	if (max_bytes)
		t->skel->rodata->max_bytes = max_bytes;
	t->skel->rodata->hint_seed = TEST_SEED;
	t->skel->rodata->copy_encrypted = copy_encrypted;
	for (; ports && *ports; ports++)
		cs_port_set_add(&t->skel->rodata->port_set, *ports);
	/* cs_tc only: the L3 twin differs in its parse offset alone, and every
	 * program loaded costs a verification per test. */
	bpf_program__set_autoload(t->skel->progs.cs_tc_l3, false);
	bpf_program__set_autoload(t->skel->progs.cs_empty, false);
	bpf_map__set_max_entries(t->skel->maps.events, 1 << 20);
	if (certsentry_bpf__load(t->skel)) {
		certsentry_bpf__destroy(t->skel);
		free(t);
		return -1;
	}
	t->prog_fd = bpf_program__fd(t->skel->progs.cs_tc);
	t->rb = ring_buffer__new(bpf_map__fd(t->skel->maps.events), on_event, t, NULL);
	if (!t->rb)
		return -1;
	*state = t;
	return 0;
}

static inline int load_opts(void **state, uint32_t max_bytes, uint32_t copy_encrypted)
{
	return load_ports(state, max_bytes, copy_encrypted, NULL);
}

static inline int load(void **state, uint32_t max_bytes)
{
	return load_opts(state, max_bytes, false);
}

static inline int teardown(void **state)
{
	struct t *t = *state;

	if (!t)
		return 0;
	ring_buffer__free(t->rb);
	certsentry_bpf__destroy(t->skel);
	free(t);
	return 0;
}

/* Root, BTF and a program the verifier accepts, or a loud skip. */
static inline const char *why_skip(void)
{
	void *st = NULL;

	if (geteuid() != 0)
		return "not root (BPF_PROG_TEST_RUN needs CAP_BPF)";
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		return "kernel has no BTF (/sys/kernel/btf/vmlinux)";
	if (load(&st, 0))
		return "BPF object failed to load (run with CS_VERBOSE=1 for the verifier log)";
	teardown(&st);
	return NULL;
}

/* libbpf's messages (the verifier log among them) only with CS_VERBOSE set. */
static inline int print_fn(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
	(void)lvl;
	if (!getenv("CS_VERBOSE"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static inline void test_skipped(void **state)
{
	(void)state;
	skip();
}

/* main's body: runs the group of tests, or one loud skip where the program
 * cannot run here. */
#define PROG_RUN_MAIN(name, tests)                                                       \
	({                                                                               \
		const struct CMUnitTest skipped_[] = { cmocka_unit_test(test_skipped) }; \
		const char *why_ = (libbpf_set_print(print_fn), why_skip());             \
                                                                                         \
		if (why_) {                                                              \
			printf("SKIPPED: %s\n", why_);                                   \
			fflush(stdout);                                                  \
		}                                                                        \
		why_ ? cmocka_run_group_tests_name(name, skipped_, NULL, NULL) :         \
		       cmocka_run_group_tests_name(name, tests, NULL, NULL);             \
	})

#endif
