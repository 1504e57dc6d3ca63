/* flame: the stalled time of a scope (all stalls, a process, a thread or one stall) as a tree of
 * frames, root first, for the icicle view: aggregation with each sample weighted by the time it
 * stands for (vm_sample_weight), zoom, search with the share of time under matches, layout in
 * columns and movement between frames. Built without curses. */
#ifndef SSV_FLAME_H
#define SSV_FLAME_H

#include <stddef.h>
#include <stdint.h>

#include "vmodel.h"

/* Frame names that are not functions. */
#define FL_NO_STACK "[no stack]"
#define FL_ROOT "all"

struct fl_node {
    const char *name;
    uint64_t total;                        /* time in this frame and below it */
    uint64_t self;                         /* time with this frame innermost */
    struct fl_node *parent, *child, *next; /* children heaviest first */
    uint32_t depth;
    int match;
};

#define FL_HISTORY 64

struct fl_chunk;

struct flame {
    struct fl_node *root;
    struct fl_node *zoom;                /* the frame shown at full width */
    struct fl_node *history[FL_HISTORY]; /* earlier zooms, for zooming back out */
    size_t nhistory;
    struct fl_node *sel;
    struct vm_scope scope;
    uint64_t nsamples;
    uint32_t max_depth;
    char needle[128];
    size_t nmatch;     /* matching frames under the zoomed frame */
    uint64_t match_ns; /* time under matches there, each sample counted once */
    struct fl_chunk *chunks;
};

/* Aggregates the samples of every stall in scope. A sample's frames go root first; a sample
 * taken at an interposed call gets the call as its innermost frame ("nanosleep()"), a sample
 * without a stack a "[no stack]" frame. Returns 0 or -1 when out of memory. */
int flame_build(struct flame *f, struct vm *vm, const struct vm_scope *scope);
void flame_free(struct flame *f);

/* Makes n the frame shown at full width and selects it. */
void flame_zoom(struct flame *f, struct fl_node *n);
/* Back to the previous zoom; returns 0 when not zoomed. */
int flame_unzoom(struct flame *f);
/* Marks frames whose name contains needle (ignoring case) and computes their share of the
 * zoomed frame's time; an empty needle clears the search. */
void flame_search(struct flame *f, const char *needle);
/* Share (0..1) of the zoomed frame's time under a match. */
double flame_share(const struct flame *f);
/* After a reload: the same zoom, zoom history, selection and search as in the old flame, found
 * by frame names; what no longer exists falls back to the root. */
void flame_carry(struct flame *to, const struct flame *from);

/* A frame placed on screen: row 0 is the zoomed frame, columns [x, x + w). */
struct fl_box {
    struct fl_node *node;
    int row, x, w;
};
struct fl_layout {
    struct fl_box *boxes; /* depth-first, so left to right within a row */
    size_t n, cap;
    int rows;
};
/* Places the zoomed frame and everything under it at least one column wide. Returns 0 or -1
 * when out of memory. */
int flame_layout(const struct flame *f, int width, struct fl_layout *l);
void flame_layout_free(struct fl_layout *l);
/* The box of a node, or NULL when it is not placed. */
const struct fl_box *flame_box(const struct fl_layout *l, const struct fl_node *n);

enum fl_move { FL_UP, FL_DOWN, FL_LEFT, FL_RIGHT, FL_TOP, FL_BOTTOM, FL_NEXT, FL_PREV };
/* Moves the selection among placed frames: to the parent, the heaviest child, the neighbour in
 * the same row, the zoomed frame, the hottest leaf, or the next and previous match. Returns 1
 * when the selection changed. */
int flame_move(struct flame *f, const struct fl_layout *l, enum fl_move m);

#endif
