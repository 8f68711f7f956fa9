/* elfsym.h - where a function lives in an ELF file: the file offset a uprobe attaches at. */
#ifndef CS_ELFSYM_H
#define CS_ELFSYM_H

#include <stddef.h>
#include <stdint.h>

/* Looks name up among the defined function symbols of .symtab, then
 * .dynsym, of the ELF file at path, and gives its file offset. 0 if found,
 * 1 if the file defines no such function, -errno if it cannot be read as
 * ELF; a reason in err unless 0. */
int elfsym_offset(const char *path, const char *name, uint64_t *off, char *err, size_t errlen);

#endif
