/* stall-records: the records of a slot's stalls. The tracker drains the slot's ring of calls
 * (classifying those the shim left to the monitor, accounting them to their sites) and its
 * ring of ended stalls, and writes a stall's begin, its calls and its end. */
#define _GNU_SOURCE
#include <string.h>

#include "monitor/records.h"
#include "monitor/sample.h"
#include "monitor/stall-time.h"

void ss_mproc_announce_stall(struct ss_mproc *p, struct ss_slot *s, struct ss_slot_view *v,
                             uint64_t iteration)
{
    v->stall = iteration;
    v->stall_seen_ns = ss_monotonic_ns();
    v->last_sample_ns = 0;
    ss_stall_time_begin(p, v, iteration,
                        atomic_load_explicit(&s->iterations, memory_order_relaxed));
    struct ss_rec_stall_begin rec = {(uint32_t)v->tid, 0, iteration, iteration};
    ss_writer_record(&p->out, SS_REC_STALL_BEGIN, &rec, sizeof rec, NULL, 0);
    ss_sample_stall_begin(p, s, v);
}

static void note_iteration_call(struct ss_slot_view *v, const struct ss_call_event *e, int category)
{
    unsigned k;
    for (k = 0; k < v->ncalls; k++)
        if (v->calls[k].iteration == e->iteration && v->calls[k].call == e->call)
            break;
    if (k == v->ncalls) {
        if (v->ncalls == sizeof v->calls / sizeof v->calls[0]) {
            memmove(v->calls, v->calls + 1, (v->ncalls - 1) * sizeof v->calls[0]);
            k = --v->ncalls;
        }
        v->calls[k] = (struct ss_iteration_call){e->iteration, 0, 0, e->call, (int8_t)category};
        v->ncalls++;
    }
    v->calls[k].count++;
    v->calls[k].total_ns += e->duration_ns;
}

void ss_mproc_write_stall_calls(struct ss_mproc *p, struct ss_slot_view *v, uint64_t iteration)
{
    unsigned kept = 0;
    for (unsigned k = 0; k < v->ncalls; k++) {
        struct ss_iteration_call *c = &v->calls[k];
        if (c->iteration == iteration) {
            const char *name = ss_mproc_call_name(p, c->call);
            struct ss_rec_stall_call rec = {
                (uint32_t)v->tid, (uint16_t)c->category, 0, iteration, c->count, c->total_ns};
            ss_writer_record(&p->out, SS_REC_STALL_CALL, &rec, sizeof rec, name, strlen(name));
        } else if (c->iteration > iteration) {
            v->calls[kept++] = *c;
        }
    }
    v->ncalls = kept;
}

static void end_stall(struct ss_mproc *p, struct ss_slot *s, struct ss_slot_view *v, uint64_t start,
                      uint64_t duration)
{
    if (v->stall == start)
        ss_sample_stall_end(p, s, v, start + duration);
    /* Its end came after all: not lost, and its record below replaces the one of the close. */
    if (v->lost_start == start) {
        p->announced_lost.n--;
        p->announced_lost.ns -= v->lost_ns;
        v->lost_start = 0;
    }
    struct ss_rec_stall_end rec = {(uint32_t)v->tid, 0, start, start, duration};
    ss_writer_record(&p->out, SS_REC_STALL_END, &rec, sizeof rec, NULL, 0);
    ss_mproc_write_stall_calls(p, v, start);
    ss_stall_time_end(p, v, start, start + duration);
    if (v->stall == start)
        v->stall = 0;
}

void ss_mproc_close_lost_stall(struct ss_mproc *p, struct ss_slot *s, struct ss_slot_view *v)
{
    uint64_t start = v->stall, seen = v->stall_seen_ns > start ? v->stall_seen_ns - start : 0;
    end_stall(p, s, v, start, seen);
    /* Its end is among those the shim counted as lost only if the shim lost its end or a later
     * one (a loop that ended, its LOOP_END lost, ends its stall without a stall end). */
    if (atomic_load_explicit(&s->ended_dropped_last, memory_order_relaxed) < start)
        return;
    p->announced_lost.n++;
    p->announced_lost.ns += seen;
    v->lost_start = start;
    v->lost_ns = seen;
}

void ss_mproc_drain_ended(struct ss_mproc *p, struct ss_slot *s, struct ss_slot_view *v,
                          uint32_t head)
{
    uint32_t tail = atomic_load_explicit(&s->ended_tail, memory_order_relaxed);
    for (; tail != head; tail++) {
        struct ss_stall_end e = s->ended[tail % SS_STALL_RING];
        /* Loops that ended before this stall began come first: one may end the stall
         * announced, as its last stretch. */
        ss_mproc_drain_loops(p, s, v, e.start_ns);
        /* A later stall ended: the one announced lost its end, and is closed first, for
         * readers take a thread's stall ends to come in order. */
        if (v->stall && v->stall < e.start_ns)
            ss_mproc_close_lost_stall(p, s, v);
        end_stall(p, s, v, e.start_ns, e.duration_ns);
        v->ended_through = e.start_ns;
    }
    atomic_store_explicit(&s->ended_tail, tail, memory_order_release);
}

void ss_mproc_drain_calls(struct ss_mproc *p, struct ss_slot *s, struct ss_slot_view *v)
{
    uint32_t tail = atomic_load_explicit(&s->calls_tail, memory_order_relaxed);
    uint32_t head = atomic_load_explicit(&s->calls_head, memory_order_acquire);
    uint64_t now = ss_monotonic_ns();
    for (; tail != head; tail++) {
        struct ss_call_event e = s->calls[tail % SS_CALL_RING];
        uint32_t stack = 0, capture_ns = 0;
        unsigned nframes = 0, python_frames = 0;
        if (e.snap && ss_sample_budget_take(p, now)) {
            const struct ss_snapshot *snap = &s->call_snaps[e.snap - 1];
            stack = ss_mproc_unwind_snapshot(p, v, false, snap, &nframes, &capture_ns);
            python_frames = snap->py.n;
        }
        if (e.snap)
            atomic_store_explicit(&s->call_snap_state[e.snap - 1], SS_SNAP_FREE,
                                  memory_order_release);
        e.detail[sizeof e.detail - 1] = '\0';
        int category = e.category;
        if (category == SS_CAT_PENDING) {
            int kind, nonblocking;
            category = ss_classify(&p->classifier, e.fd, e.detail, now, &kind, &nonblocking);
            /* Gone with its process, the descriptor cannot say what it was: a call that may
             * have blocked is counted as lost rather than dropped unseen. */
            if (category == SS_CAT_NONE && !kind && ss_mproc_gone(p))
                p->calls_lost++;
            if (kind && e.fd >= 0 && e.fd < SS_FD_LEARNED_MAX)
                atomic_store_explicit(
                    &p->seg->fd_learned[e.fd],
                    (uint8_t)(SS_FD_LEARNED | kind | (nonblocking ? SS_FD_LEARNED_NONBLOCK : 0)),
                    memory_order_relaxed);
        }
        /* The JIT map a runtime writes because stallscope asked it to is not the program's. */
        if (category == SS_CAT_NONE || strcmp(e.detail, p->perf_map) == 0)
            continue;
        char detail[128];
        ss_describe(p->pid, e.fd, category, e.detail, detail, sizeof detail);
        const char *name = ss_mproc_call_name(p, e.call);
        if (ss_sites_account(&p->sites, &p->out, (uint32_t)v->tid, e.site, e.py_key, e.call, name,
                             category, e.start_ns, e.duration_ns, detail,
                             (struct ss_site_stack){stack, nframes, python_frames}) < 0)
            p->calls_lost++;
        note_iteration_call(v, &e, category);
        uint64_t end = e.start_ns + e.duration_ns;
        /* A call that ran into a stall is a sample of it: the thread was not sampled inside. */
        if (stack && end - e.iteration >= p->config.threshold_ns)
            ss_mproc_write_sample(p, v, e.iteration, end - e.iteration, stack, nframes, capture_ns,
                                  SS_SAMPLE_CALL, e.duration_ns, name);
    }
    atomic_store_explicit(&s->calls_tail, tail, memory_order_release);
}
