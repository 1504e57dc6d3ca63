/* tally: what serve's metrics show of a loaded run, kept once the run itself is freed: per
 * process, its loop threads' iterations and busy-time histograms, its stalls by thread and
 * cause, its blocking calls by thread, category and function, and its dropped events. Its size
 * grows with what is distinct (threads, causes, functions), not with the number of stalls. */
#ifndef SS_SERVE_TALLY_H
#define SS_SERVE_TALLY_H

#include <stddef.h>
#include <stdint.h>

#include "causes/causes.h"
#include "model.h"

/* The cause of stalls the loader summarised (struct ss_summary): counted exactly, but their
 * causes were not worked out. */
#define SS_TALLY_CAUSE_NOT_KEPT "not-kept"
/* The cause and thread of stalls in trace files that rotation deleted: the DROPS record counts
 * them per process only. */
#define SS_TALLY_CAUSE_DELETED "deleted"
/* Likewise for stalls whose ends the monitor could not take in time (DROPS stalls_lost). */
#define SS_TALLY_CAUSE_LOST "lost"
#define SS_TALLY_THREAD_UNKNOWN "?"

/* Loop threads of a process that share a name are one: a metric's labels name a thread by
 * its name. */
struct ss_tally_thread {
    char name[32];
    int loop; /* a loop thread: it has a busy-time histogram */
    uint64_t iterations, busy_ns, hist[SS_HIST_BUCKETS];
    uint64_t stall_max_ns;   /* of its stalls that ended */
    uint64_t stalled_now_ns; /* how long the stall it is in has lasted so far, 0: none */
};

struct ss_tally_cause {
    size_t thread; /* index in the process's threads */
    char cause[SS_CAUSE_NAME];
    uint64_t stalls, ns;
};

struct ss_tally_call {
    size_t thread;
    char *function;
    const char *category; /* static: ss_category_name's */
    uint64_t count, ns;
};

struct ss_tally_process {
    char name[64]; /* the program's file name, "?" when unknown */
    uint32_t pid;
    uint64_t start_ns, last_ns, end_ns; /* the traced machine's monotonic clock */
    struct ss_tally_thread *threads;
    size_t nthreads;
    struct ss_tally_cause *causes;
    size_t ncauses;
    struct ss_tally_call *calls;
    size_t ncalls;
    struct ss_rec_drops drops;
};

struct ss_tally {
    struct ss_tally_process *procs;
    size_t nprocs;
};

/* Tallies a run whose stacks ss_run_classify has named. Returns 0 or -ENOMEM. */
int ss_tally_build(const struct ss_run *run, struct ss_tally *out);
void ss_tally_free(struct ss_tally *t);
void ss_tally_process_free(struct ss_tally_process *p);
/* Raises every counter of p, a process read again, to at least what `before`, its last
 * reading, showed, so that a counter never goes down: a loop found to be a worker's forgets
 * its iterations, and a stall leaves its cause's series when it is summarised or its file is
 * deleted. Those moves into not-kept or deleted are taken off those series, so that the total
 * stays the number of stalls. Returns 0 or -ENOMEM. */
int ss_tally_hold(struct ss_tally_process *p, const struct ss_tally_process *before);

#endif
