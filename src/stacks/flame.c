#include "stacks/flame.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stacks/frames.h"

static uint64_t span_start(const struct ss_sample *s)
{
    if (s->source != SS_SAMPLE_CALL)
        return s->offset_ns;
    return s->offset_ns > s->call_ns ? s->offset_ns - s->call_ns : 0;
}

static int by_offset(const void *a, const void *b)
{
    const struct ss_span *x = a, *y = b;
    if (x->sample->offset_ns != y->sample->offset_ns)
        return x->sample->offset_ns < y->sample->offset_ns ? -1 : 1;
    /* Same offset: keep the order they were recorded in. */
    return x->sample < y->sample ? -1 : x->sample > y->sample;
}

size_t ss_stall_spans(const struct ss_stall *s, struct ss_span *out)
{
    size_t n = s->nsamples;
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        out[i].sample = &s->samples[i];
    qsort(out, n, sizeof *out, by_offset);
    uint64_t end = s->duration_ns, prev = 0;
    for (size_t i = 0; i < n; i++) {
        const struct ss_sample *smp = out[i].sample;
        uint64_t b = span_start(smp), e;
        if (smp->source == SS_SAMPLE_CALL)
            e = smp->offset_ns;
        else
            e = i + 1 < n ? span_start(out[i + 1].sample) : end;
        if (i == 0 && smp->source != SS_SAMPLE_CALL)
            b = 0;
        if (b < prev)
            b = prev;
        if (e > end)
            e = end;
        if (e < b)
            e = b;
        out[i].begin_ns = b;
        out[i].end_ns = e;
        prev = e;
    }
    return n;
}

size_t ss_longest_span(const struct ss_span *spans, size_t n)
{
    size_t best = n;
    uint64_t best_ns = 0;
    for (size_t i = 0; i < n; i++)
        if (spans[i].end_ns - spans[i].begin_ns > best_ns) {
            best = i;
            best_ns = spans[i].end_ns - spans[i].begin_ns;
        }
    return best;
}

int ss_sample_has_frames(const struct ss_sample *s)
{
    return s->stack && s->stack->frames;
}

const char *ss_sample_leaf(const struct ss_sample *s)
{
    return s->source == SS_SAMPLE_CALL ? s->call : NULL;
}

size_t ss_span_frames(const struct ss_span *sp, char (*names)[SS_FRAME_NAME_SIZE], size_t max)
{
    const struct ss_sample *smp = sp->sample;
    const struct ss_stack *st = smp->stack;
    const char *leaf = ss_sample_leaf(smp);
    size_t n = 0;
    if (!ss_sample_has_frames(smp)) {
        if (max > 0)
            snprintf(names[n++], sizeof names[0], "%s", SS_NO_STACK_FRAME);
    } else {
        for (uint32_t i = st->nframes; i-- > 0 && n < max;)
            ss_frame_display_name(&st->frames[i], names[n++], sizeof names[0]);
    }
    if (leaf && n < max)
        snprintf(names[n++], sizeof names[0], "%s", leaf);
    return n;
}
