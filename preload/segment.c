/* segment: the process's shared memory with the monitor (src/segment.h). Made at start-up, and
 * in a forked child at its first loop wait, as an anonymous memory file of fixed size whose
 * pages exist only once touched; handed to the monitor over its unix socket with the
 * descriptor attached, after which the shim keeps only the mapping: no descriptor of ours
 * stays open in the host. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"

/* The parent's segment in a forked child that has none of its own yet: its exec ring is
 * where the child's execs are noted. */
static struct ss_segment *inherited;

struct ss_exec_ring *ss__exec_ring(void)
{
    struct ss_segment *seg = atomic_load_explicit(&ss__seg, memory_order_acquire);
    if (!seg)
        seg = inherited;
    return seg ? &seg->execs : NULL;
}

void ss__segment_after_fork(void)
{
    struct ss_segment *parent = atomic_exchange(&ss__seg, NULL);
    if (parent)
        inherited = parent;
}

/* The executable range of the shim itself, whose frames the monitor leaves out; found once,
 * at start-up. */
static uint64_t self_lo, self_hi;

static int find_self(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size, (void)arg;
    uint64_t self = (uint64_t)(uintptr_t)&ss__capture_regs, lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uint64_t start = info->dlpi_addr + ph->p_vaddr;
        if (start < lo)
            lo = start;
        if (start + ph->p_memsz > hi)
            hi = start + ph->p_memsz;
    }
    if (self < lo || self >= hi)
        return 0;
    self_lo = lo;
    self_hi = hi;
    return 1;
}

static void fill_header(struct ss_segment *seg)
{
    memcpy(seg->magic, SS_SEG_MAGIC, sizeof seg->magic);
    seg->version = SS_SEG_VERSION;
    seg->nslots = SS_SEG_SLOTS;
    seg->size = sizeof *seg;
    seg->pid = ss__pid;
    struct timespec real;
    clock_gettime(CLOCK_REALTIME, &real);
    seg->start_mono_ns = ss__now();
    seg->start_real_ns = (uint64_t)real.tv_sec * 1000000000ull + (uint64_t)real.tv_nsec;
    seg->config = (struct ss_seg_config){
        .threshold_ns = ss__opts.threshold_ns,
        .interval_ns = ss__opts.interval_ns,
        .flush_ns = ss__opts.flush_ns,
        .sample_timeout_ns = ss__opts.sample_timeout_ns,
        .call_threshold_ns = ss__opts.call_threshold_ns,
        .signal = ss__opts.signal,
        .strict = ss__opts.strict,
        .stacks = ss__opts.stacks,
        .sampling = ss__opts.sampling,
    };
    unsigned n = ss__call_count < SS_SEG_CALLS_MAX ? ss__call_count : SS_SEG_CALLS_MAX;
    for (unsigned i = 0; i < n; i++)
        strncpy(seg->call_names[i], ss__call_names[i], SS_SEG_CALL_NAME - 1);
    seg->ncalls = n;
    /* Names exec searched are resolved later with the PATH of start-up: the program may
     * change its environment by then. */
    const char *path = getenv("PATH");
    if (path && strlen(path) < sizeof seg->path_list)
        memcpy(seg->path_list, path, strlen(path) + 1);
    if (!self_hi)
        dl_iterate_phdr(find_self, NULL);
    seg->shim_lo = self_lo;
    seg->shim_hi = self_hi;
}

/* Sends the segment to the monitor listening at `name`. */
static int hand_over(int memfd, const struct ss_segment *seg, const char *name, char *why,
                     size_t why_size)
{
    int sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (sock < 0) {
        snprintf(why, why_size, "cannot reach the monitor: %s", strerror(errno));
        return -1;
    }
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    size_t len = strlen(name);
    memcpy(addr.sun_path + 1, name, len);
    int rc = -1;
    if (connect(sock, (struct sockaddr *)&addr,
                (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len)) != 0) {
        snprintf(why, why_size, "cannot reach the monitor %s: %s", name, strerror(errno));
        goto out;
    }
    /* Only a monitor of our own user (or root) gets to read our stacks. */
    struct ucred peer;
    socklen_t peer_len = sizeof peer;
    if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &peer, &peer_len) != 0 ||
        (peer.uid != geteuid() && peer.uid != 0)) {
        snprintf(why, why_size, "the monitor %s belongs to another user", name);
        goto out;
    }
    struct ss_seg_hello hello = {.version = SS_SEG_VERSION, .pid = seg->pid, .size = seg->size};
    memcpy(hello.magic, SS_SEG_MAGIC, sizeof hello.magic);
    struct iovec iov = {&hello, sizeof hello};
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control.buf,
                         .msg_controllen = sizeof control.buf};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &memfd, sizeof memfd);
    if (sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sizeof hello) {
        snprintf(why, why_size, "cannot hand the monitor %s our segment: %s", name,
                 strerror(errno));
        goto out;
    }
    rc = 0;
out:
    close(sock);
    return rc;
}

int ss__segment_create(char *why, size_t why_size)
{
    if (!ss__opts.monitor[0]) {
        snprintf(why, why_size, "no monitor to report to (run the program with stallscope run)");
        return -1;
    }
    /* Our own calls below must not be taken for the host's. */
    ss__tls.in_hook++;
    int rc = -1;
    struct ss_segment *seg = MAP_FAILED;
    int fd = memfd_create("stallscope", MFD_CLOEXEC);
    if (fd < 0) {
        snprintf(why, why_size, "cannot make shared memory: %s", strerror(errno));
        goto out;
    }
    if (ftruncate(fd, (off_t)sizeof *seg) != 0) {
        snprintf(why, why_size, "cannot size shared memory: %s", strerror(errno));
        goto out;
    }
    seg = mmap(NULL, sizeof *seg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (seg == MAP_FAILED) {
        snprintf(why, why_size, "cannot map shared memory: %s", strerror(errno));
        goto out;
    }
    fill_header(seg);
    if (hand_over(fd, seg, ss__opts.monitor, why, why_size) < 0)
        goto out;
    atomic_store_explicit(&ss__seg, seg, memory_order_release);
    rc = 0;
out:
    if (rc < 0 && seg != MAP_FAILED)
        munmap(seg, sizeof *seg);
    if (fd >= 0)
        close(fd);
    ss__tls.in_hook--;
    return rc;
}
