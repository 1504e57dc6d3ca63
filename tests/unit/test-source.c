/* Following a run while it is written: when the viewer reads a run again, what a load on its own
 * thread yields, and whether the run is live, quiet or finished. Traces are written with the
 * monitor's trace writer, record by record, as the monitor writes them. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/trace-format.h"
#include "errors.h"
#include "scratch.h"
#include "source.h"
#include "trace-builder.h"
#include "trace/trace-writer.h"

static char dir[64];
static struct ssv_source src;

static void make_dir(void)
{
    scratch_dir(dir, sizeof dir, "source");
}

static void remove_dir(void)
{
    ssv_src_close(&src);
    scratch_remove(dir);
}

TestSuite(source, .init = make_dir, .fini = remove_dir);

static void begin_process(struct ss_writer *w, uint32_t pid)
{
    char why[256];
    cr_assert_eq(ss_writer_open(w, dir, (pid_t)pid, why, sizeof why), 0, "%s", why);
    const char exe[] = "/usr/bin/server", cmd[] = "server";
    tb_process(w,
               (struct ss_rec_process){.pid = pid,
                                       .ppid = 1,
                                       .start_mono_ns = 1000000000,
                                       .start_real_ns = 1700000000000000000ull,
                                       .threshold_ns = 50000000,
                                       .interval_ns = 10000000},
               exe, cmd, sizeof cmd);
    tb_thread(
        w, (struct ss_rec_thread){.tid = pid, .flags = SS_THREAD_LOOP, .first_wait_ns = 1000000000},
        "server");
    ss_writer_flush(w);
}

static void stall(struct ss_writer *w, uint32_t pid, uint64_t start, int ended)
{
    tb_stall_begin(w, pid, start);
    if (ended)
        tb_stall_end(w, pid, start, 80000000);
    ss_writer_flush(w);
}

static void end_process(struct ss_writer *w)
{
    tb_end(w, 5000000000ull);
    ss_writer_close(w);
}

/* Starts a load and waits for it, as the interface does between keys. */
static struct ssv_snapshot *load(void)
{
    struct ssv_vm_scope all = {SSV_VM_SCOPE_ALL, 0, 0, 0};
    struct ssv_snapshot *s = NULL;
    cr_assert_eq(ssv_src_load_start(&src, &all), 0);
    cr_expect_eq(ssv_src_load_start(&src, &all), -1, "one load at a time");
    while (!ssv_src_load_poll(&src, &s))
        usleep(1000);
    return s;
}

Test(source, reads_again_only_when_a_trace_changes)
{
    char err[256];
    cr_assert_eq(ssv_src_open(&src, dir, err, sizeof err), 0);
    cr_expect(ssv_src_changed(&src), "nothing has been read yet");
    struct ssv_snapshot *s = load();
    cr_expect_null(s);
    cr_expect_eq(src.code, SS_ENOTRACE);
    cr_expect(strstr(src.err, "no trace files"), "%s", src.err);
    cr_expect_not(ssv_src_changed(&src), "a failed load is not retried until something changes");

    char other[128];
    snprintf(other, sizeof other, "%s/notes.txt", dir);
    FILE *f = fopen(other, "w");
    cr_assert_not_null(f);
    fclose(f);
    cr_expect_not(ssv_src_changed(&src), "only traces count");

    struct ss_writer w;
    begin_process(&w, 42);
    cr_expect(ssv_src_changed(&src));
    s = load();
    cr_assert_not_null(s, "%s", src.err);
    cr_expect_eq(s->vm.nstalls, 0);
    cr_expect_not(ssv_src_changed(&src));
    stall(&w, 42, 2000000000ull, 0);
    cr_expect(ssv_src_changed(&src), "the trace grew");
    ssv_snapshot_free(s);
    s = load();
    cr_assert_not_null(s);
    cr_expect_eq(s->vm.nstalls, 1);
    cr_expect(s->vm.order[0]->stall->in_progress);
    ssv_snapshot_free(s);
    end_process(&w);
}

Test(source, a_process_that_just_started_appears_once_it_has_written)
{
    char err[256];
    struct ss_writer first, second;
    begin_process(&first, 42);
    /* The writer writes a trace's header at once and its process record at the next flush. */
    cr_assert_eq(ss_writer_open(&second, dir, 43, err, sizeof err), 0, "%s", err);
    cr_assert_eq(ssv_src_open(&src, dir, err, sizeof err), 0);
    ssv_src_changed(&src);
    struct ssv_snapshot *s = load();
    cr_assert_not_null(s, "a header-only trace does not hide the run: %s", src.err);
    cr_expect_eq(s->vm.run->nprocs, 1, "the starting process is not shown yet");
    ssv_snapshot_free(s);
    const char exe[] = "/usr/bin/worker", cmd[] = "worker";
    struct ss_rec_process p = {43,       42,       1000000000,     0,
                               50000000, 10000000, sizeof exe - 1, sizeof cmd};
    ss_writer_record_tails(&second, SS_REC_PROCESS, &p, sizeof p, exe, p.exe_len, cmd, p.cmd_len);
    ss_writer_flush(&second);
    cr_expect(ssv_src_changed(&src));
    s = load();
    cr_assert_not_null(s, "%s", src.err);
    cr_expect_eq(s->vm.run->nprocs, 2, "the new process appears");
    ssv_snapshot_free(s);
    end_process(&first);
    end_process(&second);
}

static void age(const char *name, time_t seconds)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct timespec times[2];
    clock_gettime(CLOCK_REALTIME, &times[0]);
    times[0].tv_sec -= seconds;
    times[1] = times[0];
    cr_assert_eq(utimensat(AT_FDCWD, path, times, 0), 0);
}

Test(source, live_while_a_process_writes_quiet_when_none_does_finished_when_all_ended)
{
    char err[256];
    struct ss_writer a, b;
    begin_process(&a, 42);
    begin_process(&b, 43);
    cr_assert_eq(ssv_src_open(&src, dir, err, sizeof err), 0);
    cr_expect_eq(ssv_src_state(&src, NULL), SSV_SRC_WAITING);
    ssv_src_changed(&src);
    struct ssv_snapshot *s = load();
    cr_assert_not_null(s, "%s", src.err);
    cr_expect_eq(ssv_src_state(&src, &s->vm), SSV_SRC_LIVE);
    end_process(&a);
    age("stallscope-43.trace", SSV_SRC_LIVE_WINDOW_S + 1);
    ssv_src_changed(&src);
    ssv_snapshot_free(s);
    s = load();
    cr_assert_not_null(s);
    cr_expect_eq(ssv_src_state(&src, &s->vm), SSV_SRC_QUIET,
                 "43 has not ended nor written for a while");
    end_process(&b);
    ssv_src_changed(&src);
    ssv_snapshot_free(s);
    s = load();
    cr_assert_not_null(s);
    cr_expect_eq(ssv_src_state(&src, &s->vm), SSV_SRC_FINISHED);
    ssv_snapshot_free(s);
}

Test(source, finds_the_run_of_a_pid)
{
    char err[512];
    struct ss_writer w;
    begin_process(&w, 77);
    cr_expect_eq(ssv_src_find_pid(dir, 77, err, sizeof err), 0);
    cr_expect_eq(ssv_src_find_pid(dir, 78, err, sizeof err), -1);
    cr_expect(strstr(err, "--pid 78: no trace of that process in"), "%s", err);
    cr_expect_eq(ssv_src_find_pid("/nonexistent/run", 78, err, sizeof err), -1);
    cr_expect(strstr(err, "no run directory /nonexistent/run"), "%s", err);
    end_process(&w);
}

Test(source, a_missing_run_is_refused_at_once)
{
    char err[256];
    cr_expect_eq(ssv_src_open(&src, "/nonexistent/run", err, sizeof err), -1);
    cr_expect(strstr(err, "/nonexistent/run: No such file or directory"), "%s", err);
}
