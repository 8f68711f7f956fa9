/* inet_csum.h - the Internet checksum (RFC 1071) for the tools that write packets. */
#ifndef CS_TOOLS_INET_CSUM_H
#define CS_TOOLS_INET_CSUM_H

#include <stddef.h>
#include <stdint.h>

/* Adds n bytes, as big-endian 16-bit words, to a running sum. */
static inline uint32_t csum_add(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)(p[n - 1] << 8);
	return s;
}

/* The checksum field of a running sum: folded, complemented. */
static inline uint16_t csum_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

#endif
