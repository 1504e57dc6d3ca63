/* symbols-internal: what the parts of the symbolizer share and nothing outside src/symbols/
 * sees. symbolize.c is the front (modules, lookups, the public API of symbolize.h); elf.c reads
 * symbol tables and keeps them in the ELF cache; debuginfo.c finds a module's separate debug
 * file by build-id; dwarf.c turns an address into a source line; jit.c reads perf maps and
 * jitdump files and looks addresses up in them. */
#ifndef SS_SYMBOLS_INTERNAL_H
#define SS_SYMBOLS_INTERNAL_H

#include <elfutils/libdw.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "symbols/symbolize.h"

struct sym {
    uint64_t addr;
    uint64_t size;
    size_t name_off; /* into elf_entry.names, which may move while loading */
    char *demangled; /* filled on first use: most symbols are never hit */
    uint8_t rank;    /* lower wins among aliases at one address */
    bool demangle_tried;
};

struct elf_entry {
    char *path;
    bool loaded;
    uint8_t *build_id;
    size_t build_id_len;
    struct sym *syms; /* sorted by addr, one per address */
    size_t nsyms;
    char *names;
    /* Line tables, opened on the first lookup that needs them: the file's own
     * DWARF, else the separate debug file's; NULL when neither has any. */
    bool dwarf_tried;
    Dwarf *dwarf;
    int dwarf_fd;
};

struct ss_elf_cache {
    struct elf_entry **entries; /* sorted by path */
    size_t n, cap;
};

struct module {
    char *path;
    uint64_t bias, lo, hi;
    uint8_t *build_id;
    size_t build_id_len;
    struct elf_entry *elf; /* NULL until an address in it is looked up */
    bool mismatch;
};

struct jit_entry {
    uint64_t start, end;
    uint64_t seq;    /* insertion order: later entries win */
    uint64_t maxend; /* highest end among this and all earlier-sorted entries */
    char *name;
    char *file; /* parsed from name on first use; NULL when it names none */
    unsigned line;
    bool located;
};

struct ss_symbolizer {
    struct ss_elf_cache *cache;
    struct module *mods; /* sorted by lo */
    size_t nmods, capmods;
    struct jit_entry *jit;
    size_t njit, capjit;
    uint64_t jit_seq;
    bool jit_sorted;
    uid_t jit_owner;     /* besides the reader, who may own the JIT files read */
    uint64_t started_ns; /* the process's recording began (real time), 0: unknown */
};

/* Symbols being gathered from one or more files, before sorting. */
struct sym_builder {
    struct sym *syms;
    size_t n, cap;
    char *names;
    size_t names_len, names_cap;
};

/* symbolize.c */
/* Number of elements of the sorted array base whose uint64_t key at key_off
 * is <= key; the element before that index is the candidate container. */
size_t ss_symbols_upper_bound(const void *base, size_t n, size_t elem, size_t key_off,
                              uint64_t key);

/* elf.c */
/* The cache's entry for path, created (not yet loaded) when new; NULL when out of memory. */
struct elf_entry *ss_elf_cache_get(struct ss_elf_cache *c, const char *path);
/* Reads the file's build-id and symbols, from its separate debug file when it has no .symtab.
 * A file that cannot be read leaves the entry loaded with no symbols. */
void ss_elf_entry_load(struct elf_entry *ent);
/* Appends the file's symbols to b and returns its build-id in *bid. Negative
 * errno when the file cannot be read as ELF at all. */
int ss_elf_read_symbols(const char *path, struct sym_builder *b, uint8_t **bid, size_t *bid_len,
                        bool *has_symtab);
/* The symbol covering vaddr, or NULL. */
struct sym *ss_elf_find_symbol(struct elf_entry *e, uint64_t vaddr);
/* The symbol's name, demangled when it is a C++ one. */
const char *ss_elf_symbol_name(struct elf_entry *e, struct sym *s);

/* debuginfo.c */
/* Where a distribution keeps the separate debug file of this build; false when
 * the module has no usable build-id. */
bool ss_debug_file_path(const struct elf_entry *ent, char path[PATH_MAX]);
/* Adds the symbols of the module's debug file to b, if it has one of the same build. */
void ss_debug_file_add_symbols(const struct elf_entry *ent, struct sym_builder *b);

/* dwarf.c */
/* Fills out's file and line for vaddr from the entry's line tables, when it has any. */
void ss_dwarf_find_line(struct elf_entry *e, uint64_t vaddr, struct ss_frame_info *out);
/* Closes the line tables the entry opened. */
void ss_dwarf_release(struct elf_entry *e);

/* jit.c */
/* The latest JIT entry covering addr, or NULL. */
struct jit_entry *ss_jit_find(struct ss_symbolizer *s, uint64_t addr);
/* Fills out's symbol, offset, kind, file and line from the entry covering addr. */
void ss_jit_describe(struct jit_entry *j, uint64_t addr, struct ss_frame_info *out);
/* Frees the JIT entries. */
void ss_jit_release(struct ss_symbolizer *s);

#endif
