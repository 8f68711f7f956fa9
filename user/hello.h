/* hello.h - ClientHello facts for people: names of versions, groups and signature
 * algorithms, and the small summary of a hello that a connection keeps. */
#ifndef CS_HELLO_H
#define CS_HELLO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ja.h"
#include "tls.h"

/* RFC 8701 GREASE: 0x0a0a, 0x1a1a ... 0xfafa, in any 16-bit list. */
bool hello_is_grease(uint16_t v);

/* The registries a hello's values are named from, one table each. */
enum hello_kind {
	HELLO_VERSION, /* "TLSv1.3", "DTLSv1.2", "SSLv3", "TLSv1.3-draft" */
	HELLO_GROUP,   /* IANA TLS Supported Groups: "x25519", "X25519MLKEM768" */
	HELLO_SIGALG,  /* IANA TLS SignatureScheme: "ecdsa_secp256r1_sha256" */
};

/* The name of v, or NULL if unknown (GREASE included). */
const char *hello_name(enum hello_kind kind, uint16_t v);
/* The name, else "GREASE", else "0x%04x", in buf (cap >= 7 always
 * suffices for the last two); returns what to print (buf or a constant). */
const char *hello_label(enum hello_kind kind, uint16_t v, char *buf, size_t cap);

/*
 * What a connection keeps of its ClientHello (~136 bytes): the fingerprints
 * and the first values of the lists that tell client stacks apart, GREASE
 * left out, in the client's order; the *_total fields count all non-GREASE
 * values offered, so an event can say how many were not kept.
 */
#define HELLO_VERSIONS_KEPT 4
#define HELLO_GROUPS_KEPT   8
#define HELLO_SIGALGS_KEPT  16

#define HELLO_F_GREASE	   0x01 /* GREASE in any list: Chromium, BoringSSL-like */
#define HELLO_F_PSK	   0x02 /* pre_shared_key: a TLS 1.3 resumption attempt */
#define HELLO_F_EARLY_DATA 0x04 /* early_data offered (0-RTT) */
#define HELLO_F_SSL2	   0x08 /* SSLv2-format hello (no fingerprints) */

struct hello_summary {
	struct ja_prints fp;			/* "" where not made (ja.h) */
	uint16_t versions[HELLO_VERSIONS_KEPT]; /* supported_versions, else legacy_version */
	uint16_t groups[HELLO_GROUPS_KEPT];	/* supported_groups */
	uint16_t sigalgs[HELLO_SIGALGS_KEPT];	/* signature_algorithms */
	uint16_t suites_total;			/* cipher suites offered */
	uint16_t groups_total, sigalgs_total;
	uint8_t n_versions, n_groups, n_sigalgs;
	uint8_t flags; /* HELLO_F_* */
};

/* Fills s from a decoded hello; both fingerprints, remembered in m (NULL:
 * none) for the next hello with the same lists (ja.h). */
void hello_summarize(const struct tls_client_hello *ch, struct ja_memo *m, struct hello_summary *s);

#endif
