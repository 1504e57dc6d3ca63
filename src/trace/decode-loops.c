/* decode-loops: the LOOP_BEGIN and LOOP_END records (decode.c reads the others): which wait was
 * a thread's loop and when, the last stretch of a loop that ended, and a worker taken for a
 * loop for a while, whose stalls of that time were none. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "errors.h"
#include "trace/loader.h"
#include "util/array.h"

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

int trace_on_loop_begin(struct loader *l, const uint8_t *b, size_t n)
{
    struct ss_rec_loop_begin r;
    struct ss_process *p = l->p;
    memcpy(&r, b, sizeof r);
    if (r.kind != SS_LOOP_EPOLL && r.kind != SS_LOOP_SITE)
        return SS_ECORRUPT;
    struct stall_progress *pr = trace_progress(l, r.tid);
    if (!pr)
        FAIL(-ENOMEM, "out of memory");
    if (pr->open_loop && p->loops[pr->open_loop - 1].begin_ns == r.at_ns)
        return 0; /* the same loop, written again at the top of a rotated trace's next file */
    if (pr->open_loop) {
        /* Its end was lost: the writer ends a loop before the thread's next one begins. */
        struct ss_loop *before = &p->loops[pr->open_loop - 1];
        before->end_ns = r.at_ns;
        before->end_reason = SS_LOOP_REPLACED;
    }
    struct ss_loop *loop = new_loop(l, r.tid);
    if (!loop || !(loop->wait = trace_intern(l, b + sizeof r, n - sizeof r)))
        FAIL(-ENOMEM, "out of memory");
    loop->kind = r.kind;
    loop->fd = r.fd;
    loop->site = trace_stack_by_id(l, r.site_stack_id);
    loop->begin_ns = r.at_ns;
    pr->open_loop = p->nloops;
    trace_seen_time(p, r.at_ns);
    return 0;
}
/* A worker taken for a loop: its stalls of that time were none, and its busy times count
 * afresh (the writer starts a new histogram). */
static void forget_loop(struct loader *l, const struct ss_loop *loop)
{
    trace_take_stalls(l, loop->tid, loop->begin_ns,
                      loop->last.start_ns ? loop->last.start_ns : loop->end_ns, NULL);
    struct ss_thread *t = trace_find_thread(l, loop->tid, 0);
    if (t) {
        t->iterations = t->busy_total_ns = t->busy_max_ns = 0;
        memset(t->hist, 0, sizeof t->hist);
    }
}

int trace_on_loop_end(struct loader *l, const uint8_t *b, size_t n)
{
    struct ss_rec_loop_end r;
    struct ss_process *p = l->p;
    (void)n;
    memcpy(&r, b, sizeof r);
    if (!r.reason || r.reason > SS_LOOP_PROCESS_EXIT || r.last_start > r.end_ns)
        return SS_ECORRUPT;
    /* The last stretch ends the thread's stalls as a STALL_END would. */
    struct stall_progress *pr = r.last_start && trace_note_progress(l, r.tid, r.last_start, 1) < 0
                                    ? NULL
                                    : trace_progress(l, r.tid);
    if (!pr)
        FAIL(-ENOMEM, "out of memory");
    struct ss_loop *loop = pr->open_loop ? &p->loops[pr->open_loop - 1] : new_loop(l, r.tid);
    if (!loop)
        FAIL(-ENOMEM, "out of memory");
    pr->open_loop = 0;
    loop->end_ns = r.end_ns;
    loop->end_reason = r.reason;
    trace_seen_time(p, r.end_ns);
    if (r.last_start) {
        size_t index;
        if (ss_key_table_get(&l->loop_lasts, r.tid, r.last_start, 0, (size_t)(loop - p->loops),
                             &index) < 0)
            FAIL(-ENOMEM, "out of memory");
        if (r.reason != SS_LOOP_NOT_A_LOOP)
            trace_take_stalls(l, r.tid, r.last_start, r.last_start, &loop->last);
        loop->last.tid = r.tid;
        loop->last.start_ns = r.last_start;
        loop->last.duration_ns = r.end_ns - r.last_start;
        loop->last.in_progress = 0;
    }
    if (r.reason == SS_LOOP_NOT_A_LOOP)
        forget_loop(l, loop);
    return 0;
}

/* A thread is a loop thread when it had a loop that was not a worker's; a trace without loop
 * records says so in its THREAD records. */
void trace_mark_loop_threads(struct loader *l)
{
    struct ss_process *p = l->p;
    for (size_t i = 0; i < p->nloops; i++) {
        struct ss_thread *t = trace_find_thread(l, p->loops[i].tid, 0);
        if (t && p->loops[i].end_reason == SS_LOOP_NOT_A_LOOP)
            t->loop = 0;
    }
    for (size_t i = 0; i < p->nloops; i++) {
        struct ss_thread *t = trace_find_thread(l, p->loops[i].tid, 0);
        if (t && p->loops[i].end_reason != SS_LOOP_NOT_A_LOOP)
            t->loop = 1;
    }
}
