/* test_prog_run.c - runs the real TC program on crafted frames with BPF_PROG_TEST_RUN and checks ring records, flow state and counters. */
#include <sys/epoll.h>

#include "prog_run.h"
#include "tls_records.h"
#include "cs_wire.h"

/* ---- frames ---- */

static const struct flow F4 = { 4, "10.0.0.1", "10.0.0.2", 40000, 443 };
static const struct flow F6 = { 6, "2001:db8::1", "2001:db8::2", 40001, 8443 };
static const struct flow F4R = { 4, "10.0.0.2", "10.0.0.1", 443, 40000 };	 /* F4's reverse */
static const struct flow F6R = { 6, "2001:db8::2", "2001:db8::1", 8443, 40001 }; /* F6's reverse */

static size_t stun(uint8_t *p)
{
	memcpy(p, "\x00\x01\x00\x00\x21\x12\xa4\x42", 8);
	filler(p + 8, 12, 9);
	return 20;
}

/* ---- running ---- */

/*
 * Runs one frame and says whether its records woke a reader blocked on the
 * ring: an epoll set made while the ring is empty sees the fd only through
 * the kernel's wakeup (a forced one is an irq_work, run before the test run
 * returns), not through records merely sitting there. waiting: the reader
 * said it blocks (reader_waiting, as capture_poll sets it); after a wakeup
 * the program has cleared it.
 */
static bool run_woke_w(struct t *t, const uint8_t *pkt, size_t len, int records, bool waiting)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len, .repeat = 1);
	struct epoll_event e = { .events = EPOLLIN };
	int ep = epoll_create1(EPOLL_CLOEXEC), n;

	assert_true(ep >= 0);
	t->n = 0;
	ring_buffer__consume(t->rb);
	t->skel->bss->reader_waiting = waiting;
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, bpf_map__fd(t->skel->maps.events), &e), 0);
	assert_int_equal(bpf_prog_test_run_opts(t->prog_fd, &o), 0);
	n = epoll_wait(ep, &e, 1, 20);
	close(ep);
	t->n = 0;
	ring_buffer__consume(t->rb);
	assert_int_equal(t->n, records);
	if (n == 1)
		assert_int_equal(t->skel->bss->reader_waiting, 0);
	return n == 1;
}

static bool run_woke(struct t *t, const uint8_t *pkt, size_t len, int records)
{
	return run_woke_w(t, pkt, len, records, true);
}

static void key_of(struct cs_flow_key *k, const struct flow *f)
{
	key_of_p(k, f, 6);
}

static bool flow_state_p(struct t *t, const struct flow *f, int proto, struct cs_flow_state *st)
{
	struct cs_flow_key k;

	key_of_p(&k, f, proto);
	return !bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.flows), &k, st);
}

static bool flow_state(struct t *t, const struct flow *f, struct cs_flow_state *st)
{
	return flow_state_p(t, f, 6, st);
}

static void check_data_p(const struct got *g, const struct flow *f, int proto, uint32_t seq,
			 const void *bytes, size_t len)
{
	struct cs_flow_key k;

	key_of_p(&k, f, proto);
	assert_int_equal(g->ev.type, CS_EV_DATA);
	assert_memory_equal(&g->ev.key, &k, sizeof(k));
	assert_int_equal(g->ev.seq, seq);
	assert_int_equal(g->ev.len, len);
	assert_memory_equal(g->data, bytes, len);
	if (proto == 17)
		assert_int_equal(g->ev.tcp_flags, 0);
}

static void check_data(const struct got *g, const struct flow *f, uint32_t seq, const void *bytes,
		       size_t len)
{
	check_data_p(g, f, 6, seq, bytes, len);
}

/* ---- fixtures ---- */

static int setup(void **state)
{
	return load(state, 0);
}

static int setup_cap100(void **state)
{
	return load(state, 100);
}

/* A key source is configured: TLS 1.3's encrypted flight is copied whole. */
static int setup_copy(void **state)
{
	return load_opts(state, 0, true);
}

static int setup_copy_cap600(void **state)
{
	return load_opts(state, 600, true);
}

/* ---- tests ---- */

static uint8_t pkt[FRAME_MAX], pl[FRAME_MAX];

static void test_ipv4_not_tls(void **state)
{
	struct t *t = *state;
	struct cs_flow_state st;
	const char *http = "GET / HTTP/1.1\r\nHost: example\r\n\r\n";
	size_t n = frame(pkt, &F4, 1000, http, strlen(http), NULL);

	assert_int_equal(run(t, pkt, n), 0);
	assert_false(flow_state(t, &F4, &st));
	assert_int_equal(counter(t, CS_C_PACKETS), 1);
	assert_int_equal(counter(t, CS_C_TCP_PAYLOAD), 1);
	assert_int_equal(counter(t, CS_C_FLOWS), 0);
}

static void test_ipv4_client_hello(void **state)
{
	struct t *t = *state;
	struct cs_flow_state st;
	size_t l = tls_rec(pl, 22, 1, 517), n = frame(pkt, &F4, 0x12345678, pl, l, NULL);

	assert_int_equal(run(t, pkt, n), 1);
	check_data(&t->ev[0], &F4, 0x12345678, pl, l);
	assert_int_equal(t->ev[0].ev.ifindex, 1); /* TEST_RUN uses lo */
	assert_int_equal(t->ev[0].ev.hook, CS_HOOK_EGRESS);
	assert_true(t->ev[0].ev.ts_ns > 0);
	assert_true(flow_state(t, &F4, &st));
	assert_int_equal(st.isn, 0x12345678);
	assert_int_equal(st.next_rec, 0x12345678 + 517);
	assert_int_equal(st.limit, CS_MAX_BYTES_DEFAULT);
	assert_int_equal(st.walking, 1);
	assert_int_equal(st.done, 0);
	assert_int_equal(counter(t, CS_C_FLOWS), 1);
	assert_int_equal(counter(t, CS_C_EVENTS), 1);
	assert_int_equal(counter(t, CS_C_BYTES), 517);
	assert_int_equal(counter(t, CS_C_RB_FAIL), 0);
}

static void test_ipv6_ext_server_hello(void **state)
{
	struct t *t = *state;
	struct frame_opts o = { .ext = EXT_TWO };
	size_t l = tls_rec(pl, 22, 2, 122), n = frame(pkt, &F6, 7, pl, l, &o);

	assert_int_equal(run(t, pkt, n), 1);
	check_data(&t->ev[0], &F6, 7, pl, l);
	assert_int_equal(t->ev[0].ev.key.family, CS_AF_INET6);
}

static void test_ipv6_fragment_ignored(void **state)
{
	struct t *t = *state;
	struct cs_flow_state st;
	struct frame_opts o = { .ext = EXT_FRAG };
	size_t l = tls_rec(pl, 22, 1, 300), n = frame(pkt, &F6, 7, pl, l, &o);

	assert_int_equal(run(t, pkt, n), 0);
	assert_false(flow_state(t, &F6, &st));
}

static void test_udp_ignored(void **state)
{
	struct t *t = *state;
	struct frame_opts o = { .udp = 1 };
	size_t l = tls_rec(pl, 22, 1, 300), n = frame(pkt, &F4, 0, pl, l, &o);

	assert_int_equal(run(t, pkt, n), 0);
	assert_int_equal(counter(t, CS_C_TCP_PAYLOAD), 0);
}

static void test_pure_ack_ignored(void **state)
{
	struct t *t = *state;
	size_t l = tls_rec(pl, 22, 1, 200), n = frame(pkt, &F4, 100, pl, l, NULL);

	assert_int_equal(run(t, pkt, n), 1);
	n = frame(pkt, &F4, 300, NULL, 0, NULL); /* tracked direction, no payload */
	assert_int_equal(run(t, pkt, n), 0);
	assert_int_equal(counter(t, CS_C_TCP_PAYLOAD), 1);
}

static void test_tracked_next_segment(void **state)
{
	struct t *t = *state;
	size_t l = tls_rec(pl, 22, 2, 90), n = frame(pkt, &F4, 5000, pl, l, NULL);

	assert_int_equal(run(t, pkt, n), 1);
	/* A Certificate record that goes on past this segment. */
	tls_rec(pl, 22, 11, 3000);
	n = frame(pkt, &F4, 5090, pl, 1400, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	check_data(&t->ev[0], &F4, 5090, pl, 1400);
	n = frame(pkt, &F4, 5090 + 1400, pl + 1400, 1400, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	check_data(&t->ev[0], &F4, 5090 + 1400, pl + 1400, 1400);
}

/* ServerHello, then ChangeCipherSpec, then application data (TLS 1.3):
 * the CCS is passed, the application data ends the walk: copy through its
 * header + CS_TAIL_BYTES, then nothing more. */
static void test_record_walk_stops(void **state)
{
	struct t *t = *state;
	struct cs_flow_state st;
	size_t l = 0, n;

	l += tls_rec(pl + l, 22, 2, 95);
	l += tls_rec(pl + l, 20, 0, 6);
	l += tls_rec(pl + l, 23, 0, 300);
	n = frame(pkt, &F4, 1, pl, l, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	check_data(&t->ev[0], &F4, 1, pl, 95 + 6 + 5 + CS_TAIL_BYTES);
	assert_true(flow_state(t, &F4, &st));
	assert_int_equal(st.done, 1);
	assert_int_equal(st.walking, 0);
	assert_int_equal(st.limit, 95 + 6 + 5 + CS_TAIL_BYTES);
	filler(pl, 500, 3);
	n = frame(pkt, &F4, 1 + l, pl, 500, NULL);
	assert_int_equal(run(t, pkt, n), 0);
	assert_int_equal(counter(t, CS_C_CAPPED), 0);
}

/* The CCS header arrives in a later segment than the handshake records;
 * the (TLS 1.2, encrypted) Finished after it ends the walk. */
static void test_record_walk_across_segments(void **state)
{
	struct t *t = *state;
	size_t l = 0, n;

	l += tls_rec(pl + l, 22, 2, 100);
	l += tls_rec(pl + l, 22, 11, 1000);
	n = frame(pkt, &F4, 10, pl, 600, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	n = frame(pkt, &F4, 610, pl + 600, l - 600, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	check_data(&t->ev[0], &F4, 610, pl + 600, l - 600);
	l = tls_rec(pl, 20, 0, 6);
	l += tls_rec(pl + l, 22, 20, 50); /* encrypted Finished */
	n = frame(pkt, &F4, 1110, pl, l, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	check_data(&t->ev[0], &F4, 1110, pl, 6 + 5 + CS_TAIL_BYTES);
}

static void test_fin_close(void **state)
{
	struct t *t = *state;
	struct cs_flow_state st;
	struct frame_opts o = { .flags = CS_TCP_FIN | CS_TCP_ACK };
	size_t l = tls_rec(pl, 22, 1, 200), n = frame(pkt, &F4, 100, pl, l, NULL);
	struct cs_flow_key k;

	assert_int_equal(run(t, pkt, n), 1);
	n = frame(pkt, &F4, 300, NULL, 0, &o);
	assert_int_equal(run(t, pkt, n), 1);
	key_of(&k, &F4);
	assert_int_equal(t->ev[0].ev.type, CS_EV_CLOSE);
	assert_int_equal(t->ev[0].ev.len, 0);
	assert_int_equal(t->ev[0].ev.seq, 300);
	assert_int_equal(t->ev[0].ev.tcp_flags, CS_TCP_FIN | CS_TCP_ACK);
	assert_memory_equal(&t->ev[0].ev.key, &k, sizeof(k));
	assert_false(flow_state(t, &F4, &st));
	/* An untracked FIN says nothing. */
	assert_int_equal(run(t, pkt, n), 0);
}

/* The FIN is processed before the last data segment (another CPU): CLOSE
 * goes out once, the data still gets copied, then the entry goes. */
static void test_fin_before_last_data(void **state)
{
	struct t *t = *state;
	struct cs_flow_state st;
	struct frame_opts o = { .flags = CS_TCP_FIN | CS_TCP_ACK };
	size_t l = tls_rec(pl, 22, 2, 100), n;

	tls_rec(pl + l, 22, 11, 1000);
	n = frame(pkt, &F4, 0, pl, 100, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	n = frame(pkt, &F4, 1100, NULL, 0, &o);
	assert_int_equal(run(t, pkt, n), 1);
	assert_int_equal(t->ev[0].ev.type, CS_EV_CLOSE);
	assert_int_equal(t->ev[0].ev.seq, 1100);
	assert_true(flow_state(t, &F4, &st));
	assert_int_equal(st.closing, 1);
	assert_int_equal(st.limit, 1100);
	assert_int_equal(run(t, pkt, n), 0); /* retransmitted FIN: no second CLOSE */
	n = frame(pkt, &F4, 100, pl + 100, 1000, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	check_data(&t->ev[0], &F4, 100, pl + 100, 1000);
	assert_false(flow_state(t, &F4, &st));
}

static void test_rst_with_data_close(void **state)
{
	struct t *t = *state;
	struct frame_opts o = { .flags = CS_TCP_RST | CS_TCP_ACK };
	size_t l = tls_rec(pl, 22, 1, 200), n;

	n = frame(pkt, &F6, 100, pl, l, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	tls_rec(pl, 22, 16, 30);
	n = frame(pkt, &F6, 300, pl, 30, &o);
	assert_int_equal(run(t, pkt, n), 2);
	check_data(&t->ev[0], &F6, 300, pl, 30);
	assert_int_equal(t->ev[1].ev.type, CS_EV_CLOSE);
	assert_int_equal(t->ev[1].ev.seq, 330);
	assert_int_equal(t->ev[1].ev.tcp_flags & CS_TCP_RST, CS_TCP_RST);
}

/* max_bytes 100: counted by sequence offset, so a retransmission does not
 * use the cap up a second time. */
static void test_cap(void **state)
{
	struct t *t = *state;
	struct cs_flow_state st;
	size_t l = tls_rec(pl, 22, 1, 80), n;

	tls_rec(pl + l, 22, 11, 500);
	n = frame(pkt, &F4, 1000, pl, 80, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	assert_int_equal(run(t, pkt, n), 1); /* retransmitted */
	check_data(&t->ev[0], &F4, 1000, pl, 80);
	n = frame(pkt, &F4, 1080, pl + 80, 60, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	check_data(&t->ev[0], &F4, 1080, pl + 80, 20);
	assert_true(flow_state(t, &F4, &st));
	assert_int_equal(st.done, 1);
	assert_int_equal(counter(t, CS_C_CAPPED), 1);
	n = frame(pkt, &F4, 1140, pl + 140, 60, NULL);
	assert_int_equal(run(t, pkt, n), 0);
	assert_int_equal(counter(t, CS_C_BYTES), 180);
}

static void test_eth_padding_not_copied(void **state)
{
	struct t *t = *state;
	struct frame_opts o = { .pad = 20 };
	static const uint8_t hello[6] = { 0x16, 0x03, 0x01, 0x00, 0x02, 0x01 };
	size_t n = frame(pkt, &F4, 9, hello, sizeof(hello), &o);

	assert_int_equal(n, 14 + 20 + 20 + 6 + 20);
	assert_int_equal(run(t, pkt, n), 1);
	check_data(&t->ev[0], &F4, 9, hello, sizeof(hello));
}

static void test_big_tcp_tot_len_zero(void **state)
{
	struct t *t = *state;
	struct frame_opts o = { .big_tcp = 1 };
	size_t l = tls_rec(pl, 22, 2, 1000), n = frame(pkt, &F4, 9, pl, l, &o);

	assert_int_equal(run(t, pkt, n), 1);
	check_data(&t->ev[0], &F4, 9, pl, l);
}

static void test_vlan_tag(void **state)
{
	struct t *t = *state;
	struct frame_opts o = { .vlan = 1 };
	size_t l = tls_rec(pl, 22, 1, 250), n = frame(pkt, &F6, 9, pl, l, &o);

	assert_int_equal(run(t, pkt, n), 1);
	check_data(&t->ev[0], &F6, 9, pl, l);
}

static void test_out_of_order(void **state)
{
	struct t *t = *state;
	size_t l = tls_rec(pl, 22, 2, 100), n;

	tls_rec(pl + l, 22, 11, 2000);
	n = frame(pkt, &F4, 0, pl, 100, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	n = frame(pkt, &F4, 1100, pl + 1100, 1000, NULL); /* ahead of a hole */
	assert_int_equal(run(t, pkt, n), 1);
	check_data(&t->ev[0], &F4, 1100, pl + 1100, 1000);
	n = frame(pkt, &F4, 100, pl + 100, 1000, NULL); /* the hole */
	assert_int_equal(run(t, pkt, n), 1);
	check_data(&t->ev[0], &F4, 100, pl + 100, 1000);
}

/* Userspace says "done" through done_flows: both entries go away. */
static void test_userspace_done(void **state)
{
	struct t *t = *state;
	struct cs_flow_state st;
	struct cs_flow_key k;
	uint8_t one = 1, v;
	size_t l = tls_rec(pl, 22, 2, 100), n = frame(pkt, &F4, 0, pl, l, NULL);

	assert_int_equal(run(t, pkt, n), 1);
	key_of(&k, &F4);
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(t->skel->maps.done_flows), &k, &one, 0),
			 0);
	filler(pl, 700, 1);
	n = frame(pkt, &F4, 100, pl, 700, NULL);
	assert_int_equal(run(t, pkt, n), 0);
	assert_false(flow_state(t, &F4, &st));
	assert_int_not_equal(bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.done_flows), &k, &v), 0);
	/* and the hint bucket is back to zero */
	{
		__u32 idx = cs_hint_bucket(cs_flow_hint(TEST_SEED, &k));
		struct cs_hint h = { .v = 7 };

		assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.hints), &idx, &h),
				 0);
		assert_int_equal(h.v, 0);
		assert_int_equal(h.sticky, 0);
	}
}

/* A new connection on the same 5-tuple (far-away hello) starts over. */
static void test_port_reuse_restarts(void **state)
{
	struct t *t = *state;
	struct cs_flow_state st;
	size_t l = tls_rec(pl, 22, 1, 100), n = frame(pkt, &F4, 0, pl, l, NULL);

	assert_int_equal(run(t, pkt, n), 1);
	n = frame(pkt, &F4, 0x80000000u, pl, l, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	check_data(&t->ev[0], &F4, 0x80000000u, pl, l);
	assert_true(flow_state(t, &F4, &st));
	assert_int_equal(st.isn, 0x80000000u);
	assert_int_equal(counter(t, CS_C_FLOWS), 1);
}

/* ---- DTLS, SSLv2, alert starts, split headers ---- */

static const struct frame_opts UDP = { .udp = 1 };

/* A DTLS ClientHello starts a UDP direction: copied whole, seq 0. */
static void test_dtls_client_hello(void **state)
{
	struct t *t = *state;
	struct cs_flow_state st;
	size_t l = dtls_rec(pl, 22, 0, 1, 200), n = frame(pkt, &F4, 0, pl, l, &UDP);

	assert_int_equal(run(t, pkt, n), 1);
	check_data_p(&t->ev[0], &F4, 17, 0, pl, l);
	assert_true(flow_state_p(t, &F4, 17, &st));
	assert_int_equal(st.mode, CS_MODE_DTLS);
	assert_int_equal(st.hi, l);
	assert_int_equal(st.done, 0);
	assert_false(flow_state(t, &F4, &st)); /* not a TCP entry */
	assert_int_equal(counter(t, CS_C_FLOWS), 1);
	assert_int_equal(counter(t, CS_C_TCP_PAYLOAD), 0);
	/* IPv6 with extension headers, ServerHello and HelloVerifyRequest too */
	{
		struct frame_opts o = { .udp = 1, .ext = EXT_TWO };

		l = dtls_rec(pl, 22, 0, 3, 60);
		n = frame(pkt, &F6, 0, pl, l, &o);
		assert_int_equal(run(t, pkt, n), 1);
		check_data_p(&t->ev[0], &F6, 17, 0, pl, l);
	}
}

/* STUN first (WebRTC): untracked, ignored; then the hello starts the
 * direction; later STUN datagrams of it are not copied, DTLS ones are. */
static void test_dtls_stun_multiplexed(void **state)
{
	struct t *t = *state;
	uint8_t s[32];
	size_t sl = stun(s), l, n;

	n = frame(pkt, &F4, 0, s, sl, &UDP);
	assert_int_equal(run(t, pkt, n), 0);
	l = dtls_rec(pl, 22, 0, 1, 150);
	n = frame(pkt, &F4, 0, pl, l, &UDP);
	assert_int_equal(run(t, pkt, n), 1);
	n = frame(pkt, &F4, 0, s, sl, &UDP);
	assert_int_equal(run(t, pkt, n), 0);
	s[0] = 0x40; /* TURN channel data: not DTLS */
	n = frame(pkt, &F4, 0, s, sl, &UDP);
	assert_int_equal(run(t, pkt, n), 0);
	l = dtls_rec(pl, 22, 0, 16, 80); /* ClientKeyExchange */
	n = frame(pkt, &F4, 0, pl, l, &UDP);
	assert_int_equal(run(t, pkt, n), 1);
	check_data_p(&t->ev[0], &F4, 17, 0, pl, l);
	assert_int_equal(counter(t, CS_C_BYTES), 150 + 80);
}

/* UDP that is not DTLS, and DTLS that is not a hello, start nothing. */
static void test_udp_not_dtls_ignored(void **state)
{
	struct t *t = *state;
	struct cs_flow_state st;
	size_t l, n;

	filler(pl, 1000, 1);
	n = frame(pkt, &F4, 0, pl, 1000, &UDP);
	assert_int_equal(run(t, pkt, n), 0);
	l = dtls_rec(pl, 22, 0, 11, 500); /* a Certificate, mid-handshake */
	n = frame(pkt, &F4, 0, pl, l, &UDP);
	assert_int_equal(run(t, pkt, n), 0);
	l = dtls_rec(pl, 23, 1, 0, 500);
	n = frame(pkt, &F4, 0, pl, l, &UDP);
	assert_int_equal(run(t, pkt, n), 0);
	l = dtls_rec(pl, 22, 0, 1, 200);
	n = frame(pkt, &F4, 0, pl, 15, &UDP); /* too short to judge */
	assert_int_equal(run(t, pkt, n), 0);
	assert_false(flow_state_p(t, &F4, 17, &st));
	assert_int_equal(counter(t, CS_C_FLOWS), 0);
}

/* The datagram that holds a ChangeCipherSpec is copied and is the last;
 * a new hello starts the direction again; the cap counts datagram bytes. */
static void test_dtls_stop(void **state)
{
	struct t *t = *state;
	struct cs_flow_state st;
	size_t l, n;

	l = dtls_rec(pl, 22, 0, 1, 200);
	n = frame(pkt, &F4, 0, pl, l, &UDP);
	assert_int_equal(run(t, pkt, n), 1);
	l = dtls_rec(pl, 22, 0, 16, 80);
	l += dtls_rec(pl + l, 20, 0, 0, 14);
	l += dtls_rec(pl + l, 22, 1, 0, 61);
	n = frame(pkt, &F4, 0, pl, l, &UDP);
	assert_int_equal(run(t, pkt, n), 1);
	check_data_p(&t->ev[0], &F4, 17, 0, pl, l);
	assert_true(flow_state_p(t, &F4, 17, &st));
	assert_int_equal(st.done, 1);
	assert_int_equal(st.hi, 200 + l);
	assert_int_equal(st.limit, st.hi);
	l = dtls_rec(pl, 23, 1, 0, 300);
	n = frame(pkt, &F4, 0, pl, l, &UDP);
	assert_int_equal(run(t, pkt, n), 0);
	l = dtls_rec(pl, 22, 0, 1, 200); /* a new handshake */
	n = frame(pkt, &F4, 0, pl, l, &UDP);
	assert_int_equal(run(t, pkt, n), 1);
	assert_true(flow_state_p(t, &F4, 17, &st));
	assert_int_equal(st.done, 0);
	assert_int_equal(st.hi, 200);
	/* an alert (or an epoch-1 record whose CCS was lost) ends it too */
	l = dtls_rec(pl, 22, 1, 0, 61);
	n = frame(pkt, &F4, 0, pl, l, &UDP);
	assert_int_equal(run(t, pkt, n), 1);
	assert_true(flow_state_p(t, &F4, 17, &st));
	assert_int_equal(st.done, 1);
	/* a lone 14-byte CCS datagram (under the 16-byte peek) ends it */
	l = dtls_rec(pl, 22, 0, 1, 200);
	n = frame(pkt, &F4, 0, pl, l, &UDP);
	assert_int_equal(run(t, pkt, n), 1);
	l = dtls_rec(pl, 20, 0, 0, 14);
	n = frame(pkt, &F4, 0, pl, l, &UDP);
	assert_int_equal(run(t, pkt, n), 1);
	check_data_p(&t->ev[0], &F4, 17, 0, pl, 14);
	assert_true(flow_state_p(t, &F4, 17, &st));
	assert_int_equal(st.done, 1);
	assert_int_equal(st.hi, 214);
	assert_int_equal(counter(t, CS_C_CAPPED), 0);
}

/* Cap 100: a datagram crossing it is cut there; userspace's done_flows
 * forgets the direction at its next DTLS datagram. */
static void test_dtls_cap_and_done(void **state)
{
	struct t *t = *state;
	struct cs_flow_state st;
	struct cs_flow_key k;
	uint8_t one = 1;
	size_t l = dtls_rec(pl, 22, 0, 1, 80), n;

	n = frame(pkt, &F4, 0, pl, l, &UDP);
	assert_int_equal(run(t, pkt, n), 1);
	l = dtls_rec(pl, 22, 0, 11, 500);
	n = frame(pkt, &F4, 0, pl, l, &UDP);
	assert_int_equal(run(t, pkt, n), 1);
	check_data_p(&t->ev[0], &F4, 17, 0, pl, 20);
	assert_int_equal(counter(t, CS_C_CAPPED), 1);
	assert_int_equal(run(t, pkt, n), 0);
	l = dtls_rec(pl, 22, 0, 2, 80);
	n = frame(pkt, &F4R, 0, pl, l, &UDP);
	assert_int_equal(run(t, pkt, n), 1);
	key_of_p(&k, &F4R, 17);
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(t->skel->maps.done_flows), &k, &one, 0),
			 0);
	l = dtls_rec(pl, 22, 0, 11, 50);
	n = frame(pkt, &F4R, 0, pl, l, &UDP);
	assert_int_equal(run(t, pkt, n), 0);
	assert_false(flow_state_p(t, &F4R, 17, &st));
}

/* The 48-byte SSLv2 CLIENT-HELLO of ssl-v2.pcap starts a direction that is
 * not walked: what follows is copied (to the cap) whatever it looks like. */
static void test_ssl2_client_hello(void **state)
{
	static const uint8_t h[11] = { 0x80, 0x2e, 0x01, 0x00, 0x02, 0x00,
				       0x15, 0x00, 0x00, 0x00, 0x10 };
	struct t *t = *state;
	struct cs_flow_state st;
	size_t n;

	filler(pl, 48, 7);
	memcpy(pl, h, sizeof(h));
	n = frame(pkt, &F4, 500, pl, 48, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	check_data(&t->ev[0], &F4, 500, pl, 48);
	assert_true(flow_state(t, &F4, &st));
	assert_int_equal(st.mode, CS_MODE_SSL2);
	assert_int_equal(st.walking, 0);
	memset(pl, 0x15, 300); /* would end a record walk */
	n = frame(pkt, &F4, 548, pl, 300, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	check_data(&t->ev[0], &F4, 548, pl, 300);
	/* SERVER-HELLO: 04, hit 0, X.509, version 0.2 */
	memcpy(pl, "\x83\xb4\x04\x00\x01\x00\x02\x03\x87\x00\x12", 11);
	n = frame(pkt, &F4R, 900, pl, 950, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	assert_true(flow_state(t, &F4R, &st));
	assert_int_equal(st.mode, CS_MODE_SSL2);
	/* a look-alike: 20 bytes of cipher specs are not whole 3-byte specs */
	memcpy(pl, h, sizeof(h));
	pl[6] = 20;
	n = frame(pkt, &F6, 500, pl, 48, NULL);
	assert_int_equal(run(t, pkt, n), 0);
}

/* The server's Alert (warning) + ServerHello + ... + CCS + Finished, after a
 * tracked ClientHello: tracked, the walk hops over the alert and stops at
 * the Finished. */
static void test_alert_start_tracked_reverse(void **state)
{
	struct t *t = *state;
	struct cs_flow_state st;
	size_t l, n;

	l = tls_rec(pl, 22, 1, 200);
	n = frame(pkt, &F4, 100, pl, l, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	memcpy(pl, "\x15\x03\x03\x00\x02\x01\x70", 7);
	l = 7;
	l += tls_rec(pl + l, 22, 2, 90);
	l += tls_rec(pl + l, 22, 11, 900);
	l += tls_rec(pl + l, 20, 0, 6);
	l += tls_rec(pl + l, 22, 20, 45);
	n = frame(pkt, &F4R, 7000, pl, l, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	check_data(&t->ev[0], &F4R, 7000, pl, 7 + 90 + 900 + 6 + 5 + CS_TAIL_BYTES);
	assert_true(flow_state(t, &F4R, &st));
	assert_int_equal(st.mode, CS_MODE_ALERT);
	assert_int_equal(st.done, 1);
	/* a fatal alert is the end: its header + CS_TAIL_BYTES */
	l = tls_rec(pl, 22, 1, 200);
	n = frame(pkt, &F6, 100, pl, l, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	{
		static const struct flow F6R = { 6, "2001:db8::2", "2001:db8::1", 8443, 40001 };

		memcpy(pl, "\x15\x03\x01\x00\x02\x02\x28", 7);
		filler(pl + 7, 93, 2);
		n = frame(pkt, &F6R, 3000, pl, 100, NULL);
		assert_int_equal(run(t, pkt, n), 1);
		check_data(&t->ev[0], &F6R, 3000, pl, 5 + CS_TAIL_BYTES);
	}
}

/* A lone 7-byte warning alert in an Ethernet-padded frame starts the
 * direction (the 6-byte read: padding is not payload); the flight in the
 * next segment is walked from just after it. */
static void test_alert_start_lone_record(void **state)
{
	struct t *t = *state;
	struct cs_flow_state st;
	struct frame_opts o = { .pad = 20 };
	size_t l, n;

	l = tls_rec(pl, 22, 1, 200);
	n = frame(pkt, &F4, 100, pl, l, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	memcpy(pl, "\x15\x03\x03\x00\x02\x01\x70", 7);
	n = frame(pkt, &F4R, 7000, pl, 7, &o);
	assert_int_equal(run(t, pkt, n), 1);
	check_data(&t->ev[0], &F4R, 7000, pl, 7);
	assert_true(flow_state(t, &F4R, &st));
	assert_int_equal(st.next_rec, 7007);
	l = tls_rec(pl, 22, 2, 90);
	l += tls_rec(pl + l, 20, 0, 6);
	l += tls_rec(pl + l, 23, 0, 100);
	n = frame(pkt, &F4R, 7007, pl, l, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	check_data(&t->ev[0], &F4R, 7007, pl, 90 + 6 + 5 + CS_TAIL_BYTES);
}

/* Without a tracked reverse direction an alert is just a record. */
static void test_alert_start_untracked(void **state)
{
	struct t *t = *state;
	struct cs_flow_state st;
	size_t l, n;

	memcpy(pl, "\x15\x03\x03\x00\x02\x01\x70", 7);
	l = 7 + tls_rec(pl + 7, 22, 2, 90);
	n = frame(pkt, &F4R, 7000, pl, l, NULL);
	assert_int_equal(run(t, pkt, n), 0);
	assert_false(flow_state(t, &F4R, &st));
	n = frame(pkt, &F4R, 7000, pl, 7, NULL);
	assert_int_equal(run(t, pkt, n), 0);
	assert_int_equal(counter(t, CS_C_FLOWS), 0);
}

/* The CCS header split 2 + 3 over two segments (and the Done header 1 + 4
 * before it): kept, completed, the walk goes on to the Finished after the
 * CCS and stops there all the same. */
static void test_split_header_walk(void **state)
{
	struct t *t = *state;
	struct cs_flow_state st;
	size_t l = 0, n, a, b;

	l += tls_rec(pl + l, 22, 2, 100);
	l += tls_rec(pl + l, 22, 11, 1000);
	a = l + 1; /* 1 byte of the Done header */
	l += tls_rec(pl + l, 22, 14, 9);
	b = l + 2; /* 2 bytes of the CCS header */
	l += tls_rec(pl + l, 20, 0, 6);
	l += tls_rec(pl + l, 22, 20, 45);
	n = frame(pkt, &F4, 10, pl, a, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	assert_true(flow_state(t, &F4, &st));
	assert_int_equal(st.part_len, 1);
	assert_int_equal(st.part, (uint32_t)pl[a - 1] << 24);
	assert_int_equal(st.next_rec, 10 + a - 1);
	n = frame(pkt, &F4, 10 + a, pl + a, b - a, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	assert_true(flow_state(t, &F4, &st));
	assert_int_equal(st.part_len, 2);
	assert_int_equal(st.next_rec, 10 + b - 2);
	assert_int_equal(st.walking, 1);
	n = frame(pkt, &F4, 10 + b, pl + b, l - b, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	check_data(&t->ev[0], &F4, 10 + b, pl + b, 3 + 1 + 5 + CS_TAIL_BYTES);
	assert_true(flow_state(t, &F4, &st));
	assert_int_equal(st.walking, 0);
	assert_int_equal(st.part_len, 0);
	assert_int_equal(st.limit, b - 2 + 6 + 5 + CS_TAIL_BYTES);
	assert_int_equal(st.done, 1);
}

/* A 1-byte segment extends a kept part (1 + 1 + 3). */
static void test_split_header_tiny_segments(void **state)
{
	struct t *t = *state;
	struct cs_flow_state st;
	size_t l = 0, n, a;

	l += tls_rec(pl + l, 22, 2, 100);
	a = l;
	l += tls_rec(pl + l, 20, 0, 6);
	l += tls_rec(pl + l, 23, 0, 60);
	n = frame(pkt, &F4, 0, pl, a + 1, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	n = frame(pkt, &F4, a + 1, pl + a + 1, 1, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	assert_true(flow_state(t, &F4, &st));
	assert_int_equal(st.part_len, 2);
	assert_int_equal(st.part, (uint32_t)pl[a] << 24 | (uint32_t)pl[a + 1] << 16);
	n = frame(pkt, &F4, a + 2, pl + a + 2, l - a - 2, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	check_data(&t->ev[0], &F4, a + 2, pl + a + 2, 3 + 1 + 5 + CS_TAIL_BYTES);
}

/* A ClientHello whose first 5 bytes (its whole record header) come alone:
 * tracked from them, both segments copied, the walk goes past the CCS. */
static void test_short_first_segment_5(void **state)
{
	struct t *t = *state;
	struct cs_flow_state st;
	size_t l = 0, n;

	l += tls_rec(pl + l, 22, 1, 517);
	l += tls_rec(pl + l, 20, 0, 6);
	l += tls_rec(pl + l, 23, 0, 60);
	n = frame(pkt, &F4, 100, pl, 5, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	check_data(&t->ev[0], &F4, 100, pl, 5);
	assert_true(flow_state(t, &F4, &st));
	assert_int_equal(st.isn, 100);
	assert_int_equal(st.next_rec, 100 + 517);
	assert_int_equal(st.part_len, 0);
	assert_int_equal(st.walking, 1);
	assert_int_equal(counter(t, CS_C_FLOWS), 1);
	n = frame(pkt, &F4, 105, pl + 5, l - 5, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	check_data(&t->ev[0], &F4, 105, pl + 5, 517 - 5 + 6 + 5 + CS_TAIL_BYTES);
	assert_true(flow_state(t, &F4, &st));
	assert_int_equal(st.walking, 0);
	assert_int_equal(st.limit, 517 + 6 + 5 + CS_TAIL_BYTES);
}

/* A lone 16 byte first, then the rest: the kept byte and the next segment
 * make the record header (rule 6). */
static void test_short_first_segment_1(void **state)
{
	struct t *t = *state;
	struct cs_flow_state st;
	size_t l = 0, n;

	l += tls_rec(pl + l, 22, 1, 300);
	l += tls_rec(pl + l, 20, 0, 6);
	l += tls_rec(pl + l, 23, 0, 60);
	n = frame(pkt, &F6, 7000, pl, 1, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	check_data(&t->ev[0], &F6, 7000, pl, 1);
	assert_true(flow_state(t, &F6, &st));
	assert_int_equal(st.isn, 7000);
	assert_int_equal(st.next_rec, 7000);
	assert_int_equal(st.part_len, 1);
	assert_int_equal(st.part, 0x16u << 24);
	n = frame(pkt, &F6, 7001, pl + 1, l - 1, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	check_data(&t->ev[0], &F6, 7001, pl + 1, 300 - 1 + 6 + 5 + CS_TAIL_BYTES);
	assert_true(flow_state(t, &F6, &st));
	assert_int_equal(st.walking, 0);
	assert_int_equal(st.part_len, 0);
	assert_int_equal(st.limit, 300 + 6 + 5 + CS_TAIL_BYTES);
}

/* Short first segments that are no prefix of a hello's record header. */
static void test_short_first_segment_not_tls(void **state)
{
	struct t *t = *state;
	struct cs_flow_state st;
	static const struct {
		const char *b;
		size_t n;
	} c[] = {
		{ "GET", 3 },	       { "\x17\x03\x03", 3 },	      { "\x16\x04", 2 },
		{ "\x16\x03\x05", 3 }, { "\x16\x03\x05\x00\x10", 5 },
	};
	size_t i, n;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		n = frame(pkt, &F4, 1000, c[i].b, c[i].n, NULL);
		assert_int_equal(run(t, pkt, n), 0);
		assert_false(flow_state(t, &F4, &st));
	}
	/* A FIN with no payload starts nothing either. */
	n = frame(pkt, &F4, 1003, NULL, 0, &(struct frame_opts){ .flags = 0x11 });
	assert_int_equal(run(t, pkt, n), 0);
	assert_false(flow_state(t, &F4, &st));
	assert_int_equal(counter(t, CS_C_FLOWS), 0);
}

/* Only the server's flights wake the reader (one wakeup per handshake); the
 * client's records, closes and what follows the handshake wait for them. */
static void test_wakeups(void **state)
{
	static const struct frame_opts nopsh = { .flags = CS_TCP_ACK };
	static const struct frame_opts fin = { .flags = CS_TCP_FIN | CS_TCP_ACK };
	struct t *t = *state;
	size_t l, n;

	l = tls_rec(pl, 22, 1, 300); /* ClientHello, PSH */
	n = frame(pkt, &F4, 1000, pl, l, NULL);
	assert_false(run_woke(t, pkt, n, 1));
	l = tls_rec(pl, 22, 2, 90); /* ServerHello + Certificate */
	l += tls_rec(pl + l, 22, 11, 1200);
	n = frame(pkt, &F4R, 5000, pl, 700, &nopsh); /* mid-write */
	assert_false(run_woke(t, pkt, n, 1));
	n = frame(pkt, &F4R, 5700, pl + 700, l - 700, NULL);
	assert_true(run_woke(t, pkt, n, 1));
	l = tls_rec(pl, 22, 16, 70); /* client: CKE + CCS */
	l += tls_rec(pl + l, 20, 0, 6);
	n = frame(pkt, &F4, 1300, pl, l, NULL);
	assert_false(run_woke(t, pkt, n, 1));
	l = tls_rec(pl, 20, 0, 6); /* server: CCS + Finished */
	l += tls_rec(pl + l, 22, 20, 50);
	n = frame(pkt, &F4R, 5000 + 1290, pl, l, NULL);
	assert_false(run_woke(t, pkt, n, 1));
	n = frame(pkt, &F4, 1376, NULL, 0, &fin); /* CLOSE */
	assert_false(run_woke(t, pkt, n, 1));
	/* TLS 1.3: ServerHello, then CCS and encrypted records in one write */
	l = tls_rec(pl, 22, 2, 122);
	l += tls_rec(pl + l, 20, 0, 6);
	l += tls_rec(pl + l, 23, 0, 900);
	n = frame(pkt, &F6, 77, pl, l, NULL);
	assert_true(run_woke(t, pkt, n, 1));
	/* SSLv2 SERVER-HELLO: not walked, every write of it may matter */
	filler(pl, 400, 9);
	memcpy(pl, "\x81\x8e\x04\x00\x01\x00\x02\x01\x80\x00\x03", 11);
	n = frame(pkt, &F4R, 90000, pl, 400, NULL);
	assert_true(run_woke(t, pkt, n, 1));
}

/* A reader that is not blocked (busy with earlier records: it takes these
 * before it blocks again) costs no wakeup, the server's flight included;
 * one that blocks is woken once, by the first record that may wake it. */
static void test_wakeup_only_waiting(void **state)
{
	struct t *t = *state;
	size_t l, n;

	l = tls_rec(pl, 22, 1, 300); /* ClientHello */
	n = frame(pkt, &F4, 1000, pl, l, NULL);
	assert_false(run_woke(t, pkt, n, 1));
	assert_int_equal(t->skel->bss->reader_waiting, 1); /* still blocked */
	l = tls_rec(pl, 22, 2, 90);			   /* ServerHello, PSH */
	n = frame(pkt, &F4R, 5000, pl, l, NULL);
	assert_false(run_woke_w(t, pkt, n, 1, false));
	assert_int_equal(t->skel->bss->reader_waiting, 0);
	l = tls_rec(pl, 22, 11, 1200); /* Certificate, PSH: the reader blocks */
	n = frame(pkt, &F4R, 5090, pl, l, NULL);
	assert_true(run_woke(t, pkt, n, 1));
	l = tls_rec(pl, 22, 14, 9); /* ServerHelloDone: woken already */
	n = frame(pkt, &F4R, 5090 + 1200, pl, l, NULL);
	assert_false(run_woke_w(t, pkt, n, 1, false));
}

/*
 * HelloRetryRequest: the server's HRR + CCS, then (a round trip later) its
 * ServerHello; the client's first hello, then CCS + its second. The walk
 * waits after each CCS (WIRE_WALK_CCS) and goes on at the hello; the
 * server's packets wake the reader as its flight does.
 */
static void test_hello_retry(void **state)
{
	struct t *t = *state;
	struct cs_flow_state st;
	size_t l, n;

	l = tls_rec(pl, 22, 1, 300);
	n = frame(pkt, &F4, 1000, pl, l, NULL);
	assert_false(run_woke(t, pkt, n, 1));
	l = tls_rec(pl, 22, 2, 100); /* HRR */
	l += tls_rec(pl + l, 20, 0, 6);
	n = frame(pkt, &F4R, 7000, pl, l, NULL);
	assert_true(run_woke(t, pkt, n, 1));
	assert_true(flow_state(t, &F4R, &st));
	assert_int_equal(st.walking, WIRE_WALK_CCS);
	assert_int_equal(st.next_rec, 7106);
	assert_int_equal(st.limit, CS_MAX_BYTES_DEFAULT);
	l = tls_rec(pl, 20, 0, 6); /* client: CCS + second hello */
	l += tls_rec(pl + l, 22, 1, 320);
	n = frame(pkt, &F4, 1300, pl, l, NULL);
	assert_false(run_woke(t, pkt, n, 1));
	check_data(&t->ev[0], &F4, 1300, pl, l);
	assert_true(flow_state(t, &F4, &st));
	assert_int_equal(st.walking, WIRE_WALK_CLEAR);
	assert_int_equal(st.next_rec, 1626);
	l = tls_rec(pl, 22, 2, 122); /* ServerHello + encrypted */
	l += tls_rec(pl + l, 23, 0, 900);
	n = frame(pkt, &F4R, 7106, pl, l, NULL);
	assert_true(run_woke(t, pkt, n, 1));
	assert_int_equal(t->ev[0].ev.len, 122 + 5 + CS_TAIL_BYTES);
	assert_true(flow_state(t, &F4R, &st));
	assert_int_equal(st.walking, WIRE_WALK_OFF);
	assert_int_equal(st.limit, 106 + 122 + 5 + CS_TAIL_BYTES);
	assert_int_equal(st.enc, 0);
}

/* After a CCS, a handshake record whose handshake header is split 2 + 2:
 * kept (the unit is 4 bytes there), completed, it is a hello: go on. */
static void test_hello_after_ccs_split(void **state)
{
	struct t *t = *state;
	struct cs_flow_state st;
	size_t l = 0, n, a;

	l += tls_rec(pl + l, 22, 2, 100);
	l += tls_rec(pl + l, 20, 0, 6);
	a = l + 5 + 2;
	l += tls_rec(pl + l, 22, 2, 122);
	l += tls_rec(pl + l, 23, 0, 300);
	n = frame(pkt, &F4R, 0, pl, a, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	assert_true(flow_state(t, &F4R, &st));
	assert_int_equal(st.walking, WIRE_WALK_HELLO);
	assert_int_equal(st.body, 122 - 5);
	assert_int_equal(st.next_rec, 106 + 5);
	assert_int_equal(st.part_len, 2);
	assert_int_equal(st.part, 0x02000000u); /* type 2, length's first byte 0 */
	n = frame(pkt, &F4R, a, pl + a, l - a, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	check_data(&t->ev[0], &F4R, a, pl + a, 106 + 122 + 5 + CS_TAIL_BYTES - a);
	assert_true(flow_state(t, &F4R, &st));
	assert_int_equal(st.walking, WIRE_WALK_OFF);
	assert_int_equal(st.part_len, 0);
}

/* TLS 1.2's encrypted Finished after the CCS, its first byte 01 by chance:
 * a handshake length that does not fit the record makes it no hello. */
static void test_finished_not_hello(void **state)
{
	uint8_t sh[90];
	struct t *t = *state;
	struct cs_flow_state st;
	size_t l = 0, n;

	tls_rec(sh, 22, 2, sizeof(sh));
	l += tls_rec(pl + l, 20, 0, 6);
	l += tls_rec(pl + l, 22, 1, 45);
	l += tls_rec(pl + l, 23, 0, 100);
	pl[6 + 6] = 0x7f; /* handshake length 0x7f0024 */
	n = frame(pkt, &F4R, 410, sh, sizeof(sh), NULL);
	assert_int_equal(run(t, pkt, n), 1);
	n = frame(pkt, &F4R, 500, pl, l, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	check_data(&t->ev[0], &F4R, 500, pl, 6 + 5 + CS_TAIL_BYTES);
	assert_true(flow_state(t, &F4R, &st));
	assert_int_equal(st.limit, 90 + 6 + 5 + CS_TAIL_BYTES);
	/* the same bytes with a length that fits are a hello: the walk goes on */
	pl[6 + 6] = 0;
	n = frame(pkt, &F6, 410, sh, sizeof(sh), NULL);
	assert_int_equal(run(t, pkt, n), 1);
	n = frame(pkt, &F6, 500, pl, l, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	check_data(&t->ev[0], &F6, 500, pl, 6 + 45 + 5 + CS_TAIL_BYTES);
}

/* The client's ClientHello (F4, seq 1000, 517 bytes): copied, and it never
 * wakes the reader. The server's answer starts at 77, the client's next
 * bytes at 1517. */
static void client_hello_1000(struct t *t)
{
	size_t n = frame(pkt, &F4, 1000, pl, tls_rec(pl, 22, 1, 517), NULL);

	assert_false(run_woke(t, pkt, n, 1));
}
/*
 * copy_encrypted: the server's flight after its ServerHello is copied whole,
 * CS_ENC_SERVER_RECS records, each packet waking the reader like the clear
 * flight; the walk stops at the record after the last (its header +
 * CS_TAIL_BYTES). The client takes CS_ENC_CLIENT_RECS and does not wake it
 * (its Finished: an accepted outcome, written only with --every).
 */
static void test_copy_encrypted(void **state)
{
	static const uint16_t flight[] = { 28, 1087, 100, 74 };
	struct t *t = *state;
	struct cs_flow_state st;
	size_t l, n;
	uint32_t seq;

	client_hello_1000(t);
	l = tls_rec(pl, 22, 2, 122);
	l += tls_rec(pl + l, 20, 0, 6);
	for (int i = 0; i < 4; i++)
		l += tls_rec(pl + l, 23, 0, flight[i]);
	n = frame(pkt, &F4R, 77, pl, l, NULL);
	assert_true(run_woke(t, pkt, n, 1));
	assert_int_equal(t->ev[0].ev.len, l);
	assert_true(flow_state(t, &F4R, &st));
	assert_int_equal(st.walking, WIRE_WALK_ENCRYPTED);
	assert_int_equal(st.enc, 4);
	assert_int_equal(st.limit, CS_MAX_BYTES_DEFAULT);
	seq = 77 + l;
	/* the client: its Finished whole, then the next record's header + 8 */
	l = tls_rec(pl, 20, 0, 6);
	l += tls_rec(pl + l, 23, 0, 74);
	l += tls_rec(pl + l, 23, 0, 120);
	n = frame(pkt, &F4, 1517, pl, l, NULL);
	assert_false(run_woke(t, pkt, n, 1));
	assert_int_equal(t->ev[0].ev.len, 6 + 74 + 5 + CS_TAIL_BYTES);
	assert_true(flow_state(t, &F4, &st));
	assert_int_equal(st.walking, WIRE_WALK_OFF);
	assert_int_equal(st.enc, CS_ENC_CLIENT_RECS);
	/* the server's 5th to 8th, then the 9th stops it */
	l = 0;
	for (int i = 0; i < 4; i++)
		l += tls_rec(pl + l, 23, 0, 200);
	n = frame(pkt, &F4R, seq, pl, l, NULL);
	assert_true(run_woke(t, pkt, n, 1));
	assert_int_equal(t->ev[0].ev.len, l);
	assert_true(flow_state(t, &F4R, &st));
	assert_int_equal(st.enc, CS_ENC_SERVER_RECS);
	seq += l;
	l = tls_rec(pl, 23, 0, 300);
	n = frame(pkt, &F4R, seq, pl, l, NULL);
	assert_false(run_woke(t, pkt, n, 1));
	check_data(&t->ev[0], &F4R, seq, pl, 5 + CS_TAIL_BYTES);
	assert_true(flow_state(t, &F4R, &st));
	assert_int_equal(st.walking, WIRE_WALK_OFF);
	assert_int_equal(st.done, 1);
	assert_int_equal(counter(t, CS_C_CAPPED), 0);
}

/*
 * A TLS 1.3 flight whose ServerHello goes out without PSH and whose pushed
 * packet holds only encrypted records (not copied): the packet where the
 * walk stops at the first encrypted record wakes the reader, or the hidden
 * chain's source would wait for the poll timeout. A TLS 1.2 CCS + Finished
 * (the walk stops at a handshake record) still does not.
 */
static void test_wake_tls13_flight_end(void **state)
{
	static const struct frame_opts nopsh = { .flags = CS_TCP_ACK };
	struct t *t = *state;
	struct cs_flow_state st;
	size_t l, n;

	client_hello_1000(t);
	l = tls_rec(pl, 22, 2, 122);
	l += tls_rec(pl + l, 20, 0, 6);
	n = frame(pkt, &F4R, 77, pl, l, &nopsh);
	assert_false(run_woke(t, pkt, n, 1));
	l = tls_rec(pl, 23, 0, 28);
	l += tls_rec(pl + l, 23, 0, 1087);
	n = frame(pkt, &F4R, 77 + 122 + 6, pl, l, &nopsh);
	assert_true(run_woke(t, pkt, n, 1));
	assert_int_equal(t->ev[0].ev.len, 5 + CS_TAIL_BYTES);
	assert_true(flow_state(t, &F4R, &st));
	assert_int_equal(st.walking, WIRE_WALK_OFF);
}

static void test_wake_tls12_finished(void **state)
{
	struct t *t = *state;
	size_t l, n;

	client_hello_1000(t);
	l = tls_rec(pl, 22, 2, 90);
	l += tls_rec(pl + l, 22, 14, 9);
	n = frame(pkt, &F4R, 77, pl, l, NULL);
	assert_true(run_woke(t, pkt, n, 1));
	l = tls_rec(pl, 20, 0, 6);
	l += tls_rec(pl + l, 22, 0, 40);
	n = frame(pkt, &F4R, 77 + 90 + 9, pl, l, NULL);
	assert_false(run_woke(t, pkt, n, 1));
}

/* A client refusing the certificate with an alert in the clear wakes the
 * reader, though the client's records otherwise never do. */
static void test_wake_client_alert(void **state)
{
	struct t *t = *state;
	size_t l, n;

	client_hello_1000(t);
	l = tls_rec(pl, 22, 2, 90);
	l += tls_rec(pl + l, 22, 11, 900);
	l += tls_rec(pl + l, 22, 14, 9);
	n = frame(pkt, &F4R, 77, pl, l, NULL);
	assert_true(run_woke(t, pkt, n, 1));
	l = tls_rec(pl, 21, 0, 7);
	pl[5] = 2;  /* fatal */
	pl[6] = 42; /* bad_certificate */
	n = frame(pkt, &F4, 1517, pl, l, NULL);
	assert_true(run_woke(t, pkt, n, 1));
}

/* ---- a TLS 1.3 client's outcome wakes the reader ---- */

/* ClientHello at 1000 (client_hello_1000), then the server's TLS 1.3
 * flight at 77: ServerHello, CCS, encrypted records not copied. */
static void tls13_flight(struct t *t)
{
	size_t l, n;

	client_hello_1000(t);
	l = tls_rec(pl, 22, 2, 122);
	l += tls_rec(pl + l, 20, 0, 6);
	l += tls_rec(pl + l, 23, 0, 1400);
	n = frame(pkt, &F4R, 77, pl, l, NULL);
	assert_true(run_woke(t, pkt, n, 1));
}

/* The client's CCS and first encrypted record (rec: its length, header
 * included) at 1517 on f, the sequence number right after its hello; *l:
 * the payload's length. Returns the frame's. */
static size_t client_first_record(const struct flow *f, uint32_t rec, size_t *l)
{
	*l = tls_rec(pl, 20, 0, 6);
	*l += tls_rec(pl + *l, 23, 0, rec);
	return frame(pkt, f, 1517, pl, *l, NULL);
}

/*
 * The client's CCS + encrypted Finished decides its outcome (accepted, by
 * the record's size). It is no alert: the write does not wake the reader,
 * not even with --every, where it is a line (it waits for the next wakeup
 * or the poll timeout). Once: the walk has stopped, and the close decides
 * nothing.
 */
static void test_wake_tls13_client_finished(void **state)
{
	static const struct frame_opts fin = { .flags = CS_TCP_FIN | CS_TCP_ACK };
	struct t *t = *state;
	struct cs_flow_state st;
	size_t l, n;

	tls13_flight(t);
	n = client_first_record(&F4, 5 + 53, &l); /* OUTCOME_FINISHED_MIN */
	assert_false(run_woke(t, pkt, n, 1));
	assert_int_equal(t->ev[0].ev.len, 6 + 5 + CS_TAIL_BYTES);
	assert_true(flow_state(t, &F4, &st));
	assert_int_equal(st.outcome_close, 0);
	l = tls_rec(pl, 23, 0, 200); /* GET: past the walk's stop, not copied */
	n = frame(pkt, &F4, 1517 + 6 + 5 + 53, pl, l, NULL);
	assert_false(run_woke(t, pkt, n, 0));
	n = frame(pkt, &F4, 1517 + 6 + 5 + 53 + l, NULL, 0, &fin);
	assert_false(run_woke(t, pkt, n, 1));
}

/*
 * A refusal, by default: the client's alert-sized encrypted record, then
 * its FIN right after it, which is what decides the
 * outcome (aborted): the FIN's CLOSE wakes the reader though it has no
 * PSH. Likewise an RST; the server's own close does not.
 */
static void test_wake_tls13_client_refusal(void **state)
{
	static const struct frame_opts fin = { .flags = CS_TCP_FIN | CS_TCP_ACK };
	static const struct frame_opts rst = { .flags = CS_TCP_RST | CS_TCP_ACK };
	struct t *t = *state;
	struct cs_flow_state st;
	size_t l, n;

	tls13_flight(t);
	n = client_first_record(&F4, 5 + WIRE_TLS13_ALERT_LEN, &l);
	assert_true(run_woke(t, pkt, n, 1));
	assert_true(flow_state(t, &F4, &st));
	assert_int_equal(st.outcome_close, 1);
	n = frame(pkt, &F4R, 77 + 122 + 6 + 1400, NULL, 0, &fin); /* the server's */
	assert_false(run_woke(t, pkt, n, 1));
	n = frame(pkt, &F4, 1517 + l, NULL, 0, &fin);
	assert_true(run_woke(t, pkt, n, 1));
	assert_int_equal(t->ev[0].ev.type, CS_EV_CLOSE);
	assert_false(flow_state(t, &F4, &st));
	/* the same refusal on F6, ended by a reset */
	n = frame(pkt, &F6, 1000, pl, tls_rec(pl, 22, 1, 517), NULL);
	assert_false(run_woke(t, pkt, n, 1));
	n = client_first_record(&F6, 5 + WIRE_TLS13_ALERT_LEN, &l);
	assert_true(run_woke(t, pkt, n, 1));
	n = frame(pkt, &F6, 1517 + l, NULL, 0, &rst);
	assert_true(run_woke(t, pkt, n, 1));
}

/* With a key source the client's first encrypted record is taken whole: an
 * alert-sized one still makes its close wake the reader (the record may not
 * decrypt: no secret yet), a reader that is not blocked is not woken. */
static void test_wake_tls13_client_refusal_copied(void **state)
{
	static const struct frame_opts fin = { .flags = CS_TCP_FIN | CS_TCP_ACK };
	struct t *t = *state;
	struct cs_flow_state st;
	size_t l, n;

	client_hello_1000(t);
	n = client_first_record(&F4, 5 + WIRE_TLS13_ALERT_LEN, &l);
	assert_false(run_woke_w(t, pkt, n, 1, false));
	assert_int_equal(t->ev[0].ev.len, l);
	assert_true(flow_state(t, &F4, &st));
	assert_int_equal(st.enc, CS_ENC_CLIENT_RECS);
	assert_int_equal(st.outcome_close, 1);
	n = frame(pkt, &F4, 1517 + l, NULL, 0, &fin);
	assert_true(run_woke(t, pkt, n, 1));
}

/* copy_encrypted under --max-bytes 600: the flight is cut at the cap. */
static void test_copy_encrypted_cap(void **state)
{
	struct t *t = *state;
	struct cs_flow_state st;
	size_t l, n;

	l = tls_rec(pl, 22, 1, 300);
	n = frame(pkt, &F4, 1000, pl, l, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	l = tls_rec(pl, 22, 2, 122);
	l += tls_rec(pl + l, 20, 0, 6);
	l += tls_rec(pl + l, 23, 0, 28);
	l += tls_rec(pl + l, 23, 0, 1087);
	n = frame(pkt, &F4R, 77, pl, l, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	check_data(&t->ev[0], &F4R, 77, pl, 600);
	assert_true(flow_state(t, &F4R, &st));
	assert_int_equal(st.done, 1);
	assert_int_equal(counter(t, CS_C_CAPPED), 1);
}

/* Without a key source (the default) the same flight stops at its first
 * encrypted record: header + CS_TAIL_BYTES. */
static void test_copy_encrypted_off(void **state)
{
	struct t *t = *state;
	struct cs_flow_state st;
	size_t l, n;

	l = tls_rec(pl, 22, 2, 122);
	l += tls_rec(pl + l, 20, 0, 6);
	l += tls_rec(pl + l, 23, 0, 28);
	l += tls_rec(pl + l, 23, 0, 1087);
	n = frame(pkt, &F4R, 77, pl, l, NULL);
	assert_true(run_woke(t, pkt, n, 1));
	assert_int_equal(t->ev[0].ev.len, 122 + 6 + 5 + CS_TAIL_BYTES);
	assert_true(flow_state(t, &F4R, &st));
	assert_int_equal(st.enc, 0);
	assert_int_equal(st.walking, WIRE_WALK_OFF);
}

/* The hint bucket of key k. */
static struct cs_hint bucket_of(struct t *t, const struct cs_flow_key *k)
{
	__u32 idx = cs_hint_bucket(cs_flow_hint(TEST_SEED, k));
	struct cs_hint h;

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.hints), &idx, &h), 0);
	return h;
}

/* F4 and n - 1 flows from other sources to F4's server that land in F4's
 * hint bucket (fl[0] is F4); returns the bucket. */
static __u32 bucket_mates(struct flow *fl, char (*src)[INET_ADDRSTRLEN], struct cs_flow_key *k,
			  int n)
{
	__u32 want;
	int found = 1;

	fl[0] = F4;
	key_of(&k[0], &F4);
	want = cs_hint_bucket(cs_flow_hint(TEST_SEED, &k[0]));
	for (uint32_t a = 1; a < (1u << 24) && found < n; a++) {
		uint32_t ip = htonl(0x0b000000 | a);

		fl[found] = F4;
		inet_ntop(AF_INET, &ip, src[found], INET_ADDRSTRLEN);
		fl[found].src = src[found];
		key_of(&k[found], &fl[found]);
		if (cs_hint_bucket(cs_flow_hint(TEST_SEED, &k[found])) == want)
			found++;
	}
	assert_int_equal(found, n);
	return want;
}

/*
 * Directions that share a hint bucket: each still has every segment copied
 * while the others come and go (the bucket's count and tag sum are what a
 * packet goes by), and a saturated bucket turns sticky, always looked up.
 */
static void test_hint_bucket_shared(void **state)
{
	struct t *t = *state;
	struct flow fl[3];
	char src[3][INET_ADDRSTRLEN];
	struct cs_flow_key k[3];
	struct frame_opts fin = { .flags = CS_TCP_FIN | CS_TCP_ACK };
	struct cs_hint h;
	__u32 want = bucket_mates(fl, src, k, 3);
	size_t l, n;

	/* all three tracked: count 3 */
	for (int i = 0; i < 3; i++) {
		l = tls_rec(pl, 22, 1, 300);
		n = frame(pkt, &fl[i], 1000, pl, l, NULL);
		assert_int_equal(run(t, pkt, n), 1);
	}
	h = bucket_of(t, &k[0]);
	assert_int_equal(h.v >> CS_HINT_COUNT_SHIFT, 3);
	/* the first two end; the third's next segment is still copied */
	for (int i = 0; i < 2; i++) {
		n = frame(pkt, &fl[i], 1300, NULL, 0, &fin);
		assert_int_equal(run(t, pkt, n), 1); /* CLOSE */
	}
	h = bucket_of(t, &k[2]);
	assert_true(h.v == cs_hint_part(cs_flow_hint(TEST_SEED, &k[2])));
	filler(pl, 400, 5);
	n = frame(pkt, &fl[2], 1300, pl, 400, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	/* the first, untracked now, goes by the tag: not copied */
	n = frame(pkt, &fl[0], 1300, pl, 400, NULL);
	assert_int_equal(run(t, pkt, n), 0);
	n = frame(pkt, &fl[2], 1700, NULL, 0, &fin);
	assert_int_equal(run(t, pkt, n), 1);
	h = bucket_of(t, &k[2]);
	assert_int_equal(h.v, 0);
	/* saturated: the next flow turns the bucket sticky and is still tracked */
	{
		__u32 idx = want;
		struct cs_hint sat = { .v = (__u64)CS_HINT_SATURATED << CS_HINT_COUNT_SHIFT };

		assert_int_equal(
			bpf_map_update_elem(bpf_map__fd(t->skel->maps.hints), &idx, &sat, 0), 0);
	}
	l = tls_rec(pl, 22, 1, 300);
	n = frame(pkt, &fl[1], 5000, pl, l, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	h = bucket_of(t, &k[1]);
	assert_int_equal(h.sticky, 1);
	filler(pl, 400, 6);
	n = frame(pkt, &fl[1], 5300, pl, 400, NULL);
	assert_int_equal(run(t, pkt, n), 1);
	n = frame(pkt, &fl[1], 5700, NULL, 0, &fin);
	assert_int_equal(run(t, pkt, n), 1);
	h = bucket_of(t, &k[1]);
	assert_int_equal(h.sticky, 1); /* for good */
	assert_int_equal(h.v, (__u64)CS_HINT_SATURATED << CS_HINT_COUNT_SHIFT);
}

/* ---- the continuation rule (cs_wire.h, wire_tcp_continues) ---- */

static const struct frame_opts NOPSH = { .flags = CS_TCP_ACK };

/* An untracked direction's segment of n filler bytes at seq, sent with o. */
static void untracked_bytes(struct t *t, const struct flow *f, uint32_t seq, size_t n,
			    const struct frame_opts *o)
{
	filler(pl, n, 7);
	n = frame(pkt, f, seq, pl, n, o);
	assert_int_equal(run(t, pkt, n), 0);
}

/* A ClientHello at seq: how many records it made (1: it started F). */
static int hello_at(struct t *t, const struct flow *f, uint32_t seq, const struct frame_opts *o)
{
	size_t l = tls_rec(pl, 22, 1, 300), n = frame(pkt, f, seq, pl, l, o);

	return run(t, pkt, n);
}

/* The bytes right after a segment without PSH cannot start a direction:
 * not even a hello (with or without PSH), nor an alert answering a tracked
 * one, nor an SSLv2 hello; each such segment is counted, and one without
 * PSH moves the mark on. */
static void test_continuation_not_started(void **state)
{
	struct t *t = *state;
	struct cs_flow_state st;
	size_t n;

	untracked_bytes(t, &F4, 1000, 1400, &NOPSH);
	assert_int_equal(counter(t, CS_C_CONTINUED), 0);
	assert_int_equal(hello_at(t, &F4, 2400, NULL), 0);
	assert_false(flow_state(t, &F4, &st));
	assert_int_equal(counter(t, CS_C_CONTINUED), 1);
	/* that one had PSH: the mark stays, its retransmission is not either */
	assert_int_equal(hello_at(t, &F4, 2400, NULL), 0);
	untracked_bytes(t, &F4, 2400, 1400, &NOPSH);
	assert_int_equal(hello_at(t, &F4, 3800, &NOPSH), 0);
	assert_int_equal(counter(t, CS_C_CONTINUED), 4);
	/* an SSLv2 hello, and a fatal alert while the reverse is tracked */
	untracked_bytes(t, &F4, 4100, 100, &NOPSH);
	memcpy(pl, "\x80\x2e\x01\x00\x02\x00\x15\x00\x00\x00\x10", 11);
	filler(pl + 11, 37, 3);
	n = frame(pkt, &F4, 4200, pl, 48, NULL);
	assert_int_equal(run(t, pkt, n), 0);
	assert_int_equal(hello_at(t, &F4R, 77, NULL), 1);
	untracked_bytes(t, &F4, 4248, 20, &NOPSH);
	n = frame(pkt, &F4, 4268, "\x15\x03\x01\x00\x02\x02\x28", 7, NULL);
	assert_int_equal(run(t, pkt, n), 0);
	assert_false(flow_state(t, &F4, &st));
	assert_int_equal(counter(t, CS_C_FLOWS), 1);
	assert_int_equal(counter(t, CS_C_CONTINUED), 7);
}

/* The same hello after a segment with PSH, at another seq, after a pure
 * ACK, or in the reverse direction starts as always. */
static void test_continuation_other_starts(void **state)
{
	struct t *t = *state;

	untracked_bytes(t, &F4, 1000, 1400, NULL);
	assert_int_equal(hello_at(t, &F4, 2400, &NOPSH), 1);
	untracked_bytes(t, &F6, 1000, 1400, &NOPSH);
	assert_int_equal(hello_at(t, &F6R, 2400, NULL), 1);
	assert_int_equal(hello_at(t, &F6, 2401, NULL), 1);
	/* a pure ACK leaves no mark */
	assert_int_equal(run(t, pkt, frame(pkt, &F4R, 2400, NULL, 0, &NOPSH)), 0);
	assert_int_equal(hello_at(t, &F4R, 2400, NULL), 1);
	assert_int_equal(counter(t, CS_C_CONTINUED), 0);
	assert_int_equal(counter(t, CS_C_FLOWS), 4);
}

/* Past a tracked direction's window (its walk stopped), the segments of a
 * write are not looked at for a new connection either: a hello that
 * continues one does not restart it, one far away does. */
static void test_continuation_past_window(void **state)
{
	struct t *t = *state;
	struct cs_flow_state st;
	size_t l = tls_rec(pl, 22, 1, 300);

	l += tls_rec(pl + l, 20, 1, 6);
	l += tls_rec(pl + l, 23, 0, 60);
	assert_int_equal(run(t, pkt, frame(pkt, &F4, 1000, pl, l, NULL)), 1);
	assert_int_equal(t->ev[0].ev.len, 306 + 5 + CS_TAIL_BYTES);
	untracked_bytes(t, &F4, 1366, 1400, &NOPSH);
	assert_int_equal(counter(t, CS_C_CONTINUED), 0);
	assert_int_equal(hello_at(t, &F4, 2766, NULL), 0);
	assert_int_equal(counter(t, CS_C_CONTINUED), 1);
	assert_true(flow_state(t, &F4, &st));
	assert_int_equal(st.isn, 1000);
	assert_int_equal(hello_at(t, &F4, 0x80000000u, NULL), 1);
	assert_true(flow_state(t, &F4, &st));
	assert_int_equal(st.isn, 0x80000000u);
}

/* The mark of the bucket of key k. */
static __u32 mark_of(struct t *t, const struct cs_flow_key *k)
{
	return bucket_of(t, k).cont;
}

/* Another flow of the bucket never matches the mark; a tracked one leaves it
 * alone, an untracked one overwrites it: the segment that would have
 * continued is then looked at. */
static void test_continuation_bucket_mate(void **state)
{
	struct t *t = *state;
	struct flow fl[3];
	char src[3][INET_ADDRSTRLEN];
	struct cs_flow_key k[3];
	__u32 m0;

	bucket_mates(fl, src, k, 3);
	m0 = cs_flow_hint(TEST_SEED, &k[0]);
	untracked_bytes(t, &fl[0], 1000, 1400, &NOPSH);
	assert_int_equal(mark_of(t, &k[0]), 2400 ^ m0);
	assert_int_equal(hello_at(t, &fl[1], 2400, NULL), 1);
	untracked_bytes(t, &fl[0], 5000, 1400, &NOPSH);
	filler(pl, 200, 4);
	assert_int_equal(run(t, pkt, frame(pkt, &fl[1], 2700, pl, 200, &NOPSH)), 1);
	assert_int_equal(mark_of(t, &k[0]), 6400 ^ m0);
	untracked_bytes(t, &fl[2], 100, 10, &NOPSH);
	assert_int_equal(mark_of(t, &k[0]), 110 ^ cs_flow_hint(TEST_SEED, &k[2]));
	assert_int_equal(hello_at(t, &fl[0], 6400, NULL), 1);
	assert_int_equal(counter(t, CS_C_CONTINUED), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_ipv4_not_tls),
		T(test_ipv4_client_hello),
		T(test_ipv6_ext_server_hello),
		T(test_ipv6_fragment_ignored),
		T(test_udp_ignored),
		T(test_pure_ack_ignored),
		T(test_tracked_next_segment),
		T(test_record_walk_stops),
		T(test_record_walk_across_segments),
		T(test_fin_close),
		T(test_fin_before_last_data),
		T(test_rst_with_data_close),
		cmocka_unit_test_setup_teardown(test_cap, setup_cap100, teardown),
		T(test_eth_padding_not_copied),
		T(test_big_tcp_tot_len_zero),
		T(test_vlan_tag),
		T(test_out_of_order),
		T(test_userspace_done),
		T(test_port_reuse_restarts),
		T(test_dtls_client_hello),
		T(test_dtls_stun_multiplexed),
		T(test_udp_not_dtls_ignored),
		T(test_dtls_stop),
		cmocka_unit_test_setup_teardown(test_dtls_cap_and_done, setup_cap100, teardown),
		T(test_ssl2_client_hello),
		T(test_alert_start_tracked_reverse),
		T(test_alert_start_untracked),
		T(test_alert_start_lone_record),
		T(test_split_header_walk),
		T(test_split_header_tiny_segments),
		T(test_short_first_segment_5),
		T(test_short_first_segment_1),
		T(test_short_first_segment_not_tls),
		T(test_wakeups),
		T(test_wakeup_only_waiting),
		T(test_hello_retry),
		T(test_hello_after_ccs_split),
		T(test_finished_not_hello),
		T(test_copy_encrypted_off),
		T(test_wake_tls13_flight_end),
		T(test_wake_tls12_finished),
		T(test_wake_client_alert),
		cmocka_unit_test_setup_teardown(test_copy_encrypted, setup_copy, teardown),
		cmocka_unit_test_setup_teardown(test_copy_encrypted_cap, setup_copy_cap600,
						teardown),
		T(test_hint_bucket_shared),
		T(test_continuation_not_started),
		T(test_continuation_other_starts),
		T(test_continuation_bucket_mate),
		T(test_continuation_past_window),
		/* a TLS 1.3 client's outcome wakes the reader */
		T(test_wake_tls13_client_finished),
		T(test_wake_tls13_client_refusal),
		cmocka_unit_test_setup_teardown(test_wake_tls13_client_refusal_copied, setup_copy,
						teardown),
	};
	return PROG_RUN_MAIN("bpf_prog_test_run", tests);
}
