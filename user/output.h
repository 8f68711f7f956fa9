/* output.h - each report, summary or status event as one line, to one or more sinks. */
#ifndef CS_OUTPUT_H
#define CS_OUTPUT_H

#include <stdio.h>
#include "dedup.h"
#include "format.h"
#include "report.h"
#include "sink.h"

/* Bounded per line: a chain of 16 certificates with 1024 SANs each can be
 * longer, and then the JSON is cut at a token and marked, never broken. */
#define OUTPUT_LINE_MAX	 (256 * 1024)
#define OUTPUT_SINKS_MAX 4

struct output;

/* An output with no sink yet. */
struct output *output_create(void);
/* Lines in format fmt to s from now on; o owns s from here, also when this
 * fails (-1: no memory, or OUTPUT_SINKS_MAX sinks already). */
int output_add_sink(struct output *o, struct sink *s, enum output_format fmt);
/* One file sink on f's descriptor (f stays the caller's). */
struct output *output_new(FILE *f, enum output_format fmt);
void output_free(struct output *o);
/* One line per report, buffered: the caller flushes after each batch of
 * input (a ring-buffer wakeup), so lines still leave within that batch. */
int output_report(struct output *o, const struct cs_report *r);
/* Writes buffered lines out; a failed write is counted in write_errors. */
int output_flush(struct output *o);
/* Every sink opens its destination again (log rotation); -1 with the first
 * reason in err if one could not (it keeps writing where it did). */
int output_reopen(struct output *o, char *err, size_t errlen);
/* A dedup summary: how often a (server, SNI, leaf, verdict) was seen again. */
int output_summary(struct output *o, const struct dedup_summary *s);
/* An operational event (start, stop, errors, counters): action is the ECS
 * event.action, severity a syslog level name ("info", "warning"...), msg
 * the message. Written at once. */
int output_status(struct output *o, uint64_t ts_ns, const char *action, const char *severity,
		  const char *msg);
/* The live loop's periodic call: sinks with subscribers take them in. */
void output_poll(struct output *o);
/* Summed over the sinks; truncated counts lines cut at OUTPUT_LINE_MAX as
 * they were built (once per format), cut those a sink cut to fit a datagram;
 * sub_*: an event socket's subscribers (struct sink_stats). */
struct output_stats {
	uint64_t lines, lost, write_errors, truncated, cut;
	uint64_t subscribers, sub_dropped, sub_refused, sub_lost;
};
void output_stats(const struct output *o, struct output_stats *st);

#endif
