/* run-checks: what the tests ask of a loaded run, once for every test that runs a program
 * under the shim: a thread's one stall, its duration against the program's own clock, and
 * which functions its stacks pass through (names are matched with extended regexes, so that
 * a test does not depend on a compiler's suffixes such as .constprop or __poll_chk). */
#ifndef TESTS_RUN_CHECKS_H
#define TESTS_RUN_CHECKS_H

#include "model.h"

/* Whether the extended regex re matches text; a NULL text matches nothing. */
int run_matches(const char *re, const char *text);
/* Whether some frame of st (NULL: none) is named to match re. */
int run_stack_has(const struct ss_stack *st, const char *re);
/* Whether some sample of the stall has a frame matching inner and, further out, one matching
 * outer: the planted function called from its caller. */
int run_stall_has_frames(const struct ss_stall *s, const char *inner, const char *outer);
/* The one stall of thread tid; asserts there is exactly one. */
const struct ss_stall *run_only_stall(const struct ss_process *p, unsigned tid);
/* The shortest stall of the process that lasted at least ms, the time of a planted stall: that
 * stall itself, even when the machine made others; NULL when none lasted that long. */
const struct ss_stall *run_stall_at_least(const struct ss_process *p, double ms);
/* Expects the stall to have lasted what the program measured, within 10%. */
void run_expect_duration(const struct ss_stall *s, double measured_ms);

#endif
