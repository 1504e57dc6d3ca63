/* trace-builder: the records of a trace written by hand through the shim's own writer, every
 * field named: tb_process(&w, (struct ss_rec_process){.pid = 42, .threshold_ns = ...}, ...).
 * The lengths of what follows a record are taken from what follows it. */
#ifndef TESTS_TRACE_BUILDER_H
#define TESTS_TRACE_BUILDER_H

#include <stdint.h>
#include <string.h>

#include "common/trace-format.h"
#include "trace/trace-writer.h"

static inline uint32_t tb_len(const char *text)
{
    return text ? (uint32_t)strlen(text) : 0;
}

/* cmd is the NUL-separated command line, cmd_len bytes of it. */
static inline void tb_process(struct ss_writer *w, struct ss_rec_process p, const char *exe,
                              const char *cmd, uint32_t cmd_len)
{
    p.exe_len = tb_len(exe);
    p.cmd_len = cmd_len;
    ss_writer_record_tails(w, SS_REC_PROCESS, &p, sizeof p, exe, p.exe_len, cmd, cmd_len);
}

static inline void tb_thread(struct ss_writer *w, struct ss_rec_thread t, const char *name)
{
    ss_writer_record(w, SS_REC_THREAD, &t, sizeof t, name, tb_len(name));
}

static inline void tb_stack(struct ss_writer *w, uint32_t stack_id, const uint64_t *frames,
                            uint32_t nframes)
{
    struct ss_rec_stack st = {.stack_id = stack_id, .nframes = nframes};
    ss_writer_record(w, SS_REC_STACK, &st, sizeof st, frames, nframes * sizeof *frames);
}

/* A stall's id is its iteration's start. */
static inline void tb_stall_begin(struct ss_writer *w, uint32_t tid, uint64_t start_ns)
{
    struct ss_rec_stall_begin b = {.tid = tid, .stall_id = start_ns, .start_ns = start_ns};
    ss_writer_record(w, SS_REC_STALL_BEGIN, &b, sizeof b, NULL, 0);
}

static inline void tb_stall_end(struct ss_writer *w, uint32_t tid, uint64_t start_ns,
                                uint64_t duration_ns)
{
    struct ss_rec_stall_end e = {
        .tid = tid, .stall_id = start_ns, .start_ns = start_ns, .duration_ns = duration_ns};
    ss_writer_record(w, SS_REC_STALL_END, &e, sizeof e, NULL, 0);
}

/* call: the interposed call a SS_SAMPLE_CALL sample was taken at, NULL for none. */
static inline void tb_sample(struct ss_writer *w, struct ss_rec_sample s, const char *call)
{
    ss_writer_record(w, SS_REC_SAMPLE, &s, sizeof s, call, tb_len(call));
}

static inline void tb_stall_call(struct ss_writer *w, struct ss_rec_stall_call c,
                                 const char *function)
{
    ss_writer_record(w, SS_REC_STALL_CALL, &c, sizeof c, function, tb_len(function));
}

static inline void tb_end(struct ss_writer *w, uint64_t mono_ns)
{
    struct ss_rec_end e = {.mono_ns = mono_ns};
    ss_writer_record(w, SS_REC_END, &e, sizeof e, NULL, 0);
}

#endif
