/* errors: one convention for the core library, the CLI, the monitor and the viewer. A function
 * that can fail returns a negative code: -errno where the system has a name for what went
 * wrong (-ENOENT, -EIO, -ENOMEM, -EINVAL, ...), or one of the project's own codes below, which
 * lie beyond every errno value. Success is 0 or a count. ss_strerror names any code; details
 * (which file, which offset) go to a caller's buffer. A code crosses into another convention
 * (an exit status, a bare -1 of the C library) only at the edge of the program. */
#ifndef SS_ERRORS_H
#define SS_ERRORS_H

#include <stdio.h>

#define SS_ERROR_MAP(X)                                                                            \
    X(NOTRACE, 1, "no trace files found")                                                          \
    X(BADMAGIC, 2, "not a stallscope trace")                                                       \
    X(VERSION, 3, "unsupported trace version")                                                     \
    X(CORRUPT, 4, "corrupt trace")                                                                 \
    X(SYMLINK, 5, "it is a symbolic link")                                                         \
    X(NOTOURS, 6, "it belongs to another user")                                                    \
    X(NOTFILE, 7, "it is not a regular file")

/* Linux's errno values end below 4096 (MAX_ERRNO); ours start after it. */
#define SS_ERROR_BASE 4096

enum ss_error {
#define SS_ERR_ENUM(name, n, text) SS_E##name = -(SS_ERROR_BASE + (n)),
    SS_ERROR_MAP(SS_ERR_ENUM)
#undef SS_ERR_ENUM
};

/* The text for a code of either kind: "corrupt trace", "No such file or directory". */
const char *ss_strerror(int code);

/* Flushes out and gives the outcome of everything written to it: 0, or -errno of the write
 * that failed (-EIO when stdio no longer tells which: it keeps only an error flag). */
int ss_write_status(FILE *out);

#endif
