/* mkhostile.c - hostile TLS certificates and handshakes, written as pcap files for certsentry's tests. */
/*
 *   mkhostile [--raw] CASE OUT.pcap        one case
 *   mkhostile [--raw] --all DIR            every case, DIR/CASE.pcap and DIR/CASE.expect
 *   mkhostile [--raw] flows N OUT.pcap     N half-open TLS flows: one ClientHello each,
 *                                          distinct source address and port, no answer
 *   mkhostile --list                       the cases, one a line: NAME  description
 *
 * Every case is one TCP connection 10.66.0.1:PORT -> 10.66.0.2:443 with no
 * SYN (certsentry starts a direction on its first hello record): the client's
 * ClientHello (SNI hostile.example.test), then the server's flight -
 * ServerHello, Certificate with the crafted body, ServerHelloDone - in
 * records of at most 16384 bytes cut into 1460-byte TCP segments, then FIN
 * from both sides. Frames are Ethernet/IPv4/TCP (raw IPv4 with --raw) with
 * correct IP and TCP checksums; timestamps start at the current time.
 *
 * Certificates are made with the OpenSSL API (EC P-256, one throwaway key,
 * valid from yesterday for a year). Names or SANs that OpenSSL refuses to
 * encode (invalid UTF-8, unpaired surrogates) are made with placeholders of
 * the same length, patched into the DER of the TBSCertificate afterwards and
 * signed again by hand, so the signature still matches.
 *
 * CASE.expect (with --all) says what a correct observer should make of it:
 *   leaf_sha256=HEX   (SHA-256 of the first certificate entry, if any)
 *   chain_total=N     (entries in the Certificate message, if it parses)
 *   expect=report|cert_parse_error|parse_error
 * report: a tls-certificate event whose leaf parses; cert_parse_error: a
 * tls-certificate event whose chain holds an entry with parse_error;
 * parse_error: no chain, the direction is counted in parse_errors.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "fmt.h"
#include "ipv4tcp.h"
#include "pcapfile.h"

#define LT_RAW	101
#define MSS	1460
#define REC_MAX 16384
#define SNI	"hostile.example.test"

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "mkhostile: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

/* ------------------------------------------------------------ byte buffers */

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static void b_need(struct buf *b, size_t n)
{
	if (b->len + n <= b->cap)
		return;
	while (b->cap < b->len + n)
		b->cap = b->cap ? b->cap * 2 : 4096;
	if (!(b->p = realloc(b->p, b->cap)))
		die("out of memory");
}
static void b_put(struct buf *b, const void *d, size_t n)
{
	if (!n) /* d may be NULL then: memcpy must not see it */
		return;
	b_need(b, n);
	memcpy(b->p + b->len, d, n);
	b->len += n;
}
static void b_u8(struct buf *b, unsigned v)
{
	uint8_t c = v;
	b_put(b, &c, 1);
}
static void b_u16(struct buf *b, unsigned v)
{
	b_u8(b, v >> 8);
	b_u8(b, v);
}
static void b_u24(struct buf *b, unsigned v)
{
	b_u8(b, v >> 16);
	b_u8(b, v >> 8);
	b_u8(b, v);
}
static void b_rand(struct buf *b, size_t n)
{
	b_need(b, n);
	RAND_bytes(b->p + b->len, (int)n);
	b->len += n;
}
static void b_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* A handshake message: type, 24-bit length, body. */
static void hs_msg(struct buf *out, uint8_t type, const struct buf *body)
{
	b_u8(out, type);
	b_u24(out, (unsigned)body->len);
	b_put(out, body->p, body->len);
}

/* Wrap data in records of type ct, at most max bytes each. */
static void records(struct buf *out, uint8_t ct, const uint8_t *d, size_t len, size_t max)
{
	do {
		size_t n = len < max ? len : max;

		b_u8(out, ct);
		b_u16(out, 0x0303);
		b_u16(out, (unsigned)n);
		b_put(out, d, n);
		d += n, len -= n;
	} while (len);
}

/* --------------------------------------------------------------- the pcap */

struct wire {
	struct pcapw pw;
	const char *path;
	bool raw;
	uint64_t ts_us;
	uint16_t ip_id;
};

static void wire_open(struct wire *w, const char *path, bool raw)
{
	char err[PCAP_ERRBUF_SIZE + 256];

	w->raw = raw;
	w->path = path;
	if (pcapw_open(&w->pw, path, raw ? DLT_RAW : DLT_EN10MB, 262144, false, err, sizeof(err)))
		die("%s", err);
	w->ts_us = (uint64_t)time(NULL) * 1000000ULL;
	w->ip_id = 1;
}

static void wire_close(struct wire *w)
{
	if (pcapw_close(&w->pw))
		die("%s: write error", w->path);
}

/* One TCP/IPv4 segment. Addresses and ports in host order. */
static void segment(struct wire *w, uint32_t sa, uint16_t sp, uint32_t da, uint16_t dp,
		    uint32_t seq, uint32_t ack, uint8_t flags, const uint8_t *pay, size_t len)
{
	const struct ipv4tcp h = { .saddr = sa,
				   .daddr = da,
				   .seq = seq,
				   .ack = ack,
				   .sport = sp,
				   .dport = dp,
				   .ip_id = w->ip_id++,
				   .window = 0xffff,
				   .flags = flags };
	uint8_t f[14 + 20 + 20 + MSS];
	uint32_t flen;

	if (len > MSS)
		die("segment of %zu bytes", len);
	if (!w->raw)
		memcpy(f, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00", 14);
	flen = (uint32_t)(ipv4tcp_build(w->raw ? f : f + 14, &h, pay, len) + (w->raw ? 0 : 14));
	pcapw_put(&w->pw, w->ts_us * 1000, f, flen, flen);
	w->ts_us += 100;
}

#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_ACK 0x10

struct conn {
	uint32_t ca, sa;
	uint16_t cp, sp;
	uint32_t cseq, sseq;
};

/* Stream bytes from one side, cut into MSS segments; segment number drop
 * (from 0; -1: none) is left out, as a capture that lost it. */
static void send_stream_drop(struct wire *w, struct conn *c, bool from_client, const uint8_t *d,
			     size_t len, int drop)
{
	for (int k = 0; len; k++) {
		size_t n = len < MSS ? len : MSS;

		if (k == drop) {
			if (from_client)
				c->cseq += n;
			else
				c->sseq += n;
		} else if (from_client) {
			segment(w, c->ca, c->cp, c->sa, c->sp, c->cseq, c->sseq, TCP_ACK | TCP_PSH,
				d, n);
			c->cseq += n;
		} else {
			segment(w, c->sa, c->sp, c->ca, c->cp, c->sseq, c->cseq, TCP_ACK | TCP_PSH,
				d, n);
			c->sseq += n;
		}
		d += n, len -= n;
	}
}

static void send_stream(struct wire *w, struct conn *c, bool from_client, const uint8_t *d,
			size_t len)
{
	send_stream_drop(w, c, from_client, d, len, -1);
}

#define TCP_SYN 0x02

/* SYN, SYN-ACK: the new connection's numbers. */
static void send_syns(struct wire *w, struct conn *c)
{
	segment(w, c->ca, c->cp, c->sa, c->sp, c->cseq - 1, 0, TCP_SYN, NULL, 0);
	segment(w, c->sa, c->sp, c->ca, c->cp, c->sseq - 1, c->cseq, TCP_SYN | TCP_ACK, NULL, 0);
}

static void send_fins(struct wire *w, struct conn *c)
{
	segment(w, c->ca, c->cp, c->sa, c->sp, c->cseq, c->sseq, TCP_ACK | TCP_FIN, NULL, 0);
	c->cseq++;
	segment(w, c->sa, c->sp, c->ca, c->cp, c->sseq, c->cseq, TCP_ACK | TCP_FIN, NULL, 0);
	c->sseq++;
}

/* ------------------------------------------------------------------ hellos */

static void client_hello_record(struct buf *out, const char *sni, size_t sl)
{
	struct buf body = { 0 }, hs = { 0 };

	b_u16(&body, 0x0303);
	b_rand(&body, 32);
	b_u8(&body, 0); /* session id */
	b_u16(&body, 4);
	b_u16(&body, 0xc02f);
	b_u16(&body, 0x00ff);
	b_u8(&body, 1);
	b_u8(&body, 0);			      /* null compression */
	b_u16(&body, (unsigned)(4 + 5 + sl)); /* extensions */
	b_u16(&body, 0);		      /* server_name */
	b_u16(&body, (unsigned)(5 + sl));
	b_u16(&body, (unsigned)(3 + sl));
	b_u8(&body, 0);
	b_u16(&body, (unsigned)sl);
	b_put(&body, sni, sl);
	hs_msg(&hs, 1, &body);
	records(out, 22, hs.p, hs.len, REC_MAX);
	b_free(&body);
	b_free(&hs);
}

static void server_hello_msg(struct buf *hs)
{
	struct buf body = { 0 };

	b_u16(&body, 0x0303);
	b_rand(&body, 32);
	b_u8(&body, 0);
	b_u16(&body, 0xc02f);
	b_u8(&body, 0);
	b_u16(&body, 5); /* extensions: renegotiation_info */
	b_u16(&body, 0xff01);
	b_u16(&body, 1);
	b_u8(&body, 0);
	hs_msg(hs, 2, &body);
	b_free(&body);
}

static void server_hello_done_msg(struct buf *hs)
{
	struct buf empty = { 0 };

	hs_msg(hs, 14, &empty);
}

/* Certificate message body: 24-bit list length, then each entry. */
static void certificate_body(struct buf *body, struct buf *const *der, size_t n)
{
	size_t total = 0;

	for (size_t i = 0; i < n; i++)
		total += 3 + der[i]->len;
	b_u24(body, (unsigned)total);
	for (size_t i = 0; i < n; i++) {
		b_u24(body, (unsigned)der[i]->len);
		b_put(body, der[i]->p, der[i]->len);
	}
}

/* Extra connections a case writes before its own (same file). */
static struct buf pre_srv;
static int pre_drop = -1;

/* The client's server_name; a case may set other bytes. */
static const char *sni_bytes = SNI;
static size_t sni_len = sizeof(SNI) - 1;

/* A whole connection: ClientHello; then srv (the server's record stream). */
static void connection(struct wire *w, uint16_t cport, const struct buf *srv)
{
	struct conn c = { 0x0a420001, 0x0a420002, cport, 443, 0x10000000, 0x70000000 };
	struct buf ch = { 0 };

	client_hello_record(&ch, sni_bytes, sni_len);
	if (pre_srv.len) {
		/* an earlier connection on the same 4-tuple that lost a segment
		 * and never closed (its FIN/RST lost too); then this one, with
		 * its own handshake and numbers */
		struct conn p = { c.ca, c.sa, c.cp, c.sp, 0x30000000, 0x90000000 };

		send_stream(w, &p, true, ch.p, ch.len);
		send_stream_drop(w, &p, false, pre_srv.p, pre_srv.len, pre_drop);
		w->ts_us += 1000000; /* a second later */
		send_syns(w, &c);
	}
	send_stream(w, &c, true, ch.p, ch.len);
	send_stream(w, &c, false, srv->p, srv->len);
	send_fins(w, &c);
	b_free(&ch);
}

/* The usual server flight around a Certificate body. */
static void server_flight(struct buf *srv, const struct buf *cert_body)
{
	struct buf hs = { 0 };

	server_hello_msg(&hs);
	hs_msg(&hs, 11, cert_body);
	server_hello_done_msg(&hs);
	records(srv, 22, hs.p, hs.len, REC_MAX);
	b_free(&hs);
}

/* ------------------------------------------------------------ certificates */

static EVP_PKEY *key;
static X509 *ca_cert;
static X509_NAME *ca_name;

static EVP_PKEY *ec_key(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");

	if (!k)
		die("EC key generation failed");
	return k;
}

static X509_NAME *name_cn(const char *o, const char *cn)
{
	X509_NAME *n = X509_NAME_new();

	if (o)
		X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const uint8_t *)o, -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const uint8_t *)cn, -1, -1, 0);
	return n;
}

/* A raw entry of a chosen string type; no conversion of the bytes. */
static void name_raw(X509_NAME *n, int nid, int type, const void *bytes, int len)
{
	X509_NAME_ENTRY *e = X509_NAME_ENTRY_create_by_NID(NULL, nid, type, bytes, len);

	if (!e || !X509_NAME_add_entry(n, e, -1, 0))
		die("name entry nid %d type %d", nid, type);
	X509_NAME_ENTRY_free(e);
}

static X509 *cert_new(X509_NAME *subj, X509_NAME *iss, EVP_PKEY *pub, long serial)
{
	X509 *x = X509_new();

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_set_subject_name(x, subj);
	X509_set_issuer_name(x, iss);
	X509_gmtime_adj(X509_getm_notBefore(x), -86400);
	X509_gmtime_adj(X509_getm_notAfter(x), 365L * 86400);
	X509_set_pubkey(x, pub);
	return x;
}

static void add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, ca_cert ? ca_cert : x, x, NULL, NULL, 0);
	if (!(e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)))
		die("extension %d=%s", nid, value);
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
}

static void leaf_exts(X509 *x)
{
	add_ext(x, NID_basic_constraints, "CA:FALSE");
	add_ext(x, NID_ext_key_usage, "serverAuth");
}

struct patch {
	const uint8_t *from, *to;
	size_t len;
};

static void der_of(X509 *x, struct buf *out)
{
	int n = i2d_X509(x, NULL);
	uint8_t *p;

	if (n <= 0)
		die("i2d_X509 failed");
	b_need(out, (size_t)n);
	p = out->p + out->len;
	i2d_X509(x, &p);
	out->len += (size_t)n;
}

static void der_len(struct buf *b, size_t n)
{
	if (n < 128) {
		b_u8(b, n);
	} else if (n < 256) {
		b_u8(b, 0x81), b_u8(b, n);
	} else if (n < 65536) {
		b_u8(b, 0x82), b_u16(b, n);
	} else {
		b_u8(b, 0x83), b_u24(b, n);
	}
}

/* Sign x with signer; then, with patches, rewrite the TBS bytes and sign it
 * again by hand (OpenSSL would not encode these bytes itself). */
static void sign_der(X509 *x, EVP_PKEY *signer, const struct patch *pt, int npt, struct buf *out)
{
	const X509_ALGOR *alg;
	uint8_t *tbs = NULL, *a = NULL, sig[256];
	size_t siglen = sizeof(sig);
	struct buf body = { 0 };
	EVP_MD_CTX *md;
	int tl, al;

	if (!X509_sign(x, signer, EVP_sha256()))
		die("X509_sign failed");
	if (!npt) {
		der_of(x, out);
		return;
	}
	if ((tl = i2d_re_X509_tbs(x, &tbs)) <= 0)
		die("i2d_re_X509_tbs failed");
	for (int i = 0; i < npt; i++) {
		uint8_t *at = memmem(tbs, tl, pt[i].from, pt[i].len);

		if (!at)
			die("placeholder %d not found", i);
		memcpy(at, pt[i].to, pt[i].len);
	}
	X509_get0_signature(NULL, &alg, x);
	if ((al = i2d_X509_ALGOR(alg, &a)) <= 0)
		die("i2d_X509_ALGOR failed");
	md = EVP_MD_CTX_new();
	if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, signer) != 1 ||
	    EVP_DigestSign(md, sig, &siglen, tbs, tl) != 1)
		die("signing the patched TBS failed");
	EVP_MD_CTX_free(md);
	b_put(&body, tbs, tl);
	b_put(&body, a, al);
	b_u8(&body, 0x03);
	der_len(&body, siglen + 1);
	b_u8(&body, 0);
	b_put(&body, sig, siglen);
	b_u8(out, 0x30);
	der_len(out, body.len);
	b_put(out, body.p, body.len);
	b_free(&body);
	OPENSSL_free(tbs);
	OPENSSL_free(a);
}

static void ca_setup(void)
{
	key = ec_key();
	ca_name = name_cn("certsentry hostile test", "certsentry Hostile CA");
	ca_cert = cert_new(ca_name, ca_name, key, 1);
	add_ext(ca_cert, NID_basic_constraints, "critical,CA:TRUE");
	if (!X509_sign(ca_cert, key, EVP_sha256()))
		die("CA signing failed");
}

/* A plain leaf "CN=cn" under the CA. */
static X509 *plain_leaf(const char *cn, long serial)
{
	X509_NAME *n = name_cn("certsentry hostile test", cn);
	X509 *x = cert_new(n, ca_name, key, serial);

	X509_NAME_free(n);
	leaf_exts(x);
	return x;
}

static void ca_der(struct buf *out)
{
	der_of(ca_cert, out);
}

/* ------------------------------------------------------------------ cases */

struct result {
	struct buf srv;	  /* the server's record stream */
	struct buf leaf;  /* first certificate entry, for .expect */
	long chain_total; /* -1: not stated */
	const char *expect;
};

/* Certificate message of these DERs, usual flight. */
static void flight_of(struct result *r, struct buf *const *der, size_t n)
{
	struct buf body = { 0 };

	certificate_body(&body, der, n);
	server_flight(&r->srv, &body);
	b_free(&body);
	if (n)
		b_put(&r->leaf, der[0]->p, der[0]->len);
	r->chain_total = (long)n;
}

static void leaf_and_ca(struct result *r, X509 *x, const struct patch *pt, int npt)
{
	struct buf leaf = { 0 }, ca = { 0 };
	struct buf *v[2] = { &leaf, &ca };

	sign_der(x, key, pt, npt, &leaf);
	ca_der(&ca);
	flight_of(r, v, 2);
	b_free(&leaf);
	b_free(&ca);
}

static void c_sans10k(struct result *r)
{
	X509 *x = plain_leaf(SNI, 1001);
	GENERAL_NAMES *g = GENERAL_NAMES_new();
	char host[64];

	for (int i = 0; i < 10000; i++) {
		GENERAL_NAME *n = GENERAL_NAME_new();
		ASN1_IA5STRING *s = ASN1_IA5STRING_new();

		if (i == 0)
			snprintf(host, sizeof(host), "%s", SNI);
		else
			snprintf(host, sizeof(host), "h%05d.sans.example.test", i);
		ASN1_STRING_set(s, host, -1);
		GENERAL_NAME_set0_value(n, GEN_DNS, s);
		sk_GENERAL_NAME_push(g, n);
	}
	X509_add1_ext_i2d(x, NID_subject_alt_name, g, 0, 0);
	GENERAL_NAMES_free(g);
	leaf_and_ca(r, x, NULL, 0);
	X509_free(x);
	r->expect = "report";
}

static void c_big64k(struct result *r)
{
	X509 *x = plain_leaf(SNI, 1002);
	ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.4.1.55555.1.1", 1);
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *e;
	uint8_t *junk = malloc(65536);

	add_ext(x, NID_subject_alt_name, "DNS:" SNI);
	memset(junk, 'x', 65536);
	ASN1_OCTET_STRING_set(os, junk, 65536);
	e = X509_EXTENSION_create_by_OBJ(NULL, oid, 0, os);
	X509_add_ext(x, e, -1);
	leaf_and_ca(r, x, NULL, 0);
	X509_EXTENSION_free(e);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(oid);
	free(junk);
	X509_free(x);
	if (r->leaf.len < 65536)
		die("big64k: only %zu bytes", r->leaf.len);
	r->expect = "report";
}

/* 100 certificates, each issued by the next; the last self-signed. */
static void c_chain100(struct result *r)
{
	struct buf der[100] = { 0 };
	struct buf *v[100];
	X509_NAME *names[100];
	char cn[64];

	for (int i = 0; i < 100; i++) {
		snprintf(cn, sizeof(cn), i ? "certsentry chain level %d" : SNI, i);
		names[i] = name_cn("certsentry hostile test", cn);
	}
	for (int i = 0; i < 100; i++) {
		X509 *x = cert_new(names[i], names[i < 99 ? i + 1 : 99], key, 2000 + i);

		if (i)
			add_ext(x, NID_basic_constraints, "critical,CA:TRUE");
		else
			leaf_exts(x);
		sign_der(x, key, NULL, 0, &der[i]);
		v[i] = &der[i];
		X509_free(x);
	}
	flight_of(r, v, 100);
	for (int i = 0; i < 100; i++) {
		b_free(&der[i]);
		X509_NAME_free(names[i]);
	}
	r->expect = "report";
}

/* Entries that are not certificates: random bytes, a cut certificate, a
 * certificate with trailing bytes, a DER length that lies, an empty entry. */
static void c_bad_der(struct result *r)
{
	X509 *x = plain_leaf(SNI, 1003);
	struct buf good = { 0 }, garbage = { 0 }, cut = { 0 }, trail = { 0 }, lie = { 0 };
	struct buf *v[5] = { &garbage, &cut, &trail, &lie, &good };

	sign_der(x, key, NULL, 0, &good);
	X509_free(x);
	b_rand(&garbage, 700);
	garbage.p[0] = 0x30; /* looks like a SEQUENCE at first */
	b_put(&cut, good.p, good.len - 17);
	b_put(&trail, good.p, good.len);
	b_rand(&trail, 33);
	b_put(&lie, good.p, good.len);
	lie.p[1] = 0x84, lie.p[2] = 0x7f; /* outer length: 4 bytes follow, ~2 GB */
	flight_of(r, v, 5);
	b_free(&good), b_free(&garbage), b_free(&cut), b_free(&trail), b_free(&lie);
	r->expect = "cert_parse_error";
}

/* An entry of 100,000 nested SEQUENCE headers (indefinite length). */
static void c_der_nested(struct result *r)
{
	struct buf deep = { 0 }, ca = { 0 };
	struct buf *v[2] = { &deep, &ca };

	for (int i = 0; i < 100000; i++)
		b_u8(&deep, 0x30), b_u8(&deep, 0x80);
	for (int i = 0; i < 100000; i++)
		b_u8(&deep, 0), b_u8(&deep, 0);
	ca_der(&ca);
	flight_of(r, v, 2);
	b_free(&deep), b_free(&ca);
	r->expect = "cert_parse_error";
}

static void serial_case(struct result *r, const uint8_t *mag, int len, bool neg, long tag)
{
	X509 *x = plain_leaf(SNI, tag);
	BIGNUM *bn = BN_bin2bn(mag, len, NULL);
	ASN1_INTEGER *ai;

	add_ext(x, NID_subject_alt_name, "DNS:" SNI);
	BN_set_negative(bn, neg);
	ai = BN_to_ASN1_INTEGER(bn, NULL);
	X509_set_serialNumber(x, ai);
	leaf_and_ca(r, x, NULL, 0);
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	X509_free(x);
	r->expect = "report";
}

static void c_serial_negative(struct result *r)
{
	static const uint8_t m[] = { 0x12, 0x34, 0x56, 0x78, 0x9a };

	serial_case(r, m, sizeof(m), true, 1);
}

static void c_serial_40(struct result *r)
{
	uint8_t m[40];

	for (int i = 0; i < 40; i++)
		m[i] = (uint8_t)(0x7f - i); /* 40 content bytes in DER: no leading zero */
	serial_case(r, m, sizeof(m), false, 1);
}

static void c_serial_negative_40(struct result *r)
{
	uint8_t m[40];

	for (int i = 0; i < 40; i++)
		m[i] = (uint8_t)(0x55 + i);
	serial_case(r, m, sizeof(m), true, 1);
}

static void c_serial_zero(struct result *r)
{
	static const uint8_t m[] = { 0 };

	serial_case(r, m, 0, false, 1);
}

/* Odd bytes in names: each entry a placeholder patched after encoding. */
#define PH_MAX 8
struct odd {
	int nid, type;
	const char *bytes;
	int len;
};

static void odd_names(struct result *r, const struct odd *o, int n, const char *san_bytes,
		      int san_len)
{
	X509_NAME *subj = X509_NAME_new();
	struct patch pt[PH_MAX + 1];
	char *ph[PH_MAX + 1];
	int np = 0;
	X509 *x;

	for (int i = 0; i < n && i < PH_MAX; i++) {
		ph[np] = malloc(o[i].len + 1);
		/* placeholder: valid in every string type (even length for BMP) */
		for (int j = 0; j < o[i].len; j++)
			ph[np][j] = j < 2 ? 'Q' : (char)('A' + (i * 7 + j) % 26);
		ph[np][0] = 'Q', ph[np][1] = (char)('0' + i);
		name_raw(subj, o[i].nid, o[i].type, ph[np], o[i].len);
		pt[np] = (struct patch){ (uint8_t *)ph[np], (const uint8_t *)o[i].bytes,
					 (size_t)o[i].len };
		np++;
	}
	x = cert_new(subj, ca_name, key, 3000 + n);
	leaf_exts(x);
	if (san_bytes) {
		GENERAL_NAMES *g = GENERAL_NAMES_new();
		GENERAL_NAME *gn = GENERAL_NAME_new();
		ASN1_IA5STRING *s = ASN1_IA5STRING_new();

		ph[np] = malloc(san_len + 1);
		memset(ph[np], 'Z', san_len);
		ph[np][0] = 'S', ph[np][1] = 'P';
		ASN1_STRING_set(s, ph[np], san_len);
		GENERAL_NAME_set0_value(gn, GEN_DNS, s);
		sk_GENERAL_NAME_push(g, gn);
		gn = GENERAL_NAME_new();
		s = ASN1_IA5STRING_new();
		ASN1_STRING_set(s, SNI, -1);
		GENERAL_NAME_set0_value(gn, GEN_DNS, s);
		sk_GENERAL_NAME_push(g, gn);
		X509_add1_ext_i2d(x, NID_subject_alt_name, g, 0, 0);
		GENERAL_NAMES_free(g);
		pt[np] = (struct patch){ (uint8_t *)ph[np], (const uint8_t *)san_bytes,
					 (size_t)san_len };
		np++;
	}
	leaf_and_ca(r, x, pt, np);
	for (int i = 0; i < np; i++)
		free(ph[i]);
	X509_free(x);
	X509_NAME_free(subj);
}

#define B(s) s, (int)(sizeof(s) - 1)

/* UTF8String holding bytes that are not UTF-8: OpenSSL 3 refuses them when
 * it parses the name (then the entry has parse_error). */
static void c_subject_bad_utf8(struct result *r)
{
	static const struct odd o[] = {
		{ NID_organizationName, V_ASN1_UTF8STRING,
		  B("bad \xc3\x28 \xff\xfe overlong \xc0\xaf surrogate \xed\xa0\x80 cut \xe2\x82") },
		{ NID_commonName, V_ASN1_UTF8STRING, B(SNI) },
	};

	odd_names(r, o, 2, NULL, 0);
	r->expect = "any";
}

/* T61String (Latin-1 to OpenSSL): high bytes, controls, quotes, escapes. */
static void c_subject_t61(struct result *r)
{
	static const struct odd o[] = {
		{ NID_organizationName, V_ASN1_T61STRING,
		  B("t61 \x80\x9b[31m\xff\xfe\"quoted\" back\\slash \x01\x02\x7f") },
		{ NID_organizationalUnitName, V_ASN1_T61STRING,
		  B("line\nbreak\r2026-01-01T00:00:00.000Z tls-certificate forged") },
		{ NID_commonName, V_ASN1_UTF8STRING, B(SNI) },
	};

	odd_names(r, o, 3, NULL, 0);
	r->expect = "report";
}

/* BMPString: RLO, zero-width space, NUL, U+FFFF, and an unpaired surrogate. */
static void c_subject_bmp(struct result *r)
{
	static const struct odd o[] = {
		{ NID_organizationName, V_ASN1_BMPSTRING,
		  B("\x00"
		    "A\x20\x2e"
		    "evil\x00"
		    "B\x20\x0b\x00\x00\xff\xff\x00\"") },
		{ NID_commonName, V_ASN1_UTF8STRING, B(SNI) },
	};

	odd_names(r, o, 2, NULL, 0);
	r->expect = "report";
}

static void c_subject_bmp_surrogate(struct result *r)
{
	static const struct odd o[] = {
		{ NID_organizationName, V_ASN1_BMPSTRING,
		  B("\xd8\x00\x00"
		    "A\xdc\x00\x00"
		    "B") },
		{ NID_commonName, V_ASN1_UTF8STRING, B(SNI) },
	};

	odd_names(r, o, 2, NULL, 0);
	r->expect = "any";
}

/* Valid UTF-8 with every trick for a terminal or a log line. */
static void c_subject_controls(struct result *r)
{
	static const struct odd o[] = {
		{ NID_organizationName, V_ASN1_UTF8STRING,
		  B("ctl \x01\x07\x08\t\x0b\x0c\x1b[2J\x1b]0;title\x07\x7f nul\x00 end") },
		{ NID_organizationalUnitName, V_ASN1_UTF8STRING,
		  B("\",\"event\":{\"kind\":\"alert\"},\"x\":\"\\u0041 }\n{\"forged\":true}") },
		{ NID_localityName, V_ASN1_UTF8STRING,
		  B("bidi \xe2\x80\xae"
		    "gnp.exe \xe2\x80\x8b zw \xe2\x81\xa6 iso \xef\xbb\xbf bom \xc2\x85 nel \xe2\x80\xa8 ls") },
		{ NID_commonName, V_ASN1_UTF8STRING, B(SNI) },
	};

	odd_names(r, o, 4, NULL, 0);
	r->expect = "report";
}

/* The common name itself hostile: it ends up in finding messages. */
static void c_cn_controls(struct result *r)
{
	static const struct odd o[] = {
		{ NID_commonName, V_ASN1_UTF8STRING,
		  B("evil\n2026-01-01T00:00:00.000Z tls-certificate forged \x1b[31m\xe2\x80\xae"
		    "gnp \x7f\x00 \"q\" \\ \xe2\x80\x8b end") },
	};

	odd_names(r, o, 1, SNI, (int)sizeof(SNI) - 1);
	r->expect = "report";
}

/* A server_name with a newline, ESC, quotes, invalid UTF-8, RLO (a NUL would only make certsentry drop it). */
static void c_sni_controls(struct result *r)
{
	static const char s[] =
		"evil\n2026-01-01T00:00:00.000Z tls-certificate forged\x1b[2J\"q\"\\\xff\xc3\x28\xe2\x80\xae.example.test";
	X509 *x = plain_leaf(SNI, 5005);

	add_ext(x, NID_subject_alt_name, "DNS:" SNI);
	leaf_and_ca(r, x, NULL, 0);
	X509_free(x);
	sni_bytes = s, sni_len = sizeof(s) - 1;
	r->expect = "report";
}

/* A SAN (IA5String) carrying a newline, quotes, ESC and bytes over 0x7f. */
static void c_san_controls(struct result *r)
{
	static const struct odd o[] = {
		{ NID_commonName, V_ASN1_UTF8STRING, B(SNI) },
	};
	static const char san[] =
		"evil\n2026-01-01T00:00:00.000Z tls-certificate \"x\\y\x1b[31m\xff\xc3\x28\x00.example.test";

	odd_names(r, o, 1, san, (int)sizeof(san) - 1);
	r->expect = "report";
}

/* 3000 relative distinguished names in the subject. */
static void c_subject_many_rdns(struct result *r)
{
	X509_NAME *n = X509_NAME_new();
	char ou[32];
	X509 *x;

	for (int i = 0; i < 3000; i++) {
		snprintf(ou, sizeof(ou), "unit %d", i);
		X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_UTF8, (uint8_t *)ou, -1, -1, 0);
	}
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (uint8_t *)SNI, -1, -1, 0);
	x = cert_new(n, ca_name, key, 4000);
	leaf_exts(x);
	leaf_and_ca(r, x, NULL, 0);
	X509_free(x);
	X509_NAME_free(n);
	r->expect = "report";
}

/* The leaf sent 50 times in its own chain, then the CA. */
static void c_repeated(struct result *r)
{
	X509 *x = plain_leaf(SNI, 5000);
	struct buf leaf = { 0 }, ca = { 0 };
	struct buf *v[51];

	add_ext(x, NID_subject_alt_name, "DNS:" SNI);
	sign_der(x, key, NULL, 0, &leaf);
	X509_free(x);
	ca_der(&ca);
	for (int i = 0; i < 50; i++)
		v[i] = &leaf;
	v[50] = &ca;
	flight_of(r, v, 51);
	b_free(&leaf), b_free(&ca);
	r->expect = "report";
}

/* The CA certificate as its own chain, 20 times over: a self-signed loop. */
static void c_self_loop(struct result *r)
{
	struct buf ca = { 0 };
	struct buf *v[20];

	ca_der(&ca);
	for (int i = 0; i < 20; i++)
		v[i] = &ca;
	flight_of(r, v, 20);
	b_free(&ca);
	r->expect = "report";
}

/* A connection that lost a segment of its Certificate and never closed,
 * then a new connection on the same 4-tuple (ports are reused at once on
 * loopback, and after drops no FIN may have been seen): the new handshake
 * must still be reported. */
static void c_tuple_reuse_after_hole(struct result *r)
{
	X509 *x = plain_leaf("old.example.test", 5006);
	GENERAL_NAMES *g = GENERAL_NAMES_new();
	struct buf leaf = { 0 }, ca = { 0 };
	struct buf *v[2] = { &leaf, &ca };
	struct result old = { 0 };
	char host[64];

	for (int i = 0; i < 300; i++) {
		GENERAL_NAME *n = GENERAL_NAME_new();
		ASN1_IA5STRING *s = ASN1_IA5STRING_new();

		snprintf(host, sizeof(host), "h%04d.old.example.test", i);
		ASN1_STRING_set(s, host, -1);
		GENERAL_NAME_set0_value(n, GEN_DNS, s);
		sk_GENERAL_NAME_push(g, n);
	}
	X509_add1_ext_i2d(x, NID_subject_alt_name, g, 0, 0);
	GENERAL_NAMES_free(g);
	sign_der(x, key, NULL, 0, &leaf);
	X509_free(x);
	ca_der(&ca);
	flight_of(&old, v, 2);
	b_free(&pre_srv);
	b_put(&pre_srv, old.srv.p, old.srv.len);
	pre_drop = 2;
	b_free(&old.srv), b_free(&old.leaf), b_free(&leaf), b_free(&ca);
	x = plain_leaf(SNI, 5007);
	add_ext(x, NID_subject_alt_name, "DNS:" SNI);
	leaf_and_ca(r, x, NULL, 0);
	X509_free(x);
	r->expect = "report";
}

/* A Certificate handshake header claiming 16 MB, then 2000 bytes and the end. */
static void c_hs_16m(struct result *r)
{
	struct buf hs = { 0 };

	server_hello_msg(&hs);
	b_u8(&hs, 11);
	b_u24(&hs, 0xffffff);
	b_u24(&hs, 0xfffffc);
	b_rand(&hs, 2000);
	records(&r->srv, 22, hs.p, hs.len, REC_MAX);
	b_free(&hs);
	r->chain_total = -1;
	r->expect = "parse_error";
}

/* A Certificate header claiming 16 MB followed by the real chain: the
 * claimed length must not be allocated up front nor swallow the flight. */
static void c_hs_16m_then_valid(struct result *r)
{
	struct buf hs = { 0 }, body = { 0 }, leaf = { 0 }, ca = { 0 };
	struct buf *v[2] = { &leaf, &ca };
	X509 *x = plain_leaf(SNI, 5001);

	sign_der(x, key, NULL, 0, &leaf);
	X509_free(x);
	ca_der(&ca);
	certificate_body(&body, v, 2);
	server_hello_msg(&hs);
	b_u8(&hs, 11);
	b_u24(&hs, 0xffffff);
	b_put(&hs, body.p, body.len);
	server_hello_done_msg(&hs);
	records(&r->srv, 22, hs.p, hs.len, REC_MAX);
	b_free(&hs), b_free(&body), b_free(&leaf), b_free(&ca);
	r->chain_total = -1;
	r->expect = "parse_error";
}

/* 5000 zero-length handshake records between the ServerHello and the
 * Certificate (RFC 5246 forbids them: a parser may stop, not spin). */
static void c_record_len0(struct result *r)
{
	struct buf hs = { 0 }, cert = { 0 }, body = { 0 }, leaf = { 0 }, ca = { 0 };
	struct buf *v[2] = { &leaf, &ca };
	X509 *x = plain_leaf(SNI, 5002);

	sign_der(x, key, NULL, 0, &leaf);
	X509_free(x);
	ca_der(&ca);
	server_hello_msg(&hs);
	records(&r->srv, 22, hs.p, hs.len, REC_MAX);
	for (int i = 0; i < 5000; i++) {
		b_u8(&r->srv, 22);
		b_u16(&r->srv, 0x0303);
		b_u16(&r->srv, 0);
	}
	certificate_body(&body, v, 2);
	hs_msg(&cert, 11, &body);
	server_hello_done_msg(&cert);
	records(&r->srv, 22, cert.p, cert.len, REC_MAX);
	b_put(&r->leaf, leaf.p, leaf.len);
	b_free(&hs), b_free(&cert), b_free(&body), b_free(&leaf), b_free(&ca);
	r->chain_total = 2;
	r->expect = "any";
}

/* A record header claiming 65535 bytes (over 2^14 + 2048). */
static void c_record_oversize(struct result *r)
{
	struct buf hs = { 0 };

	server_hello_msg(&hs);
	records(&r->srv, 22, hs.p, hs.len, REC_MAX);
	b_u8(&r->srv, 22);
	b_u16(&r->srv, 0x0303);
	b_u16(&r->srv, 0xffff);
	b_rand(&r->srv, 0xffff);
	b_free(&hs);
	r->chain_total = -1;
	r->expect = "any";
}

/* After the ServerHello, 40 handshake records of random bytes. */
static void c_garbage22(struct result *r)
{
	struct buf hs = { 0 };

	server_hello_msg(&hs);
	records(&r->srv, 22, hs.p, hs.len, REC_MAX);
	for (int i = 0; i < 40; i++) {
		uint16_t n;

		RAND_bytes((uint8_t *)&n, 2);
		n = (uint16_t)(1 + n % 16384);
		b_u8(&r->srv, 22);
		b_u16(&r->srv, 0x0303);
		b_u16(&r->srv, n);
		b_rand(&r->srv, n);
	}
	b_free(&hs);
	r->chain_total = -1;
	r->expect = "any";
}

/* The whole flight in one-byte records: 20,000+ records for one chain. */
static void c_records_1byte(struct result *r)
{
	struct buf hs = { 0 }, body = { 0 }, leaf = { 0 }, ca = { 0 };
	struct buf *v[2] = { &leaf, &ca };
	X509 *x = plain_leaf(SNI, 5003);
	GENERAL_NAMES *g = GENERAL_NAMES_new();
	char host[64];

	for (int i = 0; i < 600; i++) {
		GENERAL_NAME *n = GENERAL_NAME_new();
		ASN1_IA5STRING *s = ASN1_IA5STRING_new();

		snprintf(host, sizeof(host), i ? "h%04d.bytes.example.test" : SNI, i);
		ASN1_STRING_set(s, host, -1);
		GENERAL_NAME_set0_value(n, GEN_DNS, s);
		sk_GENERAL_NAME_push(g, n);
	}
	X509_add1_ext_i2d(x, NID_subject_alt_name, g, 0, 0);
	GENERAL_NAMES_free(g);
	sign_der(x, key, NULL, 0, &leaf);
	X509_free(x);
	ca_der(&ca);
	server_hello_msg(&hs);
	certificate_body(&body, v, 2);
	hs_msg(&hs, 11, &body);
	server_hello_done_msg(&hs);
	records(&r->srv, 22, hs.p, hs.len, 1);
	b_put(&r->leaf, leaf.p, leaf.len);
	b_free(&hs), b_free(&body), b_free(&leaf), b_free(&ca);
	r->chain_total = 2;
	r->expect = "report";
}

/* The certificate list length claims more than the message holds, and an
 * entry length runs past the list. */
static void c_certlist_lies(struct result *r)
{
	struct buf body = { 0 }, leaf = { 0 };
	X509 *x = plain_leaf(SNI, 5004);

	sign_der(x, key, NULL, 0, &leaf);
	X509_free(x);
	b_u24(&body, (unsigned)(leaf.len + 3 + 100000));
	b_u24(&body, (unsigned)(leaf.len + 5000));
	b_put(&body, leaf.p, leaf.len);
	server_flight(&r->srv, &body);
	b_free(&body), b_free(&leaf);
	r->chain_total = -1;
	r->expect = "parse_error";
}

/* A Certificate message with an empty list from the server. */
static void c_certlist_empty(struct result *r)
{
	struct buf body = { 0 };

	b_u24(&body, 0);
	server_flight(&r->srv, &body);
	b_free(&body);
	r->chain_total = -1;
	r->expect = "any";
}

static const struct {
	const char *name;
	void (*fn)(struct result *);
	const char *what;
} cases[] = {
	{ "sans10k", c_sans10k, "a leaf with 10,000 DNS SANs" },
	{ "big64k", c_big64k, "a leaf over 64 KiB (a 64 KiB private extension)" },
	{ "chain100", c_chain100, "a 100-certificate chain, each issued by the next" },
	{ "bad_der", c_bad_der,
	  "entries that are not DER certificates (random, cut, trailing bytes, lying length)" },
	{ "der_nested", c_der_nested, "an entry of 100,000 nested indefinite-length SEQUENCEs" },
	{ "serial_negative", c_serial_negative, "a negative serial number" },
	{ "serial_40", c_serial_40, "a 40-byte serial number" },
	{ "serial_negative_40", c_serial_negative_40, "a negative 40-byte serial number" },
	{ "serial_zero", c_serial_zero, "serial number 0" },
	{ "subject_bad_utf8", c_subject_bad_utf8,
	  "a UTF8String subject attribute holding invalid UTF-8" },
	{ "subject_t61", c_subject_t61,
	  "T61String attributes with high bytes, controls, newlines, quotes" },
	{ "subject_bmp", c_subject_bmp, "a BMPString with RLO, zero-width space, NUL, U+FFFF" },
	{ "subject_bmp_surrogate", c_subject_bmp_surrogate,
	  "a BMPString with unpaired surrogates" },
	{ "subject_controls", c_subject_controls,
	  "UTF-8 subject with control chars, ESC sequences, JSON injection, bidi" },
	{ "cn_controls", c_cn_controls,
	  "a UTF-8 common name with newline, ESC, RLO, DEL, NUL, quotes" },
	{ "sni_controls", c_sni_controls,
	  "a ClientHello server_name with newline, ESC, quotes, invalid UTF-8, RLO" },
	{ "san_controls", c_san_controls,
	  "a DNS SAN with newline, quotes, ESC, bytes over 0x7f, NUL" },
	{ "subject_many_rdns", c_subject_many_rdns, "a subject of 3000 RDNs" },
	{ "repeated", c_repeated, "the leaf 50 times in its own chain" },
	{ "self_loop", c_self_loop, "a self-signed CA certificate 20 times as the chain" },
	{ "tuple_reuse_after_hole", c_tuple_reuse_after_hole,
	  "a connection that lost a segment and never closed, then a new one on the same 4-tuple" },
	{ "hs_16m", c_hs_16m, "a Certificate message header claiming 16 MB, then the stream ends" },
	{ "hs_16m_then_valid", c_hs_16m_then_valid,
	  "a Certificate header claiming 16 MB, followed by a real chain" },
	{ "record_len0", c_record_len0, "5000 zero-length handshake records, then a real chain" },
	{ "record_oversize", c_record_oversize, "a handshake record claiming 65535 bytes" },
	{ "garbage22", c_garbage22, "40 handshake records of random bytes after the ServerHello" },
	{ "records_1byte", c_records_1byte, "a 20 KB flight in one-byte records" },
	{ "certlist_lies", c_certlist_lies,
	  "certificate list and entry lengths that run past the message" },
	{ "certlist_empty", c_certlist_empty, "an empty certificate list from the server" },
};
#define N_CASES (sizeof(cases) / sizeof(cases[0]))

static void hex_sha256(const struct buf *b, char out[65])
{
	uint8_t md[32];

	EVP_Digest(b->p, b->len, md, NULL, EVP_sha256(), NULL);
	fmt_hex(out, 65, md, 32, true);
}

static void write_case(int i, const char *pcap_path, const char *expect_path, bool raw)
{
	struct result r = { .chain_total = -1, .expect = "any" };
	struct wire w;

	sni_bytes = SNI, sni_len = sizeof(SNI) - 1;
	b_free(&pre_srv);
	pre_drop = -1;
	cases[i].fn(&r);
	wire_open(&w, pcap_path, raw);
	connection(&w, (uint16_t)(40000 + i), &r.srv);
	wire_close(&w);
	if (expect_path) {
		FILE *f = fopen(expect_path, "w");
		char hex[65];

		if (!f)
			die("%s: %s", expect_path, strerror(errno));
		fprintf(f, "what=%s\n", cases[i].what);
		if (r.leaf.len) {
			hex_sha256(&r.leaf, hex);
			fprintf(f, "leaf_sha256=%s\n", hex);
			fprintf(f, "leaf_der_length=%zu\n", r.leaf.len);
		}
		if (r.chain_total >= 0)
			fprintf(f, "chain_total=%ld\n", r.chain_total);
		fprintf(f, "expect=%s\n", r.expect);
		fprintf(f, "server_bytes=%zu\n", r.srv.len);
		fclose(f);
	}
	b_free(&r.srv);
	b_free(&r.leaf);
}

/* N half-open flows: one ClientHello segment each, from 10.200.0.0/16 (and
 * on), distinct ports, to 10.201.0.1:443. */
static void write_flows(unsigned long n, const char *path, bool raw)
{
	struct wire w;
	struct buf ch = { 0 };

	client_hello_record(&ch, "flood.example.test", strlen("flood.example.test"));
	wire_open(&w, path, raw);
	for (unsigned long i = 0; i < n; i++) {
		struct conn c = { 0x0ac80000u + (uint32_t)(i / 50000) * 0x10000u +
					  (uint32_t)(i % 50000 / 200) + 1,
				  0x0ac90001,
				  (uint16_t)(1024 + i % 200 * 300 + i / 50000),
				  443,
				  (uint32_t)(i * 7919u),
				  0x50000000 };

		send_stream(&w, &c, true, ch.p, ch.len);
		w.ts_us -= 90; /* 10 us apart */
	}
	wire_close(&w);
	b_free(&ch);
}

static int usage(void)
{
	fprintf(stderr, "usage: mkhostile [--raw] CASE OUT.pcap | [--raw] --all DIR | "
			"[--raw] flows N OUT.pcap | --list\n");
	return 2;
}

int main(int argc, char **argv)
{
	bool raw = false;
	int a = 1;

	if (a < argc && !strcmp(argv[a], "--raw"))
		raw = true, a++;
	if (a >= argc)
		return usage();
	if (!strcmp(argv[a], "--list")) {
		for (size_t i = 0; i < N_CASES; i++)
			printf("%-22s %s\n", cases[i].name, cases[i].what);
		return 0;
	}
	if (!strcmp(argv[a], "flows")) {
		char *end;
		unsigned long n;

		if (argc - a != 3)
			return usage();
		n = strtoul(argv[a + 1], &end, 0);
		if (*end || !n || n > 10000000)
			die("flows: '%s' is not a count from 1 to 10000000", argv[a + 1]);
		write_flows(n, argv[a + 2], raw);
		return 0;
	}
	ca_setup();
	if (!strcmp(argv[a], "--all")) {
		char p[4096], e[4096];

		if (argc - a != 2)
			return usage();
		mkdir(argv[a + 1], 0755);
		for (size_t i = 0; i < N_CASES; i++) {
			snprintf(p, sizeof(p), "%s/%s.pcap", argv[a + 1], cases[i].name);
			snprintf(e, sizeof(e), "%s/%s.expect", argv[a + 1], cases[i].name);
			write_case((int)i, p, e, raw);
		}
		return 0;
	}
	if (argc - a != 2)
		return usage();
	for (size_t i = 0; i < N_CASES; i++)
		if (!strcmp(argv[a], cases[i].name)) {
			write_case((int)i, argv[a + 1], NULL, raw);
			return 0;
		}
	die("unknown case '%s' (--list)", argv[a]);
}
