/* pcap.c - the offline source: read a capture with libpcap, select like the kernel. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <pcap/pcap.h>
#include "pcap.h"
#include "select.h"

/* A gzip stream behind a FILE *, so libpcap reads the decompressed bytes. */
struct gzc {
	gzFile gz;
	off64_t pos; /* decompressed bytes handed to stdio */
};

struct pcap_source {
	pcap_t *p;
	struct gzc *gz; /* owned by p's FILE; NULL if not gzip */
	uint64_t off;	/* classic pcap: where the next record starts */
	struct sel *sel;
	int dlt;
	/* The packet being emitted; kept when fn stops us mid-packet, so the
	 * next run finishes it (libpcap's buffer stays valid until then). */
	struct {
		bool active;
		struct sel_verdict v;
		struct cs_segment seg; /* key, ts, hook */
		const uint8_t *payload;
		uint32_t at; /* data bytes already emitted */
	} cur;
	struct pcap_source_stats st;
	char name[256];
};

static ssize_t gzc_read(void *c, char *buf, size_t n)
{
	struct gzc *g = c;
	int r;

	if (n > INT_MAX) /* gzread takes an unsigned, returns an int */
		n = INT_MAX;
	r = gzread(g->gz, buf, (unsigned)n);
	if (r < 0) {
		errno = EIO;
		return -1;
	}
	g->pos += r;
	return r;
}

/* Only "where am I" (ftello's SEEK_CUR 0): the stream cannot seek. */
static int gzc_seek(void *c, off64_t *off, int whence)
{
	struct gzc *g = c;

	if (whence == SEEK_CUR && *off == 0) {
		*off = g->pos;
		return 0;
	}
	errno = ESPIPE;
	return -1;
}

static int gzc_close(void *c)
{
	struct gzc *g = c;
	int r = gzclose(g->gz);

	free(g);
	return r == Z_OK ? 0 : -1;
}

/* Takes fd; on failure closes it. */
static FILE *gz_fopen(int fd, struct gzc **out)
{
	cookie_io_functions_t io = { .read = gzc_read, .seek = gzc_seek, .close = gzc_close };
	struct gzc *g = calloc(1, sizeof(*g));
	FILE *f;

	if (g)
		g->gz = gzdopen(fd, "rb");
	if (!g || !g->gz) {
		free(g);
		close(fd);
		return NULL;
	}
	gzbuffer(g->gz, 128 * 1024);
	f = fopencookie(g, "r", io);
	if (!f) {
		gzclose(g->gz); /* closes fd */
		free(g);
		return NULL;
	}
	*out = g;
	return f;
}

/* The input as a FILE *: plain, or decompressing if it starts with 1f 8b. A
 * stream we cannot peek at (stdin, a FIFO) always goes through zlib, which
 * passes non-gzip bytes through unchanged. */
static FILE *open_input(const char *path, struct gzc **gz, char *err, size_t errlen)
{
	uint8_t m[2];
	int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : dup(STDIN_FILENO);
	ssize_t n;
	FILE *f;

	*gz = NULL;
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	n = pread(fd, m, 2, 0);
	if (n < 0 && errno != ESPIPE) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	if (n < 0 || (n == 2 && m[0] == 0x1f && m[1] == 0x8b)) {
		f = gz_fopen(fd, gz);
	} else {
		f = fdopen(fd, "rb");
		if (!f)
			close(fd);
	}
	if (!f)
		snprintf(err, errlen, "%s: %s", path, strerror(errno ? errno : ENOMEM));
	return f;
}

struct pcap_source *pcap_source_open(const char *path, uint32_t max_bytes, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct pcap_source *s = calloc(1, sizeof(*s));
	FILE *f;

	if (!s) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	snprintf(s->name, sizeof(s->name), "%s", strcmp(path, "-") ? path : "stdin");
	f = open_input(path, &s->gz, err, errlen);
	if (!f)
		goto fail;
	s->p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, ebuf);
	if (!s->p) {
		snprintf(err, errlen, "%s: %s", s->name, ebuf);
		fclose(f); /* libpcap leaves it to us on failure */
		goto fail;
	}
	s->dlt = pcap_datalink(s->p);
	if (!sel_linktype_ok(s->dlt)) {
		const char *nm = pcap_datalink_val_to_name(s->dlt);

		snprintf(err, errlen, "%s: unsupported link type %d (%s)", s->name, s->dlt,
			 nm ? nm : "unknown");
		goto fail;
	}
	s->sel = sel_new(CS_FLOWS_MAX, max_bytes);
	if (!s->sel) {
		snprintf(err, errlen, "%s: out of memory", s->name);
		goto fail;
	}
	return s;
fail:
	pcap_source_close(s);
	return NULL;
}

static uint64_t ts_ns(const struct pcap_pkthdr *h)
{
	/* With nanosecond precision tv_usec holds nanoseconds. Corrupt values
	 * are clamped rather than wrapped. */
	uint64_t sec = h->ts.tv_sec > 0 ? (uint64_t)h->ts.tv_sec : 0;
	uint64_t ns = h->ts.tv_usec > 0 ? (uint64_t)h->ts.tv_usec : 0;

	if (sec > UINT64_MAX / 1000000000u - 1)
		return UINT64_MAX;
	return sec * 1000000000u + (ns < 1000000000u ? ns : 999999999u);
}

static int emit(struct pcap_source *s, const struct cs_segment *seg, cs_segment_fn fn, void *ctx)
{
	s->st.segments++;
	if (!seg->len)
		s->st.closes++;
	return fn(ctx, seg);
}

/* Emits what is left of the current packet: data chunks, split like the
 * kernel's ring records (rule 9 in select.h), then the close. */
static int emit_cur(struct pcap_source *s, cs_segment_fn fn, void *ctx)
{
	struct cs_segment seg = s->cur.seg;
	const struct sel_verdict *v = &s->cur.v;

	while (s->cur.at < v->data_len) {
		uint32_t left = v->data_len - s->cur.at;

		seg.seq = v->data_seq + s->cur.at;
		seg.len = left < CS_EVENT_DATA_MAX ? left : CS_EVENT_DATA_MAX;
		seg.data = s->cur.payload + s->cur.at;
		seg.tcp_flags = v->data_flags;
		s->cur.at += seg.len;
		if (emit(s, &seg, fn, ctx) < 0)
			return -1;
	}
	s->cur.active = false;
	if (v->close) {
		seg.seq = v->close_seq;
		seg.len = 0;
		seg.data = NULL;
		seg.tcp_flags = v->close_flags;
		if (emit(s, &seg, fn, ctx) < 0)
			return -1;
	}
	return 0;
}

/* The counter of frames sel_parse skipped for reason rc. */
static uint64_t *skipped_counter(struct pcap_source *s, int rc)
{
	switch (rc) {
	case SEL_NOT_TCP:
		return &s->st.not_tcp;
	case SEL_FRAGMENT:
		return &s->st.fragments;
	case SEL_MALFORMED:
		return &s->st.malformed;
	default:
		return &s->st.non_ip;
	}
}

/* One record. Returns -1 if fn asked to stop. */
static int packet(struct pcap_source *s, const struct pcap_pkthdr *h, const uint8_t *data,
		  cs_segment_fn fn, void *ctx)
{
	struct sel_pkt p;
	int rc;

	s->st.bytes += h->caplen;
	if (h->caplen < h->len)
		s->st.truncated++;
	rc = sel_parse(s->dlt, data, h->caplen, h->len, &p);
	if (rc != SEL_OK) {
		(*skipped_counter(s, rc))++;
		return 0;
	}
	if (p.len && p.key.proto == IPPROTO_TCP)
		s->st.tcp_payload++;
	sel_packet(s->sel, &p, &s->cur.v);
	if (!s->cur.v.data_len && !s->cur.v.close)
		return 0;
	memset(&s->cur.seg, 0, sizeof(s->cur.seg));
	s->cur.seg.key = p.key;
	s->cur.seg.ts_ns = ts_ns(h);
	s->cur.seg.hook = CS_HOOK_INGRESS;
	s->cur.payload = p.payload;
	s->cur.at = 0;
	s->cur.active = true;
	return emit_cur(s, fn, ctx);
}

/* A gzip stream that ended early or is corrupt: zlib knows, stdio does not. */
static const char *gz_problem(const struct pcap_source *s)
{
	int e = Z_OK;
	const char *msg;

	if (!s->gz)
		return NULL;
	msg = gzerror(s->gz->gz, &e);
	return e == Z_OK ? NULL : msg;
}

int pcap_source_run(struct pcap_source *s, cs_segment_fn fn, void *ctx, char *err, size_t errlen)
{
	struct pcap_pkthdr *h;
	const u_char *data;
	const char *gzp;

	/* Classic pcap records are a 16-byte header and the captured bytes, so
	 * the offset is known without asking the stream (ftello is an lseek per
	 * packet: a quarter of the run); pcapng blocks are not, and are asked
	 * only when an error needs the offset. */
	bool classic = pcap_major_version(s->p) == 2;
	long long at;

	if (s->cur.active && emit_cur(s, fn, ctx) < 0)
		return 1;
	if (!s->off)
		s->off = 24;
	for (;;) {
		int rc = pcap_next_ex(s->p, &h, &data);

		if (rc == 1) {
			s->st.packets++;
			s->off += 16 + (uint64_t)h->caplen;
			if (packet(s, h, data, fn, ctx) < 0)
				return 1;
			continue;
		}
		at = classic ? (long long)s->off : (long long)ftello(pcap_file(s->p));
		gzp = gz_problem(s);
		if (rc == PCAP_ERROR_BREAK && !gzp)
			return 0;
		snprintf(err, errlen, "%s: packet %llu at byte offset %lld%s: %s%s%s", s->name,
			 (unsigned long long)s->st.packets + 1, at,
			 s->gz && !gzdirect(s->gz->gz) ? " (decompressed)" : "",
			 rc == PCAP_ERROR_BREAK ? "end of file" : pcap_geterr(s->p),
			 gzp ? "; gzip: " : "", gzp ? gzp : "");
		return -1;
	}
}

void pcap_source_done(struct pcap_source *s, const struct cs_flow_key *k)
{
	sel_done(s->sel, k);
}

void pcap_source_port(struct pcap_source *s, uint16_t port)
{
	sel_port(s->sel, port);
}

void pcap_source_copy_encrypted(struct pcap_source *s, bool on)
{
	sel_copy_encrypted(s->sel, on);
}

int pcap_source_linktype(const struct pcap_source *s)
{
	return s->dlt;
}

void pcap_source_stats(const struct pcap_source *s, struct pcap_source_stats *out)
{
	struct sel_stats ss;

	*out = s->st;
	sel_get_stats(s->sel, &ss);
	out->flows = ss.flows;
	out->evicted = ss.evicted;
	out->capped = ss.capped;
	out->stopped = ss.stopped;
}

void pcap_source_close(struct pcap_source *s)
{
	if (!s)
		return;
	if (s->p)
		pcap_close(s->p); /* closes the FILE, and with it the gzip stream */
	sel_free(s->sel);
	free(s);
}
