/* canvas: a grid of character cells with a style each, which every view draws into. The
 * curses front end copies it to the screen and --batch prints it as text, so the views never
 * call curses and can be tested headless. Text is UTF-8 in; anything that would not take
 * exactly one column (control bytes, wide or invalid characters, and any non-ASCII character
 * when the terminal is not UTF-8) becomes '?', so a hostile symbol name cannot move the
 * cursor or break a layout. */
#ifndef SSV_CANVAS_H
#define SSV_CANVAS_H

#include <stdint.h>
#include <stdio.h>
#include <wchar.h>

enum ssv_cv_style {
    SSV_CV_NORMAL,
    SSV_CV_HEADER,    /* column headings */
    SSV_CV_TITLE,     /* the top line */
    SSV_CV_TAB,       /* a view's name in the top line */
    SSV_CV_TAB_ON,    /* the current view's name */
    SSV_CV_STATUS,    /* the bottom line */
    SSV_CV_SELECTED,  /* the row under the cursor */
    SSV_CV_FLAME_SEL, /* the flame frame under the cursor */
    SSV_CV_DIM,       /* context: ancestors of a zoomed frame, empty states */
    SSV_CV_BAR,       /* duration and histogram bars */
    SSV_CV_WARN,      /* stalls still running, errors */
    SSV_CV_MATCH,     /* search matches */
    SSV_CV_LIVE,      /* the live marker */
    SSV_CV_FLAME0,    /* SSV_CV_FLAME0 + k: flame frame colours, chosen by a hash of the name */
    SSV_CV_NSTYLES = SSV_CV_FLAME0 + 8,
};
#define SSV_CV_FLAME_COLOURS 8

/* Glyphs: one set for UTF-8 terminals, one in plain ASCII. */
struct ssv_cv_glyphs {
    const char *eighths[9];                /* bar ends: 0/8 .. 8/8 of a cell */
    const char *spark[8];                  /* sparkline levels, lowest first */
    const char *edge;                      /* left edge of a flame frame */
    const char *down;                      /* sort marker */
    const char *vline, *hline, *corner[4]; /* help box: tl, tr, bl, br */
    const char *ellipsis;
};

struct ssv_cv_cell {
    wchar_t ch;
    uint8_t style;
};

struct ssv_canvas {
    int w, h;
    int grow; /* batch output: rows are added as they are drawn into, h counts them */
    int utf8;
    const struct ssv_cv_glyphs *g;
    struct ssv_cv_cell *cells;
    int cap_rows;
};

/* Returns 0, or -1 when out of memory. */
int ssv_cv_init(struct ssv_canvas *c, int w, int h, int utf8, int grow);
int ssv_cv_resize(struct ssv_canvas *c, int w, int h);
void ssv_cv_free(struct ssv_canvas *c);
void ssv_cv_clear(struct ssv_canvas *c);

/* Writes text at (y, x), at most maxw columns (maxw < 0: to the right edge); returns the
 * columns written. ssv_cv_put cuts long text; ssv_cv_fit ends it with an ellipsis instead. */
int ssv_cv_put(struct ssv_canvas *c, int y, int x, int maxw, int style, const char *text);
int ssv_cv_fit(struct ssv_canvas *c, int y, int x, int maxw, int style, const char *text);
__attribute__((format(printf, 6, 7))) int ssv_cv_printf(struct ssv_canvas *c, int y, int x,
                                                        int maxw, int style, const char *fmt, ...);
/* Right-aligns text in the width columns ending at x + width. */
void ssv_cv_right(struct ssv_canvas *c, int y, int x, int width, int style, const char *text);
/* Fills n cells with one glyph (a UTF-8 string of one character). */
void ssv_cv_fill(struct ssv_canvas *c, int y, int x, int n, int style, const char *glyph);
/* A horizontal bar of value/max of width columns, with eighth-cell ends on UTF-8 terminals. A
 * non-zero value always shows at least a sliver. */
void ssv_cv_bar(struct ssv_canvas *c, int y, int x, int width, int style, uint64_t value,
                uint64_t max);

const struct ssv_cv_cell *ssv_cv_at(const struct ssv_canvas *c, int y, int x);
/* Prints the rows as text, without trailing blanks. Returns 0 or -1 on a write error. */
int ssv_cv_print(const struct ssv_canvas *c, FILE *out);
/* Row y as UTF-8 text into buf (for tests and the terminal title). */
void ssv_cv_row_text(const struct ssv_canvas *c, int y, char *buf, size_t size);

/* Display columns the text will take on this canvas. */
int ssv_cv_width(const struct ssv_canvas *c, const char *text);

#endif
