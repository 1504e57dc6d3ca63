/* python-code: a code object of the traced process and an instruction in it, turned into a
 * (function, file, line) with an id. What a code object holds is cached by its address and
 * read again only when the object there no longer points to the same name, file and table
 * (a freed code object's address can be reused). Each (function, file, line) gets its id and
 * its PYFRAME record once. */
#include <stdlib.h>
#include <string.h>

#include "common/trace-format.h"
#include "monitor/python-internal.h"
#include "monitor/target.h"
#include "trace/trace-writer.h"
#include "util/array.h"
#include "util/hash.h"
#include "util/intern.h"

#define NAME_MAX_CHARS 1024u
#define TABLE_MAX_BYTES (256u * 1024u)
/* The code object's fields read at once: every offset used lies below. */
#define NAMED_MAX 65536u

static void put_utf8(char *out, size_t *n, uint32_t cp)
{
    if (cp < 0x80) {
        out[(*n)++] = (char)cp;
    } else if (cp < 0x800) {
        out[(*n)++] = (char)(0xc0 | (cp >> 6));
        out[(*n)++] = (char)(0x80 | (cp & 63));
    } else if (cp < 0x10000) {
        out[(*n)++] = (char)(0xe0 | (cp >> 12));
        out[(*n)++] = (char)(0x80 | ((cp >> 6) & 63));
        out[(*n)++] = (char)(0x80 | (cp & 63));
    } else {
        out[(*n)++] = (char)(0xf0 | ((cp >> 18) & 7));
        out[(*n)++] = (char)(0x80 | ((cp >> 12) & 63));
        out[(*n)++] = (char)(0x80 | ((cp >> 6) & 63));
        out[(*n)++] = (char)(0x80 | (cp & 63));
    }
}

char *ss__py_read_text(const struct ss_py_offsets *o, struct ss_target *t, uint64_t obj)
{
    uint32_t state;
    int64_t length;
    if (!obj || ss_target_read(t, obj + o->unicode_state, &state, sizeof state) < 0 ||
        ss_target_read(t, obj + o->unicode_length, &length, sizeof length) < 0)
        return NULL;
    unsigned kind = (state >> 2) & 7, compact = (state >> 5) & 1, ascii = (state >> 6) & 1;
    if (!compact || length < 0 || (kind != 1 && kind != 2 && kind != 4))
        return NULL;
    if (length > NAME_MAX_CHARS)
        length = NAME_MAX_CHARS; /* a name cut short still names the frame */
    uint64_t data = obj + (ascii ? o->unicode_ascii_size : o->unicode_compact_size);
    size_t bytes = (size_t)length * kind;
    uint8_t raw[NAME_MAX_CHARS * 4];
    char *text = malloc((size_t)length * 4 + 1);
    if (!text || ss_target_read(t, data, raw, bytes) < 0) {
        free(text);
        return NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < (size_t)length; i++) {
        uint32_t cp = kind == 1 ? raw[i] : 0;
        if (kind == 2)
            cp = (uint32_t)raw[2 * i] | (uint32_t)raw[2 * i + 1] << 8;
        else if (kind == 4)
            memcpy(&cp, raw + 4 * i, 4);
        put_utf8(text, &n, cp < 0x110000 && (cp < 0xd800 || cp > 0xdfff) ? cp : '?');
    }
    text[n] = '\0';
    return text;
}

/* A bytes object's contents, malloc'd; NULL when it cannot be read. */
static uint8_t *read_bytes(const struct ss_py_offsets *o, struct ss_target *t, uint64_t obj,
                           size_t *len)
{
    int64_t size;
    if (!obj || ss_target_read(t, obj + o->bytes_size, &size, sizeof size) < 0 || size < 0 ||
        size > TABLE_MAX_BYTES)
        return NULL;
    uint8_t *b = malloc(size ? (size_t)size : 1);
    if (b && ss_target_read(t, obj + o->bytes_data, b, (size_t)size) < 0) {
        free(b);
        return NULL;
    }
    *len = (size_t)size;
    return b;
}

static void forget(struct ss__py_code *e)
{
    free(e->qualname_text);
    free(e->filename_text);
    free(e->table);
    memset(e, 0, sizeof *e);
}

static uint64_t field(const uint8_t *header, uint32_t off)
{
    uint64_t v;
    memcpy(&v, header + off, sizeof v);
    return v;
}

/* The qualified name (the name before 3.11) of the code object in header. */
static uint64_t qualname_of(const struct ss_py_offsets *o, const uint8_t *header)
{
    return field(header, o->code_qualname == SS_PY_NONE ? o->code_name : o->code_qualname);
}

/* The cache entry of the code object at addr, read again when it changed; NULL when it
 * cannot be read. `copied_name`, when not 0, is the qualified name's pointer the shim copied
 * with the frame: another object there now is not the one the frame ran. */
static struct ss__py_code *code_at(struct ss__py_codes *c, const struct ss_py_offsets *o,
                                   struct ss_target *t, uint64_t addr, uint64_t copied_name)
{
    uint8_t header[SS_PY_CODE_HEADER_BYTES];
    struct ss__py_code *e = &c->cache[(addr >> 4) % SS_PY_CODE_CACHE];
    /* No code object there any more, or another: freed by an exiting interpreter or by the
     * program, or the process gone, before the frame was named. The one known at that address
     * is the one it ran, if its name is the one copied. */
    if (ss_target_read(t, addr, header, sizeof header) < 0 || field(header, 8) != c->code_type ||
        (copied_name && qualname_of(o, header) != copied_name))
        return addr && e->addr == addr && (!copied_name || e->qualname == copied_name) ? e : NULL;
    uint64_t name = field(header, o->code_name), filename = field(header, o->code_filename);
    uint64_t qualname = qualname_of(o, header);
    uint64_t lines = field(header, o->code_lines);
    int32_t firstline;
    memcpy(&firstline, header + o->code_firstlineno, sizeof firstline);
    if (e->addr == addr && e->name == name && e->qualname == qualname && e->filename == filename &&
        e->lines == lines && e->firstline == firstline)
        return e;
    forget(e);
    e->qualname_text = ss__py_read_text(o, t, qualname);
    e->filename_text = ss__py_read_text(o, t, filename);
    /* Without its line table (one too large to read), a frame is named at its first line. */
    e->table = read_bytes(o, t, lines, &e->table_len);
    if (!e->table)
        e->table_len = 0;
    if (!e->qualname_text || !e->filename_text) {
        forget(e);
        return NULL;
    }
    e->addr = addr;
    e->name = name;
    e->qualname = qualname;
    e->filename = filename;
    e->lines = lines;
    e->firstline = firstline;
    return e;
}

static void write_named(struct ss_writer *out, struct ss__py_named *n)
{
    n->generation = out->generation;
    /* A program can give a code object an empty name; the record needs one. */
    const char *name = n->qualname[0] ? n->qualname : "?";
    size_t name_len = strlen(name), file_len = strlen(n->filename);
    struct ss_rec_pyframe rec = {n->id, n->line, n->firstline, (uint16_t)name_len,
                                 (uint16_t)file_len};
    char tail[2 * NAME_MAX_CHARS * 4];
    memcpy(tail, name, name_len);
    memcpy(tail + name_len, n->filename, file_len);
    ss_writer_record(out, SS_REC_PYFRAME, &rec, sizeof rec, tail, name_len + file_len);
}

/* The id of (code's function and file, line), made and written when new; 0 when out of
 * memory or ids. */
static uint32_t name_frame(struct ss__py_codes *c, struct ss_writer *out,
                           const struct ss__py_code *e, uint32_t line)
{
    const char *qualname = ss_intern(&c->names, e->qualname_text);
    const char *filename = ss_intern(&c->names, e->filename_text);
    size_t k;
    int rc;
    if (!qualname || !filename || c->nnamed >= NAMED_MAX ||
        SS_ARRAY_GROW(c->named, c->capnamed, c->nnamed + 1) < 0 ||
        (rc = ss_key_table_get(&c->index, (uintptr_t)qualname, (uintptr_t)filename, line, c->nnamed,
                               &k)) < 0)
        return 0;
    if (rc != SS_KEY_ADDED) {
        if (c->named[k].generation != out->generation)
            write_named(out, &c->named[k]);
        return c->named[k].id;
    }
    struct ss__py_named *n = &c->named[c->nnamed++];
    *n = (struct ss__py_named){
        (uint32_t)c->nnamed, line, (uint32_t)e->firstline, qualname, filename, out->generation};
    write_named(out, n);
    return n->id;
}

uint64_t ss__py_frame_addr(struct ss__py_codes *c, const struct ss_py_offsets *o,
                           struct ss_target *t, struct ss_writer *out, uint64_t code, int64_t instr,
                           uint64_t copied_name)
{
    struct ss__py_code *e = code_at(c, o, t, code, copied_name);
    if (!e)
        return 0;
    int line = ss_py_line(o->lines, e->table, e->table_len, e->firstline, instr);
    uint32_t id = name_frame(c, out, e, line > 0 ? (uint32_t)line : (uint32_t)e->firstline);
    return id ? SS_PYFRAME_ADDR(id) : 0;
}

void ss__py_codes_rewrite(struct ss__py_codes *c, struct ss_writer *out, const uint64_t *frames,
                          unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        uint64_t id = frames[i] & SS_PYFRAME_MAX_ID;
        if (ss_is_pyframe_addr(frames[i]) && id >= 1 && id <= c->nnamed &&
            c->named[id - 1].generation != out->generation)
            write_named(out, &c->named[id - 1]);
    }
}

void ss__py_codes_free(struct ss__py_codes *c)
{
    for (size_t i = 0; i < SS_PY_CODE_CACHE; i++)
        forget(&c->cache[i]);
    free(c->named);
    ss_interner_free(&c->names);
    ss_key_table_free(&c->index);
    memset(c, 0, sizeof *c);
}
