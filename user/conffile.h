/* conffile.h - the config file: "key = value" lines applied through the option table. */
#ifndef CS_CONFFILE_H
#define CS_CONFFILE_H

#include <stddef.h>
#include <stdio.h>

struct config;

/* Read when no --config is given, if it exists. */
#define CONFFILE_DEFAULT    "/etc/certsentry/certsentry.conf"
#define CONFFILE_BYTES_MAX  (1u << 20)
#define CONFFILE_VALUES_MAX 4096

/* The file's values (the config's strings point into it) and where each came from. */
struct conffile;

/*
 * Applies path's lines to c, in order, through cli_apply(): "key = value",
 * a bare "key" for a flag (or "key = true|false"), '#' comments and blank
 * lines; a repeatable key adds a value per line. NULL on the first error,
 * with err saying "path:line: key: why"; conffile_free() when c is done with.
 */
struct conffile *conffile_apply(const char *path, struct config *c, char *err, size_t errlen);
void conffile_free(struct conffile *f);

/* "path:line" (in buf) of the line that gave value (a pointer the config
 * holds), or NULL if value did not come from f. */
const char *conffile_where(const struct conffile *f, const char *value, char *buf, size_t len);
/* The file's path, and how many settings it applied. */
const char *conffile_path(const struct conffile *f);
unsigned conffile_settings(const struct conffile *f);

/*
 * --check-config: c (made from f, NULL if no file, and the command line)
 * and every list file it names, each loaded alone so an error names the
 * setting: "FILE:LINE: key: why" on err; 0 and a summary line on out, or 1.
 */
int conffile_check(const struct config *c, const struct conffile *f, FILE *out, FILE *err);

#endif
