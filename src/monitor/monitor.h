/* monitor: the process outside the traced programs that does everything but recording. It
 * listens on a unix socket (a name in the abstract namespace) for the segments the shims hand
 * over, follows each traced process with a thread of its own (process.h), and writes one
 * trace per process into the run directory. `stallscope run` starts one for the command it
 * runs; `stallscope monitor` is the same engine on its own. */
#ifndef SS_MONITOR_H
#define SS_MONITOR_H

#include <stddef.h>
#include <stdint.h>

struct ss_monitor_options {
    const char *output; /* run directory the traces go to */
    const char *name;   /* the abstract socket name to listen on */
    /* -1, or a socket to the program that started the monitor: a byte 'S' asks for a sync,
     * answered by 'D' once every traced process that has ended is written out; end of file
     * means that program is gone. */
    int control_fd;
    /* -1, or a descriptor to which one byte is written, and which is then closed, once the
     * monitor listens. */
    int ready_fd;
    /* How long to stay once no traced process is left and the controlling program, if any,
     * is gone: a process forked by one that ended may not have reported yet. */
    uint64_t linger_ns;
};

/* Runs until done; 0, or a negated errno with the reason in why (nothing could be started;
 * -EADDRINUSE: another monitor listens under the name). */
int ss_monitor_serve(const struct ss_monitor_options *o, char *why, size_t why_size);

#endif
