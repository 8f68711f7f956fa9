/* ocsp.c - a stapled OCSPResponse: the leaf's status, times, responder and signature check. */
#include "ocsp.h"
#include "cert.h"
#include "fmt.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#define OCSP_DER_MAX	 (16u << 20) /* far above any staple; keeps len a long */
#define OCSP_SINGLES_MAX 1024	     /* single responses examined */

/* RFC 6960 4.2.1 names (OpenSSL's strings are lower case). */
static const char *const resp_status_names[] = {
	"successful", "malformedRequest", "internalError", "tryLater",
	NULL,	      "sigRequired",	  "unauthorized",
};

/* RFC 5280 5.3.1 CRLReason names (OpenSSL 3.0 lacks 9 and 10). */
static const char *const reason_names[] = {
	"unspecified",	 "keyCompromise",	 "cACompromise",    "affiliationChanged",
	"superseded",	 "cessationOfOperation", "certificateHold", NULL,
	"removeFromCRL", "privilegeWithdrawn",	 "aACompromise",
};

const char *ocsp_reason_name(int reason)
{
	if (reason < 0 || (size_t)reason >= sizeof(reason_names) / sizeof(reason_names[0]))
		return NULL;
	return reason_names[reason];
}

const char *ocsp_cert_status_name(int st)
{
	switch (st) {
	case OCSP_ST_GOOD:
		return "good";
	case OCSP_ST_REVOKED:
		return "revoked";
	case OCSP_ST_UNKNOWN:
		return "unknown";
	default:
		return "none";
	}
}

/* Responder id: the DN in RFC 2253 form (as cert.c), or the key hash in hex. */
static void responder_text(char *out, size_t cap, const OCSP_BASICRESP *bs)
{
	const ASN1_OCTET_STRING *kid = NULL;
	const X509_NAME *name = NULL;

	out[0] = 0;
	if (!OCSP_resp_get0_id(bs, &kid, &name))
		return;
	if (kid)
		fmt_hex(out, cap, ASN1_STRING_get0_data(kid), (size_t)ASN1_STRING_length(kid),
			true);
	else if (name)
		fmt_dn_buf(out, cap, name);
}

/* Does single response s name leaf (issued by issuer)? Its CertID is
 * recomputed with the CertID's own hash algorithm, so SHA-1, SHA-256 or
 * any digest OpenSSL knows match. */
static bool single_matches(OCSP_SINGLERESP *s, X509 *leaf, X509 *issuer)
{
	const OCSP_CERTID *cid = OCSP_SINGLERESP_get0_id(s);
	ASN1_OBJECT *md_oid = NULL;
	ASN1_INTEGER *serial = NULL;
	const EVP_MD *md;
	OCSP_CERTID *mine;
	bool ok;

	if (!cid || !OCSP_id_get0_info(NULL, &md_oid, NULL, &serial, (OCSP_CERTID *)cid))
		return false;
	if (!issuer)
		return ASN1_INTEGER_cmp(serial, X509_get0_serialNumber(leaf)) == 0;
	if (!(md = EVP_get_digestbyobj(md_oid)) || !(mine = OCSP_cert_to_id(md, leaf, issuer)))
		return false;
	ok = OCSP_id_cmp(mine, cid) == 0;
	OCSP_CERTID_free(mine);
	return ok;
}

/*
 * RFC 6960 4.2.2.2: signed by the issuer itself, or by a responder
 * certificate (from the response) that the issuer signed and that has the
 * OCSPSigning EKU. Validity periods are not checked: a capture may be
 * replayed long after the responder certificate expired.
 */
static bool signature_ok(OCSP_BASICRESP *bs, X509 *issuer)
{
	STACK_OF(X509) *extra = sk_X509_new_null();
	X509 *signer = NULL;
	EVP_PKEY *ik = X509_get0_pubkey(issuer);
	bool ok = false;

	if (!extra || !ik || !sk_X509_push(extra, issuer))
		goto out;
	/* Finds the signer by responder id (the issuer first, then the
	 * response's certificates) and checks the signature with its key;
	 * NOVERIFY: no chain building, the rules below are ours. */
	if (OCSP_basic_verify(bs, extra, NULL, OCSP_NOVERIFY) <= 0 ||
	    !OCSP_resp_get0_signer(bs, &signer, extra) || !signer)
		goto out;
	if (X509_cmp(signer, issuer) == 0) {
		ok = true;
		goto out;
	}
	ok = X509_check_issued(issuer, signer) == X509_V_OK && X509_verify(signer, ik) == 1 &&
	     (X509_get_extension_flags(signer) & EXFLAG_XKUSAGE) &&
	     (X509_get_extended_key_usage(signer) & XKU_OCSP_SIGN);
out:
	sk_X509_free(extra); /* holds a borrowed issuer */
	return ok;
}

static int bad(struct ocsp_facts *out, const char *why)
{
	snprintf(out->parse_error, sizeof(out->parse_error), "%s", why);
	out->parse_ok = false;
	return -1;
}

int ocsp_parse(const uint8_t *der, size_t len, X509 *leaf, X509 *issuer, struct ocsp_facts *out)
{
	const unsigned char *p = der;
	OCSP_RESPONSE *resp = NULL;
	OCSP_BASICRESP *bs = NULL;
	OCSP_SINGLERESP *single = NULL;
	int rc = -1, n;

	memset(out, 0, sizeof(*out));
	out->response_status = -1;
	out->cert_status = OCSP_ST_NONE;
	out->reason = -1;
	if (!der || len == 0 || len > OCSP_DER_MAX) {
		bad(out, "OCSP response empty or too long");
		goto end;
	}
	if (!(resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len))) {
		bad(out, "not a DER OCSPResponse");
		goto end;
	}
	if (p != der + len) { /* a staple is exactly one response */
		bad(out, "bytes after the OCSPResponse");
		goto end;
	}
	out->response_status = OCSP_response_status(resp);
	if (out->response_status >= 0 &&
	    (size_t)out->response_status <
		    sizeof(resp_status_names) / sizeof(resp_status_names[0]) &&
	    resp_status_names[out->response_status])
		snprintf(out->response_status_str, sizeof(out->response_status_str), "%s",
			 resp_status_names[out->response_status]);
	else
		snprintf(out->response_status_str, sizeof(out->response_status_str), "unknown");
	if (out->response_status != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
		out->parse_ok = true; /* well formed; it just says no */
		rc = 0;
		goto end;
	}
	if (!(bs = OCSP_response_get1_basic(resp))) {
		bad(out, "not a basic OCSP response");
		goto end;
	}
	out->parse_ok = true;
	out->produced_at = cert_time_unix(OCSP_resp_get0_produced_at(bs));
	responder_text(out->responder, sizeof(out->responder), bs);
	n = OCSP_resp_count(bs);
	out->n_responses = n > 0 ? (uint32_t)n : 0;
	if (n > OCSP_SINGLES_MAX)
		n = OCSP_SINGLES_MAX;
	for (int i = 0; i < n && !single; i++) {
		OCSP_SINGLERESP *s = OCSP_resp_get0(bs, i);

		/* No leaf to match: the first response stands, unmatched. */
		if (s && (!leaf || single_matches(s, leaf, issuer)))
			single = s;
	}
	if (single) {
		ASN1_GENERALIZEDTIME *rev = NULL, *thisupd = NULL, *nextupd = NULL;
		ASN1_INTEGER *serial = NULL;
		int reason = -1;
		int st = OCSP_single_get0_status(single, &reason, &rev, &thisupd, &nextupd);

		out->matched_leaf = leaf != NULL;
		if (OCSP_id_get0_info(NULL, NULL, NULL, &serial,
				      (OCSP_CERTID *)OCSP_SINGLERESP_get0_id(single)))
			/* as cert.c writes serial_hex, so the two compare as strings */
			fmt_serial(out->serial_hex, sizeof(out->serial_hex), serial);
		out->this_update = cert_time_unix(thisupd);
		out->next_update = cert_time_unix(nextupd);
		if (st == V_OCSP_CERTSTATUS_GOOD)
			out->cert_status = OCSP_ST_GOOD;
		else if (st == V_OCSP_CERTSTATUS_REVOKED)
			out->cert_status = OCSP_ST_REVOKED;
		else if (st == V_OCSP_CERTSTATUS_UNKNOWN)
			out->cert_status = OCSP_ST_UNKNOWN;
		if (st == V_OCSP_CERTSTATUS_REVOKED) {
			out->revocation_time = cert_time_unix(rev);
			out->reason = reason >= 0 ? reason : -1;
			if (ocsp_reason_name(reason))
				snprintf(out->reason_str, sizeof(out->reason_str), "%s",
					 ocsp_reason_name(reason));
		}
	}
	if (issuer) {
		out->signature_checked = true;
		out->signature_ok = signature_ok(bs, issuer);
	}
	rc = 0;
end:
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	ERR_clear_error(); /* failures are in parse_error, not left queued */
	return rc;
}
