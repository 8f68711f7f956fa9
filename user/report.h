/* report.h - what the flow stage hands to the output stage for one handshake. */
#ifndef CS_REPORT_H
#define CS_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include "cert.h"
#include "events.h"
#include "ocsp.h"
#include "tls.h"

/* The handshake events: their event.action names are rows of events.def. */
enum report_action {
	REPORT_CERTIFICATE = EV_TLS_CERTIFICATE,		/* chain seen in the clear */
	REPORT_CERTIFICATE_HIDDEN = EV_TLS_CERTIFICATE_HIDDEN,	/* TLS 1.3 */
	REPORT_RESUMED = EV_TLS_SESSION_RESUMED,		/* abbreviated, no chain */
	REPORT_CLIENT_CERTIFICATE = EV_TLS_CLIENT_CERTIFICATE,	/* chain[] is the client's */
	REPORT_ALERT = EV_TLS_ALERT,				/* an alert record in the clear */
	REPORT_INCOMPLETE = EV_TLS_HANDSHAKE_INCOMPLETE,	/* bytes lost */
};

/* How a chain was seen: in the clear, decrypted with a key log's secret,
 * from the local server's uprobes, or fetched by our own handshake. */
enum report_source { SOURCE_WIRE, SOURCE_KEYLOG, SOURCE_UPROBE, SOURCE_CONFIRM };

struct verdict;			/* checks.h: filled after the flow stage */

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
	uint8_t transport;		/* IPPROTO_TCP or IPPROTO_UDP (DTLS) */
	uint8_t binding;		/* SOURCE_UPROBE: enum uprobe_binding (served.h) */
	int64_t check_time;		/* Unix s at which validity is judged */
	bool resumed;
	bool hello_retry;		/* TLS 1.3 HelloRetryRequest: the hello facts are the second's */
	enum report_source source;
	/* Stapled OCSP response (CertificateStatus), for the leaf. */
	bool have_ocsp;
	struct ocsp_facts ocsp;
	/* REPORT_ALERT: who sent what, and the server certificate it followed. */
	bool alert_from_client;
	uint8_t alert_level, alert_desc;
	char alert_cert_sha256[65];	/* "" if no certificate was seen before it */
	/* REPORT_INCOMPLETE: which direction lost what, and why. */
	const char *incomplete_reason;
	bool lost_from_client;
	uint64_t lost_bytes;		/* bytes held beyond the hole, discarded */
	bool chain_reported;		/* the chain was already reported */
	const struct verdict *verdict;	/* NULL until the checks ran */
	uint32_t chain_len;		/* entries in chain[] */
	uint32_t chain_total;		/* certificates in the message */
	struct cert_facts *chain[TLS_CHAIN_MAX];	/* leaf first */
};

#endif
