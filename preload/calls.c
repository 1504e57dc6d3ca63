/* calls: the blocking-call interposers. On a busy loop thread a catalogued call is timed
 * and appended to the thread's lock-free ring; everywhere else it passes straight through
 * after one thread-local check. Descriptor kinds are cached from the calls that create
 * descriptors, so deciding whether a read can block costs no system call of ours. */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <resolv.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "catalogue.h"
#include "interpose.h"
#include "shim.h"

_Atomic uint8_t ss__fds[SS_FD_CACHE];
static char fd_paths[SS_FD_CACHE][SS_DETAIL_MAX];

/* One unsigned comparison, which also tells the compiler that fd indexes the tables. */
static inline int in_fd_cache(int fd)
{
    return (unsigned)fd < SS_FD_CACHE;
}

/* A long path keeps its end, where the file's name is: "...b/python3.11/configparser.py". */
static void copy_detail(char *to, const char *from)
{
    if (!from)
        from = "";
    size_t len = strlen(from), keep = len;
    if (len > SS_DETAIL_MAX - 1) {
        keep = SS_DETAIL_MAX - 4;
        memcpy(to, "...", 3);
        to += 3;
    }
    memcpy(to, from + len - keep, keep);
    to[keep] = '\0';
}

/* Opening by path does not say what was opened (a terminal, a FIFO, a file): the kind stays
 * unknown, and the watchdog classifies the first call on it from the path it keeps here. */
void ss__fd_note_path(int fd, const char *path)
{
    if (in_fd_cache(fd)) {
        ss__fd_note(fd, SS_FD_UNKNOWN, 0);
        copy_detail(fd_paths[fd], path);
    }
}

#define FD_KIND_MASK 3u
#define FD_NONBLOCK 4u

/* What the monitor found out about a descriptor is stale once the descriptor changes. */
static inline void forget_learned(int fd)
{
    struct ss_segment *seg = atomic_load_explicit(&ss__seg, memory_order_relaxed);
    if (seg && (unsigned)fd < SS_FD_LEARNED_MAX &&
        atomic_load_explicit(&seg->fd_learned[fd], memory_order_relaxed))
        atomic_store_explicit(&seg->fd_learned[fd], 0, memory_order_relaxed);
}

static void fd_set_kind(int fd, enum ss_fd_kind kind, int nonblocking)
{
    if (in_fd_cache(fd)) {
        atomic_store_explicit(&ss__fds[fd], (uint8_t)(kind | (nonblocking ? FD_NONBLOCK : 0)),
                              memory_order_relaxed);
        forget_learned(fd);
    }
}

void ss__fd_note(int fd, enum ss_fd_kind kind, int nonblocking)
{
    if (in_fd_cache(fd))
        fd_paths[fd][0] = '\0';
    fd_set_kind(fd, kind, nonblocking);
}

enum ss_fd_kind ss__fd_kind_of_mode(mode_t mode)
{
    if (S_ISREG(mode) || S_ISBLK(mode) || S_ISDIR(mode))
        return SS_FD_FILE;
    return S_ISSOCK(mode) ? SS_FD_SOCKET : SS_FD_OTHER;
}

void ss__fd_learn(int fd, mode_t mode)
{
    if (!S_ISSOCK(mode))
        fd_set_kind(fd, ss__fd_kind_of_mode(mode), 0);
}

void ss__fd_forget(int fd)
{
    if (in_fd_cache(fd)) {
        atomic_store_explicit(&ss__fds[fd], SS_FD_UNKNOWN, memory_order_relaxed);
        fd_paths[fd][0] = '\0';
    }
    forget_learned(fd);
}

/* A descriptor the shim could not tell: what the monitor found it to be since, if anything. */
static __attribute__((noinline)) unsigned adopt_learned(int fd)
{
    struct ss_segment *seg = atomic_load_explicit(&ss__seg, memory_order_relaxed);
    if (!seg || (unsigned)fd >= SS_FD_LEARNED_MAX)
        return SS_FD_UNKNOWN;
    unsigned v = atomic_load_explicit(&seg->fd_learned[fd], memory_order_relaxed);
    if (!(v & SS_FD_LEARNED))
        return SS_FD_UNKNOWN;
    v = (v & FD_KIND_MASK) | (v & SS_FD_LEARNED_NONBLOCK ? FD_NONBLOCK : 0);
    atomic_store_explicit(&ss__fds[fd], (uint8_t)v, memory_order_relaxed);
    return v;
}

static inline __attribute__((always_inline)) int fd_category(int fd)
{
    if (!in_fd_cache(fd))
        return SS_CAT_PENDING;
    unsigned v = atomic_load_explicit(&ss__fds[fd], memory_order_relaxed);
    if ((v & FD_KIND_MASK) == SS_FD_UNKNOWN)
        v = adopt_learned(fd);
    return ss_fd_category((enum ss_fd_kind)(v & FD_KIND_MASK), (v & FD_NONBLOCK) != 0,
                          ss__opts.strict);
}

/* Out of line: some callers' FILE parameters are declared non-null, fflush's is not. */
static int stream_fd(FILE *f)
{
    return f ? fileno_unlocked(f) : -1;
}

static int stream_category(FILE *f)
{
    int fd = stream_fd(f);
    return fd >= 0 ? fd_category(fd) : SS_CAT_FILE;
}
#define ss__stream_category stream_category

const char *const ss__call_names[] = {
#define SS_CALL_NAME(ret, name, ...) #name,
#define SS_EXTRA_NAME(name) #name,
    SS_CALLS(SS_CALL_NAME) SS_EXTRA_CALLS(SS_EXTRA_NAME)
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
    const char *path = !detail && in_fd_cache(fd) ? fd_paths[fd] : detail;
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
    copy_detail(e->detail, path);
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

static inline uint64_t call_begin(struct ss_slot *s, unsigned call, uint64_t site)
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
    ss__tls.in_hook++;
    ss__record_call(s, call, category, site, started, now - started, fd, detail);
    ss__tls.in_hook--;
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

/* The untimed path is the interposer itself, a plain call of the real function; everything a
 * recorded call needs is out of line, so that the untimed path saves no registers. */
#define DEFINE_CALL(ret, name, params, args, classify, detail, after)                              \
    static ret(*real_##name) params;                                                               \
    static __attribute__((noinline))                                                               \
    ret timed_##name(uint64_t ss_site_, struct ss_slot *ss_s_, int ss_cat_, UNPAREN params)        \
    {                                                                                              \
        uint64_t ss_t0_ = call_begin(ss_s_, SS_CALL_##name, ss_site_);                             \
        ret rc = real_##name args;                                                                 \
        int ss_saved_ = errno;                                                                     \
        after;                                                                                     \
        /* `after` may have just learnt what the descriptor is. */                                 \
        if (ss_cat_ == SS_CAT_PENDING)                                                             \
            ss_cat_ = (classify);                                                                  \
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
    ret name params                                                                                \
    {                                                                                              \
        RESOLVE(name);                                                                             \
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

SS_CALLS(DEFINE_CALL)

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
        RESOLVE(name);                                                                             \
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
    RESOLVE(fclose);
    int fd = fileno_unlocked(f); /* declared non-null, as in the C library */
    struct ss_slot *s = busy_slot();
    int category = s ? stream_category(f) : SS_CAT_NONE;
    /* The descriptor is forgotten before it is closed (its number may be reused at once),
     * but the event still names the file. */
    char path[SS_DETAIL_MAX] = "";
    if (category != SS_CAT_NONE && in_fd_cache(fd))
        memcpy(path, fd_paths[fd], sizeof path);
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

static void (*real_sync)(void);
void sync(void)
{
    RESOLVE(sync);
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
 * here too, has no slot: the parent's segment it still maps is not its to write. */
static pid_t (*real_fork)(void);
pid_t fork(void)
{
    RESOLVE(fork);
    struct ss_slot *s = busy_slot();
    uint64_t site = (uint64_t)(uintptr_t)__builtin_return_address(0);
    uint64_t t0 = s ? call_begin(s, SS_CALL_fork, site) : 0;
    pid_t rc = real_fork();
    int saved = errno;
    if (s && rc != 0)
        call_end(s, SS_CALL_fork, SS_CAT_PROCESS, site, t0, -1, NULL);
    errno = saved;
    return rc;
}

/* Descriptor bookkeeping: never timed, always cheap. */
static int (*real_close)(int);
int close(int fd)
{
    RESOLVE(close);
    ss__fd_forget(fd);
    return real_close(fd);
}

static int (*real_socket)(int, int, int);
int socket(int domain, int type, int proto)
{
    RESOLVE(socket);
    int fd = real_socket(domain, type, proto);
    int saved = errno;
    ss__fd_note(fd, SS_FD_SOCKET, type & SOCK_NONBLOCK);
    errno = saved;
    return fd;
}

static int (*real_socketpair)(int, int, int, int *);
int socketpair(int domain, int type, int proto, int sv[2])
{
    RESOLVE(socketpair);
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
    RESOLVE(pipe);
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
    RESOLVE(pipe2);
    int rc = real_pipe2(fds, flags);
    if (rc == 0) {
        ss__fd_note(fds[0], SS_FD_OTHER, flags & O_NONBLOCK);
        ss__fd_note(fds[1], SS_FD_OTHER, flags & O_NONBLOCK);
    }
    return rc;
}

/* A duplicate is what its original is. */
static void note_dup(int from, int to)
{
    if (to >= 0 && to < SS_FD_CACHE)
        copy_detail(fd_paths[to], from >= 0 && from < SS_FD_CACHE ? fd_paths[from] : NULL);
    if (to >= 0 && to < SS_FD_CACHE)
        atomic_store_explicit(&ss__fds[to],
                              from >= 0 && from < SS_FD_CACHE
                                  ? atomic_load_explicit(&ss__fds[from], memory_order_relaxed)
                                  : (uint8_t)SS_FD_UNKNOWN,
                              memory_order_relaxed);
}

static int (*real_dup)(int);
int dup(int fd)
{
    RESOLVE(dup);
    int rc = real_dup(fd);
    note_dup(fd, rc);
    return rc;
}

static int (*real_dup2)(int, int);
int dup2(int fd, int to)
{
    RESOLVE(dup2);
    int rc = real_dup2(fd, to);
    if (rc >= 0)
        note_dup(fd, rc);
    return rc;
}

static int (*real_dup3)(int, int, int);
int dup3(int fd, int to, int flags)
{
    RESOLVE(dup3);
    int rc = real_dup3(fd, to, flags);
    if (rc >= 0)
        note_dup(fd, rc);
    return rc;
}

/* O_NONBLOCK set or cleared later changes whether a socket's calls can block. */
static void note_nonblock(int fd, int nonblocking)
{
    if (!in_fd_cache(fd))
        return;
    unsigned v = atomic_load_explicit(&ss__fds[fd], memory_order_relaxed);
    if ((v & FD_KIND_MASK) != SS_FD_UNKNOWN)
        atomic_store_explicit(&ss__fds[fd],
                              (uint8_t)((v & ~FD_NONBLOCK) | (nonblocking ? FD_NONBLOCK : 0)),
                              memory_order_relaxed);
}

#define DEFINE_FCNTL(name)                                                                         \
    static int (*real_##name)(int, int, ...);                                                      \
    int name(int fd, int cmd, ...)                                                                 \
    {                                                                                              \
        va_list ap;                                                                                \
        va_start(ap, cmd);                                                                         \
        void *arg = va_arg(ap, void *);                                                            \
        va_end(ap);                                                                                \
        RESOLVE(name);                                                                             \
        int rc;                                                                                    \
        if (cmd == F_SETLKW || cmd == F_OFD_SETLKW)                                                \
            rc = TIMED(SS_CALL_##name, SS_CAT_LOCK, fd, NULL, real_##name(fd, cmd, arg));          \
        else                                                                                       \
            rc = real_##name(fd, cmd, arg);                                                        \
        if (cmd == F_SETFL && rc == 0)                                                             \
            note_nonblock(fd, ((int)(intptr_t)arg & O_NONBLOCK) != 0);                             \
        else if ((cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && rc >= 0)                            \
            note_dup(fd, rc);                                                                      \
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
    RESOLVE(ioctl);
    int rc = real_ioctl(fd, req, arg);
    if (req == FIONBIO && rc == 0 && arg) {
        int saved = errno;
        note_nonblock(fd, *(const int *)arg != 0);
        errno = saved;
    }
    return rc;
}

/* libuv stats files through syscall(SYS_statx) and closes through syscall(SYS_close). */
static long (*real_syscall)(long, ...);
long syscall(long number, ...)
{
    va_list ap;
    va_start(ap, number);
    long a[6];
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    RESOLVE(syscall);
    if (number == SYS_close)
        ss__fd_forget((int)a[0]);
    if (number != SYS_statx)
        return real_syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
    long rc = TIMED(SS_CALL_syscall_statx, SS_CAT_FILE, -1, (const char *)a[1],
                    real_syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]));
    /* statx(fd, "", AT_EMPTY_PATH, ...) is libuv's fstat. */
    const char *path = (const char *)a[1];
    if (rc == 0 && (a[2] & AT_EMPTY_PATH) && path && !path[0] && a[4]) {
        int saved = errno;
        ss__fd_learn((int)a[0], ((const struct statx *)a[4])->stx_mode);
        errno = saved;
    }
    return rc;
}

/* Locks: an uncontended lock costs one try; only a lock that must be waited for is timed. */
#define DEFINE_TRY_FIRST(name, try_name, type)                                                     \
    static int (*real_##name)(type *);                                                             \
    static int (*real_##try_name)(type *);                                                         \
    /* Out of line, so that the uncontended path saves no registers. */                            \
    static __attribute__((noinline)) int contended_##name(uint64_t site, struct ss_slot *s,        \
                                                          type *lock)                              \
    {                                                                                              \
        uint64_t t0 = call_begin(s, SS_CALL_##name, site);                                         \
        int rc = real_##name(lock);                                                                \
        int saved = errno;                                                                         \
        call_end(s, SS_CALL_##name, SS_CAT_LOCK, site, t0, -1, NULL);                              \
        errno = saved;                                                                             \
        return rc;                                                                                 \
    }                                                                                              \
    int name(type *lock)                                                                           \
    {                                                                                              \
        RESOLVE(name);                                                                             \
        RESOLVE(try_name);                                                                         \
        struct ss_slot *s = busy_slot();                                                           \
        if (!s)                                                                                    \
            return real_##name(lock);                                                              \
        int rc = real_##try_name(lock);                                                            \
        if (rc != EBUSY)                                                                           \
            return rc;                                                                             \
        return contended_##name((uint64_t)(uintptr_t)__builtin_return_address(0), s, lock);        \
    }
DEFINE_TRY_FIRST(pthread_mutex_lock, pthread_mutex_trylock, pthread_mutex_t)

static int (*real_sem_wait)(sem_t *);
static int (*real_sem_trywait)(sem_t *);
int sem_wait(sem_t *sem)
{
    RESOLVE(sem_wait);
    RESOLVE(sem_trywait);
    if (!busy_slot())
        return real_sem_wait(sem);
    int saved = errno;
    if (real_sem_trywait(sem) == 0)
        return 0;
    if (errno != EAGAIN)
        return -1;
    errno = saved;
    return TIMED(SS_CALL_sem_wait, SS_CAT_LOCK, -1, NULL, real_sem_wait(sem));
}
DEFINE_TRY_FIRST(pthread_rwlock_rdlock, pthread_rwlock_tryrdlock, pthread_rwlock_t)
DEFINE_TRY_FIRST(pthread_rwlock_wrlock, pthread_rwlock_trywrlock, pthread_rwlock_t)

/* Condition variables exist in two symbol versions; the current one is the only one a
 * program built this century calls. */
static int (*real_pthread_cond_wait)(pthread_cond_t *, pthread_mutex_t *);
int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
    if (!real_pthread_cond_wait)
        real_pthread_cond_wait = (__typeof__(real_pthread_cond_wait))dlvsym(
            RTLD_NEXT, "pthread_cond_wait", "GLIBC_2.3.2");
    return TIMED(SS_CALL_pthread_cond_wait, SS_CAT_LOCK, -1, NULL, real_pthread_cond_wait(c, m));
}

static int (*real_pthread_cond_timedwait)(pthread_cond_t *, pthread_mutex_t *,
                                          const struct timespec *);
int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *t)
{
    if (!real_pthread_cond_timedwait)
        real_pthread_cond_timedwait = (__typeof__(real_pthread_cond_timedwait))dlvsym(
            RTLD_NEXT, "pthread_cond_timedwait", "GLIBC_2.3.2");
    return TIMED(SS_CALL_pthread_cond_timedwait, SS_CAT_LOCK, -1, NULL,
                 real_pthread_cond_timedwait(c, m, t));
}

/* Resolved at start-up, outside any call of the program's: a lookup made later, in the first
 * call, could run where the loader's state is unsettled. */
void ss__resolve_calls(void)
{
#define RESOLVE_CALL(ret, name, ...) RESOLVE(name);
    SS_CALLS(RESOLVE_CALL)
#undef RESOLVE_CALL
    RESOLVE(open);
    RESOLVE(open64);
    RESOLVE(openat);
    RESOLVE(openat64);
    RESOLVE(fclose);
    RESOLVE(sync);
    RESOLVE(close);
    RESOLVE(socket);
    RESOLVE(socketpair);
    RESOLVE(pipe);
    RESOLVE(pipe2);
    RESOLVE(dup);
    RESOLVE(dup2);
    RESOLVE(dup3);
    RESOLVE(fcntl);
    RESOLVE(fcntl64);
    RESOLVE(ioctl);
    RESOLVE(syscall);
    RESOLVE(sem_wait);
    RESOLVE(sem_trywait);
    RESOLVE(pthread_mutex_lock);
    RESOLVE(pthread_mutex_trylock);
    RESOLVE(pthread_rwlock_rdlock);
    RESOLVE(pthread_rwlock_tryrdlock);
    RESOLVE(pthread_rwlock_wrlock);
    RESOLVE(pthread_rwlock_trywrlock);
}
