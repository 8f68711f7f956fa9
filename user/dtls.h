/* dtls.h - DTLS 1.0/1.2 records and handshake fragments, one direction of a UDP flow. */
#ifndef CS_DTLS_H
#define CS_DTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "tls.h"

#define DTLS_MSGS_MAX 8 /* handshake messages assembled at once */

struct dtls_msg; /* a message being assembled from fragments (private) */

struct dtls_stats {
	uint64_t datagrams, records, stun, not_dtls, fragments, dup_fragments;
	uint64_t bad_records; /* length or header rules broken */
};

/*
 * Each datagram holds whole records (13-byte header: type, version, epoch,
 * 48-bit sequence, length). Handshake messages (12-byte header with
 * message_seq, fragment_offset, fragment_length) are reassembled by offset
 * whatever order and duplication the fragments arrive in, and delivered to
 * tls_cb.handshake once complete, in message_seq order, each exactly once
 * (retransmitted flights are not reported again). Records of epoch > 0 are
 * encrypted and reported through tls_cb.record only. Datagrams whose first
 * byte says STUN (0-3) or anything else not DTLS (RFC 7983 demultiplexing)
 * are skipped and counted.
 */
struct dtls_parser {
	struct dtls_msg *msgs; /* up to DTLS_MSGS_MAX in progress */
	uint16_t next_seq;     /* next message_seq to deliver */
	bool started;
	uint32_t msg_max;
	bool failed;
	struct dtls_stats stats;
};

void dtls_parser_init(struct dtls_parser *p, uint32_t msg_max);
/* One UDP payload. Returns 0, or -1 once the direction failed. */
int dtls_feed_datagram(struct dtls_parser *p, const uint8_t *d, size_t len, const struct tls_cb *cb,
		       void *ctx);
void dtls_parser_free(struct dtls_parser *p);

#endif
