/* perf: per-thread cpu-clock events whose samples carry the user registers and the live part
 * of the user stack, copied by the kernel into a ring this process maps. The first sample of
 * a stall comes from a second, one-shot event with a short period whose samples go to the
 * same ring: changing the period of a running event restarts its timer, so one event cannot
 * give both a prompt first sample and an even rhythm after it. */
#define _GNU_SOURCE
#include <asm/perf_regs.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "monitor/perf.h"

#define PAGE 4096u
/* Registers in the order the kernel writes them (by its numbering), and where each goes in
 * libunwind's numbering. */
static const struct {
    unsigned perf, ss;
} reg_map[SS_NREGS] = {
    {PERF_REG_X86_AX, 0},   {PERF_REG_X86_BX, 3},   {PERF_REG_X86_CX, 2},   {PERF_REG_X86_DX, 1},
    {PERF_REG_X86_SI, 4},   {PERF_REG_X86_DI, 5},   {PERF_REG_X86_BP, 6},   {PERF_REG_X86_SP, 7},
    {PERF_REG_X86_IP, 16},  {PERF_REG_X86_R8, 8},   {PERF_REG_X86_R9, 9},   {PERF_REG_X86_R10, 10},
    {PERF_REG_X86_R11, 11}, {PERF_REG_X86_R12, 12}, {PERF_REG_X86_R13, 13}, {PERF_REG_X86_R14, 14},
    {PERF_REG_X86_R15, 15},
};

/* A sample record without its stack bytes: header, pid/tid, time, regs ABI, 17 registers,
 * stack size, dynamic size. A record's size is 16 bits, so the stack gets what is left. */
#define SAMPLE_FIXED (8 + 8 + 8 + 8 + SS_NREGS * 8 + 8 + 8)
#define STACK_MAX ((65535u - SAMPLE_FIXED) & ~7u)

struct ss_perf {
    pid_t pid, tid;
    int fd;      /* the regular event; owns the ring */
    int shot_fd; /* the one-shot event of the current enable, or -1 */
    uint64_t period_ns;
    uint32_t stack_bytes;
    struct perf_event_mmap_page *meta;
    uint8_t *data;
    size_t map_len, data_size;
    uint64_t lost;
    uint8_t scratch[65536]; /* a record that wraps around the ring's end, made contiguous */
};

static uint64_t regs_mask(void)
{
    uint64_t m = 0;
    for (unsigned i = 0; i < SS_NREGS; i++)
        m |= 1ull << reg_map[i].perf;
    return m;
}

static int open_event(const struct ss_perf *p, uint64_t period)
{
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.type = PERF_TYPE_SOFTWARE;
    a.config = PERF_COUNT_SW_CPU_CLOCK;
    a.sample_period = period;
    a.sample_type =
        PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
    a.sample_regs_user = regs_mask();
    a.sample_stack_user = p->stack_bytes;
    a.disabled = 1;
    a.exclude_kernel = 1;
    a.exclude_hv = 1;
    a.use_clockid = 1;
    a.clockid = CLOCK_MONOTONIC;
    a.wakeup_events = 1;
    long fd = syscall(SYS_perf_event_open, &a, p->tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
    return fd < 0 ? -errno : (int)fd;
}

static size_t pow2_at_least(size_t n)
{
    size_t p = PAGE;
    while (p < n)
        p *= 2;
    return p;
}

/* Maps a ring for two whole samples, or for one when the locked-memory budget is short. */
static int map_ring(struct ss_perf *p)
{
    size_t record = SAMPLE_FIXED + p->stack_bytes;
    size_t sizes[2] = {pow2_at_least(2 * record), pow2_at_least(record)};
    for (unsigned i = 0; i < 2; i++) {
        size_t len = PAGE + sizes[i];
        void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
        if (m != MAP_FAILED) {
            p->meta = m;
            p->map_len = len;
            p->data_size = p->meta->data_size ? p->meta->data_size : sizes[i];
            p->data = (uint8_t *)m + (p->meta->data_offset ? p->meta->data_offset : PAGE);
            return 0;
        }
        if (errno != EPERM && errno != ENOMEM)
            return -errno;
    }
    return -ENOBUFS;
}

int ss_perf_open(pid_t pid, pid_t tid, uint64_t period_ns, uint32_t stack_bytes,
                 struct ss_perf **out)
{
    *out = NULL;
    if (pid <= 0 || tid <= 0 || period_ns == 0)
        return -EINVAL;
    char task[64];
    snprintf(task, sizeof task, "/proc/%d/task/%d", (int)pid, (int)tid);
    if (access(task, F_OK) < 0)
        return -ESRCH;
    struct ss_perf *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->pid = pid;
    p->tid = tid;
    p->shot_fd = -1;
    p->period_ns = period_ns;
    p->stack_bytes = stack_bytes == 0 || stack_bytes > STACK_MAX ? STACK_MAX : stack_bytes & ~7u;
    p->fd = open_event(p, period_ns);
    int r = p->fd < 0 ? p->fd : map_ring(p);
    if (r < 0) {
        ss_perf_close(p);
        return r;
    }
    *out = p;
    return 0;
}

void ss_perf_close(struct ss_perf *p)
{
    if (!p)
        return;
    if (p->shot_fd >= 0)
        close(p->shot_fd);
    if (p->meta)
        munmap(p->meta, p->map_len);
    if (p->fd >= 0)
        close(p->fd);
    free(p);
}

int ss_perf_fd(const struct ss_perf *p)
{
    return p->fd;
}

size_t ss_perf_ring_bytes(const struct ss_perf *p)
{
    return p->map_len;
}

uint32_t ss_perf_stack_bytes(const struct ss_perf *p)
{
    return p->stack_bytes;
}

/* A fresh one-shot event: one whose single overflow was not used yet would otherwise fire at
 * a later enable as well. */
static void arm_shot(struct ss_perf *p, uint64_t first_period_ns)
{
    if (p->shot_fd >= 0)
        close(p->shot_fd);
    p->shot_fd = open_event(p, first_period_ns);
    if (p->shot_fd < 0)
        return;
    if (ioctl(p->shot_fd, PERF_EVENT_IOC_SET_OUTPUT, p->fd) < 0 ||
        ioctl(p->shot_fd, PERF_EVENT_IOC_REFRESH, 1) < 0) {
        close(p->shot_fd);
        p->shot_fd = -1;
    }
}

int ss_perf_enable(struct ss_perf *p, uint64_t first_period_ns)
{
    /* Setting the period also forgets what was left of it at the last disable, so the
     * rhythm starts from this enable. */
    uint64_t period = p->period_ns;
    if (ioctl(p->fd, PERF_EVENT_IOC_PERIOD, &period) < 0 ||
        ioctl(p->fd, PERF_EVENT_IOC_ENABLE, 0) < 0)
        return -errno;
    /* Without a one-shot event (a kernel that refuses a second one), the first sample comes
     * one period after enable: later, but sampling works. */
    if (first_period_ns > 0 && first_period_ns < p->period_ns)
        arm_shot(p, first_period_ns);
    return 0;
}

int ss_perf_disable(struct ss_perf *p)
{
    int r = ioctl(p->fd, PERF_EVENT_IOC_DISABLE, 0) < 0 ? -errno : 0;
    if (p->shot_fd >= 0) {
        close(p->shot_fd);
        p->shot_fd = -1;
    }
    return r;
}

/* Copies len bytes at ring offset off, wrapping around the end. */
static void ring_copy(const struct ss_perf *p, uint64_t off, void *dst, size_t len)
{
    size_t at = (size_t)(off & (p->data_size - 1));
    size_t first = p->data_size - at < len ? p->data_size - at : len;
    memcpy(dst, p->data + at, first);
    memcpy((uint8_t *)dst + first, p->data, len - first);
}

static const uint8_t *ring_record(struct ss_perf *p, uint64_t off, size_t len)
{
    size_t at = (size_t)(off & (p->data_size - 1));
    if (at + len <= p->data_size)
        return p->data + at;
    ring_copy(p, off, p->scratch, len);
    return p->scratch;
}

/* The sample in a PERF_RECORD_SAMPLE of size bytes: 0; -ENODATA when it has nothing of ours
 * to unwind (taken outside user code, or of another process); -EBADMSG when it is cut short. */
static int parse_sample(const struct ss_perf *p, const uint8_t *rec, size_t size,
                        struct ss_perf_sample *s)
{
    size_t at = sizeof(struct perf_event_header);
    uint32_t ids[2];
    uint64_t abi, stack_size, dyn_size;
    memset(s, 0, sizeof *s);
    if (size < at + 8 + 8 + 8)
        return -EBADMSG;
    memcpy(ids, rec + at, 8);
    memcpy(&s->time_ns, rec + at + 8, 8);
    memcpy(&abi, rec + at + 16, 8);
    at += 24;
    /* No user registers: the thread was not in user code. Nothing to unwind. */
    if (abi == PERF_SAMPLE_REGS_ABI_NONE || (pid_t)ids[0] != p->pid)
        return -ENODATA;
    if (size < at + SS_NREGS * 8 + 8)
        return -EBADMSG;
    for (unsigned i = 0; i < SS_NREGS; i++)
        memcpy(&s->regs.r[reg_map[i].ss], rec + at + i * 8, 8);
    at += SS_NREGS * 8;
    s->regs.known = SS_REGS_ALL;
    memcpy(&stack_size, rec + at, 8);
    at += 8;
    if (stack_size > 0) {
        if (stack_size > size - at || size - at - stack_size < 8)
            return -EBADMSG;
        memcpy(&dyn_size, rec + at + stack_size, 8);
        s->stack = rec + at;
        /* The kernel copies less than asked near the top of the stack. */
        s->stack_len = dyn_size < stack_size ? dyn_size : stack_size;
    }
    s->tid = (pid_t)ids[1];
    s->stack_base = s->regs.r[SS_REG_RSP];
    return 0;
}

int ss_perf_drain(struct ss_perf *p, void (*fn)(void *ctx, const struct ss_perf_sample *s),
                  void *ctx)
{
    uint64_t head = __atomic_load_n(&p->meta->data_head, __ATOMIC_ACQUIRE);
    uint64_t tail = p->meta->data_tail;
    int n = 0;
    while (tail < head) {
        struct perf_event_header h;
        ring_copy(p, tail, &h, sizeof h);
        if (h.size < sizeof h || h.size > head - tail) {
            /* Damaged: nothing after it can be trusted to start on a record. */
            tail = head;
            break;
        }
        const uint8_t *rec = ring_record(p, tail, h.size);
        struct ss_perf_sample s;
        if (h.type == PERF_RECORD_SAMPLE && parse_sample(p, rec, h.size, &s) == 0) {
            fn(ctx, &s);
            n++;
        } else if (h.type == PERF_RECORD_LOST && h.size >= sizeof h + 16) {
            uint64_t lost;
            memcpy(&lost, rec + sizeof h + 8, 8);
            p->lost += lost;
        }
        tail += h.size;
    }
    __atomic_store_n(&p->meta->data_tail, tail, __ATOMIC_RELEASE);
    return n;
}

uint64_t ss_perf_lost(const struct ss_perf *p)
{
    return p->lost;
}

static int paranoid(void)
{
    FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "re");
    int v = -100;
    if (f) {
        if (fscanf(f, "%d", &v) != 1)
            v = -100;
        fclose(f);
    }
    return v;
}

const char *ss_perf_explain(int err, char *buf, size_t len)
{
    int level = paranoid();
    switch (-err) {
    case EACCES:
    case EPERM:
        if (level > 2)
            snprintf(buf, len,
                     "perf events refused: kernel.perf_event_paranoid is %d, which allows them "
                     "only to root or CAP_PERFMON",
                     level);
        else
            snprintf(buf, len,
                     "perf events refused (%s): a seccomp filter or security module forbids "
                     "them, or the thread is not ours to trace (kernel.perf_event_paranoid is "
                     "%d)",
                     err == -EACCES ? "EACCES" : "EPERM", level);
        break;
    case ENOSYS:
        snprintf(buf, len,
                 "perf events unavailable (ENOSYS): the kernel has none, or a seccomp "
                 "filter hides perf_event_open");
        break;
    case ENOBUFS:
        snprintf(buf, len,
                 "no perf ring could be mapped: the locked-memory budget "
                 "(kernel.perf_event_mlock_kb, RLIMIT_MEMLOCK) is used up");
        break;
    case ESRCH:
        snprintf(buf, len, "the thread is gone");
        break;
    case EMFILE:
    case ENFILE:
        snprintf(buf, len, "out of file descriptors for perf events");
        break;
    default:
        snprintf(buf, len, "perf events cannot sample user stacks here: %s", strerror(-err));
    }
    return buf;
}
