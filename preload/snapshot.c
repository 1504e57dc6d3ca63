/* snapshot: the only code that runs on a loop thread to take a stack. It copies registers and
 * the live part of the stack into the thread's slot; the monitor unwinds the copy later, in a
 * process of its own (unwinding here can deadlock inside the dynamic loader). */
#define _GNU_SOURCE
#include "shim.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <ucontext.h>
#include <unistd.h>

/* Copies the live part of the stack, from sp up to the end of the thread's stack, at most
 * SS_SNAP_STACK_BYTES. Nothing when sp is not between the bounds known for the thread (a
 * coroutine's or an alternate signal stack): a read past a mapping would fault, and no
 * lookup is possible here. */
static void copy_stack_into(struct ss_slot *s, struct ss_snapshot *snap, uint64_t sp)
{
    uintptr_t lo = atomic_load_explicit(&s->stack_lo, memory_order_acquire);
    uintptr_t hi = atomic_load_explicit(&s->stack_hi, memory_order_acquire);
    snap->stack_base = sp;
    snap->stack_len = 0;
    if (sp >= hi || sp < lo || hi - sp > SS_STACK_SPAN)
        return;
    size_t n = hi - sp;
    if (n > SS_SNAP_STACK_BYTES)
        n = SS_SNAP_STACK_BYTES;
    memcpy(snap->stack, (const void *)(uintptr_t)sp, n);
    snap->stack_len = (uint32_t)n;
}

/* The kernel refused process_vm_readv (a seccomp filter): no Python frames are copied. */
static _Atomic int python_copy_refused;

/* Copies len bytes of this process's memory at addr; -1, never a fault, when they are not
 * all mapped. */
static int read_own(void *to, uint64_t addr, size_t len)
{
    struct iovec local = {to, len}, remote = {(void *)(uintptr_t)addr, len};
    long got =
        syscall(SYS_process_vm_readv, (long)syscall(SYS_getpid), &local, 1L, &remote, 1L, 0L);
    if (got < 0 && (errno == EPERM || errno == ENOSYS))
        atomic_store_explicit(&python_copy_refused, 1, memory_order_relaxed);
    return got == (long)len ? 0 : -1;
}

/* Calls fn(frame bytes, arg) for each Python frame of the thread, innermost first, at most max,
 * the way the monitor published; fn returns the buffer the next frame is read into. Returns
 * the thread state read from (0: none known, or no frame chain to follow) and sets *complete
 * when the chain ended within max frames. */
typedef uint8_t *(*py_frame_fn)(uint8_t *frame, void *arg);
static uint64_t walk_python(struct ss_slot *s, unsigned max, uint8_t *buf, py_frame_fn fn,
                            void *arg, int *complete)
{
    *complete = 0;
    struct ss_segment *seg = atomic_load_explicit(&ss__seg, memory_order_relaxed);
    uint64_t ts = atomic_load_explicit(&s->py_tstate, memory_order_relaxed);
    if (!seg || !ts || atomic_load_explicit(&python_copy_refused, memory_order_relaxed) ||
        !atomic_load_explicit(&seg->python.ready, memory_order_acquire))
        return 0;
    const struct ss_seg_python *layout = &seg->python;
    uint32_t span = layout->frame_span;
    if (span > SS_PY_COPY_SPAN || layout->frame_previous + sizeof(uint64_t) > span ||
        layout->frame_code + sizeof(uint64_t) > span)
        return 0;
    uint64_t frame;
    if (read_own(&frame, ts + layout->tstate_frame, sizeof frame) < 0)
        return 0;
    if (layout->cframe_current != UINT32_MAX && frame &&
        read_own(&frame, frame + layout->cframe_current, sizeof frame) < 0)
        return 0;
    for (unsigned n = 0; frame && n < max && buf; n++) {
        if (read_own(buf, frame, span) < 0)
            return ts;
        memcpy(&frame, buf + layout->frame_previous, sizeof frame);
        buf = fn(buf, arg);
    }
    *complete = frame == 0;
    return ts;
}

static uint8_t *next_copy_slot(uint8_t *frame, void *arg)
{
    struct ss_py_copy *py = arg;
    py->n++;
    return py->n < SS_PY_COPY_FRAMES ? frame + SS_PY_COPY_SPAN : NULL;
}

/* Copies the thread's Python frames, when the monitor knows its state: what the monitor would
 * read later has changed by then. */
static void copy_python_into(struct ss_slot *s, struct ss_snapshot *snap)
{
    struct ss_py_copy *py = &snap->py;
    py->n = 0;
    int complete;
    py->tstate = walk_python(s, SS_PY_COPY_FRAMES, py->frames[0], next_copy_slot, py, &complete);
    py->complete = (uint16_t)complete;
}

struct key_walk {
    uint64_t key;
    const struct ss_seg_python *layout;
    uint8_t frame[SS_PY_COPY_SPAN];
};

static uint8_t *mix_code(uint8_t *frame, void *arg)
{
    struct key_walk *k = arg;
    uint64_t code;
    memcpy(&code, frame + k->layout->frame_code, sizeof code);
    k->key = (k->key ^ code) * 0x100000001b3ull;
    return frame;
}

uint64_t ss__python_key(struct ss_slot *s)
{
    struct ss_segment *seg = atomic_load_explicit(&ss__seg, memory_order_relaxed);
    if (!ss__opts.python_sites || !seg ||
        !atomic_load_explicit(&s->py_tstate, memory_order_relaxed))
        return 0;
    int saved = errno, complete;
    struct key_walk k = {0xcbf29ce484222325ull, &seg->python, {0}};
    uint64_t ts = walk_python(s, SS_PY_KEY_FRAMES, k.frame, mix_code, &k, &complete);
    errno = saved;
    return ts ? k.key : 0;
}

void ss__on_sample_signal(int sig, siginfo_t *si, void *ucv)
{
    (void)sig;
    int saved = errno;
    struct ss_thread_local *t = &ss__tls;
    struct ss_slot *s = t->slot;
    int expected = SS_SNAP_REQUESTED;
    struct ss_segment *seg = atomic_load_explicit(&ss__seg, memory_order_relaxed);
    if (si->si_code != SI_TKILL || !seg ||
        si->si_pid != atomic_load_explicit(&seg->monitor_pid, memory_order_relaxed)) {
        errno = saved;
        return;
    }
    /* Only our own signal: an EINTR another sender causes must reach the program. */
    atomic_fetch_add_explicit(&t->signals_seen, 1, memory_order_relaxed);
    if (s)
        atomic_fetch_add_explicit(&s->signals_answered, 1, memory_order_relaxed);
    if (s && atomic_compare_exchange_strong(&s->snap_state, &expected, SS_SNAP_WRITING)) {
        const greg_t *g = ((ucontext_t *)ucv)->uc_mcontext.gregs;
        static const int order[SS_SEG_REGS] = {
            REG_RAX, REG_RDX, REG_RCX, REG_RBX, REG_RSI, REG_RDI, REG_RBP, REG_RSP, REG_R8,
            REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15, REG_RIP,
        };
        for (int i = 0; i < SS_SEG_REGS; i++)
            s->snap.regs[i] = (uint64_t)g[order[i]];
        s->snap.source = SS_SAMPLE_SIGNAL;
        s->snap.taken_ns = ss__now();
        s->snap.iteration = atomic_load_explicit(&s->iteration, memory_order_relaxed);
        s->snap.thread_state = atomic_load_explicit(&s->state, memory_order_relaxed);
        copy_stack_into(s, &s->snap, (uint64_t)g[REG_RSP]);
        copy_python_into(s, &s->snap);
        atomic_store_explicit(&s->snap_state, SS_SNAP_READY, memory_order_release);
    }
    errno = saved;
}

unsigned ss__capture_call(struct ss_slot *s)
{
    for (unsigned i = 0; i < SS_CALL_SNAPS; i++) {
        int expected = SS_SNAP_FREE;
        if (!atomic_compare_exchange_strong(&s->call_snap_state[i], &expected, SS_SNAP_WRITING))
            continue;
        struct ss_snapshot *snap = &s->call_snaps[i];
        ss__capture_regs(snap->regs);
        snap->source = SS_SAMPLE_CALL;
        snap->taken_ns = ss__now();
        snap->iteration = atomic_load_explicit(&s->iteration, memory_order_relaxed);
        snap->thread_state = SS_STATE_BUSY;
        copy_stack_into(s, snap, snap->regs[7]);
        /* No stack copied, nothing to unwind: the site takes its stack at a later call. */
        if (snap->stack_len == 0) {
            atomic_store_explicit(&s->call_snap_state[i], SS_SNAP_FREE, memory_order_release);
            break;
        }
        int saved = errno;
        copy_python_into(s, snap);
        errno = saved;
        atomic_store_explicit(&s->call_snap_state[i], SS_SNAP_READY, memory_order_release);
        /* The last free one: have the monitor empty them before a burst of new call sites
         * loses its stacks. */
        if (i == SS_CALL_SNAPS - 1)
            ss__wake_monitor();
        return i + 1;
    }
    SS_OWNER_ADD(s->snaps_dropped, 1);
    return 0;
}
