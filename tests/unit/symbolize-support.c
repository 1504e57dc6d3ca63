/* symbolize-support: the helpers of symbolize-support.h. */
#include "symbolize-support.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void fixture(char *buf, const char *name)
{
    const char *dir = getenv("SS_FIXTURE_DIR");
    if (!dir || !*dir)
        cr_skip_test("SS_FIXTURE_DIR not set");
    int n = snprintf(buf, PATH_MAX, "%s/%s", dir, name);
    cr_assert(n > 0 && n < PATH_MAX);
    if (access(buf, R_OK) != 0)
        cr_skip_test("fixture %s not built", buf);
}

Elf *open_elf(const char *path, int *fd)
{
    cr_assert_neq(elf_version(EV_CURRENT), EV_NONE);
    *fd = open(path, O_RDONLY);
    cr_assert_geq(*fd, 0, "open %s", path);
    Elf *e = elf_begin(*fd, ELF_C_READ, NULL);
    cr_assert_not_null(e, "elf_begin %s", path);
    return e;
}

void close_elf(Elf *e, int fd)
{
    elf_end(e);
    close(fd);
}

/* File vaddr and size of the first symbol whose name equals (or, with
 * prefix, starts with) name. */
uint64_t sym_vaddr(const char *path, const char *name, bool prefix, uint64_t *size)
{
    int fd;
    Elf *e = open_elf(path, &fd);
    Elf_Scn *scn = NULL;
    uint64_t found = 0;
    size_t nlen = strlen(name);

    while (!found && (scn = elf_nextscn(e, scn)) != NULL) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM))
            continue;
        Elf_Data *d = elf_getdata(scn, NULL);
        GElf_Sym st;
        for (int i = 0; d && gelf_getsym(d, i, &st); i++) {
            const char *n = elf_strptr(e, sh.sh_link, st.st_name);
            if (n && st.st_value && (prefix ? strncmp(n, name, nlen) == 0 : strcmp(n, name) == 0)) {
                found = st.st_value;
                if (size)
                    *size = st.st_size;
                break;
            }
        }
    }
    close_elf(e, fd);
    cr_assert_neq(found, 0, "symbol %s not in %s", name, path);
    return found;
}

/* Span of the executable PT_LOAD segments in file vaddrs. */
void exec_range(const char *path, uint64_t *lo, uint64_t *hi)
{
    int fd;
    Elf *e = open_elf(path, &fd);
    size_t phnum;
    cr_assert_eq(elf_getphdrnum(e, &phnum), 0);
    *lo = UINT64_MAX;
    *hi = 0;
    for (size_t i = 0; i < phnum; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X))
            continue;
        if (ph.p_vaddr < *lo)
            *lo = ph.p_vaddr;
        if (ph.p_vaddr + ph.p_memsz > *hi)
            *hi = ph.p_vaddr + ph.p_memsz;
    }
    close_elf(e, fd);
    cr_assert_lt(*lo, *hi, "no executable segment in %s", path);
}

void add_fixture(struct ss_symbolizer *s, const char *path, uint64_t bias, const uint8_t *bid,
                 size_t bid_len)
{
    uint64_t lo, hi;
    exec_range(path, &lo, &hi);
    cr_assert_eq(ss_symbolizer_add_module(s, path, bias, lo + bias, hi + bias, bid, bid_len), 0);
}

void write_temp(char *path, const void *data, size_t len)
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, PATH_MAX, "%s/ss-symtest-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
    cr_assert_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
}

void *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    cr_assert_gt(n, 0);
    rewind(f);
    void *buf = malloc((size_t)n);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

uint64_t xorshift(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

struct ss_elf_cache *cache;
struct ss_symbolizer *sym;

static void setup(void)
{
    cache = ss_elf_cache_new();
    cr_assert_not_null(cache);
    sym = ss_symbolizer_new(cache);
    cr_assert_not_null(sym);
}

static void teardown(void)
{
    ss_symbolizer_free(sym);
    ss_elf_cache_free(cache);
}

TestSuite(symbolize, .init = setup, .fini = teardown);

void expect_sym(uint64_t addr, const char *name, uint64_t offset, const char *module)
{
    struct ss_frame_info fi;
    cr_assert_eq(ss_symbolize(sym, addr, &fi), 0, "no symbol at %#llx", (unsigned long long)addr);
    cr_assert_str_eq(fi.symbol, name);
    cr_assert_eq(fi.offset, offset, "offset %#llx", (unsigned long long)fi.offset);
    cr_assert_str_eq(fi.module, module);
    cr_assert_eq(fi.kind, SS_FRAME_NATIVE);
}

void expect_unresolved(uint64_t addr, const char *module, uint64_t offset)
{
    struct ss_frame_info fi;
    cr_assert_eq(ss_symbolize(sym, addr, &fi), 1);
    cr_assert_null(fi.symbol);
    cr_assert_null(fi.file, "an unresolved frame has no file, got %s", fi.file);
    cr_assert_eq(fi.line, 0);
    cr_assert_eq(fi.offset, offset, "offset %#llx", (unsigned long long)fi.offset);
    if (module) {
        cr_assert_str_eq(fi.module, module);
        cr_assert_eq(fi.kind, SS_FRAME_NATIVE);
    } else {
        cr_assert_null(fi.module);
        cr_assert_eq(fi.kind, addr >= 0xffff800000000000ull ? SS_FRAME_KERNEL : SS_FRAME_UNKNOWN);
    }
}

/* A perf-map frame: compiled (jit) or run by the runtime's interpreter. */
void expect_jit(uint64_t addr, const char *name, uint64_t offset)
{
    struct ss_frame_info fi;
    cr_assert_eq(ss_symbolize(sym, addr, &fi), 0, "no JIT symbol at %#llx",
                 (unsigned long long)addr);
    cr_assert_str_eq(fi.symbol, name);
    cr_assert_eq(fi.offset, offset);
    cr_assert(fi.kind == SS_FRAME_JIT || fi.kind == SS_FRAME_INTERPRETER);
}

void expect_kind(uint64_t addr, enum ss_frame_kind kind, const char *file, unsigned line)
{
    struct ss_frame_info fi;
    cr_assert_eq(ss_symbolize(sym, addr, &fi), 0);
    cr_assert_eq(fi.kind, kind, "%s: kind %s", fi.symbol, ss_frame_kind_name(fi.kind));
    if (file)
        cr_assert_str_eq(fi.file, file, "%s", fi.symbol);
    else
        cr_assert_null(fi.file, "%s: file %s", fi.symbol, fi.file);
    cr_assert_eq(fi.line, line, "%s: line %u", fi.symbol, fi.line);
}
