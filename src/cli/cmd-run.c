#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "common/options.h"
#include "common/trace-format.h"
#include "common/untraced.h"
#include "errors.h"
#include "report/report.h"
#include "stacks/frames.h"
#include "symbols/symbolize.h"
#include "util/private-files.h"

/* Names for JavaScript frames: a perf map of JIT code, with interpreted functions given
 * native frames of their own so they are named too. (--perf-basic-prof, unlike the
 * functions-only variant, also leaves isolate-*.log files in the working directory.) */
#define NODE_JIT_FLAGS "--perf-basic-prof-only-functions --interpreted-frames-native-stack"


static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: stallscope run [OPTIONS] -- COMMAND [ARGS...]\n\n"
        "Runs COMMAND with the stallscope shim preloaded into it and every process it\n"
        "starts, records each stalled event-loop iteration with its stacks, and prints a\n"
        "summary. Exits with COMMAND's status.\n\n"
        "  -o, --output DIR      run directory (default " SS_DEFAULT_OUTPUT "; old traces in\n"
        "                        it are removed first)\n"
        "  --threshold DURATION  an iteration this busy is a stall (default 50ms)\n"
        "  --interval DURATION   time between samples during a stall (default 10ms)\n"
        "  --sampling HOW        auto (perf events where allowed, else the signal), perf\n"
        "                        or signal (default auto)\n"
        "  --signal N            signal used to sample loop threads where perf events are\n"
        "                        refused (default 38)\n"
        "  --call-threshold DURATION\n"
        "                        a blocking call this slow always gets its stack (default 1ms)\n"
        "  --strict              also record calls on non-blocking sockets, pipes and ttys\n"
        "  --no-stacks           record stalls without stacks\n"
        "  --no-python-frames    do not read Python functions from CPython's frames\n"
        "  --python-sites        tell blocking calls apart by the Python functions that\n"
        "                        made them (on with --check)\n"
        SS_CLI_PRODUCTION_HELP
        "  --no-jit-maps         do not ask Node.js for the symbol maps that name\n"
        "                        JavaScript functions\n"
        "  -q, --quiet           no summary at the end\n"
        "  --check               then check the run as stallscope check does, with the\n"
        "                        options below (any of them implies --check): exit 1 when\n"
        "                        a finding fails, unless COMMAND failed (its status wins)\n"
        "%s",
        SS_CLI_CHECK_HELP);
}

static void set_environment(const struct ss_cli_recording *o, int jit_maps, const char *shim,
                            const char *dir, const char *monitor)
{
    char *preload, *options, *node = NULL;
    const char *old = getenv("LD_PRELOAD");
    if (asprintf(&preload, "%s%s%s", shim, old && *old ? ":" : "", old && *old ? old : "") < 0)
        ss_die("out of memory");
    char *ours = ss_cli_shim_options(o, dir, monitor);
    const char *user = getenv(SS_OPTIONS_ENV);
    if (asprintf(&options, "%s%s%s", user && *user ? user : "", user && *user ? ":" : "", ours) < 0)
        ss_die("out of memory");
    free(ours);
    if (jit_maps) {
        const char *n = getenv("NODE_OPTIONS");
        if (asprintf(&node, "%s%s" NODE_JIT_FLAGS, n && *n ? n : "", n && *n ? " " : "") < 0)
            ss_die("out of memory");
        setenv("NODE_OPTIONS", node, 1);
    }
    setenv("LD_PRELOAD", preload, 1);
    setenv(SS_OPTIONS_ENV, options, 1);
    free(preload);
    free(options);
    free(node);
}

/* The shim cannot enter some programs at all; say so before running one rather than leave an
 * empty run unexplained. The command still runs: it is what the user asked for. */
static void warn_if_untraceable(const char *command)
{
    char path[PATH_MAX];
    if (ss_search_path(command, getenv("PATH"), path, sizeof path) != 0)
        return; /* running it will say why */
    struct ss_exec_ids ids;
    uid_t suid;
    gid_t sgid;
    getresuid(&ids.ruid, &ids.euid, &suid);
    getresgid(&ids.rgid, &ids.egid, &sgid);
    unsigned as_id = 0;
    enum ss_untraced why = ss_untraced_program(path, &ids, &as_id);
    if (why == SS_TRACEABLE)
        return;
    char reason[160];
    ss_untraced_reason(why, as_id, reason, sizeof reason);
    ss_cli_warn("%s will run untraced: %s", path, reason);
}

static volatile sig_atomic_t child_pid;

static void forward_signal(int sig)
{
    if (child_pid > 0)
        kill((pid_t)child_pid, sig);
}

/* ^C and ^\ from the terminal reach the whole process group, the command with it: passing
 * them on would double them. The same signals sent to run alone (kill, a supervisor, a CI
 * runner cancelling a job) are passed on, as the others are. */
static void forward_unless_from_terminal(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    if (si->si_code == SI_USER || si->si_code == SI_QUEUE || si->si_code == SI_TKILL)
        forward_signal(sig);
}

static int run_command(char **argv)
{
    static const int forwarded[] = {SIGTERM, SIGHUP, SIGUSR1, SIGUSR2};
    struct sigaction sa = {0}, keyboard = {0}, old_int, old_quit;
    sa.sa_handler = forward_signal;
    sigemptyset(&sa.sa_mask);
    keyboard.sa_sigaction = forward_unless_from_terminal;
    keyboard.sa_flags = SA_SIGINFO;
    sigemptyset(&keyboard.sa_mask);
    for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
        sigaction(forwarded[i], &sa, NULL);
    /* We outlive the command to summarise. */
    sigaction(SIGINT, &keyboard, &old_int);
    sigaction(SIGQUIT, &keyboard, &old_quit);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        ss_die("fork: %s", strerror(errno));
    if (pid == 0) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGQUIT, &old_quit, NULL);
        execvp(argv[0], argv);
        fprintf(stderr, "stallscope: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
    }
    child_pid = pid;
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            ss_die("waitpid: %s", strerror(errno));
    }
    child_pid = 0;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGQUIT, &old_quit, NULL);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}

static int loadable(const char *dir)
{
    struct ss_run *run;
    char err[1024];
    if (ss_run_load(dir, &run, err, sizeof err) < 0)
        return 0;
    ss_run_free(run);
    return 1;
}

int ss_cmd_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        SS_CLI_RECORDING_LONGOPTS,
        {"no-jit-maps", no_argument, NULL, 'J'},
        {"help", no_argument, NULL, 'h'},
        {"check", no_argument, NULL, 'C'},
        SS_CLI_CHECK_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct ss_cli_check check = {.keep_stalls = SS_KEEP_STALLS_DEFAULT};
    struct ss_cli_recording o;
    ss_cli_recording_defaults(&o);
    int c, jit_maps = 1;
    while ((c = getopt_long(argc, argv, "+:o:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'J':
            jit_maps = 0;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'C':
            check.enabled = 1;
            break;
        default:
            if (!ss_cli_recording_option(&o, c, optarg) && !ss_cli_check_option(&check, c, optarg))
                ss_cli_bad_option("run", c, argv[optind - 1]);
        }
    }
    if (optind >= argc)
        ss_die("run: no command given (stallscope run [OPTIONS] -- COMMAND [ARGS...])");
    if (check.enabled) {
        ss_cli_check_prepare(&check, "run");
        /* A finding is merged by the Python function that made the call only when sites are
         * told apart by it. */
        o.python_sites = 1;
        /* Stalls shorter than the threshold are never recorded, so a tighter limit needs a
         * lower threshold to be checked at all. */
        if (!o.threshold_set && check.rules.max_stall_ns > 0 &&
            check.rules.max_stall_ns < o.threshold_ns)
            o.threshold_ns = check.rules.max_stall_ns;
    }
    ss_cli_recording_finish(&o);
    char shim[PATH_MAX + 64], dir[PATH_MAX];
    ss_cli_find_part(SS_SHIM_NAME, ".libs", SS_PKGLIBDIR, "STALLSCOPE_SHIM", R_OK, shim, sizeof shim);
    ss_cli_prepare_output(o.output);
    if (!realpath(o.output, dir))
        ss_die("%s: %s", o.output, strerror(errno));
    char monitor[SS_MONITOR_NAME_MAX];
    int control = ss_cli_start_monitor(dir, monitor, sizeof monitor);
    set_environment(&o, jit_maps, shim, dir, monitor);
    warn_if_untraceable(argv[optind]);
    int status = run_command(argv + optind);
    ss_cli_end_recording(control, dir, o.quiet);
    if (check.enabled) {
        /* The command's own failure says more than our findings; the reports are still
         * written when there is a run to check. */
        int verdict = status == 0 || loadable(dir) ? ss_cli_check_run(&check, dir, stderr) : 0;
        ss_cli_check_free(&check);
        if (status == 0)
            status = verdict;
    }
    close(control);
    return status;
}
