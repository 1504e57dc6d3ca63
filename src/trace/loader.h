/* loader: the state of loading one trace file into a struct ss_process, shared by the parts
 * of the loader inside src/trace/: reader.c reads the file record by record, decode.c turns each
 * record into the model, summary.c holds the stalls and summarises those beyond the limit.
 * Functions that fail with a code write its detail to l->err. */
#ifndef SS_TRACE_LOADER_H
#define SS_TRACE_LOADER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "model.h"
#include "util/hash.h"

/* How far the records of a loop thread's stalls have come, to know which stalls are complete,
 * and which of its loops is still running. */
struct stall_progress {
    uint64_t latest_id;     /* the latest stall with any record */
    uint64_t latest_end_id; /* the latest stall with its end (or its loop's) */
    size_t open_loop;       /* index + 1 in p->loops of the loop not ended yet, 0 for none */
};

/* Loading state of one process: capacities and the indexes live only while reading. */
struct loader {
    struct ss_process *p;
    size_t threads_cap, stalls_cap, stacks_cap, modules_cap, notes_cap, calls_cap, loops_cap;
    size_t pyframes_cap;
    size_t *index; /* open addressing over stalls: slot holds stall index + 1 */
    size_t index_size;
    size_t keep;     /* stalls kept in detail, 0 for all */
    size_t prune_at; /* the number of stalls held at which to summarise the surplus */
    int file_ended;  /* every stall is complete */
    struct stall_progress *progress;
    size_t nprogress, progress_cap;
    struct ss_key_table progress_by_tid;
    struct ss_key_table loop_lasts;  /* (tid, start of a loop's last stretch) to the loop's index */
    struct ss_key_table stack_ids;   /* a stack's id to its index in p->stacks */
    struct ss_key_table pyframe_ids; /* a Python frame's id, to refuse a second record of it */
    size_t summary_threads_cap, summary_calls_cap, summary_stacks_cap;
    struct ss_key_table summary_threads, summary_calls, summary_stacks;
    struct ss_span *spans; /* scratch for the stall being summarised */
    size_t spans_cap;
    int saw_process; /* the process record, which every other must follow, was read */
    /* Stacks and Python frames read before the file under way: a rotated trace's file repeats
     * those of the earlier files that it refers to, under the same ids. */
    size_t earlier_stacks, earlier_pyframes;
    char *err;
    size_t err_size;
};

/* Returns code from the calling function with one line of detail in l->err. */
#define FAIL(code, ...)                                                                            \
    do {                                                                                           \
        snprintf(l->err, l->err_size, __VA_ARGS__);                                                \
        return (code);                                                                             \
    } while (0)

/* reader.c: loads trace files as one new process of the run: one file, or the files of one
 * rotated trace in order. */
int trace_load_files(struct ss_run *run, char *const *paths, size_t n, int in_dir, size_t keep,
                     char *err, size_t err_size);
/* run.c: frees what a process holds. */
void trace_free_process(struct ss_process *p);
/* reader.c: which process a trace file is of, and which of its rotated files (0 for the first,
 * or when it is not rotated), from its first records. -1 when the file does not say (or cannot
 * be read): not an error, as the caller then orders the file by name alone. */
int trace_identify(const char *path, uint32_t *pid, uint64_t *start_mono_ns, uint32_t *index);

/* decode.c: adds the record at offset to the process; its payload is whole in memory. A tag
 * this reader does not know is skipped. */
int trace_decode(struct loader *l, const char *path, uint64_t offset, const struct ss_rec_header *h,
                 const uint8_t *payload);
/* What the record handlers share: a string of the record interned, the thread of tid (made
 * when new if create; NULL when out of memory or not found), the latest time the trace has
 * reached, and a stack by its id (NULL for 0 or one not written). */
const char *trace_intern(struct loader *l, const uint8_t *b, size_t n);
struct ss_thread *trace_find_thread(struct loader *l, uint32_t tid, int create);
void trace_seen_time(struct ss_process *p, uint64_t ns);
struct ss_stack *trace_stack_by_id(const struct loader *l, uint32_t id);

/* decode-loops.c: the handlers of LOOP_BEGIN and LOOP_END, as decode.c's others. */
int trace_on_loop_begin(struct loader *l, const uint8_t *b, size_t n);
int trace_on_loop_end(struct loader *l, const uint8_t *b, size_t n);
/* Once every record is read: which threads are loop threads. */
void trace_mark_loop_threads(struct loader *l);
/* Once every record is read: the Python frames in id order, for lookups by address. */
void trace_sort_pyframes(struct loader *l);

/* summary.c: the progress of a thread's stalls, made when new; NULL when out of memory. */
struct stall_progress *trace_progress(struct loader *l, uint32_t tid);
/* Notes a record of stall_id on thread tid, which ends it when ended; -ENOMEM when out of
 * memory. */
int trace_note_progress(struct loader *l, uint32_t tid, uint64_t stall_id, int ended);
/* The stall of tid that began at start, made when new if create; NULL when out of memory or
 * not found. Making one may summarise others and move every stall held. */
struct ss_stall *trace_find_stall(struct loader *l, uint32_t tid, uint64_t start, int create);
/* The loop whose last stretch began at start on thread tid, or NULL. */
struct ss_loop *trace_loop_ended_at(struct loader *l, uint32_t tid, uint64_t start);
/* What a record of a stall adds to, its progress noted: the last stretch of a loop when the
 * stall turned out to be that, else the stall, made when new. NULL when out of memory. */
struct ss_stall *trace_record_stall(struct loader *l, uint32_t tid, uint64_t stall_id);
/* Takes the stalls of tid that began in [from, to] out of the stall list: the one that began
 * at to into *last when last is given, the others freed. */
void trace_take_stalls(struct loader *l, uint32_t tid, uint64_t from, uint64_t to,
                       struct ss_stall *last);
/* Once the whole file is read: summarises the surplus, and sorts the summary; -ENOMEM when
 * out of memory. */
int trace_finish_stalls(struct loader *l);
void trace_free_stall(struct ss_stall *s);
/* Frees what only loading needed; the process stays. */
void trace_free_loader(struct loader *l);

#endif
