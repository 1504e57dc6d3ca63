/* The check's outputs for people: the text report, GitHub's workflow commands and job
 * summary, and allowlist entries to paste. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check/check.h"
#include "common/options.h"
#include "errors.h"
#include "stacks/frames.h"

/* GitHub shows at most 10 error annotations per step and drops the rest silently. */
#define GITHUB_MAX_ANNOTATIONS 10
#define STACK_LINES 8

int ss_finding_source(const struct ss_check_result *res, const struct ss_finding *f, char *path,
                      size_t size, unsigned *line, unsigned *col)
{
    const struct ss_stack *st = f->stack;
    char src[PATH_MAX];
    for (uint32_t i = 0; st && st->frames && i < st->nframes; i++) {
        if (!ss_frame_script_position(&st->frames[i], src, sizeof src, line, col))
            continue;
        const char *root = res->source_root ? res->source_root : "";
        size_t n = strlen(root);
        while (n > 1 && root[n - 1] == '/')
            n--;
        if (src[0] != '/') {
            snprintf(path, size, "%s", src);
            return 1;
        }
        if (n > 0 && strncmp(src, root, n) == 0 && src[n] == '/') {
            snprintf(path, size, "%s", src + n + 1);
            return 1;
        }
        snprintf(path, size, "%s", src);
        return 2;
    }
    return 0;
}

static const char *state_name(enum ss_finding_state s)
{
    return s == SS_FINDING_FAILED ? "FAILED" : s == SS_FINDING_ALLOWED ? "ALLOWED" : "KNOWN";
}

static void print_frames(FILE *out, const struct ss_stack *st, const char *indent)
{
    char name[512];
    for (uint32_t i = 0; st && st->frames && i < st->nframes && i < STACK_LINES; i++) {
        ss_frame_display_name(&st->frames[i], name, sizeof name);
        const char *module = st->frames[i].module;
        fprintf(out, "%s%-56s %s\n", indent, name, module ? ss_basename(module) : "");
    }
    if (st && st->nframes > STACK_LINES)
        fprintf(out, "%s... %u more frames\n", indent, st->nframes - STACK_LINES);
}

static void print_stale(FILE *out, const struct ss_check_result *res, const char *prefix)
{
    const struct ss_allowlist *a = res->allowlist;
    for (size_t i = 0; a && i < a->nentries; i++) {
        const struct ss_allow_entry *e = &a->entries[i];
        if (e->hits)
            continue;
        fprintf(out, "%s%s:%u ", prefix, a->path, e->line);
        for (size_t k = 0; k < e->nlines; k++)
            fprintf(out, "%s%s:%s", k ? " " : "", ss_allow_type_name(e->lines[k].type),
                    e->lines[k].pattern);
        fputc('\n', out);
    }
}

static size_t stale_count(const struct ss_check_result *res)
{
    size_t n = 0;
    for (size_t i = 0; res->allowlist && i < res->allowlist->nentries; i++)
        n += res->allowlist->entries[i].hits == 0;
    return n;
}

int ss_check_write_text(const struct ss_check_result *res, FILE *out)
{
    fprintf(out,
            "stallscope check of %s: %zu process%s, %zu loop thread%s, %zu stall%s, %zu blocking "
            "call site%s\nrules: %s\n",
            res->run_path, res->processes, res->processes == 1 ? "" : "es", res->loop_threads,
            res->loop_threads == 1 ? "" : "s", res->stalls, res->stalls == 1 ? "" : "s",
            res->call_sites, res->call_sites == 1 ? "" : "s", res->rules);
    if (res->ignored)
        fprintf(out, "left out: %zu stall%s of an ignored cause\n", res->ignored,
                res->ignored == 1 ? "" : "s");
    if (res->allowlist)
        fprintf(out, "allowlist: %s, %zu entr%s\n", res->allowlist->path, res->allowlist->nentries,
                res->allowlist->nentries == 1 ? "y" : "ies");
    for (size_t i = 0; i < res->nfindings; i++) {
        const struct ss_finding *f = &res->findings[i];
        fprintf(out, "\n%s %s: %s\n", state_name(f->state), ss_rule_name(f->rule), f->title);
        if (f->allowed_by)
            fprintf(out, "    allowed by %s:%u\n", res->allowlist->path, f->allowed_by->line);
        else if (f->state == SS_FINDING_KNOWN)
            fprintf(out, "    known: its fingerprint is in the baseline\n");
        fprintf(out, "    fingerprint %s; first on thread %u (%s) of pid %u: %s\n", f->fingerprint,
                f->tid, f->thread, f->process->pid,
                f->process->command[0] ? f->process->command : f->process->exe);
        if (f->detail && f->detail[0])
            fprintf(out, "    on %s\n", f->detail);
        print_frames(out, f->stack, "        ");
    }
    if (stale_count(res)) {
        fprintf(out, "\nstale allowlist entries (they allowed nothing in this run):\n");
        print_stale(out, res, "    ");
    }
    char t[32], m[32];
    if (res->max_stall_ns < res->lowest_threshold_ns && res->lowest_threshold_ns != SS_NO_LIMIT) {
        ss_format_duration(res->lowest_threshold_ns, t, sizeof t);
        ss_format_duration(res->max_stall_ns, m, sizeof m);
        fprintf(out,
                "\nnote: max-stall is %s but stalls shorter than %s (the threshold the run was "
                "recorded with) are not in the trace\n",
                m, t);
    }
    if (res->summarised_over_limit)
        fprintf(out,
                "\nnote: %llu shorter stalls were summarised rather than kept one by one "
                "(--keep-stalls); up to %llu of them may also be over max-stall and are in no "
                "finding\n",
                (unsigned long long)res->summarised,
                (unsigned long long)res->summarised_over_limit);
    if (res->unkept_over_limit) {
        char d[32];
        ss_format_duration(res->unkept_longest_ns, d, sizeof d);
        fprintf(out,
                "\nFAILED: %zu process%s had a stall over max-stall (the longest %s) that the "
                "trace no longer holds (in files deleted by rotation, or lost when the monitor "
                "fell behind): it has no stacks\n",
                res->unkept_over_limit, res->unkept_over_limit == 1 ? "" : "es", d);
    }
    if (res->dropped)
        fprintf(out, "\nnote: the trace lost %llu events; findings may be missing\n",
                (unsigned long long)res->dropped);
    if (res->untraced)
        fprintf(out,
                "\nnote: %zu child program%s ran untraced, so %s not checked (stallscope "
                "report says which and why)\n",
                res->untraced, res->untraced == 1 ? "" : "s",
                res->untraced == 1 ? "it was" : "they were");
    if (res->failed)
        fprintf(out, "\nresult: FAILED: %zu finding%s, %zu allowed, %zu known from the baseline\n",
                res->failed, res->failed == 1 ? "" : "s", res->allowed, res->known);
    else
        fprintf(out,
                "\nresult: passed: no finding fails (%zu allowed, %zu known from the "
                "baseline)\n",
                res->allowed, res->known);
    return ss_write_status(out);
}

/* Workflow-command escaping as GitHub's toolkit does it: data escapes %, CR and LF; a property
 * value also ':' and ','. */
static void github_escape(FILE *out, const char *s, int property)
{
    for (; *s; s++) {
        switch (*s) {
        case '%':
            fputs("%25", out);
            break;
        case '\r':
            fputs("%0D", out);
            break;
        case '\n':
            fputs("%0A", out);
            break;
        case ':':
            fputs(property ? "%3A" : ":", out);
            break;
        case ',':
            fputs(property ? "%2C" : ",", out);
            break;
        default:
            fputc(*s, out);
        }
    }
}

int ss_check_write_github(const struct ss_check_result *res, FILE *out)
{
    size_t shown = 0;
    for (size_t i = 0; i < res->nfindings; i++) {
        const struct ss_finding *f = &res->findings[i];
        if (f->state != SS_FINDING_FAILED)
            continue;
        if (shown++ == GITHUB_MAX_ANNOTATIONS) {
            fprintf(out,
                    "::notice title=stallscope::%zu more findings are in the job summary and "
                    "the SARIF report\n",
                    res->failed - GITHUB_MAX_ANNOTATIONS);
            break;
        }
        char path[PATH_MAX], title[300], name[512], *message = NULL;
        size_t len = 0;
        unsigned line, col;
        fputs("::error ", out);
        if (ss_finding_source(res, f, path, sizeof path, &line, &col) == 1) {
            fputs("file=", out);
            github_escape(out, path, 1);
            if (line)
                fprintf(out, ",line=%u", line);
            if (line && col)
                fprintf(out, ",col=%u", col);
            fputc(',', out);
        }
        snprintf(title, sizeof title, "stallscope %s: %s", ss_rule_name(f->rule), f->title);
        fputs("title=", out);
        github_escape(out, title, 1);
        fputs("::", out);
        FILE *m = open_memstream(&message, &len);
        if (!m)
            return -ENOMEM;
        fprintf(m, "%s\nfingerprint %s; thread %u (%s) of pid %u: %s", f->title, f->fingerprint,
                f->tid, f->thread, f->process->pid, f->process->command);
        if (f->detail && f->detail[0])
            fprintf(m, "\non %s", f->detail);
        for (uint32_t k = 0; f->stack && f->stack->frames && k < f->stack->nframes; k++) {
            ss_frame_display_name(&f->stack->frames[k], name, sizeof name);
            const char *module = f->stack->frames[k].module;
            fprintf(m, "\n  at %s%s%s%s", name, module ? " (" : "",
                    module ? ss_basename(module) : "", module ? ")" : "");
        }
        fclose(m);
        github_escape(out, message, 0);
        free(message);
        fputc('\n', out);
    }
    return ss_write_status(out);
}

/* Table cells hold any text: '|' would end the cell and a newline the row. */
static void markdown_cell(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", out);
        else if (*s == '\n' || *s == '\r')
            fputc(' ', out);
        else if (strchr("\\`*_[]<>", *s))
            fprintf(out, "\\%c", *s);
        else
            fputc(*s, out);
    }
}

int ss_check_write_markdown(const struct ss_check_result *res, FILE *out)
{
    fprintf(out, "### stallscope check: %s\n\n", res->failed ? "failed" : "passed");
    fprintf(out,
            "%zu finding%s fail%s, %zu allowed by the allowlist, %zu known from the "
            "baseline. Rules: ",
            res->failed, res->failed == 1 ? "" : "s", res->failed == 1 ? "s" : "", res->allowed,
            res->known);
    markdown_cell(out, res->rules);
    fprintf(out, ".\n\n");
    if (res->nfindings) {
        fprintf(out, "| Result | Rule | Finding | Where | Fingerprint |\n"
                     "| --- | --- | --- | --- | --- |\n");
        for (size_t i = 0; i < res->nfindings; i++) {
            const struct ss_finding *f = &res->findings[i];
            char fun[256], state[PATH_MAX + 64];
            if (f->allowed_by)
                snprintf(state, sizeof state, "allowed (%s:%u)", res->allowlist->path,
                         f->allowed_by->line);
            else
                snprintf(state, sizeof state, "%s",
                         f->state == SS_FINDING_KNOWN ? "known" : "**fails**");
            ss_finding_function(f, fun, sizeof fun);
            fputs("| ", out);
            if (f->state == SS_FINDING_FAILED)
                fputs(state, out);
            else
                markdown_cell(out, state);
            fprintf(out, " | %s | ", ss_rule_name(f->rule));
            markdown_cell(out, f->title);
            fputs(" | ", out);
            markdown_cell(out, fun[0] ? fun : "-");
            fputs(" (", out);
            markdown_cell(out, f->thread);
            fprintf(out, ") | `%s` |\n", f->fingerprint);
        }
        fputc('\n', out);
    }
    if (stale_count(res)) {
        fprintf(out, "Stale allowlist entries (they allowed nothing in this run):\n\n");
        const struct ss_allowlist *a = res->allowlist;
        for (size_t i = 0; i < a->nentries; i++) {
            if (a->entries[i].hits)
                continue;
            fputs("- ", out);
            markdown_cell(out, a->path);
            fprintf(out, ":%u\n", a->entries[i].line);
        }
        fputc('\n', out);
    }
    return ss_write_status(out);
}

/* Allowlist patterns are fnmatch patterns: a name's own wildcard characters are escaped. */
static void pattern(FILE *out, const char *type, const char *s)
{
    fprintf(out, "%s:", type);
    for (; *s; s++) {
        if (strchr("*?[]\\", *s))
            fputc('\\', out);
        fputc(*s, out);
    }
    fputc('\n', out);
}

int ss_check_write_allowlist(const struct ss_check_result *res, FILE *out)
{
    fprintf(out, "# stallscope allowlist for the findings of %s\n", res->run_path);
    for (size_t i = 0; i < res->nfindings; i++) {
        const struct ss_finding *f = &res->findings[i];
        if (f->state != SS_FINDING_FAILED)
            continue;
        char fun[256], call[128] = "";
        ss_finding_function(f, fun, sizeof fun);
        if (f->call)
            ss_call_normalize(f->call, call, sizeof call);
        fprintf(out, "\n# %s: %s (fingerprint %s)\n", ss_rule_name(f->rule), f->title,
                f->fingerprint);
        /* The call and the first frame of the program outlive rebuilds and edits elsewhere;
         * a p99 has neither, and a stall on CPU nothing better than its function. */
        if (f->rule == SS_RULE_MAX_P99 || (f->rule == SS_RULE_MAX_STALL && !fun[0] && !call[0])) {
            pattern(out, "fingerprint", f->fingerprint);
            continue;
        }
        if (f->rule == SS_RULE_BUDGET)
            call[0] = fun[0] = '\0';
        int lines = (f->rule != SS_RULE_FORBID) + (call[0] != 0) + (fun[0] != 0) +
                    (f->rule == SS_RULE_BUDGET);
        if (lines > 1)
            fputs("{\n", out);
        if (f->rule != SS_RULE_FORBID)
            pattern(out, "rule", ss_rule_name(f->rule));
        if (f->rule == SS_RULE_BUDGET)
            pattern(out, "cat", f->category);
        if (call[0])
            pattern(out, "call", call);
        if (fun[0])
            pattern(out, "fun", fun);
        if (lines > 1)
            fputs("}\n", out);
    }
    return ss_write_status(out);
}
