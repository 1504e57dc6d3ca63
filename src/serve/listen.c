#define _GNU_SOURCE
#include "serve/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int parse_port(const char *text, uint16_t *port)
{
    char *end;
    if (*text < '0' || *text > '9')
        return -EINVAL;
    errno = 0;
    unsigned long n = strtoul(text, &end, 10);
    if (*end || errno || n > 65535)
        return -EINVAL;
    *port = (uint16_t)n;
    return 0;
}

int ss_listen_parse(const char *text, struct ss_listen_address *out)
{
    char host[64];
    const char *port;
    memset(out, 0, sizeof *out);
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':' || (size_t)(close - text - 1) >= sizeof host)
            return -EINVAL;
        memcpy(host, text + 1, (size_t)(close - text - 1));
        host[close - text - 1] = '\0';
        port = close + 2;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->addr;
        in6->sin6_family = AF_INET6;
        if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1 || parse_port(port, &in6->sin6_port))
            return -EINVAL;
        in6->sin6_port = htons(in6->sin6_port);
        out->len = sizeof *in6;
        return 0;
    }
    const char *colon = strrchr(text, ':');
    if (!colon || (size_t)(colon - text) >= sizeof host)
        return -EINVAL;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    struct sockaddr_in *in = (struct sockaddr_in *)&out->addr;
    in->sin_family = AF_INET;
    uint16_t p;
    if (inet_pton(AF_INET, host, &in->sin_addr) != 1 || parse_port(colon + 1, &p))
        return -EINVAL;
    in->sin_port = htons(p);
    out->len = sizeof *in;
    return 0;
}

void ss_listen_format(const struct ss_listen_address *a, char *buf, size_t size)
{
    char host[INET6_ADDRSTRLEN];
    if (a->addr.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->addr;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf(buf, size, "[%s]:%u", host, ntohs(in6->sin6_port));
    } else {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&a->addr;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        snprintf(buf, size, "%s:%u", host, ntohs(in->sin_port));
    }
}

int ss_listen_open(struct ss_listen_address *a)
{
    int fd = socket(a->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    /* A restart must not wait for the last run's connections to leave TIME_WAIT. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (a->addr.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&a->addr, a->len) < 0 || listen(fd, 64) < 0 ||
        getsockname(fd, (struct sockaddr *)&a->addr, &a->len) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}
