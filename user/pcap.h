/* pcap.h - the offline source: pcap/pcapng files (optionally gzipped) as segments. */
#ifndef CS_PCAP_H
#define CS_PCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "segment.h"

/*
 * Reads a capture with libpcap and applies the kernel's selection rules
 * (select.h), so a replayed file yields the segments the live source would
 * have produced for the same packets. Segments carry ts_ns from the file
 * (nanosecond precision), mono_ns 0, ifindex 0, hook CS_HOOK_INGRESS.
 * Note: the libpcap header is <pcap/pcap.h>; "pcap.h" here is this file.
 */

struct pcap_source_stats {
	uint64_t packets;     /* records read */
	uint64_t bytes;	      /* captured bytes read */
	uint64_t tcp_payload; /* TCP packets with payload */
	uint64_t flows;	      /* directions tracked */
	uint64_t segments;    /* segments delivered (data and close) */
	uint64_t closes;      /* of which close (FIN/RST) segments */
	uint64_t non_ip;      /* frames with no IPv4/IPv6 in them */
	uint64_t not_tcp;     /* IP, neither TCP nor UDP */
	uint64_t fragments;   /* IP fragments, skipped */
	uint64_t malformed;   /* headers that do not add up, skipped */
	uint64_t truncated;   /* records cut by the snapshot length */
	uint64_t evicted;     /* directions pushed out of a full table */
	uint64_t capped;      /* directions that reached max_bytes */
	uint64_t stopped;     /* directions whose record walk stopped */
};

struct pcap_source;

/* path "-" is stdin. gzip-compressed input (magic 1f 8b) is decompressed on
 * the fly; pcap and pcapng both work. max_bytes 0 = CS_MAX_BYTES_DEFAULT.
 * NULL with a one-line reason in err (missing file, not a capture, a link
 * type we cannot parse...). */
struct pcap_source *pcap_source_open(const char *path, uint32_t max_bytes, char *err,
				     size_t errlen);
/* Delivers every selected segment to fn, in file order. Returns 0 at the end
 * of the file, 1 if fn returned -1 (call again to go on), or -1 with err
 * naming the packet number and byte offset (of the decompressed stream) of a
 * truncated or corrupt record; everything before it has been delivered. */
int pcap_source_run(struct pcap_source *s, cs_segment_fn fn, void *ctx, char *err, size_t errlen);
/* Stop copying this direction (the twin of capture_flow_done). */
void pcap_source_done(struct pcap_source *s, const struct cs_flow_key *k);
/* Copy TLS 1.3's encrypted flight (capture_opts.copy_encrypted's twin);
 * before the first run. */
void pcap_source_copy_encrypted(struct pcap_source *s, bool on);
/* A server port to select, --port in the kernel's way (select.h rule 14,
 * capture_opts.ports' twin); before the first run. None: every port. */
void pcap_source_port(struct pcap_source *s, uint16_t port);
/* The file's link type (DLT_*). */
int pcap_source_linktype(const struct pcap_source *s);
void pcap_source_stats(const struct pcap_source *s, struct pcap_source_stats *out);
void pcap_source_close(struct pcap_source *s);

#endif
