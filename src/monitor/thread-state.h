/* thread-state: what a thread of another process is doing right now, read from /proc without
 * stopping or signalling it, and a copy of its stack while it sits in a system call. */
#ifndef SS_MONITOR_THREAD_STATE_H
#define SS_MONITOR_THREAD_STATE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum ss_thread_activity {
    SS_THREAD_GONE = 0,     /* no such thread (any more) */
    SS_THREAD_RUNNING,      /* runnable or on a CPU, in user or kernel mode */
    SS_THREAD_IN_SYSCALL,   /* blocked inside system call `nr` */
    SS_THREAD_STOPPED_USER, /* off CPU but not in a system call (preempted, faulting) */
    SS_THREAD_UNKNOWN,      /* not ours to look at (permissions) */
};

struct ss_thread_now {
    enum ss_thread_activity activity;
    long nr;         /* SS_THREAD_IN_SYSCALL: the system call's number */
    uint64_t sp, pc; /* IN_SYSCALL and STOPPED_USER: user stack pointer and program counter */
};

/* From /proc/PID/task/TID/syscall (which needs the rights to ptrace the process). 0 when
 * now->activity says what the thread does, SS_THREAD_GONE included; a negated errno with
 * SS_THREAD_UNKNOWN when the file cannot be read (-EACCES, -EPERM: not ours) or parsed. */
int ss_thread_now(pid_t pid, pid_t tid, struct ss_thread_now *now);

/* The name of a system call a thread may block in ("read", "futex"), NULL for one that is
 * not expected to block. */
const char *ss_syscall_name(long nr);

/* Copies up to len bytes of the thread's stack starting at sp, stopping at the first page
 * that cannot be read (the end of the stack's mapping, unless another readable mapping follows
 * it directly), with process_vm_readv. Returns the number of bytes copied (0 when sp itself
 * cannot be read), or a negated errno (-ESRCH: gone, -EPERM: not ours). */
long ss_copy_stack(pid_t pid, uint64_t sp, void *buf, size_t len);

#endif
