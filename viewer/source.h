/* source: where the viewer's run comes from and when to read it again. A run directory is
 * watched with stat alone (names, sizes and modification times of its traces); only when that
 * changes is the run read again, on a thread of its own, so that typing never waits for a
 * large run to load. A load yields a snapshot: the run, its view model and its flame. */
#ifndef SSV_SOURCE_H
#define SSV_SOURCE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "flametree.h"
#include "vmodel.h"

struct ssv_snapshot {
    struct ssv_vm vm;
    struct ssv_flame flame;
};

/* The rules that name the stalls' causes: the built-in ones, and those of causes_file when not
 * NULL. Returns NULL with one line in err on a mistake in the file. */
struct ss_cause_rules *ssv_cause_rules(const char *causes_file, char *err, size_t err_size);

/* Loads path, keeping keep_stalls stalls per process in detail (0: all), names its stalls'
 * causes with the rules of ssv_cause_rules(causes_file), and builds its model and its flame for
 * scope, on the calling thread. Returns NULL with one line in err on failure; *code gets the
 * core library's error code (errors.h). */
struct ssv_snapshot *ssv_snapshot_load(const char *path, size_t keep_stalls,
                                       const char *causes_file, const struct ssv_vm_scope *scope,
                                       char *err, size_t err_size, int *code);
void ssv_snapshot_free(struct ssv_snapshot *s);

struct ssv_src_file {
    char *name;
    struct timespec mtime;
};

enum ssv_src_state {
    SSV_SRC_WAITING,  /* nothing loaded yet */
    SSV_SRC_LIVE,     /* a process has not ended and its trace changed within SRC_LIVE_WINDOW */
    SSV_SRC_QUIET,    /* no process is writing: idle, stopped or killed without an end record */
    SSV_SRC_FINISHED, /* every process has ended */
};
#define SSV_SRC_LIVE_WINDOW_S 5

struct ssv_source {
    char *path;
    int is_dir;
    uint64_t seen;   /* signature of the traces at the last scan */
    uint64_t loaded; /* signature when the current load was asked for */
    struct ssv_src_file *files;
    size_t nfiles;
    pthread_t thread;
    int busy;
    atomic_int done;
    struct ssv_vm_scope scope;
    size_t keep_stalls;      /* SS_KEEP_STALLS_DEFAULT unless changed after ssv_src_open */
    const char *causes_file; /* rules of one's own, read again with each load; NULL: none */
    struct ssv_snapshot *result;
    char err[512];
    int code;
};

/* Returns 0, or -1 with a message in err when path does not exist. */
int ssv_src_open(struct ssv_source *s, const char *path, char *err, size_t err_size);
/* Joins a load in flight and frees everything. */
void ssv_src_close(struct ssv_source *s);

/* Stats the traces; returns 1 when they differ from those of the last load. */
int ssv_src_changed(struct ssv_source *s);
/* Starts reading the run on a thread; returns 0, or -1 when a load is already running or no
 * thread could be started. */
int ssv_src_load_start(struct ssv_source *s, const struct ssv_vm_scope *scope);
/* When the load has finished: 1 with *out set (NULL on failure, with err and code set), and
 * the source ready for the next load. 0 while it is running or when none was started. */
int ssv_src_load_poll(struct ssv_source *s, struct ssv_snapshot **out);

/* What the processes of a loaded run are doing, judged from the last scan. */
enum ssv_src_state ssv_src_state(const struct ssv_source *s, const struct ssv_vm *vm);

/* The run directory holding the trace of pid: dir/stallscope-PID.trace. Returns 0, or -1 with
 * a message in err. */
int ssv_src_find_pid(const char *dir, unsigned long pid, char *err, size_t err_size);

#endif
