/* target: a traced process seen from the monitor, another process. It knows the target's
 * modules (from /proc/PID/maps and the ELF files they map), finds their unwind tables, reads
 * the target's memory fault-safely, and turns a copied stack plus registers into return
 * addresses. Nothing here stops, signals or ptraces the target. A target is used by one
 * thread at a time. */
#ifndef SS_MONITOR_TARGET_H
#define SS_MONITOR_TARGET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "monitor/regs.h"

struct ss_target;

/* One executable mapping of a file (or the vDSO), as a MODULE record describes it: addresses
 * in [lo, hi) belong to it and file vaddr = address - bias. */
struct ss_target_module {
    /* As /proc/PID/maps names it, without the " (deleted)" the kernel appends once the file is
     * deleted (so that build-id and debug file lookups still apply); "linux-vdso.so.1" for the
     * vDSO. */
    const char *path;
    uint64_t bias, lo, hi;
    const uint8_t *build_id;
    size_t build_id_len;
};

/* Sets up what every target shares; called before the threads that open targets start. */
void ss_target_prepare(void);
/* 0, or a negated errno (-ESRCH: no such process, -EPERM/-EACCES: not ours to read). */
int ss_target_open(pid_t pid, struct ss_target **out);
void ss_target_free(struct ss_target *t);
pid_t ss_target_pid(const struct ss_target *t);

/* Reads the memory map again (after the target loaded or unloaded libraries); modules that
 * did not change keep their cached tables. 0, or a negated errno (-ESRCH: the process is
 * gone), in which case the modules known before stay, so that stacks copied before the target
 * exited can still be unwound. */
int ss_target_refresh(struct ss_target *t);

/* The modules known since the last refresh, sorted by lo; valid until the next refresh. */
size_t ss_target_modules(const struct ss_target *t, const struct ss_target_module **mods);

/* Copies len bytes of the target's memory at addr; 0, or a negated errno when any byte could
 * not be read (never faults). */
int ss_target_read(struct ss_target *t, uint64_t addr, void *buf, size_t len);

/* Unwinds a thread of the target from its registers and a copy of its stack (stack_len bytes
 * that were at stack_base when the registers were taken). Fills addr[] innermost first with
 * lookup addresses: the first frame's pc as is, every later one (a return address) minus one,
 * except the frame after a signal frame, which is exact. Leading frames inside the stallscope
 * shim (libstallscope.so) are left out. Registers not marked known are treated as unknown
 * (rsp and rip must be known); a frame whose caller can only be found through an unknown
 * register ends the walk. Memory outside the copy is read from the module files or with
 * ss_target_read. At most 1,024 steps. Returns the number of frames (at most max), 0 when
 * nothing could be unwound. */
unsigned ss_target_unwind(struct ss_target *t, const struct ss_regs *regs, uint64_t stack_base,
                          const void *stack, size_t stack_len, uint64_t *addr, unsigned max);

#endif
