/* shim: state shared by the parts of libstallscope.so. Loop threads own a slot each; the
 * watchdog thread reads the slots, samples stalled threads and writes the trace. Everything a
 * loop thread touches is preallocated here, so its hot path never allocates or locks. */
#ifndef SS_SHIM_H
#define SS_SHIM_H

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "options.h"
#include "trace-format.h"

#define SS_MAX_LOOP_THREADS 128
#define SS_SNAP_STACK_BYTES (64 * 1024)
/* Farthest a thread's sp may be from its stack's end for the end to be trusted: a thread
 * stack deeper than this is copied from nowhere else either. */
#define SS_STACK_SPAN ((uintptr_t)64 << 20)
#define SS_STALL_RING 64
#define SS_UNW_REGS                                                                                \
    17 /* libunwind's x86_64 numbering: rax rdx rcx rbx rsi rdi rbp rsp r8-r15 rip */

enum ss_loop_state {
    SS_STATE_WAITING = 0, /* inside the loop's own wait call: idle */
    SS_STATE_BUSY,        /* running an iteration: may be signalled */
    SS_STATE_IN_CALL,     /* busy, but inside a call a signal would cut short */
};

enum ss_snap_state { SS_SNAP_FREE = 0, SS_SNAP_REQUESTED, SS_SNAP_WRITING, SS_SNAP_READY };

struct ss_snapshot {
    uint64_t regs[SS_UNW_REGS];
    uint64_t stack_base; /* address the copied bytes start at (the thread's sp) */
    uint32_t stack_len;
    uint16_t source; /* enum ss_sample_source */
    uint64_t taken_ns;
    uint64_t iteration; /* iteration start of the thread when the copy was made */
    int thread_state;   /* enum ss_loop_state when the copy was made */
    uint8_t stack[SS_SNAP_STACK_BYTES];
};

/* One blocking call made on a loop thread, for the watchdog to aggregate. */
#define SS_DETAIL_MAX 48
struct ss_call_event {
    uint64_t site;      /* return address of the call: the call site */
    uint64_t iteration; /* iteration it was made in */
    uint64_t start_ns, duration_ns;
    uint16_t call;   /* index into the catalogue's names */
    int8_t category; /* enum ss_category, or SS_CAT_PENDING */
    uint8_t snap;    /* 1 + index of the call snapshot holding its stack, 0 for none */
    int32_t fd;      /* the descriptor it worked on, -1 for none */
    char detail[SS_DETAIL_MAX];
};

#define SS_CALL_RING 512
#define SS_CALL_SNAPS 8
#define SS_SITE_TABLE 256

struct ss_stall_end {
    uint64_t start_ns;
    uint64_t duration_ns;
};

struct ss_slot {
    _Atomic pid_t owner;        /* tid of the loop thread, 0 when the slot is free */
    _Atomic int state;          /* enum ss_loop_state */
    _Atomic uint64_t iteration; /* monotonic ns at which the current iteration began */
    /* Where the owner's stack ends and, once the watchdog has read the memory map, where its
     * mapping begins (0: unknown). A capture copies from sp up to stack_hi only when sp lies
     * in between: every byte there is mapped. */
    _Atomic uintptr_t stack_hi, stack_lo;
    uintptr_t sp_hint; /* an address on the owner's stack */
    uint64_t loop_key; /* identifies the thread's own poll set (owner only) */
    uint64_t first_wait_ns;

    /* Busy-time histogram: written by the owner only (relaxed), read by the watchdog. */
    _Atomic uint64_t hist[SS_HIST_BUCKETS];
    _Atomic uint64_t iterations, busy_total_ns, busy_max_ns;

    /* Stalls that ended, single producer (owner) single consumer (watchdog). */
    struct ss_stall_end ended[SS_STALL_RING];
    _Atomic uint32_t ended_head, ended_tail;
    _Atomic uint64_t ended_dropped;

    _Atomic int signal_blocked; /* the owner blocks the sampling signal: do not send it */
    /* Sampling signals from the shim that reached the owner's handler, requested or late. */
    _Atomic uint32_t signals_answered;
    _Atomic int snap_state; /* enum ss_snap_state */
    _Atomic uint64_t snaps_dropped;
    struct ss_snapshot snap;

    /* Blocking calls: single producer (owner) single consumer (watchdog). */
    struct ss_call_event calls[SS_CALL_RING];
    _Atomic uint32_t calls_head, calls_tail;
    _Atomic uint64_t calls_dropped;
    /* Stacks of calls, taken on the owner when a call site is new or a call slow. */
    _Atomic int call_snap_state[SS_CALL_SNAPS]; /* SS_SNAP_FREE / WRITING / READY */
    struct ss_snapshot call_snaps[SS_CALL_SNAPS];
    uint64_t sites_seen[SS_SITE_TABLE]; /* owner only: call sites whose stack was taken */

    _Atomic int exited;
};

struct ss_thread_local {
    struct ss_slot *slot;
    unsigned in_hook;              /* reentrancy guard */
    _Atomic unsigned signals_seen; /* sampling signals handled on this thread */
};

extern __thread struct ss_thread_local ss__tls __attribute__((tls_model("initial-exec")));
extern struct ss_slot ss__slots[SS_MAX_LOOP_THREADS];
extern struct ss_options ss__opts;
extern _Atomic int ss__active;    /* 0: the shim passes every call straight through */
extern _Atomic int ss__sampling;  /* 0: no signals are sent (handler unavailable) */
/* 0: calls take no stack copies (stacks=0, or libunwind could not be loaded). Set from the
 * start, so the calls made while the watchdog still loads libunwind keep their stacks. */
extern _Atomic int ss__unwinding;
extern pid_t ss__pid;

uint64_t ss__now(void);
/* Turns the shim off for this process with one line on stderr. */
void ss__disable(const char *why);
/* One line on stderr, no allocation, no stdio. */
void ss__warn(const char *a, const char *b);

/* Called by the wait hooks on a thread's first wait: claims a slot and starts the watchdog. */
struct ss_slot *ss__claim_slot(void);
extern _Atomic int ss__watchdog_started;
void ss__start_watchdog_once(void);

/* Snapshot of the calling thread's registers and stack into one of the slot's call
 * snapshots; returns 1 + its index, or 0 when none was free or no stack could be copied
 * (counted). */
unsigned ss__capture_call(struct ss_slot *slot);
/* Records one blocking call; called on the loop thread right after the call returned. */
void ss__record_call(struct ss_slot *slot, unsigned call, int category, uint64_t site,
                     uint64_t start_ns, uint64_t duration_ns, int fd, const char *detail);
/* Names of the catalogue's calls, indexed by the call numbers in events. */
extern const char *const ss__call_names[];
extern const unsigned ss__call_count;
extern const char *const ss__category_names[];
void ss__watchdog_wake(void);

/* Descriptor cache: what each descriptor is, so that calls on non-blocking sockets, pipes
 * and the like are passed through without a system call of ours. */
enum ss_fd_kind { SS_FD_UNKNOWN = 0, SS_FD_FILE, SS_FD_SOCKET, SS_FD_OTHER };
/* The kernel's default ceiling of RLIMIT_NOFILE (fs.nr_open); fds.h says what is kept. */
#define SS_FD_CACHE (1 << 20)
extern _Atomic uint8_t ss__fds[SS_FD_CACHE];
/* A descriptor that was just created: its kind, and no path any more. */
void ss__fd_note(int fd, enum ss_fd_kind kind, int nonblocking);
/* What an existing descriptor turned out to be; the path it was opened with stays. */
void ss__fd_set_kind(int fd, enum ss_fd_kind kind, int nonblocking);
enum ss_fd_kind ss__fd_kind_of_mode(mode_t mode);
/* Learns a descriptor's kind from the host's own fstat of it (sockets excepted: whether one
 * blocks is not in its mode). */
void ss__fd_learn(int fd, mode_t mode);
/* Remembers the path a file descriptor was opened with, for the calls made on it later. */
void ss__fd_note_path(int fd, const char *path);
void ss__fd_forget(int fd);
void ss__install_signal_handler(void);

/* The sampling signal (signals.c). Set while the shim's handler is installed and the program
 * has not set its own. */
extern _Atomic int ss__signal_installed;
/* Why sampling by signal stopped after it had begun, for the watchdog to note; NULL if not. */
extern const char *_Atomic ss__signal_lost;
void ss__on_sample_signal(int sig, siginfo_t *si, void *ucv);
/* sigaction(2) of the C library, past the shim's own interposer. */
int ss__real_sigaction(int sig, const struct sigaction *act, struct sigaction *old);
/* Held while the shim installs its handler or the program changes the signal's disposition;
 * returns whether the lock was taken. */
int ss__lock_dispositions(void);
void ss__unlock_dispositions(int held);
/* Whether the calling thread blocks the sampling signal now. */
int ss__signal_blocked_here(void);

/* Looks up the real functions behind the interposers; safe to call more than once. */
void ss__resolve_hooks(void);
void ss__resolve_calls(void);
/* At load time, so that a first sigaction() made in a signal handler never calls dlsym. */
void ss__resolve_signals(void);

/* Children that run a program the shim cannot follow (children.c). */
void ss__resolve_children(void);
void ss__children_init(void);
void ss__children_after_fork(void);
/* On the watchdog thread: at its start, then on each pass; returns when it needs to look
 * again (UINT64_MAX: not before something new is recorded). */
void ss__children_watchdog_start(void);
uint64_t ss__children_drain(uint64_t now, void (*note)(const char *));
uint64_t ss__children_dropped(void);

/* Watchdog thread lifecycle. */
int ss__watchdog_start(void);
void ss__watchdog_after_fork(void);
void ss__watchdog_finish(void);

/* Unwinding of snapshots on the watchdog thread (libunwind, loaded at run time). */
int ss__unwind_init(char *why, size_t why_size);
/* Fills addr[] innermost first with lookup addresses (return addresses minus one), skipping
 * the shim's own frames; returns the number of frames, 0 when nothing could be unwound. */
unsigned ss__unwind(const struct ss_snapshot *snap, uint64_t *addr, unsigned max);
/* Forget cached unwind information after libraries were loaded or unloaded. */
void ss__unwind_flush(void);
/* Sets the address range of the shim's own code, whose frames stacks leave out. */
void ss__unwind_set_self(uint64_t lo, uint64_t hi);

/* Register capture of the caller (capture-x86_64.S): fills regs in libunwind's numbering. */
void ss__capture_regs(uint64_t *regs);

#endif
