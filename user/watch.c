/* watch.c - notices when list files change on disk (inotify), renames included. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>
#include "watch.h"

struct target {
	int wd;
	char name[NAME_MAX + 1]; /* "" for a watched directory: any entry counts */
};

struct watch {
	int fd;
	int n;
	struct target t[WATCH_PATHS_MAX];
};

#define WATCH_MASK                                                                   \
	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_DELETE_SELF | \
	 IN_MOVE_SELF | IN_ATTRIB)

static int add(struct watch *w, const char *path)
{
	char dir[PATH_MAX], base[PATH_MAX];
	struct stat st;
	struct target *t = &w->t[w->n];
	bool is_dir = !stat(path, &st) && S_ISDIR(st.st_mode);

	if (strlen(path) >= sizeof(dir))
		return -1;
	strcpy(dir, path);
	strcpy(base, path);
	t->wd = inotify_add_watch(w->fd, is_dir ? path : dirname(dir), WATCH_MASK);
	if (t->wd < 0)
		return -1;
	snprintf(t->name, sizeof(t->name), "%s", is_dir ? "" : basename(base));
	w->n++;
	return 0;
}

struct watch *watch_new(const char *const *paths, int n)
{
	struct watch *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		free(w);
		return NULL;
	}
	/* A path that cannot be watched is still reloaded on SIGHUP. */
	for (int i = 0; i < n && w->n < WATCH_PATHS_MAX; i++)
		if (paths[i])
			add(w, paths[i]);
	return w;
}

static bool relevant(const struct watch *w, const struct inotify_event *ev)
{
	for (int i = 0; i < w->n; i++) {
		if (w->t[i].wd != ev->wd)
			continue;
		if (!w->t[i].name[0] || (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)))
			return true;
		if (ev->len && !strcmp(ev->name, w->t[i].name))
			return true;
	}
	return false;
}

bool watch_changed(struct watch *w)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool changed = false;
	ssize_t len;

	if (!w)
		return false;
	while ((len = read(w->fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p + sizeof(struct inotify_event) <= buf + len;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			if (relevant(w, ev))
				changed = true;
			p += sizeof(*ev) + ev->len;
		}
	}
	return changed;
}

void watch_free(struct watch *w)
{
	if (!w)
		return;
	close(w->fd);
	free(w);
}
