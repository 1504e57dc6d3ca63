/* fingerprint: the identity of a finding that survives a rebuild, another machine and another
 * run: a digest of what the finding is about and of its stack's first frames of the program,
 * named as they are matched (frame-names.h), without what varies between builds. */
#ifndef SS_FINGERPRINT_H
#define SS_FINGERPRINT_H

#include <stddef.h>

#include "model.h"
#include "stacks/frame-names.h"

#define SS_FINGERPRINT_LEN 16 /* hex digits */
/* Frames of the program (not of the runtime) that a fingerprint is made of. */
#define SS_FINGERPRINT_FRAMES 3

/* Hex digest of parts (any of them NULL is skipped) followed by the names of the stack's
 * first SS_FINGERPRINT_FRAMES program frames, or of its first named frames when it has no
 * frame of the program. buf holds SS_FINGERPRINT_LEN + 1 bytes. */
void ss_fingerprint(const char *const *parts, size_t nparts, const struct ss_stack *st,
                    char buf[SS_FINGERPRINT_LEN + 1]);

#endif
