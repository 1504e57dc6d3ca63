/* signals: the sampling signal belongs to the program first. The program may install its own
 * handler for it, or block it, at any time after the shim started sampling. These interposers
 * notice: a new handler (or SIG_IGN) makes the shim stop sampling by signal for good, after
 * any signal already on its way has reached the shim's handler, and the program's handler is
 * installed as asked (SIG_DFL is what the program sees already, and changes nothing); a thread that
 * blocks the signal is not signalled until it unblocks it. The program sees the dispositions and
 * masks it would see without the shim. The C library's older functions (sigset, sighold,
 * sigblock, siginterrupt and the like) reach the kernel through its internal functions, past
 * the interposers of the newer ones, so each is interposed as well. */
#define _GNU_SOURCE
#include "interpose.h"
#include "shim.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

typedef void (*handler_fn)(int);

/* Calls that set a signal's handler in the signal(2) style: (int sig, handler) -> previous. */
#define SS_HANDLER_CALLS(X)                                                                        \
    X(signal)                                                                                      \
    X(bsd_signal)                                                                                  \
    X(ssignal)                                                                                     \
    X(sysv_signal)                                                                                 \
    X(__sysv_signal)

/* (name, what it returns when the real call is missing) */
#define SS_MASK_CALLS(X)                                                                           \
    X(sigprocmask, -1)                                                                             \
    X(pthread_sigmask, ENOSYS)

static int (*real_sigaction)(int, const struct sigaction *, struct sigaction *);
static int (*real_sigignore)(int);
static handler_fn (*real_sigset)(int, handler_fn);
static int (*real_sighold)(int);
static int (*real_sigrelse)(int);
static int (*real_sigblock)(int);
static int (*real_sigsetmask)(int);
static int (*real_siginterrupt)(int, int);
#define DECLARE_HANDLER(name) static handler_fn (*real_##name)(int, handler_fn);
#define DECLARE_MASK(name, missing) static int (*real_##name)(int, const sigset_t *, sigset_t *);
SS_HANDLER_CALLS(DECLARE_HANDLER)
SS_MASK_CALLS(DECLARE_MASK)

_Atomic int ss__signal_on;

void ss__let_sample_land(struct ss_slot *s)
{
    uint64_t deadline = ss__now() + 2000000;
    while (atomic_load(&s->snap_state) == SS_SNAP_REQUESTED && ss__now() < deadline)
        __builtin_ia32_pause();
}

/* Tells the monitor whether it may send the signal. */
static void publish_state(enum ss_signal_state state)
{
    struct ss_segment *seg = atomic_load(&ss__seg);
    if (seg)
        atomic_store(&seg->signal_state, state);
}

void ss__resolve_signals(void)
{
    SS_LOOKUP(sigaction);
    SS_LOOKUP(sigignore);
    SS_LOOKUP(sigset);
    SS_LOOKUP(sighold);
    SS_LOOKUP(sigrelse);
    SS_LOOKUP(sigblock);
    SS_LOOKUP(sigsetmask);
    SS_LOOKUP(siginterrupt);
#define LOOKUP(name, ...) SS_LOOKUP(name);
    SS_HANDLER_CALLS(LOOKUP)
    SS_MASK_CALLS(LOOKUP)
#undef LOOKUP
}

int ss__real_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    SS_MISSING(SS_FIND(sigaction), -1);
    return real_sigaction(sig, act, old);
}

/* Serialises the shim's install of its handler with the program's changes of the signal's
 * disposition, so that neither overwrites the other unseen. Bounded: a signal handler that
 * changes dispositions while its own thread holds the lock goes on without it. */
static _Atomic int disposition_lock;

int ss__lock_dispositions(void)
{
    /* A vfork child changes its own dispositions, and must not wait on its parent. */
    if (ss__in_vfork_child())
        return 0;
    for (int i = 0; i < 100000; i++)
        if (!atomic_exchange_explicit(&disposition_lock, 1, memory_order_acquire))
            return 1;
    return 0;
}

void ss__unlock_dispositions(int held)
{
    if (held)
        atomic_store_explicit(&disposition_lock, 0, memory_order_release);
}

/* Not in a vfork child: what it does to its dispositions is its own, and must not stop its
 * parent's sampling. */
static int is_sampling_signal(int sig)
{
    return sig > 0 && sig == ss__opts.signal && atomic_load(&ss__signal_on) &&
           !ss__in_vfork_child();
}

static int sample_requested_elsewhere(void)
{
    struct ss_segment *seg = atomic_load(&ss__seg);
    for (size_t i = 0; seg && i < SS_SEG_SLOTS; i++) {
        struct ss_slot *s = &seg->slots[i];
        if (s != ss__tls.slot && atomic_load(&s->owner) > 0 &&
            atomic_load(&s->snap_state) == SS_SNAP_REQUESTED)
            return 1;
    }
    return 0;
}

/* What the program last asked siginterrupt() for the sampling signal while the shim's handler
 * was installed (-1: nothing); applied when the program takes the signal over. */
static _Atomic int interrupt_asked = -1;

/* Stops sampling by signal before the program's own disposition takes effect. The monitor
 * checks the segment's signal state after marking a request, so a request it can still act
 * on is visible here; waiting for those (bounded) lets a signal already sent reach the
 * shim's handler rather than the program's. */
static void release_signal(const char *why)
{
    if (!atomic_exchange(&ss__signal_on, 0))
        return;
    publish_state(SS_SIGNAL_REFUSED);
    ss__guard_enter();
    struct ss_slot *own = ss__tls.slot;
    if (own && atomic_load(&own->snap_state) == SS_SNAP_REQUESTED) {
        /* Sent while this thread blocks the signal: take it off the thread's pending set. */
        sigset_t pending, only;
        sigemptyset(&only);
        sigaddset(&only, ss__opts.signal);
        struct timespec none = {0, 0};
        if (sigpending(&pending) == 0 && sigismember(&pending, ss__opts.signal) == 1)
            sigtimedwait(&only, NULL, &none);
    }
    uint64_t deadline = ss__now() + ss__opts.sample_timeout_ns;
    while (sample_requested_elsewhere() && ss__now() < deadline) {
        struct timespec pause = {0, 20000};
        nanosleep(&pause, NULL);
    }
    /* The C library's signal() takes SA_RESTART from what siginterrupt() was last told. */
    int interrupt = atomic_exchange(&interrupt_asked, -1);
    if (interrupt >= 0 && real_siginterrupt)
        real_siginterrupt(ss__opts.signal, interrupt);
    ss__guard_leave();
    ss__note(why, "; stalls have no signal samples from now on");
}

static const char took_over[] = "the program set its own handler for the sampling signal";

/* What the program would have seen without the shim: the default disposition. */
static void hide_own_handler(struct sigaction *old)
{
    if (old && (old->sa_flags & SA_SIGINFO) && old->sa_sigaction == ss__on_sample_signal) {
        memset(old, 0, sizeof *old);
        old->sa_handler = SIG_DFL;
    }
}

static int sigaction_hook(int sig, const struct sigaction *act, struct sigaction *old)
{
    int saved = errno;
    SS_MISSING(SS_FIND(sigaction), -1);
    int held = sig == ss__opts.signal && act ? ss__lock_dispositions() : 0;
    if (is_sampling_signal(sig) && act) {
        if (!(act->sa_flags & SA_SIGINFO) && act->sa_handler == SIG_DFL) {
            /* What the program already sees (a library restoring what it queried): nothing
             * changes for it, and sampling goes on. */
            ss__unlock_dispositions(held);
            if (old) {
                memset(old, 0, sizeof *old);
                old->sa_handler = SIG_DFL;
            }
            errno = saved;
            return 0;
        }
        release_signal(took_over);
    }
    errno = saved;
    int rc = real_sigaction(sig, act, old);
    ss__unlock_dispositions(held);
    if (rc == 0 && sig == ss__opts.signal)
        hide_own_handler(old);
    return rc;
}

int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    int rc = sigaction_hook(sig, act, old);
    __asm__ volatile("" ::: "memory");
    return rc;
}

int __sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    int rc = sigaction_hook(sig, act, old);
    __asm__ volatile("" ::: "memory");
    return rc;
}

static void install_signal_handler(void)
{
    struct sigaction old, sa;
    if (ss__real_sigaction(ss__opts.signal, NULL, &old) != 0) {
        publish_state(SS_SIGNAL_REFUSED);
        ss__note("the sampling signal cannot be used (reserved by the C library?); stalls have "
                 "no signal samples (choose another with signal=N)",
                 NULL);
        return;
    }
    if (old.sa_flags & SA_SIGINFO && old.sa_sigaction == ss__on_sample_signal) {
        /* Inherited through fork. */
        atomic_store(&ss__signal_on, 1);
        publish_state(SS_SIGNAL_INSTALLED);
        return;
    }
    if (old.sa_flags & SA_SIGINFO || old.sa_handler != SIG_DFL) {
        publish_state(SS_SIGNAL_REFUSED);
        ss__note("the sampling signal already has a handler in this program; stalls have no "
                 "signal samples (choose another with signal=N)",
                 NULL);
        return;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = ss__on_sample_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    /* The program's own handlers wait the few hundred nanoseconds the copy takes: one that
     * jumps out (siglongjmp) must not cut it short, or the request would never be answered.
     * Faults are left unblocked, as the kernel delivers them anyway. */
    static const int faults[] = {SIGILL, SIGTRAP, SIGBUS, SIGFPE, SIGSEGV};
    sigfillset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++)
        sigdelset(&sa.sa_mask, faults[i]);
    if (ss__real_sigaction(ss__opts.signal, &sa, NULL) != 0) {
        publish_state(SS_SIGNAL_REFUSED);
        ss__note("cannot install the sampling signal handler; stalls have no signal samples", NULL);
        return;
    }
    atomic_store(&ss__signal_on, 1);
    publish_state(SS_SIGNAL_INSTALLED);
}

/* Once per process, when the monitor first asks: a program the monitor samples with perf
 * events never has a handler of ours. A forked child asks again for its own segment. */
static _Atomic int install_tried;

void ss__signals_after_fork(void)
{
    atomic_store(&install_tried, 0);
}

void ss__install_signal_handler(void)
{
    if (atomic_exchange(&install_tried, 1))
        return;
    int held = ss__lock_dispositions();
    install_signal_handler();
    ss__unlock_dispositions(held);
}

#define DEFINE_HANDLER_HOOK(name)                                                                  \
    handler_fn name(int sig, handler_fn handler)                                                   \
    {                                                                                              \
        int saved = errno;                                                                         \
        SS_MISSING(SS_FIND(name), SIG_ERR);                                                        \
        if (is_sampling_signal(sig) && handler == SIG_DFL) {                                       \
            errno = saved;                                                                         \
            return SIG_DFL;                                                                        \
        }                                                                                          \
        int held = sig == ss__opts.signal ? ss__lock_dispositions() : 0;                           \
        if (is_sampling_signal(sig))                                                               \
            release_signal(took_over);                                                             \
        errno = saved;                                                                             \
        handler_fn prev = real_##name(sig, handler);                                               \
        ss__unlock_dispositions(held);                                                             \
        if ((uintptr_t)prev == (uintptr_t)ss__on_sample_signal)                                    \
            prev = SIG_DFL;                                                                        \
        return prev;                                                                               \
    }
SS_HANDLER_CALLS(DEFINE_HANDLER_HOOK)

int sigignore(int sig)
{
    int saved = errno;
    SS_MISSING(SS_FIND(sigignore), -1);
    int held = sig == ss__opts.signal ? ss__lock_dispositions() : 0;
    if (is_sampling_signal(sig))
        release_signal(took_over);
    errno = saved;
    int rc = real_sigignore(sig);
    ss__unlock_dispositions(held);
    __asm__ volatile("" ::: "memory");
    return rc;
}

/* After a mask change the calling thread made past sigprocmask: whether it blocks the sampling
 * signal now (1, 0, or -1 for unchanged). */
static void note_blocked(int blocked)
{
    struct ss_slot *slot = ss__in_vfork_child() ? NULL : ss__tls.slot;
    if (slot && blocked >= 0)
        atomic_store_explicit(&slot->signal_blocked, blocked, memory_order_relaxed);
}

static int is_the_signal(int sig)
{
    return sig > 0 && sig == ss__opts.signal;
}

/* sigset(SIG_HOLD) blocks the signal and leaves its disposition; any other disposition is set
 * and the signal unblocked. */
handler_fn sigset(int sig, handler_fn handler)
{
    int saved = errno;
    SS_MISSING(SS_FIND(sigset), SIG_ERR);
    handler_fn prev;
    if (handler == SIG_HOLD) {
        errno = saved;
        prev = real_sigset(sig, handler);
        if (prev != SIG_ERR && is_the_signal(sig))
            note_blocked(1);
    } else if (is_sampling_signal(sig) && handler == SIG_DFL) {
        /* The disposition the program sees already: only the unblocking is left to do. */
        sigset_t only, old;
        sigemptyset(&only);
        sigaddset(&only, sig);
        if (!real_sigprocmask || real_sigprocmask(SIG_UNBLOCK, &only, &old) != 0)
            return SIG_ERR;
        note_blocked(0);
        errno = saved;
        return sigismember(&old, sig) == 1 ? SIG_HOLD : SIG_DFL;
    } else {
        int held = is_the_signal(sig) ? ss__lock_dispositions() : 0;
        if (is_sampling_signal(sig))
            release_signal(took_over);
        errno = saved;
        prev = real_sigset(sig, handler);
        ss__unlock_dispositions(held);
        if (prev != SIG_ERR && is_the_signal(sig))
            note_blocked(0);
    }
    if ((uintptr_t)prev == (uintptr_t)ss__on_sample_signal)
        prev = SIG_DFL;
    return prev;
}

#define DEFINE_ONE_SIGNAL_MASK_HOOK(name, blocks)                                                  \
    int name(int sig)                                                                              \
    {                                                                                              \
        int saved = errno;                                                                         \
        SS_MISSING(SS_FIND(name), -1);                                                             \
        errno = saved;                                                                             \
        int rc = real_##name(sig);                                                                 \
        if (rc == 0 && is_the_signal(sig))                                                         \
            note_blocked(blocks);                                                                  \
        return rc;                                                                                 \
    }
DEFINE_ONE_SIGNAL_MASK_HOOK(sighold, 1)
DEFINE_ONE_SIGNAL_MASK_HOOK(sigrelse, 0)

/* Whether an old BSD mask (signals 1 to 32, one bit each) holds the sampling signal. */
static int in_bsd_mask(int mask)
{
    int sig = ss__opts.signal;
    return sig > 0 && sig <= 32 && ((unsigned)mask >> (sig - 1)) & 1u;
}

int sigblock(int mask)
{
    int saved = errno;
    SS_MISSING(SS_FIND(sigblock), -1);
    errno = saved;
    int old = real_sigblock(mask);
    if (in_bsd_mask(mask))
        note_blocked(1);
    return old;
}

/* Sets the whole mask: a sampling signal above 32 cannot be in it, so it is unblocked. */
int sigsetmask(int mask)
{
    int saved = errno;
    SS_MISSING(SS_FIND(sigsetmask), -1);
    errno = saved;
    int old = real_sigsetmask(mask);
    if (ss__opts.signal > 0)
        note_blocked(in_bsd_mask(mask));
    return old;
}

/* siginterrupt() rewrites the flags of the disposition it finds: on the shim's handler it would
 * take SA_RESTART away, and the sampling signal would cut the program's system calls short. The
 * program's wish is kept for when it installs a handler of its own. */
int siginterrupt(int sig, int interrupt)
{
    int saved = errno;
    SS_MISSING(SS_FIND(siginterrupt), -1);
    int held = is_the_signal(sig) ? ss__lock_dispositions() : 0;
    if (is_sampling_signal(sig)) {
        atomic_store(&interrupt_asked, interrupt != 0);
        ss__unlock_dispositions(held);
        errno = saved;
        return 0;
    }
    errno = saved;
    int rc = real_siginterrupt(sig, interrupt);
    ss__unlock_dispositions(held);
    return rc;
}

/* Whether the sampling signal is blocked once `how` is applied with `set`: -1 unchanged. */
static int blocked_after(int how, const sigset_t *set)
{
    if (!set || sigismember(set, ss__opts.signal) != 1)
        return how == SIG_SETMASK && set ? 0 : -1;
    return how == SIG_UNBLOCK ? 0 : 1;
}

/* On a loop thread: a thread-local check and one relaxed store besides the real call. */
#define DEFINE_MASK_HOOK(name, missing)                                                            \
    int name(int how, const sigset_t *set, sigset_t *old)                                          \
    {                                                                                              \
        int saved = errno;                                                                         \
        SS_MISSING(SS_FIND(name), missing);                                                        \
        struct ss_slot *slot = ss__in_vfork_child() ? NULL : ss__tls.slot;                         \
        int blocked = slot && ss__opts.signal > 0 ? blocked_after(how, set) : -1;                  \
        errno = saved;                                                                             \
        int rc = real_##name(how, set, old);                                                       \
        if (rc == 0 && blocked >= 0)                                                               \
            atomic_store_explicit(&slot->signal_blocked, blocked, memory_order_relaxed);           \
        return rc;                                                                                 \
    }
SS_MASK_CALLS(DEFINE_MASK_HOOK)

int ss__signal_blocked_here(void)
{
    sigset_t cur;
    if (!SS_FIND(pthread_sigmask) || real_pthread_sigmask(SIG_BLOCK, NULL, &cur) != 0)
        return 0;
    return ss__opts.signal > 0 && sigismember(&cur, ss__opts.signal) == 1;
}
