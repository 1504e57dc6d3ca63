/* log: the shim's only ways to speak: one line on stderr, and notes for the trace through the
 * segment. No stdio, no allocation, errno preserved. The line goes only to the stderr the
 * process started with: a program that closed its stderr may have put a file of its own (a
 * daemon's data) under descriptor 2, and a line of ours in it would be corruption; the note
 * still reaches the trace. The system calls are made with syscall() so that the shim's own
 * interposers, which would take the write for the program's, pass them through. */
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

int ss__stderr_identity(uint64_t *dev, uint64_t *ino)
{
    *dev = started_with.dev;
    *ino = started_with.ino;
    return started_with.known;
}

static int stderr_is_the_first(void)
{
    struct stat st;
    return started_with.known && syscall(SYS_fstat, STDERR_FILENO, &st) == 0 &&
           st.st_dev == started_with.dev && st.st_ino == started_with.ino;
}

static void write_all_stderr(const char *s, size_t n)
{
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

/* prefix a b, cut to fit. Returns the length. */
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
    /* Attached to a running process, the shim cannot know what its descriptor 2 was at the
     * start: it says nothing there, and `attach` tells the user. */
    if (!atomic_load_explicit(&ss__attached, memory_order_relaxed) && stderr_is_the_first())
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
