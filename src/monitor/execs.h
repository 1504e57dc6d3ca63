/* execs: the monitor's side of the exec ring (src/common/segment.h). For each exec or posix_spawn a
 * traced process recorded, it waits until the exec has visibly happened, looks at the program
 * that runs, and notes a child that runs untraced: statically linked, in secure execution, or
 * with an environment without the preload. */
#ifndef SS_MONITOR_EXECS_H
#define SS_MONITOR_EXECS_H

#include <stdint.h>
#include <sys/types.h>

#include "common/segment.h"

struct ss_execs {
    struct ss_exec_ring *ring;
    const char *path_list; /* PATH of the process at start-up */
    /* The process that owns the ring, as it was when the monitor first saw it: a child that
     * still runs this file with this stack start has not exec'd yet. */
    dev_t exe_dev;
    ino_t exe_ino;
    uint64_t start_stack;
    uint64_t writing_since[SS_EXEC_RING];
};

/* Reads what the owner process runs now; call while it still runs its first image. */
void ss_execs_init(struct ss_execs *x, pid_t owner, struct ss_segment *seg);

/* Looks at every recorded exec; calls note(ctx, text) for each child that runs untraced.
 * Returns when it needs to look again (UINT64_MAX: not before something new is recorded). */
uint64_t ss_execs_drain(struct ss_execs *x, uint64_t now_ns, uint64_t slow_poll_ns,
                        void (*note)(void *ctx, const char *text), void *ctx);

#endif
