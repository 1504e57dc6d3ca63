/* classify: what a descriptor of a traced process is, for the blocking calls its shim could not
 * classify on the loop thread (a descriptor inherited, or opened by path: a file, a FIFO or a
 * terminal). Looked at from outside, through /proc/PID/fd and /proc/PID/fdinfo, with cached
 * attributes only, so that a hung network file system cannot hold the monitor up there. */
#ifndef SS_MONITOR_CLASSIFY_H
#define SS_MONITOR_CLASSIFY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SS_PATH_KINDS 512

struct ss_classifier {
    pid_t pid;
    int strict;
    /* Kinds of recently classified paths: a server that opens the same files over and over
     * would otherwise cost a look per call. A path can change kind, so an answer is trusted
     * for a second only. */
    struct ss_path_kind {
        uint64_t hash;
        uint64_t checked_ns;
        int kind;
    } paths[SS_PATH_KINDS];
};

/* The category (enum ss_category, SS_CAT_NONE when it cannot block) of a call on descriptor
 * fd (-1: none) that worked on `detail` (a path when it starts with '/'). When the
 * descriptor still is what the call worked on, *kind_out gets its kind and *nonblocking_out
 * whether it is non-blocking, for the shim to learn; else *kind_out is 0. */
int ss_classify(struct ss_classifier *c, int fd, const char *detail, uint64_t now_ns, int *kind_out,
                int *nonblocking_out);

/* What the call worked on, for a call site: the detail itself, or the descriptor's target. */
void ss_describe(pid_t pid, int fd, int category, const char *detail, char *out, size_t size);

#endif
