/* select.h - userspace twin of the kernel's packet parse and TLS/DTLS byte selection. */
#ifndef CS_SELECT_H
#define CS_SELECT_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/types.h>
#include "certsentry.h"

/*
 * The offline source must hand the pipeline the same segments the BPF program
 * (bpf/certsentry.bpf.c) produces for the same packets. These are its rules,
 * per direction (directional 5-tuple, TCP and UDP apart). The byte patterns
 * (rules 2, 5, 10, 11) are include/cs_wire.h's, which both sides compile;
 * the rest is written twice: change both sides together (the BPF test
 * test_same_verdict runs frames through both and compares):
 *
 *  1. Parse: L2 -> IPv4 | IPv6 -> TCP | UDP. IPv4 fragments (MF or offset
 *     != 0) are skipped. IPv6 hop-by-hop, routing and destination options
 *     headers are walked, at most SEL_IP6_EXT_MAX; anything else (Fragment,
 *     AH, ESP) is skipped. The payload length comes from the IP header
 *     (Ethernet padding ignored; for UDP the UDP length field is not used); a
 *     length of 0 (BIG TCP, TSO captures) or one past the frame means "to the
 *     end of the frame". Data in a SYN (TFO) starts at seq + 1. TCP packets
 *     with neither payload nor FIN/RST are ignored. A UDP datagram has seq 0
 *     and flags 0.
 *
 *  TCP (rules 2-9)
 *  2. Start: an untracked direction starts being tracked at the first payload
 *     packet whose payload begins with one of (first 8 bytes, or 6 if the
 *     payload has 6 or 7; under 6, only d):
 *     a. 16 03 {00..04} xx xx {01|02}: a TLS handshake record holding a
 *        ClientHello or ServerHello. Mode TLS: walked (rule 5).
 *     b. an SSLv2 record with a 2-byte header (byte 0 bit 7 set; L = the
 *        other 15 bits) holding CLIENT-HELLO: 01, version 00 02 or 03
 *        {00..04}, cipher-specs length C with C > 0, C % 3 == 0, 9 + C <= L,
 *        and byte 7 (session-id length, high byte) 0; or SERVER-HELLO: 04
 *        {00|01} 01 00 02 (session-id-hit, X.509, version 2). Payloads under
 *        8 bytes are never SSLv2. Mode SSLv2: not walked (copied to the cap).
 *     c. 15 03 {00..04} 00 02 {01|02}: a TLS Alert record, IF the reverse
 *        direction (addresses and ports swapped) is tracked now. Mode alert:
 *        walked; a warning (01) is hopped over (the walk starts 7 bytes in,
 *        the handshake goes on after it), a fatal (02) one is walked into,
 *        so it ends the walk at once (rule 5: 13 bytes copied).
 *     d. a payload of 1..5 bytes that is a prefix of a TLS handshake record
 *        header: 16, then 03, then {00..04}, as far as it goes (bytes 3-4,
 *        the length, are anything; the hello type is not seen). Mode TLS:
 *        walked from isn, so a header of 1..4 bytes is kept and completed by
 *        the next packet (rule 6), a whole 5-byte one is read at once (rule
 *        5); a non-TLS flow ends at the first record the walk does not
 *        take. Offline, only if the whole payload was captured.
 *     e. Not any of these, though, in a payload packet that continues,
 *        byte for byte, a payload packet of its direction that had no PSH
 *        (its seq is where that one ended; cs_wire.h, wire_tcp_continues).
 *        The kernel keeps that end per hint bucket (struct cs_hint's cont),
 *        tagged with the direction's mix, and so does select.c (with
 *        sel_hint_seed's key): another direction of the bucket asked about
 *        (untracked, or outside its window, rule 3) overwrites it, and the
 *        packet that would have continued is then judged by a-d.
 *     Any later packet can start it (STARTTLS); packets before that are
 *     ignored. The seq of that packet is the direction's isn.
 *  3. Window: a payload packet at offset off = (int32)(seq - isn) outside
 *     [0, limit) copies nothing, unless rule 2 says it starts a direction:
 *     then the direction restarts there (a new connection on a reused
 *     4-tuple).
 *  4. Cap: bytes at offsets >= limit are not copied; limit starts at max_bytes.
 *  5. Walk (modes TLS and alert): units are walked from isn (+7 after a
 *     warning alert), up to SEL_WALK_MAX per packet, only while the next unit
 *     lies wholly inside the packet at hand (or is completed by rule 6). A
 *     unit is a record header (5 bytes), or, for a handshake record right
 *     after a ChangeCipherSpec, the first 4 bytes of its body. The walk
 *     (cs_wire.h, wire_walk_unit) takes handshake records (0x16) and goes on
 *     past a CCS (0x14); the record after a CCS decides: a handshake record
 *     whose body starts with a ClientHello or ServerHello (01 or 02) whose
 *     length fits the record goes on (HelloRetryRequest, CCS, second hello);
 *     any other handshake record (TLS 1.2's encrypted Finished) stops it.
 *     Application data (0x17) after handshake records or a CCS stops it,
 *     unless the direction may take encrypted records (sel_copy_encrypted,
 *     the kernel's copy_encrypted): then CS_ENC_CLIENT_RECS (a direction
 *     that began with a ClientHello) or CS_ENC_SERVER_RECS (any other) of
 *     them are taken whole, and the walk stops at the record after the
 *     last, or at the first other record among them. Any other record stops
 *     it. At the record it stops at, at offset o, limit becomes min(limit,
 *     o + 5 + CS_TAIL_BYTES) and the walk ends for good. A gap, reordering or
 *     a truncated capture stalls the walk (the cap alone bounds the copy
 *     then: over-copy, never under-copy). The walk runs before the copy, so
 *     the packet holding the stop point is cut.
 *  6. Split unit: when a packet ends inside the next unit (1..4 of its bytes
 *     in the packet), those bytes are kept (the longest seen). A packet
 *     whose seq is exactly where they end completes the unit with its first
 *     bytes and the walk goes on from there in that packet; a packet too
 *     short to complete it extends the kept bytes. A packet that covers the
 *     whole unit reads it as in rule 5 and drops what was kept.
 *  7. FIN or RST in a tracked direction: its data (if any) first, then a
 *     close segment (len 0, seq just past the payload) for that direction,
 *     which is then forgotten. Segments carry the packet's whole TCP flags
 *     byte, the data segments of a FIN packet included.
 *  8. sel_done (the kernel's done_flows map): the next payload packet of the
 *     direction inside its window makes it forgotten, with nothing copied
 *     and no close.
 *  9. Data segments are split every CS_EVENT_DATA_MAX bytes (one ring record
 *     each in the kernel); the offline source does the same.
 *
 *  UDP (rules 10-12)
 * 10. Start: an untracked UDP direction starts being tracked at the first
 *     datagram of at least 16 bytes that begins 16 fe {ff|fd|fc} 00 00 (a
 *     DTLS 1.0/1.2/1.3 handshake record of epoch 0) with handshake type
 *     (byte 13) 01 ClientHello, 02 ServerHello or 03 HelloVerifyRequest. Any
 *     datagram can start it: STUN may come first on the same 5-tuple (WebRTC).
 * 11. Copy: every datagram of a tracked direction whose first byte is 20..63
 *     (RFC 7983: DTLS) is one data segment (seq 0, flags 0; rule 9 applies)
 *     up to the cap; STUN (0..3), TURN channels (64..79), RTP/RTCP and the
 *     rest are not copied. Bytes copied count towards max_bytes; a datagram
 *     crossing it is cut there. Up to SEL_WALK_MAX whole 13-byte record
 *     headers of the datagram are read; if one has a content type other than
 *     0x16 (ChangeCipherSpec, Alert, application data, DTLS 1.3 unified
 *     headers...) or an epoch other than 0, that datagram is the last one
 *     copied (the direction is done).
 * 12. A done direction (stopped or capped) copies nothing until a datagram
 *     that passes rule 10 starts it again (a new handshake on the 5-tuple).
 *     sel_done: the next datagram that rule 11 would copy forgets the
 *     direction instead. There is no close: entries age out of the table.
 *
 * 13. Table: at most `capacity` directions, TCP and UDP together; starting
 *     one more evicts the least recently used (the kernel's LRU hash is only
 *     roughly LRU).
 * 14. Ports (--port; sel_port, the kernel's port_set): with any port given,
 *     rules 2 and 10 start (or restart) a direction only if its server port
 *     is one of them: the destination of a ClientHello, the source of a
 *     ServerHello or HelloVerifyRequest, either port of a hello header
 *     prefix or an alert (cs_wire.h, wire_port_wanted).
 *
 * L2 is the one place the sources differ on purpose: the kernel sees frames
 * after the NIC stripped a VLAN tag, a capture has it put back; so offline
 * walks up to SEL_VLAN_MAX tags (the kernel 2) and also knows 0x9100. The
 * kernel reads what the packet holds; offline reads what was captured, so a
 * capture cut by its snapshot length can select less.
 */

#define SEL_IP6_EXT_MAX 4	    /* IPv6 extension headers walked (kernel: IPV6_EXT_MAX) */
#define SEL_VLAN_MAX	4	    /* stacked 802.1Q / 802.1ad tags */
#define SEL_WALK_MAX	CS_WALK_MAX /* TLS/DTLS record headers walked per packet */

/* LINKTYPE_RAW as written in files; libpcap maps it to DLT_RAW (12). */
#define SEL_LINKTYPE_RAW  101
#define SEL_LINKTYPE_IPV4 228
#define SEL_LINKTYPE_IPV6 229

/* One parsed TCP or UDP packet. payload points into the caller's frame. */
struct sel_pkt {
	struct cs_flow_key key; /* zeroed, then filled: memcmp-able */
	uint32_t seq;		/* TCP seq of the first payload byte; UDP 0 */
	uint32_t len;		/* payload length per the IP header */
	uint32_t caplen;	/* payload bytes actually present, <= len */
	const uint8_t *payload;
	uint8_t flags; /* TCP flags byte; UDP 0 */
};

enum sel_parse_rc {
	SEL_OK = 0,	  /* a TCP or UDP packet: out is filled */
	SEL_NOT_IP,	  /* ARP, MPLS, PPPoE, unknown AF ... */
	SEL_NOT_TCP,	  /* IP, but neither TCP nor UDP in it */
	SEL_FRAGMENT,	  /* IPv4/IPv6 fragment: skipped */
	SEL_MALFORMED,	  /* lengths that do not add up */
	SEL_BAD_LINKTYPE, /* not a link type we parse */
};

/* Is linktype (a DLT_ value, or LINKTYPE_RAW/IPV4/IPV6) one sel_parse knows? */
bool sel_linktype_ok(int linktype);
/* Parses one frame of caplen captured bytes (wirelen on the wire; pass
 * caplen if unknown). A frame cut by the snapshot length still yields its
 * captured payload bytes if all headers are present; a frame that is
 * complete but shorter than its IP header says is SEL_MALFORMED. */
int sel_parse(int linktype, const uint8_t *frame, uint32_t caplen, uint32_t wirelen,
	      struct sel_pkt *out);

/* What to emit for one packet: a data segment, then possibly a close. */
struct sel_verdict {
	uint32_t data_seq;
	uint32_t data_len;  /* 0: no data segment */
	uint8_t data_flags; /* the packet's TCP flags */
	bool close;
	uint32_t close_seq;
	uint8_t close_flags; /* the packet's TCP flags (FIN and/or RST set) */
};

struct sel_stats {
	uint64_t flows;	  /* directions started */
	uint64_t evicted; /* directions pushed out by a full table */
	uint64_t capped;  /* directions that reached max_bytes (CS_C_CAPPED) */
	uint64_t stopped; /* directions whose walk stopped at a record (rules 5, 11) */
	uint64_t closed;  /* close segments */
	uint64_t not_tls; /* payload packets of untracked directions */
	uint64_t bytes;	  /* payload bytes selected */
	uint32_t active;  /* directions in the table now */
};

struct sel;
struct encports;

/* capacity 0 = CS_FLOWS_MAX, max_bytes 0 = CS_MAX_BYTES_DEFAULT. */
struct sel *sel_new(uint32_t capacity, uint32_t max_bytes);
/* Rule 5's encrypted records (the kernel's copy_encrypted, set while a key
 * source is configured); before the first packet. Off by default. */
void sel_copy_encrypted(struct sel *t, bool on);
/* Rule 2e: the hint mix's key (the kernel's hint_seed); before the first
 * packet. 0 by default: offline results do not depend on chance. */
void sel_hint_seed(struct sel *t, uint32_t seed);
/* Rule 14: a server port to select (repeatable); before the first packet.
 * None: every port. */
void sel_port(struct sel *t, uint16_t port);
/* With copy_encrypted on: only directions of servers' ports in e (the
 * kernel's CS_COPY_ENC_PORTS); NULL (the default): every direction.
 * Borrowed. */
void sel_enc_ports(struct sel *t, const struct encports *e);
/* Applies the rules above to one parsed packet. */
void sel_packet(struct sel *t, const struct sel_pkt *p, struct sel_verdict *v);
/* Userspace has what it needs from this direction (rules 8, 12; the twin of
 * capture_flow_done). */
void sel_done(struct sel *t, const struct cs_flow_key *k);
void sel_get_stats(const struct sel *t, struct sel_stats *out);
void sel_free(struct sel *t);

#endif
