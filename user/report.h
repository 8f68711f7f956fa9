/* report.h - what the flow stage hands to the output stage for one handshake. */
#ifndef CS_REPORT_H
#define CS_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include "cert.h"
#include "events.h"
#include "hello.h"
#include "ocsp.h"
#include "tls.h"

/* The handshake events: their event.action names are rows of events.def. */
enum report_action {
	REPORT_CERTIFICATE = EV_TLS_CERTIFICATE,	       /* chain seen in the clear */
	REPORT_CERTIFICATE_HIDDEN = EV_TLS_CERTIFICATE_HIDDEN, /* TLS 1.3 */
	REPORT_RESUMED = EV_TLS_SESSION_RESUMED,	       /* abbreviated, no chain */
	REPORT_CLIENT_CERTIFICATE = EV_TLS_CLIENT_CERTIFICATE, /* chain[] is the client's */
	REPORT_ALERT = EV_TLS_ALERT,			       /* an alert record in the clear */
	REPORT_INCOMPLETE = EV_TLS_HANDSHAKE_INCOMPLETE,       /* bytes lost */
	REPORT_CLIENT_OUTCOME = EV_TLS_CLIENT_OUTCOME,	       /* TLS 1.3: did the client go on */
	REPORT_CLIENT_ABORTING = EV_TLS_CLIENT_ABORTING,       /* outcomes.c: abort share high */
	REPORT_CLIENT_ABORTING_CLEARED = EV_TLS_CLIENT_ABORTING_CLEARED, /* ... fell back */
};

/* What a TLS 1.3 client did after the server's flight (outcomes.h says how
 * it is told from the wire). */
enum client_outcome {
	OUTCOME_NONE = 0, /* not classified (not TLS 1.3, or not yet) */
	OUTCOME_ACCEPTED, /* a Finished (or a client certificate flight) */
	OUTCOME_ABORTED,  /* an alert's worth of ciphertext, then closed; or a clear alert */
	OUTCOME_UNKNOWN,  /* anything else */
	OUTCOME_MAX
};

/* Which certificate a client's refusal is tied to (alert_cert_sha256). */
enum cert_basis {
	CERT_BASIS_NONE = 0,   /* none known */
	CERT_BASIS_CONNECTION, /* the leaf this connection showed (wire, key log, uprobe) */
	CERT_BASIS_ENDPOINT,   /* the last leaf seen in the clear for this (server, SNI) */
};

/* REPORT_CLIENT_ABORTING*: one client family (JA4) of the window. */
#define REPORT_FAMILIES_MAX 4
struct report_family {
	char ja4[JA4_LEN + 1];
	uint32_t total, aborted;
};

/* How a chain was seen: in the clear, decrypted with a key log's secret,
 * from the local server's uprobes, or fetched by our own handshake. */
enum report_source { SOURCE_WIRE, SOURCE_KEYLOG, SOURCE_UPROBE, SOURCE_CONFIRM };

struct verdict; /* checks.h: filled after the flow stage */

struct report_endpoint {
	uint8_t family;	  /* enum cs_family */
	uint8_t addr[16]; /* network order */
	uint16_t port;
};

struct cs_report {
	enum report_action action;
	uint64_t ts_ns;	  /* capture time of the completing segment, epoch ns */
	uint64_t mono_ns; /* its CLOCK_MONOTONIC time, 0 offline */
	struct report_endpoint client, server;
	uint32_t ifindex;   /* 0 offline */
	uint8_t hook;	    /* enum cs_hook of the completing segment */
	const char *ifname; /* may be NULL */
	uint16_t version;   /* negotiated, 0 if no ServerHello seen */
	uint16_t cipher;
	bool have_server_hello;
	bool has_sni;
	char sni[TLS_SNI_MAX + 1];
	char alpn_offered[TLS_ALPN_MAX + 1];
	char alpn[TLS_ALPN_MAX + 1]; /* selected */
	uint8_t transport;	     /* IPPROTO_TCP or IPPROTO_UDP (DTLS) */
	uint8_t binding;	     /* SOURCE_UPROBE: enum uprobe_binding (served.h) */
	int64_t check_time;	     /* Unix s at which validity is judged */
	bool resumed;
	bool hello_retry; /* TLS 1.3 HelloRetryRequest: the hello facts are the second's */
	enum report_source source;
	/* Stapled OCSP response (CertificateStatus), for the leaf. */
	bool have_ocsp;
	struct ocsp_facts ocsp;
	/* REPORT_ALERT: who sent what, and the server certificate it followed. */
	bool alert_from_client;
	uint8_t alert_level, alert_desc;
	char alert_cert_sha256[65]; /* "" if no certificate was seen before it */
	uint8_t cert_basis;	    /* enum cert_basis of alert_cert_sha256 */
	/* The client's ClientHello: fingerprints and facts (hello.h). */
	bool have_hello;
	struct hello_summary hello;
	/* REPORT_CLIENT_OUTCOME (and a TLS 1.3 client's clear alert): what the
	 * client did; outcome_alert: the alert fields hold its alert, read in
	 * the clear or decrypted with a key log (outcome_decrypted). */
	uint8_t outcome; /* enum client_outcome */
	bool outcome_alert, outcome_decrypted;
	uint16_t outcome_rec_len;   /* its first encrypted record's length, 0 if none */
	const char *outcome_reason; /* static, one phrase */
	/* REPORT_CLIENT_ABORTING*: the (server, SNI) window (outcomes.c). */
	uint32_t win_s, win_total, win_aborted, win_accepted, win_pct, win_min;
	uint32_t n_families;
	struct report_family families[REPORT_FAMILIES_MAX];
	/* REPORT_INCOMPLETE: which direction lost what, and why. */
	const char *incomplete_reason;
	bool lost_from_client;
	uint64_t lost_bytes; /* bytes held beyond the hole, discarded */
	bool chain_reported; /* the chain was already reported */
	/* A follow-up: the chain judged again because a fetch completed (what
	 * came, for a person), and the verdict it had before; NULL otherwise. */
	const char *recheck;
	const char *recheck_prev;
	const struct verdict *verdict;		 /* NULL until the checks ran */
	uint32_t chain_len;			 /* entries in chain[] */
	uint32_t chain_total;			 /* certificates in the message */
	struct cert_facts *chain[TLS_CHAIN_MAX]; /* leaf first */
};

#endif
