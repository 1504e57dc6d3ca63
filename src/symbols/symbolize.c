#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* qsort_r */
#endif
#include "symbolize.h"

#include <ctype.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Overridable so distributions with a different debug root can point at it. */
#ifndef SS_DEBUG_ROOT
#define SS_DEBUG_ROOT "/usr/lib/debug"
#endif

/* Real perf map names stay well below this; anything longer is treated as
 * garbage so a hostile file cannot make one line grow memory without bound. */
#define PERF_MAP_LINE_MAX 8192

/* Build-ids are 16 or 20 bytes in practice; the cap keeps the hex form of
 * any accepted one within a fixed buffer. */
#define DEBUG_BUILD_ID_MAX 64

/* Addresses from here up are the kernel's on x86_64 (and on every 64-bit Linux
 * with a 48- or 57-bit address space). */
#define KERNEL_SPACE_START 0xffff800000000000ull

/* Provided by libstdc++; declared here so this file stays plain C. */
char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

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

struct sym_builder {
    struct sym *syms;
    size_t n, cap;
    char *names;
    size_t names_len, names_cap;
};

/* Returns p (possibly moved) with room for need elements, or NULL leaving p
 * and *cap untouched. */
static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return NULL;
        ncap *= 2;
    }
    void *np = reallocarray(p, ncap, elem);
    if (np)
        *cap = ncap;
    return np;
}

/* Number of elements of the sorted array base whose uint64_t key at key_off
 * is <= key; the element before that index is the candidate container. */
static size_t upper_bound(const void *base, size_t n, size_t elem, size_t key_off, uint64_t key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint64_t k;
        memcpy(&k, (const char *)base + mid * elem + key_off, sizeof k);
        if (k <= key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const char *ss_frame_kind_name(enum ss_frame_kind k)
{
    switch (k) {
    case SS_FRAME_NATIVE:
        return "native";
    case SS_FRAME_JIT:
        return "jit";
    case SS_FRAME_INTERPRETER:
        return "interpreter";
    case SS_FRAME_KERNEL:
        return "kernel";
    case SS_FRAME_UNKNOWN:
        break;
    }
    return "unknown";
}

/* ---- ELF reading ---- */

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
    struct sym *syms = grow(b->syms, &b->cap, b->n + 1, sizeof *b->syms);
    if (!syms)
        return -ENOMEM;
    b->syms = syms;
    char *names = grow(b->names, &b->names_cap, b->names_len + len, 1);
    if (!names)
        return -ENOMEM;
    b->names = names;

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

/* Appends the file's symbols to b and returns its build-id in *bid. Negative
 * errno when the file cannot be read as ELF at all. */
static int read_elf(const char *path, struct sym_builder *b, uint8_t **bid, size_t *bid_len,
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

/* Where a distribution keeps the separate debug file of this build; false when
 * the module has no usable build-id. */
static bool debug_file_path(const struct elf_entry *ent, char path[PATH_MAX])
{
    char hex[2 * DEBUG_BUILD_ID_MAX + 1];
    const uint8_t *id = ent->build_id;
    size_t len = ent->build_id_len;

    if (len < 2 || len > DEBUG_BUILD_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        sprintf(hex + 2 * i, "%02x", id[i]);
    return (size_t)snprintf(path, PATH_MAX, "%s/.build-id/%.2s/%s.debug", SS_DEBUG_ROOT, hex,
                            hex + 2) < PATH_MAX;
}

static void try_debug_file(struct elf_entry *ent, struct sym_builder *b)
{
    char path[PATH_MAX];
    const uint8_t *id = ent->build_id;
    size_t len = ent->build_id_len;

    if (!debug_file_path(ent, path))
        return;

    size_t n = b->n, names_len = b->names_len;
    uint8_t *dbg_id = NULL;
    size_t dbg_id_len = 0;
    bool dbg_symtab = false;
    int rc = read_elf(path, b, &dbg_id, &dbg_id_len, &dbg_symtab);
    /* A stale debug file for another build would name the wrong functions. */
    if (rc < 0 || dbg_id_len != len || memcmp(dbg_id, id, len) != 0) {
        b->n = n;
        b->names_len = names_len;
    }
    free(dbg_id);
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

static void load_entry(struct elf_entry *ent)
{
    struct sym_builder b = {0};
    bool has_symtab = false;

    ent->loaded = true;
    int rc = read_elf(ent->path, &b, &ent->build_id, &ent->build_id_len, &has_symtab);
    if (rc == 0 && !has_symtab)
        try_debug_file(ent, &b);
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

static struct sym *find_sym(struct elf_entry *e, uint64_t vaddr)
{
    size_t lo = upper_bound(e->syms, e->nsyms, sizeof *e->syms, offsetof(struct sym, addr), vaddr);
    if (lo == 0)
        return NULL;
    /* Size 0 means unknown extent: it runs up to the next symbol, which is
     * exactly what landing on it in the search implies. */
    struct sym *s = &e->syms[lo - 1];
    return s->size == 0 || vaddr - s->addr < s->size ? s : NULL;
}

/* libdw refuses files without .debug_info, so a stripped module falls through
 * to its debug file; a debug file of another build would give wrong lines. */
static Dwarf *open_dwarf(const char *path, const struct elf_entry *ent, int *fd_out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return NULL;
    Dwarf *d = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
        d = dwarf_begin(fd, DWARF_C_READ);
    if (d && ent->build_id_len > 0) {
        const void *id;
        ssize_t n = dwelf_elf_gnu_build_id(dwarf_getelf(d), &id);
        if (n != (ssize_t)ent->build_id_len || memcmp(id, ent->build_id, (size_t)n) != 0) {
            dwarf_end(d);
            d = NULL;
        }
    }
    if (!d) {
        close(fd);
        return NULL;
    }
    *fd_out = fd;
    return d;
}

static Dwarf *entry_dwarf(struct elf_entry *e)
{
    char path[PATH_MAX];
    if (!e->dwarf_tried) {
        e->dwarf_tried = true;
        e->dwarf = open_dwarf(e->path, e, &e->dwarf_fd);
        if (!e->dwarf && debug_file_path(e, path))
            e->dwarf = open_dwarf(path, e, &e->dwarf_fd);
    }
    return e->dwarf;
}

static void find_line(struct elf_entry *e, uint64_t vaddr, struct ss_frame_info *out)
{
    Dwarf *d = entry_dwarf(e);
    Dwarf_Die cu;
    Dwarf_Line *line;
    int lineno;
    if (!d || !dwarf_addrdie(d, vaddr, &cu) || !(line = dwarf_getsrc_die(&cu, vaddr)))
        return;
    const char *file = dwarf_linesrc(line, NULL, NULL);
    if (!file || dwarf_lineno(line, &lineno) != 0)
        return;
    out->file = file;
    out->line = lineno > 0 ? (unsigned)lineno : 0;
}

static const char *sym_name(struct elf_entry *e, struct sym *s)
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

/* ---- ELF cache ---- */

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
        if (e->dwarf) {
            dwarf_end(e->dwarf);
            close(e->dwarf_fd);
        }
        free(e->build_id);
        free(e->path);
        free(e);
    }
    free(c->entries);
    free(c);
}

static struct elf_entry *cache_get(struct ss_elf_cache *c, const char *path)
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

    struct elf_entry **entries = grow(c->entries, &c->cap, c->n + 1, sizeof *c->entries);
    if (!entries)
        return NULL;
    c->entries = entries;
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

/* ---- per-process symbolizer ---- */

struct ss_symbolizer *ss_symbolizer_new(struct ss_elf_cache *cache)
{
    if (!cache)
        return NULL;
    struct ss_symbolizer *s = calloc(1, sizeof *s);
    if (s) {
        s->cache = cache;
        s->jit_owner = geteuid();
    }
    return s;
}

void ss_symbolizer_trust_owner(struct ss_symbolizer *s, uid_t uid)
{
    s->jit_owner = uid;
}

void ss_symbolizer_process_started(struct ss_symbolizer *s, uint64_t start_real_ns)
{
    s->started_ns = start_real_ns;
}

bool ss_jit_file_predates(const struct stat *st, uint64_t start_real_ns)
{
    uint64_t written = (uint64_t)st->st_mtim.tv_sec * 1000000000ull + (uint64_t)st->st_mtim.tv_nsec;
    return st->st_mtim.tv_sec >= 0 && start_real_ns > SS_JIT_STALE_SLACK_NS &&
           written < start_real_ns - SS_JIT_STALE_SLACK_NS;
}

/* JIT files are often found in the shared /tmp, where anyone can plant one under the name a
 * process will use: only a regular file of the reader or of the trusted owner is read, and a
 * symbolic link is never followed. One an earlier process with the same pid left there is not
 * read either. */
static FILE *open_jit_file(const struct ss_symbolizer *s, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return errno == ELOOP ? (errno = EPERM, NULL) : NULL;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        (st.st_uid != geteuid() && st.st_uid != s->jit_owner)) {
        close(fd);
        errno = EPERM;
        return NULL;
    }
    if (s->started_ns && ss_jit_file_predates(&st, s->started_ns)) {
        close(fd);
        errno = ESTALE;
        return NULL;
    }
    FILE *f = fdopen(fd, "r");
    if (!f) {
        int err = errno;
        close(fd);
        errno = err;
    }
    return f;
}

void ss_symbolizer_free(struct ss_symbolizer *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nmods; i++) {
        free(s->mods[i].path);
        free(s->mods[i].build_id);
    }
    free(s->mods);
    for (size_t i = 0; i < s->njit; i++) {
        free(s->jit[i].name);
        free(s->jit[i].file);
    }
    free(s->jit);
    free(s);
}

int ss_symbolizer_add_module(struct ss_symbolizer *s, const char *path, uint64_t bias, uint64_t lo,
                             uint64_t hi, const uint8_t *build_id, size_t build_id_len)
{
    if (!path || lo >= hi || (build_id_len > 0 && !build_id))
        return -EINVAL;

    size_t pos = upper_bound(s->mods, s->nmods, sizeof *s->mods, offsetof(struct module, lo), lo);
    for (size_t i = pos; i-- > 0 && s->mods[i].lo == lo;) {
        const struct module *m = &s->mods[i];
        if (m->hi == hi && m->bias == bias && strcmp(m->path, path) == 0)
            return 0;
    }

    struct module *mods = grow(s->mods, &s->capmods, s->nmods + 1, sizeof *s->mods);
    if (!mods)
        return -ENOMEM;
    s->mods = mods;
    struct module m = {.bias = bias, .lo = lo, .hi = hi, .build_id_len = build_id_len};
    m.path = strdup(path);
    if (build_id_len > 0 && (m.build_id = malloc(build_id_len)) != NULL)
        memcpy(m.build_id, build_id, build_id_len);
    if (!m.path || (build_id_len > 0 && !m.build_id)) {
        free(m.path);
        free(m.build_id);
        return -ENOMEM;
    }
    memmove(&s->mods[pos + 1], &s->mods[pos], (s->nmods - pos) * sizeof *s->mods);
    s->mods[pos] = m;
    s->nmods++;
    return 0;
}

static struct module *find_module(struct ss_symbolizer *s, uint64_t addr)
{
    size_t lo = upper_bound(s->mods, s->nmods, sizeof *s->mods, offsetof(struct module, lo), addr);
    return lo > 0 && addr < s->mods[lo - 1].hi ? &s->mods[lo - 1] : NULL;
}

/* NULL when the file cannot be looked at now (out of memory); retried later. */
static struct elf_entry *module_elf(struct ss_symbolizer *s, struct module *m)
{
    if (m->elf)
        return m->elf;
    struct elf_entry *e = cache_get(s->cache, m->path);
    if (!e)
        return NULL;
    if (!e->loaded)
        load_entry(e);
    m->elf = e;
    /* A missing or unreadable file has no build-id, so it mismatches too; the vDSO,
     * which the kernel maps and no file holds, cannot be checked. */
    m->mismatch = m->build_id_len > 0 && strncmp(m->path, "linux-vdso", 10) != 0 &&
                  strncmp(m->path, "linux-gate", 10) != 0 &&
                  (e->build_id_len != m->build_id_len ||
                   memcmp(e->build_id, m->build_id, m->build_id_len) != 0);
    return e;
}

/* Accepts "START SIZE NAME"; on success *name points into line. */
static bool parse_perf_line(char *line, uint64_t *start, uint64_t *size, char **name)
{
    char *p = line + strspn(line, " \t"), *end;

    /* strtoull would also take signs and empty input. */
    if (!isxdigit((unsigned char)*p))
        return false;
    errno = 0;
    *start = strtoull(p, &end, 16);
    if (errno || (*end != ' ' && *end != '\t'))
        return false;
    p = end + strspn(end, " \t");
    if (!isxdigit((unsigned char)*p))
        return false;
    *size = strtoull(p, &end, 16);
    if (errno || (*end != ' ' && *end != '\t'))
        return false;
    p = end + strspn(end, " \t");
    size_t len = strlen(p);
    while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == '\n'))
        p[--len] = '\0';
    *name = p;
    return len > 0 && *size > 0 && *start <= UINT64_MAX - *size;
}

/* The caller checked that size > 0 and start + size does not wrap. */
static int add_jit_entry(struct ss_symbolizer *s, uint64_t start, uint64_t size, const char *name)
{
    struct jit_entry *jit = grow(s->jit, &s->capjit, s->njit + 1, sizeof *s->jit);
    char *copy = jit ? strdup(name) : NULL;
    if (jit)
        s->jit = jit;
    if (!copy)
        return -ENOMEM;
    s->jit[s->njit++] = (struct jit_entry){
        .start = start,
        .end = start + size,
        .seq = s->jit_seq++,
        .name = copy,
    };
    s->jit_sorted = false;
    return 0;
}

int ss_symbolizer_add_perf_map(struct ss_symbolizer *s, const char *path)
{
    FILE *f = open_jit_file(s, path);
    if (!f)
        return -errno;

    char *line = malloc(PERF_MAP_LINE_MAX);
    int rc = line ? 0 : -ENOMEM;
    while (rc == 0 && fgets(line, PERF_MAP_LINE_MAX, f)) {
        uint64_t start, size;
        char *name;
        if (strlen(line) == PERF_MAP_LINE_MAX - 1 && line[PERF_MAP_LINE_MAX - 2] != '\n') {
            int c;
            while ((c = getc_unlocked(f)) != EOF && c != '\n')
                ;
            continue;
        }
        if (parse_perf_line(line, &start, &size, &name))
            rc = add_jit_entry(s, start, size, name);
    }
    if (rc == 0 && ferror(f))
        rc = -EIO;
    free(line);
    fclose(f);
    return rc;
}

/* ---- jitdump files ---- */

/* Sizes of the file header's known fields, of the header every record starts
 * with, and of a code load record's fixed fields (pid, tid, vma, code address,
 * code size, code index), which its name and code follow. */
#define JITDUMP_MAGIC 0x4A695444u
#define JITDUMP_HEADER_SIZE 40
#define JITDUMP_RECORD_HEADER_SIZE 16
#define JITDUMP_CODE_LOAD 0
#define JITDUMP_CODE_LOAD_FIXED 40

struct jitdump_reader {
    FILE *f;
    uint64_t left; /* bytes of the file not yet consumed */
    bool swapped;  /* written on a machine of the other byte order */
};

static bool jitdump_read(struct jitdump_reader *r, void *buf, size_t n)
{
    if (n > r->left || fread(buf, 1, n, r->f) != n)
        return false;
    r->left -= n;
    return true;
}

static bool jitdump_skip(struct jitdump_reader *r, uint64_t n)
{
    /* n fits off_t: it is at most the file's size. */
    if (n > r->left || fseeko(r->f, (off_t)n, SEEK_CUR) != 0)
        return false;
    r->left -= n;
    return true;
}

static uint32_t jitdump_u32(const struct jitdump_reader *r, const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return r->swapped ? __builtin_bswap32(v) : v;
}

static uint64_t jitdump_u64(const struct jitdump_reader *r, const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return r->swapped ? __builtin_bswap64(v) : v;
}

/* One code load record whose header said it is size bytes long (header
 * included): 1 when read or skipped as harmless, 0 when it is malformed, or
 * -ENOMEM. name holds PERF_MAP_LINE_MAX bytes. */
static int jitdump_code_load(struct ss_symbolizer *s, struct jitdump_reader *r, uint64_t size,
                             char *name)
{
    uint8_t fixed[JITDUMP_CODE_LOAD_FIXED];
    uint64_t rest = size - JITDUMP_RECORD_HEADER_SIZE;
    if (rest <= sizeof fixed || !jitdump_read(r, fixed, sizeof fixed))
        return 0;
    rest -= sizeof fixed;
    uint64_t code_addr = jitdump_u64(r, fixed + 16), code_size = jitdump_u64(r, fixed + 24);
    size_t want = rest < PERF_MAP_LINE_MAX ? (size_t)rest : PERF_MAP_LINE_MAX;
    if (!jitdump_read(r, name, want))
        return 0;
    const char *nul = memchr(name, '\0', want);
    if (!nul)
        /* Overlong names are skipped like overlong perf map lines. */
        return want < PERF_MAP_LINE_MAX ? 0 : jitdump_skip(r, rest - want);
    /* The code itself follows the name inside the record. */
    uint64_t name_size = (uint64_t)(nul - name) + 1;
    if (code_size > rest - name_size || !jitdump_skip(r, rest - want))
        return 0;
    if (code_size == 0 || nul == name || code_addr > UINT64_MAX - code_size)
        return 1;
    return add_jit_entry(s, code_addr, code_size, name) == 0 ? 1 : -ENOMEM;
}

int ss_symbolizer_add_jitdump(struct ss_symbolizer *s, const char *path)
{
    struct jitdump_reader r = {.f = open_jit_file(s, path)};
    if (!r.f)
        return -errno;
    struct stat st;
    uint8_t head[JITDUMP_HEADER_SIZE];
    char *name = NULL;
    int rc = 0;
    if (fstat(fileno(r.f), &st) != 0) {
        rc = -errno;
        goto out;
    }
    r.left = (uint64_t)st.st_size;
    if (!jitdump_read(&r, head, sizeof head)) {
        rc = -EINVAL;
        goto out;
    }
    uint32_t magic;
    memcpy(&magic, head, sizeof magic);
    r.swapped = magic == __builtin_bswap32(JITDUMP_MAGIC);
    uint32_t header_size = jitdump_u32(&r, head + 8);
    if ((magic != JITDUMP_MAGIC && !r.swapped) || header_size < sizeof head ||
        !jitdump_skip(&r, header_size - sizeof head)) {
        rc = -EINVAL;
        goto out;
    }
    if (!(name = malloc(PERF_MAP_LINE_MAX))) {
        rc = -ENOMEM;
        goto out;
    }
    /* Writers append while they run, so a bad record ends the usable part of
     * the file: what came before it is kept. */
    uint8_t rec[JITDUMP_RECORD_HEADER_SIZE];
    int ok = 1;
    while (ok > 0 && r.left > 0 && jitdump_read(&r, rec, sizeof rec)) {
        uint32_t id = jitdump_u32(&r, rec), size = jitdump_u32(&r, rec + 4);
        if (size < sizeof rec)
            break;
        if (id == JITDUMP_CODE_LOAD)
            ok = jitdump_code_load(s, &r, size, name);
        else
            ok = jitdump_skip(&r, size - sizeof rec);
    }
    if (ok < 0)
        rc = ok;
    else if (ferror(r.f))
        rc = -EIO;
out:
    free(name);
    fclose(r.f);
    return rc;
}

static int jit_cmp(const void *pa, const void *pb)
{
    const struct jit_entry *a = pa, *b = pb;
    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Entries may overlap, so the covering entry is not necessarily the nearest
 * one below addr: walk back while some earlier entry could still reach addr
 * (maxend), keeping the latest. Code space reuse produces short overlaps, so
 * the walk stays short in practice. */
static struct jit_entry *find_jit(struct ss_symbolizer *s, uint64_t addr)
{
    if (s->njit == 0)
        return NULL;
    if (!s->jit_sorted) {
        qsort(s->jit, s->njit, sizeof *s->jit, jit_cmp);
        uint64_t maxend = 0;
        for (size_t i = 0; i < s->njit; i++) {
            if (s->jit[i].end > maxend)
                maxend = s->jit[i].end;
            s->jit[i].maxend = maxend;
        }
        s->jit_sorted = true;
    }

    size_t lo =
        upper_bound(s->jit, s->njit, sizeof *s->jit, offsetof(struct jit_entry, start), addr);
    struct jit_entry *best = NULL;
    for (size_t i = lo; i-- > 0 && s->jit[i].maxend > addr;) {
        if (addr < s->jit[i].end && (!best || s->jit[i].seq > best->seq))
            best = &s->jit[i];
    }
    return best;
}

/* V8 marks a function its bytecode interpreter runs with '~' after the tag
 * ("JS:~load", "LazyCompile:~load"); CPython 3.12 gives every interpreted
 * function a trampoline named "py::FUNCTION:FILE". */
static enum ss_frame_kind jit_kind(const char *name)
{
    const char *colon = strchr(name, ':');
    if (strncmp(name, "py::", 4) == 0 || (colon && colon[1] == '~'))
        return SS_FRAME_INTERPRETER;
    return SS_FRAME_JIT;
}

/* Tags V8 gives JavaScript functions in its map (Node.js 12 and later write
 * "JS:", older ones the others); its own code (Builtin:, Stub:, ...) and
 * native code named in the map have no script location. */
static const char *const script_tags[] = {"JS:", "LazyCompile:", "Function:", "Script:", "Eval:"};

/* The script location a runtime put into a map entry's name: V8's "TAG:NAME
 * PATH:LINE:COL" (or "TAG:NAME PATH" when it knows no line), CPython's
 * "py::NAME:PATH". */
static void locate_jit(struct jit_entry *j)
{
    const char *file = NULL, *end = NULL;
    unsigned long line = 0;
    bool script = false;
    j->located = true;
    for (size_t i = 0; i < sizeof script_tags / sizeof script_tags[0]; i++)
        script = script || strncmp(j->name, script_tags[i], strlen(script_tags[i])) == 0;
    if (strncmp(j->name, "py::", 4) == 0) {
        const char *colon = strchr(j->name + 4, ':');
        if (colon && colon[1]) {
            file = colon + 1;
            end = file + strlen(file);
        }
    } else if (script) {
        const char *space = strrchr(j->name, ' ');
        if (space && space[1]) {
            file = space + 1;
            end = file + strlen(file);
            /* Peel ":COL" and ":LINE" off the end, when both are numbers. */
            const char *c2 = memrchr(file, ':', (size_t)(end - file));
            const char *c1 = c2 ? memrchr(file, ':', (size_t)(c2 - file)) : NULL;
            if (c1 && c1 > file && c2 - c1 > 1 && end - c2 > 1 &&
                strspn(c1 + 1, "0123456789") == (size_t)(c2 - c1 - 1) &&
                strspn(c2 + 1, "0123456789") == (size_t)(end - c2 - 1)) {
                line = strtoul(c1 + 1, NULL, 10);
                end = c1;
            }
        }
    }
    if (file && (j->file = strndup(file, (size_t)(end - file))) != NULL)
        j->line = line <= UINT_MAX ? (unsigned)line : 0;
}

int ss_symbolize(struct ss_symbolizer *s, uint64_t addr, struct ss_frame_info *out)
{
    struct module *m = find_module(s, addr);
    *out = (struct ss_frame_info){
        .offset = addr,
        .module = m ? m->path : NULL,
        .kind = m                            ? SS_FRAME_NATIVE
                : addr >= KERNEL_SPACE_START ? SS_FRAME_KERNEL
                                             : SS_FRAME_UNKNOWN,
    };

    struct jit_entry *j = find_jit(s, addr);
    if (j) {
        if (!j->located)
            locate_jit(j);
        out->symbol = j->name;
        out->offset = addr - j->start;
        out->kind = jit_kind(j->name);
        out->file = j->file;
        out->line = j->line;
        return 0;
    }
    if (!m)
        return 1;

    uint64_t vaddr = addr - m->bias;
    out->offset = vaddr;
    struct elf_entry *e = module_elf(s, m);
    struct sym *sym;
    if (!e || m->mismatch || !(sym = find_sym(e, vaddr)))
        return 1;
    out->symbol = sym_name(e, sym);
    out->offset = vaddr - sym->addr;
    find_line(e, vaddr, out);
    return 0;
}

int ss_symbolizer_module_mismatch(struct ss_symbolizer *s, uint64_t addr)
{
    struct module *m = find_module(s, addr);
    if (!m || !module_elf(s, m))
        return 0;
    return m->mismatch;
}
