/* uprobe.bpf.c - uprobes in local TLS servers: the DER of each certificate OpenSSL serves, bound to the socket it goes out on; Go's TLS secrets. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "cs_uprobe.h"

#define AF_INET	 2
#define AF_INET6 10
#define VM_EXEC	 0x00000004

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CS_UP_THREADS_MAX);
	__type(key, __u32);
	__type(value, struct cs_up_call);
} calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CS_UP_THREADS_MAX);
	__type(key, __u32);
	__type(value, struct cs_up_pending);
} pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CS_UP_TGIDS_MAX);
	__type(key, __u32);
	__type(value, struct cs_up_range);
} ssl_text SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CS_UP_FILES_MAX);
	__type(key, struct cs_up_file);
	__type(value, __u8);
} ssl_files SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CS_UP_C_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* One certificate record being built: too big for the 512-byte stack. */
struct scratch {
	struct cs_up_cert rec;
	__u8 data[CS_UP_CHUNK];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

/* No record wakes the reader (BPF_RB_NO_WAKEUP): it takes them on each turn
 * of its loop, which the capture ring's wakeups drive. A wakeup would be an
 * IPI, in the server's time, for a reader that never sleeps on this ring. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, CS_UP_RING_BYTES);
} events SEC(".maps");

__u64 chain_seq; /* last chain id handed out */
/* Entries in "pending", kept exact (each successful insert adds one, each
 * successful delete, here or by userspace, takes one): lets every other
 * send on the machine skip the lookup. */
__u64 pending_n;

static __always_inline void count(__u32 idx, __u64 v)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &idx);

	if (c)
		*c += v;
}

/* Sleepable programs only: may fault the page in (Go's label constant sits
 * in a page of the binary the process may not have touched yet). */
static __always_inline int copy_user(void *dst, __u32 len, __u64 src)
{
	if (bpf_copy_from_user(dst, len, (const void *)src)) {
		count(CS_UP_C_READ_FAIL, 1);
		return -1;
	}
	return 0;
}

static __always_inline int read_user(void *dst, __u32 len, __u64 src)
{
	if (bpf_probe_read_user(dst, len, (const void *)src)) {
		count(CS_UP_C_READ_FAIL, 1);
		return -1;
	}
	return 0;
}

/* ---- is the caller OpenSSL's certificate writer? ---- */

struct vma_ctx {
	struct cs_up_range r;
	int found;
	__u8 flags;
};

static long vma_cb(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	struct vma_ctx *v = data;
	struct cs_up_file f = {};
	struct file *file = vma->vm_file;
	__u8 *flags;

	if (!file || !(vma->vm_flags & VM_EXEC))
		return 0;
	f.ino = file->f_inode->i_ino;
	f.dev = file->f_inode->i_sb->s_dev;
	flags = bpf_map_lookup_elem(&ssl_files, &f);
	if (!flags)
		return 0;
	v->r.start = vma->vm_start;
	v->r.end = vma->vm_end;
	v->flags = *flags;
	v->found = 1;
	return 0;
}

/* Return address inside the caller file's text: the range userspace found
 * for this process; else (a process forked or started since the last scan,
 * or a pid reused) the task's own mapping there, if it is of a known file
 * (and the process one we follow: see CS_UP_FILE_ANY), remembered. */
static __always_inline int from_ssl(__u32 tgid, __u64 ra)
{
	struct cs_up_range *r = bpf_map_lookup_elem(&ssl_text, &tgid);
	struct task_struct *task = bpf_get_current_task_btf();
	struct vma_ctx v = {};
	__u32 parent;

	if (r && ra >= r->start && ra < r->end)
		return 1;
	if (bpf_find_vma(task, ra, vma_cb, &v, 0) || !v.found)
		return 0;
	if (!(v.flags & CS_UP_FILE_ANY)) {
		parent = task->real_parent->tgid;
		if (!bpf_map_lookup_elem(&ssl_text, &parent))
			return 0;
	}
	count(CS_UP_C_VMA, 1);
	bpf_map_update_elem(&ssl_text, &tgid, &v.r, BPF_ANY);
	return 1;
}

SEC("uprobe")
int BPF_KPROBE(up_i2d_entry, void *x, __u64 out)
{
	__u64 id = bpf_get_current_pid_tgid(), ra;
	__u32 tid = (__u32)id;
	struct cs_up_call c = {};

	/* i2d_X509(x, NULL) only measures: nothing to copy. */
	if (!out)
		return 0;
	if (read_user(&ra, sizeof(ra), PT_REGS_SP(ctx)))
		return 0;
	if (!from_ssl(id >> 32, ra)) {
		count(CS_UP_C_FILTERED, 1);
		return 0;
	}
	/* *out NULL: i2d allocates the buffer itself; OpenSSL's writer never does. */
	if (read_user(&c.buf, sizeof(c.buf), out) || !c.buf)
		return 0;
	c.tgid = id >> 32;
	if (bpf_map_update_elem(&calls, &tid, &c, BPF_ANY))
		count(CS_UP_C_MAP_FULL, 1);
	return 0;
}

/* ---- chain boundaries ---- */

static __always_inline __u32 get_be(const __u8 *b, int n)
{
	__u32 v = 0;
	int i;

	for (i = 0; i < n; i++)
		v = v << 8 | b[i];
	return v;
}

/* Does the previous certificate's DER end gap bytes before the 3-byte length
 * of the one at buf? Its last 8 bytes (signature bits) must be there, and
 * for TLS 1.3 (gap > 0) the entry's extensions length before the gap. */
static __always_inline int prev_ends_at(__u64 buf, __u32 gap, const struct cs_up_pending *p)
{
	__u64 end = buf - 3 - gap, tail;
	__u8 ext[2];

	if (gap && (read_user(ext, 2, end) || get_be(ext, 2) != gap - 2))
		return 0;
	if (read_user(&tail, sizeof(tail), end - sizeof(tail)))
		return 0;
	return tail == p->tail;
}

/*
 * Is the certificate at buf the next one of the thread's pending chain? In
 * the Certificate message each DER follows its 3-byte length, and the
 * previous certificate ends right before that length (TLS 1.2) or before
 * that entry's extensions (TLS 1.3: 2-byte length + bytes). The message may
 * have moved since (the buffer grows by realloc), so the previous DER is
 * found again by its last bytes, just before buf; its extensions' length is
 * read where it ended (memory that stays readable: the heap).
 */
static __always_inline int continues(__u64 buf, const struct cs_up_pending *p)
{
	__u8 ext[2];

	if (prev_ends_at(buf, 0, p) || prev_ends_at(buf, 2, p))
		return 1;
	if (bpf_probe_read_user(ext, 2, (const void *)p->end))
		return 0;
	return prev_ends_at(buf, 2 + get_be(ext, 2), p);
}

/* ---- copying a certificate ---- */

struct copy_ctx {
	__u64 buf;
	__u32 len;
};

static int copy_chunk(__u32 i, void *arg)
{
	struct copy_ctx *c = arg;
	__u32 zero = 0, start = i * CS_UP_CHUNK, n;
	struct scratch *sc = bpf_map_lookup_elem(&scratch, &zero);

	if (!sc || start >= c->len)
		return 1;
	n = c->len - start;
	if (n > CS_UP_CHUNK)
		n = CS_UP_CHUNK;
	/* clang 14 drops a plain bound; this form keeps [1, CHUNK] visible. */
	barrier_var(n);
	n = ((n - 1) & (CS_UP_CHUNK - 1)) + 1;
	if (read_user(sc->data, n, c->buf + start))
		return 1;
	sc->rec.off = start;
	sc->rec.len = n;
	if (bpf_ringbuf_output(&events, sc, sizeof(sc->rec) + n, BPF_RB_NO_WAKEUP)) {
		count(CS_UP_C_RB_FAIL, 1);
		return 1;
	}
	count(CS_UP_C_RECORDS, 1);
	return 0;
}

/* The certificate's records: its DER in chunks, or its header alone. */
static __always_inline void emit_cert(const struct cs_up_pending *p, __u32 tid, __u64 buf,
				      __u32 len)
{
	struct copy_ctx c = { .buf = buf, .len = len };
	__u32 zero = 0;
	struct scratch *sc = bpf_map_lookup_elem(&scratch, &zero);

	if (!sc)
		return;
	__builtin_memset(&sc->rec, 0, sizeof(sc->rec));
	sc->rec.h.ts_ns = bpf_ktime_get_ns();
	sc->rec.h.chain = p->chain;
	sc->rec.h.tgid = p->tgid;
	sc->rec.h.tid = tid;
	sc->rec.h.type = CS_UP_REC_CERT;
	sc->rec.index = p->n;
	sc->rec.der_len = len;
	if (len > CS_UP_CERT_MAX || p->n >= CS_UP_CHAIN_MAX) {
		sc->rec.flags = len > CS_UP_CERT_MAX ? CS_UP_CERT_OVERSIZE : CS_UP_CERT_SKIPPED;
		count(len > CS_UP_CERT_MAX ? CS_UP_C_OVERSIZE : CS_UP_C_SKIPPED, 1);
		if (bpf_ringbuf_output(&events, &sc->rec, sizeof(sc->rec), BPF_RB_NO_WAKEUP))
			count(CS_UP_C_RB_FAIL, 1);
		else
			count(CS_UP_C_RECORDS, 1);
		return;
	}
	count(CS_UP_C_CERTS, 1);
	count(CS_UP_C_BYTES, len);
	bpf_loop((len + CS_UP_CHUNK - 1) / CS_UP_CHUNK, copy_chunk, &c, 0);
}

SEC("uretprobe")
int BPF_KRETPROBE(up_i2d_return, int ret)
{
	__u64 id = bpf_get_current_pid_tgid(), buf;
	__u32 tid = (__u32)id, len;
	struct cs_up_pending *p, np = {};
	struct cs_up_call *c = bpf_map_lookup_elem(&calls, &tid);

	if (!c)
		return 0;
	buf = c->buf;
	bpf_map_delete_elem(&calls, &tid);
	if (ret <= 0)
		return 0;
	len = ret;
	count(CS_UP_C_CALLS, 1);
	p = bpf_map_lookup_elem(&pending, &tid);
	if (!p || !continues(buf, p)) {
		if (p)
			count(CS_UP_C_RESTARTS, 1);
		count(CS_UP_C_CHAINS, 1);
		np.chain = __sync_fetch_and_add(&chain_seq, 1) + 1;
		np.ts_ns = bpf_ktime_get_ns();
		np.tgid = id >> 32;
		if (bpf_map_update_elem(&pending, &tid, &np, BPF_ANY)) {
			count(CS_UP_C_MAP_FULL, 1);
			return 0;
		}
		if (!p)
			__sync_fetch_and_add(&pending_n, 1);
		p = bpf_map_lookup_elem(&pending, &tid);
		if (!p)
			return 0;
	}
	emit_cert(p, tid, buf, len);
	p->n++;
	p->end = buf + len;
	p->prev_len = len;
	p->tail = 0;
	if (len >= sizeof(p->tail))
		read_user(&p->tail, sizeof(p->tail), buf + len - sizeof(p->tail));
	return 0;
}

/* ---- binding: the thread's next TCP send ---- */

static __always_inline void unpend(__u32 tid)
{
	if (!bpf_map_delete_elem(&pending, &tid))
		__sync_fetch_and_sub(&pending_n, 1);
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(up_send, struct sock *sk, int ret, int flags)
{
	struct cs_up_pending *p;
	struct cs_up_bind *b;
	__u32 tid;

	/* Every send of every process passes here: most find no chain pending
	 * anywhere, the others one failed lookup. */
	if (!*(volatile __u64 *)&pending_n)
		return 0;
	tid = (__u32)bpf_get_current_pid_tgid();
	p = bpf_map_lookup_elem(&pending, &tid);
	if (!p)
		return 0;
	if (sk->sk_protocol != IPPROTO_TCP) {
		count(CS_UP_C_NOT_TCP, 1);
		return 0;
	}
	/* OpenSSL sends the flight right after building it: a chain much older
	 * was abandoned, and this send is another connection's. */
	if (bpf_ktime_get_ns() - p->ts_ns > CS_UP_PENDING_NS) {
		count(CS_UP_C_STALE, 1);
		unpend(tid);
		return 0;
	}
	b = bpf_ringbuf_reserve(&events, sizeof(*b), 0);
	if (!b) {
		count(CS_UP_C_RB_FAIL, 1);
	} else {
		__builtin_memset(b, 0, sizeof(*b));
		b->h.ts_ns = bpf_ktime_get_ns();
		b->h.chain = p->chain;
		b->h.tgid = p->tgid;
		b->h.tid = tid;
		b->h.type = CS_UP_REC_BIND;
		b->family = sk->__sk_common.skc_family;
		b->lport = sk->__sk_common.skc_num;
		b->rport = bpf_ntohs(sk->__sk_common.skc_dport);
		if (b->family == AF_INET6) {
			__builtin_memcpy(b->local, &sk->__sk_common.skc_v6_rcv_saddr, 16);
			__builtin_memcpy(b->remote, &sk->__sk_common.skc_v6_daddr, 16);
		} else {
			__builtin_memcpy(b->local, &sk->__sk_common.skc_rcv_saddr, 4);
			__builtin_memcpy(b->remote, &sk->__sk_common.skc_daddr, 4);
		}
		b->n = p->n;
		b->ret = ret;
		bpf_get_current_comm(b->comm, sizeof(b->comm));
		bpf_ringbuf_submit(b, BPF_RB_NO_WAKEUP);
		count(CS_UP_C_RECORDS, 1);
		count(CS_UP_C_BINDS, 1);
	}
	unpend(tid);
	return 0;
}

/* ---- Go: crypto/tls.(*Config).writeKeyLog(label string, clientRandom, secret []byte) ---- */

/*
 * Entry only (a uretprobe rewrites the return address, which Go's stack
 * copying cannot follow). Go's register ABI on amd64 (go1.17+, ABIInternal):
 * integer arguments in RAX, RBX, RCX, RDI, RSI, R8, R9, R10, R11; a string
 * takes two (ptr, len), a slice three (ptr, len, cap). So: receiver RAX,
 * label RBX/RCX, clientRandom RDI/RSI/R8, secret R9/R10/R11.
 */
SEC("uprobe.s")
int up_go_keylog(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 label = ctx->bx, label_len = ctx->cx;
	__u64 random = ctx->di, random_len = ctx->si;
	__u64 secret = ctx->r9, secret_len = ctx->r10;
	struct cs_up_secret *s;
	__u32 n;

	if (!label_len || label_len > CS_UP_LABEL_MAX || random_len != CS_UP_RANDOM_LEN ||
	    !secret_len || secret_len > CS_UP_SECRET_MAX) {
		count(CS_UP_C_BAD_SECRET, 1);
		return 0;
	}
	s = bpf_ringbuf_reserve(&events, sizeof(*s), 0);
	if (!s) {
		count(CS_UP_C_RB_FAIL, 1);
		return 0;
	}
	__builtin_memset(s, 0, sizeof(*s));
	s->h.ts_ns = bpf_ktime_get_ns();
	s->h.tgid = id >> 32;
	s->h.tid = (__u32)id;
	s->h.type = CS_UP_REC_SECRET;
	n = label_len;
	barrier_var(n);
	n = ((n - 1) & (CS_UP_LABEL_MAX - 1)) + 1;
	if (copy_user(s->label, n, label))
		goto discard;
	s->label_len = n;
	if (copy_user(s->random, CS_UP_RANDOM_LEN, random))
		goto discard;
	n = secret_len;
	barrier_var(n);
	n = ((n - 1) & (CS_UP_SECRET_MAX - 1)) + 1;
	if (copy_user(s->secret, n, secret))
		goto discard;
	s->secret_len = n;
	bpf_get_current_comm(s->comm, sizeof(s->comm));
	bpf_ringbuf_submit(s, BPF_RB_NO_WAKEUP);
	count(CS_UP_C_RECORDS, 1);
	count(CS_UP_C_SECRETS, 1);
	return 0;
discard:
	bpf_ringbuf_discard(s, BPF_RB_NO_WAKEUP);
	return 0;
}
