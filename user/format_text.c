/* format_text.c - a line as terminal-safe text: reports, summaries, status events. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <linux/types.h>
#include "certsentry.h"
#include "checks.h"
#include "format.h"
#include "fmt.h"
#include "inventory.h"
#include "outcomes.h"
#include "term.h"

#define TEXT_FIELD_MAX 512 /* one hostile DN must not fill the screen */

struct tb {
	char *buf;
	size_t cap, len;
	bool trunc;
};

static bool text_color;

void format_text_color(bool on)
{
	text_color = on;
}

static void tb_put(struct tb *t, const char *s, size_t n)
{
	if (t->trunc || n > t->cap - t->len) {
		t->trunc = true;
		return;
	}
	memcpy(t->buf + t->len, s, n);
	t->len += n;
}

static size_t tb_end(struct tb *t, struct line *l)
{
	l->truncated = t->trunc;
	return t->len;
}

__attribute__((format(printf, 2, 3))) static void tb_printf(struct tb *t, const char *fmt, ...)
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

/* Untrusted text, escaped as fmt_safe() does: at most max input bytes,
 * then "...". What does not fit the line marks it truncated. */
static void tb_safe(struct tb *t, const char *str, enum fmt_safe_mode m, size_t max)
{
	const char *s = str ? str : "";
	size_t n = strlen(s), used = 0;

	if (m == FMT_QUOTED)
		tb_put(t, "\"", 1);
	if (!t->trunc) {
		/* the line's buffer has a byte past cap for the NUL */
		t->len += fmt_safe_run(t->buf + t->len, t->cap - t->len + 1, s, n, max, m, &used);
		if (used < n && used < max)
			t->trunc = true;
	}
	if (used < n)
		tb_put(t, "...", 3);
	if (m == FMT_QUOTED)
		tb_put(t, "\"", 1);
}

static void tb_endpoint(struct tb *t, const struct report_endpoint *ep)
{
	char s[FMT_ENDPOINT_CAP];

	fmt_endpoint(ep, s, sizeof(s));
	tb_put(t, s, strlen(s));
}

static void tb_time(struct tb *t, uint64_t ns)
{
	char ts[FMT_TIME_CAP];

	fmt_time_ns(ts, sizeof(ts), ns, "-");
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
		tb_safe(t, f->parse_error, FMT_QUOTED, TEXT_FIELD_MAX);
	} else {
		tb_printf(t, " leaf=");
		tb_safe(t, f->subject_dn, FMT_QUOTED, TEXT_FIELD_MAX);
		tb_printf(t, " issuer=");
		tb_safe(t, f->issuer_dn, FMT_QUOTED, TEXT_FIELD_MAX);
		tb_printf(t, " serial=");
		tb_safe(t, f->serial_hex, FMT_WORD, TEXT_FIELD_MAX);
	}
	tb_printf(t, " sha256=%.16s", f->sha256_hex);
	if (f->parse_ok) {
		/* the date is what on-call needs */
		fmt_time(day, sizeof(day), f->not_after, 0, FMT_DAY, "?");
		tb_printf(t, " expires=%s", day);
	}
	tb_printf(t, " chain=%u", r->chain_total > r->chain_len ? r->chain_total : r->chain_len);
}

static void text_tail(struct tb *t, const struct cs_report *r)
{
	char num[8];

	switch (r->action) {
	case REPORT_CERTIFICATE_HIDDEN:
		tb_printf(t, " certificate encrypted (TLS 1.3), no key source");
		return;
	case REPORT_RESUMED:
		tb_printf(t, " session resumed: no certificate sent");
		return;
	case REPORT_ALERT:
		tb_printf(t, " %s alert %s from %s", report_alert_level(r->alert_level),
			  report_alert_desc(r, num, sizeof(num)),
			  r->alert_from_client ? "client" : "server");
		if (r->alert_cert_sha256[0])
			tb_printf(t, " after sha256=%.16s%s", r->alert_cert_sha256,
				  r->cert_basis == CERT_BASIS_ENDPOINT ? "(last-seen)" : "");
		if (r->outcome)
			tb_printf(t, " outcome=%s", outcome_name((enum client_outcome)r->outcome));
		return;
	case REPORT_CLIENT_OUTCOME:
		tb_printf(t, " outcome=%s", outcome_name((enum client_outcome)r->outcome));
		if (r->outcome_rec_len)
			tb_printf(t, " record=%u", r->outcome_rec_len);
		if (r->outcome_alert)
			tb_printf(t, " alert=%s%s", report_alert_desc(r, num, sizeof(num)),
				  r->outcome_decrypted ? "(decrypted)" : "");
		if (r->alert_cert_sha256[0])
			tb_printf(t, " leaf=%.16s%s", r->alert_cert_sha256,
				  r->cert_basis == CERT_BASIS_ENDPOINT ? "(last-seen)" : "");
		tb_printf(t, " (%s)", r->outcome_reason ? r->outcome_reason : "");
		return;
	case REPORT_CLIENT_ABORTING:
	case REPORT_CLIENT_ABORTING_CLEARED:
		tb_printf(t, " aborted=%u/%u in %us threshold=%u%%/%u", r->win_aborted,
			  r->win_total, r->win_s, r->win_pct, r->win_min);
		if (r->alert_cert_sha256[0])
			tb_printf(t, " leaf=%.16s", r->alert_cert_sha256);
		for (uint32_t i = 0; i < r->n_families && i < REPORT_FAMILIES_MAX; i++)
			tb_printf(t, "%s%s:%u/%u", i ? "," : " ja4=",
				  r->families[i].ja4[0] ? r->families[i].ja4 : "-",
				  r->families[i].aborted, r->families[i].total);
		return;
	case REPORT_INCOMPLETE:
		tb_printf(t, " %s lost %llu bytes: ", r->lost_from_client ? "client" : "server",
			  (unsigned long long)r->lost_bytes);
		tb_safe(t, r->incomplete_reason ? r->incomplete_reason : "unknown", FMT_TAIL,
			TEXT_FIELD_MAX);
		return;
	default:
		if (r->action == REPORT_CLIENT_CERTIFICATE)
			tb_printf(t, " client-certificate");
		text_leaf(t, r);
		if (r->have_ocsp && r->ocsp.parse_ok)
			tb_printf(t, " ocsp=%s%s%s%s", ocsp_cert_status_name(r->ocsp.cert_status),
				  r->ocsp.cert_status == OCSP_ST_REVOKED && r->ocsp.reason >= 0 ?
					  "(" :
					  "",
				  r->ocsp.cert_status == OCSP_ST_REVOKED && r->ocsp.reason >= 0 ?
					  r->ocsp.reason_str :
					  "",
				  r->ocsp.cert_status == OCSP_ST_REVOKED && r->ocsp.reason >= 0 ?
					  ")" :
					  "");
		else if (r->have_ocsp)
			tb_printf(t, " ocsp=unparsable");
	}
}

/* The certificate the endpoint should have served, beside the one it did:
 * the previous leaf of a cert.changed or cert.rollback (the inventory keeps
 * no subject: a renewal has the served one's), or the pins of a
 * pin.mismatch, each cut like sha256= to what tells them apart. */
static void text_expected(struct tb *t, const struct verdict *v)
{
	const struct inventory_leaf *p;
	char day[32];

	if (v && v->change && v->change->flags & (INV_CHANGED | INV_ROLLBACK)) {
		p = &v->change->prev;
		tb_printf(t, " prev_sha256=%.16s", p->sha256);
		if (p->parsed) {
			tb_printf(t, " prev_serial=");
			tb_safe(t, p->serial, FMT_WORD, TEXT_FIELD_MAX);
			fmt_time(day, sizeof(day), p->not_after, 0, FMT_DAY, "?");
			tb_printf(t, " prev_expires=%s prev_issuer=", day);
			tb_safe(t, p->issuer, FMT_QUOTED, TEXT_FIELD_MAX);
		}
	}
	if (v && v->pin_pattern) {
		tb_printf(t, " pin_rule=");
		tb_safe(t, v->pin_pattern, FMT_QUOTED, TEXT_FIELD_MAX); /* "PATTERN (FILE:LINE)" */
		for (uint32_t i = 0; i < v->n_pin_expected && i < VERDICT_PINS_MAX; i++) {
			char pin[FMT_PIN_SHORT_CAP];

			tb_printf(t, i ? "," : " expected=");
			tb_safe(t, fmt_pin_short(pin, sizeof(pin), v->pin_expected[i]), FMT_WORD,
				sizeof(pin));
		}
	}
}

/* Findings last, worst first: the part on-call scans for. */
static void text_verdict(struct tb *t, const struct verdict *v)
{
	if (!v)
		return;
	if (!v->n) {
		tb_printf(t, " %sverdict=%s%s",
			  text_color ? term_severity_color(verdict_name(v)) : "", verdict_name(v),
			  text_color ? TERM_RESET : "");
		return;
	}
	tb_printf(t, " %sALERT[%s]%s",
		  text_color ? term_severity_color(severity_name(v->worst)) : "",
		  severity_name(v->worst), text_color ? TERM_RESET : "");
	for (uint32_t i = 0; i < v->n; i++) {
		tb_printf(t, " %s: ", finding_name(v->f[i].code));
		tb_safe(t, v->f[i].message, FMT_TAIL, TEXT_FIELD_MAX);
		tb_printf(t, i + 1 < v->n ? ";" : "");
	}
}

static size_t text_report(void *state, struct line *l, const struct cs_report *r)
{
	struct tb t = { l->buf, l->cap, 0, false };
	const char *v = report_version(r), *c;

	tb_time(&t, r->ts_ns);
	tb_printf(&t, " %s ", action_name(r));
	if (r->client.family) { /* a window's events have no client */
		tb_endpoint(&t, &r->client);
		tb_printf(&t, " -> ");
	}
	tb_endpoint(&t, &r->server);
	if (r->ifname) {
		tb_printf(&t, " if=");
		tb_safe(&t, r->ifname, FMT_WORD, TEXT_FIELD_MAX);
		tb_printf(&t, r->hook == CS_HOOK_EGRESS ? "/out" : "/in");
	}
	if (r->has_sni) {
		tb_printf(&t, " sni=");
		tb_safe(&t, r->sni, FMT_WORD, TEXT_FIELD_MAX);
	}
	if (v) { /* "TLS1.2", "SSL3.0", "DTLS1.2" */
		const char *p = tls_version_protocol(r->version);

		tb_printf(&t, " %s%s",
			  p && !strcmp(p, "ssl")  ? "SSL" :
			  p && !strcmp(p, "dtls") ? "DTLS" :
						    "TLS",
			  v);
	}
	if (report_has_cipher(r)) {
		if ((c = tls_cipher_name(r->cipher)))
			tb_printf(&t, " %s", c);
		else
			tb_printf(&t, " cipher=0x%04X", r->cipher);
	}
	if (r->alpn[0]) {
		tb_printf(&t, " alpn=");
		tb_safe(&t, r->alpn, FMT_WORD, TEXT_FIELD_MAX);
	}
	if (r->hello_retry)
		tb_printf(&t, " hello-retry");
	if (r->source != SOURCE_WIRE) { /* how the chain was had, when not in the clear */
		tb_printf(&t, " source=%s", report_source_name(r));
		if (report_binding_name(r))
			tb_printf(&t, "/%s", report_binding_name(r));
		if (r->source == SOURCE_CONFIRM)
			tb_printf(&t, " (fetched by certsentry, not observed)");
	}
	if (r->have_hello && r->hello.fp.ja4[0])
		tb_printf(&t, " ja4=%s", r->hello.fp.ja4);
	text_tail(&t, r);
	text_expected(&t, r->verdict);
	text_verdict(&t, r->verdict);
	if (r->recheck) { /* a follow-up: judged again when a fetch completed */
		tb_printf(&t, " recheck[was %s]: ", r->recheck_prev ? r->recheck_prev : "?");
		tb_safe(&t, r->recheck, FMT_TAIL, TEXT_FIELD_MAX);
	}
	(void)state;
	return tb_end(&t, l);
}

static size_t text_summary(void *state, struct line *l, const struct dedup_summary *s)
{
	struct tb t = { l->buf, l->cap, 0, false };
	struct cs_report r = { .action = s->action };
	char first[FMT_TIME_CAP], last[FMT_TIME_CAP];

	(void)state;
	fmt_time_ns(first, sizeof(first), s->first_ns, "-");
	fmt_time_ns(last, sizeof(last), s->last_ns, "-");
	tb_time(&t, s->ts_ns);
	tb_printf(&t, " summary %s seen %llu more times from %s%u clients -> ", action_name(&r),
		  (unsigned long long)s->count, s->clients_capped ? ">" : "", s->clients);
	tb_endpoint(&t, &s->server);
	if (s->has_sni) {
		tb_printf(&t, " sni=");
		tb_safe(&t, s->sni, FMT_WORD, TEXT_FIELD_MAX);
	}
	if (s->leaf_sha256[0])
		tb_printf(&t, " sha256=%.16s", s->leaf_sha256);
	tb_printf(&t, " verdict=%s first=%s last=%s", s->verdict, first, last);
	return tb_end(&t, l);
}

static size_t text_status(void *state, struct line *l, const struct status_event *s)
{
	struct tb t = { l->buf, l->cap, 0, false };

	(void)state;
	tb_time(&t, s->ts_ns);
	tb_printf(&t, " ");
	tb_safe(&t, s->action ? s->action : "status", FMT_WORD, TEXT_FIELD_MAX);
	tb_printf(&t, " %s[", text_color ? term_severity_color(s->severity) : "");
	tb_safe(&t, s->severity ? s->severity : "info", FMT_WORD, TEXT_FIELD_MAX);
	tb_printf(&t, "]%s ", text_color && *term_severity_color(s->severity) ? TERM_RESET : "");
	tb_safe(&t, s->msg, FMT_TAIL, l->cap);
	return tb_end(&t, l);
}

const struct format_ops format_text = {
	.report = text_report,
	.summary = text_summary,
	.status = text_status,
};
