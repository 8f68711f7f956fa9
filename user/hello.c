/* hello.c - names for a ClientHello's versions, groups and signature algorithms,
 * and the summary of a hello that a connection keeps. */
#include "hello.h"

#include <stdio.h>
#include <string.h>

struct name {
	uint16_t v;
	const char *name;
};

#define N(t) (sizeof(t) / sizeof((t)[0]))

/* Every table is in ascending order of value: hello_name searches them in
 * halves (a report names up to 28 values).
 * Protocol versions as OpenSSL spells them. TLS 1.3 drafts (0x7fNN, and
 * Facebook's 0x7eNN) are matched by their high byte in hello_name. */
static const struct name versions[] = {
	{ 0x0002, "SSLv2" },	{ 0x0300, "SSLv3" },	{ 0x0301, "TLSv1.0" },
	{ 0x0302, "TLSv1.1" },	{ 0x0303, "TLSv1.2" },	{ 0x0304, "TLSv1.3" },
	{ 0xfefc, "DTLSv1.3" }, { 0xfefd, "DTLSv1.2" }, { 0xfeff, "DTLSv1.0" },
};

/* IANA TLS Supported Groups, with the hybrid post-quantum groups (draft-ietf-tls-
 * ecdhe-mlkem) and the Kyber draft code points browsers sent before them. */
static const struct name groups[] = {
	{ 1, "sect163k1" },
	{ 2, "sect163r1" },
	{ 3, "sect163r2" },
	{ 4, "sect193r1" },
	{ 5, "sect193r2" },
	{ 6, "sect233k1" },
	{ 7, "sect233r1" },
	{ 8, "sect239k1" },
	{ 9, "sect283k1" },
	{ 10, "sect283r1" },
	{ 11, "sect409k1" },
	{ 12, "sect409r1" },
	{ 13, "sect571k1" },
	{ 14, "sect571r1" },
	{ 15, "secp160k1" },
	{ 16, "secp160r1" },
	{ 17, "secp160r2" },
	{ 18, "secp192k1" },
	{ 19, "secp192r1" },
	{ 20, "secp224k1" },
	{ 21, "secp224r1" },
	{ 22, "secp256k1" },
	{ 23, "secp256r1" },
	{ 24, "secp384r1" },
	{ 25, "secp521r1" },
	{ 26, "brainpoolP256r1" },
	{ 27, "brainpoolP384r1" },
	{ 28, "brainpoolP512r1" },
	{ 29, "x25519" },
	{ 30, "x448" },
	{ 31, "brainpoolP256r1tls13" },
	{ 32, "brainpoolP384r1tls13" },
	{ 33, "brainpoolP512r1tls13" },
	{ 34, "GC256A" },
	{ 35, "GC256B" },
	{ 36, "GC256C" },
	{ 37, "GC256D" },
	{ 38, "GC512A" },
	{ 39, "GC512B" },
	{ 40, "GC512C" },
	{ 41, "curveSM2" },
	{ 0x0100, "ffdhe2048" },
	{ 0x0101, "ffdhe3072" },
	{ 0x0102, "ffdhe4096" },
	{ 0x0103, "ffdhe6144" },
	{ 0x0104, "ffdhe8192" },
	{ 0x0200, "MLKEM512" },
	{ 0x0201, "MLKEM768" },
	{ 0x0202, "MLKEM1024" },
	{ 0x11eb, "SecP256r1MLKEM768" },
	{ 0x11ec, "X25519MLKEM768" },
	{ 0x11ed, "SecP384r1MLKEM1024" },
	{ 0x6399, "X25519Kyber768Draft00" },
	{ 0x639a, "SecP256r1Kyber768Draft00" },
	{ 0xff01, "arbitrary_explicit_prime_curves" },
	{ 0xff02, "arbitrary_explicit_char2_curves" },
};

/*
 * IANA TLS SignatureScheme names. The TLS 1.2 (hash, signature) pairs that
 * the registry only reserves "for backward compatibility" (MD5, SHA-224,
 * DSA) are named the same way, after RFC 5246's algorithm names.
 */
static const struct name sigalgs[] = {
	{ 0x0101, "rsa_pkcs1_md5" },
	{ 0x0102, "dsa_md5" },
	{ 0x0103, "ecdsa_md5" },
	{ 0x0201, "rsa_pkcs1_sha1" },
	{ 0x0202, "dsa_sha1" },
	{ 0x0203, "ecdsa_sha1" },
	{ 0x0301, "rsa_pkcs1_sha224" },
	{ 0x0302, "dsa_sha224" },
	{ 0x0303, "ecdsa_sha224" },
	{ 0x0401, "rsa_pkcs1_sha256" },
	{ 0x0402, "dsa_sha256" },
	{ 0x0403, "ecdsa_secp256r1_sha256" },
	{ 0x0501, "rsa_pkcs1_sha384" },
	{ 0x0502, "dsa_sha384" },
	{ 0x0503, "ecdsa_secp384r1_sha384" },
	{ 0x0601, "rsa_pkcs1_sha512" },
	{ 0x0602, "dsa_sha512" },
	{ 0x0603, "ecdsa_secp521r1_sha512" },
	{ 0x0704, "eccsi_sha256" },
	{ 0x0705, "iso_ibs1" },
	{ 0x0706, "iso_ibs2" },
	{ 0x0707, "iso_chinese_ibs" },
	{ 0x0708, "sm2sig_sm3" },
	{ 0x0709, "gostr34102012_256a" },
	{ 0x070a, "gostr34102012_256b" },
	{ 0x070b, "gostr34102012_256c" },
	{ 0x070c, "gostr34102012_256d" },
	{ 0x070d, "gostr34102012_512a" },
	{ 0x070e, "gostr34102012_512b" },
	{ 0x070f, "gostr34102012_512c" },
	{ 0x0804, "rsa_pss_rsae_sha256" },
	{ 0x0805, "rsa_pss_rsae_sha384" },
	{ 0x0806, "rsa_pss_rsae_sha512" },
	{ 0x0807, "ed25519" },
	{ 0x0808, "ed448" },
	{ 0x0809, "rsa_pss_pss_sha256" },
	{ 0x080a, "rsa_pss_pss_sha384" },
	{ 0x080b, "rsa_pss_pss_sha512" },
	{ 0x081a, "ecdsa_brainpoolP256r1tls13_sha256" },
	{ 0x081b, "ecdsa_brainpoolP384r1tls13_sha384" },
	{ 0x081c, "ecdsa_brainpoolP512r1tls13_sha512" },
	{ 0x0904, "mldsa44" },
	{ 0x0905, "mldsa65" },
	{ 0x0906, "mldsa87" },
};

static const struct {
	const struct name *t;
	size_t n;
} tables[] = {
	[HELLO_VERSION] = { versions, N(versions) },
	[HELLO_GROUP] = { groups, N(groups) },
	[HELLO_SIGALG] = { sigalgs, N(sigalgs) },
};

bool hello_is_grease(uint16_t v)
{
	return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

const char *hello_name(enum hello_kind kind, uint16_t v)
{
	size_t lo = 0, hi;

	if ((unsigned)kind >= N(tables))
		return NULL;
	hi = tables[kind].n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct name *e = &tables[kind].t[mid];

		if (e->v == v)
			return e->name;
		if (e->v < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (kind == HELLO_VERSION && ((v >> 8) == 0x7f || (v >> 8) == 0x7e))
		return "TLSv1.3-draft";
	return NULL;
}

const char *hello_label(enum hello_kind kind, uint16_t v, char *buf, size_t cap)
{
	const char *name = hello_name(kind, v);

	if (name)
		return name;
	if (hello_is_grease(v))
		return "GREASE";
	if (cap)
		snprintf(buf, cap, "0x%04x", v);
	return cap ? buf : "";
}

/* ---- summary ---------------------------------------------------------------- */

/* Keeps the first `max` non-GREASE values of list; returns how many kept,
 * counts every non-GREASE value (and any cut from the hello) in *total. */
static uint8_t keep_first(const uint16_t *list, uint16_t n, uint16_t cut_off, uint16_t *out,
			  uint8_t max, uint16_t *total, bool *grease)
{
	uint8_t k = 0;

	*total = cut_off;
	for (size_t i = 0; i < n; i++) {
		if (hello_is_grease(list[i])) {
			*grease = true;
			continue;
		}
		if (k < max)
			out[k++] = list[i];
		(*total)++;
	}
	return k;
}

static bool any_grease(const uint16_t *list, uint16_t n)
{
	for (size_t i = 0; i < n; i++)
		if (hello_is_grease(list[i]))
			return true;
	return false;
}

void hello_summarize(const struct tls_client_hello *ch, struct ja_memo *m, struct hello_summary *s)
{
	bool grease = false;
	uint16_t vt;

	memset(s, 0, sizeof(*s));
	(void)ja_prints_memo(m, ch, &s->fp);
	if (ch->versions_total) {
		s->n_versions = keep_first(ch->versions, ch->n_versions,
					   ch->versions_total - ch->n_versions, s->versions,
					   HELLO_VERSIONS_KEPT, &vt, &grease);
	} else {
		s->versions[0] = ch->version;
		s->n_versions = 1;
	}
	s->n_groups = keep_first(ch->groups, ch->n_groups, ch->groups_total - ch->n_groups,
				 s->groups, HELLO_GROUPS_KEPT, &s->groups_total, &grease);
	s->n_sigalgs = keep_first(ch->sigalgs, ch->n_sigalgs, ch->sigalgs_total - ch->n_sigalgs,
				  s->sigalgs, HELLO_SIGALGS_KEPT, &s->sigalgs_total, &grease);
	(void)keep_first(ch->suites, ch->n_suites, ch->suites_total - ch->n_suites, NULL, 0,
			 &s->suites_total, &grease);
	if (grease || any_grease(ch->exts, ch->n_exts) || any_grease(ch->shares, ch->n_shares))
		s->flags |= HELLO_F_GREASE;
	if (ch->has_psk)
		s->flags |= HELLO_F_PSK;
	if (ch->has_early_data)
		s->flags |= HELLO_F_EARLY_DATA;
	if (ch->ssl2)
		s->flags |= HELLO_F_SSL2;
}
