/* host-errno: host-fixture's step that checks the shim leaves errno as the C library left it:
 *
 *   errno-probe DIR    calls of every kind the shim interposes, each once succeeding and once
 *                      failing with errno set to a sentinel first; prints
 *                      "errno NAME SUCCESS-ERRNO FAILURE-ERRNO" for each (files go in DIR) */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "host.h"

extern char **environ;

/* The host uses the old signal functions on purpose. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

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

/* Children of _Fork and of vfork that leave at once. */
static pid_t fork_and_leave(void)
{
    pid_t pid = _Fork();
    if (pid == 0)
        _exit(0);
    return pid;
}

static pid_t vfork_and_leave(void)
{
    pid_t pid = vfork();
    if (pid == 0)
        _exit(0);
    return pid;
}

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
    /* The timed locks, free, then held by this thread: a deadline in the past, or an invalid one
     * (nanoseconds, clock). */
    struct timespec past = {1, 0}, bad = {1, -1};
    PROBE("mutex_timedlock", pthread_mutex_timedlock(&m, &past), pthread_mutex_timedlock(&m, &bad));
    PROBE("mutex_clocklock", pthread_mutex_clocklock(&m, CLOCK_MONOTONIC, &past),
          pthread_mutex_clocklock(&m, 12345, &past));
    pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
    PROBE("rwlock_timedrdlock", pthread_rwlock_timedrdlock(&rw, &past),
          pthread_rwlock_timedrdlock(&rw, &bad));
    pthread_rwlock_unlock(&rw);
    PROBE("rwlock_clockwrlock", pthread_rwlock_clockwrlock(&rw, CLOCK_MONOTONIC, &past),
          pthread_rwlock_clockwrlock(&rw, 12345, &past));
    pthread_rwlock_unlock(&rw);
    pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
    PROBE("cond_clockwait", pthread_cond_clockwait(&cv, &m, CLOCK_MONOTONIC, &past),
          pthread_cond_clockwait(&cv, &m, 12345, &past));
    pthread_mutex_unlock(&m);
    PROBE("_Fork", waitpid(fork_and_leave(), NULL, 0), getpid());
    PROBE("vfork", waitpid(vfork_and_leave(), NULL, 0), getpid());
    PROBE("close_range", close_range(1000, 1010, 0), close_range(10, 5, 0));
    PROBE("closefrom", (closefrom(1000), 0), getpid());
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
    PROBE("bsd_signal", bsd_signal(SIGUSR2, SIG_DFL), bsd_signal(-1, SIG_DFL));
    PROBE("sysv_signal", sysv_signal(SIGUSR2, SIG_DFL), sysv_signal(-1, SIG_DFL));
    PROBE("sigset", sigset(SIGUSR2, SIG_DFL), sigset(-1, SIG_DFL));
    PROBE("sighold", sighold(SIGUSR2), sighold(-1));
    PROBE("sigrelse", sigrelse(SIGUSR2), sigrelse(-1));
    int mask = sigblock(0);
    PROBE("sigblock", sigblock(0), getpid());
    PROBE("sigsetmask", sigsetmask(mask), getpid());
    PROBE("siginterrupt", siginterrupt(SIGUSR2, 0), siginterrupt(-1, 0));
    PROBE("sigignore", sigignore(SIGUSR2), sigignore(-1));
    signal(SIGUSR2, SIG_DFL);
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
    PROBE("posix_spawn",
          waitpid(posix_spawn(&pid, "/bin/true", NULL, NULL, argv, envp) ? -1 : pid, NULL, 0),
          posix_spawn(&pid, "/nonexistent/x", NULL, NULL, argv, envp));
    PROBE("posix_spawnp",
          waitpid(posix_spawnp(&pid, "true", NULL, NULL, argv, environ) ? -1 : pid, NULL, 0),
          posix_spawnp(&pid, "ss-no-such-program", NULL, NULL, argv, envp));
}

int errno_step(const char *what, const char *arg, int n)
{
    (void)n;
    if (strcmp(what, "errno-probe") != 0)
        return 0;
    errno_probe(arg);
    return 1;
}
