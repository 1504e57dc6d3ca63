/* untraced: whether a program file can have the shim preloaded, and if not, why. Shared by the
 * monitor (the programs a traced process's children ran) and `stallscope run` (the command
 * itself). It only reads the file: no allocation, no stdio, errno left as it was. */
#ifndef SS_UNTRACED_H
#define SS_UNTRACED_H

#include <stddef.h>
#include <sys/types.h>

enum ss_untraced {
    SS_TRACEABLE = 0,         /* dynamically linked and ordinary, or nothing could be learnt */
    SS_UNTRACED_STATIC,       /* no PT_INTERP: no dynamic loader runs, so no preload */
    SS_UNTRACED_SETUID,       /* secure execution: the loader ignores LD_PRELOAD by path */
    SS_UNTRACED_SETGID,       /* the same, through the set-group-ID bit */
    SS_UNTRACED_CAPABILITIES, /* the same, through file capabilities */
    SS_UNTRACED_NO_PRELOAD,   /* the environment given to exec does not preload the shim */
};

/* The ids of the process that runs exec, which decide whether set-id bits change them. */
struct ss_exec_ids {
    uid_t ruid, euid;
    gid_t rgid, egid;
};

/* Looks at the program `path` as exec would run it: a "#!" script is judged by its
 * interpreter (as the kernel does, up to four levels). `as_id` gets the user or group a
 * set-id program runs as. Anything that cannot be read or is not ELF counts as traceable:
 * a note must only say what is known. */
enum ss_untraced ss_untraced_program(const char *path, const struct ss_exec_ids *ids,
                                     unsigned *as_id);
/* The same for an open descriptor of the program (such as /proc/PID/exe). */
enum ss_untraced ss_untraced_program_fd(int fd, const struct ss_exec_ids *ids, unsigned *as_id);

/* Finds a command name as execvp does: a name with a slash is used as it is, any other is
 * looked up in each directory of `path_list` (":"-separated; an empty entry is the working
 * directory), taking the first executable regular file. Returns 0 with the path in `out`,
 * -ENOENT when nothing was found, -ENAMETOOLONG when a name with a slash does not fit (a
 * directory's candidate that does not fit is passed over). */
int ss_search_path(const char *name, const char *path_list, char *out, size_t size);

/* Whether an environment (NULL-terminated "NAME=value" strings) has an LD_PRELOAD whose list
 * names libstallscope.so. */
int ss_env_preloads_shim(char *const *envp);

/* One phrase saying why: "statically linked: no dynamic loader runs to preload the shim". */
void ss_untraced_reason(enum ss_untraced why, unsigned as_id, char *buf, size_t size);

#endif
