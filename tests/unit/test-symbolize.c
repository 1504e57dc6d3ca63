/* Unit tests for the offline symbolizer (src/symbols/): ELF symbols (PIE, non-PIE,
 * stripped, C++, shared libraries), build-ids, hostile files, source lines and the kinds of
 * frames. JIT frames (perf maps, jitdump files) are in test-symbolize-jit.c.
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
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build-id.h"
#include "symbolize-support.h"

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
