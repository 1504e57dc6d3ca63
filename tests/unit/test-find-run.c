/* ss_find_run_dir on real processes: one under `stallscope run`, one with the shim preloaded
 * and no options at all (only its segment can tell), one whose environment alone names a run
 * directory, one not traced and one that does not exist. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/trace-format.h"
#include "harness.h"
#include "monitor/find-run.h"

#define FIXTURE "tests/fixtures/loop-fixture-O2"
#define WAIT_TICKS 6000 /* of 10 ms: a guard against a hung test, not a measure of speed */

static void pause_10ms(void)
{
    struct timespec t = {0, 10 * 1000 * 1000};
    nanosleep(&t, NULL);
}

/* The pid of the first trace that appears in dir. */
static pid_t traced_pid(const char *dir)
{
    for (int i = 0; i < WAIT_TICKS; i++) {
        DIR *d = opendir(dir);
        struct dirent *e;
        long pid = 0;
        while (d && (e = readdir(d)) && !pid)
            if (strncmp(e->d_name, SS_TRACE_FILE_PREFIX, strlen(SS_TRACE_FILE_PREFIX)) == 0)
                pid = strtol(e->d_name + strlen(SS_TRACE_FILE_PREFIX), NULL, 10);
        if (d)
            closedir(d);
        if (pid > 0)
            return (pid_t)pid;
        pause_10ms();
    }
    cr_assert_fail("no trace appeared in %s", dir);
    return 0;
}

/* Runs argv[0] in dir with env as its whole environment. */
static pid_t start_in(const char *dir, char *const *argv, char *const *env)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        if (chdir(dir) == 0)
            execve(argv[0], argv, env);
        _exit(127);
    }
    return pid;
}

/* Waits until pid runs the program named comm (its exec is done). */
static void wait_exec(pid_t pid, const char *comm)
{
    char path[64], name[64] = "";
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    for (int i = 0; i < WAIT_TICKS; i++) {
        FILE *f = fopen(path, "re");
        if (f && fgets(name, sizeof name, f))
            name[strcspn(name, "\n")] = '\0';
        if (f)
            fclose(f);
        if (strcmp(name, comm) == 0)
            return;
        pause_10ms();
    }
    cr_assert_fail("process %d never ran %s", (int)pid, comm);
}

/* What ss_find_run_dir says of pid once it says anything but -ENOENT (a process just started
 * may not have made its segment yet). */
static int find_soon(pid_t pid, char *dir, size_t size, char *why, size_t why_size)
{
    int rc = -ENOENT;
    for (int i = 0; i < WAIT_TICKS && rc == -ENOENT; i++) {
        rc = ss_find_run_dir(pid, dir, size, why, why_size);
        if (rc == -ENOENT)
            pause_10ms();
    }
    return rc;
}

/* Ends pid and every other child (a monitor the shim started is a sibling of the traced
 * process, so ours too). */
static void end_all(pid_t pid)
{
    kill(pid, SIGTERM);
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
        ;
}

Test(find_run, under_stallscope_run, .timeout = 120)
{
    struct harness h;
    const char *args[] = {"--spin", "100", "--quiet", "30000", NULL};
    harness_open(&h, "find-run", NULL);
    harness_start_run(&h, FIXTURE, NULL, args);
    pid_t pid = traced_pid(h.run);
    char dir[PATH_MAX], why[512];
    int rc = ss_find_run_dir(pid, dir, sizeof dir, why, sizeof why);
    kill(pid, SIGTERM);
    harness_wait(&h);
    cr_assert_eq(rc, 0, "%s", why);
    cr_expect_str_eq(dir, h.run);
    harness_finish(&h);
}

/* No STALLSCOPE_OPTIONS: the run directory is the default one in the working directory, which
 * only the segment says. */
Test(find_run, from_the_segment, .timeout = 120)
{
    char scratch[256], cwd[PATH_MAX], fixture[PATH_MAX], shim[PATH_MAX], preload[PATH_MAX + 16];
    scratch_dir(scratch, sizeof scratch, "find-run");
    cr_assert(realpath(scratch, cwd));
    char built[512];
    /* Absolute: the child changes directory before it runs them. */
    scratch_built(built, sizeof built, FIXTURE);
    cr_assert(realpath(built, fixture), "%s", built);
    scratch_built(built, sizeof built, ".libs/libstallscope.so");
    cr_assert(realpath(built, shim), "%s", built);
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", shim);
    char *argv[] = {fixture, "--quiet", "30000", NULL};
    char *env[] = {preload, NULL};
    pid_t pid = start_in(scratch, argv, env);
    wait_exec(pid, "loop-fixture-O2");
    char dir[PATH_MAX], why[512], want[PATH_MAX + 32];
    int rc = find_soon(pid, dir, sizeof dir, why, sizeof why);
    end_all(pid);
    cr_assert_eq(rc, 0, "%s", why);
    snprintf(want, sizeof want, "%s/stallscope.run", cwd);
    cr_expect_str_eq(dir, want);
    scratch_remove(scratch);
}

/* Without a segment, the options in the environment name it, relative to the process's
 * working directory. */
Test(find_run, from_the_environment, .timeout = 60)
{
    char scratch[256], cwd[PATH_MAX];
    scratch_dir(scratch, sizeof scratch, "find-run");
    cr_assert(realpath(scratch, cwd));
    char *argv[] = {"/bin/sleep", "30", NULL};
    char *env[] = {"STALLSCOPE_OPTIONS=threshold=20ms:output='some where'", NULL};
    pid_t pid = start_in(scratch, argv, env);
    wait_exec(pid, "sleep");
    char dir[PATH_MAX], why[512], want[PATH_MAX + 32];
    snprintf(want, sizeof want, "%s/some where", cwd);
    int rc = ss_find_run_dir(pid, dir, sizeof dir, why, sizeof why);
    end_all(pid);
    cr_assert_eq(rc, 0, "%s", why);
    cr_expect_str_eq(dir, want);
    scratch_remove(scratch);
}

Test(find_run, not_traced, .timeout = 60)
{
    char *argv[] = {"/bin/sleep", "30", NULL};
    char *env[] = {"STALLSCOPE_OPTIONS=threshold=20ms", NULL};
    pid_t pid = start_in("/", argv, env);
    wait_exec(pid, "sleep");
    char dir[PATH_MAX], why[512];
    int rc = ss_find_run_dir(pid, dir, sizeof dir, why, sizeof why);
    end_all(pid);
    cr_expect_eq(rc, -ENOENT, "%d: %s", rc, why);
    cr_expect(strstr(why, "not traced"), "%s", why);
}

Test(find_run, no_such_process)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        _exit(0);
    cr_assert_eq(waitpid(pid, NULL, 0), pid);
    char dir[PATH_MAX], why[512];
    cr_expect_eq(ss_find_run_dir(pid, dir, sizeof dir, why, sizeof why), -ESRCH);
    cr_expect(strstr(why, "no process"), "%s", why);
    cr_expect_eq(ss_find_run_dir(0, dir, sizeof dir, why, sizeof why), -ESRCH);
}

/* A directory too long for the caller's buffer is said, not cut. */
Test(find_run, too_small, .timeout = 60)
{
    char *argv[] = {"/bin/sleep", "30", NULL};
    char *env[] = {"STALLSCOPE_OPTIONS=output=/a/run/directory/longer/than/16", NULL};
    pid_t pid = start_in("/", argv, env);
    wait_exec(pid, "sleep");
    char dir[16], why[512];
    int rc = ss_find_run_dir(pid, dir, sizeof dir, why, sizeof why);
    end_all(pid);
    cr_expect_eq(rc, -ENAMETOOLONG, "%d: %s", rc, why);
}
