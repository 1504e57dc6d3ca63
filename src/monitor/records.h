/* records: what the tracker (tracker.c) writes of one slot's rings besides its thread: stalls
 * and their calls (stall-records.c), loops (loop-records.c). Each runs on the process's
 * tracker thread, the only writer of its trace. */
#ifndef SS_MONITOR_RECORDS_H
#define SS_MONITOR_RECORDS_H

#include <stdint.h>

#include "monitor/process.h"

/* Takes the calls the thread made: classified, accounted to their sites, and counted to their
 * iteration in case it turns out to be a stall. */
void ss_mproc_drain_calls(struct ss_mproc *p, struct ss_slot *s, struct ss_slot_view *v);
/* Writes the stalls that ended, up to `head` read before the calls were drained: a stall's
 * calls precede its end in the owner's program order. */
void ss_mproc_drain_ended(struct ss_mproc *p, struct ss_slot *s, struct ss_slot_view *v,
                          uint32_t head);
/* Ends the announced stall of a thread that has moved on without its end in the ring (a full
 * ring lost it, or the loop ended), as long as the monitor saw it last; the lost count leaves
 * it out. */
void ss_mproc_close_lost_stall(struct ss_mproc *p, struct ss_slot *s, struct ss_slot_view *v);
/* Emits the calls of a stalled iteration and forgets those of the iterations before it,
 * which ended without stalling. */
void ss_mproc_write_stall_calls(struct ss_mproc *p, struct ss_slot_view *v, uint64_t iteration);

/* Writes a loop's beginning (again, at the top of a new file of a rotated trace, for the
 * loop still open). */
void ss_mproc_write_loop_begin(struct ss_mproc *p, struct ss_slot_view *v,
                               const struct ss_loop_event *e);
/* Writes the loops' beginnings and ends that came by until_ns (UINT64_MAX: all). */
void ss_mproc_drain_loops(struct ss_mproc *p, struct ss_slot *s, struct ss_slot_view *v,
                          uint64_t until_ns);
/* The process began exiting: what its loop threads run from then on is not theirs. */
void ss_mproc_end_loop_at_exit(struct ss_mproc *p, struct ss_slot *s, struct ss_slot_view *v,
                               int state, uint64_t iteration, uint64_t exit_ns);

#endif
