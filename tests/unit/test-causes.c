/* causes: the rules file, how a stall's time is shared among causes, the stacks' kinds and
 * where each comes from, advice and cause lists. Stacks are named as the symbolizer names the
 * frames of real runs (V8, CPython, OpenSSL, glibc). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "causes/causes.h"
#include "run-builder.h"

static struct ss_cause_rules *rules(void)
{
    struct ss_cause_rules *r;
    char err[256] = "";
    cr_assert_eq(ss_cause_rules_new(&r, err, sizeof err), 0, "%s", err);
    return r;
}

static void expect_part(const struct ss_stall_cause *c, size_t i, const char *name, uint64_t ns,
                        const char *where)
{
    cr_assert_lt(i, c->nparts, "no part %zu (want %s)", i, name);
    cr_expect_str_eq(c->parts[i].name, name);
    cr_expect_eq(c->parts[i].ns, ns, "%s: %llu ns", name, (unsigned long long)c->parts[i].ns);
    cr_expect_str_eq(c->parts[i].where, where);
}

Test(causes, the_built_in_rules_read_and_name_real_stacks)
{
    struct ss_run *run = rb_run();
    struct ss_process *p = rb_process(run, 1, 10 * MS);
    struct ss_stack *json = rb_stack(
        p, "v8::internal::StringTable::LookupKey<v8::internal::SeqSubStringKey>(v8::Isolate*)",
        "v8::internal::JsonParser<unsigned char>::ParseJsonValue<false>(v8::Handle) [clone "
        ".isra.0]",
        "v8::internal::JsonParser<unsigned char>::ParseJson(v8::Handle)",
        "v8::internal::Builtin_JsonParse(int, unsigned long*, v8::internal::Isolate*)",
        "Builtins_CEntry_Return1_ArgvOnStack_BuiltinExit", "JS:~parse /app/s.js:4:15",
        "JS:~ /app/s.js:6:21", NULL);
    struct ss_stack *crypto = rb_stack(p, "sha256_block_data_order_shaext", "SHA256_Final",
                                       "HMAC_Final", "kdf_pbkdf2_derive", "PKCS5_PBKDF2_HMAC",
                                       "node::crypto::PBKDF2Traits::DeriveBits(node::Environment*)",
                                       "JS:~hashPassword /app/s.js:2:22", NULL);
    struct ss_stack *gc_in_json =
        rb_stack(p, "gc_collect_main", "_PyObject_GC_Link", "PyDict_New", "scan_once_unicode",
                 "scanner_call", "_PyObject_MakeTpCall", NULL);
    struct ss_stack *own = rb_stack(p, "checksum_config.constprop.0", "handle_request", "main",
                                    "__libc_start_main", NULL);
    rb_classify(run);
    cr_expect_str_eq(json->cpu_kind, "json");
    cr_expect_str_eq(json->cpu_where, "v8::internal::Builtin_JsonParse in parse");
    cr_expect_str_eq(crypto->cpu_kind, "crypto");
    cr_expect_str_eq(crypto->cpu_where, "node::crypto::PBKDF2Traits::DeriveBits in hashPassword");
    cr_expect_str_eq(gc_in_json->cpu_kind, "gc", "the innermost named frame decides");
    cr_expect_str_eq(gc_in_json->cpu_where, "gc_collect_main in scan_once_unicode");
    cr_expect_str_eq(own->cpu_kind, "code");
    cr_expect_str_eq(own->cpu_where, "checksum_config");
    ss_run_free(run);
}

Test(causes, a_stall_is_shared_out_from_its_evidence)
{
    struct ss_run *run = rb_run();
    struct ss_process *p = rb_process(run, 1, 10 * MS);
    struct ss_stack *json = rb_stack(p, "v8::internal::JsonParser<unsigned char>::ParseJson",
                                     "JS:~parse /app/s.js:4:15", NULL);
    struct ss_stack *own = rb_stack(p, "handle_request", "main", NULL);
    /* 1 s: 100 ms stopped, 200 ms in read(), 50 ms waiting for a CPU, and the 650 ms left on
     * CPU shared 3 to 1 between JSON and the program by the samples' spans. */
    struct ss_stall *s = rb_stall(p, 1, 2000 * MS, 1000 * MS);
    s->stopped_ns = 100 * MS;
    s->calls = calloc(1, sizeof *s->calls);
    s->calls[0] = (struct ss_stall_call){"read", "file", 2, 200 * MS};
    s->ncalls = 1;
    s->split_window_ns = 1000 * MS;
    s->split_runnable_ns = 50 * MS;
    rb_sample(s, json, 0);
    rb_sample(s, json, 250 * MS);
    rb_sample(s, json, 500 * MS);
    rb_sample(s, own, 750 * MS);
    rb_classify(run);
    struct ss_stall_cause c;
    ss_stall_cause(p, s, &c);
    cr_assert_eq(c.nparts, 5);
    expect_part(&c, 0, "cpu:json", 487500000,
                "v8::internal::JsonParser<unsigned char>::ParseJson in parse");
    expect_part(&c, 1, "blocked:file", 200 * MS, "read");
    expect_part(&c, 2, "cpu:code", 162500000, "handle_request");
    expect_part(&c, 3, "stopped", 100 * MS, "");
    expect_part(&c, 4, "starved", 50 * MS, "");
    cr_expect_null(c.missing);

    struct ss_cause_total totals[8];
    size_t n = ss_process_causes(p, totals, 8);
    cr_assert_eq(n, 5);
    cr_expect_str_eq(totals[0].part.name, "cpu:json");
    cr_expect_eq(totals[0].stalls, 1);
    ss_run_free(run);
}

Test(causes, a_stall_without_evidence_says_what_is_missing)
{
    struct ss_run *run = rb_run();
    struct ss_process *p = rb_process(run, 1, 10 * MS);
    rb_stall(p, 1, 2000 * MS, 300 * MS);
    rb_sample(rb_stall(p, 1, 3000 * MS, 300 * MS), NULL, 100 * MS);
    const struct ss_stall *bare = &p->stalls[0], *lost = &p->stalls[1];
    rb_classify(run);
    struct ss_stall_cause c;
    ss_stall_cause(p, bare, &c);
    expect_part(&c, 0, "unknown", 300 * MS, "");
    cr_expect(strstr(c.missing, "no sample") != NULL, "%s", c.missing);
    ss_stall_cause(p, lost, &c);
    expect_part(&c, 0, "unknown", 300 * MS, "");
    cr_expect(strstr(c.missing, "named stack") != NULL, "%s", c.missing);
    ss_run_free(run);
}

Test(causes, a_users_file_comes_first_and_replaces_advice)
{
    char path[] = "/tmp/ss-causes-XXXXXX", err[256] = "";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    const char text[] = "# ours\n"
                        "cpu serialization  handle_request\n"
                        "advice cpu:json node  Use our streaming parser.\n";
    cr_assert_eq(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    struct ss_cause_rules *r = rules();
    cr_assert_eq(ss_cause_rules_add_file(r, path, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(ss_cause_advice(r, "cpu:json", "node"), "Use our streaming parser.");
    cr_expect(strstr(ss_cause_advice(r, "cpu:json", "python"), "process pool") != NULL);
    cr_expect(strstr(ss_cause_advice(r, "cpu:json", "native"), "off the loop") != NULL,
              "a runtime without its own advice gets the one for any");
    cr_expect_null(ss_cause_advice(r, "cpu:nothing-known", "node"));

    struct ss_run *run = rb_run();
    struct ss_process *p = rb_process(run, 1, 10 * MS);
    struct ss_stack *st = rb_stack(p, "handle_request", "main", NULL);
    cr_assert_eq(ss_run_classify(run, r), 0);
    cr_expect_str_eq(st->cpu_kind, "serialization");
    ss_run_free(run);

    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("cpu json\n", f);
    fclose(f);
    r = rules();
    cr_expect_eq(ss_cause_rules_add_file(r, path, err, sizeof err), -EINVAL);
    char want[300];
    snprintf(want, sizeof want, "%s:1: expected 'cpu KIND PATTERN'", path);
    cr_expect_str_eq(err, want);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("\nadvice slow:disk * Buy a faster disk.\n", f);
    fclose(f);
    cr_expect_eq(ss_cause_rules_add_file(r, path, err, sizeof err), -EINVAL);
    cr_expect(strstr(err, ":2: unknown cause 'slow:disk'") != NULL, "%s", err);
    ss_cause_rules_free(r);
    unlink(path);
}

Test(causes, lists_of_causes_and_their_groups)
{
    cr_expect(ss_cause_in_list("cpu:gc", "starved,cpu:gc"));
    cr_expect(ss_cause_in_list("cpu:gc", "cpu"));
    cr_expect(ss_cause_in_list("blocked:file", "blocked,starved"));
    cr_expect_not(ss_cause_in_list("cpu:gc", "cpu:g,blocked"));
    cr_expect_not(ss_cause_in_list("starved", "stopped,cpu"));
    cr_expect(ss_cause_known("cpu"));
    cr_expect(ss_cause_known("blocked:dns"));
    cr_expect_not(ss_cause_known("cpu:"));
    cr_expect_not(ss_cause_known("slow"));
}

Test(causes, the_runtime_of_a_process)
{
    struct ss_run *run = rb_run();
    free(rb_process(run, 1, 10 * MS)->exe);
    run->procs[0].exe = strdup("/usr/bin/node");
    free(rb_process(run, 2, 10 * MS)->exe);
    run->procs[1].exe = strdup("/usr/local/bin/python3.11");
    rb_process(run, 3, 10 * MS);
    const struct ss_process *node = &run->procs[0], *python = &run->procs[1], *c = &run->procs[2];
    cr_expect_str_eq(ss_process_runtime(node), "node");
    cr_expect_str_eq(ss_process_runtime(python), "python");
    cr_expect_str_eq(ss_process_runtime(c), "native");
    ss_run_free(run);
}

/* More causes than a stall keeps parts for: the largest still leads, and the smallest share
 * the last part, named "other". */
Test(causes, many_causes_keep_the_largest_first)
{
    struct ss_run *run = rb_run();
    struct ss_process *p = rb_process(run, 1, 10 * MS);
    struct ss_stall *s = rb_stall(p, 1, 2000 * MS, 100 * MS);
    static const char *const categories[] = {"file", "net",  "dns",   "sleep", "process",
                                             "lock", "wait", "file2", "net2",  "dns2",
                                             "x1",   "x2",   "x3",    "x4",    "x5"};
    size_t n = sizeof categories / sizeof categories[0];
    s->calls = calloc(n, sizeof *s->calls);
    for (size_t i = 0; i < n; i++)
        s->calls[i] = (struct ss_stall_call){"f", categories[i], 1, i + 1 < n ? 10 : 90 * MS};
    s->ncalls = n;
    s->stopped_ns = 5;
    rb_classify(run);
    struct ss_stall_cause c;
    ss_stall_cause(p, s, &c);
    cr_assert_eq(c.nparts, SS_CAUSE_PARTS);
    cr_expect_str_eq(c.parts[0].name, "blocked:x5");
    cr_expect_eq(c.parts[0].ns, 90 * MS);
    uint64_t sum = 0;
    for (size_t i = 0; i < c.nparts; i++)
        sum += c.parts[i].ns;
    cr_expect_eq(sum, 100 * MS, "the parts add up to the stall");
    cr_expect_str_eq(c.parts[c.nparts - 1].name, "other");
    ss_run_free(run);
}

/* A trace may say anything: shares stay within the stall and add up to it. */
Test(causes, hostile_durations_add_up)
{
    struct ss_run *run = rb_run();
    struct ss_process *p = rb_process(run, 1, 10 * MS);
    struct ss_stack *own = rb_stack(p, "handle_request", NULL);
    struct ss_stall *s = rb_stall(p, 1, 2000 * MS, UINT64_MAX);
    s->stopped_ns = UINT64_MAX - 5;
    s->machine_ns = UINT64_MAX;
    rb_sample(s, own, 0);
    rb_sample(s, own, UINT64_MAX / 2);
    rb_classify(run);
    struct ss_stall_cause c;
    ss_stall_cause(p, s, &c);
    uint64_t sum = 0;
    for (size_t i = 0; i < c.nparts; i++)
        sum += c.parts[i].ns;
    cr_expect_eq(sum, UINT64_MAX);
    cr_expect_str_eq(c.parts[0].name, "stopped");
    ss_run_free(run);
}

/* Rules name native functions: a Python or JavaScript function called inflate_template is
 * the program's own code, not zlib. */
Test(causes, rules_apply_to_native_frames_only)
{
    struct ss_run *run = rb_run();
    struct ss_process *p = rb_process(run, 1, 10 * MS);
    struct ss_stack *py = rb_stack(p, "inflate_template", "handler", NULL);
    py->frames[0].kind = SS_FRAME_INTERPRETER;
    py->frames[1].kind = SS_FRAME_INTERPRETER;
    struct ss_stack *c = rb_stack(p, "inflate_fast", "handler", NULL);
    rb_classify(run);
    cr_expect_str_eq(py->cpu_kind, "code");
    cr_expect_str_eq(c->cpu_kind, "compression");
    ss_run_free(run);
}

Test(causes, names_of_causes_are_checked)
{
    cr_expect(ss_cause_known("blocked:syscall"));
    cr_expect(ss_cause_known("blocked:unknown"));
    cr_expect_not(ss_cause_known("blocked:files"), "not a category");
    cr_expect_not(ss_cause_known("cpu:a,b"));
    cr_expect_not(ss_cause_known("cpu:JSON"));
    cr_expect_not(ss_cause_known(""));
    cr_expect(ss_cause_known("cpu:module-load"));
}

/* A wait that work of a named kind made (the collector joining its helper threads) is that
 * work's time; the program's own waits stay blocking calls. */
Test(causes, a_runtimes_own_waits_are_its_work)
{
    struct ss_run *run = rb_run();
    struct ss_process *p = rb_process(run, 1, 10 * MS);
    struct ss_stack *gc_wait =
        rb_stack(p, "v8::platform::DefaultJobState::Join", "v8::internal::Heap::CollectGarbage",
                 "JS:~collectGarbage /app/s.js:3:1", NULL);
    struct ss_stack *own_wait = rb_stack(p, "wait_for_config", "main", NULL);
    struct ss_stall *s = rb_stall(p, 1, 2000 * MS, 300 * MS);
    s->calls = calloc(2, sizeof *s->calls);
    s->calls[0] = (struct ss_stall_call){"pthread_cond_wait", "lock", 3, 200 * MS};
    s->calls[1] = (struct ss_stall_call){"pthread_mutex_lock", "lock", 1, 100 * MS};
    s->ncalls = 2;
    rb_call(s, gc_wait, "pthread_cond_wait", 200 * MS);
    rb_call(s, own_wait, "pthread_mutex_lock", 100 * MS);
    rb_classify(run);
    struct ss_stall_cause c;
    ss_stall_cause(p, s, &c);
    expect_part(&c, 0, "cpu:gc", 200 * MS, "v8::internal::Heap::CollectGarbage in collectGarbage");
    expect_part(&c, 1, "blocked:lock", 100 * MS, "pthread_mutex_lock in wait_for_config");
    ss_run_free(run);
}

/* A part is said to be where most of its time went, not where its first call was made. */
Test(causes, a_part_is_where_most_of_its_time_went)
{
    struct ss_run *run = rb_run();
    struct ss_process *p = rb_process(run, 1, 10 * MS);
    struct ss_stall *s = rb_stall(p, 1, 2000 * MS, 300 * MS);
    s->calls = calloc(3, sizeof *s->calls);
    s->calls[0] = (struct ss_stall_call){"open64", "file", 1, MS / 10};
    s->calls[1] = (struct ss_stall_call){"read", "file", 40, 150 * MS};
    s->calls[2] = (struct ss_stall_call){"close", "file", 1, 2 * MS};
    s->ncalls = 3;
    rb_classify(run);
    struct ss_stall_cause c;
    ss_stall_cause(p, s, &c);
    cr_assert_geq(c.nparts, 1);
    expect_part(&c, 0, "blocked:file", 152100000, "read");
    ss_run_free(run);
}

/* A library's static functions have no symbol: a frame of one between two frames of the
 * library is the library's, and the walk goes on to the library's entry and its caller. */
Test(causes, an_unnamed_frame_of_the_library_does_not_end_its_walk)
{
    struct ss_run *run = rb_run();
    struct ss_process *p = rb_process(run, 1, 10 * MS);
    struct ss_stack *st = rb_stack(p, "adler32_z", "read_buf", "deflate", "zlib_compress_impl",
                                   "compress_report", NULL);
    static const char libz[] = "/usr/lib/x86_64-linux-gnu/libz.so.1.2.13";
    for (int i = 0; i < 3; i++)
        st->frames[i].module = libz;
    st->frames[1].symbol = NULL;
    st->frames[3].module = "/usr/lib/python3.11/lib-dynload/zlib.cpython-311-x86_64-linux-gnu.so";
    rb_classify(run);
    cr_expect_str_eq(st->cpu_kind, "compression");
    /* The entry is CPython's zlib function, which a rule names too. */
    cr_expect_str_eq(st->cpu_where, "zlib_compress_impl in compress_report");
    ss_run_free(run);
}
