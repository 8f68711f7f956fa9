/* term.h - the terminal view: the colour decision, the stderr status line, the exit summary table. */
#ifndef CS_TERM_H
#define CS_TERM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "report.h"

enum term_color { TERM_COLOR_AUTO, TERM_COLOR_ALWAYS, TERM_COLOR_NEVER };

/* --color: auto colours a terminal unless NO_COLOR is set and not empty
 * (no-color.org); always and never are what they say. */
bool term_color_wanted(enum term_color mode, bool is_tty, const char *no_color);
/* "auto", "always", "never": the mode, or -1. */
int term_color_parse(const char *s);

/* ANSI colour of a log.level/severity name ("critical", "warning"...), "" for none. */
const char *term_severity_color(const char *severity);
#define TERM_RESET "\033[0m"

#define TERM_SUMMARY_ROWS    64 /* (SNI, leaf) pairs; more are counted, not shown */
#define TERM_SUMMARY_CLIENTS 16 /* distinct clients counted per row, then "16+" */

/* What the live view tallies: the status line's numbers, the exit table. */
struct term_view;

struct term_view *term_view_new(void);
void term_view_free(struct term_view *v);
/* One report as written (after filters): verdict the worst finding's code
 * name ("ok" if none), alert true when it has findings. */
void term_view_report(struct term_view *v, const struct cs_report *r, const char *verdict,
		      bool alert);

/* The status line (no newline) for the second since the previous call:
 * handshakes/s, certificates, alerts, unverified TLS 1.3, drops, flows. */
size_t term_status_text(struct term_view *v, uint64_t drops, uint64_t flows, char *buf, size_t len);
/* The exit table, one row per (SNI, leaf): count, clients, verdict. */
void term_summary_print(const struct term_view *v, FILE *f);

#endif
