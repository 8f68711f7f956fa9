/* sink_file.c - lines to a file, stdout or any descriptor, written in whole-line batches. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include "sink.h"

#define FILE_BATCH_MAX (64 * 1024) /* lines gathered for one write() */

struct file_sink {
	struct sink s;
	int fd;
	char *path;   /* opened here by name: closed here, reopenable */
	bool regular; /* a regular file: a torn batch can be cut off */
	bool torn;    /* a pipe got part of a batch: start the next on a new line */
	char *ob;     /* the batch: whole lines only */
	size_t ob_len;
	uint64_t ob_lines;
};

/* Appending, whoever opened it (a shell's `>`): a log rotated by
 * copytruncate then goes on at its new end, not at a hole. */
static void adopt_fd(struct file_sink *f, int fd)
{
	struct stat st;
	int fl;

	f->fd = fd;
	f->torn = false;
	f->regular = !fstat(fd, &st) && S_ISREG(st.st_mode);
	if (f->regular && (fl = fcntl(fd, F_GETFL)) >= 0 && !(fl & O_APPEND))
		fcntl(fd, F_SETFL, fl | O_APPEND);
}

/* Writes iov[0..cnt) in order until all is written or a write fails;
 * returns the bytes written. */
static size_t write_all(int fd, struct iovec *iov, int cnt)
{
	size_t done = 0;
	ssize_t w;

	while (cnt > 0) {
		w = writev(fd, iov, cnt);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		done += (size_t)w;
		while (cnt > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return done;
}

/* Lines that got out whole: the newlines among the first done bytes. */
static uint64_t lines_in(const struct iovec *iov, int cnt, size_t done)
{
	uint64_t n = 0;

	for (int i = 0; i < cnt && done; i++) {
		size_t k = iov[i].iov_len < done ? iov[i].iov_len : done;
		const char *p = iov[i].iov_base, *e = p + k;

		while ((p = memchr(p, '\n', (size_t)(e - p)))) {
			n++;
			p++;
		}
		done -= k;
	}
	return n;
}

/*
 * Writes the batch whole or not at all, as far as the reader can tell: on a
 * short write (full disk) a regular file is cut back to where the batch
 * began, so it never ends in half a line; a pipe cannot be cut, so the next
 * batch starts on a fresh line. A broken pipe or a full disk is counted,
 * never fatal: the observer must keep running.
 */
static int write_batch(struct file_sink *f, const struct iovec *batch, int cnt, uint64_t lines)
{
	struct iovec iov[2];
	size_t n = 0, done;
	off_t start;

	if (f->torn && write(f->fd, "\n", 1) == 1)
		f->torn = false;
	for (int i = 0; i < cnt; i++) {
		iov[i] = batch[i];
		n += batch[i].iov_len;
	}
	done = write_all(f->fd, iov, cnt);
	if (done == n) {
		f->s.st.lines += lines;
		return 0;
	}
	f->s.st.write_errors++;
	/* Where the batch began, asked only now: an lseek per batch is a
	 * syscall per wakeup. The offset moved by exactly what was written. */
	start = f->regular && done ? lseek(f->fd, 0, SEEK_CUR) : -1;
	if (start >= (off_t)done && ftruncate(f->fd, start - (off_t)done) == 0)
		done = 0;
	if (done)
		f->torn = true;
	n = lines_in(batch, cnt, done);
	f->s.st.lines += n;
	f->s.st.lost += lines - n;
	return -1;
}

static int file_flush(struct sink *s)
{
	struct file_sink *f = (struct file_sink *)s;
	struct iovec iov = { f->ob, f->ob_len };
	int rc;

	if (!f->ob_len)
		return 0;
	rc = write_batch(f, &iov, 1, f->ob_lines);
	f->ob_len = 0;
	f->ob_lines = 0;
	return rc;
}

/* Adds the line and its '\n' to the batch; file_flush() writes it. */
static int file_write(struct sink *s, const struct sink_line *l)
{
	struct file_sink *f = (struct file_sink *)s;
	const char *line = l->text;
	size_t len = l->len;
	struct iovec iov[2] = { { (void *)line, len }, { "\n", 1 } };

	if (f->ob_len + len + 1 > FILE_BATCH_MAX)
		file_flush(s);	      /* a failure is counted there */
	if (len + 1 > FILE_BATCH_MAX) /* a huge line goes alone */
		return write_batch(f, iov, 2, 1);
	memcpy(f->ob + f->ob_len, line, len);
	f->ob[f->ob_len + len] = '\n';
	f->ob_len += len + 1;
	f->ob_lines++;
	return 0;
}

static int open_path(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);

	if (fd < 0)
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	return fd;
}

/* What was written so far stays in the old file (it belongs to the rotated
 * log); the next batch goes to a file opened anew by the same name. */
static int file_reopen(struct sink *s, char *err, size_t errlen)
{
	struct file_sink *f = (struct file_sink *)s;
	int fd;

	if (!f->path)
		return 0;
	file_flush(s);
	fd = open_path(f->path, err, errlen);
	if (fd < 0)
		return -1;
	close(f->fd);
	adopt_fd(f, fd);
	return 0;
}

static void file_free(struct sink *s)
{
	struct file_sink *f = (struct file_sink *)s;

	file_flush(s);
	if (f->path)
		close(f->fd);
	free(f->path);
	free(f->ob);
	free(f);
}

static const struct sink_ops file_ops = {
	.write = file_write,
	.flush = file_flush,
	.reopen = file_reopen,
	.free = file_free,
};

static struct file_sink *file_new(void)
{
	struct file_sink *f = calloc(1, sizeof(*f));

	if (f && !(f->ob = malloc(FILE_BATCH_MAX))) {
		free(f);
		return NULL;
	}
	if (f) {
		f->s.ops = &file_ops;
		f->s.name = "file";
	}
	return f;
}

struct sink *sink_file_fd(int fd)
{
	struct file_sink *f = fd >= 0 ? file_new() : NULL;

	if (!f)
		return NULL;
	adopt_fd(f, fd);
	return &f->s;
}

struct sink *sink_file_open(const char *path, const struct sink_opts *o, char *err, size_t errlen)
{
	struct file_sink *f = file_new();
	int fd;

	(void)o;
	if (f && !path) {
		adopt_fd(f, STDOUT_FILENO);
		return &f->s;
	}
	if (!f || !(f->path = strdup(path))) {
		snprintf(err, errlen, "out of memory");
		if (f)
			file_free(&f->s);
		return NULL;
	}
	fd = open_path(path, err, errlen);
	if (fd < 0) {
		free(f->path);
		f->path = NULL;
		file_free(&f->s);
		return NULL;
	}
	adopt_fd(f, fd);
	return &f->s;
}
