/* remote: what the tests of the monitor's building blocks share: a fixture process started
 * on its own (never under the shim) with pipes to talk to it, perf samples taken of its
 * threads and unwound from outside, and frames named through a symbolizer fed with the
 * target's own module table. */
#ifndef TESTS_BEHAVIOUR_REMOTE_H
#define TESTS_BEHAVIOUR_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "common/trace-format.h"
#include "monitor/perf.h"
#include "monitor/target.h"
#include "monitor/thread-state.h"
#include "symbols/symbolize.h"

#define NOBODY 65534
#define PERIOD_NS 5000000ull      /* 5 ms between samples */
#define FIRST_PERIOD_NS 100000ull /* the first after 0.1 ms of CPU time */
#define MAX_SAMPLES 64

/* ---- fixtures ---- */

struct proc {
    pid_t pid, main_tid, thread_tid;
    uint64_t code; /* where the innermost function of main's chain is */
    int to_child;
    FILE *from_child;
};

/* BUILDDIR or SRCDIR (env names which, as the test driver sets it)/rel into buf. */
void path_of(char *buf, size_t len, const char *env, const char *rel);
/* Starts argv[0] with pipes on its stdin and stdout and waits for its "ready" line; a test
 * that fails before proc_stop leaves it to the suite's fini to kill. */
void proc_start(struct proc *p, const char *const argv[]);
void proc_stop(struct proc *p);
/* BUILDDIR/name MODE [LIB]. */
void start_fixture(struct proc *p, const char *name, const char *mode, const char *lib);
/* The remote fixture's library, loaded with dlopen. */
void lib_path(char *buf, size_t len);

/* ---- sampling ---- */

struct sample {
    pid_t tid;
    uint64_t time_ns, unwind_ns;
    unsigned n;
    uint64_t frames[SS_TRACE_MAX_FRAMES];
    /* The copy itself, for unwinding later. */
    struct ss_regs regs;
    uint64_t stack_base;
    size_t stack_len;
    uint8_t stack[65536];
};

struct sampler {
    struct ss_target *t; /* NULL: keep copies only, unwind later */
    struct sample *s;
    unsigned n;
};

/* Samples for a sampler, MAX_SAMPLES of them, to be freed. */
struct sample *new_samples(void);
/* Unwinds the copy of s with the target's tables, timing it. */
void unwind_sample(struct ss_target *t, struct sample *s);
/* ss_perf_drain's callback: appends the sample to the sampler (a struct sampler *),
 * unwound unless the sampler has no target. */
void on_sample(void *ctx, const struct ss_perf_sample *ps);
/* Waits up to 5 s for the event's ring to have something. */
void wait_readable(struct ss_perf *p);
/* Enables the thread's event `rounds` times, each time taking the one-shot sample and one
 * regular sample, the way the monitor will at the start of a stall. Returns the median delay
 * from enable to the first sample's time. */
double sample_rounds(struct sampler *sm, pid_t pid, pid_t tid, unsigned rounds);
void print_unwind_costs(const struct sampler *sm, const char *what);

/* ---- frames by name ---- */

struct names {
    struct ss_elf_cache *cache;
    struct ss_symbolizer *sym;
};

/* A symbolizer of the target's modules, as the monitor's readers will have them. */
void names_for(struct names *nm, struct ss_target *t);
void names_free(struct names *nm);
/* What a test of a target holds, released in order: the frame names (NULL: none were made),
 * the samples (NULL: none), the opened target, then the fixture (NULL: stopped already). */
void end_target(struct names *nm, struct sample *s, struct ss_target *t, struct proc *p);
const char *name_of(struct names *nm, uint64_t addr, struct ss_frame_info *fi);
void print_frames(struct names *nm, const uint64_t *f, unsigned n);
/* The index of the first frame from `from` named exactly name, or -1. */
int find_name(struct names *nm, const uint64_t *f, unsigned n, unsigned from, const char *name);
/* Whether the frames from the innermost are exactly want[0], want[1], ... (NULL-terminated);
 * a "*" entry stands for any one frame. */
bool starts_with(struct names *nm, const uint64_t *f, unsigned n, const char *const *want);
/* Expects starts_with, and prints the frames when not. */
void expect_chain(struct names *nm, const struct sample *s, const char *const *want);

/* The fixture's call chains, from the innermost frame: on its main thread, its second thread,
 * and through its library. */
extern const char *const main_chain[];
extern const char *const thread_chain[];
extern const char *const lib_chain[];

/* ---- modules ---- */

/* The nth module of the target whose path ends with suffix, or NULL. */
const struct ss_target_module *module_named(struct ss_target *t, const char *suffix, unsigned nth);
/* Expects the module's build-id to be the file's. */
void expect_build_id(const struct ss_target_module *m, const char *file);

#endif
