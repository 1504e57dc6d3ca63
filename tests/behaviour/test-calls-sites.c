/* Blocking calls under the real shim, as test-calls.c runs them (calls.h): a descriptor
 * number that gets a new meaning behind the shim's back, which stack a call site keeps when
 * its calls come from several callers or too many at once, the calls inside a stall with its
 * time split, and the report's list of call sites. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calls.h"
#include "run-checks.h"
#include "scratch.h"

/* ---- a descriptor number that gets a new meaning --------------------------------------------- */

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
    const char *header = strstr(text, "blocking calls on loop threads: 5 call sites");
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
