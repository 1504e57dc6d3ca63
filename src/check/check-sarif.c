/* The check as SARIF 2.1.0, for GitHub code scanning and other SARIF viewers: one result per
 * finding, its stack both as a SARIF stack (innermost first) and as a code flow (outermost
 * first, which GitHub shows step by step), allowed findings as suppressed, known ones as
 * unchanged from the baseline. */
#define _GNU_SOURCE
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check/check.h"
#include "config.h"
#include "stacks/frames.h"
#include "util/json.h"

static const struct {
    const char *name, *text, *full, *help;
} rules[SS_RULE_COUNT] = {
    [SS_RULE_MAX_STALL] = {"long-stall", "Event-loop stall longer than allowed",
                           "An iteration of an event loop stayed busy for longer than the "
                           "max-stall rule allows: no other work was served meanwhile.",
                           "Split the work, move it to a worker thread or make the call "
                           "asynchronous; the stack shows what ran."},
    [SS_RULE_MAX_P99] = {"slow-loop", "Event-loop busy time p99 above the limit",
                         "The 99th percentile of a loop thread's busy time per iteration is "
                         "above the max-p99 rule: one iteration in a hundred or more delays "
                         "every client that long.",
                         "Find the slow callbacks with stallscope report and shorten them."},
    [SS_RULE_FORBID] = {"forbidden-blocking-call", "Blocking call on an event-loop thread",
                        "A call of a forbidden category (file, net, dns, sleep, process, lock, "
                        "wait) ran on an event-loop thread during an iteration and blocked it.",
                        "Use the asynchronous API or a worker thread, or allowlist the call "
                        "site if it is accepted."},
    [SS_RULE_BUDGET] = {"blocking-call-budget", "Blocking calls over budget",
                        "The blocking calls of one category on event-loop threads exceed the "
                        "budget of calls or time the check allows.",
                        "Remove or batch the calls listed in the report, or raise the budget."},
    [SS_RULE_FORBID_CAUSE] = {"forbidden-stall-cause", "Event-loop stall of a forbidden cause",
                              "An iteration of an event loop stalled, and the cause stallscope "
                              "found for most of its time (garbage collection, JSON, "
                              "cryptography, a blocking call, ...) is one the check forbids.",
                              "See the advice of stallscope report for the cause, or "
                              "allowlist the stack if it is accepted."},
};

/* A URI reference made of a path: anything but unreserved characters and '/' is escaped. */
static void uri(char *buf, size_t size, const char *prefix, const char *path)
{
    size_t n = (size_t)snprintf(buf, size, "%s", prefix);
    for (const unsigned char *p = (const unsigned char *)path; *p && n + 4 < size; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~/", *p))
            buf[n++] = (char)*p;
        else
            n += (size_t)snprintf(buf + n, size - n, "%%%02X", *p);
    }
    buf[n < size ? n : size - 1] = '\0';
}

static void artifact(struct ss_json *j, const char *path, int relative, unsigned line, unsigned col)
{
    char u[PATH_MAX * 3 + 16];
    ss_json_object(j, "physicalLocation");
    ss_json_object(j, "artifactLocation");
    uri(u, sizeof u, relative ? "" : "file://", path);
    ss_json_string(j, "uri", u);
    if (relative)
        ss_json_string(j, "uriBaseId", "%SRCROOT%");
    ss_json_end(j);
    if (line) {
        ss_json_object(j, "region");
        ss_json_uint(j, "startLine", line);
        if (col)
            ss_json_uint(j, "startColumn", col);
        ss_json_end(j);
    }
    ss_json_end(j);
}

/* A frame as a SARIF location: its name, and its file when it names one. */
static void frame_location(struct ss_json *j, const struct ss_frame *f)
{
    char name[512], path[PATH_MAX];
    unsigned line, col;
    ss_frame_display_name(f, name, sizeof name);
    ss_json_object(j, "location");
    ss_json_object(j, "message");
    ss_json_string(j, "text", name);
    ss_json_end(j);
    if (ss_frame_script_position(f, path, sizeof path, &line, &col))
        artifact(j, path, path[0] != '/', line, col);
    ss_json_end(j);
}

static void primary_location(struct ss_json *j, const struct ss_check_result *res,
                             const struct ss_finding *f)
{
    char path[PATH_MAX], fun[256];
    unsigned line = 0, col = 0;
    int kind = ss_finding_source(res, f, path, sizeof path, &line, &col);
    ss_json_array(j, "locations");
    ss_json_object(j, NULL);
    if (kind) {
        artifact(j, path, kind == 1, line, col);
    } else {
        /* Without a source file GitHub still needs a place: the module of the first frame of
         * the program, else the executable. */
        int i = ss_stack_first_user_frame(f->stack);
        const char *module = i >= 0 ? f->stack->frames[i].module : NULL;
        module = module ? module : f->process->exe;
        if (module && module[0] == '/')
            artifact(j, module, 0, 1, 0);
    }
    ss_finding_function(f, fun, sizeof fun);
    if (fun[0]) {
        ss_json_array(j, "logicalLocations");
        ss_json_object(j, NULL);
        ss_json_string(j, "name", fun);
        ss_json_string(j, "kind", "function");
        ss_json_end(j);
        ss_json_end(j);
    }
    ss_json_end(j);
    ss_json_end(j);
}

static void stacks(struct ss_json *j, const struct ss_stack *st)
{
    if (!st || !st->frames || st->nframes == 0)
        return;
    ss_json_array(j, "codeFlows");
    ss_json_object(j, NULL);
    ss_json_array(j, "threadFlows");
    ss_json_object(j, NULL);
    ss_json_array(j, "locations");
    for (uint32_t i = st->nframes; i-- > 0;) {
        ss_json_object(j, NULL);
        frame_location(j, &st->frames[i]);
        ss_json_uint(j, "nestingLevel", st->nframes - 1 - i);
        ss_json_end(j);
    }
    ss_json_end(j);
    ss_json_end(j);
    ss_json_end(j);
    ss_json_end(j);
    ss_json_end(j);
    ss_json_array(j, "stacks");
    ss_json_object(j, NULL);
    ss_json_object(j, "message");
    ss_json_string(j, "text", "stack on the loop thread, innermost frame first");
    ss_json_end(j);
    ss_json_array(j, "frames");
    for (uint32_t i = 0; i < st->nframes; i++) {
        ss_json_object(j, NULL);
        frame_location(j, &st->frames[i]);
        if (st->frames[i].module)
            ss_json_string(j, "module", ss_basename(st->frames[i].module));
        ss_json_end(j);
    }
    ss_json_end(j);
    ss_json_end(j);
    ss_json_end(j);
}

static void result(struct ss_json *j, const struct ss_check_result *res, const struct ss_finding *f)
{
    char text[PATH_MAX + 64];
    ss_json_object(j, NULL);
    ss_json_string(j, "ruleId", ss_rule_name(f->rule));
    ss_json_uint(j, "ruleIndex", f->rule);
    ss_json_string(j, "level", "error");
    ss_json_object(j, "message");
    ss_json_string(j, "text", f->title);
    ss_json_end(j);
    primary_location(j, res, f);
    ss_json_object(j, "partialFingerprints");
    snprintf(text, sizeof text, "%s:1", f->fingerprint);
    ss_json_string(j, "primaryLocationLineHash", text);
    ss_json_string(j, "stallscope/v1", f->fingerprint);
    ss_json_end(j);
    stacks(j, f->stack);
    if (f->state == SS_FINDING_ALLOWED) {
        ss_json_array(j, "suppressions");
        ss_json_object(j, NULL);
        ss_json_string(j, "kind", "external");
        ss_json_string(j, "status", "accepted");
        snprintf(text, sizeof text, "allowed by %s:%u", res->allowlist->path, f->allowed_by->line);
        ss_json_string(j, "justification", text);
        ss_json_end(j);
        ss_json_end(j);
    }
    if (res->has_baseline)
        ss_json_string(j, "baselineState", f->state == SS_FINDING_KNOWN ? "unchanged" : "new");
    ss_json_object(j, "properties");
    ss_json_string(j, "rule", ss_rule_name(f->rule));
    ss_json_uint(j, "count", f->count);
    ss_json_uint(j, "totalNs", f->total_ns);
    ss_json_uint(j, "worstNs", f->worst_ns);
    if (f->call)
        ss_json_string(j, "call", f->call);
    if (f->category)
        ss_json_string(j, "category", f->category);
    if (f->detail && f->detail[0])
        ss_json_string(j, "detail", f->detail);
    ss_json_uint(j, "pid", f->process->pid);
    ss_json_uint(j, "tid", f->tid);
    ss_json_string(j, "thread", f->thread);
    ss_json_end(j);
    ss_json_end(j);
}

static void driver(struct ss_json *j)
{
    ss_json_object(j, "tool");
    ss_json_object(j, "driver");
    ss_json_string(j, "name", "stallscope");
    ss_json_string(j, "version", PACKAGE_VERSION);
    ss_json_string(j, "semanticVersion", PACKAGE_VERSION);
    ss_json_array(j, "rules");
    for (unsigned r = 0; r < SS_RULE_COUNT; r++) {
        ss_json_object(j, NULL);
        ss_json_string(j, "id", ss_rule_name(r));
        ss_json_string(j, "name", rules[r].name);
        ss_json_object(j, "shortDescription");
        ss_json_string(j, "text", rules[r].text);
        ss_json_end(j);
        ss_json_object(j, "fullDescription");
        ss_json_string(j, "text", rules[r].full);
        ss_json_end(j);
        ss_json_object(j, "help");
        ss_json_string(j, "text", rules[r].help);
        ss_json_end(j);
        ss_json_object(j, "defaultConfiguration");
        ss_json_string(j, "level", "error");
        ss_json_end(j);
        ss_json_object(j, "properties");
        ss_json_array(j, "tags");
        ss_json_string(j, NULL, "performance");
        ss_json_string(j, NULL, "event-loop");
        ss_json_end(j);
        ss_json_string(j, "precision", "high");
        ss_json_string(j, "problem.severity", "error");
        ss_json_end(j);
        ss_json_end(j);
    }
    ss_json_end(j);
    ss_json_end(j);
    ss_json_end(j);
}

int ss_check_write_sarif(const struct ss_check_result *res, FILE *out)
{
    struct ss_json j;
    char root[PATH_MAX * 3 + 16];
    uri(root, sizeof root - 1, "file://", res->source_root ? res->source_root : "/");
    if (root[strlen(root) - 1] != '/')
        strcat(root, "/");
    ss_json_init(&j, out, 1);
    ss_json_object(&j, NULL);
    ss_json_string(&j, "$schema", "https://json.schemastore.org/sarif-2.1.0.json");
    ss_json_string(&j, "version", "2.1.0");
    ss_json_array(&j, "runs");
    ss_json_object(&j, NULL);
    driver(&j);
    ss_json_object(&j, "originalUriBaseIds");
    ss_json_object(&j, "%SRCROOT%");
    ss_json_string(&j, "uri", root);
    ss_json_end(&j);
    ss_json_end(&j);
    ss_json_array(&j, "results");
    for (size_t i = 0; i < res->nfindings; i++)
        result(&j, res, &res->findings[i]);
    ss_json_end(&j);
    ss_json_object(&j, "properties");
    ss_json_string(&j, "rules", res->rules);
    ss_json_string(&j, "run", res->run_path);
    ss_json_end(&j);
    ss_json_end(&j);
    ss_json_end(&j);
    ss_json_end(&j);
    return ss_json_status(&j);
}
