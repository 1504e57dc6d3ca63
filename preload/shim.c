/* shim: start-up, per-thread slots, fork handling and the fail-open switch. */
#define _GNU_SOURCE
#include "shim.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

__thread struct ss_thread_local ss__tls __attribute__((tls_model("initial-exec")));
struct ss_slot ss__slots[SS_MAX_LOOP_THREADS];
struct ss_options ss__opts;
_Atomic int ss__active;
_Atomic int ss__sampling;
pid_t ss__pid;

static pthread_key_t thread_exit_key;
static _Atomic int watchdog_started;

uint64_t ss__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void write_all_stderr(const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

void ss__warn(const char *a, const char *b)
{
    int saved = errno;
    char line[512];
    size_t len = 0;
    const char *parts[] = {"stallscope: ", a, b ? b : "", "\n"};
    for (size_t i = 0; i < 4; i++) {
        size_t n = strlen(parts[i]);
        if (n > sizeof line - 1 - len)
            n = sizeof line - 1 - len;
        memcpy(line + len, parts[i], n);
        len += n;
    }
    line[len] = '\0';
    write_all_stderr(line);
    errno = saved;
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

/* The child has one thread and no watchdog. Its loop thread claims a fresh slot at its next
 * wait, which starts the child's own watchdog and trace file. */
static void after_fork_in_child(void)
{
    ss__pid = getpid();
    for (size_t i = 0; i < SS_MAX_LOOP_THREADS; i++)
        atomic_store(&ss__slots[i].owner, 0);
    ss__tls.slot = NULL;
    atomic_store(&watchdog_started, 0);
    ss__watchdog_after_fork();
}

static void reset_slot(struct ss_slot *s, pid_t tid, uintptr_t sp)
{
    atomic_store(&s->state, SS_STATE_WAITING);
    atomic_store(&s->iteration, 0);
    atomic_store(&s->stack_hi, 0);
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
    atomic_store(&s->snap_state, SS_SNAP_FREE);
    atomic_store(&s->exited, 0);
    /* Published last: the watchdog only looks at slots with an owner. */
    atomic_store_explicit(&s->owner, tid, memory_order_release);
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

    if (!atomic_exchange(&watchdog_started, 1) && ss__watchdog_start() < 0)
        ss__disable("cannot start the watchdog thread");
    return slot;
}

__attribute__((constructor)) static void ss__init(void)
{
    ss__pid = getpid();
    ss__resolve_hooks();
    ss_options_defaults(&ss__opts);
    const char *env = getenv(SS_OPTIONS_ENV);
    if (env)
        ss_options_parse(env, &ss__opts, on_option_problem, NULL);
    if (!ss__opts.enabled)
        return;
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
    atomic_store(&ss__active, 1);
}

__attribute__((destructor)) static void ss__fini(void)
{
    if (atomic_load(&watchdog_started))
        ss__watchdog_finish();
}
