/* perf: signal-free sampling of one thread of another process. A software cpu-clock event per
 * thread, with the user registers and the user stack in each sample: the kernel copies them
 * when the event fires while the thread runs user code, so the thread is never interrupted in
 * a way it could see (no signal, no EINTR). Enabled by the monitor only while a stall lasts. */
#ifndef SS_MONITOR_PERF_H
#define SS_MONITOR_PERF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "monitor/regs.h"

struct ss_perf;

/* Opens a disabled event on thread tid of process pid: a sample every period_ns of the
 * thread's CPU time, each with up to stack_bytes of user stack (rounded down to a multiple of
 * 8; 0 or more than perf allows in a record of 64 KiB: 65,344 bytes). Sample times are
 * CLOCK_MONOTONIC. Maps a ring for two samples (one if the locked-memory budget is short).
 * 0, or a negated errno: -EACCES/-EPERM when the kernel refuses (perf_event_paranoid, seccomp,
 * a security module, a thread not ours), -ENOSYS without perf events (or hidden by seccomp),
 * -ESRCH when there is no such thread, -ENOBUFS when no ring fits in the locked-memory budget
 * (perf_event_mlock_kb, RLIMIT_MEMLOCK). ss_perf_explain turns these into a sentence. */
int ss_perf_open(pid_t pid, pid_t tid, uint64_t period_ns, uint32_t stack_bytes,
                 struct ss_perf **out);
void ss_perf_close(struct ss_perf *p);

/* A descriptor that polls readable (POLLIN) when samples wait in the ring, and POLLHUP once
 * the thread exited. */
int ss_perf_fd(const struct ss_perf *p);
/* What the event uses: bytes of user stack per sample, and bytes of ring mapped (all of it
 * locked memory charged to the user, within perf_event_mlock_kb per CPU first). */
uint32_t ss_perf_stack_bytes(const struct ss_perf *p);
size_t ss_perf_ring_bytes(const struct ss_perf *p);

/* Why ss_perf_open failed with err, as a sentence for the user; written into buf. */
const char *ss_perf_explain(int err, char *buf, size_t len);

/* Starts sampling; the first sample comes after first_period_ns of CPU time (from a one-shot
 * event; 0 or not shorter than period_ns: none), the next ones every period_ns from enable.
 * 0 or a negated errno. */
int ss_perf_enable(struct ss_perf *p, uint64_t first_period_ns);
int ss_perf_disable(struct ss_perf *p);

struct ss_perf_sample {
    uint64_t time_ns; /* CLOCK_MONOTONIC */
    pid_t tid;
    struct ss_regs regs; /* user registers, all known */
    uint64_t stack_base; /* = regs.r[SS_REG_RSP] */
    const void *stack;   /* valid during the callback only */
    size_t stack_len;
};

/* Hands every sample in the ring to fn, oldest first, then frees the ring. Returns the number
 * of samples, or a negated errno. */
int ss_perf_drain(struct ss_perf *p, void (*fn)(void *ctx, const struct ss_perf_sample *s),
                  void *ctx);
/* Samples the kernel reported lost (ring full). */
uint64_t ss_perf_lost(const struct ss_perf *p);

#endif
