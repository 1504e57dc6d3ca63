/* The generic containers of src/util: array growth, FNV-1a, the keyed hash table, the interner. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/array.h"
#include "util/fnv.h"
#include "util/hash.h"
#include "util/intern.h"
#include "util/lines.h"

Test(array, grows_by_doubling_and_zeroes_the_new_items)
{
    uint32_t *items = NULL;
    size_t cap = 0;
    cr_assert_eq(SS_ARRAY_GROW(items, cap, 1), 0);
    cr_expect_eq(cap, 4);
    items[0] = 7;
    cr_assert_eq(SS_ARRAY_GROW(items, cap, 9), 0);
    cr_expect_eq(cap, 16);
    cr_expect_eq(items[0], 7, "the items held stay");
    for (size_t i = 1; i < cap; i++)
        cr_expect_eq(items[i], 0);
    uint32_t *before = items;
    cr_assert_eq(SS_ARRAY_GROW(items, cap, 16), 0);
    cr_expect_eq(items, before, "no growth while there is room");
    free(items);
}

Test(fnv, matches_the_published_values)
{
    cr_expect_eq(ss_fnv1a(SS_FNV1A_INIT, "", 0), 0xcbf29ce484222325ull);
    cr_expect_eq(ss_fnv1a(SS_FNV1A_INIT, "a", 1), 0xaf63dc4c8601ec8cull);
    cr_expect_eq(ss_fnv1a(SS_FNV1A_INIT, "foobar", 6), 0x85944171f73967e8ull);
    cr_expect_eq(ss_fnv1a(ss_fnv1a(SS_FNV1A_INIT, "foo", 3), "bar", 3),
                 ss_fnv1a(SS_FNV1A_INIT, "foobar", 6), "a hash continues with more bytes");
}

Test(key_table, finds_what_it_stored_across_growth)
{
    struct ss_key_table t = {0};
    size_t index;
    cr_expect_eq(ss_key_table_find(&t, 1, 2, 3), -1, "an empty table finds nothing");
    for (size_t i = 0; i < 1000; i++) {
        cr_assert_eq(ss_key_table_get(&t, i, i * 7, 3, i, &index), SS_KEY_ADDED);
        cr_expect_eq(index, i);
    }
    for (size_t i = 0; i < 1000; i++) {
        cr_assert_eq(ss_key_table_get(&t, i, i * 7, 3, 12345, &index), 0);
        cr_expect_eq(index, i, "a key found keeps its index");
        cr_expect_eq(ss_key_table_find(&t, i, i * 7, 3), (long)i);
    }
    cr_expect_eq(ss_key_table_find(&t, 5, 35, 4), -1, "every word of the key counts");
    ss_key_table_free(&t);
    cr_expect_eq(ss_key_table_find(&t, 1, 7, 3), -1, "a freed table is empty");
}

Test(intern, equal_strings_are_one_pointer)
{
    struct ss_interner in = {0};
    char name[32];
    const char *first = ss_intern(&in, "read");
    cr_assert_not_null(first);
    snprintf(name, sizeof name, "%s", "read");
    cr_expect_eq(ss_intern(&in, name), first);
    cr_expect_neq(ss_intern(&in, "write"), first);
    const char *held[2000];
    for (int i = 0; i < 2000; i++) {
        snprintf(name, sizeof name, "frame %d", i);
        held[i] = ss_intern(&in, name);
    }
    for (int i = 0; i < 2000; i++) {
        snprintf(name, sizeof name, "frame %d", i);
        cr_expect_eq(ss_intern(&in, name), held[i], "strings stay where they are as the set grows");
    }
    cr_expect_eq(ss_intern(&in, "read"), first);
    ss_interner_free(&in);
}

Test(intern, bytes_end_at_the_first_nul)
{
    struct ss_interner in = {0};
    const char *whole = ss_intern(&in, "poll");
    cr_expect_eq(ss_intern_bytes(&in, "pollfd", 4), whole);
    cr_expect_eq(ss_intern_bytes(&in, "poll\0xyz", 8), whole);
    cr_expect_str_eq(ss_intern_bytes(&in, "pol", 3), "pol");
    cr_expect_neq(ss_intern_bytes(&in, "pol", 3), whole, "a prefix is a string of its own");
    ss_interner_free(&in);
}

struct seen_lines {
    char text[4][32];
    int n;
};

static int keep_line(void *ctx, char *line, char *why, size_t why_size)
{
    struct seen_lines *seen = ctx;
    if (strcmp(line, "bad") == 0) {
        snprintf(why, why_size, "not this one");
        return -EINVAL;
    }
    snprintf(seen->text[seen->n++], sizeof seen->text[0], "%s", line);
    return 0;
}

Test(lines, blank_and_comment_lines_are_skipped_and_ends_trimmed)
{
    char path[] = "/tmp/ss-lines-XXXXXX", err[256] = "";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    const char text[] = "\n  # a comment\n  first value  \n\t\nsecond\r\nbad\nnever read\n";
    cr_assert_eq(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    struct seen_lines seen = {0};
    cr_expect_eq(ss_read_lines(path, keep_line, &seen, err, sizeof err), -EINVAL);
    cr_assert_eq(seen.n, 2);
    cr_expect_str_eq(seen.text[0], "first value");
    cr_expect_str_eq(seen.text[1], "second");
    char want[300];
    snprintf(want, sizeof want, "%s:6: not this one", path);
    cr_expect_str_eq(err, want);
    unlink(path);
    cr_expect_eq(ss_read_lines(path, keep_line, &seen, err, sizeof err), -ENOENT);
    cr_expect_eq(ss_read_lines("/", keep_line, &seen, err, sizeof err), -EISDIR,
                 "a directory is an error, not an empty file: %s", err);
}
