#define _GNU_SOURCE
#include "flametree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/array.h"
#include "util/hash.h"

#define CHUNK_NODES 4096

struct ssv_fl_chunk {
    struct ssv_fl_chunk *next;
    size_t used;
    struct ssv_fl_node nodes[CHUNK_NODES];
};

/* Children are found through one hash of (parent, interned name) while building, so a frame
 * with thousands of callees costs no more than one with two. */
struct builder {
    struct ssv_flame *f;
    struct ssv_fl_node **slots;
    size_t size, count;
};

static uint64_t key_hash(const struct ssv_fl_node *parent, const char *name)
{
    return ss_hash_words((uintptr_t)parent, (uintptr_t)name, 0);
}

static struct ssv_fl_node *new_node(struct ssv_flame *f)
{
    if (!f->chunks || f->chunks->used == CHUNK_NODES) {
        struct ssv_fl_chunk *c = malloc(sizeof *c);
        if (!c)
            return NULL;
        c->next = f->chunks;
        c->used = 0;
        f->chunks = c;
    }
    struct ssv_fl_node *n = &f->chunks->nodes[f->chunks->used++];
    memset(n, 0, sizeof *n);
    return n;
}

static int builder_grow(struct builder *b)
{
    size_t size = b->size ? b->size * 2 : 4096;
    struct ssv_fl_node **slots = calloc(size, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < b->size; i++) {
        struct ssv_fl_node *n = b->slots[i];
        if (!n)
            continue;
        size_t j = key_hash(n->parent, n->name) & (size - 1);
        while (slots[j])
            j = (j + 1) & (size - 1);
        slots[j] = n;
    }
    free(b->slots);
    b->slots = slots;
    b->size = size;
    return 0;
}

static struct ssv_fl_node *child(struct builder *b, struct ssv_fl_node *parent, const char *name)
{
    if ((b->count + 1) * 2 > b->size && builder_grow(b) < 0)
        return NULL;
    size_t j = key_hash(parent, name) & (b->size - 1);
    for (; b->slots[j]; j = (j + 1) & (b->size - 1))
        if (b->slots[j]->parent == parent && b->slots[j]->name == name)
            return b->slots[j];
    struct ssv_fl_node *n = new_node(b->f);
    if (!n)
        return NULL;
    n->name = name;
    n->parent = parent;
    n->depth = parent->depth + 1;
    n->next = parent->child;
    parent->child = n;
    if (n->depth > b->f->max_depth)
        b->f->max_depth = n->depth;
    b->slots[j] = n;
    b->count++;
    return n;
}

/* Adds ns of stalled time, which count spans stand for, under the frames of a sample: named
 * by the exporters' rule (flame.h), so that the viewer's flame and an exported one agree. */
static int add_span(struct builder *b, struct ssv_vm *vm, const struct ss_process *p,
                    const struct ss_sample *s, uint64_t ns, uint64_t count)
{
    b->f->nsamples += count;
    if (ns == 0)
        return 0;
    struct ssv_fl_node *n = b->f->root;
    n->total += ns;
    const char *const *names = ss_sample_has_frames(s) ? ssv_vm_stack_names(vm, p, s->stack) : NULL;
    if (!names) {
        const char *none = ssv_vm_intern(vm, SSV_FL_NO_STACK);
        if (!none || !(n = child(b, n, none)))
            return -1;
        n->total += ns;
    }
    for (uint32_t i = names ? s->stack->nframes : 0; i > 0; i--) {
        if (!(n = child(b, n, names[i - 1])))
            return -1;
        n->total += ns;
    }
    const char *leaf = ss_sample_leaf(s);
    if (leaf) {
        const char *name = ssv_vm_intern(vm, leaf);
        if (!name || !(n = child(b, n, name)))
            return -1;
        n->total += ns;
    }
    n->self += ns;
    return 0;
}

/* The stalls in scope share their time out among their samples (ss_stall_spans). */
static int add_stalls(struct builder *b, struct ssv_vm *vm, const struct ssv_vm_scope *scope)
{
    struct ss_span *spans = NULL;
    size_t cap = 0;
    int rc = 0;
    for (size_t i = 0; i < vm->nstalls && rc == 0; i++) {
        const struct ssv_vm_stall *r = &vm->stalls[i];
        if (!ssv_vm_in_scope(scope, r->proc, r->stall))
            continue;
        if (SS_ARRAY_GROW(spans, cap, r->stall->nsamples) < 0) {
            rc = -1;
            break;
        }
        size_t n = ss_stall_spans(r->stall, spans);
        for (size_t k = 0; k < n && rc == 0; k++)
            rc = add_span(b, vm, r->proc, spans[k].sample, spans[k].end_ns - spans[k].begin_ns, 1);
    }
    free(spans);
    return rc;
}

/* The stalls the loader summarised are in the scopes of their process and thread: their spans,
 * already summed by thread and frames (struct ss_summary_stack), as the exports include them. */
static int add_summaries(struct builder *b, struct ssv_vm *vm, const struct ssv_vm_scope *scope)
{
    for (size_t i = 0; i < vm->run->nprocs; i++) {
        const struct ss_process *p = &vm->run->procs[i];
        const struct ss_summary *sum = &p->summary;
        for (size_t k = 0; k < sum->nthreads; k++)
            if (ssv_vm_summary_in_scope(scope, p, sum->threads[k].tid))
                b->f->summarised += sum->threads[k].stalls;
        for (size_t k = 0; k < sum->nstacks; k++) {
            const struct ss_summary_stack *e = &sum->stacks[k];
            if (ssv_vm_summary_in_scope(scope, p, e->tid) &&
                add_span(b, vm, p, &e->sample, e->span_ns, e->spans) < 0)
                return -1;
        }
    }
    return 0;
}

static int heavier(const void *a, const void *b)
{
    const struct ssv_fl_node *x = *(struct ssv_fl_node *const *)a,
                             *y = *(struct ssv_fl_node *const *)b;
    if (x->total != y->total)
        return x->total < y->total ? 1 : -1;
    return strcmp(x->name, y->name);
}

/* Orders every node's children heaviest first, without recursion (stacks run 256 deep). */
static int sort_children(struct ssv_flame *f)
{
    struct ssv_fl_node **kids = NULL;
    size_t cap = 0;
    for (struct ssv_fl_chunk *c = f->chunks; c; c = c->next) {
        for (size_t i = 0; i < c->used; i++) {
            struct ssv_fl_node *n = &c->nodes[i];
            size_t k = 0;
            for (struct ssv_fl_node *ch = n->child; ch; ch = ch->next) {
                if (SS_ARRAY_GROW(kids, cap, k + 1) < 0) {
                    free(kids);
                    return -1;
                }
                kids[k++] = ch;
            }
            if (k < 2)
                continue;
            qsort(kids, k, sizeof *kids, heavier);
            n->child = kids[0];
            for (size_t j = 0; j + 1 < k; j++)
                kids[j]->next = kids[j + 1];
            kids[k - 1]->next = NULL;
        }
    }
    free(kids);
    return 0;
}

int ssv_flame_build(struct ssv_flame *f, struct ssv_vm *vm, const struct ssv_vm_scope *scope)
{
    memset(f, 0, sizeof *f);
    f->scope = *scope;
    struct builder b = {f, NULL, 0, 0};
    if (!(f->root = new_node(f)) || !(f->root->name = ssv_vm_intern(vm, SSV_FL_ROOT)) ||
        add_stalls(&b, vm, scope) < 0 || add_summaries(&b, vm, scope) < 0)
        goto fail;
    free(b.slots);
    b.slots = NULL;
    if (sort_children(f) < 0)
        goto fail;
    f->zoom = f->sel = f->root;
    return 0;
fail:
    free(b.slots);
    ssv_flame_free(f);
    return -1;
}

void ssv_flame_free(struct ssv_flame *f)
{
    while (f->chunks) {
        struct ssv_fl_chunk *c = f->chunks;
        f->chunks = c->next;
        free(c);
    }
    memset(f, 0, sizeof *f);
}

void ssv_flame_zoom(struct ssv_flame *f, struct ssv_fl_node *n)
{
    if (!n || n == f->zoom)
        return;
    if (f->nhistory == SSV_FL_HISTORY) {
        memmove(f->history, f->history + 1, (SSV_FL_HISTORY - 1) * sizeof *f->history);
        f->nhistory--;
    }
    f->history[f->nhistory++] = f->zoom;
    f->zoom = f->sel = n;
    ssv_flame_search(f, f->needle);
}

int ssv_flame_unzoom(struct ssv_flame *f)
{
    if (f->nhistory == 0)
        return 0;
    f->sel = f->zoom;
    f->zoom = f->history[--f->nhistory];
    ssv_flame_search(f, f->needle);
    return 1;
}

/* Adds the time under the topmost matches below n; a match inside a match is not counted
 * again, since its samples are already in. */
static void sum_matches(struct ssv_flame *f, struct ssv_fl_node *top)
{
    struct ssv_fl_node *n = top;
    while (n) {
        if (n->match) {
            f->match_ns += n->total;
        } else if (n->child) {
            n = n->child;
            continue;
        }
        while (n != top && !n->next)
            n = n->parent;
        n = n == top ? NULL : n->next;
    }
}

static void count_matches(struct ssv_flame *f, struct ssv_fl_node *top)
{
    struct ssv_fl_node *n = top;
    while (n) {
        f->nmatch += n->match != 0;
        if (n->child) {
            n = n->child;
            continue;
        }
        while (n != top && !n->next)
            n = n->parent;
        n = n == top ? NULL : n->next;
    }
}

void ssv_flame_search(struct ssv_flame *f, const char *needle)
{
    if (needle != f->needle)
        snprintf(f->needle, sizeof f->needle, "%s", needle);
    int on = f->needle[0] != '\0';
    for (struct ssv_fl_chunk *c = f->chunks; c; c = c->next)
        for (size_t i = 0; i < c->used; i++)
            c->nodes[i].match = on && strcasestr(c->nodes[i].name, f->needle) != NULL;
    f->nmatch = 0;
    f->match_ns = 0;
    if (!on || !f->zoom)
        return;
    count_matches(f, f->zoom);
    for (struct ssv_fl_node *a = f->zoom->parent; a; a = a->parent) {
        if (a->match) {
            f->match_ns = f->zoom->total;
            return;
        }
    }
    sum_matches(f, f->zoom);
}

double ssv_flame_share(const struct ssv_flame *f)
{
    return f->zoom && f->zoom->total ? (double)f->match_ns / (double)f->zoom->total : 0;
}

/* The node at the same path of names in another tree, or NULL. */
static struct ssv_fl_node *same_path(struct ssv_fl_node *root, const struct ssv_fl_node *old)
{
    if (!old)
        return NULL;
    if (!old->parent)
        return root;
    struct ssv_fl_node *parent = same_path(root, old->parent);
    for (struct ssv_fl_node *n = parent ? parent->child : NULL; n; n = n->next)
        if (strcmp(n->name, old->name) == 0)
            return n;
    return NULL;
}

void ssv_flame_carry(struct ssv_flame *to, const struct ssv_flame *from)
{
    for (size_t i = 0; i < from->nhistory; i++) {
        struct ssv_fl_node *n = same_path(to->root, from->history[i]);
        if (n && (to->nhistory == 0 || to->history[to->nhistory - 1] != n))
            to->history[to->nhistory++] = n;
    }
    struct ssv_fl_node *zoom = same_path(to->root, from->zoom);
    to->zoom = zoom ? zoom : to->root;
    if (to->nhistory && to->history[to->nhistory - 1] == to->zoom)
        to->nhistory--;
    struct ssv_fl_node *sel = same_path(to->root, from->sel);
    to->sel = to->zoom;
    for (struct ssv_fl_node *a = sel; a; a = a->parent)
        if (a == to->zoom)
            to->sel = sel;
    ssv_flame_search(to, from->needle);
}

static int place(struct ssv_fl_layout *l, struct ssv_fl_node *n, int row, int x, int w)
{
    if (SS_ARRAY_GROW(l->boxes, l->cap, l->n + 1) < 0)
        return -1;
    l->boxes[l->n++] = (struct ssv_fl_box){n, row, x, w};
    if (row + 1 > l->rows)
        l->rows = row + 1;
    uint64_t offset = 0;
    for (struct ssv_fl_node *c = n->child; c; c = c->next) {
        int cx = x + (int)((__uint128_t)offset * (unsigned)w / n->total);
        int cend = x + (int)((__uint128_t)(offset + c->total) * (unsigned)w / n->total);
        offset += c->total;
        if (cend > cx && place(l, c, row + 1, cx, cend - cx) < 0)
            return -1;
    }
    return 0;
}

int ssv_flame_layout(const struct ssv_flame *f, int width, struct ssv_fl_layout *l)
{
    l->n = 0;
    l->rows = 0;
    if (!f->zoom || f->zoom->total == 0 || width <= 0)
        return 0;
    return place(l, f->zoom, 0, 0, width);
}

void ssv_flame_layout_free(struct ssv_fl_layout *l)
{
    free(l->boxes);
    memset(l, 0, sizeof *l);
}

const struct ssv_fl_box *ssv_flame_box(const struct ssv_fl_layout *l, const struct ssv_fl_node *n)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->boxes[i].node == n)
            return &l->boxes[i];
    return NULL;
}

static struct ssv_fl_node *neighbour(const struct ssv_fl_layout *l, const struct ssv_fl_box *at,
                                     int dir)
{
    const struct ssv_fl_box *best = NULL;
    for (size_t i = 0; i < l->n; i++) {
        const struct ssv_fl_box *b = &l->boxes[i];
        if (b->row != at->row || (dir < 0 ? b->x >= at->x : b->x <= at->x))
            continue;
        if (!best || (dir < 0 ? b->x > best->x : b->x < best->x))
            best = b;
    }
    return best ? best->node : NULL;
}

static struct ssv_fl_node *next_match(const struct ssv_fl_layout *l, const struct ssv_fl_box *at,
                                      int dir)
{
    size_t start = (size_t)(at - l->boxes);
    for (size_t k = 1; k <= l->n; k++) {
        size_t i = dir > 0 ? (start + k) % l->n : (start + l->n - k) % l->n;
        if (l->boxes[i].node->match)
            return l->boxes[i].node;
    }
    return NULL;
}

int ssv_flame_move(struct ssv_flame *f, const struct ssv_fl_layout *l, enum ssv_fl_move m)
{
    const struct ssv_fl_box *at = ssv_flame_box(l, f->sel);
    if (!at) {
        if (!l->n)
            return 0;
        at = &l->boxes[0];
        f->sel = at->node;
    }
    struct ssv_fl_node *to = NULL;
    switch (m) {
    case SSV_FL_UP:
        to = f->sel != f->zoom ? f->sel->parent : NULL;
        break;
    case SSV_FL_DOWN:
        for (struct ssv_fl_node *c = f->sel->child; c && !to; c = c->next)
            to = ssv_flame_box(l, c) ? c : NULL;
        break;
    case SSV_FL_LEFT:
    case SSV_FL_RIGHT:
        to = neighbour(l, at, m == SSV_FL_LEFT ? -1 : 1);
        break;
    case SSV_FL_TOP:
        to = f->zoom;
        break;
    case SSV_FL_BOTTOM:
        to = f->zoom;
        for (struct ssv_fl_node *c = to->child; c && ssv_flame_box(l, c); c = to->child)
            to = c;
        break;
    case SSV_FL_NEXT:
    case SSV_FL_PREV:
        to = next_match(l, at, m == SSV_FL_NEXT ? 1 : -1);
        break;
    }
    if (!to || to == f->sel)
        return 0;
    f->sel = to;
    return 1;
}
