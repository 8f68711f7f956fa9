/* test_fileread.c - fileread.c on files written here: bounds, line rules, file:line errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "fileread.h"

static char dir[64]; /* scratch directory, removed at the end */

static const char *put(const char *name, const void *data, size_t len)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
	return path;
}

/* Collects the lines it is given as "no:line\n"; refuses a line "bad". */
struct seen {
	char text[8192];
	size_t len;
};

static int collect(void *ctx, char *line, const struct fileread_pos *at, char *why, size_t whylen)
{
	struct seen *s = ctx;

	assert_true(strlen(line) <= FILEREAD_LINE_MAX);
	if (!strcmp(line, "bad")) {
		snprintf(why, whylen, "'%s' is not wanted", line);
		return -1;
	}
	s->len += (size_t)snprintf(s->text + s->len, sizeof(s->text) - s->len, "%u:%s\n", at->no,
				   line);
	return 0;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/cs-fileread-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_all(void **state)
{
	char err[256], *buf;
	size_t len;
	const char *p = put("bin", "a\0b", 3);

	(void)state;
	assert_int_equal(fileread_all(p, 3, &buf, &len, err, sizeof(err)), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(buf, "a\0b", 4); /* NUL-terminated */
	free(buf);
	assert_int_equal(fileread_all(p, 2, &buf, &len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bin: larger than 2 bytes"));
	assert_int_equal(fileread_all(dir, 100, &buf, &len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ": is a directory, expected a file"));
	assert_int_equal(fileread_all("/dev/null", 100, &buf, &len, err, sizeof(err)), -1);
	assert_string_equal(err, "/dev/null: not a regular file");
	assert_int_equal(fileread_all("/nonexistent/x", 100, &buf, &len, err, sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/x: cannot open: No such file or directory");
}

static void test_lines(void **state)
{
	static const char text[] = "\xef\xbb\xbf  first  \n"
				   "# a comment\n"
				   "\n"
				   "\t second # comment after a blank\r\n"
				   "CN=a#b kept\n"
				   "#\n"
				   "last";
	struct seen s = { .len = 0 };
	char err[256];
	const char *p = put("lines", text, sizeof(text) - 1);

	(void)state;
	assert_int_equal(fileread_lines(p, 1024, collect, &s, err, sizeof(err)), 0);
	assert_string_equal(s.text, "1:first\n4:second\n5:CN=a#b kept\n7:last\n");
}

static void test_line_errors(void **state)
{
	char err[256], big[FILEREAD_LINE_MAX + 2];
	struct seen s = { .len = 0 };
	const char *p;

	(void)state;
	p = put("refused", "ok\n\nbad\nnever\n", 15);
	assert_int_equal(fileread_lines(p, 1024, collect, &s, err, sizeof(err)), -1);
	assert_string_equal(s.text, "1:ok\n");
	assert_string_equal(strrchr(err, '/') + 1, "refused:3: 'bad' is not wanted");

	memset(big, 'x', sizeof(big));
	big[FILEREAD_LINE_MAX] = '\n'; /* exactly the longest line */
	p = put("longest", big, FILEREAD_LINE_MAX + 1);
	s.len = 0;
	assert_int_equal(fileread_lines(p, 1 << 20, collect, &s, err, sizeof(err)), 0);
	big[FILEREAD_LINE_MAX] = 'x';
	big[FILEREAD_LINE_MAX + 1] = '\n';
	p = put("long", big, sizeof(big));
	assert_int_equal(fileread_lines(p, 1 << 20, collect, &s, err, sizeof(err)), -1);
	assert_string_equal(strrchr(err, '/') + 1, "long:1: line longer than 4096 bytes");

	p = put("nul", "a\nb\0c\n", 6);
	assert_int_equal(fileread_lines(p, 1024, collect, &s, err, sizeof(err)), -1);
	assert_string_equal(strrchr(err, '/') + 1, "nul:2: NUL byte (binary file?)");

	p = put("big", "a\nb\n", 4);
	assert_int_equal(fileread_lines(p, 3, collect, &s, err, sizeof(err)), -1);
	assert_string_equal(strrchr(err, '/') + 1, "big: larger than 3 bytes");
}

static void test_dir(void **state)
{
	char err[256], sub[128];
	uint32_t n;
	char **v;

	(void)state;
	snprintf(sub, sizeof(sub), "%s/d", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	put("d/b", "", 0);
	put("d/a", "", 0);
	put("d/.hidden", "", 0);
	put("d/c", "", 0);
	v = fileread_dir(sub, 10, &n, err, sizeof(err));
	assert_non_null(v);
	assert_int_equal(n, 3);
	assert_string_equal(v[0], "a");
	assert_string_equal(v[1], "b");
	assert_string_equal(v[2], "c");
	fileread_dir_free(v, n);
	assert_null(fileread_dir(sub, 2, &n, err, sizeof(err)));
	assert_non_null(strstr(err, "/d: more than 2 files"));
	assert_null(fileread_dir("/nonexistent", 2, &n, err, sizeof(err)));
	assert_string_equal(err, "/nonexistent: cannot open directory: No such file or directory");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_line_errors),
		cmocka_unit_test(test_dir),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
