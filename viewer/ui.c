#define _GNU_SOURCE
#define NCURSES_WIDECHAR 1
#include "ui.h"

#include <curses.h>
#include <errno.h>
#include <langinfo.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errors.h"

#define TICK_MS 100
#define SCAN_NS 1000000000ull

static volatile sig_atomic_t curses_on;
static SCREEN *screen;
static struct sigaction previous[NSIG];
static const int fatal_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGSEGV,
                                    SIGBUS, SIGFPE,  SIGILL, SIGABRT};

static void restore_terminal(void)
{
    if (curses_on) {
        curses_on = 0;
        endwin();
    }
}

/* The terminal comes back first; then the signal does what it did before we were here (kill
 * the process, or let a sanitizer report a fault). One that was ignored kills: a viewer that
 * has given the terminal back cannot go on. */
static void on_fatal(int sig)
{
    int saved = errno; /* a previous handler may return into the interrupted code */
    restore_terminal();
    struct sigaction before = previous[sig];
    if (before.sa_handler == SIG_IGN)
        before.sa_handler = SIG_DFL;
    sigaction(sig, &before, NULL);
    raise(sig);
    errno = saved;
}

static void catch_fatal_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++)
        sigaction(fatal_signals[i], &sa, &previous[fatal_signals[i]]);
}

static void release_fatal_signals(void)
{
    for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++)
        sigaction(fatal_signals[i], &previous[fatal_signals[i]], NULL);
}

static attr_t attrs[SSV_CV_NSTYLES];

static void pair(short n, short fg, short bg)
{
    init_pair(n, fg, bg);
}

/* Styles as curses attributes. Without colour, reverse video, bold and underline still tell
 * selection, headings and matches apart. */
static void choose_attrs(int colour)
{
    attrs[SSV_CV_TITLE] = attrs[SSV_CV_TAB] = attrs[SSV_CV_STATUS] = A_REVERSE;
    attrs[SSV_CV_TAB_ON] = A_BOLD;
    attrs[SSV_CV_HEADER] = A_BOLD | A_UNDERLINE;
    attrs[SSV_CV_SELECTED] = A_REVERSE | A_BOLD;
    attrs[SSV_CV_FLAME_SEL] = A_BOLD | A_UNDERLINE;
    attrs[SSV_CV_DIM] = A_DIM;
    attrs[SSV_CV_WARN] = A_BOLD;
    attrs[SSV_CV_MATCH] = A_BOLD | A_UNDERLINE;
    attrs[SSV_CV_LIVE] = A_BOLD;
    for (int k = 0; k < SSV_CV_FLAME_COLOURS; k++)
        attrs[SSV_CV_FLAME0 + k] = A_REVERSE;
    if (!colour)
        return;
    start_color();
    use_default_colors();
    pair(1, COLOR_BLACK, COLOR_CYAN);
    pair(2, COLOR_BLACK, COLOR_YELLOW);
    pair(3, COLOR_BLACK, COLOR_GREEN);
    pair(4, COLOR_RED, -1);
    pair(5, COLOR_BLACK, COLOR_MAGENTA);
    attrs[SSV_CV_TITLE] = attrs[SSV_CV_TAB] = attrs[SSV_CV_STATUS] = COLOR_PAIR(1);
    attrs[SSV_CV_TAB_ON] = COLOR_PAIR(2) | A_BOLD;
    attrs[SSV_CV_HEADER] = COLOR_PAIR(3);
    attrs[SSV_CV_LIVE] = COLOR_PAIR(3) | A_BOLD;
    attrs[SSV_CV_BAR] = COLOR_PAIR(4);
    attrs[SSV_CV_WARN] = COLOR_PAIR(4) | A_BOLD;
    attrs[SSV_CV_MATCH] = COLOR_PAIR(5) | A_BOLD;
    attrs[SSV_CV_FLAME_SEL] = A_REVERSE | A_BOLD;
    /* Warm frame colours as in flame graphs; 8-colour terminals alternate two of them. */
    static const short warm[SSV_CV_FLAME_COLOURS] = {208, 214, 202, 220, 172, 178, 166, 215};
    for (int k = 0; k < SSV_CV_FLAME_COLOURS; k++) {
        short bg = COLORS >= 256 ? warm[k] : k % 2 ? COLOR_RED : COLOR_YELLOW;
        pair((short)(10 + k), COLOR_BLACK, bg);
        attrs[SSV_CV_FLAME0 + k] = COLOR_PAIR(10 + k) | (COLORS < 256 && k % 4 >= 2 ? A_BOLD : 0);
    }
}

static void blit(const struct ssv_canvas *c)
{
    wchar_t run[1024];
    for (int y = 0; y < c->h && y < LINES; y++) {
        int x = 0;
        while (x < c->w && x < COLS) {
            int style = ssv_cv_at(c, y, x)->style, n = 0;
            while (x + n < c->w && x + n < COLS && n < 1023 &&
                   ssv_cv_at(c, y, x + n)->style == style) {
                run[n] = ssv_cv_at(c, y, x + n)->ch;
                n++;
            }
            run[n] = L'\0';
            attrset(attrs[style]);
            mvaddnwstr(y, x, run, n);
            x += n;
        }
    }
    attrset(A_NORMAL);
    refresh();
}

static int translate(int ch)
{
    switch (ch) {
    case KEY_UP:
        return SSV_KEY_UP;
    case KEY_DOWN:
        return SSV_KEY_DOWN;
    case KEY_LEFT:
        return SSV_KEY_LEFT;
    case KEY_RIGHT:
        return SSV_KEY_RIGHT;
    case KEY_PPAGE:
        return SSV_KEY_PGUP;
    case KEY_NPAGE:
        return SSV_KEY_PGDN;
    case KEY_HOME:
        return SSV_KEY_HOME;
    case KEY_END:
        return SSV_KEY_END;
    case KEY_BTAB:
        return SSV_KEY_BTAB;
    case KEY_BACKSPACE:
        return SSV_KEY_BACKSPACE;
    case KEY_ENTER:
    case '\r':
        return SSV_KEY_ENTER;
    case KEY_F(1):
        return SSV_KEY_F1;
    }
    return ch;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int start_curses(const struct ssv_ui_options *o, struct ssv_canvas *c, char *err,
                        size_t err_size)
{
    int utf8 = !o->ascii && strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
    const char *term = getenv("TERM");
    /* Before curses starts: ncurses puts its own handlers (which exit with status 1) only on
     * signals that have none. */
    catch_fatal_signals();
    screen = newterm(NULL, stdout, stdin);
    if (!screen) {
        snprintf(err, err_size, "cannot use the terminal (TERM=%s)", term ? term : "unset");
        return -1;
    }
    set_term(screen);
    curses_on = 1;
    const char *nc = getenv("NO_COLOR");
    choose_attrs(has_colors() && !(nc && nc[0]));
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    curs_set(0);
    timeout(TICK_MS);
    /* Esc means back here; ncurses would wait a second to tell it from an escape sequence. */
    if (!getenv("ESCDELAY"))
        set_escdelay(25);
    if (ssv_cv_init(c, COLS, LINES, utf8, 0) < 0) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    return 0;
}

static void stop_curses(struct ssv_canvas *c)
{
    restore_terminal();
    release_fatal_signals();
    if (screen)
        delscreen(screen);
    screen = NULL;
    ssv_cv_free(c);
}

/* A run directory being written may have no traces yet, or a trace with nothing but its header
 * (its process just started): both are waited out. Anything else on the first load is fatal. */
static int first_load_failed(const struct ssv_source *src, int code)
{
    return !(src->is_dir && (code == SS_ENOTRACE || code == SS_ECORRUPT));
}

int ssv_ui_run(struct ssv_app *a, struct ssv_source *src, const struct ssv_ui_options *o, char *err,
               size_t err_size)
{
    struct ssv_canvas c = {0};
    if (start_curses(o, &c, err, err_size) < 0) {
        stop_curses(&c);
        return -1;
    }
    int dirty = 1, rc = 0;
    uint64_t next_scan = 0;
    for (;;) {
        if (dirty) {
            ssv_app_draw(a, &c);
            blit(&c);
            dirty = 0;
        }
        int ch = getch();
        if (ch == KEY_RESIZE) {
            if (ssv_cv_resize(&c, COLS, LINES) < 0)
                break;
            clear();
            dirty = 1;
        } else if (ch != ERR) {
            int act = ssv_app_key(a, translate(ch));
            if (act & SSV_ACT_QUIT)
                break;
            if (act & SSV_ACT_RELOAD)
                next_scan = 0;
            dirty = 1;
        }
        struct ssv_snapshot *s;
        if (!a->frozen && ssv_src_load_poll(src, &s)) {
            if (s) {
                ssv_app_install(a, s);
                a->error[0] = '\0';
                a->state = ssv_src_state(src, &s->vm);
            } else if (!a->snap && first_load_failed(src, src->code)) {
                snprintf(err, err_size, "%s", src->err);
                rc = -1;
                break;
            } else {
                snprintf(a->error, sizeof a->error, "cannot read the run: %.200s", src->err);
            }
            dirty = 1;
        }
        uint64_t now = now_ns();
        if (!a->frozen && now >= next_scan) {
            next_scan = now + SCAN_NS;
            if (ssv_src_changed(src) && !src->busy && ssv_src_load_start(src, &a->scope) < 0)
                snprintf(a->error, sizeof a->error, "cannot start reading the run");
            enum ssv_src_state state = ssv_src_state(src, a->snap ? &a->snap->vm : NULL);
            dirty |= state != a->state;
            a->state = state;
        }
    }
    stop_curses(&c);
    return rc;
}
