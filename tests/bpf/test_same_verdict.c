/* test_same_verdict.c - the same frames through the BPF program and through the offline selection (select.c) must select the same bytes. */
#include <pcap/dlt.h>

#include "prog_run.h"
#include "tls_records.h"
#include "cs_wire.h"
#include "encports.h"
#include "select.h"

/*
 * Each scenario is a list of frames, run through the real TC program
 * (BPF_PROG_TEST_RUN) and through sel_parse + sel_packet, each side fresh.
 * After every frame both sides must agree on the ring records it produced
 * (which bytes at which sequence number, with which TCP flags; which
 * closes), on the directions started, tracked now and capped, and on the
 * bytes copied. want[i] is how many records frame i makes, and a step's
 * copied how many bytes its data record holds: the rules as select.h
 * states them, so both sides cannot drift together either.
 *
 * One difference is known and left out: a FIN processed before data below
 * it (another CPU) keeps the kernel's entry until that data is in; select.c
 * forgets the direction at the FIN (rule 7), so in a capture data that
 * follows its FIN is not selected.
 */

static const struct flow F4 = { 4, "10.0.0.1", "10.0.0.2", 40000, 443 };
static const struct flow F4R = { 4, "10.0.0.2", "10.0.0.1", 443, 40000 };
static const struct flow F6 = { 6, "2001:db8::1", "2001:db8::2", 40001, 8443 };
static const struct flow F6R = { 6, "2001:db8::2", "2001:db8::1", 8443, 40001 };

#define FIN	  (CS_TCP_FIN | CS_TCP_ACK)
#define RST	  (CS_TCP_RST | CS_TCP_ACK)
#define NOPSH	  CS_TCP_ACK
#define RECS_MAX  12
#define STEPS_MAX 12
#define MANY	  40 /* handshake records in one packet: past CS_WALK_MAX */

/* A record: TLS (tls_rec) or, in a UDP step, DTLS (dtls_rec). len is the
 * whole record, header included; type 0 ends the list. */
struct rec {
	uint8_t type;
	uint8_t hs; /* handshake message type of a handshake record */
	uint16_t len;
	uint8_t epoch; /* DTLS */
	bool lie;      /* a handshake length that does not fit the record */
};

#define HS(t, n)                                            \
	{                                                   \
		.type = TLS_CT_HANDSHAKE, .hs = t, .len = n \
	}
#define CT(c, n)                    \
	{                           \
		.type = c, .len = n \
	}
#define EPOCH1(c, n)                            \
	{                                       \
		.type = c, .len = n, .epoch = 1 \
	}
#define CH(n)	HS(TLS_HS_CLIENT_HELLO, n)
#define SH(n)	HS(TLS_HS_SERVER_HELLO, n)
#define CERT(n) HS(TLS_HS_CERTIFICATE, n)
#define DONE	HS(TLS_HS_SERVER_HELLO_DONE, 9)
#define CCS	CT(TLS_CT_CCS, 6)
#define APP(n)	CT(TLS_CT_APPDATA, n)
/* TLS 1.2's encrypted Finished whose first byte happens to be 01: no hello,
 * its "handshake length" does not fit. */
#define ENCFIN(n)                                                                          \
	{                                                                                  \
		.type = TLS_CT_HANDSHAKE, .hs = TLS_HS_CLIENT_HELLO, .len = n, .lie = true \
	}
#define RAW(s) .raw = s, .raw_len = sizeof(s) - 1
/* DTLS records have a 13-byte header, handshake messages a 12-byte one. */
#define DDONE HS(TLS_HS_SERVER_HELLO_DONE, 25)
#define DCCS  CT(TLS_CT_CCS, 14)

/* One frame: its payload is bytes [from, to) of raw, then the records,
 * then filler up to fill bytes in all. */
struct step {
	const struct flow *f;
	uint32_t seq;
	uint8_t flags; /* 0: ACK|PSH */
	bool udp;
	bool vlan;   /* an 802.1Q tag in the frame */
	uint8_t pad; /* Ethernet padding after the IP packet */
	bool done;   /* userspace is done with the direction first */
	const char *raw;
	uint16_t raw_len;
	struct rec rec[RECS_MAX];
	uint16_t fill;
	uint16_t from, to; /* to 0: to the end */
	bool many;	   /* MANY ServerHelloDone records, then a CCS */
	uint16_t copied;   /* the bytes its data record must hold (0: unchecked) */
};

struct scenario {
	const char *name;
	uint32_t max_bytes; /* 0: the default */
	const char *want;   /* records per frame, one digit each */
	struct step s[STEPS_MAX];
};

/* The first 11 bytes of ssl-v2.pcap's 48-byte CLIENT-HELLO: 46-byte record,
 * version 0.2, 21 bytes of cipher specs, no session id, 16-byte challenge. */
#define SSL2_CH "\x80\x2e\x01\x00\x02\x00\x15\x00\x00\x00\x10"
/* SERVER-HELLO: 948-byte record, no hit, X.509, version 0.2. */
#define SSL2_SH	    "\x83\xb4\x04\x00\x01\x00\x02\x03\x87\x00\x12"
#define ALERT_WARN  "\x15\x03\x03\x00\x02\x01\x70"
#define ALERT_FATAL "\x15\x03\x01\x00\x02\x02\x28"
/* STUN binding request (RFC 5389 magic cookie). */
#define STUN "\x00\x01\x00\x00\x21\x12\xa4\x42"

static const struct scenario scenarios[] = {
	/* ---- TCP starts (select.h rule 2) ---- */
	{ "client_hello", 0, "1", { { &F4, 1000, .rec = { CH(517) } } } },
	{ "server_flight_ipv6",
	  0,
	  "11",
	  { { &F6R, 7, .rec = { SH(90), CERT(1200), DONE } },
	    { &F6R, 7 + 1299, .rec = { CCS, HS(20, 45) } } } },
	{ "tls13_server_hello_ccs_appdata",
	  0,
	  "10",
	  { { &F4R, 77, .rec = { SH(122), CCS, APP(900) } },
	    { &F4R, 77 + 1028, .rec = { APP(300) } } } },
	{ "vlan_and_padding",
	  0,
	  "11",
	  { { &F6, 9, .vlan = true, .rec = { CH(250) } },
	    { &F4, 9, .pad = 20, RAW("\x16\x03\x01\x00\x02\x01") } } },
	{ "hello_header_alone_1",
	  0,
	  "11",
	  { { &F4, 1000, .rec = { CH(300), CCS, APP(60) }, .to = 1 },
	    { &F4, 1001, .rec = { CH(300), CCS, APP(60) }, .from = 1 } } },
	{ "hello_header_alone_2",
	  0,
	  "11",
	  { { &F4, 1000, .rec = { CH(300), CCS, APP(60) }, .to = 2 },
	    { &F4, 1002, .rec = { CH(300), CCS, APP(60) }, .from = 2 } } },
	{ "hello_header_alone_3",
	  0,
	  "11",
	  { { &F4, 1000, .rec = { CH(300), CCS, APP(60) }, .to = 3 },
	    { &F4, 1003, .rec = { CH(300), CCS, APP(60) }, .from = 3 } } },
	{ "hello_header_alone_4",
	  0,
	  "11",
	  { { &F6, 1000, .rec = { CH(300), CCS, APP(60) }, .to = 4 },
	    { &F6, 1004, .rec = { CH(300), CCS, APP(60) }, .from = 4 } } },
	{ "hello_header_alone_5",
	  0,
	  "11",
	  { { &F4, 1000, .rec = { CH(300), CCS, APP(60) }, .to = 5 },
	    { &F4, 1005, .rec = { CH(300), CCS, APP(60) }, .from = 5 } } },
	{ "short_payloads_not_tls",
	  0,
	  "0000000",
	  { { &F4, 1000, RAW("GET") },
	    { &F4, 1000, RAW("\x17\x03\x03") },
	    { &F4, 1000, RAW("\x16\x04") },
	    { &F4, 1000, RAW("\x16\x03\x05") },
	    { &F4, 1000, RAW("\x16\x03\x05\x00\x10") },
	    { &F4, 1000, RAW("\x15\x03\x03\x00\x02") },
	    { &F4, 1000, RAW("\x16\x03\x03\x00\x10\x0b") } } },
	{ "not_tls",
	  0,
	  "000",
	  { { &F4, 1000, RAW("GET / HTTP/1.1\r\nHost: example\r\n\r\n") },
	    { &F4R, 5000, RAW("\x17\x03\x03\x05\x00"), .fill = 1400 },
	    { &F6, 1, RAW("\x01\x02"), .fill = 1400 } } },
	{ "starttls",
	  0,
	  "001",
	  { { &F4R, 1, RAW("220 mail.example ESMTP\r\n") },
	    { &F4, 1, RAW("STARTTLS\r\n") },
	    { &F4, 11, .rec = { CH(300) } } } },
	{ "ssl2_client_hello",
	  0,
	  "11",
	  { { &F4, 500, RAW(SSL2_CH), .fill = 48 },
	    { &F4, 548, RAW("\x15\x15\x15\x15\x15\x15\x15\x15"), .fill = 300 } } },
	{ "ssl2_compatible_and_server_hello",
	  0,
	  "11",
	  { { &F4, 500, RAW("\x80\x2e\x01\x03\x01\x00\x15\x00\x00\x00\x10"), .fill = 48 },
	    { &F4R, 900, RAW(SSL2_SH), .fill = 950 } } },
	{ "ssl2_near_misses",
	  0,
	  "0000000000",
	  { { &F4, 500, RAW("\x80\x2e\x01\x00\x02\x00\x14\x00"), .fill = 48 }, /* 20 specs */
	    { &F4, 500, RAW("\x80\x2e\x01\x00\x02\x00\x00\x00"), .fill = 48 }, /* none */
	    { &F4, 500, RAW("\x80\x2e\x01\x03\x05\x00\x15\x00"), .fill = 48 }, /* 3.5 */
	    { &F4, 500, RAW("\x80\x2e\x01\x00\x02\x00\x15\x01"), .fill = 48 }, /* sid 256+ */
	    { &F4, 500, RAW("\x80\x10\x01\x00\x02\x00\x15\x00"), .fill = 48 }, /* too long */
	    { &F4, 500, RAW("\x83\xb4\x04\x00\x02\x00\x02"), .fill = 48 },     /* cert type */
	    { &F4, 500, RAW("\x83\xb4\x04\x00\x01\x03\x00"), .fill = 48 },     /* version */
	    { &F4, 500, RAW("\x83\xb4\x04\x02\x01\x00\x02"), .fill = 48 },     /* hit 2 */
	    { &F4, 500, RAW("\x80\x2e\x01\x00\x02\x00\x15") },		       /* 7 bytes */
	    { &F4, 500, RAW("\x00\x2e\x01\x00\x02\x00\x15\x00"), .fill = 48 } } },
	{ "alert_warning_after_tracked_hello",
	  0,
	  "11",
	  { { &F4, 100, .rec = { CH(200) } },
	    { &F4R, 7000, RAW(ALERT_WARN), .rec = { SH(90), CERT(900), CCS, HS(20, 45) } } } },
	{ "alert_fatal_after_tracked_hello",
	  0,
	  "11",
	  { { &F6, 100, .rec = { CH(200) } }, { &F6R, 3000, RAW(ALERT_FATAL), .fill = 100 } } },
	{ "alert_lone_record_then_flight",
	  0,
	  "111",
	  { { &F4, 100, .rec = { CH(200) } },
	    { &F4R, 7000, .pad = 20, RAW(ALERT_WARN) },
	    { &F4R, 7007, .rec = { SH(90), CCS, APP(100) } } } },
	{ "alert_untracked_reverse",
	  0,
	  "00",
	  { { &F4R, 7000, RAW(ALERT_WARN), .rec = { SH(90) } }, { &F4R, 7000, RAW(ALERT_WARN) } } },
	{ "alert_near_misses",
	  0,
	  "100000",
	  { { &F4, 100, .rec = { CH(200) } },
	    { &F4R, 7000, RAW("\x15\x03\x03\x00\x03\x01\x70\x00"), .fill = 40 },
	    { &F4R, 7000, RAW("\x15\x03\x03\x00\x02\x03\x28"), .fill = 40 },
	    { &F4R, 7000, RAW("\x15\x03\x05\x00\x02\x02\x28"), .fill = 40 },
	    { &F4R, 7000, RAW("\x15\x02\x00\x00\x02\x02\x28"), .fill = 40 },
	    { &F4R, 7000, RAW("\x15\x03\x03\x00\x02") } } },

	/* ---- record walks, cap, close, done (rules 3-9) ---- */
	{ "walk_across_segments",
	  0,
	  "111",
	  { { &F4R, 10, .rec = { SH(100), CERT(1000) }, .to = 600 },
	    { &F4R, 610, .rec = { SH(100), CERT(1000) }, .from = 600 },
	    { &F4R, 1110, .rec = { CCS, HS(20, 50) } } } },
	{ "walk_split_headers",
	  0,
	  "111",
	  { /* the Done header split 1 + 4, the CCS header 2 + 3 */
	    { &F4R, 10, .rec = { SH(100), CERT(1000), DONE, CCS, HS(20, 45) }, .to = 1101 },
	    { &F4R, 1111, .rec = { SH(100), CERT(1000), DONE, CCS, HS(20, 45) }, .from = 1101,
	      .to = 1111 },
	    { &F4R, 1121, .rec = { SH(100), CERT(1000), DONE, CCS, HS(20, 45) }, .from = 1111 } } },
	{ "walk_split_header_tiny_segments",
	  0,
	  "1111",
	  { { &F4R, 0, .rec = { SH(100), CCS, APP(60) }, .to = 101 },
	    { &F4R, 101, .rec = { SH(100), CCS, APP(60) }, .from = 101, .to = 102 },
	    { &F4R, 102, .rec = { SH(100), CCS, APP(60) }, .from = 102, .to = 104 },
	    { &F4R, 104, .rec = { SH(100), CCS, APP(60) }, .from = 104 } } },
	{ "walk_out_of_order_and_retransmitted",
	  0,
	  "11111",
	  { { &F4R, 0, .rec = { SH(100), CERT(2000), CCS }, .to = 100 },
	    { &F4R, 1100, .rec = { SH(100), CERT(2000), CCS }, .from = 1100 },
	    { &F4R, 100, .rec = { SH(100), CERT(2000), CCS }, .from = 100, .to = 1100 },
	    { &F4R, 100, .rec = { SH(100), CERT(2000), CCS }, .from = 100, .to = 1100 },
	    { &F4R, 0, .rec = { SH(100), CERT(2000), CCS }, .to = 100 } } },
	{ "walk_more_records_than_walked",
	  0,
	  "11",
	  { { &F4R, 0, .rec = { SH(100) }, .many = true },
	    { &F4R, 100 + MANY * 9 + 6, .rec = { APP(50) } } } },
	{ "walk_after_tail_nothing",
	  0,
	  "10",
	  { { &F4R, 0, .rec = { SH(95), CCS, APP(300) } },
	    { &F4R, 95 + 6 + 300, RAW("\x17\x03\x03\x01\xf4"), .fill = 500 } } },
	{ "cap_100",
	  100,
	  "1110",
	  { { &F4, 1000, .rec = { CH(80), CERT(500) }, .to = 80 },
	    { &F4, 1000, .rec = { CH(80), CERT(500) }, .to = 80 },
	    { &F4, 1080, .rec = { CH(80), CERT(500) }, .from = 80, .to = 140 },
	    { &F4, 1140, .rec = { CH(80), CERT(500) }, .from = 140, .to = 200 } } },
	{ "fin_and_rst",
	  0,
	  "11120",
	  { { &F4, 100, .rec = { CH(200) } },
	    { &F4, 300, .flags = FIN },
	    { &F6, 100, .rec = { CH(200) } },
	    { &F6, 300, .flags = RST, .rec = { HS(16, 30) } },
	    { &F4, 300, .flags = FIN } } },
	{ "fin_after_walk_stop",
	  0,
	  "11",
	  { { &F4R, 0, .rec = { SH(95), CCS, APP(40) } }, { &F4R, 95 + 6 + 40, .flags = FIN } } },
	{ "fin_on_last_data",
	  0,
	  "12",
	  { { &F4R, 0, .rec = { SH(100), CERT(700) }, .to = 400 },
	    { &F4R, 400, .flags = FIN, .rec = { SH(100), CERT(700) }, .from = 400 } } },
	{ "userspace_done_then_new_hello",
	  0,
	  "101",
	  { { &F4R, 0, .rec = { SH(100) } },
	    { &F4R, 100, .done = true, .rec = { CERT(700) } },
	    { &F4R, 0x40000000, .rec = { SH(100) } } } },
	{ "port_reuse_restarts",
	  0,
	  "11",
	  { { &F4, 0, .rec = { CH(100) } }, { &F4, 0x80000000u, .rec = { CH(100) } } } },
	{ "pure_ack_and_unflushed_write",
	  0,
	  "011",
	  { { &F4, 100, .flags = NOPSH },
	    { &F4, 100, .flags = NOPSH, .rec = { CH(200) } },
	    { &F4, 300, .flags = NOPSH, RAW("\x16\x03\x03\x00\x46\x10"), .fill = 75 } } },

	/* ---- the continuation rule (rule 2e) ---- */
	{ "continuation_not_started",
	  0,
	  "000000",
	  { { &F4, 1000, .flags = NOPSH, RAW("GET /"), .fill = 1400 },
	    { &F4, 2400, .rec = { CH(300) } },
	    { &F4, 2400, .rec = { CH(300) } },
	    { &F4, 2400, .flags = NOPSH, .fill = 1400 },
	    { &F4, 3800, .flags = NOPSH, RAW(SSL2_CH), .fill = 48 },
	    { &F4, 3848, .rec = { CH(300) } } } },
	{ "continuation_alert_not_started",
	  0,
	  "1001",
	  { { &F4, 1000, .rec = { CH(300) } },
	    { &F4R, 1, .flags = NOPSH, .fill = 100 },
	    { &F4R, 101, RAW(ALERT_FATAL) },
	    { &F4R, 108, RAW(ALERT_FATAL) } } },
	{ "continuation_past_window",
	  0,
	  "1001",
	  { { &F4, 1000, .rec = { CH(300), CCS, APP(60) }, .copied = 306 + 5 + CS_TAIL_BYTES },
	    { &F4, 1366, .flags = NOPSH, .fill = 1400 },
	    { &F4, 2766, .rec = { CH(300) } },
	    { &F4, 0x80000000u, .rec = { CH(300) } } } },
	{ "continuation_other_starts",
	  0,
	  "010101",
	  { { &F4, 1000, .fill = 1400 },
	    { &F4, 2400, .flags = NOPSH, .rec = { CH(300) } },
	    { &F6, 1000, .flags = NOPSH, .fill = 1400 },
	    { &F6R, 2400, .rec = { CH(300) } },
	    { &F6, 1000, .flags = NOPSH, .fill = 1400 },
	    { &F6, 2401, .rec = { CH(300) } } } },

	/* ---- the record after a ChangeCipherSpec (rule 5) ---- */
	{ "tls12_ccs_then_encrypted_finished",
	  0,
	  "111100",
	  { { &F4, 1000, .rec = { CH(300) }, .copied = 300 },
	    { &F4R, 5000, .rec = { SH(90), CERT(700), DONE }, .copied = 799 },
	    { &F4, 1300, .rec = { HS(16, 70), CCS, ENCFIN(45) }, .copied = 70 + 6 + 13 },
	    { &F4R, 5799, .rec = { CCS, ENCFIN(45) }, .copied = 6 + 13 },
	    { &F4R, 5799 + 51, .rec = { APP(100) } },
	    { &F4, 1300 + 121, .rec = { APP(100) } } } },
	{ "tls13_middlebox_ccs",
	  0,
	  "1110",
	  { { &F4, 1000, .rec = { CH(517) }, .copied = 517 },
	    { &F4R, 77, .rec = { SH(122), CCS, APP(900) }, .copied = 122 + 6 + 13 },
	    { &F4, 1517, .rec = { CCS, APP(74) }, .copied = 6 + 13 },
	    { &F4R, 77 + 1028, .rec = { APP(300) } } } },
	{ "tls13_without_ccs",
	  0,
	  "111",
	  { { &F6, 1, .rec = { CH(517) }, .copied = 517 },
	    { &F6R, 9, .rec = { SH(122), APP(900) }, .copied = 122 + 13 },
	    { &F6, 518, .rec = { APP(74) }, .copied = 13 } } },
	{ "hrr_ccs_then_second_hello_a_packet_later",
	  0,
	  "111110",
	  { { &F4, 1000, .rec = { CH(300) }, .copied = 300 },
	    { &F4R, 7000, .rec = { SH(100), CCS }, .copied = 106 },
	    { &F4, 1300, .rec = { CCS, CH(320) }, .copied = 326 },
	    { &F4R, 7106, .rec = { SH(122), APP(900) }, .copied = 122 + 13 },
	    { &F4, 1626, .rec = { APP(74) }, .copied = 13 },
	    { &F4R, 7106 + 1022, .rec = { APP(300) } } } },
	{ "hrr_client_ccs_alone",
	  0,
	  "11111",
	  { { &F4, 1000, .rec = { CH(300) }, .copied = 300 },
	    { &F4R, 7000, .rec = { SH(100), CCS }, .copied = 106 },
	    { &F4, 1300, .rec = { CCS }, .copied = 6 },
	    { &F4, 1306, .rec = { CH(320) }, .copied = 320 },
	    { &F4R, 7106, .rec = { SH(122), CCS, APP(900) }, .copied = 122 + 6 + 13 } } },
	{ "ccs_split_from_next_header",
	  0,
	  "11",
	  { { &F4R, 0, .rec = { SH(100), CCS, SH(122), APP(900) }, .to = 108, .copied = 108 },
	    { &F4R, 108, .rec = { SH(100), CCS, SH(122), APP(900) }, .from = 108,
	      .copied = 241 - 108 } } },
	{ "hello_handshake_header_split_after_ccs",
	  0,
	  "11",
	  { { &F4R, 0, .rec = { SH(100), CCS, SH(122), APP(900) }, .to = 113, .copied = 113 },
	    { &F4R, 113, .rec = { SH(100), CCS, SH(122), APP(900) }, .from = 113,
	      .copied = 241 - 113 } } },
	{ "ccs_and_hello_in_separate_packets",
	  0,
	  "11",
	  { { &F4R, 0, .rec = { SH(100), CCS, SH(122), APP(900) }, .to = 106, .copied = 106 },
	    { &F4R, 106, .rec = { SH(100), CCS, SH(122), APP(900) }, .from = 106,
	      .copied = 241 - 106 } } },
	{ "finished_handshake_header_split_after_ccs",
	  0,
	  "1110",
	  { { &F4R, 0, .rec = { SH(90), CCS, ENCFIN(45), APP(100) }, .to = 102, .copied = 102 },
	    { &F4R, 102, .rec = { SH(90), CCS, ENCFIN(45), APP(100) }, .from = 102, .to = 103,
	      .copied = 1 },
	    { &F4R, 103, .rec = { SH(90), CCS, ENCFIN(45), APP(100) }, .from = 103,
	      .copied = 109 - 103 },
	    { &F4R, 90 + 6 + 45, .rec = { APP(100) } } } },

	/* copy_server_flight_and_client_record's frames without copy_encrypted */
	{ "copy_off_tls13_flight",
	  0,
	  "111000",
	  { { &F4, 1000, .rec = { CH(517) }, .copied = 517 },
	    { &F4R, 77, .rec = { SH(122), CCS, APP(28), APP(1087), APP(100), APP(74) },
	      .copied = 122 + 6 + 13 },
	    { &F4, 1517, .rec = { CCS, APP(74), APP(120) }, .copied = 6 + 13 },
	    { &F4R, 77 + 1417, .rec = { APP(255), APP(255) } },
	    { &F4R, 77 + 1927, .rec = { APP(24), APP(24), APP(100) } },
	    { &F4R, 77 + 2075, .rec = { APP(50) } } } },

	/* ---- DTLS (rules 10-12) ---- */
	{ "dtls_handshake",
	  0,
	  "1111110",
	  { { &F4, 0, .udp = true, .rec = { CH(200) } },
	    { &F4R, 0, .udp = true, .rec = { HS(TLS_HS_HELLO_VERIFY_REQUEST, 60) } },
	    { &F4, 0, .udp = true, .rec = { CH(232) } },
	    { &F4R, 0, .udp = true, .rec = { SH(90), CERT(700), DDONE } },
	    { &F4, 0, .udp = true, .rec = { HS(16, 80), DCCS, EPOCH1(TLS_CT_HANDSHAKE, 61) } },
	    { &F4R, 0, .udp = true, .rec = { DCCS, EPOCH1(TLS_CT_HANDSHAKE, 61) } },
	    { &F4R, 0, .udp = true, .rec = { EPOCH1(TLS_CT_APPDATA, 300) } } } },
	{ "dtls_stop_and_new_hello",
	  0,
	  "11011",
	  { { &F6, 0, .udp = true, .rec = { CH(200) } },
	    { &F6, 0, .udp = true, .rec = { DCCS } },
	    { &F6, 0, .udp = true, .rec = { EPOCH1(TLS_CT_APPDATA, 300) } },
	    { &F6, 0, .udp = true, .rec = { CH(200) } },
	    { &F6, 0, .udp = true, .rec = { EPOCH1(TLS_CT_HANDSHAKE, 61) } } } },
	{ "dtls_not_a_start",
	  0,
	  "000000",
	  { { &F4, 0, .udp = true, .rec = { CERT(500) } },
	    { &F4, 0, .udp = true, .rec = { EPOCH1(TLS_CT_APPDATA, 500) } },
	    { &F4, 0, .udp = true, .rec = { CH(200) }, .to = 15 },
	    { &F4, 0, .udp = true, RAW("\x16\xfe\xfe\x00\x00\x00\x00\x00\x00\x00\x00\x00\x30\x01"),
	      .fill = 61 },
	    { &F4, 0, .udp = true, RAW(STUN), .fill = 20 },
	    { &F4, 0, .udp = true, RAW("\x01\x02\x03"), .fill = 1000 } } },
	{ "dtls_stun_multiplexed",
	  0,
	  "01001",
	  { { &F4, 0, .udp = true, RAW(STUN), .fill = 20 },
	    { &F4, 0, .udp = true, .rec = { CH(150) } },
	    { &F4, 0, .udp = true, RAW(STUN), .fill = 20 },
	    { &F4, 0, .udp = true, RAW("\x40\x00\x00\x10"), .fill = 20 },
	    { &F4, 0, .udp = true, .rec = { HS(16, 80) } } } },
	{ "dtls_cap_and_done",
	  100,
	  "11010",
	  { { &F4, 0, .udp = true, .rec = { CH(80) } },
	    { &F4, 0, .udp = true, .rec = { CERT(500) } },
	    { &F4, 0, .udp = true, .rec = { CERT(500) } },
	    { &F4R, 0, .udp = true, .rec = { SH(80) } },
	    { &F4R, 0, .udp = true, .done = true, .rec = { CERT(50) } } } },
};

/* The same with copy_encrypted (a key source is configured): TLS 1.3's
 * encrypted records are taken whole (rule 5). */
static const struct scenario copy_scenarios[] = {
	{ "copy_server_flight_and_client_record",
	  0,
	  "111110",
	  { { &F4, 1000, .rec = { CH(517) }, .copied = 517 },
	    { &F4R, 77, .rec = { SH(122), CCS, APP(28), APP(1087), APP(100), APP(74) },
	      .copied = 122 + 6 + 28 + 1087 + 100 + 74 },
	    { &F4, 1517, .rec = { CCS, APP(74), APP(120) }, .copied = 6 + 74 + 13 },
	    { &F4R, 77 + 1417, .rec = { APP(255), APP(255) }, .copied = 510 },
	    { &F4R, 77 + 1927, .rec = { APP(24), APP(24), APP(100) }, .copied = 24 + 24 + 13 },
	    { &F4R, 77 + 2075, .rec = { APP(50) } } } },
	{ "copy_records_across_packets_n_reached",
	  0,
	  "111111",
	  { { &F4, 1000, .rec = { CH(300) }, .copied = 300 },
	    { &F4R, 0,
	      .rec = { SH(122), CCS, APP(1200), APP(1200), APP(100), APP(100), APP(100), APP(100),
		       APP(100), APP(100), APP(100) },
	      .to = 700, .copied = 700 },
	    { &F4R, 700,
	      .rec = { SH(122), CCS, APP(1200), APP(1200), APP(100), APP(100), APP(100), APP(100),
		       APP(100), APP(100), APP(100) },
	      .from = 700, .to = 1500, .copied = 800 },
	    { &F4R, 1500,
	      .rec = { SH(122), CCS, APP(1200), APP(1200), APP(100), APP(100), APP(100), APP(100),
		       APP(100), APP(100), APP(100) },
	      .from = 1500, .to = 2530, .copied = 1030 },
	    { &F4R, 2530,
	      .rec = { SH(122), CCS, APP(1200), APP(1200), APP(100), APP(100), APP(100), APP(100),
		       APP(100), APP(100), APP(100) },
	      .from = 2530, .to = 3130, .copied = 600 },
	    { &F4R, 3130,
	      .rec = { SH(122), CCS, APP(1200), APP(1200), APP(100), APP(100), APP(100), APP(100),
		       APP(100), APP(100), APP(100) },
	      .from = 3130, .copied = 3128 + 13 - 3130 } } },
	{ "copy_max_bytes_mid_flight",
	  600,
	  "110",
	  { { &F4, 1000, .rec = { CH(300) }, .copied = 300 },
	    { &F4R, 77, .rec = { SH(122), CCS, APP(28), APP(1087) }, .copied = 600 },
	    { &F4R, 77 + 1243, .rec = { APP(100) } } } },
	{ "copy_client_alert_and_fin",
	  0,
	  "112",
	  { { &F4, 1000, .rec = { CH(300) }, .copied = 300 },
	    { &F4R, 77, .rec = { SH(122), CCS, APP(28), APP(500), APP(100), APP(74) },
	      .copied = 830 },
	    { &F4, 1300, .flags = FIN, .rec = { CCS, APP(24) }, .copied = 30 } } },
	{ "copy_userspace_done_mid_flight",
	  0,
	  "110",
	  { { &F4, 1000, .rec = { CH(300) }, .copied = 300 },
	    { &F4R, 77, .rec = { SH(122), CCS, APP(28), APP(500) }, .copied = 656 },
	    { &F4R, 77 + 656, .done = true, .rec = { APP(100) } } } },
};

/* --port in the kernel (rule 14): the same table, each with its ports. */
#define PORTS_MAX 3

struct port_scenario {
	uint16_t ports[PORTS_MAX + 1]; /* until a 0 */
	struct scenario sc;
};

static const struct port_scenario port_scenarios[] = {
	{ { 443 },
	  { "port_client_hello_to_it",
	    0,
	    "11",
	    { { &F4, 1000, .rec = { CH(300) } },
	      { &F4R, 77, .rec = { SH(90), CERT(600), DONE } } } } },
	{ { 8443, 4433 },
	  { "port_other_server_port",
	    0,
	    "000",
	    { { &F4, 1000, .rec = { CH(300) } },
	      { &F4R, 77, .rec = { SH(90), CERT(600), DONE } },
	      { &F4R, 77 + 717, RAW(ALERT_FATAL) } } } },
	{ { 80, 8443 },
	  { "port_second_of_several",
	    0,
	    "101",
	    { { &F6, 1000, .rec = { CH(300) } },
	      { &F4, 1000, .rec = { CH(300) } },
	      { &F6R, 77, .rec = { SH(90) } } } } },
	{ { 40000 },
	  { "port_client_side_never_counts",
	    0,
	    "00",
	    { { &F4, 1000, .rec = { CH(300) } },
	      { &F4R, 77, .rec = { SH(90), CERT(600), DONE } } } } },
	{ { 443 },
	  { "port_server_flight_alone",
	    0,
	    "11",
	    { { &F4R, 77, .rec = { SH(90), CERT(600), DONE } },
	      { &F4, 1000, RAW(ALERT_FATAL) } } } },
	{ { 443, 40001 },
	  { "port_ssl2_sides",
	    0,
	    "1100",
	    { { &F4, 500, RAW(SSL2_CH), .fill = 48 },
	      { &F4R, 900, RAW(SSL2_SH), .fill = 950 },
	      { &F6R, 900, RAW(SSL2_SH), .fill = 950 },
	      { &F6, 500, RAW(SSL2_CH), .fill = 48 } } } },
	{ { 40000 },
	  { "port_header_prefix_either_port",
	    0,
	    "11",
	    { { &F4, 1000, .rec = { CH(300), CCS, APP(60) }, .to = 3 },
	      { &F4, 1003, .rec = { CH(300), CCS, APP(60) }, .from = 3 } } } },
	{ { 443, 40001 },
	  { "port_dtls_sides",
	    0,
	    "1100",
	    { { &F4, 0, .udp = true, .rec = { CH(200) } },
	      { &F4R, 0, .udp = true, .rec = { HS(TLS_HS_HELLO_VERIFY_REQUEST, 60) } },
	      { &F6, 0, .udp = true, .rec = { CH(200) } },
	      { &F6R, 0, .udp = true, .rec = { SH(90) } } } } },
};

/* By port (CS_COPY_ENC_PORTS, the uprobe source's Go servers), with 443
 * listed: copy_scenarios again (their server port is 443), and these, whose
 * server port (8443) is not: as with copy_encrypted off. */
#define LISTED_PORT 443
static const struct scenario unlisted_scenarios[] = {
	{ "ports_unlisted_tls13_flight",
	  0,
	  "111000",
	  { { &F6, 1000, .rec = { CH(517) }, .copied = 517 },
	    { &F6R, 77, .rec = { SH(122), CCS, APP(28), APP(1087), APP(100), APP(74) },
	      .copied = 122 + 6 + 13 },
	    { &F6, 1517, .rec = { CCS, APP(74), APP(120) }, .copied = 6 + 13 },
	    { &F6R, 77 + 1417, .rec = { APP(255), APP(255) } },
	    { &F6R, 77 + 1927, .rec = { APP(24), APP(24), APP(100) } },
	    { &F6R, 77 + 2075, .rec = { APP(50) } } } },
	/* the listed port's flight next to it, on another connection */
	{ "ports_listed_beside_unlisted",
	  0,
	  "11111",
	  { { &F6, 1000, .rec = { CH(300) }, .copied = 300 },
	    { &F4, 1000, .rec = { CH(300) }, .copied = 300 },
	    { &F6R, 77, .rec = { SH(122), CCS, APP(28), APP(500) }, .copied = 122 + 6 + 13 },
	    { &F4R, 77, .rec = { SH(122), CCS, APP(28), APP(500) }, .copied = 656 },
	    { &F4R, 77 + 656, .rec = { APP(100) }, .copied = 100 } } },
};

#define N_SCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))
#define N_COPY	    (sizeof(copy_scenarios) / sizeof(copy_scenarios[0]))
#define N_PORT	    (sizeof(port_scenarios) / sizeof(port_scenarios[0]))
#define N_UNLISTED  (sizeof(unlisted_scenarios) / sizeof(unlisted_scenarios[0]))

static uint8_t frame_buf[FRAME_MAX];

/* The step's payload into out (FRAME_MAX bytes); returns its length. */
static size_t payload(const struct step *st, uint8_t *out)
{
	static uint8_t all[FRAME_MAX];
	size_t n = st->raw_len, to;

	if (st->raw_len) /* no raw bytes: raw is NULL, and memcpy's source may not be */
		memcpy(all, st->raw, st->raw_len);
	for (int i = 0; i < RECS_MAX && st->rec[i].type; i++) {
		const struct rec *r = &st->rec[i];

		if (st->udp) {
			n += dtls_rec(all + n, r->type, r->epoch, r->hs, r->len);
		} else {
			tls_rec(all + n, r->type, r->hs, r->len);
			if (r->lie)
				all[n + 6] = 0x7f;
			n += r->len;
		}
	}
	for (int i = 0; st->many && i < MANY; i++)
		n += tls_rec(all + n, TLS_CT_HANDSHAKE, TLS_HS_SERVER_HELLO_DONE, 9);
	if (st->many)
		n += tls_rec(all + n, TLS_CT_CCS, 0, 6);
	if (st->fill > n) {
		filler(all + n, st->fill - n, 3);
		n = st->fill;
	}
	to = st->to ? st->to : n;
	assert_true(n <= FRAME_MAX - 100 && st->from <= to && to <= n);
	memcpy(out, all + st->from, to - st->from);
	return to - st->from;
}

struct pair {
	const struct scenario *sc;
	struct t *t;
	struct sel *sel;
	struct encports ports;
};

static const uint16_t no_ports[1];

/* mode: enum cs_copy_enc, for both sides; ports: --port's, until a 0. */
static int setup_with(void **state, uint32_t mode, const uint16_t *ports)
{
	struct pair *x = calloc(1, sizeof(*x));
	__u16 port = LISTED_PORT;
	__u8 one = 1;
	void *t = NULL;

	if (!x)
		return -1;
	x->sc = *state;
	if (load_ports(&t, x->sc->max_bytes, mode, ports)) {
		free(x);
		return -1;
	}
	x->t = t;
	x->sel = sel_new(0, x->sc->max_bytes);
	if (!x->sel)
		return -1;
	sel_hint_seed(x->sel, TEST_SEED);
	sel_copy_encrypted(x->sel, mode != CS_COPY_ENC_NONE);
	for (; *ports; ports++)
		sel_port(x->sel, *ports);
	if (mode == CS_COPY_ENC_PORTS) {
		if (bpf_map_update_elem(bpf_map__fd(x->t->skel->maps.enc_ports), &port, &one,
					BPF_ANY) ||
		    !encports_add(&x->ports, port))
			return -1;
		sel_enc_ports(x->sel, &x->ports);
	}
	*state = x;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, CS_COPY_ENC_NONE, no_ports);
}

static int setup_copy(void **state)
{
	return setup_with(state, CS_COPY_ENC_ALL, no_ports);
}

static int setup_ports(void **state)
{
	const struct port_scenario *ps = *state;

	*state = (void *)&ps->sc;
	return setup_with(state, CS_COPY_ENC_NONE, ps->ports);
}

static int setup_enc_ports(void **state)
{
	return setup_with(state, CS_COPY_ENC_PORTS, no_ports);
}

static int teardown_pair(void **state)
{
	struct pair *x = *state;
	void *t = x->t;

	sel_free(x->sel);
	free(x);
	return teardown(&t);
}

/* Directions the kernel tracks now: entries of "flows". */
static uint32_t kernel_tracked(struct t *t)
{
	int fd = bpf_map__fd(t->skel->maps.flows);
	struct cs_flow_key k, next;
	uint32_t n = 0;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

#define SAME(what, kernel, sel)                                                                \
	do {                                                                                   \
		uint64_t k_ = (kernel), s_ = (sel);                                            \
                                                                                               \
		if (k_ != s_)                                                                  \
			fail_msg("%s, frame %d: %s: kernel %llu, select.c %llu", x->sc->name,  \
				 i + 1, what, (unsigned long long)k_, (unsigned long long)s_); \
	} while (0)

/* The record the kernel wrote against the verdict's data segment. */
static void same_data(const struct pair *x, int i, const struct got *g, const struct sel_pkt *p,
		      const struct sel_verdict *v)
{
	SAME("record type", g->ev.type, CS_EV_DATA);
	SAME("data seq", g->ev.seq, v->data_seq);
	SAME("data length", g->ev.len, v->data_len);
	SAME("data flags", g->ev.tcp_flags, v->data_flags);
	SAME("data key", memcmp(&g->ev.key, &p->key, sizeof(p->key)), 0);
	SAME("data bytes", memcmp(g->data, p->payload, v->data_len), 0);
}

static void same_close(const struct pair *x, int i, const struct got *g, const struct sel_pkt *p,
		       const struct sel_verdict *v)
{
	SAME("record type", g->ev.type, CS_EV_CLOSE);
	SAME("close seq", g->ev.seq, v->close_seq);
	SAME("close flags", g->ev.tcp_flags, v->close_flags);
	SAME("close key", memcmp(&g->ev.key, &p->key, sizeof(p->key)), 0);
}

static void run_step(struct pair *x, int i)
{
	const struct step *st = &x->sc->s[i];
	struct frame_opts o = {
		.flags = st->flags, .udp = st->udp, .vlan = st->vlan, .pad = st->pad
	};
	uint8_t pl[FRAME_MAX], one = 1;
	struct cs_flow_key key;
	struct sel_verdict v;
	struct sel_stats ss;
	struct sel_pkt p;
	size_t len = payload(st, pl), n;
	int got;

	n = frame(frame_buf, st->f, st->seq, pl, len, &o);
	if (st->done) {
		key_of_p(&key, st->f, st->udp ? IPPROTO_UDP : IPPROTO_TCP);
		assert_int_equal(bpf_map_update_elem(bpf_map__fd(x->t->skel->maps.done_flows), &key,
						     &one, BPF_ANY),
				 0);
		sel_done(x->sel, &key);
	}
	got = run(x->t, frame_buf, n);
	SAME("parse", sel_parse(DLT_EN10MB, frame_buf, n, n, &p), SEL_OK);
	sel_packet(x->sel, &p, &v);
	SAME("records", got, !!v.data_len + v.close);
	if (got != x->sc->want[i] - '0')
		fail_msg("%s, frame %d: %d records, the table says %c", x->sc->name, i + 1, got,
			 x->sc->want[i]);
	if (st->copied && v.data_len != st->copied)
		fail_msg("%s, frame %d: %u bytes copied, the table says %u", x->sc->name, i + 1,
			 v.data_len, st->copied);
	if (v.data_len)
		same_data(x, i, &x->t->ev[0], &p, &v);
	if (v.close)
		same_close(x, i, &x->t->ev[got - 1], &p, &v);
	sel_get_stats(x->sel, &ss);
	SAME("directions started", counter(x->t, CS_C_FLOWS), ss.flows);
	SAME("directions tracked", kernel_tracked(x->t), ss.active);
	SAME("directions capped", counter(x->t, CS_C_CAPPED), ss.capped);
	SAME("bytes copied", counter(x->t, CS_C_BYTES), ss.bytes);
}

static void test_same_verdict(void **state)
{
	struct pair *x = *state;
	int i;

	for (i = 0; i < STEPS_MAX && x->sc->s[i].f; i++)
		run_step(x, i);
	if ((size_t)i != strlen(x->sc->want))
		fail_msg("%s: %d frames, want has %zu digits", x->sc->name, i, strlen(x->sc->want));
}

int main(void)
{
	static char names[N_COPY][64];
	struct CMUnitTest tests[N_SCENARIOS + 2 * N_COPY + N_UNLISTED + N_PORT];
	size_t n = 0, i;

	for (i = 0; i < N_SCENARIOS; i++)
		tests[n++] = (struct CMUnitTest){ scenarios[i].name, test_same_verdict, setup,
						  teardown_pair, (void *)&scenarios[i] };
	for (i = 0; i < N_COPY; i++)
		tests[n++] = (struct CMUnitTest){ copy_scenarios[i].name, test_same_verdict,
						  setup_copy, teardown_pair,
						  (void *)&copy_scenarios[i] };
	for (i = 0; i < N_COPY; i++) {
		snprintf(names[i], sizeof(names[i]), "ports_listed_%s", copy_scenarios[i].name);
		tests[n++] = (struct CMUnitTest){ names[i], test_same_verdict, setup_enc_ports,
						  teardown_pair, (void *)&copy_scenarios[i] };
	}
	for (i = 0; i < N_UNLISTED; i++)
		tests[n++] = (struct CMUnitTest){ unlisted_scenarios[i].name, test_same_verdict,
						  setup_enc_ports, teardown_pair,
						  (void *)&unlisted_scenarios[i] };
	for (i = 0; i < N_PORT; i++)
		tests[n++] = (struct CMUnitTest){ port_scenarios[i].sc.name, test_same_verdict,
						  setup_ports, teardown_pair,
						  (void *)&port_scenarios[i] };
	return PROG_RUN_MAIN("same_verdict", tests);
}
