/* pprof: stalled time by stack as a gzipped profile.proto message, for go tool pprof,
 * Pyroscope, Parca and Grafana. Time is shared among samples as the folded export shares it
 * (ss_stall_spans), so both agree stack by stack; docs/exports.md describes the fields. */
#include <errno.h>
#include <stdlib.h>

#include "causes/causes.h"
#include "errors.h"
#include "export/export.h"
#include "export/pprof-build.h"
#include "stacks/flame.h"

/* A stall's time under each of its samples' stacks; the stall itself is counted under the
 * stack of its longest span, so that counts add up along the stacks as times do. */
static int add_stall(struct ss_pprof *b, struct ss_pprof_where *w, const struct ss_stall *s)
{
    if (s->nsamples == 0)
        return 0;
    struct ss_span *spans = malloc(s->nsamples * sizeof *spans);
    if (!spans)
        return -ENOMEM;
    struct ss_stall_cause cause;
    ss_stall_cause(w->p, s, &cause);
    w->tid = s->tid;
    w->cause = cause.nparts ? cause.parts[0].name : NULL;
    size_t n = ss_stall_spans(s, spans), longest = ss_longest_span(spans, n);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        w->sample = spans[i].sample;
        if (spans[i].end_ns != spans[i].begin_ns)
            rc = ss_pprof_add(b, w, spans[i].end_ns - spans[i].begin_ns, i == longest);
    }
    free(spans);
    return rc;
}

/* Summarised stalls keep no cause and no start: they are in whole-run profiles only. */
static int add_summary(struct ss_pprof *b, struct ss_pprof_where *w)
{
    const struct ss_summary *sum = &w->p->summary;
    int rc = 0;
    for (size_t i = 0; i < sum->nstacks && rc == 0; i++) {
        const struct ss_summary_stack *e = &sum->stacks[i];
        w->tid = e->tid;
        w->cause = NULL;
        w->sample = &e->sample;
        if (e->span_ns)
            rc = ss_pprof_add(b, w, e->span_ns, e->stalls);
    }
    return rc;
}

/* When the profile begins on the wall clock, and how long it lasts: the run, from its first
 * process's start to the latest time of its traces, cut to the window. */
static void profile_time(const struct ss_run *run, uint64_t from_ns, uint64_t to_ns,
                         int64_t *time_nanos, int64_t *duration_nanos)
{
    const struct ss_process *first = NULL;
    uint64_t end = 0;
    for (size_t i = 0; i < run->nprocs; i++) {
        const struct ss_process *p = &run->procs[i];
        if (!first || p->start_mono_ns < first->start_mono_ns)
            first = p;
        if (p->last_ns > end)
            end = p->last_ns;
    }
    *time_nanos = *duration_nanos = 0;
    if (!first)
        return;
    uint64_t begin = from_ns > first->start_mono_ns ? from_ns : first->start_mono_ns;
    if (to_ns < end)
        end = to_ns;
    *time_nanos = (int64_t)(first->start_real_ns + (begin - first->start_mono_ns));
    *duration_nanos = end > begin ? (int64_t)(end - begin) : 0;
}

int ss_export_pprof_window(struct ss_run *run, FILE *out, uint64_t from_ns, uint64_t to_ns)
{
    int whole = from_ns == 0 && to_ns == UINT64_MAX;
    struct ss_pprof *b = NULL;
    int rc = ss_pprof_new(&b);
    for (size_t i = 0; i < run->nprocs && rc == 0; i++) {
        struct ss_process *p = &run->procs[i];
        struct ss_pprof_where w = {.p = p, .pindex = (uint32_t)i};
        ss_process_symbolize(run, p);
        rc = ss_pprof_main_mapping(b, &w);
        for (size_t k = 0; k < p->nstalls && rc == 0; k++) {
            const struct ss_stall *s = &p->stalls[k];
            if (s->start_ns >= from_ns && s->start_ns < to_ns)
                rc = add_stall(b, &w, s);
        }
        if (rc == 0 && whole)
            rc = add_summary(b, &w);
    }
    if (rc == 0) {
        int64_t time_nanos, duration_nanos;
        profile_time(run, from_ns, to_ns, &time_nanos, &duration_nanos);
        rc = ss_pprof_write(b, out, time_nanos, duration_nanos);
    }
    ss_pprof_free(b);
    if (rc < 0 && rc != -EIO)
        return rc;
    /* A failed write is told by the stream, which knows its error. */
    int status = ss_write_status(out);
    return status < 0 ? status : rc;
}

int ss_export_pprof(struct ss_run *run, FILE *out)
{
    return ss_export_pprof_window(run, out, 0, UINT64_MAX);
}
