/* run-builder: runs put together in memory for the viewer's tests, shaped exactly as
 * ss_run_load leaves them (symbolized, stalls in start order) and freed by ss_run_free. Frame
 * names and call names must be string literals: like symbolizer names and interned call
 * names, they are not the run's to free. Pointers returned stay valid until the next call
 * that adds the same kind of thing. */
#ifndef RUN_BUILDER_H
#define RUN_BUILDER_H

#include <stdint.h>

#include "model.h"

#define MS 1000000ull

struct ss_run *rb_run(void);
/* A process started at monotonic time 1 s, sampling every interval_ns, threshold 50 ms. */
struct ss_process *rb_process(struct ss_run *run, uint32_t pid, uint64_t interval_ns);
struct ss_thread *rb_thread(struct ss_process *p, uint32_t tid, const char *name);
/* A stack of frames named innermost first, ending with NULL. */
struct ss_stack *rb_stack(struct ss_process *p, ...);
struct ss_stall *rb_stall(struct ss_process *p, uint32_t tid, uint64_t start_ns,
                          uint64_t duration_ns);
void rb_sample(struct ss_stall *s, struct ss_stack *stack, uint64_t offset_ns);
void rb_call(struct ss_stall *s, struct ss_stack *stack, const char *call, uint64_t call_ns);
/* Stalls of thread tid the loader summarised instead of keeping: stalls of them, total_ns in
 * all (counted in p->summary.stalls too). */
void rb_summarised(struct ss_process *p, uint32_t tid, uint64_t stalls, uint64_t total_ns);
/* The spans of summarised stalls of thread tid that show stack (NULL: none captured) and, for
 * call samples, call (else NULL): spans of them, span_ns in all. */
void rb_summarised_stack(struct ss_process *p, uint32_t tid, struct ss_stack *stack,
                         const char *call, uint64_t spans, uint64_t span_ns);
/* Names the kinds of the run's stacks with the built-in cause rules, as loading a run does. */
void rb_classify(struct ss_run *run);

#endif
