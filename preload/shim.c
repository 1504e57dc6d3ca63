/* shim: start-up, per-thread slots, fork and exit handling and the fail-open switch. */
#define _GNU_SOURCE
#include "shim.h"
#include "got.h"
#include "interpose.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

__thread struct ss_thread_local ss__tls __attribute__((tls_model("initial-exec")));
struct ss_options ss__opts;
_Atomic int ss__active;
_Atomic int ss__unwinding;
pid_t ss__pid;
struct ss_segment *_Atomic ss__seg;

static pthread_key_t thread_exit_key;
static _Atomic int exit_handler_registered;

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
        ss__note("turned off: ", why);
}

void ss__wake_monitor(void)
{
    struct ss_segment *seg = atomic_load_explicit(&ss__seg, memory_order_relaxed);
    if (!seg)
        return;
    atomic_fetch_add(&seg->wake, 1);
    /* Not private: the monitor waits on this word in its own mapping of the segment. */
    syscall(SYS_futex, &seg->wake, FUTEX_WAKE, 1, NULL, NULL, 0);
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

/* Thread exit: the monitor frees the slot once it has written the thread's last data. */
static void on_thread_exit(void *p)
{
    struct ss_slot *slot = p;
    if (slot->loop_key)
        ss__loop_end(slot, SS_LOOP_THREAD_EXIT, ss__now());
    atomic_store_explicit(&slot->state, SS_STATE_WAITING, memory_order_release);
    atomic_store_explicit(&slot->exited, SS_SLOT_THREAD_EXITED, memory_order_release);
    ss__tls.slot = NULL;
}

void ss__forget_thread_slot(void)
{
    pthread_setspecific(thread_exit_key, NULL);
}

/* Where the kernel left argc at exec: the top of the main thread's stack (glibc's). */
extern void *__libc_stack_end;

/* Bounds of the stack that sp is on, known without a system call, so that a capture taken
 * before the monitor has read the memory map is a plain copy. glibc on x86_64 places a
 * thread's descriptor (pthread_self()) at the top of its stack block, above its static TLS,
 * on a stack it allocated as on one given with pthread_attr_setstack; the main thread's
 * stack ends at __libc_stack_end. Everything between sp and either end is mapped. Where the
 * block of another thread begins is not known here: until the monitor has read it, copies
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

/* A slot is reused only after the monitor has freed it, so every counter starts at zero but
 * for those the monitor left: everything is set again here before the owner is published. */
static void reset_slot(struct ss_slot *s, pid_t tid, uintptr_t sp)
{
    atomic_store(&s->state, SS_STATE_WAITING);
    atomic_store(&s->iteration, 0);
    atomic_store(&s->request, 0);
    atomic_store(&s->exited, 0);
    uintptr_t lo, hi;
    stack_bounds_for(sp, &lo, &hi);
    atomic_store(&s->stack_lo, lo);
    atomic_store(&s->stack_hi, hi);
    s->sp_hint = sp;
    s->thread_self = (uint64_t)pthread_self();
    s->loop_key = 0;
    s->loop_sp = 0;
    s->loop_iterations0 = 0;
    atomic_store(&s->loop_head, 0);
    atomic_store(&s->loop_tail, 0);
    atomic_store(&s->loop_dropped, 0);
    s->first_wait_ns = ss__now();
    for (size_t b = 0; b < SS_HIST_BUCKETS; b++)
        atomic_store_explicit(&s->hist[b], 0, memory_order_relaxed);
    atomic_store(&s->iterations, 0);
    atomic_store(&s->busy_total_ns, 0);
    atomic_store(&s->busy_max_ns, 0);
    atomic_store(&s->ended_head, 0);
    atomic_store(&s->ended_tail, 0);
    atomic_store(&s->ended_dropped, 0);
    atomic_store(&s->ended_dropped_ns, 0);
    atomic_store(&s->ended_dropped_max_ns, 0);
    atomic_store(&s->ended_dropped_last, 0);
    atomic_store(&s->call_now.seq, 0);
    atomic_store(&s->signal_blocked, ss__signal_blocked_here());
    atomic_store(&s->signals_answered, 0);
    atomic_store(&s->snap_state, SS_SNAP_FREE);
    atomic_store(&s->snaps_dropped, 0);
    atomic_store(&s->calls_head, 0);
    atomic_store(&s->calls_tail, 0);
    atomic_store(&s->calls_dropped, 0);
    for (size_t i = 0; i < SS_CALL_SNAPS; i++)
        atomic_store(&s->call_snap_state[i], SS_SNAP_FREE);
    memset(s->sites_seen, 0, sizeof s->sites_seen);
    /* Published last: the monitor only looks at slots with an owner. */
    atomic_store_explicit(&s->owner, tid, memory_order_release);
}

/* The child has one thread and no segment of its own: it records its execs into its
 * parent's ring until its first loop wait makes its own segment, and that thread claims a
 * slot there. A child that only execs costs nothing and leaves no trace. */
void ss__after_fork_in_child(void)
{
    ss__pid = getpid();
    /* Forked from a loop thread, the child goes on with its loop: its next wait on it makes
     * the loop its own. */
    struct ss_slot *parents = ss__tls.slot;
    if (parents && parents->loop_key) {
        ss__tls.candidate = parents->loop_key;
        ss__tls.candidate_waits = ss__waits_to_become_a_loop(parents->loop_key) - 1;
    }
    ss__tls.slot = NULL;
    ss__got_after_fork();
    ss__segment_after_fork();
    ss__signals_after_fork();
}

/* Once the process exits, the loop is over: what exit handlers and static destructors do
 * (flushing streams, resetting terminals) is not the loop's, and is no longer recorded. */
/* Calls on descriptors of unknown kind that the monitor has not classified yet: it looks at
 * the descriptor in /proc, which it cannot once the process is gone. The process, whose loop
 * is over, looks at them itself (usually there are none). */
static void classify_before_leaving(struct ss_segment *seg)
{
    for (size_t i = 0; i < SS_SEG_SLOTS; i++) {
        struct ss_slot *s = &seg->slots[i];
        if (atomic_load_explicit(&s->owner, memory_order_acquire) <= 0)
            continue;
        uint32_t tail = atomic_load_explicit(&s->calls_tail, memory_order_acquire);
        uint32_t head = atomic_load_explicit(&s->calls_head, memory_order_acquire);
        for (; tail != head; tail++) {
            struct ss_call_event *e = &s->calls[tail % SS_CALL_RING];
            struct stat st;
            /* A whole path the monitor can still look at; a path cut short it cannot. */
            if (e->category != SS_CAT_PENDING || e->fd < 0 || e->detail[0] == '/' ||
                fstat(e->fd, &st) != 0)
                continue;
            enum ss_fd_kind kind = ss_fd_kind_of_mode(st.st_mode);
            int flags = kind == SS_FD_SOCKET ? fcntl(e->fd, F_GETFL) : 0;
            int category = ss_fd_category(kind, flags > 0 && (flags & O_NONBLOCK), ss__opts.strict);
            __atomic_store_n(&e->category, (int8_t)category, __ATOMIC_RELAXED);
        }
    }
}

static void on_exit_begin(void)
{
    /* A child that shares the process's memory without being its vfork child (a raw clone)
     * must not end its parent's loops. */
    if (getpid() != ss__pid)
        return;
    atomic_store(&ss__active, 0);
    struct ss_segment *seg = atomic_load(&ss__seg);
    if (!seg || atomic_load(&seg->exiting))
        return;
    atomic_store(&seg->exit_ns, ss__now());
    int saved = errno;
    classify_before_leaving(seg);
    atomic_store(&seg->exiting, 1);
    ss__wake_monitor();
    ss__segment_hand_over_at_exit();
    errno = saved;
}

/* _exit and _Exit end the process without exit handlers: the loops end here all the same. A
 * vfork child's _exit is its own, not its parent's. */
#define SS_EXITS(X) X(_exit) X(_Exit)
#define DEFINE_EXIT(name)                                                                          \
    static void (*real_##name)(int);                                                               \
    void name(int status)                                                                          \
    {                                                                                              \
        if (!ss__in_vfork_child())                                                                 \
            on_exit_begin();                                                                       \
        if (SS_FIND(name))                                                                         \
            real_##name(status);                                                                   \
        syscall(SYS_exit_group, status);                                                           \
        __builtin_unreachable();                                                                   \
    }
SS_EXITS(DEFINE_EXIT)

void ss__resolve_exits(void)
{
#define LOOKUP_EXIT(name) SS_LOOKUP(name);
    SS_EXITS(LOOKUP_EXIT)
#undef LOOKUP_EXIT
}

void ss__serve_requests(struct ss_slot *slot)
{
    uint32_t asked = atomic_exchange(&slot->request, 0);
    if (asked & SS_REQUEST_SIGNAL)
        ss__install_signal_handler();
    if (asked & SS_REQUEST_PATCH)
        ss__patch_new_modules();
    if (asked & SS_REQUEST_RETAKE)
        memset(slot->sites_seen, 0, sizeof slot->sites_seen);
}

struct ss_slot *ss__claim_slot(void)
{
    int marker;
    struct ss_segment *seg = atomic_load(&ss__seg);
    if (!seg) {
        char why[256];
        if (ss__segment_create(1, why, sizeof why) < 0) {
            ss__disable(why);
            return NULL;
        }
        seg = atomic_load(&ss__seg);
    }
    pid_t tid = (pid_t)syscall(SYS_gettid);
    struct ss_slot *slot = NULL;
    for (size_t i = 0; i < SS_SEG_SLOTS && !slot; i++) {
        pid_t expected = 0;
        if (atomic_load(&seg->slots[i].owner) == 0 &&
            atomic_compare_exchange_strong(&seg->slots[i].owner, &expected, -1))
            slot = &seg->slots[i];
    }
    if (!slot) {
        if (atomic_fetch_add(&seg->slots_exhausted, 1) == 0)
            ss__note("too many loop threads; further ones are not traced", NULL);
        return NULL;
    }
    reset_slot(slot, tid, (uintptr_t)&marker);
    /* Modules loaded while no loop thread had a slot were asked for no one. */
    if (atomic_load_explicit(&ss__attached, memory_order_relaxed))
        atomic_fetch_or(&slot->request, SS_REQUEST_PATCH);
    ss__tls.slot = slot;
    ss__tls.generation = atomic_load(&ss__generation);
    /* Before the loop's first iteration, so that its first stall can be sampled too. */
    if (ss__opts.stacks &&
        (ss__opts.sampling == SS_SAMPLING_SIGNAL || atomic_load(&seg->signal_wanted)))
        ss__install_signal_handler();
    pthread_setspecific(thread_exit_key, slot);
    /* At a thread's first wait, in the program's own order: the handler is registered after
     * everything the program set up before its loop, so it runs before all of that at exit. */
    if (!atomic_exchange(&exit_handler_registered, 1))
        atexit(on_exit_begin);
    /* The monitor announces the thread and reads where its stack mapping begins. */
    ss__wake_monitor();
    return slot;
}

int ss__start(char *why, size_t why_size)
{
    static int prepared;
    atomic_store(&ss__unwinding, ss__opts.stacks);
    if (ss__opts.interval_ns > ss__opts.threshold_ns)
        ss__opts.interval_ns = ss__opts.threshold_ns;
    /* Once per process: an attach after a detach finds them in place. */
    if (!prepared) {
        if (pthread_key_create(&thread_exit_key, on_thread_exit) != 0) {
            snprintf(why, why_size, "no thread-specific key available");
            return -1;
        }
        if (pthread_atfork(NULL, NULL, ss__after_fork_in_child) != 0) {
            snprintf(why, why_size, "cannot register a fork handler");
            return -1;
        }
        prepared = 1;
    }
    if (ss__segment_create(0, why, why_size) < 0)
        return -1;
    atomic_store(&ss__active, 1);
    return 0;
}

__attribute__((constructor)) static void ss__init(void)
{
    ss__pid = getpid();
    ss__note_how_loaded();
    ss__resolve_all();
    ss_options_defaults(&ss__opts);
    /* Loaded into a running process: stallscope_attach starts it, with its own options. */
    if (atomic_load(&ss__attached))
        return;
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
    char why[256];
    if (ss__start(why, sizeof why) != 0)
        ss__warn("turned off: ", why);
}
