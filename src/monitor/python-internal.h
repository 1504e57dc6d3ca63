/* python-internal: what the parts of the Python frame reader share: python.c finds the
 * interpreter and walks a thread's frames, python-code.c turns a code object and an
 * instruction into a named frame, python-lines.c maps an instruction to its line. */
#ifndef SS_MONITOR_PYTHON_INTERNAL_H
#define SS_MONITOR_PYTHON_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "monitor/python.h"
#include "util/hash.h"
#include "util/intern.h"

/* What one code object is known to hold, cached by its address. The pointers it held when
 * read say whether the object at that address is still the same one. */
struct ss__py_code {
    uint64_t addr;
    uint64_t name, qualname, filename, lines; /* the object pointers read */
    int32_t firstline;
    char *qualname_text, *filename_text;
    uint8_t *table; /* the line table's bytes */
    size_t table_len;
};

#define SS_PY_CODE_CACHE 1024u

/* A (function, file, line) given an id: the frame a PYFRAME record names. */
struct ss__py_named {
    uint32_t id, line, firstline;
    const char *qualname, *filename; /* interned in names */
    uint32_t generation;             /* of the writer's file that last got its record */
};

struct ss__py_codes {
    uint64_t code_type; /* the address of PyCode_Type: every code object's ob_type */
    struct ss__py_code cache[SS_PY_CODE_CACHE];
    struct ss__py_named *named; /* by id - 1 */
    size_t nnamed, capnamed;
    struct ss_interner names;  /* qualified names and file names, each held once */
    struct ss_key_table index; /* (qualname, filename, line), interned, to id - 1 */
};

/* python-code.c: the synthetic address of the frame running code object `code` at
 * instruction `instr` (in the units the version's line table uses), writing its PYFRAME
 * record the first time; 0 when the code object could not be read. `copied_name`: the pointer
 * to its qualified name the shim copied with the frame, 0 for a frame read now. */
struct ss_target;
struct ss_writer;
uint64_t ss__py_frame_addr(struct ss__py_codes *c, const struct ss_py_offsets *o,
                           struct ss_target *t, struct ss_writer *out, uint64_t code, int64_t instr,
                           uint64_t copied_name);
void ss__py_codes_free(struct ss__py_codes *c);
/* Writes the PYFRAME records of the Python frames among `frames` that out's current file does
 * not have yet (a stack written again into a new file of a rotated trace). */
void ss__py_codes_rewrite(struct ss__py_codes *c, struct ss_writer *out, const uint64_t *frames,
                          unsigned n);
/* A str object as UTF-8 (at most 1024 characters), malloc'd; NULL when it is not a compact
 * string the reader knows or cannot be read. */
char *ss__py_read_text(const struct ss_py_offsets *o, struct ss_target *t, uint64_t obj);

/* python-task.c: the asyncio Task a thread runs, found through the innermost frame of
 * asyncio's Handle._run in the chain read last: its first local is the Handle, whose callback
 * leads to the Task. What it learns of the target's types is kept by the type's address. */
#define SS_PY_TASK_TYPES 32u
#define SS_PY_TASK_STALLS 16u

struct ss__py_task {
    pid_t tid;             /* the thread whose chain was read last */
    uint64_t handle_frame; /* its innermost Handle._run frame; 0 when it has none */
    struct {
        uint64_t type;
        uint8_t kind;      /* enum ss_py_type_kind */
        uint32_t callback; /* SS_PY_TYPE_HANDLE: the offset of the Handle's _callback */
    } types[SS_PY_TASK_TYPES];
    unsigned next_type;
    struct {
        pid_t tid;
        uint64_t stall;
    } written[SS_PY_TASK_STALLS]; /* the latest stall of a thread whose task is in the trace */
};

struct ss_writer;
/* A chain of thread tid is about to be read. */
void ss__py_task_begin(struct ss__py_task *pt, pid_t tid);
/* The chain reached `frame`, named frame addr (SS_PYFRAME_ADDR) of c. */
void ss__py_task_frame(struct ss__py_task *pt, const struct ss__py_codes *c, uint64_t frame,
                       uint64_t addr);
/* Writes the STALL_TASK record of thread tid's stall stall_id when the chain read last was
 * that thread's and leads to a Task, unless the stall has one already. */
void ss__py_task_write(struct ss__py_task *pt, const struct ss_py_offsets *o, struct ss_target *t,
                       struct ss_writer *out, pid_t tid, uint64_t stall_id);

/* python-lines.c: the line of instruction `instr` from a line table; -1, no error but "no
 * line", when the table gives none (a damaged one included: it comes from the target). instr
 * is f_lasti in bytes (SS_PY_LNOTAB), in bytes (SS_PY_LINES_310: f_lasti times two), in code
 * units (SS_PY_LOCATIONS). */
int ss_py_line(enum ss_py_lines kind, const uint8_t *table, size_t len, int firstline,
               int64_t instr);

#endif
