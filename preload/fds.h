/* fds: what the shim knows of each of the host's descriptors, so that a call on a non-blocking
 * socket, a pipe or a terminal is passed through without a system call of ours, and a call on
 * a file names the path it was opened with.
 *
 * The knowledge comes from the calls that create, duplicate and close descriptors, and it is
 * only as good as the shim's view of them: every way a descriptor number gets a new meaning
 * must reset what is known of it (close, close_range, closefrom, closedir, dup2 and dup3 over
 * it, freopen, a descriptor received over a socket), and nothing a vfork child does to its
 * descriptors, which are not its parent's, may change it. What is not known is "unknown", never a
 * guess: a call on an unknown descriptor is classified by the monitor from the descriptor itself.
 *
 * Kinds are kept for descriptors below SS_FD_CACHE (the kernel's default ceiling of
 * RLIMIT_NOFILE); paths for those below SS_FD_PATHS in a table of their own, and for higher
 * ones in a smaller table shared by number (a collision leaves a descriptor without a path,
 * never with another's). Everything here is a store into preallocated memory: no allocation,
 * no lock, no system call. */
#ifndef SS_FDS_H
#define SS_FDS_H

#include <stdatomic.h>
#include <sys/socket.h>

#include "catalogue.h"
#include "shim.h"

#define SS_FD_PATHS 65536
#define SS_FD_KIND_MASK 3u
#define SS_FD_NONBLOCK 4u

/* Its kind and whether it is non-blocking; its path stays. */
void ss__fd_set_nonblock(int fd, int nonblocking);
/* What `to` is now that it duplicates `from`. */
void ss__fd_dup(int from, int to);
/* Every descriptor from `first` to `last` (both included) is closed. */
void ss__fd_forget_range(unsigned first, unsigned last);
/* Descriptors received in a message's SCM_RIGHTS (of n messages): new numbers, of unknown
 * kind. */
void ss__fd_received(struct msghdr *m);
void ss__fd_received_many(struct mmsghdr *v, unsigned n);
/* An accept() on fd succeeded: fd is a listening socket, whatever was thought of it. */
void ss__fd_accepted_on(int fd);
/* A long path keeps its end, where the file's name is. */
void ss__copy_detail(char *to, const char *from);
/* The path fd was opened with, copied into `out` ("" when none is known). */
void ss__fd_path(int fd, char out[SS_DETAIL_MAX]);

/* A descriptor the shim could not tell: what the monitor found it to be since (segment.h
 * fd_learned), taken into the cache; SS_FD_UNKNOWN when nothing. */
unsigned ss__fd_adopt_learned(int fd);

/* The category a call on fd is recorded under, from the loop thread: one load, two for a
 * descriptor of unknown kind. */
static inline __attribute__((always_inline)) int ss__fd_category(int fd)
{
    if ((unsigned)fd >= SS_FD_CACHE)
        return SS_CAT_PENDING;
    unsigned v = atomic_load_explicit(&ss__fds[fd], memory_order_relaxed);
    if ((v & SS_FD_KIND_MASK) == SS_FD_UNKNOWN)
        v = ss__fd_adopt_learned(fd);
    return ss_fd_category((enum ss_fd_kind)(v & SS_FD_KIND_MASK), (v & SS_FD_NONBLOCK) != 0,
                          ss__opts.strict);
}

#endif
