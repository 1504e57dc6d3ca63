#define _GNU_SOURCE
#include "monitor/classify.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/segment.h"
#include "monitor/procfs.h"
#include "util/fnv.h"

#define PATH_KIND_TTL_NS 1000000000ull

static uint64_t path_hash(const char *path)
{
    return ss_fnv1a_str(SS_FNV1A_INIT, path) | 1;
}

/* Attributes as the kernel has them cached: no round trip to a file server. */
static int look(const char *path, struct statx *st)
{
    return statx(AT_FDCWD, path, AT_STATX_DONT_SYNC, STATX_TYPE | STATX_INO, st);
}

static int descriptor_nonblocking(pid_t pid, int fd)
{
    char name[32], buf[256];
    snprintf(name, sizeof name, "fdinfo/%d", fd);
    if (ss_proc_read(pid, name, buf, sizeof buf) <= 0)
        return 0;
    const char *flags = strstr(buf, "flags:");
    return flags && (strtoul(flags + 6, NULL, 8) & O_NONBLOCK) != 0;
}

/* Whether the descriptor still names the file the call was made on: its link reads as the
 * path (only a path from the root can be compared). */
static int still_names(pid_t pid, int fd, const char *detail)
{
    if (detail[0] != '/')
        return 1;
    char link[64], target[4096];
    snprintf(link, sizeof link, "/proc/%d/fd/%d", (int)pid, fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n <= 0)
        return 0;
    target[n] = '\0';
    return strcmp(target, detail) == 0;
}

int ss_classify(struct ss_classifier *c, int fd, const char *detail, uint64_t now_ns, int *kind_out,
                int *nonblocking_out)
{
    *kind_out = 0;
    *nonblocking_out = 0;
    struct ss_path_kind *known = NULL;
    uint64_t hash = 0;
    if (detail[0] == '/') {
        hash = path_hash(detail);
        known = &c->paths[hash % SS_PATH_KINDS];
        if (known->hash == hash && now_ns - known->checked_ns < PATH_KIND_TTL_NS)
            return ss_fd_category(known->kind, 0, c->strict);
    }
    struct statx st;
    char path[4200];
    int by_fd = 0;
    if (fd >= 0 && still_names(c->pid, fd, detail)) {
        snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)c->pid, fd);
        by_fd = look(path, &st) == 0;
    }
    if (!by_fd) {
        /* The descriptor is gone or reused: the path, seen from the process's root, or from
         * ours once the process has ended. */
        if (!known)
            return SS_CAT_NONE;
        snprintf(path, sizeof path, "/proc/%d/root%s", (int)c->pid, detail);
        if (look(path, &st) != 0 && look(detail, &st) != 0)
            return SS_CAT_NONE;
    }
    enum ss_fd_kind kind = ss_fd_kind_of_mode(st.stx_mode);
    if (known)
        *known = (struct ss_path_kind){hash, now_ns, kind};
    int nonblocking = by_fd && kind == SS_FD_SOCKET && descriptor_nonblocking(c->pid, fd);
    if (by_fd) {
        *kind_out = kind;
        *nonblocking_out = nonblocking;
    }
    return ss_fd_category(kind, nonblocking, c->strict);
}

/* A socket is named as one: by now its number may belong to something else. */
void ss_describe(pid_t pid, int fd, int category, const char *detail, char *out, size_t size)
{
    if (detail[0] || fd < 0) {
        snprintf(out, size, "%s", detail);
        return;
    }
    if (category == SS_CAT_NET) {
        snprintf(out, size, "fd %d: socket", fd);
        return;
    }
    char link[64], target[96];
    snprintf(link, sizeof link, "/proc/%d/fd/%d", (int)pid, fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    target[n > 0 ? n : 0] = '\0';
    snprintf(out, size, "fd %d%s%s", fd, n > 0 ? ": " : "", target);
}
