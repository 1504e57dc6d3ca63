#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "common/options.h"
#include "errors.h"
#include "serve/follow.h"
#include "serve/http.h"
#include "serve/listen.h"

/* Stalls kept in detail per process while a run is read: enough for their causes to be
 * worked out for most stalls of a day, and far less memory than report's default. The others
 * are counted exactly, under the cause "not-kept". */
#define SERVE_KEEP_STALLS 2000
/* How often the run directories are looked at, and read again when they changed. */
#define SERVE_REFRESH_NS 1000000000ull
#define SERVE_AGE_OUT_DEFAULT "5m"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: stallscope serve [--listen ADDR:PORT] [--age-out DURATION]\n"
            "                        [--keep-stalls N] [--monitor NAME -o DIR] [RUN_DIR...]\n\n"
            "Follows live run directories and serves their stalls over HTTP: /metrics in the\n"
            "Prometheus text format (docs/metrics.md), /healthz, and\n"
            "/debug/pprof/stalls?seconds=N, the pprof profile of the stalls that begin in the\n"
            "next N seconds (default 30). New traces are read within a second; serve never\n"
            "writes to the run directories.\n\n"
            "  --listen ADDR:PORT    address to serve on, IPv4 or [IPv6] (default\n"
            "                        " SS_SERVE_LISTEN_DEFAULT "; port 0: any free one)\n"
            "  --age-out DURATION    a process that ended leaves the metrics this long after\n"
            "                        its last record (default " SERVE_AGE_OUT_DEFAULT ")\n"
            "  --keep-stalls N       stalls of a process whose causes are worked out; the\n"
            "                        others count under cause \"not-kept\" (default %d)\n"
            "  --monitor NAME        also run a monitor listening under NAME for programs\n"
            "                        started with monitor=NAME in " SS_OPTIONS_ENV ",\n"
            "                        and follow its run directory\n"
            "  -o, --output DIR      the monitor's run directory (with --monitor)\n",
            SERVE_KEEP_STALLS);
}

struct serve_options {
    struct ss_listen_address listen;
    uint64_t age_out_ns;
    size_t keep_stalls;
    const char *monitor, *output;
    char **dirs;
    size_t ndirs;
};

static void parse(int argc, char **argv, struct serve_options *o)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"age-out", required_argument, NULL, 'a'},
        {"keep-stalls", required_argument, NULL, 'k'},
        {"monitor", required_argument, NULL, 'm'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *listen = SS_SERVE_LISTEN_DEFAULT;
    o->age_out_ns = ss_cli_duration("--age-out", SERVE_AGE_OUT_DEFAULT);
    o->keep_stalls = SERVE_KEEP_STALLS;
    int c;
    while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'l':
            listen = optarg;
            break;
        case 'a':
            o->age_out_ns = ss_cli_duration("--age-out", optarg);
            break;
        case 'k':
            o->keep_stalls = ss_cli_keep_stalls(optarg);
            break;
        case 'm':
            o->monitor = optarg;
            break;
        case 'o':
            o->output = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            ss_cli_bad_option("serve", c, argv[optind - 1]);
        }
    }
    if (ss_listen_parse(listen, &o->listen) < 0)
        ss_die("serve: --listen: expected ADDR:PORT (127.0.0.1:9477, [::1]:9477), got '%s'",
               listen);
    if (o->monitor && !o->output)
        ss_die("serve: --monitor needs -o DIR, the run directory its traces go to");
    if (o->output && !o->monitor)
        ss_die("serve: -o DIR goes with --monitor NAME");
    if (o->monitor && strlen(o->monitor) >= SS_MONITOR_NAME_MAX)
        ss_die("serve: --monitor: the name may have at most %d bytes", SS_MONITOR_NAME_MAX - 1);
    o->ndirs = (size_t)(argc - optind) + (o->monitor != NULL);
    if (o->ndirs == 0)
        ss_die("serve: no run directory given (see stallscope serve --help)");
    if (!(o->dirs = calloc(o->ndirs, sizeof *o->dirs)))
        ss_die("out of memory");
    for (int i = optind; i < argc; i++)
        o->dirs[i - optind] = argv[i];
    if (o->monitor)
        o->dirs[o->ndirs - 1] = (char *)o->output;
}

/* A directory named on the command line must exist: a typo is told at once. One that goes
 * away later is reported by /healthz. Named twice, its stalls would count twice. */
static void check_dirs(const struct serve_options *o)
{
    struct stat st, other;
    for (size_t i = 0; i < o->ndirs; i++) {
        if (stat(o->dirs[i], &st) < 0)
            ss_die("serve: %s: %s", o->dirs[i], strerror(errno));
        if (!S_ISDIR(st.st_mode))
            ss_die("serve: %s: not a run directory", o->dirs[i]);
        for (size_t k = 0; k < i; k++)
            if (stat(o->dirs[k], &other) == 0 && other.st_dev == st.st_dev &&
                other.st_ino == st.st_ino)
                ss_die("serve: %s and %s are the same directory", o->dirs[k], o->dirs[i]);
    }
}

/* Waits for SIGINT or SIGTERM, or for the monitor to end; returns the exit status. */
static int wait_for_end(const sigset_t *set, pid_t monitor)
{
    for (;;) {
        int sig;
        if (sigwait(set, &sig) != 0)
            continue;
        if (sig != SIGCHLD)
            return 0;
        int status;
        if (monitor > 0 && waitpid(monitor, &status, WNOHANG) == monitor) {
            ss_cli_warn("serve: the monitor ended (%s %d); stopping",
                        WIFSIGNALED(status) ? "signal" : "status",
                        WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
            return 1;
        }
    }
}

/* Lets the monitor write out what it has, then ends it. */
static void stop_monitor(int control, pid_t monitor)
{
    char byte = 'S';
    if (write(control, &byte, 1) == 1 && read(control, &byte, 1) < 0) {
        /* Gone already: waitpid below tells. */
    }
    close(control);
    kill(monitor, SIGTERM);
    while (waitpid(monitor, NULL, 0) < 0 && errno == EINTR)
        ;
}

int ss_cmd_serve(int argc, char **argv)
{
    struct serve_options o = {0};
    parse(argc, argv, &o);
    /* Every thread started from here on leaves these signals to the main one. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    int listen_fd = ss_listen_open(&o.listen);
    char where[96];
    ss_listen_format(&o.listen, where, sizeof where);
    if (listen_fd < 0)
        ss_die("serve: cannot listen on %s: %s", where, ss_strerror(listen_fd));
    int control = -1;
    pid_t monitor = 0;
    if (o.monitor)
        control = ss_cli_spawn_monitor(o.output, o.monitor, &monitor);
    check_dirs(&o);

    struct ss_follower follower;
    int rc = ss_follower_start(&follower, o.dirs, o.ndirs, o.keep_stalls, o.age_out_ns,
                               SERVE_REFRESH_NS);
    if (rc < 0)
        ss_die("serve: cannot follow the run directories: %s", ss_strerror(rc));
    struct ss_http *http;
    char err[256];
    if (ss_http_start(&http, listen_fd, &follower, o.age_out_ns, err, sizeof err) < 0)
        ss_die("serve: %s", err);
    fprintf(stderr, "stallscope: serving on %s\n", where);

    int status = wait_for_end(&set, monitor);
    ss_http_stop(http);
    ss_follower_stop(&follower);
    if (monitor > 0 && status == 0)
        stop_monitor(control, monitor);
    free(o.dirs);
    return status;
}
