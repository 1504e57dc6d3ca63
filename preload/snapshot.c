/* snapshot: the only code that runs on a loop thread to take a stack. It copies registers, the
 * live part of the stack and the Python frames into the thread's slot; the monitor unwinds the
 * copy later, in a process of its own (unwinding here can deadlock inside the dynamic loader).
 * It also hashes a call's innermost Python frames into its site, where python_sites asks. */
#define _GNU_SOURCE
#include "shim.h"
#include "util/fnv.h"

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

/* Copies len bytes of process pid's memory (this one's) at addr; -1, never a fault, when they
 * are not all mapped. */
static int read_own(pid_t pid, void *to, uint64_t addr, size_t len)
{
    struct iovec local = {to, len}, remote = {(void *)(uintptr_t)addr, len};
    long got = syscall(SYS_process_vm_readv, (long)pid, &local, 1L, &remote, 1L, 0L);
    if (got < 0 && (errno == EPERM || errno == ENOSYS))
        atomic_store_explicit(&python_copy_refused, 1, memory_order_relaxed);
    return got == (long)len ? 0 : -1;
}

/* Copies the pointer to the qualified name of each of frames[0..n)'s code objects into
 * names[0..n), in one read; those that cannot be read are 0. */
static void copy_names(pid_t pid, const struct ss_seg_python *layout,
                       const uint8_t (*frames)[SS_PY_COPY_SPAN], unsigned n, uint64_t *names)
{
    struct iovec local[SS_PY_COPY_FRAMES], remote[SS_PY_COPY_FRAMES];
    for (unsigned i = 0; i < n; i++) {
        uint64_t code;
        memcpy(&code, frames[i] + layout->frame_code, sizeof code);
        names[i] = 0;
        local[i] = (struct iovec){&names[i], sizeof names[i]};
        remote[i] = (struct iovec){(void *)(uintptr_t)(code + layout->code_name), sizeof names[i]};
    }
    /* A transfer stops at the first range it cannot read: those after it stay 0. */
    if (n)
        syscall(SYS_process_vm_readv, (long)pid, local, (long)n, remote, (long)n, 0L);
}

/* Copies the first bytes of each of the thread's Python frames into frames[0..max), innermost
 * first, following the chain the way the monitor published, and with names (if not NULL) the
 * pointer to each one's code object's qualified name; *n gets the number copied and
 * *complete whether the chain ended within them. Returns the thread state read from, 0 when
 * none is known or the chain could not be reached. errno is left as it was. */
static uint64_t copy_frames(struct ss_slot *s, uint8_t (*frames)[SS_PY_COPY_SPAN], uint64_t *names,
                            unsigned max, unsigned *n, int *complete)
{
    *n = 0;
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
    int saved = errno;
    /* Not the pid the shim keeps: a child just forked still has its parent's there. */
    pid_t pid = (pid_t)syscall(SYS_getpid);
    uint64_t frame;
    if (read_own(pid, &frame, ts + layout->tstate_frame, sizeof frame) < 0 ||
        (layout->cframe_current != UINT32_MAX && frame &&
         read_own(pid, &frame, frame + layout->cframe_current, sizeof frame) < 0)) {
        errno = saved;
        return 0;
    }
    for (; frame && *n < max && read_own(pid, frames[*n], frame, span) == 0; ++*n)
        memcpy(&frame, frames[*n] + layout->frame_previous, sizeof frame);
    *complete = frame == 0;
    if (names)
        copy_names(pid, layout, (const uint8_t(*)[SS_PY_COPY_SPAN])frames, *n, names);
    errno = saved;
    return ts;
}

/* Copies the thread's Python frames, when the monitor knows its state: what the monitor would
 * read later has changed by then. */
static void copy_python_into(struct ss_slot *s, struct ss_snapshot *snap)
{
    struct ss_py_copy *py = &snap->py;
    unsigned n;
    int complete;
    py->tstate = copy_frames(s, py->frames, py->names, SS_PY_COPY_FRAMES, &n, &complete);
    py->n = (uint16_t)n;
    py->complete = (uint16_t)complete;
}

uint64_t ss__python_key(struct ss_slot *s)
{
    if (!ss__opts.python_sites)
        return 0;
    uint8_t frames[SS_PY_KEY_FRAMES][SS_PY_COPY_SPAN];
    unsigned n;
    int complete;
    if (!copy_frames(s, frames, NULL, SS_PY_KEY_FRAMES, &n, &complete))
        return 0;
    struct ss_segment *seg = atomic_load_explicit(&ss__seg, memory_order_relaxed);
    uint64_t key = SS_FNV1A_INIT;
    for (unsigned i = 0; i < n; i++)
        key = ss_fnv1a(key, frames[i] + seg->python.frame_code, sizeof(uint64_t));
    return key;
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
        copy_python_into(s, snap);
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
