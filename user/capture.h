/* capture.h - the live source: the BPF program on interfaces, read from its ring. */
#ifndef CS_CAPTURE_H
#define CS_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "segment.h"

#define CAPTURE_IFACES_MAX 64

struct capture_opts {
	const char *ifaces[CAPTURE_IFACES_MAX]; /* none: every up interface but lo */
	int n_ifaces;
	uint32_t max_bytes;  /* per direction; 0 = default */
	uint32_t ring_bytes; /* ring buffer size, a power of two
						 * >= page size; 0 = CS_RINGBUF_BYTES */
	uint32_t max_flows;  /* kernel flow table; 0 = CS_FLOWS_MAX */
	bool copy_encrypted; /* a key source is configured: copy
						 * TLS 1.3's encrypted flight whole
						 * (CS_ENC_SERVER_RECS, _CLIENT_RECS) */
	bool copy_by_port;   /* ... only for servers' ports set by
				* capture_enc_ports (CS_COPY_ENC_PORTS) */
	bool force_clsact;   /* skip tcx even where it exists */
	bool verbose;	     /* libbpf debug output */

	/* --port: the server ports copied (the program's port_set); none: every port. */
	const uint16_t *ports;
	uint32_t n_ports;
};

struct capture;
struct encports;

/* Loads the program and attaches ingress and egress of every interface
 * (lo: ingress only, since every lo packet passes both hooks). On failure
 * returns NULL with a one-line reason in err (not root, no BTF, unknown
 * interface...), and leaves nothing attached. */
struct capture *capture_open(const struct capture_opts *o, char *err, size_t errlen);
/* Waits up to timeout_ms for ring records; calls fn for each as a segment.
 * Returns records handled, or -errno (-EINTR on a signal). */
int capture_poll(struct capture *c, int timeout_ms, cs_segment_fn fn, void *ctx);
/* Userspace has what it needs from this direction: the kernel stops copying. */
void capture_flow_done(struct capture *c, const struct cs_flow_key *k);
/* copy_by_port: the kernel's enc_ports map becomes e (entries not in e
 * go, those in e are added). 0, or -errno of the first map update that failed. */
int capture_enc_ports(struct capture *c, const struct encports *e);
/* Sum of the per-CPU counters. */
void capture_counters(struct capture *c, uint64_t out[CS_C_MAX]);
/* Interface name for an ifindex seen in a segment ("" if unknown). */
const char *capture_ifname(struct capture *c, uint32_t ifindex);
/* True if an interface is attached with a clsact filter (not a tcx link). */
bool capture_uses_clsact(const struct capture *c);
/* Detaches everything this run attached; nothing of ours stays behind. */
void capture_close(struct capture *c);

#endif
