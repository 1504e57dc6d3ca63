/* model: a recorded run loaded into memory: processes, their loop threads, stalls with their
 * samples, and stacks. Loading treats every byte as hostile; symbolization is lazy. Memory is
 * bounded: past a limit, only the longest stalls of a process are kept in detail and the others
 * are summed up exactly (struct ss_summary). The CLI commands, the exporters and the viewer all
 * read runs through this module, which src/trace/ implements (loader.h says which file does
 * what). */
#ifndef SS_MODEL_H
#define SS_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "common/trace-format.h"
#include "symbols/symbolize.h"
#include "util/intern.h"

struct ss_cause_rules;

/* Stalls kept in detail per process unless told otherwise: a few megabytes (docs/performance.md),
 * and more than an ordinary run has, so that only day-long runs are summarised. */
#define SS_KEEP_STALLS_DEFAULT 20000

struct ss_frame {
    uint64_t addr;      /* lookup address as recorded */
    const char *symbol; /* NULL when unresolved */
    const char *module; /* full path, NULL when in no known module */
    uint64_t offset;    /* from the symbol, or from the module's base when unresolved */
    enum ss_frame_kind kind;
    const char *file; /* source file, NULL when unknown */
    unsigned line;    /* 0 when unknown */
};

/* A Python function at a line, as a PYFRAME record names it: a stack frame whose address is
 * SS_PYFRAME_ADDR(id) (src/common/trace-format.h) ran it. */
struct ss_pyframe {
    uint32_t id, line, first_line;
    const char *function, *file; /* in the process's strings */
};

struct ss_stack {
    uint32_t id;    /* as the trace names it */
    uint32_t index; /* its place in the process's stacks */
    uint32_t nframes;
    uint64_t *addrs;         /* innermost first */
    struct ss_frame *frames; /* filled by ss_process_symbolize */
    /* Filled by ss_run_classify: the kind of work on CPU the stack shows ("json", "code"; NULL
     * when not classified or unnamed) and the function that says so. */
    const char *cpu_kind, *cpu_where;
};

struct ss_sample {
    uint64_t offset_ns; /* since the stall began */
    uint32_t capture_ns;
    uint16_t source;  /* enum ss_sample_source */
    const char *call; /* interposed call the sample was taken at, or NULL */
    uint64_t call_ns;
    struct ss_stack *stack; /* NULL when the capture failed */
};

/* The blocking calls of one function made inside a stall. */
struct ss_stall_call {
    const char *function;
    const char *category;
    uint64_t count, duration_ns;
};

/* A call site: where a blocking call was made on a loop thread. */
struct ss_call_site {
    uint32_t tid, id;
    char *function;
    const char *category; /* one of SS_CATEGORIES: "file", "net", "dns", "sleep", ... */
    uint64_t count, total_ns, max_ns, first_ns;
    char *detail;           /* an example target: path, host, descriptor */
    struct ss_stack *stack; /* its deepest (then slowest) captured stack, NULL when none */
};

struct ss_stall {
    uint32_t tid;
    uint64_t start_ns; /* monotonic clock of the traced machine */
    uint64_t duration_ns;
    int in_progress; /* no end seen yet: duration is what was observed so far */
    struct ss_sample *samples;
    size_t nsamples, samples_cap;
    struct ss_stall_call *calls;
    size_t ncalls, calls_cap;
    /* Time on CPU and waiting for a CPU, from detection (or from the start when
     * split_from_start) to the end; window_ns 0 = unknown. */
    uint64_t split_window_ns, split_cpu_ns, split_runnable_ns;
    int split_from_start;
    /* Major page faults of the thread from the stall's detection to its end, when measured. */
    uint64_t major_faults;
    int faults_known;
    /* Of the time waiting for a CPU: held back by the cgroup's CPU limit (the cgroup's own
     * figure, shared by its threads), and stolen by the hypervisor (machine-wide). */
    uint64_t throttled_ns, steal_ns;
    int throttled_known, steal_known;
    /* Parts of it during which the process was stopped, or the whole machine paused. */
    uint64_t stopped_ns, machine_ns;
    /* The asyncio Task the thread was running (interned), NULL when none was found; the
     * coroutine NULL when unknown. */
    const char *task_name, *task_coroutine;
};

/* A thread's loop: the wait it kept returning to, from when it was recognised to its end. */
struct ss_loop {
    uint32_t tid;
    uint16_t kind;         /* enum ss_loop_kind; 0 when the trace did not say (no LOOP_BEGIN) */
    int32_t fd;            /* SS_LOOP_EPOLL: the epoll descriptor, else -1 */
    const char *wait;      /* the wait function's name, "" when unknown */
    struct ss_stack *site; /* SS_LOOP_SITE: one frame, the wait's call site; NULL when unknown */
    uint64_t begin_ns;     /* 0 when unknown */
    uint64_t end_ns;       /* 0: still running when the trace ends */
    uint16_t end_reason;   /* enum ss_loop_end_reason, 0 while running */
    /* From the return of the loop's last wait to its end: not an iteration, and not a stall.
     * duration_ns 0 when the loop ended in its wait. Meaningless for SS_LOOP_NOT_A_LOOP. */
    struct ss_stall last;
};

struct ss_thread {
    uint32_t tid;
    char name[32];
    int loop; /* has had a loop that was not found to be a worker's */
    uint64_t first_wait_ns, exit_ns;
    uint64_t iterations, busy_total_ns, busy_max_ns;
    uint64_t hist[SS_HIST_BUCKETS];
};

/* What the loader keeps of the stalls it summarised: exact sums whose size grows with what is
 * distinct (threads, blocking functions, stacks), not with the number of stalls. */
struct ss_summary_thread {
    uint32_t tid;
    uint64_t stalls, total_ns, max_ns;
    uint64_t hist[SS_HIST_BUCKETS]; /* their durations, bucketed as busy times are */
};

struct ss_summary_call {
    uint32_t tid;
    const char *function, *category;
    uint64_t count, duration_ns;
};

/* The spans of summarised stalls whose samples show the same frames: sample holds the stack
 * and, for a call sample, the call (its times mean nothing); span_ns is the stalled time the
 * samples stand for, shared out as ss_stall_spans does; stalls counts the stalls whose longest
 * span (ss_longest_span) it was. */
struct ss_summary_stack {
    uint32_t tid;
    struct ss_sample sample;
    uint64_t spans, span_ns, stalls;
};

struct ss_summary {
    uint64_t stalls;                   /* 0: every stall is kept in detail */
    struct ss_summary_thread *threads; /* by tid */
    size_t nthreads;
    struct ss_summary_call *calls; /* by tid, function, category */
    size_t ncalls;
    struct ss_summary_stack *stacks; /* by tid, stack id, call */
    size_t nstacks;
};

struct ss_module {
    uint64_t bias, lo, hi;
    uint8_t build_id[64];
    size_t build_id_len;
    char *path;
};

struct ss_process {
    char *file;     /* trace file it was read from: the newest, when rotated */
    unsigned files; /* trace files it was read from (a rotated trace has several) */
    uint32_t pid, ppid;
    char *exe;
    char *command; /* arguments joined with spaces */
    uint64_t start_mono_ns, start_real_ns, threshold_ns, interval_ns;
    uint64_t end_ns;  /* 0 unless the process exited through exit() */
    uint64_t last_ns; /* latest time seen in the trace */
    int truncated;    /* the file ends inside a record (the process was killed) */
    struct ss_thread *threads;
    size_t nthreads;
    struct ss_stall *stalls; /* in start order; the longest keep_stalls when summarised */
    size_t nstalls;
    size_t keep_stalls; /* the limit it was loaded with; 0: no limit */
    struct ss_summary summary;
    struct ss_loop *loops; /* in the order they began (or ended, for those with no begin) */
    size_t nloops;
    struct ss_interner strings; /* call and function names, each held once */
    struct ss_stack **stacks;   /* in the order they were recorded */
    size_t nstacks;
    struct ss_module *modules;
    size_t nmodules;
    struct ss_pyframe *pyframes; /* sorted by id once loaded */
    size_t npyframes;
    struct ss_call_site *calls;
    size_t ncalls;
    struct ss_rec_drops drops;
    struct ss_rec_sampling sampling; /* method 0: not said (a trace of an older shim) */
    char **notes;
    size_t nnotes;
    size_t nuntraced; /* notes about children that ran a program the shim could not follow */
    struct ss_symbolizer *sym;
    int symbolized;
};

struct ss_run {
    char *path;
    struct ss_process *procs;
    size_t nprocs;
    struct ss_elf_cache *cache;
    struct ss_cause_rules *causes; /* what named the stacks' kinds (ss_run_classify), or NULL */
};

/* Loads a trace file or a run directory (every stallscope-*.trace in it), keeping up to
 * SS_KEEP_STALLS_DEFAULT stalls per process in detail. On error returns a negative code from
 * errors.h and writes one line of detail to err. */
int ss_run_load(const char *path, struct ss_run **out, char *err, size_t err_size);
/* The same with keep_stalls stalls per process in detail, 0 for all of them. The stalls kept
 * are the longest (ties: the earlier); the others are summarised once they are complete. */
int ss_run_load_keep(const char *path, size_t keep_stalls, struct ss_run **out, char *err,
                     size_t err_size);
/* Loads what can be read of a run directory, keeping keep_stalls stalls per process in
 * detail: a process whose trace cannot be read is left out and counted in *skipped, with the
 * first one's problem in err; a directory without traces is an empty run. Fails only when the
 * directory cannot be listed or memory runs out. For a run that is still being written. */
int ss_run_load_readable(const char *dir, size_t keep_stalls, struct ss_run **out, size_t *skipped,
                         char *err, size_t err_size);
/* The trace files of one process in a run directory, oldest first (a rotated trace has
 * several); pid and start are 0 when its first file's header could not be read. */
struct ss_trace_group {
    uint32_t pid;
    uint64_t start_ns;
    char *const *paths;
    size_t npaths;
};
/* ss_run_load_readable, loading only the processes for which want(ctx, group) is non-zero:
 * for a reader that keeps what it made of the others. */
int ss_run_load_selected(const char *dir, size_t keep_stalls,
                         int (*want)(void *ctx, const struct ss_trace_group *group), void *ctx,
                         struct ss_run **out, size_t *skipped, char *err, size_t err_size);
void ss_run_free(struct ss_run *run);
/* Moves the processes of `from` into `into` and frees `from`, for one view of several runs;
 * both must not have been symbolized or classified yet. Returns 0, or -ENOMEM with both left
 * as they were. */
int ss_run_absorb(struct ss_run *into, struct ss_run *from);
/* Whether a file name is one a run directory's traces have: stallscope-*.trace. */
int ss_is_trace_file_name(const char *name);

/* Resolves every frame of every stack of the process (ELF symbols, JIT maps). Idempotent. */
void ss_process_symbolize(struct ss_run *run, struct ss_process *p);

/* The PYFRAME record of a Python frame's address (SS_PYFRAME_ADDR), NULL when the trace has
 * none. */
const struct ss_pyframe *ss_process_pyframe(const struct ss_process *p, uint64_t addr);
const struct ss_thread *ss_process_thread(const struct ss_process *p, uint32_t tid);
/* A thread's name as every output shows it: the name it had, else its program's file name
 * (a thread whose name could not be read), else "?". */
const char *ss_thread_label(const struct ss_process *p, uint32_t tid);
/* Category names in the trace's numbering; NULL for a number out of range. */
const char *ss_category_name(unsigned category);
/* The latest sample of a stall still running when it was taken inside a call, or inside a
 * system call the trace names: where the thread is stuck now. NULL otherwise. */
const struct ss_sample *ss_stall_still_blocked(const struct ss_stall *s);
/* Blocking time of a stall in one category, summed over its calls. */
uint64_t ss_stall_blocked_ns(const struct ss_stall *s, const char *category);
uint64_t ss_drops_total(const struct ss_rec_drops *d);
/* "signal", "call", "perf" or "syscall": how a sample was taken. */
const char *ss_sample_source_name(unsigned source);
/* How the monitor sampled a process, in words ("perf events", "signal 38 (perf events
 * refused: Permission denied)"); "" when the trace does not say. */
void ss_sampling_describe(const struct ss_rec_sampling *s, char *buf, size_t size);
/* Whether a note is the shim's "child PID ran PATH untraced: REASON". */
int ss_note_is_untraced_child(const char *note);
/* "closed", "replaced", "not_a_loop", "thread_exit" or "process_exit"; "running" for 0. */
const char *ss_loop_end_name(unsigned reason);
/* Stalls of a thread (tid 0: of every thread), kept and summarised. */
uint64_t ss_process_stall_count(const struct ss_process *p, uint32_t tid);
/* The summary of a thread's summarised stalls, NULL when it has none. */
const struct ss_summary_thread *ss_summary_thread(const struct ss_process *p, uint32_t tid);

/* Busy-time percentile (0..100) estimated from a thread's histogram: interpolated within the
 * bucket, never above the recorded maximum. 0 when the thread has no iterations. */
uint64_t ss_thread_percentile(const struct ss_thread *t, double pct);

#endif
