/* calls: the interposers of the catalogued blocking calls (catalogue.h), generated, and of the
 * few written by hand (open, fclose, pause, sync, fork). On a busy loop thread such a call is
 * timed and appended to the thread's lock-free ring; everywhere else it passes straight through
 * after one thread-local check. Whether a call on a descriptor can block is read from the
 * shim's cache of descriptor kinds (fds.h), at no system call of ours. */
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
#include <sys/file.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "catalogue.h"
#include "fds.h"
#include "record.h"

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
struct call_detail {
    const char *text;
    int fd;
};
#define D_PATH(p) ((struct call_detail){(p), -1})
#define D_FD(fd) ((struct call_detail){NULL, (fd)})
#define D_STREAM(f) ((struct call_detail){NULL, stream_fd(f)})
#define D_NONE ((struct call_detail){NULL, -1})

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
        SS_MISSING(find, missing);                                                                 \
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
        SS_MISSING(SS_FIND(name), -1);                                                             \
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
    SS_MISSING(SS_FIND(fclose), EOF);
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
    SS_MISSING(SS_FIND(pause), -1);
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
        SS_MISSING(SS_FIND(name), -1);                                                             \
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

/* Resolved at start-up, outside any call of the program's: a lookup made later, in the first
 * call, could run where the loader's state is unsettled. */
void ss__resolve_calls(void)
{
#define LOOKUP_CALL(ret, name, ...) SS_LOOKUP(name);
#define LOOKUP_COMPAT(ret, name, params, args, classify, detail, after, missing, version)          \
    SS_LOOKUP_VERSION(name, version);
#define LOOKUP_NAME(name, ...) SS_LOOKUP(name);
    SS_CALLS(LOOKUP_CALL)
    SS_COMPAT_CALLS(LOOKUP_COMPAT)
    SS_FORKS(LOOKUP_NAME)
#undef LOOKUP_CALL
#undef LOOKUP_COMPAT
#undef LOOKUP_NAME
    SS_LOOKUP(open);
    SS_LOOKUP(open64);
    SS_LOOKUP(openat);
    SS_LOOKUP(openat64);
    SS_LOOKUP(fclose);
    SS_LOOKUP(sync);
    SS_LOOKUP(pause);
}
