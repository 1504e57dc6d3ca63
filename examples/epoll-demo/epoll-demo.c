/* epoll-demo: a tiny event loop that serves a timer every 10 ms for about a second, and
 * blocks itself twice on the way, as real servers do by accident: once computing a checksum
 * of a large buffer on the loop thread, once sleeping while it "waits for a backend".
 * `scripts/demo` runs it under stallscope to show what the report says about each. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

/* noinline keeps each culprit a frame of its own in the stacks, as in real code. */
__attribute__((noinline)) static uint32_t checksum_config(const uint8_t *buf, size_t len)
{
    uint32_t a = 1, b = 0;
    for (int round = 0; round < 12; round++) {
        for (size_t i = 0; i < len; i++) {
            a = (a + buf[i]) % 65521;
            b = (b + a) % 65521;
        }
    }
    return (b << 16) | a;
}

__attribute__((noinline)) static int wait_for_backend(void)
{
    return usleep(120 * 1000) == 0;
}

__attribute__((noinline)) static void on_tick(unsigned tick, uint8_t *buf, size_t len)
{
    if (tick == 20)
        printf("tick %u: config checksum %08x\n", tick, checksum_config(buf, len));
    if (tick == 50 && wait_for_backend())
        printf("tick %u: backend answered\n", tick);
}

int main(void)
{
    size_t len = 4 << 20;
    uint8_t *buf = malloc(len);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct itimerspec every_10ms = {{0, 10000000}, {0, 10000000}};
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = tfd};
    if (!buf || ep < 0 || tfd < 0 || timerfd_settime(tfd, 0, &every_10ms, NULL) < 0 ||
        epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev) < 0) {
        perror("epoll-demo");
        return 1;
    }
    memset(buf, 0x5a, len);
    for (unsigned tick = 1; tick <= 100;) {
        int n = epoll_wait(ep, &ev, 1, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            perror("epoll_wait");
            return 1;
        }
        uint64_t expirations;
        if (read(tfd, &expirations, sizeof expirations) == sizeof expirations)
            on_tick(tick++, buf, len);
    }
    free(buf);
    close(tfd);
    close(ep);
    return 0;
}
