/* inject: calls made inside another process through ptrace.
 *
 * Every thread is seized and interrupted; one thread is chosen and kept, the others are
 * detached again. The chosen thread is always kept in an interrupt stop (PTRACE_EVENT_STOP)
 * with the registers it is to be let go with ("parked"): if this process dies there, the
 * kernel detaches it and it goes on as if never stopped. A call sets its registers, continues
 * it, and catches the SIGSEGV of its return to address 0; that signal-delivery-stop is left at
 * once for a new interrupt stop: what the kernel does with the signal of a tracee in a
 * signal-delivery-stop whose tracer dies has varied (ptrace(2) calls it buggy; 6.x discards
 * it), while an interrupt stop is always left with nothing delivered.
 *
 * The system call a thread was stopped in: the kernel restarts it when the thread is let go
 * with its registers as they were (orig_rax and an -ERESTART* rax), except epoll_wait, which
 * returns EINTR to any stop; one that waits without a time limit is rewound to run again
 * instead, unless a signal is pending for the thread or was delivered to it meanwhile (then
 * EINTR is what the program would have seen). A call of ours that was itself interrupted may
 * have replaced the thread's restart block, so a call restarted through it returns EINTR. */
#define _GNU_SOURCE
#include "monitor/inject.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "monitor/procfs.h"

#ifndef SYS_epoll_pwait2
#define SYS_epoll_pwait2 441
#endif

/* The kernel's own return codes of an interrupted system call (include/linux/errno.h). */
#define ERESTARTSYS 512
#define ERESTART_RESTARTBLOCK 516

#define RED_ZONE 128
#define SCRATCH_MAX (64 * 1024)
#define USER_CS_64 0x33
#define EFLAGS_TF 0x100
#define EFLAGS_DF 0x400
#define SYSCALL_INSN 0x050f /* 0f 05, little-endian */
#define XSTATE_MAX (64 * 1024)
#define CAP_SYS_PTRACE_BIT 19
#define VERSYM_HIDDEN 0x8000 /* in .gnu.version: not the default version of its name */

#define STOP_WAIT_MS 2000      /* for a thread to stop once interrupted */
#define SYSCALL_SEARCH_MS 1000 /* rounds that look only for a thread in a system call */
#define USER_SEARCH_MS 1000    /* then rounds that also accept one in user code */
#define ROUND_PAUSE_US 5000
#define RESOLVER_TIMEOUT_MS 1000

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
    /* A call stopped for something other than its return: see the file's comment. */
    bool disturbed;
    bool delivered;        /* a signal was delivered to the chosen thread */
    uint64_t held_signals; /* signals to send again at the end, by bit */
    uint64_t started_ns;   /* the first interrupt */
    uint64_t all_stopped_ns;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void say(char *why, size_t size, const char *fmt, ...)
{
    if (!why || size == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
}

/* ---- /proc ----------------------------------------------------------------------------- */

/* The text after "Name:" in /proc/PID/task/TID/status (tid 0: /proc/PID/status), or NULL. */
static const char *status_field(pid_t pid, pid_t tid, const char *name, char *buf, size_t size)
{
    char file[64];
    if (tid)
        snprintf(file, sizeof file, "task/%d/status", (int)tid);
    else
        snprintf(file, sizeof file, "status");
    if (ss_proc_read(pid, file, buf, size) <= 0)
        return NULL;
    size_t len = strlen(name);
    for (char *line = buf; line; line = strchr(line, '\n')) {
        line += *line == '\n';
        if (strncmp(line, name, len) == 0 && line[len] == ':')
            return line + len + 1;
    }
    return NULL;
}

static long status_number(pid_t pid, pid_t tid, const char *name, int base)
{
    char buf[4096];
    const char *v = status_field(pid, tid, name, buf, sizeof buf);
    return v ? strtol(v, NULL, base) : -1;
}

static char thread_state_letter(pid_t pid, pid_t tid)
{
    char file[64], buf[512];
    snprintf(file, sizeof file, "task/%d/stat", (int)tid);
    if (ss_proc_read(pid, file, buf, sizeof buf) <= 0)
        return 0;
    const char *p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : 0;
}

/* An unblocked signal waits for the thread (its own or the process's); true when unknown. */
static bool signal_pending(pid_t pid, pid_t tid)
{
    char buf[4096];
    const char *own = status_field(pid, tid, "SigPnd", buf, sizeof buf);
    const char *shared = own ? strstr(own, "ShdPnd:") : NULL;
    const char *blocked = shared ? strstr(shared, "SigBlk:") : NULL;
    if (!blocked)
        return true;
    uint64_t pending = strtoull(own, NULL, 16) | strtoull(shared + 7, NULL, 16);
    return (pending & ~strtoull(blocked + 7, NULL, 16)) != 0;
}

static void process_name(pid_t pid, char *buf, size_t size)
{
    if (ss_proc_read(pid, "comm", buf, size) <= 0)
        snprintf(buf, size, "?");
    buf[strcspn(buf, "\n")] = '\0';
}

static bool has_cap_sys_ptrace(void)
{
    char buf[4096];
    const char *v = status_field(getpid(), 0, "CapEff", buf, sizeof buf);
    return v && (strtoull(v, NULL, 16) >> CAP_SYS_PTRACE_BIT & 1);
}

/* Why PTRACE_SEIZE was refused with EPERM. */
static int explain_refusal(pid_t pid, pid_t tid, char *why, size_t size)
{
    long tracer = status_number(pid, tid, "TracerPid", 10);
    if (tracer > 0) {
        char name[64];
        process_name((pid_t)tracer, name, sizeof name);
        say(why, size, "process %d is already traced by process %ld (%s)", (int)pid, tracer, name);
        return -EBUSY;
    }
    char buf[128];
    int scope = -1;
    if (ss_read_small_file("/proc/sys/kernel/yama/ptrace_scope", buf, sizeof buf) > 0)
        scope = atoi(buf);
    bool cap = has_cap_sys_ptrace();
    uid_t me = getuid();
    char status[4096];
    const char *uids = status_field(pid, 0, "Uid", status, sizeof status);
    unsigned ruid = 0, euid = 0, suid = 0;
    bool other_user = uids && sscanf(uids, "%u %u %u", &ruid, &euid, &suid) == 3 &&
                      (ruid != me || euid != me || suid != me);
    if (scope == 3)
        say(why, size,
            "kernel.yama.ptrace_scope is 3: no process may trace another (until a "
            "reboot)");
    else if (!cap && geteuid() == 0)
        say(why, size,
            "running as root without CAP_SYS_PTRACE (a container needs "
            "--cap-add=SYS_PTRACE)%s",
            scope > 0 ? ", and kernel.yama.ptrace_scope is not 0" : "");
    else if (!cap && other_user)
        say(why, size,
            "process %d belongs to another user (uid %u); tracing it needs root or "
            "CAP_SYS_PTRACE",
            (int)pid, euid);
    else if (!cap && scope == 2)
        say(why, size,
            "kernel.yama.ptrace_scope is 2: only a process with CAP_SYS_PTRACE may "
            "trace (run as root)");
    else if (!cap && scope == 1)
        say(why, size,
            "kernel.yama.ptrace_scope is 1: a process may trace only its own "
            "descendants (run as root, or set kernel.yama.ptrace_scope=0)");
    else
        say(why, size,
            "ptrace of process %d refused: it is not dumpable (setuid, or "
            "PR_SET_DUMPABLE 0), or a seccomp filter or security module forbids it",
            (int)pid);
    return -EPERM;
}

/* The mapping of the target that holds addr, or the first at file offset 0 whose file name
 * starts with prefix: its range and path (as the maps name it). 0, or -ENOENT. */
struct mapping {
    uint64_t lo, hi;
    char path[512];
};

static int find_mapping(pid_t pid, uint64_t addr, const char *prefix, struct mapping *out)
{
    char file[64];
    snprintf(file, sizeof file, "/proc/%d/maps", (int)pid);
    FILE *f = fopen(file, "re");
    if (!f)
        return errno == ENOENT ? -ESRCH : -errno;
    char line[1024];
    int r = -ENOENT;
    while (r < 0 && fgets(line, sizeof line, f)) {
        unsigned long long lo, hi, off;
        int path_at = 0;
        if (sscanf(line, "%llx-%llx %*s %llx %*s %*s %n", &lo, &hi, &off, &path_at) < 3 || !path_at)
            continue;
        char *path = line + path_at;
        path[strcspn(path, "\n")] = '\0';
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        bool hit = prefix ? off == 0 && *path == '/' && strncmp(base, prefix, strlen(prefix)) == 0
                          : addr >= lo && addr < hi;
        if (hit) {
            out->lo = lo;
            out->hi = hi;
            snprintf(out->path, sizeof out->path, "%s", path);
            r = 0;
        }
    }
    fclose(f);
    return r;
}

static bool maps_page_zero(pid_t pid)
{
    struct mapping m;
    return find_mapping(pid, 0, NULL, &m) == 0;
}

/* ---- threads --------------------------------------------------------------------------- */

/* Waits for tid to stop or exit until deadline; 0 with its status, -ETIMEDOUT, or -ECHILD. */
static int wait_thread(pid_t tid, int *status, uint64_t deadline)
{
    unsigned pause_us = 10;
    for (;;) {
        pid_t r = waitpid(tid, status, __WALL | WNOHANG);
        if (r == tid)
            return 0;
        if (r < 0 && errno != EINTR)
            return -errno;
        if (now_ns() >= deadline)
            return -ETIMEDOUT;
        usleep(pause_us);
        if (pause_us < 1000)
            pause_us *= 2;
    }
}

/* Records what a wait status says about th. */
static void note_status(struct thread *th, int status)
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
        say(why, size, "process %d exited", (int)in->pid);
        return -ESRCH;
    }
    int r = 0;
    *added = 0;
    for (struct dirent *e; r == 0 && (e = readdir(d));) {
        pid_t tid = (pid_t)atoi(e->d_name);
        if (tid <= 0 || find_thread(in, tid))
            continue;
        if (ptrace(PTRACE_SEIZE, tid, 0, 0) < 0) {
            if (errno == ESRCH || thread_state_letter(in->pid, tid) == 'Z')
                continue; /* exited meanwhile, or a zombie leader: nothing to stop */
            r = errno == EPERM ? explain_refusal(in->pid, tid, why, size) : -errno;
            if (r != -EPERM && r != -EBUSY)
                say(why, size, "PTRACE_SEIZE of thread %d: %s", (int)tid, strerror(-r));
            break;
        }
        if (in->nthreads == in->capthreads) {
            size_t cap = in->capthreads ? in->capthreads * 2 : 16;
            struct thread *t = realloc(in->threads, cap * sizeof *t);
            if (!t) {
                /* Not recorded: it would stay traced. */
                ptrace(PTRACE_INTERRUPT, tid, 0, 0);
                int status;
                if (wait_thread(tid, &status, now_ns() + STOP_WAIT_MS * 1000000ull) == 0)
                    ptrace(PTRACE_DETACH, tid, 0, 0);
                r = -ENOMEM;
                say(why, size, "out of memory");
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
    uint64_t deadline = now_ns() + STOP_WAIT_MS * 1000000ull;
    for (size_t i = 0; i < in->nthreads; i++) {
        struct thread *th = &in->threads[i];
        int status;
        if (th->state != RUNNING)
            continue;
        int r = wait_thread(th->tid, &status, deadline);
        if (r == -ETIMEDOUT) {
            say(why, size, "thread %d of process %d did not stop (in uninterruptible sleep?)",
                (int)th->tid, (int)in->pid);
            return -EAGAIN;
        }
        if (r < 0)
            th->state = GONE;
        else
            note_status(th, status);
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
    say(why, size, "process %d exited", (int)in->pid);
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
             !signal_pending(pid, tid) && after_syscall_insn(pid, regs->rip)) {
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

static bool in_module(pid_t pid, uint64_t addr, const char *prefix)
{
    struct mapping m;
    if (find_mapping(pid, addr, NULL, &m) < 0)
        return false;
    const char *base = strrchr(m.path, '/');
    base = base ? base + 1 : m.path;
    return strncmp(base, prefix, strlen(prefix)) == 0;
}

/* How fit th is to run the calls: 3 in a waiting system call, 2 in another, 1 in user code
 * outside the C library and the loader (when accept_user), 0 unfit. */
static int fitness(pid_t pid, const struct thread *th, bool accept_user)
{
    if (th->state != TRAPPED || th->regs.cs != USER_CS_64)
        return 0;
    long nr = (long)th->regs.orig_rax;
    if (nr >= 0) {
        if (is_locked_call(nr) || in_module(pid, th->regs.rip, "ld-linux"))
            return 0;
        return is_waiting_call(nr) ? 3 : 2;
    }
    if (!accept_user || in_module(pid, th->regs.rip, "libc.so.6") ||
        in_module(pid, th->regs.rip, "ld-linux"))
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
        say(why, size, "out of memory");
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
    say(why, size, "cannot read the vector registers of thread %d: %s", (int)tid, strerror(errno));
    return -errno;
}

static int restore_vector_state(struct ss_inject *in)
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
    uint64_t deadline = now_ns() + STOP_WAIT_MS * 1000000ull;
    for (size_t i = 0; i < in->nthreads; i++) {
        struct thread *th = &in->threads[i];
        int status;
        if (th == in->chosen)
            continue;
        if (th->state == RUNNING) {
            ptrace(PTRACE_INTERRUPT, th->tid, 0, 0);
            if (wait_thread(th->tid, &status, deadline) < 0)
                continue;
            note_status(th, status);
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
    uint64_t start = now_ns();
    for (;;) {
        uint64_t round = now_ns();
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
            say(why, size, "process %d is stopped (SIGSTOP, or a terminal's); continue it first",
                (int)in->pid);
            return -EAGAIN;
        }
        uint64_t elapsed_ms = (now_ns() - start) / 1000000u;
        in->chosen = choose(in, elapsed_ms >= SYSCALL_SEARCH_MS);
        if (in->chosen) {
            for (size_t i = 0; i < in->nthreads; i++)
                if (&in->threads[i] != in->chosen)
                    let_go(in, &in->threads[i], PTRACE_DETACH);
            in->all_stopped_ns += now_ns() - round;
            return 0;
        }
        if (elapsed_ms >= SYSCALL_SEARCH_MS + USER_SEARCH_MS) {
            say(why, size,
                "no thread of process %d stopped in a system call or in code outside "
                "the C library in %d ms",
                (int)in->pid, SYSCALL_SEARCH_MS + USER_SEARCH_MS);
            return -EAGAIN;
        }
        for (size_t i = 0; i < in->nthreads; i++)
            let_go(in, &in->threads[i], PTRACE_CONT);
        in->all_stopped_ns += now_ns() - round;
        usleep(ROUND_PAUSE_US);
    }
}

static int park_registers(struct ss_inject *in)
{
    struct thread *th = in->chosen;
    struct user_regs_struct r = release_regs(in->pid, th->tid, &in->saved, in->disturbed);
    return ptrace(PTRACE_SETREGS, th->tid, 0, &r) == 0 ? 0 : -errno;
}

int ss_inject_begin(pid_t pid, struct ss_inject **out, char *why, size_t why_size)
{
    *out = NULL;
    say(why, why_size, "%s", "");
    long tgid = pid > 0 ? status_number(pid, 0, "Tgid", 10) : -1;
    if (tgid <= 0 || thread_state_letter((pid_t)tgid, (pid_t)tgid) == 'Z') {
        say(why, why_size, "no process %d", (int)pid);
        return -ESRCH;
    }
    if (tgid == getpid()) {
        say(why, why_size, "process %d is this process", (int)pid);
        return -EINVAL;
    }
    long tracer = status_number((pid_t)tgid, 0, "TracerPid", 10);
    if (tracer > 0)
        return explain_refusal((pid_t)tgid, 0, why, why_size);
    if (maps_page_zero((pid_t)tgid)) {
        say(why, why_size, "process %d maps page 0, where injected calls return", (int)tgid);
        return -ENOTSUP;
    }
    struct ss_inject *in = calloc(1, sizeof *in);
    if (!in) {
        say(why, why_size, "out of memory");
        return -ENOMEM;
    }
    in->pid = (pid_t)tgid;
    int r = stop_and_choose(in, why, why_size);
    if (r == 0)
        r = save_state(in, why, why_size);
    if (r == 0 && (r = park_registers(in)) < 0)
        say(why, why_size, "cannot set the registers of thread %d: %s", (int)in->chosen->tid,
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

static int write_target(pid_t pid, uint64_t addr, const void *data, size_t len)
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
    int r = write_target(in->pid, at, data, len);
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

/* ---- calls ----------------------------------------------------------------------------- */

static bool is_stop_signal(int sig)
{
    return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

static bool is_fault(int sig, const siginfo_t *si)
{
    return (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGTRAP) &&
           si->si_code > 0;
}

/* Leaves a signal-delivery-stop of the chosen thread for an interrupt stop, discarding the
 * signal, without letting it run user code in between. */
static int park(struct ss_inject *in)
{
    pid_t tid = in->chosen->tid;
    if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0 || ptrace(PTRACE_CONT, tid, 0, 0) < 0)
        return -errno;
    int status;
    int r = wait_thread(tid, &status, now_ns() + STOP_WAIT_MS * 1000000ull);
    if (r < 0)
        return r == -ECHILD ? -ESRCH : r;
    if (WIFEXITED(status) || WIFSIGNALED(status))
        return -ESRCH;
    if (status >> 16 == PTRACE_EVENT_STOP)
        return 0;
    /* A signal dequeued first: sent again at the end (the thread must not run it now). */
    in->held_signals |= 1ull << (WSTOPSIG(status) - 1);
    return park(in);
}

enum outcome { RETURNED, FAULTED, TIMED_OUT, EXITED };

/* Runs the thread until the call returns to 0 (entry_rsp + 8 is its stack pointer then). */
static enum outcome run_call(struct ss_inject *in, uint64_t entry_rsp, int timeout_ms,
                             bool *signal_stop, char *why, size_t size)
{
    pid_t tid = in->chosen->tid;
    uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;
    bool interrupted = false;
    *signal_stop = true;
    for (;;) {
        int status;
        int r = wait_thread(tid, &status, deadline);
        if (r == -ETIMEDOUT && !interrupted) {
            ptrace(PTRACE_INTERRUPT, tid, 0, 0);
            interrupted = true;
            deadline = now_ns() + STOP_WAIT_MS * 1000000ull;
            continue;
        }
        if (r < 0 || WIFEXITED(status) || WIFSIGNALED(status)) {
            if (r == -ETIMEDOUT)
                say(why, size, "thread %d did not stop after its call timed out", (int)tid);
            else
                say(why, size, "process %d exited during the call", (int)in->pid);
            return r == -ETIMEDOUT ? TIMED_OUT : EXITED;
        }
        int sig = WSTOPSIG(status);
        if (status >> 16 == PTRACE_EVENT_STOP) {
            if (interrupted && sig == SIGTRAP) {
                *signal_stop = false;
                say(why, size, "the call did not return within %d ms", timeout_ms);
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
            say(why, size, "process %d exited during the call", (int)in->pid);
            return EXITED;
        }
        if (sig == SIGSEGV && si.si_code > 0 && regs.rip == 0 && regs.rsp == entry_rsp + 8) {
            in->chosen->regs = regs;
            return RETURNED;
        }
        if (is_fault(sig, &si)) {
            say(why, size, "the call faulted: %s at 0x%llx (address 0x%llx)", strsignal(sig),
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
    say(why, why_size, "%s", "");
    if (!in->chosen) {
        say(why, why_size, "process %d exited", (int)in->pid);
        return -ESRCH;
    }
    if (nargs > 6) {
        say(why, why_size, "at most 6 arguments");
        return -EINVAL;
    }
    if (in->chosen->state == RUNNING) {
        say(why, why_size, "thread %d has not stopped since its last call timed out",
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
    int r = write_target(in->pid, regs.rsp, &zero, sizeof zero);
    if (r < 0) {
        say(why, why_size, "cannot write the return address on the stack: %s", strerror(-r));
        return r;
    }
    if (ptrace(PTRACE_SETREGS, tid, 0, &regs) < 0 || ptrace(PTRACE_CONT, tid, 0, 0) < 0) {
        r = -errno;
        say(why, why_size, "cannot start the call on thread %d: %s", (int)tid, strerror(-r));
        park_registers(in);
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
    r = park_registers(in);
    if (r == 0)
        r = restore_vector_state(in);
    if (r == 0 && signal_stop)
        r = park(in);
    if (r == 0)
        return o == RETURNED ? 0 : o == FAULTED ? -EFAULT : -ETIMEDOUT;
    say(why, why_size, "cannot put back the registers of thread %d: %s", (int)tid, strerror(-r));
    return r;
}

/* ---- symbols --------------------------------------------------------------------------- */

static int open_module(pid_t pid, const struct mapping *m)
{
    char path[sizeof m->path + 64];
    snprintf(path, sizeof path, "/proc/%d/map_files/%llx-%llx", (int)pid, (unsigned long long)m->lo,
             (unsigned long long)m->hi);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0)
        return fd;
    snprintf(path, sizeof path, "/proc/%d/root%s", (int)pid, m->path);
    return open(path, O_RDONLY | O_CLOEXEC);
}

/* The module's load bias: base maps the file's first page, which the segment loaded from
 * file offset 0 holds. */
static bool load_bias(Elf *e, uint64_t base, uint64_t *bias)
{
    size_t n;
    if (elf_getphdrnum(e, &n) != 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        GElf_Phdr ph;
        if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_LOAD && (ph.p_offset & ~4095ull) == 0) {
            *bias = base - (ph.p_vaddr & ~4095ull);
            return true;
        }
    }
    return false;
}

/* The symbol's value and type in .dynsym; the default version wins. */
static bool dynamic_symbol(Elf *e, const char *name, GElf_Sym *out)
{
    Elf_Data *syms = NULL, *versions = NULL;
    size_t strtab = 0, count = 0;
    for (Elf_Scn *scn = NULL; (scn = elf_nextscn(e, scn));) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh))
            continue;
        if (sh.sh_type == SHT_DYNSYM && sh.sh_entsize) {
            syms = elf_getdata(scn, NULL);
            strtab = sh.sh_link;
            count = syms ? syms->d_size / sh.sh_entsize : 0;
        } else if (sh.sh_type == SHT_GNU_versym) {
            versions = elf_getdata(scn, NULL);
        }
    }
    bool found = false;
    for (size_t i = 0; i < count; i++) {
        GElf_Sym s;
        const char *n;
        GElf_Versym v = 0;
        if (!gelf_getsym(syms, (int)i, &s) || s.st_shndx == SHN_UNDEF ||
            (GELF_ST_TYPE(s.st_info) != STT_FUNC && GELF_ST_TYPE(s.st_info) != STT_OBJECT &&
             GELF_ST_TYPE(s.st_info) != STT_GNU_IFUNC) ||
            !(n = elf_strptr(e, strtab, s.st_name)) || strcmp(n, name) != 0)
            continue;
        if (versions)
            gelf_getversym(versions, (int)i, &v);
        if (!found || !(v & VERSYM_HIDDEN))
            *out = s;
        found = true;
        if (!(v & VERSYM_HIDDEN))
            break;
    }
    return found;
}

uint64_t ss_inject_symbol(struct ss_inject *in, const char *module_prefix, const char *name)
{
    struct mapping m;
    if (find_mapping(in->pid, 0, module_prefix, &m) < 0)
        return 0;
    int fd = open_module(in->pid, &m);
    if (fd < 0)
        return 0;
    elf_version(EV_CURRENT);
    Elf *e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    uint64_t bias = 0, addr = 0;
    GElf_Sym s;
    if (e && elf_kind(e) == ELF_K_ELF && load_bias(e, m.lo, &bias) && dynamic_symbol(e, name, &s))
        addr = bias + s.st_value;
    elf_end(e);
    close(fd);
    if (addr && GELF_ST_TYPE(s.st_info) == STT_GNU_IFUNC) {
        uint64_t resolved = 0;
        char why[256];
        if (ss_inject_call(in, addr, NULL, 0, RESOLVER_TIMEOUT_MS, &resolved, why, sizeof why) < 0)
            resolved = 0;
        addr = resolved;
    }
    return addr;
}

/* ---- the end --------------------------------------------------------------------------- */

void ss_inject_end(struct ss_inject *in)
{
    if (!in)
        return;
    struct thread *th = in->chosen;
    if (th && th->state == RUNNING) {
        /* A call that never stopped: wait for it a last time. */
        int status;
        if (wait_thread(th->tid, &status, now_ns() + STOP_WAIT_MS * 1000000ull) == 0) {
            note_status(th, status);
            if (th->state == SIGNALLED && park(in) == 0)
                th->state = TRAPPED;
        }
    }
    if (th && th->state != GONE && th->state != RUNNING) {
        /* Pending signals decide the rewind: they are looked at as late as possible. */
        park_registers(in);
        restore_vector_state(in);
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
    *chosen_ns = in->started_ns ? now_ns() - in->started_ns : 0;
}
