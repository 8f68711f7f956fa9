/* fuzz_ocsp.c - ocsp.c: a stapled OCSPResponse, matched by serial (no
 * issuer), by CertID (issuer known), against the wrong issuer and with no
 * leaf; the facts then rendered by output.c as JSON and text. */
#include <unistd.h>
#include "fuzz_common.h"
#include "fuzz_out.h"
#include "fuzz_pki.h"
#include "ocsp.h"

static struct fuzz_pki pki;
static struct fuzz_sink json_sink, text_sink;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_pki_init(&pki);
	unlink(pki.root_pem);
	fuzz_sink_open(&json_sink, OUTPUT_JSON);
	fuzz_sink_open(&text_sink, OUTPUT_TEXT);
	return 0;
}

static void check(const struct ocsp_facts *o, int rc)
{
	FUZZ_CHECK(rc == 0 || rc == -1);
	FUZZ_CHECK((rc == 0) == o->parse_ok);
	FUZZ_CHECK(memchr(o->parse_error, 0, sizeof(o->parse_error)));
	FUZZ_CHECK(memchr(o->response_status_str, 0, sizeof(o->response_status_str)));
	FUZZ_CHECK(memchr(o->serial_hex, 0, sizeof(o->serial_hex)));
	FUZZ_CHECK(memchr(o->reason_str, 0, sizeof(o->reason_str)));
	FUZZ_CHECK(memchr(o->responder, 0, sizeof(o->responder)));
	FUZZ_CHECK(o->cert_status >= OCSP_ST_NONE && o->cert_status <= OCSP_ST_UNKNOWN);
	FUZZ_CHECK(!o->signature_ok || o->signature_checked);
	if (rc < 0)
		FUZZ_CHECK(o->parse_error[0]);
}

static void render(const struct ocsp_facts *o)
{
	struct cs_report r;

	memset(&r, 0, sizeof(r));
	r.action = REPORT_CERTIFICATE;
	r.ts_ns = 1700000000ULL * 1000000000ULL;
	r.check_time = 1700000000;
	r.have_ocsp = true;
	r.ocsp = *o;
	output_report(json_sink.out, &r);
	output_report(text_sink.out, &r);
	FUZZ_CHECK(fuzz_sink_check(&json_sink) == 1);
	FUZZ_CHECK(fuzz_sink_check(&text_sink) == 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *der = fz_dup(data, size);
	struct ocsp_facts o;
	int rc;

	memset(&o, 0xA5, sizeof(o)); /* garbage in: ocsp_parse must set all */
	rc = ocsp_parse(der, size, NULL, NULL, &o);
	check(&o, rc);
	render(&o);
	rc = ocsp_parse(der, size, pki.leaf, NULL, &o);
	check(&o, rc);
	rc = ocsp_parse(der, size, pki.leaf, pki.inter, &o);
	check(&o, rc);
	render(&o);
	rc = ocsp_parse(der, size, pki.leaf, pki.leaf, &o); /* wrong issuer */
	check(&o, rc);
	rc = ocsp_parse(der, size, NULL, pki.inter, &o); /* leaf did not parse */
	check(&o, rc);
	free(der);
	return 0;
}
