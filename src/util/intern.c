#define _GNU_SOURCE
#include "util/intern.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/fnv.h"

static size_t slot_of(const char *s, size_t n, size_t size)
{
    return (size_t)ss_fnv1a(SS_FNV1A_INIT, s, n) & (size - 1);
}

static int rehash(struct ss_interner *in)
{
    size_t size = in->size ? in->size * 2 : 1024;
    char **slots = calloc(size, sizeof *slots);
    if (!slots)
        return -ENOMEM;
    for (size_t i = 0; i < in->size; i++) {
        if (!in->slots[i])
            continue;
        size_t j = slot_of(in->slots[i], strlen(in->slots[i]), size);
        while (slots[j])
            j = (j + 1) & (size - 1);
        slots[j] = in->slots[i];
    }
    free(in->slots);
    in->slots = slots;
    in->size = size;
    return 0;
}

const char *ss_intern_bytes(struct ss_interner *in, const char *s, size_t n)
{
    n = strnlen(s, n);
    if ((in->count + 1) * 2 > in->size && rehash(in) < 0)
        return NULL;
    size_t j = slot_of(s, n, in->size);
    for (; in->slots[j]; j = (j + 1) & (in->size - 1))
        if (strncmp(in->slots[j], s, n) == 0 && in->slots[j][n] == '\0')
            return in->slots[j];
    if (!(in->slots[j] = strndup(s, n)))
        return NULL;
    in->count++;
    return in->slots[j];
}

const char *ss_intern(struct ss_interner *in, const char *s)
{
    return ss_intern_bytes(in, s, strlen(s));
}

void ss_interner_free(struct ss_interner *in)
{
    for (size_t i = 0; i < in->size; i++)
        free(in->slots[i]);
    free(in->slots);
    memset(in, 0, sizeof *in);
}
