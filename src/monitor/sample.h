/* sample: the timed samples of a stall, and the stacks of calls. Where the kernel allows it a
 * stalled thread is sampled by a perf event (no signal: the thread cannot tell); a thread
 * sitting in a call is read from its published call and its live stack, or from /proc when
 * it sits in a system call the shim does not wrap; the sampling signal is the fallback where
 * perf events are refused, and is never sent to a thread inside a system call. */
#ifndef SS_MONITOR_SAMPLE_H
#define SS_MONITOR_SAMPLE_H

#include <stdbool.h>
#include <stdint.h>

#include "monitor/process.h"

/* Decides how the process is sampled, probing perf events on thread tid. */
void ss_sample_decide(struct ss_mproc *p, pid_t tid);
/* Whether a stack may be unwound now within the max_stacks budget of the second under way;
 * one that may not is counted as skipped. */
bool ss_sample_budget_take(struct ss_mproc *p, uint64_t now);
/* Writes the SAMPLING record (again, into a new file of a rotated trace). */
void ss_sample_write_sampling(struct ss_mproc *p);
/* A loop thread the tracker sees for the first time. */
void ss_sample_thread_announced(struct ss_mproc *p, struct ss_slot *s, struct ss_slot_view *v);
void ss_sample_stall_begin(struct ss_mproc *p, struct ss_slot *s, struct ss_slot_view *v);
/* A sample is due: the thread is in `state` at the stall's `iteration`. */
void ss_sample_due(struct ss_mproc *p, struct ss_slot *s, struct ss_slot_view *v, int state,
                   uint64_t iteration, uint64_t now);
/* The stall ended at end_ns: the samples taken before then are its last. */
void ss_sample_stall_end(struct ss_mproc *p, struct ss_slot *s, struct ss_slot_view *v,
                         uint64_t end_ns);
/* Unwinds a READY signal snapshot into a SAMPLE record and frees it for the next one. */
void ss_sample_consume_signal(struct ss_mproc *p, struct ss_slot *s, struct ss_slot_view *v);
/* The thread is gone: releases what sampling it held. */
void ss_sample_forget(struct ss_mproc *p, struct ss_slot_view *v);
void ss_sample_close(struct ss_mproc *p);

/* Unwinds a copy of thread v's stack into an interned stack id (0: nothing could be unwound,
 * counted), with its Python frames merged in: those the shim copied with the stack, else,
 * when `live` (the copy was taken just now), those the thread runs now. */
uint32_t ss_mproc_unwind_snapshot(struct ss_mproc *p, const struct ss_slot_view *v, bool live,
                                  const struct ss_snapshot *snap, unsigned *nframes,
                                  uint32_t *capture_ns);
void ss_mproc_write_sample(struct ss_mproc *p, const struct ss_slot_view *v, uint64_t iteration,
                           uint64_t offset, uint32_t stack, unsigned nframes, uint32_t capture_ns,
                           uint16_t source, uint64_t call_ns, const char *call);
const char *ss_mproc_call_name(const struct ss_mproc *p, unsigned call);

/* stall-records.c */
void ss_mproc_announce_stall(struct ss_mproc *p, struct ss_slot *s, struct ss_slot_view *v,
                             uint64_t iteration);
/* tracker.c */
void ss_mproc_refresh_modules(struct ss_mproc *p, uint64_t now);
int ss_mproc_trace(struct ss_mproc *p);

#endif
