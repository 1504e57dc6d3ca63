/* Offline symbolization: turns raw instruction pointers recorded from a traced
 * process into function name + offset and, where known, source file and line,
 * using the module map captured at run time, perf JIT maps, jitdump files, the
 * ELF symbol tables of the modules on disk and their DWARF line tables. */
#ifndef SS_SYMBOLIZE_H
#define SS_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

enum ss_frame_kind {
    SS_FRAME_NATIVE,
    SS_FRAME_JIT,
    SS_FRAME_INTERPRETER,
    SS_FRAME_KERNEL,
    SS_FRAME_UNKNOWN,
};

/* "native", "jit", "interpreter", "kernel", "unknown" (also for out-of-range values). */
const char *ss_frame_kind_name(enum ss_frame_kind k);

struct ss_frame_info {
    /* Demangled function name (JIT names verbatim), or NULL when unresolved.
     * Native names live until the ELF cache is freed, JIT names until the
     * symbolizer is freed. */
    const char *symbol;
    /* addr - symbol start, or addr - module bias (the file vaddr) when
     * unresolved inside a module, or addr when in no module at all. */
    uint64_t offset;
    /* Full path of the module containing addr, or NULL when in no known
     * module; lives until the symbolizer is freed. */
    const char *module;
    enum ss_frame_kind kind;
    /* Source file and line: from DWARF for native frames of modules with debug
     * information, from the name for JIT and interpreter frames ("JS:~f
     * /app/x.js:3:1", "py::f:/app/x.py"). NULL and 0 when unknown; line may be 0
     * with a file. Lives as long as symbol. */
    const char *file;
    unsigned line;
};

/* One per traced process: its module map and JIT map. Not thread-safe. */
struct ss_symbolizer;
/* Loaded ELF symbol tables keyed by path, shared by any number of symbolizers;
 * must outlive them. Not thread-safe. */
struct ss_elf_cache;

struct ss_elf_cache *ss_elf_cache_new(void);
void ss_elf_cache_free(struct ss_elf_cache *c);

struct ss_symbolizer *ss_symbolizer_new(struct ss_elf_cache *cache);
void ss_symbolizer_free(struct ss_symbolizer *s);

/* A module as recorded at run time: path, load bias (runtime addr = file vaddr
 * + bias), the executable address range [lo, hi) it occupies, and its GNU
 * build-id (may be empty). Modules may be added in any order. Re-adding the
 * same path, bias and range is a no-op; a further range with the same path and
 * bias (a module with several executable segments) is recorded as well.
 * The file itself is only read when an address in it is first looked up.
 * Returns 0 or -errno (-EINVAL for a NULL path or an empty range). */
int ss_symbolizer_add_module(struct ss_symbolizer *s, const char *path, uint64_t bias, uint64_t lo,
                             uint64_t hi, const uint8_t *build_id, size_t build_id_len);

/* JIT maps and dumps are read only from regular files reached without a symbolic link and
 * owned by the reader or by uid (the owner of the trace: the traced program wrote them);
 * others give -EPERM. By default only the reader's own files are read. */
void ss_symbolizer_trust_owner(struct ss_symbolizer *s, uid_t uid);

/* A JIT map or dump in /tmp outlives its process, and a later process with the same pid would
 * be named with its frames. The trace says when the process's recording began (its PROCESS
 * record's start_real_ns, at its loop's first wait): a file last modified earlier than that,
 * by more than the slack (the start-up a runtime may spend writing its map before its first
 * wait, and file times' coarse clock), belongs to an earlier process. Refused with -ESTALE
 * once the start is given; 0 (the default) checks nothing. */
#define SS_JIT_STALE_SLACK_NS (5 * 1000000000ull)
void ss_symbolizer_process_started(struct ss_symbolizer *s, uint64_t start_real_ns);
/* The rule itself, for a file's status (also used by `stallscope run` to leave such a file). */
bool ss_jit_file_predates(const struct stat *st, uint64_t start_real_ns);

/* A perf JIT map: lines "START SIZE NAME", START and SIZE in hex (with or
 * without 0x), NAME the rest of the line (may contain spaces). Later entries,
 * including those from later calls, win over earlier ones for overlapping
 * ranges (V8 reuses code space). Malformed, empty-range and overlong lines are
 * skipped. Returns 0 or -errno (-ENOENT for a missing file, -EPERM for one not trusted,
 * -ESTALE for one of an earlier process). */
int ss_symbolizer_add_perf_map(struct ss_symbolizer *s, const char *path);

/* A jitdump file (the format perf inject --jit reads; V8's --perf-prof writes
 * jit-PID.dump): each code load record names [code address, + code size) like
 * a perf map line, and takes part in the same later-wins order. Other records
 * are skipped. Either byte order is read. Reading stops at the first malformed
 * or truncated record, keeping the entries before it; names longer than a perf
 * map line may hold are skipped. Returns 0, -EINVAL when the file is no jitdump
 * (bad magic or header), or -errno (-ENOENT for a missing file, -EPERM for one not
 * trusted, -ESTALE for one of an earlier process). */
int ss_symbolizer_add_jitdump(struct ss_symbolizer *s, const char *path);

/* Resolve one lookup address (callers already subtracted 1 from return
 * addresses). Always fills out; returns 0 when a symbol was found, 1 when not
 * (out->symbol NULL). Order: JIT maps and dumps first (kind interpreter for
 * functions the runtime interprets: V8's "~" entries and CPython's "py::"
 * trampolines; kind jit for the rest), then the module containing addr: ELF .symtab (also from
 * /usr/lib/debug/.build-id), else .dynsym (kind native), with file and line
 * from DWARF (the file's own or the separate debug file's); an address in no
 * module and no JIT entry gives kind kernel in the kernel's half of the
 * address space, else unknown, module NULL, offset = addr. */
int ss_symbolize(struct ss_symbolizer *s, uint64_t addr, struct ss_frame_info *out);

/* 1 when the module containing addr was recorded with a build-id that does not
 * match the file on disk now (rebuilt or missing since recording): such
 * modules are never symbolized, only module + offset. 0 otherwise. */
int ss_symbolizer_module_mismatch(struct ss_symbolizer *s, uint64_t addr);

#endif
