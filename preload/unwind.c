/* unwind: turns a snapshot (registers plus a copy of the stack) into return addresses, on the
 * watchdog thread, with libunwind's remote interface. libunwind is loaded with
 * dlopen(RTLD_LOCAL): linked into a preload library it would take over the host's own
 * exception unwinding. Memory outside the copied stack is read with process_vm_readv, which
 * fails cleanly where a plain read would fault (a library unloaded in between). */
#define _GNU_SOURCE
#include "shim.h"

#include <dlfcn.h>
#include <libunwind.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>

static struct {
    unw_addr_space_t (*create_addr_space)(unw_accessors_t *, int);
    int (*init_remote)(unw_cursor_t *, unw_addr_space_t, void *);
    int (*step)(unw_cursor_t *);
    int (*get_reg)(unw_cursor_t *, unw_regnum_t, unw_word_t *);
    int (*is_signal_frame)(unw_cursor_t *);
    unw_accessors_t *(*get_accessors)(unw_addr_space_t);
    int (*set_caching_policy)(unw_addr_space_t, unw_caching_policy_t);
    void (*flush_cache)(unw_addr_space_t, unw_word_t, unw_word_t);
    unw_addr_space_t space;
    unw_accessors_t accessors;
    uint64_t self_lo, self_hi;
} lib;

static int read_word(uint64_t addr, unw_word_t *val)
{
    struct iovec local = {val, sizeof *val};
    struct iovec remote = {(void *)(uintptr_t)addr, sizeof *val};
    return process_vm_readv(ss__pid, &local, 1, &remote, 1, 0) == (ssize_t)sizeof *val ? 0 : -1;
}

static int access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *val, int write, void *arg)
{
    (void)as;
    const struct ss_snapshot *snap = arg;
    if (write)
        return -UNW_EREADONLYREG;
    if (addr >= snap->stack_base && snap->stack_len >= sizeof *val &&
        addr - snap->stack_base <= snap->stack_len - sizeof *val) {
        memcpy(val, snap->stack + (addr - snap->stack_base), sizeof *val);
        return 0;
    }
    return read_word(addr, val) == 0 ? 0 : -UNW_EINVAL;
}

static int access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *val, int write, void *arg)
{
    (void)as;
    const struct ss_snapshot *snap = arg;
    if (write || reg < 0 || reg >= SS_UNW_REGS)
        return -UNW_EBADREG;
    *val = snap->regs[reg];
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

#define LOAD(field, symbol)                                                                        \
    do {                                                                                           \
        *(void **)&lib.field = dlsym(handle, symbol);                                              \
        if (!lib.field) {                                                                          \
            snprintf(why, why_size, "libunwind lacks %s", symbol);                                 \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)

int ss__unwind_init(char *why, size_t why_size)
{
    if (lib.space)
        return 0;
    void *handle = dlopen("libunwind-x86_64.so.8", RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        snprintf(why, why_size, "cannot load libunwind-x86_64.so.8 (install libunwind8)");
        return -1;
    }
    LOAD(create_addr_space, "_Ux86_64_create_addr_space");
    LOAD(init_remote, "_Ux86_64_init_remote");
    LOAD(step, "_Ux86_64_step");
    LOAD(get_reg, "_Ux86_64_get_reg");
    LOAD(is_signal_frame, "_Ux86_64_is_signal_frame");
    LOAD(get_accessors, "_Ux86_64_get_accessors");
    LOAD(set_caching_policy, "_Ux86_64_set_caching_policy");
    LOAD(flush_cache, "_Ux86_64_flush_cache");
    unw_addr_space_t *local = dlsym(handle, "_Ux86_64_local_addr_space");
    if (!local || !*local) {
        snprintf(why, why_size, "libunwind lacks its local address space");
        return -1;
    }
    /* Unwind tables are found the way local unwinding finds them; memory and registers come
     * from the snapshot. */
    const unw_accessors_t *la = lib.get_accessors(*local);
    memset(&lib.accessors, 0, sizeof lib.accessors);
    lib.accessors.find_proc_info = la->find_proc_info;
    lib.accessors.put_unwind_info = la->put_unwind_info;
    lib.accessors.get_dyn_info_list_addr = la->get_dyn_info_list_addr;
    lib.accessors.access_mem = access_mem;
    lib.accessors.access_reg = access_reg;
    lib.accessors.access_fpreg = access_fpreg;
    lib.accessors.resume = resume;
    lib.accessors.get_proc_name = get_proc_name;
    lib.space = lib.create_addr_space(&lib.accessors, 0);
    if (!lib.space) {
        snprintf(why, why_size, "libunwind cannot create an address space");
        return -1;
    }
    lib.set_caching_policy(lib.space, UNW_CACHE_GLOBAL);
    return 0;
}

void ss__unwind_flush(void)
{
    if (lib.space)
        lib.flush_cache(lib.space, 0, 0);
}

void ss__unwind_set_self(uint64_t lo, uint64_t hi)
{
    lib.self_lo = lo;
    lib.self_hi = hi;
}

unsigned ss__unwind(const struct ss_snapshot *snap, uint64_t *addr, unsigned max)
{
    unw_cursor_t cursor;
    if (!lib.space || lib.init_remote(&cursor, lib.space, (void *)snap) < 0)
        return 0;
    unsigned n = 0;
    int exact = 1; /* the first frame's pc, and the frame after a signal frame, are exact */
    int leading_self = 1;
    for (unsigned guard = 0; n < max && guard < 4 * SS_TRACE_MAX_FRAMES; guard++) {
        unw_word_t ip;
        if (lib.get_reg(&cursor, UNW_REG_IP, &ip) < 0 || ip == 0)
            break;
        uint64_t lookup = exact ? ip : ip - 1;
        /* A call capture starts inside the shim; those frames are ours, not the host's. */
        leading_self = leading_self && lookup >= lib.self_lo && lookup < lib.self_hi;
        if (!leading_self)
            addr[n++] = lookup;
        exact = lib.is_signal_frame(&cursor) > 0;
        if (lib.step(&cursor) <= 0)
            break;
    }
    return n;
}
