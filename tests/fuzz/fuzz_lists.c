/* fuzz_lists.c - the lists module (lists*.c): the input as a deny file, a pins file, a CRL file
 * and a CA file, each loaded on its own by lists_load; lookups run on what
 * loaded; the error line rendered as a JSON status event. Leaks are caught
 * by LeakSanitizer. */
#include <arpa/inet.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/types.h>
#include "certsentry.h"
#include "fuzz_common.h"
#include "fuzz_out.h"
#include "fuzz_pki.h"
#include "cert.h"
#include "lists.h"

static struct fuzz_pki pki;
static struct cert_cache *cache;
static struct cert_facts *leaf, *inter;
static struct fuzz_sink sink, text_sink;
static int fd = -1;
static char path[64];

static void drop_root_pem(void)
{
	unlink(pki.root_pem);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_pki_init(&pki); /* root_pem stays: the trust store of every load */
	atexit(drop_root_pem);
	cache = cert_cache_new(8);
	leaf = cert_get(cache, pki.leaf_der, (size_t)pki.leaf_len);
	inter = cert_get(cache, pki.inter_der, (size_t)pki.inter_len);
	if ((fd = memfd_create("cs-fuzz-list", 0)) < 0 || !leaf || !inter)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	fuzz_sink_open(&sink, OUTPUT_JSON);
	fuzz_sink_open(&text_sink, OUTPUT_TEXT);
	return 0;
}

static void lookups(const struct lists *l)
{
	struct cert_facts *chain[2] = { leaf, inter };
	struct report_endpoint ep = { .family = CS_AF_INET, .port = 443 };
	static const char *const snis[] = {
		"www.example.test", "a.example.test", "example.test", "x", "", NULL,
	};
	struct lists_sizes sz;
	struct crl_hit hit;
	const char *pins[LISTS_PINS_PER_RULE + 1];

	lists_sizes(l, &sz);
	for (uint32_t i = 0; i < 1000; i++) {
		const char *w = lists_warning(l, i);

		if (!w)
			break;
		FUZZ_CHECK(strlen(w) < 4096);
	}
	(void)lists_denied(l, leaf);
	(void)lists_denied(l, inter);
	memset(&hit, 0, sizeof(hit));
	if (lists_crl_revoked(l, leaf, inter, &hit))
		FUZZ_CHECK(memchr(hit.source, 0, sizeof(hit.source)) &&
			   memchr(hit.reason_str, 0, sizeof(hit.reason_str)));
	(void)lists_crl_revoked(l, leaf, NULL, &hit);
	(void)lists_crl_revoked(l, inter, NULL, &hit);
	inet_pton(AF_INET, "192.0.2.2", ep.addr);
	for (int i = 0; i < 2; i++) {
		for (size_t s = 0; s < sizeof(snis) / sizeof(snis[0]); s++) {
			const struct pin_rule *r = lists_pin_rule(l, snis[s], &ep);
			uint32_t n;

			if (!r)
				continue;
			(void)pin_rule_matches(r, chain, 2);
			(void)pin_rule_matches(r, chain, 1);
			FUZZ_CHECK(pin_rule_pattern(r));
			n = pin_rule_pins(r, pins, LISTS_PINS_PER_RULE + 1);
			FUZZ_CHECK(n <= LISTS_PINS_PER_RULE + 1);
			for (uint32_t k = 0; k < n; k++)
				FUZZ_CHECK(pins[k]);
		}
		ep.family = CS_AF_INET6;
		inet_pton(AF_INET6, "2001:db8::2", ep.addr);
	}
}

static void load(struct lists_opts *o)
{
	char err[512];
	struct lists *l;

	memset(err, 0x41, sizeof(err));
	l = lists_load(o, err, sizeof(err));
	FUZZ_CHECK(memchr(err, 0, sizeof(err)));
	if (!l) {
		FUZZ_CHECK(err[0]);
		output_status(sink.out, 1700000000ULL * 1000000000ULL, "certsentry-lists-error",
			      "error", err);
		output_status(text_sink.out, 1700000000ULL * 1000000000ULL,
			      "certsentry-lists-error", "error", err);
		FUZZ_CHECK(fuzz_sink_check(&sink) == 1);
		FUZZ_CHECK(fuzz_sink_check(&text_sink) == 1);
		return;
	}
	lookups(l);
	lists_free(l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lists_opts o;

	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	memset(&o, 0, sizeof(o));
	o.ca_file = pki.root_pem;
	o.deny_file = path;
	load(&o);
	o.deny_file = NULL;
	o.pins_file = path;
	load(&o);
	o.pins_file = NULL;
	o.crl_paths[0] = path;
	o.n_crl = 1;
	load(&o);
	o.n_crl = 0;
	o.crl_paths[0] = NULL;
	o.ca_file = path;
	load(&o);
	return 0;
}
