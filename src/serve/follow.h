/* follow: the run directories serve reads, kept up to date on a thread of its own. Each is
 * watched with stat alone (the names, sizes and modification times of its traces); when that
 * changes, at most once a period, the processes whose files changed are read again, their
 * stalls' causes named, and their tallies (tally.h) replace the last ones; a process that
 * ended more than the age-out ago is dropped and not read again. Readers take the lock only to
 * render: they never wait for a load. serve never writes to the directories. */
#ifndef SS_SERVE_FOLLOW_H
#define SS_SERVE_FOLLOW_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "serve/tally.h"

/* What a process's tally was made from: its trace files as stat saw them. */
struct ss_followed_files {
    uint32_t pid;
    uint64_t start_ns;
    uint64_t signature; /* 0: unknown, read again at the next change */
};

struct ss_followed_dir {
    char *path;
    uint64_t signature; /* of the traces when last loaded; 0: never loaded */
    int loaded;         /* a load has succeeded: tally holds its processes */
    struct ss_tally tally;
    struct ss_followed_files *files; /* of each of tally.procs, in its order */
    /* Processes that ended more than the age-out ago: only their files are kept, so that
     * they are not read again while those stay the same. */
    struct ss_followed_files *retired;
    size_t nretired;
    char problem[1024]; /* why it or some of its traces cannot be read now, "" when none */
    int unreadable;     /* none of it could be read at the last try */
    char told[1024];    /* the problem last written to standard error */
};

struct ss_follower {
    struct ss_followed_dir *dirs;
    size_t ndirs;
    size_t keep_stalls;
    uint64_t age_out_ns;
    uint64_t period_ns;
    pthread_mutex_t lock; /* over every dir's tally, problem and unreadable */
    pthread_cond_t wake;
    int stopping;
    pthread_t thread;
};

/* Follows paths (kept, not copied), keeping keep_stalls stalls per process in detail while
 * loading; a process that ended age_out_ns before is dropped. Loads each once before it
 * returns, so that the first scrape has the runs. Returns 0 or a negative code. */
int ss_follower_start(struct ss_follower *f, char *const *paths, size_t n, size_t keep_stalls,
                      uint64_t age_out_ns, uint64_t period_ns);
void ss_follower_stop(struct ss_follower *f);

#endif
