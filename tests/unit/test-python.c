/* python: the offset tables the monitor reads CPython's frames with. The table 3.13 publishes
 * lives in the traced process's memory, so whatever it says must keep every read in bounds. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "common/trace-format.h"
#include "monitor/python-internal.h"
#include "monitor/python.h"
#include "monitor/target.h"
#include "trace/trace-writer.h"

/* Word numbers of _Py_DebugOffsets (3.13) this test sets. */
enum { VERSION = 1, CODE_FILENAME = 35, CODE_NAME = 36, CODE_FIRSTLINENO = 39 };

static void debug_table(uint64_t *w)
{
    memset(w, 0, SS_PY_DEBUG_TABLE_BYTES);
    memcpy(w, "xdebugpy", 8);
    w[VERSION] = 0x030d00f0; /* 3.13.0 final */
    for (size_t i = 3; i < SS_PY_DEBUG_TABLE_BYTES / 8; i++)
        w[i] = 8 * (i % 8 + 1);
}

Test(python, a_debug_table_is_read)
{
    uint64_t w[SS_PY_DEBUG_TABLE_BYTES / 8];
    debug_table(w);
    w[CODE_NAME] = 24;
    struct ss_py_offsets o;
    cr_assert_eq(ss_py_offsets_from_debug((const uint8_t *)w, sizeof w, &o), 0);
    cr_expect_eq(o.minor, 13);
    cr_expect_eq(o.code_name, 24);
}

Test(python, a_debug_table_cannot_send_reads_past_a_code_objects_header)
{
    uint64_t w[SS_PY_DEBUG_TABLE_BYTES / 8];
    struct ss_py_offsets o;
    const unsigned words[] = {CODE_FILENAME, CODE_NAME, CODE_FIRSTLINENO};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        debug_table(w);
        w[words[i]] = 4000;
        cr_expect_eq(ss_py_offsets_from_debug((const uint8_t *)w, sizeof w, &o), -EINVAL,
                     "word %u at 4000 was taken", words[i]);
        w[words[i]] = SS_PY_CODE_HEADER_BYTES - 4;
        cr_expect_eq(ss_py_offsets_from_debug((const uint8_t *)w, sizeof w, &o), -EINVAL,
                     "word %u reads 8 bytes past the header", words[i]);
    }
    debug_table(w);
    memcpy(w, "xdebugpz", 8);
    cr_expect_eq(ss_py_offsets_from_debug((const uint8_t *)w, sizeof w, &o), -EINVAL);
    debug_table(w);
    cr_expect_eq(ss_py_offsets_from_debug((const uint8_t *)w, sizeof w - 8, &o), -EINVAL);
}

Test(python, a_debug_table_of_another_version_is_not_read)
{
    uint64_t w[SS_PY_DEBUG_TABLE_BYTES / 8];
    struct ss_py_offsets o;
    debug_table(w);
    w[VERSION] = 0x030e00f0; /* 3.14.0 final: a layout this reader does not know */
    cr_expect_eq(ss_py_offsets_from_debug((const uint8_t *)w, sizeof w, &o), -ENOTSUP);
}

Test(python, the_built_in_tables_stay_inside_a_code_objects_header)
{
    for (unsigned minor = 8; minor <= 12; minor++) {
        const struct ss_py_offsets *o = ss_py_offsets_for(minor);
        cr_assert_not_null(o, "no table for 3.%u", minor);
        const uint32_t fields[] = {o->code_name, o->code_filename, o->code_lines};
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
            cr_expect_leq(fields[i], SS_PY_CODE_HEADER_BYTES - 8, "3.%u field %zu", minor, i);
        if (o->code_qualname != SS_PY_NONE)
            cr_expect_leq(o->code_qualname, SS_PY_CODE_HEADER_BYTES - 8);
        cr_expect_leq(o->code_firstlineno, SS_PY_CODE_HEADER_BYTES - 4);
    }
    cr_expect_null(ss_py_offsets_for(7));
}

/* Line tables come from the traced process: a damaged one gives no line, never a wrapped one. */
Test(python, damaged_line_tables_give_no_line)
{
    /* 3.11+: a long-form entry (form 14) whose line delta is a varint near 2^31, twice. */
    const uint8_t huge[] = {0xf0, 0xbe, 0xff, 0xff, 0xff, 0x0f, 0xf0,
                            0xbe, 0xff, 0xff, 0xff, 0x0f, 0xf0, 0x02};
    cr_expect_eq(ss_py_line(SS_PY_LOCATIONS, huge, sizeof huge, 10, 4), -1);
    /* A first line no source file has. */
    const uint8_t lnotab[] = {2, 1, 2, 1};
    cr_expect_eq(ss_py_line(SS_PY_LNOTAB, lnotab, sizeof lnotab, 0x7fffffff, 10), -1);
    cr_expect_eq(ss_py_line(SS_PY_LNOTAB, lnotab, sizeof lnotab, 7, 10), 9);
}

/* A frame whose code pointer cannot be read (null, unmapped) gets no name, and never that of
 * an empty cache entry: the fallback to what was known at an address once held no code. */
Test(python, unreadable_code_objects_get_no_name)
{
    struct ss_target *t;
    cr_assert_eq(ss_target_open(getpid(), &t), 0);
    static struct ss__py_codes codes;
    codes.code_type = (uint64_t)(uintptr_t)&codes;
    const struct ss_py_offsets *o = ss_py_offsets_for(11);
    cr_assert_not_null(o);
    cr_expect_eq(ss__py_frame_addr(&codes, o, t, NULL, 0, 0, 0), 0);
    cr_expect_eq(ss__py_frame_addr(&codes, o, t, NULL, 16, 0, 0), 0);
    ss__py_codes_free(&codes);
    ss_target_free(t);
}

/* A compact ASCII str object of the layout o describes, in obj. */
static void ascii_object(const struct ss_py_offsets *o, uint8_t *obj, const char *text)
{
    uint32_t state = 1u << 2 | 1u << 5 | 1u << 6; /* kind 1, compact, ascii */
    int64_t length = (int64_t)strlen(text);
    memcpy(obj + o->unicode_state, &state, sizeof state);
    memcpy(obj + o->unicode_length, &length, sizeof length);
    memcpy(obj + o->unicode_ascii_size, text, strlen(text) + 1);
}

static void pointer_at(uint8_t *obj, uint32_t off, const void *to)
{
    uint64_t v = (uint64_t)(uintptr_t)to;
    memcpy(obj + off, &v, sizeof v);
}

static const char *name_of(const struct ss__py_codes *c, uint64_t addr)
{
    cr_assert_neq(addr, 0);
    return c->named[(addr & SS_PYFRAME_MAX_ID) - 1].qualname;
}

/* A frame the shim copied names the code object it ran, even when that object was freed and
 * another took its memory before the frame was named: the name pointer copied with the frame
 * tells them apart. Read live, the frame names what is there now. */
Test(python, a_copied_frame_names_its_code_object_after_the_memory_is_reused)
{
    struct ss_target *t;
    cr_assert_eq(ss_target_open(getpid(), &t), 0);
    static struct ss__py_codes codes;
    const struct ss_py_offsets *o = ss_py_offsets_for(11);
    cr_assert_not_null(o);
    static uint8_t code[SS_PY_CODE_HEADER_BYTES], ran[128], churned[128], file[128];
    codes.code_type = (uint64_t)(uintptr_t)&codes;
    ascii_object(o, ran, "planted_freed");
    ascii_object(o, churned, "churned_000000");
    ascii_object(o, file, "freed.py");
    pointer_at(code, 8, &codes);
    pointer_at(code, o->code_name, ran);
    pointer_at(code, o->code_qualname, ran);
    pointer_at(code, o->code_filename, file);
    int32_t firstline = 7;
    memcpy(code + o->code_firstlineno, &firstline, sizeof firstline);
    struct ss_writer out = {.fd = -1};
    uint64_t addr = (uint64_t)(uintptr_t)code, copied_name = (uint64_t)(uintptr_t)ran;
    cr_expect_str_eq(name_of(&codes, ss__py_frame_addr(&codes, o, t, &out, addr, 0, 0)),
                     "planted_freed");
    /* Freed, and its memory given to a code object that never runs. */
    pointer_at(code, o->code_name, churned);
    pointer_at(code, o->code_qualname, churned);
    cr_expect_str_eq(name_of(&codes, ss__py_frame_addr(&codes, o, t, &out, addr, 0, copied_name)),
                     "planted_freed");
    cr_expect_str_eq(name_of(&codes, ss__py_frame_addr(&codes, o, t, &out, addr, 0, 0)),
                     "churned_000000");
    /* Its cache entry now holds the new object: the copy cannot be named, and is not misnamed. */
    cr_expect_eq(ss__py_frame_addr(&codes, o, t, &out, addr, 0, copied_name), 0);
    ss__py_codes_free(&codes);
    ss_target_free(t);
}

/* The Task reader knows the target's objects by their type's name. */
Test(python, the_task_readers_types_are_known_by_name)
{
    cr_expect_eq(ss_py_type_kind("_asyncio.Task"), SS_PY_TYPE_TASK);
    cr_expect_eq(ss_py_type_kind("TaskStepMethWrapper"), SS_PY_TYPE_STEP);
    cr_expect_eq(ss_py_type_kind("_asyncio.TaskStepMethWrapper"), SS_PY_TYPE_STEP);
    cr_expect_eq(ss_py_type_kind("TaskWakeupMethWrapper"), SS_PY_TYPE_WAKEUP);
    cr_expect_eq(ss_py_type_kind("builtin_function_or_method"), SS_PY_TYPE_CFUNCTION);
    cr_expect_eq(ss_py_type_kind("coroutine"), SS_PY_TYPE_COROUTINE);
    cr_expect_eq(ss_py_type_kind("str"), SS_PY_TYPE_STR);
    cr_expect_eq(ss_py_type_kind("int"), SS_PY_TYPE_INT);
    cr_expect_eq(ss_py_type_kind("Task"), SS_PY_TYPE_OTHER, "a pure-Python Task is not read");
    cr_expect_eq(ss_py_type_kind(""), SS_PY_TYPE_OTHER);
}

static void long_object(uint8_t *obj, uint64_t size, uint32_t d0, uint32_t d1)
{
    memset(obj, 0, 32);
    memcpy(obj + 16, &size, sizeof size);
    memcpy(obj + 24, &d0, sizeof d0);
    memcpy(obj + 28, &d1, sizeof d1);
}

/* 3.12 and later hold a task's default name as an int until get_name() is called: ob_size
 * before 3.12, lv_tag (digits << 3 | sign) from 3.12. */
Test(python, a_default_task_numbers_int_is_read_in_either_layout)
{
    uint8_t obj[32];
    uint64_t v = 99;
    long_object(obj, 1, 7, 0);
    cr_expect(ss_py_small_int(11, obj, &v) == 0 && v == 7);
    long_object(obj, 1 << 3, 7, 0);
    cr_expect(ss_py_small_int(12, obj, &v) == 0 && v == 7);
    long_object(obj, 2 << 3, 5, 1);
    cr_expect(ss_py_small_int(13, obj, &v) == 0 && v == ((1ull << 30) | 5));
    long_object(obj, 1, 0, 0);
    cr_expect(ss_py_small_int(12, obj, &v) == 0 && v == 0, "zero's sign says it");
    long_object(obj, (1 << 3) | 2, 7, 0);
    cr_expect_eq(ss_py_small_int(12, obj, &v), -ERANGE, "negative");
    long_object(obj, (uint64_t)-1, 7, 0);
    cr_expect_eq(ss_py_small_int(11, obj, &v), -ERANGE, "negative");
    long_object(obj, 3 << 3, 1, 1);
    cr_expect_eq(ss_py_small_int(12, obj, &v), -ERANGE, "too large");
    long_object(obj, 1 << 3, 1u << 30, 0);
    cr_expect_eq(ss_py_small_int(12, obj, &v), -EINVAL, "not a digit");
}
