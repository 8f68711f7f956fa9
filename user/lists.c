/* lists.c - trust store, CRLs, deny list and pins: parsed whole into one immutable generation. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "certsentry.h"
#include "lists.h"

/* Hostile or mistaken inputs must not exhaust the host: every input is capped. */
#define LINE_MAX_LEN	4096
#define ENTRIES_MAX	10000000u		/* deny lines, pin rules, CRL entries (each) */
#define TEXT_FILE_MAX	((size_t)256 << 20)	/* deny and pins files */
#define CRL_FILE_MAX	((size_t)512 << 20)
#define CRLS_MAX	100000u			/* CRL objects in all */
#define DIR_FILES_MAX	100000u			/* files taken from one directory */
#define WARNINGS_MAX	1000u
#define SERIAL_HEX_MAX	256			/* RFC 5280 says 20 octets; the wild has more */

/* ---- small helpers ---- */

static void fail(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;

	if (!err || !n)
		return;
	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
}

/* The last OpenSSL error's reason, for messages; clears the queue. */
static const char *ossl_why(void)
{
	static __thread char buf[160];
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	snprintf(buf, sizeof(buf), "%s", r ? r : e ? "unknown error" : "no detail");
	ERR_clear_error();
	return buf;
}

/* A token from a file, quoted in a message: printable, short. */
static const char *show(const char *s, char *buf, size_t cap)
{
	size_t i, n = strlen(s);

	for (i = 0; i < n && i + 4 < cap; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (i < n && cap > 4)
		memcpy(buf + i, "...", 3), i += 3;
	buf[i] = '\0';
	return buf;
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

/* Seeded per generation, so nobody can precompute colliding keys. */
static uint32_t hash_mem(uint64_t seed, uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	h ^= seed;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return (uint32_t)mix64(h ^ n);
}

/* ---- arena: keys and strings live as long as the generation ---- */

struct arena {
	struct arena *next;
	size_t used, cap;
	max_align_t data[];
};

static void *arena_alloc(struct arena **ap, size_t n)
{
	struct arena *a = *ap;
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (!a || a->cap - a->used < n) {
		size_t cap = n > 65536 ? n : 65536;

		if (!(a = malloc(sizeof(*a) + cap)))
			return NULL;
		a->next = *ap;
		a->used = 0;
		a->cap = cap;
		*ap = a;
	}
	p = (char *)a->data + a->used;
	a->used += n;
	return p;
}

static char *arena_strndup(struct arena **ap, const char *s, size_t n)
{
	char *p = arena_alloc(ap, n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

static char *arena_printf(struct arena **ap, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *arena_printf(struct arena **ap, const char *fmt, ...)
{
	va_list ap1, ap2;
	int n;
	char *p;

	va_start(ap1, fmt);
	va_copy(ap2, ap1);
	n = vsnprintf(NULL, 0, fmt, ap1);
	va_end(ap1);
	p = n < 0 ? NULL : arena_alloc(ap, (size_t)n + 1);
	if (p)
		vsnprintf(p, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	return p;
}

static void arena_free(struct arena *a)
{
	while (a) {
		struct arena *n = a->next;

		free(a);
		a = n;
	}
}

/* ---- open-addressing hash index: slots hold (hash, entry index + 1) ---- */

struct ht_slot { uint32_t h, idx1; };
struct ht { struct ht_slot *s; uint32_t mask, n; };

/* Room for want entries at <= 50% load, so probes stay short and end. */
static bool ht_reserve(struct ht *t, uint64_t want)
{
	uint64_t cap = t->s ? (uint64_t)t->mask + 1 : 0, nc = cap ? cap : 16;
	struct ht_slot *ns;

	while (nc < want * 2)
		nc *= 2;
	if (nc == cap)
		return true;
	if (nc > ((uint64_t)1 << 31) || !(ns = calloc(nc, sizeof(*ns))))
		return false;
	for (uint64_t i = 0; i < cap; i++) {
		uint64_t j;

		if (!t->s[i].idx1)
			continue;
		for (j = t->s[i].h & (nc - 1); ns[j].idx1; j = (j + 1) & (nc - 1))
			;
		ns[j] = t->s[i];
	}
	free(t->s);
	t->s = ns;
	t->mask = (uint32_t)(nc - 1);
	return true;
}

static bool ht_add(struct ht *t, uint32_t h, uint32_t idx)
{
	uint32_t j;

	if (!ht_reserve(t, (uint64_t)t->n + 1))
		return false;
	for (j = h & t->mask; t->s[j].idx1; j = (j + 1) & t->mask)
		;
	t->s[j].h = h;
	t->s[j].idx1 = idx + 1;
	t->n++;
	return true;
}

#define HT_START UINT32_MAX
/* Next entry index stored under hash h after cursor *c, or UINT32_MAX. */
static uint32_t ht_next(const struct ht *t, uint32_t h, uint32_t *c)
{
	uint32_t j;

	if (!t->s)
		return UINT32_MAX;
	for (j = *c == HT_START ? h & t->mask : (*c + 1) & t->mask; t->s[j].idx1;
	     j = (j + 1) & t->mask)
		if (t->s[j].h == h) {
			*c = j;
			return t->s[j].idx1 - 1;
		}
	return UINT32_MAX;
}

/* ---- byte-string keyed map (deny entries, pin patterns) ---- */

struct kent { const uint8_t *key; uint32_t klen; const void *val; };
struct kmap { struct ht ht; struct kent *e; uint32_t n, cap; };

static const void *kmap_get(const struct kmap *m, uint64_t seed, const void *key, size_t klen)
{
	uint32_t h = hash_mem(seed, 0xcbf29ce484222325ULL, key, klen), c = HT_START, i;

	while ((i = ht_next(&m->ht, h, &c)) != UINT32_MAX)
		if (m->e[i].klen == klen && !memcmp(m->e[i].key, key, klen))
			return m->e[i].val;
	return NULL;
}

/* 1 added, 0 already there (*old set), -1 out of memory or full. */
static int kmap_put(struct kmap *m, struct arena **ar, uint64_t seed, const void *key,
		    size_t klen, const void *val, const void **old)
{
	uint32_t h = hash_mem(seed, 0xcbf29ce484222325ULL, key, klen);
	const void *o = kmap_get(m, seed, key, klen);
	uint8_t *k;

	if (o) {
		if (old)
			*old = o;
		return 0;
	}
	if (m->n >= ENTRIES_MAX)
		return -1;
	if (m->n == m->cap) {
		uint32_t nc = m->cap ? m->cap * 2 : 64;
		struct kent *ne = realloc(m->e, (size_t)nc * sizeof(*ne));

		if (!ne)
			return -1;
		m->e = ne;
		m->cap = nc;
	}
	if (!(k = arena_alloc(ar, klen ? klen : 1)))
		return -1;
	memcpy(k, key, klen);
	if (!ht_add(&m->ht, h, m->n))
		return -1;
	m->e[m->n++] = (struct kent){ k, (uint32_t)klen, val };
	return 1;
}

static void kmap_free(struct kmap *m)
{
	free(m->ht.s);
	free(m->e);
}

/* ---- the generation ---- */

struct crl {
	X509_CRL *crl;
	const char *src;		/* file it came from */
	bool verified;			/* signature checked against the trust store */
	bool indirect;			/* entries may name other issuers (RFC 5280 5.3.3) */
	/* Memo of the lazy check against a seen issuer (under lists.mu): a big
	 * CRL costs milliseconds to hash, a revoked certificate may be seen often. */
	uint8_t lazy_sha256[32];	/* issuer certificate checked */
	int8_t lazy_ok;			/* 0 none, 1 verified, -1 failed */
};

struct crl_ent { X509_REVOKED *r; uint32_t crl; };

struct pin {
	bool spki;
	uint8_t sha256[32];
	char b64[45];			/* canonical base64, compared with cert_facts */
};

struct pin_rule {
	const char *desc;		/* "pattern (file:line)" */
	const char *where;		/* "file:line", for duplicates */
	uint32_t n;
	struct pin pins[LISTS_PINS_PER_RULE];
	const char *text[LISTS_PINS_PER_RULE];	/* "sha256:HEX" / "spki:B64" */
};

struct lists {
	uint64_t seed;
	pthread_mutex_t mu;		/* only the lazy CRL memo changes after load */
	struct arena *ar;
	X509_STORE *store;
	struct crl *crls;
	uint32_t n_crl, cap_crl;
	struct crl_ent *ents;
	uint32_t n_ent, cap_ent;
	struct ht ent_ht;		/* by serial */
	struct { dev_t dev; ino_t ino; } *seen;	/* CRL files loaded, by inode */
	uint32_t n_seen, cap_seen;
	struct kmap deny;		/* 'H'+sha256, 'K'+spki b64, 'S'+serial\0issuer */
	struct kmap pin_host, pin_wild, pin_ep;
	const char **warn;
	uint32_t n_warn, warn_dropped;
	struct lists_sizes sz;
};

static void warn(struct lists *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct lists *l, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	const char **nw;

	if (l->n_warn >= WARNINGS_MAX) {
		l->warn_dropped++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* +2: room for the "N more" line added at the end */
	if (!(nw = realloc(l->warn, (l->n_warn + 2) * sizeof(*nw))))
		return;
	l->warn = nw;
	if ((l->warn[l->n_warn] = arena_strndup(&l->ar, buf, strlen(buf))))
		l->n_warn++;
}

/* RFC 2253, as cert.c prints DNs, for messages. */
static char *dn_text(struct arena **ar, const X509_NAME *n)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s = NULL, *d;
	long len;

	if (b && X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253) >= 0 &&
	    (len = BIO_get_mem_data(b, &d)) >= 0)
		s = arena_strndup(ar, d, (size_t)(len > 512 ? 512 : len));
	BIO_free(b);
	return s ? s : "?";
}

static void time_text(const ASN1_TIME *t, char *buf, size_t cap)
{
	struct tm tm;

	if (!t || !ASN1_TIME_to_tm(t, &tm) || !strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, cap, "?");
}

/* Whole file into memory, NUL-terminated. Only regular files: a FIFO or a
 * device would block or never end. */
static int read_all(const char *path, size_t max, char **out, size_t *outlen, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0, cap;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0) {
		fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		fail(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
		goto bad;
	}
	if (S_ISDIR(st.st_mode)) {
		fail(err, errlen, "%s: is a directory, expected a file", path);
		goto bad;
	}
	if (!S_ISREG(st.st_mode)) {
		fail(err, errlen, "%s: not a regular file", path);
		goto bad;
	}
	if ((uint64_t)st.st_size > max) {
		fail(err, errlen, "%s: larger than %zu bytes", path, max);
		goto bad;
	}
	cap = (size_t)st.st_size + 1;	/* +1 sees growth while reading */
	if (!(buf = malloc(cap + 1))) {
		fail(err, errlen, "%s: out of memory", path);
		goto bad;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *nb;

			if (cap >= max + 1) {
				fail(err, errlen, "%s: larger than %zu bytes", path, max);
				goto bad;
			}
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			if (!(nb = realloc(buf, cap + 1))) {
				fail(err, errlen, "%s: out of memory", path);
				goto bad;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fail(err, errlen, "%s: read error: %s", path, strerror(errno));
			goto bad;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		fail(err, errlen, "%s: larger than %zu bytes", path, max);
		goto bad;
	}
	close(fd);
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
bad:
	free(buf);
	close(fd);
	return -1;
}

/* ---- trust store ---- */

static int count_store_certs(X509_STORE *s)
{
	STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(s);
	int n = 0;

	for (int i = 0; i < sk_X509_OBJECT_num(objs); i++)
		n += X509_OBJECT_get_type(sk_X509_OBJECT_value(objs, i)) == X509_LU_X509;
	return n;
}

/* c_rehash names ("1a2b3c4d.0"): what OpenSSL's -CApath consults. */
static bool hashed_name(const char *n)
{
	int i;

	for (i = 0; i < 8; i++)
		if (!isxdigit((unsigned char)n[i]))
			return false;
	if (n[8] != '.' || !n[9])
		return false;
	for (i = 9; n[i]; i++)
		if (!isdigit((unsigned char)n[i]))
			return false;
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Regular, non-hidden file names of dir, sorted (loads are reproducible). */
static char **dir_files(const char *dir, uint32_t *n, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL, **nv;
	uint32_t cap = 0;

	*n = 0;
	if (!d) {
		fail(err, errlen, "%s: cannot open directory: %s", dir, strerror(errno));
		return NULL;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')	/* ., .., editor and rename-in-place temporaries */
			continue;
		if (*n >= DIR_FILES_MAX) {
			fail(err, errlen, "%s: more than %u files", dir, DIR_FILES_MAX);
			goto bad;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 32;
			if (!(nv = realloc(v, cap * sizeof(*v))))
				goto oom;
			v = nv;
		}
		if (!(v[*n] = strdup(de->d_name)))
			goto oom;
		(*n)++;
	}
	closedir(d);
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_str);
	return v ? v : calloc(1, sizeof(*v));
oom:
	fail(err, errlen, "%s: out of memory", dir);
bad:
	closedir(d);
	for (uint32_t i = 0; i < *n; i++)
		free(v[i]);
	free(v);
	return NULL;
}

static void free_names(char **v, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static char *path_join(const char *dir, const char *name)
{
	char *p;
	size_t dl = strlen(dir);

	if (asprintf(&p, "%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/", name) < 0)
		return NULL;
	return p;
}

static int load_ca_file(struct lists *l, const char *path, char *err, size_t errlen)
{
	struct stat st;

	/* X509_STORE_load_file would say "system lib" for a directory */
	if (stat(path, &st) < 0) {
		fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		fail(err, errlen, "%s: %s", path, S_ISDIR(st.st_mode) ?
		     "is a directory, expected a file (use --ca-path)" : "not a regular file");
		return -1;
	}
	if (X509_STORE_load_file(l->store, path) != 1) {
		fail(err, errlen, "%s: cannot load CA certificates: %s", path, ossl_why());
		return -1;
	}
	return 0;
}

typedef int (*file_loader)(struct lists *l, const char *path, char *err, size_t errlen);

/*
 * Loads the entries v[0..n) of dir that keep() accepts (NULL: all) with
 * load(), stopping at the first error. Subdirectories are not walked: list
 * directories are flat. *used counts the files loaded.
 */
static int load_dir_files(struct lists *l, const char *dir, char **v, uint32_t n,
			  bool (*keep)(const char *name, bool hashed), bool hashed,
			  file_loader load, uint32_t *used, char *err, size_t errlen)
{
	struct stat st;
	int rc = 0;

	*used = 0;
	for (uint32_t i = 0; i < n && !rc; i++) {
		char *p;

		if (keep && !keep(v[i], hashed))
			continue;
		if (!(p = path_join(dir, v[i]))) {
			fail(err, errlen, "%s: out of memory", dir);
			return -1;
		}
		if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
			free(p);
			continue;
		}
		rc = load(l, p, err, errlen);
		(*used)++;
		free(p);
	}
	return rc;
}

/* c_rehash names where the directory has any, else *.pem, *.crt, *.cer. */
static bool ca_file_name(const char *name, bool hashed)
{
	const char *dot = strrchr(name, '.');

	if (hashed)
		return hashed_name(name);
	return dot && (!strcmp(dot, ".pem") || !strcmp(dot, ".crt") || !strcmp(dot, ".cer"));
}

/* Every certificate of the directory, loaded now: the generation must not
 * change when the directory does (a reload makes a new one). */
static int load_ca_dir(struct lists *l, const char *dir, char *err, size_t errlen)
{
	uint32_t n, used;
	char **v = dir_files(dir, &n, err, errlen);
	bool any_hashed = false;
	int rc;

	if (!v)
		return -1;
	for (uint32_t i = 0; i < n; i++)
		any_hashed |= hashed_name(v[i]);
	rc = load_dir_files(l, dir, v, n, ca_file_name, any_hashed, load_ca_file, &used, err,
			    errlen);
	free_names(v, n);
	if (!rc && !used)
		warn(l, "%s: no CA certificate files (hashed names, *.pem, *.crt, *.cer)", dir);
	return rc;
}

static int load_store(struct lists *l, const struct lists_opts *o, char *err, size_t errlen)
{
	if (!(l->store = X509_STORE_new())) {
		fail(err, errlen, "trust store: out of memory");
		return -1;
	}
	if (!o->ca_file && !o->ca_path) {
		if (X509_STORE_set_default_paths(l->store) != 1) {
			fail(err, errlen, "system trust store: %s", ossl_why());
			return -1;
		}
		ERR_clear_error();
	}
	if (o->ca_file && load_ca_file(l, o->ca_file, err, errlen) < 0)
		return -1;
	if (o->ca_path && load_ca_dir(l, o->ca_path, err, errlen) < 0)
		return -1;
	l->sz.ca_certs = (uint32_t)count_store_certs(l->store);
	if (!l->sz.ca_certs)
		warn(l, "trust store: no CA certificates loaded%s",
		     o->ca_file || o->ca_path ? "" : " from the system bundle");
	return 0;
}

/* ---- CRLs ---- */

static uint32_t serial_hash(const struct lists *l, const ASN1_INTEGER *a)
{
	uint64_t neg = ASN1_STRING_type(a) == V_ASN1_NEG_INTEGER;

	return hash_mem(l->seed, 0x9e3779b97f4a7c15ULL * (neg + 1), ASN1_STRING_get0_data(a),
			(size_t)ASN1_STRING_length(a));
}

/* 1: verified by a trust-store certificate of the issuer's name; 0: no
 * such certificate; -1: there is one and the signature does not verify. */
static int crl_check_store(struct lists *l, X509_CRL *c)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *sk = NULL;
	int rc = 0;

	if (ctx && X509_STORE_CTX_init(ctx, l->store, NULL, NULL) == 1)
		sk = X509_STORE_CTX_get1_certs(ctx, X509_CRL_get_issuer(c));
	for (int i = 0; i < sk_X509_num(sk); i++) {
		EVP_PKEY *pk = X509_get0_pubkey(sk_X509_value(sk, i));

		rc = -1;
		if (pk && X509_CRL_verify(c, pk) == 1) {
			rc = 1;
			break;
		}
	}
	sk_X509_pop_free(sk, X509_free);
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();	/* "no certificate found" from the lookup is normal */
	return rc;
}

/* Takes c. A CRL whose signature fails against a known issuer is dropped
 * with a warning: it is forged, corrupt, or not what it says it is. */
static int crl_add(struct lists *l, X509_CRL *c, const char *src, char *err, size_t errlen)
{
	STACK_OF(X509_REVOKED) *revs = X509_CRL_get_REVOKED(c);
	const ASN1_TIME *next = X509_CRL_get0_nextUpdate(c);
	int vs = crl_check_store(l, c), nrev = sk_X509_REVOKED_num(revs);
	char *dn = dn_text(&l->ar, X509_CRL_get_issuer(c)), when[40];
	uint32_t ci;

	if (vs < 0) {
		warn(l, "%s: CRL of %s: signature does not verify against the trust store's "
		     "certificate of that name: not used", src, dn);
		X509_CRL_free(c);
		return 0;
	}
	if (l->n_crl >= CRLS_MAX) {
		fail(err, errlen, "%s: more than %u CRLs in all", src, CRLS_MAX);
		goto bad;
	}
	if (nrev < 0)
		nrev = 0;
	if ((uint64_t)l->n_ent + (uint64_t)nrev > ENTRIES_MAX) {
		fail(err, errlen, "%s: more than %u CRL entries in all", src, ENTRIES_MAX);
		goto bad;
	}
	if (l->n_crl == l->cap_crl) {
		uint32_t nc = l->cap_crl ? l->cap_crl * 2 : 16;
		struct crl *n = realloc(l->crls, nc * sizeof(*n));

		if (!n)
			goto oom;
		l->crls = n;
		l->cap_crl = nc;
	}
	if (l->n_ent + (uint32_t)nrev > l->cap_ent) {
		uint64_t nc = l->cap_ent ? l->cap_ent : 1024;
		struct crl_ent *n;

		while (nc < (uint64_t)l->n_ent + (uint64_t)nrev)
			nc *= 2;
		if (!(n = realloc(l->ents, nc * sizeof(*n))))
			goto oom;
		l->ents = n;
		l->cap_ent = (uint32_t)nc;
	}
	if (!ht_reserve(&l->ent_ht, (uint64_t)l->n_ent + (uint64_t)nrev))
		goto oom;
	ci = l->n_crl++;
	l->crls[ci] = (struct crl){ .crl = c, .src = src, .verified = vs == 1 };
	{
		ISSUING_DIST_POINT *idp = X509_CRL_get_ext_d2i(c, NID_issuing_distribution_point, NULL, NULL);

		l->crls[ci].indirect = idp && idp->indirectCRL;
		ISSUING_DIST_POINT_free(idp);
		ERR_clear_error();
	}
	for (int i = 0; i < nrev; i++) {
		X509_REVOKED *r = sk_X509_REVOKED_value(revs, i);

		/* cannot fail: reserved above */
		ht_add(&l->ent_ht, serial_hash(l, X509_REVOKED_get0_serialNumber(r)), l->n_ent);
		l->ents[l->n_ent++] = (struct crl_ent){ r, ci };
	}
	l->sz.crls++;
	l->sz.crl_entries += (uint32_t)nrev;
	if (next && X509_cmp_time(next, NULL) < 0) {
		time_text(next, when, sizeof(when));
		warn(l, "%s: CRL of %s is past its nextUpdate (%s)", src, dn, when);
		l->sz.crls_stale++;
	}
	if (vs == 0) {
		warn(l, "%s: CRL issuer %s is not in the trust store: its signature is checked "
		     "only against a chain seen from that issuer", src, dn);
		l->sz.crls_unverified++;
	}
	return 0;
oom:
	fail(err, errlen, "%s: out of memory", src);
bad:
	X509_CRL_free(c);
	return -1;
}

static int load_crl_file(struct lists *l, const char *path, char *err, size_t errlen)
{
	char *buf;
	size_t len;
	const char *src;
	struct stat st;
	int n = 0;

	if (read_all(path, CRL_FILE_MAX, &buf, &len, err, errlen) < 0)
		return -1;
	/* The same file twice (a hashed symlink next to its target): once. */
	if (stat(path, &st) == 0) {
		for (uint32_t i = 0; i < l->n_seen; i++)
			if (l->seen[i].dev == st.st_dev && l->seen[i].ino == st.st_ino) {
				free(buf);
				return 0;
			}
		if (l->n_seen == l->cap_seen) {
			uint32_t nc = l->cap_seen ? l->cap_seen * 2 : 16;
			void *nv = realloc(l->seen, nc * sizeof(*l->seen));

			if (!nv) {
				free(buf);
				fail(err, errlen, "%s: out of memory", path);
				return -1;
			}
			l->seen = nv;
			l->cap_seen = nc;
		}
		l->seen[l->n_seen].dev = st.st_dev;
		l->seen[l->n_seen++].ino = st.st_ino;
	}
	if (!(src = arena_strndup(&l->ar, path, strlen(path)))) {
		free(buf);
		fail(err, errlen, "%s: out of memory", path);
		return -1;
	}
	ERR_clear_error();
	if (memmem(buf, len, "-----BEGIN", 10)) {
		BIO *b = BIO_new_mem_buf(buf, (int)len);

		for (;;) {
			X509_CRL *c = b ? PEM_read_bio_X509_CRL(b, NULL, NULL, NULL) : NULL;
			unsigned long e;

			if (!c) {
				e = ERR_peek_last_error();
				if (b && n > 0 && ERR_GET_LIB(e) == ERR_LIB_PEM &&
				    ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
					ERR_clear_error();	/* the end */
					break;
				}
				if (b && !n && ERR_GET_LIB(e) == ERR_LIB_PEM &&
				    ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
					fail(err, errlen, "%s: no PEM CRL in the file (\"-----BEGIN X509 CRL-----\")",
					     path);
				else
					fail(err, errlen, "%s: PEM CRL %d does not parse: %s", path, n + 1,
					     ossl_why());
				ERR_clear_error();
				BIO_free(b);
				free(buf);
				return -1;
			}
			n++;
			if (crl_add(l, c, src, err, errlen) < 0) {
				BIO_free(b);
				free(buf);
				return -1;
			}
		}
		BIO_free(b);
	} else {
		const unsigned char *p = (const unsigned char *)buf, *end = p + len;

		/* one DER CRL, or several back to back */
		while (p < end) {
			long rest = end - p > LONG_MAX ? LONG_MAX : (long)(end - p);
			X509_CRL *c = d2i_X509_CRL(NULL, &p, rest);

			if (!c) {
				fail(err, errlen, "%s: DER CRL %d does not parse%s: %s", path, n + 1,
				     len == 0 ? " (empty file)" : "", ossl_why());
				free(buf);
				return -1;
			}
			n++;
			if (crl_add(l, c, src, err, errlen) < 0) {
				free(buf);
				return -1;
			}
		}
		if (!n) {
			fail(err, errlen, "%s: empty file, expected a CRL", path);
			free(buf);
			return -1;
		}
	}
	free(buf);
	return 0;
}

static int load_crl_path(struct lists *l, const char *path, char *err, size_t errlen)
{
	struct stat st;
	uint32_t n, used;
	char **v;
	int rc;

	if (stat(path, &st) < 0) {
		fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return load_crl_file(l, path, err, errlen);
	if (!(v = dir_files(path, &n, err, errlen)))
		return -1;
	rc = load_dir_files(l, path, v, n, NULL, false, load_crl_file, &used, err, errlen);
	free_names(v, n);
	if (!rc && !used)
		warn(l, "%s: directory holds no CRL files", path);
	return rc;
}

/* 1 verified by issuer's key, -1 not; memoised per CRL for the last issuer. */
static int crl_verify_lazy(struct lists *l, struct crl *cr, const struct cert_facts *issuer)
{
	EVP_PKEY *pk;
	int ok;

	pthread_mutex_lock(&l->mu);
	if (cr->lazy_ok && !memcmp(cr->lazy_sha256, issuer->sha256, 32)) {
		ok = cr->lazy_ok;
		pthread_mutex_unlock(&l->mu);
		return ok;
	}
	pk = X509_get0_pubkey(issuer->x509);
	ok = pk && X509_CRL_verify(cr->crl, pk) == 1 ? 1 : -1;
	ERR_clear_error();
	memcpy(cr->lazy_sha256, issuer->sha256, 32);
	cr->lazy_ok = (int8_t)ok;
	pthread_mutex_unlock(&l->mu);
	return ok;
}

/* X509_CRL_get0_by_cert: 1 listed, 0 not, 2 removeFromCRL. It sorts the
 * entries on first use, under the CRL's own lock. */
static int crl_by_cert(const struct crl *cr, X509 *x)
{
	X509_REVOKED *rv = NULL;
	int rc;

	rc = X509_CRL_get0_by_cert(cr->crl, &rv, x);
	ERR_clear_error();
	return rc;
}

static const char *const reason_names[] = {
	"unspecified", "keyCompromise", "cACompromise", "affiliationChanged",
	"superseded", "cessationOfOperation", "certificateHold", NULL,
	"removeFromCRL", "privilegeWithdrawn", "aACompromise",
};

static int entry_reason(const X509_REVOKED *r)
{
	int crit = 0;
	ASN1_ENUMERATED *e = X509_REVOKED_get_ext_d2i(r, NID_crl_reason, &crit, NULL);
	long v;

	if (!e) {
		ERR_clear_error();
		return -1;
	}
	v = ASN1_ENUMERATED_get(e);
	ASN1_ENUMERATED_free(e);
	return v >= 0 && v <= 255 ? (int)v : -1;
}

bool lists_crl_revoked(const struct lists *l, const struct cert_facts *f,
		       const struct cert_facts *issuer, struct crl_hit *hit)
{
	struct crl_hit tmp;
	const ASN1_INTEGER *sn;
	const X509_NAME *in;
	uint32_t c = HT_START, i, h;
	bool found = false;

	if (!hit)
		hit = &tmp;
	memset(hit, 0, sizeof(*hit));
	hit->reason = -1;
	if (!l || !f || !f->x509 || !l->n_ent)
		return false;
	sn = X509_get0_serialNumber(f->x509);
	in = X509_get_issuer_name(f->x509);
	h = serial_hash(l, sn);
	while ((i = ht_next(&l->ent_ht, h, &c)) != UINT32_MAX) {
		const struct crl_ent *e = &l->ents[i];
		const struct crl *cr = &l->crls[e->crl];
		const X509_NAME *cn = X509_CRL_get_issuer(cr->crl);
		bool ver = cr->verified;
		int reason;
		struct tm tm;

		if (ASN1_INTEGER_cmp(X509_REVOKED_get0_serialNumber(e->r), sn) ||
		    X509_NAME_cmp(cn, in))
			continue;
		/* removeFromCRL (delta CRLs): the certificate is no longer on hold */
		if ((reason = entry_reason(e->r)) == 8)
			continue;
		/* an indirect CRL's entry may belong to another issuer (its
		 * certificateIssuer extension): OpenSSL knows which, ask it */
		if (cr->indirect && crl_by_cert(cr, f->x509) != 1)
			continue;
		if (!ver && issuer && issuer->x509 &&
		    !X509_NAME_cmp(X509_get_subject_name(issuer->x509), cn)) {
			int ok = crl_verify_lazy((struct lists *)l, (struct crl *)cr, issuer);

			/* a CRL the seen issuer did not sign says nothing about its certificates */
			if (ok < 0)
				continue;
			ver = ok > 0;
		}
		if (found && (hit->crl_verified || !ver))
			continue;
		found = true;
		hit->revoked = true;
		hit->crl_verified = ver;
		hit->reason = reason;
		snprintf(hit->reason_str, sizeof(hit->reason_str), "%s",
			 reason >= 0 && reason < (int)(sizeof(reason_names) / sizeof(*reason_names)) &&
			 reason_names[reason] ? reason_names[reason] : reason >= 0 ? "unknown" : "");
		snprintf(hit->source, sizeof(hit->source), "%s", cr->src);
		hit->revocation_time = ASN1_TIME_to_tm(X509_REVOKED_get0_revocationDate(e->r), &tm) ?
				       (int64_t)timegm(&tm) : 0;
		if (ver)
			break;
	}
	return found;
}

/* ---- line files ---- */

struct lines { const char *p, *end, *path; uint32_t no; };

/* Next meaningful line into buf with comments and outer blanks removed:
 * 1, 0 at the end, -1 with err set. A '#' starts a comment at the start of a
 * line or after a blank, so a '#' inside a token (a DN) is kept. */
static int next_line(struct lines *ls, char *buf, char *err, size_t errlen)
{
	while (ls->p < ls->end) {
		const char *nl = memchr(ls->p, '\n', (size_t)(ls->end - ls->p));
		size_t len = nl ? (size_t)(nl - ls->p) : (size_t)(ls->end - ls->p);
		char *s, *e;

		ls->no++;
		if (len > LINE_MAX_LEN) {
			fail(err, errlen, "%s:%u: line longer than %d bytes", ls->path, ls->no, LINE_MAX_LEN);
			return -1;
		}
		if (memchr(ls->p, '\0', len)) {
			fail(err, errlen, "%s:%u: NUL byte (binary file?)", ls->path, ls->no);
			return -1;
		}
		/* a UTF-8 byte order mark, as some editors write one */
		if (ls->no == 1 && len >= 3 && !memcmp(ls->p, "\xef\xbb\xbf", 3))
			ls->p += 3, len -= 3;
		memcpy(buf, ls->p, len);
		buf[len] = '\0';
		ls->p = nl ? nl + 1 : ls->end;
		for (s = buf; *s; s++)
			if (*s == '#' && (s == buf || s[-1] == ' ' || s[-1] == '\t')) {
				*s = '\0';
				break;
			}
		for (s = buf; *s == ' ' || *s == '\t'; s++)
			;
		for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]); e--)
			;
		*e = '\0';
		if (*s) {
			memmove(buf, s, (size_t)(e - s) + 1);
			return 1;
		}
	}
	return 0;
}

static bool prefix(const char *s, const char *p)
{
	return !strncasecmp(s, p, strlen(p));
}

/* Hex digits of s, uppercased, into out (cap incl. NUL); ':' may separate
 * digits. *nd counts every digit, even past cap. NULL or what is wrong. */
static const char *hex_norm(const char *s, char *out, size_t cap, size_t *nd)
{
	size_t n = 0;

	for (const char *p = s; *p; p++) {
		if (*p == ':') {
			if (p == s || !isxdigit((unsigned char)p[-1]) || !isxdigit((unsigned char)p[1]))
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

/* "sha256:<64 hex>" body into 32 bytes, or an error in why (static text). */
static bool parse_sha256(const char *s, uint8_t out[32], char *why, size_t whylen)
{
	char hex[65];
	size_t nd;
	const char *e = hex_norm(s, hex, sizeof(hex), &nd);

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

/* "spki:<base64 of 32 bytes>" body into canonical base64 (44 chars). */
static bool parse_spki(const char *s, char out[45], char *why, size_t whylen)
{
	size_t n = strlen(s);
	unsigned char raw[36];

	if (n != 44) {
		snprintf(why, whylen, "spki: expected 44 base64 characters (a SHA-256), got %zu", n);
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

/* ---- deny file ---- */

static int load_deny(struct lists *l, const char *path, char *err, size_t errlen)
{
	char *data, line[LINE_MAX_LEN + 1], why[160], sb[48];
	size_t len;
	struct lines ls;
	int rc = 0, r;

	if (read_all(path, TEXT_FILE_MAX, &data, &len, err, errlen) < 0)
		return -1;
	ls = (struct lines){ data, data + len, path, 0 };
	while ((r = next_line(&ls, line, err, errlen)) > 0) {
		uint8_t key[LINE_MAX_LEN + 2];
		size_t klen = 0;
		const char *where;
		uint32_t *count = NULL;

		why[0] = '\0';
		if (prefix(line, "sha256:")) {
			if (strpbrk(line, " \t"))
				snprintf(why, sizeof(why), "sha256: unexpected text after the hash");
			else if (parse_sha256(line + 7, key + 1, why, sizeof(why)))
				key[0] = 'H', klen = 33, count = &l->sz.deny_sha256;
		} else if (prefix(line, "spki:")) {
			if (strpbrk(line, " \t"))
				snprintf(why, sizeof(why), "spki: unexpected text after the hash");
			else if (parse_spki(line + 5, (char *)key + 1, why, sizeof(why)))
				key[0] = 'K', klen = 45, count = &l->sz.deny_spki;
		} else if (prefix(line, "serial:")) {
			char *s = line + 7, *sp = s + strcspn(s, " \t"), *is, hex[SERIAL_HEX_MAX + 2];
			size_t nd = 0;
			const char *e;
			bool neg = *s == '-';

			for (is = sp; *is == ' ' || *is == '\t'; is++)
				;
			*sp = '\0';
			if (!(e = hex_norm(s + neg, hex, sizeof(hex), &nd)) && !nd)
				e = "expected hex digits";
			if (e)
				snprintf(why, sizeof(why), "serial: %s", e);
			else if (nd > SERIAL_HEX_MAX)
				snprintf(why, sizeof(why), "serial: longer than %d hex digits", SERIAL_HEX_MAX);
			else if (!prefix(is, "issuer:"))
				snprintf(why, sizeof(why), "serial: expected \"issuer:<DN>\" after the serial");
			else if (!is[7 + strspn(is + 7, " \t")])
				snprintf(why, sizeof(why), "issuer: empty DN");
			else {
				char norm[SERIAL_HEX_MAX + 3];

				is += 7 + strspn(is + 7, " \t");
				if (neg)
					memmove(hex + 1, hex, strlen(hex) + 1), hex[0] = '-';
				serial_norm(hex, norm, sizeof(norm));
				key[0] = 'S';
				klen = 1 + strlen(norm) + 1 + strlen(is);
				memcpy(key + 1, norm, strlen(norm) + 1);
				memcpy(key + 2 + strlen(norm), is, strlen(is));
				count = &l->sz.deny_serial;
			}
		} else {
			char *sp = line + strcspn(line, " \t");

			*sp = '\0';
			snprintf(why, sizeof(why), "unknown entry '%s' (expected sha256:, spki: or serial:)",
				 show(line, sb, sizeof(sb)));
		}
		if (why[0]) {
			fail(err, errlen, "%s:%u: %s", path, ls.no, why);
			rc = -1;
			break;
		}
		if (!(where = arena_printf(&l->ar, "%s:%u", path, ls.no)) ||
		    (r = kmap_put(&l->deny, &l->ar, l->seed, key, klen, where, NULL)) < 0) {
			fail(err, errlen, "%s:%u: %s", path, ls.no, l->deny.n >= ENTRIES_MAX ?
			     "too many entries" : "out of memory");
			rc = -1;
			break;
		}
		*count += r;	/* a repeated entry is harmless: the first one names it */
	}
	if (r < 0)
		rc = -1;
	free(data);
	return rc;
}

const char *lists_denied(const struct lists *l, const struct cert_facts *f)
{
	uint8_t key[LINE_MAX_LEN + SERIAL_HEX_MAX + 8];
	const char *w;

	if (!l || !f || !l->deny.n)
		return NULL;
	key[0] = 'H';
	memcpy(key + 1, f->sha256, 32);
	if ((w = kmap_get(&l->deny, l->seed, key, 33)))
		return w;
	if (!f->parse_ok)
		return NULL;
	if (strlen(f->spki_sha256_b64) == 44) {
		key[0] = 'K';
		memcpy(key + 1, f->spki_sha256_b64, 44);
		if ((w = kmap_get(&l->deny, l->seed, key, 45)))
			return w;
	}
	if (f->serial_hex && f->issuer_dn) {
		char norm[SERIAL_HEX_MAX + 3];
		size_t sl = strlen(f->serial_hex), nl, il = strlen(f->issuer_dn);

		/* longer than any line could hold: cannot be listed */
		if (sl > SERIAL_HEX_MAX + 1 || il > LINE_MAX_LEN)
			return NULL;
		serial_norm(f->serial_hex, norm, sizeof(norm));
		nl = strlen(norm);
		if (1 + nl + 1 + il > sizeof(key))
			return NULL;
		key[0] = 'S';
		memcpy(key + 1, norm, nl + 1);
		memcpy(key + 2 + nl, f->issuer_dn, il);
		return kmap_get(&l->deny, l->seed, key, 2 + nl + il);
	}
	return NULL;
}

/* ---- pins file ---- */

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
	if (prefix(tok, "sha256:"))
		return parse_sha256(tok + 7, p->sha256, why, whylen);
	if (prefix(tok, "spki:")) {
		p->spki = true;
		return parse_spki(tok + 5, p->b64, why, whylen);
	}
	snprintf(why, whylen, "pin '%s': expected sha256:<hex> or spki:<base64>", show(tok, sb, sizeof(sb)));
	return false;
}

static int load_pins(struct lists *l, const char *path, char *err, size_t errlen)
{
	char *data, line[LINE_MAX_LEN + 1], why[200], sb[64];
	size_t len;
	struct lines ls;
	int rc = 0, r;

	if (read_all(path, TEXT_FILE_MAX, &data, &len, err, errlen) < 0)
		return -1;
	ls = (struct lines){ data, data + len, path, 0 };
	while ((r = next_line(&ls, line, err, errlen)) > 0) {
		char *save = NULL, *pat = strtok_r(line, " \t", &save), *tok, *br, *colon;
		struct pin_rule *pr;
		struct kmap *m = NULL;
		uint8_t key[256];
		size_t klen = 0;
		const void *old = NULL;

		why[0] = '\0';
		if (!(pr = arena_alloc(&l->ar, sizeof(*pr))))
			goto oom;
		memset(pr, 0, sizeof(*pr));
		while ((tok = strtok_r(NULL, " \t", &save)) && !why[0]) {
			if (pr->n == LISTS_PINS_PER_RULE)
				snprintf(why, sizeof(why), "more than %d pins in one rule", LISTS_PINS_PER_RULE);
			else if (parse_pin(tok, &pr->pins[pr->n], why, sizeof(why)))
				pr->n++;
		}
		if (!why[0] && !pr->n)
			snprintf(why, sizeof(why), "pattern '%s' has no pins", show(pat, sb, sizeof(sb)));
		if (why[0]) {
			fail(err, errlen, "%s:%u: %s", path, ls.no, why);
			rc = -1;
			break;
		}
		/* the pattern: [v6]:port, v4:port, *.suffix or a host name */
		if (pat[0] == '[') {
			struct in6_addr a6;

			m = &l->pin_ep;
			br = strchr(pat, ']');
			if (br && br[1] == ':' && (size_t)(br - pat - 1) < INET6_ADDRSTRLEN) {
				char a[INET6_ADDRSTRLEN];
				uint16_t port;

				memcpy(a, pat + 1, (size_t)(br - pat - 1));
				a[br - pat - 1] = '\0';
				if (inet_pton(AF_INET6, a, &a6) == 1 && parse_port(br + 2, &port))
					klen = ep_key(key, CS_AF_INET6, a6.s6_addr, port);
				else
					br = NULL;
			} else
				br = NULL;
			if (!br)
				snprintf(why, sizeof(why), "pattern '%s': expected [IPv6]:port",
					 show(pat, sb, sizeof(sb)));
		} else if ((colon = strrchr(pat, ':'))) {
			struct in_addr a4;
			uint16_t port;

			m = &l->pin_ep;
			*colon = '\0';
			if (inet_pton(AF_INET, pat, &a4) == 1 && parse_port(colon + 1, &port)) {
				klen = ep_key(key, CS_AF_INET, (const uint8_t *)&a4.s_addr, port);
				*colon = ':';
			} else {
				*colon = ':';
				snprintf(why, sizeof(why), "pattern '%s': expected IPv4:port or [IPv6]:port",
					 show(pat, sb, sizeof(sb)));
			}
		} else {
			bool wild = pat[0] == '*' && pat[1] == '.';
			char *h = pat + (wild ? 2 : 0);

			host_norm(h);
			m = wild ? &l->pin_wild : &l->pin_host;
			if (strchr(h, '*'))
				snprintf(why, sizeof(why), "pattern '%s': '*' is allowed only as the whole "
					 "first label (*.example.com)", show(pat, sb, sizeof(sb)));
			else if (!host_ok(h))
				snprintf(why, sizeof(why), "pattern '%s': not a host name, *.wildcard, "
					 "IPv4:port or [IPv6]:port", show(pat, sb, sizeof(sb)));
			else {
				klen = strlen(h);
				memcpy(key, h, klen);
			}
		}
		if (why[0]) {
			fail(err, errlen, "%s:%u: %s", path, ls.no, why);
			rc = -1;
			break;
		}
		if (!(pr->where = arena_printf(&l->ar, "%s:%u", path, ls.no)) ||
		    !(pr->desc = arena_printf(&l->ar, "%s (%s)", pat, pr->where)))
			goto oom;
		for (uint32_t i = 0; i < pr->n; i++) {
			char hex[65];

			for (int j = 0; j < 32; j++)
				snprintf(hex + 2 * j, 3, "%02X", pr->pins[i].sha256[j]);
			if (!(pr->text[i] = pr->pins[i].spki ? arena_printf(&l->ar, "spki:%s", pr->pins[i].b64)
							      : arena_printf(&l->ar, "sha256:%s", hex)))
				goto oom;
		}
		if ((r = kmap_put(m, &l->ar, l->seed, key, klen, pr, &old)) < 0)
			goto oom;
		if (!r) {
			fail(err, errlen, "%s:%u: duplicate pattern '%s' (first at %s)", path, ls.no,
			     show(pat, sb, sizeof(sb)), ((const struct pin_rule *)old)->where);
			rc = -1;
			break;
		}
		l->sz.pin_rules++;
		continue;
oom:
		fail(err, errlen, "%s:%u: %s", path, ls.no,
		     m && m->n >= ENTRIES_MAX ? "too many rules" : "out of memory");
		rc = -1;
		break;
	}
	if (r < 0)
		rc = -1;
	free(data);
	return rc;
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
			if ((r = kmap_get(&l->pin_host, l->seed, h, strlen(h))))
				return r;
			/* one label, RFC 6125: *.example.com is a.example.com, not
			 * example.com nor a.b.example.com */
			if ((dot = strchr(h, '.')) && dot > h && dot[1] &&
			    (r = kmap_get(&l->pin_wild, l->seed, dot + 1, strlen(dot + 1))))
				return r;
		}
	}
	if (server && (server->family == CS_AF_INET || server->family == CS_AF_INET6))
		return kmap_get(&l->pin_ep, l->seed, key,
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
			if (chain[j] && chain[j]->parse_ok && !strcmp(chain[j]->spki_sha256_b64, p->b64))
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

/* ---- the whole generation ---- */

void lists_free(struct lists *l)
{
	if (!l)
		return;
	for (uint32_t i = 0; i < l->n_crl; i++)
		X509_CRL_free(l->crls[i].crl);
	free(l->crls);
	free(l->ents);
	free(l->ent_ht.s);
	free(l->seen);
	kmap_free(&l->deny);
	kmap_free(&l->pin_host);
	kmap_free(&l->pin_wild);
	kmap_free(&l->pin_ep);
	free(l->warn);
	X509_STORE_free(l->store);
	arena_free(l->ar);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

struct lists *lists_load(const struct lists_opts *o, char *err, size_t errlen)
{
	struct lists *l;

	if (err && errlen)
		err[0] = '\0';
	if (!o || o->n_crl < 0 || o->n_crl > LISTS_CRL_PATHS_MAX) {
		fail(err, errlen, "lists: bad options");
		return NULL;
	}
	if (!(l = calloc(1, sizeof(*l)))) {
		fail(err, errlen, "lists: out of memory");
		return NULL;
	}
	pthread_mutex_init(&l->mu, NULL);
	if (RAND_bytes((unsigned char *)&l->seed, sizeof(l->seed)) != 1) {
		ERR_clear_error();
		l->seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)l;
	}
	if (load_store(l, o, err, errlen) < 0)
		goto bad;
	for (int i = 0; i < o->n_crl; i++)
		if (!o->crl_paths[i] || load_crl_path(l, o->crl_paths[i], err, errlen) < 0) {
			if (!o->crl_paths[i])
				fail(err, errlen, "lists: CRL path %d is NULL", i);
			goto bad;
		}
	if (o->deny_file && load_deny(l, o->deny_file, err, errlen) < 0)
		goto bad;
	if (o->pins_file && load_pins(l, o->pins_file, err, errlen) < 0)
		goto bad;
	/* the inode list only served to skip duplicates while loading */
	free(l->seen);
	l->seen = NULL;
	l->n_seen = l->cap_seen = 0;
	if (l->warn_dropped && l->warn)
		l->warn[l->n_warn] = arena_printf(&l->ar, "%u more warnings not shown", l->warn_dropped),
		l->n_warn += l->warn[l->n_warn] != NULL;
	return l;
bad:
	lists_free(l);
	ERR_clear_error();
	return NULL;
}

void lists_sizes(const struct lists *l, struct lists_sizes *s)
{
	if (l)
		*s = l->sz;
	else
		memset(s, 0, sizeof(*s));
}

const char *lists_warning(const struct lists *l, uint32_t i)
{
	return l && i < l->n_warn ? l->warn[i] : NULL;
}

X509_STORE *lists_trust_store(const struct lists *l)
{
	return l ? l->store : NULL;
}
