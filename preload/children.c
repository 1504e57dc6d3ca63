/* children: a note in the trace when a child runs a program the shim cannot follow
 * (statically linked, secure execution, or an environment without the preload).
 *
 * The exec and posix_spawn interposers only record what was asked (the name as given, whether
 * it was to be searched in PATH, whether the environment preloads the shim, the caller's ids)
 * into the exec ring of the segment (src/common/segment.h): the process's own, or its parent's in a
 * forked child that has made none yet. No file is touched on that path. The monitor, which
 * keeps the segment after the exec has replaced the process, later finds out whether the exec
 * happened, looks at the program file and writes the note (src/monitor/execs.c). */
#define _GNU_SOURCE
#include <errno.h>
#include <spawn.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "common/untraced.h"
#include "interpose.h"
#include "shim.h"

/* Returns the index of the entry written, -1 when nothing was recorded. */
static int record(struct ss_exec_ring *r, pid_t pid, const char *name, uint32_t flags,
                  char *const *envp)
{
    if (!r || !name)
        return -1;
    uint32_t start = atomic_fetch_add_explicit(&r->next, 1, memory_order_relaxed);
    for (uint32_t k = 0; k < SS_EXEC_RING; k++) {
        uint32_t i = (start + k) % SS_EXEC_RING;
        uint32_t expected = SS_EXEC_FREE;
        if (!atomic_compare_exchange_strong(&r->state[i], &expected, SS_EXEC_WRITING))
            continue;
        struct ss_exec_entry *e = &r->entries[i];
        size_t len = strnlen(name, SS_EXEC_NAME_BYTES);
        if (len == SS_EXEC_NAME_BYTES) {
            flags |= SS_EXEC_TRUNCATED;
            len = SS_EXEC_NAME_BYTES - 1;
        }
        memcpy(e->name, name, len);
        e->name[len] = '\0';
        if (!ss_env_preloads_shim(envp))
            flags |= SS_EXEC_NO_PRELOAD;
        uid_t ruid, euid, suid;
        gid_t rgid, egid, sgid;
        getresuid(&ruid, &euid, &suid);
        getresgid(&rgid, &egid, &sgid);
        e->pid = pid;
        e->flags = flags;
        e->ruid = ruid;
        e->euid = euid;
        e->rgid = rgid;
        e->egid = egid;
        e->recorded_ns = ss__now();
        atomic_store_explicit(&r->state[i], SS_EXEC_READY, memory_order_release);
        return (int)i;
    }
    atomic_fetch_add_explicit(&r->dropped, 1, memory_order_relaxed);
    return -1;
}

struct pending_exec {
    struct ss_exec_ring *ring;
    int index;
    struct ss_slot *slot; /* the loop thread's, marked as in a call while the exec runs */
};

/* A vfork child (or one of a raw clone) runs no fork handler: it records into the ring its
 * parent's monitor reads, under its own pid. */
static struct pending_exec exec_begin(const char *name, uint32_t flags, char *const *envp)
{
    struct pending_exec p = {NULL, -1, NULL};
    if (!atomic_load_explicit(&ss__active, memory_order_relaxed))
        return p;
    int saved = errno;
    pid_t me = getpid();
    /* A signal of the monitor's pending at the exec would reach the new program, under the
     * default disposition: exec is made as a call, where none is sent. Not in a vfork child,
     * which runs on its parent's thread and memory but is not its loop. */
    struct ss_slot *s = ss__tls.slot;
    if (s && me == ss__pid && !ss__tls.in_hook &&
        atomic_load_explicit(&s->state, memory_order_relaxed) == SS_STATE_BUSY) {
        ss__enter_call(s);
        p.slot = s;
    }
    p.ring = ss__exec_ring();
    p.index = record(p.ring, me, name, flags, envp);
    errno = saved;
    return p;
}

/* Only reached when the exec failed: nothing ran. */
static void exec_failed(struct pending_exec p)
{
    if (p.index >= 0)
        atomic_store_explicit(&p.ring->state[p.index], SS_EXEC_CANCELLED, memory_order_release);
    if (p.slot)
        atomic_store_explicit(&p.slot->state, SS_STATE_BUSY, memory_order_release);
}

static uint32_t search_flag(const char *file)
{
    return file && !strchr(file, '/') ? SS_EXEC_SEARCHED : 0;
}

/* glibc's exec functions all call its internal execve, which cannot be interposed: each public
 * one is interposed itself. The list variants build their argument vector on the stack, as
 * the C library does. */
static int (*real_execve)(const char *, char *const[], char *const[]);
static int (*real_execv)(const char *, char *const[]);
static int (*real_execvp)(const char *, char *const[]);
static int (*real_execvpe)(const char *, char *const[], char *const[]);
typedef int spawn_fn(pid_t *, const char *, const posix_spawn_file_actions_t *,
                     const posix_spawnattr_t *, char *const[], char *const[]);
static spawn_fn *real_posix_spawn, *real_posix_spawnp, *real_old_posix_spawn,
    *real_old_posix_spawnp;

/* Every interposer below names its program parameter `file`. */
#define EXEC_BODY(name, flags, envp, call)                                                         \
    do {                                                                                           \
        SS_MISSING(SS_FIND(name), -1);                                                             \
        struct pending_exec ss_p_ = exec_begin(file, (flags), (envp));                             \
        int ss_rc_ = call;                                                                         \
        int ss_saved_ = errno;                                                                     \
        exec_failed(ss_p_);                                                                        \
        errno = ss_saved_;                                                                         \
        return ss_rc_;                                                                             \
    } while (0)

int execve(const char *file, char *const argv[], char *const envp[])
{
    EXEC_BODY(execve, 0, envp, real_execve(file, argv, envp));
}

int execv(const char *file, char *const argv[])
{
    EXEC_BODY(execv, 0, environ, real_execv(file, argv));
}

int execvp(const char *file, char *const argv[])
{
    EXEC_BODY(execvp, search_flag(file), environ, real_execvp(file, argv));
}

int execvpe(const char *file, char *const argv[], char *const envp[])
{
    EXEC_BODY(execvpe, search_flag(file), envp, real_execvpe(file, argv, envp));
}

/* The arguments after `first` up to the terminating null pointer, counted. */
static size_t count_args(const char *first, va_list ap)
{
    size_t n = 1;
    if (first)
        while (va_arg(ap, const char *))
            n++;
    return n;
}

/* Declares `argv`, the arguments of a variadic exec from `first` up to the null pointer that
 * ends them, in an array on the stack; `then` may read what follows them from ss_ap_
 * (execle's environment). */
#define LIST_ARGV(argv, first, then)                                                               \
    va_list ss_ap_;                                                                                \
    va_start(ss_ap_, first);                                                                       \
    size_t ss_n_ = count_args(first, ss_ap_);                                                      \
    va_end(ss_ap_);                                                                                \
    char *argv[ss_n_ + 1];                                                                         \
    va_start(ss_ap_, first);                                                                       \
    argv[0] = (char *)(first);                                                                     \
    for (size_t ss_i_ = 1; argv[ss_i_ - 1]; ss_i_++)                                               \
        argv[ss_i_] = va_arg(ss_ap_, char *);                                                      \
    then;                                                                                          \
    va_end(ss_ap_)

int execl(const char *file, const char *arg, ...)
{
    LIST_ARGV(argv, arg, (void)0);
    EXEC_BODY(execv, 0, environ, real_execv(file, argv));
}

int execlp(const char *file, const char *arg, ...)
{
    LIST_ARGV(argv, arg, (void)0);
    EXEC_BODY(execvp, search_flag(file), environ, real_execvp(file, argv));
}

int execle(const char *file, const char *arg, ...)
{
    char *const *envp;
    LIST_ARGV(argv, arg, envp = va_arg(ss_ap_, char *const *));
    EXEC_BODY(execve, 0, envp, real_execve(file, argv, envp));
}

/* posix_spawn returns once the child runs the program (glibc reports a failed exec as the
 * call's error), so the parent records the child into its own ring afterwards. */
static void spawned(int rc, const pid_t *pid, const char *file, uint32_t flags,
                    const posix_spawnattr_t *attr, char *const envp[])
{
    if (rc != 0 || !atomic_load_explicit(&ss__active, memory_order_relaxed))
        return;
    int saved = errno;
    short spawn_flags = 0;
    if (attr && posix_spawnattr_getflags(attr, &spawn_flags) == 0 &&
        (spawn_flags & POSIX_SPAWN_RESETIDS))
        flags |= SS_EXEC_RESET_IDS;
    record(ss__exec_ring(), pid ? *pid : 0, file, flags | SS_EXEC_SPAWNED, envp);
    errno = saved;
}

/* posix_spawn and posix_spawnp exist in two symbol versions: the one binaries built before
 * glibc 2.15 are bound to runs a file the kernel refuses to execute (ENOEXEC) with /bin/sh,
 * the current one does not. Each is interposed under its own version and reaches its own.
 * X(name, whether the file is searched in PATH) */
#define SS_SPAWNS(X) X(posix_spawn, 0) X(posix_spawnp, 1)
#define DEFINE_SPAWN_AS(cname, var, name, searched, version, export)                               \
    int cname(pid_t *pid, const char *file, const posix_spawn_file_actions_t *actions,             \
              const posix_spawnattr_t *attr, char *const argv[], char *const envp[]);              \
    int cname(pid_t *pid, const char *file, const posix_spawn_file_actions_t *actions,             \
              const posix_spawnattr_t *attr, char *const argv[], char *const envp[])               \
    {                                                                                              \
        if (!SS_FIND_AS(var, #name, version))                                                      \
            return ENOSYS;                                                                         \
        int rc = var(pid, file, actions, attr, argv, envp);                                        \
        spawned(rc, pid, file, (searched) ? search_flag(file) : 0, attr, envp);                    \
        return rc;                                                                                 \
    }                                                                                              \
    SS_SYMVER(cname, name, export);
#define DEFINE_SPAWN(name, searched)                                                               \
    DEFINE_SPAWN_AS(ss_spawn_##name, real_##name, name, searched, "GLIBC_2.15", "@@GLIBC_2.15")    \
    DEFINE_SPAWN_AS(ss_old_##name, real_old_##name, name, searched, "GLIBC_2.2.5", "@GLIBC_2.2.5")
SS_SPAWNS(DEFINE_SPAWN)

/* At load time, whether the shim stays on or not: a vfork child must not be the first to
 * look the real functions up. */
void ss__resolve_children(void)
{
    SS_LOOKUP(execve);
    SS_LOOKUP(execv);
    SS_LOOKUP(execvp);
    SS_LOOKUP(execvpe);
#define LOOKUP_SPAWN(name, searched)                                                               \
    SS_LOOKUP_VERSION(name, "GLIBC_2.15");                                                         \
    SS_LOOKUP_AS(real_old_##name, #name, "GLIBC_2.2.5");
    SS_SPAWNS(LOOKUP_SPAWN)
#undef LOOKUP_SPAWN
}
