/* Hosts that do what servers do to their signals, run with the real shim
 * preloaded: the host's own behaviour must be exactly what it is without the shim, and the
 * shim must notice what it can no longer do, say so once and go on with the rest. */
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

/* These suites make the monitor sample with the signal (SIGNAL_OPTIONS). */
static void use_the_signal(void)
{
    host_options = SIGNAL_OPTIONS;
}

static void use_the_default(void)
{
    host_options = "threshold=50ms";
}

TestSuite(signals, .init = use_the_signal, .fini = use_the_default);
TestSuite(timeouts, .init = use_the_signal, .fini = use_the_default);

/* The host takes the signal over after sampling began: the shim stops sampling, says so once
 * on stderr and in the trace, and the host's handler gets exactly the signals the host sent.
 * `after` is the disposition the host then sees (a System V handler is reset as it runs). */
static void host_takes_the_signal(const char *how, const char *after)
{
    struct harness h;
    const char *steps[] = {"spin",  "150",           how,     SAMPLING_SIGNAL, "spin", "150",
                           "raise", SAMPLING_SIGNAL, "query", SAMPLING_SIGNAL, NULL};
    run_host(&h, NULL, steps, 1);
    cr_expect_eq(host_value(&h, "handled " SAMPLING_SIGNAL " "), 1,
                 "the host's handler ran once, for its own raise: %s", h.out);
    char disposition[64];
    snprintf(disposition, sizeof disposition, "disposition " SAMPLING_SIGNAL " %s", after);
    cr_expect(strstr(h.out, disposition), "%s: %s", how, h.out);
    cr_expect_eq(host_value(&h, "eintr "), 0);
    cr_expect_eq(harness_count(h.err, "stallscope:"), 1, "one line on stderr: %s", h.err);
    cr_expect(strstr(h.err, "own handler for the sampling signal"), "%s", h.err);
    cr_assert_eq(h.model->nprocs, 1);
    const struct ss_process *p = &h.model->procs[0];
    cr_assert_eq(p->nstalls, 2);
    cr_expect_geq(signal_samples(&p->stalls[0]), 3, "sampled before the take-over");
    cr_expect_eq(signal_samples(&p->stalls[1]), 0, "no signal after the take-over");
    run_expect_duration(&p->stalls[1], h.planted[1].ms);
    cr_expect(has_note(p, "own handler for the sampling signal"), "the trace says why");
    cr_expect_eq(p->drops.samples_timed_out, 0);
    harness_finish(&h);
}

Test(signals, host_takes_the_signal_with_sigaction, .timeout = 60)
{
    host_takes_the_signal("own-sigaction", "handler restart");
}

Test(signals, host_takes_the_signal_with_signal, .timeout = 60)
{
    host_takes_the_signal("own-signal", "handler restart");
}

Test(signals, host_takes_the_signal_with_bsd_signal, .timeout = 60)
{
    host_takes_the_signal("own-bsd_signal", "handler restart");
}

Test(signals, host_takes_the_signal_with_ssignal, .timeout = 60)
{
    host_takes_the_signal("own-ssignal", "handler restart");
}

Test(signals, host_takes_the_signal_with_sysv_signal, .timeout = 60)
{
    host_takes_the_signal("own-sysv_signal", "default");
}

Test(signals, host_takes_the_signal_with___sysv_signal, .timeout = 60)
{
    host_takes_the_signal("own-__sysv_signal", "default");
}

Test(signals, host_takes_the_signal_with_sigset, .timeout = 60)
{
    host_takes_the_signal("own-sigset", "handler\n");
}

/* A daemon that closed its stderr and opened a data file, which got descriptor 2: the shim's
 * warning (here, that the host took the sampling signal over) must not go into that file. The
 * trace still says it. */
Test(signals, warning_never_written_into_a_file_that_took_stderr, .timeout = 60)
{
    struct harness h;
    char data[64], text[64] = "";
    strcpy(data, "/tmp/ss-data-XXXXXX");
    int fd = mkstemp(data);
    cr_assert_geq(fd, 0);
    close(fd);
    const char *steps[] = {"spin",          "150",  "stderr-reused", data, "own-sigaction",
                           SAMPLING_SIGNAL, "spin", "100",           NULL};
    run_host(&h, NULL, steps, 1);
    FILE *f = fopen(data, "r");
    cr_assert_not_null(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    unlink(data);
    cr_expect_str_eq(text, "host data\n", "the host's file holds only what the host wrote");
    cr_expect(has_note(&h.model->procs[0], "own handler for the sampling signal"),
              "the trace says why sampling stopped");
    harness_finish(&h);
}

/* sigignore() is a take-over too: the host's raise is ignored, as without the shim. */
Test(signals, host_ignores_the_signal_with_sigignore, .timeout = 60)
{
    struct harness h;
    const char *steps[] = {"spin",  "150",           "ignore", SAMPLING_SIGNAL, "spin", "150",
                           "raise", SAMPLING_SIGNAL, "query",  SAMPLING_SIGNAL, NULL};
    run_host(&h, NULL, steps, 1);
    cr_expect_eq(host_value(&h, "handled "), -1, "%s", h.out);
    cr_expect(strstr(h.out, "disposition " SAMPLING_SIGNAL " ignore"), "%s", h.out);
    cr_expect_eq(harness_count(h.err, "stallscope:"), 1, "one line on stderr: %s", h.err);
    const struct ss_process *p = &h.model->procs[0];
    cr_assert_eq(p->nstalls, 2);
    cr_expect_geq(signal_samples(&p->stalls[0]), 3, "sampled before the take-over");
    cr_expect_eq(signal_samples(&p->stalls[1]), 0, "no signal after the take-over");
    cr_expect(has_note(p, "own handler for the sampling signal"), "the trace says why");
    harness_finish(&h);
}

/* While the shim samples, a host asking about the signal sees what it would see without
 * the shim. */
Test(signals, the_shim_handler_is_invisible, .timeout = 60)
{
    struct harness h;
    const char *steps[] = {"spin", "100", "query", SAMPLING_SIGNAL, "spin", "100", NULL};
    run_host(&h, NULL, steps, 1);
    cr_expect(strstr(h.out, "disposition " SAMPLING_SIGNAL " default"), "%s", h.out);
    cr_expect_eq(h.err[0], '\0', "nothing on stderr: %s", h.err);
    const struct ss_process *p = &h.model->procs[0];
    cr_assert_eq(p->nstalls, 2);
    cr_expect_geq(signal_samples(&p->stalls[1]), 1, "a query does not stop sampling");
    harness_finish(&h);
}

/* A library that saves the signal's disposition and restores it (or resets it to the default
 * it sees) changes nothing, and sampling goes on. */
Test(signals, restoring_the_default_keeps_sampling, .timeout = 60)
{
    struct harness h;
    const char *steps[] = {"spin", "100", "save-restore", SAMPLING_SIGNAL, "spin", "100", NULL};
    run_host(&h, NULL, steps, 1);
    cr_expect_eq(h.err[0], '\0', "nothing on stderr: %s", h.err);
    const struct ss_process *p = &h.model->procs[0];
    cr_assert_eq(p->nstalls, 2);
    cr_expect_geq(signal_samples(&p->stalls[1]), 3, "still sampled after the restore");
    harness_finish(&h);
}

/* A loop thread that blocks the signal is not signalled (a signal left pending would reach
 * whatever handler is there when it is unblocked); the skipped samples are counted. Each old
 * and new way to block and unblock it is followed. */
static void blocked_signal_is_not_sent(const char *options, const char *sig, const char *block,
                                       const char *unblock)
{
    struct harness h;
    const char *steps[] = {block, sig, "spin", "150", unblock, sig, "spin", "150", NULL};
    host_options = options;
    run_host(&h, NULL, steps, 1);
    host_options = SIGNAL_OPTIONS;
    cr_expect_eq(host_value(&h, "eintr "), 0);
    cr_expect_eq(h.err[0], '\0', "nothing on stderr: %s", h.err);
    const struct ss_process *p = &h.model->procs[0];
    cr_assert_eq(p->nstalls, 2);
    cr_expect_eq(signal_samples(&p->stalls[0]), 0, "%s: blocked, no signal sent", block);
    cr_expect_geq(signal_samples(&p->stalls[1]), 3, "%s: unblocked, sampled again", unblock);
    cr_expect_geq(p->drops.samples_failed, 3, "the skipped samples are counted");
    cr_expect_eq(p->drops.samples_timed_out, 0, "never waited on a blocked thread");
    harness_finish(&h);
}

Test(signals, blocked_signal_is_not_sent, .timeout = 60)
{
    blocked_signal_is_not_sent(SIGNAL_OPTIONS, SAMPLING_SIGNAL, "block", "unblock");
}

Test(signals, blocked_with_sighold, .timeout = 60)
{
    blocked_signal_is_not_sent(SIGNAL_OPTIONS, SAMPLING_SIGNAL, "hold", "release");
}

Test(signals, blocked_with_sigset_hold, .timeout = 60)
{
    blocked_signal_is_not_sent(SIGNAL_OPTIONS, SAMPLING_SIGNAL, "sigset-hold", "sigset-default");
}

/* sigsetmask() sets the whole mask from signals 1 to 32: one above is unblocked by it. */
Test(signals, unblocked_with_sigsetmask, .timeout = 60)
{
    blocked_signal_is_not_sent(SIGNAL_OPTIONS, SAMPLING_SIGNAL, "block", "bsd-setmask");
}

/* sigblock() can block only signals 1 to 32, so the sampling signal is one of those here. */
Test(signals, blocked_with_sigblock, .timeout = 60)
{
    blocked_signal_is_not_sent(SIGNAL_OPTIONS ":signal=12", "12", "bsd-block", "unblock");
}

Test(signals, blocked_with_sigsetmask, .timeout = 60)
{
    blocked_signal_is_not_sent(SIGNAL_OPTIONS ":signal=12", "12", "bsd-setmask", "release");
}

/* siginterrupt() on the sampling signal would take SA_RESTART from the shim's handler, and its
 * signals would then cut the host's system calls short. The shim's handler keeps it, and the
 * host's wish applies to the handler it installs later with signal(), as without the shim. */
Test(signals, siginterrupt_leaves_the_shim_handler_restarting, .timeout = 60)
{
    struct harness h;
    const char *steps[] = {"spin", "100",        "siginterrupt",  SAMPLING_SIGNAL, "raw-read",
                           "300",  "own-signal", SAMPLING_SIGNAL, "query",         SAMPLING_SIGNAL,
                           NULL};
    run_host(&h, NULL, steps, 1);
    cr_expect_eq(host_value(&h, "eintr "), 0, "the raw read was never cut short: %s", h.out);
    cr_expect(strstr(h.out, "disposition " SAMPLING_SIGNAL " handler\n"),
              "the host's handler does not restart, as it asked: %s", h.out);
    cr_expect_eq(harness_count(h.err, "stallscope:"), 1, "only the take-over is told: %s", h.err);
    const struct ss_process *p = &h.model->procs[0];
    cr_assert_eq(p->nstalls, 2);
    /* One sample shows it had; a loaded machine may allow no more in the spin's 50 ms. */
    cr_expect_geq(signal_samples(&p->stalls[0]), 1, "sampling had begun");
    cr_expect_geq(signal_samples(&p->stalls[1]), 3, "the read was sampled");
    harness_finish(&h);
}

/* A host that blocks the sampling signal with the system call itself (a Go or statically
 * linked runtime), which the shim cannot see: the signal sent at the threshold waits in the
 * thread's pending set, the capture is abandoned after sample_timeout and counted, and the
 * thread is not signalled again until that signal has arrived. Once unblocked, the late
 * signal reaches the shim's handler, not the host, and later stalls are sampled as before. */
Test(timeouts, capture_abandoned_while_the_host_blocks_the_signal_unseen, .timeout = 60)
{
    struct harness h;
    const char *steps[] = {"raw-block",   SAMPLING_SIGNAL, "spin", "700",
                           "raw-unblock", SAMPLING_SIGNAL, "spin", "150",
                           "spin",        "150",           NULL};
    run_host(&h, NULL, steps, 1);
    cr_expect_eq(host_value(&h, "eintr "), 0);
    cr_expect_eq(host_value(&h, "handled "), -1, "no signal reached the host: %s", h.out);
    cr_expect_eq(h.err[0], '\0', "nothing on stderr: %s", h.err);
    const struct ss_process *p = &h.model->procs[0];
    cr_assert_eq(p->nstalls, 3);
    for (size_t i = 0; i < 3; i++)
        run_expect_duration(&p->stalls[i], h.planted[i].ms);
    cr_expect_eq(signal_samples(&p->stalls[0]), 0, "the blocked thread never answered");
    cr_expect_eq(p->drops.samples_timed_out, 1, "one capture abandoned, never a second wait");
    cr_expect_geq(p->drops.samples_failed, 10, "the samples skipped meanwhile are counted");
    for (size_t i = 1; i < 3; i++) {
        size_t with_stack = 0;
        for (size_t k = 0; k < p->stalls[i].nsamples; k++)
            with_stack +=
                p->stalls[i].samples[k].stack && p->stalls[i].samples[k].stack->nframes > 2;
        cr_expect_geq(signal_samples(&p->stalls[i]), 3, "stall %zu is sampled again", i + 1);
        cr_expect_geq(with_stack, 3, "stall %zu has stacks", i + 1);
    }
    char cmd[700];
    snprintf(cmd, sizeof cmd, "'%s/stallscope' report '%s' 2>&1", scratch_builddir(), h.run);
    FILE *report = popen(cmd, "r");
    cr_assert_not_null(report);
    char line[512];
    int shown = 0;
    while (fgets(line, sizeof line, report))
        shown |= strstr(line, "timed-out samples 1") != NULL;
    cr_expect_eq(pclose(report), 0);
    cr_expect(shown, "the report shows the abandoned capture");
    harness_finish(&h);
}

/* While one loop thread leaves its signal unanswered, another thread's stall is sampled at
 * the usual interval: the monitor does not wait on the silent thread sample after sample. */
Test(timeouts, a_silent_thread_does_not_hold_up_the_others, .timeout = 60)
{
    struct harness h;
    const char *steps[] = {"neighbour",     "1000",          "raw-block",
                           SAMPLING_SIGNAL, "spin",          "1500",
                           "raw-unblock",   SAMPLING_SIGNAL, NULL};
    run_host(&h, NULL, steps, 1);
    cr_expect_eq(host_value(&h, "eintr "), 0);
    cr_assert_eq(h.nplanted, 2);
    const struct ss_process *p = &h.model->procs[0];
    /* Sorted by the time they ended: the neighbour's spin is the shorter. */
    unsigned silent = h.planted[1].tid, busy = h.planted[0].tid;
    cr_assert_neq(silent, busy);
    size_t busy_samples = 0, silent_stalls = 0;
    for (size_t i = 0; i < p->nstalls; i++) {
        if (p->stalls[i].tid == busy)
            busy_samples += signal_samples(&p->stalls[i]);
        if (p->stalls[i].tid == silent && p->stalls[i].duration_ns > 1000000000ull) {
            silent_stalls++;
            cr_expect_eq(signal_samples(&p->stalls[i]), 0);
        }
    }
    cr_expect_eq(silent_stalls, 1);
    cr_expect_eq(p->drops.samples_timed_out, 1, "one wait on the silent thread");
    /* A 1 s stall sampled every 10 ms; waiting 200 ms on the silent thread at each of its
     * samples would leave about 5. */
    cr_expect_geq(busy_samples, 25, "the other thread's stall was sampled %zu times", busy_samples);
    harness_finish(&h);
}

/* The number of call sites of a thread whose stack goes through `function`. */
Test(signals, host_uses_sigprof_and_sigalrm, .timeout = 60)
{
    struct harness h;
    const char *steps[] = {"itimers", "spin", "200", NULL};
    run_host(&h, NULL, steps, 1);
    cr_expect_geq(host_value(&h, "timer-ticks "), 20, "%s", h.out);
    cr_expect_eq(h.err[0], '\0', "nothing on stderr: %s", h.err);
    const struct ss_process *p = &h.model->procs[0];
    cr_assert_eq(p->nstalls, 1);
    run_expect_duration(&p->stalls[0], h.planted[0].ms);
    cr_expect_geq(signal_samples(&p->stalls[0]), 5);
    harness_finish(&h);
}

Test(signals, waits_for_signals_and_ipc_are_never_cut_short, .timeout = 60)
{
    struct harness h;
    const char *steps[] = {"signal-waits", "30", NULL};
    host_options = "threshold=1ms:interval=100us:sampling=signal";
    run_host(&h, NULL, steps, 1);
    host_options = SIGNAL_OPTIONS;
    static const char *const waits[] = {"sigtimedwait", "sigsuspend", "pause", "semtimedop",
                                        "msgrcv"};
    for (size_t i = 0; i < sizeof waits / sizeof waits[0]; i++) {
        char line[64];
        snprintf(line, sizeof line, "wait %s ok", waits[i]);
        cr_expect(strstr(h.out, line), "%s: %s", waits[i], h.out);
    }
    cr_expect_eq(host_value(&h, "eintr "), 0);
    cr_expect_eq(h.err[0], '\0', "%s", h.err);
    const struct ss_process *p = &h.model->procs[0];
    cr_expect_gt(p->nstalls, 0);
    size_t signalled = 0;
    for (size_t i = 0; i < p->nstalls; i++)
        signalled += signal_samples(&p->stalls[i]);
    cr_expect_gt(signalled, 10, "the spins around the waits were sampled by signal");
    harness_finish(&h);
}

/* Defect 3: a process that execs from a busy iteration while it is sampled by signal every
 * 100 us: no signal is left pending across the exec, where the new program would meet it
 * under the default disposition, which ends it. */
Test(signals, no_signal_is_left_pending_across_exec, .timeout = 120)
{
    struct harness h;
    const char *steps[] = {"exec-chain", "25", NULL};
    host_options = "threshold=1ms:interval=100us:sampling=signal";
    run_host(&h, NULL, steps, 0);
    host_options = SIGNAL_OPTIONS;
    cr_expect(strstr(h.out, "exec-chain done"), "%s", h.out);
    harness_finish(&h);
}
