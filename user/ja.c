/* ja.c - JA3 and JA4 client fingerprints, computed from a decoded ClientHello. */
#include "ja.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "hello.h"
#include "htab.h"
#include "lru.h"

#define EXT_SERVER_NAME 0x0000
#define EXT_ALPN	0x0010
#define HASH12_EMPTY	"000000000000"

static const char hexdig[] = "0123456789abcdef";

/* ---- a bounded string builder ------------------------------------------ */

/* p[len] is written only by sb_term and sb_end: a per-character NUL and
 * check was most of a fingerprint's cost besides the digests. */
struct sb {
	char *p;
	size_t cap, len; /* len excludes the NUL; len < cap while !over */
	bool over;	 /* something did not fit */
};

static void sb_init(struct sb *b, char *p, size_t cap)
{
	b->p = p;
	b->cap = cap;
	b->len = 0;
	b->over = cap == 0;
	if (cap)
		p[0] = 0;
}

/* Room for n more characters and the NUL, else over (and nothing written). */
static bool sb_room(struct sb *b, size_t n)
{
	if (b->over || n >= b->cap - b->len) {
		b->over = true;
		return false;
	}
	return true;
}

static void sb_putc(struct sb *b, char c)
{
	if (sb_room(b, 1))
		b->p[b->len++] = c;
}

/* As many of s's n characters as fit, like n sb_putc calls. */
static void sb_puts(struct sb *b, const char *s, size_t n)
{
	size_t k;

	if (b->over)
		return;
	k = n < b->cap - b->len - 1 ? n : b->cap - b->len - 1;
	memcpy(b->p + b->len, s, k);
	b->len += k;
	b->over = k < n;
}

static void sb_dec(struct sb *b, unsigned v)
{
	char d[5]; /* a uint16_t has at most 5 digits */
	int n = 0;

	do {
		d[4 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && n < 5);
	sb_puts(b, d + 5 - n, (size_t)n);
}

static void sb_hex4(struct sb *b, uint16_t v)
{
	char h[4] = { hexdig[v >> 12], hexdig[(v >> 8) & 15], hexdig[(v >> 4) & 15],
		      hexdig[v & 15] };

	sb_puts(b, h, sizeof(h));
}

/* NUL-terminates what was built (sb_end does it for a result). */
static void sb_term(struct sb *b)
{
	if (b->cap)
		b->p[b->len] = 0;
}

/* Length, or the error; out emptied on error. */
static int sb_end(struct sb *b, int err)
{
	if (err == 0 && b->over)
		err = JA_ERR_SPACE;
	if (err) {
		if (b->cap)
			b->p[0] = 0;
		return err;
	}
	sb_term(b);
	return (int)b->len;
}

/* ---- lists ---------------------------------------------------------------- */

/* list without GREASE into out (room for n), returning how many. */
static size_t no_grease(const uint16_t *list, size_t n, uint16_t *out)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (!hello_is_grease(list[i]))
			out[k++] = list[i];
	return k;
}

static void sb_list_dec(struct sb *b, const uint16_t *list, size_t n)
{
	bool first = true;

	for (size_t i = 0; i < n; i++) {
		if (hello_is_grease(list[i]))
			continue;
		if (!first)
			sb_putc(b, '-');
		sb_dec(b, list[i]);
		first = false;
	}
}

static void sb_list_hex(struct sb *b, const uint16_t *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i)
			sb_putc(b, ',');
		sb_hex4(b, list[i]);
	}
}

static int cmp_u16(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

/* Ascending. A hello's lists are short: insertion sort, without qsort's
 * call per comparison; long lists (up to 256 suites) still go to qsort. */
static void sort_u16(uint16_t *v, size_t n)
{
	if (n > 32) {
		qsort(v, n, sizeof(v[0]), cmp_u16);
		return;
	}
	for (size_t i = 1; i < n; i++) {
		uint16_t x = v[i];
		size_t j = i;

		for (; j && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

static bool cut(uint16_t n, uint16_t total)
{
	return n < total;
}

/* ---- JA3 ------------------------------------------------------------------ */

static int ja3_check(const struct tls_client_hello *ch)
{
	if (ch->ssl2)
		return JA_ERR_SSL2;
	if (cut(ch->n_suites, ch->suites_total) || cut(ch->n_exts, ch->exts_total) ||
	    cut(ch->n_groups, ch->groups_total) || cut(ch->n_formats, ch->formats_total))
		return JA_ERR_BOUNDS;
	return 0;
}

int ja3_string(const struct tls_client_hello *ch, char *out, size_t cap)
{
	struct sb b;
	int err = ja3_check(ch);

	sb_init(&b, out, cap);
	if (err)
		return sb_end(&b, err);
	sb_dec(&b, ch->version);
	sb_putc(&b, ',');
	sb_list_dec(&b, ch->suites, ch->n_suites);
	sb_putc(&b, ',');
	sb_list_dec(&b, ch->exts, ch->n_exts);
	sb_putc(&b, ',');
	sb_list_dec(&b, ch->groups, ch->n_groups);
	sb_putc(&b, ',');
	/* Point formats are one byte: no GREASE value exists for them. */
	for (size_t i = 0; i < ch->n_formats; i++) {
		if (i)
			sb_putc(&b, '-');
		sb_dec(&b, ch->formats[i]);
	}
	return sb_end(&b, 0);
}

/* Fetched once: EVP_md5() and EVP_sha256() make EVP_Digest look the
 * implementation up again on every call (OpenSSL 3), which cost more than
 * the hashing. Kept to the end of the process. */
static EVP_MD *md_md5, *md_sha256;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void md_fetch(void)
{
	md_md5 = EVP_MD_fetch(NULL, "MD5", NULL);
	md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *md_get(bool sha256)
{
	pthread_once(&md_once, md_fetch);
	return sha256 ? md_sha256 : md_md5;
}

static int digest_hex(const EVP_MD *md, const char *s, size_t n, char *out, size_t digits)
{
	uint8_t d[EVP_MAX_MD_SIZE];
	unsigned dlen = 0;

	if (!md || !EVP_Digest(s, n, d, &dlen, md, NULL) || dlen * 2 < digits)
		return JA_ERR_DIGEST;
	for (size_t i = 0; i < digits; i++)
		out[i] = hexdig[(d[i / 2] >> (i % 2 ? 0 : 4)) & 15];
	out[digits] = 0;
	return 0;
}

int ja3_hash(const struct tls_client_hello *ch, char *out, size_t cap)
{
	char s[JA3_STR_MAX + 1];
	int n = ja3_string(ch, s, sizeof(s));
	int err;

	if (cap)
		out[0] = 0;
	if (n < 0)
		return n;
	if (cap < JA3_HASH_LEN + 1)
		return JA_ERR_SPACE;
	err = digest_hex(md_get(false), s, (size_t)n, out, JA3_HASH_LEN);
	if (err) {
		out[0] = 0;
		return err;
	}
	return JA3_HASH_LEN;
}

/* ---- JA4 ------------------------------------------------------------------ */

/* The JA4 version code of one version value; "00" for any other. */
static const char *ja4_version_code(uint16_t v)
{
	static const struct {
		uint16_t v;
		char code[3];
	} t[] = {
		{ 0x0304, "13" }, { 0x0303, "12" }, { 0x0302, "11" },
		{ 0x0301, "10" }, { 0x0300, "s3" }, { 0x0002, "s2" },
		{ 0xfeff, "d1" }, { 0xfefd, "d2" }, { 0xfefc, "d3" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].v == v)
			return t[i].code;
	return "00";
}

/* Orders versions by age: DTLS's numbers count down from 0xfeff. */
static unsigned version_rank(uint16_t v)
{
	if ((v >> 8) == 0xfe)
		return 0xfe00u + (0xffu - (v & 0xffu));
	return v;
}

static uint16_t ja4_version(const struct tls_client_hello *ch)
{
	uint16_t best = 0;
	bool any = false;

	if (ch->versions_total == 0)
		return ch->version;
	for (size_t i = 0; i < ch->n_versions; i++) {
		uint16_t v = ch->versions[i];

		if (hello_is_grease(v))
			continue;
		if (!any || version_rank(v) > version_rank(best))
			best = v;
		any = true;
	}
	return any ? best : 0; /* only GREASE: unknown, "00" */
}

static bool alnum(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static void ja4_alpn(const struct tls_client_hello *ch, struct sb *b)
{
	uint8_t f = ch->alpn_ends[0], l = ch->alpn_ends[1];

	if (!ch->has_alpn) {
		sb_puts(b, "00", 2);
	} else if (alnum(f) && alnum(l)) {
		sb_putc(b, (char)f);
		sb_putc(b, (char)l);
	} else {
		sb_putc(b, hexdig[f >> 4]);
		sb_putc(b, hexdig[l & 15]);
	}
}

static bool has_ext(const struct tls_client_hello *ch, uint16_t type)
{
	for (size_t i = 0; i < ch->n_exts; i++)
		if (ch->exts[i] == type)
			return true;
	return false;
}

static unsigned count2(size_t n)
{
	return n > 99 ? 99 : (unsigned)n;
}

/* The three parts of ja4_r; b and c are what JA4 hashes. */
struct ja4_parts {
	char a[11];
	char b[5 * TLS_CH_SUITES_MAX + 1];
	char c[5 * TLS_CH_EXTS_MAX + 1 + 5 * TLS_CH_SIGALGS_MAX + 1];
	size_t b_len, c_len;
	bool no_exts; /* c's extension list is empty */
};

static int ja4_parts(const struct tls_client_hello *ch, struct ja4_parts *p)
{
	uint16_t suites[TLS_CH_SUITES_MAX], exts[TLS_CH_EXTS_MAX], sigs[TLS_CH_SIGALGS_MAX];
	size_t ns, ne, nsig, k = 0;
	struct sb b;

	if (ch->ssl2)
		return JA_ERR_SSL2;
	if (cut(ch->n_suites, ch->suites_total) || cut(ch->n_exts, ch->exts_total) ||
	    cut(ch->n_sigalgs, ch->sigalgs_total) || cut(ch->n_versions, ch->versions_total))
		return JA_ERR_BOUNDS;
	ns = no_grease(ch->suites, ch->n_suites, suites);
	ne = no_grease(ch->exts, ch->n_exts, exts);
	nsig = no_grease(ch->sigalgs, ch->n_sigalgs, sigs);

	sb_init(&b, p->a, sizeof(p->a));
	sb_putc(&b, ch->dtls ? 'd' : 't');
	sb_puts(&b, ja4_version_code(ja4_version(ch)), 2);
	sb_putc(&b, has_ext(ch, EXT_SERVER_NAME) ? 'd' : 'i');
	sb_putc(&b, (char)('0' + count2(ns) / 10));
	sb_putc(&b, (char)('0' + count2(ns) % 10));
	sb_putc(&b, (char)('0' + count2(ne) / 10));
	sb_putc(&b, (char)('0' + count2(ne) % 10));
	ja4_alpn(ch, &b);
	sb_term(&b);

	sort_u16(suites, ns);
	sb_init(&b, p->b, sizeof(p->b));
	sb_list_hex(&b, suites, ns);
	sb_term(&b);
	p->b_len = b.len;

	for (size_t i = 0; i < ne; i++)
		if (exts[i] != EXT_SERVER_NAME && exts[i] != EXT_ALPN)
			exts[k++] = exts[i];
	sort_u16(exts, k);
	sb_init(&b, p->c, sizeof(p->c));
	sb_list_hex(&b, exts, k);
	if (nsig) {
		sb_putc(&b, '_');
		sb_list_hex(&b, sigs, nsig);
	}
	sb_term(&b);
	p->c_len = b.len;
	p->no_exts = k == 0;
	return 0; /* the buffers hold any hello within bounds */
}

static int hash12(const char *s, size_t n, bool empty, char *out)
{
	if (empty) {
		memcpy(out, HASH12_EMPTY, 13);
		return 0;
	}
	return digest_hex(md_get(true), s, n, out, 12);
}

int ja4(const struct tls_client_hello *ch, char *out, size_t cap)
{
	struct ja4_parts p;
	char hb[13], hc[13];
	struct sb b;
	int err = ja4_parts(ch, &p);

	if (!err)
		err = hash12(p.b, p.b_len, p.b_len == 0, hb);
	if (!err)
		err = hash12(p.c, p.c_len, p.no_exts, hc);
	sb_init(&b, out, cap);
	if (err)
		return sb_end(&b, err);
	sb_puts(&b, p.a, strlen(p.a));
	sb_putc(&b, '_');
	sb_puts(&b, hb, 12);
	sb_putc(&b, '_');
	sb_puts(&b, hc, 12);
	return sb_end(&b, 0);
}

int ja4_r(const struct tls_client_hello *ch, char *out, size_t cap)
{
	struct ja4_parts p;
	struct sb b;
	int err = ja4_parts(ch, &p);

	sb_init(&b, out, cap);
	if (err)
		return sb_end(&b, err);
	sb_puts(&b, p.a, strlen(p.a));
	sb_putc(&b, '_');
	sb_puts(&b, p.b, p.b_len);
	sb_putc(&b, '_');
	sb_puts(&b, p.c, p.c_len);
	return sb_end(&b, 0);
}

int ja_prints(const struct tls_client_hello *ch, struct ja_prints *p)
{
	int e3 = ja3_hash(ch, p->ja3, sizeof(p->ja3));
	int e4 = ja4(ch, p->ja4, sizeof(p->ja4));

	if (e3 < 0)
		return e3;
	return e4 < 0 ? e4 : 0;
}

/* ---- remembered prints ------------------------------------------------- */

/* Everything the prints are made of, as one byte string: the version,
 * dtls, ssl2, ALPN ends, each list's kept and total counts, then the lists
 * in wire order. Equal keys, equal prints, whatever the random, session,
 * SNI or key shares. */
#define KEY_LISTS 6
#define KEY_MAX                                                                              \
	(8 + 4 * KEY_LISTS +                                                                 \
	 2 * (TLS_CH_SUITES_MAX + TLS_CH_EXTS_MAX + TLS_CH_GROUPS_MAX + TLS_CH_SIGALGS_MAX + \
	      TLS_CH_VERSIONS_MAX) +                                                         \
	 TLS_CH_FORMATS_MAX)

struct memo_ent {
	struct hnode h;
	struct lru_node lru;
	struct ja_prints p;
	int err;
	uint16_t len;
	uint8_t key[KEY_MAX];
};

struct ja_memo {
	struct htab t;
	struct lru lru; /* most recently used first */
	uint32_t used;	/* entries of e[] ever filled */
	uint64_t hits;
	struct memo_ent e[JA_MEMO_MAX];
};

static size_t key_list(uint8_t *k, size_t at, const void *list, uint16_t n, size_t max,
		       size_t width)
{
	size_t m = n < max ? n : max;

	memcpy(k + at, list, m * width);
	return at + m * width;
}

static size_t ja_key(const struct tls_client_hello *ch, uint8_t k[KEY_MAX])
{
	const uint16_t counts[2 * KEY_LISTS] = {
		ch->n_suites,	ch->suites_total,   ch->n_exts,	   ch->exts_total,
		ch->n_groups,	ch->groups_total,   ch->n_sigalgs, ch->sigalgs_total,
		ch->n_versions, ch->versions_total, ch->n_formats, ch->formats_total,
	};
	size_t at = 8;

	k[0] = (uint8_t)(ch->version >> 8);
	k[1] = (uint8_t)ch->version;
	k[2] = ch->dtls;
	k[3] = ch->ssl2;
	k[4] = ch->has_alpn;
	k[5] = ch->alpn_ends[0];
	k[6] = ch->alpn_ends[1];
	k[7] = 0;
	memcpy(k + at, counts, sizeof(counts));
	at += sizeof(counts);
	at = key_list(k, at, ch->suites, ch->n_suites, TLS_CH_SUITES_MAX, 2);
	at = key_list(k, at, ch->exts, ch->n_exts, TLS_CH_EXTS_MAX, 2);
	at = key_list(k, at, ch->groups, ch->n_groups, TLS_CH_GROUPS_MAX, 2);
	at = key_list(k, at, ch->sigalgs, ch->n_sigalgs, TLS_CH_SIGALGS_MAX, 2);
	at = key_list(k, at, ch->versions, ch->n_versions, TLS_CH_VERSIONS_MAX, 2);
	return key_list(k, at, ch->formats, ch->n_formats, TLS_CH_FORMATS_MAX, 1);
}

struct ja_memo *ja_memo_new(void)
{
	struct ja_memo *m = calloc(1, sizeof(*m));

	if (m && !htab_init(&m->t, JA_MEMO_MAX)) {
		free(m);
		return NULL;
	}
	return m;
}

void ja_memo_free(struct ja_memo *m)
{
	if (!m)
		return;
	htab_fini(&m->t);
	free(m);
}

uint64_t ja_memo_hits(const struct ja_memo *m)
{
	return m ? m->hits : 0;
}

/* A free entry, else the least recently used one, out of the table. */
static struct memo_ent *memo_take(struct ja_memo *m)
{
	struct memo_ent *e;

	if (m->used < JA_MEMO_MAX)
		return &m->e[m->used++];
	e = lru_entry(m->lru.tail, struct memo_ent, lru);
	htab_del(&m->t, &e->h);
	lru_unlink(&m->lru, &e->lru);
	return e;
}

int ja_prints_memo(struct ja_memo *m, const struct tls_client_hello *ch, struct ja_prints *p)
{
	uint8_t key[KEY_MAX];
	struct memo_ent *e;
	struct hnode *n;
	size_t len;
	uint64_t h;
	int err;

	if (!m)
		return ja_prints(ch, p);
	len = ja_key(ch, key);
	h = htab_hash(&m->t, key, len);
	htab_for_hash(&m->t, h, n)
	{
		e = htab_entry(n, struct memo_ent, h);
		if (e->len == len && !memcmp(e->key, key, len)) {
			lru_touch(&m->lru, &e->lru);
			m->hits++;
			*p = e->p;
			return e->err;
		}
	}
	err = ja_prints(ch, p);
	if (err == JA_ERR_DIGEST) /* OpenSSL's trouble, not the hello's */
		return err;
	e = memo_take(m);
	e->p = *p;
	e->err = err;
	e->len = (uint16_t)len;
	memcpy(e->key, key, len);
	htab_add(&m->t, &e->h, h);
	lru_push(&m->lru, &e->lru);
	return err;
}

const char *ja_strerror(int err)
{
	switch (err) {
	case JA_ERR_SPACE:
		return "buffer too small";
	case JA_ERR_BOUNDS:
		return "a list of the hello is longer than kept";
	case JA_ERR_SSL2:
		return "SSLv2-format hello";
	case JA_ERR_DIGEST:
		return "digest failed";
	}
	return err < 0 ? "unknown error" : "ok";
}
