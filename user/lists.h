/* lists.h - the policy inputs: trust store, CRLs, deny list, pins; loaded whole, swapped whole. */
#ifndef CS_LISTS_H
#define CS_LISTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/x509.h>
#include "cert.h"
#include "report.h"

#define LISTS_CRL_PATHS_MAX 16
#define LISTS_PINS_PER_RULE 16

struct lists_opts {
	const char *ca_file; /* NULL and no ca_path: the system bundle */
	const char *ca_path;
	const char *crl_paths[LISTS_CRL_PATHS_MAX]; /* files or directories */
	int n_crl;
	const char *deny_file; /* may be NULL */
	const char *pins_file; /* may be NULL */
};

/*
 * One generation of every list, built completely before anyone sees it and
 * never changed afterwards: a reload builds a new one and swaps the pointer,
 * so a bad file leaves the previous generation in force. Lookups are O(1)
 * (hash tables) or O(log n).
 */
struct lists;

/* NULL on any error, with err saying "FILE:LINE: what was wrong". */
struct lists *lists_load(const struct lists_opts *o, char *err, size_t errlen);
void lists_free(struct lists *l);

struct lists_sizes {
	uint32_t ca_certs, crls, crl_entries, crls_stale, crls_unverified;
	uint32_t deny_sha256, deny_spki, deny_serial, pin_rules;
};
void lists_sizes(const struct lists *l, struct lists_sizes *s);
/* Warnings found while loading (CRL past nextUpdate, CRL whose issuer is
 * unknown): one per call, i from 0, NULL after the last. */
const char *lists_warning(const struct lists *l, uint32_t i);

/* Trust anchors for chain verification. Owned by the lists. */
X509_STORE *lists_trust_store(const struct lists *l);

/* Deny list: which entry (file:line) denies this certificate, or NULL. */
const char *lists_denied(const struct lists *l, const struct cert_facts *f);

struct crl_hit {
	bool revoked;
	int64_t revocation_time;
	int reason; /* CRLReason, -1 if none */
	char reason_str[32];
	char source[256];  /* CRL file */
	bool crl_verified; /* CRL signature checked against the issuer */
};
/* Is f revoked by a loaded CRL of its issuer (matched by issuer DN; the
 * signature is checked when issuer is given or in the trust store)? */
bool lists_crl_revoked(const struct lists *l, const struct cert_facts *f,
		       const struct cert_facts *issuer, struct crl_hit *hit);

/* Pins: the rule matching this SNI (exact, then "*." wildcard) or server
 * endpoint, or NULL. */
struct pin_rule;
const struct pin_rule *lists_pin_rule(const struct lists *l, const char *sni,
				      const struct report_endpoint *server);
/* True if any pin of the rule matches: sha256 against the leaf, spki against
 * any certificate of the chain. */
bool pin_rule_matches(const struct pin_rule *r, struct cert_facts *const *chain, uint32_t n);
/* "pattern (file:line)" and the expected pins, space separated. */
const char *pin_rule_pattern(const struct pin_rule *r);
uint32_t pin_rule_pins(const struct pin_rule *r, const char **pins, uint32_t max);

#endif
