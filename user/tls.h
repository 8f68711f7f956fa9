/* tls.h - TLS record layer and handshake message parsing, for hostile input. */
#ifndef CS_TLS_H
#define CS_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cs_wire.h"

/* Content and handshake types (TLS_CT_*, TLS_HS_*) and versions: cs_wire.h.
 * SSLv2 messages, passed to tls_cb.handshake with these pseudo types (values
 * no TLS handshake type uses); body starts after SSLv2's msg_type byte. */
#define TLS_HS_SSL2_CLIENT_HELLO 0xf1
#define TLS_HS_SSL2_SERVER_HELLO 0xf4

#define TLS_MSG_MAX_DEFAULT (1024 * 1024) /* largest handshake message kept */
#define TLS_CHAIN_MAX	    16		  /* certificates kept per chain */
#define TLS_SNI_MAX	    255
#define TLS_ALPN_MAX	    128 /* offered ALPN list, comma-joined */

/* Callbacks for one direction. Any may be NULL. Pointers are borrowed. */
struct tls_cb {
	/* A complete handshake message (type, body without the 4-byte header). */
	void (*handshake)(void *ctx, uint8_t type, const uint8_t *body, size_t len);
	/* A non-handshake record header and up to avail bytes of its body
	 * (alerts: level, description). Reported once per record. */
	void (*record)(void *ctx, uint8_t content_type, uint16_t version, const uint8_t *body,
		       size_t avail, size_t rec_len);
	/* Input that is not TLS or breaks a rule; the direction stops parsing. */
	void (*error)(void *ctx, const char *what);
	/*
	 * With cert_entry set, a Certificate message (TLS <= 1.2 layout) that
	 * does not arrive whole in one feed is handed over an entry at a time
	 * instead of being held: cert_entry with each certificate as its bytes
	 * complete, then cert_end once the message has; ok is false if the
	 * message broke its lengths (where tls_parse_certificate fails), and the
	 * entries given are then no chain. A message whole in one feed still
	 * goes to handshake.
	 */
	void (*cert_entry)(void *ctx, const uint8_t *der, size_t len);
	void (*cert_end)(void *ctx, bool ok);
};

/*
 * Per-direction state: record headers and handshake messages may be split at
 * any byte across feeds; several messages may share one record and one
 * message may span many records. After ChangeCipherSpec the direction is
 * encrypted and handshake records are reported as records, not parsed.
 */
struct tls_parser {
	uint8_t hdr[5]; /* record header being collected */
	uint8_t hdr_have;
	uint8_t rec_type;
	uint8_t rec_peek_have;
	uint8_t rec_peek[8]; /* start of a non-handshake record body */
	uint16_t rec_version;
	uint16_t rec_left; /* body bytes left in the current record */
	uint16_t rec_len;  /* (a 16-bit field: TLS and SSLv2 alike) */
	uint8_t mh_have;
	uint8_t cs;	  /* Certificate handed over by entry (tls.c) */
	uint8_t mh[4];	  /* handshake message header being collected */
	uint8_t cs_lb[3]; /* ... a 3-byte length being collected */
	uint8_t cs_lb_have;
	bool rec_reported; /* non-handshake record already reported */
	bool encrypted;	   /* CCS seen in this direction */
	bool hrr;	   /* HelloRetryRequest on this connection: a CCS is
			    * then TLS 1.3's dummy and the next hello is still
			    * in the clear. Set by the parser when it sees one;
			    * the caller sets it for the client side */
	bool failed;
	bool wipe;	   /* held bytes are zeroed before they are freed */
	uint8_t ssl2;	   /* SSLv2 first-record state (tls.c) */
	uint32_t msg_left; /* body bytes of the message still to come */
	uint32_t cs_ent;   /* length of the certificate being collected */
	uint8_t *msg;	   /* the message body (or certificate) being held */
	uint32_t msg_have; /* bytes in msg */
	uint32_t msg_cap;  /* its size: at most what is held, doubled */
	uint32_t msg_max;
	uint32_t records;
};

/* Inside a handshake message: its header has begun. */
static inline bool tls_parser_in_message(const struct tls_parser *p)
{
	return p->mh_have > 0;
}

/* msg_max 0 selects TLS_MSG_MAX_DEFAULT; capped at 2^24-1. */
void tls_parser_init(struct tls_parser *p, uint32_t msg_max);
/* Feed stream bytes. Returns 0, or -1 once the direction failed. */
int tls_parser_feed(struct tls_parser *p, const uint8_t *data, size_t len, const struct tls_cb *cb,
		    void *ctx);
/* Between feeds (a paused direction): within a feed a buffer serves one
 * message after another; this cuts it to at most twice what is held. */
void tls_parser_trim_slow(struct tls_parser *p);
static inline void tls_parser_trim(struct tls_parser *p)
{
	if (p->msg && p->msg_cap > 2 * p->msg_have)
		tls_parser_trim_slow(p);
}
/* Frees and ends the parser; may be called from its callbacks. */
void tls_parser_free(struct tls_parser *p);

/* Decoders of complete handshake bodies. Return 0, or -1 if malformed. */

/* Bounds on the ClientHello lists kept, in wire order, GREASE included. Each
 * list has n (kept) and total (in the message): n < total means the list
 * was cut, and fingerprints over it are refused (ja.h). Real clients stay
 * far below these; scanners offering every suite reach ~200. */
#define TLS_CH_SUITES_MAX   256 /* cipher_suites */
#define TLS_CH_EXTS_MAX	    64	/* extension types */
#define TLS_CH_GROUPS_MAX   64	/* supported_groups (10) */
#define TLS_CH_SIGALGS_MAX  64	/* signature_algorithms (13) */
#define TLS_CH_VERSIONS_MAX 16	/* supported_versions (43) */
#define TLS_CH_FORMATS_MAX  16	/* ec_point_formats (11) */
#define TLS_CH_SHARES_MAX   16	/* key_share (51) groups */

/* The facts of one ClientHello: on the stack while a hello is decoded
 * (about 1.5 KiB); keep only what is derived from it (hello.h, ja.h). */
struct tls_client_hello {
	uint16_t version;   /* legacy_version */
	bool dtls;	    /* decoded as a DTLS ClientHello */
	bool ssl2;	    /* an SSLv2-format CLIENT-HELLO */
	uint8_t random[32]; /* client_random; SSLv2: the challenge,
					 * right-aligned (RFC 5246 E.2) */
	uint8_t session_id[32];
	uint8_t session_id_len;
	bool has_session; /* non-empty session id or session ticket */
	bool has_sni;
	char sni[TLS_SNI_MAX + 1];   /* host_name, NUL-terminated, raw bytes */
	char alpn[TLS_ALPN_MAX + 1]; /* offered protocols, comma-joined */
	bool has_alpn;		     /* alpn_ends is set */
	uint8_t alpn_ends[2];	     /* first and last byte of the first
					 * protocol, whole (alpn may show '?') */
	bool offers_tls13;	     /* supported_versions lists (D)TLS 1.3 or a draft */
	bool has_psk;		     /* pre_shared_key (41) */
	bool has_early_data;	     /* early_data (42) */
	uint16_t n_suites, suites_total;
	uint16_t n_exts, exts_total;
	uint16_t n_groups, groups_total;
	uint16_t n_sigalgs, sigalgs_total;
	uint16_t n_versions, versions_total;
	uint16_t n_formats, formats_total;
	uint16_t n_shares, shares_total;
	uint16_t suites[TLS_CH_SUITES_MAX];
	uint16_t exts[TLS_CH_EXTS_MAX];
	uint16_t groups[TLS_CH_GROUPS_MAX];
	uint16_t sigalgs[TLS_CH_SIGALGS_MAX];
	uint16_t versions[TLS_CH_VERSIONS_MAX];
	uint16_t shares[TLS_CH_SHARES_MAX];
	uint8_t formats[TLS_CH_FORMATS_MAX];
};
int tls_parse_client_hello(const uint8_t *b, size_t len, struct tls_client_hello *ch);

struct tls_server_hello {
	uint16_t legacy_version;
	uint16_t version; /* supported_versions if present, else legacy */
	uint16_t cipher;
	bool hrr; /* HelloRetryRequest (magic random) */
	uint8_t session_id[32];
	uint8_t session_id_len;
	char alpn[TLS_ALPN_MAX + 1]; /* selected protocol, if any */
};
int tls_parse_server_hello(const uint8_t *b, size_t len, struct tls_server_hello *sh);

/* Certificate message (TLS <= 1.2 layout). Entries point into b. */
struct tls_cert_list {
	uint32_t n;	/* certificates kept (<= TLS_CHAIN_MAX) */
	uint32_t total; /* certificates in the message */
	const uint8_t *der[TLS_CHAIN_MAX];
	uint32_t der_len[TLS_CHAIN_MAX];
};
int tls_parse_certificate(const uint8_t *b, size_t len, struct tls_cert_list *cl);

/* DTLS ClientHello: as TLS, plus a cookie after the session id. */
int tls_parse_dtls_client_hello(const uint8_t *b, size_t len, struct tls_client_hello *ch);
/* SSLv2 CLIENT-HELLO (a TLS client's backwards-compatible first hello too):
 * version, random, session id, and the cipher specs that are TLS suites
 * (00 xx yy) as suites; no extensions exist. ssl2 is set. */
int tls_parse_ssl2_client_hello(const uint8_t *b, size_t len, struct tls_client_hello *ch);
/* SSLv2 SERVER-HELLO: version (0x0002) into sh, its one certificate into cl. */
int tls_parse_ssl2_server_hello(const uint8_t *b, size_t len, struct tls_server_hello *sh,
				struct tls_cert_list *cl);
/* CertificateStatus (RFC 6066): the OCSPResponse DER, pointing into b. */
int tls_parse_certificate_status(const uint8_t *b, size_t len, const uint8_t **der,
				 size_t *der_len);

/* "1.2", "1.3", "1.0", "3.0" (SSLv3), "2" (SSLv2, 0x0002); NULL if unknown. */
const char *tls_version_number(uint16_t v);
/* "tls", "ssl" or "dtls"; NULL if unknown. */
const char *tls_version_protocol(uint16_t v);
/* IANA cipher suite name, e.g. "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"; NULL if unknown. */
const char *tls_cipher_name(uint16_t id);
/* RFC 8446 alert description name, e.g. "bad_certificate"; NULL if unknown. */
const char *tls_alert_name(uint8_t desc);

/* TLS 1.3 Certificate (RFC 8446 4.4.2): request context, then entries of
 * cert_data and extensions. A status_request extension in the first entry
 * is the stapled OCSPResponse (*ocsp, else NULL and 0). Point into b. */
int tls_parse_certificate13(const uint8_t *b, size_t len, struct tls_cert_list *cl,
			    const uint8_t **ocsp, size_t *ocsp_len);

#endif
