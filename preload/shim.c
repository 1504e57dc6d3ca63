/* shim: start-up, per-thread slots, fork handling and the fail-open switch. */
#define _GNU_SOURCE
#include "shim.h"
#include "interpose.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

__thread struct ss_thread_local ss__tls __attribute__((tls_model("initial-exec")));
struct ss_slot ss__slots[SS_MAX_LOOP_THREADS];
struct ss_options ss__opts;
_Atomic int ss__active;
_Atomic int ss__sampling;
_Atomic int ss__unwinding;
pid_t ss__pid;

static pthread_key_t thread_exit_key;
_Atomic int ss__watchdog_started;

uint64_t ss__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void ss__disable(const char *why)
{
    int expected = 1;
    if (atomic_compare_exchange_strong(&ss__active, &expected, 0))
        ss__warn("turned off: ", why);
}

static void on_option_problem(void *ctx, const char *what, const char *key, size_t len)
{
    (void)ctx;
    char name[64];
    if (len >= sizeof name)
        len = sizeof name - 1;
    memcpy(name, key, len);
    name[len] = '\0';
    char msg[128];
    size_t w = strlen(what);
    memcpy(msg, what, w);
    msg[w] = ' ';
    memcpy(msg + w + 1, name, len + 1);
    ss__warn(msg, " (in " SS_OPTIONS_ENV ", ignored)");
}

/* Thread exit: the watchdog frees the slot once it has written the thread's last data. */
static void on_thread_exit(void *p)
{
    struct ss_slot *slot = p;
    atomic_store_explicit(&slot->state, SS_STATE_WAITING, memory_order_release);
    atomic_store_explicit(&slot->exited, 1, memory_order_release);
    ss__tls.slot = NULL;
}

/* Where the kernel left argc at exec: the top of the main thread's stack (glibc's). */
extern void *__libc_stack_end;

/* Bounds of the stack that sp is on, known without a system call, so that a capture taken
 * before the watchdog has read the memory map is a plain copy. glibc on x86_64 places a
 * thread's descriptor (pthread_self()) at the top of its stack block, above its static TLS,
 * on a stack it allocated as on one given with pthread_attr_setstack; the main thread's
 * stack ends at __libc_stack_end. Everything between sp and either end is mapped. Where the
 * block of another thread begins is not known here: until the watchdog has read it, copies
 * start at most a snapshot's size below this frame, not on a stack lying below the
 * thread's (a coroutine's). Nothing is copied while sp is near neither end. */
static void stack_bounds_for(uintptr_t sp, uintptr_t *lo, uintptr_t *hi)
{
    uintptr_t self = (uintptr_t)pthread_self(), main_end = (uintptr_t)__libc_stack_end;
    *lo = *hi = 0;
    if (sp < self && self - sp <= SS_STACK_SPAN) {
        *hi = self;
        *lo = sp > SS_SNAP_STACK_BYTES ? sp - SS_SNAP_STACK_BYTES : 0;
    } else if (sp < main_end && main_end - sp <= SS_STACK_SPAN) {
        /* The kernel maps nothing else this close below the main stack's top: its mappings
         * start at least 128 MiB lower. */
        *hi = main_end;
    }
}

static void reset_slot(struct ss_slot *s, pid_t tid, uintptr_t sp)
{
    atomic_store(&s->state, SS_STATE_WAITING);
    atomic_store(&s->iteration, 0);
    uintptr_t lo, hi;
    stack_bounds_for(sp, &lo, &hi);
    atomic_store(&s->stack_lo, lo);
    atomic_store(&s->stack_hi, hi);
    s->sp_hint = sp;
    s->loop_key = 0;
    s->first_wait_ns = ss__now();
    for (size_t b = 0; b < SS_HIST_BUCKETS; b++)
        atomic_store_explicit(&s->hist[b], 0, memory_order_relaxed);
    atomic_store(&s->iterations, 0);
    atomic_store(&s->busy_total_ns, 0);
    atomic_store(&s->busy_max_ns, 0);
    atomic_store(&s->ended_head, 0);
    atomic_store(&s->ended_tail, 0);
    atomic_store(&s->ended_dropped, 0);
    atomic_store(&s->snaps_dropped, 0);
    atomic_store(&s->signal_blocked, ss__signal_blocked_here());
    atomic_store(&s->snap_state, SS_SNAP_FREE);
    atomic_store(&s->calls_head, 0);
    atomic_store(&s->calls_tail, 0);
    atomic_store(&s->calls_dropped, 0);
    for (size_t i = 0; i < SS_CALL_SNAPS; i++)
        atomic_store(&s->call_snap_state[i], SS_SNAP_FREE);
    memset(s->sites_seen, 0, sizeof s->sites_seen);
    atomic_store(&s->exited, 0);
    /* Published last: the watchdog only looks at slots with an owner. */
    atomic_store_explicit(&s->owner, tid, memory_order_release);
}

/* The child has one thread and no watchdog. A loop thread that forked goes on with its
 * iteration in the child, so it keeps its slot (with fresh counters); the child's watchdog
 * and trace file start at its next wait, so a child that only execs leaves no trace. */
static void after_fork_in_child(void)
{
    ss__pid = getpid();
    struct ss_slot *mine = ss__tls.slot;
    for (size_t i = 0; i < SS_MAX_LOOP_THREADS; i++)
        if (&ss__slots[i] != mine)
            atomic_store(&ss__slots[i].owner, 0);
    ss__watchdog_after_fork();
    ss__children_after_fork();
    atomic_store(&ss__watchdog_started, 0);
    if (!mine)
        return;
    int state = atomic_load(&mine->state);
    uint64_t iteration = atomic_load(&mine->iteration);
    uint64_t key = mine->loop_key;
    reset_slot(mine, (pid_t)syscall(SYS_gettid), mine->sp_hint);
    mine->loop_key = key;
    atomic_store(&mine->iteration, iteration);
    atomic_store(&mine->state, state);
}

/* Once the process exits, the loop is over: what exit handlers and static destructors do
 * (flushing streams, resetting terminals) is not the loop's, and is no longer recorded. */
static void on_exit_begin(void)
{
    atomic_store(&ss__active, 0);
}

/* At a thread's first wait, in the program's own order: the handler is registered after
 * everything the program set up before its loop, so it runs before all of that at exit. */
void ss__start_watchdog_once(void)
{
    if (atomic_exchange(&ss__watchdog_started, 1))
        return;
    atexit(on_exit_begin);
    if (ss__watchdog_start() < 0)
        ss__disable("cannot start the watchdog thread");
}

struct ss_slot *ss__claim_slot(void)
{
    int marker;
    pid_t tid = (pid_t)syscall(SYS_gettid);
    struct ss_slot *slot = NULL;
    for (size_t i = 0; i < SS_MAX_LOOP_THREADS && !slot; i++) {
        pid_t expected = 0;
        if (atomic_load(&ss__slots[i].owner) == 0 &&
            atomic_compare_exchange_strong(&ss__slots[i].owner, &expected, -1))
            slot = &ss__slots[i];
    }
    if (!slot) {
        static _Atomic int warned;
        if (!atomic_exchange(&warned, 1))
            ss__warn("too many loop threads; further ones are not traced", NULL);
        return NULL;
    }
    reset_slot(slot, tid, (uintptr_t)&marker);
    ss__tls.slot = slot;
    pthread_setspecific(thread_exit_key, slot);

    ss__start_watchdog_once();
    /* The watchdog announces the thread and reads where its stack mapping begins. */
    ss__watchdog_wake();
    return slot;
}

__attribute__((constructor)) static void ss__init(void)
{
    ss__pid = getpid();
    ss__resolve_all();
    ss_options_defaults(&ss__opts);
    /* A set-user-ID program must not take its output path from whoever started it. The
     * loader already refuses a preload from an arbitrary path there; this covers a shim
     * loaded some other way. */
    if (getauxval(AT_SECURE))
        return;
    const char *env = getenv(SS_OPTIONS_ENV);
    if (env)
        ss_options_parse(env, &ss__opts, on_option_problem, NULL);
    if (!ss__opts.enabled)
        return;
    atomic_store(&ss__unwinding, ss__opts.stacks);
    if (ss__opts.interval_ns > ss__opts.threshold_ns)
        ss__opts.interval_ns = ss__opts.threshold_ns;
    if (pthread_key_create(&thread_exit_key, on_thread_exit) != 0) {
        ss__warn("turned off: no thread-specific key available", NULL);
        return;
    }
    if (pthread_atfork(NULL, NULL, after_fork_in_child) != 0) {
        ss__warn("turned off: cannot register a fork handler", NULL);
        return;
    }
    ss__children_init();
    atomic_store(&ss__active, 1);
}

__attribute__((destructor)) static void ss__fini(void)
{
    if (atomic_load(&ss__watchdog_started))
        ss__watchdog_finish();
}
