/* lists_token.c - tokens the line files share: sha256:HEX, spki:B64, hex; quoting them. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <openssl/evp.h>
#include "lists_int.h"

bool tok_prefix(const char *s, const char *p)
{
	return !strncasecmp(s, p, strlen(p));
}

const char *tok_show(const char *s, char *buf, size_t cap)
{
	size_t i, n = strlen(s);

	for (i = 0; i < n && i + 4 < cap; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (i < n && cap > 4)
		memcpy(buf + i, "...", 3), i += 3;
	buf[i] = '\0';
	return buf;
}

const char *tok_hex_norm(const char *s, char *out, size_t cap, size_t *nd)
{
	size_t n = 0;

	for (const char *p = s; *p; p++) {
		if (*p == ':') {
			if (p == s || !isxdigit((unsigned char)p[-1]) ||
			    !isxdigit((unsigned char)p[1]))
				return "':' is allowed only between hex digits";
			continue;
		}
		if (!isxdigit((unsigned char)*p))
			return "not a hex digit";
		if (n + 1 < cap)
			out[n] = (char)toupper((unsigned char)*p);
		n++;
	}
	out[n + 1 < cap ? n : cap - 1] = '\0';
	*nd = n;
	return NULL;
}

static int unhex(char c)
{
	return c <= '9' ? c - '0' : c - 'A' + 10;
}

bool tok_sha256(const char *s, uint8_t out[32], char *why, size_t whylen)
{
	char hex[65];
	size_t nd;
	const char *e = tok_hex_norm(s, hex, sizeof(hex), &nd);

	if (e) {
		snprintf(why, whylen, "sha256: %s", e);
		return false;
	}
	if (nd != 64) {
		snprintf(why, whylen, "sha256: expected 64 hex digits, got %zu", nd);
		return false;
	}
	for (int i = 0; i < 32; i++)
		out[i] = (uint8_t)(unhex(hex[2 * i]) << 4 | unhex(hex[2 * i + 1]));
	return true;
}

bool tok_spki(const char *s, char out[45], char *why, size_t whylen)
{
	size_t n = strlen(s);
	unsigned char raw[36];

	if (n != 44) {
		snprintf(why, whylen, "spki: expected 44 base64 characters (a SHA-256), got %zu",
			 n);
		return false;
	}
	for (size_t i = 0; i < 44; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '/' ||
		      (s[i] == '=' && i == 43))) {
			snprintf(why, whylen, "spki: '%c' at %zu is not base64 here",
				 s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?', i + 1);
			return false;
		}
	if (s[43] != '=' || EVP_DecodeBlock(raw, (const unsigned char *)s, 44) != 33) {
		snprintf(why, whylen, "spki: does not decode to 32 bytes");
		return false;
	}
	/* re-encode: equal hashes compare equal even if spare bits differ */
	EVP_EncodeBlock((unsigned char *)out, raw, 32);
	return true;
}
