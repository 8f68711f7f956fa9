/* fileread.c - operator files read whole and bounded: bytes, lines with file:line errors, dirs. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fmt.h"
#include "fileread.h"

/* An open descriptor of a regular file of at most max bytes, or -1. */
static int open_regular(const char *path, size_t max, struct stat *st, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0) {
		fmt_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, st) < 0)
		fmt_err(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
	else if (S_ISDIR(st->st_mode))
		fmt_err(err, errlen, "%s: is a directory, expected a file", path);
	else if (!S_ISREG(st->st_mode))
		fmt_err(err, errlen, "%s: not a regular file", path);
	else if ((uint64_t)st->st_size > max)
		fmt_err(err, errlen, "%s: larger than %zu bytes", path, max);
	else
		return fd;
	close(fd);
	return -1;
}

/* Reads fd to its end into *buf (cap bytes + 1 for the NUL), growing it up to
 * max + 1 bytes so a file that grew while read is seen to be too large. */
static int read_to_end(int fd, const char *path, size_t max, char **buf, size_t cap, size_t *len,
		       char *err, size_t errlen)
{
	for (;;) {
		ssize_t n;

		if (*len == cap) {
			char *nb;

			if (cap >= max + 1) {
				fmt_err(err, errlen, "%s: larger than %zu bytes", path, max);
				return -1;
			}
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			if (!(nb = realloc(*buf, cap + 1))) {
				fmt_err(err, errlen, "%s: out of memory", path);
				return -1;
			}
			*buf = nb;
		}
		n = read(fd, *buf + *len, cap - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fmt_err(err, errlen, "%s: read error: %s", path, strerror(errno));
			return -1;
		}
		if (n == 0)
			break;
		*len += (size_t)n;
	}
	if (*len > max) {
		fmt_err(err, errlen, "%s: larger than %zu bytes", path, max);
		return -1;
	}
	return 0;
}

int fileread_all(const char *path, size_t max, char **out, size_t *outlen, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0, cap;
	int fd = open_regular(path, max, &st, err, errlen);

	if (fd < 0)
		return -1;
	cap = (size_t)st.st_size + 1; /* +1 sees growth while reading */
	if (!(buf = malloc(cap + 1))) {
		fmt_err(err, errlen, "%s: out of memory", path);
		goto bad;
	}
	if (read_to_end(fd, path, max, &buf, cap, &len, err, errlen) < 0)
		goto bad;
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

struct lines {
	const char *p, *end;
	struct fileread_pos at;
};

/* buf without its comment and outer blanks, moved to its start: its length. */
static size_t strip(char *buf)
{
	char *s, *e;

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
	memmove(buf, s, (size_t)(e - s) + 1);
	return (size_t)(e - s);
}

/* Next meaningful line into buf (FILEREAD_LINE_MAX + 1 bytes): 1, 0 at the
 * end, -1 with err set. */
static int next_line(struct lines *ls, char *buf, char *err, size_t errlen)
{
	while (ls->p < ls->end) {
		const char *nl = memchr(ls->p, '\n', (size_t)(ls->end - ls->p));
		size_t len = nl ? (size_t)(nl - ls->p) : (size_t)(ls->end - ls->p);

		ls->at.no++;
		if (len > FILEREAD_LINE_MAX) {
			fmt_err(err, errlen, "%s:%u: line longer than %d bytes", ls->at.path,
				ls->at.no, FILEREAD_LINE_MAX);
			return -1;
		}
		if (memchr(ls->p, '\0', len)) {
			fmt_err(err, errlen, "%s:%u: NUL byte (binary file?)", ls->at.path,
				ls->at.no);
			return -1;
		}
		/* a UTF-8 byte order mark, as some editors write one */
		if (ls->at.no == 1 && len >= 3 && !memcmp(ls->p, "\xef\xbb\xbf", 3))
			ls->p += 3, len -= 3;
		memcpy(buf, ls->p, len);
		buf[len] = '\0';
		ls->p = nl ? nl + 1 : ls->end;
		if (strip(buf))
			return 1;
	}
	return 0;
}

int fileread_lines(const char *path, size_t max, fileread_line_fn *fn, void *ctx, char *err,
		   size_t errlen)
{
	/* why may quote a path and a token: room for both, cut only at err's size */
	char *data, line[FILEREAD_LINE_MAX + 1], why[2 * FILEREAD_LINE_MAX];
	struct lines ls;
	size_t len;
	int r;

	if (fileread_all(path, max, &data, &len, err, errlen) < 0)
		return -1;
	ls = (struct lines){ data, data + len, { path, 0 } };
	while ((r = next_line(&ls, line, err, errlen)) > 0) {
		why[0] = '\0';
		if (fn(ctx, line, &ls.at, why, sizeof(why)) < 0) {
			fmt_err(err, errlen, "%s:%u: %s", path, ls.at.no, why);
			r = -1;
			break;
		}
	}
	free(data);
	return r < 0 ? -1 : 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void fileread_dir_free(char **v, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

char **fileread_dir(const char *dir, uint32_t max, uint32_t *n, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL, **nv;
	uint32_t cap = 0;

	*n = 0;
	if (!d) {
		fmt_err(err, errlen, "%s: cannot open directory: %s", dir, strerror(errno));
		return NULL;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (*n >= max) {
			fmt_err(err, errlen, "%s: more than %u files", dir, max);
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
	fmt_err(err, errlen, "%s: out of memory", dir);
bad:
	closedir(d);
	fileread_dir_free(v, *n);
	return NULL;
}
