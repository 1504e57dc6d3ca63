/* python: finds a CPython interpreter in the target (its _PyRuntime in libpython3.X.so or in a
 * python3.X executable), the thread state of a sampled thread, and the chain of Python frames
 * it runs, and merges those frames into the thread's native stack. Every read of the target
 * is a bounded, fault-safe copy; the first that fails ends the Python part of the stack. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/segment.h"
#include "common/trace-format.h"
#include "monitor/python-internal.h"
#include "monitor/target.h"
#include "stacks/frame-names.h"

#define CHECKED_MAX 16
#define EVAL_RANGES 2
#define INTERPRETERS_MAX 64
#define THREADS_MAX 4096
#define TSTATES_KNOWN 16
#define PY_FRAMES_MAX 256
/* 3.12+: the frame each call of the evaluation loop pushes on the C stack. */
#define FRAME_OWNED_BY_CSTACK 3

struct ss_python {
    char *checked[CHECKED_MAX]; /* modules whose symbols were read */
    size_t nchecked;
    bool found;
    struct ss_py_offsets offsets;
    uint64_t runtime;
    uint64_t eval_lo[EVAL_RANGES], eval_hi[EVAL_RANGES];
    unsigned neval;
    uint32_t frame_span; /* bytes of a frame read at once: every offset used lies below */
    struct ss__py_codes codes;
    struct ss__py_task task;
    uint64_t incomplete;
    /* The thread states found last, by slot of tid: checked with one read before a walk. */
    struct {
        pid_t tid;
        uint64_t self, ts;
    } known[TSTATES_KNOWN];
};

struct ss_python *ss_python_new(void)
{
    return calloc(1, sizeof(struct ss_python));
}

void ss_python_free(struct ss_python *py)
{
    if (!py)
        return;
    for (size_t i = 0; i < py->nchecked; i++)
        free(py->checked[i]);
    ss__py_codes_free(&py->codes);
    free(py);
}

void ss_python_rewrite_frames(struct ss_python *py, struct ss_writer *out, const uint64_t *frames,
                              unsigned n)
{
    if (py)
        ss__py_codes_rewrite(&py->codes, out, frames, n);
}

uint64_t ss_python_incomplete(const struct ss_python *py)
{
    return py ? py->incomplete : 0;
}

/* The symbols of an interpreter image, as file addresses; 0 when absent. */
struct py_symbols {
    uint64_t runtime, code_type, version;
    uint64_t eval_lo[EVAL_RANGES], eval_hi[EVAL_RANGES];
    unsigned neval;
};

static void note_symbol(struct py_symbols *s, const char *name, const GElf_Sym *sym)
{
    if (strcmp(name, "_PyRuntime") == 0)
        s->runtime = sym->st_value;
    else if (strcmp(name, "PyCode_Type") == 0)
        s->code_type = sym->st_value;
    else if (strcmp(name, "Py_Version") == 0)
        s->version = sym->st_value;
    else if ((strcmp(name, "_PyEval_EvalFrameDefault") == 0 ||
              strcmp(name, "_PyEval_EvalFrameDefault.cold") == 0) &&
             sym->st_size && s->neval < EVAL_RANGES) {
        for (unsigned i = 0; i < s->neval; i++)
            if (s->eval_lo[i] == sym->st_value)
                return; /* the same function in .dynsym and .symtab */
        s->eval_lo[s->neval] = sym->st_value;
        s->eval_hi[s->neval++] = sym->st_value + sym->st_size;
    }
}

/* The interpreter's symbols in the module file at path: 0; -ENOENT when it lacks one (not an
 * interpreter after all), or -errno when it cannot be opened. */
static int read_symbols(const char *path, struct py_symbols *s)
{
    memset(s, 0, sizeof *s);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    elf_version(EV_CURRENT);
    Elf *e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    for (Elf_Scn *scn = NULL; e && (scn = elf_nextscn(e, scn));) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM))
            continue;
        Elf_Data *d = elf_getdata(scn, NULL);
        size_t count = d && sh.sh_entsize ? d->d_size / sh.sh_entsize : 0;
        for (size_t i = 0; i < count; i++) {
            GElf_Sym sym;
            const char *name;
            if (gelf_getsym(d, (int)i, &sym) && sym.st_value &&
                (name = elf_strptr(e, sh.sh_link, sym.st_name)))
                note_symbol(s, name, &sym);
        }
    }
    if (e)
        elf_end(e);
    close(fd);
    return s->runtime && s->code_type && s->neval ? 0 : -ENOENT;
}

/* 3.minor from a module's name ("libpython3.11.so.1.0", "python3.11"); 0 when it says none. */
static unsigned minor_from_name(const char *base)
{
    const char *v = strstr(base, "python3.");
    if (!v)
        return 0;
    char *end;
    unsigned long minor = strtoul(v + 8, &end, 10);
    return end != v + 8 && minor < 100 ? (unsigned)minor : 0;
}

static bool interpreter_module(const char *base)
{
    return fnmatch("libpython3.*.so*", base, 0) == 0 || fnmatch("python3*", base, 0) == 0;
}

/* The offsets of 3.minor: 0; -ENOTSUP for a version this reader does not know, or the code
 * of reading and checking the table 3.13 publishes. */
static int set_offsets(struct ss_python *py, struct ss_target *t, unsigned minor)
{
    if (minor >= 13) {
        uint8_t table[SS_PY_DEBUG_TABLE_BYTES];
        int rc = ss_target_read(t, py->runtime, table, sizeof table);
        return rc < 0 ? rc : ss_py_offsets_from_debug(table, sizeof table, &py->offsets);
    }
    const struct ss_py_offsets *o = ss_py_offsets_for(minor);
    if (!o)
        return -ENOTSUP;
    py->offsets = *o;
    py->offsets.minor = minor; /* one table serves 3.8 and 3.9 */
    return 0;
}

static uint32_t span_of(const struct ss_py_offsets *o)
{
    uint32_t span = 0;
    const uint32_t fields[] = {o->frame_code, o->frame_previous, o->frame_instr, o->frame_owner,
                               o->frame_is_entry};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (fields[i] != SS_PY_NONE && fields[i] + 8 > span)
            span = fields[i] + 8;
    return span;
}

/* Reads the interpreter's symbols from one module's file and checks its version. */
static void try_module(struct ss_python *py, struct ss_target *t, const struct ss_target_module *m)
{
    struct py_symbols s;
    if (read_symbols(m->path, &s) < 0)
        return;
    unsigned minor = minor_from_name(ss_basename(m->path));
    uint64_t hex;
    /* Py_Version (3.11+) says it better than a name. */
    if (s.version && ss_target_read(t, s.version + m->bias, &hex, sizeof hex) == 0 &&
        (hex >> 24) == 3)
        minor = (hex >> 16) & 0xff;
    py->runtime = s.runtime + m->bias;
    if (set_offsets(py, t, minor) < 0)
        return;
    py->codes.code_type = s.code_type + m->bias;
    for (unsigned i = 0; i < s.neval; i++) {
        py->eval_lo[i] = s.eval_lo[i] + m->bias;
        py->eval_hi[i] = s.eval_hi[i] + m->bias;
    }
    py->neval = s.neval;
    py->frame_span = span_of(&py->offsets);
    py->found = true;
}

void ss_python_find(struct ss_python *py, struct ss_target *t)
{
    const struct ss_target_module *mods;
    size_t n = ss_target_modules(t, &mods);
    for (size_t i = 0; i < n && !py->found && py->nchecked < CHECKED_MAX; i++) {
        if (!interpreter_module(ss_basename(mods[i].path)))
            continue;
        bool seen = false;
        for (size_t k = 0; k < py->nchecked && !seen; k++)
            seen = strcmp(py->checked[k], mods[i].path) == 0;
        if (seen || !(py->checked[py->nchecked] = strdup(mods[i].path)))
            continue;
        py->nchecked++;
        try_module(py, t, &mods[i]);
    }
}

static int read_ptr(struct ss_target *t, uint64_t addr, uint64_t *v)
{
    return ss_target_read(t, addr, v, sizeof *v);
}

/* 1 when ts is the thread state of thread tid (3.11+: its native id) or of the thread whose
 * pthread_self is thread_self, as its id field says; 0 when not; -1, no error but "cannot
 * tell", when the process is gone (a copy's state is then what it was). */
static int thread_state_names(const struct ss_python *py, struct ss_target *t, uint64_t ts,
                              pid_t tid, uint64_t thread_self)
{
    const struct ss_py_offsets *o = &py->offsets;
    bool native = o->tstate_native_id != SS_PY_NONE;
    uint64_t id;
    int rc = read_ptr(t, ts + (native ? o->tstate_native_id : o->tstate_thread_id), &id);
    if (rc == -ESRCH)
        return -1;
    return rc == 0 && (native ? id == (uint64_t)tid : id == thread_self);
}

static bool is_thread_state_of(const struct ss_python *py, struct ss_target *t, uint64_t ts,
                               pid_t tid, uint64_t thread_self)
{
    return ts && thread_state_names(py, t, ts, tid, thread_self) == 1;
}

/* The thread state of the thread; 0 when none. */
static uint64_t walk_thread_states(struct ss_python *py, struct ss_target *t, pid_t tid,
                                   uint64_t thread_self);

/* The thread's state: the one found last when it still names the thread (one read per
 * sample, not a walk of every thread of every interpreter). */
static uint64_t thread_state(struct ss_python *py, struct ss_target *t, pid_t tid,
                             uint64_t thread_self)
{
    unsigned slot = (unsigned)tid % TSTATES_KNOWN;
    if (py->known[slot].tid == tid && py->known[slot].self == thread_self &&
        is_thread_state_of(py, t, py->known[slot].ts, tid, thread_self))
        return py->known[slot].ts;
    uint64_t ts = walk_thread_states(py, t, tid, thread_self);
    py->known[slot].tid = tid;
    py->known[slot].self = thread_self;
    py->known[slot].ts = ts;
    return ts;
}

static uint64_t walk_thread_states(struct ss_python *py, struct ss_target *t, pid_t tid,
                                   uint64_t thread_self)
{
    const struct ss_py_offsets *o = &py->offsets;
    bool native = o->tstate_native_id != SS_PY_NONE;
    if (!native && !thread_self)
        return 0;
    uint64_t interp;
    if (read_ptr(t, py->runtime + o->runtime_interpreters, &interp) < 0)
        return 0;
    for (unsigned i = 0; interp && i < INTERPRETERS_MAX; i++) {
        uint64_t ts;
        if (read_ptr(t, interp + o->interp_threads, &ts) < 0)
            return 0;
        for (unsigned k = 0; ts && k < THREADS_MAX; k++) {
            uint64_t id;
            if (read_ptr(t, ts + (native ? o->tstate_native_id : o->tstate_thread_id), &id) < 0)
                return 0;
            if (native ? id == (uint64_t)tid : id == thread_self)
                return ts;
            if (read_ptr(t, ts + o->tstate_next, &ts) < 0)
                return 0;
        }
        if (read_ptr(t, interp + o->interp_next, &interp) < 0)
            return 0;
    }
    return 0;
}

/* The Python frames of one thread, innermost first, cut into the runs each call of the
 * evaluation loop made: run r is frames [run_start[r], run_start[r + 1]). */
struct py_stack {
    uint64_t addr[PY_FRAMES_MAX];
    unsigned n;
    unsigned run_start[PY_FRAMES_MAX + 1];
    unsigned nruns;
};

static void end_run(struct py_stack *ps)
{
    if (ps->n > ps->run_start[ps->nruns])
        ps->run_start[++ps->nruns] = ps->n;
}

/* The instruction a frame is at, in the units of the version's line table; -1 when it is at
 * none yet (ss_py_line then gives the first line). */
static int64_t instruction(const struct ss_py_offsets *o, const uint8_t *frame, uint64_t code)
{
    if (o->frames == SS_PY_FRAME_OBJECTS) {
        int32_t lasti;
        memcpy(&lasti, frame + o->frame_instr, sizeof lasti);
        return o->lines == SS_PY_LINES_310 ? (int64_t)lasti * 2 : lasti;
    }
    uint64_t ip;
    memcpy(&ip, frame + o->frame_instr, sizeof ip);
    uint64_t first = code + o->code_adaptive;
    return ip >= first ? (int64_t)((ip - first) / 2) : -1;
}

/* Where a chain's frames come from: the target's memory now, or the copy the shim made with
 * a snapshot (frame i of the chain is copy->frames[i]). */
struct chain_source {
    struct ss_target *t;
    const struct ss_py_copy *copy;
};

/* Frame `index` of the chain into f: 0, the read's negated errno, or -ENODATA past the last
 * frame of a copy. */
static int read_frame(const struct ss_python *py, const struct chain_source *src, unsigned index,
                      uint64_t frame, uint8_t *f)
{
    if (!src->copy)
        return ss_target_read(src->t, frame, f, py->frame_span);
    if (index >= src->copy->n)
        return -ENODATA;
    memcpy(f, src->copy->frames[index], py->frame_span);
    return 0;
}

/* Follows the chain from `frame`. Returns 0 when the whole chain was read; else, the chain
 * being incomplete, read_frame's code, -EFAULT when a frame's code object could not be read,
 * or -EOVERFLOW when the chain (or a frame) is longer than what holds it. */
static int read_chain(struct ss_python *py, const struct chain_source *src, struct ss_writer *out,
                      uint64_t frame, struct py_stack *ps)
{
    const struct ss_py_offsets *o = &py->offsets;
    for (unsigned steps = 0; frame && ps->n < PY_FRAMES_MAX; steps++) {
        uint8_t f[SS_PY_COPY_SPAN];
        if (steps > 4 * PY_FRAMES_MAX || py->frame_span > sizeof f)
            return -EOVERFLOW;
        int rc = read_frame(py, src, steps, frame, f);
        if (rc < 0)
            return rc;
        uint64_t code, previous;
        memcpy(&code, f + o->frame_code, sizeof code);
        memcpy(&previous, f + o->frame_previous, sizeof previous);
        uint8_t owner = o->frame_owner == SS_PY_NONE ? 0 : f[o->frame_owner];
        if (o->frames == SS_PY_FRAMES_312 && owner == FRAME_OWNED_BY_CSTACK) {
            end_run(ps);
        } else {
            uint64_t copied_name = src->copy ? src->copy->names[steps] : 0;
            uint64_t addr = ss__py_frame_addr(&py->codes, o, src->t, out, code,
                                              instruction(o, f, code), copied_name);
            if (!addr)
                return -EFAULT;
            ps->addr[ps->n++] = addr;
            ss__py_task_frame(&py->task, &py->codes, frame, addr);
            if (o->frames == SS_PY_FRAME_OBJECTS ||
                (o->frames == SS_PY_FRAMES_311 && f[o->frame_is_entry]))
                end_run(ps);
        }
        frame = previous;
    }
    return frame ? -EOVERFLOW : 0;
}

/* The thread's current frame, read from its state now; 0, or the failed read's negated
 * errno. */
static int current_frame(const struct ss_python *py, struct ss_target *t, uint64_t ts,
                         uint64_t *frame)
{
    const struct ss_py_offsets *o = &py->offsets;
    int rc = read_ptr(t, ts + o->tstate_frame, frame);
    if (rc == 0 && o->cframe_current != SS_PY_NONE && *frame)
        rc = read_ptr(t, *frame + o->cframe_current, frame);
    return rc;
}

void ss_python_task(struct ss_python *py, struct ss_target *t, struct ss_writer *out, pid_t tid,
                    uint64_t stall_id)
{
    if (py && py->found)
        ss__py_task_write(&py->task, &py->offsets, t, out, tid, stall_id);
}

static bool in_eval(const struct ss_python *py, uint64_t addr)
{
    for (unsigned i = 0; i < py->neval; i++)
        if (addr >= py->eval_lo[i] && addr < py->eval_hi[i])
            return true;
    return false;
}

static bool any_eval_frame(const struct ss_python *py, const uint64_t *frames, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (in_eval(py, frames[i]))
            return true;
    return false;
}

/* Replaces the evaluation-loop frames of frames[0..n) by the runs of ps. */
static unsigned merge_runs(const struct ss_python *py, const struct py_stack *ps, uint64_t *frames,
                           unsigned n, unsigned max)
{
    if (ps->n == 0)
        return n;
    uint64_t merged[SS_TRACE_MAX_FRAMES];
    unsigned m = 0, run = 0;
    for (unsigned i = 0; i < n && m < max && m < SS_TRACE_MAX_FRAMES; i++) {
        if (!in_eval(py, frames[i]) || run >= ps->nruns) {
            merged[m++] = frames[i];
            continue;
        }
        for (unsigned k = ps->run_start[run];
             k < ps->run_start[run + 1] && m < max && m < SS_TRACE_MAX_FRAMES; k++)
            merged[m++] = ps->addr[k];
        run++;
    }
    /* The native walk stopped early (at code without unwind tables, as the perf trampolines of
     * 3.12+ are): the outer Python frames still say who called. */
    for (unsigned k = ps->run_start[run];
         run < ps->nruns && k < ps->n && m < max && m < SS_TRACE_MAX_FRAMES; k++)
        merged[m++] = ps->addr[k];
    memcpy(frames, merged, m * sizeof *frames);
    return m;
}

/* Reads the chain from `frame` (when `reachable`: else the Python part is incomplete) and
 * merges its runs into frames[0..n). */
static unsigned merge_chain(struct ss_python *py, const struct chain_source *src,
                            struct ss_writer *out, bool reachable, uint64_t frame, uint64_t *frames,
                            unsigned n, unsigned max)
{
    struct py_stack ps;
    ps.n = ps.nruns = ps.run_start[0] = 0;
    if (!reachable || read_chain(py, src, out, frame, &ps) < 0)
        py->incomplete++;
    end_run(&ps);
    return merge_runs(py, &ps, frames, n, max);
}

unsigned ss_python_merge(struct ss_python *py, struct ss_target *t, struct ss_writer *out,
                         pid_t tid, uint64_t thread_self, uint64_t *frames, unsigned n,
                         unsigned max)
{
    if (!py || !py->found)
        return n;
    ss__py_task_begin(&py->task, tid);
    if (!any_eval_frame(py, frames, n))
        return n;
    uint64_t ts = thread_state(py, t, tid, thread_self), frame = 0;
    bool reachable = ts && current_frame(py, t, ts, &frame) == 0;
    struct chain_source src = {t, NULL};
    return merge_chain(py, &src, out, reachable, frame, frames, n, max);
}

unsigned ss_python_merge_copy(struct ss_python *py, struct ss_target *t, struct ss_writer *out,
                              pid_t tid, uint64_t thread_self, const struct ss_py_copy *copy,
                              uint64_t *frames, unsigned n, unsigned max)
{
    if (!py || !py->found)
        return n;
    /* The frames are gone by now: no Task is read through them. */
    ss__py_task_begin(&py->task, 0);
    if (!copy->tstate || !any_eval_frame(py, frames, n))
        return n;
    struct chain_source src = {t, copy};
    /* The state the shim read from must still be the thread's: a state freed and given to
     * another thread would lend it that thread's frames. That of a process gone is what it
     * was. A chain cut short in the copy is incomplete too. The first frame's address is not
     * kept: any other than 0 starts the walk at copy->frames[0]. */
    bool reachable = thread_state_names(py, t, copy->tstate, tid, thread_self) != 0;
    unsigned m = merge_chain(py, &src, out, reachable, copy->n ? 1 : 0, frames, n, max);
    if (reachable && !copy->complete)
        py->incomplete++;
    return m;
}

uint64_t ss_python_thread_state(struct ss_python *py, struct ss_target *t, pid_t tid,
                                uint64_t thread_self)
{
    return py && py->found ? thread_state(py, t, tid, thread_self) : 0;
}

void ss_python_publish(const struct ss_python *py, struct ss_seg_python *layout)
{
    if (!py || !py->found || atomic_load_explicit(&layout->ready, memory_order_acquire) ||
        py->frame_span > SS_PY_COPY_SPAN)
        return;
    const struct ss_py_offsets *o = &py->offsets;
    layout->tstate_frame = o->tstate_frame;
    layout->cframe_current = o->cframe_current == SS_PY_NONE ? UINT32_MAX : o->cframe_current;
    layout->frame_previous = o->frame_previous;
    layout->frame_code = o->frame_code;
    layout->frame_span = py->frame_span;
    layout->code_name = o->code_qualname == SS_PY_NONE ? o->code_name : o->code_qualname;
    atomic_store_explicit(&layout->ready, 1, memory_order_release);
}
