/* gzip-out: a protobuf-c output buffer that gzips what is packed into it straight to a stream,
 * so that a large message is never held whole in memory. zlib's default gzip header carries
 * no time and no file name: the same message always gives the same bytes. */
#ifndef SS_EXPORT_GZIP_OUT_H
#define SS_EXPORT_GZIP_OUT_H

#include <protobuf-c/protobuf-c.h>
#include <stdio.h>
#include <zlib.h>

struct ss_gzip_out {
    ProtobufCBuffer base; /* first, so that protobuf-c's pointer is ours */
    z_stream z;
    FILE *out;
    int failed; /* zlib refused (out of memory) or a write failed: nothing more is written */
    unsigned char chunk[64 * 1024];
};

/* Returns 0 or -ENOMEM. */
int ss_gzip_out_open(struct ss_gzip_out *g, FILE *out);
/* Writes the end of the gzip stream and frees zlib's state. Returns 0, -ENOMEM, or -EIO when a
 * write failed (ss_write_status then tells which error). */
int ss_gzip_out_close(struct ss_gzip_out *g);

#endif
