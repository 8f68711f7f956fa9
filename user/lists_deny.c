/* lists_deny.c - the deny list (--deny): sha256:HEX, spki:B64, serial:HEX issuer:DN a line. */
#include <stdio.h>
#include <string.h>
#include "lists_int.h"

/* A key: 'H'+sha256, 'K'+spki base64, 'S'+serial+NUL+issuer DN. Room for
 * any line's serial and DN; a certificate's longer ones cannot be listed. */
#define DENY_KEY_MAX (LINE_MAX_LEN + SERIAL_HEX_MAX + 8)

struct deny_key {
	uint8_t b[DENY_KEY_MAX];
	size_t len;
};

/* Serial as cert.c prints it, with leading zeros stripped on both sides so
 * "01", "1" and "0001" are one serial. */
static void serial_norm(const char *s, char *out, size_t cap)
{
	bool neg = *s == '-';

	s += neg;
	while (s[0] == '0' && s[1])
		s++;
	snprintf(out, cap, "%s%s", neg ? "-" : "", s);
}

/* 'S' keys: the normalised serial, a NUL, the issuer DN as cert.c prints it. */
static bool serial_key(struct deny_key *k, const char *serial, const char *issuer)
{
	char norm[SERIAL_HEX_MAX + 3];
	size_t nl, il = strlen(issuer);

	serial_norm(serial, norm, sizeof(norm));
	nl = strlen(norm);
	if (1 + nl + 1 + il > sizeof(k->b))
		return false;
	k->b[0] = 'S';
	memcpy(k->b + 1, norm, nl + 1);
	memcpy(k->b + 2 + nl, issuer, il);
	k->len = 2 + nl + il;
	return true;
}

/* "sha256:HEX" and "spki:B64" are one token each. */
static bool hash_entry(char *line, struct deny_key *k, char *why, size_t whylen)
{
	bool spki = tok_prefix(line, "spki:");

	if (strpbrk(line, " \t")) {
		snprintf(why, whylen, "%s: unexpected text after the hash",
			 spki ? "spki" : "sha256");
		return false;
	}
	if (spki && tok_spki(line + 5, (char *)k->b + 1, why, whylen)) {
		k->b[0] = 'K';
		k->len = 45;
		return true;
	}
	if (!spki && tok_sha256(line + 7, k->b + 1, why, whylen)) {
		k->b[0] = 'H';
		k->len = 33;
		return true;
	}
	return false;
}

/* "serial:HEX issuer:DN"; the serial may be negative and ':'-separated. */
static bool serial_entry(char *line, struct deny_key *k, char *why, size_t whylen)
{
	char *s = line + 7, *sp = s + strcspn(s, " \t"), *is, hex[SERIAL_HEX_MAX + 2];
	bool neg = *s == '-';
	const char *e;
	size_t nd = 0;

	for (is = sp; *is == ' ' || *is == '\t'; is++)
		;
	*sp = '\0';
	if (!(e = tok_hex_norm(s + neg, hex, sizeof(hex), &nd)) && !nd)
		e = "expected hex digits";
	if (e)
		snprintf(why, whylen, "serial: %s", e);
	else if (nd > SERIAL_HEX_MAX)
		snprintf(why, whylen, "serial: longer than %d hex digits", SERIAL_HEX_MAX);
	else if (!tok_prefix(is, "issuer:"))
		snprintf(why, whylen, "serial: expected \"issuer:<DN>\" after the serial");
	else if (!is[7 + strspn(is + 7, " \t")])
		snprintf(why, whylen, "issuer: empty DN");
	if (why[0])
		return false;
	is += 7 + strspn(is + 7, " \t");
	if (neg)
		memmove(hex + 1, hex, strlen(hex) + 1), hex[0] = '-';
	return serial_key(k, hex, is); /* fits: the line did */
}

static int deny_line(void *ctx, char *line, const struct fileread_pos *at, char *why, size_t whylen)
{
	struct lists *l = ctx;
	struct deny_key k;
	uint32_t *count;
	const char *where;
	char sb[48];
	int r;

	if (tok_prefix(line, "sha256:") || tok_prefix(line, "spki:")) {
		if (!hash_entry(line, &k, why, whylen))
			return -1;
		count = k.b[0] == 'K' ? &l->sz.deny_spki : &l->sz.deny_sha256;
	} else if (tok_prefix(line, "serial:")) {
		if (!serial_entry(line, &k, why, whylen))
			return -1;
		count = &l->sz.deny_serial;
	} else {
		line[strcspn(line, " \t")] = '\0';
		snprintf(why, whylen, "unknown entry '%s' (expected sha256:, spki: or serial:)",
			 tok_show(line, sb, sizeof(sb)));
		return -1;
	}
	if (!(where = arena_printf(&l->ar, "%s:%u", at->path, at->no)) ||
	    (r = kmap_put(&l->deny, &l->ar, &l->seed, k.b, k.len, where, NULL)) < 0) {
		snprintf(why, whylen, "%s",
			 l->deny.n >= ENTRIES_MAX ? "too many entries" : "out of memory");
		return -1;
	}
	*count += (uint32_t)r; /* a repeated entry is harmless: the first one names it */
	return 0;
}

int lists_load_deny(struct lists *l, const char *path, char *err, size_t errlen)
{
	return fileread_lines(path, TEXT_FILE_MAX, deny_line, l, err, errlen);
}

const char *lists_denied(const struct lists *l, const struct cert_facts *f)
{
	struct deny_key k;
	const char *w;

	if (!l || !f || !l->deny.n)
		return NULL;
	k.b[0] = 'H';
	memcpy(k.b + 1, f->sha256, 32);
	if ((w = kmap_get(&l->deny, &l->seed, k.b, 33)))
		return w;
	if (!f->parse_ok)
		return NULL;
	if (strlen(f->spki_sha256_b64) == 44) {
		k.b[0] = 'K';
		memcpy(k.b + 1, f->spki_sha256_b64, 44);
		if ((w = kmap_get(&l->deny, &l->seed, k.b, 45)))
			return w;
	}
	if (!f->serial_hex || !f->issuer_dn)
		return NULL;
	/* longer than any line could hold: cannot be listed */
	if (strlen(f->serial_hex) > SERIAL_HEX_MAX + 1 || strlen(f->issuer_dn) > LINE_MAX_LEN ||
	    !serial_key(&k, f->serial_hex, f->issuer_dn))
		return NULL;
	return kmap_get(&l->deny, &l->seed, k.b, k.len);
}
