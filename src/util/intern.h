/* intern: a set of strings, each held once, so that equal strings are the same pointer and
 * compare as pointers. A string interned stays where it is until the set is freed. */
#ifndef SS_UTIL_INTERN_H
#define SS_UTIL_INTERN_H

#include <stddef.h>

/* Zeroed, an empty set. */
struct ss_interner {
    char **slots; /* open addressing; NULL for an empty slot */
    size_t size, count;
};

/* The set's copy of s, made when new; NULL when out of memory. */
const char *ss_intern(struct ss_interner *in, const char *s);
/* The same for the string in the n bytes at s, which ends at the first NUL if there is one. */
const char *ss_intern_bytes(struct ss_interner *in, const char *s, size_t n);
/* Frees every string of the set and leaves it empty. */
void ss_interner_free(struct ss_interner *in);

#endif
