/* sink_syslog_tcp.c - syslog over TCP (RFC 6587 octet counting): a bounded queue, never blocking, reconnecting. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/sockios.h>
#include "sink.h"
#include "syslog_msg.h"

#define BACKOFF_MIN_MS	   250
#define BACKOFF_MAX_MS	   10000
#define CONNECT_TIMEOUT_MS 5000
#define PUSH_BYTES	   (64 * 1024) /* unsent bytes that make a write send at once */
#define DRAIN_MS	   3000	       /* at exit, for what is still queued */
#define QUEUE_MIN	   (64 * 1024)

enum conn { C_DOWN, C_CONNECTING, C_UP };

/*
 * The queue holds whole frames ("LEN <PRI>1 ... MSG") from the oldest one
 * the server has not acknowledged to the newest: [head, tail) in bytes
 * since the start, of which [head, sent) went out on this connection. A
 * frame leaves the queue (delivered) only once the server's TCP stack has
 * acknowledged all of it (SIOCOUTQ). When the connection breaks, sending
 * starts again at head: the frame the server had part of is sent again
 * whole (rsyslog drops an incomplete octet-counted frame at a close), and
 * nothing the server acknowledged is sent twice. What TCP cannot tell is
 * a frame acknowledged by the server's kernel that the daemon never read
 * before it died: RELP's business, not this sink's.
 */
struct tcp_sink {
	struct sink s;
	struct syslog_origin origin;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int fd;
	enum conn state;
	uint64_t when_ms; /* C_DOWN: the next attempt; C_CONNECTING: its start */
	uint32_t backoff_ms;
	uint32_t rnd; /* jitter, so that a fleet does not reconnect in step */
	char *q;
	size_t cap;
	uint64_t head, sent, tail;
	uint64_t frames; /* in [head, tail) */
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void q_put(struct tcp_sink *t, const void *p, size_t n)
{
	size_t off = (size_t)(t->tail % t->cap), first = n < t->cap - off ? n : t->cap - off;

	memcpy(t->q + off, p, first);
	memcpy(t->q, (const char *)p + first, n - first);
	t->tail += n;
}

/* The whole length of the frame at off: its "LEN " prefix (written here,
 * so well formed) and LEN bytes. */
static uint64_t frame_len(const struct tcp_sink *t, uint64_t off)
{
	uint64_t v = 0, digits = 0;
	char c;

	while ((c = t->q[(off + digits) % t->cap]) != ' ') {
		v = v * 10 + (uint64_t)(c - '0');
		digits++;
	}
	return digits + 1 + v;
}

/* Equal jitter: half the backoff, plus up to the other half. */
static void schedule_retry(struct tcp_sink *t)
{
	t->rnd ^= t->rnd << 13;
	t->rnd ^= t->rnd >> 17;
	t->rnd ^= t->rnd << 5;
	t->when_ms = mono_ms() + t->backoff_ms / 2 + t->rnd % (t->backoff_ms / 2 + 1);
	t->backoff_ms = t->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : t->backoff_ms * 2;
}

/* The connection is gone (or never came): what it did not acknowledge is
 * sent again on the next one. */
static void conn_lost(struct tcp_sink *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	t->state = C_DOWN;
	t->sent = t->head;
	t->s.st.write_errors++;
	schedule_retry(t);
}

static void conn_start(struct tcp_sink *t)
{
	int one = 1;

	t->fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->fd < 0) {
		conn_lost(t);
		return;
	}
	/* lines leave at the end of a batch: no need to wait for more */
	setsockopt(t->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(t->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	t->when_ms = mono_ms();
	if (!connect(t->fd, (struct sockaddr *)&t->addr, t->addrlen)) {
		t->state = C_UP;
		t->backoff_ms = BACKOFF_MIN_MS;
	} else if (errno == EINPROGRESS) {
		t->state = C_CONNECTING;
	} else {
		conn_lost(t);
	}
}

/* A non-blocking connect has finished, or not yet, or has timed out. */
static void conn_check(struct tcp_sink *t)
{
	struct pollfd p = { .fd = t->fd, .events = POLLOUT };
	socklen_t len = sizeof(int);
	int err = 0;

	if (poll(&p, 1, 0) <= 0) {
		if (mono_ms() - t->when_ms > CONNECT_TIMEOUT_MS)
			conn_lost(t);
		return;
	}
	if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
		conn_lost(t);
		return;
	}
	t->state = C_UP;
	t->backoff_ms = BACKOFF_MIN_MS;
}

/* Frames the server's TCP has acknowledged whole are delivered. */
static void take_acks(struct tcp_sink *t)
{
	int outq = 0;
	uint64_t acked, n;

	if (t->sent == t->head || ioctl(t->fd, SIOCOUTQ, &outq) || outq < 0 ||
	    (uint64_t)outq > t->sent - t->head)
		return;
	acked = t->sent - (uint64_t)outq;
	while (t->frames && t->head + (n = frame_len(t, t->head)) <= acked) {
		t->head += n;
		t->frames--;
		t->s.st.lines++;
	}
}

/* A syslog server never speaks: anything readable is its close or an error. */
static bool peer_gone(struct tcp_sink *t)
{
	char buf[256];
	ssize_t n = recv(t->fd, buf, sizeof(buf), MSG_DONTWAIT);

	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* As much of [sent, tail) as the socket takes now. */
static int send_queued(struct tcp_sink *t)
{
	while (t->sent < t->tail) {
		size_t off = (size_t)(t->sent % t->cap), n = (size_t)(t->tail - t->sent);
		size_t first = n < t->cap - off ? n : t->cap - off;
		struct iovec iov[2] = { { t->q + off, first }, { t->q, n - first } };
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = n > first ? 2 : 1 };
		ssize_t w = sendmsg(t->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (w <= 0) {
			conn_lost(t);
			return -1;
		}
		t->sent += (uint64_t)w;
	}
	return 0;
}

/* One step of everything, without waiting: connect when there is
 * something to send and the backoff allows, learn what was acknowledged,
 * notice a lost connection, send. -1 if the connection was lost now. */
static int pump(struct tcp_sink *t)
{
	if (t->head == t->tail)
		return 0;
	if (t->state == C_DOWN) {
		if (mono_ms() < t->when_ms)
			return 0;
		conn_start(t);
	}
	if (t->state == C_CONNECTING)
		conn_check(t);
	if (t->state != C_UP)
		return t->state == C_DOWN ? -1 : 0;
	take_acks(t);
	if (t->sent > t->head && peer_gone(t)) {
		conn_lost(t);
		return -1;
	}
	return send_queued(t);
}

/*
 * Queued at once, sent at the end of the batch (or when a good amount is
 * waiting). A line the queue has no room for is lost, counted; it still
 * took its sequenceId, so the gap shows downstream too.
 */
static int tcp_write(struct sink *s, const struct sink_line *line)
{
	struct tcp_sink *t = (struct tcp_sink *)s;
	char head[SYSLOG_HEADER_MAX], pre[24];
	size_t hl = syslog_header(&t->origin, head, sizeof(head), line->sev, line->msgid);
	size_t pl = syslog_frame_prefix(pre, sizeof(pre), hl + line->len);

	if (pl + hl + line->len > t->cap - (size_t)(t->tail - t->head)) {
		s->st.lost++;
		return -1;
	}
	q_put(t, pre, pl);
	q_put(t, head, hl);
	q_put(t, line->text, line->len);
	t->frames++;
	if (t->state == C_UP && t->tail - t->sent >= PUSH_BYTES)
		pump(t);
	return 0;
}

static int tcp_flush(struct sink *s)
{
	return pump((struct tcp_sink *)s);
}

/* At exit, what is queued gets a bounded while to leave; the rest is lost. */
static void tcp_free(struct sink *s)
{
	struct tcp_sink *t = (struct tcp_sink *)s;
	uint64_t end = mono_ms() + DRAIN_MS;

	while (t->head < t->tail && mono_ms() < end) {
		pump(t);
		if (t->head < t->tail)
			poll(NULL, 0, 10);
	}
	s->st.lost += t->frames;
	if (t->fd >= 0)
		close(t->fd);
	free(t->q);
	free(t);
}

static const struct sink_ops tcp_ops = {
	.write = tcp_write,
	.flush = tcp_flush,
	.free = tcp_free,
};

struct sink *sink_syslog_tcp_open(const char *hostport, const struct sink_opts *o, char *err,
				  size_t errlen)
{
	struct tcp_sink *t;

	if (!hostport) {
		snprintf(err, errlen, "tcp:// needs HOST:PORT");
		return NULL;
	}
	if (o->queue_bytes && o->queue_bytes < QUEUE_MIN) {
		snprintf(err, errlen, "queue of %zu bytes is below %d", o->queue_bytes, QUEUE_MIN);
		return NULL;
	}
	if (!(t = calloc(1, sizeof(*t))) ||
	    !(t->q = malloc(t->cap = o->queue_bytes ? o->queue_bytes : SYSLOG_QUEUE_DEFAULT))) {
		snprintf(err, errlen, "out of memory");
		free(t);
		return NULL;
	}
	if (syslog_resolve(hostport, SOCK_STREAM, &t->addr, &t->addrlen, err, errlen)) {
		free(t->q);
		free(t);
		return NULL;
	}
	t->s.ops = &tcp_ops;
	t->s.name = "syslog-tcp";
	t->fd = -1;
	t->backoff_ms = BACKOFF_MIN_MS;
	syslog_origin_init(&t->origin, o->syslog_format, true);
	t->rnd = (uint32_t)t->origin.pid * 2654435761u | 1;
	return &t->s;
}
