/* listing.c - prints a program table (findings, event actions) as aligned text or a JSON array. */
#include "listing.h"

#include <string.h>
#include "json.h"

#define LISTING_ROW_MAX 4096 /* one row as JSON: a few names and a sentence */

static void json_list(struct jw *w, const char *key, const char *v)
{
	const char *end;

	jw_arr_begin(w, key);
	while (v && *v) {
		end = strchr(v, ',');
		if (!end)
			end = v + strlen(v);
		jw_strn(w, NULL, v, (size_t)(end - v));
		v = *end ? end + 1 : end;
	}
	jw_arr_end(w);
}

static int json_row(FILE *out, uint32_t i, uint32_t cols, listing_row_fn *row)
{
	struct listing_field f[LISTING_COLS_MAX];
	char buf[LISTING_ROW_MAX];
	struct jw w;
	size_t n;

	memset(f, 0, sizeof(f));
	row(i, f);
	jw_init(&w, buf, sizeof(buf));
	jw_obj_begin(&w, NULL);
	for (uint32_t c = 0; c < cols; c++) {
		if (f[c].list)
			json_list(&w, f[c].key, f[c].value);
		else
			jw_str(&w, f[c].key, f[c].value);
	}
	jw_obj_end(&w);
	n = jw_finish(&w);
	if (w.truncated)
		return -1;
	return fprintf(out, "%s%.*s", i ? ",\n " : "[", (int)n, buf) < 0 ? -1 : 0;
}

static int text_line(FILE *out, const struct listing_field *f, uint32_t cols, const int *width,
		     bool title)
{
	for (uint32_t c = 0; c < cols; c++) {
		const char *v = title ? f[c].key : f[c].value;

		if (c + 1 < cols ? fprintf(out, "%-*s  ", width[c], v ? v : "") < 0 :
				   fprintf(out, "%s\n", v ? v : "") < 0)
			return -1;
	}
	return 0;
}

static int text_rows(FILE *out, uint32_t rows, uint32_t cols, listing_row_fn *row)
{
	struct listing_field f[LISTING_COLS_MAX];
	int width[LISTING_COLS_MAX] = { 0 };
	size_t len;

	if (!rows)
		return 0;
	for (uint32_t i = 0; i < rows; i++) {
		memset(f, 0, sizeof(f));
		row(i, f);
		for (uint32_t c = 0; c < cols; c++) {
			len = strlen(f[c].value ? f[c].value : "");
			if (!i && f[c].key && strlen(f[c].key) > len)
				len = strlen(f[c].key);
			if (len > (size_t)width[c])
				width[c] = len > 80 ? 80 : (int)len; /* longer ones stick out */
		}
	}
	row(0, f);
	if (text_line(out, f, cols, width, true))
		return -1;
	for (uint32_t i = 0; i < rows; i++) {
		memset(f, 0, sizeof(f));
		row(i, f);
		if (text_line(out, f, cols, width, false))
			return -1;
	}
	return 0;
}

int listing_print(FILE *out, bool json, uint32_t rows, uint32_t cols, listing_row_fn *row)
{
	if (!cols || cols > LISTING_COLS_MAX)
		return -1;
	if (!json)
		return text_rows(out, rows, cols, row) || fflush(out) ? -1 : 0;
	for (uint32_t i = 0; i < rows; i++)
		if (json_row(out, i, cols, row))
			return -1;
	return fprintf(out, rows ? "]\n" : "[]\n") < 0 || fflush(out) ? -1 : 0;
}
