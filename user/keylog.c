/* keylog.c - TLS secrets by client_random: a bounded store, NSS key-log lines, a file/FIFO follower. */
#include "keylog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fmt.h"
#include "htab.h"

/* ---- names: one table each ------------------------------------------------ */

static const char *const label_names[KEYLOG_LABEL_MAX] = {
	[KEYLOG_CLIENT_RANDOM] = "CLIENT_RANDOM",
	[KEYLOG_CLIENT_EARLY_TRAFFIC_SECRET] = "CLIENT_EARLY_TRAFFIC_SECRET",
	[KEYLOG_CLIENT_HANDSHAKE_TRAFFIC_SECRET] = "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
	[KEYLOG_SERVER_HANDSHAKE_TRAFFIC_SECRET] = "SERVER_HANDSHAKE_TRAFFIC_SECRET",
	[KEYLOG_CLIENT_TRAFFIC_SECRET_0] = "CLIENT_TRAFFIC_SECRET_0",
	[KEYLOG_SERVER_TRAFFIC_SECRET_0] = "SERVER_TRAFFIC_SECRET_0",
	[KEYLOG_EXPORTER_SECRET] = "EXPORTER_SECRET",
};

static const char *const outcome_names[KEYLOG_OUTCOME_MAX] = {
	[KEYLOG_ADDED] = "added",
	[KEYLOG_DUPLICATE] = "duplicate",
	[KEYLOG_COMMENT] = "comment",
	[KEYLOG_UNUSED] = "unused_label",
	[KEYLOG_BAD_LABEL] = "bad_label",
	[KEYLOG_BAD_FORMAT] = "bad_format",
	[KEYLOG_BAD_RANDOM] = "bad_random_length",
	[KEYLOG_BAD_SECRET] = "bad_secret_length",
	[KEYLOG_BAD_HEX] = "bad_hex",
	[KEYLOG_TOO_LONG] = "too_long",
	[KEYLOG_PARTIAL] = "partial",
	[KEYLOG_CONFLICT] = "conflict",
};

const char *keylog_label_name(enum keylog_label l)
{
	return (unsigned)l < KEYLOG_LABEL_MAX ? label_names[l] : NULL;
}

const char *keylog_outcome_name(enum keylog_outcome o)
{
	return (unsigned)o < KEYLOG_OUTCOME_MAX ? outcome_names[o] : NULL;
}

/* CLIENT_RANDOM carries TLS 1.2's 48-byte master secret; the TLS 1.3
 * secrets are one hash long: SHA-256 or SHA-384. */
static bool secret_len_ok(enum keylog_label l, size_t len)
{
	if (l == KEYLOG_CLIENT_RANDOM)
		return len == 48;
	return len == 32 || len == 48;
}

/* ---- the store ------------------------------------------------------------- */

struct entry {
	struct hnode h;	     /* keyed hash of random; h.next links the free list */
	struct lru_node age; /* by first secret, newest at the head */
	uint64_t created_ns;
	uint8_t random[KEYLOG_RANDOM_LEN];
	uint8_t have; /* bit per label held */
	bool used;    /* looked up at least once */
	uint8_t len[KEYLOG_LABEL_MAX];
	uint8_t secret[KEYLOG_LABEL_MAX][KEYLOG_SECRET_MAX];
};

struct keylog {
	struct entry *pool; /* max entries, mmap'd: no core dump holds them */
	size_t pool_bytes;
	uint32_t fresh;	    /* pool[fresh..] never used: pages untouched */
	struct hnode *free; /* used, then dropped */
	struct htab t;
	uint32_t max_entries;
	uint64_t ttl_ns;
	uint32_t labels;
	struct lru age;
	struct keylog_stats st;
};

struct keylog *keylog_new(const struct keylog_config *cfg)
{
	struct keylog *k = calloc(1, sizeof(*k));
	uint32_t max = cfg && cfg->max_entries ? cfg->max_entries : KEYLOG_ENTRIES_DEFAULT;

	if (!k || max > (1u << 24))
		goto fail;
	k->max_entries = max;
	k->ttl_ns = cfg && cfg->ttl_ns ? cfg->ttl_ns : KEYLOG_TTL_DEFAULT_NS;
	k->labels = cfg && cfg->labels ? cfg->labels : (1u << KEYLOG_LABEL_MAX) - 1;
	if (!htab_init(&k->t, max))
		goto fail;
	k->pool_bytes = (size_t)max * sizeof(struct entry);
	k->pool = mmap(NULL, k->pool_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		       0);
	if (k->pool == MAP_FAILED) {
		k->pool = NULL;
		goto fail;
	}
	/* Best effort: a kernel without it still works, the secrets are still
	 * wiped as soon as they are not needed. */
	madvise(k->pool, k->pool_bytes, MADV_DONTDUMP);
	return k;
fail:
	keylog_free(k);
	return NULL;
}

void keylog_free(struct keylog *k)
{
	if (!k)
		return;
	if (k->pool) {
		explicit_bzero(k->pool, (size_t)k->fresh * sizeof(struct entry));
		munmap(k->pool, k->pool_bytes);
	}
	htab_fini(&k->t);
	free(k);
}

static struct entry *lookup(const struct keylog *k, const uint8_t *random)
{
	struct hnode *n;

	htab_for_hash(&k->t, htab_hash(&k->t, random, KEYLOG_RANDOM_LEN), n)
	{
		struct entry *e = htab_entry(n, struct entry, h);

		if (!memcmp(e->random, random, KEYLOG_RANDOM_LEN))
			return e;
	}
	return NULL;
}

/* Unlinks, wipes and frees e. */
static void drop_entry(struct keylog *k, struct entry *e)
{
	htab_del(&k->t, &e->h);
	lru_unlink(&k->age, &e->age);
	explicit_bzero(e, sizeof(*e));
	e->h.next = k->free;
	k->free = &e->h;
	k->st.entries--;
}

void keylog_expire(struct keylog *k, uint64_t now_ns)
{
	struct lru_node *n;

	while ((n = k->age.tail)) {
		struct entry *e = lru_entry(n, struct entry, age);

		/* A clock that went back (or two clocks) never expires early. */
		if (now_ns < e->created_ns || now_ns - e->created_ns < k->ttl_ns)
			break;
		k->st.expired++;
		if (!e->used)
			k->st.expired_unused++;
		drop_entry(k, e);
	}
}

static struct entry *entry_new(struct keylog *k, const uint8_t *random, uint64_t now_ns)
{
	struct entry *e;

	if (!k->free && k->fresh < k->max_entries) {
		e = &k->pool[k->fresh++];
	} else {
		if (!k->free) { /* full: the oldest goes */
			k->st.evicted++;
			drop_entry(k, lru_entry(k->age.tail, struct entry, age));
		}
		e = htab_entry(k->free, struct entry, h);
		k->free = e->h.next;
	}
	memcpy(e->random, random, KEYLOG_RANDOM_LEN);
	e->created_ns = now_ns;
	htab_add(&k->t, &e->h, htab_hash(&k->t, random, KEYLOG_RANDOM_LEN));
	lru_push(&k->age, &e->age);
	k->st.entries++;
	return e;
}

static enum keylog_outcome count(struct keylog *k, enum keylog_outcome o)
{
	k->st.outcome[o]++;
	return o;
}

void keylog_count(struct keylog *k, enum keylog_outcome o)
{
	if ((unsigned)o < KEYLOG_OUTCOME_MAX) {
		k->st.lines++;
		count(k, o);
	}
}

/* A valid secret: store it unless held already. */
static enum keylog_outcome store(struct keylog *k, enum keylog_label l, const uint8_t *random,
				 const uint8_t *secret, size_t len, uint64_t now_ns)
{
	struct entry *e;

	if (!(k->labels & 1u << l))
		return count(k, KEYLOG_UNUSED);
	keylog_expire(k, now_ns);
	e = lookup(k, random);
	if (!e)
		e = entry_new(k, random, now_ns);
	if (e->have & 1u << l) {
		if (e->len[l] == len && !memcmp(e->secret[l], secret, len))
			return count(k, KEYLOG_DUPLICATE);
		return count(k, KEYLOG_CONFLICT);
	}
	memcpy(e->secret[l], secret, len);
	e->len[l] = (uint8_t)len;
	e->have |= (uint8_t)(1u << l);
	return count(k, KEYLOG_ADDED);
}

enum keylog_outcome keylog_add(struct keylog *k, enum keylog_label label,
			       const uint8_t random[KEYLOG_RANDOM_LEN], const uint8_t *secret,
			       size_t len, uint64_t now_ns)
{
	k->st.lines++;
	if ((unsigned)label >= KEYLOG_LABEL_MAX)
		return count(k, KEYLOG_BAD_LABEL);
	if (!secret_len_ok(label, len))
		return count(k, KEYLOG_BAD_SECRET);
	return store(k, label, random, secret, len, now_ns);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

struct field {
	const char *p;
	size_t n;
};

/* Up to max fields separated by spaces or tabs; returns how many there
 * were (max + 1 if more). */
static unsigned split(const char *s, size_t n, struct field *f, unsigned max)
{
	unsigned nf = 0;
	size_t i = 0;

	while (i < n) {
		size_t start;

		while (i < n && is_space(s[i]))
			i++;
		if (i == n)
			break;
		if (nf == max)
			return max + 1;
		start = i;
		while (i < n && !is_space(s[i]))
			i++;
		f[nf].p = s + start;
		f[nf].n = i - start;
		nf++;
	}
	return nf;
}

static int label_of(const struct field *f)
{
	for (int l = 0; l < KEYLOG_LABEL_MAX; l++)
		if (strlen(label_names[l]) == f->n && !memcmp(label_names[l], f->p, f->n))
			return l;
	return -1;
}

enum keylog_outcome keylog_add_line(struct keylog *k, const char *line, size_t len, uint64_t now_ns)
{
	uint8_t random[KEYLOG_RANDOM_LEN], secret[KEYLOG_SECRET_MAX];
	struct field f[3];
	enum keylog_outcome o;
	unsigned nf;
	int l;

	k->st.lines++;
	if (len > KEYLOG_LINE_MAX)
		return count(k, KEYLOG_TOO_LONG);
	if (len > 0 && line[len - 1] == '\r')
		len--;
	nf = split(line, len, f, 3);
	if (nf == 0 || f[0].p[0] == '#')
		return count(k, KEYLOG_COMMENT);
	l = label_of(&f[0]);
	if (l < 0)
		return count(k, KEYLOG_BAD_LABEL);
	if (nf != 3)
		return count(k, KEYLOG_BAD_FORMAT);
	if (f[1].n != 2 * KEYLOG_RANDOM_LEN)
		return count(k, KEYLOG_BAD_RANDOM);
	if (f[2].n % 2 || f[2].n > 2 * KEYLOG_SECRET_MAX ||
	    !secret_len_ok((enum keylog_label)l, f[2].n / 2))
		return count(k, KEYLOG_BAD_SECRET);
	if (!fmt_unhex(f[1].p, f[1].n, random) || !fmt_unhex(f[2].p, f[2].n, secret))
		o = count(k, KEYLOG_BAD_HEX);
	else
		o = store(k, (enum keylog_label)l, random, secret, f[2].n / 2, now_ns);
	explicit_bzero(secret, sizeof(secret));
	return o;
}

const uint8_t *keylog_find(struct keylog *k, const uint8_t random[KEYLOG_RANDOM_LEN],
			   enum keylog_label label, size_t *len)
{
	struct entry *e = lookup(k, random);

	*len = 0;
	if (!e || (unsigned)label >= KEYLOG_LABEL_MAX || !(e->have & 1u << label))
		return NULL;
	e->used = true;
	*len = e->len[label];
	return e->secret[label];
}

void keylog_forget(struct keylog *k, const uint8_t random[KEYLOG_RANDOM_LEN])
{
	struct entry *e = lookup(k, random);

	if (e) {
		k->st.forgotten++;
		drop_entry(k, e);
	}
}

void keylog_get_stats(const struct keylog *k, struct keylog_stats *st)
{
	*st = k->st;
}

/* ---- the follower ---------------------------------------------------------- */

#define READ_CHUNK  (64 * 1024)
#define READ_BUDGET (16 * READ_CHUNK) /* per call when following: the loop goes on */

struct keylog_file {
	char path[PATH_MAX];
	bool follow, fifo;
	int fd;	     /* -1: none open (refused: retried each read) */
	int ino;     /* inotify on the directory and the file, -1 if none */
	int wd_dir;  /* the directory's watch */
	int wd_file; /* the open file's own watch (its inode, whatever its name), -1 if none */
	bool stale;  /* read to the end and stat'ed again on the next read, whatever
		      * inotify said: just opened, a read left bytes, the path gone */
	dev_t dev;
	ino_t inode;
	off_t off;     /* bytes of the file consumed */
	bool problem;  /* a problem was reported and lasts: quiet */
	bool skipping; /* inside a line too long: drop to its newline */
	size_t have;
	char line[KEYLOG_LINE_MAX];
};

/*
 * The secrets decrypt every captured connection they cover, so nobody but
 * the writer and us may read them, and nobody else may add lines. "other"
 * gets no access at all. The group may read: the usual way to let an
 * unprivileged certsentry read a server's key log (owner www-data, group
 * certsentry, 0640) without running as the server's user. The group may
 * not write: every member could then feed us lines (forged secrets cannot
 * produce a wrong certificate, authentication rejects them, but they can
 * crowd out real ones), and for a FIFO it lets others speak as the server.
 */
static int check(const char *path, const struct stat *st, char *err, size_t errlen)
{
	unsigned mode = st->st_mode & 07777;

	if (!S_ISREG(st->st_mode) && !S_ISFIFO(st->st_mode)) {
		fmt_err(err, errlen, "key log %s: not a regular file or a FIFO", path);
		return -1;
	}
	if (st->st_mode & (S_IRWXO | S_IWGRP)) {
		fmt_err(err, errlen,
			"key log %s: mode %04o lets others read or write it "
			"(its secrets decrypt traffic); chmod o-rwx,g-w",
			path, mode);
		return -1;
	}
	return 0;
}

/* Opens the path and checks what was opened (the path may change between
 * the stat and the open). Never blocks, but for a FIFO read whole. */
static int open_checked(struct keylog_file *f, char *err, size_t errlen)
{
	struct stat st;
	int fd, flags = O_RDONLY | O_CLOEXEC | O_NOCTTY;

	if (stat(f->path, &st) < 0) {
		fmt_err(err, errlen, "key log %s: %s", f->path, strerror(errno));
		return -1;
	}
	if (check(f->path, &st, err, errlen) < 0)
		return -1;
	if (!S_ISFIFO(st.st_mode) || f->follow)
		flags |= O_NONBLOCK; /* a FIFO: no wait for a writer */
	fd = open(f->path, flags);
	if (fd < 0) {
		fmt_err(err, errlen, "key log %s: %s", f->path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || check(f->path, &st, err, errlen) < 0) {
		close(fd);
		return -1;
	}
	f->fifo = S_ISFIFO(st.st_mode);
	f->dev = st.st_dev;
	f->inode = st.st_ino;
	f->off = 0;
	return fd;
}

/* Installs a newly opened fd, under the number the caller polls if any. */
static void install(struct keylog_file *f, int fd)
{
	if (f->fd >= 0 && dup3(fd, f->fd, O_CLOEXEC) >= 0) {
		close(fd);
		return;
	}
	if (f->fd >= 0)
		close(f->fd);
	f->fd = fd;
}

/*
 * The open file itself: its writes and mode changes are events whatever
 * name (a symlink, a hard link) the writer uses. With it, a read that finds
 * no event about the file has nothing to do (file_quiet). On failure, or
 * if the path is not the file opened, every read stats and reads.
 */
static void watch_file(struct keylog_file *f)
{
	struct stat st;
	int wd = -1;

	if (f->ino >= 0 && !f->fifo && f->fd >= 0)
		wd = inotify_add_watch(f->ino, f->path, IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE);
	if (wd >= 0 && (stat(f->path, &st) < 0 || st.st_dev != f->dev || st.st_ino != f->inode)) {
		inotify_rm_watch(f->ino, wd);
		wd = -1;
	}
	if (f->wd_file >= 0 && f->wd_file != wd)
		inotify_rm_watch(f->ino, f->wd_file);
	f->wd_file = wd;
	f->stale = true;
}

/* The directory, so that a file created or renamed onto the path is seen
 * too. Without inotify the caller reads on a timer. */
static void watch_dir(struct keylog_file *f)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(f->path, '/');

	if (!slash)
		strcpy(dir, ".");
	else if (slash == f->path)
		strcpy(dir, "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - f->path), f->path);
	f->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (f->ino >= 0 &&
	    (f->wd_dir = inotify_add_watch(f->ino, dir,
					   IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO |
						   IN_MOVED_FROM | IN_DELETE | IN_ATTRIB)) < 0) {
		close(f->ino);
		f->ino = -1;
	}
	watch_file(f);
}

struct keylog_file *keylog_file_open(const char *path, bool follow, char *err, size_t errlen)
{
	struct keylog_file *f;

	if (strlen(path) >= PATH_MAX) {
		fmt_err(err, errlen, "key log %.64s...: path too long", path);
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		fmt_err(err, errlen, "key log %s: out of memory", path);
		return NULL;
	}
	strcpy(f->path, path);
	f->follow = follow;
	f->ino = -1;
	f->wd_dir = -1;
	f->wd_file = -1;
	f->fd = open_checked(f, err, errlen);
	if (f->fd < 0) {
		free(f);
		return NULL;
	}
	if (follow && !f->fifo)
		watch_dir(f);
	return f;
}

int keylog_file_fd(const struct keylog_file *f)
{
	return f->fifo ? f->fd : f->ino;
}

void keylog_file_close(struct keylog_file *f)
{
	if (!f)
		return;
	if (f->fd >= 0)
		close(f->fd);
	if (f->ino >= 0)
		close(f->ino);
	explicit_bzero(f, sizeof(*f));
	free(f);
}

/* The line being assembled is abandoned: cut off. (A line too long was
 * counted when it overflowed.) */
static void cut(struct keylog_file *f, struct keylog *k)
{
	if (f->have)
		keylog_count(k, KEYLOG_PARTIAL);
	explicit_bzero(f->line, f->have);
	f->have = 0;
	f->skipping = false;
}

static void line_done(struct keylog_file *f, struct keylog *k, uint64_t now_ns)
{
	keylog_add_line(k, f->line, f->have, now_ns);
	explicit_bzero(f->line, f->have);
	f->have = 0;
}

/* Bytes into lines; a line longer than the buffer is counted once and
 * skipped to its newline. */
static void take(struct keylog_file *f, struct keylog *k, const char *d, size_t n, uint64_t now_ns)
{
	while (n > 0) {
		const char *nl = memchr(d, '\n', n);
		size_t len = nl ? (size_t)(nl - d) : n;

		if (f->skipping) {
			f->skipping = !nl;
		} else if (len > sizeof(f->line) - f->have) {
			keylog_count(k, KEYLOG_TOO_LONG);
			explicit_bzero(f->line, f->have);
			f->have = 0;
			f->skipping = !nl;
		} else {
			memcpy(f->line + f->have, d, len);
			f->have += len;
			if (nl)
				line_done(f, k, now_ns);
		}
		if (!nl)
			break;
		n -= len + 1;
		d = nl + 1;
	}
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* What the events since the last read say about the key log. */
enum {
	EV_DATA = 1, /* written to (or truncated): IN_MODIFY, IN_CLOSE_WRITE */
	EV_PATH = 2, /* anything else: its mode, its name replaced or removed, the
		      * directory itself, an overflowed queue */
};

/* An event on the file's own watch, on the path's name in the directory,
 * on the directory itself, or an overflow: EV_DATA or EV_PATH. Other
 * files' events in the same directory (our own output, say): 0. */
static unsigned event_kind(const struct keylog_file *f, const struct inotify_event *e)
{
	if (e->wd == f->wd_dir && e->len && strcmp(e->name, base_name(f->path)))
		return 0;
	if (e->wd >= 0 && !(e->mask & ~(IN_MODIFY | IN_CLOSE_WRITE)))
		return EV_DATA;
	return EV_PATH;
}

/* Drains inotify: the kinds of the events about the key log (EV_PATH
 * without inotify). A read that leaves room for another event emptied the
 * queue: no read to learn it. */
static unsigned drain_events(struct keylog_file *f)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	unsigned kinds = 0;
	ssize_t n;

	if (f->ino < 0)
		return EV_PATH;
	while ((n = read(f->ino, buf, sizeof(buf))) > 0) {
		for (size_t off = 0; off + sizeof(struct inotify_event) <= (size_t)n;) {
			const struct inotify_event *e = (const void *)(buf + off);

			kinds |= event_kind(f, e);
			off += sizeof(*e) + e->len;
		}
		if ((size_t)n + sizeof(struct inotify_event) + NAME_MAX + 1 <= sizeof(buf))
			break;
	}
	return kinds;
}

/* A followed file with its own watch, read to its end before: the events
 * tell what can have changed (inotify queues one after the write). */
static bool watched(const struct keylog_file *f)
{
	return f->follow && !f->fifo && f->wd_file >= 0 && f->fd >= 0 && !f->problem && !f->stale;
}

/* 0: at the end, or nothing more now; 1: the budget is spent; 2: a FIFO's
 * writer went away; -1: a read error (errno). */
static int read_some(struct keylog_file *f, struct keylog *k, uint64_t now_ns)
{
	char chunk[READ_CHUNK];
	size_t total = 0;
	int rc = 1;

	while (total < READ_BUDGET || !f->follow) {
		ssize_t n = read(f->fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n == 0 ? (f->fifo && f->follow ? 2 : 0) : errno == EAGAIN ? 0 : -1;
			break;
		}
		take(f, k, chunk, (size_t)n, now_ns);
		explicit_bzero(chunk, (size_t)n);
		f->off += n;
		total += (size_t)n;
		if (!f->fifo && (size_t)n < sizeof(chunk)) {
			rc = 0; /* a regular file's end: no read of 0 to learn it */
			break;
		}
	}
	return rc;
}

/* A FIFO reads 0 when no writer has it open, whether one ever had; poll
 * says hangup only once one has come and gone since our open. */
static bool hung_up(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLHUP);
}

/* Reports a problem once while it lasts: -1 the first time, then 0. */
static int problem(struct keylog_file *f, struct keylog *k)
{
	if (f->fd >= 0) {
		close(f->fd);
		f->fd = -1;
	}
	cut(f, k);
	if (f->problem)
		return 0;
	f->problem = true;
	return -1;
}

/*
 * Before reading a followed file: replaced (another inode at the path:
 * finish the old one, then the new one from its start), truncated
 * (shorter than what was read: from its start again), chmod'ed (checked
 * again) or removed (the writer may still append: keep reading). A
 * truncation that regrows past our offset between two reads looks like
 * appending; the lines then read are whole ones all the same.
 */
static int file_changes(struct keylog_file *f, struct keylog *k, uint64_t now_ns, char *err,
			size_t errlen)
{
	struct stat st;
	int fd;

	if (f->fd >= 0) {
		if (stat(f->path, &st) < 0) {
			if (errno == ENOENT) {
				f->stale = true; /* its writes may no longer reach the watch */
				return 0;
			}
			fmt_err(err, errlen, "key log %s: %s", f->path, strerror(errno));
			return problem(f, k);
		}
		if (st.st_dev == f->dev && st.st_ino == f->inode) {
			if (check(f->path, &st, err, errlen) < 0)
				return problem(f, k);
			if (S_ISREG(st.st_mode) && st.st_size < f->off) {
				cut(f, k);
				f->off = 0;
				lseek(f->fd, 0, SEEK_SET);
			}
			f->problem = false;
			return 0;
		}
		/* Replaced: the old one to its end (one read's budget). */
		read_some(f, k, now_ns);
		cut(f, k);
	}
	fd = open_checked(f, err, errlen);
	if (fd < 0)
		return problem(f, k);
	install(f, fd);
	watch_file(f);
	f->problem = false;
	return 0;
}

static int file_read(struct keylog_file *f, struct keylog *k, uint64_t now_ns, char *err,
		     size_t errlen)
{
	unsigned kinds = drain_events(f);
	bool quick = watched(f); /* else: stat'ed and read to the end */
	off_t off0 = f->off;
	int rc, fd;

	if (quick && !kinds)
		return 0; /* nothing about the file since it was read to its end */
	quick = quick && !(kinds & EV_PATH);
	f->stale = false; /* set again below if this read does not reach the end */
	if (f->follow && !f->fifo && !quick && file_changes(f, k, now_ns, err, errlen) < 0)
		return -1;
	if (f->fd < 0 && f->fifo) { /* a FIFO that could not be reopened */
		if ((fd = open_checked(f, err, errlen)) < 0)
			return problem(f, k);
		f->fd = fd;
		f->problem = false;
	}
	if (f->fd < 0)
		return 0;
	rc = read_some(f, k, now_ns);
	if (rc == 1)
		f->stale = true; /* the rest without waiting for an event */
	if (quick && rc == 0 && f->off == off0) {
		/* Written to, yet nothing new: truncated? The whole check now. */
		f->stale = true;
		return file_read(f, k, now_ns, err, errlen);
	}
	if (rc == 2 && !hung_up(f->fd))
		rc = 0; /* no writer yet: a FIFO reads as empty */
	if (rc == 2) {
		/* A writer closed: its unfinished line is lost, and the FIFO
		 * is opened again, else poll reports the hangup forever. */
		cut(f, k);
		fd = open_checked(f, err, errlen);
		if (fd < 0)
			return problem(f, k);
		install(f, fd);
		return 0;
	}
	if (rc < 0) {
		fmt_err(err, errlen, "key log %s: %s", f->path, strerror(errno));
		return problem(f, k);
	}
	if (rc == 0 && !f->follow) {
		if (f->have && !f->skipping)
			line_done(f, k, now_ns); /* read whole: no newline needed */
		cut(f, k);
	}
	return rc;
}

int keylog_file_read(struct keylog_file *f, struct keylog *k, uint64_t now_ns, char *err,
		     size_t errlen)
{
	int rc = file_read(f, k, now_ns, err, errlen);

	if (rc >= 0 && err && errlen)
		err[0] = 0; /* said only with -1 */
	return rc;
}
