/* calls: what the tests of blocking calls share (test-calls.c, test-calls-sites.c): a run of
 * the calls fixture under `stallscope run`, loaded and symbolized, with what the fixture
 * printed of its threads and its timed calls, and the checks of its call sites against the
 * fixture's own timing. */
#ifndef TESTS_BEHAVIOUR_CALLS_H
#define TESTS_BEHAVIOUR_CALLS_H

#include <stddef.h>

#include "harness.h"
#include "model.h"

#define MS 1000000.0
/* The shim times a call inside the fixture's own timing of it, on the same clock: the slack
 * only covers the fixture printing its times rounded to the microsecond. */
#define SLACK_NS 10000.0

struct traced {
    struct harness h;
    char unavailable[256]; /* "... unavailable: why" printed by a plant that could not run */
    int loop_tid, helper_tid;
    struct harness_timed calls[64]; /* "call KEY MS TID": each planted call, timed */
    size_t ncalls;
    const struct ss_process *proc;
};

/* Runs `stallscope run OPTIONS -- FIXTURE --dir DIR ARGS` and loads its run, symbolized. */
void trace(struct traced *t, const char *fixture, const char *const *options,
           const char *const *args);
void finish(struct traced *t);

/* The function that made the call (its innermost frame), NULL without a stack. */
const char *innermost(const struct ss_call_site *c);
/* The run's call sites, one a line, for failure messages. */
const char *list_sites(const struct ss_process *p, char *buf, size_t size);

/* A planted call: the fixture's key for it and what the shim must report. */
struct expect {
    const char *key;
    const char *function; /* regex on the reported function */
    const char *category;
    const char *plant;  /* regex on the innermost frame: the function that made the call */
    const char *detail; /* regex on the site's detail, NULL for any */
};

/* Calls the fixture timed under key on thread tid: how many, their sum and their maximum. */
size_t measured(const struct traced *t, const char *key, int tid, double *sum, double *max);
/* The one call site of the loop thread that matches e, checked against the fixture's own
 * timing: same count, total and maximum no larger than measured, and for a call that waited
 * (a lock, a child, a reply) most of the wait. */
void expect_site(const struct traced *t, const struct expect *e);
/* Every call site of the run is on the loop thread and in one of the listed categories. */
void expect_only(const struct traced *t, const char *const *categories);
/* No call site at all. */
void expect_no_sites(const struct traced *t);
/* The one site of a function matching `function` made in `plant` (NULL: anywhere), NULL for
 * none. */
const struct ss_call_site *site_in(const struct traced *t, const char *function, const char *plant);

#endif
