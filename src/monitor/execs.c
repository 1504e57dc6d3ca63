#define _GNU_SOURCE
#include "monitor/execs.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/trace-format.h"
#include "common/untraced.h"
#include "monitor/procfs.h"

/* While an exec has not visibly happened, look again this often, then less often once the
 * entry is older than PENDING_FAST_NS (a stopped child, say). */
#define PENDING_POLL_NS 10000000ull
#define PENDING_FAST_NS 1000000000ull
/* An entry still being written after this long belongs to a writer that died mid-copy. */
#define WRITER_DEAD_NS 5000000000ull

/* The start of a process's stack as /proc/PID/stat gives it: copied by fork, chosen anew
 * (at random) by every exec; 0 when it cannot be read. */
static uint64_t start_stack_of(pid_t pid)
{
    struct ss_proc_stat st;
    return ss_proc_stat(pid, &st) == 0 ? st.start_stack : 0;
}

void ss_execs_init(struct ss_execs *x, pid_t owner, struct ss_segment *seg)
{
    memset(x, 0, sizeof *x);
    x->ring = &seg->execs;
    x->path_list = seg->path_list;
    x->start_stack = start_stack_of(owner);
    char link[64];
    struct stat st;
    snprintf(link, sizeof link, "/proc/%d/exe", (int)owner);
    if (stat(link, &st) == 0) {
        x->exe_dev = st.st_dev;
        x->exe_ino = st.st_ino;
    }
}

enum exec_outcome { EXEC_PENDING, EXEC_RAN, EXEC_NOTHING_TO_SAY };

/* Whether the recorded exec has happened. It cannot fail after the kernel has replaced the
 * process's image, and a failure is marked (cancelled) by the caller right after the call
 * returns, before anything else. So: a process that runs another file than the owner's, or
 * that may not be looked at (the new image is set-id), or that is gone (exited, or a zombie
 * whose exe link is empty) is past it, and the state read after that check tells whether the
 * exec failed. One that runs the owner's file has not exec'd while its stack starts where the
 * owner's does (fork copies that; exec picks a new place); when that cannot be told (no
 * address randomization), it is waited for until it is gone. A pid reused by an unrelated
 * process in between is the one error this leaves. */
static enum exec_outcome outcome(const struct ss_execs *x, const struct ss_exec_entry *e, int *fd)
{
    *fd = -1;
    char link[64];
    snprintf(link, sizeof link, "/proc/%d/exe", (int)e->pid);
    if (e->flags & SS_EXEC_SPAWNED) {
        if (e->pid > 0)
            *fd = open(link, O_RDONLY | O_CLOEXEC);
        return EXEC_RAN;
    }
    struct stat st;
    if (stat(link, &st) != 0)
        return EXEC_RAN;
    if (st.st_dev == x->exe_dev && st.st_ino == x->exe_ino) {
        uint64_t stack = start_stack_of(e->pid);
        if (!stack || stack == x->start_stack)
            return EXEC_PENDING;
        /* The owner's own file again can only go untraced for want of the preload. */
        if (!(e->flags & SS_EXEC_NO_PRELOAD))
            return EXEC_NOTHING_TO_SAY;
    }
    *fd = open(link, O_RDONLY | O_CLOEXEC);
    return EXEC_RAN;
}

static void write_note(const struct ss_execs *x, const struct ss_exec_entry *e, int exe_fd,
                       void (*note)(void *ctx, const char *text), void *ctx)
{
    char path[PATH_MAX], reason[160], text[PATH_MAX + 256];
    struct ss_exec_ids ids = {e->ruid, e->euid, e->rgid, e->egid};
    if (e->flags & SS_EXEC_RESET_IDS) {
        ids.euid = ids.ruid;
        ids.egid = ids.rgid;
    }
    /* execve takes a name without a slash as relative to the working directory. */
    const char *dirs = "";
    if (e->flags & SS_EXEC_SEARCHED)
        dirs = x->path_list[0] ? x->path_list : NULL;
    int found =
        !(e->flags & SS_EXEC_TRUNCATED) && ss_search_path(e->name, dirs, path, sizeof path) == 0;
    char link[64];
    snprintf(link, sizeof link, "/proc/%d/exe", (int)e->pid);
    /* The running image is the best witness: it is the file exec found, whatever the
     * child's working directory or PATH was. */
    if (exe_fd >= 0) {
        ssize_t n = readlink(link, path, sizeof path - 1);
        if (n > 0) {
            path[n] = '\0';
            found = 1;
        }
    }
    unsigned as_id = 0;
    enum ss_untraced why = SS_TRACEABLE;
    if (exe_fd >= 0)
        why = ss_untraced_program_fd(exe_fd, &ids, &as_id);
    if (why == SS_TRACEABLE && found)
        why = ss_untraced_program(path, &ids, &as_id);
    if (why == SS_TRACEABLE && (e->flags & SS_EXEC_NO_PRELOAD))
        why = SS_UNTRACED_NO_PRELOAD;
    if (why == SS_TRACEABLE)
        return;
    ss_untraced_reason(why, as_id, reason, sizeof reason);
    char pid[24] = "";
    if (e->pid > 0)
        snprintf(pid, sizeof pid, "%d ", (int)e->pid);
    snprintf(text, sizeof text, SS_NOTE_UNTRACED_FORMAT, pid, found ? path : e->name, reason);
    note(ctx, text);
}

uint64_t ss_execs_drain(struct ss_execs *x, uint64_t now, uint64_t slow_poll_ns,
                        void (*note)(void *ctx, const char *text), void *ctx)
{
    struct ss_exec_ring *r = x->ring;
    uint64_t next = UINT64_MAX;
    for (unsigned i = 0; i < SS_EXEC_RING; i++) {
        uint32_t state = atomic_load_explicit(&r->state[i], memory_order_acquire);
        if (state != SS_EXEC_WRITING)
            x->writing_since[i] = 0;
        if (state == SS_EXEC_FREE)
            continue;
        if (state == SS_EXEC_WRITING) {
            if (!x->writing_since[i])
                x->writing_since[i] = now;
            else if (now - x->writing_since[i] >= WRITER_DEAD_NS)
                atomic_compare_exchange_strong(&r->state[i], &state, SS_EXEC_FREE);
            continue;
        }
        const struct ss_exec_entry *e = &r->entries[i];
        int fd = -1;
        enum exec_outcome o = state == SS_EXEC_READY ? outcome(x, e, &fd) : EXEC_RAN;
        if (o == EXEC_PENDING) {
            uint64_t age = now - e->recorded_ns;
            uint64_t again = now + (age < PENDING_FAST_NS ? PENDING_POLL_NS : slow_poll_ns);
            if (again < next)
                next = again;
            continue;
        }
        if (o == EXEC_RAN &&
            atomic_load_explicit(&r->state[i], memory_order_acquire) == SS_EXEC_READY)
            write_note(x, e, fd, note, ctx);
        if (fd >= 0)
            close(fd);
        atomic_store_explicit(&r->state[i], SS_EXEC_FREE, memory_order_release);
    }
    return next;
}
