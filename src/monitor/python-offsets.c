/* python-offsets: where each supported CPython keeps what the frame reader follows, on 64-bit
 * Linux builds with the GIL. Each table was written from that version's headers and checked
 * with offsetof() against the headers a Python of that version installs
 * (tests/unit/python-offsets.sh does it again for every Python it finds). 3.13 publishes the
 * same facts in the _Py_DebugOffsets table at the start of _PyRuntime, which is read instead. */
#include <errno.h>
#include <string.h>

#include "monitor/python.h"

#define NONE SS_PY_NONE

/* 3.8 and 3.9: _PyRuntimeState (Include/internal/pycore_pystate.h in 3.8,
 * pycore_runtime.h in 3.9): interpreters.head. PyInterpreterState (pycore_pystate.h,
 * pycore_interp.h in 3.9): next, tstate_head. PyThreadState (Include/cpython/pystate.h): next,
 * frame, thread_id (pthread_self; no native id yet). PyFrameObject (Include/frameobject.h):
 * f_back, f_code, f_lasti in bytes. PyCodeObject (Include/code.h, cpython/code.h in 3.9):
 * co_firstlineno, co_filename, co_name, co_lnotab. PyASCIIObject and PyCompactUnicodeObject
 * (cpython/unicodeobject.h) still carry wstr. */
static const struct ss_py_offsets py38 = {
    .minor = 8,
    .frames = SS_PY_FRAME_OBJECTS,
    .lines = SS_PY_LNOTAB,
    .runtime_interpreters = 32,
    .interp_next = 0,
    .interp_threads = 8,
    .tstate_next = 8,
    .tstate_thread_id = 176,
    .tstate_native_id = NONE,
    .tstate_frame = 24,
    .cframe_current = NONE,
    .frame_code = 32,
    .frame_previous = 24,
    .frame_instr = 104,
    .frame_owner = NONE,
    .frame_is_entry = NONE,
    .code_name = 112,
    .code_qualname = NONE,
    .code_filename = 104,
    .code_firstlineno = 40,
    .code_lines = 120,
    .code_adaptive = NONE,
    .unicode_state = 32,
    .unicode_length = 16,
    .unicode_ascii_size = 48,
    .unicode_compact_size = 72,
    .bytes_size = 16,
    .bytes_data = 32,
};

/* 3.10: as 3.9, but PyInterpreterState keeps threads.head (pycore_interp.h) at the same
 * place, PyFrameObject's f_lasti (an int, now in code units) moved up a field, and
 * co_linetable (cpython/code.h) replaced co_lnotab at its offset. */
static const struct ss_py_offsets py310 = {
    .minor = 10,
    .frames = SS_PY_FRAME_OBJECTS,
    .lines = SS_PY_LINES_310,
    .runtime_interpreters = 32,
    .interp_next = 0,
    .interp_threads = 8,
    .tstate_next = 8,
    .tstate_thread_id = 176,
    .tstate_native_id = NONE,
    .tstate_frame = 24,
    .cframe_current = NONE,
    .frame_code = 32,
    .frame_previous = 24,
    .frame_instr = 96,
    .frame_owner = NONE,
    .frame_is_entry = NONE,
    .code_name = 112,
    .code_qualname = NONE,
    .code_filename = 104,
    .code_firstlineno = 40,
    .code_lines = 120,
    .code_adaptive = NONE,
    .unicode_state = 32,
    .unicode_length = 16,
    .unicode_ascii_size = 48,
    .unicode_compact_size = 72,
    .bytes_size = 16,
    .bytes_data = 32,
};

/* 3.11: _PyRuntimeState (pycore_runtime.h) interpreters.head; PyInterpreterState
 * (pycore_interp.h) threads.head; PyThreadState (cpython/pystate.h) cframe, thread_id,
 * native_thread_id; _PyCFrame current_frame; _PyInterpreterFrame (pycore_frame.h) f_code,
 * previous, prev_instr, is_entry, owner; PyCodeObject (cpython/code.h) co_firstlineno,
 * co_filename, co_name, co_qualname, co_linetable, co_code_adaptive. */
static const struct ss_py_offsets py311 = {
    .minor = 11,
    .frames = SS_PY_FRAMES_311,
    .lines = SS_PY_LOCATIONS,
    .runtime_interpreters = 40,
    .interp_next = 0,
    .interp_threads = 16,
    .tstate_next = 8,
    .tstate_thread_id = 152,
    .tstate_native_id = 160,
    .tstate_frame = 56,
    .cframe_current = 8,
    .frame_code = 32,
    .frame_previous = 48,
    .frame_instr = 56,
    .frame_owner = 69,
    .frame_is_entry = 68,
    .code_name = 120,
    .code_qualname = 128,
    .code_filename = 112,
    .code_firstlineno = 72,
    .code_lines = 136,
    .code_adaptive = 184,
    .unicode_state = 32,
    .unicode_length = 16,
    .unicode_ascii_size = 48,
    .unicode_compact_size = 72,
    .bytes_size = 16,
    .bytes_data = 32,
};

/* 3.12: the same headers; _PyCFrame lost use_tracing, _PyInterpreterFrame starts with f_code
 * and marks each call of the evaluation loop with an entry frame owned by the C stack
 * (FRAME_OWNED_BY_CSTACK) instead of is_entry, and PyASCIIObject lost wstr. */
static const struct ss_py_offsets py312 = {
    .minor = 12,
    .frames = SS_PY_FRAMES_312,
    .lines = SS_PY_LOCATIONS,
    .runtime_interpreters = 40,
    .interp_next = 0,
    .interp_threads = 72,
    .tstate_next = 8,
    .tstate_thread_id = 136,
    .tstate_native_id = 144,
    .tstate_frame = 56,
    .cframe_current = 0,
    .frame_code = 0,
    .frame_previous = 8,
    .frame_instr = 56,
    .frame_owner = 70,
    .frame_is_entry = NONE,
    .code_name = 120,
    .code_qualname = 128,
    .code_filename = 112,
    .code_firstlineno = 68,
    .code_lines = 136,
    .code_adaptive = 192,
    .unicode_state = 32,
    .unicode_length = 16,
    .unicode_ascii_size = 40,
    .unicode_compact_size = 56,
    .bytes_size = 16,
    .bytes_data = 32,
};

const struct ss_py_offsets *ss_py_offsets_for(unsigned minor)
{
    switch (minor) {
    case 8:
    case 9:
        return &py38;
    case 10:
        return &py310;
    case 11:
        return &py311;
    case 12:
        return &py312;
    default:
        return NULL;
    }
}

/* Positions, in 64-bit words, of the fields read from 3.13's _Py_DebugOffsets
 * (Include/internal/pycore_runtime.h): each group of offsets starts with its struct's size. */
enum debug_word {
    DW_VERSION = 1,
    DW_FREE_THREADED = 2,
    DW_RUNTIME_INTERPRETERS = 5,
    DW_INTERP_NEXT = 8,
    DW_INTERP_THREADS = 9,
    DW_TSTATE_NEXT = 21,
    DW_TSTATE_CURRENT_FRAME = 23,
    DW_TSTATE_THREAD_ID = 24,
    DW_TSTATE_NATIVE_ID = 25,
    DW_FRAME_PREVIOUS = 29,
    DW_FRAME_EXECUTABLE = 30,
    DW_FRAME_INSTR = 31,
    DW_FRAME_OWNER = 33,
    DW_CODE_FILENAME = 35,
    DW_CODE_NAME = 36,
    DW_CODE_QUALNAME = 37,
    DW_CODE_LINETABLE = 38,
    DW_CODE_FIRSTLINENO = 39,
    DW_CODE_ADAPTIVE = 43,
    DW_BYTES_SIZE = 65,
    DW_BYTES_DATA = 66,
    DW_UNICODE_STATE = 68,
    DW_UNICODE_LENGTH = 69,
    DW_UNICODE_ASCII_SIZE = 70,
};

/* Offsets this reader can use lie well inside the structs they index. */
#define DEBUG_OFFSET_MAX 65536u

int ss_py_offsets_from_debug(const uint8_t *table, size_t len, struct ss_py_offsets *out)
{
    uint64_t w[SS_PY_DEBUG_TABLE_BYTES / 8];
    if (len < sizeof w || memcmp(table, "xdebugpy", 8) != 0)
        return -EINVAL;
    memcpy(w, table, sizeof w);
    if ((w[DW_VERSION] >> 16) != 0x030d || w[DW_FREE_THREADED] != 0)
        return -ENOTSUP;
    static const enum debug_word used[] = {DW_RUNTIME_INTERPRETERS,
                                           DW_INTERP_NEXT,
                                           DW_INTERP_THREADS,
                                           DW_TSTATE_NEXT,
                                           DW_TSTATE_CURRENT_FRAME,
                                           DW_TSTATE_THREAD_ID,
                                           DW_TSTATE_NATIVE_ID,
                                           DW_FRAME_PREVIOUS,
                                           DW_FRAME_EXECUTABLE,
                                           DW_FRAME_INSTR,
                                           DW_FRAME_OWNER,
                                           DW_CODE_FILENAME,
                                           DW_CODE_NAME,
                                           DW_CODE_QUALNAME,
                                           DW_CODE_LINETABLE,
                                           DW_CODE_FIRSTLINENO,
                                           DW_CODE_ADAPTIVE,
                                           DW_BYTES_SIZE,
                                           DW_BYTES_DATA,
                                           DW_UNICODE_STATE,
                                           DW_UNICODE_LENGTH,
                                           DW_UNICODE_ASCII_SIZE};
    for (size_t i = 0; i < sizeof used / sizeof used[0]; i++)
        if (w[used[i]] >= DEBUG_OFFSET_MAX)
            return -EINVAL;
    /* The table is the target's memory: a code object's fields must be where one read finds
     * them. */
    static const enum debug_word code_words[] = {DW_CODE_FILENAME, DW_CODE_NAME, DW_CODE_QUALNAME,
                                                 DW_CODE_LINETABLE, DW_CODE_FIRSTLINENO};
    for (size_t i = 0; i < sizeof code_words / sizeof code_words[0]; i++)
        if (w[code_words[i]] > SS_PY_CODE_HEADER_BYTES - 8)
            return -EINVAL;
    *out = (struct ss_py_offsets){
        .minor = 13,
        .frames = SS_PY_FRAMES_312,
        .lines = SS_PY_LOCATIONS,
        .runtime_interpreters = (uint32_t)w[DW_RUNTIME_INTERPRETERS],
        .interp_next = (uint32_t)w[DW_INTERP_NEXT],
        .interp_threads = (uint32_t)w[DW_INTERP_THREADS],
        .tstate_next = (uint32_t)w[DW_TSTATE_NEXT],
        .tstate_thread_id = (uint32_t)w[DW_TSTATE_THREAD_ID],
        .tstate_native_id = (uint32_t)w[DW_TSTATE_NATIVE_ID],
        .tstate_frame = (uint32_t)w[DW_TSTATE_CURRENT_FRAME],
        .cframe_current = NONE,
        .frame_code = (uint32_t)w[DW_FRAME_EXECUTABLE],
        .frame_previous = (uint32_t)w[DW_FRAME_PREVIOUS],
        .frame_instr = (uint32_t)w[DW_FRAME_INSTR],
        .frame_owner = (uint32_t)w[DW_FRAME_OWNER],
        .frame_is_entry = NONE,
        .code_name = (uint32_t)w[DW_CODE_NAME],
        .code_qualname = (uint32_t)w[DW_CODE_QUALNAME],
        .code_filename = (uint32_t)w[DW_CODE_FILENAME],
        .code_firstlineno = (uint32_t)w[DW_CODE_FIRSTLINENO],
        .code_lines = (uint32_t)w[DW_CODE_LINETABLE],
        .code_adaptive = (uint32_t)w[DW_CODE_ADAPTIVE],
        .unicode_state = (uint32_t)w[DW_UNICODE_STATE],
        .unicode_length = (uint32_t)w[DW_UNICODE_LENGTH],
        .unicode_ascii_size = (uint32_t)w[DW_UNICODE_ASCII_SIZE],
        /* PyCompactUnicodeObject adds utf8_length and utf8 to PyASCIIObject. */
        .unicode_compact_size = (uint32_t)w[DW_UNICODE_ASCII_SIZE] + 16,
        .bytes_size = (uint32_t)w[DW_BYTES_SIZE],
        .bytes_data = (uint32_t)w[DW_BYTES_DATA],
    };
    return 0;
}
