/* report.h - what the flow stage hands to the output stage for one handshake. */
#ifndef CS_REPORT_H
#define CS_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include "cert.h"
#include "tls.h"

enum report_action {
	REPORT_CERTIFICATE,		/* "tls-certificate": chain seen in the clear */
	REPORT_CERTIFICATE_HIDDEN,	/* "tls-certificate-hidden": TLS 1.3 */
};

struct report_endpoint {
	uint8_t family;			/* enum cs_family */
	uint8_t addr[16];		/* network order */
	uint16_t port;
};

struct cs_report {
	enum report_action action;
	uint64_t ts_ns;			/* capture time of the completing segment, epoch ns */
	uint64_t mono_ns;		/* its CLOCK_MONOTONIC time, 0 offline */
	struct report_endpoint client, server;
	uint32_t ifindex;		/* 0 offline */
	uint8_t hook;			/* enum cs_hook of the completing segment */
	const char *ifname;		/* may be NULL */
	uint16_t version;		/* negotiated, 0 if no ServerHello seen */
	uint16_t cipher;
	bool have_server_hello;
	bool has_sni;
	char sni[TLS_SNI_MAX + 1];
	char alpn_offered[TLS_ALPN_MAX + 1];
	char alpn[TLS_ALPN_MAX + 1];	/* selected */
	uint32_t chain_len;		/* entries in chain[] */
	uint32_t chain_total;		/* certificates in the message */
	struct cert_facts *chain[TLS_CHAIN_MAX];	/* leaf first */
};

#endif
