/* process: one traced process as the monitor follows it. Each has a thread of the monitor of
 * its own (the tracker) that sleeps until the next moment one of its loop threads could
 * stall, samples stalled threads, drains the segment's rings and writes the process's trace.
 * The server (server.c) creates them as segments arrive and reaps them once they are done. */
#ifndef SS_MONITOR_PROCESS_H
#define SS_MONITOR_PROCESS_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/segment.h"
#include "monitor/classify.h"
#include "monitor/execs.h"
#include "monitor/sites.h"
#include "monitor/stacks.h"
#include "trace/trace-writer.h"
#include "util/clock.h"

struct ss_target;
struct ss_perf;
struct ss_python;

/* How a process's stalled threads are sampled. */
enum ss_method {
    SS_METHOD_UNDECIDED = 0,
    SS_METHOD_PERF,   /* perf events: no signal ever reaches the process */
    SS_METHOD_SIGNAL, /* the sampling signal, where perf events are refused */
    SS_METHOD_NONE,   /* no timed samples (stacks off, or refused both ways) */
};

/* A blocking call of a recent iteration, kept until it is known whether that one stalled. */
struct ss_iteration_call {
    uint64_t iteration, count, total_ns;
    uint16_t call;
    int8_t category;
};

/* What the tracker knows of one slot. */
struct ss_slot_view {
    pid_t tid; /* owner when last seen; 0 = not yet announced */
    char name[16];
    uint64_t stall;         /* iteration announced as a stall, 0 = none */
    uint64_t stall_seen_ns; /* when the monitor last saw that stall still going */
    /* The last stall closed as lost (ss_mproc_close_lost_stall), and the time given it. */
    uint64_t lost_start, lost_ns;
    uint64_t ended_through; /* start of the latest stall whose end was taken from the ring */
    uint64_t next_sample_ns;
    uint64_t last_sample_ns; /* monotonic time of the current stall's latest timed sample */
    uint64_t blocked_where, blocked_gap_ns; /* the call the latest sample found the thread in */
    struct ss_perf *perf;                   /* open while a stall lasts (SS_METHOD_PERF) */
    /* A signal of ours the thread has not answered within sample_timeout: it still waits in
     * the thread's pending set. signals_answered was `answered_before` when it was sent. */
    int unanswered;
    uint32_t answered_before;
    uint64_t hist_iterations; /* iterations at the last histogram record */
    /* The stall's time split and pauses (stall-time.c): the scheduler statistics it is
     * measured from, the latest read while the thread waited, and what was seen of it. */
    int schedstat_fd;
    uint32_t split_flags;
    uint64_t split_iteration, split_t0, split_cpu0, split_wait0;
    uint64_t split_faults0; /* major page faults at the split's start; valid with SS_SPLIT_FAULTS */
    uint64_t split_throttled0, split_steal0; /* likewise, with SS_SPLIT_THROTTLED, _STEAL */
    uint64_t idle_at, idle_iterations, idle_cpu, idle_wait;
    uint64_t last_look_ns, stopped_ns, machine_ns, stopped_written, machine_written;
    struct ss_iteration_call calls[32];
    unsigned ncalls;
    int in_loop;                     /* a LOOP_BEGIN was written and no LOOP_END since */
    struct ss_loop_event loop_begin; /* its event, written again at the top of a new file */
    uint64_t loop_ended;             /* the last stretch of the latest loop that ended: no stall */
    int exit_written;                /* the loop's end at the process's exit is in the trace */
    uint64_t python_look_ns;         /* when to look for the thread's Python state next */
};

struct ss_mproc {
    /* Set by the server before the tracker starts. */
    pid_t pid;
    int pidfd;
    struct ss_segment *seg;
    struct ss_seg_config config;
    int sampling; /* enum ss_sampling */
    const char *dir;
    uint32_t ppid;
    char exe[PATH_MAX];
    uint32_t exe_len;
    char cmd[8192];
    uint32_t cmd_len;
    struct ss_mproc *next;

    pthread_t thread;
    _Atomic int superseded; /* the process exec'd a program that brought a segment of its own */
    _Atomic int finished;   /* the tracker wrote everything and stopped */
    void (*on_finished)(void *ctx);
    void *on_finished_ctx;

    /* The tracker's own, from here on. */
    struct ss_writer out;
    int trace_state; /* 0 not opened yet, 1 open, -1 could not be opened */
    struct ss_target *target;
    struct ss_python *python; /* the CPython interpreter the target runs, if any */
    uint64_t modules_written_gen, next_refresh_ns;
    enum ss_method method;
    int sampling_written; /* the SAMPLING record is in the trace */
    int perf_error;       /* why perf events were refused (a negated errno), 0 if not */
    struct ss_slot_view views[SS_SEG_SLOTS];
    struct ss_stacks stacks;
    struct ss_sites sites;
    struct ss_execs execs;
    struct ss_classifier classifier;
    uint32_t notes_read;
    char perf_map[64]; /* /tmp/perf-PID.map: the JIT map a runtime writes because we asked */
    /* The cpu.stat of the process's CPU cgroup, found at its first stall; "" for none. */
    char cpu_stat[PATH_MAX];
    int cpu_stat_found;
    uint64_t samples_failed, samples_timed_out, drops_written_sum;
    uint64_t retired_events, retired_snaps; /* drops of slots whose threads have exited */
    struct ss_lost_stalls {
        uint64_t n, ns, max_ns;
    } retired_lost; /* stall ends those slots lost */
    /* Of the lost stall ends, those of stalls announced already, which the trace holds: their
     * number and the time the monitor saw them last. */
    struct ss_lost_stalls announced_lost;
    uint64_t calls_lost, perf_lost;
    /* Writing the modules again into a new trace file: they are not new to the process. */
    int rewriting_modules;
    int rotation_failing; /* the last rotation failed (said once) */
    /* The max_stacks budget: the second it counts, stacks taken in it, those skipped. */
    uint64_t budget_second_ns, budget_used, samples_skipped;
    uint64_t next_flush_ns;
    uint8_t *scratch; /* a stack copied from the process (sample.c) */
    void *module_set; /* modules already written (tracker.c) */
};

/* Starts the tracker thread. 0 or a negated errno. */
int ss_mproc_start(struct ss_mproc *p);
/* Makes the tracker look at the process now (a sync, a supersede, a shutdown). */
void ss_mproc_poke(struct ss_mproc *p);
/* After `finished`: joins the thread and frees everything. */
void ss_mproc_free(struct ss_mproc *p);

/* A line for the process's own standard error (tracker.c). */
void ss_mproc_tell(const struct ss_mproc *p, const char *message);
/* Whether the process has ended (tracker.c). */
int ss_mproc_gone(const struct ss_mproc *p);

#endif
