#include "monitor/stacks.h"

#include <stdlib.h>
#include <string.h>

#include "common/trace-format.h"
#include "trace/trace-writer.h"
#include "util/array.h"
#include "util/fnv.h"

struct ss_stack_entry {
    uint64_t hash;
    uint32_t id, nframes;
    size_t offset; /* into frames */
};

static uint64_t hash_frames(const uint64_t *f, unsigned n)
{
    uint64_t h = ss_fnv1a(SS_FNV1A_INIT, f, n * sizeof *f);
    return h ? h : 1; /* 0 marks an empty slot */
}

static int grow_table(struct ss_stacks *s)
{
    size_t size = s->size ? s->size * 2 : 1024;
    struct ss_stack_entry *t = calloc(size, sizeof *t);
    if (!t)
        return -1;
    for (size_t i = 0; i < s->size; i++) {
        struct ss_stack_entry *e = &s->table[i];
        if (!e->hash)
            continue;
        size_t j = e->hash & (size - 1);
        while (t[j].hash)
            j = (j + 1) & (size - 1);
        t[j] = *e;
    }
    free(s->table);
    s->table = t;
    s->size = size;
    return 0;
}

uint32_t ss_stacks_intern(struct ss_stacks *s, struct ss_writer *out, const uint64_t *f, unsigned n)
{
    if ((s->used + 1) * 2 > s->size && grow_table(s) < 0)
        return 0;
    uint64_t h = hash_frames(f, n);
    size_t mask = s->size - 1, i = h & mask;
    for (; s->table[i].hash; i = (i + 1) & mask) {
        struct ss_stack_entry *e = &s->table[i];
        if (e->hash == h && e->nframes == n && memcmp(s->frames + e->offset, f, n * sizeof *f) == 0)
            return e->id;
    }
    if (SS_ARRAY_GROW(s->frames, s->frames_cap, s->frames_len + n) < 0)
        return 0;
    memcpy(s->frames + s->frames_len, f, n * sizeof *f);
    uint32_t id = ++s->next_id;
    s->table[i] = (struct ss_stack_entry){h, id, n, s->frames_len};
    s->frames_len += n;
    s->used++;
    struct ss_rec_stack rec = {id, n};
    ss_writer_record(out, SS_REC_STACK, &rec, sizeof rec, f, n * sizeof *f);
    return id;
}

void ss_stacks_free(struct ss_stacks *s)
{
    free(s->table);
    free(s->frames);
    memset(s, 0, sizeof *s);
}
