/* tls13.h - TLS 1.3 traffic keys (HKDF-Expand-Label) and record decryption, for hostile input. */
#ifndef CS_TLS13_H
#define CS_TLS13_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "tls.h"

#define TLS13_AES_128_GCM_SHA256       0x1301
#define TLS13_AES_256_GCM_SHA384       0x1302
#define TLS13_CHACHA20_POLY1305_SHA256 0x1303
#define TLS13_AES_128_CCM_SHA256       0x1304
#define TLS13_AES_128_CCM_8_SHA256     0x1305

#define TLS13_SECRET_MAX 48 /* a traffic secret: the suite's hash length */
#define TLS13_KEY_MAX	 32
#define TLS13_IV_LEN	 12
#define TLS13_RECORD_MAX (16384 + 256) /* TLSCiphertext.length bound, RFC 8446 5.2 */

/* Results: 0 or 1 (the flight is complete), else a negative reason. */
enum tls13_status {
	TLS13_OK = 0,
	TLS13_DONE = 1,	      /* flight: Finished delivered; later records use other keys */
	TLS13_E_SUITE = -1,   /* not a TLS 1.3 cipher suite */
	TLS13_E_SECRET = -2,  /* secret length is not the suite's hash length */
	TLS13_E_RECORD = -3,  /* header: not application_data, or its length is not the body's */
	TLS13_E_LENGTH = -4,  /* shorter than the tag + 1, longer than 2^14 + 256, or no room */
	TLS13_E_AUTH = -5,    /* authentication failed: wrong secret, sequence or bytes */
	TLS13_E_EMPTY = -6,   /* only padding: no inner content type */
	TLS13_E_ALERT = -7,   /* flight: the server sent an alert instead */
	TLS13_E_MESSAGE = -8, /* flight: a message or record that does not belong there */
	TLS13_E_CRYPTO = -9,  /* OpenSSL failed (memory, provider) */
};

/* "authentication failed", ... for a status above; "unknown" otherwise. */
const char *tls13_strerror(int status);
/* The suite's hash length (32 or 48), 0 if not a TLS 1.3 suite. */
size_t tls13_hash_len(uint16_t suite);

/* One direction's record protection. No pointers: copy it, wipe it. */
struct tls13_keys {
	uint16_t suite;
	uint8_t key_len, tag_len;
	uint8_t key[TLS13_KEY_MAX];
	uint8_t iv[TLS13_IV_LEN];
	uint64_t seq; /* next record's sequence number */
};

/* key = HKDF-Expand-Label(secret, "key", "", key_len), iv likewise with "iv"
 * (RFC 8446 7.3), through OpenSSL's TLS13-KDF; seq starts at 0. */
int tls13_traffic_keys(uint16_t suite, const uint8_t *secret, size_t secret_len,
		       struct tls13_keys *keys);
void tls13_keys_wipe(struct tls13_keys *keys);

/*
 * Opens one record: hdr is its 5-byte header (the AAD), ct its len bytes.
 * The nonce is iv XOR seq; seq advances only on success. The plaintext
 * without padding goes to out (cap >= len - tag; out may be ct) and its
 * inner content type to *inner_type. Nothing is left in out on failure.
 */
int tls13_open(struct tls13_keys *keys, const uint8_t hdr[5], const uint8_t *ct, size_t len,
	       uint8_t *out, size_t cap, size_t *plain_len, uint8_t *inner_type);

/* ---- the server's encrypted flight ---- */

/* A complete handshake message (type, body without its 4-byte header). */
typedef void (*tls13_msg_fn)(void *ctx, uint8_t type, const uint8_t *body, size_t len);

/*
 * Reads the server's records after ServerHello under its handshake traffic
 * secret: decrypts them in order, reassembles the messages (tls_parser fed
 * the plaintext as clear handshake records) and hands EncryptedExtensions,
 * CertificateRequest, Certificate, CertificateVerify and Finished to the
 * callback. ChangeCipherSpec records are skipped. The first error sticks.
 */
struct tls13_flight {
	struct tls13_keys keys;
	struct tls_parser hs;
	struct evp_cipher_ctx_st *aead;	 /* keyed at the first record, reused */
	uint8_t *buf;			 /* framing, then plaintext (TLS13_RECORD_MAX + 5) */
	uint32_t used;			 /* bytes of buf ever written: wiped at the end */
	uint32_t have;			 /* framing: bytes of the current record in buf */
	uint32_t records;		 /* records decrypted */
	uint32_t seen;			 /* bit per handshake type delivered */
	int status;			 /* TLS13_OK, TLS13_DONE or the first error */
	const char *error;		 /* what went wrong, for a log line (static) */
	uint8_t alert_level, alert_desc; /* status TLS13_E_ALERT */
	tls13_msg_fn fn;		 /* set for the duration of a call */
	void *ctx;
};

int tls13_flight_init(struct tls13_flight *f, uint16_t suite, const uint8_t *secret,
		      size_t secret_len);
/* One whole record (header, body). Returns f->status. */
int tls13_flight_record(struct tls13_flight *f, const uint8_t hdr[5], const uint8_t *body,
			size_t len, tls13_msg_fn fn, void *ctx);
/* The same from stream bytes cut anywhere (records framed here). */
int tls13_flight_feed(struct tls13_flight *f, const uint8_t *data, size_t len, tls13_msg_fn fn,
		      void *ctx);
/* Wipes the keys and the buffers. */
void tls13_flight_free(struct tls13_flight *f);

/* ---- the client's first record after the server's flight ---- */

struct tls13_client_record {
	bool encrypted;			 /* false: an alert in the clear (OpenSSL 3.0 sends
					 * its refusal so: its write keys change late) */
	uint8_t inner_type;		 /* TLS_CT_ALERT, TLS_CT_HANDSHAKE, ... */
	uint8_t alert_level, alert_desc; /* inner_type TLS_CT_ALERT */
	uint8_t hs_type;		 /* inner_type TLS_CT_HANDSHAKE: first message's type
					 * (Finished; Certificate when asked for one) */
};

/* Decrypts the client's first encrypted record (after its optional CCS)
 * with CLIENT_HANDSHAKE_TRAFFIC_SECRET at sequence 0, or reads a clear
 * alert (secret unused). An alert must hold exactly level and description. */
int tls13_client_record(uint16_t suite, const uint8_t *secret, size_t secret_len,
			const uint8_t hdr[5], const uint8_t *body, size_t len,
			struct tls13_client_record *out);

#endif
