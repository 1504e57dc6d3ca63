/* target-internal: what the parts of the target share (the memory map and module table in
 * maps.c, ELF images in image.c, memory reads in target.c, unwinding in unwind.c). Not for
 * consumers: they see only target.h. */
#ifndef SS_MONITOR_TARGET_INTERNAL_H
#define SS_MONITOR_TARGET_INTERNAL_H

#include <elf.h>
#include <libunwind.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "monitor/target.h"

#define SS_BUILD_ID_MAX 64

/* One object file as mapped by the target, shared by all its mappings: read from the file
 * (mapped read-only here), or, for the vDSO, from a copy of the target's memory, or, when the
 * file cannot be opened any more (deleted, another mount namespace, not ours), from the
 * target's memory through the page cache. */
struct ss__image {
    dev_t dev;
    ino_t ino;
    bool vdso;
    char *path;          /* as the memory map names it, without " (deleted)" */
    int fd;              /* -1 unless data is the file */
    const uint8_t *data; /* the whole file, or the vDSO copy; NULL when read from the target */
    size_t size;         /* bytes of data that may be read (shrinks if the file is truncated) */
    uint64_t mem_base;   /* data == NULL: where the target maps the file's first page */
    uint64_t mem_bias;   /* data == NULL: the bias its segments are read at */
    uint64_t checked;    /* the target's unwind count when the file's size was last checked */

    Elf64_Phdr *phdr; /* NULL when the ELF headers could not be read */
    unsigned nphdr;
    uint8_t build_id[SS_BUILD_ID_MAX];
    size_t build_id_len;
    /* The .eh_frame_hdr binary search table, usable by libunwind: its file vaddr, and the
     * table's offset in it and entry count. eh_hdr_vaddr 0: none. */
    uint64_t eh_hdr_vaddr, eh_hdr_off, eh_table_off, eh_fde_count;
    bool self; /* the stallscope shim */
    bool seen; /* named by the latest memory map */
};

/* Extra facts about a module, in the same order as the public table. */
struct ss__module {
    struct ss__image *img;
    bool tables; /* the .eh_frame_hdr table can be read at this module's bias */
};

/* A read-only file-backed range of the target that is served from the image's bytes. */
struct ss__range {
    uint64_t lo, hi;
    uint64_t off; /* file offset of lo */
    struct ss__image *img;
};

#define SS_PAGE_CACHE 4

struct ss__page {
    uint64_t addr; /* page address; 0: empty */
    uint64_t used; /* last use, for replacement */
    uint8_t bytes[4096];
};

struct ss_target {
    pid_t pid;
    char *maps; /* the last /proc/PID/maps text */
    size_t maps_cap;
    struct ss__image **imgs;
    size_t nimgs, capimgs;
    struct ss_target_module *mods; /* sorted by lo */
    struct ss__module *xmods;      /* the same modules' own facts */
    size_t nmods, capmods, capxmods;
    struct ss__range *ranges; /* sorted by lo */
    size_t nranges, capranges;
    struct ss__page pages[SS_PAGE_CACHE];
    uint64_t page_clock;
    uint64_t unwinds;
    unw_addr_space_t as;
};

/* maps.c */
int ss__target_read_maps(struct ss_target *t);
void ss__image_free(struct ss__image *img);
const struct ss__range *ss__target_range(const struct ss_target *t, uint64_t addr);
/* The index of the module containing addr, or -1 when none does. */
long ss__target_module_at(const struct ss_target *t, uint64_t addr);

/* image.c: fills img's ELF facts from img->data, or from the target at img->mem_base. */
void ss__image_parse(struct ss_target *t, struct ss__image *img);
/* The bias of a mapping of img that maps file offset off at start. */
uint64_t ss__image_bias(const struct ss__image *img, uint64_t start, uint64_t off);
/* The file-backed part of a mapping at file offset off of len bytes that lies in a segment
 * the target cannot write: its length from off (0 when none). */
uint64_t ss__image_readonly_len(const struct ss__image *img, uint64_t off, uint64_t len);

/* target.c: a fault-safe read of the target's memory through the page cache. */
int ss__target_read_cached(struct ss_target *t, uint64_t addr, void *buf, size_t len);
/* Empties the page cache: the target's memory may have changed since. */
void ss__target_forget_pages(struct ss_target *t);
/* Bytes of the image at file offset off, if the file still holds them. */
const uint8_t *ss__image_bytes(struct ss_target *t, struct ss__image *img, uint64_t off,
                               size_t len);

/* unwind.c */
int ss__unwind_space(struct ss_target *t);
void ss__unwind_flush(struct ss_target *t);
void ss__unwind_destroy(struct ss_target *t);

#endif
