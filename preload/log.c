/* log: the shim's only way to speak: one line on stderr with write(2), no stdio, no
 * allocation, errno preserved. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"

static void write_all_stderr(const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, s, n);
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
    write_all_stderr(line);
    errno = saved;
}
