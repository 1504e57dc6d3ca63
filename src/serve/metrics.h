/* metrics: the Prometheus text exposition (format 0.0.4) of the tallies of the run
 * directories serve follows. docs/metrics.md lists each metric with its type and labels. */
#ifndef SS_SERVE_METRICS_H
#define SS_SERVE_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "serve/tally.h"

#define SS_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Whether a process is still shown at now_ns (the monotonic clock): one that has ended (its end
 * record, or its pid gone) leaves the metrics age_out_ns after its last record. */
int ss_metrics_shown(const struct ss_tally_process *p, uint64_t now_ns, uint64_t age_out_ns);

/* Writes every metric family of the processes of tallies that are still shown, each family
 * once with its HELP and TYPE. Returns 0 or the error of a failed write. */
int ss_metrics_write(FILE *out, const struct ss_tally *const *tallies, size_t ntallies,
                     uint64_t now_ns, uint64_t age_out_ns);

#endif
