/* events.c - the event.action table (events.def): names and descriptions by enum, and --list-events. */
#include "events.h"

#include "listing.h"

static const struct {
	const char *action, *description;
} rows[EV_MAX] = {
#define EVENT(id, action, desc) [EV_##id] = { action, desc },
#include "events.def"
#undef EVENT
};

const char *event_action_name(enum event_action a)
{
	return (unsigned)a < EV_MAX ? rows[a].action : "unknown";
}

const char *event_action_description(enum event_action a)
{
	return (unsigned)a < EV_MAX ? rows[a].description : "";
}

static void list_row(uint32_t i, struct listing_field *f)
{
	f[0] = (struct listing_field){ "action", rows[i].action, false };
	f[1] = (struct listing_field){ "description", rows[i].description, false };
}

int events_list(FILE *out, bool json)
{
	return listing_print(out, json, EV_MAX, 2, list_row);
}
