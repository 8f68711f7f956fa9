/* defaults.h - the options rule of the stages' _new()/_open(): a field left 0 takes its default. */
#ifndef CS_DEFAULTS_H
#define CS_DEFAULTS_H

/* field (an lvalue) is set to v when it is 0. */
#define OPT_DEFAULT(field, v)          \
	do {                           \
		if (!(field))          \
			(field) = (v); \
	} while (0)

#endif
