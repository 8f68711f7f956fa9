/* findings.h - the findings table (findings.def): codes, severities, needs, descriptions, sets of codes. */
#ifndef CS_FINDINGS_H
#define CS_FINDINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ECS event.severity numbers (syslog): lower is worse. */
enum severity {
	SEV_CRITICAL = 2,
	SEV_HIGH = 3,	/* "error" */
	SEV_MEDIUM = 4, /* "warning" */
	SEV_LOW = 5,	/* "notice" */
	SEV_OK = 6,	/* "info": no finding */
};

/* What a report (and the checker) must hold for a finding to be possible. */
enum finding_need {
	NEED_CHAIN = 1u << 0,	  /* "chain": a server chain in the clear whose leaf parses */
	NEED_SNI = 1u << 1,	  /* "sni": the client named the server */
	NEED_LISTS = 1u << 2,	  /* "lists": trust store, CRLs, deny list, pins */
	NEED_OCSP = 1u << 3,	  /* "ocsp": a stapled OCSP response, or --fetch-ocsp */
	NEED_ALERT = 1u << 4,	  /* "alert": an alert in the clear (tls-alert) */
	NEED_OUTCOME = 1u << 5,	  /* "outcome": a TLS 1.3 client outcome (tls-client-outcome) */
	NEED_INVENTORY = 1u << 6, /* "inventory": the inventory is kept (--inventory) */
	NEED_ALL = (1u << 7) - 1,
};

/* One per row of findings.def, numbered in row order: the order that
 * breaks severity ties in a verdict. */
enum finding_code {
#define FINDING(id, code, sev, needs, desc) F_##id,
#include "findings.def"
#undef FINDING
	F_MAX
};

const char *finding_name(enum finding_code code);	/* "revoked.crl"; "unknown" */
enum severity finding_severity(enum finding_code code); /* SEV_OK for no such code */
unsigned finding_needs(enum finding_code code);		/* NEED_* bits */
const char *finding_description(enum finding_code code);
int finding_parse(const char *name);	       /* code, or -1 */
const char *severity_name(enum severity s);    /* "critical", ...; "unknown" */
const char *need_name(enum finding_need need); /* one bit: "chain"; NULL */

/* Bit i of an array of n bits in 64-bit words; an i beyond n is never set. */
#define BITS_WORDS(n) (((n) + 63) / 64)

static inline void bits_set(uint64_t *w, size_t n, size_t i)
{
	if (i < n)
		w[i / 64] |= 1ULL << (i % 64);
}

static inline bool bits_test(const uint64_t *w, size_t n, size_t i)
{
	return i < n && ((w[i / 64] >> (i % 64)) & 1);
}

/* A set of finding codes (--ignore): a bit per row, however many rows. */
struct finding_set {
	uint64_t w[BITS_WORDS(F_MAX)];
};
_Static_assert(8 * sizeof(((struct finding_set *)0)->w) >= F_MAX,
	       "struct finding_set needs a bit per row of findings.def");

static inline void finding_set_add(struct finding_set *s, enum finding_code code)
{
	bits_set(s->w, F_MAX, code);
}

static inline bool finding_set_has(const struct finding_set *s, enum finding_code code)
{
	return bits_test(s->w, F_MAX, code);
}

/* --list-findings: the table as aligned text or a JSON array; -1 on a write error. */
int findings_list(FILE *out, bool json);

#endif
