/* fuzz_tls.c - tls.c: the record layer fed in 2-3 pieces, every delivered
 * message run through every handshake body decoder. */
#include "fuzz_common.h"
#include "fuzz_decode.h"
#include "tls.h"

struct ctx {
	struct tls_parser *p;
	unsigned msgs;
	unsigned free_at; /* free the parser from this callback (0: never) */
	bool freed;
	bool errored; /* the error callback ran: nothing may follow */
	uint64_t log; /* hash of every callback and its arguments */
	unsigned events;
	uint8_t *ent; /* a Certificate's entries given so far (cert_entry) */
	size_t ent_len;
};

/* FNV-1a over what a callback saw: how the stream was cut into feeds must
 * not change a single callback. */
static void log_bytes(struct ctx *c, const void *p, size_t n)
{
	const uint8_t *b = p;

	if (!c->log)
		c->log = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++)
		c->log = (c->log ^ b[i]) * 0x100000001b3ULL;
}

static void log_event(struct ctx *c, char kind, uint64_t a, uint64_t b, const uint8_t *d, size_t n)
{
	c->events++;
	log_bytes(c, &kind, 1);
	log_bytes(c, &a, sizeof(a));
	log_bytes(c, &b, sizeof(b));
	log_bytes(c, d, n);
}

static void on_hs(void *vc, uint8_t type, const uint8_t *body, size_t len)
{
	struct ctx *c = vc;
	uint8_t *copy;

	FUZZ_CHECK(!c->freed && !c->errored);
	FUZZ_CHECK(len <= 0xFFFFFF);
	if (type == TLS_HS_CERTIFICATE) {
		/* Logged as the entries it holds, as a Certificate split across
		 * feeds is given (cert_entry, cert_end): the same either way. */
		struct tls_cert_list cl;
		bool ok = tls_parse_certificate(body, len, &cl) == 0;

		log_event(c, 'C', ok, ok ? len - 3 : 0, ok ? body + 3 : NULL, ok ? len - 3 : 0);
	} else {
		log_event(c, 'h', type, len, body, len);
	}
	/* An exact-size copy: a decoder reading past the body trips ASan. */
	copy = fz_dup(body, len);
	fz_tls_decode_all(copy, len);
	free(copy);
	if (++c->msgs == c->free_at) {
		tls_parser_free(c->p);
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
	log_event(c, 'r', (uint64_t)ct << 16 | version, (uint64_t)avail << 32 | rec_len, body,
		  avail);
	(void)tls_version_number(version);
	if (ct == TLS_CT_ALERT && avail >= 2)
		(void)tls_alert_name(body[1]);
}

static void on_cert_entry(void *vc, const uint8_t *der, size_t len)
{
	struct ctx *c = vc;
	uint8_t *copy = fz_dup(der, len), *e;

	FUZZ_CHECK(!c->freed && !c->errored && len > 0 && len <= 0xFFFFFF);
	free(copy); /* an exact-size copy: reading past der trips ASan */
	e = realloc(c->ent, c->ent_len + 3 + len);
	FUZZ_CHECK(e);
	c->ent = e;
	e += c->ent_len;
	e[0] = (uint8_t)(len >> 16), e[1] = (uint8_t)(len >> 8), e[2] = (uint8_t)len;
	memcpy(e + 3, der, len);
	c->ent_len += 3 + len;
}

static void on_cert_end(void *vc, bool ok)
{
	struct ctx *c = vc;

	FUZZ_CHECK(!c->freed && !c->errored);
	log_event(c, 'C', ok, ok ? c->ent_len : 0, ok ? c->ent : NULL, ok ? c->ent_len : 0);
	free(c->ent);
	c->ent = NULL;
	c->ent_len = 0;
	if (++c->msgs == c->free_at) {
		tls_parser_free(c->p);
		c->freed = true;
	}
}

static void on_err(void *vc, const char *what)
{
	struct ctx *c = vc;

	FUZZ_CHECK(!c->freed && !c->errored && what && *what);
	log_event(c, 'e', 0, 0, (const uint8_t *)what, strlen(what));
	c->errored = true;
}

/* Feeds stream[0..n) cut at cuts[0..ncut) (ascending, <= n); returns the log. */
static void run(const uint8_t *stream, size_t n, const size_t *cuts, size_t ncut, uint8_t mode,
		struct ctx *c)
{
	static const struct tls_cb cb = { .handshake = on_hs,
					  .record = on_rec,
					  .error = on_err,
					  .cert_entry = on_cert_entry,
					  .cert_end = on_cert_end };
	struct tls_parser p;
	size_t at = 0;

	memset(c, 0, sizeof(*c));
	c->p = &p;
	c->free_at = (mode >> 3) & 7;
	/* mode: bits 0-1 message limit, bit 2 hrr preset, bits 3-5 free_at. */
	tls_parser_init(&p, (const uint32_t[]){ 0, 64, 4096, 0xFFFFFF }[mode & 3]);
	p.hrr = mode & 4;
	for (size_t i = 0; i <= ncut; i++) {
		size_t end = i < ncut ? cuts[i] : n, k = end - at;
		uint8_t *piece = fz_dup(stream + at, k);
		int rc = tls_parser_feed(&p, piece, k, &cb, c);

		free(piece);
		at = end;
		FUZZ_CHECK(rc == 0 || rc == -1);
		FUZZ_CHECK(rc == 0 || p.failed);
		/* Once failed (or freed), it stays failed: feed on to check. */
		FUZZ_CHECK(rc == 0 ||
			   tls_parser_feed(&p, (const uint8_t *)"\x16\x03\x01", 3, &cb, c) == -1);
	}
	tls_parser_free(&p);
	free(c->ent); /* a Certificate the stream ended inside */
	c->ent = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	uint8_t mode = fz_u8(&f);
	size_t cut[2], n = f.n;
	struct ctx split, whole, bytes;

	cut[0] = n ? fz_u16(&f) % (n + 1) : 0;
	cut[1] = n ? fz_u16(&f) % (n + 1) : 0;
	n = f.n;
	if (cut[0] > n)
		cut[0] = n;
	if (cut[1] > n)
		cut[1] = n;
	if (cut[0] > cut[1]) {
		size_t t = cut[0];
		cut[0] = cut[1];
		cut[1] = t;
	}
	run(f.p, n, cut, 2, mode, &split);
	run(f.p, n, NULL, 0, mode, &whole);
	FUZZ_CHECK(split.events == whole.events && split.log == whole.log);
	if (n <= 2048) { /* one byte per feed: every split at once */
		size_t *all = malloc((n ? n : 1) * sizeof(*all));

		FUZZ_CHECK(all);
		for (size_t i = 0; i < n; i++)
			all[i] = i;
		run(f.p, n, all, n, mode, &bytes);
		free(all);
		FUZZ_CHECK(bytes.events == whole.events && bytes.log == whole.log);
	}
	return 0;
}
