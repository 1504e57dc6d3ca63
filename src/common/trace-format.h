/* trace-format: the on-disk layout of a stallscope trace, shared by the monitor that writes it
 * and the reader that parses it. docs/trace-format.md is the prose version of this file; keep
 * the two in step and bump SS_TRACE_VERSION on any incompatible change. */
#ifndef SS_TRACE_FORMAT_H
#define SS_TRACE_FORMAT_H

#include <stdint.h>

#define SS_TRACE_MAGIC "STLSCOPE"
#define SS_TRACE_MAGIC_LEN 8
#define SS_TRACE_VERSION 1u
#define SS_TRACE_HEADER_SIZE 16u  /* magic, u32 version, u32 header size */
#define SS_TRACE_RECORD_HEADER 8u /* u16 tag, u16 reserved, u32 payload size */
#define SS_TRACE_MAX_PAYLOAD (1u << 20)
#define SS_TRACE_MAX_FRAMES 256u
#define SS_TRACE_FILE_PREFIX "stallscope-"
#define SS_TRACE_FILE_SUFFIX ".trace"

/* Busy-time histogram: bucket 0 holds iterations under 1024 ns, bucket k (k >= 1) those in
 * [2^(k+9), 2^(k+10)) ns; the last bucket is open-ended (from 2^40 ns, about 18 minutes). */
#define SS_HIST_BUCKETS 32u

static inline unsigned ss_hist_bucket(uint64_t ns)
{
    uint64_t us = ns >> 10;
    if (us == 0)
        return 0;
    unsigned k = 64u - (unsigned)__builtin_clzll(us);
    return k < SS_HIST_BUCKETS ? k : SS_HIST_BUCKETS - 1;
}

/* Lower bound in ns of bucket k. */
static inline uint64_t ss_hist_bucket_floor(unsigned k)
{
    return k == 0 ? 0 : (uint64_t)1 << (k + 9);
}

/* Record tags. Every record is: u16 tag, u16 reserved (0), u32 payload size, payload. The
 * payload starts with the fixed part below and may carry a variable tail. Integers are
 * little-endian and unaligned; strings are raw bytes of a given length, not NUL-terminated.
 * A reader skips records whose tag it does not know. */
enum ss_record_tag {
    SS_REC_PROCESS = 1,      /* ss_rec_process + exe bytes + cmdline bytes (args NUL-separated) */
    SS_REC_MODULE = 2,       /* ss_rec_module + build-id bytes + path bytes */
    SS_REC_THREAD = 3,       /* ss_rec_thread + name bytes */
    SS_REC_STACK = 4,        /* ss_rec_stack + u64 addr[nframes], innermost first */
    SS_REC_STALL_BEGIN = 5,  /* ss_rec_stall_begin */
    SS_REC_SAMPLE = 6,       /* ss_rec_sample + call name bytes (CALL, SYSCALL) */
    SS_REC_STALL_END = 7,    /* ss_rec_stall_end */
    SS_REC_HISTOGRAM = 8,    /* ss_rec_histogram + u64 bucket[nbuckets]; cumulative, latest wins */
    SS_REC_DROPS = 9,        /* ss_rec_drops; cumulative, latest wins */
    SS_REC_THREAD_EXIT = 10, /* ss_rec_thread_exit */
    SS_REC_END = 11,         /* ss_rec_end: the process exited through exit() */
    SS_REC_NOTE = 12,        /* text: a condition the shim met (degraded, disabled, ...) */
    SS_REC_CALL_SITE = 13,   /* ss_rec_call_site + function + detail */
    SS_REC_STALL_CALL = 14,  /* ss_rec_stall_call + function */
    SS_REC_STALL_SPLIT = 15, /* ss_rec_stall_split */
    SS_REC_SAMPLING = 16,    /* ss_rec_sampling: how the monitor samples this process */
    SS_REC_LOOP_BEGIN = 17,  /* ss_rec_loop_begin + the wait function's name */
    SS_REC_LOOP_END = 18,    /* ss_rec_loop_end */
    SS_REC_STALL_PAUSE = 19, /* ss_rec_stall_pause */
    SS_REC_PYFRAME = 20,     /* ss_rec_pyframe + function name + file name */
    SS_REC_STALL_TASK = 21,  /* ss_rec_stall_task + task name + coroutine name */
    SS_REC_SEGMENT = 22,     /* ss_rec_segment: which of a process's rotated files this is */
};

/* The NOTE a monitor writes when a child, or the process itself by an exec, ran a program the
 * shim cannot follow: "child PID ran PATH untraced: REASON", "child ran ..." when the pid is
 * not known. Readers know it by its start and its marker, so both sides use these. */
#define SS_NOTE_UNTRACED_START "child "
#define SS_NOTE_UNTRACED_MARK " untraced: "
/* Arguments: the pid followed by a space, or ""; the path; the reason. */
#define SS_NOTE_UNTRACED_FORMAT SS_NOTE_UNTRACED_START "%sran %s" SS_NOTE_UNTRACED_MARK "%s"

#define SS_PACKED __attribute__((packed))

struct ss_rec_header {
    uint16_t tag, reserved;
    uint32_t size;
} SS_PACKED;

struct ss_rec_process {
    uint32_t pid, ppid;
    uint64_t start_mono_ns, start_real_ns;
    uint64_t threshold_ns, interval_ns;
    uint32_t exe_len, cmd_len;
} SS_PACKED;

/* Addresses in [lo, hi) belong to the module; file vaddr = address - bias. */
struct ss_rec_module {
    uint64_t bias, lo, hi;
    uint16_t build_id_len, path_len;
} SS_PACKED;

struct ss_rec_thread {
    uint32_t tid, flags;
    uint64_t first_wait_ns;
} SS_PACKED;

struct ss_rec_stack {
    uint32_t stack_id, nframes;
} SS_PACKED;

/* stall_id is the iteration's start time, unique per thread. */
struct ss_rec_stall_begin {
    uint32_t tid, reserved;
    uint64_t stall_id, start_ns;
} SS_PACKED;

struct ss_rec_sample {
    uint32_t tid, stack_id; /* stack_id 0: the capture failed, no stack */
    uint64_t stall_id, offset_ns;
    uint32_t capture_ns; /* time spent unwinding this sample */
    uint16_t nframes, source;
    uint64_t call_ns; /* SS_SAMPLE_CALL: how long the interposed call took */
} SS_PACKED;

struct ss_rec_stall_end {
    uint32_t tid, reserved;
    uint64_t stall_id, start_ns, duration_ns;
} SS_PACKED;

struct ss_rec_histogram {
    uint32_t tid, nbuckets;
    uint64_t iterations, busy_total_ns, busy_max_ns;
} SS_PACKED;

struct ss_rec_drops {
    uint64_t events;            /* stall ends lost to a full ring */
    uint64_t samples_failed;    /* captures that produced no stack */
    uint64_t samples_timed_out; /* signals the thread did not answer in time */
    uint64_t records_unwritten; /* records the file system did not take */
    uint64_t python_incomplete; /* stacks whose Python frames could not all be read */
    uint64_t samples_skipped;   /* stacks not taken: over the max_stacks budget */
    /* What the trace files deleted by rotation (max_files) held. A stall is counted in the
     * file that holds its end. */
    uint64_t files_deleted, stalls_deleted, stalls_deleted_ns, stalls_deleted_max_ns;
    uint64_t samples_deleted, records_deleted;
    /* Stalls whose ends the monitor could not take in time (a full ring, counted in events
     * too): their number, time and longest, without stacks. */
    uint64_t stalls_lost, stalls_lost_ns, stalls_lost_max_ns;
} SS_PACKED;

/* Written right after PROCESS in each file after the first of a process whose trace is
 * rotated: files of one process (same pid and start_mono_ns) are read in index order. */
struct ss_rec_segment {
    uint32_t index; /* 1 for the second file of the process, 2 for the third, ... */
    uint32_t reserved;
} SS_PACKED;

/* DROPS records written before python_incomplete was added end after records_unwritten. */
#define SS_REC_DROPS_MIN_SIZE 32u

struct ss_rec_thread_exit {
    uint32_t tid, reserved;
    uint64_t ns;
} SS_PACKED;

struct ss_rec_end {
    uint64_t mono_ns;
} SS_PACKED;

/* Categories of blocking calls, numbered in this order in CALL_SITE and STALL_CALL records. */
#define SS_CATEGORIES(X)                                                                           \
    X(FILE, "file")                                                                                \
    X(NET, "net")                                                                                  \
    X(DNS, "dns")                                                                                  \
    X(SLEEP, "sleep")                                                                              \
    X(PROCESS, "process")                                                                          \
    X(LOCK, "lock")                                                                                \
    X(WAIT, "wait")

/* A call site: where a blocking call was made on a loop thread, with counts so far;
 * cumulative, the latest record of a (tid, site_id) wins. Followed by the function name and
 * an example of what the call worked on (a path, a host, a descriptor). */
struct ss_rec_call_site {
    uint32_t tid, site_id, stack_id; /* stack_id 0: no stack captured */
    uint16_t category, reserved;
    uint64_t count, total_ns, max_ns, first_ns;
    uint16_t function_len, detail_len;
} SS_PACKED;

/* The blocking calls made inside one stall, one record per function; followed by the name. */
struct ss_rec_stall_call {
    uint32_t tid;
    uint16_t category, reserved;
    uint64_t stall_id, count, total_ns;
} SS_PACKED;

/* How the thread spent a stall, from the kernel's per-thread scheduler statistics: from its
 * start when flags has SS_SPLIT_FROM_START, else from the moment it was detected, to its end. */
struct ss_rec_stall_split {
    uint32_t tid, flags;
    uint64_t stall_id, window_ns, cpu_ns, runnable_ns;
    uint64_t major_faults; /* from the stall's detection to its end, with SS_SPLIT_FAULTS */
    uint64_t throttled_ns; /* the cgroup's CPU limit held it back, with SS_SPLIT_THROTTLED */
    uint64_t steal_ns;     /* the hypervisor ran other guests (machine-wide), with SS_SPLIT_STEAL */
} SS_PACKED;

/* STALL_SPLIT records written before major_faults was added end after runnable_ns, and those
 * before throttled_ns after major_faults. */
#define SS_REC_STALL_SPLIT_MIN_SIZE 40u
#define SS_REC_STALL_SPLIT_FAULTS_SIZE 48u

#define SS_SPLIT_FROM_START 1u
#define SS_SPLIT_FAULTS 2u    /* major_faults was measured */
#define SS_SPLIT_THROTTLED 4u /* throttled_ns was measured */
#define SS_SPLIT_STEAL 8u     /* steal_ns was measured */

/* A thread's loop: the wait it keeps returning to, recognised when it had returned to it
 * (docs/loops.md). at_ns is when the loop was recognised; its iterations are counted from
 * then. Followed by the name of the wait function (epoll_wait, poll, ...). */
struct ss_rec_loop_begin {
    uint32_t tid;
    uint16_t kind, reserved; /* enum ss_loop_kind */
    int32_t fd;              /* SS_LOOP_EPOLL: the epoll descriptor, else -1 */
    uint32_t site_stack_id;  /* SS_LOOP_SITE: a one-frame stack, the wait's call site; 0 unknown */
    uint64_t at_ns;
} SS_PACKED;

enum ss_loop_kind {
    SS_LOOP_EPOLL = 1, /* waits on one epoll descriptor */
    SS_LOOP_SITE = 2,  /* poll, ppoll, select or pselect made from one call site */
};

/* A thread's loop ended at end_ns. last_start is when the loop's last wait returned (0: the
 * thread was in that wait): the stretch from there to end_ns is the loop's end, not one of its
 * iterations, and a stall announced with stall_id last_start is that stretch, not a stall. */
struct ss_rec_loop_end {
    uint32_t tid;
    uint16_t reason, reserved; /* enum ss_loop_end_reason */
    uint64_t last_start, end_ns;
} SS_PACKED;

enum ss_loop_end_reason {
    SS_LOOP_CLOSED = 1,       /* the thread closed the loop's epoll descriptor */
    SS_LOOP_REPLACED = 2,     /* another wait became the thread's loop */
    SS_LOOP_NOT_A_LOOP = 3,   /* the thread waited on a condition variable or semaphore early
                                 on: a worker that polls, not a loop; forget it */
    SS_LOOP_THREAD_EXIT = 4,  /* the thread exited */
    SS_LOOP_PROCESS_EXIT = 5, /* the process began exiting (exit, _exit, return from main) */
};

/* Part of a stall during which the thread could not run its code for a reason outside it:
 * the process was stopped (SIGSTOP, a debugger, a frozen cgroup), or the whole machine was
 * (the monitor's own clock jumped past its deadline: a suspended virtual machine). The latest
 * record of a stall and kind wins. */
struct ss_rec_stall_pause {
    uint32_t tid;
    uint16_t kind, reserved; /* enum ss_pause_kind */
    uint64_t stall_id, paused_ns;
} SS_PACKED;

enum ss_pause_kind {
    SS_PAUSE_STOPPED = 1, /* the thread was seen stopped (state T or t) */
    SS_PAUSE_MACHINE = 2, /* the monitor woke far later than it asked to */
};

/* How the monitor takes the timed samples of a process's stalls; the latest record wins. */
struct ss_rec_sampling {
    uint16_t method; /* enum ss_sampling_method */
    uint16_t signal; /* SS_SAMPLED_BY_SIGNAL: the signal's number */
    int32_t error;   /* why perf events could not be used (an errno), 0 when they were */
} SS_PACKED;

enum ss_sampling_method {
    SS_SAMPLED_BY_PERF = 1,   /* perf events: no signal reaches the process */
    SS_SAMPLED_BY_SIGNAL = 2, /* the sampling signal, perf events being refused */
    SS_SAMPLED_NOT = 3,       /* no timed samples: stacks off, or no way was allowed */
};

/* A Python function at a line, as the monitor read it from a CPython interpreter's frames.
 * Stacks hold it as the address SS_PYFRAME_ADDR(id), in a range no code can occupy (not
 * canonical on x86_64); the record comes before the first STACK that holds it. Followed by
 * the function's qualified name and its file name. line 0: unknown. */
struct ss_rec_pyframe {
    uint32_t id; /* 1 or more, given out in order */
    uint32_t line, first_line;
    uint16_t name_len, file_len;
} SS_PACKED;

#define SS_PYFRAME_BASE 0x5059000000000000ull /* "PY" in the top bytes */
#define SS_PYFRAME_ADDR(id) (SS_PYFRAME_BASE | (uint64_t)(id))
#define SS_PYFRAME_MAX_ID 0xffffffffu

static inline int ss_is_pyframe_addr(uint64_t addr)
{
    return (addr >> 48) == (SS_PYFRAME_BASE >> 48) && (addr & 0xffffffffull) != 0 &&
           (addr & 0x0000ffff00000000ull) == 0;
}

/* The asyncio Task a Python loop thread was running in a stall, as the monitor first found it
 * in one of the stall's samples; written once per stall. Followed by the task's name (at least
 * one byte) and its coroutine's qualified name (empty when unknown). */
struct ss_rec_stall_task {
    uint32_t tid;
    uint16_t name_len, coroutine_len;
    uint64_t stall_id;
} SS_PACKED;

#define SS_THREAD_LOOP 1u

enum ss_sample_source {
    SS_SAMPLE_SIGNAL = 0,  /* taken by the sampling signal while the iteration ran */
    SS_SAMPLE_CALL = 1,    /* taken in or at the end of an interposed call inside a stall */
    SS_SAMPLE_PERF = 2,    /* taken by a perf event while the iteration ran */
    SS_SAMPLE_SYSCALL = 3, /* read while the thread sat in a system call the shim does not wrap */
};

#endif
