/* dwarf: source file and line of an address in a module, from the DWARF line tables of the
 * module itself or of its separate debug file (debuginfo.c). The tables are opened on the
 * first lookup in a module and stay open until its ELF cache entry is freed; a module without
 * any (or whose only tables belong to another build) gives no line. */
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symbols-internal.h"

/* libdw refuses files without .debug_info, so a stripped module falls through
 * to its debug file; a debug file of another build would give wrong lines. */
static Dwarf *open_dwarf(const char *path, const struct elf_entry *ent, int *fd_out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return NULL;
    Dwarf *d = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
        d = dwarf_begin(fd, DWARF_C_READ);
    if (d && ent->build_id_len > 0) {
        const void *id;
        ssize_t n = dwelf_elf_gnu_build_id(dwarf_getelf(d), &id);
        if (n != (ssize_t)ent->build_id_len || memcmp(id, ent->build_id, (size_t)n) != 0) {
            dwarf_end(d);
            d = NULL;
        }
    }
    if (!d) {
        close(fd);
        return NULL;
    }
    *fd_out = fd;
    return d;
}

static Dwarf *entry_dwarf(struct elf_entry *e)
{
    char path[PATH_MAX];
    if (!e->dwarf_tried) {
        e->dwarf_tried = true;
        e->dwarf = open_dwarf(e->path, e, &e->dwarf_fd);
        if (!e->dwarf && ss_debug_file_path(e, path))
            e->dwarf = open_dwarf(path, e, &e->dwarf_fd);
    }
    return e->dwarf;
}

void ss_dwarf_find_line(struct elf_entry *e, uint64_t vaddr, struct ss_frame_info *out)
{
    Dwarf *d = entry_dwarf(e);
    Dwarf_Die cu;
    Dwarf_Line *line;
    int lineno;
    if (!d || !dwarf_addrdie(d, vaddr, &cu) || !(line = dwarf_getsrc_die(&cu, vaddr)))
        return;
    const char *file = dwarf_linesrc(line, NULL, NULL);
    if (!file || dwarf_lineno(line, &lineno) != 0)
        return;
    out->file = file;
    out->line = lineno > 0 ? (unsigned)lineno : 0;
}

void ss_dwarf_release(struct elf_entry *e)
{
    if (e->dwarf) {
        dwarf_end(e->dwarf);
        close(e->dwarf_fd);
    }
}
