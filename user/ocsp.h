/* ocsp.h - a stapled OCSP response (CertificateStatus): its status for the leaf. */
#ifndef CS_OCSP_H
#define CS_OCSP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/x509.h>

enum ocsp_cert_status {
	OCSP_ST_NONE = -1, /* no single response for this leaf */
	OCSP_ST_GOOD = 0,
	OCSP_ST_REVOKED = 1,
	OCSP_ST_UNKNOWN = 2,
};

struct ocsp_facts {
	bool parse_ok;
	char parse_error[96];
	int response_status;			       /* OCSPResponseStatus: 0 successful, ... */
	char response_status_str[24];		       /* "successful", "tryLater", ... */
	int cert_status;			       /* enum ocsp_cert_status */
	bool matched_leaf;			       /* by CertID (issuer known) or by serial */
	char serial_hex[80];			       /* of the single response used */
	int64_t produced_at, this_update, next_update; /* Unix s; next_update 0 if absent */
	int64_t revocation_time;		       /* 0 unless revoked */
	int reason;				       /* CRLReason, -1 if none */
	char reason_str[32];			       /* "keyCompromise", ... */
	char responder[256];			       /* responder id: DN or key hash hex */
	uint32_t n_responses;
	/* Signature: checked against the issuer (or a delegated responder
	 * certificate it signed) when the issuer is known. */
	bool signature_checked, signature_ok;
};

/*
 * Parses the DER OCSPResponse and picks the single response for leaf: by
 * CertID when issuer is given (SHA-1 and SHA-256 ids), else by serial number.
 * issuer may be NULL. Returns 0, or -1 with parse_error set.
 */
int ocsp_parse(const uint8_t *der, size_t len, X509 *leaf, X509 *issuer, struct ocsp_facts *out);

/* RFC 5280 5.3.1 CRLReason name ("keyCompromise", ...), shared by CRL
 * entries; NULL for a code without one. */
const char *ocsp_reason_name(int reason);
/* "good", "revoked", "unknown", or "none" for OCSP_ST_NONE. */
const char *ocsp_cert_status_name(int st);

#endif
