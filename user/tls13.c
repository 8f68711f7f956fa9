/* tls13.c - TLS 1.3 traffic keys and record decryption: the server's flight, the client's answer. */
#include "tls13.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#define TAG_MAX 16
#define HDR_LEN 5

/* RFC 8446 B.4: the five cipher suites TLS 1.3 defines. */
static const struct suite {
	uint16_t id;
	const char *cipher; /* OpenSSL cipher name */
	const char *digest;
	uint8_t key_len, tag_len, hash_len;
	bool ccm; /* CCM takes lengths and the tag up front */
} suites[] = {
	{ TLS13_AES_128_GCM_SHA256, "AES-128-GCM", "SHA256", 16, 16, 32, false },
	{ TLS13_AES_256_GCM_SHA384, "AES-256-GCM", "SHA384", 32, 16, 48, false },
	{ TLS13_CHACHA20_POLY1305_SHA256, "ChaCha20-Poly1305", "SHA256", 32, 16, 32, false },
	{ TLS13_AES_128_CCM_SHA256, "AES-128-CCM", "SHA256", 16, 16, 32, true },
	{ TLS13_AES_128_CCM_8_SHA256, "AES-128-CCM", "SHA256", 16, 8, 32, true },
};
#define NSUITES (sizeof(suites) / sizeof(suites[0]))

/* Fetched once (a fetch takes a lock and a lookup), only read after that,
 * never freed: a few small objects for the life of the process. */
static EVP_KDF *kdf;
static EVP_CIPHER *ciphers[NSUITES];
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

static void fetch(void)
{
	kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_TLS1_3_KDF, NULL);
	for (size_t i = 0; i < NSUITES; i++)
		ciphers[i] = EVP_CIPHER_fetch(NULL, suites[i].cipher, NULL);
}

static int suite_index(uint16_t id)
{
	for (size_t i = 0; i < NSUITES; i++)
		if (suites[i].id == id)
			return (int)i;
	return -1;
}

size_t tls13_hash_len(uint16_t suite)
{
	int i = suite_index(suite);

	return i < 0 ? 0 : suites[i].hash_len;
}

const char *tls13_strerror(int status)
{
	switch (status) {
	case TLS13_OK:
		return "ok";
	case TLS13_DONE:
		return "flight complete";
	case TLS13_E_SUITE:
		return "not a TLS 1.3 cipher suite";
	case TLS13_E_SECRET:
		return "secret length does not match the suite's hash";
	case TLS13_E_RECORD:
		return "not an encrypted record (type or length in the header)";
	case TLS13_E_LENGTH:
		return "record length out of bounds";
	case TLS13_E_AUTH:
		return "authentication failed (wrong secret or record)";
	case TLS13_E_EMPTY:
		return "record holds only padding";
	case TLS13_E_ALERT:
		return "alert";
	case TLS13_E_MESSAGE:
		return "unexpected message";
	case TLS13_E_CRYPTO:
		return "crypto library failure";
	}
	return "unknown";
}

/* ---- key schedule -------------------------------------------------------- */

/*
 * The KDF context of a suite, this thread's, with the mode, digest and
 * prefix set once: setting the digest fetches it by name (a lock and a
 * lookup), and OpenSSL 3.0 cannot duplicate a KDF context. Made at first
 * use, kept for the thread's life; it holds no secret between derivations
 * (see forget_key).
 */
static EVP_KDF_CTX *kdf_ctx(int i)
{
	static __thread EVP_KDF_CTX *ctx[NSUITES];
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)suites[i].digest,
						 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PREFIX, (void *)"tls13 ", 6),
		OSSL_PARAM_construct_end(),
	};

	if (ctx[i] || !kdf || !(ctx[i] = EVP_KDF_CTX_new(kdf)))
		return ctx[i];
	if (EVP_KDF_CTX_set_params(ctx[i], params) != 1) {
		EVP_KDF_CTX_free(ctx[i]);
		ctx[i] = NULL;
	}
	return ctx[i];
}

/* The context keeps a copy of the last key it was given: replaced by
 * zeros (OpenSSL wipes the copy it frees). */
static void forget_key(EVP_KDF_CTX *c)
{
	static const uint8_t zero[TLS13_SECRET_MAX];
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)zero, sizeof(zero)),
		OSSL_PARAM_construct_end(),
	};

	EVP_KDF_CTX_set_params(c, params);
}

/* HKDF-Expand-Label(secret, label, "", n): libssl's own path (TLS13-KDF,
 * expand only, "tls13 " prefix), so a difference cannot hide here. */
static int expand_label(EVP_KDF_CTX *c, const uint8_t *secret, size_t secret_len, const char *label,
			uint8_t *out, size_t n)
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, secret_len),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_LABEL, (void *)label,
						  strlen(label)),
		/* the empty context: a NULL pointer would fail the derive */
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_DATA, (void *)"", 0),
		OSSL_PARAM_construct_end(),
	};

	return EVP_KDF_derive(c, out, n, params) == 1 ? TLS13_OK : TLS13_E_CRYPTO;
}

int tls13_traffic_keys(uint16_t suite, const uint8_t *secret, size_t secret_len,
		       struct tls13_keys *keys)
{
	int i = suite_index(suite), rc;
	const struct suite *s;
	EVP_KDF_CTX *c;

	memset(keys, 0, sizeof(*keys));
	if (i < 0)
		return TLS13_E_SUITE;
	s = &suites[i];
	if (!secret || secret_len != s->hash_len)
		return TLS13_E_SECRET;
	pthread_once(&fetch_once, fetch);
	if (!(c = kdf_ctx(i)))
		return TLS13_E_CRYPTO;
	keys->suite = suite;
	keys->key_len = s->key_len;
	keys->tag_len = s->tag_len;
	rc = expand_label(c, secret, secret_len, "key", keys->key, s->key_len);
	if (rc == TLS13_OK)
		rc = expand_label(c, secret, secret_len, "iv", keys->iv, TLS13_IV_LEN);
	forget_key(c);
	if (rc != TLS13_OK)
		tls13_keys_wipe(keys);
	return rc;
}

void tls13_keys_wipe(struct tls13_keys *keys)
{
	explicit_bzero(keys, sizeof(*keys));
}

/* ---- one record ---------------------------------------------------------- */

/* RFC 8446 5.3: the sequence number, big endian, XORed into the iv's end. */
static void nonce(const struct tls13_keys *k, uint8_t n[TLS13_IV_LEN])
{
	memcpy(n, k->iv, TLS13_IV_LEN);
	for (int i = 0; i < 8; i++)
		n[TLS13_IV_LEN - 1 - i] ^= (uint8_t)(k->seq >> (8 * i));
}

/* A context with the cipher, its IV length and k's key set: a record then
 * only needs its nonce. NULL on failure. */
static EVP_CIPHER_CTX *aead_new(const struct tls13_keys *k, EVP_CIPHER *cipher)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();

	if (c && (EVP_DecryptInit_ex2(c, cipher, NULL, NULL, NULL) != 1 ||
		  EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, TLS13_IV_LEN, NULL) != 1 ||
		  EVP_DecryptInit_ex2(c, NULL, k->key, NULL, NULL) != 1)) {
		EVP_CIPHER_CTX_free(c);
		c = NULL;
	}
	return c;
}

/* GCM, ChaCha20-Poly1305: on a keyed context, clen bytes of ciphertext
 * followed by the tag. 1 if authentic. */
static int aead_stream(EVP_CIPHER_CTX *c, const struct suite *s, const uint8_t n[TLS13_IV_LEN],
		       const uint8_t hdr[HDR_LEN], const uint8_t *ct, int clen, uint8_t *out)
{
	int len;

	if (EVP_DecryptInit_ex2(c, NULL, NULL, n, NULL) != 1 ||
	    EVP_DecryptUpdate(c, NULL, &len, hdr, HDR_LEN) != 1 ||
	    (clen && EVP_DecryptUpdate(c, out, &len, ct, clen) != 1) ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, s->tag_len, (void *)(ct + clen)) != 1)
		return 0;
	return EVP_DecryptFinal_ex(c, out + clen, &len) == 1;
}

/* CCM takes the expected tag and the total length before the data: a
 * context of its own each time. 1 if authentic, -1 if OpenSSL failed. */
static int aead_ccm(const struct tls13_keys *k, const struct suite *s, EVP_CIPHER *cipher,
		    const uint8_t n[TLS13_IV_LEN], const uint8_t hdr[HDR_LEN], const uint8_t *ct,
		    int clen, uint8_t *out)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int len, ok;

	if (!c)
		return -1;
	ok = EVP_DecryptInit_ex2(c, cipher, NULL, NULL, NULL) == 1 &&
	     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, TLS13_IV_LEN, NULL) == 1 &&
	     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, s->tag_len, (void *)(ct + clen)) == 1 &&
	     EVP_DecryptInit_ex2(c, NULL, k->key, n, NULL) == 1 &&
	     EVP_DecryptUpdate(c, NULL, &len, NULL, clen) == 1 &&
	     EVP_DecryptUpdate(c, NULL, &len, hdr, HDR_LEN) == 1 &&
	     EVP_DecryptUpdate(c, out, &len, ct, clen) == 1;
	EVP_CIPHER_CTX_free(c);
	return ok;
}

/*
 * AEAD-open clen bytes of ciphertext followed by the tag. 1 if authentic,
 * 0 if not, -1 if OpenSSL failed. *keep, if given, is the keyed context of
 * these keys, made at the first record and reused (the caller frees it);
 * else one is made and freed here.
 */
static int aead_open(const struct tls13_keys *k, const struct suite *s, EVP_CIPHER *cipher,
		     EVP_CIPHER_CTX **keep, const uint8_t hdr[HDR_LEN], const uint8_t *ct, int clen,
		     uint8_t *out)
{
	EVP_CIPHER_CTX *c = keep ? *keep : NULL;
	uint8_t n[TLS13_IV_LEN];
	int ok;

	nonce(k, n);
	if (s->ccm) {
		ok = aead_ccm(k, s, cipher, n, hdr, ct, clen, out);
	} else if (!c && !(c = aead_new(k, cipher))) {
		ok = -1;
	} else {
		ok = aead_stream(c, s, n, hdr, ct, clen, out);
		if (keep)
			*keep = c;
		else
			EVP_CIPHER_CTX_free(c);
	}
	explicit_bzero(n, sizeof(n));
	return ok;
}

static int open_record(struct tls13_keys *keys, EVP_CIPHER_CTX **keep, const uint8_t hdr[5],
		       const uint8_t *ct, size_t len, uint8_t *out, size_t cap, size_t *plain_len,
		       uint8_t *inner_type)
{
	int i = suite_index(keys->suite), ok;
	size_t clen, end;

	*plain_len = 0;
	*inner_type = 0;
	if (i < 0 || keys->tag_len != suites[i].tag_len)
		return TLS13_E_SUITE;
	/* RFC 8446 5.2: opaque_type is application_data; the header is the AAD,
	 * so its length must be the body's. */
	if (hdr[0] != TLS_CT_APPDATA || (size_t)(hdr[3] << 8 | hdr[4]) != len)
		return TLS13_E_RECORD;
	if (len > TLS13_RECORD_MAX || len < (size_t)keys->tag_len + 1)
		return TLS13_E_LENGTH;
	clen = len - keys->tag_len;
	if (cap < clen)
		return TLS13_E_LENGTH;
	pthread_once(&fetch_once, fetch);
	if (!ciphers[i])
		return TLS13_E_CRYPTO;
	ok = aead_open(keys, &suites[i], ciphers[i], keep, hdr, ct, (int)clen, out);
	if (ok != 1) {
		explicit_bzero(out, clen); /* unauthenticated bytes: gone */
		return ok < 0 ? TLS13_E_CRYPTO : TLS13_E_AUTH;
	}
	keys->seq++;
	/* TLSInnerPlaintext: content, the type, then zeros (RFC 8446 5.4). */
	for (end = clen; end > 0 && out[end - 1] == 0; end--)
		;
	if (end == 0)
		return TLS13_E_EMPTY;
	*inner_type = out[end - 1];
	*plain_len = end - 1;
	return TLS13_OK;
}

int tls13_open(struct tls13_keys *keys, const uint8_t hdr[5], const uint8_t *ct, size_t len,
	       uint8_t *out, size_t cap, size_t *plain_len, uint8_t *inner_type)
{
	return open_record(keys, NULL, hdr, ct, len, out, cap, plain_len, inner_type);
}

/* ---- the server's flight ------------------------------------------------- */

#define FLIGHT_BUF (TLS13_RECORD_MAX + HDR_LEN)

int tls13_flight_init(struct tls13_flight *f, uint16_t suite, const uint8_t *secret,
		      size_t secret_len)
{
	memset(f, 0, sizeof(*f));
	tls_parser_init(&f->hs, 0);
	f->hs.wipe = true; /* decrypted messages: wiped as each is freed */
	f->status = tls13_traffic_keys(suite, secret, secret_len, &f->keys);
	if (f->status == TLS13_OK && !(f->buf = malloc(FLIGHT_BUF)))
		f->status = TLS13_E_CRYPTO;
	if (f->status != TLS13_OK)
		f->error = tls13_strerror(f->status);
	return f->status;
}

/* Ends the record parser, wiping the message it was assembling. */
static void hs_end(struct tls13_flight *f)
{
	if (f->hs.msg)
		explicit_bzero(f->hs.msg, f->hs.msg_cap);
	tls_parser_free(&f->hs);
}

void tls13_flight_free(struct tls13_flight *f)
{
	if (f->buf)
		explicit_bzero(f->buf, f->used);
	free(f->buf);
	f->buf = NULL;
	hs_end(f);
	EVP_CIPHER_CTX_free(f->aead); /* wipes its key schedule */
	f->aead = NULL;
	tls13_keys_wipe(&f->keys);
}

/* The first error sticks; an error after Finished still counts. */
static int flight_fail(struct tls13_flight *f, int status, const char *what)
{
	if (f->status >= 0) {
		f->status = status;
		f->error = what;
	}
	return f->status;
}

/*
 * RFC 8446 2: EncryptedExtensions first, then CertificateRequest,
 * Certificate and CertificateVerify (absent with a PSK), each at most
 * once, and Finished last. Nothing may follow Finished under these keys.
 */
static void on_message(void *ctx, uint8_t type, const uint8_t *body, size_t len)
{
	struct tls13_flight *f = ctx;
	uint32_t bit = type < 32 ? 1u << type : 0;

	if (f->status != TLS13_OK) {
		flight_fail(f, TLS13_E_MESSAGE, "handshake data after Finished");
		hs_end(f);
		return;
	}
	switch (type) {
	case 8: /* encrypted_extensions */
		if (f->seen)
			bit = 0;
		break;
	case TLS_HS_CERTIFICATE_REQUEST:
	case TLS_HS_CERTIFICATE:
	case 15: /* certificate_verify */
	case 20: /* finished */
		if (!(f->seen & 1u << 8))
			bit = 0;
		break;
	default:
		bit = 0;
	}
	if (!bit || (f->seen & bit)) {
		flight_fail(f, TLS13_E_MESSAGE,
			    "unexpected handshake message in the server's flight");
		hs_end(f); /* no further callbacks */
		return;
	}
	f->seen |= bit;
	if (f->fn)
		f->fn(f->ctx, type, body, len);
	if (type == 20)
		f->status = TLS13_DONE;
}

static void on_hs_error(void *ctx, const char *what)
{
	flight_fail(ctx, TLS13_E_MESSAGE, what);
}

static const struct tls_cb flight_cb = { .handshake = on_message, .error = on_hs_error };

/* Plaintext of a handshake record: framed as a clear handshake record for
 * the record parser, which reassembles messages across records. */
static void flight_plaintext(struct tls13_flight *f, const uint8_t *p, size_t n)
{
	const uint8_t h[HDR_LEN] = { TLS_CT_HANDSHAKE, 3, 3, (uint8_t)(n >> 8), (uint8_t)n };

	if (tls_parser_feed(&f->hs, h, sizeof(h), &flight_cb, f) == 0)
		tls_parser_feed(&f->hs, p, n, &flight_cb, f);
	if (f->status == TLS13_DONE && tls_parser_in_message(&f->hs))
		flight_fail(f, TLS13_E_MESSAGE, "handshake data after Finished");
	if (f->status == TLS13_OK && f->hs.failed)
		flight_fail(f, TLS13_E_MESSAGE, "handshake reassembly failed");
}

/* Messages are handed over as they complete: an error in a later record
 * does not take back a Certificate already delivered (it was authentic). */
int tls13_flight_record(struct tls13_flight *f, const uint8_t hdr[5], const uint8_t *body,
			size_t len, tls13_msg_fn fn, void *ctx)
{
	uint8_t *plain = f->buf + HDR_LEN; /* in place when fed: body is there */
	uint8_t type;
	size_t n;
	int rc;

	if (f->status != TLS13_OK)
		return f->status;
	if (hdr[0] == TLS_CT_CCS) /* RFC 8446 D.4: a dummy, unprotected */
		return f->status;
	if (hdr[0] == TLS_CT_ALERT && len == 2) {
		f->alert_level = body[0];
		f->alert_desc = body[1];
		return flight_fail(f, TLS13_E_ALERT, "alert in the clear");
	}
	if (f->used < HDR_LEN + len)
		f->used = (uint32_t)(HDR_LEN + (len < TLS13_RECORD_MAX ? len : TLS13_RECORD_MAX));
	rc = open_record(&f->keys, &f->aead, hdr, body, len, plain, TLS13_RECORD_MAX, &n, &type);
	if (rc != TLS13_OK)
		return flight_fail(f, rc, tls13_strerror(rc));
	f->records++;
	f->fn = fn;
	f->ctx = ctx;
	if (type == TLS_CT_HANDSHAKE) {
		flight_plaintext(f, plain, n);
	} else if (type == TLS_CT_ALERT && n == 2) {
		f->alert_level = plain[0];
		f->alert_desc = plain[1];
		flight_fail(f, TLS13_E_ALERT, "encrypted alert");
	} else {
		flight_fail(f, TLS13_E_MESSAGE, "not a handshake record before Finished");
	}
	f->fn = NULL;
	f->ctx = NULL;
	explicit_bzero(plain, n + 1);
	return f->status;
}

int tls13_flight_feed(struct tls13_flight *f, const uint8_t *data, size_t len, tls13_msg_fn fn,
		      void *ctx)
{
	while (len > 0 && f->status == TLS13_OK) {
		size_t want = HDR_LEN, k;

		if (f->have >= HDR_LEN)
			want += (size_t)f->buf[3] << 8 | f->buf[4];
		k = want - f->have < len ? want - f->have : len;
		memcpy(f->buf + f->have, data, k);
		f->have += (uint32_t)k;
		if (f->used < f->have)
			f->used = f->have;
		data += k;
		len -= k;
		if (f->have < want)
			break;
		if (f->have == HDR_LEN) {
			want += (size_t)f->buf[3] << 8 | f->buf[4];
			if (want > FLIGHT_BUF)
				return flight_fail(f, TLS13_E_LENGTH, "record too long");
			if (want > HDR_LEN)
				continue; /* now the body */
		}
		f->have = 0;
		tls13_flight_record(f, f->buf, f->buf + HDR_LEN, want - HDR_LEN, fn, ctx);
	}
	return f->status;
}

/* ---- the client's first record ------------------------------------------- */

static int client_content(struct tls13_client_record *out, uint8_t type, const uint8_t *p, size_t n)
{
	out->inner_type = type;
	if (type == TLS_CT_ALERT) {
		if (n != 2)
			return TLS13_E_MESSAGE;
		out->alert_level = p[0];
		out->alert_desc = p[1];
	} else if (type == TLS_CT_HANDSHAKE && n > 0) {
		out->hs_type = p[0];
	}
	return TLS13_OK;
}

int tls13_client_record(uint16_t suite, const uint8_t *secret, size_t secret_len,
			const uint8_t hdr[5], const uint8_t *body, size_t len,
			struct tls13_client_record *out)
{
	struct tls13_keys k;
	uint8_t buf[TLS13_RECORD_MAX];
	uint8_t type;
	size_t n;
	int rc;

	memset(out, 0, sizeof(*out));
	if (hdr[0] == TLS_CT_ALERT) {
		if ((size_t)(hdr[3] << 8 | hdr[4]) != len)
			return TLS13_E_RECORD;
		return client_content(out, TLS_CT_ALERT, body, len);
	}
	rc = tls13_traffic_keys(suite, secret, secret_len, &k);
	if (rc == TLS13_OK)
		rc = tls13_open(&k, hdr, body, len, buf, sizeof(buf), &n, &type);
	tls13_keys_wipe(&k);
	if (rc == TLS13_OK) {
		out->encrypted = true;
		rc = client_content(out, type, buf, n);
		explicit_bzero(buf, n + 1);
	}
	return rc;
}
