#define _XOPEN_SOURCE 700
#include "canvas.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const struct ssv_cv_glyphs utf8_glyphs = {
    {"", "\u258f", "\u258e", "\u258d", "\u258c", "\u258b", "\u258a", "\u2589", "\u2588"},
    {"\u2581", "\u2582", "\u2583", "\u2584", "\u2585", "\u2586", "\u2587", "\u2588"},
    "\u258f",
    "\u25be",
    "\u2502",
    "\u2500",
    {"\u250c", "\u2510", "\u2514", "\u2518"},
    "\u2026",
};

static const struct ssv_cv_glyphs ascii_glyphs = {
    {"", "#", "#", "#", "#", "#", "#", "#", "#"},
    {"_", ".", ":", "-", "=", "+", "*", "#"},
    "|",
    "v",
    "|",
    "-",
    {"+", "+", "+", "+"},
    "~",
};

/* Decodes one UTF-8 character; an invalid or cut sequence yields '?' and consumes one byte. */
static const char *next_char(const char *s, wchar_t *out)
{
    const unsigned char *u = (const unsigned char *)s;
    unsigned n;
    uint32_t ch;
    if (u[0] < 0x80) {
        *out = u[0];
        return s + 1;
    }
    if ((u[0] & 0xe0) == 0xc0) {
        n = 1;
        ch = u[0] & 0x1f;
    } else if ((u[0] & 0xf0) == 0xe0) {
        n = 2;
        ch = u[0] & 0x0f;
    } else if ((u[0] & 0xf8) == 0xf0) {
        n = 3;
        ch = u[0] & 0x07;
    } else {
        *out = '?';
        return s + 1;
    }
    for (unsigned i = 1; i <= n; i++) {
        if ((u[i] & 0xc0) != 0x80) {
            *out = '?';
            return s + 1;
        }
        ch = ch << 6 | (u[i] & 0x3f);
    }
    static const uint32_t least[4] = {0, 0x80, 0x800, 0x10000};
    *out = ch < least[n] || ch > 0x10ffff || (ch >= 0xd800 && ch < 0xe000) ? '?' : (wchar_t)ch;
    return s + n + 1;
}

static wchar_t printable(const struct ssv_canvas *c, wchar_t ch)
{
    if (ch < 0x20 || ch == 0x7f || (ch >= 0x80 && ch < 0xa0))
        return '?';
    if (ch >= 0x80 && (!c->utf8 || wcwidth(ch) != 1))
        return '?';
    return ch;
}

int ssv_cv_init(struct ssv_canvas *c, int w, int h, int utf8, int grow)
{
    memset(c, 0, sizeof *c);
    c->utf8 = utf8;
    c->grow = grow;
    c->g = utf8 ? &utf8_glyphs : &ascii_glyphs;
    return ssv_cv_resize(c, w, h);
}

int ssv_cv_resize(struct ssv_canvas *c, int w, int h)
{
    if (w < 1)
        w = 1;
    if (h < 0)
        h = 0;
    struct ssv_cv_cell *cells =
        realloc(c->cells, ((size_t)w * (size_t)(h ? h : 1)) * sizeof *cells);
    if (!cells)
        return -1;
    c->cells = cells;
    c->w = w;
    c->h = h;
    c->cap_rows = h ? h : 1;
    ssv_cv_clear(c);
    if (c->grow)
        c->h = 0;
    return 0;
}

void ssv_cv_free(struct ssv_canvas *c)
{
    free(c->cells);
    c->cells = NULL;
}

void ssv_cv_clear(struct ssv_canvas *c)
{
    for (size_t i = 0; i < (size_t)c->w * (size_t)c->cap_rows; i++)
        c->cells[i] = (struct ssv_cv_cell){' ', SSV_CV_NORMAL};
}

/* Makes row y drawable; returns 0 when it is outside a fixed canvas. */
static int reach(struct ssv_canvas *c, int y)
{
    if (y < 0)
        return 0;
    if (y < c->h)
        return 1;
    if (!c->grow)
        return 0;
    if (y >= c->cap_rows) {
        int rows = c->cap_rows * 2 > y + 1 ? c->cap_rows * 2 : y + 1;
        struct ssv_cv_cell *cells = realloc(c->cells, (size_t)c->w * (size_t)rows * sizeof *cells);
        if (!cells)
            return 0;
        for (size_t i = (size_t)c->w * (size_t)c->cap_rows; i < (size_t)c->w * (size_t)rows; i++)
            cells[i] = (struct ssv_cv_cell){' ', SSV_CV_NORMAL};
        c->cells = cells;
        c->cap_rows = rows;
    }
    c->h = y + 1;
    return 1;
}

static void set(struct ssv_canvas *c, int y, int x, wchar_t ch, int style)
{
    if (x >= 0 && x < c->w && reach(c, y))
        c->cells[(size_t)y * (size_t)c->w + (size_t)x] = (struct ssv_cv_cell){ch, (uint8_t)style};
}

int ssv_cv_width(const struct ssv_canvas *c, const char *text)
{
    (void)c;
    int n = 0;
    wchar_t ch;
    while (*text) {
        text = next_char(text, &ch);
        n++;
    }
    return n;
}

static int room(const struct ssv_canvas *c, int x, int maxw)
{
    int left = c->w - x;
    return maxw < 0 || maxw > left ? left : maxw;
}

int ssv_cv_put(struct ssv_canvas *c, int y, int x, int maxw, int style, const char *text)
{
    int n = 0, limit = room(c, x, maxw);
    wchar_t ch;
    while (*text && n < limit) {
        text = next_char(text, &ch);
        set(c, y, x + n++, printable(c, ch), style);
    }
    return n;
}

int ssv_cv_fit(struct ssv_canvas *c, int y, int x, int maxw, int style, const char *text)
{
    int limit = room(c, x, maxw);
    if (limit <= 0)
        return 0;
    if (ssv_cv_width(c, text) <= limit)
        return ssv_cv_put(c, y, x, limit, style, text);
    int n = ssv_cv_put(c, y, x, limit - 1, style, text);
    return n + ssv_cv_put(c, y, x + n, 1, style, c->g->ellipsis);
}

int ssv_cv_printf(struct ssv_canvas *c, int y, int x, int maxw, int style, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return ssv_cv_put(c, y, x, maxw, style, buf);
}

void ssv_cv_right(struct ssv_canvas *c, int y, int x, int width, int style, const char *text)
{
    int n = ssv_cv_width(c, text);
    if (n > width)
        n = width;
    ssv_cv_put(c, y, x + width - n, n, style, text);
}

void ssv_cv_fill(struct ssv_canvas *c, int y, int x, int n, int style, const char *glyph)
{
    wchar_t ch;
    next_char(glyph, &ch);
    for (int i = 0; i < n; i++)
        set(c, y, x + i, ch, style);
}

void ssv_cv_bar(struct ssv_canvas *c, int y, int x, int width, int style, uint64_t value,
                uint64_t max)
{
    if (width <= 0 || max == 0 || value == 0)
        return;
    if (value > max)
        value = max;
    uint64_t eighths = (uint64_t)((__uint128_t)value * (uint64_t)width * 8 / max);
    if (eighths == 0)
        eighths = 1;
    int full = (int)(eighths / 8), part = (int)(eighths % 8);
    ssv_cv_fill(c, y, x, full, style, c->g->eighths[8]);
    if (part)
        ssv_cv_fill(c, y, x + full, 1, style, c->g->eighths[part]);
}

const struct ssv_cv_cell *ssv_cv_at(const struct ssv_canvas *c, int y, int x)
{
    if (y < 0 || y >= c->h || x < 0 || x >= c->w)
        return NULL;
    return &c->cells[(size_t)y * (size_t)c->w + (size_t)x];
}

static size_t encode(wchar_t ch, char *out)
{
    uint32_t u = (uint32_t)ch;
    if (u < 0x80) {
        out[0] = (char)u;
        return 1;
    }
    if (u < 0x800) {
        out[0] = (char)(0xc0 | u >> 6);
        out[1] = (char)(0x80 | (u & 0x3f));
        return 2;
    }
    if (u < 0x10000) {
        out[0] = (char)(0xe0 | u >> 12);
        out[1] = (char)(0x80 | (u >> 6 & 0x3f));
        out[2] = (char)(0x80 | (u & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | u >> 18);
    out[1] = (char)(0x80 | (u >> 12 & 0x3f));
    out[2] = (char)(0x80 | (u >> 6 & 0x3f));
    out[3] = (char)(0x80 | (u & 0x3f));
    return 4;
}

void ssv_cv_row_text(const struct ssv_canvas *c, int y, char *buf, size_t size)
{
    size_t n = 0, end = 0;
    for (int x = 0; y >= 0 && y < c->h && x < c->w && n + 5 < size; x++) {
        wchar_t ch = c->cells[(size_t)y * (size_t)c->w + (size_t)x].ch;
        n += encode(ch, buf + n);
        if (ch != ' ')
            end = n;
    }
    if (size)
        buf[end] = '\0';
}

int ssv_cv_print(const struct ssv_canvas *c, FILE *out)
{
    size_t size = (size_t)c->w * 4 + 8;
    char *line = malloc(size);
    if (!line)
        return -1;
    for (int y = 0; y < c->h; y++) {
        ssv_cv_row_text(c, y, line, size);
        fputs(line, out);
        fputc('\n', out);
    }
    free(line);
    return ferror(out) ? -1 : 0;
}
