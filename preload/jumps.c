/* jumps: a longjmp out of the shim's own frames. The common timeout pattern (an alarm whose
 * handler siglongjmp()s out of a blocking call) and a callback that jumps out of the function
 * that called it (scandir's) leave the interposer they interrupt without its epilogue: the
 * thread's state stays "in a call" or "waiting" (never sampled, its iteration not timed), a
 * reentrancy guard raised around the shim's own work stays raised (the shim off on that
 * thread for good), and a stack copy cut short stays "being written" (the monitor waits for
 * it for good). The jump functions are interposed to put that right before they jump:
 * whatever the shim marked on this thread belongs to frames the jump discards.
 *
 * That holds unless the program jumps to a point it set inside the shim's own extent (a signal
 * handler, or a scandir callback, that makes and uses a jump buffer of its own while it
 * interrupts an interposer): then the interrupted interposer resumes with its marks taken off,
 * which costs it at most that call's record. Jumps the interposers do not see (a C++ exception
 * thrown through an interposer, the C library's internal jumps) are put right at the thread's
 * next entry into its loop's wait (waits.c). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdlib.h>

#include "interpose.h"

void ss__recover_after_jump(void)
{
    struct ss_thread_local *t = &ss__tls;
    /* A vfork child's jump is its own business: nothing of the shim's is its. */
    if (ss__in_vfork_child())
        return;
    unsigned guard = t->in_hook & SS_GUARD_MASK;
    t->in_hook -= guard;
    struct ss_slot *s = t->slot;
    if (!s)
        return;
    int state = atomic_load_explicit(&s->state, memory_order_relaxed);
    if (state == SS_STATE_WAITING) {
        /* Out of the loop's own wait: an iteration begins. */
        atomic_store_explicit(&s->iteration, ss__now(), memory_order_release);
        atomic_store_explicit(&s->state, SS_STATE_BUSY, memory_order_release);
    } else if (state == SS_STATE_IN_CALL) {
        atomic_store_explicit(&s->state, SS_STATE_BUSY, memory_order_release);
    }
    /* A stack copy interrupted half-way is never finished: its place is free again. Only this
     * thread writes its copies, in an interposer (calls) or in the sampling signal's handler,
     * which the program's own handler can interrupt. */
    if (guard)
        for (size_t i = 0; i < SS_CALL_SNAPS; i++)
            if (atomic_load_explicit(&s->call_snap_state[i], memory_order_relaxed) ==
                SS_SNAP_WRITING)
                atomic_store_explicit(&s->call_snap_state[i], SS_SNAP_FREE, memory_order_release);
    if (atomic_load_explicit(&s->snap_state, memory_order_relaxed) == SS_SNAP_WRITING)
        atomic_store_explicit(&s->snap_state, SS_SNAP_FREE, memory_order_release);
}

/* All four are one function in glibc; __longjmp_chk also checks that the target frame is
 * above the caller's, which this frame does not change. */
#define SS_JUMPS(X) X(longjmp) X(_longjmp) X(siglongjmp) X(__longjmp_chk)

typedef void jump_fn(struct __jmp_buf_tag *, int);
void __longjmp_chk(struct __jmp_buf_tag env[1], int val) __attribute__((noreturn));

#define DECLARE_JUMP(name) static jump_fn *real_##name;
SS_JUMPS(DECLARE_JUMP)

/* Any of them will do when one is missing: no C library lacks them all. */
static jump_fn *any_jump(void)
{
#define FIRST_FOUND(name)                                                                          \
    if (SS_FIND(name))                                                                             \
        return real_##name;
    SS_JUMPS(FIRST_FOUND)
#undef FIRST_FOUND
    return NULL;
}

#define DEFINE_JUMP(name)                                                                          \
    void name(struct __jmp_buf_tag env[1], int val)                                                \
    {                                                                                              \
        ss__recover_after_jump();                                                                  \
        jump_fn *jump = SS_FIND(name) ? real_##name : any_jump();                                  \
        if (jump)                                                                                  \
            jump(env, val);                                                                        \
        abort();                                                                                   \
    }
SS_JUMPS(DEFINE_JUMP)

void ss__resolve_jumps(void)
{
#define LOOKUP(name) SS_LOOKUP(name);
    SS_JUMPS(LOOKUP)
#undef LOOKUP
}
