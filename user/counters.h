/* counters.h - every counter named once (counters.def), read by the status lines and /metrics. */
#ifndef CS_COUNTERS_H
#define CS_COUNTERS_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "certsentry.h"
#include "cert.h"
#include "checks.h"
#include "confirm.h"
#include "dedup.h"
#include "flow.h"
#include "keylog.h"
#include "lists.h"
#include "outcomes.h"
#include "output.h"
#include "pcap.h"
#include "sources.h"

struct capture;

/* Microseconds in power-of-two buckets: bucket b holds [2^(b-1), 2^b). */
#define HIST_BUCKETS 32
struct log2_hist {
	uint64_t bucket[HIST_BUCKETS];
	uint64_t n;
};
void hist_record(struct log2_hist *h, uint64_t us);
/* Upper bound of the bucket holding quantile q, in microseconds (0: empty). */
uint64_t hist_quantile(const struct log2_hist *h, double q);

/* What the main loop counts itself; the stages count the rest. */
struct app_counters {
	uint64_t verdicts[VERDICT_SLOTS]; /* handshakes by verdict_slot() */
	uint64_t findings[F_MAX];
	uint64_t reloads_ok, reloads_failed;
	uint64_t uprobe_uncovered; /* local TLS 1.3 servers the frozen uprobes miss */
	struct log2_hist latency;  /* capture to line written */
};

/* Everything counters.def reads, taken at one moment. */
struct counter_snap {
	uint64_t kernel[CS_C_MAX];
	struct pcap_source_stats pcap;
	struct flow_stats flow;
	struct output_stats out;
	struct dedup_stats dedup;
	struct cert_cache_stats certs;
	struct lists_sizes lists;
	struct app_counters app;
	struct confirm_stats confirm;
	struct outcomes_stats outcomes;
	struct sources_counters src; /* fetchers and inventory (zeros when off) */
	struct keylog_stats keylog;
};

/* Where the counters are; a NULL member reads as zeros. */
struct counter_src {
	struct capture *cap;
	const struct pcap_source_stats *pcap;
	const struct flow_table *flows;
	const struct output *out;
	const struct dedup *dedup;
	const struct cert_cache *certs;
	const struct lists *lists;
	const struct app_counters *app;
	const struct confirm *confirm; /* --confirm */
	const struct outcomes *outcomes;
	const struct sources *sources;
	struct keylog *keylog;
};
/* Lines and secrets refused, all reasons together. */
uint64_t keylog_rejected(const struct keylog_stats *k);
void counters_read(const struct counter_src *src, struct counter_snap *s);

/* The status lines a counter is in. */
enum {
	CL_LIVE = 1,
	CL_READ = 2,
	CL_LISTS = 4,
	CL_CONFIRM = 8 /* after CL_LIVE's, with --confirm */
};

#define COUNTERS_LINE_MAX 2048 /* every counter of one line, 20 digits each */

/* "key=value ..." of every counter of those lines, in table order, into
 * buf (NUL-terminated, cut short if cap is too small); returns the length. */
size_t counters_line(const struct counter_snap *s, unsigned lines, char *buf, size_t cap);

/* The table, for a renderer (metrics.c). */
enum counter_shape { COUNTER_ONE, COUNTER_FAMILY, COUNTER_HISTOGRAM };

struct counter_def {
	enum counter_shape shape;
	const char *key;    /* status-line key; NULL: /metrics only */
	unsigned lines;	    /* CL_* */
	const char *metric; /* after "certsentry_"; NULL: status lines only */
	const char *label;  /* COUNTER_ONE: name="value" in its family, or NULL;
				 * COUNTER_FAMILY: the label's name */
	const char *type;   /* "counter", "gauge", "histogram"; on a family's first row */
	const char *help;   /* likewise */
	uint64_t (*value)(const struct counter_snap *s); /* ONE */
	uint32_t n;					 /* FAMILY */
	/* FAMILY: series i's label value; NULL or "": no series i (yet) */
	const char *(*name_at)(const struct counter_snap *s, uint32_t i);
	uint64_t (*value_at)(const struct counter_snap *s, uint32_t i); /* FAMILY */
	const struct log2_hist *(*hist)(const struct counter_snap *s);	/* HISTOGRAM */
};

extern const struct counter_def counter_table[];
extern const size_t counter_table_len;

#endif
