/* host-signals: host-fixture's steps that do to signals what hosts do, with every function the
 * C library has for it and behind its back:
 *
 *   own-sigaction N    install a counting handler for signal N with sigaction()
 *   own-signal N       the same with signal()
 *   own-bsd_signal N, own-sysv_signal N, own-__sysv_signal N, own-ssignal N, own-sigset N
 *                      install the counting handler for N with that function
 *   query N            print "disposition N default|ignore|handler", followed by " restart"
 *                      when SA_RESTART is set, as sigaction() reports it
 *   save-restore N     query the disposition of N, set it back, then set SIG_DFL with signal()
 *   block N, unblock N pthread_sigmask() on the loop thread
 *   raw-block N, raw-unblock N
 *                      the same with the rt_sigprocmask system call itself, unseen by the shim
 *                      (as a Go or statically linked runtime does it)
 *   ignore N           sigignore(N)
 *   hold N, release N  sighold(N), sigrelse(N)
 *   sigset-hold N      sigset(N, SIG_HOLD): blocks N
 *   sigset-default N   sigset(N, SIG_DFL): sets the default and unblocks N
 *   bsd-block N        sigblock() with N's bit (signals 1 to 32 have one)
 *   bsd-setmask N      sigsetmask() with N's bit: every other signal is unblocked
 *   siginterrupt N     siginterrupt(N, 1)
 *   raw-read MS        a read of an empty pipe made with the read system call itself (no
 *                      restart by the C library), until another thread writes to it MS later;
 *                      an EINTR is counted and the read made again; reported as a "planted
 *                      spin" like spin
 *   raise N            raise(N) on the loop thread
 *   itimers            SIGPROF and SIGALRM handlers, ITIMER_PROF and ITIMER_REAL every 1 ms
 *   signal-waits MS    one iteration that spins MS, then waits MS in each call that waits for a
 *                      signal or an IPC object (sigtimedwait, sigsuspend and pause woken by an
 *                      alarm, semtimedop, msgrcv woken by an alarm), spinning MS between them;
 *                      prints "wait NAME RESULT" for each: the errno, or "ok" */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "host.h"
#include "now-ms.h"
#include "plant.h"

/* The host uses the old signal functions on purpose. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

/* The old BSD mask of a signal: bit N - 1, for signals 1 to 32 only. */
static int bsd_mask(int sig)
{
    return sig > 0 && sig <= 32 ? (int)(1u << (sig - 1)) : 0;
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
    note_planted(t0);
    pthread_join(writer, NULL);
    close(pipe_ends[0]);
    close(pipe_ends[1]);
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

/* The functions of the own-NAME steps other than own-sigaction and own-signal. */
static const struct {
    const char *step;
    __sighandler_t (*install)(int, __sighandler_t);
} installers[] = {
    {"own-bsd_signal", bsd_signal},
    {"own-sysv_signal", sysv_signal},
    {"own-__sysv_signal", __sysv_signal},
    {"own-ssignal", ssignal},
    {"own-sigset", sigset},
};

/* Installs the counting handler with the function of an own-NAME step; 0 when there is none. */
static int install_own(const char *what, int n)
{
    for (size_t i = 0; i < sizeof installers / sizeof installers[0]; i++) {
        if (strcmp(what, installers[i].step) == 0) {
            if (installers[i].install(n, on_signal) == SIG_ERR)
                perror(what);
            return 1;
        }
    }
    return 0;
}

static void query(int n)
{
    struct sigaction old;
    sigaction(n, NULL, &old);
    printf("disposition %d %s%s\n", n,
           (old.sa_flags & SA_SIGINFO) || (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN)
               ? "handler"
           : old.sa_handler == SIG_IGN ? "ignore"
                                       : "default",
           old.sa_flags & SA_RESTART ? " restart" : "");
}

/* The counting handler with SA_RESTART for each of sigs, ended by 0. */
static void count_with_restart(const int *sigs)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (; *sigs; sigs++)
        if (sigaction(*sigs, &sa, NULL) != 0)
            perror("sigaction");
}

int signal_step(const char *what, const char *arg, int n)
{
    (void)arg;
    if (install_own(what, n))
        return 1;
    if (strcmp(what, "own-sigaction") == 0) {
        count_with_restart((const int[]){n, 0});
    } else if (strcmp(what, "own-signal") == 0) {
        if (signal(n, on_signal) == SIG_ERR)
            perror("signal");
    } else if (strcmp(what, "query") == 0) {
        query(n);
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
        count_with_restart((const int[]){SIGPROF, SIGALRM, 0});
        struct itimerval every_ms = {{0, 1000}, {0, 1000}};
        setitimer(ITIMER_PROF, &every_ms, NULL);
        setitimer(ITIMER_REAL, &every_ms, NULL);
    } else if (strcmp(what, "signal-waits") == 0) {
        signal_waits(n);
    } else {
        return 0;
    }
    return 1;
}
