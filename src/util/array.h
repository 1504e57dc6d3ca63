/* array: growth of a dynamic array kept as a pointer and a capacity. The capacity doubles, so
 * adding an item costs a constant on average, and the new slots are zeroed. */
#ifndef SS_UTIL_ARRAY_H
#define SS_UTIL_ARRAY_H

#include <stddef.h>

/* Makes room for need items of elem bytes in *items, which holds *cap; returns 0, or -ENOMEM
 * with the array left as it was. */
int ss_array_grow(void **items, size_t *cap, size_t need, size_t elem);

/* The same for an array named by its pointer variable: SS_ARRAY_GROW(p->stalls, cap, n + 1). */
#define SS_ARRAY_GROW(items, cap, need)                                                            \
    ss_array_grow((void **)&(items), &(cap), (need), sizeof *(items))

#endif
