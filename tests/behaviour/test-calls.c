/* Blocking calls in real programs under the real shim: the calls fixture plants one blocking
 * call per category on its loop thread, and the same calls where they must not count (on a
 * helper thread, before the loop's first wait, on descriptors that cannot block). The fixture
 * times every planted call itself; reported durations are compared with that, never with
 * wall-clock expectations. Each test runs one plan, so that the few call stacks a loop thread
 * can hold between two looks of the monitor are enough for every new call site. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "model.h"
#include "run-checks.h"

#define MS 1000000.0
/* The shim times a call inside the fixture's own timing of it, on the same clock: the slack
 * only covers the fixture printing its times rounded to the microsecond. */
#define SLACK_NS 10000.0

struct traced {
    struct harness h;
    char unavailable[256]; /* "... unavailable: why" printed by a plant that could not run */
    int loop_tid, helper_tid;
    struct harness_timed calls[64]; /* "call KEY MS TID": each planted call, timed */
    size_t ncalls;
    const struct ss_process *proc;
};

/* Runs `stallscope run OPTIONS -- FIXTURE --dir DIR ARGS` and loads its run, symbolized. */
static void trace(struct traced *t, const char *fixture, const char *const *options,
                  const char *const *args)
{
    char path[128], files[96];
    memset(t, 0, sizeof *t);
    snprintf(path, sizeof path, "tests/fixtures/blocking/%s", fixture);
    harness_open(&t->h, "calls", NULL);
    snprintf(files, sizeof files, "%s/files", t->h.dir);
    cr_assert_eq(mkdir(files, 0700), 0);
    const char *fixture_args[48] = {"--dir", files};
    size_t n = 2;
    for (; *args && n < 47; args++)
        fixture_args[n++] = *args;
    harness_start_run(&t->h, path, options, fixture_args);
    harness_wait_success(&t->h);
    t->loop_tid = (int)harness_sum(t->h.out, "loop");
    t->helper_tid = (int)harness_sum(t->h.out, "helper");
    const char *unavailable = strstr(t->h.out, " unavailable: ");
    if (unavailable) {
        const char *line = unavailable;
        while (line > t->h.out && line[-1] != '\n')
            line--;
        snprintf(t->unavailable, sizeof t->unavailable, "%.*s", (int)strcspn(line, "\n"), line);
    }
    t->ncalls = harness_timed(t->h.out, "call", t->calls, sizeof t->calls / sizeof t->calls[0]);
    cr_assert_gt(t->loop_tid, 0, "the fixture names its loop thread");
    harness_load(&t->h);
    cr_assert_eq(t->h.model->nprocs, 1, "children that never wait leave no trace");
    ss_process_symbolize(t->h.model, &t->h.model->procs[0]);
    t->proc = &t->h.model->procs[0];
}

static void finish(struct traced *t)
{
    harness_finish(&t->h);
}

static const char *innermost(const struct ss_call_site *c)
{
    return c->stack && c->stack->nframes ? c->stack->frames[0].symbol : NULL;
}

/* The run's call sites, one a line, for failure messages. */
static const char *list_sites(const struct ss_process *p, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < p->ncalls && len < size; i++) {
        const struct ss_call_site *c = &p->calls[i];
        int n = snprintf(buf + len, size - len, "  %s %s() x%llu on %u in %s (%s)\n", c->category,
                         c->function, (unsigned long long)c->count, c->tid,
                         c->stack ? innermost(c) : "no stack", c->detail);
        len += n > 0 ? (size_t)n : 0;
    }
    return buf;
}

/* A planted call: the fixture's key for it and what the shim must report. */
struct expect {
    const char *key;
    const char *function; /* regex on the reported function */
    const char *category;
    const char *plant;  /* regex on the innermost frame: the function that made the call */
    const char *detail; /* regex on the site's detail, NULL for any */
};

/* Calls the fixture timed under key on thread tid: how many, their sum and their maximum. */
static size_t measured(const struct traced *t, const char *key, int tid, double *sum, double *max)
{
    size_t n = 0;
    *sum = *max = 0;
    for (size_t i = 0; i < t->ncalls; i++) {
        if (strcmp(t->calls[i].what, key) != 0 || (int)t->calls[i].tid != tid)
            continue;
        n++;
        *sum += t->calls[i].ms * MS;
        if (t->calls[i].ms * MS > *max)
            *max = t->calls[i].ms * MS;
    }
    return n;
}

/* The one call site of the loop thread that matches e, checked against the fixture's own
 * timing: same count, total and maximum no larger than measured, and for a call that waited
 * (a lock, a child, a reply) most of the wait. */
static void expect_site(const struct traced *t, const struct expect *e)
{
    const struct ss_process *p = t->proc;
    const struct ss_call_site *site = NULL;
    size_t n = 0;
    for (size_t i = 0; i < p->ncalls; i++) {
        const struct ss_call_site *c = &p->calls[i];
        if ((int)c->tid == t->loop_tid && run_matches(e->function, c->function) &&
            run_matches(e->plant, innermost(c))) {
            site = c;
            n++;
        }
    }
    char sites[4096];
    cr_assert_eq(n, 1, "%s: expected one call site of %s made in %s, found %zu among:\n%s", e->key,
                 e->function, e->plant, n, list_sites(p, sites, sizeof sites));
    double sum, max;
    size_t count = measured(t, e->key, t->loop_tid, &sum, &max);
    cr_assert_gt(count, 0, "the fixture noted no %s", e->key);
    cr_expect_str_eq(site->category, e->category, "%s: %s()", e->key, site->function);
    cr_expect_eq(site->count, count, "%s: %s() counted %llu times, made %zu times", e->key,
                 site->function, (unsigned long long)site->count, count);
    cr_expect_leq(site->max_ns, site->total_ns);
    cr_expect_leq((double)site->max_ns, max + SLACK_NS, "%s: max %.3f ms, measured %.3f ms", e->key,
                  site->max_ns / MS, max / MS);
    cr_expect_leq((double)site->total_ns, sum + count * SLACK_NS,
                  "%s: total %.3f ms, measured %.3f ms", e->key, site->total_ns / MS, sum / MS);
    if (max >= 10 * MS)
        cr_expect_geq((double)site->max_ns, max / 2, "%s: max %.3f ms, measured %.3f ms", e->key,
                      site->max_ns / MS, max / MS);
    const struct ss_thread *th = ss_process_thread(p, (uint32_t)t->loop_tid);
    cr_assert_not_null(th);
    cr_expect_geq(site->first_ns, th->first_wait_ns, "made after the loop's first wait");
    cr_expect_leq(site->first_ns, p->last_ns);
    cr_expect(run_stack_has(site->stack, "^run_plan$"), "%s: the site's stack goes on to run_plan",
              e->key);
    if (e->detail)
        cr_expect(run_matches(e->detail, site->detail), "%s: detail \"%s\" does not match %s",
                  e->key, site->detail, e->detail);
}

/* The plans that need a child fork it on the loop thread; that fork is a blocking call of its
 * own, recorded like any other, and beside the point of those plans. */
static int plan_fork(const struct ss_call_site *c)
{
    return strcmp(c->function, "fork") == 0 && strcmp(c->category, "process") == 0 &&
           run_matches("^plant_(flock|nohang)$", innermost(c));
}

/* Every call site of the run is on the loop thread and in one of the listed categories. */
static void expect_only(const struct traced *t, const char *const *categories)
{
    for (size_t i = 0; i < t->proc->ncalls; i++) {
        const struct ss_call_site *c = &t->proc->calls[i];
        if (plan_fork(c))
            continue;
        int listed = 0;
        for (const char *const *k = categories; *k && !listed; k++)
            listed = strcmp(*k, c->category) == 0;
        cr_expect((int)c->tid == t->loop_tid, "%s() recorded on thread %u, not the loop's",
                  c->function, c->tid);
        cr_expect(listed, "unexpected %s call %s() in %s (%s)", c->category, c->function,
                  innermost(c) ? innermost(c) : "?", c->detail);
    }
}

static void expect_no_sites(const struct traced *t)
{
    for (size_t i = 0; i < t->proc->ncalls; i++) {
        const struct ss_call_site *c = &t->proc->calls[i];
        if (plan_fork(c))
            continue;
        cr_expect_fail("recorded %s call %s() x%llu on thread %u in %s (%s)", c->category,
                       c->function, (unsigned long long)c->count, c->tid,
                       innermost(c) ? innermost(c) : "?", c->detail);
    }
}

static void run_plan(const char *fixture, const char *plan, const struct expect *e, size_t n,
                     const char *const *categories)
{
    struct traced t;
    const char *none[] = {NULL}, *args[] = {plan, NULL};
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
        run_plan("calls-fixture-O0", #plan, expected, sizeof expected / sizeof expected[0],        \
                 (const char *const[]){__VA_ARGS__, NULL});                                        \
    }                                                                                              \
    Test(calls, plan##_O2, .timeout = 60)                                                          \
    {                                                                                              \
        run_plan("calls-fixture-O2", #plan, expected, sizeof expected / sizeof expected[0],        \
                 (const char *const[]){__VA_ARGS__, NULL});                                        \
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

/* ---- a descriptor number that gets a new meaning --------------------------------------------- */

/* The one site of a function matching `function` made in `plant` (NULL: anywhere), NULL for
 * none. */
static const struct ss_call_site *site_in(const struct traced *t, const char *function,
                                          const char *plant)
{
    const struct ss_call_site *found = NULL;
    for (size_t i = 0; i < t->proc->ncalls; i++) {
        const struct ss_call_site *c = &t->proc->calls[i];
        if (run_matches(function, c->function) && (!plant || run_matches(plant, innermost(c)))) {
            cr_expect_null(found, "two sites of %s in %s", c->function, plant);
            found = c;
        }
    }
    return found;
}

/* A file known to the shim gives up its number, which an eventfd then takes: the eventfd's
 * write is not file I/O, and is not recorded under the file's path. */
static void number_reused_by_an_eventfd(const char *plan, const char *plant)
{
    struct traced t;
    const char *none[] = {NULL}, *args[] = {plan, NULL};
    trace(&t, "calls-fixture-O2", none, args);
    const struct ss_call_site *c = site_in(&t, "^write$", plant);
    char sites[4096];
    cr_expect_null(c, "%s: the eventfd's write was recorded as %s I/O on %s:\n%s", plan,
                   c ? c->category : "", c ? c->detail : "",
                   list_sites(t.proc, sites, sizeof sites));
    finish(&t);
}

Test(descriptors, file_closed_by_close_range, .timeout = 60)
{
    number_reused_by_an_eventfd("stale-close-range", "^plant_stale_close_range$");
}

Test(descriptors, file_closed_by_closefrom, .timeout = 60)
{
    number_reused_by_an_eventfd("stale-closefrom", "^plant_stale_closefrom$");
}

Test(descriptors, directory_closed_by_closedir, .timeout = 60)
{
    number_reused_by_an_eventfd("stale-closedir", "^plant_stale_closedir$");
}

Test(descriptors, file_replaced_by_dup2_and_dup3, .timeout = 60)
{
    number_reused_by_an_eventfd("stale-dup2", "^plant_stale_dup2$");
}

/* The call a plan times on the descriptor that took the number: recorded under `category`,
 * with a detail matching `detail`. */
static void number_reused(const char *plan, const char *function, const char *plant,
                          const char *category, const char *detail)
{
    struct traced t;
    const char *none[] = {NULL}, *args[] = {plan, NULL};
    trace(&t, "calls-fixture-O2", none, args);
    if (t.unavailable[0]) {
        finish(&t);
        cr_skip_test("%s", t.unavailable);
    }
    const struct ss_call_site *c = site_in(&t, function, plant);
    char sites[4096];
    cr_assert_not_null(c, "%s: no %s recorded among:\n%s", plan, function,
                       list_sites(t.proc, sites, sizeof sites));
    cr_expect_str_eq(c->category, category, "%s: %s() on %s", plan, c->function, c->detail);
    cr_expect(run_matches(detail, c->detail), "%s: detail \"%s\" does not match %s", plan,
              c->detail, detail);
    finish(&t);
}

/* freopen puts a file under a socket's number: reading it is file I/O on that file. */
Test(descriptors, socket_replaced_by_freopen, .timeout = 60)
{
    number_reused("stale-freopen", "^fread$", "^plant_stale_freopen$", "file",
                  "/plant-stale-freopen\\.dat$");
}

/* A socket received over another (recvmsg, recvmmsg) takes the number of a file closed
 * unseen. A fast call on a descriptor of unknown kind keeps no stack: this plan makes the
 * run's only recv() and read(). */
Test(descriptors, socket_received_over_a_socket, .timeout = 60)
{
    number_reused("stale-received", "^(__)?recv(_chk)?$", NULL, "net", "^fd [0-9]+: socket$");
}

Test(descriptors, socket_received_with_recvmmsg, .timeout = 60)
{
    number_reused("stale-received", "^(__)?read(_chk)?$", NULL, "net", "^fd [0-9]+: socket$");
}

/* A listening socket made unseen in place of a file closed unseen (the only accept()). */
Test(descriptors, accept_on_a_socket_of_unknown_kind, .timeout = 60)
{
    number_reused("stale-accept", "^accept$", NULL, "net", "^fd [0-9]+: socket$");
}

/* Descriptors above 65536 are known on the loop thread like lower ones: a file's read is
 * recorded with its path even though the file is closed before the monitor sees the call. */
Test(descriptors, file_above_65536, .timeout = 60)
{
    number_reused("stale-high-fd", "^(__)?pread(64)?(_chk)?$", "^plant_stale_high_fd$", "file",
                  "/plant-stale-high\\.dat$");
}

/* ---- which stack a call site keeps ---------------------------------------------------------- */

/* One site, reached first by a fast call from nap_first_caller and then by a 20 ms one from
 * nap_second_caller. The first call of a site always takes its stack; a later call only from
 * the call threshold on, and the site keeps the stack of its slowest call that has one. */
static void nap_site_keeps(const char *call_threshold, const char *caller)
{
    struct traced t;
    const char *options[] = {"--call-threshold", call_threshold, NULL},
               *args[] = {"nap-twice", NULL};
    trace(&t, "calls-fixture-O2", options, args);
    cr_assert_eq(t.proc->ncalls, 1, "both callers reach one call site");
    const struct ss_call_site *c = &t.proc->calls[0];
    cr_expect_str_eq(c->function, "nanosleep");
    cr_expect_eq(c->count, 2);
    cr_expect(run_matches("^nap_site$", innermost(c)));
    cr_expect(run_stack_has(c->stack, caller), "the site's stack is the one taken in %s", caller);
    double sum, max;
    measured(&t, "nap-second", t.loop_tid, &sum, &max);
    cr_expect_leq((double)c->max_ns, max + SLACK_NS);
    cr_expect_geq((double)c->max_ns, max / 2);
    finish(&t);
}

Test(call_stacks, slowest_call_with_default_threshold, .timeout = 60)
{
    nap_site_keeps("1ms", "^nap_second_caller$");
}

Test(call_stacks, first_call_under_a_high_threshold, .timeout = 60)
{
    nap_site_keeps("10s", "^nap_first_caller$");
}

/* Sixteen new sites at once take every stack slot the loop thread has before the monitor
 * frees them, so some first calls go without a stack (counted as failed samples). The same
 * sites called again, once the slots are free, must get theirs. */
Test(call_stacks, site_without_a_stack_gets_one_later, .timeout = 60)
{
    struct traced t;
    const char *none[] = {NULL}, *args[] = {"burst", "quiet=200", "burst", NULL};
    trace(&t, "calls-fixture-O2", none, args);
    char sites[4096];
    cr_assert_eq(t.proc->ncalls, 16, "sixteen sites:\n%s", list_sites(t.proc, sites, sizeof sites));
    for (size_t i = 0; i < t.proc->ncalls; i++) {
        const struct ss_call_site *c = &t.proc->calls[i];
        cr_expect_str_eq(c->function, "access");
        cr_expect_eq(c->count, 2);
        cr_expect(run_matches("^plant_burst$", innermost(c)), "site %zu of 16 has no stack", i + 1);
    }
    finish(&t);
}

/* A runtime's first wait can be deeper in its stack than its iterations ever are (Node.js's
 * is), and the first calls can come before the monitor has found where the thread's stack
 * ends: those calls must have their stacks all the same, or a site called once never has one. */
static void first_calls_above_a_deep_first_wait(const char *fixture)
{
    struct traced t;
    const char *none[] = {NULL}, *args[] = {"--deep-first-wait", "file", NULL};
    trace(&t, fixture, none, args);
    for (size_t i = 0; i < sizeof file_calls / sizeof file_calls[0]; i++)
        expect_site(&t, &file_calls[i]);
    expect_only(&t, (const char *const[]){"file", NULL});
    cr_expect_eq(ss_drops_total(&t.proc->drops), 0);
    finish(&t);
}

Test(call_stacks, first_calls_above_a_deep_first_wait_O0, .timeout = 60)
{
    first_calls_above_a_deep_first_wait("calls-fixture-O0");
}

Test(call_stacks, first_calls_above_a_deep_first_wait_O2, .timeout = 60)
{
    first_calls_above_a_deep_first_wait("calls-fixture-O2");
}

/* ---- blocking calls inside stalls ------------------------------------------------------------ */

static const struct ss_stall *loop_stall(const struct traced *t)
{
    const struct ss_process *p = t->proc;
    cr_assert_eq(p->nstalls, 1, "expected one stall, found %zu", p->nstalls);
    cr_assert_eq((int)p->stalls[0].tid, t->loop_tid);
    return &p->stalls[0];
}

/* The monitor reads a stall's time split when it sees the stall end, from the thread's
 * scheduler statistics: the loop lingers so that its thread still exists then, however late
 * the monitor runs on a busy machine. */
#define LINGER "--linger", "200"

/* A stall that is one blocking call lists that call, with the call's own duration. */
static void stall_lists_call(const char *plan, const char *key, const char *function,
                             const char *category)
{
    struct traced t;
    const char *none[] = {NULL}, *args[] = {LINGER, plan, NULL};
    trace(&t, "calls-fixture-O2", none, args);
    const struct ss_stall *s = loop_stall(&t);
    double sum, max;
    cr_assert_eq(measured(&t, key, t.loop_tid, &sum, &max), 1);
    cr_assert_eq(s->ncalls, 1, "the stall's calls: %zu", s->ncalls);
    const struct ss_stall_call *c = &s->calls[0];
    cr_expect(run_matches(function, c->function), "%s does not match %s", c->function, function);
    cr_expect_str_eq(c->category, category);
    cr_expect_eq(c->count, 1);
    cr_expect_leq((double)c->duration_ns, max + SLACK_NS, "call %.3f ms, measured %.3f ms",
                  c->duration_ns / MS, max / MS);
    cr_expect_geq((double)c->duration_ns, max * 0.9, "call %.3f ms, measured %.3f ms",
                  c->duration_ns / MS, max / MS);
    cr_expect_leq(c->duration_ns, s->duration_ns, "the call is inside the stall");
    cr_expect_eq(ss_stall_blocked_ns(s, category), c->duration_ns);
    /* Detected at the threshold, the rest of the call is the window: asleep, not on CPU. */
    cr_assert_gt(s->split_window_ns, 0, "the stall has a time split");
    cr_expect_leq(s->split_window_ns, s->duration_ns);
    cr_expect_lt(s->split_cpu_ns, s->split_window_ns / 4, "%.3f ms on CPU of %.3f ms",
                 s->split_cpu_ns / MS, s->split_window_ns / MS);
    finish(&t);
}

Test(stall_calls, sleep, .timeout = 60)
{
    stall_lists_call("stall-sleep=120", "stall-sleep", "^nanosleep$", "sleep");
}

Test(stall_calls, file, .timeout = 60)
{
    stall_lists_call("stall-fifo=120", "stall-fifo", "^open(64)?$", "file");
}

Test(stall_calls, net, .timeout = 60)
{
    stall_lists_call("stall-net=120", "stall-net", "^(__)?recv(_chk)?$", "net");
}

/* A stall spent computing has no calls, and its window is time on a CPU or waiting for one:
 * never asleep. How it splits between the two depends on the machine's load: on an idle
 * machine it is nearly all CPU, on a 2-core machine running the suite in parallel a good part
 * can be waiting for a CPU. */
Test(stall_calls, cpu_split, .timeout = 60)
{
    struct traced t;
    const char *none[] = {NULL}, *args[] = {LINGER, "stall-spin=200", NULL};
    trace(&t, "calls-fixture-O2", none, args);
    const struct ss_stall *s = loop_stall(&t);
    cr_expect_eq(s->ncalls, 0);
    cr_assert_gt(s->split_window_ns, 0, "the stall has a time split");
    cr_expect_leq(s->split_window_ns, s->duration_ns);
    double window = (double)s->split_window_ns,
           busy = (double)(s->split_cpu_ns + s->split_runnable_ns);
    cr_expect(busy >= 0.8 * window && busy <= 1.1 * window,
              "%.3f ms on CPU and %.3f ms runnable in a window of %.3f ms", s->split_cpu_ns / MS,
              s->split_runnable_ns / MS, window / MS);
    cr_expect_geq((double)s->split_cpu_ns, 0.1 * window, "%.3f ms on CPU of %.3f ms",
                  s->split_cpu_ns / MS, window / MS);
    finish(&t);
}

/* The report groups call sites by category, each with its stack. */
Test(report, lists_calls_by_category, .timeout = 60)
{
    struct traced t;
    const char *none[] = {NULL}, *args[] = {"sleep", "dns", NULL};
    trace(&t, "calls-fixture-O2", none, args);
    char cmd[1200], out[128];
    snprintf(out, sizeof out, "%s/report.txt", t.h.dir);
    snprintf(cmd, sizeof cmd, "'%s/stallscope' report '%s' >'%s'", scratch_builddir(), t.h.run,
             out);
    cr_assert_eq(system(cmd), 0);
    char *text = scratch_slurp(out);
    const char *header = strstr(text, "blocking calls on loop threads: 3 call sites");
    cr_assert_not_null(header, "%s", text);
    const char *dns = strstr(header, "\n   dns:\n"), *sleep = strstr(header, "\n   sleep:\n");
    cr_assert(dns && sleep && dns < sleep, "categories in order: %s", header);
    cr_expect(
        run_matches("getaddrinfo\\(\\) x1 on thread [0-9]+ [^\n]*: localhost\n +plant_dns ", dns),
        "%s", dns);
    cr_expect(run_matches("nanosleep\\(\\) x1 on thread [0-9]+ [^\n]*\n +plant_sleep ", sleep),
              "%s", sleep);
    cr_expect(run_matches("usleep\\(\\) x1 on thread [0-9]+ [^\n]*\n +plant_sleep ", sleep), "%s",
              sleep);
    free(text);
    finish(&t);
}
