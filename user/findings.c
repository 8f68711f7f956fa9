/* findings.c - the findings table (findings.def): names, severities, needs and descriptions by code, and --list-findings. */
#include "findings.h"

#include <string.h>
#include "listing.h"

struct finding_row {
	const char *code;
	enum severity sev;
	unsigned needs;
	const char *description;
};

static const struct finding_row rows[F_MAX] = {
#define FINDING(id, code, sev, needs, desc) [F_##id] = { code, sev, needs, desc },
#include "findings.def"
#undef FINDING
};

static const char *const need_names[] = { "chain", "sni",     "lists",	  "ocsp",
					  "alert", "outcome", "inventory" };
_Static_assert(NEED_ALL == (1u << (sizeof(need_names) / sizeof(need_names[0]))) - 1,
	       "a name for every NEED_* bit");

static const struct finding_row *row_of(enum finding_code code)
{
	return (unsigned)code < F_MAX ? &rows[code] : NULL;
}

const char *finding_name(enum finding_code code)
{
	return row_of(code) ? row_of(code)->code : "unknown";
}

enum severity finding_severity(enum finding_code code)
{
	return row_of(code) ? row_of(code)->sev : SEV_OK;
}

unsigned finding_needs(enum finding_code code)
{
	return row_of(code) ? row_of(code)->needs : 0;
}

const char *finding_description(enum finding_code code)
{
	return row_of(code) ? row_of(code)->description : "";
}

int finding_parse(const char *name)
{
	for (int i = 0; name && i < F_MAX; i++)
		if (!strcmp(name, rows[i].code))
			return i;
	return -1;
}

const char *severity_name(enum severity s)
{
	switch (s) {
	case SEV_CRITICAL:
		return "critical";
	case SEV_HIGH:
		return "high";
	case SEV_MEDIUM:
		return "medium";
	case SEV_LOW:
		return "low";
	case SEV_OK:
		return "ok";
	}
	return "unknown";
}

const char *need_name(enum finding_need need)
{
	for (unsigned i = 0; i < sizeof(need_names) / sizeof(need_names[0]); i++)
		if (need == 1u << i)
			return need_names[i];
	return NULL;
}

static void list_row(uint32_t i, struct listing_field *f)
{
	static char needs[64]; /* "chain,sni,lists,ocsp,alert" at most */
	size_t n = 0;
	int k;

	needs[0] = '\0';
	for (unsigned b = 0; NEED_ALL >> b; b++) {
		if (!(rows[i].needs & (1u << b)))
			continue;
		k = snprintf(needs + n, sizeof(needs) - n, "%s%s", n ? "," : "",
			     need_name(1u << b));
		if (k < 0 || (size_t)k >= sizeof(needs) - n)
			break;
		n += (size_t)k;
	}
	f[0] = (struct listing_field){ "code", rows[i].code, false };
	f[1] = (struct listing_field){ "severity", severity_name(rows[i].sev), false };
	f[2] = (struct listing_field){ "needs", needs, true };
	f[3] = (struct listing_field){ "description", rows[i].description, false };
}

int findings_list(FILE *out, bool json)
{
	return listing_print(out, json, F_MAX, 4, list_row);
}
