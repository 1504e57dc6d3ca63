/* Chrome's Trace Event format, object form, for Perfetto and chrome://tracing: one track per
 * loop thread, each stall a slice, the blocking calls whose stacks were taken nested inside
 * it, and each sampling point an instant. Perfetto does not import stackFrames, so stacks go
 * into args. Timestamps are microseconds since the run's first process was traced. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/options.h"
#include "export/export.h"
#include "stacks/flame.h"
#include "stacks/frames.h"
#include "util/json.h"

#define MAX_DEPTH (SS_TRACE_MAX_FRAMES + 1)

static void stack_arg(struct ss_json *j, const struct ss_stack *st)
{
    char name[512];
    ss_json_array(j, "stack");
    for (uint32_t i = st && st->frames ? st->nframes : 0; i-- > 0;) {
        ss_frame_display_name(&st->frames[i], name, sizeof name);
        ss_json_string(j, NULL, name);
    }
    ss_json_end(j);
}

static void event(struct ss_json *j, const char *name, const char *cat, const char *ph,
                  const struct ss_process *p, uint32_t tid, uint64_t ts_ns)
{
    ss_json_object(j, NULL);
    ss_json_string(j, "name", name);
    if (cat)
        ss_json_string(j, "cat", cat);
    ss_json_string(j, "ph", ph);
    ss_json_uint(j, "pid", p->pid);
    ss_json_uint(j, "tid", tid);
    ss_json_decimal(j, "ts", ts_ns, 3);
}

static void metadata(struct ss_json *j, const struct ss_process *p, uint32_t tid, const char *what,
                     const char *name)
{
    event(j, what, NULL, "M", p, tid, 0);
    ss_json_object(j, "args");
    ss_json_string(j, "name", name);
    ss_json_end(j);
    ss_json_end(j);
}

static void stall(struct ss_json *j, const struct ss_process *p, const struct ss_stall *s,
                  uint64_t origin, struct ss_span *spans)
{
    char text[160], d[32];
    uint64_t start = s->start_ns > origin ? s->start_ns - origin : 0;
    struct ss_stack_count top;
    event(j, "stall", "stall", "X", p, s->tid, start);
    ss_json_decimal(j, "dur", s->duration_ns, 3);
    ss_json_object(j, "args");
    ss_json_decimal(j, "duration_ms", s->duration_ns, 6);
    ss_json_bool(j, "in_progress", s->in_progress);
    ss_json_uint(j, "samples", s->nsamples);
    ss_json_array(j, "calls");
    for (size_t i = 0; i < s->ncalls; i++) {
        ss_format_duration(s->calls[i].duration_ns, d, sizeof d);
        snprintf(text, sizeof text, "%s() x%llu, %s (%s)", s->calls[i].function,
                 (unsigned long long)s->calls[i].count, d, s->calls[i].category);
        ss_json_string(j, NULL, text);
    }
    ss_json_end(j);
    if (s->split_window_ns) {
        ss_json_decimal(j, "cpu_ms", s->split_cpu_ns, 6);
        ss_json_decimal(j, "runnable_ms", s->split_runnable_ns, 6);
    }
    /* The stack seen most often is the stall's best summary. */
    stack_arg(j, ss_stall_stacks(s, &top, 1) ? top.stack : NULL);
    ss_json_end(j);
    ss_json_end(j);
    size_t n = ss_stall_spans(s, spans);
    for (size_t i = 0; i < n; i++) {
        const struct ss_sample *smp = spans[i].sample;
        if (smp->source == SS_SAMPLE_CALL) {
            event(j, smp->call ? smp->call : "call", "blocking", "X", p, s->tid,
                  start + spans[i].begin_ns);
            ss_json_decimal(j, "dur", spans[i].end_ns - spans[i].begin_ns, 3);
            ss_json_object(j, "args");
            ss_json_decimal(j, "call_ms", smp->call_ns, 6);
        } else {
            event(j, "sample", "sample", "i", p, s->tid, start + smp->offset_ns);
            ss_json_string(j, "s", "t");
            ss_json_object(j, "args");
        }
        stack_arg(j, smp->stack);
        ss_json_end(j);
        ss_json_end(j);
    }
}

int ss_export_chrome(struct ss_run *run, FILE *out)
{
    struct ss_json j;
    uint64_t origin = UINT64_MAX;
    for (size_t i = 0; i < run->nprocs; i++)
        if (run->procs[i].start_mono_ns < origin)
            origin = run->procs[i].start_mono_ns;
    ss_json_init(&j, out, 1);
    ss_json_object(&j, NULL);
    ss_json_string(&j, "displayTimeUnit", "ms");
    ss_json_array(&j, "traceEvents");
    int failed = 0;
    for (size_t i = 0; i < run->nprocs && !failed; i++) {
        struct ss_process *p = &run->procs[i];
        ss_process_symbolize(run, p);
        metadata(&j, p, p->pid, "process_name", p->command[0] ? p->command : p->exe);
        for (size_t k = 0; k < p->nthreads; k++)
            if (p->threads[k].loop)
                metadata(&j, p, p->threads[k].tid, "thread_name",
                         ss_thread_label(p, p->threads[k].tid));
        for (size_t k = 0; k < p->nstalls && !failed; k++) {
            struct ss_span *spans = malloc((p->stalls[k].nsamples + 1) * sizeof *spans);
            if (spans)
                stall(&j, p, &p->stalls[k], origin, spans);
            failed = !spans;
            free(spans);
        }
    }
    ss_json_end(&j);
    ss_json_object(&j, "otherData");
    ss_json_string(&j, "exporter", "stallscope");
    ss_json_string(&j, "run", run->path);
    uint64_t summarised = 0;
    for (size_t i = 0; i < run->nprocs; i++)
        summarised += run->procs[i].summary.stalls;
    /* Only the stalls kept in detail are on the timeline. */
    if (summarised)
        ss_json_uint(&j, "summarised_stalls", summarised);
    ss_json_end(&j);
    ss_json_end(&j);
    return failed ? -ENOMEM : ss_json_status(&j);
}
