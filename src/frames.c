#include "frames.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *ss_basename(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

void ss_frame_name(const struct ss_frame *f, char *buf, size_t size)
{
    if (f->symbol)
        snprintf(buf, size, "%s", f->symbol);
    else if (f->module)
        snprintf(buf, size, "%s+0x%llx", ss_basename(f->module), (unsigned long long)f->offset);
    else
        snprintf(buf, size, "0x%llx", (unsigned long long)f->addr);
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
