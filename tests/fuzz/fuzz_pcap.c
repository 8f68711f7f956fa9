/* fuzz_pcap.c - pcap.c + select.c + the whole offline pipeline: the input
 * as a pcap/pcapng (or gzip) file through pcap_source_open/run into
 * flow_segment, checks and output; and sel_parse on the input as one frame
 * of every link type. */
#include <sys/mman.h>
#include <unistd.h>
#include <pcap/pcap.h>
#include "fuzz_pipe.h"
#include "pcap.h"
#include "select.h"

static struct fuzz_pipe fp;
static int fd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_pipe_init(&fp);
	if ((fd = memfd_create("cs-fuzz-pcap", 0)) < 0)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return 0;
}

/* flow_segment, asking the source to stop after every stop_every-th
 * segment, so pcap_source_run's resume path runs too. */
static unsigned stop_every, seen;

static int sink(void *ctx, const struct cs_segment *seg)
{
	FUZZ_CHECK(seg->len == 0 || seg->data);
	FUZZ_CHECK(seg->len <= CS_EVENT_DATA_MAX);
	flow_segment(ctx, seg);
	return stop_every && ++seen % stop_every == 0 ? -1 : 0;
}

static void on_done(void *ctx, const struct cs_flow_key *k)
{
	pcap_source_done(ctx, k);
}

static void sel_all(const uint8_t *data, size_t size)
{
	static const int lts[] = {
		DLT_NULL,
		DLT_EN10MB,
		DLT_RAW,
		14,
		SEL_LINKTYPE_RAW,
		DLT_LOOP,
		DLT_LINUX_SLL,
		SEL_LINKTYPE_IPV4,
		SEL_LINKTYPE_IPV6,
		DLT_LINUX_SLL2,
		7,
	};
	uint8_t *frame = fz_dup(data, size);
	uint32_t cap = size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;

	for (size_t i = 0; i < sizeof(lts) / sizeof(lts[0]); i++) {
		for (int w = 0; w < 2; w++) {
			struct sel_pkt pk;
			uint32_t wire = w ? cap + 100 : cap;
			int rc = sel_parse(lts[i], frame, cap, wire, &pk);

			FUZZ_CHECK(rc >= SEL_OK && rc <= SEL_BAD_LINKTYPE);
			FUZZ_CHECK(rc != SEL_BAD_LINKTYPE || !sel_linktype_ok(lts[i]));
			if (rc != SEL_OK)
				continue;
			FUZZ_CHECK(pk.caplen <= pk.len || pk.len == 0);
			FUZZ_CHECK(pk.payload >= frame && pk.payload <= frame + cap);
			FUZZ_CHECK(pk.caplen <= (size_t)(frame + cap - pk.payload));
		}
	}
	free(frame);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pcap_source *src;
	char err[512];
	int rc, rounds = 0;

	sel_all(data, size);
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	memset(err, 0, sizeof(err));
	src = pcap_source_open(path, size & 1 ? 256 : 0, err, sizeof(err));
	if (!src) {
		FUZZ_CHECK(err[0] && memchr(err, 0, sizeof(err)));
		return 0;
	}
	FUZZ_CHECK(sel_linktype_ok(pcap_source_linktype(src)));
	fuzz_pipe_begin(&fp, size > 24 ? data[size - 1] : 0);
	/* the same knob as the flow table's copy_encrypted */
	pcap_source_copy_encrypted(src, size > 24 && data[size - 1] & 128);
	fp.done = on_done;
	fp.done_ctx = src;
	stop_every = size > 24 ? data[size - 2] % 4 : 0;
	seen = 0;
	do {
		rc = pcap_source_run(src, sink, fp.flows, err, sizeof(err));
		FUZZ_CHECK(rc >= -1 && rc <= 1);
	} while (rc == 1 && ++rounds < 1000000);
	if (rc < 0)
		FUZZ_CHECK(err[0] && memchr(err, 0, sizeof(err)));
	fp.done = NULL;
	pcap_source_close(src);
	fuzz_pipe_end(&fp);
	return 0;
}
