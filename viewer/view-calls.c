/* The Calls view: blocking call sites, longest total time first, and the stack of one. */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "common/options.h"

static const char *const help[] = {
    "Enter        the call site's stack; Esc back",
    NULL,
};

struct columns {
    int function, category, pid, count, total, max, bar, site;
};

/* Narrow terminals drop the category and the pid. */
static struct columns layout(int w)
{
    if (w >= 100)
        return (struct columns){0, 17, 28, 36, 45, 55, 65, 78};
    return (struct columns){0, -1, -1, 17, 26, 36, 46, 55};
}

static void draw_header(struct ssv_canvas *c, int y)
{
    struct columns col = layout(c->w);
    ssv_cv_fill(c, y, 0, c->w, SSV_CV_HEADER, " ");
    ssv_cv_put(c, y, col.function, -1, SSV_CV_HEADER, "FUNCTION");
    if (col.category >= 0) {
        ssv_cv_put(c, y, col.category, -1, SSV_CV_HEADER, "CATEGORY");
        ssv_cv_right(c, y, col.pid, 7, SSV_CV_HEADER, "PID");
    }
    ssv_cv_right(c, y, col.count, 8, SSV_CV_HEADER, "COUNT");
    char total[16];
    snprintf(total, sizeof total, "TOTAL%s", c->g->down);
    ssv_cv_right(c, y, col.total, 9, SSV_CV_HEADER, total);
    ssv_cv_right(c, y, col.max, 9, SSV_CV_HEADER, "MAX");
    ssv_cv_put(c, y, col.site, -1, SSV_CV_HEADER, "CALL SITE");
}

static void draw_row(struct ssv_app *a, struct ssv_canvas *c, int y, const struct ssv_vm_call *k,
                     int sel)
{
    struct columns col = layout(c->w);
    int style = sel ? SSV_CV_SELECTED : k->match ? SSV_CV_MATCH : SSV_CV_NORMAL;
    char buf[32];
    if (sel || k->match)
        ssv_cv_fill(c, y, 0, c->w, style, " ");
    ssv_cv_fit(c, y, col.function, 16, style, k->function);
    if (col.category >= 0) {
        ssv_cv_fit(c, y, col.category, 10, style, k->category ? k->category : "");
        snprintf(buf, sizeof buf, "%u", k->proc->pid);
        ssv_cv_right(c, y, col.pid, 7, style, buf);
    }
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)k->count);
    ssv_cv_right(c, y, col.count, 8, style, buf);
    ss_format_duration(k->total_ns, buf, sizeof buf);
    ssv_cv_right(c, y, col.total, 9, style, buf);
    ss_format_duration(k->max_ns, buf, sizeof buf);
    ssv_cv_right(c, y, col.max, 9, style, buf);
    ssv_cv_bar(c, y, col.bar, col.site - col.bar - 1, sel ? style : SSV_CV_BAR, k->total_ns,
               a->snap->vm.max_call_ns);
    ssv_cv_fit(c, y, col.site, -1, style, k->site ? k->site : "(no stack)");
}

static void build_detail(struct ssv_app *a, const struct ssv_vm_call *k)
{
    struct ssv_text *t = &a->calls.text;
    char total[32], max[32];
    ssv_text_clear(t);
    ss_format_duration(k->total_ns, total, sizeof total);
    ss_format_duration(k->max_ns, max, sizeof max);
    ssv_text_add(t, SSV_CV_HEADER, NULL, "%s()%s%s%s in pid %u: %llu call%s, %s in all, longest %s",
                 k->function, k->category ? " (" : "", k->category ? k->category : "",
                 k->category ? ")" : "", k->proc->pid, (unsigned long long)k->count,
                 k->count == 1 ? "" : "s", total, max);
    ssv_text_add(t, SSV_CV_NORMAL, NULL, "  command   %s", k->proc->command);
    ssv_text_add(t, SSV_CV_NORMAL, NULL, " ");
    ssv_text_add(t, SSV_CV_HEADER, NULL, "Called from:");
    if (k->stack)
        ssv_text_stack(t, &a->snap->vm, k->proc, k->stack, "    ");
    else
        ssv_text_add(t, SSV_CV_DIM, NULL, "    no stack was captured");
}

static void draw(struct ssv_app *a, struct ssv_canvas *c, int y, int h)
{
    const struct ssv_vm *vm = &a->snap->vm;
    if (a->calls.detail) {
        ssv_text_draw(&a->calls.text, c, y, h);
        return;
    }
    if (vm->ncalls == 0) {
        ssv_cv_put(c, y + 1, 2, -1, SSV_CV_DIM, "no blocking calls recorded");
        ssv_cv_put(c, y + 2, 2, -1, SSV_CV_DIM,
                   "(a sleep caught inside a stall shows in the Stalls view, BLOCKED IN)");
        return;
    }
    draw_header(c, y);
    struct ssv_list_pos *pos = &a->calls.pos;
    ssv_list_show(pos, vm->ncalls, h - 1);
    for (size_t i = pos->top; i < vm->ncalls && (int)(i - pos->top) < h - 1; i++)
        draw_row(a, c, y + 1 + (int)(i - pos->top), &vm->calls[i], i == pos->sel && !a->batch);
}

static int matches(struct ssv_app *a, size_t i)
{
    return a->snap->vm.calls[i].match;
}

static int key(struct ssv_app *a, int k)
{
    const struct ssv_vm *vm = &a->snap->vm;
    if (a->calls.detail) {
        if (k == SSV_KEY_ESC) {
            a->calls.detail = 0;
            return SSV_ACT_REDRAW;
        }
        return ssv_text_key(&a->calls.text, k, a->page);
    }
    if (vm->ncalls == 0)
        return SSV_ACT_PASS;
    if (k == SSV_KEY_ENTER) {
        a->calls.detail = 1;
        build_detail(a, &vm->calls[a->calls.pos.sel]);
        return SSV_ACT_REDRAW;
    }
    if (k == 'n' || k == 'N')
        return ssv_list_next_match(&a->calls.pos, vm->ncalls, k == 'n' ? 1 : -1, matches, a);
    return ssv_list_key(&a->calls.pos, vm->ncalls, k, a->page - 1);
}

static void status(struct ssv_app *a, char *buf, size_t size)
{
    const struct ssv_vm *vm = &a->snap->vm;
    if (a->calls.detail)
        snprintf(buf, size, "Esc back  j k scroll");
    else if (vm->needle[0])
        snprintf(buf, size, "/%s: %zu of %zu call sites match  n N next/previous", vm->needle,
                 vm->nmatch_calls, vm->ncalls);
    else
        snprintf(buf, size, "%zu call sites, longest total first  Enter stack", vm->ncalls);
}

static void reloaded(struct ssv_app *a, const struct ssv_snapshot *old)
{
    (void)old;
    const struct ssv_vm *vm = &a->snap->vm;
    if (a->calls.pos.sel >= vm->ncalls)
        a->calls.pos.sel = vm->ncalls ? vm->ncalls - 1 : 0;
    if (a->calls.detail && vm->ncalls)
        build_detail(a, &vm->calls[a->calls.pos.sel]);
    else
        a->calls.detail = 0;
}

const struct ssv_view_ops ssv_view_calls = {"Calls", help, draw, key, status, reloaded};
