/* libFuzzer harness: the trace reader, given any bytes as a trace file. It must load them or
 * refuse them with a message, and never crash, leak or read out of bounds. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "model.h"

static int trace_fd = -1;
static char trace_path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (trace_fd < 0) {
        trace_fd = memfd_create("fuzz-trace", MFD_CLOEXEC);
        if (trace_fd < 0)
            abort();
        snprintf(trace_path, sizeof trace_path, "/proc/self/fd/%d", trace_fd);
    }
    if (ftruncate(trace_fd, 0) != 0 || pwrite(trace_fd, data, size, 0) != (ssize_t)size)
        abort();
    struct ss_run *run = NULL;
    char err[512];
    if (ss_run_load(trace_path, &run, err, sizeof err) == 0) {
        /* What every consumer does next, short of symbolizing (which opens the files the
         * trace names). */
        for (size_t i = 0; i < run->nprocs; i++) {
            const struct ss_process *p = &run->procs[i];
            for (size_t t = 0; t < p->nthreads; t++)
                (void)ss_thread_percentile(&p->threads[t], 99.0);
            for (size_t s = 0; s < p->nstalls; s++)
                (void)ss_stall_blocked_ns(&p->stalls[s], "file");
            (void)ss_drops_total(&p->drops);
        }
        ss_run_free(run);
    } else if (err[0] == '\0') {
        abort(); /* a refusal always says why */
    }
    return 0;
}
