/* vmodel: what the viewer shows of a run, built once per load and never per keypress: the rows
 * of the Stalls, Calls, Loops and Causes views in their order, frame names resolved once per stack,
 * what a search matches, and the scope a flame covers. No curses here, so all of it is tested
 * headless. */
#ifndef SSV_VMODEL_H
#define SSV_VMODEL_H

#include <stddef.h>
#include <stdint.h>

#include "causes/causes.h"
#include "model.h"
#include "util/intern.h"

/* One row of the Stalls view. */
struct ssv_vm_stall {
    struct ss_process *proc;
    const struct ss_stall *stall;
    const char *thread; /* thread name, "?" when unknown */
    const char *top;    /* innermost frame of the most frequent stack, NULL without stacks */
    const char *cause;  /* the stall's cause: its largest part (ss_stall_cause) */
    const char *call;   /* the longest interposed call caught in the stall, or NULL */
    uint64_t call_ns;
    uint32_t ncalls;
    int match;
};

/* One blocking call site: a function called from one stack, aggregated. */
struct ssv_vm_call {
    const struct ss_process *proc;
    const char *function, *category;
    uint64_t count, total_ns, max_ns;
    const struct ss_stack *stack;
    const char *site; /* innermost frame of the stack, set by ssv_vm_set_calls */
    int match;
};

/* One loop thread of the Loops view. */
struct ssv_vm_loop {
    const struct ss_process *proc;
    const struct ss_thread *thread;
    size_t nstalls; /* summarised ones included, as in stalled_ns */
    uint64_t stalled_ns, p50, p99;
    int match;
};

/* One row of the Causes view: a cause's part of the stalls kept in detail, over every process. */
#define SSV_VM_ADVICE 4
struct ssv_vm_cause {
    const char *name;
    const char *where;                 /* where it took longest, "" when nothing names it */
    const struct ss_process *proc;     /* whose stall that was */
    uint64_t ns, longest_ns;           /* in all; its longest part of one stall */
    size_t stalls;                     /* stalls it has a part in */
    const char *advice[SSV_VM_ADVICE]; /* the distinct advice for the runtimes that had it */
    size_t nadvice;
    int match;
};

enum ssv_vm_sort { SSV_VM_SORT_NEWEST, SSV_VM_SORT_LONGEST };

enum ssv_vm_scope_kind {
    SSV_VM_SCOPE_ALL,
    SSV_VM_SCOPE_PROCESS,
    SSV_VM_SCOPE_THREAD,
    SSV_VM_SCOPE_STALL
};
/* Named by ids rather than pointers so that it survives a reload of the run. */
struct ssv_vm_scope {
    enum ssv_vm_scope_kind kind;
    uint32_t pid, tid;
    uint64_t start_ns;
};

/* Frame names of a process's stacks, interned. */
struct ssv_vm_proc {
    const char ***stacks; /* [stack index]: names innermost first */
};

struct ssv_vm {
    struct ss_run *run;
    struct ss_interner names;  /* frame names, compared as pointers while a flame is built */
    struct ssv_vm_proc *procs; /* as run->procs */
    struct ssv_vm_stall *stalls;
    size_t nstalls;
    struct ssv_vm_stall **order; /* the stalls shown, in the current sort order */
    size_t nshown;               /* in order: all of them, or those with time in cause */
    char cause[SS_CAUSE_NAME];   /* the Stalls view's filter, "" for none */
    size_t ncall_stalls;         /* stalls with an interposed call caught inside */
    enum ssv_vm_sort sort;
    struct ssv_vm_loop *loops;
    size_t nloops;
    struct ssv_vm_call *calls;
    size_t ncalls;
    struct ssv_vm_cause *causes; /* the largest first */
    size_t ncauses;
    uint64_t stalled_ns; /* of the stalls kept in detail: what the causes share out */
    uint64_t max_stall_ns, max_call_ns;
    uint64_t summarised; /* stalls the loader summarised: in no row, but in the loops' totals
                            and, by stack, in the flame */
    uint64_t first_ns;   /* earliest process start (monotonic): time zero of the run */
    uint64_t last_ns;    /* latest time seen in any trace */
    size_t nmatch_stalls, nmatch_calls, nmatch_loops, nmatch_causes;
    char needle[128];
};

/* Symbolizes every process and builds all rows; takes ownership of run (freed by ssv_vm_free,
 * also on failure). Causes come from the kinds ss_run_classify gave the stacks: in a run not
 * classified, time on CPU is "unknown". Returns 0 or -1 when out of memory. */
int ssv_vm_build(struct ssv_vm *vm, struct ss_run *run);
void ssv_vm_free(struct ssv_vm *vm);

void ssv_vm_sort(struct ssv_vm *vm, enum ssv_vm_sort sort);
/* Shows in order only the stalls with a part of cause (ss_stall_cause), or, for "", all of
 * them; keeps the sort. */
void ssv_vm_filter(struct ssv_vm *vm, const char *cause);
/* Position of a stall in the current order, or -1. */
long ssv_vm_find_stall(const struct ssv_vm *vm, uint32_t pid, uint32_t tid, uint64_t start_ns);

/* Takes ownership of an array of call sites (malloc'd), names their sites and sorts them by
 * total time, longest first: ssv_vm_build hands the run's blocking calls over through this,
 * and the Calls view shows them. */
void ssv_vm_set_calls(struct ssv_vm *vm, struct ssv_vm_call *calls, size_t n);

/* Marks the rows whose frames, thread, call or function name contain needle (ignoring case),
 * and the causes whose name or place does; an empty needle clears the search. */
void ssv_vm_search(struct ssv_vm *vm, const char *needle);

/* Frame names of a stack, innermost first, or NULL. */
const char *const *ssv_vm_stack_names(const struct ssv_vm *vm, const struct ss_process *p,
                                      const struct ss_stack *s);
/* Interns a string for the lifetime of the model; NULL when out of memory. */
const char *ssv_vm_intern(struct ssv_vm *vm, const char *s);

int ssv_vm_in_scope(const struct ssv_vm_scope *sc, const struct ss_process *p,
                    const struct ss_stall *s);
/* Whether the summarised stalls of thread tid of p are in scope: in every scope but a stall's. */
int ssv_vm_summary_in_scope(const struct ssv_vm_scope *sc, const struct ss_process *p,
                            uint32_t tid);
/* "all stalls", "pid 42", "thread 43 (name) of pid 42", "stall at 12:00:01.250 on thread 43" */
void ssv_vm_scope_name(const struct ssv_vm *vm, const struct ssv_vm_scope *sc, char *buf,
                       size_t size);

/* Wall-clock time of day (HH:MM:SS.mmm, local time) of a moment of the process's monotonic
 * clock. */
void ssv_vm_clock(const struct ss_process *p, uint64_t mono_ns, char *buf, size_t size);

/* Fraction of time (0..1) the loop thread was stalled in each of nbins equal bins covering
 * [end_ns - window_ns, end_ns). */
void ssv_vm_loop_activity(const struct ssv_vm_loop *l, uint64_t end_ns, uint64_t window_ns,
                          double *bins, int nbins);

#endif
