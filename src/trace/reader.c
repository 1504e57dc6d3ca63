/* reader: loads one trace file as a process of a run. The header is checked here, and each
 * record's framing; decode.c makes sense of what is inside a record. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "trace/loader.h"

/* A trace is read in pieces, never whole: a buffer holds the record being parsed and what
 * follows it, so memory does not grow with the file (the model built from it does). */
#define READ_CHUNK (1u << 20)

struct trace_reader {
    int fd;
    uint8_t *buf;
    size_t cap, start, end; /* unparsed bytes are buf[start, end) */
    uint64_t offset;        /* file offset of buf[start] */
    int eof;
};

/* Makes at least need bytes available from start, unless the file ends first; returns how
 * many are available, or -1 on a read error. */
static ssize_t reader_fill(struct trace_reader *r, size_t need)
{
    if (r->end - r->start >= need || r->eof)
        return (ssize_t)(r->end - r->start);
    if (r->start + need > r->cap) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    while (r->end - r->start < need && !r->eof) {
        ssize_t n = read(r->fd, r->buf + r->end, r->cap - r->end);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            r->eof = 1;
        r->end += (size_t)n;
    }
    return (ssize_t)(r->end - r->start);
}

static void reader_skip(struct trace_reader *r, size_t n)
{
    r->start += n;
    r->offset += n;
}

#define READ_FAIL() FAIL(-EIO, "%s: %s", path, strerror(errno))

static int parse_trace(struct loader *l, const char *path, struct trace_reader *r)
{
    ssize_t avail = reader_fill(r, SS_TRACE_HEADER_SIZE);
    if (avail < 0)
        READ_FAIL();
    const uint8_t *d = r->buf + r->start;
    if ((size_t)avail < SS_TRACE_HEADER_SIZE || memcmp(d, SS_TRACE_MAGIC, SS_TRACE_MAGIC_LEN) != 0)
        FAIL(SS_EBADMAGIC, "%s: not a stallscope trace", path);
    uint32_t version, header;
    memcpy(&version, d + 8, 4);
    memcpy(&header, d + 12, 4);
    if (version != SS_TRACE_VERSION)
        FAIL(SS_EVERSION, "%s: trace version %u, this stallscope reads version %u", path, version,
             SS_TRACE_VERSION);
    if (header < SS_TRACE_HEADER_SIZE || header > READ_CHUNK ||
        (avail = reader_fill(r, header)) < (ssize_t)header)
        FAIL(SS_ECORRUPT, "%s: bad header size %u", path, header);
    reader_skip(r, header);
    for (;;) {
        struct ss_rec_header h;
        if ((avail = reader_fill(r, sizeof h)) < 0)
            READ_FAIL();
        if (avail == 0)
            break;
        if ((size_t)avail < sizeof h) {
            l->p->truncated = 1;
            break;
        }
        memcpy(&h, r->buf + r->start, sizeof h);
        uint64_t off = r->offset;
        if (h.size > SS_TRACE_MAX_PAYLOAD || h.tag == 0)
            FAIL(SS_ECORRUPT, "%s: corrupt record at offset %llu (tag %u, size %u)", path,
                 (unsigned long long)off, h.tag, h.size);
        if ((avail = reader_fill(r, sizeof h + h.size)) < 0)
            READ_FAIL();
        if ((size_t)avail < sizeof h + h.size) {
            l->p->truncated = 1;
            break;
        }
        int rc = trace_decode(l, path, off, &h, r->buf + r->start + sizeof h);
        if (rc < 0)
            return rc;
        reader_skip(r, sizeof h + h.size);
    }
    if (!l->saw_process)
        FAIL(SS_ECORRUPT, "%s: no process record (file cut short?)", path);
    return 0;
}

/* In a run directory, a file with no more than its header belongs to a process that is just
 * starting: it is left out rather than making the whole run unreadable. */
int trace_load_file(struct ss_run *run, const char *path, int in_dir, size_t keep, char *err,
                    size_t err_size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        int e = errno;
        snprintf(err, err_size, "%s: %s", path, strerror(e));
        if (fd >= 0)
            close(fd);
        return e == ENOENT ? -ENOENT : -EIO;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        snprintf(err, err_size, "%s: not a regular file", path);
        return SS_EBADMAGIC;
    }
    if (in_dir && st.st_size <= (off_t)SS_TRACE_HEADER_SIZE) {
        close(fd);
        return 0;
    }
    struct trace_reader r = {
        .fd = fd, .cap = READ_CHUNK + sizeof(struct ss_rec_header) + SS_TRACE_MAX_PAYLOAD};
    struct ss_process *procs = realloc(run->procs, (run->nprocs + 1) * sizeof *procs);
    if (procs)
        run->procs = procs;
    if (!procs || !(r.buf = malloc(r.cap))) {
        close(fd);
        snprintf(err, err_size, "out of memory");
        return -ENOMEM;
    }
    struct ss_process *p = &procs[run->nprocs++];
    memset(p, 0, sizeof *p);
    p->keep_stalls = keep;
    struct loader l = {.p = p, .keep = keep, .err = err, .err_size = err_size};
    size_t margin = keep / 2 > 64 ? keep / 2 : 64;
    l.prune_at = keep + margin;
    p->file = strdup(path);
    int rc = p->file ? parse_trace(&l, path, &r) : -ENOMEM;
    if (rc == 0 && trace_finish_stalls(&l) < 0) {
        snprintf(err, err_size, "out of memory");
        rc = -ENOMEM;
    }
    if (rc == 0) {
        trace_mark_loop_threads(&l);
        trace_sort_pyframes(&l);
    }
    trace_free_loader(&l);
    free(r.buf);
    close(fd);
    return rc;
}
