/* interpose: how an interposer finds the C library's function behind it, and what it does when
 * there is none. Every interposer of the shim (calls.c, fd-calls.c, locks.c, waits.c,
 * signals.c, children.c, vfork.c, jumps.c, shim.c) goes through these, so the rules are kept
 * in one place:
 *
 * - Everything is looked up once, at start-up (ss__resolve_all, from the constructor), where
 *   the loader's state is settled. A call made before that (another library's constructor)
 *   looks its function up itself; after it, no interposer calls dlsym again, so a function
 *   the C library lacks costs no failed lookup (which allocates) per call.
 * - A function whose old and new symbol versions differ is looked up by version, and the shim
 *   exports one interposer per version (SS_SYMVER), so that a caller bound to an old version
 *   reaches that version and no other. docs/blocking-calls.md has the table.
 * - An interposer whose function is missing never calls through a null pointer: it fails the
 *   way a C library function fails for want of support, with errno ENOSYS. */
#ifndef SS_INTERPOSE_H
#define SS_INTERPOSE_H

#include <errno.h>
#include <stdatomic.h>

#include "shim.h"

/* dlsym(RTLD_NEXT, name) and dlvsym(RTLD_NEXT, name, version), made from the shim's own code
 * (RTLD_NEXT is taken from the caller's address, so these are never inlined or tail-called). */
void *ss__next(const char *name);
void *ss__next_version(const char *name, const char *version);

/* Set once every interposer's function has been looked up. */
extern _Atomic int ss__lookups_done;

/* The real function of `name`: found, or looked up now if start-up has not done it yet.
 * Evaluates to nonzero when there is one. `real_<name>` is the interposer's pointer. */
#define SS_FIND(name)                                                                              \
    (real_##name || (!atomic_load_explicit(&ss__lookups_done, memory_order_relaxed) &&             \
                     (real_##name = (__typeof__(real_##name))ss__next(#name)) != NULL))
#define SS_FIND_VERSION(name, version)                                                             \
    (real_##name ||                                                                                \
     (!atomic_load_explicit(&ss__lookups_done, memory_order_relaxed) &&                            \
      (real_##name = (__typeof__(real_##name))ss__next_version(#name, version)) != NULL))
/* The same under another name: `var` is the pointer, `sym` the C library's name. */
#define SS_FIND_AS(var, sym, version)                                                              \
    ((var) || (!atomic_load_explicit(&ss__lookups_done, memory_order_relaxed) &&                   \
               ((var) = (__typeof__(var))((version) ? ss__next_version(sym, version)               \
                                                    : ss__next(sym))) != NULL))

/* The failure of an interposer whose real function `found` is not: it fails as a C library
 * function without support does, returning `missing` with errno ENOSYS. */
#define SS_MISSING(found, missing)                                                                 \
    do {                                                                                           \
        if (__builtin_expect(!(found), 0)) {                                                       \
            errno = ENOSYS;                                                                        \
            return missing;                                                                        \
        }                                                                                          \
    } while (0)

/* For the start-up lookups: the same without the "already done" test. */
#define SS_LOOKUP(name)                                                                            \
    do {                                                                                           \
        if (!real_##name)                                                                          \
            real_##name = (__typeof__(real_##name))ss__next(#name);                                \
    } while (0)
#define SS_LOOKUP_VERSION(name, version)                                                           \
    do {                                                                                           \
        if (!real_##name)                                                                          \
            real_##name = (__typeof__(real_##name))ss__next_version(#name, version);               \
    } while (0)

#define SS_LOOKUP_AS(var, sym, version)                                                            \
    do {                                                                                           \
        if (!(var))                                                                                \
            (var) = (__typeof__(var))ss__next_version(sym, version);                               \
    } while (0)

/* Exports the function `cname` as `sym@version` (`sym@@version` for the default one). The
 * version nodes are declared in exports.map. */
#define SS_SYMVER(cname, sym, version) __asm__(".symver " #cname ", " #sym version)

/* The thread-local reentrancy guard. A vfork child runs on its parent's thread and memory
 * until it execs or exits: the vfork interposer adds SS_VFORK_MARK to the guard for that
 * time, so every interposer passes the child's calls straight through (the guard is not
 * zero), and the parent takes the mark off when it resumes. */
#define SS_VFORK_MARK 0x10000u
#define SS_GUARD_MASK (SS_VFORK_MARK - 1)

static inline void ss__guard_enter(void)
{
    ss__tls.in_hook++;
}

/* Never below zero: a guard already taken off after a jump out of the shim (jumps.c) must not
 * wrap around when the interrupted code finishes after all. */
static inline void ss__guard_leave(void)
{
    if (ss__tls.in_hook & SS_GUARD_MASK)
        ss__tls.in_hook--;
}

/* Whether this is a vfork child still running on its parent's memory: it must write nothing
 * of the shim's (descriptor cache, slots, switches), which are its parent's. */
static inline int ss__in_vfork_child(void)
{
    return ss__tls.in_hook >= SS_VFORK_MARK;
}

/* Start-up lookups of every part of the shim, then ss__lookups_done. Each part looks up the
 * real functions of its own interposers; any may be called more than once. Signals are
 * among them so that a first sigaction() made in a signal handler never calls dlsym. */
void ss__resolve_all(void);
void ss__resolve_hooks(void);
void ss__resolve_calls(void);
void ss__resolve_fd_calls(void);
void ss__resolve_locks(void);
void ss__resolve_signals(void);
void ss__resolve_children(void);
void ss__resolve_vfork(void);
void ss__resolve_jumps(void);
void ss__resolve_exits(void);
/* Takes off what the shim marked on this thread for frames a jump discards (jumps.c). */
void ss__recover_after_jump(void);

#endif
