/* host-fixture: an epoll loop that behaves the way real hosts do to the shim, one step per
 * loop iteration, in the order given:
 *
 *   spin MS            busy iteration (plant_spin); reported as "planted spin MS TID"
 *   own-sigaction N    install a counting handler for signal N with sigaction()
 *   own-signal N       the same with signal()
 *   query N            print "disposition N default|ignore|handler", followed by " restart"
 *                      when SA_RESTART is set, as sigaction() reports it
 *   save-restore N     query the disposition of N, set it back, then set SIG_DFL with signal()
 *   block N, unblock N pthread_sigmask() on the loop thread
 *   raw-block N, raw-unblock N
 *                      the same with the rt_sigprocmask system call itself, unseen by the shim
 *                      (as a Go or statically linked runtime does it)
 *   neighbour MS       a second loop thread that spins MS in one iteration while this one goes
 *                      on with its steps; it is joined at exit
 *   own-bsd_signal N, own-sysv_signal N, own-__sysv_signal N, own-ssignal N, own-sigset N
 *                      install the counting handler for N with that function
 *   ignore N           sigignore(N)
 *   hold N, release N  sighold(N), sigrelse(N)
 *   sigset-hold N      sigset(N, SIG_HOLD): blocks N
 *   sigset-default N   sigset(N, SIG_DFL): sets the default and unblocks N
 *   bsd-block N        sigblock() with N's bit (signals 1 to 32 have one)
 *   bsd-setmask N      sigsetmask() with N's bit: every other signal is unblocked
 *   siginterrupt N     siginterrupt(N, 1)
 *   raw-read MS        a read of an empty pipe made with the read system call itself (no
 *                      restart by the C library), until another thread writes to it MS later;
 *                      an EINTR is counted and the read made again
 *   raise N            raise(N) on the loop thread
 *   itimers            SIGPROF and SIGALRM handlers, ITIMER_PROF and ITIMER_REAL every 1 ms
 *   vfork PATH         vfork() and exec PATH, wait for it
 *   jump-out-of-call MS  a SIGALRM handler that siglongjmp()s out of a recv() on an empty
 *                      blocking socket MS later, then a 150 ms spin
 *   jump-out-of-wait MS  the same out of the loop's own epoll_wait() (its timer stopped)
 *   jump-storm N       an interval timer every 37 us whose SIGALRM handler siglongjmp()s
 *                      out of whatever runs, while the loop thread makes access() calls,
 *                      until N jumps were made; then, once the monitor has taken the
 *                      calls recorded so far, an access() of
 *                      /nonexistent/after-the-jumps and a 150 ms spin
 *   stderr-reused FILE close descriptor 2 and open FILE in its place (a daemon's data file),
 *                      writing "host data" into it
 *   vfork-calls PATH   a blocking socket with a byte to read; vfork(), and the child, as
 *                      Python's subprocess does, opens PATH, closes the socket and dup2()s
 *                      PATH over its number, makes an access() of /nonexistent/vfork-child
 *                      and a nanosleep(), blocks signal 38 and execs PATH; the parent waits
 *                      for it, reads the byte from its socket with recv() and spins 150 ms
 *   spawn PATH         posix_spawn() PATH, wait for it
 *   spawnp NAME        posix_spawnp() NAME (searched in PATH), wait for it
 *   fork-exec PATH     fork() and execv() PATH, wait for it
 *   fork-execvp NAME   fork() and execvp() NAME (searched in PATH), wait for it
 *   fork-exec-bare PATH  fork() and execve() PATH with an environment of the host's own but
 *                      without LD_PRELOAD, wait for it
 *   exec-fail PATH     fork(); the child execv()s PATH (which must not exist), prints
 *                      "exec-errno N" with the errno it got, and exits
 *   daemon MS          double fork, setsid, close_range() of every descriptor; the daemon runs
 *                      its own loop with a MS spin and exits; the parent goes on at once
 *   thread-loop MS     a second loop thread that spins MS in one iteration, then exits
 *   threads N          N short-lived loop threads (5 iterations each), 8 alive at a time
 *   crash              dereference a null pointer (the host dies of SIGSEGV)
 *   count-threads N    print "threads T" with the number of threads the process has (N unused)
 *   stat-many N        one iteration of N stat() calls on the working directory, reported as
 *                      "stat-many-done N"
 *   pause-ms MS        one iteration that sleeps MS with nanosleep
 *   signal-waits MS    one iteration that spins MS, then waits MS in each call that waits for a
 *                      signal or an IPC object (sigtimedwait, sigsuspend and pause woken by an
 *                      alarm, semtimedop, msgrcv woken by an alarm), spinning MS between them;
 *                      prints "wait NAME RESULT" for each: the errno, or "ok"
 *   exec-chain N       spin 20 ms in one iteration, then exec this program again with N-1,
 *                      until N is 0, which prints "exec-chain done" (a sampling signal left
 *                      pending across an exec would kill the new program)
 *   remove-dir DIR     delete every file in DIR and DIR itself (a clean-up job)
 *   stress-malloc MS   one iteration of MS spent in malloc, realloc and free
 *   stress-dlopen MS   one iteration of MS loading and unloading a library (LIBRARY)
 *   stress-throw MS    one iteration of MS throwing and catching C++ exceptions
 *   stress-signals MS  one iteration of MS in which another thread sends the loop thread
 *                      SIGUSR1 without pause; the host's handler does some work each time
 * Each stress iteration is reported as a "planted spin" like spin.
 *   close-all FILE     close every descriptor from 3 up but the loop's (close_range), open
 *                      FILE.0 to FILE.15 in their place and write "host data" to each, spin
 *                      120 ms, and print "host-files-size" with their total size
 *   errno-probe DIR    calls of every kind the shim interposes, each once succeeding and once
 *                      failing with errno set to a sentinel first; prints
 *                      "errno NAME SUCCESS-ERRNO FAILURE-ERRNO" for each (files go in DIR)
 *
 *   own-stack-calls    a loop thread on a stack of the fixture's own (pthread_attr_setstack)
 *                      whose first wait is made from 64 KiB deeper than its iterations, and
 *                      which makes blocking calls from four new call sites right after it,
 *                      before the monitor has looked at the thread; gathered reads
 *                      are refused as with --first-calls-deep
 *   coroutine MS       a loop thread that switches (swapcontext) to a coroutine whose 128 KiB
 *                      stack lies below the thread's own, with an inaccessible page right
 *                      above it; the coroutine spins MS in one iteration and makes a blocking
 *                      call there
 *
 * With --first-calls-deep as its first argument, the main thread does the same before its
 * loop goes on, and every process_vm_readv that gathers more than one piece of memory fails
 * with EPERM (a seccomp filter; the shim's unwinder reads one word at a time), so that a
 * stack copied on the loop thread by a system call would come back empty. It prints
 * "early-calls TID" for each thread that made these calls.
 *
 * At exit it prints "handled N COUNT" for each signal it handled, "eintr N" for the EINTRs
 * its waits saw, and "timer-ticks N" for SIGPROF and SIGALRM together. */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "now-ms.h"
#include "own-segment.h"
#include "plant.h"
#include "tick-loop.h"

extern char **environ;

/* The host uses the old signal functions on purpose. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

/* Not declared by glibc's headers with _GNU_SOURCE, but exported. */
__sighandler_t bsd_signal(int sig, __sighandler_t handler);

/* The old BSD mask of a signal: bit N - 1, for signals 1 to 32 only. */
static int bsd_mask(int sig)
{
    return sig > 0 && sig <= 32 ? (int)(1u << (sig - 1)) : 0;
}

static volatile sig_atomic_t handled[65];
static volatile sig_atomic_t eintr_seen;

static void on_signal(int sig)
{
    handled[sig]++;
}

struct loop {
    int ep, tfd;
};

static void loop_open(struct loop *l)
{
    tick_loop_open(&l->ep, &l->tfd);
}

static void tick(struct loop *l)
{
    struct epoll_event ev;
    uint64_t expirations;
    int n;
    /* The host's own timers (itimers) interrupt epoll_wait whatever SA_RESTART says. */
    while ((n = epoll_wait(l->ep, &ev, 1, 1000)) < 0 && errno == EINTR)
        eintr_seen++;
    if (n < 0) {
        perror("epoll_wait");
        exit(3);
    }
    if (n == 1 && read(l->tfd, &expirations, sizeof expirations) < 0 && errno != EAGAIN &&
        errno != EINTR) {
        perror("read timerfd");
        exit(3);
    }
}

static void loop_close(struct loop *l)
{
    close(l->tfd);
    close(l->ep);
}

static struct loop main_loop;
static char planted[64][64];
static int nplanted;

static void spin(int ms)
{
    double t0 = now_ms();
    plant_spin(ms);
    snprintf(planted[nplanted % 64], sizeof planted[0], "planted spin %.3f %d", now_ms() - t0,
             (int)gettid());
    nplanted++;
}

static void *second_loop(void *arg)
{
    struct loop l;
    loop_open(&l);
    for (int i = 0; i < 5; i++)
        tick(&l);
    spin((int)(intptr_t)arg);
    tick(&l);
    loop_close(&l);
    return NULL;
}

static void *short_loop(void *arg)
{
    (void)arg;
    struct loop l;
    loop_open(&l);
    for (int i = 0; i < 5; i++)
        tick(&l);
    loop_close(&l);
    return NULL;
}

static void short_lived_threads(int n)
{
    pthread_t batch[8];
    for (int done = 0; done < n; done += 8) {
        int k = n - done < 8 ? n - done : 8;
        for (int i = 0; i < k; i++)
            if (pthread_create(&batch[i], NULL, short_loop, NULL) != 0) {
                perror("pthread_create");
                exit(3);
            }
        for (int i = 0; i < k; i++)
            pthread_join(batch[i], NULL);
    }
    printf("threads-done %d\n", n);
}

static void wait_child(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "host-fixture: child failed: %d\n", status);
        exit(4);
    }
}

static void fork_and_exec(const char *how, const char *path)
{
    char *argv[] = {(char *)path, NULL};
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(3);
    }
    if (pid == 0) {
        if (strcmp(how, "fork-exec") == 0) {
            execv(path, argv);
        } else if (strcmp(how, "fork-execvp") == 0) {
            execvp(path, argv);
        } else if (strcmp(how, "fork-exec-bare") == 0) {
            char *bare[64];
            size_t n = 0;
            for (char **e = environ; *e && n < 63; e++)
                if (strncmp(*e, "LD_PRELOAD=", 11) != 0)
                    bare[n++] = *e;
            bare[n] = NULL;
            execve(path, argv, bare);
        } else {
            errno = 4242;
            execv(path, argv);
            printf("exec-errno %d\n", errno);
            fflush(stdout);
            _exit(0);
        }
        _exit(127);
    }
    wait_child(pid);
}

/* The common timeout pattern: an alarm whose handler jumps out of whatever blocks. */
static sigjmp_buf jump_target;
static volatile sig_atomic_t jumps;

static void jump_out(int sig)
{
    (void)sig;
    jumps++;
    siglongjmp(jump_target, 1);
}

static void alarm_every(long first_us, long every_us)
{
    struct itimerval t = {{every_us / 1000000, every_us % 1000000},
                          {first_us / 1000000, first_us % 1000000}};
    setitimer(ITIMER_REAL, &t, NULL);
}

static void jump_on_alarm(struct sigaction *old)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = jump_out;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, old);
}

static void jump_out_of_call(int ms)
{
    int sv[2];
    struct sigaction old;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        perror("socketpair");
        exit(3);
    }
    jump_on_alarm(&old);
    if (sigsetjmp(jump_target, 1) == 0) {
        char c;
        alarm_every(ms * 1000L, 0);
        recv(sv[0], &c, 1, 0);
        fprintf(stderr, "host-fixture: recv returned\n");
        exit(3);
    }
    sigaction(SIGALRM, &old, NULL);
    close(sv[0]);
    close(sv[1]);
    spin(150);
}

static void jump_out_of_wait(int ms)
{
    struct itimerspec stop = {{0, 0}, {0, 0}}, every = {{0, 2000000}, {0, 2000000}};
    struct sigaction old;
    uint64_t expirations;
    timerfd_settime(main_loop.tfd, 0, &stop, NULL);
    while (read(main_loop.tfd, &expirations, sizeof expirations) > 0)
        ;
    jump_on_alarm(&old);
    if (sigsetjmp(jump_target, 1) == 0) {
        struct epoll_event ev;
        alarm_every(ms * 1000L, 0);
        epoll_wait(main_loop.ep, &ev, 1, -1);
        fprintf(stderr, "host-fixture: epoll_wait returned\n");
        exit(3);
    }
    sigaction(SIGALRM, &old, NULL);
    timerfd_settime(main_loop.tfd, 0, &every, NULL);
    spin(150);
}

static void jump_storm(int n)
{
    struct sigaction old;
    jumps = 0;
    jump_on_alarm(&old);
    alarm_every(37, 37);
    sigsetjmp(jump_target, 1);
    while (jumps < n)
        access("/", F_OK);
    alarm_every(0, 0);
    sigaction(SIGALRM, &old, NULL);
    /* The storm's calls fill the thread's ring faster than a busy machine's monitor takes
     * them: the call after it must find room. */
    await_calls_taken(gettid());
    access("/nonexistent/after-the-jumps", F_OK);
    spin(150);
}

/* The child runs on this thread and its memory until it execs: none of what it does is the
 * parent's. */
static void vfork_calls(const char *path)
{
    int sv[2];
    char c;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 || write(sv[1], "x", 1) != 1) {
        perror("vfork-calls");
        exit(3);
    }
    pid_t pid = vfork();
    if (pid == 0) {
        int fd = open(path, O_RDONLY);
        close(sv[0]);
        dup2(fd, sv[0]);
        access("/nonexistent/vfork-child", F_OK);
        struct timespec nap = {0, 1000000};
        nanosleep(&nap, NULL);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, 38);
        sigprocmask(SIG_BLOCK, &set, NULL);
        execl(path, path, (char *)NULL);
        _exit(127);
    }
    wait_child(pid);
    if (recv(sv[0], &c, 1, 0) != 1) {
        perror("recv");
        exit(3);
    }
    spin(150);
    close(sv[0]);
    close(sv[1]);
}

static void daemonize(int ms)
{
    fflush(stdout);
    pid_t first = fork();
    if (first < 0) {
        perror("fork");
        exit(3);
    }
    if (first > 0) {
        wait_child(first);
        return;
    }
    setsid();
    pid_t second = fork();
    if (second != 0)
        _exit(second < 0 ? 3 : 0);
    close_range(0, ~0u, 0);
    struct loop l;
    loop_open(&l);
    for (int i = 0; i < 5; i++)
        tick(&l);
    plant_spin(ms);
    for (int i = 0; i < 5; i++)
        tick(&l);
    loop_close(&l);
    exit(0);
}

/* The calling thread and those it creates from now on. */
static void refuse_gathered_reads(void)
{
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_process_vm_readv, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        /* The remote iovec count, its low half (x86_64 is little-endian). */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[4])),
        BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, 1, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof code / sizeof code[0], code};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
        perror("seccomp");
        exit(3);
    }
}

static _Atomic int early_tids[8], nearly;

/* Four new call sites, each of which takes its stack on its first call. */
__attribute__((noinline)) static void early_calls(void)
{
    struct stat st;
    struct timespec nap = {0, 1000};
    access("/", F_OK);
    stat("/", &st);
    lstat("/", &st);
    nanosleep(&nap, NULL);
    early_tids[nearly++ % 8] = (int)gettid();
}

static void *own_stack_loop(void *arg)
{
    (void)arg;
    refuse_gathered_reads();
    struct loop l;
    loop_open(&l);
    tick_loop_first_waits_deep(l.ep, 64);
    early_calls();
    for (int i = 0; i < 5; i++)
        tick(&l);
    loop_close(&l);
    return NULL;
}

static void own_stack_calls(void)
{
    size_t size = 1 << 20;
    void *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    pthread_attr_t attr;
    pthread_t t;
    if (stack == MAP_FAILED || pthread_attr_init(&attr) != 0 ||
        pthread_attr_setstack(&attr, stack, size) != 0 ||
        pthread_create(&t, &attr, own_stack_loop, NULL) != 0) {
        perror("own-stack-calls");
        exit(3);
    }
    pthread_join(t, NULL);
    pthread_attr_destroy(&attr);
    munmap(stack, size);
}

static ucontext_t coroutine_caller, coroutine;
static int coroutine_ms;

static void coroutine_main(void)
{
    spin(coroutine_ms);
    access("/", F_OK);
    swapcontext(&coroutine, &coroutine_caller);
}

/* A copy of the stack that went from the coroutine's stack pointer upwards, as far as the
 * thread's own stack, would fault on the page above the coroutine's stack. The stack is put
 * close below the thread's, where an allocator would put it too. */
static void *coroutine_thread(void *arg)
{
    enum { STACK = 128 << 10, GUARD = 64 << 10 };
    pthread_attr_t attr;
    void *lowest = NULL;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        pthread_attr_getstack(&attr, &lowest, &size);
        pthread_attr_destroy(&attr);
    }
    char *hint = lowest ? (char *)lowest - (1 << 20) - STACK - GUARD : NULL;
    /* Static: swapcontext returns twice, as setjmp does. */
    static char *stack;
    stack = mmap(hint, STACK + GUARD, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | (hint ? MAP_FIXED_NOREPLACE : 0), -1, 0);
    if (stack == MAP_FAILED)
        stack =
            mmap(NULL, STACK + GUARD, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (stack == MAP_FAILED || mprotect(stack + STACK, GUARD, PROT_NONE) != 0 ||
        getcontext(&coroutine) != 0) {
        perror("coroutine");
        exit(3);
    }
    coroutine.uc_stack.ss_sp = stack;
    coroutine.uc_stack.ss_size = STACK;
    coroutine.uc_link = NULL;
    coroutine_ms = (int)(intptr_t)arg;
    makecontext(&coroutine, coroutine_main, 0);
    struct loop l;
    loop_open(&l);
    for (int i = 0; i < 5; i++)
        tick(&l);
    swapcontext(&coroutine_caller, &coroutine);
    for (int i = 0; i < 5; i++)
        tick(&l);
    loop_close(&l);
    munmap(stack, STACK + GUARD);
    return NULL;
}

static pthread_t neighbour;
static int have_neighbour;

static void *neighbour_loop(void *arg)
{
    struct loop l;
    loop_open(&l);
    for (int i = 0; i < 5; i++)
        tick(&l);
    spin((int)(intptr_t)arg);
    tick(&l);
    loop_close(&l);
    return NULL;
}

/* What a runtime that makes its own system calls does: the C library (and the shim) never
 * see this mask change. */
static void raw_mask(int how, int sig)
{
    uint64_t set = 1ull << (sig - 1);
    if (syscall(SYS_rt_sigprocmask, how, &set, NULL, sizeof set) != 0)
        perror("rt_sigprocmask");
}

static int pipe_ends[2];

static void *write_later(void *arg)
{
    struct timespec pause = {(time_t)(intptr_t)arg / 1000, (long)((intptr_t)arg % 1000) * 1000000};
    nanosleep(&pause, NULL);
    if (write(pipe_ends[1], "x", 1) != 1)
        perror("write");
    return NULL;
}

static void raw_read(int ms)
{
    pthread_t writer;
    char c;
    if (pipe(pipe_ends) != 0 || pthread_create(&writer, NULL, write_later, (void *)(intptr_t)ms)) {
        perror("raw-read");
        exit(3);
    }
    double t0 = now_ms();
    while (syscall(SYS_read, pipe_ends[0], &c, 1) < 0 && errno == EINTR)
        eintr_seen++;
    snprintf(planted[nplanted % 64], sizeof planted[0], "planted spin %.3f %d", now_ms() - t0,
             (int)gettid());
    nplanted++;
    pthread_join(writer, NULL);
    close(pipe_ends[0]);
    close(pipe_ends[1]);
}

long throw_and_catch(long rounds);

static volatile sig_atomic_t stress_done;
static pthread_t loop_thread_id;

static void on_busy_signal(int sig)
{
    /* Work of its own on the interrupted stack, as a real handler would do. */
    char scratch[512];
    memset(scratch, sig, sizeof scratch);
    handled[sig] += scratch[sig % 512] == sig;
}

static void *signal_sender(void *arg)
{
    (void)arg;
    while (!stress_done)
        pthread_kill(loop_thread_id, SIGUSR1);
    return NULL;
}

static int count_objects(struct dl_phdr_info *info, size_t size, void *n)
{
    (void)info;
    (void)size;
    ++*(int *)n;
    return 0;
}

static void stress(const char *what, int ms)
{
    double t0 = now_ms();
    pthread_t sender;
    if (strcmp(what, "stress-signals") == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_busy_signal;
        sa.sa_flags = SA_RESTART;
        sigaction(SIGUSR1, &sa, NULL);
        stress_done = 0;
        loop_thread_id = pthread_self();
        pthread_create(&sender, NULL, signal_sender, NULL);
    }
    static volatile long sink;
    while (now_ms() - t0 < ms) {
        if (strcmp(what, "stress-malloc") == 0) {
            for (int i = 1; i < 64; i++) {
                char *p = malloc((size_t)i * 512);
                p[0] = (char)i;
                p = realloc(p, (size_t)i * 1024);
                sink += p[0];
                free(p);
            }
        } else if (strcmp(what, "stress-dlopen") == 0) {
            void *lib = dlopen(LIBRARY, RTLD_NOW | RTLD_LOCAL);
            int objects = 0;
            dl_iterate_phdr(count_objects, &objects);
            sink += objects;
            if (lib)
                dlclose(lib);
        } else if (strcmp(what, "stress-throw") == 0) {
            sink += throw_and_catch(16);
        } else {
            plant_spin(1);
        }
    }
    if (strcmp(what, "stress-signals") == 0) {
        stress_done = 1;
        pthread_join(sender, NULL);
    }
    snprintf(planted[nplanted % 64], sizeof planted[0], "planted spin %.3f %d", now_ms() - t0,
             (int)gettid());
    nplanted++;
}

#define SENTINEL 4242
#define PROBE(name, ok_call, fail_call)                                                            \
    do {                                                                                           \
        errno = SENTINEL;                                                                          \
        (void)(ok_call);                                                                           \
        int ok_errno = errno;                                                                      \
        errno = SENTINEL;                                                                          \
        (void)(fail_call);                                                                         \
        printf("errno %s %d %d\n", name, ok_errno, errno);                                         \
    } while (0)

/* Children of _Fork and of vfork that leave at once. */
static pid_t fork_and_leave(void)
{
    pid_t pid = _Fork();
    if (pid == 0)
        _exit(0);
    return pid;
}

static pid_t vfork_and_leave(void)
{
    pid_t pid = vfork();
    if (pid == 0)
        _exit(0);
    return pid;
}

static void errno_probe(const char *dir)
{
    char path[512], buf[64];
    snprintf(path, sizeof path, "%s/probe", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    struct stat st;
    PROBE("write", write(fd, "hello", 5), write(-1, "x", 1));
    PROBE("pread", pread(fd, buf, 5, 0), pread(-1, buf, 1, 0));
    PROBE("read", read(fd, buf, 1), read(-1, buf, 1));
    PROBE("fsync", fsync(fd), fsync(-1));
    PROBE("fstat", fstat(fd, &st), fstat(-1, &st));
    PROBE("stat", stat(path, &st), stat("/nonexistent/x", &st));
    PROBE("access", access(path, R_OK), access("/nonexistent/x", R_OK));
    PROBE("open", close(open(path, O_RDONLY)), open("/nonexistent/x", O_RDONLY));
    FILE *f = fopen(path, "r");
    PROBE("fopen", fopen("/nonexistent/x", "r"), fopen("/nonexistent/y", "r"));
    PROBE("fread", fread(buf, 1, 2, f), fread(buf, 1, 1, stdin));
    PROBE("fflush", fflush(stdout), fflush(f));
    fclose(f);
    DIR *d = opendir(dir);
    PROBE("opendir", opendir("/nonexistent/x"), opendir(path));
    PROBE("readdir", readdir(d), readdir(d));
    closedir(d);
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    PROBE("send", send(sv[0], "x", 1, 0), send(-1, "x", 1, 0));
    PROBE("recv", recv(sv[1], buf, 1, 0), recv(-1, buf, 1, 0));
    struct sockaddr_in nowhere = {.sin_family = AF_INET, .sin_port = htons(1)};
    nowhere.sin_addr.s_addr = htonl(0x7f000001);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    PROBE("connect", getpid(), connect(s, (struct sockaddr *)&nowhere, sizeof nowhere));
    close(s);
    close(sv[0]);
    close(sv[1]);
    struct addrinfo *ai = NULL;
    PROBE("getaddrinfo", getpid(), getaddrinfo("host.invalid", NULL, NULL, &ai));
    struct timespec nap = {0, 1000};
    PROBE("nanosleep", nanosleep(&nap, NULL), nanosleep(&(struct timespec){0, -1}, NULL));
    PROBE("usleep", usleep(1), getpid());
    PROBE("waitpid", getpid(), waitpid(-1, NULL, WNOHANG));
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    PROBE("mutex", pthread_mutex_lock(&m), pthread_mutex_unlock(&m));
    /* The timed locks, free, then held by this thread: a deadline in the past, or an invalid one
     * (nanoseconds, clock). */
    struct timespec past = {1, 0}, bad = {1, -1};
    PROBE("mutex_timedlock", pthread_mutex_timedlock(&m, &past), pthread_mutex_timedlock(&m, &bad));
    PROBE("mutex_clocklock", pthread_mutex_clocklock(&m, CLOCK_MONOTONIC, &past),
          pthread_mutex_clocklock(&m, 12345, &past));
    pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
    PROBE("rwlock_timedrdlock", pthread_rwlock_timedrdlock(&rw, &past),
          pthread_rwlock_timedrdlock(&rw, &bad));
    pthread_rwlock_unlock(&rw);
    PROBE("rwlock_clockwrlock", pthread_rwlock_clockwrlock(&rw, CLOCK_MONOTONIC, &past),
          pthread_rwlock_clockwrlock(&rw, 12345, &past));
    pthread_rwlock_unlock(&rw);
    pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
    PROBE("cond_clockwait", pthread_cond_clockwait(&cv, &m, CLOCK_MONOTONIC, &past),
          pthread_cond_clockwait(&cv, &m, 12345, &past));
    pthread_mutex_unlock(&m);
    PROBE("_Fork", waitpid(fork_and_leave(), NULL, 0), getpid());
    PROBE("vfork", waitpid(vfork_and_leave(), NULL, 0), getpid());
    PROBE("close_range", close_range(1000, 1010, 0), close_range(10, 5, 0));
    PROBE("closefrom", (closefrom(1000), 0), getpid());
    struct pollfd pfd = {.fd = 0, .events = 0};
    volatile nfds_t too_many = 1u << 30;
    PROBE("poll", poll(&pfd, 1, 0), poll(&pfd, too_many, 0));
    int ep = epoll_create1(0);
    struct epoll_event ev;
    PROBE("epoll_wait", epoll_wait(ep, &ev, 1, 0), epoll_wait(-1, &ev, 1, 0));
    close(ep);
    struct sigaction sa;
    PROBE("sigaction", sigaction(SIGUSR2, NULL, &sa), sigaction(-1, NULL, &sa));
    sigset_t set;
    sigemptyset(&set);
    PROBE("sigprocmask", sigprocmask(SIG_BLOCK, &set, NULL), sigprocmask(99, &set, NULL));
    PROBE("signal", signal(SIGUSR2, SIG_DFL), signal(-1, SIG_DFL));
    PROBE("bsd_signal", bsd_signal(SIGUSR2, SIG_DFL), bsd_signal(-1, SIG_DFL));
    PROBE("sysv_signal", sysv_signal(SIGUSR2, SIG_DFL), sysv_signal(-1, SIG_DFL));
    PROBE("sigset", sigset(SIGUSR2, SIG_DFL), sigset(-1, SIG_DFL));
    PROBE("sighold", sighold(SIGUSR2), sighold(-1));
    PROBE("sigrelse", sigrelse(SIGUSR2), sigrelse(-1));
    int mask = sigblock(0);
    PROBE("sigblock", sigblock(0), getpid());
    PROBE("sigsetmask", sigsetmask(mask), getpid());
    PROBE("siginterrupt", siginterrupt(SIGUSR2, 0), siginterrupt(-1, 0));
    PROBE("sigignore", sigignore(SIGUSR2), sigignore(-1));
    signal(SIGUSR2, SIG_DFL);
    PROBE("unlink", unlink(path), unlink(path));
    close(fd);
    /* An exec that fails returns to the caller, here the host itself. The searches leave
     * errno as the directories they tried left it: the same ones with and without the shim. */
    setenv("PATH", "/nonexistent:/usr/bin:/bin", 1);
    char *argv[] = {"probe", NULL}, *envp[] = {"A=1", NULL};
    pid_t pid;
    PROBE("execv", getpid(), execv("/nonexistent/x", argv));
    PROBE("execve", getpid(), execve(dir, argv, envp));
    PROBE("execvp", getpid(), execvp("ss-no-such-program", argv));
    PROBE("execvpe", getpid(), execvpe("ss-no-such-program", argv, envp));
    PROBE("execl", getpid(), execl("/nonexistent/x", "probe", (char *)NULL));
    PROBE("execle", getpid(), execle("/nonexistent/x", "probe", (char *)NULL, envp));
    PROBE("execlp", getpid(), execlp("ss-no-such-program", "probe", (char *)NULL));
    PROBE("posix_spawn",
          waitpid(posix_spawn(&pid, "/bin/true", NULL, NULL, argv, envp) ? -1 : pid, NULL, 0),
          posix_spawn(&pid, "/nonexistent/x", NULL, NULL, argv, envp));
    PROBE("posix_spawnp",
          waitpid(posix_spawnp(&pid, "true", NULL, NULL, argv, environ) ? -1 : pid, NULL, 0),
          posix_spawnp(&pid, "ss-no-such-program", NULL, NULL, argv, envp));
}

static void remove_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
    if (rmdir(path) != 0)
        perror("rmdir");
}

static void on_alarm(int sig)
{
    (void)sig;
}

static void report_wait(const char *name, int rc, int expected_errno)
{
    if (rc < 0 && errno == expected_errno)
        printf("wait %s ok\n", name);
    else
        printf("wait %s %s\n", name, rc < 0 ? strerror(errno) : "returned");
}

/* Waits a program makes for a signal or an IPC object, each inside a busy iteration: a
 * sampling signal must never cut one short (EINTR) or end it early. */
static void signal_waits(int ms)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    struct itimerval alarm_in = {{0, 0}, {ms / 1000, (long)(ms % 1000) * 1000L}};
    sigset_t usr2, old, none;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    sigemptyset(&none);
    pthread_sigmask(SIG_BLOCK, &usr2, &old);
    plant_spin(ms);
    report_wait("sigtimedwait", sigtimedwait(&usr2, NULL, &t), EAGAIN);
    plant_spin(ms);
    setitimer(ITIMER_REAL, &alarm_in, NULL);
    report_wait("sigsuspend", sigsuspend(&none), EINTR);
    plant_spin(ms);
    setitimer(ITIMER_REAL, &alarm_in, NULL);
    report_wait("pause", pause(), EINTR);
    int sem = semget(IPC_PRIVATE, 1, 0600), q = msgget(IPC_PRIVATE, 0600);
    struct sembuf down = {0, -1, 0};
    plant_spin(ms);
    report_wait("semtimedop", semtimedop(sem, &down, 1, &t), EAGAIN);
    struct {
        long type;
        char text[8];
    } msg;
    plant_spin(ms);
    setitimer(ITIMER_REAL, &alarm_in, NULL);
    report_wait("msgrcv", (int)msgrcv(q, &msg, sizeof msg.text, 0, 0), EINTR);
    semctl(sem, 0, IPC_RMID);
    msgctl(q, IPC_RMID, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static int count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static void step(const char *what, const char *arg)
{
    int n = arg ? atoi(arg) : 0;
    if (strcmp(what, "spin") == 0) {
        spin(n);
    } else if (strcmp(what, "own-sigaction") == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        if (sigaction(n, &sa, NULL) != 0)
            perror("sigaction");
    } else if (strcmp(what, "own-signal") == 0) {
        if (signal(n, on_signal) == SIG_ERR)
            perror("signal");
    } else if (strcmp(what, "query") == 0) {
        struct sigaction old;
        sigaction(n, NULL, &old);
        printf("disposition %d %s%s\n", n,
               (old.sa_flags & SA_SIGINFO) ||
                       (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN)
                   ? "handler"
               : old.sa_handler == SIG_IGN ? "ignore"
                                           : "default",
               old.sa_flags & SA_RESTART ? " restart" : "");
    } else if (strcmp(what, "save-restore") == 0) {
        struct sigaction saved;
        if (sigaction(n, NULL, &saved) != 0 || sigaction(n, &saved, NULL) != 0 ||
            signal(n, SIG_DFL) == SIG_ERR)
            perror("save-restore");
    } else if (strcmp(what, "block") == 0 || strcmp(what, "unblock") == 0) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, n);
        pthread_sigmask(what[0] == 'b' ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
    } else if (strcmp(what, "raw-block") == 0 || strcmp(what, "raw-unblock") == 0) {
        raw_mask(what[4] == 'b' ? SIG_BLOCK : SIG_UNBLOCK, n);
    } else if (strcmp(what, "neighbour") == 0) {
        pthread_create(&neighbour, NULL, neighbour_loop, (void *)(intptr_t)n);
        have_neighbour = 1;
    } else if (strcmp(what, "coroutine") == 0) {
        pthread_t t;
        pthread_create(&t, NULL, coroutine_thread, (void *)(intptr_t)n);
        pthread_join(t, NULL);
    } else if (strcmp(what, "own-stack-calls") == 0) {
        own_stack_calls();
    } else if (strncmp(what, "own-", 4) == 0) {
        __sighandler_t prev = strcmp(what, "own-bsd_signal") == 0      ? bsd_signal(n, on_signal)
                              : strcmp(what, "own-sysv_signal") == 0   ? sysv_signal(n, on_signal)
                              : strcmp(what, "own-__sysv_signal") == 0 ? __sysv_signal(n, on_signal)
                              : strcmp(what, "own-ssignal") == 0       ? ssignal(n, on_signal)
                              : strcmp(what, "own-sigset") == 0        ? sigset(n, on_signal)
                                                                       : SIG_ERR;
        if (prev == SIG_ERR)
            perror(what);
    } else if (strcmp(what, "ignore") == 0) {
        if (sigignore(n) != 0)
            perror("sigignore");
    } else if (strcmp(what, "hold") == 0 || strcmp(what, "release") == 0) {
        if ((what[0] == 'h' ? sighold(n) : sigrelse(n)) != 0)
            perror(what);
    } else if (strcmp(what, "sigset-hold") == 0 || strcmp(what, "sigset-default") == 0) {
        if (sigset(n, what[7] == 'h' ? SIG_HOLD : SIG_DFL) == SIG_ERR)
            perror(what);
    } else if (strcmp(what, "bsd-block") == 0) {
        sigblock(bsd_mask(n));
    } else if (strcmp(what, "bsd-setmask") == 0) {
        sigsetmask(bsd_mask(n));
    } else if (strcmp(what, "siginterrupt") == 0) {
        if (siginterrupt(n, 1) != 0)
            perror("siginterrupt");
    } else if (strcmp(what, "raw-read") == 0) {
        raw_read(n);
    } else if (strcmp(what, "raise") == 0) {
        raise(n);
    } else if (strcmp(what, "itimers") == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sa.sa_flags = SA_RESTART;
        sigaction(SIGPROF, &sa, NULL);
        sigaction(SIGALRM, &sa, NULL);
        struct itimerval every_ms = {{0, 1000}, {0, 1000}};
        setitimer(ITIMER_PROF, &every_ms, NULL);
        setitimer(ITIMER_REAL, &every_ms, NULL);
    } else if (strcmp(what, "vfork") == 0) {
        pid_t pid = vfork();
        if (pid == 0) {
            execl(arg, arg, (char *)NULL);
            _exit(127);
        }
        wait_child(pid);
    } else if (strcmp(what, "jump-out-of-call") == 0) {
        jump_out_of_call(n);
    } else if (strcmp(what, "jump-out-of-wait") == 0) {
        jump_out_of_wait(n);
    } else if (strcmp(what, "jump-storm") == 0) {
        jump_storm(n);
    } else if (strcmp(what, "stderr-reused") == 0) {
        close(2);
        int fd = open(arg, O_RDWR | O_CREAT | O_TRUNC, 0600);
        if (fd != 2 || write(fd, "host data\n", 10) != 10) {
            fprintf(stdout, "host-fixture: stderr-reused got descriptor %d\n", fd);
            exit(3);
        }
    } else if (strcmp(what, "vfork-calls") == 0) {
        vfork_calls(arg);
    } else if (strcmp(what, "spawn") == 0) {
        pid_t pid;
        char *argv[] = {(char *)arg, NULL};
        if (posix_spawn(&pid, arg, NULL, NULL, argv, environ) != 0) {
            perror("posix_spawn");
            exit(3);
        }
        wait_child(pid);
    } else if (strcmp(what, "spawnp") == 0) {
        pid_t pid;
        char *argv[] = {(char *)arg, NULL};
        if (posix_spawnp(&pid, arg, NULL, NULL, argv, environ) != 0) {
            perror("posix_spawnp");
            exit(3);
        }
        wait_child(pid);
    } else if (strncmp(what, "fork-exec", 9) == 0 || strcmp(what, "exec-fail") == 0) {
        fork_and_exec(what, arg);
    } else if (strcmp(what, "daemon") == 0) {
        daemonize(n);
    } else if (strcmp(what, "thread-loop") == 0) {
        pthread_t t;
        pthread_create(&t, NULL, second_loop, (void *)(intptr_t)n);
        pthread_join(t, NULL);
    } else if (strncmp(what, "stress-", 7) == 0) {
        stress(what, n);
    } else if (strcmp(what, "close-all") == 0) {
        /* Everything but the loop's own two descriptors, then new files in their place. */
        int keep_lo = main_loop.ep < main_loop.tfd ? main_loop.ep : main_loop.tfd;
        int keep_hi = main_loop.ep ^ main_loop.tfd ^ keep_lo;
        close_range(3, (unsigned)keep_lo - 1, 0);
        close_range((unsigned)keep_lo + 1, (unsigned)keep_hi - 1, 0);
        close_range((unsigned)keep_hi + 1, ~0u, 0);
        int fds[16];
        for (int i = 0; i < 16; i++) {
            char path[512];
            snprintf(path, sizeof path, "%s.%d", arg, i);
            fds[i] = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (fds[i] < 0 || write(fds[i], "host data", 9) != 9)
                perror("close-all");
        }
        spin(120);
        tick(&main_loop);
        struct timespec settle = {0, 300000000};
        nanosleep(&settle, NULL);
        long long total = 0;
        for (int i = 0; i < 16; i++) {
            struct stat st;
            fstat(fds[i], &st);
            total += st.st_size;
            close(fds[i]);
        }
        printf("host-files-size %lld\n", total);
    } else if (strcmp(what, "errno-probe") == 0) {
        errno_probe(arg);
    } else if (strcmp(what, "crash") == 0) {
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        fflush(stdout);
        *(volatile int *)(uintptr_t)n = 0;
    } else if (strcmp(what, "threads") == 0) {
        short_lived_threads(n);
    } else if (strcmp(what, "count-threads") == 0) {
        printf("threads %d\n", count_threads());
    } else if (strcmp(what, "stat-many") == 0) {
        struct stat st;
        int done = 0;
        for (int i = 0; i < n; i++)
            done += stat(".", &st) == 0;
        printf("stat-many-done %d\n", done);
    } else if (strcmp(what, "exec-chain") == 0) {
        if (n == 0) {
            printf("exec-chain done\n");
        } else {
            char next[16];
            snprintf(next, sizeof next, "%d", n - 1);
            plant_spin(20);
            fflush(stdout);
            execl("/proc/self/exe", "host-fixture", "exec-chain", next, (char *)NULL);
            perror("exec-chain");
        }
    } else if (strcmp(what, "signal-waits") == 0) {
        signal_waits(n);
    } else if (strcmp(what, "pause-ms") == 0) {
        struct timespec pause = {n / 1000, (long)(n % 1000) * 1000000L};
        nanosleep(&pause, NULL);
    } else if (strcmp(what, "remove-dir") == 0) {
        remove_dir(arg);
    } else {
        fprintf(stderr, "host-fixture: unknown step %s\n", what);
        exit(2);
    }
}

static int takes_argument(const char *what)
{
    return strcmp(what, "itimers") != 0 && strcmp(what, "crash") != 0 &&
           strcmp(what, "own-stack-calls") != 0;
}

int main(int argc, char **argv)
{
    struct loop l;
    loop_open(&l);
    main_loop = l;
    int first = 1;
    if (argc > 1 && strcmp(argv[1], "--first-calls-deep") == 0) {
        refuse_gathered_reads();
        tick_loop_first_waits_deep(l.ep, 64);
        early_calls();
        first = 2;
    }
    for (int i = 0; i < 5; i++)
        tick(&l);
    for (int i = first; i < argc; i++) {
        const char *arg = takes_argument(argv[i]) && i + 1 < argc ? argv[i + 1] : NULL;
        step(argv[i], arg);
        if (arg)
            i++;
        tick(&l);
    }
    for (int i = 0; i < 5; i++)
        tick(&l);
    if (have_neighbour)
        pthread_join(neighbour, NULL);
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_PROF, &off, NULL);
    setitimer(ITIMER_REAL, &off, NULL);
    loop_close(&l);
    for (int i = 0; i < nplanted && i < 64; i++)
        printf("%s\n", planted[i]);
    for (int sig = 1; sig < 65; sig++)
        if (handled[sig] && sig != SIGPROF && sig != SIGALRM)
            printf("handled %d %d\n", sig, (int)handled[sig]);
    printf("timer-ticks %d\n", (int)(handled[SIGPROF] + handled[SIGALRM]));
    printf("eintr %d\n", (int)eintr_seen);
    for (int i = 0; i < nearly && i < 8; i++)
        printf("early-calls %d\n", early_tids[i]);
    return 0;
}
