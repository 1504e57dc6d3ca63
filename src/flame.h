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

/* The frames of a span's sample as the exporters name them, root first: the stack outermost
 * first, then the call's name for a call sample; "[no stack]" when the capture failed.
 * Writes up to max names and returns how many it wrote. */
size_t ss_span_frames(const struct ss_span *sp, char (*names)[512], size_t max);

/* A set of strings with dense ids in the order they were added. */
struct ss_names {
    char **names;
    size_t count, cap;
    size_t *table; /* open addressing: id + 1, 0 for an empty slot */
    size_t table_size;
};

void ss_names_init(struct ss_names *n);
void ss_names_free(struct ss_names *n);
/* The id of s, added when new; -1 when out of memory. */
long ss_names_add(struct ss_names *n, const char *s);

#endif
