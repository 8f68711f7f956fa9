/* verdictbench.c - cost of the verdict: cert_get + checks_run per handshake and per distinct certificate. */
/*
 *   verdictbench [--rounds N] [--json FILE] [--only CASE] [--handshakes N]
 *
 * Builds PKIs in memory with the OpenSSL API (root -> intermediate -> leaves,
 * ECDSA P-256 and RSA-2048), writes each root to a temporary CA file loaded
 * with lists_load() (--ca-file), and measures, in this process, per key type:
 *
 *   warm        one handshake = cert_get(leaf) + cert_get(intermediate) +
 *               checks_run + cert_put x2, always the same chain: the
 *               certificate cache and the chain-verdict cache hit (SHA-256 of
 *               each DER still computed): handshakes/s
 *   distinct    the same with a fresh leaf every time (N leaves signed
 *               beforehand; new caches every round): parse + facts + chain
 *               verification (X509_verify_cert) per certificate: certificates/s
 *   baseline    the floor for distinct: d2i_X509(leaf) + X509_verify_cert
 *               against the same store with the intermediate pre-parsed as
 *               untrusted; nothing else: certificates/s
 *   pipeline    flow_segment on recorded TLS 1.2 handshake bytes (a real
 *               OpenSSL client/server handshake over memory BIOs, cut into
 *               1448-byte segments), each handshake its own 5-tuple, reports
 *               through checks_run: handshakes/s; and the same with
 *               output_report (JSON) to /dev/null: the whole userspace path
 *               after the ring buffer, minus dedup.
 *
 * Each figure: median of --rounds (default 5) rounds, with min and max.
 * --only CASE runs one case: warm, baseline, distinct, pipeline or output
 * (pipeline + JSON), for both key types (distinct leaves are signed only when
 * baseline or distinct runs). --handshakes N makes each warm or pipeline round
 * exactly N handshakes instead of 0.3 s, so that instruction counts
 * (valgrind --tool=callgrind --toggle-collect=bench_pipeline) divide evenly.
 * --json FILE writes [{name, value, unit, baseline_name, baseline_value,
 * ratio, min, max}] as bench/results.json has them.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "cert.h"
#include "checks.h"
#include "flow.h"
#include "lists.h"
#include "output.h"

#define MAX_ROUNDS 32
#define MAX_FIGS   32

static int rounds = 5;
static long fixed_n; /* --handshakes: handshakes per warm/pipeline round, 0: 0.3 s */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* More to run: fixed_n handshakes, or 0.3 s since t0 (*t set either way). */
static int more(long n, double t0, double *t)
{
	*t = now_s() - t0;
	return fixed_n ? n < fixed_n : *t < 0.3;
}

static void die(const char *what)
{
	fprintf(stderr, "verdictbench: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

/* ---- PKI ---- */

static EVP_PKEY *mkkey(int rsa)
{
	EVP_PKEY *k = rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");

	if (!k)
		die("key generation failed");
	return k;
}

static void ext(X509 *x, X509 *issuer, int nid, const char *val)
{
	X509V3_CTX c;
	X509_EXTENSION *e;

	X509V3_set_ctx(&c, issuer ? issuer : x, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &c, nid, val);
	if (!e || !X509_add_ext(x, e, -1))
		die("extension failed");
	X509_EXTENSION_free(e);
}

/* issuer NULL: self-signed by key. */
static X509 *mkcert(const char *cn, long serial, EVP_PKEY *pub, X509 *issuer, EVP_PKEY *ikey,
		    int ca, const char *san)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_gmtime_adj(X509_getm_notBefore(x), -86400);
	X509_gmtime_adj(X509_getm_notAfter(x), 365L * 86400);
	X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"certsentry bench",
				   -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	X509_NAME_free(n);
	X509_set_pubkey(x, pub);
	ext(x, issuer, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
	ext(x, issuer, NID_key_usage,
	    ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature,keyEncipherment");
	ext(x, issuer, NID_subject_key_identifier, "hash");
	if (issuer)
		ext(x, issuer, NID_authority_key_identifier, "keyid:always");
	if (!ca) {
		ext(x, issuer, NID_ext_key_usage, "serverAuth");
		ext(x, issuer, NID_subject_alt_name, san);
	}
	if (!X509_sign(x, ikey ? ikey : pub, EVP_sha256()))
		die("signing failed");
	return x;
}

static int der(X509 *x, uint8_t **out)
{
	int n = i2d_X509(x, out);

	if (n <= 0)
		die("i2d_X509 failed");
	return n;
}

struct pki {
	const char *name; /* "ecdsa-p256", "rsa-2048" */
	EVP_PKEY *root_key, *inter_key, *leaf_key;
	X509 *root, *inter, *leaf;
	uint8_t *inter_der, *leaf_der;
	int inter_len, leaf_len;
	int n; /* distinct leaves */
	uint8_t **d_der;
	int *d_len;
	char cafile[64];
	struct lists *lists;
};

static void pki_make(struct pki *p, int rsa, int n)
{
	char cn[64], san[96];
	FILE *f;
	int fd;

	p->name = rsa ? "rsa-2048" : "ecdsa-p256";
	p->root_key = mkkey(rsa);
	p->inter_key = mkkey(rsa);
	p->leaf_key = mkkey(rsa);
	p->root = mkcert("certsentry bench root", 1, p->root_key, NULL, NULL, 1, NULL);
	p->inter = mkcert("certsentry bench intermediate", 2, p->inter_key, p->root, p->root_key, 1,
			  NULL);
	p->leaf = mkcert("www.verdict.test", 3, p->leaf_key, p->inter, p->inter_key, 0,
			 "DNS:www.verdict.test,DNS:verdict.test");
	p->inter_der = NULL;
	p->inter_len = der(p->inter, &p->inter_der);
	p->leaf_der = NULL;
	p->leaf_len = der(p->leaf, &p->leaf_der);
	p->n = n;
	p->d_der = calloc((size_t)n, sizeof(*p->d_der));
	p->d_len = calloc((size_t)n, sizeof(*p->d_len));
	for (int i = 0; i < n; i++) {
		X509 *x;

		snprintf(cn, sizeof(cn), "h%d.verdict.test", i);
		snprintf(san, sizeof(san), "DNS:h%d.verdict.test", i);
		x = mkcert(cn, 1000 + i, p->leaf_key, p->inter, p->inter_key, 0, san);
		p->d_len[i] = der(x, &p->d_der[i]);
		X509_free(x);
	}
	snprintf(p->cafile, sizeof(p->cafile), "/tmp/verdictbench-ca.XXXXXX");
	fd = mkstemp(p->cafile);
	if (fd < 0 || !(f = fdopen(fd, "w")) || !PEM_write_X509(f, p->root) || fclose(f))
		die("cannot write the CA file");
	{
		struct lists_opts lo = { .ca_file = p->cafile };
		char err[256];

		p->lists = lists_load(&lo, err, sizeof(err));
		unlink(p->cafile); /* loaded: the file is not needed any more */
		if (!p->lists)
			die(err);
	}
}

/* ---- results ---- */

struct fig {
	char name[128];
	const char *unit;
	double v[MAX_ROUNDS];
	double med, min, max;
	int base; /* index of the baseline figure, -1 */
};
static struct fig figs[MAX_FIGS];
static int nfigs;

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static struct fig *fig_new(const char *unit, int base, const char *fmt, const char *arg)
{
	struct fig *f = &figs[nfigs++];

	snprintf(f->name, sizeof(f->name), fmt, arg);
	f->unit = unit;
	f->base = base;
	return f;
}

static void fig_done(struct fig *f)
{
	double s[MAX_ROUNDS];

	memcpy(s, f->v, sizeof(double) * (size_t)rounds);
	qsort(s, (size_t)rounds, sizeof(double), cmpd);
	f->med = rounds % 2 ? s[rounds / 2] : (s[rounds / 2 - 1] + s[rounds / 2]) / 2;
	f->min = s[0];
	f->max = s[rounds - 1];
}

/* ---- the measured loops ---- */

static void report_fill(struct cs_report *r, const char *sni)
{
	memset(r, 0, sizeof(*r));
	r->action = REPORT_CERTIFICATE;
	r->check_time = time(NULL);
	r->server.family = r->client.family = 4;
	r->server.addr[0] = 10, r->server.addr[3] = 1, r->server.port = 443;
	r->client.addr[0] = 10, r->client.addr[3] = 2, r->client.port = 40000;
	r->version = 0x0303;
	r->cipher = 0xc02b;
	r->have_server_hello = true;
	r->has_sni = true;
	snprintf(r->sni, sizeof(r->sni), "%s", sni);
	r->transport = IPPROTO_TCP;
	r->chain_len = r->chain_total = 2;
}

static struct checker *mkchecker(struct pki *p)
{
	struct checks_opts o = { .warn_days = 14 };
	struct checker *c = checker_new(&o);

	if (!c)
		die("checker_new failed");
	checker_set_lists(c, p->lists);
	return c;
}

static uint32_t g_bad; /* verdicts with findings: should stay 0 */

/* One handshake through cert_get + checks_run. */
static void one(struct cert_cache *cc, struct checker *ck, const uint8_t *leaf, int leaf_len,
		const uint8_t *inter, int inter_len, const char *sni)
{
	struct cs_report r;
	struct verdict v;

	report_fill(&r, sni);
	r.chain[0] = cert_get(cc, leaf, (size_t)leaf_len);
	r.chain[1] = cert_get(cc, inter, (size_t)inter_len);
	if (!r.chain[0] || !r.chain[1])
		die("cert_get failed");
	checks_run(ck, &r, &v);
	g_bad += v.n > 0;
	cert_put(cc, r.chain[0]);
	cert_put(cc, r.chain[1]);
}

static double bench_warm(struct pki *p)
{
	struct cert_cache *cc = cert_cache_new(CERT_CACHE_DEFAULT);
	struct checker *ck = mkchecker(p);
	double t0, t;
	long n = 0;

	one(cc, ck, p->leaf_der, p->leaf_len, p->inter_der, p->inter_len, "www.verdict.test");
	t0 = now_s();
	while (more(n, t0, &t)) {
		int k = fixed_n && fixed_n - n < 1000 ? (int)(fixed_n - n) : 1000;

		for (int i = 0; i < k; i++)
			one(cc, ck, p->leaf_der, p->leaf_len, p->inter_der, p->inter_len,
			    "www.verdict.test");
		n += k;
	}
	checker_free(ck);
	cert_cache_free(cc);
	return (double)n / t;
}

static double bench_distinct(struct pki *p)
{
	struct cert_cache *cc = cert_cache_new(CERT_CACHE_DEFAULT);
	struct checker *ck = mkchecker(p);
	struct checker_stats st;
	char sni[64];
	double t0, t;

	one(cc, ck, p->leaf_der, p->leaf_len, p->inter_der, p->inter_len, "www.verdict.test");
	t0 = now_s();
	for (int i = 0; i < p->n; i++) {
		snprintf(sni, sizeof(sni), "h%d.verdict.test", i);
		one(cc, ck, p->d_der[i], p->d_len[i], p->inter_der, p->inter_len, sni);
	}
	t = now_s() - t0;
	checker_stats(ck, &st);
	if (st.chain_verifications < (uint64_t)p->n)
		die("distinct: chains were not verified each time");
	checker_free(ck);
	cert_cache_free(cc);
	return p->n / t;
}

static double bench_baseline(struct pki *p)
{
	X509_STORE *store = lists_trust_store(p->lists);
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	double t0, t;

	sk_X509_push(untrusted, p->inter);
	t0 = now_s();
	for (int i = 0; i < p->n; i++) {
		const unsigned char *q = p->d_der[i];
		X509 *x = d2i_X509(NULL, &q, p->d_len[i]);
		X509_STORE_CTX *ctx = X509_STORE_CTX_new();

		if (!x || !ctx || !X509_STORE_CTX_init(ctx, store, x, untrusted))
			die("baseline: setup failed");
		X509_STORE_CTX_set_default(ctx, "ssl_server");
		if (X509_verify_cert(ctx) != 1)
			die("baseline: chain did not verify");
		X509_STORE_CTX_free(ctx);
		X509_free(x);
	}
	t = now_s() - t0;
	sk_X509_free(untrusted);
	return p->n / t;
}

/* ---- recorded handshake through flow_segment ---- */

struct flight {
	int from_server;
	uint8_t *b;
	size_t n;
};
static struct flight flights[16];
static int nflights;

/* Moves what one side wrote to the other side, recording it as (part of) a flight. */
static void relay(BIO *from, BIO *to, int from_server)
{
	char buf[16384];
	int k;

	while ((k = BIO_read(from, buf, sizeof(buf))) > 0) {
		struct flight *f = nflights && flights[nflights - 1].from_server == from_server ?
					   &flights[nflights - 1] :
					   &flights[nflights++];

		if (nflights > 15)
			die("too many flights");
		f->from_server = from_server;
		f->b = realloc(f->b, f->n + (size_t)k);
		if (!f->b)
			die("out of memory");
		memcpy(f->b + f->n, buf, (size_t)k);
		f->n += (size_t)k;
		BIO_write(to, buf, k);
	}
}

/* A TLS 1.2 handshake between OpenSSL client and server over memory BIOs. */
static void record_handshake(struct pki *p)
{
	SSL_CTX *sc = SSL_CTX_new(TLS_server_method()), *cc = SSL_CTX_new(TLS_client_method());
	BIO *c_in = BIO_new(BIO_s_mem()), *c_out = BIO_new(BIO_s_mem());
	BIO *s_in = BIO_new(BIO_s_mem()), *s_out = BIO_new(BIO_s_mem());
	SSL *s, *c;

	if (!sc || !cc || !SSL_CTX_use_certificate(sc, p->leaf) ||
	    !SSL_CTX_use_PrivateKey(sc, p->leaf_key) || !SSL_CTX_add1_chain_cert(sc, p->inter))
		die("server context failed");
	SSL_CTX_set_max_proto_version(cc, TLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(sc, TLS1_2_VERSION);
	SSL_CTX_set_options(sc, SSL_OP_NO_TICKET);
	s = SSL_new(sc);
	c = SSL_new(cc);
	SSL_set_bio(c, c_in, c_out);
	SSL_set_bio(s, s_in, s_out);
	SSL_set_tlsext_host_name(c, "www.verdict.test");
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	for (int i = 0; i < 20 && !(SSL_is_init_finished(c) && SSL_is_init_finished(s)); i++) {
		SSL_do_handshake(c);
		relay(c_out, s_in, 0);
		SSL_do_handshake(s);
		relay(s_out, c_in, 1);
	}
	if (!SSL_is_init_finished(c) || !SSL_is_init_finished(s))
		die("recorded handshake did not finish");
	SSL_free(c);
	SSL_free(s);
	SSL_CTX_free(cc);
	SSL_CTX_free(sc);
}

struct pipe_ctx {
	struct checker *ck;
	struct output *out;
	long reports, certs;
};

static void on_report(void *ctx, const struct cs_report *r)
{
	struct pipe_ctx *x = ctx;
	struct cs_report copy = *r;
	struct verdict v;

	x->reports++;
	if (getenv("VB_DEBUG"))
		fprintf(stderr, "report action=%d chain=%u client port %u\n", r->action,
			r->chain_len, r->client.port);
	if (r->action != REPORT_CERTIFICATE)
		return;
	x->certs++;
	checks_run(x->ck, &copy, &v);
	copy.verdict = &v;
	if (x->out)
		output_report(x->out, &copy);
}

/* noinline: callgrind's --toggle-collect=bench_pipeline needs the symbol. */
static __attribute__((noinline)) double bench_pipeline(struct pki *p, int with_output,
						       long *certs_out)
{
	struct pipe_ctx x = { .ck = mkchecker(p) };
	struct cert_cache *cc = cert_cache_new(CERT_CACHE_DEFAULT);
	struct flow_opts fo = {
		.certs = cc, .report = on_report, .ctx = &x, .check_time = FLOW_CHECK_NOW
	};
	FILE *null = NULL;
	double t0, t;
	long n = 0;

	if (with_output) {
		null = fopen("/dev/null", "w");
		x.out = null ? output_new(null, OUTPUT_JSON) : NULL;
		if (!x.out)
			die("output_new failed");
	}
	{
		struct flow_table *ft = flow_new(&fo);

		if (!ft)
			die("flow_new failed");
		t0 = now_s();
		while (more(n, t0, &t)) {
			for (int k = 0; k < 200 && (!fixed_n || n < fixed_n); k++, n++) {
				uint32_t seq[2] = { 1000, 900000 };
				struct cs_segment s = { 0 };

				s.key.family = CS_AF_INET;
				s.key.proto = IPPROTO_TCP;
				s.ts_ns = (uint64_t)time(NULL) * 1000000000ULL;
				s.tcp_flags = CS_TCP_ACK;
				for (int f = 0; f < nflights; f++) {
					int srv = flights[f].from_server;
					uint32_t cli = htonl(0x0b000000u + (uint32_t)(n / 50000)),
						 sv = htonl(0x0a000001u);
					uint16_t cport = (uint16_t)(10000 + n % 50000);

					memset(s.key.saddr, 0, 16);
					memset(s.key.daddr, 0, 16);
					memcpy(s.key.saddr, srv ? &sv : &cli, 4);
					memcpy(s.key.daddr, srv ? &cli : &sv, 4);
					s.key.sport = srv ? 443 : cport;
					s.key.dport = srv ? cport : 443;
					for (size_t off = 0; off < flights[f].n; off += 1448) {
						s.data = flights[f].b + off;
						s.len = (uint32_t)(flights[f].n - off < 1448 ?
									   flights[f].n - off :
									   1448);
						s.seq = seq[srv];
						seq[srv] += s.len;
						flow_segment(ft, &s);
					}
				}
			}
		}
		flow_free(ft);
	}
	*certs_out = x.certs;
	if (x.certs != n || getenv("VB_DEBUG"))
		fprintf(stderr,
			"verdictbench: pipeline (output %d): %ld handshakes, %ld chains reported, %ld reports\n",
			with_output, n, x.certs, x.reports);
	if (x.out)
		output_free(x.out);
	if (null)
		fclose(null);
	cert_cache_free(cc);
	checker_free(x.ck);
	return (double)n / t;
}

static void json_out(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		die("cannot write the JSON file");
	fprintf(f, "[\n");
	for (int i = 0; i < nfigs; i++) {
		struct fig *g = &figs[i], *b = g->base >= 0 ? &figs[g->base] : NULL;

		fprintf(f, "  {\"name\": \"verdict: %s\", \"value\": %.1f, \"unit\": \"%s\", ",
			g->name, g->med, g->unit);
		if (b)
			fprintf(f,
				"\"baseline_name\": \"%s\", \"baseline_value\": %.1f, \"ratio\": %.3f, ",
				b->name, b->med, g->med / b->med);
		else
			fprintf(f,
				"\"baseline_name\": null, \"baseline_value\": null, \"ratio\": null, ");
		fprintf(f, "\"min\": %.1f, \"max\": %.1f}%s\n", g->min, g->max,
			i + 1 < nfigs ? "," : "");
	}
	fprintf(f, "]\n");
	fclose(f);
}

/* The cases --only selects, one bit each, in the order they print. */
enum { C_WARM = 1, C_BASELINE = 2, C_DISTINCT = 4, C_PIPELINE = 8, C_OUTPUT = 16, C_ALL = 31 };
static const char *const case_names[] = { "warm", "baseline", "distinct", "pipeline", "output" };

static int case_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(case_names) / sizeof(case_names[0]); i++)
		if (!strcmp(name, case_names[i]))
			return 1 << i;
	fprintf(stderr,
		"verdictbench: --only %s: not one of warm, baseline, distinct, "
		"pipeline, output\n",
		name);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "rounds", required_argument, NULL, 'r' },
		{ "json", required_argument, NULL, 'j' },
		{ "only", required_argument, NULL, 'o' },
		{ "handshakes", required_argument, NULL, 'n' },
		{ 0 },
	};
	const char *json = NULL;
	struct pki pk[2];
	int c, only = C_ALL, distinct;
	char *end;

	while ((c = getopt_long(argc, argv, "r:j:o:n:", lo, NULL)) != -1) {
		switch (c) {
		case 'r':
			rounds = atoi(optarg);
			break;
		case 'j':
			json = optarg;
			break;
		case 'o':
			only = case_parse(optarg);
			if (!only)
				return 2;
			break;
		case 'n':
			fixed_n = strtol(optarg, &end, 10);
			if (*end || fixed_n < 1 || fixed_n > 100000000) {
				fprintf(stderr,
					"verdictbench: --handshakes %s: not a number from 1 to "
					"100000000\n",
					optarg);
				return 2;
			}
			break;
		default:
			goto usage;
		}
	}
	if (rounds < 1 || rounds > MAX_ROUNDS || optind != argc)
		goto usage;
	distinct = !!(only & (C_BASELINE | C_DISTINCT));
	pki_make(&pk[0], 0, distinct ? 3000 : 0);
	pki_make(&pk[1], 1, distinct ? 600 : 0);
	for (int k = 0; k < 2; k++) {
		struct pki *p = &pk[k];
		struct fig *w = NULL, *d = NULL, *b = NULL, *pl = NULL, *po = NULL;
		int ib = -1, iw = -1;
		long certs = 0;

		for (int f = 0; f < nflights; f++) {
			free(flights[f].b);
			flights[f].b = NULL;
			flights[f].n = 0;
		}
		nflights = 0;
		record_handshake(p);
		if (getenv("VB_DEBUG"))
			for (int f = 0; f < nflights; f++)
				fprintf(stderr, "flight %d from_server=%d %zu bytes\n", f,
					flights[f].from_server, flights[f].n);
		if (only & C_WARM) {
			iw = nfigs;
			w = fig_new("handshakes/s", -1,
				    "warm cache, %s chain: cert_get x2 + checks_run", p->name);
		}
		if (only & C_BASELINE) {
			ib = nfigs;
			b = fig_new("certificates/s", -1,
				    "baseline, %s: d2i_X509 + X509_verify_cert per leaf", p->name);
		}
		if (only & C_DISTINCT)
			d = fig_new("certificates/s", ib,
				    "distinct leaves, %s: cert_get + checks_run (chain verified)",
				    p->name);
		if (only & C_PIPELINE)
			pl = fig_new(
				"handshakes/s", iw,
				"pipeline, %s: flow_segment on recorded TLS 1.2 bytes + checks_run",
				p->name);
		if (only & C_OUTPUT)
			po = fig_new("handshakes/s", iw, "pipeline + JSON output to /dev/null, %s",
				     p->name);
		for (int r = 0; r < rounds; r++) {
			if (w)
				w->v[r] = bench_warm(p);
			if (b)
				b->v[r] = bench_baseline(p);
			if (d)
				d->v[r] = bench_distinct(p);
			if (pl)
				pl->v[r] = bench_pipeline(p, 0, &certs);
			if (po)
				po->v[r] = bench_pipeline(p, 1, &certs);
		}
		{
			struct fig *run[] = { w, b, d, pl, po };

			for (size_t i = 0; i < sizeof(run) / sizeof(run[0]); i++)
				if (run[i])
					fig_done(run[i]);
		}
	}
	if (g_bad)
		fprintf(stderr, "verdictbench: warning: %u verdicts had findings (expected none)\n",
			g_bad);
	printf("%-92s %12s %12s %12s %10s\n", "figure", "median", "min", "max", "us each");
	for (int i = 0; i < nfigs; i++)
		printf("%-92s %12.0f %12.0f %12.0f %10.2f\n", figs[i].name, figs[i].med,
		       figs[i].min, figs[i].max, 1e6 / figs[i].med);
	printf("(%d rounds; %s)\n", rounds, OpenSSL_version(OPENSSL_VERSION));
	if (json)
		json_out(json);
	return 0;
usage:
	fprintf(stderr, "usage: verdictbench [--rounds N] [--json FILE] [--only "
			"warm|baseline|distinct|pipeline|output] [--handshakes N]\n");
	return 2;
}
