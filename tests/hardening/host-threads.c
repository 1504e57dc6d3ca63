/* host-threads: host-fixture's steps that run loop threads beside the main one, short-lived
 * or on stacks the host made itself:
 *
 *   neighbour MS       a second loop thread that spins MS in one iteration while this one goes
 *                      on with its steps; it is joined at exit
 *   thread-loop MS     a second loop thread that spins MS in one iteration, then exits
 *   threads N          N short-lived loop threads (5 iterations each), 8 alive at a time
 *   count-threads N    print "threads T" with the number of threads the process has (N unused)
 *   own-stack-calls    a loop thread on a stack of the fixture's own (pthread_attr_setstack)
 *                      whose first wait is made from 64 KiB deeper than its iterations, and
 *                      which makes blocking calls from four new call sites right after it,
 *                      before the monitor has looked at the thread; gathered reads
 *                      are refused as with --first-calls-deep
 *   coroutine MS       a loop thread that switches (swapcontext) to a coroutine whose 128 KiB
 *                      stack lies below the thread's own, with an inaccessible page right
 *                      above it; the coroutine spins MS in one iteration and makes a blocking
 *                      call there */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "host.h"
#include "tick-loop.h"

/* A loop thread that spins (intptr_t)arg ms in its sixth iteration, then exits. */
static void *spinning_loop(void *arg)
{
    struct loop l;
    loop_open(&l);
    ticks(&l, 5);
    spin((int)(intptr_t)arg);
    tick(&l);
    loop_close(&l);
    return NULL;
}

/* Starts a thread that runs fn(arg), exiting with status 3 when it cannot. */
static pthread_t start_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    if (pthread_create(&t, NULL, fn, arg) != 0) {
        perror("pthread_create");
        exit(3);
    }
    return t;
}

static pthread_t neighbour;
static int have_neighbour;

void join_neighbour(void)
{
    if (have_neighbour)
        pthread_join(neighbour, NULL);
}

static void *short_loop(void *arg)
{
    (void)arg;
    struct loop l;
    loop_open(&l);
    ticks(&l, 5);
    loop_close(&l);
    return NULL;
}

static void short_lived_threads(int n)
{
    pthread_t batch[8];
    for (int done = 0; done < n; done += 8) {
        int k = n - done < 8 ? n - done : 8;
        for (int i = 0; i < k; i++)
            batch[i] = start_thread(short_loop, NULL);
        for (int i = 0; i < k; i++)
            pthread_join(batch[i], NULL);
    }
    printf("threads-done %d\n", n);
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

static void *own_stack_loop(void *arg)
{
    (void)arg;
    refuse_gathered_reads();
    struct loop l;
    loop_open(&l);
    tick_loop_first_waits_deep(l.ep, 64);
    early_calls();
    ticks(&l, 5);
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
    ticks(&l, 5);
    swapcontext(&coroutine_caller, &coroutine);
    ticks(&l, 5);
    loop_close(&l);
    munmap(stack, STACK + GUARD);
    return NULL;
}

int thread_step(const char *what, const char *arg, int n)
{
    (void)arg;
    if (strcmp(what, "neighbour") == 0) {
        neighbour = start_thread(spinning_loop, (void *)(intptr_t)n);
        have_neighbour = 1;
    } else if (strcmp(what, "thread-loop") == 0) {
        pthread_join(start_thread(spinning_loop, (void *)(intptr_t)n), NULL);
    } else if (strcmp(what, "threads") == 0) {
        short_lived_threads(n);
    } else if (strcmp(what, "count-threads") == 0) {
        printf("threads %d\n", count_threads());
    } else if (strcmp(what, "own-stack-calls") == 0) {
        own_stack_calls();
    } else if (strcmp(what, "coroutine") == 0) {
        pthread_join(start_thread(coroutine_thread, (void *)(intptr_t)n), NULL);
    } else {
        return 0;
    }
    return 1;
}
