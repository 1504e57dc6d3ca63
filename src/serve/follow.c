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
#include "util/array.h"
#include "util/clock.h"
#include "util/fnv.h"
#include "util/hash.h"

/* Adds a file to a signature: its name, size and modification time. */
static uint64_t hash_file(uint64_t sig, const char *name, const struct stat *st)
{
    return ss_hash_words(ss_fnv1a(sig, name, strlen(name)), (uint64_t)st->st_size,
                         (uint64_t)st->st_mtim.tv_sec * 1000000000ull +
                             (uint64_t)st->st_mtim.tv_nsec);
}

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
            sig += hash_file(SS_FNV1A_INIT, e->d_name, &st);
    closedir(d);
    return sig ? sig : 1;
}

/* A process's trace files as stat sees them: their names, sizes and modification times. */
static uint64_t files_signature(const struct ss_trace_group *g)
{
    uint64_t sig = SS_FNV1A_INIT;
    struct stat st;
    for (size_t i = 0; i < g->npaths; i++)
        if (stat(g->paths[i], &st) == 0)
            sig = hash_file(sig, g->paths[i], &st);
    return sig;
}

/* One reading of a directory: which of its processes are as they were, and what the others'
 * files look like now. */
struct reading {
    const struct ss_followed_dir *d;
    /* (pid, start, 0): d->tally's; (pid, start, 1): d->retired's; (pid, start, 2): wanted's */
    struct ss_key_table index;
    uint8_t *kept, *retired_seen;     /* per d->tally.procs, per d->retired */
    struct ss_followed_files *wanted; /* the processes read again */
    size_t nwanted, wanted_cap;
    int failed; /* out of memory: read everything again next time */
};

/* ss_run_load_selected's question: a process whose files have not changed since they were
 * tallied is not read again; one that aged out stays out. */
static int want(void *ctx, const struct ss_trace_group *g)
{
    struct reading *r = ctx;
    uint64_t sig = files_signature(g);
    if (g->pid) {
        long i = ss_key_table_find(&r->index, g->pid, g->start_ns, 0);
        if (i >= 0 && r->d->files[i].signature == sig) {
            r->kept[i] = 1;
            return 0;
        }
        i = ss_key_table_find(&r->index, g->pid, g->start_ns, 1);
        if (i >= 0 && r->d->retired[i].signature == sig) {
            r->retired_seen[i] = 1;
            return 0;
        }
    }
    size_t at;
    if (SS_ARRAY_GROW(r->wanted, r->wanted_cap, r->nwanted + 1) < 0 ||
        (g->pid && ss_key_table_get(&r->index, g->pid, g->start_ns, 2, r->nwanted, &at) < 0))
        r->failed = 1;
    else
        r->wanted[r->nwanted++] = (struct ss_followed_files){g->pid, g->start_ns, sig};
    return 1;
}

static int reading_start(struct reading *r, const struct ss_followed_dir *d)
{
    memset(r, 0, sizeof *r);
    r->d = d;
    r->kept = calloc(d->tally.nprocs + 1, 1);
    r->retired_seen = calloc(d->nretired + 1, 1);
    if (!r->kept || !r->retired_seen)
        return -ENOMEM;
    size_t at;
    for (size_t i = 0; i < d->tally.nprocs; i++)
        if (ss_key_table_get(&r->index, d->files[i].pid, d->files[i].start_ns, 0, i, &at) < 0)
            return -ENOMEM;
    for (size_t i = 0; i < d->nretired; i++)
        if (ss_key_table_get(&r->index, d->retired[i].pid, d->retired[i].start_ns, 1, i, &at) < 0)
            return -ENOMEM;
    return 0;
}

static void reading_end(struct reading *r)
{
    ss_key_table_free(&r->index);
    free(r->kept);
    free(r->retired_seen);
    free(r->wanted);
}

/* Reads the processes of the directory whose files changed and tallies them, off the lock.
 * Returns 0 with *fresh set, or a negative code with the problem in why; *skipped processes
 * could not be read (their problem in why too). */
static int read_changed(struct reading *r, size_t keep, struct ss_tally *fresh, size_t *skipped,
                        char *why, size_t why_size)
{
    struct ss_cause_rules *rules;
    int rc = ss_cause_rules_new(&rules, why, why_size);
    if (rc < 0)
        return rc;
    struct ss_run *run;
    rc = ss_run_load_selected(r->d->path, keep, want, r, &run, skipped, why, why_size);
    if (rc < 0) {
        ss_cause_rules_free(rules);
        return rc;
    }
    /* The run frees the rules from here on. */
    rc = r->failed ? -ENOMEM : ss_run_classify(run, rules);
    if (rc == 0)
        rc = ss_tally_build(run, fresh);
    if (rc < 0)
        snprintf(why, why_size, "%s: %s", r->d->path, ss_strerror(rc));
    ss_run_free(run);
    return rc;
}

/* The signature of a process just read, as want() saw its files; 0 (read again next time)
 * when it is not among them. */
static uint64_t wanted_signature(const struct reading *r, const struct ss_tally_process *p)
{
    long i = ss_key_table_find(&r->index, p->pid, p->start_ns, 2);
    return i >= 0 ? r->wanted[i].signature : 0;
}

/* The directory's processes after a reading: those kept as they were, then those read again,
 * the ones that ended more than age_out ago retired to their files' signature; and the
 * tallies no longer needed, freed once the merge is in place. Built off the lock. */
struct merged {
    struct ss_tally tally;
    struct ss_followed_files *files, *retired;
    size_t nretired;
    struct ss_tally_process *doomed;
    size_t ndoomed;
};

static void place(struct merged *m, const struct ss_tally_process *p,
                  struct ss_followed_files files, uint64_t now, uint64_t age_out)
{
    /* Ended, and past its age-out: only its files are remembered, so that it stays out. */
    if (p->end_ns && files.signature && p->last_ns + age_out < now) {
        m->retired[m->nretired++] = files;
        m->doomed[m->ndoomed++] = *p;
        return;
    }
    m->files[m->tally.nprocs] = files;
    m->tally.procs[m->tally.nprocs++] = *p;
}

static int merge(const struct reading *r, struct ss_tally *fresh, uint64_t now, uint64_t age_out,
                 struct merged *m)
{
    const struct ss_followed_dir *d = r->d;
    size_t n = d->tally.nprocs + fresh->nprocs + 1;
    memset(m, 0, sizeof *m);
    m->tally.procs = calloc(n, sizeof *m->tally.procs);
    m->files = calloc(n, sizeof *m->files);
    m->retired = calloc(d->nretired + n, sizeof *m->retired);
    m->doomed = calloc(n, sizeof *m->doomed);
    if (!m->tally.procs || !m->files || !m->retired || !m->doomed) {
        free(m->tally.procs);
        free(m->files);
        free(m->retired);
        free(m->doomed);
        return -ENOMEM;
    }
    for (size_t i = 0; i < d->nretired; i++)
        if (r->retired_seen[i])
            m->retired[m->nretired++] = d->retired[i];
    for (size_t i = 0; i < d->tally.nprocs; i++) {
        if (r->kept[i])
            place(m, &d->tally.procs[i], d->files[i], now, age_out);
        else
            m->doomed[m->ndoomed++] = d->tally.procs[i];
    }
    for (size_t i = 0; i < fresh->nprocs; i++) {
        struct ss_tally_process *p = &fresh->procs[i];
        /* Read again: its counters go on from where they were. */
        long before = ss_key_table_find(&r->index, p->pid, p->start_ns, 0);
        if (before >= 0 && ss_tally_hold(p, &d->tally.procs[before]) < 0) {
            free(m->tally.procs);
            free(m->files);
            free(m->retired);
            free(m->doomed);
            return -ENOMEM;
        }
        place(m, p, (struct ss_followed_files){p->pid, p->start_ns, wanted_signature(r, p)}, now,
              age_out);
    }
    return 0;
}

/* Writes a directory's problem on standard error once, and again only when it changes. */
static void tell(struct ss_followed_dir *d)
{
    if (d->problem[0] && strcmp(d->problem, d->told) != 0)
        fprintf(stderr, "stallscope: serve: %s\n", d->problem);
    snprintf(d->told, sizeof d->told, "%s", d->problem);
}

/* Reads what changed in the directory and puts the result in place; returns 0 or a negative
 * code with the problem in why. *skipped processes could not be read. */
static int update(struct ss_follower *f, struct ss_followed_dir *d, size_t *skipped, char *why,
                  size_t why_size)
{
    struct reading r;
    struct ss_tally fresh = {0};
    struct merged m = {0};
    int rc = reading_start(&r, d);
    if (rc < 0)
        snprintf(why, why_size, "%s: out of memory", d->path);
    if (rc == 0)
        rc = read_changed(&r, f->keep_stalls, &fresh, skipped, why, why_size);
    if (rc == 0 && (rc = merge(&r, &fresh, ss_monotonic_ns(), f->age_out_ns, &m)) < 0)
        snprintf(why, why_size, "%s: out of memory", d->path);
    if (rc < 0) {
        ss_tally_free(&fresh);
        reading_end(&r);
        return rc;
    }
    struct ss_tally old = d->tally;
    struct ss_followed_files *old_files = d->files, *old_retired = d->retired;
    pthread_mutex_lock(&f->lock);
    d->tally = m.tally;
    d->files = m.files;
    d->retired = m.retired;
    d->nretired = m.nretired;
    pthread_mutex_unlock(&f->lock);
    /* The tallies merged live on in d->tally: only their old containers go. */
    for (size_t i = 0; i < m.ndoomed; i++)
        ss_tally_process_free(&m.doomed[i]);
    free(m.doomed);
    free(old.procs);
    free(old_files);
    free(old_retired);
    free(fresh.procs);
    reading_end(&r);
    return 0;
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
    size_t skipped = 0;
    int rc = update(f, d, &skipped, why, sizeof why);
    pthread_mutex_lock(&f->lock);
    if (rc == 0) {
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
                      uint64_t age_out_ns, uint64_t period_ns)
{
    memset(f, 0, sizeof *f);
    if (!(f->dirs = calloc(n, sizeof *f->dirs)))
        return -ENOMEM;
    f->ndirs = n;
    f->keep_stalls = keep_stalls;
    f->age_out_ns = age_out_ns;
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
    for (size_t i = 0; i < f->ndirs; i++) {
        ss_tally_free(&f->dirs[i].tally);
        free(f->dirs[i].files);
        free(f->dirs[i].retired);
    }
    free(f->dirs);
    pthread_cond_destroy(&f->wake);
    pthread_mutex_destroy(&f->lock);
    memset(f, 0, sizeof *f);
}
