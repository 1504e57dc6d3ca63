/* inject-internal: what the files of inject share: inject.c stops the target's threads,
 * chooses one and lets them go; inject-call.c runs calls on the chosen one; inject-symbol.c
 * finds symbols in the target; inject-proc.c reads what /proc says of it. */
#ifndef SS_MONITOR_INJECT_INTERNAL_H
#define SS_MONITOR_INJECT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "monitor/inject.h"

#define STOP_WAIT_MS 2000 /* for a thread to stop once interrupted */

enum thread_state {
    RUNNING,   /* seized, maybe interrupted, no stop seen yet */
    TRAPPED,   /* in an interrupt stop: regs are valid */
    GROUP,     /* in a group-stop */
    SIGNALLED, /* in a signal-delivery-stop for signal */
    GONE,      /* exited, or detached */
};

struct thread {
    pid_t tid;
    enum thread_state state;
    int signal;
    struct user_regs_struct regs;
};

struct ss_inject {
    pid_t pid;
    struct thread *threads;
    size_t nthreads, capthreads;
    struct thread *chosen; /* into threads; NULL until chosen */
    struct user_regs_struct saved;
    uint8_t *xstate; /* NT_X86_XSTATE; NULL: fpregs instead */
    size_t xstate_len;
    struct user_fpregs_struct fpregs;
    uint64_t scratch_top, scratch_used;
    /* A call stopped for something other than its return: see inject.c's comment. */
    bool disturbed;
    bool delivered;        /* a signal was delivered to the chosen thread */
    uint64_t held_signals; /* signals to send again at the end, by bit */
    uint64_t started_ns;   /* the first interrupt */
    uint64_t all_stopped_ns;
};

/* A mapping of the target: its range and path (as /proc/PID/maps names it). */
struct mapping {
    uint64_t lo, hi;
    char path[512];
};

/* inject.c */
void inject_say(char *why, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Waits for tid to stop or exit until deadline; 0 with its status, -ETIMEDOUT, or -ECHILD. */
int inject_wait_thread(pid_t tid, int *status, uint64_t deadline);
/* Records what a wait status says about th. */
void inject_note_status(struct thread *th, int status);
/* Gives the chosen thread the registers it is to be let go with. 0, or a negated errno. */
int inject_park_registers(struct ss_inject *in);
/* Puts back the chosen thread's vector state as it was saved. 0, or a negated errno. */
int inject_restore_vector_state(struct ss_inject *in);
/* Writes len bytes of target memory. 0, or a negated errno. */
int inject_write_target(pid_t pid, uint64_t addr, const void *data, size_t len);

/* inject-call.c: leaves a signal-delivery-stop of the chosen thread for an interrupt stop,
 * discarding the signal, without letting it run user code in between. */
int inject_park(struct ss_inject *in);

/* inject-proc.c */
long inject_status_number(pid_t pid, pid_t tid, const char *name, int base);
/* The state letter of /proc/PID/task/TID/stat, or 0. */
char inject_thread_state_letter(pid_t pid, pid_t tid);
/* An unblocked signal waits for the thread (its own or the process's); true when unknown. */
bool inject_signal_pending(pid_t pid, pid_t tid);
/* Why PTRACE_SEIZE was refused with EPERM: the reason in why; -EPERM, or -EBUSY. */
int inject_explain_refusal(pid_t pid, pid_t tid, char *why, size_t size);
/* The mapping of the target that holds addr, or the first at file offset 0 whose file name
 * starts with prefix (when not NULL). 0, -ENOENT, or a negated errno. */
int inject_find_mapping(pid_t pid, uint64_t addr, const char *prefix, struct mapping *out);
/* addr is in a mapping of a file whose name starts with prefix. */
bool inject_in_module(pid_t pid, uint64_t addr, const char *prefix);
bool inject_maps_page_zero(pid_t pid);

#endif
