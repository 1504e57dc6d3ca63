/* ui: the terminal front end, the only part of the viewer that calls curses. It runs the input
 * loop (a key, a finished load or a one-second tick wakes it), copies the canvas the app draws
 * to the screen, and restores the terminal on every way out, fatal signals included. */
#ifndef SSV_UI_H
#define SSV_UI_H

#include <stddef.h>

#include "app.h"

struct ssv_ui_options {
    int ascii; /* draw with ASCII even on a UTF-8 terminal */
};

/* Runs the viewer on a source until the user quits. Returns 0, or -1 with a message in err
 * (no terminal, or a run that cannot be read at all). */
int ssv_ui_run(struct ssv_app *a, struct ssv_source *src, const struct ssv_ui_options *o, char *err,
               size_t err_size);

#endif
