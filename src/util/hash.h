/* hash: a mix of up to three words into a hash, and a small open-addressed table from a key of
 * three words to an index, for lookups by thread, by name pointer or by stack while loading. */
#ifndef SS_UTIL_HASH_H
#define SS_UTIL_HASH_H

#include <stddef.h>
#include <stdint.h>

/* A hash of three words whose every bit depends on every bit of each word; unused words are 0. */
uint64_t ss_hash_words(uint64_t a, uint64_t b, uint64_t c);

/* Zeroed, an empty table. */
struct ss_key_table {
    struct ss_key_slot *slots;
    size_t size, count;
};

/* What ss_key_table_get did when it found no index under the key. */
#define SS_KEY_ADDED 1

/* Finds the index stored under the key (a, b, c); when there is none, stores next and returns
 * SS_KEY_ADDED. Either way *index is the key's index. Returns 0 when found, -ENOMEM when out of
 * memory. */
int ss_key_table_get(struct ss_key_table *t, uint64_t a, uint64_t b, uint64_t c, size_t next,
                     size_t *index);
/* The index stored under the key, or -1 when there is none. */
long ss_key_table_find(const struct ss_key_table *t, uint64_t a, uint64_t b, uint64_t c);
void ss_key_table_free(struct ss_key_table *t);

#endif
