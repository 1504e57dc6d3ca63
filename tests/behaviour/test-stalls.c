/* Real programs under the real shim: the loop fixture is run with `stallscope run` and its
 * trace is read back through the core library. The fixture measures its planted stalls
 * itself; durations are compared with that, never with wall-clock expectations. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "model.h"

extern char **environ;

struct planted {
    char what[32];
    double ms;
    unsigned tid;
};

struct traced {
    char dir[64];
    char run[96];
    struct planted planted[16];
    size_t nplanted;
    int eintr;
    struct ss_run *model;
};

static const char *builddir(void)
{
    const char *d = getenv("SS_BUILDDIR");
    return d ? d : ".";
}

static pid_t spawn(struct traced *t, const char *threshold, const char *fixture,
                   const char *const *args)
{
    char stallscope[512], fixture_path[512], out[128];
    snprintf(stallscope, sizeof stallscope, "%s/stallscope", builddir());
    snprintf(fixture_path, sizeof fixture_path, "%s/tests/fixtures/%s", builddir(), fixture);
    strcpy(t->dir, "/tmp/ss-behaviour-XXXXXX");
    cr_assert_not_null(mkdtemp(t->dir));
    snprintf(t->run, sizeof t->run, "%s/run", t->dir);
    snprintf(out, sizeof out, "%s/out.txt", t->dir);
    const char *argv[32] = {stallscope,    "run",     "-q", "-o",        t->run,
                            "--threshold", threshold, "--", fixture_path};
    size_t n = 9;
    for (; *args && n < 31; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    cr_assert_eq(posix_spawn(&pid, stallscope, &fa, NULL, (char *const *)argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

static void collect(struct traced *t, pid_t pid)
{
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "fixture failed: status %d", status);
    char out[128], line[256];
    snprintf(out, sizeof out, "%s/out.txt", t->dir);
    FILE *f = fopen(out, "r");
    cr_assert_not_null(f);
    t->eintr = 0;
    while (fgets(line, sizeof line, f)) {
        struct planted *p = &t->planted[t->nplanted];
        int e;
        if (t->nplanted < 16 && sscanf(line, "planted %31s %lf %u", p->what, &p->ms, &p->tid) == 3)
            t->nplanted++;
        else if (sscanf(line, "eintr %d", &e) == 1)
            t->eintr += e;
    }
    fclose(f);
    char err[512];
    cr_assert_eq(ss_run_load(t->run, &t->model, err, sizeof err), 0, "%s", err);
    for (size_t i = 0; i < t->model->nprocs; i++)
        ss_process_symbolize(t->model, &t->model->procs[i]);
}

static void trace(struct traced *t, const char *threshold, const char *fixture,
                  const char *const *args)
{
    memset(t, 0, sizeof *t);
    collect(t, spawn(t, threshold, fixture, args));
    cr_expect_eq(t->eintr, 0, "the shim must never make a call fail with EINTR");
}

static void remove_tree(const char *path)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    cr_expect_eq(system(cmd), 0);
}

static void finish(struct traced *t)
{
    ss_run_free(t->model);
    remove_tree(t->dir);
}

/* True when some sample of the stall has frames matching `inner` and, further out, `outer`. */
static int stall_has_frames(const struct ss_stall *s, const char *inner, const char *outer)
{
    regex_t ri, ro;
    cr_assert_eq(regcomp(&ri, inner, REG_EXTENDED | REG_NOSUB), 0);
    cr_assert_eq(regcomp(&ro, outer, REG_EXTENDED | REG_NOSUB), 0);
    int found = 0;
    for (size_t k = 0; k < s->nsamples && !found; k++) {
        const struct ss_stack *st = s->samples[k].stack;
        for (uint32_t i = 0; st && i < st->nframes && !found; i++) {
            if (!st->frames[i].symbol || regexec(&ri, st->frames[i].symbol, 0, NULL, 0) != 0)
                continue;
            for (uint32_t j = i + 1; j < st->nframes && !found; j++)
                found = st->frames[j].symbol && regexec(&ro, st->frames[j].symbol, 0, NULL, 0) == 0;
        }
    }
    regfree(&ri);
    regfree(&ro);
    return found;
}

static const struct ss_stall *only_stall(const struct ss_process *p, unsigned tid)
{
    const struct ss_stall *found = NULL;
    size_t n = 0;
    for (size_t i = 0; i < p->nstalls; i++) {
        if (p->stalls[i].tid == tid) {
            found = &p->stalls[i];
            n++;
        }
    }
    cr_assert_eq(n, 1, "expected one stall on thread %u, found %zu", tid, n);
    return found;
}

static void expect_duration(const struct ss_stall *s, double planted_ms)
{
    double ms = (double)s->duration_ns / 1e6;
    cr_expect(ms >= planted_ms * 0.9 && ms <= planted_ms * 1.1,
              "stall lasted %.3f ms, the fixture measured %.3f ms", ms, planted_ms);
}

static void planted_spin_is_found(const char *fixture)
{
    struct traced t;
    const char *args[] = {"--spin", "200", NULL};
    trace(&t, "50ms", fixture, args);
    cr_assert_eq(t.nplanted, 1);
    cr_assert_eq(t.model->nprocs, 1);
    const struct ss_process *p = &t.model->procs[0];
    const struct ss_stall *s = only_stall(p, t.planted[0].tid);
    expect_duration(s, t.planted[0].ms);
    cr_expect_geq(s->nsamples, 5, "samples every 10 ms after the 50 ms threshold");
    cr_expect(stall_has_frames(s, "^plant_spin$", "^run_loop$"),
              "plant_spin called from run_loop is in the stall's stack");
    cr_expect_eq(p->nstalls, 1, "the quiet iterations around it are not stalls");
    finish(&t);
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
    struct traced t;
    const char *args[] = {"--sleep", "150", NULL};
    trace(&t, "50ms", fixture, args);
    cr_assert_eq(t.nplanted, 1);
    const struct ss_process *p = &t.model->procs[0];
    const struct ss_stall *s = only_stall(p, t.planted[0].tid);
    expect_duration(s, t.planted[0].ms);
    int at_call = 0;
    for (size_t i = 0; i < s->nsamples; i++)
        at_call |= s->samples[i].source == SS_SAMPLE_CALL && s->samples[i].call &&
                   strcmp(s->samples[i].call, "nanosleep") == 0;
    cr_expect(at_call, "the sleep is captured where nanosleep returned");
    cr_expect(stall_has_frames(s, "^plant_sleep$", "^run_loop$"));
    finish(&t);
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
    struct traced t;
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
    finish(&t);
}

Test(stalls, two_loop_threads_each_attributed, .timeout = 60)
{
    struct traced t;
    const char *args[] = {"--threads", "2", "--spin", "120", NULL};
    trace(&t, "50ms", "loop-fixture-O2", args);
    cr_assert_eq(t.nplanted, 2);
    cr_assert_neq(t.planted[0].tid, t.planted[1].tid);
    const struct ss_process *p = &t.model->procs[0];
    cr_expect_eq(p->nstalls, 2);
    for (size_t i = 0; i < 2; i++) {
        const struct ss_stall *s = only_stall(p, t.planted[i].tid);
        expect_duration(s, t.planted[i].ms);
        cr_expect(stall_has_frames(s, "^plant_spin$", "^run_loop$"));
        const struct ss_thread *th = ss_process_thread(p, t.planted[i].tid);
        cr_assert_not_null(th);
        cr_expect(th->loop);
    }
    finish(&t);
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
    struct traced t;
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
        const struct ss_stall *s = only_stall(p, t.planted[i].tid);
        expect_duration(s, t.planted[i].ms);
        cr_expect(stall_has_frames(s, "^plant_spin$", "^run_loop$"));
    }
    finish(&t);
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
    struct traced t;
    const char *args[] = {"--spin-naps", "100", NULL};
    trace(&t, "20ms", "loop-fixture-O2", args);
    cr_assert_eq(t.nplanted, 1);
    const struct ss_stall *s = only_stall(&t.model->procs[0], t.planted[0].tid);
    expect_duration(s, t.planted[0].ms);
    cr_expect_geq(s->nsamples, 5);
    finish(&t);
}

Test(stalls, thread_slots_are_reused, .timeout = 120)
{
    struct traced t;
    const char *args[] = {"--serial-threads", "300", NULL};
    trace(&t, "20ms", "loop-fixture-O2", args);
    const struct ss_process *p = &t.model->procs[0];
    size_t loops = 0;
    for (size_t i = 0; i < p->nthreads; i++)
        loops += p->threads[i].loop && p->threads[i].iterations > 0;
    cr_expect_eq(loops, 300, "each of 300 short-lived loop threads is traced");
    finish(&t);
}

/* Regression: with stacks off, call captures used to be taken anyway and counted as failed
 * samples. */
Test(stalls, no_stacks_records_stalls_only, .timeout = 60)
{
    struct traced t;
    memset(&t, 0, sizeof t);
    char stallscope[512], fixture[512], out[128];
    snprintf(stallscope, sizeof stallscope, "%s/stallscope", builddir());
    snprintf(fixture, sizeof fixture, "%s/tests/fixtures/loop-fixture-O2", builddir());
    strcpy(t.dir, "/tmp/ss-behaviour-XXXXXX");
    cr_assert_not_null(mkdtemp(t.dir));
    snprintf(t.run, sizeof t.run, "%s/run", t.dir);
    snprintf(out, sizeof out, "%s/out.txt", t.dir);
    const char *argv[] = {stallscope, "run",    "-q",  "--no-stacks", "-o",  t.run, "--",
                          fixture,    "--spin", "100", "--sleep",     "100", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    cr_assert_eq(posix_spawn(&pid, stallscope, &fa, NULL, (char *const *)argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    collect(&t, pid);
    const struct ss_process *p = &t.model->procs[0];
    cr_expect_eq(p->nstalls, 2);
    for (size_t i = 0; i < p->nstalls; i++)
        cr_expect_eq(p->stalls[i].nsamples, 0);
    cr_expect_eq(ss_drops_total(&p->drops), 0, "nothing was dropped: nothing was taken");
    finish(&t);
}

static void wait_call_is_interposed(const char *fixture, const char *kind)
{
    struct traced t;
    const char *args[] = {"--wait", kind, "--spin", "120", "--quiet", "20", NULL};
    trace(&t, "50ms", fixture, args);
    cr_assert_eq(t.nplanted, 1);
    const struct ss_process *p = &t.model->procs[0];
    const struct ss_stall *s = only_stall(p, t.planted[0].tid);
    expect_duration(s, t.planted[0].ms);
    cr_expect(stall_has_frames(s, "^plant_spin$", "^run_loop$"));
    cr_expect_geq(p->threads[0].iterations, 20);
    finish(&t);
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

/* Runs the fixture with the shim preloaded by hand; returns its stderr. */
static void run_preloaded(struct traced *t, const char *options, const char *const *args, char *err,
                          size_t err_size)
{
    char shim[512], fixture[512], env_preload[600], env_options[600], out[128], errpath[128];
    snprintf(shim, sizeof shim, "%s/.libs/libstallscope.so", builddir());
    snprintf(fixture, sizeof fixture, "%s/tests/fixtures/loop-fixture-O2", builddir());
    snprintf(env_preload, sizeof env_preload, "LD_PRELOAD=%s", shim);
    snprintf(env_options, sizeof env_options, "STALLSCOPE_OPTIONS=%s", options);
    memset(t, 0, sizeof *t);
    strcpy(t->dir, "/tmp/ss-behaviour-XXXXXX");
    cr_assert_not_null(mkdtemp(t->dir));
    snprintf(out, sizeof out, "%s/out.txt", t->dir);
    snprintf(errpath, sizeof errpath, "%s/err.txt", t->dir);
    const char *argv[16] = {fixture};
    size_t n = 1;
    for (; *args && n < 15; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    char *envp[] = {env_preload, env_options, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    int status;
    cr_assert_eq(posix_spawn(&pid, fixture, &fa, NULL, (char *const *)argv, envp), 0);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the program must run on");
    FILE *f = fopen(errpath, "r");
    cr_assert_not_null(f);
    size_t len = fread(err, 1, err_size - 1, f);
    err[len] = '\0';
    fclose(f);
    f = fopen(out, "r");
    cr_assert_not_null(f);
    char line[256];
    while (fgets(line, sizeof line, f)) {
        struct planted *pl = &t->planted[t->nplanted];
        int v;
        if (t->nplanted < 16 &&
            sscanf(line, "planted %31s %lf %u", pl->what, &pl->ms, &pl->tid) == 3)
            t->nplanted++;
        else if (sscanf(line, "own-signal %d", &v) == 1)
            t->eintr -= 1000 * v; /* kept apart from EINTR counts below */
        else if (sscanf(line, "eintr %d", &v) == 1)
            t->eintr += v;
    }
    fclose(f);
}

static int count_lines(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
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
    struct traced t;
    char err[4096];
    const char *args[] = {"--spin", "100", NULL};
    run_preloaded(&t, "output=/proc/stallscope-cannot-exist", args, err, sizeof err);
    cr_expect_eq(t.nplanted, 1, "the program did its work");
    cr_expect_eq(count_lines(err, "stallscope:"), 1, "exactly one line on stderr: %s", err);
    cr_expect(strstr(err, "turned off") != NULL, "%s", err);
    finish(&t);
}

Test(fail_open, unknown_option_warns_and_runs, .timeout = 60)
{
    struct traced t;
    char err[4096], options[256];
    const char *args[] = {"--spin", "100", NULL};
    memset(&t, 0, sizeof t);
    snprintf(options, sizeof options, "bogus=1:output=/tmp/ss-unknown-option-%d", (int)getpid());
    run_preloaded(&t, options, args, err, sizeof err);
    cr_expect_eq(count_lines(err, "stallscope:"), 1, "%s", err);
    cr_expect(strstr(err, "unknown option bogus") != NULL, "%s", err);
    cr_expect_eq(t.nplanted, 1);
    struct ss_run *run;
    load_when_complete(options + strlen("bogus=1:output="), &run);
    cr_expect_eq(run->procs[0].nstalls, 1, "the other options still apply");
    ss_run_free(run);
    remove_tree(options + strlen("bogus=1:output="));
    finish(&t);
}

/* A program that owns the sampling signal keeps it: stalls are still recorded, without
 * signal samples, and the program's handler still runs. */
Test(fail_open, program_owns_the_sampling_signal, .timeout = 60)
{
    struct traced t;
    char err[4096], options[256];
    const char *args[] = {"--own-signal", "38", "--spin", "150", NULL};
    snprintf(options, sizeof options, "sampling=signal:output=/tmp/ss-own-signal-%d",
             (int)getpid());
    run_preloaded(&t, options, args, err, sizeof err);
    cr_expect_eq(t.eintr, -1000, "the program's own handler ran once, no EINTR");
    cr_expect(strstr(err, "already has a handler") != NULL, "%s", err);
    struct ss_run *run;
    load_when_complete(options + strlen("sampling=signal:output="), &run);
    cr_assert_eq(run->procs[0].nstalls, 1);
    for (size_t i = 0; i < run->procs[0].stalls[0].nsamples; i++)
        cr_expect_eq(run->procs[0].stalls[0].samples[i].source, SS_SAMPLE_CALL,
                     "no signal samples; the fixture's own write may still be caught");
    cr_expect_geq(run->procs[0].nnotes, 1, "the trace says why there are no samples");
    expect_duration(&run->procs[0].stalls[0], t.planted[0].ms);
    ss_run_free(run);
    remove_tree(options + strlen("sampling=signal:output="));
    finish(&t);
}

/* Sampled by perf events, the program's own use of the signal changes nothing: no handler of
 * the shim's is ever installed, nothing is said, and the stall has its samples. */
Test(fail_open, program_owning_the_signal_is_sampled_by_perf, .timeout = 60)
{
    struct traced t;
    char err[4096], options[256];
    const char *args[] = {"--own-signal", "38", "--spin", "150", NULL};
    snprintf(options, sizeof options, "sampling=perf:output=/tmp/ss-own-signal-perf-%d",
             (int)getpid());
    run_preloaded(&t, options, args, err, sizeof err);
    cr_expect_eq(t.eintr, -1000, "the program's own handler ran once, no EINTR");
    cr_expect_eq(err[0], '\0', "nothing said: %s", err);
    struct ss_run *run;
    load_when_complete(options + strlen("sampling=perf:output="), &run);
    cr_assert_eq(run->procs[0].nstalls, 1);
    size_t timed = 0;
    for (size_t i = 0; i < run->procs[0].stalls[0].nsamples; i++)
        timed += run->procs[0].stalls[0].samples[i].source == SS_SAMPLE_PERF;
    cr_expect_geq(timed, 1, "sampled by perf events");
    ss_run_free(run);
    remove_tree(options + strlen("sampling=perf:output="));
    finish(&t);
}

/* A hung loop must show in the trace while it hangs, not only after. */
Test(stalls, stall_in_progress_is_visible, .timeout = 60)
{
    struct traced t;
    memset(&t, 0, sizeof t);
    const char *args[] = {"--spin", "2500", NULL};
    pid_t pid = spawn(&t, "50ms", "loop-fixture-O2", args);
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
    collect(&t, pid);
    const struct ss_stall *s = only_stall(&t.model->procs[0], t.planted[0].tid);
    cr_expect_eq(s->in_progress, 0);
    expect_duration(s, t.planted[0].ms);
    finish(&t);
}
