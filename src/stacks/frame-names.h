/* frame-names: every way a frame is named, shared by the report, the exporters, the check and
 * the viewer so that every output names a frame the same way, and an allowlist entry written
 * from one output matches what another shows. Frames are told apart as the runtime's (libc,
 * the loader, libuv, Node.js, V8, CPython) or the program's own. */
#ifndef SS_FRAME_NAMES_H
#define SS_FRAME_NAMES_H

#include <stddef.h>

#include "model.h"

const char *ss_basename(const char *path);

/* "symbol", else "module+0xoffset", else "0xaddr". */
void ss_frame_display_name(const struct ss_frame *f, char *buf, size_t size);
/* 1 for a frame read from CPython's frames (a PYFRAME of the trace): its symbol is the
 * function's qualified name, its file and line the source's. */
int ss_frame_is_python(const struct ss_frame *f);
/* Where a frame is in the source, "FILE:LINE" (basename only) or "FILE", for native frames
 * with debug information and Python frames; empty for JIT and other interpreter frames, whose
 * names already say it, and for frames without a known file. */
void ss_frame_file_line(const struct ss_frame *f, char *buf, size_t size);

/* 1 when the frame belongs to the runtime or the C library rather than to the program. */
int ss_frame_is_runtime(const struct ss_frame *f);
/* The frame's function as matched and hashed: a JavaScript frame's function name alone
 * ("JS:~load /app/x.js:3:1" gives "load"), a native symbol without clone suffixes
 * (".constprop.0", ".isra.0", ".part.0", ".cold") or C++ parameters. Empty when the frame has
 * no symbol. */
void ss_frame_match_name(const struct ss_frame *f, char *buf, size_t size);
/* A JavaScript or Python frame's script path, line and column ("/app/x.js", 3, 1; Python
 * frames have no column); 0 for a frame that has none (native frames, Node's own "node:"
 * scripts, Python's standard library). line and col are 0 when absent. */
int ss_frame_script_position(const struct ss_frame *f, char *path, size_t size, unsigned *line,
                             unsigned *col);
/* A blocking function's name without the variants libc offers for one call: "__open64_2",
 * "open64" and "open" are all "open"; "__read_chk" is "read". */
void ss_call_normalize(const char *function, char *buf, size_t size);
/* Index of the first frame of the program, or -1 when every frame is the runtime's or
 * unnamed. */
int ss_stack_first_user_frame(const struct ss_stack *st);

#endif
