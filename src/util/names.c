#include "util/names.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/array.h"

void ss_names_init(struct ss_names *n)
{
    memset(n, 0, sizeof *n);
}

void ss_names_free(struct ss_names *n)
{
    free(n->names);
    ss_interner_free(&n->strings);
    ss_key_table_free(&n->ids);
    ss_names_init(n);
}

long ss_names_add(struct ss_names *n, const char *s)
{
    const char *copy = ss_intern(&n->strings, s);
    size_t id;
    if (!copy || SS_ARRAY_GROW(n->names, n->cap, n->count + 1) < 0)
        return -ENOMEM;
    int added = ss_key_table_get(&n->ids, (uint64_t)(uintptr_t)copy, 0, 0, n->count, &id);
    if (added < 0)
        return added;
    if (added == SS_KEY_ADDED)
        n->names[n->count++] = copy;
    return (long)id;
}
