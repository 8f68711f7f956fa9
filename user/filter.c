/* filter.c - which events are written: --sni, --port, --host, --alerts-only (state sees everything). */
#include <arpa/inet.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>
#include "certsentry.h"
#include "filter.h"

int filter_parse_port(const char *s, uint16_t *port, char *why, size_t whylen)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > 65535) {
		snprintf(why, whylen, "'%s' is not a port (1-65535)", s);
		return -1;
	}
	*port = (uint16_t)v;
	return 0;
}

int filter_parse_net(const char *s, struct filter_net *n, char *why, size_t whylen)
{
	char ip[INET6_ADDRSTRLEN + 1], *end;
	const char *slash = strchr(s, '/');
	size_t len = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long prefix;
	unsigned max;

	memset(n, 0, sizeof(*n));
	if (len >= sizeof(ip))
		goto bad;
	memcpy(ip, s, len);
	ip[len] = '\0';
	if (inet_pton(AF_INET, ip, n->addr) == 1) {
		n->family = CS_AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, ip, n->addr) == 1) {
		n->family = CS_AF_INET6;
		max = 128;
	} else {
		goto bad;
	}
	n->prefix = (uint8_t)max;
	if (slash) {
		errno = 0;
		prefix = strtoul(slash + 1, &end, 10);
		if (errno || end == slash + 1 || *end || prefix > max)
			goto bad;
		n->prefix = (uint8_t)prefix;
	}
	return 0;
bad:
	snprintf(why, whylen, "'%s' is not an IP address or CIDR (192.0.2.0/24, 2001:db8::/32)", s);
	return -1;
}

bool filter_any(const struct filter_opts *f)
{
	return f->n_sni || f->n_ports || f->n_hosts || f->alerts_only;
}

static bool net_match(const struct filter_net *n, const struct report_endpoint *ep)
{
	unsigned full = n->prefix / 8, rest = n->prefix % 8;

	if (n->family != ep->family)
		return false;
	if (memcmp(n->addr, ep->addr, full))
		return false;
	return !rest || !((n->addr[full] ^ ep->addr[full]) & (0xff << (8 - rest)));
}

bool filter_pass(const struct filter_opts *f, const struct cs_report *r, bool alert)
{
	bool ok;
	int i;

	if (f->alerts_only && !alert)
		return false;
	if (f->n_sni) {
		for (ok = false, i = 0; !ok && i < f->n_sni; i++)
			ok = r->has_sni && !fnmatch(f->sni[i], r->sni, FNM_CASEFOLD);
		if (!ok)
			return false;
	}
	if (f->n_ports) {
		for (ok = false, i = 0; !ok && i < f->n_ports; i++)
			ok = r->server.port == f->ports[i] || r->client.port == f->ports[i];
		if (!ok)
			return false;
	}
	if (f->n_hosts) {
		for (ok = false, i = 0; !ok && i < f->n_hosts; i++)
			ok = net_match(&f->hosts[i], &r->server) || net_match(&f->hosts[i], &r->client);
		if (!ok)
			return false;
	}
	return true;
}
