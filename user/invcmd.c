/* invcmd.c - `certsentry inventory`: what each endpoint serves now and served before, from the state directory. */
#include "invcmd.h"

#include <argp.h>
#include <stdio.h>
#include <string.h>
#include "inventory.h"

static struct {
	const char *state_dir;
	struct inventory_dump_opts o;
} inv_env;

static const struct argp_option inv_opts[] = {
	{ "state-dir", 'd', "DIR", 0, "The daemon's state directory (default /var/lib/certsentry)",
	  0 },
	{ "sni", 's', "GLOB", 0,
	  "Only endpoints whose SNI matches (case-insensitive; \"\": none sent)", 0 },
	{ "format", 'f', "FMT", 0, "text (default) or json (one object per endpoint)", 0 },
	{},
};

static error_t inv_parse(int key, char *arg, struct argp_state *state)
{
	int f;

	switch (key) {
	case 'd':
		inv_env.state_dir = arg;
		break;
	case 's':
		inv_env.o.sni_glob = arg;
		break;
	case 'f':
		if ((f = inventory_format_parse(arg)) < 0)
			argp_error(state, "--format: '%s' is not text or json", arg);
		inv_env.o.format = (enum inv_format)f;
		break;
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument '%s'", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

int inventory_main(int argc, char **argv)
{
	static const struct argp argp = {
		.options = inv_opts,
		.parser = inv_parse,
		.args_doc = "",
		.doc = "certsentry inventory: what each (server, port, SNI) serves now and served "
		       "before, read from the inventory a running certsentry --inventory keeps "
		       "(opened read-only).",
	};
	char err[512];

	inv_env.state_dir = INV_STATE_DIR_DEFAULT;
	inv_env.o.format = INV_FORMAT_TEXT;
	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return 2;
	if (inventory_dump_dir(inv_env.state_dir, &inv_env.o, stdout, err, sizeof(err))) {
		fprintf(stderr, "certsentry inventory: %s\n", err);
		return 1;
	}
	if (fflush(stdout)) {
		fprintf(stderr, "certsentry inventory: cannot write to stdout\n");
		return 1;
	}
	return 0;
}
