#include "util/array.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int ss_array_grow(void **items, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap * 2 : 4;
    while (n < need)
        n *= 2;
    void *p = realloc(*items, n * elem);
    if (!p)
        return -ENOMEM;
    memset((char *)p + *cap * elem, 0, (n - *cap) * elem);
    *items = p;
    *cap = n;
    return 0;
}
