/* capture.c - the live source: loads the BPF program, attaches it (tcx, else clsact), and turns ring records into segments. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/if_arp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "capture.h"
#include "clock.h"
#include "certsentry.skel.h"
#include "clsact.h"
#include "encports.h"
#include "fmt.h"
#include "privdrop.h"

/* libbpf 1.1 predates tcx; the kernel knows these attach types. */
#define CS_BPF_TCX_INGRESS 46
#define CS_BPF_TCX_EGRESS  47
#ifndef ENOTSUPP
#define ENOTSUPP 524
#endif

enum { DIR_IN, DIR_OUT, DIR_N };

struct attachment {
	int ifindex;
	char name[IF_NAMESIZE];
	bool l3;	    /* no Ethernet header: cs_tc_l3 */
	bool ingress_only;  /* lo: every packet passes both hooks */
	int link_fd[DIR_N]; /* tcx link, or -1 */
	bool tc[DIR_N];	    /* clsact filter of ours attached */
};

struct capture {
	struct certsentry_bpf *skel;
	struct ring_buffer *rb;
	struct clsact cls; /* the clsact fallback's slot */
	int done_fd, counters_fd;
	int64_t real_minus_mono; /* ns, measured at open */
	int n_att;
	struct attachment att[CAPTURE_IFACES_MAX];
	/* capture_poll's callback state */
	cs_segment_fn fn;
	void *fn_ctx;
	int handled;
	bool stopped;
};

static bool libbpf_verbose;

static int print_fn(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	if (!libbpf_verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static const char *lberr(int e, char *buf, size_t len)
{
	if (e > 0)
		e = -e;
	if (libbpf_strerror(e, buf, len))
		snprintf(buf, len, "%s", strerror(-e));
	return buf;
}

/* CAP_BPF (or the older CAP_SYS_ADMIN) to load, CAP_NET_ADMIN to attach. */
static bool has_caps(void)
{
	return privdrop_has_caps(PRIVDROP_CAP(CAP_NET_ADMIN)) &&
	       (privdrop_has_caps(PRIVDROP_CAP(CAP_BPF)) ||
		privdrop_has_caps(PRIVDROP_CAP(CAP_SYS_ADMIN)));
}

static int dev_type(const char *name)
{
	char path[128];
	FILE *f;
	int t = -1;

	snprintf(path, sizeof(path), "/sys/class/net/%s/type", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%d", &t) != 1)
		t = -1;
	fclose(f);
	return t;
}

/* 1 L3 (packet starts at the IP header), 0 Ethernet(-like), -1 unsupported. */
static int dev_is_l3(int type)
{
	switch (type) {
	case ARPHRD_ETHER:
	case ARPHRD_LOOPBACK: /* zero MAC header */
		return 0;
	case ARPHRD_NONE: /* tun, wireguard */
	case ARPHRD_RAWIP:
	case ARPHRD_PPP:
	case ARPHRD_TUNNEL:
	case ARPHRD_TUNNEL6:
	case ARPHRD_SIT:
		return 1;
	default:
		return -1;
	}
}

static int add_iface(struct capture *c, const char *name, bool quiet, char *err, size_t errlen)
{
	struct attachment *a;
	int idx, type, l3, i;

	idx = if_nametoindex(name);
	if (!idx) {
		fmt_err(err, errlen, "unknown interface '%s'", name);
		return -1;
	}
	for (i = 0; i < c->n_att; i++)
		if (c->att[i].ifindex == idx)
			return 0;
	type = dev_type(name);
	l3 = dev_is_l3(type);
	if (l3 < 0) {
		if (quiet)
			return 0;
		fmt_err(err, errlen, "interface '%s': unsupported device type %d", name, type);
		return -1;
	}
	if (c->n_att >= CAPTURE_IFACES_MAX) {
		fmt_err(err, errlen, "too many interfaces (max %d)", CAPTURE_IFACES_MAX);
		return -1;
	}
	a = &c->att[c->n_att++];
	memset(a, 0, sizeof(*a));
	a->ifindex = idx;
	snprintf(a->name, sizeof(a->name), "%s", name);
	a->l3 = l3;
	a->ingress_only = type == ARPHRD_LOOPBACK;
	a->link_fd[DIR_IN] = a->link_fd[DIR_OUT] = -1;
	return 0;
}

/* Every interface that is up, except loopback ones. */
static int default_ifaces(struct capture *c, char *err, size_t errlen)
{
	struct if_nameindex *ifs, *i;
	struct ifreq ifr;
	int s, ret = 0;

	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		fmt_err(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	ifs = if_nameindex();
	if (!ifs) {
		fmt_err(err, errlen, "listing interfaces: %s", strerror(errno));
		close(s);
		return -1;
	}
	for (i = ifs; i->if_index && !ret; i++) {
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", i->if_name);
		if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
			continue;
		if (!(ifr.ifr_flags & IFF_UP) || (ifr.ifr_flags & IFF_LOOPBACK))
			continue;
		ret = add_iface(c, i->if_name, true, err, errlen);
	}
	if_freenameindex(ifs);
	close(s);
	if (!ret && !c->n_att) {
		fmt_err(err, errlen, "no interface to capture on (none is up besides lo)");
		ret = -1;
	}
	return ret;
}

static int attach_one(struct capture *c, struct attachment *a, int dir, int prog_fd,
		      bool force_clsact, char *err, size_t errlen)
{
	char eb[128];
	int fd;

	if (!force_clsact) {
		fd = bpf_link_create(prog_fd, a->ifindex,
				     dir == DIR_IN ? CS_BPF_TCX_INGRESS : CS_BPF_TCX_EGRESS, NULL);
		if (fd >= 0) {
			a->link_fd[dir] = fd;
			return 0;
		}
		if (fd != -EINVAL && fd != -EOPNOTSUPP && fd != -ENOTSUPP) {
			fmt_err(err, errlen, "%s: tcx attach: %s", a->name,
				lberr(fd, eb, sizeof(eb)));
			return -1;
		}
	}
	if (clsact_attach(&c->cls, a->ifindex, a->name, dir == DIR_OUT, prog_fd, err, errlen))
		return -1;
	a->tc[dir] = true;
	return 0;
}

/* One interface: tcx links close, clsact filters go, and the qdisc too if
 * certsentry made it and another instance's filters are not on it. */
static void detach_iface(struct capture *c, struct attachment *a)
{
	bool had_tc = false;
	int dir;

	for (dir = 0; dir < DIR_N; dir++) {
		if (a->link_fd[dir] >= 0) {
			close(a->link_fd[dir]);
			a->link_fd[dir] = -1;
		}
		if (a->tc[dir]) {
			if (clsact_detach(&c->cls, a->ifindex, dir == DIR_OUT))
				fprintf(stderr, "certsentry: could not detach from %s\n", a->name);
			a->tc[dir] = false;
			had_tc = true;
		}
	}
	if (had_tc)
		clsact_put_qdisc(a->ifindex);
}

static void detach_all(struct capture *c)
{
	int i;

	clsact_lock(&c->cls);
	for (i = 0; i < c->n_att; i++)
		detach_iface(c, &c->att[i]);
	clsact_release(&c->cls);
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct capture *c = ctx;
	const struct cs_event *ev = data;
	struct cs_segment seg;

	if (size < sizeof(*ev) || ev->len > size - sizeof(*ev))
		return 0;
	memset(&seg, 0, sizeof(seg));
	seg.key = ev->key;
	seg.mono_ns = ev->ts_ns;
	seg.ts_ns = ev->ts_ns + c->real_minus_mono;
	seg.seq = ev->seq;
	seg.ifindex = ev->ifindex;
	seg.hook = ev->hook;
	seg.tcp_flags = ev->tcp_flags;
	if (ev->type == CS_EV_DATA) {
		seg.len = ev->len;
		seg.data = (const uint8_t *)(ev + 1);
	} else if (ev->type != CS_EV_CLOSE) {
		return 0;
	}
	c->handled++;
	if (c->fn(c->fn_ctx, &seg) < 0) {
		c->stopped = true;
		return -1;
	}
	return 0;
}

/* The key of the hint buckets' mix: connections cannot be aimed at one. */
static __u32 hint_seed(void)
{
	__u32 seed;

	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (__u32)time(NULL) ^ (__u32)getpid() * 0x9E3779B1u;
	return seed;
}

static int load(struct capture *c, const struct capture_opts *o, char *err, size_t errlen)
{
	bool need_l2 = false, need_l3 = false;
	char eb[128];
	int i, ret;

	for (i = 0; i < c->n_att; i++) {
		need_l3 |= c->att[i].l3;
		need_l2 |= !c->att[i].l3;
	}
	c->skel = certsentry_bpf__open();
	if (!c->skel) {
		fmt_err(err, errlen, "opening BPF object: %s", lberr(errno, eb, sizeof(eb)));
		return -1;
	}
	c->skel->rodata->max_bytes = o->max_bytes ? o->max_bytes : CS_MAX_BYTES_DEFAULT;
	c->skel->rodata->hint_seed = hint_seed();
	c->skel->rodata->copy_encrypted = !o->copy_encrypted ? CS_COPY_ENC_NONE :
					  o->copy_by_port    ? CS_COPY_ENC_PORTS :
							       CS_COPY_ENC_ALL;
	for (uint32_t p = 0; p < o->n_ports; p++)
		cs_port_set_add(&c->skel->rodata->port_set, o->ports[p]);
	if (o->ring_bytes && bpf_map__set_max_entries(c->skel->maps.events, o->ring_bytes)) {
		fmt_err(err, errlen, "ring buffer size %u: not a power of two of at least a page",
			o->ring_bytes);
		return -1;
	}
	if (o->max_flows && bpf_map__set_max_entries(c->skel->maps.flows, o->max_flows)) {
		fmt_err(err, errlen, "flow table size %u refused", o->max_flows);
		return -1;
	}
	bpf_program__set_autoload(c->skel->progs.cs_empty, false);
	bpf_program__set_autoload(c->skel->progs.cs_tc, need_l2);
	bpf_program__set_autoload(c->skel->progs.cs_tc_l3, need_l3);
	ret = certsentry_bpf__load(c->skel);
	if (ret) {
		fmt_err(err, errlen, "loading BPF program: %s%s", lberr(ret, eb, sizeof(eb)),
			o->verbose ? "" : " (-v shows the verifier log)");
		return -1;
	}
	c->done_fd = bpf_map__fd(c->skel->maps.done_flows);
	c->counters_fd = bpf_map__fd(c->skel->maps.counters);
	c->rb = ring_buffer__new(bpf_map__fd(c->skel->maps.events), on_event, c, NULL);
	if (!c->rb) {
		fmt_err(err, errlen, "ring buffer: %s", lberr(errno, eb, sizeof(eb)));
		return -1;
	}
	return 0;
}

static int attach_iface(struct capture *c, struct attachment *a, bool force_clsact, char *err,
			size_t errlen)
{
	int dir, fd = bpf_program__fd(a->l3 ? c->skel->progs.cs_tc_l3 : c->skel->progs.cs_tc);

	for (dir = 0; dir < DIR_N; dir++) {
		if (dir == DIR_OUT && a->ingress_only)
			continue;
		if (attach_one(c, a, dir, fd, force_clsact, err, errlen))
			return -1;
	}
	return 0;
}

/* A killed run leaves its clsact filters behind (tcx links die with it):
 * those go first, while no other instance changes filters. */
static int attach(struct capture *c, const struct capture_opts *o, char *err, size_t errlen)
{
	int i, ret = 0;

	clsact_lock(&c->cls);
	for (i = 0; i < c->n_att; i++)
		clsact_sweep(&c->cls, c->att[i].ifindex, c->att[i].name);
	for (i = 0; i < c->n_att && !ret; i++)
		ret = attach_iface(c, &c->att[i], o->force_clsact, err, errlen);
	clsact_unlock(&c->cls);
	return ret;
}

struct capture *capture_open(const struct capture_opts *o, char *err, size_t errlen)
{
	struct capture *c;
	int i;

	libbpf_verbose = o->verbose;
	libbpf_set_print(print_fn);
	if (!has_caps()) {
		fmt_err(err, errlen,
			"need root (or CAP_BPF and CAP_NET_ADMIN) to load the BPF program");
		return NULL;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		fmt_err(err, errlen,
			"kernel has no BTF (/sys/kernel/btf/vmlinux missing): "
			"needs CONFIG_DEBUG_INFO_BTF");
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		fmt_err(err, errlen, "out of memory");
		return NULL;
	}
	c->done_fd = c->counters_fd = -1;
	clsact_init(&c->cls);
	for (i = 0; i < o->n_ifaces && i < CAPTURE_IFACES_MAX; i++)
		if (add_iface(c, o->ifaces[i], false, err, errlen))
			goto fail;
	if (!o->n_ifaces && default_ifaces(c, err, errlen))
		goto fail;
	if (load(c, o, err, errlen) || attach(c, o, err, errlen))
		goto fail;
	c->real_minus_mono = clock_real_minus_mono();
	return c;
fail:
	capture_close(c);
	return NULL;
}

/*
 * Blocks until the ring has records or timeout_ms passes. The program wakes
 * only a reader that says it waits (reader_waiting in certsentry.bpf.c):
 * the flag is set, with a full barrier, before poll looks at the ring, so
 * either poll sees a record or the program sees the flag after committing
 * it (its commit is a full barrier too).
 */
static int ring_wait(struct capture *c, int timeout_ms)
{
	struct pollfd pfd = { .fd = bpf_map__fd(c->skel->maps.events), .events = POLLIN };
	int n;

	__atomic_store_n(&c->skel->bss->reader_waiting, 1, __ATOMIC_SEQ_CST);
	n = poll(&pfd, 1, timeout_ms);
	__atomic_store_n(&c->skel->bss->reader_waiting, 0, __ATOMIC_RELAXED);
	return n;
}

int capture_poll(struct capture *c, int timeout_ms, cs_segment_fn fn, void *ctx)
{
	int ret;

	c->fn = fn;
	c->fn_ctx = ctx;
	c->handled = 0;
	c->stopped = false;
	if (ring_wait(c, timeout_ms) < 0 && errno == EINTR)
		return -EINTR;
	/* The kernel does not wake us for every record (only at the end of a
	 * sender's write): after a quiet timeout too, take whatever is waiting. */
	ret = ring_buffer__consume(c->rb);
	if (c->stopped)
		return -ECANCELED;
	if (ret < 0)
		return ret == -EINTR ? -EINTR : ret;
	return c->handled;
}

void capture_flow_done(struct capture *c, const struct cs_flow_key *k)
{
	__u8 one = 1;

	if (c && c->done_fd >= 0)
		bpf_map_update_elem(c->done_fd, k, &one, BPF_ANY);
}

int capture_enc_ports(struct capture *c, const struct encports *e)
{
	int fd = bpf_map__fd(c->skel->maps.enc_ports);
	__u16 key, next, port;
	__u8 one = 1;
	void *prev = NULL;
	uint32_t p;

	/* A deleted key cannot lead the walk on: it starts over from the first
	 * key then (at most CS_ENC_PORTS_MAX times). */
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		if (!encports_has(e, key) && !bpf_map_delete_elem(fd, &key)) {
			prev = NULL;
			continue;
		}
		prev = &key;
	}
	for (p = 0; p < 65536; p++) {
		port = (__u16)p;
		if (encports_has(e, port) && bpf_map_update_elem(fd, &port, &one, BPF_ANY))
			return -errno;
	}
	return 0;
}

void capture_counters(struct capture *c, uint64_t out[CS_C_MAX])
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *v;
	__u32 i;
	int j;

	memset(out, 0, sizeof(uint64_t) * CS_C_MAX);
	if (!c || c->counters_fd < 0 || ncpu <= 0)
		return;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return;
	for (i = 0; i < CS_C_MAX; i++) {
		if (bpf_map_lookup_elem(c->counters_fd, &i, v))
			continue;
		for (j = 0; j < ncpu; j++)
			out[i] += v[j];
	}
	free(v);
}

const char *capture_ifname(struct capture *c, uint32_t ifindex)
{
	int i;

	if (!c)
		return "";
	for (i = 0; i < c->n_att; i++)
		if ((uint32_t)c->att[i].ifindex == ifindex)
			return c->att[i].name;
	return "";
}

bool capture_uses_clsact(const struct capture *c)
{
	for (int i = 0; c && i < c->n_att; i++)
		if (c->att[i].tc[DIR_IN] || c->att[i].tc[DIR_OUT])
			return true;
	return false;
}

void capture_close(struct capture *c)
{
	if (!c)
		return;
	detach_all(c);
	ring_buffer__free(c->rb);
	certsentry_bpf__destroy(c->skel);
	free(c);
}
