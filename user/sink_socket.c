/* sink_socket.c - each line, as JSON, to local subscribers on a UNIX stream socket; never blocks. */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "fmt.h"
#include "sink.h"

extern const char *argp_program_version; /* cli.c: "certsentry X.Y" */

struct sub {
	int fd;	 /* -1: a free slot */
	char *q; /* q[off..len): bytes not yet sent, whole lines */
	size_t off, len, cap;
	uint64_t q_lines; /* newlines in q[off..len) */
};

struct socket_sink {
	struct sink s;
	int lfd;
	char *path;
	dev_t dev; /* the socket file we made: removed at the end if still ours */
	ino_t ino;
	unsigned max_subs;
	size_t queue_max;
	char hello[256]; /* the first line every subscriber gets */
	size_t hello_len;
	struct sub subs[];
};

static uint64_t newlines(const char *p, size_t n)
{
	const char *e = p + n;
	uint64_t k = 0;

	while ((p = memchr(p, '\n', (size_t)(e - p)))) {
		k++;
		p++;
	}
	return k;
}

static void sub_close(struct socket_sink *k, struct sub *u)
{
	close(u->fd);
	free(u->q);
	*u = (struct sub){ .fd = -1 };
	k->s.st.subscribers--;
}

/* What waits leaves as far as the socket takes it now. A subscriber that
 * has gone is closed here. */
static void sub_send(struct socket_sink *k, struct sub *u)
{
	ssize_t w;

	while (u->len > u->off) {
		w = send(u->fd, u->q + u->off, u->len - u->off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (w <= 0) {
			sub_close(k, u);
			return;
		}
		u->q_lines -= newlines(u->q + u->off, (size_t)w);
		u->off += (size_t)w;
	}
	u->off = u->len = 0;
}

/* line and '\n' after what waits, or -1: the queue would pass its bound. */
static int sub_queue(struct socket_sink *k, struct sub *u, const char *line, size_t len)
{
	size_t held = u->len - u->off, need = len + 1, cap;
	char *q;

	if (need > k->queue_max - held)
		return -1;
	if (u->off && u->cap - u->len < need) {
		memmove(u->q, u->q + u->off, held);
		u->off = 0;
		u->len = held;
	}
	if (u->cap - u->len < need) {
		cap = u->cap ? u->cap : 4096;
		while (cap - u->len < need)
			cap *= 2;
		if (cap > k->queue_max)
			cap = k->queue_max;
		if (!(q = realloc(u->q, cap)))
			return -1;
		u->q = q;
		u->cap = cap;
	}
	memcpy(u->q + u->len, line, len);
	u->q[u->len + len] = '\n';
	u->len += need;
	u->q_lines++;
	return 0;
}

/* Fallen a whole queue behind: it goes, and what it did not get is counted.
 * Capture never waits for a reader. */
static void sub_drop(struct socket_sink *k, struct sub *u)
{
	k->s.st.sub_dropped++;
	k->s.st.sub_lost += u->q_lines + 1;
	sub_close(k, u);
}

static int socket_write(struct sink *s, const struct sink_line *l)
{
	struct socket_sink *k = (struct socket_sink *)s;

	for (unsigned i = 0; i < k->max_subs; i++)
		if (k->subs[i].fd >= 0 && sub_queue(k, &k->subs[i], l->text, l->len))
			sub_drop(k, &k->subs[i]);
	return 0;
}

static int socket_flush(struct sink *s)
{
	struct socket_sink *k = (struct socket_sink *)s;

	for (unsigned i = 0; i < k->max_subs; i++)
		if (k->subs[i].fd >= 0)
			sub_send(k, &k->subs[i]);
	return 0;
}

/* Past the bound: told why, in a line, and closed. */
static void refuse(struct socket_sink *k, int fd)
{
	char msg[128];
	int n = snprintf(msg, sizeof(msg), "{\"error\":\"too many subscribers (%u)\"}\n",
			 k->max_subs);

	if (send(fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		(void)0; /* it is closed either way */
	close(fd);
	k->s.st.sub_refused++;
}

static void accept_new(struct socket_sink *k)
{
	struct sub *u;
	int fd;

	while ((fd = accept4(k->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		u = NULL;
		for (unsigned i = 0; i < k->max_subs && !u; i++)
			if (k->subs[i].fd < 0)
				u = &k->subs[i];
		if (!u) {
			refuse(k, fd);
			continue;
		}
		u->fd = fd;
		k->s.st.subscribers++;
		if (sub_queue(k, u, k->hello, k->hello_len))
			sub_close(k, u); /* no memory for its queue */
		else
			sub_send(k, u);
	}
}

/* A subscriber says nothing: what it sends is read away; an end of file
 * means it left, and its slot is free for the next. */
static void reap(struct socket_sink *k, struct sub *u)
{
	char buf[512];
	ssize_t n;

	while ((n = recv(u->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		;
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
		sub_close(k, u);
}

static void socket_poll(struct sink *s)
{
	struct socket_sink *k = (struct socket_sink *)s;

	accept_new(k);
	for (unsigned i = 0; i < k->max_subs; i++)
		if (k->subs[i].fd >= 0)
			reap(k, &k->subs[i]);
	socket_flush(s);
}

static void socket_free(struct sink *s)
{
	struct socket_sink *k = (struct socket_sink *)s;
	struct stat st;

	socket_flush(s);
	for (unsigned i = 0; i < k->max_subs; i++)
		if (k->subs[i].fd >= 0)
			sub_close(k, &k->subs[i]);
	if (k->lfd >= 0)
		close(k->lfd);
	/* Another instance may have taken the name since: leave its socket. */
	if (k->path && !lstat(k->path, &st) && st.st_dev == k->dev && st.st_ino == k->ino)
		unlink(k->path);
	free(k->path);
	free(k);
}

static const struct sink_ops socket_ops = {
	.write = socket_write,
	.flush = socket_flush,
	.free = socket_free,
	.poll = socket_poll,
};

/* A socket file at path: one that answers is another instance's (an error);
 * one that does not is left over from a run that ended, and goes. */
static int clear_path(const char *path, const struct sockaddr_un *sa, char *err, size_t errlen)
{
	struct stat st;
	int fd, rc;

	if (lstat(path, &st)) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s: exists and is not a socket", path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (!rc) {
		snprintf(err, errlen, "%s: another process is serving events there", path);
		return -1;
	}
	if (unlink(path)) {
		snprintf(err, errlen, "%s: a stale socket that cannot be removed: %s", path,
			 strerror(errno));
		return -1;
	}
	return 0;
}

/* The group that may connect: named (or a number), or certsentry's if that
 * group exists; -1: the process's own. -2 with err set: no such group. */
static gid_t socket_gid(const char *name, char *err, size_t errlen)
{
	struct group *g;
	char *end;
	unsigned long n;

	if (!name) {
		g = getgrnam(SINK_SOCKET_GROUP);
		return g ? g->gr_gid : (gid_t)-1;
	}
	if ((g = getgrnam(name)))
		return g->gr_gid;
	n = strtoul(name, &end, 10);
	if (*name && !*end && n < (gid_t)-1)
		return (gid_t)n;
	snprintf(err, errlen, "no group named '%s' (--event-socket-group)", name);
	return (gid_t)-2;
}

static void hello_make(struct socket_sink *k)
{
	const char *v = argp_program_version ? strchr(argp_program_version, ' ') : NULL;
	char started[FMT_TIME_CAP];

	fmt_time(started, sizeof(started), time(NULL), 0, FMT_S, "-");
	k->hello_len = (size_t)snprintf(
		k->hello, sizeof(k->hello),
		"{\"hello\":{\"program\":\"certsentry\",\"version\":\"%s\",\"started\":\"%s\","
		"\"pid\":%d,\"subscribers_max\":%u,\"queue_bytes\":%zu}}",
		v ? v + 1 : "?", started, (int)getpid(), k->max_subs, k->queue_max);
}

/* Bound and listening, mode 0660 and the group set before anyone can
 * connect (umask 0177 for bind: owner only until then). */
static int socket_bind(struct socket_sink *k, const struct sockaddr_un *sa, gid_t gid, char *err,
		       size_t errlen)
{
	struct stat st;
	mode_t old;
	int rc;

	if ((k->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	old = umask(0177);
	rc = bind(k->lfd, (const struct sockaddr *)sa, sizeof(*sa));
	umask(old);
	if (rc) {
		snprintf(err, errlen, "%s: %s", k->path, strerror(errno));
		return -1;
	}
	if (lstat(k->path, &st) == 0) {
		k->dev = st.st_dev;
		k->ino = st.st_ino;
	}
	if ((gid != (gid_t)-1 && chown(k->path, (uid_t)-1, gid)) || chmod(k->path, 0660)) {
		snprintf(err, errlen, "%s: %s", k->path, strerror(errno));
		return -1;
	}
	if (listen(k->lfd, (int)k->max_subs)) {
		snprintf(err, errlen, "listen: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* arg: the path (NULL: SINK_SOCKET_DEFAULT); o: group, subscribers, queue. */
struct sink *sink_socket_open(const char *arg, const struct sink_opts *o, char *err, size_t errlen)
{
	const char *path = arg ? arg : SINK_SOCKET_DEFAULT;
	unsigned max = o->max_subs ? o->max_subs : SINK_SOCKET_SUBS_MAX;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct socket_sink *k;
	gid_t gid;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path too long (at most %zu bytes): %s",
			 sizeof(sa.sun_path) - 1, path);
		return NULL;
	}
	strcpy(sa.sun_path, path);
	if ((gid = socket_gid(o->group, err, errlen)) == (gid_t)-2 ||
	    clear_path(path, &sa, err, errlen))
		return NULL;
	if (!(k = calloc(1, sizeof(*k) + max * sizeof(k->subs[0]))) || !(k->path = strdup(path))) {
		snprintf(err, errlen, "out of memory");
		free(k);
		return NULL;
	}
	k->s.ops = &socket_ops;
	k->s.name = "socket";
	k->max_subs = max;
	k->queue_max = o->queue_bytes ? o->queue_bytes : SINK_SOCKET_QUEUE;
	k->lfd = -1;
	for (unsigned i = 0; i < max; i++)
		k->subs[i].fd = -1;
	hello_make(k);
	if (socket_bind(k, &sa, gid, err, errlen)) {
		socket_free(&k->s);
		return NULL;
	}
	return &k->s;
}
