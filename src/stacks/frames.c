#include "stacks/frames.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stacks/frame-names.h"

int ss_frames_shown_parse(const char *s, enum ss_frames_shown *out)
{
    if (strcmp(s, "all") == 0)
        *out = SS_FRAMES_ALL;
    else if (strcmp(s, "user") == 0)
        *out = SS_FRAMES_USER;
    else
        return -EINVAL;
    return 0;
}

int ss_frame_shown(const struct ss_stack *st, uint32_t i, enum ss_frames_shown shown)
{
    if (shown == SS_FRAMES_ALL || i == 0 || !st->frames)
        return 1;
    return !ss_frame_is_runtime(&st->frames[i]) || ss_stack_first_user_frame(st) < 0;
}

void ss_run_drop_hidden_frames(struct ss_run *run, enum ss_frames_shown shown)
{
    for (size_t i = 0; shown != SS_FRAMES_ALL && i < run->nprocs; i++) {
        struct ss_process *p = &run->procs[i];
        ss_process_symbolize(run, p);
        for (size_t k = 0; k < p->nstacks; k++) {
            struct ss_stack *st = p->stacks[k];
            if (!st->frames)
                continue;
            /* Whether a frame is kept depends on the frame alone once this is known, so the
             * stack can be compacted in place. */
            int whole = ss_stack_first_user_frame(st) < 0;
            uint32_t kept = 0;
            for (uint32_t f = 0; f < st->nframes; f++) {
                if (f > 0 && !whole && ss_frame_is_runtime(&st->frames[f]))
                    continue;
                st->frames[kept] = st->frames[f];
                st->addrs[kept] = st->addrs[f];
                kept++;
            }
            st->nframes = kept;
        }
    }
}

size_t ss_process_stale_modules(struct ss_run *run, struct ss_process *p, const char **out,
                                size_t max)
{
    size_t n = 0;
    ss_process_symbolize(run, p);
    if (!p->sym)
        return 0;
    for (size_t i = 0; i < p->nstacks; i++) {
        const struct ss_stack *st = p->stacks[i];
        for (uint32_t f = 0; st->frames && f < st->nframes; f++) {
            const struct ss_frame *fr = &st->frames[f];
            if (fr->symbol || !fr->module || !ss_symbolizer_module_mismatch(p->sym, fr->addr))
                continue;
            size_t k;
            for (k = 0; k < n && strcmp(out[k], fr->module) != 0; k++)
                ;
            if (k == n && n < max)
                out[n++] = fr->module;
        }
    }
    return n;
}

static int by_count(const void *a, const void *b)
{
    const struct ss_stack_count *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return x->stack->id < y->stack->id ? -1 : x->stack->id > y->stack->id;
}

/* Two stacks are the same to a reader when every frame names the same function, even if the
 * sampled instruction within it differs. */
static int same_stack(const struct ss_stack *a, const struct ss_stack *b)
{
    if (a == b)
        return 1;
    if (a->nframes != b->nframes || !a->frames || !b->frames)
        return 0;
    for (uint32_t i = 0; i < a->nframes; i++) {
        const struct ss_frame *x = &a->frames[i], *y = &b->frames[i];
        if (x->symbol && y->symbol ? strcmp(x->symbol, y->symbol) != 0 : x->addr != y->addr)
            return 0;
    }
    return 1;
}

size_t ss_stall_stacks(const struct ss_stall *s, struct ss_stack_count *out, size_t max)
{
    size_t n = 0;
    struct ss_stack_count *all = calloc(s->nsamples ? s->nsamples : 1, sizeof *all);
    if (!all)
        return 0;
    for (size_t i = 0; i < s->nsamples; i++) {
        const struct ss_stack *st = s->samples[i].stack;
        if (!st)
            continue;
        size_t k;
        for (k = 0; k < n && !same_stack(all[k].stack, st); k++)
            ;
        if (k == n)
            all[n++] = (struct ss_stack_count){st, 0};
        all[k].count++;
    }
    qsort(all, n, sizeof *all, by_count);
    memcpy(out, all, (n < max ? n : max) * sizeof *out);
    free(all);
    return n;
}
