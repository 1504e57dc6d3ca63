/* The Loops view: every loop thread with its busy-time percentiles and recent stalls, and the
 * busy-time histogram of one. */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "common/options.h"

static const char *const help[] = {
    "Enter        flame of the selected loop thread",
    "",
    "Sparklines: the share of time the thread was stalled, over the last",
    "minute of the run (all of it, when shorter), on one time axis.",
    NULL,
};

#define SPARK_WINDOW_NS (60ull * 1000000000ull)
#define SPARK_MIN 10

struct column {
    const char *title;
    int width, right;
};

enum { C_PID, C_TID, C_NAME, C_ITER, C_P50, C_P99, C_MAX, C_STALLS, C_STALLED, NCOLS };

/* Fills x[] with each column's start (-1: left out) and returns where the sparkline starts. */
static int layout(int w, int x[NCOLS], struct column cols[NCOLS])
{
    static const struct column all[NCOLS] = {
        {"PID", 7, 1}, {"TID", 7, 1}, {"NAME", 16, 0},  {"ITERATIONS", 10, 1}, {"P50", 8, 1},
        {"P99", 8, 1}, {"MAX", 8, 1}, {"STALLS", 6, 1}, {"STALLED", 8, 1},
    };
    memcpy(cols, all, sizeof all);
    if (w < 100)
        cols[C_NAME].width = 12;
    int at = 0;
    for (int i = 0; i < NCOLS; i++) {
        x[i] = i == C_STALLED && w < 100 ? -1 : at;
        if (x[i] >= 0)
            at += cols[i].width + 1;
    }
    return at + 1;
}

/* One time axis for every thread, so that their sparklines line up: the last minute of the run,
 * or all of it when shorter. */
static void window(const struct ssv_vm *vm, uint64_t *end, uint64_t *span)
{
    *end = vm->last_ns;
    *span = vm->last_ns > vm->first_ns ? vm->last_ns - vm->first_ns : 0;
    if (*span > SPARK_WINDOW_NS)
        *span = SPARK_WINDOW_NS;
}

static void sparkline(struct ssv_canvas *c, int y, int x, int n, const struct ssv_vm *vm,
                      const struct ssv_vm_loop *l, int style)
{
    double bins[512];
    uint64_t end, span;
    if (n > 512)
        n = 512;
    window(vm, &end, &span);
    ssv_vm_loop_activity(l, end, span, bins, n);
    for (int i = 0; i < n; i++) {
        int level = bins[i] <= 0 ? -1 : (int)(bins[i] * 7.999);
        ssv_cv_fill(c, y, x + i, 1, level < 0 ? style : SSV_CV_WARN,
                    level < 0 ? " " : c->g->spark[level]);
    }
}

static void draw_row(struct ssv_app *a, struct ssv_canvas *c, int y, const struct ssv_vm_loop *l,
                     int sel)
{
    int x[NCOLS];
    struct column cols[NCOLS];
    int spark = layout(c->w, x, cols);
    int style = sel ? SSV_CV_SELECTED : l->match ? SSV_CV_MATCH : SSV_CV_NORMAL;
    char v[NCOLS][32];
    snprintf(v[C_PID], 32, "%u", l->proc->pid);
    snprintf(v[C_TID], 32, "%u", l->thread->tid);
    snprintf(v[C_NAME], 32, "%s", ss_thread_label(l->proc, l->thread->tid));
    snprintf(v[C_ITER], 32, "%llu", (unsigned long long)l->thread->iterations);
    ss_format_duration(l->p50, v[C_P50], 32);
    ss_format_duration(l->p99, v[C_P99], 32);
    ss_format_duration(l->thread->busy_max_ns, v[C_MAX], 32);
    if (!l->thread->iterations) {
        /* No histogram has been written for the thread yet: there is nothing to tell. */
        for (int i = C_P50; i <= C_MAX; i++)
            snprintf(v[i], 32, "-");
    }
    snprintf(v[C_STALLS], 32, "%zu", l->nstalls);
    ss_format_duration(l->stalled_ns, v[C_STALLED], 32);
    if (sel || l->match)
        ssv_cv_fill(c, y, 0, c->w, style, " ");
    for (int i = 0; i < NCOLS; i++) {
        if (x[i] < 0)
            continue;
        if (cols[i].right)
            ssv_cv_right(c, y, x[i], cols[i].width, style, v[i]);
        else
            ssv_cv_fit(c, y, x[i], cols[i].width, style, v[i]);
    }
    if (c->w - spark >= SPARK_MIN)
        sparkline(c, y, spark, c->w - spark - 1, &a->snap->vm, l, style);
}

static void draw_header(struct ssv_canvas *c, int y, const struct ssv_vm *vm)
{
    int x[NCOLS];
    struct column cols[NCOLS];
    int spark = layout(c->w, x, cols);
    ssv_cv_fill(c, y, 0, c->w, SSV_CV_HEADER, " ");
    for (int i = 0; i < NCOLS; i++) {
        if (x[i] < 0)
            continue;
        if (cols[i].right)
            ssv_cv_right(c, y, x[i], cols[i].width, SSV_CV_HEADER, cols[i].title);
        else
            ssv_cv_put(c, y, x[i], cols[i].width, SSV_CV_HEADER, cols[i].title);
    }
    if (c->w - spark >= SPARK_MIN) {
        uint64_t end, span;
        char d[32];
        window(vm, &end, &span);
        ss_format_duration(span, d, sizeof d);
        ssv_cv_printf(c, y, spark, -1, SSV_CV_HEADER, "STALLED, LAST %s", d);
    }
}

/* Draws the histogram and the sparkline of one thread; returns the rows used. */
static int draw_detail(struct ssv_canvas *c, int y, int h, const struct ssv_vm *vm,
                       const struct ssv_vm_loop *l)
{
    const struct ss_thread *t = l->thread;
    char p50[32], p99[32], max[32], floor[32], count[32];
    ss_format_duration(l->p50, p50, sizeof p50);
    ss_format_duration(l->p99, p99, sizeof p99);
    ss_format_duration(t->busy_max_ns, max, sizeof max);
    int row = 0;
    char title[256];
    int n = snprintf(title, sizeof title, "Thread %u (%s), pid %u: %llu iterations", t->tid,
                     t->name, l->proc->pid, (unsigned long long)t->iterations);
    if (t->iterations)
        snprintf(title + n, sizeof title - (size_t)n, ", busy p50 %s p99 %s max %s", p50, p99, max);
    ssv_cv_fit(c, y + row++, 1, c->w - 2, SSV_CV_HEADER, title);
    int lo = -1, hi = -1;
    uint64_t most = 0;
    for (int b = 0; b < (int)SS_HIST_BUCKETS; b++) {
        if (!t->hist[b])
            continue;
        lo = lo < 0 ? b : lo;
        hi = b;
        most = t->hist[b] > most ? t->hist[b] : most;
    }
    if (lo < 0 && row < h)
        ssv_cv_put(c, y + row++, 3, -1, SSV_CV_DIM, "no iterations recorded yet");
    int bar = c->w - 34 < 50 ? c->w - 34 : 50;
    for (int b = lo; lo >= 0 && b <= hi && row < h; b++, row++) {
        if (!t->hist[b] && b + 1 <= hi && !t->hist[b + 1]) {
            /* A run of empty buckets takes one row. */
            while (!t->hist[b + 1])
                b++;
            ssv_cv_put(c, y + row, 3, -1, SSV_CV_DIM, "...");
            continue;
        }
        ss_format_duration(ss_hist_bucket_floor((unsigned)(b ? b : 1)), floor, sizeof floor);
        ssv_cv_printf(c, y + row, 3, 11, SSV_CV_NORMAL, "%s %s", b ? ">=" : "< ", floor);
        snprintf(count, sizeof count, "%llu", (unsigned long long)t->hist[b]);
        ssv_cv_right(c, y + row, 15, 10, SSV_CV_NORMAL, count);
        ssv_cv_bar(c, y + row, 27, bar, SSV_CV_BAR, t->hist[b], most);
    }
    uint64_t end, span;
    window(vm, &end, &span);
    if (row + 2 <= h && c->w > SPARK_MIN + 4) {
        ss_format_duration(span, max, sizeof max);
        ssv_cv_printf(c, y + row++, 1, -1, SSV_CV_HEADER, "Stalled time over the last %s:", max);
        sparkline(c, y + row++, 3, c->w - 4, vm, l, SSV_CV_NORMAL);
    }
    return row;
}

static void draw(struct ssv_app *a, struct ssv_canvas *c, int y, int h)
{
    const struct ssv_vm *vm = &a->snap->vm;
    if (vm->nloops == 0) {
        ssv_cv_put(c, y + 1, 2, -1, SSV_CV_DIM, "no loop threads yet");
        return;
    }
    struct ssv_list_pos *pos = &a->loops.pos;
    int table = a->batch ? (int)vm->nloops : (int)vm->nloops < h / 3 ? (int)vm->nloops : h / 3;
    if (table < 1)
        table = 1;
    ssv_list_show(pos, vm->nloops, table);
    draw_header(c, y, vm);
    for (size_t i = pos->top; i < vm->nloops && (int)(i - pos->top) < table; i++)
        draw_row(a, c, y + 1 + (int)(i - pos->top), &vm->loops[i], i == pos->sel && !a->batch);
    int row = y + table + 2;
    if (!a->batch) {
        draw_detail(c, row, y + h - row, vm, &vm->loops[pos->sel]);
        return;
    }
    for (size_t i = 0; i < vm->nloops; i++)
        row += draw_detail(c, row, 1 << 20, vm, &vm->loops[i]) + 1;
}

static int matches(struct ssv_app *a, size_t i)
{
    return a->snap->vm.loops[i].match;
}

static int key(struct ssv_app *a, int k)
{
    const struct ssv_vm *vm = &a->snap->vm;
    if (vm->nloops == 0)
        return SSV_ACT_PASS;
    if (k == SSV_KEY_ENTER) {
        const struct ssv_vm_loop *l = &vm->loops[a->loops.pos.sel];
        struct ssv_vm_scope sc = {SSV_VM_SCOPE_THREAD, l->proc->pid, l->thread->tid, 0};
        ssv_app_set_scope(a, &sc);
        a->view = SSV_VIEW_FLAME;
        return SSV_ACT_REDRAW;
    }
    if (k == 'n' || k == 'N')
        return ssv_list_next_match(&a->loops.pos, vm->nloops, k == 'n' ? 1 : -1, matches, a);
    return ssv_list_key(&a->loops.pos, vm->nloops, k, a->page / 3);
}

static void status(struct ssv_app *a, char *buf, size_t size)
{
    const struct ssv_vm *vm = &a->snap->vm;
    snprintf(buf, size, "%zu loop thread%s  Enter flame of the thread", vm->nloops,
             vm->nloops == 1 ? "" : "s");
}

static void reloaded(struct ssv_app *a, const struct ssv_snapshot *old)
{
    (void)old;
    size_t n = a->snap->vm.nloops;
    if (a->loops.pos.sel >= n)
        a->loops.pos.sel = n ? n - 1 : 0;
}

const struct ssv_view_ops ssv_view_loops = {"Loops", help, draw, key, status, reloaded};
