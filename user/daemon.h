/* daemon.h - one run: the pipeline wired from a config, fed by the kernel or a capture file. */
#ifndef CS_DAEMON_H
#define CS_DAEMON_H

#include "cli.h"

/* Until SIGINT/SIGTERM (live) or the end of c->read_file; the exit status:
 * 0, 1 (a failure while running), 2 (a bad setting: output, lists). */
int daemon_run(const struct config *c);

#endif
