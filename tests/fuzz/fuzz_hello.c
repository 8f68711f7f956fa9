/* fuzz_hello.c - the ClientHello decoders (tls.c) and everything made from a decoded
 * hello: JA3, JA4, ja4_r (ja.c), names and the summary (hello.c).
 * Input: one mode byte (0 TLS, 1 DTLS, 2 SSLv2, 3 all three), then a hello body. */
#include <openssl/evp.h>

#include "fuzz_common.h"
#include "hello.h"
#include "ja.h"
#include "tls.h"

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static void check_list(uint16_t n, uint16_t total, size_t max)
{
	FUZZ_CHECK(n <= max && n <= total);
	FUZZ_CHECK(n == (total < max ? total : max));
}

/* JA4's hashed part from the matching part of ja4_r (NUL- or '_'-ended
 * at `end`): the first 12 hex digits of its SHA-256, or 000000000000. */
static void check_hash12(const char *hashed, const char *raw, size_t len, bool empty)
{
	uint8_t d[32];
	unsigned dl = 0;
	char want[13];

	if (empty) {
		FUZZ_CHECK(memcmp(hashed, "000000000000", 12) == 0);
		return;
	}
	FUZZ_CHECK(EVP_Digest(raw, len, d, &dl, EVP_sha256(), NULL) && dl == 32);
	for (int i = 0; i < 6; i++)
		snprintf(want + 2 * i, 3, "%02x", d[i]);
	FUZZ_CHECK(memcmp(hashed, want, 12) == 0);
}

static void check_prints(const struct tls_client_hello *ch)
{
	static char js[JA3_STR_MAX + 1], jr[JA4_R_MAX + 1];
	char jh[JA3_HASH_LEN + 1], j4[JA4_LEN + 1], again[JA4_LEN + 1], small[JA4_LEN];
	int rs = ja3_string(ch, js, sizeof(js));
	int rh = ja3_hash(ch, jh, sizeof(jh));
	int r4 = ja4(ch, j4, sizeof(j4));
	int rr = ja4_r(ch, jr, sizeof(jr));
	struct ja_prints p;
	static struct ja_memo *memo; /* the whole run's: later inputs hit */
	struct hello_summary s;

	/* Within the bounds every result fits the documented sizes. */
	FUZZ_CHECK(rs != JA_ERR_SPACE && rh != JA_ERR_SPACE && r4 != JA_ERR_SPACE &&
		   rr != JA_ERR_SPACE);
	FUZZ_CHECK((rs < 0) == (rh < 0));
	FUZZ_CHECK((r4 < 0) == (rr < 0));
	FUZZ_CHECK(!ch->ssl2 || (rs == JA_ERR_SSL2 && r4 == JA_ERR_SSL2));
	if (rs >= 0) {
		FUZZ_CHECK((size_t)rs == strlen(js) && rs <= JA3_STR_MAX);
		FUZZ_CHECK(rh == JA3_HASH_LEN && strlen(jh) == JA3_HASH_LEN && is_hex(jh, 32));
		FUZZ_CHECK(strchr(js, ',') && !strchr(js, ' '));
	} else {
		FUZZ_CHECK(js[0] == 0 && jh[0] == 0);
	}
	if (r4 >= 0) {
		const char *b = jr + 11, *c = strchr(b, '_');

		FUZZ_CHECK(r4 == JA4_LEN && strlen(j4) == JA4_LEN);
		FUZZ_CHECK(j4[0] == (ch->dtls ? 'd' : 't') && j4[10] == '_' && j4[23] == '_');
		FUZZ_CHECK(j4[3] == 'd' || j4[3] == 'i');
		FUZZ_CHECK(is_hex(j4 + 11, 12) && is_hex(j4 + 24, 12));
		FUZZ_CHECK((size_t)rr == strlen(jr) && rr <= JA4_R_MAX);
		FUZZ_CHECK(memcmp(j4, jr, 11) == 0);
		FUZZ_CHECK(c != NULL);
		check_hash12(j4 + 11, b, (size_t)(c - b), c == b);
		/* c: the extension list, then '_' and signature algorithms if any */
		check_hash12(j4 + 24, c + 1, strlen(c + 1), c[1] == 0 || c[1] == '_');
		FUZZ_CHECK(ja4(ch, again, sizeof(again)) == JA4_LEN && strcmp(again, j4) == 0);
		FUZZ_CHECK(ja4(ch, small, sizeof(small)) == JA_ERR_SPACE && small[0] == 0);
	} else {
		FUZZ_CHECK(j4[0] == 0 && jr[0] == 0);
	}
	(void)ja_prints(ch, &p);
	FUZZ_CHECK(strcmp(p.ja3, jh) == 0 && strcmp(p.ja4, j4) == 0);
	/* Twice through one memo: made, then remembered (or an older same-key
	 * input's), equal to what was just made either way. */
	if (!memo)
		memo = ja_memo_new();
	for (int i = 0; i < 2; i++) {
		hello_summarize(ch, memo, &s);
		FUZZ_CHECK(strcmp(s.fp.ja3, jh) == 0 && strcmp(s.fp.ja4, j4) == 0);
	}
	FUZZ_CHECK(s.n_versions <= HELLO_VERSIONS_KEPT && s.n_groups <= HELLO_GROUPS_KEPT &&
		   s.n_sigalgs <= HELLO_SIGALGS_KEPT);
	FUZZ_CHECK(s.n_groups <= s.groups_total && s.n_sigalgs <= s.sigalgs_total);
	for (size_t i = 0; i < s.n_groups; i++) {
		char buf[8];
		const char *l = hello_label(HELLO_GROUP, s.groups[i], buf, sizeof(buf));

		FUZZ_CHECK(l && *l && !hello_is_grease(s.groups[i]));
	}
}

static void check_hello(const struct tls_client_hello *ch, bool dtls, bool ssl2)
{
	FUZZ_CHECK(ch->dtls == dtls && ch->ssl2 == ssl2);
	FUZZ_CHECK(strlen(ch->sni) <= TLS_SNI_MAX && strlen(ch->alpn) <= TLS_ALPN_MAX);
	FUZZ_CHECK(!ch->has_sni || ch->sni[0]);
	FUZZ_CHECK(ch->session_id_len <= 32);
	FUZZ_CHECK(!ch->has_alpn || ch->alpn[0]);
	check_list(ch->n_suites, ch->suites_total, TLS_CH_SUITES_MAX);
	check_list(ch->n_exts, ch->exts_total, TLS_CH_EXTS_MAX);
	check_list(ch->n_groups, ch->groups_total, TLS_CH_GROUPS_MAX);
	check_list(ch->n_sigalgs, ch->sigalgs_total, TLS_CH_SIGALGS_MAX);
	check_list(ch->n_versions, ch->versions_total, TLS_CH_VERSIONS_MAX);
	check_list(ch->n_formats, ch->formats_total, TLS_CH_FORMATS_MAX);
	check_list(ch->n_shares, ch->shares_total, TLS_CH_SHARES_MAX);
	FUZZ_CHECK(!ssl2 || ch->exts_total == 0);
	check_prints(ch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	uint8_t mode = fz_u8(&f) & 3;
	uint8_t *b = fz_dup(f.p, f.n); /* exact size: ASan sees a read past it */
	struct tls_client_hello ch;

	if ((mode == 0 || mode == 3) && tls_parse_client_hello(b, f.n, &ch) == 0)
		check_hello(&ch, false, false);
	if ((mode == 1 || mode == 3) && tls_parse_dtls_client_hello(b, f.n, &ch) == 0)
		check_hello(&ch, true, false);
	if ((mode == 2 || mode == 3) && tls_parse_ssl2_client_hello(b, f.n, &ch) == 0)
		check_hello(&ch, false, true);
	free(b);
	return 0;
}
