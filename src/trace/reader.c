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
 * many are available, or -errno of a failed read. */
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
            return -errno;
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

#define READ_FAIL() FAIL((int)avail, "%s: %s", path, ss_strerror((int)avail))

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
    if (header < SS_TRACE_HEADER_SIZE || header > READ_CHUNK)
        FAIL(SS_ECORRUPT, "%s: bad header size %u", path, header);
    if ((avail = reader_fill(r, header)) < 0)
        READ_FAIL();
    if (avail < (ssize_t)header)
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

int trace_identify(const char *path, uint32_t *pid, uint64_t *start_mono_ns, uint32_t *index)
{
    enum { HEAD = SS_TRACE_HEADER_SIZE + SS_TRACE_RECORD_HEADER };
    uint8_t buf[HEAD + sizeof(struct ss_rec_process)];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct ss_rec_header h;
    struct ss_rec_process proc;
    struct ss_rec_segment segment = {0};
    uint32_t header = 0;
    int rc = -1;
    if (pread(fd, buf, sizeof buf, 0) == (ssize_t)sizeof buf &&
        memcmp(buf, SS_TRACE_MAGIC, SS_TRACE_MAGIC_LEN) == 0) {
        memcpy(&header, buf + 12, 4);
        memcpy(&h, buf + SS_TRACE_HEADER_SIZE, sizeof h);
    }
    if (header == SS_TRACE_HEADER_SIZE && h.tag == SS_REC_PROCESS && h.size >= sizeof proc) {
        memcpy(&proc, buf + HEAD, sizeof proc);
        *pid = proc.pid;
        *start_mono_ns = proc.start_mono_ns;
        off_t next = (off_t)HEAD + h.size;
        uint8_t seg[SS_TRACE_RECORD_HEADER + sizeof segment];
        if (pread(fd, seg, sizeof seg, next) == (ssize_t)sizeof seg) {
            memcpy(&h, seg, sizeof h);
            if (h.tag == SS_REC_SEGMENT && h.size >= sizeof segment)
                memcpy(&segment, seg + SS_TRACE_RECORD_HEADER, sizeof segment);
        }
        *index = segment.index;
        rc = 0;
    }
    close(fd);
    return rc;
}

/* Opens one file of the process being loaded and reads its records into l. In a run
 * directory, a file with no more than its header belongs to a process that is just starting
 * (or to a trace just rotated): it is left out rather than making the whole run unreadable. */
static int load_one(struct loader *l, struct trace_reader *r, const char *path, int in_dir)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        /* Listed, then deleted by the rotation of a trace still being written. */
        if (in_dir && e == ENOENT)
            return 0;
        FAIL(e == ENOENT ? -ENOENT : -EIO, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        FAIL(SS_EBADMAGIC, "%s: not a regular file", path);
    }
    if (in_dir && st.st_size <= (off_t)SS_TRACE_HEADER_SIZE) {
        close(fd);
        return 0;
    }
    *r = (struct trace_reader){.fd = fd, .buf = r->buf, .cap = r->cap};
    l->saw_process = 0;
    l->earlier_stacks = l->p->nstacks;
    l->earlier_pyframes = l->p->npyframes;
    int rc = parse_trace(l, path, r);
    close(fd);
    if (rc == 0) {
        l->p->files++;
        free(l->p->file);
        if (!(l->p->file = strdup(path)))
            FAIL(-ENOMEM, "out of memory");
    }
    return rc;
}

int trace_load_files(struct ss_run *run, char *const *paths, size_t n, int in_dir, size_t keep,
                     char *err, size_t err_size)
{
    struct trace_reader r = {
        .fd = -1, .cap = READ_CHUNK + sizeof(struct ss_rec_header) + SS_TRACE_MAX_PAYLOAD};
    struct ss_process *procs = realloc(run->procs, (run->nprocs + 1) * sizeof *procs);
    if (procs)
        run->procs = procs;
    if (!procs || !(r.buf = malloc(r.cap))) {
        snprintf(err, err_size, "out of memory");
        return -ENOMEM;
    }
    struct ss_process *p = &procs[run->nprocs++];
    memset(p, 0, sizeof *p);
    p->keep_stalls = keep;
    struct loader l = {.p = p, .keep = keep, .err = err, .err_size = err_size};
    size_t margin = keep / 2 > 64 ? keep / 2 : 64;
    l.prune_at = keep + margin;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = load_one(&l, &r, paths[i], in_dir);
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
    /* Only headers so far: no process yet. */
    if (rc == 0 && p->files == 0)
        trace_free_process(&run->procs[--run->nprocs]);
    return rc;
}
