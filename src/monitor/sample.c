#define _GNU_SOURCE
#include "monitor/sample.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "monitor/perf.h"
#include "monitor/python.h"
#include "monitor/target.h"
#include "monitor/thread-state.h"

/* The first perf sample of a stall comes this soon after it was detected; the next ones every
 * sampling interval of the thread's CPU time. */
#define FIRST_PERF_PERIOD_NS 200000ull
#define PERF_STACK_BYTES 65000u

const char *ss_mproc_call_name(const struct ss_mproc *p, unsigned call)
{
    if (call >= p->seg->ncalls || call >= SS_SEG_CALLS_MAX)
        return "?";
    /* The shim wrote it; make sure it ends. */
    const char *name = p->seg->call_names[call];
    return memchr(name, '\0', SS_SEG_CALL_NAME) ? name : "?";
}

void ss_mproc_write_sample(struct ss_mproc *p, const struct ss_slot_view *v, uint64_t iteration,
                           uint64_t offset, uint32_t stack, unsigned nframes, uint32_t capture_ns,
                           uint16_t source, uint64_t call_ns, const char *call)
{
    struct ss_rec_sample rec = {(uint32_t)v->tid,  stack,  iteration, offset, capture_ns,
                                (uint16_t)nframes, source, call_ns};
    ss_writer_record(&p->out, SS_REC_SAMPLE, &rec, sizeof rec, call, call ? strlen(call) : 0);
}

bool ss_sample_budget_take(struct ss_mproc *p, uint64_t now)
{
    if (!p->config.max_stacks)
        return true;
    /* Callers pass the time of their own look: one may be a little older than the second. */
    if (now > p->budget_second_ns && now - p->budget_second_ns >= 1000000000ull) {
        p->budget_second_ns = now;
        p->budget_used = 0;
    }
    if (p->budget_used < p->config.max_stacks) {
        p->budget_used++;
        return true;
    }
    p->samples_skipped++;
    return false;
}

/* Where the Python frames merged into a stack come from. */
struct python_source {
    const struct ss_slot_view *thread; /* the thread the stack is of; NULL: none are merged */
    const struct ss_py_copy *copy;     /* those the shim copied with the stack, if it did */
    bool live; /* else, read now: the thread is still where its stack was taken */
};

/* Unwinds a copy of a thread's stack into an interned stack id (0: nothing could be unwound,
 * counted), with the thread's Python frames merged in. */
static uint32_t unwind(struct ss_mproc *p, const struct python_source *py,
                       const struct ss_regs *regs, uint64_t base, const void *stack, size_t len,
                       unsigned *nframes, uint32_t *capture_ns)
{
    uint64_t frames[SS_TRACE_MAX_FRAMES];
    uint64_t t0 = ss_monotonic_ns();
    unsigned n = p->target && len ? ss_target_unwind(p->target, regs, base, stack, len, frames,
                                                     SS_TRACE_MAX_FRAMES)
                                  : 0;
    if (n && py->thread && p->python) {
        const struct ss_slot *s = &p->seg->slots[py->thread - p->views];
        if (py->copy && py->copy->tstate) {
            n = ss_python_merge_copy(p->python, p->target, &p->out, py->thread->tid, s->thread_self,
                                     py->copy, frames, n, SS_TRACE_MAX_FRAMES);
        } else if (py->live) {
            n = ss_python_merge(p->python, p->target, &p->out, py->thread->tid, s->thread_self,
                                frames, n, SS_TRACE_MAX_FRAMES);
            ss_python_task(p->python, p->target, &p->out, py->thread->tid, py->thread->stall);
        }
    }
    *capture_ns = (uint32_t)(ss_monotonic_ns() - t0);
    *nframes = n;
    uint32_t id = n ? ss_stacks_intern(&p->stacks, &p->out, frames, n) : 0;
    if (!id)
        p->samples_failed++;
    return id;
}

static void regs_of(const uint64_t *from, uint32_t known, struct ss_regs *regs)
{
    memcpy(regs->r, from, sizeof regs->r);
    regs->known = known;
}

uint32_t ss_mproc_unwind_snapshot(struct ss_mproc *p, const struct ss_slot_view *v, bool live,
                                  const struct ss_snapshot *snap, unsigned *nframes,
                                  uint32_t *capture_ns)
{
    struct ss_regs regs;
    regs_of(snap->regs, SS_REGS_ALL, &regs);
    uint32_t len = snap->stack_len <= SS_SNAP_STACK_BYTES ? snap->stack_len : 0;
    struct python_source py = {v, &snap->py, live};
    return unwind(p, &py, &regs, snap->stack_base, snap->stack, len, nframes, capture_ns);
}

void ss_sample_write_sampling(struct ss_mproc *p)
{
    static const uint16_t method[] = {
        [SS_METHOD_PERF] = SS_SAMPLED_BY_PERF,
        [SS_METHOD_SIGNAL] = SS_SAMPLED_BY_SIGNAL,
        [SS_METHOD_NONE] = SS_SAMPLED_NOT,
    };
    struct ss_rec_sampling rec = {method[p->method], (uint16_t)p->config.signal, -p->perf_error};
    ss_writer_record(&p->out, SS_REC_SAMPLING, &rec, sizeof rec, NULL, 0);
}

/* perf_event_open is refused for good (not merely for a thread that is gone). */
static int refused(int err)
{
    return err == -EACCES || err == -EPERM || err == -ENOSYS || err == -ENOENT || err == -EINVAL ||
           err == -EOPNOTSUPP;
}

/* Decided once per process, with a probe on one of its threads, as soon as the monitor has
 * it: the shim installs the signal's handler at its first loop wait when asked by then. */
void ss_sample_decide(struct ss_mproc *p, pid_t tid)
{
    if (p->method != SS_METHOD_UNDECIDED)
        return;
    if (!p->config.stacks) {
        p->method = SS_METHOD_NONE;
    } else if (p->sampling == SS_SAMPLING_SIGNAL) {
        p->method = SS_METHOD_SIGNAL;
    } else {
        struct ss_perf *probe;
        int rc = ss_perf_open(p->pid, tid, p->config.interval_ns, PERF_STACK_BYTES, &probe);
        if (rc == 0) {
            ss_perf_close(probe);
            p->method = SS_METHOD_PERF;
        } else if (refused(rc)) {
            p->perf_error = rc;
            p->method = p->sampling == SS_SAMPLING_PERF ? SS_METHOD_NONE : SS_METHOD_SIGNAL;
        }
    }
    if (p->method == SS_METHOD_SIGNAL)
        atomic_store(&p->seg->signal_wanted, 1);
}

void ss_sample_thread_announced(struct ss_mproc *p, struct ss_slot *s, struct ss_slot_view *v)
{
    ss_sample_decide(p, v->tid);
    if (!p->sampling_written && p->method != SS_METHOD_UNDECIDED) {
        ss_sample_write_sampling(p);
        p->sampling_written = 1;
    }
    /* A thread that claimed its slot before the decision installs the handler at its next
     * wait. */
    if (p->method == SS_METHOD_SIGNAL)
        atomic_fetch_or(&s->request, SS_REQUEST_SIGNAL);
}

void ss_sample_stall_begin(struct ss_mproc *p, struct ss_slot *s, struct ss_slot_view *v)
{
    (void)s;
    /* Modules loaded since the last look are read while the process still runs. */
    ss_mproc_refresh_modules(p, ss_monotonic_ns());
    if (p->method != SS_METHOD_PERF)
        return;
    if (!v->perf &&
        ss_perf_open(p->pid, v->tid, p->config.interval_ns, PERF_STACK_BYTES, &v->perf) != 0) {
        v->perf = NULL;
        p->samples_failed++;
        return;
    }
    if (ss_perf_enable(v->perf, FIRST_PERF_PERIOD_NS) != 0) {
        ss_perf_close(v->perf);
        v->perf = NULL;
    }
}

struct perf_ctx {
    struct ss_mproc *p;
    struct ss_slot_view *v;
    uint64_t from, until; /* samples of the stall: [from, until) */
    int live;             /* the stall still runs: its Python frames are those of now */
    unsigned taken;
};

static void on_perf_sample(void *arg, const struct ss_perf_sample *smp)
{
    struct perf_ctx *c = arg;
    if (smp->time_ns < c->from || smp->time_ns >= c->until ||
        !ss_sample_budget_take(c->p, ss_monotonic_ns()))
        return;
    unsigned n;
    uint32_t capture_ns;
    struct python_source py = {c->v, NULL, c->live};
    uint32_t stack =
        unwind(c->p, &py, &smp->regs, smp->stack_base, smp->stack, smp->stack_len, &n, &capture_ns);
    ss_mproc_write_sample(c->p, c->v, c->from, smp->time_ns - c->from, stack, n, capture_ns,
                          SS_SAMPLE_PERF, 0, NULL);
    c->v->last_sample_ns = smp->time_ns;
    c->taken++;
}

/* Writes the perf samples of the current stall taken before `until`; `live` when the stall
 * still runs. */
static unsigned drain_perf(struct ss_mproc *p, struct ss_slot_view *v, uint64_t until, int live)
{
    if (!v->perf)
        return 0;
    struct perf_ctx c = {p, v, v->stall, until, live, 0};
    ss_perf_drain(v->perf, on_perf_sample, &c);
    return c.taken;
}

/* A buffer for a stack copied from the process, made once. */
static uint8_t *scratch(struct ss_mproc *p)
{
    if (!p->scratch)
        p->scratch = malloc(SS_SNAP_STACK_BYTES);
    return p->scratch;
}

/* A thread that sits in the same call as at its last sample has the same stack: it is
 * sampled again at growing intervals, up to four a second, so that a loop hung for hours
 * leaves a trace of bounded size. `where` names the call (its sequence number, or the system
 * call with its stack pointer and program counter). */
#define SAME_CALL_MAX_GAP_NS 250000000ull

static int same_call_not_due(struct ss_mproc *p, struct ss_slot_view *v, uint64_t where,
                             uint64_t now)
{
    if (where != v->blocked_where) {
        v->blocked_where = where;
        v->blocked_gap_ns = p->config.interval_ns;
        return 0;
    }
    if (now - v->last_sample_ns < v->blocked_gap_ns)
        return 1;
    v->blocked_gap_ns =
        v->blocked_gap_ns * 2 < SAME_CALL_MAX_GAP_NS ? v->blocked_gap_ns * 2 : SAME_CALL_MAX_GAP_NS;
    return 0;
}

/* Orders a copy just made (of the slot's published call, of the thread's stack) before the
 * loads that check it is still valid, as a seqlock reader does. The thread sanitizer does not
 * model fences and refuses them; its build goes without, and its reports stay about the rest. */
static inline void fence_before_recheck(void)
{
#ifndef __SANITIZE_THREAD__
    atomic_thread_fence(memory_order_acquire);
#endif
}

/* The call the thread sits in, from what it published when the call began, and its live
 * stack: it is not running, so the copy holds still, which the call's sequence number,
 * unchanged across the copy, confirms. */
static void sample_in_call(struct ss_mproc *p, struct ss_slot *s, struct ss_slot_view *v,
                           uint64_t iteration, uint64_t now)
{
    struct ss_call_now *c = &s->call_now;
    uint32_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
    if (seq & 1)
        return;
    struct ss_call_now copy;
    memcpy(&copy, c, sizeof copy);
    if (copy.start_ns < iteration || same_call_not_due(p, v, seq, now))
        return;
    uint8_t *stack = scratch(p);
    uint64_t sp = copy.regs[SS_REG_RSP];
    long len = stack ? ss_copy_stack(p->pid, sp, stack, SS_SNAP_STACK_BYTES) : -ENOMEM;
    fence_before_recheck();
    if (len <= 0 || atomic_load_explicit(&c->seq, memory_order_relaxed) != seq ||
        atomic_load_explicit(&s->state, memory_order_relaxed) != SS_STATE_IN_CALL)
        return;
    /* At the call's entry only the callee-saved registers, sp and pc mean anything. */
    struct ss_regs regs;
    regs_of(copy.regs,
            (1u << SS_REG_RBX) | (1u << SS_REG_RBP) | (1u << SS_REG_RSP) | (0xfu << 12) |
                (1u << SS_REG_RIP),
            &regs);
    if (!ss_sample_budget_take(p, now))
        return;
    unsigned n;
    uint32_t capture_ns;
    struct python_source py = {v, NULL, true};
    uint32_t stack_id = unwind(p, &py, &regs, sp, stack, (size_t)len, &n, &capture_ns);
    if (!stack_id)
        return;
    ss_mproc_write_sample(p, v, iteration, now - iteration, stack_id, n, capture_ns, SS_SAMPLE_CALL,
                          now - copy.start_ns, ss_mproc_call_name(p, copy.call));
    v->last_sample_ns = now;
}

/* The waits an event loop makes between iterations: a thread seen in one has just finished
 * its iteration and not yet said so. */
static int is_loop_wait(long nr)
{
    switch (nr) {
    case SYS_epoll_wait:
    case SYS_epoll_pwait:
#ifdef SYS_epoll_pwait2
    case SYS_epoll_pwait2:
#endif
    case SYS_poll:
    case SYS_ppoll:
    case SYS_select:
    case SYS_pselect6:
        return 1;
    default:
        return 0;
    }
}

/* A thread inside a system call the shim does not wrap: /proc says which, with its stack
 * pointer and program counter. The slot, read again after the copy, confirms the thread is
 * still in the stalled iteration. */
static int sample_in_syscall(struct ss_mproc *p, struct ss_slot *s, struct ss_slot_view *v,
                             uint64_t iteration, uint64_t now, const struct ss_thread_now *t)
{
    if (is_loop_wait(t->nr) ||
        same_call_not_due(p, v, (uint64_t)t->nr ^ (t->sp << 9) ^ (t->pc << 31), now))
        return 0;
    uint8_t *stack = scratch(p);
    long len = stack ? ss_copy_stack(p->pid, t->sp, stack, SS_SNAP_STACK_BYTES) : -ENOMEM;
    fence_before_recheck();
    if (len <= 0 || atomic_load_explicit(&s->state, memory_order_relaxed) != SS_STATE_BUSY ||
        atomic_load_explicit(&s->iteration, memory_order_relaxed) != iteration)
        return 0;
    struct ss_regs regs = {.known = (1u << SS_REG_RSP) | (1u << SS_REG_RIP)};
    regs.r[SS_REG_RSP] = t->sp;
    regs.r[SS_REG_RIP] = t->pc;
    if (!ss_sample_budget_take(p, now))
        return 1;
    unsigned n;
    uint32_t capture_ns;
    struct python_source py = {v, NULL, true};
    uint32_t stack_id = unwind(p, &py, &regs, t->sp, stack, (size_t)len, &n, &capture_ns);
    ss_mproc_write_sample(p, v, iteration, now - iteration, stack_id, n, capture_ns,
                          SS_SAMPLE_SYSCALL, 0, ss_syscall_name(t->nr));
    v->last_sample_ns = now;
    return 1;
}

static void pause_briefly(void)
{
    struct timespec ts = {0, 20000};
    nanosleep(&ts, NULL);
}

void ss_sample_consume_signal(struct ss_mproc *p, struct ss_slot *s, struct ss_slot_view *v)
{
    struct ss_snapshot *snap = &s->snap;
    /* A signal can land after the stalled iteration ended and a new, short one began. */
    if (snap->thread_state == SS_STATE_WAITING || snap->iteration == 0 ||
        snap->taken_ns - snap->iteration < p->config.threshold_ns) {
        atomic_store_explicit(&s->snap_state, SS_SNAP_FREE, memory_order_release);
        return;
    }
    if (v->stall != snap->iteration)
        ss_mproc_announce_stall(p, s, v, snap->iteration);
    /* Python frames are read now, not from the copy: only while the thread is still in the
     * stall the snapshot caught, or they would be another moment's. */
    int same_stall = atomic_load_explicit(&s->iteration, memory_order_relaxed) == snap->iteration &&
                     atomic_load_explicit(&s->state, memory_order_relaxed) != SS_STATE_WAITING;
    unsigned n;
    uint32_t capture_ns, stack = ss_mproc_unwind_snapshot(p, v, same_stall, snap, &n, &capture_ns);
    uint64_t iteration = snap->iteration, offset = snap->taken_ns - snap->iteration;
    atomic_store_explicit(&s->snap_state, SS_SNAP_FREE, memory_order_release);
    ss_mproc_write_sample(p, v, iteration, offset, stack, n, capture_ns, SS_SAMPLE_SIGNAL, 0, NULL);
    v->last_sample_ns = snap->taken_ns;
}

/* Signals the thread and waits for its handler to fill the snapshot. A thread that left a
 * signal unanswered (it blocks the signal with a raw system call, or sits where the kernel
 * holds signals back) is neither signalled nor waited for again until that signal has
 * reached it: each wait would cost sample_timeout, during which no other thread's stall is
 * seen to, and the new signal would only queue behind the old one. */
static void sample_by_signal(struct ss_mproc *p, struct ss_slot *s, struct ss_slot_view *v)
{
    uint32_t answered = atomic_load_explicit(&s->signals_answered, memory_order_relaxed);
    if (v->unanswered && answered == v->answered_before) {
        p->samples_failed++;
        return;
    }
    v->unanswered = 0;
    int expected = SS_SNAP_FREE;
    if (!atomic_compare_exchange_strong(&s->snap_state, &expected, SS_SNAP_REQUESTED))
        return;
    /* Checked after the request is visible: a thread entering a call, or a program taking
     * the signal over, looks for requests after saying so (preload/shim.h ss__enter_call,
     * preload/signals.c), so one of the two sides always sees the other. */
    if (atomic_load(&s->state) != SS_STATE_BUSY ||
        atomic_load(&p->seg->signal_state) != SS_SIGNAL_INSTALLED ||
        atomic_load(&s->signal_blocked)) {
        atomic_store(&s->snap_state, SS_SNAP_FREE);
        p->samples_failed++;
        return;
    }
    if (!ss_sample_budget_take(p, ss_monotonic_ns())) {
        atomic_store(&s->snap_state, SS_SNAP_FREE);
        return;
    }
    v->answered_before = answered;
    if (syscall(SYS_tgkill, p->pid, v->tid, p->config.signal) != 0) {
        atomic_store(&s->snap_state, SS_SNAP_FREE);
        return;
    }
    uint64_t deadline = ss_monotonic_ns() + p->config.sample_timeout_ns;
    for (;;) {
        int state = atomic_load_explicit(&s->snap_state, memory_order_acquire);
        if (state == SS_SNAP_READY) {
            ss_sample_consume_signal(p, s, v);
            return;
        }
        expected = SS_SNAP_REQUESTED;
        if (ss_monotonic_ns() >= deadline &&
            atomic_compare_exchange_strong(&s->snap_state, &expected, SS_SNAP_FREE)) {
            p->samples_timed_out++;
            v->unanswered = 1;
            return;
        }
        pause_briefly();
    }
}

void ss_sample_due(struct ss_mproc *p, struct ss_slot *s, struct ss_slot_view *v, int state,
                   uint64_t iteration, uint64_t now)
{
    if (p->method == SS_METHOD_NONE || p->method == SS_METHOD_UNDECIDED || !p->target)
        return;
    if (drain_perf(p, v, now, 1) > 0)
        return;
    /* Nothing from perf since the last look: the thread is not on a CPU running its code. */
    if (v->last_sample_ns && now - v->last_sample_ns < p->config.interval_ns)
        return;
    if (state == SS_STATE_IN_CALL) {
        sample_in_call(p, s, v, iteration, now);
        return;
    }
    struct ss_thread_now t;
    if (ss_thread_now(p->pid, v->tid, &t) != 0)
        return;
    if (t.activity == SS_THREAD_IN_SYSCALL) {
        sample_in_syscall(p, s, v, iteration, now, &t);
        return;
    }
    if (p->method == SS_METHOD_SIGNAL && t.activity != SS_THREAD_GONE &&
        t.activity != SS_THREAD_UNKNOWN)
        sample_by_signal(p, s, v);
}

void ss_sample_stall_end(struct ss_mproc *p, struct ss_slot *s, struct ss_slot_view *v,
                         uint64_t end_ns)
{
    (void)s;
    if (!v->perf)
        return;
    ss_perf_disable(v->perf);
    drain_perf(p, v, end_ns, 0);
    p->perf_lost += ss_perf_lost(v->perf);
    ss_perf_close(v->perf);
    v->perf = NULL;
}

void ss_sample_forget(struct ss_mproc *p, struct ss_slot_view *v)
{
    if (v->perf) {
        p->perf_lost += ss_perf_lost(v->perf);
        ss_perf_close(v->perf);
        v->perf = NULL;
    }
}

void ss_sample_close(struct ss_mproc *p)
{
    for (size_t i = 0; i < SS_SEG_SLOTS; i++)
        ss_sample_forget(p, &p->views[i]);
    free(p->scratch);
    p->scratch = NULL;
}
