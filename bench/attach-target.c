/* attach-target: a process for `stallscope attach` to stop, of a chosen size. It starts
 * THREADS - 1 threads besides the main one (the first half wait on a condition variable that
 * is never signalled, the others sleep 10 ms at a time in nanosleep), dlopen()s NLIBS shared
 * libraries DIR/libattach-mod-NNN.so (each one function calling write, read and usleep
 * through its PLT, so that each has GOT entries to redirect), prints "ready PID" on stdout
 * and then runs an epoll loop on an empty pipe, waking every 50 ms, until it is killed.
 *
 *   attach-target THREADS DIR NLIBS */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;

static void *waiter(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    for (;;)
        pthread_cond_wait(&never, &lock);
    return NULL;
}

static void *sleeper(void *arg)
{
    (void)arg;
    for (;;) {
        struct timespec ts = {0, 10 * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: attach-target THREADS DIR NLIBS\n");
        return 2;
    }
    int threads = atoi(argv[1]), nlibs = atoi(argv[3]);
    const char *dir = argv[2];
    for (int i = 0; i < nlibs; i++) {
        char path[4096], name[64];
        snprintf(path, sizeof path, "%s/libattach-mod-%03d.so", dir, i);
        void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!lib) {
            fprintf(stderr, "attach-target: %s\n", dlerror());
            return 3;
        }
        /* Each function called once: it makes its calls, as a module in use would have. */
        snprintf(name, sizeof name, "attach_mod_%03d", i);
        int (*fn)(int) = (int (*)(int))dlsym(lib, name);
        if (!fn) {
            fprintf(stderr, "attach-target: %s\n", dlerror());
            return 3;
        }
        fn(-1);
    }
    for (int i = 1; i < threads; i++) {
        pthread_t t;
        int err = pthread_create(&t, NULL, i <= (threads - 1) / 2 ? waiter : sleeper, NULL);
        if (err) {
            fprintf(stderr, "attach-target: pthread_create: error %d\n", err);
            return 3;
        }
        pthread_detach(t);
    }
    int fds[2], ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0 || pipe(fds) < 0) {
        perror("attach-target");
        return 3;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fds[0]};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[0], &ev) < 0) {
        perror("attach-target: epoll_ctl");
        return 3;
    }
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    for (;;) {
        struct epoll_event got;
        if (epoll_wait(ep, &got, 1, 50) > 0) {
            char buf[64];
            if (read(fds[0], buf, sizeof buf) < 0)
                perror("attach-target: read");
        }
    }
}
