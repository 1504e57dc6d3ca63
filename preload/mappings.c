/* mappings: the process's mappings, read with system calls only (see mappings.h). */
#define _GNU_SOURCE
#include "mappings.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

void ss__read_mappings(struct ss_mappings *t)
{
    t->count = 0;
    int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    enum { START, END, READ, WRITE, REST } field = START;
    struct ss_mapping m = {0, 0, 0};
    char buf[4096];
    long n;
    while ((n = syscall(SYS_read, fd, buf, sizeof buf)) > 0) {
        for (long i = 0; i < n; i++) {
            char c = buf[i];
            unsigned digit = c >= 'a' ? (unsigned)(c - 'a' + 10) : (unsigned)(c - '0');
            if (c == '\n') {
                field = START;
                m = (struct ss_mapping){0, 0, 0};
            } else if (field == START) {
                if (c == '-')
                    field = END;
                else
                    m.start = m.start * 16 + digit;
            } else if (field == END) {
                if (c == ' ')
                    field = READ;
                else
                    m.end = m.end * 16 + digit;
            } else if (field == READ) {
                field = WRITE;
            } else if (field == WRITE) {
                m.writable = c == 'w';
                if (t->count < SS_MAX_MAPPINGS)
                    t->entries[t->count++] = m;
                field = REST;
            }
        }
    }
    syscall(SYS_close, fd);
}

int ss__page_writable(const struct ss_mappings *t, uintptr_t address)
{
    uint32_t lo = 0, hi = t->count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const struct ss_mapping *m = &t->entries[mid];
        if (address < m->start)
            hi = mid;
        else if (address >= m->end)
            lo = mid + 1;
        else
            return m->writable;
    }
    return -1;
}
