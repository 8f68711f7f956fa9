/* filter.h - which events to show (--sni, --port, --host, --alerts-only): one predicate for all. */
#ifndef CS_FILTER_H
#define CS_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Each kind of condition holds if any of its values matches (or none was
 * given); an event is shown when every kind holds. Self-contained: the
 * daemon (from a report) and `certsentry tail` (from a JSON line) both ask
 * filter_match().
 */
#define FILTER_MAX 8 /* values per kind */

struct filter_addr {
	uint8_t family;	  /* 4 or 6 (enum cs_family); 0: none */
	uint8_t addr[16]; /* network order; IPv4 in the first 4 bytes */
};

struct filter_net {
	struct filter_addr a; /* the network: bits past prefix are zero */
	uint8_t prefix;	      /* bits */
};

struct filter {
	const char *sni[FILTER_MAX]; /* globs (fnmatch), case-insensitive */
	uint32_t n_sni;
	uint16_t port[FILTER_MAX];
	uint32_t n_port;
	struct filter_net host[FILTER_MAX];
	uint32_t n_host;
	bool alerts_only;
};

/* Each adds one value from its option's text; -1 with why set ("'x' is
 * not ...", "at most 8") if it cannot. glob is kept, not copied. */
int filter_add_sni(struct filter *f, const char *glob, char *why, size_t whylen);
int filter_add_port(struct filter *f, const char *arg, char *why, size_t whylen);
int filter_add_host(struct filter *f, const char *arg, char *why, size_t whylen);
/* An address from text ("192.0.2.1", "2001:db8::1"): 0, or -1. */
int filter_addr_parse(const char *s, struct filter_addr *a);

/* Any condition at all. */
bool filter_active(const struct filter *f);

/*
 * The event's SNI (NULL: none), the server's port (0: none), one end's
 * address (NULL: none) and whether it is an alert. --host matches either
 * end: ask once per end. A condition on a value the event lacks fails.
 */
bool filter_match(const struct filter *f, const char *sni, uint16_t port,
		  const struct filter_addr *addr, bool is_alert);

#endif
