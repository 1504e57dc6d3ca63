#define _GNU_SOURCE
#include "monitor/find-run.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/options.h"
#include "common/segment.h"

/* How /proc/PID/maps names the memfd the shim makes its segment of (preload/segment.c). */
#define SEGMENT_NAME "/memfd:stallscope"
#define DELETED " (deleted)"

struct found {
    int have;
    uint32_t detached;
    uint64_t start_ns;
    char dir[sizeof(((struct ss_segment *)0)->run_dir)];
};

static int denied(int code)
{
    return code == -EPERM || code == -EACCES;
}

static int read_remote(pid_t pid, uint64_t addr, void *to, size_t len)
{
    struct iovec local = {to, len};
    struct iovec remote = {(void *)(uintptr_t)addr, len};
    ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (n < 0)
        return -errno;
    return (size_t)n == len ? 0 : -EIO;
}

#define READ_FIELD(pid, base, field, to)                                                           \
    read_remote(pid, (base) + offsetof(struct ss_segment, field), to, sizeof *(to))

/* The segment mapped at base into f: 1 when it is pid's own segment of this version, 0 when it
 * is not, or the code of the read that failed. */
static int read_segment(pid_t pid, uint64_t base, struct found *f)
{
    char magic[8];
    uint32_t version;
    int32_t owner;
    int rc;
    if ((rc = READ_FIELD(pid, base, magic, &magic)) < 0 ||
        (rc = READ_FIELD(pid, base, version, &version)) < 0 ||
        (rc = READ_FIELD(pid, base, pid, &owner)) < 0)
        return rc;
    if (memcmp(magic, SS_SEG_MAGIC, sizeof magic) != 0 || version != SS_SEG_VERSION ||
        owner != (int32_t)pid)
        return 0;
    if ((rc = READ_FIELD(pid, base, start_mono_ns, &f->start_ns)) < 0 ||
        (rc = READ_FIELD(pid, base, detached, &f->detached)) < 0 ||
        (rc = READ_FIELD(pid, base, run_dir, &f->dir)) < 0)
        return rc;
    f->dir[sizeof f->dir - 1] = '\0';
    return f->dir[0] == '/';
}

/* Whether a line of /proc/PID/maps maps a segment from its start: its address then. */
static int segment_mapping(char *line, uint64_t *base)
{
    uint64_t start, end, offset;
    int name_at = 0;
    if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %*s %" SCNx64 " %*s %*s %n", &start, &end, &offset,
               &name_at) < 3 ||
        name_at == 0)
        return 0;
    char *name = line + name_at;
    name[strcspn(name, "\n")] = '\0';
    size_t len = strlen(SEGMENT_NAME);
    if (strncmp(name, SEGMENT_NAME, len) != 0 ||
        (name[len] != '\0' && strcmp(name + len, DELETED) != 0))
        return 0;
    *base = start;
    return offset == 0 && end - start >= sizeof(struct ss_segment);
}

/* The best of pid's own segments into best: 0, -ENOENT when none was found, or the code of
 * what could not be read. */
static int from_segments(pid_t pid, struct found *best)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    FILE *maps = fopen(path, "re");
    if (!maps)
        return -errno;
    int failed = 0;
    char *line = NULL;
    size_t cap = 0;
    struct found f;
    uint64_t base;
    while (getline(&line, &cap, maps) > 0) {
        if (!segment_mapping(line, &base))
            continue;
        int rc = read_segment(pid, base, &f);
        if (rc < 0 && !failed)
            failed = rc;
        /* A detached recording is over: the process is not traced any more. */
        if (rc <= 0 || f.detached)
            continue;
        if (!best->have || f.start_ns > best->start_ns) {
            *best = f;
            best->have = 1;
        }
    }
    free(line);
    fclose(maps);
    return best->have ? 0 : failed ? failed : -ENOENT;
}

static void ignore_problem(void *ctx, const char *what, const char *key, size_t key_len)
{
    (void)ctx, (void)what, (void)key, (void)key_len;
}

int ss_find_run_dir_in_environment(pid_t pid, char *dir, size_t size)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
    FILE *env = fopen(path, "re");
    if (!env)
        return -errno;
    struct ss_options o;
    ss_options_defaults(&o);
    o.output[0] = '\0';
    char *var = NULL;
    size_t cap = 0;
    size_t len = strlen(SS_OPTIONS_ENV "=");
    while (getdelim(&var, &cap, '\0', env) > 0) {
        /* The first one, as getenv finds it. */
        if (strncmp(var, SS_OPTIONS_ENV "=", len) == 0) {
            ss_options_parse(var + len, &o, ignore_problem, NULL);
            break;
        }
    }
    free(var);
    fclose(env);
    if (!o.output[0])
        return -ENOENT;
    char cwd[4096] = "";
    if (o.output[0] != '/') {
        snprintf(path, sizeof path, "/proc/%d/cwd", (int)pid);
        ssize_t n = readlink(path, cwd, sizeof cwd - 1);
        if (n < 0)
            return -errno;
        cwd[n] = '\0';
    }
    int n = snprintf(dir, size, "%s%s%s", cwd, cwd[0] && strcmp(cwd, "/") ? "/" : "", o.output);
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int ss_find_run_dir(pid_t pid, char *dir, size_t size, char *why, size_t why_size)
{
    char proc[64];
    struct stat st;
    snprintf(proc, sizeof proc, "/proc/%d", (int)pid);
    if (pid <= 0 || stat(proc, &st) < 0) {
        snprintf(why, why_size, "no process %d", (int)pid);
        return -ESRCH;
    }
    struct found best = {0};
    int unreadable = 0;
    int rc = from_segments(pid, &best);
    if (rc == 0) {
        if (strlen(best.dir) < size) {
            strcpy(dir, best.dir);
            return 0;
        }
        rc = -ENAMETOOLONG;
    } else {
        unreadable = denied(rc) ? rc : 0;
        rc = ss_find_run_dir_in_environment(pid, dir, size);
        if (rc == 0)
            return 0;
        if (denied(rc) && !unreadable)
            unreadable = rc;
    }
    if (rc == -ENAMETOOLONG) {
        snprintf(why, why_size, "the run directory of process %d is too long a path", (int)pid);
        return rc;
    }
    if (stat(proc, &st) < 0) {
        snprintf(why, why_size, "no process %d", (int)pid);
        return -ESRCH;
    }
    if (unreadable) {
        if (st.st_uid != geteuid())
            snprintf(why, why_size,
                     "process %d belongs to another user (uid %u): where it is traced cannot be "
                     "read",
                     (int)pid, (unsigned)st.st_uid);
        else
            snprintf(why, why_size, "cannot read where process %d is traced: %s", (int)pid,
                     strerror(-unreadable));
        return unreadable;
    }
    snprintf(why, why_size,
             "process %d is not traced: no stallscope segment in its memory, no output= in "
             "its " SS_OPTIONS_ENV,
             (int)pid);
    return -ENOENT;
}
