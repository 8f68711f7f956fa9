/* output.c - each line built once per format in use, then handed to every sink of that format. */
#include <stdlib.h>
#include <string.h>
#include "checks.h"
#include "events.h"
#include "output.h"

struct output {
	struct {
		struct sink *sink;
		enum output_format fmt;
	} sinks[OUTPUT_SINKS_MAX];
	unsigned n_sinks;
	void *state[OUTPUT_FORMATS]; /* a format's own, e.g. JSON's certificate cache */
	bool used[OUTPUT_FORMATS];
	char *buf; /* OUTPUT_LINE_MAX + 1: room for the NUL */
	uint64_t truncated;
};

struct output *output_create(void)
{
	struct output *o = calloc(1, sizeof(*o));

	if (o && !(o->buf = malloc(OUTPUT_LINE_MAX + 1))) {
		free(o);
		return NULL;
	}
	return o;
}

int output_add_sink(struct output *o, struct sink *s, enum output_format fmt)
{
	const struct format_ops *f = format_ops(fmt);

	if (!o || !s || !f || o->n_sinks >= OUTPUT_SINKS_MAX)
		goto fail;
	if (!o->used[fmt] && f->state_new && !(o->state[fmt] = f->state_new()))
		goto fail;
	o->used[fmt] = true;
	o->sinks[o->n_sinks].sink = s;
	o->sinks[o->n_sinks].fmt = fmt;
	o->n_sinks++;
	return 0;
fail:
	sink_free(s);
	return -1;
}

struct output *output_new(FILE *f, enum output_format fmt)
{
	struct output *o;

	if (!f || fileno(f) < 0) /* lines are written with write(2) */
		return NULL;
	fflush(f); /* anything the caller wrote goes first */
	o = output_create();
	if (o && output_add_sink(o, sink_file_fd(fileno(f)), fmt)) {
		output_free(o);
		return NULL;
	}
	return o;
}

void output_free(struct output *o)
{
	if (!o)
		return;
	for (unsigned i = 0; i < o->n_sinks; i++)
		sink_free(o->sinks[i].sink);
	for (int f = 0; f < OUTPUT_FORMATS; f++)
		if (o->state[f])
			format_ops(f)->state_free(o->state[f]);
	free(o->buf);
	free(o);
}

void output_stats(const struct output *o, struct output_stats *st)
{
	struct sink_stats ss;

	memset(st, 0, sizeof(*st));
	if (!o)
		return;
	for (unsigned i = 0; i < o->n_sinks; i++) {
		sink_stats(o->sinks[i].sink, &ss);
		st->lines += ss.lines;
		st->lost += ss.lost;
		st->write_errors += ss.write_errors;
		st->cut += ss.truncated;
		st->subscribers += ss.subscribers;
		st->sub_dropped += ss.sub_dropped;
		st->sub_refused += ss.sub_refused;
		st->sub_lost += ss.sub_lost;
	}
	st->truncated = o->truncated;
}

int output_flush(struct output *o)
{
	int rc = 0;

	for (unsigned i = 0; o && i < o->n_sinks; i++)
		if (sink_flush(o->sinks[i].sink))
			rc = -1;
	return rc;
}

void output_poll(struct output *o)
{
	for (unsigned i = 0; o && i < o->n_sinks; i++)
		sink_poll(o->sinks[i].sink);
}

int output_reopen(struct output *o, char *err, size_t errlen)
{
	int rc = 0;

	for (unsigned i = 0; o && i < o->n_sinks; i++)
		if (sink_reopen(o->sinks[i].sink, err, errlen) && !rc) {
			rc = -1;
			err = NULL; /* keep the first reason */
			errlen = 0;
		}
	return rc;
}

enum line_kind { LINE_REPORT, LINE_SUMMARY, LINE_STATUS };

/* Builds the line once per format in use and hands it to that format's
 * sinks, with its syslog severity and event.action. -1 if a sink lost it. */
static int emit(struct output *o, enum line_kind kind, const void *what, int sev,
		const char *action)
{
	int rc = 0;

	for (int f = 0; f < OUTPUT_FORMATS; f++) {
		const struct format_ops *fo = format_ops(f);
		struct line l = { o->buf, OUTPUT_LINE_MAX, false };
		struct sink_line sl = { o->buf, 0, sev, action };

		if (!o->used[f])
			continue;
		if (kind == LINE_REPORT)
			sl.len = fo->report(o->state[f], &l, what);
		else if (kind == LINE_SUMMARY)
			sl.len = fo->summary(o->state[f], &l, what);
		else
			sl.len = fo->status(o->state[f], &l, what);
		if (l.truncated)
			o->truncated++;
		for (unsigned i = 0; i < o->n_sinks; i++)
			if ((int)o->sinks[i].fmt == f && sink_write_line(o->sinks[i].sink, &sl))
				rc = -1;
	}
	return rc;
}

int output_report(struct output *o, const struct cs_report *r)
{
	if (!o || !r)
		return -1;
	return emit(o, LINE_REPORT, r, r->verdict ? (int)r->verdict->worst : 6, action_name(r));
}

int output_summary(struct output *o, const struct dedup_summary *s)
{
	if (!o || !s)
		return -1;
	return emit(o, LINE_SUMMARY, s, s->severity, event_action_name(EV_TLS_SUMMARY));
}

/* syslog numbers, as ECS event.severity suggests */
static int severity_num(const char *s)
{
	static const char *const names[] = {
		"emergency", "alert", "critical", "error", "warning", "notice", "info", "debug",
	};

	for (int i = 0; s && i < 8; i++)
		if (!strcmp(s, names[i]))
			return i;
	return s && !strcmp(s, "warn") ? 4 : -1;
}

int output_status(struct output *o, uint64_t ts_ns, const char *action, const char *severity,
		  const char *msg)
{
	struct status_event e = { ts_ns, action, severity, severity_num(severity), msg };

	if (!o)
		return -1;
	/* operators watch status lines: they go out at once */
	if (emit(o, LINE_STATUS, &e, e.sev >= 0 ? e.sev : 6, action ? action : "status"))
		return -1;
	return output_flush(o);
}
