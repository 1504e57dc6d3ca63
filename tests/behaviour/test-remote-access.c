/* The monitor's access to other processes: runtimes whose frames have no unwind tables
 * (Node's JIT, Python's interpreter), a monitor and a target without privileges, a deleted
 * library, perf events refused by a seccomp filter, and another user's process. Each runs a
 * program of tests/fixtures/remote on its own, as test-remote.c does (remote.h). */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "build-id.h"
#include "remote.h"

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
    proc_start(&p, argv);
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
    end_target(&nm, sm.s, t, &p);
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
    proc_start(&p, argv);
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
    end_target(&nm, sm.s, t, &p);
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
    end_target(&nm, sm.s, t, &p);
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
    end_target(&nm, sm.s, t, &p);
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
    proc_stop(&p);
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
    proc_stop(&p);
}
