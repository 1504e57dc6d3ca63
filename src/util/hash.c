#include "util/hash.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct ss_key_slot {
    uint64_t key[3];
    size_t value; /* index + 1; 0 for an empty slot */
};

uint64_t ss_hash_words(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t h = a * 0x9e3779b97f4a7c15ull;
    h = (h ^ (h >> 29) ^ b) * 0xbf58476d1ce4e5b9ull;
    h = (h ^ (h >> 31) ^ c) * 0x94d049bb133111ebull;
    return h ^ (h >> 32);
}

static size_t slot_of(const uint64_t key[3], size_t size)
{
    return (size_t)ss_hash_words(key[0], key[1], key[2]) & (size - 1);
}

static int rehash(struct ss_key_table *t)
{
    size_t size = t->size ? t->size * 2 : 64;
    struct ss_key_slot *slots = calloc(size, sizeof *slots);
    if (!slots)
        return -ENOMEM;
    for (size_t i = 0; i < t->size; i++) {
        if (!t->slots[i].value)
            continue;
        size_t j = slot_of(t->slots[i].key, size);
        while (slots[j].value)
            j = (j + 1) & (size - 1);
        slots[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = slots;
    t->size = size;
    return 0;
}

int ss_key_table_get(struct ss_key_table *t, uint64_t a, uint64_t b, uint64_t c, size_t next,
                     size_t *index)
{
    const uint64_t key[3] = {a, b, c};
    if ((t->count + 1) * 2 > t->size && rehash(t) < 0)
        return -ENOMEM;
    size_t j = slot_of(key, t->size);
    for (; t->slots[j].value; j = (j + 1) & (t->size - 1)) {
        if (memcmp(t->slots[j].key, key, sizeof key) == 0) {
            *index = t->slots[j].value - 1;
            return 0;
        }
    }
    memcpy(t->slots[j].key, key, sizeof key);
    t->slots[j].value = next + 1;
    t->count++;
    *index = next;
    return SS_KEY_ADDED;
}

long ss_key_table_find(const struct ss_key_table *t, uint64_t a, uint64_t b, uint64_t c)
{
    const uint64_t key[3] = {a, b, c};
    if (!t->size)
        return -1;
    for (size_t j = slot_of(key, t->size); t->slots[j].value; j = (j + 1) & (t->size - 1))
        if (memcmp(t->slots[j].key, key, sizeof key) == 0)
            return (long)t->slots[j].value - 1;
    return -1;
}

void ss_key_table_free(struct ss_key_table *t)
{
    free(t->slots);
    memset(t, 0, sizeof *t);
}
