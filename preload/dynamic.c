/* dynamic: reads a loaded module from its in-memory dynamic section (see dynamic.h). */
#define _GNU_SOURCE
#include "dynamic.h"

#include <elf.h>
#include <string.h>

static int in_segment(const struct ss_module_view *m, const void *p, size_t size, int writable)
{
    uintptr_t a = (uintptr_t)p;
    if (a + size < a)
        return 0;
    for (size_t i = 0; i < m->phnum; i++) {
        const ElfW(Phdr) *ph = &m->phdr[i];
        if (ph->p_type != PT_LOAD || (writable && !(ph->p_flags & PF_W)))
            continue;
        uintptr_t start = m->base + ph->p_vaddr;
        if (a >= start && a + size <= start + ph->p_memsz)
            return 1;
    }
    return 0;
}

int ss__readable(const struct ss_module_view *m, const void *p, size_t size)
{
    return in_segment(m, p, size, 0);
}

static const char *string_at(const struct ss_module_view *m, size_t offset)
{
    return offset < m->strsz ? m->strtab + offset : NULL;
}

/* ld.so adjusts some addresses of a writable dynamic section to absolute ones and leaves the
 * others relative to the base. */
static const void *dynamic_address(const struct ss_module_view *m, uintptr_t value)
{
    return (const void *)(value < m->base ? m->base + value : value);
}

void ss__module_extent(const struct dl_phdr_info *info, uintptr_t page_size,
                       struct ss_module_extent *x)
{
    memset(x, 0, sizeof *x);
    x->start = UINTPTR_MAX;
    for (size_t i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr, end = start + ph->p_memsz;
        if (ph->p_type == PT_LOAD) {
            if (start < x->start)
                x->start = start;
            if (end > x->end)
                x->end = end;
        } else if (ph->p_type == PT_DYNAMIC) {
            x->dynamic = (const ElfW(Dyn) *)start;
            x->dynamic_count = ph->p_memsz / sizeof *x->dynamic;
        } else if (ph->p_type == PT_GNU_RELRO) {
            /* The pages ld.so made read-only: the last one, partly outside, stays writable. */
            x->relro_start = start & ~(page_size - 1);
            x->relro_end = end & ~(page_size - 1);
        }
    }
}

int ss__read_module(const struct dl_phdr_info *info, uintptr_t page_size, struct ss_module_view *m)
{
    memset(m, 0, sizeof *m);
    m->base = info->dlpi_addr;
    m->phdr = info->dlpi_phdr;
    m->phnum = info->dlpi_phnum;
    struct ss_module_extent x;
    ss__module_extent(info, page_size, &x);
    m->start = x.start;
    m->end = x.end;
    m->relro_start = x.relro_start;
    m->relro_end = x.relro_end;
    const ElfW(Dyn) *dynamic = x.dynamic;
    size_t dynamic_count = x.dynamic_count;
    if (!dynamic || m->start >= m->end ||
        !ss__readable(m, dynamic, dynamic_count * sizeof *dynamic))
        return -1;
    size_t relasz = 0, relaent = sizeof(ElfW(Rela)), pltrelsz = 0, pltrel = DT_RELA;
    for (size_t i = 0; i < dynamic_count && dynamic[i].d_tag != DT_NULL; i++) {
        uintptr_t v = dynamic[i].d_un.d_val;
        switch (dynamic[i].d_tag) {
        case DT_SYMTAB:
            m->symtab = dynamic_address(m, v);
            break;
        case DT_STRTAB:
            m->strtab = dynamic_address(m, v);
            break;
        case DT_STRSZ:
            m->strsz = v;
            break;
        case DT_RELA:
            m->rela = dynamic_address(m, v);
            break;
        case DT_RELASZ:
            relasz = v;
            break;
        case DT_RELAENT:
            relaent = v;
            break;
        case DT_JMPREL:
            m->jmprel = dynamic_address(m, v);
            break;
        case DT_PLTRELSZ:
            pltrelsz = v;
            break;
        case DT_PLTREL:
            pltrel = v;
            break;
        case DT_VERSYM:
            m->versym = dynamic_address(m, v);
            break;
        case DT_VERNEED:
            m->verneed = dynamic_address(m, v);
            break;
        case DT_VERNEEDNUM:
            m->verneed_count = v;
            break;
        case DT_VERDEF:
            m->verdef = dynamic_address(m, v);
            break;
        case DT_VERDEFNUM:
            m->verdef_count = v;
            break;
        case DT_GNU_HASH:
            m->gnu_hash = dynamic_address(m, v);
            break;
        }
    }
    if (relaent != sizeof(ElfW(Rela)) || pltrel != DT_RELA || relasz % relaent ||
        pltrelsz % relaent)
        return -1;
    /* Where the PLT's relocations end DT_RELA's range, ld.so counts them once. */
    if (m->rela && m->jmprel && (uintptr_t)m->rela + relasz == (uintptr_t)m->jmprel + pltrelsz &&
        relasz >= pltrelsz)
        relasz -= pltrelsz;
    m->rela_count = m->rela ? relasz / relaent : 0;
    m->jmprel_count = m->jmprel ? pltrelsz / relaent : 0;
    if (!m->rela_count && !m->jmprel_count)
        return 0;
    if (!m->symtab || !m->strtab || !m->strsz || !ss__readable(m, m->strtab, m->strsz) ||
        m->strtab[m->strsz - 1] != '\0' || (m->rela_count && !ss__readable(m, m->rela, relasz)) ||
        (m->jmprel_count && !ss__readable(m, m->jmprel, pltrelsz)))
        return -1;
    return 0;
}

/* The name of version `index` among the versions the module defines, or NULL. */
static const char *defined_version(const struct ss_module_view *m, unsigned index)
{
    const char *p = m->verdef;
    for (size_t i = 0; p && i < m->verdef_count; i++) {
        const ElfW(Verdef) *def = (const ElfW(Verdef) *)p;
        if (!ss__readable(m, def, sizeof *def))
            return NULL;
        if ((def->vd_ndx & 0x7fff) == index) {
            const ElfW(Verdaux) *aux = (const ElfW(Verdaux) *)(p + def->vd_aux);
            return ss__readable(m, aux, sizeof *aux) ? string_at(m, aux->vda_name) : NULL;
        }
        if (!def->vd_next)
            break;
        p += def->vd_next;
    }
    return NULL;
}

/* The name of version `index` among the versions the module needs, or NULL. */
static const char *needed_version(const struct ss_module_view *m, unsigned index)
{
    const char *p = m->verneed;
    for (size_t i = 0; p && i < m->verneed_count; i++) {
        const ElfW(Verneed) *need = (const ElfW(Verneed) *)p;
        if (!ss__readable(m, need, sizeof *need))
            return NULL;
        const char *q = p + need->vn_aux;
        for (unsigned j = 0; j < need->vn_cnt; j++) {
            const ElfW(Vernaux) *aux = (const ElfW(Vernaux) *)q;
            if (!ss__readable(m, aux, sizeof *aux))
                return NULL;
            if ((aux->vna_other & 0x7fff) == index)
                return string_at(m, aux->vna_name);
            q += aux->vna_next;
        }
        if (!need->vn_next)
            break;
        p += need->vn_next;
    }
    return NULL;
}

/* The version the module's reference to symbol `index` asks for (*version NULL: none); -1 when
 * its version tables are inconsistent. */
static int reference_version(const struct ss_module_view *m, size_t index, const char **version)
{
    *version = NULL;
    if (!m->versym)
        return 0;
    const ElfW(Half) *versym = m->versym + index;
    if (!ss__readable(m, versym, sizeof *versym))
        return -1;
    unsigned version_index = *versym & 0x7fff;
    if (version_index <= VER_NDX_GLOBAL)
        return 0;
    *version = needed_version(m, version_index);
    if (!*version)
        *version = defined_version(m, version_index);
    return *version ? 0 : -1;
}

uint32_t ss__gnu_hash(const char *name)
{
    uint32_t h = 5381;
    for (const unsigned char *c = (const unsigned char *)name; *c; c++)
        h = h * 33 + *c;
    return h;
}

/* The index of the shim's definition that a reference to name@version binds to, as the loader
 * binds it with the shim preloaded: the definition of that version, else an unversioned one;
 * for an unversioned reference, the unversioned or the default one. 0 when the shim has none. */
static uint32_t shim_definition(const struct ss_module_view *shim, const char *name,
                                const char *version)
{
    const uint32_t *table = shim->gnu_hash;
    uint32_t buckets_count = table[0], first_hashed = table[1], bloom_words = table[2];
    const uint32_t *buckets = table + 4 + bloom_words * (sizeof(ElfW(Addr)) / sizeof(uint32_t));
    const uint32_t *chain = buckets + buckets_count;
    uint32_t h = ss__gnu_hash(name), fallback = 0;
    for (uint32_t i = buckets[h % buckets_count]; i >= first_hashed; i++) {
        uint32_t link = chain[i - first_hashed];
        const ElfW(Sym) *sym = &shim->symtab[i];
        if ((link | 1) == (h | 1) && ELF64_ST_TYPE(sym->st_info) == STT_FUNC &&
            sym->st_shndx != SHN_UNDEF && sym->st_name < shim->strsz &&
            strcmp(name, shim->strtab + sym->st_name) == 0) {
            ElfW(Half) symbol_version = shim->versym ? shim->versym[i] : VER_NDX_GLOBAL;
            unsigned version_index = symbol_version & 0x7fff;
            int hidden = (symbol_version & 0x8000) != 0;
            if (version_index > VER_NDX_GLOBAL && version) {
                const char *defined = defined_version(shim, version_index);
                if (defined && strcmp(defined, version) == 0)
                    return i;
            } else if (!hidden && (version_index <= VER_NDX_GLOBAL || !fallback)) {
                fallback = i;
            }
        }
        if (link & 1)
            break;
    }
    return fallback;
}

int ss__next_reference(struct ss_reference_walk *w, struct ss_reference *ref)
{
    const struct ss_module_view *m = w->module;
    while (w->next < m->rela_count + m->jmprel_count) {
        size_t n = w->next++;
        const ElfW(Rela) *r = n < m->rela_count ? &m->rela[n] : &m->jmprel[n - m->rela_count];
        unsigned type = ELF64_R_TYPE(r->r_info);
        if ((type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT) || r->r_addend)
            continue;
        size_t index = ELF64_R_SYM(r->r_info);
        const ElfW(Sym) *sym = &m->symtab[index];
        ref->entry = m->base + r->r_offset;
        if (!index || !ss__readable(m, sym, sizeof *sym) || ref->entry % sizeof(uintptr_t) != 0 ||
            !in_segment(m, (const void *)ref->entry, sizeof(uintptr_t), 1))
            return -1;
        const char *name = string_at(m, sym->st_name);
        if (!name || reference_version(m, index, &ref->version) < 0)
            return -1;
        if (ref->version && strlen(ref->version) >= SS_VERSION_MAX)
            continue;
        ref->shim_symbol = shim_definition(w->shim, name, ref->version);
        if (ref->shim_symbol)
            return 1;
    }
    return 0;
}
