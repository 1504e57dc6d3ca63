/* The epoll HTTP server of blocking.c, fixed: the file read and the name lookup run on a
 * worker thread, which hands the finished reply back to the loop through a pipe the loop
 * watches. The loop thread itself only accepts, reads and writes sockets that never block.
 *
 * usage: fixed [PORT [FILE [HOST]]]   (PORT 0 picks a free port; SIGTERM or ^C stops it)
 * Each reply says how long FILE (default /etc/os-release) is and what HOST (default
 * localhost) resolves to. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
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
static int done_pipe[2];          /* workers write finished requests, the loop reads them */

struct conn {
    int fd;
    size_t len;
    char request[2048];
    int reply_len;
    char reply[512];
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

/* Runs on a worker thread: blocking here holds up no other client. */
static void *answer_in_worker(void *arg)
{
    struct conn *c = arg;
    c->reply_len = build_reply(c->reply, sizeof c->reply);
    if (write(done_pipe[1], &c, sizeof c) != sizeof c)
        perror("write");
    return NULL;
}

/* Reads until the end of the request's headers, then hands it to a worker thread. */
static void handle_request(int ep, struct conn *c)
{
    ssize_t n = read(c->fd, c->request + c->len, sizeof c->request - 1 - c->len);
    if (n < 0 && errno == EAGAIN)
        return;
    if (n > 0) {
        c->len += n;
        c->request[c->len] = '\0';
        if (!strstr(c->request, "\r\n\r\n") && c->len < sizeof c->request - 1)
            return; /* the rest is on its way */
        pthread_attr_t detached;
        pthread_t worker;
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        pthread_attr_init(&detached);
        pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
        int started = pthread_create(&worker, &detached, answer_in_worker, c) == 0;
        pthread_attr_destroy(&detached);
        if (started)
            return;
    }
    close(c->fd);
    free(c);
}

/* Back on the loop thread: send the replies the workers finished. */
static void send_replies(void)
{
    struct conn *c;
    while (read(done_pipe[0], &c, sizeof c) == sizeof c) {
        if (write(c->fd, c->reply, c->reply_len) < 0)
            perror("write");
        close(c->fd);
        free(c);
    }
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
    if (ep < 0 || signal_fd < 0 || listen_fd < 0 || pipe2(done_pipe, O_CLOEXEC) < 0 ||
        fcntl(done_pipe[0], F_SETFL, O_NONBLOCK) < 0 || watch(ep, signal_fd, &signal_fd) < 0 ||
        watch(ep, listen_fd, &listen_fd) < 0 || watch(ep, done_pipe[0], done_pipe) < 0) {
        perror("fixed");
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
            else if (tag == done_pipe)
                send_replies();
            else
                handle_request(ep, tag);
        }
    }
}
