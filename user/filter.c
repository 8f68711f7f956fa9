/* filter.c - which events to show (--sni, --port, --host, --alerts-only): one predicate for all. */
#include <arpa/inet.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "filter.h"

static int full(uint32_t n, char *why, size_t whylen)
{
	if (n < FILTER_MAX)
		return 0;
	snprintf(why, whylen, "at most %d", FILTER_MAX);
	return -1;
}

int filter_add_sni(struct filter *f, const char *glob, char *why, size_t whylen)
{
	if (full(f->n_sni, why, whylen))
		return -1;
	if (!*glob) {
		snprintf(why, whylen, "an empty pattern matches nothing");
		return -1;
	}
	f->sni[f->n_sni++] = glob;
	return 0;
}

int filter_add_port(struct filter *f, const char *arg, char *why, size_t whylen)
{
	unsigned long v;
	char *end;

	if (full(f->n_port, why, whylen))
		return -1;
	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || v < 1 || v > 65535) {
		snprintf(why, whylen, "'%s' is not a port (1-65535)", arg);
		return -1;
	}
	f->port[f->n_port++] = (uint16_t)v;
	return 0;
}

int filter_addr_parse(const char *s, struct filter_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a->addr) == 1)
		a->family = 4;
	else if (inet_pton(AF_INET6, s, a->addr) == 1)
		a->family = 6;
	return a->family ? 0 : -1;
}

/* Does a lie in n? */
static bool in_net(const struct filter_net *n, const struct filter_addr *a)
{
	unsigned full_bytes = n->prefix / 8, rest = n->prefix % 8;

	if (a->family != n->a.family || memcmp(a->addr, n->a.addr, full_bytes))
		return false;
	return !rest || !((a->addr[full_bytes] ^ n->a.addr[full_bytes]) & (0xff00 >> rest));
}

/* IP or IP/PREFIX; the host bits of a network must be zero (192.0.2.0/24,
 * not 192.0.2.1/24: that is a typo as often as not). */
int filter_add_host(struct filter *f, const char *arg, char *why, size_t whylen)
{
	struct filter_net n = { 0 }, masked;
	char ip[64], *slash, *end;
	unsigned long p;
	unsigned max;

	if (full(f->n_host, why, whylen))
		return -1;
	snprintf(ip, sizeof(ip), "%s", arg);
	if ((slash = strchr(ip, '/')))
		*slash = '\0';
	if (strlen(arg) >= sizeof(ip) || filter_addr_parse(ip, &n.a)) {
		snprintf(why, whylen, "'%s' is not an IP address or CIDR network", arg);
		return -1;
	}
	max = n.a.family == 4 ? 32 : 128;
	n.prefix = (uint8_t)max;
	if (slash) {
		errno = 0;
		p = strtoul(slash + 1, &end, 10);
		if (errno || end == slash + 1 || *end || p > max) {
			snprintf(why, whylen, "'%s': the prefix length is not 0-%u", arg, max);
			return -1;
		}
		n.prefix = (uint8_t)p;
		masked = n;
		memset(masked.a.addr, 0, sizeof(masked.a.addr));
		for (unsigned b = 0; b < p; b++)
			masked.a.addr[b / 8] |= n.a.addr[b / 8] & (0x80 >> (b % 8));
		if (memcmp(masked.a.addr, n.a.addr, sizeof(n.a.addr))) {
			snprintf(why, whylen, "'%s' has host bits set past /%lu", arg, p);
			return -1;
		}
	}
	f->host[f->n_host++] = n;
	return 0;
}

bool filter_active(const struct filter *f)
{
	return f->n_sni || f->n_port || f->n_host || f->alerts_only;
}

bool filter_match(const struct filter *f, const char *sni, uint16_t port,
		  const struct filter_addr *addr, bool is_alert)
{
	bool ok;
	uint32_t i;

	if (f->alerts_only && !is_alert)
		return false;
	for (ok = !f->n_sni, i = 0; i < f->n_sni && sni && !ok; i++)
		ok = !fnmatch(f->sni[i], sni, FNM_CASEFOLD);
	if (!ok)
		return false;
	for (ok = !f->n_port, i = 0; i < f->n_port && !ok; i++)
		ok = port && f->port[i] == port;
	if (!ok)
		return false;
	for (ok = !f->n_host, i = 0; i < f->n_host && addr && !ok; i++)
		ok = in_net(&f->host[i], addr);
	return ok;
}
