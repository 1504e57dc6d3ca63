/* profile: the pprof profile serve answers on /debug/pprof/stalls: the stalls that began in a
 * window of time, in every run directory it follows, read afresh (not from the tallies, which
 * keep no stacks). */
#ifndef SS_SERVE_PROFILE_H
#define SS_SERVE_PROFILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "serve/follow.h"

/* What /debug/pprof/stalls waits without ?seconds=, and the most it waits. */
#define SS_PROFILE_SECONDS_DEFAULT 30
#define SS_PROFILE_SECONDS_MAX 3600
/* How far behind the clock a profile's window lies: a stall is in the trace a flush period
 * (1 s) after the monitor detected it, a threshold after it began. Windows asked one after the
 * other lie end to end, so that every stall is in one of them. */
#define SS_PROFILE_LAG_NS 2000000000ull

/* Writes to out the gzipped pprof profile of the stalls that began in [from_ns, to_ns) of the
 * monotonic clock, in the directories f follows (those that cannot be read are left out: the
 * follower says why on /healthz). Only the processes whose traces changed since
 * changed_since (CLOCK_REALTIME) are read, with every stall in detail. Returns 0, -ENOENT when
 * no directory could be read, or another negative code; the problem in err. */
int ss_serve_profile(const struct ss_follower *f, uint64_t from_ns, uint64_t to_ns,
                     struct timespec changed_since, FILE *out, char *err, size_t err_size);

#endif
