/* fingerprint: the identity of a finding that survives a rebuild, another machine and another
 * run. Frames are told apart as the runtime's (libc, the loader, libuv, Node.js, V8, CPython)
 * or the program's own, and named without what varies between builds: addresses, GCC clone
 * suffixes, V8's optimisation tier, C++ parameter lists, directories. The check, the
 * allowlist and every CI output use these names, so an entry written from one output matches
 * what another shows. */
#ifndef SS_FINGERPRINT_H
#define SS_FINGERPRINT_H

#include <stddef.h>

#include "model.h"

#define SS_FINGERPRINT_LEN 16 /* hex digits */
/* Frames of the program (not of the runtime) that a fingerprint is made of. */
#define SS_FINGERPRINT_FRAMES 3

/* 1 when the frame belongs to the runtime or the C library rather than to the program. */
int ss_frame_is_runtime(const struct ss_frame *f);

/* The frame's function as matched and hashed: a JavaScript frame's function name alone
 * ("JS:~load /app/x.js:3:1" gives "load"), a native symbol without clone suffixes
 * (".constprop.0", ".isra.0", ".part.0", ".cold") or C++ parameters. Empty when the frame has
 * no symbol. */
void ss_frame_function(const struct ss_frame *f, char *buf, size_t size);

/* A JavaScript frame's script path, line and column ("/app/x.js", 3, 1); 0 for a frame that
 * has none (native frames, Node's own "node:" scripts). line and col are 0 when absent. */
int ss_frame_source(const struct ss_frame *f, char *path, size_t size, unsigned *line,
                    unsigned *col);

/* A blocking function's name without the variants libc offers for one call: "__open64_2",
 * "open64" and "open" are all "open"; "__read_chk" is "read". */
void ss_call_normalize(const char *function, char *buf, size_t size);

/* Index of the first frame of the program, or -1 when every frame is the runtime's or
 * unnamed. */
int ss_stack_first_user_frame(const struct ss_stack *st);

/* Hex digest of parts (any of them NULL is skipped) followed by the names of the stack's
 * first SS_FINGERPRINT_FRAMES program frames, or of its first named frames when it has no
 * frame of the program. buf holds SS_FINGERPRINT_LEN + 1 bytes. */
void ss_fingerprint(const char *const *parts, size_t nparts, const struct ss_stack *st,
                    char buf[SS_FINGERPRINT_LEN + 1]);

#endif
