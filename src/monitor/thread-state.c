/* thread-state: /proc/PID/task/TID/syscall says whether a thread runs, sits in a system call
 * (with its user stack pointer and program counter) or is off CPU elsewhere, without stopping
 * it. A thread inside a system call does not touch its user stack, so a copy taken then is
 * consistent with that sp and pc. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "monitor/thread-state.h"

#define PAGE 4096u
/* process_vm_readv takes at most this many pieces in one call. */
#define MAX_PIECES 1024

/* Parses the numbers of the file's one line; returns how many were read, or -EINVAL when one
 * after the first is malformed. */
static int parse_numbers(const char *s, long long *nr, uint64_t *v, int max)
{
    char *end;
    errno = 0;
    *nr = strtoll(s, &end, 10);
    if (end == s || errno)
        return 0;
    int n = 1;
    for (s = end; n <= max; n++, s = end) {
        while (*s == ' ')
            s++;
        if (*s == '\0' || *s == '\n')
            break;
        v[n - 1] = strtoull(s, &end, 0);
        if (end == s || errno)
            return -EINVAL;
    }
    return n;
}

int ss_thread_now(pid_t pid, pid_t tid, struct ss_thread_now *now)
{
    char path[64], line[256];
    memset(now, 0, sizeof *now);
    snprintf(path, sizeof path, "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t len = -1;
    if (fd >= 0) {
        do
            len = read(fd, line, sizeof line - 1);
        while (len < 0 && errno == EINTR);
        int e = errno;
        close(fd);
        errno = e;
    }
    if (len < 0) {
        if (errno == ENOENT || errno == ESRCH) {
            now->activity = SS_THREAD_GONE;
            return 0;
        }
        now->activity = SS_THREAD_UNKNOWN;
        return -errno;
    }
    line[len] = '\0';
    if (strncmp(line, "running", 7) == 0) {
        now->activity = SS_THREAD_RUNNING;
        return 0;
    }
    long long nr;
    uint64_t v[8];
    int n = parse_numbers(line, &nr, v, 8);
    if (nr == -1 && n == 3) {
        now->activity = SS_THREAD_STOPPED_USER;
        now->sp = v[0];
        now->pc = v[1];
        return 0;
    }
    if (nr >= 0 && n == 9) {
        now->activity = SS_THREAD_IN_SYSCALL;
        now->nr = (long)nr;
        now->sp = v[6];
        now->pc = v[7];
        return 0;
    }
    now->activity = SS_THREAD_UNKNOWN;
    return -EPROTO;
}

long ss_copy_stack(pid_t pid, uint64_t sp, void *buf, size_t len)
{
    /* One piece per page: the kernel stops at the first piece it cannot read, so the copy ends
     * with the stack's mapping (or with any readable mapping right above it, which is harmless)
     * without reading the memory map. */
    struct iovec local = {buf, len};
    struct iovec remote[MAX_PIECES];
    unsigned n = 0;
    for (uint64_t a = sp, left = len; left > 0 && n < MAX_PIECES; n++) {
        uint64_t in_page = PAGE - (a & (PAGE - 1));
        uint64_t piece = in_page < left ? in_page : left;
        remote[n] = (struct iovec){(void *)(uintptr_t)a, (size_t)piece};
        a += piece;
        left -= piece;
    }
    if (n == 0)
        return 0;
    ssize_t got = process_vm_readv(pid, &local, 1, remote, n, 0);
    if (got < 0)
        return errno == EFAULT ? 0 : -errno;
    return (long)got;
}

const char *ss_syscall_name(long nr)
{
#define SS_BLOCKING_SYSCALLS(X)                                                                    \
    X(read)                                                                                        \
    X(write)                                                                                       \
    X(pread64)                                                                                     \
    X(pwrite64)                                                                                    \
    X(readv) X(writev) X(preadv) X(pwritev) X(preadv2) X(pwritev2) X(open) X(openat) X(openat2)    \
        X(close) X(stat) X(fstat) X(lstat) X(newfstatat) X(statx) X(getdents64) X(fsync)           \
            X(fdatasync) X(sync) X(syncfs) X(sync_file_range) X(ftruncate) X(fallocate) X(rename)  \
                X(renameat2) X(unlink) X(unlinkat) X(mkdir) X(rmdir) X(flock) X(fcntl) X(ioctl)    \
                    X(connect) X(accept) X(accept4) X(recvfrom) X(recvmsg) X(recvmmsg) X(sendto)   \
                        X(sendmsg) X(sendmmsg) X(futex) X(futex_waitv) X(nanosleep)                \
                            X(clock_nanosleep) X(pause) X(rt_sigsuspend) X(rt_sigtimedwait)        \
                                X(wait4) X(waitid) X(semop) X(semtimedop) X(msgrcv) X(msgsnd)      \
                                    X(io_uring_enter) X(io_getevents) X(splice) X(sendfile)        \
                                        X(copy_file_range) X(mmap) X(munmap) X(madvise) X(msync)   \
                                            X(mlock)
#define SS_SYSCALL_CASE(name)                                                                      \
    case SYS_##name:                                                                               \
        return #name;
    switch (nr) {
        SS_BLOCKING_SYSCALLS(SS_SYSCALL_CASE)
    default:
        return NULL;
    }
#undef SS_SYSCALL_CASE
#undef SS_BLOCKING_SYSCALLS
}
