/* Folded stacks ("root;...;leaf WEIGHT"), the input of flamegraph.pl, inferno, speedscope,
 * Perfetto and the Firefox Profiler: stalled time in microseconds by stack, the root being
 * the loop thread's name as perf's stack collapsing does. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "export/export.h"
#include "stacks/flame.h"
#include "stacks/frames.h"
#include "util/names.h"

#define MAX_DEPTH (SS_TRACE_MAX_FRAMES + 1)

struct folded {
    struct ss_names lines;
    uint64_t *ns; /* by line id */
    size_t cap;
};

/* The format has no escaping: a ';' would split a frame and a newline a line. */
static int append_frame(char **buf, size_t *len, const char *name, int root)
{
    size_t n = strlen(name);
    char *grown = realloc(*buf, *len + n + 2);
    if (!grown)
        return -ENOMEM;
    *buf = grown;
    if (*len)
        (*buf)[(*len)++] = ';';
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        (*buf)[(*len)++] = c == ';' ? ':' : c == '\n' || c == '\r' || (root && c == ' ') ? '_' : c;
    }
    (*buf)[*len] = '\0';
    return 0;
}

static int add(struct folded *f, const char *line, uint64_t ns)
{
    long id = ss_names_add(&f->lines, line);
    if (id < 0)
        return (int)id;
    if ((size_t)id >= f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 256;
        uint64_t *grown = realloc(f->ns, cap * sizeof *grown);
        if (!grown)
            return -ENOMEM;
        memset(grown + f->cap, 0, (cap - f->cap) * sizeof *grown);
        f->ns = grown;
        f->cap = cap;
    }
    f->ns[id] += ns;
    return 0;
}

/* Adds the time of one span to the line of its thread and frames. */
static int add_span(struct folded *f, const struct ss_process *p, uint32_t tid,
                    const struct ss_span *span, uint64_t ns, char (*names)[SS_FRAME_NAME_SIZE])
{
    const char *root = ss_thread_label(p, tid);
    size_t depth = ss_span_frames(span, names, MAX_DEPTH);
    char *line = NULL;
    size_t len = 0;
    int rc = append_frame(&line, &len, root[0] ? root : "?", 1);
    for (size_t k = 0; k < depth && rc == 0; k++)
        rc = append_frame(&line, &len, names[k], 0);
    if (rc == 0)
        rc = add(f, line, ns);
    free(line);
    return rc;
}

static int add_stall(struct folded *f, const struct ss_process *p, const struct ss_stall *s,
                     char (*names)[SS_FRAME_NAME_SIZE], struct ss_span *spans)
{
    size_t n = ss_stall_spans(s, spans);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (spans[i].end_ns != spans[i].begin_ns)
            rc = add_span(f, p, s->tid, &spans[i], spans[i].end_ns - spans[i].begin_ns, names);
    return rc;
}

/* The spans of summarised stalls, already summed by thread and frames. */
static int add_summary(struct folded *f, const struct ss_process *p,
                       char (*names)[SS_FRAME_NAME_SIZE])
{
    int rc = 0;
    for (size_t i = 0; i < p->summary.nstacks && rc == 0; i++) {
        const struct ss_summary_stack *e = &p->summary.stacks[i];
        struct ss_span span = {&e->sample, 0, e->span_ns};
        if (e->span_ns)
            rc = add_span(f, p, e->tid, &span, e->span_ns, names);
    }
    return rc;
}

static const struct folded *sorting;

static int by_line(const void *a, const void *b)
{
    return strcmp(sorting->lines.names[*(const size_t *)a],
                  sorting->lines.names[*(const size_t *)b]);
}

int ss_export_folded(struct ss_run *run, FILE *out)
{
    struct folded f = {0};
    char(*names)[SS_FRAME_NAME_SIZE] = malloc(MAX_DEPTH * sizeof *names);
    int rc = names ? 0 : -ENOMEM;
    ss_names_init(&f.lines);
    for (size_t i = 0; i < run->nprocs && rc == 0; i++) {
        struct ss_process *p = &run->procs[i];
        ss_process_symbolize(run, p);
        for (size_t k = 0; k < p->nstalls && rc == 0; k++) {
            struct ss_span *spans = malloc((p->stalls[k].nsamples + 1) * sizeof *spans);
            rc = spans ? add_stall(&f, p, &p->stalls[k], names, spans) : -ENOMEM;
            free(spans);
        }
        if (rc == 0)
            rc = add_summary(&f, p, names);
    }
    size_t *order = rc == 0 ? malloc((f.lines.count + 1) * sizeof *order) : NULL;
    if (order) {
        for (size_t i = 0; i < f.lines.count; i++)
            order[i] = i;
        sorting = &f;
        qsort(order, f.lines.count, sizeof *order, by_line);
        for (size_t i = 0; i < f.lines.count; i++) {
            uint64_t us = (f.ns[order[i]] + 500) / 1000;
            if (us)
                fprintf(out, "%s %llu\n", f.lines.names[order[i]], (unsigned long long)us);
        }
    } else if (rc == 0) {
        rc = -ENOMEM;
    }
    free(order);
    free(names);
    free(f.ns);
    ss_names_free(&f.lines);
    return rc < 0 ? rc : ss_write_status(out);
}
