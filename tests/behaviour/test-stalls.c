/* Real programs under the real shim: the loop fixture is run with `stallscope run` and its
 * trace is read back through the core library. The fixture measures its planted stalls
 * itself; durations are compared with that, never with wall-clock expectations. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "model.h"
#include "run-checks.h"

/* EINTRs the fixture saw, less 1000 for each run of its own signal handler (--own-signal). */
static long eintr(const struct harness *t)
{
    return harness_sum(t->out, "eintr") - 1000 * harness_sum(t->out, "own-signal");
}

static void start(struct harness *t, const char *threshold, const char *fixture,
                  const char *const *args)
{
    char path[128];
    snprintf(path, sizeof path, "tests/fixtures/%s", fixture);
    const char *options[] = {"--threshold", threshold, NULL};
    harness_open(t, "behaviour", NULL);
    harness_start_run(t, path, options, args);
}

static void collect(struct harness *t)
{
    harness_wait_success(t);
    harness_load_symbolized(t);
}

static void trace(struct harness *t, const char *threshold, const char *fixture,
                  const char *const *args)
{
    start(t, threshold, fixture, args);
    collect(t);
    cr_expect_eq(eintr(t), 0, "the shim must never make a call fail with EINTR");
}

static void planted_spin_is_found(const char *fixture)
{
    struct harness t;
    const char *args[] = {"--spin", "200", NULL};
    trace(&t, "50ms", fixture, args);
    cr_assert_eq(t.nplanted, 1);
    cr_assert_eq(t.model->nprocs, 1);
    const struct ss_process *p = &t.model->procs[0];
    const struct ss_stall *s = run_only_stall(p, t.planted[0].tid);
    run_expect_duration(s, t.planted[0].ms);
    cr_expect_geq(s->nsamples, 5, "samples every 10 ms after the 50 ms threshold");
    cr_expect(run_stall_has_frames(s, "^plant_spin$", "^run_loop$"),
              "plant_spin called from run_loop is in the stall's stack");
    cr_expect_eq(p->nstalls, 1, "the quiet iterations around it are not stalls");
    harness_finish(&t);
}

Test(stalls, spin_O0, .timeout = 60)
{
    planted_spin_is_found("loop-fixture-O0");
}

Test(stalls, spin_O2, .timeout = 60)
{
    planted_spin_is_found("loop-fixture-O2");
}

static void planted_sleep_is_found(const char *fixture)
{
    struct harness t;
    const char *args[] = {"--sleep", "150", NULL};
    trace(&t, "50ms", fixture, args);
    cr_assert_eq(t.nplanted, 1);
    const struct ss_process *p = &t.model->procs[0];
    const struct ss_stall *s = run_only_stall(p, t.planted[0].tid);
    run_expect_duration(s, t.planted[0].ms);
    int at_call = 0;
    for (size_t i = 0; i < s->nsamples; i++)
        at_call |= s->samples[i].source == SS_SAMPLE_CALL && s->samples[i].call &&
                   strcmp(s->samples[i].call, "nanosleep") == 0;
    cr_expect(at_call, "the sleep is captured where nanosleep returned");
    cr_expect(run_stall_has_frames(s, "^plant_sleep$", "^run_loop$"));
    harness_finish(&t);
}

Test(stalls, sleep_O0, .timeout = 60)
{
    planted_sleep_is_found("loop-fixture-O0");
}

Test(stalls, sleep_O2, .timeout = 60)
{
    planted_sleep_is_found("loop-fixture-O2");
}

Test(stalls, quiet_loop_has_no_stall, .timeout = 60)
{
    struct harness t;
    const char *args[] = {"--quiet", "100", NULL};
    trace(&t, "50ms", "loop-fixture-O2", args);
    cr_assert_eq(t.model->nprocs, 1);
    const struct ss_process *p = &t.model->procs[0];
    cr_expect_eq(p->nstalls, 0);
    cr_assert_eq(p->nthreads, 1);
    cr_expect(p->threads[0].loop);
    cr_expect_geq(p->threads[0].iterations, 100, "every iteration is counted");
    cr_expect_lt(p->threads[0].busy_max_ns, 50000000ull);
    cr_expect_eq(ss_drops_total(&p->drops), 0);
    harness_finish(&t);
}

Test(stalls, two_loop_threads_each_attributed, .timeout = 60)
{
    struct harness t;
    const char *args[] = {"--threads", "2", "--spin", "120", NULL};
    trace(&t, "50ms", "loop-fixture-O2", args);
    cr_assert_eq(t.nplanted, 2);
    cr_assert_neq(t.planted[0].tid, t.planted[1].tid);
    const struct ss_process *p = &t.model->procs[0];
    cr_expect_eq(p->nstalls, 2);
    for (size_t i = 0; i < 2; i++) {
        const struct ss_stall *s = run_only_stall(p, t.planted[i].tid);
        run_expect_duration(s, t.planted[i].ms);
        cr_expect(run_stall_has_frames(s, "^plant_spin$", "^run_loop$"));
        const struct ss_thread *th = ss_process_thread(p, t.planted[i].tid);
        cr_assert_not_null(th);
        cr_expect(th->loop);
    }
    harness_finish(&t);
}

static const struct ss_process *process_of(const struct ss_run *run, unsigned tid)
{
    for (size_t i = 0; i < run->nprocs; i++)
        if (ss_process_thread(&run->procs[i], tid))
            return &run->procs[i];
    return NULL;
}

/* Perf events sample every 10 ms of a thread's CPU time: a spin long enough past the
 * threshold is sampled even while the parent's spin competes with it for a CPU. */
static void child_has_own_trace(const char *mode)
{
    struct harness t;
    const char *args[] = {mode, "--spin", "200", NULL};
    trace(&t, "50ms", "loop-fixture-O2", args);
    cr_assert_eq(t.model->nprocs, 2, "parent and child each write a trace file");
    cr_assert_eq(t.nplanted, 2);
    const struct ss_process *a = process_of(t.model, t.planted[0].tid);
    const struct ss_process *b = process_of(t.model, t.planted[1].tid);
    cr_assert(a && b && a != b);
    const struct ss_process *parent = a->ppid == b->pid ? b : a, *child = parent == a ? b : a;
    cr_expect_eq(child->ppid, parent->pid, "the child records its parent");
    for (size_t i = 0; i < 2; i++) {
        const struct ss_process *p = process_of(t.model, t.planted[i].tid);
        const struct ss_stall *s = run_only_stall(p, t.planted[i].tid);
        run_expect_duration(s, t.planted[i].ms);
        cr_expect(run_stall_has_frames(s, "^plant_spin$", "^run_loop$"));
    }
    harness_finish(&t);
}

Test(stalls, exec_child_is_traced, .timeout = 60)
{
    child_has_own_trace("--exec-child");
}

Test(stalls, fork_child_is_traced, .timeout = 60)
{
    child_has_own_trace("--fork-child");
}

Test(stalls, signals_never_surface_as_eintr, .timeout = 60)
{
    struct harness t;
    const char *args[] = {"--spin-naps", "100", NULL};
    trace(&t, "20ms", "loop-fixture-O2", args);
    cr_assert_eq(t.nplanted, 1);
    const struct ss_stall *s = run_only_stall(&t.model->procs[0], t.planted[0].tid);
    run_expect_duration(s, t.planted[0].ms);
    cr_expect_geq(s->nsamples, 5);
    harness_finish(&t);
}

Test(stalls, thread_slots_are_reused, .timeout = 120)
{
    struct harness t;
    const char *args[] = {"--serial-threads", "300", NULL};
    trace(&t, "20ms", "loop-fixture-O2", args);
    const struct ss_process *p = &t.model->procs[0];
    size_t loops = 0;
    for (size_t i = 0; i < p->nthreads; i++)
        loops += p->threads[i].loop && p->threads[i].iterations > 0;
    cr_expect_eq(loops, 300, "each of 300 short-lived loop threads is traced");
    harness_finish(&t);
}

/* Regression: with stacks off, call captures used to be taken anyway and counted as failed
 * samples. */
Test(stalls, no_stacks_records_stalls_only, .timeout = 60)
{
    struct harness t;
    const char *options[] = {"--no-stacks", NULL};
    const char *args[] = {"--spin", "100", "--sleep", "100", NULL};
    harness_run(&t, "behaviour", "tests/fixtures/loop-fixture-O2", options, args);
    const struct ss_process *p = &t.model->procs[0];
    cr_expect_eq(p->nstalls, 2);
    for (size_t i = 0; i < p->nstalls; i++)
        cr_expect_eq(p->stalls[i].nsamples, 0);
    cr_expect_eq(ss_drops_total(&p->drops), 0, "nothing was dropped: nothing was taken");
    harness_finish(&t);
}

static void wait_call_is_interposed(const char *fixture, const char *kind)
{
    struct harness t;
    const char *args[] = {"--wait", kind, "--spin", "120", "--quiet", "20", NULL};
    trace(&t, "50ms", fixture, args);
    cr_assert_eq(t.nplanted, 1);
    const struct ss_process *p = &t.model->procs[0];
    const struct ss_stall *s = run_only_stall(p, t.planted[0].tid);
    run_expect_duration(s, t.planted[0].ms);
    cr_expect(run_stall_has_frames(s, "^plant_spin$", "^run_loop$"));
    cr_expect_geq(p->threads[0].iterations, 20);
    harness_finish(&t);
}

Test(stalls, poll_loop, .timeout = 60)
{
    wait_call_is_interposed("loop-fixture-O0", "poll");
}

/* The -O2 fixture is fortified: its poll is glibc's __poll_chk. */
Test(stalls, fortified_poll_loop, .timeout = 60)
{
    wait_call_is_interposed("loop-fixture-O2", "poll");
}

Test(stalls, select_loop, .timeout = 60)
{
    wait_call_is_interposed("loop-fixture-O2", "select");
}

/* Runs the fixture with the shim preloaded by hand, STALLSCOPE_OPTIONS=options. */
static void run_preloaded(struct harness *t, const char *options, const char *const *args)
{
    char env_options[600];
    snprintf(env_options, sizeof env_options, "STALLSCOPE_OPTIONS=%s", options);
    const char *env[] = {env_options, NULL};
    harness_open(t, "behaviour", NULL);
    harness_start_preloaded(t, "tests/fixtures/loop-fixture-O2", env, args);
    int status = harness_wait(t);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the program must run on");
}

/* A program run with a plain LD_PRELOAD reports to the monitor the first of its kind started:
 * its trace is complete once that monitor has written the process's end. */
static void load_when_complete(const char *dir, struct ss_run **run)
{
    char msg[512];
    for (int i = 0; i < 500; i++) {
        if (ss_run_load(dir, run, msg, sizeof msg) == 0) {
            int complete = (*run)->nprocs > 0;
            for (size_t k = 0; k < (*run)->nprocs; k++)
                complete &= (*run)->procs[k].end_ns != 0;
            if (complete)
                return;
            ss_run_free(*run);
        }
        struct timespec pause = {0, 10000000};
        nanosleep(&pause, NULL);
    }
    cr_assert_fail("the trace in %s never ended: %s", dir, msg);
}

/* Fails open: the trace cannot be created, the program runs on, one line says why. */
Test(fail_open, unwritable_output, .timeout = 60)
{
    struct harness t;
    const char *args[] = {"--spin", "100", NULL};
    run_preloaded(&t, "output=/proc/stallscope-cannot-exist", args);
    cr_expect_eq(t.nplanted, 1, "the program did its work");
    cr_expect_eq(harness_count(t.err, "stallscope:"), 1, "exactly one line on stderr: %s", t.err);
    cr_expect(strstr(t.err, "turned off") != NULL, "%s", t.err);
    harness_finish(&t);
}

Test(fail_open, unknown_option_warns_and_runs, .timeout = 60)
{
    struct harness t;
    char options[256];
    const char *args[] = {"--spin", "100", NULL};
    snprintf(options, sizeof options, "bogus=1:output=/tmp/ss-unknown-option-%d", (int)getpid());
    run_preloaded(&t, options, args);
    cr_expect_eq(harness_count(t.err, "stallscope:"), 1, "%s", t.err);
    cr_expect(strstr(t.err, "unknown option bogus") != NULL, "%s", t.err);
    cr_expect_eq(t.nplanted, 1);
    struct ss_run *run;
    load_when_complete(options + strlen("bogus=1:output="), &run);
    cr_expect_eq(run->procs[0].nstalls, 1, "the other options still apply");
    ss_run_free(run);
    scratch_remove(options + strlen("bogus=1:output="));
    harness_finish(&t);
}

/* A program that owns the sampling signal keeps it: stalls are still recorded, without
 * signal samples, and the program's handler still runs. */
Test(fail_open, program_owns_the_sampling_signal, .timeout = 60)
{
    struct harness t;
    char options[256];
    const char *args[] = {"--own-signal", "38", "--spin", "150", NULL};
    snprintf(options, sizeof options, "sampling=signal:output=/tmp/ss-own-signal-%d",
             (int)getpid());
    run_preloaded(&t, options, args);
    cr_expect_eq(eintr(&t), -1000, "the program's own handler ran once, no EINTR");
    cr_expect(strstr(t.err, "already has a handler") != NULL, "%s", t.err);
    struct ss_run *run;
    load_when_complete(options + strlen("sampling=signal:output="), &run);
    cr_assert_eq(run->procs[0].nstalls, 1);
    for (size_t i = 0; i < run->procs[0].stalls[0].nsamples; i++)
        cr_expect_eq(run->procs[0].stalls[0].samples[i].source, SS_SAMPLE_CALL,
                     "no signal samples; the fixture's own write may still be caught");
    cr_expect_geq(run->procs[0].nnotes, 1, "the trace says why there are no samples");
    run_expect_duration(&run->procs[0].stalls[0], t.planted[0].ms);
    ss_run_free(run);
    scratch_remove(options + strlen("sampling=signal:output="));
    harness_finish(&t);
}

/* Sampled by perf events, the program's own use of the signal changes nothing: no handler of
 * the shim's is ever installed, nothing is said, and the stall has its samples. */
Test(fail_open, program_owning_the_signal_is_sampled_by_perf, .timeout = 60)
{
    struct harness t;
    char options[256];
    const char *args[] = {"--own-signal", "38", "--spin", "150", NULL};
    snprintf(options, sizeof options, "sampling=perf:output=/tmp/ss-own-signal-perf-%d",
             (int)getpid());
    run_preloaded(&t, options, args);
    cr_expect_eq(eintr(&t), -1000, "the program's own handler ran once, no EINTR");
    cr_expect_eq(t.err[0], '\0', "nothing said: %s", t.err);
    struct ss_run *run;
    load_when_complete(options + strlen("sampling=perf:output="), &run);
    cr_assert_eq(run->procs[0].nstalls, 1);
    size_t timed = 0;
    for (size_t i = 0; i < run->procs[0].stalls[0].nsamples; i++)
        timed += run->procs[0].stalls[0].samples[i].source == SS_SAMPLE_PERF;
    cr_expect_geq(timed, 1, "sampled by perf events");
    ss_run_free(run);
    scratch_remove(options + strlen("sampling=perf:output="));
    harness_finish(&t);
}

/* A hung loop must show in the trace while it hangs, not only after. */
Test(stalls, stall_in_progress_is_visible, .timeout = 60)
{
    struct harness t;
    const char *args[] = {"--spin", "2500", NULL};
    start(&t, "50ms", "loop-fixture-O2", args);
    int seen = 0;
    for (int i = 0; i < 200 && !seen; i++) {
        struct timespec pause = {0, 10000000};
        nanosleep(&pause, NULL);
        struct ss_run *run;
        char err[512];
        if (ss_run_load(t.run, &run, err, sizeof err) != 0)
            continue;
        for (size_t k = 0; k < run->nprocs; k++)
            for (size_t j = 0; j < run->procs[k].nstalls; j++)
                seen |= run->procs[k].stalls[j].in_progress && run->procs[k].stalls[j].nsamples > 0;
        ss_run_free(run);
    }
    cr_expect(seen, "an in-progress stall with samples was readable before the loop resumed");
    collect(&t);
    const struct ss_stall *s = run_only_stall(&t.model->procs[0], t.planted[0].tid);
    cr_expect_eq(s->in_progress, 0);
    run_expect_duration(s, t.planted[0].ms);
    harness_finish(&t);
}
