/* inject-call: function calls run on the thread inject.c chose and parked. A call sets its
 * registers, continues it, and catches the SIGSEGV of its return to address 0; that
 * signal-delivery-stop is left at once for a new interrupt stop: what the kernel does with the
 * signal of a tracee in a signal-delivery-stop whose tracer dies has varied (ptrace(2) calls
 * it buggy; 6.x discards it), while an interrupt stop is always left with nothing delivered. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include "monitor/inject-internal.h"
#include "util/clock.h"

#define EFLAGS_TF 0x100
#define EFLAGS_DF 0x400

static bool is_stop_signal(int sig)
{
    return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

static bool is_fault(int sig, const siginfo_t *si)
{
    return (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGTRAP) &&
           si->si_code > 0;
}

int inject_park(struct ss_inject *in)
{
    pid_t tid = in->chosen->tid;
    if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0 || ptrace(PTRACE_CONT, tid, 0, 0) < 0)
        return -errno;
    int status;
    int r = inject_wait_thread(tid, &status, ss_monotonic_ns() + STOP_WAIT_MS * 1000000ull);
    if (r < 0)
        return r == -ECHILD ? -ESRCH : r;
    if (WIFEXITED(status) || WIFSIGNALED(status))
        return -ESRCH;
    if (status >> 16 == PTRACE_EVENT_STOP)
        return 0;
    /* A signal dequeued first: sent again at the end (the thread must not run it now). */
    in->held_signals |= 1ull << (WSTOPSIG(status) - 1);
    return inject_park(in);
}

enum outcome { RETURNED, FAULTED, TIMED_OUT, EXITED };

/* Runs the thread until the call returns to 0 (entry_rsp + 8 is its stack pointer then). */
static enum outcome run_call(struct ss_inject *in, uint64_t entry_rsp, int timeout_ms,
                             bool *signal_stop, char *why, size_t size)
{
    pid_t tid = in->chosen->tid;
    uint64_t deadline = ss_monotonic_ns() + (uint64_t)timeout_ms * 1000000u;
    bool interrupted = false;
    *signal_stop = true;
    for (;;) {
        int status;
        int r = inject_wait_thread(tid, &status, deadline);
        if (r == -ETIMEDOUT && !interrupted) {
            ptrace(PTRACE_INTERRUPT, tid, 0, 0);
            interrupted = true;
            deadline = ss_monotonic_ns() + STOP_WAIT_MS * 1000000ull;
            continue;
        }
        if (r < 0 || WIFEXITED(status) || WIFSIGNALED(status)) {
            if (r == -ETIMEDOUT)
                inject_say(why, size, "thread %d did not stop after its call timed out", (int)tid);
            else
                inject_say(why, size, "process %d exited during the call", (int)in->pid);
            return r == -ETIMEDOUT ? TIMED_OUT : EXITED;
        }
        int sig = WSTOPSIG(status);
        if (status >> 16 == PTRACE_EVENT_STOP) {
            if (interrupted && sig == SIGTRAP) {
                *signal_stop = false;
                inject_say(why, size, "the call did not return within %d ms", timeout_ms);
                return TIMED_OUT;
            }
            /* A group-stop, or an interrupt left over: the call goes on; the kernel stops the
             * thread again when it is detached if the group-stop still holds. */
            in->disturbed = true;
            ptrace(PTRACE_CONT, tid, 0, 0);
            continue;
        }
        siginfo_t si = {0};
        struct user_regs_struct regs;
        ptrace(PTRACE_GETSIGINFO, tid, 0, &si);
        if (ptrace(PTRACE_GETREGS, tid, 0, &regs) < 0) {
            inject_say(why, size, "process %d exited during the call", (int)in->pid);
            return EXITED;
        }
        if (sig == SIGSEGV && si.si_code > 0 && regs.rip == 0 && regs.rsp == entry_rsp + 8) {
            in->chosen->regs = regs;
            return RETURNED;
        }
        if (is_fault(sig, &si)) {
            inject_say(why, size, "the call faulted: %s at 0x%llx (address 0x%llx)", strsignal(sig),
                       (unsigned long long)regs.rip, (unsigned long long)(uintptr_t)si.si_addr);
            return FAULTED;
        }
        in->disturbed = true;
        if (is_stop_signal(sig)) {
            in->held_signals |= 1ull << (sig - 1);
            sig = 0;
        } else {
            if (sig == SIGCONT) /* it cancels the stops held back, as it would have */
                for (int stop = 1; stop <= 64; stop++)
                    if (is_stop_signal(stop))
                        in->held_signals &= ~(1ull << (stop - 1));
            in->delivered = true;
        }
        ptrace(PTRACE_CONT, tid, 0, (void *)(uintptr_t)sig);
    }
}

int ss_inject_call(struct ss_inject *in, uint64_t fn, const uint64_t *args, unsigned nargs,
                   int timeout_ms, uint64_t *ret, char *why, size_t why_size)
{
    inject_say(why, why_size, "%s", "");
    if (!in->chosen) {
        inject_say(why, why_size, "process %d exited", (int)in->pid);
        return -ESRCH;
    }
    if (nargs > 6) {
        inject_say(why, why_size, "at most 6 arguments");
        return -EINVAL;
    }
    if (in->chosen->state == RUNNING) {
        inject_say(why, why_size, "thread %d has not stopped since its last call timed out",
                   (int)in->chosen->tid);
        return -EBUSY;
    }
    pid_t tid = in->chosen->tid;
    struct user_regs_struct regs = in->saved;
    unsigned long long *slots[6] = {&regs.rdi, &regs.rsi, &regs.rdx, &regs.rcx, &regs.r8, &regs.r9};
    for (unsigned i = 0; i < nargs; i++)
        *slots[i] = args[i];
    /* Below the scratch space, aligned so that (rsp + 8) % 16 == 0 once 0 is pushed. */
    regs.rsp = ((in->scratch_top - in->scratch_used) & ~(uint64_t)15) - 8;
    regs.rip = fn;
    regs.rax = 0;
    regs.orig_rax = (uint64_t)-1;
    regs.eflags &= ~(uint64_t)(EFLAGS_DF | EFLAGS_TF);
    uint64_t zero = 0;
    int r = inject_write_target(in->pid, regs.rsp, &zero, sizeof zero);
    if (r < 0) {
        inject_say(why, why_size, "cannot write the return address on the stack: %s", strerror(-r));
        return r;
    }
    if (ptrace(PTRACE_SETREGS, tid, 0, &regs) < 0 || ptrace(PTRACE_CONT, tid, 0, 0) < 0) {
        r = -errno;
        inject_say(why, why_size, "cannot start the call on thread %d: %s", (int)tid, strerror(-r));
        inject_park_registers(in);
        return r;
    }
    bool signal_stop;
    enum outcome o = run_call(in, regs.rsp, timeout_ms, &signal_stop, why, why_size);
    if (o == EXITED) {
        in->chosen->state = GONE;
        in->chosen = NULL;
        return -ESRCH;
    }
    if (o == RETURNED)
        *ret = in->chosen->regs.rax;
    if (o == TIMED_OUT && signal_stop) {
        /* The thread never stopped: it cannot be given its registers back. */
        in->chosen->state = RUNNING;
        return -ETIMEDOUT;
    }
    /* The call's own stops may have replaced the thread's restart block. */
    if (o != RETURNED)
        in->disturbed = true;
    /* Registers first: from here on, if this process dies, the thread goes on as it was. */
    r = inject_park_registers(in);
    if (r == 0)
        r = inject_restore_vector_state(in);
    if (r == 0 && signal_stop)
        r = inject_park(in);
    if (r == 0)
        return o == RETURNED ? 0 : o == FAULTED ? -EFAULT : -ETIMEDOUT;
    inject_say(why, why_size, "cannot put back the registers of thread %d: %s", (int)tid,
               strerror(-r));
    return r;
}
