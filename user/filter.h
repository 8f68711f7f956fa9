/* filter.h - which events are written: --sni, --port, --host, --alerts-only (state sees everything). */
#ifndef CS_FILTER_H
#define CS_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "report.h"

#define FILTER_MAX	16	/* values of each filter */

struct filter_net {
	uint8_t family;			/* enum cs_family, as report_endpoint's */
	uint8_t addr[16];
	uint8_t prefix;			/* bits */
};

/* Each filter given passes an event if any of its values matches; all given must pass. */
struct filter_opts {
	const char *sni[FILTER_MAX];	/* fnmatch globs, case-insensitive */
	int n_sni;
	uint16_t ports[FILTER_MAX];	/* either endpoint */
	int n_ports;
	struct filter_net hosts[FILTER_MAX];	/* either endpoint */
	int n_hosts;
	bool alerts_only;
};

/* "443": 0, or -1 with why saying what is wrong. */
int filter_parse_port(const char *s, uint16_t *port, char *why, size_t whylen);
/* "192.0.2.1", "2001:db8::/32", "10.0.0.0/8": 0, or -1 with why. */
int filter_parse_net(const char *s, struct filter_net *n, char *why, size_t whylen);

bool filter_any(const struct filter_opts *f);
/* Is r (alert: it has findings) written? */
bool filter_pass(const struct filter_opts *f, const struct cs_report *r, bool alert);

#endif
