/* The Stalls view: every stall, newest or longest first, and the details of one. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "causes/causes.h"
#include "common/options.h"
#include "stacks/frames.h"

static const char *const help[] = {
    "s            sort: newest first / longest first",
    "Enter        the stall's stacks and samples; Esc back",
    "f            flame of the selected stall",
    "Esc          from a cause's stalls: back to the Causes view",
    NULL,
};

/* Columns for a width: narrow terminals drop the thread name and the cause, and put a blocking
 * call before the top frame rather than in a column of its own; a run without any has no such
 * column. */
struct columns {
    int time, pid, tid, thread, dur, bar, cause, calls, top;
};

#define CAUSE_WIDTH 15 /* "blocked:process", "cpu:module-load" */

static struct columns layout(const struct ssv_vm *vm, int w)
{
    struct columns c = {.time = 0, .pid = 13, .tid = 21, .thread = 29};
    c.dur = w >= 100 ? c.thread + 17 : c.thread;
    c.bar = c.dur + 10;
    c.cause = c.bar + (w >= 160 ? 20 : w >= 120 ? 10 : 8) + 1;
    c.calls = w >= 100 ? c.cause + CAUSE_WIDTH + 1 : c.cause;
    c.top = w >= 120 && vm->ncall_stalls ? c.calls + 22 : c.calls;
    return c;
}

static void id_of(struct ssv_app *a, const struct ssv_vm_stall *r)
{
    a->stalls.have_id = 1;
    a->stalls.pid = r->proc->pid;
    a->stalls.tid = r->stall->tid;
    a->stalls.start_ns = r->stall->start_ns;
}

static const struct ssv_vm_stall *selected(struct ssv_app *a)
{
    const struct ssv_vm *vm = &a->snap->vm;
    return vm->nshown ? vm->order[a->stalls.pos.sel < vm->nshown ? a->stalls.pos.sel : 0] : NULL;
}

static void call_text(const struct ssv_vm_stall *r, char *buf, size_t size)
{
    char d[32];
    buf[0] = '\0';
    if (!r->call)
        return;
    ss_format_duration(r->call_ns, d, sizeof d);
    snprintf(buf, size, "%s() %s%s", r->call, d, r->ncalls > 1 ? " +" : "");
}

static void draw_row(struct ssv_app *a, struct ssv_canvas *c, int y, const struct ssv_vm_stall *r,
                     int sel)
{
    const struct columns col = layout(&a->snap->vm, c->w);
    const struct ss_stall *s = r->stall;
    char buf[64], d[32], calls[96];
    int style = sel ? SSV_CV_SELECTED : r->match ? SSV_CV_MATCH : SSV_CV_NORMAL;
    if (sel || r->match)
        ssv_cv_fill(c, y, 0, c->w, style, " ");
    ssv_vm_clock(r->proc, s->start_ns, buf, sizeof buf);
    ssv_cv_put(c, y, col.time, 12, style, buf);
    snprintf(buf, sizeof buf, "%u", r->proc->pid);
    ssv_cv_right(c, y, col.pid, 7, style, buf);
    snprintf(buf, sizeof buf, "%u", s->tid);
    ssv_cv_right(c, y, col.tid, 7, style, buf);
    if (col.dur > col.thread + 8)
        ssv_cv_fit(c, y, col.thread + 1, col.dur - col.thread - 2, style, r->thread);
    ss_format_duration(s->duration_ns, d, sizeof d);
    snprintf(buf, sizeof buf, "%s%s", d, s->in_progress ? "+" : "");
    ssv_cv_right(c, y, col.dur, 9, s->in_progress && !sel ? SSV_CV_WARN : style, buf);
    ssv_cv_bar(c, y, col.bar, col.cause - col.bar - 1, sel ? style : SSV_CV_BAR, s->duration_ns,
               a->snap->vm.max_stall_ns);
    if (col.calls > col.cause)
        ssv_cv_fit(c, y, col.cause, CAUSE_WIDTH, style, r->cause);
    call_text(r, calls, sizeof calls);
    const char *top = r->top ? r->top : s->nsamples ? "(no stack)" : "(no sample)";
    if (col.top > col.calls) {
        ssv_cv_fit(c, y, col.calls, col.top - col.calls - 1, style, calls);
        ssv_cv_fit(c, y, col.top, -1, style, top);
    } else {
        char both[1200];
        snprintf(both, sizeof both, "%s%s%s", calls[0] ? "[" : "", calls, calls[0] ? "] " : "");
        int x = ssv_cv_fit(c, y, col.top, -1, style, both);
        ssv_cv_fit(c, y, col.top + x, -1, style, top);
    }
}

static void draw_header(struct ssv_app *a, struct ssv_canvas *c, int y)
{
    const struct columns col = layout(&a->snap->vm, c->w);
    int newest = a->snap->vm.sort == SSV_VM_SORT_NEWEST;
    ssv_cv_fill(c, y, 0, c->w, SSV_CV_HEADER, " ");
    ssv_cv_printf(c, y, col.time, 12, SSV_CV_HEADER, "TIME%s", newest ? c->g->down : "");
    ssv_cv_right(c, y, col.pid, 7, SSV_CV_HEADER, "PID");
    ssv_cv_right(c, y, col.tid, 7, SSV_CV_HEADER, "TID");
    if (col.dur > col.thread + 8)
        ssv_cv_put(c, y, col.thread + 1, -1, SSV_CV_HEADER, "THREAD");
    char dur[16];
    snprintf(dur, sizeof dur, "DURATION%s", newest ? "" : c->g->down);
    ssv_cv_right(c, y, col.dur, 9, SSV_CV_HEADER, dur);
    if (col.calls > col.cause)
        ssv_cv_put(c, y, col.cause, -1, SSV_CV_HEADER, "CAUSE");
    if (col.top > col.calls)
        ssv_cv_put(c, y, col.calls, -1, SSV_CV_HEADER, "BLOCKED IN");
    ssv_cv_put(c, y, col.top, -1, SSV_CV_HEADER, "TOP FRAME");
}

/* ": 14 perf, 1 call": how many samples each way of taking them gave, in the order of
 * enum ss_sample_source; empty without samples. */
static void sample_sources(const struct ss_stall *s, char *buf, size_t size)
{
    enum { SOURCES = SS_SAMPLE_SYSCALL + 2 }; /* the last counts unknown sources */
    size_t count[SOURCES] = {0}, len = 0;
    for (size_t i = 0; i < s->nsamples; i++)
        count[s->samples[i].source < SOURCES - 1 ? s->samples[i].source : SOURCES - 1]++;
    buf[0] = '\0';
    for (unsigned k = 0; k < SOURCES; k++) {
        if (!count[k] || len >= size)
            continue;
        int n = snprintf(buf + len, size - len, "%s%zu %s", len ? ", " : ": ", count[k],
                         ss_sample_source_name(k));
        len += n > 0 ? (size_t)n : 0;
    }
}

/* When the timed samples were taken, by the process's sampling method: perf events count
 * the thread's CPU time, the signal wall-clock time. A trace that does not say is read as the
 * signal's. */
static void sampling_text(const struct ss_process *p, char *buf, size_t size)
{
    char th[32], iv[32], method[160];
    ss_format_duration(p->threshold_ns, th, sizeof th);
    ss_format_duration(p->interval_ns, iv, sizeof iv);
    ss_sampling_describe(&p->sampling, method, sizeof method);
    switch (p->sampling.method) {
    case SS_SAMPLED_BY_PERF:
        snprintf(buf, size, "every %s of CPU time after the %s threshold, by %s", iv, th, method);
        break;
    case SS_SAMPLED_BY_SIGNAL:
        snprintf(buf, size, "every %s after the %s threshold, by %s", iv, th, method);
        break;
    case SS_SAMPLED_NOT:
        snprintf(buf, size, "%s", method);
        break;
    default:
        snprintf(buf, size, "every %s after the %s threshold", iv, th);
    }
}

static unsigned percent(uint64_t part, uint64_t whole)
{
    return whole ? (unsigned)((part * 100 + whole / 2) / whole) : 0;
}

/* "cpu:json 62% (JsonParser::ParseJson in parse), starved 8%", as the report says it: parts
 * under 1% are left out. Then the advice for its cause, in the process's runtime. */
static void cause_text(struct ssv_app *a, const struct ssv_vm_stall *r)
{
    struct ssv_text *t = &a->stalls.text;
    struct ss_stall_cause c;
    ss_stall_cause(r->proc, r->stall, &c);
    char buf[1024];
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < c.nparts && len < sizeof buf; i++) {
        unsigned pc = percent(c.parts[i].ns, r->stall->duration_ns);
        if (i > 0 && pc == 0)
            continue;
        int n = snprintf(buf + len, sizeof buf - len, "%s%s %u%%%s%s%s", i ? ", " : "",
                         c.parts[i].name, pc, c.parts[i].where[0] ? " (" : "", c.parts[i].where,
                         c.parts[i].where[0] ? ")" : "");
        len += n > 0 ? (size_t)n : 0;
    }
    ssv_text_add(t, SSV_CV_NORMAL, NULL, "  cause     %s%s%s", buf, c.missing ? ": " : "",
                 c.missing ? c.missing : "");
    const struct ss_cause_rules *rules = a->snap->vm.run->causes;
    const char *advice =
        rules ? ss_cause_advice(rules, c.parts[0].name, ss_process_runtime(r->proc)) : NULL;
    if (advice)
        ssv_text_wrapped(t, SSV_CV_NORMAL, "  advice    ", advice, 100);
}

static void build_detail(struct ssv_app *a, const struct ssv_vm_stall *r)
{
    struct ssv_text *t = &a->stalls.text;
    const struct ss_process *p = r->proc;
    const struct ss_stall *s = r->stall;
    char d[32], at[32], rel[32];
    size_t top = t->top;
    ssv_text_clear(t);
    t->top = top;
    ss_format_duration(s->duration_ns, d, sizeof d);
    ssv_vm_clock(p, s->start_ns, at, sizeof at);
    ss_format_duration(s->start_ns > p->start_mono_ns ? s->start_ns - p->start_mono_ns : 0, rel,
                       sizeof rel);
    ssv_text_add(t, s->in_progress ? SSV_CV_WARN : SSV_CV_HEADER, NULL,
                 "Stall of %s%s on thread %u (%s), pid %u", d,
                 s->in_progress ? " so far, still running" : "", s->tid, r->thread, p->pid);
    const struct ss_sample *stuck = ss_stall_still_blocked(s);
    if (stuck && stuck->source == SS_SAMPLE_SYSCALL) {
        ss_format_duration(stuck->offset_ns, d, sizeof d);
        ssv_text_add(t, SSV_CV_WARN, NULL, "  still     blocked in the system call %s (at +%s)",
                     stuck->call, d);
    } else if (stuck) {
        ss_format_duration(stuck->call_ns, d, sizeof d);
        ssv_text_add(t, SSV_CV_WARN, NULL, "  still     blocked in %s()%s%s", stuck->call,
                     stuck->call_ns ? " for " : "", stuck->call_ns ? d : "");
    }
    cause_text(a, r);
    if (s->task_name)
        ssv_text_add(t, SSV_CV_NORMAL, NULL, "  task      %s%s%s", s->task_name,
                     s->task_coroutine ? ", coroutine " : "",
                     s->task_coroutine ? s->task_coroutine : "");
    if (s->stopped_ns) {
        ss_format_duration(s->stopped_ns, d, sizeof d);
        ssv_text_add(t, SSV_CV_NORMAL, NULL, "  paused    the process was stopped for %s of it", d);
    }
    if (s->machine_ns) {
        ss_format_duration(s->machine_ns, d, sizeof d);
        ssv_text_add(t, SSV_CV_NORMAL, NULL, "  paused    the machine was paused for %s of it", d);
    }
    ssv_text_add(t, SSV_CV_NORMAL, NULL, "  command   %s", p->command[0] ? p->command : p->exe);
    ssv_text_add(t, SSV_CV_NORMAL, NULL, "  began     %s, +%s after the process started", at, rel);
    size_t with_stack = 0;
    for (size_t i = 0; i < s->nsamples; i++)
        with_stack += s->samples[i].stack != NULL;
    char sources[128];
    sample_sources(s, sources, sizeof sources);
    ssv_text_add(t, SSV_CV_NORMAL, NULL, "  samples   %zu (%zu with a stack)%s", s->nsamples,
                 with_stack, sources);
    char how[320];
    sampling_text(p, how, sizeof how);
    ssv_text_add(t, SSV_CV_NORMAL, NULL, "  sampled   %s", how);
    for (size_t i = 0; i < s->nsamples; i++) {
        if (s->samples[i].source != SS_SAMPLE_CALL || !s->samples[i].call)
            continue;
        ss_format_duration(s->samples[i].call_ns, d, sizeof d);
        ssv_text_add(t, SSV_CV_WARN, NULL, "  blocked   in %s() for %s", s->samples[i].call, d);
    }
    struct ss_stack_count stacks[64];
    size_t n = ss_stall_stacks(s, stacks, 64);
    ssv_text_add(t, SSV_CV_NORMAL, NULL, " ");
    ssv_text_add(t, SSV_CV_HEADER, NULL, "Stacks, most frequent first%s",
                 n ? ":" : ": none captured");
    for (size_t i = 0; i < n && i < 64; i++) {
        ssv_text_add(t, SSV_CV_DIM, NULL, "  in %zu of %zu samples (%.0f%%)", stacks[i].count,
                     with_stack,
                     100.0 * (double)stacks[i].count / (double)(with_stack ? with_stack : 1));
        ssv_text_stack(t, &a->snap->vm, p, stacks[i].stack, "      ");
    }
    if (n > 64)
        ssv_text_add(t, SSV_CV_DIM, NULL, "  (%zu more distinct stacks)", n - 64);
    ssv_text_add(t, SSV_CV_NORMAL, NULL, " ");
    ssv_text_add(t, SSV_CV_HEADER, NULL,
                 "Samples (time into the stall, how taken, innermost frame):");
    for (size_t i = 0; i < s->nsamples; i++) {
        const struct ss_sample *smp = &s->samples[i];
        const char *const *names = ssv_vm_stack_names(&a->snap->vm, p, smp->stack);
        ss_format_duration(smp->offset_ns, d, sizeof d);
        ssv_text_add(t, SSV_CV_NORMAL, NULL, "  +%-9s %-7s %s%s%s", d,
                     ss_sample_source_name(smp->source), smp->call ? smp->call : "",
                     smp->call ? "() from " : "", names ? names[0] : "(no stack)");
    }
}

/* Above the list of a cause's stalls: which cause, and what to do about it. */
static int draw_filter(struct ssv_app *a, struct ssv_canvas *c, int y)
{
    const struct ssv_vm *vm = &a->snap->vm;
    const struct ssv_vm_cause *cause = NULL;
    for (size_t i = 0; i < vm->ncauses && !cause; i++)
        if (strcmp(vm->causes[i].name, vm->cause) == 0)
            cause = &vm->causes[i];
    char d[32];
    ss_format_duration(cause ? cause->ns : 0, d, sizeof d);
    ssv_cv_printf(c, y, 1, c->w - 2, SSV_CV_HEADER, "%zu stall%s with time in %s, %s in all",
                  vm->nshown, vm->nshown == 1 ? "" : "s", vm->cause, d);
    int rows = 1;
    for (size_t i = 0; cause && i < cause->nadvice; i++)
        rows += ssv_draw_wrapped(c, y + rows, 3, c->w - 4, 2, SSV_CV_DIM, cause->advice[i]);
    return rows + 1;
}

static void draw(struct ssv_app *a, struct ssv_canvas *c, int y, int h)
{
    const struct ssv_vm *vm = &a->snap->vm;
    if (a->stalls.detail) {
        const struct ssv_vm_stall *r = selected(a);
        if (r)
            ssv_text_draw(&a->stalls.text, c, y, h);
        return;
    }
    if (vm->cause[0]) {
        int used = draw_filter(a, c, y);
        y += used;
        h -= used;
    }
    draw_header(a, c, y);
    if (vm->nshown == 0) {
        ssv_cv_put(c, y + 2, 2, -1, SSV_CV_DIM,
                   vm->cause[0]               ? "no stall with time in this cause"
                   : a->state == SSV_SRC_LIVE ? "no stalls yet (watching the run)"
                                              : "no stalls in this run");
        return;
    }
    struct ssv_list_pos *pos = &a->stalls.pos;
    ssv_list_show(pos, vm->nshown, h - 1);
    for (size_t i = pos->top; i < vm->nshown && (int)(i - pos->top) < h - 1; i++)
        draw_row(a, c, y + 1 + (int)(i - pos->top), vm->order[i], i == pos->sel && !a->batch);
    /* On a terminal the status line says it. */
    if (a->batch && vm->summarised)
        ssv_cv_printf(c, y + 1 + (int)(vm->nshown - pos->top), 2, -1, SSV_CV_DIM,
                      "and %llu shorter stalls summarised, not listed; their time is in the "
                      "flame, by stack (--keep-stalls)",
                      (unsigned long long)vm->summarised);
}

static int matches(struct ssv_app *a, size_t i)
{
    return a->snap->vm.order[i]->match;
}

static void flame_of(struct ssv_app *a, const struct ssv_vm_stall *r)
{
    struct ssv_vm_scope sc = {SSV_VM_SCOPE_STALL, r->proc->pid, r->stall->tid, r->stall->start_ns};
    ssv_app_set_scope(a, &sc);
    a->view = SSV_VIEW_FLAME;
}

static int key(struct ssv_app *a, int k)
{
    struct ssv_vm *vm = &a->snap->vm;
    const struct ssv_vm_stall *r = selected(a);
    int act = SSV_ACT_PASS;
    if (a->stalls.detail) {
        if (k == SSV_KEY_ESC) {
            a->stalls.detail = 0;
            return SSV_ACT_REDRAW;
        }
        if (k == 'f' && r) {
            flame_of(a, r);
            return SSV_ACT_REDRAW;
        }
        return ssv_text_key(&a->stalls.text, k, a->page);
    }
    switch (k) {
    case 's':
        ssv_vm_sort(vm, vm->sort == SSV_VM_SORT_NEWEST ? SSV_VM_SORT_LONGEST : SSV_VM_SORT_NEWEST);
        if (r)
            a->stalls.pos.sel =
                (size_t)ssv_vm_find_stall(vm, r->proc->pid, r->stall->tid, r->stall->start_ns);
        act = SSV_ACT_REDRAW;
        break;
    case SSV_KEY_ENTER:
        if (!r)
            return SSV_ACT_NONE;
        a->stalls.detail = 1;
        a->stalls.text.top = 0;
        build_detail(a, r);
        return SSV_ACT_REDRAW;
    case 'f':
        if (r)
            flame_of(a, r);
        return SSV_ACT_REDRAW;
    case 'n':
    case 'N':
        if (vm->nshown)
            act = ssv_list_next_match(&a->stalls.pos, vm->nshown, k == 'n' ? 1 : -1, matches, a);
        break;
    case SSV_KEY_ESC:
        if (!vm->cause[0])
            return SSV_ACT_PASS;
        ssv_vm_filter(vm, "");
        a->view = SSV_VIEW_CAUSES;
        a->stalls.pos.sel = a->stalls.pos.top = 0;
        a->stalls.follow = 1;
        return SSV_ACT_REDRAW;
    default:
        act = ssv_list_key(&a->stalls.pos, vm->nshown, k, a->page - 1);
    }
    if ((r = selected(a)) != NULL)
        id_of(a, r);
    a->stalls.follow = a->stalls.pos.sel == 0;
    return act;
}

static void status(struct ssv_app *a, char *buf, size_t size)
{
    const struct ssv_vm *vm = &a->snap->vm;
    if (a->stalls.detail)
        snprintf(buf, size, "Esc back  f flame of this stall  j k scroll");
    else if (vm->cause[0])
        snprintf(buf, size, "%zu of %zu stalls, with time in %s  Esc all stalls  Enter details",
                 vm->nshown, vm->nstalls, vm->cause);
    else if (vm->needle[0])
        snprintf(buf, size, "/%s: %zu of %zu stalls match  n N next/previous", vm->needle,
                 vm->nmatch_stalls, vm->nstalls);
    else if (vm->summarised)
        snprintf(buf, size,
                 "%zu longest stalls, %llu shorter ones summarised into the flame (--keep-stalls), "
                 "%s first  s sort  Enter details  f flame",
                 vm->nstalls, (unsigned long long)vm->summarised,
                 vm->sort == SSV_VM_SORT_NEWEST ? "newest" : "longest");
    else
        snprintf(buf, size, "%zu stall%s, %s first  s sort  Enter details  f flame", vm->nstalls,
                 vm->nstalls == 1 ? "" : "s",
                 vm->sort == SSV_VM_SORT_NEWEST ? "newest" : "longest");
}

/* Live runs grow at the top (newest first): a cursor left on the newest stall stays on the
 * newest, any other stays on its stall, at the same place on screen. */
static void reloaded(struct ssv_app *a, const struct ssv_snapshot *old)
{
    const struct ssv_vm *vm = &a->snap->vm;
    struct ssv_list_pos *pos = &a->stalls.pos;
    long at = a->stalls.have_id
                  ? ssv_vm_find_stall(vm, a->stalls.pid, a->stalls.tid, a->stalls.start_ns)
                  : -1;
    (void)old;
    if (at >= 0 && !(a->stalls.follow && vm->sort == SSV_VM_SORT_NEWEST && !a->stalls.detail)) {
        size_t offset = pos->sel - pos->top;
        pos->sel = (size_t)at;
        pos->top = pos->sel > offset ? pos->sel - offset : 0;
    } else if (a->stalls.follow) {
        pos->sel = pos->top = 0;
    }
    const struct ssv_vm_stall *r = selected(a);
    if (r)
        id_of(a, r);
    if (a->stalls.detail && r)
        build_detail(a, r);
    else
        a->stalls.detail = 0;
}

const struct ssv_view_ops ssv_view_stalls = {"Stalls", help, draw, key, status, reloaded};
