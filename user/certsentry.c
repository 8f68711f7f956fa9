/* certsentry.c - main: the commands, a row each; the default one watches (daemon.c). */
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "conffile.h"
#include "daemon.h"
#include "events.h"
#include "findings.h"
#include "tail.h"
#include "invcmd.h"

static const char doc[] =
	"certsentry: passive TLS certificate observer.\n\n"
	"Watches the TLS handshakes crossing this host (eBPF on tc ingress and\n"
	"egress) or in a capture file, and writes one JSON line per server\n"
	"certificate chain seen.\n\n"
	"EXAMPLES:\n"
	"  certsentry -i eth0              watch eth0 (root)\n"
	"  certsentry -i eth0 -f text      human-readable lines\n"
	"  certsentry -r capture.pcap      replay a capture (no privileges)\n"
	"  certsentry -r old.pcap --check-time now   judge an old capture as of today\n"
	"  certsentry -i eth0 --inventory --fetch-crl   remember certificates, fetch CRLs\n"
	"  certsentry inventory [--sni GLOB] [-f json]   what each endpoint serves (--help)\n";

/* --list-findings, --list-events: text unless -f json was asked for. */
static int print_list(const struct config *c)
{
	bool json = c->format_set && c->format == OUTPUT_JSON;
	int rc = c->list == CLI_LIST_FINDINGS ? findings_list(stdout, json) :
						events_list(stdout, json);

	if (rc) {
		fprintf(stderr, "certsentry: cannot write the list to stdout\n");
		return 1;
	}
	return 0;
}

static int run_default(const struct config *c)
{
	if (c->check_config)
		return conffile_check(c, cli_conffile(), stdout, stderr);
	return c->list ? print_list(c) : daemon_run(c);
}

static const char tail_doc[] =
	"Follow the running service's events (its --event-socket) without loading a\n"
	"second program: no BPF, no root; membership of the socket's group suffices.\n"
	"Text on a terminal, the service's JSON otherwise (-f overrides). Reconnects\n"
	"when the service restarts.\v"
	"EXAMPLES:\n"
	"  certsentry tail                          everything\n"
	"  certsentry tail --alerts-only --port 443\n"
	"  certsentry tail --sni '*.example.com' --host 192.0.2.0/24 -f json\n";

static const struct cli_command commands[] = {
	{ .name = NULL,
	  .doc = doc,
	  .groups = (1u << CLI_G_MAIN) | (1u << CLI_G_TLS13) | (1u << CLI_G_CHECKS) |
		    (1u << CLI_G_SOURCES) | (1u << CLI_G_CONFIRM) | (1u << CLI_G_FILTER),
	  .run = run_default },
	{ .name = "tail",
	  .doc = tail_doc,
	  .groups = (1u << CLI_G_FILTER) | (1u << CLI_G_TAIL),
	  .run = tail_run },
};

int main(int argc, char **argv)
{
	struct config c;
	const struct cli_command *cmd;

	/* its own few options (--sni, --format text|json): parsed there */
	if (argc > 1 && !strcmp(argv[1], "inventory"))
		return inventory_main(argc - 1, argv + 1);
	cmd = cli_parse(argc, argv, commands, sizeof(commands) / sizeof(commands[0]), &c);
	return cmd ? cmd->run(&c) : 2;
}
