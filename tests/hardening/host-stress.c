/* host-stress: host-fixture's steps that interrupt the loop thread anywhere, the shim's own
 * code included, and that keep it busy where stacks are hard to unwind:
 *
 *   jump-out-of-call MS  a SIGALRM handler that siglongjmp()s out of a recv() on an empty
 *                      blocking socket MS later, then a 150 ms spin
 *   jump-out-of-wait MS  the same out of the loop's own epoll_wait() (its timer stopped)
 *   jump-storm N       an interval timer every 37 us whose SIGALRM handler siglongjmp()s
 *                      out of whatever runs, while the loop thread makes access() calls,
 *                      until N jumps were made; then, once the monitor has taken the
 *                      calls recorded so far, an access() of
 *                      /nonexistent/after-the-jumps and a 150 ms spin
 *   stress-malloc MS   one iteration of MS spent in malloc, realloc and free
 *   stress-dlopen MS   one iteration of MS loading and unloading a library (LIBRARY)
 *   stress-throw MS    one iteration of MS throwing and catching C++ exceptions
 *   stress-signals MS  one iteration of MS in which another thread sends the loop thread
 *                      SIGUSR1 without pause; the host's handler does some work each time
 * Each stress iteration is reported as a "planted spin" like spin. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "host.h"
#include "now-ms.h"
#include "own-segment.h"
#include "plant.h"

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
    note_planted(t0);
}

int stress_step(const char *what, const char *arg, int n)
{
    (void)arg;
    if (strcmp(what, "jump-out-of-call") == 0)
        jump_out_of_call(n);
    else if (strcmp(what, "jump-out-of-wait") == 0)
        jump_out_of_wait(n);
    else if (strcmp(what, "jump-storm") == 0)
        jump_storm(n);
    else if (strncmp(what, "stress-", 7) == 0)
        stress(what, n);
    else
        return 0;
    return 1;
}
