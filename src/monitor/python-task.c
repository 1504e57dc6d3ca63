/* python-task: the asyncio Task a stalled Python loop thread was running. The event loop runs
 * each callback through asyncio's Handle._run (asyncio/events.py), whose first local is the
 * Handle. With the C Task (_asyncio), the Handle's _callback is a TaskStepMethWrapper (a
 * task's next step), a TaskWakeupMethWrapper (3.8, 3.9) or a builtin method bound to the task
 * (3.10+: its wakeup once a future it awaited is done); each leads to the TaskObj, whose name
 * and coroutine sit at offsets of each version. Every object on the way is checked by its
 * type's name, so a wrong guess finds no task rather than a wrong one. A pure-Python Task
 * keeps its name in its instance dict, which is not read: it is left unnamed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/trace-format.h"
#include "monitor/python-internal.h"
#include "monitor/target.h"
#include "trace/trace-writer.h"

/* Offsets of what the reader follows, by version, on 64-bit builds with the GIL. localsplus is
 * that of the frame the chain walks: PyFrameObject's f_localsplus (3.8-3.10), past its
 * f_blockstack, or _PyInterpreterFrame's localsplus (3.11+; 3.13's _Py_DebugOffsets has it).
 * task_coro and task_name are TaskObj's task_coro and task_name, right after FutureObj_HEAD
 * and task_fut_waiter (Modules/_asynciomodule.c), and coro_qualname is the coroutine's
 * cr_qualname (_PyGenObject_HEAD). Each number was checked against a live object of its
 * version: the field holds id() of the frame's self, the task's name and coroutine, and the
 * coroutine's __qualname__. */
static const struct task_offsets {
    unsigned minor;
    uint32_t localsplus, task_coro, task_name, coro_qualname;
} task_offsets[] = {
    /* 3.8: TaskObj is 144 bytes (Task.__basicsize__); PyFrameObject keeps f_localsplus after
     * the 20 PyTryBlocks of f_blockstack. */
    {8, 360, 112, 120, 56},
    /* 3.9: FutureObj_HEAD is 40 bytes longer (TaskObj 184); frames and coroutines as in 3.8. */
    {9, 360, 152, 160, 56},
    /* 3.10: FutureObj_HEAD 8 bytes longer again (TaskObj 192); PyFrameObject 8 bytes shorter
     * before f_localsplus; cr_qualname a field earlier. */
    {10, 352, 160, 168, 48},
    /* 3.11: TaskObj 176, a count of cancel requests after its flags; _PyInterpreterFrame's
     * localsplus after owner; cr_qualname a field earlier. */
    {11, 72, 136, 144, 40},
    /* 3.12: TaskObj as in 3.11; cr_qualname a field earlier. */
    {12, 72, 136, 144, 32},
    /* 3.13: TaskObj 144. */
    {13, 72, 120, 128, 32},
};

/* PyTypeObject (Include/cpython/object.h), the same in every supported version. */
#define TYPE_NAME 24u
#define TYPE_MEMBERS 240u
#define TYPE_BASE 256u
/* PyMemberDef: name, type, offset, flags, doc. */
#define MEMBER_SIZE 40u
#define MEMBER_TYPE 8u
#define MEMBER_OFFSET 16u
#define T_OBJECT_EX 16
/* TaskStepMethWrapper and TaskWakeupMethWrapper hold the task first; PyCFunctionObject its
 * m_self after m_ml. */
#define WRAPPER_TASK 16u
#define CFUNCTION_SELF 24u
#define MEMBERS_MAX 32u
#define BASES_MAX 4u
#define SLOT_MAX 4096u
#define TYPE_NAME_MAX 48u

static const struct task_offsets *offsets_of(unsigned minor)
{
    for (size_t i = 0; i < sizeof task_offsets / sizeof task_offsets[0]; i++)
        if (task_offsets[i].minor == minor)
            return &task_offsets[i];
    return NULL;
}

enum ss_py_type_kind ss_py_type_kind(const char *tp_name)
{
    static const struct {
        const char *name;
        enum ss_py_type_kind kind;
    } known[] = {
        {"_asyncio.Task", SS_PY_TYPE_TASK},
        {"TaskStepMethWrapper", SS_PY_TYPE_STEP},
        {"_asyncio.TaskStepMethWrapper", SS_PY_TYPE_STEP},
        {"TaskWakeupMethWrapper", SS_PY_TYPE_WAKEUP},
        {"_asyncio.TaskWakeupMethWrapper", SS_PY_TYPE_WAKEUP},
        {"builtin_function_or_method", SS_PY_TYPE_CFUNCTION},
        {"coroutine", SS_PY_TYPE_COROUTINE},
        {"generator", SS_PY_TYPE_COROUTINE},
        {"str", SS_PY_TYPE_STR},
        {"int", SS_PY_TYPE_INT},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(tp_name, known[i].name) == 0)
            return known[i].kind;
    return SS_PY_TYPE_OTHER;
}

int ss_py_small_int(unsigned minor, const uint8_t *obj, uint64_t *value)
{
    uint64_t size;
    uint32_t digit[2];
    memcpy(&size, obj + 16, sizeof size);
    memcpy(digit, obj + 24, sizeof digit);
    uint64_t ndigits;
    if (minor >= 12) {
        /* lv_tag: the number of digits, shifted, over the sign (0 positive, 1 zero). */
        if ((size & 3) == 1) {
            *value = 0;
            return 0;
        }
        if ((size & 3) != 0)
            return (size & 3) == 2 ? -ERANGE : -EINVAL; /* negative, or no sign there is */
        ndigits = size >> 3;
    } else {
        ndigits = size; /* ob_size, negative for a negative number */
    }
    if (ndigits > 2)
        return -ERANGE;
    if (digit[0] >= (1u << 30) || (ndigits == 2 && digit[1] >= (1u << 30)))
        return -EINVAL;
    *value = ndigits == 0 ? 0 : ndigits == 1 ? digit[0] : (uint64_t)digit[1] << 30 | digit[0];
    return 0;
}

void ss__py_task_begin(struct ss__py_task *pt, pid_t tid)
{
    pt->tid = tid;
    pt->handle_frame = 0;
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), k = strlen(tail);
    return n >= k && strcmp(s + n - k, tail) == 0;
}

void ss__py_task_frame(struct ss__py_task *pt, const struct ss__py_codes *c, uint64_t frame,
                       uint64_t addr)
{
    uint32_t id = (uint32_t)addr;
    if (pt->handle_frame || !ss_is_pyframe_addr(addr) || id == 0 || id > c->nnamed)
        return;
    const struct ss__py_named *n = &c->named[id - 1];
    /* 3.8-3.10 name a code object by co_name alone. */
    if ((strcmp(n->qualname, "Handle._run") == 0 || strcmp(n->qualname, "_run") == 0) &&
        ends_with(n->filename, "asyncio/events.py"))
        pt->handle_frame = frame;
}

/* A null pointer of the target reads as -EFAULT, as any address it has not mapped does. */
static int read_ptr(struct ss_target *t, uint64_t addr, uint64_t *v)
{
    return addr ? ss_target_read(t, addr, v, sizeof *v) : -EFAULT;
}

/* A C string of the target, cut at cap - 1 bytes; reads never cross into the next page before
 * the string is seen to go on. 0, or a negated errno as read_ptr's. */
static int read_cstr(struct ss_target *t, uint64_t addr, char *buf, size_t cap)
{
    size_t have = 0;
    while (addr && have + 1 < cap) {
        size_t page_left = 4096 - (size_t)((addr + have) & 4095);
        size_t want = cap - 1 - have < page_left ? cap - 1 - have : page_left;
        int rc = ss_target_read(t, addr + have, buf + have, want);
        if (rc < 0)
            return rc;
        char *nul = memchr(buf + have, '\0', want);
        if (nul)
            return 0;
        have += want;
    }
    buf[have] = '\0';
    return addr ? 0 : -EFAULT;
}

/* The offset of the _callback slot among a type's members (PyMemberDef), 0 when it has none. */
static uint32_t callback_slot(struct ss_target *t, uint64_t type)
{
    uint64_t members;
    if (read_ptr(t, type + TYPE_MEMBERS, &members) < 0)
        return 0;
    for (unsigned i = 0; members && i < MEMBERS_MAX; i++) {
        uint8_t m[MEMBER_SIZE];
        uint64_t name;
        int32_t kind;
        int64_t offset;
        char text[16];
        if (ss_target_read(t, members + i * MEMBER_SIZE, m, sizeof m) < 0)
            return 0;
        memcpy(&name, m, sizeof name);
        memcpy(&kind, m + MEMBER_TYPE, sizeof kind);
        memcpy(&offset, m + MEMBER_OFFSET, sizeof offset);
        if (!name)
            return 0;
        if (read_cstr(t, name, text, sizeof text) == 0 && strcmp(text, "_callback") == 0)
            return kind == T_OBJECT_EX && offset >= 16 && offset < SLOT_MAX && offset % 8 == 0
                       ? (uint32_t)offset
                       : 0;
    }
    return 0;
}

/* What the type at `type` is, with the callback slot of a Handle; read once per type. */
static enum ss_py_type_kind type_kind(struct ss__py_task *pt, struct ss_target *t, uint64_t type,
                                      uint32_t *callback)
{
    for (unsigned i = 0; i < SS_PY_TASK_TYPES; i++)
        if (pt->types[i].type == type && pt->types[i].kind != SS_PY_TYPE_UNKNOWN) {
            *callback = pt->types[i].callback;
            return pt->types[i].kind;
        }
    char name[TYPE_NAME_MAX];
    uint64_t tp_name;
    if (!type || read_ptr(t, type + TYPE_NAME, &tp_name) < 0 ||
        read_cstr(t, tp_name, name, sizeof name) < 0)
        return SS_PY_TYPE_OTHER; /* not kept: it may be readable next time */
    enum ss_py_type_kind kind = ss_py_type_kind(name);
    *callback = 0;
    /* A subclass of the C Task keeps its layout; a TimerHandle's _callback is its base's. */
    uint64_t base = type;
    for (unsigned depth = 0; kind == SS_PY_TYPE_OTHER && base && depth < BASES_MAX; depth++) {
        if ((*callback = callback_slot(t, base)) != 0) {
            kind = SS_PY_TYPE_HANDLE;
            break;
        }
        if (read_ptr(t, base + TYPE_BASE, &base) < 0 || !base)
            break;
        if (read_ptr(t, base + TYPE_NAME, &tp_name) == 0 &&
            read_cstr(t, tp_name, name, sizeof name) == 0 &&
            ss_py_type_kind(name) == SS_PY_TYPE_TASK)
            kind = SS_PY_TYPE_TASK;
    }
    unsigned slot = pt->next_type++ % SS_PY_TASK_TYPES;
    pt->types[slot].type = type;
    pt->types[slot].kind = (uint8_t)kind;
    pt->types[slot].callback = *callback;
    return kind;
}

static enum ss_py_type_kind kind_of(struct ss__py_task *pt, struct ss_target *t, uint64_t obj,
                                    uint32_t *callback)
{
    uint64_t type;
    uint32_t unused;
    if (read_ptr(t, obj + 8, &type) < 0)
        return SS_PY_TYPE_OTHER;
    return type_kind(pt, t, type, callback ? callback : &unused);
}

/* The Task the Handle's callback runs, 0 when it is none. */
static uint64_t task_of_handle(struct ss__py_task *pt, struct ss_target *t, uint64_t handle)
{
    uint32_t slot;
    uint64_t callback, task = 0;
    if (kind_of(pt, t, handle, &slot) != SS_PY_TYPE_HANDLE ||
        read_ptr(t, handle + slot, &callback) < 0)
        return 0;
    switch (kind_of(pt, t, callback, NULL)) {
    case SS_PY_TYPE_STEP:
    case SS_PY_TYPE_WAKEUP:
        if (read_ptr(t, callback + WRAPPER_TASK, &task) < 0)
            return 0;
        break;
    case SS_PY_TYPE_CFUNCTION:
        if (read_ptr(t, callback + CFUNCTION_SELF, &task) < 0)
            return 0;
        break;
    default:
        return 0;
    }
    return kind_of(pt, t, task, NULL) == SS_PY_TYPE_TASK ? task : 0;
}

/* A task's name: a str, or (3.12+, until get_name() is called) the int of its default. */
static char *task_name(struct ss__py_task *pt, const struct ss_py_offsets *o, struct ss_target *t,
                       uint64_t name)
{
    switch (kind_of(pt, t, name, NULL)) {
    case SS_PY_TYPE_STR:
        return ss__py_read_text(o, t, name);
    case SS_PY_TYPE_INT: {
        uint8_t obj[32];
        uint64_t n;
        char *text = malloc(32);
        if (text && ss_target_read(t, name, obj, sizeof obj) == 0 &&
            ss_py_small_int(o->minor, obj, &n) == 0) {
            snprintf(text, 32, "Task-%llu", (unsigned long long)n);
            return text;
        }
        free(text);
        return NULL;
    }
    default:
        return NULL;
    }
}

static char *coroutine_name(struct ss__py_task *pt, const struct ss_py_offsets *o,
                            const struct task_offsets *to, struct ss_target *t, uint64_t coro)
{
    uint64_t qualname;
    if (kind_of(pt, t, coro, NULL) != SS_PY_TYPE_COROUTINE ||
        read_ptr(t, coro + to->coro_qualname, &qualname) < 0 ||
        kind_of(pt, t, qualname, NULL) != SS_PY_TYPE_STR)
        return NULL;
    return ss__py_read_text(o, t, qualname);
}

void ss__py_task_write(struct ss__py_task *pt, const struct ss_py_offsets *o, struct ss_target *t,
                       struct ss_writer *out, pid_t tid, uint64_t stall_id)
{
    const struct task_offsets *to = offsets_of(o->minor);
    unsigned slot = (unsigned)tid % SS_PY_TASK_STALLS;
    if (!to || !stall_id || pt->tid != tid || !pt->handle_frame ||
        (pt->written[slot].tid == tid && pt->written[slot].stall == stall_id))
        return;
    uint64_t handle, task, name, coro;
    if (read_ptr(t, pt->handle_frame + to->localsplus, &handle) < 0 ||
        !(task = task_of_handle(pt, t, handle)) || read_ptr(t, task + to->task_name, &name) < 0 ||
        read_ptr(t, task + to->task_coro, &coro) < 0)
        return;
    char *name_text = task_name(pt, o, t, name);
    char *coro_text = name_text ? coroutine_name(pt, o, to, t, coro) : NULL;
    size_t name_len = name_text ? strlen(name_text) : 0;
    size_t coro_len = coro_text ? strlen(coro_text) : 0;
    if (name_len && name_len < UINT16_MAX && coro_len < UINT16_MAX) {
        struct ss_rec_stall_task rec = {(uint32_t)tid, (uint16_t)name_len, (uint16_t)coro_len,
                                        stall_id};
        ss_writer_record_tails(out, SS_REC_STALL_TASK, &rec, sizeof rec, name_text, name_len,
                               coro_text, coro_len);
        pt->written[slot].tid = tid;
        pt->written[slot].stall = stall_id;
    }
    free(name_text);
    free(coro_text);
}
