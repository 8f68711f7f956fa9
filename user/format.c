/* format.c - the format table (formats.def) and what a report says, shared by every format. */
#include <stdio.h>
#include <string.h>
#include "events.h"
#include "format.h"
#include "served.h"
#include "tls.h"

static const struct {
	const char *name;
	const struct format_ops *ops;
} formats[OUTPUT_FORMATS] = {
#define FORMAT(id, name, ops) [id] = { name, &ops },
#include "formats.def"
#undef FORMAT
};

const struct format_ops *format_ops(enum output_format f)
{
	return (unsigned)f < OUTPUT_FORMATS ? formats[f].ops : NULL;
}

int format_parse(const char *name)
{
	for (int i = 0; i < OUTPUT_FORMATS; i++)
		if (!strcmp(name, formats[i].name))
			return i;
	return -1;
}

const char *format_names(void)
{
	static char names[128];
	size_t n = 0;

	for (int i = 0; i < OUTPUT_FORMATS && n < sizeof(names); i++)
		n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s",
				      !i		     ? "" :
				      i + 1 < OUTPUT_FORMATS ? ", " :
							       " or ",
				      formats[i].name);
	return names;
}

const char *action_name(const struct cs_report *r)
{
	return event_action_name((enum event_action)r->action);
}

const char *report_source_name(const struct cs_report *r)
{
	static const char *const names[] = {
		[SOURCE_WIRE] = "wire",
		[SOURCE_KEYLOG] = "keylog",
		[SOURCE_UPROBE] = "uprobe",
		[SOURCE_CONFIRM] = "confirm",
	};

	return (unsigned)r->source < sizeof(names) / sizeof(names[0]) ? names[r->source] :
									"unknown";
}

const char *report_binding_name(const struct cs_report *r)
{
	if (r->source != SOURCE_UPROBE)
		return NULL;
	return r->binding == UPROBE_BIND_EXACT ? "exact" : "unknown";
}

const char *report_version(const struct cs_report *r)
{
	return r->have_server_hello && r->version ? tls_version_number(r->version) : NULL;
}

/* SSLv2 has no two-byte cipher suite id to name. */
bool report_has_cipher(const struct cs_report *r)
{
	return r->have_server_hello && r->version != 0x0002;
}

const char *report_alert_desc(const struct cs_report *r, char *buf, size_t cap)
{
	const char *n = tls_alert_name(r->alert_desc);

	if (n)
		return n;
	snprintf(buf, cap, "%u", r->alert_desc);
	return buf;
}

const char *report_alert_level(uint8_t level)
{
	return level == 1 ? "warning" : level == 2 ? "fatal" : "unknown";
}
