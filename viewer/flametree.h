/* flame: the stalled time of a scope (all stalls, a process, a thread or one stall) as a tree of
 * frames, root first, for the icicle view: aggregation with each sample weighted by the time it
 * stands for and its frames named as the exports share out and name them (flame.h), summarised
 * stalls included by stack, zoom, search with the share of time under matches, layout in
 * columns and movement between frames. Built without curses. */
#ifndef SSV_FLAMETREE_H
#define SSV_FLAMETREE_H

#include <stddef.h>
#include <stdint.h>

#include "stacks/flame.h"
#include "vmodel.h"

/* Frame names that are not functions. */
#define SSV_FL_NO_STACK SS_NO_STACK_FRAME
#define SSV_FL_ROOT "all"

struct ssv_fl_node {
    const char *name;
    uint64_t total;                            /* time in this frame and below it */
    uint64_t self;                             /* time with this frame innermost */
    struct ssv_fl_node *parent, *child, *next; /* children heaviest first */
    uint32_t depth;
    int match;
};

#define SSV_FL_HISTORY 64

struct ssv_fl_chunk;

struct ssv_flame {
    struct ssv_fl_node *root;
    struct ssv_fl_node *zoom;                    /* the frame shown at full width */
    struct ssv_fl_node *history[SSV_FL_HISTORY]; /* earlier zooms, for zooming back out */
    size_t nhistory;
    struct ssv_fl_node *sel;
    struct ssv_vm_scope scope;
    uint64_t nsamples;   /* spans drawn, those of summarised stalls included */
    uint64_t summarised; /* summarised stalls in scope, drawn by stack */
    uint32_t max_depth;
    char needle[128];
    size_t nmatch;     /* matching frames under the zoomed frame */
    uint64_t match_ns; /* time under matches there, each sample counted once */
    struct ssv_fl_chunk *chunks;
};

/* Aggregates the samples of every stall in scope, each weighing the span ss_stall_spans gives
 * it, and in every scope but a stall's the spans of the summarised stalls (struct ss_summary).
 * A sample's frames go root first, as ss_span_frames names them: a sample taken in an
 * interposed call gets the call as its innermost frame ("nanosleep"), a sample without a stack
 * a "[no stack]" frame. Returns 0 or -1 when out of memory. */
int ssv_flame_build(struct ssv_flame *f, struct ssv_vm *vm, const struct ssv_vm_scope *scope);
void ssv_flame_free(struct ssv_flame *f);

/* Makes n the frame shown at full width and selects it. */
void ssv_flame_zoom(struct ssv_flame *f, struct ssv_fl_node *n);
/* Back to the previous zoom; returns 0 when not zoomed. */
int ssv_flame_unzoom(struct ssv_flame *f);
/* Marks frames whose name contains needle (ignoring case) and computes their share of the
 * zoomed frame's time; an empty needle clears the search. */
void ssv_flame_search(struct ssv_flame *f, const char *needle);
/* Share (0..1) of the zoomed frame's time under a match. */
double ssv_flame_share(const struct ssv_flame *f);
/* After a reload: the same zoom, zoom history, selection and search as in the old flame, found
 * by frame names; what no longer exists falls back to the root. */
void ssv_flame_carry(struct ssv_flame *to, const struct ssv_flame *from);

/* A frame placed on screen: row 0 is the zoomed frame, columns [x, x + w). */
struct ssv_fl_box {
    struct ssv_fl_node *node;
    int row, x, w;
};
struct ssv_fl_layout {
    struct ssv_fl_box *boxes; /* depth-first, so left to right within a row */
    size_t n, cap;
    int rows;
};
/* Places the zoomed frame and everything under it at least one column wide. Returns 0 or -1
 * when out of memory. */
int ssv_flame_layout(const struct ssv_flame *f, int width, struct ssv_fl_layout *l);
void ssv_flame_layout_free(struct ssv_fl_layout *l);
/* The box of a node, or NULL when it is not placed. */
const struct ssv_fl_box *ssv_flame_box(const struct ssv_fl_layout *l, const struct ssv_fl_node *n);

enum ssv_fl_move {
    SSV_FL_UP,
    SSV_FL_DOWN,
    SSV_FL_LEFT,
    SSV_FL_RIGHT,
    SSV_FL_TOP,
    SSV_FL_BOTTOM,
    SSV_FL_NEXT,
    SSV_FL_PREV
};
/* Moves the selection among placed frames: to the parent, the heaviest child, the neighbour in
 * the same row, the zoomed frame, the hottest leaf, or the next and previous match. Returns 1
 * when the selection changed. */
int ssv_flame_move(struct ssv_flame *f, const struct ssv_fl_layout *l, enum ssv_fl_move m);

#endif
