/* find-run: the run directory a running process is traced into, read from the process itself,
 * so that `stallscope view --pid PID` needs no directory named. The segment the shim made in it
 * says where its monitor writes (src/common/segment.h); when no segment can be read, the
 * STALLSCOPE_OPTIONS of its environment do. */
#ifndef SS_MONITOR_FIND_RUN_H
#define SS_MONITOR_FIND_RUN_H

#include <stddef.h>
#include <sys/types.h>

/* Writes the absolute run directory of process pid into dir. Of the segments mapped in it that
 * are its own (a forked child maps its parent's until it makes one) and still record (not
 * detached by stallscope attach), the most recently started. Without such a segment, the
 * output= of the STALLSCOPE_OPTIONS in its environment, relative to its working directory.
 * Returns 0; -ENOENT when the process is not traced (no segment, no such option); -EPERM or
 * -EACCES when it could not be read (another user's process); -ESRCH when there is no such
 * process; -ENAMETOOLONG when dir is too small. Every failure has one line in why. */
int ss_find_run_dir(pid_t pid, char *dir, size_t size, char *why, size_t why_size);
/* The output= of the STALLSCOPE_OPTIONS in pid's environment (a process started under run),
 * made absolute with its working directory: 0, -ENOENT when there is none, or a code. */
int ss_find_run_dir_in_environment(pid_t pid, char *dir, size_t size);

#endif
