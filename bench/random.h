/* random: the benchmarks' inputs come from one fixed xorshift sequence, so that every run of a
 * benchmark measures the same work. */
#ifndef SS_BENCH_RANDOM_H
#define SS_BENCH_RANDOM_H

#include <stdint.h>

static inline uint64_t bench_random(void)
{
    static uint64_t state = 0x9e3779b97f4a7c15ull;
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

#endif
