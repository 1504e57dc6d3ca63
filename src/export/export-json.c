#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "causes/causes.h"
#include "export/export.h"
#include "stacks/frames.h"
#include "util/json.h"

static void write_frames(struct ss_json *j, const struct ss_stack *st)
{
    char addr[32];
    ss_json_array(j, "frames");
    for (uint32_t i = 0; st && i < st->nframes; i++) {
        const struct ss_frame *f = &st->frames[i];
        ss_json_object(j, NULL);
        snprintf(addr, sizeof addr, "0x%llx", (unsigned long long)st->addrs[i]);
        ss_json_string(j, "addr", addr);
        ss_json_string(j, "symbol", st->frames ? f->symbol : NULL);
        ss_json_string(j, "module", st->frames ? f->module : NULL);
        ss_json_uint(j, "offset", st->frames ? f->offset : 0);
        ss_json_string(j, "kind", ss_frame_kind_name(st->frames ? f->kind : SS_FRAME_UNKNOWN));
        ss_json_string(j, "file", st->frames ? f->file : NULL);
        ss_json_uint(j, "line", st->frames ? f->line : 0);
        ss_json_end(j);
    }
    ss_json_end(j);
}

static void write_thread(struct ss_json *j, const struct ss_thread *t)
{
    ss_json_object(j, NULL);
    ss_json_uint(j, "tid", t->tid);
    ss_json_string(j, "name", t->name);
    ss_json_bool(j, "loop", t->loop);
    ss_json_uint(j, "iterations", t->iterations);
    ss_json_object(j, "busy_ns");
    ss_json_uint(j, "total", t->busy_total_ns);
    ss_json_uint(j, "p50", ss_thread_percentile(t, 50));
    ss_json_uint(j, "p90", ss_thread_percentile(t, 90));
    ss_json_uint(j, "p99", ss_thread_percentile(t, 99));
    ss_json_uint(j, "max", t->busy_max_ns);
    ss_json_end(j);
    ss_json_array(j, "histogram");
    for (unsigned b = 0; b < SS_HIST_BUCKETS; b++)
        ss_json_uint(j, NULL, t->hist[b]);
    ss_json_end(j);
    ss_json_end(j);
}

static void write_call_site(struct ss_json *j, const struct ss_call_site *c)
{
    ss_json_object(j, NULL);
    ss_json_uint(j, "tid", c->tid);
    ss_json_string(j, "function", c->function);
    ss_json_string(j, "category", c->category);
    ss_json_uint(j, "count", c->count);
    ss_json_uint(j, "total_ns", c->total_ns);
    ss_json_uint(j, "max_ns", c->max_ns);
    ss_json_uint(j, "first_ns", c->first_ns);
    ss_json_string(j, "detail", c->detail);
    write_frames(j, c->stack);
    ss_json_end(j);
}

/* A figure the trace may not have: null when it was not measured. */
static void write_measured(struct ss_json *j, const char *key, int known, uint64_t value)
{
    if (known)
        ss_json_uint(j, key, value);
    else
        ss_json_null(j, key);
}

static void write_cause_part(struct ss_json *j, const struct ss_cause_part *part)
{
    ss_json_string(j, "cause", part->name);
    ss_json_uint(j, "ns", part->ns);
    ss_json_string(j, "where", part->where[0] ? part->where : NULL);
}

static void write_cause(struct ss_json *j, const struct ss_process *p, const struct ss_stall *s)
{
    struct ss_stall_cause c;
    ss_stall_cause(p, s, &c);
    ss_json_object(j, "cause");
    ss_json_string(j, "name", c.parts[0].name);
    ss_json_string(j, "missing", c.missing);
    ss_json_array(j, "parts");
    for (size_t i = 0; i < c.nparts; i++) {
        ss_json_object(j, NULL);
        write_cause_part(j, &c.parts[i]);
        ss_json_end(j);
    }
    ss_json_end(j);
    ss_json_end(j);
}

/* Stalled time by cause over the stalls kept in detail, with the advice for each. */
static void write_causes(struct ss_json *j, const struct ss_run *run, const struct ss_process *p)
{
    struct ss_cause_total totals[SS_CAUSE_TOTALS_MAX];
    size_t n = ss_process_causes(p, totals, SS_CAUSE_TOTALS_MAX);
    const char *runtime = ss_process_runtime(p);
    ss_json_string(j, "runtime", runtime);
    ss_json_array(j, "causes");
    for (size_t i = 0; i < n; i++) {
        ss_json_object(j, NULL);
        write_cause_part(j, &totals[i].part);
        ss_json_uint(j, "stalls", totals[i].stalls);
        ss_json_string(j, "advice",
                       run->causes ? ss_cause_advice(run->causes, totals[i].part.name, runtime)
                                   : NULL);
        ss_json_end(j);
    }
    ss_json_end(j);
}

static void write_stall(struct ss_json *j, const struct ss_process *p, const char *key,
                        const struct ss_stall *s)
{
    ss_json_object(j, key);
    ss_json_uint(j, "tid", s->tid);
    ss_json_uint(j, "start_ns", s->start_ns);
    ss_json_uint(j, "duration_ns", s->duration_ns);
    ss_json_bool(j, "in_progress", s->in_progress);
    ss_json_array(j, "calls");
    for (size_t k = 0; k < s->ncalls; k++) {
        ss_json_object(j, NULL);
        ss_json_string(j, "function", s->calls[k].function);
        ss_json_string(j, "category", s->calls[k].category);
        ss_json_uint(j, "count", s->calls[k].count);
        ss_json_uint(j, "duration_ns", s->calls[k].duration_ns);
        ss_json_end(j);
    }
    ss_json_end(j);
    if (s->split_window_ns) {
        ss_json_object(j, "split");
        ss_json_uint(j, "window_ns", s->split_window_ns);
        ss_json_uint(j, "cpu_ns", s->split_cpu_ns);
        ss_json_uint(j, "runnable_ns", s->split_runnable_ns);
        ss_json_string(j, "from", s->split_from_start ? "start" : "detection");
        write_measured(j, "major_faults", s->faults_known, s->major_faults);
        write_measured(j, "throttled_ns", s->throttled_known, s->throttled_ns);
        write_measured(j, "steal_ns", s->steal_known, s->steal_ns);
        ss_json_end(j);
    } else {
        ss_json_null(j, "split");
    }
    ss_json_object(j, "paused");
    ss_json_uint(j, "stopped_ns", s->stopped_ns);
    ss_json_uint(j, "machine_ns", s->machine_ns);
    ss_json_end(j);
    if (s->task_name) {
        ss_json_object(j, "task");
        ss_json_string(j, "name", s->task_name);
        ss_json_string(j, "coroutine", s->task_coroutine);
        ss_json_end(j);
    } else {
        ss_json_null(j, "task");
    }
    write_cause(j, p, s);
    ss_json_array(j, "samples");
    for (size_t k = 0; k < s->nsamples; k++) {
        const struct ss_sample *smp = &s->samples[k];
        ss_json_object(j, NULL);
        ss_json_uint(j, "offset_ns", smp->offset_ns);
        ss_json_string(j, "source", ss_sample_source_name(smp->source));
        ss_json_string(j, "call", smp->call);
        ss_json_uint(j, "call_ns", smp->call_ns);
        ss_json_uint(j, "capture_ns", smp->capture_ns);
        write_frames(j, smp->stack);
        ss_json_end(j);
    }
    ss_json_end(j);
    ss_json_end(j);
}

static void write_loop(struct ss_json *j, const struct ss_process *p, const struct ss_loop *loop)
{
    static const char *const kinds[] = {[SS_LOOP_EPOLL] = "epoll", [SS_LOOP_SITE] = "call_site"};
    ss_json_object(j, NULL);
    ss_json_uint(j, "tid", loop->tid);
    ss_json_string(j, "kind",
                   loop->kind == SS_LOOP_EPOLL || loop->kind == SS_LOOP_SITE ? kinds[loop->kind]
                                                                             : "unknown");
    if (loop->kind == SS_LOOP_EPOLL && loop->fd >= 0)
        ss_json_uint(j, "fd", (uint64_t)loop->fd);
    ss_json_string(j, "wait", loop->wait);
    write_frames(j, loop->site);
    ss_json_uint(j, "begin_ns", loop->begin_ns);
    ss_json_uint(j, "end_ns", loop->end_ns);
    ss_json_string(j, "end_reason", ss_loop_end_name(loop->end_reason));
    if (loop->last.duration_ns && loop->end_reason != SS_LOOP_NOT_A_LOOP)
        write_stall(j, p, "last", &loop->last);
    else
        ss_json_null(j, "last");
    ss_json_end(j);
}

/* Present only when stalls were summarised, so that a run kept whole exports as before. */
static void write_summary(struct ss_json *j, const struct ss_process *p)
{
    const struct ss_summary *sum = &p->summary;
    ss_json_object(j, "summarised");
    ss_json_uint(j, "keep_stalls", p->keep_stalls);
    ss_json_uint(j, "stalls", sum->stalls);
    ss_json_array(j, "threads");
    for (size_t i = 0; i < sum->nthreads; i++) {
        const struct ss_summary_thread *t = &sum->threads[i];
        ss_json_object(j, NULL);
        ss_json_uint(j, "tid", t->tid);
        ss_json_uint(j, "stalls", t->stalls);
        ss_json_uint(j, "total_ns", t->total_ns);
        ss_json_uint(j, "max_ns", t->max_ns);
        ss_json_array(j, "histogram");
        for (unsigned b = 0; b < SS_HIST_BUCKETS; b++)
            ss_json_uint(j, NULL, t->hist[b]);
        ss_json_end(j);
        ss_json_end(j);
    }
    ss_json_end(j);
    ss_json_array(j, "calls");
    for (size_t i = 0; i < sum->ncalls; i++) {
        const struct ss_summary_call *c = &sum->calls[i];
        ss_json_object(j, NULL);
        ss_json_uint(j, "tid", c->tid);
        ss_json_string(j, "function", c->function);
        ss_json_string(j, "category", c->category);
        ss_json_uint(j, "count", c->count);
        ss_json_uint(j, "duration_ns", c->duration_ns);
        ss_json_end(j);
    }
    ss_json_end(j);
    ss_json_array(j, "stacks");
    for (size_t i = 0; i < sum->nstacks; i++) {
        const struct ss_summary_stack *s = &sum->stacks[i];
        ss_json_object(j, NULL);
        ss_json_uint(j, "tid", s->tid);
        ss_json_string(j, "call", s->sample.call);
        ss_json_uint(j, "spans", s->spans);
        ss_json_uint(j, "span_ns", s->span_ns);
        write_frames(j, s->sample.stack);
        ss_json_end(j);
    }
    ss_json_end(j);
    ss_json_end(j);
}

static void write_process(struct ss_json *j, struct ss_run *run, struct ss_process *p)
{
    ss_process_symbolize(run, p);
    ss_json_object(j, NULL);
    ss_json_uint(j, "pid", p->pid);
    ss_json_uint(j, "ppid", p->ppid);
    ss_json_string(j, "command", p->command);
    ss_json_string(j, "exe", p->exe);
    ss_json_string(j, "trace", p->file);
    ss_json_uint(j, "start_ns", p->start_mono_ns);
    ss_json_uint(j, "start_unix_ns", p->start_real_ns);
    ss_json_uint(j, "threshold_ns", p->threshold_ns);
    ss_json_uint(j, "interval_ns", p->interval_ns);
    ss_json_bool(j, "exited", p->end_ns != 0);
    ss_json_bool(j, "truncated", p->truncated);
    ss_json_array(j, "threads");
    for (size_t i = 0; i < p->nthreads; i++)
        write_thread(j, &p->threads[i]);
    ss_json_end(j);
    ss_json_array(j, "stalls");
    for (size_t i = 0; i < p->nstalls; i++)
        write_stall(j, p, NULL, &p->stalls[i]);
    ss_json_end(j);
    write_causes(j, run, p);
    if (p->summary.stalls)
        write_summary(j, p);
    ss_json_array(j, "loops");
    for (size_t i = 0; i < p->nloops; i++)
        write_loop(j, p, &p->loops[i]);
    ss_json_end(j);
    ss_json_array(j, "calls");
    for (size_t i = 0; i < p->ncalls; i++)
        write_call_site(j, &p->calls[i]);
    ss_json_end(j);
    if (p->sampling.method) {
        static const char *const methods[] = {"", "perf", "signal", "none"};
        ss_json_object(j, "sampling");
        ss_json_string(j, "method", p->sampling.method < 4 ? methods[p->sampling.method] : "?");
        ss_json_uint(j, "signal", p->sampling.signal);
        if (p->sampling.error)
            ss_json_string(j, "perf_refused", strerror(p->sampling.error));
        else
            ss_json_null(j, "perf_refused");
        ss_json_end(j);
    }
    ss_json_uint(j, "dropped", ss_drops_total(&p->drops));
    ss_json_object(j, "drops");
    ss_json_uint(j, "events", p->drops.events);
    ss_json_uint(j, "samples_failed", p->drops.samples_failed);
    ss_json_uint(j, "samples_timed_out", p->drops.samples_timed_out);
    ss_json_uint(j, "records_unwritten", p->drops.records_unwritten);
    ss_json_uint(j, "python_incomplete", p->drops.python_incomplete);
    /* Only with the options that cause them, so that other traces export as before. */
    if (p->drops.samples_skipped)
        ss_json_uint(j, "samples_skipped", p->drops.samples_skipped);
    if (p->drops.files_deleted) {
        ss_json_object(j, "deleted_by_rotation");
        ss_json_uint(j, "files", p->drops.files_deleted);
        ss_json_uint(j, "stalls", p->drops.stalls_deleted);
        ss_json_uint(j, "stalls_ns", p->drops.stalls_deleted_ns);
        ss_json_uint(j, "stall_max_ns", p->drops.stalls_deleted_max_ns);
        ss_json_uint(j, "samples", p->drops.samples_deleted);
        ss_json_uint(j, "records", p->drops.records_deleted);
        ss_json_end(j);
    }
    if (p->drops.stalls_lost) {
        ss_json_object(j, "lost_stalls");
        ss_json_uint(j, "stalls", p->drops.stalls_lost);
        ss_json_uint(j, "stalls_ns", p->drops.stalls_lost_ns);
        ss_json_uint(j, "stall_max_ns", p->drops.stalls_lost_max_ns);
        ss_json_end(j);
    }
    ss_json_end(j);
    ss_json_array(j, "notes");
    for (size_t i = 0; i < p->nnotes; i++)
        ss_json_string(j, NULL, p->notes[i]);
    ss_json_end(j);
    const char **stale = calloc(p->nmodules ? p->nmodules : 1, sizeof *stale);
    size_t nstale = stale ? ss_process_stale_modules(run, p, stale, p->nmodules) : 0;
    ss_json_array(j, "stale_modules");
    for (size_t i = 0; i < nstale; i++)
        ss_json_string(j, NULL, stale[i]);
    ss_json_end(j);
    free(stale);
    ss_json_end(j);
}

int ss_export_json(struct ss_run *run, FILE *out)
{
    struct ss_json j;
    ss_json_init(&j, out, 1);
    ss_json_object(&j, NULL);
    ss_json_string(&j, "schema", "stallscope");
    ss_json_uint(&j, "version", SS_JSON_SCHEMA_VERSION);
    ss_json_string(&j, "run", run->path);
    ss_json_array(&j, "processes");
    for (size_t i = 0; i < run->nprocs; i++)
        write_process(&j, run, &run->procs[i]);
    ss_json_end(&j);
    ss_json_end(&j);
    return ss_json_status(&j);
}
