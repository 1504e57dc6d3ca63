#define _GNU_SOURCE
#include "causes/causes.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/options.h"
#include "stacks/flame.h"
#include "stacks/frame-names.h"
#include "util/array.h"
#include "util/lines.h"

/* data/causes.rules as a C string, made at build time. */
static const char default_rules[] =
#include "causes-default.h"
    ;

struct frame_rule {
    char *kind, *pattern;
};

struct advice {
    char *cause, *runtime, *text;
};

struct ss_cause_rules {
    struct frame_rule *frames;
    size_t nframes, frames_cap;
    size_t user_frames; /* the first ones, from the user's files, tried first */
    struct advice *advice;
    size_t nadvice, advice_cap;
    int adding_user; /* the file being read is the user's */
};

/* The next word of *s, ended in place; *s then points past it and its spaces. */
static char *word(char **s)
{
    char *w = *s, *end = w + strcspn(w, " \t");
    *s = end + strspn(end, " \t");
    if (*end)
        *end = '\0';
    return w;
}

static int add_frame_rule(struct ss_cause_rules *r, const char *kind, const char *pattern)
{
    if (SS_ARRAY_GROW(r->frames, r->frames_cap, r->nframes + 1) < 0)
        return -ENOMEM;
    struct frame_rule fr = {strdup(kind), strdup(pattern)};
    if (!fr.kind || !fr.pattern) {
        free(fr.kind);
        free(fr.pattern);
        return -ENOMEM;
    }
    /* A user's rules go before every built-in one, in the order of the file. */
    size_t at = r->adding_user ? r->user_frames++ : r->nframes;
    memmove(&r->frames[at + 1], &r->frames[at], (r->nframes - at) * sizeof *r->frames);
    r->frames[at] = fr;
    r->nframes++;
    return 0;
}

static int add_advice(struct ss_cause_rules *r, const char *cause, const char *runtime,
                      const char *text)
{
    for (size_t i = 0; i < r->nadvice; i++) {
        struct advice *a = &r->advice[i];
        if (strcmp(a->cause, cause) == 0 && strcmp(a->runtime, runtime) == 0) {
            char *copy = strdup(text);
            if (!copy)
                return -ENOMEM;
            free(a->text);
            a->text = copy;
            return 0;
        }
    }
    if (SS_ARRAY_GROW(r->advice, r->advice_cap, r->nadvice + 1) < 0)
        return -ENOMEM;
    struct advice a = {strdup(cause), strdup(runtime), strdup(text)};
    if (!a.cause || !a.runtime || !a.text) {
        free(a.cause);
        free(a.runtime);
        free(a.text);
        return -ENOMEM;
    }
    r->advice[r->nadvice++] = a;
    return 0;
}

/* A kind of work: lower-case letters, digits, '-' and '_'. */
static int kind_name(const char *s)
{
    return *s && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-_") == strlen(s);
}

int ss_cause_known(const char *name)
{
    static const char *const plain[] = {"starved", "stopped", "page-faults",
                                        "unknown", "cpu",     "blocked"};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        if (strcmp(name, plain[i]) == 0)
            return 1;
    if (strncmp(name, "cpu:", 4) == 0)
        return kind_name(name + 4);
    if (strncmp(name, "blocked:", 8) != 0)
        return 0;
    if (strcmp(name + 8, "syscall") == 0 || strcmp(name + 8, "unknown") == 0)
        return 1;
    for (unsigned i = 0; ss_category_name(i); i++)
        if (strcmp(name + 8, ss_category_name(i)) == 0)
            return 1;
    return 0;
}

static int rule_line(void *ctx, char *line, char *why, size_t why_size)
{
    struct ss_cause_rules *r = ctx;
    char *rest = line;
    const char *verb = word(&rest);
    if (strcmp(verb, "cpu") == 0) {
        const char *kind = word(&rest), *pattern = word(&rest);
        if (!*kind || !*pattern || *rest) {
            snprintf(why, why_size, "expected 'cpu KIND PATTERN'");
            return -EINVAL;
        }
        if (strlen(kind) + 4 >= SS_CAUSE_NAME || !kind_name(kind)) {
            snprintf(why, why_size,
                     "the kind '%s' is not a short name of lower-case letters, digits, '-' "
                     "and '_'",
                     kind);
            return -EINVAL;
        }
        return add_frame_rule(r, kind, pattern);
    }
    if (strcmp(verb, "advice") == 0) {
        const char *cause = word(&rest), *runtime = word(&rest);
        if (!*cause || !*runtime || !*rest) {
            snprintf(why, why_size, "expected 'advice CAUSE RUNTIME TEXT'");
            return -EINVAL;
        }
        if (!ss_cause_known(cause) || !strcmp(cause, "cpu") || !strcmp(cause, "blocked")) {
            snprintf(why, why_size,
                     "unknown cause '%s' (cpu:KIND, blocked:CATEGORY, starved, "
                     "stopped or unknown)",
                     cause);
            return -EINVAL;
        }
        return add_advice(r, cause, runtime, rest);
    }
    snprintf(why, why_size, "unknown rule '%s' (cpu or advice)", verb);
    return -EINVAL;
}

int ss_cause_rules_new(struct ss_cause_rules **out, char *err, size_t err_size)
{
    struct ss_cause_rules *r = calloc(1, sizeof *r);
    char *text = strdup(default_rules);
    int rc = r && text ? ss_text_lines(text, "causes.rules", rule_line, r, err, err_size) : -ENOMEM;
    free(text);
    if (rc < 0) {
        if (rc == -ENOMEM)
            snprintf(err, err_size, "out of memory");
        ss_cause_rules_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

int ss_cause_rules_add_file(struct ss_cause_rules *r, const char *path, char *err, size_t err_size)
{
    r->adding_user = 1;
    int rc = ss_read_lines(path, rule_line, r, err, err_size);
    r->adding_user = 0;
    return rc;
}

void ss_cause_rules_free(struct ss_cause_rules *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nframes; i++) {
        free(r->frames[i].kind);
        free(r->frames[i].pattern);
    }
    for (size_t i = 0; i < r->nadvice; i++) {
        free(r->advice[i].cause);
        free(r->advice[i].runtime);
        free(r->advice[i].text);
    }
    free(r->frames);
    free(r->advice);
    free(r);
}

/* A stall's parts while they are added up: more than a stall keeps, so that the largest are
 * known before the smallest are folded together. */
#define WORK_PARTS 64

struct parts {
    struct ss_cause_part part[WORK_PARTS];
    uint64_t where_ns[WORK_PARTS]; /* of each part's time, what went where its `where` says */
    size_t n;
};

/* Adds ns to the part named name. Its `where` is the one given most time in one go, or in a
 * run of additions to the same where: a file read's 40 calls outweigh the open before them. */
static void add_part(struct parts *w, const char *name, const char *where, uint64_t ns)
{
    if (!ns)
        return;
    size_t i;
    for (i = 0; i < w->n && strcmp(w->part[i].name, name) != 0; i++)
        ;
    if (i == WORK_PARTS) {
        i = WORK_PARTS - 1; /* beyond any real stall: the last kinds share a part */
    } else if (i == w->n) {
        w->n++;
        snprintf(w->part[i].name, sizeof w->part[i].name, "%s", name);
        w->part[i].where[0] = '\0';
        w->where_ns[i] = 0;
    }
    w->part[i].ns += ns;
    where = where ? where : "";
    if (strcmp(w->part[i].where, where) == 0) {
        w->where_ns[i] += ns;
    } else if (ns > w->where_ns[i]) {
        snprintf(w->part[i].where, sizeof w->part[i].where, "%s", where);
        w->where_ns[i] = ns;
    }
}

/* The kind of the first rule that names the frame, NULL when none does. */
static const char *frame_kind(const struct ss_cause_rules *r, const struct ss_frame *f)
{
    /* Rules name native functions; a script's function of the same name is the program's. */
    if (f->kind != SS_FRAME_NATIVE)
        return NULL;
    char name[SS_FRAME_NAME_SIZE];
    ss_frame_match_name(f, name, sizeof name);
    for (size_t k = 0; name[0] && k < r->nframes; k++)
        if (fnmatch(r->frames[k].pattern, name, 0) == 0)
            return r->frames[k].kind;
    return NULL;
}

/* A frame without a symbol in the module of another: one of that library's static functions. */
static int unnamed_in(const struct ss_frame *f, const struct ss_frame *of)
{
    return !f->symbol && f->module && of->module && strcmp(f->module, of->module) == 0;
}

/* The kind of work on CPU a stack shows: the first frame from the innermost that a rule names
 * decides; none named is the program's own code. Where: the outermost frame of that kind before
 * another kind or the program's own code (the entry into the library), then the program's
 * frame that called it: "node::crypto::PBKDF2Traits::DeriveBits in hashPassword". */
static int classify_stack(const struct ss_cause_rules *r, struct ss_process *p, struct ss_stack *st)
{
    if (!st->frames || !st->nframes)
        return 0;
    const char *kind = NULL;
    uint32_t entry = 0, i;
    for (i = 0; i < st->nframes && !kind; i++)
        if ((kind = frame_kind(r, &st->frames[i])))
            entry = i;
    for (; kind && i < st->nframes; i++) {
        const char *k = frame_kind(r, &st->frames[i]);
        if (k && strcmp(k, kind) == 0)
            entry = i;
        else if (k || !(ss_frame_is_runtime(&st->frames[i]) ||
                        unnamed_in(&st->frames[i], &st->frames[entry])))
            break;
    }
    int caller = -1;
    for (i = kind ? entry + 1 : 0; i < st->nframes && caller < 0; i++)
        if (st->frames[i].symbol && !ss_frame_is_runtime(&st->frames[i]))
            caller = (int)i;
    char where[2 * SS_CAUSE_WHERE + 8], name[SS_CAUSE_WHERE];
    where[0] = '\0';
    if (kind)
        ss_frame_match_name(&st->frames[entry], where, sizeof where);
    if (caller >= 0) {
        ss_frame_match_name(&st->frames[caller], name, sizeof name);
        size_t len = strlen(where);
        snprintf(where + len, sizeof where - len, "%s%s", len ? " in " : "", name);
    } else if (!kind) {
        ss_frame_match_name(&st->frames[0], where, sizeof where);
    }
    st->cpu_kind = ss_intern(&p->strings, kind ? kind : "code");
    st->cpu_where = ss_intern(&p->strings, where);
    return st->cpu_kind && st->cpu_where ? 0 : -ENOMEM;
}

int ss_run_classify(struct ss_run *run, struct ss_cause_rules *r)
{
    if (run->causes != r) {
        ss_cause_rules_free(run->causes);
        run->causes = r;
    }
    for (size_t i = 0; i < run->nprocs; i++) {
        struct ss_process *p = &run->procs[i];
        ss_process_symbolize(run, p);
        for (size_t k = 0; k < p->nstacks; k++)
            if (classify_stack(r, p, p->stacks[k]) < 0)
                return -ENOMEM;
    }
    return 0;
}

static int by_time(const void *a, const void *b)
{
    const struct ss_cause_part *x = a, *y = b;
    return x->ns < y->ns ? 1 : x->ns > y->ns ? -1 : strcmp(x->name, y->name);
}

static uint64_t saturated_sum(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t take(uint64_t *left, uint64_t ns)
{
    uint64_t t = ns < *left ? ns : *left;
    *left -= t;
    return t;
}

/* The process's call site of function on thread tid (any thread when none there), or NULL. */
static const struct ss_call_site *site_of(const struct ss_process *p, uint32_t tid,
                                          const char *function)
{
    char want[64], name[64];
    const struct ss_call_site *any = NULL;
    ss_call_normalize(function, want, sizeof want);
    for (size_t i = 0; i < p->ncalls; i++) {
        ss_call_normalize(p->calls[i].function, name, sizeof name);
        if (strcmp(name, want) != 0)
            continue;
        if (p->calls[i].tid == tid)
            return &p->calls[i];
        any = any ? any : &p->calls[i];
    }
    return any;
}

/* "read (fd 21: /app/config.json) in loadConfig": the call, what it worked on when a site
 * says, and the program's function that made it when a sample of the call says. */
static void call_where(const struct ss_process *p, const struct ss_stall *s, const char *function,
                       char *buf, size_t size)
{
    const struct ss_call_site *site = site_of(p, s->tid, function);
    const char *caller = NULL;
    for (size_t i = 0; i < s->nsamples && !caller; i++) {
        const struct ss_sample *smp = &s->samples[i];
        if (smp->source == SS_SAMPLE_CALL && smp->call && strcmp(smp->call, function) == 0 &&
            smp->stack && smp->stack->cpu_where && smp->stack->cpu_where[0])
            caller = smp->stack->cpu_where;
    }
    int n = snprintf(buf, size, "%s", function);
    if (site && site->detail && site->detail[0] && n >= 0 && (size_t)n < size)
        n += snprintf(buf + n, size - (size_t)n, " (%s)", site->detail);
    if (caller && n >= 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, " in %s", caller);
}

/* The stack of a call of function made inside the stall by work of a kind the rules name (a
 * collector waiting for its helper threads, a compiler for its jobs), or NULL: the call's
 * time is then that work's, not a blocking call of the program's. */
static const struct ss_stack *kind_of_call(const struct ss_stall *s, const char *function)
{
    for (size_t i = 0; i < s->nsamples; i++) {
        const struct ss_sample *smp = &s->samples[i];
        if (smp->source == SS_SAMPLE_CALL && smp->call && smp->stack && smp->stack->cpu_kind &&
            strcmp(smp->call, function) == 0 && strcmp(smp->stack->cpu_kind, "code") != 0)
            return smp->stack;
    }
    return NULL;
}

void ss_stall_cause(const struct ss_process *p, const struct ss_stall *s, struct ss_stall_cause *c)
{
    memset(c, 0, sizeof *c);
    struct parts w = {.n = 0};
    uint64_t left = s->duration_ns;
    add_part(&w, "stopped", NULL, take(&left, saturated_sum(s->stopped_ns, s->machine_ns)));
    char name[SS_CAUSE_NAME];
    for (size_t i = 0; i < s->ncalls; i++) {
        const struct ss_stack *by = kind_of_call(s, s->calls[i].function);
        char where[SS_CAUSE_WHERE];
        if (by) {
            snprintf(name, sizeof name, "cpu:%s", by->cpu_kind);
            snprintf(where, sizeof where, "%s", by->cpu_where);
        } else {
            snprintf(name, sizeof name, "blocked:%s", s->calls[i].category);
            call_where(p, s, s->calls[i].function, where, sizeof where);
        }
        add_part(&w, name, where, take(&left, s->calls[i].duration_ns));
    }
    /* A call that has not returned is in no record but its samples: it holds the stall from
     * its start to now. */
    const struct ss_sample *hung = ss_stall_still_blocked(s);
    if (hung && hung->source == SS_SAMPLE_CALL) {
        const struct ss_call_site *site = site_of(p, s->tid, hung->call);
        char where[SS_CAUSE_WHERE];
        snprintf(name, sizeof name, "blocked:%s", site ? site->category : "unknown");
        call_where(p, s, hung->call, where, sizeof where);
        uint64_t began = hung->offset_ns > hung->call_ns ? hung->offset_ns - hung->call_ns : 0;
        add_part(&w, name, where, take(&left, s->duration_ns - began));
    }
    struct ss_span *spans = s->nsamples ? calloc(s->nsamples, sizeof *spans) : NULL;
    size_t nspans = spans ? ss_stall_spans(s, spans) : 0;
    uint64_t weighed = 0;
    for (size_t i = 0; i < nspans; i++) {
        const struct ss_sample *smp = spans[i].sample;
        uint64_t span = spans[i].end_ns - spans[i].begin_ns;
        if (smp->source == SS_SAMPLE_SYSCALL)
            add_part(&w, "blocked:syscall", smp->call,
                     take(&left, smp == hung ? s->duration_ns - spans[i].begin_ns : span));
        else if (smp->source != SS_SAMPLE_CALL && smp->stack && smp->stack->cpu_kind)
            weighed = saturated_sum(weighed, span);
    }
    if (s->split_window_ns) {
        char why[96];
        add_part(&w, "starved", ss_starved_why(s, why, sizeof why) ? why : NULL,
                 take(&left, s->split_runnable_ns));
    }
    /* Time off CPU that no call explains, in a stall that read pages in from disk, went to
     * those faults. */
    if (s->split_window_ns && s->faults_known && s->major_faults) {
        uint64_t used = saturated_sum(s->split_cpu_ns, s->split_runnable_ns), blocked = 0;
        for (size_t i = 0; i < w.n; i++)
            if (strncmp(w.part[i].name, "blocked:", 8) == 0)
                blocked += w.part[i].ns;
        uint64_t off = s->split_window_ns > used ? s->split_window_ns - used : 0;
        char where[48];
        snprintf(where, sizeof where, "%llu major faults", (unsigned long long)s->major_faults);
        add_part(&w, "page-faults", where, take(&left, off > blocked ? off - blocked : 0));
    }
    /* What is left ran on CPU: shared among the kinds its samples show, by their spans. */
    uint64_t on_cpu = left;
    for (size_t i = 0; weighed && i < nspans; i++) {
        const struct ss_sample *smp = spans[i].sample;
        if (smp->source == SS_SAMPLE_CALL || smp->source == SS_SAMPLE_SYSCALL || !smp->stack ||
            !smp->stack->cpu_kind)
            continue;
        snprintf(name, sizeof name, "cpu:%s", smp->stack->cpu_kind);
        unsigned __int128 share = (unsigned __int128)on_cpu * (spans[i].end_ns - spans[i].begin_ns);
        add_part(&w, name, smp->stack->cpu_where, take(&left, (uint64_t)(share / weighed)));
    }
    free(spans);
    if (left && !weighed) {
        add_part(&w, "unknown", NULL, left);
        c->missing = s->nsamples ? "no sample of its time on CPU has a named stack"
                                 : "no sample, and no blocking call or scheduler figure for "
                                   "most of it";
    } else if (left && w.n) {
        w.part[w.n - 1].ns += left; /* what rounding left over */
    }
    if (!w.n) {
        add_part(&w, "unknown", NULL, 1);
        w.part[0].ns = 0;
        c->missing = "the stall has no duration";
    }
    qsort(w.part, w.n, sizeof *w.part, by_time);
    /* The largest parts as they are; the others, if any, as one. */
    c->nparts = w.n <= SS_CAUSE_PARTS ? w.n : SS_CAUSE_PARTS;
    memcpy(c->parts, w.part, c->nparts * sizeof *c->parts);
    if (w.n > SS_CAUSE_PARTS) {
        struct ss_cause_part *other = &c->parts[SS_CAUSE_PARTS - 1];
        snprintf(other->name, sizeof other->name, "other");
        other->where[0] = '\0';
        for (size_t i = SS_CAUSE_PARTS; i < w.n; i++)
            other->ns += w.part[i].ns;
    }
}

static int by_total(const void *a, const void *b)
{
    const struct ss_cause_total *x = a, *y = b;
    return by_time(&x->part, &y->part);
}

size_t ss_process_causes(const struct ss_process *p, struct ss_cause_total *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < p->nstalls; i++) {
        struct ss_stall_cause c;
        ss_stall_cause(p, &p->stalls[i], &c);
        for (size_t k = 0; k < c.nparts; k++) {
            const struct ss_cause_part *part = &c.parts[k];
            size_t t;
            for (t = 0; t < n && strcmp(out[t].part.name, part->name) != 0; t++)
                ;
            if (t == n) {
                if (n == max)
                    continue;
                memset(&out[n++], 0, sizeof *out);
                snprintf(out[t].part.name, sizeof out[t].part.name, "%s", part->name);
            }
            out[t].part.ns += part->ns;
            out[t].stalls++;
            if (part->ns > out[t].longest_ns) {
                out[t].longest_ns = part->ns;
                memcpy(out[t].part.where, part->where, sizeof out[t].part.where);
            }
        }
    }
    qsort(out, n, sizeof *out, by_total);
    return n;
}

int ss_starved_why(const struct ss_stall *s, char *buf, size_t size)
{
    char held[32], stolen[32];
    int throttled = s->throttled_known && s->throttled_ns >= 1000000;
    /* Steal is the whole machine's: worth naming when it is a fair part of this wait. */
    int steal = s->steal_known && s->steal_ns >= 1000000 && s->steal_ns >= s->split_runnable_ns / 4;
    ss_format_duration(s->throttled_ns, held, sizeof held);
    ss_format_duration(s->steal_ns, stolen, sizeof stolen);
    if (throttled && steal)
        snprintf(buf, size,
                 "its cgroup's CPU limit throttled the cgroup for %s; the hypervisor took %s", held,
                 stolen);
    else if (throttled)
        snprintf(buf, size, "its cgroup's CPU limit throttled the cgroup for %s", held);
    else if (steal)
        snprintf(buf, size, "the hypervisor took %s", stolen);
    return throttled || steal;
}

const char *ss_process_runtime(const struct ss_process *p)
{
    const char *exe = p->exe ? ss_basename(p->exe) : "";
    if (strncmp(exe, "node", 4) == 0)
        return "node";
    if (strncmp(exe, "python", 6) == 0)
        return "python";
    for (size_t i = 0; i < p->nmodules; i++) {
        const char *m = ss_basename(p->modules[i].path);
        if (strncmp(m, "libnode.so", 10) == 0)
            return "node";
        if (strncmp(m, "libpython", 9) == 0)
            return "python";
    }
    return "native";
}

const char *ss_cause_advice(const struct ss_cause_rules *r, const char *cause, const char *runtime)
{
    const char *any = NULL;
    for (size_t i = 0; i < r->nadvice; i++) {
        const struct advice *a = &r->advice[i];
        if (strcmp(a->cause, cause) != 0)
            continue;
        if (strcmp(a->runtime, runtime) == 0)
            return a->text;
        if (strcmp(a->runtime, "*") == 0)
            any = a->text;
    }
    return any;
}

int ss_cause_in_list(const char *name, const char *list)
{
    size_t n = strlen(name), group = strcspn(name, ":");
    for (const char *s = list; *s;) {
        size_t len = strcspn(s, ",");
        if ((len == n && strncmp(s, name, n) == 0) ||
            (name[group] && len == group && strncmp(s, name, group) == 0))
            return 1;
        s += len + (s[len] == ',');
    }
    return 0;
}
