/* lists_int.h - inside the lists module: a generation's layout and what lists_*.c share. */
#ifndef CS_LISTS_INT_H
#define CS_LISTS_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <openssl/x509.h>
#include "fmt.h"
#include "htab.h"
#include "fileread.h"
#include "lists.h"

/* Hostile or mistaken inputs must not exhaust the host: every input is capped. */
#define LINE_MAX_LEN  FILEREAD_LINE_MAX
#define ENTRIES_MAX   10000000u		  /* deny lines, pin rules, CRL entries (each) */
#define TEXT_FILE_MAX ((size_t)256 << 20) /* deny and pins files */
#define CRL_FILE_MAX  ((size_t)512 << 20)
#define CRLS_MAX      100000u /* CRL objects in all */
#define DIR_FILES_MAX 100000u /* files taken from one directory */
#define WARNINGS_MAX  1000u
/* RFC 5280 says 20 octets; the wild has more */
#define SERIAL_HEX_MAX 256

/* ---- lists_index.c: what lookups stand on ---- */

/* Keys and strings that live as long as the generation. */
struct arena;
void *arena_alloc(struct arena **ap, size_t n);
char *arena_strndup(struct arena **ap, const char *s, size_t n);
char *arena_printf(struct arena **ap, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void arena_free(struct arena *a);

/* p (an array of *cap elements of size bytes) with room for need: the
 * capacity doubles from first. The new array, or NULL with p unchanged. */
void *lists_grow(void *p, uint32_t *cap, uint64_t need, size_t size, uint32_t first);

/* The one keyed hash (htab.h), seeded per generation so nobody can
 * precompute colliding keys; h starts a key's parts apart. */
static inline uint32_t lists_hash(const struct hseed *seed, uint64_t h, const void *p, size_t n)
{
	return (uint32_t)hash_more(seed, h, p, n);
}

/* Open-addressing hash index: slots hold (hash, entry index + 1). */
struct hidx_slot {
	uint32_t h, idx1;
};
struct hidx {
	struct hidx_slot *s;
	uint32_t mask, n;
};
/* Room for want entries at <= 50% load, so probes stay short and end. */
bool hidx_reserve(struct hidx *t, uint64_t want);
bool hidx_add(struct hidx *t, uint32_t h, uint32_t idx);
#define HIDX_START UINT32_MAX
/* Next entry index stored under hash h after cursor *c (HIDX_START at first),
 * or UINT32_MAX. */
uint32_t hidx_next(const struct hidx *t, uint32_t h, uint32_t *c);

/* Byte-string keyed map (deny entries, pin patterns). */
struct kent {
	const uint8_t *key;
	uint32_t klen;
	const void *val;
};
struct kmap {
	struct hidx ht;
	struct kent *e;
	uint32_t n, cap;
};
const void *kmap_get(const struct kmap *m, const struct hseed *seed, const void *key, size_t klen);
/* 1 added, 0 already there (*old set), -1 out of memory or full. */
int kmap_put(struct kmap *m, struct arena **ar, const struct hseed *seed, const void *key,
	     size_t klen, const void *val, const void **old);
void kmap_free(struct kmap *m);

/* ---- the generation ---- */

struct crl {
	X509_CRL *crl;
	const char *src; /* file it came from */
	bool verified;	 /* signature checked against the trust store */
	bool indirect;	 /* entries may name other issuers (RFC 5280 5.3.3) */
	/* Memo of the lazy check against a seen issuer (under lists.mu): a big
	 * CRL costs milliseconds to hash, a revoked certificate may be seen often. */
	uint8_t lazy_sha256[32]; /* issuer certificate checked */
	int8_t lazy_ok;		 /* 0 none, 1 verified, -1 failed */
};

struct crl_ent {
	X509_REVOKED *r;
	uint32_t crl;
};

struct pin {
	bool spki;
	uint8_t sha256[32];
	char b64[45]; /* canonical base64, compared with cert_facts */
};

struct pin_rule {
	const char *desc;  /* "pattern (file:line)" */
	const char *where; /* "file:line", for duplicates */
	uint32_t n;
	struct pin pins[LISTS_PINS_PER_RULE];
	const char *text[LISTS_PINS_PER_RULE]; /* "sha256:HEX" / "spki:B64" */
};

struct lists {
	struct hseed seed;
	pthread_mutex_t mu; /* only the lazy CRL memo changes after load */
	struct arena *ar;
	X509_STORE *store;
	struct crl *crls;
	uint32_t n_crl, cap_crl;
	struct crl_ent *ents;
	uint32_t n_ent, cap_ent;
	struct hidx ent_ht; /* by serial */
	struct {
		dev_t dev;
		ino_t ino;
	} * seen; /* CRL files loaded, by inode */
	uint32_t n_seen, cap_seen;
	struct kmap deny; /* 'H'+sha256, 'K'+spki b64, 'S'+serial\0issuer */
	struct kmap pin_host, pin_wild, pin_ep;
	const char **warn;
	uint32_t n_warn, warn_dropped;
	struct lists_sizes sz;
};

/* ---- lists.c: what every part uses ---- */

/* A warning for lists_warning(), kept in the generation. */
void lists_warn(struct lists *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The last OpenSSL error's reason, for messages; clears the queue. */
const char *lists_ossl_why(void);
/* RFC 2253, as cert.c prints DNs, for messages; kept in the arena. */
char *lists_dn_text(struct arena **ar, const X509_NAME *n);
/* RFC 3339 UTC, or "?". */
void lists_time_text(const ASN1_TIME *t, char *buf, size_t cap);

typedef int (*file_loader)(struct lists *l, const char *path, char *err, size_t errlen);
/*
 * Loads the entries v[0..n) of dir that keep() accepts (NULL: all) with
 * load(), stopping at the first error. Subdirectories are not walked: list
 * directories are flat. *used counts the files loaded.
 */
int lists_load_dir_files(struct lists *l, const char *dir, char **v, uint32_t n,
			 bool (*keep)(const char *name, bool hashed), bool hashed, file_loader load,
			 uint32_t *used, char *err, size_t errlen);

/* ---- lists_token.c: tokens the line files share ---- */

/* s starts with p, case-insensitively. */
bool tok_prefix(const char *s, const char *p);
/* A token from a file, quoted in a message: printable, short. */
const char *tok_show(const char *s, char *buf, size_t cap);
/* Hex digits of s, uppercased, into out (cap incl. NUL); ':' may separate
 * digits. *nd counts every digit, even past cap. NULL or what is wrong. */
const char *tok_hex_norm(const char *s, char *out, size_t cap, size_t *nd);
/* "sha256:<64 hex>" body into 32 bytes, or false with why set. */
bool tok_sha256(const char *s, uint8_t out[32], char *why, size_t whylen);
/* "spki:<base64 of 32 bytes>" body into canonical base64 (44 chars). */
bool tok_spki(const char *s, char out[45], char *why, size_t whylen);

/* ---- the parts' loaders, in the order lists_load() calls them ---- */

int lists_load_store(struct lists *l, const struct lists_opts *o, char *err, size_t errlen);
int lists_load_crl_path(struct lists *l, const char *path, char *err, size_t errlen);
int lists_load_deny(struct lists *l, const char *path, char *err, size_t errlen);
int lists_load_pins(struct lists *l, const char *path, char *err, size_t errlen);

#endif
