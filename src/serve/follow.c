#define _GNU_SOURCE
#include "serve/follow.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "causes/causes.h"
#include "errors.h"
#include "util/fnv.h"
#include "util/hash.h"

/* The directory's traces as stat sees them, in a way that does not depend on readdir's order;
 * never 0. Sets *listed to 0 when the directory cannot be listed. */
static uint64_t signature(const char *path, int *listed)
{
    uint64_t sig = 1;
    DIR *d = opendir(path);
    *listed = d != NULL;
    if (!d)
        return sig;
    struct dirent *e;
    struct stat st;
    while ((e = readdir(d)) != NULL)
        if (ss_is_trace_file_name(e->d_name) && fstatat(dirfd(d), e->d_name, &st, 0) == 0)
            sig += ss_hash_words(
                ss_fnv1a(SS_FNV1A_INIT, e->d_name, strlen(e->d_name)), (uint64_t)st.st_size,
                (uint64_t)st.st_mtim.tv_sec * 1000000000ull + (uint64_t)st.st_mtim.tv_nsec);
    closedir(d);
    return sig ? sig : 1;
}

/* Reads the run and tallies it, off the lock. Returns 0 with *out set, or a negative code with
 * the problem in why; *skipped processes could not be read (their problem in why too). */
static int load(const char *path, size_t keep, struct ss_tally *out, size_t *skipped, char *why,
                size_t why_size)
{
    struct ss_cause_rules *rules;
    int rc = ss_cause_rules_new(&rules, why, why_size);
    if (rc < 0)
        return rc;
    struct ss_run *run;
    rc = ss_run_load_readable(path, keep, &run, skipped, why, why_size);
    if (rc < 0) {
        ss_cause_rules_free(rules);
        return rc;
    }
    /* The run frees the rules from here on. */
    rc = ss_run_classify(run, rules);
    if (rc == 0)
        rc = ss_tally_build(run, out);
    if (rc < 0)
        snprintf(why, why_size, "%s: %s", path, ss_strerror(rc));
    ss_run_free(run);
    return rc;
}

/* Writes a directory's problem on standard error once, and again only when it changes. */
static void tell(struct ss_followed_dir *d)
{
    if (d->problem[0] && strcmp(d->problem, d->told) != 0)
        fprintf(stderr, "stallscope: serve: %s\n", d->problem);
    snprintf(d->told, sizeof d->told, "%s", d->problem);
}

static void refresh(struct ss_follower *f, struct ss_followed_dir *d)
{
    int listed;
    uint64_t sig = signature(d->path, &listed);
    char why[1024] = "";
    if (!listed) {
        snprintf(why, sizeof why, "%s: %s", d->path, strerror(errno));
        pthread_mutex_lock(&f->lock);
        snprintf(d->problem, sizeof d->problem, "%s", why);
        d->unreadable = 1;
        d->signature = 0;
        pthread_mutex_unlock(&f->lock);
        tell(d);
        return;
    }
    if (sig == d->signature)
        return;
    struct ss_tally fresh;
    size_t skipped = 0;
    int rc = load(d->path, f->keep_stalls, &fresh, &skipped, why, sizeof why);
    pthread_mutex_lock(&f->lock);
    if (rc == 0) {
        ss_tally_free(&d->tally);
        d->tally = fresh;
        d->loaded = 1;
        d->signature = sig;
        d->unreadable = 0;
        if (skipped)
            snprintf(d->problem, sizeof d->problem, "%s: %zu process%s could not be read: %s",
                     d->path, skipped, skipped == 1 ? "" : "es", why);
        else
            d->problem[0] = '\0';
    } else {
        /* The last tally stays; the load is tried again a period later. */
        snprintf(d->problem, sizeof d->problem, "%s", why);
        d->unreadable = !d->loaded;
    }
    pthread_mutex_unlock(&f->lock);
    tell(d);
}

static void *follow(void *arg)
{
    struct ss_follower *f = arg;
    pthread_mutex_lock(&f->lock);
    while (!f->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        uint64_t ns = (uint64_t)until.tv_nsec + f->period_ns;
        until.tv_sec += (time_t)(ns / 1000000000ull);
        until.tv_nsec = (long)(ns % 1000000000ull);
        while (!f->stopping && pthread_cond_timedwait(&f->wake, &f->lock, &until) != ETIMEDOUT)
            ;
        if (f->stopping)
            break;
        pthread_mutex_unlock(&f->lock);
        for (size_t i = 0; i < f->ndirs; i++)
            refresh(f, &f->dirs[i]);
        pthread_mutex_lock(&f->lock);
    }
    pthread_mutex_unlock(&f->lock);
    return NULL;
}

int ss_follower_start(struct ss_follower *f, char *const *paths, size_t n, size_t keep_stalls,
                      uint64_t period_ns)
{
    memset(f, 0, sizeof *f);
    if (!(f->dirs = calloc(n, sizeof *f->dirs)))
        return -ENOMEM;
    f->ndirs = n;
    f->keep_stalls = keep_stalls;
    f->period_ns = period_ns;
    for (size_t i = 0; i < n; i++)
        f->dirs[i].path = paths[i];
    pthread_mutex_init(&f->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&f->wake, &attr);
    pthread_condattr_destroy(&attr);
    for (size_t i = 0; i < n; i++)
        refresh(f, &f->dirs[i]);
    int rc = pthread_create(&f->thread, NULL, follow, f);
    if (rc != 0) {
        f->thread = 0;
        ss_follower_stop(f);
        return -rc;
    }
    return 0;
}

void ss_follower_stop(struct ss_follower *f)
{
    if (f->thread) {
        pthread_mutex_lock(&f->lock);
        f->stopping = 1;
        pthread_cond_signal(&f->wake);
        pthread_mutex_unlock(&f->lock);
        pthread_join(f->thread, NULL);
    }
    for (size_t i = 0; i < f->ndirs; i++)
        ss_tally_free(&f->dirs[i].tally);
    free(f->dirs);
    pthread_cond_destroy(&f->wake);
    pthread_mutex_destroy(&f->lock);
    memset(f, 0, sizeof *f);
}
