#define _GNU_SOURCE
#include "check/allowlist.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/fingerprint.h"
#include "errors.h"
#include "stacks/frames.h"

static const char *const type_names[] = {
    [SS_ALLOW_CALL] = "call", [SS_ALLOW_CAT] = "cat",
    [SS_ALLOW_RULE] = "rule", [SS_ALLOW_FINGERPRINT] = "fingerprint",
    [SS_ALLOW_FUN] = "fun",   [SS_ALLOW_LIB] = "lib",
    [SS_ALLOW_SRC] = "src",
};
#define NTYPES (sizeof type_names / sizeof type_names[0])

const char *ss_allow_type_name(enum ss_allow_type t)
{
    return (size_t)t < NTYPES ? type_names[t] : "?";
}

void ss_allowlist_free(struct ss_allowlist *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->nentries; i++) {
        for (size_t k = 0; k < a->entries[i].nlines; k++)
            free(a->entries[i].lines[k].pattern);
        free(a->entries[i].lines);
    }
    free(a->entries);
    free(a->path);
    free(a);
}

static int add_line(struct ss_allow_entry *e, enum ss_allow_type type, const char *pattern,
                    unsigned line)
{
    struct ss_allow_line *lines = realloc(e->lines, (e->nlines + 1) * sizeof *lines);
    if (!lines)
        return -ENOMEM;
    e->lines = lines;
    if (!(lines[e->nlines].pattern = strdup(pattern)))
        return -ENOMEM;
    lines[e->nlines].type = type;
    lines[e->nlines].line = line;
    e->nlines++;
    return 0;
}

static struct ss_allow_entry *new_entry(struct ss_allowlist *a, unsigned line)
{
    struct ss_allow_entry *entries = realloc(a->entries, (a->nentries + 1) * sizeof *entries);
    if (!entries)
        return NULL;
    a->entries = entries;
    memset(&entries[a->nentries], 0, sizeof *entries);
    entries[a->nentries].line = line;
    return &entries[a->nentries++];
}

/* Trims s in place; returns its first non-blank character. */
static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && strchr(" \t\r", s[n - 1]))
        s[--n] = '\0';
    return s;
}

#define FAIL_WITH(code, ...)                                                                       \
    do {                                                                                           \
        snprintf(err, err_size, __VA_ARGS__);                                                      \
        rc = (code);                                                                               \
        goto out;                                                                                  \
    } while (0)
#define PARSE_FAIL(...) FAIL_WITH(-EINVAL, __VA_ARGS__)

int ss_allowlist_parse(const char *text, const char *name, struct ss_allowlist **out, char *err,
                       size_t err_size)
{
    struct ss_allowlist *a = calloc(1, sizeof *a);
    char *copy = strdup(text);
    int rc = 0;
    if (!a || !copy || !(a->path = strdup(name)))
        FAIL_WITH(-ENOMEM, "%s", ss_strerror(-ENOMEM));
    struct ss_allow_entry *block = NULL;
    unsigned lineno = 0, block_line = 0;
    char *save = NULL;
    /* strtok_r would skip empty lines and so miscount them. */
    for (char *line = copy; line; line = save) {
        char *nl = strchr(line, '\n');
        save = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        lineno++;
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        if (strcmp(s, "{") == 0) {
            if (block)
                PARSE_FAIL("%s:%u: '{' inside the block opened at line %u", name, lineno,
                           block_line);
            if (!(block = new_entry(a, lineno)))
                PARSE_FAIL("out of memory");
            block_line = lineno;
            continue;
        }
        if (strcmp(s, "}") == 0) {
            if (!block)
                PARSE_FAIL("%s:%u: '}' without a '{'", name, lineno);
            if (block->nlines == 0)
                PARSE_FAIL("%s:%u: empty block", name, block_line);
            block = NULL;
            continue;
        }
        char *colon = strchr(s, ':');
        size_t t = NTYPES;
        if (colon)
            for (t = 0; t < NTYPES; t++)
                if ((size_t)(colon - s) == strlen(type_names[t]) &&
                    strncmp(s, type_names[t], (size_t)(colon - s)) == 0)
                    break;
        if (t == NTYPES)
            PARSE_FAIL("%s:%u: expected TYPE:PATTERN with TYPE one of call, fun, lib, src, cat, "
                       "rule, fingerprint; got '%s'",
                       name, lineno, s);
        const char *pattern = trim(colon + 1);
        if (!*pattern)
            PARSE_FAIL("%s:%u: empty pattern", name, lineno);
        struct ss_allow_entry *e = block ? block : new_entry(a, lineno);
        if (!e || add_line(e, (enum ss_allow_type)t, pattern, lineno) < 0)
            FAIL_WITH(-ENOMEM, "%s", ss_strerror(-ENOMEM));
    }
    if (block)
        PARSE_FAIL("%s:%u: block not closed with '}'", name, block_line);
out:
    free(copy);
    if (rc < 0) {
        ss_allowlist_free(a);
        return rc;
    }
    *out = a;
    return 0;
}

int ss_allowlist_load(const char *path, struct ss_allowlist **out, char *err, size_t err_size)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        int code = -errno;
        snprintf(err, err_size, "%s: %s", path, ss_strerror(code));
        return code;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    char buf[4096];
    size_t n;
    while (mem && (n = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, n, mem);
    int failed = ferror(f);
    fclose(f);
    if (!mem || fclose(mem) != 0 || failed) {
        free(text);
        snprintf(err, err_size, "%s: cannot read", path);
        return -EIO;
    }
    int rc = ss_allowlist_parse(text, path, out, err, err_size);
    free(text);
    return rc;
}

static int match(const char *pattern, const char *s)
{
    return s && fnmatch(pattern, s, 0) == 0;
}

/* A path matches when the pattern matches it whole or any tail of it that starts after a '/',
 * so "vendor/x.js" matches /app/vendor/x.js wherever the checkout is. */
static int match_path(const char *pattern, const char *path)
{
    for (const char *p = path; p; p = strchr(p, '/') ? strchr(p, '/') + 1 : NULL)
        if (match(pattern, p))
            return 1;
    return 0;
}

/* A versioned library also answers to its name without the version: libsqlite3.so.0.8.6 is
 * libsqlite3.so too. */
static int match_module(const char *pattern, const char *module)
{
    if (!module)
        return 0;
    const char *base = ss_basename(module);
    if (match(pattern, base))
        return 1;
    const char *so = strstr(base, ".so.");
    if (!so)
        return 0;
    char bare[256];
    snprintf(bare, sizeof bare, "%.*s", (int)(so - base + 3), base);
    return match(pattern, bare);
}

static int match_frame(const struct ss_allow_line *l, const struct ss_frame *f)
{
    char buf[1024];
    unsigned line, col;
    switch (l->type) {
    case SS_ALLOW_FUN:
        ss_frame_match_name(f, buf, sizeof buf);
        return match(l->pattern, f->symbol) || (buf[0] && match(l->pattern, buf));
    case SS_ALLOW_LIB:
        return match_module(l->pattern, f->module);
    case SS_ALLOW_SRC:
        return ss_frame_script_position(f, buf, sizeof buf, &line, &col) && match_path(l->pattern, buf);
    default:
        return 0;
    }
}

static int match_call(const char *pattern, const char *call)
{
    char normal[128];
    if (!call)
        return 0;
    ss_call_normalize(call, normal, sizeof normal);
    return match(pattern, call) || match(pattern, normal);
}

static int entry_matches(const struct ss_allow_entry *e, const struct ss_allow_subject *s)
{
    const struct ss_stack *st = s->stack && s->stack->frames ? s->stack : NULL;
    uint32_t next = 0; /* frame lines match frames in order, innermost first */
    for (size_t i = 0; i < e->nlines; i++) {
        const struct ss_allow_line *l = &e->lines[i];
        int ok = 0;
        switch (l->type) {
        case SS_ALLOW_CALL:
            ok = match_call(l->pattern, s->call);
            break;
        case SS_ALLOW_CAT:
            ok = match(l->pattern, s->category);
            break;
        case SS_ALLOW_RULE:
            ok = match(l->pattern, s->rule);
            break;
        case SS_ALLOW_FINGERPRINT:
            ok = match(l->pattern, s->fingerprint);
            break;
        default:
            for (; st && next < st->nframes && !ok; next++)
                ok = match_frame(l, &st->frames[next]);
            break;
        }
        if (!ok)
            return 0;
    }
    return 1;
}

struct ss_allow_entry *ss_allowlist_match(struct ss_allowlist *a, const struct ss_allow_subject *s)
{
    for (size_t i = 0; a && i < a->nentries; i++) {
        if (entry_matches(&a->entries[i], s)) {
            a->entries[i].hits++;
            return &a->entries[i];
        }
    }
    return NULL;
}
