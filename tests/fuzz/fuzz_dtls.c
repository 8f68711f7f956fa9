/* fuzz_dtls.c - dtls.c: length-prefixed datagrams into one direction, every
 * delivered message run through the handshake body decoders. */
#include "fuzz_common.h"
#include "fuzz_decode.h"
#include "dtls.h"

struct ctx {
	struct dtls_parser *p;
	unsigned msgs;
	unsigned free_at;
	bool freed;
	bool errored;
};

static void on_hs(void *vc, uint8_t type, const uint8_t *body, size_t len)
{
	struct ctx *c = vc;
	uint8_t *b;

	FUZZ_CHECK(!c->freed && !c->errored);
	FUZZ_CHECK(len <= 0xFFFFFF);
	(void)type;
	b = fz_dup(body, len); /* exact size: a decoder reading past it trips ASan */
	fz_tls_decode_all(b, len);
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
