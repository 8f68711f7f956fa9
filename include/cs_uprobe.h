/* cs_uprobe.h - the ABI between bpf/uprobe.bpf.c and user/uprobe.c: maps, ring records, counters. */
#ifndef CS_UPROBE_H
#define CS_UPROBE_H

/*
 * Included by the BPF program (after vmlinux.h) and by userspace (after
 * <linux/types.h>): only __u8/__u16/__u32/__u64 types, naturally aligned.
 *
 * What the kernel side sees, per thread of a local TLS server:
 *  - OpenSSL's ssl_add_cert_to_wpacket calls libcrypto's i2d_X509 twice per
 *    certificate: (x, NULL) for the length, then (x, &p) to write the DER at
 *    p inside the Certificate message being built. The uretprobe of the
 *    second call copies the DER (CS_UP_REC_CERT records, chunked).
 *  - The chain is "pending" for the thread until its next send on a TCP
 *    socket (tp_btf/sock_send_length), which gives the 4-tuple: one
 *    CS_UP_REC_BIND record, and the thread's pending state ends.
 *  - Go's crypto/tls.(*Config).writeKeyLog entry: one CS_UP_REC_SECRET.
 */

#define CS_UP_CERT_MAX	  65536 /* DER bytes copied per certificate */
#define CS_UP_CHUNK	  16384 /* DER bytes per ring record (a power of two) */
#define CS_UP_CHAIN_MAX	  16	/* certificates copied per chain: TLS_CHAIN_MAX */
#define CS_UP_RING_BYTES  (4 * 1024 * 1024)
#define CS_UP_THREADS_MAX 8192	/* "calls" and "pending": threads at once */
#define CS_UP_TGIDS_MAX	  16384 /* "ssl_text": processes with a libssl range */
#define CS_UP_FILES_MAX	  256	/* "ssl_files": files whose text may call */
#define CS_UP_LABEL_MAX	  64	/* Go key log label bytes kept (a power of two) */
#define CS_UP_RANDOM_LEN  32	/* client_random */
#define CS_UP_SECRET_MAX  64	/* secret bytes (SHA-384: 48; a power of two) */
#define CS_UP_COMM_LEN	  16
#define CS_UP_PENDING_NS  1000000000ULL /* a chain not sent within 1 s is not bound */

/* Value of "ssl_text" (key: __u32 tgid): the executable mapping of the file
 * holding OpenSSL's callers (libssl.so.3, or a static binary's own text). */
struct cs_up_range {
	__u64 start;
	__u64 end; /* exclusive */
};

/* Key of "ssl_files": a file whose executable mappings count as callers,
 * for processes not (yet) in "ssl_text". dev is the kernel's encoding
 * (major << 20 | minor), as /proc/PID/maps prints it split. The value is
 * __u8 flags: CS_UP_FILE_ANY, any process mapping it counts (discovery, or a
 * file named by path); else only children of a process in "ssl_text" (forks
 * of named processes: the workers of a named server). */
struct cs_up_file {
	__u64 dev;
	__u64 ino;
};

#define CS_UP_FILE_ANY 0x1

/* Value of "calls" (key: __u32 tid): an i2d_X509 call from entry to return. */
struct cs_up_call {
	__u64 buf;  /* *out at entry: the DER is written there */
	__u32 tgid; /* userspace drops the entries of ended threads */
	__u32 pad;
};

/* Value of "pending" (key: __u32 tid): the chain this thread is building. */
struct cs_up_pending {
	__u64 chain;	/* chain id (global sequence, never 0) */
	__u64 ts_ns;	/* first certificate, CLOCK_MONOTONIC */
	__u64 tail;	/* last 8 DER bytes of the previous certificate */
	__u64 end;	/* user address just past the previous DER */
	__u32 prev_len; /* previous certificate's DER length */
	__u32 n;	/* certificates in the chain so far */
	__u32 tgid;
	__u32 pad;
};

enum cs_up_rec_type {
	CS_UP_REC_CERT = 1,   /* struct cs_up_cert + len DER bytes */
	CS_UP_REC_BIND = 2,   /* struct cs_up_bind */
	CS_UP_REC_SECRET = 3, /* struct cs_up_secret */
};

struct cs_up_hdr {
	__u64 ts_ns; /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 chain; /* chain id; 0 for secrets */
	__u32 tgid;
	__u32 tid;
	__u32 type; /* enum cs_up_rec_type */
	__u32 pad;
};

/* cs_up_cert.flags */
#define CS_UP_CERT_OVERSIZE 0x1 /* der_len > CS_UP_CERT_MAX: no bytes follow */
#define CS_UP_CERT_SKIPPED  0x2 /* index >= CS_UP_CHAIN_MAX: counted, not copied */

/* One piece of one certificate: the DER bytes [off, off + len) follow.
 * The pieces of a certificate come in order, from the same thread. */
struct cs_up_cert {
	struct cs_up_hdr h;
	__u32 index;   /* position in the chain, 0 = leaf */
	__u32 der_len; /* the whole DER */
	__u32 off;
	__u32 len;
	__u32 flags;
	__u32 pad;
};

/* The thread's next TCP send after its chain: the socket's 4-tuple as the
 * socket holds it (local = the server side). An AF_INET6 socket may hold
 * v4-mapped addresses (::ffff:a.b.c.d). */
struct cs_up_bind {
	struct cs_up_hdr h;
	__u8 local[16]; /* network byte order; IPv4 in the first 4 bytes */
	__u8 remote[16];
	__u16 lport; /* host byte order */
	__u16 rport;
	__u16 family; /* AF_INET (2) or AF_INET6 (10) */
	__u16 pad;
	__u32 n;   /* certificates the kernel saw in the chain */
	__s32 ret; /* the send's result (bytes, or -errno) */
	char comm[CS_UP_COMM_LEN];
};

/* crypto/tls.(*Config).writeKeyLog(label, clientRandom, secret) of a Go
 * program: the arguments as they were (lengths checked by the kernel). */
struct cs_up_secret {
	struct cs_up_hdr h;
	__u32 label_len;
	__u32 secret_len;
	char label[CS_UP_LABEL_MAX]; /* not NUL-terminated */
	__u8 random[CS_UP_RANDOM_LEN];
	__u8 secret[CS_UP_SECRET_MAX];
	char comm[CS_UP_COMM_LEN];
};

/* Per-CPU counters (array "counters", index = enum value). The names are in
 * user/uprobe.c's counter table. */
enum cs_up_counter {
	CS_UP_C_CALLS,	    /* i2d_X509 calls that wrote bytes, from OpenSSL's caller */
	CS_UP_C_FILTERED,   /* i2d_X509 calls from elsewhere (return address not in libssl) */
	CS_UP_C_VMA,	    /* callers found from the task's VMA (process not in ssl_text) */
	CS_UP_C_CERTS,	    /* certificates copied */
	CS_UP_C_BYTES,	    /* DER bytes copied */
	CS_UP_C_OVERSIZE,   /* certificates over CS_UP_CERT_MAX (not copied) */
	CS_UP_C_SKIPPED,    /* certificates past CS_UP_CHAIN_MAX (not copied) */
	CS_UP_C_CHAINS,	    /* chains started */
	CS_UP_C_RESTARTS,   /* chains started while the thread had one not yet sent */
	CS_UP_C_BINDS,	    /* chains bound to a TCP send */
	CS_UP_C_NOT_TCP,    /* sends of a pending thread on other sockets (skipped) */
	CS_UP_C_STALE,	    /* chains not sent within CS_UP_PENDING_NS (dropped at the send) */
	CS_UP_C_SECRETS,    /* Go writeKeyLog calls emitted */
	CS_UP_C_BAD_SECRET, /* Go writeKeyLog calls with lengths out of bounds */
	CS_UP_C_RECORDS,    /* ring records written */
	CS_UP_C_RB_FAIL,    /* ring records lost (ring full) */
	CS_UP_C_READ_FAIL,  /* user memory reads that failed */
	CS_UP_C_MAP_FULL,   /* per-thread state not stored (map full) */
	CS_UP_C_MAX
};

#endif
