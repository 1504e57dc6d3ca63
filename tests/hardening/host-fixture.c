/* host-fixture: an epoll loop that behaves the way real hosts do to the shim, one step per
 * loop iteration, in the order given. This file holds the loop, what the host notes and
 * prints at exit, and the dispatch of the steps; the families of steps are in the files host.h
 * lists, each with its steps described at its top. The plain steps are here:
 *
 *   spin MS            busy iteration (plant_spin); reported as "planted spin MS TID"
 *   pause-ms MS        one iteration that sleeps MS with nanosleep
 *   stat-many N        one iteration of N stat() calls on the working directory, reported as
 *                      "stat-many-done N"
 *
 * With --first-calls-deep as its first argument, the main thread does the same as the step
 * own-stack-calls (host-threads.c) before its loop goes on, and every process_vm_readv that
 * gathers more than one piece of memory fails with EPERM (a seccomp filter; the shim's
 * unwinder reads one word at a time), so that a stack copied on the loop thread by a system
 * call would come back empty. It prints "early-calls TID" for each thread that made these
 * calls.
 *
 * At exit it prints "handled N COUNT" for each signal it handled, "eintr N" for the EINTRs
 * its waits saw, and "timer-ticks N" for SIGPROF and SIGALRM together. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "host.h"
#include "now-ms.h"
#include "plant.h"
#include "tick-loop.h"

volatile sig_atomic_t handled[65];
volatile sig_atomic_t eintr_seen;

void on_signal(int sig)
{
    handled[sig]++;
}

void loop_open(struct loop *l)
{
    tick_loop_open(&l->ep, &l->tfd);
}

void tick(struct loop *l)
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

void ticks(struct loop *l, int n)
{
    for (int i = 0; i < n; i++)
        tick(l);
}

void loop_close(struct loop *l)
{
    close(l->tfd);
    close(l->ep);
}

struct loop main_loop;
static char planted[64][64];
static int nplanted;

void note_planted(double t0)
{
    snprintf(planted[nplanted % 64], sizeof planted[0], "planted spin %.3f %d", now_ms() - t0,
             (int)gettid());
    nplanted++;
}

void spin(int ms)
{
    double t0 = now_ms();
    plant_spin(ms);
    note_planted(t0);
}

void refuse_gathered_reads(void)
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

__attribute__((noinline)) void early_calls(void)
{
    struct stat st;
    struct timespec nap = {0, 1000};
    access("/", F_OK);
    stat("/", &st);
    lstat("/", &st);
    nanosleep(&nap, NULL);
    early_tids[nearly++ % 8] = (int)gettid();
}

static int plain_step(const char *what, int n)
{
    if (strcmp(what, "spin") == 0) {
        spin(n);
    } else if (strcmp(what, "stat-many") == 0) {
        struct stat st;
        int done = 0;
        for (int i = 0; i < n; i++)
            done += stat(".", &st) == 0;
        printf("stat-many-done %d\n", done);
    } else if (strcmp(what, "pause-ms") == 0) {
        struct timespec pause = {n / 1000, (long)(n % 1000) * 1000000L};
        nanosleep(&pause, NULL);
    } else {
        return 0;
    }
    return 1;
}

static void step(const char *what, const char *arg)
{
    int n = arg ? atoi(arg) : 0;
    if (!plain_step(what, n) && !signal_step(what, arg, n) && !process_step(what, arg, n) &&
        !thread_step(what, arg, n) && !stress_step(what, arg, n) && !errno_step(what, arg, n)) {
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
    ticks(&l, 5);
    for (int i = first; i < argc; i++) {
        const char *arg = takes_argument(argv[i]) && i + 1 < argc ? argv[i + 1] : NULL;
        step(argv[i], arg);
        if (arg)
            i++;
        tick(&l);
    }
    ticks(&l, 5);
    join_neighbour();
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
