/* fuzz_out.h - what every output line must be: JSON lines that parse
 * (json-c, strict) and are valid UTF-8; text lines with no raw control,
 * C1, bidi or zero-width characters. output.c writes to its FILE's file
 * descriptor, so the sink is a memfd, read back and emptied per check. */
#ifndef CS_FUZZ_OUT_H
#define CS_FUZZ_OUT_H

#include <sys/mman.h>
#include <unistd.h>
#include <json-c/json.h>
#include "fuzz_common.h"
#include "output.h"

struct fuzz_sink {
	FILE *f;
	int fd;
	char *buf;
	size_t len;
	struct output *out;
	enum output_format fmt;
};

static inline void fuzz_sink_open(struct fuzz_sink *s, enum output_format fmt)
{
	memset(s, 0, sizeof(*s));
	s->fmt = fmt;
	if ((s->fd = memfd_create("cs-fuzz-out", 0)) < 0 || !(s->f = fdopen(s->fd, "w")) ||
	    !(s->out = output_new(s->f, fmt)))
		abort();
}

/* One JSON text, strict, UTF-8 validated, an object. */
static inline void fuzz_check_json(const char *line, size_t n)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;

	FUZZ_CHECK(tok);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, line, (int)n);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    (size_t)json_tokener_get_parse_end(tok) != n) {
		fprintf(stderr, "bad JSON line (%s) at %zu of %zu: %.*s\n",
			json_tokener_error_desc(json_tokener_get_error(tok)),
			json_tokener_get_parse_end(tok), n, (int)(n > 4096 ? 4096 : n), line);
		abort();
	}
	FUZZ_CHECK(json_object_is_type(o, json_type_object));
	json_object_put(o);
	json_tokener_free(tok);
}

/* A text line a terminal can show as is. */
static inline void fuzz_check_text(const char *line, size_t n)
{
	const unsigned char *s = (const unsigned char *)line;

	FUZZ_CHECK(fz_utf8_ok(s, n));
	for (size_t i = 0; i < n; i++) {
		FUZZ_CHECK(s[i] >= 0x20 && s[i] != 0x7F);
		/* C1 controls U+0080..U+009F: C2 80..C2 9F */
		FUZZ_CHECK(!(s[i] == 0xC2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9F));
		/* U+200B..U+200F, U+2028..U+202E, U+2066..U+2069: E2 80 8B.., E2 81 A6.. */
		if (s[i] == 0xE2 && i + 2 < n) {
			unsigned cp = 0x2000 | (s[i + 1] & 0x3F) << 6 | (s[i + 2] & 0x3F);

			FUZZ_CHECK(!(cp >= 0x200B && cp <= 0x200F) &&
				   !(cp >= 0x2028 && cp <= 0x202E) &&
				   !(cp >= 0x2066 && cp <= 0x2069));
		}
		FUZZ_CHECK(!(s[i] == 0xEF && i + 2 < n && s[i + 1] == 0xBB && s[i + 2] == 0xBF));
	}
}

/* Checks every line written since the last call, then starts afresh. */
static inline unsigned fuzz_sink_check(struct fuzz_sink *s)
{
	unsigned lines = 0;
	size_t at = 0;

	off_t end;

	output_flush(s->out); /* output.c buffers lines until asked */
	end = lseek(s->fd, 0, SEEK_END);
	FUZZ_CHECK(end >= 0);
	s->len = (size_t)end;
	free(s->buf);
	s->buf = malloc(s->len + 1);
	FUZZ_CHECK(s->buf && pread(s->fd, s->buf, s->len, 0) == (ssize_t)s->len);
	while (at < s->len) {
		char *nl = memchr(s->buf + at, '\n', s->len - at);
		size_t n;

		FUZZ_CHECK(nl); /* every line ends with a newline */
		n = (size_t)(nl - (s->buf + at));
		FUZZ_CHECK(memchr(s->buf + at, 0, n) == NULL);
		if (s->fmt == OUTPUT_JSON)
			fuzz_check_json(s->buf + at, n);
		else
			fuzz_check_text(s->buf + at, n);
		at += n + 1;
		lines++;
	}
	if (ftruncate(s->fd, 0) < 0 || lseek(s->fd, 0, SEEK_SET) < 0)
		abort();
	return lines;
}

static inline void fuzz_sink_close(struct fuzz_sink *s)
{
	output_free(s->out);
	fclose(s->f);
	free(s->buf);
	memset(s, 0, sizeof(*s));
}

#endif
