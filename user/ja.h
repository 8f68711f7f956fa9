/* ja.h - JA3 and JA4 fingerprints of a decoded ClientHello (tls.h). */
#ifndef CS_JA_H
#define CS_JA_H

#include <stddef.h>
#include <stdint.h>

#include "tls.h"

/*
 * JA3 (Salesforce): "SSLVersion,Ciphers,Extensions,EllipticCurves,
 * EllipticCurvePointFormats", each list in wire order, decimal values joined
 * by '-', GREASE values (RFC 8701) left out of the suites, extensions and
 * groups; the fingerprint is the MD5 of that string, in lower-case hex.
 * tshark's tls.handshake.ja3 / ja3_full (dtls.* for DTLS) is the reference.
 *
 * JA4 (FoxIO, technical_details/JA4.md): a_b_c, where
 *   a = 't' (TCP) or 'd' (DTLS); the version (the newest non-GREASE value of
 *       supported_versions if the extension is there, else the hello's
 *       legacy_version) as 13 12 11 10 s3 d1 d2 d3, anything else 00; 'd' if
 *       a server_name extension is there, else 'i'; the non-GREASE suite
 *       and extension counts as two digits each (99 at most); the first and
 *       last byte of the first ALPN protocol, as characters if both are
 *       ASCII letters or digits, else the first and last character of the
 *       protocol's hex form; "00" without ALPN.
 *   b = the first 12 hex digits of SHA-256 over the non-GREASE suites as
 *       4-digit lower-case hex, sorted, comma-joined; 000000000000 if none.
 *   c = the same over the non-GREASE extension types, sorted, without
 *       server_name (0000) and ALPN (0010), then, if the hello has any,
 *       '_' and its non-GREASE signature algorithms in wire order;
 *       000000000000 if no extension is left.
 * ja4_r is a_b_c with b and c unhashed.
 * Newest DTLS version: DTLS numbers count down (0xfefc is DTLS 1.3), so for
 * DTLS "highest" is read as newest, not as the largest number.
 * QUIC ('q') never reaches certsentry: a TCP hello is 't' whatever it offers.
 *
 * SSLv2-format CLIENT-HELLOs get neither (JA_ERR_SSL2): both fingerprints
 * are defined over TLS ClientHello fields (two-byte suites, extensions),
 * which an SSLv2 hello does not have, and tshark computes no JA3 for one.
 * A hello whose lists were cut at the tls.h bounds (n < total) gets neither
 * (JA_ERR_BOUNDS): a fingerprint of part of a list would name another client.
 */

#define JA3_HASH_LEN 32
/* Longest JA3 string of a hello within the tls.h bounds, without the NUL. */
#define JA3_STR_MAX                                                                                \
	(5 + 1 + 6 * TLS_CH_SUITES_MAX + 1 + 6 * TLS_CH_EXTS_MAX + 1 + 6 * TLS_CH_GROUPS_MAX + 1 + \
	 4 * TLS_CH_FORMATS_MAX)
#define JA4_LEN 36
/* Longest ja4_r, without the NUL. */
#define JA4_R_MAX \
	(10 + 1 + 5 * TLS_CH_SUITES_MAX + 1 + 5 * TLS_CH_EXTS_MAX + 1 + 5 * TLS_CH_SIGALGS_MAX)

/* Why a fingerprint was not made (negative returns below). */
enum ja_err {
	JA_ERR_SPACE = -1,  /* cap too small for the result */
	JA_ERR_BOUNDS = -2, /* a list of the hello was longer than tls.h keeps */
	JA_ERR_SSL2 = -3,   /* SSLv2-format hello: not defined */
	JA_ERR_DIGEST = -4, /* OpenSSL could not hash */
};

/*
 * Each writes a NUL-terminated string into out (cap bytes, NUL included)
 * and returns its length, or a negative enum ja_err with out set to "" (if
 * cap > 0). Sizes: JA3_STR_MAX + 1, JA3_HASH_LEN + 1, JA4_LEN + 1,
 * JA4_R_MAX + 1 always suffice.
 */
int ja3_string(const struct tls_client_hello *ch, char *out, size_t cap);
int ja3_hash(const struct tls_client_hello *ch, char *out, size_t cap);
int ja4(const struct tls_client_hello *ch, char *out, size_t cap);
int ja4_r(const struct tls_client_hello *ch, char *out, size_t cap);

/* Both hashed fingerprints of one hello, computed once; "" where not made. */
struct ja_prints {
	char ja3[JA3_HASH_LEN + 1];
	char ja4[JA4_LEN + 1];
};
/* Each is made on its own (a cut groups list stops JA3, not JA4): 0 if
 * both were made, else the first enum ja_err (JA3's, then JA4's). */
int ja_prints(const struct tls_client_hello *ch, struct ja_prints *p);

/*
 * The prints of the last JA_MEMO_MAX distinct hellos: most hellos come from
 * a few client stacks (the same lists, another random), and making the two
 * strings and three digests again was most of a handshake's cost. Entries
 * are keyed by everything the prints are made of, compared whole; the
 * least recently used one goes. Fixed size (~70 KB), one owner, no lock.
 * A client that reorders its extensions per connection (Chrome) misses
 * every time: the prints are then made as ja_prints makes them.
 */
#define JA_MEMO_MAX 64
struct ja_memo;
struct ja_memo *ja_memo_new(void); /* NULL: out of memory */
void ja_memo_free(struct ja_memo *m);
/* ja_prints, from m when a hello with the same key was printed lately;
 * m NULL: always made. */
int ja_prints_memo(struct ja_memo *m, const struct tls_client_hello *ch, struct ja_prints *p);
/* Prints given from m rather than made: for tests. */
uint64_t ja_memo_hits(const struct ja_memo *m);

/* "buffer too small", "list longer than kept", ...; for logs and tools. */
const char *ja_strerror(int err);

#endif
