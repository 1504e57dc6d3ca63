/* mappings: the process's mappings as /proc/self/maps lists them, for the GOT patcher (got.c):
 * whether the page holding an address is writable.
 *
 * - The table is the caller's, too large for a stack, and is read again whenever the caller
 *   needs it current; the kernel lists mappings in address order, so it is searched by
 *   bisection.
 * - System calls only: nothing here allocates, uses stdio or takes a lock; errno is the
 *   caller's to keep. What cannot be read is left out, and mappings beyond SS_MAX_MAPPINGS
 *   too. */
#ifndef SS_MAPPINGS_H
#define SS_MAPPINGS_H

#include <stdint.h>

#define SS_MAX_MAPPINGS 65536

/* A line of /proc/self/maps: whether [start, end) is writable. */
struct ss_mapping {
    uintptr_t start, end;
    uint8_t writable;
};

struct ss_mappings {
    struct ss_mapping entries[SS_MAX_MAPPINGS];
    uint32_t count;
};

/* Reads /proc/self/maps into *t, in address order. */
void ss__read_mappings(struct ss_mappings *t);
/* Whether the page holding `address` was mapped writable (1) or not (0) when the mappings
 * were read; -1 when they do not tell. */
int ss__page_writable(const struct ss_mappings *t, uintptr_t address);

#endif
