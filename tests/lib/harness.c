#define _GNU_SOURCE
#include "harness.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

void harness_open(struct harness *h, const char *name, const char *run)
{
    memset(h, 0, sizeof *h);
    scratch_dir(h->dir, sizeof h->dir, name);
    if (run)
        snprintf(h->run, sizeof h->run, "%s", run);
    else
        snprintf(h->run, sizeof h->run, "%s/run", h->dir);
}

/* Starts path with argv and envp, stdin from /dev/null, stdout and stderr into the scratch
 * directory. */
static void start(struct harness *h, const char *path, const char *const *argv, char *const *envp)
{
    char out[128], err[128];
    snprintf(out, sizeof out, "%s/out.txt", h->dir);
    snprintf(err, sizeof err, "%s/err.txt", h->dir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_eq(posix_spawn(&h->pid, path, &fa, NULL, (char *const *)argv, envp), 0, "%s", path);
    posix_spawn_file_actions_destroy(&fa);
}

void harness_start_run(struct harness *h, const char *fixture, const char *const *options,
                       const char *const *args)
{
    char stallscope[512], program[512];
    scratch_built(stallscope, sizeof stallscope, "stallscope");
    scratch_built(program, sizeof program, fixture);
    const char *argv[160] = {stallscope, "run", "-q", "-o", h->run};
    size_t n = 5;
    for (; options && *options && n < 40; options++)
        argv[n++] = *options;
    argv[n++] = "--";
    argv[n++] = program;
    for (; args && *args && n < 159; args++)
        argv[n++] = *args;
    start(h, stallscope, argv, environ);
}

void harness_start_preloaded(struct harness *h, const char *fixture, const char *const *env,
                             const char *const *args)
{
    char shim[512], preload[600], program[512];
    scratch_built(shim, sizeof shim, ".libs/libstallscope.so");
    scratch_built(program, sizeof program, fixture);
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", shim);
    const char *argv[160] = {program};
    size_t n = 1;
    for (; args && *args && n < 159; args++)
        argv[n++] = *args;
    char *envp[16] = {preload};
    size_t e = 1;
    for (; env && *env && e < 15; env++)
        envp[e++] = (char *)*env;
    start(h, program, argv, envp);
}

void harness_start_monitor(struct harness *h)
{
    static unsigned counter;
    char exe[512], control_fd[16], ready_fd[16];
    scratch_built(exe, sizeof exe, "stallscope");
    snprintf(h->monitor, sizeof h->monitor, "ss-test-%d-%u", (int)getpid(), counter++);
    int control[2], ready[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, control), 0);
    cr_assert_eq(pipe2(ready, O_CLOEXEC), 0);
    snprintf(control_fd, sizeof control_fd, "%d", 10);
    snprintf(ready_fd, sizeof ready_fd, "%d", 11);
    const char *argv[] = {exe,          "monitor",  "--listen", h->monitor,     "-o",
                          h->run,       "--linger", "1ms",      "--control-fd", control_fd,
                          "--ready-fd", ready_fd,   NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, control[1], 10);
    posix_spawn_file_actions_adddup2(&fa, ready[1], 11);
    cr_assert_eq(posix_spawn(&h->monitor_pid, exe, &fa, NULL, (char *const *)argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(control[1]);
    close(ready[1]);
    char byte = 0;
    cr_assert_eq(read(ready[0], &byte, 1), 1, "the monitor started");
    close(ready[0]);
    h->control = control[0];
}

void harness_sync(struct harness *h)
{
    char byte = 'S';
    cr_assert_eq(write(h->control, &byte, 1), 1);
    cr_assert_eq(read(h->control, &byte, 1), 1, "the monitor answered");
}

void harness_read_output(struct harness *h)
{
    char path[128];
    free(h->out);
    free(h->err);
    snprintf(path, sizeof path, "%s/out.txt", h->dir);
    h->out = scratch_slurp(path);
    snprintf(path, sizeof path, "%s/err.txt", h->dir);
    h->err = scratch_slurp(path);
    h->nplanted =
        harness_timed(h->out, "planted", h->planted, sizeof h->planted / sizeof h->planted[0]);
}

int harness_wait(struct harness *h)
{
    int status;
    cr_assert_eq(waitpid(h->pid, &status, 0), h->pid);
    if (h->monitor_pid > 0)
        harness_sync(h);
    harness_read_output(h);
    return status;
}

void harness_wait_success(struct harness *h)
{
    int status = harness_wait(h);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the program failed (status %d): %s",
              status, h->err);
}

void harness_load(struct harness *h)
{
    char err[512];
    cr_assert_eq(ss_run_load(h->run, &h->model, err, sizeof err), 0, "%s", err);
}

void harness_load_symbolized(struct harness *h)
{
    harness_load(h);
    for (size_t i = 0; i < h->model->nprocs; i++)
        ss_process_symbolize(h->model, &h->model->procs[i]);
}

void harness_run(struct harness *h, const char *name, const char *fixture,
                 const char *const *options, const char *const *args)
{
    harness_open(h, name, NULL);
    harness_start_run(h, fixture, options, args);
    harness_wait_success(h);
    harness_load_symbolized(h);
}

void harness_finish(struct harness *h)
{
    ss_run_free(h->model);
    h->model = NULL;
    if (h->monitor_pid > 0) {
        close(h->control);
        int status;
        cr_expect_eq(waitpid(h->monitor_pid, &status, 0), h->monitor_pid);
        cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the monitor ended well");
        h->monitor_pid = 0;
    }
    free(h->out);
    free(h->err);
    h->out = h->err = NULL;
    scratch_remove(h->dir);
}

static const char *next_line(const char *line)
{
    const char *end = strchr(line, '\n');
    return end ? end + 1 : NULL;
}

/* What follows "KEY " when line starts with it, else NULL. */
static const char *after_key(const char *line, const char *key)
{
    size_t len = strlen(key);
    return strncmp(line, key, len) == 0 && line[len] == ' ' ? line + len + 1 : NULL;
}

size_t harness_timed(const char *out, const char *kind, struct harness_timed *timed, size_t max)
{
    size_t n = 0;
    for (const char *line = out; line && *line && n < max; line = next_line(line)) {
        const char *rest = after_key(line, kind);
        if (rest && sscanf(rest, "%31s %lf %u", timed[n].what, &timed[n].ms, &timed[n].tid) == 3)
            n++;
    }
    return n;
}

long harness_sum(const char *out, const char *key)
{
    long sum = 0;
    for (const char *line = out; line && *line; line = next_line(line)) {
        const char *rest = after_key(line, key);
        if (rest)
            sum += strtol(rest, NULL, 10);
    }
    return sum;
}

int harness_count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}
