/* stall-time: how a stalled thread spent its stall, from outside: on a CPU, waiting for one,
 * or blocked (the kernel's scheduler statistics), and the parts of it during which the thread
 * could not run its code for a reason outside it (the process stopped, the machine paused). */
#ifndef SS_MONITOR_STALL_TIME_H
#define SS_MONITOR_STALL_TIME_H

#include <stdint.h>

struct ss_mproc;
struct ss_slot_view;

/* The thread sits in its loop's wait, `iterations` done: what it has used so far is the
 * baseline of a stall that begins with its next iteration. */
void ss_stall_time_idle(struct ss_mproc *p, struct ss_slot_view *v, uint64_t iterations);
/* A stall of the iteration that began at `iteration` was announced, `iterations` done before
 * it: the split is measured from its start when the baseline is of the wait right before it,
 * else from now. */
void ss_stall_time_begin(struct ss_mproc *p, struct ss_slot_view *v, uint64_t iteration,
                         uint64_t iterations);
/* A look at the stalled thread at `now`: is it stopped? */
void ss_stall_time_look(struct ss_mproc *p, struct ss_slot_view *v, uint64_t now);
/* The monitor woke `late_ns` after it meant to, at `now`: every stall in progress then went
 * unwatched that long. */
void ss_stall_time_monitor_late(struct ss_mproc *p, uint64_t late_ns, uint64_t now);
/* The stall of `iteration` ended at end_ns: its split and pauses go to the trace. */
void ss_stall_time_end(struct ss_mproc *p, struct ss_slot_view *v, uint64_t iteration,
                       uint64_t end_ns);
/* Closes what a thread's view holds open. */
void ss_stall_time_forget(struct ss_slot_view *v);

#endif
