/* sink_syslog.c - one line, one datagram to a local syslog socket (/dev/log), RFC 3164 or 5424. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "sink.h"
#include "syslog_msg.h"

struct syslog_sink {
	struct sink s;
	int fd; /* a datagram socket, not connected */
	struct sockaddr_un addr;
	struct syslog_origin origin;
};

/*
 * In the form syslog daemons take on /dev/log: 3164 without a host name
 * (the daemon adds its own), or 5424 for a daemon told to parse it (rsyslog:
 * imuxsock useSpecialParser="off"). Not connected: a restarted daemon's new
 * socket is found by the next line. A daemon that is down costs the line,
 * counted, nothing else.
 */
static int syslog_write(struct sink *s, const struct sink_line *line)
{
	struct syslog_sink *l = (struct syslog_sink *)s;
	char head[SYSLOG_HEADER_MAX];
	struct iovec iov[2];
	struct msghdr mh = { .msg_name = &l->addr,
			     .msg_namelen = sizeof(l->addr),
			     .msg_iov = iov,
			     .msg_iovlen = 2 };

	iov[0] = (struct iovec){ head, syslog_header(&l->origin, head, sizeof(head), line->sev,
						     line->msgid) };
	iov[1] = (struct iovec){ (void *)line->text, line->len };
	if (sendmsg(l->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		s->st.write_errors++;
		s->st.lost++;
		return -1;
	}
	s->st.lines++;
	return 0;
}

static void syslog_free(struct sink *s)
{
	struct syslog_sink *l = (struct syslog_sink *)s;

	close(l->fd);
	free(l);
}

static const struct sink_ops syslog_ops = {
	.write = syslog_write,
	.free = syslog_free,
};

struct sink *sink_syslog_open(const char *path, const struct sink_opts *o, char *err, size_t errlen)
{
	struct syslog_sink *l;

	if (!path)
		path = "/dev/log";
	if (strlen(path) >= sizeof(l->addr.sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", path);
		return NULL;
	}
	if (!(l = calloc(1, sizeof(*l)))) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (l->fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		free(l);
		return NULL;
	}
	l->s.ops = &syslog_ops;
	l->s.name = "syslog";
	l->addr.sun_family = AF_UNIX;
	strcpy(l->addr.sun_path, path);
	syslog_origin_init(&l->origin, o->syslog_format, false);
	return &l->s;
}
