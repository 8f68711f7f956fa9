/* bpfstats.c - keep the kernel's BPF run-time statistics on while this process lives. */
/*
 *   bpfstats
 *
 * BPF_ENABLE_STATS(BPF_STATS_RUN_TIME) returns a file descriptor; while any
 * such descriptor is open the kernel counts run_cnt and run_time_ns of every
 * BPF program (`bpftool prog show` prints them). Closing it (this process
 * ending, however it ends) switches the counting off again, so nothing is
 * left changed, unlike the kernel.bpf_stats_enabled sysctl. Prints
 * "bpfstats: on" once enabled, then waits for a signal.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

int main(void)
{
	int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);

	if (fd < 0) {
		fprintf(stderr, "bpfstats: BPF_ENABLE_STATS: %s\n", strerror(errno));
		return 1;
	}
	printf("bpfstats: on\n");
	fflush(stdout);
	for (;;)
		pause();
}
