/* syslog_msg.h - syslog as pipelines read it: RFC 3164 or 5424 headers, RFC 6587 frames, servers. */
#ifndef CS_SYSLOG_MSG_H
#define CS_SYSLOG_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum syslog_format { SYSLOG_3164 = 3164, SYSLOG_5424 = 5424 };

#define SYSLOG_FACILITY	  3	       /* daemon */
#define SYSLOG_APP	  "certsentry" /* 3164 TAG, 5424 APP-NAME */
#define SYSLOG_HEADER_MAX 400	       /* the longest header made, with its frame prefix */
/* A datagram's bound (--syslog-server udp://): rsyslog's default
 * maxMessageSize. A longer line is cut, counted; tcp:// carries it whole. */
#define SYSLOG_UDP_MAX	     8192
#define SYSLOG_QUEUE_DEFAULT (4u << 20) /* tcp://: bytes held while disconnected */

/* Who sends, fixed for a sink's life, and its message count. */
struct syslog_origin {
	enum syslog_format format;
	bool hostname;	/* 3164: name the host (a network receiver needs it) */
	char host[256]; /* printable ASCII; 3164 without its domain */
	int pid;
	uint32_t seq; /* 5424: the last [meta sequenceId] given */
};

/* format 0 is 3164. */
void syslog_origin_init(struct syslog_origin *o, int format, bool hostname);

/*
 * The header of the next message into buf (cap >= SYSLOG_HEADER_MAX), up to
 * and including the space before MSG; returns its length. sev is the syslog
 * severity, msgid the line's event.action (NULL: none).
 *   3164: <PRI>Mmm dd hh:mm:ss [HOST ]certsentry[PID]:
 *   5424: <PRI>1 YYYY-MM-DDThh:mm:ss.uuuuuuZ HOST certsentry PID MSGID [meta sequenceId="N"]
 */
size_t syslog_header(struct syslog_origin *o, char *buf, size_t cap, int sev, const char *msgid);

/* RFC 6587 octet counting: "LEN " for a message of n bytes into buf
 * (cap >= 24); returns its length. */
size_t syslog_frame_prefix(char *buf, size_t cap, size_t n);

/* "3164" or "5424" (also "rfc3164", "rfc5424"), or -1. */
int syslog_format_parse(const char *s);

/* The sinks.def row that sends to url ("udp://HOST:PORT" or
 * "tcp://HOST:PORT"), with *hostport pointing into url after the scheme;
 * NULL if url is neither. */
const char *syslog_server_sink(const char *url, const char **hostport);

/* HOST:PORT or [V6]:PORT resolved to its first address (blocking: at start
 * only). 0, or -1 with the reason in err. */
int syslog_resolve(const char *hostport, int socktype, struct sockaddr_storage *ss, socklen_t *len,
		   char *err, size_t errlen);

#endif
