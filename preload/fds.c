/* fds: the descriptor cache (see fds.h). */
#define _GNU_SOURCE
#include "fds.h"

#include <string.h>
#include <sys/stat.h>

_Atomic uint8_t ss__fds[SS_FD_CACHE];
static char fd_paths[SS_FD_CACHE][SS_DETAIL_MAX];

static inline int cached(int fd)
{
    return (unsigned)fd < SS_FD_CACHE;
}

/* A long path keeps its end, where the file's name is: "...b/python3.11/configparser.py". */
void ss__copy_detail(char *to, const char *from)
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

void ss__fd_path(int fd, char out[SS_DETAIL_MAX])
{
    out[0] = '\0';
    if (cached(fd)) {
        memcpy(out, fd_paths[fd], SS_DETAIL_MAX);
        out[SS_DETAIL_MAX - 1] = '\0';
    }
}

void ss__fd_set_kind(int fd, enum ss_fd_kind kind, int nonblocking)
{
    if (cached(fd))
        atomic_store_explicit(&ss__fds[fd], (uint8_t)(kind | (nonblocking ? SS_FD_NONBLOCK : 0)),
                              memory_order_relaxed);
}

void ss__fd_note(int fd, enum ss_fd_kind kind, int nonblocking)
{
    if (cached(fd))
        fd_paths[fd][0] = '\0';
    ss__fd_set_kind(fd, kind, nonblocking);
}

/* Opening by path does not say what was opened (a terminal, a FIFO, a file): the kind stays
 * unknown, and the watchdog classifies the first call on it from the path it keeps here. */
void ss__fd_note_path(int fd, const char *path)
{
    if (cached(fd)) {
        ss__fd_note(fd, SS_FD_UNKNOWN, 0);
        ss__copy_detail(fd_paths[fd], path);
    }
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
        ss__fd_set_kind(fd, ss__fd_kind_of_mode(mode), 0);
}

void ss__fd_forget(int fd)
{
    if (cached(fd)) {
        atomic_store_explicit(&ss__fds[fd], SS_FD_UNKNOWN, memory_order_relaxed);
        fd_paths[fd][0] = '\0';
    }
}

/* A duplicate is what its original is. */
void ss__fd_dup(int from, int to)
{
    if (!cached(to))
        return;
    ss__copy_detail(fd_paths[to], cached(from) ? fd_paths[from] : NULL);
    atomic_store_explicit(&ss__fds[to],
                          cached(from) ? atomic_load_explicit(&ss__fds[from], memory_order_relaxed)
                                       : (uint8_t)SS_FD_UNKNOWN,
                          memory_order_relaxed);
}

/* O_NONBLOCK set or cleared later changes whether a socket's calls can block. */
void ss__fd_set_nonblock(int fd, int nonblocking)
{
    if (!cached(fd))
        return;
    unsigned v = atomic_load_explicit(&ss__fds[fd], memory_order_relaxed);
    if ((v & SS_FD_KIND_MASK) != SS_FD_UNKNOWN)
        atomic_store_explicit(&ss__fds[fd],
                              (uint8_t)((v & ~SS_FD_NONBLOCK) | (nonblocking ? SS_FD_NONBLOCK : 0)),
                              memory_order_relaxed);
}
