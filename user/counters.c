/* counters.c - the counter table (counters.def): read at one moment, written as status lines. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "capture.h"
#include "counters.h"

void hist_record(struct log2_hist *h, uint64_t us)
{
	int b = 0;

	while (us >= (1ULL << b) && b < HIST_BUCKETS - 1)
		b++;
	h->bucket[b]++;
	h->n++;
}

uint64_t hist_quantile(const struct log2_hist *h, double q)
{
	uint64_t want = (uint64_t)(q * h->n), seen = 0;

	for (int b = 0; b < HIST_BUCKETS; b++) {
		seen += h->bucket[b];
		if (seen > want)
			return 1ULL << b;
	}
	return 0;
}

void counters_read(const struct counter_src *src, struct counter_snap *s)
{
	memset(s, 0, sizeof(*s));
	capture_counters(src->cap, s->kernel);
	if (src->pcap)
		s->pcap = *src->pcap;
	if (src->flows)
		flow_stats(src->flows, &s->flow);
	output_stats(src->out, &s->out);
	if (src->dedup)
		dedup_stats(src->dedup, &s->dedup);
	cert_cache_stats(src->certs, &s->certs);
	lists_sizes(src->lists, &s->lists);
	if (src->app)
		s->app = *src->app;
	confirm_stats(src->confirm, &s->confirm);
	if (src->outcomes)
		outcomes_stats(src->outcomes, &s->outcomes);
	sources_counters(src->sources, &s->src);
	if (src->keylog)
		keylog_get_stats(src->keylog, &s->keylog);
}

uint64_t keylog_rejected(const struct keylog_stats *k)
{
	uint64_t n = 0;

	for (int o = 0; o < KEYLOG_OUTCOME_MAX; o++)
		if (KEYLOG_REJECTED(o))
			n += k->outcome[o];
	return n;
}

/* Each row's reader, from its value expression. */
#define COUNTER(id, k, l, m, lab, t, h, expr)                  \
	static uint64_t get_##id(const struct counter_snap *s) \
	{                                                      \
		return (expr);                                 \
	}
#define COUNTER_VEC(id, m, t, h, lab, cnt, name, expr)                         \
	static uint64_t get_##id(const struct counter_snap *s, uint32_t i)     \
	{                                                                      \
		return (expr);                                                 \
	}                                                                      \
	static const char *name_##id(const struct counter_snap *s, uint32_t i) \
	{                                                                      \
		(void)s;                                                       \
		return (name);                                                 \
	}
#define COUNTER_HIST(id, k, l, m, h, expr)                                    \
	static const struct log2_hist *get_##id(const struct counter_snap *s) \
	{                                                                     \
		return (expr);                                                \
	}
#include "counters.def"
#undef COUNTER
#undef COUNTER_VEC
#undef COUNTER_HIST

const struct counter_def counter_table[] = {
#define COUNTER(id, k, l, m, lab, t, h, expr) \
	{ .shape = COUNTER_ONE,               \
	  .key = k,                           \
	  .lines = l,                         \
	  .metric = m,                        \
	  .label = lab,                       \
	  .type = t,                          \
	  .help = h,                          \
	  .value = get_##id },
#define COUNTER_VEC(id, m, t, h, lab, cnt, name, expr) \
	{ .shape = COUNTER_FAMILY,                     \
	  .metric = m,                                 \
	  .label = lab,                                \
	  .type = t,                                   \
	  .help = h,                                   \
	  .n = cnt,                                    \
	  .name_at = name_##id,                        \
	  .value_at = get_##id },
#define COUNTER_HIST(id, k, l, m, h, expr) \
	{ .shape = COUNTER_HISTOGRAM,      \
	  .key = k,                        \
	  .lines = l,                      \
	  .metric = m,                     \
	  .type = "histogram",             \
	  .help = h,                       \
	  .hist = get_##id },
#include "counters.def"
#undef COUNTER
#undef COUNTER_VEC
#undef COUNTER_HIST
};

const size_t counter_table_len = sizeof(counter_table) / sizeof(counter_table[0]);

size_t counters_line(const struct counter_snap *s, unsigned lines, char *buf, size_t cap)
{
	size_t n = 0;
	int w;

	if (cap)
		buf[0] = '\0';
	for (size_t i = 0; i < counter_table_len && n < cap; i++) {
		const struct counter_def *c = &counter_table[i];
		const struct log2_hist *h;

		if (!c->key || !(c->lines & lines))
			continue;
		if (c->shape == COUNTER_HISTOGRAM) {
			h = c->hist(s);
			w = snprintf(buf + n, cap - n,
				     "%s%s_p50_us<=%" PRIu64 " %s_p99_us<=%" PRIu64
				     " %s_n=%" PRIu64,
				     n ? " " : "", c->key, hist_quantile(h, 0.5), c->key,
				     hist_quantile(h, 0.99), c->key, h->n);
		} else {
			w = snprintf(buf + n, cap - n, "%s%s=%" PRIu64, n ? " " : "", c->key,
				     c->value(s));
		}
		if (w < 0 || (size_t)w >= cap - n)
			return cap - 1; /* cut short, NUL-terminated */
		n += (size_t)w;
	}
	return n;
}
