/* record: how an interposer times a call made in a loop iteration, for calls.c, fd-calls.c and
 * locks.c. Everything here is inlined into the interposer: the registers published for a call
 * are those of the interposer that makes it, and off a busy loop thread all it costs is the
 * thread-local check of busy_slot(). */
#ifndef SS_RECORD_H
#define SS_RECORD_H

#include <errno.h>

#include "interpose.h"
#include "shim.h"

/* The loop thread's slot when the calling thread is in a loop iteration, else NULL. */
static inline struct ss_slot *busy_slot(void)
{
    struct ss_thread_local *t = &ss__tls;
    struct ss_slot *s = t->slot;
    if (!s || t->in_hook ||
        atomic_load_explicit(&s->state, memory_order_relaxed) != SS_STATE_BUSY ||
        !atomic_load_explicit(&ss__active, memory_order_relaxed))
        return NULL;
    return s;
}

static inline __attribute__((always_inline)) uint64_t call_begin(struct ss_slot *s, unsigned call,
                                                                 uint64_t site)
{
    uint64_t now = ss__now();
    ss__call_now_begin(s, call, site, now);
    ss__enter_call(s);
    return now;
}

static inline void call_end(struct ss_slot *s, unsigned call, int category, uint64_t site,
                            uint64_t started, int fd, const char *detail)
{
    uint64_t now = ss__now();
    atomic_store_explicit(&s->state, SS_STATE_BUSY, memory_order_release);
    if (category == SS_CAT_NONE)
        return;
    ss__guard_enter();
    ss__record_call(s, call, category, site, started, now - started, fd, detail);
    ss__guard_leave();
}

#define UNPAREN(...) __VA_ARGS__

/* Evaluates `expr`, a call of a real function, timed and recorded under `category` when the
 * calling thread is in a loop iteration. */
#define TIMED(call_id, category, fd, text, expr)                                                   \
    ({                                                                                             \
        struct ss_slot *ss_s_ = busy_slot();                                                       \
        uint64_t ss_site_ = (uint64_t)(uintptr_t)__builtin_return_address(0);                      \
        uint64_t ss_t0_ = ss_s_ ? call_begin(ss_s_, call_id, ss_site_) : 0;                        \
        __typeof__(expr) ss_rc_ = (expr);                                                          \
        if (ss_s_) {                                                                               \
            int ss_saved_ = errno;                                                                 \
            call_end(ss_s_, call_id, category, ss_site_, ss_t0_, fd, text);                        \
            errno = ss_saved_;                                                                     \
        }                                                                                          \
        ss_rc_;                                                                                    \
    })

#endif
