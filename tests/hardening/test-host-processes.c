/* Hosts that do what servers do to their processes, run with the real shim preloaded: vfork
 * and posix_spawn, jumps out of the shim's hooks, daemons closing every descriptor, loop
 * threads that exit, execs (static, by PATH, setuid, without the preload), errno, and
 * unwinding under stress. The host's behaviour must be exactly what it is without the shim.
 * The host's signals are in test-host.c. */
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

static size_t notes_with(const struct ss_process *p, const char *text)
{
    size_t n = 0;
    for (size_t i = 0; i < p->nnotes; i++)
        n += strstr(p->notes[i], text) != NULL;
    return n;
}

/* The control for the notes below: children that load the shim get none. */
Test(processes, vfork_and_posix_spawn, .timeout = 60)
{
    struct harness h;
    const char *steps[] = {"vfork",     "/bin/true", "spawn", "/bin/true", "fork-exec",
                           "/bin/true", "spin",      "100",   NULL};
    run_host(&h, NULL, steps, 1);
    cr_expect_eq(h.err[0], '\0', "%s", h.err);
    cr_assert_eq(h.model->nprocs, 1, "children that only exec leave no trace");
    /* On a loaded machine an iteration that starts a child can pass the threshold too: the
     * spin's stall is the longest. */
    const struct ss_process *p = &h.model->procs[0];
    cr_assert_geq(p->nstalls, 1);
    const struct ss_stall *longest = &p->stalls[0];
    for (size_t i = 1; i < p->nstalls; i++)
        if (p->stalls[i].duration_ns > longest->duration_ns)
            longest = &p->stalls[i];
    run_expect_duration(longest, h.planted[0].ms);
    cr_expect_eq(notes_with(&h.model->procs[0], "untraced"), 0, "traced children get no note");
    harness_finish(&h);
}

/* The host's SIGALRM handler jumps out of a blocking call, out of the loop's own wait, or out
 * of anything at all thousands of times (the shim's own code included): the shim stays on for
 * the thread. The 150 ms spin after the jump is a stall, sampled; after the storm, a blocking
 * call is recorded again. */
static void jumps_leave_the_shim_on(const char *step, const char *arg)
{
    struct harness h;
    const char *steps[] = {step, arg, "spin", "100", NULL};
    run_host(&h, NULL, steps, 1);
    cr_expect_eq(h.err[0], '\0', "%s", h.err);
    cr_assert_eq(h.nplanted, 2, "%s", h.out);
    const struct ss_process *p = &h.model->procs[0];
    for (size_t k = 0; k < 2; k++) {
        const struct ss_stall *stall = run_stall_at_least(p, h.planted[k].ms);
        cr_expect_not_null(stall, "%s: the spin of %.1f ms after the jump is a stall", step,
                           h.planted[k].ms);
        if (stall)
            cr_expect_geq(signal_samples(stall), 3, "%s: spin %zu is sampled", step, k);
    }
    if (strcmp(step, "jump-storm") == 0) {
        int after = 0;
        for (size_t i = 0; i < p->ncalls; i++)
            after |= strstr(p->calls[i].detail, "after-the-jumps") != NULL;
        cr_expect(after, "the access() after the jumps is recorded");
    }
    harness_finish(&h);
}

Test(jumps, out_of_a_blocking_call, .timeout = 60)
{
    jumps_leave_the_shim_on("jump-out-of-call", "50");
}

Test(jumps, out_of_the_loop_wait, .timeout = 60)
{
    jumps_leave_the_shim_on("jump-out-of-wait", "50");
}

Test(jumps, thousands_out_of_anywhere, .timeout = 60)
{
    jumps_leave_the_shim_on("jump-storm", "5000");
}

/* A vfork child runs on its parent's thread and memory until it execs (Python's subprocess
 * uses vfork): what it does to its descriptors and its signal mask, and the blocking calls it
 * makes, are not the parent's. The parent's socket stays a socket, its thread is sampled, and
 * none of the child's calls is recorded. */
Test(processes, vfork_child_is_not_its_parent, .timeout = 60)
{
    struct harness h;
    const char *steps[] = {"vfork-calls", "/bin/true", "spin", "100", NULL};
    run_host(&h, NULL, steps, 1);
    cr_expect_eq(h.err[0], '\0', "%s", h.err);
    cr_assert_eq(h.model->nprocs, 1);
    const struct ss_process *p = &h.model->procs[0];
    int recv_seen = 0;
    for (size_t i = 0; i < p->ncalls; i++) {
        const struct ss_call_site *c = &p->calls[i];
        cr_expect(!strstr(c->detail, "vfork-child") && strcmp(c->function, "nanosleep") != 0,
                  "the child's %s() (%s) was recorded as the parent's", c->function, c->detail);
        if (strcmp(c->function, "recv") == 0) {
            recv_seen = 1;
            cr_expect_str_eq(c->category, "net", "the parent's recv() on %s", c->detail);
            cr_expect(strstr(c->detail, "socket"), "the parent's recv() on %s", c->detail);
        }
    }
    cr_expect(recv_seen, "the parent's recv() is recorded");
    cr_assert_eq(h.nplanted, 2);
    for (size_t k = 0; k < 2; k++) {
        const struct ss_stall *stall = run_stall_at_least(p, h.planted[k].ms);
        cr_assert_not_null(stall, "the spin of %.1f ms is a stall", h.planted[k].ms);
        /* One sample proves it; a loaded machine may allow no more in 100 ms. */
        cr_expect_geq(signal_samples(stall), 1,
                      "the parent is sampled after its child blocked the signal (spin %zu)", k);
    }
    harness_finish(&h);
}

/* A daemon closes every descriptor the shim may hold and runs its loop in a new session. */
Test(processes, daemon_closing_every_descriptor, .timeout = 60)
{
    struct harness h;
    const char *steps[] = {"daemon", "120", NULL};
    run_host(&h, NULL, steps, 0);
    const struct ss_process *daemon = NULL;
    for (int tries = 0; tries < 500 && !daemon; tries++) {
        struct timespec pause = {0, 20000000};
        nanosleep(&pause, NULL);
        ss_run_free(h.model);
        h.model = NULL;
        char msg[512];
        if (ss_run_load(h.run, &h.model, msg, sizeof msg) != 0)
            continue;
        /* The host is this test's child; the daemon, its grandchild's child, is not. A busy
         * machine can give the host a short stall of its own around its fork. */
        for (size_t i = 0; i < h.model->nprocs; i++)
            if (h.model->procs[i].ppid != (uint32_t)getpid() && h.model->procs[i].end_ns &&
                h.model->procs[i].nstalls == 1)
                daemon = &h.model->procs[i];
    }
    cr_assert_not_null(daemon, "the daemon's trace has its stall and its end");
    cr_expect_geq(daemon->stalls[0].duration_ns, 120000000ull);
    cr_expect_geq(daemon->stalls[0].nsamples, 1);
    harness_finish(&h);
}

Test(processes, loop_thread_that_exits, .timeout = 60)
{
    struct harness h;
    const char *steps[] = {"thread-loop", "120", "spin", "100", NULL};
    run_host(&h, NULL, steps, 1);
    const struct ss_process *p = &h.model->procs[0];
    cr_assert_eq(h.nplanted, 2);
    const struct ss_thread *gone = ss_process_thread(p, h.planted[0].tid);
    cr_assert_not_null(gone);
    cr_expect_neq(gone->exit_ns, 0, "the thread's exit is recorded");
    /* The main loop's wait in pthread_join is a stall of its own. Perf events sample every
     * interval of the thread's CPU time, which a busy machine gives out sparingly. */
    for (size_t k = 0; k < 2; k++) {
        size_t found = 0;
        for (size_t i = 0; i < p->nstalls; i++)
            if (p->stalls[i].tid == h.planted[k].tid && signal_samples(&p->stalls[i]) >= 1) {
                run_expect_duration(&p->stalls[i], h.planted[k].ms);
                found++;
            }
        cr_expect_eq(found, 1, "the spin of thread %u is sampled", h.planted[k].tid);
    }
    harness_finish(&h);
}

Test(processes, thousands_of_short_lived_loop_threads, .timeout = 120)
{
    struct harness h;
    const char *steps[] = {"threads", "2000", NULL};
    run_host(&h, NULL, steps, 1);
    cr_expect_eq(host_value(&h, "threads-done "), 2000);
    cr_expect_eq(h.err[0], '\0', "no slot ran out: %s", h.err);
    const struct ss_process *p = &h.model->procs[0];
    size_t traced = 0;
    for (size_t i = 0; i < p->nthreads; i++)
        traced += p->threads[i].loop && p->threads[i].iterations > 0 && p->threads[i].exit_ns;
    cr_expect_eq(traced, 2000, "each short-lived loop thread is traced to its exit");
    harness_finish(&h);
}

/* A statically linked program cannot load the shim: the exec works, nothing is traced, and
 * the parent's trace says so once for each child, however it was started. */
Test(processes, exec_of_a_static_binary, .timeout = 60)
{
    struct harness h;
    char path[512], note[600];
    snprintf(path, sizeof path, "%s/tests/hardening/static-true", scratch_builddir());
    const char *steps[] = {"spawn", path, "vfork", path, "fork-exec", path, "spin", "60", NULL};
    run_host(&h, NULL, steps, 1);
    cr_expect_eq(h.err[0], '\0', "%s", h.err);
    cr_assert_eq(h.model->nprocs, 1);
    const struct ss_process *p = &h.model->procs[0];
    snprintf(note, sizeof note, " ran %s untraced: statically linked", path);
    cr_expect_eq(notes_with(p, note), 3, "one note per child (%zu notes)", p->nnotes);
    cr_expect_eq(notes_with(p, "child "), 3);
    cr_expect_eq(p->drops.events, 0);
    harness_finish(&h);
}

/* execvp and posix_spawnp find the program in PATH: the note names the file found. */
Test(processes, exec_by_name_through_path, .timeout = 60)
{
    struct harness h;
    char dir[512], env[600], note[700];
    snprintf(dir, sizeof dir, "%s/tests/hardening", scratch_builddir());
    snprintf(env, sizeof env, "PATH=/nonexistent:%s:/usr/bin:/bin", dir);
    host_extra_env = env;
    const char *steps[] = {"fork-execvp", "static-true", "spawnp", "static-true",
                           "fork-execvp", "true",        NULL};
    run_host(&h, NULL, steps, 1);
    host_extra_env = NULL;
    cr_expect_eq(h.err[0], '\0', "%s", h.err);
    const struct ss_process *p = &h.model->procs[0];
    snprintf(note, sizeof note, " ran %s/static-true untraced: statically linked", dir);
    cr_expect_eq(notes_with(p, note), 2, "both p-variants are noted (%zu notes)", p->nnotes);
    cr_expect_eq(notes_with(p, "untraced"), 2, "true, found in /usr/bin, is traced");
    harness_finish(&h);
}

/* A child that execs with an environment of its own that lacks LD_PRELOAD goes untraced, even
 * when it runs the parent's own program again. */
Test(processes, exec_with_an_environment_without_the_preload, .timeout = 60)
{
    struct harness h;
    char self[512];
    snprintf(self, sizeof self, "%s/tests/hardening/host-fixture", scratch_builddir());
    const char *steps[] = {"fork-exec-bare", "/bin/true", "fork-exec", "/bin/true",
                           "fork-exec-bare", self,        NULL};
    run_host(&h, NULL, steps, 1);
    cr_expect_eq(h.err[0], '\0', "%s", h.err);
    cr_assert_eq(h.model->nprocs, 1, "the copy of the host was not traced");
    const struct ss_process *p = &h.model->procs[0];
    const char *why = " untraced: the environment it was given has no LD_PRELOAD naming "
                      "libstallscope.so";
    char note[700];
    snprintf(note, sizeof note, "true%s", why);
    cr_expect_eq(notes_with(p, note), 1, "%zu notes", p->nnotes);
    snprintf(note, sizeof note, "%s%s", self, why);
    cr_expect_eq(notes_with(p, note), 1, "%zu notes", p->nnotes);
    cr_expect_eq(notes_with(p, "untraced"), 2, "the child that kept the preload is traced");
    harness_finish(&h);
}

/* An exec that fails returns to the child with the C library's errno, and nothing ran: not
 * even a static program that exists but may not be executed gets a note. */
Test(processes, failed_exec_leaves_no_note, .timeout = 60)
{
    char copy[128], cmd[700];
    snprintf(copy, sizeof copy, "/tmp/ss-noexec-%d", (int)getpid());
    snprintf(cmd, sizeof cmd, "cp '%s/tests/hardening/static-true' '%s' && chmod 0644 '%s'",
             scratch_builddir(), copy, copy);
    cr_assert_eq(system(cmd), 0);
    struct harness h;
    const char *steps[] = {"exec-fail", copy, "exec-fail", "/nonexistent/program", NULL};
    run_host(&h, NULL, steps, 1);
    unlink(copy);
    const char *second = strstr(h.out, "exec-errno ");
    cr_assert_not_null(second, "%s", h.out);
    second = strstr(second + 1, "exec-errno ");
    cr_assert_not_null(second, "%s", h.out);
    cr_expect_eq(host_value(&h, "exec-errno "), EACCES, "%s", h.out);
    cr_expect_eq(atoi(second + strlen("exec-errno ")), ENOENT, "%s", h.out);
    cr_expect_eq(notes_with(&h.model->procs[0], "untraced"), 0);
    cr_expect_eq(h.model->procs[0].drops.events, 0);
    harness_finish(&h);
}

/* Thousands of captures while the loop thread is somewhere a signal handler must not
 * unwind: inside malloc, the dynamic loader, C++ unwinding, or the host's own handler. The
 * host finishes, and the captures produce stacks. */
static size_t captures_under(const char *scenario)
{
    struct harness h;
    const char *steps[] = {scenario, "2000", NULL};
    host_options = "threshold=1ms:interval=100us:sampling=signal";
    run_host(&h, NULL, steps, 1);
    host_options = "threshold=50ms";
    cr_assert_eq(h.nplanted, 1);
    const struct ss_process *p = &h.model->procs[0];
    const struct ss_stall *longest = NULL;
    for (size_t i = 0; i < p->nstalls; i++)
        if (!longest || p->stalls[i].duration_ns > longest->duration_ns)
            longest = &p->stalls[i];
    cr_assert_not_null(longest);
    run_expect_duration(longest, h.planted[0].ms);
    size_t samples = signal_samples(longest), with_stack = 0;
    for (size_t i = 0; i < longest->nsamples; i++)
        with_stack += longest->samples[i].stack && longest->samples[i].stack->nframes > 2;
    cr_expect_geq(samples, 100, "%s: %zu signal samples", scenario, samples);
    cr_expect_geq(with_stack * 2, longest->nsamples, "%s: %zu of %zu samples have stacks", scenario,
                  with_stack, longest->nsamples);
    cr_log_info("%s: %zu captures, %llu failed, %llu timed out", scenario, samples,
                (unsigned long long)p->drops.samples_failed,
                (unsigned long long)p->drops.samples_timed_out);
    harness_finish(&h);
    return samples;
}

Test(unwinding, under_stress, .timeout = 120)
{
    size_t total = captures_under("stress-malloc") + captures_under("stress-dlopen") +
                   captures_under("stress-throw") + captures_under("stress-signals");
    cr_log_info("%zu captures in all", total);
}

/* A copy of host-fixture started by host-fixture (posix_spawn, then fork and exec): with the
 * set-user-ID or set-group-ID bit (and another owner or group) the loader runs it in secure
 * mode and ignores the preload, and the parent's trace says so; without, it is traced. Returns
 * the number of processes traced. */
static size_t traces_with_child(mode_t mode, const char *note)
{
    char child[128], cmd[700], text[300];
    snprintf(child, sizeof child, "/tmp/ss-setuid-%d", (int)getpid());
    snprintf(cmd, sizeof cmd, "cp '%s/tests/hardening/host-fixture' '%s'", scratch_builddir(),
             child);
    cr_assert_eq(system(cmd), 0);
    if (mode & S_ISUID)
        cr_assert_eq(chown(child, 65534, 65534), 0);
    if (mode & S_ISGID)
        cr_assert_eq(chown(child, 0, 65534), 0);
    cr_assert_eq(chmod(child, mode), 0);
    struct harness h;
    const char *steps[] = {"spawn", child, "fork-exec", child, NULL};
    run_host(&h, NULL, steps, 1);
    size_t n = h.model->nprocs;
    cr_expect_eq(harness_count(h.err, "stallscope:"), 0, "%s", h.err);
    const struct ss_process *parent = NULL;
    for (size_t i = 0; i < n; i++)
        if (strstr(h.model->procs[i].exe, "host-fixture"))
            parent = &h.model->procs[i];
    cr_assert_not_null(parent);
    snprintf(text, sizeof text, " ran %s untraced: %s", child, note ? note : "");
    cr_expect_eq(notes_with(parent, text), note ? 2 : 0, "%s: %zu notes", text, parent->nnotes);
    cr_expect_eq(notes_with(parent, "untraced"), note ? 2 : 0);
    harness_finish(&h);
    unlink(child);
    return n;
}

Test(processes, exec_of_a_setuid_binary, .timeout = 60)
{
    if (geteuid() != 0)
        cr_skip_test("needs root to make a set-user-ID program of another user");
    cr_expect_eq(traces_with_child(0755, NULL), 3, "control: the plain copies are traced");
    cr_expect_eq(traces_with_child(04755, "set-user-ID (runs as user 65534): the loader ignores "
                                          "LD_PRELOAD in secure-execution mode"),
                 1, "the set-user-ID copies run untraced");
    cr_expect_eq(traces_with_child(02755, "set-group-ID (runs as group 65534)"), 1,
                 "the set-group-ID copies run untraced");
}

/* The errno lines host-fixture prints for its probe, run without the shim. */
static void probe_without_shim(const char *dir, char *out, size_t size)
{
    char fixture[512], cmd[1200];
    snprintf(fixture, sizeof fixture, "%s/tests/hardening/host-fixture", scratch_builddir());
    snprintf(cmd, sizeof cmd, "env -u LD_PRELOAD '%s' errno-probe '%s' </dev/null", fixture, dir);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t len = 0;
    char line[256];
    while (fgets(line, sizeof line, p))
        if (strncmp(line, "errno ", 6) == 0 && len + strlen(line) < size) {
            memcpy(out + len, line, strlen(line) + 1);
            len += strlen(line);
        }
    cr_assert_eq(pclose(p), 0);
}

/* Every kind of interposed call, succeeding and failing inside a loop iteration: errno is
 * what it is without the shim. */
Test(processes, errno_is_preserved, .timeout = 60)
{
    struct harness h;
    char plain[4096] = "", traced[4096] = "", dir[64] = "/tmp/ss-errno-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    probe_without_shim(dir, plain, sizeof plain);
    const char *steps[] = {"errno-probe", dir, NULL};
    run_host(&h, NULL, steps, 1);
    size_t len = 0;
    for (char *line = h.out; line && *line;) {
        char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) + 1 : strlen(line);
        if (strncmp(line, "errno ", 6) == 0 && len + n < sizeof traced) {
            memcpy(traced + len, line, n);
            len += n;
        }
        line = end ? end + 1 : NULL;
    }
    traced[len] = '\0';
    cr_expect_gt(harness_count(plain, "errno "), 20);
    cr_expect_str_eq(traced, plain);
    cr_expect_gt(h.model->procs[0].ncalls, 10, "the calls were interposed, not passed by");
    rmdir(dir);
    harness_finish(&h);
}

/* The monitor is a process of its own: a host with one thread keeps one thread. */
