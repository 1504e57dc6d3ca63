/* Bounded loading: a trace with many more stalls than are kept in detail loads the longest
 * ones in full and sums the others up exactly, so that every total equals a load that keeps
 * them all. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/trace-format.h"
#include "model.h"
#include "scratch.h"
#include "stacks/flame.h"
#include "trace-builder.h"
#include "trace/trace-writer.h"

#define THREADS 3
#define STALLS 600
#define STACKS 8

static char dir[64];

static void make_dir(void)
{
    scratch_dir(dir, sizeof dir, "keep");
}

static void remove_dir(void)
{
    scratch_remove(dir);
}

TestSuite(keep, .init = make_dir, .fini = remove_dir);

static void stall_end(struct ss_writer *w, uint32_t tid, uint64_t start, uint64_t duration,
                      unsigned i)
{
    tb_stall_end(w, tid, start, duration);
    if (i % 3 == 0)
        tb_stall_call(
            w,
            (struct ss_rec_stall_call){
                .tid = tid, .stall_id = start, .count = 1 + i % 4, .total_ns = duration / 3},
            i % 2 ? "read" : "fsync");
}

/* Stalls on three threads, interleaved, with durations that often tie, one to three signal
 * samples and sometimes a call sample each. Some stalls end only after their thread's next
 * stall has begun, some lose their end (as when the shim's queue is full), and each thread's
 * last stall is still running when the file ends. */
static void write_trace_of(unsigned stalls)
{
    struct ss_writer w;
    char why[256];
    const uint32_t pid = 5151;
    cr_assert_eq(ss_writer_open(&w, dir, (pid_t)pid, why, sizeof why), 0, "%s", why);
    tb_process(&w,
               (struct ss_rec_process){.pid = pid,
                                       .ppid = 1,
                                       .start_mono_ns = 1000,
                                       .start_real_ns = 2000,
                                       .threshold_ns = 50000000,
                                       .interval_ns = 10000000},
               NULL, NULL, 0);
    for (uint32_t id = 1; id <= STACKS; id++) {
        uint64_t frames[2] = {0x1000 * id, 0x2000};
        tb_stack(&w, id, frames, 2);
    }
    uint64_t t = 1000000000ull;
    struct {
        uint64_t start, duration;
        unsigned i;
    } deferred[THREADS] = {{0, 0, 0}};
    for (unsigned i = 0; i < stalls; i++) {
        uint32_t k = i % THREADS, tid = pid + k;
        uint64_t start = t, duration = 50000000ull + (i * 7919u % 61) * 1000000ull;
        t += duration + 1000000;
        tb_stall_begin(&w, tid, start);
        if (deferred[k].start) {
            stall_end(&w, tid, deferred[k].start, deferred[k].duration, deferred[k].i);
            deferred[k].start = 0;
        }
        for (unsigned s = 0; s < 1 + i % 3; s++)
            tb_sample(&w,
                      (struct ss_rec_sample){.tid = tid,
                                             .stack_id = 1 + (i + s) % STACKS,
                                             .stall_id = start,
                                             .offset_ns = 50000000ull + s * 3000000,
                                             .nframes = 2,
                                             .source = SS_SAMPLE_SIGNAL},
                      NULL);
        if (i % 5 == 0)
            tb_sample(&w,
                      (struct ss_rec_sample){.tid = tid,
                                             .stack_id = 1 + i % 3,
                                             .stall_id = start,
                                             .offset_ns = duration - 1000000,
                                             .nframes = 2,
                                             .source = SS_SAMPLE_CALL,
                                             .call_ns = 2000000},
                      i % 2 ? "read" : "nanosleep");
        if (i + THREADS >= stalls || i % 11 == 0)
            continue;
        if (i % 7 == 0)
            deferred[k].start = start, deferred[k].duration = duration, deferred[k].i = i;
        else
            stall_end(&w, tid, start, duration, i);
    }
    cr_assert_eq(w.unwritten, 0);
    ss_writer_close(&w);
}

static void write_trace(void)
{
    write_trace_of(STALLS);
}

static struct ss_process *load(size_t keep, struct ss_run **run)
{
    char err[512] = "";
    cr_assert_eq(ss_run_load_keep(dir, keep, run, err, sizeof err), 0, "%s", err);
    cr_assert_eq((*run)->nprocs, 1);
    return &(*run)->procs[0];
}

static int by_rank(const void *a, const void *b)
{
    const struct ss_stall *x = *(const struct ss_stall *const *)a;
    const struct ss_stall *y = *(const struct ss_stall *const *)b;
    if (x->duration_ns != y->duration_ns)
        return x->duration_ns < y->duration_ns ? 1 : -1;
    return x->start_ns < y->start_ns ? -1 : x->start_ns > y->start_ns;
}

static int same_stall(const struct ss_stall *x, const struct ss_stall *y)
{
    return x->tid == y->tid && x->start_ns == y->start_ns && x->duration_ns == y->duration_ns &&
           x->in_progress == y->in_progress && x->nsamples == y->nsamples && x->ncalls == y->ncalls;
}

static uint64_t spans_ns(const struct ss_stall *s, uint32_t stack, const char *call)
{
    struct ss_span spans[8];
    cr_assert_leq(s->nsamples, 8);
    uint64_t ns = 0;
    size_t n = ss_stall_spans(s, spans);
    for (size_t i = 0; i < n; i++) {
        const struct ss_sample *smp = spans[i].sample;
        const char *c = smp->source == SS_SAMPLE_CALL ? smp->call : NULL;
        if ((smp->stack ? smp->stack->id : 0) == stack &&
            (c == call || (c && call && !strcmp(c, call))))
            ns += spans[i].end_ns - spans[i].begin_ns;
    }
    return ns;
}

/* Every total of the load that keeps all stalls, from the kept stalls and the summary. */
static void expect_exact(const struct ss_process *all, const struct ss_process *some)
{
    cr_expect_eq(some->nstalls + some->summary.stalls, all->nstalls);
    for (uint32_t tid = 5151; tid < 5151 + THREADS; tid++) {
        uint64_t n[2] = {0}, total[2] = {0}, max[2] = {0}, hist[2][SS_HIST_BUCKETS] = {{0}};
        const struct ss_process *ps[2] = {all, some};
        for (int k = 0; k < 2; k++) {
            for (size_t i = 0; i < ps[k]->nstalls; i++) {
                const struct ss_stall *s = &ps[k]->stalls[i];
                if (s->tid != tid)
                    continue;
                n[k]++;
                total[k] += s->duration_ns;
                max[k] = s->duration_ns > max[k] ? s->duration_ns : max[k];
                hist[k][ss_hist_bucket(s->duration_ns)]++;
            }
        }
        static const struct ss_summary_thread none;
        const struct ss_summary_thread *st = ss_summary_thread(some, tid);
        st = st ? st : &none;
        cr_expect_eq(n[1] + st->stalls, n[0], "stalls of thread %u", tid);
        cr_expect_eq(total[1] + st->total_ns, total[0], "stalled time of thread %u", tid);
        cr_expect_eq(max[1] > st->max_ns ? max[1] : st->max_ns, max[0]);
        for (unsigned b = 0; b < SS_HIST_BUCKETS; b++)
            cr_expect_eq(hist[1][b] + st->hist[b], hist[0][b], "thread %u bucket %u", tid, b);
        cr_expect_eq(ss_process_stall_count(some, tid), n[0]);

        static const char *const functions[] = {"read", "fsync"};
        for (unsigned f = 0; f < 2; f++) {
            uint64_t count[2] = {0}, ns[2] = {0};
            for (int k = 0; k < 2; k++)
                for (size_t i = 0; i < ps[k]->nstalls; i++)
                    for (size_t c = 0; c < ps[k]->stalls[i].ncalls; c++) {
                        const struct ss_stall_call *call = &ps[k]->stalls[i].calls[c];
                        if (ps[k]->stalls[i].tid == tid && !strcmp(call->function, functions[f])) {
                            count[k] += call->count;
                            ns[k] += call->duration_ns;
                        }
                    }
            for (size_t c = 0; c < some->summary.ncalls; c++) {
                const struct ss_summary_call *call = &some->summary.calls[c];
                if (call->tid == tid && !strcmp(call->function, functions[f])) {
                    count[1] += call->count;
                    ns[1] += call->duration_ns;
                }
            }
            cr_expect_eq(count[1], count[0], "%s() calls of thread %u", functions[f], tid);
            cr_expect_eq(ns[1], ns[0], "%s() time of thread %u", functions[f], tid);
        }

        static const char *const calls[] = {NULL, "read", "nanosleep"};
        for (uint32_t stack = 1; stack <= STACKS; stack++) {
            for (unsigned c = 0; c < 3; c++) {
                uint64_t ns[2] = {0};
                for (int k = 0; k < 2; k++)
                    for (size_t i = 0; i < ps[k]->nstalls; i++)
                        if (ps[k]->stalls[i].tid == tid)
                            ns[k] += spans_ns(&ps[k]->stalls[i], stack, calls[c]);
                for (size_t e = 0; e < some->summary.nstacks; e++) {
                    const struct ss_summary_stack *ss = &some->summary.stacks[e];
                    const char *call = ss->sample.call;
                    if (ss->tid == tid && ss->sample.stack->id == stack &&
                        (call == calls[c] || (call && calls[c] && !strcmp(call, calls[c]))))
                        ns[1] += ss->span_ns;
                }
                cr_expect_eq(ns[1], ns[0], "thread %u, stack %u, call %s", tid, stack,
                             calls[c] ? calls[c] : "none");
            }
        }
    }
}

Test(keep, the_longest_are_kept_and_the_rest_summed_exactly)
{
    write_trace();
    struct ss_run *run_all;
    struct ss_process *all = load(0, &run_all);
    cr_assert_eq(all->nstalls, STALLS, "every stall, the reordered ones once");
    cr_expect_eq(all->summary.stalls, 0);
    const struct ss_stall **ranked = malloc(all->nstalls * sizeof *ranked);
    for (size_t i = 0; i < all->nstalls; i++)
        ranked[i] = &all->stalls[i];
    qsort(ranked, all->nstalls, sizeof *ranked, by_rank);
    static const size_t keeps[] = {1, 37, 100, 599};
    for (size_t k = 0; k < sizeof keeps / sizeof keeps[0]; k++) {
        struct ss_run *run;
        struct ss_process *some = load(keeps[k], &run);
        cr_assert_eq(some->nstalls, keeps[k]);
        cr_expect_eq(some->keep_stalls, keeps[k]);
        for (size_t i = 0; i < some->nstalls; i++) {
            size_t r;
            for (r = 0; r < keeps[k] && !same_stall(ranked[r], &some->stalls[i]); r++)
                ;
            cr_expect_lt(r, keeps[k], "kept stall %zu (%u at %llu) is among the %zu longest", i,
                         some->stalls[i].tid, (unsigned long long)some->stalls[i].start_ns,
                         keeps[k]);
            if (i > 0)
                cr_expect_leq(some->stalls[i - 1].start_ns, some->stalls[i].start_ns);
        }
        expect_exact(all, some);
        ss_run_free(run);
    }
    free(ranked);
    ss_run_free(run_all);
}

Test(keep, nothing_is_summarised_below_the_limit)
{
    write_trace();
    struct ss_run *run_all, *run;
    struct ss_process *all = load(0, &run_all), *some = load(STALLS, &run);
    cr_expect_eq(some->summary.stalls, 0);
    cr_expect_eq(some->summary.nthreads + some->summary.ncalls + some->summary.nstacks, 0);
    cr_assert_eq(some->nstalls, all->nstalls);
    for (size_t i = 0; i < all->nstalls; i++)
        cr_expect(same_stall(&all->stalls[i], &some->stalls[i]), "stall %zu", i);
    ss_run_free(run);
    ss_run_free(run_all);
}

/* Names are held once per process, however many stalls use them. */
Test(keep, call_names_are_shared)
{
    write_trace();
    struct ss_run *run;
    struct ss_process *p = load(0, &run);
    const char *read_call = NULL, *read_function = NULL;
    for (size_t i = 0; i < p->nstalls; i++) {
        for (size_t k = 0; k < p->stalls[i].nsamples; k++) {
            const char *c = p->stalls[i].samples[k].call;
            if (c && !strcmp(c, "read")) {
                cr_expect(!read_call || read_call == c);
                read_call = c;
            }
        }
        for (size_t k = 0; k < p->stalls[i].ncalls; k++) {
            const char *f = p->stalls[i].calls[k].function;
            if (!strcmp(f, "read")) {
                cr_expect(!read_function || read_function == f);
                read_function = f;
            }
        }
    }
    cr_expect_not_null(read_call);
    cr_expect_eq(read_call, read_function);
    ss_run_free(run);
}

/* Damaged traces summarise without harm: records of stalls already summarised, ids out of
 * order, lengths that lie. Whatever loads keeps no more stalls than asked. */
Test(keep, damaged_traces_are_summarised_or_refused_cleanly)
{
    write_trace_of(40);
    char *path;
    cr_assert(asprintf(&path, "%s/" SS_TRACE_FILE_PREFIX "5151" SS_TRACE_FILE_SUFFIX, dir) > 0);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    static uint8_t orig[1 << 16], copy[1 << 16];
    size_t len = fread(orig, 1, sizeof orig, f);
    fclose(f);
    cr_assert(len > 0 && len < sizeof orig);
    for (size_t i = SS_TRACE_HEADER_SIZE; i < len; i++) {
        memcpy(copy, orig, len);
        copy[i] ^= 0x81;
        f = fopen(path, "wb");
        cr_assert_not_null(f);
        cr_assert_eq(fwrite(copy, 1, len, f), len);
        fclose(f);
        struct ss_run *run = NULL;
        char err[512];
        if (ss_run_load_keep(path, 2, &run, err, sizeof err) == 0) {
            cr_expect_leq(run->procs[0].nstalls, 2, "byte %zu flipped", i);
            ss_run_free(run);
        }
    }
    free(path);
}
