/* waits: the interposed wait calls and sleeps. Wait calls delimit loop iterations; sleeps
 * mark the thread as inside a call the sampling signal must not cut short. The wrappers are
 * generated from the lists below so that every hook follows the same rules: pass straight
 * through unless the thread is a loop thread, preserve errno, and never let our own signal
 * surface as EINTR. */
#define _GNU_SOURCE
#include "catalogue.h"
#include "interpose.h"
#include "shim.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <time.h>

/* X(ret, name, params, args, loop key, timeout kind, timeout parameter,
 * descriptors watched) */
#define SS_WAIT_CALLS(X)                                                                           \
    X(int, epoll_wait, (int epfd, struct epoll_event *ev, int max, int timeout),                   \
      (epfd, ev, max, timeout), EPOLL_KEY(epfd), MS, timeout, 1)                                   \
    X(int, epoll_pwait,                                                                            \
      (int epfd, struct epoll_event *ev, int max, int timeout, const sigset_t *mask),              \
      (epfd, ev, max, timeout, mask), EPOLL_KEY(epfd), MS, timeout, 1)                             \
    X(int, epoll_pwait2,                                                                           \
      (int epfd, struct epoll_event *ev, int max, const struct timespec *timeout,                  \
       const sigset_t *mask),                                                                      \
      (epfd, ev, max, timeout, mask), EPOLL_KEY(epfd), TS, timeout, 1)                             \
    X(int, poll, (struct pollfd * fds, nfds_t n, int timeout), (fds, n, timeout), SITE_KEY, MS,    \
      timeout, n)                                                                                  \
    X(int, __poll_chk, (struct pollfd * fds, nfds_t n, int timeout, size_t fdslen),                \
      (fds, n, timeout, fdslen), SITE_KEY, MS, timeout, n)                                         \
    X(int, ppoll,                                                                                  \
      (struct pollfd * fds, nfds_t n, const struct timespec *timeout, const sigset_t *mask),       \
      (fds, n, timeout, mask), SITE_KEY, TS, timeout, n)                                           \
    X(int, __ppoll_chk,                                                                            \
      (struct pollfd * fds, nfds_t n, const struct timespec *timeout, const sigset_t *mask,        \
       size_t fdslen),                                                                             \
      (fds, n, timeout, mask, fdslen), SITE_KEY, TS, timeout, n)                                   \
    X(int, select, (int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *timeout),              \
      (n, r, w, e, timeout), SITE_KEY, TV, timeout, n)                                             \
    X(int, pselect,                                                                                \
      (int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *timeout,                     \
       const sigset_t *mask),                                                                      \
      (n, r, w, e, timeout, mask), SITE_KEY, TS, timeout, n)

/* Real functions the sleep hooks are built on; usleep and sleep are implemented with
 * nanosleep so that an interruption by our own signal can resume with the time left. */
#define SS_OTHER_CALLS(X)                                                                          \
    X(int, nanosleep, (const struct timespec *req, struct timespec *rem))                          \
    X(int, clock_nanosleep,                                                                        \
      (clockid_t clk, int flags, const struct timespec *req, struct timespec *rem))

#define DECLARE_REAL(ret, name, params, ...) static ret(*real_##name) params;
SS_WAIT_CALLS(DECLARE_REAL)
SS_OTHER_CALLS(DECLARE_REAL)

void ss__resolve_hooks(void)
{
#define LOOKUP(ret, name, ...) SS_LOOKUP(name);
    SS_WAIT_CALLS(LOOKUP)
    SS_OTHER_CALLS(LOOKUP)
#undef LOOKUP
}

struct wait_ctx {
    struct ss_slot *slot;
    int nested;
    int prior_state;
    uint64_t entered; /* clock at entry: ends an iteration, times the wait's timeout */
    int timed;        /* a nested wait made during an iteration: a blocking call */
    int watches_none; /* a poll or select of no descriptor: a sleep */
    unsigned call;
    uint64_t site;
    uint64_t frame; /* the hook's frame: how deep in the stack the wait was made */
};

static void account_iteration(struct ss_slot *s, uint64_t start, uint64_t busy)
{
    unsigned b = ss_hist_bucket(busy);
    SS_OWNER_ADD(s->hist[b], 1);
    SS_OWNER_ADD(s->iterations, 1);
    SS_OWNER_ADD(s->busy_total_ns, busy);
    if (busy > atomic_load_explicit(&s->busy_max_ns, memory_order_relaxed))
        atomic_store_explicit(&s->busy_max_ns, busy, memory_order_relaxed);
    if (busy < ss__opts.threshold_ns)
        return;
    uint32_t head = atomic_load_explicit(&s->ended_head, memory_order_relaxed);
    uint32_t tail = atomic_load_explicit(&s->ended_tail, memory_order_acquire);
    if (head - tail >= SS_STALL_RING) {
        /* Its record is lost, not the fact: the report still counts it, with its time. */
        SS_OWNER_ADD(s->ended_dropped, 1);
        SS_OWNER_ADD(s->ended_dropped_ns, busy);
        if (busy > atomic_load_explicit(&s->ended_dropped_max_ns, memory_order_relaxed))
            atomic_store_explicit(&s->ended_dropped_max_ns, busy, memory_order_relaxed);
        atomic_store_explicit(&s->ended_dropped_last, start, memory_order_relaxed);
        return;
    }
    s->ended[head % SS_STALL_RING] = (struct ss_stall_end){start, busy};
    atomic_store_explicit(&s->ended_head, head + 1, memory_order_release);
    /* Half full: a storm of short stalls; wake the monitor rather than lose their ends. */
    if (head + 1 - tail == SS_STALL_RING / 2)
        ss__wake_monitor();
}

/* A loop thread entering its own loop's wait is inside none of the shim's own work: a guard
 * still raised then was left by a jump out of the shim that no interposer saw (jumps.c), and
 * is taken off. A vfork child's mark stays. */
static int stranded(const struct ss_thread_local *t, uint64_t key)
{
    return t->slot && key == t->slot->loop_key && !(t->in_hook & ~SS_GUARD_MASK);
}

/* What wait_enter makes of a call: passed straight through, or traced (the loop's wait, or a
 * wait inside an iteration). */
enum { WAIT_UNTRACED, WAIT_TRACED };

/* A wait other than the thread's loop wait (loops.c decides what it is). */
static __attribute__((noinline)) int other_wait(uint64_t key, int can_block, struct wait_ctx *w)
{
    struct ss_thread_local *t = &ss__tls;
    ss__guard_enter();
    int kind = ss__other_wait(key, w->frame, w->call);
    ss__guard_leave();
    if (kind == SS_WAIT_LOOP)
        return -1;
    if (kind != SS_WAIT_NESTED && kind != SS_WAIT_OUTSIDE)
        return WAIT_UNTRACED;
    struct ss_slot *s = t->slot;
    /* A nested loop (a synchronous child wait, a one-off poll) is busy time, and a blocking
     * call of its own when it can block. A wait outside the loop's iterations is neither. */
    int state = atomic_load_explicit(&s->state, memory_order_relaxed);
    w->slot = s;
    w->entered = ss__now();
    w->prior_state = state;
    w->nested = 1;
    w->timed = kind == SS_WAIT_NESTED && can_block && state == SS_STATE_BUSY;
    if (w->timed) {
        ss__call_now_begin(s, w->call, w->site, w->entered);
        ss__enter_call(s);
    }
    return WAIT_TRACED;
}

static inline __attribute__((always_inline)) int wait_enter(uint64_t key, int can_block,
                                                            struct wait_ctx *w)
{
    struct ss_thread_local *t = &ss__tls;
    if (!atomic_load_explicit(&ss__active, memory_order_relaxed))
        return WAIT_UNTRACED;
    if (__builtin_expect(t->in_hook != 0, 0)) {
        if (!stranded(t, key))
            return WAIT_UNTRACED;
        t->in_hook = 0;
    }
    uint32_t generation = atomic_load_explicit(&ss__generation, memory_order_relaxed);
    if (__builtin_expect(t->generation != generation, 0)) {
        /* A slot of an earlier attach's segment, which the monitor no longer reads. */
        t->slot = NULL;
        t->candidate = 0;
        t->candidate_waits = 0;
        t->claim_failed_at = 0;
        t->generation = generation;
    }
    struct ss_slot *s = t->slot;
    if (__builtin_expect(!s || key != s->loop_key, 0)) {
        int kind = other_wait(key, can_block, w);
        if (kind >= 0)
            return kind;
        s = t->slot;
    }
    t->candidate_waits = 0;
    if (__builtin_expect(!atomic_load_explicit(&ss__announced, memory_order_relaxed), 0)) {
        ss__guard_enter();
        ss__segment_retry();
        ss__guard_leave();
    }
    if (__builtin_expect(atomic_load_explicit(&s->request, memory_order_relaxed) != 0, 0)) {
        ss__guard_enter();
        ss__serve_requests(s);
        ss__guard_leave();
    }
    w->slot = s;
    w->entered = ss__now();
    w->nested = 0;
    int state = atomic_load_explicit(&s->state, memory_order_relaxed);
    if (state != SS_STATE_WAITING) {
        uint64_t start = atomic_load_explicit(&s->iteration, memory_order_relaxed);
        account_iteration(s, start, w->entered - start);
    }
    atomic_store_explicit(&s->state, SS_STATE_WAITING, memory_order_release);
    return WAIT_TRACED;
}

static void wait_leave(struct wait_ctx *w)
{
    struct ss_slot *s = w->slot;
    if (w->nested) {
        atomic_store_explicit(&s->state, w->prior_state, memory_order_release);
        if (w->timed) {
            ss__guard_enter();
            ss__record_call(s, w->call, w->watches_none ? SS_CAT_SLEEP : SS_CAT_WAIT, w->site,
                            w->entered, ss__now() - w->entered, -1, NULL);
            ss__guard_leave();
        }
        return;
    }
    atomic_store_explicit(&s->iteration, ss__now(), memory_order_release);
    atomic_store_explicit(&s->state, SS_STATE_BUSY, memory_order_release);
}

/* Our sampling signal interrupted the call when EINTR comes back and the handler ran. */
static int interrupted_by_us(int rc, unsigned *signals_before)
{
    if (rc >= 0 || errno != EINTR)
        return 0;
    unsigned now = atomic_load_explicit(&ss__tls.signals_seen, memory_order_relaxed);
    if (now == *signals_before)
        return 0;
    *signals_before = now;
    return 1;
}

static int remaining_ms(int timeout, uint64_t start)
{
    if (timeout < 0)
        return timeout;
    uint64_t spent = (ss__now() - start) / 1000000;
    return spent >= (uint64_t)timeout ? 0 : timeout - (int)spent;
}

static const struct timespec *remaining_ts(const struct timespec *timeout, uint64_t start,
                                           struct timespec *buf)
{
    if (!timeout)
        return NULL;
    uint64_t total = (uint64_t)timeout->tv_sec * 1000000000ull + (uint64_t)timeout->tv_nsec;
    uint64_t spent = ss__now() - start;
    uint64_t left = spent >= total ? 0 : total - spent;
    buf->tv_sec = (time_t)(left / 1000000000ull);
    buf->tv_nsec = (long)(left % 1000000000ull);
    return buf;
}

#define EPOLL_KEY(fd) SS_LOOP_KEY_OF_EPOLL(fd)
#define SITE_KEY ((uint64_t)(uintptr_t)__builtin_return_address(0))
/* Whether a wait may block: a zero timeout returns at once. */
#define CAN_BLOCK_MS(t) ((t) != 0)
#define CAN_BLOCK_TS(t) (!(t) || (t)->tv_sec != 0 || (t)->tv_nsec != 0)
#define CAN_BLOCK_TV(t) (!(t) || (t)->tv_sec != 0 || (t)->tv_usec != 0)
/* Linux updates select's timeval with the time left, so a restart can reuse it. */
#define RETIMEOUT_MS(t, orig, start, buf) ((void)(buf), (t) = remaining_ms((orig), (start)))
#define RETIMEOUT_TS(t, orig, start, buf) ((t) = remaining_ts((orig), (start), &(buf)))
#define RETIMEOUT_TV(t, orig, start, buf) ((void)(orig), (void)(start), (void)(buf))

#define DEFINE_WAIT_HOOK(ret, name, params, args, key, kind, tparam, watched)                      \
    ret name params                                                                                \
    {                                                                                              \
        SS_MISSING(SS_FIND(name), -1);                                                             \
        struct wait_ctx ss_w_;                                                                     \
        int ss_saved_ = errno;                                                                     \
        ss_w_.call = SS_CALL_##name;                                                               \
        ss_w_.site = (uint64_t)(uintptr_t)__builtin_return_address(0);                             \
        ss_w_.frame = (uint64_t)(uintptr_t)__builtin_frame_address(0);                             \
        ss_w_.watches_none = (watched) == 0;                                                       \
        if (wait_enter(key, CAN_BLOCK_##kind(tparam), &ss_w_) == WAIT_UNTRACED) {                  \
            errno = ss_saved_;                                                                     \
            return real_##name args;                                                               \
        }                                                                                          \
        uint64_t ss_started_ = ss_w_.entered;                                                      \
        struct timespec ss_left_;                                                                  \
        __typeof__(tparam) ss_orig_ = tparam;                                                      \
        unsigned ss_signals_ = atomic_load_explicit(&ss__tls.signals_seen, memory_order_relaxed);  \
        errno = ss_saved_;                                                                         \
        ret ss_rc_;                                                                                \
        for (;;) {                                                                                 \
            ss_rc_ = real_##name args;                                                             \
            if (!interrupted_by_us(ss_rc_, &ss_signals_))                                          \
                break;                                                                             \
            RETIMEOUT_##kind(tparam, ss_orig_, ss_started_, ss_left_);                             \
            errno = ss_saved_;                                                                     \
        }                                                                                          \
        ss_saved_ = errno;                                                                         \
        wait_leave(&ss_w_);                                                                        \
        errno = ss_saved_;                                                                         \
        return ss_rc_;                                                                             \
    }

SS_WAIT_CALLS(DEFINE_WAIT_HOOK)

/* Sleeps: the thread is busy but must not be signalled. Returns the slot when traced. */
static inline __attribute__((always_inline)) struct ss_slot *
call_enter(unsigned call, uint64_t site, uint64_t *started)
{
    struct ss_thread_local *t = &ss__tls;
    struct ss_slot *s = t->slot;
    if (!s || t->in_hook || !atomic_load_explicit(&ss__active, memory_order_relaxed) ||
        atomic_load_explicit(&s->state, memory_order_relaxed) != SS_STATE_BUSY)
        return NULL;
    *started = ss__now();
    ss__call_now_begin(s, call, site, *started);
    ss__enter_call(s);
    return s;
}

static void call_leave(struct ss_slot *s, unsigned call, uint64_t site, uint64_t started)
{
    uint64_t now = ss__now();
    atomic_store_explicit(&s->state, SS_STATE_BUSY, memory_order_release);
    ss__guard_enter();
    ss__record_call(s, call, SS_CAT_SLEEP, site, started, now - started, -1, NULL);
    ss__guard_leave();
}

/* nanosleep with resumption after our own signal; *rem gets the time left after a host
 * signal, as the real call would give it. */
static int sleep_resuming(const struct timespec *req, struct timespec *rem)
{
    struct timespec left;
    const struct timespec *cur = req;
    unsigned signals = atomic_load_explicit(&ss__tls.signals_seen, memory_order_relaxed);
    int rc;
    for (;;) {
        rc = real_nanosleep(cur, &left);
        if (!interrupted_by_us(rc, &signals))
            break;
        cur = &left;
    }
    if (rc < 0 && errno == EINTR && rem)
        *rem = left;
    return rc;
}

/* `real` is the function call_expr is built on, `missing` what to return without it. */
#define CALL_HOOK_BODY(name, real, missing, call_expr)                                             \
    int saved = errno;                                                                             \
    SS_MISSING(SS_FIND(real), missing);                                                            \
    uint64_t started = 0;                                                                          \
    struct ss_slot *slot =                                                                         \
        call_enter(SS_CALL_##name, (uint64_t)(uintptr_t)__builtin_return_address(0), &started);    \
    errno = saved;                                                                                 \
    __typeof__(call_expr) rc = call_expr;                                                          \
    if (slot) {                                                                                    \
        saved = errno;                                                                             \
        call_leave(slot, SS_CALL_##name, (uint64_t)(uintptr_t)__builtin_return_address(0),         \
                   started);                                                                       \
        errno = saved;                                                                             \
    }

int nanosleep(const struct timespec *req, struct timespec *rem)
{
    CALL_HOOK_BODY(nanosleep, nanosleep, -1, sleep_resuming(req, rem));
    return rc;
}

int __nanosleep(const struct timespec *req, struct timespec *rem)
{
    CALL_HOOK_BODY(nanosleep, nanosleep, -1, sleep_resuming(req, rem));
    return rc;
}

static int clock_sleep_resuming(clockid_t clk, int flags, const struct timespec *req,
                                struct timespec *rem)
{
    struct timespec left;
    const struct timespec *cur = req;
    unsigned signals = atomic_load_explicit(&ss__tls.signals_seen, memory_order_relaxed);
    int rc;
    for (;;) {
        rc = real_clock_nanosleep(clk, flags, cur, &left);
        unsigned now = atomic_load_explicit(&ss__tls.signals_seen, memory_order_relaxed);
        if (rc != EINTR || now == signals)
            break;
        signals = now;
        if (!(flags & TIMER_ABSTIME))
            cur = &left;
    }
    if (rc == EINTR && rem && !(flags & TIMER_ABSTIME))
        *rem = left;
    return rc;
}

int clock_nanosleep(clockid_t clk, int flags, const struct timespec *req, struct timespec *rem)
{
    CALL_HOOK_BODY(clock_nanosleep, clock_nanosleep, ENOSYS,
                   clock_sleep_resuming(clk, flags, req, rem));
    return rc;
}

int usleep(useconds_t usec)
{
    struct timespec req = {(time_t)(usec / 1000000), (long)(usec % 1000000) * 1000};
    CALL_HOOK_BODY(usleep, nanosleep, -1, sleep_resuming(&req, NULL));
    return rc;
}

unsigned int sleep(unsigned int seconds)
{
    struct timespec req = {(time_t)seconds, 0}, rem = {0, 0};
    CALL_HOOK_BODY(sleep, nanosleep, seconds, sleep_resuming(&req, &rem));
    if (rc < 0)
        return (unsigned int)rem.tv_sec + (rem.tv_nsec >= 500000000L);
    return 0;
}
