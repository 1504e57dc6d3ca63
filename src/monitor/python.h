/* python: the Python functions a sampled thread of a CPython process was running, read from
 * the interpreter's own frame chain from outside (process_vm_readv), at the moment the monitor
 * takes the sample. Each native frame of the evaluation loop (_PyEval_EvalFrameDefault) is
 * replaced by the Python frames it ran, each as a synthetic address (SS_PYFRAME_ADDR) that a
 * PYFRAME record names: a stack reads native, then Python, then native again. docs/python.md
 * says how the interpreter is found and which versions are read. */
#ifndef SS_MONITOR_PYTHON_H
#define SS_MONITOR_PYTHON_H

#include <stdint.h>
#include <sys/types.h>

struct ss_target;
struct ss_writer;
struct ss_python;

/* How each supported CPython lays out what the reader follows. Offsets are in bytes; a field
 * a version does not have is SS_PY_NONE. */
#define SS_PY_NONE UINT32_MAX

enum ss_py_frames {
    SS_PY_FRAME_OBJECTS, /* 3.8-3.10: one PyFrameObject per call of the evaluation loop */
    SS_PY_FRAMES_311,    /* 3.11: interpreter frames, the first of each loop call is_entry */
    SS_PY_FRAMES_312,    /* 3.12+: an entry frame owned by the C stack opens each loop call */
};

enum ss_py_lines {
    SS_PY_LNOTAB,    /* 3.8-3.9: co_lnotab, f_lasti in bytes */
    SS_PY_LINES_310, /* 3.10: co_linetable, f_lasti in code units */
    SS_PY_LOCATIONS, /* 3.11+: the location table, instruction pointer into co_code_adaptive */
};

struct ss_py_offsets {
    unsigned minor; /* 3.minor */
    enum ss_py_frames frames;
    enum ss_py_lines lines;
    uint32_t runtime_interpreters; /* _PyRuntime.interpreters.head */
    uint32_t interp_next, interp_threads;
    uint32_t tstate_next, tstate_thread_id, tstate_native_id;
    uint32_t tstate_frame;   /* frame (3.8-3.10), cframe (3.11-3.12), current_frame (3.13) */
    uint32_t cframe_current; /* _PyCFrame.current_frame; SS_PY_NONE: tstate_frame is the frame */
    uint32_t frame_code, frame_previous, frame_instr, frame_owner, frame_is_entry;
    uint32_t code_name, code_qualname, code_filename, code_firstlineno, code_lines;
    uint32_t code_adaptive; /* the instructions, inside the code object (3.11+) */
    uint32_t unicode_state, unicode_length, unicode_ascii_size, unicode_compact_size;
    uint32_t bytes_size, bytes_data;
};

/* The table of 3.minor, or NULL when that version is not known (python-offsets.c). */
const struct ss_py_offsets *ss_py_offsets_for(unsigned minor);
/* 3.13 publishes its offsets in a _Py_DebugOffsets table at the start of _PyRuntime: fills out
 * from the len bytes read there. 0; -ENOTSUP for the table of another version or of a build
 * without the GIL; -EINVAL when they are no such table, or offsets that would send a read out of
 * bounds. */
int ss_py_offsets_from_debug(const uint8_t *table, size_t len, struct ss_py_offsets *out);
/* Bytes of _PyRuntime that ss_py_offsets_from_debug reads. */
#define SS_PY_DEBUG_TABLE_BYTES 584u
/* The fields of a code object this reader uses lie in its first SS_PY_CODE_HEADER_BYTES,
 * read in one go: an offset table may place none beyond. */
#define SS_PY_CODE_HEADER_BYTES 256u

struct ss_python *ss_python_new(void);
void ss_python_free(struct ss_python *py);
/* Looks for a CPython interpreter among the target's modules; called after each refresh of
 * the memory map, it reads a module's symbols only the first time it is seen. */
void ss_python_find(struct ss_python *py, struct ss_target *t);
/* Replaces each evaluation-loop frame of frames[0..n) (innermost first) by the Python frames
 * it was running for thread tid (thread_self: its pthread_self, 0 when unknown), writing a
 * PYFRAME record for each frame seen for the first time. Returns the new number of frames (at
 * most max); the stack is left as it was when the process runs no Python or the thread's
 * frames cannot be read. */
unsigned ss_python_merge(struct ss_python *py, struct ss_target *t, struct ss_writer *out,
                         pid_t tid, uint64_t thread_self, uint64_t *frames, unsigned n,
                         unsigned max);
/* The same from the Python frames the shim copied with a snapshot of thread tid (a call's
 * stack, a signal's sample), which are those of the moment the stack was copied; the code
 * objects they name are read now. */
struct ss_py_copy;
unsigned ss_python_merge_copy(struct ss_python *py, struct ss_target *t, struct ss_writer *out,
                              pid_t tid, uint64_t thread_self, const struct ss_py_copy *copy,
                              uint64_t *frames, unsigned n, unsigned max);
/* The address of thread tid's Python thread state, 0 when it has none (or no interpreter was
 * found); remembered, and checked with one read when asked again. */
uint64_t ss_python_thread_state(struct ss_python *py, struct ss_target *t, pid_t tid,
                                uint64_t thread_self);
/* Writes the PYFRAME records a stack written again into a new trace file refers to. */
void ss_python_rewrite_frames(struct ss_python *py, struct ss_writer *out, const uint64_t *frames,
                              unsigned n);
/* Tells the shim, once, how to copy Python frames: what ss_python_merge_copy reads. */
struct ss_seg_python;
void ss_python_publish(const struct ss_python *py, struct ss_seg_python *layout);
/* After ss_python_merge for thread tid, inside the stall that began at stall_id: writes a
 * STALL_TASK record naming the asyncio Task the thread was running, the first time one is
 * found in that stall (python-task.c says how). */
void ss_python_task(struct ss_python *py, struct ss_target *t, struct ss_writer *out, pid_t tid,
                    uint64_t stall_id);

/* What the Task reader takes a type of the target to be, by its name (tp_name). */
enum ss_py_type_kind {
    SS_PY_TYPE_UNKNOWN = 0, /* not looked at yet */
    SS_PY_TYPE_OTHER,
    SS_PY_TYPE_HANDLE,    /* has a _callback slot: asyncio's Handle, TimerHandle */
    SS_PY_TYPE_TASK,      /* _asyncio.Task or a subclass of it */
    SS_PY_TYPE_STEP,      /* TaskStepMethWrapper: the task is its first field */
    SS_PY_TYPE_WAKEUP,    /* TaskWakeupMethWrapper (3.8, 3.9): likewise */
    SS_PY_TYPE_CFUNCTION, /* builtin_function_or_method: its m_self may be the task */
    SS_PY_TYPE_COROUTINE, /* coroutine or generator: cr_qualname */
    SS_PY_TYPE_STR,
    SS_PY_TYPE_INT,
};
enum ss_py_type_kind ss_py_type_kind(const char *tp_name);
/* The value of a non-negative int of at most two digits (60 bits) of 3.minor from the first
 * 32 bytes of its object; 0, -ERANGE for a negative or larger int, -EINVAL when its digits are
 * not an int's. */
int ss_py_small_int(unsigned minor, const uint8_t *obj, uint64_t *value);

/* Samples whose Python frames could not all be read. */
uint64_t ss_python_incomplete(const struct ss_python *py);

#endif
