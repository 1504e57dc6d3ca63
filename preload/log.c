/* log: the shim's only way to speak: one line on stderr, no stdio, no allocation, errno
 * preserved. Only on the stderr the process started with: a program that closed its stderr
 * may have put a file of its own (a daemon's data) under descriptor 2, and a line of ours in
 * it would be corruption. What the shim says also goes into the trace, so nothing is lost.
 * The system calls are made with syscall() so that the shim's own interposers, which would
 * take the write for the program's, pass them through. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"

/* What descriptor 2 was when the shim was loaded (known: 0 when it was not open). */
static struct {
    int known;
    dev_t dev;
    ino_t ino;
} started_with;

/* Before the shim's other constructors, which may warn. */
__attribute__((constructor(101))) static void note_stderr(void)
{
    int saved = errno;
    struct stat st;
    if (syscall(SYS_fstat, STDERR_FILENO, &st) == 0) {
        started_with.known = 1;
        started_with.dev = st.st_dev;
        started_with.ino = st.st_ino;
    }
    errno = saved;
}

static int stderr_is_the_first(void)
{
    struct stat st;
    return started_with.known && syscall(SYS_fstat, STDERR_FILENO, &st) == 0 &&
           st.st_dev == started_with.dev && st.st_ino == started_with.ino;
}

static void write_all_stderr(const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        long w = syscall(SYS_write, STDERR_FILENO, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

void ss__warn(const char *a, const char *b)
{
    int saved = errno;
    char line[512];
    size_t len = 0;
    const char *parts[] = {"stallscope: ", a, b ? b : "", "\n"};
    for (size_t i = 0; i < 4; i++) {
        size_t n = strlen(parts[i]);
        if (n > sizeof line - 1 - len)
            n = sizeof line - 1 - len;
        memcpy(line + len, parts[i], n);
        len += n;
    }
    line[len] = '\0';
    if (stderr_is_the_first())
        write_all_stderr(line);
    errno = saved;
}
