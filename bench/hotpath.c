/* hotpath: what one interposed call costs. An epoll loop whose every iteration is one
 * epoll_wait that returns at once (a level-triggered eventfd is always ready) followed by
 * CALLS calls of one kind. Run it once plain and once with the shim preloaded: the difference
 * of the two ns-per-call figures is what the shim adds to that call.
 *
 *   hotpath MODE CALLS ITERATIONS [loop|mt|off]
 *
 * MODE   wait   CALLS epoll_wait calls per iteration (each one is an iteration of its own)
 *        read   read(2) on an empty non-blocking socket (EAGAIN): passed through untimed
 *        write  write(2) of 1 byte to a non-blocking socket; one read drains it per iteration
 *        mutex  pthread_mutex_lock/unlock of an uncontended mutex: one try, untimed
 *        file   pread(2) of 1 byte of a regular file: a blocking call, timed and recorded
 * loop   (default) the calls are made on the loop thread, in a single-threaded process
 * mt     the same, with one more thread that sleeps in pause() and never waits. The shim's
 *        watchdog thread, before the monitor, made a single-threaded program multi-threaded,
 *        and glibc's system-call wrappers then take their slower cancellation-point path;
 *        this separates that cost from the cost of the shim's own code.
 * off    make the calls on a thread that never waits, while another thread of the process
 *        sits in its loop: what every worker thread of a traced program pays.
 *
 * Prints "MODE PLACE ns_per_call=X iterations=N calls=N interposer=PATH": the median over 10
 * batches of the time per call, and the object that read(2) resolves to, so a run can prove
 * that the shim was (or was not) in the process. The timed part is in run_batch, which the
 * callgrind measurement uses as its only collection window. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCHES 10

enum mode { M_WAIT, M_READ, M_WRITE, M_MUTEX, M_FILE };

static int ep, sock[2], file_fd;
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static enum mode mode;
static int on_loop = 1;
static int extra_thread;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
    perror(what);
    exit(3);
}

static void wait_once(void)
{
    struct epoll_event ev;
    if (epoll_wait(ep, &ev, 1, 0) != 1)
        die("epoll_wait");
}

/* One iteration's calls. Results are checked so that the compiler keeps every call and a
 * broken setup cannot pass for a fast one. */
static void calls(int n)
{
    char buf[4096];
    switch (mode) {
    case M_WAIT:
        for (int i = 0; i < n; i++)
            wait_once();
        return;
    case M_READ:
        for (int i = 0; i < n; i++)
            if (read(sock[0], buf, sizeof buf) != -1 || errno != EAGAIN)
                die("read");
        return;
    case M_WRITE:
        for (int i = 0; i < n; i++)
            if (write(sock[1], "x", 1) != 1)
                die("write");
        if (read(sock[0], buf, sizeof buf) != n)
            die("drain");
        return;
    case M_MUTEX:
        for (int i = 0; i < n; i++) {
            pthread_mutex_lock(&mutex);
            pthread_mutex_unlock(&mutex);
        }
        return;
    case M_FILE:
        for (int i = 0; i < n; i++)
            if (pread(file_fd, buf, 1, 0) != 1)
                die("pread");
        return;
    }
}

/* noinline: callgrind toggles its collection on entry to and exit from this function. */
__attribute__((noinline)) uint64_t run_batch(long iterations, int n)
{
    uint64_t t0 = now_ns();
    for (long i = 0; i < iterations; i++) {
        if (on_loop && mode != M_WAIT)
            wait_once();
        calls(n);
    }
    return now_ns() - t0;
}

static void *sleeper(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return NULL;
}

/* The program's loop when the measured calls are made off it: idle, as most loops are. */
static void *idle_loop(void *arg)
{
    (void)arg;
    int idle_ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev;
    for (;;)
        epoll_wait(idle_ep, &ev, 1, -1);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    static const char *names[] = {"wait", "read", "write", "mutex", "file"};
    if (argc < 4) {
        fprintf(stderr, "usage: hotpath wait|read|write|mutex|file CALLS ITERATIONS [loop|mt|off]\n");
        return 2;
    }
    mode = (enum mode)-1;
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(argv[1], names[i]) == 0)
            mode = (enum mode)i;
    int n = atoi(argv[2]);
    long iterations = atol(argv[3]);
    const char *place = argc > 4 ? argv[4] : "loop";
    on_loop = strcmp(place, "off") != 0;
    extra_thread = strcmp(place, "mt") == 0;
    if ((int)mode < 0 || n <= 0 || n > 4096 || iterations < BATCHES ||
        (!on_loop && mode == M_WAIT) || (on_loop && !extra_thread && strcmp(place, "loop") != 0)) {
        fprintf(stderr, "hotpath: bad arguments\n");
        return 2;
    }

    ep = epoll_create1(EPOLL_CLOEXEC);
    int efd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = efd};
    if (ep < 0 || efd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) < 0)
        die("epoll setup");
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sock) < 0)
        die("socketpair");
    char path[] = "/tmp/hotpath-XXXXXX";
    file_fd = mkstemp(path);
    if (file_fd < 0 || write(file_fd, "x", 1) != 1)
        die("data file");
    unlink(path);
    pthread_t t;
    if (!on_loop || extra_thread) {
        if (pthread_create(&t, NULL, on_loop ? sleeper : idle_loop, NULL) != 0)
            die("pthread_create");
        usleep(20000); /* let it reach its wait (or its pause) */
    }

    long per_batch = iterations / BATCHES;
    run_batch(per_batch / 5 + 1, n); /* warm-up: caches, first call of each site */
    double ns[BATCHES];
    for (int b = 0; b < BATCHES; b++)
        ns[b] = (double)run_batch(per_batch, n) / ((double)per_batch * n);
    qsort(ns, BATCHES, sizeof ns[0], cmp_double);

    Dl_info info = {0};
    void *resolved = dlsym(RTLD_DEFAULT, "read");
    if (!resolved || !dladdr(resolved, &info) || !info.dli_fname)
        info.dli_fname = "?";
    printf("%s %s ns_per_call=%.2f iterations=%ld calls=%d interposer=%s\n", names[mode], place,
           (ns[BATCHES / 2 - 1] + ns[BATCHES / 2]) / 2, per_batch * BATCHES, n, info.dli_fname);
    return 0;
}
