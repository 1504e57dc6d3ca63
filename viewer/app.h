/* app: the viewer's state and what its views share: the view table, the top and bottom lines,
 * the help overlay, the search prompt and the keys that work in every view. It draws into a
 * canvas and takes keys as plain codes, so the whole interface except the terminal itself runs
 * headless, in tests and in --batch. */
#ifndef SSV_APP_H
#define SSV_APP_H

#include <stddef.h>
#include <stdint.h>

#include "canvas.h"
#include "flame.h"
#include "source.h"
#include "vmodel.h"

/* Keys beyond plain characters, as the terminal front end translates them. */
enum app_key {
    AK_ENTER = '\n',
    AK_ESC = 27,
    AK_TAB = '\t',
    AK_UP = 0x1000,
    AK_DOWN,
    AK_LEFT,
    AK_RIGHT,
    AK_PGUP,
    AK_PGDN,
    AK_HOME,
    AK_END,
    AK_BTAB,
    AK_BACKSPACE,
    AK_F1,
};

/* What a key handler asks for next. ACT_PASS: not handled, the app may use it. */
enum app_action { ACT_NONE = 0, ACT_REDRAW = 1, ACT_RELOAD = 2, ACT_QUIT = 4, ACT_PASS = 8 };

enum app_view { VIEW_STALLS, VIEW_FLAME, VIEW_CALLS, VIEW_LOOPS, NVIEWS };

struct list_pos {
    size_t sel, top;
};

/* Scrollable lines of text: the details of a stall or a call site. */
struct text_line {
    int style;
    char *left, *right;
};
struct text {
    struct text_line *lines;
    size_t n, cap, top;
};

struct app;

struct view_ops {
    const char *name;
    const char *const *help; /* the view's keys, for the help overlay */
    /* Draws the view into rows [y, y + h) of the canvas. */
    void (*draw)(struct app *a, struct canvas *c, int y, int h);
    int (*key)(struct app *a, int key);
    /* The hint shown in the bottom line. */
    void (*status)(struct app *a, char *buf, size_t size);
    /* A new snapshot replaced old: find the selection again. */
    void (*reloaded)(struct app *a, const struct snapshot *old);
};

extern const struct view_ops ssv_view_stalls, ssv_view_flame, ssv_view_calls, ssv_view_loops;

struct app {
    struct snapshot *snap; /* NULL until the first load */
    const char *path;
    enum app_view view;
    int help, frozen, batch;
    enum src_state state;
    int page;          /* body rows at the last draw */
    char message[256]; /* until the next key */
    char error[256];   /* until the next successful load */
    int prompt;        /* the search prompt is open */
    char input[128], saved[128];
    struct vm_scope scope; /* what the flame covers */
    enum vm_sort sort;     /* of the first snapshot; later ones keep the current order */
    struct {
        struct list_pos pos;
        int detail, follow, have_id;
        struct text text;
        uint32_t pid, tid;
        uint64_t start_ns;
    } stalls;
    struct {
        struct fl_layout layout;
        int top, width;
    } flame;
    struct {
        struct list_pos pos;
        int detail;
        struct text text;
    } calls;
    struct {
        struct list_pos pos;
    } loops;
};

void app_init(struct app *a, const char *path);
void app_free(struct app *a);
/* Puts a freshly loaded snapshot in place, carrying selections, zoom and search over. */
void app_install(struct app *a, struct snapshot *s);
void app_draw(struct app *a, struct canvas *c);
int app_key(struct app *a, int key);
/* Draws one view whole (no top or bottom line) into a growing canvas, for --batch. */
void app_draw_batch(struct app *a, enum app_view v, struct canvas *c);
/* Rebuilds the flame for a new scope. */
void app_set_scope(struct app *a, const struct vm_scope *sc);
void app_set_message(struct app *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Shared by the list views: moves pos for a navigation key among n rows; returns ACT_REDRAW,
 * or ACT_PASS for a key that is not a movement. */
int list_key(struct list_pos *pos, size_t n, int key, int page);
/* Scrolls so that the selection is within h rows. */
void list_show(struct list_pos *pos, size_t n, int h);
/* Moves to the next (dir 1) or previous (-1) row for which match(i) holds, wrapping. */
int list_next_match(struct list_pos *pos, size_t n, int dir, int (*match)(struct app *, size_t),
                    struct app *a);

void text_clear(struct text *t);
__attribute__((format(printf, 4, 5))) void text_add(struct text *t, int style, const char *right,
                                                    const char *fmt, ...);
void text_draw(struct text *t, struct canvas *c, int y, int h);
int text_key(struct text *t, int key, int page);
/* Adds the frames of a stack, one line each with its module on the right. */
void text_stack(struct text *t, const struct vm *vm, const struct ss_process *p,
                const struct ss_stack *s, const char *indent);

/* The colour of a flame frame: the same name always gets the same colour. */
int flame_style(const char *name);

#endif
