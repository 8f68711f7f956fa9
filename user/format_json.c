/* format_json.c - ECS-nested JSON lines: reports, summaries, status; the envelope once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <linux/types.h>
#include "certsentry.h"
#include "inventory.h"
#include "checks.h"
#include "events.h"
#include "fmt.h"
#include "format.h"
#include "outcomes.h"
#include "json.h"

#define ECS_VERSION "8.11.0"

/*
 * A certificate's JSON is the bulk of a line and the same in every line that
 * names it: its members are written once per distinct certificate and kind
 * and copied after that. Direct-mapped by the DER's SHA-256; a certificate
 * whose members pass FRAG_MAX is written token by token, as before (so that
 * a line past the line bound is still cut inside its SAN list).
 */
#define FRAG_SLOTS 512
#define FRAG_MAX   4096
enum frag_kind { FRAG_PEER, FRAG_CHAIN, FRAG_KINDS };

struct frag {
	uint8_t sha256[32];
	uint32_t len; /* 0: empty */
	char *text;   /* FRAG_MAX bytes, allocated at first use */
};

/*
 * certsentry.client, the hello's lists by name, is the same for every
 * handshake of one client stack: kept by the summary it was written from,
 * direct-mapped by the JA4.
 */
#define HELLO_SLOTS 64
#define HELLO_MAX   1024

struct hello_text {
	struct hello_summary h;
	uint32_t len; /* 0: empty */
	char *text;   /* HELLO_MAX bytes, allocated at first use */
};

struct json_state {
	struct frag frag[FRAG_KINDS][FRAG_SLOTS];
	struct hello_text hello[HELLO_SLOTS];
};

static void *json_state_new(void)
{
	return calloc(1, sizeof(struct json_state));
}

static void json_state_free(void *state)
{
	struct json_state *js = state;

	if (!js)
		return;
	for (int k = 0; k < FRAG_KINDS; k++)
		for (int i = 0; i < FRAG_SLOTS; i++)
			free(js->frag[k][i].text);
	for (int i = 0; i < HELLO_SLOTS; i++)
		free(js->hello[i].text);
	free(js);
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

/* domain: the server's name (the SNI) for destination, as ECS asks
 * (destination.domain, a copy of tls.client.server_name); else NULL. */
static void json_endpoint(struct jw *w, const char *key, const struct report_endpoint *ep,
			  const char *domain)
{
	char ip[INET6_ADDRSTRLEN];

	jw_obj_begin(w, key);
	if (fmt_ip(ep, ip, sizeof(ip)))
		jw_str(w, "ip", ip);
	jw_uint(w, "port", ep->port);
	if (domain)
		jw_str(w, "domain", domain);
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
	json_sans(w, f); /* last: the longest part, cut first if anything is */
}

static void (*const frag_writer[FRAG_KINDS])(struct jw *, const struct cert_facts *) = {
	[FRAG_PEER] = peer_members,
	[FRAG_CHAIN] = chain_members,
};

/* Members text made once to be copied into lines: members_begin opens a
 * scratch object in *text (allocated at first use), members_end takes its
 * braces off and gives the length; false and 0 where they do not fit cap
 * (or no memory). */
static bool members_begin(struct jw *t, char **text, size_t cap)
{
	if (!*text && !(*text = malloc(cap)))
		return false;
	jw_init(t, *text, cap);
	jw_obj_begin(t, NULL);
	return true;
}

static uint32_t members_end(struct jw *t)
{
	size_t n = jw_finish(t);

	if (t->truncated || n < 3)
		return 0;
	memmove(t->buf, t->buf + 1, n - 2);
	return (uint32_t)(n - 2);
}

/* The members of f as kind writes them, from the cache or made now; NULL
 * if they do not fit in FRAG_MAX (or no memory). */
static const struct frag *frag_get(struct json_state *js, enum frag_kind kind,
				   const struct cert_facts *f)
{
	unsigned slot = (f->sha256[0] | (unsigned)f->sha256[1] << 8) % FRAG_SLOTS;
	struct frag *s = &js->frag[kind][slot];
	struct jw t;

	if (s->len && !memcmp(s->sha256, f->sha256, sizeof(s->sha256)))
		return s;
	s->len = 0;
	if (!members_begin(&t, &s->text, FRAG_MAX))
		return NULL;
	frag_writer[kind](&t, f);
	if (!(s->len = members_end(&t)))
		return NULL;
	memcpy(s->sha256, f->sha256, sizeof(s->sha256));
	return s;
}

/* Opens object key holding f's members of that kind; the caller closes it. */
static void cert_obj_begin(struct json_state *js, struct jw *w, const char *key,
			   enum frag_kind kind, const struct cert_facts *f)
{
	const struct frag *s = frag_get(js, kind, f);

	if (s) {
		jw_obj_begin_with(w, key, s->text, s->len);
		return;
	}
	jw_obj_begin(w, key);
	frag_writer[kind](w, f);
}

static void json_tls(struct json_state *js, struct jw *w, const struct cs_report *r)
{
	const char *v = report_version(r), *c;
	const struct cert_facts *leaf = r->chain_len ? r->chain[0] : NULL;
	char hex[8];

	jw_obj_begin(w, "tls");
	if (v) {
		jw_str(w, "version", v);
		if (tls_version_protocol(r->version))
			jw_str(w, "version_protocol", tls_version_protocol(r->version));
	}
	if (report_has_cipher(r)) {
		if (!(c = tls_cipher_name(r->cipher))) {
			snprintf(hex, sizeof(hex), "0x%04X", r->cipher);
			c = hex;
		}
		jw_str(w, "cipher", c);
	}
	if (r->resumed || r->action == REPORT_RESUMED)
		jw_bool(w, "resumed", true);
	if (r->has_sni || (leaf && r->action == REPORT_CLIENT_CERTIFICATE) ||
	    (r->have_hello && r->hello.fp.ja3[0])) {
		if (leaf && r->action == REPORT_CLIENT_CERTIFICATE)
			cert_obj_begin(js, w, "client", FRAG_PEER, leaf);
		else
			jw_obj_begin(w, "client");
		if (r->has_sni)
			jw_str(w, "server_name", r->sni);
		if (r->have_hello && r->hello.fp.ja3[0])
			jw_str(w, "ja3", r->hello.fp.ja3); /* ECS tls.client.ja3 */
		jw_obj_end(w);
	}
	if (r->alpn[0])
		jw_str(w, "next_protocol", r->alpn);
	if (leaf && r->action == REPORT_CERTIFICATE) {
		cert_obj_begin(js, w, "server", FRAG_PEER, leaf);
		jw_obj_end(w);
	}
	jw_obj_end_or_drop(w); /* an alert or a hole before any hello: no tls at all */
}

static void json_chain_cert(struct json_state *js, struct jw *w, const struct cert_facts *f,
			    int64_t at)
{
	cert_obj_begin(js, w, NULL, FRAG_CHAIN, f);
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
	jw_str(w, "status", ocsp_cert_status_name(o->cert_status));
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
	jw_str(w, "signature",
	       !o->signature_checked ? "unchecked" :
	       o->signature_ok	     ? "valid" :
				       "invalid");
	jw_obj_end(w);
}

/* certsentry.client: the hello's facts that tell client stacks apart. */
static void json_hello_list(struct jw *w, const char *key, enum hello_kind kind, const uint16_t *v,
			    uint8_t n)
{
	char buf[8];

	jw_arr_begin(w, key);
	for (uint8_t i = 0; i < n; i++)
		jw_str(w, NULL, hello_label(kind, v[i], buf, sizeof(buf)));
	jw_arr_end(w);
}

static void client_members(struct jw *w, const struct hello_summary *h)
{
	if (h->fp.ja4[0])
		jw_str(w, "ja4", h->fp.ja4);
	json_hello_list(w, "versions", HELLO_VERSION, h->versions, h->n_versions);
	json_hello_list(w, "groups", HELLO_GROUP, h->groups, h->n_groups);
	if (h->groups_total > h->n_groups)
		jw_uint(w, "groups_total", h->groups_total);
	json_hello_list(w, "signature_algorithms", HELLO_SIGALG, h->sigalgs, h->n_sigalgs);
	if (h->sigalgs_total > h->n_sigalgs)
		jw_uint(w, "signature_algorithms_total", h->sigalgs_total);
	jw_uint(w, "cipher_suites", h->suites_total);
	if (h->flags & HELLO_F_GREASE)
		jw_bool(w, "grease", true);
	if (h->flags & HELLO_F_PSK)
		jw_bool(w, "psk", true);
	if (h->flags & HELLO_F_EARLY_DATA)
		jw_bool(w, "early_data", true);
}

/* Everything client_members reads is the same in a and b. */
static bool hello_same(const struct hello_summary *a, const struct hello_summary *b)
{
	return a->n_versions == b->n_versions && a->n_groups == b->n_groups &&
	       a->n_sigalgs == b->n_sigalgs && a->groups_total == b->groups_total &&
	       a->sigalgs_total == b->sigalgs_total && a->suites_total == b->suites_total &&
	       a->flags == b->flags && !strcmp(a->fp.ja4, b->fp.ja4) &&
	       !memcmp(a->versions, b->versions, a->n_versions * sizeof(a->versions[0])) &&
	       !memcmp(a->groups, b->groups, a->n_groups * sizeof(a->groups[0])) &&
	       !memcmp(a->sigalgs, b->sigalgs, a->n_sigalgs * sizeof(a->sigalgs[0]));
}

/* h's members as client_members writes them, from the memo or made now;
 * NULL if they do not fit HELLO_MAX (or no memory). */
static const struct hello_text *hello_get(struct json_state *js, const struct hello_summary *h)
{
	unsigned hash = 0;
	struct hello_text *s;
	struct jw t;

	for (const char *c = h->fp.ja4; *c; c++)
		hash = hash * 31 + (unsigned char)*c;
	s = &js->hello[hash % HELLO_SLOTS];
	if (s->len && hello_same(&s->h, h))
		return s;
	s->len = 0;
	if (!members_begin(&t, &s->text, HELLO_MAX))
		return NULL;
	client_members(&t, h);
	if (!(s->len = members_end(&t)))
		return NULL;
	s->h = *h;
	return s;
}

/* Whole from the memo where it fits the line; else token by token, to be
 * cut where that cuts. */
static void json_client(struct json_state *js, struct jw *w, const struct cs_report *r)
{
	const struct hello_text *s;

	if (!r->have_hello)
		return;
	s = hello_get(js, &r->hello);
	if (!s || !jw_obj_try_with(w, "client", s->text, s->len)) {
		jw_obj_begin(w, "client");
		client_members(w, &r->hello);
	}
	jw_obj_end(w);
}

static const char *cert_basis_name(uint8_t b)
{
	return b == CERT_BASIS_ENDPOINT	  ? "last_seen_for_server_and_sni" :
	       b == CERT_BASIS_CONNECTION ? "this_connection" :
					    NULL;
}

/* certsentry.client_outcome and its detail (TLS 1.3). */
static void json_outcome(struct jw *w, const struct cs_report *r)
{
	char num[8];

	if (!r->outcome)
		return;
	jw_str(w, "client_outcome", outcome_name((enum client_outcome)r->outcome));
	jw_obj_begin(w, "client_outcome_detail");
	if (r->outcome_reason)
		jw_str(w, "reason", r->outcome_reason);
	if (r->outcome_rec_len)
		jw_uint(w, "first_record_length", r->outcome_rec_len);
	if (r->action == REPORT_CLIENT_OUTCOME && r->outcome_alert) {
		jw_str(w, "alert", report_alert_desc(r, num, sizeof(num)));
		jw_uint(w, "alert_code", r->alert_desc);
		jw_bool(w, "decrypted", r->outcome_decrypted);
	}
	if (r->action == REPORT_CLIENT_OUTCOME && r->alert_cert_sha256[0]) {
		jw_str(w, "certificate_sha256", r->alert_cert_sha256);
		jw_str(w, "certificate_from", cert_basis_name(r->cert_basis));
	}
	jw_obj_end(w);
}

/* certsentry.outcomes: a (server, SNI) window (tls-client-aborting*). */
static void json_window(struct jw *w, const struct cs_report *r)
{
	jw_obj_begin(w, "outcomes");
	jw_uint(w, "window_s", r->win_s);
	jw_uint(w, "handshakes", r->win_total);
	jw_uint(w, "accepted", r->win_accepted);
	jw_uint(w, "aborted", r->win_aborted);
	jw_uint(w, "abort_pct", r->win_total ? 100ULL * r->win_aborted / r->win_total : 0);
	jw_uint(w, "threshold_pct", r->win_pct);
	jw_uint(w, "min_handshakes", r->win_min);
	if (r->alert_cert_sha256[0]) {
		jw_str(w, "leaf_sha256", r->alert_cert_sha256);
		jw_str(w, "leaf_from", cert_basis_name(r->cert_basis));
	}
	jw_arr_begin(w, "families");
	for (uint32_t i = 0; i < r->n_families && i < REPORT_FAMILIES_MAX; i++) {
		jw_obj_begin(w, NULL);
		jw_str(w, "ja4", r->families[i].ja4);
		jw_uint(w, "handshakes", r->families[i].total);
		jw_uint(w, "aborted", r->families[i].aborted);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_obj_end(w);
}

static void json_alert(struct jw *w, const struct cs_report *r)
{
	char num[8];

	jw_obj_begin(w, "alert");
	jw_str(w, "from", r->alert_from_client ? "client" : "server");
	jw_str(w, "level", report_alert_level(r->alert_level));
	jw_str(w, "description", report_alert_desc(r, num, sizeof(num)));
	jw_uint(w, "code", r->alert_desc);
	if (r->alert_cert_sha256[0]) {
		jw_str(w, "after_certificate_sha256", r->alert_cert_sha256);
		if (cert_basis_name(r->cert_basis))
			jw_str(w, "certificate_from", cert_basis_name(r->cert_basis));
	}
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
	jw_str(w, "verdict", verdict_name(v));
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

static void json_source(struct jw *w, const char *key, const struct verdict_source *s)
{
	if (!s->set)
		return;
	jw_obj_begin(w, key);
	jw_str(w, "source", s->source);
	jw_str(w, "status", s->status);
	if (s->url[0])
		jw_str(w, "url", s->url);
	if (s->number[0])
		jw_str(w, "crl_number", s->number);
	if (s->this_update)
		jw_time_s(w, "this_update", s->this_update);
	if (s->why[0])
		jw_str(w, "why", s->why);
	jw_obj_end(w);
}

/* What was consulted on the leaf's revocation, or why nothing was. */
static void json_revocation(struct jw *w, const struct verdict *v)
{
	if (!v->rev_crl.set && !v->rev_ocsp.set)
		return;
	jw_obj_begin(w, "revocation");
	json_source(w, "crl", &v->rev_crl);
	json_source(w, "ocsp", &v->rev_ocsp);
	jw_obj_end(w);
}

static void json_inv_leaf(struct jw *w, const char *key, const struct inventory_leaf *l)
{
	jw_obj_begin(w, key);
	jw_str(w, "sha256", l->sha256);
	if (l->parsed) {
		jw_str(w, "serial", l->serial);
		jw_str(w, "issuer", l->issuer);
		jw_time_s(w, "not_before", l->not_before);
		jw_time_s(w, "not_after", l->not_after);
	}
	jw_time_s(w, "first_seen", l->first_seen);
	jw_time_s(w, "last_seen", l->last_seen);
	jw_obj_end(w);
}

/* The inventory's decision: the previous and the new leaf, or the shares. */
static void json_change(struct jw *w, const struct inventory_decision *d)
{
	jw_obj_begin(w, "change");
	if (d->flags & (INV_CHANGED | INV_ROLLBACK)) {
		json_inv_leaf(w, "previous", &d->prev);
		json_inv_leaf(w, "new", &d->cur);
		jw_bool(w, "renewal", d->flags & INV_RENEWAL);
	}
	if (d->flags & INV_ROLLBACK) {
		jw_bool(w, "issued_before", d->rollback_why & INV_RB_ISSUED_BEFORE);
		jw_bool(w, "served_before", d->rollback_why & INV_RB_SERVED_BEFORE);
		if (d->rollback_why & INV_RB_SERVED_BEFORE)
			jw_int(w, "absent_seconds", d->absent_s);
	}
	if (d->flags & INV_INCONSISTENT) {
		jw_uint(w, "window_seconds", d->window_s);
		jw_bool(w, "flapping", d->flags & INV_FLAPPING);
		jw_arr_begin(w, "shares");
		for (uint32_t i = 0; i < d->n_shares && i < INV_SHARES_MAX; i++) {
			jw_obj_begin(w, NULL);
			jw_str(w, "sha256", d->shares[i].leaf.sha256);
			if (d->shares[i].leaf.parsed)
				jw_str(w, "serial", d->shares[i].leaf.serial);
			jw_uint(w, "handshakes", d->shares[i].handshakes);
			jw_uint(w, "permille", d->shares[i].permille);
			jw_obj_end(w);
		}
		jw_arr_end(w);
	}
	jw_obj_end(w);
}

static void json_certsentry(struct json_state *js, struct jw *w, const struct cs_report *r)
{
	jw_obj_begin(w, "certsentry");
	if (r->verdict)
		json_verdict(w, r->verdict);
	if (r->recheck) {
		jw_obj_begin(w, "recheck");
		jw_str(w, "reason", r->recheck);
		if (r->recheck_prev)
			jw_str(w, "previous_verdict", r->recheck_prev);
		jw_obj_end(w);
	}
	if (r->verdict)
		json_revocation(w, r->verdict);
	if (r->verdict && r->verdict->change)
		json_change(w, r->verdict->change);
	if (r->action == REPORT_CERTIFICATE_HIDDEN)
		jw_str(w, "reason", "TLS 1.3: certificate encrypted, no key source gave it");
	if (r->hello_retry)
		jw_bool(w, "hello_retry", true);
	/* certsentry.source itself is written with the chain, below */
	if (r->source == SOURCE_CONFIRM)
		jw_str(w, "note",
		       "certificate fetched by certsentry's own TLS handshake "
		       "(--confirm), not observed in a client's handshake");
	if (r->alpn_offered[0])
		jw_str(w, "client_alpn", r->alpn_offered);
	if (r->action == REPORT_ALERT)
		json_alert(w, r);
	json_client(js, w, r);
	json_outcome(w, r);
	if (r->action == REPORT_CLIENT_ABORTING || r->action == REPORT_CLIENT_ABORTING_CLEARED)
		json_window(w, r);
	if (r->action == REPORT_INCOMPLETE)
		json_incomplete(w, r);
	if (r->have_ocsp)
		json_ocsp(w, &r->ocsp);
	if (has_chain(r)) {
		jw_str(w, "source", report_source_name(r));
		if (report_binding_name(r))
			jw_str(w, "binding", report_binding_name(r));
		jw_time_s(w, "check_time", r->check_time);
		jw_uint(w, "chain_length", r->chain_len);
		jw_uint(w, "chain_total", r->chain_total);
		jw_arr_begin(w, "chain");
		for (uint32_t i = 0; i < r->chain_len && i < TLS_CHAIN_MAX; i++)
			if (r->chain[i])
				json_chain_cert(js, w, r->chain[i], r->check_time);
		jw_arr_end(w);
	}
	jw_obj_end_or_drop(w); /* a resumption not judged: nothing of its own */
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
		snprintf(id, sizeof(id), "%u", r->ifindex); /* ECS: keyword */
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
		jw_str(w, "message", v->f[0].message); /* a NUL-terminated char[256] */
		return;
	}
	if (v && v->n > 1)
		snprintf(msg, sizeof(msg), "%.255s (+%u more: %s)", v->f[0].message, v->n - 1,
			 finding_name(v->f[1].code));
	else if (r->action == REPORT_ALERT)
		snprintf(msg, sizeof(msg), "%s sent %s alert %s%s%.16s",
			 r->alert_from_client ? "client" : "server",
			 report_alert_level(r->alert_level), report_alert_desc(r, num, sizeof(num)),
			 r->alert_cert_sha256[0] ? " after certificate sha256=" : "",
			 r->alert_cert_sha256);
	else if (r->action == REPORT_CLIENT_OUTCOME)
		snprintf(msg, sizeof(msg), "TLS 1.3 client outcome %s: %s",
			 outcome_name((enum client_outcome)r->outcome),
			 r->outcome_reason ? r->outcome_reason : "");
	else if (r->action == REPORT_CLIENT_ABORTING_CLEARED)
		snprintf(msg, sizeof(msg),
			 "Clients abort %u of %u TLS 1.3 handshakes in %us: "
			 "below %u%% again",
			 r->win_aborted, r->win_total, r->win_s, r->win_pct);
	else if (r->action == REPORT_INCOMPLETE)
		snprintf(msg, sizeof(msg), "%s lost %llu bytes: %s",
			 r->lost_from_client ? "client" : "server",
			 (unsigned long long)r->lost_bytes,
			 r->incomplete_reason ? r->incomplete_reason : "unknown");
	else
		return;
	jw_str(w, "message", msg);
}

/* What every line starts with, whatever it reports. */
struct ecs_envelope {
	uint64_t ts_ns;
	const char *kind; /* event.kind: "event" or "alert" */
	int severity;	  /* event.severity (syslog numbers); < 0: none */
	bool network;	  /* event.category ["network"], event.type ["info"] */
	const char *action;
	const char *dataset;
	bool span; /* a summary: event.start, .end (its count: certsentry.summary) */
	uint64_t start_ns, end_ns;
};

/* Opens the line's object and writes @timestamp, ecs and event: the ECS
 * envelope, for every kind of line, here only. The caller closes. */
static void json_envelope(struct jw *w, struct line *l, const struct ecs_envelope *e)
{
	jw_init(w, l->buf, l->cap);
	jw_obj_begin(w, NULL);
	jw_time_ns(w, "@timestamp", e->ts_ns);
	jw_obj_begin(w, "ecs");
	jw_str(w, "version", ECS_VERSION);
	jw_obj_end(w);
	jw_obj_begin(w, "event");
	jw_str(w, "kind", e->kind);
	if (e->severity >= 0)
		jw_int(w, "severity", e->severity);
	if (e->network) {
		jw_arr_begin(w, "category");
		jw_str(w, NULL, "network");
		jw_arr_end(w);
		jw_arr_begin(w, "type");
		jw_str(w, NULL, "info");
		jw_arr_end(w);
	}
	jw_str(w, "action", e->action);
	jw_str(w, "dataset", e->dataset);
	if (e->span) {
		jw_time_ns(w, "start", e->start_ns);
		jw_time_ns(w, "end", e->end_ns);
	}
	jw_obj_end(w);
}

static size_t json_close(struct jw *w, struct line *l)
{
	size_t n;

	jw_obj_end(w);
	n = jw_finish(w);
	l->truncated = w->truncated;
	return n;
}

static void json_rule(struct jw *w, const char *name)
{
	jw_obj_begin(w, "rule");
	jw_str(w, "name", name);
	jw_obj_end(w);
}

static size_t json_report(void *state, struct line *l, const struct cs_report *r)
{
	struct ecs_envelope e = {
		.ts_ns = r->ts_ns,
		.kind = r->verdict && r->verdict->n ? "alert" : "event",
		.severity = r->verdict ? (int)r->verdict->worst : -1,
		.network = true,
		.action = action_name(r),
		.dataset = "certsentry.tls",
	};
	struct jw w;

	json_envelope(&w, l, &e);
	if (r->client.family) /* a window's events have no client */
		json_endpoint(&w, "source", &r->client, NULL);
	json_endpoint(&w, "destination", &r->server, r->has_sni ? r->sni : NULL);
	jw_obj_begin(&w, "network");
	jw_str(&w, "type", r->server.family == CS_AF_INET6 ? "ipv6" : "ipv4");
	jw_str(&w, "transport", r->transport == IPPROTO_UDP ? "udp" : "tcp");
	jw_str(&w, "protocol", r->transport == IPPROTO_UDP ? "dtls" : "tls");
	jw_obj_end(&w);
	json_observer(&w, r);
	if (r->verdict && r->verdict->n)
		json_rule(&w, finding_name(r->verdict->f[0].code));
	json_message(&w, r);
	json_tls(state, &w, r);
	json_certsentry(state, &w, r);
	return json_close(&w, l);
}

static size_t json_summary(void *state, struct line *l, const struct dedup_summary *s)
{
	struct cs_report r = { .action = s->action };
	bool bad = strcmp(s->verdict, "ok") && strcmp(s->verdict, "unverified");
	struct ecs_envelope e = {
		.ts_ns = s->ts_ns,
		.kind = bad ? "alert" : "event",
		.severity = s->severity,
		.action = event_action_name(EV_TLS_SUMMARY),
		.dataset = "certsentry.tls",
		.span = true,
		.start_ns = s->first_ns,
		.end_ns = s->last_ns,
	};
	char first[FMT_TIME_CAP], last[FMT_TIME_CAP];
	struct jw w;

	(void)state;
	fmt_time_ns(first, sizeof(first), s->first_ns, "-");
	fmt_time_ns(last, sizeof(last), s->last_ns, "-");
	json_envelope(&w, l, &e);
	if (bad)
		json_rule(&w, s->verdict);
	json_endpoint(&w, "destination", &s->server, s->has_sni ? s->sni : NULL);
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
	jw_obj_end_or_drop(&w);
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
	return json_close(&w, l);
}

static size_t json_status(void *state, struct line *l, const struct status_event *s)
{
	struct ecs_envelope e = {
		.ts_ns = s->ts_ns,
		.kind = "event",
		.severity = s->sev,
		.action = s->action ? s->action : "status",
		.dataset = DATASET_STATUS,
	};
	struct jw w;

	(void)state;
	json_envelope(&w, l, &e);
	jw_obj_begin(&w, "log");
	jw_str(&w, "level", s->severity ? s->severity : "info");
	jw_obj_end(&w);
	if (s->msg)
		jw_str(&w, "message", s->msg);
	return json_close(&w, l);
}

const struct format_ops format_json = {
	.state_new = json_state_new,
	.state_free = json_state_free,
	.report = json_report,
	.summary = json_summary,
	.status = json_status,
};
