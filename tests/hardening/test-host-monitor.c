/* What the monitor captures from hosts that make it hard (deep first waits, coroutine stacks)
 * and the monitor itself as a process of its own: the host keeps its threads, runs on when the
 * monitor is killed, and refuses a monitor of another user. The host's signals are in
 * test-host.c. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "host-run.h"
#include "model.h"
#include "run-checks.h"

static size_t sites_through(const struct ss_process *p, unsigned tid, const char *function)
{
    size_t n = 0;
    for (size_t i = 0; i < p->ncalls; i++) {
        const struct ss_stack *st = p->calls[i].stack;
        if (p->calls[i].tid != tid || !st)
            continue;
        for (uint32_t f = 0; f < st->nframes; f++)
            if (st->frames[f].symbol && strcmp(st->frames[f].symbol, function) == 0) {
                n++;
                break;
            }
    }
    return n;
}

/* Calls made right after a loop thread's first wait, before the monitor has looked at the
 * thread, and from frames above that wait's (a runtime's start-up can make its first wait
 * deeper than its iterations): on the main thread, and on a thread running on a stack the
 * host gave it (pthread_attr_setstack). Their stacks are copied with a plain copy bounded by
 * the end of the thread's stack, known when the thread is claimed; a copy made by a system
 * call on the loop thread is refused here (seccomp), and would leave the sites without. */
Test(capture, first_calls_above_a_deep_first_wait_on_every_kind_of_stack, .timeout = 60)
{
    struct harness h;
    const char *steps[] = {"--first-calls-deep", "own-stack-calls", "spin", "60", NULL};
    run_host(&h, NULL, steps, 1);
    cr_expect_eq(h.err[0], '\0', "nothing on stderr: %s", h.err);
    struct ss_process *p = &h.model->procs[0];
    ss_process_symbolize(h.model, p);
    unsigned tids[2] = {0, 0};
    const char *line = h.out;
    for (size_t k = 0; k < 2 && (line = strstr(line, "early-calls ")) != NULL; k++, line++)
        tids[k] = (unsigned)atoi(line + strlen("early-calls "));
    cr_assert(tids[0] && tids[1], "%s", h.out);
    cr_expect_eq(tids[0], h.planted[0].tid, "the main thread's calls come first");
    for (size_t k = 0; k < 2; k++)
        cr_expect_eq(sites_through(p, tids[k], "early_calls"), 4,
                     "the four first calls of thread %u have their stacks", tids[k]);
    cr_expect_eq(sites_through(p, tids[1], "own_stack_loop"), 4,
                 "the stacks on the host's own stack go on to the thread's function");
    cr_expect_eq(p->drops.samples_failed, 0);
    harness_finish(&h);
}

/* A loop thread that runs a coroutine on a stack of its own, with an inaccessible page right
 * above it. Sampled by signal, the stack lies outside what the shim knows of the thread's
 * stack, so the samples and the call taken there have no stack (counted), and the host runs
 * on. */
Test(capture, nothing_is_copied_from_a_coroutine_stack, .timeout = 60)
{
    struct harness h;
    const char *steps[] = {"coroutine", "150", NULL};
    host_options = SIGNAL_OPTIONS;
    run_host(&h, NULL, steps, 1);
    host_options = "threshold=50ms";
    cr_expect_eq(h.err[0], '\0', "nothing on stderr: %s", h.err);
    cr_assert_eq(h.nplanted, 1);
    const struct ss_stall *stall = stall_of(&h.model->procs[0], h.planted[0].tid);
    run_expect_duration(stall, h.planted[0].ms);
    size_t samples = signal_samples(stall), with_stack = 0;
    for (size_t i = 0; i < stall->nsamples; i++)
        with_stack += stall->samples[i].source == SS_SAMPLE_SIGNAL && stall->samples[i].stack;
    cr_expect_geq(samples, 3, "the thread was sampled");
    cr_expect_eq(with_stack, 0, "nothing was copied from the coroutine's stack");
    cr_expect_geq(h.model->procs[0].drops.samples_failed, samples,
                  "the stackless samples are counted");
    harness_finish(&h);
}

/* Sampled by perf events, the kernel copies the coroutine's stack as it is, up to the page it
 * cannot read: the samples have the coroutine's frames, and the host runs on. */
Test(capture, a_coroutine_stack_is_sampled_by_perf, .timeout = 60)
{
    struct harness h;
    const char *steps[] = {"coroutine", "150", NULL};
    run_host(&h, NULL, steps, 1);
    cr_expect_eq(h.err[0], '\0', "nothing on stderr: %s", h.err);
    cr_assert_eq(h.nplanted, 1);
    struct ss_process *p = &h.model->procs[0];
    ss_process_symbolize(h.model, p);
    const struct ss_stall *stall = stall_of(p, h.planted[0].tid);
    run_expect_duration(stall, h.planted[0].ms);
    size_t spinning = 0;
    for (size_t i = 0; i < stall->nsamples; i++) {
        const struct ss_stack *st = stall->samples[i].stack;
        if (stall->samples[i].source == SS_SAMPLE_PERF && st && st->nframes > 0 &&
            st->frames[0].symbol && strcmp(st->frames[0].symbol, "plant_spin") == 0)
            spinning++;
    }
    cr_expect_geq(spinning, 1, "the coroutine's spin is in its samples");
    harness_finish(&h);
}

/* A host profiling itself with SIGPROF and SIGALRM keeps its timers; the shim keeps its
 * samples. */
Test(monitor, a_single_threaded_host_stays_single_threaded, .timeout = 60)
{
    struct harness h;
    const char *steps[] = {"spin", "80", "count-threads", "1", NULL};
    run_host(&h, NULL, steps, 1);
    cr_expect_eq(host_value(&h, "threads "), 1, "%s", h.out);
    cr_expect_eq(h.model->procs[0].nstalls, 1, "and its stall is recorded");
    harness_finish(&h);
}

static int first_stall_ended(const struct ss_run *run)
{
    return run->nprocs == 1 && run->procs[0].nstalls >= 1 && !run->procs[0].stalls[0].in_progress;
}

/* The monitor killed while the host runs: the host does all its work and never hears of
 * it; what was recorded up to then is in the trace. */
Test(monitor, killed_mid_run_the_host_runs_on, .timeout = 60)
{
    struct harness h;
    const char *steps[] = {"spin",      "100",  "pause-ms", "400", "spin", "100",
                           "stat-many", "2000", "spin",     "100", NULL};
    host_start(&h, NULL, steps);
    cr_assert(host_trace_shows(&h, first_stall_ended, 300), "the first stall was written");
    kill(h.monitor_pid, SIGKILL);
    int status;
    cr_assert_eq(waitpid(h.monitor_pid, &status, 0), h.monitor_pid);
    h.monitor_pid = 0;
    cr_assert_eq(waitpid(h.pid, &status, 0), h.pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the host ran on: %d", status);
    harness_read_output(&h);
    cr_expect_eq(harness_count(h.out, "planted spin"), 3, "%s", h.out);
    cr_expect_eq(host_value(&h, "stat-many-done "), 2000);
    char err[512];
    cr_assert_eq(ss_run_load(h.run, &h.model, err, sizeof err), 0, "%s", err);
    cr_expect_geq(h.model->procs[0].nstalls, 1);
    harness_finish(&h);
}

/* A monitor that cannot keep up (here, stopped): the host is never held up; what did not
 * fit in the segment's rings is counted as dropped once the monitor goes on. */
Test(monitor, stopped_monitor_drops_are_counted, .timeout = 60)
{
    struct harness h;
    const char *steps[] = {"spin", "60", "stat-many", "3000", "spin", "60", NULL};
    host_options = "threshold=50ms:strict=1";
    host_start(&h, NULL, steps);
    host_options = "threshold=50ms";
    kill(h.monitor_pid, SIGSTOP);
    int status;
    cr_assert_eq(waitpid(h.pid, &status, 0), h.pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    kill(h.monitor_pid, SIGCONT);
    harness_sync(&h);
    char err[512];
    cr_assert_eq(ss_run_load(h.run, &h.model, err, sizeof err), 0, "%s", err);
    const struct ss_process *p = &h.model->procs[0];
    cr_expect_gt(p->drops.events, 0, "the calls that did not fit are counted");
    cr_expect_eq(p->nstalls, 2, "the stalls themselves fit");
    harness_finish(&h);
}

/* A monitor of another user than the host's (here the host is root and the monitor runs as
 * nobody) could read the host's stacks: the host refuses to hand it its segment, says so in
 * one line and runs on untraced. */
Test(monitor, a_monitor_of_another_user_is_refused, .timeout = 60)
{
    if (geteuid() != 0)
        cr_skip_test("needs root to start a monitor as another user");
    char dir[] = "/tmp/ss-other-XXXXXX", run[64], out[96], err[96], name[64], cmd[1200];
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(chmod(dir, 0777), 0);
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(err, sizeof err, "%s/err", dir);
    snprintf(name, sizeof name, "ss-other-%d", (int)getpid());
    snprintf(cmd, sizeof cmd,
             "setpriv --reuid=nobody --regid=nogroup --clear-groups '%s/stallscope' monitor "
             "--listen %s -o %s --linger 3s & monitor=$!; sleep 0.5; "
             "LD_PRELOAD='%s/.libs/libstallscope.so' STALLSCOPE_OPTIONS=monitor=%s:output=%s "
             "'%s/tests/hardening/host-fixture' spin 80 >%s 2>%s </dev/null; status=$?; "
             "kill $monitor; wait; exit $status",
             scratch_builddir(), name, run, scratch_builddir(), name, run, scratch_builddir(), out,
             err);
    cr_expect_eq(system(cmd), 0, "the host ran on");
    char text[4096] = "";
    FILE *f = fopen(err, "r");
    cr_assert_not_null(f);
    text[fread(text, 1, sizeof text - 1, f)] = '\0';
    fclose(f);
    cr_expect_eq(harness_count(text, "stallscope:"), 1, "%s", text);
    cr_expect(strstr(text, "belongs to another user"), "%s", text);
    f = fopen(out, "r");
    cr_assert_not_null(f);
    text[fread(text, 1, sizeof text - 1, f)] = '\0';
    fclose(f);
    cr_expect(strstr(text, "planted spin"), "the host did its work: %s", text);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

/* Defect 4 of the host-conformance work: waits for a signal or an IPC object inside a busy
 * iteration, sampled by signal every 100 us: none is cut short or ends early, as without the
 * shim (the shim marks each as a call, where the monitor sends no signal). */
