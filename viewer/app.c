#define _GNU_SOURCE
#include "app.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct ssv_view_ops *const views[SSV_NVIEWS] = {
    [SSV_VIEW_STALLS] = &ssv_view_stalls, [SSV_VIEW_FLAME] = &ssv_view_flame,
    [SSV_VIEW_CALLS] = &ssv_view_calls,   [SSV_VIEW_LOOPS] = &ssv_view_loops,
    [SSV_VIEW_CAUSES] = &ssv_view_causes,
};

static const char *const global_help[] = {
    "q            quit (Ctrl-C too)",
    "? F1         this help; any key closes it",
    "Tab 1-5      next view, or view 1 to 5 (Shift-Tab: previous)",
    "j k Up Down  move;  PgUp PgDn Space  page;  g G  first, last",
    "Enter        open the selection",
    "Esc          back, zoom out, then clear the search",
    "/ n N        search any part of a name, any case; next, previous",
    "z            freeze or resume live updates",
    NULL,
};

void ssv_app_init(struct ssv_app *a, const char *path)
{
    memset(a, 0, sizeof *a);
    a->path = path;
    a->state = SSV_SRC_WAITING;
    a->stalls.follow = 1;
}

void ssv_app_free(struct ssv_app *a)
{
    ssv_snapshot_free(a->snap);
    ssv_text_clear(&a->stalls.text);
    ssv_text_clear(&a->calls.text);
    ssv_flame_layout_free(&a->flame.layout);
    a->snap = NULL;
}

void ssv_app_set_message(struct ssv_app *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->message, sizeof a->message, fmt, ap);
    va_end(ap);
}

static int same_scope(const struct ssv_vm_scope *x, const struct ssv_vm_scope *y)
{
    return x->kind == y->kind && x->pid == y->pid && x->tid == y->tid && x->start_ns == y->start_ns;
}

void ssv_app_set_scope(struct ssv_app *a, const struct ssv_vm_scope *sc)
{
    a->scope = *sc;
    if (!a->snap || same_scope(&a->snap->flame.scope, sc))
        return;
    struct ssv_flame f;
    if (ssv_flame_build(&f, &a->snap->vm, sc) < 0) {
        ssv_app_set_message(a, "out of memory");
        return;
    }
    ssv_flame_search(&f, a->snap->vm.needle);
    ssv_flame_free(&a->snap->flame);
    a->snap->flame = f;
    a->flame.top = 0;
}

void ssv_app_install(struct ssv_app *a, struct ssv_snapshot *s)
{
    struct ssv_snapshot *old = a->snap;
    if (!same_scope(&s->flame.scope, &a->scope)) {
        struct ssv_flame f;
        if (ssv_flame_build(&f, &s->vm, &a->scope) == 0) {
            ssv_flame_free(&s->flame);
            s->flame = f;
        }
    }
    ssv_vm_sort(&s->vm, old ? old->vm.sort : a->sort);
    ssv_vm_filter(&s->vm, old ? old->vm.cause : "");
    ssv_vm_search(&s->vm, old ? old->vm.needle : a->saved);
    if (old)
        ssv_flame_carry(&s->flame, &old->flame);
    else
        ssv_flame_search(&s->flame, s->vm.needle);
    a->snap = s;
    for (int v = 0; v < SSV_NVIEWS; v++)
        views[v]->reloaded(a, old);
    ssv_snapshot_free(old);
}

static void search(struct ssv_app *a, const char *needle)
{
    if (!a->snap)
        return;
    ssv_vm_search(&a->snap->vm, needle);
    ssv_flame_search(&a->snap->flame, needle);
}

static const char *state_name(const struct ssv_app *a)
{
    if (a->frozen)
        return "frozen";
    switch (a->state) {
    case SSV_SRC_LIVE:
        return "live";
    case SSV_SRC_QUIET:
        return "quiet";
    case SSV_SRC_FINISHED:
        return "finished";
    default:
        return a->error[0] ? "waiting" : "loading";
    }
}

static void draw_top(struct ssv_app *a, struct ssv_canvas *c)
{
    ssv_cv_fill(c, 0, 0, c->w, SSV_CV_TITLE, " ");
    int x = ssv_cv_put(c, 0, 0, -1, SSV_CV_TITLE, " stallscope ");
    for (int v = 0; v < SSV_NVIEWS; v++) {
        char tab[32];
        snprintf(tab, sizeof tab, " %d %s ", v + 1, views[v]->name);
        x += ssv_cv_put(c, 0, x, -1, v == (int)a->view ? SSV_CV_TAB_ON : SSV_CV_TAB, tab);
    }
    /* What fits of: counts and path, the stall count and path, the stall count. */
    char right[3][512];
    size_t stalls = a->snap ? a->snap->vm.nstalls : 0,
           procs = a->snap ? a->snap->vm.run->nprocs : 0;
    snprintf(right[0], sizeof right[0], " %zu stall%s, %zu process%s  %s ", stalls,
             stalls == 1 ? "" : "s", procs, procs == 1 ? "" : "es", a->path);
    snprintf(right[1], sizeof right[1], " %zu stall%s  %s ", stalls, stalls == 1 ? "" : "s",
             a->path);
    snprintf(right[2], sizeof right[2], " %zu stall%s ", stalls, stalls == 1 ? "" : "s");
    const char *state = state_name(a);
    int sw = ssv_cv_width(c, state) + 2, room = c->w - x - 1 - sw;
    for (int i = a->snap ? 0 : 2; i < 3; i++) {
        int n = ssv_cv_width(c, right[i]);
        if (n <= room) {
            ssv_cv_put(c, 0, c->w - sw - n, n, SSV_CV_TITLE, right[i]);
            break;
        }
    }
    if (c->w - x > sw)
        ssv_cv_printf(c, 0, c->w - sw, sw,
                      a->frozen                     ? SSV_CV_WARN
                      : a->state == SSV_SRC_LIVE    ? SSV_CV_LIVE
                      : a->state == SSV_SRC_WAITING ? SSV_CV_WARN
                                                    : SSV_CV_TAB_ON,
                      " %s ", state);
}

static void draw_bottom(struct ssv_app *a, struct ssv_canvas *c, int y)
{
    char hint[256] = "";
    ssv_cv_fill(c, y, 0, c->w, SSV_CV_STATUS, " ");
    if (a->prompt) {
        int x = ssv_cv_printf(c, y, 0, -1, SSV_CV_STATUS, "/%s", a->input);
        ssv_cv_put(c, y, x, 1, SSV_CV_SELECTED, " ");
        return;
    }
    if (a->message[0] || a->error[0]) {
        ssv_cv_fit(c, y, 1, -1, SSV_CV_WARN, a->message[0] ? a->message : a->error);
        return;
    }
    if (a->snap)
        views[a->view]->status(a, hint, sizeof hint);
    int x = ssv_cv_fit(c, y, 1, c->w - 18, SSV_CV_STATUS, hint);
    if (c->w - x > 20)
        ssv_cv_right(c, y, 0, c->w - 1, SSV_CV_STATUS, "? help  q quit");
}

static int lines_in(const char *const *l)
{
    int n = 0;
    while (l[n])
        n++;
    return n;
}

static void draw_help(struct ssv_app *a, struct ssv_canvas *c)
{
    const char *const *parts[] = {global_help, views[a->view]->help};
    int rows = lines_in(parts[0]) + 1 + lines_in(parts[1]);
    int w = c->w - 4 < 76 ? c->w - 4 : 76, h = rows + 2 < c->h ? rows + 2 : c->h;
    if (w < 10 || h < 3)
        return;
    int x0 = (c->w - w) / 2, y0 = (c->h - h) / 2;
    const struct ssv_cv_glyphs *g = c->g;
    for (int y = y0; y < y0 + h; y++) {
        ssv_cv_fill(c, y, x0, w, SSV_CV_NORMAL, " ");
        ssv_cv_fill(c, y, x0, 1, SSV_CV_HEADER, g->vline);
        ssv_cv_fill(c, y, x0 + w - 1, 1, SSV_CV_HEADER, g->vline);
    }
    ssv_cv_fill(c, y0, x0, w, SSV_CV_HEADER, g->hline);
    ssv_cv_fill(c, y0 + h - 1, x0, w, SSV_CV_HEADER, g->hline);
    ssv_cv_fill(c, y0, x0, 1, SSV_CV_HEADER, g->corner[0]);
    ssv_cv_fill(c, y0, x0 + w - 1, 1, SSV_CV_HEADER, g->corner[1]);
    ssv_cv_fill(c, y0 + h - 1, x0, 1, SSV_CV_HEADER, g->corner[2]);
    ssv_cv_fill(c, y0 + h - 1, x0 + w - 1, 1, SSV_CV_HEADER, g->corner[3]);
    ssv_cv_printf(c, y0, x0 + 2, w - 4, SSV_CV_HEADER, " Keys: %s view ", views[a->view]->name);
    int y = y0 + 1;
    for (size_t i = 0; i < 2; i++) {
        for (int k = 0; parts[i][k] && y < y0 + h - 1; k++)
            ssv_cv_fit(c, y++, x0 + 2, w - 4, SSV_CV_NORMAL, parts[i][k]);
        y++;
    }
}

void ssv_app_draw(struct ssv_app *a, struct ssv_canvas *c)
{
    ssv_cv_clear(c);
    if (c->h < 3) {
        ssv_cv_put(c, 0, 0, -1, SSV_CV_WARN, "stallscope: terminal too small");
        return;
    }
    a->page = c->h - 2;
    draw_top(a, c);
    if (a->snap)
        views[a->view]->draw(a, c, 1, c->h - 2);
    else
        ssv_cv_printf(c, 2, 2, -1, SSV_CV_DIM,
                      a->error[0] ? "waiting for a run to read in %s" : "reading %s ...", a->path);
    draw_bottom(a, c, c->h - 1);
    if (a->help)
        draw_help(a, c);
}

void ssv_app_draw_batch(struct ssv_app *a, enum ssv_app_view v, struct ssv_canvas *c)
{
    a->batch = 1;
    a->view = v;
    a->page = 1 << 28;
    views[v]->draw(a, c, 0, a->page);
}

static int prompt_key(struct ssv_app *a, int key)
{
    size_t n = strlen(a->input);
    if (key == SSV_KEY_ESC) {
        a->prompt = 0;
        search(a, a->saved);
    } else if (key == SSV_KEY_ENTER) {
        a->prompt = 0;
        snprintf(a->saved, sizeof a->saved, "%s", a->input);
        return a->snap ? views[a->view]->key(a, 'n') & ~SSV_ACT_PASS : SSV_ACT_REDRAW;
    } else if (key == SSV_KEY_BACKSPACE || key == 127 || key == 8) {
        if (n > 0)
            a->input[n - 1] = '\0';
        search(a, a->input);
    } else if (key >= ' ' && key < 0x1000 && n + 1 < sizeof a->input) {
        a->input[n] = (char)key;
        a->input[n + 1] = '\0';
        search(a, a->input);
    }
    return SSV_ACT_REDRAW;
}

int ssv_app_key(struct ssv_app *a, int key)
{
    a->message[0] = '\0';
    if (a->help) {
        a->help = 0;
        return key == 'q' ? SSV_ACT_QUIT : SSV_ACT_REDRAW;
    }
    if (a->prompt)
        return prompt_key(a, key);
    if (key == ' ')
        key = SSV_KEY_PGDN;
    switch (key) {
    case 'q':
        return SSV_ACT_QUIT;
    case '?':
    case SSV_KEY_F1:
        a->help = 1;
        return SSV_ACT_REDRAW;
    case SSV_KEY_TAB:
        a->view = (a->view + 1) % SSV_NVIEWS;
        return SSV_ACT_REDRAW;
    case SSV_KEY_BTAB:
        a->view = (a->view + SSV_NVIEWS - 1) % SSV_NVIEWS;
        return SSV_ACT_REDRAW;
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
        a->view = (enum ssv_app_view)(key - '1');
        return SSV_ACT_REDRAW;
    case 'z':
        a->frozen = !a->frozen;
        ssv_app_set_message(a, a->frozen ? "frozen: live updates paused (z resumes)"
                                         : "live updates resumed");
        return a->frozen ? SSV_ACT_REDRAW : SSV_ACT_REDRAW | SSV_ACT_RELOAD;
    case '/':
        a->prompt = 1;
        a->input[0] = '\0';
        snprintf(a->saved, sizeof a->saved, "%s", a->snap ? a->snap->vm.needle : "");
        return SSV_ACT_REDRAW;
    }
    if (!a->snap)
        return SSV_ACT_NONE;
    int act = views[a->view]->key(a, key);
    if (!(act & SSV_ACT_PASS))
        return act;
    if (key == SSV_KEY_ESC && a->snap->vm.needle[0]) {
        search(a, "");
        return SSV_ACT_REDRAW;
    }
    if (key == 'n' || key == 'N')
        ssv_app_set_message(a, a->snap->vm.needle[0] ? "no match" : "no search (/ searches)");
    return SSV_ACT_REDRAW;
}
