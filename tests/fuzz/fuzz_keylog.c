/* fuzz_keylog.c - keylog.c: the input as a key-log file, split into lines here, read whole by the
 * follower and followed as it grows in pieces; all three must count the same outcomes, and the
 * store must stay within its bounds and find what it says it added. Input: mode (bits 0-2
 * entries, 3-4 ttl, 5 one label kept, 6 forget after each add, 7 follow), cut (2), the file. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fuzz_common.h"
#include "keylog.h"

static char dir[64], path[128];

/* One file for the whole run (an unlink per input costs milliseconds). */
static void cleanup(void)
{
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* tmpfs if there is one: truncating on ext4 costs milliseconds */
	strcpy(dir, "/dev/shm/cs-fuzz-keylog-XXXXXX");
	if (!mkdtemp(dir)) {
		strcpy(dir, "/tmp/cs-fuzz-keylog-XXXXXX");
		FUZZ_CHECK(mkdtemp(dir));
	}
	snprintf(path, sizeof(path), "%s/keylog", dir);
	atexit(cleanup);
	return 0;
}

static struct keylog *store(uint8_t mode)
{
	struct keylog_config cfg = {
		.max_entries = 1 + (mode & 7),	     /* small: eviction happens */
		.ttl_ns = 1 + ((mode >> 3) & 3) * 5, /* lines are 1 ns apart: expiry too */
		.labels = mode & 0x20 ? 1u << KEYLOG_SERVER_HANDSHAKE_TRAFFIC_SECRET : 0,
	};
	struct keylog *k = keylog_new(&cfg);

	FUZZ_CHECK(k);
	return k;
}

static void check_store(struct keylog *k, uint8_t mode)
{
	struct keylog_stats st;
	uint64_t sum = 0;

	keylog_get_stats(k, &st);
	for (int o = 0; o < KEYLOG_OUTCOME_MAX; o++)
		sum += st.outcome[o];
	FUZZ_CHECK(sum == st.lines);
	FUZZ_CHECK(st.entries <= 1u + (mode & 7));
	FUZZ_CHECK(st.expired_unused <= st.expired);
	FUZZ_CHECK(st.entries + st.evicted + st.expired + st.forgotten <= st.outcome[KEYLOG_ADDED]);
}

static int hexval(char c)
{
	int v = c >= '0' && c <= '9' ? c - '0' :
		c >= 'a' && c <= 'f' ? c - 'a' + 10 :
		c >= 'A' && c <= 'F' ? c - 'A' + 10 :
				       -1;

	FUZZ_CHECK(v >= 0); /* an added line's random is hex */
	return v;
}

/* Lines as the follower cuts them: '\n' ends one; longer than
 * KEYLOG_LINE_MAX counts once as too long; the last needs no newline. */
static void by_lines(struct keylog *k, uint8_t mode, const uint8_t *d, size_t n)
{
	uint64_t now = 0;

	while (n > 0) {
		const uint8_t *nl = memchr(d, '\n', n);
		size_t len = nl ? (size_t)(nl - d) : n;
		char *line = (char *)fz_dup(d, len); /* exact size for ASan */
		enum keylog_outcome o = keylog_add_line(k, line, len, ++now);

		FUZZ_CHECK((unsigned)o < KEYLOG_OUTCOME_MAX && keylog_outcome_name(o));
		if (o == KEYLOG_ADDED) {
			/* the label is the first field; the random the second */
			size_t l = 0, slen;
			uint8_t random[32];
			const uint8_t *p;
			int label = -1;

			while (l < len && (line[l] == ' ' || line[l] == '\t'))
				l++;
			for (int i = 0; i < KEYLOG_LABEL_MAX; i++) {
				size_t ln = strlen(keylog_label_name(i));

				if (len - l > ln && !memcmp(line + l, keylog_label_name(i), ln) &&
				    (line[l + ln] == ' ' || line[l + ln] == '\t'))
					label = i;
			}
			FUZZ_CHECK(label >= 0);
			l += strlen(keylog_label_name(label));
			while (line[l] == ' ' || line[l] == '\t')
				l++;
			FUZZ_CHECK(len - l >= 64);
			for (int i = 0; i < 32; i++)
				random[i] = (uint8_t)(hexval(line[l + 2 * i]) << 4 |
						      hexval(line[l + 2 * i + 1]));
			p = keylog_find(k, random, label, &slen);
			FUZZ_CHECK(p && (slen == 32 || slen == 48));
			if (mode & 0x40)
				keylog_forget(k, random);
		}
		free(line);
		if (!nl)
			break;
		d = nl + 1;
		n -= len + 1;
	}
	check_store(k, mode);
}

static void write_all(int fd, const uint8_t *d, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, d, n);

		FUZZ_CHECK(w > 0);
		d += w;
		n -= (size_t)w;
	}
}

static void same_counts(struct keylog *a, struct keylog *b)
{
	struct keylog_stats sa, sb;

	keylog_get_stats(a, &sa);
	keylog_get_stats(b, &sb);
	for (int o = KEYLOG_COMMENT; o < KEYLOG_OUTCOME_MAX; o++)
		if (o != KEYLOG_CONFLICT) /* ADDED/DUPLICATE/CONFLICT depend on expiry */
			FUZZ_CHECK(sa.outcome[o] == sb.outcome[o]);
	FUZZ_CHECK(sa.lines == sb.lines);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	uint8_t mode = fz_u8(&f);
	size_t cut = f.n ? fz_u16(&f) % (f.n + 1) : 0;
	struct keylog *k1 = store(mode), *k2 = store(mode & ~0x40), *k3 = store(mode & ~0x40);
	char err[256];
	struct keylog_file *kf;
	int fd, rc;

	if (cut > f.n)
		cut = f.n;
	by_lines(k1, mode, f.p, f.n);

	/* read whole */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FUZZ_CHECK(fd >= 0);
	write_all(fd, f.p, f.n);
	kf = keylog_file_open(path, false, err, sizeof(err));
	FUZZ_CHECK(kf);
	FUZZ_CHECK(keylog_file_read(kf, k2, 1, err, sizeof(err)) == 0);
	keylog_file_close(kf);
	same_counts(k1, k2);
	check_store(k2, mode);

	/* followed as it grows: the first part, the rest, a final newline.
	 * Half the inputs: closing an inotify instance takes milliseconds. */
	if (!(mode & 0x80)) {
		close(fd);
		goto out;
	}
	FUZZ_CHECK(ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0);
	kf = keylog_file_open(path, true, err, sizeof(err));
	FUZZ_CHECK(kf);
	write_all(fd, f.p, cut);
	while ((rc = keylog_file_read(kf, k3, 1, err, sizeof(err))) == 1)
		;
	FUZZ_CHECK(rc == 0);
	write_all(fd, f.p + cut, f.n - cut);
	if (f.n && f.p[f.n - 1] != '\n')
		write_all(fd, (const uint8_t *)"\n", 1);
	while ((rc = keylog_file_read(kf, k3, 1, err, sizeof(err))) == 1)
		;
	FUZZ_CHECK(rc == 0);
	keylog_file_close(kf);
	close(fd);
	same_counts(k1, k3);
	check_store(k3, mode);
out:
	keylog_free(k1);
	keylog_free(k2);
	keylog_free(k3);
	return 0;
}
