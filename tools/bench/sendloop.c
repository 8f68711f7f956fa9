/* sendloop.c - a tight loop of small UDP sends to a socket of our own on 127.0.0.1: ns per send, the cost a send-path tracepoint program adds. */
/*
 *   sendloop [-n SENDS] [-b BYTES] [-r ROUNDS]
 *
 * Run it in a network namespace of its own, with and without the program
 * attached (tp_btf/sock_send_length fires once per send, on every socket of
 * the machine). The receiving socket is never read: once its buffer is full
 * the datagrams are dropped on arrival, so every round costs the same.
 * Prints each round's ns/send and the best (least disturbed) round.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	long sends = 1000000, bytes = 16, rounds = 5, i, r;
	char buf[1024] = { 0 };
	double best = 0;
	int opt, rx, tx;

	while ((opt = getopt(argc, argv, "n:b:r:")) != -1) {
		switch (opt) {
		case 'n':
			sends = atol(optarg);
			break;
		case 'b':
			bytes = atol(optarg);
			break;
		case 'r':
			rounds = atol(optarg);
			break;
		default:
			fprintf(stderr,
				"usage: sendloop [-n SENDS] [-b BYTES (<= 1024)] [-r ROUNDS]\n");
			return 2;
		}
	}
	if (sends <= 0 || bytes <= 0 || bytes > (long)sizeof(buf) || rounds <= 0) {
		fprintf(stderr, "sendloop: -n, -b (1..1024) and -r must be positive\n");
		return 2;
	}
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rx = socket(AF_INET, SOCK_DGRAM, 0);
	tx = socket(AF_INET, SOCK_DGRAM, 0);
	if (rx < 0 || tx < 0 || bind(rx, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(rx, (struct sockaddr *)&a, &al) ||
	    connect(tx, (struct sockaddr *)&a, sizeof(a))) {
		perror("sendloop: sockets on 127.0.0.1");
		return 1;
	}
	for (r = 0; r < rounds; r++) {
		uint64_t t0 = now_ns();
		double ns;

		for (i = 0; i < sends; i++) {
			if (send(tx, buf, bytes, 0) != bytes) {
				perror("sendloop: send");
				return 1;
			}
		}
		ns = (double)(now_ns() - t0) / sends;
		printf("round %ld: %.1f ns/send\n", r + 1, ns);
		if (!r || ns < best)
			best = ns;
	}
	printf("best: %.1f ns/send (%ld sends of %ld bytes)\n", best, sends, bytes);
	return 0;
}
