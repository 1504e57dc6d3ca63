/* frames: how a frame and a stall's stacks are presented, shared by the report, the exporters
 * and the viewer so that every output names a frame the same way. */
#ifndef SS_FRAMES_H
#define SS_FRAMES_H

#include <stddef.h>

#include "model.h"

const char *ss_basename(const char *path);
/* "symbol", else "module+0xoffset", else "0xaddr". */
void ss_frame_name(const struct ss_frame *f, char *buf, size_t size);

/* The stacks of a stall's samples, most frequent first. */
struct ss_stack_count {
    const struct ss_stack *stack;
    size_t count;
};
/* Fills out (capacity max) and returns how many distinct stacks the stall's samples have;
 * samples without a stack are not counted. */
size_t ss_stall_stacks(const struct ss_stall *s, struct ss_stack_count *out, size_t max);

#endif
