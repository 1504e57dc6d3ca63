/* fd-calls: the interposers of the calls that create, duplicate, change and close descriptors,
 * which keep the shim's knowledge of them (fds.h) true. Cheap: one call of the real function
 * and a few stores; only fcntl's waits for a lock and libuv's statx are timed. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "catalogue.h"
#include "fds.h"
#include "record.h"

static int (*real_close)(int);
int close(int fd)
{
    SS_MISSING(SS_FIND(close), -1);
    ss__fd_forget(fd);
    if (fd >= 0)
        ss__loop_fds_closed((unsigned)fd, (unsigned)fd);
    return real_close(fd);
}

static int (*real_close_range)(unsigned, unsigned, int);
int close_range(unsigned first, unsigned last, int flags)
{
    SS_MISSING(SS_FIND(close_range), -1);
    int rc = real_close_range(first, last, flags);
    if (rc == 0 && !(flags & CLOSE_RANGE_CLOEXEC)) {
        ss__fd_forget_range(first, last);
        ss__loop_fds_closed(first, last);
    }
    return rc;
}

static void (*real_closefrom)(int);
void closefrom(int first)
{
    /* Nothing to fail with: closing nothing is what a C library without it would leave. */
    if (!SS_FIND(closefrom))
        return;
    real_closefrom(first);
    if (first >= 0) {
        ss__fd_forget_range((unsigned)first, ~0u);
        ss__loop_fds_closed((unsigned)first, ~0u);
    }
}

/* The directory's descriptor is closed inside the C library, unseen otherwise: whatever a
 * program opened and handed to fdopendir must not outlive it in the cache. */
static int (*real_closedir)(DIR *);
/* Out of line: closedir's parameter is declared non-null, and glibc checks it all the same. */
static __attribute__((noinline)) int dir_fd(DIR *d)
{
    return d ? dirfd(d) : -1;
}

int closedir(DIR *d)
{
    SS_MISSING(SS_FIND(closedir), -1);
    ss__fd_forget(dir_fd(d));
    return real_closedir(d);
}

static int (*real_socket)(int, int, int);
int socket(int domain, int type, int proto)
{
    SS_MISSING(SS_FIND(socket), -1);
    int fd = real_socket(domain, type, proto);
    ss__fd_note(fd, SS_FD_SOCKET, type & SOCK_NONBLOCK);
    return fd;
}

static int (*real_socketpair)(int, int, int, int *);
int socketpair(int domain, int type, int proto, int sv[2])
{
    SS_MISSING(SS_FIND(socketpair), -1);
    int rc = real_socketpair(domain, type, proto, sv);
    if (rc == 0) {
        ss__fd_note(sv[0], SS_FD_SOCKET, type & SOCK_NONBLOCK);
        ss__fd_note(sv[1], SS_FD_SOCKET, type & SOCK_NONBLOCK);
    }
    return rc;
}

static int (*real_pipe)(int *);
int pipe(int fds[2])
{
    SS_MISSING(SS_FIND(pipe), -1);
    int rc = real_pipe(fds);
    if (rc == 0) {
        ss__fd_note(fds[0], SS_FD_OTHER, 0);
        ss__fd_note(fds[1], SS_FD_OTHER, 0);
    }
    return rc;
}

static int (*real_pipe2)(int *, int);
int pipe2(int fds[2], int flags)
{
    SS_MISSING(SS_FIND(pipe2), -1);
    int rc = real_pipe2(fds, flags);
    if (rc == 0) {
        ss__fd_note(fds[0], SS_FD_OTHER, flags & O_NONBLOCK);
        ss__fd_note(fds[1], SS_FD_OTHER, flags & O_NONBLOCK);
    }
    return rc;
}

/* Descriptors that are never files or sockets: a loop's timers, wake-ups and signals, and the
 * loop's own epoll. Known at creation, their reads and writes are passed through without the
 * monitor having to look (which it cannot once the process and its descriptors are gone). */
#define SS_OTHER_MAKERS(X)                                                                         \
    X(timerfd_create, (int clock, int flags), (clock, flags), flags &TFD_NONBLOCK)                 \
    X(eventfd, (unsigned int count, int flags), (count, flags), flags &EFD_NONBLOCK)               \
    X(signalfd, (int sfd, const sigset_t *mask, int flags), (sfd, mask, flags),                    \
      flags &SFD_NONBLOCK)                                                                         \
    X(epoll_create, (int size), (size), 0)                                                         \
    X(epoll_create1, (int flags), (flags), 0)                                                      \
    X(inotify_init, (void), (), 0)                                                                 \
    X(inotify_init1, (int flags), (flags), flags &IN_NONBLOCK)
#define DEFINE_OTHER_MAKER(name, params, args, nonblocking)                                        \
    static int(*real_##name) params;                                                               \
    int name params                                                                                \
    {                                                                                              \
        SS_MISSING(SS_FIND(name), -1);                                                             \
        int ss_made_ = real_##name args;                                                           \
        if (ss_made_ >= 0)                                                                         \
            ss__fd_note(ss_made_, SS_FD_OTHER, (nonblocking) != 0);                                \
        return ss_made_;                                                                           \
    }
SS_OTHER_MAKERS(DEFINE_OTHER_MAKER)

static int (*real_dup)(int);
int dup(int fd)
{
    SS_MISSING(SS_FIND(dup), -1);
    int rc = real_dup(fd);
    ss__fd_dup(fd, rc);
    return rc;
}

/* dup2 over a descriptor the cache knows: the target's kind and path give way to the
 * original's. __dup2 is the same function under the C library's other name. */
#define SS_DUP2S(X) X(dup2) X(__dup2)
#define DEFINE_DUP2(name)                                                                          \
    static int (*real_##name)(int, int);                                                           \
    int name(int fd, int to)                                                                       \
    {                                                                                              \
        SS_MISSING(SS_FIND(name), -1);                                                             \
        int rc = real_##name(fd, to);                                                              \
        if (rc >= 0 && fd != to)                                                                   \
            ss__fd_dup(fd, rc);                                                                    \
        return rc;                                                                                 \
    }
SS_DUP2S(DEFINE_DUP2)

static int (*real_dup3)(int, int, int);
int dup3(int fd, int to, int flags)
{
    SS_MISSING(SS_FIND(dup3), -1);
    int rc = real_dup3(fd, to, flags);
    if (rc >= 0)
        ss__fd_dup(fd, rc);
    return rc;
}

#define DEFINE_FCNTL(name)                                                                         \
    static int (*real_##name)(int, int, ...);                                                      \
    int name(int fd, int cmd, ...)                                                                 \
    {                                                                                              \
        va_list ap;                                                                                \
        va_start(ap, cmd);                                                                         \
        void *arg = va_arg(ap, void *);                                                            \
        va_end(ap);                                                                                \
        SS_MISSING(SS_FIND(name), -1);                                                             \
        int rc;                                                                                    \
        if (cmd == F_SETLKW || cmd == F_OFD_SETLKW)                                                \
            rc = TIMED(SS_CALL_##name, SS_CAT_LOCK, fd, NULL, real_##name(fd, cmd, arg));          \
        else                                                                                       \
            rc = real_##name(fd, cmd, arg);                                                        \
        if (cmd == F_SETFL && rc == 0)                                                             \
            ss__fd_set_nonblock(fd, ((int)(intptr_t)arg & O_NONBLOCK) != 0);                       \
        else if ((cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && rc >= 0)                            \
            ss__fd_dup(fd, rc);                                                                    \
        return rc;                                                                                 \
    }
DEFINE_FCNTL(fcntl)
DEFINE_FCNTL(fcntl64)

static int (*real_ioctl)(int, unsigned long, ...);
int ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    SS_MISSING(SS_FIND(ioctl), -1);
    int rc = real_ioctl(fd, req, arg);
    if (req == FIONBIO && rc == 0 && arg)
        ss__fd_set_nonblock(fd, *(const int *)arg != 0);
    return rc;
}

/* libuv stats files through syscall(SYS_statx) and closes through syscall(SYS_close); the
 * descriptor calls a program may make this way are followed like their functions. */
static long (*real_syscall)(long, ...);
long syscall(long number, ...)
{
    va_list ap;
    va_start(ap, number);
    long a[6];
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    SS_MISSING(SS_FIND(syscall), -1);
    if (number == SYS_close) {
        ss__fd_forget((int)a[0]);
        if (a[0] >= 0)
            ss__loop_fds_closed((unsigned)a[0], (unsigned)a[0]);
    }
    if (number != SYS_statx) {
        long rc = real_syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
        if (number == SYS_close_range && rc == 0 && !(a[2] & CLOSE_RANGE_CLOEXEC)) {
            ss__fd_forget_range((unsigned)a[0], (unsigned)a[1]);
            ss__loop_fds_closed((unsigned)a[0], (unsigned)a[1]);
        } else if ((number == SYS_dup2 || number == SYS_dup3) && rc >= 0 && a[0] != a[1])
            ss__fd_dup((int)a[0], (int)rc);
        return rc;
    }
    long rc = TIMED(SS_CALL_syscall_statx, SS_CAT_FILE, -1, (const char *)a[1],
                    real_syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]));
    /* statx(fd, "", AT_EMPTY_PATH, ...) is libuv's fstat. */
    const char *path = (const char *)a[1];
    if (rc == 0 && (a[2] & AT_EMPTY_PATH) && path && !path[0] && a[4])
        ss__fd_learn((int)a[0], ((const struct statx *)a[4])->stx_mode);
    return rc;
}

void ss__resolve_fd_calls(void)
{
    SS_LOOKUP(close);
    SS_LOOKUP(close_range);
    SS_LOOKUP(closefrom);
    SS_LOOKUP(closedir);
    SS_LOOKUP(socket);
    SS_LOOKUP(socketpair);
    SS_LOOKUP(pipe);
    SS_LOOKUP(pipe2);
#define LOOKUP_NAME(name, ...) SS_LOOKUP(name);
    SS_OTHER_MAKERS(LOOKUP_NAME)
    SS_DUP2S(LOOKUP_NAME)
#undef LOOKUP_NAME
    SS_LOOKUP(dup);
    SS_LOOKUP(dup3);
    SS_LOOKUP(fcntl);
    SS_LOOKUP(fcntl64);
    SS_LOOKUP(ioctl);
    SS_LOOKUP(syscall);
}
