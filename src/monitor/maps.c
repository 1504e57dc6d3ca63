/* maps: the target's memory map, read from /proc/PID/maps, turned into the module table (one
 * module per executable mapping of a file, and the vDSO) and the table of read-only ranges
 * that unwinding reads from the files instead of from the target. Files are opened where the
 * target sees them (/proc/PID/root), or by the mapping itself (/proc/PID/map_files, for root)
 * when the path now names another file; failing both, the object is read from the target. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "monitor/target-internal.h"
#include "util/array.h"

#define DELETED " (deleted)"
#define SHIM_NAME "libstallscope.so"
#define VDSO_NAME "linux-vdso.so.1"
/* The vDSO is one or two pages; anything much larger is not it. */
#define VDSO_MAX (64 * 1024)

struct mapping {
    uint64_t lo, hi, off;
    dev_t dev;
    ino_t ino;
    char perms[5];
    bool vdso;
    const char *path; /* into the maps text; NULL for anonymous memory */
    size_t path_len;
    struct ss__image *img;
};

struct scan {
    struct mapping *m;
    size_t n, cap;
};

static int read_maps_text(struct ss_target *t, size_t *len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)t->pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? -ESRCH : -errno;
    size_t n = 0;
    for (;;) {
        if (n + 4096 + 1 > t->maps_cap) {
            size_t cap = t->maps_cap ? t->maps_cap * 2 : 65536;
            char *p = realloc(t->maps, cap);
            if (!p) {
                close(fd);
                return -ENOMEM;
            }
            t->maps = p;
            t->maps_cap = cap;
        }
        ssize_t r = read(fd, t->maps + n, t->maps_cap - n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            return -e;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    t->maps[n] = '\0';
    /* A process that exited (a zombie included) has no memory map left. */
    if (n == 0)
        return -ESRCH;
    *len = n;
    return 0;
}

static uint64_t hex(char **p)
{
    return strtoull(*p, p, 16);
}

/* One line: "lo-hi perms offset major:minor inode   path". 0, or -EINVAL for a malformed one. */
static int parse_line(char *line, char *end, struct mapping *m)
{
    char *p = line;
    memset(m, 0, sizeof *m);
    m->lo = hex(&p);
    if (*p++ != '-')
        return -EINVAL;
    m->hi = hex(&p);
    if (*p++ != ' ' || end - p < 5)
        return -EINVAL;
    memcpy(m->perms, p, 4);
    p += 4;
    m->off = hex(&p);
    unsigned maj = (unsigned)hex(&p);
    if (*p++ != ':')
        return -EINVAL;
    unsigned min = (unsigned)hex(&p);
    m->dev = makedev(maj, min);
    m->ino = (ino_t)strtoull(p, &p, 10);
    if (p > end || m->hi <= m->lo)
        return -EINVAL;
    while (p < end && *p == ' ')
        p++;
    /* Files, and of the kernel's names in brackets only the vDSO. */
    m->vdso = end - p == 6 && memcmp(p, "[vdso]", 6) == 0;
    if (m->vdso || (p < end && *p == '/' && m->ino != 0)) {
        m->path = p;
        m->path_len = (size_t)(end - p);
    }
    return 0;
}

static int scan_maps(struct ss_target *t, size_t len, struct scan *s)
{
    for (char *line = t->maps, *stop = t->maps + len; line < stop;) {
        char *end = memchr(line, '\n', (size_t)(stop - line));
        if (!end)
            end = stop;
        *end = '\0';
        struct mapping m;
        if (parse_line(line, end, &m) == 0 && m.path) {
            if (SS_ARRAY_GROW(s->m, s->cap, s->n + 1) < 0)
                return -ENOMEM;
            s->m[s->n++] = m;
        }
        line = end + 1;
    }
    return 0;
}

static struct ss__image *find_image(struct ss_target *t, const struct mapping *m)
{
    for (size_t i = 0; i < t->nimgs; i++) {
        struct ss__image *img = t->imgs[i];
        if (m->vdso ? img->vdso && img->mem_base == m->lo
                    : !img->vdso && img->dev == m->dev && img->ino == m->ino)
            return img;
    }
    return NULL;
}

/* The file at path if it is the one the mapping maps, opened read-only; else -ENOENT when
 * what has that name is another file, or -errno of the call that failed. It is first opened
 * without being opened for reading: whatever now has that name (a device, a FIFO another user
 * planted) is only looked at, never opened. */
static int open_if_mapped(const char *path, const struct mapping *m)
{
    struct stat st;
    char self[64];
    int fd = -ENOENT, probe = open(path, O_PATH | O_CLOEXEC);
    if (probe < 0)
        return -errno;
    if (fstat(probe, &st) < 0) {
        fd = -errno;
    } else if (S_ISREG(st.st_mode) && st.st_dev == m->dev && st.st_ino == m->ino) {
        snprintf(self, sizeof self, "/proc/self/fd/%d", probe);
        if ((fd = open(self, O_RDONLY | O_CLOEXEC)) < 0)
            fd = -errno;
    }
    close(probe);
    return fd;
}

/* The mapped file itself, opened read-only, or a negative code as open_if_mapped's. */
static int open_file(struct ss_target *t, const struct mapping *m, const char *path)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "/proc/%d/root%s", (int)t->pid, path);
    int fd = open_if_mapped(p, m);
    if (fd >= 0)
        return fd;
    /* Deleted or replaced since the target mapped it: only the mapping still leads to it, and
     * the kernel lets only privileged monitors follow that. */
    snprintf(p, sizeof p, "/proc/%d/map_files/%llx-%llx", (int)t->pid, (unsigned long long)m->lo,
             (unsigned long long)m->hi);
    return open_if_mapped(p, m);
}

static void attach_file(struct ss_target *t, struct ss__image *img, const struct mapping *m)
{
    int fd = open_file(t, m, img->path);
    struct stat st;
    if (fd < 0)
        return;
    if (fstat(fd, &st) == 0 && st.st_size > 0 && (uint64_t)st.st_size <= SIZE_MAX) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p != MAP_FAILED) {
            img->data = p;
            img->size = (size_t)st.st_size;
            img->fd = fd;
            img->checked = t->unwinds;
            return;
        }
    }
    close(fd);
}

/* The address the target maps the first page of m's file at, or 0. */
static uint64_t first_page(const struct scan *s, const struct mapping *m)
{
    for (size_t i = 0; i < s->n; i++)
        if (!s->m[i].vdso && s->m[i].dev == m->dev && s->m[i].ino == m->ino && s->m[i].off == 0)
            return s->m[i].lo;
    return 0;
}

static struct ss__image *new_image(struct ss_target *t, const struct scan *s,
                                   const struct mapping *m)
{
    struct ss__image *img = calloc(1, sizeof *img);
    if (!img)
        return NULL;
    img->fd = -1;
    size_t len = m->path_len;
    if (!m->vdso && len > strlen(DELETED) &&
        memcmp(m->path + len - strlen(DELETED), DELETED, strlen(DELETED)) == 0)
        len -= strlen(DELETED);
    img->path = m->vdso ? strdup(VDSO_NAME) : strndup(m->path, len);
    if (!img->path) {
        free(img);
        return NULL;
    }
    const char *base = strrchr(img->path, '/');
    img->self = base && strcmp(base + 1, SHIM_NAME) == 0;
    img->vdso = m->vdso;
    img->dev = m->dev;
    img->ino = m->ino;
    if (m->vdso) {
        /* Its code exists only in the target: keep a copy, so that unwinding needs no
         * system call for it and still works once the target is gone. */
        size_t size = m->hi - m->lo;
        uint8_t *copy = size <= VDSO_MAX ? malloc(size) : NULL;
        if (copy && ss_target_read(t, m->lo, copy, size) == 0) {
            img->data = copy;
            img->size = size;
        } else {
            free(copy);
        }
        img->mem_base = m->lo;
    } else {
        attach_file(t, img, m);
        if (!img->data)
            img->mem_base = first_page(s, m);
    }
    if (img->data || img->mem_base)
        ss__image_parse(t, img);
    return img;
}

void ss__image_free(struct ss__image *img)
{
    if (!img)
        return;
    if (img->fd >= 0) {
        munmap((void *)img->data, img->size);
        close(img->fd);
    } else {
        free((void *)img->data);
    }
    free(img->phdr);
    free(img->path);
    free(img);
}

/* Attaches every mapping to its image, creating images for objects seen for the first time,
 * and frees the images no mapping names any more. */
static int attach_images(struct ss_target *t, struct scan *s)
{
    for (size_t i = 0; i < t->nimgs; i++)
        t->imgs[i]->seen = false;
    for (size_t i = 0; i < s->n; i++) {
        struct mapping *m = &s->m[i];
        m->img = find_image(t, m);
        if (!m->img) {
            if (SS_ARRAY_GROW(t->imgs, t->capimgs, t->nimgs + 1) < 0)
                return -ENOMEM;
            if (!(m->img = new_image(t, s, m)))
                return -ENOMEM;
            t->imgs[t->nimgs++] = m->img;
        }
        m->img->seen = true;
    }
    size_t kept = 0;
    for (size_t i = 0; i < t->nimgs; i++) {
        if (t->imgs[i]->seen)
            t->imgs[kept++] = t->imgs[i];
        else
            ss__image_free(t->imgs[i]);
    }
    t->nimgs = kept;
    return 0;
}

/* Whether the target maps img's .eh_frame_hdr where a module of bias `bias` looks for it: not
 * so for a second mapping of only the code (V8's remapped builtins). */
static bool tables_at(const struct scan *s, const struct ss__image *img, uint64_t bias)
{
    if (!img->eh_hdr_vaddr)
        return false;
    uint64_t addr = bias + img->eh_hdr_vaddr;
    for (size_t i = 0; i < s->n; i++) {
        const struct mapping *m = &s->m[i];
        if (m->img == img && addr >= m->lo && addr < m->hi)
            return m->off + (addr - m->lo) == img->eh_hdr_off;
    }
    return false;
}

static int build_tables(struct ss_target *t, const struct scan *s)
{
    t->nmods = 0;
    t->nranges = 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct mapping *m = &s->m[i];
        struct ss__image *img = m->img;
        if (m->perms[2] == 'x') {
            if (SS_ARRAY_GROW(t->mods, t->capmods, t->nmods + 1) < 0)
                return -ENOMEM;
            if (SS_ARRAY_GROW(t->xmods, t->capxmods, t->nmods + 1) < 0)
                return -ENOMEM;
            uint64_t bias = ss__image_bias(img, m->lo, m->vdso ? 0 : m->off);
            t->mods[t->nmods] = (struct ss_target_module){
                .path = img->path,
                .bias = bias,
                .lo = m->lo,
                .hi = m->hi,
                .build_id = img->build_id_len ? img->build_id : NULL,
                .build_id_len = img->build_id_len,
            };
            t->xmods[t->nmods] = (struct ss__module){img, tables_at(s, img, bias)};
            t->nmods++;
        }
        uint64_t ro = img->data && m->perms[1] != 'w'
                          ? ss__image_readonly_len(img, m->vdso ? 0 : m->off, m->hi - m->lo)
                          : 0;
        if (ro > 0) {
            if (SS_ARRAY_GROW(t->ranges, t->capranges, t->nranges + 1) < 0)
                return -ENOMEM;
            t->ranges[t->nranges++] =
                (struct ss__range){m->lo, m->lo + ro, m->vdso ? 0 : m->off, img};
        }
    }
    return 0;
}

int ss__target_read_maps(struct ss_target *t)
{
    size_t len = 0;
    int r = read_maps_text(t, &len);
    if (r < 0)
        return r;
    struct scan s = {0};
    r = scan_maps(t, len, &s);
    if (r == 0)
        r = attach_images(t, &s);
    if (r == 0)
        r = build_tables(t, &s);
    free(s.m);
    return r;
}

const struct ss__range *ss__target_range(const struct ss_target *t, uint64_t addr)
{
    size_t lo = 0, hi = t->nranges;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->ranges[mid].lo <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || addr >= t->ranges[lo - 1].hi)
        return NULL;
    return &t->ranges[lo - 1];
}

long ss__target_module_at(const struct ss_target *t, uint64_t addr)
{
    size_t lo = 0, hi = t->nmods;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->mods[mid].lo <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || addr >= t->mods[lo - 1].hi)
        return -1;
    return (long)(lo - 1);
}
