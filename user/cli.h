/* cli.h - each option declared once (name, value, help, group, bounds, parser); commands. */
#ifndef CS_CLI_H
#define CS_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "capture.h"
#include "checks.h"
#include "filter.h"
#include "format.h"
#include "outcomes.h"
#include "lists.h"
#include "uprobe.h"

#define CLI_KEYLOG_FILES_MAX 8
#include "privdrop.h"
#include "sources.h"

enum cli_list { CLI_LIST_NONE, CLI_LIST_FINDINGS, CLI_LIST_EVENTS };
enum cli_color { CLI_COLOR_AUTO, CLI_COLOR_ALWAYS, CLI_COLOR_NEVER };

/* What the options set: everything a run is configured by. Strings point
 * into argv (or into whatever the caller keeps alive). */
struct config {
	struct capture_opts cap;
	const char *read_file; /* -r: offline */
	const char *out_file;
	enum output_format format;
	bool format_set;    /* -f given (the lists print text unless asked) */
	uint32_t max_bytes; /* 0: CS_MAX_BYTES_DEFAULT */
	int64_t check_time; /* FLOW_CHECK_* or a fixed Unix time */
	struct lists_opts lists;
	struct checks_opts checks;
	uint32_t summary_s;
	uint32_t stats_s;
	const char *metrics;
	const char *syslog;
	const char *event_socket; /* --event-socket: serve lines to subscribers */
	const char *event_socket_group;
	uint32_t event_socket_queue; /* bytes per subscriber; 0: SINK_SOCKET_QUEUE */
	const char *syslog_server;   /* udp://HOST:PORT or tcp://HOST:PORT */
	int syslog_format;	     /* SYSLOG_3164 or SYSLOG_5424 (syslog_msg.h); 0: unset */
	uint32_t syslog_queue;	     /* tcp://: bytes held; 0: SYSLOG_QUEUE_DEFAULT */
	uint32_t max_conns, max_mem_mb;
	bool every;
	enum cli_list list;	       /* print a table and exit */
	struct outcomes_opts outcomes; /* --abort-*: the rate of client aborts (emit unset) */
	/* TLS 1.3 key sources */
	const char *keylog_paths[CLI_KEYLOG_FILES_MAX]; /* --keylog */
	int n_keylog;
	int uprobe;		   /* --uprobe 1, --no-uprobe 0; -1: live, if the kernel allows */
	struct uprobe_opts up;	   /* --uprobe-pid, --uprobe-path */
	const char *config_file;   /* --config; "" none; NULL: CONFFILE_DEFAULT if it exists */
	bool check_config;	   /* validate the config and its lists, and exit */
	struct privdrop_opts drop; /* after attach: --user, --no-drop */
	struct filter filter;	   /* --sni, --port, --host, --alerts-only */
	const char *tail_socket;   /* certsentry tail --socket */
	enum cli_color color;
	/* --confirm (confirm.h); 0: the default */
	bool confirm, confirm_remote;
	uint32_t confirm_ttl_s, confirm_rate, confirm_timeout_ms;
	struct sources_opts src; /* --state-dir, --inventory*, --fetch-* (live) */
};

/* The values a run has before any option. */
void config_defaults(struct config *c);

/* Help sections, in --help's order; a command takes options by section. */
enum cli_group {
	CLI_G_MAIN,
	CLI_G_TLS13,
	CLI_G_CHECKS,
	CLI_G_SOURCES,
	CLI_G_CONFIRM,
	CLI_G_FILTER,
	CLI_G_TAIL,
	CLI_G_MAX
};
#define CLI_GROUPS_ALL ((1u << CLI_G_MAX) - 1)

struct cli_option;

/* cli_apply's answers. */
#define CLI_BAD	     (-1) /* why: what is wrong with the value (say where from) */
#define CLI_CONFLICT (-2) /* why: a whole message naming the options in conflict */

/*
 * The one way an option reaches a config, from the command line or, with
 * "key = value" lines, a file: the option by its long name (NULL if none),
 * then its value applied (arg NULL: a flag, or an optional value left out).
 * A file reports "FILE:LINE: key: why"; the command line "--key: why".
 */
const struct cli_option *cli_option_find(const char *name);
/* The i-th option's long name (hidden: left out of --help), NULL past the last. */
const char *cli_option_name(size_t i, bool *hidden);
int cli_apply(struct config *c, const struct cli_option *o, const char *arg, char *why,
	      size_t whylen);
/* May o be a key of a config file (--config, --check-config, the lists may not)? */
bool cli_option_file_ok(const struct cli_option *o);
/* Rules between options, once all are applied: 0, or -1 with why set. */
int cli_check(const struct config *c, char *why, size_t whylen);

struct conffile;
/* The config file cli_parse() applied (NULL: none); it lives as long as the run. */
const struct conffile *cli_conffile(void);

/*
 * SIGHUP: the config again as cli_parse() made it (defaults, the file read
 * anew, the same command line over it) into c, without printing or exiting.
 * 0 with *f the new file's values (c points into them; conffile_free() when
 * done), or -1 with err saying what was wrong (FILE:LINE: key: why).
 */
int cli_reload(struct config *c, struct conffile **f, char *err, size_t errlen);

/*
 * The settings that differ between old and new and that only a restart
 * applies (the list files apply at once), as "name,name" in buf; how many.
 */
unsigned cli_restart_needed(const struct config *old, const struct config *new, char *buf,
			    size_t len);

/*
 * A command: "certsentry NAME [OPTION...]", or the default (name NULL) when
 * argv[1] names none. Adding one is a row: its name, --help text, the
 * option groups it takes and the function that runs it.
 */
struct cli_command {
	const char *name;
	const char *doc; /* argp doc: summary, '\v', what follows the options */
	uint32_t groups; /* 1u << enum cli_group */
	int (*run)(const struct config *c);
};

/*
 * Parses argv with argp (--help, --usage, --version): picks the command,
 * starts from config_defaults(), applies the config file (--config, or
 * CONFFILE_DEFAULT if it exists), then each option of the command line in
 * order: a command-line option replaces the file's value (a repeatable one
 * all of the file's values; -r the file's -i and back). A
 * bad option prints "certsentry: --opt: why" and a pointer to --help, and
 * exits with argp's status (64). NULL if parsing could not run at all or the
 * file was bad (printed as "FILE:LINE: key: why").
 */
const struct cli_command *cli_parse(int argc, char **argv, const struct cli_command *cmds,
				    size_t n_cmds, struct config *c);

#endif
