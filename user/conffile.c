/* conffile.c - the config file: "key = value" lines applied through the option table. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "conffile.h"
#include "fileread.h"
#include "lists.h"

struct conf_value {
	char *text;
	uint32_t line;
};

struct conffile {
	char *path;
	struct config *c;
	unsigned settings;
	unsigned n;
	struct conf_value v[CONFFILE_VALUES_MAX];
};

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

/* The value is kept as long as the config may point at it. */
static const char *keep(struct conffile *f, const char *text, const struct fileread_pos *at)
{
	struct conf_value *v;

	if (f->n >= CONFFILE_VALUES_MAX)
		return NULL;
	v = &f->v[f->n];
	if (!(v->text = strdup(text)))
		return NULL;
	v->line = at->no;
	f->n++;
	return v->text;
}

static int on_line(void *ctx, char *line, const struct fileread_pos *at, char *why, size_t whylen)
{
	struct conffile *f = ctx;
	const struct cli_option *o;
	char *eq = strchr(line, '='), *key = line, *val = NULL, sub[512];
	const char *arg = NULL;

	if (eq) {
		*eq = '\0';
		val = trim(eq + 1);
	}
	key = trim(key);
	if (!*key) {
		snprintf(why, whylen, "no key before '='");
		return -1;
	}
	if (!(o = cli_option_find(key))) {
		snprintf(why, whylen,
			 "%s: unknown key (the keys are the long options, see "
			 "certsentry --help)",
			 key);
		return -1;
	}
	if (!cli_option_file_ok(o)) {
		snprintf(why, whylen, "%s: not allowed in a config file", key);
		return -1;
	}
	if (val && !(arg = keep(f, val, at))) {
		snprintf(why, whylen, "%s: more than %u values, or out of memory", key,
			 CONFFILE_VALUES_MAX);
		return -1;
	}
	if (cli_apply(f->c, o, arg, sub, sizeof(sub))) {
		snprintf(why, whylen, "%s: %s", key, sub);
		return -1;
	}
	f->settings++;
	return 0;
}

struct conffile *conffile_apply(const char *path, struct config *c, char *err, size_t errlen)
{
	struct conffile *f = calloc(1, sizeof(*f));

	if (!f || !(f->path = strdup(path))) {
		snprintf(err, errlen, "%s: out of memory", path);
		free(f);
		return NULL;
	}
	f->c = c;
	if (fileread_lines(path, CONFFILE_BYTES_MAX, on_line, f, err, errlen)) {
		conffile_free(f);
		return NULL;
	}
	f->c = NULL;
	return f;
}

void conffile_free(struct conffile *f)
{
	if (!f)
		return;
	for (unsigned i = 0; i < f->n; i++)
		free(f->v[i].text);
	free(f->path);
	free(f);
}

const char *conffile_where(const struct conffile *f, const char *value, char *buf, size_t len)
{
	for (unsigned i = 0; f && value && i < f->n; i++)
		if (f->v[i].text == value) {
			snprintf(buf, len, "%s:%u", f->path, f->v[i].line);
			return buf;
		}
	return NULL;
}

const char *conffile_path(const struct conffile *f)
{
	return f->path;
}

unsigned conffile_settings(const struct conffile *f)
{
	return f->settings;
}

/* ---- --check-config ---- */

/* One list file as the only list: "where: key: " before its loader's error. */
static int check_one(const struct conffile *f, const char *key, const char *value,
		     const struct lists_opts *alone, FILE *err)
{
	char e[1024], w[512];
	const char *where = conffile_where(f, value, w, sizeof(w));
	struct lists *l = lists_load(alone, e, sizeof(e));

	if (l) {
		lists_free(l);
		return 0;
	}
	if (where)
		fprintf(err, "%s: %s: %s\n", where, key, e);
	else
		fprintf(err, "--%s: %s\n", key, e);
	return 1;
}

int conffile_check(const struct config *c, const struct conffile *f, FILE *out, FILE *err)
{
	const struct lists_opts *lo = &c->lists;
	struct lists_sizes sz;
	struct lists *l;
	char e[1024];
	int bad = 0;

	/* the CA alone; the others each with the CA (a CRL's issuer, say) */
	if (lo->ca_file || lo->ca_path)
		bad |= check_one(f, lo->ca_file ? "ca-file" : "ca-path",
				 lo->ca_file ? lo->ca_file : lo->ca_path,
				 &(struct lists_opts){ .ca_file = lo->ca_file,
						       .ca_path = lo->ca_path },
				 err);
	if (bad)
		return 1;
	for (int i = 0; i < lo->n_crl; i++)
		bad |= check_one(f, "crl", lo->crl_paths[i],
				 &(struct lists_opts){ .ca_file = lo->ca_file,
						       .ca_path = lo->ca_path,
						       .crl_paths = { lo->crl_paths[i] },
						       .n_crl = 1 },
				 err);
	if (lo->deny_file)
		bad |= check_one(f, "deny", lo->deny_file,
				 &(struct lists_opts){ .ca_file = lo->ca_file,
						       .ca_path = lo->ca_path,
						       .deny_file = lo->deny_file },
				 err);
	if (lo->pins_file)
		bad |= check_one(f, "pins", lo->pins_file,
				 &(struct lists_opts){ .ca_file = lo->ca_file,
						       .ca_path = lo->ca_path,
						       .pins_file = lo->pins_file },
				 err);
	if (bad)
		return 1;
	if (!(l = lists_load(lo, e, sizeof(e)))) {
		fprintf(err, "%s\n", e);
		return 1;
	}
	lists_sizes(l, &sz);
	for (uint32_t i = 0; lists_warning(l, i); i++)
		fprintf(err, "warning: %s\n", lists_warning(l, i));
	fprintf(out,
		"%s: ok, %u settings; ca_certs=%u crls=%u crl_entries=%u deny=%u pin_rules=%u\n",
		f ? f->path : "no config file", f ? f->settings : 0, sz.ca_certs, sz.crls,
		sz.crl_entries, sz.deny_sha256 + sz.deny_spki + sz.deny_serial, sz.pin_rules);
	lists_free(l);
	return 0;
}
