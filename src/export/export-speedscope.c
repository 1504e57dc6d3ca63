/* speedscope's file format (https://www.speedscope.app/file-format-schema.json): for each
 * loop thread with stalls, an evented profile that lays its stalls out in time, each sample's
 * stack open for the span it stands for, and a sampled profile of its stalled time by stack.
 * Times are nanoseconds since the process was first traced. Summarised stalls are not in
 * the evented profile; their time by stack ends the sampled one. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "export/export.h"
#include "stacks/flame.h"
#include "stacks/frames.h"
#include "util/json.h"
#include "util/names.h"

#define MAX_DEPTH (SS_TRACE_MAX_FRAMES + 1)
#define STALL_FRAME "[stall]"

struct writer {
    struct ss_json j;
    struct ss_names frames;
    char (*names)[SS_FRAME_NAME_SIZE];
    long ids[MAX_DEPTH];
    struct ss_span *spans;
    size_t spans_cap;
    int failed;
};

static size_t spans_of(struct writer *w, const struct ss_stall *s)
{
    if (s->nsamples > w->spans_cap) {
        struct ss_span *grown = realloc(w->spans, s->nsamples * sizeof *grown);
        if (!grown) {
            w->failed = 1;
            return 0;
        }
        w->spans = grown;
        w->spans_cap = s->nsamples;
    }
    return ss_stall_spans(s, w->spans);
}

/* Fills w->ids with the span's frame ids, root first; returns the depth. */
static size_t frame_ids(struct writer *w, const struct ss_span *sp)
{
    size_t n = ss_span_frames(sp, w->names, MAX_DEPTH);
    for (size_t i = 0; i < n; i++)
        if ((w->ids[i] = ss_names_add(&w->frames, w->names[i])) < 0)
            w->failed = 1;
    return n;
}

static int has_stalls(const struct ss_process *p, uint32_t tid)
{
    for (size_t i = 0; i < p->nstalls; i++)
        if (p->stalls[i].tid == tid)
            return 1;
    return ss_summary_thread(p, tid) != NULL;
}

static uint64_t since(const struct ss_process *p, uint64_t ns)
{
    return ns > p->start_mono_ns ? ns - p->start_mono_ns : 0;
}

static void event(struct writer *w, const char *type, long frame, uint64_t at)
{
    ss_json_object(&w->j, NULL);
    ss_json_string(&w->j, "type", type);
    ss_json_uint(&w->j, "frame", (uint64_t)frame);
    ss_json_uint(&w->j, "at", at);
    ss_json_end(&w->j);
}

/* Frames stay open from one span to the next when both show them, so a flame chart shows
 * one long bar for a function that ran across several samples. */
static void stall_events(struct writer *w, const struct ss_process *p, const struct ss_stall *s)
{
    long open[MAX_DEPTH], stall = ss_names_add(&w->frames, STALL_FRAME);
    size_t nopen = 0, n = spans_of(w, s);
    uint64_t start = since(p, s->start_ns), last = start;
    event(w, "O", stall, start);
    for (size_t i = 0; i < n; i++) {
        const struct ss_span *sp = &w->spans[i];
        if (sp->end_ns == sp->begin_ns)
            continue;
        uint64_t b = start + sp->begin_ns;
        size_t depth = frame_ids(w, sp), keep = 0;
        if (b == last)
            while (keep < nopen && keep < depth && open[keep] == w->ids[keep])
                keep++;
        while (nopen > keep)
            event(w, "C", open[--nopen], last);
        for (; nopen < depth; nopen++)
            event(w, "O", open[nopen] = w->ids[nopen], b);
        last = start + sp->end_ns;
    }
    while (nopen > 0)
        event(w, "C", open[--nopen], last);
    event(w, "C", stall, start + s->duration_ns);
}

static void thread_name(char *buf, size_t size, const struct ss_process *p,
                        const struct ss_thread *t, const char *what)
{
    snprintf(buf, size, "%s (pid %u, tid %u): %s", ss_thread_label(p, t->tid), p->pid, t->tid,
             what);
}

static void evented(struct writer *w, const struct ss_process *p, const struct ss_thread *t)
{
    char name[128];
    uint64_t first = UINT64_MAX, end = 0;
    for (size_t i = 0; i < p->nstalls; i++) {
        const struct ss_stall *s = &p->stalls[i];
        if (s->tid != t->tid)
            continue;
        if (since(p, s->start_ns) < first)
            first = since(p, s->start_ns);
        if (since(p, s->start_ns) + s->duration_ns > end)
            end = since(p, s->start_ns) + s->duration_ns;
    }
    if (first == UINT64_MAX)
        first = 0;
    thread_name(name, sizeof name, p, t, "stalls in time");
    ss_json_object(&w->j, NULL);
    ss_json_string(&w->j, "type", "evented");
    ss_json_string(&w->j, "name", name);
    ss_json_string(&w->j, "unit", "nanoseconds");
    ss_json_uint(&w->j, "startValue", first);
    ss_json_uint(&w->j, "endValue", end);
    ss_json_array(&w->j, "events");
    for (size_t i = 0; i < p->nstalls; i++)
        if (p->stalls[i].tid == t->tid)
            stall_events(w, p, &p->stalls[i]);
    ss_json_end(&w->j);
    ss_json_end(&w->j);
}

/* One sample of the sampled profile; returns -ENOMEM when out of memory. */
static int weighted(struct writer *w, const struct ss_span *sp, uint64_t weight, uint64_t **weights,
                    size_t *nweights, size_t *cap)
{
    if (*nweights == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        uint64_t *grown = realloc(*weights, *cap * sizeof *grown);
        if (!grown) {
            w->failed = 1;
            return -ENOMEM;
        }
        *weights = grown;
    }
    (*weights)[(*nweights)++] = weight;
    size_t depth = frame_ids(w, sp);
    ss_json_array(&w->j, NULL);
    for (size_t d = 0; d < depth; d++)
        ss_json_uint(&w->j, NULL, (uint64_t)w->ids[d]);
    ss_json_end(&w->j);
    return 0;
}

static void sampled(struct writer *w, const struct ss_process *p, const struct ss_thread *t)
{
    char name[128];
    uint64_t *weights = NULL, total = 0;
    size_t nweights = 0, cap = 0;
    thread_name(name, sizeof name, p, t, "stalled time by stack");
    ss_json_object(&w->j, NULL);
    ss_json_string(&w->j, "type", "sampled");
    ss_json_string(&w->j, "name", name);
    ss_json_string(&w->j, "unit", "nanoseconds");
    ss_json_uint(&w->j, "startValue", 0);
    ss_json_array(&w->j, "samples");
    for (size_t i = 0; i < p->nstalls; i++) {
        if (p->stalls[i].tid != t->tid)
            continue;
        size_t n = spans_of(w, &p->stalls[i]);
        for (size_t k = 0; k < n; k++) {
            uint64_t weight = w->spans[k].end_ns - w->spans[k].begin_ns;
            if (weight == 0)
                continue;
            if (weighted(w, &w->spans[k], weight, &weights, &nweights, &cap) < 0)
                break;
            total += weight;
        }
    }
    for (size_t i = 0; i < p->summary.nstacks; i++) {
        const struct ss_summary_stack *e = &p->summary.stacks[i];
        struct ss_span span = {&e->sample, 0, e->span_ns};
        if (e->tid != t->tid || e->span_ns == 0)
            continue;
        if (weighted(w, &span, e->span_ns, &weights, &nweights, &cap) < 0)
            break;
        total += e->span_ns;
    }
    ss_json_end(&w->j);
    ss_json_array(&w->j, "weights");
    for (size_t i = 0; i < nweights; i++)
        ss_json_uint(&w->j, NULL, weights[i]);
    ss_json_end(&w->j);
    ss_json_uint(&w->j, "endValue", total);
    ss_json_end(&w->j);
    free(weights);
}

/* Frames must come before the profiles that use them, so every name is collected first. */
static void collect_frames(struct writer *w, struct ss_run *run)
{
    ss_names_add(&w->frames, STALL_FRAME);
    for (size_t i = 0; i < run->nprocs; i++) {
        struct ss_process *p = &run->procs[i];
        ss_process_symbolize(run, p);
        for (size_t k = 0; k < p->nstalls; k++) {
            size_t n = spans_of(w, &p->stalls[k]);
            for (size_t s = 0; s < n; s++)
                frame_ids(w, &w->spans[s]);
        }
        for (size_t k = 0; k < p->summary.nstacks; k++) {
            struct ss_span span = {&p->summary.stacks[k].sample, 0, 0};
            frame_ids(w, &span);
        }
    }
}

int ss_export_speedscope(struct ss_run *run, FILE *out)
{
    struct writer w = {0};
    ss_names_init(&w.frames);
    if (!(w.names = malloc(MAX_DEPTH * sizeof *w.names)))
        return -ENOMEM;
    collect_frames(&w, run);
    ss_json_init(&w.j, out, 1);
    ss_json_object(&w.j, NULL);
    ss_json_string(&w.j, "$schema", "https://www.speedscope.app/file-format-schema.json");
    ss_json_string(&w.j, "exporter", "stallscope@" PACKAGE_VERSION);
    ss_json_string(&w.j, "name", run->path);
    ss_json_uint(&w.j, "activeProfileIndex", 0);
    ss_json_object(&w.j, "shared");
    ss_json_array(&w.j, "frames");
    for (size_t i = 0; i < w.frames.count; i++) {
        ss_json_object(&w.j, NULL);
        ss_json_string(&w.j, "name", w.frames.names[i]);
        ss_json_end(&w.j);
    }
    ss_json_end(&w.j);
    ss_json_end(&w.j);
    ss_json_array(&w.j, "profiles");
    for (size_t i = 0; i < run->nprocs; i++) {
        const struct ss_process *p = &run->procs[i];
        for (size_t k = 0; k < p->nthreads; k++) {
            if (!has_stalls(p, p->threads[k].tid))
                continue;
            evented(&w, p, &p->threads[k]);
            sampled(&w, p, &p->threads[k]);
        }
    }
    ss_json_end(&w.j);
    ss_json_end(&w.j);
    free(w.names);
    free(w.spans);
    ss_names_free(&w.frames);
    return w.failed ? -ENOMEM : ss_json_status(&w.j);
}
