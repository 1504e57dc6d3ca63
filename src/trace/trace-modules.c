/* modules: the MODULE record of one loaded object, as dl_iterate_phdr describes it: its path,
 * load bias, executable range and GNU build-id. Used by tools and tests that write traces of
 * themselves; the monitor reads a traced process's modules from /proc/PID/maps instead. */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <string.h>
#include <unistd.h>

#include "common/trace-format.h"
#include "trace/trace-writer.h"

static void build_id_of(const struct dl_phdr_info *info, const uint8_t **id, size_t *len)
{
    *id = NULL;
    *len = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
        const uint8_t *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
            size_t name_sz = (nh->n_namesz + 3u) & ~3u, desc_sz = (nh->n_descsz + 3u) & ~3u;
            const uint8_t *name = p + sizeof *nh, *desc = name + name_sz;
            if (desc + desc_sz > end)
                break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && memcmp(name, "GNU", 4) == 0) {
                *id = desc;
                *len = nh->n_descsz;
                return;
            }
            p = desc + desc_sz;
        }
    }
}

int ss_writer_module(struct ss_writer *w, struct dl_phdr_info *info, uint64_t *lo, uint64_t *hi)
{
    *lo = UINT64_MAX;
    *hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uint64_t start = info->dlpi_addr + ph->p_vaddr;
        if (start < *lo)
            *lo = start;
        if (start + ph->p_memsz > *hi)
            *hi = start + ph->p_memsz;
    }
    if (*hi == 0)
        return -ENOEXEC;
    char exe[4096];
    const char *path = info->dlpi_name;
    if (!path || !path[0]) {
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        exe[n > 0 ? n : 0] = '\0';
        path = exe;
    }
    const uint8_t *id;
    size_t id_len;
    build_id_of(info, &id, &id_len);
    size_t path_len = strlen(path);
    if (path_len > UINT16_MAX)
        path_len = UINT16_MAX;
    struct ss_rec_module m = {info->dlpi_addr, *lo, *hi, (uint16_t)id_len, (uint16_t)path_len};
    ss_writer_record_tails(w, SS_REC_MODULE, &m, sizeof m, id, id_len, path, path_len);
    return 0;
}
