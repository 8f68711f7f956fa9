/* tail.h - certsentry tail: follow the service's event socket (--event-socket) as a subscriber. */
#ifndef CS_TAIL_H
#define CS_TAIL_H

#include "cli.h"

/* Connects to c->tail_socket (default SINK_SOCKET_DEFAULT), shows each line
 * that passes c->filter (text on a terminal, or -f), reconnects when the
 * service restarts, until SIGINT/SIGTERM. 0, or 1: could not connect at
 * first, or the service refused. */
int tail_run(const struct config *c);

#endif
