#define _GNU_SOURCE
#include "util/private-files.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "errors.h"

int ss_open_private(const char *path, int flags, uid_t also_trusted, struct stat *st)
{
    struct stat own;
    if (!st)
        st = &own;
    int fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        /* ELOOP also comes from a loop of links further up the path: lstat tells which. */
        if (lstat(path, st) == 0 && S_ISLNK(st->st_mode))
            return SS_ESYMLINK;
        return -err;
    }
    int code = 0;
    if (fstat(fd, st) != 0)
        code = -errno;
    else if (!(flags & O_DIRECTORY) && !S_ISREG(st->st_mode))
        code = SS_ENOTFILE;
    else if (st->st_uid != geteuid() && st->st_uid != also_trusted)
        code = SS_ENOTOURS;
    if (code == 0)
        return fd;
    close(fd);
    return code;
}

bool ss_private_refused(int code)
{
    return code == SS_ESYMLINK || code == SS_ENOTOURS || code == SS_ENOTFILE;
}
