/* queries: what the consumers of a loaded run ask of its processes, threads and stalls. */
#include <stdio.h>
#include <string.h>

#include "model.h"

const struct ss_thread *ss_process_thread(const struct ss_process *p, uint32_t tid)
{
    for (size_t i = 0; i < p->nthreads; i++)
        if (p->threads[i].tid == tid)
            return &p->threads[i];
    return NULL;
}

const char *ss_thread_label(const struct ss_process *p, uint32_t tid)
{
    const struct ss_thread *t = ss_process_thread(p, tid);
    if (t && t->name[0])
        return t->name;
    const char *slash = p->exe ? strrchr(p->exe, '/') : NULL;
    return slash ? slash + 1 : p->exe && p->exe[0] ? p->exe : "?";
}

uint64_t ss_stall_blocked_ns(const struct ss_stall *s, const char *category)
{
    uint64_t ns = 0;
    for (size_t i = 0; i < s->ncalls; i++)
        if (!category || strcmp(s->calls[i].category, category) == 0)
            ns += s->calls[i].duration_ns;
    return ns;
}

const struct ss_sample *ss_stall_still_blocked(const struct ss_stall *s)
{
    const struct ss_sample *latest = NULL;
    for (size_t i = 0; i < s->nsamples; i++)
        if (!latest || s->samples[i].offset_ns >= latest->offset_ns)
            latest = &s->samples[i];
    if (!s->in_progress || !latest || !latest->call)
        return NULL;
    return latest->source == SS_SAMPLE_CALL || latest->source == SS_SAMPLE_SYSCALL ? latest : NULL;
}

int ss_note_is_untraced_child(const char *note)
{
    return strncmp(note, SS_NOTE_UNTRACED_START, strlen(SS_NOTE_UNTRACED_START)) == 0 &&
           strstr(note, SS_NOTE_UNTRACED_MARK) != NULL;
}

const char *ss_loop_end_name(unsigned reason)
{
    static const char *const names[] = {
        [0] = "running",
        [SS_LOOP_CLOSED] = "closed",
        [SS_LOOP_REPLACED] = "replaced",
        [SS_LOOP_NOT_A_LOOP] = "not_a_loop",
        [SS_LOOP_THREAD_EXIT] = "thread_exit",
        [SS_LOOP_PROCESS_EXIT] = "process_exit",
    };
    return reason < sizeof names / sizeof names[0] ? names[reason] : "unknown";
}

const char *ss_sample_source_name(unsigned source)
{
    static const char *const names[] = {
        [SS_SAMPLE_SIGNAL] = "signal",
        [SS_SAMPLE_CALL] = "call",
        [SS_SAMPLE_PERF] = "perf",
        [SS_SAMPLE_SYSCALL] = "syscall",
    };
    return source < sizeof names / sizeof names[0] ? names[source] : "unknown";
}

void ss_sampling_describe(const struct ss_rec_sampling *s, char *buf, size_t size)
{
    char refused[96] = "";
    if (s->error)
        snprintf(refused, sizeof refused, " (perf events refused: %s)", strerror(s->error));
    switch (s->method) {
    case SS_SAMPLED_BY_PERF:
        snprintf(buf, size, "perf events");
        break;
    case SS_SAMPLED_BY_SIGNAL:
        snprintf(buf, size, "signal %u%s", s->signal, refused);
        break;
    case SS_SAMPLED_NOT:
        snprintf(buf, size, "no timed samples%s", refused);
        break;
    default:
        snprintf(buf, size, "%s", "");
    }
}

uint64_t ss_drops_total(const struct ss_rec_drops *d)
{
    return d->events + d->samples_failed + d->samples_timed_out + d->records_unwritten;
}

uint64_t ss_process_stall_count(const struct ss_process *p, uint32_t tid)
{
    uint64_t n = 0;
    for (size_t i = 0; i < p->nstalls; i++)
        n += !tid || p->stalls[i].tid == tid;
    if (!tid)
        return n + p->summary.stalls;
    const struct ss_summary_thread *t = ss_summary_thread(p, tid);
    return n + (t ? t->stalls : 0);
}

const struct ss_summary_thread *ss_summary_thread(const struct ss_process *p, uint32_t tid)
{
    for (size_t i = 0; i < p->summary.nthreads; i++)
        if (p->summary.threads[i].tid == tid)
            return &p->summary.threads[i];
    return NULL;
}

uint64_t ss_thread_percentile(const struct ss_thread *t, double pct)
{
    uint64_t total = 0;
    for (unsigned b = 0; b < SS_HIST_BUCKETS; b++)
        total += t->hist[b];
    if (total == 0)
        return 0;
    double rank = pct / 100.0 * (double)total;
    uint64_t below = 0;
    for (unsigned b = 0; b < SS_HIST_BUCKETS; b++) {
        if (t->hist[b] == 0 || (double)(below + t->hist[b]) < rank) {
            below += t->hist[b];
            continue;
        }
        uint64_t lo = ss_hist_bucket_floor(b);
        uint64_t hi = b + 1 < SS_HIST_BUCKETS ? ss_hist_bucket_floor(b + 1) : t->busy_max_ns;
        if (hi > t->busy_max_ns)
            hi = t->busy_max_ns;
        if (hi < lo)
            return t->busy_max_ns;
        double within = (rank - (double)below) / (double)t->hist[b];
        return lo + (uint64_t)(within * (double)(hi - lo));
    }
    return t->busy_max_ns;
}
