#define _GNU_SOURCE
#include "trace/trace-writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/trace-format.h"
#include "errors.h"
#include "util/private-files.h"

/* Creates the run directory if missing and opens it, only if it is private to the effective
 * user (private-files.h): a directory planted in a shared /tmp by someone else could otherwise
 * receive (or redirect) the trace. */
static int open_run_dir(const char *dir, char *why, size_t why_size)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        int err = errno;
        snprintf(why, why_size, "cannot create %s: %s", dir, strerror(err));
        return -err;
    }
    int dfd = ss_open_private(dir, O_RDONLY | O_DIRECTORY, geteuid(), NULL);
    if (dfd < 0)
        snprintf(why, why_size, "will not write into %s: %s", dir, ss_strerror(dfd));
    return ss_private_refused(dfd) ? -EPERM : dfd;
}

static void file_name(char *name, size_t size, pid_t pid, unsigned number)
{
    if (number == 0)
        snprintf(name, size, SS_TRACE_FILE_PREFIX "%d" SS_TRACE_FILE_SUFFIX, (int)pid);
    else
        snprintf(name, size, SS_TRACE_FILE_PREFIX "%d.%u" SS_TRACE_FILE_SUFFIX, (int)pid, number);
}

/* Creates the first free name of numbers [from, from + 100) in dfd and writes the file header
 * into it; sets w->fd and returns the number used, or -errno with why. */
static long create_file(struct ss_writer *w, int dfd, const char *dir, unsigned from, char *why,
                        size_t why_size)
{
    char name[64];
    unsigned number = from;
    for (; number < from + 100 && w->fd < 0; number++) {
        file_name(name, sizeof name, w->pid, number);
        w->fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (w->fd < 0 && errno != EEXIST) {
            int err = errno;
            snprintf(why, why_size, "cannot create %s/%s: %s", dir, name, strerror(err));
            return -err;
        }
    }
    if (w->fd < 0) {
        snprintf(why, why_size, "cannot create a trace file in %s: %s", dir, strerror(EEXIST));
        return -EEXIST;
    }
    /* The header goes out at once: a file without it would make the whole run unreadable. */
    uint8_t header[SS_TRACE_HEADER_SIZE];
    uint32_t version = SS_TRACE_VERSION, size = SS_TRACE_HEADER_SIZE;
    memcpy(header, SS_TRACE_MAGIC, SS_TRACE_MAGIC_LEN);
    memcpy(header + 8, &version, 4);
    memcpy(header + 12, &size, 4);
    ssize_t n;
    while ((n = write(w->fd, header, sizeof header)) < 0 && errno == EINTR)
        ;
    if (n != (ssize_t)sizeof header) {
        int err = n < 0 ? errno : ENOSPC;
        snprintf(why, why_size, "cannot write %s/%s: %s", dir, name, strerror(err));
        close(w->fd);
        unlinkat(dfd, name, 0);
        w->fd = -1;
        return -err;
    }
    w->size = (off_t)sizeof header;
    w->can_reserve = 1;
    w->full = 0;
    return number - 1;
}

int ss_writer_open(struct ss_writer *w, const char *dir, pid_t pid, char *why, size_t why_size)
{
    memset(w, 0, sizeof *w);
    w->fd = -1;
    w->pid = pid;
    w->cap = 256 * 1024;
    if (!(w->dir = strdup(dir)) || !(w->buf = malloc(w->cap))) {
        snprintf(why, why_size, "cannot write into %s: %s", dir, strerror(ENOMEM));
        ss_writer_forget(w);
        return -ENOMEM;
    }
    int dfd = open_run_dir(dir, why, why_size);
    long number = dfd < 0 ? dfd : create_file(w, dfd, dir, 0, why, why_size);
    if (dfd >= 0)
        close(dfd);
    if (number < 0) {
        ss_writer_forget(w);
        return (int)number;
    }
    w->files = malloc(sizeof *w->files);
    if (w->files)
        w->files[w->nfiles++] = (struct ss_writer_file){(unsigned)number, {0}};
    return 0;
}

int ss_writer_bound(struct ss_writer *w, uint64_t max_size, uint32_t max_files)
{
    if (max_size == 0 || max_files == 0)
        return 0;
    if (max_files > SS_WRITER_FILES_MAX)
        max_files = SS_WRITER_FILES_MAX;
    if (!w->nfiles)
        return -ENOMEM;
    struct ss_writer_file *files = realloc(w->files, max_files * sizeof *files);
    if (!files)
        return -ENOMEM;
    w->files = files;
    w->max_files = max_files;
    /* A file holds at least what a new one starts with, or every look would rotate. */
    w->file_size_limit = max_size / max_files;
    if (w->file_size_limit < SS_WRITER_FILE_MIN)
        w->file_size_limit = SS_WRITER_FILE_MIN;
    return 0;
}

int ss_writer_wants_rotation(const struct ss_writer *w)
{
    return w->fd >= 0 && w->file_size_limit && (uint64_t)w->size >= w->file_size_limit;
}

static void add_held(struct ss_writer_held *to, const struct ss_writer_held *from)
{
    to->stalls += from->stalls;
    to->stall_ns += from->stall_ns;
    if (from->stall_max_ns > to->stall_max_ns)
        to->stall_max_ns = from->stall_max_ns;
    to->samples += from->samples;
    to->records += from->records;
}

/* Until the next file is made, the current one stays open and is written on: a rotation that
 * fails (a full disk, a directory gone) is tried again at the next flush. */
int ss_writer_rotate(struct ss_writer *w, char *why, size_t why_size)
{
    ss_writer_flush(w);
    int dfd = open_run_dir(w->dir, why, why_size);
    if (dfd < 0)
        return dfd;
    unsigned next = w->files[w->nfiles - 1].number + 1;
    /* The oldest goes first, so that the directory never holds more than max_files. */
    if (w->nfiles == w->max_files) {
        char name[64];
        file_name(name, sizeof name, w->pid, w->files[0].number);
        if (unlinkat(dfd, name, 0) != 0 && errno != ENOENT) {
            int err = errno;
            snprintf(why, why_size, "cannot remove %s/%s: %s", w->dir, name, strerror(err));
            close(dfd);
            return -err;
        }
        add_held(&w->deleted, &w->files[0].held);
        w->files_deleted++;
        memmove(w->files, w->files + 1, (w->nfiles - 1) * sizeof *w->files);
        w->nfiles--;
    }
    struct ss_writer current = *w;
    w->fd = -1;
    long number = create_file(w, dfd, w->dir, next, why, why_size);
    close(dfd);
    if (number < 0) {
        w->fd = current.fd;
        w->size = current.size;
        w->can_reserve = current.can_reserve;
        w->full = current.full;
        return (int)number;
    }
    close(current.fd);
    w->files[w->nfiles++] = (struct ss_writer_file){(unsigned)number, {0}};
    w->generation++;
    return 0;
}

static int reserve(struct ss_writer *w, size_t more)
{
    if (w->len + more <= w->cap)
        return 0;
    size_t cap = w->cap;
    while (cap < w->len + more)
        cap *= 2;
    uint8_t *p = realloc(w->buf, cap);
    if (!p)
        return -ENOMEM;
    w->buf = p;
    w->cap = cap;
    return 0;
}

void ss_writer_record_tails(struct ss_writer *w, uint16_t tag, const void *fixed, size_t fixed_len,
                            const void *a, size_t a_len, const void *b, size_t b_len)
{
    size_t payload = fixed_len + a_len + b_len;
    if (w->fd < 0)
        return;
    if (payload > SS_TRACE_MAX_PAYLOAD || reserve(w, SS_TRACE_RECORD_HEADER + payload) < 0) {
        w->unwritten++;
        return;
    }
    struct ss_rec_header h = {tag, 0, (uint32_t)payload};
    memcpy(w->buf + w->len, &h, sizeof h);
    w->len += sizeof h;
    if (fixed_len)
        memcpy(w->buf + w->len, fixed, fixed_len);
    w->len += fixed_len;
    if (a_len)
        memcpy(w->buf + w->len, a, a_len);
    w->len += a_len;
    if (b_len)
        memcpy(w->buf + w->len, b, b_len);
    w->len += b_len;
    w->pending++;
}

void ss_writer_record(struct ss_writer *w, uint16_t tag, const void *fixed, size_t fixed_len,
                      const void *tail, size_t tail_len)
{
    ss_writer_record_tails(w, tag, fixed, fixed_len, tail, tail_len, NULL, 0);
}

/* Makes sure the file system has room for `len` more bytes plus the reserve; 0 when it has
 * not. A file system without fallocate is written to without a reserve. */
static int room_for(struct ss_writer *w, size_t len)
{
    if (!w->can_reserve)
        return 1;
    int rc;
    while ((rc = fallocate(w->fd, FALLOC_FL_KEEP_SIZE, w->size,
                           (off_t)(len + SS_WRITER_RESERVE))) != 0 &&
           errno == EINTR)
        ;
    if (rc == 0)
        return 1;
    if (errno == ENOSPC || errno == EDQUOT)
        return 0;
    w->can_reserve = 0;
    return 1;
}

static void warn_once(struct ss_writer *w, const char *why)
{
    if (w->warned)
        return;
    w->warned = 1;
    if (w->warn) {
        char msg[256];
        snprintf(msg, sizeof msg, "trace write failed, records are being dropped: %s", why);
        w->warn(w->warn_ctx, msg);
    }
}

static int write_at_end(struct ss_writer *w, const uint8_t *data, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(w->fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int err = n < 0 ? errno : ENOSPC;
            warn_once(w, strerror(err));
            /* A partial record would corrupt what follows; keep the file at a boundary. */
            if (off > 0 && ftruncate(w->fd, w->size) == 0)
                lseek(w->fd, w->size, SEEK_SET);
            return -err;
        }
        off += (size_t)n;
    }
    w->size += (off_t)len;
    return 0;
}

/* Remembers the buffer's last DROPS record and counts what it holds into *held; returns
 * whether it holds the END record. */
static int scan_buffer(struct ss_writer *w, struct ss_writer_held *held)
{
    int end = 0;
    for (size_t off = 0; off + SS_TRACE_RECORD_HEADER <= w->len;) {
        struct ss_rec_header h;
        memcpy(&h, w->buf + off, sizeof h);
        if (h.tag == SS_REC_DROPS && h.size == sizeof(struct ss_rec_drops)) {
            memcpy(w->drops, w->buf + off, sizeof w->drops);
            w->have_drops = 1;
        }
        if (h.tag == SS_REC_STALL_END && h.size >= sizeof(struct ss_rec_stall_end)) {
            struct ss_rec_stall_end e;
            memcpy(&e, w->buf + off + SS_TRACE_RECORD_HEADER, sizeof e);
            held->stalls++;
            held->stall_ns += e.duration_ns;
            if (e.duration_ns > held->stall_max_ns)
                held->stall_max_ns = e.duration_ns;
        }
        held->samples += h.tag == SS_REC_SAMPLE;
        held->records++;
        end |= h.tag == SS_REC_END;
        off += SS_TRACE_RECORD_HEADER + h.size;
    }
    return end;
}

/* The file system is full: the buffer is dropped, but the drop counters (and the end, if
 * this is the last flush) go into the space reserved past the end of the file, once when
 * the file system fills up and once at the end. */
static void drop_buffer(struct ss_writer *w, int final)
{
    int first = !w->full;
    w->full = 1;
    w->unwritten += w->pending;
    warn_once(w, strerror(ENOSPC));
    if (!first && !final)
        return;
    uint8_t tail[sizeof w->drops + SS_TRACE_RECORD_HEADER + sizeof(struct ss_rec_end)];
    size_t len = 0;
    struct ss_rec_header h = {SS_REC_DROPS, 0, sizeof(struct ss_rec_drops)};
    struct ss_rec_drops d = {0};
    if (w->have_drops)
        memcpy(&d, w->drops + SS_TRACE_RECORD_HEADER, sizeof d);
    d.records_unwritten = w->unwritten;
    memcpy(tail, &h, sizeof h);
    memcpy(tail + sizeof h, &d, sizeof d);
    len = sizeof h + sizeof d;
    if (final) {
        struct ss_rec_end e = {0};
        for (size_t off = 0; off + SS_TRACE_RECORD_HEADER <= w->len;) {
            memcpy(&h, w->buf + off, sizeof h);
            if (h.tag == SS_REC_END && h.size == sizeof e)
                memcpy(&e, w->buf + off + SS_TRACE_RECORD_HEADER, sizeof e);
            off += SS_TRACE_RECORD_HEADER + h.size;
        }
        h = (struct ss_rec_header){SS_REC_END, 0, sizeof e};
        memcpy(tail + len, &h, sizeof h);
        memcpy(tail + len + sizeof h, &e, sizeof e);
        len += sizeof h + sizeof e;
    }
    write_at_end(w, tail, len);
}

void ss_writer_flush(struct ss_writer *w)
{
    if (w->fd < 0 || w->len == 0)
        return;
    struct ss_writer_held held = {0};
    int final = scan_buffer(w, &held);
    if (!room_for(w, w->len)) {
        drop_buffer(w, final);
    } else if (write_at_end(w, w->buf, w->len) < 0) {
        w->unwritten += w->pending;
    } else {
        w->full = 0;
        if (w->nfiles)
            add_held(&w->files[w->nfiles - 1].held, &held);
    }
    w->len = 0;
    w->pending = 0;
}

void ss_writer_forget(struct ss_writer *w)
{
    if (w->fd >= 0)
        close(w->fd);
    free(w->buf);
    free(w->dir);
    free(w->files);
    memset(w, 0, sizeof *w);
    w->fd = -1;
}

void ss_writer_close(struct ss_writer *w)
{
    ss_writer_flush(w);
    ss_writer_forget(w);
}
