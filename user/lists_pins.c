/* lists_pins.c - pins (--pins): PATTERN PIN [PIN...] a line; found by SNI or server endpoint. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/types.h>
#include "certsentry.h"
#include "lists_int.h"

/* Which map a pattern goes to, and its key there. */
struct pin_key {
	struct kmap *m;
	uint8_t b[256]; /* a host name (<= 253) or an endpoint key */
	size_t len;
};

static bool parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;

	if (!*s || strlen(s) > 5)
		return false;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return false;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v < 1 || v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

/* Endpoint key: family, 16 address bytes (IPv4 in the first 4), port. */
static size_t ep_key(uint8_t key[19], uint8_t family, const uint8_t *addr, uint16_t port)
{
	memset(key, 0, 19);
	key[0] = family;
	memcpy(key + 1, addr, family == CS_AF_INET6 ? 16 : 4);
	key[17] = (uint8_t)(port >> 8);
	key[18] = (uint8_t)port;
	return 19;
}

static bool host_ok(const char *h)
{
	size_t n = strlen(h), lab = 0;

	if (!n || n > 253)
		return false;
	for (const char *p = h; *p; p++) {
		if (*p == '.') {
			if (!lab)
				return false;
			lab = 0;
			continue;
		}
		if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_') || ++lab > 63)
			return false;
	}
	return lab > 0;
}

/* Lowercase, one trailing dot dropped: "Example.COM." is "example.com". */
static void host_norm(char *h)
{
	size_t n;

	for (char *p = h; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	n = strlen(h);
	if (n > 1 && h[n - 1] == '.')
		h[n - 1] = '\0';
}

static bool parse_pin(const char *tok, struct pin *p, char *why, size_t whylen)
{
	char sb[48];

	memset(p, 0, sizeof(*p));
	if (tok_prefix(tok, "sha256:"))
		return tok_sha256(tok + 7, p->sha256, why, whylen);
	if (tok_prefix(tok, "spki:")) {
		p->spki = true;
		return tok_spki(tok + 5, p->b64, why, whylen);
	}
	snprintf(why, whylen, "pin '%s': expected sha256:<hex> or spki:<base64>",
		 tok_show(tok, sb, sizeof(sb)));
	return false;
}

/* "[v6]:port" into an endpoint key. */
static bool pattern_v6(const char *pat, struct pin_key *k)
{
	const char *br = strchr(pat, ']');
	char a[INET6_ADDRSTRLEN];
	struct in6_addr a6;
	uint16_t port;

	if (!br || br[1] != ':' || (size_t)(br - pat - 1) >= INET6_ADDRSTRLEN)
		return false;
	memcpy(a, pat + 1, (size_t)(br - pat - 1));
	a[br - pat - 1] = '\0';
	if (inet_pton(AF_INET6, a, &a6) != 1 || !parse_port(br + 2, &port))
		return false;
	k->len = ep_key(k->b, CS_AF_INET6, a6.s6_addr, port);
	return true;
}

/* "v4:port" (colon: the last ':' of pat) into an endpoint key. */
static bool pattern_v4(char *pat, char *colon, struct pin_key *k)
{
	struct in_addr a4;
	uint16_t port;
	bool ok;

	*colon = '\0';
	ok = inet_pton(AF_INET, pat, &a4) == 1 && parse_port(colon + 1, &port);
	*colon = ':';
	if (ok)
		k->len = ep_key(k->b, CS_AF_INET, (const uint8_t *)&a4.s_addr, port);
	return ok;
}

/* A host name or *.suffix, normalised in place (the rule is named so). */
static bool pattern_host(struct lists *l, char *pat, struct pin_key *k, char *why, size_t whylen)
{
	bool wild = pat[0] == '*' && pat[1] == '.';
	char *h = pat + (wild ? 2 : 0), sb[64];

	host_norm(h);
	k->m = wild ? &l->pin_wild : &l->pin_host;
	if (strchr(h, '*'))
		snprintf(why, whylen,
			 "pattern '%s': '*' is allowed only as the whole first label "
			 "(*.example.com)",
			 tok_show(pat, sb, sizeof(sb)));
	else if (!host_ok(h))
		snprintf(why, whylen,
			 "pattern '%s': not a host name, *.wildcard, IPv4:port or "
			 "[IPv6]:port",
			 tok_show(pat, sb, sizeof(sb)));
	else {
		k->len = strlen(h);
		memcpy(k->b, h, k->len);
		return true;
	}
	return false;
}

/* The pattern: [v6]:port, v4:port, *.suffix or a host name. */
static bool pin_pattern(struct lists *l, char *pat, struct pin_key *k, char *why, size_t whylen)
{
	char sb[64], *colon;

	if (pat[0] == '[') {
		k->m = &l->pin_ep;
		if (pattern_v6(pat, k))
			return true;
		snprintf(why, whylen, "pattern '%s': expected [IPv6]:port",
			 tok_show(pat, sb, sizeof(sb)));
		return false;
	}
	if ((colon = strrchr(pat, ':'))) {
		k->m = &l->pin_ep;
		if (pattern_v4(pat, colon, k))
			return true;
		snprintf(why, whylen, "pattern '%s': expected IPv4:port or [IPv6]:port",
			 tok_show(pat, sb, sizeof(sb)));
		return false;
	}
	return pattern_host(l, pat, k, why, whylen);
}

/* The pins after the pattern (strtok_r state in save): 1 to LISTS_PINS_PER_RULE. */
static bool rule_pins(struct pin_rule *pr, char **save, const char *pat, char *why, size_t whylen)
{
	char *tok, sb[64];

	while ((tok = strtok_r(NULL, " \t", save)) && !why[0]) {
		if (pr->n == LISTS_PINS_PER_RULE)
			snprintf(why, whylen, "more than %d pins in one rule", LISTS_PINS_PER_RULE);
		else if (parse_pin(tok, &pr->pins[pr->n], why, whylen))
			pr->n++;
	}
	if (!why[0] && !pr->n)
		snprintf(why, whylen, "pattern '%s' has no pins", tok_show(pat, sb, sizeof(sb)));
	return !why[0];
}

/* The rule kept in the arena, named "pattern (file:line)", with its pins as
 * events name them ("sha256:HEX", "spki:B64"). NULL: out of memory. */
static struct pin_rule *rule_keep(struct lists *l, const struct pin_rule *rule, const char *pat,
				  const struct fileread_pos *at)
{
	struct pin_rule *pr = arena_alloc(&l->ar, sizeof(*pr));

	if (!pr)
		return NULL;
	*pr = *rule;
	if (!(pr->where = arena_printf(&l->ar, "%s:%u", at->path, at->no)) ||
	    !(pr->desc = arena_printf(&l->ar, "%s (%s)", pat, pr->where)))
		return NULL;
	for (uint32_t i = 0; i < pr->n; i++) {
		const struct pin *p = &pr->pins[i];
		char hex[65];

		fmt_hex(hex, sizeof(hex), p->sha256, sizeof(p->sha256), true);
		if (!(pr->text[i] = p->spki ? arena_printf(&l->ar, "spki:%s", p->b64) :
					      arena_printf(&l->ar, "sha256:%s", hex)))
			return NULL;
	}
	return pr;
}

static int pins_line(void *ctx, char *line, const struct fileread_pos *at, char *why, size_t whylen)
{
	struct lists *l = ctx;
	char *save = NULL, *pat = strtok_r(line, " \t", &save), sb[64];
	struct pin_rule rule = { 0 };
	const struct pin_rule *pr;
	struct pin_key k = { 0 };
	const void *old = NULL;
	int r;

	if (!rule_pins(&rule, &save, pat, why, whylen) || !pin_pattern(l, pat, &k, why, whylen))
		return -1;
	if (!(pr = rule_keep(l, &rule, pat, at)) ||
	    (r = kmap_put(k.m, &l->ar, &l->seed, k.b, k.len, pr, &old)) < 0) {
		snprintf(why, whylen, "%s",
			 k.m->n >= ENTRIES_MAX ? "too many rules" : "out of memory");
		return -1;
	}
	if (!r) {
		snprintf(why, whylen, "duplicate pattern '%s' (first at %s)",
			 tok_show(pat, sb, sizeof(sb)), ((const struct pin_rule *)old)->where);
		return -1;
	}
	l->sz.pin_rules++;
	return 0;
}

int lists_load_pins(struct lists *l, const char *path, char *err, size_t errlen)
{
	return fileread_lines(path, TEXT_FILE_MAX, pins_line, l, err, errlen);
}

const struct pin_rule *lists_pin_rule(const struct lists *l, const char *sni,
				      const struct report_endpoint *server)
{
	const struct pin_rule *r;
	uint8_t key[19];

	if (!l || !l->sz.pin_rules)
		return NULL;
	if (sni && *sni) {
		char h[TLS_SNI_MAX + 2], *dot;
		size_t n = strnlen(sni, sizeof(h));

		if (n < sizeof(h)) {
			memcpy(h, sni, n + 1);
			host_norm(h);
			if ((r = kmap_get(&l->pin_host, &l->seed, h, strlen(h))))
				return r;
			/* one label, RFC 6125: *.example.com is a.example.com, not
			 * example.com nor a.b.example.com */
			if ((dot = strchr(h, '.')) && dot > h && dot[1] &&
			    (r = kmap_get(&l->pin_wild, &l->seed, dot + 1, strlen(dot + 1))))
				return r;
		}
	}
	if (server && (server->family == CS_AF_INET || server->family == CS_AF_INET6))
		return kmap_get(&l->pin_ep, &l->seed, key,
				ep_key(key, server->family, server->addr, server->port));
	return NULL;
}

bool pin_rule_matches(const struct pin_rule *r, struct cert_facts *const *chain, uint32_t n)
{
	if (!r || !chain || !n)
		return false;
	for (uint32_t i = 0; i < r->n; i++) {
		const struct pin *p = &r->pins[i];

		if (!p->spki) {
			if (chain[0] && !memcmp(chain[0]->sha256, p->sha256, 32))
				return true;
			continue;
		}
		for (uint32_t j = 0; j < n; j++)
			if (chain[j] && chain[j]->parse_ok &&
			    !strcmp(chain[j]->spki_sha256_b64, p->b64))
				return true;
	}
	return false;
}

const char *pin_rule_pattern(const struct pin_rule *r)
{
	return r ? r->desc : NULL;
}

uint32_t pin_rule_pins(const struct pin_rule *r, const char **pins, uint32_t max)
{
	uint32_t i;

	if (!r)
		return 0;
	for (i = 0; i < r->n && i < max; i++)
		pins[i] = r->text[i];
	return i;
}
