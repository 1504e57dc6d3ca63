/* harness: runs a program under the real shim, captures what it printed, reads back the
 * "planted WHAT MS TID" lines its own clock timed, loads the trace it left and cleans up.
 * The program is started one of three ways: through `stallscope run`, with the shim preloaded
 * by hand, or preloaded and reporting to a monitor of the test's own. */
#ifndef TESTS_HARNESS_H
#define TESTS_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

#include "model.h"
#include "scratch.h"

/* One "KIND WHAT MS TID" line of a program's output. */
struct harness_timed {
    char what[32];
    double ms;
    unsigned tid;
};

struct harness {
    char dir[64];  /* scratch directory, removed by harness_finish */
    char run[512]; /* the run directory, DIR/run unless given */
    pid_t pid;
    char *out, *err; /* what the program printed, once read */
    struct harness_timed planted[64];
    size_t nplanted;
    struct ss_run *model;
    /* A monitor of the test's own (harness_start_monitor), 0 when none. */
    char monitor[64];
    pid_t monitor_pid;
    int control;
};

/* A fresh scratch directory /tmp/ss-NAME-XXXXXX, tracing into `run` (NULL: DIR/run). */
void harness_open(struct harness *h, const char *name, const char *run);
/* `stallscope run -q -o RUN OPTIONS -- BUILDDIR/FIXTURE ARGS`. */
void harness_start_run(struct harness *h, const char *fixture, const char *const *options,
                       const char *const *args);
/* BUILDDIR/FIXTURE ARGS with the shim in LD_PRELOAD and the "NAME=value" of env (up to its
 * first NULL) as its whole environment. */
void harness_start_preloaded(struct harness *h, const char *fixture, const char *const *env,
                             const char *const *args);
/* A monitor the program reports to with monitor=H->MONITOR in its options: the program stays
 * the test's child, and harness_sync tells when everything that has ended is written out. */
void harness_start_monitor(struct harness *h);
void harness_sync(struct harness *h);
/* Reads what the program printed so far and its planted lines. */
void harness_read_output(struct harness *h);
/* Waits for the program (and has the test's monitor write out what has ended), reads its
 * output; returns its wait status. */
int harness_wait(struct harness *h);
/* Waits for the program, which must exit 0. */
void harness_wait_success(struct harness *h);
void harness_load(struct harness *h);
/* Loads the run and symbolizes every process in it. */
void harness_load_symbolized(struct harness *h);
/* harness_open, harness_start_run, harness_wait_success and harness_load_symbolized. */
void harness_run(struct harness *h, const char *name, const char *fixture,
                 const char *const *options, const char *const *args);
void harness_finish(struct harness *h);

/* The "KIND WHAT MS TID" lines of out, at most max. */
size_t harness_timed(const char *out, const char *kind, struct harness_timed *timed, size_t max);
/* The sum of the numbers of the "KEY N" lines of out. */
long harness_sum(const char *out, const char *key);
/* How often needle occurs in text. */
int harness_count(const char *text, const char *needle);

#endif
