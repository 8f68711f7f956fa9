/* sink.c - the sink table (sinks.def) and the calls every kind answers. */
#include <stdio.h>
#include <string.h>
#include "sink.h"

static const struct {
	const char *name;
	struct sink *(*open)(const char *arg, const struct sink_opts *o, char *err, size_t errlen);
	const char *option;
} kinds[] = {
#define SINK(name, open, option) { name, open, option },
#include "sinks.def"
#undef SINK
};

struct sink *sink_open_opts(const char *name, const char *arg, const struct sink_opts *o, char *err,
			    size_t errlen)
{
	static const struct sink_opts defaults;
	char why[256] = "";
	struct sink *s;

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(kinds[i].name, name))
			continue;
		s = kinds[i].open(arg, o ? o : &defaults, why, sizeof(why));
		if (s)
			s->name = kinds[i].name;
		else
			snprintf(err, errlen, "%s: %s", kinds[i].option, why);
		return s;
	}
	snprintf(err, errlen, "no sink named '%s'", name);
	return NULL;
}

struct sink *sink_open(const char *name, const char *arg, char *err, size_t errlen)
{
	return sink_open_opts(name, arg, NULL, err, errlen);
}

int sink_write_line(struct sink *s, const struct sink_line *l)
{
	return s->ops->write(s, l);
}

int sink_write(struct sink *s, const char *line, size_t len, int sev)
{
	const struct sink_line l = { line, len, sev, NULL };

	return s->ops->write(s, &l);
}

int sink_flush(struct sink *s)
{
	return s->ops->flush ? s->ops->flush(s) : 0;
}

int sink_reopen(struct sink *s, char *err, size_t errlen)
{
	return s->ops->reopen ? s->ops->reopen(s, err, errlen) : 0;
}

void sink_stats(const struct sink *s, struct sink_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (s)
		*st = s->st;
}

void sink_free(struct sink *s)
{
	if (s)
		s->ops->free(s);
}

void sink_poll(struct sink *s)
{
	if (s && s->ops->poll)
		s->ops->poll(s);
}
