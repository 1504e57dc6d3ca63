/* loop-records: the records of a slot's loops. The tracker drains the slot's ring of loop
 * events into LOOP_BEGIN and LOOP_END records, and ends a thread's loop when its process
 * begins exiting; a stall open in the loop's last stretch ends with the loop. */
#define _GNU_SOURCE
#include <string.h>

#include "monitor/records.h"
#include "monitor/sample.h"
#include "monitor/stall-time.h"

void ss_mproc_write_loop_begin(struct ss_mproc *p, struct ss_slot_view *v,
                               const struct ss_loop_event *e)
{
    const char *name = ss_mproc_call_name(p, e->call);
    struct ss_rec_loop_begin rec = {(uint32_t)v->tid, SS_LOOP_SITE, 0, -1, 0, e->at_ns};
    if (e->key_or_last & SS_LOOP_KEY_EPOLL) {
        rec.kind = SS_LOOP_EPOLL;
        rec.fd = (int32_t)(uint32_t)e->key_or_last;
    } else {
        /* A return address: the call instruction lies just before it. */
        uint64_t frame = e->key_or_last - 1;
        rec.site_stack_id = ss_stacks_intern(&p->stacks, &p->out, &frame, 1);
    }
    ss_writer_record(&p->out, SS_REC_LOOP_BEGIN, &rec, sizeof rec, name, strlen(name));
    v->in_loop = 1;
    v->loop_begin = *e;
}

/* A loop ended at end_ns. `last`, when the loop's last wait returned (0: the thread was in
 * it), begins the loop's last stretch, which is not an iteration: if it was announced as a
 * stall, its sampling stops and what it has is written under the loop's end. */
static void write_loop_end(struct ss_mproc *p, struct ss_slot *s, struct ss_slot_view *v,
                           unsigned reason, uint64_t last, uint64_t end_ns)
{
    if (last && v->stall == last) {
        ss_sample_stall_end(p, s, v, end_ns);
        ss_mproc_write_stall_calls(p, v, last);
        ss_stall_time_end(p, v, last, end_ns);
        v->stall = 0;
    }
    if (last > v->loop_ended)
        v->loop_ended = last;
    struct ss_rec_loop_end rec = {(uint32_t)v->tid, (uint16_t)reason, 0, last, end_ns};
    ss_writer_record(&p->out, SS_REC_LOOP_END, &rec, sizeof rec, NULL, 0);
    v->in_loop = 0;
}

void ss_mproc_drain_loops(struct ss_mproc *p, struct ss_slot *s, struct ss_slot_view *v,
                          uint64_t until_ns)
{
    uint32_t tail = atomic_load_explicit(&s->loop_tail, memory_order_relaxed);
    uint32_t head = atomic_load_explicit(&s->loop_head, memory_order_acquire);
    for (; tail != head; tail++) {
        struct ss_loop_event e = s->loop_events[tail % SS_LOOP_RING];
        if (e.at_ns > until_ns)
            break;
        if (e.reason)
            write_loop_end(p, s, v, e.reason, e.key_or_last, e.at_ns);
        else
            ss_mproc_write_loop_begin(p, v, &e);
    }
    atomic_store_explicit(&s->loop_tail, tail, memory_order_release);
}

void ss_mproc_end_loop_at_exit(struct ss_mproc *p, struct ss_slot *s, struct ss_slot_view *v,
                               int state, uint64_t iteration, uint64_t exit_ns)
{
    if (!v->in_loop || v->exit_written)
        return;
    /* An iteration whose end the drain took (another thread's exit came after the state
     * was read) is over, not the loop's last stretch. */
    int open = state != SS_STATE_WAITING && iteration && iteration < exit_ns &&
               iteration > v->loop_ended && iteration > v->ended_through;
    write_loop_end(p, s, v, SS_LOOP_PROCESS_EXIT, open ? iteration : 0, exit_ns);
    v->exit_written = 1;
}
