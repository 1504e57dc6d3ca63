/* frames: which frames of a stack are shown (the program's own, or all), and a stall's stacks
 * counted, for the report, the exporters and the viewer. Frames are named in frame-names.h. */
#ifndef SS_FRAMES_H
#define SS_FRAMES_H

#include <stddef.h>

#include "model.h"
#include "stacks/frame-names.h"

/* Which frames a stack shows: every frame, or the program's own with the runtime's (libc, the
 * loader, libuv, Node.js, V8, CPython) hidden, except the innermost frame, where the time
 * went. A stack with no frame of the program is shown whole. */
enum ss_frames_shown { SS_FRAMES_ALL, SS_FRAMES_USER };
/* "all" or "user"; -EINVAL for anything else. */
int ss_frames_shown_parse(const char *s, enum ss_frames_shown *out);
/* 1 when frame i of the stack is shown under that choice. */
int ss_frame_shown(const struct ss_stack *st, uint32_t i, enum ss_frames_shown shown);
/* Symbolizes every process of the run and removes from each stack the frames ss_frame_shown
 * hides, for exports of the program's frames only. SS_FRAMES_ALL changes nothing. */
void ss_run_drop_hidden_frames(struct ss_run *run, enum ss_frames_shown shown);

/* Modules in the process's stacks whose file was rebuilt or removed since the run was
 * recorded (its build-id differs from the recorded one): their frames are left as
 * module+offset. Symbolizes the process; fills out with up to max of their paths, each once,
 * and returns how many it wrote. */
size_t ss_process_stale_modules(struct ss_run *run, struct ss_process *p, const char **out,
                                size_t max);

/* The stacks of a stall's samples, most frequent first. */
struct ss_stack_count {
    const struct ss_stack *stack;
    size_t count;
};
/* Fills out (capacity max) and returns how many distinct stacks the stall's samples have;
 * samples without a stack are not counted. */
size_t ss_stall_stacks(const struct ss_stall *s, struct ss_stack_count *out, size_t max);

#endif
