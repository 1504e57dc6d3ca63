/* attach: records a process that is already running. A monitor is started as for run; the
 * process is made to load the shim and call its entry point with the options (ptrace, in a
 * child of ours that finishes the job even if we are killed); at the end the entry point
 * that detaches is called the same way. docs/attach.md tells the whole path. */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "common/options.h"
#include "model.h"
#include "monitor/find-run.h"
#include "monitor/inject.h"

#define CALL_TIMEOUT_MS 10000
#define MESSAGE_MAX 512

static void usage(FILE *out)
{
    fprintf(out,
            "usage: stallscope attach [OPTIONS] PID\n"
            "       stallscope attach --detach PID\n\n"
            "Records the event loops of process PID, which is already running, until ^C, the\n"
            "end of --duration or the process's exit; then detaches, leaving the process as it\n"
            "was, and prints a summary. The run directory is read as after run.\n\n"
            "  --duration DURATION   detach after this long\n"
            "  --detach              detach a process an earlier attach left recording\n"
            "%s",
            SS_CLI_RECORDING_HELP);
}

/* What a call made in the process through ptrace gave. */
struct injected {
    int rc;      /* 0, or a negated errno: the attach failed (message says why) */
    long result; /* the entry point's return value */
    uint64_t stopped_ns, held_ns;
    char message[MESSAGE_MAX];
};

__attribute__((format(printf, 3, 4))) static void say(struct injected *r, int rc, const char *fmt,
                                                      ...)
{
    r->rc = rc;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
}

static uint64_t dl_function(struct ss_inject *in, const char *name)
{
    uint64_t f = ss_inject_symbol(in, "libc.so.6", name);
    return f ? f : ss_inject_symbol(in, "libdl.so", name);
}

/* A string the process holds, at most MESSAGE_MAX - 1 bytes. */
static void read_string(struct ss_inject *in, uint64_t addr, char *to)
{
    to[0] = '\0';
    for (size_t n = 0; addr && n < MESSAGE_MAX - 1; n++) {
        if (ss_inject_read(in, addr + n, &to[n], 1) < 0 || to[n] == '\0') {
            to[n] = '\0';
            return;
        }
        to[n + 1] = '\0';
    }
}

/* Writes len bytes into the process at addr (it is stopped under our ptrace). */
static void put_back(pid_t pid, uint64_t addr, const void *data, size_t len)
{
    struct iovec local = {(void *)data, len}, remote = {(void *)(uintptr_t)addr, len};
    if (process_vm_writev(pid, &local, 1, &remote, 1, 0) != (ssize_t)len) {
        /* The page is the thread's own TLS: writable while the thread lives. */
    }
}

static int call(struct ss_inject *in, uint64_t fn, const uint64_t *args, unsigned nargs,
                uint64_t *ret, struct injected *r)
{
    int rc =
        ss_inject_call(in, fn, args, nargs, CALL_TIMEOUT_MS, ret, r->message, sizeof r->message);
    if (rc < 0)
        r->rc = rc;
    return rc;
}

/* In the process: dlopen the shim (only if loaded already, unless `load`), then call its
 * entry point with (options, message buffer, size), or (message buffer, size) without
 * options. */
static void inject(pid_t pid, const char *shim, int load, const char *entry, const char *options,
                   struct injected *r)
{
    struct ss_inject *in;
    r->rc = ss_inject_begin(pid, &in, r->message, sizeof r->message);
    if (r->rc < 0)
        return;
    uint64_t dlopen_fn = dl_function(in, "dlopen"), dlsym_fn = dl_function(in, "dlsym");
    uint64_t dlerror_fn = dl_function(in, "dlerror");
    uint64_t path, name, message, opts = 0, handle, fn, result, errno_fn, errno_at = 0;
    int32_t saved_errno = 0;
    char zeros[MESSAGE_MAX] = {0};
    if (!dlopen_fn || !dlsym_fn) {
        say(r, -ENOEXEC, "the process has no dlopen: it does not use the GNU C library");
        goto out;
    }
    if (ss_inject_push(in, shim, strlen(shim) + 1, &path) < 0 ||
        ss_inject_push(in, entry, strlen(entry) + 1, &name) < 0 ||
        ss_inject_push(in, zeros, sizeof zeros, &message) < 0 ||
        (options && ss_inject_push(in, options, strlen(options) + 1, &opts) < 0)) {
        say(r, -ENOMEM, "no room on the stack of the process");
        goto out;
    }
    /* The calls below may set the thread's errno: it gets its value back at the end. */
    errno_fn = ss_inject_symbol(in, "libc.so.6", "__errno_location");
    char ignored[MESSAGE_MAX];
    if (errno_fn && (ss_inject_call(in, errno_fn, NULL, 0, CALL_TIMEOUT_MS, &errno_at, ignored,
                                    sizeof ignored) < 0 ||
                     ss_inject_read(in, errno_at, &saved_errno, sizeof saved_errno) < 0))
        errno_at = 0;
    uint64_t open_args[] = {path, RTLD_NOW | RTLD_LOCAL | (load ? 0 : RTLD_NOLOAD)};
    if (call(in, dlopen_fn, open_args, 2, &handle, r) < 0)
        goto out;
    if (!handle) {
        char why[MESSAGE_MAX] = "";
        uint64_t text = 0;
        if (load && dlerror_fn && call(in, dlerror_fn, NULL, 0, &text, r) == 0)
            read_string(in, text, why);
        if (load)
            say(r, -ENOEXEC, "the process could not load the shim: %s",
                why[0] ? why : "dlopen failed");
        else
            say(r, -ENOENT, "the process is not attached (the shim is not loaded in it)");
        goto out;
    }
    uint64_t sym_args[] = {handle, name};
    if (call(in, dlsym_fn, sym_args, 2, &fn, r) < 0)
        goto out;
    if (!fn) {
        say(r, -ENOEXEC, "the shim loaded in the process has no %s: another version", entry);
        goto out;
    }
    uint64_t with_options[] = {opts, message, MESSAGE_MAX}, without[] = {message, MESSAGE_MAX};
    if (options ? call(in, fn, with_options, 3, &result, r) < 0
                : call(in, fn, without, 2, &result, r) < 0)
        goto out;
    r->result = (int32_t)result;
    if (r->result < 0) {
        read_string(in, message, r->message);
        r->rc = -EINVAL;
    }
out:
    if (errno_at)
        put_back(pid, errno_at, &saved_errno, sizeof saved_errno);
    ss_inject_times(in, &r->stopped_ns, &r->held_ns);
    ss_inject_end(in);
}

/* Runs inject() in a child of ours in a session of its own: killed meanwhile, we must not
 * leave the process with a call half made. */
static void inject_apart(pid_t pid, const char *shim, int load, const char *entry,
                         const char *options, struct injected *r)
{
    memset(r, 0, sizeof *r);
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        ss_die("pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t child = fork();
    if (child < 0)
        ss_die("fork: %s", strerror(errno));
    if (child == 0) {
        close(p[0]);
        setsid();
        signal(SIGINT, SIG_IGN);
        signal(SIGTERM, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        signal(SIGPIPE, SIG_IGN);
        inject(pid, shim, load, entry, options, r);
        ssize_t w = write(p[1], r, sizeof *r);
        _exit(w == (ssize_t)sizeof *r ? 0 : 1);
    }
    close(p[1]);
    size_t got = 0;
    while (got < sizeof *r) {
        ssize_t n = read(p[0], (char *)r + got, sizeof *r - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(p[0]);
    while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
        ;
    if (got != sizeof *r)
        say(r, -EIO, "the part of attach that works on the process ended early");
}

static pid_t parse_pid(const char *s)
{
    char *end;
    errno = 0;
    long n = strtol(s, &end, 10);
    if (errno || *end || end == s || n <= 0 || n > INT_MAX)
        ss_die("attach: expected a process id, got '%s'", s);
    return (pid_t)n;
}

static void read_file(const char *path, char *buf, size_t size, size_t *len)
{
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n;
    while (*len < size - 1 && (n = read(fd, buf + *len, size - 1 - *len)) > 0)
        *len += (size_t)n;
    buf[*len] = '\0';
    close(fd);
}

/* The process tracing pid (TracerPid in its status), 0 when none. */
static pid_t tracer_of(pid_t pid)
{
    char path[64], status[4096];
    size_t len;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    read_file(path, status, sizeof status, &len);
    const char *line = strstr(status, "\nTracerPid:");
    return line ? (pid_t)strtol(line + strlen("\nTracerPid:"), NULL, 10) : 0;
}

/* What can be told before touching the process, each with its own message (exit 2). */
static void check_process(pid_t pid, const char *shim)
{
    char path[64], comm[64] = "";
    size_t len;
    if (pid == getpid())
        ss_die("attach: will not attach to itself");
    if (kill(pid, 0) != 0 && errno == ESRCH)
        ss_die("attach: no process %d", (int)pid);
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    read_file(path, comm, sizeof comm, &len);
    static char maps[1 << 20];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    read_file(path, maps, sizeof maps, &len);
    if (len == 0)
        ss_die("attach: cannot read the memory map of process %d: %s", (int)pid,
               errno == EACCES ? "it belongs to another user" : strerror(errno));
    if (!strstr(maps, "/libc.so.6"))
        ss_die("attach: process %d (%.*s) is statically linked or does not use the GNU C "
               "library: the shim can only be loaded by glibc's dynamic loader",
               (int)pid, (int)strcspn(comm, "\n"), comm);
    const char *base = strrchr(shim, '/');
    char dir[PATH_MAX], why[512];
    if (strstr(maps, base ? base : shim) &&
        ss_find_run_dir_in_environment(pid, dir, sizeof dir) == 0)
        ss_die("attach: process %d is traced already, by stallscope run: its run directory is %s",
               (int)pid, dir);
    /* Before the run directory is emptied: it may be this very recording's. */
    if (strstr(maps, base ? base : shim) &&
        ss_find_run_dir(pid, dir, sizeof dir, why, sizeof why) == 0)
        ss_die("attach: process %d is being recorded already, into %s (end that attach, or "
               "stallscope attach --detach %d)",
               (int)pid, dir, (int)pid);
    pid_t tracer = tracer_of(pid);
    if (tracer > 0) {
        char tracer_comm[64] = "?";
        snprintf(path, sizeof path, "/proc/%d/comm", (int)tracer);
        read_file(path, tracer_comm, sizeof tracer_comm, &len);
        ss_die("attach: process %d is already traced by process %d (%.*s): a debugger or tracer "
               "must let it go first",
               (int)pid, (int)tracer, (int)strcspn(tracer_comm, "\n"), tracer_comm);
    }
}

static volatile sig_atomic_t stop_asked;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_asked = 1;
}

/* ^C, SIGTERM and SIGHUP end the recording, from before the process is touched: one that
 * comes during the attach detaches it as soon as it is attached. */
static void catch_stop_signals(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

static int process_exited(int pidfd, pid_t pid)
{
    struct pollfd fd = {pidfd, POLLIN, 0};
    return pidfd >= 0 ? poll(&fd, 1, 0) > 0 : kill(pid, 0) != 0 && errno == ESRCH;
}

/* Until ^C (or SIGTERM), the end of duration_ns (0: none), or the process's exit; returns
 * whether the process is still there. */
static int record(pid_t pid, uint64_t duration_ns)
{
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int alive = 1;
    while (!stop_asked && (alive = !process_exited(pidfd, pid))) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        uint64_t elapsed = (uint64_t)(now.tv_sec - start.tv_sec) * 1000000000ull +
                           (uint64_t)(now.tv_nsec - start.tv_nsec);
        if (duration_ns && elapsed >= duration_ns)
            break;
        uint64_t left = duration_ns ? duration_ns - elapsed : 100000000ull;
        int ms = left > 100000000ull ? 100 : (int)(left / 1000000ull) + 1;
        struct pollfd fd = {pidfd, POLLIN, 0};
        if (pidfd >= 0)
            poll(&fd, 1, ms);
        else
            poll(NULL, 0, ms);
    }
    if (pidfd >= 0)
        close(pidfd);
    return alive && !process_exited(-1, pid);
}

/* Calls stallscope_detach in pid, again a while later when the shim was redirecting the calls
 * of a module just loaded on the very thread the call was made on. */
static int detach_one(pid_t pid, const char *shim, struct injected *r)
{
    for (int tries = 0;; tries++) {
        inject_apart(pid, shim, 0, "stallscope_detach", NULL, r);
        if (r->rc == 0 || tries >= 40 || !strstr(r->message, "busy redirecting"))
            return r->rc;
        poll(NULL, 0, 50);
    }
}

static pid_t parent_of(pid_t pid)
{
    char path[64], stat[512];
    size_t len;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    read_file(path, stat, sizeof stat, &len);
    const char *end = strrchr(stat, ')'); /* the name may hold spaces and parentheses */
    int ppid = 0;
    return end && sscanf(end + 1, " %*c %d", &ppid) == 1 ? (pid_t)ppid : 0;
}

/* The processes descended from pid that have the shim mapped: children it forked while it was
 * attached carry its redirected GOT entries. At most max of them, in *out. */
static size_t attached_descendants(pid_t pid, const char *shim, pid_t *out, size_t max)
{
    enum { PIDS_MAX = 65536 };
    static pid_t pids[PIDS_MAX], parents[PIDS_MAX];
    size_t n = 0, found = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d)) && n < PIDS_MAX) {
        pid_t p = (pid_t)atoi(e->d_name);
        if (p > 0 && (parents[n] = parent_of(p)) > 0)
            pids[n++] = p;
    }
    if (d)
        closedir(d);
    static char maps[1 << 20];
    const char *base = strrchr(shim, '/');
    for (size_t i = 0; i < n && found < max; i++) {
        pid_t up = parents[i];
        for (int depth = 0; up > 1 && up != pid && depth < 64; depth++)
            up = parent_of(up);
        char path[64];
        size_t len;
        snprintf(path, sizeof path, "/proc/%d/maps", (int)pids[i]);
        if (up == pid && (read_file(path, maps, sizeof maps, &len), strstr(maps, base)))
            out[found++] = pids[i];
    }
    return found;
}

/* Detaches the process, then the children it forked while attached; returns 0, or 2 with
 * what went wrong said. */
static int detach(pid_t pid, const char *shim, int quiet)
{
    struct injected r;
    if (detach_one(pid, shim, &r) < 0) {
        if (r.rc == -ENOENT || strcmp(r.message, "not attached") == 0)
            fprintf(stderr, "stallscope: attach: process %d is not attached\n", (int)pid);
        else
            fprintf(stderr, "stallscope: attach: cannot detach from process %d: %s\n", (int)pid,
                    r.message);
        return SS_EXIT_USAGE;
    }
    if (!quiet)
        fprintf(stderr,
                "stallscope: detached from process %d: %ld calls put back (process stopped "
                "%.2fms)\n",
                (int)pid, r.result, (double)r.held_ns / 1e6);
    pid_t children[256];
    size_t n = attached_descendants(pid, shim, children, sizeof children / sizeof children[0]);
    for (size_t i = 0; i < n; i++) {
        struct injected child;
        if (detach_one(children[i], shim, &child) == 0 && !quiet)
            fprintf(stderr,
                    "stallscope: detached from process %d, forked by %d while attached: %ld "
                    "calls put back\n",
                    (int)children[i], (int)pid, child.result);
    }
    return 0;
}

int ss_cmd_attach(int argc, char **argv)
{
    static const struct option longopts[] = {
        SS_CLI_RECORDING_LONGOPTS,
        {"duration", required_argument, NULL, 'd'},
        {"detach", no_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ss_cli_recording o;
    ss_cli_recording_defaults(&o);
    uint64_t duration_ns = 0;
    int c, detach_only = 0;
    while ((c = getopt_long(argc, argv, ":o:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            duration_ns = ss_cli_duration("--duration", optarg);
            break;
        case 'D':
            detach_only = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            if (!ss_cli_recording_option(&o, c, optarg))
                ss_cli_bad_option("attach", c, argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        ss_die("attach: expected one process id (stallscope attach [OPTIONS] PID)");
    pid_t pid = parse_pid(argv[optind]);
    ss_cli_recording_finish(&o);
    char found[PATH_MAX + 64], shim[PATH_MAX];
    ss_cli_find_part(SS_SHIM_NAME, ".libs", SS_PKGLIBDIR, "STALLSCOPE_SHIM", R_OK, found,
                     sizeof found);
    if (!realpath(found, shim))
        ss_die("%s: %s", found, strerror(errno));
    if (detach_only)
        return detach(pid, shim, 0);
    check_process(pid, shim);
    catch_stop_signals();
    char dir[PATH_MAX], monitor[SS_MONITOR_NAME_MAX];
    ss_cli_prepare_output(o.output);
    if (!realpath(o.output, dir))
        ss_die("%s: %s", o.output, strerror(errno));
    int control = ss_cli_start_monitor(dir, monitor, sizeof monitor);
    char *options = ss_cli_shim_options(&o, dir, monitor);
    struct injected r;
    inject_apart(pid, shim, 1, "stallscope_attach", options, &r);
    free(options);
    if (r.rc < 0) {
        close(control);
        if (strcmp(r.message, "the shim was preloaded, not attached") == 0)
            ss_die("attach: process %d is traced already: it was started with the shim "
                   "preloaded",
                   (int)pid);
        if (strcmp(r.message, "already attached") == 0)
            ss_die("attach: process %d is being recorded already by another attach (end it, or "
                   "stallscope attach --detach %d)",
                   (int)pid, (int)pid);
        ss_die("attach: %s", r.message);
    }
    if (!o.quiet)
        fprintf(stderr,
                "stallscope: attached to process %d: %ld calls redirected (process stopped "
                "%.2fms, threads all stopped %.2fms); recording into %s until %s\n",
                (int)pid, r.result, (double)r.held_ns / 1e6, (double)r.stopped_ns / 1e6, dir,
                duration_ns ? "the end of --duration, ^C or its exit" : "^C or its exit");
    int status = 0;
    if (stop_asked ? !process_exited(-1, pid) : record(pid, duration_ns))
        status = detach(pid, shim, o.quiet);
    ss_cli_end_recording(control, dir, o.quiet);
    close(control);
    return status;
}
