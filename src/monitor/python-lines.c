/* python-lines: the source line of an instruction, from the line table of each CPython
 * generation, as the format notes of each version describe it (Objects/lnotab_notes.txt in
 * 3.8-3.10, Objects/locations.md from 3.11). The tables come
 * from the traced process: every length is checked, and a table that ends early gives the
 * last line it reached. */
#include "monitor/python-internal.h"

/* 3.8-3.9: (address increment, signed line increment) byte pairs; a pair whose address
 * passes the instruction ends the walk before its line increment applies. */
static int line_lnotab(const uint8_t *t, size_t len, int line, int64_t instr)
{
    int64_t addr = 0;
    for (size_t i = 0; i + 1 < len; i += 2) {
        addr += t[i];
        if (addr > instr)
            break;
        line += (int8_t)t[i + 1];
    }
    return line;
}

/* 3.10: (bytes covered, signed line delta) pairs, each pair a range of addresses; a delta of
 * -128 means the range has no line. -1, like ss_py_line, when the instruction's range has none
 * or the table ends before it. */
static int line_310(const uint8_t *t, size_t len, int line, int64_t instr)
{
    int64_t end = 0;
    int range_line = -1;
    for (size_t i = 0; i + 1 < len && end <= instr; i += 2) {
        end += t[i];
        int8_t delta = (int8_t)t[i + 1];
        if (delta == -128) {
            range_line = -1;
        } else {
            line += delta;
            range_line = line;
        }
    }
    return end > instr ? range_line : -1;
}

struct cursor {
    const uint8_t *t;
    size_t len, at;
};

static unsigned varint(struct cursor *c)
{
    unsigned value = 0, shift = 0;
    while (c->at < c->len && shift < 30) {
        uint8_t b = c->t[c->at++];
        value |= (unsigned)(b & 63) << shift;
        shift += 6;
        if (!(b & 64))
            break;
    }
    return value;
}

static int svarint(struct cursor *c)
{
    unsigned v = varint(c);
    return v & 1 ? -(int)(v >> 1) : (int)(v >> 1);
}

/* 3.11 and later: entries that each cover 1 to 8 code units, starting with a byte whose top
 * bit is set; bits 3-6 say the form, and the forms that move the line say by how much. -1,
 * like ss_py_line, when the instruction's entry has no line, the table ends before it, or the
 * line it reaches is no int. */
static int line_locations(const uint8_t *t, size_t len, int firstline, int64_t instr)
{
    /* Wide enough that no table, however damaged, overflows it before it is clamped. */
    int64_t line = firstline;
    struct cursor c = {t, len, 0};
    int64_t end = 0;
    while (c.at < c.len) {
        uint8_t first = t[c.at++];
        if (!(first & 0x80))
            continue; /* a byte of an entry we did not parse: resynchronise */
        unsigned form = (first >> 3) & 15;
        end += (first & 7) + 1;
        int64_t range_line = line;
        if (form == 15) {
            range_line = -1;
        } else if (form == 14 || form == 13) {
            line += svarint(&c);
            range_line = line;
        } else if (form >= 10) {
            line += (int)form - 10;
            range_line = line;
        }
        if (end > instr)
            return range_line < 0 || range_line > INT32_MAX ? -1 : (int)range_line;
        if (line < INT32_MIN || line > INT32_MAX)
            return -1;
        while (c.at < c.len && !(t[c.at] & 0x80))
            c.at++;
    }
    return -1;
}

int ss_py_line(enum ss_py_lines kind, const uint8_t *table, size_t len, int firstline,
               int64_t instr)
{
    /* No source file has 2^24 lines: a larger first line is a damaged code object, and the
     * tables' sums below stay far from overflowing from a sane one. */
    if (firstline < 0 || firstline > (1 << 24))
        return -1;
    if (instr < 0)
        return firstline;
    switch (kind) {
    case SS_PY_LNOTAB:
        return line_lnotab(table, len, firstline, instr);
    case SS_PY_LINES_310:
        return line_310(table, len, firstline, instr);
    case SS_PY_LOCATIONS:
        return line_locations(table, len, firstline, instr);
    }
    return -1;
}
