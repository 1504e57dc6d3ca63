/* idle-loop: the smallest event loop, one thread waiting forever on an empty epoll set.
 * What the shim adds to it (memory, threads, wake-ups, CPU) is what it adds to any idle
 * process it is preloaded into. */
#include <stdio.h>
#include <sys/epoll.h>

int main(void)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev;
    if (ep < 0) {
        perror("epoll_create1");
        return 3;
    }
    for (;;)
        epoll_wait(ep, &ev, 1, -1);
}
