/* allowlist: the findings a team has decided to live with, in a file of sanitizer-style
 * entries ("call:getaddrinfo", "fun:load_config", "lib:libsqlite3.so", "src:lib/legacy.js",
 * "cat:file", "rule:max-stall", "fingerprint:HEX") and valgrind-style blocks of several
 * lines between "{" and "}" that must all match one finding. Patterns are fnmatch(3)
 * patterns matched against the whole name. docs/check.md specifies the syntax. */
#ifndef SS_ALLOWLIST_H
#define SS_ALLOWLIST_H

#include <stddef.h>

#include "model.h"

enum ss_allow_type {
    SS_ALLOW_CALL,
    SS_ALLOW_CAT,
    SS_ALLOW_RULE,
    SS_ALLOW_FINGERPRINT,
    SS_ALLOW_FUN, /* this and the following match frames */
    SS_ALLOW_LIB,
    SS_ALLOW_SRC,
};

struct ss_allow_line {
    enum ss_allow_type type;
    char *pattern;
    unsigned line; /* in the file, from 1 */
};

/* One entry: a single line, or a block whose lines must all match. */
struct ss_allow_entry {
    struct ss_allow_line *lines;
    size_t nlines;
    unsigned line; /* where the entry starts */
    size_t hits;   /* findings it allowed so far */
};

struct ss_allowlist {
    char *path;
    struct ss_allow_entry *entries;
    size_t nentries;
};

/* What an entry is matched against; NULL members match no entry line of their type. */
struct ss_allow_subject {
    const char *rule;
    const char *call;
    const char *category;
    const char *fingerprint;
    const struct ss_stack *stack; /* symbolized */
};

/* Parses text (the contents of a file named name, for messages). Returns 0, -EINVAL with
 * "NAME:LINE: problem" in err, or -ENOMEM. */
int ss_allowlist_parse(const char *text, const char *name, struct ss_allowlist **out, char *err,
                       size_t err_size);
/* Reads and parses a file; -errno (-ENOENT, -EACCES, -EIO, ...) when it cannot be read. */
int ss_allowlist_load(const char *path, struct ss_allowlist **out, char *err, size_t err_size);
void ss_allowlist_free(struct ss_allowlist *a);

/* The first entry that matches, its hits counted; NULL when none does. */
struct ss_allow_entry *ss_allowlist_match(struct ss_allowlist *a, const struct ss_allow_subject *s);
/* "call", "fun", ...: the prefix an entry line of that type is written with. */
const char *ss_allow_type_name(enum ss_allow_type t);

#endif
