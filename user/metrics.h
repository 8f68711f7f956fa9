/* metrics.h - the counter table as Prometheus text at /metrics (libmicrohttpd). */
#ifndef CS_METRICS_H
#define CS_METRICS_H

#include <stddef.h>
#include "counters.h"

/* Takes a snapshot of the counters for one scrape. */
typedef void (*metrics_read_fn)(void *ctx, struct counter_snap *s);

struct metrics;

/* listen is "PORT", "ADDR:PORT" or "[ADDR6]:PORT". NULL with a reason in err. */
struct metrics *metrics_start(const char *listen, metrics_read_fn fn, void *ctx, char *err,
			      size_t errlen);
/* The exposition text (format 0.0.4) of every row of counters.def with a
 * metric, into buf (at most cap bytes); returns its length. */
size_t metrics_render(const struct counter_snap *s, char *buf, size_t cap);
/* Answers pending requests without blocking; the snapshot is taken here, in
 * the caller's thread, so it reads counters no other thread writes. */
void metrics_poll(struct metrics *m);
/* More exposition text after the counters' (series with labels of their
 * own): fn writes at most cap bytes into buf and returns the length. */
typedef size_t (*metrics_extra_fn)(void *ctx, char *buf, size_t cap);
void metrics_set_extra(struct metrics *m, metrics_extra_fn fn, void *ctx);
void metrics_stop(struct metrics *m);

#endif
