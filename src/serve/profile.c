#include "serve/profile.h"

#include <errno.h>

#include "causes/causes.h"
#include "errors.h"
#include "export/export.h"
#include "model.h"

/* Every directory f follows as one run; NULL with *rc set when none could be read. */
static struct ss_run *load_all(const struct ss_follower *f, int *rc, char *err, size_t err_size)
{
    struct ss_run *run = NULL;
    *rc = 0;
    for (size_t i = 0; i < f->ndirs; i++) {
        struct ss_run *one;
        size_t skipped;
        int loaded =
            ss_run_load_readable(f->dirs[i].path, f->keep_stalls, &one, &skipped, err, err_size);
        if (loaded == -ENOMEM) {
            *rc = loaded;
            break;
        }
        if (loaded < 0)
            continue;
        if (!run) {
            run = one;
        } else if ((*rc = ss_run_absorb(run, one)) < 0) {
            ss_run_free(one);
            break;
        }
    }
    if (*rc < 0) {
        ss_run_free(run);
        return NULL;
    }
    if (!run) {
        *rc = -ENOENT;
        snprintf(err, err_size, "no run directory can be read");
    }
    return run;
}

int ss_serve_profile(const struct ss_follower *f, uint64_t from_ns, uint64_t to_ns, FILE *out,
                     char *err, size_t err_size)
{
    int rc;
    struct ss_run *run = load_all(f, &rc, err, err_size);
    if (!run)
        return rc;
    err[0] = '\0'; /* processes that could not be read are the follower's to tell */
    struct ss_cause_rules *rules;
    rc = ss_cause_rules_new(&rules, err, err_size);
    /* The run frees the rules from here on. */
    if (rc == 0)
        rc = ss_run_classify(run, rules);
    if (rc == 0)
        rc = ss_export_pprof_window(run, out, from_ns, to_ns);
    if (rc < 0 && !err[0])
        snprintf(err, err_size, "%s", ss_strerror(rc));
    ss_run_free(run);
    return rc;
}
