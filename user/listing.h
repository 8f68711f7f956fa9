/* listing.h - prints a program table (findings, event actions) as aligned text or a JSON array. */
#ifndef CS_LISTING_H
#define CS_LISTING_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define LISTING_COLS_MAX 8

struct listing_field {
	const char *key; /* JSON key and text column title: a program constant */
	const char *value;
	bool list; /* value is comma-separated: a JSON array */
};

/* Fills fields[0..cols) for one row; the same keys, in the same order, for every row. */
typedef void listing_row_fn(uint32_t row, struct listing_field *fields);

/* Text: a title line, then a line per row, every column but the last padded
 * to its widest value. JSON: an array with an object per row, one a line.
 * 0, or -1 when cols is out of range or a row could not be written whole. */
int listing_print(FILE *out, bool json, uint32_t rows, uint32_t cols, listing_row_fn *row);

#endif
