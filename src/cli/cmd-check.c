#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "common/options.h"
#include "errors.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: stallscope check [OPTIONS] [RUN]\n\n"
            "Applies rules to a run (a run directory or one trace file, default " SS_DEFAULT_OUTPUT
            ")\nand reports what breaks them. Exit status: 0 when no finding fails, 1 when one\n"
            "does, 2 for a usage or input error. With GITHUB_ACTIONS=true it also prints\n"
            "::error annotations, and appends a summary to $GITHUB_STEP_SUMMARY when "
            "set.\n\n" SS_CLI_CHECK_HELP
            "  --keep-stalls N       keep the N longest stalls of each process in detail\n"
            "                        and summarise the others (0: keep all; default 20000)\n");
}

int ss_cli_check_option(struct ss_cli_check *c, int code, const char *arg)
{
    static const char *const keys[] = {
        [SS_OPT_MAX_STALL - SS_OPT_RULES] = "max-stall",
        [SS_OPT_MAX_P99 - SS_OPT_RULES] = "max-p99",
        [SS_OPT_FORBID - SS_OPT_RULES] = "forbid",
        [SS_OPT_BUDGET - SS_OPT_RULES] = "budget",
        [SS_OPT_PROCESS - SS_OPT_RULES] = "process",
        [SS_OPT_THREAD - SS_OPT_RULES] = "thread",
        [SS_OPT_ALLOW - SS_OPT_RULES] = "allow",
        [SS_OPT_BASELINE - SS_OPT_RULES] = "baseline",
        [SS_OPT_FORBID_CAUSE - SS_OPT_RULES] = "forbid-cause",
        [SS_OPT_IGNORE_CAUSE - SS_OPT_RULES] = "ignore-cause",
    };
    switch (code) {
    case SS_OPT_RULES:
        c->rules_file = arg;
        break;
    case SS_OPT_WRITE_BASELINE:
        c->write_baseline = arg;
        break;
    case SS_OPT_GENERATE_ALLOWLIST:
        c->generate_allowlist = 1;
        break;
    case SS_OPT_JUNIT:
        c->junit = arg;
        break;
    case SS_OPT_SARIF:
        c->sarif = arg;
        break;
    case SS_OPT_CAUSES:
        c->causes_file = arg; /* names causes; not a rule of its own */
        return 1;
    case SS_OPT_MAX_STALL:
    case SS_OPT_MAX_P99:
    case SS_OPT_FORBID:
    case SS_OPT_BUDGET:
    case SS_OPT_PROCESS:
    case SS_OPT_THREAD:
    case SS_OPT_ALLOW:
    case SS_OPT_BASELINE:
    case SS_OPT_FORBID_CAUSE:
    case SS_OPT_IGNORE_CAUSE: {
        const char **k = realloc(c->keys, (c->nsettings + 1) * sizeof *k);
        const char **v = k ? realloc(c->values, (c->nsettings + 1) * sizeof *v) : NULL;
        if (k)
            c->keys = k;
        if (!v)
            ss_die("out of memory");
        c->values = v;
        c->keys[c->nsettings] = keys[code - SS_OPT_RULES];
        c->values[c->nsettings++] = arg;
        break;
    }
    default:
        return 0;
    }
    c->enabled = 1;
    return 1;
}

void ss_cli_check_prepare(struct ss_cli_check *c, const char *command)
{
    char err[1024];
    ss_check_rules_init(&c->rules);
    /* The command line comes after the rules file, so its settings win. */
    if (c->rules_file && ss_check_rules_load(&c->rules, c->rules_file, err, sizeof err) < 0)
        ss_die("%s: %s", command, err);
    for (size_t i = 0; i < c->nsettings; i++)
        if (ss_check_rules_set(&c->rules, c->keys[i], c->values[i], err, sizeof err) < 0)
            ss_die("%s: --%s", command, err);
    if (!ss_check_rules_any(&c->rules))
        ss_die("%s: no rule given (--max-stall, --max-p99, --forbid, --budget, --forbid-cause or "
               "--rules FILE)",
               command);
    if (c->rules.allow && ss_allowlist_load(c->rules.allow, &c->allowlist, err, sizeof err) < 0)
        ss_die("%s: allowlist %s", command, err);
    if (c->rules.baseline) {
        if (ss_baseline_load(c->rules.baseline, &c->baseline, err, sizeof err) < 0)
            ss_die("%s: baseline %s", command, err);
        c->has_baseline = 1;
    }
}

static void write_report(const char *path, int (*write)(const struct ss_check_result *, FILE *),
                         const struct ss_check_result *res, const char *mode)
{
    FILE *out = strcmp(mode, "a") == 0 ? fopen(path, mode) : ss_cli_output(path);
    if (!out)
        ss_die("cannot write %s: %s", path, strerror(errno));
    int rc = write(res, out);
    if (rc < 0)
        ss_die("cannot write %s: %s", path, ss_strerror(rc));
    ss_cli_close_output(out, path);
}

int ss_cli_check_run(struct ss_cli_check *c, const char *path, FILE *text)
{
    struct ss_run *run = ss_cli_load(path, c->keep_stalls, c->causes_file);
    struct ss_check_result res;
    int rc =
        ss_check_run(run, &c->rules, c->allowlist, c->has_baseline ? &c->baseline : NULL, &res);
    if (rc < 0)
        ss_die("check: %s", ss_strerror(rc));
    /* GitHub checks out the sources there; elsewhere they are where check runs. */
    char cwd[PATH_MAX];
    res.source_root = getenv("GITHUB_WORKSPACE");
    if (!res.source_root || !*res.source_root)
        res.source_root = getcwd(cwd, sizeof cwd);
    if (c->generate_allowlist) {
        write_report("-", ss_check_write_allowlist, &res, "w");
        ss_check_result_free(&res);
        ss_run_free(run);
        return 0;
    }
    if ((rc = ss_check_write_text(&res, text)) < 0)
        ss_die("cannot write the report: %s", ss_strerror(rc));
    if (c->junit)
        write_report(c->junit, ss_check_write_junit, &res, "w");
    if (c->sarif)
        write_report(c->sarif, ss_check_write_sarif, &res, "w");
    if (c->write_baseline)
        write_report(c->write_baseline, ss_baseline_write, &res, "w");
    const char *gh = getenv("GITHUB_ACTIONS"), *summary = getenv("GITHUB_STEP_SUMMARY");
    if (gh && strcmp(gh, "true") == 0 && (rc = ss_check_write_github(&res, stdout)) < 0)
        ss_die("cannot write the annotations: %s", ss_strerror(rc));
    if (summary && *summary)
        write_report(summary, ss_check_write_markdown, &res, "a");
    int status = res.failed ? SS_EXIT_FINDINGS : 0;
    ss_check_result_free(&res);
    ss_run_free(run);
    return status;
}

void ss_cli_check_free(struct ss_cli_check *c)
{
    free(c->keys);
    free(c->values);
    ss_check_rules_free(&c->rules);
    ss_allowlist_free(c->allowlist);
    ss_baseline_free(&c->baseline);
}

int ss_cmd_check(int argc, char **argv)
{
    static const struct option longopts[] = {
        SS_CLI_CHECK_LONGOPTS,
        {"keep-stalls", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ss_cli_check c = {.keep_stalls = SS_KEEP_STALLS_DEFAULT};
    int code;
    while ((code = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if (code == 'h') {
            usage(stdout);
            return 0;
        }
        if (code == 'k') {
            c.keep_stalls = ss_cli_keep_stalls(optarg);
            continue;
        }
        if (!ss_cli_check_option(&c, code, optarg))
            ss_cli_bad_option("check", code, argv[optind - 1]);
    }
    if (argc - optind > 1)
        ss_die("check: one run at a time (got %d)", argc - optind);
    ss_cli_check_prepare(&c, "check");
    int status = ss_cli_check_run(&c, optind < argc ? argv[optind] : SS_DEFAULT_OUTPUT, stdout);
    ss_cli_check_free(&c);
    return status;
}
