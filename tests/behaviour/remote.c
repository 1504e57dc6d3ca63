/* remote: the helpers of remote.h. */
#define _GNU_SOURCE
#include "remote.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "build-id.h"

extern char **environ;

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

void path_of(char *buf, size_t len, const char *env, const char *rel)
{
    const char *dir = getenv(env);
    snprintf(buf, len, "%s/%s", dir ? dir : ".", rel);
}

/* Starts argv[0] with pipes on its stdin and stdout and waits for its "ready" line. */
void proc_start(struct proc *p, const char *const argv[])
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

void proc_stop(struct proc *p)
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

void start_fixture(struct proc *p, const char *name, const char *mode, const char *lib)
{
    char exe[512];
    path_of(exe, sizeof exe, "SS_BUILDDIR", name);
    const char *argv[] = {exe, mode, lib, NULL};
    proc_start(p, argv);
}

void lib_path(char *buf, size_t len)
{
    path_of(buf, len, "SS_BUILDDIR", "tests/fixtures/remote/libremote.so");
}

/* ---- sampling ---------------------------------------------------------------------------- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void unwind_sample(struct ss_target *t, struct sample *s)
{
    uint64_t t0 = now_ns();
    s->n = ss_target_unwind(t, &s->regs, s->stack_base, s->stack, s->stack_len, s->frames,
                            SS_TRACE_MAX_FRAMES);
    s->unwind_ns = now_ns() - t0;
}

void on_sample(void *ctx, const struct ss_perf_sample *ps)
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

void wait_readable(struct ss_perf *p)
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
double sample_rounds(struct sampler *sm, pid_t pid, pid_t tid, unsigned rounds)
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

void print_unwind_costs(const struct sampler *sm, const char *what)
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

void names_for(struct names *nm, struct ss_target *t)
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

void names_free(struct names *nm)
{
    ss_symbolizer_free(nm->sym);
    ss_elf_cache_free(nm->cache);
}

void end_target(struct names *nm, struct sample *s, struct ss_target *t, struct proc *p)
{
    if (nm)
        names_free(nm);
    free(s);
    ss_target_free(t);
    if (p)
        proc_stop(p);
}

const char *name_of(struct names *nm, uint64_t addr, struct ss_frame_info *fi)
{
    ss_symbolize(nm->sym, addr, fi);
    return fi->symbol ? fi->symbol : "?";
}

void print_frames(struct names *nm, const uint64_t *f, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        struct ss_frame_info fi;
        const char *s = name_of(nm, f[i], &fi);
        printf("    #%-2u %#014llx %s (%s)\n", i, (unsigned long long)f[i], s,
               fi.module ? fi.module : "-");
    }
}

/* The index of the first frame from `from` named exactly name, or -1. */
int find_name(struct names *nm, const uint64_t *f, unsigned n, unsigned from, const char *name)
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
bool starts_with(struct names *nm, const uint64_t *f, unsigned n, const char *const *want)
{
    unsigned i = 0;
    for (; want[i]; i++) {
        struct ss_frame_info fi;
        if (i >= n || (strcmp(want[i], "*") != 0 && strcmp(name_of(nm, f[i], &fi), want[i]) != 0))
            return false;
    }
    return true;
}

void expect_chain(struct names *nm, const struct sample *s, const char *const *want)
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

const char *const main_chain[] = {"f3", "f2", "f1", "main", "__libc_start_call_main", NULL};
const char *const thread_chain[] = {"f3", "f2", "f1", "thread_main", "start_thread", NULL};
const char *const lib_chain[] = {"remote_lib_f3",          "f2", "f1", "main",
                                 "__libc_start_call_main", NULL};

struct sample *new_samples(void)
{
    struct sample *s = calloc(MAX_SAMPLES, sizeof *s);
    cr_assert_not_null(s);
    return s;
}

/* ---- modules ----------------------------------------------------------------------------- */

const struct ss_target_module *module_named(struct ss_target *t, const char *suffix, unsigned nth)
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

void expect_build_id(const struct ss_target_module *m, const char *file)
{
    uint8_t id[64];
    size_t len = file_build_id(file, id, sizeof id);
    cr_assert_gt(len, 0);
    cr_expect_eq(m->build_id_len, len, "%s: build-id of %zu bytes", m->path, m->build_id_len);
    cr_expect(m->build_id && memcmp(m->build_id, id, len) == 0, "%s: build-id differs", m->path);
}