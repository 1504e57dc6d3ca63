/* cli: the stallscope command. One file per command; this header is what they share. Exit
 * status: the traced command's for run; otherwise 0 on success and 2 for usage or input
 * errors. */
#ifndef SS_CLI_H
#define SS_CLI_H

#include <stdio.h>

#include "model.h"

#define SS_EXIT_USAGE 2

struct ss_command {
    const char *name;
    const char *summary;
    int (*main)(int argc, char **argv);
};

int ss_cmd_run(int argc, char **argv);
int ss_cmd_report(int argc, char **argv);
int ss_cmd_export(int argc, char **argv);
int ss_cmd_view(int argc, char **argv);

/* Prints "stallscope: MESSAGE" on stderr and exits with status 2. */
__attribute__((noreturn, format(printf, 1, 2))) void ss_die(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void ss_warn(const char *fmt, ...);

/* For getopt_long with a leading ':' in its option string: names the offending option
 * (unknown, or ':' when its value is missing) in one line and exits with status 2. */
__attribute__((noreturn)) void ss_cli_bad_option(const char *command, int code, const char *arg);
/* Parses a duration option or dies naming the option. */
uint64_t ss_cli_duration(const char *option, const char *value);
/* Loads the run at path (a trace file or run directory) or dies with a clear message. */
struct ss_run *ss_cli_load(const char *path);
/* Opens -o FILE for writing ("-" or NULL is stdout) or dies. */
FILE *ss_cli_output(const char *path);
void ss_cli_close_output(FILE *out, const char *path);

#endif
