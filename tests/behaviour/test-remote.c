/* The monitor's building blocks on real processes: programs of tests/fixtures/remote run on
 * their own, never under the shim, and are sampled with perf events, read through /proc and
 * unwound from this process, as the monitor will: C threads spinning and blocked, the perf
 * ring, and the modules of the target (PIE or not, the vDSO, a library mapped twice or
 * loaded late). Frames are checked by name through the symbolizer fed with the target's own
 * module table (remote.h). Times are printed, never asserted beyond generous bounds.
 * test-remote-access.c has the runtimes and the privileges. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "remote.h"

/* ---- perf sampling of a C program -------------------------------------------------------- */

static void spinning_threads(const char *fixture)
{
    struct proc p;
    start_fixture(&p, fixture, "spin", NULL);
    struct ss_target *t;
    cr_assert_eq(ss_target_open(p.pid, &t), 0);
    struct names nm;
    names_for(&nm, t);
    struct sampler sm = {t, new_samples(), 0};
    printf("%s, main thread:\n", fixture);
    double median = sample_rounds(&sm, p.pid, p.main_tid, 10);
    for (unsigned i = 0; i < sm.n; i++)
        expect_chain(&nm, &sm.s[i], main_chain);
    print_unwind_costs(&sm, "main thread");
    print_frames(&nm, sm.s[0].frames, sm.s[0].n);
    cr_expect_lt(median, 50.0, "the first sample came %.3f ms after enable", median);

    sm.n = 0;
    printf("%s, second thread:\n", fixture);
    sample_rounds(&sm, p.pid, p.thread_tid, 10);
    for (unsigned i = 0; i < sm.n; i++) {
        cr_expect_eq(sm.s[i].tid, p.thread_tid);
        expect_chain(&nm, &sm.s[i], thread_chain);
    }
    print_unwind_costs(&sm, "second thread");
    end_target(&nm, sm.s, t, &p);
}

Test(remote, perf_samples_unwind_at_O0, .timeout = 60)
{
    spinning_threads("tests/fixtures/remote/remote-fixture-O0");
}

Test(remote, perf_samples_unwind_at_O2, .timeout = 60)
{
    spinning_threads("tests/fixtures/remote/remote-fixture-O2");
}

Test(remote, perf_samples_unwind_without_pie, .timeout = 60)
{
    spinning_threads("tests/fixtures/remote/remote-fixture-nopie");
}

/* Time the thread spent on a CPU, from the scheduler's statistics. */
static uint64_t cpu_ns(pid_t pid, pid_t tid)
{
    char path[64];
    unsigned long long ns = 0;
    snprintf(path, sizeof path, "/proc/%d/task/%d/schedstat", (int)pid, (int)tid);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    cr_assert_eq(fscanf(f, "%llu", &ns), 1);
    fclose(f);
    return ns;
}

/* The ring wraps (two samples fit), samples the monitor was too slow for are counted as lost,
 * and what is drained still unwinds. */
Test(remote, perf_ring_wraps_and_counts_lost, .timeout = 60)
{
    struct proc p;
    start_fixture(&p, "tests/fixtures/remote/remote-fixture-O2", "spin", NULL);
    struct ss_target *t;
    cr_assert_eq(ss_target_open(p.pid, &t), 0);
    struct names nm;
    names_for(&nm, t);
    struct ss_perf *perf;
    cr_assert_eq(ss_perf_open(p.pid, p.main_tid, 1000000, 0, &perf), 0);
    struct sampler sm = {t, new_samples(), 0};
    uint64_t cpu0 = cpu_ns(p.pid, p.main_tid);
    cr_assert_eq(ss_perf_enable(perf, 0), 0);
    /* Ten periods of the thread's CPU time without draining: the ring holds two of them. */
    for (int i = 0; i < 2000 && cpu_ns(p.pid, p.main_tid) < cpu0 + 10000000; i++)
        usleep(5000);
    while (sm.n < 2) {
        wait_readable(perf);
        ss_perf_drain(perf, on_sample, &sm);
    }
    /* Then draining as samples come: the ring wraps many times over. */
    while (sm.n < 40) {
        wait_readable(perf);
        cr_assert_geq(ss_perf_drain(perf, on_sample, &sm), 0);
    }
    cr_assert_eq(ss_perf_disable(perf), 0);
    ss_perf_drain(perf, on_sample, &sm);
    printf("ring of %zu bytes: %u samples drained, %llu lost\n", ss_perf_ring_bytes(perf), sm.n,
           (unsigned long long)ss_perf_lost(perf));
    cr_expect_gt(ss_perf_lost(perf), 0, "samples beyond the ring's two must be counted as lost");
    for (unsigned i = 0; i < sm.n && i < MAX_SAMPLES; i++)
        expect_chain(&nm, &sm.s[i], main_chain);
    for (unsigned i = 1; i < sm.n && i < MAX_SAMPLES; i++)
        cr_expect_gt(sm.s[i].time_ns, sm.s[i - 1].time_ns, "samples come oldest first");
    ss_perf_close(perf);
    end_target(&nm, sm.s, t, &p);
}

/* ---- a thread blocked in a system call --------------------------------------------------- */

static void wait_in_read(pid_t pid, pid_t tid, struct ss_thread_now *now)
{
    for (int i = 0; i < 2000; i++) {
        cr_assert_eq(ss_thread_now(pid, tid, now), 0);
        if (now->activity == SS_THREAD_IN_SYSCALL && now->nr == SYS_read)
            return;
        usleep(1000);
    }
    cr_assert_fail("thread %d never blocked in read (activity %d, nr %ld)", (int)tid, now->activity,
                   now->nr);
}

/* What (sp, pc) alone give: they are all that /proc tells of a thread in a system call. */
static unsigned unwind_blocked(struct names *nm, struct ss_target *t, pid_t pid, pid_t tid,
                               struct sample *s)
{
    struct ss_thread_now now;
    wait_in_read(pid, tid, &now);
    cr_assert_neq(now.sp, 0);
    cr_assert_neq(now.pc, 0);
    long len = ss_copy_stack(pid, now.sp, s->stack, sizeof s->stack);
    cr_assert_gt(len, 0, "ss_copy_stack: %ld", len);
    memset(&s->regs, 0, sizeof s->regs);
    s->regs.r[SS_REG_RSP] = now.sp;
    s->regs.r[SS_REG_RIP] = now.pc;
    s->regs.known = (1u << SS_REG_RSP) | (1u << SS_REG_RIP);
    s->stack_base = now.sp;
    s->stack_len = (size_t)len;
    s->tid = tid;
    unwind_sample(t, s);
    struct ss_frame_info fi;
    cr_expect(s->n > 0 && strstr(name_of(nm, s->frames[0], &fi), "read"),
              "the innermost frame is libc's read");
    printf("  thread %d in read, %ld bytes of stack copied: %u frames from sp and pc alone\n",
           (int)tid, len, s->n);
    print_frames(nm, s->frames, s->n);
    return s->n;
}

static void blocked_threads(const char *fixture, bool frame_pointers)
{
    struct proc p;
    start_fixture(&p, fixture, "block", NULL);
    struct ss_target *t;
    cr_assert_eq(ss_target_open(p.pid, &t), 0);
    struct names nm;
    names_for(&nm, t);
    struct sample *s = new_samples();
    static const char *const main_read[] = {"*", "f3_read", "f2", "f1", "main", NULL};
    static const char *const thread_read[] = {"*", "f3_read", "f2", "f1", "thread_main", NULL};
    printf("%s:\n", fixture);
    unwind_blocked(&nm, t, p.pid, p.main_tid, &s[0]);
    unwind_blocked(&nm, t, p.pid, p.thread_tid, &s[1]);
    if (frame_pointers) {
        /* The caller of read keeps its frame address in rbp, which only the thread itself
         * knows: the walk ends there. */
        static const char *const first_two[] = {"*", "f3_read", NULL};
        cr_expect(starts_with(&nm, s[0].frames, s[0].n, first_two));
        cr_expect(starts_with(&nm, s[1].frames, s[1].n, first_two));
    } else {
        expect_chain(&nm, &s[0], main_read);
        expect_chain(&nm, &s[1], thread_read);
    }
    end_target(&nm, s, t, &p);
}

Test(remote, blocked_thread_from_sp_and_pc_at_O2, .timeout = 60)
{
    blocked_threads("tests/fixtures/remote/remote-fixture-O2", false);
}

Test(remote, blocked_thread_from_sp_and_pc_at_O0, .timeout = 60)
{
    blocked_threads("tests/fixtures/remote/remote-fixture-O0", true);
}

Test(remote, thread_states, .timeout = 60)
{
    struct proc p;
    struct ss_thread_now now;
    start_fixture(&p, "tests/fixtures/remote/remote-fixture-O2", "spin", NULL);
    cr_assert_eq(ss_thread_now(p.pid, p.thread_tid, &now), 0);
    /* A spinning thread is on a CPU, or waits for one. */
    cr_expect(now.activity == SS_THREAD_RUNNING || now.activity == SS_THREAD_STOPPED_USER,
              "activity %d", now.activity);
    proc_stop(&p);
    cr_assert_eq(ss_thread_now(p.main_tid, p.thread_tid, &now), 0);
    cr_expect_eq(now.activity, SS_THREAD_GONE);

    start_fixture(&p, "tests/fixtures/remote/remote-fixture-O2", "block", NULL);
    wait_in_read(p.pid, p.thread_tid, &now);
    cr_expect_eq(now.nr, 0);
    char buf[64];
    cr_expect_eq(ss_copy_stack(p.pid, 8, buf, sizeof buf), 0, "nothing at an unmapped sp");
    proc_stop(&p);
}

/* ---- modules ----------------------------------------------------------------------------- */

Test(remote, modules_pie_nopie_vdso)
{
    char exe[512];
    struct proc p;
    struct ss_target *t;
    const struct ss_target_module *m;

    path_of(exe, sizeof exe, "SS_BUILDDIR", "tests/fixtures/remote/remote-fixture-O2");
    start_fixture(&p, "tests/fixtures/remote/remote-fixture-O2", "spin", NULL);
    cr_assert_eq(ss_target_open(p.pid, &t), 0);
    cr_assert_eq(ss_target_pid(t), p.pid);
    cr_assert_not_null(m = module_named(t, "/remote-fixture-O2", 0));
    cr_expect_neq(m->bias, 0, "a PIE is loaded at a bias");
    cr_expect(m->lo >= m->bias && m->lo < m->hi);
    expect_build_id(m, exe);
    cr_assert_not_null(m = module_named(t, "linux-vdso.so.1", 0));
    cr_expect_gt(m->build_id_len, 0, "the vDSO's build-id is read from the target");
    cr_expect_eq(m->bias, m->lo, "the vDSO is linked at 0");
    cr_expect_not_null(module_named(t, "/libc.so.6", 0));
    end_target(NULL, NULL, t, &p);

    path_of(exe, sizeof exe, "SS_BUILDDIR", "tests/fixtures/remote/remote-fixture-nopie");
    start_fixture(&p, "tests/fixtures/remote/remote-fixture-nopie", "spin", NULL);
    cr_assert_eq(ss_target_open(p.pid, &t), 0);
    cr_assert_not_null(m = module_named(t, "/remote-fixture-nopie", 0));
    cr_expect_eq(m->bias, 0, "a program linked without PIE runs where it was linked");
    expect_build_id(m, exe);
    pid_t gone = p.pid;
    end_target(NULL, NULL, t, &p);

    cr_expect_eq(ss_target_open(gone, &t), -ESRCH);
    cr_expect_eq(ss_target_open(0, &t), -EINVAL);
}

/* Code in the vDSO is unwound with the unwind table of the copy taken from the target. */
Test(remote, through_the_vdso, .timeout = 60)
{
    struct proc p;
    start_fixture(&p, "tests/fixtures/remote/remote-fixture-O2", "clock", NULL);
    struct ss_target *t;
    cr_assert_eq(ss_target_open(p.pid, &t), 0);
    const struct ss_target_module *vdso = module_named(t, "linux-vdso.so.1", 0);
    cr_assert_not_null(vdso);
    struct names nm;
    names_for(&nm, t);
    struct sampler sm = {t, new_samples(), 0};
    printf("reading the clock:\n");
    sample_rounds(&sm, p.pid, p.main_tid, 20);
    static const char *const chain[] = {"f3_clock", "f2", "f1", "main", "__libc_start_call_main",
                                        NULL};
    unsigned in_vdso = 0;
    for (unsigned i = 0; i < sm.n; i++) {
        const struct sample *s = &sm.s[i];
        bool vdso_frame = s->n > 0 && s->frames[0] >= vdso->lo && s->frames[0] < vdso->hi;
        int at = find_name(&nm, s->frames, s->n, 0, "f3_clock");
        bool ok = at >= 0 && starts_with(&nm, s->frames + at, s->n - (unsigned)at, chain);
        if (!ok)
            print_frames(&nm, s->frames, s->n);
        cr_expect(ok, "the sample reaches main through f3_clock");
        if (vdso_frame && ok && in_vdso++ == 0)
            print_frames(&nm, s->frames, s->n);
    }
    printf("  %u of %u samples in the vDSO\n", in_vdso, sm.n);
    cr_expect_gt(in_vdso, 0, "some samples land in the vDSO");
    end_target(&nm, sm.s, t, &p);
}

/* Frames of the stallscope shim at the top of a stack are the shim's, not the program's: a
 * library of that name stands in for it. */
Test(remote, leading_shim_frames_left_out, .timeout = 60)
{
    char dir[] = "/tmp/ss-remote-XXXXXX", lib[512], shim[600], cmd[1200];
    cr_assert_not_null(mkdtemp(dir));
    lib_path(lib, sizeof lib);
    snprintf(shim, sizeof shim, "%s/libstallscope.so", dir);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", lib, shim);
    cr_assert_eq(system(cmd), 0);
    struct proc p;
    start_fixture(&p, "tests/fixtures/remote/remote-fixture-O2", "lib", shim);
    struct ss_target *t;
    cr_assert_eq(ss_target_open(p.pid, &t), 0);
    struct names nm;
    names_for(&nm, t);
    struct sampler sm = {t, new_samples(), 0};
    sample_rounds(&sm, p.pid, p.main_tid, 3);
    static const char *const chain[] = {"f2", "f1", "main", "__libc_start_call_main", NULL};
    for (unsigned i = 0; i < sm.n; i++)
        expect_chain(&nm, &sm.s[i], chain);
    end_target(&nm, sm.s, t, &p);
    unlink(shim);
    rmdir(dir);
}

/* A library's code mapped a second time, as V8 remaps its builtins: two modules, each with
 * the bias that makes its addresses the same file addresses. Code running in the copy has no
 * unwind table at its bias, so its frame is walked by its frame pointer. */
Test(remote, file_mapped_twice, .timeout = 60)
{
    char lib[512];
    lib_path(lib, sizeof lib);
    struct proc p;
    start_fixture(&p, "tests/fixtures/remote/remote-fixture-O2", "remap", lib);
    struct ss_target *t;
    cr_assert_eq(ss_target_open(p.pid, &t), 0);
    const struct ss_target_module *a = module_named(t, "/libremote.so", 0);
    const struct ss_target_module *b = module_named(t, "/libremote.so", 1);
    cr_assert(a && b, "two executable mappings of the library");
    /* b: the copy, where the fixture runs. */
    if (p.code >= a->lo && p.code < a->hi) {
        const struct ss_target_module *c = a;
        a = b;
        b = c;
    }
    cr_assert(p.code >= b->lo && p.code < b->hi);
    cr_expect_eq(module_named(t, "/libremote.so", 2), NULL);
    cr_expect_neq(a->bias, b->bias);
    cr_expect_eq(a->lo - a->bias, b->lo - b->bias, "both map the same file addresses");
    cr_expect_eq(a->hi - a->lo, b->hi - b->lo);
    expect_build_id(a, lib);
    expect_build_id(b, lib);
    struct names nm;
    names_for(&nm, t);
    struct sampler sm = {t, new_samples(), 0};
    printf("a library's code mapped twice:\n");
    sample_rounds(&sm, p.pid, p.main_tid, 3);
    for (unsigned i = 0; i < sm.n; i++) {
        expect_chain(&nm, &sm.s[i], lib_chain);
        cr_expect(sm.s[i].frames[0] >= b->lo && sm.s[i].frames[0] < b->hi,
                  "running in the second mapping");
    }
    print_frames(&nm, sm.s[0].frames, sm.s[0].n);
    end_target(&nm, sm.s, t, &p);
}

/* A library loaded after the target was opened is unknown until a refresh. */
Test(remote, dlopen_after_start_needs_refresh, .timeout = 60)
{
    char lib[512], line[64];
    lib_path(lib, sizeof lib);
    struct proc p;
    start_fixture(&p, "tests/fixtures/remote/remote-fixture-O2", "late", lib);
    struct ss_target *t;
    cr_assert_eq(ss_target_open(p.pid, &t), 0);
    cr_expect_eq(module_named(t, "/libremote.so", 0), NULL);
    cr_assert_eq(write(p.to_child, "go\n", 3), 3);
    cr_assert_not_null(fgets(line, sizeof line, p.from_child));
    cr_assert_str_eq(line, "loaded\n");

    struct sampler sm = {t, new_samples(), 0};
    sample_rounds(&sm, p.pid, p.main_tid, 2);
    cr_expect_eq(ss_target_unwind(t, &sm.s[0].regs, sm.s[0].stack_base, sm.s[0].stack,
                                  sm.s[0].stack_len, sm.s[0].frames, SS_TRACE_MAX_FRAMES),
                 sm.s[0].n, "unwinding is repeatable");
    printf("before the refresh, %u frames (the library is not known)\n", sm.s[0].n);

    cr_assert_eq(ss_target_refresh(t), 0);
    const struct ss_target_module *m = module_named(t, "/libremote.so", 0);
    cr_assert_not_null(m, "the library is known after the refresh");
    expect_build_id(m, lib);
    struct names nm;
    names_for(&nm, t);
    sm.n = 0;
    sample_rounds(&sm, p.pid, p.main_tid, 3);
    for (unsigned i = 0; i < sm.n; i++)
        expect_chain(&nm, &sm.s[i], lib_chain);
    print_frames(&nm, sm.s[0].frames, sm.s[0].n);
    end_target(&nm, sm.s, t, &p);
}

/* Stacks copied while the target ran unwind after it exited: everything but the stack comes
 * from the module files. */
Test(remote, unwind_after_target_exited, .timeout = 60)
{
    struct proc p;
    start_fixture(&p, "tests/fixtures/remote/remote-fixture-O2", "spin", NULL);
    struct ss_target *t;
    cr_assert_eq(ss_target_open(p.pid, &t), 0);
    struct names nm;
    names_for(&nm, t);
    struct sampler sm = {NULL, new_samples(), 0};
    sample_rounds(&sm, p.pid, p.main_tid, 3);
    sample_rounds(&sm, p.pid, p.thread_tid, 3);
    pid_t pid = p.pid;
    proc_stop(&p);
    uint64_t word;
    cr_expect_eq(ss_target_read(t, sm.s[0].stack_base, &word, sizeof word), -ESRCH);
    cr_expect_eq(ss_target_refresh(t), -ESRCH, "pid %d is gone", (int)pid);
    cr_assert_gt(ss_target_modules(t, &(const struct ss_target_module *){NULL}), 0,
                 "a failed refresh keeps the modules");
    for (unsigned i = 0; i < sm.n; i++) {
        unwind_sample(t, &sm.s[i]);
        expect_chain(&nm, &sm.s[i], sm.s[i].tid == pid ? main_chain : thread_chain);
    }
    print_unwind_costs(&sm, "after exit");
    end_target(&nm, sm.s, t, NULL);
}
