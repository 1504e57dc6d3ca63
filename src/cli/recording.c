/* recording: what run and attach share: their options and how the shim is given them, the
 * run directory, the monitor they start and sync with, and the summary at the end. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "common/options.h"
#include "common/trace-format.h"
#include "errors.h"
#include "report/report.h"
#include "stacks/frames.h"
#include "symbols/symbolize.h"
#include "util/private-files.h"

void ss_cli_recording_defaults(struct ss_cli_recording *o)
{
    struct ss_options d;
    ss_options_defaults(&d);
    *o = (struct ss_cli_recording){
        .output = SS_DEFAULT_OUTPUT,
        .threshold_ns = d.threshold_ns,
        .interval_ns = d.interval_ns,
        .call_threshold_ns = d.call_threshold_ns,
        .signal = d.signal,
        .sampling = d.sampling,
        .stacks = 1,
        .python = 1,
        .max_files = d.max_files,
    };
}

int ss_cli_recording_option(struct ss_cli_recording *o, int code, const char *arg)
{
    switch (code) {
    case 'o':
        o->output = arg;
        return 1;
    case SS_OPT_THRESHOLD:
        o->threshold_ns = ss_cli_duration("--threshold", arg);
        o->threshold_set = 1;
        return 1;
    case SS_OPT_INTERVAL:
        o->interval_ns = ss_cli_duration("--interval", arg);
        o->interval_set = 1;
        return 1;
    case SS_OPT_SIGNAL: {
        char *end;
        long n = strtol(arg, &end, 10);
        if (*end || n < SIGRTMIN || n > SIGRTMAX)
            ss_die("--signal: expected a real-time signal number from %d to %d, got '%s'", SIGRTMIN,
                   SIGRTMAX, arg);
        o->signal = (int)n;
        return 1;
    }
    case SS_OPT_NO_STACKS:
        o->stacks = 0;
        return 1;
    case SS_OPT_NO_PYTHON_FRAMES:
        o->python = 0;
        return 1;
    case SS_OPT_PYTHON_SITES:
        o->python_sites = 1;
        return 1;
    case SS_OPT_SAMPLING:
        if (strcmp(arg, "auto") == 0)
            o->sampling = SS_SAMPLING_AUTO;
        else if (strcmp(arg, "perf") == 0)
            o->sampling = SS_SAMPLING_PERF;
        else if (strcmp(arg, "signal") == 0)
            o->sampling = SS_SAMPLING_SIGNAL;
        else
            ss_die("--sampling: expected auto, perf or signal, got '%s'", arg);
        return 1;
    case SS_OPT_CALL_THRESHOLD:
        o->call_threshold_ns = ss_cli_duration("--call-threshold", arg);
        return 1;
    case SS_OPT_STRICT:
        o->strict = 1;
        return 1;
    case SS_OPT_MAX_SIZE:
        if (ss_parse_size(arg, strlen(arg), &o->max_size) < 0)
            ss_die("--max-size: expected bytes, or a number with k, M or G, got '%s'", arg);
        return 1;
    case SS_OPT_MAX_FILES:
    case SS_OPT_MAX_STACKS: {
        char *end;
        unsigned long long n = strtoull(arg, &end, 10);
        int files = code == SS_OPT_MAX_FILES;
        if (*end || !*arg || *arg == '-' || n > UINT32_MAX || (files && n == 0))
            ss_die("--max-%s: expected a%s integer, got '%s'", files ? "files" : "stacks",
                   files ? " positive" : " non-negative", arg);
        *(files ? &o->max_files : &o->max_stacks) = (uint32_t)n;
        return 1;
    }
    case 'q':
        o->quiet = 1;
        return 1;
    default:
        return 0;
    }
}

void ss_cli_recording_finish(struct ss_cli_recording *o)
{
    if (!o->interval_set && o->interval_ns > o->threshold_ns)
        o->interval_ns = o->threshold_ns;
    if (o->interval_ns > o->threshold_ns)
        ss_die("--interval (%llu ns) may not exceed --threshold (%llu ns)",
               (unsigned long long)o->interval_ns, (unsigned long long)o->threshold_ns);
}

char *ss_cli_shim_options(const struct ss_cli_recording *o, const char *dir, const char *monitor)
{
    char quote = strchr(dir, '\'') ? '"' : '\'';
    if (strchr(dir, quote))
        ss_die("the output path may not contain both kinds of quote: %s", dir);
    static const char *const sampling[] = {"auto", "perf", "signal"};
    char *options;
    if (asprintf(&options,
                 "threshold=%lluns:interval=%lluns:call_threshold=%lluns:signal=%d:stacks=%d:"
                 "python=%d:python_sites=%d:strict=%d:sampling=%s:max_size=%llu:max_files=%u:"
                 "max_stacks=%u:monitor=%s:output=%c%s%c",
                 (unsigned long long)o->threshold_ns, (unsigned long long)o->interval_ns,
                 (unsigned long long)o->call_threshold_ns, o->signal, o->stacks, o->python,
                 o->python_sites, o->strict, sampling[o->sampling], (unsigned long long)o->max_size,
                 o->max_files, o->max_stacks, monitor, quote, dir, quote) < 0)
        ss_die("out of memory");
    return options;
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
void ss_cli_prepare_output(const char *dir)
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

/* The monitor: a process of its own, in a process group of its own so that the terminal's
 * ^C reaches the command but not it. It outlives run when traced processes outlive the
 * command (a daemon), and ends once they are gone. Returns the control socket. */
int ss_cli_start_monitor(const char *dir, char *name, size_t name_size)
{
    uint64_t nonce = 0;
    if (getrandom(&nonce, sizeof nonce, 0) != (ssize_t)sizeof nonce)
        nonce = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull;
    snprintf(name, name_size, "stallscope-%d-%016llx", (int)getpid(), (unsigned long long)nonce);
    pid_t pid;
    return ss_cli_spawn_monitor(dir, name, &pid);
}

int ss_cli_spawn_monitor(const char *dir, const char *name, pid_t *monitor)
{
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
        char *argv[] = {"stallscope",   "monitor",  "--listen",   (char *)name, "-o", (char *)dir,
                        "--control-fd", control_fd, "--ready-fd", ready_fd,     NULL};
        execv("/proc/self/exe", argv);
        fprintf(stderr, "stallscope: cannot start the monitor: %s\n", strerror(errno));
        _exit(127);
    }
    *monitor = pid;
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

void ss_cli_end_recording(int control, const char *dir, int quiet)
{
    sync_monitor(control);
    struct ss_run *run = NULL;
    char err[1024];
    if (ss_run_load(dir, &run, err, sizeof err) < 0)
        run = NULL;
    keep_jit_maps(dir, run);
    if (!quiet)
        summarise(dir, run, err);
    ss_run_free(run);
}
