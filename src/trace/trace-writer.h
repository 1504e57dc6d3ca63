/* trace-writer: one trace file, written by the monitor for one traced process (and by tools
 * and tests that make traces). Records are buffered in memory and written with write(2) at
 * each flush; what the file system refuses is counted, never silently lost. */
#ifndef SS_WRITER_H
#define SS_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/trace-format.h"

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
