/* fds: the descriptor cache (see fds.h). */
#define _GNU_SOURCE
#include "fds.h"

#include <string.h>
#include <sys/stat.h>

#include "interpose.h"

_Atomic uint8_t ss__fds[SS_FD_CACHE];
static char fd_paths[SS_FD_PATHS][SS_DETAIL_MAX];

/* Paths of descriptors from SS_FD_PATHS up, by number modulo the table's size; `fd` says whose
 * path an entry holds (0: nobody's, as no such descriptor is below SS_FD_PATHS). */
#define HIGH_PATHS 1024
static struct high_path {
    _Atomic int fd;
    char path[SS_DETAIL_MAX];
} high_paths[HIGH_PATHS];

/* One more than the highest descriptor anything was noted for: how far a close_range of
 * everything has to clear. */
static _Atomic unsigned fd_top;

static inline int cached(int fd)
{
    return (unsigned)fd < SS_FD_CACHE;
}

static void raise_top(int fd)
{
    unsigned top = atomic_load_explicit(&fd_top, memory_order_relaxed);
    while ((unsigned)fd >= top &&
           !atomic_compare_exchange_weak_explicit(&fd_top, &top, (unsigned)fd + 1,
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
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

static void set_path(int fd, const char *path)
{
    if ((unsigned)fd < SS_FD_PATHS) {
        ss__copy_detail(fd_paths[fd], path);
        return;
    }
    struct high_path *h = &high_paths[(unsigned)fd % HIGH_PATHS];
    atomic_store_explicit(&h->fd, 0, memory_order_relaxed);
    if (!path || !path[0])
        return;
    ss__copy_detail(h->path, path);
    atomic_store_explicit(&h->fd, fd, memory_order_release);
}

void ss__fd_path(int fd, char out[SS_DETAIL_MAX])
{
    out[0] = '\0';
    if (fd < 0)
        return;
    if ((unsigned)fd < SS_FD_PATHS) {
        memcpy(out, fd_paths[fd], SS_DETAIL_MAX);
        out[SS_DETAIL_MAX - 1] = '\0';
        return;
    }
    struct high_path *h = &high_paths[(unsigned)fd % HIGH_PATHS];
    if (atomic_load_explicit(&h->fd, memory_order_acquire) != fd)
        return;
    memcpy(out, h->path, SS_DETAIL_MAX);
    out[SS_DETAIL_MAX - 1] = '\0';
    /* Taken over by another descriptor while it was copied. */
    if (atomic_load_explicit(&h->fd, memory_order_acquire) != fd)
        out[0] = '\0';
}

/* What the monitor found out about a descriptor is stale once the descriptor changes. */
static inline void forget_learned(int fd)
{
    struct ss_segment *seg = atomic_load_explicit(&ss__seg, memory_order_relaxed);
    if (seg && (unsigned)fd < SS_FD_LEARNED_MAX &&
        atomic_load_explicit(&seg->fd_learned[fd], memory_order_relaxed))
        atomic_store_explicit(&seg->fd_learned[fd], 0, memory_order_relaxed);
}

static void store_kind(int fd, uint8_t v)
{
    atomic_store_explicit(&ss__fds[fd], v, memory_order_relaxed);
    forget_learned(fd);
    if (v)
        raise_top(fd);
}

unsigned ss__fd_adopt_learned(int fd)
{
    struct ss_segment *seg = atomic_load_explicit(&ss__seg, memory_order_relaxed);
    if (!seg || (unsigned)fd >= SS_FD_LEARNED_MAX || ss__in_vfork_child())
        return SS_FD_UNKNOWN;
    unsigned v = atomic_load_explicit(&seg->fd_learned[fd], memory_order_relaxed);
    if (!(v & SS_FD_LEARNED))
        return SS_FD_UNKNOWN;
    v = (v & SS_FD_KIND_MASK) | (v & SS_FD_LEARNED_NONBLOCK ? SS_FD_NONBLOCK : 0);
    atomic_store_explicit(&ss__fds[fd], (uint8_t)v, memory_order_relaxed);
    return v;
}

void ss__fd_set_kind(int fd, enum ss_fd_kind kind, int nonblocking)
{
    if (cached(fd) && !ss__in_vfork_child())
        store_kind(fd, (uint8_t)(kind | (nonblocking ? SS_FD_NONBLOCK : 0)));
}

void ss__fd_note(int fd, enum ss_fd_kind kind, int nonblocking)
{
    if (!cached(fd) || ss__in_vfork_child())
        return;
    set_path(fd, NULL);
    store_kind(fd, (uint8_t)(kind | (nonblocking ? SS_FD_NONBLOCK : 0)));
}

/* Opening by path does not say what was opened (a terminal, a FIFO, a file): the kind stays
 * unknown, and the monitor classifies the first call on it from the path it keeps here. */
void ss__fd_note_path(int fd, const char *path)
{
    if (!cached(fd) || ss__in_vfork_child())
        return;
    store_kind(fd, SS_FD_UNKNOWN);
    set_path(fd, path);
    raise_top(fd);
}

void ss__fd_learn(int fd, mode_t mode)
{
    if (!S_ISSOCK(mode))
        ss__fd_set_kind(fd, ss_fd_kind_of_mode(mode), 0);
}

void ss__fd_forget(int fd)
{
    if (!cached(fd) || ss__in_vfork_child())
        return;
    atomic_store_explicit(&ss__fds[fd], SS_FD_UNKNOWN, memory_order_relaxed);
    forget_learned(fd);
    if ((unsigned)fd < SS_FD_PATHS) {
        fd_paths[fd][0] = '\0';
        return;
    }
    struct high_path *h = &high_paths[(unsigned)fd % HIGH_PATHS];
    int mine = fd;
    atomic_compare_exchange_strong_explicit(&h->fd, &mine, 0, memory_order_relaxed,
                                            memory_order_relaxed);
}

void ss__fd_forget_range(unsigned first, unsigned last)
{
    if (ss__in_vfork_child())
        return;
    unsigned top = atomic_load_explicit(&fd_top, memory_order_relaxed);
    if (last >= top)
        last = top ? top - 1 : 0;
    for (unsigned fd = first; fd <= last && fd < top; fd++) {
        atomic_store_explicit(&ss__fds[fd], SS_FD_UNKNOWN, memory_order_relaxed);
        forget_learned((int)fd);
        if (fd < SS_FD_PATHS)
            fd_paths[fd][0] = '\0';
    }
    for (size_t i = 0; i < HIGH_PATHS && top > SS_FD_PATHS; i++) {
        int fd = atomic_load_explicit(&high_paths[i].fd, memory_order_relaxed);
        if (fd && (unsigned)fd >= first && (unsigned)fd <= last)
            atomic_compare_exchange_strong_explicit(&high_paths[i].fd, &fd, 0, memory_order_relaxed,
                                                    memory_order_relaxed);
    }
}

/* A duplicate is what its original is; whatever `to` was before is gone. */
void ss__fd_dup(int from, int to)
{
    if (!cached(to) || ss__in_vfork_child())
        return;
    char path[SS_DETAIL_MAX];
    ss__fd_path(from, path);
    set_path(to, path);
    store_kind(to, cached(from) ? atomic_load_explicit(&ss__fds[from], memory_order_relaxed)
                                : (uint8_t)SS_FD_UNKNOWN);
    raise_top(to);
}

/* O_NONBLOCK set or cleared later changes whether a socket's calls can block. */
void ss__fd_set_nonblock(int fd, int nonblocking)
{
    if (!cached(fd) || ss__in_vfork_child())
        return;
    unsigned v = atomic_load_explicit(&ss__fds[fd], memory_order_relaxed);
    if ((v & SS_FD_KIND_MASK) != SS_FD_UNKNOWN)
        store_kind(fd, (uint8_t)((v & ~SS_FD_NONBLOCK) | (nonblocking ? SS_FD_NONBLOCK : 0)));
}

void ss__fd_received(struct msghdr *m)
{
    if (!m || !m->msg_control)
        return;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0))
            continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof fd, sizeof fd);
            ss__fd_note(fd, SS_FD_UNKNOWN, 0);
        }
    }
}

void ss__fd_received_many(struct mmsghdr *v, unsigned n)
{
    for (unsigned i = 0; v && i < n; i++)
        ss__fd_received(&v[i].msg_hdr);
}

void ss__fd_accepted_on(int fd)
{
    if (cached(fd) && (atomic_load_explicit(&ss__fds[fd], memory_order_relaxed) &
                       SS_FD_KIND_MASK) != SS_FD_SOCKET)
        ss__fd_forget(fd);
}
