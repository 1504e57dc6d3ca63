/* log: the shim's only ways to speak: one line on stderr with write(2), and notes for the
 * trace through the segment. No stdio, no allocation, errno preserved. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"

static void write_all_stderr(const char *s, size_t n)
{
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

/* "prefix" a b, cut to fit. Returns the length. */
static size_t compose(char *line, size_t size, const char *prefix, const char *a, const char *b)
{
    size_t len = 0;
    const char *parts[] = {prefix, a ? a : "", b ? b : ""};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(parts[i]);
        if (n > size - 1 - len)
            n = size - 1 - len;
        memcpy(line + len, parts[i], n);
        len += n;
    }
    line[len] = '\0';
    return len;
}

void ss__warn(const char *a, const char *b)
{
    int saved = errno;
    char line[512];
    size_t len = compose(line, sizeof line - 1, "stallscope: ", a, b);
    line[len++] = '\n';
    write_all_stderr(line, len);
    errno = saved;
}

void ss__note(const char *a, const char *b)
{
    ss__warn(a, b);
    struct ss_segment *seg = atomic_load_explicit(&ss__seg, memory_order_acquire);
    if (!seg)
        return;
    uint32_t i = atomic_fetch_add(&seg->notes_next, 1);
    if (i >= SS_SEG_NOTES)
        return;
    compose(seg->notes[i].text, sizeof seg->notes[i].text, "", a, b);
    atomic_store_explicit(&seg->notes[i].ready, 1, memory_order_release);
}
