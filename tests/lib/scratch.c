#define _GNU_SOURCE
#include "scratch.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *scratch_builddir(void)
{
    const char *d = getenv("SS_BUILDDIR");
    return d ? d : ".";
}

void scratch_built(char *buf, size_t size, const char *rel)
{
    cr_assert_lt((size_t)snprintf(buf, size, "%s/%s", scratch_builddir(), rel), size);
}

void scratch_dir(char *dir, size_t size, const char *name)
{
    cr_assert_lt((size_t)snprintf(dir, size, "/tmp/ss-%s-XXXXXX", name), size);
    cr_assert_not_null(mkdtemp(dir), "%s", dir);
}

void scratch_remove(const char *path)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    cr_expect_eq(system(cmd), 0, "%s", cmd);
}

char *scratch_slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    char *text = NULL;
    size_t len = 0;
    FILE *copy = open_memstream(&text, &len);
    cr_assert_not_null(copy);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, n, copy);
    fclose(f);
    fclose(copy);
    return text;
}
