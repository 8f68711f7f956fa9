/* test_served.c - unit tests for the uprobe source's chain assembly (user/served.c), fed with ring records as the kernel writes them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "served.h"
#include "cs_uprobe.h"

#define GOT_MAX		8
#define REAL_MINUS_MONO 1000000000000LL

/* What the callbacks were given, copied (the pointers die after the call). */
struct got {
	int n;
	struct served_chain c[GOT_MAX];
	uint8_t *der[GOT_MAX][TLS_CHAIN_MAX];
	int secrets;
	enum keylog_label label;
	uint8_t random[32], secret[CS_UP_SECRET_MAX];
	size_t secret_len;
};

static void on_chain(void *ctx, const struct served_chain *c)
{
	struct got *g = ctx;
	uint32_t i;

	assert_true(g->n < GOT_MAX);
	g->c[g->n] = *c;
	for (i = 0; i < c->n; i++) {
		g->der[g->n][i] = malloc(c->der_len[i]);
		assert_non_null(g->der[g->n][i]);
		memcpy(g->der[g->n][i], c->der[i], c->der_len[i]);
	}
	g->n++;
}

static void on_secret(void *ctx, enum keylog_label label, const uint8_t random[KEYLOG_RANDOM_LEN],
		      const uint8_t *secret, size_t len)
{
	struct got *g = ctx;

	g->secrets++;
	g->label = label;
	memcpy(g->random, random, 32);
	memcpy(g->secret, secret, len);
	g->secret_len = len;
}

static void got_free(struct got *g)
{
	int i, j;

	for (i = 0; i < g->n; i++)
		for (j = 0; j < TLS_CHAIN_MAX; j++)
			free(g->der[i][j]);
}

static struct served *new_served(struct got *g)
{
	struct uprobe_cbs cb = { .on_chain = on_chain, .on_secret = on_secret, .ctx = g };
	struct served *s = served_new(&cb, REAL_MINUS_MONO);

	assert_non_null(s);
	return s;
}

static uint64_t counter(struct served *s, int i)
{
	uint64_t c[SERVED_C_MAX];

	served_counters(s, c);
	return c[i];
}

/* A recognisable certificate: len bytes derived from seed. */
static uint8_t *der(uint32_t len, uint8_t seed)
{
	uint8_t *b = malloc(len);
	uint32_t i;

	assert_non_null(b);
	for (i = 0; i < len; i++)
		b[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 8));
	return b;
}

static void hdr(struct cs_up_hdr *h, uint32_t tid, uint64_t chain, uint32_t type)
{
	memset(h, 0, sizeof(*h));
	h->ts_ns = 5000 + chain;
	h->chain = chain;
	h->tgid = 100;
	h->tid = tid;
	h->type = type;
}

/* The records of one certificate, chunk bytes at a time, as the kernel cuts them. */
static void cert(struct served *s, uint32_t tid, uint64_t chain, uint32_t index, const uint8_t *d,
		 uint32_t len, uint32_t chunk)
{
	uint8_t *rec = malloc(sizeof(struct cs_up_cert) + chunk);
	struct cs_up_cert *r = (struct cs_up_cert *)rec;
	uint32_t off, n;

	assert_non_null(rec);
	for (off = 0; off < len; off += n) {
		n = len - off < chunk ? len - off : chunk;
		memset(r, 0, sizeof(*r));
		hdr(&r->h, tid, chain, CS_UP_REC_CERT);
		r->index = index;
		r->der_len = len;
		r->off = off;
		r->len = n;
		memcpy(rec + sizeof(*r), d + off, n);
		assert_int_equal(served_record(s, rec, sizeof(*r) + n), 0);
	}
	free(rec);
}

/* A certificate the kernel did not copy (flags say why). */
static void cert_flagged(struct served *s, uint32_t tid, uint64_t chain, uint32_t index,
			 uint32_t der_len, uint32_t flags)
{
	struct cs_up_cert r;

	memset(&r, 0, sizeof(r));
	hdr(&r.h, tid, chain, CS_UP_REC_CERT);
	r.index = index;
	r.der_len = der_len;
	r.flags = flags;
	assert_int_equal(served_record(s, &r, sizeof(r)), 0);
}

static int bind_full(struct served *s, uint32_t tid, uint64_t chain, uint32_t n, uint16_t family,
		     const uint8_t *local, const uint8_t *remote, size_t alen)
{
	struct cs_up_bind b;

	memset(&b, 0, sizeof(b));
	hdr(&b.h, tid, chain, CS_UP_REC_BIND);
	b.h.ts_ns = 777;
	memcpy(b.local, local, alen);
	memcpy(b.remote, remote, alen);
	b.lport = 443;
	b.rport = (uint16_t)(40000 + tid);
	b.family = family;
	b.n = n;
	strcpy(b.comm, "nginx");
	return served_record(s, &b, sizeof(b));
}

static const uint8_t v4_local[4] = { 10, 0, 0, 2 }, v4_remote[4] = { 10, 0, 0, 1 };

static void bind4(struct served *s, uint32_t tid, uint64_t chain, uint32_t n)
{
	assert_int_equal(bind_full(s, tid, chain, n, AF_INET, v4_local, v4_remote, 4), 0);
}

static void assert_der(const struct got *g, int i, uint32_t idx, const uint8_t *d, uint32_t len)
{
	assert_int_equal(g->c[i].der_len[idx], len);
	assert_memory_equal(g->der[i][idx], d, len);
}

static void test_chain_delivered(void **state)
{
	struct got g = { 0 };
	struct served *s = new_served(&g);
	uint8_t *a = der(300, 1), *b = der(500, 2);
	uint32_t threads;
	uint64_t bytes;

	(void)state;
	cert(s, 7, 1, 0, a, 300, CS_UP_CHUNK);
	cert(s, 7, 1, 1, b, 500, CS_UP_CHUNK);
	served_held(s, &threads, &bytes);
	assert_int_equal(threads, 1);
	assert_int_equal(bytes, 800);
	assert_int_equal(g.n, 0);
	bind4(s, 7, 1, 2);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.c[0].key.family, CS_AF_INET);
	assert_int_equal(g.c[0].key.proto, IPPROTO_TCP);
	assert_memory_equal(g.c[0].key.saddr, v4_local, 4);
	assert_memory_equal(g.c[0].key.daddr, v4_remote, 4);
	assert_int_equal(g.c[0].key.sport, 443);
	assert_int_equal(g.c[0].key.dport, 40007);
	assert_int_equal(g.c[0].tgid, 100);
	assert_int_equal(g.c[0].tid, 7);
	assert_string_equal(g.c[0].comm, "nginx");
	assert_int_equal(g.c[0].binding, UPROBE_BIND_EXACT);
	assert_int_equal(g.c[0].n, 2);
	assert_int_equal(g.c[0].total, 2);
	assert_int_equal(g.c[0].mono_ns, 777);
	assert_int_equal(g.c[0].ts_ns, 777 + REAL_MINUS_MONO);
	assert_der(&g, 0, 0, a, 300);
	assert_der(&g, 0, 1, b, 500);
	assert_int_equal(counter(s, SERVED_C_CHAINS), 1);
	served_held(s, &threads, &bytes);
	assert_int_equal(threads, 0);
	assert_int_equal(bytes, 0);
	/* The same bind again finds nothing. */
	bind4(s, 7, 1, 2);
	assert_int_equal(g.n, 1);
	assert_int_equal(counter(s, SERVED_C_NO_CHAIN), 1);
	free(a);
	free(b);
	got_free(&g);
	served_free(s);
}

static void test_chunks(void **state)
{
	struct got g = { 0 };
	struct served *s = new_served(&g);
	uint8_t *a = der(CS_UP_CERT_MAX, 3), *b = der(40000, 4);

	(void)state;
	cert(s, 9, 4, 0, a, CS_UP_CERT_MAX, CS_UP_CHUNK); /* exactly the bound: 4 chunks */
	cert(s, 9, 4, 1, b, 40000, CS_UP_CHUNK);
	bind4(s, 9, 4, 2);
	assert_int_equal(g.n, 1);
	assert_der(&g, 0, 0, a, CS_UP_CERT_MAX);
	assert_der(&g, 0, 1, b, 40000);
	free(a);
	free(b);
	got_free(&g);
	served_free(s);
}

/* Two threads' records mixed in the ring, bound in the other order. */
static void test_interleaved(void **state)
{
	struct got g = { 0 };
	struct served *s = new_served(&g);
	uint8_t *a0 = der(20000, 10), *a1 = der(700, 11), *b0 = der(900, 20), *b1 = der(800, 21);
	uint8_t rec[sizeof(struct cs_up_cert) + CS_UP_CHUNK];
	struct cs_up_cert *r = (struct cs_up_cert *)rec;

	(void)state;
	/* a0's first chunk, then b's whole chain, then a0's second chunk. */
	memset(r, 0, sizeof(*r));
	hdr(&r->h, 10, 1, CS_UP_REC_CERT);
	r->der_len = 20000;
	r->len = CS_UP_CHUNK;
	memcpy(rec + sizeof(*r), a0, CS_UP_CHUNK);
	assert_int_equal(served_record(s, rec, sizeof(*r) + CS_UP_CHUNK), 0);
	cert(s, 11, 2, 0, b0, 900, CS_UP_CHUNK);
	cert(s, 11, 2, 1, b1, 800, CS_UP_CHUNK);
	r->off = CS_UP_CHUNK;
	r->len = 20000 - CS_UP_CHUNK;
	memcpy(rec + sizeof(*r), a0 + CS_UP_CHUNK, r->len);
	assert_int_equal(served_record(s, rec, sizeof(*r) + r->len), 0);
	cert(s, 10, 1, 1, a1, 700, CS_UP_CHUNK);
	bind4(s, 11, 2, 2);
	bind4(s, 10, 1, 2);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.c[0].tid, 11);
	assert_int_equal(g.c[0].key.dport, 40011);
	assert_der(&g, 0, 0, b0, 900);
	assert_der(&g, 0, 1, b1, 800);
	assert_int_equal(g.c[1].tid, 10);
	assert_int_equal(g.c[1].key.dport, 40010);
	assert_der(&g, 1, 0, a0, 20000);
	assert_der(&g, 1, 1, a1, 700);
	free(a0);
	free(a1);
	free(b0);
	free(b1);
	got_free(&g);
	served_free(s);
}

/* A thread that never sent its chain builds another: the first is dropped. */
static void test_orphaned(void **state)
{
	struct got g = { 0 };
	struct served *s = new_served(&g);
	uint8_t *x = der(400, 30), *y = der(600, 31);

	(void)state;
	cert(s, 12, 5, 0, x, 400, CS_UP_CHUNK);
	cert(s, 12, 6, 0, y, 600, CS_UP_CHUNK);
	bind4(s, 12, 6, 1);
	assert_int_equal(g.n, 1);
	assert_der(&g, 0, 0, y, 600);
	assert_int_equal(counter(s, SERVED_C_ORPHANED), 1);
	free(x);
	free(y);
	got_free(&g);
	served_free(s);
}

/* More certificates than a chain keeps: the kernel flags those past the
 * bound; the chain goes out with the first TLS_CHAIN_MAX and the count. */
static void test_truncated(void **state)
{
	struct got g = { 0 };
	struct served *s = new_served(&g);
	uint8_t *d[TLS_CHAIN_MAX];
	uint32_t i;

	(void)state;
	for (i = 0; i < TLS_CHAIN_MAX; i++) {
		d[i] = der(200 + i, (uint8_t)(40 + i));
		cert(s, 13, 7, i, d[i], 200 + i, CS_UP_CHUNK);
	}
	cert_flagged(s, 13, 7, TLS_CHAIN_MAX, 300, CS_UP_CERT_SKIPPED);
	cert_flagged(s, 13, 7, TLS_CHAIN_MAX + 1, 300, CS_UP_CERT_SKIPPED);
	bind4(s, 13, 7, TLS_CHAIN_MAX + 2);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.c[0].n, TLS_CHAIN_MAX);
	assert_int_equal(g.c[0].total, TLS_CHAIN_MAX + 2);
	for (i = 0; i < TLS_CHAIN_MAX; i++) {
		assert_der(&g, 0, i, d[i], 200 + i);
		free(d[i]);
	}
	assert_int_equal(counter(s, SERVED_C_TRUNCATED), 1);
	got_free(&g);
	served_free(s);
}

static void test_oversize(void **state)
{
	struct got g = { 0 };
	struct served *s = new_served(&g);
	uint8_t *a = der(500, 50);

	(void)state;
	cert(s, 14, 8, 0, a, 500, CS_UP_CHUNK);
	cert_flagged(s, 14, 8, 1, CS_UP_CERT_MAX + 1, CS_UP_CERT_OVERSIZE);
	bind4(s, 14, 8, 2);
	assert_int_equal(g.n, 0);
	assert_int_equal(counter(s, SERVED_C_OVERSIZE), 1);
	free(a);
	got_free(&g);
	served_free(s);
}

/* Records lost in a full ring: never a chain with a hole. */
static void test_lost_records(void **state)
{
	struct got g = { 0 };
	struct served *s = new_served(&g);
	uint8_t *a = der(20000, 60), *b = der(300, 61);
	uint8_t rec[sizeof(struct cs_up_cert) + CS_UP_CHUNK];
	struct cs_up_cert *r = (struct cs_up_cert *)rec;

	(void)state;
	/* A certificate's first chunk lost: its second comes alone. */
	memset(r, 0, sizeof(*r));
	hdr(&r->h, 15, 9, CS_UP_REC_CERT);
	r->der_len = 20000;
	r->off = CS_UP_CHUNK;
	r->len = 20000 - CS_UP_CHUNK;
	memcpy(rec + sizeof(*r), a + CS_UP_CHUNK, r->len);
	assert_int_equal(served_record(s, rec, sizeof(*r) + r->len), 0);
	cert(s, 15, 9, 1, b, 300, CS_UP_CHUNK);
	bind4(s, 15, 9, 2);
	assert_int_equal(counter(s, SERVED_C_INCOMPLETE), 1);

	/* A whole certificate lost: the bind's count says so. */
	cert(s, 16, 10, 0, a, 20000, CS_UP_CHUNK);
	bind4(s, 16, 10, 2);
	assert_int_equal(counter(s, SERVED_C_INCOMPLETE), 2);

	/* A middle certificate lost: the next index does not follow. */
	cert(s, 17, 11, 0, b, 300, CS_UP_CHUNK);
	cert(s, 17, 11, 2, b, 300, CS_UP_CHUNK);
	bind4(s, 17, 11, 3);
	assert_int_equal(counter(s, SERVED_C_INCOMPLETE), 3);

	/* The chain's records all lost: a bind alone. */
	bind4(s, 18, 12, 1);
	assert_int_equal(counter(s, SERVED_C_NO_CHAIN), 1);
	assert_int_equal(g.n, 0);
	free(a);
	free(b);
	got_free(&g);
	served_free(s);
}

static void test_addresses(void **state)
{
	static const uint8_t l6[16] = { 0xfd, 0x77, [15] = 2 }, r6[16] = { 0xfd, 0x77, [15] = 1 };
	static const uint8_t lm[16] = { [10] = 0xff, [11] = 0xff, 10, 0, 0, 2 };
	static const uint8_t rm[16] = { [10] = 0xff, [11] = 0xff, 10, 0, 0, 1 };
	struct got g = { 0 };
	struct served *s = new_served(&g);
	uint8_t *a = der(100, 70);

	(void)state;
	cert(s, 20, 1, 0, a, 100, CS_UP_CHUNK);
	assert_int_equal(bind_full(s, 20, 1, 1, AF_INET6, l6, r6, 16), 0);
	cert(s, 21, 2, 0, a, 100, CS_UP_CHUNK);
	assert_int_equal(bind_full(s, 21, 2, 1, AF_INET6, lm, rm, 16), 0);
	cert(s, 22, 3, 0, a, 100, CS_UP_CHUNK);
	assert_int_equal(bind_full(s, 22, 3, 1, 1 /* AF_UNIX */, lm, rm, 16), -1);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.c[0].key.family, CS_AF_INET6);
	assert_memory_equal(g.c[0].key.saddr, l6, 16);
	assert_memory_equal(g.c[0].key.daddr, r6, 16);
	/* An IPv4 connection on an IPv6 socket is IPv4 on the wire. */
	assert_int_equal(g.c[1].key.family, CS_AF_INET);
	assert_memory_equal(g.c[1].key.saddr, v4_local, 4);
	assert_memory_equal(g.c[1].key.daddr, v4_remote, 4);
	assert_int_equal(g.c[1].key.saddr[4], 0);
	assert_int_equal(counter(s, SERVED_C_BAD_ADDR), 1);
	free(a);
	got_free(&g);
	served_free(s);
}

static bool alive_but(void *actx, uint32_t tgid, uint32_t tid)
{
	(void)tgid;
	return tid != *(uint32_t *)actx;
}

static void test_expire(void **state)
{
	struct got g = { 0 };
	struct served *s = new_served(&g);
	uint8_t *a = der(100, 80);
	uint32_t dead = 30, threads;
	uint64_t bytes;

	(void)state;
	cert(s, 30, 1, 0, a, 100, CS_UP_CHUNK); /* started at ts 5001 */
	cert(s, 31, 2, 0, a, 100, CS_UP_CHUNK);
	served_expire(s, 4000, NULL, NULL); /* stamped after now: young, not old */
	assert_int_equal(counter(s, SERVED_C_EXPIRED), 0);
	served_expire(s, 6000, alive_but, &dead);
	assert_int_equal(counter(s, SERVED_C_EXPIRED), 1);
	served_held(s, &threads, &bytes);
	assert_int_equal(threads, 1);
	served_expire(s, 5003 + SERVED_TTL_NS, NULL, NULL);
	assert_int_equal(counter(s, SERVED_C_EXPIRED), 2);
	served_held(s, &threads, &bytes);
	assert_int_equal(threads, 0);
	assert_int_equal(bytes, 0);
	bind4(s, 30, 1, 1);
	assert_int_equal(g.n, 0);
	free(a);
	served_free(s);
}

static void refused(struct served *s, const void *rec, size_t size, int *bad)
{
	assert_int_equal(served_record(s, rec, size), -1);
	(*bad)++;
}

static void test_malformed(void **state)
{
	struct got g = { 0 };
	struct served *s = new_served(&g);
	uint8_t rec[sizeof(struct cs_up_cert) + 64] = { 0 };
	struct cs_up_cert *r = (struct cs_up_cert *)rec;
	struct cs_up_secret sec;
	int bad = 0;

	(void)state;
	refused(s, rec, sizeof(struct cs_up_hdr) - 1, &bad);
	hdr(&r->h, 40, 1, 9);
	refused(s, rec, sizeof(*r), &bad);
	hdr(&r->h, 40, 1, CS_UP_REC_CERT);
	refused(s, rec, sizeof(*r) - 1, &bad);
	r->der_len = 100;
	r->len = 65; /* more than the record holds */
	refused(s, rec, sizeof(*r) + 64, &bad);
	r->len = 50;
	r->off = 60; /* past the certificate's end */
	refused(s, rec, sizeof(*r) + 64, &bad);
	r->off = 0;
	r->der_len = CS_UP_CERT_MAX + 1; /* bytes of a certificate over the bound */
	refused(s, rec, sizeof(*r) + 64, &bad);
	r->der_len = 100;
	r->flags = CS_UP_CERT_OVERSIZE; /* a flagged certificate with bytes */
	refused(s, rec, sizeof(*r) + 64, &bad);
	r->flags = 0;
	r->len = 0; /* no bytes, no flag */
	refused(s, rec, sizeof(*r) + 64, &bad);
	hdr(&r->h, 40, 1, CS_UP_REC_BIND);
	refused(s, rec, sizeof(struct cs_up_bind) - 1, &bad);
	memset(&sec, 0, sizeof(sec));
	hdr(&sec.h, 40, 0, CS_UP_REC_SECRET);
	sec.label_len = 0;
	sec.secret_len = 32;
	refused(s, &sec, sizeof(sec), &bad);
	sec.label_len = 4;
	memcpy(sec.label, "AB\0C", 4); /* a NUL inside */
	refused(s, &sec, sizeof(sec), &bad);
	memcpy(sec.label, "ABCD", 4);
	sec.secret_len = CS_UP_SECRET_MAX + 1;
	refused(s, &sec, sizeof(sec), &bad);
	assert_int_equal(counter(s, SERVED_C_BAD_RECORD), bad);
	assert_int_equal(g.n, 0);
	assert_int_equal(g.secrets, 0);
	served_free(s);
}

static void secret_rec(struct cs_up_secret *r, uint32_t tid, const char *label, uint8_t seed)
{
	uint32_t i;

	memset(r, 0, sizeof(*r));
	hdr(&r->h, tid, 0, CS_UP_REC_SECRET);
	r->label_len = (uint32_t)strlen(label);
	memcpy(r->label, label, r->label_len);
	for (i = 0; i < CS_UP_RANDOM_LEN; i++)
		r->random[i] = (uint8_t)(seed + i);
	r->secret_len = 48;
	for (i = 0; i < 48; i++)
		r->secret[i] = (uint8_t)(seed * 3 + i);
}

static void test_secrets(void **state)
{
	struct got g = { 0 };
	struct served *s = new_served(&g);
	struct cs_up_secret r;

	(void)state;
	secret_rec(&r, 50, "SERVER_HANDSHAKE_TRAFFIC_SECRET", 1);
	assert_int_equal(served_record(s, &r, sizeof(r)), 0);
	assert_int_equal(g.secrets, 1);
	assert_int_equal(g.label, KEYLOG_SERVER_HANDSHAKE_TRAFFIC_SECRET);
	assert_memory_equal(g.random, r.random, 32);
	assert_int_equal(g.secret_len, 48);
	assert_memory_equal(g.secret, r.secret, 48);
	/* The same call seen twice (Go re-runs a function from its entry after
	 * growing the stack): once. */
	assert_int_equal(served_record(s, &r, sizeof(r)), 0);
	assert_int_equal(g.secrets, 1);
	assert_int_equal(counter(s, SERVED_C_SECRET_DUPS), 1);
	/* Another label of the same connection is another secret. */
	secret_rec(&r, 50, "CLIENT_HANDSHAKE_TRAFFIC_SECRET", 1);
	assert_int_equal(served_record(s, &r, sizeof(r)), 0);
	assert_int_equal(g.secrets, 2);
	assert_int_equal(g.label, KEYLOG_CLIENT_HANDSHAKE_TRAFFIC_SECRET);
	secret_rec(&r, 50, "CLIENT_RANDOM", 2);
	assert_int_equal(served_record(s, &r, sizeof(r)), 0);
	assert_int_equal(g.label, KEYLOG_CLIENT_RANDOM);
	assert_int_equal(counter(s, SERVED_C_SECRETS), 3);
	/* A label the key log has no name for (a later Go, say): counted. */
	secret_rec(&r, 50, "SERVER_HANDSHAKE_TRAFFIC_SECRET_X", 3);
	assert_int_equal(served_record(s, &r, sizeof(r)), 0);
	secret_rec(&r, 50, "SERVER_HANDSHAKE", 3);
	assert_int_equal(served_record(s, &r, sizeof(r)), 0);
	assert_int_equal(g.secrets, 3);
	assert_int_equal(counter(s, SERVED_C_SECRET_LABEL), 2);
	served_free(s);
}

/* More threads with a chain in progress than the table holds: the least
 * recently active goes. */
static void test_thread_table_full(void **state)
{
	struct got g = { 0 };
	struct served *s = new_served(&g);
	uint8_t *a = der(64, 90);
	uint32_t i, threads;
	uint64_t bytes;

	(void)state;
	for (i = 0; i <= SERVED_THREADS_MAX; i++)
		cert(s, 1000 + i, 1 + i, 0, a, 64, CS_UP_CHUNK);
	served_held(s, &threads, &bytes);
	assert_int_equal(threads, SERVED_THREADS_MAX);
	assert_int_equal(counter(s, SERVED_C_EVICTED), 1);
	bind4(s, 1000, 1, 1); /* the first one went, counted once */
	assert_int_equal(counter(s, SERVED_C_NO_CHAIN), 0);
	assert_int_equal(counter(s, SERVED_C_EVICTED), 1);
	bind4(s, 1001, 2, 1);
	bind4(s, 1000 + SERVED_THREADS_MAX, 1 + SERVED_THREADS_MAX, 1);
	assert_int_equal(g.n, 2);
	free(a);
	got_free(&g);
	served_free(s);
}

/* The DER held for chains in progress is bounded. */
static void test_byte_budget(void **state)
{
	struct got g = { 0 };
	struct served *s = new_served(&g);
	uint8_t *a = der(CS_UP_CERT_MAX, 91);
	uint32_t i, fit = SERVED_BYTES_MAX / CS_UP_CERT_MAX, threads;
	uint64_t bytes;

	(void)state;
	for (i = 0; i <= fit; i++)
		cert(s, 3000 + i, 1 + i, 0, a, CS_UP_CERT_MAX, CS_UP_CHUNK);
	served_held(s, &threads, &bytes);
	assert_int_equal(bytes, SERVED_BYTES_MAX);
	assert_int_equal(threads, fit);
	assert_int_equal(counter(s, SERVED_C_EVICTED), 1);
	bind4(s, 3000 + fit, 1 + fit, 1);
	assert_int_equal(g.n, 0);
	assert_int_equal(counter(s, SERVED_C_EVICTED), 1);
	assert_int_equal(counter(s, SERVED_C_NO_CHAIN) + counter(s, SERVED_C_INCOMPLETE), 0);
	bind4(s, 3000, 1, 1);
	assert_int_equal(g.n, 1);
	free(a);
	got_free(&g);
	served_free(s);
}

static void test_counter_names(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < SERVED_C_MAX; i++)
		assert_non_null(strstr(served_counter_name(i), "_"));
	assert_string_equal(served_counter_name(SERVED_C_MAX), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chain_delivered), cmocka_unit_test(test_chunks),
		cmocka_unit_test(test_interleaved),	cmocka_unit_test(test_orphaned),
		cmocka_unit_test(test_truncated),	cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_lost_records),	cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_expire),		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_secrets),		cmocka_unit_test(test_thread_table_full),
		cmocka_unit_test(test_byte_budget),	cmocka_unit_test(test_counter_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
