/* fileread.h - operator files read whole and bounded: bytes, lines with file:line errors, dirs. */
#ifndef CS_FILEREAD_H
#define CS_FILEREAD_H

#include <stddef.h>
#include <stdint.h>

/* A longer line is an error, not a silent cut. */
#define FILEREAD_LINE_MAX 4096

/*
 * The whole of path (a regular file: a FIFO or a device would block or
 * never end) into a malloc'd buffer, NUL-terminated, at most max bytes.
 * 0, or -1 with err saying "path: what was wrong".
 */
int fileread_all(const char *path, size_t max, char **out, size_t *outlen, char *err,
		 size_t errlen);

/* Where a line came from, for messages and for "file:line" provenance. */
struct fileread_pos {
	const char *path;
	uint32_t no; /* from 1 */
};

/* One meaningful line (comments and outer blanks removed; writable, at most
 * FILEREAD_LINE_MAX bytes). 0 goes on; -1 stops, with why saying what was
 * wrong with the line (fileread_lines puts "path:no: " before it). */
typedef int fileread_line_fn(void *ctx, char *line, const struct fileread_pos *at, char *why,
			     size_t whylen);

/*
 * "One entry a line" files: reads path (at most max bytes) and calls fn for
 * each line that is not blank or a comment. A '#' starts a comment at the
 * start of a line or after a blank, so a '#' inside a token (a DN) is kept;
 * a UTF-8 byte order mark is skipped. 0, or -1 with err set: the file could
 * not be read, a line is too long or holds a NUL, or fn refused a line.
 */
int fileread_lines(const char *path, size_t max, fileread_line_fn *fn, void *ctx, char *err,
		   size_t errlen);

/* Names of dir's entries but the hidden ones (".", "..", editor and
 * rename-in-place temporaries), sorted so loads are reproducible; at most
 * max. NULL with err set on error; free with fileread_dir_free(). */
char **fileread_dir(const char *dir, uint32_t max, uint32_t *n, char *err, size_t errlen);
void fileread_dir_free(char **v, uint32_t n);

#endif
