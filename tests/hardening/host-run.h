/* host-run: starts host-fixture with the real shim preloaded and reads back what it printed
 * and the trace it left; shared by the hardening tests. */
#ifndef HOST_RUN_H
#define HOST_RUN_H

#include <stddef.h>
#include <sys/types.h>

#include "harness.h"
#include "model.h"

/* The signal the shim samples with where perf events are refused, and the options that make
 * the monitor use it. */
#define SAMPLING_SIGNAL "38"
#define SIGNAL_OPTIONS "threshold=50ms:sampling=signal"

/* STALLSCOPE_OPTIONS for the host, before its output (default "threshold=50ms"). */
extern const char *host_options;
/* One more "NAME=value" for the host's environment (default none), such as a PATH. */
extern const char *host_extra_env;
/* Starts the host with these steps, reporting to a monitor of the test's own that traces into
 * `run` (NULL: a run directory of its own under a fresh temporary directory, h->dir). Wait for
 * it with harness_wait. */
void host_start(struct harness *h, const char *run, const char *const *steps);
/* Starts the host and waits for it, which must exit 0; loads its run when `load` is set. */
void run_host(struct harness *h, const char *run, const char *const *steps, int load);

/* Whether the run, read every 10 ms while the host runs, comes to show what `shows` looks
 * for within `tries` reads. */
int host_trace_shows(const struct harness *h, int (*shows)(const struct ss_run *run),
                     unsigned tries);
/* The number after `key` in the host's output, -1 when absent. */
int host_value(const struct harness *h, const char *key);
/* Samples taken while the stall ran (by perf event or signal), not at a call. */
size_t signal_samples(const struct ss_stall *s);
int has_note(const struct ss_process *p, const char *text);
/* The last stall of thread tid; asserts there is one. */
const struct ss_stall *stall_of(const struct ss_process *p, unsigned tid);

#endif
