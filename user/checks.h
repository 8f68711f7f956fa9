/* checks.h - the verdict: what is wrong with a handshake's certificates, worst first. */
#ifndef CS_CHECKS_H
#define CS_CHECKS_H

#include <stdbool.h>
#include <stdint.h>
#include "lists.h"
#include "report.h"

/* Stable codes: they are rule names in the log pipeline. Keep the order. */
enum finding_code {
	F_REVOKED_CRL,		/* "revoked.crl" */
	F_REVOKED_DENY,		/* "revoked.deny" */
	F_REVOKED_OCSP,		/* "revoked.ocsp" */
	F_PIN_MISMATCH,		/* "pin.mismatch" */
	F_CHAIN_UNTRUSTED,	/* "chain.untrusted" */
	F_CHAIN_INCOMPLETE,	/* "chain.incomplete" */
	F_HOSTNAME_MISMATCH,	/* "hostname.mismatch" */
	F_EXPIRED,		/* "cert.expired" */
	F_NOT_YET_VALID,	/* "cert.not_yet_valid" */
	F_SELF_SIGNED,		/* "cert.self_signed" */
	F_WEAK_SIGNATURE,	/* "weak.signature" */
	F_WEAK_KEY,		/* "weak.key" */
	F_EXPIRING_SOON,	/* "cert.expiring_soon" */
	F_CLIENT_REJECTED,	/* "client.rejected" */
	F_MAX
};

/* ECS event.severity numbers (syslog): lower is worse. */
enum severity {
	SEV_CRITICAL = 2,
	SEV_HIGH = 3,		/* "error" */
	SEV_MEDIUM = 4,		/* "warning" */
	SEV_LOW = 5,		/* "notice" */
	SEV_OK = 6,		/* "info": no finding */
};

struct finding {
	enum finding_code code;
	enum severity sev;
	int cert;		/* index in the chain it is about, -1 for the handshake */
	char message[256];	/* one sentence on-call can act on */
};

#define VERDICT_PINS_MAX 16

struct verdict {
	uint32_t n;
	struct finding f[F_MAX];	/* sorted, worst first; at most one per code */
	enum severity worst;
	/* pin.mismatch details: what the rule expected. */
	const char *pin_pattern;
	const char *pin_expected[VERDICT_PINS_MAX];
	uint32_t n_pin_expected;
};

struct checks_opts {
	int warn_days;			/* cert.expiring_soon threshold; default 14 */
	uint32_t ignore;		/* bit (1u << code) per --ignore CODE */
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

const char *finding_name(enum finding_code code);	/* "revoked.crl" */
int finding_parse(const char *name);			/* code, or -1 */
const char *severity_name(enum severity s);		/* "critical", ... */

struct checker_stats { uint64_t runs, chain_cache_hits, chain_verifications; };
void checker_stats(const struct checker *c, struct checker_stats *st);

#endif
