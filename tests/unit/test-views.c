/* The views and the keys, headless: the app draws into a canvas exactly as on a terminal, so
 * what a user would see after a sequence of keys is checked line by line. */
#include <criterion/criterion.h>
#include <errno.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "run-builder.h"

static struct ssv_app app;
static struct ssv_canvas cv;

/* pid 4242, thread 4242 (server): a stall of 204ms with 15 samples in TOP_NAME < on_request <
 * main, at +50ms to +190ms, and one of 120ms in a call to usleep made in wait_for_backend <
 * on_tick < main. Shared out as the exports share them, the first stall's samples stand for all
 * of its 204ms (the first from its start to +60ms, the last from +190ms to its end), the call
 * for its 120ms: 324ms in 16 samples, 204 / 324 = 63.0% of it under on_request. */
static struct ss_run *small_run(const char *top_name)
{
    struct ss_run *run = rb_run();
    struct ss_process *p = rb_process(run, 4242, 10 * MS);
    rb_thread(p, 4242, "server");
    struct ss_stack *spin = rb_stack(p, top_name, "on_request", "main", NULL);
    struct ss_stack *wait = rb_stack(p, "wait_for_backend", "on_tick", "main", NULL);
    uint64_t t0 = p->start_mono_ns;
    struct ss_stall *s = rb_stall(p, 4242, t0 + 200 * MS, 204 * MS);
    for (int i = 0; i < 15; i++)
        rb_sample(s, spin, (50 + 10 * (uint64_t)i) * MS);
    s = rb_stall(p, 4242, t0 + 700 * MS, 120 * MS);
    rb_call(s, wait, "usleep", 120 * MS);
    struct ss_thread *t = &p->threads[0];
    t->iterations = 99;
    t->busy_max_ns = 204 * MS;
    t->hist[ss_hist_bucket(5000)] = 97;
    t->hist[ss_hist_bucket(120 * MS)] = 1;
    t->hist[ss_hist_bucket(204 * MS)] = 1;
    return run;
}

static void open_run(struct ss_run *run, int w, int h, int utf8)
{
    struct ssv_snapshot *s = calloc(1, sizeof *s);
    cr_assert_not_null(s);
    cr_assert_eq(ssv_vm_build(&s->vm, run), 0);
    struct ssv_vm_scope all = {SSV_VM_SCOPE_ALL, 0, 0, 0};
    cr_assert_eq(ssv_flame_build(&s->flame, &s->vm, &all), 0);
    ssv_app_init(&app, "memory.run");
    app.state = SSV_SRC_FINISHED;
    ssv_app_install(&app, s);
    cr_assert_eq(ssv_cv_init(&cv, w, h, utf8, 0), 0);
}

static void teardown(void)
{
    ssv_app_free(&app);
    ssv_cv_free(&cv);
}

TestSuite(views, .fini = teardown);

static const char *row(int y)
{
    static char buf[4096];
    ssv_cv_row_text(&cv, y, buf, sizeof buf);
    return buf;
}

static int screen_has(const char *text)
{
    for (int y = 0; y < cv.h; y++)
        if (strstr(row(y), text))
            return 1;
    return 0;
}

static int keys(const char *seq)
{
    int act = 0;
    for (; *seq; seq++) {
        act = ssv_app_key(&app, *seq);
        ssv_app_draw(&app, &cv);
    }
    return act;
}

static int key(int k)
{
    int act = ssv_app_key(&app, k);
    ssv_app_draw(&app, &cv);
    return act;
}

Test(views, stalls_newest_first_with_columns_for_the_width)
{
    open_run(small_run("checksum"), 80, 24, 0);
    ssv_app_draw(&app, &cv);
    cr_expect(strstr(row(0), " 1 Stalls ") && strstr(row(0), "finished"), "%s", row(0));
    cr_expect(strstr(row(1), "TIME") && strstr(row(1), "DURATION") && strstr(row(1), "TOP FRAME"),
              "%s", row(1));
    cr_expect(strstr(row(2), "120ms") && strstr(row(2), "[usleep() 120ms] wait_for_backe~"),
              "cut to the width, with a mark: %s", row(2));
    cr_expect(strstr(row(3), "204ms") && strstr(row(3), "checksum"), "%s", row(3));
    cr_expect_null(strstr(row(1), "THREAD"), "no room for thread names at 80 columns");
    cr_expect(strstr(row(23), "2 stalls, newest first"), "%s", row(23));
    cr_expect_eq(ssv_cv_at(&cv, 2, 0)->style, SSV_CV_SELECTED);
    cr_expect_eq(ssv_cv_at(&cv, 3, 0)->style, SSV_CV_NORMAL);
    ssv_cv_resize(&cv, 160, 30);
    ssv_app_draw(&app, &cv);
    cr_expect(strstr(row(1), "THREAD") && strstr(row(1), "BLOCKED IN"), "%s", row(1));
    cr_expect(strstr(row(2), "server") && strstr(row(2), "usleep() 120ms"), "%s", row(2));
}

Test(views, no_blocking_call_column_in_a_run_without_calls)
{
    struct ss_run *run = rb_run();
    struct ss_process *p = rb_process(run, 1, 10 * MS);
    rb_sample(rb_stall(p, 1, 2000 * MS, 60 * MS), rb_stack(p, "work", "main", NULL), 50 * MS);
    open_run(run, 160, 10, 0);
    ssv_app_draw(&app, &cv);
    cr_expect(strstr(row(1), "THREAD") && !strstr(row(1), "BLOCKED IN"), "%s", row(1));
    cr_expect(strstr(row(2), "ms ") && strstr(row(2), " work"), "%s", row(2));
}

Test(views, sort_details_and_back)
{
    open_run(small_run("checksum"), 100, 30, 0);
    keys("s");
    cr_expect(strstr(row(2), "204ms"), "longest first: %s", row(2));
    cr_expect(strstr(row(2), "checksum"));
    cr_expect_eq(ssv_cv_at(&cv, 3, 0)->style, SSV_CV_SELECTED, "the selection stays on its stall");
    key('g');
    key(SSV_KEY_ENTER);
    cr_expect(strstr(row(1), "Stall of 204ms on thread 4242 (server), pid 4242"), "%s", row(1));
    cr_expect(screen_has("in 15 of 15 samples (100%)"));
    cr_expect(screen_has("  samples   15 (15 with a stack): 15 signal"));
    cr_expect(screen_has("  sampled   every 10ms after the 50ms threshold"),
              "a trace that does not say how it was sampled: the signal's rhythm");
    cr_expect(screen_has("      checksum"));
    cr_expect(screen_has("+50ms      signal  checksum"));
    key(SSV_KEY_ESC);
    cr_expect(strstr(row(1), "TIME"), "Esc goes back to the list: %s", row(1));
    cr_expect_eq(key(SSV_KEY_ESC) & SSV_ACT_QUIT, 0, "Esc never quits");
    cr_expect(key('q') & SSV_ACT_QUIT);
}

/* The stall's samples by how they were taken, and the rhythm of its process's sampling method:
 * perf events count the thread's CPU time, the signal the time of day. */
Test(views, details_say_how_the_stall_was_sampled)
{
    struct ss_run *run = small_run("checksum");
    struct ss_process *p = &run->procs[0];
    p->sampling = (struct ss_rec_sampling){SS_SAMPLED_BY_PERF, 0, 0};
    p->stalls[0].samples[14].source = SS_SAMPLE_PERF;
    p->stalls[0].samples[13].source = SS_SAMPLE_SYSCALL;
    open_run(run, 120, 31, 0); /* the last sample under the cause line */
    keys("j");
    key(SSV_KEY_ENTER);
    cr_expect(screen_has("  samples   15 (15 with a stack): 13 signal, 1 perf, 1 syscall"));
    cr_expect(screen_has("  sampled   every 10ms of CPU time after the 50ms threshold, by perf "
                         "events"));
    cr_expect(screen_has("+190ms     perf    checksum"));
    key(SSV_KEY_ESC);
    keys("k");
    key(SSV_KEY_ENTER);
    cr_expect(screen_has("  samples   1 (1 with a stack): 1 call"));
    key(SSV_KEY_ESC);
    p->sampling = (struct ss_rec_sampling){SS_SAMPLED_BY_SIGNAL, 38, EACCES};
    key(SSV_KEY_ENTER);
    cr_expect(screen_has("  sampled   every 10ms after the 50ms threshold, by signal 38 (perf "
                         "events refused: Permission denied)"));
    key(SSV_KEY_ESC);
    p->sampling = (struct ss_rec_sampling){SS_SAMPLED_NOT, 0, 0};
    key(SSV_KEY_ENTER);
    cr_expect(screen_has("  sampled   no timed samples"));
    cr_expect_not(screen_has("every 10ms"));
}

/* A server hung on a lock is diagnosed while it hangs: its stall still running says where. */
Test(views, details_of_a_stall_still_blocked_in_a_call)
{
    struct ss_run *run = small_run("checksum");
    struct ss_process *p = &run->procs[0];
    struct ss_stall *s = &p->stalls[1];
    s->in_progress = 1;
    s->samples[0].call = "pthread_mutex_lock";
    s->samples[0].call_ns = 12000 * MS;
    s->stopped_ns = 1000 * MS;
    open_run(run, 120, 30, 0);
    key(SSV_KEY_ENTER);
    cr_expect(strstr(row(1), "so far, still running"), "%s", row(1));
    cr_expect(strstr(row(2), "  still     blocked in pthread_mutex_lock() for 12s"), "%s", row(2));
    cr_expect(screen_has("  paused    the process was stopped for 1s of it"));
    key(SSV_KEY_ESC);
    s->samples[0].source = SS_SAMPLE_SYSCALL;
    s->samples[0].call = "read";
    key(SSV_KEY_ENTER);
    cr_expect(strstr(row(2), "  still     blocked in the system call read (at +120ms)"), "%s",
              row(2));
    key(SSV_KEY_ESC);
    keys("j");
    key(SSV_KEY_ENTER);
    cr_expect_not(screen_has("  still  "), "a stall that ended is blocked nowhere");
}

/* A run loaded with --keep-stalls: the stalls summarised are in no row, but their time is in
 * the flame by stack, and where the viewer counts them it says so. small_run's 324ms and 3
 * summarised stalls whose spans show checksum's stack for 76ms: 400ms, 204 + 76 = 280 of them
 * (70.0%) in checksum. */
Test(views, summarised_stalls_are_in_the_flame_and_it_says_so)
{
    struct ss_run *run = small_run("checksum");
    struct ss_process *p = &run->procs[0];
    rb_summarised(p, 4242, 3, 170 * MS);
    rb_summarised_stack(p, 4242, p->stacks[0], NULL, 5, 76 * MS);
    open_run(run, 100, 30, 0);
    ssv_app_draw(&app, &cv);
    cr_expect(strstr(row(29), "2 longest stalls, 3 shorter ones summarised into the flame"), "%s",
              row(29));
    key('2');
    cr_expect(strstr(row(1), "Scope: all stalls: 21 samples, 400ms (3 stalls summarised, by "
                             "stack)"),
              "%s", row(1));
    cr_expect(screen_has("|checksum 70.0%"));
    struct ssv_canvas out;
    cr_assert_eq(ssv_cv_init(&out, 100, 0, 0, 1), 0);
    ssv_app_draw_batch(&app, SSV_VIEW_STALLS, &out);
    char line[512];
    ssv_cv_row_text(&out, 3, line, sizeof line);
    cr_expect(strstr(line, "and 3 shorter stalls summarised, not listed; their time is in the "
                           "flame, by stack"),
              "%s", line);
    ssv_cv_free(&out);
}

Test(views, tab_and_digits_switch_views)
{
    open_run(small_run("checksum"), 100, 30, 0);
    key(SSV_KEY_TAB);
    cr_expect_eq(app.view, SSV_VIEW_FLAME);
    cr_expect(strstr(row(1), "Scope: all stalls: 16 samples, 324ms"), "%s", row(1));
    key(SSV_KEY_TAB);
    cr_expect(screen_has("no blocking calls recorded"));
    key(SSV_KEY_TAB);
    cr_expect(strstr(row(1), "ITERATIONS"), "%s", row(1));
    key(SSV_KEY_TAB);
    cr_expect_eq(app.view, SSV_VIEW_CAUSES);
    cr_expect(strstr(row(2), "CAUSE"), "%s", row(2));
    key(SSV_KEY_TAB);
    cr_expect_eq(app.view, SSV_VIEW_STALLS);
    key(SSV_KEY_BTAB);
    cr_expect_eq(app.view, SSV_VIEW_CAUSES);
    key(SSV_KEY_BTAB);
    cr_expect_eq(app.view, SSV_VIEW_LOOPS);
    key('2');
    cr_expect_eq(app.view, SSV_VIEW_FLAME);
    key('5');
    cr_expect_eq(app.view, SSV_VIEW_CAUSES);
}

Test(views, flame_draws_proportional_frames_and_zooms)
{
    open_run(small_run("checksum"), 54, 20, 0);
    key('2');
    /* 324 ms over 54 columns: 6 ms a column; main 324 ms, checksum 204 ms (34 columns), usleep
     * 120 ms (20 columns). */
    cr_expect(strstr(row(3), "|all 100.0%"), "%s", row(3));
    cr_expect(strstr(row(4), "|main 100.0%"), "%s", row(4));
    const char *r5 = row(5);
    cr_expect_eq(strncmp(r5, "|on_request 63.0%", 17), 0, "%s", r5);
    cr_expect_eq(r5[34], '|', "on_tick starts at column 34: %s", r5);
    cr_expect(strstr(row(7), "|usleep 37.0%"), "the call named as in the exports: %s", row(7));
    keys("jjj");
    cr_expect_str_eq(app.snap->flame.sel->name, "checksum");
    cr_expect_eq(ssv_cv_at(&cv, 6, 1)->style, SSV_CV_FLAME_SEL);
    key(SSV_KEY_ENTER);
    cr_expect(strstr(row(3), "|all") && !strstr(row(3), "%"), "callers above, dim: %s", row(3));
    cr_expect_eq(ssv_cv_at(&cv, 3, 1)->style, SSV_CV_DIM);
    cr_expect(strstr(row(6), "|checksum 100.0%"), "%s", row(6));
    cr_expect(strstr(row(2), "checksum 204ms, 100.0% of shown, 63.0% of scope"), "%s", row(2));
    key(SSV_KEY_ESC);
    cr_expect_eq(app.snap->flame.zoom, app.snap->flame.root);
    cr_expect(strstr(row(6), "|checksum 63.0%"), "%s", row(6));
}

Test(views, search_highlights_and_reports_the_share)
{
    open_run(small_run("checksum"), 100, 30, 0);
    keys("2/sum");
    cr_expect(strstr(row(29), "/sum"), "the prompt shows what is typed: %s", row(29));
    key(SSV_KEY_ENTER);
    cr_expect(strstr(row(29), "/sum: 1 frame, 63.0% of shown"), "%s", row(29));
    cr_expect_str_eq(app.snap->flame.sel->name, "checksum", "Enter goes to the first match");
    key('1');
    cr_expect(strstr(row(29), "/sum: 1 of 2 stalls match"), "%s", row(29));
    cr_expect_eq(ssv_cv_at(&cv, 3, 0)->style, SSV_CV_MATCH);
    key('n');
    cr_expect_eq(app.stalls.pos.sel, 1);
    key(SSV_KEY_ESC);
    cr_expect_eq(app.snap->vm.needle[0], '\0', "Esc at the top clears the search");
    keys("/x");
    key(SSV_KEY_ESC);
    cr_expect_eq(app.snap->vm.needle[0], '\0', "Esc in the prompt restores the old search");
}

Test(views, stall_to_flame_and_scopes)
{
    open_run(small_run("checksum"), 100, 30, 0);
    keys("jf");
    cr_expect_eq(app.view, SSV_VIEW_FLAME);
    cr_expect(strstr(row(1), "Scope: stall at") && strstr(row(1), "15 samples, 204ms"), "%s",
              row(1));
    keys("s");
    cr_expect(strstr(row(1), "Scope: all stalls"), "%s", row(1));
    keys("s");
    cr_expect(strstr(row(1), "Scope: pid 4242"), "%s", row(1));
    keys("s");
    cr_expect(strstr(row(1), "Scope: thread 4242 (server) of pid 4242"), "%s", row(1));
}

Test(views, loops_histogram_and_sparkline)
{
    open_run(small_run("checksum"), 120, 30, 1);
    key('4');
    cr_expect(strstr(row(2), "4242") && strstr(row(2), "server") && strstr(row(2), "99"), "%s",
              row(2));
    cr_expect(screen_has(">= 4.10us") && screen_has(">= 134ms") && screen_has("..."));
    cr_expect(screen_has("Stalled time over the last 820ms:"));
    key(SSV_KEY_ENTER);
    cr_expect_eq(app.view, SSV_VIEW_FLAME);
    cr_expect(strstr(row(1), "Scope: thread 4242 (server) of pid 4242"), "%s", row(1));
}

Test(views, help_overlay_opens_and_any_key_closes_it)
{
    open_run(small_run("checksum"), 80, 24, 1);
    key('?');
    cr_expect(screen_has("Keys: Stalls view"));
    cr_expect(screen_has("z            freeze or resume live updates"));
    cr_expect_eq(key('j') & SSV_ACT_QUIT, 0);
    cr_expect_not(screen_has("Keys: Stalls view"));
    cr_expect_eq(app.stalls.pos.sel, 0, "the key that closes help does nothing else");
    key('2');
    key(SSV_KEY_F1);
    cr_expect(screen_has("Widths: a stall's time is shared out among its samples as the exports"));
}

Test(views, freeze_asks_for_a_reload_when_resumed)
{
    open_run(small_run("checksum"), 80, 24, 0);
    cr_expect_eq(key('z') & SSV_ACT_RELOAD, 0);
    cr_expect(strstr(row(0), "frozen"), "%s", row(0));
    cr_expect(key('z') & SSV_ACT_RELOAD);
}

Test(views, calls_view_lists_call_sites)
{
    open_run(small_run("checksum"), 100, 30, 0);
    struct ss_process *p = &app.snap->vm.run->procs[0];
    struct ssv_vm_call *calls = calloc(2, sizeof *calls);
    cr_assert_not_null(calls);
    calls[0] = (struct ssv_vm_call){p, "read", "file", 3, 90 * MS, 40 * MS, p->stacks[0], NULL, 0};
    calls[1] =
        (struct ssv_vm_call){p, "getaddrinfo", "dns", 1, 300 * MS, 300 * MS, p->stacks[1], NULL, 0};
    ssv_vm_set_calls(&app.snap->vm, calls, 2);
    key('3');
    cr_expect(strstr(row(1), "FUNCTION") && strstr(row(1), "CALL SITE"), "%s", row(1));
    cr_expect(strstr(row(2), "getaddrinfo") && strstr(row(2), "300ms") &&
                  strstr(row(2), "wait_for_backend"),
              "%s", row(2));
    cr_expect(strstr(row(3), "read") && strstr(row(3), "checksum"), "%s", row(3));
    keys("j");
    key(SSV_KEY_ENTER);
    cr_expect(strstr(row(1), "read() (file) in pid 4242: 3 calls, 90ms in all, longest 40ms"), "%s",
              row(1));
    cr_expect(screen_has("    on_request"));
}

Test(views, hostile_names_cannot_reach_the_terminal)
{
    open_run(small_run("evil\x1b[2J\tname\xff"), 80, 24, 1);
    ssv_app_draw(&app, &cv);
    cr_expect(strstr(row(3), "evil?[2J?name?"), "%s", row(3));
}

Test(views, ascii_and_utf8_glyphs)
{
    setlocale(LC_ALL, "C.UTF-8");
    open_run(small_run("caf\xc3\xa9"), 80, 24, 1);
    ssv_app_draw(&app, &cv);
    cr_expect(strstr(row(3), "caf\xc3\xa9"), "%s", row(3));
    cr_expect(strstr(row(3), "\xe2\x96\x88"), "a block bar: %s", row(3));
    ssv_cv_free(&cv);
    cr_assert_eq(ssv_cv_init(&cv, 80, 24, 0, 0), 0);
    ssv_app_draw(&app, &cv);
    cr_expect(strstr(row(3), "caf?"), "%s", row(3));
    cr_expect(strstr(row(3), "######## caf?"), "%s", row(3));
    cr_expect(strstr(row(1), "TIMEv"), "%s", row(1));
}

Test(views, a_hundred_thousand_stalls_page_by_page)
{
    struct ss_run *run = rb_run();
    struct ss_process *p = rb_process(run, 1, 10 * MS);
    struct ss_stack *st = rb_stack(p, "work", "main", NULL);
    for (uint64_t i = 0; i < 100000; i++)
        rb_sample(rb_stall(p, 1, p->start_mono_ns + i * MS, (50 + i % 1000) * MS), st, 50 * MS);
    open_run(run, 100, 40, 0);
    key('G');
    cr_expect_eq(app.stalls.pos.sel, 99999);
    cr_expect(strstr(row(38), "50ms"), "the oldest stall is last: %s", row(38));
    cr_expect_eq(ssv_cv_at(&cv, 38, 0)->style, SSV_CV_SELECTED);
    key(SSV_KEY_PGUP);
    cr_expect_eq(app.stalls.pos.sel, 99999 - 36);
    key('g');
    cr_expect_eq(app.stalls.pos.top, 0);
    cr_expect(strstr(row(2), "1.05s"), "the newest first: %s", row(2));
}

Test(views, batch_draws_every_row)
{
    open_run(small_run("checksum"), 80, 24, 0);
    struct ssv_canvas out;
    cr_assert_eq(ssv_cv_init(&out, 90, 0, 0, 1), 0);
    ssv_app_draw_batch(&app, SSV_VIEW_LOOPS, &out);
    cr_expect_eq(out.h, 10, "table, a blank line and the thread's details");
    char line[512];
    ssv_cv_row_text(&out, 0, line, sizeof line);
    cr_expect(strstr(line, "ITERATIONS"), "%s", line);
    ssv_cv_free(&out);
}

/* Named by the built-in rules: pid 1 (server), a stall at +1s of 400ms in JSON.parse, one at
 * +2s of 300ms in read(); 700ms, 4 to 3. */
static struct ss_run *causes_run(void)
{
    struct ss_run *run = rb_run();
    struct ss_process *p = rb_process(run, 1, 10 * MS);
    rb_thread(p, 1, "server");
    struct ss_stack *json = rb_stack(p, "v8::internal::JsonParser<unsigned char>::ParseJson",
                                     "JS:~parse /app/s.js:4:15", NULL);
    struct ss_stall *s = rb_stall(p, 1, p->start_mono_ns + 1000 * MS, 400 * MS);
    rb_sample(s, json, 50 * MS);
    rb_sample(s, json, 100 * MS);
    s = rb_stall(p, 1, p->start_mono_ns + 2000 * MS, 300 * MS);
    s->calls = calloc(1, sizeof *s->calls);
    s->calls[0] = (struct ss_stall_call){"read", "file", 2, 300 * MS};
    s->ncalls = 1;
    rb_classify(run);
    return run;
}

Test(views, stalls_have_a_cause_column_and_their_details_the_parts)
{
    open_run(causes_run(), 120, 30, 0);
    ssv_app_draw(&app, &cv);
    cr_expect(strstr(row(1), "DURATION") && strstr(row(1), " CAUSE "), "%s", row(1));
    cr_expect(strstr(row(2), "300ms") && strstr(row(2), " blocked:file "), "%s", row(2));
    cr_expect(strstr(row(3), "400ms") && strstr(row(3), " cpu:json "), "%s", row(3));
    key(SSV_KEY_ENTER);
    cr_expect(screen_has("  cause     blocked:file 100% (read)"));
    cr_expect(screen_has("  advice    Do file I/O off the loop thread"));
    key(SSV_KEY_ESC);
    key('j');
    key(SSV_KEY_ENTER);
    cr_expect(screen_has("  cause     cpu:json 100% (v8::internal::JsonParser<unsigned "
                         "char>::ParseJson in parse)"));
    key(SSV_KEY_ESC);
    ssv_cv_resize(&cv, 80, 24);
    ssv_app_draw(&app, &cv);
    cr_expect_null(strstr(row(1), "CAUSE"), "no room for the cause at 80 columns: %s", row(1));
}

Test(views, causes_view_lists_time_by_cause_and_enter_its_stalls)
{
    open_run(causes_run(), 120, 30, 0);
    key('5');
    cr_expect(strstr(row(0), " 5 Causes "), "%s", row(0));
    cr_expect(strstr(row(1), "Stalled time by cause: 700ms in 2 stalls"), "%s", row(1));
    cr_expect(strstr(row(2), "CAUSE") && strstr(row(2), "SHARE") && strstr(row(2), "LONGEST IN"),
              "%s", row(2));
    cr_expect(strstr(row(3), "cpu:json") && strstr(row(3), "400ms") && strstr(row(3), "57%") &&
                  strstr(row(3), " v8::internal::JsonParser"),
              "%s", row(3));
    cr_expect(strstr(row(4), "blocked:file") && strstr(row(4), "43%") && strstr(row(4), " read"),
              "%s", row(4));
    cr_expect(screen_has("advice: Parse or generate big documents off the loop thread."),
              "the selected cause's advice");
    cr_expect(strstr(row(29), "2 causes, most stalled time first"), "%s", row(29));
    key('j');
    cr_expect(screen_has(" blocked:file: 300ms, 43% of the stalled time, in 1 stall; longest "
                         "300ms in read (pid 1)"));
    key(SSV_KEY_ENTER);
    cr_expect_eq(app.view, SSV_VIEW_STALLS);
    cr_expect(strstr(row(1), "1 stall with time in blocked:file, 300ms in all"), "%s", row(1));
    cr_expect(strstr(row(2), "Do file I/O off the loop thread"), "%s", row(2));
    cr_expect(strstr(row(4), "TIME"), "%s", row(4));
    cr_expect(strstr(row(5), "blocked:file"), "%s", row(5));
    cr_expect_eq(row(6)[0], '\0', "only the stall of that cause: %s", row(6));
    cr_expect(strstr(row(29), "1 of 2 stalls, with time in blocked:file"), "%s", row(29));
    key(SSV_KEY_ENTER);
    cr_expect(screen_has("  cause     blocked:file 100% (read)"));
    key(SSV_KEY_ESC);
    cr_expect_eq(app.view, SSV_VIEW_STALLS, "Esc leaves the details first");

    /* A reload keeps the filter, as it keeps the search. */
    struct ssv_snapshot *s = calloc(1, sizeof *s);
    cr_assert_not_null(s);
    cr_assert_eq(ssv_vm_build(&s->vm, causes_run()), 0);
    struct ssv_vm_scope all = {SSV_VM_SCOPE_ALL, 0, 0, 0};
    cr_assert_eq(ssv_flame_build(&s->flame, &s->vm, &all), 0);
    ssv_app_install(&app, s);
    ssv_app_draw(&app, &cv);
    cr_expect_eq(app.snap->vm.nshown, 1);
    cr_expect(strstr(row(5), "blocked:file"), "%s", row(5));

    key(SSV_KEY_ESC);
    cr_expect_eq(app.view, SSV_VIEW_CAUSES, "Esc goes back to the causes");
    cr_expect_eq(app.snap->vm.nshown, 2);
    cr_expect_eq(app.causes.pos.sel, 1, "on the cause it came from");
    key('1');
    cr_expect(strstr(row(3), "cpu:json"), "all stalls again: %s", row(3));
}

Test(views, batch_draws_every_cause_with_its_advice)
{
    open_run(causes_run(), 80, 24, 0);
    struct ssv_canvas out;
    cr_assert_eq(ssv_cv_init(&out, 100, 0, 0, 1), 0);
    ssv_app_draw_batch(&app, SSV_VIEW_CAUSES, &out);
    char line[512];
    ssv_cv_row_text(&out, 2, line, sizeof line);
    cr_expect(strstr(line, "cpu:json"), "%s", line);
    ssv_cv_row_text(&out, 3, line, sizeof line);
    cr_expect(strstr(line, "blocked:file"), "%s", line);
    ssv_cv_row_text(&out, 5, line, sizeof line);
    cr_expect(strstr(line, " cpu:json: 400ms, 57% of the stalled time"), "%s", line);
    ssv_cv_row_text(&out, 6, line, sizeof line);
    cr_expect(strstr(line, "advice: Parse or generate big documents off the loop thread."), "%s",
              line);
    ssv_cv_row_text(&out, 8, line, sizeof line);
    cr_expect(strstr(line, " blocked:file: 300ms"), "%s", line);
    ssv_cv_free(&out);
}
