#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/options.h"
#include "errors.h"
#include "report/report.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: stallscope report [--top N] [--depth N] [--frames user|all]\n"
                 "                         [--keep-stalls N] [--causes FILE] [--no-advice]\n"
                 "                         [RUN]\n\n"
                 "Prints, per process and loop thread, busy-time percentiles and the worst\n"
                 "stalls with the stacks that ran during them. RUN is a run directory or one\n"
                 "trace file (default: " SS_DEFAULT_OUTPUT ").\n\n"
                 "  --top N     stalls shown per process (default 5)\n"
                 "  --depth N   frames shown per stack (default 16)\n"
                 "  --frames user|all\n"
                 "              user: hide the runtime's frames (libc, libuv, Node.js, V8,\n"
                 "              CPython) but the innermost; all: show every frame (default)\n"
                 "  --keep-stalls N\n"
                 "              keep the N longest stalls of each process in detail and\n"
                 "              summarise the others (0: keep all; default 20000)\n"
                 "  --causes FILE\n"
                 "              more cause rules and advice (docs/causes.md)\n"
                 "  --no-advice  leave out the advice for each cause\n");
}

static size_t count_option(const char *name, const char *value)
{
    char *end;
    unsigned long n = strtoul(value, &end, 10);
    if (!*value || *end || n == 0 || n > 1000000)
        ss_die("%s: expected a positive number, got '%s'", name, value);
    return n;
}

int ss_cmd_report(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"top", required_argument, NULL, 't'},
        {"depth", required_argument, NULL, 'd'},
        {"frames", required_argument, NULL, 'f'},
        {"keep-stalls", required_argument, NULL, 'k'},
        {"causes", required_argument, NULL, 'c'},
        {"no-advice", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ss_report_options o;
    ss_report_defaults(&o);
    size_t keep = SS_KEEP_STALLS_DEFAULT;
    const char *causes = NULL;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            o.top = count_option("--top", optarg);
            break;
        case 'd':
            o.depth = count_option("--depth", optarg);
            break;
        case 'f':
            o.frames = ss_cli_frames_shown(optarg);
            break;
        case 'k':
            keep = ss_cli_keep_stalls(optarg);
            break;
        case 'c':
            causes = optarg;
            break;
        case 'n':
            o.advice = 0;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            ss_cli_bad_option("report", c, argv[optind - 1]);
        }
    }
    if (argc - optind > 1)
        ss_die("report: one run at a time (got %d)", argc - optind);
    struct ss_run *run =
        ss_cli_load(optind < argc ? argv[optind] : SS_DEFAULT_OUTPUT, keep, causes);
    int rc = ss_report_text(run, stdout, &o);
    /* Freed before a failure is told, so that a leak checker has nothing to say either. */
    ss_run_free(run);
    if (rc < 0)
        ss_die("cannot write %s: %s", ss_cli_output_name(NULL), ss_strerror(rc));
    ss_cli_close_output(stdout, NULL);
    return 0;
}
