#define _GNU_SOURCE
#include "monitor/procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

ssize_t ss_proc_read(pid_t pid, const char *name, char *buf, size_t size)
{
    char path[128];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
    return ss_read_small_file(path, buf, size);
}

ssize_t ss_read_small_file(const char *path, char *buf, size_t size)
{
    if (size == 0)
        return -EINVAL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t len = 0;
    while (len < size - 1) {
        ssize_t n = read(fd, buf + len, size - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = errno;
            close(fd);
            return -err;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    return (ssize_t)len;
}

int ss_proc_stat(pid_t pid, struct ss_proc_stat *out)
{
    char buf[1024];
    ssize_t n = ss_proc_read(pid, "stat", buf, sizeof buf);
    if (n < 0)
        return (int)n;
    /* "pid (comm) state ppid ...": the name may hold anything but the last ')'. */
    char *p = strrchr(buf, ')');
    unsigned ppid;
    char state;
    if (!p || sscanf(p + 1, " %c %u", &state, &ppid) != 2)
        return -EINVAL;
    out->state = state;
    out->ppid = ppid;
    /* startstack is the 26th field after the name. */
    for (int field = 0; p && field < 26; field++)
        p = strchr(p + 1, ' ');
    out->start_stack = p ? strtoull(p + 1, NULL, 10) : 0;
    return 0;
}
