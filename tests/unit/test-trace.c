/* The shim's trace writer and the core library's reader, against each other and against
 * every truncation and corruption of a trace. The loops' records are in test-trace-loops.c. */
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
    scratch_dir(dir, sizeof dir, "trace");
}

static void remove_dir(void)
{
    scratch_remove(dir);
}

TestSuite(trace, .init = make_dir, .fini = remove_dir);

static const uint64_t frames[3] = {0x401234, 0x401100, 0x7f0000001000};

/* Writes one of each record kind; returns the path of the trace. */
static char *write_trace(pid_t pid)
{
    struct ss_writer w;
    char why[256];
    cr_assert_eq(ss_writer_open(&w, dir, pid, why, sizeof why), 0, "%s", why);
    const char exe[] = "/usr/bin/server", cmd[] = "server\0--port\0"
                                                  "8080";
    const uint32_t tid = (uint32_t)pid;
    tb_process(&w,
               (struct ss_rec_process){.pid = tid,
                                       .ppid = 1,
                                       .start_mono_ns = 1000,
                                       .start_real_ns = 2000,
                                       .threshold_ns = 50000000,
                                       .interval_ns = 10000000},
               exe, cmd, sizeof cmd);
    const uint8_t id[4] = {0xde, 0xad, 0xbe, 0xef};
    struct ss_rec_module m = {.bias = 0x400000,
                              .lo = 0x401000,
                              .hi = 0x402000,
                              .build_id_len = sizeof id,
                              .path_len = sizeof exe - 1};
    ss_writer_record_tails(&w, SS_REC_MODULE, &m, sizeof m, id, sizeof id, exe, sizeof exe - 1);
    tb_thread(&w,
              (struct ss_rec_thread){.tid = tid, .flags = SS_THREAD_LOOP, .first_wait_ns = 1500},
              "main");
    tb_stack(&w, 1, frames, 3);
    tb_stall_begin(&w, tid, 5000);
    tb_sample(&w,
              (struct ss_rec_sample){.tid = tid,
                                     .stack_id = 1,
                                     .stall_id = 5000,
                                     .offset_ns = 50000000,
                                     .capture_ns = 1234,
                                     .nframes = 3,
                                     .source = SS_SAMPLE_SIGNAL},
              NULL);
    tb_sample(&w,
              (struct ss_rec_sample){.tid = tid,
                                     .stack_id = 1,
                                     .stall_id = 5000,
                                     .offset_ns = 90000000,
                                     .capture_ns = 99,
                                     .nframes = 3,
                                     .source = SS_SAMPLE_CALL,
                                     .call_ns = 70000000},
              "nanosleep");
    tb_stall_end(&w, tid, 5000, 95000000);
    struct ss_rec_stall_split sp = {.tid = tid,
                                    .flags = SS_SPLIT_FROM_START,
                                    .stall_id = 5000,
                                    .window_ns = 95000000,
                                    .cpu_ns = 20000000,
                                    .runnable_ns = 1000000};
    ss_writer_record(&w, SS_REC_STALL_SPLIT, &sp, sizeof sp, NULL, 0);
    struct ss_rec_stall_pause pa = {
        .tid = tid, .kind = SS_PAUSE_STOPPED, .stall_id = 5000, .paused_ns = 40000000};
    ss_writer_record(&w, SS_REC_STALL_PAUSE, &pa, sizeof pa, NULL, 0);
    struct ss_rec_stall_task task = {
        .tid = tid, .name_len = 8, .coroutine_len = 12, .stall_id = 5000};
    ss_writer_record_tails(&w, SS_REC_STALL_TASK, &task, sizeof task, "worker\n1", 8,
                           "Server.serve", 12);
    struct ss_rec_loop_begin lb = {.tid = tid, .kind = SS_LOOP_EPOLL, .fd = 3, .at_ns = 1500};
    ss_writer_record(&w, SS_REC_LOOP_BEGIN, &lb, sizeof lb, "epoll_wait", 10);
    struct ss_rec_loop_end le = {.tid = tid, .reason = SS_LOOP_PROCESS_EXIT, .end_ns = 200000000};
    ss_writer_record(&w, SS_REC_LOOP_END, &le, sizeof le, NULL, 0);
    uint64_t buckets[SS_HIST_BUCKETS] = {0};
    buckets[ss_hist_bucket(20000)] = 9;
    buckets[ss_hist_bucket(95000000)] = 1;
    struct ss_rec_histogram h = {.tid = tid,
                                 .nbuckets = SS_HIST_BUCKETS,
                                 .iterations = 10,
                                 .busy_total_ns = 95180000,
                                 .busy_max_ns = 95000000};
    ss_writer_record(&w, SS_REC_HISTOGRAM, &h, sizeof h, buckets, sizeof buckets);
    struct ss_rec_drops d = {
        .events = 1, .samples_failed = 2, .samples_timed_out = 3, .records_unwritten = 4};
    ss_writer_record(&w, SS_REC_DROPS, &d, sizeof d, NULL, 0);
    ss_writer_record(&w, SS_REC_NOTE, "hello", 5, NULL, 0);
    tb_end(&w, 200000000);
    cr_assert_eq(w.unwritten, 0);
    ss_writer_close(&w);
    char *path;
    cr_assert(asprintf(&path, "%s/" SS_TRACE_FILE_PREFIX "%d" SS_TRACE_FILE_SUFFIX, dir, (int)pid) >
              0);
    return path;
}

static struct ss_run *load_ok(const char *path)
{
    struct ss_run *run = NULL;
    char err[512] = "";
    int rc = ss_run_load(path, &run, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    return run;
}

Test(trace, round_trip)
{
    free(write_trace(4242));
    struct ss_run *run = load_ok(dir);
    cr_assert_eq(run->nprocs, 1);
    struct ss_process *p = &run->procs[0];
    cr_expect_eq(p->pid, 4242);
    cr_expect_eq(p->ppid, 1);
    cr_expect_str_eq(p->exe, "/usr/bin/server");
    cr_expect_str_eq(p->command, "server --port 8080");
    cr_expect_eq(p->threshold_ns, 50000000ull);
    cr_expect_eq(p->end_ns, 200000000ull);
    cr_expect_eq(p->truncated, 0);
    cr_assert_eq(p->nmodules, 1);
    cr_expect_eq(p->modules[0].build_id_len, 4);
    cr_expect_eq(p->modules[0].build_id[0], 0xde);
    cr_assert_eq(p->nthreads, 1);
    cr_expect_str_eq(p->threads[0].name, "main");
    cr_expect(p->threads[0].loop);
    cr_expect_eq(p->threads[0].iterations, 10);
    cr_expect_eq(p->threads[0].busy_max_ns, 95000000ull);
    cr_expect_leq(ss_thread_percentile(&p->threads[0], 50), 40000);
    cr_expect_eq(ss_thread_percentile(&p->threads[0], 100), 95000000ull);
    cr_assert_eq(p->nstalls, 1);
    struct ss_stall *s = &p->stalls[0];
    cr_expect_eq(s->duration_ns, 95000000ull);
    cr_expect_eq(s->in_progress, 0);
    cr_expect(s->split_from_start);
    cr_expect_eq(s->split_cpu_ns, 20000000ull);
    cr_expect_eq(s->stopped_ns, 40000000ull);
    cr_expect_eq(s->machine_ns, 0);
    cr_expect_str_eq(s->task_name, "worker?1", "a name's control characters are not printed");
    cr_expect_str_eq(s->task_coroutine, "Server.serve");
    cr_assert_eq(p->nloops, 1);
    cr_expect_eq(p->loops[0].kind, SS_LOOP_EPOLL);
    cr_expect_eq(p->loops[0].fd, 3);
    cr_expect_str_eq(p->loops[0].wait, "epoll_wait");
    cr_expect_eq(p->loops[0].begin_ns, 1500);
    cr_expect_eq(p->loops[0].end_ns, 200000000ull);
    cr_expect_eq(p->loops[0].end_reason, SS_LOOP_PROCESS_EXIT);
    cr_expect_eq(p->loops[0].last.duration_ns, 0, "it ended in its wait");
    cr_assert_eq(s->nsamples, 2);
    cr_assert_not_null(s->samples[0].stack);
    cr_expect_eq(s->samples[0].stack->nframes, 3);
    cr_expect_eq(s->samples[0].stack->addrs[2], frames[2]);
    cr_expect_eq(s->samples[1].stack, s->samples[0].stack, "stacks are stored once");
    cr_expect_str_eq(s->samples[1].call, "nanosleep");
    cr_expect_eq(s->samples[1].call_ns, 70000000ull);
    cr_expect_eq(ss_drops_total(&p->drops), 10);
    cr_assert_eq(p->nnotes, 1);
    cr_expect_str_eq(p->notes[0], "hello");
    ss_run_free(run);
}

/* A trace several times the reader's buffer, with records of up to the largest payload, is
 * read whole: no record is lost or cut where one buffer ends and the next begins (stalls
 * beyond those kept in detail are counted in the summary). */
Test(trace, a_trace_larger_than_the_read_buffer)
{
    struct ss_writer w;
    char why[256];
    pid_t pid = 4343;
    cr_assert_eq(ss_writer_open(&w, dir, pid, why, sizeof why), 0, "%s", why);
    struct ss_rec_process p = {(uint32_t)pid, 1, 1000, 2000, 50000000, 10000000, 0, 0};
    ss_writer_record(&w, SS_REC_PROCESS, &p, sizeof p, NULL, 0);
    struct ss_rec_thread t = {(uint32_t)pid, SS_THREAD_LOOP, 1500};
    ss_writer_record(&w, SS_REC_THREAD, &t, sizeof t, "main", 4);
    static char note[(1u << 20) - 1];
    memset(note, 'n', sizeof note);
    const unsigned stalls = 60000, notes = 3;
    for (unsigned i = 0; i < stalls; i++) {
        uint64_t start = 10000000ull * (i + 1);
        struct ss_rec_stall_begin b = {(uint32_t)pid, 0, start, start};
        ss_writer_record(&w, SS_REC_STALL_BEGIN, &b, sizeof b, NULL, 0);
        struct ss_rec_stall_end e = {(uint32_t)pid, 0, start, start, 60000000};
        ss_writer_record(&w, SS_REC_STALL_END, &e, sizeof e, NULL, 0);
        if (i % (stalls / notes) == stalls / notes / 2)
            ss_writer_record(&w, SS_REC_NOTE, note, sizeof note, NULL, 0);
    }
    cr_assert_eq(w.unwritten, 0);
    ss_writer_close(&w);
    struct ss_run *run = load_ok(dir);
    cr_assert_eq(run->nprocs, 1);
    cr_expect_eq(run->procs[0].truncated, 0);
    cr_expect_eq(ss_process_stall_count(&run->procs[0], 0), stalls);
    cr_assert_eq(run->procs[0].nnotes, notes);
    cr_expect_eq(strlen(run->procs[0].notes[notes - 1]), sizeof note);
    ss_run_free(run);
}

Test(trace, stall_without_end_is_in_progress)
{
    struct ss_writer w;
    char why[256];
    cr_assert_eq(ss_writer_open(&w, dir, 7, why, sizeof why), 0, "%s", why);
    struct ss_rec_process p = {7, 1, 0, 0, 50000000, 10000000, 0, 0};
    ss_writer_record(&w, SS_REC_PROCESS, &p, sizeof p, NULL, 0);
    struct ss_rec_stall_begin b = {7, 0, 1000, 1000};
    ss_writer_record(&w, SS_REC_STALL_BEGIN, &b, sizeof b, NULL, 0);
    struct ss_rec_sample s = {7, 0, 1000, 80000000, 0, 0, SS_SAMPLE_SIGNAL, 0};
    ss_writer_record(&w, SS_REC_SAMPLE, &s, sizeof s, NULL, 0);
    ss_writer_close(&w);
    struct ss_run *run = load_ok(dir);
    cr_assert_eq(run->procs[0].nstalls, 1);
    cr_expect(run->procs[0].stalls[0].in_progress);
    cr_expect_eq(run->procs[0].stalls[0].duration_ns, 80000000ull, "as long as observed");
    cr_expect_null(run->procs[0].stalls[0].samples[0].stack, "a failed capture has no stack");
    ss_run_free(run);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    static uint8_t buf[1 << 16];
    *len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return buf;
}

static void put(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

Test(trace, every_truncation_is_read_or_refused_cleanly)
{
    char *path = write_trace(11);
    size_t len;
    uint8_t *orig = slurp(path, &len);
    uint8_t copy[1 << 16];
    memcpy(copy, orig, len);
    for (size_t cut = 0; cut < len; cut++) {
        put(path, copy, cut);
        struct ss_run *run = NULL;
        char err[512] = "";
        int rc = ss_run_load(path, &run, err, sizeof err);
        if (rc == 0) {
            cr_expect(cut >= SS_TRACE_HEADER_SIZE);
            ss_run_free(run);
        } else {
            cr_expect(rc == SS_EBADMAGIC || rc == SS_ECORRUPT, "cut %zu: %s", cut, err);
            cr_expect_neq(err[0], '\0', "a refusal says why");
        }
    }
    free(path);
}

Test(trace, a_cut_record_marks_the_process_truncated)
{
    char *path = write_trace(12);
    size_t len;
    uint8_t *data = slurp(path, &len);
    put(path, data, len - 3);
    struct ss_run *run = load_ok(path);
    cr_expect(run->procs[0].truncated);
    cr_expect_eq(run->procs[0].end_ns, 0, "the END record was the one cut");
    ss_run_free(run);
    free(path);
}

Test(trace, every_corrupted_byte_is_survived)
{
    char *path = write_trace(13);
    size_t len;
    uint8_t *orig = slurp(path, &len);
    uint8_t copy[1 << 16];
    for (size_t i = 0; i < len; i++) {
        static const uint8_t flips[] = {0xff, 0x80, 0x01};
        for (size_t f = 0; f < sizeof flips; f++) {
            memcpy(copy, orig, len);
            copy[i] ^= flips[f];
            put(path, copy, len);
            struct ss_run *run = NULL;
            char err[512] = "";
            int rc = ss_run_load(path, &run, err, sizeof err);
            if (rc == 0) {
                cr_assert_not_null(run, "byte %zu ^ 0x%02x: loaded, but no run", i, flips[f]);
                for (size_t k = 0; k < run->nprocs; k++)
                    ss_process_symbolize(run, &run->procs[k]);
                ss_run_free(run);
                continue;
            }
            cr_assert_lt(rc, 0, "byte %zu ^ 0x%02x: returned %d", i, flips[f], rc);
            cr_assert_str_neq(ss_strerror(rc), "unknown error",
                              "byte %zu ^ 0x%02x: %d is no error code", i, flips[f], rc);
            cr_assert_neq(err[0], '\0', "byte %zu ^ 0x%02x: %s without a message", i, flips[f],
                          ss_strerror(rc));
        }
    }
    free(path);
}

/* One convention: -errno where the system names the failure, the project's own codes beyond
 * every errno value, one function to name both. */
Test(trace, error_codes_name_themselves)
{
    cr_expect_str_eq(ss_strerror(-ENOENT), "No such file or directory");
    cr_expect_str_eq(ss_strerror(-ENOMEM), "Cannot allocate memory");
    cr_expect_str_eq(ss_strerror(SS_ECORRUPT), "corrupt trace");
    cr_expect_str_eq(ss_strerror(SS_ENOTRACE), "no trace files found");
    cr_expect_str_eq(ss_strerror(0), "success");
    cr_expect_str_eq(ss_strerror(-SS_ERROR_BASE - 99), "unknown error");
    int own[] = {SS_ENOTRACE, SS_EBADMAGIC, SS_EVERSION, SS_ECORRUPT};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        cr_expect_lt(own[i], -4095, "code %d collides with an errno value", own[i]);
}

Test(trace, refusals)
{
    struct ss_run *run;
    char err[512];
    cr_expect_eq(ss_run_load("/nonexistent/stallscope", &run, err, sizeof err), -ENOENT);
    cr_expect_eq(ss_run_load(dir, &run, err, sizeof err), SS_ENOTRACE);
    cr_expect(strstr(err, "no trace files") != NULL, "%s", err);
    char *path = write_trace(14);
    size_t len;
    uint8_t *data = slurp(path, &len);
    uint32_t version = SS_TRACE_VERSION + 1;
    memcpy(data + 8, &version, 4);
    put(path, data, len);
    cr_expect_eq(ss_run_load(path, &run, err, sizeof err), SS_EVERSION);
    put(path, (const uint8_t *)"hello world, not a trace", 24);
    cr_expect_eq(ss_run_load(path, &run, err, sizeof err), SS_EBADMAGIC);
    free(path);
}

/* A stack's id is a key, not a size: a trace of a few records whose ids are near 2^32 loads in
 * memory that follows its records (a reader that sized a table by the largest id asked for
 * gigabytes), every sample finds its stack, and an id given twice is refused. */
Test(trace, stack_ids_are_keys_not_sizes)
{
    struct ss_writer w;
    char why[256];
    cr_assert_eq(ss_writer_open(&w, dir, 77, why, sizeof why), 0, "%s", why);
    tb_process(&w, (struct ss_rec_process){.pid = 77, .threshold_ns = 50000000}, "/bin/x", "x", 1);
    const uint32_t ids[] = {UINT32_MAX, 1u << 26, (1u << 26) + 1, 2};
    for (size_t i = 0; i < 4; i++)
        tb_stack(&w, ids[i], frames + (i % 3), 1);
    tb_stall_begin(&w, 77, 5000);
    for (size_t i = 0; i < 4; i++)
        tb_sample(&w,
                  (struct ss_rec_sample){
                      .tid = 77, .stack_id = ids[i], .stall_id = 5000, .offset_ns = 60000000},
                  NULL);
    tb_stall_end(&w, 77, 5000, 70000000);
    tb_end(&w, 80000000);
    ss_writer_close(&w);
    struct ss_run *run = load_ok(dir);
    struct ss_process *p = &run->procs[0];
    cr_expect_eq(p->nstacks, 4, "one entry per stack record");
    cr_assert_eq(p->nstalls, 1);
    cr_assert_eq(p->stalls[0].nsamples, 4);
    for (size_t i = 0; i < 4; i++) {
        const struct ss_stack *st = p->stalls[0].samples[i].stack;
        cr_assert_not_null(st, "sample %zu lost its stack", i);
        cr_expect_eq(st->id, ids[i]);
        cr_expect_eq(st->addrs[0], frames[i % 3]);
    }
    ss_run_free(run);

    char *path;
    cr_assert(asprintf(&path, "%s/" SS_TRACE_FILE_PREFIX "77" SS_TRACE_FILE_SUFFIX, dir) > 0);
    unlink(path);
    free(path);
    cr_assert_eq(ss_writer_open(&w, dir, 77, why, sizeof why), 0, "%s", why);
    tb_process(&w, (struct ss_rec_process){.pid = 77, .threshold_ns = 50000000}, "/bin/x", "x", 1);
    tb_stack(&w, 9, frames, 1);
    tb_stack(&w, 9, frames + 1, 1);
    ss_writer_close(&w);
    char err[512] = "";
    cr_expect_eq(ss_run_load(dir, &run, err, sizeof err), SS_ECORRUPT, "%s", err);
}

/* A STALL_SPLIT of an earlier writer (40 bytes, no fault count; 48, no throttling) reads as not
 * measured for what it lacks, whatever its flags say; what it has is read. */
Test(trace, stall_splits_with_and_without_major_faults)
{
    struct ss_writer w;
    char why[256];
    cr_assert_eq(ss_writer_open(&w, dir, 78, why, sizeof why), 0, "%s", why);
    tb_process(&w, (struct ss_rec_process){.pid = 78, .threshold_ns = 50000000}, "/bin/x", "x", 1);
    for (uint64_t start = 1000; start <= 2000; start += 1000) {
        tb_stall_begin(&w, 78, start);
        tb_stall_end(&w, 78, start, 90000000);
    }
    struct ss_rec_stall_split old = {
        .tid = 78, .flags = SS_SPLIT_FAULTS, .stall_id = 1000, .window_ns = 40000000};
    ss_writer_record(&w, SS_REC_STALL_SPLIT, &old, SS_REC_STALL_SPLIT_MIN_SIZE, NULL, 0);
    struct ss_rec_stall_split now = {.tid = 78,
                                     .flags = SS_SPLIT_FAULTS | SS_SPLIT_THROTTLED,
                                     .stall_id = 2000,
                                     .window_ns = 40000000,
                                     .major_faults = 812};
    ss_writer_record(&w, SS_REC_STALL_SPLIT, &now, SS_REC_STALL_SPLIT_FAULTS_SIZE, NULL, 0);
    tb_end(&w, 80000000);
    ss_writer_close(&w);
    struct ss_run *run = load_ok(dir);
    struct ss_process *p = &run->procs[0];
    cr_assert_eq(p->nstalls, 2);
    cr_expect_eq(p->stalls[0].split_window_ns, 40000000);
    cr_expect_not(p->stalls[0].faults_known, "a 40-byte split has no fault count");
    cr_expect(p->stalls[1].faults_known);
    cr_expect_eq(p->stalls[1].major_faults, 812);
    cr_expect_not(p->stalls[1].throttled_known, "a 48-byte split has no throttling figure");
    ss_run_free(run);
}

Test(trace, writer_never_overwrites)
{
    char *first = write_trace(15);
    char *second = write_trace(15);
    struct stat st;
    char other[256];
    snprintf(other, sizeof other, "%s/" SS_TRACE_FILE_PREFIX "15.1" SS_TRACE_FILE_SUFFIX, dir);
    cr_expect_eq(stat(other, &st), 0, "the second trace of a pid gets its own file");
    cr_expect_eq(st.st_mode & 0777, 0600, "traces are private");
    free(first);
    free(second);
}

Test(trace, writer_refuses_a_planted_symlink)
{
    char target[128], link[128];
    snprintf(target, sizeof target, "%s/victim", dir);
    snprintf(link, sizeof link, "%s/" SS_TRACE_FILE_PREFIX "16" SS_TRACE_FILE_SUFFIX, dir);
    put(target, (const uint8_t *)"keep", 4);
    cr_assert_eq(symlink(target, link), 0);
    struct ss_writer w;
    char why[256];
    cr_assert_eq(ss_writer_open(&w, dir, 16, why, sizeof why), 0, "%s", why);
    ss_writer_close(&w);
    size_t len;
    uint8_t *data = slurp(target, &len);
    cr_expect_eq(len, 4);
    cr_expect_eq(memcmp(data, "keep", 4), 0, "the link's target is untouched");
}

/* The one rule for paths others may plant (private-files.h): each refusal names its reason, and
 * the writer's message says it. */
Test(trace, private_paths_refuse_links_and_non_files)
{
    char file[128], link[128], fifo[128];
    snprintf(file, sizeof file, "%s/own", dir);
    snprintf(link, sizeof link, "%s/link", dir);
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    put(file, (const uint8_t *)"mine", 4);
    cr_assert_eq(symlink(file, link), 0);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    int fd = ss_open_private(file, O_RDONLY | O_NONBLOCK, geteuid(), NULL);
    cr_expect_geq(fd, 0, "%s", ss_strerror(fd));
    if (fd >= 0)
        close(fd);
    cr_expect_eq(ss_open_private(link, O_RDONLY | O_NONBLOCK, geteuid(), NULL), SS_ESYMLINK);
    cr_expect_eq(ss_open_private(fifo, O_RDONLY | O_NONBLOCK, geteuid(), NULL), SS_ENOTFILE);
    cr_expect_eq(ss_open_private(file, O_RDONLY | O_DIRECTORY, geteuid(), NULL), -ENOTDIR);
    cr_expect_eq(ss_open_private(dir, O_RDONLY | O_NONBLOCK, geteuid(), NULL), SS_ENOTFILE);
    cr_expect(ss_private_refused(SS_ESYMLINK) && !ss_private_refused(-ENOENT));

    char run_link[128], why[256];
    struct ss_writer w;
    snprintf(run_link, sizeof run_link, "%s/run-link", dir);
    cr_assert_eq(symlink(dir, run_link), 0);
    cr_expect_eq(ss_writer_open(&w, run_link, 17, why, sizeof why), -EPERM);
    cr_expect(strstr(why, "it is a symbolic link"), "%s", why);
}

/* Regression: the header once lived in the first write buffer and was lost with it. Records
 * the file system refuses are counted, and the file stays readable up to what was written. */
Test(trace, refused_writes_are_counted_and_the_file_stays_readable)
{
    struct ss_writer w;
    char why[256];
    cr_assert_eq(ss_writer_open(&w, dir, 21, why, sizeof why), 0, "%s", why);
    /* The file may not grow: writes fail with EFBIG (SIGXFSZ ignored). */
    struct rlimit unlimited, none = {0, 0};
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &unlimited), 0);
    none.rlim_max = unlimited.rlim_max;
    none.rlim_cur = SS_TRACE_HEADER_SIZE;
    signal(SIGXFSZ, SIG_IGN);
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &none), 0);
    struct ss_rec_note_probe {
        uint64_t x;
    } probe = {1};
    ss_writer_record(&w, SS_REC_NOTE, &probe, sizeof probe, NULL, 0);
    ss_writer_flush(&w);
    cr_expect_eq(w.unwritten, 1, "the refused record is counted");
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &unlimited), 0);
    struct ss_rec_process p = {21, 1, 0, 0, 50000000, 10000000, 0, 0};
    ss_writer_record(&w, SS_REC_PROCESS, &p, sizeof p, NULL, 0);
    struct ss_rec_drops d = {.records_unwritten = w.unwritten};
    ss_writer_record(&w, SS_REC_DROPS, &d, sizeof d, NULL, 0);
    ss_writer_close(&w);
    struct ss_run *run = load_ok(dir);
    cr_expect_eq(run->procs[0].pid, 21);
    cr_expect_eq(run->procs[0].drops.records_unwritten, 1, "the loss is in the trace");
    ss_run_free(run);
}

/* Regression: a process that has just created its trace (header only) made the whole run
 * directory unreadable until its first records were written. */
Test(trace, a_starting_process_does_not_hide_the_run)
{
    free(write_trace(31));
    struct ss_writer w;
    char why[256];
    cr_assert_eq(ss_writer_open(&w, dir, 32, why, sizeof why), 0, "%s", why);
    struct ss_run *run = load_ok(dir);
    size_t nprocs = run->nprocs;
    uint32_t pid = run->procs[0].pid;
    ss_run_free(run);
    ss_writer_forget(&w);
    cr_expect_eq(nprocs, 1, "the starting process is left out");
    cr_expect_eq(pid, 31);
    char path[128];
    snprintf(path, sizeof path, "%s/" SS_TRACE_FILE_PREFIX "32" SS_TRACE_FILE_SUFFIX, dir);
    struct ss_run *single;
    char err[256];
    cr_expect_eq(ss_run_load(path, &single, err, sizeof err), SS_ECORRUPT,
                 "named alone, it is still refused");
}
