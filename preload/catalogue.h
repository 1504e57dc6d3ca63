/* catalogue: the blocking calls stallscope records on loop threads, in one list. Each entry
 * generates an interposer (calls.c). docs/blocking-calls.md is the prose version.
 *
 * X(ret, name, params, args, classify, detail, after, missing)
 *   classify: evaluated before the call on a busy loop thread; gives the category to record
 *             the call under, or SS_CAT_NONE to pass it through untimed (a non-blocking socket,
 *             a WNOHANG wait, ...)
 *   detail:   evaluated after the call: what the event says about its target
 *   after:    evaluated after every call on every thread, to keep the descriptor cache right;
 *             it must leave errno alone (the untimed path returns without saving it)
 *   missing:  what the interposer returns, with errno ENOSYS, when the C library has no such
 *             function (interpose.h): the failure value of the function's own convention
 *
 * SS_COMPAT_CALLS have one more column, the symbol version their callers are bound to: the
 * C library keeps them for old binaries only, so the interposer is exported and looked up
 * under that version (interpose.h). */
#ifndef SS_CATALOGUE_H
#define SS_CATALOGUE_H

#include "common/segment.h"

#define FD_CALL(fd) fd_category(fd)
#define STREAM_CALL(f) ss__stream_category(f)
#define ALWAYS(cat) SS_CAT_##cat
#define UNLESS(cond, cat) ((cond) ? SS_CAT_NONE : SS_CAT_##cat)

#define NOTHING ((void)0)
#define OPENED(fd) ss__fd_note_path((int)(fd), path)
#define OPENED_STREAM(f) ((f) ? ss__fd_note_path(fileno_unlocked(f), path) : (void)0)
#define LEARNED(fd, st) ((rc) == 0 ? ss__fd_learn((fd), (st)->st_mode) : (void)0)
/* A descriptor accept() worked on is a socket, whatever the cache thought it was. */
#define ACCEPTED(new_fd, nonblock)                                                                 \
    ((new_fd) >= 0                                                                                 \
         ? (ss__fd_accepted_on(fd), ss__fd_note((int)(new_fd), SS_FD_SOCKET, (nonblock)))          \
         : (void)0)
/* Descriptors passed in SCM_RIGHTS are new numbers, of unknown kind. */
#define RECEIVED(m) ((rc) >= 0 ? ss__fd_received(m) : (void)0)
#define RECEIVED_MANY(v) ((rc) > 0 ? ss__fd_received_many((v), (unsigned)(rc)) : (void)0)
/* freopen with no path reopens the same file under the same descriptor. */
#define REOPENED(f) ((f) && path ? ss__fd_note_path(fileno_unlocked(f), path) : (void)0)

/* clang-format off */
#define SS_CALLS(X) \
    X(int, creat, (const char *path, mode_t mode), (path, mode), ALWAYS(FILE), D_PATH(path), OPENED(rc), -1) \
    X(int, creat64, (const char *path, mode_t mode), (path, mode), ALWAYS(FILE), D_PATH(path), OPENED(rc), -1) \
    X(int, __open_2, (const char *path, int flags), (path, flags), ALWAYS(FILE), D_PATH(path), OPENED(rc), -1) \
    X(int, __open64_2, (const char *path, int flags), (path, flags), ALWAYS(FILE), D_PATH(path), OPENED(rc), -1) \
    X(int, __openat_2, (int dirfd, const char *path, int flags), (dirfd, path, flags), ALWAYS(FILE), D_PATH(path), OPENED(rc), -1) \
    X(int, __openat64_2, (int dirfd, const char *path, int flags), (dirfd, path, flags), ALWAYS(FILE), D_PATH(path), OPENED(rc), -1) \
    X(ssize_t, read, (int fd, void *buf, size_t n), (fd, buf, n), FD_CALL(fd), D_FD(fd), NOTHING, -1) \
    X(ssize_t, __read_chk, (int fd, void *buf, size_t n, size_t len), (fd, buf, n, len), FD_CALL(fd), D_FD(fd), NOTHING, -1) \
    X(ssize_t, pread, (int fd, void *buf, size_t n, off_t off), (fd, buf, n, off), FD_CALL(fd), D_FD(fd), NOTHING, -1) \
    X(ssize_t, pread64, (int fd, void *buf, size_t n, off64_t off), (fd, buf, n, off), FD_CALL(fd), D_FD(fd), NOTHING, -1) \
    X(ssize_t, __pread_chk, (int fd, void *buf, size_t n, off_t off, size_t len), (fd, buf, n, off, len), FD_CALL(fd), D_FD(fd), NOTHING, -1) \
    X(ssize_t, __pread64_chk, (int fd, void *buf, size_t n, off64_t off, size_t len), (fd, buf, n, off, len), FD_CALL(fd), D_FD(fd), NOTHING, -1) \
    X(ssize_t, readv, (int fd, const struct iovec *iov, int n), (fd, iov, n), FD_CALL(fd), D_FD(fd), NOTHING, -1) \
    X(ssize_t, preadv, (int fd, const struct iovec *iov, int n, off_t off), (fd, iov, n, off), FD_CALL(fd), D_FD(fd), NOTHING, -1) \
    X(ssize_t, preadv64, (int fd, const struct iovec *iov, int n, off64_t off), (fd, iov, n, off), FD_CALL(fd), D_FD(fd), NOTHING, -1) \
    X(ssize_t, preadv2, (int fd, const struct iovec *iov, int n, off_t off, int fl), (fd, iov, n, off, fl), FD_CALL(fd), D_FD(fd), NOTHING, -1) \
    X(ssize_t, write, (int fd, const void *buf, size_t n), (fd, buf, n), FD_CALL(fd), D_FD(fd), NOTHING, -1) \
    X(ssize_t, pwrite, (int fd, const void *buf, size_t n, off_t off), (fd, buf, n, off), FD_CALL(fd), D_FD(fd), NOTHING, -1) \
    X(ssize_t, pwrite64, (int fd, const void *buf, size_t n, off64_t off), (fd, buf, n, off), FD_CALL(fd), D_FD(fd), NOTHING, -1) \
    X(ssize_t, writev, (int fd, const struct iovec *iov, int n), (fd, iov, n), FD_CALL(fd), D_FD(fd), NOTHING, -1) \
    X(ssize_t, pwritev, (int fd, const struct iovec *iov, int n, off_t off), (fd, iov, n, off), FD_CALL(fd), D_FD(fd), NOTHING, -1) \
    X(ssize_t, pwritev64, (int fd, const struct iovec *iov, int n, off64_t off), (fd, iov, n, off), FD_CALL(fd), D_FD(fd), NOTHING, -1) \
    X(ssize_t, pwritev2, (int fd, const struct iovec *iov, int n, off_t off, int fl), (fd, iov, n, off, fl), FD_CALL(fd), D_FD(fd), NOTHING, -1) \
    X(int, fsync, (int fd), (fd), ALWAYS(FILE), D_FD(fd), NOTHING, -1) \
    X(int, fdatasync, (int fd), (fd), ALWAYS(FILE), D_FD(fd), NOTHING, -1) \
    X(int, syncfs, (int fd), (fd), ALWAYS(FILE), D_FD(fd), NOTHING, -1) \
    X(int, sync_file_range, (int fd, off64_t off, off64_t n, unsigned int fl), (fd, off, n, fl), ALWAYS(FILE), D_FD(fd), NOTHING, -1) \
    X(int, ftruncate, (int fd, off_t len), (fd, len), ALWAYS(FILE), D_FD(fd), NOTHING, -1) \
    X(int, ftruncate64, (int fd, off64_t len), (fd, len), ALWAYS(FILE), D_FD(fd), NOTHING, -1) \
    X(int, fallocate, (int fd, int mode, off_t off, off_t len), (fd, mode, off, len), ALWAYS(FILE), D_FD(fd), NOTHING, -1) \
    X(int, fallocate64, (int fd, int mode, off64_t off, off64_t len), (fd, mode, off, len), ALWAYS(FILE), D_FD(fd), NOTHING, -1) \
    X(int, stat, (const char *path, struct stat *st), (path, st), ALWAYS(FILE), D_PATH(path), NOTHING, -1) \
    X(int, stat64, (const char *path, struct stat64 *st), (path, st), ALWAYS(FILE), D_PATH(path), NOTHING, -1) \
    X(int, lstat, (const char *path, struct stat *st), (path, st), ALWAYS(FILE), D_PATH(path), NOTHING, -1) \
    X(int, lstat64, (const char *path, struct stat64 *st), (path, st), ALWAYS(FILE), D_PATH(path), NOTHING, -1) \
    X(int, fstat, (int fd, struct stat *st), (fd, st), FD_CALL(fd), D_FD(fd), LEARNED(fd, st), -1) \
    X(int, fstat64, (int fd, struct stat64 *st), (fd, st), FD_CALL(fd), D_FD(fd), LEARNED(fd, st), -1) \
    X(int, fstatat, (int dirfd, const char *path, struct stat *st, int fl), (dirfd, path, st, fl), ALWAYS(FILE), D_PATH(path), NOTHING, -1) \
    X(int, fstatat64, (int dirfd, const char *path, struct stat64 *st, int fl), (dirfd, path, st, fl), ALWAYS(FILE), D_PATH(path), NOTHING, -1) \
    X(int, __xstat, (int ver, const char *path, struct stat *st), (ver, path, st), ALWAYS(FILE), D_PATH(path), NOTHING, -1) \
    X(int, __xstat64, (int ver, const char *path, struct stat64 *st), (ver, path, st), ALWAYS(FILE), D_PATH(path), NOTHING, -1) \
    X(int, __lxstat, (int ver, const char *path, struct stat *st), (ver, path, st), ALWAYS(FILE), D_PATH(path), NOTHING, -1) \
    X(int, __lxstat64, (int ver, const char *path, struct stat64 *st), (ver, path, st), ALWAYS(FILE), D_PATH(path), NOTHING, -1) \
    X(int, __fxstat, (int ver, int fd, struct stat *st), (ver, fd, st), FD_CALL(fd), D_FD(fd), LEARNED(fd, st), -1) \
    X(int, __fxstat64, (int ver, int fd, struct stat64 *st), (ver, fd, st), FD_CALL(fd), D_FD(fd), LEARNED(fd, st), -1) \
    X(int, __fxstatat, (int ver, int dirfd, const char *path, struct stat *st, int fl), (ver, dirfd, path, st, fl), ALWAYS(FILE), D_PATH(path), NOTHING, -1) \
    X(int, __fxstatat64, (int ver, int dirfd, const char *path, struct stat64 *st, int fl), (ver, dirfd, path, st, fl), ALWAYS(FILE), D_PATH(path), NOTHING, -1) \
    X(int, statx, (int dirfd, const char *path, int fl, unsigned int mask, struct statx *st), (dirfd, path, fl, mask, st), ALWAYS(FILE), D_PATH(path), NOTHING, -1) \
    X(int, access, (const char *path, int mode), (path, mode), ALWAYS(FILE), D_PATH(path), NOTHING, -1) \
    X(int, faccessat, (int dirfd, const char *path, int mode, int fl), (dirfd, path, mode, fl), ALWAYS(FILE), D_PATH(path), NOTHING, -1) \
    X(int, unlink, (const char *path), (path), ALWAYS(FILE), D_PATH(path), NOTHING, -1) \
    X(int, unlinkat, (int dirfd, const char *path, int fl), (dirfd, path, fl), ALWAYS(FILE), D_PATH(path), NOTHING, -1) \
    X(int, rename, (const char *from, const char *to), (from, to), ALWAYS(FILE), D_PATH(from), NOTHING, -1) \
    X(int, renameat, (int fromfd, const char *from, int tofd, const char *to), (fromfd, from, tofd, to), ALWAYS(FILE), D_PATH(from), NOTHING, -1) \
    X(int, renameat2, (int fromfd, const char *from, int tofd, const char *to, unsigned int fl), (fromfd, from, tofd, to, fl), ALWAYS(FILE), D_PATH(from), NOTHING, -1) \
    X(int, mkdir, (const char *path, mode_t mode), (path, mode), ALWAYS(FILE), D_PATH(path), NOTHING, -1) \
    X(int, mkdirat, (int dirfd, const char *path, mode_t mode), (dirfd, path, mode), ALWAYS(FILE), D_PATH(path), NOTHING, -1) \
    X(int, rmdir, (const char *path), (path), ALWAYS(FILE), D_PATH(path), NOTHING, -1) \
    X(DIR *, opendir, (const char *path), (path), ALWAYS(FILE), D_PATH(path), NOTHING, NULL) \
    X(struct dirent *, readdir, (DIR *d), (d), ALWAYS(FILE), D_NONE, NOTHING, NULL) \
    X(struct dirent64 *, readdir64, (DIR *d), (d), ALWAYS(FILE), D_NONE, NOTHING, NULL) \
    X(int, scandir, (const char *path, struct dirent ***list, int (*keep)(const struct dirent *), int (*order)(const struct dirent **, const struct dirent **)), (path, list, keep, order), ALWAYS(FILE), D_PATH(path), NOTHING, -1) \
    X(int, scandir64, (const char *path, struct dirent64 ***list, int (*keep)(const struct dirent64 *), int (*order)(const struct dirent64 **, const struct dirent64 **)), (path, list, keep, order), ALWAYS(FILE), D_PATH(path), NOTHING, -1) \
    X(FILE *, fopen, (const char *path, const char *mode), (path, mode), ALWAYS(FILE), D_PATH(path), OPENED_STREAM(rc), NULL) \
    X(FILE *, fopen64, (const char *path, const char *mode), (path, mode), ALWAYS(FILE), D_PATH(path), OPENED_STREAM(rc), NULL) \
    X(FILE *, freopen, (const char *path, const char *mode, FILE *f), (path, mode, f), ALWAYS(FILE), D_PATH(path), REOPENED(rc), NULL) \
    X(FILE *, freopen64, (const char *path, const char *mode, FILE *f), (path, mode, f), ALWAYS(FILE), D_PATH(path), REOPENED(rc), NULL) \
    X(size_t, fread, (void *p, size_t size, size_t n, FILE *f), (p, size, n, f), STREAM_CALL(f), D_STREAM(f), NOTHING, 0) \
    X(size_t, __fread_chk, (void *p, size_t len, size_t size, size_t n, FILE *f), (p, len, size, n, f), STREAM_CALL(f), D_STREAM(f), NOTHING, 0) \
    X(size_t, fwrite, (const void *p, size_t size, size_t n, FILE *f), (p, size, n, f), STREAM_CALL(f), D_STREAM(f), NOTHING, 0) \
    X(char *, fgets, (char *s, int n, FILE *f), (s, n, f), STREAM_CALL(f), D_STREAM(f), NOTHING, NULL) \
    X(char *, __fgets_chk, (char *s, size_t len, int n, FILE *f), (s, len, n, f), STREAM_CALL(f), D_STREAM(f), NOTHING, NULL) \
    X(int, fflush, (FILE *f), (f), STREAM_CALL(f), D_STREAM(f), NOTHING, -1) \
    X(int, connect, (int fd, const struct sockaddr *a, socklen_t len), (fd, a, len), FD_CALL(fd), D_FD(fd), NOTHING, -1) \
    X(int, accept, (int fd, struct sockaddr *a, socklen_t *len), (fd, a, len), FD_CALL(fd), D_FD(fd), ACCEPTED(rc, 0), -1) \
    X(int, accept4, (int fd, struct sockaddr *a, socklen_t *len, int fl), (fd, a, len, fl), FD_CALL(fd), D_FD(fd), ACCEPTED(rc, fl & SOCK_NONBLOCK), -1) \
    X(ssize_t, recv, (int fd, void *buf, size_t n, int fl), (fd, buf, n, fl), (fl & MSG_DONTWAIT) ? SS_CAT_NONE : FD_CALL(fd), D_FD(fd), NOTHING, -1) \
    X(ssize_t, __recv_chk, (int fd, void *buf, size_t n, size_t len, int fl), (fd, buf, n, len, fl), (fl & MSG_DONTWAIT) ? SS_CAT_NONE : FD_CALL(fd), D_FD(fd), NOTHING, -1) \
    X(ssize_t, recvfrom, (int fd, void *buf, size_t n, int fl, struct sockaddr *a, socklen_t *len), (fd, buf, n, fl, a, len), (fl & MSG_DONTWAIT) ? SS_CAT_NONE : FD_CALL(fd), D_FD(fd), NOTHING, -1) \
    X(ssize_t, __recvfrom_chk, (int fd, void *buf, size_t n, size_t blen, int fl, struct sockaddr *a, socklen_t *len), (fd, buf, n, blen, fl, a, len), (fl & MSG_DONTWAIT) ? SS_CAT_NONE : FD_CALL(fd), D_FD(fd), NOTHING, -1) \
    X(ssize_t, recvmsg, (int fd, struct msghdr *m, int fl), (fd, m, fl), (fl & MSG_DONTWAIT) ? SS_CAT_NONE : FD_CALL(fd), D_FD(fd), RECEIVED(m), -1) \
    X(int, recvmmsg, (int fd, struct mmsghdr *v, unsigned int n, int fl, struct timespec *t), (fd, v, n, fl, t), (fl & MSG_DONTWAIT) ? SS_CAT_NONE : FD_CALL(fd), D_FD(fd), RECEIVED_MANY(v), -1) \
    X(ssize_t, send, (int fd, const void *buf, size_t n, int fl), (fd, buf, n, fl), (fl & MSG_DONTWAIT) ? SS_CAT_NONE : FD_CALL(fd), D_FD(fd), NOTHING, -1) \
    X(ssize_t, sendto, (int fd, const void *buf, size_t n, int fl, const struct sockaddr *a, socklen_t len), (fd, buf, n, fl, a, len), (fl & MSG_DONTWAIT) ? SS_CAT_NONE : FD_CALL(fd), D_FD(fd), NOTHING, -1) \
    X(ssize_t, sendmsg, (int fd, const struct msghdr *m, int fl), (fd, m, fl), (fl & MSG_DONTWAIT) ? SS_CAT_NONE : FD_CALL(fd), D_FD(fd), NOTHING, -1) \
    X(int, getaddrinfo, (const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res), (node, service, hints, res), ALWAYS(DNS), D_PATH(node), NOTHING, EAI_SYSTEM) \
    X(int, getnameinfo, (const struct sockaddr *a, socklen_t len, char *host, socklen_t hostlen, char *serv, socklen_t servlen, int fl), (a, len, host, hostlen, serv, servlen, fl), ALWAYS(DNS), D_PATH(host), NOTHING, EAI_SYSTEM) \
    X(struct hostent *, gethostbyname, (const char *name), (name), ALWAYS(DNS), D_PATH(name), NOTHING, NULL) \
    X(struct hostent *, gethostbyname2, (const char *name, int af), (name, af), ALWAYS(DNS), D_PATH(name), NOTHING, NULL) \
    X(int, gethostbyname_r, (const char *name, struct hostent *h, char *buf, size_t len, struct hostent **res, int *err), (name, h, buf, len, res, err), ALWAYS(DNS), D_PATH(name), NOTHING, ENOSYS) \
    X(int, gethostbyname2_r, (const char *name, int af, struct hostent *h, char *buf, size_t len, struct hostent **res, int *err), (name, af, h, buf, len, res, err), ALWAYS(DNS), D_PATH(name), NOTHING, ENOSYS) \
    X(struct hostent *, gethostbyaddr, (const void *addr, socklen_t len, int type), (addr, len, type), ALWAYS(DNS), D_NONE, NOTHING, NULL) \
    X(int, gethostbyaddr_r, (const void *addr, socklen_t len, int type, struct hostent *h, char *buf, size_t blen, struct hostent **res, int *err), (addr, len, type, h, buf, blen, res, err), ALWAYS(DNS), D_NONE, NOTHING, ENOSYS) \
    X(int, res_query, (const char *name, int cls, int type, unsigned char *ans, int len), (name, cls, type, ans, len), ALWAYS(DNS), D_PATH(name), NOTHING, -1) \
    X(int, res_search, (const char *name, int cls, int type, unsigned char *ans, int len), (name, cls, type, ans, len), ALWAYS(DNS), D_PATH(name), NOTHING, -1) \
    X(int, system, (const char *cmd), (cmd), ALWAYS(PROCESS), D_PATH(cmd), NOTHING, -1) \
    X(FILE *, popen, (const char *cmd, const char *mode), (cmd, mode), ALWAYS(PROCESS), D_PATH(cmd), NOTHING, NULL) \
    X(int, pclose, (FILE *f), (f), ALWAYS(PROCESS), D_NONE, NOTHING, -1) \
    X(pid_t, wait, (int *status), (status), ALWAYS(PROCESS), D_NONE, NOTHING, -1) \
    X(pid_t, waitpid, (pid_t pid, int *status, int opt), (pid, status, opt), UNLESS(opt & WNOHANG, PROCESS), D_NONE, NOTHING, -1) \
    X(pid_t, wait3, (int *status, int opt, struct rusage *ru), (status, opt, ru), UNLESS(opt & WNOHANG, PROCESS), D_NONE, NOTHING, -1) \
    X(pid_t, wait4, (pid_t pid, int *status, int opt, struct rusage *ru), (pid, status, opt, ru), UNLESS(opt & WNOHANG, PROCESS), D_NONE, NOTHING, -1) \
    X(int, waitid, (idtype_t type, id_t id, siginfo_t *info, int opt), (type, id, info, opt), UNLESS(opt & WNOHANG, PROCESS), D_NONE, NOTHING, -1) \
    X(int, pthread_join, (pthread_t t, void **ret), (t, ret), ALWAYS(LOCK), D_NONE, NOTHING, ENOSYS) \
    X(int, flock, (int fd, int op), (fd, op), UNLESS(op & LOCK_NB, LOCK), D_FD(fd), NOTHING, -1) \
    X(int, lockf, (int fd, int cmd, off_t len), (fd, cmd, len), UNLESS(cmd != F_LOCK, LOCK), D_FD(fd), NOTHING, -1) \
    X(int, lockf64, (int fd, int cmd, off64_t len), (fd, cmd, len), UNLESS(cmd != F_LOCK, LOCK), D_FD(fd), NOTHING, -1) \
    X(int, sigsuspend, (const sigset_t *mask), (mask), ALWAYS(SLEEP), D_NONE, NOTHING, -1) \
    X(int, sigwaitinfo, (const sigset_t *set, siginfo_t *info), (set, info), ALWAYS(SLEEP), D_NONE, NOTHING, -1) \
    X(int, sigtimedwait, (const sigset_t *set, siginfo_t *info, const struct timespec *t), (set, info, t), ALWAYS(SLEEP), D_NONE, NOTHING, -1) \
    X(int, sigwait, (const sigset_t *set, int *sig), (set, sig), ALWAYS(SLEEP), D_NONE, NOTHING, ENOSYS) \
    X(int, semop, (int id, struct sembuf *ops, size_t n), (id, ops, n), UNLESS(!sem_may_block(ops, n), LOCK), D_NONE, NOTHING, -1) \
    X(int, semtimedop, (int id, struct sembuf *ops, size_t n, const struct timespec *t), (id, ops, n, t), UNLESS(!sem_may_block(ops, n), LOCK), D_NONE, NOTHING, -1) \
    X(ssize_t, msgrcv, (int id, void *msg, size_t size, long type, int fl), (id, msg, size, type, fl), UNLESS(fl & IPC_NOWAIT, LOCK), D_NONE, NOTHING, -1) \
    X(int, msgsnd, (int id, const void *msg, size_t size, int fl), (id, msg, size, fl), UNLESS(fl & IPC_NOWAIT, LOCK), D_NONE, NOTHING, -1)

/* Since glibc 2.34 the resolver's __res_* names exist only for binaries built before: the
 * headers of older versions turned res_query into __res_query. */
#define SS_COMPAT_CALLS(X) \
    X(int, __res_query, (const char *name, int cls, int type, unsigned char *ans, int len), (name, cls, type, ans, len), ALWAYS(DNS), D_PATH(name), NOTHING, -1, "GLIBC_2.2.5") \
    X(int, __res_search, (const char *name, int cls, int type, unsigned char *ans, int len), (name, cls, type, ans, len), ALWAYS(DNS), D_PATH(name), NOTHING, -1, "GLIBC_2.2.5")

/* Interposers written by hand (variadic, versioned or with special rules), in calls.c,
 * fd-calls.c, locks.c and waits.c; they share the catalogue's numbering. */
#define SS_EXTRA_CALLS(X) \
    X(open) X(open64) X(openat) X(openat64) X(fclose) X(sync) X(fcntl) X(fcntl64) \
    X(syscall_statx) X(fork) X(_Fork) X(sem_wait) X(pthread_mutex_lock) X(pthread_rwlock_rdlock) \
    X(pthread_rwlock_wrlock) X(pthread_mutex_timedlock) X(pthread_mutex_clocklock) \
    X(pthread_rwlock_timedrdlock) X(pthread_rwlock_timedwrlock) X(pthread_rwlock_clockrdlock) \
    X(pthread_rwlock_clockwrlock) \
    X(pthread_cond_wait) X(pthread_cond_timedwait) X(sem_timedwait) X(sem_clockwait) \
    X(pthread_cond_clockwait) X(nanosleep) X(clock_nanosleep) X(usleep) \
    X(sleep) X(pause) X(epoll_wait) X(epoll_pwait) X(epoll_pwait2) X(poll) X(__poll_chk) X(ppoll) \
    X(__ppoll_chk) X(select) X(pselect)
/* clang-format on */

#define SS_CALL_ENUM(ret, name, ...) SS_CALL_##name,
#define SS_EXTRA_ENUM(name) SS_CALL_##name,
enum ss_call_id {
    SS_CALLS(SS_CALL_ENUM) SS_COMPAT_CALLS(SS_CALL_ENUM) SS_EXTRA_CALLS(SS_EXTRA_ENUM) SS_CALL_COUNT
};
#undef SS_CALL_ENUM
#undef SS_EXTRA_ENUM

#endif
