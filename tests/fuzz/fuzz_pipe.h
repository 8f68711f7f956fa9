/* fuzz_pipe.h - the offline pipeline after capture, as certsentry.c wires
 * it: flow -> checks -> output, every report rendered as JSON and text and
 * checked line by line. */
#ifndef CS_FUZZ_PIPE_H
#define CS_FUZZ_PIPE_H

#include <unistd.h>
#include "fuzz_common.h"
#include "fuzz_out.h"
#include "fuzz_pki.h"
#include "cert.h"
#include "checks.h"
#include "dedup.h"
#include "flow.h"
#include "lists.h"

struct fuzz_pipe {
	struct fuzz_pki pki;
	struct lists *lists;
	struct checker *checker;
	struct fuzz_sink json, text;
	struct cert_cache *certs;
	struct flow_table *flows;
	void (*done)(void *ctx, const struct cs_flow_key *k);
	void *done_ctx;
	struct dedup *dedup;
	uint64_t reports; /* reports from the flow stage */
	uint64_t lines;	  /* lines written to each sink */
};

static inline void fuzz_pipe_summary(void *ctx, const struct dedup_summary *s)
{
	struct fuzz_pipe *fp = ctx;

	output_summary(fp->json.out, s);
	output_summary(fp->text.out, s);
	fp->lines++;
}

static inline void fuzz_pipe_report(void *ctx, const struct cs_report *r)
{
	struct fuzz_pipe *fp = ctx;
	struct cs_report copy = *r;
	struct verdict v;

	FUZZ_CHECK(r->chain_len <= TLS_CHAIN_MAX);
	for (uint32_t i = 0; i < r->chain_len; i++)
		FUZZ_CHECK(r->chain[i]);
	checks_run(fp->checker, &copy, &v);
	FUZZ_CHECK(v.n <= F_MAX);
	copy.verdict = &v;
	fp->reports++;
	/* As certsentry.c: repeats become summaries (every 2nd input: all). */
	dedup_flush(fp->dedup, r->ts_ns, false);
	if (dedup_admit(fp->dedup, &copy, v.n ? finding_name(v.f[0].code) : "ok", v.worst,
			r->ts_ns)) {
		output_report(fp->json.out, &copy);
		output_report(fp->text.out, &copy);
		fp->lines++;
	}
}

static inline void fuzz_pipe_done(void *ctx, const struct cs_flow_key *k)
{
	struct fuzz_pipe *fp = ctx;

	if (fp->done)
		fp->done(fp->done_ctx, k);
}

static inline char *fuzz_tmpfile(const char *text)
{
	char *path = strdup("/tmp/cs-fuzz-list-XXXXXX");
	int fd = path ? mkstemp(path) : -1;

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
	return path;
}

/* Once per process. Lists with something in each, so every check runs: a
 * deny list and pins naming the corpus' names, the PKI's CRL if there is one. */
static inline void fuzz_pipe_init(struct fuzz_pipe *fp)
{
	struct lists_opts lo = { 0 };
	struct checks_opts co = { .warn_days = 14 };
	const char *dir = getenv("CS_FUZZ_PKI");
	char err[512], crl[512];
	char *deny, *pins;

	memset(fp, 0, sizeof(*fp));
	fuzz_pki_init(&fp->pki);
	lo.ca_file = fp->pki.root_pem;
	deny = fuzz_tmpfile("sha256:"
			    "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF\n"
			    "spki:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
			    "serial:01 issuer:CN=certsentry Test Intermediate,O=certsentry test\n");
	pins = fuzz_tmpfile(
		"www.example.test sha256:00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF\n"
		"*.google.com spki:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
		"10.0.0.2:443 sha256:00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF\n"
		"[a00::2]:443 spki:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n");
	lo.deny_file = deny;
	lo.pins_file = pins;
	if (dir && *dir) {
		snprintf(crl, sizeof(crl), "%s/inter.crl.pem", dir);
		if (access(crl, R_OK) == 0) {
			lo.crl_paths[0] = crl;
			lo.n_crl = 1;
		}
	}
	if (!(fp->lists = lists_load(&lo, err, sizeof(err)))) {
		fprintf(stderr, "fuzz: lists_load: %s\n", err);
		abort();
	}
	unlink(fp->pki.root_pem);
	unlink(deny);
	unlink(pins);
	free(deny);
	free(pins);
	fp->checker = checker_new(&co);
	checker_set_lists(fp->checker, fp->lists);
	fuzz_sink_open(&fp->json, OUTPUT_JSON);
	fuzz_sink_open(&fp->text, OUTPUT_TEXT);
}

/* copy_encrypted: a record handed out is whole, a taken one, and readable
 * (the copy reads every byte under ASan). */
static inline void fuzz_pipe_encrypted(void *ctx, const struct cs_flow_key *k, bool from_server,
				       uint32_t idx, const uint8_t *hdr, const uint8_t *body,
				       size_t len)
{
	(void)ctx;
	(void)k;
	(void)from_server;
	FUZZ_CHECK(hdr[0] == TLS_CT_APPDATA && ((size_t)hdr[3] << 8 | hdr[4]) == len);
	FUZZ_CHECK(len <= RECWALK_REC_MAX && idx < CS_ENC_SERVER_RECS);
	free(fz_dup(body, len));
}

/* Per input: a fresh flow table and certificate cache (small bounds, so
 * eviction paths run too). */
static inline void fuzz_pipe_begin(struct fuzz_pipe *fp, uint8_t knobs)
{
	struct flow_opts o = { 0 };

	fp->certs = cert_cache_new((knobs & 1) ? 2 : 64);
	fp->dedup = dedup_new(1, knobs & 64, fuzz_pipe_summary, fp);
	o.max_conns = (knobs & 2) ? 2 : 0;
	o.max_held = (knobs & 4) ? 64 : 0;
	o.msg_max = (knobs & 8) ? 512 : 0;
	o.max_mem = (knobs & 16) ? 64 * 1024 : 0;
	o.check_time = (knobs & 32) ? 1700000000 : FLOW_CHECK_PACKET;
	o.certs = fp->certs;
	o.report = fuzz_pipe_report;
	o.done = fuzz_pipe_done;
	o.copy_encrypted = knobs & 128;
	o.encrypted = fuzz_pipe_encrypted;
	o.ctx = fp;
	fp->flows = flow_new(&o);
	FUZZ_CHECK(fp->certs && fp->flows && fp->dedup);
	fp->reports = fp->lines = 0;
}

/* Frees the table (which may still report) and checks every line written. */
static inline void fuzz_pipe_end(struct fuzz_pipe *fp)
{
	struct flow_stats st;
	unsigned jl, tl;

	flow_stats(fp->flows, &st);
	FUZZ_CHECK(st.active <= st.conns);
	flow_free(fp->flows);
	fp->flows = NULL;
	dedup_flush(fp->dedup, UINT64_MAX / 2, true);
	dedup_free(fp->dedup);
	fp->dedup = NULL;
	cert_cache_free(fp->certs);
	fp->certs = NULL;
	if (getenv("CS_FUZZ_DEBUG"))
		fprintf(stderr,
			"fuzz: %llu reports, %llu conns, %llu parse errors, %llu gaps, %llu ignored\n",
			(unsigned long long)fp->reports, (unsigned long long)st.conns,
			(unsigned long long)st.parse_errors, (unsigned long long)st.gaps,
			(unsigned long long)st.ignored_segments);
	jl = fuzz_sink_check(&fp->json);
	tl = fuzz_sink_check(&fp->text);
	if (jl != fp->lines || tl != fp->lines)
		fprintf(stderr, "lines: json %u text %u expected %llu\n", jl, tl,
			(unsigned long long)fp->lines);
	FUZZ_CHECK(jl == fp->lines && tl == fp->lines);
}

#endif
