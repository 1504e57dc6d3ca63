/* Unit tests for the symbolizer's JIT frames (src/symbols/jit.c): perf maps as runtimes
 * write them (and refuse to read them through a link), and jitdump files built here byte by
 * byte, in either byte order, truncated, corrupt or mixed with a perf map. The ELF side is in
 * test-symbolize.c. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symbolize-support.h"

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
