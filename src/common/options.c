#include "common/options.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

void ss_options_defaults(struct ss_options *o)
{
    o->threshold_ns = 50ull * 1000 * 1000;
    o->interval_ns = 10ull * 1000 * 1000;
    o->flush_ns = 1000ull * 1000 * 1000;
    o->sample_timeout_ns = 200ull * 1000 * 1000;
    o->call_threshold_ns = 1000ull * 1000;
    o->strict = 0;
    o->signal = 38;
    o->stacks = 1;
    o->python = 1;
    o->python_sites = 0;
    o->enabled = 1;
    o->sampling = SS_SAMPLING_AUTO;
    o->max_size = 0;
    o->max_files = SS_DEFAULT_MAX_FILES;
    o->max_stacks = 0;
    memcpy(o->output, SS_DEFAULT_OUTPUT, sizeof SS_DEFAULT_OUTPUT);
    o->monitor[0] = '\0';
}

static int parse_uint(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    if (len == 0)
        return -EINVAL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        if (v > (UINT64_MAX - 9) / 10)
            return -EINVAL;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

int ss_parse_duration(const char *s, size_t len, uint64_t *ns)
{
    static const struct {
        const char *name;
        uint64_t ns;
    } units[] = {
        {"ns", 1},
        {"us", 1000},
        {"ms", 1000000},
        {"s", 1000000000ull},
        {"m", 60000000000ull},
        {"h", 3600000000000ull},
    };
    size_t digits = 0, frac_digits = 0;
    while (digits < len && s[digits] >= '0' && s[digits] <= '9')
        digits++;
    size_t num_end = digits;
    if (num_end < len && s[num_end] == '.') {
        num_end++;
        while (num_end < len && s[num_end] >= '0' && s[num_end] <= '9') {
            num_end++;
            frac_digits++;
        }
        if (frac_digits == 0 || frac_digits > 9)
            return -EINVAL;
    }
    uint64_t whole, frac = 0, scale = 1000000;
    if (parse_uint(s, digits, &whole) < 0)
        return -EINVAL;
    if (frac_digits && parse_uint(s + digits + 1, frac_digits, &frac) < 0)
        return -EINVAL;
    const char *unit = s + num_end;
    size_t unit_len = len - num_end;
    if (unit_len > 0) {
        size_t i;
        for (i = 0; i < sizeof units / sizeof units[0]; i++)
            if (strlen(units[i].name) == unit_len && memcmp(units[i].name, unit, unit_len) == 0)
                break;
        if (i == sizeof units / sizeof units[0])
            return -EINVAL;
        scale = units[i].ns;
    }
    if (whole > UINT64_MAX / scale)
        return -EINVAL;
    uint64_t frac_ns = 0;
    if (frac_digits) {
        uint64_t div = 1;
        for (size_t i = 0; i < frac_digits; i++)
            div *= 10;
        frac_ns = (uint64_t)((__uint128_t)frac * scale / div);
    }
    if (whole * scale > UINT64_MAX - frac_ns)
        return -EINVAL;
    *ns = whole * scale + frac_ns;
    return 0;
}

int ss_parse_size(const char *s, size_t len, uint64_t *bytes)
{
    unsigned shift = 0;
    if (len > 0) {
        switch (s[len - 1]) {
        case 'k':
        case 'K':
            shift = 10;
            break;
        case 'M':
            shift = 20;
            break;
        case 'G':
            shift = 30;
            break;
        }
    }
    uint64_t n;
    if (parse_uint(s, shift ? len - 1 : len, &n) < 0 || n > UINT64_MAX >> shift)
        return -EINVAL;
    *bytes = n << shift;
    return 0;
}

void ss_format_duration(uint64_t ns, char *buf, size_t size)
{
    static const struct {
        const char *name;
        uint64_t ns;
    } units[] = {
        {"s", 1000000000ull},
        {"ms", 1000000},
        {"us", 1000},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (ns >= units[i].ns) {
            uint64_t whole = ns / units[i].ns, rest = ns % units[i].ns;
            if (rest == 0)
                snprintf(buf, size, "%llu%s", (unsigned long long)whole, units[i].name);
            else
                snprintf(buf, size, "%.*f%s",
                         whole >= 100  ? 0
                         : whole >= 10 ? 1
                                       : 2,
                         (double)ns / (double)units[i].ns, units[i].name);
            return;
        }
    }
    snprintf(buf, size, "%lluns", (unsigned long long)ns);
}

static int parse_bool(const char *v, size_t len, int *out)
{
    if ((len == 1 && v[0] == '1') || (len == 4 && memcmp(v, "true", 4) == 0) ||
        (len == 3 && memcmp(v, "yes", 3) == 0))
        *out = 1;
    else if ((len == 1 && v[0] == '0') || (len == 5 && memcmp(v, "false", 5) == 0) ||
             (len == 2 && memcmp(v, "no", 2) == 0))
        *out = 0;
    else
        return -EINVAL;
    return 0;
}

static int key_is(const char *key, size_t len, const char *name)
{
    return strlen(name) == len && memcmp(key, name, len) == 0;
}

/* Returns 0 when applied, -EINVAL for a bad value, -ENOENT for an unknown key. */
static int apply(struct ss_options *o, const char *key, size_t klen, const char *v, size_t vlen)
{
    uint64_t n;
    if (key_is(key, klen, "threshold") || key_is(key, klen, "interval") ||
        key_is(key, klen, "flush") || key_is(key, klen, "sample_timeout") ||
        key_is(key, klen, "call_threshold")) {
        if (ss_parse_duration(v, vlen, &n) < 0 || n == 0)
            return -EINVAL;
        if (key_is(key, klen, "threshold"))
            o->threshold_ns = n;
        else if (key_is(key, klen, "interval"))
            o->interval_ns = n;
        else if (key_is(key, klen, "flush"))
            o->flush_ns = n;
        else if (key_is(key, klen, "call_threshold"))
            o->call_threshold_ns = n;
        else
            o->sample_timeout_ns = n;
        return 0;
    }
    if (key_is(key, klen, "signal")) {
        if (parse_uint(v, vlen, &n) < 0 || n < 1 || n > 64 || n == SIGKILL || n == SIGSTOP)
            return -EINVAL;
        o->signal = (int)n;
        return 0;
    }
    if (key_is(key, klen, "max_size"))
        return ss_parse_size(v, vlen, &o->max_size);
    if (key_is(key, klen, "max_files")) {
        if (parse_uint(v, vlen, &n) < 0 || n == 0 || n > UINT32_MAX)
            return -EINVAL;
        o->max_files = (uint32_t)n;
        return 0;
    }
    if (key_is(key, klen, "max_stacks")) {
        if (parse_uint(v, vlen, &n) < 0 || n > UINT32_MAX)
            return -EINVAL;
        o->max_stacks = (uint32_t)n;
        return 0;
    }
    if (key_is(key, klen, "stacks"))
        return parse_bool(v, vlen, &o->stacks);
    if (key_is(key, klen, "python"))
        return parse_bool(v, vlen, &o->python);
    if (key_is(key, klen, "python_sites"))
        return parse_bool(v, vlen, &o->python_sites);
    if (key_is(key, klen, "strict"))
        return parse_bool(v, vlen, &o->strict);
    if (key_is(key, klen, "enabled"))
        return parse_bool(v, vlen, &o->enabled);
    if (key_is(key, klen, "sampling")) {
        static const char *const names[] = {"auto", "perf", "signal"};
        for (int i = 0; i < 3; i++)
            if (key_is(v, vlen, names[i])) {
                o->sampling = i;
                return 0;
            }
        return -EINVAL;
    }
    if (key_is(key, klen, "monitor")) {
        if (vlen == 0 || vlen >= sizeof o->monitor)
            return -EINVAL;
        memcpy(o->monitor, v, vlen);
        o->monitor[vlen] = '\0';
        return 0;
    }
    if (key_is(key, klen, "output")) {
        if (vlen == 0 || vlen >= sizeof o->output)
            return -EINVAL;
        memcpy(o->output, v, vlen);
        o->output[vlen] = '\0';
        return 0;
    }
    return -ENOENT;
}

static int is_separator(char c)
{
    return c == ':' || c == ',';
}

int ss_options_parse(const char *s, struct ss_options *o, ss_option_problem_fn problem, void *ctx)
{
    int problems = 0;
    size_t i = 0, n = strlen(s);
    while (i < n) {
        if (is_separator(s[i]) || s[i] == ' ') {
            i++;
            continue;
        }
        size_t key = i;
        while (i < n && s[i] != '=' && !is_separator(s[i]))
            i++;
        size_t klen = i - key;
        if (i >= n || s[i] != '=') {
            problem(ctx, "expected key=value", s + key, klen);
            problems++;
            continue;
        }
        i++;
        size_t val, vlen;
        if (i < n && (s[i] == '\'' || s[i] == '"')) {
            char quote = s[i++];
            val = i;
            while (i < n && s[i] != quote)
                i++;
            vlen = i - val;
            if (i >= n) {
                problem(ctx, "unterminated quote in value of", s + key, klen);
                problems++;
                break;
            }
            i++;
        } else {
            val = i;
            while (i < n && !is_separator(s[i]))
                i++;
            vlen = i - val;
        }
        int rc = apply(o, s + key, klen, s + val, vlen);
        if (rc == -ENOENT) {
            problem(ctx, "unknown option", s + key, klen);
            problems++;
        } else if (rc < 0) {
            problem(ctx, "bad value for option", s + key, klen);
            problems++;
        }
    }
    return problems;
}
