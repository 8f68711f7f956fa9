/* fstore.c - fetched objects kept in the state directory: a body file and a meta file per object. */
#include "fstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "fmt.h"

#define META_MAX   (64u << 10) /* a meta file: a few lines and one certificate */
#define META_MAGIC "certsentry-fetched 1"

struct fstore {
	int dfd;
	char *dir;
};

static void key_hex(const uint8_t key[FSTORE_KEY_LEN], char out[2 * FSTORE_KEY_LEN + 1])
{
	fmt_hex(out, 2 * FSTORE_KEY_LEN + 1, key, FSTORE_KEY_LEN, false);
}

/* Our own names only: lowercase, as key_hex writes them. */
static int unhex_key(const char *s, uint8_t key[FSTORE_KEY_LEN])
{
	if (strspn(s, "0123456789abcdef") < 2 * FSTORE_KEY_LEN ||
	    !fmt_unhex(s, 2 * FSTORE_KEY_LEN, key))
		return -1;
	return 0;
}

static int mkdirs(const char *dir)
{
	char p[PATH_MAX];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(p))
		return -1;
	memcpy(p, dir, n + 1);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			if (mkdir(p, 0700) < 0 && errno != EEXIST)
				return -1;
			*s = '/';
		}
	return mkdir(p, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

struct fstore *fstore_open(const char *dir, char *err, size_t errlen)
{
	struct fstore *s;
	struct dirent *de;
	DIR *d;
	int fd;

	if (mkdirs(dir) < 0 || (fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return NULL;
	}
	if (!(s = calloc(1, sizeof(*s))) || !(s->dir = strdup(dir))) {
		free(s);
		close(fd);
		snprintf(err, errlen, "%s: out of memory", dir);
		return NULL;
	}
	s->dfd = fd;
	/* a temporary file is a write that never finished */
	if ((fd = dup(s->dfd)) >= 0 && (d = fdopendir(fd))) {
		rewinddir(d); /* a dup shares the offset a previous walk left at the end */
		while ((de = readdir(d)))
			if (de->d_name[0] == '.' && strstr(de->d_name, ".tmp"))
				unlinkat(s->dfd, de->d_name, 0);
		closedir(d);
	} else if (fd >= 0) {
		close(fd);
	}
	return s;
}

void fstore_close(struct fstore *s)
{
	if (!s)
		return;
	close(s->dfd);
	free(s->dir);
	free(s);
}

const char *fstore_dir(const struct fstore *s)
{
	return s->dir;
}

/* Writes name through a temporary file renamed into place. */
static int write_file(struct fstore *s, const char *name, const void *a, size_t alen, const void *b,
		      size_t blen, char *err, size_t errlen)
{
	char tmp[NAME_MAX];
	const uint8_t *parts[2] = { a, b };
	size_t lens[2] = { alen, blen };
	int fd;

	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	if ((fd = openat(s->dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		goto fail;
	for (int i = 0; i < 2; i++) {
		size_t off = 0;

		while (off < lens[i]) {
			ssize_t w = write(fd, parts[i] + off, lens[i] - off);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				int e = w < 0 ? errno : ENOSPC;

				close(fd);
				unlinkat(s->dfd, tmp, 0);
				errno = e;
				goto fail;
			}
			off += (size_t)w;
		}
	}
	if (close(fd) < 0 || renameat(s->dfd, tmp, s->dfd, name) < 0) {
		int e = errno;

		unlinkat(s->dfd, tmp, 0);
		errno = e;
		goto fail;
	}
	return 0;
fail:
	snprintf(err, errlen, "%s/%s: %s", s->dir, name, strerror(errno));
	return -1;
}

static void sha256_hex(const uint8_t *p, size_t n, char out[65])
{
	uint8_t md[32];

	if (!EVP_Digest(p, n, md, NULL, EVP_sha256(), NULL))
		memset(md, 0, sizeof(md));
	fmt_hex(out, 65, md, 32, false);
}

/* The meta text (without the certificate) into a BIO. */
static BIO *meta_text(const struct fstore_meta *m, const char *sha, size_t len, X509 *cert)
{
	BIO *b = BIO_new(BIO_s_mem());

	if (!b)
		return NULL;
	if (BIO_printf(b,
		       META_MAGIC "\nkind %s\nurl %s\nfetched %" PRId64 "\netag %s\n"
				  "last-modified %" PRId64 "\nsha256 %s\nlen %zu\n",
		       m->kind, m->url, m->fetched, m->etag, m->last_modified, sha, len) <= 0 ||
	    (cert && !PEM_write_bio_X509(b, cert))) {
		BIO_free(b);
		return NULL;
	}
	return b;
}

static int put_meta(struct fstore *s, const char *hex, const struct fstore_meta *m, const char *sha,
		    size_t len, X509 *cert, char *err, size_t errlen)
{
	char name[NAME_MAX];
	BIO *b = meta_text(m, sha, len, cert);
	char *p;
	long n;
	int rc;

	snprintf(name, sizeof(name), "%s.meta", hex);
	if (!b || (n = BIO_get_mem_data(b, &p)) <= 0) {
		BIO_free(b);
		snprintf(err, errlen, "%s/%s: out of memory", s->dir, name);
		return -1;
	}
	rc = write_file(s, name, p, (size_t)n, NULL, 0, err, errlen);
	BIO_free(b);
	return rc;
}

int fstore_put(struct fstore *s, const uint8_t key[FSTORE_KEY_LEN], const struct fstore_meta *m,
	       X509 *cert, const uint8_t *body, size_t len, char *err, size_t errlen)
{
	char hex[2 * FSTORE_KEY_LEN + 1], name[NAME_MAX], sha[65];

	key_hex(key, hex);
	sha256_hex(body, len, sha);
	snprintf(name, sizeof(name), "%s.der", hex);
	if (write_file(s, name, body, len, NULL, 0, err, errlen) < 0)
		return -1;
	return put_meta(s, hex, m, sha, len, cert, err, errlen);
}

void fstore_remove(struct fstore *s, const uint8_t key[FSTORE_KEY_LEN])
{
	char hex[2 * FSTORE_KEY_LEN + 1], name[NAME_MAX];

	key_hex(key, hex);
	snprintf(name, sizeof(name), "%s.meta", hex);
	unlinkat(s->dfd, name, 0);
	snprintf(name, sizeof(name), "%s.der", hex);
	unlinkat(s->dfd, name, 0);
}

/* Whole file if it is at most max bytes; NULL otherwise. NUL-terminated. */
static uint8_t *read_file(struct fstore *s, const char *name, size_t max, size_t *len)
{
	struct stat st;
	uint8_t *p = NULL;
	size_t off = 0;
	int fd = openat(s->dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max ||
	    !(p = malloc((size_t)st.st_size + 1)))
		goto fail;
	while (off < (size_t)st.st_size) {
		ssize_t r = read(fd, p + off, (size_t)st.st_size - off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			goto fail;
		off += (size_t)r;
	}
	p[off] = 0;
	*len = off;
	close(fd);
	return p;
fail:
	free(p);
	close(fd);
	return NULL;
}

/* Parses a meta file; the certificate (if any) into *cert. */
static int parse_meta(char *t, size_t n, struct fstore_meta *m, char sha[65], size_t *len,
		      X509 **cert)
{
	char *pem = strstr(t, "-----BEGIN");
	char *line, *save = NULL;
	int seen = 0;

	memset(m, 0, sizeof(*m));
	*cert = NULL;
	if (pem) {
		BIO *b = BIO_new_mem_buf(pem, (int)(n - (size_t)(pem - t)));

		*cert = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
		BIO_free(b);
		if (!*cert)
			return -1;
		*pem = 0;
	}
	line = strtok_r(t, "\n", &save);
	if (!line || strcmp(line, META_MAGIC))
		return -1;
	while ((line = strtok_r(NULL, "\n", &save))) {
		char *v = strchr(line, ' ');

		if (!v)
			continue;
		*v++ = 0;
		if (!strcmp(line, "kind"))
			snprintf(m->kind, sizeof(m->kind), "%s", v), seen |= 1;
		else if (!strcmp(line, "url"))
			snprintf(m->url, sizeof(m->url), "%s", v), seen |= 2;
		else if (!strcmp(line, "fetched"))
			m->fetched = strtoll(v, NULL, 10);
		else if (!strcmp(line, "etag"))
			snprintf(m->etag, sizeof(m->etag), "%s", v);
		else if (!strcmp(line, "last-modified"))
			m->last_modified = strtoll(v, NULL, 10);
		else if (!strcmp(line, "sha256") && strlen(v) == 64)
			memcpy(sha, v, 65), seen |= 4;
		else if (!strcmp(line, "len"))
			*len = (size_t)strtoull(v, NULL, 10), seen |= 8;
	}
	return seen == 15 ? 0 : -1;
}

int fstore_touch(struct fstore *s, const uint8_t key[FSTORE_KEY_LEN], const struct fstore_meta *m,
		 char *err, size_t errlen)
{
	char hex[2 * FSTORE_KEY_LEN + 1], name[NAME_MAX], sha[65];
	struct fstore_meta old;
	X509 *cert = NULL;
	size_t n = 0, len = 0;
	uint8_t *t;
	int rc = -1;

	key_hex(key, hex);
	snprintf(name, sizeof(name), "%s.meta", hex);
	if (!(t = read_file(s, name, META_MAX, &n)) ||
	    parse_meta((char *)t, n, &old, sha, &len, &cert) < 0) {
		snprintf(err, errlen, "%s/%s: missing or unreadable", s->dir, name);
		goto out;
	}
	rc = put_meta(s, hex, m, sha, len, cert, err, errlen);
out:
	X509_free(cert);
	free(t);
	return rc;
}

uint32_t fstore_each(struct fstore *s, size_t max_body, fstore_each_fn fn, void *ctx,
		     uint32_t *removed)
{
	uint32_t found = 0, gone = 0;
	struct dirent *de;
	DIR *d;
	int fd;

	if ((fd = dup(s->dfd)) < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		if (removed)
			*removed = 0;
		return 0;
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		uint8_t key[FSTORE_KEY_LEN], *meta = NULL, *body = NULL;
		char name[NAME_MAX], sha[65] = "", got[65];
		size_t nl = strlen(de->d_name), mlen = 0, blen = 0, want = 0;
		struct fstore_meta m;
		X509 *cert = NULL;

		if (nl != 2 * FSTORE_KEY_LEN + 4 + (de->d_name[nl - 1] == 'a') ||
		    unhex_key(de->d_name, key) < 0)
			continue;
		/* one visit per object, through its meta file; a body alone
		 * is what a crash between the two renames leaves */
		if (!strcmp(de->d_name + 2 * FSTORE_KEY_LEN, ".der")) {
			snprintf(name, sizeof(name), "%.*s.meta", 2 * FSTORE_KEY_LEN, de->d_name);
			if (faccessat(s->dfd, name, F_OK, 0) < 0 && errno == ENOENT) {
				unlinkat(s->dfd, de->d_name, 0);
				gone++;
			}
			continue;
		}
		if (strcmp(de->d_name + 2 * FSTORE_KEY_LEN, ".meta"))
			continue;
		snprintf(name, sizeof(name), "%.*s.der", 2 * FSTORE_KEY_LEN, de->d_name);
		if ((meta = read_file(s, de->d_name, META_MAX, &mlen)) &&
		    parse_meta((char *)meta, mlen, &m, sha, &want, &cert) == 0 &&
		    want <= max_body && (body = read_file(s, name, max_body, &blen)) &&
		    blen == want) {
			sha256_hex(body, blen, got);
			if (!strcmp(got, sha)) {
				found++;
				free(meta);
				fn(ctx, key, &m, cert, body, blen);
				continue;
			}
		}
		/* torn, corrupt or over the bound: forget it */
		X509_free(cert);
		free(meta);
		free(body);
		fstore_remove(s, key);
		gone++;
	}
	closedir(d);
	if (removed)
		*removed = gone;
	return found;
}
