/* lists.c - one generation of the lists: built whole from its parts (lists_*.c), swapped whole. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include "cert.h"
#include "lists_int.h"

/* ---- what every part uses ---- */

void lists_warn(struct lists *l, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	const char **nw;

	if (l->n_warn >= WARNINGS_MAX) {
		l->warn_dropped++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* +2: room for the "N more" line added at the end */
	if (!(nw = realloc(l->warn, (l->n_warn + 2) * sizeof(*nw))))
		return;
	l->warn = nw;
	if ((l->warn[l->n_warn] = arena_strndup(&l->ar, buf, strlen(buf))))
		l->n_warn++;
}

/* The reason of the last OpenSSL error, the queue cleared: what a loader
 * that gives up on a file says about it. */
const char *lists_ossl_why(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = fmt_ossl_reason();

	ERR_clear_error();
	return r ? r : e ? "unknown error" : "no detail";
}

char *lists_dn_text(struct arena **ar, const X509_NAME *n)
{
	char buf[513];
	char *s;

	fmt_dn_buf(buf, sizeof(buf), n);
	s = buf[0] ? arena_strndup(ar, buf, strlen(buf)) : NULL;
	return s ? s : "?";
}

void lists_time_text(const ASN1_TIME *t, char *buf, size_t cap)
{
	int64_t s = cert_time_unix(t); /* 0: none or unreadable */

	if (!s || !fmt_time(buf, cap, s, 0, FMT_S, "?"))
		snprintf(buf, cap, "?");
}

static char *path_join(const char *dir, const char *name)
{
	char *p;
	size_t dl = strlen(dir);

	if (asprintf(&p, "%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/", name) < 0)
		return NULL;
	return p;
}

int lists_load_dir_files(struct lists *l, const char *dir, char **v, uint32_t n,
			 bool (*keep)(const char *name, bool hashed), bool hashed, file_loader load,
			 uint32_t *used, char *err, size_t errlen)
{
	struct stat st;
	int rc = 0;

	*used = 0;
	for (uint32_t i = 0; i < n && !rc; i++) {
		char *p;

		if (keep && !keep(v[i], hashed))
			continue;
		if (!(p = path_join(dir, v[i]))) {
			fmt_err(err, errlen, "%s: out of memory", dir);
			return -1;
		}
		if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
			free(p);
			continue;
		}
		rc = load(l, p, err, errlen);
		(*used)++;
		free(p);
	}
	return rc;
}

/* ---- the generation ---- */

void lists_free(struct lists *l)
{
	if (!l)
		return;
	for (uint32_t i = 0; i < l->n_crl; i++)
		X509_CRL_free(l->crls[i].crl);
	free(l->crls);
	free(l->ents);
	free(l->ent_ht.s);
	free(l->seen);
	kmap_free(&l->deny);
	kmap_free(&l->pin_host);
	kmap_free(&l->pin_wild);
	kmap_free(&l->pin_ep);
	free(l->warn);
	X509_STORE_free(l->store);
	arena_free(l->ar);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

static struct lists *lists_new(void)
{
	struct lists *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	pthread_mutex_init(&l->mu, NULL);
	hseed_init(&l->seed);
	return l;
}

/* Every part, in this order: the CRLs are checked against the trust store. */
static int load_parts(struct lists *l, const struct lists_opts *o, char *err, size_t errlen)
{
	if (lists_load_store(l, o, err, errlen) < 0)
		return -1;
	for (int i = 0; i < o->n_crl; i++) {
		if (!o->crl_paths[i]) {
			fmt_err(err, errlen, "lists: CRL path %d is NULL", i);
			return -1;
		}
		if (lists_load_crl_path(l, o->crl_paths[i], err, errlen) < 0)
			return -1;
	}
	if (o->deny_file && lists_load_deny(l, o->deny_file, err, errlen) < 0)
		return -1;
	if (o->pins_file && lists_load_pins(l, o->pins_file, err, errlen) < 0)
		return -1;
	return 0;
}

struct lists *lists_load(const struct lists_opts *o, char *err, size_t errlen)
{
	struct lists *l;

	if (err && errlen)
		err[0] = '\0';
	if (!o || o->n_crl < 0 || o->n_crl > LISTS_CRL_PATHS_MAX) {
		fmt_err(err, errlen, "lists: bad options");
		return NULL;
	}
	if (!(l = lists_new())) {
		fmt_err(err, errlen, "lists: out of memory");
		return NULL;
	}
	if (load_parts(l, o, err, errlen) < 0) {
		lists_free(l);
		ERR_clear_error();
		return NULL;
	}
	/* the inode list only served to skip duplicates while loading */
	free(l->seen);
	l->seen = NULL;
	l->n_seen = l->cap_seen = 0;
	if (l->warn_dropped && l->warn &&
	    (l->warn[l->n_warn] =
		     arena_printf(&l->ar, "%u more warnings not shown", l->warn_dropped)))
		l->n_warn++;
	return l;
}

void lists_sizes(const struct lists *l, struct lists_sizes *s)
{
	if (l)
		*s = l->sz;
	else
		memset(s, 0, sizeof(*s));
}

const char *lists_warning(const struct lists *l, uint32_t i)
{
	return l && i < l->n_warn ? l->warn[i] : NULL;
}

X509_STORE *lists_trust_store(const struct lists *l)
{
	return l ? l->store : NULL;
}
