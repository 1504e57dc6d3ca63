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

#define SHIM_NAME "libstallscope.so"
/* Names for JavaScript frames: a perf map of JIT code, with interpreted functions given
 * native frames of their own so they are named too. (--perf-basic-prof, unlike the
 * functions-only variant, also leaves isolate-*.log files in the working directory.) */
#define NODE_JIT_FLAGS "--perf-basic-prof-only-functions --interpreted-frames-native-stack"

struct run_options {
    const char *output;
    uint64_t threshold_ns, interval_ns, call_threshold_ns;
    int signal;
    int stacks, python, python_sites, jit_maps, quiet, strict, sampling;
};

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
        "  --no-jit-maps         do not ask Node.js for the symbol maps that name\n"
        "                        JavaScript functions\n"
        "  -q, --quiet           no summary at the end\n"
        "  --check               then check the run as stallscope check does, with the\n"
        "                        options below (any of them implies --check): exit 1 when\n"
        "                        a finding fails, unless COMMAND failed (its status wins)\n"
        "%s",
        SS_CLI_CHECK_HELP);
}

static int is_run_file(const char *name)
{
    size_t n = strlen(name);
    if (strncmp(name, SS_TRACE_FILE_PREFIX, strlen(SS_TRACE_FILE_PREFIX)) == 0)
        return n > strlen(SS_TRACE_FILE_SUFFIX) &&
               strcmp(name + n - strlen(SS_TRACE_FILE_SUFFIX), SS_TRACE_FILE_SUFFIX) == 0;
    return (strncmp(name, "perf-", 5) == 0 && n > 4 && strcmp(name + n - 4, ".map") == 0) ||
           (strncmp(name, "jit-", 4) == 0 && n > 5 && strcmp(name + n - 5, ".dump") == 0);
}

/* Creates the run directory, or empties it of an earlier run's files (and nothing else). An
 * existing one is used only if it is private to the user (private-files.h): in a shared /tmp
 * someone else may have planted it to have this user's files deleted or read. */
static void prepare_output(const char *dir)
{
    if (mkdir(dir, 0700) == 0)
        return;
    if (errno != EEXIST)
        ss_die("cannot create %s: %s", dir, strerror(errno));
    int fd = ss_open_private(dir, O_RDONLY | O_DIRECTORY, geteuid(), NULL);
    if (fd < 0)
        ss_die("will not use %s: %s", dir, ss_strerror(fd));
    DIR *d = fdopendir(fd);
    if (!d)
        ss_die("%s: %s", dir, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_run_file(e->d_name))
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) != 0)
            ss_die("cannot remove %s/%s from an earlier run: %s", dir, e->d_name, strerror(errno));
    }
    closedir(d);
}

static void set_environment(const struct run_options *o, const char *shim, const char *dir,
                            const char *monitor)
{
    char *preload, *options, *node = NULL;
    const char *old = getenv("LD_PRELOAD");
    if (asprintf(&preload, "%s%s%s", shim, old && *old ? ":" : "", old && *old ? old : "") < 0)
        ss_die("out of memory");
    char quote = strchr(dir, '\'') ? '"' : '\'';
    if (strchr(dir, quote))
        ss_die("the output path may not contain both kinds of quote: %s", dir);
    const char *user = getenv(SS_OPTIONS_ENV);
    static const char *const sampling[] = {"auto", "perf", "signal"};
    if (asprintf(&options,
                 "%s%sthreshold=%lluns:interval=%lluns:call_threshold=%lluns:signal=%d:stacks=%d:"
                 "python=%d:python_sites=%d:strict=%d:sampling=%s:monitor=%s:output=%c%s%c",
                 user && *user ? user : "", user && *user ? ":" : "",
                 (unsigned long long)o->threshold_ns, (unsigned long long)o->interval_ns,
                 (unsigned long long)o->call_threshold_ns, o->signal, o->stacks, o->python,
                 o->python_sites, o->strict, sampling[o->sampling], monitor, quote, dir, quote) < 0)
        ss_die("out of memory");
    if (o->jit_maps) {
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

/* The monitor: a process of its own, in a process group of its own so that the terminal's
 * ^C reaches the command but not it. It outlives run when traced processes outlive the
 * command (a daemon), and ends once they are gone. Returns the control socket. */
static int start_monitor(const char *dir, char *name, size_t name_size)
{
    uint64_t nonce = 0;
    if (getrandom(&nonce, sizeof nonce, 0) != (ssize_t)sizeof nonce)
        nonce = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull;
    snprintf(name, name_size, "stallscope-%d-%016llx", (int)getpid(), (unsigned long long)nonce);
    int control[2], ready[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, control) != 0 ||
        pipe2(ready, O_CLOEXEC) != 0)
        ss_die("cannot start the monitor: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        ss_die("cannot start the monitor: %s", strerror(errno));
    if (pid == 0) {
        /* Our standard output may be a pipe whose reader waits for every writer to close
         * it: the monitor, which may outlive us, must not be one. */
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
            dup2(null, STDIN_FILENO);
            dup2(null, STDOUT_FILENO);
        }
        setpgid(0, 0);
        signal(SIGINT, SIG_IGN);
        signal(SIGQUIT, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        char control_fd[16], ready_fd[16];
        int c = dup(control[1]), r = dup(ready[1]);
        snprintf(control_fd, sizeof control_fd, "%d", c);
        snprintf(ready_fd, sizeof ready_fd, "%d", r);
        char *argv[] = {"stallscope",   "monitor",  "--listen",   name,     "-o", (char *)dir,
                        "--control-fd", control_fd, "--ready-fd", ready_fd, NULL};
        execv("/proc/self/exe", argv);
        fprintf(stderr, "stallscope: cannot start the monitor: %s\n", strerror(errno));
        _exit(127);
    }
    close(control[1]);
    close(ready[1]);
    char answer[512];
    ssize_t n;
    while ((n = read(ready[0], answer, sizeof answer - 1)) < 0 && errno == EINTR)
        ;
    close(ready[0]);
    if (n != 1 || answer[0] != 'R') {
        answer[n > 0 ? n : 0] = '\0';
        ss_die("the monitor did not start%s%s", n > 0 ? ": " : "", answer);
    }
    return control[0];
}

/* Waits until the monitor has written out every traced process that has ended. */
static void sync_monitor(int control)
{
    char byte = 'S';
    if (write(control, &byte, 1) != 1)
        return;
    ssize_t n;
    while ((n = read(control, &byte, 1)) < 0 && errno == EINTR)
        ;
    if (n != 1)
        ss_cli_warn("the monitor ended early: the traces may be incomplete");
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

/* Copies a runtime's file into the run. The program wrote it as this user: a file that is not
 * private to the user (private-files.h; planted in /tmp under the name the program would use)
 * is left, and so is one an earlier process with the same pid left (written before the
 * process's recording began, `started_ns`; 0: not known). */
static void copy_file(const char *from, const char *to, uint32_t pid, uint64_t started_ns)
{
    struct stat st;
    int in = ss_open_private(from, O_RDONLY | O_NONBLOCK, geteuid(), &st);
    if (in < 0) {
        if (ss_private_refused(in))
            ss_cli_warn("ignored %s: %s", from, ss_strerror(in));
        return;
    }
    if (started_ns && ss_jit_file_predates(&st, started_ns)) {
        ss_cli_warn("ignored %s: last written before process %u began (left by an earlier process "
                "with the same pid)",
                from, pid);
        close(in);
        return;
    }
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    char buf[65536];
    ssize_t n;
    while (out >= 0 && (n = read(in, buf, sizeof buf)) > 0) {
        if (write(out, buf, (size_t)n) != n) {
            ss_cli_warn("cannot copy %s to %s: %s", from, to, strerror(errno));
            break;
        }
    }
    if (out >= 0)
        close(out);
    close(in);
}

/* Copies the first of the candidate files that exists to dir/name, unless the run already has
 * one. */
static void keep_file(const char *dir, const char *name, const char *const *from_dirs, size_t n,
                      uint32_t pid, uint64_t started_ns)
{
    char *to, *from;
    if (asprintf(&to, "%s/%s", dir, name) < 0)
        return;
    for (size_t i = 0; i < n && access(to, F_OK) != 0; i++) {
        if (asprintf(&from, "%s/%s", from_dirs[i], name) < 0)
            break;
        if (access(from, R_OK) == 0)
            copy_file(from, to, pid, started_ns);
        free(from);
    }
    free(to);
}

/* When the recording of the run's process `pid` began (the earliest, should the pid have
 * been used twice); 0 when the run could not be read. */
static uint64_t recording_began(const struct ss_run *run, uint32_t pid)
{
    uint64_t first = 0;
    for (size_t i = 0; run && i < run->nprocs; i++)
        if (run->procs[i].pid == pid && (!first || run->procs[i].start_real_ns < first))
            first = run->procs[i].start_real_ns;
    return first;
}

/* JIT maps live in /tmp and vanish with it; the run keeps its own copy so a later report still
 * names JavaScript frames. jitdump files (node --perf-prof) are written to the working
 * directory, or to /tmp by other runtimes; the run keeps those too when there are any. */
static void keep_jit_maps(const char *dir, const struct ss_run *run)
{
    static const char *const map_dirs[] = {"/tmp"}, *const dump_dirs[] = {".", "/tmp"};
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        unsigned pid;
        char tail[64], name[64];
        if (sscanf(e->d_name, SS_TRACE_FILE_PREFIX "%u%63s", &pid, tail) != 2)
            continue;
        uint64_t started = recording_began(run, pid);
        snprintf(name, sizeof name, "perf-%u.map", pid);
        keep_file(dir, name, map_dirs, 1, pid, started);
        snprintf(name, sizeof name, "jit-%u.dump", pid);
        keep_file(dir, name, dump_dirs, 2, pid, started);
    }
    closedir(d);
}

/* `run` is NULL when it could not be loaded (`why` says why). Its processes are symbolized
 * here, after the JIT maps were kept beside their traces. */
static void summarise(const char *dir, struct ss_run *run, const char *why)
{
    if (!run) {
        fprintf(stderr, "stallscope: no event loop was traced (%s)\n", why);
        return;
    }
    struct ss_run_totals t;
    ss_run_totals(run, &t);
    fprintf(stderr, "stallscope: %zu stall%s in %zu process%s (%zu loop thread%s)", t.stalls,
            t.stalls == 1 ? "" : "s", t.processes, t.processes == 1 ? "" : "es", t.loop_threads,
            t.loop_threads == 1 ? "" : "s");
    if (t.worst) {
        char d[32], where[256] = "";
        struct ss_stack_count top;
        ss_format_duration(t.worst->duration_ns, d, sizeof d);
        ss_process_symbolize(run, (struct ss_process *)t.worst_process);
        if (ss_stall_stacks(t.worst, &top, 1) > 0) {
            strcpy(where, " in ");
            ss_frame_display_name(&top.stack->frames[0], where + 4, sizeof where - 4);
        }
        fprintf(stderr, "; worst %s on thread %u of pid %u%s", d, t.worst->tid,
                t.worst_process->pid, where);
    }
    if (t.dropped)
        fprintf(stderr, "; %llu events dropped", (unsigned long long)t.dropped);
    if (t.untraced)
        fprintf(stderr, "; %zu child program%s ran untraced", t.untraced,
                t.untraced == 1 ? "" : "s");
    fprintf(stderr, "\nstallscope: details: stallscope report %s\n", dir);
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
        {"output", required_argument, NULL, 'o'},
        {"threshold", required_argument, NULL, 't'},
        {"interval", required_argument, NULL, 'i'},
        {"signal", required_argument, NULL, 's'},
        {"sampling", required_argument, NULL, 'm'},
        {"no-stacks", no_argument, NULL, 'S'},
        {"no-python-frames", no_argument, NULL, 'P'},
        {"python-sites", no_argument, NULL, 'Y'},
        {"call-threshold", required_argument, NULL, 'c'},
        {"strict", no_argument, NULL, 'T'},
        {"no-jit-maps", no_argument, NULL, 'J'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"check", no_argument, NULL, 'C'},
        SS_CLI_CHECK_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct ss_cli_check check = {.keep_stalls = SS_KEEP_STALLS_DEFAULT};
    struct ss_options defaults;
    ss_options_defaults(&defaults);
    struct run_options o = {
        .output = SS_DEFAULT_OUTPUT,
        .threshold_ns = defaults.threshold_ns,
        .interval_ns = defaults.interval_ns,
        .call_threshold_ns = defaults.call_threshold_ns,
        .signal = defaults.signal,
        .stacks = 1,
        .python = 1,
        .jit_maps = 1,
    };
    int c, interval_set = 0, threshold_set = 0;
    o.sampling = defaults.sampling;
    while ((c = getopt_long(argc, argv, "+:o:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            o.output = optarg;
            break;
        case 't':
            o.threshold_ns = ss_cli_duration("--threshold", optarg);
            threshold_set = 1;
            break;
        case 'i':
            o.interval_ns = ss_cli_duration("--interval", optarg);
            interval_set = 1;
            break;
        case 's': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end || n < SIGRTMIN || n > SIGRTMAX)
                ss_die("--signal: expected a real-time signal number from %d to %d, got '%s'",
                       SIGRTMIN, SIGRTMAX, optarg);
            o.signal = (int)n;
            break;
        }
        case 'S':
            o.stacks = 0;
            break;
        case 'P':
            o.python = 0;
            break;
        case 'm':
            if (strcmp(optarg, "auto") == 0)
                o.sampling = SS_SAMPLING_AUTO;
            else if (strcmp(optarg, "perf") == 0)
                o.sampling = SS_SAMPLING_PERF;
            else if (strcmp(optarg, "signal") == 0)
                o.sampling = SS_SAMPLING_SIGNAL;
            else
                ss_die("--sampling: expected auto, perf or signal, got '%s'", optarg);
            break;
        case 'c':
            o.call_threshold_ns = ss_cli_duration("--call-threshold", optarg);
            break;
        case 'T':
            o.strict = 1;
            break;
        case 'J':
            o.jit_maps = 0;
            break;
        case 'q':
            o.quiet = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'C':
            check.enabled = 1;
            break;
        case 'Y':
            o.python_sites = 1;
            break;
        default:
            if (!ss_cli_check_option(&check, c, optarg))
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
        if (!threshold_set && check.rules.max_stall_ns > 0 &&
            check.rules.max_stall_ns < o.threshold_ns)
            o.threshold_ns = check.rules.max_stall_ns;
    }
    if (!interval_set && o.interval_ns > o.threshold_ns)
        o.interval_ns = o.threshold_ns;
    if (o.interval_ns > o.threshold_ns)
        ss_die("--interval (%llu ns) may not exceed --threshold (%llu ns)",
               (unsigned long long)o.interval_ns, (unsigned long long)o.threshold_ns);
    char shim[PATH_MAX + 64], dir[PATH_MAX];
    ss_cli_find_part(SHIM_NAME, ".libs", SS_PKGLIBDIR, "STALLSCOPE_SHIM", R_OK, shim, sizeof shim);
    prepare_output(o.output);
    if (!realpath(o.output, dir))
        ss_die("%s: %s", o.output, strerror(errno));
    char monitor[SS_MONITOR_NAME_MAX];
    int control = start_monitor(dir, monitor, sizeof monitor);
    set_environment(&o, shim, dir, monitor);
    warn_if_untraceable(argv[optind]);
    int status = run_command(argv + optind);
    sync_monitor(control);
    struct ss_run *run = NULL;
    char err[1024];
    if (ss_run_load(dir, &run, err, sizeof err) < 0)
        run = NULL;
    keep_jit_maps(dir, run);
    if (!o.quiet)
        summarise(dir, run, err);
    ss_run_free(run);
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
