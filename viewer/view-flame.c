/* The Flame view: an icicle of the stalled time of a scope, root at the top. */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "common/options.h"

static const char *const help[] = {
    "j k Up Down  to the heaviest callee, to the caller",
    "h l  Left Right  to the neighbouring frame in the row",
    "g G          the zoomed frame, the hottest frame under it",
    "PgUp PgDn    half a page of callers, of heaviest callees",
    "Enter Esc    zoom into the frame, zoom back out",
    "s            scope: all stalls, the process, thread or stall selected",
    "             in the Stalls view, the stall itself",
    "n N          next, previous frame matching the search",
    "",
    "Widths: a stall's time is shared out among its samples as the exports",
    "share it: a sample stands for the time until the next one, the first",
    "also for the time before it; one taken in a blocking call stands for",
    "the call, its innermost frame. Summarised stalls count by stack.",
    NULL,
};

static double pct(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0;
}

static void draw_info(struct ssv_app *a, struct ssv_canvas *c, int y)
{
    const struct ssv_flame *f = &a->snap->flame;
    char scope[256], d[32], self[32];
    ssv_vm_scope_name(&a->snap->vm, &f->scope, scope, sizeof scope);
    ss_format_duration(f->root->total, d, sizeof d);
    ssv_cv_fill(c, y, 0, c->w, SSV_CV_HEADER, " ");
    char summarised[64] = "";
    if (f->summarised)
        snprintf(summarised, sizeof summarised, " (%llu stalls summarised, by stack)",
                 (unsigned long long)f->summarised);
    ssv_cv_printf(c, y, 1, -1, SSV_CV_HEADER, "Scope: %s: %llu samples, %s%s%s", scope,
                  (unsigned long long)f->nsamples, d, summarised,
                  a->batch ? "" : "  (s: next scope)");
    if (a->batch || !f->sel)
        return;
    ss_format_duration(f->sel->total, d, sizeof d);
    ss_format_duration(f->sel->self, self, sizeof self);
    int x = ssv_cv_fit(c, y + 1, 1, c->w / 2, SSV_CV_SELECTED, f->sel->name);
    ssv_cv_printf(c, y + 1, x + 1, -1, SSV_CV_NORMAL,
                  " %s, %.1f%% of shown, %.1f%% of scope; self %s", d,
                  pct(f->sel->total, f->zoom->total), pct(f->sel->total, f->root->total), self);
}

/* A frame is its left edge and its name, then its share of the zoomed frame when it fits (not
 * for the callers of the zoomed frame, drawn dim above it). */
static void draw_box(struct ssv_app *a, struct ssv_canvas *c, int y, int x, int w,
                     const struct ssv_fl_node *n, int style)
{
    const struct ssv_flame *f = &a->snap->flame;
    int caller = style == SSV_CV_DIM;
    if (n == f->sel && !a->batch)
        style = SSV_CV_FLAME_SEL;
    else if (n->match)
        style = SSV_CV_MATCH;
    ssv_cv_fill(c, y, x, w, style, " ");
    ssv_cv_fill(c, y, x, 1, style, c->g->edge);
    if (w < 2)
        return;
    int used = ssv_cv_fit(c, y, x + 1, w - 1, style, n->name);
    char share[16];
    snprintf(share, sizeof share, " %.1f%%", pct(n->total, f->zoom->total));
    if (!caller && used + ssv_cv_width(c, share) < w - 1)
        ssv_cv_put(c, y, x + 1 + used, -1, style, share);
}

static void draw(struct ssv_app *a, struct ssv_canvas *c, int y, int h)
{
    struct ssv_flame *f = &a->snap->flame;
    int info = a->batch ? 1 : 2;
    draw_info(a, c, y);
    if (!f->root->total) {
        ssv_cv_put(c, y + info + 1, 2, -1, SSV_CV_DIM, "no samples in this scope");
        return;
    }
    struct ssv_fl_layout *l = &a->flame.layout;
    a->flame.width = c->w;
    if (ssv_flame_layout(f, c->w, l) < 0)
        return;
    int ancestors = (int)f->zoom->depth, rows = ancestors + l->rows, room = h - info;
    const struct ssv_fl_box *sel = ssv_flame_box(l, f->sel);
    int sel_row = ancestors + (sel ? sel->row : 0);
    if (a->flame.top > sel_row)
        a->flame.top = sel_row;
    if (sel_row >= a->flame.top + room)
        a->flame.top = sel_row - room + 1;
    if (a->flame.top > rows - room)
        a->flame.top = rows > room ? rows - room : 0;
    int top = a->flame.top, base = y + info - top;
    int row = ancestors - 1;
    for (const struct ssv_fl_node *n = f->zoom->parent; n; n = n->parent, row--)
        if (row >= top && row < top + room)
            draw_box(a, c, base + row, 0, c->w, n, SSV_CV_DIM);
    for (size_t i = 0; i < l->n; i++) {
        const struct ssv_fl_box *b = &l->boxes[i];
        row = ancestors + b->row;
        if (row >= top && row < top + room)
            draw_box(a, c, base + row, b->x, b->w, b->node, ssv_flame_style(b->node->name));
    }
}

static void next_scope(struct ssv_app *a)
{
    struct ssv_vm_scope sc = a->snap->flame.scope;
    if (!a->stalls.have_id) {
        ssv_app_set_message(a, "no stall selected: the flame covers all stalls");
        return;
    }
    sc.kind = (enum ssv_vm_scope_kind)((sc.kind + 1) % (SSV_VM_SCOPE_STALL + 1));
    sc.pid = a->stalls.pid;
    sc.tid = a->stalls.tid;
    sc.start_ns = a->stalls.start_ns;
    ssv_app_set_scope(a, &sc);
}

static int key(struct ssv_app *a, int k)
{
    struct ssv_flame *f = &a->snap->flame;
    struct ssv_fl_layout *l = &a->flame.layout;
    /* Moves go by what is on screen, laid out again in case a reload or zoom came first. */
    if (ssv_flame_layout(f, a->flame.width, l) < 0)
        return SSV_ACT_NONE;
    static const struct {
        int key;
        enum ssv_fl_move move;
    } moves[] = {
        {'k', SSV_FL_UP},     {SSV_KEY_UP, SSV_FL_UP},
        {'j', SSV_FL_DOWN},   {SSV_KEY_DOWN, SSV_FL_DOWN},
        {'h', SSV_FL_LEFT},   {SSV_KEY_LEFT, SSV_FL_LEFT},
        {'l', SSV_FL_RIGHT},  {SSV_KEY_RIGHT, SSV_FL_RIGHT},
        {'g', SSV_FL_TOP},    {SSV_KEY_HOME, SSV_FL_TOP},
        {'G', SSV_FL_BOTTOM}, {SSV_KEY_END, SSV_FL_BOTTOM},
        {'n', SSV_FL_NEXT},   {'N', SSV_FL_PREV},
    };
    for (size_t i = 0; i < sizeof moves / sizeof moves[0]; i++) {
        if (moves[i].key != k)
            continue;
        if (ssv_flame_move(f, l, moves[i].move))
            return SSV_ACT_REDRAW;
        return (k == 'n' || k == 'N') && f->nmatch == 0 ? SSV_ACT_PASS : SSV_ACT_NONE;
    }
    switch (k) {
    case SSV_KEY_ENTER:
        ssv_flame_zoom(f, f->sel);
        a->flame.top = 0;
        return SSV_ACT_REDRAW;
    case SSV_KEY_ESC:
        return ssv_flame_unzoom(f) ? SSV_ACT_REDRAW : SSV_ACT_PASS;
    case SSV_KEY_PGUP:
    case SSV_KEY_PGDN:
        for (int i = 0; i < a->page / 2; i++)
            ssv_flame_move(f, l, k == SSV_KEY_PGUP ? SSV_FL_UP : SSV_FL_DOWN);
        return SSV_ACT_REDRAW;
    case 's':
        next_scope(a);
        return SSV_ACT_REDRAW;
    }
    return SSV_ACT_PASS;
}

static void status(struct ssv_app *a, char *buf, size_t size)
{
    const struct ssv_flame *f = &a->snap->flame;
    if (f->needle[0])
        snprintf(buf, size, "/%s: %zu frame%s, %.1f%% of shown  n N next/previous", f->needle,
                 f->nmatch, f->nmatch == 1 ? "" : "s", 100.0 * ssv_flame_share(f));
    else
        snprintf(buf, size, "Enter zoom%s  s scope  / search", f->nhistory ? "  Esc zoom out" : "");
}

static void reloaded(struct ssv_app *a, const struct ssv_snapshot *old)
{
    (void)old;
    a->flame.layout.n = 0;
}

const struct ssv_view_ops ssv_view_flame = {"Flame", help, draw, key, status, reloaded};
