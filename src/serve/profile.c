#include "serve/profile.h"

#include <errno.h>
#include <sys/stat.h>

#include "causes/causes.h"
#include "errors.h"
#include "export/export.h"
#include "model.h"

/* ss_run_load_selected's question: a process none of whose files changed since the window
 * began has no stall that began in it. */
static int changed_since(void *ctx, const struct ss_trace_group *g)
{
    const struct timespec *since = ctx;
    struct stat st;
    for (size_t i = 0; i < g->npaths; i++)
        if (stat(g->paths[i], &st) == 0 &&
            (st.st_mtim.tv_sec > since->tv_sec ||
             (st.st_mtim.tv_sec == since->tv_sec && st.st_mtim.tv_nsec >= since->tv_nsec)))
            return 1;
    return 0;
}

/* Every directory f follows as one run; NULL with *rc set when none could be read. */
static struct ss_run *load_all(const struct ss_follower *f, struct timespec since, int *rc,
                               char *err, size_t err_size)
{
    struct ss_run *run = NULL;
    *rc = 0;
    for (size_t i = 0; i < f->ndirs; i++) {
        struct ss_run *one;
        size_t skipped;
        int loaded = ss_run_load_selected(f->dirs[i].path, 0, changed_since, &since, &one, &skipped,
                                          err, err_size);
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

int ss_serve_profile(const struct ss_follower *f, uint64_t from_ns, uint64_t to_ns,
                     struct timespec changed_since, FILE *out, char *err, size_t err_size)
{
    int rc;
    struct ss_run *run = load_all(f, changed_since, &rc, err, err_size);
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
