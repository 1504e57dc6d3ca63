/* fnv: 64-bit FNV-1a, a hash of bytes that is small and the same on every machine. */
#ifndef SS_UTIL_FNV_H
#define SS_UTIL_FNV_H

#include <stddef.h>
#include <stdint.h>

/* The hash to start from; ss_fnv1a continues a hash with more bytes. */
#define SS_FNV1A_INIT 0xcbf29ce484222325ull

static inline uint64_t ss_fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *b = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

/* The same over a string's bytes, up to its terminating NUL. */
static inline uint64_t ss_fnv1a_str(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

#endif
