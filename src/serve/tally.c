#include "serve/tally.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stacks/frame-names.h"

/* Names are kept to 31 bytes, and compared so: a longer one (a program's file name stands for
 * a thread whose name is unknown) is one thread, not one per lookup. */
static size_t thread_of(struct ss_tally_process *t, const char *name)
{
    for (size_t i = 0; i < t->nthreads; i++)
        if (strncmp(t->threads[i].name, name, sizeof t->threads[i].name - 1) == 0)
            return i;
    struct ss_tally_thread *grown = realloc(t->threads, (t->nthreads + 1) * sizeof *grown);
    if (!grown)
        return SIZE_MAX;
    t->threads = grown;
    memset(&grown[t->nthreads], 0, sizeof *grown);
    snprintf(grown[t->nthreads].name, sizeof grown->name, "%s", name);
    return t->nthreads++;
}

static int add_stalls(struct ss_tally_process *t, const char *thread, const char *cause,
                      uint64_t stalls, uint64_t ns, uint64_t max_ns)
{
    size_t th = thread_of(t, thread);
    if (th == SIZE_MAX)
        return -ENOMEM;
    if (max_ns > t->threads[th].stall_max_ns)
        t->threads[th].stall_max_ns = max_ns;
    for (size_t i = 0; i < t->ncauses; i++) {
        struct ss_tally_cause *c = &t->causes[i];
        if (c->thread == th && strcmp(c->cause, cause) == 0) {
            c->stalls += stalls;
            c->ns += ns;
            return 0;
        }
    }
    struct ss_tally_cause *grown = realloc(t->causes, (t->ncauses + 1) * sizeof *grown);
    if (!grown)
        return -ENOMEM;
    t->causes = grown;
    struct ss_tally_cause *c = &grown[t->ncauses++];
    *c = (struct ss_tally_cause){.thread = th, .stalls = stalls, .ns = ns};
    snprintf(c->cause, sizeof c->cause, "%s", cause);
    return 0;
}

static int add_calls(struct ss_tally_process *t, const char *thread, const char *function,
                     const char *category, uint64_t count, uint64_t ns)
{
    size_t th = thread_of(t, thread);
    if (th == SIZE_MAX)
        return -ENOMEM;
    for (size_t i = 0; i < t->ncalls; i++) {
        struct ss_tally_call *c = &t->calls[i];
        if (c->thread == th && c->category == category && strcmp(c->function, function) == 0) {
            c->count += count;
            c->ns += ns;
            return 0;
        }
    }
    struct ss_tally_call *grown = realloc(t->calls, (t->ncalls + 1) * sizeof *grown);
    if (!grown)
        return -ENOMEM;
    t->calls = grown;
    struct ss_tally_call *c = &grown[t->ncalls];
    *c = (struct ss_tally_call){.thread = th, .category = category, .count = count, .ns = ns};
    if (!(c->function = strdup(function)))
        return -ENOMEM;
    t->ncalls++;
    return 0;
}

static int add_loop_threads(struct ss_tally_process *t, const struct ss_process *p)
{
    for (size_t i = 0; i < p->nthreads; i++) {
        const struct ss_thread *th = &p->threads[i];
        if (!th->loop)
            continue;
        size_t k = thread_of(t, ss_thread_label(p, th->tid));
        if (k == SIZE_MAX)
            return -ENOMEM;
        struct ss_tally_thread *to = &t->threads[k];
        to->loop = 1;
        to->iterations += th->iterations;
        to->busy_ns += th->busy_total_ns;
        for (unsigned b = 0; b < SS_HIST_BUCKETS; b++)
            to->hist[b] += th->hist[b];
    }
    return 0;
}

static int add_all_stalls(struct ss_tally_process *t, const struct ss_process *p)
{
    int rc = 0;
    for (size_t i = 0; i < p->nstalls && rc == 0; i++) {
        const struct ss_stall *s = &p->stalls[i];
        struct ss_stall_cause cause;
        ss_stall_cause(p, s, &cause);
        rc = add_stalls(t, ss_thread_label(p, s->tid), cause.parts[0].name, 1, s->duration_ns,
                        s->duration_ns);
    }
    for (size_t i = 0; i < p->summary.nthreads && rc == 0; i++) {
        const struct ss_summary_thread *s = &p->summary.threads[i];
        rc = add_stalls(t, ss_thread_label(p, s->tid), SS_TALLY_CAUSE_NOT_KEPT, s->stalls,
                        s->total_ns, s->max_ns);
    }
    if (rc == 0 && p->drops.stalls_deleted)
        rc = add_stalls(t, SS_TALLY_THREAD_UNKNOWN, SS_TALLY_CAUSE_DELETED, p->drops.stalls_deleted,
                        p->drops.stalls_deleted_ns, p->drops.stalls_deleted_max_ns);
    if (rc == 0 && p->drops.stalls_lost)
        rc = add_stalls(t, SS_TALLY_THREAD_UNKNOWN, SS_TALLY_CAUSE_LOST, p->drops.stalls_lost,
                        p->drops.stalls_lost_ns, p->drops.stalls_lost_max_ns);
    return rc;
}

static int add_process(struct ss_tally_process *t, const struct ss_process *p)
{
    snprintf(t->name, sizeof t->name, "%s", p->exe && p->exe[0] ? ss_basename(p->exe) : "?");
    t->pid = p->pid;
    t->start_ns = p->start_mono_ns;
    t->last_ns = p->last_ns;
    t->end_ns = p->end_ns;
    t->drops = p->drops;
    int rc = add_loop_threads(t, p);
    if (rc == 0)
        rc = add_all_stalls(t, p);
    for (size_t i = 0; i < p->ncalls && rc == 0; i++) {
        const struct ss_call_site *c = &p->calls[i];
        rc = add_calls(t, ss_thread_label(p, c->tid), c->function, c->category, c->count,
                       c->total_ns);
    }
    return rc;
}

int ss_tally_build(const struct ss_run *run, struct ss_tally *out)
{
    memset(out, 0, sizeof *out);
    if (run->nprocs && !(out->procs = calloc(run->nprocs, sizeof *out->procs)))
        return -ENOMEM;
    for (size_t i = 0; i < run->nprocs; i++) {
        out->nprocs++;
        if (add_process(&out->procs[i], &run->procs[i]) < 0) {
            ss_tally_free(out);
            return -ENOMEM;
        }
    }
    return 0;
}

void ss_tally_process_free(struct ss_tally_process *p)
{
    free(p->threads);
    free(p->causes);
    for (size_t k = 0; k < p->ncalls; k++)
        free(p->calls[k].function);
    free(p->calls);
}

void ss_tally_free(struct ss_tally *t)
{
    for (size_t i = 0; i < t->nprocs; i++)
        ss_tally_process_free(&t->procs[i]);
    free(t->procs);
    memset(t, 0, sizeof *t);
}
