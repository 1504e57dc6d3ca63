#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "common/options.h"
#include "monitor/monitor.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: stallscope monitor --listen NAME [-o DIR] [--linger DURATION]\n\n"
                 "Runs the monitor on its own: programs started with the shim preloaded and\n"
                 "monitor=NAME in " SS_OPTIONS_ENV " hand it their segments, and it writes their\n"
                 "traces into DIR. 'stallscope run' starts one of these for you.\n\n"
                 "  --listen NAME         the name to listen on (abstract unix socket, no '@')\n"
                 "  -o, --output DIR      run directory (default " SS_DEFAULT_OUTPUT ")\n"
                 "  --linger DURATION     stay this long after the last traced process ended\n"
                 "                        (default 2s)\n"
                 "  --control-fd N        a socket to the program that started the monitor\n"
                 "  --ready-fd N          write a byte to N and close it once listening\n"
            "  --spawned             started by a shim: end quietly when another monitor\n"
            "                        already listens under the name\n");
}

static int parse_fd(const char *option, const char *value)
{
    char *end;
    long n = strtol(value, &end, 10);
    if (*end || n < 0 || n > 65535)
        ss_die("%s: expected a descriptor number, got '%s'", option, value);
    return (int)n;
}

/* The run directory, made private to the user if missing; an existing one must be the
 * user's own and not a link (the trace writer checks again for every file). */
static void prepare_dir(const char *dir)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        ss_die("cannot create %s: %s", dir, strerror(errno));
}

int ss_cmd_monitor(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"output", required_argument, NULL, 'o'},
        {"linger", required_argument, NULL, 'g'},
        {"control-fd", required_argument, NULL, 'c'},
        {"ready-fd", required_argument, NULL, 'r'},
        {"spawned", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ss_monitor_options o = {
        .output = SS_DEFAULT_OUTPUT, .control_fd = -1, .ready_fd = -1, .linger_ns = 2000000000ull};
    int c, spawned = 0;
    while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'l':
            o.name = optarg;
            break;
        case 'o':
            o.output = optarg;
            break;
        case 'g':
            o.linger_ns = ss_cli_duration("--linger", optarg);
            break;
        case 'c':
            o.control_fd = parse_fd("--control-fd", optarg);
            break;
        case 'r':
            o.ready_fd = parse_fd("--ready-fd", optarg);
            break;
        case 's':
            spawned = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            ss_cli_bad_option("monitor", c, argv[optind - 1]);
        }
    }
    if (optind < argc)
        ss_die("monitor: unexpected argument '%s'", argv[optind]);
    if (!o.name)
        ss_die("monitor: --listen NAME is required");
    if (strlen(o.name) >= SS_MONITOR_NAME_MAX)
        ss_die("monitor: --listen: the name may have at most %d bytes", SS_MONITOR_NAME_MAX - 1);
    prepare_dir(o.output);
    char why[512];
    int rc = ss_monitor_serve(&o, why, sizeof why);
    if (rc == -EADDRINUSE && spawned)
        return 0; /* several processes started one at once: the first one serves */
    if (rc < 0) {
        if (o.ready_fd >= 0 && write(o.ready_fd, why, strlen(why)) < 0) {
            /* Whoever waited is gone. */
        }
        ss_die("monitor: %s", why);
    }
    return 0;
}
