/* output.c - one report per line: ECS-nested JSON or a terminal-safe text line. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <linux/types.h>
#include <netinet/in.h>
#include "certsentry.h"
#include "checks.h"
#include "json.h"
#include "output.h"

/* Bounded per line: a chain of 16 certificates with 1024 SANs each can be
 * longer, and then the JSON is cut at a token and marked, never broken. */
#define OUTPUT_LINE_MAX	(256 * 1024)
#define TEXT_FIELD_MAX	512	/* one hostile DN must not fill the screen */
#define ECS_VERSION	"8.11.0"

#define OUTPUT_BATCH_MAX (64 * 1024)	/* lines gathered for one write() */

/*
 * A certificate's JSON is the bulk of a line and the same in every line that
 * names it: its members are written once per distinct certificate and kind
 * and copied after that. Direct-mapped by the DER's SHA-256; a certificate
 * whose members pass FRAG_MAX is written token by token, as before (so that
 * a line past OUTPUT_LINE_MAX is still cut inside its SAN list).
 */
#define FRAG_SLOTS	512
#define FRAG_MAX	4096
enum frag_kind { FRAG_PEER, FRAG_CHAIN, FRAG_KINDS };

struct frag {
	uint8_t sha256[32];
	uint32_t len;		/* 0: empty */
	char *text;		/* FRAG_MAX bytes, allocated at first use */
};

struct output {
	FILE *f;
	int fd;
	bool regular;		/* a regular file: a torn batch can be cut off */
	bool torn;		/* a pipe got part of a batch: start the next on a new line */
	FILE *own;		/* a stream this output opened itself, closed with it */
	int log_fd;		/* syslog: a datagram socket, else -1 */
	struct sockaddr_un log_addr;
	int line_sev;		/* syslog severity of the line being written */
	char *ob;		/* the batch: whole lines only */
	size_t ob_len;
	uint64_t ob_lines;
	enum output_format fmt;
	char *buf;		/* OUTPUT_LINE_MAX + 1: room for the '\n' */
	struct frag frag[FRAG_KINDS][FRAG_SLOTS];
	struct output_stats st;
};

struct output *output_new(FILE *f, enum output_format fmt)
{
	struct output *o = f ? calloc(1, sizeof(*o)) : NULL;
	struct stat st;
	int fl;

	if (!o || !(o->buf = malloc(OUTPUT_LINE_MAX + 1)) || !(o->ob = malloc(OUTPUT_BATCH_MAX))) {
		if (o)
			free(o->buf);
		free(o);
		return NULL;
	}
	o->f = f;
	o->fmt = fmt;
	o->log_fd = -1;
	fflush(f);		/* anything the caller wrote goes first */
	o->fd = fileno(f);
	if (o->fd < 0) {	/* lines are written with write(2): a descriptor is needed */
		free(o->ob);
		free(o->buf);
		free(o);
		return NULL;
	}
	o->regular = !fstat(o->fd, &st) && S_ISREG(st.st_mode);
	/* Appending, whoever opened it (a shell's `>`): a log rotated by
	 * copytruncate then goes on at its new end, not at a hole. */
	if (o->regular && (fl = fcntl(o->fd, F_GETFL)) >= 0 && !(fl & O_APPEND))
		fcntl(o->fd, F_SETFL, fl | O_APPEND);
	return o;
}

void output_free(struct output *o)
{
	if (!o)
		return;
	output_flush(o);
	if (o->log_fd >= 0)
		close(o->log_fd);
	if (o->own)
		fclose(o->own);
	for (int k = 0; k < FRAG_KINDS; k++)
		for (int i = 0; i < FRAG_SLOTS; i++)
			free(o->frag[k][i].text);
	free(o->ob);
	free(o->buf);
	free(o);
}

void output_stats(const struct output *o, struct output_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (o)
		*st = o->st;
}

/*
 * Writes p[0..n) whole or not at all, as far as the reader can tell: on a
 * short write (full disk) a regular file is cut back to where the batch
 * began, so it never ends in half a line; a pipe cannot be cut, so the next
 * batch starts on a fresh line. A broken pipe or a full disk is counted,
 * never fatal: the observer must keep running.
 */
static int write_batch(struct output *o, const char *p, size_t n, uint64_t lines)
{
	size_t done = 0;
	off_t start;
	ssize_t w;

	if (o->torn && write(o->fd, "\n", 1) == 1)
		o->torn = false;
	while (done < n) {
		w = write(o->fd, p + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	if (done == n) {
		o->st.lines += lines;
		return 0;
	}
	o->st.write_errors++;
	/* Where the batch began, asked only now: an lseek per batch is a
	 * syscall per wakeup. The offset moved by exactly what was written. */
	start = o->regular && done ? lseek(o->fd, 0, SEEK_CUR) : -1;
	if (start >= (off_t)done && ftruncate(o->fd, start - (off_t)done) == 0)
		done = 0;
	if (done)
		o->torn = true;
	return -1;
}

int output_flush(struct output *o)
{
	int rc;

	if (!o || !o->ob_len)
		return 0;
	rc = write_batch(o, o->ob, o->ob_len, o->ob_lines);
	o->ob_len = 0;
	o->ob_lines = 0;
	return rc;
}

/*
 * One line, one datagram, in the RFC 3164 form syslog daemons take on
 * /dev/log. Not connected: a restarted daemon's new socket is found by the
 * next line. A daemon that is down costs the line, counted, nothing else.
 */
static int emit_syslog(struct output *o, size_t len)
{
	static const char mon[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	char head[64];
	struct iovec iov[2];
	struct msghdr mh = { .msg_name = &o->log_addr, .msg_namelen = sizeof(o->log_addr),
			     .msg_iov = iov, .msg_iovlen = 2 };
	time_t now = time(NULL);
	struct tm tm;
	int hl;

	gmtime_r(&now, &tm);
	hl = snprintf(head, sizeof(head), "<%d>%s %2d %02d:%02d:%02d certsentry[%d]: ",
		      (3 << 3) | (o->line_sev & 7), mon[tm.tm_mon % 12], tm.tm_mday, tm.tm_hour,
		      tm.tm_min, tm.tm_sec, (int)getpid());
	iov[0] = (struct iovec){ head, (size_t)hl };
	iov[1] = (struct iovec){ o->buf, len };
	if (sendmsg(o->log_fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		o->st.write_errors++;
		return -1;
	}
	o->st.lines++;
	return 0;
}

struct output *output_new_syslog(const char *path, enum output_format fmt, char *err,
				 size_t errlen)
{
	struct output *o;
	FILE *null = fopen("/dev/null", "w");

	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		snprintf(err, errlen, "--syslog: socket path too long: %s", path);
		if (null)
			fclose(null);
		return NULL;
	}
	if (!null || !(o = output_new(null, fmt))) {
		snprintf(err, errlen, "--syslog: out of memory");
		if (null)
			fclose(null);
		return NULL;
	}
	o->log_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (o->log_fd < 0) {
		snprintf(err, errlen, "--syslog: socket: %s", strerror(errno));
		output_free(o);
		fclose(null);
		return NULL;
	}
	o->log_addr.sun_family = AF_UNIX;
	strcpy(o->log_addr.sun_path, path);
	o->own = null;
	return o;
}

/* Adds buf[0..len) and a '\n' to the batch; output_flush() writes it. */
static int emit(struct output *o, size_t len)
{
	if (o->log_fd >= 0)
		return emit_syslog(o, len);
	o->buf[len] = '\n';
	if (o->ob_len + len + 1 > OUTPUT_BATCH_MAX)
		output_flush(o);			/* a failure is counted there */
	if (len + 1 > OUTPUT_BATCH_MAX)		/* a huge line goes alone */
		return write_batch(o, o->buf, len + 1, 1);
	memcpy(o->ob + o->ob_len, o->buf, len + 1);
	o->ob_len += len + 1;
	o->ob_lines++;
	return 0;
}

static const char *ep_ip(const struct report_endpoint *ep, char *buf, size_t cap)
{
	int af = ep->family == CS_AF_INET6 ? AF_INET6 : AF_INET;

	if (ep->family != CS_AF_INET && ep->family != CS_AF_INET6)
		return NULL;
	return inet_ntop(af, ep->addr, buf, (socklen_t)cap);
}

static const char *action_name(const struct cs_report *r)
{
	switch (r->action) {
	case REPORT_CERTIFICATE_HIDDEN: return "tls-certificate-hidden";
	case REPORT_RESUMED: return "tls-session-resumed";
	case REPORT_CLIENT_CERTIFICATE: return "tls-client-certificate";
	case REPORT_ALERT: return "tls-alert";
	case REPORT_INCOMPLETE: return "tls-handshake-incomplete";
	default: return "tls-certificate";
	}
}

static bool has_chain(const struct cs_report *r)
{
	return r->action == REPORT_CERTIFICATE || r->action == REPORT_CLIENT_CERTIFICATE;
}

static const char *validity(const struct cert_facts *f, int64_t at)
{
	if (at < f->not_before)
		return "not_yet_valid";
	return at > f->not_after ? "expired" : "valid";
}

static const char *ocsp_status_name(int st)
{
	switch (st) {
	case OCSP_ST_GOOD: return "good";
	case OCSP_ST_REVOKED: return "revoked";
	case OCSP_ST_UNKNOWN: return "unknown";
	default: return "none";
	}
}

static const char *alert_desc(const struct cs_report *r, char *buf, size_t cap)
{
	const char *n = tls_alert_name(r->alert_desc);

	if (n)
		return n;
	snprintf(buf, cap, "%u", r->alert_desc);
	return buf;
}

static const char *alert_level(uint8_t level)
{
	return level == 1 ? "warning" : level == 2 ? "fatal" : "unknown";
}

/* SSLv2 has no two-byte cipher suite id to name. */
static bool has_cipher(const struct cs_report *r)
{
	return r->have_server_hello && r->version != 0x0002;
}

/* Version text only when a ServerHello named one we know. */
static const char *version_of(const struct cs_report *r)
{
	return r->have_server_hello && r->version ? tls_version_number(r->version) : NULL;
}

/* ---- JSON ---- */

static void json_endpoint(struct jw *w, const char *key, const struct report_endpoint *ep)
{
	char ip[INET6_ADDRSTRLEN];

	jw_obj_begin(w, key);
	if (ep_ip(ep, ip, sizeof(ip)))
		jw_str(w, "ip", ip);
	jw_uint(w, "port", ep->port);
	jw_obj_end(w);
}

static void json_name(struct jw *w, const char *key, const char *dn, const char *cn)
{
	jw_obj_begin(w, key);
	if (dn)
		jw_str(w, "distinguished_name", dn);
	if (cn) {
		jw_arr_begin(w, "common_name");
		jw_str(w, NULL, cn);
		jw_arr_end(w);
	}
	jw_obj_end(w);
}

static void json_sans(struct jw *w, const struct cert_facts *f)
{
	if (!f->n_sans)
		return;
	jw_arr_begin(w, "alternative_names");
	for (uint32_t i = 0; i < f->n_sans; i++)
		jw_str(w, NULL, f->sans[i]);
	jw_arr_end(w);
}

static void json_key(struct jw *w, const struct cert_facts *f)
{
	if (f->key_alg[0])
		jw_str(w, "public_key_algorithm", f->key_alg);
	if (f->key_bits > 0)
		jw_int(w, "public_key_size", f->key_bits);
	if (f->key_curve[0])
		jw_str(w, "public_key_curve", f->key_curve);
	if (f->sig_alg[0])
		jw_str(w, "signature_algorithm", f->sig_alg);
}

/* ECS tls.server.x509.* for the leaf. */
static void json_x509(struct jw *w, const struct cert_facts *f)
{
	jw_obj_begin(w, "x509");
	if (f->serial_hex)
		jw_str(w, "serial_number", f->serial_hex);
	json_name(w, "subject", f->subject_dn, f->subject_cn);
	json_name(w, "issuer", f->issuer_dn, f->issuer_cn);
	jw_time_s(w, "not_before", f->not_before);
	jw_time_s(w, "not_after", f->not_after);
	json_sans(w, f);
	json_key(w, f);
	jw_obj_end(w);
}

/* ECS tls.server.* / tls.client.*: hash, validity, names, x509. */
static void peer_members(struct jw *w, const struct cert_facts *f)
{
	jw_obj_begin(w, "hash");
	jw_str(w, "sha256", f->sha256_hex);
	jw_obj_end(w);
	if (!f->parse_ok)
		return;
	jw_time_s(w, "not_before", f->not_before);
	jw_time_s(w, "not_after", f->not_after);
	if (f->subject_dn)
		jw_str(w, "subject", f->subject_dn);
	if (f->issuer_dn)
		jw_str(w, "issuer", f->issuer_dn);
	json_x509(w, f);
}

/* One certificate of certsentry.chain, all but its validity (which moves
 * with the check time). */
static void chain_members(struct jw *w, const struct cert_facts *f)
{
	jw_str(w, "sha256", f->sha256_hex);
	jw_uint(w, "der_length", f->der_len);
	if (!f->parse_ok) {
		jw_str(w, "parse_error", f->parse_error);
		return;
	}
	if (f->spki_sha256_b64[0])
		jw_str(w, "spki_sha256", f->spki_sha256_b64);
	if (f->serial_hex)
		jw_str(w, "serial_number", f->serial_hex);
	if (f->subject_dn)
		jw_str(w, "subject", f->subject_dn);
	if (f->issuer_dn)
		jw_str(w, "issuer", f->issuer_dn);
	jw_time_s(w, "not_before", f->not_before);
	jw_time_s(w, "not_after", f->not_after);
	json_key(w, f);
	jw_bool(w, "self_signed", f->self_signed);
	if (f->total_sans > f->n_sans)
		jw_uint(w, "alternative_names_total", f->total_sans);
	json_sans(w, f);	/* last: the longest part, cut first if anything is */
}

static void (*const frag_writer[FRAG_KINDS])(struct jw *, const struct cert_facts *) = {
	[FRAG_PEER] = peer_members,
	[FRAG_CHAIN] = chain_members,
};

/* The members of f as kind writes them, from the cache or made now; NULL
 * if they do not fit in FRAG_MAX (or no memory). */
static const struct frag *frag_get(struct output *o, enum frag_kind kind,
				   const struct cert_facts *f)
{
	struct frag *s = &o->frag[kind][(f->sha256[0] | (unsigned)f->sha256[1] << 8) % FRAG_SLOTS];
	struct jw t;
	size_t n;

	if (s->len && !memcmp(s->sha256, f->sha256, sizeof(s->sha256)))
		return s;
	s->len = 0;
	if (!s->text && !(s->text = malloc(FRAG_MAX)))
		return NULL;
	jw_init(&t, s->text, FRAG_MAX);
	jw_obj_begin(&t, NULL);
	frag_writer[kind](&t, f);
	n = jw_finish(&t);
	if (t.truncated || n < 3)
		return NULL;
	memmove(s->text, s->text + 1, n - 2);	/* the members, without the braces */
	s->len = (uint32_t)(n - 2);
	memcpy(s->sha256, f->sha256, sizeof(s->sha256));
	return s;
}

/* Opens object key holding f's members of that kind; the caller closes it. */
static void cert_obj_begin(struct output *o, struct jw *w, const char *key,
			   enum frag_kind kind, const struct cert_facts *f)
{
	const struct frag *s = frag_get(o, kind, f);

	if (s) {
		jw_obj_begin_with(w, key, s->text, s->len);
		return;
	}
	jw_obj_begin(w, key);
	frag_writer[kind](w, f);
}

static void json_tls(struct output *o, struct jw *w, const struct cs_report *r)
{
	const char *v = version_of(r), *c;
	const struct cert_facts *leaf = r->chain_len ? r->chain[0] : NULL;
	char hex[8];

	jw_obj_begin(w, "tls");
	if (v) {
		jw_str(w, "version", v);
		if (tls_version_protocol(r->version))
			jw_str(w, "version_protocol", tls_version_protocol(r->version));
	}
	if (has_cipher(r)) {
		if (!(c = tls_cipher_name(r->cipher))) {
			snprintf(hex, sizeof(hex), "0x%04X", r->cipher);
			c = hex;
		}
		jw_str(w, "cipher", c);
	}
	if (r->resumed || r->action == REPORT_RESUMED)
		jw_bool(w, "resumed", true);
	if (r->has_sni || (leaf && r->action == REPORT_CLIENT_CERTIFICATE)) {
		if (leaf && r->action == REPORT_CLIENT_CERTIFICATE)
			cert_obj_begin(o, w, "client", FRAG_PEER, leaf);
		else
			jw_obj_begin(w, "client");
		if (r->has_sni)
			jw_str(w, "server_name", r->sni);
		jw_obj_end(w);
	}
	if (r->alpn[0])
		jw_str(w, "next_protocol", r->alpn);
	if (leaf && r->action == REPORT_CERTIFICATE) {
		cert_obj_begin(o, w, "server", FRAG_PEER, leaf);
		jw_obj_end(w);
	}
	jw_obj_end(w);
}

static void json_chain_cert(struct output *o, struct jw *w, const struct cert_facts *f,
			    int64_t at)
{
	cert_obj_begin(o, w, NULL, FRAG_CHAIN, f);
	if (f->parse_ok)
		jw_str(w, "validity", validity(f, at));
	jw_obj_end(w);
}

static void json_ocsp(struct jw *w, const struct ocsp_facts *o)
{
	jw_obj_begin(w, "ocsp");
	if (!o->parse_ok) {
		jw_str(w, "parse_error", o->parse_error);
		jw_obj_end(w);
		return;
	}
	jw_str(w, "response_status", o->response_status_str);
	jw_str(w, "status", ocsp_status_name(o->cert_status));
	jw_bool(w, "matched_leaf", o->matched_leaf);
	if (o->serial_hex[0])
		jw_str(w, "serial_number", o->serial_hex);
	if (o->produced_at)
		jw_time_s(w, "produced_at", o->produced_at);
	if (o->this_update)
		jw_time_s(w, "this_update", o->this_update);
	if (o->next_update)
		jw_time_s(w, "next_update", o->next_update);
	if (o->cert_status == OCSP_ST_REVOKED) {
		jw_time_s(w, "revocation_time", o->revocation_time);
		if (o->reason >= 0)
			jw_str(w, "revocation_reason", o->reason_str);
	}
	if (o->responder[0])
		jw_str(w, "responder", o->responder);
	jw_str(w, "signature", !o->signature_checked ? "unchecked" :
			       o->signature_ok ? "valid" : "invalid");
	jw_obj_end(w);
}

static void json_alert(struct jw *w, const struct cs_report *r)
{
	char num[8];

	jw_obj_begin(w, "alert");
	jw_str(w, "from", r->alert_from_client ? "client" : "server");
	jw_str(w, "level", alert_level(r->alert_level));
	jw_str(w, "description", alert_desc(r, num, sizeof(num)));
	jw_uint(w, "code", r->alert_desc);
	if (r->alert_cert_sha256[0])
		jw_str(w, "after_certificate_sha256", r->alert_cert_sha256);
	jw_obj_end(w);
}

static void json_incomplete(struct jw *w, const struct cs_report *r)
{
	jw_obj_begin(w, "incomplete");
	jw_str(w, "reason", r->incomplete_reason ? r->incomplete_reason : "unknown");
	jw_str(w, "direction", r->lost_from_client ? "client" : "server");
	jw_uint(w, "lost_bytes", r->lost_bytes);
	jw_bool(w, "chain_reported", r->chain_reported);
	jw_obj_end(w);
}

static void json_verdict(struct jw *w, const struct verdict *v)
{
	jw_str(w, "verdict", v->n ? finding_name(v->f[0].code) : "ok");
	jw_str(w, "severity", severity_name(v->worst));
	if (!v->n)
		return;
	jw_arr_begin(w, "findings");
	for (uint32_t i = 0; i < v->n; i++) {
		jw_obj_begin(w, NULL);
		jw_str(w, "code", finding_name(v->f[i].code));
		jw_str(w, "severity", severity_name(v->f[i].sev));
		jw_str(w, "message", v->f[i].message);
		if (v->f[i].cert >= 0)
			jw_int(w, "certificate_index", v->f[i].cert);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	if (v->pin_pattern) {
		jw_obj_begin(w, "pin");
		jw_str(w, "rule", v->pin_pattern);
		jw_arr_begin(w, "expected");
		for (uint32_t i = 0; i < v->n_pin_expected; i++)
			jw_str(w, NULL, v->pin_expected[i]);
		jw_arr_end(w);
		jw_obj_end(w);
	}
}

static void json_certsentry(struct output *o, struct jw *w, const struct cs_report *r)
{
	jw_obj_begin(w, "certsentry");
	if (r->verdict)
		json_verdict(w, r->verdict);
	if (r->action == REPORT_CERTIFICATE_HIDDEN)
		jw_str(w, "reason", "TLS 1.3: certificate is encrypted");
	if (r->hello_retry)
		jw_bool(w, "hello_retry", true);
	if (r->alpn_offered[0])
		jw_str(w, "client_alpn", r->alpn_offered);
	if (r->action == REPORT_ALERT)
		json_alert(w, r);
	if (r->action == REPORT_INCOMPLETE)
		json_incomplete(w, r);
	if (r->have_ocsp)
		json_ocsp(w, &r->ocsp);
	if (has_chain(r)) {
		jw_time_s(w, "check_time", r->check_time);
		jw_uint(w, "chain_length", r->chain_len);
		jw_uint(w, "chain_total", r->chain_total);
		jw_arr_begin(w, "chain");
		for (uint32_t i = 0; i < r->chain_len && i < TLS_CHAIN_MAX; i++)
			if (r->chain[i])
				json_chain_cert(o, w, r->chain[i], r->check_time);
		jw_arr_end(w);
	}
	jw_obj_end(w);
}

static void json_observer(struct jw *w, const struct cs_report *r)
{
	char id[16];

	if (!r->ifname && !r->ifindex)
		return;
	jw_obj_begin(w, "observer");
	jw_obj_begin(w, r->hook == CS_HOOK_EGRESS ? "egress" : "ingress");
	jw_obj_begin(w, "interface");
	if (r->ifindex) {
		snprintf(id, sizeof(id), "%u", r->ifindex);	/* ECS: keyword */
		jw_str(w, "id", id);
	}
	if (r->ifname)
		jw_str(w, "name", r->ifname);
	jw_obj_end(w);
	jw_obj_end(w);
	jw_obj_end(w);
}

/* A sentence for the events on-call reads first: what happened, to what. */
static void json_message(struct jw *w, const struct cs_report *r)
{
	const struct verdict *v = r->verdict;
	char msg[512], num[8];

	if (v && v->n == 1) {
		jw_str(w, "message", v->f[0].message);	/* a NUL-terminated char[256] */
		return;
	}
	if (v && v->n > 1)
		snprintf(msg, sizeof(msg), "%.255s (+%u more: %s)", v->f[0].message, v->n - 1,
			 finding_name(v->f[1].code));
	else if (r->action == REPORT_ALERT)
		snprintf(msg, sizeof(msg), "%s sent %s alert %s%s%.16s", r->alert_from_client ?
			 "client" : "server", alert_level(r->alert_level),
			 alert_desc(r, num, sizeof(num)), r->alert_cert_sha256[0] ?
			 " after certificate sha256=" : "", r->alert_cert_sha256);
	else if (r->action == REPORT_INCOMPLETE)
		snprintf(msg, sizeof(msg), "%s lost %llu bytes: %s", r->lost_from_client ?
			 "client" : "server", (unsigned long long)r->lost_bytes,
			 r->incomplete_reason ? r->incomplete_reason : "unknown");
	else
		return;
	jw_str(w, "message", msg);
}

static size_t json_report(struct output *o, const struct cs_report *r, bool *trunc)
{
	struct jw w;
	size_t n;

	jw_init(&w, o->buf, OUTPUT_LINE_MAX);
	jw_obj_begin(&w, NULL);
	jw_time_ns(&w, "@timestamp", r->ts_ns);
	jw_obj_begin(&w, "ecs");
	jw_str(&w, "version", ECS_VERSION);
	jw_obj_end(&w);
	jw_obj_begin(&w, "event");
	jw_str(&w, "kind", r->verdict && r->verdict->n ? "alert" : "event");
	if (r->verdict)
		jw_int(&w, "severity", r->verdict->worst);
	jw_arr_begin(&w, "category");
	jw_str(&w, NULL, "network");
	jw_arr_end(&w);
	jw_arr_begin(&w, "type");
	jw_str(&w, NULL, "info");
	jw_arr_end(&w);
	jw_str(&w, "action", action_name(r));
	jw_str(&w, "dataset", "certsentry.tls");
	jw_obj_end(&w);
	json_endpoint(&w, "source", &r->client);
	json_endpoint(&w, "destination", &r->server);
	jw_obj_begin(&w, "network");
	jw_str(&w, "type", r->server.family == CS_AF_INET6 ? "ipv6" : "ipv4");
	jw_str(&w, "transport", r->transport == IPPROTO_UDP ? "udp" : "tcp");
	jw_str(&w, "protocol", r->transport == IPPROTO_UDP ? "dtls" : "tls");
	jw_obj_end(&w);
	json_observer(&w, r);
	if (r->verdict && r->verdict->n) {
		jw_obj_begin(&w, "rule");
		jw_str(&w, "name", finding_name(r->verdict->f[0].code));
		jw_obj_end(&w);
	}
	json_message(&w, r);
	json_tls(o, &w, r);
	json_certsentry(o, &w, r);
	jw_obj_end(&w);
	n = jw_finish(&w);
	*trunc = w.truncated;
	return n;
}

/* ---- text ---- */

struct tb { char *buf; size_t cap, len; bool trunc; };

static void tb_put(struct tb *t, const char *s, size_t n)
{
	if (t->trunc || n > t->cap - t->len) {
		t->trunc = true;
		return;
	}
	memcpy(t->buf + t->len, s, n);
	t->len += n;
}

__attribute__((format(printf, 2, 3)))
static void tb_printf(struct tb *t, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		tb_put(t, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Code points a terminal would act on or that can make a line lie about
 * itself: C1 controls, bidi overrides/isolates, line separators, BOM. */
static bool cp_unsafe(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9F) || (cp >= 0x200B && cp <= 0x200F) ||
	       (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) ||
	       cp == 0xFEFF;
}

enum safe_mode {
	SAFE_WORD,	/* bare value: space, quote, backslash escaped too */
	SAFE_QUOTED,	/* inside "": quote and backslash escaped */
	SAFE_TAIL,	/* last thing on the line: nothing after it to fake */
};

/* Untrusted text for a terminal: controls and bad bytes as \xHH, unsafe
 * code points as \u{...}, so a value can neither drive the terminal nor
 * fake another field. At most max input bytes, then "...". */
static void tb_safe(struct tb *t, const char *str, enum safe_mode m, size_t max)
{
	const unsigned char *s = (const unsigned char *)(str ? str : "");
	size_t n = strlen((const char *)s), i = 0;
	char esc[16];

	if (m == SAFE_QUOTED)
		tb_put(t, "\"", 1);
	while (i < n && i < max) {
		uint32_t cp;
		size_t k = jw_utf8_seq(s + i, n - i, &cp);

		if (k == 0 || cp < 0x20 || cp == 0x7F || (m == SAFE_WORD && cp == ' ')) {
			snprintf(esc, sizeof(esc), "\\x%02X", s[i]);
			tb_put(t, esc, 4);
			k = 1;
		} else if ((cp == '"' || cp == '\\') && m != SAFE_TAIL) {
			snprintf(esc, sizeof(esc), "\\%c", (char)cp);
			tb_put(t, esc, 2);
		} else if (cp_unsafe(cp)) {
			snprintf(esc, sizeof(esc), "\\u{%04X}", (unsigned)cp);
			tb_put(t, esc, strlen(esc));
		} else {
			tb_put(t, (const char *)s + i, k);
		}
		i += k;
	}
	if (i < n)
		tb_put(t, "...", 3);
	if (m == SAFE_QUOTED)
		tb_put(t, "\"", 1);
}

static void tb_endpoint(struct tb *t, const struct report_endpoint *ep)
{
	char ip[INET6_ADDRSTRLEN];
	const char *s = ep_ip(ep, ip, sizeof(ip));

	if (ep->family == CS_AF_INET6)
		tb_printf(t, "[%s]:%u", s ? s : "?", ep->port);
	else
		tb_printf(t, "%s:%u", s ? s : "?", ep->port);
}

static void tb_time(struct tb *t, uint64_t ns)
{
	char ts[32];

	if (!jw_fmt_time(ts, sizeof(ts), (int64_t)(ns / 1000000000ULL),
			 (unsigned)(ns / 1000000ULL % 1000)))
		snprintf(ts, sizeof(ts), "-");
	tb_put(t, ts, strlen(ts));
}

static void text_leaf(struct tb *t, const struct cs_report *r)
{
	const struct cert_facts *f = r->chain_len ? r->chain[0] : NULL;
	char day[32];

	if (!f) {
		tb_printf(t, " chain=0");
		return;
	}
	if (!f->parse_ok) {
		tb_printf(t, " leaf=unparsable error=");
		tb_safe(t, f->parse_error, SAFE_QUOTED, TEXT_FIELD_MAX);
	} else {
		tb_printf(t, " leaf=");
		tb_safe(t, f->subject_dn, SAFE_QUOTED, TEXT_FIELD_MAX);
		tb_printf(t, " issuer=");
		tb_safe(t, f->issuer_dn, SAFE_QUOTED, TEXT_FIELD_MAX);
		tb_printf(t, " serial=");
		tb_safe(t, f->serial_hex, SAFE_WORD, TEXT_FIELD_MAX);
	}
	tb_printf(t, " sha256=%.16s", f->sha256_hex);
	if (f->parse_ok) {
		if (!jw_fmt_time(day, sizeof(day), f->not_after, 0))
			snprintf(day, sizeof(day), "?");
		day[10] = '\0';	/* the date is what on-call needs */
		tb_printf(t, " expires=%s", day);
	}
	tb_printf(t, " chain=%u", r->chain_total > r->chain_len ? r->chain_total : r->chain_len);
}

static void text_tail(struct tb *t, const struct cs_report *r)
{
	char num[8];

	switch (r->action) {
	case REPORT_CERTIFICATE_HIDDEN:
		tb_printf(t, " certificate encrypted (TLS 1.3)");
		return;
	case REPORT_RESUMED:
		tb_printf(t, " session resumed: no certificate sent");
		return;
	case REPORT_ALERT:
		tb_printf(t, " %s alert %s from %s", alert_level(r->alert_level),
			  alert_desc(r, num, sizeof(num)), r->alert_from_client ? "client" : "server");
		if (r->alert_cert_sha256[0])
			tb_printf(t, " after sha256=%.16s", r->alert_cert_sha256);
		return;
	case REPORT_INCOMPLETE:
		tb_printf(t, " %s lost %llu bytes: ", r->lost_from_client ? "client" : "server",
			  (unsigned long long)r->lost_bytes);
		tb_safe(t, r->incomplete_reason ? r->incomplete_reason : "unknown", SAFE_TAIL,
			TEXT_FIELD_MAX);
		return;
	default:
		if (r->action == REPORT_CLIENT_CERTIFICATE)
			tb_printf(t, " client-certificate");
		text_leaf(t, r);
		if (r->have_ocsp && r->ocsp.parse_ok)
			tb_printf(t, " ocsp=%s%s%s%s", ocsp_status_name(r->ocsp.cert_status),
				  r->ocsp.cert_status == OCSP_ST_REVOKED && r->ocsp.reason >= 0 ? "(" : "",
				  r->ocsp.cert_status == OCSP_ST_REVOKED && r->ocsp.reason >= 0 ?
				  r->ocsp.reason_str : "",
				  r->ocsp.cert_status == OCSP_ST_REVOKED && r->ocsp.reason >= 0 ? ")" : "");
		else if (r->have_ocsp)
			tb_printf(t, " ocsp=unparsable");
	}
}

/* Findings last, worst first: the part on-call scans for. */
static void text_verdict(struct tb *t, const struct verdict *v)
{
	if (!v)
		return;
	if (!v->n) {
		tb_printf(t, " verdict=ok");
		return;
	}
	tb_printf(t, " ALERT[%s]", severity_name(v->worst));
	for (uint32_t i = 0; i < v->n; i++) {
		tb_printf(t, " %s: ", finding_name(v->f[i].code));
		tb_safe(t, v->f[i].message, SAFE_TAIL, TEXT_FIELD_MAX);
		tb_printf(t, i + 1 < v->n ? ";" : "");
	}
}

static size_t text_report(struct output *o, const struct cs_report *r, bool *trunc)
{
	struct tb t = { o->buf, OUTPUT_LINE_MAX, 0, false };
	const char *v = version_of(r), *c;

	tb_time(&t, r->ts_ns);
	tb_printf(&t, " %s ", action_name(r));
	tb_endpoint(&t, &r->client);
	tb_printf(&t, " -> ");
	tb_endpoint(&t, &r->server);
	if (r->ifname) {
		tb_printf(&t, " if=");
		tb_safe(&t, r->ifname, SAFE_WORD, TEXT_FIELD_MAX);
		tb_printf(&t, r->hook == CS_HOOK_EGRESS ? "/out" : "/in");
	}
	if (r->has_sni) {
		tb_printf(&t, " sni=");
		tb_safe(&t, r->sni, SAFE_WORD, TEXT_FIELD_MAX);
	}
	if (v) {	/* "TLS1.2", "SSL3.0", "DTLS1.2" */
		const char *p = tls_version_protocol(r->version);

		tb_printf(&t, " %s%s", p && !strcmp(p, "ssl") ? "SSL" :
			  p && !strcmp(p, "dtls") ? "DTLS" : "TLS", v);
	}
	if (has_cipher(r)) {
		if ((c = tls_cipher_name(r->cipher)))
			tb_printf(&t, " %s", c);
		else
			tb_printf(&t, " cipher=0x%04X", r->cipher);
	}
	if (r->alpn[0]) {
		tb_printf(&t, " alpn=");
		tb_safe(&t, r->alpn, SAFE_WORD, TEXT_FIELD_MAX);
	}
	if (r->hello_retry)
		tb_printf(&t, " hello-retry");
	text_tail(&t, r);
	text_verdict(&t, r->verdict);
	*trunc = t.trunc;
	return t.len;
}

/* ---- entry points ---- */

int output_report(struct output *o, const struct cs_report *r)
{
	bool trunc = false;
	size_t n;

	if (!o || !r)
		return -1;
	n = o->fmt == OUTPUT_TEXT ? text_report(o, r, &trunc) : json_report(o, r, &trunc);
	if (trunc)
		o->st.truncated++;
	o->line_sev = r->verdict ? (int)r->verdict->worst : 6;
	return emit(o, n);
}

/* syslog numbers, as ECS event.severity suggests */
static int severity_num(const char *s)
{
	static const char *const names[] = {
		"emergency", "alert", "critical", "error", "warning", "notice", "info", "debug",
	};

	for (int i = 0; s && i < 8; i++)
		if (!strcmp(s, names[i]))
			return i;
	return s && !strcmp(s, "warn") ? 4 : -1;
}

int output_status(struct output *o, uint64_t ts_ns, const char *action,
		  const char *severity, const char *msg)
{
	size_t n;

	if (!o)
		return -1;
	o->line_sev = severity_num(severity) >= 0 ? severity_num(severity) : 6;
	if (o->fmt == OUTPUT_TEXT) {
		struct tb t = { o->buf, OUTPUT_LINE_MAX, 0, false };

		tb_time(&t, ts_ns);
		tb_printf(&t, " ");
		tb_safe(&t, action ? action : "status", SAFE_WORD, TEXT_FIELD_MAX);
		tb_printf(&t, " [");
		tb_safe(&t, severity ? severity : "info", SAFE_WORD, TEXT_FIELD_MAX);
		tb_printf(&t, "] ");
		tb_safe(&t, msg, SAFE_TAIL, OUTPUT_LINE_MAX);
		n = t.len;
	} else {
		struct jw w;
		int sev = severity_num(severity);

		jw_init(&w, o->buf, OUTPUT_LINE_MAX);
		jw_obj_begin(&w, NULL);
		jw_time_ns(&w, "@timestamp", ts_ns);
		jw_obj_begin(&w, "ecs");
		jw_str(&w, "version", ECS_VERSION);
		jw_obj_end(&w);
		jw_obj_begin(&w, "event");
		jw_str(&w, "kind", "event");
		jw_str(&w, "action", action ? action : "status");
		jw_str(&w, "dataset", "certsentry.status");
		if (sev >= 0)
			jw_int(&w, "severity", sev);
		jw_obj_end(&w);
		jw_obj_begin(&w, "log");
		jw_str(&w, "level", severity ? severity : "info");
		jw_obj_end(&w);
		if (msg)
			jw_str(&w, "message", msg);
		jw_obj_end(&w);
		n = jw_finish(&w);
	}
	/* operators watch status lines: they go out at once */
	if (emit(o, n))
		return -1;
	return output_flush(o);
}

int output_summary(struct output *o, const struct dedup_summary *s)
{
	struct cs_report r = { .action = s->action, .ts_ns = s->ts_ns, .server = s->server,
			       .has_sni = s->has_sni };
	char first[32], last[32];
	bool bad = strcmp(s->verdict, "ok") != 0;
	size_t n;

	memcpy(r.sni, s->sni, sizeof(r.sni));
	if (!o)
		return -1;
	o->line_sev = s->severity;
	if (!jw_fmt_time(first, sizeof(first), (int64_t)(s->first_ns / 1000000000ULL),
			 (unsigned)(s->first_ns / 1000000ULL % 1000)))
		snprintf(first, sizeof(first), "-");
	if (!jw_fmt_time(last, sizeof(last), (int64_t)(s->last_ns / 1000000000ULL),
			 (unsigned)(s->last_ns / 1000000ULL % 1000)))
		snprintf(last, sizeof(last), "-");
	if (o->fmt == OUTPUT_TEXT) {
		struct tb t = { o->buf, OUTPUT_LINE_MAX, 0, false };

		tb_time(&t, s->ts_ns);
		tb_printf(&t, " summary %s seen %llu more times from %s%u clients -> ",
			  action_name(&r), (unsigned long long)s->count,
			  s->clients_capped ? ">" : "", s->clients);
		tb_endpoint(&t, &s->server);
		if (s->has_sni) {
			tb_printf(&t, " sni=");
			tb_safe(&t, s->sni, SAFE_WORD, TEXT_FIELD_MAX);
		}
		if (s->leaf_sha256[0])
			tb_printf(&t, " sha256=%.16s", s->leaf_sha256);
		tb_printf(&t, " verdict=%s first=%s last=%s", s->verdict, first, last);
		n = t.len;
	} else {
		struct jw w;
		char ip[INET6_ADDRSTRLEN];

		jw_init(&w, o->buf, OUTPUT_LINE_MAX);
		jw_obj_begin(&w, NULL);
		jw_time_ns(&w, "@timestamp", s->ts_ns);
		jw_obj_begin(&w, "ecs");
		jw_str(&w, "version", ECS_VERSION);
		jw_obj_end(&w);
		jw_obj_begin(&w, "event");
		jw_str(&w, "kind", bad ? "alert" : "event");
		jw_int(&w, "severity", s->severity);
		jw_str(&w, "action", "tls-summary");
		jw_str(&w, "dataset", "certsentry.tls");
		jw_uint(&w, "count", s->count);
		jw_time_ns(&w, "start", s->first_ns);
		jw_time_ns(&w, "end", s->last_ns);
		jw_obj_end(&w);
		if (bad) {
			jw_obj_begin(&w, "rule");
			jw_str(&w, "name", s->verdict);
			jw_obj_end(&w);
		}
		jw_obj_begin(&w, "destination");
		if (ep_ip(&s->server, ip, sizeof(ip)))
			jw_str(&w, "ip", ip);
		jw_uint(&w, "port", s->server.port);
		jw_obj_end(&w);
		jw_obj_begin(&w, "tls");
		if (s->has_sni) {
			jw_obj_begin(&w, "client");
			jw_str(&w, "server_name", s->sni);
			jw_obj_end(&w);
		}
		if (s->leaf_sha256[0]) {
			jw_obj_begin(&w, "server");
			jw_obj_begin(&w, "hash");
			jw_str(&w, "sha256", s->leaf_sha256);
			jw_obj_end(&w);
			jw_obj_end(&w);
		}
		jw_obj_end(&w);
		jw_obj_begin(&w, "certsentry");
		jw_str(&w, "verdict", s->verdict);
		jw_obj_begin(&w, "summary");
		jw_str(&w, "of", action_name(&r));
		jw_uint(&w, "count", s->count);
		jw_str(&w, "first_seen", first);
		jw_str(&w, "last_seen", last);
		jw_uint(&w, "distinct_clients", s->clients);
		if (s->clients_capped)
			jw_bool(&w, "distinct_clients_capped", true);
		jw_obj_end(&w);
		jw_obj_end(&w);
		jw_obj_end(&w);
		n = jw_finish(&w);
	}
	return emit(o, n);
}
