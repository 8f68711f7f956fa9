/* privdrop.h - least privilege after attach: an unprivileged user, no capabilities, seccomp. */
#ifndef CS_PRIVDROP_H
#define CS_PRIVDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PRIVDROP_DEFAULT_USER "certsentry"

struct privdrop_opts {
	const char *user; /* --user; NULL: PRIVDROP_DEFAULT_USER if it exists */
	bool no_drop;	  /* --no-drop: keep everything (debugging) */
	bool clsact;	  /* attached with clsact: removing its filters at exit
				 * needs CAP_NET_ADMIN, which is kept */
	bool selftest;	  /* hidden --seccomp-selftest: SIGUSR2 tries a refused call */
};

/*
 * Called once, after the program is loaded and attached and every socket the
 * daemon listens on is open, before the first record is read. Either drops
 * for good (supplementary groups cleared, the user's uid and gid, every
 * capability set empty but CAP_NET_ADMIN for clsact, no_new_privs, the
 * seccomp allow-list of the steady state) or, when there is nothing to drop
 * to, changes nothing. Writes what
 * it did in one line to msg (for the certsentry-started event). Returns 0,
 * or -1 with a reason in msg when a drop it was asked for did not happen
 * completely: the caller must then stop, not run with half the privileges.
 */
int privdrop_apply(const struct privdrop_opts *o, char *msg, size_t msglen);

/* Does this process hold every capability in want (bits 1ull << CAP_x) in
 * its effective set? Root always does. */
bool privdrop_has_caps(uint64_t want);
#define PRIVDROP_CAP(c) (1ull << (c))

/* The seccomp allow-list alone (the same privdrop_apply loads; clsact adds
 * what removing clsact filters at exit does), for tests that check it in a
 * process of their own. Returns 0 or -errno. */
int privdrop_seccomp(bool clsact);

#endif
