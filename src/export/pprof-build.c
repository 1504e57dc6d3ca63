#include "export/pprof-build.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "export/gzip-out.h"
#include "export/profile.pb-c.h"
#include "stacks/flame.h"
#include "stacks/frame-names.h"
#include "util/array.h"
#include "util/hash.h"
#include "util/names.h"

/* Every reference to a string is its index in the string table, 0 being "". */
struct function {
    int64_t name, system_name, filename, start_line;
};

struct location {
    uint64_t mapping_id, address, function_id; /* ids: index + 1; 0 for none */
    int64_t line;
};

struct mapping {
    uint64_t start, limit;
    int64_t filename, build_id;
};

/* The locations of a sample's stack, innermost first, the call it was taken at included. */
struct stack {
    uint64_t *location_ids;
    size_t n;
};

struct sample {
    size_t stack;
    int64_t thread, cause, call; /* strings */
    uint32_t pid;
    int64_t stalls, ns;
};

struct ss_pprof {
    struct ss_names strings;
    struct ss_key_table function_ids, location_ids, mapping_ids, stack_ids, sample_ids;
    struct function *functions;
    struct location *locations;
    struct mapping *mappings;
    struct stack *stacks;
    struct sample *samples;
    size_t nfunctions, functions_cap, nlocations, locations_cap, nmappings, mappings_cap;
    size_t nstacks, stacks_cap, nsamples, samples_cap;
    char name[SS_FRAME_NAME_SIZE];
};

int ss_pprof_new(struct ss_pprof **out)
{
    struct ss_pprof *b = calloc(1, sizeof *b);
    if (!b)
        return -ENOMEM;
    ss_names_init(&b->strings);
    if (ss_names_add(&b->strings, "") < 0) {
        ss_pprof_free(b);
        return -ENOMEM;
    }
    *out = b;
    return 0;
}

void ss_pprof_free(struct ss_pprof *b)
{
    if (!b)
        return;
    ss_names_free(&b->strings);
    ss_key_table_free(&b->function_ids);
    ss_key_table_free(&b->location_ids);
    ss_key_table_free(&b->mapping_ids);
    ss_key_table_free(&b->stack_ids);
    ss_key_table_free(&b->sample_ids);
    for (size_t i = 0; i < b->nstacks; i++)
        free(b->stacks[i].location_ids);
    free(b->functions);
    free(b->locations);
    free(b->mappings);
    free(b->stacks);
    free(b->samples);
    free(b);
}

/* The string's index in the table; NULL is "". -ENOMEM when out of memory. */
static int64_t string_id(struct ss_pprof *b, const char *s)
{
    return s && s[0] ? ss_names_add(&b->strings, s) : 0;
}

/* Sets *id to the function's id, adding it when new. */
static int function_id(struct ss_pprof *b, const char *name, const char *system_name,
                       const char *filename, int64_t start_line, uint64_t *id)
{
    int64_t n = string_id(b, name), sys = string_id(b, system_name), file = string_id(b, filename);
    if (n < 0 || sys < 0 || file < 0)
        return -ENOMEM;
    size_t index;
    int rc = ss_key_table_get(&b->function_ids, (uint64_t)n, (uint64_t)sys, (uint64_t)file,
                              b->nfunctions, &index);
    if (rc == SS_KEY_ADDED) {
        if (SS_ARRAY_GROW(b->functions, b->functions_cap, b->nfunctions + 1) < 0)
            return -ENOMEM;
        b->functions[b->nfunctions++] = (struct function){n, sys, file, start_line};
    } else if (rc < 0) {
        return rc;
    }
    *id = index + 1;
    return 0;
}

/* A location with no address and one function, for what is not a frame of the stack: the
 * call a sample was taken at, or SS_NO_STACK_FRAME. */
static int named_location(struct ss_pprof *b, const char *name, uint64_t *id)
{
    uint64_t fid;
    size_t index;
    int rc = function_id(b, name, name, NULL, 0, &fid);
    if (rc < 0)
        return rc;
    rc = ss_key_table_get(&b->location_ids, 0, fid, 0, b->nlocations, &index);
    if (rc == SS_KEY_ADDED) {
        if (SS_ARRAY_GROW(b->locations, b->locations_cap, b->nlocations + 1) < 0)
            return -ENOMEM;
        b->locations[b->nlocations++] = (struct location){.function_id = fid};
    } else if (rc < 0) {
        return rc;
    }
    *id = index + 1;
    return 0;
}

/* The id of the mapping of the process's module m, added when new. */
static int module_mapping(struct ss_pprof *b, const struct ss_pprof_where *w, size_t m,
                          uint64_t *id)
{
    size_t index;
    int rc = ss_key_table_get(&b->mapping_ids, w->pindex, m, 0, b->nmappings, &index);
    if (rc == SS_KEY_ADDED) {
        const struct ss_module *mod = &w->p->modules[m];
        char hex[2 * sizeof mod->build_id + 1] = "";
        for (size_t i = 0; i < mod->build_id_len && i < sizeof mod->build_id; i++)
            snprintf(hex + 2 * i, 3, "%02x", mod->build_id[i]);
        int64_t path = string_id(b, mod->path), build_id = string_id(b, hex);
        if (path < 0 || build_id < 0 ||
            SS_ARRAY_GROW(b->mappings, b->mappings_cap, b->nmappings + 1) < 0)
            return -ENOMEM;
        b->mappings[b->nmappings++] = (struct mapping){mod->lo, mod->hi, path, build_id};
    } else if (rc < 0) {
        return rc;
    }
    *id = index + 1;
    return 0;
}

/* The id of the mapping of the process's module the address is in, 0 when in none. */
static int mapping_id(struct ss_pprof *b, const struct ss_pprof_where *w, uint64_t addr,
                      uint64_t *id)
{
    *id = 0;
    for (size_t m = 0; m < w->p->nmodules; m++)
        if (w->p->modules[m].lo <= addr && addr < w->p->modules[m].hi)
            return module_mapping(b, w, m, id);
    return 0;
}

int ss_pprof_main_mapping(struct ss_pprof *b, const struct ss_pprof_where *w)
{
    uint64_t id;
    for (size_t m = 0; m < w->p->nmodules && w->p->exe; m++)
        if (w->p->modules[m].path && strcmp(w->p->modules[m].path, w->p->exe) == 0)
            return module_mapping(b, w, m, &id);
    return 0;
}

/* A frame of a stack: its address in the process, the module it is in, and its function as
 * the other exports name it, with the symbol, file and line where known. */
static int frame_location(struct ss_pprof *b, const struct ss_pprof_where *w,
                          const struct ss_frame *f, uint64_t *id)
{
    size_t index;
    int rc = ss_key_table_get(&b->location_ids, (uint64_t)w->pindex + 1, f->addr, 0, b->nlocations,
                              &index);
    if (rc == SS_KEY_ADDED) {
        const struct ss_pyframe *py =
            ss_frame_is_python(f) ? ss_process_pyframe(w->p, f->addr) : NULL;
        uint64_t fid, mid = 0;
        ss_frame_display_name(f, b->name, sizeof b->name);
        rc = function_id(b, b->name, f->symbol ? f->symbol : b->name, f->file,
                         py ? py->first_line : 0, &fid);
        if (rc == 0 && !py)
            rc = mapping_id(b, w, f->addr, &mid);
        if (rc == 0 && SS_ARRAY_GROW(b->locations, b->locations_cap, b->nlocations + 1) < 0)
            rc = -ENOMEM;
        if (rc < 0)
            return rc;
        b->locations[b->nlocations++] = (struct location){mid, f->addr, fid, f->line};
    } else if (rc < 0) {
        return rc;
    }
    *id = index + 1;
    return 0;
}

/* The locations of the sample's stack, as ss_span_frames names them but innermost first. */
static int stack_locations(struct ss_pprof *b, const struct ss_pprof_where *w, struct stack *st)
{
    const struct ss_sample *smp = w->sample;
    const char *leaf = ss_sample_leaf(smp);
    size_t nframes = ss_sample_has_frames(smp) ? smp->stack->nframes : 1;
    st->location_ids = malloc((nframes + 1) * sizeof *st->location_ids);
    if (!st->location_ids)
        return -ENOMEM;
    st->n = 0;
    int rc = 0;
    if (leaf)
        rc = named_location(b, leaf, &st->location_ids[st->n++]);
    if (rc == 0 && !ss_sample_has_frames(smp))
        rc = named_location(b, SS_NO_STACK_FRAME, &st->location_ids[st->n++]);
    else if (rc == 0)
        for (size_t i = 0; i < smp->stack->nframes && rc == 0; i++)
            rc = frame_location(b, w, &smp->stack->frames[i], &st->location_ids[st->n++]);
    return rc;
}

static int stack_index(struct ss_pprof *b, const struct ss_pprof_where *w, size_t *index)
{
    const char *leaf = ss_sample_leaf(w->sample);
    int rc = ss_key_table_get(&b->stack_ids, w->pindex, (uintptr_t)w->sample->stack,
                              (uintptr_t)leaf, b->nstacks, index);
    if (rc != SS_KEY_ADDED)
        return rc;
    if (SS_ARRAY_GROW(b->stacks, b->stacks_cap, b->nstacks + 1) < 0)
        return -ENOMEM;
    struct stack *st = &b->stacks[b->nstacks++];
    return stack_locations(b, w, st);
}

int ss_pprof_add(struct ss_pprof *b, const struct ss_pprof_where *w, uint64_t ns, uint64_t stalls)
{
    size_t stack, index;
    int64_t cause = string_id(b, w->cause);
    int rc = cause < 0 ? -ENOMEM : stack_index(b, w, &stack);
    if (rc == 0)
        rc = ss_key_table_get(&b->sample_ids, stack, w->tid, (uint64_t)cause, b->nsamples, &index);
    if (rc == SS_KEY_ADDED) {
        int64_t thread = string_id(b, ss_thread_label(w->p, w->tid));
        int64_t call = string_id(b, ss_sample_leaf(w->sample));
        if (thread < 0 || call < 0 ||
            SS_ARRAY_GROW(b->samples, b->samples_cap, b->nsamples + 1) < 0)
            return -ENOMEM;
        b->samples[b->nsamples++] = (struct sample){
            .stack = stack, .thread = thread, .cause = cause, .call = call, .pid = w->p->pid};
    } else if (rc < 0) {
        return rc;
    }
    b->samples[index].stalls += (int64_t)stalls;
    b->samples[index].ns += (int64_t)ns;
    return 0;
}

/* The message's parts, in arrays of one allocation each so that they are freed at once. */
struct message {
    Perftools__Profiles__Profile profile;
    Perftools__Profiles__ValueType types[3], *type_ptrs[2];
    Perftools__Profiles__Function *functions, **function_ptrs;
    Perftools__Profiles__Location *locations, **location_ptrs;
    Perftools__Profiles__Line *lines, **line_ptrs;
    Perftools__Profiles__Mapping *mappings, **mapping_ptrs;
    Perftools__Profiles__Sample *samples, **sample_ptrs;
    Perftools__Profiles__Label *labels, **label_ptrs;
    int64_t *values;
};

static void message_free(struct message *m)
{
    free(m->functions);
    free(m->function_ptrs);
    free(m->locations);
    free(m->location_ptrs);
    free(m->lines);
    free(m->line_ptrs);
    free(m->mappings);
    free(m->mapping_ptrs);
    free(m->samples);
    free(m->sample_ptrs);
    free(m->labels);
    free(m->label_ptrs);
    free(m->values);
}

/* Labels of a sample: thread, pid, cause when known, call when taken in one. */
#define MAX_LABELS 4

static int message_alloc(struct message *m, const struct ss_pprof *b)
{
    size_t ns = b->nsamples ? b->nsamples : 1;
    m->functions = malloc((b->nfunctions + 1) * sizeof *m->functions);
    m->function_ptrs = malloc((b->nfunctions + 1) * sizeof *m->function_ptrs);
    m->locations = malloc((b->nlocations + 1) * sizeof *m->locations);
    m->location_ptrs = malloc((b->nlocations + 1) * sizeof *m->location_ptrs);
    m->lines = malloc((b->nlocations + 1) * sizeof *m->lines);
    m->line_ptrs = malloc((b->nlocations + 1) * sizeof *m->line_ptrs);
    m->mappings = malloc((b->nmappings + 1) * sizeof *m->mappings);
    m->mapping_ptrs = malloc((b->nmappings + 1) * sizeof *m->mapping_ptrs);
    m->samples = malloc(ns * sizeof *m->samples);
    m->sample_ptrs = malloc(ns * sizeof *m->sample_ptrs);
    m->labels = malloc(ns * MAX_LABELS * sizeof *m->labels);
    m->label_ptrs = malloc(ns * MAX_LABELS * sizeof *m->label_ptrs);
    m->values = malloc(ns * 2 * sizeof *m->values);
    return m->functions && m->function_ptrs && m->locations && m->location_ptrs && m->lines &&
                   m->line_ptrs && m->mappings && m->mapping_ptrs && m->samples && m->sample_ptrs &&
                   m->labels && m->label_ptrs && m->values
               ? 0
               : -ENOMEM;
}

static void fill_tables(struct message *m, const struct ss_pprof *b)
{
    for (size_t i = 0; i < b->nfunctions; i++) {
        const struct function *f = &b->functions[i];
        Perftools__Profiles__Function *out = &m->functions[i];
        *out = (Perftools__Profiles__Function)PERFTOOLS__PROFILES__FUNCTION__INIT;
        out->id = i + 1;
        out->name = f->name;
        out->system_name = f->system_name;
        out->filename = f->filename;
        out->start_line = f->start_line;
        m->function_ptrs[i] = out;
    }
    for (size_t i = 0; i < b->nlocations; i++) {
        const struct location *l = &b->locations[i];
        Perftools__Profiles__Location *out = &m->locations[i];
        m->lines[i] = (Perftools__Profiles__Line)PERFTOOLS__PROFILES__LINE__INIT;
        m->lines[i].function_id = l->function_id;
        m->lines[i].line = l->line;
        m->line_ptrs[i] = &m->lines[i];
        *out = (Perftools__Profiles__Location)PERFTOOLS__PROFILES__LOCATION__INIT;
        out->id = i + 1;
        out->mapping_id = l->mapping_id;
        out->address = l->address;
        out->n_line = 1;
        out->line = &m->line_ptrs[i];
        m->location_ptrs[i] = out;
    }
    for (size_t i = 0; i < b->nmappings; i++) {
        const struct mapping *mp = &b->mappings[i];
        Perftools__Profiles__Mapping *out = &m->mappings[i];
        *out = (Perftools__Profiles__Mapping)PERFTOOLS__PROFILES__MAPPING__INIT;
        out->id = i + 1;
        out->memory_start = mp->start;
        out->memory_limit = mp->limit;
        out->filename = mp->filename;
        out->build_id = mp->build_id;
        /* Every frame is named already: pprof is not to look for symbols again. */
        out->has_functions = out->has_filenames = out->has_line_numbers = 1;
        m->mapping_ptrs[i] = out;
    }
}

static void fill_samples(struct message *m, const struct ss_pprof *b, const int64_t keys[4])
{
    for (size_t i = 0; i < b->nsamples; i++) {
        const struct sample *s = &b->samples[i];
        Perftools__Profiles__Sample *out = &m->samples[i];
        Perftools__Profiles__Label *labels = &m->labels[i * MAX_LABELS];
        Perftools__Profiles__Label **label_ptrs = &m->label_ptrs[i * MAX_LABELS];
        *out = (Perftools__Profiles__Sample)PERFTOOLS__PROFILES__SAMPLE__INIT;
        out->n_location_id = b->stacks[s->stack].n;
        out->location_id = b->stacks[s->stack].location_ids;
        out->n_value = 2;
        out->value = &m->values[2 * i];
        out->value[0] = s->stalls;
        out->value[1] = s->ns;
        const int64_t strs[MAX_LABELS] = {s->thread, 0, s->cause, s->call};
        out->label = label_ptrs;
        for (size_t k = 0; k < MAX_LABELS; k++) {
            /* pid is the one number; the others are left out when empty. */
            if (k != 1 && strs[k] == 0)
                continue;
            Perftools__Profiles__Label *l = &labels[out->n_label];
            *l = (Perftools__Profiles__Label)PERFTOOLS__PROFILES__LABEL__INIT;
            l->key = keys[k];
            l->str = strs[k];
            l->num = k == 1 ? s->pid : 0;
            label_ptrs[out->n_label++] = l;
        }
        m->sample_ptrs[i] = out;
    }
}

int ss_pprof_write(struct ss_pprof *b, FILE *out, int64_t time_nanos, int64_t duration_nanos)
{
    /* The strings of the profile itself, added before the table is handed out. */
    const int64_t count = string_id(b, "stalls"), count_unit = string_id(b, "count");
    const int64_t stalled = string_id(b, "stalled-time"), ns_unit = string_id(b, "nanoseconds");
    const int64_t keys[MAX_LABELS] = {string_id(b, "thread"), string_id(b, "pid"),
                                      string_id(b, "cause"), string_id(b, "call")};
    if (count < 0 || count_unit < 0 || stalled < 0 || ns_unit < 0 || keys[0] < 0 || keys[1] < 0 ||
        keys[2] < 0 || keys[3] < 0)
        return -ENOMEM;
    struct message m = {0};
    int rc = message_alloc(&m, b);
    if (rc == 0) {
        fill_tables(&m, b);
        fill_samples(&m, b, keys);
        Perftools__Profiles__Profile *p = &m.profile;
        *p = (Perftools__Profiles__Profile)PERFTOOLS__PROFILES__PROFILE__INIT;
        const int64_t types[3][2] = {{count, count_unit}, {stalled, ns_unit}, {stalled, ns_unit}};
        for (size_t i = 0; i < 3; i++) {
            m.types[i] = (Perftools__Profiles__ValueType)PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
            m.types[i].type = types[i][0];
            m.types[i].unit = types[i][1];
        }
        m.type_ptrs[0] = &m.types[0];
        m.type_ptrs[1] = &m.types[1];
        p->n_sample_type = 2;
        p->sample_type = m.type_ptrs;
        p->n_sample = b->nsamples;
        p->sample = m.sample_ptrs;
        p->n_mapping = b->nmappings;
        p->mapping = m.mapping_ptrs;
        p->n_location = b->nlocations;
        p->location = m.location_ptrs;
        p->n_function = b->nfunctions;
        p->function = m.function_ptrs;
        p->n_string_table = b->strings.count;
        /* protobuf-c only reads the strings. */
        p->string_table = (char **)b->strings.names;
        p->time_nanos = time_nanos;
        p->duration_nanos = duration_nanos;
        p->period_type = &m.types[2];
        p->period = 1;
        p->default_sample_type = stalled;
        struct ss_gzip_out *g = malloc(sizeof *g);
        rc = g ? ss_gzip_out_open(g, out) : -ENOMEM;
        if (rc == 0) {
            perftools__profiles__profile__pack_to_buffer(p, &g->base);
            rc = ss_gzip_out_close(g);
        }
        free(g);
    }
    message_free(&m);
    return rc;
}
