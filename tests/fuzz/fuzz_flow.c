/* fuzz_flow.c - flow.c (with reasm, tls, dtls, cert, checks, output behind
 * it): segments decoded from the input into a few connections, reports
 * rendered as JSON and text and checked. */
#include <netinet/in.h>
#include "fuzz_pipe.h"

static struct fuzz_pipe fp;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_pipe_init(&fp);
	return 0;
}

/*
 * Input: knobs u8 (fuzz_pipe_begin), then segments:
 *   ctl u8: bit 0 server->client, bit 1 UDP, bits 2-3 connection (0-3),
 *           bit 4 FIN, bit 5 RST, bit 6 absolute seq (u32) else delta
 *           (i16) from the end of this direction's last segment,
 *           bit 7 a time jump (idle expiry may run)
 *   seq u32 | i16, len u16 (mod 4096), payload.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	uint32_t next[4][2] = { { 0 } };
	uint64_t ts = 1700000000ULL * 1000000000ULL;
	unsigned segs = 0;

	fuzz_pipe_begin(&fp, fz_u8(&f));
	while (f.n > 0 && segs++ < 4096) {
		uint8_t ctl = fz_u8(&f);
		unsigned dir = ctl & 1, conn = (ctl >> 2) & 3;
		struct cs_segment s;
		const uint8_t *d;
		uint8_t *copy;
		size_t n;

		memset(&s, 0, sizeof(s));
		s.key.family = (conn & 1) ? CS_AF_INET6 : CS_AF_INET;
		s.key.proto = (ctl & 2) ? IPPROTO_UDP : IPPROTO_TCP;
		s.key.saddr[0] = s.key.daddr[0] = 10;
		/* 10.0.0.1 <-> 10.0.0.2, or a00::1 <-> a00::2 */
		s.key.saddr[s.key.family == CS_AF_INET ? 3 : 15] = (uint8_t)(dir ? 2 : 1);
		s.key.daddr[s.key.family == CS_AF_INET ? 3 : 15] = (uint8_t)(dir ? 1 : 2);
		s.key.sport = dir ? 443 : (uint16_t)(40000 + conn);
		s.key.dport = dir ? (uint16_t)(40000 + conn) : 443;
		if (ctl & 64)
			s.seq = fz_u32(&f);
		else
			s.seq = next[conn][dir] + (uint32_t)(int32_t)(int16_t)fz_u16(&f);
		n = fz_take(&f, fz_u16(&f) % 4096, &d);
		copy = fz_dup(d, n);
		if (s.key.proto == IPPROTO_UDP) {
			s.seq = 0;
		} else {
			s.tcp_flags = CS_TCP_ACK | ((ctl & 16) ? CS_TCP_FIN : 0) |
				      ((ctl & 32) ? CS_TCP_RST : 0);
			next[conn][dir] = s.seq + (uint32_t)n;
		}
		if (ctl & 128)
			ts += 30ULL * 1000000000ULL;
		else
			ts += 1000;
		s.ts_ns = ts;
		s.len = (uint32_t)n;
		s.data = copy;
		s.hook = CS_HOOK_INGRESS;
		FUZZ_CHECK(flow_segment(fp.flows, &s) >= -1);
		free(copy);
		if (ctl & 128)
			flow_expire(fp.flows, ts);
	}
	fuzz_pipe_end(&fp);
	return 0;
}
