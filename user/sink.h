/* sink.h - where a finished line goes (a file, stdout, syslog): one interface, a file per kind. */
#ifndef CS_SINK_H
#define CS_SINK_H

#include <stddef.h>
#include <stdint.h>

/*
 * A sink takes whole lines, already formatted, and delivers them. It may hold
 * them until sink_flush() (the end of an input batch); it never blocks the
 * capture for long and never stops it: a line it cannot deliver is counted
 * lost and the next one is tried. A new kind is one file (its constructor)
 * and one row in sinks.def.
 */
struct sink_stats {
	uint64_t lines;	       /* delivered whole */
	uint64_t lost;	       /* not delivered, or delivered torn */
	uint64_t write_errors; /* failed writes: a batch, a datagram or a connection each */
	uint64_t truncated;    /* delivered cut short to fit a datagram (and counted in lines) */
	/* A sink that serves subscribers (socket): not in lines and lost above,
	 * which are the sink's own delivery. */
	uint64_t subscribers; /* connected now */
	uint64_t sub_dropped; /* disconnected for falling a whole queue behind */
	uint64_t sub_refused; /* turned away: the bound was reached */
	uint64_t sub_lost;    /* lines a dropped subscriber did not get */
};

/* One finished line and what a sink may want to know of it besides its bytes. */
struct sink_line {
	const char *text; /* without its '\n' */
	size_t len;
	int sev;	   /* its syslog severity (0-7) */
	const char *msgid; /* what kind of line: its event.action (RFC 5424 MSGID); may be NULL */
};

/* What a sink is told beyond its argument; a NULL one means the defaults. */
struct sink_opts {
	int syslog_format;  /* SYSLOG_3164 (0: the default) or SYSLOG_5424 (syslog_msg.h) */
	size_t queue_bytes; /* held while a stream sink is disconnected, or for each
				 * subscriber of the socket (0: the default) */
	const char *group;  /* socket: the group that may connect, name or number
				 * (NULL: SINK_SOCKET_GROUP if it exists) */
	unsigned max_subs;  /* socket: subscribers at once (0: SINK_SOCKET_SUBS_MAX) */
};

struct sink;

struct sink_ops {
	/* -1 if the line is lost (already counted). */
	int (*write)(struct sink *s, const struct sink_line *l);
	/* What was held leaves now; -1 if some of it did not. NULL: holds nothing. */
	int (*flush)(struct sink *s);
	/* Log rotation: open the destination again by its name; on failure the
	 * old one stays in use. NULL: there is nothing to reopen. */
	int (*reopen)(struct sink *s, char *err, size_t errlen);
	void (*free)(struct sink *s); /* flushes first */
	/* The live loop's periodic call (accept, send what waits). NULL: none. */
	void (*poll)(struct sink *s);
};

/* The head of every kind's own struct. */
struct sink {
	const struct sink_ops *ops;
	const char *name; /* its row's name in sinks.def */
	struct sink_stats st;
};

int sink_write_line(struct sink *s, const struct sink_line *l);
/* The same for a line that says nothing of its kind. */
int sink_write(struct sink *s, const char *line, size_t len, int sev);
int sink_flush(struct sink *s);
int sink_reopen(struct sink *s, char *err, size_t errlen);
void sink_stats(const struct sink *s, struct sink_stats *st);
void sink_free(struct sink *s);
void sink_poll(struct sink *s);

/* The sink of that name in sinks.def, given its argument (NULL: its
 * default) and options (NULL: the defaults). NULL with a reason in err,
 * after the row's option name. */
struct sink *sink_open_opts(const char *name, const char *arg, const struct sink_opts *o, char *err,
			    size_t errlen);
struct sink *sink_open(const char *name, const char *arg, char *err, size_t errlen);

/* One constructor per row of sinks.def; o is never NULL. */
#define SINK(name, open, option) \
	struct sink *open(const char *arg, const struct sink_opts *o, char *err, size_t errlen);
#include "sinks.def"
#undef SINK

/* A file sink on a descriptor the caller keeps open (a FILE's, a pipe, a
 * memfd): not closed here, nothing to reopen. NULL if out of memory. */
struct sink *sink_file_fd(int fd);

/* The event socket (sink_socket.c): JSON lines to local subscribers
 * (`certsentry tail`) on a UNIX stream socket, mode 0660. */
#define SINK_SOCKET_DEFAULT  "/run/certsentry/events.sock"
#define SINK_SOCKET_GROUP    "certsentry" /* the default group, if it exists */
#define SINK_SOCKET_SUBS_MAX 16
#define SINK_SOCKET_QUEUE    (1024 * 1024) /* bytes held per subscriber */

#endif
