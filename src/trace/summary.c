/* summary: the stalls of a process while it loads. Each is found by (thread, start) through
 * an index; past the limit the loader was given, the longest complete stalls are kept in detail
 * and the others summed up exactly in p->summary, so that memory does not grow with the run. A
 * stall is summarised only once no record of it can follow. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "stacks/flame.h"
#include "trace/loader.h"
#include "util/array.h"

/* The stall index holds no keys, only stall indexes, and reads the keys from the stalls: a
 * quarter of the size of an ss_key_table, which counts when every stall of a long run is kept. */
static void index_put(struct loader *l, size_t stall)
{
    struct ss_stall *s = &l->p->stalls[stall];
    size_t j = ss_hash_words(s->tid, s->start_ns, 0) & (l->index_size - 1);
    while (l->index[j])
        j = (j + 1) & (l->index_size - 1);
    l->index[j] = stall + 1;
}

static void reindex(struct loader *l)
{
    memset(l->index, 0, l->index_size * sizeof *l->index);
    for (size_t i = 0; i < l->p->nstalls; i++)
        index_put(l, i);
}

static int index_insert(struct loader *l, size_t stall)
{
    if ((l->p->nstalls + 1) * 2 > l->index_size) {
        size_t size = l->index_size ? l->index_size * 2 : 256;
        size_t *t = calloc(size, sizeof *t);
        if (!t)
            return -ENOMEM;
        free(l->index);
        l->index = t;
        l->index_size = size;
        for (size_t i = 0; i < l->p->nstalls; i++)
            if (i != stall)
                index_put(l, i);
    }
    index_put(l, stall);
    return 0;
}

struct stall_progress *trace_progress(struct loader *l, uint32_t tid)
{
    size_t i;
    int rc = ss_key_table_get(&l->progress_by_tid, tid, 0, 0, l->nprogress, &i);
    if (rc < 0 ||
        (rc == SS_KEY_ADDED && SS_ARRAY_GROW(l->progress, l->progress_cap, l->nprogress + 1) < 0))
        return NULL;
    if (rc == SS_KEY_ADDED)
        l->nprogress++;
    return &l->progress[i];
}

/* A stall is complete, and may be summarised, when no record of it can follow: its end was
 * seen and its thread has gone on to a later stall, a later stall of its thread has ended (the
 * writer ends a thread's stalls in order, so its own end was lost), or the file ended. */
static int stall_complete(struct loader *l, const struct ss_stall *s)
{
    if (l->file_ended)
        return 1;
    struct stall_progress *pr = trace_progress(l, s->tid);
    return pr &&
           (pr->latest_end_id > s->start_ns || (!s->in_progress && pr->latest_id > s->start_ns));
}

int trace_note_progress(struct loader *l, uint32_t tid, uint64_t stall_id, int ended)
{
    struct stall_progress *pr = trace_progress(l, tid);
    if (!pr)
        return -ENOMEM;
    if (stall_id > pr->latest_id)
        pr->latest_id = stall_id;
    if (ended && stall_id > pr->latest_end_id)
        pr->latest_end_id = stall_id;
    return 0;
}
void trace_free_stall(struct ss_stall *s)
{
    free(s->samples);
    free(s->calls);
}

/* Adds a stall to the process's summary; -ENOMEM when out of memory. */
static int summarise(struct loader *l, const struct ss_stall *s)
{
    struct ss_summary *sum = &l->p->summary;
    size_t i;
    int rc = ss_key_table_get(&l->summary_threads, s->tid, 0, 0, sum->nthreads, &i);
    if (rc < 0 || (rc == SS_KEY_ADDED &&
                   SS_ARRAY_GROW(sum->threads, l->summary_threads_cap, sum->nthreads + 1) < 0))
        return -ENOMEM;
    if (rc == SS_KEY_ADDED)
        sum->threads[sum->nthreads++].tid = s->tid;
    struct ss_summary_thread *t = &sum->threads[i];
    t->stalls++;
    t->total_ns += s->duration_ns;
    if (s->duration_ns > t->max_ns)
        t->max_ns = s->duration_ns;
    t->hist[ss_hist_bucket(s->duration_ns)]++;
    sum->stalls++;
    for (size_t k = 0; k < s->ncalls; k++) {
        const struct ss_stall_call *c = &s->calls[k];
        rc = ss_key_table_get(&l->summary_calls, s->tid, (uintptr_t)c->function,
                              (uintptr_t)c->category, sum->ncalls, &i);
        if (rc < 0 || (rc == SS_KEY_ADDED &&
                       SS_ARRAY_GROW(sum->calls, l->summary_calls_cap, sum->ncalls + 1) < 0))
            return -ENOMEM;
        if (rc == SS_KEY_ADDED)
            sum->calls[sum->ncalls++] =
                (struct ss_summary_call){s->tid, c->function, c->category, 0, 0};
        sum->calls[i].count += c->count;
        sum->calls[i].duration_ns += c->duration_ns;
    }
    if (s->nsamples == 0)
        return 0;
    if (SS_ARRAY_GROW(l->spans, l->spans_cap, s->nsamples) < 0)
        return -ENOMEM;
    size_t n = ss_stall_spans(s, l->spans), longest = ss_longest_span(l->spans, n);
    for (size_t k = 0; k < n; k++) {
        const struct ss_sample *smp = l->spans[k].sample;
        const char *call = smp->source == SS_SAMPLE_CALL ? smp->call : NULL;
        rc = ss_key_table_get(&l->summary_stacks, s->tid, (uintptr_t)smp->stack, (uintptr_t)call,
                              sum->nstacks, &i);
        if (rc < 0 || (rc == SS_KEY_ADDED &&
                       SS_ARRAY_GROW(sum->stacks, l->summary_stacks_cap, sum->nstacks + 1) < 0))
            return -ENOMEM;
        if (rc == SS_KEY_ADDED) {
            struct ss_summary_stack *e = &sum->stacks[sum->nstacks++];
            e->tid = s->tid;
            e->sample.stack = smp->stack;
            e->sample.call = call;
            e->sample.source = call ? SS_SAMPLE_CALL : SS_SAMPLE_SIGNAL;
        }
        sum->stacks[i].spans++;
        sum->stacks[i].span_ns += l->spans[k].end_ns - l->spans[k].begin_ns;
        sum->stacks[i].stalls += k == longest;
    }
    return 0;
}

/* Longest first; among equals the earlier, so that the stalls kept do not depend on when the
 * surplus was summarised. */
static int by_rank(const void *a, const void *b)
{
    const struct ss_stall *x = a, *y = b;
    if (x->duration_ns != y->duration_ns)
        return x->duration_ns < y->duration_ns ? 1 : -1;
    if (x->start_ns != y->start_ns)
        return x->start_ns < y->start_ns ? -1 : 1;
    return x->tid < y->tid ? -1 : x->tid > y->tid;
}

/* Keeps the longest l->keep of the complete stalls and summarises the other complete ones;
 * stalls still in progress stay. Called when the stalls held reach l->prune_at, which then
 * moves on by a margin, so that summarising costs a constant per stall. */
static int prune(struct loader *l)
{
    struct ss_process *p = l->p;
    size_t ncomplete = 0;
    for (size_t i = 0; i < p->nstalls; i++) {
        if (!stall_complete(l, &p->stalls[i]))
            continue;
        struct ss_stall tmp = p->stalls[i];
        p->stalls[i] = p->stalls[ncomplete];
        p->stalls[ncomplete++] = tmp;
    }
    int rc = 0;
    if (ncomplete > l->keep) {
        qsort(p->stalls, ncomplete, sizeof *p->stalls, by_rank);
        for (size_t i = l->keep; i < ncomplete; i++) {
            if (rc == 0)
                rc = summarise(l, &p->stalls[i]);
            trace_free_stall(&p->stalls[i]);
        }
        memmove(p->stalls + l->keep, p->stalls + ncomplete,
                (p->nstalls - ncomplete) * sizeof *p->stalls);
        p->nstalls -= ncomplete - l->keep;
    }
    reindex(l);
    size_t margin = l->keep / 2 > 64 ? l->keep / 2 : 64;
    l->prune_at = (p->nstalls > l->keep ? p->nstalls : l->keep) + margin;
    return rc;
}

struct ss_stall *trace_find_stall(struct loader *l, uint32_t tid, uint64_t start, int create)
{
    if (l->index_size) {
        size_t j = ss_hash_words(tid, start, 0) & (l->index_size - 1);
        for (; l->index[j]; j = (j + 1) & (l->index_size - 1)) {
            struct ss_stall *s = &l->p->stalls[l->index[j] - 1];
            if (s->tid == tid && s->start_ns == start)
                return s;
        }
    }
    if (!create)
        return NULL;
    struct ss_process *p = l->p;
    if (l->keep && p->nstalls >= l->prune_at && prune(l) < 0)
        return NULL;
    if (SS_ARRAY_GROW(p->stalls, l->stalls_cap, p->nstalls + 1) < 0)
        return NULL;
    struct ss_stall *s = &p->stalls[p->nstalls];
    memset(s, 0, sizeof *s);
    s->tid = tid;
    s->start_ns = start;
    s->in_progress = 1;
    p->nstalls++;
    if (index_insert(l, p->nstalls - 1) < 0) {
        p->nstalls--;
        return NULL;
    }
    return s;
}

struct ss_loop *trace_loop_ended_at(struct loader *l, uint32_t tid, uint64_t start)
{
    long i = ss_key_table_find(&l->loop_lasts, tid, start, 0);
    return i < 0 ? NULL : &l->p->loops[i];
}

struct ss_stall *trace_record_stall(struct loader *l, uint32_t tid, uint64_t stall_id)
{
    if (trace_note_progress(l, tid, stall_id, 0) < 0)
        return NULL;
    struct ss_loop *loop = trace_loop_ended_at(l, tid, stall_id);
    return loop ? &loop->last : trace_find_stall(l, tid, stall_id, 1);
}
void trace_take_stalls(struct loader *l, uint32_t tid, uint64_t from, uint64_t to,
                       struct ss_stall *last)
{
    struct ss_process *p = l->p;
    size_t kept = 0;
    for (size_t i = 0; i < p->nstalls; i++) {
        struct ss_stall *s = &p->stalls[i];
        if (s->tid != tid || s->start_ns < from || s->start_ns > to)
            p->stalls[kept++] = *s;
        else if (last && s->start_ns == to)
            *last = *s;
        else
            trace_free_stall(s);
    }
    if (kept != p->nstalls) {
        p->nstalls = kept;
        reindex(l);
    }
}
static int by_summary_thread(const void *a, const void *b)
{
    const struct ss_summary_thread *x = a, *y = b;
    return x->tid < y->tid ? -1 : x->tid > y->tid;
}

static int by_summary_call(const void *a, const void *b)
{
    const struct ss_summary_call *x = a, *y = b;
    if (x->tid != y->tid)
        return x->tid < y->tid ? -1 : 1;
    int c = strcmp(x->function, y->function);
    return c ? c : strcmp(x->category, y->category);
}

static int by_summary_stack(const void *a, const void *b)
{
    const struct ss_summary_stack *x = a, *y = b;
    uint32_t xs = x->sample.stack ? x->sample.stack->id : 0;
    uint32_t ys = y->sample.stack ? y->sample.stack->id : 0;
    if (x->tid != y->tid)
        return x->tid < y->tid ? -1 : 1;
    if (xs != ys)
        return xs < ys ? -1 : 1;
    if (!x->sample.call || !y->sample.call)
        return !!x->sample.call - !!y->sample.call;
    return strcmp(x->sample.call, y->sample.call);
}

/* Summarises what is left over once the whole file is read, and puts the summary in an order
 * that does not depend on when each stall was summarised. */
int trace_finish_stalls(struct loader *l)
{
    struct ss_summary *sum = &l->p->summary;
    l->file_ended = 1;
    if (l->keep && l->p->nstalls > l->keep && prune(l) < 0)
        return -ENOMEM;
    if (sum->nthreads)
        qsort(sum->threads, sum->nthreads, sizeof *sum->threads, by_summary_thread);
    if (sum->ncalls)
        qsort(sum->calls, sum->ncalls, sizeof *sum->calls, by_summary_call);
    if (sum->nstacks)
        qsort(sum->stacks, sum->nstacks, sizeof *sum->stacks, by_summary_stack);
    return 0;
}

void trace_free_loader(struct loader *l)
{
    free(l->index);
    free(l->progress);
    ss_key_table_free(&l->progress_by_tid);
    ss_key_table_free(&l->loop_lasts);
    ss_key_table_free(&l->stack_ids);
    ss_key_table_free(&l->pyframe_ids);
    ss_key_table_free(&l->summary_threads);
    ss_key_table_free(&l->summary_calls);
    ss_key_table_free(&l->summary_stacks);
    free(l->spans);
}
