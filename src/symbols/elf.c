/* elf: a module's function symbols. Reads .symtab and .dynsym (a stripped file's symbols from
 * its separate debug file, found by debuginfo.c), keeps one symbol per address sorted for
 * lookup, and names a symbol demangled on first use. Entries live in an ss_elf_cache keyed by
 * path and shared by every symbolizer until ss_elf_cache_free. A file that cannot be read as
 * ELF gives an entry without symbols: lookups in it find nothing. */
#define _GNU_SOURCE /* qsort_r */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symbols-internal.h"
#include "util/array.h"

/* Provided by libstdc++; declared here so this file stays plain C. */
char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

static size_t note_build_id(Elf_Data *d, uint8_t **out)
{
    GElf_Nhdr nh;
    size_t off = 0, name_off, desc_off, next;

    while (off < d->d_size && (next = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
        if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 && nh.n_descsz > 0 &&
            memcmp((const char *)d->d_buf + name_off, "GNU", 4) == 0) {
            *out = malloc(nh.n_descsz);
            if (!*out)
                return 0;
            memcpy(*out, (const char *)d->d_buf + desc_off, nh.n_descsz);
            return nh.n_descsz;
        }
        off = next;
    }
    return 0;
}

static size_t read_build_id(Elf *e, uint8_t **out)
{
    Elf_Scn *scn = NULL;
    size_t n, phnum;

    while ((scn = elf_nextscn(e, scn)) != NULL) {
        GElf_Shdr sh;
        Elf_Data *d;
        if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_NOTE &&
            (d = elf_getdata(scn, NULL)) != NULL && (n = note_build_id(d, out)) > 0)
            return n;
    }
    /* Files stripped of section headers still carry the note in a segment. */
    if (elf_getphdrnum(e, &phnum) != 0)
        return 0;
    for (size_t i = 0; i < phnum && i < INT_MAX; i++) {
        GElf_Phdr ph;
        Elf_Data *d;
        if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_NOTE)
            continue;
        d = elf_getdata_rawchunk(e, (int64_t)ph.p_offset, ph.p_filesz,
                                 ph.p_align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR);
        if (d && (n = note_build_id(d, out)) > 0)
            return n;
    }
    return 0;
}

static bool section_header(Elf *e, size_t shndx, GElf_Shdr *sh)
{
    Elf_Scn *scn;
    return shndx < SHN_LORESERVE && (scn = elf_getscn(e, shndx)) && gelf_getshdr(scn, sh);
}

static int builder_add(struct sym_builder *b, const GElf_Sym *st, const char *name, bool dyn)
{
    /* "__libc_start_main@@GLIBC_2.34": the version is not part of the function's name. */
    size_t len = strcspn(name, "@") + 1;
    if (SS_ARRAY_GROW(b->syms, b->cap, b->n + 1) < 0)
        return -ENOMEM;
    if (SS_ARRAY_GROW(b->names, b->names_cap, b->names_len + len) < 0)
        return -ENOMEM;

    unsigned bind = GELF_ST_BIND(st->st_info);
    unsigned bind_rank = bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 1 : 2;
    b->syms[b->n++] = (struct sym){
        .addr = st->st_value,
        .size = st->st_size,
        .name_off = b->names_len,
        .rank = (uint8_t)((dyn ? 8 : 0) | bind_rank << 1 | (name[0] == '_')),
    };
    memcpy(b->names + b->names_len, name, len - 1);
    b->names[b->names_len + len - 1] = '\0';
    b->names_len += len;
    return 0;
}

static int collect_symbols(Elf *e, struct sym_builder *b, bool *has_symtab)
{
    Elf_Scn *scn = NULL;

    while ((scn = elf_nextscn(e, scn)) != NULL) {
        GElf_Shdr sh;
        Elf_Data *d;
        if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM))
            continue;
        if (!(d = elf_getdata(scn, NULL)))
            continue;
        bool dyn = sh.sh_type == SHT_DYNSYM;
        if (!dyn)
            *has_symtab = true;

        GElf_Sym st;
        for (int i = 1; i < INT_MAX && gelf_getsym(d, i, &st); i++) {
            unsigned type = GELF_ST_TYPE(st.st_info);
            if (st.st_shndx == SHN_UNDEF || st.st_value == 0)
                continue;
            GElf_Shdr owner;
            bool in_section = section_header(e, st.st_shndx, &owner);
            if (type == STT_NOTYPE) {
                if (st.st_size == 0 || !in_section || !(owner.sh_flags & SHF_EXECINSTR))
                    continue;
            } else if (type != STT_FUNC && type != STT_GNU_IFUNC) {
                continue;
            }
            /* A symbol of unknown size (_init, hand-written assembly) ends with its section
             * at the latest: the PLT after .init is not part of _init. */
            if (st.st_size == 0 && in_section && st.st_value >= owner.sh_addr &&
                st.st_value < owner.sh_addr + owner.sh_size)
                st.st_size = owner.sh_addr + owner.sh_size - st.st_value;
            const char *name = elf_strptr(e, sh.sh_link, st.st_name);
            if (!name || !*name)
                continue;
            if (builder_add(b, &st, name, dyn) < 0)
                return -ENOMEM;
        }
    }
    return 0;
}

int ss_elf_read_symbols(const char *path, struct sym_builder *b, uint8_t **bid, size_t *bid_len,
                        bool *has_symtab)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;

    int rc = -ENOEXEC;
    struct stat st;
    Elf *e = NULL;
    /* A directory or device would make libelf read garbage or block. */
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
        e = elf_begin(fd, ELF_C_READ, NULL);
    if (e && elf_kind(e) == ELF_K_ELF) {
        *bid_len = read_build_id(e, bid);
        rc = collect_symbols(e, b, has_symtab);
    }
    elf_end(e);
    close(fd);
    return rc;
}

static int sym_cmp(const void *pa, const void *pb, void *names)
{
    const struct sym *a = pa, *b = pb;
    if (a->addr != b->addr)
        return a->addr < b->addr ? -1 : 1;
    if (a->rank != b->rank)
        return a->rank < b->rank ? -1 : 1;
    return strcmp((const char *)names + a->name_off, (const char *)names + b->name_off);
}

void ss_elf_entry_load(struct elf_entry *ent)
{
    struct sym_builder b = {0};
    bool has_symtab = false;

    ent->loaded = true;
    int rc = ss_elf_read_symbols(ent->path, &b, &ent->build_id, &ent->build_id_len, &has_symtab);
    if (rc == 0 && !has_symtab)
        ss_debug_file_add_symbols(ent, &b);
    if (rc < 0) {
        free(b.syms);
        free(b.names);
        return;
    }

    if (b.n > 0)
        qsort_r(b.syms, b.n, sizeof *b.syms, sym_cmp, b.names);
    size_t out = 0;
    for (size_t i = 0; i < b.n; i++) {
        if (out > 0 && b.syms[out - 1].addr == b.syms[i].addr) {
            if (b.syms[i].size > b.syms[out - 1].size)
                b.syms[out - 1].size = b.syms[i].size;
            continue;
        }
        b.syms[out++] = b.syms[i];
    }
    if (out > 0 && out < b.cap) {
        struct sym *shrunk = reallocarray(b.syms, out, sizeof *b.syms);
        if (shrunk)
            b.syms = shrunk;
    }
    ent->syms = b.syms;
    ent->nsyms = out;
    ent->names = b.names;
}

struct sym *ss_elf_find_symbol(struct elf_entry *e, uint64_t vaddr)
{
    size_t lo = ss_symbols_upper_bound(e->syms, e->nsyms, sizeof *e->syms,
                                       offsetof(struct sym, addr), vaddr);
    if (lo == 0)
        return NULL;
    /* Size 0 means unknown extent: it runs up to the next symbol, which is
     * exactly what landing on it in the search implies. */
    struct sym *s = &e->syms[lo - 1];
    return s->size == 0 || vaddr - s->addr < s->size ? s : NULL;
}

const char *ss_elf_symbol_name(struct elf_entry *e, struct sym *s)
{
    const char *raw = e->names + s->name_off;
    if (!s->demangle_tried) {
        s->demangle_tried = true;
        if (raw[0] == '_' && raw[1] == 'Z') {
            int status = -1;
            char *dm = __cxa_demangle(raw, NULL, NULL, &status);
            if (status == 0)
                s->demangled = dm;
            else
                free(dm);
        }
    }
    return s->demangled ? s->demangled : raw;
}

struct ss_elf_cache *ss_elf_cache_new(void)
{
    if (elf_version(EV_CURRENT) == EV_NONE)
        return NULL;
    return calloc(1, sizeof(struct ss_elf_cache));
}

void ss_elf_cache_free(struct ss_elf_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        struct elf_entry *e = c->entries[i];
        for (size_t j = 0; j < e->nsyms; j++)
            free(e->syms[j].demangled);
        free(e->syms);
        free(e->names);
        ss_dwarf_release(e);
        free(e->build_id);
        free(e->path);
        free(e);
    }
    free(c->entries);
    free(c);
}

struct elf_entry *ss_elf_cache_get(struct ss_elf_cache *c, const char *path)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(c->entries[mid]->path, path);
        if (cmp == 0)
            return c->entries[mid];
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }

    if (SS_ARRAY_GROW(c->entries, c->cap, c->n + 1) < 0)
        return NULL;
    struct elf_entry *e = calloc(1, sizeof *e);
    if (!e || !(e->path = strdup(path))) {
        free(e);
        return NULL;
    }
    memmove(&c->entries[lo + 1], &c->entries[lo], (c->n - lo) * sizeof *c->entries);
    c->entries[lo] = e;
    c->n++;
    return e;
}
