#include <getopt.h>
#include <string.h>

#include "cli.h"
#include "common/options.h"
#include "errors.h"
#include "export/export.h"
#include "stacks/frames.h"

static void usage(FILE *out)
{
    char names[256];
    ss_exporter_names(names, sizeof names);
    fprintf(out,
            "usage: stallscope export --format FORMAT [-o FILE] [--frames user|all]\n"
            "                         [--keep-stalls N] [--causes FILE] [RUN]\n\n"
            "Writes a run (a run directory or one trace file, default " SS_DEFAULT_OUTPUT
            ")\nin a machine-readable format to FILE or standard output.\n\n"
            "  -f, --format FORMAT   one of: %s\n"
            "  -o, --output FILE     write there instead of standard output\n"
            "  --frames user|all     user: leave the runtime's frames (libc, libuv, Node.js,\n"
            "                        V8, CPython) out of every stack but the innermost;\n"
            "                        all: every frame (default)\n"
            "  --keep-stalls N       keep the N longest stalls of each process in detail\n"
            "                        and summarise the others (0: keep all; default 20000)\n"
            "  --causes FILE         more cause rules (docs/causes.md)\n",
            names);
}

int ss_cmd_export(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"frames", required_argument, NULL, 'F'},
        {"keep-stalls", required_argument, NULL, 'k'},
        {"causes", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *format = NULL, *output = NULL, *causes = NULL;
    enum ss_frames_shown frames = SS_FRAMES_ALL;
    size_t keep = SS_KEEP_STALLS_DEFAULT;
    int c;
    while ((c = getopt_long(argc, argv, ":f:o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            format = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case 'F':
            frames = ss_cli_frames_shown(optarg);
            break;
        case 'k':
            keep = ss_cli_keep_stalls(optarg);
            break;
        case 'c':
            causes = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            ss_cli_bad_option("export", c, argv[optind - 1]);
        }
    }
    char names[256];
    ss_exporter_names(names, sizeof names);
    if (!format)
        ss_die("export: --format is required (one of: %s)", names);
    const struct ss_exporter *e = ss_exporter_find(format);
    if (!e)
        ss_die("export: unknown format '%s' (one of: %s)", format, names);
    if (argc - optind > 1)
        ss_die("export: one run at a time (got %d)", argc - optind);
    struct ss_run *run =
        ss_cli_load(optind < argc ? argv[optind] : SS_DEFAULT_OUTPUT, keep, causes);
    ss_run_drop_hidden_frames(run, frames);
    FILE *out = ss_cli_output(output);
    int rc = e->write(run, out);
    /* Freed before a failure is told, so that a leak checker has nothing to say either. */
    ss_run_free(run);
    if (rc < 0)
        ss_die("export: cannot write %s: %s", ss_cli_output_name(output), ss_strerror(rc));
    ss_cli_close_output(out, output);
    return 0;
}
