/* flame: how a stall's time is shared out among its samples, for the exporters that show
 * stalled time by stack (folded, speedscope, chrome) and for the loader when it summarises a
 * stall, and a string set (frame names in the exporters, call names in the model).
 * docs/exports.md states the weight rule for users. */
#ifndef SS_FLAME_H
#define SS_FLAME_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* The part of a stall a sample stands for, as offsets from the stall's start. */
struct ss_span {
    const struct ss_sample *sample;
    uint64_t begin_ns, end_ns;
};

/* One span per sample, in time order, none overlapping the one before: a call sample stands
 * for its call ([offset - call_ns, offset]); a signal sample for the time from its offset to
 * the start of the next sample's span, or to the stall's end; the stall's first sample, when
 * it is a signal sample, also for the time before it since the stall began. out holds
 * s->nsamples spans; returns how many were written. */
size_t ss_stall_spans(const struct ss_stall *s, struct ss_span *out);
/* The span a stall is counted under where stalls are counted by stack (pprof's stall count):
 * the longest of the n spans, the earliest among equals; n when none has any time. */
size_t ss_longest_span(const struct ss_span *spans, size_t n);

/* How stalled time's frames are named, by the exporters and by the viewer's flame alike: the
 * sample's stack, each frame as ss_frame_display_name names it in a buffer of SS_FRAME_NAME_SIZE,
 * then ss_sample_leaf; SS_NO_STACK_FRAME for the stack when ss_sample_has_frames says there is
 * none. */
#define SS_FRAME_NAME_SIZE 512
#define SS_NO_STACK_FRAME "[no stack]"

/* Whether a sample has a stack whose frames can be named: the capture succeeded and the stack
 * was symbolized. */
int ss_sample_has_frames(const struct ss_sample *s);
/* The frame a sample adds inside its stack: for a call sample, the call, by its bare name
 * ("nanosleep"), since the stack at a call is taken where the call was made; NULL otherwise. */
const char *ss_sample_leaf(const struct ss_sample *s);

/* The frames of a span's sample named by that rule, root first. Writes up to max names and
 * returns how many it wrote. */
size_t ss_span_frames(const struct ss_span *sp, char (*names)[SS_FRAME_NAME_SIZE], size_t max);

#endif
