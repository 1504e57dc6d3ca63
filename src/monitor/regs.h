/* regs: the general registers of a sampled thread, in libunwind's x86_64 numbering (which is
 * also the DWARF numbering): rax rdx rcx rbx rsi rdi rbp rsp r8-r15 rip. Shared by every source
 * of samples (perf events, the shim's signal and call captures, a thread blocked in a system
 * call) and by the unwinder. */
#ifndef SS_MONITOR_REGS_H
#define SS_MONITOR_REGS_H

#include <stdint.h>

#define SS_NREGS 17
enum { SS_REG_RBX = 3, SS_REG_RBP = 6, SS_REG_RSP = 7, SS_REG_RIP = 16 };

struct ss_regs {
    uint64_t r[SS_NREGS];
    uint32_t known; /* bit i set: r[i] holds the register's value; others are unknown */
};

#define SS_REGS_ALL ((1u << SS_NREGS) - 1)

#endif
