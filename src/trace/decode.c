/* decode: turns each record of a trace into the process being loaded. Every byte is
 * hostile: a record whose fields disagree with its size or with each other is refused as
 * malformed (SS_ECORRUPT, with its offset in the detail), never trusted. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "trace/loader.h"
#include "util/array.h"

const char *trace_intern(struct loader *l, const uint8_t *b, size_t n)
{
    return ss_intern_bytes(&l->p->strings, (const char *)b, n);
}

struct ss_thread *trace_find_thread(struct loader *l, uint32_t tid, int create)
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

void trace_seen_time(struct ss_process *p, uint64_t ns)
{
    if (ns > p->last_ns)
        p->last_ns = ns;
}
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
    trace_seen_time(p, r.start_mono_ns);
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
    struct ss_thread *t = trace_find_thread(l, r.tid, 1);
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

/* Stacks are kept in the order of their records and found by id through a table, so that
 * memory follows the records read, never the largest id a damaged trace names. */
static int on_stack(struct loader *l, const uint8_t *b, size_t n)
{
    struct ss_rec_stack r;
    struct ss_process *p = l->p;
    memcpy(&r, b, sizeof r);
    if (r.stack_id == 0 || r.nframes == 0 || r.nframes > SS_TRACE_MAX_FRAMES ||
        (size_t)r.nframes * 8 != n - sizeof r)
        return SS_ECORRUPT;
    size_t index;
    int rc = ss_key_table_get(&l->stack_ids, r.stack_id, 0, 0, p->nstacks, &index);
    /* A later file of a rotated trace repeats the stacks it uses, each as it was. */
    if (rc == 0)
        return index < l->earlier_stacks && p->stacks[index]->nframes == r.nframes &&
                       memcmp(p->stacks[index]->addrs, b + sizeof r, n - sizeof r) == 0
                   ? 0
                   : SS_ECORRUPT;
    struct ss_stack *s = NULL;
    if (rc < 0 || SS_ARRAY_GROW(p->stacks, l->stacks_cap, p->nstacks + 1) < 0 ||
        !(s = calloc(1, sizeof *s)) || !(s->addrs = malloc(r.nframes * sizeof *s->addrs))) {
        free(s);
        FAIL(-ENOMEM, "out of memory");
    }
    s->id = r.stack_id;
    s->index = (uint32_t)p->nstacks;
    s->nframes = r.nframes;
    memcpy(s->addrs, b + sizeof r, r.nframes * sizeof *s->addrs);
    p->stacks[p->nstacks++] = s;
    return 0;
}

struct ss_stack *trace_stack_by_id(const struct loader *l, uint32_t id)
{
    long i = id ? ss_key_table_find(&l->stack_ids, id, 0, 0) : -1;
    return i < 0 ? NULL : l->p->stacks[i];
}

static int on_stall_begin(struct loader *l, const uint8_t *b, size_t n)
{
    struct ss_rec_stall_begin r;
    memcpy(&r, b, sizeof r);
    struct ss_stall *s = trace_record_stall(l, r.tid, r.stall_id);
    if (!s)
        FAIL(-ENOMEM, "out of memory");
    if (s->in_progress && s->duration_ns < l->p->threshold_ns)
        s->duration_ns = l->p->threshold_ns;
    trace_seen_time(l->p, r.start_ns + l->p->threshold_ns);
    return 0;
}

static int on_sample(struct loader *l, const uint8_t *b, size_t n)
{
    struct ss_rec_sample r;
    struct ss_process *p = l->p;
    memcpy(&r, b, sizeof r);
    struct ss_stall *s = trace_record_stall(l, r.tid, r.stall_id);
    if (!s || SS_ARRAY_GROW(s->samples, s->samples_cap, s->nsamples + 1) < 0)
        FAIL(-ENOMEM, "out of memory");
    struct ss_sample *smp = &s->samples[s->nsamples];
    memset(smp, 0, sizeof *smp);
    smp->offset_ns = r.offset_ns;
    smp->capture_ns = r.capture_ns;
    smp->source = r.source;
    smp->call_ns = r.call_ns;
    if (n > sizeof r && !(smp->call = trace_intern(l, b + sizeof r, n - sizeof r)))
        FAIL(-ENOMEM, "out of memory");
    smp->stack = trace_stack_by_id(l, r.stack_id);
    s->nsamples++;
    if (s->in_progress && r.offset_ns > s->duration_ns)
        s->duration_ns = r.offset_ns;
    trace_seen_time(p, r.stall_id + r.offset_ns);
    return 0;
}

static int on_stall_end(struct loader *l, const uint8_t *b, size_t n)
{
    struct ss_rec_stall_end r;
    memcpy(&r, b, sizeof r);
    if (trace_note_progress(l, r.tid, r.stall_id, 1) < 0)
        FAIL(-ENOMEM, "out of memory");
    /* A loop's end is measured by its LOOP_END, whatever a stray STALL_END says. */
    if (trace_loop_ended_at(l, r.tid, r.stall_id))
        return 0;
    struct ss_stall *s = trace_find_stall(l, r.tid, r.stall_id, 1);
    if (!s)
        FAIL(-ENOMEM, "out of memory");
    s->in_progress = 0;
    s->duration_ns = r.duration_ns;
    trace_seen_time(l->p, r.start_ns + r.duration_ns);
    return 0;
}

static int on_histogram(struct loader *l, const uint8_t *b, size_t n)
{
    struct ss_rec_histogram r;
    memcpy(&r, b, sizeof r);
    if (r.nbuckets != SS_HIST_BUCKETS || n - sizeof r != SS_HIST_BUCKETS * 8)
        return SS_ECORRUPT;
    struct ss_thread *t = trace_find_thread(l, r.tid, 1);
    if (!t)
        FAIL(-ENOMEM, "out of memory");
    t->iterations = r.iterations;
    t->busy_total_ns = r.busy_total_ns;
    t->busy_max_ns = r.busy_max_ns;
    memcpy(t->hist, b + sizeof r, sizeof t->hist);
    return 0;
}

/* A DROPS record of an older writer ends before python_incomplete. */
static int on_drops(struct loader *l, const uint8_t *b, size_t n)
{
    memset(&l->p->drops, 0, sizeof l->p->drops);
    memcpy(&l->p->drops, b, n < sizeof l->p->drops ? n : sizeof l->p->drops);
    return 0;
}

static int on_pyframe(struct loader *l, const uint8_t *b, size_t n)
{
    struct ss_rec_pyframe r;
    struct ss_process *p = l->p;
    memcpy(&r, b, sizeof r);
    if (r.id == 0 || r.name_len == 0 || (size_t)r.name_len + r.file_len > n - sizeof r)
        return SS_ECORRUPT;
    size_t index;
    int rc = ss_key_table_get(&l->pyframe_ids, r.id, 0, 0, p->npyframes, &index);
    if (rc == 0)
        return index < l->earlier_pyframes ? 0 : SS_ECORRUPT;
    if (rc < 0 || SS_ARRAY_GROW(p->pyframes, l->pyframes_cap, p->npyframes + 1) < 0)
        FAIL(-ENOMEM, "out of memory");
    struct ss_pyframe *f = &p->pyframes[p->npyframes];
    f->id = r.id;
    f->line = r.line;
    f->first_line = r.first_line;
    f->function = trace_intern(l, b + sizeof r, r.name_len);
    f->file = trace_intern(l, b + sizeof r + r.name_len, r.file_len);
    if (!f->function || !f->file)
        FAIL(-ENOMEM, "out of memory");
    p->npyframes++;
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
    struct ss_thread *t = trace_find_thread(l, r.tid, 1);
    if (!t)
        FAIL(-ENOMEM, "out of memory");
    t->exit_ns = r.ns;
    trace_seen_time(l->p, r.ns);
    return 0;
}

static int on_end(struct loader *l, const uint8_t *b, size_t n)
{
    struct ss_rec_end r;
    memcpy(&r, b, sizeof r);
    l->p->end_ns = r.mono_ns;
    trace_seen_time(l->p, r.mono_ns);
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
    c->stack = trace_stack_by_id(l, r.stack_id);
    trace_seen_time(p, r.first_ns);
    return 0;
}

static int on_stall_call(struct loader *l, const uint8_t *b, size_t n)
{
    struct ss_rec_stall_call r;
    memcpy(&r, b, sizeof r);
    const char *category = ss_category_name(r.category);
    if (!category)
        return SS_ECORRUPT;
    struct ss_stall *s = trace_record_stall(l, r.tid, r.stall_id);
    if (!s || SS_ARRAY_GROW(s->calls, s->calls_cap, s->ncalls + 1) < 0)
        FAIL(-ENOMEM, "out of memory");
    struct ss_stall_call *c = &s->calls[s->ncalls];
    if (!(c->function = trace_intern(l, b + sizeof r, n - sizeof r)))
        FAIL(-ENOMEM, "out of memory");
    c->category = category;
    c->count = r.count;
    c->duration_ns = r.total_ns;
    s->ncalls++;
    return 0;
}

/* A STALL_SPLIT record of an older writer ends before major_faults, or before throttled_ns. */
static int on_stall_split(struct loader *l, const uint8_t *b, size_t n)
{
    struct ss_rec_stall_split r;
    memset(&r, 0, sizeof r);
    memcpy(&r, b, n < sizeof r ? n : sizeof r);
    if (n < SS_REC_STALL_SPLIT_FAULTS_SIZE)
        r.flags &= ~SS_SPLIT_FAULTS;
    if (n < sizeof r)
        r.flags &= ~(SS_SPLIT_THROTTLED | SS_SPLIT_STEAL);
    struct ss_stall *s = trace_record_stall(l, r.tid, r.stall_id);
    if (!s)
        FAIL(-ENOMEM, "out of memory");
    s->split_window_ns = r.window_ns;
    s->split_cpu_ns = r.cpu_ns;
    s->split_runnable_ns = r.runnable_ns;
    s->split_from_start = (r.flags & SS_SPLIT_FROM_START) != 0;
    s->faults_known = (r.flags & SS_SPLIT_FAULTS) != 0;
    s->major_faults = r.major_faults;
    s->throttled_known = (r.flags & SS_SPLIT_THROTTLED) != 0;
    s->throttled_ns = r.throttled_ns;
    s->steal_known = (r.flags & SS_SPLIT_STEAL) != 0;
    s->steal_ns = r.steal_ns;
    return 0;
}

static int on_stall_pause(struct loader *l, const uint8_t *b, size_t n)
{
    struct ss_rec_stall_pause r;
    (void)n;
    memcpy(&r, b, sizeof r);
    if (r.kind != SS_PAUSE_STOPPED && r.kind != SS_PAUSE_MACHINE)
        return SS_ECORRUPT;
    struct ss_stall *s = trace_record_stall(l, r.tid, r.stall_id);
    if (!s)
        FAIL(-ENOMEM, "out of memory");
    if (r.kind == SS_PAUSE_STOPPED)
        s->stopped_ns = r.paused_ns;
    else
        s->machine_ns = r.paused_ns;
    return 0;
}

/* A name the traced program chose: bytes below 0x20 become '?', one line on any output. */
static const char *intern_printable(struct loader *l, const uint8_t *b, size_t n)
{
    char *text = dup_bytes(b, n);
    if (!text)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)text[i] < 0x20)
            text[i] = '?';
    const char *kept = ss_intern_bytes(&l->p->strings, text, n);
    free(text);
    return kept;
}

static int on_stall_task(struct loader *l, const uint8_t *b, size_t n)
{
    struct ss_rec_stall_task r;
    memcpy(&r, b, sizeof r);
    if (r.name_len == 0 || (size_t)r.name_len + r.coroutine_len > n - sizeof r)
        return SS_ECORRUPT;
    struct ss_stall *s = trace_record_stall(l, r.tid, r.stall_id);
    if (!s || !(s->task_name = intern_printable(l, b + sizeof r, r.name_len)))
        FAIL(-ENOMEM, "out of memory");
    s->task_coroutine = NULL;
    if (r.coroutine_len &&
        !(s->task_coroutine = intern_printable(l, b + sizeof r + r.name_len, r.coroutine_len)))
        FAIL(-ENOMEM, "out of memory");
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
    [SS_REC_DROPS] = SS_REC_DROPS_MIN_SIZE,
    [SS_REC_THREAD_EXIT] = sizeof(struct ss_rec_thread_exit),
    [SS_REC_END] = sizeof(struct ss_rec_end),
    [SS_REC_NOTE] = 0,
    [SS_REC_CALL_SITE] = sizeof(struct ss_rec_call_site),
    [SS_REC_STALL_CALL] = sizeof(struct ss_rec_stall_call) + 1,
    [SS_REC_STALL_SPLIT] = SS_REC_STALL_SPLIT_MIN_SIZE,
    [SS_REC_SAMPLING] = sizeof(struct ss_rec_sampling),
    [SS_REC_LOOP_BEGIN] = sizeof(struct ss_rec_loop_begin),
    [SS_REC_LOOP_END] = sizeof(struct ss_rec_loop_end),
    [SS_REC_STALL_PAUSE] = sizeof(struct ss_rec_stall_pause),
    [SS_REC_PYFRAME] = sizeof(struct ss_rec_pyframe),
    [SS_REC_STALL_TASK] = sizeof(struct ss_rec_stall_task),
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
    [SS_REC_LOOP_BEGIN] = trace_on_loop_begin,
    [SS_REC_LOOP_END] = trace_on_loop_end,
    [SS_REC_STALL_PAUSE] = on_stall_pause,
    [SS_REC_PYFRAME] = on_pyframe,
    [SS_REC_STALL_TASK] = on_stall_task,
};

int trace_decode(struct loader *l, const char *path, uint64_t offset, const struct ss_rec_header *h,
                 const uint8_t *payload)
{
    if (h->tag >= sizeof handlers / sizeof handlers[0] || !handlers[h->tag])
        return 0;
    if (h->tag != SS_REC_PROCESS && !l->saw_process)
        FAIL(SS_ECORRUPT, "%s: record at offset %llu precedes the process record", path,
             (unsigned long long)offset);
    int rc = h->size < fixed_size[h->tag] ? SS_ECORRUPT : handlers[h->tag](l, payload, h->size);
    if (rc == SS_ECORRUPT)
        FAIL(SS_ECORRUPT, "%s: malformed record at offset %llu (tag %u, size %u)", path,
             (unsigned long long)offset, h->tag, h->size);
    if (rc < 0)
        return rc;
    l->saw_process |= h->tag == SS_REC_PROCESS;
    return 0;
}

static int by_pyframe_id(const void *a, const void *b)
{
    const struct ss_pyframe *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

void trace_sort_pyframes(struct loader *l)
{
    if (l->p->npyframes)
        qsort(l->p->pyframes, l->p->npyframes, sizeof *l->p->pyframes, by_pyframe_id);
}
