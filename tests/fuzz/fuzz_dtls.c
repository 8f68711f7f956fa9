/* fuzz_dtls.c - dtls.c: length-prefixed datagrams into one direction, every
 * delivered message run through the handshake body decoders. */
#include "fuzz_common.h"
#include "dtls.h"

struct ctx {
	struct dtls_parser *p;
	unsigned msgs;
	unsigned free_at;
	bool freed;
	bool errored;
};

static void check_in(const uint8_t *x, size_t xn, const uint8_t *b, size_t n)
{
	FUZZ_CHECK(x >= b && xn <= n && (size_t)(x - b) <= n - xn);
}

static void on_hs(void *vc, uint8_t type, const uint8_t *body, size_t len)
{
	struct ctx *c = vc;
	struct tls_client_hello ch;
	struct tls_server_hello sh;
	struct tls_cert_list cl;
	const uint8_t *der;
	size_t der_len;
	uint8_t *b;

	FUZZ_CHECK(!c->freed && !c->errored);
	FUZZ_CHECK(len <= 0xFFFFFF);
	(void)type;
	b = fz_dup(body, len);
	if (tls_parse_dtls_client_hello(b, len, &ch) == 0)
		FUZZ_CHECK(strlen(ch.sni) <= TLS_SNI_MAX && strlen(ch.alpn) <= TLS_ALPN_MAX);
	(void)tls_parse_client_hello(b, len, &ch);
	if (tls_parse_server_hello(b, len, &sh) == 0)
		(void)tls_cipher_name(sh.cipher);
	if (tls_parse_certificate(b, len, &cl) == 0)
		for (uint32_t i = 0; i < cl.n; i++)
			check_in(cl.der[i], cl.der_len[i], b, len);
	if (tls_parse_certificate_status(b, len, &der, &der_len) == 0)
		check_in(der, der_len, b, len);
	free(b);
	if (++c->msgs == c->free_at) {
		dtls_parser_free(c->p);
		c->freed = true;
	}
}

static void on_rec(void *vc, uint8_t ct, uint16_t version, const uint8_t *body, size_t avail,
		   size_t rec_len)
{
	struct ctx *c = vc;
	volatile uint8_t sink = 0;

	FUZZ_CHECK(!c->freed && !c->errored);
	FUZZ_CHECK(avail <= 8 && avail <= rec_len);
	for (size_t i = 0; i < avail; i++)
		sink ^= body[i];
	(void)sink;
	(void)ct;
	(void)tls_version_number(version);
}

static void on_err(void *vc, const char *what)
{
	struct ctx *c = vc;

	FUZZ_CHECK(!c->freed && !c->errored && what && *what);
	c->errored = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct tls_cb cb = { .handshake = on_hs, .record = on_rec, .error = on_err };
	struct fz f = { data, size };
	struct dtls_parser p;
	struct ctx c = { .p = &p };
	uint8_t mode = fz_u8(&f);

	c.free_at = (mode >> 2) & 15;
	dtls_parser_init(&p, (const uint32_t[]){ 0, 64, 4096, 0xFFFFFF }[mode & 3]);
	while (f.n > 0) {
		const uint8_t *d;
		size_t n = fz_take(&f, fz_u16(&f), &d);
		uint8_t *dg = fz_dup(d, n);
		int rc = dtls_feed_datagram(&p, dg, n, &cb, &c);

		free(dg);
		FUZZ_CHECK(rc == 0 || rc == -1);
		FUZZ_CHECK(rc == 0 || p.failed);
		FUZZ_CHECK(p.stats.datagrams >= 1);
	}
	dtls_parser_free(&p);
	return 0;
}
