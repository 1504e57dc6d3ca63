/* Options and durations as STALLSCOPE_OPTIONS and the CLI read them. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/options.h"

static uint64_t duration(const char *s, int *rc)
{
    uint64_t ns = 0;
    *rc = ss_parse_duration(s, strlen(s), &ns);
    return ns;
}

Test(duration, units)
{
    int rc;
    cr_expect_eq(duration("50ms", &rc), 50000000ull);
    cr_expect_eq(rc, 0);
    cr_expect_eq(duration("1.5s", &rc), 1500000000ull);
    cr_expect_eq(duration("200us", &rc), 200000ull);
    cr_expect_eq(duration("7ns", &rc), 7ull);
    cr_expect_eq(duration("2m", &rc), 120000000000ull);
    cr_expect_eq(duration("1.5h", &rc), 5400000000000ull);
    cr_expect_eq(duration("25", &rc), 25000000ull, "a bare number is milliseconds");
    cr_expect_eq(duration("0.001s", &rc), 1000000ull);
}

Test(duration, rejects_bad_input)
{
    static const char *bad[] = {"",
                                "ms",
                                "-5ms",
                                "5 ms",
                                "5mss",
                                "1.s",
                                ".5s",
                                "5d",
                                "99999999999999999999ms",
                                "1.0000000001s",
                                "1e3ms",
                                "0x10"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc;
        duration(bad[i], &rc);
        cr_expect_eq(rc, -EINVAL, "'%s' must be rejected", bad[i]);
    }
}

Test(duration, format_reads_back)
{
    static const uint64_t values[] = {1, 999, 1000, 250000, 50000000, 1500000000, 61000000000ull};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char buf[32];
        uint64_t back;
        ss_format_duration(values[i], buf, sizeof buf);
        cr_assert_eq(ss_parse_duration(buf, strlen(buf), &back), 0, "%s", buf);
        cr_expect(back <= values[i] * 1.01 + 1 && back >= values[i] * 0.99, "%s", buf);
    }
}

struct problems {
    int count;
    char last[128];
};

static void record(void *ctx, const char *what, const char *key, size_t len)
{
    struct problems *p = ctx;
    p->count++;
    snprintf(p->last, sizeof p->last, "%s %.*s", what, (int)len, key);
}

Test(options, defaults)
{
    struct ss_options o;
    ss_options_defaults(&o);
    cr_expect_eq(o.threshold_ns, 50000000ull);
    cr_expect_eq(o.interval_ns, 10000000ull);
    cr_expect_eq(o.signal, 38);
    cr_expect_str_eq(o.output, SS_DEFAULT_OUTPUT);
    cr_expect_eq(o.stacks, 1);
    cr_expect_eq(o.python, 1);
    cr_expect_eq(o.python_sites, 0);
}

Test(options, parses_pairs)
{
    struct ss_options o;
    struct problems p = {0};
    ss_options_defaults(&o);
    int n = ss_options_parse(
        "threshold=100ms:interval=5ms,signal=40:stacks=0:python_sites=1:output='/tmp/a:b'", &o,
        record, &p);
    cr_expect_eq(n, 0, "%s", p.last);
    cr_expect_eq(o.threshold_ns, 100000000ull);
    cr_expect_eq(o.interval_ns, 5000000ull);
    cr_expect_eq(o.signal, 40);
    cr_expect_eq(o.stacks, 0);
    cr_expect_eq(o.python_sites, 1);
    cr_expect_str_eq(o.output, "/tmp/a:b");
}

Test(options, unknown_and_bad_values_are_reported_and_skipped)
{
    struct ss_options o;
    struct problems p = {0};
    ss_options_defaults(&o);
    int n = ss_options_parse("bogus=1:threshold=fast:signal=9:interval=20ms", &o, record, &p);
    cr_expect_eq(n, 3);
    cr_expect_eq(p.count, 3);
    cr_expect_eq(o.threshold_ns, 50000000ull, "a bad value keeps the default");
    cr_expect_eq(o.signal, 38, "SIGKILL cannot be the sampling signal");
    cr_expect_eq(o.interval_ns, 20000000ull, "later good pairs still apply");
}

Test(options, malformed_strings)
{
    struct ss_options o;
    struct problems p = {0};
    ss_options_defaults(&o);
    cr_expect_eq(ss_options_parse("threshold", &o, record, &p), 1);
    cr_expect_eq(ss_options_parse("output='unterminated", &o, record, &p), 1);
    cr_expect_eq(ss_options_parse("::,,", &o, record, &p), 0);
    cr_expect_eq(ss_options_parse("output=", &o, record, &p), 1);
    cr_expect_str_eq(o.output, SS_DEFAULT_OUTPUT);
}

Test(options, production_bounds)
{
    struct ss_options o;
    struct problems p = {0};
    ss_options_defaults(&o);
    cr_expect_eq(o.max_size, 0, "unbounded by default");
    cr_expect_eq(o.max_files, SS_DEFAULT_MAX_FILES);
    cr_expect_eq(o.max_stacks, 0);
    cr_expect_eq(ss_options_parse("max_size=64k:max_files=3:max_stacks=5", &o, record, &p), 0,
                 "%s", p.last);
    cr_expect_eq(o.max_size, 65536);
    cr_expect_eq(o.max_files, 3);
    cr_expect_eq(o.max_stacks, 5);
    cr_expect_eq(ss_options_parse("max_size=10M:max_files=0:max_size=1.5G:max_stacks=-1", &o,
                                  record, &p),
                 3, "no file at all, a fraction and a sign are refused");
    cr_expect_eq(o.max_size, 10ull << 20, "the last valid value wins");
    cr_expect_eq(o.max_files, 3);
    uint64_t n;
    cr_expect_eq(ss_parse_size("2G", 2, &n), 0);
    cr_expect_eq(n, 2ull << 30);
    cr_expect_eq(ss_parse_size("4096", 4, &n), 0);
    cr_expect_eq(n, 4096);
    cr_expect_lt(ss_parse_size("k", 1, &n), 0, "a suffix alone");
    cr_expect_lt(ss_parse_size("5m", 2, &n), 0, "m is not a size");
    cr_expect_lt(ss_parse_size("99999999999999999999", 20, &n), 0, "overflow");
}
