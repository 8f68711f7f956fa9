/* test_tls13.c - unit tests for TLS 1.3 decryption (user/tls13.c) and the TLS 1.3 Certificate
 * decoder: RFC 8448's published trace, then real OpenSSL handshakes made in memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/x509v3.h>

#include "keylog.h"
#include "tls.h"
#include "tls13.h"
#include "tls_handshake.h"

/* ---- helpers ------------------------------------------------------------------ */

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;

	for (; s[0] && s[1]; s += 2) {
		unsigned v;

		assert_true(n < cap);
		assert_int_equal(sscanf(s, "%2x", &v), 1);
		out[n++] = (uint8_t)v;
	}
	assert_int_equal(*s, 0);
	return n;
}

#define MSG_MAX 16

struct seen {
	unsigned n;
	uint8_t type[MSG_MAX];
	struct buf body[MSG_MAX];
};

static void on_msg(void *ctx, uint8_t type, const uint8_t *body, size_t len)
{
	struct seen *s = ctx;

	assert_true(s->n < MSG_MAX);
	s->type[s->n] = type;
	memset(&s->body[s->n], 0, sizeof(s->body[s->n]));
	buf_add(&s->body[s->n], body, len);
	s->n++;
}

static void seen_free(struct seen *s)
{
	for (unsigned i = 0; i < s->n; i++)
		free(s->body[i].d);
	memset(s, 0, sizeof(*s));
}

static const struct buf *seen_find(const struct seen *s, uint8_t type)
{
	for (unsigned i = 0; i < s->n; i++)
		if (s->type[i] == type)
			return &s->body[i];
	return NULL;
}

/*
 * Seals content as one TLS 1.3 record with OpenSSL's EVP directly (not
 * tls13.c): for records no peer would send (errors, padding) and for the
 * encrypted alert OpenSSL 3.0 clients do not send. Returns the record length.
 */
static size_t seal(struct tls13_keys *k, uint8_t type, const uint8_t *content, size_t n, size_t pad,
		   uint8_t *rec, size_t cap)
{
	const char *name = k->suite == TLS13_AES_128_GCM_SHA256	      ? "AES-128-GCM" :
			   k->suite == TLS13_AES_256_GCM_SHA384	      ? "AES-256-GCM" :
			   k->suite == TLS13_CHACHA20_POLY1305_SHA256 ? "ChaCha20-Poly1305" :
									"AES-128-CCM";
	bool ccm = k->suite == TLS13_AES_128_CCM_SHA256 || k->suite == TLS13_AES_128_CCM_8_SHA256;
	size_t inner = n + 1 + pad, len = inner + k->tag_len;
	EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, name, NULL);
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	uint8_t nonce[12], *p = malloc(inner);
	int out;

	assert_true(5 + len <= cap && len < 65536);
	assert_non_null(c);
	assert_non_null(x);
	assert_non_null(p);
	if (n)
		memcpy(p, content, n);
	p[n] = type;
	memset(p + n + 1, 0, pad);
	memcpy(nonce, k->iv, 12);
	for (int i = 0; i < 8; i++)
		nonce[11 - i] ^= (uint8_t)(k->seq >> (8 * i));
	rec[0] = TLS_CT_APPDATA;
	rec[1] = 3;
	rec[2] = 3;
	rec[3] = (uint8_t)(len >> 8);
	rec[4] = (uint8_t)len;
	assert_int_equal(EVP_EncryptInit_ex2(x, c, NULL, NULL, NULL), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL), 1);
	if (ccm)
		assert_int_equal(EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_TAG, k->tag_len, NULL),
				 1);
	assert_int_equal(EVP_EncryptInit_ex2(x, NULL, k->key, nonce, NULL), 1);
	if (ccm)
		assert_int_equal(EVP_EncryptUpdate(x, NULL, &out, NULL, (int)inner), 1);
	assert_int_equal(EVP_EncryptUpdate(x, NULL, &out, rec, 5), 1);
	assert_int_equal(EVP_EncryptUpdate(x, rec + 5, &out, p, (int)inner), 1);
	assert_int_equal(EVP_EncryptFinal_ex(x, rec + 5 + out, &out), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, k->tag_len, rec + 5 + inner),
			 1);
	k->seq++;
	EVP_CIPHER_CTX_free(x);
	EVP_CIPHER_free(c);
	free(p);
	return 5 + len;
}

/* ---- RFC 8448 section 3, "Simple 1-RTT Handshake" ------------------------------ */

static const char rfc_s_hs_secret[] =
	"b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38";
static const char rfc_c_hs_secret[] =
	"b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21";
static const char rfc_c_ap_secret[] =
	"9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5";

/* {server} send handshake record: complete record (679 octets). */
static const char rfc_server_flight[] =
	"17030302a2d1ff334a56f5bff6594a07cc87b580233f500f45e489e7f33af35e"
	"df7869fcf40aa40aa2b8ea73f848a7ca07612ef9f945cb960b4068905123ea78"
	"b111b429ba9191cd05d2a389280f526134aadc7fc78c4b729df828b5ecf7b13b"
	"d9aefb0e57f271585b8ea9bb355c7c79020716cfb9b1183ef3ab20e37d57a6b9"
	"d7477609aee6e122a4cf51427325250c7d0e509289444c9b3a648f1d71035d2e"
	"d65b0e3cdd0cbae8bf2d0b227812cbb360987255cc744110c453baa4fcd61092"
	"8d809810e4b7ed1a8fd991f06aa6248204797e36a6a73b70a2559c09ead68694"
	"5ba246ab66e5edd8044b4c6de3fcf2a89441ac66272fd8fb330ef8190579b368"
	"4596c960bd596eea520a56a8d650f563aad27409960dca63d3e688611ea5e22f"
	"4415cf9538d51a200c27034272968a264ed6540c84838d89f72c24461aad6d26"
	"f59ecaba9acbbb317b66d902f4f292a36ac1b639c637ce343117b65962224531"
	"7b49eeda0c6258f100d7d961ffb138647e92ea330faeea6dfa31c7a84dc3bd7e"
	"1b7a6c7178af36879018e3f252107f243d243dc7339d5684c8b0378bf30244da"
	"8c87c843f5e56eb4c5e8280a2b48052cf93b16499a66db7cca71e4599426f7d4"
	"61e66f99882bd89fc50800becca62d6c74116dbd2972fda1fa80f85df881edbe"
	"5a37668936b335583b599186dc5c6918a396fa48a181d6b6fa4f9d62d513afbb"
	"992f2b992f67f8afe67f76913fa388cb5630c8ca01e0c65d11c66a1e2ac4c859"
	"77b7c7a6999bbf10dc35ae69f5515614636c0b9b68c19ed2e31c0b3b66763038"
	"ebba42f3b38edc0399f3a9f23faa63978c317fc9fa66a73f60f0504de93b5b84"
	"5e275592c12335ee340bbc4fddd502784016e4b3be7ef04dda49f4b440a30cb5"
	"d2af939828fd4ae3794e44f94df5a631ede42c1719bfdabf0253fe5175be898e"
	"750edc53370d2b";

/* Its plaintext: EncryptedExtensions (40 octets), Certificate (445),
 * CertificateVerify (136), Finished (36), as the RFC lists them. */
static const char rfc_server_plain[] =
	"080000240022000a00140012001d00170018001901000101010201030104001c"
	"00024001000000000b0001b9000001b50001b0308201ac30820115a003020102"
	"020102300d06092a864886f70d01010b0500300e310c300a0603550403130372"
	"7361301e170d3136303733303031323335395a170d3236303733303031323335"
	"395a300e310c300a0603550403130372736130819f300d06092a864886f70d01"
	"0101050003818d0030818902818100b4bb498f8279303d980836399b36c6988c"
	"0c68de55e1bdb826d3901a2461eafd2de49a91d015abbc9a95137ace6c1af19e"
	"aa6af98c7ced43120998e187a80ee0ccb0524b1b018c3e0b63264d449a6d38e2"
	"2a5fda430846748030530ef0461c8ca9d9efbfae8ea6d1d03e2bd193eff0ab9a"
	"8002c47428a6d35a8d88d79f7f1e3f0203010001a31a301830090603551d1304"
	"023000300b0603551d0f0404030205a0300d06092a864886f70d01010b050003"
	"81810085aad2a0e5b9276b908c65f73a7267170618a54c5f8a7b337d2df7a594"
	"365417f2eae8f8a58c8f8172f9319cf36b7fd6c55b80f21a03015156726096fd"
	"335e5e67f2dbf102702e608ccae6bec1fc63a42a99be5c3eb7107c3c54e9b9eb"
	"2bd5203b1c3b84e0a8b2f759409ba3eac9d91d402dcc0cc8f8961229ac9187b4"
	"2b4de100000f000084080400805a747c5d88fa9bd2e55ab085a61015b7211f82"
	"4cd484145ab3ff52f1fda8477b0b7abc90db78e2d33a5c141a078653fa6bef78"
	"0c5ea248eeaaa785c4f394cab6d30bbe8d4859ee511f602957b15411ac027671"
	"459e46445c9ea58c181e818e95b8c3fb0bf3278409d3be152a3da5043e063dda"
	"65cdf5aea20d53dfacd42f74f3140000209b9b141d906337fbd2cbdce71df4de"
	"da4ab42c309572cb7fffee5454b78f0718";

/* {client} send handshake record (Finished), and the close_notify alert
 * it sends at the end under its application keys (sequence 1). */
static const char rfc_client_finished[] =
	"170303003575ec4dc238cce60b298044a71e219c56cc77b0517fe9b93c7a4bfc"
	"44d87f38f80338ac98fc46deb384bd1caeacab6867d726c40546";
static const char rfc_client_alert[] = "1703030013c9872760655666b74d7ff1153efd6db6d0b0e3";

static void test_rfc8448_keys(void **state)
{
	static const struct {
		const char *secret, *key, *iv;
	} v[] = {
		{ rfc_s_hs_secret, "3fce516009c21727d0f2e4e86ee403bc", "5d313eb2671276ee13000b30" },
		{ rfc_c_hs_secret, "dbfaa693d1762c5b666af5d950258d01", "5bd3c71b836e0b76bb73265f" },
		{ rfc_c_ap_secret, "17422dda596ed5d9acd890e3c63f5051", "5b78923dee08579033e523d9" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t secret[32], key[16], iv[12];
		struct tls13_keys k;

		unhex(v[i].secret, secret, sizeof(secret));
		unhex(v[i].key, key, sizeof(key));
		unhex(v[i].iv, iv, sizeof(iv));
		assert_int_equal(tls13_traffic_keys(TLS13_AES_128_GCM_SHA256, secret, 32, &k), 0);
		assert_int_equal(k.key_len, 16);
		assert_int_equal(k.tag_len, 16);
		assert_int_equal(k.seq, 0);
		assert_memory_equal(k.key, key, 16);
		assert_memory_equal(k.iv, iv, 12);
		tls13_keys_wipe(&k);
	}
}

static void test_rfc8448_server_flight(void **state)
{
	uint8_t secret[32], rec[700], plain[700], out[700], type;
	size_t rn, pn, n;
	struct tls13_keys k;

	(void)state;
	unhex(rfc_s_hs_secret, secret, sizeof(secret));
	rn = unhex(rfc_server_flight, rec, sizeof(rec));
	pn = unhex(rfc_server_plain, plain, sizeof(plain));
	assert_int_equal(rn, 679);
	assert_int_equal(pn, 657);
	assert_int_equal(tls13_traffic_keys(TLS13_AES_128_GCM_SHA256, secret, 32, &k), 0);
	assert_int_equal(tls13_open(&k, rec, rec + 5, rn - 5, out, sizeof(out), &n, &type), 0);
	assert_int_equal(type, TLS_CT_HANDSHAKE);
	assert_int_equal(n, pn);
	assert_memory_equal(out, plain, pn);
	assert_int_equal(k.seq, 1);
	/* The same record again is sequence 1 now: it must not open. */
	assert_int_equal(tls13_open(&k, rec, rec + 5, rn - 5, out, sizeof(out), &n, &type),
			 TLS13_E_AUTH);
	assert_int_equal(k.seq, 1);
	/* In place. */
	k.seq = 0;
	assert_int_equal(tls13_open(&k, rec, rec + 5, rn - 5, rec + 5, rn - 5, &n, &type), 0);
	assert_memory_equal(rec + 5, plain, pn);
}

/* The flight reader on the RFC's one record holding four messages, whole
 * and fed a byte at a time; its Certificate decoded. */
static void test_rfc8448_flight_reader(void **state)
{
	uint8_t secret[32], rec[700];
	size_t rn = unhex(rfc_server_flight, rec, sizeof(rec));

	(void)state;
	unhex(rfc_s_hs_secret, secret, sizeof(secret));
	for (int bytewise = 0; bytewise < 2; bytewise++) {
		static const uint8_t want[] = { 8, 11, 15, 20 };
		struct tls13_flight f;
		struct seen s = { 0 };
		struct tls_cert_list cl;
		const struct buf *cert;
		const uint8_t *ocsp;
		size_t ocsp_len;
		int rc = 0;

		assert_int_equal(tls13_flight_init(&f, TLS13_AES_128_GCM_SHA256, secret, 32), 0);
		if (bytewise)
			for (size_t i = 0; i < rn; i++)
				rc = tls13_flight_feed(&f, rec + i, 1, on_msg, &s);
		else
			rc = tls13_flight_record(&f, rec, rec + 5, rn - 5, on_msg, &s);
		assert_int_equal(rc, TLS13_DONE);
		assert_int_equal(f.records, 1);
		assert_int_equal(s.n, 4);
		assert_memory_equal(s.type, want, 4);
		assert_int_equal(s.body[0].len, 36);
		assert_int_equal(s.body[3].len, 32);
		cert = seen_find(&s, TLS_HS_CERTIFICATE);
		assert_non_null(cert);
		assert_int_equal(cert->len, 441);
		assert_int_equal(tls_parse_certificate13(cert->d, cert->len, &cl, &ocsp, &ocsp_len),
				 0);
		assert_int_equal(cl.n, 1);
		assert_int_equal(cl.total, 1);
		assert_int_equal(cl.der_len[0], 432);
		assert_memory_equal(cl.der[0], "\x30\x82\x01\xac\x30\x82\x01\x15", 8);
		assert_null(ocsp);
		assert_int_equal(ocsp_len, 0);
		/* The certificate as OpenSSL reads it: CN "rsa", the RFC's. */
		{
			const uint8_t *p = cl.der[0];
			X509 *x = d2i_X509(NULL, &p, cl.der_len[0]);
			char cn[16];

			assert_non_null(x);
			assert_int_equal(X509_NAME_get_text_by_NID(X509_get_subject_name(x),
								   NID_commonName, cn, sizeof(cn)),
					 3);
			assert_string_equal(cn, "rsa");
			X509_free(x);
		}
		/* Done: what follows is not for these keys and is not read. */
		assert_int_equal(tls13_flight_record(&f, rec, rec + 5, rn - 5, on_msg, &s),
				 TLS13_DONE);
		assert_int_equal(s.n, 4);
		seen_free(&s);
		tls13_flight_free(&f);
	}
}

static void test_rfc8448_client(void **state)
{
	uint8_t secret[32], rec[64], out[64], type;
	struct tls13_client_record cr;
	struct tls13_keys k;
	size_t rn, n;

	(void)state;
	unhex(rfc_c_hs_secret, secret, sizeof(secret));
	rn = unhex(rfc_client_finished, rec, sizeof(rec));
	assert_int_equal(rn, 58);
	assert_int_equal(tls13_client_record(TLS13_AES_128_GCM_SHA256, secret, 32, rec, rec + 5,
					     rn - 5, &cr),
			 0);
	assert_true(cr.encrypted);
	assert_int_equal(cr.inner_type, TLS_CT_HANDSHAKE);
	assert_int_equal(cr.hs_type, 20);
	/* Under the server's secret it does not open. */
	unhex(rfc_s_hs_secret, secret, sizeof(secret));
	assert_int_equal(tls13_client_record(TLS13_AES_128_GCM_SHA256, secret, 32, rec, rec + 5,
					     rn - 5, &cr),
			 TLS13_E_AUTH);
	assert_false(cr.encrypted);

	/* The published encrypted alert: 19 bytes, close_notify. */
	unhex(rfc_c_ap_secret, secret, sizeof(secret));
	rn = unhex(rfc_client_alert, rec, sizeof(rec));
	assert_int_equal(rn - 5, 19);
	assert_int_equal(tls13_traffic_keys(TLS13_AES_128_GCM_SHA256, secret, 32, &k), 0);
	k.seq = 1;
	assert_int_equal(tls13_open(&k, rec, rec + 5, rn - 5, out, sizeof(out), &n, &type), 0);
	assert_int_equal(type, TLS_CT_ALERT);
	assert_int_equal(n, 2);
	assert_memory_equal(out, "\x01\x00", 2);
}

/* ---- tls13_open's refusals -------------------------------------------------------- */

static void test_open_errors(void **state)
{
	uint8_t secret[48] = { 1 }, rec[256], out[256], type;
	struct tls13_keys k, s;
	size_t rn, n;

	(void)state;
	assert_int_equal(tls13_traffic_keys(0x1306, secret, 32, &k), TLS13_E_SUITE);
	assert_int_equal(tls13_traffic_keys(0xC02F, secret, 32, &k), TLS13_E_SUITE);
	assert_int_equal(tls13_traffic_keys(TLS13_AES_256_GCM_SHA384, secret, 32, &k),
			 TLS13_E_SECRET);
	assert_int_equal(tls13_traffic_keys(TLS13_AES_128_GCM_SHA256, secret, 48, &k),
			 TLS13_E_SECRET);
	assert_int_equal(tls13_traffic_keys(TLS13_AES_128_GCM_SHA256, NULL, 32, &k),
			 TLS13_E_SECRET);
	assert_int_equal(tls13_hash_len(TLS13_AES_128_GCM_SHA256), 32);
	assert_int_equal(tls13_hash_len(TLS13_AES_256_GCM_SHA384), 48);
	assert_int_equal(tls13_hash_len(TLS13_CHACHA20_POLY1305_SHA256), 32);
	assert_int_equal(tls13_hash_len(TLS13_AES_128_CCM_8_SHA256), 32);
	assert_int_equal(tls13_hash_len(0x1300), 0);
	for (int st = TLS13_E_CRYPTO; st <= TLS13_DONE; st++)
		assert_string_not_equal(tls13_strerror(st), "unknown");
	assert_string_equal(tls13_strerror(42), "unknown");

	assert_int_equal(tls13_traffic_keys(TLS13_AES_128_GCM_SHA256, secret, 32, &k), 0);
	s = k;
	rn = seal(&s, TLS_CT_HANDSHAKE, (const uint8_t *)"\x14\x00\x00\x00", 4, 3, rec,
		  sizeof(rec));
	/* padding stripped */
	assert_int_equal(tls13_open(&k, rec, rec + 5, rn - 5, out, sizeof(out), &n, &type), 0);
	assert_int_equal(n, 4);
	assert_int_equal(type, TLS_CT_HANDSHAKE);
	k.seq = 0;
	/* too small an output */
	assert_int_equal(tls13_open(&k, rec, rec + 5, rn - 5, out, rn - 5 - 17, &n, &type),
			 TLS13_E_LENGTH);
	/* header: another type, a length that is not the body's */
	rec[0] = TLS_CT_HANDSHAKE;
	assert_int_equal(tls13_open(&k, rec, rec + 5, rn - 5, out, sizeof(out), &n, &type),
			 TLS13_E_RECORD);
	rec[0] = TLS_CT_APPDATA;
	assert_int_equal(tls13_open(&k, rec, rec + 5, rn - 6, out, sizeof(out), &n, &type),
			 TLS13_E_RECORD);
	/* one flipped bit anywhere: header (AAD), body, tag */
	for (size_t i = 0; i < rn; i++) {
		if (i == 0 || i == 3 || i == 4)
			continue; /* refused before decryption, above */
		rec[i] ^= 0x20;
		memset(out, 0x55, sizeof(out));
		assert_int_equal(tls13_open(&k, rec, rec + 5, rn - 5, out, sizeof(out), &n, &type),
				 TLS13_E_AUTH);
		for (size_t j = 0; j < rn - 5 - 16; j++)
			assert_int_equal(out[j], 0); /* nothing unauthenticated left */
		assert_int_equal(k.seq, 0);
		assert_int_equal(n, 0);
		rec[i] ^= 0x20;
	}
	/* shorter than the tag plus a type byte; longer than 2^14 + 256 */
	rec[3] = 0;
	rec[4] = 16;
	assert_int_equal(tls13_open(&k, rec, rec + 5, 16, out, sizeof(out), &n, &type),
			 TLS13_E_LENGTH);
	rec[3] = (TLS13_RECORD_MAX + 1) >> 8;
	rec[4] = (uint8_t)(TLS13_RECORD_MAX + 1);
	assert_int_equal(tls13_open(&k, rec, rec + 5, TLS13_RECORD_MAX + 1, out, sizeof(out), &n,
				    &type),
			 TLS13_E_LENGTH);
	/* only padding: no content type */
	s = k;
	rn = seal(&s, 0, NULL, 0, 5, rec, sizeof(rec));
	assert_int_equal(tls13_open(&k, rec, rec + 5, rn - 5, out, sizeof(out), &n, &type),
			 TLS13_E_EMPTY);
	tls13_keys_wipe(&k);
	for (size_t i = 0; i < sizeof(k); i++)
		assert_int_equal(((uint8_t *)&k)[i], 0);
}

/* ---- the flight reader's refusals (records sealed here) ---------------------------- */

struct crafted {
	uint8_t d[4096];
	size_t len;
};

static void add_rec(struct crafted *c, struct tls13_keys *k, uint8_t type, const void *p, size_t n)
{
	c->len += seal(k, type, p, n, 0, c->d + c->len, sizeof(c->d) - c->len);
}

static int run_crafted(const struct crafted *c, const uint8_t *secret, struct seen *s,
		       struct tls13_flight *f)
{
	assert_int_equal(tls13_flight_init(f, TLS13_AES_128_GCM_SHA256, secret, 32), 0);
	return tls13_flight_feed(f, c->d, c->len, on_msg, s);
}

static void test_flight_errors(void **state)
{
	static const uint8_t ee[] = { 8, 0, 0, 2, 0, 0 };
	static const uint8_t cert[] = { 11, 0, 0, 4, 0, 0, 0, 0 };
	static const uint8_t fin[] = { 20, 0, 0, 4, 1, 2, 3, 4 };
	uint8_t secret[32] = { 7 }, other[32] = { 8 };
	struct tls13_keys k0, k;
	struct tls13_flight f;
	struct seen s = { 0 };
	struct crafted c;

	(void)state;
	assert_int_equal(tls13_traffic_keys(TLS13_AES_128_GCM_SHA256, secret, 32, &k0), 0);

	/* a valid flight in one message per record, a CCS among them */
	memset(&c, 0, sizeof(c));
	k = k0;
	memcpy(c.d, "\x14\x03\x03\x00\x01\x01", 6);
	c.len = 6;
	add_rec(&c, &k, TLS_CT_HANDSHAKE, ee, sizeof(ee));
	add_rec(&c, &k, TLS_CT_HANDSHAKE, cert, sizeof(cert));
	add_rec(&c, &k, TLS_CT_HANDSHAKE, fin, sizeof(fin));
	assert_int_equal(run_crafted(&c, secret, &s, &f), TLS13_DONE);
	assert_int_equal(s.n, 3);
	assert_int_equal(f.records, 3);
	seen_free(&s);
	tls13_flight_free(&f);

	/* the wrong secret: nothing */
	assert_int_equal(tls13_flight_init(&f, TLS13_AES_128_GCM_SHA256, other, 32), 0);
	assert_int_equal(tls13_flight_feed(&f, c.d, c.len, on_msg, &s), TLS13_E_AUTH);
	assert_int_equal(s.n, 0);
	assert_non_null(f.error);
	tls13_flight_free(&f);

	/* Certificate before EncryptedExtensions */
	memset(&c, 0, sizeof(c));
	k = k0;
	add_rec(&c, &k, TLS_CT_HANDSHAKE, cert, sizeof(cert));
	assert_int_equal(run_crafted(&c, secret, &s, &f), TLS13_E_MESSAGE);
	assert_int_equal(s.n, 0);
	tls13_flight_free(&f);

	/* a second Certificate; a ServerHello inside */
	for (int i = 0; i < 2; i++) {
		static const uint8_t sh[] = { 2, 0, 0, 1, 0 };

		memset(&c, 0, sizeof(c));
		k = k0;
		add_rec(&c, &k, TLS_CT_HANDSHAKE, ee, sizeof(ee));
		add_rec(&c, &k, TLS_CT_HANDSHAKE, cert, sizeof(cert));
		add_rec(&c, &k, TLS_CT_HANDSHAKE, i ? sh : cert, i ? sizeof(sh) : sizeof(cert));
		assert_int_equal(run_crafted(&c, secret, &s, &f), TLS13_E_MESSAGE);
		assert_int_equal(s.n, 2); /* what came before stays delivered */
		seen_free(&s);
		tls13_flight_free(&f);
	}

	/* data after Finished in its record: a whole message, then a part */
	for (int part = 0; part < 2; part++) {
		uint8_t both[16];

		memcpy(both, fin, sizeof(fin));
		memcpy(both + 8, fin, sizeof(fin));
		memset(&c, 0, sizeof(c));
		k = k0;
		add_rec(&c, &k, TLS_CT_HANDSHAKE, ee, sizeof(ee));
		add_rec(&c, &k, TLS_CT_HANDSHAKE, both, part ? 10 : 16);
		assert_int_equal(run_crafted(&c, secret, &s, &f), TLS13_E_MESSAGE);
		assert_int_equal(s.n, 2);
		assert_string_equal(f.error, "handshake data after Finished");
		seen_free(&s);
		tls13_flight_free(&f);
	}

	/* an encrypted alert; application data before Finished; an empty
	 * handshake record; an alert in the clear */
	memset(&c, 0, sizeof(c));
	k = k0;
	add_rec(&c, &k, TLS_CT_HANDSHAKE, ee, sizeof(ee));
	add_rec(&c, &k, TLS_CT_ALERT, "\x02\x50", 2);
	assert_int_equal(run_crafted(&c, secret, &s, &f), TLS13_E_ALERT);
	assert_int_equal(f.alert_level, 2);
	assert_int_equal(f.alert_desc, 80);
	seen_free(&s);
	tls13_flight_free(&f);
	memset(&c, 0, sizeof(c));
	k = k0;
	add_rec(&c, &k, TLS_CT_APPDATA, "GET /", 5);
	assert_int_equal(run_crafted(&c, secret, &s, &f), TLS13_E_MESSAGE);
	tls13_flight_free(&f);
	memset(&c, 0, sizeof(c));
	k = k0;
	add_rec(&c, &k, TLS_CT_HANDSHAKE, NULL, 0);
	assert_int_equal(run_crafted(&c, secret, &s, &f), TLS13_E_MESSAGE);
	tls13_flight_free(&f);
	memset(&c, 0, sizeof(c));
	memcpy(c.d, "\x15\x03\x03\x00\x02\x02\x28", 7);
	c.len = 7;
	assert_int_equal(run_crafted(&c, secret, &s, &f), TLS13_E_ALERT);
	assert_int_equal(f.alert_desc, 40);
	tls13_flight_free(&f);

	/* a record header announcing more than a record may hold */
	memset(&c, 0, sizeof(c));
	memcpy(c.d, "\x17\x03\x03\x41\x01", 5);
	c.len = 5;
	assert_int_equal(run_crafted(&c, secret, &s, &f), TLS13_E_LENGTH);
	tls13_flight_free(&f);

	/* a message spanning records, cut into 1-byte records */
	memset(&c, 0, sizeof(c));
	k = k0;
	add_rec(&c, &k, TLS_CT_HANDSHAKE, ee, sizeof(ee));
	for (size_t i = 0; i < sizeof(fin); i++)
		add_rec(&c, &k, TLS_CT_HANDSHAKE, fin + i, 1);
	assert_int_equal(run_crafted(&c, secret, &s, &f), TLS13_DONE);
	assert_int_equal(s.n, 2);
	assert_int_equal(f.records, 9);
	assert_memory_equal(s.body[1].d, fin + 4, 4);
	seen_free(&s);
	tls13_flight_free(&f);

	/* a failed init stays failed */
	assert_int_equal(tls13_flight_init(&f, 0x00ff, secret, 32), TLS13_E_SUITE);
	assert_int_equal(tls13_flight_feed(&f, c.d, c.len, on_msg, &s), TLS13_E_SUITE);
	assert_int_equal(s.n, 0);
	tls13_flight_free(&f);
	tls13_keys_wipe(&k0);
	tls13_keys_wipe(&k);
}

/* ---- the TLS 1.3 Certificate decoder ------------------------------------------------ */

static size_t entry(uint8_t *p, const uint8_t *der, size_t n, const uint8_t *ext, size_t en)
{
	size_t o = 0;

	p[o++] = (uint8_t)(n >> 16);
	p[o++] = (uint8_t)(n >> 8);
	p[o++] = (uint8_t)n;
	if (n)
		memcpy(p + o, der, n);
	o += n;
	p[o++] = (uint8_t)(en >> 8);
	p[o++] = (uint8_t)en;
	if (en)
		memcpy(p + o, ext, en);
	return o + en;
}

/* context, list<3> of the entries in e[0..n) */
static size_t cert_msg(uint8_t *p, const uint8_t *ctx, size_t cn, const uint8_t *e, size_t n)
{
	size_t o = 0;

	p[o++] = (uint8_t)cn;
	if (cn)
		memcpy(p + o, ctx, cn);
	o += cn;
	p[o++] = (uint8_t)(n >> 16);
	p[o++] = (uint8_t)(n >> 8);
	p[o++] = (uint8_t)n;
	if (n)
		memcpy(p + o, e, n);
	return o + n;
}

static void test_certificate13_shapes(void **state)
{
	static const uint8_t der_a[] = { 0x30, 0x03, 1, 2, 3 }, der_b[] = { 0x30, 0x01, 9 };
	/* status_request: CertificateStatus ocsp(1), OCSPResponse<3> "RSP" */
	static const uint8_t staple[] = { 0, 5, 0, 7, 1, 0, 0, 3, 'R', 'S', 'P' };
	static const uint8_t sct[] = { 0, 18, 0, 2, 0xAA, 0xBB };
	uint8_t e[8192], m[8200];
	struct tls_cert_list cl;
	const uint8_t *ocsp;
	size_t en, mn, ol;

	(void)state;
	/* leaf with a staple and an SCT, intermediate with a staple (ignored) */
	{
		uint8_t ext[32];

		memcpy(ext, staple, sizeof(staple));
		memcpy(ext + sizeof(staple), sct, sizeof(sct));
		en = entry(e, der_a, sizeof(der_a), ext, sizeof(staple) + sizeof(sct));
		memcpy(ext, "\x00\x05\x00\x07\x01\x00\x00\x03XYZ", 11);
		en += entry(e + en, der_b, sizeof(der_b), ext, 11);
	}
	mn = cert_msg(m, NULL, 0, e, en);
	assert_int_equal(tls_parse_certificate13(m, mn, &cl, &ocsp, &ol), 0);
	assert_int_equal(cl.n, 2);
	assert_int_equal(cl.total, 2);
	assert_int_equal(cl.der_len[0], sizeof(der_a));
	assert_memory_equal(cl.der[0], der_a, sizeof(der_a));
	assert_memory_equal(cl.der[1], der_b, sizeof(der_b));
	assert_int_equal(ol, 3);
	assert_memory_equal(ocsp, "RSP", 3);
	/* a client's, with a request context */
	mn = cert_msg(m, (const uint8_t *)"ctx", 3, e, en);
	assert_int_equal(tls_parse_certificate13(m, mn, &cl, &ocsp, &ol), 0);
	assert_int_equal(cl.n, 2);
	/* empty list: valid (a client without a certificate) */
	mn = cert_msg(m, NULL, 0, NULL, 0);
	assert_int_equal(tls_parse_certificate13(m, mn, &cl, &ocsp, &ol), 0);
	assert_int_equal(cl.n, 0);
	assert_null(ocsp);
	/* more entries than kept */
	en = 0;
	for (int i = 0; i < TLS_CHAIN_MAX + 3; i++)
		en += entry(e + en, der_b, sizeof(der_b), NULL, 0);
	mn = cert_msg(m, NULL, 0, e, en);
	assert_int_equal(tls_parse_certificate13(m, mn, &cl, &ocsp, &ol), 0);
	assert_int_equal(cl.n, TLS_CHAIN_MAX);
	assert_int_equal(cl.total, TLS_CHAIN_MAX + 3);

	/* malformed: each must fail and leave nothing behind */
	{
		struct {
			const uint8_t *ext;
			size_t en;
			const uint8_t *der;
			size_t dn;
		} bad[] = {
			{ (const uint8_t *)"\x00\x05\x00\x07\x01\x00\x00\x03RS", 10, der_a, 5 },
			{ (const uint8_t *)"\x00\x05\x00\x04\x02\x00\x00\x00", 8, der_a, 5 },
			{ (const uint8_t *)"\x00\x12\x00\x00\x00\x12\x00\x00", 8, der_a, 5 },
			{ (const uint8_t *)"\x00\x12\x00", 3, der_a, 5 },
			{ NULL, 0, der_a, 0 },
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			en = entry(e, bad[i].der, bad[i].dn, bad[i].ext, bad[i].en);
			mn = cert_msg(m, NULL, 0, e, en);
			assert_int_equal(tls_parse_certificate13(m, mn, &cl, &ocsp, &ol), -1);
			assert_int_equal(cl.n, 0);
			assert_null(ocsp);
			assert_int_equal(ol, 0);
		}
	}
	/* 17 distinct extension types in an entry: more than kept track of */
	{
		uint8_t ext[17 * 4];

		for (int i = 0; i < 17; i++)
			memcpy(ext + 4 * i, (uint8_t[]){ 0, (uint8_t)(100 + i), 0, 0 }, 4);
		en = entry(e, der_a, sizeof(der_a), ext, sizeof(ext));
		mn = cert_msg(m, NULL, 0, e, en);
		assert_int_equal(tls_parse_certificate13(m, mn, &cl, &ocsp, &ol), -1);
	}
	/* every truncation of a good message, and a byte too many */
	en = entry(e, der_a, sizeof(der_a), staple, sizeof(staple));
	mn = cert_msg(m, NULL, 0, e, en);
	for (size_t cut = 0; cut < mn; cut++) {
		uint8_t *copy = malloc(cut ? cut : 1);

		memcpy(copy, m, cut);
		assert_int_equal(tls_parse_certificate13(copy, cut, &cl, &ocsp, &ol), -1);
		free(copy);
	}
	m[mn] = 0;
	assert_int_equal(tls_parse_certificate13(m, mn + 1, &cl, &ocsp, &ol), -1);
	/* the TLS 1.2 decoder does not take it (and the other way round) */
	assert_int_equal(tls_parse_certificate(m, mn, &cl), -1);
}

/* ---- real handshakes ------------------------------------------------------------------ */

static const struct {
	const char *name;
	uint16_t id;
	size_t finished_rec; /* the client's Finished record, ciphertext bytes */
	size_t alert_rec;    /* an encrypted alert's */
} suites[] = {
	{ "TLS_AES_128_GCM_SHA256", TLS13_AES_128_GCM_SHA256, 53, 19 },
	{ "TLS_AES_256_GCM_SHA384", TLS13_AES_256_GCM_SHA384, 69, 19 },
	{ "TLS_CHACHA20_POLY1305_SHA256", TLS13_CHACHA20_POLY1305_SHA256, 53, 19 },
	{ "TLS_AES_128_CCM_SHA256", TLS13_AES_128_CCM_SHA256, 53, 19 },
	{ "TLS_AES_128_CCM_8_SHA256", TLS13_AES_128_CCM_8_SHA256, 45, 11 },
};
#define NSUITES (sizeof(suites) / sizeof(suites[0]))

static uint8_t staple_der[300];

/* The record at *off of a stream; false at its end. */
static bool next_rec(const struct buf *b, size_t *off, const uint8_t **rec, size_t *body)
{
	if (*off + 5 > b->len)
		return false;
	*rec = b->d + *off;
	*body = (size_t)(*rec)[3] << 8 | (*rec)[4];
	assert_true(*off + 5 + *body <= b->len);
	*off += 5 + *body;
	return true;
}

/* Offset just past the last clear hello (ServerHello; the second after an HRR). */
static size_t after_hello(const struct buf *b)
{
	size_t off = 0, end = 0, body;
	const uint8_t *rec;

	while (next_rec(b, &off, &rec, &body))
		if (rec[0] == TLS_CT_HANDSHAKE)
			end = off;
	assert_true(end > 0);
	return end;
}

/* The client's key log read the way certsentry will: lines into a store,
 * joined by the client_random of the ClientHello on the wire. */
static struct keylog *keylog_of(const struct flight *f, uint8_t random[32])
{
	struct keylog *k = keylog_new(NULL);
	const char *p = (const char *)f->keylog.d, *end = p + f->keylog.len;

	assert_non_null(k);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		assert_non_null(nl);
		assert_int_equal(keylog_add_line(k, p, (size_t)(nl - p), 1), KEYLOG_ADDED);
		p = nl + 1;
	}
	/* record header 5, handshake header 4, legacy_version 2 */
	assert_true(f->c2s.len > 11 + 32 && f->c2s.d[5] == TLS_HS_CLIENT_HELLO);
	memcpy(random, f->c2s.d + 11, 32);
	return k;
}

static const uint8_t *secret_of(struct keylog *k, const uint8_t *random, enum keylog_label l,
				size_t want)
{
	size_t len;
	const uint8_t *s = keylog_find(k, random, l, &len);

	assert_non_null(s);
	assert_int_equal(len, want);
	return s;
}

/* Decrypts the server's flight and checks the chain and staple it carries. */
static void check_server_flight(const struct flight *f, uint16_t suite, bool stapled,
				const uint8_t *leaf, size_t leaf_len, unsigned *nrecords)
{
	uint8_t random[32];
	struct keylog *k = keylog_of(f, random);
	const uint8_t *secret =
		secret_of(k, random, KEYLOG_SERVER_HANDSHAKE_TRAFFIC_SECRET, tls13_hash_len(suite));
	size_t off = after_hello(&f->s2c), body;
	struct tls13_flight fl;
	struct seen s = { 0 };
	struct tls_cert_list cl;
	const struct buf *cert;
	const uint8_t *rec, *ocsp;
	size_t ol;
	int rc = TLS13_OK;

	assert_int_equal(tls13_flight_init(&fl, suite, secret, tls13_hash_len(suite)), 0);
	while (rc == TLS13_OK && next_rec(&f->s2c, &off, &rec, &body))
		rc = tls13_flight_record(&fl, rec, rec + 5, body, on_msg, &s);
	assert_int_equal(rc, TLS13_DONE);
	assert_int_equal(s.type[0], 8);
	assert_int_equal(s.type[s.n - 1], 20);
	assert_non_null(seen_find(&s, 15));
	cert = seen_find(&s, TLS_HS_CERTIFICATE);
	assert_non_null(cert);
	assert_int_equal(tls_parse_certificate13(cert->d, cert->len, &cl, &ocsp, &ol), 0);
	assert_int_equal(cl.n, 2);
	assert_int_equal(cl.total, 2);
	assert_int_equal(cl.der_len[0], leaf_len);
	assert_memory_equal(cl.der[0], leaf, leaf_len);
	assert_int_equal(cl.der_len[1], pki.ca_der_len);
	assert_memory_equal(cl.der[1], pki.ca_der, pki.ca_der_len);
	if (stapled) {
		assert_int_equal(ol, sizeof(staple_der));
		assert_memory_equal(ocsp, staple_der, sizeof(staple_der));
	} else {
		assert_null(ocsp);
	}
	if (nrecords)
		*nrecords = fl.records;
	/* The same bytes as a stream cut into 7-byte pieces: the same messages. */
	{
		struct tls13_flight g;
		struct seen t = { 0 };
		size_t start = after_hello(&f->s2c);

		assert_int_equal(tls13_flight_init(&g, suite, secret, tls13_hash_len(suite)), 0);
		for (size_t o = start; o < f->s2c.len && rc == TLS13_DONE; o += 7) {
			size_t n = f->s2c.len - o < 7 ? f->s2c.len - o : 7;

			if (tls13_flight_feed(&g, f->s2c.d + o, n, on_msg, &t) != TLS13_OK)
				break;
		}
		assert_int_equal(g.status, TLS13_DONE);
		assert_int_equal(t.n, s.n);
		for (unsigned i = 0; i < s.n; i++) {
			assert_int_equal(t.type[i], s.type[i]);
			assert_int_equal(t.body[i].len, s.body[i].len);
			assert_memory_equal(t.body[i].d, s.body[i].d, s.body[i].len);
		}
		seen_free(&t);
		tls13_flight_free(&g);
	}
	keylog_forget(k, random);
	assert_null(keylog_find(k, random, KEYLOG_SERVER_HANDSHAKE_TRAFFIC_SECRET, &ol));
	seen_free(&s);
	tls13_flight_free(&fl);
	keylog_free(k);
}

/* The client's first record after the server's flight (its CCS skipped). */
static const uint8_t *client_first(const struct flight *f, size_t *body)
{
	size_t off = after_hello(&f->c2s);
	const uint8_t *rec;

	while (next_rec(&f->c2s, &off, &rec, body))
		if (rec[0] != TLS_CT_CCS)
			return rec;
	return NULL;
}

static void test_suites_chain_and_staple(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(staple_der); i++)
		staple_der[i] = (uint8_t)(i * 7 + 3);
	for (size_t i = 0; i < NSUITES; i++) {
		struct hs_opts o = {
			.max_version = TLS1_3_VERSION,
			.ciphersuites = suites[i].name,
			.ocsp = staple_der,
			.ocsp_len = sizeof(staple_der),
		};
		struct flight f;
		struct tls13_client_record cr;
		uint8_t random[32];
		struct keylog *k;
		const uint8_t *rec;
		size_t body;

		print_message("%s\n", suites[i].name);
		run_handshake(&o, &f);
		check_server_flight(&f, suites[i].id, true, pki.leaf_der, pki.leaf_der_len, NULL);
		/* The client accepted: its first record is its Finished. */
		k = keylog_of(&f, random);
		rec = client_first(&f, &body);
		assert_non_null(rec);
		assert_int_equal(body, suites[i].finished_rec);
		assert_int_equal(
			tls13_client_record(suites[i].id,
					    secret_of(k, random,
						      KEYLOG_CLIENT_HANDSHAKE_TRAFFIC_SECRET,
						      tls13_hash_len(suites[i].id)),
					    tls13_hash_len(suites[i].id), rec, rec + 5, body, &cr),
			0);
		assert_true(cr.encrypted);
		assert_int_equal(cr.inner_type, TLS_CT_HANDSHAKE);
		assert_int_equal(cr.hs_type, 20);
		keylog_free(k);
		flight_free(&f);
	}
}

/* Small records: the Certificate spans many of them. */
static void test_spanning_records(void **state)
{
	struct hs_opts o = {
		.max_version = TLS1_3_VERSION,
		.ciphersuites = "TLS_AES_256_GCM_SHA384",
		.max_fragment = 512,
	};
	struct flight f;
	unsigned records;

	(void)state;
	run_handshake(&o, &f);
	check_server_flight(&f, TLS13_AES_256_GCM_SHA384, false, pki.leaf_der, pki.leaf_der_len,
			    &records);
	assert_true(records > (unsigned)(pki.leaf_der_len + pki.ca_der_len) / 512);
	flight_free(&f);
}

/* A leaf too big for one record (many names): its message spans records
 * at OpenSSL's default record size. */
static void test_big_certificate(void **state)
{
	struct hs_opts o = {
		.max_version = TLS1_3_VERSION,
		.ciphersuites = "TLS_CHACHA20_POLY1305_SHA256",
	};
	char *san = malloc(64 * 1024);
	X509 *leaf;
	uint8_t *der = NULL;
	size_t n = 0;
	unsigned records;
	int der_len;
	struct flight f;

	(void)state;
	assert_non_null(san);
	for (int i = 0; i < 900; i++)
		n += (size_t)sprintf(san + n, "%sDNS:host%04d.big.example.test", i ? "," : "", i);
	leaf = make_cert_san(pki.leaf_key, pki.ca_key, pki.ca, "big.example.test", 9, san);
	o.leaf = leaf;
	der_len = i2d_X509(leaf, &der);
	assert_true(der_len > 20000);
	run_handshake(&o, &f);
	check_server_flight(&f, TLS13_CHACHA20_POLY1305_SHA256, false, der, (size_t)der_len,
			    &records);
	assert_true(records >= 5); /* EE, 2+ for Certificate, CV, Finished */
	flight_free(&f);
	OPENSSL_free(der);
	X509_free(leaf);
	free(san);
}

/* HelloRetryRequest: same client_random, the flight after the second ServerHello. */
static void test_hello_retry(void **state)
{
	static const struct hs_opts o = {
		.max_version = TLS1_3_VERSION,
		.ciphersuites = "TLS_AES_128_GCM_SHA256",
		.client_groups = "P-256:X25519",
		.server_groups = "X25519",
	};
	struct flight f;
	size_t off = 0, body, hellos = 0;
	const uint8_t *rec;

	(void)state;
	run_handshake(&o, &f);
	while (next_rec(&f.s2c, &off, &rec, &body))
		hellos += rec[0] == TLS_CT_HANDSHAKE;
	assert_int_equal(hellos, 2); /* HRR, ServerHello */
	check_server_flight(&f, TLS13_AES_128_GCM_SHA256, false, pki.leaf_der, pki.leaf_der_len,
			    NULL);
	flight_free(&f);
}

static int refuse(int ok, X509_STORE_CTX *ctx)
{
	(void)ok;
	X509_STORE_CTX_set_error(ctx, X509_V_ERR_CERT_REVOKED);
	return 0;
}

/*
 * A client that refuses the chain. OpenSSL 3.0 (checked in memory here,
 * with and without middlebox compatibility) sends that alert in the clear:
 * its write keys change only when it writes its first encrypted message
 * (openssl issue 27809, "not a bug"). Clients that switch at ServerHello
 * (Go's crypto/tls) send it encrypted: 2 + 1 + tag bytes. Both are read
 * here; the encrypted one is sealed under the real handshake's secret.
 */
static void test_client_refuses(void **state)
{
	(void)state;
	for (size_t i = 0; i < NSUITES; i++) {
		for (int compat = 0; compat < 2; compat++) {
			struct hs_opts o = {
				.max_version = TLS1_3_VERSION,
				.ciphersuites = suites[i].name,
				.verify = refuse,
				.no_middlebox_compat = !compat,
			};
			size_t hl = tls13_hash_len(suites[i].id), body;
			struct tls13_client_record cr;
			struct tls13_keys k;
			struct keylog *kl;
			const uint8_t *rec, *secret;
			uint8_t random[32], sealed[64];
			struct flight f;

			assert_false(run_handshake(&o, &f));
			assert_int_equal(f.c_alert, SSL_AD_CERTIFICATE_REVOKED);
			kl = keylog_of(&f, random);
			secret = secret_of(kl, random, KEYLOG_CLIENT_HANDSHAKE_TRAFFIC_SECRET, hl);
			rec = client_first(&f, &body);
			assert_non_null(rec);
			assert_int_equal(tls13_client_record(suites[i].id, secret, hl, rec, rec + 5,
							     body, &cr),
					 0);
			if (!cr.encrypted)
				assert_int_equal(body, 2);
			else
				assert_int_equal(body, suites[i].alert_rec);
			print_message("%s, middlebox compat %s: the refusal alert is %s\n",
				      suites[i].name, compat ? "on" : "off",
				      cr.encrypted ? "encrypted" : "in the clear");
			assert_int_equal(cr.inner_type, TLS_CT_ALERT);
			assert_int_equal(cr.alert_level, 2);
			assert_int_equal(cr.alert_desc, 44);
			assert_string_equal(tls_alert_name(cr.alert_desc), "certificate_revoked");
			/* The same alert encrypted, as a client with early write keys sends it. */
			assert_int_equal(tls13_traffic_keys(suites[i].id, secret, hl, &k), 0);
			body = seal(&k, TLS_CT_ALERT, (const uint8_t *)"\x02\x2a", 2, 0, sealed,
				    sizeof(sealed)) -
			       5;
			assert_int_equal(body, suites[i].alert_rec);
			assert_int_equal(tls13_client_record(suites[i].id, secret, hl, sealed,
							     sealed + 5, body, &cr),
					 0);
			assert_true(cr.encrypted);
			assert_int_equal(cr.inner_type, TLS_CT_ALERT);
			assert_int_equal(cr.alert_level, 2);
			assert_int_equal(cr.alert_desc, 42);
			/* Its secret is not the server's. */
			secret = secret_of(kl, random, KEYLOG_SERVER_HANDSHAKE_TRAFFIC_SECRET, hl);
			assert_int_equal(tls13_client_record(suites[i].id, secret, hl, sealed,
							     sealed + 5, body, &cr),
					 TLS13_E_AUTH);
			/* An alert of the wrong size. */
			k.seq = 0;
			body = seal(&k, TLS_CT_ALERT, (const uint8_t *)"\x02\x2a\x00\x01", 4, 0,
				    sealed, sizeof(sealed)) -
			       5;
			secret = secret_of(kl, random, KEYLOG_CLIENT_HANDSHAKE_TRAFFIC_SECRET, hl);
			assert_int_equal(tls13_client_record(suites[i].id, secret, hl, sealed,
							     sealed + 5, body, &cr),
					 TLS13_E_MESSAGE);
			tls13_keys_wipe(&k);
			keylog_free(kl);
			flight_free(&f);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc8448_keys),
		cmocka_unit_test(test_rfc8448_server_flight),
		cmocka_unit_test(test_rfc8448_flight_reader),
		cmocka_unit_test(test_rfc8448_client),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_flight_errors),
		cmocka_unit_test(test_certificate13_shapes),
		cmocka_unit_test(test_suites_chain_and_staple),
		cmocka_unit_test(test_spanning_records),
		cmocka_unit_test(test_big_certificate),
		cmocka_unit_test(test_hello_retry),
		cmocka_unit_test(test_client_refuses),
	};

	return cmocka_run_group_tests(tests, setup_pki, teardown_pki);
}
