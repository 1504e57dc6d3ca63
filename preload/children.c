/* children: a note in the parent's trace when a child runs a program the shim cannot follow
 * (statically linked, secure execution, or an environment without the preload).
 *
 * The exec and posix_spawn interposers only record what was asked (the name as given, whether
 * it was to be searched in PATH, whether the environment preloads the shim, the caller's ids)
 * into a small ring of shared memory, created at start-up and inherited by fork children, so
 * that a forked child, which has no watchdog of its own, records into its parent's ring. No
 * file is touched on that path. The watchdog of the ring's owner later finds out whether the
 * exec happened, looks at the program file and writes the note. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "interpose.h"
#include "shim.h"
#include "untraced.h"

#define RING_ENTRIES 64
#define NAME_MAX_BYTES 512
/* While an exec has not visibly happened, the watchdog looks again this often, then less
 * often once the entry is older than PENDING_FAST_NS (a stopped child, say). */
#define PENDING_POLL_NS 10000000ull
#define PENDING_FAST_NS 1000000000ull
/* An entry still being written after this long belongs to a writer that died mid-copy. */
#define WRITER_DEAD_NS 5000000000ull

enum entry_state { ENTRY_FREE = 0, ENTRY_WRITING, ENTRY_READY, ENTRY_CANCELLED };

#define FLAG_SEARCHED 1u   /* a p-variant given a name without a slash: searched in PATH */
#define FLAG_NO_PRELOAD 2u /* the environment passed on does not preload the shim */
#define FLAG_SPAWNED 4u    /* posix_spawn returned the pid: the program runs */
#define FLAG_TRUNCATED 8u  /* the name did not fit */

struct entry {
    int32_t pid;
    uint32_t flags;
    uint64_t recorded_ns;
    struct ss_exec_ids ids;
    char name[NAME_MAX_BYTES];
};

/* States first, so that a scan of an idle ring touches one page. */
struct ring {
    pid_t owner;
    _Atomic uint32_t next;
    _Atomic uint64_t dropped;
    _Atomic uint32_t state[RING_ENTRIES];
    struct entry entries[RING_ENTRIES];
};

/* The ring this process's watchdog drains, which its children inherit; and the ring its own
 * exec (without fork) is recorded in: the parent's, or none for a process that began with an
 * exec (nothing outlives that exec to read it). */
static struct ring *_Atomic child_ring;
static struct ring *exec_ring;
static dev_t own_exe_dev;
static ino_t own_exe_ino;
static uint64_t own_start_stack;
static char search_path[4096];
static int have_search_path;

/* ---- the host's side: record, never block ------------------------------------------------ */

static struct ring *new_ring(void)
{
    struct ring *r =
        mmap(NULL, sizeof *r, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (r == MAP_FAILED)
        return NULL;
    r->owner = getpid();
    return r;
}

/* Returns the index of the entry written, -1 when nothing was recorded. */
static int record(struct ring *r, pid_t pid, const char *name, uint32_t flags, char *const *envp,
                  const struct ss_exec_ids *ids)
{
    if (!r || !name)
        return -1;
    uint32_t start = atomic_fetch_add_explicit(&r->next, 1, memory_order_relaxed);
    for (uint32_t k = 0; k < RING_ENTRIES; k++) {
        uint32_t i = (start + k) % RING_ENTRIES;
        uint32_t expected = ENTRY_FREE;
        if (!atomic_compare_exchange_strong(&r->state[i], &expected, ENTRY_WRITING))
            continue;
        struct entry *e = &r->entries[i];
        size_t len = strnlen(name, NAME_MAX_BYTES);
        if (len == NAME_MAX_BYTES) {
            flags |= FLAG_TRUNCATED;
            len = NAME_MAX_BYTES - 1;
        }
        memcpy(e->name, name, len);
        e->name[len] = '\0';
        if (!ss_env_preloads_shim(envp))
            flags |= FLAG_NO_PRELOAD;
        e->pid = pid;
        e->flags = flags;
        e->ids = *ids;
        e->recorded_ns = ss__now();
        atomic_store_explicit(&r->state[i], ENTRY_READY, memory_order_release);
        return (int)i;
    }
    atomic_fetch_add_explicit(&r->dropped, 1, memory_order_relaxed);
    return -1;
}

static void caller_ids(struct ss_exec_ids *ids)
{
    uid_t suid;
    gid_t sgid;
    getresuid(&ids->ruid, &ids->euid, &suid);
    getresgid(&ids->rgid, &ids->egid, &sgid);
}

struct pending_exec {
    struct ring *ring;
    int index;
};

/* A vfork child (or one of a raw clone) runs no fork handler: it still has its parent's pid
 * in ss__pid, and records into the ring its parent drains. */
static struct pending_exec exec_begin(const char *name, uint32_t flags, char *const *envp)
{
    struct pending_exec p = {NULL, -1};
    if (!atomic_load_explicit(&ss__active, memory_order_relaxed))
        return p;
    int saved = errno;
    pid_t me = getpid();
    p.ring = me == ss__pid ? exec_ring : atomic_load_explicit(&child_ring, memory_order_acquire);
    struct ss_exec_ids ids;
    caller_ids(&ids);
    p.index = record(p.ring, me, name, flags, envp, &ids);
    errno = saved;
    return p;
}

/* Only reached when the exec failed: nothing ran. */
static void exec_failed(struct pending_exec p)
{
    if (p.index >= 0)
        atomic_store_explicit(&p.ring->state[p.index], ENTRY_CANCELLED, memory_order_release);
}

static uint32_t search_flag(const char *file)
{
    return file && !strchr(file, '/') ? FLAG_SEARCHED : 0;
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
        if (!SS_FIND(name)) {                                                                      \
            errno = ENOSYS;                                                                        \
            return -1;                                                                             \
        }                                                                                          \
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

#define COLLECT_ARGS(argv, first, ap)                                                              \
    do {                                                                                           \
        (argv)[0] = (char *)(first);                                                               \
        for (size_t ss_i_ = 1; (argv)[ss_i_ - 1]; ss_i_++)                                         \
            (argv)[ss_i_] = va_arg(ap, char *);                                                    \
    } while (0)

int execl(const char *file, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    size_t n = count_args(arg, ap);
    va_end(ap);
    char *argv[n + 1];
    va_start(ap, arg);
    COLLECT_ARGS(argv, arg, ap);
    va_end(ap);
    EXEC_BODY(execv, 0, environ, real_execv(file, argv));
}

int execlp(const char *file, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    size_t n = count_args(arg, ap);
    va_end(ap);
    char *argv[n + 1];
    va_start(ap, arg);
    COLLECT_ARGS(argv, arg, ap);
    va_end(ap);
    EXEC_BODY(execvp, search_flag(file), environ, real_execvp(file, argv));
}

int execle(const char *file, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    size_t n = count_args(arg, ap);
    va_end(ap);
    char *argv[n + 1];
    va_start(ap, arg);
    COLLECT_ARGS(argv, arg, ap);
    char *const *envp = va_arg(ap, char *const *);
    va_end(ap);
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
    struct ss_exec_ids ids;
    caller_ids(&ids);
    short spawn_flags = 0;
    if (attr && posix_spawnattr_getflags(attr, &spawn_flags) == 0 &&
        (spawn_flags & POSIX_SPAWN_RESETIDS)) {
        ids.euid = ids.ruid;
        ids.egid = ids.rgid;
    }
    record(atomic_load_explicit(&child_ring, memory_order_acquire), pid ? *pid : 0, file,
           flags | FLAG_SPAWNED, envp, &ids);
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

/* ---- start-up and fork ------------------------------------------------------------------ */

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
    if (!real_old_##name)                                                                          \
        real_old_##name = (spawn_fn *)ss__next_version(#name, "GLIBC_2.2.5");
    SS_SPAWNS(LOOKUP_SPAWN)
#undef LOOKUP_SPAWN
}

void ss__children_init(void)
{
    /* The p-variants are resolved later with this PATH: the environment may be changed by
     * the program while the watchdog would read it. */
    const char *path = getenv("PATH");
    if (path && strlen(path) < sizeof search_path) {
        memcpy(search_path, path, strlen(path) + 1);
        have_search_path = 1;
    }
    atomic_store(&child_ring, new_ring());
}

void ss__children_after_fork(void)
{
    exec_ring = atomic_load(&child_ring);
}

/* ---- the watchdog's side ----------------------------------------------------------------- */

/* The ring this process drains: made at the watchdog's start when the one it has was
 * inherited (a forked child), so that its own children's notes go into its own trace. */
static struct ring *owned_ring(void)
{
    struct ring *r = atomic_load(&child_ring);
    if (r && r->owner == ss__pid)
        return r;
    struct ring *mine = new_ring();
    if (mine)
        atomic_store(&child_ring, mine);
    return mine;
}

/* The start of the process's stack as /proc/PID/stat gives it: copied by fork, chosen anew
 * (at random) by every exec; 0 when it cannot be read. */
static uint64_t start_stack_of(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    /* The command name, in parentheses, may hold spaces; startstack is the 26th field after. */
    char *p = strrchr(buf, ')');
    for (int field = 0; p && field < 26; field++)
        p = strchr(p + 1, ' ');
    return p ? strtoull(p + 1, NULL, 10) : 0;
}

void ss__children_watchdog_start(void)
{
    owned_ring();
    own_start_stack = start_stack_of(getpid());
    struct stat st;
    if (stat("/proc/self/exe", &st) == 0) {
        own_exe_dev = st.st_dev;
        own_exe_ino = st.st_ino;
    }
}

uint64_t ss__children_dropped(void)
{
    struct ring *r = atomic_load(&child_ring);
    return r && r->owner == ss__pid ? atomic_load_explicit(&r->dropped, memory_order_relaxed) : 0;
}

enum exec_outcome { EXEC_PENDING, EXEC_RAN, EXEC_NOTHING_TO_SAY };

/* Whether the recorded exec has happened. It cannot fail after the kernel has replaced the
 * process's image, and a failure is marked (cancelled) by the child right after the call
 * returns, before anything else. So: a process that runs another file than ours, or that we
 * may not look at (the new image is set-id), or that is gone (exited, or a zombie whose exe
 * link is empty) is past it, and the state read after that check tells whether the exec
 * failed. One that runs our own file has not exec'd while its stack starts where ours does
 * (fork copies that; exec picks a new place); when that cannot be told (no address
 * randomization), it is waited for until it is gone. A pid reused by an unrelated process in
 * between is the one error this leaves. */
static enum exec_outcome outcome(const struct entry *e, int *fd)
{
    *fd = -1;
    char link[64];
    snprintf(link, sizeof link, "/proc/%d/exe", (int)e->pid);
    if (e->flags & FLAG_SPAWNED) {
        if (e->pid > 0)
            *fd = open(link, O_RDONLY | O_CLOEXEC);
        return EXEC_RAN;
    }
    struct stat st;
    if (stat(link, &st) != 0)
        return EXEC_RAN;
    if (st.st_dev == own_exe_dev && st.st_ino == own_exe_ino) {
        uint64_t stack = start_stack_of(e->pid);
        if (!stack || stack == own_start_stack)
            return EXEC_PENDING;
        /* Our own file again can only go untraced for want of the preload. */
        if (!(e->flags & FLAG_NO_PRELOAD))
            return EXEC_NOTHING_TO_SAY;
    }
    *fd = open(link, O_RDONLY | O_CLOEXEC);
    return EXEC_RAN;
}

static void write_note(const struct entry *e, int exe_fd, void (*note)(const char *))
{
    char path[PATH_MAX], reason[160], text[PATH_MAX + 256];
    /* execve takes a name without a slash as relative to the working directory. */
    const char *dirs = "";
    if (e->flags & FLAG_SEARCHED)
        dirs = have_search_path ? search_path : NULL;
    int found =
        !(e->flags & FLAG_TRUNCATED) && ss_search_path(e->name, dirs, path, sizeof path) == 0;
    char link[64];
    snprintf(link, sizeof link, "/proc/%d/exe", (int)e->pid);
    /* The running image is the best witness: it is the file exec found, whatever the
     * child's working directory or PATH was. */
    if (exe_fd >= 0) {
        ssize_t n = readlink(link, path, sizeof path - 1);
        if (n > 0) {
            path[n] = '\0';
            found = 1;
        }
    }
    unsigned as_id = 0;
    enum ss_untraced why = SS_TRACEABLE;
    if (exe_fd >= 0)
        why = ss_untraced_program_fd(exe_fd, &e->ids, &as_id);
    if (why == SS_TRACEABLE && found)
        why = ss_untraced_program(path, &e->ids, &as_id);
    if (why == SS_TRACEABLE && (e->flags & FLAG_NO_PRELOAD))
        why = SS_UNTRACED_NO_PRELOAD;
    if (why == SS_TRACEABLE)
        return;
    ss_untraced_reason(why, as_id, reason, sizeof reason);
    char pid[24] = "";
    if (e->pid > 0)
        snprintf(pid, sizeof pid, " %d", (int)e->pid);
    snprintf(text, sizeof text, "child%s ran %s untraced: %s", pid, found ? path : e->name, reason);
    note(text);
}

uint64_t ss__children_drain(uint64_t now, void (*note)(const char *))
{
    static uint64_t writing_since[RING_ENTRIES];
    struct ring *r = atomic_load(&child_ring);
    uint64_t next = UINT64_MAX;
    if (!r || r->owner != ss__pid)
        return next;
    for (unsigned i = 0; i < RING_ENTRIES; i++) {
        uint32_t state = atomic_load_explicit(&r->state[i], memory_order_acquire);
        if (state != ENTRY_WRITING)
            writing_since[i] = 0;
        if (state == ENTRY_FREE)
            continue;
        if (state == ENTRY_WRITING) {
            if (!writing_since[i])
                writing_since[i] = now;
            else if (now - writing_since[i] >= WRITER_DEAD_NS)
                atomic_compare_exchange_strong(&r->state[i], &state, ENTRY_FREE);
            continue;
        }
        const struct entry *e = &r->entries[i];
        int fd = -1;
        enum exec_outcome o = state == ENTRY_READY ? outcome(e, &fd) : EXEC_RAN;
        if (o == EXEC_PENDING) {
            uint64_t age = now - e->recorded_ns;
            uint64_t again = now + (age < PENDING_FAST_NS ? PENDING_POLL_NS : ss__opts.flush_ns);
            if (again < next)
                next = again;
            continue;
        }
        if (o == EXEC_RAN &&
            atomic_load_explicit(&r->state[i], memory_order_acquire) == ENTRY_READY)
            write_note(e, fd, note);
        if (fd >= 0)
            close(fd);
        atomic_store_explicit(&r->state[i], ENTRY_FREE, memory_order_release);
    }
    return next;
}
