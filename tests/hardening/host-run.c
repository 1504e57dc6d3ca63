#define _GNU_SOURCE
#include "host-run.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const char *host_options = "threshold=50ms";
const char *host_extra_env;

void host_start(struct harness *h, const char *run, const char *const *steps)
{
    char options[900];
    harness_open(h, "host", run);
    harness_start_monitor(h);
    snprintf(options, sizeof options, "STALLSCOPE_OPTIONS=%s:monitor=%s:output=%s", host_options,
             h->monitor, h->run);
    const char *env[] = {options, host_extra_env, NULL};
    harness_start_preloaded(h, "tests/hardening/host-fixture", env, steps);
}

void run_host(struct harness *h, const char *run, const char *const *steps, int load)
{
    host_start(h, run, steps);
    harness_wait_success(h);
    if (load)
        harness_load(h);
}

int host_value(const struct harness *h, const char *key)
{
    const char *p = strstr(h->out, key);
    return p ? atoi(p + strlen(key)) : -1;
}

size_t signal_samples(const struct ss_stall *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nsamples; i++)
        n += s->samples[i].source != SS_SAMPLE_CALL;
    return n;
}

int has_note(const struct ss_process *p, const char *text)
{
    for (size_t i = 0; i < p->nnotes; i++)
        if (strstr(p->notes[i], text))
            return 1;
    return 0;
}

int host_trace_shows(const struct harness *h, int (*shows)(const struct ss_run *run),
                     unsigned tries)
{
    for (unsigned i = 0; i < tries; i++) {
        struct timespec pause = {0, 10000000};
        nanosleep(&pause, NULL);
        struct ss_run *run;
        char err[512];
        if (ss_run_load(h->run, &run, err, sizeof err) != 0)
            continue;
        int yes = shows(run);
        ss_run_free(run);
        if (yes)
            return 1;
    }
    return 0;
}

const struct ss_stall *stall_of(const struct ss_process *p, unsigned tid)
{
    const struct ss_stall *stall = NULL;
    for (size_t i = 0; i < p->nstalls; i++)
        if (p->stalls[i].tid == tid)
            stall = &p->stalls[i];
    cr_assert_not_null(stall, "thread %u has a stall", tid);
    return stall;
}
