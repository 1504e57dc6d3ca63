#define _GNU_SOURCE
#include "writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim.h"
#include "trace-format.h"

int ss__writer_open(struct ss_writer *w, const char *dir, pid_t pid, char *why, size_t why_size)
{
    memset(w, 0, sizeof *w);
    w->fd = -1;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(why, why_size, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    char path[SS_OUTPUT_MAX + 64];
    for (int attempt = 0; attempt < 100 && w->fd < 0; attempt++) {
        if (attempt == 0)
            snprintf(path, sizeof path, "%s/" SS_TRACE_FILE_PREFIX "%d" SS_TRACE_FILE_SUFFIX, dir,
                     (int)pid);
        else
            snprintf(path, sizeof path, "%s/" SS_TRACE_FILE_PREFIX "%d.%d" SS_TRACE_FILE_SUFFIX,
                     dir, (int)pid, attempt);
        w->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (w->fd < 0 && errno != EEXIST) {
            snprintf(why, why_size, "cannot create %s: %s", path, strerror(errno));
            return -1;
        }
    }
    if (w->fd < 0) {
        snprintf(why, why_size, "cannot create a trace file in %s", dir);
        return -1;
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
    w->cap = 256 * 1024;
    w->buf = n == (ssize_t)sizeof header ? malloc(w->cap) : NULL;
    if (!w->buf) {
        snprintf(why, why_size, "cannot write %s: %s", path,
                 n == (ssize_t)sizeof header ? "out of memory" : strerror(n < 0 ? errno : ENOSPC));
        close(w->fd);
        unlink(path);
        w->fd = -1;
        return -1;
    }
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
        return -1;
    w->buf = p;
    w->cap = cap;
    return 0;
}

void ss__writer_record2(struct ss_writer *w, uint16_t tag, const void *fixed, size_t fixed_len,
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

void ss__writer_record(struct ss_writer *w, uint16_t tag, const void *fixed, size_t fixed_len,
                       const void *tail, size_t tail_len)
{
    ss__writer_record2(w, tag, fixed, fixed_len, tail, tail_len, NULL, 0);
}

void ss__writer_flush(struct ss_writer *w)
{
    size_t off = 0;
    if (w->fd < 0 || w->len == 0)
        return;
    while (off < w->len) {
        ssize_t n = write(w->fd, w->buf + off, w->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (!w->warned) {
                w->warned = 1;
                ss__warn("trace write failed, records are being dropped: ",
                         strerror(n < 0 ? errno : ENOSPC));
            }
            /* A partial record would corrupt what follows; keep the file at a boundary. */
            w->unwritten += w->pending;
            if (off > 0 && ftruncate(w->fd, lseek(w->fd, 0, SEEK_CUR) - (off_t)off) == 0)
                lseek(w->fd, 0, SEEK_END);
            break;
        }
        off += (size_t)n;
    }
    w->len = 0;
    w->pending = 0;
}

void ss__writer_forget(struct ss_writer *w)
{
    if (w->fd >= 0)
        close(w->fd);
    free(w->buf);
    memset(w, 0, sizeof *w);
    w->fd = -1;
}

void ss__writer_close(struct ss_writer *w)
{
    ss__writer_flush(w);
    ss__writer_forget(w);
}
