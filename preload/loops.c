/* loops: which wait is a thread's loop, learnt from what the thread does (docs/loops.md).
 *
 * A thread becomes a loop thread at its first wait on an epoll descriptor, or once it has come
 * back three times to one poll or select call site with no wait on a condition variable or
 * semaphore in between (a worker's idle wait). Until then its waits pass straight through. A
 * loop ends when its thread closes the loop's epoll descriptor, exits, or turns out to be a
 * worker (a call-site loop that makes an idle wait within its first iterations: its slot is
 * given back), and it is replaced when another wait, made from no deeper in the
 * stack than the loop's own, becomes the one the thread returns to. Everything here runs on
 * the thread itself, off the hot path: only a wait that is not the thread's loop wait, an idle
 * wait and a close reach it. */
#define _GNU_SOURCE
#include "interpose.h"
#include "shim.h"

static void push_loop_event(struct ss_slot *s, struct ss_loop_event e)
{
    uint32_t head = atomic_load_explicit(&s->loop_head, memory_order_relaxed);
    uint32_t tail = atomic_load_explicit(&s->loop_tail, memory_order_acquire);
    if (head - tail >= SS_LOOP_RING) {
        SS_OWNER_ADD(s->loop_dropped, 1);
        return;
    }
    s->loop_events[head % SS_LOOP_RING] = e;
    atomic_store_explicit(&s->loop_head, head + 1, memory_order_release);
}

/* The event is published before the state changes: a monitor that sees the new state sees
 * the event too. */
void ss__loop_end(struct ss_slot *s, unsigned reason, uint64_t now)
{
    int state = atomic_load_explicit(&s->state, memory_order_relaxed);
    uint64_t last =
        state == SS_STATE_WAITING ? 0 : atomic_load_explicit(&s->iteration, memory_order_relaxed);
    push_loop_event(s, (struct ss_loop_event){now, last, 0, (uint16_t)reason, 0});
    s->loop_key = 0;
    atomic_store_explicit(&s->state, SS_STATE_WAITING, memory_order_release);
}

static void loop_begin(struct ss_slot *s, uint64_t key, uint64_t frame, unsigned call, uint64_t now)
{
    s->loop_key = key;
    s->loop_sp = frame;
    s->loop_iterations0 = atomic_load_explicit(&s->iterations, memory_order_relaxed);
    push_loop_event(s, (struct ss_loop_event){now, key, (uint16_t)call, 0, 0});
}

/* A slot for a thread whose wait just became a loop; NULL when none is free. After a failed
 * claim the slots are looked at again only once the monitor has freed one. */
static struct ss_slot *slot_for_new_loop(struct ss_thread_local *t)
{
    struct ss_segment *seg = atomic_load_explicit(&ss__seg, memory_order_relaxed);
    if (seg && t->claim_failed_at &&
        t->claim_failed_at == 1 + atomic_load_explicit(&seg->slots_freed, memory_order_relaxed))
        return NULL;
    uint32_t freed = seg ? atomic_load_explicit(&seg->slots_freed, memory_order_relaxed) : 0;
    struct ss_slot *s = ss__claim_slot();
    t->claim_failed_at = s || !atomic_load(&ss__seg) ? 0 : 1 + freed;
    return s;
}

/* Whether a wait may take the place of the thread's loop: an epoll descriptor replaces a
 * call-site loop; otherwise the wait must be made from no deeper in the stack than the loop's
 * own, or it runs inside one of the loop's iterations (a child's output read to its end, a
 * synchronous request with a loop of its own). */
static int may_replace(const struct ss_slot *s, uint64_t key, uint64_t frame)
{
    if ((key & SS_LOOP_KEY_EPOLL) && !(s->loop_key & SS_LOOP_KEY_EPOLL))
        return 1;
    return frame >= s->loop_sp;
}

int ss__other_wait(uint64_t key, uint64_t frame, unsigned call)
{
    struct ss_thread_local *t = &ss__tls;
    struct ss_slot *s = t->slot;
    int looping = s && s->loop_key;
    if (t->candidate != key) {
        t->candidate = key;
        t->candidate_waits = 0;
    }
    t->candidate_waits++;
    unsigned needed = ss__waits_to_become_a_loop(key);
    if (looping && !may_replace(s, key, frame))
        return SS_WAIT_NESTED;
    if (t->candidate_waits < needed)
        return looping ? SS_WAIT_OUTSIDE : SS_WAIT_UNTRACED;
    if (!s && !(s = slot_for_new_loop(t)))
        return SS_WAIT_UNTRACED;
    uint64_t now = ss__now();
    if (looping)
        ss__loop_end(s, SS_LOOP_REPLACED, now);
    loop_begin(s, key, frame, call, now);
    t->candidate_waits = 0;
    return SS_WAIT_LOOP;
}

void ss__not_a_loop(struct ss_slot *s)
{
    struct ss_thread_local *t = &ss__tls;
    ss__loop_end(s, SS_LOOP_NOT_A_LOOP, ss__now());
    t->slot = NULL;
    ss__forget_thread_slot();
    atomic_store_explicit(&s->exited, SS_SLOT_RELEASED, memory_order_release);
    ss__wake_monitor();
}

void ss__loop_fds_closed(unsigned first, unsigned last)
{
    struct ss_thread_local *t = &ss__tls;
    if (ss__in_vfork_child())
        return;
    if ((t->candidate & SS_LOOP_KEY_EPOLL) && (unsigned)t->candidate >= first &&
        (unsigned)t->candidate <= last)
        t->candidate_waits = 0;
    struct ss_slot *s = t->slot;
    if (s && (s->loop_key & SS_LOOP_KEY_EPOLL) && (unsigned)s->loop_key >= first &&
        (unsigned)s->loop_key <= last)
        ss__loop_end(s, SS_LOOP_CLOSED, ss__now());
}
