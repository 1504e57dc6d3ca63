#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "causes/causes.h"
#include "cli.h"
#include "common/options.h"
#include "config.h"
#include "errors.h"

static const struct ss_command commands[] = {
    {"run", "trace a command and its children, then summarise", ss_cmd_run},
    {"attach", "trace a process that is already running, then leave it as it was", ss_cmd_attach},
    {"report", "print the stalls of a run with their stacks", ss_cmd_report},
    {"export", "write a run in a machine-readable format", ss_cmd_export},
    {"check", "apply rules to a run and fail on what breaks them (CI gate)", ss_cmd_check},
    {"view", "watch the stalls of a run in the terminal, live or afterwards", ss_cmd_view},
    {"monitor", "follow traced programs on its own and write their traces", ss_cmd_monitor},
    {"serve", "serve live runs' stalls over HTTP as Prometheus metrics", ss_cmd_serve},
};

void ss_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("stallscope: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(SS_EXIT_USAGE);
}

void ss_cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("stallscope: warning: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void ss_cli_bad_option(const char *command, int code, const char *arg)
{
    if (code == ':')
        ss_die("%s: option '%s' needs a value (see stallscope %s --help)", command, arg, command);
    ss_die("%s: unknown option '%s' (see stallscope %s --help)", command, arg, command);
}

void ss_cli_find_part(const char *name, const char *build_subdir, const char *installed_dir,
                      const char *env, int mode, char *buf, size_t size)
{
    const char *given = getenv(env);
    if (given && *given) {
        if (access(given, mode) != 0)
            ss_die("%s=%s: %s", env, given, strerror(errno));
        snprintf(buf, size, "%s", given);
        return;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        snprintf(buf, size, "%s/%s/%s", dirname(exe), build_subdir, name);
        if (access(buf, mode) == 0)
            return;
    }
    snprintf(buf, size, "%s/%s", installed_dir, name);
    if (access(buf, mode) != 0)
        ss_die("cannot find %s (looked beside the program and in %s); set %s to its path", name,
               installed_dir, env);
}

uint64_t ss_cli_duration(const char *option, const char *value)
{
    uint64_t ns;
    if (ss_parse_duration(value, strlen(value), &ns) < 0 || ns == 0)
        ss_die("%s: invalid duration '%s' (examples: 50ms, 1.5s, 200us)", option, value);
    return ns;
}

enum ss_frames_shown ss_cli_frames_shown(const char *value)
{
    enum ss_frames_shown shown;
    if (ss_frames_shown_parse(value, &shown) < 0)
        ss_die("--frames: expected 'user' or 'all', got '%s'", value);
    return shown;
}

size_t ss_cli_keep_stalls(const char *value)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(value, &end, 10);
    if (*value < '0' || *value > '9' || *end || errno || n > SIZE_MAX / 2)
        ss_die("--keep-stalls: expected a number of stalls (0 keeps all), got '%s'", value);
    return (size_t)n;
}

struct ss_run *ss_cli_load(const char *path, size_t keep_stalls, const char *causes_file)
{
    struct ss_cause_rules *causes;
    char err[1024];
    /* The rules first: a mistake in them is told before a long load. */
    if (ss_cause_rules_new(&causes, err, sizeof err) < 0)
        ss_die("%s", err);
    if (causes_file && ss_cause_rules_add_file(causes, causes_file, err, sizeof err) < 0) {
        ss_cause_rules_free(causes);
        ss_die("--causes: %s", err);
    }
    struct ss_run *run;
    if (ss_run_load_keep(path, keep_stalls, &run, err, sizeof err) < 0) {
        ss_cause_rules_free(causes);
        ss_die("%s", err);
    }
    if (ss_run_classify(run, causes) < 0)
        ss_die("out of memory");
    return run;
}

FILE *ss_cli_output(const char *path)
{
    if (!path || strcmp(path, "-") == 0)
        return stdout;
    FILE *f = fopen(path, "w");
    if (!f)
        ss_die("cannot write %s: %s", path, strerror(errno));
    return f;
}

const char *ss_cli_output_name(const char *path)
{
    return path && strcmp(path, "-") ? path : "standard output";
}

void ss_cli_close_output(FILE *out, const char *path)
{
    int rc = ss_write_status(out);
    if (out != stdout && fclose(out) != 0 && rc == 0)
        rc = -errno;
    if (rc < 0)
        ss_die("cannot write %s: %s", ss_cli_output_name(path), ss_strerror(rc));
}

static void usage(void)
{
    printf("usage: stallscope COMMAND [OPTIONS] [ARGS]\n\n"
           "Finds what blocks the event loop of any program.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        printf("  %-8s %s\n", commands[i].name, commands[i].summary);
    printf("\n'stallscope COMMAND --help' describes a command's options;\n"
           "'stallscope --version' prints the version.\n");
}

int main(int argc, char **argv)
{
    char names[96] = "";
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
                 commands[i].name);
    if (argc < 2)
        ss_die("no command given (one of: %s; see stallscope --help)", names);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage();
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("stallscope %s\n", PACKAGE_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].main(argc - 1, argv + 1);
    ss_die("unknown command '%s' (one of: %s; see stallscope --help)", argv[1], names);
}
