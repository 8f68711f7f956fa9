/* fetchutil.c - what the CRL, OCSP and AIA fetchers share: URLs from extensions, keys, refresh times. */
#include "fetchutil.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "fmt.h"

/* An http(s) URI without NULs inside, short enough. */
static const char *http_uri(const GENERAL_NAME *g)
{
	const char *s;
	int n;

	if (!g || g->type != GEN_URI || !g->d.uniformResourceIdentifier)
		return NULL;
	s = (const char *)ASN1_STRING_get0_data(g->d.uniformResourceIdentifier);
	n = ASN1_STRING_length(g->d.uniformResourceIdentifier);
	if (!s || n <= 0 || n > FETCH_URL_MAX || strnlen(s, (size_t)n) != (size_t)n)
		return NULL;
	if (strncasecmp(s, "http://", 7) && strncasecmp(s, "https://", 8))
		return NULL;
	return s;
}

static void add_url(struct fu_urls *out, const char *s)
{
	for (uint32_t i = 0; i < out->n; i++)
		if (!strcmp(out->u[i], s))
			return;
	if (out->n >= FU_URLS_MAX) {
		out->skipped = true;
		return;
	}
	snprintf(out->u[out->n++], sizeof(out->u[0]), "%s", s);
}

void fu_dp_urls(const STACK_OF(DIST_POINT) * dps, struct fu_urls *out)
{
	out->n = 0;
	out->skipped = false;
	for (int i = 0; dps && i < sk_DIST_POINT_num(dps); i++) {
		const DIST_POINT *dp = sk_DIST_POINT_value(dps, i);

		/* partial (reasons) and indirect (cRLIssuer) points need CRLs
		 * signed by someone else or several CRLs: not followed */
		if (!dp->distpoint || dp->distpoint->type != 0 || dp->reasons || dp->CRLissuer) {
			out->skipped = true;
			continue;
		}
		for (int j = 0; j < sk_GENERAL_NAME_num(dp->distpoint->name.fullname); j++) {
			const char *s =
				http_uri(sk_GENERAL_NAME_value(dp->distpoint->name.fullname, j));

			if (s)
				add_url(out, s);
			else
				out->skipped = true;
		}
	}
}

void fu_cert_dp_urls(X509 *x, int nid, struct fu_urls *out)
{
	STACK_OF(DIST_POINT) *dps = X509_get_ext_d2i(x, nid, NULL, NULL);

	fu_dp_urls(dps, out);
	sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
}

void fu_aia_urls(X509 *x, int method, struct fu_urls *out)
{
	AUTHORITY_INFO_ACCESS *aia = X509_get_ext_d2i(x, NID_info_access, NULL, NULL);

	out->n = 0;
	out->skipped = false;
	for (int i = 0; aia && i < sk_ACCESS_DESCRIPTION_num(aia); i++) {
		const ACCESS_DESCRIPTION *ad = sk_ACCESS_DESCRIPTION_value(aia, i);
		const char *s;

		if (OBJ_obj2nid(ad->method) != method)
			continue;
		if ((s = http_uri(ad->location)))
			add_url(out, s);
		else
			out->skipped = true;
	}
	AUTHORITY_INFO_ACCESS_free(aia);
}

bool fu_names_have_uri(const GENERAL_NAMES *g, const char *url)
{
	for (int i = 0; g && i < sk_GENERAL_NAME_num(g); i++) {
		const char *s = http_uri(sk_GENERAL_NAME_value(g, i));

		if (s && !strcmp(s, url))
			return true;
	}
	return false;
}

void fu_key(uint8_t out[32], const char *s, ...)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	va_list ap;
	bool ok = m && EVP_DigestInit_ex(m, EVP_sha256(), NULL);

	va_start(ap, s);
	for (const char *p = s; p && ok; p = va_arg(ap, const char *))
		ok = EVP_DigestUpdate(m, p, strlen(p) + 1);
	va_end(ap);
	if (!ok || !EVP_DigestFinal_ex(m, out, NULL))
		memset(out, 0, 32);
	EVP_MD_CTX_free(m);
}

uint32_t fu_memo_slot(const uint8_t cert[32], const uint8_t *issuer)
{
	uint32_t a, b = 0;

	/* digests: their bytes are already mixed */
	memcpy(&a, cert, sizeof(a));
	if (issuer)
		memcpy(&b, issuer + 4, sizeof(b));
	return (a ^ b) % FU_MEMO_SLOTS;
}

static const uint8_t no_issuer[32];

bool fu_memo_holds(const struct fu_memo *m, const uint8_t cert[32], const uint8_t *issuer,
		   uint64_t gen, int64_t now)
{
	return m->gen && m->gen == gen && now > m->after && now <= m->until &&
	       !memcmp(m->cert, cert, 32) && !memcmp(m->issuer, issuer ? issuer : no_issuer, 32);
}

void fu_memo_set(struct fu_memo *m, const uint8_t cert[32], const uint8_t *issuer, uint64_t gen,
		 int64_t after, int64_t until)
{
	memcpy(m->cert, cert, 32);
	memcpy(m->issuer, issuer ? issuer : no_issuer, 32);
	m->gen = gen;
	m->after = after;
	m->until = until;
}

int64_t fu_refresh_at(int64_t now, int64_t next_update, uint32_t min_s, uint32_t max_s)
{
	int64_t iv = max_s;

	if (next_update > now && (next_update - now) / 2 < iv)
		iv = (next_update - now) / 2;
	if (iv >= 10)
		iv -= (int64_t)arc4random_uniform((uint32_t)(iv / 10 + 1));
	if (iv < (int64_t)min_s)
		iv = min_s;
	return now + iv;
}

int64_t fu_retry_at(struct fetch *f, const char *url, enum fetch_result fr, int64_t now,
		    uint32_t max_s)
{
	uint32_t left = fetch_backoff_left(f, url);

	if (fr == FETCH_E_DISALLOWED || fr == FETCH_E_URL)
		return now + max_s;
	return now + (left ? left : 1);
}

int fu_store_open(const char *state_dir, const char *sub, size_t max_body, fstore_each_fn fn,
		  void *ctx, struct fstore **store, char *err, size_t errlen)
{
	char dir[PATH_MAX];

	*store = NULL;
	if (!state_dir)
		return 0;
	if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", state_dir, sub) >= sizeof(dir)) {
		snprintf(err, errlen, "--state-dir: path too long");
		return -1;
	}
	if (!(*store = fstore_open(dir, err, errlen)))
		return -1;
	fstore_each(*store, max_body, fn, ctx, NULL);
	return 0;
}

const char *fu_time_text(int64_t t, char *buf, size_t cap)
{
	if (t)
		fmt_time(buf, cap, t, 0, FMT_S, "-");
	else
		snprintf(buf, cap, "-");
	return buf;
}
