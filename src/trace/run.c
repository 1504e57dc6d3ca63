/* run: a run loaded whole: one trace file, or every trace file of a run directory in name
 * order, as processes sorted by start; its freeing; and the lazy symbolization of a process,
 * with the JIT names found beside its trace or where runtimes write them. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "causes/causes.h"
#include "errors.h"
#include "trace/loader.h"

int ss_is_trace_file_name(const char *name)
{
    size_t n = strlen(name), pre = strlen(SS_TRACE_FILE_PREFIX), suf = strlen(SS_TRACE_FILE_SUFFIX);
    return n > pre + suf && strncmp(name, SS_TRACE_FILE_PREFIX, pre) == 0 &&
           strcmp(name + n - suf, SS_TRACE_FILE_SUFFIX) == 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int cmp_process(const void *a, const void *b)
{
    const struct ss_process *x = a, *y = b;
    if (x->start_mono_ns != y->start_mono_ns)
        return x->start_mono_ns < y->start_mono_ns ? -1 : 1;
    return x->pid < y->pid ? -1 : x->pid > y->pid;
}

static int cmp_stall(const void *a, const void *b)
{
    const struct ss_stall *x = a, *y = b;
    if (x->start_ns != y->start_ns)
        return x->start_ns < y->start_ns ? -1 : 1;
    return x->tid < y->tid ? -1 : x->tid > y->tid;
}

/* A trace file of a run directory and the process it is of. */
struct dir_file {
    char *path;
    uint32_t pid, index;
    uint64_t start;
    int known; /* pid, start and index were read */
};

/* The files of one process together, its rotated ones in order; each file in name order. */
static int cmp_dir_file(const void *a, const void *b)
{
    const struct dir_file *x = a, *y = b;
    if (x->known != y->known)
        return x->known ? -1 : 1;
    if (x->known && (x->pid != y->pid || x->start != y->start))
        return x->pid != y->pid ? (x->pid < y->pid ? -1 : 1) : (x->start < y->start ? -1 : 1);
    if (x->known && x->index != y->index)
        return x->index < y->index ? -1 : 1;
    return strcmp(x->path, y->path);
}

static int same_process(const struct dir_file *x, const struct dir_file *y)
{
    return x->known && y->known && x->pid == y->pid && x->start == y->start;
}

/* What load_dir reads of a directory: want NULL for every process. */
struct selection {
    int (*want)(void *ctx, const struct ss_trace_group *group);
    void *ctx;
};

/* Every trace file of the directory, the files of one rotated trace read as one process.
 * skipped NULL: a process that cannot be read fails the load; else it is left out, counted in
 * *skipped, and the first one's problem is in err. */
static int load_dir(struct ss_run *run, const char *path, size_t keep_stalls,
                    const struct selection *only, size_t *skipped, char *err, size_t err_size)
{
    struct dirent **names;
    int n = scandir(path, &names, NULL, by_name);
    if (n < 0) {
        snprintf(err, err_size, "%s: %s", path, strerror(errno));
        return -EIO;
    }
    struct dir_file *files = calloc((size_t)n + 1, sizeof *files);
    char **paths = calloc((size_t)n + 1, sizeof *paths);
    size_t nfiles = 0;
    int rc = files && paths ? 0 : -ENOMEM;
    if (rc < 0)
        snprintf(err, err_size, "out of memory");
    for (int i = 0; i < n; i++) {
        if (rc == 0 && ss_is_trace_file_name(names[i]->d_name)) {
            struct dir_file *f = &files[nfiles];
            if (asprintf(&f->path, "%s/%s", path, names[i]->d_name) < 0) {
                f->path = NULL;
                snprintf(err, err_size, "out of memory");
                rc = -ENOMEM;
            } else {
                f->known = trace_identify(f->path, &f->pid, &f->start, &f->index) == 0;
                nfiles++;
            }
        }
        free(names[i]);
    }
    free(names);
    if (rc == 0)
        qsort(files, nfiles, sizeof *files, cmp_dir_file);
    for (size_t i = 0, next; rc == 0 && i < nfiles; i = next) {
        for (next = i; next < nfiles && (next == i || same_process(&files[i], &files[next]));
             next++)
            paths[next - i] = files[next].path;
        struct ss_trace_group group = {files[i].known ? files[i].pid : 0,
                                       files[i].known ? files[i].start : 0, paths, next - i};
        if (only && only->want && !only->want(only->ctx, &group))
            continue;
        char why[1024];
        rc = trace_load_files(run, paths, next - i, 1, keep_stalls, why, sizeof why);
        if (rc < 0 && rc != -ENOMEM && skipped) {
            /* The process that failed is the last one the loader added. */
            trace_free_process(&run->procs[--run->nprocs]);
            if ((*skipped)++ == 0)
                snprintf(err, err_size, "%s", why);
            rc = 0;
        } else if (rc < 0) {
            snprintf(err, err_size, "%s", why);
        }
    }
    for (size_t i = 0; i < nfiles; i++)
        free(files[i].path);
    free(files);
    free(paths);
    return rc;
}

int ss_run_load(const char *path, struct ss_run **out, char *err, size_t err_size)
{
    return ss_run_load_keep(path, SS_KEEP_STALLS_DEFAULT, out, err, err_size);
}

/* Sorts what was loaded into *out, or frees it when rc tells a failure. */
static int finish_run(struct ss_run *run, int rc, struct ss_run **out)
{
    if (rc < 0) {
        ss_run_free(run);
        return rc;
    }
    /* An empty run (a directory being followed) has no array to sort. */
    if (run->nprocs > 1)
        qsort(run->procs, run->nprocs, sizeof *run->procs, cmp_process);
    for (size_t i = 0; i < run->nprocs; i++)
        if (run->procs[i].nstalls > 1)
            qsort(run->procs[i].stalls, run->procs[i].nstalls, sizeof(struct ss_stall), cmp_stall);
    *out = run;
    return 0;
}

int ss_run_load_keep(const char *path, size_t keep_stalls, struct ss_run **out, char *err,
                     size_t err_size)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        snprintf(err, err_size, "%s: %s", path, strerror(errno));
        return errno == ENOENT ? -ENOENT : -EIO;
    }
    struct ss_run *run = calloc(1, sizeof *run);
    if (!run || !(run->path = strdup(path)) || !(run->cache = ss_elf_cache_new())) {
        ss_run_free(run);
        snprintf(err, err_size, "out of memory");
        return -ENOMEM;
    }
    int rc = 0;
    if (S_ISDIR(st.st_mode)) {
        rc = load_dir(run, path, keep_stalls, NULL, NULL, err, err_size);
        if (rc == 0 && run->nprocs == 0) {
            snprintf(err, err_size,
                     "%s: no trace files (" SS_TRACE_FILE_PREFIX "*" SS_TRACE_FILE_SUFFIX
                     ") in this directory",
                     path);
            rc = SS_ENOTRACE;
        }
    } else {
        char *one = (char *)path;
        rc = trace_load_files(run, &one, 1, 0, keep_stalls, err, err_size);
    }
    return finish_run(run, rc, out);
}

int ss_run_load_readable(const char *dir, size_t keep_stalls, struct ss_run **out, size_t *skipped,
                         char *err, size_t err_size)
{
    return ss_run_load_selected(dir, keep_stalls, NULL, NULL, out, skipped, err, err_size);
}

int ss_run_load_selected(const char *dir, size_t keep_stalls,
                         int (*want)(void *ctx, const struct ss_trace_group *group), void *ctx,
                         struct ss_run **out, size_t *skipped, char *err, size_t err_size)
{
    *skipped = 0;
    err[0] = '\0';
    struct ss_run *run = calloc(1, sizeof *run);
    if (!run || !(run->path = strdup(dir)) || !(run->cache = ss_elf_cache_new())) {
        ss_run_free(run);
        snprintf(err, err_size, "out of memory");
        return -ENOMEM;
    }
    struct selection only = {want, ctx};
    return finish_run(run, load_dir(run, dir, keep_stalls, &only, skipped, err, err_size), out);
}

void trace_free_process(struct ss_process *p)
{
    free(p->file);
    free(p->exe);
    free(p->command);
    free(p->threads);
    for (size_t i = 0; i < p->nstalls; i++)
        trace_free_stall(&p->stalls[i]);
    free(p->stalls);
    for (size_t i = 0; i < p->nloops; i++)
        trace_free_stall(&p->loops[i].last);
    free(p->loops);
    free(p->summary.threads);
    free(p->summary.calls);
    free(p->summary.stacks);
    ss_interner_free(&p->strings);
    for (size_t i = 0; i < p->nstacks; i++) {
        free(p->stacks[i]->addrs);
        free(p->stacks[i]->frames);
        free(p->stacks[i]);
    }
    free(p->stacks);
    free(p->pyframes);
    for (size_t i = 0; i < p->nmodules; i++)
        free(p->modules[i].path);
    free(p->modules);
    for (size_t i = 0; i < p->ncalls; i++) {
        free(p->calls[i].function);
        free(p->calls[i].detail);
    }
    free(p->calls);
    for (size_t i = 0; i < p->nnotes; i++)
        free(p->notes[i]);
    free(p->notes);
    if (p->sym)
        ss_symbolizer_free(p->sym);
}

void ss_run_free(struct ss_run *run)
{
    if (!run)
        return;
    for (size_t i = 0; i < run->nprocs; i++)
        trace_free_process(&run->procs[i]);
    free(run->procs);
    if (run->cache)
        ss_elf_cache_free(run->cache);
    ss_cause_rules_free(run->causes);
    free(run->path);
    free(run);
}

int ss_run_absorb(struct ss_run *into, struct ss_run *from)
{
    if (from->nprocs) {
        struct ss_process *procs =
            realloc(into->procs, (into->nprocs + from->nprocs) * sizeof *procs);
        if (!procs)
            return -ENOMEM;
        memcpy(procs + into->nprocs, from->procs, from->nprocs * sizeof *procs);
        into->procs = procs;
        into->nprocs += from->nprocs;
        from->nprocs = 0;
    }
    ss_run_free(from);
    return 0;
}

__attribute__((format(printf, 2, 3))) static void add_note(struct ss_process *p, const char *fmt,
                                                           ...)
{
    char **notes = realloc(p->notes, (p->nnotes + 1) * sizeof *notes);
    if (!notes)
        return;
    p->notes = notes;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&p->notes[p->nnotes], fmt, ap) >= 0)
        p->nnotes++;
    va_end(ap);
}

/* JIT names come from a perf map and a jitdump file, each looked for beside the trace first
 * (stallscope run keeps copies there), then in /tmp where runtimes write them by default. */
static int add_jit_file(struct ss_process *p, const char *dir, const char *prefix,
                        const char *suffix, int (*add)(struct ss_symbolizer *, const char *))
{
    char name[64], *path = NULL;
    snprintf(name, sizeof name, "%s%u%s", prefix, p->pid, suffix);
    int rc = asprintf(&path, "%s/%s", dir, name) >= 0 ? add(p->sym, path) : (path = NULL, -ENOMEM);
    if (rc == -ENOENT) {
        free(path);
        rc = asprintf(&path, "/tmp/%s", name) >= 0 ? add(p->sym, path) : (path = NULL, -ENOMEM);
    }
    /* A JIT file left by an earlier process with the same pid is not read: the report says so. */
    if (rc == -ESTALE)
        add_note(p,
                 "ignored %s: last written before process %u began (left by an earlier process "
                 "with the same pid)",
                 path, p->pid);
    free(path);
    return rc;
}

static void add_jit_names(struct ss_process *p)
{
    struct stat st;
    if (stat(p->file, &st) == 0)
        ss_symbolizer_trust_owner(p->sym, st.st_uid);
    ss_symbolizer_process_started(p->sym, p->start_real_ns);
    char *copy = strdup(p->file);
    if (!copy)
        return;
    const char *dir = dirname(copy);
    int map = add_jit_file(p, dir, "perf-", ".map", ss_symbolizer_add_perf_map);
    int dump = add_jit_file(p, dir, "jit-", ".dump", ss_symbolizer_add_jitdump);
    free(copy);
    /* Node.js started by hand (a process attach found running) writes no JIT names. */
    const char *exe = p->exe ? strrchr(p->exe, '/') : NULL;
    if (map < 0 && dump < 0 && exe && strncmp(exe + 1, "node", 4) == 0)
        add_note(p,
                 "no perf map of process %u: its JavaScript frames are unnamed addresses; start "
                 "node with --perf-basic-prof-only-functions (stallscope run adds it) to have "
                 "them named",
                 p->pid);
}

static int by_id_key(const void *key, const void *elem)
{
    uint32_t id = *(const uint32_t *)key, other = ((const struct ss_pyframe *)elem)->id;
    return id < other ? -1 : id > other;
}

const struct ss_pyframe *ss_process_pyframe(const struct ss_process *p, uint64_t addr)
{
    uint32_t id = (uint32_t)addr;
    return bsearch(&id, p->pyframes, p->npyframes, sizeof *p->pyframes, by_id_key);
}

/* A Python frame is named by its PYFRAME record, and stays unnamed when the trace has none. */
static struct ss_frame python_frame(const struct ss_process *p, uint64_t addr)
{
    const struct ss_pyframe *f = ss_process_pyframe(p, addr);
    return (struct ss_frame){.addr = addr,
                             .symbol = f ? f->function : NULL,
                             .offset = 0,
                             .kind = SS_FRAME_INTERPRETER,
                             .file = f ? f->file : NULL,
                             .line = f ? f->line : 0};
}

void ss_process_symbolize(struct ss_run *run, struct ss_process *p)
{
    if (p->symbolized)
        return;
    p->symbolized = 1;
    if (!(p->sym = ss_symbolizer_new(run->cache)))
        return;
    for (size_t i = 0; i < p->nmodules; i++) {
        struct ss_module *m = &p->modules[i];
        ss_symbolizer_add_module(p->sym, m->path, m->bias, m->lo, m->hi, m->build_id,
                                 m->build_id_len);
    }
    add_jit_names(p);
    for (size_t i = 0; i < p->nstacks; i++) {
        struct ss_stack *s = p->stacks[i];
        if (!(s->frames = calloc(s->nframes, sizeof *s->frames)))
            continue;
        for (uint32_t f = 0; f < s->nframes; f++) {
            if (ss_is_pyframe_addr(s->addrs[f])) {
                s->frames[f] = python_frame(p, s->addrs[f]);
                continue;
            }
            struct ss_frame_info info;
            ss_symbolize(p->sym, s->addrs[f], &info);
            s->frames[f] = (struct ss_frame){s->addrs[f], info.symbol, info.module, info.offset,
                                             info.kind,   info.file,   info.line};
        }
    }
}
