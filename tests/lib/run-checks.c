#include "run-checks.h"

#include <criterion/criterion.h>
#include <regex.h>

static void compile(regex_t *r, const char *re)
{
    cr_assert_eq(regcomp(r, re, REG_EXTENDED | REG_NOSUB), 0, "bad regex %s", re);
}

static int named(const regex_t *r, const char *name)
{
    return name && regexec(r, name, 0, NULL, 0) == 0;
}

int run_matches(const char *re, const char *text)
{
    regex_t r;
    compile(&r, re);
    int found = named(&r, text);
    regfree(&r);
    return found;
}

int run_stack_has(const struct ss_stack *st, const char *re)
{
    regex_t r;
    compile(&r, re);
    int found = 0;
    for (uint32_t i = 0; st && i < st->nframes && !found; i++)
        found = named(&r, st->frames[i].symbol);
    regfree(&r);
    return found;
}

int run_stall_has_frames(const struct ss_stall *s, const char *inner, const char *outer)
{
    regex_t ri, ro;
    compile(&ri, inner);
    compile(&ro, outer);
    int found = 0;
    for (size_t k = 0; k < s->nsamples && !found; k++) {
        const struct ss_stack *st = s->samples[k].stack;
        for (uint32_t i = 0; st && i < st->nframes && !found; i++) {
            if (!named(&ri, st->frames[i].symbol))
                continue;
            for (uint32_t j = i + 1; j < st->nframes && !found; j++)
                found = named(&ro, st->frames[j].symbol);
        }
    }
    regfree(&ri);
    regfree(&ro);
    return found;
}

const struct ss_stall *run_only_stall(const struct ss_process *p, unsigned tid)
{
    const struct ss_stall *found = NULL;
    size_t n = 0;
    for (size_t i = 0; i < p->nstalls; i++) {
        if (p->stalls[i].tid == tid) {
            found = &p->stalls[i];
            n++;
        }
    }
    cr_assert_eq(n, 1, "expected one stall on thread %u, found %zu", tid, n);
    return found;
}

const struct ss_stall *run_stall_at_least(const struct ss_process *p, double ms)
{
    const struct ss_stall *stall = NULL;
    for (size_t i = 0; i < p->nstalls; i++)
        if (p->stalls[i].duration_ns >= (uint64_t)(ms * 1e6) &&
            (!stall || p->stalls[i].duration_ns < stall->duration_ns))
            stall = &p->stalls[i];
    return stall;
}

void run_expect_duration(const struct ss_stall *s, double measured_ms)
{
    double ms = (double)s->duration_ns / 1e6;
    cr_expect(ms >= measured_ms * 0.9 && ms <= measured_ms * 1.1,
              "stall lasted %.3f ms, the program measured %.3f ms", ms, measured_ms);
}
