/* procfs: what the monitor reads of a traced process in /proc, in one place: whole small
 * files, and the fields of /proc/PID/stat it uses. */
#ifndef SS_MONITOR_PROCFS_H
#define SS_MONITOR_PROCFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Reads the small file at path into buf, NUL-terminated: at most size - 1 bytes. Returns the
 * length, or -errno of the open that failed (-EINVAL when buf has no room at all). */
ssize_t ss_read_small_file(const char *path, char *buf, size_t size);
/* The same for /proc/PID/NAME (NAME may have slashes: "task/TID/comm"). */
ssize_t ss_proc_read(pid_t pid, const char *name, char *buf, size_t size);

/* Fields of /proc/PID/stat. */
struct ss_proc_stat {
    char state;
    uint32_t ppid;
    uint64_t start_stack;
};
/* 0, or -errno when the file cannot be read, -EINVAL when it cannot be parsed. */
int ss_proc_stat(pid_t pid, struct ss_proc_stat *out);

#endif
