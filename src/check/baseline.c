/* baseline: the fingerprints of findings accepted earlier, read from a file `check --baseline`
 * names and written by `check --write-baseline`. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check/check.h"
#include "errors.h"
#include "util/array.h"
#include "util/lines.h"

/* One fingerprint line of a baseline file. */
static int baseline_line(void *ctx, char *line, char *why, size_t why_size)
{
    struct ss_baseline *b = ctx;
    size_t len = strspn(line, "0123456789abcdef");
    if (len != SS_FINGERPRINT_LEN || (line[len] && !isspace((unsigned char)line[len]))) {
        snprintf(why, why_size, "expected a fingerprint of %d hex digits", SS_FINGERPRINT_LEN);
        return -EINVAL;
    }
    if (SS_ARRAY_GROW(b->fingerprints, b->capacity, b->count + 1) < 0)
        return -ENOMEM;
    memcpy(b->fingerprints[b->count], line, SS_FINGERPRINT_LEN);
    b->fingerprints[b->count++][SS_FINGERPRINT_LEN] = '\0';
    return 0;
}

int ss_baseline_load(const char *path, struct ss_baseline *b, char *err, size_t err_size)
{
    memset(b, 0, sizeof *b);
    int rc = ss_read_lines(path, baseline_line, b, err, err_size);
    if (rc < 0)
        ss_baseline_free(b);
    return rc;
}

void ss_baseline_free(struct ss_baseline *b)
{
    free(b->fingerprints);
    memset(b, 0, sizeof *b);
}

int ss_baseline_write(const struct ss_check_result *res, FILE *out)
{
    fprintf(out,
            "# stallscope baseline of %s: findings accepted as they are.\n"
            "# One fingerprint a line; the rest of the line is a reminder.\n",
            res->run_path);
    for (size_t i = 0; i < res->nfindings; i++) {
        const struct ss_finding *f = &res->findings[i];
        if (f->state != SS_FINDING_ALLOWED)
            fprintf(out, "%s %s: %s\n", f->fingerprint, ss_rule_name(f->rule), f->title);
    }
    return ss_write_status(out);
}

int ss_baseline_has(const struct ss_baseline *b, const char *fp)
{
    for (size_t i = 0; b && i < b->count; i++)
        if (strcmp(b->fingerprints[i], fp) == 0)
            return 1;
    return 0;
}
