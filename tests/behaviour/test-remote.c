/* The monitor's building blocks on real processes: programs of tests/fixtures/remote (and Node
 * and Python when installed) run on their own, never under the shim, and are sampled with perf
 * events, read through /proc and unwound from this process, as the monitor will. Frames are
 * checked by name through the symbolizer fed with the target's own module table. Times are
 * printed, never asserted beyond generous bounds. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/trace-format.h"
#include "monitor/perf.h"
#include "monitor/target.h"
#include "monitor/thread-state.h"
#include "symbols/symbolize.h"

extern char **environ;

#define NOBODY 65534
#define PERIOD_NS 5000000ull      /* 5 ms between samples */
#define FIRST_PERIOD_NS 100000ull /* the first after 0.1 ms of CPU time */
#define MAX_SAMPLES 64

/* ---- fixtures ---------------------------------------------------------------------------- */

struct proc {
    pid_t pid, main_tid, thread_tid;
    uint64_t code; /* where the innermost function of main's chain is */
    int to_child;
    FILE *from_child;
};

/* Fixtures still running when a test ends early (a failed assertion), killed by fini. */
static pid_t running[8];

static void kill_running(void)
{
    for (unsigned i = 0; i < 8; i++)
        if (running[i] > 0) {
            kill(running[i], SIGKILL);
            waitpid(running[i], NULL, 0);
            running[i] = 0;
        }
}

TestSuite(remote, .fini = kill_running);

static void path_of(char *buf, size_t len, const char *env, const char *rel)
{
    const char *dir = getenv(env);
    snprintf(buf, len, "%s/%s", dir ? dir : ".", rel);
}

/* Starts argv[0] with pipes on its stdin and stdout and waits for its "ready" line. */
static void start(struct proc *p, const char *const argv[])
{
    int in[2], out[2];
    memset(p, 0, sizeof *p);
    cr_assert_eq(pipe2(in, O_CLOEXEC), 0);
    cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    cr_assert_eq(posix_spawn(&p->pid, argv[0], &fa, NULL, (char *const *)argv, environ), 0,
                 "cannot run %s", argv[0]);
    posix_spawn_file_actions_destroy(&fa);
    for (unsigned i = 0; i < 8; i++)
        if (running[i] == 0) {
            running[i] = p->pid;
            break;
        }
    close(in[0]);
    close(out[1]);
    p->to_child = in[1];
    p->from_child = fdopen(out[0], "r");
    char line[128];
    cr_assert_not_null(fgets(line, sizeof line, p->from_child), "%s did not start", argv[0]);
    int a = 0, b = 0;
    unsigned long code = 0;
    cr_assert(strncmp(line, "ready", 5) == 0, "%s said: %s", argv[0], line);
    /* The runtimes' fixtures say only "ready". */
    if (sscanf(line, "ready %d %d %lx", &a, &b, &code) != 3)
        a = b = 0;
    p->main_tid = a ? a : p->pid;
    p->thread_tid = b;
    p->code = code;
}

static void stop(struct proc *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
        for (unsigned i = 0; i < 8; i++)
            if (running[i] == p->pid)
                running[i] = 0;
        p->pid = 0;
    }
    if (p->from_child)
        fclose(p->from_child);
    if (p->to_child > 0)
        close(p->to_child);
    p->from_child = NULL;
    p->to_child = 0;
}

static void start_fixture(struct proc *p, const char *name, const char *mode, const char *lib)
{
    char exe[512];
    path_of(exe, sizeof exe, "SS_BUILDDIR", name);
    const char *argv[] = {exe, mode, lib, NULL};
    start(p, argv);
}

static void lib_path(char *buf, size_t len)
{
    path_of(buf, len, "SS_BUILDDIR", "tests/fixtures/remote/libremote.so");
}

/* ---- sampling ---------------------------------------------------------------------------- */

struct sample {
    pid_t tid;
    uint64_t time_ns, unwind_ns;
    unsigned n;
    uint64_t frames[SS_TRACE_MAX_FRAMES];
    /* The copy itself, for unwinding later. */
    struct ss_regs regs;
    uint64_t stack_base;
    size_t stack_len;
    uint8_t stack[65536];
};

struct sampler {
    struct ss_target *t; /* NULL: keep copies only, unwind later */
    struct sample *s;
    unsigned n;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void unwind_sample(struct ss_target *t, struct sample *s)
{
    uint64_t t0 = now_ns();
    s->n = ss_target_unwind(t, &s->regs, s->stack_base, s->stack, s->stack_len, s->frames,
                            SS_TRACE_MAX_FRAMES);
    s->unwind_ns = now_ns() - t0;
}

static void on_sample(void *ctx, const struct ss_perf_sample *ps)
{
    struct sampler *sm = ctx;
    if (sm->n == MAX_SAMPLES)
        return;
    struct sample *s = &sm->s[sm->n++];
    s->tid = ps->tid;
    s->time_ns = ps->time_ns;
    s->regs = ps->regs;
    s->stack_base = ps->stack_base;
    s->stack_len = ps->stack_len < sizeof s->stack ? ps->stack_len : sizeof s->stack;
    memcpy(s->stack, ps->stack, s->stack_len);
    if (sm->t)
        unwind_sample(sm->t, s);
}

static void wait_readable(struct ss_perf *p)
{
    struct pollfd pfd = {ss_perf_fd(p), POLLIN, 0};
    cr_assert_eq(poll(&pfd, 1, 5000), 1, "no sample within 5 s");
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Enables the thread's event `rounds` times, each time taking the one-shot sample and one
 * regular sample, the way the monitor will at the start of a stall. Returns the median delay
 * from enable to the first sample's time. */
static double sample_rounds(struct sampler *sm, pid_t pid, pid_t tid, unsigned rounds)
{
    struct ss_perf *p;
    char why[256];
    int r = ss_perf_open(pid, tid, PERIOD_NS, 0, &p);
    cr_assert_eq(r, 0, "ss_perf_open: %s", ss_perf_explain(r, why, sizeof why));
    uint64_t delays[32];
    cr_assert_leq(rounds, 32);
    for (unsigned i = 0; i < rounds; i++) {
        unsigned before = sm->n;
        uint64_t t0 = now_ns();
        cr_assert_eq(ss_perf_enable(p, FIRST_PERIOD_NS), 0);
        while (sm->n < before + 2) {
            wait_readable(p);
            cr_assert_geq(ss_perf_drain(p, on_sample, sm), 0);
        }
        cr_assert_eq(ss_perf_disable(p), 0);
        cr_assert_gt(sm->s[before].time_ns, t0);
        delays[i] = sm->s[before].time_ns - t0;
        /* A sample taken before the disable may still be in the ring: it belongs to this
         * round, not to the next one's first. */
        cr_assert_geq(ss_perf_drain(p, on_sample, sm), 0);
    }
    qsort(delays, rounds, sizeof *delays, cmp_u64);
    printf("  perf: ring %zu bytes, %u bytes of stack a sample, %llu lost; first sample after "
           "enable: median %.3f ms, max %.3f ms (%u enables)\n",
           ss_perf_ring_bytes(p), ss_perf_stack_bytes(p), (unsigned long long)ss_perf_lost(p),
           delays[rounds / 2] / 1e6, delays[rounds - 1] / 1e6, rounds);
    ss_perf_close(p);
    return delays[rounds / 2] / 1e6;
}

static void print_unwind_costs(const struct sampler *sm, const char *what)
{
    uint64_t cost[MAX_SAMPLES];
    unsigned frames = 0;
    for (unsigned i = 0; i < sm->n; i++) {
        cost[i] = sm->s[i].unwind_ns;
        frames = sm->s[i].n > frames ? sm->s[i].n : frames;
    }
    uint64_t first = cost[0];
    qsort(cost, sm->n, sizeof *cost, cmp_u64);
    printf("  %s: %u samples, up to %u frames; unwind %.1f us median, %.1f us max, %.1f us the "
           "first\n",
           what, sm->n, frames, cost[sm->n / 2] / 1e3, cost[sm->n - 1] / 1e3, first / 1e3);
}

/* ---- frames by name ---------------------------------------------------------------------- */

struct names {
    struct ss_elf_cache *cache;
    struct ss_symbolizer *sym;
};

static void names_for(struct names *nm, struct ss_target *t)
{
    nm->cache = ss_elf_cache_new();
    nm->sym = ss_symbolizer_new(nm->cache);
    cr_assert(nm->cache && nm->sym);
    const struct ss_target_module *m;
    size_t n = ss_target_modules(t, &m);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(ss_symbolizer_add_module(nm->sym, m[i].path, m[i].bias, m[i].lo, m[i].hi,
                                              m[i].build_id, m[i].build_id_len),
                     0);
}

static void names_free(struct names *nm)
{
    ss_symbolizer_free(nm->sym);
    ss_elf_cache_free(nm->cache);
}

static const char *name_of(struct names *nm, uint64_t addr, struct ss_frame_info *fi)
{
    ss_symbolize(nm->sym, addr, fi);
    return fi->symbol ? fi->symbol : "?";
}

static void print_frames(struct names *nm, const uint64_t *f, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        struct ss_frame_info fi;
        const char *s = name_of(nm, f[i], &fi);
        printf("    #%-2u %#014llx %s (%s)\n", i, (unsigned long long)f[i], s,
               fi.module ? fi.module : "-");
    }
}

/* The index of the first frame from `from` named exactly name, or -1. */
static int find_name(struct names *nm, const uint64_t *f, unsigned n, unsigned from,
                     const char *name)
{
    for (unsigned i = from; i < n; i++) {
        struct ss_frame_info fi;
        if (strcmp(name_of(nm, f[i], &fi), name) == 0)
            return (int)i;
    }
    return -1;
}

/* Whether the frames from the innermost are exactly want[0], want[1], ... (NULL-terminated);
 * a "*" entry stands for any one frame. */
static bool starts_with(struct names *nm, const uint64_t *f, unsigned n, const char *const *want)
{
    unsigned i = 0;
    for (; want[i]; i++) {
        struct ss_frame_info fi;
        if (i >= n || (strcmp(want[i], "*") != 0 && strcmp(name_of(nm, f[i], &fi), want[i]) != 0))
            return false;
    }
    return true;
}

static void expect_chain(struct names *nm, const struct sample *s, const char *const *want)
{
    bool ok = starts_with(nm, s->frames, s->n, want);
    if (!ok) {
        printf("  sample of thread %d: %u frames, expected to start with", (int)s->tid, s->n);
        for (unsigned i = 0; want[i]; i++)
            printf(" %s", want[i]);
        printf("\n");
        print_frames(nm, s->frames, s->n);
    }
    cr_expect(ok, "thread %d: unexpected frames (printed above)", (int)s->tid);
}

static const char *const main_chain[] = {"f3", "f2", "f1", "main", "__libc_start_call_main", NULL};
static const char *const thread_chain[] = {"f3", "f2", "f1", "thread_main", "start_thread", NULL};
static const char *const lib_chain[] = {"remote_lib_f3",          "f2", "f1", "main",
                                        "__libc_start_call_main", NULL};

static struct sample *new_samples(void)
{
    struct sample *s = calloc(MAX_SAMPLES, sizeof *s);
    cr_assert_not_null(s);
    return s;
}

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
    names_free(&nm);
    free(sm.s);
    ss_target_free(t);
    stop(&p);
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
    names_free(&nm);
    free(sm.s);
    ss_target_free(t);
    stop(&p);
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
    names_free(&nm);
    free(s);
    ss_target_free(t);
    stop(&p);
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
    stop(&p);
    cr_assert_eq(ss_thread_now(p.main_tid, p.thread_tid, &now), 0);
    cr_expect_eq(now.activity, SS_THREAD_GONE);

    start_fixture(&p, "tests/fixtures/remote/remote-fixture-O2", "block", NULL);
    wait_in_read(p.pid, p.thread_tid, &now);
    cr_expect_eq(now.nr, 0);
    char buf[64];
    cr_expect_eq(ss_copy_stack(p.pid, 8, buf, sizeof buf), 0, "nothing at an unmapped sp");
    stop(&p);
}

/* ---- modules ----------------------------------------------------------------------------- */

static const struct ss_target_module *module_named(struct ss_target *t, const char *suffix,
                                                   unsigned nth)
{
    const struct ss_target_module *m;
    size_t n = ss_target_modules(t, &m), len = strlen(suffix);
    for (size_t i = 0; i < n; i++) {
        size_t pl = strlen(m[i].path);
        if (pl >= len && strcmp(m[i].path + pl - len, suffix) == 0 && nth-- == 0)
            return &m[i];
    }
    return NULL;
}

/* The GNU build-id of a file, read with libelf. */
static size_t file_build_id(const char *path, uint8_t *id, size_t max)
{
    size_t len = 0;
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0, "%s", path);
    elf_version(EV_CURRENT);
    Elf *e = elf_begin(fd, ELF_C_READ, NULL);
    Elf_Scn *scn = NULL;
    while (e && len == 0 && (scn = elf_nextscn(e, scn))) {
        GElf_Shdr sh;
        Elf_Data *d;
        if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE || !(d = elf_getdata(scn, NULL)))
            continue;
        GElf_Nhdr nh;
        size_t off = 0, name, desc, next;
        while ((next = gelf_getnote(d, off, &nh, &name, &desc)) > 0) {
            if (nh.n_type == NT_GNU_BUILD_ID && nh.n_descsz <= max) {
                memcpy(id, (const char *)d->d_buf + desc, nh.n_descsz);
                len = nh.n_descsz;
                break;
            }
            off = next;
        }
    }
    elf_end(e);
    close(fd);
    return len;
}

static void expect_build_id(const struct ss_target_module *m, const char *file)
{
    uint8_t id[64];
    size_t len = file_build_id(file, id, sizeof id);
    cr_assert_gt(len, 0);
    cr_expect_eq(m->build_id_len, len, "%s: build-id of %zu bytes", m->path, m->build_id_len);
    cr_expect(m->build_id && memcmp(m->build_id, id, len) == 0, "%s: build-id differs", m->path);
}

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
    ss_target_free(t);
    stop(&p);

    path_of(exe, sizeof exe, "SS_BUILDDIR", "tests/fixtures/remote/remote-fixture-nopie");
    start_fixture(&p, "tests/fixtures/remote/remote-fixture-nopie", "spin", NULL);
    cr_assert_eq(ss_target_open(p.pid, &t), 0);
    cr_assert_not_null(m = module_named(t, "/remote-fixture-nopie", 0));
    cr_expect_eq(m->bias, 0, "a program linked without PIE runs where it was linked");
    expect_build_id(m, exe);
    ss_target_free(t);
    pid_t gone = p.pid;
    stop(&p);

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
    names_free(&nm);
    free(sm.s);
    ss_target_free(t);
    stop(&p);
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
    names_free(&nm);
    free(sm.s);
    ss_target_free(t);
    stop(&p);
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
    names_free(&nm);
    free(sm.s);
    ss_target_free(t);
    stop(&p);
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
    names_free(&nm);
    free(sm.s);
    ss_target_free(t);
    stop(&p);
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
    stop(&p);
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
    names_free(&nm);
    free(sm.s);
    ss_target_free(t);
}

/* ---- runtimes ---------------------------------------------------------------------------- */

/* Node: JavaScript frames have no unwind tables; the frame-pointer walk crosses them, and the
 * JIT map names them. */
Test(remote, node_through_jit_frames, .timeout = 120)
{
    const char *node = "/usr/bin/node";
    if (access(node, X_OK) != 0)
        cr_skip_test("%s is not installed", node);
    char js[512], map[64];
    path_of(js, sizeof js, "SS_SRCDIR", "tests/fixtures/remote/spin.js");
    const char *argv[] = {node, "--perf-basic-prof-only-functions",
                          "--interpreted-frames-native-stack", js, NULL};
    struct proc p;
    start(&p, argv);
    snprintf(map, sizeof map, "/tmp/perf-%d.map", (int)p.pid);
    /* Let the loop be compiled. */
    usleep(300000);
    struct ss_target *t;
    cr_assert_eq(ss_target_open(p.pid, &t), 0);
    struct sampler sm = {t, new_samples(), 0};
    printf("node:\n");
    sample_rounds(&sm, p.pid, p.pid, 10);
    struct names nm;
    names_for(&nm, t);
    ss_symbolizer_trust_owner(nm.sym, getuid());
    cr_assert_eq(ss_symbolizer_add_perf_map(nm.sym, map), 0, "%s", map);
    for (unsigned i = 0; i < sm.n; i++) {
        const struct sample *s = &sm.s[i];
        unsigned jit = 0;
        for (unsigned k = 0; k < s->n; k++) {
            struct ss_frame_info fi;
            ss_symbolize(nm.sym, s->frames[k], &fi);
            jit += fi.kind == SS_FRAME_JIT || fi.kind == SS_FRAME_INTERPRETER;
        }
        int start_at = find_name(&nm, s->frames, s->n, 0, "node::Start(int, char**)");
        int libc = find_name(&nm, s->frames, s->n, 0, "__libc_start_call_main");
        if (jit == 0 || start_at < 0 || libc < start_at)
            print_frames(&nm, s->frames, s->n);
        cr_expect_gt(jit, 0, "frames in %s", map);
        cr_expect_geq(start_at, 0, "reached node::Start");
        cr_expect_gt(libc, start_at, "reached __libc_start_call_main");
    }
    print_unwind_costs(&sm, "node");
    print_frames(&nm, sm.s[sm.n - 1].frames, sm.s[sm.n - 1].n);
    names_free(&nm);
    free(sm.s);
    ss_target_free(t);
    stop(&p);
    unlink(map);
}

Test(remote, python_through_the_interpreter, .timeout = 60)
{
    const char *python = "/usr/bin/python3.11";
    if (access(python, X_OK) != 0)
        cr_skip_test("%s is not installed", python);
    char py[512];
    path_of(py, sizeof py, "SS_SRCDIR", "tests/fixtures/remote/spin.py");
    const char *argv[] = {python, py, NULL};
    struct proc p;
    start(&p, argv);
    struct ss_target *t;
    cr_assert_eq(ss_target_open(p.pid, &t), 0);
    struct names nm;
    names_for(&nm, t);
    struct sampler sm = {t, new_samples(), 0};
    printf("python:\n");
    sample_rounds(&sm, p.pid, p.pid, 10);
    for (unsigned i = 0; i < sm.n; i++) {
        const struct sample *s = &sm.s[i];
        int eval = find_name(&nm, s->frames, s->n, 0, "_PyEval_EvalFrameDefault");
        /* Debian's main only tail-calls Py_BytesMain, so that is the frame above libc's. */
        int main_at = find_name(&nm, s->frames, s->n, 0, "Py_BytesMain");
        int libc = find_name(&nm, s->frames, s->n, 0, "__libc_start_call_main");
        if (eval < 0 || main_at < eval || libc != main_at + 1)
            print_frames(&nm, s->frames, s->n);
        cr_expect_geq(eval, 0, "through _PyEval_EvalFrameDefault");
        cr_expect_gt(main_at, eval, "reached Py_BytesMain");
        cr_expect_eq(libc, main_at + 1, "reached __libc_start_call_main");
    }
    print_unwind_costs(&sm, "python");
    print_frames(&nm, sm.s[0].frames, sm.s[0].n);
    names_free(&nm);
    free(sm.s);
    ss_target_free(t);
    stop(&p);
}

/* ---- privileges -------------------------------------------------------------------------- */

/* Runs fn in a child process as nobody (unless this already runs unprivileged) and returns
 * its exit status: 0 when all it checked held. */
static int as_nobody(int (*fn)(void *), void *arg)
{
    fflush(stdout);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        if (geteuid() == 0 &&
            (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0))
            _exit(90);
        int r = fn(arg);
        fflush(stdout);
        _exit(r);
    }
    int status;
    cr_assert_eq(waitpid(child, &status, 0), child);
    cr_assert(WIFEXITED(status), "child status %d", status);
    return WEXITSTATUS(status);
}

static int sample_as_nobody(void *arg)
{
    (void)arg;
    struct proc p;
    start_fixture(&p, "tests/fixtures/remote/remote-fixture-O2", "spin", NULL);
    struct ss_target *t;
    if (ss_target_open(p.pid, &t) != 0)
        return 2;
    struct names nm;
    names_for(&nm, t);
    struct sampler sm = {t, new_samples(), 0};
    printf("as uid %d:\n", (int)getuid());
    sample_rounds(&sm, p.pid, p.main_tid, 3);
    int bad = 0;
    for (unsigned i = 0; i < sm.n; i++)
        bad += !starts_with(&nm, sm.s[i].frames, sm.s[i].n, main_chain);
    print_frames(&nm, sm.s[0].frames, sm.s[0].n);
    struct ss_thread_now now;
    int r = ss_thread_now(p.pid, p.thread_tid, &now);
    names_free(&nm);
    free(sm.s);
    ss_target_free(t);
    stop(&p);
    return bad ? 3 : r != 0 || now.activity == SS_THREAD_UNKNOWN ? 4 : 0;
}

/* Perf events of one's own processes work unprivileged where perf_event_paranoid is 2. */
Test(remote, unprivileged_monitor_and_target, .timeout = 60)
{
    cr_expect_eq(as_nobody(sample_as_nobody, NULL), 0);
}

/* A deleted library: root opens it through the mapping (map_files), others read it from the
 * target. Either way the module keeps its build-id and its frames unwind. */
static int unwind_deleted(void *arg)
{
    const char *dir = arg;
    char copy[512], lib[512];
    lib_path(lib, sizeof lib);
    snprintf(copy, sizeof copy, "%s/libremote.so", dir);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", lib, copy);
    if (system(cmd) != 0)
        return 2;
    struct proc p;
    start_fixture(&p, "tests/fixtures/remote/remote-fixture-O2", "lib", copy);
    /* Replaced by other bytes under the same name, as an upgrade does. */
    unlink(copy);
    FILE *f = fopen(copy, "w");
    fputs("not the library\n", f);
    fclose(f);
    struct ss_target *t;
    if (ss_target_open(p.pid, &t) != 0)
        return 3;
    const struct ss_target_module *m = module_named(t, "/libremote.so", 0);
    uint8_t id[64];
    size_t id_len = file_build_id(lib, id, sizeof id);
    int bad = !m || strcmp(m->path, copy) != 0 || m->build_id_len != id_len ||
              memcmp(m->build_id, id, id_len) != 0;
    struct names nm;
    names_for(&nm, t);
    struct sampler sm = {t, new_samples(), 0};
    printf("a deleted library, as uid %d:\n", (int)getuid());
    sample_rounds(&sm, p.pid, p.main_tid, 3);
    /* The file by that name is another now: the library's frame has no name. */
    static const char *const chain[] = {"*", "f2", "f1", "main", "__libc_start_call_main", NULL};
    for (unsigned i = 0; i < sm.n; i++) {
        bad += !starts_with(&nm, sm.s[i].frames, sm.s[i].n, chain);
        bad += !m || sm.s[i].frames[0] < m->lo || sm.s[i].frames[0] >= m->hi;
    }
    print_frames(&nm, sm.s[0].frames, sm.s[0].n);
    names_free(&nm);
    free(sm.s);
    ss_target_free(t);
    stop(&p);
    unlink(copy);
    return bad ? 4 : 0;
}

static void deleted_library(bool privileged)
{
    if (privileged && geteuid() != 0)
        cr_skip_test("needs root");
    char dir[] = "/tmp/ss-remote-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(chmod(dir, 0777), 0);
    int r = privileged ? unwind_deleted(dir) : as_nobody(unwind_deleted, dir);
    rmdir(dir);
    cr_expect_eq(r, 0);
}

Test(remote, deleted_library_as_root, .timeout = 60)
{
    deleted_library(true);
}

Test(remote, deleted_library_unprivileged, .timeout = 60)
{
    deleted_library(false);
}

/* A seccomp filter that fails perf_event_open with err, as container runtimes install. */
static int refuse_perf(int err)
{
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_perf_event_open, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (unsigned)err),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof code / sizeof code[0], code};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0)
        return -1;
    return 0;
}

struct refusal {
    pid_t pid, tid;
    int err;
};

static int open_refused(void *arg)
{
    const struct refusal *rf = arg;
    struct ss_perf *p = NULL;
    char why[256];
    if (rf->err && refuse_perf(rf->err) != 0)
        return 90;
    int r = ss_perf_open(rf->pid, rf->tid, PERIOD_NS, 0, &p);
    printf("  %d: %s\n", r, r ? ss_perf_explain(r, why, sizeof why) : "opened");
    fflush(stdout);
    ss_perf_close(p);
    return -r;
}

Test(remote, refused_perf_is_reported, .timeout = 60)
{
    struct proc p;
    start_fixture(&p, "tests/fixtures/remote/remote-fixture-O2", "spin", NULL);
    static const int errs[] = {EACCES, EPERM, ENOSYS};
    for (unsigned i = 0; i < 3; i++) {
        struct refusal rf = {p.pid, p.main_tid, errs[i]};
        printf("perf_event_open failed by seccomp with %s:\n", strerror(errs[i]));
        fflush(stdout);
        pid_t child = fork();
        cr_assert_geq(child, 0);
        if (child == 0)
            _exit(open_refused(&rf));
        int status;
        cr_assert_eq(waitpid(child, &status, 0), child);
        cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == errs[i], "status %d", status);
    }
    struct ss_perf *perf;
    cr_expect_eq(ss_perf_open(p.pid, 1, PERIOD_NS, 0, &perf), -ESRCH, "not a thread of the pid");
    if (geteuid() == 0) {
        /* Another user's process: perf, /proc and process_vm_readv all refuse. */
        struct refusal rf = {p.pid, p.main_tid, 0};
        printf("a root process seen by nobody:\n");
        cr_expect_eq(as_nobody(open_refused, &rf), EACCES);
    }
    stop(&p);
}

static int look_at_root_process(void *arg)
{
    const struct refusal *rf = arg;
    struct ss_target *t;
    struct ss_thread_now now;
    int r = ss_target_open(rf->pid, &t);
    int s = ss_thread_now(rf->pid, rf->tid, &now);
    char buf[64];
    long c = ss_copy_stack(rf->pid, 0x10000, buf, sizeof buf);
    printf("  ss_target_open %d, ss_thread_now %d (activity %d), ss_copy_stack %ld\n", r, s,
           now.activity, c);
    return r == -EACCES && s == -EACCES && now.activity == SS_THREAD_UNKNOWN && c == -EPERM ? 0 : 1;
}

Test(remote, other_users_process_is_refused, .timeout = 60)
{
    if (geteuid() != 0)
        cr_skip_test("needs root to start a process another user cannot read");
    struct proc p;
    start_fixture(&p, "tests/fixtures/remote/remote-fixture-O2", "spin", NULL);
    struct refusal rf = {p.pid, p.thread_tid, 0};
    printf("a root process seen by nobody:\n");
    cr_expect_eq(as_nobody(look_at_root_process, &rf), 0);
    stop(&p);
}
