/* flow_outcome.c - a TLS 1.3 client's outcome after the server's flight: its alert, record, abort. */
#include <string.h>
#include "cs_wire.h"
#include "flow_int.h"
#include "keylog.h"

/* The direction's sender is the server (its flight), by the hellos, or
 * else by how it started (as the kernel does). */
bool from_server(const struct dir *d)
{
	return d->role == ROLE_SERVER || (d->role == ROLE_UNKNOWN && !d->client_start);
}

/* A decided outcome onto the report about it. */
void outcome_fill(const struct conn *c, struct cs_report *r)
{
	const struct outcome_track *ot = &c->rare->ot; /* decided: it exists */

	r->outcome = ot->outcome;
	r->outcome_reason = ot->reason;
	r->outcome_rec_len = ot->rec_len;
}

/* A decision made since the last call: its own event, unless an alert
 * event carried it (report_alert). */
void report_outcome(struct flow_table *t, struct conn *c)
{
	struct outcome_track *ot = c->rare ? &c->rare->ot : NULL;
	struct cs_report r;

	if (!ot || !outcome_take(ot))
		return;
	report_init(t, c, server_index(c, 1), &r, REPORT_CLIENT_OUTCOME);
	outcome_fill(c, &r);
	r.alert_from_client = true;
	leaf_hex(c, r.alert_cert_sha256);
	if (ot->outcome == OUTCOME_ABORTED && ot->alert_known) {
		r.outcome_alert = true;
		r.outcome_decrypted = true;
		r.alert_level = ot->alert_level;
		r.alert_desc = ot->alert_desc;
	}
	emit(t, &r);
}

/*
 * The client's first encrypted record, whole (copy_encrypted): with its
 * CLIENT_HANDSHAKE_TRAFFIC_SECRET in the key log it says exactly what the
 * client did: an alert (which), or its handshake going on.
 */
static void decrypt_client_record(struct flow_table *t, struct conn *c,
				  const struct recwalk_record *rec)
{
	uint8_t out[128]; /* a Finished: 4 + 48 (SHA-384) + 1 + 16 */
	struct tls13_keys keys;
	const uint8_t *secret;
	size_t slen, plen;
	uint8_t inner;
	int rc;

	if (!t->o.keylog || !rec || !rec->body || !c->have_random ||
	    !(secret = keylog_find(t->o.keylog, c->random, KEYLOG_CLIENT_HANDSHAKE_TRAFFIC_SECRET,
				   &slen)))
		return;
	if (tls13_traffic_keys(c->cipher, secret, slen, &keys))
		return;
	/* Only short records are opened: an alert or a Finished fits in out;
	 * a longer one is a certificate flight: accepted by its size. */
	rc = rec->len <= sizeof(out) ? tls13_open(&keys, rec->hdr, rec->body, rec->len, out,
						  sizeof(out), &plen, &inner) :
				       TLS13_E_LENGTH;
	tls13_keys_wipe(&keys);
	if (rc != TLS13_OK)
		return;
	t->st.client_alerts_decrypted++;
	if (inner == TLS_CT_ALERT && plen >= 2) {
		c->rare->ot.alert_known = true;
		c->rare->ot.alert_level = out[0];
		c->rare->ot.alert_desc = out[1];
		outcome_alert(&c->rare->ot, "an alert, decrypted with the key log");
	} else if (inner == TLS_CT_HANDSHAKE) {
		outcome_accepted(&c->rare->ot, "a handshake record, decrypted with the key log");
	}
	explicit_bzero(out, sizeof(out));
}

/* A record of the client's after the server's TLS 1.3 flight: its length
 * and where it ends (stream offset), whole or as the walk's last. */
void client_record(struct flow_table *t, struct dir *d, const uint8_t *hdr, uint32_t end,
		   const struct recwalk_record *whole)
{
	struct conn *c = dir_conn(d);

	if (!c->hidden || !c->rare || hdr[0] != TLS_CT_APPDATA)
		return;
	outcome_record(&c->rare->ot, (uint16_t)(hdr[3] << 8 | hdr[4]), end);
	if (whole && c->rare->ot.rec_end == end)
		decrypt_client_record(t, c, whole);
	report_outcome(t, c);
}

/* The client direction's walk stopped: at its first encrypted record
 * (no key source), or at the one after it. */
void client_walk_end(struct flow_table *t, struct dir *d)
{
	uint8_t hdr[TLS_HDR_LEN];
	uint32_t off;

	if (from_server(d) || !recwalk_stop_record(&d->w, hdr, &off))
		return;
	client_record(t, d, hdr, off + wire_tls_rec_span(hdr), NULL);
}

/* A FIN or RST: a TLS 1.3 client's short record followed by its close,
 * right at that record's end, is the abort shape. */
void on_close(struct flow_table *t, struct dir *d, const struct cs_segment *s)
{
	struct conn *c = dir_conn(d);

	d->closed = true;
	if (c->rare)
		outcome_close(&c->rare->ot, !from_server(d), s->tcp_flags & CS_TCP_RST,
			      d->r.started ? s->seq - d->isn : UINT32_MAX);
	report_outcome(t, c);
}
