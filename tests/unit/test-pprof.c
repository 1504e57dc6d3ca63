/* pprof export: the message as protobuf-c reads it back after gunzipping, for runs built in
 * memory: an empty run, a stall without samples, a stall's spans and labels, summarised
 * stalls, the window of ss_export_pprof_window, and a failed write. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "export/export.h"
#include "export/profile.pb-c.h"
#include "run-builder.h"

typedef Perftools__Profiles__Profile Profile;
typedef Perftools__Profiles__Sample Sample;

/* Exports the window of the run and reads the profile back. */
static Profile *export_window(struct ss_run *run, uint64_t from_ns, uint64_t to_ns)
{
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    cr_assert_eq(ss_export_pprof_window(run, f, from_ns, to_ns), 0);
    long gz_len = ftell(f);
    cr_assert_gt(gz_len, 0);
    unsigned char *gz = malloc((size_t)gz_len);
    rewind(f);
    cr_assert_eq(fread(gz, 1, (size_t)gz_len, f), (size_t)gz_len);
    fclose(f);

    size_t cap = 1 << 20;
    unsigned char *raw = malloc(cap);
    z_stream z = {.next_in = gz, .avail_in = (uInt)gz_len, .next_out = raw, .avail_out = (uInt)cap};
    cr_assert_eq(inflateInit2(&z, 15 + 16), Z_OK);
    cr_assert_eq(inflate(&z, Z_FINISH), Z_STREAM_END, "not one whole gzip stream");
    size_t len = z.total_out;
    inflateEnd(&z);
    Profile *prof = perftools__profiles__profile__unpack(NULL, len, raw);
    cr_assert_not_null(prof, "protobuf-c cannot read the message back");
    free(raw);
    free(gz);
    return prof;
}

static Profile *export_all(struct ss_run *run)
{
    return export_window(run, 0, UINT64_MAX);
}

static const char *str(const Profile *prof, int64_t i)
{
    cr_assert(i >= 0 && (size_t)i < prof->n_string_table, "string %lld", (long long)i);
    return prof->string_table[i];
}

/* The name of the function of location id. */
static const char *location_name(const Profile *prof, uint64_t id)
{
    cr_assert(id >= 1 && id <= prof->n_location);
    const Perftools__Profiles__Location *l = prof->location[id - 1];
    cr_assert_eq(l->id, id);
    cr_assert_eq(l->n_line, 1);
    uint64_t fid = l->line[0]->function_id;
    cr_assert(fid >= 1 && fid <= prof->n_function);
    return str(prof, prof->function[fid - 1]->name);
}

/* The label's text (or number, printed) of the sample, NULL when it has none. */
static const char *label(const Profile *prof, const Sample *s, const char *key)
{
    static char num[32];
    for (size_t i = 0; i < s->n_label; i++) {
        if (strcmp(str(prof, s->label[i]->key), key) != 0)
            continue;
        if (s->label[i]->str)
            return str(prof, s->label[i]->str);
        snprintf(num, sizeof num, "%lld", (long long)s->label[i]->num);
        return num;
    }
    return NULL;
}

/* The sample whose innermost location is named leaf. */
static const Sample *sample_at(const Profile *prof, const char *leaf)
{
    for (size_t i = 0; i < prof->n_sample; i++)
        if (prof->sample[i]->n_location_id &&
            strcmp(location_name(prof, prof->sample[i]->location_id[0]), leaf) == 0)
            return prof->sample[i];
    cr_assert_fail("no sample at %s", leaf);
    return NULL;
}

Test(pprof, an_empty_run_has_the_types_and_no_sample)
{
    struct ss_run *run = rb_run();
    rb_process(run, 7, 10 * MS);
    Profile *prof = export_all(run);
    cr_assert_geq(prof->n_string_table, 1);
    cr_expect_str_eq(prof->string_table[0], "");
    cr_assert_eq(prof->n_sample_type, 2);
    cr_expect_str_eq(str(prof, prof->sample_type[0]->type), "stalls");
    cr_expect_str_eq(str(prof, prof->sample_type[0]->unit), "count");
    cr_expect_str_eq(str(prof, prof->sample_type[1]->type), "stalled-time");
    cr_expect_str_eq(str(prof, prof->sample_type[1]->unit), "nanoseconds");
    cr_expect_str_eq(str(prof, prof->default_sample_type), "stalled-time");
    cr_assert_not_null(prof->period_type);
    cr_expect_str_eq(str(prof, prof->period_type->type), "stalled-time");
    cr_expect_eq(prof->period, 1);
    cr_expect_eq(prof->n_sample, 0);
    cr_expect_eq(prof->time_nanos, (int64_t)(1700000000ull * 1000000000ull));
    perftools__profiles__profile__free_unpacked(prof, NULL);
    ss_run_free(run);
}

Test(pprof, a_stall_without_samples_has_no_stack_to_go_under)
{
    struct ss_run *run = rb_run();
    struct ss_process *p = rb_process(run, 7, 10 * MS);
    rb_thread(p, 8, "loop");
    rb_stall(p, 8, 2000 * MS, 300 * MS);
    Profile *prof = export_all(run);
    cr_expect_eq(prof->n_sample, 0);
    /* From the process's start to the stall's end. */
    cr_expect_eq(prof->duration_nanos, (int64_t)(1300 * MS));
    perftools__profiles__profile__free_unpacked(prof, NULL);
    ss_run_free(run);
}

Test(pprof, spans_go_under_their_stacks_leaf_first_with_their_labels)
{
    struct ss_run *run = rb_run();
    struct ss_process *p = rb_process(run, 7, 10 * MS);
    rb_thread(p, 8, "io loop");
    struct ss_stack *spin = rb_stack(p, "checksum", "handle_request", "main", NULL);
    struct ss_stack *load = rb_stack(p, "load_config", "handle_request", "main", NULL);
    struct ss_stall *s = rb_stall(p, 8, 2000 * MS, 200 * MS);
    rb_sample(s, spin, 60 * MS);
    rb_call(s, load, "read", 80 * MS);
    rb_classify(run);
    Profile *prof = export_all(run);
    cr_assert_eq(prof->n_sample, 2);

    const Sample *cpu = sample_at(prof, "checksum");
    cr_assert_eq(cpu->n_location_id, 3);
    cr_expect_str_eq(location_name(prof, cpu->location_id[1]), "handle_request");
    cr_expect_str_eq(location_name(prof, cpu->location_id[2]), "main");
    cr_assert_eq(cpu->n_value, 2);
    cr_expect_eq(cpu->value[1], (int64_t)(120 * MS), "from the start to the call's");
    cr_expect_eq(cpu->value[0], 1, "the stall is counted under its longest span");
    cr_expect_str_eq(label(prof, cpu, "thread"), "io loop");
    cr_expect_str_eq(label(prof, cpu, "pid"), "7");
    cr_expect_null(label(prof, cpu, "call"));

    const Sample *call = sample_at(prof, "read");
    cr_assert_eq(call->n_location_id, 4, "the call, then the stack where it was made");
    cr_expect_str_eq(location_name(prof, call->location_id[1]), "load_config");
    cr_expect_eq(call->value[1], (int64_t)(80 * MS));
    cr_expect_eq(call->value[0], 0);
    cr_expect_str_eq(label(prof, call, "call"), "read");
    /* One stall, one cause: its first, for every span. */
    cr_assert_not_null(label(prof, call, "cause"));
    cr_expect_str_eq(label(prof, call, "cause"), label(prof, cpu, "cause"));

    /* A location per frame address (the builder gives each stack its own), a function per
     * name: handle_request and main are one function each. */
    cr_expect_eq(prof->n_location, 7);
    cr_expect_eq(prof->n_function, 5);
    perftools__profiles__profile__free_unpacked(prof, NULL);
    ss_run_free(run);
}

Test(pprof, summarised_stalls_count_and_weigh_without_a_cause)
{
    struct ss_run *run = rb_run();
    struct ss_process *p = rb_process(run, 7, 10 * MS);
    rb_thread(p, 8, "loop");
    struct ss_stack *spin = rb_stack(p, "spin", "main", NULL);
    rb_summarised(p, 8, 5, 900 * MS);
    rb_summarised_stack(p, 8, spin, NULL, 9, 700 * MS);
    p->summary.stacks[0].stalls = 4;
    rb_summarised_stack(p, 8, NULL, NULL, 1, 200 * MS);
    p->summary.stacks[1].stalls = 1;
    Profile *prof = export_all(run);
    cr_assert_eq(prof->n_sample, 2);
    const Sample *s = sample_at(prof, "spin");
    cr_expect_eq(s->value[0], 4);
    cr_expect_eq(s->value[1], (int64_t)(700 * MS));
    cr_expect_null(label(prof, s, "cause"));
    cr_expect_str_eq(label(prof, s, "thread"), "loop");
    const Sample *none = sample_at(prof, "[no stack]");
    cr_expect_eq(none->n_location_id, 1);
    cr_expect_eq(none->value[1], (int64_t)(200 * MS));
    perftools__profiles__profile__free_unpacked(prof, NULL);

    /* They have no start: a window leaves them out. */
    prof = export_window(run, 0, UINT64_MAX - 1);
    cr_expect_eq(prof->n_sample, 0);
    perftools__profiles__profile__free_unpacked(prof, NULL);
    ss_run_free(run);
}

Test(pprof, a_window_keeps_the_stalls_that_began_in_it)
{
    struct ss_run *run = rb_run();
    struct ss_process *p = rb_process(run, 7, 10 * MS);
    rb_thread(p, 8, "loop");
    const char *names[] = {"first", "second", "third"};
    for (int i = 0; i < 3; i++) {
        struct ss_stall *s = rb_stall(p, 8, (2000 + 1000 * (uint64_t)i) * MS, 100 * MS);
        rb_sample(s, rb_stack(p, names[i], "main", NULL), 60 * MS);
    }
    Profile *prof = export_window(run, 3000 * MS, 4000 * MS);
    cr_assert_eq(prof->n_sample, 1);
    cr_expect_not_null(sample_at(prof, "second"));
    cr_expect_eq(prof->time_nanos, (int64_t)(1700000000ull * 1000000000ull + 2000 * MS));
    cr_expect_eq(prof->duration_nanos, (int64_t)(1000 * MS));
    perftools__profiles__profile__free_unpacked(prof, NULL);
    ss_run_free(run);
}

Test(pprof, a_failed_write_is_the_streams_error)
{
    struct ss_run *run = rb_run();
    struct ss_process *p = rb_process(run, 7, 10 * MS);
    rb_thread(p, 8, "loop");
    struct ss_stall *s = rb_stall(p, 8, 2000 * MS, 100 * MS);
    rb_sample(s, rb_stack(p, "spin", "main", NULL), 60 * MS);
    FILE *full = fopen("/dev/full", "w");
    cr_assert_not_null(full);
    cr_expect_eq(ss_export_pprof(run, full), -ENOSPC);
    fclose(full);
    ss_run_free(run);
}
