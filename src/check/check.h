/* check: the CI gate. Rules (a longest stall, a busy-time p99 per loop thread, forbidden
 * categories of blocking calls, budgets of calls or time per category, limited to some
 * processes and threads) are applied to a loaded run; what breaks them becomes findings,
 * one per fingerprint, each either failing, allowed by an allowlist entry or known from a
 * baseline. The writers of the results (text, JUnit, SARIF, GitHub) are in check-*.c. */
#ifndef SS_CHECK_H
#define SS_CHECK_H

#include <stdint.h>
#include <stdio.h>

#include "causes/causes.h"
#include "check/allowlist.h"
#include "check/fingerprint.h"
#include "common/trace-format.h"
#include "model.h"

enum ss_rule {
    SS_RULE_MAX_STALL,
    SS_RULE_MAX_P99,
    SS_RULE_FORBID,
    SS_RULE_BUDGET,
    SS_RULE_FORBID_CAUSE,
    SS_RULE_COUNT,
};

/* "max-stall", "max-p99", "forbid", "budget", "forbid-cause": the option and rules-file key of
 * each rule. */
const char *ss_rule_name(enum ss_rule r);

#define SS__COUNT_CATEGORY(name, text) +1
#define SS_NCATEGORIES (0 SS_CATEGORIES(SS__COUNT_CATEGORY))
#define SS_NO_LIMIT UINT64_MAX
#define SS_CAUSE_BUDGETS_MAX 16

struct ss_check_rules {
    uint64_t max_stall_ns, max_p99_ns; /* SS_NO_LIMIT when unset */
    unsigned forbid;                   /* bit i: category i */
    uint64_t budget_calls[SS_NCATEGORIES], budget_ns[SS_NCATEGORIES];
    char **processes, **threads; /* fnmatch patterns; none means every one */
    size_t nprocesses, nthreads;
    char *allow, *baseline; /* file paths, NULL when unset */
    /* Causes (src/causes/causes.h) as comma-separated lists, NULL when unset: stalls of a
     * forbidden cause are findings; stalls of an ignored one count for no rule. */
    char *forbid_causes, *ignore_causes;
    /* Budgets of stalled time per cause (budget cpu:gc=500ms): at most that much in all. */
    struct ss_cause_budget {
        char cause[SS_CAUSE_NAME];
        uint64_t ns;
    } cause_budgets[SS_CAUSE_BUDGETS_MAX];
    size_t ncause_budgets;
};

void ss_check_rules_init(struct ss_check_rules *r);
void ss_check_rules_free(struct ss_check_rules *r);
/* Applies one setting, as an option ("--max-stall", "100ms") or a rules-file line gives it
 * (without the dashes). Scalars replace, lists (forbid, budget, process, thread) add.
 * Returns 0, or -EINVAL with the problem in err. */
int ss_check_rules_set(struct ss_check_rules *r, const char *key, const char *value, char *err,
                       size_t err_size);
/* Reads a rules file: "KEY VALUE" lines, '#' comments. Relative allow and baseline paths are
 * taken from the file's directory. */
int ss_check_rules_load(struct ss_check_rules *r, const char *path, char *err, size_t err_size);
/* 1 when at least one rule is set. */
int ss_check_rules_any(const struct ss_check_rules *r);
/* One line describing the rules ("max-stall 100ms; forbid file, dns"). */
void ss_check_rules_describe(const struct ss_check_rules *r, char *buf, size_t size);

enum ss_finding_state {
    SS_FINDING_FAILED,  /* breaks a rule */
    SS_FINDING_ALLOWED, /* matched an allowlist entry */
    SS_FINDING_KNOWN,   /* its fingerprint is in the baseline */
};

struct ss_finding {
    enum ss_rule rule;
    enum ss_finding_state state;
    char fingerprint[SS_FINGERPRINT_LEN + 1];
    char title[256];              /* one line: what happened */
    const char *call;             /* blocking function, NULL when none */
    const char *category;         /* its category, or the budget's */
    char cause[32];               /* forbid-cause: the stalls' cause */
    const char *detail;           /* what the call worked on; may be NULL */
    const struct ss_stack *stack; /* where, symbolized; NULL when unknown */
    /* Where it was first seen. */
    const struct ss_process *process;
    uint32_t tid;
    const char *thread;
    uint64_t count;              /* calls, stalls or threads merged into this finding */
    uint64_t total_ns, worst_ns; /* their total and the worst one (p99 for max-p99) */
    uint64_t limit;              /* ns, or calls for a budget of calls */
    int limit_is_count;
    const struct ss_allow_entry *allowed_by;
};

struct ss_check_result {
    const char *run_path;
    size_t processes, loop_threads, stalls, call_sites; /* in scope */
    /* Stalls in scope the loader summarised (their durations are known only as a histogram),
     * and how many of them may be over max-stall: they are in no finding. */
    uint64_t summarised, summarised_over_limit;
    /* Processes with a stall over max-stall that the trace does not hold (in files deleted by
     * rotation, or lost when the monitor fell behind), and the longest: no finding can name
     * it (it has no stacks), but it fails the check. */
    size_t unkept_over_limit;
    uint64_t unkept_longest_ns;
    size_t ignored; /* stalls of an ignored cause, left out of the rules on stalls */
    uint64_t dropped;
    size_t untraced; /* children in scope that ran a program the shim could not follow */
    uint64_t lowest_threshold_ns; /* of the processes in scope */
    uint64_t max_stall_ns;        /* the rule's, SS_NO_LIMIT when unset */
    struct ss_finding *findings;
    size_t nfindings;
    size_t failed, allowed, known;
    struct ss_allowlist *allowlist; /* entries with hits 0 are stale; may be NULL */
    /* Where the program's sources are (a CI workspace, the working directory): paths of
     * findings inside it are written relative to it. Set by the caller; NULL for none. */
    const char *source_root;
    char rules[256];
    unsigned rules_set; /* bit per enum ss_rule */
    int has_baseline;
};

/* Where a finding is in the program's sources: the first frame of the program that names a
 * file (JavaScript frames do). The path is relative to the result's source_root when it lies
 * inside it. Returns 0 when no frame names a file, 1 for a relative path, 2 for an absolute
 * one. */
int ss_finding_source(const struct ss_check_result *res, const struct ss_finding *f, char *path,
                      size_t size, unsigned *line, unsigned *col);
/* The name a finding goes by: its first frame of the program (or first named frame); "" when
 * it has no stack. */
void ss_finding_function(const struct ss_finding *f, char *buf, size_t size);

/* A baseline (baseline.c): fingerprints of findings accepted earlier. */
struct ss_baseline {
    char (*fingerprints)[SS_FINGERPRINT_LEN + 1];
    size_t count, capacity;
};
int ss_baseline_load(const char *path, struct ss_baseline *b, char *err, size_t err_size);
void ss_baseline_free(struct ss_baseline *b);
/* Whether the fingerprint is in the baseline (b may be NULL). */
int ss_baseline_has(const struct ss_baseline *b, const char *fp);
/* Writes the fingerprints of the findings that are not allowed, with their titles. */
int ss_baseline_write(const struct ss_check_result *res, FILE *out);

/* Applies the rules to the run. allowlist and baseline may be NULL. The result points into
 * run, rules and allowlist, which must outlive it. Returns 0 or -ENOMEM. */
int ss_check_run(struct ss_run *run, const struct ss_check_rules *rules,
                 struct ss_allowlist *allowlist, const struct ss_baseline *baseline,
                 struct ss_check_result *res);
void ss_check_result_free(struct ss_check_result *res);

/* Writers of a result, one per output format (check-text.c, check-junit.c, check-sarif.c).
 * Each returns 0, -ENOMEM, or the error of a failed write to out (ss_write_status). */
int ss_check_write_text(const struct ss_check_result *res, FILE *out);
int ss_check_write_junit(const struct ss_check_result *res, FILE *out);
int ss_check_write_sarif(const struct ss_check_result *res, FILE *out);
/* GitHub Actions workflow commands: one ::error per failing finding. */
int ss_check_write_github(const struct ss_check_result *res, FILE *out);
/* A Markdown summary, as appended to $GITHUB_STEP_SUMMARY. */
int ss_check_write_markdown(const struct ss_check_result *res, FILE *out);
/* Allowlist entries for the failing findings. */
int ss_check_write_allowlist(const struct ss_check_result *res, FILE *out);

#endif
