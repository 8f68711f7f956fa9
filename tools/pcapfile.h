/* pcapfile.h - pcap files for the tools: the link types they read, a frame's IP header, a writer. */
#ifndef CS_TOOLS_PCAPFILE_H
#define CS_TOOLS_PCAPFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <pcap/pcap.h>

#define LT_RAW 101 /* LINKTYPE_RAW in files (DLT_RAW on the handle) */

/* EtherTypes */
#define ET_IPV4	    0x0800
#define ET_IPV6	    0x86dd
#define ET_8021Q    0x8100
#define ET_8021AD   0x88a8
#define ET_QINQ_OLD 0x9100

static inline uint16_t pcapfile_rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Offset of the IP header in a frame of link type lt, VLAN tags skipped, or
 * -1: not IP, cut short, or a link type pcapfile_l3_offset does not know. */
static inline int pcapfile_l3_offset(int lt, const uint8_t *f, uint32_t cap)
{
	uint32_t off;
	uint16_t et;

	switch (lt) {
	case DLT_EN10MB:
		if (cap < 14)
			return -1;
		et = pcapfile_rd16(f + 12), off = 14;
		break;
	case DLT_LINUX_SLL:
		if (cap < 16)
			return -1;
		et = pcapfile_rd16(f + 14), off = 16;
		break;
	case DLT_LINUX_SLL2:
		if (cap < 20)
			return -1;
		et = pcapfile_rd16(f), off = 20;
		break;
	case DLT_NULL:
	case DLT_LOOP:
		return cap >= 4 ? 4 : -1;
	case DLT_RAW:
	case LT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
		return 0;
	default:
		return -1;
	}
	while (et == ET_8021Q || et == ET_8021AD || et == ET_QINQ_OLD) {
		if (cap < off + 4)
			return -1;
		et = pcapfile_rd16(f + off + 2), off += 4;
	}
	return et == ET_IPV4 || et == ET_IPV6 ? (int)off : -1;
}

/* Does pcapfile_l3_offset know link type lt? Raw IP, Ethernet, Linux
 * cooked v1/v2, BSD loopback. */
static inline bool pcapfile_lt_known(int lt)
{
	switch (lt) {
	case DLT_EN10MB:
	case DLT_LINUX_SLL:
	case DLT_LINUX_SLL2:
	case DLT_NULL:
	case DLT_LOOP:
	case DLT_RAW:
	case LT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
		return true;
	default:
		return false;
	}
}

/* A pcap being written, through libpcap's dumper. */
struct pcapw {
	pcap_t *pd;
	pcap_dumper_t *d;
	bool nano;
};

/* Opens path ("-" is stdout) for frames of link type lt, timestamps in
 * microseconds or (nano) nanoseconds. 0, or -1 with "PATH: why" in err. */
static inline int pcapw_open(struct pcapw *w, const char *path, int lt, int snaplen, bool nano,
			     char *err, size_t errlen)
{
	w->nano = nano;
	w->d = NULL;
	w->pd = pcap_open_dead_with_tstamp_precision(
		lt, snaplen, nano ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO);
	if (!w->pd) {
		snprintf(err, errlen, "%s: pcap_open_dead failed", path);
		return -1;
	}
	w->d = pcap_dump_open(w->pd, path);
	if (!w->d) {
		snprintf(err, errlen, "%s: %s", path, pcap_geterr(w->pd));
		pcap_close(w->pd);
		w->pd = NULL;
		return -1;
	}
	return 0;
}

/* One frame: caplen bytes of f, len on the wire, at ts_ns (Unix time). */
static inline void pcapw_put(struct pcapw *w, uint64_t ts_ns, const uint8_t *f, uint32_t caplen,
			     uint32_t len)
{
	struct pcap_pkthdr h;

	h.ts.tv_sec = (time_t)(ts_ns / 1000000000ull);
	h.ts.tv_usec = (suseconds_t)(ts_ns % 1000000000ull / (w->nano ? 1 : 1000));
	h.caplen = caplen;
	h.len = len;
	pcap_dump((u_char *)w->d, &h, f);
}

/* Flushes and closes: 0, or -1 if a write failed. */
static inline int pcapw_close(struct pcapw *w)
{
	int ret = pcap_dump_flush(w->d) ? -1 : 0;

	pcap_dump_close(w->d);
	pcap_close(w->pd);
	w->d = NULL;
	w->pd = NULL;
	return ret;
}

#endif
