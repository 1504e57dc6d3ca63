/* gen-trace: writes a synthetic trace of STALLS stalls with the monitor's trace writer, to time
 * the analysis side (report, export) on runs far larger than a test can record, and to test
 * that such runs load with bounded memory (tests/cli/keep-stalls.sh).
 *
 *   gen-trace DIR STALLS
 *
 * The trace looks like a busy server's: 4 loop threads, 512 distinct stacks of 8 to 23
 * frames, 1 to 3 signal samples per stall, a time split for each, a blocking call in one
 * stall of four (with the sample taken when it returned), 64 call sites, and histograms,
 * drops and call sites rewritten every 1000 stalls as the monitor rewrites them every
 * flush. The frames are real addresses of this
 * program and of the C library, with the module map of this process, so symbolization does
 * the work it does on a real trace. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/trace-format.h"
#include "random.h"
#include "trace/trace-writer.h"

#define THREADS 4
#define STACKS 512
#define SITES 64

static struct ss_writer out;

static int emit_module(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    uint64_t lo, hi;
    ss_writer_module(&out, info, &lo, &hi);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3 || atol(argv[2]) <= 0) {
        fprintf(stderr, "usage: gen-trace DIR STALLS\n");
        return 2;
    }
    long stalls = atol(argv[2]);
    char why[256];
    pid_t pid = getpid();
    if (ss_writer_open(&out, argv[1], pid, why, sizeof why) < 0) {
        fprintf(stderr, "gen-trace: %s\n", why);
        return 1;
    }
    char exe[4096];
    ssize_t exe_len = readlink("/proc/self/exe", exe, sizeof exe);
    const char cmd[] = "server\0--port\0008080";
    uint64_t t = 1000000000000ull;
    struct ss_rec_process p = {(uint32_t)pid,
                               1,
                               t,
                               1700000000000000000ull,
                               50000000,
                               10000000,
                               (uint32_t)(exe_len > 0 ? exe_len : 0),
                               sizeof cmd};
    ss_writer_record_tails(&out, SS_REC_PROCESS, &p, sizeof p, exe, p.exe_len, cmd, sizeof cmd);
    dl_iterate_phdr(emit_module, NULL);

    /* Frames: addresses inside functions of the C library and of this program. */
    static const char *const names[] = {"malloc", "free",       "qsort",       "memcpy",
                                        "strlen", "printf",     "fwrite",      "read",
                                        "write",  "epoll_wait", "getaddrinfo", "pthread_mutex_lock",
                                        "strtol", "bsearch",    "realloc"};
    uint64_t funcs[sizeof names / sizeof names[0] + 2];
    unsigned nfuncs = 0;
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++) {
        void *f = dlsym(RTLD_DEFAULT, names[i]);
        if (f)
            funcs[nfuncs++] = (uint64_t)(uintptr_t)f;
    }
    funcs[nfuncs++] = (uint64_t)(uintptr_t)&main;
    funcs[nfuncs++] = (uint64_t)(uintptr_t)&emit_module;
    for (uint32_t id = 1; id <= STACKS; id++) {
        uint64_t frames[24];
        uint32_t n = 8 + (uint32_t)(bench_random() % 16);
        for (uint32_t k = 0; k < n; k++)
            frames[k] = funcs[bench_random() % nfuncs] + 4 + bench_random() % 24;
        struct ss_rec_stack st = {id, n};
        ss_writer_record(&out, SS_REC_STACK, &st, sizeof st, frames, n * sizeof frames[0]);
    }
    for (uint32_t k = 0; k < THREADS; k++) {
        struct ss_rec_thread th = {(uint32_t)pid + k, SS_THREAD_LOOP, t};
        ss_writer_record(&out, SS_REC_THREAD, &th, sizeof th, "worker", 6);
    }

    uint64_t hist[THREADS][SS_HIST_BUCKETS] = {{0}}, iterations[THREADS] = {0};
    uint64_t busy[THREADS] = {0}, busy_max[THREADS] = {0};
    struct ss_rec_call_site sites[SITES];
    memset(sites, 0, sizeof sites);
    for (long i = 0; i < stalls; i++) {
        uint32_t k = (uint32_t)(i % THREADS), tid = (uint32_t)pid + k;
        uint64_t duration = 50000000ull + bench_random() % 1950000000ull;
        t += 1000000 + bench_random() % 5000000;
        struct ss_rec_stall_begin b = {tid, 0, t, t};
        ss_writer_record(&out, SS_REC_STALL_BEGIN, &b, sizeof b, NULL, 0);
        unsigned nsamples = 1 + (unsigned)(i % 3);
        for (unsigned s = 0; s < nsamples; s++) {
            struct ss_rec_sample smp = {tid,
                                        1 + (uint32_t)(bench_random() % STACKS),
                                        t,
                                        50000000ull + s * 10000000ull,
                                        12000,
                                        0,
                                        SS_SAMPLE_SIGNAL,
                                        0};
            smp.nframes = 12;
            ss_writer_record(&out, SS_REC_SAMPLE, &smp, sizeof smp, NULL, 0);
        }
        if (i % 4 == 0) {
            struct ss_rec_sample smp = {tid,
                                        1 + (uint32_t)(bench_random() % STACKS),
                                        t,
                                        duration - 1000000,
                                        9000,
                                        12,
                                        SS_SAMPLE_CALL,
                                        duration / 2};
            ss_writer_record(&out, SS_REC_SAMPLE, &smp, sizeof smp, "read", 4);
            struct ss_rec_stall_call c = {tid, 0 /* file */, 0, t, 1, duration / 2};
            ss_writer_record(&out, SS_REC_STALL_CALL, &c, sizeof c, "read", 4);
            struct ss_rec_call_site *site = &sites[i / 4 % SITES];
            site->tid = tid;
            site->site_id = (uint32_t)(i / 4 % SITES) + 1;
            site->stack_id = site->site_id;
            site->count++;
            site->total_ns += duration / 2;
            site->max_ns = duration / 2 > site->max_ns ? duration / 2 : site->max_ns;
            site->first_ns = site->first_ns ? site->first_ns : t;
        }
        struct ss_rec_stall_end e = {tid, 0, t, t, duration};
        ss_writer_record(&out, SS_REC_STALL_END, &e, sizeof e, NULL, 0);
        struct ss_rec_stall_split sp = {.tid = tid,
                                        .stall_id = t,
                                        .window_ns = duration - 50000000ull,
                                        .cpu_ns = duration / 2,
                                        .runnable_ns = 1000000};
        ss_writer_record(&out, SS_REC_STALL_SPLIT, &sp, sizeof sp, NULL, 0);
        hist[k][ss_hist_bucket(duration)]++;
        hist[k][ss_hist_bucket(20000)] += 1000;
        iterations[k] += 1001;
        busy[k] += duration + 1000 * 20000;
        busy_max[k] = duration > busy_max[k] ? duration : busy_max[k];
        t += duration;
        if ((i + 1) % 1000 == 0 || i + 1 == stalls) {
            for (uint32_t h = 0; h < THREADS; h++) {
                struct ss_rec_histogram rec = {(uint32_t)pid + h, SS_HIST_BUCKETS, iterations[h],
                                               busy[h], busy_max[h]};
                ss_writer_record(&out, SS_REC_HISTOGRAM, &rec, sizeof rec, hist[h], sizeof hist[h]);
            }
            for (unsigned s = 0; s < SITES; s++) {
                if (!sites[s].count)
                    continue;
                sites[s].function_len = 4;
                sites[s].detail_len = 20;
                ss_writer_record_tails(&out, SS_REC_CALL_SITE, &sites[s], sizeof sites[s], "read",
                                       4, "/srv/data/config.json", 20);
            }
            struct ss_rec_drops d = {0};
            ss_writer_record(&out, SS_REC_DROPS, &d, sizeof d, NULL, 0);
            ss_writer_flush(&out);
        }
    }
    struct ss_rec_end end = {t};
    ss_writer_record(&out, SS_REC_END, &end, sizeof end, NULL, 0);
    int lost = out.unwritten != 0;
    ss_writer_close(&out);
    if (lost) {
        fprintf(stderr, "gen-trace: records were not written\n");
        return 1;
    }
    return 0;
}
