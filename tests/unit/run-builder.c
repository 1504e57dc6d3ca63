#define _GNU_SOURCE
#include "run-builder.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "causes/causes.h"

/* Makes room for element n - 1 (zeroed) of an array that had n - 1. Capacities double, so that
 * the tests of 100,000 stalls stay linear. */
static void *grow(void *p, size_t n, size_t elem)
{
    if (n == 1 || ((n - 1) & (n - 2)) == 0) {
        p = realloc(p, (n == 1 ? 1 : 2 * (n - 1)) * elem);
        cr_assert_not_null(p);
    }
    memset((char *)p + (n - 1) * elem, 0, elem);
    return p;
}

struct ss_run *rb_run(void)
{
    struct ss_run *run = calloc(1, sizeof *run);
    cr_assert_not_null(run);
    run->path = strdup("memory.run");
    return run;
}

struct ss_process *rb_process(struct ss_run *run, uint32_t pid, uint64_t interval_ns)
{
    run->procs = grow(run->procs, ++run->nprocs, sizeof *run->procs);
    struct ss_process *p = &run->procs[run->nprocs - 1];
    p->pid = pid;
    p->ppid = 1;
    cr_assert(asprintf(&p->file, "memory.run/stallscope-%u.trace", pid) > 0);
    p->exe = strdup("/usr/bin/server");
    cr_assert(asprintf(&p->command, "server --pid %u", pid) > 0);
    p->start_mono_ns = 1000 * MS;
    p->start_real_ns = 1700000000ull * 1000000000ull;
    p->threshold_ns = 50 * MS;
    p->interval_ns = interval_ns;
    p->last_ns = p->start_mono_ns;
    p->symbolized = 1;
    return p;
}

struct ss_thread *rb_thread(struct ss_process *p, uint32_t tid, const char *name)
{
    p->threads = grow(p->threads, ++p->nthreads, sizeof *p->threads);
    struct ss_thread *t = &p->threads[p->nthreads - 1];
    t->tid = tid;
    t->loop = 1;
    snprintf(t->name, sizeof t->name, "%s", name);
    return t;
}

struct ss_stack *rb_stack(struct ss_process *p, ...)
{
    const char *names[64];
    uint32_t n = 0;
    va_list ap;
    va_start(ap, p);
    for (const char *s; (s = va_arg(ap, const char *)) != NULL && n < 64;)
        names[n++] = s;
    va_end(ap);
    p->stacks = grow(p->stacks, ++p->nstacks, sizeof *p->stacks);
    struct ss_stack *st = calloc(1, sizeof *st);
    cr_assert_not_null(st);
    st->index = (uint32_t)p->nstacks - 1;
    st->id = st->index + 1; /* ids start at 1, as in a trace */
    st->nframes = n;
    st->addrs = calloc(n, sizeof *st->addrs);
    st->frames = calloc(n, sizeof *st->frames);
    cr_assert(st->addrs && st->frames);
    for (uint32_t i = 0; i < n; i++) {
        st->addrs[i] = 0x401000 + 0x10 * st->id + i;
        st->frames[i] =
            (struct ss_frame){st->addrs[i], names[i], NULL, 4, SS_FRAME_NATIVE, NULL, 0};
    }
    p->stacks[st->index] = st;
    return st;
}

struct ss_stall *rb_stall(struct ss_process *p, uint32_t tid, uint64_t start_ns,
                          uint64_t duration_ns)
{
    p->stalls = grow(p->stalls, ++p->nstalls, sizeof *p->stalls);
    struct ss_stall *s = &p->stalls[p->nstalls - 1];
    s->tid = tid;
    s->start_ns = start_ns;
    s->duration_ns = duration_ns;
    if (start_ns + duration_ns > p->last_ns)
        p->last_ns = start_ns + duration_ns;
    return s;
}

static struct ss_sample *add(struct ss_stall *s)
{
    s->samples = grow(s->samples, ++s->nsamples, sizeof *s->samples);
    return &s->samples[s->nsamples - 1];
}

void rb_sample(struct ss_stall *s, struct ss_stack *stack, uint64_t offset_ns)
{
    struct ss_sample *smp = add(s);
    smp->offset_ns = offset_ns;
    smp->source = SS_SAMPLE_SIGNAL;
    smp->stack = stack;
}

void rb_call(struct ss_stall *s, struct ss_stack *stack, const char *call, uint64_t call_ns)
{
    struct ss_sample *smp = add(s);
    smp->offset_ns = s->duration_ns;
    smp->source = SS_SAMPLE_CALL;
    smp->call = call;
    smp->call_ns = call_ns;
    smp->stack = stack;
}

void rb_summarised(struct ss_process *p, uint32_t tid, uint64_t stalls, uint64_t total_ns)
{
    struct ss_summary *sum = &p->summary;
    sum->threads = grow(sum->threads, ++sum->nthreads, sizeof *sum->threads);
    struct ss_summary_thread *t = &sum->threads[sum->nthreads - 1];
    t->tid = tid;
    t->stalls = stalls;
    t->total_ns = total_ns;
    sum->stalls += stalls;
}

void rb_summarised_stack(struct ss_process *p, uint32_t tid, struct ss_stack *stack,
                         const char *call, uint64_t spans, uint64_t span_ns)
{
    struct ss_summary *sum = &p->summary;
    sum->stacks = grow(sum->stacks, ++sum->nstacks, sizeof *sum->stacks);
    struct ss_summary_stack *e = &sum->stacks[sum->nstacks - 1];
    e->tid = tid;
    e->sample.stack = stack;
    e->sample.call = call;
    e->sample.source = call ? SS_SAMPLE_CALL : SS_SAMPLE_SIGNAL;
    e->spans = spans;
    e->span_ns = span_ns;
}

void rb_classify(struct ss_run *run)
{
    struct ss_cause_rules *rules;
    char err[256] = "";
    cr_assert_eq(ss_cause_rules_new(&rules, err, sizeof err), 0, "%s", err);
    cr_assert_eq(ss_run_classify(run, rules), 0);
}
