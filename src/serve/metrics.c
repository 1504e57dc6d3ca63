#include "serve/metrics.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "util/utf8.h"

int ss_metrics_shown(const struct ss_tally_process *p, uint64_t now_ns, uint64_t age_out_ns)
{
    if (now_ns < p->last_ns || now_ns - p->last_ns < age_out_ns)
        return 1;
    if (p->end_ns)
        return 0;
    /* No end record: killed, or still running but quiet. EPERM: it runs as another user. */
    return !(kill((pid_t)p->pid, 0) < 0 && errno == ESRCH);
}

/* The processes shown. Two with the same name and pid (traces of two pid namespaces, or a pid
 * reused before the first aged out) would give the same series twice: the one that started
 * last stands for both. */
struct shown {
    const struct ss_tally_process **procs;
    size_t n;
};

static int by_identity(const void *a, const void *b)
{
    const struct ss_tally_process *x = *(const struct ss_tally_process *const *)a;
    const struct ss_tally_process *y = *(const struct ss_tally_process *const *)b;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->start_ns < y->start_ns ? -1 : x->start_ns > y->start_ns;
}

static int collect(struct shown *s, const struct ss_tally *const *tallies, size_t ntallies,
                   uint64_t now_ns, uint64_t age_out_ns)
{
    size_t total = 0;
    for (size_t i = 0; i < ntallies; i++)
        total += tallies[i]->nprocs;
    s->n = 0;
    if (!(s->procs = malloc((total + 1) * sizeof *s->procs)))
        return -ENOMEM;
    for (size_t i = 0; i < ntallies; i++)
        for (size_t k = 0; k < tallies[i]->nprocs; k++)
            if (ss_metrics_shown(&tallies[i]->procs[k], now_ns, age_out_ns))
                s->procs[s->n++] = &tallies[i]->procs[k];
    qsort(s->procs, s->n, sizeof *s->procs, by_identity);
    size_t kept = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (kept && s->procs[kept - 1]->pid == s->procs[i]->pid &&
            strcmp(s->procs[kept - 1]->name, s->procs[i]->name) == 0)
            kept--;
        s->procs[kept++] = s->procs[i];
    }
    s->n = kept;
    return 0;
}

/* A label value as the text format wants it: backslash, double quote and line feed escaped.
 * Names come from traced programs, and the format wants UTF-8: other control characters are
 * shown as '?', and a byte that is not UTF-8 as U+FFFD. */
static void put_value(FILE *out, const char *v)
{
    const unsigned char *s = (const unsigned char *)v;
    while (*s) {
        int n = ss_utf8_len(s);
        if (*s == '\n')
            fputs("\\n", out);
        else if (*s == '\\' || *s == '"')
            fprintf(out, "\\%c", *s);
        else if (*s < 0x20 || *s == 0x7f)
            fputc('?', out);
        else if (n == 0)
            fputs("\xef\xbf\xbd", out);
        else
            fwrite(s, 1, (size_t)n, out);
        s += n ? n : 1;
    }
}

static void put_label(FILE *out, const char *name, const char *value)
{
    fprintf(out, ",%s=\"", name);
    put_value(out, value);
    fputc('"', out);
}

/* name{process="...",pid="..." and, when thread is not NULL, thread="..." */
static void open_series(FILE *out, const char *name, const struct ss_tally_process *p,
                        const char *thread)
{
    fprintf(out, "%s{process=\"", name);
    put_value(out, p->name);
    fprintf(out, "\",pid=\"%u\"", p->pid);
    if (thread)
        put_label(out, "thread", thread);
}

/* Nanoseconds as seconds, exactly: 1024 -> 0.000001024. */
static void put_seconds(FILE *out, uint64_t ns)
{
    char frac[16];
    snprintf(frac, sizeof frac, "%09llu", (unsigned long long)(ns % 1000000000ull));
    size_t n = strlen(frac);
    while (n > 0 && frac[n - 1] == '0')
        frac[--n] = '\0';
    fprintf(out, "%llu%s%s", (unsigned long long)(ns / 1000000000ull), n ? "." : "", frac);
}

static void family(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void write_processes(FILE *out, const struct shown *s)
{
    family(out, "stallscope_traced_processes", "gauge",
           "Traced processes shown: running, or ended less than the age-out ago.");
    fprintf(out, "stallscope_traced_processes %zu\n", s->n);
}

static void write_iterations(FILE *out, const struct shown *s)
{
    family(out, "stallscope_loop_iterations_total", "counter",
           "Iterations of the event loop of a loop thread.");
    for (size_t i = 0; i < s->n; i++)
        for (size_t k = 0; k < s->procs[i]->nthreads; k++) {
            const struct ss_tally_thread *t = &s->procs[i]->threads[k];
            if (!t->loop)
                continue;
            open_series(out, "stallscope_loop_iterations_total", s->procs[i], t->name);
            fprintf(out, "} %llu\n", (unsigned long long)t->iterations);
        }
}

/* The shim's buckets: the first ends at 1024 ns, each next one at twice the last, and the
 * last is open-ended (trace-format.h). A bucket holds durations below its end. */
static void write_histogram(FILE *out, const struct ss_tally_process *p,
                            const struct ss_tally_thread *t)
{
    uint64_t cumulative = 0;
    for (unsigned b = 0; b + 1 < SS_HIST_BUCKETS; b++) {
        cumulative += t->hist[b];
        open_series(out, "stallscope_loop_busy_seconds_bucket", p, t->name);
        fputs(",le=\"", out);
        put_seconds(out, ss_hist_bucket_floor(b + 1));
        fprintf(out, "\"} %llu\n", (unsigned long long)cumulative);
    }
    cumulative += t->hist[SS_HIST_BUCKETS - 1];
    open_series(out, "stallscope_loop_busy_seconds_bucket", p, t->name);
    fprintf(out, ",le=\"+Inf\"} %llu\n", (unsigned long long)cumulative);
    open_series(out, "stallscope_loop_busy_seconds_sum", p, t->name);
    fputs("} ", out);
    put_seconds(out, t->busy_ns);
    fputc('\n', out);
    open_series(out, "stallscope_loop_busy_seconds_count", p, t->name);
    fprintf(out, "} %llu\n", (unsigned long long)cumulative);
}

static void write_busy(FILE *out, const struct shown *s)
{
    family(out, "stallscope_loop_busy_seconds", "histogram",
           "Busy time of event loop iterations: from a wait's return to the next wait.");
    for (size_t i = 0; i < s->n; i++)
        for (size_t k = 0; k < s->procs[i]->nthreads; k++)
            if (s->procs[i]->threads[k].loop)
                write_histogram(out, s->procs[i], &s->procs[i]->threads[k]);
}

/* Ends a series' labels and writes its value: ns in seconds when `seconds`, else count. */
static void close_series(FILE *out, int seconds, uint64_t ns, uint64_t count)
{
    fputs("} ", out);
    if (seconds)
        put_seconds(out, ns);
    else
        fprintf(out, "%llu", (unsigned long long)count);
    fputc('\n', out);
}

static void write_stalls(FILE *out, const struct shown *s, int seconds)
{
    const char *name = seconds ? "stallscope_stalled_seconds_total" : "stallscope_stalls_total";
    family(out, name, "counter",
           seconds ? "Time event loops spent in stalls, by the stall's main cause."
                   : "Stalls of event loops, by the stall's main cause.");
    for (size_t i = 0; i < s->n; i++) {
        const struct ss_tally_process *p = s->procs[i];
        for (size_t k = 0; k < p->ncauses; k++) {
            const struct ss_tally_cause *c = &p->causes[k];
            open_series(out, name, p, p->threads[c->thread].name);
            put_label(out, "cause", c->cause);
            close_series(out, seconds, c->ns, c->stalls);
        }
    }
}

/* now: how long each loop thread of a running process has been in its stall (0: none), the
 * signal of a loop hung right now; else the longest stall each thread has had. */
static void write_stall_gauge(FILE *out, const struct shown *s, int now)
{
    const char *name =
        now ? "stallscope_stall_in_progress_seconds" : "stallscope_stall_max_seconds";
    family(out, name, "gauge",
           now ? "How long the stall a loop thread is in has lasted, at the last reading; 0: none."
               : "The longest stall of a thread that ended.");
    for (size_t i = 0; i < s->n; i++)
        for (size_t k = 0; k < s->procs[i]->nthreads; k++) {
            const struct ss_tally_thread *t = &s->procs[i]->threads[k];
            if (now ? !t->loop || s->procs[i]->end_ns : !t->stall_max_ns)
                continue;
            open_series(out, name, s->procs[i], t->name);
            fputs("} ", out);
            put_seconds(out, now ? t->stalled_now_ns : t->stall_max_ns);
            fputc('\n', out);
        }
}

static void write_calls(FILE *out, const struct shown *s, int seconds)
{
    const char *name =
        seconds ? "stallscope_blocking_seconds_total" : "stallscope_blocking_calls_total";
    family(out, name, "counter",
           seconds ? "Time spent in blocking calls on loop threads."
                   : "Blocking calls made on loop threads.");
    for (size_t i = 0; i < s->n; i++) {
        const struct ss_tally_process *p = s->procs[i];
        for (size_t k = 0; k < p->ncalls; k++) {
            const struct ss_tally_call *c = &p->calls[k];
            open_series(out, name, p, p->threads[c->thread].name);
            put_label(out, "category", c->category);
            put_label(out, "function", c->function);
            close_series(out, seconds, c->ns, c->count);
        }
    }
}

static void write_drops(FILE *out, const struct shown *s)
{
    family(out, "stallscope_dropped_events_total", "counter",
           "What the shim or the monitor could not record, by kind.");
    for (size_t i = 0; i < s->n; i++) {
        const struct ss_rec_drops *d = &s->procs[i]->drops;
        const struct {
            const char *kind;
            uint64_t n;
        } kinds[] = {
            {"events", d->events},
            {"samples_failed", d->samples_failed},
            {"samples_timed_out", d->samples_timed_out},
            {"records_unwritten", d->records_unwritten},
            {"python_incomplete", d->python_incomplete},
            {"samples_skipped", d->samples_skipped},
        };
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
            open_series(out, "stallscope_dropped_events_total", s->procs[i], NULL);
            put_label(out, "kind", kinds[k].kind);
            fprintf(out, "} %llu\n", (unsigned long long)kinds[k].n);
        }
    }
}

int ss_metrics_write(FILE *out, const struct ss_tally *const *tallies, size_t ntallies,
                     uint64_t now_ns, uint64_t age_out_ns)
{
    struct shown s;
    if (collect(&s, tallies, ntallies, now_ns, age_out_ns) < 0)
        return -ENOMEM;
    write_processes(out, &s);
    write_iterations(out, &s);
    write_busy(out, &s);
    write_stalls(out, &s, 0);
    write_stalls(out, &s, 1);
    write_stall_gauge(out, &s, 0);
    write_stall_gauge(out, &s, 1);
    write_calls(out, &s, 0);
    write_calls(out, &s, 1);
    write_drops(out, &s);
    free(s.procs);
    return ss_write_status(out);
}
