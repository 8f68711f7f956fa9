/* tlsload.c - TLS load client for the benchmark capture (tools/bench/mkpcap.sh).
 *
 * Makes N12 TLS 1.2-only and N13 TLS 1.3-only connections, every one a full
 * handshake (no session cache, no tickets, a fresh SSL each time, its own
 * client port), spread over the given ports round-robin, THREADS at a time.
 * 80% send SNI (NAME.bench.test); every BULK_EVERY-th connection asks
 * `openssl s_server -WWW` for /BULK, the others for /SMALL, and reads to EOF.
 *
 *   tlsload [-a ADDR] [-p PORT[,PORT...]] [-2 N12] [-3 N13] [-b BULK_EVERY]
 *           [-t THREADS] [-B BULKPATH] [-S SMALLPATH] [-n SNI-SUFFIX] [-P BASEPORT]
 *           [-k KEYLOG]
 *
 * -P BASEPORT: connection i binds client port BASEPORT+i, so every connection
 * has its own 4-tuple (the kernel would reuse TIME_WAIT ports on loopback).
 * -k KEYLOG: append every connection's secrets to KEYLOG (NSS key log format,
 * made 0600), each line whole as it is derived, for certsentry --keylog.
 *
 * Prints one summary line; exits 1 if any connection failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#define MAX_PORTS 16

static const char *addr = "127.0.0.1", *bulk_path = "/bulk.bin", *small_path = "/small.txt";
static const char *sni_suffix = "bench.test";
static int ports[MAX_PORTS] = { 443, 8443, 4433, 993 }, n_ports = 4;
static long n12 = 6000, n13 = 600, bulk_every = 10, threads = 4, base_port;
static SSL_CTX *ctx12, *ctx13;
static atomic_long next_conn, failures, bytes_in, done12, done13, bulk_done;
static int keylog_fd = -1;

/* One write(2) per line on an O_APPEND file: lines from the threads never mix. */
static void keylog_line(const SSL *s, const char *line)
{
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "%s\n", line);

	(void)s;
	if (n > 0 && (size_t)n < sizeof(buf) && write(keylog_fd, buf, (size_t)n) != n)
		atomic_fetch_add(&failures, 1);
}

static SSL_CTX *mkctx(int version)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());

	if (!c)
		return NULL;
	SSL_CTX_set_min_proto_version(c, version);
	SSL_CTX_set_max_proto_version(c, version);
	SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
	if (keylog_fd >= 0)
		SSL_CTX_set_keylog_callback(c, keylog_line);
	return c;
}

/* Connection i is TLS 1.3 when the running share of N13 in N12+N13 steps up. */
static int is_tls13(long i)
{
	long n = n12 + n13;

	return n13 && (i + 1) * n13 / n > i * n13 / n;
}

static int one(long i)
{
	static const char *names[] = { "www", "api", "cdn", "mail", "static" };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 20 };
	char req[256], sni[128], buf[16384];
	int fd, ok = 0, tls13 = is_tls13(i),
		bulk = bulk_every > 0 && i % bulk_every == bulk_every - 1;
	long got = 0;
	SSL *s = NULL;

	sa.sin_port = htons(ports[i % n_ports]);
	inet_pton(AF_INET, addr, &sa.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	if (base_port) { /* its own client port: no 4-tuple appears twice in the capture */
		struct sockaddr_in me = { .sin_family = AF_INET,
					  .sin_port = htons((uint16_t)(base_port + i)) };

		inet_pton(AF_INET, addr, &me.sin_addr);
		if (bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0)
			goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto out;
	s = SSL_new(tls13 ? ctx13 : ctx12);
	if (!s)
		goto out;
	SSL_set_fd(s, fd);
	if (i % 5 != 4) { /* 80% with SNI */
		snprintf(sni, sizeof(sni), "%s.%s", names[i % 5], sni_suffix);
		SSL_set_tlsext_host_name(s, sni);
	}
	if (SSL_connect(s) != 1)
		goto out;
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\n\r\n", bulk ? bulk_path : small_path);
	if (SSL_write(s, req, (int)strlen(req)) <= 0)
		goto out;
	for (;;) {
		int n = SSL_read(s, buf, sizeof(buf));

		if (n <= 0) {
			int e = SSL_get_error(s, n);

			ok = e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && got > 0);
			break;
		}
		got += n;
	}
	if (ok) {
		SSL_shutdown(s);
		atomic_fetch_add(&bytes_in, got);
		atomic_fetch_add(tls13 ? &done13 : &done12, 1);
		if (bulk)
			atomic_fetch_add(&bulk_done, 1);
	}
out:
	if (s)
		SSL_free(s);
	close(fd);
	ERR_clear_error();
	return ok ? 0 : -1;
}

static void *worker(void *arg)
{
	long i, n = n12 + n13;

	(void)arg;
	while ((i = atomic_fetch_add(&next_conn, 1)) < n) {
		if (one(i) < 0) {
			atomic_fetch_add(&failures, 1);
			if (atomic_load(&failures) <= 5)
				fprintf(stderr, "tlsload: connection %ld (port %d) failed\n", i,
					ports[i % n_ports]);
		}
	}
	return NULL;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: tlsload [-a ADDR] [-p PORT[,PORT...]] [-2 N12] [-3 N13] "
		"[-b BULK_EVERY] [-t THREADS] [-B BULKPATH] [-S SMALLPATH] [-n SNI-SUFFIX] [-P BASEPORT] "
		"[-k KEYLOG]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	pthread_t tid[64];
	struct timespec t0, t1;
	char *p, *tok;
	double secs;
	int c;
	long k;

	while ((c = getopt(argc, argv, "a:p:2:3:b:t:B:S:n:P:k:h")) != -1) {
		switch (c) {
		case 'a':
			addr = optarg;
			break;
		case 'p':
			n_ports = 0;
			for (p = optarg; (tok = strtok(p, ",")) && n_ports < MAX_PORTS; p = NULL)
				ports[n_ports++] = atoi(tok);
			break;
		case '2':
			n12 = atol(optarg);
			break;
		case '3':
			n13 = atol(optarg);
			break;
		case 'b':
			bulk_every = atol(optarg);
			break;
		case 't':
			threads = atol(optarg);
			break;
		case 'B':
			bulk_path = optarg;
			break;
		case 'S':
			small_path = optarg;
			break;
		case 'n':
			sni_suffix = optarg;
			break;
		case 'P':
			base_port = atol(optarg);
			break;
		case 'k':
			keylog_fd = open(optarg, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
			if (keylog_fd < 0) {
				fprintf(stderr, "tlsload: -k %s: %s\n", optarg, strerror(errno));
				return 2;
			}
			break;
		default:
			usage();
		}
	}
	if (!n_ports || threads < 1 || threads > 64 || n12 < 0 || n13 < 0 ||
	    (base_port && (base_port < 1024 || base_port + n12 + n13 > 65535)))
		usage();
	ctx12 = mkctx(TLS1_2_VERSION);
	ctx13 = mkctx(TLS1_3_VERSION);
	if (!ctx12 || !ctx13) {
		fprintf(stderr, "tlsload: SSL_CTX_new failed\n");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (k = 0; k < threads; k++)
		if (pthread_create(&tid[k], NULL, worker, NULL)) {
			fprintf(stderr, "tlsload: pthread_create: %s\n", strerror(errno));
			return 1;
		}
	for (k = 0; k < threads; k++)
		pthread_join(tid[k], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("tlsload: tls12=%ld tls13=%ld bulk=%ld failed=%ld bytes_in=%ld seconds=%.2f "
	       "handshakes_per_s=%.0f\n",
	       atomic_load(&done12), atomic_load(&done13), atomic_load(&bulk_done),
	       atomic_load(&failures), atomic_load(&bytes_in), secs,
	       secs > 0 ? (double)(atomic_load(&done12) + atomic_load(&done13)) / secs : 0);
	SSL_CTX_free(ctx12);
	SSL_CTX_free(ctx13);
	return atomic_load(&failures) ? 1 : 0;
}
