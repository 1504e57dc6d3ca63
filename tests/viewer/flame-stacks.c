/* flame-stacks: the viewer's flame of a run as text, built through the headless API the viewer
 * draws from (ssv_vm_build, ssv_flame_build), so that tests/viewer/flame-agree.sh can compare
 * it with the exports exactly rather than through the rounded percentages on screen.
 *
 *   flame-stacks folded KEEP RUN   the flame of each loop thread (the thread scope), written
 *                                  as `stallscope export --format folded` writes stalled time
 *                                  by stack: the thread's name as the root, threads of the same
 *                                  name added up, microseconds rounded at the end
 *   flame-stacks all KEEP RUN      the flame of all stalls: "# samples N", "# summarised N",
 *                                  then "FRAME;...;FRAME NANOSECONDS" for each frame with time
 *                                  of its own, the root left out
 *
 * KEEP is --keep-stalls: stalls kept in detail per process, 0 for all of them. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flametree.h"
#include "stacks/flame.h"
#include "stacks/frames.h"
#include "util/names.h"
#include "vmodel.h"

static void die(const char *what)
{
    fprintf(stderr, "flame-stacks: %s\n", what);
    exit(2);
}

/* Appends a frame to a line the way the folded format must have it: a ';' would split the
 * frame and a line break the line; the root's spaces go too. */
static void append(char **line, size_t *len, const char *name, int root)
{
    size_t n = strlen(name);
    char *grown = realloc(*line, *len + n + 2);
    if (!grown)
        die("out of memory");
    *line = grown;
    if (*len)
        (*line)[(*len)++] = ';';
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        (*line)[(*len)++] = c == ';' ? ':' : c == '\n' || c == '\r' || (root && c == ' ') ? '_' : c;
    }
    (*line)[*len] = '\0';
}

/* "root;FRAME;...;FRAME" for a node, the flame's own root ("all") left out. */
static char *path_of(const struct ssv_fl_node *n, const char *root)
{
    const struct ssv_fl_node *chain[SS_TRACE_MAX_FRAMES + 4];
    size_t depth = 0;
    for (; n->parent && depth < sizeof chain / sizeof chain[0]; n = n->parent)
        chain[depth++] = n;
    char *line = NULL;
    size_t len = 0;
    if (root)
        append(&line, &len, root[0] ? root : "?", 1);
    while (depth > 0)
        append(&line, &len, chain[--depth]->name, 0);
    return line ? line : strdup("");
}

/* Lines and their nanoseconds, added up by line. */
struct lines {
    struct ss_names names;
    uint64_t *ns;
    size_t cap;
};

static void add(struct lines *l, char *line, uint64_t ns)
{
    long id = ss_names_add(&l->names, line);
    if (id < 0)
        die("out of memory");
    if ((size_t)id >= l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        uint64_t *grown = realloc(l->ns, cap * sizeof *grown);
        if (!grown)
            die("out of memory");
        memset(grown + l->cap, 0, (cap - l->cap) * sizeof *grown);
        l->ns = grown;
        l->cap = cap;
    }
    l->ns[id] += ns;
    free(line);
}

/* Every frame with time of its own, depth first. */
static void walk(struct lines *l, const struct ssv_fl_node *n, const char *root)
{
    if (n->self)
        add(l, path_of(n, root), n->self);
    for (const struct ssv_fl_node *c = n->child; c; c = c->next)
        walk(l, c, root);
}

static void build(struct ssv_flame *f, struct ssv_vm *vm, enum ssv_vm_scope_kind kind, uint32_t pid,
                  uint32_t tid)
{
    struct ssv_vm_scope scope = {kind, pid, tid, 0};
    if (ssv_flame_build(f, vm, &scope) < 0)
        die("out of memory");
}

static int seen(const uint32_t *tids, size_t n, uint32_t tid)
{
    for (size_t i = 0; i < n; i++)
        if (tids[i] == tid)
            return 1;
    return 0;
}

/* The flame of each thread with stalls, kept or summarised, under the thread's name. */
static void by_thread(struct lines *l, struct ssv_vm *vm)
{
    for (size_t i = 0; i < vm->run->nprocs; i++) {
        const struct ss_process *p = &vm->run->procs[i];
        size_t n = p->nstalls + p->summary.nstacks, ntids = 0;
        uint32_t *tids = malloc((n ? n : 1) * sizeof *tids);
        if (!tids)
            die("out of memory");
        for (size_t k = 0; k < n; k++) {
            uint32_t tid =
                k < p->nstalls ? p->stalls[k].tid : p->summary.stacks[k - p->nstalls].tid;
            if (seen(tids, ntids, tid))
                continue;
            tids[ntids++] = tid;
            const struct ss_thread *t = ss_process_thread(p, tid);
            struct ssv_flame f;
            build(&f, vm, SSV_VM_SCOPE_THREAD, p->pid, tid);
            walk(l, f.root, t && t->name[0] ? t->name : ss_basename(p->exe));
            ssv_flame_free(&f);
        }
        free(tids);
    }
}

static const struct lines *sorting;

static int by_line(const void *a, const void *b)
{
    return strcmp(sorting->names.names[*(const size_t *)a],
                  sorting->names.names[*(const size_t *)b]);
}

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[1], "folded") && strcmp(argv[1], "all")))
        die("usage: flame-stacks folded|all KEEP RUN");
    int folded = !strcmp(argv[1], "folded");
    char *end;
    errno = 0;
    unsigned long long keep = strtoull(argv[2], &end, 10);
    if (errno || *end || end == argv[2])
        die("KEEP: expected a number");
    struct ss_run *run;
    char err[512];
    if (ss_run_load_keep(argv[3], (size_t)keep, &run, err, sizeof err) < 0)
        die(err);
    struct ssv_vm vm;
    if (ssv_vm_build(&vm, run) < 0)
        die("out of memory");
    struct lines l = {.ns = NULL, .cap = 0};
    ss_names_init(&l.names);
    if (folded) {
        by_thread(&l, &vm);
    } else {
        struct ssv_flame f;
        build(&f, &vm, SSV_VM_SCOPE_ALL, 0, 0);
        printf("# samples %llu\n# summarised %llu\n", (unsigned long long)f.nsamples,
               (unsigned long long)f.summarised);
        walk(&l, f.root, NULL);
        ssv_flame_free(&f);
    }
    size_t *order = malloc((l.names.count + 1) * sizeof *order);
    if (!order)
        die("out of memory");
    for (size_t i = 0; i < l.names.count; i++)
        order[i] = i;
    sorting = &l;
    qsort(order, l.names.count, sizeof *order, by_line);
    for (size_t i = 0; i < l.names.count; i++) {
        uint64_t ns = l.ns[order[i]], us = (ns + 500) / 1000;
        if (!folded)
            printf("%s %llu\n", l.names.names[order[i]], (unsigned long long)ns);
        else if (us)
            printf("%s %llu\n", l.names.names[order[i]], (unsigned long long)us);
    }
    free(order);
    free(l.ns);
    ss_names_free(&l.names);
    ssv_vm_free(&vm);
    return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 2;
}
