#define _GNU_SOURCE
#include "util/lines.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

int ss_read_lines(const char *path, ss_line_fn each, void *ctx, char *err, size_t err_size)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        int code = -errno;
        snprintf(err, err_size, "%s: %s", path, ss_strerror(code));
        return code;
    }
    char *line = NULL, why[512];
    size_t cap = 0;
    unsigned lineno = 0;
    int rc = 0;
    for (;;) {
        errno = 0;
        if (getline(&line, &cap, f) < 0) {
            if (ferror(f)) {
                rc = errno ? -errno : -EIO;
                snprintf(err, err_size, "%s: %s", path, ss_strerror(rc));
            }
            break;
        }
        lineno++;
        char *s = line;
        while (isspace((unsigned char)*s))
            s++;
        size_t n = strlen(s);
        while (n > 0 && isspace((unsigned char)s[n - 1]))
            s[--n] = '\0';
        if (!*s || *s == '#')
            continue;
        why[0] = '\0';
        if ((rc = each(ctx, s, why, sizeof why)) < 0) {
            snprintf(err, err_size, "%s:%u: %s", path, lineno, why[0] ? why : ss_strerror(rc));
            break;
        }
    }
    free(line);
    fclose(f);
    return rc;
}
