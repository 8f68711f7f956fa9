/* flowgen.c - a raw-IP capture of N TLS connections, each stopped mid-handshake (the memory benchmark). */
/*
 *   flowgen [-n FLOWS] [-c CERT_BYTES] [-p PARTIAL_BYTES] OUT.pcap
 *
 * Writes a LINKTYPE_RAW pcap (tools/tunreplay writes it into a TUN device) with
 * two IPv4 TCP segments per connection, in this order:
 *
 *   1. client -> server: one TLS record holding a ClientHello with SNI
 *      f<i>.mem.test (about 90 bytes of payload);
 *   2. server -> client: a ServerHello record, then the first PARTIAL_BYTES
 *      (default 1000) of a Certificate record whose handshake message declares
 *      CERT_BYTES (default 1800) bytes: a list of two certificates of filler,
 *      about (CERT_BYTES - 9) / 2 bytes each with their 3-byte lengths, the
 *      first one of 256 (by i % 256, as many connections share a server's
 *      chain). With the defaults the first is whole and 87 bytes of the
 *      second follow. The rest of the message never comes.
 *
 * So both directions of every connection start being tracked by the kernel
 * (hello at a record start) and userspace holds, per connection, what a
 * parser keeps of PARTIAL_BYTES of an unfinished Certificate message: the
 * state a busy edge has while handshakes are in flight. Connection i is 10.64.0.0+i : 1024+(i%60000)
 * -> 10.200.0.1:443 (distinct 5-tuples for up to 4 million connections).
 * Sequence numbers, IP and TCP checksums are correct.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../ipv4tcp.h"
#include "../pcapfile.h"

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static void put24(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 16);
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)v;
}

/* IPv4 + TCP (20 + 20 bytes, PSH ACK) around payload; returns the packet length. */
static size_t mkpkt(uint8_t *pkt, uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport,
		    uint32_t seq, uint32_t ack, const uint8_t *pay, size_t n)
{
	const struct ipv4tcp h = { .saddr = saddr,
				   .daddr = daddr,
				   .seq = seq,
				   .ack = ack,
				   .sport = sport,
				   .dport = dport,
				   .window = 64240,
				   .flags = 0x18 };

	return ipv4tcp_build(pkt, &h, pay, n);
}

static size_t client_hello(uint8_t *b, uint32_t i)
{
	char sni[64];
	size_t sl = (size_t)snprintf(sni, sizeof(sni), "f%u.mem.test", i), n = 0, body, ext;

	b[n++] = 22;
	b[n++] = 3;
	b[n++] = 1;
	n += 2; /* record, length later */
	b[n++] = 1;
	n += 3; /* ClientHello, length later */
	body = n;
	b[n++] = 3;
	b[n++] = 3;
	for (int k = 0; k < 32; k++)
		b[n++] = (uint8_t)(i * 31 + k);
	b[n++] = 0; /* session id */
	put16(b + n, 4);
	n += 2;
	put16(b + n, 0xc02b);
	n += 2;
	put16(b + n, 0xc02f);
	n += 2;
	b[n++] = 1;
	b[n++] = 0; /* compression: null */
	ext = n;
	n += 2;
	put16(b + n, 0);
	n += 2; /* server_name */
	put16(b + n, (uint32_t)(sl + 5));
	n += 2;
	put16(b + n, (uint32_t)(sl + 3));
	n += 2;
	b[n++] = 0;
	put16(b + n, (uint32_t)sl);
	n += 2;
	memcpy(b + n, sni, sl);
	n += sl;
	put16(b + ext, (uint32_t)(n - ext - 2));
	put24(b + body - 3, (uint32_t)(n - body));
	put16(b + 3, (uint32_t)(n - 5));
	return n;
}

/* ServerHello record, then the first `partial` bytes of a Certificate record. */
static size_t server_flight(uint8_t *b, uint32_t i, uint32_t cert_bytes, uint32_t partial)
{
	size_t n = 0, body, rec;
	uint32_t each = (cert_bytes - 3 - 6) / 2, k;

	b[n++] = 22;
	b[n++] = 3;
	b[n++] = 3;
	n += 2;
	b[n++] = 2;
	n += 3;
	body = n;
	b[n++] = 3;
	b[n++] = 3;
	for (int j = 0; j < 32; j++)
		b[n++] = (uint8_t)(i * 17 + j);
	b[n++] = 0;
	put16(b + n, 0xc02b);
	n += 2;
	b[n++] = 0;
	put16(b + n, 0);
	n += 2; /* no extensions */
	put24(b + body - 3, (uint32_t)(n - body));
	put16(b + 3, (uint32_t)(n - 5));
	/* Certificate: record header, message header, list, two "certificates",
	 * each its 3-byte length and filler that starts like DER. */
	rec = n;
	b[n++] = 22;
	b[n++] = 3;
	b[n++] = 3;
	put16(b + n, 4 + cert_bytes);
	n += 2;
	b[n++] = 11;
	put24(b + n, cert_bytes);
	n += 3;
	put24(b + n, cert_bytes - 3);
	n += 3;
	for (int c = 0; c < 2 && n - rec < partial; c++) {
		uint32_t len = c ? cert_bytes - 9 - each : each;

		put24(b + n, len);
		n += 3;
		b[n++] = 0x30;
		b[n++] = 0x82; /* looks like DER; never complete */
		for (k = 2; k < len && n - rec < partial; k++)
			b[n++] = (uint8_t)(k * 7 + i + c);
	}
	return n;
}

int main(int argc, char **argv)
{
	uint32_t flows = 100000, cert_bytes = 1800, partial = 1000;
	uint8_t pay[4096], pkt[4200];
	char err[PCAP_ERRBUF_SIZE + 256];
	struct pcapw w;
	uint64_t ts;
	size_t len;
	int c;

	while ((c = getopt(argc, argv, "n:c:p:h")) != -1) {
		switch (c) {
		case 'n':
			flows = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'c':
			cert_bytes = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'p':
			partial = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		default:
			goto usage;
		}
	}
	if (optind + 1 != argc || !flows || flows > 4000000 || cert_bytes < 64 ||
	    cert_bytes > 3000 || partial < 16 || partial + 64 >= cert_bytes || partial > 1300)
		goto usage;
	if (pcapw_open(&w, argv[optind], DLT_RAW, 65535, false, err, sizeof(err))) {
		fprintf(stderr, "flowgen: %s\n", err);
		return 1;
	}
	for (uint32_t i = 0; i < flows; i++) {
		uint32_t cli = 0x0a400000u + i, srv = 0x0ac80001u;
		uint16_t cport = (uint16_t)(1024 + i % 60000);
		uint32_t cseq = 1000 + i, sseq = 7000000 + i;
		size_t n;

		/* 100,000 connections a second, both segments at once */
		ts = (1700000000ull + i / 100000) * 1000000000ull + (i % 100000) * 10000ull;
		n = client_hello(pay, i);
		len = mkpkt(pkt, cli, srv, cport, 443, cseq, sseq, pay, n);
		pcapw_put(&w, ts, pkt, (uint32_t)len, (uint32_t)len);
		cseq += (uint32_t)n;
		n = server_flight(pay, i, cert_bytes, partial);
		len = mkpkt(pkt, srv, cli, 443, cport, sseq, cseq, pay, n);
		pcapw_put(&w, ts, pkt, (uint32_t)len, (uint32_t)len);
	}
	if (pcapw_close(&w)) {
		fprintf(stderr, "flowgen: %s: write error\n", argv[optind]);
		return 1;
	}
	printf("flowgen: %s flows=%u packets=%u cert_bytes=%u partial=%u\n", argv[optind], flows,
	       2 * flows, cert_bytes, partial);
	return 0;
usage:
	fprintf(stderr,
		"usage: flowgen [-n FLOWS] [-c CERT_BYTES (64-3000)] [-p PARTIAL_BYTES (16-1300)] OUT.pcap\n");
	return 2;
}
