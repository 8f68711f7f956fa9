/* fuzz_reasm.c - reasm.c: a sequence of segments (seq delta, length, flags,
 * payload) decoded from the input. The delivered stream is checked against a
 * model: never more than was pushed, always the next bytes in order, and the
 * first copy of a byte wins. */
#include "fuzz_common.h"
#include "reasm.h"

#define MODEL_SPAN (1u << 16) /* stream offsets the model tracks */

struct model {
	struct reasm *r;
	uint32_t isn;
	uint64_t delivered;	   /* bytes the callback got so far */
	uint8_t first[MODEL_SPAN]; /* first byte pushed at each offset */
	uint8_t have[MODEL_SPAN];  /* 1: pushed at least once */
	uint64_t pushed;	   /* distinct offsets pushed (within span) */
	unsigned calls, free_at;
	bool freed;
};

static void on_data(void *vc, const uint8_t *d, size_t n)
{
	struct model *m = vc;

	FUZZ_CHECK(!m->freed);
	FUZZ_CHECK(n > 0);
	for (size_t i = 0; i < n; i++) {
		uint64_t off = m->delivered + i;

		/* Only bytes that were pushed, and the first copy of each. */
		if (off >= MODEL_SPAN)
			continue; /* beyond what the model tracks */
		FUZZ_CHECK(m->have[off]);
		FUZZ_CHECK(d[i] == m->first[off]);
	}
	m->delivered += n;
	FUZZ_CHECK(m->delivered <= m->pushed || m->pushed == MODEL_SPAN);
	FUZZ_CHECK(m->r->stats->delivered == m->delivered);
	if (++m->calls == m->free_at) {
		reasm_free(m->r);
		m->freed = true;
	}
}

/*
 * Input: mode byte (max_held choice, free_at), then segments of
 * [flags u8][seq delta i16 or u32][len u16][payload]. flags bit 0: absolute
 * 32-bit seq (wraps, far jumps), else a small signed delta from the last
 * segment's end; bit 1: give up now; bit 2: no data (len 0).
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct model m;
	struct fz f = { data, size };
	struct reasm_stats st = { 0 };
	struct reasm r;
	uint8_t mode = fz_u8(&f);
	uint32_t max_held =
		(const uint32_t[]){ 0, 1, 16, 4096, 256 * 1024, 0xFFFFFFFF, 7, 100 }[mode & 7];
	uint32_t isn = fz_u32(&f), end;
	bool first = true;

	memset(&m, 0, sizeof(m));
	m.r = &r;
	m.free_at = mode >> 4;
	m.isn = isn;
	end = isn;
	reasm_init(&r, max_held, &st);
	while (f.n > 0) {
		uint8_t flags = fz_u8(&f);
		uint32_t seq;
		const uint8_t *d;
		size_t n;
		uint8_t *seg;
		int rc;

		if (flags & 1)
			seq = fz_u32(&f);
		else
			seq = end + (uint32_t)(int32_t)(int16_t)fz_u16(&f);
		if (first)
			seq = isn; /* the stream starts at the first push */
		n = (flags & 4) ? 0 : fz_take(&f, fz_u16(&f) % 2048, &d);
		if (n == 0)
			d = f.p;
		seg = fz_dup(d, n);
		/* Record what the model expects: offsets relative to isn. */
		if (n > 0) {
			for (size_t i = 0; i < n; i++) {
				uint32_t off = seq + (uint32_t)i - isn;

				if (off < MODEL_SPAN && !m.have[off] && off >= m.delivered) {
					m.have[off] = 1;
					m.first[off] = seg[i];
				}
			}
		}
		while (m.pushed < MODEL_SPAN && m.have[m.pushed])
			m.pushed++; /* the contiguous prefix pushed so far */
		rc = reasm_push(&r, seq, seg, n, on_data, &m);
		free(seg);
		FUZZ_CHECK(rc == 0 || r.failed);
		FUZZ_CHECK(r.held <= max_held);
		FUZZ_CHECK(!r.failed || r.held == 0 || m.freed);
		/* Every contiguous byte is handed over at once, none held back. */
		if (!r.failed && m.pushed < MODEL_SPAN - 4096)
			FUZZ_CHECK(m.delivered == m.pushed);
		if (n)
			first = false;
		end = seq + (uint32_t)n;
		if (flags & 2)
			reasm_give_up(&r);
		if (r.failed)
			FUZZ_CHECK(reasm_push(&r, end, (const uint8_t *)"x", 1, on_data, &m) == -1);
	}
	reasm_free(&r);
	return 0;
}
