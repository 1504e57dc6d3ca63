#define _GNU_SOURCE
#include "util/lines.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

/* Trims one line and hands it over unless it is blank or a comment. */
static int one_line(char *s, const char *name, unsigned lineno, ss_line_fn each, void *ctx,
                    char *err, size_t err_size)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    if (!*s || *s == '#')
        return 0;
    char why[512] = "";
    int rc = each(ctx, s, why, sizeof why);
    if (rc < 0)
        snprintf(err, err_size, "%s:%u: %s", name, lineno, why[0] ? why : ss_strerror(rc));
    return rc < 0 ? rc : 0;
}

int ss_text_lines(char *text, const char *name, ss_line_fn each, void *ctx, char *err,
                  size_t err_size)
{
    unsigned lineno = 0;
    for (char *s = text; *s;) {
        char *end = s + strcspn(s, "\n");
        int last = !*end;
        *end = '\0';
        int rc = one_line(s, name, ++lineno, each, ctx, err, err_size);
        if (rc < 0)
            return rc;
        if (last)
            break;
        s = end + 1;
    }
    return 0;
}

int ss_read_lines(const char *path, ss_line_fn each, void *ctx, char *err, size_t err_size)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        int code = -errno;
        snprintf(err, err_size, "%s: %s", path, ss_strerror(code));
        return code;
    }
    char *line = NULL;
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
        if ((rc = one_line(line, path, ++lineno, each, ctx, err, err_size)) < 0)
            break;
    }
    free(line);
    fclose(f);
    return rc;
}
