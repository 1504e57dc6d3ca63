/* serve's tally across readings: a process read again never shows a counter lower than it
 * showed before (ss_tally_hold), and its stall series still add up to its stalls. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/tally.h"

/* A process of one loop thread "main" with the given stall series (cause, stalls, ns), ended
 * by a NULL cause. */
static struct ss_tally_process process(uint64_t iterations, const char *cause, ...)
{
    struct ss_tally_process p = {.pid = 7, .start_ns = 1};
    snprintf(p.name, sizeof p.name, "server");
    p.threads = calloc(1, sizeof *p.threads);
    cr_assert_not_null(p.threads);
    p.nthreads = 1;
    snprintf(p.threads[0].name, sizeof p.threads[0].name, "main");
    p.threads[0].loop = 1;
    p.threads[0].iterations = iterations;
    p.threads[0].hist[3] = iterations;
    va_list ap;
    va_start(ap, cause);
    for (; cause; cause = va_arg(ap, const char *)) {
        p.causes = realloc(p.causes, (p.ncauses + 1) * sizeof *p.causes);
        cr_assert_not_null(p.causes);
        struct ss_tally_cause *c = &p.causes[p.ncauses++];
        *c = (struct ss_tally_cause){.thread = 0};
        snprintf(c->cause, sizeof c->cause, "%s", cause);
        c->stalls = va_arg(ap, uint64_t);
        c->ns = va_arg(ap, uint64_t);
    }
    va_end(ap);
    return p;
}

static const struct ss_tally_cause *series(const struct ss_tally_process *p, const char *cause)
{
    for (size_t i = 0; i < p->ncauses; i++)
        if (strcmp(p->causes[i].cause, cause) == 0)
            return &p->causes[i];
    return NULL;
}

static uint64_t stalls_of(const struct ss_tally_process *p, const char *cause)
{
    const struct ss_tally_cause *c = series(p, cause);
    return c ? c->stalls : 0;
}

static uint64_t total(const struct ss_tally_process *p)
{
    uint64_t n = 0;
    for (size_t i = 0; i < p->ncauses; i++)
        n += p->causes[i].stalls;
    return n;
}

Test(tally, a_stall_summarised_since_stays_under_its_cause)
{
    struct ss_tally_process before = process(100, "cpu:code", (uint64_t)5, (uint64_t)500, NULL);
    struct ss_tally_process now =
        process(100, "cpu:code", (uint64_t)4, (uint64_t)400, SS_TALLY_CAUSE_NOT_KEPT, (uint64_t)1,
                (uint64_t)100, NULL);
    cr_assert_eq(ss_tally_hold(&now, &before), 0);
    cr_expect_eq(stalls_of(&now, "cpu:code"), 5);
    cr_expect_eq(series(&now, "cpu:code")->ns, 500);
    cr_expect_eq(stalls_of(&now, SS_TALLY_CAUSE_NOT_KEPT), 0, "counted once, where it was");
    cr_expect_eq(series(&now, SS_TALLY_CAUSE_NOT_KEPT)->ns, 0);
    cr_expect_eq(total(&now), 5);
    ss_tally_process_free(&before);
    ss_tally_process_free(&now);
}

Test(tally, new_stalls_count_beside_one_that_moved)
{
    struct ss_tally_process before =
        process(100, "cpu:code", (uint64_t)5, (uint64_t)500, SS_TALLY_CAUSE_DELETED, (uint64_t)2,
                (uint64_t)200, NULL);
    /* One cpu:code stall went with a deleted file, and two more stalls were deleted. */
    struct ss_tally_process now = process(120, "cpu:code", (uint64_t)4, (uint64_t)400,
                                          SS_TALLY_CAUSE_DELETED, (uint64_t)5, (uint64_t)500, NULL);
    cr_assert_eq(ss_tally_hold(&now, &before), 0);
    cr_expect_eq(stalls_of(&now, "cpu:code"), 5);
    cr_expect_eq(stalls_of(&now, SS_TALLY_CAUSE_DELETED), 4);
    cr_expect_eq(total(&now), 9, "the process's 9 stalls, each once");
    cr_expect_eq(now.threads[0].iterations, 120);
    ss_tally_process_free(&before);
    ss_tally_process_free(&now);
}

Test(tally, a_series_and_a_histogram_gone_from_a_reading_stay)
{
    struct ss_tally_process before = process(100, "blocked:file", (uint64_t)3, (uint64_t)300, NULL);
    /* The loop was found to be a worker's: the reader forgot its iterations and stalls. */
    struct ss_tally_process now = process(0, NULL);
    cr_assert_eq(ss_tally_hold(&now, &before), 0);
    cr_expect_eq(stalls_of(&now, "blocked:file"), 3);
    cr_expect_eq(now.threads[0].iterations, 100);
    cr_expect_eq(now.threads[0].hist[3], 100);
    ss_tally_process_free(&before);
    ss_tally_process_free(&now);
}
