/* shim: state shared by the parts of libstallscope.so. The shim only records: loop threads
 * own a slot each in the process's segment (src/common/segment.h), shared with the monitor, which
 * does everything else in a process of its own. Everything a loop thread touches is
 * preallocated there, so its hot path never allocates, locks or makes a system call. */
#ifndef SS_SHIM_H
#define SS_SHIM_H

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/options.h"
#include "common/segment.h"

struct ss_thread_local {
    struct ss_slot *slot;
    unsigned in_hook;              /* reentrancy guard */
    _Atomic unsigned signals_seen; /* sampling signals handled on this thread */
    /* The wait (a loop key) the thread has come back to, and how many times in a row
     * (loops.c). */
    uint64_t candidate;
    uint32_t candidate_waits;
    uint32_t claim_failed_at; /* 1 + the segment's slots_freed when no slot was free */
    uint32_t generation;      /* ss__generation when the slot was claimed */
};

extern __thread struct ss_thread_local ss__tls __attribute__((tls_model("initial-exec")));
extern struct ss_options ss__opts;
extern _Atomic int ss__active; /* 0: the shim passes every call straight through */
/* 0: calls take no stack copies (stacks=0). */
extern _Atomic int ss__unwinding;
extern pid_t ss__pid;
/* This process's segment; NULL in a forked child until its first loop wait makes its own. */
extern struct ss_segment *_Atomic ss__seg;

/* attach.c: 1 when the shim was loaded into a running process (stallscope attach) rather than
 * preloaded; set by the constructor (ss__note_how_loaded). */
extern _Atomic int ss__attached;
/* Bumped at each attach: a thread whose state has an older one forgets its slot. */
extern _Atomic uint32_t ss__generation;
void ss__note_how_loaded(void);
/* Whether p lies in the shim's own code. */
int ss__in_shim(const void *p);
/* Redirects the GOT entries of modules loaded since the last time (SS_REQUEST_PATCH). */
void ss__patch_new_modules(void);
/* Recording begins: slots' thread-exit key, the fork handler, the segment handed to the
 * monitor of ss__opts. 0, or -1 with the reason in why. */
int ss__start(char *why, size_t why_size);
/* Exported: what `stallscope attach` calls in the process (attach.c). */
int stallscope_detach(char *message, size_t size);

uint64_t ss__now(void);
/* Turns the shim off for this process with one line on stderr. */
void ss__disable(const char *why);
/* One line on stderr, no allocation, no stdio. */
void ss__warn(const char *a, const char *b);
/* A line for the trace, through the segment, and on stderr (ss__warn's rule). */
void ss__note(const char *a, const char *b);

/* In a forked child (the fork handler, and _Fork's child, which runs no handler): the
 * parent's slots and segment are not its own. Plain stores only. */
void ss__after_fork_in_child(void);
/* Called by the wait hooks on a thread's first wait: claims a slot (making the process's
 * segment first in a forked child). NULL when the thread cannot be traced. */
struct ss_slot *ss__claim_slot(void);
/* The thread's slot is given back: its exit has nothing more to tell. */
void ss__forget_thread_slot(void);

/* Adds n to a counter of a slot that only the slot's owner writes: a plain load and store,
 * no atomic read-modify-write, since the monitor only reads it. */
#define SS_OWNER_ADD(counter, n)                                                                   \
    atomic_store_explicit(&(counter),                                                              \
                          atomic_load_explicit(&(counter), memory_order_relaxed) + (n),            \
                          memory_order_relaxed)

/* Loops (loops.c). What a wait other than the thread's loop wait is: */
enum ss_wait_kind {
    SS_WAIT_UNTRACED, /* the thread has no loop, nor is this wait one yet */
    SS_WAIT_LOOP,     /* it has just become the thread's loop (a slot is claimed) */
    SS_WAIT_NESTED,   /* a wait made inside one of the loop's iterations */
    SS_WAIT_OUTSIDE,  /* made from no deeper than the loop's own wait: not inside an
                         iteration, and not (yet) the loop that replaces it */
};
int ss__other_wait(uint64_t key, uint64_t frame, unsigned call);
/* Waits in a row on one key that make it the thread's loop. An epoll descriptor is made to be
 * waited on again and again: its first wait makes the loop, so that a stall in the loop's
 * first iteration is seen. */
static inline unsigned ss__waits_to_become_a_loop(uint64_t key)
{
    return (key & SS_LOOP_KEY_EPOLL) ? 1 : 3;
}
/* Ends the slot's loop (enum ss_loop_end_reason); the thread keeps its slot. */
void ss__loop_end(struct ss_slot *s, unsigned reason, uint64_t now);
/* The thread, found to be a worker, ends its loop and gives its slot back. */
void ss__not_a_loop(struct ss_slot *s);
/* The calling thread closed descriptors first..last. */
void ss__loop_fds_closed(unsigned first, unsigned last);

/* Iterations within which a call-site loop that makes an idle wait is taken for a worker. */
#define SS_YOUNG_LOOP_ITERATIONS 64

/* A wait on a condition variable or a semaphore: what a worker does between jobs. It breaks a
 * run of waits that was making the thread a loop thread, and shows a young call-site loop to
 * be a worker's polling. An epoll loop is never taken for a worker: a runtime's main thread
 * waits for its garbage collector's helpers inside its iterations, and telling that from a
 * worker's wait by the depth of the stack fails where a frame is large (libuv keeps its
 * 1,024 epoll events on its stack). */
static inline void ss__idle_wait(void)
{
    struct ss_thread_local *t = &ss__tls;
    t->candidate_waits = 0;
    struct ss_slot *s = t->slot;
    if (__builtin_expect(
            s != NULL && !t->in_hook && s->loop_key && !(s->loop_key & SS_LOOP_KEY_EPOLL), 0) &&
        atomic_load_explicit(&s->iterations, memory_order_relaxed) - s->loop_iterations0 <
            SS_YOUNG_LOOP_ITERATIONS)
        ss__not_a_loop(s);
}

/* What the monitor asked of this loop thread (SS_REQUEST_*), done at its wait. */
void ss__serve_requests(struct ss_slot *slot);

/* Snapshot of the calling thread's registers and stack into one of the slot's call
 * snapshots; returns 1 + its index, or 0 when none was free or no stack could be copied
 * (counted). */
unsigned ss__capture_call(struct ss_slot *slot);
/* What tells the thread's blocking call apart from the same call made by other Python code:
 * a hash of the code objects of its innermost Python frames; 0 when it runs no Python the
 * monitor told the shim how to follow, or without python_sites. A system call per frame read,
 * at every call: the option is on where findings are checked. */
uint64_t ss__python_key(struct ss_slot *slot);
/* Records one blocking call; called on the loop thread right after the call returned. */
void ss__record_call(struct ss_slot *slot, unsigned call, int category, uint64_t site,
                     uint64_t start_ns, uint64_t duration_ns, int fd, const char *detail);
/* Register capture of the caller (capture-x86_64.S): fills regs in libunwind's numbering. */
void ss__capture_regs(uint64_t *regs);

/* Publishes the call the loop thread is about to make (struct ss_call_now). Inlined into the
 * interposer, so that the registers describe the interposer's own frame, which stays live
 * while the call it makes blocks: the monitor unwinds the thread from them and its stack as
 * it is then. */
static inline __attribute__((always_inline)) void
ss__call_now_begin(struct ss_slot *s, unsigned call, uint64_t site, uint64_t start_ns)
{
    struct ss_call_now *c = &s->call_now;
    uint32_t seq = atomic_load_explicit(&c->seq, memory_order_relaxed);
    atomic_store_explicit(&c->seq, seq | 1u, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
    c->call = (uint16_t)call;
    c->site = site;
    c->start_ns = start_ns;
    ss__capture_regs(c->regs);
    atomic_store_explicit(&c->seq, (seq | 1u) + 1, memory_order_release);
}
/* Names of the catalogue's calls, indexed by the call numbers in events. */
extern const char *const ss__call_names[];
extern const unsigned ss__call_count;
/* Wakes the monitor ahead of its next deadline (a ring filling up, the process exiting):
 * one system call, made rarely. */
void ss__wake_monitor(void);

/* Descriptor cache: what each descriptor is, so that calls on non-blocking sockets, pipes
 * and the like are passed through without a system call of ours. */
/* The kernel's default ceiling of RLIMIT_NOFILE (fs.nr_open); fds.h says what is kept. */
#define SS_FD_CACHE (1 << 20)
extern _Atomic uint8_t ss__fds[SS_FD_CACHE];
/* A descriptor that was just created: its kind, and no path any more. */
void ss__fd_note(int fd, enum ss_fd_kind kind, int nonblocking);
/* Learns a descriptor's kind from the host's own fstat of it (sockets excepted: whether one
 * blocks is not in its mode). */
void ss__fd_learn(int fd, mode_t mode);
/* Remembers the path a file descriptor was opened with, for the calls made on it later. */
void ss__fd_note_path(int fd, const char *path);
void ss__fd_forget(int fd);

/* The segment (segment.c): made and handed to the monitor at start-up, and in a forked
 * child at its first loop wait. Without a monitor to hand it to, a monitor is started
 * `at_loop` (a thread's first wait), while at start-up nothing is made. 0, or -1 with the
 * reason in why. */
int ss__segment_create(int at_loop, char *why, size_t why_size);
/* After a detach: the next segment goes to the monitor the next attach names. */
void ss__segment_forget_monitor(void);
void ss__segment_after_fork(void);
/* 0 while a segment waits for the monitor the shim started to listen (segment.c). */
extern _Atomic int ss__announced;
void ss__segment_retry(void);
/* At exit, a segment still waiting for the monitor the shim started is handed over, waiting
 * for it to answer until the time the shim gives it (3 s from its start) is up; else the shim
 * says it on stderr. */
void ss__segment_hand_over_at_exit(void);

/* The sampling signal (signals.c), installed only when the monitor asks for it. */
void ss__install_signal_handler(void);
void ss__signals_after_fork(void);
void ss__on_sample_signal(int sig, siginfo_t *si, void *ucv);
/* sigaction(2) of the C library, past the shim's own interposer. */
int ss__real_sigaction(int sig, const struct sigaction *act, struct sigaction *old);
/* Held while the shim installs its handler or the program changes the signal's disposition;
 * returns whether the lock was taken. */
int ss__lock_dispositions(void);
void ss__unlock_dispositions(int held);
/* Whether the calling thread blocks the sampling signal now. */
int ss__signal_blocked_here(void);
/* Set while the shim's handler is installed and the program has not taken the signal over. */
extern _Atomic int ss__signal_on;
/* Waits (a bounded spin) until a sample the monitor has requested of this thread has landed
 * or was called off. */
void ss__let_sample_land(struct ss_slot *s);

/* Marks a loop thread as inside a call of the host's, where the monitor never signals it.
 * With the signal in use the two sides order themselves through the slot: the thread
 * publishes IN_CALL, then looks for a request; the monitor publishes its request, then looks
 * at the state. A sample already decided on lands before the call is made, so the signal
 * cannot reach the thread inside it (an EINTR, a short write, a restart). */
static inline void ss__enter_call(struct ss_slot *s)
{
    if (__builtin_expect(atomic_load_explicit(&ss__signal_on, memory_order_relaxed), 0)) {
        atomic_store(&s->state, SS_STATE_IN_CALL);
        if (atomic_load(&s->snap_state) == SS_SNAP_REQUESTED)
            ss__let_sample_land(s);
        return;
    }
    atomic_store_explicit(&s->state, SS_STATE_IN_CALL, memory_order_release);
}

/* Children that run a program the shim cannot follow (children.c). */
/* The ring a process records its execs in: its own segment's, or its parent's while a forked
 * child has none of its own yet. */
struct ss_exec_ring *ss__exec_ring(void);

#endif
