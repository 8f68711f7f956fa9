/* tunreplay.c - write a capture's IP packets into a TUN device, in order, so they arrive on its ingress. */
/*
 *   tunreplay -i TUN [--delay-us N] [--no-up] FILE      (- for stdin)
 *
 * Opens the TUN device TUN in the current network namespace (IFF_TUN |
 * IFF_NO_PI), creating it if it does not exist (then it disappears when
 * tunreplay exits; make it beforehand with `ip tuntap add dev TUN mode tun`
 * to attach something to it first), brings it up, and writes every IPv4/IPv6
 * packet of FILE into it, one write per packet, in file order. The kernel
 * receives each as if the device had received it: tc ingress of TUN sees
 * exactly these packets. What the stack does with them afterwards is its own
 * business (loopback addresses arriving on a tun are dropped as martians), so
 * run it in a network namespace made for the purpose.
 *
 * Link types: raw IP (LINKTYPE_RAW, IPV4, IPV6), Ethernet (VLAN tags
 * skipped), Linux cooked v1/v2, BSD loopback. Trailing link padding is cut
 * (lengths come from the IP header). Frames cut by the snapshot length and
 * non-IP frames are skipped and counted.
 */
#include <argp.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/if_tun.h>
#include <pcap/pcap.h>
#include "pcapfile.h"

static struct {
	const char *ifname, *file;
	unsigned delay_us;
	bool no_up, verbose;
} opt;

static int tun_open(const char *name)
{
	struct ifreq ifr;
	int fd, s;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "tunreplay: /dev/net/tun: %s\n", strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		fprintf(stderr, "tunreplay: TUNSETIFF %s: %s\n", name, strerror(errno));
		close(fd);
		return -1;
	}
	if (opt.no_up)
		return fd;
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
		fprintf(stderr, "tunreplay: SIOCGIFFLAGS %s: %s\n", name, strerror(errno));
		goto fail;
	}
	if (!(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
			fprintf(stderr, "tunreplay: bringing %s up: %s\n", name, strerror(errno));
			goto fail;
		}
	}
	close(s);
	return fd;
fail:
	if (s >= 0)
		close(s);
	close(fd);
	return -1;
}

static const struct argp_option options[] = {
	{ "interface", 'i', "TUN", 0, "TUN device to write into (created if missing)", 0 },
	{ "delay-us", 'd', "N", 0, "Pause N microseconds after each packet (default 0)", 0 },
	{ "no-up", 'n', NULL, 0, "Do not bring the device up", 0 },
	{ "verbose", 'v', NULL, 0, "Print counts at the end", 0 },
	{},
};

static error_t parse_opt(int key, char *arg, struct argp_state *st)
{
	char *end;

	switch (key) {
	case 'i':
		opt.ifname = arg;
		break;
	case 'd':
		errno = 0;
		opt.delay_us = strtoul(arg, &end, 0);
		if (errno || end == arg || *end || opt.delay_us > 10000000)
			argp_error(st, "--delay-us: '%s' is not a number up to 10000000", arg);
		break;
	case 'n':
		opt.no_up = true;
		break;
	case 'v':
		opt.verbose = true;
		break;
	case ARGP_KEY_ARG:
		if (st->arg_num)
			argp_usage(st);
		opt.file = arg;
		break;
	case ARGP_KEY_END:
		if (!opt.ifname || !opt.file)
			argp_usage(st);
		if (strlen(opt.ifname) >= IFNAMSIZ)
			argp_error(st, "-i: '%s' is too long", opt.ifname);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp argp = {
	options,       parse_opt,
	"-i TUN FILE", "tunreplay: write a capture's IP packets into a TUN device, in order.",
	NULL,	       NULL,
	NULL,
};

int main(int argc, char **argv)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const uint8_t *f;
	unsigned long sent = 0, skipped = 0, failed = 0;
	pcap_t *pc;
	int fd, lt, rc;

	argp_parse(&argp, argc, argv, 0, NULL, NULL);
	pc = pcap_open_offline(opt.file, err);
	if (!pc) {
		fprintf(stderr, "tunreplay: %s\n", err);
		return 1;
	}
	lt = pcap_datalink(pc);
	if (!pcapfile_lt_known(lt)) {
		fprintf(stderr, "tunreplay: %s: link type %s not supported\n", opt.file,
			pcap_datalink_val_to_name(lt));
		return 1;
	}
	fd = tun_open(opt.ifname);
	if (fd < 0)
		return 1;
	while ((rc = pcap_next_ex(pc, &h, &f)) == 1) {
		int off = pcapfile_l3_offset(lt, f, h->caplen);
		const uint8_t *ip;
		uint32_t cap, len;

		if (off < 0 || h->caplen < h->len || h->caplen - off < 20) {
			skipped++;
			continue;
		}
		ip = f + off, cap = h->caplen - off;
		if (ip[0] >> 4 == 4) {
			len = pcapfile_rd16(ip + 2);
		} else if (ip[0] >> 4 == 6 && cap >= 40) {
			len = 40 + pcapfile_rd16(ip + 4);
		} else {
			skipped++;
			continue;
		}
		if (len < 20 || len > cap)
			len = cap; /* BIG TCP (0), or lying: as captured */
		if (write(fd, ip, len) != (ssize_t)len) {
			if (!failed)
				fprintf(stderr, "tunreplay: write to %s (packet %lu): %s\n",
					opt.ifname, sent + skipped + failed + 1, strerror(errno));
			failed++;
			continue;
		}
		sent++;
		if (opt.delay_us) {
			struct timespec ts = { opt.delay_us / 1000000,
					       (opt.delay_us % 1000000) * 1000L };
			nanosleep(&ts, NULL);
		}
	}
	if (rc == PCAP_ERROR)
		fprintf(stderr, "tunreplay: %s: %s\n", opt.file, pcap_geterr(pc));
	if (opt.verbose)
		fprintf(stderr, "tunreplay: %lu packets written to %s, %lu skipped, %lu failed\n",
			sent, opt.ifname, skipped, failed);
	pcap_close(pc);
	close(fd);
	return rc == PCAP_ERROR || failed ? 1 : 0;
}
