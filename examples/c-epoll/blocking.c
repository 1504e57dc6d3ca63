/* A plain epoll HTTP server with two problems planted in its request handler: it reads a
 * file and resolves a host name on the loop thread, so every client waits while one request
 * does either. fixed.c is the same server with both moved to a worker thread; diff the two.
 *
 * usage: blocking [PORT [FILE [HOST]]]   (PORT 0 picks a free port; SIGTERM or ^C stops it)
 * Each reply says how long FILE (default /etc/os-release) is and what HOST (default
 * localhost) resolves to. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *greeting_path = "/etc/os-release";
static const char *backend_host = "localhost";
static int signal_fd, listen_fd; /* their addresses tag them in the epoll set */

struct conn {
    int fd;
    size_t len;
    char request[2048];
};

/* noinline keeps each culprit a frame of its own in the stacks, as in real code. */
__attribute__((noinline)) static long load_greeting(char *buf, size_t size)
{
    int fd = open(greeting_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    long n = read(fd, buf, size);
    close(fd);
    return n;
}

__attribute__((noinline)) static int resolve_backend(char *addr, size_t size)
{
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(backend_host, "80", &hints, &res) != 0)
        return -1;
    inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, addr, size);
    freeaddrinfo(res);
    return 0;
}

static int build_reply(char *reply, size_t size)
{
    char greeting[4096], addr[INET_ADDRSTRLEN] = "unknown";
    long len = load_greeting(greeting, sizeof greeting);
    resolve_backend(addr, sizeof addr);
    int n = snprintf(reply, size,
                     "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n"
                     "%s: %ld bytes; %s is %s\n",
                     greeting_path, len, backend_host, addr);
    return n < 0 ? 0 : n < (int)size ? n : (int)size - 1; /* as much as fitted */
}

/* Reads until the end of the request's headers, then answers and closes. */
static void handle_request(struct conn *c)
{
    char reply[512];
    ssize_t n = read(c->fd, c->request + c->len, sizeof c->request - 1 - c->len);
    if (n < 0 && errno == EAGAIN)
        return;
    if (n > 0) {
        c->len += n;
        c->request[c->len] = '\0';
        if (!strstr(c->request, "\r\n\r\n") && c->len < sizeof c->request - 1)
            return; /* the rest is on its way */
        int len = build_reply(reply, sizeof reply);
        if (write(c->fd, reply, len) < 0)
            perror("write");
    }
    close(c->fd); /* also removes it from the epoll set */
    free(c);
}

static int listen_on(int port)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 64) < 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) < 0)
        return -1;
    printf("listening on port %d\n", ntohs(addr.sin_port));
    fflush(stdout);
    return fd;
}

static int watch(int ep, int fd, void *tag)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static void accept_all(int ep)
{
    int fd;
    while ((fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        struct conn *c = calloc(1, sizeof *c);
        if (c)
            c->fd = fd;
        if (!c || watch(ep, fd, c) < 0) {
            close(fd);
            free(c);
        }
    }
}

int main(int argc, char **argv)
{
    if (argc > 2)
        greeting_path = argv[2];
    if (argc > 3)
        backend_host = argv[3];
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigprocmask(SIG_BLOCK, &stop, NULL);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    signal_fd = signalfd(-1, &stop, SFD_NONBLOCK | SFD_CLOEXEC);
    listen_fd = listen_on(argc > 1 ? atoi(argv[1]) : 8080);
    if (ep < 0 || signal_fd < 0 || listen_fd < 0 || watch(ep, signal_fd, &signal_fd) < 0 || watch(ep, listen_fd, &listen_fd) < 0) {
        perror("blocking");
        return 1;
    }
    for (;;) {
        struct epoll_event events[16];
        int n = epoll_wait(ep, events, 16, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            perror("epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            void *tag = events[i].data.ptr;
            if (tag == &signal_fd)
                return 0;
            if (tag == &listen_fd)
                accept_all(ep);
            else
                handle_request(tag);
        }
    }
}
