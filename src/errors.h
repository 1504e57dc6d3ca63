/* errors: the core library's error codes. Functions return 0 or a negative code from this
 * list; ss_strerror names it. Details (which file, which offset) go to a caller's buffer. */
#ifndef SS_ERRORS_H
#define SS_ERRORS_H

#define SS_ERRNO_MAP(X)                                                                            \
    X(NOENT, "no such file or directory")                                                          \
    X(NOTRACE, "no trace files found")                                                             \
    X(BADMAGIC, "not a stallscope trace")                                                          \
    X(VERSION, "unsupported trace version")                                                        \
    X(CORRUPT, "corrupt trace")                                                                    \
    X(IO, "read error")                                                                            \
    X(NOMEM, "out of memory")                                                                      \
    X(USAGE, "invalid argument")

enum ss_error {
    SS_OK = 0,
#define SS_ERR_ENUM(name, text) SS_E##name,
    SS_ERRNO_MAP(SS_ERR_ENUM)
#undef SS_ERR_ENUM
};

/* Codes are returned negated: -SS_ECORRUPT. */
const char *ss_strerror(int code);

#endif
