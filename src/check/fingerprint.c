#include "check/fingerprint.h"

#include <stdint.h>
#include <stdio.h>

#include "stacks/frame-names.h"
#include "util/fnv.h"

/* FNV-1a: tiny, and stable across machines and releases, which is all a fingerprint needs;
 * parts are separated by a byte no name contains. */
static uint64_t fnv(uint64_t h, const char *s)
{
    return ss_fnv1a(ss_fnv1a_str(h, s), "\x1f", 1);
}

static uint64_t hash_frame(uint64_t h, const struct ss_frame *f)
{
    char name[512], where[512];
    unsigned line, col;
    ss_frame_match_name(f, name, sizeof name);
    h = fnv(h, name);
    /* Anonymous functions (JavaScript's, Python's <lambda>) differ only by their script. */
    if (ss_frame_script_position(f, where, sizeof where, &line, &col))
        h = fnv(h, ss_basename(where));
    return h;
}

void ss_fingerprint(const char *const *parts, size_t nparts, const struct ss_stack *st,
                    char buf[SS_FINGERPRINT_LEN + 1])
{
    uint64_t h = SS_FNV1A_INIT;
    for (size_t i = 0; i < nparts; i++)
        if (parts[i])
            h = fnv(h, parts[i]);
    int user = ss_stack_first_user_frame(st) >= 0;
    size_t taken = 0;
    for (uint32_t i = 0; st && st->frames && i < st->nframes && taken < SS_FINGERPRINT_FRAMES;
         i++) {
        const struct ss_frame *f = &st->frames[i];
        if (!f->symbol || (user && ss_frame_is_runtime(f)))
            continue;
        h = hash_frame(h, f);
        taken++;
    }
    snprintf(buf, SS_FINGERPRINT_LEN + 1, "%016llx", (unsigned long long)h);
}
