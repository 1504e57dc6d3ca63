/* dynamic: reads a loaded module as the loader left it in memory, from its dynamic section, for
 * the GOT patcher (got.c): its extent, its read-only-after-relocation pages, and its references
 * to the names the shim defines, each with the GOT entry it goes through.
 *
 * - Only the module's own memory is read, and every pointer its dynamic section gives is
 *   checked to lie in one of its loaded segments first: a module whose tables are inconsistent
 *   is refused (-1), never read further.
 * - x86-64 only: RELA relocations, and of them R_X86_64_JUMP_SLOT and R_X86_64_GLOB_DAT
 *   without addend, which hold a function's address.
 * - A reference is matched to the shim's definition as the loader binds it with the shim
 *   preloaded: that of the version it asks for, else the shim's unversioned one.
 * - Memory reads only: nothing here allocates, uses stdio, takes a lock or makes a system call,
 *   and errno is kept. */
#ifndef SS_DYNAMIC_H
#define SS_DYNAMIC_H

#include <link.h>
#include <stddef.h>
#include <stdint.h>

/* The size of the longest symbol version a reference may ask for, its terminating NUL
 * included: the GOT patcher keeps versions in buffers of this size, and a reference to a longer
 * one is passed over. */
#define SS_VERSION_MAX 32

/* A module as its dynamic section describes it; every pointer checked to lie in one of its
 * loaded segments. */
struct ss_module_view {
    uintptr_t base, start, end;
    const ElfW(Phdr) * phdr;
    size_t phnum;
    uintptr_t relro_start, relro_end;
    const ElfW(Sym) * symtab;
    const char *strtab;
    size_t strsz;
    const ElfW(Rela) * rela;
    size_t rela_count;
    const ElfW(Rela) * jmprel;
    size_t jmprel_count;
    const ElfW(Half) * versym;
    const char *verneed, *verdef;
    size_t verneed_count, verdef_count;
    const uint32_t *gnu_hash;
};

/* Where a loaded module lies: the span of its loaded segments, its read-only-after-relocation
 * pages (PT_GNU_RELRO) rounded to `page_size` (0, 0 without), and its dynamic section (NULL
 * without). Read from its program headers only. */
struct ss_module_extent {
    uintptr_t start, end, relro_start, relro_end;
    const ElfW(Dyn) * dynamic;
    size_t dynamic_count;
};
void ss__module_extent(const struct dl_phdr_info *info, uintptr_t page_size,
                       struct ss_module_extent *x);

/* Reads the module `info` into *m, its read-only-after-relocation pages (PT_GNU_RELRO) rounded
 * to `page_size`: 0, or -1 when the module is inconsistent. */
int ss__read_module(const struct dl_phdr_info *info, uintptr_t page_size, struct ss_module_view *m);
/* Whether [p, p + size) lies in one of the module's loaded segments. */
int ss__readable(const struct ss_module_view *m, const void *p, size_t size);
/* The hash of DT_GNU_HASH tables. */
uint32_t ss__gnu_hash(const char *name);

/* A module's references to names the shim defines, one at a time. */
struct ss_reference {
    uintptr_t entry; /* the GOT entry's address */
    uint32_t shim_symbol;
    const char *version; /* NULL: unversioned */
};

struct ss_reference_walk {
    const struct ss_module_view *module, *shim;
    size_t next;
};

/* 1 with the next reference in *ref, 0 at the end, -1 when the module is inconsistent. A
 * reference to a name the shim does not define, or at a version of SS_VERSION_MAX characters or
 * more, is passed over. The shim's view must have its GNU hash, symbol and string tables. */
int ss__next_reference(struct ss_reference_walk *w, struct ss_reference *ref);

#endif
