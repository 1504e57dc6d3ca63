/* Unit tests for the offline symbolizer (src/symbols/).
 *
 * The tests build nothing themselves. They read prebuilt fixtures from the
 * directory named by SS_FIXTURE_DIR and skip when it is unset. Built from
 * tests/fixtures/symfix/:
 *
 *   gcc -O0 -g -fPIE -pie -rdynamic -o symfix symfix-main.c
 *   gcc -O0 -g -fno-pie -no-pie -rdynamic -o symfix-nopie symfix-main.c
 *   strip -o symfix-stripped symfix
 *   g++ -O0 -g -fPIE -pie -o symfix-cxx symfix-cxx.cc
 *   gcc -O0 -g -fPIC -shared -o libsymfix.so symfix-lib.c
 *   gcc -O0 -g0 -fPIE -pie -rdynamic -o symfix-nodebug symfix-main.c
 *
 * -rdynamic puts the global functions into .dynsym as well, so the stripped
 * copy still names symfix_alpha but not the static symfix_local. Expected
 * addresses come from the fixtures' own symbol tables, read here with libelf.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symbols/symbolize.h"

#define PIE_BIAS 0x555555554000ull
#define LIB_BIAS 0x7f1234560000ull

static void fixture(char *buf, const char *name)
{
    const char *dir = getenv("SS_FIXTURE_DIR");
    if (!dir || !*dir)
        cr_skip_test("SS_FIXTURE_DIR not set");
    int n = snprintf(buf, PATH_MAX, "%s/%s", dir, name);
    cr_assert(n > 0 && n < PATH_MAX);
    if (access(buf, R_OK) != 0)
        cr_skip_test("fixture %s not built", buf);
}

static Elf *open_elf(const char *path, int *fd)
{
    cr_assert_neq(elf_version(EV_CURRENT), EV_NONE);
    *fd = open(path, O_RDONLY);
    cr_assert_geq(*fd, 0, "open %s", path);
    Elf *e = elf_begin(*fd, ELF_C_READ, NULL);
    cr_assert_not_null(e, "elf_begin %s", path);
    return e;
}

static void close_elf(Elf *e, int fd)
{
    elf_end(e);
    close(fd);
}

/* File vaddr and size of the first symbol whose name equals (or, with
 * prefix, starts with) name. */
static uint64_t sym_vaddr(const char *path, const char *name, bool prefix, uint64_t *size)
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
static void exec_range(const char *path, uint64_t *lo, uint64_t *hi)
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

static size_t file_build_id(const char *path, uint8_t *buf, size_t cap)
{
    int fd;
    Elf *e = open_elf(path, &fd);
    Elf_Scn *scn = NULL;
    size_t len = 0;

    while (!len && (scn = elf_nextscn(e, scn)) != NULL) {
        GElf_Shdr sh;
        Elf_Data *d;
        if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE || !(d = elf_getdata(scn, NULL)))
            continue;
        GElf_Nhdr nh;
        size_t off = 0, name_off, desc_off;
        while ((off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
            if (nh.n_type == NT_GNU_BUILD_ID && nh.n_descsz <= cap) {
                memcpy(buf, (char *)d->d_buf + desc_off, nh.n_descsz);
                len = nh.n_descsz;
                break;
            }
        }
    }
    close_elf(e, fd);
    cr_assert_gt(len, 0, "no build-id in %s", path);
    return len;
}

static void add_fixture(struct ss_symbolizer *s, const char *path, uint64_t bias,
                        const uint8_t *bid, size_t bid_len)
{
    uint64_t lo, hi;
    exec_range(path, &lo, &hi);
    cr_assert_eq(ss_symbolizer_add_module(s, path, bias, lo + bias, hi + bias, bid, bid_len), 0);
}

static void write_temp(char *path, const void *data, size_t len)
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, PATH_MAX, "%s/ss-symtest-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
    cr_assert_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void *slurp(const char *path, size_t *len)
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

static uint64_t xorshift(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

static struct ss_elf_cache *cache;
static struct ss_symbolizer *sym;

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

static void expect_sym(uint64_t addr, const char *name, uint64_t offset, const char *module)
{
    struct ss_frame_info fi;
    cr_assert_eq(ss_symbolize(sym, addr, &fi), 0, "no symbol at %#llx", (unsigned long long)addr);
    cr_assert_str_eq(fi.symbol, name);
    cr_assert_eq(fi.offset, offset, "offset %#llx", (unsigned long long)fi.offset);
    cr_assert_str_eq(fi.module, module);
    cr_assert_eq(fi.kind, SS_FRAME_NATIVE);
}

static void expect_unresolved(uint64_t addr, const char *module, uint64_t offset)
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
static void expect_jit(uint64_t addr, const char *name, uint64_t offset)
{
    struct ss_frame_info fi;
    cr_assert_eq(ss_symbolize(sym, addr, &fi), 0, "no JIT symbol at %#llx",
                 (unsigned long long)addr);
    cr_assert_str_eq(fi.symbol, name);
    cr_assert_eq(fi.offset, offset);
    cr_assert(fi.kind == SS_FRAME_JIT || fi.kind == SS_FRAME_INTERPRETER);
}

TestSuite(symbolize, .init = setup, .fini = teardown);

Test(symbolize, kind_names)
{
    cr_assert_str_eq(ss_frame_kind_name(SS_FRAME_NATIVE), "native");
    cr_assert_str_eq(ss_frame_kind_name(SS_FRAME_JIT), "jit");
    cr_assert_str_eq(ss_frame_kind_name(SS_FRAME_INTERPRETER), "interpreter");
    cr_assert_str_eq(ss_frame_kind_name(SS_FRAME_KERNEL), "kernel");
    cr_assert_str_eq(ss_frame_kind_name(SS_FRAME_UNKNOWN), "unknown");
    cr_assert_str_eq(ss_frame_kind_name((enum ss_frame_kind)42), "unknown");
}

/* File vaddr of a section by name, 0 when absent. */
static uint64_t section_vaddr(const char *path, const char *name)
{
    int fd;
    Elf *e = open_elf(path, &fd);
    size_t shstrndx;
    Elf_Scn *scn = NULL;
    uint64_t found = 0;
    cr_assert_eq(elf_getshdrstrndx(e, &shstrndx), 0);
    while (!found && (scn = elf_nextscn(e, scn)) != NULL) {
        GElf_Shdr sh;
        const char *n;
        if (gelf_getshdr(scn, &sh) && (n = elf_strptr(e, shstrndx, sh.sh_name)) &&
            strcmp(n, name) == 0)
            found = sh.sh_addr;
    }
    close_elf(e, fd);
    return found;
}

/* Regression: _init has size 0 and used to claim everything up to the next symbol, so every
 * PLT stub was named "_init+N". A size-0 symbol ends with its section. */
Test(symbolize, plt_is_not_init)
{
    char path[PATH_MAX];
    fixture(path, "symfix");
    add_fixture(sym, path, 0, NULL, 0);
    uint64_t plt = section_vaddr(path, ".plt");
    cr_assert_neq(plt, 0, "the fixture has a .plt");
    struct ss_frame_info fi;
    ss_symbolize(sym, plt + 0x10, &fi);
    cr_expect(fi.symbol == NULL || strcmp(fi.symbol, "_init") != 0, "a PLT stub named %s",
              fi.symbol);
    uint64_t init = sym_vaddr(path, "_init", false, NULL);
    expect_sym(init + 4, "_init", 4, path);
}

static void check_main_fixture(const char *name, uint64_t bias)
{
    char path[PATH_MAX];
    fixture(path, name);
    add_fixture(sym, path, bias, NULL, 0);

    uint64_t alpha = sym_vaddr(path, "symfix_alpha", false, NULL);
    uint64_t beta_size, beta = sym_vaddr(path, "symfix_beta", false, &beta_size);
    uint64_t local = sym_vaddr(path, "symfix_local", false, NULL);
    expect_sym(alpha + bias, "symfix_alpha", 0, path);
    expect_sym(alpha + bias + 3, "symfix_alpha", 3, path);
    expect_sym(beta + bias + beta_size - 1, "symfix_beta", beta_size - 1, path);
    expect_sym(local + bias + 3, "symfix_local", 3, path);
    cr_assert_eq(ss_symbolizer_module_mismatch(sym, alpha + bias), 0);
}

Test(symbolize, pie)
{
    check_main_fixture("symfix", PIE_BIAS);
}

Test(symbolize, nopie)
{
    check_main_fixture("symfix-nopie", 0);
}

Test(symbolize, stripped_uses_dynsym)
{
    char path[PATH_MAX], full[PATH_MAX];
    fixture(path, "symfix-stripped");
    fixture(full, "symfix");
    add_fixture(sym, path, PIE_BIAS, NULL, 0);

    uint64_t alpha = sym_vaddr(full, "symfix_alpha", false, NULL);
    uint64_t local = sym_vaddr(full, "symfix_local", false, NULL);
    expect_sym(alpha + PIE_BIAS + 3, "symfix_alpha", 3, path);
    expect_unresolved(local + PIE_BIAS + 3, path, local + 3);
}

Test(symbolize, shared_library)
{
    char path[PATH_MAX];
    fixture(path, "libsymfix.so");
    add_fixture(sym, path, LIB_BIAS, NULL, 0);

    uint64_t fn = sym_vaddr(path, "symfix_lib_fn", false, NULL);
    uint64_t helper = sym_vaddr(path, "symfix_lib_helper", false, NULL);
    expect_sym(fn + LIB_BIAS, "symfix_lib_fn", 0, path);
    expect_sym(fn + LIB_BIAS + 3, "symfix_lib_fn", 3, path);
    expect_sym(helper + LIB_BIAS + 1, "symfix_lib_helper", 1, path);
}

Test(symbolize, cxx_demangling)
{
    char path[PATH_MAX];
    fixture(path, "symfix-cxx");
    add_fixture(sym, path, PIE_BIAS, NULL, 0);

    struct ss_frame_info a, b;
    uint64_t spin = sym_vaddr(path, "_ZN6symfix6Widget4spinEi", false, NULL);
    cr_assert_eq(ss_symbolize(sym, spin + PIE_BIAS + 3, &a), 0);
    cr_assert_not_null(strstr(a.symbol, "symfix::Widget::spin"), "got %s", a.symbol);
    cr_assert_eq(a.offset, 3);
    /* The demangled string is cached, not rebuilt per lookup. */
    cr_assert_eq(ss_symbolize(sym, spin + PIE_BIAS, &b), 0);
    cr_assert_eq(a.symbol, b.symbol);

    uint64_t twice = sym_vaddr(path, "_ZN6symfix5twiceIiE", true, NULL);
    cr_assert_eq(ss_symbolize(sym, twice + PIE_BIAS, &a), 0);
    cr_assert_not_null(strstr(a.symbol, "symfix::twice<int>"), "got %s", a.symbol);
}

Test(symbolize, shared_cache_loads_once)
{
    char path[PATH_MAX];
    fixture(path, "symfix");
    struct ss_symbolizer *other = ss_symbolizer_new(cache);
    cr_assert_not_null(other);
    add_fixture(sym, path, PIE_BIAS, NULL, 0);
    add_fixture(other, path, 0x560000000000ull, NULL, 0);

    uint64_t alpha = sym_vaddr(path, "symfix_alpha", false, NULL);
    struct ss_frame_info a, b;
    cr_assert_eq(ss_symbolize(sym, alpha + PIE_BIAS, &a), 0);
    cr_assert_eq(ss_symbolize(other, alpha + 0x560000000000ull, &b), 0);
    cr_assert_eq(a.symbol, b.symbol, "second process should reuse the cached table");
    ss_symbolizer_free(other);
}

Test(symbolize, modules_any_order_and_readd)
{
    char exe[PATH_MAX], lib[PATH_MAX];
    fixture(exe, "symfix");
    fixture(lib, "libsymfix.so");
    add_fixture(sym, lib, LIB_BIAS, NULL, 0);
    add_fixture(sym, exe, PIE_BIAS, NULL, 0);
    add_fixture(sym, lib, LIB_BIAS, NULL, 0);
    cr_assert_eq(ss_symbolizer_add_module(sym, exe, 0, 10, 10, NULL, 0), -EINVAL);
    cr_assert_eq(ss_symbolizer_add_module(sym, NULL, 0, 10, 20, NULL, 0), -EINVAL);

    uint64_t fn = sym_vaddr(lib, "symfix_lib_fn", false, NULL);
    uint64_t alpha = sym_vaddr(exe, "symfix_alpha", false, NULL);
    expect_sym(fn + LIB_BIAS + 2, "symfix_lib_fn", 2, lib);
    expect_sym(alpha + PIE_BIAS + 2, "symfix_alpha", 2, exe);
}

Test(symbolize, build_id_match)
{
    char path[PATH_MAX];
    uint8_t bid[64];
    fixture(path, "symfix");
    size_t len = file_build_id(path, bid, sizeof bid);
    add_fixture(sym, path, PIE_BIAS, bid, len);

    uint64_t alpha = sym_vaddr(path, "symfix_alpha", false, NULL);
    expect_sym(alpha + PIE_BIAS + 1, "symfix_alpha", 1, path);
    cr_assert_eq(ss_symbolizer_module_mismatch(sym, alpha + PIE_BIAS), 0);
}

Test(symbolize, build_id_mismatch)
{
    char path[PATH_MAX];
    uint8_t bid[64];
    fixture(path, "symfix");
    size_t len = file_build_id(path, bid, sizeof bid);
    bid[0] ^= 0xff;
    add_fixture(sym, path, PIE_BIAS, bid, len);

    uint64_t alpha = sym_vaddr(path, "symfix_alpha", false, NULL);
    cr_assert_eq(ss_symbolizer_module_mismatch(sym, alpha + PIE_BIAS), 1);
    expect_unresolved(alpha + PIE_BIAS + 1, path, alpha + 1);
}

Test(symbolize, missing_file)
{
    const char *path = "/nonexistent/stallscope/libgone.so";
    const uint8_t bid[] = {0x12, 0x34, 0x56, 0x78};
    cr_assert_eq(ss_symbolizer_add_module(sym, path, LIB_BIAS, LIB_BIAS + 0x1000, LIB_BIAS + 0x5000,
                                          NULL, 0),
                 0);
    expect_unresolved(LIB_BIAS + 0x1234, path, 0x1234);
    cr_assert_eq(ss_symbolizer_module_mismatch(sym, LIB_BIAS + 0x1234), 0);

    /* Recorded with a build-id, a vanished file counts as rebuilt. */
    cr_assert_eq(
        ss_symbolizer_add_module(sym, path, 0x1000000, 0x1001000, 0x1002000, bid, sizeof bid), 0);
    cr_assert_eq(ss_symbolizer_module_mismatch(sym, 0x1001010), 1);
    expect_unresolved(0x1001010, path, 0x1010);
}

Test(symbolize, no_module)
{
    char path[PATH_MAX];
    fixture(path, "symfix");
    add_fixture(sym, path, PIE_BIAS, NULL, 0);
    expect_unresolved(0x1234, NULL, 0x1234);
    expect_unresolved(UINT64_MAX, NULL, UINT64_MAX);
    cr_assert_eq(ss_symbolizer_module_mismatch(sym, 0x1234), 0);
}

/* Whatever the file holds, lookups must neither crash nor return junk
 * pointers. */
static void probe_hostile(const char *path)
{
    struct ss_elf_cache *c = ss_elf_cache_new();
    struct ss_symbolizer *s = ss_symbolizer_new(c);
    cr_assert_not_null(s);
    cr_assert_eq(ss_symbolizer_add_module(s, path, 0x10000, 0x10000, 0x20000, NULL, 0), 0);
    for (uint64_t a = 0x10000; a < 0x20000; a += 0x333) {
        struct ss_frame_info fi;
        int rc = ss_symbolize(s, a, &fi);
        cr_assert(rc == 0 || rc == 1);
        cr_assert_str_eq(fi.module, path);
        if (fi.symbol)
            cr_assert_lt(strlen(fi.symbol), (size_t)1 << 20);
    }
    ss_symbolizer_module_mismatch(s, 0x10000);
    ss_symbolizer_free(s);
    ss_elf_cache_free(c);
}

Test(symbolize, garbage_files)
{
    char path[PATH_MAX], exe[PATH_MAX];
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    static uint8_t junk[65536];

    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)xorshift(&rng);
    write_temp(path, junk, sizeof junk);
    probe_hostile(path);
    unlink(path);

    /* Random bytes behind a valid-looking ELF identification. */
    memcpy(junk, "\177ELF\2\1\1", 7);
    write_temp(path, junk, sizeof junk);
    probe_hostile(path);
    unlink(path);

    write_temp(path, "", 0);
    probe_hostile(path);
    unlink(path);

    probe_hostile("/");

    fixture(exe, "symfix");
    size_t len;
    uint8_t *image = slurp(exe, &len);
    const size_t cuts[] = {4, 16, 64, 200, 1000, len / 2, len - 100, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        write_temp(path, image, cuts[i]);
        probe_hostile(path);
        unlink(path);
    }
    for (int round = 0; round < 40; round++) {
        uint8_t *copy = malloc(len);
        cr_assert_not_null(copy);
        memcpy(copy, image, len);
        for (int k = 0; k < 24; k++)
            copy[xorshift(&rng) % len] = (uint8_t)xorshift(&rng);
        write_temp(path, copy, len);
        probe_hostile(path);
        unlink(path);
        free(copy);
    }
    free(image);
}

Test(symbolize, perf_map)
{
    static char text[40000];
    char path[PATH_MAX];
    size_t n = 0;

    n += (size_t)sprintf(text + n, "1000 100 LazyCompile:~foo script.js:1\n"
                                   "0x2000 0x80 Builtin: bar\n"
                                   "this is garbage\n"
                                   "zzzz 10 bad\n"
                                   "3000\n"
                                   "3000 10\n"
                                   "\n"
                                   "-3000 10 negative\n"
                                   "4000 0 empty range\n"
                                   "ffffffffffffff00 1000 wraps around\n"
                                   "1050 10 Inner later\n"
                                   "6000 10 ");
    memset(text + n, 'x', 30000);
    n += 30000;
    n += (size_t)sprintf(text + n, "\n"
                                   "7000 10 after long\n"
                                   "0x1000 0x20 Replaced head\n"
                                   "8000\t10\tTabbed name\n"
                                   "9000 10 crlf\r\n"
                                   "a000 10 no newline at end");
    write_temp(path, text, n);
    cr_assert_eq(ss_symbolizer_add_perf_map(sym, path), 0);
    unlink(path);

    expect_jit(0x1000, "Replaced head", 0);
    expect_jit(0x101f, "Replaced head", 0x1f);
    expect_jit(0x1030, "LazyCompile:~foo script.js:1", 0x30);
    expect_jit(0x1055, "Inner later", 5);
    expect_jit(0x10ff, "LazyCompile:~foo script.js:1", 0xff);
    expect_jit(0x2010, "Builtin: bar", 0x10);
    expect_jit(0x7005, "after long", 5);
    expect_jit(0x8000, "Tabbed name", 0);
    expect_jit(0x9000, "crlf", 0);
    expect_jit(0xa00f, "no newline at end", 0xf);
    expect_unresolved(0x1100, NULL, 0x1100);
    expect_unresolved(0x3000, NULL, 0x3000);
    expect_unresolved(0x4000, NULL, 0x4000);
    expect_unresolved(0x6000, NULL, 0x6000);
    expect_unresolved(0xa010, NULL, 0xa010);

    /* A map read later overrides what an earlier one said. */
    const char *more = "2000 10 second map\n";
    write_temp(path, more, strlen(more));
    cr_assert_eq(ss_symbolizer_add_perf_map(sym, path), 0);
    unlink(path);
    expect_jit(0x2008, "second map", 8);
    expect_jit(0x2010, "Builtin: bar", 0x10);
}

Test(symbolize, perf_map_wide_entry_and_small_later_ones)
{
    char path[PATH_MAX];
    const char *text = "0 100000 wide\n"
                       "500 10 small a\n"
                       "900 10 small b\n";
    write_temp(path, text, strlen(text));
    cr_assert_eq(ss_symbolizer_add_perf_map(sym, path), 0);
    unlink(path);
    expect_jit(0x505, "small a", 5);
    expect_jit(0x700, "wide", 0x700);
    expect_jit(0x50000, "wide", 0x50000);
}

Test(symbolize, jit_before_module)
{
    char path[PATH_MAX], map[PATH_MAX], line[128];
    fixture(path, "symfix");
    add_fixture(sym, path, PIE_BIAS, NULL, 0);
    uint64_t alpha = sym_vaddr(path, "symfix_alpha", false, NULL) + PIE_BIAS;
    int n = snprintf(line, sizeof line, "%llx 4 jitted stub\n", (unsigned long long)alpha);
    write_temp(map, line, (size_t)n);
    cr_assert_eq(ss_symbolizer_add_perf_map(sym, map), 0);
    unlink(map);

    expect_jit(alpha + 1, "jitted stub", 1);
    expect_sym(alpha + 4, "symfix_alpha", 4, path);
}

/* A map reached through a symbolic link is refused (one planted in /tmp could point anywhere);
 * the file itself, named directly, is read. */
Test(symbolize, perf_map_through_a_symlink_is_refused)
{
    char map[PATH_MAX], link[PATH_MAX + 8];
    const char line[] = "7f0000001000 10 planted\n";
    write_temp(map, line, sizeof line - 1);
    snprintf(link, sizeof link, "%s.lnk", map);
    cr_assert_eq(symlink(map, link), 0);
    cr_expect_eq(ss_symbolizer_add_perf_map(sym, link), -EPERM);
    cr_expect_eq(ss_symbolizer_add_jitdump(sym, link), -EPERM);
    expect_unresolved(0x7f0000001004, NULL, 0x7f0000001004);
    cr_expect_eq(ss_symbolizer_add_perf_map(sym, map), 0);
    unlink(link);
    unlink(map);
    expect_jit(0x7f0000001004, "planted", 4);
}

Test(symbolize, perf_map_missing)
{
    cr_assert_eq(ss_symbolizer_add_perf_map(sym, "/nonexistent/perf-1.map"), -ENOENT);
    expect_unresolved(0x1000, NULL, 0x1000);
}

/* Line number (from 1) of the first line of a fixture's source that contains needle. */
static unsigned source_line(const char *source, const char *needle)
{
    const char *src = getenv("SS_SRCDIR");
    char path[PATH_MAX], line[512];
    if (!src || !*src)
        cr_skip_test("SS_SRCDIR not set");
    snprintf(path, sizeof path, "%s/tests/fixtures/symfix/%s", src, source);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    unsigned n = 0, found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        n++;
        if (strstr(line, needle))
            found = n;
    }
    fclose(f);
    cr_assert_gt(found, 0, "no '%s' in %s", needle, path);
    return found;
}

/* GCC puts the entry of a function on the line of its opening brace, which the fixtures keep
 * on the line after the one that names the function. */
static void expect_source(const char *fixture_name, uint64_t bias, const char *symbol,
                          const char *source, const char *decl)
{
    char path[PATH_MAX];
    fixture(path, fixture_name);
    add_fixture(sym, path, bias, NULL, 0);
    uint64_t at = sym_vaddr(path, symbol, false, NULL) + bias;
    struct ss_frame_info fi;
    cr_assert_eq(ss_symbolize(sym, at, &fi), 0);
    cr_assert_not_null(fi.file, "%s in %s has no file", symbol, fixture_name);
    cr_assert_str_eq(strrchr(fi.file, '/') ? strrchr(fi.file, '/') + 1 : fi.file, source);
    cr_assert_eq(fi.line, source_line(source, decl) + 1, "%s: line %u", symbol, fi.line);
}

Test(symbolize, file_and_line_pie)
{
    expect_source("symfix", PIE_BIAS, "symfix_alpha", "symfix-main.c", "int symfix_alpha(int x)");
    expect_source("symfix", PIE_BIAS, "symfix_local", "symfix-main.c",
                  "static int symfix_local(int x)");
}

Test(symbolize, file_and_line_nopie)
{
    expect_source("symfix-nopie", 0, "symfix_beta", "symfix-main.c", "int symfix_beta(int x)");
}

Test(symbolize, file_and_line_shared_library)
{
    expect_source("libsymfix.so", LIB_BIAS, "symfix_lib_fn", "symfix-lib.c",
                  "int symfix_lib_fn(int x)");
}

Test(symbolize, file_and_line_cxx)
{
    expect_source("symfix-cxx", PIE_BIAS, "_ZN6symfix6Widget4spinEi", "symfix-cxx.cc",
                  "int Widget::spin(int turns)");
}

/* Without debug information (built without -g, or stripped) a frame is named but has no file.
 * The symbol's address is read from symbols_from, which still has a .symtab. */
static void expect_no_source(const char *fixture_name, const char *symbols_from, const char *symbol)
{
    char path[PATH_MAX], full[PATH_MAX];
    fixture(path, fixture_name);
    fixture(full, symbols_from);
    add_fixture(sym, path, PIE_BIAS, NULL, 0);
    uint64_t at = sym_vaddr(full, symbol, false, NULL);
    struct ss_frame_info fi;
    cr_assert_eq(ss_symbolize(sym, at + PIE_BIAS + 1, &fi), 0);
    cr_assert_str_eq(fi.symbol, symbol);
    cr_assert_null(fi.file, "got file %s", fi.file);
    cr_assert_eq(fi.line, 0);
}

Test(symbolize, no_debug_info_no_file)
{
    expect_no_source("symfix-nodebug", "symfix-nodebug", "symfix_local");
}

Test(symbolize, stripped_no_file)
{
    expect_no_source("symfix-stripped", "symfix", "symfix_alpha");
}

/* A binary rebuilt since recording gives neither names nor lines. */
Test(symbolize, build_id_mismatch_no_file)
{
    char path[PATH_MAX];
    uint8_t bid[64];
    fixture(path, "symfix");
    size_t len = file_build_id(path, bid, sizeof bid);
    bid[len - 1] ^= 0x01;
    add_fixture(sym, path, PIE_BIAS, bid, len);
    uint64_t alpha = sym_vaddr(path, "symfix_alpha", false, NULL);
    expect_unresolved(alpha + PIE_BIAS, path, alpha);
}

static void expect_kind(uint64_t addr, enum ss_frame_kind kind, const char *file, unsigned line)
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

Test(symbolize, jit_kinds_and_locations)
{
    char path[PATH_MAX];
    const char *text = "1000 10 JS:~busyLoop /app/stall.js:9:18\n"
                       "2000 10 JS:*hot /app/stall.js:20:3\n"
                       "3000 10 JS:^warm /app/x.js:5:1\n"
                       "4000 10 JS:~readFileSync node:fs:441:20\n"
                       "5000 10 JS:~ /app/anon.js:1:1\n"
                       "6000 10 Builtin:JsonParse\n"
                       "7000 10 py::handle:/srv/app/handlers.py\n"
                       "8000 10 LazyCompile:~old /app/old.js\n"
                       "9000 10 JS:*odd /app/x.js:a:1\n"
                       "a000 10 v8::internal::Heap::Scavenge(v8::Isolate const&)\n";
    write_temp(path, text, strlen(text));
    cr_assert_eq(ss_symbolizer_add_perf_map(sym, path), 0);
    unlink(path);
    expect_kind(0x1004, SS_FRAME_INTERPRETER, "/app/stall.js", 9);
    expect_kind(0x2004, SS_FRAME_JIT, "/app/stall.js", 20);
    expect_kind(0x3004, SS_FRAME_JIT, "/app/x.js", 5);
    expect_kind(0x4004, SS_FRAME_INTERPRETER, "node:fs", 441);
    expect_kind(0x5004, SS_FRAME_INTERPRETER, "/app/anon.js", 1);
    expect_kind(0x6004, SS_FRAME_JIT, NULL, 0);
    expect_kind(0x7004, SS_FRAME_INTERPRETER, "/srv/app/handlers.py", 0);
    expect_kind(0x8004, SS_FRAME_INTERPRETER, "/app/old.js", 0);
    expect_kind(0x9004, SS_FRAME_JIT, "/app/x.js:a:1", 0);
    expect_kind(0xa004, SS_FRAME_JIT, NULL, 0);
}

Test(symbolize, kernel_addresses)
{
    expect_unresolved(0xffffffff81000000ull, NULL, 0xffffffff81000000ull);
    expect_unresolved(0x7ffd00000000ull, NULL, 0x7ffd00000000ull);
}

/* Regression: the vDSO is recorded with a build-id but is no file, and was reported as
 * rebuilt in every run. */
Test(symbolize, vdso_is_not_stale)
{
    const uint8_t bid[] = {0xde, 0xad, 0xbe, 0xef};
    cr_assert_eq(ss_symbolizer_add_module(sym, "linux-vdso.so.1", 0x7ffd00000000ull,
                                          0x7ffd00001000ull, 0x7ffd00002000ull, bid, sizeof bid),
                 0);
    expect_unresolved(0x7ffd00001010ull, "linux-vdso.so.1", 0x1010);
    cr_assert_eq(ss_symbolizer_module_mismatch(sym, 0x7ffd00001010ull), 0);
}

/* A library dlopen()ed by a relative path is recorded by that path; read from elsewhere it is
 * missing, and must be reported as such rather than taken for the vDSO. */
Test(symbolize, relative_path_missing_is_stale)
{
    const uint8_t bid[] = {0x12, 0x34, 0x56, 0x78};
    cr_assert_eq(ss_symbolizer_add_module(sym, "no-such-dir/libgone.so", LIB_BIAS,
                                          LIB_BIAS + 0x1000, LIB_BIAS + 0x2000, bid, sizeof bid),
                 0);
    expect_unresolved(LIB_BIAS + 0x1010, "no-such-dir/libgone.so", 0x1010);
    cr_assert_eq(ss_symbolizer_module_mismatch(sym, LIB_BIAS + 0x1010), 1);
}

/* ---- jitdump files, built byte by byte in either byte order ---- */

struct dump {
    uint8_t buf[65536];
    size_t len;
    bool swapped;
};

static void put(struct dump *d, const void *p, size_t n)
{
    cr_assert_leq(d->len + n, sizeof d->buf);
    memcpy(d->buf + d->len, p, n);
    d->len += n;
}

static void put32(struct dump *d, uint32_t v)
{
    v = d->swapped ? __builtin_bswap32(v) : v;
    put(d, &v, sizeof v);
}

static void put64(struct dump *d, uint64_t v)
{
    v = d->swapped ? __builtin_bswap64(v) : v;
    put(d, &v, sizeof v);
}

/* The file header, header_size bytes long (40 is the size of its known fields). */
static void dump_header(struct dump *d, bool swapped, uint32_t header_size)
{
    d->len = 0;
    d->swapped = swapped;
    put32(d, 0x4A695444);
    put32(d, 1);
    put32(d, header_size);
    put32(d, 62); /* EM_X86_64 */
    put32(d, 0);
    put32(d, 4242);
    put64(d, 123456789);
    put64(d, 0);
    while (d->len < header_size)
        put(d, "", 1);
}

static void record_header(struct dump *d, uint32_t id, uint32_t total_size)
{
    put32(d, id);
    put32(d, total_size);
    put64(d, 1000 + d->len);
}

/* A code load record of code_size bytes of code after the name; record_size RIGHT_SIZE for
 * the size it really has. */
#define RIGHT_SIZE (-1)
static void code_load(struct dump *d, uint64_t addr, uint64_t code_size, const char *name,
                      int64_t record_size)
{
    size_t name_size = strlen(name) + 1;
    record_header(d, 0,
                  (uint32_t)(record_size == RIGHT_SIZE ? (int64_t)(56 + name_size + code_size)
                                                       : record_size));
    put32(d, 4242);
    put32(d, 4243);
    put64(d, addr);
    put64(d, addr);
    put64(d, code_size);
    put64(d, d->len);
    put(d, name, name_size);
    for (uint64_t i = 0; i < code_size; i++)
        put(d, "\xcc", 1);
}

/* Any other record: header and n bytes of payload. */
static void other_record(struct dump *d, uint32_t id, size_t n)
{
    record_header(d, id, (uint32_t)(16 + n));
    for (size_t i = 0; i < n; i++)
        put(d, "\x5a", 1);
}

static int add_dump(struct ss_symbolizer *s, const struct dump *d, size_t len)
{
    char path[PATH_MAX];
    write_temp(path, d->buf, len);
    int rc = ss_symbolizer_add_jitdump(s, path);
    unlink(path);
    return rc;
}

/* Two named functions with a debug info, an unwinding info and an unknown record between
 * them, a close record at the end; also the length where the second load record starts. */
static void small_dump(struct dump *d, bool swapped, size_t *second)
{
    dump_header(d, swapped, 48);
    code_load(d, 0x1000, 0x40, "JS:*hot /app/x.js:3:1", RIGHT_SIZE);
    other_record(d, 2, 40);
    other_record(d, 4, 24);
    other_record(d, 77, 0);
    *second = d->len;
    code_load(d, 0x2000, 0x20, "JS:~cold /app/y.js:7:2", RIGHT_SIZE);
    other_record(d, 3, 0);
}

static void expect_small_dump(bool with_second)
{
    expect_jit(0x1000, "JS:*hot /app/x.js:3:1", 0);
    expect_jit(0x103f, "JS:*hot /app/x.js:3:1", 0x3f);
    expect_kind(0x1010, SS_FRAME_JIT, "/app/x.js", 3);
    expect_unresolved(0x1040, NULL, 0x1040);
    if (with_second) {
        expect_jit(0x201f, "JS:~cold /app/y.js:7:2", 0x1f);
        expect_kind(0x2000, SS_FRAME_INTERPRETER, "/app/y.js", 7);
    } else {
        expect_unresolved(0x2000, NULL, 0x2000);
    }
}

Test(symbolize, jitdump)
{
    static struct dump d;
    size_t second;
    small_dump(&d, false, &second);
    cr_assert_eq(add_dump(sym, &d, d.len), 0);
    expect_small_dump(true);
}

Test(symbolize, jitdump_other_byte_order)
{
    static struct dump d;
    size_t second;
    small_dump(&d, true, &second);
    cr_assert_eq(add_dump(sym, &d, d.len), 0);
    expect_small_dump(true);
}

/* Cut anywhere: the header must be whole, and each function is named once its record is. */
Test(symbolize, jitdump_truncated)
{
    static struct dump d;
    size_t second;
    small_dump(&d, false, &second);
    size_t first_end = 48 + 56 + strlen("JS:*hot /app/x.js:3:1") + 1 + 0x40;
    size_t second_end = second + 56 + strlen("JS:~cold /app/y.js:7:2") + 1 + 0x20;
    for (size_t cut = 0; cut < d.len; cut++) {
        ss_symbolizer_free(sym);
        sym = ss_symbolizer_new(cache);
        cr_assert_not_null(sym);
        cr_assert_eq(add_dump(sym, &d, cut), cut < 48 ? -EINVAL : 0, "cut at %zu", cut);
        if (cut >= first_end)
            expect_small_dump(cut >= second_end);
        else
            expect_unresolved(0x1000, NULL, 0x1000);
    }
}

/* A record whose size is wrong ends the readable part; what came before it stays. */
Test(symbolize, jitdump_corrupt_sizes)
{
    static const uint32_t bad_sizes[] = {
        0,          /* no progress */
        15,         /* shorter than a record header */
        56,         /* no room for a name */
        58,         /* the name's NUL is beyond the record */
        56 + 8,     /* name fits, the code does not */
        0xfffffff0, /* far past the end of the file */
    };
    for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
        static struct dump d;
        ss_symbolizer_free(sym);
        sym = ss_symbolizer_new(cache);
        cr_assert_not_null(sym);
        dump_header(&d, false, 40);
        code_load(&d, 0x1000, 0x10, "good", RIGHT_SIZE);
        code_load(&d, 0x2000, 0x10, "bad", bad_sizes[i]);
        code_load(&d, 0x3000, 0x10, "after", RIGHT_SIZE);
        cr_assert_eq(add_dump(sym, &d, d.len), 0, "size %u", bad_sizes[i]);
        expect_jit(0x1008, "good", 8);
        expect_unresolved(0x2008, NULL, 0x2008);
        expect_unresolved(0x3008, NULL, 0x3008);
    }
}

Test(symbolize, jitdump_odd_entries)
{
    static struct dump d;
    static char long_name[10000];
    memset(long_name, 'n', sizeof long_name - 1);
    dump_header(&d, false, 40);
    code_load(&d, 0x1000, 0, "empty code", RIGHT_SIZE);
    code_load(&d, 0x2000, 0x10, "", RIGHT_SIZE);
    code_load(&d, 0xfffffffffffffff0, 0x20, "wraps around", RIGHT_SIZE);
    code_load(&d, 0x4000, 0x10, long_name, RIGHT_SIZE);
    code_load(&d, 0x5000, 0x10, "after long", RIGHT_SIZE);
    cr_assert_eq(add_dump(sym, &d, d.len), 0);
    expect_unresolved(0x1000, NULL, 0x1000);
    expect_unresolved(0x2000, NULL, 0x2000);
    expect_unresolved(0xfffffffffffffff8, NULL, 0xfffffffffffffff8);
    expect_unresolved(0x4000, NULL, 0x4000);
    expect_jit(0x5004, "after long", 4);
}

Test(symbolize, jitdump_not_a_dump)
{
    static struct dump d;
    char path[PATH_MAX];
    const char *text = "1000 10 a perf map, not a dump, and long enough for a header\n";
    write_temp(path, text, strlen(text));
    cr_assert_eq(ss_symbolizer_add_jitdump(sym, path), -EINVAL);
    unlink(path);
    dump_header(&d, false, 39);
    cr_assert_eq(add_dump(sym, &d, d.len), -EINVAL);
    dump_header(&d, false, 400);
    cr_assert_eq(add_dump(sym, &d, 100), -EINVAL);
    cr_assert_eq(ss_symbolizer_add_jitdump(sym, "/nonexistent/jit-1.dump"), -ENOENT);
    expect_unresolved(0x1000, NULL, 0x1000);
}

/* A dump read after a perf map overrides it, as a later map would. */
Test(symbolize, jitdump_after_perf_map)
{
    static struct dump d;
    char path[PATH_MAX];
    const char *text = "1000 100 from the map\n";
    write_temp(path, text, strlen(text));
    cr_assert_eq(ss_symbolizer_add_perf_map(sym, path), 0);
    unlink(path);
    dump_header(&d, false, 40);
    code_load(&d, 0x1010, 0x10, "from the dump", RIGHT_SIZE);
    cr_assert_eq(add_dump(sym, &d, d.len), 0);
    expect_jit(0x1018, "from the dump", 8);
    expect_jit(0x1008, "from the map", 8);
    expect_jit(0x1020, "from the map", 0x20);
}
