/* errf.h - fills a caller's error buffer (char *err, size_t errlen), as every loader reports. */
#ifndef CS_ERRF_H
#define CS_ERRF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

static inline void errf(char *err, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline void errf(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;

	if (!err || !n)
		return;
	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
}

#endif
