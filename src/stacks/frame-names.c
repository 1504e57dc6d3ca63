/* frame-names: every way a frame is named, in one place: for display ("symbol", else
 * "module+0xoffset"), with its source line, as matched and hashed (without what varies between
 * builds), and whether it is the runtime's or the program's own. */
#define _GNU_SOURCE
#include "stacks/frame-names.h"

#include <fnmatch.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

const char *ss_basename(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

void ss_frame_display_name(const struct ss_frame *f, char *buf, size_t size)
{
    if (f->symbol)
        snprintf(buf, size, "%s", f->symbol);
    else if (f->module)
        snprintf(buf, size, "%s+0x%llx", ss_basename(f->module), (unsigned long long)f->offset);
    else
        snprintf(buf, size, "0x%llx", (unsigned long long)f->addr);
}

int ss_frame_is_python(const struct ss_frame *f)
{
    return ss_is_pyframe_addr(f->addr);
}

void ss_frame_file_line(const struct ss_frame *f, char *buf, size_t size)
{
    if (!f->file ||
        ((f->kind == SS_FRAME_JIT || f->kind == SS_FRAME_INTERPRETER) && !ss_frame_is_python(f)))
        snprintf(buf, size, "%s", "");
    else if (f->line)
        snprintf(buf, size, "%s:%u", ss_basename(f->file), f->line);
    else
        snprintf(buf, size, "%s", ss_basename(f->file));
}

/* Modules whose frames are the runtime's: the C library and loader, the C++ and unwinding
 * runtimes, libuv, interpreters, CPython's own extension modules (lib-dynload) and our own
 * shim. An interpreter executable (node, python3) counts whole: the program's code runs in it
 * as JIT or interpreted frames. */
static const char *const runtime_modules[] = {
    "libc.so*",    "libc-*",     "ld-linux*",     "libpthread*", "libdl.so*",        "librt.so*",
    "libm.so*",    "libresolv*", "libnss_*",      "libstdc++*",  "libgcc_s*",        "libuv.so*",
    "libnode.so*", "libpython*", "libcrypto.so*", "libssl.so*",  "libstallscope.so", "libunwind*",
    "node",        "nodejs",     "python",        "python3*",
};

/* Symbols of runtimes linked into a program (libuv is often static) and of start-up code. */
static const char *const runtime_symbols[] = {
    "uv_*", "uv__*",  "node::*",       "v8::*",        "Builtins_*", "_Py*",
    "Py*",  "_start", "__libc_start*", "start_thread", "clone",      "clone3",
};

/* Perf-map prefixes of JavaScript functions (Node.js 12 and later write "JS:", older ones
 * "LazyCompile:" and "Function:"); other prefixes (Builtin:, Stub:, RegExp:, ...) name V8's
 * own code. */
static const char *const script_prefixes[] = {
    "JS:", "Eval:", "LazyCompile:", "Function:", "Script:"};

struct script_frame {
    const char *name; /* function name, name_len bytes, possibly empty */
    size_t name_len;
    const char *where; /* "PATH:LINE:COL" or "PATH", NULL when absent */
};

static int parse_script_frame(const struct ss_frame *f, struct script_frame *out)
{
    if (!f->symbol)
        return 0;
    /* A frame read from CPython's own frames names its function and file apart. */
    if (ss_frame_is_python(f)) {
        out->name = f->symbol;
        out->name_len = strlen(f->symbol);
        out->where = f->file && f->file[0] ? f->file : NULL;
        return 1;
    }
    /* CPython 3.12 names the trampoline of each Python function "py::NAME:PATH". */
    if (strncmp(f->symbol, "py::", 4) == 0) {
        const char *colon = strchr(f->symbol + 4, ':');
        out->name = f->symbol + 4;
        out->name_len = colon ? (size_t)(colon - out->name) : strlen(out->name);
        out->where = colon && colon[1] ? colon + 1 : NULL;
        return 1;
    }
    const char *s = NULL;
    for (size_t i = 0; i < sizeof script_prefixes / sizeof script_prefixes[0] && !s; i++)
        if (strncmp(f->symbol, script_prefixes[i], strlen(script_prefixes[i])) == 0)
            s = f->symbol + strlen(script_prefixes[i]);
    if (!s)
        return 0;
    if (*s && strchr("~*^+", *s))
        s++;
    /* V8 writes "NAME LOCATION", and " LOCATION" for an anonymous function. */
    const char *space = strrchr(s, ' ');
    out->name = s;
    out->name_len = space ? (size_t)(space - s) : strlen(s);
    out->where = space ? space + 1 : NULL;
    return 1;
}

/* Node's own scripts ("node:internal/timers"), CPython's frozen modules ("<frozen
 * importlib._bootstrap>") and its standard library; installed packages are the program's. */
static int script_is_runtime(const struct script_frame *sf)
{
    return !sf->where || strncmp(sf->where, "node:", 5) == 0 || sf->where[0] == '<' ||
           (fnmatch("*/lib/python3*/*", sf->where, 0) == 0 &&
            fnmatch("*/lib/python3*/*-packages/*", sf->where, 0) != 0);
}

static int any_match(const char *const *patterns, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (fnmatch(patterns[i], s, 0) == 0)
            return 1;
    return 0;
}

int ss_frame_is_runtime(const struct ss_frame *f)
{
    struct script_frame sf;
    if (parse_script_frame(f, &sf))
        return script_is_runtime(&sf);
    /* A map entry inside a module names that module's code; outside one it is V8's own. */
    if ((f->kind == SS_FRAME_JIT || f->kind == SS_FRAME_INTERPRETER) && !f->module)
        return 1;
    if (f->module && (any_match(runtime_modules, sizeof runtime_modules / sizeof runtime_modules[0],
                                ss_basename(f->module)) ||
                      fnmatch("*/lib-dynload/*", f->module, 0) == 0))
        return 1;
    return f->symbol && any_match(runtime_symbols,
                                  sizeof runtime_symbols / sizeof runtime_symbols[0], f->symbol);
}

static void copy(char *buf, size_t size, const char *s, size_t len)
{
    if (size == 0)
        return;
    if (len >= size)
        len = size - 1;
    memcpy(buf, s, len);
    buf[len] = '\0';
}

/* Length of a native symbol without its parameter list and clone suffixes, as the compiler
 * writes them ("f.part.0") and as the demangler shows them ("f() [clone .part.0]"). */
static size_t native_name_len(const char *s)
{
    size_t len = strlen(s);
    static const char *const clones[] = {" [clone ", ".constprop.", ".isra.",     ".part.",
                                         ".cold",    ".lto_priv.",  ".localalias"};
    for (size_t i = 0; i < sizeof clones / sizeof clones[0]; i++) {
        const char *c = strstr(s, clones[i]);
        if (c && (size_t)(c - s) < len)
            len = (size_t)(c - s);
    }
    size_t end = len;
    if (end >= 6 && strncmp(s + end - 6, " const", 6) == 0)
        end -= 6;
    if (end > 0 && s[end - 1] == ')') {
        int depth = 0;
        for (size_t i = end; i-- > 0;) {
            depth += s[i] == ')' ? 1 : s[i] == '(' ? -1 : 0;
            if (depth == 0) {
                /* "operator()" is a name, not a parameter list. */
                if (i > 0 && !(i >= 8 && strncmp(s + i - 8, "operator", 8) == 0 && s[i + 1] == ')'))
                    len = i;
                break;
            }
        }
    }
    return len;
}

void ss_frame_match_name(const struct ss_frame *f, char *buf, size_t size)
{
    struct script_frame sf;
    if (!f->symbol)
        copy(buf, size, "", 0);
    else if (parse_script_frame(f, &sf))
        copy(buf, size, sf.name_len ? sf.name : "(anonymous)", sf.name_len ? sf.name_len : 11);
    else
        copy(buf, size, f->symbol, native_name_len(f->symbol));
}

/* Splits "PATH:LINE:COL" (PATH may hold colons itself, as "node:internal/x" does). */
static size_t split_location(const char *where, unsigned *line, unsigned *col)
{
    size_t len = strlen(where);
    unsigned nums[2] = {0, 0};
    int found = 0;
    while (found < 2) {
        size_t i = len;
        while (i > 0 && where[i - 1] >= '0' && where[i - 1] <= '9')
            i--;
        if (i == len || i == 0 || where[i - 1] != ':')
            break;
        unsigned v = 0;
        for (size_t k = i; k < len && v < 100000000u; k++)
            v = v * 10 + (unsigned)(where[k] - '0');
        nums[found++] = v;
        len = i - 1;
    }
    *line = found == 2 ? nums[1] : found == 1 ? nums[0] : 0;
    *col = found == 2 ? nums[0] : 0;
    return len;
}

int ss_frame_script_position(const struct ss_frame *f, char *path, size_t size, unsigned *line,
                             unsigned *col)
{
    struct script_frame sf;
    *line = *col = 0;
    if (!parse_script_frame(f, &sf) || script_is_runtime(&sf))
        return 0;
    if (ss_frame_is_python(f)) {
        copy(path, size, sf.where, strlen(sf.where));
        *line = f->line;
        return 1;
    }
    copy(path, size, sf.where, split_location(sf.where, line, col));
    return 1;
}

void ss_call_normalize(const char *function, char *buf, size_t size)
{
    const char *s = function;
    while (*s == '_')
        s++;
    size_t len = strlen(s);
    static const char *const suffixes[] = {"_chk", "_2", "64"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        size_t n = strlen(suffixes[i]);
        if (len > n && memcmp(s + len - n, suffixes[i], n) == 0)
            len -= n;
    }
    copy(buf, size, s, len ? len : strlen(s));
}

int ss_stack_first_user_frame(const struct ss_stack *st)
{
    for (uint32_t i = 0; st && st->frames && i < st->nframes; i++)
        if (st->frames[i].symbol && !ss_frame_is_runtime(&st->frames[i]))
            return (int)i;
    return -1;
}
