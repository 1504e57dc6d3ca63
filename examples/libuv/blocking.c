/* A libuv HTTP server with a problem planted in its request handler: it reads the file it
 * serves with uv_fs_open, uv_fs_read and uv_fs_close given no callback, which libuv then runs
 * synchronously, on the loop thread, while every other client waits. fixed.c passes
 * callbacks, so that libuv runs them in its thread pool; diff the two.
 *
 * usage: blocking [PORT [FILE]]   (PORT 0 picks a free port; SIGTERM or ^C stops it)
 * Every reply is FILE (default /etc/os-release). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static const char *served_path = "/etc/os-release";
static const char header[] = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n";

struct client {
    uv_tcp_t tcp; /* first, so that a handle is its client */
    size_t len;
    char request[2048];
    uv_write_t write;
    char reply[8192];
};

static void on_closed(uv_handle_t *handle)
{
    free(handle);
}

static void on_written(uv_write_t *req, int status)
{
    (void)status;
    uv_close((uv_handle_t *)req->handle, on_closed);
}

static void send_reply(struct client *c, size_t len)
{
    uv_buf_t buf = uv_buf_init(c->reply, len);
    if (uv_write(&c->write, (uv_stream_t *)&c->tcp, &buf, 1, on_written) < 0)
        uv_close((uv_handle_t *)&c->tcp, on_closed);
}

/* The planted problem: without a callback, each uv_fs_* call blocks until it is done. */
static void serve_file(struct client *c)
{
    uv_loop_t *loop = c->tcp.loop;
    uv_fs_t req;
    ssize_t n = 0;
    memcpy(c->reply, header, sizeof header - 1);
    uv_file file = uv_fs_open(loop, &req, served_path, O_RDONLY, 0, NULL);
    uv_fs_req_cleanup(&req);
    if (file >= 0) {
        uv_buf_t buf = uv_buf_init(c->reply + sizeof header - 1, sizeof c->reply - sizeof header);
        n = uv_fs_read(loop, &req, file, &buf, 1, 0, NULL);
        uv_fs_req_cleanup(&req);
        uv_fs_close(loop, &req, file, NULL);
        uv_fs_req_cleanup(&req);
    }
    send_reply(c, sizeof header - 1 + (n > 0 ? n : 0));
}

static void make_room(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct client *c = (struct client *)handle;
    (void)suggested;
    *buf = uv_buf_init(c->request + c->len, sizeof c->request - 1 - c->len);
}

/* Reads until the end of the request's headers, then answers. */
static void on_request_data(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf)
{
    struct client *c = (struct client *)stream;
    (void)buf;
    if (n < 0) {
        uv_close((uv_handle_t *)stream, on_closed);
        return;
    }
    c->len += n;
    c->request[c->len] = '\0';
    if (!strstr(c->request, "\r\n\r\n") && c->len < sizeof c->request - 1)
        return; /* the rest is on its way */
    uv_read_stop(stream);
    serve_file(c);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct client *c = status < 0 ? NULL : calloc(1, sizeof *c);
    if (!c)
        return;
    uv_tcp_init(server->loop, &c->tcp);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, make_room, on_request_data) < 0)
        uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_stop_signal(uv_signal_t *handle, int signum)
{
    (void)signum;
    uv_stop(handle->loop);
}

int main(int argc, char **argv)
{
    uv_loop_t *loop = uv_default_loop();
    uv_tcp_t server;
    uv_signal_t term, interrupt;
    struct sockaddr_in addr;
    int len = sizeof addr, err;
    if (argc > 2)
        served_path = argv[2];
    uv_tcp_init(loop, &server);
    uv_signal_init(loop, &term);
    uv_signal_init(loop, &interrupt);
    if ((err = uv_ip4_addr("127.0.0.1", argc > 1 ? atoi(argv[1]) : 8080, &addr)) < 0 ||
        (err = uv_tcp_bind(&server, (struct sockaddr *)&addr, 0)) < 0 ||
        (err = uv_listen((uv_stream_t *)&server, 128, on_connection)) < 0 ||
        (err = uv_tcp_getsockname(&server, (struct sockaddr *)&addr, &len)) < 0 ||
        (err = uv_signal_start(&term, on_stop_signal, SIGTERM)) < 0 ||
        (err = uv_signal_start(&interrupt, on_stop_signal, SIGINT)) < 0) {
        fprintf(stderr, "%s: %s\n", argv[0], uv_strerror(err));
        return 1;
    }
    printf("listening on port %d\n", ntohs(addr.sin_port));
    fflush(stdout);
    uv_run(loop, UV_RUN_DEFAULT); /* until a signal stops it */
    return 0;
}
