/* term.c - the terminal view: the colour decision, the stderr status line, the exit summary table. */
#include <stdlib.h>
#include <string.h>
#include "fmt.h"
#include "term.h"

bool term_color_wanted(enum term_color mode, bool is_tty, const char *no_color)
{
	if (mode != TERM_COLOR_AUTO)
		return mode == TERM_COLOR_ALWAYS;
	return is_tty && !(no_color && *no_color);
}

int term_color_parse(const char *s)
{
	static const char *const names[] = { "auto", "always", "never" };

	for (int i = 0; i < 3; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

const char *term_severity_color(const char *severity)
{
	static const struct {
		const char *name, *color;
	} map[] = {
		{ "emergency", "\033[1;31m" }, { "alert", "\033[1;31m" },
		{ "critical", "\033[1;31m" },  { "error", "\033[31m" },
		{ "high", "\033[31m" },	       { "warning", "\033[33m" },
		{ "medium", "\033[33m" },      { "notice", "\033[36m" },
		{ "low", "\033[36m" },	       { "ok", "\033[32m" },
		{ "unverified", "\033[33m" },
	};

	for (size_t i = 0; severity && i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(severity, map[i].name))
			return map[i].color;
	return "";
}

struct term_row {
	char sni[256];
	char leaf[17];	  /* the first 16 hex digits of its SHA-256 */
	char verdict[64]; /* the worst seen */
	bool alert;
	uint64_t count;
	struct report_endpoint clients[TERM_SUMMARY_CLIENTS];
	uint32_t n_clients;
	bool clients_capped;
};

struct term_view {
	uint64_t handshakes, certificates, alerts, hidden;
	uint64_t last_handshakes; /* at the previous status line */
	uint32_t n_rows;
	uint64_t rows_dropped; /* reports of pairs past TERM_SUMMARY_ROWS */
	uint32_t pairs_dropped;
	struct term_row rows[TERM_SUMMARY_ROWS];
	/* pairs not shown, told apart well enough to count them */
	struct {
		char sni[64];
		char leaf[17];
	} dropped[TERM_SUMMARY_ROWS];
};

struct term_view *term_view_new(void)
{
	return calloc(1, sizeof(struct term_view));
}

void term_view_free(struct term_view *v)
{
	free(v);
}

static void add_client(struct term_row *row, const struct report_endpoint *c)
{
	struct report_endpoint ip = *c;

	ip.port = 0;
	for (uint32_t i = 0; i < row->n_clients; i++)
		if (!memcmp(&row->clients[i], &ip, sizeof(ip)))
			return;
	if (row->n_clients < TERM_SUMMARY_CLIENTS)
		row->clients[row->n_clients++] = ip;
	else
		row->clients_capped = true;
}

static struct term_row *find_row(struct term_view *v, const char *sni, const char *leaf)
{
	struct term_row *row;

	for (uint32_t i = 0; i < v->n_rows; i++)
		if (!strcmp(v->rows[i].sni, sni) && !strcmp(v->rows[i].leaf, leaf))
			return &v->rows[i];
	if (v->n_rows >= TERM_SUMMARY_ROWS)
		return NULL;
	row = &v->rows[v->n_rows++];
	memset(row, 0, sizeof(*row));
	snprintf(row->sni, sizeof(row->sni), "%.255s", sni);
	snprintf(row->leaf, sizeof(row->leaf), "%s", leaf);
	return row;
}

/* A pair past the table: counted once each, up to a second table's size. */
static void count_dropped(struct term_view *v, const char *sni, const char *leaf)
{
	uint32_t n = v->pairs_dropped < TERM_SUMMARY_ROWS ? v->pairs_dropped : TERM_SUMMARY_ROWS;

	v->rows_dropped++;
	for (uint32_t i = 0; i < n; i++)
		if (!strncmp(v->dropped[i].sni, sni, sizeof(v->dropped[i].sni) - 1) &&
		    !strcmp(v->dropped[i].leaf, leaf))
			return;
	if (n < TERM_SUMMARY_ROWS) {
		snprintf(v->dropped[n].sni, sizeof(v->dropped[n].sni), "%.63s", sni);
		snprintf(v->dropped[n].leaf, sizeof(v->dropped[n].leaf), "%s", leaf);
	}
	v->pairs_dropped++;
}

void term_view_report(struct term_view *v, const struct cs_report *r, const char *verdict,
		      bool alert)
{
	const char *sni = r->has_sni ? r->sni : "-";
	char leaf[17] = "-";
	struct term_row *row;

	if (r->action == REPORT_CERTIFICATE_HIDDEN)
		v->hidden++;
	if (alert)
		v->alerts++;
	if (r->action != REPORT_CERTIFICATE && r->action != REPORT_CERTIFICATE_HIDDEN &&
	    r->action != REPORT_RESUMED)
		return;
	v->handshakes++;
	if (r->action != REPORT_CERTIFICATE)
		return;
	v->certificates++;
	if (r->chain_len && r->chain[0])
		snprintf(leaf, sizeof(leaf), "%.16s", r->chain[0]->sha256_hex);
	if (!(row = find_row(v, sni, leaf))) {
		count_dropped(v, sni, leaf);
		return;
	}
	row->count++;
	add_client(row, &r->client);
	/* an alert stays the row's verdict once seen */
	if (alert || !row->alert) {
		snprintf(row->verdict, sizeof(row->verdict), "%s", verdict);
		row->alert = alert;
	}
}

size_t term_status_text(struct term_view *v, uint64_t drops, uint64_t flows, char *buf, size_t len)
{
	int n = snprintf(buf, len,
			 "%llu handshakes/s  %llu certificates  %llu alerts  "
			 "%llu unverified TLS 1.3  %llu drops  %llu flows",
			 (unsigned long long)(v->handshakes - v->last_handshakes),
			 (unsigned long long)v->certificates, (unsigned long long)v->alerts,
			 (unsigned long long)v->hidden, (unsigned long long)drops,
			 (unsigned long long)flows);

	v->last_handshakes = v->handshakes;
	return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

void term_summary_print(const struct term_view *v, FILE *f)
{
	char sni[48];

	if (!v->n_rows)
		return;
	fprintf(f, "%-40s %-16s %8s %8s  %s\n", "SNI", "LEAF", "COUNT", "CLIENTS", "VERDICT");
	for (uint32_t i = 0; i < v->n_rows; i++) {
		const struct term_row *row = &v->rows[i];
		char clients[16];

		/* a hostile SNI is escaped, and cut to its column */
		fmt_safe(sni, sizeof(sni), row->sni, FMT_WORD, 37);
		snprintf(clients, sizeof(clients), "%u%s", row->n_clients,
			 row->clients_capped ? "+" : "");
		fprintf(f, "%-40s %-16s %8llu %8s  %s\n", sni, row->leaf,
			(unsigned long long)row->count, clients, row->verdict);
	}
	if (v->pairs_dropped)
		fprintf(f, "... %u%s more (SNI, leaf) pairs, %llu handshakes\n", v->pairs_dropped,
			v->pairs_dropped > TERM_SUMMARY_ROWS ? "+" : "",
			(unsigned long long)v->rows_dropped);
}
