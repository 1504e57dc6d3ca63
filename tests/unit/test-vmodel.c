/* The viewer's model, headless: row order, flame aggregation and its weights, scopes, zoom,
 * search and the share of time under matches, layout and movement, on runs built in memory so
 * that every expected number follows from the test itself. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "flametree.h"
#include "run-builder.h"
#include "vmodel.h"

/* pid 100, threads 100 (main) and 101 (worker), 10 ms interval:
 *   stall A at +100ms, 60ms,  3 samples in spin < loop < main, at +50, +60 and +70ms
 *   stall B at +300ms, 150ms, one call sample: nanosleep() for 150ms in sleepy < loop < main
 *   stall C at +200ms, 80ms on the worker, 2 samples in hash < work at +50 and +60ms, 1 sample
 *   without stack at +70ms
 * Shared out as the exports share a stall (ss_stall_spans): spin 60ms (its first sample stands
 * for the stall up to the second, which comes at its end), nanosleep 150ms, hash 60 + 10 =
 * 70ms, [no stack] 10ms; 290ms in all, 210 of them under main. */
static struct ss_run *sample_run(void)
{
    struct ss_run *run = rb_run();
    struct ss_process *p = rb_process(run, 100, 10 * MS);
    rb_thread(p, 100, "main");
    rb_thread(p, 101, "worker");
    struct ss_stack *spin = rb_stack(p, "spin", "loop", "main", NULL);
    struct ss_stack *sleepy = rb_stack(p, "sleepy", "loop", "main", NULL);
    struct ss_stack *hash = rb_stack(p, "hash", "work", NULL);
    uint64_t t0 = p->start_mono_ns;
    struct ss_stall *s = rb_stall(p, 100, t0 + 100 * MS, 60 * MS);
    for (int i = 0; i < 3; i++)
        rb_sample(s, spin, (50 + 10 * (uint64_t)i) * MS);
    s = rb_stall(p, 101, t0 + 200 * MS, 80 * MS);
    rb_sample(s, hash, 50 * MS);
    rb_sample(s, hash, 60 * MS);
    rb_sample(s, NULL, 70 * MS);
    s = rb_stall(p, 100, t0 + 300 * MS, 150 * MS);
    rb_call(s, sleepy, "nanosleep", 150 * MS);
    return run;
}

static struct ssv_vm vm;
static struct ssv_flame fl;

static void setup(void)
{
    cr_assert_eq(ssv_vm_build(&vm, sample_run()), 0);
}

static void teardown(void)
{
    ssv_flame_free(&fl);
    ssv_vm_free(&vm);
}

TestSuite(vmodel, .init = setup, .fini = teardown);

static struct ssv_fl_node *find(struct ssv_fl_node *n, const char *name)
{
    for (struct ssv_fl_node *c = n->child; c; c = c->next)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

static struct ssv_fl_node *kid(struct ssv_fl_node *n, const char *name)
{
    struct ssv_fl_node *c = find(n, name);
    if (!c)
        cr_assert_fail("no frame %s under %s", name, n->name);
    return c;
}

Test(vmodel, stalls_newest_first_then_longest_first)
{
    cr_assert_eq(vm.nstalls, 3);
    cr_expect_eq(vm.order[0]->stall->duration_ns, 150 * MS);
    cr_expect_eq(vm.order[1]->stall->duration_ns, 80 * MS);
    cr_expect_eq(vm.order[2]->stall->duration_ns, 60 * MS);
    ssv_vm_sort(&vm, SSV_VM_SORT_LONGEST);
    cr_expect_eq(vm.order[0]->stall->duration_ns, 150 * MS);
    cr_expect_eq(vm.order[1]->stall->duration_ns, 80 * MS);
    cr_expect_eq(vm.order[2]->stall->duration_ns, 60 * MS);
    cr_expect_eq(ssv_vm_find_stall(&vm, 100, 100, 1100 * MS), 2);
    cr_expect_eq(ssv_vm_find_stall(&vm, 100, 101, 1100 * MS), -1);
    cr_expect_eq(vm.max_stall_ns, 150 * MS);
}

Test(vmodel, equal_durations_order_newest_first)
{
    ssv_vm_free(&vm);
    struct ss_run *run = rb_run();
    struct ss_process *p = rb_process(run, 7, 10 * MS);
    rb_stall(p, 7, 2000 * MS, 70 * MS);
    rb_stall(p, 7, 3000 * MS, 70 * MS);
    cr_assert_eq(ssv_vm_build(&vm, run), 0);
    ssv_vm_sort(&vm, SSV_VM_SORT_LONGEST);
    cr_expect_eq(vm.order[0]->stall->start_ns, 3000 * MS);
    cr_expect_eq(vm.order[0]->top, NULL, "no samples: no top frame");
}

Test(vmodel, rows_name_thread_top_frame_and_call)
{
    const struct ssv_vm_stall *b = vm.order[0], *c = vm.order[1], *a = vm.order[2];
    cr_expect_str_eq(a->thread, "main");
    cr_expect_str_eq(a->top, "spin");
    cr_expect_null(a->call);
    cr_expect_str_eq(c->thread, "worker");
    cr_expect_str_eq(c->top, "hash", "the most frequent stack wins over a sample without one");
    cr_expect_str_eq(b->top, "sleepy");
    cr_expect_str_eq(b->call, "nanosleep");
    cr_expect_eq(b->call_ns, 150 * MS);
    cr_expect_eq(b->ncalls, 1);
}

/* The stall's time is shared out among its samples as the exports share it (ss_stall_spans):
 * a sample stands for the time up to the next one, the first also for the time before it, a
 * call sample for its call. Stall A's later samples come at or after its end: nothing left. */
Test(vmodel, flame_weights_samples_by_the_time_they_stand_for)
{
    struct ssv_vm_scope all = {SSV_VM_SCOPE_ALL, 0, 0, 0};
    cr_assert_eq(ssv_flame_build(&fl, &vm, &all), 0);
    struct ssv_fl_node *root = fl.root;
    cr_expect_str_eq(root->name, "all");
    cr_expect_eq(root->total, 60 * MS + 80 * MS + 150 * MS, "the stalled time, all of it");
    cr_expect_eq(fl.nsamples, 7);
    struct ssv_fl_node *main_ = kid(root, "main"), *loop = kid(main_, "loop");
    cr_expect_eq(main_->total, 210 * MS);
    cr_expect_eq(loop->total, 210 * MS);
    cr_expect_eq(loop->self, 0);
    struct ssv_fl_node *sleepy = kid(loop, "sleepy"), *spin = kid(loop, "spin");
    cr_expect_eq(loop->child, sleepy, "heaviest callee first");
    cr_expect_eq(sleepy->total, 150 * MS);
    cr_expect_eq(sleepy->self, 0, "the call is the innermost frame");
    struct ssv_fl_node *call = kid(sleepy, "nanosleep");
    cr_expect_eq(call->self, 150 * MS, "named as the exports name it, without parentheses");
    cr_expect_eq(spin->self, 60 * MS);
    cr_expect_eq(kid(kid(root, "work"), "hash")->total, 70 * MS);
    cr_expect_eq(kid(root, SSV_FL_NO_STACK)->total, 10 * MS);
    cr_expect_eq(root->child, main_);
    cr_expect_eq(fl.max_depth, 4);
}

Test(vmodel, flame_scopes_process_thread_and_stall)
{
    struct ssv_vm_scope thread = {SSV_VM_SCOPE_THREAD, 100, 101, 0};
    cr_assert_eq(ssv_flame_build(&fl, &vm, &thread), 0);
    cr_expect_eq(fl.root->total, 80 * MS, "stall C, all of it");
    cr_expect_eq(fl.nsamples, 3);
    ssv_flame_free(&fl);
    struct ssv_vm_scope stall = {SSV_VM_SCOPE_STALL, 100, 100, 1100 * MS};
    cr_assert_eq(ssv_flame_build(&fl, &vm, &stall), 0);
    cr_expect_eq(fl.root->total, 60 * MS, "stall A, all of it");
    cr_expect_eq(fl.nsamples, 3);
    cr_expect_str_eq(fl.root->child->name, "main");
    ssv_flame_free(&fl);
    struct ssv_vm_scope process = {SSV_VM_SCOPE_PROCESS, 100, 0, 0};
    cr_assert_eq(ssv_flame_build(&fl, &vm, &process), 0);
    cr_expect_eq(fl.root->total, 290 * MS);
    ssv_flame_free(&fl);
    struct ssv_vm_scope other = {SSV_VM_SCOPE_PROCESS, 999, 0, 0};
    cr_assert_eq(ssv_flame_build(&fl, &vm, &other), 0);
    cr_expect_eq(fl.root->total, 0);
    cr_expect_null(fl.root->child);
    char name[128];
    ssv_vm_scope_name(&vm, &thread, name, sizeof name);
    cr_expect_str_eq(name, "thread 101 (worker) of pid 100");
}

/* The stalls the loader summarised count by stack in the scopes of their process and thread,
 * as in the exports: here 2 of main's (spin 90ms in 2 spans, nanosleep 40ms in 1) and 1 of
 * the worker's (hash 55ms), on top of sample_run's 290ms. */
Test(vmodel, flame_counts_summarised_stalls_by_stack_in_their_scopes)
{
    ssv_vm_free(&vm);
    struct ss_run *run = sample_run();
    struct ss_process *p = &run->procs[0];
    struct ss_stack *spin = p->stacks[0], *sleepy = p->stacks[1], *hash = p->stacks[2];
    rb_summarised(p, 100, 2, 140 * MS);
    rb_summarised(p, 101, 1, 60 * MS);
    rb_summarised_stack(p, 100, spin, NULL, 2, 90 * MS);
    rb_summarised_stack(p, 100, sleepy, "nanosleep", 1, 40 * MS);
    rb_summarised_stack(p, 101, hash, NULL, 1, 55 * MS);
    cr_assert_eq(ssv_vm_build(&vm, run), 0);
    cr_expect_eq(vm.summarised, 3);
    cr_expect_eq(vm.nstalls, 3, "summarised stalls are in no row");
    struct ssv_vm_scope all = {SSV_VM_SCOPE_ALL, 0, 0, 0};
    cr_assert_eq(ssv_flame_build(&fl, &vm, &all), 0);
    cr_expect_eq(fl.root->total, (290 + 90 + 40 + 55) * MS);
    cr_expect_eq(fl.nsamples, 7 + 2 + 1 + 1, "a summarised span counts as the sample it was");
    cr_expect_eq(fl.summarised, 3);
    struct ssv_fl_node *loop = kid(kid(fl.root, "main"), "loop");
    cr_expect_eq(kid(loop, "spin")->self, (60 + 90) * MS);
    cr_expect_eq(kid(kid(loop, "sleepy"), "nanosleep")->self, (150 + 40) * MS,
                 "merged with the kept stall's call of the same name");
    cr_expect_eq(kid(kid(fl.root, "work"), "hash")->total, (70 + 55) * MS);
    ssv_flame_free(&fl);
    struct ssv_vm_scope process = {SSV_VM_SCOPE_PROCESS, 100, 0, 0};
    cr_assert_eq(ssv_flame_build(&fl, &vm, &process), 0);
    cr_expect_eq(fl.root->total, (290 + 90 + 40 + 55) * MS);
    cr_expect_eq(fl.summarised, 3);
    ssv_flame_free(&fl);
    struct ssv_vm_scope worker = {SSV_VM_SCOPE_THREAD, 100, 101, 0};
    cr_assert_eq(ssv_flame_build(&fl, &vm, &worker), 0);
    cr_expect_eq(fl.root->total, (80 + 55) * MS, "stall C and the worker's summarised one");
    cr_expect_eq(fl.summarised, 1);
    cr_expect_eq(kid(fl.root, "work")->total, (70 + 55) * MS);
    cr_expect_null(find(fl.root, "main"), "nothing of main's stalls");
    ssv_flame_free(&fl);
    struct ssv_vm_scope stall = {SSV_VM_SCOPE_STALL, 100, 100, 1100 * MS};
    cr_assert_eq(ssv_flame_build(&fl, &vm, &stall), 0);
    cr_expect_eq(fl.root->total, 60 * MS, "a stall's flame is that stall alone");
    cr_expect_eq(fl.summarised, 0);
    ssv_flame_free(&fl);
    struct ssv_vm_scope other = {SSV_VM_SCOPE_PROCESS, 999, 0, 0};
    cr_assert_eq(ssv_flame_build(&fl, &vm, &other), 0);
    cr_expect_eq(fl.root->total, 0);
    cr_expect_eq(fl.summarised, 0);
}

/* Each process's stall has one sample, which stands for the whole stall: 60 + 70 ms, whatever
 * the processes' intervals, and neither alone. */
Test(vmodel, flame_merges_frames_of_the_same_name_across_processes)
{
    ssv_vm_free(&vm);
    struct ss_run *run = rb_run();
    struct ss_process *p = rb_process(run, 1, 10 * MS);
    rb_sample(rb_stall(p, 1, 2000 * MS, 60 * MS), rb_stack(p, "parse", "main", NULL), 50 * MS);
    p = rb_process(run, 2, 20 * MS);
    rb_sample(rb_stall(p, 2, 2000 * MS, 70 * MS), rb_stack(p, "parse", "main", NULL), 50 * MS);
    cr_assert_eq(ssv_vm_build(&vm, run), 0);
    struct ssv_vm_scope all = {SSV_VM_SCOPE_ALL, 0, 0, 0};
    cr_assert_eq(ssv_flame_build(&fl, &vm, &all), 0);
    cr_expect_eq(kid(kid(fl.root, "main"), "parse")->total, 130 * MS);
    cr_expect_null(fl.root->child->next);
}

Test(vmodel, zoom_in_and_out_with_history)
{
    struct ssv_vm_scope all = {SSV_VM_SCOPE_ALL, 0, 0, 0};
    cr_assert_eq(ssv_flame_build(&fl, &vm, &all), 0);
    struct ssv_fl_node *loop = kid(kid(fl.root, "main"), "loop"), *spin = kid(loop, "spin");
    ssv_flame_zoom(&fl, loop);
    cr_expect_eq(fl.zoom, loop);
    cr_expect_eq(fl.sel, loop);
    ssv_flame_zoom(&fl, spin);
    cr_expect_eq(fl.nhistory, 2);
    cr_expect_eq(ssv_flame_unzoom(&fl), 1);
    cr_expect_eq(fl.zoom, loop);
    cr_expect_eq(fl.sel, spin, "zooming out keeps the frame that was zoomed selected");
    cr_expect_eq(ssv_flame_unzoom(&fl), 1);
    cr_expect_eq(fl.zoom, fl.root);
    cr_expect_eq(ssv_flame_unzoom(&fl), 0);
}

Test(vmodel, layout_is_proportional_to_time_and_drops_what_is_narrower_than_a_column)
{
    struct ssv_vm_scope all = {SSV_VM_SCOPE_ALL, 0, 0, 0};
    cr_assert_eq(ssv_flame_build(&fl, &vm, &all), 0);
    struct ssv_fl_layout l = {0};
    cr_assert_eq(ssv_flame_layout(&fl, 290, &l), 0); /* a column a millisecond */
    const struct ssv_fl_box *root = ssv_flame_box(&l, fl.root);
    cr_assert_not_null(root);
    cr_expect(root->x == 0 && root->w == 290 && root->row == 0);
    struct ssv_fl_node *main_ = kid(fl.root, "main"), *loop = kid(main_, "loop");
    const struct ssv_fl_box *m = ssv_flame_box(&l, main_);
    cr_expect(m->x == 0 && m->w == 210 && m->row == 1);
    const struct ssv_fl_box *s = ssv_flame_box(&l, kid(loop, "spin"));
    cr_expect(s->x == 150 && s->w == 60 && s->row == 3, "after sleepy's 150 ms");
    cr_expect_eq(l.rows, 5);
    /* 3 columns for 290 ms: main ends at 210 * 3 / 290 = 2.17, work at 280 * 3 / 290 = 2.9,
     * both cut down to column 2, so work has none; [no stack] ends at 3. */
    cr_assert_eq(ssv_flame_layout(&fl, 3, &l), 0);
    cr_expect_eq(ssv_flame_box(&l, main_)->w, 2);
    cr_expect_null(ssv_flame_box(&l, kid(fl.root, "work")), "narrower than a column");
    cr_expect_eq(ssv_flame_box(&l, kid(fl.root, SSV_FL_NO_STACK))->w, 1);
    ssv_flame_zoom(&fl, loop);
    /* loop's 210 ms: sleepy 150, spin 60. */
    cr_assert_eq(ssv_flame_layout(&fl, 14, &l), 0);
    cr_expect_eq(ssv_flame_box(&l, loop)->w, 14);
    cr_expect_eq(ssv_flame_box(&l, kid(loop, "sleepy"))->w, 10);
    cr_expect_eq(ssv_flame_box(&l, kid(loop, "spin"))->w, 4);
    cr_expect_null(ssv_flame_box(&l, main_), "ancestors of the zoomed frame are not laid out");
    /* 150 * 5 / 210 = 3.57 columns: sleepy gets 3, spin the rest. */
    cr_assert_eq(ssv_flame_layout(&fl, 5, &l), 0);
    cr_expect_eq(ssv_flame_box(&l, kid(loop, "sleepy"))->w, 3);
    cr_expect_eq(ssv_flame_box(&l, kid(loop, "spin"))->w, 2);
    ssv_flame_layout_free(&l);
}

Test(vmodel, search_share_counts_each_sample_once)
{
    struct ssv_vm_scope all = {SSV_VM_SCOPE_ALL, 0, 0, 0};
    cr_assert_eq(ssv_flame_build(&fl, &vm, &all), 0);
    ssv_flame_search(&fl, "SLEEP");
    cr_expect_eq(fl.nmatch, 2, "sleepy and nanosleep match");
    cr_expect_eq(fl.match_ns, 150 * MS, "nanosleep is inside sleepy: not counted twice");
    cr_expect_float_eq(ssv_flame_share(&fl), 150.0 / 290.0, 1e-9);
    ssv_flame_search(&fl, "loop");
    cr_expect_float_eq(ssv_flame_share(&fl), 210.0 / 290.0, 1e-9);
    struct ssv_fl_node *spin = kid(kid(kid(fl.root, "main"), "loop"), "spin");
    ssv_flame_zoom(&fl, spin);
    cr_expect_float_eq(ssv_flame_share(&fl), 1.0, 1e-9, "a matching caller covers the whole zoom");
    cr_expect_eq(fl.nmatch, 0, "no match under the zoomed frame itself");
    ssv_flame_search(&fl, "hash");
    cr_expect_eq(ssv_flame_share(&fl), 0);
    ssv_flame_search(&fl, "");
    cr_expect_eq(fl.nmatch, 0);
    cr_expect_eq(spin->match, 0);
}

Test(vmodel, carry_keeps_zoom_selection_history_and_search_by_name)
{
    struct ssv_vm_scope all = {SSV_VM_SCOPE_ALL, 0, 0, 0};
    cr_assert_eq(ssv_flame_build(&fl, &vm, &all), 0);
    struct ssv_fl_node *loop = kid(kid(fl.root, "main"), "loop");
    ssv_flame_zoom(&fl, loop);
    fl.sel = kid(loop, "spin");
    ssv_flame_search(&fl, "spin");
    struct ssv_flame again;
    cr_assert_eq(ssv_flame_build(&again, &vm, &all), 0);
    ssv_flame_carry(&again, &fl);
    cr_expect_str_eq(again.zoom->name, "loop");
    cr_expect_neq(again.zoom, loop);
    cr_expect_str_eq(again.sel->name, "spin");
    cr_expect_eq(again.nhistory, 1);
    cr_expect_eq(again.history[0], again.root);
    cr_expect_eq(again.match_ns, 60 * MS, "spin's time");
    ssv_flame_free(&again);
    struct ssv_vm_scope thread = {SSV_VM_SCOPE_THREAD, 100, 101, 0};
    cr_assert_eq(ssv_flame_build(&again, &vm, &thread), 0);
    ssv_flame_carry(&again, &fl);
    cr_expect_eq(again.zoom, again.root, "a zoom that no longer exists falls back to the root");
    cr_expect_eq(again.sel, again.root);
    ssv_flame_free(&again);
}

Test(vmodel, movement_follows_the_layout)
{
    struct ssv_vm_scope all = {SSV_VM_SCOPE_ALL, 0, 0, 0};
    cr_assert_eq(ssv_flame_build(&fl, &vm, &all), 0);
    struct ssv_fl_layout l = {0};
    cr_assert_eq(ssv_flame_layout(&fl, 210, &l), 0);
    cr_expect_eq(ssv_flame_move(&fl, &l, SSV_FL_UP), 0, "no caller above the zoomed frame");
    cr_expect(ssv_flame_move(&fl, &l, SSV_FL_DOWN));
    cr_expect_str_eq(fl.sel->name, "main");
    cr_expect(ssv_flame_move(&fl, &l, SSV_FL_RIGHT));
    cr_expect_str_eq(fl.sel->name, "work");
    cr_expect(ssv_flame_move(&fl, &l, SSV_FL_RIGHT));
    cr_expect_str_eq(fl.sel->name, SSV_FL_NO_STACK);
    cr_expect_eq(ssv_flame_move(&fl, &l, SSV_FL_RIGHT), 0);
    cr_expect(ssv_flame_move(&fl, &l, SSV_FL_BOTTOM));
    cr_expect_str_eq(fl.sel->name, "nanosleep", "the hottest path ends in the sleep");
    cr_expect(ssv_flame_move(&fl, &l, SSV_FL_UP));
    cr_expect(ssv_flame_move(&fl, &l, SSV_FL_RIGHT));
    cr_expect_str_eq(fl.sel->name, "spin");
    cr_expect(ssv_flame_move(&fl, &l, SSV_FL_TOP));
    cr_expect_eq(fl.sel, fl.root);
    ssv_flame_search(&fl, "a");
    cr_expect(ssv_flame_move(&fl, &l, SSV_FL_NEXT));
    cr_expect_str_eq(fl.sel->name, "main");
    cr_expect(ssv_flame_move(&fl, &l, SSV_FL_PREV));
    cr_expect_str_eq(fl.sel->name, "all");
    cr_expect(ssv_flame_move(&fl, &l, SSV_FL_PREV));
    cr_expect_str_eq(fl.sel->name, SSV_FL_NO_STACK,
                     "the previous match wraps to the last one placed");
    ssv_flame_layout_free(&l);
}

Test(vmodel, search_marks_stalls_by_frame_thread_and_call)
{
    ssv_vm_search(&vm, "HASH");
    cr_expect_eq(vm.nmatch_stalls, 1);
    cr_expect(vm.order[1]->match);
    ssv_vm_search(&vm, "nanosleep");
    cr_expect_eq(vm.nmatch_stalls, 1);
    cr_expect(vm.order[0]->match);
    ssv_vm_search(&vm, "main");
    cr_expect_eq(vm.nmatch_stalls, 2, "a frame in two stalls and a thread name");
    cr_expect_eq(vm.nmatch_loops, 1);
    ssv_vm_search(&vm, "");
    cr_expect_eq(vm.nmatch_stalls, 0);
    cr_expect_eq(vm.order[0]->match, 0);
}

Test(vmodel, loops_count_stalls_and_read_percentiles_from_the_histogram)
{
    ssv_vm_free(&vm);
    struct ss_run *run = rb_run();
    struct ss_process *p = rb_process(run, 5, 10 * MS);
    struct ss_thread *t = rb_thread(p, 5, "loop");
    t->iterations = 100;
    t->busy_max_ns = 300 * MS;
    t->hist[ss_hist_bucket(20000)] = 98;
    t->hist[ss_hist_bucket(250 * MS)] = 2;
    rb_thread(p, 6, "helper")->loop = 0;
    rb_stall(p, 5, p->start_mono_ns + 1000 * MS, 250 * MS);
    rb_stall(p, 5, p->start_mono_ns + 3500 * MS, 300 * MS);
    cr_assert_eq(ssv_vm_build(&vm, run), 0);
    cr_assert_eq(vm.nloops, 1, "threads that never waited are not loops");
    const struct ssv_vm_loop *l = &vm.loops[0];
    cr_expect_eq(l->nstalls, 2);
    cr_expect_eq(l->stalled_ns, 550 * MS);
    cr_expect(l->p50 >= 16384 && l->p50 < 32768, "p50 %llu", (unsigned long long)l->p50);
    cr_expect(l->p99 >= 128 * MS && l->p99 <= 300 * MS, "p99 %llu", (unsigned long long)l->p99);
    double bins[4];
    /* The process ran 4 s (until the end of the last stall at 3.8 s... last_ns 4.8 s): one bin
     * a second over the last 4 s. */
    uint64_t end = p->start_mono_ns + 4000 * MS;
    ssv_vm_loop_activity(l, end, 4000 * MS, bins, 4);
    cr_expect_float_eq(bins[0], 0, 1e-9);
    cr_expect_float_eq(bins[1], 0.25, 1e-9);
    cr_expect_float_eq(bins[2], 0, 1e-9);
    cr_expect_float_eq(bins[3], 0.3, 1e-9);
}

Test(vmodel, call_sites_sort_by_total_and_name_their_site)
{
    struct ss_process *p = &vm.run->procs[0];
    struct ssv_vm_call *calls = calloc(3, sizeof *calls);
    cr_assert_not_null(calls);
    calls[0] = (struct ssv_vm_call){p, "read", "file", 4, 40 * MS, 20 * MS, p->stacks[0], NULL, 0};
    calls[1] =
        (struct ssv_vm_call){p, "getaddrinfo", "dns", 1, 300 * MS, 300 * MS, p->stacks[2], NULL, 0};
    calls[2] = (struct ssv_vm_call){p, "fsync", "file", 2, 40 * MS, 30 * MS, NULL, NULL, 0};
    ssv_vm_set_calls(&vm, calls, 3);
    cr_expect_str_eq(vm.calls[0].function, "getaddrinfo");
    cr_expect_str_eq(vm.calls[0].site, "hash");
    cr_expect_str_eq(vm.calls[1].function, "read", "equal totals: more calls first");
    cr_expect_str_eq(vm.calls[1].site, "spin");
    cr_expect_null(vm.calls[2].site);
    cr_expect_eq(vm.max_call_ns, 300 * MS);
    ssv_vm_search(&vm, "dns");
    cr_expect_eq(vm.nmatch_calls, 1);
    ssv_vm_search(&vm, "loop");
    cr_expect_eq(vm.nmatch_calls, 1, "matched through a frame of its stack");
}

Test(vmodel, a_hundred_thousand_stalls)
{
    ssv_vm_free(&vm);
    struct ss_run *run = rb_run();
    struct ss_process *p = rb_process(run, 9, 10 * MS);
    rb_thread(p, 9, "busy");
    struct ss_stack *a = rb_stack(p, "encode", "handle", "main", NULL);
    struct ss_stack *b = rb_stack(p, "decode", "handle", "main", NULL);
    /* A stall's one sample stands for the whole stall: the flame sums durations. */
    uint64_t total = 0, decode = 0;
    for (uint64_t i = 0; i < 100000; i++) {
        uint64_t d = (50 + i % 97) * MS;
        rb_sample(rb_stall(p, 9, p->start_mono_ns + i * 100 * MS, d), i % 3 ? a : b, 50 * MS);
        total += d;
        decode += i % 3 ? 0 : d;
    }
    cr_assert_eq(ssv_vm_build(&vm, run), 0);
    cr_expect_eq(vm.nstalls, 100000);
    cr_expect_eq(vm.order[0]->stall->start_ns, p->start_mono_ns + 99999 * 100 * MS);
    ssv_vm_sort(&vm, SSV_VM_SORT_LONGEST);
    cr_expect_eq(vm.order[0]->stall->duration_ns, 146 * MS);
    ssv_vm_search(&vm, "decode");
    cr_expect_eq(vm.nmatch_stalls, 33334);
    struct ssv_vm_scope all = {SSV_VM_SCOPE_ALL, 0, 0, 0};
    cr_assert_eq(ssv_flame_build(&fl, &vm, &all), 0);
    cr_expect_eq(fl.nsamples, 100000);
    cr_expect_eq(fl.root->total, total);
    cr_expect_eq(kid(kid(kid(fl.root, "main"), "handle"), "decode")->total, decode);
}

/* Causes, named by the built-in rules. pid 1 (native): stall A at +1s, 400ms in JSON.parse
 * (2 samples); stall B at +2s, 300ms in read() (a file). pid 2: stall C at +1.5s, 200ms, 50ms
 * of it waiting for a CPU, the rest in JSON.parse. By cause: cpu:json 400 + 150 = 550ms in 2
 * stalls, longest in A; blocked:file 300ms; starved 50ms; 900ms in all. */
static struct ss_run *causes_run(void)
{
    struct ss_run *run = rb_run();
    for (uint32_t pid = 1; pid <= 2; pid++) {
        struct ss_process *p = rb_process(run, pid, 10 * MS);
        struct ss_stack *json = rb_stack(p, "v8::internal::JsonParser<unsigned char>::ParseJson",
                                         "JS:~parse /app/s.js:4:15", NULL);
        uint64_t t0 = p->start_mono_ns;
        struct ss_stall *s =
            rb_stall(p, pid, t0 + (pid == 1 ? 1000 : 1500) * MS, (pid == 1 ? 400 : 200) * MS);
        rb_sample(s, json, 50 * MS);
        rb_sample(s, json, 100 * MS);
        if (pid == 2) {
            s->split_window_ns = 200 * MS;
            s->split_runnable_ns = 50 * MS;
            continue;
        }
        s = rb_stall(p, pid, t0 + 2000 * MS, 300 * MS);
        s->calls = calloc(1, sizeof *s->calls);
        s->calls[0] = (struct ss_stall_call){"read", "file", 2, 300 * MS};
        s->ncalls = 1;
    }
    rb_classify(run);
    return run;
}

Test(vmodel, each_stall_has_its_cause_and_the_run_its_time_by_cause)
{
    ssv_vm_free(&vm);
    cr_assert_eq(ssv_vm_build(&vm, causes_run()), 0);
    cr_assert_eq(vm.nstalls, 3);
    cr_expect_str_eq(vm.stalls[0].cause, "cpu:json");
    cr_expect_str_eq(vm.stalls[1].cause, "blocked:file");
    cr_expect_str_eq(vm.stalls[2].cause, "cpu:json", "starved for a quarter of it only");
    cr_expect_eq(vm.stalled_ns, 900 * MS);
    cr_assert_eq(vm.ncauses, 3);
    const struct ssv_vm_cause *c = vm.causes;
    cr_expect_str_eq(c[0].name, "cpu:json");
    cr_expect_eq(c[0].ns, 550 * MS);
    cr_expect_eq(c[0].stalls, 2);
    cr_expect_eq(c[0].longest_ns, 400 * MS);
    cr_expect_eq(c[0].proc->pid, 1);
    cr_expect_str_eq(c[0].where, "v8::internal::JsonParser<unsigned char>::ParseJson in parse");
    cr_assert_eq(c[0].nadvice, 1, "both processes are native: one advice");
    cr_expect_str_eq(c[0].advice[0], "Parse or generate big documents off the loop thread.");
    cr_expect_str_eq(c[1].name, "blocked:file");
    cr_expect_eq(c[1].ns, 300 * MS);
    cr_expect_str_eq(c[1].where, "read");
    cr_expect_str_eq(c[2].name, "starved");
    cr_expect_eq(c[2].ns, 50 * MS);
    cr_expect_eq(c[2].proc->pid, 2);
    ssv_vm_search(&vm, "PARSE");
    cr_expect_eq(vm.nmatch_causes, 1);
    cr_expect(vm.causes[0].match, "a cause matches by where it took longest");
    ssv_vm_search(&vm, "");
}

Test(vmodel, the_stalls_of_a_cause_keep_the_sort)
{
    ssv_vm_free(&vm);
    cr_assert_eq(ssv_vm_build(&vm, causes_run()), 0);
    cr_expect_eq(vm.nshown, 3, "all stalls without a filter");
    ssv_vm_filter(&vm, "cpu:json");
    cr_assert_eq(vm.nshown, 2);
    cr_expect_eq(vm.order[0]->stall->duration_ns, 200 * MS, "newest first");
    cr_expect_eq(vm.order[1]->stall->duration_ns, 400 * MS);
    ssv_vm_sort(&vm, SSV_VM_SORT_LONGEST);
    cr_expect_eq(vm.order[0]->stall->duration_ns, 400 * MS);
    cr_expect_eq(ssv_vm_find_stall(&vm, 1, 1, vm.stalls[1].stall->start_ns), -1,
                 "the file read is not shown");
    ssv_vm_filter(&vm, "starved");
    cr_assert_eq(vm.nshown, 1, "a stall with a part of the cause, not only its largest");
    cr_expect_eq(vm.order[0]->proc->pid, 2);
    ssv_vm_filter(&vm, "");
    cr_assert_eq(vm.nshown, 3);
    cr_expect_eq(vm.order[0]->stall->duration_ns, 400 * MS, "still longest first");
    cr_expect_eq(vm.order[2]->stall->duration_ns, 200 * MS);
}
