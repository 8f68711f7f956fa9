/* uprobedump.c - runs the uprobe source alone and prints what it delivers, one line each (tests and on-call use). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/sha.h>

#include "fmt.h"
#include "report.h"
#include "uprobe.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void sha256_hex(const uint8_t *b, size_t n, char out[65])
{
	uint8_t md[SHA256_DIGEST_LENGTH];

	SHA256(b, n, md);
	fmt_hex(out, 65, md, sizeof(md), false);
}

static void addr(const struct cs_flow_key *k, const uint8_t *a, uint16_t port, char *out,
		 size_t len)
{
	struct report_endpoint ep = { .family = k->family, .port = port };

	memcpy(ep.addr, a, sizeof(ep.addr));
	fmt_endpoint(&ep, out, len);
}

/* chain family=4 server=A:P client=A:P tgid= tid= comm= binding=exact n= total= der=SHA,SHA... */
static void on_chain(void *ctx, const struct served_chain *c)
{
	char srv[64], cli[64], fp[65];
	uint32_t i;

	(void)ctx;
	addr(&c->key, c->key.saddr, c->key.sport, srv, sizeof(srv));
	addr(&c->key, c->key.daddr, c->key.dport, cli, sizeof(cli));
	printf("chain family=%u server=%s client=%s tgid=%u tid=%u comm=%s binding=%s n=%u "
	       "total=%u der=",
	       c->key.family, srv, cli, c->tgid, c->tid, c->comm,
	       c->binding == UPROBE_BIND_EXACT ? "exact" : "?", c->n, c->total);
	for (i = 0; i < c->n; i++) {
		sha256_hex(c->der[i], c->der_len[i], fp);
		printf("%s%s", i ? "," : "", fp);
	}
	printf("\n");
	fflush(stdout);
}

/* secret label=L random=HEX len=N sha256=SHA(secret): never the secret itself. */
static void on_secret(void *ctx, enum keylog_label label,
		      const uint8_t client_random[KEYLOG_RANDOM_LEN], const uint8_t *secret,
		      size_t len)
{
	char r[2 * KEYLOG_RANDOM_LEN + 1], fp[65];

	(void)ctx;
	fmt_hex(r, sizeof(r), client_random, KEYLOG_RANDOM_LEN, false);
	sha256_hex(secret, len, fp);
	printf("secret label=%s random=%s len=%zu sha256=%s\n", keylog_label_name(label), r, len,
	       fp);
	fflush(stdout);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: uprobedump [-p PID]... [-P PATH]... [-n] [-r RESCAN_MS] [-c] [-v]\n"
		"  -p PID    follow this process even without a listening socket\n"
		"  -P PATH   attach to this binary or library (static OpenSSL, Go)\n"
		"  -n        no discovery: only -p and -P\n"
		"  -r MS     rescan period (default %d)\n"
		"  -c        print the counters when stopped (SIGINT/SIGTERM)\n"
		"  -v        libbpf debug output\n",
		UPROBE_RESCAN_MS);
}

int main(int argc, char **argv)
{
	struct uprobe_opts o = {};
	struct uprobe_cbs cb = { .on_chain = on_chain, .on_secret = on_secret };
	uint64_t c[UPROBE_C_MAX];
	bool counters = false;
	struct uprobe *u;
	char err[512], *end;
	long v;
	int opt, i, ret;

	while ((opt = getopt(argc, argv, "p:P:nr:cvh")) != -1) {
		switch (opt) {
		case 'p':
			v = strtol(optarg, &end, 10);
			if (*end || v <= 0 || o.n_pids == UPROBE_PIDS_MAX) {
				fprintf(stderr, "uprobedump: -p %s: not a pid (or too many)\n",
					optarg);
				return 2;
			}
			o.pids[o.n_pids++] = (pid_t)v;
			break;
		case 'P':
			if (o.n_paths == UPROBE_PATHS_MAX) {
				fprintf(stderr, "uprobedump: -P %s: too many paths\n", optarg);
				return 2;
			}
			o.paths[o.n_paths++] = optarg;
			break;
		case 'n':
			o.no_discover = true;
			break;
		case 'r':
			v = strtol(optarg, &end, 10);
			if (*end || v <= 0 || v > 3600000) {
				fprintf(stderr, "uprobedump: -r %s: not a period in ms\n", optarg);
				return 2;
			}
			o.rescan_ms = (uint32_t)v;
			break;
		case 'c':
			counters = true;
			break;
		case 'v':
			o.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	u = uprobe_open(&o, &cb, err, sizeof(err));
	if (!u) {
		fprintf(stderr, "uprobedump: %s\n", err);
		return 1;
	}
	printf("uprobedump-started\n");
	fflush(stdout);
	while (!stop) {
		ret = uprobe_poll(u, 100);
		if (ret < 0 && ret != -EINTR) {
			fprintf(stderr, "uprobedump: reading the ring: %s\n", strerror(-ret));
			break;
		}
	}
	/* What waits, then a last scan: the counters account for processes
	 * that ended with chains never sent. */
	uprobe_poll(u, 0);
	uprobe_rescan(u);
	if (counters) {
		uprobe_counters(u, c);
		for (i = 0; i < UPROBE_C_MAX; i++)
			printf("counter %s=%llu\n", uprobe_counter_name(i),
			       (unsigned long long)c[i]);
	}
	uprobe_close(u);
	return 0;
}
