/* tracker: the monitor's thread for one traced process. It sleeps until the next moment a stall
 * could begin (a busy thread's start plus the threshold) or until the shim wakes it, looks at
 * every slot of the segment, and is the only writer of the process's trace. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "monitor/process.h"
#include "monitor/procfs.h"
#include "monitor/python.h"
#include "monitor/records.h"
#include "monitor/sample.h"
#include "monitor/stall-time.h"
#include "monitor/target.h"
#include "util/array.h"
#include "util/fnv.h"

/* One line on the process's standard error, as the shim would have written it, if that is
 * still the file it was when the process started; never blocking on it. */
void ss_mproc_tell(const struct ss_mproc *p, const char *message)
{
    if (!p->seg->stderr_ino)
        return;
    char path[64], line[600];
    snprintf(path, sizeof path, "/proc/%d/fd/2", (int)p->pid);
    int fd = open(path, O_WRONLY | O_APPEND | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return;
    if (fstat(fd, &st) == 0 && st.st_dev == p->seg->stderr_dev && st.st_ino == p->seg->stderr_ino) {
        int n = snprintf(line, sizeof line, "stallscope: %s\n", message);
        if (write(fd, line, (size_t)n) < 0) {
            /* Nowhere else to say it. */
        }
    }
    close(fd);
}

static void writer_warned(void *ctx, const char *message)
{
    ss_mproc_tell(ctx, message);
}

/* ---- the trace ------------------------------------------------------------------------- */

/* Modules already written, by start address and path, so that a refresh adds only new ones. */
struct module_key {
    uint64_t lo, hi, bias;
    size_t path_hash;
};
struct module_set {
    struct module_key *keys;
    size_t n, cap;
};

static size_t hash_string(const char *s)
{
    return (size_t)ss_fnv1a_str(SS_FNV1A_INIT, s);
}

static int module_written(struct ss_mproc *p, const struct ss_target_module *m)
{
    struct module_set *set = p->module_set;
    if (!set && !(set = p->module_set = calloc(1, sizeof *set)))
        return 1;
    struct module_key k = {m->lo, m->hi, m->bias, hash_string(m->path)};
    for (size_t i = 0; i < set->n; i++)
        if (memcmp(&set->keys[i], &k, sizeof k) == 0)
            return 1;
    if (SS_ARRAY_GROW(set->keys, set->cap, set->n + 1) < 0)
        return 1;
    set->keys[set->n++] = k;
    return 0;
}

/* Reads the memory map again and writes the modules that are new since the last time. */
void ss_mproc_refresh_modules(struct ss_mproc *p, uint64_t now)
{
    if (!p->target || ss_target_refresh(p->target) < 0)
        return;
    p->next_refresh_ns = now + p->config.flush_ns;
    if (p->python) {
        ss_python_find(p->python, p->target);
        ss_python_publish(p->python, &p->seg->python);
    }
    const struct ss_target_module *mods;
    size_t n = ss_target_modules(p->target, &mods), added = 0;
    for (size_t i = 0; i < n; i++) {
        const struct ss_target_module *m = &mods[i];
        if (module_written(p, m))
            continue;
        size_t path_len = strlen(m->path);
        if (path_len > UINT16_MAX)
            path_len = UINT16_MAX;
        struct ss_rec_module rec = {m->bias, m->lo, m->hi, (uint16_t)m->build_id_len,
                                    (uint16_t)path_len};
        ss_writer_record_tails(&p->out, SS_REC_MODULE, &rec, sizeof rec, m->build_id,
                               m->build_id_len, m->path, path_len);
        added++;
    }
    /* Attached, the shim redirects the calls of new modules at a loop thread's next wait. */
    if (added && !p->rewriting_modules && atomic_load(&p->seg->attached))
        for (size_t i = 0; i < SS_SEG_SLOTS; i++)
            if (atomic_load_explicit(&p->seg->slots[i].owner, memory_order_acquire) > 0)
                atomic_fetch_or(&p->seg->slots[i].request, SS_REQUEST_PATCH);
}

static void write_process(struct ss_mproc *p)
{
    struct ss_rec_process rec = {(uint32_t)p->pid,
                                 p->ppid,
                                 p->seg->start_mono_ns,
                                 p->seg->start_real_ns,
                                 p->config.threshold_ns,
                                 p->config.interval_ns,
                                 p->exe_len,
                                 p->cmd_len};
    ss_writer_record_tails(&p->out, SS_REC_PROCESS, &rec, sizeof rec, p->exe, p->exe_len, p->cmd,
                           p->cmd_len);
}

static void rewrite_python_frames(void *ctx, struct ss_writer *out, const uint64_t *frames,
                                  unsigned n)
{
    struct ss_mproc *p = ctx;
    ss_python_rewrite_frames(p->python, out, frames, n);
}

/* The trace file is made when there is something to say: a process that never runs a loop and
 * starts no untraced child leaves none. Returns whether it is open. */
int ss_mproc_trace(struct ss_mproc *p)
{
    if (p->trace_state)
        return p->trace_state > 0;
    char why[512];
    if (ss_writer_open(&p->out, p->dir, p->pid, why, sizeof why) < 0) {
        ss_mproc_tell(p, why);
        p->trace_state = -1;
        return 0;
    }
    if (ss_writer_bound(&p->out, p->config.max_size, p->config.max_files) < 0)
        ss_mproc_tell(p, "no memory to bound the trace's size: it is not rotated");
    p->out.warn = writer_warned;
    p->out.warn_ctx = p;
    p->stacks.before_rewrite = rewrite_python_frames;
    p->stacks.rewrite_ctx = p;
    p->trace_state = 1;
    write_process(p);
    if (p->config.stacks && ss_target_open(p->pid, &p->target) < 0)
        p->target = NULL;
    if (p->target && p->config.python)
        p->python = ss_python_new();
    ss_mproc_refresh_modules(p, ss_monotonic_ns());
    ss_writer_flush(&p->out);
    return 1;
}

static void note(void *ctx, const char *text)
{
    struct ss_mproc *p = ctx;
    if (ss_mproc_trace(p))
        ss_writer_record(&p->out, SS_REC_NOTE, text, strlen(text), NULL, 0);
}

/* ---- threads --------------------------------------------------------------------------- */

/* The mapping that holds an address known to be on a thread's stack: [*lo, *hi). The main
 * thread's stack grows down as it is used, so its start is no bound (*lo = 0). Returns 0 when
 * not found. */
static int stack_mapping_of(pid_t pid, uintptr_t sp, uintptr_t *lo, uintptr_t *hi)
{
    char path[64], *line = NULL;
    size_t cap = 0;
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    FILE *f = fopen(path, "re");
    int found = 0;
    while (f && !found && getline(&line, &cap, f) > 0) {
        unsigned long start, end;
        if (sscanf(line, "%lx-%lx", &start, &end) != 2 || sp < start || sp >= end)
            continue;
        *lo = strstr(line, "[stack]") ? 0 : start;
        *hi = end;
        found = 1;
    }
    free(line);
    if (f)
        fclose(f);
    return found;
}

static void read_thread_name(pid_t pid, pid_t tid, char name[16])
{
    char path[64];
    snprintf(path, sizeof path, "task/%d/comm", (int)tid);
    ssize_t n = ss_proc_read(pid, path, name, 16);
    if (n < 0)
        n = 0;
    while (n > 0 && (name[n - 1] == '\n' || name[n - 1] == '\0'))
        n--;
    name[n] = '\0';
}

static void emit_thread(struct ss_mproc *p, struct ss_slot *s, struct ss_slot_view *v)
{
    struct ss_rec_thread rec = {(uint32_t)v->tid, SS_THREAD_LOOP, s->first_wait_ns};
    ss_writer_record(&p->out, SS_REC_THREAD, &rec, sizeof rec, v->name, strlen(v->name));
}

static void announce_thread(struct ss_mproc *p, struct ss_slot *s, struct ss_slot_view *v,
                            pid_t tid)
{
    ss_stall_time_forget(v);
    memset(v, 0, sizeof *v);
    v->tid = tid;
    read_thread_name(p->pid, tid, v->name);
    /* Exact bounds in place of those known at the claim: the end is the same, or found at
     * last for a thread whose first wait ran on a stack of its own making. The end first, so
     * that a capture that sees the new start sees the new end too. */
    uintptr_t lo, hi;
    if (stack_mapping_of(p->pid, s->sp_hint, &lo, &hi)) {
        atomic_store_explicit(&s->stack_hi, hi, memory_order_release);
        atomic_store_explicit(&s->stack_lo, lo, memory_order_release);
    }
    emit_thread(p, s, v);
    ss_sample_thread_announced(p, s, v);
}

static void write_histogram(struct ss_mproc *p, struct ss_slot *s, struct ss_slot_view *v)
{
    uint64_t iterations = atomic_load_explicit(&s->iterations, memory_order_relaxed);
    if (iterations == v->hist_iterations)
        return;
    v->hist_iterations = iterations;
    uint64_t buckets[SS_HIST_BUCKETS];
    for (unsigned b = 0; b < SS_HIST_BUCKETS; b++)
        buckets[b] = atomic_load_explicit(&s->hist[b], memory_order_relaxed);
    struct ss_rec_histogram rec = {
        (uint32_t)v->tid,
        SS_HIST_BUCKETS,
        iterations,
        atomic_load_explicit(&s->busy_total_ns, memory_order_relaxed),
        atomic_load_explicit(&s->busy_max_ns, memory_order_relaxed),
    };
    ss_writer_record(&p->out, SS_REC_HISTOGRAM, &rec, sizeof rec, buckets, sizeof buckets);
}

static void add_lost_stalls(struct ss_lost_stalls *to, struct ss_slot *s)
{
    to->n += atomic_load_explicit(&s->ended_dropped, memory_order_relaxed);
    to->ns += atomic_load_explicit(&s->ended_dropped_ns, memory_order_relaxed);
    uint64_t max = atomic_load_explicit(&s->ended_dropped_max_ns, memory_order_relaxed);
    if (max > to->max_ns)
        to->max_ns = max;
}

static void write_drops(struct ss_mproc *p)
{
    const struct ss_writer *w = &p->out;
    struct ss_rec_drops d = {.samples_failed = p->samples_failed,
                             .samples_timed_out = p->samples_timed_out,
                             .records_unwritten = w->unwritten,
                             .samples_skipped = p->samples_skipped};
    d.files_deleted = w->files_deleted;
    d.stalls_deleted = w->deleted.stalls;
    d.stalls_deleted_ns = w->deleted.stall_ns;
    d.stalls_deleted_max_ns = w->deleted.stall_max_ns;
    d.samples_deleted = w->deleted.samples;
    d.records_deleted = w->deleted.records;
    d.events = p->retired_events + p->calls_lost + p->perf_lost +
               atomic_load_explicit(&p->seg->execs.dropped, memory_order_relaxed);
    d.samples_failed += p->retired_snaps;
    struct ss_lost_stalls lost = p->retired_lost;
    for (size_t i = 0; i < SS_SEG_SLOTS; i++) {
        if (p->views[i].tid == 0)
            continue;
        struct ss_slot *s = &p->seg->slots[i];
        add_lost_stalls(&lost, s);
        d.events += atomic_load_explicit(&s->ended_dropped, memory_order_relaxed) +
                    atomic_load_explicit(&s->calls_dropped, memory_order_relaxed) +
                    atomic_load_explicit(&s->loop_dropped, memory_order_relaxed);
        d.samples_failed += atomic_load_explicit(&s->snaps_dropped, memory_order_relaxed);
    }
    d.python_incomplete = ss_python_incomplete(p->python);
    /* Those the trace holds (closed as lost) are counted there. */
    d.stalls_lost = lost.n - (p->announced_lost.n < lost.n ? p->announced_lost.n : lost.n);
    d.stalls_lost_ns = lost.ns - (p->announced_lost.ns < lost.ns ? p->announced_lost.ns : lost.ns);
    d.stalls_lost_max_ns = d.stalls_lost ? lost.max_ns : 0;
    uint64_t sum = d.events + d.samples_failed + d.samples_timed_out + d.records_unwritten +
                   d.python_incomplete + d.samples_skipped + d.files_deleted + d.stalls_lost_ns;
    if (sum == p->drops_written_sum)
        return;
    p->drops_written_sum = sum;
    ss_writer_record(&p->out, SS_REC_DROPS, &d, sizeof d, NULL, 0);
}

int ss_mproc_gone(const struct ss_mproc *p)
{
    struct pollfd fd = {p->pidfd, POLLIN, 0};
    return p->pidfd >= 0 ? poll(&fd, 1, 0) > 0 : kill(p->pid, 0) != 0 && errno == ESRCH;
}

/* Frees the slot of a thread that exited, or that gave it back (a worker, not a loop: what
 * it counted is forgotten with it). */
static void retire_thread(struct ss_mproc *p, struct ss_slot *s, struct ss_slot_view *v,
                          uint64_t now, int why)
{
    ss_sample_forget(p, v);
    if (why == SS_SLOT_THREAD_EXITED) {
        write_histogram(p, s, v);
        struct ss_rec_thread_exit rec = {(uint32_t)v->tid, 0, now};
        ss_writer_record(&p->out, SS_REC_THREAD_EXIT, &rec, sizeof rec, NULL, 0);
    }
    p->retired_events += atomic_load_explicit(&s->ended_dropped, memory_order_relaxed) +
                         atomic_load_explicit(&s->calls_dropped, memory_order_relaxed) +
                         atomic_load_explicit(&s->loop_dropped, memory_order_relaxed);
    p->retired_snaps += atomic_load_explicit(&s->snaps_dropped, memory_order_relaxed);
    /* A worker's (a slot given back) stalls are no loop's: the loader forgets them. */
    if (why == SS_SLOT_THREAD_EXITED)
        add_lost_stalls(&p->retired_lost, s);
    ss_stall_time_forget(v);
    memset(v, 0, sizeof *v);
    /* The next owner is another thread, with a Python state of its own if any. */
    atomic_store_explicit(&s->py_tstate, 0, memory_order_relaxed);
    atomic_store_explicit(&s->exited, 0, memory_order_relaxed);
    atomic_store_explicit(&s->owner, 0, memory_order_release);
    atomic_fetch_add_explicit(&p->seg->slots_freed, 1, memory_order_release);
}

/* Tells the shim the thread's Python state, for it to copy Python frames with the stacks it
 * takes; looked for once a second until found (a thread may run Python only later). The
 * sites whose stack the thread took before then take theirs again, with Python frames. */
static void look_for_python_state(struct ss_mproc *p, struct ss_slot *s, struct ss_slot_view *v,
                                  uint64_t now)
{
    if (!p->python || now < v->python_look_ns ||
        atomic_load_explicit(&s->py_tstate, memory_order_relaxed))
        return;
    v->python_look_ns = now + 1000000000ull;
    uint64_t ts = ss_python_thread_state(p->python, p->target, v->tid, s->thread_self);
    atomic_store_explicit(&s->py_tstate, ts, memory_order_relaxed);
    if (ts)
        atomic_fetch_or_explicit(&s->request, SS_REQUEST_RETAKE, memory_order_release);
}

/* Looks at one slot; returns the next time it needs attention. `final`: the process is gone
 * (or replaced by an exec) and this is the last look. The thread publishes an event before
 * the state that follows it, and its exit after both: the exit is read first, the state
 * next, the loop events last. */
static uint64_t visit(struct ss_mproc *p, struct ss_slot *s, struct ss_slot_view *v, uint64_t now,
                      int final)
{
    pid_t owner = atomic_load_explicit(&s->owner, memory_order_acquire);
    if (owner <= 0 || !ss_mproc_trace(p))
        return UINT64_MAX;
    if (v->tid != owner)
        announce_thread(p, s, v, owner);
    look_for_python_state(p, s, v, now);
    int exited = atomic_load_explicit(&s->exited, memory_order_acquire);
    uint64_t exit_ns = atomic_load_explicit(&p->seg->exit_ns, memory_order_acquire);
    int state = atomic_load_explicit(&s->state, memory_order_acquire);
    uint64_t iteration = atomic_load_explicit(&s->iteration, memory_order_acquire);
    /* A signal snapshot belongs to a stall that may have ended since: take it first. */
    if (atomic_load_explicit(&s->snap_state, memory_order_acquire) == SS_SNAP_READY)
        ss_sample_consume_signal(p, s, v);
    uint32_t ended = atomic_load_explicit(&s->ended_head, memory_order_acquire);
    ss_mproc_drain_calls(p, s, v);
    ss_mproc_drain_ended(p, s, v, ended);
    ss_mproc_drain_loops(p, s, v, UINT64_MAX);
    /* Read before the drain, a later state means the stall's end was in the ring by then. */
    if (v->stall && (state == SS_STATE_WAITING || iteration != v->stall))
        ss_mproc_close_lost_stall(p, s, v);
    if (exited) {
        retire_thread(p, s, v, now, exited);
        return UINT64_MAX;
    }
    uint64_t threshold = p->config.threshold_ns;
    if (exit_ns) {
        ss_mproc_end_loop_at_exit(p, s, v, state, iteration, exit_ns);
        return final ? UINT64_MAX : now + threshold;
    }
    /* A process killed outright leaves its stall open, as it was. An iteration whose end the
     * drain above took (it ended after the state was read) is over. */
    if (final || state == SS_STATE_WAITING || iteration == 0 || iteration > now ||
        iteration <= v->loop_ended || iteration <= v->ended_through) {
        if (state == SS_STATE_WAITING && !final)
            ss_stall_time_idle(p, v, atomic_load_explicit(&s->iterations, memory_order_relaxed));
        return final ? UINT64_MAX : now + threshold;
    }
    uint64_t stall_at = iteration + threshold;
    if (now < stall_at)
        return stall_at;
    if (v->stall != iteration) {
        ss_mproc_announce_stall(p, s, v, iteration);
        v->next_sample_ns = now;
    }
    v->stall_seen_ns = now;
    if (now >= v->next_sample_ns) {
        ss_stall_time_look(p, v, now);
        ss_sample_due(p, s, v, state, iteration, now);
        v->next_sample_ns = now + p->config.interval_ns;
    }
    return v->next_sample_ns;
}

static void drain_notes(struct ss_mproc *p)
{
    uint32_t n = atomic_load_explicit(&p->seg->notes_next, memory_order_acquire);
    if (n > SS_SEG_NOTES)
        n = SS_SEG_NOTES;
    for (; p->notes_read < n; p->notes_read++) {
        struct ss_seg_note *e = &p->seg->notes[p->notes_read];
        if (!atomic_load_explicit(&e->ready, memory_order_acquire))
            break;
        e->text[sizeof e->text - 1] = '\0';
        note(p, e->text);
    }
}

static void periodic(struct ss_mproc *p, uint64_t now)
{
    p->next_flush_ns = now + p->config.flush_ns;
    if (p->trace_state <= 0)
        return;
    for (size_t i = 0; i < SS_SEG_SLOTS; i++) {
        struct ss_slot *s = &p->seg->slots[i];
        struct ss_slot_view *v = &p->views[i];
        if (v->tid == 0 || atomic_load_explicit(&s->owner, memory_order_acquire) != v->tid)
            continue;
        write_histogram(p, s, v);
        char name[16];
        read_thread_name(p->pid, v->tid, name);
        if (name[0] && strcmp(name, v->name) != 0) {
            memcpy(v->name, name, sizeof name);
            emit_thread(p, s, v);
        }
    }
    if (now >= p->next_refresh_ns)
        ss_mproc_refresh_modules(p, now);
    write_drops(p);
    ss_sites_flush(&p->sites, &p->out);
}

/* The trace file reached its share of max_size: the next one starts with everything later
 * records refer to (the process, its modules, threads, sampling method, the loops open, call
 * sites with their stacks), the histograms so far and the drop counters, so that it can be
 * read alone. Stacks and Python frames follow when a record first refers to them in the new
 * file. */
static void rotate_trace(struct ss_mproc *p)
{
    char why[512];
    if (ss_writer_rotate(&p->out, why, sizeof why) < 0) {
        /* Said once; the current file goes on, and the rotation is tried at each flush. */
        if (!p->rotation_failing)
            ss_mproc_tell(p, why);
        p->rotation_failing = 1;
        return;
    }
    p->rotation_failing = 0;
    struct ss_rec_segment segment = {p->out.generation, 0};
    write_process(p);
    ss_writer_record(&p->out, SS_REC_SEGMENT, &segment, sizeof segment, NULL, 0);
    struct module_set *set = p->module_set;
    if (set)
        set->n = 0;
    p->rewriting_modules = 1;
    ss_mproc_refresh_modules(p, ss_monotonic_ns());
    p->rewriting_modules = 0;
    int threads = 0;
    for (size_t i = 0; i < SS_SEG_SLOTS; i++) {
        struct ss_slot_view *v = &p->views[i];
        if (v->tid == 0)
            continue;
        emit_thread(p, &p->seg->slots[i], v);
        if (!threads++ && p->sampling_written)
            ss_sample_write_sampling(p);
        v->hist_iterations = 0;
        write_histogram(p, &p->seg->slots[i], v);
        if (v->in_loop)
            ss_mproc_write_loop_begin(p, v, &v->loop_begin);
    }
    ss_sites_rewrite(&p->sites, &p->stacks, &p->out);
    p->drops_written_sum = UINT64_MAX;
    write_drops(p);
    ss_writer_flush(&p->out);
}

/* One look at everything; returns when to look again. */
static uint64_t pass(struct ss_mproc *p, uint64_t now, int final)
{
    uint64_t next = p->next_flush_ns;
    for (size_t i = 0; i < SS_SEG_SLOTS; i++) {
        uint64_t t = visit(p, &p->seg->slots[i], &p->views[i], now, final);
        if (t < next)
            next = t;
    }
    drain_notes(p);
    uint64_t execs = ss_execs_drain(&p->execs, now, p->config.flush_ns, note, p);
    if (execs < next)
        next = execs;
    if (final || now >= p->next_flush_ns)
        periodic(p, now);
    if (p->trace_state > 0) {
        ss_writer_flush(&p->out);
        if (ss_writer_wants_rotation(&p->out))
            rotate_trace(p);
    }
    return next;
}

static void sleep_until(struct ss_mproc *p, uint32_t seen, uint64_t when)
{
    struct timespec until = {(time_t)(when / 1000000000ull), (long)(when % 1000000000ull)};
    /* Not private: the shim wakes this word in its own mapping of the segment. */
    syscall(SYS_futex, &p->seg->wake, FUTEX_WAIT_BITSET, seen, &until, NULL,
            FUTEX_BITSET_MATCH_ANY);
}

static void *tracker_main(void *arg)
{
    struct ss_mproc *p = arg;
    p->next_flush_ns = ss_monotonic_ns() + p->config.flush_ns;
    ss_sample_decide(p, p->pid);
    /* Last: a process can tell from it that the monitor has it. */
    atomic_store(&p->seg->monitor_pid, (int32_t)getpid());
    uint64_t deadline = 0;
    for (;;) {
        uint32_t seen = atomic_load(&p->seg->wake);
        int final =
            atomic_load(&p->superseded) || atomic_load(&p->seg->detached) || ss_mproc_gone(p);
        uint64_t now = ss_monotonic_ns();
        if (deadline && now > deadline)
            ss_stall_time_monitor_late(p, now - deadline, now);
        uint64_t next = pass(p, now, final);
        if (final)
            break;
        /* How late the kernel wakes the tracker, not how long a pass took. */
        uint64_t slept_at = ss_monotonic_ns();
        sleep_until(p, seen, next);
        deadline = next > slept_at ? next : slept_at;
    }
    if (atomic_load(&p->seg->detached))
        note(p, "detached: the process went on untraced");
    if (p->trace_state > 0) {
        uint64_t exit_ns = atomic_load(&p->seg->exit_ns);
        if (atomic_load(&p->seg->exiting) && !atomic_load(&p->superseded)) {
            struct ss_rec_end end = {exit_ns};
            ss_writer_record(&p->out, SS_REC_END, &end, sizeof end, NULL, 0);
        }
        ss_writer_close(&p->out);
    }
    atomic_store(&p->finished, 1);
    if (p->on_finished)
        p->on_finished(p->on_finished_ctx);
    return NULL;
}

int ss_mproc_start(struct ss_mproc *p)
{
    p->config = p->seg->config;
    if (p->config.interval_ns > p->config.threshold_ns)
        p->config.interval_ns = p->config.threshold_ns;
    p->classifier.pid = p->pid;
    p->classifier.strict = p->config.strict;
    snprintf(p->perf_map, sizeof p->perf_map, "/tmp/perf-%d.map", (int)p->pid);
    ss_execs_init(&p->execs, p->pid, p->seg);
    ss_target_prepare();
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 1 << 20);
    int rc = pthread_create(&p->thread, &attr, tracker_main, p);
    pthread_attr_destroy(&attr);
    return -rc;
}

void ss_mproc_poke(struct ss_mproc *p)
{
    atomic_fetch_add(&p->seg->wake, 1);
    syscall(SYS_futex, &p->seg->wake, FUTEX_WAKE, 1, NULL, NULL, 0);
}

void ss_mproc_free(struct ss_mproc *p)
{
    pthread_join(p->thread, NULL);
    ss_sample_close(p);
    if (p->target)
        ss_target_free(p->target);
    ss_python_free(p->python);
    ss_stacks_free(&p->stacks);
    ss_sites_free(&p->sites);
    struct module_set *set = p->module_set;
    if (set)
        free(set->keys);
    free(set);
    if (p->pidfd >= 0)
        close(p->pidfd);
    free(p);
}
