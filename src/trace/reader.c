#define _GNU_SOURCE
#include "model.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "flame.h"
#include "util/array.h"
#include "util/hash.h"

/* How far the records of a loop thread's stalls have come, to know which stalls are complete,
 * and which of its loops is still running. */
struct stall_progress {
    uint64_t latest_id;     /* the latest stall with any record */
    uint64_t latest_end_id; /* the latest stall with its end (or its loop's) */
    size_t open_loop;       /* index + 1 in p->loops of the loop not ended yet, 0 for none */
};

/* Loading state of one process: capacities and the indexes live only while reading. */
struct loader {
    struct ss_process *p;
    size_t threads_cap, stalls_cap, stacks_cap, modules_cap, notes_cap, calls_cap, loops_cap;
    size_t *index; /* open addressing over stalls: slot holds stall index + 1 */
    size_t index_size;
    size_t keep;     /* stalls kept in detail, 0 for all */
    size_t prune_at; /* the number of stalls held at which to summarise the surplus */
    int file_ended;  /* every stall is complete */
    struct stall_progress *progress;
    size_t nprogress, progress_cap;
    struct ss_key_table progress_by_tid;
    struct ss_key_table loop_lasts; /* (tid, start of a loop's last stretch) to the loop's index */
    size_t summary_threads_cap, summary_calls_cap, summary_stacks_cap;
    struct ss_key_table summary_threads, summary_calls, summary_stacks;
    struct ss_span *spans; /* scratch for the stall being summarised */
    size_t spans_cap;
    char *err;
    size_t err_size;
};

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
            return -1;
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

static struct stall_progress *progress_of(struct loader *l, uint32_t tid)
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
    struct stall_progress *pr = progress_of(l, s->tid);
    return pr &&
           (pr->latest_end_id > s->start_ns || (!s->in_progress && pr->latest_id > s->start_ns));
}

static int note_progress(struct loader *l, uint32_t tid, uint64_t stall_id, int ended)
{
    struct stall_progress *pr = progress_of(l, tid);
    if (!pr)
        return -1;
    if (stall_id > pr->latest_id)
        pr->latest_id = stall_id;
    if (ended && stall_id > pr->latest_end_id)
        pr->latest_end_id = stall_id;
    return 0;
}

static const char *intern(struct loader *l, const uint8_t *b, size_t n)
{
    return ss_intern_bytes(&l->p->strings, (const char *)b, n);
}

static void free_stall(struct ss_stall *s)
{
    free(s->samples);
    free(s->calls);
}

/* Adds a stall to the process's summary. */
static int summarise(struct loader *l, const struct ss_stall *s)
{
    struct ss_summary *sum = &l->p->summary;
    size_t i;
    int rc = ss_key_table_get(&l->summary_threads, s->tid, 0, 0, sum->nthreads, &i);
    if (rc < 0 || (rc == SS_KEY_ADDED &&
                   SS_ARRAY_GROW(sum->threads, l->summary_threads_cap, sum->nthreads + 1) < 0))
        return -1;
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
            return -1;
        if (rc == SS_KEY_ADDED)
            sum->calls[sum->ncalls++] =
                (struct ss_summary_call){s->tid, c->function, c->category, 0, 0};
        sum->calls[i].count += c->count;
        sum->calls[i].duration_ns += c->duration_ns;
    }
    if (s->nsamples == 0)
        return 0;
    if (SS_ARRAY_GROW(l->spans, l->spans_cap, s->nsamples) < 0)
        return -1;
    size_t n = ss_stall_spans(s, l->spans);
    for (size_t k = 0; k < n; k++) {
        const struct ss_sample *smp = l->spans[k].sample;
        const char *call = smp->source == SS_SAMPLE_CALL ? smp->call : NULL;
        rc = ss_key_table_get(&l->summary_stacks, s->tid, (uintptr_t)smp->stack, (uintptr_t)call,
                              sum->nstacks, &i);
        if (rc < 0 || (rc == SS_KEY_ADDED &&
                       SS_ARRAY_GROW(sum->stacks, l->summary_stacks_cap, sum->nstacks + 1) < 0))
            return -1;
        if (rc == SS_KEY_ADDED) {
            struct ss_summary_stack *e = &sum->stacks[sum->nstacks++];
            e->tid = s->tid;
            e->sample.stack = smp->stack;
            e->sample.call = call;
            e->sample.source = call ? SS_SAMPLE_CALL : SS_SAMPLE_SIGNAL;
        }
        sum->stacks[i].spans++;
        sum->stacks[i].span_ns += l->spans[k].end_ns - l->spans[k].begin_ns;
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
            free_stall(&p->stalls[i]);
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

static struct ss_stall *find_stall(struct loader *l, uint32_t tid, uint64_t start, int create)
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

/* The loop whose last stretch began at start on thread tid, or NULL. */
static struct ss_loop *loop_ended_at(struct loader *l, uint32_t tid, uint64_t start)
{
    long i = ss_key_table_find(&l->loop_lasts, tid, start, 0);
    return i < 0 ? NULL : &l->p->loops[i];
}

/* What a record of a stall adds to: the last stretch of a loop when the stall turned out to be
 * that, else the stall, made when new. NULL when out of memory. */
static struct ss_stall *stall_of(struct loader *l, uint32_t tid, uint64_t stall_id)
{
    struct ss_loop *loop = loop_ended_at(l, tid, stall_id);
    return loop ? &loop->last : find_stall(l, tid, stall_id, 1);
}

static struct ss_thread *find_thread(struct loader *l, uint32_t tid, int create)
{
    struct ss_process *p = l->p;
    for (size_t i = 0; i < p->nthreads; i++)
        if (p->threads[i].tid == tid)
            return &p->threads[i];
    if (!create || SS_ARRAY_GROW(p->threads, l->threads_cap, p->nthreads + 1) < 0)
        return NULL;
    struct ss_thread *t = &p->threads[p->nthreads++];
    memset(t, 0, sizeof *t);
    t->tid = tid;
    return t;
}

static char *dup_bytes(const uint8_t *b, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, b, n);
        s[n] = '\0';
    }
    return s;
}

static void seen_time(struct ss_process *p, uint64_t ns)
{
    if (ns > p->last_ns)
        p->last_ns = ns;
}

#define FAIL(code, ...)                                                                            \
    do {                                                                                           \
        snprintf(l->err, l->err_size, __VA_ARGS__);                                                \
        return (code);                                                                             \
    } while (0)

/* Each record handler gets the payload, already bounds-checked against the file and at least
 * as long as the record's fixed part. It returns 0, SS_ECORRUPT for a malformed record (the
 * caller says which one), or another negative code with its detail written to l->err. */
static int on_process(struct loader *l, const uint8_t *b, size_t n)
{
    struct ss_rec_process r;
    struct ss_process *p = l->p;
    memcpy(&r, b, sizeof r);
    if ((uint64_t)r.exe_len + r.cmd_len > n - sizeof r)
        return SS_ECORRUPT;
    p->pid = r.pid;
    p->ppid = r.ppid;
    p->start_mono_ns = r.start_mono_ns;
    p->start_real_ns = r.start_real_ns;
    p->threshold_ns = r.threshold_ns;
    p->interval_ns = r.interval_ns;
    free(p->exe);
    free(p->command);
    p->exe = dup_bytes(b + sizeof r, r.exe_len);
    p->command = dup_bytes(b + sizeof r + r.exe_len, r.cmd_len);
    if (!p->exe || !p->command)
        FAIL(-ENOMEM, "out of memory");
    size_t len = r.cmd_len;
    while (len > 0 && p->command[len - 1] == '\0')
        len--;
    p->command[len] = '\0';
    for (size_t i = 0; i < len; i++)
        if (p->command[i] == '\0')
            p->command[i] = ' ';
    seen_time(p, r.start_mono_ns);
    return 0;
}

static int on_module(struct loader *l, const uint8_t *b, size_t n)
{
    struct ss_rec_module r;
    struct ss_process *p = l->p;
    memcpy(&r, b, sizeof r);
    if ((size_t)r.build_id_len + r.path_len > n - sizeof r || r.lo >= r.hi)
        return SS_ECORRUPT;
    const char *path = (const char *)b + sizeof r + r.build_id_len;
    for (size_t i = 0; i < p->nmodules; i++)
        if (p->modules[i].bias == r.bias && p->modules[i].lo == r.lo &&
            strlen(p->modules[i].path) == r.path_len &&
            memcmp(p->modules[i].path, path, r.path_len) == 0)
            return 0;
    if (SS_ARRAY_GROW(p->modules, l->modules_cap, p->nmodules + 1) < 0)
        FAIL(-ENOMEM, "out of memory");
    struct ss_module *m = &p->modules[p->nmodules];
    m->bias = r.bias;
    m->lo = r.lo;
    m->hi = r.hi;
    /* A build-id longer than any in use is kept out rather than refused: the module is then
     * symbolized without the check. */
    m->build_id_len = r.build_id_len <= sizeof m->build_id ? r.build_id_len : 0;
    memcpy(m->build_id, b + sizeof r, m->build_id_len);
    if (!(m->path = dup_bytes((const uint8_t *)path, r.path_len)))
        FAIL(-ENOMEM, "out of memory");
    p->nmodules++;
    return 0;
}

static int on_thread(struct loader *l, const uint8_t *b, size_t n)
{
    struct ss_rec_thread r;
    memcpy(&r, b, sizeof r);
    struct ss_thread *t = find_thread(l, r.tid, 1);
    if (!t)
        FAIL(-ENOMEM, "out of memory");
    size_t len = n - sizeof r;
    if (len >= sizeof t->name)
        len = sizeof t->name - 1;
    memcpy(t->name, b + sizeof r, len);
    t->name[len] = '\0';
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)t->name[i] < 0x20)
            t->name[i] = '?';
    t->loop = (r.flags & SS_THREAD_LOOP) != 0;
    t->first_wait_ns = r.first_wait_ns;
    return 0;
}

static int on_stack(struct loader *l, const uint8_t *b, size_t n)
{
    struct ss_rec_stack r;
    struct ss_process *p = l->p;
    memcpy(&r, b, sizeof r);
    if (r.stack_id == 0 || r.nframes == 0 || r.nframes > SS_TRACE_MAX_FRAMES ||
        (size_t)r.nframes * 8 != n - sizeof r || r.stack_id > (1u << 26))
        return SS_ECORRUPT;
    if (SS_ARRAY_GROW(p->stacks, l->stacks_cap, (size_t)r.stack_id + 1) < 0)
        FAIL(-ENOMEM, "out of memory");
    if (p->stacks[r.stack_id])
        return SS_ECORRUPT;
    struct ss_stack *s = calloc(1, sizeof *s);
    if (!s || !(s->addrs = malloc(r.nframes * sizeof *s->addrs))) {
        free(s);
        FAIL(-ENOMEM, "out of memory");
    }
    s->id = r.stack_id;
    s->nframes = r.nframes;
    memcpy(s->addrs, b + sizeof r, r.nframes * sizeof *s->addrs);
    p->stacks[r.stack_id] = s;
    if (r.stack_id >= p->nstacks)
        p->nstacks = (size_t)r.stack_id + 1;
    return 0;
}

static int on_stall_begin(struct loader *l, const uint8_t *b, size_t n)
{
    struct ss_rec_stall_begin r;
    memcpy(&r, b, sizeof r);
    struct ss_stall *s =
        note_progress(l, r.tid, r.stall_id, 0) < 0 ? NULL : stall_of(l, r.tid, r.stall_id);
    if (!s)
        FAIL(-ENOMEM, "out of memory");
    if (s->in_progress && s->duration_ns < l->p->threshold_ns)
        s->duration_ns = l->p->threshold_ns;
    seen_time(l->p, r.start_ns + l->p->threshold_ns);
    return 0;
}

static int on_sample(struct loader *l, const uint8_t *b, size_t n)
{
    struct ss_rec_sample r;
    struct ss_process *p = l->p;
    memcpy(&r, b, sizeof r);
    struct ss_stall *s =
        note_progress(l, r.tid, r.stall_id, 0) < 0 ? NULL : stall_of(l, r.tid, r.stall_id);
    if (!s || SS_ARRAY_GROW(s->samples, s->samples_cap, s->nsamples + 1) < 0)
        FAIL(-ENOMEM, "out of memory");
    struct ss_sample *smp = &s->samples[s->nsamples];
    memset(smp, 0, sizeof *smp);
    smp->offset_ns = r.offset_ns;
    smp->capture_ns = r.capture_ns;
    smp->source = r.source;
    smp->call_ns = r.call_ns;
    if (n > sizeof r && !(smp->call = intern(l, b + sizeof r, n - sizeof r)))
        FAIL(-ENOMEM, "out of memory");
    if (r.stack_id && r.stack_id < p->nstacks)
        smp->stack = p->stacks[r.stack_id];
    s->nsamples++;
    if (s->in_progress && r.offset_ns > s->duration_ns)
        s->duration_ns = r.offset_ns;
    seen_time(p, r.stall_id + r.offset_ns);
    return 0;
}

static int on_stall_end(struct loader *l, const uint8_t *b, size_t n)
{
    struct ss_rec_stall_end r;
    memcpy(&r, b, sizeof r);
    if (note_progress(l, r.tid, r.stall_id, 1) < 0)
        FAIL(-ENOMEM, "out of memory");
    /* A loop's end is measured by its LOOP_END, whatever a stray STALL_END says. */
    if (loop_ended_at(l, r.tid, r.stall_id))
        return 0;
    struct ss_stall *s = find_stall(l, r.tid, r.stall_id, 1);
    if (!s)
        FAIL(-ENOMEM, "out of memory");
    s->in_progress = 0;
    s->duration_ns = r.duration_ns;
    seen_time(l->p, r.start_ns + r.duration_ns);
    return 0;
}

static int on_histogram(struct loader *l, const uint8_t *b, size_t n)
{
    struct ss_rec_histogram r;
    memcpy(&r, b, sizeof r);
    if (r.nbuckets != SS_HIST_BUCKETS || n - sizeof r != SS_HIST_BUCKETS * 8)
        return SS_ECORRUPT;
    struct ss_thread *t = find_thread(l, r.tid, 1);
    if (!t)
        FAIL(-ENOMEM, "out of memory");
    t->iterations = r.iterations;
    t->busy_total_ns = r.busy_total_ns;
    t->busy_max_ns = r.busy_max_ns;
    memcpy(t->hist, b + sizeof r, sizeof t->hist);
    return 0;
}

static int on_drops(struct loader *l, const uint8_t *b, size_t n)
{
    (void)n;
    memcpy(&l->p->drops, b, sizeof l->p->drops);
    return 0;
}

static int on_sampling(struct loader *l, const uint8_t *b, size_t n)
{
    (void)n;
    memcpy(&l->p->sampling, b, sizeof l->p->sampling);
    return 0;
}

static int on_thread_exit(struct loader *l, const uint8_t *b, size_t n)
{
    struct ss_rec_thread_exit r;
    memcpy(&r, b, sizeof r);
    struct ss_thread *t = find_thread(l, r.tid, 1);
    if (!t)
        FAIL(-ENOMEM, "out of memory");
    t->exit_ns = r.ns;
    seen_time(l->p, r.ns);
    return 0;
}

static int on_end(struct loader *l, const uint8_t *b, size_t n)
{
    struct ss_rec_end r;
    memcpy(&r, b, sizeof r);
    l->p->end_ns = r.mono_ns;
    seen_time(l->p, r.mono_ns);
    return 0;
}

static int on_note(struct loader *l, const uint8_t *b, size_t n)
{
    struct ss_process *p = l->p;
    if (SS_ARRAY_GROW(p->notes, l->notes_cap, p->nnotes + 1) < 0 ||
        !(p->notes[p->nnotes] = dup_bytes(b, n)))
        FAIL(-ENOMEM, "out of memory");
    p->nuntraced += ss_note_is_untraced_child(p->notes[p->nnotes]);
    p->nnotes++;
    return 0;
}

static const char *const category_names[] = {
#define SS_CAT_NAME(name, text) text,
    SS_CATEGORIES(SS_CAT_NAME)
#undef SS_CAT_NAME
};

const char *ss_category_name(unsigned category)
{
    return category < sizeof category_names / sizeof category_names[0] ? category_names[category]
                                                                       : NULL;
}

static struct ss_stack *stack_by_id(const struct ss_process *p, uint32_t id)
{
    return id && id < p->nstacks ? p->stacks[id] : NULL;
}

static int on_call_site(struct loader *l, const uint8_t *b, size_t n)
{
    struct ss_rec_call_site r;
    struct ss_process *p = l->p;
    memcpy(&r, b, sizeof r);
    const char *category = ss_category_name(r.category);
    if ((size_t)r.function_len + r.detail_len != n - sizeof r || !category || !r.function_len)
        return SS_ECORRUPT;
    struct ss_call_site *c = NULL;
    for (size_t i = p->ncalls; i-- > 0;)
        if (p->calls[i].tid == r.tid && p->calls[i].id == r.site_id) {
            c = &p->calls[i];
            break;
        }
    if (!c) {
        if (SS_ARRAY_GROW(p->calls, l->calls_cap, p->ncalls + 1) < 0)
            FAIL(-ENOMEM, "out of memory");
        c = &p->calls[p->ncalls++];
        memset(c, 0, sizeof *c);
        c->tid = r.tid;
        c->id = r.site_id;
        if (!(c->function = dup_bytes(b + sizeof r, r.function_len)) ||
            !(c->detail = dup_bytes(b + sizeof r + r.function_len, r.detail_len)))
            FAIL(-ENOMEM, "out of memory");
    }
    c->category = category;
    c->count = r.count;
    c->total_ns = r.total_ns;
    c->max_ns = r.max_ns;
    c->first_ns = r.first_ns;
    c->stack = stack_by_id(p, r.stack_id);
    seen_time(p, r.first_ns);
    return 0;
}

static int on_stall_call(struct loader *l, const uint8_t *b, size_t n)
{
    struct ss_rec_stall_call r;
    memcpy(&r, b, sizeof r);
    const char *category = ss_category_name(r.category);
    if (!category)
        return SS_ECORRUPT;
    struct ss_stall *s =
        note_progress(l, r.tid, r.stall_id, 0) < 0 ? NULL : stall_of(l, r.tid, r.stall_id);
    if (!s || SS_ARRAY_GROW(s->calls, s->calls_cap, s->ncalls + 1) < 0)
        FAIL(-ENOMEM, "out of memory");
    struct ss_stall_call *c = &s->calls[s->ncalls];
    if (!(c->function = intern(l, b + sizeof r, n - sizeof r)))
        FAIL(-ENOMEM, "out of memory");
    c->category = category;
    c->count = r.count;
    c->duration_ns = r.total_ns;
    s->ncalls++;
    return 0;
}

static int on_stall_split(struct loader *l, const uint8_t *b, size_t n)
{
    struct ss_rec_stall_split r;
    memcpy(&r, b, sizeof r);
    struct ss_stall *s =
        note_progress(l, r.tid, r.stall_id, 0) < 0 ? NULL : stall_of(l, r.tid, r.stall_id);
    if (!s)
        FAIL(-ENOMEM, "out of memory");
    s->split_window_ns = r.window_ns;
    s->split_cpu_ns = r.cpu_ns;
    s->split_runnable_ns = r.runnable_ns;
    s->split_from_start = (r.flags & SS_SPLIT_FROM_START) != 0;
    return 0;
}

static int on_stall_pause(struct loader *l, const uint8_t *b, size_t n)
{
    struct ss_rec_stall_pause r;
    (void)n;
    memcpy(&r, b, sizeof r);
    if (r.kind != SS_PAUSE_STOPPED && r.kind != SS_PAUSE_MACHINE)
        return SS_ECORRUPT;
    struct ss_stall *s =
        note_progress(l, r.tid, r.stall_id, 0) < 0 ? NULL : stall_of(l, r.tid, r.stall_id);
    if (!s)
        FAIL(-ENOMEM, "out of memory");
    if (r.kind == SS_PAUSE_STOPPED)
        s->stopped_ns = r.paused_ns;
    else
        s->machine_ns = r.paused_ns;
    return 0;
}

static struct ss_loop *new_loop(struct loader *l, uint32_t tid)
{
    struct ss_process *p = l->p;
    if (SS_ARRAY_GROW(p->loops, l->loops_cap, p->nloops + 1) < 0)
        return NULL;
    struct ss_loop *loop = &p->loops[p->nloops++];
    memset(loop, 0, sizeof *loop);
    loop->tid = tid;
    loop->fd = -1;
    loop->wait = "";
    return loop;
}

static int on_loop_begin(struct loader *l, const uint8_t *b, size_t n)
{
    struct ss_rec_loop_begin r;
    struct ss_process *p = l->p;
    memcpy(&r, b, sizeof r);
    if (r.kind != SS_LOOP_EPOLL && r.kind != SS_LOOP_SITE)
        return SS_ECORRUPT;
    struct stall_progress *pr = progress_of(l, r.tid);
    if (!pr)
        FAIL(-ENOMEM, "out of memory");
    if (pr->open_loop) {
        /* Its end was lost: the writer ends a loop before the thread's next one begins. */
        struct ss_loop *before = &p->loops[pr->open_loop - 1];
        before->end_ns = r.at_ns;
        before->end_reason = SS_LOOP_REPLACED;
    }
    struct ss_loop *loop = new_loop(l, r.tid);
    if (!loop || !(loop->wait = intern(l, b + sizeof r, n - sizeof r)))
        FAIL(-ENOMEM, "out of memory");
    loop->kind = r.kind;
    loop->fd = r.fd;
    loop->site = stack_by_id(p, r.site_stack_id);
    loop->begin_ns = r.at_ns;
    pr->open_loop = p->nloops;
    seen_time(p, r.at_ns);
    return 0;
}

/* Takes the stalls of tid that began in [from, to] out of the stall list: the one that began
 * at to into *last when last is given, the others freed. */
static void take_stalls(struct loader *l, uint32_t tid, uint64_t from, uint64_t to,
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
            free_stall(s);
    }
    if (kept != p->nstalls) {
        p->nstalls = kept;
        reindex(l);
    }
}

/* A worker taken for a loop: its stalls of that time were none, and its busy times count
 * afresh (the writer starts a new histogram). */
static void forget_loop(struct loader *l, const struct ss_loop *loop)
{
    take_stalls(l, loop->tid, loop->begin_ns,
                loop->last.start_ns ? loop->last.start_ns : loop->end_ns, NULL);
    struct ss_thread *t = find_thread(l, loop->tid, 0);
    if (t) {
        t->iterations = t->busy_total_ns = t->busy_max_ns = 0;
        memset(t->hist, 0, sizeof t->hist);
    }
}

static int on_loop_end(struct loader *l, const uint8_t *b, size_t n)
{
    struct ss_rec_loop_end r;
    struct ss_process *p = l->p;
    (void)n;
    memcpy(&r, b, sizeof r);
    if (!r.reason || r.reason > SS_LOOP_PROCESS_EXIT || r.last_start > r.end_ns)
        return SS_ECORRUPT;
    /* The last stretch ends the thread's stalls as a STALL_END would. */
    struct stall_progress *pr =
        r.last_start && note_progress(l, r.tid, r.last_start, 1) < 0 ? NULL : progress_of(l, r.tid);
    if (!pr)
        FAIL(-ENOMEM, "out of memory");
    struct ss_loop *loop = pr->open_loop ? &p->loops[pr->open_loop - 1] : new_loop(l, r.tid);
    if (!loop)
        FAIL(-ENOMEM, "out of memory");
    pr->open_loop = 0;
    loop->end_ns = r.end_ns;
    loop->end_reason = r.reason;
    seen_time(p, r.end_ns);
    if (r.last_start) {
        size_t index;
        if (ss_key_table_get(&l->loop_lasts, r.tid, r.last_start, 0, (size_t)(loop - p->loops),
                             &index) < 0)
            FAIL(-ENOMEM, "out of memory");
        if (r.reason != SS_LOOP_NOT_A_LOOP)
            take_stalls(l, r.tid, r.last_start, r.last_start, &loop->last);
        loop->last.tid = r.tid;
        loop->last.start_ns = r.last_start;
        loop->last.duration_ns = r.end_ns - r.last_start;
        loop->last.in_progress = 0;
    }
    if (r.reason == SS_LOOP_NOT_A_LOOP)
        forget_loop(l, loop);
    return 0;
}

typedef int (*record_fn)(struct loader *, const uint8_t *, size_t);

/* Fixed part of each record; a shorter payload is malformed before its handler sees it. */
static const size_t fixed_size[] = {
    [SS_REC_PROCESS] = sizeof(struct ss_rec_process),
    [SS_REC_MODULE] = sizeof(struct ss_rec_module),
    [SS_REC_THREAD] = sizeof(struct ss_rec_thread),
    [SS_REC_STACK] = sizeof(struct ss_rec_stack),
    [SS_REC_STALL_BEGIN] = sizeof(struct ss_rec_stall_begin),
    [SS_REC_SAMPLE] = sizeof(struct ss_rec_sample),
    [SS_REC_STALL_END] = sizeof(struct ss_rec_stall_end),
    [SS_REC_HISTOGRAM] = sizeof(struct ss_rec_histogram),
    [SS_REC_DROPS] = sizeof(struct ss_rec_drops),
    [SS_REC_THREAD_EXIT] = sizeof(struct ss_rec_thread_exit),
    [SS_REC_END] = sizeof(struct ss_rec_end),
    [SS_REC_NOTE] = 0,
    [SS_REC_CALL_SITE] = sizeof(struct ss_rec_call_site),
    [SS_REC_STALL_CALL] = sizeof(struct ss_rec_stall_call) + 1,
    [SS_REC_STALL_SPLIT] = sizeof(struct ss_rec_stall_split),
    [SS_REC_SAMPLING] = sizeof(struct ss_rec_sampling),
    [SS_REC_LOOP_BEGIN] = sizeof(struct ss_rec_loop_begin),
    [SS_REC_LOOP_END] = sizeof(struct ss_rec_loop_end),
    [SS_REC_STALL_PAUSE] = sizeof(struct ss_rec_stall_pause),
};

static const record_fn handlers[] = {
    [SS_REC_PROCESS] = on_process,
    [SS_REC_MODULE] = on_module,
    [SS_REC_THREAD] = on_thread,
    [SS_REC_STACK] = on_stack,
    [SS_REC_STALL_BEGIN] = on_stall_begin,
    [SS_REC_SAMPLE] = on_sample,
    [SS_REC_STALL_END] = on_stall_end,
    [SS_REC_HISTOGRAM] = on_histogram,
    [SS_REC_DROPS] = on_drops,
    [SS_REC_THREAD_EXIT] = on_thread_exit,
    [SS_REC_END] = on_end,
    [SS_REC_NOTE] = on_note,
    [SS_REC_CALL_SITE] = on_call_site,
    [SS_REC_STALL_CALL] = on_stall_call,
    [SS_REC_STALL_SPLIT] = on_stall_split,
    [SS_REC_SAMPLING] = on_sampling,
    [SS_REC_LOOP_BEGIN] = on_loop_begin,
    [SS_REC_LOOP_END] = on_loop_end,
    [SS_REC_STALL_PAUSE] = on_stall_pause,
};

/* A trace is read in pieces, never whole: a buffer holds the record being parsed and what
 * follows it, so memory does not grow with the file (the model built from it does). */
#define READ_CHUNK (1u << 20)

struct trace_reader {
    int fd;
    uint8_t *buf;
    size_t cap, start, end; /* unparsed bytes are buf[start, end) */
    uint64_t offset;        /* file offset of buf[start] */
    int eof;
};

/* Makes at least need bytes available from start, unless the file ends first; returns how
 * many are available, or -1 on a read error. */
static ssize_t reader_fill(struct trace_reader *r, size_t need)
{
    if (r->end - r->start >= need || r->eof)
        return (ssize_t)(r->end - r->start);
    if (r->start + need > r->cap) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    while (r->end - r->start < need && !r->eof) {
        ssize_t n = read(r->fd, r->buf + r->end, r->cap - r->end);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            r->eof = 1;
        r->end += (size_t)n;
    }
    return (ssize_t)(r->end - r->start);
}

static void reader_skip(struct trace_reader *r, size_t n)
{
    r->start += n;
    r->offset += n;
}

#define READ_FAIL() FAIL(-EIO, "%s: %s", path, strerror(errno))

static int parse_trace(struct loader *l, const char *path, struct trace_reader *r)
{
    ssize_t avail = reader_fill(r, SS_TRACE_HEADER_SIZE);
    if (avail < 0)
        READ_FAIL();
    const uint8_t *d = r->buf + r->start;
    if ((size_t)avail < SS_TRACE_HEADER_SIZE || memcmp(d, SS_TRACE_MAGIC, SS_TRACE_MAGIC_LEN) != 0)
        FAIL(SS_EBADMAGIC, "%s: not a stallscope trace", path);
    uint32_t version, header;
    memcpy(&version, d + 8, 4);
    memcpy(&header, d + 12, 4);
    if (version != SS_TRACE_VERSION)
        FAIL(SS_EVERSION, "%s: trace version %u, this stallscope reads version %u", path, version,
             SS_TRACE_VERSION);
    if (header < SS_TRACE_HEADER_SIZE || header > READ_CHUNK ||
        (avail = reader_fill(r, header)) < (ssize_t)header)
        FAIL(SS_ECORRUPT, "%s: bad header size %u", path, header);
    reader_skip(r, header);
    int saw_process = 0;
    for (;;) {
        struct ss_rec_header h;
        if ((avail = reader_fill(r, sizeof h)) < 0)
            READ_FAIL();
        if (avail == 0)
            break;
        if ((size_t)avail < sizeof h) {
            l->p->truncated = 1;
            break;
        }
        memcpy(&h, r->buf + r->start, sizeof h);
        uint64_t off = r->offset;
        if (h.size > SS_TRACE_MAX_PAYLOAD || h.tag == 0)
            FAIL(SS_ECORRUPT, "%s: corrupt record at offset %llu (tag %u, size %u)", path,
                 (unsigned long long)off, h.tag, h.size);
        if ((avail = reader_fill(r, sizeof h + h.size)) < 0)
            READ_FAIL();
        if ((size_t)avail < sizeof h + h.size) {
            l->p->truncated = 1;
            break;
        }
        const uint8_t *payload = r->buf + r->start + sizeof h;
        if (h.tag < sizeof handlers / sizeof handlers[0] && handlers[h.tag]) {
            if (h.tag != SS_REC_PROCESS && !saw_process)
                FAIL(SS_ECORRUPT, "%s: record at offset %llu precedes the process record", path,
                     (unsigned long long)off);
            int rc = h.size < fixed_size[h.tag] ? SS_ECORRUPT : handlers[h.tag](l, payload, h.size);
            if (rc == SS_ECORRUPT)
                FAIL(SS_ECORRUPT, "%s: malformed record at offset %llu (tag %u, size %u)", path,
                     (unsigned long long)off, h.tag, h.size);
            if (rc < 0)
                return rc;
            saw_process |= h.tag == SS_REC_PROCESS;
        }
        reader_skip(r, sizeof h + h.size);
    }
    if (!saw_process)
        FAIL(SS_ECORRUPT, "%s: no process record (file cut short?)", path);
    return 0;
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
static int finish_stalls(struct loader *l)
{
    struct ss_summary *sum = &l->p->summary;
    l->file_ended = 1;
    if (l->keep && l->p->nstalls > l->keep && prune(l) < 0)
        return -1;
    if (sum->nthreads)
        qsort(sum->threads, sum->nthreads, sizeof *sum->threads, by_summary_thread);
    if (sum->ncalls)
        qsort(sum->calls, sum->ncalls, sizeof *sum->calls, by_summary_call);
    if (sum->nstacks)
        qsort(sum->stacks, sum->nstacks, sizeof *sum->stacks, by_summary_stack);
    return 0;
}

/* A thread is a loop thread when it had a loop that was not a worker's; a trace without loop
 * records says so in its THREAD records. */
static void mark_loop_threads(struct loader *l)
{
    struct ss_process *p = l->p;
    for (size_t i = 0; i < p->nloops; i++) {
        struct ss_thread *t = find_thread(l, p->loops[i].tid, 0);
        if (t && p->loops[i].end_reason == SS_LOOP_NOT_A_LOOP)
            t->loop = 0;
    }
    for (size_t i = 0; i < p->nloops; i++) {
        struct ss_thread *t = find_thread(l, p->loops[i].tid, 0);
        if (t && p->loops[i].end_reason != SS_LOOP_NOT_A_LOOP)
            t->loop = 1;
    }
}

static void free_loader(struct loader *l)
{
    free(l->index);
    free(l->progress);
    ss_key_table_free(&l->progress_by_tid);
    ss_key_table_free(&l->loop_lasts);
    ss_key_table_free(&l->summary_threads);
    ss_key_table_free(&l->summary_calls);
    ss_key_table_free(&l->summary_stacks);
    free(l->spans);
}

/* In a run directory, a file with no more than its header belongs to a process that is just
 * starting: it is left out rather than making the whole run unreadable. */
static int load_file(struct ss_run *run, const char *path, int in_dir, size_t keep, char *err,
                     size_t err_size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        int e = errno;
        snprintf(err, err_size, "%s: %s", path, strerror(e));
        if (fd >= 0)
            close(fd);
        return e == ENOENT ? -ENOENT : -EIO;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        snprintf(err, err_size, "%s: not a regular file", path);
        return SS_EBADMAGIC;
    }
    if (in_dir && st.st_size <= (off_t)SS_TRACE_HEADER_SIZE) {
        close(fd);
        return 0;
    }
    struct trace_reader r = {
        .fd = fd, .cap = READ_CHUNK + sizeof(struct ss_rec_header) + SS_TRACE_MAX_PAYLOAD};
    struct ss_process *procs = realloc(run->procs, (run->nprocs + 1) * sizeof *procs);
    if (procs)
        run->procs = procs;
    if (!procs || !(r.buf = malloc(r.cap))) {
        close(fd);
        snprintf(err, err_size, "out of memory");
        return -ENOMEM;
    }
    struct ss_process *p = &procs[run->nprocs++];
    memset(p, 0, sizeof *p);
    p->keep_stalls = keep;
    struct loader l = {.p = p, .keep = keep, .err = err, .err_size = err_size};
    size_t margin = keep / 2 > 64 ? keep / 2 : 64;
    l.prune_at = keep + margin;
    p->file = strdup(path);
    int rc = p->file ? parse_trace(&l, path, &r) : -ENOMEM;
    if (rc == 0 && finish_stalls(&l) < 0) {
        snprintf(err, err_size, "out of memory");
        rc = -ENOMEM;
    }
    if (rc == 0)
        mark_loop_threads(&l);
    free_loader(&l);
    free(r.buf);
    close(fd);
    return rc;
}

static int is_trace_name(const char *name)
{
    size_t n = strlen(name), pre = strlen(SS_TRACE_FILE_PREFIX), suf = strlen(SS_TRACE_FILE_SUFFIX);
    return n > pre + suf && strncmp(name, SS_TRACE_FILE_PREFIX, pre) == 0 &&
           strcmp(name + n - suf, SS_TRACE_FILE_SUFFIX) == 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int cmp_process(const void *a, const void *b)
{
    const struct ss_process *x = a, *y = b;
    if (x->start_mono_ns != y->start_mono_ns)
        return x->start_mono_ns < y->start_mono_ns ? -1 : 1;
    return x->pid < y->pid ? -1 : x->pid > y->pid;
}

static int cmp_stall(const void *a, const void *b)
{
    const struct ss_stall *x = a, *y = b;
    if (x->start_ns != y->start_ns)
        return x->start_ns < y->start_ns ? -1 : 1;
    return x->tid < y->tid ? -1 : x->tid > y->tid;
}

int ss_run_load(const char *path, struct ss_run **out, char *err, size_t err_size)
{
    return ss_run_load_keep(path, SS_KEEP_STALLS_DEFAULT, out, err, err_size);
}

int ss_run_load_keep(const char *path, size_t keep_stalls, struct ss_run **out, char *err,
                     size_t err_size)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        snprintf(err, err_size, "%s: %s", path, strerror(errno));
        return errno == ENOENT ? -ENOENT : -EIO;
    }
    struct ss_run *run = calloc(1, sizeof *run);
    if (!run || !(run->path = strdup(path)) || !(run->cache = ss_elf_cache_new())) {
        ss_run_free(run);
        snprintf(err, err_size, "out of memory");
        return -ENOMEM;
    }
    int rc = 0;
    if (S_ISDIR(st.st_mode)) {
        struct dirent **names;
        int n = scandir(path, &names, NULL, by_name);
        if (n < 0) {
            snprintf(err, err_size, "%s: %s", path, strerror(errno));
            ss_run_free(run);
            return -EIO;
        }
        for (int i = 0; i < n; i++) {
            if (rc == 0 && is_trace_name(names[i]->d_name)) {
                char *file;
                if (asprintf(&file, "%s/%s", path, names[i]->d_name) < 0) {
                    rc = -ENOMEM;
                } else {
                    rc = load_file(run, file, 1, keep_stalls, err, err_size);
                    free(file);
                }
            }
            free(names[i]);
        }
        free(names);
        if (rc == 0 && run->nprocs == 0) {
            snprintf(err, err_size,
                     "%s: no trace files (" SS_TRACE_FILE_PREFIX "*" SS_TRACE_FILE_SUFFIX
                     ") in this directory",
                     path);
            rc = SS_ENOTRACE;
        }
    } else {
        rc = load_file(run, path, 0, keep_stalls, err, err_size);
    }
    if (rc < 0) {
        ss_run_free(run);
        return rc;
    }
    qsort(run->procs, run->nprocs, sizeof *run->procs, cmp_process);
    for (size_t i = 0; i < run->nprocs; i++)
        if (run->procs[i].nstalls > 1)
            qsort(run->procs[i].stalls, run->procs[i].nstalls, sizeof(struct ss_stall), cmp_stall);
    *out = run;
    return 0;
}

static void free_process(struct ss_process *p)
{
    free(p->file);
    free(p->exe);
    free(p->command);
    free(p->threads);
    for (size_t i = 0; i < p->nstalls; i++)
        free_stall(&p->stalls[i]);
    free(p->stalls);
    for (size_t i = 0; i < p->nloops; i++)
        free_stall(&p->loops[i].last);
    free(p->loops);
    free(p->summary.threads);
    free(p->summary.calls);
    free(p->summary.stacks);
    ss_interner_free(&p->strings);
    for (size_t i = 0; i < p->nstacks; i++) {
        if (p->stacks[i]) {
            free(p->stacks[i]->addrs);
            free(p->stacks[i]->frames);
            free(p->stacks[i]);
        }
    }
    free(p->stacks);
    for (size_t i = 0; i < p->nmodules; i++)
        free(p->modules[i].path);
    free(p->modules);
    for (size_t i = 0; i < p->ncalls; i++) {
        free(p->calls[i].function);
        free(p->calls[i].detail);
    }
    free(p->calls);
    for (size_t i = 0; i < p->nnotes; i++)
        free(p->notes[i]);
    free(p->notes);
    if (p->sym)
        ss_symbolizer_free(p->sym);
}

void ss_run_free(struct ss_run *run)
{
    if (!run)
        return;
    for (size_t i = 0; i < run->nprocs; i++)
        free_process(&run->procs[i]);
    free(run->procs);
    if (run->cache)
        ss_elf_cache_free(run->cache);
    free(run->path);
    free(run);
}

/* A JIT file left by an earlier process with the same pid is not read: the report says so. */
static void note_stale_jit_file(struct ss_process *p, const char *path)
{
    char **notes = realloc(p->notes, (p->nnotes + 1) * sizeof *notes);
    if (!notes)
        return;
    p->notes = notes;
    if (asprintf(&p->notes[p->nnotes],
                 "ignored %s: last written before process %u began (left "
                 "by an earlier process with the same pid)",
                 path, p->pid) >= 0)
        p->nnotes++;
}

/* JIT names come from a perf map and a jitdump file, each looked for beside the trace first
 * (stallscope run keeps copies there), then in /tmp where runtimes write them by default. */
static void add_jit_file(struct ss_process *p, const char *dir, const char *prefix,
                         const char *suffix, int (*add)(struct ss_symbolizer *, const char *))
{
    char name[64], *path = NULL;
    snprintf(name, sizeof name, "%s%u%s", prefix, p->pid, suffix);
    int rc = asprintf(&path, "%s/%s", dir, name) >= 0 ? add(p->sym, path) : (path = NULL, -ENOMEM);
    if (rc == -ENOENT) {
        free(path);
        rc = asprintf(&path, "/tmp/%s", name) >= 0 ? add(p->sym, path) : (path = NULL, -ENOMEM);
    }
    if (rc == -ESTALE)
        note_stale_jit_file(p, path);
    free(path);
}

static void add_jit_names(struct ss_process *p)
{
    struct stat st;
    if (stat(p->file, &st) == 0)
        ss_symbolizer_trust_owner(p->sym, st.st_uid);
    ss_symbolizer_process_started(p->sym, p->start_real_ns);
    char *copy = strdup(p->file);
    if (!copy)
        return;
    const char *dir = dirname(copy);
    add_jit_file(p, dir, "perf-", ".map", ss_symbolizer_add_perf_map);
    add_jit_file(p, dir, "jit-", ".dump", ss_symbolizer_add_jitdump);
    free(copy);
}

void ss_process_symbolize(struct ss_run *run, struct ss_process *p)
{
    if (p->symbolized)
        return;
    p->symbolized = 1;
    if (!(p->sym = ss_symbolizer_new(run->cache)))
        return;
    for (size_t i = 0; i < p->nmodules; i++) {
        struct ss_module *m = &p->modules[i];
        ss_symbolizer_add_module(p->sym, m->path, m->bias, m->lo, m->hi, m->build_id,
                                 m->build_id_len);
    }
    add_jit_names(p);
    for (size_t i = 0; i < p->nstacks; i++) {
        struct ss_stack *s = p->stacks[i];
        if (!s || !(s->frames = calloc(s->nframes, sizeof *s->frames)))
            continue;
        for (uint32_t f = 0; f < s->nframes; f++) {
            struct ss_frame_info info;
            ss_symbolize(p->sym, s->addrs[f], &info);
            s->frames[f] = (struct ss_frame){s->addrs[f], info.symbol, info.module, info.offset,
                                             info.kind,   info.file,   info.line};
        }
    }
}

const struct ss_thread *ss_process_thread(const struct ss_process *p, uint32_t tid)
{
    for (size_t i = 0; i < p->nthreads; i++)
        if (p->threads[i].tid == tid)
            return &p->threads[i];
    return NULL;
}

uint64_t ss_stall_blocked_ns(const struct ss_stall *s, const char *category)
{
    uint64_t ns = 0;
    for (size_t i = 0; i < s->ncalls; i++)
        if (!category || strcmp(s->calls[i].category, category) == 0)
            ns += s->calls[i].duration_ns;
    return ns;
}

const struct ss_sample *ss_stall_still_blocked(const struct ss_stall *s)
{
    const struct ss_sample *latest = NULL;
    for (size_t i = 0; i < s->nsamples; i++)
        if (!latest || s->samples[i].offset_ns >= latest->offset_ns)
            latest = &s->samples[i];
    if (!s->in_progress || !latest || !latest->call)
        return NULL;
    return latest->source == SS_SAMPLE_CALL || latest->source == SS_SAMPLE_SYSCALL ? latest : NULL;
}

int ss_note_is_untraced_child(const char *note)
{
    return strncmp(note, "child ", 6) == 0 && strstr(note, " untraced: ") != NULL;
}

const char *ss_loop_end_name(unsigned reason)
{
    static const char *const names[] = {
        [0] = "running",
        [SS_LOOP_CLOSED] = "closed",
        [SS_LOOP_REPLACED] = "replaced",
        [SS_LOOP_NOT_A_LOOP] = "not_a_loop",
        [SS_LOOP_THREAD_EXIT] = "thread_exit",
        [SS_LOOP_PROCESS_EXIT] = "process_exit",
    };
    return reason < sizeof names / sizeof names[0] ? names[reason] : "unknown";
}

const char *ss_sample_source_name(unsigned source)
{
    static const char *const names[] = {
        [SS_SAMPLE_SIGNAL] = "signal",
        [SS_SAMPLE_CALL] = "call",
        [SS_SAMPLE_PERF] = "perf",
        [SS_SAMPLE_SYSCALL] = "syscall",
    };
    return source < sizeof names / sizeof names[0] ? names[source] : "unknown";
}

void ss_sampling_describe(const struct ss_rec_sampling *s, char *buf, size_t size)
{
    char refused[96] = "";
    if (s->error)
        snprintf(refused, sizeof refused, " (perf events refused: %s)", strerror(s->error));
    switch (s->method) {
    case SS_SAMPLED_BY_PERF:
        snprintf(buf, size, "perf events");
        break;
    case SS_SAMPLED_BY_SIGNAL:
        snprintf(buf, size, "signal %u%s", s->signal, refused);
        break;
    case SS_SAMPLED_NOT:
        snprintf(buf, size, "no timed samples%s", refused);
        break;
    default:
        snprintf(buf, size, "%s", "");
    }
}

uint64_t ss_drops_total(const struct ss_rec_drops *d)
{
    return d->events + d->samples_failed + d->samples_timed_out + d->records_unwritten;
}

uint64_t ss_process_stall_count(const struct ss_process *p, uint32_t tid)
{
    uint64_t n = 0;
    for (size_t i = 0; i < p->nstalls; i++)
        n += !tid || p->stalls[i].tid == tid;
    if (!tid)
        return n + p->summary.stalls;
    const struct ss_summary_thread *t = ss_summary_thread(p, tid);
    return n + (t ? t->stalls : 0);
}

const struct ss_summary_thread *ss_summary_thread(const struct ss_process *p, uint32_t tid)
{
    for (size_t i = 0; i < p->summary.nthreads; i++)
        if (p->summary.threads[i].tid == tid)
            return &p->summary.threads[i];
    return NULL;
}

uint64_t ss_thread_percentile(const struct ss_thread *t, double pct)
{
    uint64_t total = 0;
    for (unsigned b = 0; b < SS_HIST_BUCKETS; b++)
        total += t->hist[b];
    if (total == 0)
        return 0;
    double rank = pct / 100.0 * (double)total;
    uint64_t below = 0;
    for (unsigned b = 0; b < SS_HIST_BUCKETS; b++) {
        if (t->hist[b] == 0 || (double)(below + t->hist[b]) < rank) {
            below += t->hist[b];
            continue;
        }
        uint64_t lo = ss_hist_bucket_floor(b);
        uint64_t hi = b + 1 < SS_HIST_BUCKETS ? ss_hist_bucket_floor(b + 1) : t->busy_max_ns;
        if (hi > t->busy_max_ns)
            hi = t->busy_max_ns;
        if (hi < lo)
            return t->busy_max_ns;
        double within = (rank - (double)below) / (double)t->hist[b];
        return lo + (uint64_t)(within * (double)(hi - lo));
    }
    return t->busy_max_ns;
}
