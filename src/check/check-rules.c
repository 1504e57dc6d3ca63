#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/check.h"
#include "common/options.h"
#include "errors.h"
#include "util/lines.h"

static const char *const rule_names[SS_RULE_COUNT] = {
    [SS_RULE_MAX_STALL] = "max-stall",
    [SS_RULE_MAX_P99] = "max-p99",
    [SS_RULE_FORBID] = "forbid",
    [SS_RULE_BUDGET] = "budget",
    [SS_RULE_FORBID_CAUSE] = "forbid-cause",
};

const char *ss_rule_name(enum ss_rule r)
{
    return (unsigned)r < SS_RULE_COUNT ? rule_names[r] : "?";
}

void ss_check_rules_init(struct ss_check_rules *r)
{
    memset(r, 0, sizeof *r);
    r->max_stall_ns = r->max_p99_ns = SS_NO_LIMIT;
    for (int i = 0; i < SS_NCATEGORIES; i++)
        r->budget_calls[i] = r->budget_ns[i] = SS_NO_LIMIT;
}

static void free_list(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

void ss_check_rules_free(struct ss_check_rules *r)
{
    free_list(r->processes, r->nprocesses);
    free_list(r->threads, r->nthreads);
    free(r->allow);
    free(r->baseline);
    free(r->forbid_causes);
    free(r->ignore_causes);
    ss_check_rules_init(r);
}

/* The index of the category named by the len bytes at name, or -1 when they name none. */
static int category_index(const char *name, size_t len)
{
    for (int i = 0; i < SS_NCATEGORIES; i++) {
        const char *c = ss_category_name((unsigned)i);
        if (c && strlen(c) == len && strncmp(c, name, len) == 0)
            return i;
    }
    return -1;
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(err, err_size, __VA_ARGS__);                                                      \
        return -EINVAL;                                                                            \
    } while (0)
#define CATEGORY_LIST "file, net, dns, sleep, process, lock, wait"

static int add_to_list(char ***list, size_t *n, const char *value)
{
    char **l = realloc(*list, (*n + 1) * sizeof *l);
    if (!l)
        return -ENOMEM;
    *list = l;
    if (!(l[*n] = strdup(value)))
        return -ENOMEM;
    (*n)++;
    return 0;
}

static int set_forbid(struct ss_check_rules *r, const char *value, char *err, size_t err_size)
{
    const char *s = value;
    for (;;) {
        size_t len = strcspn(s, ", ");
        int c = category_index(s, len);
        if (c < 0)
            FAIL("forbid: unknown category '%.*s' (categories: " CATEGORY_LIST ")", (int)len, s);
        r->forbid |= 1u << c;
        s += len;
        while (*s == ',' || *s == ' ')
            s++;
        if (!*s)
            return 0;
    }
}

/* "cpu:gc=500ms": at most that much stalled time of a cause (or of a group, "cpu=2s"). */
static int set_cause_budget(struct ss_check_rules *r, const char *name, size_t len,
                            const char *value, char *err, size_t err_size)
{
    char cause[SS_CAUSE_NAME];
    uint64_t ns;
    snprintf(cause, sizeof cause, "%.*s", (int)(len < sizeof cause ? len : sizeof cause - 1), name);
    if (len >= sizeof cause || !ss_cause_known(cause))
        FAIL("budget: unknown cause '%.*s'", (int)len, name);
    if (ss_parse_duration(value, strlen(value), &ns) < 0)
        FAIL("budget: a cause's budget is a duration of stalled time (%s=500ms), got '%s'", cause,
             value);
    size_t i;
    for (i = 0; i < r->ncause_budgets && strcmp(r->cause_budgets[i].cause, cause) != 0; i++)
        ;
    if (i == SS_CAUSE_BUDGETS_MAX)
        FAIL("budget: at most %d causes have budgets", SS_CAUSE_BUDGETS_MAX);
    if (i == r->ncause_budgets)
        r->ncause_budgets++;
    snprintf(r->cause_budgets[i].cause, sizeof r->cause_budgets[i].cause, "%s", cause);
    r->cause_budgets[i].ns = ns;
    return 0;
}

/* "file=10" is a number of calls, "file=50ms" a total time; "cpu:gc=500ms" a cause's time. */
static int set_budget(struct ss_check_rules *r, const char *value, char *err, size_t err_size)
{
    const char *eq = strchr(value, '=');
    if (!eq)
        FAIL("budget: expected CATEGORY=CALLS, CATEGORY=DURATION or CAUSE=DURATION (file=10, "
             "file=50ms, cpu:gc=500ms), got '%s'",
             value);
    /* A name with a kind ("cpu:gc", even a mistyped one) or a cause of its own is a cause's
     * budget; anything else must be a category. */
    size_t name_len = (size_t)(eq - value);
    char name[SS_CAUSE_NAME];
    snprintf(name, sizeof name, "%.*s", (int)(name_len < sizeof name ? name_len : 0), value);
    if (memchr(value, ':', name_len) || ss_cause_known(name))
        return set_cause_budget(r, value, name_len, eq + 1, err, err_size);
    int c = category_index(value, name_len);
    if (c < 0)
        FAIL("budget: unknown category '%.*s' (categories: " CATEGORY_LIST ")", (int)(eq - value),
             value);
    const char *v = eq + 1;
    size_t digits = strspn(v, "0123456789");
    if (digits > 0 && v[digits] == '\0' && digits < 19) {
        r->budget_calls[c] = strtoull(v, NULL, 10);
        return 0;
    }
    uint64_t ns;
    if (ss_parse_duration(v, strlen(v), &ns) < 0)
        FAIL("budget: '%s' is neither a number of calls nor a duration (10, 50ms)", v);
    r->budget_ns[c] = ns;
    return 0;
}

static int set_duration(uint64_t *out, const char *key, const char *value, char *err,
                        size_t err_size)
{
    if (ss_parse_duration(value, strlen(value), out) < 0)
        FAIL("%s: invalid duration '%s' (examples: 100ms, 1.5s, 200us)", key, value);
    return 0;
}

static int set_path(char **out, const char *value)
{
    free(*out);
    return (*out = strdup(value)) ? 0 : -ENOMEM;
}

/* Appends value, a comma-separated list of causes, to *list, refusing unknown ones. */
static int add_causes(char **list, const char *key, const char *value, char *err, size_t err_size)
{
    if (!*value)
        FAIL("%s: expected causes, comma-separated (cpu:gc,blocked:file)", key);
    for (const char *s = value; *s;) {
        size_t len = strcspn(s, ",");
        char name[SS_CAUSE_NAME];
        snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name ? len : sizeof name - 1), s);
        if (!ss_cause_known(name))
            FAIL("%s: unknown cause '%.*s' (cpu, cpu:KIND, blocked, blocked:CATEGORY, starved, "
                 "stopped, unknown)",
                 key, (int)len, s);
        s += len + (s[len] == ',');
    }
    char *joined;
    if (asprintf(&joined, "%s%s%s", *list ? *list : "", *list ? "," : "", value) < 0)
        return -ENOMEM;
    free(*list);
    *list = joined;
    return 0;
}

int ss_check_rules_set(struct ss_check_rules *r, const char *key, const char *value, char *err,
                       size_t err_size)
{
    while (*key == '-')
        key++;
    if (strcmp(key, "max-stall") == 0)
        return set_duration(&r->max_stall_ns, key, value, err, err_size);
    if (strcmp(key, "max-p99") == 0)
        return set_duration(&r->max_p99_ns, key, value, err, err_size);
    if (strcmp(key, "forbid") == 0)
        return set_forbid(r, value, err, err_size);
    if (strcmp(key, "budget") == 0)
        return set_budget(r, value, err, err_size);
    if (strcmp(key, "process") == 0)
        return add_to_list(&r->processes, &r->nprocesses, value);
    if (strcmp(key, "thread") == 0)
        return add_to_list(&r->threads, &r->nthreads, value);
    if (strcmp(key, "allow") == 0)
        return set_path(&r->allow, value);
    if (strcmp(key, "baseline") == 0)
        return set_path(&r->baseline, value);
    if (strcmp(key, "forbid-cause") == 0)
        return add_causes(&r->forbid_causes, key, value, err, err_size);
    if (strcmp(key, "ignore-cause") == 0)
        return add_causes(&r->ignore_causes, key, value, err, err_size);
    FAIL("unknown rule '%s' (rules: max-stall, max-p99, forbid, budget, forbid-cause, "
         "ignore-cause, process, thread, allow, baseline)",
         key);
}

static int resolve(char **path, const char *dir)
{
    if (!*path || (*path)[0] == '/' || strcmp(dir, ".") == 0)
        return 0;
    char *joined;
    if (asprintf(&joined, "%s/%s", dir, *path) < 0)
        return -ENOMEM;
    free(*path);
    *path = joined;
    return 0;
}

/* One "key value" line of a rules file. */
static int rules_line(void *ctx, char *line, char *why, size_t why_size)
{
    char *value = line + strcspn(line, " \t");
    if (*value)
        *value++ = '\0';
    while (*value == ' ' || *value == '\t')
        value++;
    if (!*value) {
        snprintf(why, why_size, "'%s' needs a value", line);
        return -EINVAL;
    }
    return ss_check_rules_set(ctx, line, value, why, why_size);
}

int ss_check_rules_load(struct ss_check_rules *r, const char *path, char *err, size_t err_size)
{
    /* Paths in the file are the file's own: resolve those it sets, not earlier ones. */
    char *allow = r->allow, *baseline = r->baseline;
    r->allow = r->baseline = NULL;
    int rc = ss_read_lines(path, rules_line, r, err, err_size);
    char *copy = strdup(path);
    if (rc == 0 && (!copy || resolve(&r->allow, dirname(copy)) < 0 ||
                    resolve(&r->baseline, dirname(copy)) < 0))
        rc = -ENOMEM;
    free(copy);
    if (!r->allow)
        r->allow = allow;
    else
        free(allow);
    if (!r->baseline)
        r->baseline = baseline;
    else
        free(baseline);
    return rc;
}

int ss_check_rules_any(const struct ss_check_rules *r)
{
    if (r->max_stall_ns != SS_NO_LIMIT || r->max_p99_ns != SS_NO_LIMIT || r->forbid ||
        r->forbid_causes || r->ncause_budgets)
        return 1;
    for (int i = 0; i < SS_NCATEGORIES; i++)
        if (r->budget_calls[i] != SS_NO_LIMIT || r->budget_ns[i] != SS_NO_LIMIT)
            return 1;
    return 0;
}

/* Appends "; " (or nothing at the start) and the parts. */
static void append(char *buf, size_t size, const char *a, const char *b)
{
    size_t len = strlen(buf);
    if (len < size)
        snprintf(buf + len, size - len, "%s%s%s", len ? "; " : "", a, b);
}

void ss_check_rules_describe(const struct ss_check_rules *r, char *buf, size_t size)
{
    char d[64];
    buf[0] = '\0';
    if (r->max_stall_ns != SS_NO_LIMIT) {
        ss_format_duration(r->max_stall_ns, d, sizeof d);
        append(buf, size, "max-stall ", d);
    }
    if (r->max_p99_ns != SS_NO_LIMIT) {
        ss_format_duration(r->max_p99_ns, d, sizeof d);
        append(buf, size, "max-p99 ", d);
    }
    char forbid[128] = "";
    for (int i = 0; i < SS_NCATEGORIES; i++)
        if (r->forbid & (1u << i))
            snprintf(forbid + strlen(forbid), sizeof forbid - strlen(forbid), "%s%s",
                     forbid[0] ? "," : "", ss_category_name((unsigned)i));
    if (forbid[0])
        append(buf, size, "forbid ", forbid);
    for (int i = 0; i < SS_NCATEGORIES; i++) {
        const char *c = ss_category_name((unsigned)i);
        if (r->budget_calls[i] != SS_NO_LIMIT) {
            snprintf(d, sizeof d, "%s=%llu", c, (unsigned long long)r->budget_calls[i]);
            append(buf, size, "budget ", d);
        }
        if (r->budget_ns[i] != SS_NO_LIMIT) {
            snprintf(d, sizeof d, "%s=", c);
            ss_format_duration(r->budget_ns[i], d + strlen(d), sizeof d - strlen(d));
            append(buf, size, "budget ", d);
        }
    }
    for (size_t i = 0; i < r->ncause_budgets; i++) {
        snprintf(d, sizeof d, "%s=", r->cause_budgets[i].cause);
        ss_format_duration(r->cause_budgets[i].ns, d + strlen(d), sizeof d - strlen(d));
        append(buf, size, "budget ", d);
    }
    if (r->forbid_causes)
        append(buf, size, "forbid-cause ", r->forbid_causes);
    if (r->ignore_causes)
        append(buf, size, "ignore-cause ", r->ignore_causes);
    for (size_t i = 0; i < r->nprocesses; i++)
        append(buf, size, "process ", r->processes[i]);
    for (size_t i = 0; i < r->nthreads; i++)
        append(buf, size, "thread ", r->threads[i]);
}
