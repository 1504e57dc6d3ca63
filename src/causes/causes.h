/* causes: why a stall happened. Its time is shared out among causes from the evidence the
 * trace holds: the process stopped or the machine paused (stopped), blocking calls by category
 * (blocked:file, blocked:sleep, ...), unwrapped system calls (blocked:syscall), waiting for a
 * CPU (starved), and the rest, time on CPU, among the kinds of work its samples show (cpu:json,
 * cpu:crypto, ..., cpu:code for the program's own code). Which functions mean which kind, and
 * the advice for each cause, come from data/causes.rules, built in, plus any file the user
 * adds. docs/causes.md states the rule for users. */
#ifndef SS_CAUSES_H
#define SS_CAUSES_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

struct ss_cause_rules;

/* The built-in rules. Returns 0 or a negative code with one line in err. */
int ss_cause_rules_new(struct ss_cause_rules **out, char *err, size_t err_size);
/* Adds a user's file: its frame rules are tried before the built-in ones, its advice replaces
 * theirs for the same cause and runtime. */
int ss_cause_rules_add_file(struct ss_cause_rules *r, const char *path, char *err, size_t err_size);
void ss_cause_rules_free(struct ss_cause_rules *r);

#define SS_CAUSE_NAME 32
#define SS_CAUSE_WHERE 128
#define SS_CAUSE_PARTS 8

/* One cause of a stall and the time it took. where: the function that stands for it (the
 * call, or the frame a rule matched, or the program's innermost frame), "" when none. */
struct ss_cause_part {
    char name[SS_CAUSE_NAME];
    char where[SS_CAUSE_WHERE];
    uint64_t ns;
};

/* A stall's causes, the largest first; the first is the stall's cause. A stall with no
 * evidence at all has the one part "unknown", and missing says what was missing. */
struct ss_stall_cause {
    struct ss_cause_part parts[SS_CAUSE_PARTS];
    size_t nparts;
    const char *missing;
};

/* Names the kind of work on CPU of every stack of the run (symbolizing it), before any frame
 * is hidden: the frames that tell the kind are mostly the runtime's. The run keeps the rules
 * (run->causes) for advice and frees them. Returns 0 or -ENOMEM. */
int ss_run_classify(struct ss_run *run, struct ss_cause_rules *r);
/* A stall of process p: its causes, from its records and its stacks' kinds. A call it is still
 * blocked in takes its category from the process's other calls of the same function
 * (blocked:unknown when it made none that returned). */
void ss_stall_cause(const struct ss_process *p, const struct ss_stall *s,
                    struct ss_stall_cause *out);

/* Stalled time by cause over a process's stalls kept in detail: the part's where is the one
 * of the stall where the cause took longest; stalls counts the stalls it had a part in. */
struct ss_cause_total {
    struct ss_cause_part part;
    uint64_t longest_ns;
    size_t stalls;
};
/* Causes a process's time is added up under: more than its stalls have in practice, so that
 * every output lists the same ones. */
#define SS_CAUSE_TOTALS_MAX 64
/* Up to max causes into out, the largest first; returns how many. */
size_t ss_process_causes(const struct ss_process *p, struct ss_cause_total *out, size_t max);

/* What held a stalled thread back from a CPU, as far as the trace measured it ("its cgroup's
 * CPU limit throttled the cgroup for 120ms; the hypervisor took 3ms"): 1 when there is
 * something to say, 0 otherwise. */
int ss_starved_why(const struct ss_stall *s, char *buf, size_t size);

/* The runtime a process ran, as advice is keyed: "node", "python" or "native". */
const char *ss_process_runtime(const struct ss_process *p);
/* The advice for a cause in that runtime, NULL when there is none. */
const char *ss_cause_advice(const struct ss_cause_rules *r, const char *cause, const char *runtime);

/* Whether name is a cause ("cpu:gc", "blocked:file", "starved", "stopped", "unknown") or a
 * group of them ("cpu", "blocked"). */
int ss_cause_known(const char *name);
/* Whether name ("cpu:gc", "blocked:file", "starved") is in list, a comma-separated list of
 * causes where "cpu" or "blocked" alone stands for all of its kinds. */
int ss_cause_in_list(const char *name, const char *list);

#endif
