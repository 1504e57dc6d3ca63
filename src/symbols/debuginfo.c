/* debuginfo: a module's separate debug file, where a distribution keeps the symbols and line
 * tables it stripped from the module: SS_DEBUG_ROOT/.build-id/xx/yyyy.debug, named by the
 * module's GNU build-id. A debug file is used only when its build-id is the module's own. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "symbols-internal.h"

/* Overridable so distributions with a different debug root can point at it. */
#ifndef SS_DEBUG_ROOT
#define SS_DEBUG_ROOT "/usr/lib/debug"
#endif

/* Build-ids are 16 or 20 bytes in practice; the cap keeps the hex form of
 * any accepted one within a fixed buffer. */
#define DEBUG_BUILD_ID_MAX 64

bool ss_debug_file_path(const struct elf_entry *ent, char path[PATH_MAX])
{
    char hex[2 * DEBUG_BUILD_ID_MAX + 1];
    const uint8_t *id = ent->build_id;
    size_t len = ent->build_id_len;

    if (len < 2 || len > DEBUG_BUILD_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        sprintf(hex + 2 * i, "%02x", id[i]);
    return (size_t)snprintf(path, PATH_MAX, "%s/.build-id/%.2s/%s.debug", SS_DEBUG_ROOT, hex,
                            hex + 2) < PATH_MAX;
}

void ss_debug_file_add_symbols(const struct elf_entry *ent, struct sym_builder *b)
{
    char path[PATH_MAX];
    const uint8_t *id = ent->build_id;
    size_t len = ent->build_id_len;

    if (!ss_debug_file_path(ent, path))
        return;

    size_t n = b->n, names_len = b->names_len;
    uint8_t *dbg_id = NULL;
    size_t dbg_id_len = 0;
    bool dbg_symtab = false;
    int rc = ss_elf_read_symbols(path, b, &dbg_id, &dbg_id_len, &dbg_symtab);
    /* A stale debug file for another build would name the wrong functions. */
    if (rc < 0 || dbg_id_len != len || memcmp(dbg_id, id, len) != 0) {
        b->n = n;
        b->names_len = names_len;
    }
    free(dbg_id);
}
