/* The Causes view: the stalled time of the stalls kept in detail by cause (docs/causes.md), the
 * largest first, with where each took longest and what to do about it; Enter lists a cause's
 * stalls in the Stalls view. */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "common/options.h"

static const char *const help[] = {
    "Enter        the stalls with time in the selected cause (Esc there: back)",
    "",
    "A stall's time is shared out among causes: stopped, blocked in calls,",
    "starved of CPU, page faults, then work on CPU by kind. SHARE is of all",
    "stalled time; STALLS counts the stalls with a part of the cause.",
    NULL,
};

enum { C_CAUSE, C_TIME, C_SHARE, C_STALLS, C_LONGEST, NCOLS };

static const struct {
    const char *title;
    int x, width, right;
} cols[NCOLS] = {
    {"CAUSE", 0, 17, 0},  {"STALLED", 18, 9, 1}, {"SHARE", 28, 6, 1},
    {"STALLS", 35, 7, 1}, {"LONGEST", 43, 9, 1},
};

#define BAR_X 54
/* Rows under the table for the selected cause: its summary and its advice. */
#define DETAIL_ROWS 7

static int bar_width(int w)
{
    return w >= 120 ? 20 : 10;
}

static unsigned percent(uint64_t part, uint64_t whole)
{
    return whole ? (unsigned)((part * 100 + whole / 2) / whole) : 0;
}

static const struct ssv_vm_cause *selected(struct ssv_app *a)
{
    const struct ssv_vm *vm = &a->snap->vm;
    return vm->ncauses ? &vm->causes[a->causes.pos.sel < vm->ncauses ? a->causes.pos.sel : 0]
                       : NULL;
}

static void draw_header(struct ssv_canvas *c, int y)
{
    ssv_cv_fill(c, y, 0, c->w, SSV_CV_HEADER, " ");
    for (int i = 0; i < NCOLS; i++) {
        char title[32];
        snprintf(title, sizeof title, "%s%s", cols[i].title, i == C_TIME ? c->g->down : "");
        if (cols[i].right)
            ssv_cv_right(c, y, cols[i].x, cols[i].width, SSV_CV_HEADER, title);
        else
            ssv_cv_put(c, y, cols[i].x, cols[i].width, SSV_CV_HEADER, title);
    }
    ssv_cv_put(c, y, BAR_X + bar_width(c->w) + 1, -1, SSV_CV_HEADER, "LONGEST IN");
}

static void draw_row(struct ssv_app *a, struct ssv_canvas *c, int y, const struct ssv_vm_cause *k,
                     int sel)
{
    const struct ssv_vm *vm = &a->snap->vm;
    int style = sel ? SSV_CV_SELECTED : k->match ? SSV_CV_MATCH : SSV_CV_NORMAL;
    char v[NCOLS][48];
    snprintf(v[C_CAUSE], sizeof v[C_CAUSE], "%s", k->name);
    ss_format_duration(k->ns, v[C_TIME], sizeof v[C_TIME]);
    snprintf(v[C_SHARE], sizeof v[C_SHARE], "%u%%", percent(k->ns, vm->stalled_ns));
    snprintf(v[C_STALLS], sizeof v[C_STALLS], "%zu", k->stalls);
    ss_format_duration(k->longest_ns, v[C_LONGEST], sizeof v[C_LONGEST]);
    if (sel || k->match)
        ssv_cv_fill(c, y, 0, c->w, style, " ");
    for (int i = 0; i < NCOLS; i++) {
        if (cols[i].right)
            ssv_cv_right(c, y, cols[i].x, cols[i].width, style, v[i]);
        else
            ssv_cv_fit(c, y, cols[i].x, cols[i].width, style, v[i]);
    }
    int bar = bar_width(c->w);
    ssv_cv_bar(c, y, BAR_X, bar, sel ? style : SSV_CV_BAR, k->ns, vm->causes[0].ns);
    ssv_cv_fit(c, y, BAR_X + bar + 1, -1, style, k->where);
}

/* The summary and the advice of one cause; returns the rows used, at most h. */
static int draw_detail(struct ssv_canvas *c, int y, int h, const struct ssv_vm *vm,
                       const struct ssv_vm_cause *k)
{
    char d[32], longest[32];
    ss_format_duration(k->ns, d, sizeof d);
    ss_format_duration(k->longest_ns, longest, sizeof longest);
    int row = 0;
    if (row < h)
        ssv_cv_printf(c, y + row++, 1, c->w - 2, SSV_CV_HEADER,
                      "%s: %s, %u%% of the stalled time, in %zu stall%s; longest %s%s%s (pid %u)",
                      k->name, d, percent(k->ns, vm->stalled_ns), k->stalls,
                      k->stalls == 1 ? "" : "s", longest, k->where[0] ? " in " : "", k->where,
                      k->proc ? k->proc->pid : 0);
    for (size_t i = 0; i < k->nadvice && row < h; i++) {
        ssv_cv_put(c, y + row, 3, 8, SSV_CV_NORMAL, "advice:");
        row += ssv_draw_wrapped(c, y + row, 11, c->w - 12, h - row, SSV_CV_NORMAL, k->advice[i]);
    }
    if (!k->nadvice && row < h)
        ssv_cv_put(c, y + row++, 3, -1, SSV_CV_DIM, "no advice for this cause");
    return row;
}

static void draw(struct ssv_app *a, struct ssv_canvas *c, int y, int h)
{
    const struct ssv_vm *vm = &a->snap->vm;
    if (vm->ncauses == 0) {
        ssv_cv_put(c, y + 1, 2, -1, SSV_CV_DIM,
                   a->state == SSV_SRC_LIVE ? "no stalls yet (watching the run)"
                                            : "no stalls in this run");
        return;
    }
    char d[32];
    ss_format_duration(vm->stalled_ns, d, sizeof d);
    ssv_cv_printf(c, y, 1, c->w - 2, SSV_CV_HEADER, "Stalled time by cause: %s in %zu stall%s%s", d,
                  vm->nstalls, vm->nstalls == 1 ? "" : "s",
                  vm->summarised ? " kept in detail (summarised ones are not in it)" : "");
    struct ssv_list_pos *pos = &a->causes.pos;
    int table = (int)vm->ncauses;
    if (!a->batch && table > h - 3 - DETAIL_ROWS)
        table = h - 3 - DETAIL_ROWS > 1 ? h - 3 - DETAIL_ROWS : 1;
    ssv_list_show(pos, vm->ncauses, table);
    draw_header(c, y + 1);
    for (size_t i = pos->top; i < vm->ncauses && (int)(i - pos->top) < table; i++)
        draw_row(a, c, y + 2 + (int)(i - pos->top), &vm->causes[i], i == pos->sel && !a->batch);
    int row = y + table + 3;
    if (!a->batch) {
        draw_detail(c, row, y + h - row, vm, selected(a));
        return;
    }
    for (size_t i = 0; i < vm->ncauses; i++)
        row += draw_detail(c, row, 1 << 20, vm, &vm->causes[i]) + 1;
}

static int matches(struct ssv_app *a, size_t i)
{
    return a->snap->vm.causes[i].match;
}

static int key(struct ssv_app *a, int k)
{
    struct ssv_vm *vm = &a->snap->vm;
    if (vm->ncauses == 0)
        return SSV_ACT_PASS;
    int act;
    if (k == SSV_KEY_ENTER) {
        ssv_vm_filter(vm, selected(a)->name);
        a->view = SSV_VIEW_STALLS;
        a->stalls.pos.sel = a->stalls.pos.top = 0;
        a->stalls.detail = a->stalls.have_id = 0;
        a->stalls.follow = 1;
        return SSV_ACT_REDRAW;
    }
    if (k == 'n' || k == 'N')
        act = ssv_list_next_match(&a->causes.pos, vm->ncauses, k == 'n' ? 1 : -1, matches, a);
    else
        act = ssv_list_key(&a->causes.pos, vm->ncauses, k, a->page / 2);
    snprintf(a->causes.name, sizeof a->causes.name, "%s", selected(a)->name);
    return act;
}

static void status(struct ssv_app *a, char *buf, size_t size)
{
    const struct ssv_vm *vm = &a->snap->vm;
    if (vm->needle[0])
        snprintf(buf, size, "/%s: %zu of %zu causes match  n N next/previous", vm->needle,
                 vm->nmatch_causes, vm->ncauses);
    else
        snprintf(buf, size, "%zu cause%s, most stalled time first  Enter its stalls", vm->ncauses,
                 vm->ncauses == 1 ? "" : "s");
}

/* A live run's causes change order as they grow: the selection stays on its cause. */
static void reloaded(struct ssv_app *a, const struct ssv_snapshot *old)
{
    (void)old;
    const struct ssv_vm *vm = &a->snap->vm;
    struct ssv_list_pos *pos = &a->causes.pos;
    for (size_t i = 0; a->causes.name[0] && i < vm->ncauses; i++)
        if (strcmp(vm->causes[i].name, a->causes.name) == 0)
            pos->sel = i;
    if (pos->sel >= vm->ncauses)
        pos->sel = vm->ncauses ? vm->ncauses - 1 : 0;
}

const struct ssv_view_ops ssv_view_causes = {"Causes", help, draw, key, status, reloaded};
