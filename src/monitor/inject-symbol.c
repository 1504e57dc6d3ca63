/* inject-symbol: the address of a symbol in the target, from the module's file (through
 * /proc/PID/map_files, as the target maps it) and where the target loaded it. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "monitor/inject-internal.h"

#define VERSYM_HIDDEN 0x8000 /* in .gnu.version: not the default version of its name */
#define RESOLVER_TIMEOUT_MS 1000

static int open_module(pid_t pid, const struct mapping *m)
{
    char path[sizeof m->path + 64];
    snprintf(path, sizeof path, "/proc/%d/map_files/%llx-%llx", (int)pid, (unsigned long long)m->lo,
             (unsigned long long)m->hi);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0)
        return fd;
    snprintf(path, sizeof path, "/proc/%d/root%s", (int)pid, m->path);
    return open(path, O_RDONLY | O_CLOEXEC);
}

/* The module's load bias: base maps the file's first page, which the segment loaded from
 * file offset 0 holds. */
static bool load_bias(Elf *e, uint64_t base, uint64_t *bias)
{
    size_t n;
    if (elf_getphdrnum(e, &n) != 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        GElf_Phdr ph;
        if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_LOAD && (ph.p_offset & ~4095ull) == 0) {
            *bias = base - (ph.p_vaddr & ~4095ull);
            return true;
        }
    }
    return false;
}

/* The symbol's value and type in .dynsym; the default version wins. */
static bool dynamic_symbol(Elf *e, const char *name, GElf_Sym *out)
{
    Elf_Data *syms = NULL, *versions = NULL;
    size_t strtab = 0, count = 0;
    for (Elf_Scn *scn = NULL; (scn = elf_nextscn(e, scn));) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh))
            continue;
        if (sh.sh_type == SHT_DYNSYM && sh.sh_entsize) {
            syms = elf_getdata(scn, NULL);
            strtab = sh.sh_link;
            count = syms ? syms->d_size / sh.sh_entsize : 0;
        } else if (sh.sh_type == SHT_GNU_versym) {
            versions = elf_getdata(scn, NULL);
        }
    }
    bool found = false;
    for (size_t i = 0; i < count; i++) {
        GElf_Sym s;
        const char *n;
        GElf_Versym v = 0;
        if (!gelf_getsym(syms, (int)i, &s) || s.st_shndx == SHN_UNDEF ||
            (GELF_ST_TYPE(s.st_info) != STT_FUNC && GELF_ST_TYPE(s.st_info) != STT_OBJECT &&
             GELF_ST_TYPE(s.st_info) != STT_GNU_IFUNC) ||
            !(n = elf_strptr(e, strtab, s.st_name)) || strcmp(n, name) != 0)
            continue;
        if (versions)
            gelf_getversym(versions, (int)i, &v);
        if (!found || !(v & VERSYM_HIDDEN))
            *out = s;
        found = true;
        if (!(v & VERSYM_HIDDEN))
            break;
    }
    return found;
}

uint64_t ss_inject_symbol(struct ss_inject *in, const char *module_prefix, const char *name)
{
    struct mapping m;
    if (inject_find_mapping(in->pid, 0, module_prefix, &m) < 0)
        return 0;
    int fd = open_module(in->pid, &m);
    if (fd < 0)
        return 0;
    elf_version(EV_CURRENT);
    Elf *e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    uint64_t bias = 0, addr = 0;
    GElf_Sym s;
    if (e && elf_kind(e) == ELF_K_ELF && load_bias(e, m.lo, &bias) && dynamic_symbol(e, name, &s))
        addr = bias + s.st_value;
    elf_end(e);
    close(fd);
    if (addr && GELF_ST_TYPE(s.st_info) == STT_GNU_IFUNC) {
        uint64_t resolved = 0;
        char why[256];
        if (ss_inject_call(in, addr, NULL, 0, RESOLVER_TIMEOUT_MS, &resolved, why, sizeof why) < 0)
            resolved = 0;
        addr = resolved;
    }
    return addr;
}
