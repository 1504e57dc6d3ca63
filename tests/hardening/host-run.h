/* host-run: starts host-fixture with the real shim preloaded and reads back what it printed
 * and the trace it left; shared by the hardening tests. */
#ifndef HOST_RUN_H
#define HOST_RUN_H

#include <stddef.h>
#include <sys/types.h>

#include "model.h"

struct host_run {
    char dir[64], run[512], monitor[64];
    pid_t monitor_pid;
    int control;
    char out[8192], err[4096];
    double planted_ms[64];
    unsigned planted_tid[64];
    size_t nplanted;
    struct ss_run *model;
};

/* STALLSCOPE_OPTIONS for the host, before its output (default "threshold=50ms"). */
extern const char *host_options;
/* One more "NAME=value" for the host's environment (default none), such as a PATH. */
extern const char *host_extra_env;
const char *host_builddir(void);
/* Starts the host with these steps, tracing into `run` (NULL: a run directory of its own
 * under a fresh temporary directory, h->dir). */
pid_t host_start(struct host_run *h, const char *run, const char *const *steps);
/* Waits for the host and for the monitor to write out what has ended; reads the host's
 * output. Returns its wait status. */
int host_wait(struct host_run *h, pid_t pid);
/* Has the monitor write out every traced process that has ended. */
void host_sync(struct host_run *h);
/* Both, and the host must exit 0; loads its run when `load` is set. */
void run_host(struct host_run *h, const char *run, const char *const *steps, int load);
void host_finish(struct host_run *h);

/* Whether the run, read every 10 ms while the host runs, comes to show what `shows` looks
 * for within `tries` reads. */
int host_trace_shows(const struct host_run *h, int (*shows)(const struct ss_run *run),
                     unsigned tries);
/* The number after `key` in the host's output, -1 when absent. */
int host_value(const struct host_run *h, const char *key);
int count_of(const char *s, const char *needle);
/* Samples taken while the stall ran (by perf event or signal), not at a call. */
size_t signal_samples(const struct ss_stall *s);
int has_note(const struct ss_process *p, const char *text);

#endif
