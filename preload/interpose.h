/* interpose: how the shim finds the functions its interposers stand in front of. */
#ifndef SS_INTERPOSE_H
#define SS_INTERPOSE_H

#include <dlfcn.h>

/* A call here must not be the last statement of its caller: dlsym(RTLD_NEXT) finds "next"
 * from its caller's address, which a tail call would replace. */
static inline __attribute__((always_inline)) void *ss__lookup(const char *name)
{
    void *p = dlsym(RTLD_NEXT, name);
    __asm__ volatile("" ::: "memory");
    return p;
}

#define RESOLVE(name)                                                                              \
    do {                                                                                           \
        if (!real_##name)                                                                          \
            real_##name = (__typeof__(real_##name))ss__lookup(#name);                              \
    } while (0)

#endif
