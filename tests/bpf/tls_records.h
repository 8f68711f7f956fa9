/* tls_records.h - TLS and DTLS records of given type and length, for crafted frames (tests, fastpath bench). */
#ifndef CS_TESTS_TLS_RECORDS_H
#define CS_TESTS_TLS_RECORDS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A TLS handshake record of total length n (header included) holding one
 * message of type hs; the body is a counting pattern. */
static inline size_t tls_rec(uint8_t *p, uint8_t type, uint8_t hs, size_t n)
{
	size_t i;

	p[0] = type;
	p[1] = 3;
	p[2] = type == 22 && hs == 1 ? 1 : 3;
	p[3] = (n - 5) >> 8;
	p[4] = (n - 5) & 0xff;
	for (i = 5; i < n; i++)
		p[i] = (uint8_t)(i * 7 + type);
	if (type == 22) {
		p[5] = hs;
		p[6] = 0;
		p[7] = (n - 9) >> 8;
		p[8] = (n - 9) & 0xff;
	}
	return n;
}

/* A DTLS 1.2 record of total length n; an epoch-0 handshake record holds
 * one whole message of type hs (12-byte DTLS handshake header). */
static inline size_t dtls_rec(uint8_t *p, uint8_t type, uint16_t epoch, uint8_t hs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 5 + type);
	p[0] = type;
	p[1] = 0xfe;
	p[2] = 0xfd;
	p[3] = epoch >> 8;
	p[4] = epoch & 0xff;
	memset(p + 5, 0, 6);
	p[11] = (n - 13) >> 8;
	p[12] = (n - 13) & 0xff;
	if (type == 22 && !epoch) {
		memset(p + 13, 0, 12);
		p[13] = hs;
		p[15] = (n - 25) >> 8;
		p[16] = (n - 25) & 0xff;
		p[23] = p[15];
		p[24] = p[16];
	}
	return n;
}

/* n bytes of a counting pattern that starts at seed. */
static inline void filler(uint8_t *p, size_t n, uint8_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 13 + seed);
}

#endif
