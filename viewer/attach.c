#define _GNU_SOURCE
#include "attach.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/options.h"
#include "common/trace-format.h"
#include "monitor/find-run.h"

#define CLI_ENV "STALLSCOPE_CLI"

/* The stallscope program: $STALLSCOPE_CLI, else the one beside the viewer (a build tree), else
 * the installed one, as stallscope finds the viewer. */
static int find_cli(char *buf, size_t size, char *err, size_t err_size)
{
    const char *given = getenv(CLI_ENV);
    if (given && *given) {
        snprintf(buf, size, "%s", given);
        if (access(buf, X_OK) == 0)
            return 0;
        snprintf(err, err_size, CLI_ENV "=%s: %s", given, strerror(errno));
        return -1;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        snprintf(buf, size, "%s/stallscope", dirname(exe));
        if (access(buf, X_OK) == 0)
            return 0;
    }
    snprintf(buf, size, "%s/stallscope", SS_BINDIR);
    if (access(buf, X_OK) == 0)
        return 0;
    snprintf(err, err_size,
             "cannot find stallscope to attach with (looked beside the viewer and in %s); set "
             "%s to its path",
             SS_BINDIR, CLI_ENV);
    return -1;
}

/* A directory of our own, new, in the working directory. */
static int make_dir(char *dir, size_t size, char *err, size_t err_size)
{
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) {
        snprintf(err, err_size, "cannot make a run directory: no working directory: %s",
                 strerror(errno));
        return -1;
    }
    const char *base = strcmp(cwd, "/") == 0 ? "" : cwd;
    int n = snprintf(dir, size, "%s/" SS_DEFAULT_OUTPUT, base);
    if (n > 0 && (size_t)n < size && mkdir(dir, 0700) == 0)
        return 0;
    if (n > 0 && (size_t)n < size && errno == EEXIST) {
        n = snprintf(dir, size, "%s/" SS_DEFAULT_OUTPUT "-XXXXXX", base);
        if (n > 0 && (size_t)n < size && mkdtemp(dir))
            return 0;
    }
    snprintf(err, err_size, "cannot make a run directory in %s: %s", cwd,
             n < 0 || (size_t)n >= size ? "too long a path" : strerror(errno));
    return -1;
}

/* Copies what attach wrote into from to `to`. */
static void show(FILE *from, FILE *to)
{
    char buf[4096];
    size_t n;
    fflush(to);
    rewind(from);
    while ((n = fread(buf, 1, sizeof buf, from)) > 0)
        fwrite(buf, 1, n, to);
    fflush(to);
}

static int exit_status(int status)
{
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Whether pid is recorded into a's directory: its trace is there, or its segment says so. */
static int recorded(const struct ssv_attach *a, unsigned long pid, const char *trace)
{
    if (access(trace, F_OK) == 0)
        return 1;
    char dir[PATH_MAX], why[512];
    struct stat theirs, mine;
    return ss_find_run_dir((pid_t)pid, dir, sizeof dir, why, sizeof why) == 0 &&
           stat(dir, &theirs) == 0 && stat(a->dir, &mine) == 0 && theirs.st_dev == mine.st_dev &&
           theirs.st_ino == mine.st_ino;
}

/* stallscope attach, its standard output and error into a's files, in a process group of its
 * own (the terminal's ^C is the viewer's), interrupted should the viewer end without saying. */
static int spawn(struct ssv_attach *a, const char *cli, unsigned long pid, char *err,
                 size_t err_size)
{
    char pid_text[32];
    snprintf(pid_text, sizeof pid_text, "%lu", pid);
    char *argv[] = {(char *)cli, "attach", "-q", "-o", a->dir, pid_text, NULL};
    pid_t parent = getpid();
    fflush(NULL);
    a->child = fork();
    if (a->child < 0) {
        a->child = 0;
        snprintf(err, err_size, "cannot start stallscope attach: %s", strerror(errno));
        return -1;
    }
    if (a->child == 0) {
        /* SIGINT is how it is told to stop: not ignored, as the viewer may have been told to
         * be by a shell, nor blocked. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGINT, SIG_DFL);
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGINT);
        if (getppid() != parent)
            _exit(127);
        int null = open("/dev/null", O_RDONLY);
        if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(fileno(a->out), STDOUT_FILENO) < 0 ||
            dup2(fileno(a->err), STDERR_FILENO) < 0)
            _exit(127);
        execv(cli, argv);
        dprintf(STDERR_FILENO, "stallscope: view: cannot run %s: %s\n", cli, strerror(errno));
        _exit(127);
    }
    return 0;
}

int ssv_attach_start(struct ssv_attach *a, unsigned long pid, char *err, size_t err_size)
{
    char cli[PATH_MAX + 16];
    memset(a, 0, sizeof *a);
    if (find_cli(cli, sizeof cli, err, err_size) < 0 ||
        make_dir(a->dir, sizeof a->dir, err, err_size) < 0)
        return -1;
    a->out = tmpfile();
    a->err = tmpfile();
    if (!a->out || !a->err) {
        snprintf(err, err_size, "cannot keep what stallscope attach says: %s", strerror(errno));
        rmdir(a->dir);
        return -1;
    }
    /* Only attach itself has them, as its standard output and error. */
    fcntl(fileno(a->out), F_SETFD, FD_CLOEXEC);
    fcntl(fileno(a->err), F_SETFD, FD_CLOEXEC);
    printf("attaching to process %lu, recording into %s\n", pid, a->dir);
    if (spawn(a, cli, pid, err, err_size) < 0) {
        rmdir(a->dir);
        return -1;
    }
    char trace[PATH_MAX + 64];
    snprintf(trace, sizeof trace, "%s/" SS_TRACE_FILE_PREFIX "%lu" SS_TRACE_FILE_SUFFIX, a->dir,
             pid);
    const struct timespec tick = {0, 100 * 1000 * 1000};
    for (int waited = 0;; waited++) {
        if (recorded(a, pid, trace))
            return 0;
        int status;
        if (waitpid(a->child, &status, WNOHANG) == a->child) {
            a->child = 0;
            show(a->out, stdout);
            show(a->err, stderr);
            rmdir(a->dir); /* when it is still empty */
            snprintf(err, err_size, "stallscope attach %lu failed (exit status %d)", pid,
                     exit_status(status));
            return -1;
        }
        if (waited >= SSV_ATTACH_WAIT_S * 10) {
            ssv_attach_stop(a);
            snprintf(err, err_size,
                     "stallscope attach did not get process %lu recorded within %ds; %s "
                     "holds what there is",
                     pid, SSV_ATTACH_WAIT_S, a->dir);
            return -1;
        }
        nanosleep(&tick, NULL);
    }
}

int ssv_attach_stop(struct ssv_attach *a)
{
    int status = 0;
    if (a->child > 0) {
        kill(a->child, SIGINT);
        while (waitpid(a->child, &status, 0) < 0 && errno == EINTR)
            ;
        a->child = 0;
    }
    if (a->out)
        show(a->out, stdout);
    if (a->err)
        show(a->err, stderr);
    if (a->out)
        fclose(a->out);
    if (a->err)
        fclose(a->err);
    a->out = a->err = NULL;
    return exit_status(status);
}
