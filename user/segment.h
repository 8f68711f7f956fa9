/* segment.h - the unit every capture source produces and the pipeline eats. */
#ifndef CS_SEGMENT_H
#define CS_SEGMENT_H

#include <stdint.h>
#include <linux/types.h>
#include "certsentry.h"

/*
 * A TCP segment's payload (or a bare FIN/RST), or one UDP datagram (key.proto
 * IPPROTO_UDP: seq is 0, flags 0, no close), as seen by one capture source.
 * Live (ring buffer) and offline (pcap) sources both produce exactly this, so
 * everything after capture is the same code. data is borrowed: valid only for
 * the duration of the call that receives it.
 */
struct cs_segment {
	struct cs_flow_key key; /* directional: src sent these bytes */
	uint64_t ts_ns;		/* capture time, ns since the Unix epoch */
	uint64_t mono_ns;	/* CLOCK_MONOTONIC capture time, 0 offline */
	uint32_t seq;		/* TCP sequence number of data[0]; UDP: 0 */
	uint32_t len;
	const uint8_t *data;
	uint32_t ifindex;  /* 0 offline */
	uint8_t hook;	   /* enum cs_hook */
	uint8_t tcp_flags; /* CS_TCP_* */
};

/* What a source calls for each segment. Returns 0, or -1 to stop the source. */
typedef int (*cs_segment_fn)(void *ctx, const struct cs_segment *seg);

#endif
