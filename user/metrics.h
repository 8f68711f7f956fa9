/* metrics.h - a Prometheus /metrics endpoint (libmicrohttpd), served from the main loop. */
#ifndef CS_METRICS_H
#define CS_METRICS_H

#include <stddef.h>

/* Writes the exposition text into buf (at most cap bytes); returns its length. */
typedef size_t (*metrics_render_fn)(void *ctx, char *buf, size_t cap);

struct metrics;

/* listen is "PORT", "ADDR:PORT" or "[ADDR6]:PORT". NULL with a reason in err. */
struct metrics *metrics_start(const char *listen, metrics_render_fn fn, void *ctx,
			      char *err, size_t errlen);
/* Answers pending requests without blocking; the renderer runs here, in the
 * caller's thread, so it reads counters no other thread writes. */
void metrics_poll(struct metrics *m);
void metrics_stop(struct metrics *m);

#endif
