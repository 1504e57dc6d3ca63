/* inject: stops another process's threads through ptrace, chooses the one that runs the calls
 * (inject-call.c), and lets them all go as they were.
 *
 * Every thread is seized and interrupted; one thread is chosen and kept, the others are
 * detached again. The chosen thread is always kept in an interrupt stop (PTRACE_EVENT_STOP)
 * with the registers it is to be let go with ("parked"): if this process dies there, the
 * kernel detaches it and it goes on as if never stopped.
 *
 * The system call a thread was stopped in: the kernel restarts it when the thread is let go
 * with its registers as they were (orig_rax and an -ERESTART* rax), except epoll_wait, which
 * returns EINTR to any stop; one that waits without a time limit is rewound to run again
 * instead, unless a signal is pending for the thread or was delivered to it meanwhile (then
 * EINTR is what the program would have seen). A call of ours that was itself interrupted may
 * have replaced the thread's restart block, so a call restarted through it returns EINTR. */
#define _GNU_SOURCE
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "monitor/inject-internal.h"
#include "util/clock.h"

#ifndef SYS_epoll_pwait2
#define SYS_epoll_pwait2 441
#endif

/* The kernel's own return code of an interrupted system call (include/linux/errno.h). */
#define ERESTART_RESTARTBLOCK 516

#define RED_ZONE 128
#define SCRATCH_MAX (64 * 1024)
#define USER_CS_64 0x33
#define SYSCALL_INSN 0x050f /* 0f 05, little-endian */
#define XSTATE_MAX (64 * 1024)

#define SYSCALL_SEARCH_MS 1000 /* rounds that look only for a thread in a system call */
#define USER_SEARCH_MS 1000    /* then rounds that also accept one in user code */
#define ROUND_PAUSE_US 5000

void inject_say(char *why, size_t size, const char *fmt, ...)
{
    if (!why || size == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
}

int inject_wait_thread(pid_t tid, int *status, uint64_t deadline)
{
    unsigned pause_us = 10;
    for (;;) {
        pid_t r = waitpid(tid, status, __WALL | WNOHANG);
        if (r == tid)
            return 0;
        if (r < 0 && errno != EINTR)
            return -errno;
        if (ss_monotonic_ns() >= deadline)
            return -ETIMEDOUT;
        usleep(pause_us);
        if (pause_us < 1000)
            pause_us *= 2;
    }
}

void inject_note_status(struct thread *th, int status)
{
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
        th->state = GONE;
    } else if (status >> 16 == PTRACE_EVENT_STOP) {
        th->state = WSTOPSIG(status) == SIGTRAP ? TRAPPED : GROUP;
        if (th->state == TRAPPED && ptrace(PTRACE_GETREGS, th->tid, 0, &th->regs) < 0)
            th->state = GONE;
    } else {
        th->state = SIGNALLED;
        th->signal = WSTOPSIG(status);
    }
}

static struct thread *find_thread(struct ss_inject *in, pid_t tid)
{
    for (size_t i = 0; i < in->nthreads; i++)
        if (in->threads[i].tid == tid)
            return &in->threads[i];
    return NULL;
}

/* Seizes the threads of /proc/PID/task not seized yet; *added counts them. */
static int seize_new_threads(struct ss_inject *in, unsigned *added, char *why, size_t size)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", (int)in->pid);
    DIR *d = opendir(dir);
    if (!d) {
        inject_say(why, size, "process %d exited", (int)in->pid);
        return -ESRCH;
    }
    int r = 0;
    *added = 0;
    for (struct dirent *e; r == 0 && (e = readdir(d));) {
        pid_t tid = (pid_t)atoi(e->d_name);
        if (tid <= 0 || find_thread(in, tid))
            continue;
        if (ptrace(PTRACE_SEIZE, tid, 0, 0) < 0) {
            if (errno == ESRCH || inject_thread_state_letter(in->pid, tid) == 'Z')
                continue; /* exited meanwhile, or a zombie leader: nothing to stop */
            r = errno == EPERM ? inject_explain_refusal(in->pid, tid, why, size) : -errno;
            if (r != -EPERM && r != -EBUSY)
                inject_say(why, size, "PTRACE_SEIZE of thread %d: %s", (int)tid, strerror(-r));
            break;
        }
        if (in->nthreads == in->capthreads) {
            size_t cap = in->capthreads ? in->capthreads * 2 : 16;
            struct thread *t = realloc(in->threads, cap * sizeof *t);
            if (!t) {
                /* Not recorded: it would stay traced. */
                ptrace(PTRACE_INTERRUPT, tid, 0, 0);
                int status;
                if (inject_wait_thread(tid, &status,
                                       ss_monotonic_ns() + STOP_WAIT_MS * 1000000ull) == 0)
                    ptrace(PTRACE_DETACH, tid, 0, 0);
                r = -ENOMEM;
                inject_say(why, size, "out of memory");
                break;
            }
            in->threads = t;
            in->capthreads = cap;
        }
        in->threads[in->nthreads++] = (struct thread){.tid = tid, .state = RUNNING};
        ++*added;
    }
    closedir(d);
    return r;
}

/* Interrupts the running threads and waits for their stops. */
static int stop_running(struct ss_inject *in, char *why, size_t size)
{
    for (size_t i = 0; i < in->nthreads; i++)
        if (in->threads[i].state == RUNNING &&
            ptrace(PTRACE_INTERRUPT, in->threads[i].tid, 0, 0) < 0)
            in->threads[i].state = GONE;
    uint64_t deadline = ss_monotonic_ns() + STOP_WAIT_MS * 1000000ull;
    for (size_t i = 0; i < in->nthreads; i++) {
        struct thread *th = &in->threads[i];
        int status;
        if (th->state != RUNNING)
            continue;
        int r = inject_wait_thread(th->tid, &status, deadline);
        if (r == -ETIMEDOUT) {
            inject_say(why, size,
                       "thread %d of process %d did not stop (in uninterruptible sleep?)",
                       (int)th->tid, (int)in->pid);
            return -EAGAIN;
        }
        if (r < 0)
            th->state = GONE;
        else
            inject_note_status(th, status);
    }
    return 0;
}

/* Seizes and stops every thread, until a listing finds none that is not stopped. */
static int stop_all(struct ss_inject *in, char *why, size_t size)
{
    unsigned added;
    do {
        int r = seize_new_threads(in, &added, why, size);
        if (r == 0)
            r = stop_running(in, why, size);
        if (r < 0)
            return r;
    } while (added > 0);
    for (size_t i = 0; i < in->nthreads; i++)
        if (in->threads[i].state != GONE)
            return 0;
    inject_say(why, size, "process %d exited", (int)in->pid);
    return -ESRCH;
}

static bool waits_without_limit(const struct user_regs_struct *r)
{
    long nr = (long)r->orig_rax;
    if (nr == SYS_epoll_wait || nr == SYS_epoll_pwait)
        return (int)r->r10 < 0;
    return nr == SYS_epoll_pwait2 && r->r10 == 0;
}

static bool after_syscall_insn(pid_t pid, uint64_t rip)
{
    uint16_t insn;
    struct iovec local = {&insn, sizeof insn}, remote = {(void *)(uintptr_t)(rip - 2), 2};
    return process_vm_readv(pid, &local, 1, &remote, 1, 0) == 2 && insn == SYSCALL_INSN;
}

/* The registers a thread stopped with regs is let go with (see the file's comment). */
static struct user_regs_struct release_regs(pid_t pid, pid_t tid,
                                            const struct user_regs_struct *regs, bool disturbed)
{
    struct user_regs_struct out = *regs;
    long result = (long)regs->rax;
    if ((long)regs->orig_rax < 0)
        return out;
    if (disturbed && result == -ERESTART_RESTARTBLOCK)
        out.rax = (uint64_t)-EINTR;
    else if (!disturbed && result == -EINTR && waits_without_limit(regs) &&
             !inject_signal_pending(pid, tid) && after_syscall_insn(pid, regs->rip)) {
        out.rip -= 2;
        out.rax = regs->orig_rax;
    }
    return out;
}

/* Lets a stopped thread other than the chosen one go on: resume (PTRACE_CONT) or detach. */
static void let_go(struct ss_inject *in, struct thread *th, enum __ptrace_request how)
{
    if (th->state == TRAPPED) {
        struct user_regs_struct r = release_regs(in->pid, th->tid, &th->regs, false);
        if (memcmp(&r, &th->regs, sizeof r) != 0)
            ptrace(PTRACE_SETREGS, th->tid, 0, &r);
        ptrace(how, th->tid, 0, 0);
    } else if (th->state == SIGNALLED) {
        ptrace(how, th->tid, 0, (void *)(uintptr_t)th->signal);
    } else if (th->state == GROUP && how == PTRACE_DETACH) {
        ptrace(PTRACE_DETACH, th->tid, 0, 0); /* the group-stop goes on without us */
    } else {
        return; /* a group-stop is not resumed between rounds */
    }
    th->state = how == PTRACE_DETACH ? GONE : RUNNING;
}

static bool is_waiting_call(long nr)
{
    static const long waits[] = {
        SYS_epoll_wait,      SYS_epoll_pwait,    SYS_epoll_pwait2,    SYS_poll,
        SYS_ppoll,           SYS_select,         SYS_pselect6,        SYS_nanosleep,
        SYS_clock_nanosleep, SYS_read,           SYS_readv,           SYS_recvfrom,
        SYS_recvmsg,         SYS_accept,         SYS_accept4,         SYS_wait4,
        SYS_waitid,          SYS_pause,          SYS_rt_sigsuspend,   SYS_rt_sigtimedwait,
        SYS_io_getevents,    SYS_io_uring_enter, SYS_restart_syscall,
    };
    for (size_t i = 0; i < sizeof waits / sizeof *waits; i++)
        if (nr == waits[i])
            return true;
    return false;
}

/* Calls a thread may be in while it holds a lock the calls may need: futex (any lock), the
 * memory calls malloc makes under its arena lock. */
/* Calls made under a lock of the C library's: malloc's (memory calls; fork takes every arena
 * and the atfork lock around clone) or another thread's. */
static bool is_locked_call(long nr)
{
    return nr == SYS_futex || nr == SYS_mmap || nr == SYS_munmap || nr == SYS_mprotect ||
           nr == SYS_brk || nr == SYS_mremap || nr == SYS_madvise || nr == SYS_clone ||
           nr == SYS_clone3 || nr == SYS_fork || nr == SYS_vfork;
}

/* How fit th is to run the calls: 3 in a waiting system call, 2 in another, 1 in user code
 * outside the C library and the loader (when accept_user), 0 unfit. */
static int fitness(pid_t pid, const struct thread *th, bool accept_user)
{
    if (th->state != TRAPPED || th->regs.cs != USER_CS_64)
        return 0;
    long nr = (long)th->regs.orig_rax;
    if (nr >= 0) {
        if (is_locked_call(nr) || inject_in_module(pid, th->regs.rip, "ld-linux"))
            return 0;
        return is_waiting_call(nr) ? 3 : 2;
    }
    if (!accept_user || inject_in_module(pid, th->regs.rip, "libc.so.6") ||
        inject_in_module(pid, th->regs.rip, "ld-linux"))
        return 0;
    return 1;
}

static struct thread *choose(struct ss_inject *in, bool accept_user)
{
    struct thread *best = NULL;
    int best_fit = 0;
    for (size_t i = 0; i < in->nthreads; i++) {
        struct thread *th = &in->threads[i];
        int fit = fitness(in->pid, th, accept_user);
        /* The main thread first among equals: the listing puts it first. */
        if (fit > best_fit) {
            best = th;
            best_fit = fit;
        }
        if (best_fit == 3)
            break;
    }
    return best;
}

static int save_state(struct ss_inject *in, char *why, size_t size)
{
    pid_t tid = in->chosen->tid;
    in->saved = in->chosen->regs;
    in->xstate = malloc(XSTATE_MAX);
    if (!in->xstate) {
        inject_say(why, size, "out of memory");
        return -ENOMEM;
    }
    struct iovec iov = {in->xstate, XSTATE_MAX};
    if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_X86_XSTATE, &iov) == 0) {
        in->xstate_len = iov.iov_len;
        return 0;
    }
    free(in->xstate);
    in->xstate = NULL;
    if (ptrace(PTRACE_GETFPREGS, tid, 0, &in->fpregs) == 0)
        return 0;
    inject_say(why, size, "cannot read the vector registers of thread %d: %s", (int)tid,
               strerror(errno));
    return -errno;
}

int inject_restore_vector_state(struct ss_inject *in)
{
    pid_t tid = in->chosen->tid;
    if (in->xstate) {
        struct iovec iov = {in->xstate, in->xstate_len};
        return ptrace(PTRACE_SETREGSET, tid, (void *)NT_X86_XSTATE, &iov) == 0 ? 0 : -errno;
    }
    return ptrace(PTRACE_SETFPREGS, tid, 0, &in->fpregs) == 0 ? 0 : -errno;
}

/* Every thread that is still traced and stopped is let go; those still running are waited
 * for (bounded), then let go. */
static void detach_all(struct ss_inject *in)
{
    uint64_t deadline = ss_monotonic_ns() + STOP_WAIT_MS * 1000000ull;
    for (size_t i = 0; i < in->nthreads; i++) {
        struct thread *th = &in->threads[i];
        int status;
        if (th == in->chosen)
            continue;
        if (th->state == RUNNING) {
            ptrace(PTRACE_INTERRUPT, th->tid, 0, 0);
            if (inject_wait_thread(th->tid, &status, deadline) < 0)
                continue;
            inject_note_status(th, status);
        }
        let_go(in, th, PTRACE_DETACH);
    }
}

static void free_inject(struct ss_inject *in)
{
    free(in->threads);
    free(in->xstate);
    free(in);
}

/* Rounds of stopping every thread, until one is fit to run the calls. */
static int stop_and_choose(struct ss_inject *in, char *why, size_t size)
{
    uint64_t start = ss_monotonic_ns();
    for (;;) {
        uint64_t round = ss_monotonic_ns();
        if (!in->started_ns)
            in->started_ns = round;
        int r = stop_all(in, why, size);
        if (r < 0)
            return r;
        size_t group = 0, alive = 0;
        for (size_t i = 0; i < in->nthreads; i++) {
            group += in->threads[i].state == GROUP;
            alive += in->threads[i].state != GONE;
        }
        if (group == alive) {
            inject_say(why, size,
                       "process %d is stopped (SIGSTOP, or a terminal's); continue it first",
                       (int)in->pid);
            return -EAGAIN;
        }
        uint64_t elapsed_ms = (ss_monotonic_ns() - start) / 1000000u;
        in->chosen = choose(in, elapsed_ms >= SYSCALL_SEARCH_MS);
        if (in->chosen) {
            for (size_t i = 0; i < in->nthreads; i++)
                if (&in->threads[i] != in->chosen)
                    let_go(in, &in->threads[i], PTRACE_DETACH);
            in->all_stopped_ns += ss_monotonic_ns() - round;
            return 0;
        }
        if (elapsed_ms >= SYSCALL_SEARCH_MS + USER_SEARCH_MS) {
            inject_say(why, size,
                       "no thread of process %d stopped in a system call or in code outside "
                       "the C library in %d ms",
                       (int)in->pid, SYSCALL_SEARCH_MS + USER_SEARCH_MS);
            return -EAGAIN;
        }
        for (size_t i = 0; i < in->nthreads; i++)
            let_go(in, &in->threads[i], PTRACE_CONT);
        in->all_stopped_ns += ss_monotonic_ns() - round;
        usleep(ROUND_PAUSE_US);
    }
}

int inject_park_registers(struct ss_inject *in)
{
    struct thread *th = in->chosen;
    struct user_regs_struct r = release_regs(in->pid, th->tid, &in->saved, in->disturbed);
    return ptrace(PTRACE_SETREGS, th->tid, 0, &r) == 0 ? 0 : -errno;
}

int ss_inject_begin(pid_t pid, struct ss_inject **out, char *why, size_t why_size)
{
    *out = NULL;
    inject_say(why, why_size, "%s", "");
    long tgid = pid > 0 ? inject_status_number(pid, 0, "Tgid", 10) : -1;
    if (tgid <= 0 || inject_thread_state_letter((pid_t)tgid, (pid_t)tgid) == 'Z') {
        inject_say(why, why_size, "no process %d", (int)pid);
        return -ESRCH;
    }
    if (tgid == getpid()) {
        inject_say(why, why_size, "process %d is this process", (int)pid);
        return -EINVAL;
    }
    long tracer = inject_status_number((pid_t)tgid, 0, "TracerPid", 10);
    if (tracer > 0)
        return inject_explain_refusal((pid_t)tgid, 0, why, why_size);
    if (inject_maps_page_zero((pid_t)tgid)) {
        inject_say(why, why_size, "process %d maps page 0, where injected calls return", (int)tgid);
        return -ENOTSUP;
    }
    struct ss_inject *in = calloc(1, sizeof *in);
    if (!in) {
        inject_say(why, why_size, "out of memory");
        return -ENOMEM;
    }
    in->pid = (pid_t)tgid;
    int r = stop_and_choose(in, why, why_size);
    if (r == 0)
        r = save_state(in, why, why_size);
    if (r == 0 && (r = inject_park_registers(in)) < 0)
        inject_say(why, why_size, "cannot set the registers of thread %d: %s", (int)in->chosen->tid,
                   strerror(-r));
    if (r < 0) {
        in->chosen = NULL;
        detach_all(in);
        free_inject(in);
        return r;
    }
    in->scratch_top = (in->saved.rsp - RED_ZONE) & ~(uint64_t)15;
    *out = in;
    return 0;
}

int inject_write_target(pid_t pid, uint64_t addr, const void *data, size_t len)
{
    struct iovec local = {(void *)data, len}, remote = {(void *)(uintptr_t)addr, len};
    ssize_t n = process_vm_writev(pid, &local, 1, &remote, 1, 0);
    if (n < 0)
        return -errno;
    return (size_t)n == len ? 0 : -EFAULT;
}

int ss_inject_push(struct ss_inject *in, const void *data, size_t len, uint64_t *addr)
{
    size_t used = (in->scratch_used + len + 15) & ~(size_t)15;
    if (used > SCRATCH_MAX || used < len)
        return -ENOSPC;
    uint64_t at = in->scratch_top - used;
    int r = inject_write_target(in->pid, at, data, len);
    if (r < 0)
        return r;
    in->scratch_used = used;
    *addr = at;
    return 0;
}

int ss_inject_read(struct ss_inject *in, uint64_t addr, void *to, size_t len)
{
    struct iovec local = {to, len}, remote = {(void *)(uintptr_t)addr, len};
    if (len == 0)
        return 0;
    ssize_t n = process_vm_readv(in->pid, &local, 1, &remote, 1, 0);
    if (n < 0)
        return -errno;
    return (size_t)n == len ? 0 : -EFAULT;
}

void ss_inject_end(struct ss_inject *in)
{
    if (!in)
        return;
    struct thread *th = in->chosen;
    if (th && th->state == RUNNING) {
        /* A call that never stopped: wait for it a last time. */
        int status;
        if (inject_wait_thread(th->tid, &status, ss_monotonic_ns() + STOP_WAIT_MS * 1000000ull) ==
            0) {
            inject_note_status(th, status);
            if (th->state == SIGNALLED && inject_park(in) == 0)
                th->state = TRAPPED;
        }
    }
    if (th && th->state != GONE && th->state != RUNNING) {
        /* Pending signals decide the rewind: they are looked at as late as possible. */
        inject_park_registers(in);
        inject_restore_vector_state(in);
        for (int sig = 1; sig <= 64; sig++)
            if (in->held_signals >> (sig - 1) & 1)
                syscall(SYS_tgkill, in->pid, th->tid, sig);
        ptrace(PTRACE_DETACH, th->tid, 0, 0);
        th->state = GONE;
    }
    in->chosen = NULL;
    detach_all(in);
    free_inject(in);
}

void ss_inject_times(const struct ss_inject *in, uint64_t *all_stopped_ns, uint64_t *chosen_ns)
{
    *all_stopped_ns = in->all_stopped_ns;
    *chosen_ns = in->started_ns ? ss_monotonic_ns() - in->started_ns : 0;
}
