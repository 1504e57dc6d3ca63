#define _GNU_SOURCE
#include "host-run.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *host_options = "threshold=50ms";
const char *host_extra_env;

const char *host_builddir(void)
{
    const char *d = getenv("SS_BUILDDIR");
    return d ? d : ".";
}

static void slurp(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* The host reports to a monitor of the test's own, as a program does under a monitor
 * started apart from it (monitor= in its options): the host stays the test's child, and the
 * test knows when everything that has ended is written out. */
static void monitor_start(struct host_run *h)
{
    static unsigned counter;
    char exe[512], control_fd[16], ready_fd[16];
    snprintf(exe, sizeof exe, "%s/stallscope", host_builddir());
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

void host_sync(struct host_run *h)
{
    char byte = 'S';
    cr_assert_eq(write(h->control, &byte, 1), 1);
    cr_assert_eq(read(h->control, &byte, 1), 1, "the monitor answered");
}

pid_t host_start(struct host_run *h, const char *run, const char *const *steps)
{
    char shim[512], fixture[512], preload[600], options[900], out[128], err[128];
    memset(h, 0, sizeof *h);
    snprintf(shim, sizeof shim, "%s/.libs/libstallscope.so", host_builddir());
    snprintf(fixture, sizeof fixture, "%s/tests/hardening/host-fixture", host_builddir());
    strcpy(h->dir, "/tmp/ss-host-XXXXXX");
    cr_assert_not_null(mkdtemp(h->dir));
    if (run)
        snprintf(h->run, sizeof h->run, "%s", run);
    else
        snprintf(h->run, sizeof h->run, "%s/run", h->dir);
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", shim);
    monitor_start(h);
    snprintf(options, sizeof options, "STALLSCOPE_OPTIONS=%s:monitor=%s:output=%s", host_options,
             h->monitor, h->run);
    snprintf(out, sizeof out, "%s/out.txt", h->dir);
    snprintf(err, sizeof err, "%s/err.txt", h->dir);
    const char *argv[160] = {fixture};
    size_t n = 1;
    for (; *steps && n < 159; steps++)
        argv[n++] = *steps;
    char *envp[] = {preload, options, (char *)host_extra_env, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    cr_assert_eq(posix_spawn(&pid, fixture, &fa, NULL, (char *const *)argv, envp), 0);
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

int host_wait(struct host_run *h, pid_t pid)
{
    char path[128];
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    host_sync(h);
    snprintf(path, sizeof path, "%s/out.txt", h->dir);
    slurp(path, h->out, sizeof h->out);
    snprintf(path, sizeof path, "%s/err.txt", h->dir);
    slurp(path, h->err, sizeof h->err);
    for (char *line = h->out; line && *line;) {
        if (h->nplanted < 64 && sscanf(line, "planted spin %lf %u", &h->planted_ms[h->nplanted],
                                       &h->planted_tid[h->nplanted]) == 2)
            h->nplanted++;
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    return status;
}

void run_host(struct host_run *h, const char *run, const char *const *steps, int load)
{
    int status = host_wait(h, host_start(h, run, steps));
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "host failed (%d): %s", status,
              h->err);
    if (load) {
        char msg[512];
        cr_assert_eq(ss_run_load(h->run, &h->model, msg, sizeof msg), 0, "%s", msg);
    }
}

void host_finish(struct host_run *h)
{
    char cmd[256];
    ss_run_free(h->model);
    h->model = NULL;
    if (h->monitor_pid > 0) {
        close(h->control);
        int status;
        cr_expect_eq(waitpid(h->monitor_pid, &status, 0), h->monitor_pid);
        cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the monitor ended well");
        h->monitor_pid = 0;
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", h->dir);
    cr_expect_eq(system(cmd), 0);
}

int host_value(const struct host_run *h, const char *key)
{
    const char *p = strstr(h->out, key);
    return p ? atoi(p + strlen(key)) : -1;
}

int count_of(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

size_t signal_samples(const struct ss_stall *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nsamples; i++)
        n += s->samples[i].source != SS_SAMPLE_CALL;
    return n;
}

int has_note(const struct ss_process *p, const char *text)
{
    for (size_t i = 0; i < p->nnotes; i++)
        if (strstr(p->notes[i], text))
            return 1;
    return 0;
}

int host_trace_shows(const struct host_run *h, int (*shows)(const struct ss_run *run),
                     unsigned tries)
{
    for (unsigned i = 0; i < tries; i++) {
        struct timespec pause = {0, 10000000};
        nanosleep(&pause, NULL);
        struct ss_run *run;
        char err[512];
        if (ss_run_load(h->run, &run, err, sizeof err) != 0)
            continue;
        int yes = shows(run);
        ss_run_free(run);
        if (yes)
            return 1;
    }
    return 0;
}
