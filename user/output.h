/* output.h - writes reports as JSON lines or text lines to a stream. */
#ifndef CS_OUTPUT_H
#define CS_OUTPUT_H

#include <stdio.h>
#include "dedup.h"
#include "report.h"

enum output_format { OUTPUT_JSON, OUTPUT_TEXT };

struct output;

struct output *output_new(FILE *f, enum output_format fmt);
/* Lines as syslog datagrams (RFC 3164, facility daemon, severity from the
 * verdict) to the socket at path, e.g. /dev/log. NULL with a reason in err. */
struct output *output_new_syslog(const char *path, enum output_format fmt, char *err,
				 size_t errlen);
void output_free(struct output *o);
/* One line per report, buffered: the caller flushes after each batch of
 * input (a ring-buffer wakeup), so lines still leave within that batch. */
int output_report(struct output *o, const struct cs_report *r);
/* Writes buffered lines out; a failed write is counted in write_errors. */
int output_flush(struct output *o);
/* A dedup summary: how often a (server, SNI, leaf, verdict) was seen again. */
int output_summary(struct output *o, const struct dedup_summary *s);
/* An operational event (start, stop, errors, counters): kind is ECS
 * event.kind ("event"/"state"), action the event.action, msg the message. */
int output_status(struct output *o, uint64_t ts_ns, const char *action,
		  const char *severity, const char *msg);
struct output_stats { uint64_t lines, write_errors, truncated; };
void output_stats(const struct output *o, struct output_stats *st);

#endif
