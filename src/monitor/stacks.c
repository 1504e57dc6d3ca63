#include "monitor/stacks.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/trace-format.h"
#include "trace/trace-writer.h"
#include "util/array.h"
#include "util/fnv.h"

struct ss_stack_slot {
    uint64_t hash; /* 0: empty */
    uint32_t id;
};

struct ss_stack_entry {
    uint32_t nframes;
    uint32_t generation; /* of the writer's file that last got its record */
    size_t offset;       /* into frames */
};

static uint64_t hash_frames(const uint64_t *f, unsigned n)
{
    uint64_t h = ss_fnv1a(SS_FNV1A_INIT, f, n * sizeof *f);
    return h ? h : 1; /* 0 marks an empty slot */
}

static int grow_table(struct ss_stacks *s)
{
    size_t size = s->size ? s->size * 2 : 1024;
    struct ss_stack_slot *t = calloc(size, sizeof *t);
    if (!t)
        return -ENOMEM;
    for (size_t i = 0; i < s->size; i++) {
        struct ss_stack_slot *e = &s->table[i];
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

static void write_stack(struct ss_stacks *s, struct ss_writer *out, uint32_t id)
{
    struct ss_stack_entry *e = &s->entries[id - 1];
    const uint64_t *f = s->frames + e->offset;
    if (e->generation != out->generation && s->before_rewrite)
        s->before_rewrite(s->rewrite_ctx, out, f, e->nframes);
    e->generation = out->generation;
    struct ss_rec_stack rec = {id, e->nframes};
    ss_writer_record(out, SS_REC_STACK, &rec, sizeof rec, f, e->nframes * sizeof *f);
}

void ss_stacks_ensure_written(struct ss_stacks *s, struct ss_writer *out, uint32_t id)
{
    if (id && id <= s->nentries && s->entries[id - 1].generation != out->generation)
        write_stack(s, out, id);
}

uint32_t ss_stacks_intern(struct ss_stacks *s, struct ss_writer *out, const uint64_t *f, unsigned n)
{
    if ((s->nentries + 1) * 2 > s->size && grow_table(s) < 0)
        return 0;
    uint64_t h = hash_frames(f, n);
    size_t mask = s->size - 1, i = h & mask;
    for (; s->table[i].hash; i = (i + 1) & mask) {
        const struct ss_stack_slot *slot = &s->table[i];
        const struct ss_stack_entry *e = &s->entries[slot->id - 1];
        if (slot->hash == h && e->nframes == n &&
            memcmp(s->frames + e->offset, f, n * sizeof *f) == 0) {
            ss_stacks_ensure_written(s, out, slot->id);
            return slot->id;
        }
    }
    if (SS_ARRAY_GROW(s->frames, s->frames_cap, s->frames_len + n) < 0 ||
        SS_ARRAY_GROW(s->entries, s->entries_cap, s->nentries + 1) < 0)
        return 0;
    memcpy(s->frames + s->frames_len, f, n * sizeof *f);
    uint32_t id = (uint32_t)++s->nentries;
    s->entries[id - 1] = (struct ss_stack_entry){n, out->generation, s->frames_len};
    s->table[i] = (struct ss_stack_slot){h, id};
    s->frames_len += n;
    struct ss_rec_stack rec = {id, n};
    ss_writer_record(out, SS_REC_STACK, &rec, sizeof rec, f, n * sizeof *f);
    return id;
}

void ss_stacks_free(struct ss_stacks *s)
{
    free(s->table);
    free(s->entries);
    free(s->frames);
    memset(s, 0, sizeof *s);
}
