/* The pieces the views share: list movement, scrollable text, frame colours. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "stacks/frames.h"
#include "util/array.h"

int ssv_list_key(struct ssv_list_pos *pos, size_t n, int key, int page)
{
    size_t step = page > 1 ? (size_t)page - 1 : 1;
    switch (key) {
    case 'k':
    case SSV_KEY_UP:
        if (pos->sel > 0)
            pos->sel--;
        break;
    case 'j':
    case SSV_KEY_DOWN:
        if (pos->sel + 1 < n)
            pos->sel++;
        break;
    case SSV_KEY_PGUP:
        pos->sel = pos->sel > step ? pos->sel - step : 0;
        pos->top = pos->top > step ? pos->top - step : 0;
        break;
    case SSV_KEY_PGDN:
        pos->sel = pos->sel + step < n ? pos->sel + step : (n ? n - 1 : 0);
        pos->top += step;
        break;
    case 'g':
    case SSV_KEY_HOME:
        pos->sel = 0;
        break;
    case 'G':
    case SSV_KEY_END:
        pos->sel = n ? n - 1 : 0;
        break;
    default:
        return SSV_ACT_PASS;
    }
    return SSV_ACT_REDRAW;
}

void ssv_list_show(struct ssv_list_pos *pos, size_t n, int h)
{
    size_t rows = h > 0 ? (size_t)h : 1;
    if (pos->sel >= n)
        pos->sel = n ? n - 1 : 0;
    if (pos->top + rows > n)
        pos->top = n > rows ? n - rows : 0;
    if (pos->sel < pos->top)
        pos->top = pos->sel;
    if (pos->sel >= pos->top + rows)
        pos->top = pos->sel - rows + 1;
}

int ssv_list_next_match(struct ssv_list_pos *pos, size_t n, int dir,
                        int (*match)(struct ssv_app *, size_t), struct ssv_app *a)
{
    for (size_t k = 1; k <= n; k++) {
        size_t i = dir > 0 ? (pos->sel + k) % n : (pos->sel + n - k % n) % n;
        if (match(a, i)) {
            pos->sel = i;
            return SSV_ACT_REDRAW;
        }
    }
    return SSV_ACT_PASS;
}

void ssv_text_clear(struct ssv_text *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->lines[i].left);
        free(t->lines[i].right);
    }
    free(t->lines);
    memset(t, 0, sizeof *t);
}

void ssv_text_add(struct ssv_text *t, int style, const char *right, const char *fmt, ...)
{
    if (SS_ARRAY_GROW(t->lines, t->cap, t->n + 1) < 0)
        return;
    struct ssv_text_line *l = &t->lines[t->n];
    va_list ap;
    va_start(ap, fmt);
    int rc = vasprintf(&l->left, fmt, ap);
    va_end(ap);
    if (rc < 0)
        return;
    l->right = right ? strdup(right) : NULL;
    l->style = style;
    t->n++;
}

void ssv_text_draw(struct ssv_text *t, struct ssv_canvas *c, int y, int h)
{
    if (t->top + (size_t)h > t->n)
        t->top = t->n > (size_t)h ? t->n - (size_t)h : 0;
    for (size_t i = t->top; i < t->n && (int)(i - t->top) < h; i++) {
        const struct ssv_text_line *l = &t->lines[i];
        int row = y + (int)(i - t->top), rw = l->right ? ssv_cv_width(c, l->right) : 0;
        if (rw > c->w / 3)
            rw = c->w / 3;
        ssv_cv_fit(c, row, 1, c->w - 2 - (rw ? rw + 2 : 0), l->style, l->left);
        if (rw)
            ssv_cv_right(c, row, c->w - 1 - rw, rw, SSV_CV_DIM, l->right);
    }
}

int ssv_text_key(struct ssv_text *t, int key, int page)
{
    size_t step = page > 1 ? (size_t)page - 1 : 1;
    switch (key) {
    case 'k':
    case SSV_KEY_UP:
        t->top -= t->top > 0;
        break;
    case 'j':
    case SSV_KEY_DOWN:
        t->top++;
        break;
    case SSV_KEY_PGUP:
        t->top = t->top > step ? t->top - step : 0;
        break;
    case SSV_KEY_PGDN:
        t->top += step;
        break;
    case 'g':
    case SSV_KEY_HOME:
        t->top = 0;
        break;
    case 'G':
    case SSV_KEY_END:
        t->top = t->n;
        break;
    default:
        return SSV_ACT_PASS;
    }
    return SSV_ACT_REDRAW;
}

void ssv_text_stack(struct ssv_text *t, const struct ssv_vm *vm, const struct ss_process *p,
                    const struct ss_stack *s, const char *indent)
{
    const char *const *names = ssv_vm_stack_names(vm, p, s);
    for (uint32_t i = 0; names && i < s->nframes; i++) {
        const char *module = s->frames && s->frames[i].module ? s->frames[i].module : NULL;
        ssv_text_add(t, SSV_CV_NORMAL, module ? ss_basename(module) : NULL, "%s%s", indent,
                     names[i]);
    }
}

size_t ssv_wrap_next(const char *text, size_t width)
{
    size_t len = strlen(text);
    if (len <= width || width == 0)
        return len;
    size_t cut = width;
    while (cut > 0 && text[cut] != ' ')
        cut--;
    return cut ? cut : width;
}

int ssv_draw_wrapped(struct ssv_canvas *c, int y, int x, int w, int maxrows, int style,
                     const char *text)
{
    int rows = 0;
    while (*text && rows < maxrows && w > 0) {
        /* The last row takes the rest, cut with a mark. */
        size_t len = rows + 1 < maxrows ? ssv_wrap_next(text, (size_t)w) : strlen(text);
        char *line = strndup(text, len);
        if (!line)
            break;
        ssv_cv_fit(c, y + rows++, x, w, style, line);
        free(line);
        text += len;
        while (*text == ' ')
            text++;
    }
    return rows;
}

void ssv_text_wrapped(struct ssv_text *t, int style, const char *indent, const char *text,
                      size_t width)
{
    size_t first = strlen(indent);
    for (int line = 0; *text; line++) {
        size_t len = ssv_wrap_next(text, width > first ? width - first : 1);
        ssv_text_add(t, style, NULL, "%*s%.*s", (int)first, line ? "" : indent, (int)len, text);
        text += len;
        while (*text == ' ')
            text++;
    }
}

int ssv_flame_style(const char *name)
{
    unsigned h = 5381;
    for (; *name; name++)
        h = h * 33 + (unsigned char)*name;
    return SSV_CV_FLAME0 + (int)(h % SSV_CV_FLAME_COLOURS);
}
