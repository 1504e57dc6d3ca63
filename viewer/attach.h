/* attach: `view --pid PID` of a process that is not traced, when the user agrees to record it.
 * `stallscope attach -q -o DIR PID` runs as a child of the viewer, into a new directory of its
 * own, while the viewer shows DIR live; when the viewer quits, attach is interrupted (SIGINT),
 * which detaches the process, and what it printed is shown then. */
#ifndef SSV_ATTACH_H
#define SSV_ATTACH_H

#include <limits.h>
#include <stdio.h>
#include <sys/types.h>

/* How long attach may take to get its shim recording in the process. */
#define SSV_ATTACH_WAIT_S 30

struct ssv_attach {
    pid_t child;     /* stallscope attach, 0 once it has been waited for */
    FILE *out, *err; /* what it prints, kept until it ends */
    char dir[PATH_MAX];
};

/* Makes a new run directory in the working directory (./stallscope.run when there is none,
 * else ./stallscope.run-XXXXXX), starts stallscope attach on pid into it and waits until the
 * process is recorded: its trace is there, or its segment names the directory. Returns 0, or
 * -1 with one line in err; what attach printed is on stderr by then. */
int ssv_attach_start(struct ssv_attach *a, unsigned long pid, char *err, size_t err_size);

/* Interrupts attach, waits for it to detach and end, and shows what it printed. Returns its
 * exit status (128 + the signal when one ended it). */
int ssv_attach_stop(struct ssv_attach *a);

#endif
