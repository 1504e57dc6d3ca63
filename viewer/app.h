/* app: the viewer's state and what its views share: the view table, the top and bottom lines,
 * the help overlay, the search prompt and the keys that work in every view. It draws into a
 * canvas and takes keys as plain codes, so the whole interface except the terminal itself runs
 * headless, in tests and in --batch. */
#ifndef SSV_APP_H
#define SSV_APP_H

#include <stddef.h>
#include <stdint.h>

#include "canvas.h"
#include "flametree.h"
#include "source.h"
#include "vmodel.h"

/* Keys beyond plain characters, as the terminal front end translates them. */
enum ssv_app_key {
    SSV_KEY_ENTER = '\n',
    SSV_KEY_ESC = 27,
    SSV_KEY_TAB = '\t',
    SSV_KEY_UP = 0x1000,
    SSV_KEY_DOWN,
    SSV_KEY_LEFT,
    SSV_KEY_RIGHT,
    SSV_KEY_PGUP,
    SSV_KEY_PGDN,
    SSV_KEY_HOME,
    SSV_KEY_END,
    SSV_KEY_BTAB,
    SSV_KEY_BACKSPACE,
    SSV_KEY_F1,
};

/* What a key handler asks for next. SSV_ACT_PASS: not handled, the app may use it. */
enum ssv_app_action {
    SSV_ACT_NONE = 0,
    SSV_ACT_REDRAW = 1,
    SSV_ACT_RELOAD = 2,
    SSV_ACT_QUIT = 4,
    SSV_ACT_PASS = 8
};

enum ssv_app_view {
    SSV_VIEW_STALLS,
    SSV_VIEW_FLAME,
    SSV_VIEW_CALLS,
    SSV_VIEW_LOOPS,
    SSV_VIEW_CAUSES,
    SSV_NVIEWS
};

struct ssv_list_pos {
    size_t sel, top;
};

/* Scrollable lines of text: the details of a stall or a call site. */
struct ssv_text_line {
    int style;
    char *left, *right;
};
struct ssv_text {
    struct ssv_text_line *lines;
    size_t n, cap, top;
};

struct ssv_app;

struct ssv_view_ops {
    const char *name;
    const char *const *help; /* the view's keys, for the help overlay */
    /* Draws the view into rows [y, y + h) of the canvas. */
    void (*draw)(struct ssv_app *a, struct ssv_canvas *c, int y, int h);
    int (*key)(struct ssv_app *a, int key);
    /* The hint shown in the bottom line. */
    void (*status)(struct ssv_app *a, char *buf, size_t size);
    /* A new snapshot replaced old: find the selection again. */
    void (*reloaded)(struct ssv_app *a, const struct ssv_snapshot *old);
};

extern const struct ssv_view_ops ssv_view_stalls, ssv_view_flame, ssv_view_calls, ssv_view_loops,
    ssv_view_causes;

struct ssv_app {
    struct ssv_snapshot *snap; /* NULL until the first load */
    const char *path;
    enum ssv_app_view view;
    int help, frozen, batch;
    enum ssv_src_state state;
    int page;          /* body rows at the last draw */
    char message[256]; /* until the next key */
    char error[256];   /* until the next successful load */
    int prompt;        /* the search prompt is open */
    char input[128], saved[128];
    struct ssv_vm_scope scope; /* what the flame covers */
    enum ssv_vm_sort sort;     /* of the first snapshot; later ones keep the current order */
    struct {
        struct ssv_list_pos pos;
        int detail, follow, have_id;
        struct ssv_text text;
        uint32_t pid, tid;
        uint64_t start_ns;
    } stalls;
    struct {
        struct ssv_fl_layout layout;
        int top, width;
    } flame;
    struct {
        struct ssv_list_pos pos;
        int detail;
        struct ssv_text text;
    } calls;
    struct {
        struct ssv_list_pos pos;
    } loops;
    struct {
        struct ssv_list_pos pos;
        char name[SS_CAUSE_NAME]; /* the selected cause, found again after a reload */
    } causes;
};

void ssv_app_init(struct ssv_app *a, const char *path);
void ssv_app_free(struct ssv_app *a);
/* Puts a freshly loaded snapshot in place, carrying selections, zoom and search over. */
void ssv_app_install(struct ssv_app *a, struct ssv_snapshot *s);
void ssv_app_draw(struct ssv_app *a, struct ssv_canvas *c);
int ssv_app_key(struct ssv_app *a, int key);
/* Draws one view whole (no top or bottom line) into a growing canvas, for --batch. */
void ssv_app_draw_batch(struct ssv_app *a, enum ssv_app_view v, struct ssv_canvas *c);
/* Rebuilds the flame for a new scope. */
void ssv_app_set_scope(struct ssv_app *a, const struct ssv_vm_scope *sc);
void ssv_app_set_message(struct ssv_app *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Shared by the list views: moves pos for a navigation key among n rows; returns SSV_ACT_REDRAW,
 * or SSV_ACT_PASS for a key that is not a movement. */
int ssv_list_key(struct ssv_list_pos *pos, size_t n, int key, int page);
/* Scrolls so that the selection is within h rows. */
void ssv_list_show(struct ssv_list_pos *pos, size_t n, int h);
/* Moves to the next (dir 1) or previous (-1) row for which match(i) holds, wrapping. */
int ssv_list_next_match(struct ssv_list_pos *pos, size_t n, int dir,
                        int (*match)(struct ssv_app *, size_t), struct ssv_app *a);

void ssv_text_clear(struct ssv_text *t);
__attribute__((format(printf, 4, 5))) void ssv_text_add(struct ssv_text *t, int style,
                                                        const char *right, const char *fmt, ...);
void ssv_text_draw(struct ssv_text *t, struct ssv_canvas *c, int y, int h);
int ssv_text_key(struct ssv_text *t, int key, int page);
/* Adds the frames of a stack, one line each with its module on the right. */
void ssv_text_stack(struct ssv_text *t, const struct ssv_vm *vm, const struct ss_process *p,
                    const struct ss_stack *s, const char *indent);

/* Bytes of text that fit a line of width columns, cut after a word when it can be. */
size_t ssv_wrap_next(const char *text, size_t width);
/* Draws text over up to maxrows rows of w columns from (y, x), the last cut with a mark;
 * returns the rows used. */
int ssv_draw_wrapped(struct ssv_canvas *c, int y, int x, int w, int maxrows, int style,
                     const char *text);
/* Adds text as lines of up to width columns, the first after indent, the others under it. */
void ssv_text_wrapped(struct ssv_text *t, int style, const char *indent, const char *text,
                      size_t width);

/* The colour of a flame frame: the same name always gets the same colour. */
int ssv_flame_style(const char *name);

#endif
