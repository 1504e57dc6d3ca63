/* host-fixture: an epoll loop that behaves the way real hosts do to the shim, one step per
 * loop iteration, in the order given:
 *
 *   spin MS            busy iteration (plant_spin); reported as "planted spin MS TID"
 *   own-sigaction N    install a counting handler for signal N with sigaction()
 *   own-signal N       the same with signal()
 *   query N            print "disposition N default|ignore|handler" as sigaction() reports it
 *   save-restore N     query the disposition of N, set it back, then set SIG_DFL with signal()
 *   block N, unblock N pthread_sigmask() on the loop thread
 *   raise N            raise(N) on the loop thread
 *   itimers            SIGPROF and SIGALRM handlers, ITIMER_PROF and ITIMER_REAL every 1 ms
 *   vfork PATH         vfork() and exec PATH, wait for it
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
 * At exit it prints "handled N COUNT" for each signal it handled, "eintr N" for the EINTRs
 * its waits saw, and "timer-ticks N" for SIGPROF and SIGALRM together. */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "plant.h"

extern char **environ;

static volatile sig_atomic_t handled[65];
static volatile sig_atomic_t eintr_seen;

static void on_signal(int sig)
{
    handled[sig]++;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

struct loop {
    int ep, tfd;
};

static void loop_open(struct loop *l)
{
    l->ep = epoll_create1(EPOLL_CLOEXEC);
    l->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct itimerspec its = {{0, 2000000}, {0, 2000000}};
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = l->tfd};
    if (l->ep < 0 || l->tfd < 0 || timerfd_settime(l->tfd, 0, &its, NULL) < 0 ||
        epoll_ctl(l->ep, EPOLL_CTL_ADD, l->tfd, &ev) < 0) {
        perror("loop setup");
        exit(3);
    }
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
    PROBE("posix_spawn", waitpid(posix_spawn(&pid, "/bin/true", NULL, NULL, argv, envp) ? -1 : pid,
                                 NULL, 0),
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
        printf("disposition %d %s\n", n,
               (old.sa_flags & SA_SIGINFO) ||
                       (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN)
                   ? "handler"
               : old.sa_handler == SIG_IGN ? "ignore"
                                           : "default");
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
    } else if (strcmp(what, "remove-dir") == 0) {
        remove_dir(arg);
    } else {
        fprintf(stderr, "host-fixture: unknown step %s\n", what);
        exit(2);
    }
}

static int takes_argument(const char *what)
{
    return strcmp(what, "itimers") != 0 && strcmp(what, "crash") != 0;
}

int main(int argc, char **argv)
{
    struct loop l;
    loop_open(&l);
    main_loop = l;
    for (int i = 0; i < 5; i++)
        tick(&l);
    for (int i = 1; i < argc; i++) {
        const char *arg = takes_argument(argv[i]) && i + 1 < argc ? argv[i + 1] : NULL;
        step(argv[i], arg);
        if (arg)
            i++;
        tick(&l);
    }
    for (int i = 0; i < 5; i++)
        tick(&l);
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
    return 0;
}
