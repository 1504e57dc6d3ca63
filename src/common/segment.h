/* segment: the memory a traced process shares with the monitor, one segment per process. The
 * shim creates it (a memfd, fixed size, pages allocated only when touched) and hands it to the
 * monitor over a unix socket; from then on the shim only writes what happens on its loop
 * threads into it, and the monitor reads it, samples stalled threads and writes the trace.
 *
 * Every ring has a single producer and a single consumer and is lock-free. Fields are written
 * by one side only, as marked: [shim] by the traced process, [monitor] by the monitor,
 * [owner] by the slot's loop thread alone. docs/architecture.md draws how the two sides use
 * it. The layout is versioned: a monitor refuses a segment of another version. */
#ifndef SS_SEGMENT_H
#define SS_SEGMENT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>

#include "common/options.h"
#include "common/trace-format.h"

#define SS_SEG_MAGIC "STLSSEG1"
#define SS_SEG_VERSION 7u

#define SS_SEG_SLOTS 128
#define SS_SNAP_STACK_BYTES (64 * 1024)
/* Farthest a thread's sp may be from its stack's end for the end to be trusted: a thread
 * stack deeper than this is copied from nowhere else either. */
#define SS_STACK_SPAN ((uintptr_t)64 << 20)
#define SS_STALL_RING 64
#define SS_LOOP_RING 16
#define SS_CALL_RING 512
#define SS_CALL_SNAPS 8
#define SS_SITE_TABLE 256
#define SS_DETAIL_MAX 48
#define SS_SEG_CALLS_MAX 192
#define SS_SEG_CALL_NAME 32
#define SS_SEG_NOTES 16
#define SS_SEG_NOTE_BYTES 200
#define SS_EXEC_RING 64
#define SS_EXEC_NAME_BYTES 512
/* libunwind's x86_64 numbering, which is also DWARF's: rax rdx rcx rbx rsi rdi rbp rsp r8-r15
 * rip. */
#define SS_SEG_REGS 17
#define SS_FD_LEARNED_MAX 65536
#define SS_FD_LEARNED 0x80u
#define SS_FD_LEARNED_NONBLOCK 0x04u

/* Categories of blocking calls as events carry them: a recorded category of trace-format.h,
 * or one of two values that never reach a trace. */
enum ss_category {
    SS_CAT_NONE = -1, /* not a blocking call after all: passed through, not recorded */
#define SS_CAT_ENUM(name, text) SS_CAT_##name,
    SS_CATEGORIES(SS_CAT_ENUM)
#undef SS_CAT_ENUM
        SS_CAT_COUNT,
    /* A call on a descriptor the shim could not classify: the monitor decides. */
    SS_CAT_PENDING = SS_CAT_COUNT,
};

/* What a descriptor is, as far as blocking goes. */
enum ss_fd_kind { SS_FD_UNKNOWN = 0, SS_FD_FILE, SS_FD_SOCKET, SS_FD_OTHER };

/* What a descriptor is, from its file type (st_mode or stx_mode). */
static inline enum ss_fd_kind ss_fd_kind_of_mode(mode_t mode)
{
    if (S_ISREG(mode) || S_ISBLK(mode) || S_ISDIR(mode))
        return SS_FD_FILE;
    return S_ISSOCK(mode) ? SS_FD_SOCKET : SS_FD_OTHER;
}

/* The one rule for the category of a call on a descriptor of a known kind, applied by the
 * shim on the loop thread and by the monitor for the calls the shim left to it: files block;
 * a socket blocks unless non-blocking; pipes, ttys, eventfds and the like are what the loop
 * waits on, recorded only in strict mode. */
static inline __attribute__((always_inline)) int ss_fd_category(enum ss_fd_kind kind,
                                                                int nonblocking, int strict)
{
    switch (kind) {
    case SS_FD_FILE:
        return SS_CAT_FILE;
    case SS_FD_SOCKET:
        return nonblocking && !strict ? SS_CAT_NONE : SS_CAT_NET;
    case SS_FD_OTHER:
        return strict ? SS_CAT_FILE : SS_CAT_NONE;
    default:
        return SS_CAT_PENDING;
    }
}

enum ss_loop_state {
    SS_STATE_WAITING = 0, /* inside the loop's own wait call: idle */
    SS_STATE_BUSY,        /* running an iteration */
    SS_STATE_IN_CALL,     /* busy, inside a call of the host's (never signalled there) */
};

enum ss_snap_state { SS_SNAP_FREE = 0, SS_SNAP_REQUESTED, SS_SNAP_WRITING, SS_SNAP_READY };

/* The Python frames of a loop thread, copied with its stack (docs/python.md): the first
 * `frame_span` bytes of each frame along the chain from the thread's current frame, innermost
 * first, as the layout the monitor published (struct ss_seg_python) says to follow it, and
 * the pointer to each frame's code object's qualified name: a code object freed before the
 * monitor names the frame, its memory taken by another, is told apart by it. */
#define SS_PY_COPY_FRAMES 64
#define SS_PY_COPY_SPAN 128
struct ss_py_copy {
    uint64_t tstate;   /* the thread state the chain was read from; 0: nothing copied */
    uint16_t n;        /* frames copied */
    uint16_t complete; /* 1: the chain ended within them */
    uint32_t reserved;
    uint8_t frames[SS_PY_COPY_FRAMES][SS_PY_COPY_SPAN];
    uint64_t names[SS_PY_COPY_FRAMES]; /* 0: not read */
};

/* [monitor] How to follow a thread's Python frames, published once the monitor has found the
 * interpreter; the shim copies frames only while `ready` is 1. */
struct ss_seg_python {
    _Atomic uint32_t ready;
    uint32_t tstate_frame;   /* the thread state's current frame (or its cframe) */
    uint32_t cframe_current; /* the cframe's current frame; UINT32_MAX: no cframe */
    uint32_t frame_previous; /* a frame's next outer frame */
    uint32_t frame_code;     /* a frame's code object */
    uint32_t frame_span;     /* bytes copied of each frame, at most SS_PY_COPY_SPAN */
    uint32_t code_name;      /* a code object's qualified name (its name before 3.11) */
    uint32_t reserved;
};
/* A blocking call made from Python is told apart by the code objects of its innermost Python
 * frames, this many at most: the interpreter makes all its reads from one native site. */
#define SS_PY_KEY_FRAMES 8

/* Registers and the live part of a stack, copied on the loop thread. */
struct ss_snapshot {
    uint64_t regs[SS_SEG_REGS];
    uint64_t stack_base; /* address the copied bytes start at (the thread's sp) */
    uint32_t stack_len;
    uint16_t source; /* enum ss_sample_source */
    uint16_t reserved;
    uint64_t taken_ns;
    uint64_t iteration;   /* iteration start of the thread when the copy was made */
    int32_t thread_state; /* enum ss_loop_state when the copy was made */
    uint32_t reserved2;
    struct ss_py_copy py;
    uint8_t stack[SS_SNAP_STACK_BYTES];
};

/* A blocking call made on a loop thread, appended when it returns. */
struct ss_call_event {
    uint64_t site;      /* return address of the call: the call site */
    uint64_t py_key;    /* the Python functions that made it (ss_seg_python), 0: none */
    uint64_t iteration; /* iteration it was made in */
    uint64_t start_ns, duration_ns;
    uint16_t call;   /* index into the segment's call names */
    int8_t category; /* enum ss_category, or SS_CAT_PENDING: the monitor classifies it */
    uint8_t snap;    /* 1 + index of the call snapshot holding its stack, 0 for none */
    int32_t fd;      /* the descriptor it worked on, -1 for none */
    char detail[SS_DETAIL_MAX];
};

struct ss_stall_end {
    uint64_t start_ns;
    uint64_t duration_ns;
};

/* A loop of the slot's thread began or ended (docs/loops.md). */
struct ss_loop_event {
    uint64_t at_ns;
    /* Begin: the loop's key (src/segment.h SS_LOOP_KEY_*). End: when the loop's last wait
     * returned, 0 if the thread was in it. */
    uint64_t key_or_last;
    uint16_t call;   /* begin: the wait function, an index into the call names */
    uint16_t reason; /* end: enum ss_loop_end_reason; 0 for a begin */
    uint32_t reserved;
};

/* A loop is keyed by its epoll descriptor, or by the call site of its poll or select. */
#define SS_LOOP_KEY_EPOLL (1ull << 63)
#define SS_LOOP_KEY_OF_EPOLL(fd) (SS_LOOP_KEY_EPOLL | (uint64_t)(unsigned)(fd))

/* Values of ss_slot.exited. */
#define SS_SLOT_THREAD_EXITED 1 /* the thread ended */
#define SS_SLOT_RELEASED 2      /* the thread is not a loop thread after all */

/* The call a loop thread is inside right now, published when it begins so that a thread
 * that never comes back (a deadlock, a read that never returns) still has its call, its site
 * and the registers a stack can be unwound from. `seq` is odd while the fields are written
 * and changes at every call: the monitor trusts a copy only when seq was even and equal
 * before and after it read the fields and the stack. */
struct ss_call_now {
    _Atomic uint32_t seq;
    uint16_t call;
    uint16_t reserved;
    uint64_t site, start_ns;
    /* Callee-saved registers, sp and pc at the interposer's entry (ss_snapshot numbering). */
    uint64_t regs[SS_SEG_REGS];
};

/* Requests of the monitor to a loop thread, acted on at its next wait. */
#define SS_REQUEST_SIGNAL 1u /* install the sampling signal's handler: perf events refused */
#define SS_REQUEST_PATCH 2u  /* attached: redirect the calls of modules loaded since */
#define SS_REQUEST_RETAKE 4u /* Python frames can be copied now: take each site's stack again */

struct ss_slot {
    _Atomic pid_t owner;        /* [shim] tid of the loop thread, 0 when free, -1 being claimed */
    _Atomic int state;          /* [owner] enum ss_loop_state */
    _Atomic uint64_t iteration; /* [owner] monotonic ns at which the current iteration began */
    _Atomic uint32_t request;   /* [monitor] SS_REQUEST_* bits, cleared by the owner */
    _Atomic int exited;         /* [shim] SS_SLOT_*: the monitor frees the slot */
    /* Where the owner's stack ends and, once the monitor has read the memory map, where its
     * mapping begins (0: unknown). A copy is made from sp up to stack_hi only when sp lies in
     * between: every byte there is mapped. [shim] at the claim, then [monitor]. */
    _Atomic uintptr_t stack_hi, stack_lo;
    uint64_t sp_hint;           /* [shim] an address on the owner's stack */
    uint64_t thread_self;       /* [shim] the owner's pthread_self(): how CPython names it */
    _Atomic uint64_t py_tstate; /* [monitor] the owner's Python thread state, 0: none known */
    uint64_t loop_key;          /* [owner] the thread's loop (SS_LOOP_KEY_*), 0: none now */
    uint64_t first_wait_ns;     /* [shim] */
    uint64_t loop_sp;           /* [owner] frame address of the loop's wait */
    uint64_t loop_iterations0;  /* [owner] `iterations` when the loop began */

    /* Loops that began and ended [owner -> monitor]. */
    struct ss_loop_event loop_events[SS_LOOP_RING];
    _Atomic uint32_t loop_head, loop_tail;
    _Atomic uint64_t loop_dropped;

    /* Busy-time histogram [owner], relaxed stores, read by the monitor. */
    _Atomic uint64_t hist[SS_HIST_BUCKETS];
    _Atomic uint64_t iterations, busy_total_ns, busy_max_ns;

    /* Stalls that ended [owner -> monitor]. */
    struct ss_stall_end ended[SS_STALL_RING];
    _Atomic uint32_t ended_head, ended_tail;
    /* Stalls that ended while the ring was full: how many, their time, the longest, and the
     * start of the latest [owner]. */
    _Atomic uint64_t ended_dropped, ended_dropped_ns, ended_dropped_max_ns, ended_dropped_last;

    struct ss_call_now call_now; /* [owner] */

    /* The sampling signal, used only where perf events are refused. */
    _Atomic int signal_blocked;        /* [owner] the owner blocks the signal: not sent */
    _Atomic uint32_t signals_answered; /* [owner] the monitor's signals that reached the handler */
    _Atomic int snap_state;            /* enum ss_snap_state: REQUESTED by the monitor */
    _Atomic uint64_t snaps_dropped;    /* [owner] */
    struct ss_snapshot snap;

    /* Blocking calls [owner -> monitor]. */
    struct ss_call_event calls[SS_CALL_RING];
    _Atomic uint32_t calls_head, calls_tail;
    _Atomic uint64_t calls_dropped;
    /* Stacks of calls, copied on the owner when a call site is new or a call slow. */
    _Atomic int call_snap_state[SS_CALL_SNAPS]; /* SS_SNAP_FREE / WRITING / READY */
    struct ss_snapshot call_snaps[SS_CALL_SNAPS];
    uint64_t sites_seen[SS_SITE_TABLE]; /* [owner] call sites whose stack was taken */
};

/* What a process asked exec or posix_spawn to run, for the monitor to look at once the exec
 * has happened; notes a child that runs untraced. Any thread of the process, or of a forked
 * child that has no segment of its own yet, may record: entries are claimed with a CAS. */
enum ss_exec_entry_state { SS_EXEC_FREE = 0, SS_EXEC_WRITING, SS_EXEC_READY, SS_EXEC_CANCELLED };

#define SS_EXEC_SEARCHED 1u   /* a p-variant given a name without a slash: searched in PATH */
#define SS_EXEC_NO_PRELOAD 2u /* the environment passed on does not preload the shim */
#define SS_EXEC_SPAWNED 4u    /* posix_spawn returned the pid: the program runs */
#define SS_EXEC_TRUNCATED 8u  /* the name did not fit */
#define SS_EXEC_RESET_IDS 16u /* posix_spawn with POSIX_SPAWN_RESETIDS: runs as the real ids */

struct ss_exec_entry {
    int32_t pid;
    uint32_t flags;
    uint64_t recorded_ns;
    uint32_t ruid, euid, rgid, egid; /* the caller's ids */
    char name[SS_EXEC_NAME_BYTES];
};

struct ss_exec_ring {
    _Atomic uint32_t next;
    _Atomic uint64_t dropped;
    _Atomic uint32_t state[SS_EXEC_RING];
    struct ss_exec_entry entries[SS_EXEC_RING];
};

/* One line the shim has to say about itself (it turned off, the program took the sampling
 * signal): written once by whoever claims the entry, read by the monitor into a NOTE. */
struct ss_seg_note {
    _Atomic uint32_t ready;
    char text[SS_SEG_NOTE_BYTES];
};

/* The options the process runs with, as the shim read them: the monitor applies these. */
struct ss_seg_config {
    uint64_t threshold_ns, interval_ns, flush_ns, sample_timeout_ns, call_threshold_ns;
    int32_t signal, strict, stacks, sampling;
    int32_t python, reserved;
    uint64_t max_size;              /* trace bytes the process may keep; 0: unbounded */
    uint32_t max_files, max_stacks; /* files it keeps; stacks unwound per second (0: all) */
};

struct ss_segment {
    char magic[8];
    uint32_t version;
    uint32_t nslots;
    uint64_t size; /* bytes: sizeof(struct ss_segment) */
    int32_t pid;
    uint32_t ncalls; /* names in call_names */
    uint64_t start_mono_ns, start_real_ns;
    struct ss_seg_config config;
    char call_names[SS_SEG_CALLS_MAX][SS_SEG_CALL_NAME];
    char path_list[4096]; /* PATH when the process started, for names exec searched */
    char run_dir[4096];   /* the run directory, absolute: how view --pid finds it */
    /* What the process's standard error was when the segment was made (0, 0: closed). The
     * monitor speaks on it only while it still is that file: a daemon may have reused the
     * number for a file of its own. */
    uint64_t stderr_dev, stderr_ino;

    _Atomic uint32_t wake;     /* [both] futex word: bumped to wake the monitor early */
    _Atomic uint32_t exiting;  /* [shim] 1 once the process began exit(), or detached */
    _Atomic uint64_t exit_ns;  /* [shim] when */
    _Atomic uint32_t attached; /* [shim] 1: loaded into a running process (docs/attach.md) */
    _Atomic uint32_t detached; /* [shim] 1: detached; the process goes on untraced */
    /* [monitor] whose signals the handler accepts; set once the monitor follows the process */
    _Atomic int32_t monitor_pid;
    _Atomic uint32_t signal_wanted;   /* [monitor] perf events are refused: install the handler */
    _Atomic uint32_t signal_state;    /* [shim] enum ss_signal_state */
    _Atomic uint64_t slots_exhausted; /* [shim] loop threads that found no free slot */
    _Atomic uint32_t slots_freed;     /* [monitor] bumped each time a slot is freed */
    _Atomic uint32_t notes_next;      /* [shim] */
    struct ss_seg_note notes[SS_SEG_NOTES];
    struct ss_exec_ring execs;
    struct ss_seg_python python;
    /* [monitor] What the monitor found a descriptor to be, for a call the shim could not
     * classify: SS_FD_LEARNED | kind | (nonblocking ? SS_FD_LEARNED_NONBLOCK : 0). The shim
     * takes it into its own cache at the descriptor's next call and clears it whenever the
     * descriptor changes. */
    _Atomic uint8_t fd_learned[SS_FD_LEARNED_MAX];
    struct ss_slot slots[SS_SEG_SLOTS];
};

enum ss_signal_state {
    SS_SIGNAL_NONE = 0, /* no handler installed: the monitor samples without signals */
    SS_SIGNAL_INSTALLED,
    SS_SIGNAL_REFUSED, /* the program had its own handler, or took the signal over */
};

/* The message the shim sends with the segment's descriptor (SCM_RIGHTS). */
struct ss_seg_hello {
    char magic[8];
    uint32_t version;
    int32_t pid;
    uint64_t size;
};

/* The abstract socket address of the monitor called name (a NUL, then the name without its
 * own), and its length; 0 when the name is empty or does not fit. */
static inline socklen_t ss_seg_monitor_address(const char *name, struct sockaddr_un *addr)
{
    size_t len = strlen(name);
    memset(addr, 0, sizeof *addr);
    addr->sun_family = AF_UNIX;
    if (len == 0 || len + 1 > sizeof addr->sun_path)
        return 0;
    memcpy(addr->sun_path + 1, name, len);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len);
}

#endif
