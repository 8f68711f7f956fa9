/* checks.h - the verdict: what is wrong with a handshake's certificates, worst first. */
#ifndef CS_CHECKS_H
#define CS_CHECKS_H

#include <stdbool.h>
#include <stdint.h>
#include "findings.h"
#include "lists.h"
#include "report.h"

struct finding {
	enum finding_code code;
	enum severity sev; /* the code's, from findings.def */
	int cert;	   /* index in the chain it is about, -1 for the handshake */
	char message[256]; /* one sentence on-call can act on */
};

#define VERDICT_PINS_MAX 16

/* What one revocation source said about the leaf (certsentry.revocation). */
struct verdict_source {
	bool set;
	const char *source;  /* "fetched", "loaded" (--crl), "staple" */
	const char *status;  /* "good", "revoked", "unknown", "none" */
	char url[512];	     /* what was consulted, "" if nothing */
	char number[48];     /* CRL number, "" if none */
	int64_t this_update; /* 0 if none */
	char why[256];	     /* status "none": why nothing was available */
};

struct inventory_decision;

struct verdict {
	uint32_t n;
	struct finding f[F_MAX]; /* worst first, ties in findings.def row order; one per code */
	enum severity worst;
	/* pin.mismatch details: what the rule expected. */
	const char *pin_pattern;
	const char *pin_expected[VERDICT_PINS_MAX];
	uint32_t n_pin_expected;
	/* The leaf's revocation as consulted; each set when looked at. */
	struct verdict_source rev_crl, rev_ocsp;
	/* cert.changed, cert.rollback, cert.inconsistent: the inventory's
	 * decision (previous and new leaf, shares), else NULL. */
	const struct inventory_decision *change;
	/* No finding, but no chain was checked either: a TLS 1.3 handshake
	 * whose certificate no source saw. Never "ok". */
	bool unverified;
};

/* A verdict's slot in app_counters.verdicts (and its label in metrics,
 * stats and summaries): the worst finding's code, or one of these. */
#define VERDICT_OK	   F_MAX
#define VERDICT_UNVERIFIED (F_MAX + 1)
#define VERDICT_SLOTS	   (F_MAX + 2)
int verdict_slot(const struct verdict *v);
/* "revoked.crl", ..., "ok", "unverified" (static strings). */
const char *verdict_slot_name(int slot);
const char *verdict_name(const struct verdict *v);

struct checks_opts {
	int warn_days;		   /* cert.expiring_soon threshold; default 14 */
	struct finding_set ignore; /* --ignore CODE ... */
};

struct checker;

struct checker *checker_new(const struct checks_opts *o);
void checker_free(struct checker *c);
/* A new generation of lists: cached verdict parts that depend on lists are
 * dropped, so a certificate cached as fine is judged again at once. The
 * lists stay owned by the caller and must outlive their use. */
void checker_set_lists(struct checker *c, const struct lists *l);
/* Judges one report (chains, alerts) as of r->check_time. */
void checks_run(struct checker *c, const struct cs_report *r, struct verdict *v);

/* Fetched sources consulted besides the lists (each may be NULL): CRLs
 * (revoked.crl), OCSP answers for leaves without a staple (revoked.ocsp),
 * AIA issuers (chain.incomplete/untrusted), and the inventory (cert.changed,
 * cert.rollback, cert.inconsistent; not consulted for r->recheck). They stay
 * the caller's. */
struct crlfetch;
struct ocspfetch;
struct aiafetch;
struct inventory;
struct check_sources {
	struct crlfetch *crl;
	struct ocspfetch *ocsp;
	struct aiafetch *aia;
	struct inventory *inv;
};
void checker_set_sources(struct checker *c, const struct check_sources *s);

struct checker_stats {
	uint64_t runs, chain_cache_hits, chain_verifications;
};
void checker_stats(const struct checker *c, struct checker_stats *st);

#endif
