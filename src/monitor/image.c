/* image: the facts the monitor needs from an ELF object the target maps: its program headers
 * (for the bias of each mapping and which bytes of it the file still holds), its GNU build-id
 * and its .eh_frame_hdr search table. Read from the file, or from the target's memory when the
 * file cannot be opened. Every offset is checked: the file may be anything by now. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/target-internal.h"

#define PAGE_MASK_4K (~(uint64_t)4095)
/* Beyond this, a header table is not an object the target could have loaded. */
#define MAX_PHDRS 256
#define MAX_NOTES 4096

/* DWARF pointer encodings that .eh_frame_hdr uses. */
enum {
    PE_ABSPTR = 0x00,
    PE_UDATA4 = 0x03,
    PE_UDATA8 = 0x04,
    PE_SDATA4 = 0x0b,
    PE_SDATA8 = 0x0c,
    PE_DATAREL_SDATA4 = 0x3b,
    PE_OMIT = 0xff,
};

/* Reads bytes of the object: at file offset off from the image's bytes, or at file vaddr
 * vaddr from the target. */
static int read_part(struct ss_target *t, struct ss__image *img, uint64_t off, uint64_t vaddr,
                     void *buf, size_t len)
{
    if (img->data) {
        const uint8_t *p = ss__image_bytes(t, img, off, len);
        if (!p)
            return -EFAULT;
        memcpy(buf, p, len);
        return 0;
    }
    return ss__target_read_cached(t, img->mem_bias + vaddr, buf, len);
}

/* The ELF header and program headers: from the file, or from the target where it maps the
 * file's first page (the headers lie in it for everything a linker makes). */
static int read_headers(struct ss_target *t, struct ss__image *img)
{
    Elf64_Ehdr eh;
    int r = img->data ? read_part(t, img, 0, 0, &eh, sizeof eh)
                      : ss__target_read_cached(t, img->mem_base, &eh, sizeof eh);
    if (r < 0)
        return r;
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64 ||
        eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > MAX_PHDRS)
        return -ENOEXEC;
    size_t len = (size_t)eh.e_phnum * sizeof(Elf64_Phdr);
    Elf64_Phdr *ph = malloc(len);
    if (!ph)
        return -ENOMEM;
    r = img->data ? read_part(t, img, eh.e_phoff, 0, ph, len)
                  : ss__target_read_cached(t, img->mem_base + eh.e_phoff, ph, len);
    if (r < 0) {
        free(ph);
        return r;
    }
    img->phdr = ph;
    img->nphdr = eh.e_phnum;
    return 0;
}

/* Where the target's copy of a file read from memory sits: the segment that holds the file's
 * first page is mapped at mem_base. */
static int find_mem_bias(struct ss__image *img)
{
    for (unsigned i = 0; i < img->nphdr; i++) {
        const Elf64_Phdr *ph = &img->phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_offset & PAGE_MASK_4K) == 0) {
            img->mem_bias = img->mem_base - (ph->p_vaddr & PAGE_MASK_4K);
            return 0;
        }
    }
    return -ENOEXEC;
}

static void read_build_id(struct ss_target *t, struct ss__image *img)
{
    uint8_t notes[MAX_NOTES];
    for (unsigned i = 0; i < img->nphdr && img->build_id_len == 0; i++) {
        const Elf64_Phdr *ph = &img->phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        size_t len = ph->p_filesz < sizeof notes ? ph->p_filesz : sizeof notes;
        if (read_part(t, img, ph->p_offset, ph->p_vaddr, notes, len) < 0)
            continue;
        for (size_t p = 0; p + sizeof(Elf64_Nhdr) <= len;) {
            Elf64_Nhdr nh;
            memcpy(&nh, notes + p, sizeof nh);
            size_t name = p + sizeof nh;
            size_t desc = name + ((nh.n_namesz + 3ull) & ~3ull);
            size_t next = desc + ((nh.n_descsz + 3ull) & ~3ull);
            if (nh.n_namesz > len || nh.n_descsz > len || next > len)
                break;
            if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
                memcmp(notes + name, "GNU", 4) == 0 && nh.n_descsz > 0 &&
                nh.n_descsz <= SS_BUILD_ID_MAX) {
                memcpy(img->build_id, notes + desc, nh.n_descsz);
                img->build_id_len = nh.n_descsz;
                break;
            }
            p = next;
        }
    }
}

/* Size of a value in one of the encodings .eh_frame_hdr uses for its pointer and count; 0
 * for any other. */
static size_t encoded_size(uint8_t enc)
{
    switch (enc & 0x0f) {
    case PE_ABSPTR:
    case PE_UDATA8:
    case PE_SDATA8:
        return 8;
    case PE_UDATA4:
    case PE_SDATA4:
        return 4;
    }
    return 0;
}

/* The binary search table of .eh_frame_hdr, which libunwind can only use in its usual form:
 * entries of two 4-byte offsets from the header (datarel sdata4). */
static void read_eh_frame_hdr(struct ss_target *t, struct ss__image *img)
{
    for (unsigned i = 0; i < img->nphdr; i++) {
        const Elf64_Phdr *ph = &img->phdr[i];
        if (ph->p_type != PT_GNU_EH_FRAME)
            continue;
        uint8_t hdr[4 + 8 + 8];
        size_t len = ph->p_filesz < sizeof hdr ? ph->p_filesz : sizeof hdr;
        if (len < 4 || read_part(t, img, ph->p_offset, ph->p_vaddr, hdr, len) < 0)
            return;
        size_t ptr_size = encoded_size(hdr[1]), count_size = encoded_size(hdr[2]);
        if (hdr[0] != 1 || hdr[1] == PE_OMIT || hdr[2] == PE_OMIT || hdr[3] != PE_DATAREL_SDATA4 ||
            ptr_size == 0 || count_size == 0 || 4 + ptr_size + count_size > len)
            return;
        uint64_t count = 0;
        if (count_size == 4) {
            uint32_t c;
            memcpy(&c, hdr + 4 + ptr_size, 4);
            count = c;
        } else {
            memcpy(&count, hdr + 4 + ptr_size, 8);
        }
        uint64_t table = 4 + ptr_size + count_size;
        if (count == 0 || count > (ph->p_filesz - table) / 8)
            return;
        img->eh_hdr_vaddr = ph->p_vaddr;
        img->eh_hdr_off = ph->p_offset;
        img->eh_table_off = table;
        img->eh_fde_count = count;
        return;
    }
}

void ss__image_parse(struct ss_target *t, struct ss__image *img)
{
    if (read_headers(t, img) < 0)
        return;
    if (!img->data && find_mem_bias(img) < 0) {
        free(img->phdr);
        img->phdr = NULL;
        img->nphdr = 0;
        return;
    }
    read_build_id(t, img);
    read_eh_frame_hdr(t, img);
}

/* The loadable segment that maps file offset off (a mapping starts at the page that holds
 * its segment's first byte), or NULL. */
static const Elf64_Phdr *segment_of(const struct ss__image *img, uint64_t off)
{
    for (unsigned i = 0; i < img->nphdr; i++) {
        const Elf64_Phdr *ph = &img->phdr[i];
        if (ph->p_type == PT_LOAD && off >= (ph->p_offset & PAGE_MASK_4K) &&
            off < ph->p_offset + ph->p_filesz)
            return ph;
    }
    return NULL;
}

uint64_t ss__image_bias(const struct ss__image *img, uint64_t start, uint64_t off)
{
    const Elf64_Phdr *ph = segment_of(img, off);
    /* A mapping of bytes no segment loads: take file offsets for addresses. */
    if (!ph)
        return start - off;
    return start - (ph->p_vaddr - ph->p_offset + off);
}

uint64_t ss__image_readonly_len(const struct ss__image *img, uint64_t off, uint64_t len)
{
    const Elf64_Phdr *ph = segment_of(img, off);
    if (!ph || (ph->p_flags & PF_W))
        return 0;
    uint64_t left = ph->p_offset + ph->p_filesz - off;
    return left < len ? left : len;
}
