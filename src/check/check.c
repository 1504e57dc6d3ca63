#define _GNU_SOURCE
#include "check/check.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "common/options.h"
#include "errors.h"
#include "stacks/frames.h"

/* The index of the category called name, or -1 when it names none. */
static int category_index(const char *name)
{
    for (int i = 0; i < SS_NCATEGORIES; i++)
        if (name && strcmp(ss_category_name((unsigned)i), name) == 0)
            return i;
    return -1;
}

static int any_match(char *const *patterns, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (s && fnmatch(patterns[i], s, 0) == 0)
            return 1;
    return 0;
}

static int process_in_scope(const struct ss_check_rules *r, const struct ss_process *p)
{
    return r->nprocesses == 0 || any_match(r->processes, r->nprocesses, p->command) ||
           any_match(r->processes, r->nprocesses, p->exe) ||
           any_match(r->processes, r->nprocesses, ss_basename(p->exe));
}

static const char *thread_name(const struct ss_process *p, uint32_t tid)
{
    const struct ss_thread *t = ss_process_thread(p, tid);
    return t ? t->name : "";
}

static int thread_in_scope(const struct ss_check_rules *r, const struct ss_process *p, uint32_t tid)
{
    return r->nthreads == 0 || any_match(r->threads, r->nthreads, thread_name(p, tid));
}

/* Findings are merged by rule and fingerprint: the same problem in many processes, threads
 * or stalls is one finding. */
static struct ss_finding *finding(struct ss_check_result *res, size_t *cap, enum ss_rule rule,
                                  const char *fp, int *created)
{
    for (size_t i = 0; i < res->nfindings; i++) {
        if (res->findings[i].rule == rule && strcmp(res->findings[i].fingerprint, fp) == 0) {
            *created = 0;
            return &res->findings[i];
        }
    }
    if (res->nfindings == *cap) {
        size_t n = *cap ? *cap * 2 : 16;
        struct ss_finding *f = realloc(res->findings, n * sizeof *f);
        if (!f)
            return NULL;
        res->findings = f;
        *cap = n;
    }
    struct ss_finding *f = &res->findings[res->nfindings++];
    memset(f, 0, sizeof *f);
    f->rule = rule;
    snprintf(f->fingerprint, sizeof f->fingerprint, "%s", fp);
    *created = 1;
    return f;
}

static void add_occurrence(struct ss_finding *f, uint64_t count, uint64_t total, uint64_t worst)
{
    f->count += count;
    f->total_ns += total;
    if (worst > f->worst_ns)
        f->worst_ns = worst;
}

static void place(struct ss_finding *f, const struct ss_process *p, uint32_t tid,
                  const struct ss_stack *st)
{
    f->process = p;
    f->tid = tid;
    f->thread = ss_thread_label(p, tid);
    f->stack = st;
}

static const struct ss_stall_call *dominant_call(const struct ss_stall *s)
{
    const struct ss_stall_call *best = NULL;
    for (size_t i = 0; i < s->ncalls; i++)
        if (!best || s->calls[i].duration_ns > best->duration_ns)
            best = &s->calls[i];
    return best;
}

/* A stall whose cause is forbidden: one finding per cause and stack. */
static int forbidden_cause(struct ss_check_result *res, size_t *cap, const struct ss_process *p,
                           const struct ss_stall *s, const struct ss_stall_cause *cause)
{
    struct ss_stack_count top;
    const struct ss_stack *st = ss_stall_stacks(s, &top, 1) ? top.stack : NULL;
    const char *parts[] = {"cause", cause->parts[0].name};
    char fp[SS_FINGERPRINT_LEN + 1];
    ss_fingerprint(parts, 2, st, fp);
    int created;
    struct ss_finding *f = finding(res, cap, SS_RULE_FORBID_CAUSE, fp, &created);
    if (!f)
        return -ENOMEM;
    if (created) {
        place(f, p, s->tid, st);
        snprintf(f->cause, sizeof f->cause, "%s", cause->parts[0].name);
    }
    add_occurrence(f, 1, s->duration_ns, s->duration_ns);
    return 0;
}

/* Stalled time of a cause with a budget, and the stall where it took longest. */
struct cause_tally {
    uint64_t ns, stalls, worst_ns;
    const struct ss_process *process;
    const struct ss_stall *worst;
};

static void tally_causes(struct cause_tally *tally, const struct ss_check_rules *r,
                         const struct ss_process *p, const struct ss_stall *s,
                         const struct ss_stall_cause *cause)
{
    for (size_t b = 0; b < r->ncause_budgets; b++) {
        uint64_t ns = 0;
        for (size_t k = 0; k < cause->nparts; k++)
            if (ss_cause_in_list(cause->parts[k].name, r->cause_budgets[b].cause))
                ns += cause->parts[k].ns;
        if (!ns)
            continue;
        tally[b].ns += ns;
        tally[b].stalls++;
        if (ns > tally[b].worst_ns) {
            tally[b].worst_ns = ns;
            tally[b].process = p;
            tally[b].worst = s;
        }
    }
}

static int check_cause_budgets(struct ss_check_result *res, size_t *cap,
                               const struct ss_check_rules *r, const struct cause_tally *tally)
{
    for (size_t b = 0; b < r->ncause_budgets; b++) {
        const struct cause_tally *t = &tally[b];
        if (t->ns <= r->cause_budgets[b].ns)
            continue;
        struct ss_stack_count top;
        const struct ss_stack *st = ss_stall_stacks(t->worst, &top, 1) ? top.stack : NULL;
        char fp[SS_FINGERPRINT_LEN + 1];
        const char *parts[] = {"budget", r->cause_budgets[b].cause};
        ss_fingerprint(parts, 2, NULL, fp);
        int created;
        struct ss_finding *f = finding(res, cap, SS_RULE_BUDGET, fp, &created);
        if (!f)
            return -ENOMEM;
        place(f, t->process, t->worst->tid, st);
        snprintf(f->cause, sizeof f->cause, "%s", r->cause_budgets[b].cause);
        f->category = r->cause_budgets[b].cause; /* the rules outlive the findings */
        f->count = t->stalls;
        f->total_ns = t->ns;
        f->worst_ns = t->worst_ns;
        f->limit = r->cause_budgets[b].ns;
    }
    return 0;
}

static int check_stalls(struct ss_check_result *res, size_t *cap, const struct ss_check_rules *r,
                        const struct ss_process *p, struct cause_tally *tally)
{
    for (size_t i = 0; i < p->nstalls; i++) {
        const struct ss_stall *s = &p->stalls[i];
        if (!thread_in_scope(r, p, s->tid))
            continue;
        int over = r->max_stall_ns != SS_NO_LIMIT && s->duration_ns > r->max_stall_ns;
        struct ss_stall_cause cause;
        if (r->forbid_causes || r->ignore_causes || r->ncause_budgets || over)
            ss_stall_cause(p, s, &cause);
        if (r->ignore_causes && ss_cause_in_list(cause.parts[0].name, r->ignore_causes)) {
            res->ignored++;
            continue;
        }
        if (r->forbid_causes && ss_cause_in_list(cause.parts[0].name, r->forbid_causes) &&
            forbidden_cause(res, cap, p, s, &cause) < 0)
            return -ENOMEM;
        tally_causes(tally, r, p, s, &cause);
        res->stalls++;
        if (!over)
            continue;
        struct ss_stack_count top;
        const struct ss_stack *st = ss_stall_stacks(s, &top, 1) ? top.stack : NULL;
        const struct ss_stall_call *c = dominant_call(s);
        char call[128] = "", fp[SS_FINGERPRINT_LEN + 1];
        if (c)
            ss_call_normalize(c->function, call, sizeof call);
        const char *parts[] = {"stall", call};
        ss_fingerprint(parts, 2, st, fp);
        int created;
        struct ss_finding *f = finding(res, cap, SS_RULE_MAX_STALL, fp, &created);
        if (!f)
            return -ENOMEM;
        if (created) {
            place(f, p, s->tid, st);
            f->call = c ? c->function : NULL;
            f->category = c ? c->category : NULL;
            f->limit = r->max_stall_ns;
        }
        /* The finding says why its worst stall happened. */
        if (s->duration_ns >= f->worst_ns)
            snprintf(f->cause, sizeof f->cause, "%s", cause.parts[0].name);
        add_occurrence(f, 1, s->duration_ns, s->duration_ns);
    }
    for (size_t i = 0; i < p->summary.nthreads; i++) {
        const struct ss_summary_thread *t = &p->summary.threads[i];
        if (!thread_in_scope(r, p, t->tid))
            continue;
        res->stalls += t->stalls;
        res->summarised += t->stalls;
        if (r->max_stall_ns == SS_NO_LIMIT || t->max_ns <= r->max_stall_ns)
            continue;
        /* A bucket holds durations up to just below the next one's floor. */
        for (unsigned b = 0; b < SS_HIST_BUCKETS; b++)
            if (b + 1 == SS_HIST_BUCKETS || ss_hist_bucket_floor(b + 1) - 1 > r->max_stall_ns)
                res->summarised_over_limit += t->hist[b];
    }
    return 0;
}

static int check_threads(struct ss_check_result *res, size_t *cap, const struct ss_check_rules *r,
                         const struct ss_process *p)
{
    for (size_t i = 0; i < p->nthreads; i++) {
        const struct ss_thread *t = &p->threads[i];
        if (!t->loop || !thread_in_scope(r, p, t->tid))
            continue;
        res->loop_threads++;
        uint64_t p99 = ss_thread_percentile(t, 99);
        if (r->max_p99_ns == SS_NO_LIMIT || t->iterations == 0 || p99 <= r->max_p99_ns)
            continue;
        char fp[SS_FINGERPRINT_LEN + 1];
        const char *parts[] = {"p99", ss_basename(p->exe), t->name};
        ss_fingerprint(parts, 3, NULL, fp);
        int created;
        struct ss_finding *f = finding(res, cap, SS_RULE_MAX_P99, fp, &created);
        if (!f)
            return -ENOMEM;
        if (created) {
            place(f, p, t->tid, NULL);
            f->limit = r->max_p99_ns;
        }
        add_occurrence(f, 1, p99, p99);
    }
    return 0;
}

/* Blocking call sites, merged by fingerprint before any rule looks at them. */
struct site {
    char fp[SS_FINGERPRINT_LEN + 1];
    const struct ss_call_site *first;
    const struct ss_process *process;
    uint64_t count, total_ns, max_ns;
};

static int collect_sites(struct site **sites, size_t *n, size_t *cap,
                         const struct ss_check_rules *r, const struct ss_process *p,
                         size_t *in_scope)
{
    for (size_t i = 0; i < p->ncalls; i++) {
        const struct ss_call_site *c = &p->calls[i];
        if (!thread_in_scope(r, p, c->tid))
            continue;
        (*in_scope)++;
        char call[128], fp[SS_FINGERPRINT_LEN + 1];
        ss_call_normalize(c->function, call, sizeof call);
        const char *parts[] = {"call", call};
        ss_fingerprint(parts, 2, c->stack, fp);
        size_t k;
        for (k = 0; k < *n && strcmp((*sites)[k].fp, fp) != 0; k++)
            ;
        if (k == *n) {
            if (*n == *cap) {
                size_t grow = *cap ? *cap * 2 : 16;
                struct site *s = realloc(*sites, grow * sizeof *s);
                if (!s)
                    return -ENOMEM;
                *sites = s;
                *cap = grow;
            }
            (*sites)[k] = (struct site){.first = c, .process = p};
            memcpy((*sites)[k].fp, fp, sizeof fp);
            (*n)++;
        }
        struct site *s = &(*sites)[k];
        s->count += c->count;
        s->total_ns += c->total_ns;
        if (c->max_ns > s->max_ns)
            s->max_ns = c->max_ns;
        /* A stack is worth more than none for matching and for showing where. */
        if (!s->first->stack && c->stack) {
            s->first = c;
            s->process = p;
        }
    }
    return 0;
}

struct tally {
    uint64_t count, total_ns;
    const struct site *biggest;
};

static int check_sites(struct ss_check_result *res, size_t *cap, const struct ss_check_rules *r,
                       struct ss_allowlist *allow, const struct site *sites, size_t n)
{
    struct tally tally[SS_NCATEGORIES] = {{0}};
    for (size_t i = 0; i < n; i++) {
        const struct site *s = &sites[i];
        int c = category_index(s->first->category);
        if (c < 0)
            continue;
        int forbidden = (r->forbid >> c) & 1;
        int budgeted = r->budget_calls[c] != SS_NO_LIMIT || r->budget_ns[c] != SS_NO_LIMIT;
        if (!forbidden && !budgeted)
            continue;
        struct ss_allow_subject subject = {
            .rule = forbidden ? "forbid" : "budget",
            .call = s->first->function,
            .category = s->first->category,
            .fingerprint = s->fp,
            .stack = s->first->stack,
        };
        const struct ss_allow_entry *allowed = ss_allowlist_match(allow, &subject);
        if (!allowed && budgeted) {
            tally[c].count += s->count;
            tally[c].total_ns += s->total_ns;
            if (!tally[c].biggest || s->total_ns > tally[c].biggest->total_ns)
                tally[c].biggest = s;
        }
        if (!forbidden)
            continue;
        int created;
        struct ss_finding *f = finding(res, cap, SS_RULE_FORBID, s->fp, &created);
        if (!f)
            return -ENOMEM;
        place(f, s->process, s->first->tid, s->first->stack);
        f->call = s->first->function;
        f->category = s->first->category;
        f->detail = s->first->detail;
        f->allowed_by = allowed;
        add_occurrence(f, s->count, s->total_ns, s->max_ns);
    }
    for (int c = 0; c < SS_NCATEGORIES; c++) {
        const struct tally *t = &tally[c];
        int calls_over = t->count > r->budget_calls[c];
        if (!calls_over && t->total_ns <= r->budget_ns[c])
            continue;
        char fp[SS_FINGERPRINT_LEN + 1];
        const char *parts[] = {"budget", ss_category_name((unsigned)c)};
        ss_fingerprint(parts, 2, NULL, fp);
        int created;
        struct ss_finding *f = finding(res, cap, SS_RULE_BUDGET, fp, &created);
        if (!f)
            return -ENOMEM;
        place(f, t->biggest->process, t->biggest->first->tid, t->biggest->first->stack);
        f->category = ss_category_name((unsigned)c);
        f->count = t->count;
        f->total_ns = t->total_ns;
        f->worst_ns = t->biggest->total_ns;
        f->limit_is_count = calls_over;
        f->limit = calls_over ? r->budget_calls[c] : r->budget_ns[c];
        struct ss_allow_subject subject = {
            .rule = "budget", .category = f->category, .fingerprint = f->fingerprint};
        f->allowed_by = ss_allowlist_match(allow, &subject);
    }
    return 0;
}

void ss_finding_function(const struct ss_finding *f, char *buf, size_t size)
{
    int i = ss_stack_first_user_frame(f->stack);
    if (i < 0 && f->stack && f->stack->frames)
        for (i = 0; (uint32_t)i < f->stack->nframes && !f->stack->frames[i].symbol; i++)
            ;
    if (i >= 0 && f->stack && (uint32_t)i < f->stack->nframes)
        ss_frame_match_name(&f->stack->frames[i], buf, size);
    else
        snprintf(buf, size, "%s", "");
}

static void make_title(struct ss_finding *f)
{
    char fun[256], worst[32], limit[32], total[32], in[160] = "", blocked[160] = "";
    ss_finding_function(f, fun, sizeof fun);
    if (fun[0])
        snprintf(in, sizeof in, " in %.120s", fun);
    if (f->call)
        snprintf(blocked, sizeof blocked, ", blocked in %.64s()", f->call);
    ss_format_duration(f->worst_ns, worst, sizeof worst);
    ss_format_duration(f->total_ns, total, sizeof total);
    if (f->limit_is_count)
        snprintf(limit, sizeof limit, "%llu call%s", (unsigned long long)f->limit,
                 f->limit == 1 ? "" : "s");
    else
        ss_format_duration(f->limit, limit, sizeof limit);
    unsigned long long count = f->count;
    switch (f->rule) {
    case SS_RULE_MAX_STALL:
        if (count == 1)
            snprintf(f->title, sizeof f->title, "stall of %s%s%s (limit %s; cause %s)", worst, in,
                     blocked, limit, f->cause);
        else
            snprintf(f->title, sizeof f->title,
                     "%llu stalls of up to %s%s%s (limit %s; the worst's cause %s)", count, worst,
                     in, blocked, limit, f->cause);
        break;
    case SS_RULE_MAX_P99:
        snprintf(f->title, sizeof f->title,
                 "busy-time p99 of %s on loop thread %.32s of %.64s "
                 "(limit %s)",
                 worst, f->thread, ss_basename(f->process->exe), limit);
        break;
    case SS_RULE_FORBID_CAUSE:
        snprintf(f->title, sizeof f->title, "%llu stall%s caused by %s%s, the worst %s", count,
                 count == 1 ? "" : "s", f->cause, in, worst);
        break;
    case SS_RULE_FORBID:
        snprintf(f->title, sizeof f->title, "%.64s()%s: %llu %s call%s on a loop thread, %s in all",
                 f->call, in, count, f->category, count == 1 ? "" : "s", total);
        break;
    default:
        if (f->cause[0])
            snprintf(f->title, sizeof f->title,
                     "%s over budget: %s of stalled time in %llu stall%s%s (limit %s)", f->cause,
                     total, count, count == 1 ? "" : "s", in, limit);
        else if (f->limit_is_count)
            snprintf(f->title, sizeof f->title, "%s calls over budget: %llu call%s (limit %s)",
                     f->category, count, count == 1 ? "" : "s", limit);
        else
            snprintf(f->title, sizeof f->title, "%s calls over budget: %s (limit %s)", f->category,
                     total, limit);
        break;
    }
}

static int by_rule(const void *a, const void *b)
{
    const struct ss_finding *x = a, *y = b;
    if (x->rule != y->rule)
        return x->rule < y->rule ? -1 : 1;
    if (x->state != y->state)
        return x->state < y->state ? -1 : 1;
    if (x->worst_ns != y->worst_ns)
        return x->worst_ns > y->worst_ns ? -1 : 1;
    return strcmp(x->fingerprint, y->fingerprint);
}

int ss_check_run(struct ss_run *run, const struct ss_check_rules *rules,
                 struct ss_allowlist *allowlist, const struct ss_baseline *baseline,
                 struct ss_check_result *res)
{
    memset(res, 0, sizeof *res);
    res->run_path = run->path;
    res->allowlist = allowlist;
    res->has_baseline = baseline != NULL;
    res->lowest_threshold_ns = SS_NO_LIMIT;
    res->max_stall_ns = rules->max_stall_ns;
    ss_check_rules_describe(rules, res->rules, sizeof res->rules);
    res->rules_set = (rules->max_stall_ns != SS_NO_LIMIT) << SS_RULE_MAX_STALL |
                     (rules->max_p99_ns != SS_NO_LIMIT) << SS_RULE_MAX_P99 |
                     (rules->forbid != 0) << SS_RULE_FORBID |
                     (rules->forbid_causes != NULL) << SS_RULE_FORBID_CAUSE;
    for (int c = 0; c < SS_NCATEGORIES; c++)
        if (rules->budget_calls[c] != SS_NO_LIMIT || rules->budget_ns[c] != SS_NO_LIMIT)
            res->rules_set |= 1u << SS_RULE_BUDGET;
    if (rules->ncause_budgets)
        res->rules_set |= 1u << SS_RULE_BUDGET;
    struct cause_tally tally[SS_CAUSE_BUDGETS_MAX] = {{0}};
    struct site *sites = NULL;
    size_t nsites = 0, sites_cap = 0, cap = 0;
    int rc = 0;
    for (size_t i = 0; i < run->nprocs && rc == 0; i++) {
        struct ss_process *p = &run->procs[i];
        if (!process_in_scope(rules, p))
            continue;
        ss_process_symbolize(run, p);
        res->processes++;
        res->dropped += ss_drops_total(&p->drops);
        uint64_t unkept = p->drops.stalls_deleted_max_ns > p->drops.stalls_lost_max_ns
                              ? p->drops.stalls_deleted_max_ns
                              : p->drops.stalls_lost_max_ns;
        if (rules->max_stall_ns != SS_NO_LIMIT && unkept > rules->max_stall_ns) {
            res->unkept_over_limit++;
            if (unkept > res->unkept_longest_ns)
                res->unkept_longest_ns = unkept;
        }
        res->untraced += p->nuntraced;
        if (p->threshold_ns < res->lowest_threshold_ns)
            res->lowest_threshold_ns = p->threshold_ns;
        if ((rc = check_stalls(res, &cap, rules, p, tally)) < 0 ||
            (rc = check_threads(res, &cap, rules, p)) < 0)
            break;
        rc = collect_sites(&sites, &nsites, &sites_cap, rules, p, &res->call_sites);
    }
    if (rc == 0)
        rc = check_sites(res, &cap, rules, allowlist, sites, nsites);
    if (rc == 0)
        rc = check_cause_budgets(res, &cap, rules, tally);
    free(sites);
    if (rc < 0) {
        ss_check_result_free(res);
        return rc;
    }
    for (size_t i = 0; i < res->nfindings; i++) {
        struct ss_finding *f = &res->findings[i];
        if (f->rule == SS_RULE_MAX_STALL || f->rule == SS_RULE_MAX_P99 ||
            f->rule == SS_RULE_FORBID_CAUSE || (f->rule == SS_RULE_BUDGET && f->cause[0])) {
            struct ss_allow_subject subject = {
                .rule = ss_rule_name(f->rule),
                .call = f->call,
                .category = f->category,
                .fingerprint = f->fingerprint,
                .stack = f->stack,
            };
            f->allowed_by = ss_allowlist_match(allowlist, &subject);
        }
        f->state = f->allowed_by                               ? SS_FINDING_ALLOWED
                   : ss_baseline_has(baseline, f->fingerprint) ? SS_FINDING_KNOWN
                                                               : SS_FINDING_FAILED;
        res->failed += f->state == SS_FINDING_FAILED;
        res->allowed += f->state == SS_FINDING_ALLOWED;
        res->known += f->state == SS_FINDING_KNOWN;
        make_title(f);
    }
    if (res->nfindings > 1)
        qsort(res->findings, res->nfindings, sizeof *res->findings, by_rule);
    res->failed += res->unkept_over_limit;
    return 0;
}

void ss_check_result_free(struct ss_check_result *res)
{
    free(res->findings);
    res->findings = NULL;
    res->nfindings = 0;
}
