/* The loops' records of a trace, written record by record as the shim's monitor writes them
 * and read back by the core library: a loop's begin and end, the stall announced at the
 * loop's end, workers taken for loops, pauses, malformed records; and the one rule that
 * names a thread. The rest of the writer and reader is tested in test-trace.c. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/trace-format.h"
#include "errors.h"
#include "model.h"
#include "scratch.h"
#include "trace-builder.h"
#include "trace/trace-writer.h"
#include "util/private-files.h"

static char dir[64];

static void make_dir(void)
{
    scratch_dir(dir, sizeof dir, "trace-loops");
}

static void remove_dir(void)
{
    scratch_remove(dir);
}

TestSuite(trace, .init = make_dir, .fini = remove_dir);

/* A trace written record by record, for the loops' tests. */
static struct ss_writer loop_writer;

static void loop_trace_open(uint32_t pid)
{
    char why[256];
    cr_assert_eq(ss_writer_open(&loop_writer, dir, (pid_t)pid, why, sizeof why), 0, "%s", why);
    struct ss_rec_process p = {pid, 1, 0, 0, 50000000, 10000000, 0, 0};
    ss_writer_record(&loop_writer, SS_REC_PROCESS, &p, sizeof p, NULL, 0);
    struct ss_rec_thread t = {pid, SS_THREAD_LOOP, 1000};
    ss_writer_record(&loop_writer, SS_REC_THREAD, &t, sizeof t, "main", 4);
}

static void announce(uint32_t tid, uint64_t start, uint64_t offset)
{
    struct ss_rec_stall_begin b = {tid, 0, start, start};
    ss_writer_record(&loop_writer, SS_REC_STALL_BEGIN, &b, sizeof b, NULL, 0);
    struct ss_rec_sample s = {tid, 0, start, offset, 0, 0, SS_SAMPLE_SIGNAL, 0};
    ss_writer_record(&loop_writer, SS_REC_SAMPLE, &s, sizeof s, NULL, 0);
}

static void end_stall(uint32_t tid, uint64_t start, uint64_t duration)
{
    struct ss_rec_stall_end e = {tid, 0, start, start, duration};
    ss_writer_record(&loop_writer, SS_REC_STALL_END, &e, sizeof e, NULL, 0);
}

static void begin_loop(uint32_t tid, uint64_t at)
{
    struct ss_rec_loop_begin r = {tid, SS_LOOP_SITE, 0, -1, 0, at};
    ss_writer_record(&loop_writer, SS_REC_LOOP_BEGIN, &r, sizeof r, "poll", 4);
}

static void end_loop(uint32_t tid, unsigned reason, uint64_t last_start, uint64_t end)
{
    struct ss_rec_loop_end r = {tid, (uint16_t)reason, 0, last_start, end};
    ss_writer_record(&loop_writer, SS_REC_LOOP_END, &r, sizeof r, NULL, 0);
}

static void histogram_of(uint32_t tid, uint64_t iterations)
{
    uint64_t buckets[SS_HIST_BUCKETS] = {0};
    buckets[ss_hist_bucket(20000)] = iterations;
    struct ss_rec_histogram h = {tid, SS_HIST_BUCKETS, iterations, iterations * 20000, 20000};
    ss_writer_record(&loop_writer, SS_REC_HISTOGRAM, &h, sizeof h, buckets, sizeof buckets);
}

static struct ss_run *loop_trace_load(size_t keep)
{
    ss_writer_close(&loop_writer);
    struct ss_run *run = NULL;
    char err[512] = "";
    cr_assert_eq(ss_run_load_keep(dir, keep, &run, err, sizeof err), 0, "%s", err);
    return run;
}

Test(trace, an_announced_stall_that_was_the_loops_end_is_its_last_stretch)
{
    loop_trace_open(40);
    begin_loop(40, 1000);
    announce(40, 100000000, 60000000);
    end_stall(40, 100000000, 70000000);
    announce(40, 500000000, 60000000);
    end_loop(40, SS_LOOP_CLOSED, 500000000, 900000000);
    struct ss_rec_stall_split sp = {
        .tid = 40, .stall_id = 500000000, .window_ns = 300000000, .cpu_ns = 200000000};
    ss_writer_record(&loop_writer, SS_REC_STALL_SPLIT, &sp, sizeof sp, NULL, 0);
    end_stall(40, 500000000, 1000);
    begin_loop(40, 950000000);
    struct ss_run *run = loop_trace_load(0);
    struct ss_process *p = &run->procs[0];
    cr_assert_eq(p->nstalls, 1, "the last stretch left the stall list");
    cr_expect_eq(p->stalls[0].start_ns, 100000000ull);
    cr_assert_eq(p->nloops, 2);
    const struct ss_loop *first = &p->loops[0];
    cr_expect_eq(first->kind, SS_LOOP_SITE);
    cr_expect_eq(first->end_reason, SS_LOOP_CLOSED);
    cr_expect_eq(first->last.start_ns, 500000000ull);
    cr_expect_eq(first->last.duration_ns, 400000000ull,
                 "measured by the loop's end, not a STALL_END");
    cr_expect_eq(first->last.in_progress, 0);
    cr_expect_eq(first->last.nsamples, 1, "its samples went with it");
    cr_expect_eq(first->last.split_cpu_ns, 200000000ull, "a record after the end still finds it");
    cr_expect_eq(p->loops[1].begin_ns, 950000000ull);
    cr_expect_eq(p->loops[1].end_ns, 0, "still running");
    cr_expect(p->threads[0].loop);
    cr_expect_eq(ss_process_stall_count(p, 0), 1);
    ss_run_free(run);
}

Test(trace, a_worker_taken_for_a_loop_is_forgotten)
{
    loop_trace_open(41);
    begin_loop(41, 1000);
    announce(41, 100000000, 60000000);
    end_stall(41, 100000000, 70000000);
    histogram_of(41, 5);
    announce(41, 300000000, 55000000);
    end_loop(41, SS_LOOP_NOT_A_LOOP, 300000000, 400000000);
    struct ss_run *run = loop_trace_load(0);
    struct ss_process *p = &run->procs[0];
    cr_expect_eq(p->nstalls, 0, "no stall of the worker's stays");
    cr_expect_eq(p->threads[0].loop, 0, "not a loop thread");
    cr_expect_eq(p->threads[0].iterations, 0);
    cr_expect_eq(p->threads[0].hist[ss_hist_bucket(20000)], 0);
    cr_assert_eq(p->nloops, 1);
    cr_expect_eq(p->loops[0].end_reason, SS_LOOP_NOT_A_LOOP);
    ss_run_free(run);

    /* It may loop for real later: its busy times then count afresh. */
    char path[128];
    snprintf(path, sizeof path, "%s/" SS_TRACE_FILE_PREFIX "41" SS_TRACE_FILE_SUFFIX, dir);
    cr_assert_eq(unlink(path), 0);
    loop_trace_open(41);
    begin_loop(41, 1000);
    histogram_of(41, 5);
    end_loop(41, SS_LOOP_NOT_A_LOOP, 0, 400000000);
    begin_loop(41, 500000000);
    histogram_of(41, 2);
    run = loop_trace_load(0);
    cr_expect(run->procs[0].threads[0].loop);
    cr_expect_eq(run->procs[0].threads[0].iterations, 2);
    ss_run_free(run);
}

Test(trace, a_loop_end_without_a_begin_or_a_matching_stall)
{
    loop_trace_open(42);
    announce(42, 100000000, 60000000);
    announce(43, 200000000, 60000000);
    /* Its last stretch began at 200 ms on thread 42: the stall at 100 ms is not it, nor is
     * thread 43's. */
    end_loop(42, SS_LOOP_THREAD_EXIT, 200000000, 300000000);
    struct ss_run *run = loop_trace_load(0);
    struct ss_process *p = &run->procs[0];
    cr_expect_eq(p->nstalls, 2);
    cr_assert_eq(p->nloops, 1);
    cr_expect_eq(p->loops[0].begin_ns, 0, "begin unknown");
    cr_expect_eq(p->loops[0].kind, 0);
    cr_expect_str_eq(p->loops[0].wait, "");
    cr_expect_eq(p->loops[0].end_reason, SS_LOOP_THREAD_EXIT);
    cr_expect_eq(p->loops[0].last.duration_ns, 100000000ull);
    cr_expect_eq(p->loops[0].last.nsamples, 0);
    ss_run_free(run);
}

/* A rotated trace's next file starts with the loop still open, written again: read with the
 * file that began it, it is the same loop, not a second one that replaced it. */
Test(trace, a_loop_written_again_at_a_rotation_is_one_loop)
{
    loop_trace_open(44);
    begin_loop(44, 1000);
    end_stall(44, 100000000, 70000000);
    begin_loop(44, 1000);
    end_stall(44, 300000000, 70000000);
    end_loop(44, SS_LOOP_CLOSED, 500000000, 900000000);
    struct ss_run *run = loop_trace_load(0);
    struct ss_process *p = &run->procs[0];
    cr_assert_eq(p->nloops, 1);
    cr_expect_eq(p->loops[0].begin_ns, 1000);
    cr_expect_eq(p->loops[0].end_reason, SS_LOOP_CLOSED);
    cr_expect_eq(p->nstalls, 2);
    ss_run_free(run);
}

/* The last stretch leaves before the surplus is summarised, and is never summarised itself. */
Test(trace, a_last_stretch_is_never_summarised)
{
    loop_trace_open(44);
    begin_loop(44, 1000);
    const unsigned stalls = 300;
    for (unsigned i = 0; i < stalls; i++) {
        uint64_t start = 100000000ull * (i + 1);
        announce(44, start, 60000000);
        end_stall(44, start, 60000000 + i * 1000);
    }
    uint64_t last = 100000000ull * (stalls + 1);
    announce(44, last, 60000000);
    end_loop(44, SS_LOOP_PROCESS_EXIT, last, last + 5000000000ull);
    struct ss_run *run = loop_trace_load(10);
    struct ss_process *p = &run->procs[0];
    cr_expect_eq(p->nstalls, 10);
    cr_expect_eq(p->summary.stalls, stalls - 10);
    cr_expect_eq(ss_process_stall_count(p, 0), stalls);
    for (size_t i = 0; i < p->nstalls; i++)
        cr_expect_neq(p->stalls[i].start_ns, last);
    cr_assert_eq(p->nloops, 1);
    cr_expect_eq(p->loops[0].last.nsamples, 1);
    cr_expect_eq(p->loops[0].last.duration_ns, 5000000000ull);
    ss_run_free(run);
}

Test(trace, the_latest_pause_of_each_kind_wins)
{
    loop_trace_open(45);
    announce(45, 100000000, 60000000);
    const struct ss_rec_stall_pause pauses[] = {{45, SS_PAUSE_STOPPED, 0, 100000000, 10},
                                                {45, SS_PAUSE_MACHINE, 0, 100000000, 30},
                                                {45, SS_PAUSE_STOPPED, 0, 100000000, 20}};
    for (size_t i = 0; i < 3; i++)
        ss_writer_record(&loop_writer, SS_REC_STALL_PAUSE, &pauses[i], sizeof pauses[i], NULL, 0);
    struct ss_run *run = loop_trace_load(0);
    cr_expect_eq(run->procs[0].stalls[0].stopped_ns, 20);
    cr_expect_eq(run->procs[0].stalls[0].machine_ns, 30);
    ss_run_free(run);
}

static void expect_malformed(uint16_t tag, const void *payload, size_t len)
{
    char path[128];
    snprintf(path, sizeof path, "%s/" SS_TRACE_FILE_PREFIX "46" SS_TRACE_FILE_SUFFIX, dir);
    unlink(path);
    loop_trace_open(46);
    ss_writer_record(&loop_writer, tag, payload, len, NULL, 0);
    ss_writer_close(&loop_writer);
    struct ss_run *run = NULL;
    char err[512] = "";
    cr_expect_eq(ss_run_load(path, &run, err, sizeof err), SS_ECORRUPT, "tag %u, %zu bytes", tag,
                 len);
    cr_expect(strstr(err, "malformed record") != NULL, "%s", err);
}

Test(trace, malformed_loop_and_pause_records_are_refused)
{
    const struct ss_rec_loop_begin begin = {46, SS_LOOP_EPOLL, 0, 3, 0, 1000};
    const struct ss_rec_loop_end end = {46, SS_LOOP_CLOSED, 0, 1000, 2000};
    const struct ss_rec_stall_pause pause = {46, SS_PAUSE_STOPPED, 0, 1000, 10};
    expect_malformed(SS_REC_LOOP_BEGIN, &begin, sizeof begin - 1);
    expect_malformed(SS_REC_LOOP_END, &end, sizeof end - 1);
    expect_malformed(SS_REC_STALL_PAUSE, &pause, sizeof pause - 1);
    struct ss_rec_loop_begin unknown_kind = begin;
    unknown_kind.kind = 9;
    expect_malformed(SS_REC_LOOP_BEGIN, &unknown_kind, sizeof unknown_kind);
    struct ss_rec_loop_end unknown_reason = end;
    unknown_reason.reason = SS_LOOP_PROCESS_EXIT + 1;
    expect_malformed(SS_REC_LOOP_END, &unknown_reason, sizeof unknown_reason);
    unknown_reason.reason = 0;
    expect_malformed(SS_REC_LOOP_END, &unknown_reason, sizeof unknown_reason);
    struct ss_rec_loop_end backwards = end;
    backwards.last_start = backwards.end_ns + 1;
    expect_malformed(SS_REC_LOOP_END, &backwards, sizeof backwards);
    struct ss_rec_stall_pause unknown_pause = pause;
    unknown_pause.kind = 7;
    expect_malformed(SS_REC_STALL_PAUSE, &unknown_pause, sizeof unknown_pause);
}

Test(trace, malformed_task_records_are_refused)
{
    struct {
        struct ss_rec_stall_task r;
        char tail[4];
    } SS_PACKED task = {{46, 2, 2, 1000}, "abcd"};
    expect_malformed(SS_REC_STALL_TASK, &task, sizeof task.r - 1);
    expect_malformed(SS_REC_STALL_TASK, &task, sizeof task - 1);
    task.r.name_len = 0;
    expect_malformed(SS_REC_STALL_TASK, &task, sizeof task);
}

/* One rule names a thread in every output: its name, else its program's file name, else "?". */
Test(trace, thread_label)
{
    struct ss_thread threads[2] = {{.tid = 1, .name = "worker"}, {.tid = 2}};
    char exe[] = "/usr/bin/server";
    struct ss_process p = {.threads = threads, .nthreads = 2, .exe = exe};
    cr_expect_str_eq(ss_thread_label(&p, 1), "worker");
    cr_expect_str_eq(ss_thread_label(&p, 2), "server", "unnamed: the program's file name");
    cr_expect_str_eq(ss_thread_label(&p, 3), "server", "unknown thread");
    p.exe = NULL;
    cr_expect_str_eq(ss_thread_label(&p, 2), "?");
}
