/* fuzz_outcome.c - outcomes.c: any order of flights, client records, alerts and closes through the
 * classifier, which must call nothing aborted that lacks the shape (after the flight and no
 * server close, one short record, then the client's close right at its end or the server's
 * reset) or a read alert; and the outcomes of many
 * (server, SNI) through the rate table, whose alerts and clears must alternate per endpoint.
 * Input: ops of 1 + 4 bytes (op, then a length or an offset), until the input ends. */
#include "fuzz_common.h"
#include <linux/types.h>
#include "certsentry.h"
#include "outcomes.h"

/* What the classifier was told, to judge its decision by. */
struct shadow {
	bool flight, server_closed, early, alert;
	int records; /* client records after the flight */
	uint16_t first_len;
	uint32_t first_end;
	bool client_closed_at_end; /* the client's close came right at first_end */
	bool server_reset_after;   /* the server reset after the first record */
};

static void classify(struct fz *f)
{
	struct outcome_track o = { 0 };
	struct shadow s = { 0 };
	bool decided_before = false;

	while (f->n) {
		uint8_t op = fz_u8(f);
		uint32_t v = fz_u32(f);
		bool was = o.state == 3; /* outcomes.c: OT_DECIDED */

		switch (op % 7) {
		case 0:
			if (!s.flight)
				s.early = v & 1;
			if (!s.flight)
				outcome_flight(&o, v & 1);
			s.flight = true;
			break;
		case 1:
			if (s.flight && !s.records) {
				s.first_len = (uint16_t)(v >> 16);
				s.first_end = v & 0xffff;
			}
			if (s.flight)
				s.records++;
			outcome_record(&o, (uint16_t)(v >> 16), v & 0xffff);
			break;
		case 2:
			if (s.flight)
				s.alert = true;
			outcome_alert(&o, "fuzz");
			break;
		case 3:
			outcome_accepted(&o, "fuzz");
			break;
		case 4:
			if (s.flight && s.records == 1 && !s.server_closed &&
			    (v & 0xffff) == s.first_end)
				s.client_closed_at_end = true;
			outcome_close(&o, true, v & 0x10000, v & 0xffff);
			break;
		case 5:
			if (s.flight && s.records == 1 && !s.server_closed && (v & 1))
				s.server_reset_after = true;
			if (s.flight && !s.records)
				s.server_closed = true;
			outcome_close(&o, false, v & 1, 0);
			break;
		case 6:
			outcome_end(&o, "fuzz");
			break;
		}
		if (!was && o.state == 3 && o.outcome == OUTCOME_ABORTED && !decided_before) {
			decided_before = true;
			/* aborted: an alert was read, or the shape */
			FUZZ_CHECK(s.alert || (s.first_len == OUTCOME_ALERT_LEN && !s.early &&
					       s.records == 1 && !s.server_closed &&
					       (s.client_closed_at_end || s.server_reset_after)));
		}
		FUZZ_CHECK(!outcome_pending(&o) || o.state == 1 || o.state == 2);
		if (o.state == 3)
			FUZZ_CHECK(o.outcome > OUTCOME_NONE && o.outcome < OUTCOME_MAX && o.reason);
	}
	outcome_end(&o, "fuzz");
	FUZZ_CHECK(!outcome_pending(&o));
	FUZZ_CHECK(outcome_take(&o) == (o.state == 3));
	FUZZ_CHECK(!outcome_take(&o));
}

struct emitted {
	int alerting[4][4]; /* per (server, SNI): 1 after an alert, 0 after a clear */
	int bad;
};

static void on_emit(void *ctx, const struct cs_report *r)
{
	struct emitted *e = ctx;
	int *a = &e->alerting[r->server.port & 3][r->sni[0] & 3];
	bool up = r->action == REPORT_CLIENT_ABORTING;

	if ((up && *a) || (!up && !*a) || r->win_aborted > r->win_total)
		e->bad++;
	*a = up;
}

static void rate(struct fz *f)
{
	struct emitted e = { 0 };
	struct outcomes_opts oo = { .window_s = 1 + fz_u8(f) % 8,
				    .pct = 1 + fz_u8(f) % 100,
				    .min = 1 + fz_u8(f) % 8,
				    .emit = on_emit,
				    .ctx = &e };
	struct outcomes *t = outcomes_new(&oo);
	struct outcomes_stats st;
	uint64_t now = 1000000000ULL;

	FUZZ_CHECK(t);
	while (f->n) {
		uint8_t op = fz_u8(f);
		struct cs_report r = { .action = REPORT_CLIENT_OUTCOME, .has_sni = true };

		now += (uint64_t)(op >> 4) * 100000000ULL;
		r.ts_ns = now;
		r.server.family = CS_AF_INET;
		r.server.port = op & 3;
		r.sni[0] = (char)('a' + ((op >> 2) & 3));
		r.outcome = 1 + fz_u8(f) % 3;
		if (op == 0xff)
			outcomes_tick(t, now);
		else
			outcomes_count(t, &r);
	}
	outcomes_tick(t, now + 3600 * 1000000000ULL);
	FUZZ_CHECK(!e.bad);
	outcomes_stats(t, &st);
	/* an hour later every window is empty: every alert was cleared */
	FUZZ_CHECK(st.endpoints <= OUTCOMES_ENDPOINTS_MAX && st.alerts == st.clears);
	outcomes_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };

	if (!size)
		return 0;
	if (fz_u8(&f) & 1)
		rate(&f);
	else
		classify(&f);
	return 0;
}
