/* pprof-build: a pprof profile put together span by span, its strings, functions, locations
 * and mappings each held once, and the samples of the same stack, thread and cause summed into
 * one; then written as a gzipped profile.proto message. docs/exports.md describes what each
 * field holds. */
#ifndef SS_EXPORT_PPROF_BUILD_H
#define SS_EXPORT_PPROF_BUILD_H

#include <stdint.h>
#include <stdio.h>

#include "model.h"

struct ss_pprof;

/* Where stalled time went: a sample of a loop thread of the process numbered pindex in its
 * run, during a stall of that cause (NULL for none known). */
struct ss_pprof_where {
    const struct ss_process *p;
    uint32_t pindex, tid;
    const char *cause;
    const struct ss_sample *sample;
};

/* Returns 0 or -ENOMEM. */
int ss_pprof_new(struct ss_pprof **out);
void ss_pprof_free(struct ss_pprof *b);

/* Adds the mapping of the where's process's executable, when it has one. pprof takes the first
 * mapping for the profiled program: the first process's executable is added before anything
 * else. Returns 0 or -ENOMEM. */
int ss_pprof_main_mapping(struct ss_pprof *b, const struct ss_pprof_where *w);
/* Adds ns of stalled time and a number of stalls to the where's sample. */
int ss_pprof_add(struct ss_pprof *b, const struct ss_pprof_where *w, uint64_t ns, uint64_t stalls);

/* Writes the profile, gzipped. Returns 0, -ENOMEM, or -EIO when a write to out failed. */
int ss_pprof_write(struct ss_pprof *b, FILE *out, int64_t time_nanos, int64_t duration_nanos);

#endif
