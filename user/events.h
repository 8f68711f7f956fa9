/* events.h - the event.action table (events.def): every action certsentry writes, by enum. */
#ifndef CS_EVENTS_H
#define CS_EVENTS_H

#include <stdbool.h>
#include <stdio.h>

enum event_action {
#define EVENT(id, action, desc) EV_##id,
#include "events.def"
#undef EVENT
	EV_MAX
};

const char *event_action_name(enum event_action a); /* e.g. tls-alert; "unknown" */
const char *event_action_description(enum event_action a);

/* --list-events: the table as aligned text or a JSON array; -1 on a write error. */
int events_list(FILE *out, bool json);

#endif
