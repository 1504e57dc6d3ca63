#include "build-id.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <gelf.h>
#include <string.h>
#include <unistd.h>

size_t file_build_id(const char *path, uint8_t *id, size_t max)
{
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0, "cannot open %s", path);
    elf_version(EV_CURRENT);
    Elf *e = elf_begin(fd, ELF_C_READ, NULL);
    cr_assert_not_null(e, "%s: %s", path, elf_errmsg(-1));
    Elf_Scn *scn = NULL;
    while (len == 0 && (scn = elf_nextscn(e, scn)) != NULL) {
        GElf_Shdr sh;
        Elf_Data *d;
        if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE || !(d = elf_getdata(scn, NULL)))
            continue;
        GElf_Nhdr nh;
        size_t off = 0, name, desc, next;
        while ((next = gelf_getnote(d, off, &nh, &name, &desc)) > 0) {
            if (nh.n_type == NT_GNU_BUILD_ID && nh.n_descsz <= max) {
                memcpy(id, (const char *)d->d_buf + desc, nh.n_descsz);
                len = nh.n_descsz;
                break;
            }
            off = next;
        }
    }
    elf_end(e);
    close(fd);
    cr_assert_gt(len, 0, "no build-id in %s", path);
    return len;
}
