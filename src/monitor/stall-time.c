/* stall-time: a stall's time split and pauses (stall-time.h). */
#define _GNU_SOURCE
#include "monitor/stall-time.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "monitor/process.h"
#include "monitor/procfs.h"

/* A monitor that wakes later than this after its deadline was kept from looking (a suspended
 * or paused machine, the monitor itself stopped), not merely slow. */
#define LATE_NS (100ull * 1000 * 1000)

/* CPU time and run-queue wait of the thread so far, from its schedstat file, kept open. 0,
 * -errno when the file cannot be read, or -EINVAL when it says no such thing. */
static int schedstat(struct ss_mproc *p, struct ss_slot_view *v, uint64_t *cpu, uint64_t *wait)
{
    if (v->schedstat_fd <= 0) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/task/%d/schedstat", (int)p->pid, (int)v->tid);
        v->schedstat_fd = open(path, O_RDONLY | O_CLOEXEC);
        if (v->schedstat_fd < 0)
            return -errno;
    }
    char buf[128];
    ssize_t n = pread(v->schedstat_fd, buf, sizeof buf - 1, 0);
    if (n < 0)
        return -errno;
    buf[n] = '\0';
    unsigned long long c, w;
    if (sscanf(buf, "%llu %llu", &c, &w) != 2)
        return -EINVAL;
    *cpu = c;
    *wait = w;
    return 0;
}

void ss_stall_time_idle(struct ss_mproc *p, struct ss_slot_view *v, uint64_t iterations)
{
    if (schedstat(p, v, &v->idle_cpu, &v->idle_wait) == 0) {
        v->idle_iterations = iterations;
        v->idle_at = ss_monotonic_ns();
    } else {
        v->idle_at = 0;
    }
}

/* Major page faults of the thread so far: field 12 of its stat file, the 10th after the
 * command's closing parenthesis. 0, or a negative code as schedstat's. */
static int major_faults(const struct ss_mproc *p, const struct ss_slot_view *v, uint64_t *out)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "task/%d/stat", (int)v->tid);
    ssize_t len = ss_proc_read(p->pid, path, buf, sizeof buf);
    if (len < 0)
        return (int)len;
    const char *s = strrchr(buf, ')');
    unsigned long long n;
    if (!s || sscanf(s + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %llu", &n) != 1)
        return -EINVAL;
    *out = n;
    return 0;
}

/* A cgroup's time held back by its CPU limit so far, in ns, from its cpu.stat at path. 0, or
 * a negative code as schedstat's. */
static int read_throttled(const char *path, uint64_t *ns)
{
    char buf[1024];
    unsigned long long v;
    const char *at;
    ssize_t n = ss_read_small_file(path, buf, sizeof buf);
    if (n < 0)
        return (int)n;
    if ((at = strstr(buf, "throttled_usec ")) && sscanf(at, "throttled_usec %llu", &v) == 1)
        *ns = v * 1000;
    else if ((at = strstr(buf, "throttled_time ")) && sscanf(at, "throttled_time %llu", &v) == 1)
        *ns = v;
    else
        return -EINVAL;
    return 0;
}

/* The cpu.stat of the process's CPU cgroup, with throttling figures: cgroup v1's cpu hierarchy,
 * or v2's unified tree (where the cpu controller is on). "" when there is none. */
static void find_cpu_stat(struct ss_mproc *p)
{
    char buf[4096], *save = NULL;
    p->cpu_stat_found = 1;
    p->cpu_stat[0] = '\0';
    if (ss_proc_read(p->pid, "cgroup", buf, sizeof buf) <= 0)
        return;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        /* "ID:CONTROLLERS:PATH"; v2's line has no controllers. */
        char *controllers = strchr(line, ':'),
             *path = controllers ? strchr(controllers + 1, ':') : NULL;
        if (!path)
            continue;
        *path++ = '\0';
        controllers++;
        int v1_cpu = 0;
        for (char *c = controllers; *c; c += strcspn(c, ",") + (c[strcspn(c, ",")] == ','))
            v1_cpu |= strcspn(c, ",") == 3 && strncmp(c, "cpu", 3) == 0;
        uint64_t ns;
        if (v1_cpu)
            snprintf(p->cpu_stat, sizeof p->cpu_stat, "/sys/fs/cgroup/cpu%s/cpu.stat", path);
        else if (!*controllers)
            snprintf(p->cpu_stat, sizeof p->cpu_stat, "/sys/fs/cgroup%s/cpu.stat", path);
        else
            continue;
        if (v1_cpu || read_throttled(p->cpu_stat, &ns) == 0)
            return;
        p->cpu_stat[0] = '\0';
    }
}

/* The process's throttled time, as read_throttled's; -ENOENT when its cgroup has none. */
static int throttled(struct ss_mproc *p, uint64_t *ns)
{
    if (!p->cpu_stat_found)
        find_cpu_stat(p);
    return p->cpu_stat[0] ? read_throttled(p->cpu_stat, ns) : -ENOENT;
}

/* Time the hypervisor gave the machine's CPUs to other guests so far, in ns: the steal column
 * of /proc/stat, summed over CPUs. 0, or a negative code as schedstat's. */
static int stolen(uint64_t *ns)
{
    char buf[512];
    unsigned long long steal;
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0)
        return -EINVAL;
    ssize_t n = ss_read_small_file("/proc/stat", buf, sizeof buf);
    if (n < 0)
        return (int)n;
    if (sscanf(buf, "cpu %*u %*u %*u %*u %*u %*u %*u %llu", &steal) != 1)
        return -EINVAL;
    *ns = steal * (1000000000ull / (uint64_t)hz);
    return 0;
}

void ss_stall_time_begin(struct ss_mproc *p, struct ss_slot_view *v, uint64_t iteration,
                         uint64_t iterations)
{
    v->stopped_ns = v->machine_ns = 0;
    v->stopped_written = v->machine_written = 0;
    v->last_look_ns = ss_monotonic_ns();
    v->split_iteration = 0;
    if (v->idle_at && v->idle_at <= iteration && v->idle_iterations == iterations) {
        v->split_cpu0 = v->idle_cpu;
        v->split_wait0 = v->idle_wait;
        v->split_t0 = iteration;
        v->split_flags = SS_SPLIT_FROM_START;
    } else if (schedstat(p, v, &v->split_cpu0, &v->split_wait0) == 0) {
        v->split_t0 = v->last_look_ns;
        v->split_flags = 0;
    } else {
        return;
    }
    if (major_faults(p, v, &v->split_faults0) == 0)
        v->split_flags |= SS_SPLIT_FAULTS;
    if (throttled(p, &v->split_throttled0) == 0)
        v->split_flags |= SS_SPLIT_THROTTLED;
    if (stolen(&v->split_steal0) == 0)
        v->split_flags |= SS_SPLIT_STEAL;
    v->split_iteration = iteration;
}

/* While the stall lasts a pause is written as it grows by PAUSE_STEP_NS, so that a process
 * stopped for hours under a debugger adds a few records a second; at the end, exactly. */
#define PAUSE_STEP_NS (100ull * 1000 * 1000)

static void write_pause(struct ss_mproc *p, struct ss_slot_view *v, unsigned kind,
                        uint64_t paused_ns, uint64_t *written, uint64_t step)
{
    if (paused_ns == *written || paused_ns - *written < step)
        return;
    struct ss_rec_stall_pause rec = {(uint32_t)v->tid, (uint16_t)kind, 0, v->stall, paused_ns};
    ss_writer_record(&p->out, SS_REC_STALL_PAUSE, &rec, sizeof rec, NULL, 0);
    *written = paused_ns;
}

/* Whether /proc says the thread is stopped: by a signal (T) or by a tracer (t). */
static int stopped(const struct ss_mproc *p, const struct ss_slot_view *v)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "task/%d/stat", (int)v->tid);
    if (ss_proc_read(p->pid, path, buf, sizeof buf) <= 0)
        return 0;
    const char *close = strrchr(buf, ')');
    return close && (close[2] == 'T' || close[2] == 't');
}

void ss_stall_time_look(struct ss_mproc *p, struct ss_slot_view *v, uint64_t now)
{
    if (stopped(p, v) && now > v->last_look_ns)
        v->stopped_ns += now - v->last_look_ns;
    v->last_look_ns = now;
    write_pause(p, v, SS_PAUSE_STOPPED, v->stopped_ns, &v->stopped_written, PAUSE_STEP_NS);
    write_pause(p, v, SS_PAUSE_MACHINE, v->machine_ns, &v->machine_written, PAUSE_STEP_NS);
}

void ss_stall_time_monitor_late(struct ss_mproc *p, uint64_t late_ns, uint64_t now)
{
    if (late_ns < LATE_NS)
        return;
    for (size_t i = 0; i < SS_SEG_SLOTS; i++) {
        struct ss_slot_view *v = &p->views[i];
        if (v->tid && v->stall) {
            v->machine_ns += late_ns;
            /* The time it could not look is not time it saw the thread stopped. */
            v->last_look_ns = now;
        }
    }
}

void ss_stall_time_end(struct ss_mproc *p, struct ss_slot_view *v, uint64_t iteration,
                       uint64_t end_ns)
{
    if (v->stall == iteration) {
        write_pause(p, v, SS_PAUSE_STOPPED, v->stopped_ns, &v->stopped_written, 1);
        write_pause(p, v, SS_PAUSE_MACHINE, v->machine_ns, &v->machine_written, 1);
    }
    uint64_t cpu, wait;
    if (v->split_iteration != iteration || end_ns <= v->split_t0 || schedstat(p, v, &cpu, &wait))
        return;
    /* The counters and the clock are read at slightly different moments, and from the
     * start the baseline was read a little before the stall began: neither share may exceed
     * the window. */
    uint64_t window = end_ns - v->split_t0;
    uint64_t on_cpu = cpu - v->split_cpu0, runnable = wait - v->split_wait0;
    if (on_cpu > window)
        on_cpu = window;
    if (runnable > window - on_cpu)
        runnable = window - on_cpu;
    uint64_t faults = 0, held = 0, steal = 0;
    uint32_t flags = v->split_flags;
    if (!(flags & SS_SPLIT_FAULTS) || major_faults(p, v, &faults) < 0 || faults < v->split_faults0)
        flags &= ~SS_SPLIT_FAULTS;
    if (!(flags & SS_SPLIT_THROTTLED) || throttled(p, &held) < 0 || held < v->split_throttled0)
        flags &= ~SS_SPLIT_THROTTLED;
    if (!(flags & SS_SPLIT_STEAL) || stolen(&steal) < 0 || steal < v->split_steal0)
        flags &= ~SS_SPLIT_STEAL;
    struct ss_rec_stall_split rec = {
        .tid = (uint32_t)v->tid,
        .flags = flags,
        .stall_id = iteration,
        .window_ns = window,
        .cpu_ns = on_cpu,
        .runnable_ns = runnable,
        .major_faults = flags & SS_SPLIT_FAULTS ? faults - v->split_faults0 : 0,
        .throttled_ns = flags & SS_SPLIT_THROTTLED ? held - v->split_throttled0 : 0,
        .steal_ns = flags & SS_SPLIT_STEAL ? steal - v->split_steal0 : 0};
    ss_writer_record(&p->out, SS_REC_STALL_SPLIT, &rec, sizeof rec, NULL, 0);
    v->split_iteration = 0;
}

void ss_stall_time_forget(struct ss_slot_view *v)
{
    if (v->schedstat_fd > 0)
        close(v->schedstat_fd);
    v->schedstat_fd = 0;
}
