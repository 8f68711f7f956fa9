/* fuzz_tls13.c - tls13.c: the server-flight reader and the client-record reader on records the
 * harness seals from the input (so that fuzzing reaches past authentication: reassembly, message
 * rules, the TLS 1.3 Certificate decoder), or on the raw input; fed whole and cut. */
#include <openssl/evp.h>
#include "fuzz_common.h"
#include "fuzz_decode.h"
#include "tls13.h"

static const uint16_t suites[] = {
	TLS13_AES_128_GCM_SHA256, TLS13_AES_256_GCM_SHA384,   TLS13_CHACHA20_POLY1305_SHA256,
	TLS13_AES_128_CCM_SHA256, TLS13_AES_128_CCM_8_SHA256,
};
static const char *const cipher_names[] = {
	"AES-128-GCM", "AES-256-GCM", "ChaCha20-Poly1305", "AES-128-CCM", "AES-128-CCM",
};
static EVP_CIPHER *ciphers[5];
static uint8_t secret[48];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	for (int i = 0; i < 48; i++)
		secret[i] = (uint8_t)(0xA0 + i);
	for (int i = 0; i < 5; i++)
		FUZZ_CHECK((ciphers[i] = EVP_CIPHER_fetch(NULL, cipher_names[i], NULL)));
	return 0;
}

/* Seals inner (type last, padding included) as one record at out. */
static size_t seal(struct tls13_keys *k, int si, const uint8_t *inner, size_t n, uint8_t *out)
{
	bool ccm = si >= 3;
	size_t len = n + k->tag_len;
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	uint8_t nonce[12];
	int o;

	FUZZ_CHECK(x);
	memcpy(nonce, k->iv, 12);
	for (int i = 0; i < 8; i++)
		nonce[11 - i] ^= (uint8_t)(k->seq >> (8 * i));
	out[0] = 23;
	out[1] = 3;
	out[2] = 3;
	out[3] = (uint8_t)(len >> 8);
	out[4] = (uint8_t)len;
	FUZZ_CHECK(EVP_EncryptInit_ex2(x, ciphers[si], NULL, NULL, NULL) == 1);
	FUZZ_CHECK(EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) == 1);
	if (ccm)
		FUZZ_CHECK(EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_TAG, k->tag_len, NULL) == 1);
	FUZZ_CHECK(EVP_EncryptInit_ex2(x, NULL, k->key, nonce, NULL) == 1);
	if (ccm)
		FUZZ_CHECK(EVP_EncryptUpdate(x, NULL, &o, NULL, (int)n) == 1);
	FUZZ_CHECK(EVP_EncryptUpdate(x, NULL, &o, out, 5) == 1);
	FUZZ_CHECK(EVP_EncryptUpdate(x, out + 5, &o, inner, (int)n) == 1);
	FUZZ_CHECK(EVP_EncryptFinal_ex(x, out + 5 + o, &o) == 1);
	FUZZ_CHECK(EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, k->tag_len, out + 5 + n) == 1);
	EVP_CIPHER_CTX_free(x);
	k->seq++;
	return 5 + len;
}

struct ctx {
	bool done; /* Finished delivered: nothing may follow */
	unsigned msgs;
	uint64_t log;
};

static void on_msg(void *vc, uint8_t type, const uint8_t *body, size_t len)
{
	struct ctx *c = vc;
	uint8_t *copy = fz_dup(body, len);
	struct tls_cert_list cl;
	const uint8_t *ocsp;
	size_t ol;

	FUZZ_CHECK(!c->done && len <= 0xFFFFFF);
	c->msgs++;
	c->log = (c->log ^ type) * 0x100000001b3ULL;
	for (size_t i = 0; i < len; i++)
		c->log = (c->log ^ body[i]) * 0x100000001b3ULL;
	if (type == 20)
		c->done = true;
	if (tls_parse_certificate13(copy, len, &cl, &ocsp, &ol) == 0) {
		FUZZ_CHECK(cl.n <= TLS_CHAIN_MAX && cl.n <= cl.total);
		for (uint32_t i = 0; i < cl.n; i++)
			fz_check_in(cl.der[i], cl.der_len[i], copy, len);
		if (ocsp)
			fz_check_in(ocsp, ol, copy, len);
		else
			FUZZ_CHECK(ol == 0);
	} else {
		FUZZ_CHECK(cl.n == 0 && !ocsp && ol == 0);
	}
	free(copy);
}

static void check_status(const struct tls13_flight *f, int rc)
{
	FUZZ_CHECK(rc == f->status);
	FUZZ_CHECK(rc >= TLS13_E_CRYPTO && rc <= TLS13_DONE);
	FUZZ_CHECK(rc == TLS13_OK || (f->error && *f->error) || rc == TLS13_DONE);
	FUZZ_CHECK(strcmp(tls13_strerror(rc), "unknown"));
}

/* Feeds stream[0..n) whole records at a time, then cut at two places;
 * both must see the same messages and end the same. */
static void run_flight(int si, const uint8_t *stream, size_t n, size_t cut0, size_t cut1)
{
	struct tls13_flight a, b;
	struct ctx ca = { 0 }, cb = { 0 };
	size_t off = 0, cuts[3] = { cut0, cut1, n }, at = 0;
	int ra, rb = 0, expect_b;

	FUZZ_CHECK(tls13_flight_init(&a, suites[si], secret, tls13_hash_len(suites[si])) == 0);
	FUZZ_CHECK(tls13_flight_init(&b, suites[si], secret, tls13_hash_len(suites[si])) == 0);
	ra = a.status;
	expect_b = TLS13_OK;
	while (off + 5 <= n && ra == TLS13_OK) {
		size_t len = (size_t)stream[off + 3] << 8 | stream[off + 4];
		uint8_t *rec;

		if (len > TLS13_RECORD_MAX) {
			expect_b = TLS13_E_LENGTH; /* refused on its header */
			break;
		}
		if (len > n - off - 5)
			break;			     /* not whole: both wait */
		rec = fz_dup(stream + off, 5 + len); /* exact size: ASan sees overreads */
		ra = tls13_flight_record(&a, rec, rec + 5, len, on_msg, &ca);
		free(rec);
		check_status(&a, ra);
		off += 5 + len;
	}
	if (ra != TLS13_OK)
		expect_b = ra;
	for (int i = 0; i < 3; i++) {
		size_t end = cuts[i] < at ? at : cuts[i] > n ? n : cuts[i];
		uint8_t *piece = fz_dup(stream + at, end - at);

		rb = tls13_flight_feed(&b, piece, end - at, on_msg, &cb);
		free(piece);
		check_status(&b, rb);
		at = end;
	}
	FUZZ_CHECK(rb == expect_b);
	FUZZ_CHECK(ca.msgs == cb.msgs && ca.log == cb.log);
	FUZZ_CHECK(a.records == b.records);
	if (ra == TLS13_DONE)
		FUZZ_CHECK(ca.done && a.records >= 1);
	tls13_flight_free(&a);
	tls13_flight_free(&b);
}

static void run_client(int si, const uint8_t *rec, size_t n)
{
	struct tls13_client_record cr;
	size_t len;
	int rc;

	if (n < 5)
		return;
	len = (size_t)rec[3] << 8 | rec[4];
	if (len > n - 5)
		return;
	rec = fz_dup(rec, 5 + len);
	rc = tls13_client_record(suites[si], secret, tls13_hash_len(suites[si]), rec, rec + 5, len,
				 &cr);
	FUZZ_CHECK(rc <= 0 && rc >= TLS13_E_CRYPTO);
	if (rc == 0 && !cr.encrypted)
		FUZZ_CHECK(rec[0] == 21 && cr.inner_type == 21 && len == 2);
	if (rc != 0 && rc != TLS13_E_MESSAGE) /* decrypted, but a bad alert */
		FUZZ_CHECK(!cr.encrypted);
	free((void *)rec);
}

/*
 * Input: mode, cut0 (2), cut1 (2), then either the raw stream (mode bit 3)
 * or record descriptions: kind (1), padding (1), length (2), content. Kind
 * 20 is a clear CCS, 21 with length 2 a clear alert, else the inner type
 * of a sealed record.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	uint8_t mode = fz_u8(&f);
	int si = (mode & 7) % 5;
	size_t cut0 = fz_u16(&f), cut1 = fz_u16(&f), n = 0;
	uint8_t *stream, *inner;
	struct tls13_keys k;

	if (mode & 8) {
		run_flight(si, f.p, f.n, cut0 % (f.n + 1), cut1 % (f.n + 1));
		run_client(si, f.p, f.n);
		return 0;
	}
	FUZZ_CHECK(tls13_traffic_keys(suites[si], secret, tls13_hash_len(suites[si]), &k) == 0);
	stream = malloc(4 * f.n + 64 * 32 + 64);
	inner = malloc(f.n + 256 + 1);
	FUZZ_CHECK(stream && inner);
	for (int r = 0; r < 64 && f.n > 0; r++) {
		uint8_t kind = fz_u8(&f), pad = fz_u8(&f);
		const uint8_t *content;
		size_t len = fz_take(&f, fz_u16(&f) % 4096, &content);

		if (kind == 20 || (kind == 21 && len == 2)) {
			stream[n] = kind;
			stream[n + 1] = 3;
			stream[n + 2] = 3;
			stream[n + 3] = (uint8_t)(len >> 8);
			stream[n + 4] = (uint8_t)len;
			memcpy(stream + n + 5, content, len);
			n += 5 + len;
			continue;
		}
		memcpy(inner, content, len);
		inner[len] = kind;
		memset(inner + len + 1, 0, pad);
		n += seal(&k, si, inner, len + 1 + pad, stream + n);
	}
	run_flight(si, stream, n, n ? cut0 % (n + 1) : 0, n ? cut1 % (n + 1) : 0);
	/* The first record as the client's, under the same secret. */
	run_client(si, stream, n);
	tls13_keys_wipe(&k);
	free(stream);
	free(inner);
	return 0;
}
