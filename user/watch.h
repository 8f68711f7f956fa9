/* watch.h - notices when list files change on disk (inotify), renames included. */
#ifndef CS_WATCH_H
#define CS_WATCH_H

#include <stdbool.h>

#define WATCH_PATHS_MAX 32

struct watch;

/* Watches each path: a file through its directory (so that an editor's
 * write-to-temp-and-rename is seen), a directory itself. */
struct watch *watch_new(const char *const *paths, int n);
void watch_free(struct watch *w);
/* Drains pending notifications without blocking: true if a watched path
 * was written, replaced, created or removed. */
bool watch_changed(struct watch *w);

#endif
