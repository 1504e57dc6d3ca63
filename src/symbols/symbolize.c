/* symbolize: the front of the symbolizer (the API of symbolize.h). Keeps one traced
 * process's modules as recorded at run time and resolves an address: JIT entries first
 * (jit.c), then the module's symbols (elf.c) and source line (dwarf.c), skipping modules whose
 * file on disk is no longer the build that ran. */
#include "symbols/symbolize.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symbols-internal.h"
#include "util/array.h"

/* Addresses from here up are the kernel's on x86_64 (and on every 64-bit Linux
 * with a 48- or 57-bit address space). */
#define KERNEL_SPACE_START 0xffff800000000000ull

size_t ss_symbols_upper_bound(const void *base, size_t n, size_t elem, size_t key_off, uint64_t key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint64_t k;
        memcpy(&k, (const char *)base + mid * elem + key_off, sizeof k);
        if (k <= key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const char *ss_frame_kind_name(enum ss_frame_kind k)
{
    switch (k) {
    case SS_FRAME_NATIVE:
        return "native";
    case SS_FRAME_JIT:
        return "jit";
    case SS_FRAME_INTERPRETER:
        return "interpreter";
    case SS_FRAME_KERNEL:
        return "kernel";
    case SS_FRAME_UNKNOWN:
        break;
    }
    return "unknown";
}

struct ss_symbolizer *ss_symbolizer_new(struct ss_elf_cache *cache)
{
    if (!cache)
        return NULL;
    struct ss_symbolizer *s = calloc(1, sizeof *s);
    if (s) {
        s->cache = cache;
        s->jit_owner = geteuid();
    }
    return s;
}

void ss_symbolizer_free(struct ss_symbolizer *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nmods; i++) {
        free(s->mods[i].path);
        free(s->mods[i].build_id);
    }
    free(s->mods);
    ss_jit_release(s);
    free(s);
}

int ss_symbolizer_add_module(struct ss_symbolizer *s, const char *path, uint64_t bias, uint64_t lo,
                             uint64_t hi, const uint8_t *build_id, size_t build_id_len)
{
    if (!path || lo >= hi || (build_id_len > 0 && !build_id))
        return -EINVAL;

    size_t pos =
        ss_symbols_upper_bound(s->mods, s->nmods, sizeof *s->mods, offsetof(struct module, lo), lo);
    for (size_t i = pos; i-- > 0 && s->mods[i].lo == lo;) {
        const struct module *m = &s->mods[i];
        if (m->hi == hi && m->bias == bias && strcmp(m->path, path) == 0)
            return 0;
    }

    if (SS_ARRAY_GROW(s->mods, s->capmods, s->nmods + 1) < 0)
        return -ENOMEM;
    struct module m = {.bias = bias, .lo = lo, .hi = hi, .build_id_len = build_id_len};
    m.path = strdup(path);
    if (build_id_len > 0 && (m.build_id = malloc(build_id_len)) != NULL)
        memcpy(m.build_id, build_id, build_id_len);
    if (!m.path || (build_id_len > 0 && !m.build_id)) {
        free(m.path);
        free(m.build_id);
        return -ENOMEM;
    }
    memmove(&s->mods[pos + 1], &s->mods[pos], (s->nmods - pos) * sizeof *s->mods);
    s->mods[pos] = m;
    s->nmods++;
    return 0;
}

static struct module *find_module(struct ss_symbolizer *s, uint64_t addr)
{
    size_t lo = ss_symbols_upper_bound(s->mods, s->nmods, sizeof *s->mods,
                                       offsetof(struct module, lo), addr);
    return lo > 0 && addr < s->mods[lo - 1].hi ? &s->mods[lo - 1] : NULL;
}

/* NULL when the file cannot be looked at now (out of memory); retried later. */
static struct elf_entry *module_elf(struct ss_symbolizer *s, struct module *m)
{
    if (m->elf)
        return m->elf;
    struct elf_entry *e = ss_elf_cache_get(s->cache, m->path);
    if (!e)
        return NULL;
    if (!e->loaded)
        ss_elf_entry_load(e);
    m->elf = e;
    /* A missing or unreadable file has no build-id, so it mismatches too; the vDSO,
     * which the kernel maps and no file holds, cannot be checked. */
    m->mismatch = m->build_id_len > 0 && strncmp(m->path, "linux-vdso", 10) != 0 &&
                  strncmp(m->path, "linux-gate", 10) != 0 &&
                  (e->build_id_len != m->build_id_len ||
                   memcmp(e->build_id, m->build_id, m->build_id_len) != 0);
    return e;
}

int ss_symbolize(struct ss_symbolizer *s, uint64_t addr, struct ss_frame_info *out)
{
    struct module *m = find_module(s, addr);
    *out = (struct ss_frame_info){
        .offset = addr,
        .module = m ? m->path : NULL,
        .kind = m                            ? SS_FRAME_NATIVE
                : addr >= KERNEL_SPACE_START ? SS_FRAME_KERNEL
                                             : SS_FRAME_UNKNOWN,
    };

    struct jit_entry *j = ss_jit_find(s, addr);
    if (j) {
        ss_jit_describe(j, addr, out);
        return 0;
    }
    if (!m)
        return 1;

    uint64_t vaddr = addr - m->bias;
    out->offset = vaddr;
    struct elf_entry *e = module_elf(s, m);
    struct sym *sym;
    if (!e || m->mismatch || !(sym = ss_elf_find_symbol(e, vaddr)))
        return 1;
    out->symbol = ss_elf_symbol_name(e, sym);
    out->offset = vaddr - sym->addr;
    ss_dwarf_find_line(e, vaddr, out);
    return 0;
}

int ss_symbolizer_module_mismatch(struct ss_symbolizer *s, uint64_t addr)
{
    struct module *m = find_module(s, addr);
    if (!m || !module_elf(s, m))
        return 0;
    return m->mismatch;
}
