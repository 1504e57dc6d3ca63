/* listen: where serve listens. --listen takes ADDR:PORT, ADDR an IPv4 address or an IPv6 one
 * in brackets ([::1]:9477), PORT 0 for any free port. */
#ifndef SS_SERVE_LISTEN_H
#define SS_SERVE_LISTEN_H

#include <stddef.h>
#include <sys/socket.h>

#define SS_SERVE_LISTEN_DEFAULT "127.0.0.1:9477"

struct ss_listen_address {
    struct sockaddr_storage addr;
    socklen_t len;
};

/* Returns 0, or -EINVAL when text is not ADDR:PORT. */
int ss_listen_parse(const char *text, struct ss_listen_address *out);
/* "127.0.0.1:9477", "[::1]:9477". */
void ss_listen_format(const struct ss_listen_address *a, char *buf, size_t size);
/* A listening TCP socket bound to a; a port of 0 is replaced by the one the system chose.
 * Returns the descriptor or -errno. */
int ss_listen_open(struct ss_listen_address *a);

#endif
