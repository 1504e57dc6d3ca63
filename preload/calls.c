/* calls: the blocking-call interposers. On a busy loop thread a catalogued call is timed
 * and appended to the thread's lock-free ring; everywhere else it passes straight through
 * after one thread-local check. Descriptor kinds are cached from the calls that create
 * descriptors, so deciding whether a read can block costs no system call of ours. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <resolv.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "catalogue.h"
#include "fds.h"
#include "interpose.h"
#include "shim.h"

/* Out of line: some callers' FILE parameters are declared non-null, fflush's is not. */
static int stream_fd(FILE *f)
{
    return f ? fileno_unlocked(f) : -1;
}

static int stream_category(FILE *f)
{
    int fd = stream_fd(f);
    return fd >= 0 ? ss__fd_category(fd) : SS_CAT_FILE;
}
#define ss__stream_category stream_category
#define fd_category ss__fd_category

const char *const ss__call_names[] = {
#define SS_CALL_NAME(ret, name, ...) #name,
#define SS_EXTRA_NAME(name) #name,
    SS_CALLS(SS_CALL_NAME) SS_COMPAT_CALLS(SS_CALL_NAME) SS_EXTRA_CALLS(SS_EXTRA_NAME)
#undef SS_CALL_NAME
#undef SS_EXTRA_NAME
};
const unsigned ss__call_count = SS_CALL_COUNT;

/* Sites whose stack was taken already; owner-only, so plain stores suffice. Returns the
 * table entry of the site (seen or free), NULL when the table is full. */
static uint64_t *site_entry(struct ss_slot *s, uint64_t site)
{
    size_t i = (size_t)(site ^ (site >> 17)) & (SS_SITE_TABLE - 1);
    for (size_t n = 0; n < SS_SITE_TABLE; n++, i = (i + 1) & (SS_SITE_TABLE - 1))
        if (s->sites_seen[i] == site || s->sites_seen[i] == 0)
            return &s->sites_seen[i];
    return NULL;
}

void ss__record_call(struct ss_slot *s, unsigned call, int category, uint64_t site,
                     uint64_t start_ns, uint64_t duration_ns, int fd, const char *detail)
{
    unsigned snap = 0;
    char fd_path[SS_DETAIL_MAX];
    const char *path = detail;
    if (!detail) {
        ss__fd_path(fd, fd_path);
        path = fd_path;
    }
    if (atomic_load_explicit(&ss__unwinding, memory_order_relaxed)) {
        uint64_t *seen = site_entry(s, site);
        /* A call on a descriptor of unknown kind that was not opened by path (a timerfd, an
         * inherited pipe) is rarely file I/O: its few stack copies are kept for calls that
         * are. */
        int fresh = seen && *seen == 0 && (category != SS_CAT_PENDING || (path && path[0]));
        if (fresh || duration_ns >= ss__opts.call_threshold_ns)
            snap = ss__capture_call(s);
        /* A site whose first stack could not be taken tries again on its next call. */
        if (fresh && snap)
            *seen = site;
    }
    uint32_t head = atomic_load_explicit(&s->calls_head, memory_order_relaxed);
    uint32_t tail = atomic_load_explicit(&s->calls_tail, memory_order_acquire);
    if (head - tail >= SS_CALL_RING) {
        atomic_store_explicit(&s->calls_dropped,
                              atomic_load_explicit(&s->calls_dropped, memory_order_relaxed) + 1,
                              memory_order_relaxed);
        if (snap)
            atomic_store_explicit(&s->call_snap_state[snap - 1], SS_SNAP_FREE,
                                  memory_order_release);
        return;
    }
    struct ss_call_event *e = &s->calls[head % SS_CALL_RING];
    e->site = site;
    e->iteration = atomic_load_explicit(&s->iteration, memory_order_relaxed);
    e->start_ns = start_ns;
    e->duration_ns = duration_ns;
    e->call = (uint16_t)call;
    e->category = (int8_t)category;
    e->snap = (uint8_t)snap;
    e->fd = fd;
    ss__copy_detail(e->detail, path);
    atomic_store_explicit(&s->calls_head, head + 1, memory_order_release);
    /* Half full: wake the monitor early rather than drop; rare on a healthy loop. */
    if (head + 1 - tail == SS_CALL_RING / 2)
        ss__wake_monitor();
}

/* The loop thread's slot when the calling thread is in a loop iteration, else NULL. */
static inline struct ss_slot *busy_slot(void)
{
    struct ss_thread_local *t = &ss__tls;
    struct ss_slot *s = t->slot;
    if (!s || t->in_hook ||
        atomic_load_explicit(&s->state, memory_order_relaxed) != SS_STATE_BUSY ||
        !atomic_load_explicit(&ss__active, memory_order_relaxed))
        return NULL;
    return s;
}

/* Inlined: the registers published for the call are those of the interposer that makes it. */
static inline __attribute__((always_inline)) uint64_t call_begin(struct ss_slot *s, unsigned call,
                                                                 uint64_t site)
{
    uint64_t now = ss__now();
    ss__call_now_begin(s, call, site, now);
    ss__enter_call(s);
    return now;
}

static inline void call_end(struct ss_slot *s, unsigned call, int category, uint64_t site,
                            uint64_t started, int fd, const char *detail)
{
    uint64_t now = ss__now();
    atomic_store_explicit(&s->state, SS_STATE_BUSY, memory_order_release);
    if (category == SS_CAT_NONE)
        return;
    ss__guard_enter();
    ss__record_call(s, call, category, site, started, now - started, fd, detail);
    ss__guard_leave();
}

struct call_detail {
    const char *text;
    int fd;
};
#define D_PATH(p) ((struct call_detail){(p), -1})
#define D_FD(fd) ((struct call_detail){NULL, (fd)})
#define D_STREAM(f) ((struct call_detail){NULL, stream_fd(f)})
#define D_NONE ((struct call_detail){NULL, -1})

#define UNPAREN(...) __VA_ARGS__

/* A real function the C library lacks: the interposer fails as one without support does. */
#define MISSING(found, missing)                                                                    \
    do {                                                                                           \
        if (__builtin_expect(!(found), 0)) {                                                       \
            errno = ENOSYS;                                                                        \
            return missing;                                                                        \
        }                                                                                          \
    } while (0)

/* The untimed path is the interposer itself, a plain call of the real function; everything a
 * recorded call needs is out of line, so that the untimed path saves no registers. `after`
 * may learn what the descriptor is, or find that it is not what it was thought to be: an
 * answer of "pending" on either side leaves the call to the monitor's judgement. */
#define DEFINE_BODY(ret, cname, name, find, params, args, classify, detail, after, missing)        \
    static __attribute__((noinline))                                                               \
    ret timed_##name(uint64_t ss_site_, struct ss_slot *ss_s_, int ss_cat_, UNPAREN params)        \
    {                                                                                              \
        uint64_t ss_t0_ = call_begin(ss_s_, SS_CALL_##name, ss_site_);                             \
        ret rc = real_##name args;                                                                 \
        int ss_saved_ = errno;                                                                     \
        after;                                                                                     \
        int ss_now_ = (classify);                                                                  \
        if (ss_cat_ == SS_CAT_PENDING || ss_now_ == SS_CAT_PENDING)                                \
            ss_cat_ = ss_now_;                                                                     \
        struct call_detail ss_d_ = detail;                                                         \
        call_end(ss_s_, SS_CALL_##name, ss_cat_, ss_site_, ss_t0_, ss_d_.fd, ss_d_.text);          \
        errno = ss_saved_;                                                                         \
        return rc;                                                                                 \
    }                                                                                              \
    /* A call that is not recorded, on a loop thread the signal may reach: marked all the          \
     * same, so that the signal never cuts it short. */                                            \
    static __attribute__((noinline)) ret guarded_##name(struct ss_slot *ss_s_, UNPAREN params)     \
    {                                                                                              \
        ss__enter_call(ss_s_);                                                                     \
        ret rc = real_##name args;                                                                 \
        atomic_store_explicit(&ss_s_->state, SS_STATE_BUSY, memory_order_release);                 \
        after;                                                                                     \
        return rc;                                                                                 \
    }                                                                                              \
    ret cname params                                                                               \
    {                                                                                              \
        MISSING(find, missing);                                                                    \
        struct ss_slot *ss_s_ = busy_slot();                                                       \
        int ss_cat_ = ss_s_ ? (classify) : SS_CAT_NONE;                                            \
        if (ss_cat_ != SS_CAT_NONE)                                                                \
            return timed_##name((uint64_t)(uintptr_t)__builtin_return_address(0), ss_s_, ss_cat_,  \
                                UNPAREN args);                                                     \
        if (__builtin_expect(                                                                      \
                ss_s_ != NULL && atomic_load_explicit(&ss__signal_on, memory_order_relaxed), 0))   \
            return guarded_##name(ss_s_, UNPAREN args);                                            \
        ret rc = real_##name args;                                                                 \
        after;                                                                                     \
        return rc;                                                                                 \
    }

#define DEFINE_CALL(ret, name, params, args, classify, detail, after, missing)                     \
    static ret(*real_##name) params;                                                               \
    DEFINE_BODY(ret, name, name, SS_FIND(name), params, args, classify, detail, after, missing)

/* Exported only as name@version, as the C library has it. */
#define DEFINE_COMPAT_CALL(ret, name, params, args, classify, detail, after, missing, version)     \
    static ret(*real_##name) params;                                                               \
    ret ss_compat_##name params;                                                                   \
    DEFINE_BODY(ret, ss_compat_##name, name, SS_FIND_VERSION(name, version), params, args,         \
                classify, detail, after, missing)                                                  \
    SS_SYMVER(ss_compat_##name, name, "@" version);

/* A System V semaphore operation waits unless every one of its operations says not to. */
static inline int sem_may_block(const struct sembuf *ops, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(ops[i].sem_flg & IPC_NOWAIT))
            return 1;
    return 0;
}

SS_CALLS(DEFINE_CALL)
SS_COMPAT_CALLS(DEFINE_COMPAT_CALL)

/* ---- written by hand ------------------------------------------------------------------- */

#define TIMED(call_id, category, fd, text, expr)                                                   \
    ({                                                                                             \
        struct ss_slot *ss_s_ = busy_slot();                                                       \
        uint64_t ss_site_ = (uint64_t)(uintptr_t)__builtin_return_address(0);                      \
        uint64_t ss_t0_ = ss_s_ ? call_begin(ss_s_, call_id, ss_site_) : 0;                        \
        __typeof__(expr) ss_rc_ = (expr);                                                          \
        if (ss_s_) {                                                                               \
            int ss_saved_ = errno;                                                                 \
            call_end(ss_s_, call_id, category, ss_site_, ss_t0_, fd, text);                        \
            errno = ss_saved_;                                                                     \
        }                                                                                          \
        ss_rc_;                                                                                    \
    })

/* open's mode is only passed when the flags say a file may be created. */
static mode_t open_mode(int flags, va_list ap)
{
    return (flags & O_CREAT) || (flags & __O_TMPFILE) == __O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

/* `params` ends with `int flags`, after which open's optional mode follows. */
#define DEFINE_OPEN(name, params, args)                                                            \
    static int (*real_##name)(UNPAREN params, ...);                                                \
    int name(UNPAREN params, ...)                                                                  \
    {                                                                                              \
        va_list ap;                                                                                \
        va_start(ap, flags);                                                                       \
        mode_t mode = open_mode(flags, ap);                                                        \
        va_end(ap);                                                                                \
        MISSING(SS_FIND(name), -1);                                                                \
        int rc = TIMED(SS_CALL_##name, SS_CAT_FILE, -1, path, real_##name(UNPAREN args, mode));    \
        ss__fd_note_path(rc, path);                                                                \
        return rc;                                                                                 \
    }
DEFINE_OPEN(open, (const char *path, int flags), (path, flags))
DEFINE_OPEN(open64, (const char *path, int flags), (path, flags))
DEFINE_OPEN(openat, (int dirfd, const char *path, int flags), (dirfd, path, flags))
DEFINE_OPEN(openat64, (int dirfd, const char *path, int flags), (dirfd, path, flags))

static int (*real_fclose)(FILE *);
int fclose(FILE *f)
{
    MISSING(SS_FIND(fclose), EOF);
    int fd = fileno_unlocked(f); /* declared non-null, as in the C library */
    struct ss_slot *s = busy_slot();
    int category = s ? stream_category(f) : SS_CAT_NONE;
    /* The descriptor is forgotten before it is closed (its number may be reused at once),
     * but the event still names the file. */
    char path[SS_DETAIL_MAX] = "";
    if (category != SS_CAT_NONE)
        ss__fd_path(fd, path);
    ss__fd_forget(fd);
    if (category == SS_CAT_NONE)
        return real_fclose(f);
    uint64_t site = (uint64_t)(uintptr_t)__builtin_return_address(0);
    uint64_t t0 = call_begin(s, SS_CALL_fclose, site);
    int rc = real_fclose(f);
    int saved = errno;
    call_end(s, SS_CALL_fclose, category, site, t0, fd, path[0] ? path : NULL);
    errno = saved;
    return rc;
}

/* pause waits for a signal, as sigsuspend does; written by hand for want of parameters. */
static int (*real_pause)(void);
int pause(void)
{
    MISSING(SS_FIND(pause), -1);
    return TIMED(SS_CALL_pause, SS_CAT_SLEEP, -1, NULL, real_pause());
}

static void (*real_sync)(void);
void sync(void)
{
    if (!SS_FIND(sync))
        return;
    struct ss_slot *s = busy_slot();
    if (!s) {
        real_sync();
        return;
    }
    uint64_t site = (uint64_t)(uintptr_t)__builtin_return_address(0);
    uint64_t t0 = call_begin(s, SS_CALL_sync, site);
    real_sync();
    call_end(s, SS_CALL_sync, SS_CAT_FILE, site, t0, -1, NULL);
}

/* fork copies the page tables of a large heap on the loop thread. The child, which returns
 * here too, has no slot: the parent's segment it still maps is not its to write. _Fork is
 * the same without the fork handlers, so its child is set apart here, with the same plain
 * stores the handler makes (nothing but async-signal-safe work may be done in it). */
#define SS_FORKS(X) X(fork) X(_Fork)
#define DEFINE_FORK(name)                                                                          \
    static pid_t (*real_##name)(void);                                                             \
    pid_t name(void)                                                                               \
    {                                                                                              \
        MISSING(SS_FIND(name), -1);                                                                \
        struct ss_slot *s = busy_slot();                                                           \
        uint64_t site = (uint64_t)(uintptr_t)__builtin_return_address(0);                          \
        uint64_t t0 = s ? call_begin(s, SS_CALL_##name, site) : 0;                                 \
        pid_t rc = real_##name();                                                                  \
        int saved = errno;                                                                         \
        if (rc == 0 && SS_CALL_##name == SS_CALL__Fork)                                            \
            ss__after_fork_in_child();                                                             \
        else if (s && rc != 0)                                                                     \
            call_end(s, SS_CALL_##name, SS_CAT_PROCESS, site, t0, -1, NULL);                       \
        errno = saved;                                                                             \
        return rc;                                                                                 \
    }
SS_FORKS(DEFINE_FORK)

/* ---- descriptor bookkeeping: never timed, always cheap ---------------------------------- */

static int (*real_close)(int);
int close(int fd)
{
    MISSING(SS_FIND(close), -1);
    ss__fd_forget(fd);
    if (fd >= 0)
        ss__loop_fds_closed((unsigned)fd, (unsigned)fd);
    return real_close(fd);
}

static int (*real_close_range)(unsigned, unsigned, int);
int close_range(unsigned first, unsigned last, int flags)
{
    MISSING(SS_FIND(close_range), -1);
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
    MISSING(SS_FIND(closedir), -1);
    ss__fd_forget(dir_fd(d));
    return real_closedir(d);
}

static int (*real_socket)(int, int, int);
int socket(int domain, int type, int proto)
{
    MISSING(SS_FIND(socket), -1);
    int fd = real_socket(domain, type, proto);
    ss__fd_note(fd, SS_FD_SOCKET, type & SOCK_NONBLOCK);
    return fd;
}

static int (*real_socketpair)(int, int, int, int *);
int socketpair(int domain, int type, int proto, int sv[2])
{
    MISSING(SS_FIND(socketpair), -1);
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
    MISSING(SS_FIND(pipe), -1);
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
    MISSING(SS_FIND(pipe2), -1);
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
        MISSING(SS_FIND(name), -1);                                                                \
        int ss_made_ = real_##name args;                                                           \
        if (ss_made_ >= 0)                                                                         \
            ss__fd_note(ss_made_, SS_FD_OTHER, (nonblocking) != 0);                                \
        return ss_made_;                                                                           \
    }
SS_OTHER_MAKERS(DEFINE_OTHER_MAKER)

static int (*real_dup)(int);
int dup(int fd)
{
    MISSING(SS_FIND(dup), -1);
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
        MISSING(SS_FIND(name), -1);                                                                \
        int rc = real_##name(fd, to);                                                              \
        if (rc >= 0 && fd != to)                                                                   \
            ss__fd_dup(fd, rc);                                                                    \
        return rc;                                                                                 \
    }
SS_DUP2S(DEFINE_DUP2)

static int (*real_dup3)(int, int, int);
int dup3(int fd, int to, int flags)
{
    MISSING(SS_FIND(dup3), -1);
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
        MISSING(SS_FIND(name), -1);                                                                \
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
    MISSING(SS_FIND(ioctl), -1);
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
    MISSING(SS_FIND(syscall), -1);
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

/* ---- locks ------------------------------------------------------------------------------ */

/* A deadline whose wait the C library would accept: a clock it can wait on and a valid
 * timespec. Anything else goes straight to the C library, which refuses it as it likes. */
static int waitable(clockid_t clk, const struct timespec *t)
{
    return (clk == CLOCK_REALTIME || clk == CLOCK_MONOTONIC) && t && t->tv_nsec >= 0 &&
           t->tv_nsec < 1000000000L;
}

/* Locks that are tried first: an uncontended lock costs one try, and only a lock that must
 * be waited for is timed. Trying first gives the same result as the call itself only for a
 * deadline the C library would wait on, so the timed variants try first only then.
 * X(name, try name, lock type, parameters after the lock, their arguments, when to try) */
#define SS_TRY_FIRST_LOCKS(X)                                                                      \
    X(pthread_mutex_lock, pthread_mutex_trylock, pthread_mutex_t, (), (), 1)                       \
    X(pthread_rwlock_rdlock, pthread_rwlock_tryrdlock, pthread_rwlock_t, (), (), 1)                \
    X(pthread_rwlock_wrlock, pthread_rwlock_trywrlock, pthread_rwlock_t, (), (), 1)                \
    X(pthread_mutex_timedlock, pthread_mutex_trylock, pthread_mutex_t,                             \
      (, const struct timespec *t), (, t), waitable(CLOCK_REALTIME, t))                            \
    X(pthread_mutex_clocklock, pthread_mutex_trylock, pthread_mutex_t,                             \
      (, clockid_t clk, const struct timespec *t), (, clk, t), waitable(clk, t))                   \
    X(pthread_rwlock_timedrdlock, pthread_rwlock_tryrdlock, pthread_rwlock_t,                      \
      (, const struct timespec *t), (, t), waitable(CLOCK_REALTIME, t))                            \
    X(pthread_rwlock_timedwrlock, pthread_rwlock_trywrlock, pthread_rwlock_t,                      \
      (, const struct timespec *t), (, t), waitable(CLOCK_REALTIME, t))                            \
    X(pthread_rwlock_clockrdlock, pthread_rwlock_tryrdlock, pthread_rwlock_t,                      \
      (, clockid_t clk, const struct timespec *t), (, clk, t), waitable(clk, t))                   \
    X(pthread_rwlock_clockwrlock, pthread_rwlock_trywrlock, pthread_rwlock_t,                      \
      (, clockid_t clk, const struct timespec *t), (, clk, t), waitable(clk, t))

/* The try functions are shared by several locks: declared once each. */
static int (*real_pthread_mutex_trylock)(pthread_mutex_t *);
static int (*real_pthread_rwlock_tryrdlock)(pthread_rwlock_t *);
static int (*real_pthread_rwlock_trywrlock)(pthread_rwlock_t *);

#define DEFINE_TRY_FIRST(name, try_name, type, params, args, try_first)                            \
    static int (*real_##name)(type * UNPAREN params);                                              \
    /* Out of line, so that the uncontended path saves no registers. */                            \
    static __attribute__((noinline)) int contended_##name(uint64_t site, struct ss_slot *s,        \
                                                          type *lock UNPAREN params)               \
    {                                                                                              \
        uint64_t t0 = call_begin(s, SS_CALL_##name, site);                                         \
        int rc = real_##name(lock UNPAREN args);                                                   \
        int saved = errno;                                                                         \
        call_end(s, SS_CALL_##name, SS_CAT_LOCK, site, t0, -1, NULL);                              \
        errno = saved;                                                                             \
        return rc;                                                                                 \
    }                                                                                              \
    int name(type *lock UNPAREN params)                                                            \
    {                                                                                              \
        if (!SS_FIND(name))                                                                        \
            return ENOSYS;                                                                         \
        struct ss_slot *s = busy_slot();                                                           \
        if (!s || !SS_FIND(try_name) || !(try_first))                                              \
            return real_##name(lock UNPAREN args);                                                 \
        int rc = real_##try_name(lock);                                                            \
        if (rc != EBUSY)                                                                           \
            return rc;                                                                             \
        return contended_##name((uint64_t)(uintptr_t)__builtin_return_address(0), s,               \
                                lock UNPAREN args);                                                \
    }
SS_TRY_FIRST_LOCKS(DEFINE_TRY_FIRST)

static int (*real_sem_wait)(sem_t *);
static int (*real_sem_trywait)(sem_t *);
int sem_wait(sem_t *sem)
{
    MISSING(SS_FIND(sem_wait), -1);
    ss__idle_wait();
    if (!busy_slot() || !SS_FIND(sem_trywait))
        return real_sem_wait(sem);
    int saved = errno;
    if (real_sem_trywait(sem) == 0)
        return 0;
    if (errno != EAGAIN)
        return -1;
    errno = saved;
    return TIMED(SS_CALL_sem_wait, SS_CAT_LOCK, -1, NULL, real_sem_wait(sem));
}

/* Condition variables exist in two symbol versions with different implementations: the
 * current one, and the one binaries built before 2003 are bound to. Each is interposed under
 * its own version and reaches its own. X(name, parameters, arguments) */
#define SS_COND_WAITS(X)                                                                           \
    X(pthread_cond_wait, (pthread_cond_t * c, pthread_mutex_t * m), (c, m))                        \
    X(pthread_cond_timedwait, (pthread_cond_t * c, pthread_mutex_t * m, const struct timespec *t), \
      (c, m, t))

#define DEFINE_COND_WAIT_AS(cname, var, name, params, args, version, export)                       \
    static int(*var) params;                                                                       \
    int cname params;                                                                              \
    int cname params                                                                               \
    {                                                                                              \
        if (!SS_FIND_AS(var, #name, version))                                                      \
            return ENOSYS;                                                                         \
        ss__idle_wait();                                                                           \
        return TIMED(SS_CALL_##name, SS_CAT_LOCK, -1, NULL, var args);                             \
    }                                                                                              \
    SS_SYMVER(cname, name, export);
#define DEFINE_COND_WAIT(name, params, args)                                                       \
    DEFINE_COND_WAIT_AS(ss_cond_##name, real_##name, name, params, args, "GLIBC_2.3.2",            \
                        "@@GLIBC_2.3.2")                                                           \
    DEFINE_COND_WAIT_AS(ss_old_##name, real_old_##name, name, params, args, "GLIBC_2.2.5",         \
                        "@GLIBC_2.2.5")
SS_COND_WAITS(DEFINE_COND_WAIT)

/* The other waits for work: with a deadline, and of one symbol version each.
 * X(name, parameters, arguments, what to return without the function) */
#define SS_IDLE_WAITS(X)                                                                           \
    X(sem_timedwait, (sem_t * sem, const struct timespec *t), (sem, t), -1)                        \
    X(sem_clockwait, (sem_t * sem, clockid_t clk, const struct timespec *t), (sem, clk, t), -1)    \
    X(pthread_cond_clockwait,                                                                      \
      (pthread_cond_t * c, pthread_mutex_t * m, clockid_t clk, const struct timespec *t),          \
      (c, m, clk, t), ENOSYS)
#define DEFINE_IDLE_WAIT(name, params, args, missing)                                              \
    static int(*real_##name) params;                                                               \
    int name params                                                                                \
    {                                                                                              \
        MISSING(SS_FIND(name), missing);                                                           \
        ss__idle_wait();                                                                           \
        return TIMED(SS_CALL_##name, SS_CAT_LOCK, -1, NULL, real_##name args);                     \
    }
SS_IDLE_WAITS(DEFINE_IDLE_WAIT)

/* Resolved at start-up, outside any call of the program's: a lookup made later, in the first
 * call, could run where the loader's state is unsettled. */
void ss__resolve_calls(void)
{
#define LOOKUP_CALL(ret, name, ...) SS_LOOKUP(name);
#define LOOKUP_COMPAT(ret, name, params, args, classify, detail, after, missing, version)          \
    SS_LOOKUP_VERSION(name, version);
#define LOOKUP_NAME(name, ...) SS_LOOKUP(name);
#define LOOKUP_COND(name, ...)                                                                     \
    SS_LOOKUP_VERSION(name, "GLIBC_2.3.2");                                                        \
    if (!real_old_##name)                                                                          \
        real_old_##name = (__typeof__(real_old_##name))ss__next_version(#name, "GLIBC_2.2.5");
    SS_CALLS(LOOKUP_CALL)
    SS_COMPAT_CALLS(LOOKUP_COMPAT)
    SS_FORKS(LOOKUP_NAME)
    SS_DUP2S(LOOKUP_NAME)
    SS_TRY_FIRST_LOCKS(LOOKUP_NAME)
    SS_COND_WAITS(LOOKUP_COND)
    SS_IDLE_WAITS(LOOKUP_NAME)
#undef LOOKUP_CALL
#undef LOOKUP_COMPAT
#undef LOOKUP_NAME
#undef LOOKUP_COND
    SS_LOOKUP(open);
    SS_LOOKUP(open64);
    SS_LOOKUP(openat);
    SS_LOOKUP(openat64);
    SS_LOOKUP(fclose);
    SS_LOOKUP(sync);
    SS_LOOKUP(close);
    SS_LOOKUP(close_range);
    SS_LOOKUP(closefrom);
    SS_LOOKUP(closedir);
    SS_LOOKUP(socket);
    SS_LOOKUP(socketpair);
    SS_LOOKUP(pipe);
    SS_LOOKUP(pipe2);
    SS_LOOKUP(pause);
#define LOOKUP_MAKER(name, ...) SS_LOOKUP(name);
    SS_OTHER_MAKERS(LOOKUP_MAKER)
#undef LOOKUP_MAKER
    SS_LOOKUP(dup);
    SS_LOOKUP(dup3);
    SS_LOOKUP(fcntl);
    SS_LOOKUP(fcntl64);
    SS_LOOKUP(ioctl);
    SS_LOOKUP(syscall);
    SS_LOOKUP(sem_wait);
    SS_LOOKUP(sem_trywait);
    SS_LOOKUP(pthread_mutex_trylock);
    SS_LOOKUP(pthread_rwlock_tryrdlock);
    SS_LOOKUP(pthread_rwlock_trywrlock);
}
