/* report: the human summary of a run: per process and loop thread, busy-time percentiles,
 * the worst stalls and the stacks that were running during them. */
#ifndef SS_REPORT_H
#define SS_REPORT_H

#include <stdio.h>

#include "model.h"
#include "stacks/frames.h"

struct ss_report_options {
    size_t top;                  /* stalls shown per process */
    size_t depth;                /* frames shown per stack */
    enum ss_frames_shown frames; /* every frame, or the program's own */
    int advice;                  /* say what to do about each cause */
};

void ss_report_defaults(struct ss_report_options *o);
/* Returns 0, or the error of a failed write to out (ss_write_status). */
int ss_report_text(struct ss_run *run, FILE *out, const struct ss_report_options *o);

/* Totals over a run, for the one-line summaries of run and report. stalls counts the
 * summarised ones too; worst is exact, as the longest stalls are kept. */
struct ss_run_totals {
    size_t processes, loop_threads, stalls;
    const struct ss_process *worst_process;
    const struct ss_stall *worst;
    uint64_t dropped;
    size_t untraced; /* children that ran a program the shim could not follow */
};
void ss_run_totals(const struct ss_run *run, struct ss_run_totals *t);

#endif
