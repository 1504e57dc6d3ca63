/* options: parses STALLSCOPE_OPTIONS ("threshold=50ms:interval=10ms:output=DIR") and duration
 * strings. Shared by the shim and the CLI, so it never allocates and never prints: problems are
 * handed to a caller-supplied callback. */
#ifndef SS_OPTIONS_H
#define SS_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#define SS_OPTIONS_ENV "STALLSCOPE_OPTIONS"
#define SS_DEFAULT_OUTPUT "stallscope.run"
#define SS_OUTPUT_MAX 1024
/* A monitor's address: a name in the abstract unix-socket namespace (no leading NUL). */
#define SS_MONITOR_NAME_MAX 100
/* Trace files a process keeps when max_size bounds it and max_files is not given. */
#define SS_DEFAULT_MAX_FILES 4

/* How the monitor takes samples of a stalled loop thread. */
enum ss_sampling {
    SS_SAMPLING_AUTO = 0, /* perf events where the kernel allows them, else the signal */
    SS_SAMPLING_PERF,     /* perf events only: no samples where they are refused */
    SS_SAMPLING_SIGNAL,   /* the sampling signal only */
};

struct ss_options {
    uint64_t threshold_ns;             /* an iteration this busy is a stall */
    uint64_t interval_ns;              /* time between samples while a stall lasts */
    uint64_t flush_ns;                 /* how often busy-time histograms are written */
    uint64_t sample_timeout_ns;        /* a stack capture not done by then is abandoned */
    uint64_t call_threshold_ns;        /* a blocking call this slow always gets its stack taken */
    int strict;                        /* record calls on non-blocking descriptors too */
    int signal;                        /* signal used to sample loop threads */
    int stacks;                        /* 0 turns stack capture off */
    int python;                        /* 0: Python frames are not read from CPython */
    int python_sites;                  /* 1: call sites told apart by their Python code */
    int enabled;                       /* 0 turns the shim off entirely */
    int sampling;                      /* enum ss_sampling */
    uint64_t max_size;                 /* bytes of trace per process on disk; 0: unbounded */
    uint32_t max_files;                /* trace files a bounded process keeps */
    uint32_t max_stacks;               /* stacks unwound per second per process; 0: unbounded */
    char output[SS_OUTPUT_MAX];        /* run directory */
    char monitor[SS_MONITOR_NAME_MAX]; /* the monitor to report to; "" for the default */
};

/* Called once per problem; `key` points into the parsed string, `key_len` long. */
typedef void (*ss_option_problem_fn)(void *ctx, const char *what, const char *key, size_t key_len);

void ss_options_defaults(struct ss_options *o);

/* Applies "key=value" pairs separated by ':' or ','. A value may be quoted with ' or " to
 * contain separators. Unknown keys and bad values are reported through `problem` and skipped
 * (the defaults stay); returns the number of problems. */
int ss_options_parse(const char *s, struct ss_options *o, ss_option_problem_fn problem, void *ctx);

/* "50ms", "1.5s", "200us", "100000ns", "2m"; a bare number means milliseconds.
 * Returns 0, or -EINVAL for anything else (empty, negative, overflow, unknown unit). */
int ss_parse_duration(const char *s, size_t len, uint64_t *ns);

/* "64k", "10M", "2G" (powers of 1024; k and K alike), or bytes without a suffix. Returns 0,
 * or -EINVAL for anything else (empty, a sign, a fraction, an unknown suffix, overflow). */
int ss_parse_size(const char *s, size_t len, uint64_t *bytes);

/* Formats a duration the way ss_parse_duration reads it back ("50ms", "1.5s", "250us"). */
void ss_format_duration(uint64_t ns, char *buf, size_t size);

#endif
