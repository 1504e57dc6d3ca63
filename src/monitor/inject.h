/* inject: runs function calls inside another process, on one of its threads, through ptrace,
 * and then leaves the process as it was: registers, vector state, signals, and the system call
 * the thread was blocked in. x86_64 Linux only. Every function of one ss_inject must be called
 * from the thread that called ss_inject_begin: the kernel takes ptrace requests only from the
 * thread that attached. A process that never calls the functions is never made to. */
#ifndef SS_MONITOR_INJECT_H
#define SS_MONITOR_INJECT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ss_inject;

/* Seizes every thread of pid (PTRACE_SEIZE, never PTRACE_O_EXITKILL: if this process dies the
 * target goes on) and stops them all (PTRACE_INTERRUPT), listing /proc/PID/task again until no
 * new thread appears. Chooses the thread the calls will run on: one stopped inside a system
 * call other than futex, the memory calls malloc makes under its lock, and any made by the
 * dynamic loader (a loop in epoll_wait, poll, read or nanosleep is at a clean call boundary
 * holding no C-library lock), a waiting call first; if none, resumes all, waits a few ms and
 * stops them again, for about a second; then for about one more also accepts a thread in user
 * code outside libc.so.6 and ld-linux; else fails. Then detaches every other thread: the calls
 * may need locks those hold. A pid that names a thread stands for its process.
 * Returns 0, or a negated errno with a one-line reason in why: -EPERM (which cause: the
 * kernel.yama.ptrace_scope value and what it allows, another user's process, root without
 * CAP_SYS_PTRACE in a container, a process that is not dumpable), -ESRCH (no such process, or
 * it exited meanwhile), -EBUSY (already traced: names the tracer), -EAGAIN (no thread could be
 * chosen, or one would not stop), -EINVAL (this process itself), -ENOTSUP (the target maps
 * page 0, where injected calls return to). */
int ss_inject_begin(pid_t pid, struct ss_inject **out, char *why, size_t why_size);

/* Copies len bytes into scratch space on the chosen thread's stack (below its stack pointer
 * and the 128-byte red zone, 16-byte aligned), valid until ss_inject_end; *addr gets the
 * target address. At most 64 KiB in all (-ENOSPC beyond); -EFAULT when the stack cannot be
 * written there. */
int ss_inject_push(struct ss_inject *in, const void *data, size_t len, uint64_t *addr);

/* The address in the target of a dynamic symbol (.dynsym, defined, function or object) of the
 * first mapped module whose file name starts with module_prefix, e.g. ("libc.so.6",
 * "dlopen"): the module's load bias, from the mapping of its file offset 0 in /proc/PID/maps
 * and its program headers, plus the symbol's value; the default version of a versioned symbol
 * wins. An indirect function (STT_GNU_IFUNC, as strlen is in glibc) is resolved by calling its
 * resolver in the target. 0 when absent. */
uint64_t ss_inject_symbol(struct ss_inject *in, const char *module_prefix, const char *name);

/* Calls fn(args[0..nargs)) (at most 6 integer or pointer arguments, SysV x86_64 ABI) on the
 * chosen thread and waits up to timeout_ms for it to return; *ret gets rax. The thread's
 * registers and whole extended state are saved at ss_inject_begin and put back after every
 * call, whatever its outcome. A signal that arrives at the thread meanwhile is delivered to
 * it (its handler runs on top of the call); a stop signal is held back and sent again at
 * ss_inject_end, and a group-stop resumes there. Returns 0; -EFAULT when the call faulted
 * (the fault is not delivered), -ETIMEDOUT when it did not return in time (it is abandoned:
 * whatever locks it held stay held), -ESRCH when the process exited, -EINVAL for more than 6
 * arguments, -EBUSY while a call that timed out has not stopped yet; the reason in why. */
int ss_inject_call(struct ss_inject *in, uint64_t fn, const uint64_t *args, unsigned nargs,
                   int timeout_ms, uint64_t *ret, char *why, size_t why_size);

/* Reads len bytes of target memory (for a string a call returned). 0, or a negated errno. */
int ss_inject_read(struct ss_inject *in, uint64_t addr, void *to, size_t len);

/* Lets the chosen thread go as it was (a system call it was blocked in goes on, but for the
 * cases inject.c describes, where it returns EINTR), sends again the stop signals held back,
 * detaches, and frees. NULL is allowed. */
void ss_inject_end(struct ss_inject *in);

/* How long, in ns, every thread was held stopped (from each round's first interrupt until the
 * other threads were let go, summed over the rounds of choosing) and how long the chosen
 * thread has been held so far (from the first interrupt): read it just before ss_inject_end. */
void ss_inject_times(const struct ss_inject *in, uint64_t *all_stopped_ns, uint64_t *chosen_ns);

#endif
