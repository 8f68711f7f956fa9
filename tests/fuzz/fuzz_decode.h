/* fuzz_decode.h - every TLS handshake body decoder on one message, for the harnesses that
 * get messages (fuzz_tls, fuzz_dtls, fuzz_tls13). */
#ifndef CS_FUZZ_DECODE_H
#define CS_FUZZ_DECODE_H

#include "fuzz_common.h"
#include "tls.h"

/* x[0..xn) lies inside b[0..n). */
static inline void fz_check_in(const uint8_t *x, size_t xn, const uint8_t *b, size_t n)
{
	FUZZ_CHECK(x >= b && xn <= n && (size_t)(x - b) <= n - xn);
}

/* Every handshake body decoder on one body; pointers they return must lie
 * inside it. */
static inline void fz_tls_decode_all(const uint8_t *body, size_t len)
{
	struct tls_client_hello ch;
	struct tls_server_hello sh;
	struct tls_cert_list cl;
	const uint8_t *der;
	size_t der_len;

	if (tls_parse_client_hello(body, len, &ch) == 0) {
		FUZZ_CHECK(strlen(ch.sni) <= TLS_SNI_MAX && strlen(ch.alpn) <= TLS_ALPN_MAX);
		FUZZ_CHECK(!ch.has_sni || ch.sni[0]);
		(void)tls_version_number(ch.version);
	}
	if (tls_parse_dtls_client_hello(body, len, &ch) == 0)
		FUZZ_CHECK(strlen(ch.sni) <= TLS_SNI_MAX && strlen(ch.alpn) <= TLS_ALPN_MAX);
	if (tls_parse_server_hello(body, len, &sh) == 0) {
		FUZZ_CHECK(sh.session_id_len <= 32 && strlen(sh.alpn) <= TLS_ALPN_MAX);
		(void)tls_cipher_name(sh.cipher);
		(void)tls_version_protocol(sh.version);
	}
	if (tls_parse_certificate(body, len, &cl) == 0) {
		FUZZ_CHECK(cl.n <= TLS_CHAIN_MAX && cl.n <= cl.total);
		for (uint32_t i = 0; i < cl.n; i++)
			fz_check_in(cl.der[i], cl.der_len[i], body, len);
	}
	if (tls_parse_certificate_status(body, len, &der, &der_len) == 0)
		fz_check_in(der, der_len, body, len);
	(void)tls_parse_ssl2_client_hello(body, len, &ch);
	if (tls_parse_ssl2_server_hello(body, len, &sh, &cl) == 0) {
		FUZZ_CHECK(cl.n <= 1);
		for (uint32_t i = 0; i < cl.n; i++)
			fz_check_in(cl.der[i], cl.der_len[i], body, len);
	}
}

#endif
