/* sink_syslog.c - one line, one RFC 3164 datagram to a local syslog socket (/dev/log). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "sink.h"

#define SYSLOG_FACILITY 3	/* daemon */

struct syslog_sink {
	struct sink s;
	int fd;			/* a datagram socket, not connected */
	struct sockaddr_un addr;
};

/*
 * In the form syslog daemons take on /dev/log. Not connected: a restarted
 * daemon's new socket is found by the next line. A daemon that is down
 * costs the line, counted, nothing else.
 */
static int syslog_write(struct sink *s, const char *line, size_t len, int sev)
{
	static const char mon[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct syslog_sink *l = (struct syslog_sink *)s;
	char head[64];
	struct iovec iov[2];
	struct msghdr mh = { .msg_name = &l->addr, .msg_namelen = sizeof(l->addr),
			     .msg_iov = iov, .msg_iovlen = 2 };
	time_t now = time(NULL);
	struct tm tm;
	int hl;

	gmtime_r(&now, &tm);
	hl = snprintf(head, sizeof(head), "<%d>%s %2d %02d:%02d:%02d certsentry[%d]: ",
		      (SYSLOG_FACILITY << 3) | (sev & 7), mon[tm.tm_mon % 12], tm.tm_mday,
		      tm.tm_hour, tm.tm_min, tm.tm_sec, (int)getpid());
	iov[0] = (struct iovec){ head, (size_t)hl };
	iov[1] = (struct iovec){ (void *)line, len };
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

struct sink *sink_syslog_open(const char *path, char *err, size_t errlen)
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
	return &l->s;
}
