/* Blocking calls in real programs under the real shim: the calls fixture plants one blocking
 * call per category on its loop thread, and the same calls where they must not count (on a
 * helper thread, before the loop's first wait, on descriptors that cannot block). The fixture
 * times every planted call itself; reported durations are compared with that, never with
 * wall-clock expectations. Each test runs one plan, so that the few call stacks a loop thread
 * can hold between two looks of the monitor are enough for every new call site.
 * test-calls-sites.c has descriptors whose number gets a new meaning, the stack a site keeps,
 * the calls inside stalls and the report; both run the fixture through calls.h. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "calls.h"
#include "run-checks.h"

/* Runs the fixture with args and checks its call sites: each of e, and none but in the listed
 * categories. */
static void run_plan(const char *fixture, const char *const *args, const struct expect *e, size_t n,
                     const char *const *categories)
{
    struct traced t;
    const char *none[] = {NULL};
    trace(&t, fixture, none, args);
    for (size_t i = 0; i < n; i++)
        expect_site(&t, &e[i]);
    expect_only(&t, categories);
    cr_expect_eq(ss_drops_total(&t.proc->drops), 0);
    finish(&t);
}

/* The plan named `plan`, at -O0 and at fortified -O2; the rest lists the categories its call
 * sites may have. */
#define PLANTED(plan, expected, ...)                                                               \
    Test(calls, plan##_O0, .timeout = 60)                                                          \
    {                                                                                              \
        run_plan("calls-fixture-O0", (const char *const[]){#plan, NULL}, expected,                 \
                 sizeof expected / sizeof expected[0], (const char *const[]){__VA_ARGS__, NULL});  \
    }                                                                                              \
    Test(calls, plan##_O2, .timeout = 60)                                                          \
    {                                                                                              \
        run_plan("calls-fixture-O2", (const char *const[]){#plan, NULL}, expected,                 \
                 sizeof expected / sizeof expected[0], (const char *const[]){__VA_ARGS__, NULL});  \
    }

static const struct expect file_calls[] = {
    {"file-open", "^open(64)?$", "file", "^plant_file$", "/plant-file\\.dat$"},
    {"file-write", "^write$", "file", "^plant_file$", "/plant-file\\.dat$"},
    {"file-fsync", "^fsync$", "file", "^plant_file$", "/plant-file\\.dat$"},
    {"file-read", "^(__)?read(_chk)?$", "file", "^plant_file$", "/plant-file\\.dat$"},
    {"file-stat", "^(stat|stat64|__xstat|__xstat64|statx)$", "file", "^plant_file$",
     "/plant-file\\.dat$"},
};

PLANTED(file, file_calls, "file")

/* The descriptor is all a socket call can be described by. */
static const struct expect net_calls[] = {
    {"net-connect", "^connect$", "net", "^plant_net$", "^fd [0-9]+"},
    {"net-accept", "^accept$", "net", "^plant_net$", "^fd [0-9]+"},
    {"net-send", "^send$", "net", "^plant_net$", "^fd [0-9]+"},
    {"net-recv", "^(__)?recv(_chk)?$", "net", "^plant_net$", "^fd [0-9]+"},
    {"net-read", "^(__)?read(_chk)?$", "net", "^plant_net$", "^fd [0-9]+"},
};

PLANTED(net, net_calls, "net")

static const struct expect dns_calls[] = {
    {"dns-getaddrinfo", "^getaddrinfo$", "dns", "^plant_dns$", "^localhost$"},
};

PLANTED(dns, dns_calls, "dns")

static const struct expect sleep_calls[] = {
    {"sleep-nanosleep", "^nanosleep$", "sleep", "^plant_sleep$", NULL},
    {"sleep-usleep", "^usleep$", "sleep", "^plant_sleep$", NULL},
    {"sleep-select", "^select$", "sleep", "^plant_sleep$", NULL},
    {"sleep-poll", "^poll$", "sleep", "^plant_sleep$", NULL},
};

PLANTED(sleep, sleep_calls, "sleep")

static const struct expect process_calls[] = {
    {"process-system", "^system$", "process", "^plant_process$", "^true$"},
    {"process-waitpid", "^waitpid$", "process", "^plant_process$", NULL},
};

PLANTED(process, process_calls, "process")

static const struct expect mutex_calls[] = {
    {"lock-mutex", "^pthread_mutex_lock$", "lock", "^plant_mutex$", NULL},
};

PLANTED(mutex, mutex_calls, "lock")

/* The timed and clocked variants of the locks, each held by another thread, and a condition
 * variable waited on until its deadline. */
static const struct expect timedlock_calls[] = {
    {"lock-timedlock", "^pthread_mutex_timedlock$", "lock", "^plant_timedlocks$", NULL},
    {"lock-clocklock", "^pthread_mutex_clocklock$", "lock", "^plant_timedlocks$", NULL},
    {"lock-timedrdlock", "^pthread_rwlock_timedrdlock$", "lock", "^plant_timedlocks$", NULL},
    {"lock-timedwrlock", "^pthread_rwlock_timedwrlock$", "lock", "^plant_timedlocks$", NULL},
    {"lock-clockrdlock", "^pthread_rwlock_clockrdlock$", "lock", "^plant_timedlocks$", NULL},
    {"lock-clockwrlock", "^pthread_rwlock_clockwrlock$", "lock", "^plant_timedlocks$", NULL},
    {"lock-clockwait", "^pthread_cond_clockwait$", "lock", "^plant_timedlocks$", NULL},
};

PLANTED(timedlocks, timedlock_calls, "lock")

/* _Fork is fork without the fork handlers: a process call of its own. */
static const struct expect fork_calls[] = {
    {"process-_Fork", "^_Fork$", "process", "^plant_forks$", NULL},
    {"process-waitpid", "^waitpid$", "process", "^plant_forks$", NULL},
};

PLANTED(forks, fork_calls, "process")

/* Opening the lock file is a file call of its own. */
static const struct expect flock_calls[] = {
    {"lock-flock", "^flock$", "lock", "^plant_flock$", "/plant-flock\\.lock$"},
};

PLANTED(flock, flock_calls, "lock", "file")

/* A file gone before the monitor could look at it is still known as one from the host's own
 * fstat, and named by the path it was opened with, as is a stream at its fclose; a FIFO
 * fstat'ed the same way is not a file.
 * The FIFO's open and unlink are file calls like any by path. */
static const struct expect fstat_calls[] = {
    {"fstat-fstat", "^(fstat|fstat64|__fxstat|__fxstat64)$", "file", "^plant_fstat$",
     "/plant-fstat\\.dat$"},
    {"fstat-pread", "^(__)?pread(64)?(_chk)?$", "file", "^plant_fstat$", "/plant-fstat\\.dat$"},
    {"fstat-fclose", "^fclose$", "file", "^plant_fstat$", "/plant-fstat\\.log$"},
};

Test(calls, fstat_tells_the_kind, .timeout = 60)
{
    struct traced t;
    const char *none[] = {NULL}, *args[] = {"fstat", NULL};
    trace(&t, "calls-fixture-O2", none, args);
    for (size_t i = 0; i < sizeof fstat_calls / sizeof fstat_calls[0]; i++)
        expect_site(&t, &fstat_calls[i]);
    for (size_t i = 0; i < t.proc->ncalls; i++) {
        const struct ss_call_site *c = &t.proc->calls[i];
        cr_expect(run_matches("^plant_fstat$", innermost(c)) ||
                      run_matches("^(open|unlink)", c->function),
                  "the FIFO's %s() was recorded (%s)", c->function, c->detail);
    }
    finish(&t);
}

/* ---- the first calls of a thread ---------------------------------------------------------- */

/* A runtime's first wait can be deeper in its stack than its iterations ever are (Node.js's
 * is), and the first calls can come before the monitor has found where the thread's stack
 * ends: those calls must have their stacks all the same, or a site called once never has one. */
static void first_calls_above_a_deep_first_wait(const char *fixture)
{
    run_plan(fixture, (const char *const[]){"--deep-first-wait", "file", NULL}, file_calls,
             sizeof file_calls / sizeof file_calls[0], (const char *const[]){"file", NULL});
}

Test(call_stacks, first_calls_above_a_deep_first_wait_O0, .timeout = 60)
{
    first_calls_above_a_deep_first_wait("calls-fixture-O0");
}

Test(call_stacks, first_calls_above_a_deep_first_wait_O2, .timeout = 60)
{
    first_calls_above_a_deep_first_wait("calls-fixture-O2");
}

/* ---- where calls must not count --------------------------------------------------------- */

static void nothing_recorded(const char *const *options, const char *const *args)
{
    struct traced t;
    trace(&t, "calls-fixture-O2", options, args);
    cr_assert_eq(t.proc->nthreads, 1, "only the loop thread is a loop thread");
    cr_expect_geq(t.proc->threads[0].iterations, 5, "the loop ran on");
    int planter = t.helper_tid ? t.helper_tid : t.loop_tid;
    for (size_t i = 0; i < t.h.nplanted; i++)
        cr_expect(t.h.planted[i].ms > 0 && (int)t.h.planted[i].tid == planter,
                  "%s ran on thread %d", t.h.planted[i].what, planter);
    expect_no_sites(&t);
    finish(&t);
}

#define EVERY_CATEGORY "file", "net", "dns", "sleep", "process", "mutex", "flock"

/* The same calls on a thread that never waits, while the loop iterates. */
Test(not_blocking, calls_on_a_helper_thread, .timeout = 60)
{
    const char *none[] = {NULL}, *args[] = {"--on-helper", EVERY_CATEGORY, NULL};
    nothing_recorded(none, args);
}

/* Start-up: the loop thread makes them before its first wait. */
Test(not_blocking, calls_before_the_loop_starts, .timeout = 60)
{
    const char *none[] = {NULL}, *args[] = {"--before-loop", EVERY_CATEGORY, NULL};
    nothing_recorded(none, args);
}

Test(not_blocking, non_blocking_sockets, .timeout = 60)
{
    const char *none[] = {NULL}, *args[] = {"nonblocking", NULL};
    nothing_recorded(none, args);
}

Test(not_blocking, pipe_and_eventfd, .timeout = 60)
{
    const char *none[] = {NULL}, *args[] = {"pipe", NULL};
    nothing_recorded(none, args);
}

Test(not_blocking, wnohang_waits, .timeout = 60)
{
    const char *none[] = {NULL}, *args[] = {"nohang", NULL};
    nothing_recorded(none, args);
}

Test(not_blocking, uncontended_locks, .timeout = 60)
{
    const char *none[] = {NULL}, *args[] = {"uncontended", NULL};
    nothing_recorded(none, args);
}

/* A terminal is not a file, however it was opened. Opening it by path is a file call; reading
 * from it is not file I/O. */
Test(not_blocking, terminal_read, .timeout = 60)
{
    struct traced t;
    const char *none[] = {NULL}, *args[] = {"tty", NULL};
    trace(&t, "calls-fixture-O2", none, args);
    for (size_t i = 0; i < t.proc->ncalls; i++) {
        const struct ss_call_site *c = &t.proc->calls[i];
        cr_expect(!run_matches("^(__)?read(_chk)?$", c->function),
                  "a terminal read recorded as %s I/O: %s() on %s", c->category, c->function,
                  c->detail);
    }
    finish(&t);
}

/* strict=1 is the way to see them anyway. The non-blocking plan makes more new call sites
 * than the loop thread has stack slots: the quiet iterations let the monitor free them
 * before the pipe's calls. */
Test(not_blocking, strict_records_non_blocking_calls, .timeout = 60)
{
    struct traced t;
    const char *options[] = {"--strict", NULL},
               *args[] = {"nonblocking", "quiet=150", "pipe", NULL};
    trace(&t, "calls-fixture-O2", options, args);
    int net = 0, pipe_read = 0;
    for (size_t i = 0; i < t.proc->ncalls; i++) {
        const struct ss_call_site *c = &t.proc->calls[i];
        net |= strcmp(c->category, "net") == 0 && run_matches("^plant_nonblocking$", innermost(c));
        pipe_read |= run_matches("^(__)?read(_chk)?$", c->function) &&
                     run_matches("^plant_pipe$", innermost(c));
    }
    cr_expect(net, "socket calls in plant_nonblocking are recorded under strict=1");
    cr_expect(pipe_read, "pipe reads in plant_pipe are recorded under strict=1");
    finish(&t);
}

/* A descriptor's target is looked up when the monitor takes the event, after the program
 * may have closed the descriptor and opened a file under the same number. */
Test(call_details, descriptor_reused_after_the_call, .timeout = 60)
{
    struct traced t;
    const char *none[] = {NULL}, *args[] = {"fd-reuse", NULL};
    trace(&t, "calls-fixture-O2", none, args);
    int found = 0;
    for (size_t i = 0; i < t.proc->ncalls; i++) {
        const struct ss_call_site *c = &t.proc->calls[i];
        if (strcmp(c->function, "send") != 0)
            continue;
        found = 1;
        cr_expect_str_eq(c->category, "net");
        cr_expect(!run_matches("plant-fd-reuse", c->detail),
                  "the socket's send is described as the file opened after it: %s", c->detail);
    }
    cr_expect(found, "the send is recorded");
    finish(&t);
}
