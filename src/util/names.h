/* names: a set of strings numbered in the order they were added (0, 1, 2, ...), for formats
 * that refer to a name by its index (speedscope's frames, the viewer's flame lines). */
#ifndef SS_UTIL_NAMES_H
#define SS_UTIL_NAMES_H

#include <stddef.h>

#include "util/hash.h"
#include "util/intern.h"

/* Zeroed, or through ss_names_init, an empty set. names[id] is the string numbered id. */
struct ss_names {
    const char **names;
    size_t count, cap;
    struct ss_interner strings;
    struct ss_key_table ids; /* a string's interned pointer to its number */
};

void ss_names_init(struct ss_names *n);
void ss_names_free(struct ss_names *n);
/* The number of s, given to it when new; -ENOMEM when out of memory. */
long ss_names_add(struct ss_names *n, const char *s);

#endif
