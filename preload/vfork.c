/* vfork: the C side of the vfork interposer (vfork-x86_64.S). */
#define _GNU_SOURCE
#include <errno.h>

#include "interpose.h"

/* The C library's vfork, for where the interposer cannot stand in front of it. */
__attribute__((visibility("hidden"))) void *ss__real_vfork;

void ss__vfork_enter(void);
long ss__vfork_resumed(long rc);

__attribute__((visibility("hidden"))) void ss__vfork_enter(void)
{
    ss__tls.in_hook += SS_VFORK_MARK;
}

__attribute__((visibility("hidden"))) long ss__vfork_resumed(long rc)
{
    ss__tls.in_hook -= SS_VFORK_MARK;
    if (rc < 0 && rc > -4096) {
        errno = (int)-rc;
        return -1;
    }
    return rc;
}

void ss__resolve_vfork(void)
{
    if (!ss__real_vfork)
        ss__real_vfork = ss__next("vfork");
}
