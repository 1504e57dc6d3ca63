/* interpose: the one place the shim looks up the C library's functions (see interpose.h). */
#define _GNU_SOURCE
#include "interpose.h"

#include <dlfcn.h>

_Atomic int ss__lookups_done;

/* Out of line and followed by a barrier, so that dlsym is called from here and never tail-called
 * from a caller the loader runs (the constructor), whose return address is the loader's. */
/* Attached, the shim was loaded after everything else and is in no list the loader searches
 * for others: the next definition is the one the program's own lookups find (RTLD_NEXT would
 * search a list the shim is not in), unless that is the shim's own. */
__attribute__((noinline)) void *ss__next(const char *name)
{
    int attached = atomic_load_explicit(&ss__attached, memory_order_relaxed);
    void *p = dlsym(attached ? RTLD_DEFAULT : RTLD_NEXT, name);
    __asm__ volatile("" ::: "memory");
    return attached && ss__in_shim(p) ? NULL : p;
}

__attribute__((noinline)) void *ss__next_version(const char *name, const char *version)
{
    int attached = atomic_load_explicit(&ss__attached, memory_order_relaxed);
    void *p = dlvsym(attached ? RTLD_DEFAULT : RTLD_NEXT, name, version);
    __asm__ volatile("" ::: "memory");
    return attached && ss__in_shim(p) ? NULL : p;
}

void ss__resolve_all(void)
{
    ss__resolve_hooks();
    ss__resolve_calls();
    ss__resolve_fd_calls();
    ss__resolve_locks();
    ss__resolve_signals();
    ss__resolve_children();
    ss__resolve_vfork();
    ss__resolve_jumps();
    ss__resolve_exits();
    atomic_store(&ss__lookups_done, 1);
}
