/* tlsmem.c - real OpenSSL server handshakes in memory (no socket), then TCP sends in a chosen order: drives the uprobe source's per-thread chains. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#define THREADS_MAX 16
#define FLIGHT_MAX  (256 * 1024)

/*
 * Each thread makes a server SSL and a client SSL joined by memory BIOs and
 * runs the handshake until the server has written its first flight (so
 * OpenSSL built its Certificate message) without any socket. Then:
 *   send    the threads, in reverse order, each connect a TCP socket to our
 *           own listener and write that flight on it;
 *   orphan  as send, but each thread first builds a flight with the other
 *           certificate (-x/-y) that it never sends;
 *   exit    the process ends with every chain built and none sent;
 *   bench   each thread builds -l flights (none sent) and says how long
 *           one took: the server-side cost of the probes, with and without.
 */
enum mode { M_SEND, M_ORPHAN, M_EXIT, M_BENCH };

static struct {
	SSL_CTX *ctx, *ctx2, *cctx;
	enum mode mode;
	int n;
	int loops;
	int port;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int built; /* threads done building */
	int turn;  /* thread allowed to send now */
} g = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static void die(const char *what)
{
	fprintf(stderr, "tlsmem: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

/* The server's first flight for one handshake; its length, or -1. */
static int flight(SSL_CTX *sctx, uint8_t *out, int cap)
{
	SSL *c = SSL_new(g.cctx), *s = SSL_new(sctx);
	BIO *c_in = BIO_new(BIO_s_mem()), *c_out = BIO_new(BIO_s_mem());
	BIO *s_in = BIO_new(BIO_s_mem()), *s_out = BIO_new(BIO_s_mem());
	uint8_t buf[16384];
	int n, len = -1;

	if (!c || !s || !c_in || !c_out || !s_in || !s_out)
		die("out of memory");
	SSL_set_bio(c, c_in, c_out);
	SSL_set_bio(s, s_in, s_out);
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	SSL_do_handshake(c); /* ClientHello into c_out */
	while ((n = BIO_read(c_out, buf, sizeof(buf))) > 0)
		BIO_write(s_in, buf, n);
	SSL_do_handshake(s); /* ServerHello ... Finished into s_out */
	n = BIO_read(s_out, out, cap);
	if (n > 0)
		len = n;
	SSL_free(c);
	SSL_free(s);
	return len;
}

static void send_flight(int idx, const uint8_t *b, int len)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(g.port) };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), off = 0, n;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
		die("connect to our listener");
	getsockname(fd, (struct sockaddr *)&a, &al);
	while (off < len && (n = write(fd, b + off, len - off)) > 0)
		off += n;
	printf("sent thread=%d tid=%d lport=%u bytes=%d\n", idx, gettid(), ntohs(a.sin_port), off);
	fflush(stdout);
	close(fd);
}

static void *thread(void *arg)
{
	int idx = (int)(long)arg, len;
	uint8_t *b = malloc(FLIGHT_MAX);

	if (!b)
		die("out of memory");
	if (g.mode == M_ORPHAN && flight(g.ctx2, b, FLIGHT_MAX) < 0)
		die("handshake (orphan)");
	if (g.mode == M_BENCH) {
		struct timespec t0, t1, c0, c1;
		int i;

		/* The thread's CPU time (user + system, uprobe handling included)
		 * says more than the wall clock on a shared machine. */
		clock_gettime(CLOCK_MONOTONIC, &t0);
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
		for (i = 0; i < g.loops; i++)
			if (flight(g.ctx, b, FLIGHT_MAX) < 0)
				die("handshake");
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		printf("bench thread=%d flights=%d us/flight=%.1f cpu_us/flight=%.1f\n", idx,
		       g.loops,
		       ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / 1e3 / g.loops,
		       ((c1.tv_sec - c0.tv_sec) * 1e9 + (c1.tv_nsec - c0.tv_nsec)) / 1e3 / g.loops);
		fflush(stdout);
		free(b);
		return NULL;
	}
	len = flight(g.ctx, b, FLIGHT_MAX);
	if (len < 0)
		die("handshake");
	printf("built thread=%d tid=%d bytes=%d\n", idx, gettid(), len);
	fflush(stdout);
	pthread_mutex_lock(&g.mu);
	g.built++;
	pthread_cond_broadcast(&g.cv);
	if (g.mode == M_EXIT) {
		while (g.built < g.n)
			pthread_cond_wait(&g.cv, &g.mu);
		printf("exiting with %d chains not sent\n", g.n);
		fflush(stdout);
		_exit(0);
	}
	/* Interleave: every thread builds before any sends; then the last
	 * built sends first. */
	while (g.built < g.n || g.turn != idx)
		pthread_cond_wait(&g.cv, &g.mu);
	pthread_mutex_unlock(&g.mu);
	send_flight(idx, b, len);
	pthread_mutex_lock(&g.mu);
	g.turn--;
	pthread_cond_broadcast(&g.cv);
	pthread_mutex_unlock(&g.mu);
	free(b);
	return NULL;
}

static SSL_CTX *server_ctx(const char *cert, const char *key)
{
	SSL_CTX *c = SSL_CTX_new(TLS_server_method());

	if (!c || SSL_CTX_use_certificate_chain_file(c, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM) != 1)
		die("loading the certificate or key");
	return c;
}

/* Takes the connections and throws their bytes away. */
static void *acceptor(void *arg)
{
	int lfd = (int)(long)arg, fd;
	char buf[4096];

	while ((fd = accept(lfd, NULL, NULL)) >= 0) {
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		close(fd);
	}
	return NULL;
}

static int listener(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 64) ||
	    getsockname(fd, (struct sockaddr *)&a, &al))
		die("listening on 127.0.0.1");
	g.port = ntohs(a.sin_port);
	return fd;
}

int main(int argc, char **argv)
{
	const char *cert = NULL, *key = NULL, *cert2 = NULL, *key2 = NULL, *go = NULL;
	pthread_t th[THREADS_MAX], acc;
	struct stat st;
	int opt, i;

	g.n = 1;
	g.loops = 1000;
	while ((opt = getopt(argc, argv, "c:k:x:y:w:n:m:l:")) != -1) {
		switch (opt) {
		case 'c':
			cert = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'x':
			cert2 = optarg;
			break;
		case 'y':
			key2 = optarg;
			break;
		case 'w':
			go = optarg;
			break;
		case 'n':
			g.n = atoi(optarg);
			if (g.n < 1 || g.n > THREADS_MAX)
				die("-n: 1 to 16 threads");
			break;
		case 'l':
			g.loops = atoi(optarg);
			if (g.loops < 1)
				die("-l: flights per thread, at least 1");
			break;
		case 'm':
			if (!strcmp(optarg, "send"))
				g.mode = M_SEND;
			else if (!strcmp(optarg, "orphan"))
				g.mode = M_ORPHAN;
			else if (!strcmp(optarg, "exit"))
				g.mode = M_EXIT;
			else if (!strcmp(optarg, "bench"))
				g.mode = M_BENCH;
			else
				die("-m: send|orphan|exit|bench");
			break;
		default:
			fprintf(stderr, "usage: tlsmem -c CHAIN.pem -k KEY [-x CHAIN2 -y KEY2] "
					"-w GOFILE [-n THREADS] [-m send|orphan|exit|bench] "
					"[-l FLIGHTS]\n");
			return 2;
		}
	}
	if (!cert || !key || !go || (g.mode == M_ORPHAN && (!cert2 || !key2)))
		die("need -c, -k, -w (and -x, -y for orphan)");
	g.ctx = server_ctx(cert, key);
	if (g.mode == M_ORPHAN)
		g.ctx2 = server_ctx(cert2, key2);
	g.cctx = SSL_CTX_new(TLS_client_method());
	if (!g.cctx)
		die("client context");
	g.turn = g.n - 1;
	if (pthread_create(&acc, NULL, acceptor, (void *)(long)listener()))
		die("thread");
	printf("ready pid=%d port=%d\n", getpid(), g.port);
	fflush(stdout);
	/* Wait for the observer to be attached. */
	while (stat(go, &st))
		usleep(10000);
	for (i = 0; i < g.n; i++)
		if (pthread_create(&th[i], NULL, thread, (void *)(long)i))
			die("thread");
	for (i = 0; i < g.n; i++)
		pthread_join(th[i], NULL);
	printf("done\n");
	fflush(stdout);
	if (g.mode == M_BENCH)
		return 0;
	/* Stay until killed: the observer binds while we live. */
	pause();
	return 0;
}
