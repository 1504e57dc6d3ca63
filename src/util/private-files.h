/* private-files: the one rule for paths in places others can write to (a run directory in the
 * shared /tmp, the JIT maps a runtime leaves there), where anyone may plant a file, a
 * directory or a symbolic link under the name stallscope will use, to have it read, written
 * or deleted. Such a path is opened without following a symbolic link in its last component,
 * and used only when it belongs to the effective user or to one other trusted user. */
#ifndef SS_PRIVATE_FILES_H
#define SS_PRIVATE_FILES_H

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Opens path with flags (O_NOFOLLOW and O_CLOEXEC added): a directory when flags hold
 * O_DIRECTORY, else a regular file (pass O_NONBLOCK so a FIFO planted there cannot block the
 * open). It must belong to the effective user or to also_trusted (geteuid() to trust nobody
 * else). Returns the descriptor, with the file's status in *st when st is not NULL, or
 * SS_ESYMLINK, SS_ENOTOURS, SS_ENOTFILE, or -errno when it cannot be opened. */
int ss_open_private(const char *path, int flags, uid_t also_trusted, struct stat *st);

/* Whether a code from ss_open_private is a refusal by the rule (not a failure to open). */
bool ss_private_refused(int code);

#endif
