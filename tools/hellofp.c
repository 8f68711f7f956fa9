/* hellofp.c - print the JA3/JA4 fingerprints of every ClientHello in captures. */
/*
 *   hellofp FILE...
 *
 * Reads each capture with the offline source (user/pcap.c: the kernel's
 * selection rules), puts TCP directions back in order (reasm.c) and cuts
 * them into TLS messages (tls.c), DTLS datagrams through dtls.c, decodes
 * every ClientHello with the one decoder (tls.c) and prints, per hello, one
 * TAB-separated line:
 *
 *   file  ts_ns  kind  client_random  ja3_string  ja3  ja4  ja4_r
 *
 * kind is tls, dtls or ssl2; a fingerprint that is not made is "-" (ja.h
 * says when), a hello the decoder refuses is "malformed" in every field
 * after the random. tests/e2e/test_fingerprints.sh compares these lines
 * with tshark's. No flow table, checks or output stage: only the decoder
 * and the fingerprints. At most DIRS_MAX directions are followed per file
 * (more are counted on stderr); exit status 1 if a file could not be read.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "dtls.h"
#include "ja.h"
#include "pcap.h"
#include "reasm.h"
#include "tls.h"

#define DIRS_MAX 4096	    /* directions followed per file */
#define HELD_MAX (1u << 20) /* bytes held out of order per direction */

struct dir {
	struct cs_flow_key key;
	bool used;
	struct reasm r;
	struct tls_parser p;
	struct dtls_parser dp;
};

struct run {
	const char *file;
	uint64_t ts_ns;
	struct dir *dirs;   /* DIRS_MAX slots, open addressing */
	uint64_t untracked; /* segments of directions that did not fit */
};

static uint32_t key_hash(const struct cs_flow_key *k)
{
	const uint8_t *b = (const uint8_t *)k;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < sizeof(*k); i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

/* reasm's counts (not shown). */
static struct reasm_stats reasm_st;

static void dir_start(struct dir *d, const struct cs_flow_key *k)
{
	d->used = true;
	d->key = *k;
	reasm_init(&d->r, HELD_MAX, &reasm_st);
	tls_parser_init(&d->p, 0);
	dtls_parser_init(&d->dp, 0);
}

static void dir_end(struct dir *d)
{
	reasm_free(&d->r);
	tls_parser_free(&d->p);
	dtls_parser_free(&d->dp);
	d->used = false;
}

/* The direction's slot, started if new; NULL when the table is full. */
static struct dir *dir_find(struct run *x, const struct cs_flow_key *k)
{
	uint32_t h = key_hash(k);

	for (uint32_t i = 0; i < DIRS_MAX; i++) {
		struct dir *d = &x->dirs[(h + i) % DIRS_MAX];

		if (!d->used) {
			dir_start(d, k);
			return d;
		}
		if (memcmp(&d->key, k, sizeof(*k)) == 0)
			return d;
	}
	return NULL;
}

static void hex(char *out, const uint8_t *b, size_t n)
{
	static const char dig[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = dig[b[i] >> 4];
		out[2 * i + 1] = dig[b[i] & 15];
	}
	out[2 * n] = 0;
}

static const char *or_dash(int rc, const char *s)
{
	return rc < 0 ? "-" : s;
}

static void print_hello(struct run *x, const char *kind, const struct tls_client_hello *ch)
{
	static char js[JA3_STR_MAX + 1], jr[JA4_R_MAX + 1];
	char random[65], jh[JA3_HASH_LEN + 1], j4[JA4_LEN + 1];
	int rs = ja3_string(ch, js, sizeof(js));
	int rh = ja3_hash(ch, jh, sizeof(jh));
	int r4 = ja4(ch, j4, sizeof(j4));
	int rr = ja4_r(ch, jr, sizeof(jr));

	hex(random, ch->random, sizeof(ch->random));
	printf("%s\t%" PRIu64 "\t%s\t%s\t%s\t%s\t%s\t%s\n", x->file, x->ts_ns, kind, random,
	       or_dash(rs, js), or_dash(rh, jh), or_dash(r4, j4), or_dash(rr, jr));
}

static void on_handshake(void *ctx, uint8_t type, const uint8_t *body, size_t len)
{
	struct run *x = ctx;
	struct tls_client_hello ch;
	const char *kind;
	int rc;

	if (type == TLS_HS_SSL2_CLIENT_HELLO) {
		kind = "ssl2";
		rc = tls_parse_ssl2_client_hello(body, len, &ch);
	} else if (type != TLS_HS_CLIENT_HELLO) {
		return;
	} else if (len >= 2 && body[0] == 0xfe) { /* DTLS versions: 0xfeXX */
		kind = "dtls";
		rc = tls_parse_dtls_client_hello(body, len, &ch);
	} else {
		kind = "tls";
		rc = tls_parse_client_hello(body, len, &ch);
	}
	if (rc < 0) {
		char random[65] = "-";

		if (len >= 34)
			hex(random, body + 2, 32);
		printf("%s\t%" PRIu64 "\t%s\t%s\tmalformed\tmalformed\tmalformed\tmalformed\n",
		       x->file, x->ts_ns, kind, random);
		return;
	}
	print_hello(x, kind, &ch);
}

static const struct tls_cb callbacks = { .handshake = on_handshake };

/* What reasm hands its bytes to: the direction being pushed. */
struct push {
	struct run *x;
	struct dir *d;
};

static void on_bytes(void *ctx, const uint8_t *data, size_t len)
{
	struct push *p = ctx;

	tls_parser_feed(&p->d->p, data, len, &callbacks, p->x);
}

/* A TLS record holding a hello at a seq the direction did not expect: a
 * new connection on a reused 4-tuple (select.h rule 3). */
static bool restarts(const struct dir *d, const struct cs_segment *s)
{
	return d->r.started && s->seq != d->r.next_seq && s->len >= 6 &&
	       s->data[0] == TLS_CT_HANDSHAKE && s->data[1] == 3 &&
	       (s->data[5] == TLS_HS_CLIENT_HELLO || s->data[5] == TLS_HS_SERVER_HELLO);
}

static int on_segment(void *ctx, const struct cs_segment *s)
{
	struct run *x = ctx;
	struct dir *d;

	if (s->len == 0)
		return 0; /* a close */
	d = dir_find(x, &s->key);
	if (!d) {
		x->untracked++;
		return 0;
	}
	x->ts_ns = s->ts_ns;
	if (s->key.proto == IPPROTO_UDP) {
		dtls_feed_datagram(&d->dp, s->data, s->len, &callbacks, x);
		return 0;
	}
	if (restarts(d, s)) {
		dir_end(d);
		dir_start(d, &s->key);
	}
	reasm_push(&d->r, s->seq, s->data, s->len, on_bytes, &(struct push){ x, d });
	return 0;
}

static int run_file(const char *path)
{
	struct run x = { .file = path };
	struct pcap_source *src;
	char err[256];
	int rc;

	x.dirs = calloc(DIRS_MAX, sizeof(*x.dirs));
	if (!x.dirs) {
		fprintf(stderr, "hellofp: %s: out of memory\n", path);
		return -1;
	}
	src = pcap_source_open(path, 0, err, sizeof(err));
	if (!src) {
		fprintf(stderr, "hellofp: %s: %s\n", path, err);
		free(x.dirs);
		return -1;
	}
	while ((rc = pcap_source_run(src, on_segment, &x, err, sizeof(err))) == 1)
		;
	if (rc < 0)
		fprintf(stderr, "hellofp: %s: %s\n", path, err);
	if (x.untracked)
		fprintf(stderr,
			"hellofp: %s: %" PRIu64 " segments of directions past %d not read\n", path,
			x.untracked, DIRS_MAX);
	pcap_source_close(src);
	for (size_t i = 0; i < DIRS_MAX; i++)
		if (x.dirs[i].used)
			dir_end(&x.dirs[i]);
	free(x.dirs);
	return rc < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	int status = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: hellofp FILE...\n");
		return 2;
	}
	for (int i = 1; i < argc; i++)
		if (run_file(argv[i]) < 0)
			status = 1;
	return status;
}
