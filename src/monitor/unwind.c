/* unwind: return addresses from a copied stack and registers, with libunwind's remote
 * interface. Unwind tables are found here, not by libunwind: the module table says which
 * object holds an address, and its .eh_frame_hdr search table is handed to libunwind's
 * table search. Memory comes from the stack copy, then from the module files (no system call,
 * and still there after the target exited), then from the target. Code without unwind
 * information (JIT code) is left to libunwind's frame-pointer walk. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "monitor/target-internal.h"

/* libunwind's own table search, exported but not declared by its headers. */
int _Ux86_64_dwarf_search_unwind_table(unw_addr_space_t as, unw_word_t ip, unw_dyn_info_t *di,
                                       unw_proc_info_t *pi, int need_unwind_info, void *arg);

/* A walk longer than this is a loop in a damaged stack. */
#define MAX_STEPS (4 * 256)

struct walk {
    struct ss_target *t;
    const struct ss_regs *regs;
    uint64_t stack_base;
    const uint8_t *stack;
    size_t stack_len;
    const struct ss__range *range; /* the last one read from: reads cluster */
};

/* A word at addr from the module files; 0, or -EFAULT when they do not hold it (the target is
 * asked then). */
static int read_range(struct walk *w, uint64_t addr, unw_word_t *val)
{
    const struct ss__range *r = w->range;
    if (!r || addr < r->lo || addr >= r->hi) {
        r = ss__target_range(w->t, addr);
        if (!r)
            return -EFAULT;
        w->range = r;
    }
    if (r->hi - addr < sizeof *val)
        return -EFAULT;
    const uint8_t *p = ss__image_bytes(w->t, r->img, r->off + (addr - r->lo), sizeof *val);
    if (!p)
        return -EFAULT;
    memcpy(val, p, sizeof *val);
    return 0;
}

static int access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *val, int write, void *arg)
{
    (void)as;
    struct walk *w = arg;
    if (write)
        return -UNW_EREADONLYREG;
    if (addr >= w->stack_base && w->stack_len >= sizeof *val &&
        addr - w->stack_base <= w->stack_len - sizeof *val) {
        memcpy(val, w->stack + (addr - w->stack_base), sizeof *val);
        return 0;
    }
    if (read_range(w, addr, val) == 0)
        return 0;
    return ss__target_read_cached(w->t, addr, val, sizeof *val) == 0 ? 0 : -UNW_EINVAL;
}

static int access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *val, int write, void *arg)
{
    (void)as;
    const struct walk *w = arg;
    if (write)
        return -UNW_EREADONLYREG;
    if (reg < 0 || reg >= SS_NREGS || !(w->regs->known & (1u << reg)))
        return -UNW_EBADREG;
    *val = w->regs->r[reg];
    return 0;
}

static int access_fpreg(unw_addr_space_t as, unw_regnum_t reg, unw_fpreg_t *val, int write,
                        void *arg)
{
    (void)as, (void)reg, (void)val, (void)write, (void)arg;
    return -UNW_EBADREG;
}

static int resume(unw_addr_space_t as, unw_cursor_t *c, void *arg)
{
    (void)as, (void)c, (void)arg;
    return -UNW_EINVAL;
}

static int get_proc_name(unw_addr_space_t as, unw_word_t ip, char *buf, size_t len, unw_word_t *off,
                         void *arg)
{
    (void)as, (void)ip, (void)buf, (void)len, (void)off, (void)arg;
    return -UNW_ENOINFO;
}

/* Nothing registers unwind information at run time (that is what JIT code would need); the
 * frame-pointer walk covers it. */
static int get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *addr, void *arg)
{
    (void)as, (void)addr, (void)arg;
    return -UNW_ENOINFO;
}

/* libunwind frees what a table search allocates itself. */
static void put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi, void *arg)
{
    (void)as, (void)pi, (void)arg;
}

static int find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi,
                          int need_unwind_info, void *arg)
{
    struct walk *w = arg;
    long i = ss__target_module_at(w->t, ip);
    if (i < 0 || !w->t->xmods[i].tables)
        return -UNW_ENOINFO;
    const struct ss_target_module *m = &w->t->mods[i];
    const struct ss__image *img = w->t->xmods[i].img;
    unw_dyn_info_t di;
    memset(&di, 0, sizeof di);
    di.start_ip = m->lo;
    di.end_ip = m->hi;
    di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
    di.u.rti.segbase = m->bias + img->eh_hdr_vaddr;
    di.u.rti.table_data = di.u.rti.segbase + img->eh_table_off;
    di.u.rti.table_len = img->eh_fde_count * 8 / sizeof(unw_word_t);
    int r = _Ux86_64_dwarf_search_unwind_table(as, ip, &di, pi, need_unwind_info, arg);
    /* Any failure (no entry, a table the file no longer holds) leaves the frame to the
     * frame-pointer walk, which libunwind tries only after -UNW_ENOINFO. */
    return r < 0 ? -UNW_ENOINFO : r;
}

static unw_accessors_t accessors = {
    .find_proc_info = find_proc_info,
    .put_unwind_info = put_unwind_info,
    .get_dyn_info_list_addr = get_dyn_info_list_addr,
    .access_mem = access_mem,
    .access_reg = access_reg,
    .access_fpreg = access_fpreg,
    .resume = resume,
    .get_proc_name = get_proc_name,
};

/* libunwind sets itself up at its first use, writing globals that its other users then read
 * without its lock once they see it done: it is set up once, before a second thread uses it. */
static void set_up_libunwind(void)
{
    unw_addr_space_t as = unw_create_addr_space(&accessors, 0);
    if (!as)
        return;
    unw_set_caching_policy(as, UNW_CACHE_GLOBAL);
    unw_destroy_addr_space(as);
}

void ss_target_prepare(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, set_up_libunwind);
}

int ss__unwind_space(struct ss_target *t)
{
    t->as = unw_create_addr_space(&accessors, 0);
    if (!t->as)
        return -ENOMEM;
    /* Register states are cached by address; the cache is this target's, flushed whenever
     * its memory map is read again. */
    unw_set_caching_policy(t->as, UNW_CACHE_GLOBAL);
    return 0;
}

void ss__unwind_flush(struct ss_target *t)
{
    if (t->as)
        unw_flush_cache(t->as, 0, 0);
}

void ss__unwind_destroy(struct ss_target *t)
{
    if (t->as)
        unw_destroy_addr_space(t->as);
    t->as = NULL;
}

static bool in_shim(const struct ss_target *t, uint64_t addr)
{
    long i = ss__target_module_at(t, addr);
    return i >= 0 && t->xmods[i].img->self;
}

unsigned ss_target_unwind(struct ss_target *t, const struct ss_regs *regs, uint64_t stack_base,
                          const void *stack, size_t stack_len, uint64_t *addr, unsigned max)
{
    const uint32_t needed = (1u << SS_REG_RSP) | (1u << SS_REG_RIP);
    if (!t->as || max == 0 || (regs->known & needed) != needed)
        return 0;
    t->unwinds++;
    ss__target_forget_pages(t);
    struct walk w = {t, regs, stack_base, stack, stack ? stack_len : 0, NULL};
    unw_cursor_t cursor;
    if (unw_init_remote(&cursor, t->as, &w) < 0)
        return 0;
    unsigned n = 0;
    bool exact = true; /* the first frame's pc, and the frame after a signal frame */
    bool leading_shim = true;
    for (unsigned step = 0; n < max && step < MAX_STEPS; step++) {
        unw_word_t ip;
        if (unw_get_reg(&cursor, UNW_REG_IP, &ip) < 0 || ip == 0)
            break;
        uint64_t lookup = exact ? ip : ip - 1;
        /* A capture taken by the shim at a call starts in the shim: not the host's frames. */
        leading_shim = leading_shim && in_shim(t, lookup);
        if (!leading_shim)
            addr[n++] = lookup;
        exact = unw_is_signal_frame(&cursor) > 0;
        if (unw_step(&cursor) <= 0)
            break;
    }
    return n;
}
