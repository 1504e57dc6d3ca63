/* The check's building blocks on their own: frame names and fingerprints, the allowlist's
 * syntax and matching, the rules' syntax. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check/allowlist.h"
#include "check/check.h"
#include "check/fingerprint.h"
#include "errors.h"

static struct ss_frame native(const char *symbol, const char *module)
{
    return (struct ss_frame){0x1000, symbol, module, 0, SS_FRAME_NATIVE, NULL, 0};
}

static struct ss_frame js(const char *symbol)
{
    return (struct ss_frame){0x3e0000001000, symbol, NULL, 0, SS_FRAME_JIT, NULL, 0};
}

static struct ss_stack stack_of(struct ss_frame *frames, uint32_t n)
{
    static uint64_t addrs[16];
    return (struct ss_stack){.id = 1, .nframes = n, .addrs = addrs, .frames = frames};
}

Test(fingerprint, call_names_lose_libc_variants)
{
    const char *in[] = {"open64",        "__open64_2",  "open",    "__read_chk",  "pread64",
                        "__pread64_chk", "getaddrinfo", "preadv2", "__res_query", "fstatat64"};
    const char *out[] = {"open",  "open",        "open",    "read",      "pread",
                         "pread", "getaddrinfo", "preadv2", "res_query", "fstatat"};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        char buf[64];
        ss_call_normalize(in[i], buf, sizeof buf);
        cr_expect_str_eq(buf, out[i], "%s", in[i]);
    }
}

Test(fingerprint, function_names_without_what_varies)
{
    struct ss_frame f[] = {
        native("checksum_config.constprop.0", "/srv/app"),
        native("ns::Parser::parse(std::string const&) const", "/srv/app"),
        native("Foo::operator()()", "/srv/app"),
        native("node::ResetStdio() [clone .part.0]", "/usr/bin/node"),
        js("JS:~loadConfig /app/lib/config.js:12:3"),
        js("JS:*loadConfig /other/checkout/lib/config.js:40:1"),
        js("JS:^ /app/vendor/x.js:3:1"),
    };
    const char *want[] = {"checksum_config",  "ns::Parser::parse", "Foo::operator()",
                          "node::ResetStdio", "loadConfig",        "loadConfig",
                          "(anonymous)"};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        char buf[128];
        ss_frame_match_name(&f[i], buf, sizeof buf);
        cr_expect_str_eq(buf, want[i], "%s", f[i].symbol);
    }
}

Test(fingerprint, script_locations)
{
    char path[128];
    unsigned line, col;
    struct ss_frame user = js("JS:~loadConfig /app/lib/config.js:12:3");
    cr_assert(ss_frame_script_position(&user, path, sizeof path, &line, &col));
    cr_expect_str_eq(path, "/app/lib/config.js");
    cr_expect_eq(line, 12);
    cr_expect_eq(col, 3);
    struct ss_frame internal = js("JS:~listOnTimeout node:internal/timers:569:25");
    cr_expect_not(ss_frame_script_position(&internal, path, sizeof path, &line, &col));
    struct ss_frame c = native("main", "/srv/app");
    cr_expect_not(ss_frame_script_position(&c, path, sizeof path, &line, &col));
}

/* CPython 3.12 trampolines: the function alone is matched and hashed, the script is its
 * location, and the standard library is the runtime's while installed packages are not. */
Test(fingerprint, python_frames)
{
    char name[64], path[128];
    unsigned line, col;
    struct ss_frame handler = js("py::handle_request:/srv/app/handlers.py");
    ss_frame_match_name(&handler, name, sizeof name);
    cr_expect_str_eq(name, "handle_request");
    cr_assert(ss_frame_script_position(&handler, path, sizeof path, &line, &col));
    cr_expect_str_eq(path, "/srv/app/handlers.py");
    cr_expect_eq(line, 0);
    cr_expect_not(ss_frame_is_runtime(&handler));
    struct ss_frame package = js("py::get:/usr/lib/python3/dist-packages/requests/api.py");
    cr_expect_not(ss_frame_is_runtime(&package));
    struct ss_frame stdlib = js("py::_run_once:/usr/lib/python3.12/asyncio/base_events.py");
    cr_expect(ss_frame_is_runtime(&stdlib));
    struct ss_frame frozen = js("py::_find_and_load:<frozen importlib._bootstrap>");
    cr_expect(ss_frame_is_runtime(&frozen));
}

Test(fingerprint, runtime_frames)
{
    struct ss_frame runtime[] = {
        native("__libc_start_main", "/lib/x86_64-linux-gnu/libc.so.6"),
        native("uv_run", "/usr/bin/node"),
        native("uv__io_poll", "/srv/app"),
        native("PKCS5_PBKDF2_HMAC", "/usr/bin/node"),
        js("JS:~listOnTimeout node:internal/timers:569:25"),
        js("Builtin:ArrayForEach"),
    };
    for (size_t i = 0; i < sizeof runtime / sizeof runtime[0]; i++)
        cr_expect(ss_frame_is_runtime(&runtime[i]), "%s", runtime[i].symbol);
    struct ss_frame user[] = {
        native("load_config", "/srv/app"),
        native("sqlite3_step", "/usr/lib/libsqlite3.so.0"),
        js("JS:~loadConfig /app/lib/config.js:12:3"),
        /* A map entry inside a module: that module's code, named by the map. */
        {0x401000, "handle_request", "/srv/app", 0, SS_FRAME_JIT, NULL, 0},
    };
    for (size_t i = 0; i < sizeof user / sizeof user[0]; i++)
        cr_expect_not(ss_frame_is_runtime(&user[i]), "%s", user[i].symbol);
}

Test(fingerprint, stable_across_builds_and_checkouts)
{
    char a[SS_FINGERPRINT_LEN + 1], b[SS_FINGERPRINT_LEN + 1], c[SS_FINGERPRINT_LEN + 1];
    const char *parts[] = {"call", "read"};
    struct ss_frame one[] = {native("node::fs::Read", "/usr/bin/node"),
                             js("JS:~loadConfig /home/ci/app/lib/config.js:12:3"),
                             js("JS:*main /home/ci/app/index.js:1:1")};
    struct ss_frame two[] = {native("node::fs::Read", "/usr/local/bin/node"),
                             js("JS:*loadConfig /builds/app/lib/config.js:14:5"),
                             js("JS:~main /builds/app/index.js:2:1")};
    two[0].addr = 0xdeadbeef;
    struct ss_stack s1 = stack_of(one, 3), s2 = stack_of(two, 3);
    ss_fingerprint(parts, 2, &s1, a);
    ss_fingerprint(parts, 2, &s2, b);
    cr_expect_str_eq(a, b, "tiers, lines, directories and addresses do not count");
    cr_expect_eq(strlen(a), SS_FINGERPRINT_LEN);
    two[1] = js("JS:~loadTemplate /builds/app/lib/config.js:14:5");
    ss_fingerprint(parts, 2, &s2, c);
    cr_expect_str_neq(a, c, "another caller is another finding");
    const char *other[] = {"call", "open"};
    ss_fingerprint(other, 2, &s1, c);
    cr_expect_str_neq(a, c, "another call is another finding");
}

static struct ss_allowlist *parse(const char *text)
{
    struct ss_allowlist *a = NULL;
    char err[256] = "";
    cr_assert_eq(ss_allowlist_parse(text, "allow.txt", &a, err, sizeof err), 0, "%s", err);
    return a;
}

static void parse_fails(const char *text, const char *problem)
{
    struct ss_allowlist *a = NULL;
    char err[256] = "";
    cr_expect_eq(ss_allowlist_parse(text, "allow.txt", &a, err, sizeof err), -EINVAL, "%s", text);
    cr_expect(strstr(err, problem) != NULL, "'%s' does not say '%s'", err, problem);
}

Test(allowlist, syntax)
{
    struct ss_allowlist *a = parse("# comment\n\n  call:getaddrinfo  \n{\nfun:a\n  lib:b\n}\r\n"
                                   "cat:file\n");
    cr_assert_eq(a->nentries, 3);
    cr_expect_eq(a->entries[0].line, 3);
    cr_expect_str_eq(a->entries[0].lines[0].pattern, "getaddrinfo");
    cr_expect_eq(a->entries[1].nlines, 2);
    cr_expect_eq(a->entries[1].lines[1].type, SS_ALLOW_LIB);
    cr_expect_eq(a->entries[2].lines[0].line, 8);
    ss_allowlist_free(a);
    parse_fails("call:x\nfunc:y\n", "allow.txt:2: expected TYPE:PATTERN");
    parse_fails("getaddrinfo\n", "allow.txt:1:");
    parse_fails("{\ncall:x\n", "allow.txt:1: block not closed");
    parse_fails("}\n", "allow.txt:1: '}' without a '{'");
    parse_fails("{\n{\n", "allow.txt:2: '{' inside the block");
    parse_fails("{\n}\n", "allow.txt:1: empty block");
    parse_fails("fun:\n", "allow.txt:1: empty pattern");
}

Test(allowlist, matching)
{
    struct ss_frame frames[] = {
        native("sqlite3_step", "/usr/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6"),
        native("db_query.isra.0", "/srv/app"),
        js("JS:~handler /app/vendor/x.js:3:1"),
        native("main", "/srv/app"),
    };
    struct ss_stack st = stack_of(frames, 4);
    struct ss_allow_subject s = {"forbid", "pread64", "file", "0123456789abcdef", &st};
    struct {
        const char *text;
        int match;
    } cases[] = {
        {"call:pread\n", 1},
        {"call:pread64\n", 1},
        {"call:read\n", 0},
        {"cat:file\n", 1},
        {"cat:f\n", 0},
        {"rule:forbid\n", 1},
        {"fingerprint:0123*\n", 1},
        {"fun:db_query\n", 1},
        {"fun:db_*\n", 1},
        {"fun:handler\n", 1},
        {"fun:JS:~handler*\n", 1},
        {"lib:libsqlite3.so\n", 1},
        {"lib:libsqlite3.so.0.8.6\n", 1},
        {"lib:libsqlite\n", 0},
        {"src:vendor/*\n", 1},
        {"src:/app/vendor/x.js\n", 1},
        {"src:x.js\n", 1},
        {"src:endor/x.js\n", 0},
        {"{\ncall:pread\nfun:db_query\n}\n", 1},
        {"{\ncall:pread\nfun:nothing\n}\n", 0},
        /* Frame lines match frames in order, innermost first. */
        {"{\nlib:libsqlite3.so\nfun:db_query\nfun:main\n}\n", 1},
        {"{\nfun:main\nfun:db_query\n}\n", 0},
        {"{\nfun:db_query\nfun:db_query\n}\n", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ss_allowlist *a = parse(cases[i].text);
        struct ss_allow_entry *e = ss_allowlist_match(a, &s);
        cr_expect_eq(e != NULL, cases[i].match, "%s", cases[i].text);
        if (e)
            cr_expect_eq(e->hits, 1);
        ss_allowlist_free(a);
    }
    struct ss_allow_subject none = {"max-p99", NULL, NULL, "fedcba9876543210", NULL};
    struct ss_allowlist *a = parse("fun:*\ncall:*\nlib:*\n");
    cr_expect_null(ss_allowlist_match(a, &none), "nothing to match frames or calls against");
    ss_allowlist_free(a);
}

Test(rules, syntax)
{
    struct ss_check_rules r;
    char err[256];
    ss_check_rules_init(&r);
    cr_expect_not(ss_check_rules_any(&r));
    cr_assert_eq(ss_check_rules_set(&r, "--max-stall", "100ms", err, sizeof err), 0, "%s", err);
    cr_assert_eq(ss_check_rules_set(&r, "forbid", "file, dns", err, sizeof err), 0, "%s", err);
    cr_assert_eq(ss_check_rules_set(&r, "budget", "sleep=2", err, sizeof err), 0, "%s", err);
    cr_assert_eq(ss_check_rules_set(&r, "budget", "file=50ms", err, sizeof err), 0, "%s", err);
    cr_assert_eq(ss_check_rules_set(&r, "process", "node*", err, sizeof err), 0, "%s", err);
    cr_expect_eq(r.max_stall_ns, 100000000ull);
    cr_expect_eq(r.forbid, (1u << 0) | (1u << 2));
    cr_expect_eq(r.budget_calls[3], 2);
    cr_expect_eq(r.budget_ns[0], 50000000ull);
    char desc[256];
    ss_check_rules_describe(&r, desc, sizeof desc);
    cr_expect_str_eq(desc, "max-stall 100ms; forbid file,dns; budget file=50ms; budget sleep=2; "
                           "process node*");
    cr_expect_eq(ss_check_rules_set(&r, "forbid", "disk", err, sizeof err), -EINVAL);
    cr_expect(strstr(err, "unknown category 'disk'"), "%s", err);
    cr_expect_eq(ss_check_rules_set(&r, "budget", "file", err, sizeof err), -EINVAL);
    cr_expect_eq(ss_check_rules_set(&r, "budget", "file=fast", err, sizeof err), -EINVAL);
    cr_expect_eq(ss_check_rules_set(&r, "max-p99", "soon", err, sizeof err), -EINVAL);
    cr_expect_eq(ss_check_rules_set(&r, "max-stalls", "1s", err, sizeof err), -EINVAL);
    cr_expect(strstr(err, "unknown rule 'max-stalls'"), "%s", err);
    ss_check_rules_free(&r);
}
