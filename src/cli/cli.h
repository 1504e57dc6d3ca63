/* cli: the stallscope command. One file per command; this header is what they share. Exit
 * status: the traced command's for run; otherwise 0 on success and 2 for usage or input
 * errors. */
#ifndef SS_CLI_H
#define SS_CLI_H

#include <getopt.h>
#include <stdio.h>
#include <sys/types.h>

#include "check/check.h"
#include "model.h"
#include "stacks/frames.h"

#define SS_EXIT_FINDINGS 1
#define SS_EXIT_USAGE 2

struct ss_command {
    const char *name;
    const char *summary;
    int (*main)(int argc, char **argv);
};

int ss_cmd_run(int argc, char **argv);
int ss_cmd_report(int argc, char **argv);
int ss_cmd_export(int argc, char **argv);
int ss_cmd_check(int argc, char **argv);
int ss_cmd_view(int argc, char **argv);
int ss_cmd_monitor(int argc, char **argv);
int ss_cmd_attach(int argc, char **argv);
int ss_cmd_serve(int argc, char **argv);

/* The options of check, shared with run --check: codes above any short option. */
enum {
    SS_OPT_RULES = 0x200,
    SS_OPT_MAX_STALL,
    SS_OPT_MAX_P99,
    SS_OPT_FORBID,
    SS_OPT_BUDGET,
    SS_OPT_PROCESS,
    SS_OPT_THREAD,
    SS_OPT_ALLOW,
    SS_OPT_BASELINE,
    SS_OPT_WRITE_BASELINE,
    SS_OPT_GENERATE_ALLOWLIST,
    SS_OPT_JUNIT,
    SS_OPT_SARIF,
    SS_OPT_FORBID_CAUSE,
    SS_OPT_IGNORE_CAUSE,
    SS_OPT_CAUSES,
};
#define SS_CLI_CHECK_LONGOPTS                                                                      \
    {"rules", required_argument, NULL, SS_OPT_RULES},                                              \
        {"max-stall", required_argument, NULL, SS_OPT_MAX_STALL},                                  \
        {"max-p99", required_argument, NULL, SS_OPT_MAX_P99},                                      \
        {"forbid", required_argument, NULL, SS_OPT_FORBID},                                        \
        {"budget", required_argument, NULL, SS_OPT_BUDGET},                                        \
        {"process", required_argument, NULL, SS_OPT_PROCESS},                                      \
        {"thread", required_argument, NULL, SS_OPT_THREAD},                                        \
        {"allow", required_argument, NULL, SS_OPT_ALLOW},                                          \
        {"baseline", required_argument, NULL, SS_OPT_BASELINE},                                    \
        {"write-baseline", required_argument, NULL, SS_OPT_WRITE_BASELINE},                        \
        {"generate-allowlist", no_argument, NULL, SS_OPT_GENERATE_ALLOWLIST},                      \
        {"junit", required_argument, NULL, SS_OPT_JUNIT},                                          \
        {"sarif", required_argument, NULL, SS_OPT_SARIF},                                          \
        {"forbid-cause", required_argument, NULL, SS_OPT_FORBID_CAUSE},                            \
        {"ignore-cause", required_argument, NULL, SS_OPT_IGNORE_CAUSE},                            \
    {                                                                                              \
        "causes", required_argument, NULL, SS_OPT_CAUSES                                           \
    }
/* What check and run --check print in their --help. */
#define SS_CLI_CHECK_HELP                                                                          \
    "  --rules FILE          rules, one 'KEY VALUE' a line (keys as the options below)\n"          \
    "  --max-stall DURATION  no stall may last longer\n"                                           \
    "  --max-p99 DURATION    no loop thread's busy-time p99 may be higher\n"                       \
    "  --forbid CATEGORIES   no blocking call of these categories on a loop thread\n"              \
    "                        (file, net, dns, sleep, process, lock, wait; comma-separated)\n"      \
    "  --budget CAT=N, --budget CAT=DURATION, --budget CAUSE=DURATION\n"                           \
    "                        at most N calls, or that much time, of a category; at most that\n"    \
    "                        much stalled time of a cause (cpu:gc=500ms) (repeatable)\n"           \
    "  --forbid-cause CAUSES no stall may have one of these causes (cpu:gc, blocked:file,\n"       \
    "                        starved; cpu or blocked for all their kinds; docs/causes.md)\n"       \
    "  --ignore-cause CAUSES leave stalls of these causes out of max-stall and forbid-cause\n"     \
    "                        (starved,stopped: a busy CI machine is not a regression)\n"           \
    "  --causes FILE         more cause rules (docs/causes.md)\n"                                  \
    "  --process PATTERN     check only processes whose command or executable matches\n"           \
    "  --thread PATTERN      check only loop threads whose name matches (both repeatable)\n"       \
    "  --allow FILE          allowlist of accepted findings (docs/check.md)\n"                     \
    "  --baseline FILE       report only findings not in this baseline\n"                          \
    "  --write-baseline FILE write the fingerprints of today's findings there\n"                   \
    "  --generate-allowlist  print allowlist entries for today's findings and exit 0\n"            \
    "  --junit FILE          write a JUnit XML report\n"                                           \
    "  --sarif FILE          write a SARIF 2.1.0 report\n"

/* The check's settings as options gave them, then as run loads them. */
struct ss_cli_check {
    int enabled;
    const char *rules_file;
    const char **keys, **values; /* rule options in command-line order */
    size_t nsettings;
    const char *junit, *sarif, *write_baseline, *causes_file;
    int generate_allowlist;
    struct ss_check_rules rules;
    struct ss_allowlist *allowlist;
    struct ss_baseline baseline;
    int has_baseline;
    size_t keep_stalls; /* stalls loaded in detail per process, 0 for all */
};

/* Takes an option of SS_CLI_CHECK_LONGOPTS; returns 0 for any other code. */
int ss_cli_check_option(struct ss_cli_check *c, int code, const char *arg);
/* Reads the rules file, the allowlist and the baseline, or dies naming the problem: before a
 * command runs, so that a typo does not cost a whole test run. */
void ss_cli_check_prepare(struct ss_cli_check *c, const char *command);
/* Checks the run at path, writes the reports, and returns 0 (clean) or SS_EXIT_FINDINGS;
 * the text report goes to text. Dies with status 2 on input errors. */
int ss_cli_check_run(struct ss_cli_check *c, const char *path, FILE *text);
void ss_cli_check_free(struct ss_cli_check *c);

/* ---- recording (recording.c): what run and attach share -------------------------------- */

#define SS_SHIM_NAME "libstallscope.so"

/* How the shim records, as the options of run and attach set it. */
struct ss_cli_recording {
    const char *output;
    uint64_t threshold_ns, interval_ns, call_threshold_ns;
    int signal, sampling;
    int stacks, python, python_sites, strict, quiet;
    int threshold_set, interval_set;
    uint64_t max_size; /* 0: unbounded */
    uint32_t max_files, max_stacks;
};

enum {
    SS_OPT_THRESHOLD = 0x300,
    SS_OPT_INTERVAL,
    SS_OPT_SIGNAL,
    SS_OPT_SAMPLING,
    SS_OPT_NO_STACKS,
    SS_OPT_NO_PYTHON_FRAMES,
    SS_OPT_PYTHON_SITES,
    SS_OPT_CALL_THRESHOLD,
    SS_OPT_STRICT,
    SS_OPT_MAX_SIZE,
    SS_OPT_MAX_FILES,
    SS_OPT_MAX_STACKS,
};
#define SS_CLI_RECORDING_LONGOPTS                                                                  \
    {"output", required_argument, NULL, 'o'}, {"quiet", no_argument, NULL, 'q'},                  \
        {"threshold", required_argument, NULL, SS_OPT_THRESHOLD},                                  \
        {"interval", required_argument, NULL, SS_OPT_INTERVAL},                                    \
        {"signal", required_argument, NULL, SS_OPT_SIGNAL},                                        \
        {"sampling", required_argument, NULL, SS_OPT_SAMPLING},                                    \
        {"no-stacks", no_argument, NULL, SS_OPT_NO_STACKS},                                        \
        {"no-python-frames", no_argument, NULL, SS_OPT_NO_PYTHON_FRAMES},                          \
        {"python-sites", no_argument, NULL, SS_OPT_PYTHON_SITES},                                  \
        {"call-threshold", required_argument, NULL, SS_OPT_CALL_THRESHOLD},                        \
        {"max-size", required_argument, NULL, SS_OPT_MAX_SIZE},                                    \
        {"max-files", required_argument, NULL, SS_OPT_MAX_FILES},                                  \
        {"max-stacks", required_argument, NULL, SS_OPT_MAX_STACKS},                                \
    {                                                                                              \
        "strict", no_argument, NULL, SS_OPT_STRICT                                                 \
    }
/* The options that bound what a long recording costs, in both --help texts. */
#define SS_CLI_PRODUCTION_HELP                                                                     \
    "  --max-size SIZE       keep at most SIZE bytes of trace per process (k, M, G),\n"            \
    "                        in rotated files, the oldest deleted (default 0: no limit)\n"         \
    "  --max-files N         rotated trace files kept per process with --max-size\n"              \
    "                        (default 4)\n"                                                        \
    "  --max-stacks N        unwind at most N stacks per second per process; stalls\n"            \
    "                        past it are recorded without samples (default 0: no limit)\n"

/* What run and attach print in their --help for them. */
#define SS_CLI_RECORDING_HELP                                                                      \
    "  -o, --output DIR      run directory (default " SS_DEFAULT_OUTPUT "; old traces in\n"        \
    "                        it are removed first)\n"                                              \
    "  --threshold DURATION  an iteration this busy is a stall (default 50ms)\n"                   \
    "  --interval DURATION   time between samples during a stall (default 10ms)\n"                \
    "  --sampling HOW        auto (perf events where allowed, else the signal), perf\n"            \
    "                        or signal (default auto)\n"                                           \
    "  --signal N            signal used to sample loop threads where perf events are\n"           \
    "                        refused (default 38)\n"                                               \
    "  --call-threshold DURATION\n"                                                                \
    "                        a blocking call this slow always gets its stack (default 1ms)\n"      \
    "  --strict              also record calls on non-blocking sockets, pipes and ttys\n"          \
    "  --no-stacks           record stalls without stacks\n"                                       \
    "  --no-python-frames    do not read Python functions from CPython's frames\n"                 \
    "  --python-sites        tell blocking calls apart by the Python functions that\n"             \
    "                        made them\n"                                                          \
    SS_CLI_PRODUCTION_HELP                                                                         \
    "  -q, --quiet           no summary at the end\n"

void ss_cli_recording_defaults(struct ss_cli_recording *o);
/* Takes an option of SS_CLI_RECORDING_LONGOPTS (or -o, -q); returns 0 for any other code. */
int ss_cli_recording_option(struct ss_cli_recording *o, int code, const char *arg);
/* Checks the options together (the interval within the threshold), or dies. */
void ss_cli_recording_finish(struct ss_cli_recording *o);
/* The shim's options (STALLSCOPE_OPTIONS syntax) for a recording into dir reported to the
 * monitor named monitor; malloc'd. */
char *ss_cli_shim_options(const struct ss_cli_recording *o, const char *dir, const char *monitor);
/* Creates the run directory, or empties it of an earlier run's files (and nothing else); an
 * existing one must be private to the user. Dies otherwise. */
void ss_cli_prepare_output(const char *dir);
/* Starts a monitor writing into dir under a new name (put in name); returns the control
 * socket to sync with it. Dies when it does not start. */
int ss_cli_start_monitor(const char *dir, char *name, size_t name_size);
/* The same under a name of the caller's; *monitor gets the monitor's process id. */
int ss_cli_spawn_monitor(const char *dir, const char *name, pid_t *monitor);
/* Once the recorded processes have ended or been detached: waits for the monitor to have
 * written them out, keeps the JIT maps of the run's processes beside their traces, and
 * (unless quiet) prints the summary on stderr. */
void ss_cli_end_recording(int control, const char *dir, int quiet);

/* Prints "stallscope: MESSAGE" on stderr and exits with status 2. */
__attribute__((noreturn, format(printf, 1, 2))) void ss_die(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void ss_cli_warn(const char *fmt, ...);

/* For getopt_long with a leading ':' in its option string: names the offending option
 * (unknown, or ':' when its value is missing) in one line and exits with status 2. */
__attribute__((noreturn)) void ss_cli_bad_option(const char *command, int code, const char *arg);
/* Finds a part of stallscope installed apart from this program (the shim, the viewer): the
 * path in the environment variable env if set, else the one in build_subdir beside this
 * binary (a build tree), else the one in installed_dir. Dies naming env when none is there. */
void ss_cli_find_part(const char *name, const char *build_subdir, const char *installed_dir,
                      const char *env, int mode, char *buf, size_t size);
/* Parses a duration option or dies naming the option. */
uint64_t ss_cli_duration(const char *option, const char *value);
/* Parses --keep-stalls N (0 keeps every stall) or dies naming the option. */
size_t ss_cli_keep_stalls(const char *value);
/* The value of --frames ("user" or "all"); dies on anything else. */
enum ss_frames_shown ss_cli_frames_shown(const char *value);
/* Loads the run at path (a trace file or run directory), keeping keep_stalls stalls per
 * process in detail (0: all), and names its stacks' causes with the built-in rules and those
 * of causes_file (NULL: none); or dies with a clear message. */
struct ss_run *ss_cli_load(const char *path, size_t keep_stalls, const char *causes_file);
/* Opens -o FILE for writing ("-" or NULL is stdout) or dies. */
FILE *ss_cli_output(const char *path);
/* How messages name -o FILE: the path, or "standard output". */
const char *ss_cli_output_name(const char *path);
void ss_cli_close_output(FILE *out, const char *path);

#endif
