/* stall-plant: an epoll loop that blocks itself for known lengths of time, to check what
 * stallscope makes of stalls whose true length is known.
 *
 *   stall-plant MS...
 *
 * Each MS plants one spin of that many milliseconds in an iteration of its own, with quiet
 * iterations (a 1 ms timer) between them so that every stall ends well apart from the next.
 * The fixture times each spin itself and prints, at exit, one line per stall:
 *   planted MS START_NS DURATION_NS
 * START_NS is on CLOCK_MONOTONIC, taken as the iteration began (right after its wait
 * returned), the clock the trace's start_ns uses; DURATION_NS is the spin's own measure. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_STALLS 256
#define QUIET_ITERATIONS 30

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* noinline: the stall's samples should show a frame of the fixture's own. */
__attribute__((noinline)) void spin_for(uint64_t ns)
{
    volatile uint64_t acc = 0;
    uint64_t end = now_ns() + ns;
    while (now_ns() < end)
        for (int i = 0; i < 1000; i++)
            acc += (uint64_t)i * 2654435761u;
}

static void wait_tick(int ep, int tfd)
{
    struct epoll_event ev;
    uint64_t expirations;
    if (epoll_wait(ep, &ev, 1, 1000) == 1 && read(tfd, &expirations, sizeof expirations) < 0) {
        /* EAGAIN: another wait already consumed the tick */
    }
}

int main(int argc, char **argv)
{
    int n = argc - 1 < MAX_STALLS ? argc - 1 : MAX_STALLS;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct itimerspec its = {{0, 1000000}, {0, 1000000}};
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = tfd};
    if (n <= 0 || ep < 0 || tfd < 0 || timerfd_settime(tfd, 0, &its, NULL) < 0 ||
        epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev) < 0) {
        fprintf(stderr, "usage: stall-plant MS...\n");
        return 2;
    }
    static uint64_t start[MAX_STALLS], took[MAX_STALLS];
    for (int q = 0; q < QUIET_ITERATIONS; q++)
        wait_tick(ep, tfd);
    for (int k = 0; k < n; k++) {
        wait_tick(ep, tfd);
        start[k] = now_ns();
        spin_for((uint64_t)atoi(argv[k + 1]) * 1000000ull);
        took[k] = now_ns() - start[k];
        for (int q = 0; q < QUIET_ITERATIONS; q++)
            wait_tick(ep, tfd);
    }
    for (int k = 0; k < n; k++)
        printf("planted %s %llu %llu\n", argv[k + 1], (unsigned long long)start[k],
               (unsigned long long)took[k]);
    return 0;
}
