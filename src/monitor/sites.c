#include "monitor/sites.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/trace-format.h"
#include "monitor/stacks.h"
#include "trace/trace-writer.h"
#include "util/array.h"
#include "util/hash.h"

static void write_site(struct ss_writer *out, const struct ss_site *st)
{
    struct ss_rec_call_site rec = {
        st->tid,
        st->id,
        st->stack.id,
        (uint16_t)st->category,
        0,
        st->count,
        st->total_ns,
        st->max_ns,
        st->first_ns,
        (uint16_t)strlen(st->function),
        (uint16_t)strlen(st->detail),
    };
    ss_writer_record_tails(out, SS_REC_CALL_SITE, &rec, sizeof rec, st->function, rec.function_len,
                           st->detail, rec.detail_len);
}

static struct ss_site *find(struct ss_sites *s, uint32_t tid, uint64_t address, uint16_t call,
                            uint64_t py_key)
{
    /* Room for a new site first, so that a key is never stored for a site that was not made. */
    size_t k;
    int rc;
    if (SS_ARRAY_GROW(s->items, s->cap, s->n + 1) < 0 ||
        (rc = ss_key_table_get(&s->index, tid | (uint64_t)call << 32, address, py_key, s->n, &k)) <
            0)
        return NULL;
    struct ss_site *st = &s->items[k];
    if (rc == SS_KEY_ADDED) {
        memset(st, 0, sizeof *st);
        st->tid = tid;
        st->id = (uint32_t)++s->n;
    }
    return st;
}

int ss_sites_account(struct ss_sites *s, struct ss_writer *out, uint32_t tid, uint64_t address,
                     uint64_t py_key, uint16_t call, const char *function, int category,
                     uint64_t start_ns, uint64_t duration_ns, const char *detail,
                     struct ss_site_stack stack)
{
    struct ss_site *st = find(s, tid, address, call, py_key);
    if (!st)
        return -ENOMEM;
    int fresh = st->count == 0;
    if (fresh) {
        st->category = (int8_t)category;
        st->first_ns = start_ns;
        snprintf(st->function, sizeof st->function, "%s", function);
        snprintf(st->detail, sizeof st->detail, "%s", detail);
    }
    st->count++;
    st->total_ns += duration_ns;
    /* The stack shown for a site is the one that names most of its Python code, then its
     * deepest one, the slowest among equals: a site's first call may come before the monitor
     * has found the thread's Python frames, an unwind through JIT code can stop short, and a
     * short stack may lack the caller that matters. */
    const struct ss_site_stack *old = &st->stack;
    if (stack.id && (!old->id || stack.python_frames > old->python_frames ||
                     (stack.python_frames == old->python_frames &&
                      (stack.frames > old->frames ||
                       (stack.frames == old->frames && duration_ns >= st->max_ns)))))
        st->stack = stack;
    if (duration_ns > st->max_ns)
        st->max_ns = duration_ns;
    st->dirty = !fresh;
    if (fresh)
        write_site(out, st);
    return 0;
}

void ss_sites_flush(struct ss_sites *s, struct ss_writer *out)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->items[i].dirty)
            write_site(out, &s->items[i]);
        s->items[i].dirty = 0;
    }
}

void ss_sites_rewrite(struct ss_sites *s, struct ss_stacks *stacks, struct ss_writer *out)
{
    for (size_t i = 0; i < s->n; i++) {
        ss_stacks_ensure_written(stacks, out, s->items[i].stack.id);
        write_site(out, &s->items[i]);
        s->items[i].dirty = 0;
    }
}

void ss_sites_free(struct ss_sites *s)
{
    free(s->items);
    ss_key_table_free(&s->index);
    memset(s, 0, sizeof *s);
}
