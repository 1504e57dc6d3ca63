#define _GNU_SOURCE
#include "vmodel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stacks/flame.h"
#include "stacks/frames.h"
#include "util/array.h"
#include "util/intern.h"

const char *ssv_vm_intern(struct ssv_vm *vm, const char *s)
{
    return ss_intern(&vm->names, s);
}

static size_t proc_index(const struct ssv_vm *vm, const struct ss_process *p)
{
    return (size_t)(p - vm->run->procs);
}

const char *const *ssv_vm_stack_names(const struct ssv_vm *vm, const struct ss_process *p,
                                      const struct ss_stack *s)
{
    if (!s || s->index >= p->nstacks)
        return NULL;
    return vm->procs[proc_index(vm, p)].stacks[s->index];
}

static int name_stacks(struct ssv_vm *vm, size_t pi)
{
    struct ss_process *p = &vm->run->procs[pi];
    struct ssv_vm_proc *vp = &vm->procs[pi];
    if (!(vp->stacks = calloc(p->nstacks ? p->nstacks : 1, sizeof *vp->stacks)))
        return -1;
    for (size_t i = 0; i < p->nstacks; i++) {
        const struct ss_stack *s = p->stacks[i];
        const char **names = calloc(s->nframes, sizeof *names);
        if (!names)
            return -1;
        vp->stacks[i] = names;
        for (uint32_t f = 0; f < s->nframes; f++) {
            char buf[SS_FRAME_NAME_SIZE];
            if (s->frames)
                ss_frame_display_name(&s->frames[f], buf, sizeof buf);
            else
                snprintf(buf, sizeof buf, "0x%llx", (unsigned long long)s->addrs[f]);
            if (!(names[f] = ssv_vm_intern(vm, buf)))
                return -1;
        }
    }
    return 0;
}

static int describe_stall(struct ssv_vm *vm, struct ssv_vm_stall *row)
{
    const struct ss_stall *s = row->stall;
    row->thread = ss_thread_label(row->proc, s->tid);
    struct ss_stall_cause cause;
    ss_stall_cause(row->proc, s, &cause);
    if (!(row->cause = ssv_vm_intern(vm, cause.parts[0].name)))
        return -1;
    struct ss_stack_count top;
    if (ss_stall_stacks(s, &top, 1) > 0) {
        const char *const *names = ssv_vm_stack_names(vm, row->proc, top.stack);
        row->top = names ? names[0] : NULL;
    }
    for (size_t i = 0; i < s->nsamples; i++) {
        const struct ss_sample *smp = &s->samples[i];
        if (smp->source != SS_SAMPLE_CALL || !smp->call)
            continue;
        row->ncalls++;
        if (!row->call || smp->call_ns > row->call_ns) {
            row->call = smp->call;
            row->call_ns = smp->call_ns;
        }
    }
    return 0;
}

static int build_loops(struct ssv_vm *vm)
{
    struct ss_run *run = vm->run;
    size_t n = 0;
    for (size_t i = 0; i < run->nprocs; i++)
        for (size_t k = 0; k < run->procs[i].nthreads; k++)
            n += run->procs[i].threads[k].loop != 0;
    if (n && !(vm->loops = calloc(n, sizeof *vm->loops)))
        return -1;
    for (size_t i = 0; i < run->nprocs; i++) {
        const struct ss_process *p = &run->procs[i];
        size_t first = vm->nloops;
        for (size_t k = 0; k < p->nthreads; k++) {
            const struct ss_thread *t = &p->threads[k];
            if (!t->loop)
                continue;
            const struct ss_summary_thread *st = ss_summary_thread(p, t->tid);
            vm->loops[vm->nloops++] = (struct ssv_vm_loop){p,
                                                           t,
                                                           st ? st->stalls : 0,
                                                           st ? st->total_ns : 0,
                                                           ss_thread_percentile(t, 50),
                                                           ss_thread_percentile(t, 99),
                                                           0};
        }
        for (size_t k = 0; k < p->nstalls; k++) {
            for (size_t l = first; l < vm->nloops; l++) {
                if (vm->loops[l].thread->tid == p->stalls[k].tid) {
                    vm->loops[l].nstalls++;
                    vm->loops[l].stalled_ns += p->stalls[k].duration_ns;
                    break;
                }
            }
        }
    }
    return 0;
}

/* Every process's blocking call sites, for the Calls view. */
static int collect_calls(struct ssv_vm *vm)
{
    size_t n = 0, k = 0;
    for (size_t i = 0; i < vm->run->nprocs; i++)
        n += vm->run->procs[i].ncalls;
    if (n == 0)
        return 0;
    struct ssv_vm_call *calls = calloc(n, sizeof *calls);
    if (!calls)
        return -1;
    for (size_t i = 0; i < vm->run->nprocs; i++)
        for (size_t j = 0; j < vm->run->procs[i].ncalls; j++) {
            const struct ss_call_site *c = &vm->run->procs[i].calls[j];
            calls[k++] = (struct ssv_vm_call){&vm->run->procs[i], c->function, c->category,
                                              c->count,           c->total_ns, c->max_ns,
                                              c->stack,           NULL,        0};
        }
    ssv_vm_set_calls(vm, calls, n);
    return 0;
}

static int by_cause_time(const void *a, const void *b)
{
    const struct ssv_vm_cause *x = a, *y = b;
    if (x->ns != y->ns)
        return x->ns < y->ns ? 1 : -1;
    return strcmp(x->name, y->name);
}

static void add_advice(struct ssv_vm_cause *c, const char *advice)
{
    for (size_t i = 0; i < c->nadvice; i++)
        if (strcmp(c->advice[i], advice) == 0)
            return;
    if (c->nadvice < SSV_VM_ADVICE)
        c->advice[c->nadvice++] = advice;
}

/* Adds one process's time by cause to the run's. */
static int add_causes(struct ssv_vm *vm, const struct ss_process *p, size_t *cap)
{
    struct ss_cause_total totals[SS_CAUSE_TOTALS_MAX];
    size_t n = ss_process_causes(p, totals, SS_CAUSE_TOTALS_MAX);
    const char *runtime = ss_process_runtime(p);
    for (size_t i = 0; i < n; i++) {
        const struct ss_cause_total *t = &totals[i];
        size_t k;
        for (k = 0; k < vm->ncauses && strcmp(vm->causes[k].name, t->part.name) != 0; k++)
            ;
        if (k == vm->ncauses) {
            if (SS_ARRAY_GROW(vm->causes, *cap, vm->ncauses + 1) < 0)
                return -1;
            if (!(vm->causes[vm->ncauses++].name = ssv_vm_intern(vm, t->part.name)))
                return -1;
        }
        struct ssv_vm_cause *c = &vm->causes[k];
        c->ns += t->part.ns;
        c->stalls += t->stalls;
        vm->stalled_ns += t->part.ns;
        if (!c->where || t->longest_ns > c->longest_ns) {
            c->longest_ns = t->longest_ns;
            c->proc = p;
            if (!(c->where = ssv_vm_intern(vm, t->part.where)))
                return -1;
        }
        const char *advice =
            vm->run->causes ? ss_cause_advice(vm->run->causes, c->name, runtime) : NULL;
        if (advice)
            add_advice(c, advice);
    }
    return 0;
}

int ssv_vm_build(struct ssv_vm *vm, struct ss_run *run)
{
    memset(vm, 0, sizeof *vm);
    vm->run = run;
    if (!(vm->procs = calloc(run->nprocs ? run->nprocs : 1, sizeof *vm->procs)))
        goto fail;
    size_t total = 0;
    for (size_t i = 0; i < run->nprocs; i++) {
        struct ss_process *p = &run->procs[i];
        ss_process_symbolize(run, p);
        if (name_stacks(vm, i) < 0)
            goto fail;
        total += p->nstalls;
        vm->summarised += p->summary.stalls;
        if (i == 0 || p->start_mono_ns < vm->first_ns)
            vm->first_ns = p->start_mono_ns;
        if (p->last_ns > vm->last_ns)
            vm->last_ns = p->last_ns;
    }
    if (total && (!(vm->stalls = calloc(total, sizeof *vm->stalls)) ||
                  !(vm->order = malloc(total * sizeof *vm->order))))
        goto fail;
    for (size_t i = 0; i < run->nprocs; i++) {
        struct ss_process *p = &run->procs[i];
        for (size_t k = 0; k < p->nstalls; k++) {
            struct ssv_vm_stall *row = &vm->stalls[vm->nstalls];
            row->proc = p;
            row->stall = &p->stalls[k];
            if (describe_stall(vm, row) < 0)
                goto fail;
            vm->ncall_stalls += row->call != NULL;
            if (row->stall->duration_ns > vm->max_stall_ns)
                vm->max_stall_ns = row->stall->duration_ns;
            vm->order[vm->nstalls] = row;
            vm->nstalls++;
        }
    }
    vm->nshown = vm->nstalls;
    size_t cap = 0;
    for (size_t i = 0; i < run->nprocs; i++)
        if (add_causes(vm, &run->procs[i], &cap) < 0)
            goto fail;
    if (vm->ncauses > 1)
        qsort(vm->causes, vm->ncauses, sizeof *vm->causes, by_cause_time);
    if (build_loops(vm) < 0 || collect_calls(vm) < 0)
        goto fail;
    ssv_vm_sort(vm, SSV_VM_SORT_NEWEST);
    return 0;
fail:
    ssv_vm_free(vm);
    return -1;
}

void ssv_vm_free(struct ssv_vm *vm)
{
    if (vm->procs) {
        for (size_t i = 0; i < vm->run->nprocs; i++) {
            for (size_t k = 0; vm->procs[i].stacks && k < vm->run->procs[i].nstacks; k++)
                free(vm->procs[i].stacks[k]);
            free(vm->procs[i].stacks);
        }
        free(vm->procs);
    }
    ss_interner_free(&vm->names);
    free(vm->stalls);
    free(vm->order);
    free(vm->loops);
    free(vm->calls);
    free(vm->causes);
    ss_run_free(vm->run);
    memset(vm, 0, sizeof *vm);
}

static int by_newest(const void *a, const void *b)
{
    const struct ssv_vm_stall *x = *(struct ssv_vm_stall *const *)a,
                              *y = *(struct ssv_vm_stall *const *)b;
    if (x->stall->start_ns != y->stall->start_ns)
        return x->stall->start_ns < y->stall->start_ns ? 1 : -1;
    if (x->proc->pid != y->proc->pid)
        return x->proc->pid < y->proc->pid ? -1 : 1;
    return x->stall->tid < y->stall->tid ? -1 : x->stall->tid > y->stall->tid;
}

static int by_longest(const void *a, const void *b)
{
    const struct ssv_vm_stall *x = *(struct ssv_vm_stall *const *)a,
                              *y = *(struct ssv_vm_stall *const *)b;
    if (x->stall->duration_ns != y->stall->duration_ns)
        return x->stall->duration_ns < y->stall->duration_ns ? 1 : -1;
    return by_newest(a, b);
}

void ssv_vm_sort(struct ssv_vm *vm, enum ssv_vm_sort sort)
{
    vm->sort = sort;
    if (vm->nshown > 1)
        qsort(vm->order, vm->nshown, sizeof *vm->order,
              sort == SSV_VM_SORT_LONGEST ? by_longest : by_newest);
}

static int has_part(const struct ssv_vm_stall *r, const char *cause)
{
    if (strcmp(r->cause, cause) == 0)
        return 1;
    struct ss_stall_cause c;
    ss_stall_cause(r->proc, r->stall, &c);
    for (size_t i = 0; i < c.nparts; i++)
        if (strcmp(c.parts[i].name, cause) == 0)
            return 1;
    return 0;
}

void ssv_vm_filter(struct ssv_vm *vm, const char *cause)
{
    if (cause != vm->cause)
        snprintf(vm->cause, sizeof vm->cause, "%s", cause);
    vm->nshown = 0;
    for (size_t i = 0; i < vm->nstalls; i++)
        if (!vm->cause[0] || has_part(&vm->stalls[i], vm->cause))
            vm->order[vm->nshown++] = &vm->stalls[i];
    ssv_vm_sort(vm, vm->sort);
}

long ssv_vm_find_stall(const struct ssv_vm *vm, uint32_t pid, uint32_t tid, uint64_t start_ns)
{
    for (size_t i = 0; i < vm->nshown; i++) {
        const struct ssv_vm_stall *r = vm->order[i];
        if (r->stall->start_ns == start_ns && r->stall->tid == tid && r->proc->pid == pid)
            return (long)i;
    }
    return -1;
}

static int by_total(const void *a, const void *b)
{
    const struct ssv_vm_call *x = a, *y = b;
    if (x->total_ns != y->total_ns)
        return x->total_ns < y->total_ns ? 1 : -1;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return strcmp(x->function, y->function);
}

void ssv_vm_set_calls(struct ssv_vm *vm, struct ssv_vm_call *calls, size_t n)
{
    free(vm->calls);
    vm->calls = calls;
    vm->ncalls = n;
    vm->max_call_ns = 0;
    for (size_t i = 0; i < n; i++) {
        const char *const *names = ssv_vm_stack_names(vm, calls[i].proc, calls[i].stack);
        calls[i].site = names ? names[0] : NULL;
        if (calls[i].total_ns > vm->max_call_ns)
            vm->max_call_ns = calls[i].total_ns;
    }
    qsort(calls, n, sizeof *calls, by_total);
    ssv_vm_search(vm, vm->needle);
}

static int has(const char *s, const char *needle)
{
    return s && strcasestr(s, needle) != NULL;
}

static int stack_has(const struct ssv_vm *vm, const struct ss_process *p, const struct ss_stack *s,
                     const char *needle)
{
    const char *const *names = ssv_vm_stack_names(vm, p, s);
    for (uint32_t f = 0; names && f < s->nframes; f++)
        if (has(names[f], needle))
            return 1;
    return 0;
}

/* Per process, which stacks match: computed once per search, not once per sample. */
static char **match_stacks(const struct ssv_vm *vm, const char *needle)
{
    char **bits = calloc(vm->run->nprocs ? vm->run->nprocs : 1, sizeof *bits);
    for (size_t i = 0; bits && i < vm->run->nprocs; i++) {
        const struct ss_process *p = &vm->run->procs[i];
        if (!(bits[i] = calloc(p->nstacks ? p->nstacks : 1, 1)))
            continue;
        for (size_t k = 0; k < p->nstacks; k++)
            bits[i][k] = (char)stack_has(vm, p, p->stacks[k], needle);
    }
    return bits;
}

static int stall_matches(const struct ssv_vm *vm, char **bits, const struct ssv_vm_stall *r,
                         const char *needle)
{
    if (has(r->thread, needle))
        return 1;
    const char *bits_of = bits ? bits[proc_index(vm, r->proc)] : NULL;
    for (size_t i = 0; i < r->stall->nsamples; i++) {
        const struct ss_sample *s = &r->stall->samples[i];
        if (has(s->call, needle))
            return 1;
        if (s->stack &&
            (bits_of ? bits_of[s->stack->index] : stack_has(vm, r->proc, s->stack, needle)))
            return 1;
    }
    return 0;
}

void ssv_vm_search(struct ssv_vm *vm, const char *needle)
{
    if (needle != vm->needle)
        snprintf(vm->needle, sizeof vm->needle, "%s", needle);
    int on = vm->needle[0] != '\0';
    char **bits = on && vm->nstalls ? match_stacks(vm, vm->needle) : NULL;
    vm->nmatch_stalls = vm->nmatch_calls = vm->nmatch_loops = 0;
    for (size_t i = 0; i < vm->nstalls; i++) {
        struct ssv_vm_stall *r = &vm->stalls[i];
        r->match = on && stall_matches(vm, bits, r, vm->needle);
        vm->nmatch_stalls += r->match != 0;
    }
    for (size_t i = 0; i < vm->ncalls; i++) {
        struct ssv_vm_call *c = &vm->calls[i];
        c->match = on && (has(c->function, vm->needle) || has(c->category, vm->needle) ||
                          stack_has(vm, c->proc, c->stack, vm->needle));
        vm->nmatch_calls += c->match != 0;
    }
    for (size_t i = 0; i < vm->nloops; i++) {
        struct ssv_vm_loop *l = &vm->loops[i];
        l->match = on && (has(l->thread->name, vm->needle) || has(l->proc->command, vm->needle));
        vm->nmatch_loops += l->match != 0;
    }
    vm->nmatch_causes = 0;
    for (size_t i = 0; i < vm->ncauses; i++) {
        struct ssv_vm_cause *c = &vm->causes[i];
        c->match = on && (has(c->name, vm->needle) || has(c->where, vm->needle));
        vm->nmatch_causes += c->match != 0;
    }
    for (size_t i = 0; bits && i < vm->run->nprocs; i++)
        free(bits[i]);
    free(bits);
}

int ssv_vm_in_scope(const struct ssv_vm_scope *sc, const struct ss_process *p,
                    const struct ss_stall *s)
{
    switch (sc->kind) {
    case SSV_VM_SCOPE_PROCESS:
        return p->pid == sc->pid;
    case SSV_VM_SCOPE_THREAD:
        return p->pid == sc->pid && s->tid == sc->tid;
    case SSV_VM_SCOPE_STALL:
        return p->pid == sc->pid && s->tid == sc->tid && s->start_ns == sc->start_ns;
    default:
        return 1;
    }
}

int ssv_vm_summary_in_scope(const struct ssv_vm_scope *sc, const struct ss_process *p, uint32_t tid)
{
    switch (sc->kind) {
    case SSV_VM_SCOPE_PROCESS:
        return p->pid == sc->pid;
    case SSV_VM_SCOPE_THREAD:
        return p->pid == sc->pid && tid == sc->tid;
    case SSV_VM_SCOPE_STALL:
        return 0;
    default:
        return 1;
    }
}

void ssv_vm_scope_name(const struct ssv_vm *vm, const struct ssv_vm_scope *sc, char *buf,
                       size_t size)
{
    const struct ss_process *p = NULL;
    for (size_t i = 0; i < vm->run->nprocs; i++)
        if (vm->run->procs[i].pid == sc->pid)
            p = &vm->run->procs[i];
    const char *name = p ? ss_thread_label(p, sc->tid) : "?";
    char at[32];
    switch (sc->kind) {
    case SSV_VM_SCOPE_PROCESS:
        snprintf(buf, size, "pid %u", sc->pid);
        break;
    case SSV_VM_SCOPE_THREAD:
        snprintf(buf, size, "thread %u (%s) of pid %u", sc->tid, name, sc->pid);
        break;
    case SSV_VM_SCOPE_STALL:
        if (p)
            ssv_vm_clock(p, sc->start_ns, at, sizeof at);
        else
            snprintf(at, sizeof at, "?");
        snprintf(buf, size, "stall at %s on thread %u (%s)", at, sc->tid, name);
        break;
    default:
        snprintf(buf, size, "all stalls");
    }
}

void ssv_vm_clock(const struct ss_process *p, uint64_t mono_ns, char *buf, size_t size)
{
    int64_t real = (int64_t)p->start_real_ns + ((int64_t)mono_ns - (int64_t)p->start_mono_ns);
    time_t secs = (time_t)(real / 1000000000);
    struct tm tm;
    if (real < 0 || !localtime_r(&secs, &tm)) {
        snprintf(buf, size, "?");
        return;
    }
    snprintf(buf, size, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)(real % 1000000000 / 1000000));
}

void ssv_vm_loop_activity(const struct ssv_vm_loop *l, uint64_t end_ns, uint64_t window_ns,
                          double *bins, int nbins)
{
    for (int i = 0; i < nbins; i++)
        bins[i] = 0;
    if (nbins <= 0 || window_ns < (uint64_t)nbins)
        return;
    uint64_t begin = end_ns > window_ns ? end_ns - window_ns : 0, bin = window_ns / (uint64_t)nbins;
    const struct ss_process *p = l->proc;
    for (size_t k = 0; k < p->nstalls; k++) {
        const struct ss_stall *s = &p->stalls[k];
        uint64_t a = s->start_ns, b = s->start_ns + s->duration_ns;
        if (s->tid != l->thread->tid || b <= begin || a >= end_ns)
            continue;
        if (a < begin)
            a = begin;
        if (b > end_ns)
            b = end_ns;
        for (uint64_t i = (a - begin) / bin; i < (uint64_t)nbins && begin + i * bin < b; i++) {
            uint64_t lo = begin + i * bin, hi = lo + bin;
            uint64_t from = a > lo ? a : lo, to = b < hi ? b : hi;
            if (to > from)
                bins[i] += (double)(to - from) / (double)bin;
        }
    }
    for (int i = 0; i < nbins; i++)
        if (bins[i] > 1)
            bins[i] = 1;
}
