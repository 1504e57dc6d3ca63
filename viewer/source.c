#define _GNU_SOURCE
#include "source.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "causes/causes.h"
#include "common/trace-format.h"
#include "errors.h"
#include "stacks/frames.h"
#include "util/fnv.h"
#include "util/hash.h"

struct ss_cause_rules *ssv_cause_rules(const char *causes_file, char *err, size_t err_size)
{
    struct ss_cause_rules *rules;
    if (ss_cause_rules_new(&rules, err, err_size) < 0)
        return NULL;
    char why[512];
    if (causes_file && ss_cause_rules_add_file(rules, causes_file, why, sizeof why) < 0) {
        snprintf(err, err_size, "--causes: %s", why);
        ss_cause_rules_free(rules);
        return NULL;
    }
    return rules;
}

struct ssv_snapshot *ssv_snapshot_load(const char *path, size_t keep_stalls,
                                       const char *causes_file, const struct ssv_vm_scope *scope,
                                       char *err, size_t err_size, int *code)
{
    /* The rules first: a mistake in them is told before a long load. */
    struct ss_cause_rules *rules = ssv_cause_rules(causes_file, err, err_size);
    if (!rules) {
        *code = -EINVAL;
        return NULL;
    }
    struct ss_run *run;
    *code = ss_run_load_keep(path, keep_stalls, &run, err, err_size);
    if (*code < 0) {
        ss_cause_rules_free(rules);
        return NULL;
    }
    /* Before the model names the frames: the kinds are told by the runtime's own frames. */
    struct ssv_snapshot *s = ss_run_classify(run, rules) == 0 ? calloc(1, sizeof *s) : NULL;
    if (!s) {
        ss_run_free(run);
    } else if (ssv_vm_build(&s->vm, run) < 0) {
        free(s);
        s = NULL;
    } else if (ssv_flame_build(&s->flame, &s->vm, scope) < 0) {
        ssv_vm_free(&s->vm);
        free(s);
        s = NULL;
    }
    if (!s) {
        snprintf(err, err_size, "%s: out of memory", path);
        *code = -ENOMEM;
    }
    return s;
}

void ssv_snapshot_free(struct ssv_snapshot *s)
{
    if (!s)
        return;
    ssv_flame_free(&s->flame);
    ssv_vm_free(&s->vm);
    free(s);
}

int ssv_src_open(struct ssv_source *s, const char *path, char *err, size_t err_size)
{
    memset(s, 0, sizeof *s);
    s->keep_stalls = SS_KEEP_STALLS_DEFAULT;
    struct stat st;
    if (stat(path, &st) < 0) {
        snprintf(err, err_size, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (!(s->path = strdup(path))) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    s->is_dir = S_ISDIR(st.st_mode);
    return 0;
}

static void forget_files(struct ssv_source *s)
{
    for (size_t i = 0; i < s->nfiles; i++)
        free(s->files[i].name);
    free(s->files);
    s->files = NULL;
    s->nfiles = 0;
}

void ssv_src_close(struct ssv_source *s)
{
    if (s->busy) {
        pthread_join(s->thread, NULL);
        s->busy = 0;
        ssv_snapshot_free(s->result);
    }
    forget_files(s);
    free(s->path);
    memset(s, 0, sizeof *s);
}

/* readdir's order is arbitrary, so files add to the signature in a way that does not depend on
 * it: each file's values are mixed, and the results summed. */
static void note_file(struct ssv_source *s, const char *name, const struct stat *st, uint64_t *sig)
{
    uint64_t h =
        ss_hash_words(ss_fnv1a(SS_FNV1A_INIT, name, strlen(name)), (uint64_t)st->st_size,
                      (uint64_t)st->st_mtim.tv_sec * 1000000000ull + (uint64_t)st->st_mtim.tv_nsec);
    *sig += h;
    struct ssv_src_file *f = realloc(s->files, (s->nfiles + 1) * sizeof *f);
    if (!f)
        return;
    s->files = f;
    if ((f[s->nfiles].name = strdup(name))) {
        f[s->nfiles].mtime = st->st_mtim;
        s->nfiles++;
    }
}

int ssv_src_changed(struct ssv_source *s)
{
    uint64_t sig = 1;
    struct stat st;
    forget_files(s);
    if (!s->is_dir) {
        if (stat(s->path, &st) == 0)
            note_file(s, ss_basename(s->path), &st, &sig);
    } else {
        DIR *d = opendir(s->path);
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL)
            if (ss_is_trace_file_name(e->d_name) && fstatat(dirfd(d), e->d_name, &st, 0) == 0)
                note_file(s, e->d_name, &st, &sig);
        if (d)
            closedir(d);
    }
    s->seen = sig;
    return s->seen != s->loaded;
}

static void *loader(void *arg)
{
    struct ssv_source *s = arg;
    s->result = ssv_snapshot_load(s->path, s->keep_stalls, s->causes_file, &s->scope, s->err,
                                  sizeof s->err, &s->code);
    atomic_store(&s->done, 1);
    return NULL;
}

int ssv_src_load_start(struct ssv_source *s, const struct ssv_vm_scope *scope)
{
    if (s->busy)
        return -1;
    s->scope = *scope;
    s->loaded = s->seen;
    s->result = NULL;
    s->err[0] = '\0';
    atomic_store(&s->done, 0);
    /* Signals (a resize, ^C) belong to the interface thread, which restores the terminal. */
    sigset_t block, old;
    sigemptyset(&block);
    int async[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH, SIGTSTP, SIGCONT};
    for (size_t i = 0; i < sizeof async / sizeof async[0]; i++)
        sigaddset(&block, async[i]);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int rc = pthread_create(&s->thread, NULL, loader, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        s->loaded = 0;
        return -1;
    }
    s->busy = 1;
    return 0;
}

int ssv_src_load_poll(struct ssv_source *s, struct ssv_snapshot **out)
{
    if (!s->busy || !atomic_load(&s->done))
        return 0;
    pthread_join(s->thread, NULL);
    s->busy = 0;
    *out = s->result;
    s->result = NULL;
    return 1;
}

static const struct ssv_src_file *file_of(const struct ssv_source *s, const struct ss_process *p)
{
    const char *name = ss_basename(p->file);
    for (size_t i = 0; i < s->nfiles; i++)
        if (strcmp(s->files[i].name, name) == 0)
            return &s->files[i];
    return NULL;
}

enum ssv_src_state ssv_src_state(const struct ssv_source *s, const struct ssv_vm *vm)
{
    if (!vm || !vm->run)
        return SSV_SRC_WAITING;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int ended = 1;
    for (size_t i = 0; i < vm->run->nprocs; i++) {
        const struct ss_process *p = &vm->run->procs[i];
        if (p->end_ns)
            continue;
        ended = 0;
        const struct ssv_src_file *f = file_of(s, p);
        if (f && now.tv_sec - f->mtime.tv_sec < SSV_SRC_LIVE_WINDOW_S)
            return SSV_SRC_LIVE;
    }
    return ended ? SSV_SRC_FINISHED : SSV_SRC_QUIET;
}

/* Whether name is a trace file of pid: stallscope-PID.trace, or stallscope-PID.N.trace once
 * rotation (max_size) has moved on from the first. */
static int trace_file_of(const char *name, unsigned long pid)
{
    char prefix[64];
    int n = snprintf(prefix, sizeof prefix, SS_TRACE_FILE_PREFIX "%lu", pid);
    size_t len = strlen(name), suffix = strlen(SS_TRACE_FILE_SUFFIX);
    if (strncmp(name, prefix, (size_t)n) != 0 || len < (size_t)n + suffix ||
        strcmp(name + len - suffix, SS_TRACE_FILE_SUFFIX) != 0)
        return 0;
    const char *rest = name + n;
    if (rest == name + len - suffix)
        return 1;
    if (*rest++ != '.' || rest == name + len - suffix)
        return 0;
    for (; rest < name + len - suffix; rest++)
        if (*rest < '0' || *rest > '9')
            return 0;
    return 1;
}

int ssv_src_find_pid(const char *dir, unsigned long pid, char *err, size_t err_size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/" SS_TRACE_FILE_PREFIX "%lu" SS_TRACE_FILE_SUFFIX, dir, pid);
    if (access(path, R_OK) == 0)
        return 0;
    int e = errno;
    DIR *d = opendir(dir);
    struct dirent *entry;
    int found = 0;
    while (d && !found && (entry = readdir(d)))
        found = trace_file_of(entry->d_name, pid);
    if (d)
        closedir(d);
    if (found)
        return 0;
    struct stat st;
    if (stat(dir, &st) < 0)
        snprintf(err, err_size, "--pid %lu: no run directory %s (%s); name one with -d DIR", pid,
                 dir, strerror(errno));
    else
        snprintf(err, err_size, "--pid %lu: no trace of that process in %s (%s: %s)", pid, dir,
                 path, strerror(e));
    return -1;
}
