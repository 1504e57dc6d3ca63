#include "util/array.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int ss_array_grow(void **items, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 4, bytes;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return -ENOMEM;
        n *= 2;
    }
    if (__builtin_mul_overflow(n, elem, &bytes))
        return -ENOMEM;
    void *p = realloc(*items, bytes);
    if (!p)
        return -ENOMEM;
    memset((char *)p + *cap * elem, 0, (n - *cap) * elem);
    *items = p;
    *cap = n;
    return 0;
}
