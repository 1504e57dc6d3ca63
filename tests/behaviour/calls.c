/* calls: the run of the calls fixture and the checks of its call sites (calls.h). */
#define _GNU_SOURCE
#include "calls.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "run-checks.h"

/* Runs `stallscope run OPTIONS -- FIXTURE --dir DIR ARGS` and loads its run, symbolized. */
void trace(struct traced *t, const char *fixture, const char *const *options,
           const char *const *args)
{
    char path[128], files[96];
    memset(t, 0, sizeof *t);
    snprintf(path, sizeof path, "tests/fixtures/blocking/%s", fixture);
    harness_open(&t->h, "calls", NULL);
    snprintf(files, sizeof files, "%s/files", t->h.dir);
    cr_assert_eq(mkdir(files, 0700), 0);
    const char *fixture_args[48] = {"--dir", files};
    size_t n = 2;
    for (; *args && n < 47; args++)
        fixture_args[n++] = *args;
    harness_start_run(&t->h, path, options, fixture_args);
    harness_wait_success(&t->h);
    t->loop_tid = (int)harness_sum(t->h.out, "loop");
    t->helper_tid = (int)harness_sum(t->h.out, "helper");
    const char *unavailable = strstr(t->h.out, " unavailable: ");
    if (unavailable) {
        const char *line = unavailable;
        while (line > t->h.out && line[-1] != '\n')
            line--;
        snprintf(t->unavailable, sizeof t->unavailable, "%.*s", (int)strcspn(line, "\n"), line);
    }
    t->ncalls = harness_timed(t->h.out, "call", t->calls, sizeof t->calls / sizeof t->calls[0]);
    cr_assert_gt(t->loop_tid, 0, "the fixture names its loop thread");
    harness_load(&t->h);
    cr_assert_eq(t->h.model->nprocs, 1, "children that never wait leave no trace");
    ss_process_symbolize(t->h.model, &t->h.model->procs[0]);
    t->proc = &t->h.model->procs[0];
}

void finish(struct traced *t)
{
    harness_finish(&t->h);
}

const char *innermost(const struct ss_call_site *c)
{
    return c->stack && c->stack->nframes ? c->stack->frames[0].symbol : NULL;
}

/* The run's call sites, one a line, for failure messages. */
const char *list_sites(const struct ss_process *p, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < p->ncalls && len < size; i++) {
        const struct ss_call_site *c = &p->calls[i];
        int n = snprintf(buf + len, size - len, "  %s %s() x%llu on %u in %s (%s)\n", c->category,
                         c->function, (unsigned long long)c->count, c->tid,
                         c->stack ? innermost(c) : "no stack", c->detail);
        len += n > 0 ? (size_t)n : 0;
    }
    return buf;
}

/* Calls the fixture timed under key on thread tid: how many, their sum and their maximum. */
size_t measured(const struct traced *t, const char *key, int tid, double *sum, double *max)
{
    size_t n = 0;
    *sum = *max = 0;
    for (size_t i = 0; i < t->ncalls; i++) {
        if (strcmp(t->calls[i].what, key) != 0 || (int)t->calls[i].tid != tid)
            continue;
        n++;
        *sum += t->calls[i].ms * MS;
        if (t->calls[i].ms * MS > *max)
            *max = t->calls[i].ms * MS;
    }
    return n;
}

/* The one call site of the loop thread that matches e, checked against the fixture's own
 * timing: same count, total and maximum no larger than measured, and for a call that waited
 * (a lock, a child, a reply) most of the wait. */
void expect_site(const struct traced *t, const struct expect *e)
{
    const struct ss_process *p = t->proc;
    const struct ss_call_site *site = NULL;
    size_t n = 0;
    for (size_t i = 0; i < p->ncalls; i++) {
        const struct ss_call_site *c = &p->calls[i];
        if ((int)c->tid == t->loop_tid && run_matches(e->function, c->function) &&
            run_matches(e->plant, innermost(c))) {
            site = c;
            n++;
        }
    }
    char sites[4096];
    cr_assert_eq(n, 1, "%s: expected one call site of %s made in %s, found %zu among:\n%s", e->key,
                 e->function, e->plant, n, list_sites(p, sites, sizeof sites));
    double sum, max;
    size_t count = measured(t, e->key, t->loop_tid, &sum, &max);
    cr_assert_gt(count, 0, "the fixture noted no %s", e->key);
    cr_expect_str_eq(site->category, e->category, "%s: %s()", e->key, site->function);
    cr_expect_eq(site->count, count, "%s: %s() counted %llu times, made %zu times", e->key,
                 site->function, (unsigned long long)site->count, count);
    cr_expect_leq(site->max_ns, site->total_ns);
    cr_expect_leq((double)site->max_ns, max + SLACK_NS, "%s: max %.3f ms, measured %.3f ms", e->key,
                  site->max_ns / MS, max / MS);
    cr_expect_leq((double)site->total_ns, sum + count * SLACK_NS,
                  "%s: total %.3f ms, measured %.3f ms", e->key, site->total_ns / MS, sum / MS);
    if (max >= 10 * MS)
        cr_expect_geq((double)site->max_ns, max / 2, "%s: max %.3f ms, measured %.3f ms", e->key,
                      site->max_ns / MS, max / MS);
    const struct ss_thread *th = ss_process_thread(p, (uint32_t)t->loop_tid);
    cr_assert_not_null(th);
    cr_expect_geq(site->first_ns, th->first_wait_ns, "made after the loop's first wait");
    cr_expect_leq(site->first_ns, p->last_ns);
    cr_expect(run_stack_has(site->stack, "^run_plan$"), "%s: the site's stack goes on to run_plan",
              e->key);
    if (e->detail)
        cr_expect(run_matches(e->detail, site->detail), "%s: detail \"%s\" does not match %s",
                  e->key, site->detail, e->detail);
}

/* The plans that need a child fork it on the loop thread; that fork is a blocking call of its
 * own, recorded like any other, and beside the point of those plans. */
static int plan_fork(const struct ss_call_site *c)
{
    return strcmp(c->function, "fork") == 0 && strcmp(c->category, "process") == 0 &&
           run_matches("^plant_(flock|nohang)$", innermost(c));
}

/* Every call site of the run is on the loop thread and in one of the listed categories. */
void expect_only(const struct traced *t, const char *const *categories)
{
    for (size_t i = 0; i < t->proc->ncalls; i++) {
        const struct ss_call_site *c = &t->proc->calls[i];
        if (plan_fork(c))
            continue;
        int listed = 0;
        for (const char *const *k = categories; *k && !listed; k++)
            listed = strcmp(*k, c->category) == 0;
        cr_expect((int)c->tid == t->loop_tid, "%s() recorded on thread %u, not the loop's",
                  c->function, c->tid);
        cr_expect(listed, "unexpected %s call %s() in %s (%s)", c->category, c->function,
                  innermost(c) ? innermost(c) : "?", c->detail);
    }
}

void expect_no_sites(const struct traced *t)
{
    for (size_t i = 0; i < t->proc->ncalls; i++) {
        const struct ss_call_site *c = &t->proc->calls[i];
        if (plan_fork(c))
            continue;
        cr_expect_fail("recorded %s call %s() x%llu on thread %u in %s (%s)", c->category,
                       c->function, (unsigned long long)c->count, c->tid,
                       innermost(c) ? innermost(c) : "?", c->detail);
    }
}

/* The one site of a function matching `function` made in `plant` (NULL: anywhere), NULL for
 * none. */
const struct ss_call_site *site_in(const struct traced *t, const char *function, const char *plant)
{
    const struct ss_call_site *found = NULL;
    for (size_t i = 0; i < t->proc->ncalls; i++) {
        const struct ss_call_site *c = &t->proc->calls[i];
        if (run_matches(function, c->function) && (!plant || run_matches(plant, innermost(c)))) {
            cr_expect_null(found, "two sites of %s in %s", c->function, plant);
            found = c;
        }
    }
    return found;
}
