/* trace-writer: one trace file, written by the monitor for one traced process (and by tools
 * and tests that make traces). Records are buffered in memory and written with write(2) at
 * each flush; what the file system refuses is counted, never silently lost. */
#ifndef SS_WRITER_H
#define SS_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/trace-format.h"

/* What one trace file holds, counted as it is written. A stall is counted where its end is. */
struct ss_writer_held {
    uint64_t stalls, stall_ns, stall_max_ns, samples, records;
};

/* A file of a rotated trace: its name's number (0: no number) and what it holds. */
struct ss_writer_file {
    unsigned number;
    struct ss_writer_held held;
};

struct ss_writer {
    int fd;
    uint8_t *buf;
    size_t len, cap;
    uint64_t pending;   /* records in buf */
    uint64_t unwritten; /* records lost to write errors or memory shortage */
    int warned;
    off_t size;      /* bytes in the file: always at a record boundary */
    int can_reserve; /* the file system takes fallocate(KEEP_SIZE) */
    int full;        /* the last flush found no room: its records were dropped */
    uint8_t drops[SS_TRACE_RECORD_HEADER + sizeof(struct ss_rec_drops)]; /* last DROPS seen */
    int have_drops;
    /* Told once when records start being dropped; may be NULL. */
    void (*warn)(void *ctx, const char *message);
    void *warn_ctx;
    /* Rotation (ss_writer_bound): the files kept, oldest first, the last being the one open;
     * what the deleted ones held. */
    char *dir;
    pid_t pid;
    uint64_t file_size_limit; /* 0: never rotated */
    uint32_t max_files;
    uint32_t generation; /* the open file's index among the process's files, from 0 */
    struct ss_writer_file *files;
    size_t nfiles;
    uint64_t files_deleted;
    struct ss_writer_held deleted;
};

/* Bytes kept allocated past the end of the file, so that the drop counters and the end
 * record still fit when the file system fills up. */
#define SS_WRITER_RESERVE 4096

/* Creates DIR (mode 0700) if missing and a new trace file in it for this pid (mode 0600,
 * never through a symbolic link, never over an existing file; a second file of the same pid,
 * after an exec, gets a suffix); writes the file header. DIR must not be a symbolic link and
 * must belong to the effective user (private-files.h). On failure returns -EPERM when DIR is
 * refused by that rule, else -errno, with a message in why that names the reason. */
int ss_writer_open(struct ss_writer *w, const char *dir, pid_t pid, char *why, size_t why_size);
void ss_writer_record(struct ss_writer *w, uint16_t tag, const void *fixed, size_t fixed_len,
                      const void *tail, size_t tail_len);
/* Like ss_writer_record with two tails one after the other, for records carrying two strings. */
void ss_writer_record_tails(struct ss_writer *w, uint16_t tag, const void *fixed, size_t fixed_len,
                            const void *a, size_t a_len, const void *b, size_t b_len);
void ss_writer_flush(struct ss_writer *w);

/* Bounds the process's trace to max_size bytes on disk in at most max_files files (at most
 * SS_WRITER_FILES_MAX): each file is rotated once it reaches its share, max_size / max_files,
 * but not less than SS_WRITER_FILE_MIN. -ENOMEM, unbounded, if the bookkeeping cannot be
 * allocated. */
#define SS_WRITER_FILES_MAX 1024u
#define SS_WRITER_FILE_MIN 16384u
int ss_writer_bound(struct ss_writer *w, uint64_t max_size, uint32_t max_files);
/* Whether the open file has reached its share: the caller rotates between two flushes. */
int ss_writer_wants_rotation(const struct ss_writer *w);
/* Flushes the open file, deletes the oldest when max_files are kept (counting what it held),
 * opens the next, stallscope-PID.N.trace with N above the last, with its file header, and
 * closes the one before; `generation` counts up. Whatever later records refer to must be
 * written again. On failure (-errno, with why) the open file stays open and is written on:
 * the caller tries again later. */
int ss_writer_rotate(struct ss_writer *w, char *why, size_t why_size);
/* Releases everything without writing. */
void ss_writer_forget(struct ss_writer *w);
void ss_writer_close(struct ss_writer *w);

struct dl_phdr_info;
/* Writes the MODULE record of an object loaded in the calling process and gives its
 * executable range [lo, hi); -ENOEXEC (nothing written) for an object with no executable
 * segment.
 * For tools and tests that write traces of themselves (trace-modules.c). */
int ss_writer_module(struct ss_writer *w, struct dl_phdr_info *info, uint64_t *lo, uint64_t *hi);

#endif
