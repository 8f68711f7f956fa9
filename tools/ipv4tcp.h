/* ipv4tcp.h - one IPv4/TCP packet with correct checksums, for the tools that write captures. */
#ifndef CS_TOOLS_IPV4TCP_H
#define CS_TOOLS_IPV4TCP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "inet_csum.h"

/* Addresses, ports and numbers in host order. */
struct ipv4tcp {
	uint32_t saddr, daddr, seq, ack;
	uint16_t sport, dport, ip_id, window;
	uint8_t flags;
};

static inline void ipv4tcp_put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void ipv4tcp_put32(uint8_t *p, uint32_t v)
{
	ipv4tcp_put16(p, v >> 16);
	ipv4tcp_put16(p + 2, v);
}

/* IPv4 (DF, TTL 64, no options) and TCP (no options) headers, then the n
 * bytes of pay, at pkt (room for 40 + n): returns 40 + n. */
static inline size_t ipv4tcp_build(uint8_t *pkt, const struct ipv4tcp *h, const uint8_t *pay,
				   size_t n)
{
	uint8_t *ip = pkt, *th = pkt + 20, ph[12];

	memset(pkt, 0, 40);
	ip[0] = 0x45;
	ipv4tcp_put16(ip + 2, (uint32_t)(40 + n));
	ipv4tcp_put16(ip + 4, h->ip_id);
	ip[6] = 0x40; /* DF */
	ip[8] = 64;
	ip[9] = 6;
	ipv4tcp_put32(ip + 12, h->saddr);
	ipv4tcp_put32(ip + 16, h->daddr);
	ipv4tcp_put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
	ipv4tcp_put16(th, h->sport);
	ipv4tcp_put16(th + 2, h->dport);
	ipv4tcp_put32(th + 4, h->seq);
	ipv4tcp_put32(th + 8, h->ack);
	th[12] = 5 << 4;
	th[13] = h->flags;
	ipv4tcp_put16(th + 14, h->window);
	if (n) /* pay may be NULL then (a SYN): memcpy must not see it */
		memcpy(th + 20, pay, n);
	memcpy(ph, ip + 12, 8);
	ph[8] = 0;
	ph[9] = 6;
	ipv4tcp_put16(ph + 10, (uint32_t)(20 + n));
	ipv4tcp_put16(th + 16, csum_fold(csum_add(csum_add(0, ph, 12), th, 20 + n)));
	return 40 + n;
}

#endif
