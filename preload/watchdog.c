/* watchdog: the shim's own thread. It sleeps until the next moment a stall could begin,
 * samples stalled loop threads, unwinds their snapshots, and is the only writer of the trace.
 * Everything that may block, allocate or do I/O happens here, never on a loop thread. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "catalogue.h"
#include "shim.h"
#include "writer.h"

/* What the watchdog knows of each slot; only the watchdog touches it. */
struct slot_view {
    pid_t tid; /* owner when last seen; 0 = not yet announced */
    char name[16];
    uint64_t stall; /* iteration announced as a stall, 0 = none */
    uint64_t next_sample_ns;
    /* A signal of ours the thread has not answered within sample_timeout: it still waits in
     * the thread's pending set. signals_answered was `answered_before` when it was sent. */
    int unanswered;
    uint32_t answered_before;
    uint64_t hist_iterations; /* iterations at the last histogram record */
    /* Scheduler statistics when the stall was detected, for its time split. */
    uint64_t split_iteration, split_t0, split_cpu0, split_wait0;
    /* Blocking calls of recent iterations, kept until it is known whether they stalled. */
    struct iteration_call {
        uint64_t iteration, count, total_ns;
        uint16_t call;
        int8_t category;
    } calls[32];
    unsigned ncalls;
};

/* A call site: one (thread, return address, function). */
struct site {
    uint64_t key;
    uint32_t tid, id, stack;
    uint32_t stack_depth; /* frames in stack */
    uint16_t call;
    int8_t category;
    uint64_t count, total_ns, max_ns, first_ns;
    char detail[128];
    int dirty; /* changed since its last record */
};

struct stack_entry {
    uint64_t hash;
    uint32_t id, nframes;
    size_t offset; /* into stacks.frames */
};

static struct {
    struct ss_writer out;
    struct slot_view views[SS_MAX_LOOP_THREADS];
    struct {
        struct stack_entry *table; /* open addressing, size a power of two */
        size_t size, used;
        uint64_t *frames;
        size_t frames_len, frames_cap;
        uint32_t next_id;
    } stacks;
    struct {
        struct site *items;
        size_t n, cap;
        uint32_t *index; /* open addressing over items: slot holds index + 1 */
        size_t index_size;
    } sites;
    unsigned long long loader_generation;
    int have_unwinder;
    uint64_t samples_failed, samples_timed_out, drops_written_sum;
    uint64_t retired_events, retired_snaps; /* drops of slots whose threads have exited */
    uint64_t calls_lost;
    char perf_map[64]; /* /tmp/perf-PID.map of this process */
    uint64_t next_flush_ns;
} wd;

static pthread_t watchdog_thread;
static _Atomic uint32_t wake_word;
static _Atomic uint32_t done_word;
static _Atomic int exit_requested;

static void futex_wait(_Atomic uint32_t *word, uint32_t seen, const struct timespec *abs_mono)
{
    syscall(SYS_futex, word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, seen, abs_mono, NULL,
            FUTEX_BITSET_MATCH_ANY);
}

static void futex_wake(_Atomic uint32_t *word)
{
    atomic_fetch_add(word, 1);
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static struct timespec to_timespec(uint64_t ns)
{
    return (struct timespec){(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
}

static void note(const char *text)
{
    ss__writer_record(&wd.out, SS_REC_NOTE, text, strlen(text), NULL, 0);
}

static ssize_t read_file(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = 0;
    while (len < size) {
        ssize_t n = read(fd, buf + len, size - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    return (ssize_t)len;
}

/* ---- module map ---------------------------------------------------------------------- */

static int emit_module(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    unsigned long long *generation = arg;
    *generation = info->dlpi_adds + info->dlpi_subs;
    uint64_t lo, hi;
    if (ss__write_module(&wd.out, info, &lo, &hi) < 0)
        return 0;
    uint64_t self = (uint64_t)(uintptr_t)&ss__capture_regs;
    if (self >= lo && self < hi)
        ss__unwind_set_self(lo, hi);
    return 0;
}

static int loader_generation(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    *(unsigned long long *)arg = info->dlpi_adds + info->dlpi_subs;
    return 1;
}

/* Re-emits the module map whenever libraries were loaded or unloaded since the last one. */
static void refresh_modules(void)
{
    unsigned long long generation = 0;
    dl_iterate_phdr(loader_generation, &generation);
    if (generation == wd.loader_generation)
        return;
    dl_iterate_phdr(emit_module, &generation);
    wd.loader_generation = generation;
    ss__unwind_flush();
}

/* ---- stacks, stored once ---------------------------------------------------------------- */

static uint64_t hash_frames(const uint64_t *f, unsigned n)
{
    uint64_t h = 1469598103934665603ull;
    for (unsigned i = 0; i < n; i++) {
        h ^= f[i];
        h *= 1099511628211ull;
        h ^= h >> 29;
    }
    return h ? h : 1;
}

static int grow_table(void)
{
    size_t size = wd.stacks.size ? wd.stacks.size * 2 : 1024;
    struct stack_entry *t = calloc(size, sizeof *t);
    if (!t)
        return -1;
    for (size_t i = 0; i < wd.stacks.size; i++) {
        struct stack_entry *e = &wd.stacks.table[i];
        if (!e->hash)
            continue;
        size_t j = e->hash & (size - 1);
        while (t[j].hash)
            j = (j + 1) & (size - 1);
        t[j] = *e;
    }
    free(wd.stacks.table);
    wd.stacks.table = t;
    wd.stacks.size = size;
    return 0;
}

/* Returns the id of the stack, writing a STACK record the first time it is seen; 0 when out
 * of memory. */
static uint32_t intern_stack(const uint64_t *f, unsigned n)
{
    if ((wd.stacks.used + 1) * 2 > wd.stacks.size && grow_table() < 0)
        return 0;
    uint64_t h = hash_frames(f, n);
    size_t mask = wd.stacks.size - 1, i = h & mask;
    for (; wd.stacks.table[i].hash; i = (i + 1) & mask) {
        struct stack_entry *e = &wd.stacks.table[i];
        if (e->hash == h && e->nframes == n &&
            memcmp(wd.stacks.frames + e->offset, f, n * sizeof *f) == 0)
            return e->id;
    }
    if (wd.stacks.frames_len + n > wd.stacks.frames_cap) {
        size_t cap = wd.stacks.frames_cap ? wd.stacks.frames_cap * 2 : 16384;
        while (cap < wd.stacks.frames_len + n)
            cap *= 2;
        uint64_t *p = realloc(wd.stacks.frames, cap * sizeof *p);
        if (!p)
            return 0;
        wd.stacks.frames = p;
        wd.stacks.frames_cap = cap;
    }
    memcpy(wd.stacks.frames + wd.stacks.frames_len, f, n * sizeof *f);
    uint32_t id = ++wd.stacks.next_id;
    wd.stacks.table[i] = (struct stack_entry){h, id, n, wd.stacks.frames_len};
    wd.stacks.frames_len += n;
    wd.stacks.used++;
    refresh_modules();
    struct ss_rec_stack rec = {id, n};
    ss__writer_record(&wd.out, SS_REC_STACK, &rec, sizeof rec, f, n * sizeof *f);
    return id;
}

static void forget_stacks(void)
{
    free(wd.stacks.table);
    free(wd.stacks.frames);
    memset(&wd.stacks, 0, sizeof wd.stacks);
}

/* ---- threads ---------------------------------------------------------------------------- */

/* The mapping that holds an address known to be on a thread's stack: [*lo, *hi). The main
 * thread's stack grows down as it is used, so its start is no bound (*lo = 0). Returns 0 when
 * not found. */
static int stack_mapping_of(uintptr_t sp, uintptr_t *lo, uintptr_t *hi)
{
    static char maps[1 << 20];
    ssize_t len = read_file("/proc/self/maps", maps, sizeof maps - 1);
    if (len <= 0)
        return 0;
    maps[len] = '\0';
    for (char *line = maps; line && *line;) {
        char *next = strchr(line, '\n');
        unsigned long start, end;
        if (sscanf(line, "%lx-%lx", &start, &end) == 2 && sp >= start && sp < end) {
            char *tail = next ? next : line + strlen(line);
            int grows = tail - line >= 7 && memcmp(tail - 7, "[stack]", 7) == 0;
            *lo = grows ? 0 : start;
            *hi = end;
            return 1;
        }
        line = next ? next + 1 : NULL;
    }
    return 0;
}

static void read_thread_name(pid_t tid, char name[16])
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/comm", (int)tid);
    ssize_t n = read_file(path, name, 15);
    if (n < 0)
        n = 0;
    while (n > 0 && (name[n - 1] == '\n' || name[n - 1] == '\0'))
        n--;
    name[n] = '\0';
}

static void emit_thread(struct ss_slot *s, struct slot_view *v)
{
    struct ss_rec_thread rec = {(uint32_t)v->tid, SS_THREAD_LOOP, s->first_wait_ns};
    ss__writer_record(&wd.out, SS_REC_THREAD, &rec, sizeof rec, v->name, strlen(v->name));
}

static void announce_thread(struct ss_slot *s, struct slot_view *v, pid_t tid)
{
    memset(v, 0, sizeof *v);
    v->tid = tid;
    read_thread_name(tid, v->name);
    /* Exact bounds in place of those known at the claim: the end is the same, or found at
     * last for a thread whose first wait ran on a stack of its own making. The end first, so
     * that a capture that sees the new start sees the new end too. */
    uintptr_t lo, hi;
    if (stack_mapping_of(s->sp_hint, &lo, &hi)) {
        atomic_store_explicit(&s->stack_hi, hi, memory_order_release);
        atomic_store_explicit(&s->stack_lo, lo, memory_order_release);
    }
    emit_thread(s, v);
}

static void write_histogram(struct ss_slot *s, struct slot_view *v)
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
    ss__writer_record(&wd.out, SS_REC_HISTOGRAM, &rec, sizeof rec, buckets, sizeof buckets);
}

static void write_drops(void)
{
    struct ss_rec_drops d = {0, wd.samples_failed, wd.samples_timed_out, wd.out.unwritten};
    d.events += wd.retired_events + wd.calls_lost + ss__children_dropped();
    d.samples_failed += wd.retired_snaps;
    for (size_t i = 0; i < SS_MAX_LOOP_THREADS; i++) {
        if (wd.views[i].tid == 0)
            continue;
        d.events += atomic_load_explicit(&ss__slots[i].ended_dropped, memory_order_relaxed) +
                    atomic_load_explicit(&ss__slots[i].calls_dropped, memory_order_relaxed);
        d.samples_failed += atomic_load_explicit(&ss__slots[i].snaps_dropped, memory_order_relaxed);
    }
    uint64_t sum = d.events + d.samples_failed + d.samples_timed_out + d.records_unwritten;
    if (sum == wd.drops_written_sum)
        return;
    wd.drops_written_sum = sum;
    ss__writer_record(&wd.out, SS_REC_DROPS, &d, sizeof d, NULL, 0);
}

/* ---- stalls and samples ----------------------------------------------------------------- */

static int schedstat(pid_t tid, uint64_t *cpu, uint64_t *wait);
static void write_stall_calls(struct slot_view *v, uint64_t iteration);
static void write_split(struct slot_view *v, uint64_t iteration, uint64_t end_ns);

/* Writes the stalls that ended, up to `head` read before the calls were drained: a stall's
 * calls precede its end in the owner's program order. */
static void drain_ended(struct ss_slot *s, struct slot_view *v, uint32_t head)
{
    uint32_t tail = atomic_load_explicit(&s->ended_tail, memory_order_relaxed);
    for (; tail != head; tail++) {
        struct ss_stall_end e = s->ended[tail % SS_STALL_RING];
        struct ss_rec_stall_end rec = {(uint32_t)v->tid, 0, e.start_ns, e.start_ns, e.duration_ns};
        ss__writer_record(&wd.out, SS_REC_STALL_END, &rec, sizeof rec, NULL, 0);
        write_stall_calls(v, e.start_ns);
        write_split(v, e.start_ns, e.start_ns + e.duration_ns);
        if (v->stall == e.start_ns)
            v->stall = 0;
    }
    atomic_store_explicit(&s->ended_tail, tail, memory_order_release);
}

static void announce_stall(struct slot_view *v, uint64_t iteration)
{
    v->stall = iteration;
    if (schedstat(v->tid, &v->split_cpu0, &v->split_wait0) == 0) {
        v->split_iteration = iteration;
        v->split_t0 = ss__now();
    }
    struct ss_rec_stall_begin rec = {(uint32_t)v->tid, 0, iteration, iteration};
    ss__writer_record(&wd.out, SS_REC_STALL_BEGIN, &rec, sizeof rec, NULL, 0);
}

static uint32_t unwind_snapshot(const struct ss_snapshot *snap, unsigned *nframes,
                                uint32_t *capture_ns)
{
    uint64_t frames[SS_TRACE_MAX_FRAMES];
    uint64_t t0 = ss__now();
    unsigned n = snap->stack_len ? ss__unwind(snap, frames, SS_TRACE_MAX_FRAMES) : 0;
    *capture_ns = (uint32_t)(ss__now() - t0);
    *nframes = n;
    uint32_t stack = n ? intern_stack(frames, n) : 0;
    if (!stack)
        wd.samples_failed++;
    return stack;
}

static void write_sample(const struct slot_view *v, uint64_t iteration, uint64_t offset,
                         uint32_t stack, unsigned nframes, uint32_t capture_ns, uint16_t source,
                         uint64_t call_ns, const char *call)
{
    struct ss_rec_sample rec = {(uint32_t)v->tid,  stack,  iteration, offset, capture_ns,
                                (uint16_t)nframes, source, call_ns};
    ss__writer_record(&wd.out, SS_REC_SAMPLE, &rec, sizeof rec, call, call ? strlen(call) : 0);
}

/* Unwinds the READY signal snapshot into a SAMPLE record and frees it for the next one. */
static void consume_snapshot(struct ss_slot *s, struct slot_view *v)
{
    struct ss_snapshot *snap = &s->snap;
    /* A signal can land after the stalled iteration ended and a new, short one began. */
    if (snap->thread_state == SS_STATE_WAITING || snap->iteration == 0 ||
        snap->taken_ns - snap->iteration < ss__opts.threshold_ns) {
        atomic_store_explicit(&s->snap_state, SS_SNAP_FREE, memory_order_release);
        return;
    }
    if (v->stall != snap->iteration)
        announce_stall(v, snap->iteration);
    unsigned n;
    uint32_t capture_ns, stack = unwind_snapshot(snap, &n, &capture_ns);
    uint64_t iteration = snap->iteration, offset = snap->taken_ns - snap->iteration;
    atomic_store_explicit(&s->snap_state, SS_SNAP_FREE, memory_order_release);
    write_sample(v, iteration, offset, stack, n, capture_ns, SS_SAMPLE_SIGNAL, 0, NULL);
}

/* ---- blocking calls ----------------------------------------------------------------------- */

static int category_of_kind(enum ss_fd_kind kind, int nonblocking)
{
    switch (kind) {
    case SS_FD_FILE:
        return SS_CAT_FILE;
    case SS_FD_SOCKET:
        return nonblocking && !ss__opts.strict ? SS_CAT_NONE : SS_CAT_NET;
    default:
        return ss__opts.strict ? SS_CAT_FILE : SS_CAT_NONE;
    }
}

/* Kinds of recently classified paths: a server that opens the same files over and over
 * would otherwise cost a stat per call. A path can change kind, so an answer is trusted for
 * a second only. */
#define PATH_KINDS 512
#define PATH_KIND_TTL_NS 1000000000ull
static struct path_kind {
    uint64_t hash;
    uint64_t checked_ns;
    enum ss_fd_kind kind;
} path_kinds[PATH_KINDS];

static uint64_t path_hash(const char *path)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)path; *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    return h | 1;
}

/* What a descriptor of a call is, when the loop thread could not tell: from the path it was
 * opened with if there is one (the descriptor may be closed or reused by now), else from the
 * descriptor itself. The answer is cached for the loop thread's next call when the descriptor
 * still is what was called. */
static int classify(const struct ss_call_event *e)
{
    struct path_kind *known = NULL;
    uint64_t hash = 0, now = ss__now();
    if (e->detail[0] == '/') {
        hash = path_hash(e->detail);
        known = &path_kinds[hash % PATH_KINDS];
        if (known->hash == hash && now - known->checked_ns < PATH_KIND_TTL_NS)
            return category_of_kind(known->kind, 0);
    }
    struct stat by_path, by_fd;
    int have_path = known && stat(e->detail, &by_path) == 0;
    int have_fd = e->fd >= 0 && fstat(e->fd, &by_fd) == 0;
    const struct stat *st = have_path ? &by_path : have_fd ? &by_fd : NULL;
    if (!st)
        return SS_CAT_NONE;
    enum ss_fd_kind kind = ss__fd_kind_of_mode(st->st_mode);
    if (have_path)
        *known = (struct path_kind){hash, now, kind};
    int nonblocking = 0;
    if (kind == SS_FD_SOCKET && have_fd) {
        int fl = fcntl(e->fd, F_GETFL);
        nonblocking = fl >= 0 && (fl & O_NONBLOCK);
    }
    if (have_fd &&
        (!have_path || (by_fd.st_dev == by_path.st_dev && by_fd.st_ino == by_path.st_ino)))
        ss__fd_set_kind(e->fd, kind, nonblocking);
    return category_of_kind(kind, nonblocking);
}

static uint64_t site_hash(uint64_t key)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdull;
    return key ^ (key >> 29);
}

static void write_site(const struct site *st)
{
    const char *name = ss__call_names[st->call];
    struct ss_rec_call_site rec = {
        st->tid,
        st->id,
        st->stack,
        (uint16_t)st->category,
        0,
        st->count,
        st->total_ns,
        st->max_ns,
        st->first_ns,
        (uint16_t)strlen(name),
        (uint16_t)strlen(st->detail),
    };
    ss__writer_record2(&wd.out, SS_REC_CALL_SITE, &rec, sizeof rec, name, rec.function_len,
                       st->detail, rec.detail_len);
}

static struct site *find_site(uint32_t tid, uint64_t address, uint16_t call)
{
    uint64_t key = site_hash(address ^ ((uint64_t)call << 48) ^ ((uint64_t)tid << 20));
    if (wd.sites.index_size) {
        size_t mask = wd.sites.index_size - 1;
        for (size_t i = key & mask; wd.sites.index[i]; i = (i + 1) & mask) {
            struct site *st = &wd.sites.items[wd.sites.index[i] - 1];
            if (st->key == key && st->tid == tid && st->call == call)
                return st;
        }
    }
    if ((wd.sites.n + 1) * 2 > wd.sites.index_size) {
        size_t size = wd.sites.index_size ? wd.sites.index_size * 2 : 256;
        uint32_t *index = calloc(size, sizeof *index);
        if (!index)
            return NULL;
        for (size_t k = 0; k < wd.sites.n; k++) {
            size_t i = wd.sites.items[k].key & (size - 1);
            while (index[i])
                i = (i + 1) & (size - 1);
            index[i] = (uint32_t)k + 1;
        }
        free(wd.sites.index);
        wd.sites.index = index;
        wd.sites.index_size = size;
    }
    if (wd.sites.n == wd.sites.cap) {
        size_t cap = wd.sites.cap ? wd.sites.cap * 2 : 64;
        struct site *items = realloc(wd.sites.items, cap * sizeof *items);
        if (!items)
            return NULL;
        wd.sites.items = items;
        wd.sites.cap = cap;
    }
    struct site *st = &wd.sites.items[wd.sites.n];
    memset(st, 0, sizeof *st);
    st->key = key;
    st->tid = tid;
    st->call = call;
    st->id = (uint32_t)++wd.sites.n;
    size_t i = key & (wd.sites.index_size - 1);
    while (wd.sites.index[i])
        i = (i + 1) & (wd.sites.index_size - 1);
    wd.sites.index[i] = st->id;
    return st;
}

/* A socket is named as one: by now its number may belong to something else. */
static void describe(const struct ss_call_event *e, int category, char *out, size_t size)
{
    if (e->detail[0] || e->fd < 0) {
        snprintf(out, size, "%s", e->detail);
        return;
    }
    if (category == SS_CAT_NET) {
        snprintf(out, size, "fd %d: socket", e->fd);
        return;
    }
    char link[64], target[96];
    snprintf(link, sizeof link, "/proc/self/fd/%d", e->fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    target[n > 0 ? n : 0] = '\0';
    snprintf(out, size, "fd %d%s%s", e->fd, n > 0 ? ": " : "", target);
}

static void account_site(struct slot_view *v, const struct ss_call_event *e, int category,
                         uint32_t stack, unsigned nframes)
{
    struct site *st = find_site((uint32_t)v->tid, e->site, e->call);
    if (!st) {
        wd.calls_lost++;
        return;
    }
    int fresh = st->count == 0;
    if (fresh) {
        st->category = (int8_t)category;
        st->first_ns = e->start_ns;
        describe(e, category, st->detail, sizeof st->detail);
    }
    st->count++;
    st->total_ns += e->duration_ns;
    /* The stack shown for a site is its deepest one, the slowest among equals: an unwind
     * through JIT code can stop short, and a short stack may lack the caller that matters. */
    if (stack && (!st->stack || nframes > st->stack_depth ||
                  (nframes == st->stack_depth && e->duration_ns >= st->max_ns))) {
        st->stack = stack;
        st->stack_depth = nframes;
    }
    if (e->duration_ns > st->max_ns)
        st->max_ns = e->duration_ns;
    st->dirty = !fresh;
    if (fresh)
        write_site(st);
}

static void write_sites(void)
{
    for (size_t i = 0; i < wd.sites.n; i++) {
        if (wd.sites.items[i].dirty)
            write_site(&wd.sites.items[i]);
        wd.sites.items[i].dirty = 0;
    }
}

static void forget_sites(void)
{
    free(wd.sites.items);
    free(wd.sites.index);
    memset(&wd.sites, 0, sizeof wd.sites);
}

static void note_iteration_call(struct slot_view *v, const struct ss_call_event *e, int category)
{
    unsigned k;
    for (k = 0; k < v->ncalls; k++)
        if (v->calls[k].iteration == e->iteration && v->calls[k].call == e->call)
            break;
    if (k == v->ncalls) {
        if (v->ncalls == sizeof v->calls / sizeof v->calls[0]) {
            memmove(v->calls, v->calls + 1, (v->ncalls - 1) * sizeof v->calls[0]);
            k = --v->ncalls;
        }
        v->calls[k] = (struct iteration_call){e->iteration, 0, 0, e->call, (int8_t)category};
        v->ncalls++;
    }
    v->calls[k].count++;
    v->calls[k].total_ns += e->duration_ns;
}

/* Emits the calls of a stalled iteration and forgets those of the iterations before it,
 * which ended without stalling. */
static void write_stall_calls(struct slot_view *v, uint64_t iteration)
{
    unsigned kept = 0;
    for (unsigned k = 0; k < v->ncalls; k++) {
        struct iteration_call *c = &v->calls[k];
        if (c->iteration == iteration) {
            const char *name = ss__call_names[c->call];
            struct ss_rec_stall_call rec = {
                (uint32_t)v->tid, (uint16_t)c->category, 0, iteration, c->count, c->total_ns};
            ss__writer_record(&wd.out, SS_REC_STALL_CALL, &rec, sizeof rec, name, strlen(name));
        } else if (c->iteration > iteration) {
            v->calls[kept++] = *c;
        }
    }
    v->ncalls = kept;
}

static void drain_calls(struct ss_slot *s, struct slot_view *v)
{
    uint32_t tail = atomic_load_explicit(&s->calls_tail, memory_order_relaxed);
    uint32_t head = atomic_load_explicit(&s->calls_head, memory_order_acquire);
    for (; tail != head; tail++) {
        struct ss_call_event e = s->calls[tail % SS_CALL_RING];
        uint32_t stack = 0, capture_ns = 0;
        unsigned nframes = 0;
        if (e.snap) {
            stack = unwind_snapshot(&s->call_snaps[e.snap - 1], &nframes, &capture_ns);
            atomic_store_explicit(&s->call_snap_state[e.snap - 1], SS_SNAP_FREE,
                                  memory_order_release);
        }
        int category = e.category == SS_CAT_PENDING ? classify(&e) : e.category;
        /* The JIT map a runtime writes because stallscope asked it to is not the program's. */
        if (category == SS_CAT_NONE || strcmp(e.detail, wd.perf_map) == 0)
            continue;
        account_site(v, &e, category, stack, nframes);
        note_iteration_call(v, &e, category);
        uint64_t end = e.start_ns + e.duration_ns;
        /* A call that ran into a stall is a sample of it: the thread was not signalled. */
        if (stack && end - e.iteration >= ss__opts.threshold_ns)
            write_sample(v, e.iteration, end - e.iteration, stack, nframes, capture_ns,
                         SS_SAMPLE_CALL, e.duration_ns, ss__call_names[e.call]);
    }
    atomic_store_explicit(&s->calls_tail, tail, memory_order_release);
}

/* CPU time and run-queue wait of a thread so far, from /proc. */
static int schedstat(pid_t tid, uint64_t *cpu, uint64_t *wait)
{
    char path[64], buf[128];
    snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", (int)tid);
    ssize_t n = read_file(path, buf, sizeof buf - 1);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    unsigned long long c, w;
    if (sscanf(buf, "%llu %llu", &c, &w) != 2)
        return -1;
    *cpu = c;
    *wait = w;
    return 0;
}

/* The window runs from detection to the stall's end; the statistics are read a little
 * later, while the thread waits and adds nothing to them. */
static void write_split(struct slot_view *v, uint64_t iteration, uint64_t end_ns)
{
    uint64_t cpu, wait;
    if (v->split_iteration != iteration || end_ns <= v->split_t0 ||
        schedstat(v->tid, &cpu, &wait) != 0)
        return;
    struct ss_rec_stall_split rec = {(uint32_t)v->tid,    0,
                                     iteration,           end_ns - v->split_t0,
                                     cpu - v->split_cpu0, wait - v->split_wait0};
    ss__writer_record(&wd.out, SS_REC_STALL_SPLIT, &rec, sizeof rec, NULL, 0);
    v->split_iteration = 0;
}

static void pause_briefly(void)
{
    struct timespec ts = {0, 20000};
    nanosleep(&ts, NULL);
}

/* Signals the thread and waits for its handler to fill the snapshot. A thread that left a
 * signal unanswered (it blocks the signal with a raw system call, or sits where the kernel
 * holds signals back) is neither signalled nor waited for again until that signal has
 * reached it: each wait would cost sample_timeout, during which no other thread's stall is
 * seen to, and the new signal would only queue behind the old one. */
static void sample_thread(struct ss_slot *s, struct slot_view *v)
{
    uint32_t answered = atomic_load_explicit(&s->signals_answered, memory_order_relaxed);
    if (v->unanswered && answered == v->answered_before) {
        wd.samples_failed++;
        return;
    }
    v->unanswered = 0;
    int expected = SS_SNAP_FREE;
    if (!atomic_compare_exchange_strong(&s->snap_state, &expected, SS_SNAP_REQUESTED))
        return;
    /* Checked after the request is visible: a program taking the signal over waits for the
     * requests it can see (signals.c). */
    if (!atomic_load(&ss__sampling) || atomic_load(&s->signal_blocked)) {
        atomic_store(&s->snap_state, SS_SNAP_FREE);
        wd.samples_failed++;
        return;
    }
    v->answered_before = answered;
    if (syscall(SYS_tgkill, ss__pid, v->tid, ss__opts.signal) != 0) {
        atomic_store(&s->snap_state, SS_SNAP_FREE);
        return;
    }
    uint64_t deadline = ss__now() + ss__opts.sample_timeout_ns;
    for (;;) {
        int state = atomic_load_explicit(&s->snap_state, memory_order_acquire);
        if (state == SS_SNAP_READY) {
            consume_snapshot(s, v);
            return;
        }
        expected = SS_SNAP_REQUESTED;
        if (ss__now() >= deadline &&
            atomic_compare_exchange_strong(&s->snap_state, &expected, SS_SNAP_FREE)) {
            wd.samples_timed_out++;
            v->unanswered = 1;
            return;
        }
        pause_briefly();
    }
}

/* Looks at one slot; returns the next time it needs attention. */
static uint64_t visit(struct ss_slot *s, struct slot_view *v, uint64_t now, int final)
{
    pid_t owner = atomic_load_explicit(&s->owner, memory_order_acquire);
    if (owner <= 0)
        return UINT64_MAX;
    if (v->tid != owner)
        announce_thread(s, v, owner);
    /* A call's snapshot belongs to a stall that may have ended since: take it first. */
    if (atomic_load_explicit(&s->snap_state, memory_order_acquire) == SS_SNAP_READY)
        consume_snapshot(s, v);
    uint32_t ended = atomic_load_explicit(&s->ended_head, memory_order_acquire);
    drain_calls(s, v);
    drain_ended(s, v, ended);
    if (atomic_load_explicit(&s->exited, memory_order_acquire)) {
        write_histogram(s, v);
        struct ss_rec_thread_exit rec = {(uint32_t)v->tid, 0, now};
        ss__writer_record(&wd.out, SS_REC_THREAD_EXIT, &rec, sizeof rec, NULL, 0);
        wd.retired_events += atomic_load_explicit(&s->ended_dropped, memory_order_relaxed) +
                             atomic_load_explicit(&s->calls_dropped, memory_order_relaxed);
        wd.retired_snaps += atomic_load_explicit(&s->snaps_dropped, memory_order_relaxed);
        memset(v, 0, sizeof *v);
        atomic_store_explicit(&s->exited, 0, memory_order_relaxed);
        atomic_store_explicit(&s->owner, 0, memory_order_release);
        return UINT64_MAX;
    }
    int state = atomic_load_explicit(&s->state, memory_order_acquire);
    uint64_t iteration = atomic_load_explicit(&s->iteration, memory_order_relaxed);
    if (state == SS_STATE_WAITING || iteration == 0 || iteration > now)
        return now + ss__opts.threshold_ns;
    uint64_t stall_at = iteration + ss__opts.threshold_ns;
    if (now < stall_at)
        return stall_at;
    if (final) {
        /* The process is exiting inside this iteration: close the stall where it stands. */
        struct ss_rec_stall_end rec = {(uint32_t)v->tid, 0, iteration, iteration, now - iteration};
        if (v->stall != iteration)
            announce_stall(v, iteration);
        ss__writer_record(&wd.out, SS_REC_STALL_END, &rec, sizeof rec, NULL, 0);
        write_stall_calls(v, iteration);
        write_split(v, iteration, now);
        return UINT64_MAX;
    }
    if (v->stall != iteration) {
        announce_stall(v, iteration);
        v->next_sample_ns = now;
    }
    if (now >= v->next_sample_ns) {
        if (state == SS_STATE_BUSY && wd.have_unwinder && atomic_load(&ss__sampling))
            sample_thread(s, v);
        v->next_sample_ns = now + ss__opts.interval_ns;
    }
    return v->next_sample_ns;
}

static void write_process(void)
{
    static char cmd[8192];
    char exe[4096];
    ssize_t exe_len = readlink("/proc/self/exe", exe, sizeof exe);
    ssize_t cmd_len = read_file("/proc/self/cmdline", cmd, sizeof cmd);
    struct timespec real;
    clock_gettime(CLOCK_REALTIME, &real);
    uint64_t mono = ss__now();
    struct ss_rec_process p = {
        (uint32_t)ss__pid,
        (uint32_t)getppid(),
        mono,
        (uint64_t)real.tv_sec * 1000000000ull + (uint64_t)real.tv_nsec,
        ss__opts.threshold_ns,
        ss__opts.interval_ns,
        (uint32_t)(exe_len > 0 ? exe_len : 0),
        (uint32_t)(cmd_len > 0 ? cmd_len : 0),
    };
    ss__writer_record2(&wd.out, SS_REC_PROCESS, &p, sizeof p, exe, p.exe_len, cmd, p.cmd_len);
}

static void periodic(uint64_t now)
{
    for (size_t i = 0; i < SS_MAX_LOOP_THREADS; i++) {
        struct ss_slot *s = &ss__slots[i];
        struct slot_view *v = &wd.views[i];
        if (v->tid == 0 || atomic_load_explicit(&s->owner, memory_order_acquire) != v->tid)
            continue;
        write_histogram(s, v);
        char name[16];
        read_thread_name(v->tid, name);
        if (strcmp(name, v->name) != 0) {
            memcpy(v->name, name, sizeof name);
            emit_thread(s, v);
        }
    }
    write_drops();
    write_sites();
    wd.next_flush_ns = now + ss__opts.flush_ns;
}

static void *watchdog_main(void *arg)
{
    (void)arg;
    char why[512];
    prctl(PR_SET_NAME, "stallscope", 0, 0, 0);
    if (ss__writer_open(&wd.out, ss__opts.output, ss__pid, why, sizeof why) < 0) {
        ss__disable(why);
        futex_wake(&done_word);
        return NULL;
    }
    write_process();
    ss__children_watchdog_start();
    snprintf(wd.perf_map, sizeof wd.perf_map, "/tmp/perf-%d.map", (int)ss__pid);
    if (ss__opts.stacks) {
        if (ss__unwind_init(why, sizeof why) == 0) {
            wd.have_unwinder = 1;
            ss__install_signal_handler();
            if (!atomic_load(&ss__sampling))
                note("sampling signal in use by the program: stalls have no signal samples");
        } else {
            atomic_store(&ss__unwinding, 0);
            ss__warn("stacks are off: ", why);
            note(why);
        }
    }
    refresh_modules();
    ss__writer_flush(&wd.out);
    wd.next_flush_ns = ss__now() + ss__opts.flush_ns;
    for (;;) {
        uint32_t seen = atomic_load(&wake_word);
        int final = atomic_load(&exit_requested);
        uint64_t now = ss__now();
        uint64_t next = wd.next_flush_ns;
        for (size_t i = 0; i < SS_MAX_LOOP_THREADS; i++) {
            uint64_t t = visit(&ss__slots[i], &wd.views[i], now, final);
            if (t < next)
                next = t;
        }
        uint64_t children = ss__children_drain(now, note);
        if (children < next)
            next = children;
        const char *signal_lost = atomic_exchange(&ss__signal_lost, NULL);
        if (signal_lost)
            note(signal_lost);
        if (final || now >= wd.next_flush_ns)
            periodic(now);
        if (final) {
            struct ss_rec_end end = {ss__now()};
            ss__writer_record(&wd.out, SS_REC_END, &end, sizeof end, NULL, 0);
            ss__writer_close(&wd.out);
            futex_wake(&done_word);
            return NULL;
        }
        ss__writer_flush(&wd.out);
        struct timespec until = to_timespec(next);
        futex_wait(&wake_word, seen, &until);
    }
}

int ss__watchdog_start(void)
{
    sigset_t all, old;
    pthread_attr_t attr;
    sigfillset(&all);
    if (pthread_attr_init(&attr) != 0)
        return -1;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    /* The watchdog must never receive the host's signals. */
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&watchdog_thread, &attr, watchdog_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    return rc == 0 ? 0 : -1;
}

void ss__watchdog_after_fork(void)
{
    ss__writer_forget(&wd.out);
    forget_stacks();
    forget_sites();
    memset(wd.views, 0, sizeof wd.views);
    wd.loader_generation = 0;
    wd.samples_failed = wd.samples_timed_out = wd.drops_written_sum = 0;
    wd.retired_events = wd.retired_snaps = wd.calls_lost = 0;
    atomic_store(&exit_requested, 0);
    atomic_store(&done_word, 0);
}

/* Called from a loop thread only when its call ring is half full: one system call to avoid
 * dropping events. */
void ss__watchdog_wake(void)
{
    futex_wake(&wake_word);
}

void ss__watchdog_finish(void)
{
    uint32_t seen = atomic_load(&done_word);
    atomic_store(&exit_requested, 1);
    futex_wake(&wake_word);
    /* Bounded: a process must be able to exit even if the watchdog is stuck. */
    uint64_t deadline = ss__now() + 500000000ull;
    struct timespec until = to_timespec(deadline);
    while (atomic_load(&done_word) == seen && ss__now() < deadline)
        futex_wait(&done_word, seen, &until);
}
