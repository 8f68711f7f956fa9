/* fuzz_cert.c - cert.c -> checks.c -> output.c: DER in, a report with that
 * certificate in its chain out, as JSON (must parse, strict, valid UTF-8)
 * and as text (no raw controls). */
#include <arpa/inet.h>
#include <unistd.h>
#include <linux/types.h>
#include "certsentry.h"
#include "fuzz_pipe.h"

/* The pipeline's lists (trust store, deny list, pins, CRL), checker and sinks. */
static struct fuzz_pipe fp;
#define pki	  fp.pki
#define checker	  fp.checker
#define json_sink fp.json
#define text_sink fp.text

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_pipe_init(&fp);
	return 0;
}

static void check_facts(const struct cert_facts *f, size_t len)
{
	FUZZ_CHECK(f->der_len == len);
	FUZZ_CHECK(strlen(f->sha256_hex) == 64);
	FUZZ_CHECK(f->n_sans <= CERT_SANS_MAX && f->n_sans <= f->total_sans);
	FUZZ_CHECK(memchr(f->parse_error, 0, sizeof(f->parse_error)));
	FUZZ_CHECK(memchr(f->key_alg, 0, sizeof(f->key_alg)));
	FUZZ_CHECK(memchr(f->sig_alg, 0, sizeof(f->sig_alg)));
	FUZZ_CHECK(memchr(f->spki_sha256_b64, 0, sizeof(f->spki_sha256_b64)));
	if (f->parse_ok) {
		FUZZ_CHECK(f->x509);
		for (uint32_t i = 0; i < f->n_sans; i++)
			FUZZ_CHECK(f->sans[i]);
	} else {
		FUZZ_CHECK(!f->x509 && f->parse_error[0]);
	}
}

/* Checks, then JSON (and text): the verdict's messages quote the
 * certificate too. */
static void render(struct cs_report *r, bool text)
{
	struct verdict v;

	checks_run(checker, r, &v);
	FUZZ_CHECK(v.n <= F_MAX);
	r->verdict = &v;
	output_report(json_sink.out, r);
	if (text)
		output_report(text_sink.out, r);
	r->verdict = NULL;
	FUZZ_CHECK(fuzz_sink_check(&json_sink) == 1);
	FUZZ_CHECK(fuzz_sink_check(&text_sink) == (text ? 1u : 0u));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cert_cache *cache = cert_cache_new(4);
	struct cert_facts *f, *f2, *inter;
	struct cs_report r;
	uint8_t *der = fz_dup(data, size);

	FUZZ_CHECK(cache);
	f = cert_get(cache, der, size);
	FUZZ_CHECK(f);
	check_facts(f, size);
	f2 = cert_get(cache, der, size); /* from the cache: the same facts */
	FUZZ_CHECK(f2 == f);
	inter = cert_get(cache, pki.inter_der, (size_t)pki.inter_len);
	FUZZ_CHECK(inter && inter->parse_ok);
	free(der); /* facts must not point into the input */

	memset(&r, 0, sizeof(r));
	r.action = REPORT_CERTIFICATE;
	r.ts_ns = 1700000000ULL * 1000000000ULL;
	r.check_time = 1700000000;
	r.client.family = CS_AF_INET;
	inet_pton(AF_INET, "192.0.2.1", r.client.addr);
	r.client.port = 40000;
	r.server.family = CS_AF_INET;
	inet_pton(AF_INET, "192.0.2.2", r.server.addr);
	r.server.port = 443;
	r.version = 0x0303;
	r.cipher = 0xC02F;
	r.have_server_hello = true;
	r.has_sni = true;
	strcpy(r.sni, "www.example.test");
	r.transport = IPPROTO_TCP;
	/* The fuzzed certificate as the leaf, then as the issuer, then as a
	 * lone self-signed leaf at another time (validity edges). */
	r.chain[0] = f;
	r.chain[1] = inter;
	r.chain_len = r.chain_total = 2;
	render(&r, true);
	r.chain[0] = inter;
	r.chain[1] = f;
	r.action = REPORT_CLIENT_CERTIFICATE;
	render(&r, false);
	r.chain[0] = f;
	r.chain_len = 1;
	r.chain_total = 3;
	r.action = REPORT_CERTIFICATE;
	r.check_time = f->not_after;
	r.has_sni = false;
	render(&r, true);

	cert_put(cache, f);
	cert_put(cache, f2);
	cert_put(cache, inter);
	cert_cache_free(cache);
	return 0;
}
