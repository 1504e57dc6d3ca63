/* The trace's way to disk: created privately and never through a planted link, and when the
 * disk misbehaves (full, directory deleted, process killed) the host runs on and the trace
 * keeps what it could, with the loss counted. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "host-run.h"
#include "model.h"
#include "trace/trace-writer.h"

static char dir[64];

static void make_dir(void)
{
    scratch_dir(dir, sizeof dir, "output");
}

static void remove_dir(void)
{
    scratch_remove(dir);
}

TestSuite(create, .init = make_dir, .fini = remove_dir);
TestSuite(faults, .init = make_dir, .fini = remove_dir);

static size_t entries(const char *path)
{
    char cmd[256], line[32] = "";
    snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", path);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    cr_assert_not_null(fgets(line, sizeof line, p));
    pclose(p);
    return (size_t)atoi(line);
}

/* Someone else planted the run directory as a link to a directory of the victim's. */
Test(create, run_dir_planted_as_a_symlink)
{
    char victim[128], run[128], why[256] = "";
    snprintf(victim, sizeof victim, "%s/victim", dir);
    snprintf(run, sizeof run, "%s/run", dir);
    cr_assert_eq(mkdir(victim, 0700), 0);
    cr_assert_eq(symlink(victim, run), 0);
    struct ss_writer w;
    cr_expect_eq(ss_writer_open(&w, run, 41, why, sizeof why), -EPERM);
    cr_expect(strstr(why, "symbolic link"), "%s", why);
    cr_expect_eq(entries(victim), 0, "nothing was written through the link");
}

Test(create, run_dir_of_another_user)
{
    if (geteuid() != 0)
        cr_skip_test("needs root to give a directory to another user");
    char run[128], why[256] = "";
    snprintf(run, sizeof run, "%s/run", dir);
    cr_assert_eq(mkdir(run, 0777), 0);
    cr_assert_eq(chown(run, 65534, 65534), 0);
    struct ss_writer w;
    cr_expect_eq(ss_writer_open(&w, run, 42, why, sizeof why), -EPERM);
    cr_expect(strstr(why, "belongs to another user"), "%s", why);
    cr_expect_eq(entries(run), 0);
}

Test(create, private_whatever_the_umask)
{
    char run[128], why[256] = "", file[192];
    snprintf(run, sizeof run, "%s/run", dir);
    mode_t old = umask(0);
    struct ss_writer w;
    int rc = ss_writer_open(&w, run, 43, why, sizeof why);
    umask(old);
    cr_assert_eq(rc, 0, "%s", why);
    ss_writer_close(&w);
    struct stat st;
    cr_assert_eq(stat(run, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0700);
    snprintf(file, sizeof file, "%s/" SS_TRACE_FILE_PREFIX "43" SS_TRACE_FILE_SUFFIX, run);
    cr_assert_eq(stat(file, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0600);
}

/* End to end: the host runs on, one line says why, the link's target is untouched. */
Test(create, host_with_a_planted_symlink)
{
    struct harness h;
    char victim[128], run[128];
    snprintf(victim, sizeof victim, "%s/victim", dir);
    snprintf(run, sizeof run, "%s/run", dir);
    cr_assert_eq(mkdir(victim, 0700), 0);
    cr_assert_eq(symlink(victim, run), 0);
    const char *steps[] = {"spin", "80", NULL};
    run_host(&h, run, steps, 0);
    cr_expect_eq(h.nplanted, 1);
    cr_expect_eq(harness_count(h.err, "stallscope:"), 1, "%s", h.err);
    cr_expect(strstr(h.err, "symbolic link"), "%s", h.err);
    cr_expect_eq(entries(victim), 0);
    harness_finish(&h);
}

/* A small file system that fills up while the host runs: the host does all its work, the
 * shim says so once, and the trace is readable, ends properly and counts what it lost. */
Test(faults, full_file_system, .timeout = 120)
{
    if (geteuid() != 0)
        cr_skip_test("needs root to mount a small tmpfs");
    char mnt[] = "/tmp/ss-full-XXXXXX", run[64], filler[64];
    cr_assert_not_null(mkdtemp(mnt));
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=256k,mode=0700") != 0) {
        rmdir(mnt);
        cr_skip_test("cannot mount a tmpfs here: %s", strerror(errno));
    }
    snprintf(run, sizeof run, "%s/run", mnt);
    snprintf(filler, sizeof filler, "%s/filler", mnt);
    /* Leave room for the start of the trace, not for all of it. */
    struct statvfs vfs;
    cr_assert_eq(statvfs(mnt, &vfs), 0);
    size_t room = (size_t)vfs.f_bavail * vfs.f_frsize, keep = 8 * 1024;
    int fd = open(filler, O_WRONLY | O_CREAT | O_EXCL, 0600);
    static char zeros[4096];
    for (size_t done = 0; fd >= 0 && done + sizeof zeros <= room - keep; done += sizeof zeros)
        cr_assert_eq(write(fd, zeros, sizeof zeros), (ssize_t)sizeof zeros);
    close(fd);
    const char *steps[128];
    size_t n = 0;
    for (int i = 0; i < 60; i++) {
        steps[n++] = "spin";
        steps[n++] = "60";
    }
    steps[n] = NULL;
    struct harness h;
    run_host(&h, run, steps, 1);
    cr_expect_eq(h.nplanted, 60, "the host did all its work");
    cr_expect_eq(harness_count(h.err, "stallscope:"), 1, "one line: %s", h.err);
    cr_expect(strstr(h.err, "trace write failed"), "%s", h.err);
    cr_assert_eq(h.model->nprocs, 1);
    const struct ss_process *p = &h.model->procs[0];
    cr_expect_gt(p->drops.records_unwritten, 0, "the loss is counted in the trace");
    cr_expect_lt(p->nstalls, 60, "some stalls were lost");
    cr_expect_neq(p->end_ns, 0, "the end of the process still fits");
    cr_expect_eq(p->truncated, 0);
    harness_finish(&h);
    umount2(mnt, MNT_DETACH);
    rmdir(mnt);
}

/* A clean-up job deletes the run directory while the host runs. */
Test(faults, run_dir_deleted_mid_run, .timeout = 60)
{
    struct harness h;
    char run[128];
    snprintf(run, sizeof run, "%s/run", dir);
    const char *steps[] = {"spin", "100", "remove-dir", run, "spin", "100", "spin", "100", NULL};
    run_host(&h, run, steps, 0);
    cr_expect_eq(h.nplanted, 3);
    cr_expect_eq(host_value(&h, "eintr "), 0);
    cr_expect_eq(h.err[0], '\0', "%s", h.err);
    struct stat st;
    cr_expect_neq(stat(run, &st), 0, "nothing recreated it");
    harness_finish(&h);
}

/* A host that closes every descriptor after its loop started, then opens files of its own:
 * the shim holds none (the trace is the monitor's), so the host's files hold its data only
 * and the stalls after the closing are recorded as those before. */
Test(faults, host_closes_every_descriptor, .timeout = 60)
{
    struct harness h;
    char files[128];
    snprintf(files, sizeof files, "%s/host", dir);
    const char *steps[] = {"spin", "80", "close-all", files, NULL};
    run_host(&h, NULL, steps, 1);
    cr_expect_eq(h.nplanted, 2);
    cr_expect_eq(host_value(&h, "host-files-size "), 16 * 9, "the host's files hold its data only");
    cr_expect_eq(h.err[0], '\0', "%s", h.err);
    cr_assert_eq(h.model->nprocs, 1);
    /* The spins before and after the closing, and the step's settling sleep. */
    cr_expect_geq(h.model->procs[0].nstalls, 2, "the stall after the closing is recorded too");
    harness_finish(&h);
}

static int stall_sampled_so_far(const struct ss_run *run)
{
    return run->nprocs == 1 && run->procs[0].nstalls == 1 && run->procs[0].stalls[0].nsamples >= 3;
}

/* Killed in the middle of a stall: the trace reads up to its last record, with the stall
 * and its samples so far. */
Test(faults, host_killed_mid_stall, .timeout = 60)
{
    struct harness h;
    const char *steps[] = {"spin", "5000", NULL};
    host_start(&h, NULL, steps);
    cr_assert(host_trace_shows(&h, stall_sampled_so_far, 400),
              "the stall was in the trace while it lasted");
    kill(h.pid, SIGKILL);
    int status = harness_wait(&h);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    char err[512];
    cr_assert_eq(ss_run_load(h.run, &h.model, err, sizeof err), 0, "%s", err);
    const struct ss_process *p = &h.model->procs[0];
    cr_assert_eq(p->nstalls, 1);
    cr_expect(p->stalls[0].in_progress);
    cr_expect_geq(p->stalls[0].nsamples, 3);
    cr_expect_eq(p->end_ns, 0, "no end: the process never exited");
    harness_finish(&h);
}

/* A host that crashes: its trace reads up to the last record written, with the stalls that
 * ended at least one flush before the crash. */
Test(faults, host_crashes, .timeout = 60)
{
    struct harness h;
    const char *steps[] = {"spin", "100", "spin", "1200", "crash", NULL};
    host_start(&h, NULL, steps);
    int status = harness_wait(&h);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV, "status %d", status);
    char err[512];
    cr_assert_eq(ss_run_load(h.run, &h.model, err, sizeof err), 0, "%s", err);
    const struct ss_process *p = &h.model->procs[0];
    cr_expect_geq(p->nstalls, 1);
    cr_expect_eq(p->stalls[0].in_progress, 0, "the first stall ended long before the crash");
    cr_expect_eq(p->end_ns, 0);
    harness_finish(&h);
}
