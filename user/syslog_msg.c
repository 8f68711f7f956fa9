/* syslog_msg.c - syslog headers (RFC 3164, RFC 5424), octet-counting frames, server addresses. */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "syslog_msg.h"

/* Printable US-ASCII (33-126) only, as both RFCs ask of header fields;
 * anything else becomes '_'. At least one character: "-" (5424's nil). */
static void header_word(char *out, size_t cap, const char *in, size_t max)
{
	size_t n = 0;

	for (; in && in[n] && n < max && n + 1 < cap; n++)
		out[n] = in[n] > 32 && in[n] < 127 ? in[n] : '_';
	if (!n && cap > 1)
		out[n++] = '-';
	out[n] = '\0';
}

void syslog_origin_init(struct syslog_origin *o, int format, bool hostname)
{
	char host[256] = "";

	memset(o, 0, sizeof(*o));
	o->format = format == SYSLOG_5424 ? SYSLOG_5424 : SYSLOG_3164;
	o->hostname = hostname || o->format == SYSLOG_5424;
	o->pid = (int)getpid();
	if (gethostname(host, sizeof(host) - 1))
		host[0] = '\0';
	/* RFC 3164 4.1.2: the host name without its domain */
	if (o->format == SYSLOG_3164 && strchr(host, '.'))
		*strchr(host, '.') = '\0';
	header_word(o->host, sizeof(o->host), host, 255);
}

static size_t header_3164(struct syslog_origin *o, char *buf, size_t cap, int pri)
{
	static const char mon[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t now = time(NULL);
	struct tm tm;
	int n;

	/* RFC 3164 4.1.2: the sender's local time, with no zone */
	localtime_r(&now, &tm);
	n = snprintf(buf, cap, "<%d>%s %2d %02d:%02d:%02d %s%s" SYSLOG_APP "[%d]: ", pri,
		     mon[tm.tm_mon % 12], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		     o->hostname ? o->host : "", o->hostname ? " " : "", o->pid);
	return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/*
 * MSGID is the line's event.action: what kind of line it is, in the field
 * RFC 5424 made for that, so a receiver can route tls-certificate apart
 * from certsentry-stats without parsing MSG. Structured data is the
 * IANA-registered [meta sequenceId], counting this sink's messages: a gap
 * downstream shows lines lost on the way (UDP, a full queue), with no
 * private enterprise number to invent. Everything else is in MSG, the ECS
 * JSON, said once. MSG has no BOM (RFC 5424 MSG-ANY): a pipeline takes it
 * as a JSON document as it is.
 */
static size_t header_5424(struct syslog_origin *o, char *buf, size_t cap, int pri,
			  const char *msgid)
{
	struct timespec ts;
	struct tm tm;
	char id[33];
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	header_word(id, sizeof(id), msgid, 32);
	o->seq = o->seq >= 2147483647u ? 1 : o->seq + 1; /* 7.3.1: 1..2^31-1, then 1 */
	n = snprintf(buf, cap,
		     "<%d>1 %04d-%02d-%02dT%02d:%02d:%02d.%06ldZ %s " SYSLOG_APP
		     " %d %s [meta sequenceId=\"%u\"] ",
		     pri, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		     tm.tm_sec, ts.tv_nsec / 1000, o->host, o->pid, id, o->seq);
	return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

size_t syslog_header(struct syslog_origin *o, char *buf, size_t cap, int sev, const char *msgid)
{
	int pri = SYSLOG_FACILITY << 3 | (sev & 7);

	if (o->format == SYSLOG_5424)
		return header_5424(o, buf, cap, pri, msgid);
	return header_3164(o, buf, cap, pri);
}

size_t syslog_frame_prefix(char *buf, size_t cap, size_t n)
{
	int k = snprintf(buf, cap, "%zu ", n);

	return k < 0 ? 0 : (size_t)k < cap ? (size_t)k : cap - 1;
}

int syslog_format_parse(const char *s)
{
	if (!strncmp(s, "rfc", 3))
		s += 3;
	if (!strcmp(s, "3164"))
		return SYSLOG_3164;
	if (!strcmp(s, "5424"))
		return SYSLOG_5424;
	return -1;
}

const char *syslog_server_sink(const char *url, const char **hostport)
{
	if (!strncmp(url, "udp://", 6)) {
		*hostport = url + 6;
		return "syslog-udp";
	}
	if (!strncmp(url, "tcp://", 6)) {
		*hostport = url + 6;
		return "syslog-tcp";
	}
	return NULL;
}

int syslog_resolve(const char *hostport, int socktype, struct sockaddr_storage *ss, socklen_t *len,
		   char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = socktype, .ai_flags = AI_ADDRCONFIG };
	const char *arg = hostport, *colon = strrchr(hostport, ':');
	struct addrinfo *res = NULL;
	char host[256];
	size_t hl;
	int rc;

	if (!colon || !colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1)) {
		snprintf(err, errlen, "'%s' is not HOST:PORT", hostport);
		return -1;
	}
	hl = (size_t)(colon - hostport);
	if (hl >= 2 && hostport[0] == '[' && hostport[hl - 1] == ']') {
		hostport++;
		hl -= 2;
	}
	if (!hl || hl >= sizeof(host) || atoi(colon + 1) < 1 || atoi(colon + 1) > 65535) {
		snprintf(err, errlen, "'%s' is not HOST:PORT (port 1-65535)", arg);
		return -1;
	}
	memcpy(host, hostport, hl);
	host[hl] = '\0';
	/* loopback-only hosts (a test namespace) have no configured address */
	rc = getaddrinfo(host, colon + 1, &hints, &res);
	if (rc == EAI_NONAME || rc == EAI_ADDRFAMILY) {
		hints.ai_flags = 0;
		rc = getaddrinfo(host, colon + 1, &hints, &res);
	}
	if (rc || !res || res->ai_addrlen > sizeof(*ss)) {
		snprintf(err, errlen, "cannot resolve '%s': %s", host,
			 rc ? gai_strerror(rc) : "no address");
		if (res)
			freeaddrinfo(res);
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}
