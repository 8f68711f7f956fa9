/* sink_syslog_udp.c - one line, one syslog datagram to a server (RFC 5426), bounded, cut counted. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "sink.h"
#include "syslog_msg.h"

struct udp_sink {
	struct sink s;
	int fd; /* connected: the server's ICMP errors come back as errors */
	struct syslog_origin origin;
};

/* n, or less so that a UTF-8 sequence is not split at the cut. */
static size_t utf8_cut(const char *s, size_t n, size_t len)
{
	if (n >= len)
		return len;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

/*
 * A datagram is at most SYSLOG_UDP_MAX bytes, header included: a longer
 * line is cut there (at a character boundary), delivered and counted in
 * truncated; its JSON then does not parse, which is why lines that long
 * want tcp://. Sent at once, never waiting: a full socket buffer or a
 * refused port (an ICMP error from an earlier datagram, reported on this
 * one, which is then not sent) costs the line, counted.
 */
static int udp_write(struct sink *s, const struct sink_line *line)
{
	struct udp_sink *u = (struct udp_sink *)s;
	char head[SYSLOG_HEADER_MAX];
	size_t hl = syslog_header(&u->origin, head, sizeof(head), line->sev, line->msgid);
	size_t n = utf8_cut(line->text, SYSLOG_UDP_MAX - hl, line->len);
	struct iovec iov[2] = { { head, hl }, { (void *)line->text, n } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };

	if (sendmsg(u->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		s->st.write_errors++;
		s->st.lost++;
		return -1;
	}
	s->st.lines++;
	if (n < line->len)
		s->st.truncated++;
	return 0;
}

static void udp_free(struct sink *s)
{
	struct udp_sink *u = (struct udp_sink *)s;

	close(u->fd);
	free(u);
}

static const struct sink_ops udp_ops = {
	.write = udp_write,
	.free = udp_free,
};

struct sink *sink_syslog_udp_open(const char *hostport, const struct sink_opts *o, char *err,
				  size_t errlen)
{
	struct sockaddr_storage ss;
	struct udp_sink *u;
	socklen_t len;

	if (!hostport || syslog_resolve(hostport, SOCK_DGRAM, &ss, &len, err, errlen))
		return NULL;
	if (!(u = calloc(1, sizeof(*u)))) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	u->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (u->fd < 0 || connect(u->fd, (struct sockaddr *)&ss, len)) {
		snprintf(err, errlen, "udp://%s: %s", hostport, strerror(errno));
		if (u->fd >= 0)
			close(u->fd);
		free(u);
		return NULL;
	}
	u->s.ops = &udp_ops;
	u->s.name = "syslog-udp";
	syslog_origin_init(&u->origin, o->syslog_format, true);
	return &u->s;
}
