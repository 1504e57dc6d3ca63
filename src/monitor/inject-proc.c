/* inject-proc: what /proc says of the target of an injection: its threads' states and pending
 * signals, its mappings, and why ptrace was refused. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "monitor/inject-internal.h"
#include "monitor/procfs.h"

#define CAP_SYS_PTRACE_BIT 19

/* The text after "Name:" in /proc/PID/task/TID/status (tid 0: /proc/PID/status), or NULL. */
static const char *status_field(pid_t pid, pid_t tid, const char *name, char *buf, size_t size)
{
    char file[64];
    if (tid)
        snprintf(file, sizeof file, "task/%d/status", (int)tid);
    else
        snprintf(file, sizeof file, "status");
    if (ss_proc_read(pid, file, buf, size) <= 0)
        return NULL;
    size_t len = strlen(name);
    for (char *line = buf; line; line = strchr(line, '\n')) {
        line += *line == '\n';
        if (strncmp(line, name, len) == 0 && line[len] == ':')
            return line + len + 1;
    }
    return NULL;
}

long inject_status_number(pid_t pid, pid_t tid, const char *name, int base)
{
    char buf[4096];
    const char *v = status_field(pid, tid, name, buf, sizeof buf);
    return v ? strtol(v, NULL, base) : -1;
}

char inject_thread_state_letter(pid_t pid, pid_t tid)
{
    char file[64], buf[512];
    snprintf(file, sizeof file, "task/%d/stat", (int)tid);
    if (ss_proc_read(pid, file, buf, sizeof buf) <= 0)
        return 0;
    const char *p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : 0;
}

bool inject_signal_pending(pid_t pid, pid_t tid)
{
    char buf[4096];
    const char *own = status_field(pid, tid, "SigPnd", buf, sizeof buf);
    const char *shared = own ? strstr(own, "ShdPnd:") : NULL;
    const char *blocked = shared ? strstr(shared, "SigBlk:") : NULL;
    if (!blocked)
        return true;
    uint64_t pending = strtoull(own, NULL, 16) | strtoull(shared + 7, NULL, 16);
    return (pending & ~strtoull(blocked + 7, NULL, 16)) != 0;
}

static void process_name(pid_t pid, char *buf, size_t size)
{
    if (ss_proc_read(pid, "comm", buf, size) <= 0)
        snprintf(buf, size, "?");
    buf[strcspn(buf, "\n")] = '\0';
}

static bool has_cap_sys_ptrace(void)
{
    char buf[4096];
    const char *v = status_field(getpid(), 0, "CapEff", buf, sizeof buf);
    return v && (strtoull(v, NULL, 16) >> CAP_SYS_PTRACE_BIT & 1);
}

int inject_explain_refusal(pid_t pid, pid_t tid, char *why, size_t size)
{
    long tracer = inject_status_number(pid, tid, "TracerPid", 10);
    if (tracer > 0) {
        char name[64];
        process_name((pid_t)tracer, name, sizeof name);
        inject_say(why, size, "process %d is already traced by process %ld (%s)", (int)pid, tracer,
                   name);
        return -EBUSY;
    }
    char buf[128];
    int scope = -1;
    if (ss_read_small_file("/proc/sys/kernel/yama/ptrace_scope", buf, sizeof buf) > 0)
        scope = atoi(buf);
    bool cap = has_cap_sys_ptrace();
    uid_t me = getuid();
    char status[4096];
    const char *uids = status_field(pid, 0, "Uid", status, sizeof status);
    unsigned ruid = 0, euid = 0, suid = 0;
    bool other_user = uids && sscanf(uids, "%u %u %u", &ruid, &euid, &suid) == 3 &&
                      (ruid != me || euid != me || suid != me);
    if (scope == 3)
        inject_say(why, size,
                   "kernel.yama.ptrace_scope is 3: no process may trace another (until a "
                   "reboot)");
    else if (!cap && geteuid() == 0)
        inject_say(why, size,
                   "running as root without CAP_SYS_PTRACE (a container needs "
                   "--cap-add=SYS_PTRACE)%s",
                   scope > 0 ? ", and kernel.yama.ptrace_scope is not 0" : "");
    else if (!cap && other_user)
        inject_say(why, size,
                   "process %d belongs to another user (uid %u); tracing it needs root or "
                   "CAP_SYS_PTRACE",
                   (int)pid, euid);
    else if (!cap && scope == 2)
        inject_say(why, size,
                   "kernel.yama.ptrace_scope is 2: only a process with CAP_SYS_PTRACE may "
                   "trace (run as root)");
    else if (!cap && scope == 1)
        inject_say(why, size,
                   "kernel.yama.ptrace_scope is 1: a process may trace only its own "
                   "descendants (run as root, or set kernel.yama.ptrace_scope=0)");
    else
        inject_say(why, size,
                   "ptrace of process %d refused: it is not dumpable (setuid, or "
                   "PR_SET_DUMPABLE 0), or a seccomp filter or security module forbids it",
                   (int)pid);
    return -EPERM;
}

int inject_find_mapping(pid_t pid, uint64_t addr, const char *prefix, struct mapping *out)
{
    char file[64];
    snprintf(file, sizeof file, "/proc/%d/maps", (int)pid);
    FILE *f = fopen(file, "re");
    if (!f)
        return errno == ENOENT ? -ESRCH : -errno;
    char line[1024];
    int r = -ENOENT;
    while (r < 0 && fgets(line, sizeof line, f)) {
        unsigned long long lo, hi, off;
        int path_at = 0;
        if (sscanf(line, "%llx-%llx %*s %llx %*s %*s %n", &lo, &hi, &off, &path_at) < 3 || !path_at)
            continue;
        char *path = line + path_at;
        path[strcspn(path, "\n")] = '\0';
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        bool hit = prefix ? off == 0 && *path == '/' && strncmp(base, prefix, strlen(prefix)) == 0
                          : addr >= lo && addr < hi;
        if (hit) {
            out->lo = lo;
            out->hi = hi;
            snprintf(out->path, sizeof out->path, "%s", path);
            r = 0;
        }
    }
    fclose(f);
    return r;
}

bool inject_in_module(pid_t pid, uint64_t addr, const char *prefix)
{
    struct mapping m;
    if (inject_find_mapping(pid, addr, NULL, &m) < 0)
        return false;
    const char *base = strrchr(m.path, '/');
    base = base ? base + 1 : m.path;
    return strncmp(base, prefix, strlen(prefix)) == 0;
}

bool inject_maps_page_zero(pid_t pid)
{
    struct mapping m;
    return inject_find_mapping(pid, 0, NULL, &m) == 0;
}
