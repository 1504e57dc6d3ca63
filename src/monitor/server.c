/* server: the monitor's main thread. It accepts the segments shims hand over, checks who sent
 * them, starts a tracker for each, answers the controlling program's syncs and reaps trackers
 * whose process has ended. */
#define _GNU_SOURCE
#include "monitor/monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "monitor/process.h"
#include "monitor/procfs.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
#define MAX_PENDING 64
/* A shim sends its segment right after connecting; one that does not within this long is
 * dropped. */
#define HELLO_TIMEOUT_NS 2000000000ull

struct pending {
    int fd;
    uint64_t since;
};

struct server {
    const struct ss_monitor_options *o;
    int listen_fd, wake_fd, control_fd;
    struct pending pending[MAX_PENDING];
    size_t npending;
    struct ss_mproc *procs;
    uid_t euid;
};

static void tracker_finished(void *ctx)
{
    struct server *s = ctx;
    uint64_t one = 1;
    if (write(s->wake_fd, &one, sizeof one) < 0) {
        /* The counter cannot overflow here; the main loop polls anyway. */
    }
}

/* A listening socket, or a negated errno. */
static int listen_on(const char *name, char *why, size_t why_size)
{
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        int err = errno;
        snprintf(why, why_size, "socket: %s", strerror(err));
        return -err;
    }
    struct sockaddr_un addr;
    socklen_t addr_len = ss_seg_monitor_address(name, &addr);
    if (!addr_len) {
        snprintf(why, why_size, "bad monitor name '%s'", name);
        close(fd);
        return -EINVAL;
    }
    if (bind(fd, (struct sockaddr *)&addr, addr_len) != 0 || listen(fd, 4096) != 0) {
        int err = errno;
        snprintf(why, why_size, "cannot listen as monitor %s: %s", name, strerror(err));
        close(fd);
        return -err;
    }
    return fd;
}

static void read_process_facts(struct ss_mproc *p)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/exe", (int)p->pid);
    ssize_t n = readlink(path, p->exe, sizeof p->exe);
    p->exe_len = n > 0 ? (uint32_t)n : 0;
    n = ss_proc_read(p->pid, "cmdline", p->cmd, sizeof p->cmd);
    p->cmd_len = n > 0 ? (uint32_t)n : 0;
    struct ss_proc_stat st;
    if (ss_proc_stat(p->pid, &st) == 0)
        p->ppid = st.ppid;
}

/* The descriptor sent with the message, or -1. */
static int received_fd(struct msghdr *msg)
{
    int fd = -1;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int got;
            memcpy(&got, CMSG_DATA(cm) + i * sizeof(int), sizeof got);
            if (fd < 0)
                fd = got;
            else
                close(got);
        }
    }
    return fd;
}

static int peer_pidfd(int conn, pid_t pid)
{
    int pidfd = -1;
    socklen_t len = sizeof pidfd;
    if (getsockopt(conn, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) == 0 && pidfd >= 0)
        return pidfd;
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* A new process: starts its tracker, after the one of the image it replaced (exec), if any,
 * has been told to finish. */
static void adopt(struct server *s, int conn)
{
    struct ss_seg_hello hello;
    struct iovec iov = {&hello, sizeof hello};
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(4 * sizeof(int))];
    } control;
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control.buf,
                         .msg_controllen = sizeof control.buf};
    ssize_t n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    int memfd = n >= 0 ? received_fd(&msg) : -1;
    struct ucred peer;
    socklen_t peer_len = sizeof peer;
    struct stat st;
    struct ss_segment *seg = MAP_FAILED;
    if (n != (ssize_t)sizeof hello || memfd < 0 || memcmp(hello.magic, SS_SEG_MAGIC, 8) != 0 ||
        hello.version != SS_SEG_VERSION || hello.size != sizeof *seg ||
        getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &peer, &peer_len) != 0 || peer.pid != hello.pid ||
        (s->euid != 0 && peer.uid != s->euid) || fstat(memfd, &st) != 0 ||
        (uint64_t)st.st_size < sizeof *seg)
        goto refuse;
    seg = mmap(NULL, sizeof *seg, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    if (seg == MAP_FAILED || seg->pid != peer.pid || seg->version != SS_SEG_VERSION)
        goto refuse;
    struct ss_mproc *p = calloc(1, sizeof *p);
    if (!p)
        goto refuse;
    p->pid = peer.pid;
    p->pidfd = peer_pidfd(conn, p->pid);
    p->seg = seg;
    p->dir = s->o->output;
    p->sampling = seg->config.sampling;
    p->on_finished = tracker_finished;
    p->on_finished_ctx = s;
    read_process_facts(p);
    for (struct ss_mproc *q = s->procs; q; q = q->next)
        if (q->pid == p->pid && !atomic_load(&q->finished)) {
            atomic_store(&q->superseded, 1);
            ss_mproc_poke(q);
        }
    if (ss_mproc_start(p) != 0) {
        if (p->pidfd >= 0)
            close(p->pidfd);
        free(p);
        goto refuse;
    }
    p->next = s->procs;
    s->procs = p;
    close(memfd);
    close(conn);
    return;
refuse:
    if (seg != MAP_FAILED)
        munmap(seg, sizeof *seg);
    if (memfd >= 0)
        close(memfd);
    close(conn);
}

static void accept_all(struct server *s, uint64_t now)
{
    for (;;) {
        int conn = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (conn < 0)
            break;
        if (s->npending == MAX_PENDING) {
            close(conn);
            continue;
        }
        s->pending[s->npending++] = (struct pending){conn, now};
    }
}

/* Reads the messages that have arrived; drops connections that stayed silent too long. */
static void serve_pending(struct server *s, uint64_t now)
{
    size_t kept = 0;
    for (size_t i = 0; i < s->npending; i++) {
        struct pollfd pfd = {s->pending[i].fd, POLLIN, 0};
        if (poll(&pfd, 1, 0) > 0)
            adopt(s, s->pending[i].fd);
        else if (now - s->pending[i].since > HELLO_TIMEOUT_NS)
            close(s->pending[i].fd);
        else
            s->pending[kept++] = s->pending[i];
    }
    s->npending = kept;
}

static void reap(struct server *s)
{
    uint64_t count;
    if (read(s->wake_fd, &count, sizeof count) < 0 && errno != EAGAIN) {
        /* Nothing to read is the usual case. */
    }
    for (struct ss_mproc **pp = &s->procs; *pp;) {
        struct ss_mproc *p = *pp;
        if (!atomic_load(&p->finished)) {
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        struct ss_segment *seg = p->seg;
        ss_mproc_free(p);
        munmap(seg, sizeof *seg);
    }
}

static int alive(const struct ss_mproc *p)
{
    struct pollfd fd = {p->pidfd, POLLIN, 0};
    if (p->pidfd >= 0)
        return poll(&fd, 1, 0) == 0;
    return kill(p->pid, 0) == 0 || errno != ESRCH;
}

/* Everything that has ended is written out: the traces of processes that are gone, and of
 * images replaced by an exec. Those still running go on. */
static void sync_now(struct server *s)
{
    uint64_t now = ss_monotonic_ns();
    accept_all(s, now);
    /* Shims that connected send at once; give them a moment to have done so. */
    for (int round = 0; round < 100 && s->npending; round++) {
        serve_pending(s, ss_monotonic_ns());
        if (s->npending)
            poll(NULL, 0, 1);
    }
    for (struct ss_mproc *p = s->procs; p; p = p->next)
        ss_mproc_poke(p);
    for (;;) {
        reap(s);
        int waiting = 0;
        for (struct ss_mproc *p = s->procs; p; p = p->next)
            waiting |= !atomic_load(&p->finished) && (!alive(p) || atomic_load(&p->superseded) ||
                                                      atomic_load(&p->seg->detached));
        if (!waiting)
            break;
        struct pollfd pfd = {s->wake_fd, POLLIN, 0};
        poll(&pfd, 1, 10);
    }
}

int ss_monitor_serve(const struct ss_monitor_options *o, char *why, size_t why_size)
{
    struct server s = {.o = o, .control_fd = o->control_fd, .euid = geteuid()};
    signal(SIGPIPE, SIG_IGN);
    s.listen_fd = listen_on(o->name, why, why_size);
    if (s.listen_fd < 0)
        return s.listen_fd;
    s.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s.wake_fd < 0) {
        snprintf(why, why_size, "eventfd: %s", strerror(errno));
        close(s.listen_fd);
        return -ENOMEM;
    }
    if (o->ready_fd >= 0) {
        if (write(o->ready_fd, "R", 1) != 1) {
            /* Whoever waited is gone; serve anyway. */
        }
        close(o->ready_fd);
    }
    uint64_t idle_since = ss_monotonic_ns();
    for (;;) {
        struct pollfd fds[3 + MAX_PENDING];
        nfds_t n = 0;
        fds[n++] = (struct pollfd){s.listen_fd, POLLIN, 0};
        fds[n++] = (struct pollfd){s.wake_fd, POLLIN, 0};
        if (s.control_fd >= 0)
            fds[n++] = (struct pollfd){s.control_fd, POLLIN, 0};
        for (size_t i = 0; i < s.npending; i++)
            fds[n++] = (struct pollfd){s.pending[i].fd, POLLIN, 0};
        poll(fds, n, 100);
        uint64_t now = ss_monotonic_ns();
        accept_all(&s, now);
        serve_pending(&s, now);
        reap(&s);
        if (s.control_fd >= 0 && (fds[2].revents & (POLLIN | POLLHUP | POLLERR))) {
            char c;
            ssize_t got = read(s.control_fd, &c, 1);
            if (got == 1 && c == 'S') {
                sync_now(&s);
                if (write(s.control_fd, "D", 1) != 1) {
                    /* The controlling program is gone: noticed at the next read. */
                }
            } else if (got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN)) {
                close(s.control_fd);
                s.control_fd = -1;
                /* The program that started us is gone: its standard error may be a pipe whose
                 * reader waits for every writer to close it. */
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
                if (null >= 0) {
                    dup2(null, STDERR_FILENO);
                    close(null);
                }
            }
        }
        if (s.procs || s.npending || s.control_fd >= 0)
            idle_since = now;
        else if (now - idle_since >= o->linger_ns)
            break;
    }
    close(s.listen_fd);
    close(s.wake_fd);
    return 0;
}
