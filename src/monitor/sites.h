/* sites: the call sites of one traced process: each (thread, return address, function) where a
 * blocking call was made on a loop thread (and, from Python, which Python code made it), with its
 * count, times and deepest stack. A site's CALL_SITE record is written when it is first seen and
 * again, cumulatively, once it changed. */
#ifndef SS_MONITOR_SITES_H
#define SS_MONITOR_SITES_H

#include <stddef.h>
#include <stdint.h>

#include "util/hash.h"

struct ss_writer;

/* A stack a call was seen with: its id (0: none), its frames, and how many Python frames the
 * shim copied with it (none before the monitor told the thread where they are). */
struct ss_site_stack {
    uint32_t id, frames, python_frames;
};

struct ss_site {
    uint32_t tid, id;
    struct ss_site_stack stack;
    int8_t category;
    uint64_t count, total_ns, max_ns, first_ns;
    char function[32];
    char detail[128];
    int dirty; /* changed since its last record */
};

struct ss_sites {
    struct ss_site *items;
    size_t n, cap;
    struct ss_key_table index; /* (tid, address, call) to the site's index in items */
};

/* Counts one call at a site (py_key: the Python code that made it, which tells sites at one
 * address apart; 0 for none); a new site gets its category, detail and first time from this
 * call and its record at once. `stack` replaces the site's stack when it has more Python frames,
 * or as many and more frames, or as many of both and is slower. Returns 0, or -ENOMEM when out of
 * memory. */
int ss_sites_account(struct ss_sites *s, struct ss_writer *out, uint32_t tid, uint64_t address,
                     uint64_t py_key, uint16_t call, const char *function, int category,
                     uint64_t start_ns, uint64_t duration_ns, const char *detail,
                     struct ss_site_stack stack);
/* Writes the records of the sites that changed since their last one. */
void ss_sites_flush(struct ss_sites *s, struct ss_writer *out);
/* Writes every site's record again, after its stack's, into a new file of a rotated trace. */
struct ss_stacks;
void ss_sites_rewrite(struct ss_sites *s, struct ss_stacks *stacks, struct ss_writer *out);
void ss_sites_free(struct ss_sites *s);

#endif
