/* elfsym.c - function symbol -> file offset in an ELF file (libelf), for uprobes that need no tracefs. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "elfsym.h"

/* The file offset of virtual address addr: through the PT_LOAD segment
 * that holds it (for shared objects and executables alike). */
static int vaddr_to_off(Elf *e, uint64_t addr, uint64_t *off)
{
	size_t n, i;
	GElf_Phdr ph;

	if (elf_getphdrnum(e, &n))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X))
			continue;
		if (addr >= ph.p_vaddr && addr - ph.p_vaddr < ph.p_filesz) {
			*off = addr - ph.p_vaddr + ph.p_offset;
			return 0;
		}
	}
	return -ENOENT;
}

static int find_in(Elf *e, Elf_Scn *scn, const GElf_Shdr *sh, const char *name, uint64_t *addr)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t i, n;
	GElf_Sym sym;
	const char *s;

	if (!d || !sh->sh_entsize)
		return -ENOENT;
	n = sh->sh_size / sh->sh_entsize;
	for (i = 0; i < n; i++) {
		if (!gelf_getsym(d, (int)i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
		    sym.st_shndx == SHN_UNDEF || !sym.st_value)
			continue;
		s = elf_strptr(e, sh->sh_link, sym.st_name);
		if (s && !strcmp(s, name)) {
			*addr = sym.st_value;
			return 0;
		}
	}
	return -ENOENT;
}

int elfsym_offset(const char *path, const char *name, uint64_t *off, char *err, size_t errlen)
{
	static const Elf64_Word types[] = { SHT_SYMTAB, SHT_DYNSYM };
	uint64_t addr = 0;
	int fd, ret = -ENOENT;
	size_t t;
	Elf *e;

	if (elf_version(EV_CURRENT) == EV_NONE) {
		snprintf(err, errlen, "libelf: %s", elf_errmsg(-1));
		return -EINVAL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!e || elf_kind(e) != ELF_K_ELF) {
		snprintf(err, errlen, "%s: not an ELF file", path);
		ret = -ENOEXEC;
		goto out;
	}
	for (t = 0; t < sizeof(types) / sizeof(types[0]) && ret; t++) {
		Elf_Scn *scn = NULL;
		GElf_Shdr sh;

		while (ret && (scn = elf_nextscn(e, scn)))
			if (gelf_getshdr(scn, &sh) && sh.sh_type == types[t])
				ret = find_in(e, scn, &sh, name, &addr);
	}
	if (!ret)
		ret = vaddr_to_off(e, addr, off);
	if (ret == -ENOENT) {
		snprintf(err, errlen, "%s: no function %s", path, name);
		ret = 1;
	}
out:
	if (e)
		elf_end(e);
	close(fd);
	return ret;
}
