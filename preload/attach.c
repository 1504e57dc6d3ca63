/* attach: the shim loaded into a process that was already running (stallscope attach), not
 * preloaded. The loader runs the constructor inside an injected dlopen; it only notes the
 * mode. stallscope_attach, called next the same way, starts recording and redirects the
 * modules' GOT entries to the interposers (got.c); stallscope_detach puts them back and ends
 * the recording. The library stays loaded and inert: a thread may still be inside one of its
 * functions, and a later attach uses it again. docs/attach.md tells the whole path. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <string.h>

#include "got.h"
#include "interpose.h"
#include "shim.h"

_Atomic int ss__attached;
_Atomic uint32_t ss__generation;

/* The shim's own executable range, for lookups that must not find its interposers. */
static uintptr_t own_lo, own_hi;

struct order_scan {
    uintptr_t own;
    int libc_seen, after_libc;
};

static int is_libc(const char *name)
{
    const char *base = strrchr(name, '/');
    return strncmp(base ? base + 1 : name, "libc.so", 7) == 0;
}

static int scan_order(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct order_scan *s = arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type != PT_LOAD || s->own < lo || s->own >= lo + ph->p_memsz)
            continue;
        s->after_libc = s->libc_seen;
        own_lo = lo;
        own_hi = lo + ph->p_memsz;
        return 1;
    }
    if (info->dlpi_name && is_libc(info->dlpi_name))
        s->libc_seen = 1;
    return 0;
}

/* A preloaded library comes before the C library in the loader's list; one loaded with
 * dlopen comes after it. */
void ss__note_how_loaded(void)
{
    struct order_scan s = {(uintptr_t)&ss__note_how_loaded, 0, 0};
    dl_iterate_phdr(scan_order, &s);
    atomic_store(&ss__attached, s.after_libc);
}

int ss__in_shim(const void *p)
{
    return (uintptr_t)p >= own_lo && (uintptr_t)p < own_hi;
}

struct option_problem {
    char *message;
    size_t size;
};

static void copy_message(char *to, size_t size, const char *a, const char *b)
{
    if (!to || !size)
        return;
    size_t n = strlen(a), m = b ? strlen(b) : 0;
    if (n >= size)
        n = size - 1;
    if (m > size - 1 - n)
        m = size - 1 - n;
    memcpy(to, a, n);
    memcpy(to + n, b, m);
    to[n + m] = '\0';
}

static void on_problem(void *ctx, const char *what, const char *key, size_t len)
{
    struct option_problem *p = ctx;
    char name[64];
    if (len >= sizeof name)
        len = sizeof name - 1;
    memcpy(name, key, len);
    name[len] = '\0';
    if (p->message[0] == '\0')
        copy_message(p->message, p->size, what, name);
}

int stallscope_attach(const char *options, char *message, size_t size);
int stallscope_attach(const char *options, char *message, size_t size)
{
    int saved = errno;
    int rc = -1;
    copy_message(message, size, "", NULL);
    if (!atomic_load(&ss__attached)) {
        copy_message(message, size, "the shim was preloaded, not attached", NULL);
        goto out;
    }
    if (atomic_load(&ss__active)) {
        copy_message(message, size, "already attached", NULL);
        goto out;
    }
    struct option_problem problem = {message, size};
    ss_options_defaults(&ss__opts);
    if (ss_options_parse(options, &ss__opts, on_problem, &problem) != 0)
        goto out;
    /* Threads keep the slots of an earlier attach in their thread-local state: the next wait
     * of each starts afresh in the new segment. */
    atomic_fetch_add(&ss__generation, 1);
    char why[256];
    if (ss__start(why, sizeof why) != 0) {
        copy_message(message, size, why, NULL);
        goto out;
    }
    int err = 0;
    ss__got_open();
    int patched = ss__got_patch_new(&err);
    if (patched < 0) {
        copy_message(message, size, "cannot redirect the program's calls: ", strerror(err));
        stallscope_detach(NULL, 0);
        goto out;
    }
    rc = patched;
out:
    errno = saved;
    return rc;
}

int stallscope_detach(char *message, size_t size)
{
    int saved = errno;
    copy_message(message, size, "", NULL);
    if (!atomic_load(&ss__active)) {
        copy_message(message, size, "not attached", NULL);
        errno = saved;
        return -1;
    }
    int restored = ss__got_restore();
    if (restored < 0) {
        copy_message(message, size, "busy redirecting the calls of a module just loaded", NULL);
        errno = saved;
        return -1;
    }
    atomic_store(&ss__active, 0);
    struct ss_segment *seg = atomic_load(&ss__seg);
    if (seg) {
        atomic_store(&seg->exit_ns, ss__now());
        atomic_store(&seg->exiting, 1);
        atomic_store(&seg->detached, 1);
        ss__wake_monitor();
    }
    ss__segment_forget_monitor();
    errno = saved;
    return restored;
}

void ss__patch_new_modules(void)
{
    if (!atomic_load_explicit(&ss__attached, memory_order_relaxed) ||
        !atomic_load_explicit(&ss__active, memory_order_relaxed))
        return;
    int err;
    if (ss__got_patch_new(&err) < 0)
        ss__note("modules loaded since the attach are not followed: ", strerror(err));
}
