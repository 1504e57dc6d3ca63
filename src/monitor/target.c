/* target: a traced process seen from the monitor: its life cycle, and fault-safe reads of its
 * memory (process_vm_readv, which fails where a plain read would fault, and never stops the
 * target). Unwinding reads many words from few pages, so those reads go through a small page
 * cache that each unwind starts empty. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "monitor/target-internal.h"

#define PAGE 4096u

int ss_target_open(pid_t pid, struct ss_target **out)
{
    *out = NULL;
    if (pid <= 0)
        return -EINVAL;
    struct ss_target *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->pid = pid;
    int r = ss__unwind_space(t);
    if (r == 0)
        r = ss__target_read_maps(t);
    if (r < 0) {
        ss_target_free(t);
        return r;
    }
    *out = t;
    return 0;
}

void ss_target_free(struct ss_target *t)
{
    if (!t)
        return;
    ss__unwind_destroy(t);
    for (size_t i = 0; i < t->nimgs; i++)
        ss__image_free(t->imgs[i]);
    free(t->imgs);
    free(t->mods);
    free(t->xmods);
    free(t->ranges);
    free(t->maps);
    free(t);
}

pid_t ss_target_pid(const struct ss_target *t)
{
    return t->pid;
}

void ss__target_forget_pages(struct ss_target *t)
{
    for (unsigned i = 0; i < SS_PAGE_CACHE; i++)
        t->pages[i].addr = t->pages[i].used = 0;
}

int ss_target_refresh(struct ss_target *t)
{
    ss__target_forget_pages(t);
    int r = ss__target_read_maps(t);
    ss__unwind_flush(t);
    return r;
}

size_t ss_target_modules(const struct ss_target *t, const struct ss_target_module **mods)
{
    *mods = t->mods;
    return t->nmods;
}

int ss_target_read(struct ss_target *t, uint64_t addr, void *buf, size_t len)
{
    struct iovec local = {buf, len};
    struct iovec remote = {(void *)(uintptr_t)addr, len};
    if (len == 0)
        return 0;
    ssize_t n = process_vm_readv(t->pid, &local, 1, &remote, 1, 0);
    if (n < 0)
        return -errno;
    return (size_t)n == len ? 0 : -EFAULT;
}

static struct ss__page *cached_page(struct ss_target *t, uint64_t page)
{
    struct ss__page *victim = &t->pages[0];
    for (unsigned i = 0; i < SS_PAGE_CACHE; i++) {
        struct ss__page *p = &t->pages[i];
        if (p->addr == page && p->used) {
            p->used = ++t->page_clock;
            return p;
        }
        if (p->used < victim->used)
            victim = p;
    }
    if (ss_target_read(t, page, victim->bytes, PAGE) < 0)
        return NULL;
    victim->addr = page;
    victim->used = ++t->page_clock;
    return victim;
}

int ss__target_read_cached(struct ss_target *t, uint64_t addr, void *buf, size_t len)
{
    uint8_t *out = buf;
    while (len > 0) {
        uint64_t page = addr & ~(uint64_t)(PAGE - 1);
        size_t in = (size_t)(addr - page), n = PAGE - in < len ? PAGE - in : len;
        struct ss__page *p = cached_page(t, page);
        if (!p)
            return -EFAULT;
        memcpy(out, p->bytes + in, n);
        out += n;
        addr += n;
        len -= n;
    }
    return 0;
}

const uint8_t *ss__image_bytes(struct ss_target *t, struct ss__image *img, uint64_t off, size_t len)
{
    if (!img->data)
        return NULL;
    /* Reading a mapped file past its end faults; a file rewritten in place since the target
     * mapped it may have shrunk. Checked once per unwind, not per word. */
    if (img->fd >= 0 && img->checked != t->unwinds) {
        struct stat st;
        img->checked = t->unwinds;
        if (fstat(img->fd, &st) < 0 || st.st_size < 0)
            img->size = 0;
        else if ((uint64_t)st.st_size < img->size)
            img->size = (size_t)st.st_size;
    }
    if (off > img->size || len > img->size - off)
        return NULL;
    return img->data + off;
}
