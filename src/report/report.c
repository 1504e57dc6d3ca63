#include "report/report.h"

#include <stdlib.h>
#include <string.h>

#include "causes/causes.h"
#include "common/options.h"
#include "errors.h"
#include "stacks/frames.h"

void ss_report_defaults(struct ss_report_options *o)
{
    o->top = 5;
    o->depth = 16;
    o->frames = SS_FRAMES_ALL;
    o->advice = 1;
}

void ss_run_totals(const struct ss_run *run, struct ss_run_totals *t)
{
    memset(t, 0, sizeof *t);
    t->processes = run->nprocs;
    for (size_t i = 0; i < run->nprocs; i++) {
        const struct ss_process *p = &run->procs[i];
        for (size_t k = 0; k < p->nthreads; k++)
            t->loop_threads += p->threads[k].loop;
        t->stalls += ss_process_stall_count(p, 0);
        t->dropped += ss_drops_total(&p->drops);
        t->untraced += p->nuntraced;
        for (size_t k = 0; k < p->nstalls; k++) {
            if (!t->worst || p->stalls[k].duration_ns > t->worst->duration_ns) {
                t->worst = &p->stalls[k];
                t->worst_process = p;
            }
        }
    }
}

static void duration(uint64_t ns, char *buf, size_t size)
{
    ss_format_duration(ns, buf, size);
}

static void print_threads(FILE *out, const struct ss_process *p)
{
    fprintf(out, "  loop threads:\n    %-8s %-16s %10s %9s %9s %9s %7s\n", "TID", "NAME",
            "ITERATIONS", "P50", "P99", "MAX", "STALLS");
    for (size_t i = 0; i < p->nthreads; i++) {
        const struct ss_thread *t = &p->threads[i];
        char p50[32], p99[32], max[32];
        if (!t->loop)
            continue;
        uint64_t stalls = ss_process_stall_count(p, t->tid);
        if (t->iterations == 0) {
            /* No iteration has ended yet: there is nothing to take percentiles of. */
            strcpy(p50, "-");
            strcpy(p99, "-");
            strcpy(max, "-");
        } else {
            duration(ss_thread_percentile(t, 50), p50, sizeof p50);
            duration(ss_thread_percentile(t, 99), p99, sizeof p99);
            duration(t->busy_max_ns, max, sizeof max);
        }
        fprintf(out, "    %-8u %-16s %10llu %9s %9s %9s %7llu\n", t->tid, t->name,
                (unsigned long long)t->iterations, p50, p99, max, (unsigned long long)stalls);
    }
}

static void print_hidden(FILE *out, uint32_t hidden)
{
    if (hidden)
        fprintf(out, "          [%u runtime frame%s]\n", hidden, hidden == 1 ? "" : "s");
}

static void print_stack(FILE *out, const struct ss_stack *st, size_t depth,
                        enum ss_frames_shown shown)
{
    char name[512], where[320];
    uint32_t i, printed = 0, hidden = 0;
    for (i = 0; i < st->nframes && printed < depth; i++) {
        const struct ss_frame *f = &st->frames[i];
        if (!ss_frame_shown(st, i, shown)) {
            hidden++;
            continue;
        }
        print_hidden(out, hidden);
        hidden = 0;
        ss_frame_display_name(f, name, sizeof name);
        ss_frame_file_line(f, where, sizeof where);
        fprintf(out, "          %-60s %s%s%s\n", name, f->module ? ss_basename(f->module) : "",
                where[0] && f->module ? " " : "", where);
        printed++;
    }
    print_hidden(out, hidden);
    if (i < st->nframes)
        fprintf(out, "          ... %u more frames\n", st->nframes - i);
}

static int by_duration(const void *a, const void *b)
{
    const struct ss_stall *x = *(const struct ss_stall *const *)a;
    const struct ss_stall *y = *(const struct ss_stall *const *)b;
    if (x->duration_ns != y->duration_ns)
        return x->duration_ns < y->duration_ns ? 1 : -1;
    return x->start_ns < y->start_ns ? -1 : x->start_ns > y->start_ns;
}

static uint64_t since_start(const struct ss_process *p, uint64_t ns)
{
    return ns > p->start_mono_ns ? ns - p->start_mono_ns : 0;
}

/* Where a stall still running was at its latest sample, when that was inside a call: a server
 * deadlocked on a lock is diagnosed while it hangs. */
static void print_still_blocked(FILE *out, const struct ss_stall *s)
{
    const struct ss_sample *latest = ss_stall_still_blocked(s);
    char d[32];
    if (!latest)
        return;
    if (latest->source == SS_SAMPLE_SYSCALL) {
        duration(latest->offset_ns, d, sizeof d);
        fprintf(out, "       inside the system call %s at the last sample (+%s), still blocked\n",
                latest->call, d);
    } else if (latest->call_ns) {
        duration(latest->call_ns, d, sizeof d);
        fprintf(out, "       blocked in %s() for %s, still blocked\n", latest->call, d);
    } else {
        fprintf(out, "       blocked in %s(), still blocked\n", latest->call);
    }
}

/* Time the stall's thread could not run for reasons outside its code. */
static void print_pauses(FILE *out, const struct ss_stall *s)
{
    const struct {
        uint64_t ns;
        const char *what, *why;
    } pauses[] = {
        {s->stopped_ns, "the process was stopped", "a signal, a debugger or a frozen cgroup"},
        {s->machine_ns, "the machine was paused", "a suspended virtual machine?"},
    };
    for (size_t i = 0; i < sizeof pauses / sizeof pauses[0]; i++) {
        if (!pauses[i].ns)
            continue;
        char d[32];
        duration(pauses[i].ns, d, sizeof d);
        fprintf(out, "       %s for %s of it (%s): not the code's doing\n", pauses[i].what, d,
                pauses[i].why);
    }
}

static unsigned percent(uint64_t part, uint64_t whole)
{
    return whole ? (unsigned)((part * 100 + whole / 2) / whole) : 0;
}

/* "cause: cpu:json 62% (JsonParser::ParseJson), starved 8%"; parts under 1% are left out. */
static void print_stall_cause(FILE *out, const struct ss_process *p, const struct ss_stall *s)
{
    struct ss_stall_cause c;
    ss_stall_cause(p, s, &c);
    fprintf(out, "       cause:");
    for (size_t i = 0; i < c.nparts; i++) {
        unsigned pc = percent(c.parts[i].ns, s->duration_ns);
        if (i > 0 && pc == 0)
            continue;
        fprintf(out, "%s %s %u%%", i ? "," : "", c.parts[i].name, pc);
        if (c.parts[i].where[0])
            fprintf(out, " (%s)", c.parts[i].where);
    }
    if (c.missing)
        fprintf(out, ": %s", c.missing);
    fputc('\n', out);
}

/* Where a process's stalled time went, by cause, and what to do about each. */
static void print_diagnosis(FILE *out, const struct ss_run *run, const struct ss_process *p,
                            const struct ss_report_options *o)
{
    struct ss_cause_total totals[SS_CAUSE_TOTALS_MAX];
    size_t n = ss_process_causes(p, totals, SS_CAUSE_TOTALS_MAX);
    uint64_t all = 0;
    for (size_t i = 0; i < n; i++)
        all += totals[i].part.ns;
    if (!n || !all)
        return;
    fprintf(out, "  where the stalled time went%s:\n",
            p->summary.stalls ? " (the stalls kept in detail)" : "");
    for (size_t i = 0; i < n; i++) {
        const struct ss_cause_total *t = &totals[i];
        if (i > 0 && percent(t->part.ns, all) == 0)
            continue;
        char d[32];
        duration(t->part.ns, d, sizeof d);
        fprintf(out, "    %3u%%  %-22s %9s in %zu stall%s", percent(t->part.ns, all), t->part.name,
                d, t->stalls, t->stalls == 1 ? "" : "s");
        fprintf(out, t->part.where[0] ? ", most in %s\n" : "\n", t->part.where);
    }
    if (!o->advice || !run->causes)
        return;
    const char *runtime = ss_process_runtime(p);
    for (size_t i = 0; i < n; i++) {
        const char *advice = ss_cause_advice(run->causes, totals[i].part.name, runtime);
        if (advice && percent(totals[i].part.ns, all) > 0)
            fprintf(out, "  advice, %s: %s\n", totals[i].part.name, advice);
    }
}

/* What a stall, or a loop's last stretch, did: its calls, pauses, CPU split and stacks. */
static void print_stall_body(FILE *out, const struct ss_stall *s, const struct ss_report_options *o)
{
    char d[32];
    if (s->task_name)
        fprintf(out, "       asyncio task %s%s%s\n", s->task_name,
                s->task_coroutine ? ", coroutine " : "",
                s->task_coroutine ? s->task_coroutine : "");
    print_pauses(out, s);
    for (size_t i = 0; i < s->ncalls; i++) {
        const struct ss_stall_call *c = &s->calls[i];
        duration(c->duration_ns, d, sizeof d);
        fprintf(out, "       blocked in %s() for %s (%s, %llu call%s)\n", c->function, d,
                c->category, (unsigned long long)c->count, c->count == 1 ? "" : "s");
    }
    if (s->split_window_ns) {
        char window[32], cpu[32], runnable[32];
        duration(s->split_window_ns, window, sizeof window);
        duration(s->split_cpu_ns, cpu, sizeof cpu);
        duration(s->split_runnable_ns, runnable, sizeof runnable);
        fprintf(out, "       in the %s %s: %s on CPU, %s waiting for a CPU", window,
                s->split_from_start ? "from its start" : "after it was detected", cpu, runnable);
        if (s->faults_known && s->major_faults)
            fprintf(out, ", %llu major page fault%s", (unsigned long long)s->major_faults,
                    s->major_faults == 1 ? "" : "s");
        fputc('\n', out);
        char why[96];
        if (ss_starved_why(s, why, sizeof why))
            fprintf(out, "       waiting for a CPU: %s\n", why);
    }
    struct ss_stack_count top[3];
    size_t distinct = ss_stall_stacks(s, top, 3);
    if (distinct == 0) {
        fprintf(out, "       no stack was captured\n");
        return;
    }
    size_t with_stack = 0;
    for (size_t i = 0; i < s->nsamples; i++)
        with_stack += s->samples[i].stack != NULL;
    for (size_t i = 0; i < distinct && i < 3; i++) {
        fprintf(out, "       stack in %zu of %zu samples:\n", top[i].count, with_stack);
        print_stack(out, top[i].stack, i == 0 ? o->depth : 6, o->frames);
    }
    if (distinct > 3)
        fprintf(out, "       (%zu more distinct stacks)\n", distinct - 3);
}

static void print_stall(FILE *out, const struct ss_process *p, const struct ss_stall *s,
                        size_t rank, const struct ss_report_options *o)
{
    char d[32], at[32];
    duration(s->duration_ns, d, sizeof d);
    duration(since_start(p, s->start_ns), at, sizeof at);
    fprintf(out, "    #%zu %s%s on thread %u (%s) at +%s, %zu sample%s\n", rank, d,
            s->in_progress ? " so far, still running" : "", s->tid, ss_thread_label(p, s->tid), at,
            s->nsamples, s->nsamples == 1 ? "" : "s");
    print_still_blocked(out, s);
    print_stall_cause(out, p, s);
    print_stall_body(out, s, o);
}

/* Loops shown per process; a longer list ends with how many more there are. */
#define LOOPS_SHOWN 20

static int is_worker(const struct ss_loop *loop)
{
    return loop->end_reason == SS_LOOP_NOT_A_LOOP;
}

static int long_last_stretch(const struct ss_process *p, const struct ss_loop *loop)
{
    return !is_worker(loop) && loop->last.duration_ns && loop->last.duration_ns >= p->threshold_ns;
}

static const char *end_phrase(unsigned reason)
{
    switch (reason) {
    case SS_LOOP_CLOSED:
        return "its epoll descriptor was closed";
    case SS_LOOP_REPLACED:
        return "another wait became the thread's loop";
    case SS_LOOP_THREAD_EXIT:
        return "the thread exited";
    case SS_LOOP_PROCESS_EXIT:
        return "the process exited";
    default:
        return "it ended";
    }
}

/* "epoll fd 3", "poll() at serve_forever", "poll()", "a loop" (the trace did not say). */
static void loop_waits_on(const struct ss_loop *loop, char *buf, size_t size)
{
    char site[512];
    if (loop->kind == SS_LOOP_EPOLL) {
        snprintf(buf, size, "epoll fd %d", loop->fd);
    } else if (loop->kind == SS_LOOP_SITE && loop->site && loop->site->frames) {
        ss_frame_display_name(&loop->site->frames[0], site, sizeof site);
        snprintf(buf, size, "%s() at %s", loop->wait[0] ? loop->wait : "a wait", site);
    } else if (loop->wait[0]) {
        snprintf(buf, size, "%s()", loop->wait);
    } else {
        snprintf(buf, size, "a loop");
    }
}

static void print_loop(FILE *out, const struct ss_process *p, const struct ss_loop *loop,
                       const struct ss_report_options *o)
{
    char what[600], from[32], to[32], d[32];
    loop_waits_on(loop, what, sizeof what);
    duration(since_start(p, loop->begin_ns), from, sizeof from);
    duration(since_start(p, loop->end_ns), to, sizeof to);
    fprintf(out, "    thread %u (%s): %s", loop->tid, ss_thread_label(p, loop->tid), what);
    if (!loop->end_reason)
        fprintf(out, " from +%s, still running\n", from);
    else if (loop->begin_ns)
        fprintf(out, " from +%s to +%s: %s\n", from, to, end_phrase(loop->end_reason));
    else
        fprintf(out, " until +%s: %s\n", to, end_phrase(loop->end_reason));
    if (!long_last_stretch(p, loop))
        return;
    const struct ss_stall *last = &loop->last;
    duration(last->duration_ns, d, sizeof d);
    fprintf(out,
            "       after its last iteration the thread ran %s until %s (not a stall), %zu "
            "sample%s\n",
            d, end_phrase(loop->end_reason), last->nsamples, last->nsamples == 1 ? "" : "s");
    print_stall_body(out, last, o);
}

static int by_thread(const void *a, const void *b)
{
    const struct ss_loop *x = *(const struct ss_loop *const *)a;
    const struct ss_loop *y = *(const struct ss_loop *const *)b;
    if (x->tid != y->tid)
        return x->tid < y->tid ? -1 : 1;
    return x < y ? -1 : x > y; /* in the trace's order */
}

/* The loops of threads that had several or ran on long after a last iteration, and how many
 * threads that polled turned out to be workers. */
static void print_loops(FILE *out, const struct ss_process *p, const struct ss_report_options *o)
{
    const struct ss_loop **sorted = malloc((p->nloops ? p->nloops : 1) * sizeof *sorted);
    if (!sorted)
        return;
    for (size_t i = 0; i < p->nloops; i++)
        sorted[i] = &p->loops[i];
    qsort(sorted, p->nloops, sizeof *sorted, by_thread);
    size_t shown = 0, more = 0, workers = 0, end;
    for (size_t i = 0; i < p->nloops; i = end) {
        size_t real = 0, worker = 0;
        int long_last = 0;
        for (end = i; end < p->nloops && sorted[end]->tid == sorted[i]->tid; end++) {
            worker += is_worker(sorted[end]);
            real += !is_worker(sorted[end]);
            long_last |= long_last_stretch(p, sorted[end]);
        }
        workers += worker && !real;
        if (real < 2 && !long_last)
            continue;
        for (size_t k = i; k < end; k++) {
            if (is_worker(sorted[k]))
                continue;
            if (shown == LOOPS_SHOWN) {
                more++;
                continue;
            }
            if (shown++ == 0)
                fprintf(out, "  loops:\n");
            print_loop(out, p, sorted[k], o);
        }
    }
    free(sorted);
    if (more)
        fprintf(out, "    and %zu more loop%s\n", more, more == 1 ? "" : "s");
    if (workers)
        fprintf(out, "  %zu thread%s that polled %s\n", workers, workers == 1 ? "" : "s",
                workers == 1 ? "was a worker, not a loop" : "were workers, not loops");
}

/* One line for the stalls left out of detail, with what they add up to. */
static void print_summarised(FILE *out, const struct ss_process *p)
{
    const struct ss_summary *sum = &p->summary;
    uint64_t total = 0, max = 0;
    for (size_t i = 0; i < sum->nthreads; i++) {
        total += sum->threads[i].total_ns;
        if (sum->threads[i].max_ns > max)
            max = sum->threads[i].max_ns;
    }
    char t[32], m[32];
    duration(total, t, sizeof t);
    duration(max, m, sizeof m);
    fprintf(out,
            "    and %llu shorter stall%s summarised, %s in all, none longer than %s (only the "
            "%zu longest are kept in detail; --keep-stalls 0 keeps all)\n",
            (unsigned long long)sum->stalls, sum->stalls == 1 ? "" : "s", t, m, p->keep_stalls);
}

static int by_total(const void *a, const void *b)
{
    const struct ss_call_site *x = *(const struct ss_call_site *const *)a;
    const struct ss_call_site *y = *(const struct ss_call_site *const *)b;
    int c = strcmp(x->category, y->category);
    if (c)
        return c;
    if (x->total_ns != y->total_ns)
        return x->total_ns < y->total_ns ? 1 : -1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static void print_calls(FILE *out, const struct ss_process *p, const struct ss_report_options *o)
{
    if (p->ncalls == 0)
        return;
    const struct ss_call_site **sorted = malloc(p->ncalls * sizeof *sorted);
    if (!sorted)
        return;
    for (size_t i = 0; i < p->ncalls; i++)
        sorted[i] = &p->calls[i];
    qsort(sorted, p->ncalls, sizeof *sorted, by_total);
    fprintf(out, "  blocking calls on loop threads: %zu call site%s\n", p->ncalls,
            p->ncalls == 1 ? "" : "s");
    const char *category = NULL;
    for (size_t i = 0; i < p->ncalls; i++) {
        const struct ss_call_site *c = sorted[i];
        char total[32], max[32], at[32];
        if (!category || strcmp(category, c->category) != 0) {
            category = c->category;
            fprintf(out, "   %s:\n", category);
        }
        duration(c->total_ns, total, sizeof total);
        duration(c->max_ns, max, sizeof max);
        duration(since_start(p, c->first_ns), at, sizeof at);
        fprintf(out, "    %s() x%llu on thread %u (%s), total %s, max %s, first at +%s%s%s\n",
                c->function, (unsigned long long)c->count, c->tid, ss_thread_label(p, c->tid),
                total, max, at, c->detail[0] ? ": " : "", c->detail);
        if (c->stack)
            print_stack(out, c->stack, o->depth, o->frames);
    }
    free(sorted);
}

/* "N stalls (T in all, longest L)": stalls the trace no longer holds one by one. */
static void describe_unkept(char *buf, size_t size, uint64_t n, uint64_t ns, uint64_t max_ns)
{
    char total[32], longest[32];
    duration(ns, total, sizeof total);
    duration(max_ns, longest, sizeof longest);
    snprintf(buf, size, "%llu stall%s (%s in all, longest %s)", (unsigned long long)n,
             n == 1 ? "" : "s", total, longest);
}

static void print_process(FILE *out, struct ss_run *run, struct ss_process *p,
                          const struct ss_report_options *o)
{
    char threshold[32], ran[32];
    ss_process_symbolize(run, p);
    duration(p->threshold_ns, threshold, sizeof threshold);
    duration(p->last_ns > p->start_mono_ns ? p->last_ns - p->start_mono_ns : 0, ran, sizeof ran);
    fprintf(out, "\nprocess %u (parent %u): %s\n", p->pid, p->ppid,
            p->command[0] ? p->command : p->exe);
    fprintf(out, "  stall threshold %s; traced for %s; %s\n", threshold, ran,
            p->end_ns      ? "exited"
            : p->truncated ? "trace ends inside a record (being written, or killed)"
                           : "still running or killed");
    char sampling[160];
    ss_sampling_describe(&p->sampling, sampling, sizeof sampling);
    if (sampling[0])
        fprintf(out, "  sampled with %s\n", sampling);
    print_threads(out, p);
    if (p->nstalls == 0 && p->summary.stalls == 0) {
        /* Those rotation deleted or the monitor lost are said below. */
        fprintf(out, "  no stalls%s\n",
                p->drops.stalls_deleted || p->drops.stalls_lost ? " kept" : "");
    } else {
        const struct ss_stall **sorted = malloc(p->nstalls * sizeof *sorted);
        if (!sorted)
            return;
        for (size_t i = 0; i < p->nstalls; i++)
            sorted[i] = &p->stalls[i];
        qsort(sorted, p->nstalls, sizeof *sorted, by_duration);
        size_t shown = p->nstalls < o->top ? p->nstalls : o->top;
        fprintf(out, "  stalls: %llu (worst %zu shown",
                (unsigned long long)ss_process_stall_count(p, 0), shown);
        if (p->drops.stalls_deleted)
            fprintf(out, "; %llu more in trace files deleted by rotation",
                    (unsigned long long)p->drops.stalls_deleted);
        if (p->drops.stalls_lost)
            fprintf(out, "; %llu more lost when the monitor fell behind",
                    (unsigned long long)p->drops.stalls_lost);
        fprintf(out, ")\n");
        print_diagnosis(out, run, p, o);
        for (size_t i = 0; i < shown; i++)
            print_stall(out, p, sorted[i], i + 1, o);
        if (p->summary.stalls)
            print_summarised(out, p);
        free(sorted);
    }
    print_loops(out, p, o);
    print_calls(out, p, o);
    uint64_t dropped = ss_drops_total(&p->drops);
    if (dropped)
        fprintf(out,
                "  dropped: %llu (stall ends %llu, failed samples %llu, timed-out samples %llu, "
                "unwritten records %llu)\n",
                (unsigned long long)dropped, (unsigned long long)p->drops.events,
                (unsigned long long)p->drops.samples_failed,
                (unsigned long long)p->drops.samples_timed_out,
                (unsigned long long)p->drops.records_unwritten);
    if (p->drops.python_incomplete)
        fprintf(out, "  python frames: %llu stacks with their Python part cut short\n",
                (unsigned long long)p->drops.python_incomplete);
    if (p->drops.samples_skipped)
        fprintf(out, "  sampling budget: %llu stacks not taken (over max_stacks a second)\n",
                (unsigned long long)p->drops.samples_skipped);
    if (p->drops.files_deleted) {
        char stalls[128];
        describe_unkept(stalls, sizeof stalls, p->drops.stalls_deleted, p->drops.stalls_deleted_ns,
                        p->drops.stalls_deleted_max_ns);
        fprintf(out,
                "  rotation: %llu older trace file%s deleted (max_size), with %s, %llu samples, "
                "%llu records\n",
                (unsigned long long)p->drops.files_deleted, p->drops.files_deleted == 1 ? "" : "s",
                stalls, (unsigned long long)p->drops.samples_deleted,
                (unsigned long long)p->drops.records_deleted);
    }
    if (p->drops.stalls_lost) {
        char stalls[128];
        describe_unkept(stalls, sizeof stalls, p->drops.stalls_lost, p->drops.stalls_lost_ns,
                        p->drops.stalls_lost_max_ns);
        fprintf(out,
                "  lost stalls: %s ended faster than the monitor could take them: counted, "
                "without stacks\n",
                stalls);
    }
    for (size_t i = 0; i < p->nnotes; i++)
        fprintf(out, "  note: %s\n", p->notes[i]);
    const char **stale = calloc(p->nmodules ? p->nmodules : 1, sizeof *stale);
    size_t nstale = stale ? ss_process_stale_modules(run, p, stale, p->nmodules) : 0;
    for (size_t i = 0; i < nstale; i++)
        fprintf(out,
                "  note: %s is not the file that ran (rebuilt or removed since: its build-id "
                "differs); its frames are shown as module+offset\n",
                stale[i]);
    free(stale);
}

int ss_report_text(struct ss_run *run, FILE *out, const struct ss_report_options *o)
{
    struct ss_run_totals t;
    ss_run_totals(run, &t);
    fprintf(out, "stallscope report for %s: %zu process%s, %zu loop thread%s, %zu stall%s\n",
            run->path, t.processes, t.processes == 1 ? "" : "es", t.loop_threads,
            t.loop_threads == 1 ? "" : "s", t.stalls, t.stalls == 1 ? "" : "s");
    for (size_t i = 0; i < run->nprocs; i++)
        print_process(out, run, &run->procs[i], o);
    return ss_write_status(out);
}
