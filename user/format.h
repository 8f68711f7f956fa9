/* format.h - how a line looks (JSON, text): one file per format, one row in formats.def. */
#ifndef CS_FORMAT_H
#define CS_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "dedup.h"
#include "report.h"

enum output_format {
#define FORMAT(id, name, ops) id,
#include "formats.def"
#undef FORMAT
	OUTPUT_FORMATS
};

/* A line being built: at most cap bytes into buf (+1 for a NUL), marked
 * truncated when something did not fit. No '\n': the sink adds it. */
struct line {
	char *buf;
	size_t cap;
	bool truncated;
};

/* An operational event (start, stop, errors, counters). */
struct status_event {
	uint64_t ts_ns;
	const char *action;   /* ECS event.action; NULL: "status" */
	const char *severity; /* log.level as given; NULL: "info" */
	int sev;	      /* its syslog number, -1 if it names none */
	const char *msg;      /* may be NULL */
};

/* Each returns the line's length. state is what state_new() made for this
 * output (NULL if the format has no state_new). */
struct format_ops {
	void *(*state_new)(void); /* NULL on no memory */
	void (*state_free)(void *state);
	size_t (*report)(void *state, struct line *l, const struct cs_report *r);
	size_t (*summary)(void *state, struct line *l, const struct dedup_summary *s);
	size_t (*status)(void *state, struct line *l, const struct status_event *e);
};

#define FORMAT(id, name, ops) extern const struct format_ops ops;
#include "formats.def"
#undef FORMAT

const struct format_ops *format_ops(enum output_format f);
/* Text lines colour their verdict and severity (ANSI) from now on. */
void format_text_color(bool on);
/* The format called name in formats.def, or -1. */
int format_parse(const char *name);
/* "json or text": the names, for a message. */
const char *format_names(void);

/* event.dataset of the daemon's own lines (start, counters, lists), as
 * JSON writes it and `certsentry tail` tells them apart. */
#define DATASET_STATUS "certsentry.status"

/* ---- what a report says, the same in every format ---- */

/* event.action of a report; for a summary, of the reports it counts. */
const char *action_name(const struct cs_report *r);
/* certsentry.source: "wire", "keylog", "uprobe", "confirm". */
const char *report_source_name(const struct cs_report *r);
/* certsentry.binding (how a uprobe's chain was tied to the connection):
 * "exact", or NULL when the source has none. */
const char *report_binding_name(const struct cs_report *r);
/* Negotiated version ("1.2") only when a ServerHello named one we know. */
const char *report_version(const struct cs_report *r);
bool report_has_cipher(const struct cs_report *r);
/* The alert's description ("bad_certificate", or its number into buf). */
const char *report_alert_desc(const struct cs_report *r, char *buf, size_t cap);
const char *report_alert_level(uint8_t level);

#endif
