/* stacks: the stacks of one traced process, each stored once. A stack seen for the first time
 * gets an id and a STACK record; later samples and call sites refer to it by id. */
#ifndef SS_MONITOR_STACKS_H
#define SS_MONITOR_STACKS_H

#include <stddef.h>
#include <stdint.h>

struct ss_writer;

struct ss_stacks {
    /* Open addressing keyed by the whole frame array, more than util/hash's three words. */
    struct ss_stack_entry *table; /* size a power of two */
    size_t size, used;
    uint64_t *frames;
    size_t frames_len, frames_cap;
    uint32_t next_id;
};

/* The id of the stack of n frames (innermost first), writing its STACK record to out the first
 * time; 0 when out of memory. */
uint32_t ss_stacks_intern(struct ss_stacks *s, struct ss_writer *out, const uint64_t *frames,
                          unsigned n);
void ss_stacks_free(struct ss_stacks *s);

#endif
