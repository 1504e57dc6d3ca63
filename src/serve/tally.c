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

static int note_in_progress(struct ss_tally_process *t, const char *thread, uint64_t ns)
{
    size_t th = thread_of(t, thread);
    if (th == SIZE_MAX)
        return -ENOMEM;
    if (ns > t->threads[th].stalled_now_ns)
        t->threads[th].stalled_now_ns = ns;
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
        /* Counted once it has ended, when its cause is settled: a counter never takes back. */
        if (s->in_progress) {
            rc = note_in_progress(t, ss_thread_label(p, s->tid), s->duration_ns);
            continue;
        }
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

static void hold_max(uint64_t *now, uint64_t before)
{
    if (*now < before)
        *now = before;
}

/* Whether a cause stands for stalls whose own cause is not known, which other series' stalls
 * move into (summarised, or in a file rotation deleted). */
static int residual(const char *cause)
{
    return strcmp(cause, SS_TALLY_CAUSE_NOT_KEPT) == 0 ||
           strcmp(cause, SS_TALLY_CAUSE_DELETED) == 0;
}

/* Stalls counted by the series of p, and their time. */
static void stall_sums(const struct ss_tally_process *p, uint64_t *stalls, uint64_t *ns)
{
    *stalls = *ns = 0;
    for (size_t i = 0; i < p->ncauses; i++) {
        *stalls += p->causes[i].stalls;
        *ns += p->causes[i].ns;
    }
}

/* Takes `excess` off the residual series of p, none below what it showed before. */
static void take_off_residual(struct ss_tally_process *p, const struct ss_tally_process *before,
                              uint64_t excess, int seconds)
{
    for (size_t i = 0; i < p->ncauses && excess; i++) {
        struct ss_tally_cause *c = &p->causes[i];
        if (!residual(c->cause))
            continue;
        uint64_t floor = 0;
        for (size_t k = 0; k < before->ncauses; k++)
            if (strcmp(before->causes[k].cause, c->cause) == 0 &&
                strcmp(before->threads[before->causes[k].thread].name,
                       p->threads[c->thread].name) == 0)
                floor = seconds ? before->causes[k].ns : before->causes[k].stalls;
        uint64_t *v = seconds ? &c->ns : &c->stalls;
        uint64_t off = *v - floor < excess ? *v - floor : excess;
        *v -= off;
        excess -= off;
    }
}

int ss_tally_hold(struct ss_tally_process *p, const struct ss_tally_process *before)
{
    uint64_t stalls, ns;
    stall_sums(p, &stalls, &ns);
    for (size_t i = 0; i < before->nthreads; i++) {
        const struct ss_tally_thread *b = &before->threads[i];
        size_t k = thread_of(p, b->name);
        if (k == SIZE_MAX)
            return -ENOMEM;
        struct ss_tally_thread *t = &p->threads[k];
        t->loop |= b->loop;
        hold_max(&t->iterations, b->iterations);
        hold_max(&t->busy_ns, b->busy_ns);
        hold_max(&t->stall_max_ns, b->stall_max_ns);
        for (unsigned h = 0; h < SS_HIST_BUCKETS; h++)
            hold_max(&t->hist[h], b->hist[h]);
    }
    for (size_t i = 0; i < before->ncauses; i++) {
        const struct ss_tally_cause *b = &before->causes[i];
        size_t th = thread_of(p, before->threads[b->thread].name);
        if (th == SIZE_MAX || add_stalls(p, p->threads[th].name, b->cause, 0, 0, 0) < 0)
            return -ENOMEM;
        for (size_t k = 0; k < p->ncauses; k++)
            if (p->causes[k].thread == th && strcmp(p->causes[k].cause, b->cause) == 0) {
                hold_max(&p->causes[k].stalls, b->stalls);
                hold_max(&p->causes[k].ns, b->ns);
            }
    }
    /* Stalls that moved from a series into a residual one are counted once: off the latter. */
    uint64_t held_stalls, held_ns;
    stall_sums(p, &held_stalls, &held_ns);
    take_off_residual(p, before, held_stalls - stalls, 0);
    take_off_residual(p, before, held_ns - ns, 1);
    for (size_t i = 0; i < before->ncalls; i++) {
        const struct ss_tally_call *b = &before->calls[i];
        if (add_calls(p, before->threads[b->thread].name, b->function, b->category, 0, 0) < 0)
            return -ENOMEM;
        for (size_t k = 0; k < p->ncalls; k++) {
            struct ss_tally_call *c = &p->calls[k];
            if (c->category == b->category && strcmp(c->function, b->function) == 0 &&
                strcmp(p->threads[c->thread].name, before->threads[b->thread].name) == 0) {
                hold_max(&c->count, b->count);
                hold_max(&c->ns, b->ns);
            }
        }
    }
    uint64_t *d = (uint64_t *)&p->drops;
    const uint64_t *bd = (const uint64_t *)&before->drops;
    for (size_t i = 0; i < sizeof p->drops / sizeof *d; i++)
        hold_max(&d[i], bd[i]);
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
