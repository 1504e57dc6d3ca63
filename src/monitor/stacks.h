/* stacks: the stacks of one traced process, each stored once. A stack seen for the first time
 * gets an id and a STACK record; later samples and call sites refer to it by id. Ids last for
 * the whole process: a rotated trace file gets a stack's record again, under the same id, the
 * first time the new file refers to it. */
#ifndef SS_MONITOR_STACKS_H
#define SS_MONITOR_STACKS_H

#include <stddef.h>
#include <stdint.h>

struct ss_writer;

struct ss_stacks {
    /* Open addressing keyed by the whole frame array, more than util/hash's three words. */
    struct ss_stack_slot *table; /* size a power of two */
    size_t size;
    struct ss_stack_entry *entries; /* by id - 1 */
    size_t nentries, entries_cap;
    uint64_t *frames;
    size_t frames_len, frames_cap;
    /* Called before a stack's record is written again into a new file, for what its frames
     * refer to (Python frames); may be NULL. */
    void (*before_rewrite)(void *ctx, struct ss_writer *out, const uint64_t *frames, unsigned n);
    void *rewrite_ctx;
};

/* The id of the stack of n frames (innermost first), writing its STACK record to out the first
 * time in out's current file; 0 when out of memory. */
uint32_t ss_stacks_intern(struct ss_stacks *s, struct ss_writer *out, const uint64_t *frames,
                          unsigned n);
/* Writes the STACK record of id into out's current file unless it is there already. */
void ss_stacks_ensure_written(struct ss_stacks *s, struct ss_writer *out, uint32_t id);
void ss_stacks_free(struct ss_stacks *s);

#endif
