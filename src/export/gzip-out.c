#include "export/gzip-out.h"

#include <errno.h>
#include <string.h>

/* Compresses what is in z's input (all of it), writing every full chunk; flush Z_FINISH ends
 * the stream. */
static void deflate_all(struct ss_gzip_out *g, int flush)
{
    int rc;
    do {
        g->z.next_out = g->chunk;
        g->z.avail_out = sizeof g->chunk;
        rc = deflate(&g->z, flush);
        if (rc == Z_STREAM_ERROR) {
            g->failed = -ENOMEM;
            return;
        }
        size_t n = sizeof g->chunk - g->z.avail_out;
        if (n && fwrite(g->chunk, 1, n, g->out) != n) {
            g->failed = -EIO;
            return;
        }
    } while (g->z.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
}

static void append(ProtobufCBuffer *buffer, size_t len, const uint8_t *data)
{
    struct ss_gzip_out *g = (struct ss_gzip_out *)buffer;
    while (len && !g->failed) {
        /* avail_in is 32 bits wide. */
        uInt n = len > (1u << 30) ? 1u << 30 : (uInt)len;
        g->z.next_in = (Bytef *)data;
        g->z.avail_in = n;
        deflate_all(g, Z_NO_FLUSH);
        data += n;
        len -= n;
    }
}

int ss_gzip_out_open(struct ss_gzip_out *g, FILE *out)
{
    memset(&g->z, 0, sizeof g->z);
    g->base.append = append;
    g->out = out;
    g->failed = 0;
    /* 16 more window bits: a gzip wrapper rather than zlib's. */
    if (deflateInit2(&g->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK)
        return -ENOMEM;
    return 0;
}

int ss_gzip_out_close(struct ss_gzip_out *g)
{
    if (!g->failed) {
        g->z.next_in = NULL;
        g->z.avail_in = 0;
        deflate_all(g, Z_FINISH);
    }
    deflateEnd(&g->z);
    return g->failed;
}
