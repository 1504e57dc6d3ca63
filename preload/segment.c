/* segment: the process's shared memory with the monitor (src/common/segment.h). Made at start-up,
 * and in a forked child at its first loop wait, as an anonymous memory file of fixed size whose
 * pages exist only once touched; handed to the monitor over its unix socket with the
 * descriptor attached, after which the shim keeps only the mapping: no descriptor of ours
 * stays open in the host. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"
#include "util/fnv.h"

/* The parent's segment in a forked child that has none of its own yet: its exec ring is
 * where the child's execs are noted. */
static struct ss_segment *inherited;

/* A segment made before its monitor listened: its descriptor, kept until handed over. The
 * thread that tries takes it (exchanging -1) and puts it back if the monitor did not answer. */
static _Atomic int pending_fd = -1;
_Atomic int ss__announced = 1;

struct ss_exec_ring *ss__exec_ring(void)
{
    struct ss_segment *seg = atomic_load_explicit(&ss__seg, memory_order_acquire);
    if (!seg)
        seg = inherited;
    return seg ? &seg->execs : NULL;
}

void ss__segment_after_fork(void)
{
    struct ss_segment *parent = atomic_exchange(&ss__seg, NULL);
    if (parent)
        inherited = parent;
    /* The parent's segment, if it was still waiting for its monitor, is the parent's to
     * hand over. */
    int fd = atomic_exchange(&pending_fd, -1);
    if (fd >= 0)
        close(fd);
    atomic_store(&ss__announced, 1);
}

/* The run directory as an absolute path (a relative one is the working directory's); size is
 * more than SS_OUTPUT_MAX. */
static void absolute_output(char *to, size_t size)
{
    to[0] = '\0';
    if (ss__opts.output[0] != '/' && getcwd(to, size - SS_OUTPUT_MAX - 2))
        strcat(to, "/");
    strcat(to, ss__opts.output);
}

static void fill_header(struct ss_segment *seg)
{
    memcpy(seg->magic, SS_SEG_MAGIC, sizeof seg->magic);
    seg->version = SS_SEG_VERSION;
    seg->nslots = SS_SEG_SLOTS;
    seg->size = sizeof *seg;
    seg->pid = ss__pid;
    atomic_store(&seg->attached, (uint32_t)atomic_load(&ss__attached));
    struct timespec real;
    clock_gettime(CLOCK_REALTIME, &real);
    seg->start_mono_ns = ss__now();
    seg->start_real_ns = (uint64_t)real.tv_sec * 1000000000ull + (uint64_t)real.tv_nsec;
    seg->config = (struct ss_seg_config){
        .threshold_ns = ss__opts.threshold_ns,
        .interval_ns = ss__opts.interval_ns,
        .flush_ns = ss__opts.flush_ns,
        .sample_timeout_ns = ss__opts.sample_timeout_ns,
        .call_threshold_ns = ss__opts.call_threshold_ns,
        .signal = ss__opts.signal,
        .strict = ss__opts.strict,
        .stacks = ss__opts.stacks,
        .sampling = ss__opts.sampling,
        .python = ss__opts.python,
        .max_size = ss__opts.max_size,
        .max_files = ss__opts.max_files,
        .max_stacks = ss__opts.max_stacks,
    };
    unsigned n = ss__call_count < SS_SEG_CALLS_MAX ? ss__call_count : SS_SEG_CALLS_MAX;
    for (unsigned i = 0; i < n; i++)
        strncpy(seg->call_names[i], ss__call_names[i], SS_SEG_CALL_NAME - 1);
    seg->ncalls = n;
    absolute_output(seg->run_dir, sizeof seg->run_dir);
    /* Names exec searched are resolved later with the PATH of start-up: the program may
     * change its environment by then. */
    const char *path = getenv("PATH");
    if (path && strlen(path) < sizeof seg->path_list)
        memcpy(seg->path_list, path, strlen(path) + 1);
    /* Attached, what descriptor 2 was at the start is not known: the monitor never speaks
     * on it (log.c). */
    struct stat err;
    if (!atomic_load(&ss__attached) && fstat(STDERR_FILENO, &err) == 0) {
        seg->stderr_dev = err.st_dev;
        seg->stderr_ino = err.st_ino;
    }
}

/* Sends the segment to the monitor listening at `name`. 0, or a negated errno (-ECONNREFUSED:
 * nobody listens there). */
static int hand_over(int memfd, const struct ss_segment *seg, const char *name, char *why,
                     size_t why_size)
{
    int sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (sock < 0) {
        int err = errno;
        snprintf(why, why_size, "cannot reach the monitor: %s", strerror(err));
        return -err;
    }
    struct sockaddr_un addr;
    socklen_t addr_len = ss_seg_monitor_address(name, &addr);
    int rc = -EPERM;
    if (connect(sock, (struct sockaddr *)&addr, addr_len) != 0) {
        rc = -errno;
        snprintf(why, why_size, "cannot reach the monitor %s: %s", name, strerror(-rc));
        goto out;
    }
    /* Only a monitor of our own user (or root) gets to read our stacks. */
    struct ucred peer;
    socklen_t peer_len = sizeof peer;
    if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &peer, &peer_len) != 0 ||
        (peer.uid != geteuid() && peer.uid != 0)) {
        snprintf(why, why_size, "the monitor %s belongs to another user", name);
        goto out;
    }
    struct ss_seg_hello hello = {.version = SS_SEG_VERSION, .pid = seg->pid, .size = seg->size};
    memcpy(hello.magic, SS_SEG_MAGIC, sizeof hello.magic);
    struct iovec iov = {&hello, sizeof hello};
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control.buf,
                         .msg_controllen = sizeof control.buf};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &memfd, sizeof memfd);
    if (sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sizeof hello) {
        rc = -errno;
        snprintf(why, why_size, "cannot hand the monitor %s our segment: %s", name, strerror(-rc));
        goto out;
    }
    rc = 0;
out:
    close(sock);
    return rc;
}

/* ---- a monitor of our own ------------------------------------------------------------ */

/* Without monitor= in the options (a plain LD_PRELOAD from a service manager), the processes
 * that write to the same run directory share one monitor, named after the user and the
 * directory; the first process that finds none starts it. Until it answers, the segment's
 * descriptor stays open and handing it over is tried again at the loop's waits. */
#define RETRY_EVERY_NS 5000000ull
#define GIVE_UP_AFTER_NS 3000000000ull
#define FIRST_WAIT_NS 200000000ull

static char monitor_name[SS_MONITOR_NAME_MAX];
static char output_dir[SS_OUTPUT_MAX + 4096];
static uint64_t next_retry_ns, give_up_ns;

/* The run directory as an absolute path (a relative one is the process's working
 * directory's), and the name of its monitor. */
static void name_the_monitor(void)
{
    if (ss__opts.monitor[0]) {
        memcpy(monitor_name, ss__opts.monitor, sizeof monitor_name);
        return;
    }
    absolute_output(output_dir, sizeof output_dir);
    uint64_t h = ss_fnv1a_str(SS_FNV1A_INIT, output_dir);
    snprintf(monitor_name, sizeof monitor_name, "stallscope-auto-%u-%016llx", (unsigned)geteuid(),
             (unsigned long long)h);
}

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

static long raw_syscall3(long nr, long a, long b, long c)
{
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "0"(nr), "D"(a), "S"(b), "d"(c)
                     : "rcx", "r11", "memory");
    return ret;
}

struct spawn_args {
    const char *exe;
    char *const *argv;
};

/* The child shares our memory until its exec: it calls nothing of the C library (whose
 * errno and our interposers it would share), only the kernel. Its environment is ours
 * without LD_PRELOAD, so that the monitor is not traced itself; it keeps none of our
 * descriptors (holding the write end of a pipe of ours would keep its reader waiting), and
 * its standard streams are /dev/null. */
static int spawn_child(void *arg)
{
    const struct spawn_args *a = arg;
    extern char **environ;
    size_t n = 0;
    while (environ[n])
        n++;
    char *env[n + 1];
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0)
            env[k++] = environ[i];
    env[k] = NULL;
    raw_syscall3(SYS_close_range, 0, ~0L, 0);
    if (raw_syscall3(SYS_open, (long)"/dev/null", O_RDWR, 0) == 0) {
        raw_syscall3(SYS_dup2, 0, 1, 0);
        raw_syscall3(SYS_dup2, 0, 2, 0);
    }
    raw_syscall3(SYS_setsid, 0, 0, 0);
    raw_syscall3(SYS_execve, (long)a->exe, (long)a->argv, (long)env);
    raw_syscall3(SYS_exit_group, 127, 0, 0);
    return 127;
}

/* A program file we may run (not a directory of that name). */
static int runnable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* stallscope one directory above the shim's own in a build tree (.libs/), else where it was
 * installed. */
static int monitor_program(char *path, size_t size)
{
    Dl_info info;
    if (dladdr((void *)&ss__capture_regs, &info) && info.dli_fname &&
        strrchr(info.dli_fname, '/')) {
        size_t dir = (size_t)(strrchr(info.dli_fname, '/') - info.dli_fname);
        snprintf(path, size, "%.*s/../stallscope", (int)dir, info.dli_fname);
        if (runnable(path))
            return 0;
    }
    snprintf(path, size, "%s/stallscope", SS_BINDIR);
    return runnable(path) ? 0 : -1;
}

/* The run directory the monitor will write into, made (mode 0700) when missing: a directory
 * that cannot be is said here, by the process, since the monitor it would start has no
 * stderr to say it on. It must be the user's own and not a link. */
static int check_output_dir(char *why, size_t why_size)
{
    if (mkdir(output_dir, 0700) != 0 && errno != EEXIST) {
        snprintf(why, why_size, "cannot create %s: %s", output_dir, strerror(errno));
        return -1;
    }
    int fd = open(output_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    int ok = fd >= 0 && fstat(fd, &st) == 0 && st.st_uid == geteuid();
    if (!ok)
        snprintf(why, why_size, "will not write into %s: %s", output_dir,
                 fd < 0 && errno == ELOOP ? "it is a symbolic link"
                 : fd < 0                 ? strerror(errno)
                                          : "it belongs to another user");
    if (fd >= 0)
        close(fd);
    return ok ? 0 : -1;
}

/* Starts the monitor as a sibling, not a child: the host must not get its SIGCHLD or find
 * it among its children. CLONE_VFORK keeps us until the exec, CLONE_VM spares copying our
 * memory for it. */
static int spawn_monitor(char *why, size_t why_size)
{
    char exe[4200];
    if (check_output_dir(why, why_size) != 0)
        return -1;
    if (monitor_program(exe, sizeof exe) != 0) {
        snprintf(why, why_size, "no monitor running and stallscope not found (looked in %s)",
                 SS_BINDIR);
        return -1;
    }
    char *argv[] = {exe, "monitor", "--spawned", "--listen", monitor_name, "-o", output_dir, NULL};
    struct spawn_args args = {exe, argv};
    static char stack[65536] __attribute__((aligned(16)));
    pid_t pid = clone(spawn_child, stack + sizeof stack,
                      CLONE_PARENT | CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
    if (pid < 0) {
        snprintf(why, why_size, "cannot start a monitor: %s", strerror(errno));
        return -1;
    }
    return 0;
}

void ss__segment_forget_monitor(void)
{
    monitor_name[0] = '\0';
}

/* Hands the pending segment over if the monitor answers now; gives up after a while. */
void ss__segment_retry(void)
{
    uint64_t now = ss__now();
    if (now < next_retry_ns)
        return;
    /* Held by this thread from here (in_hook tells an exit on it not to wait for it), and
     * never left held by a cancellation at connect or sendmsg. */
    ss__tls.in_hook++;
    int cancel_state;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
    int fd = atomic_exchange(&pending_fd, -1);
    if (fd < 0) {
        pthread_setcancelstate(cancel_state, NULL);
        ss__tls.in_hook--;
        return;
    }
    next_retry_ns = now + RETRY_EVERY_NS;
    char why[256];
    struct ss_segment *seg = atomic_load(&ss__seg);
    if (seg && hand_over(fd, seg, monitor_name, why, sizeof why) == 0) {
        close(fd);
        atomic_store(&ss__announced, 1);
    } else if (now >= give_up_ns) {
        close(fd);
        atomic_store(&ss__announced, 1);
        ss__disable(why);
    } else {
        atomic_store(&pending_fd, fd);
    }
    pthread_setcancelstate(cancel_state, NULL);
    ss__tls.in_hook--;
}

/* Hands the segment over, trying again every millisecond until `deadline` while the monitor
 * is not listening yet or busy (only those may answer later). 0, or the last refusal. */
static int hand_over_until(int fd, const struct ss_segment *seg, uint64_t deadline, char *why,
                           size_t why_size)
{
    struct timespec pause = {0, 1000000};
    int rc;
    while ((rc = hand_over(fd, seg, monitor_name, why, why_size)) != 0 &&
           (rc == -ECONNREFUSED || rc == -EAGAIN) && ss__now() < deadline)
        nanosleep(&pause, NULL);
    return rc;
}

void ss__segment_hand_over_at_exit(void)
{
    struct timespec pause = {0, 1000000};
    char why[256] = "the monitor did not answer";
    int fd = atomic_exchange(&pending_fd, -1);
    /* Another loop thread may hold it for one try of its own: it puts it back, or hands it
     * over. This thread, exiting from inside the shim (a signal handler's _exit), may be the
     * one that holds it: then there is nothing to wait for. */
    int held_here = ss__tls.in_hook != 0;
    while (fd < 0 && !held_here && !atomic_load(&ss__announced) && ss__now() < give_up_ns) {
        nanosleep(&pause, NULL);
        fd = atomic_exchange(&pending_fd, -1);
    }
    if (fd < 0) {
        if (!atomic_load(&ss__announced) && !held_here)
            ss__note("nothing of this process was recorded: ", why);
        return;
    }
    ss__tls.in_hook++;
    struct ss_segment *seg = atomic_load(&ss__seg);
    int handed = seg ? hand_over_until(fd, seg, give_up_ns, why, sizeof why) : -1;
    close(fd);
    atomic_store(&ss__announced, 1);
    /* The shim is off already (the process is exiting): said here, or not at all. */
    if (handed != 0)
        ss__note("nothing of this process was recorded: ", why);
    ss__tls.in_hook--;
}

int ss__segment_create(int at_loop, char *why, size_t why_size)
{
    /* Our own calls below must not be taken for the host's. */
    ss__tls.in_hook++;
    int rc = -1;
    struct ss_segment *seg = MAP_FAILED;
    int fd = memfd_create("stallscope", MFD_CLOEXEC);
    if (fd < 0) {
        snprintf(why, why_size, "cannot make shared memory: %s", strerror(errno));
        goto out;
    }
    if (ftruncate(fd, (off_t)sizeof *seg) != 0) {
        snprintf(why, why_size, "cannot size shared memory: %s", strerror(errno));
        goto out;
    }
    seg = mmap(NULL, sizeof *seg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (seg == MAP_FAILED) {
        snprintf(why, why_size, "cannot map shared memory: %s", strerror(errno));
        goto out;
    }
    fill_header(seg);
    if (!monitor_name[0])
        name_the_monitor();
    int handed = hand_over(fd, seg, monitor_name, why, why_size);
    if (handed == 0) {
        atomic_store(&ss__announced, 1);
    } else if (ss__opts.monitor[0] || handed != -ECONNREFUSED) {
        goto out;
    } else if (!at_loop) {
        /* No monitor yet: one is started at this process's first loop wait, if it has one, and
         * the segment made then. Until then, nothing of ours stays in the process. */
        munmap(seg, sizeof *seg);
        seg = MAP_FAILED;
        rc = 0;
        goto out;
    } else if (spawn_monitor(why, why_size) != 0) {
        goto out;
    } else {
        /* Far from the low numbers a program's own files get, for the few milliseconds
         * until the monitor answers. */
        int high = fcntl(fd, F_DUPFD_CLOEXEC, 1024);
        if (high >= 0) {
            close(fd);
            fd = high;
        }
        next_retry_ns = ss__now();
        give_up_ns = next_retry_ns + GIVE_UP_AFTER_NS;
        /* Once per run directory, at the first loop of the first process: a few milliseconds
         * for the new monitor to listen, so that the loop's first stalls are sampled too. */
        if (hand_over_until(fd, seg, next_retry_ns + FIRST_WAIT_NS, why, why_size) != 0) {
            atomic_store(&ss__announced, 0);
            atomic_store(&pending_fd, fd);
            fd = -1;
        }
    }
    atomic_store_explicit(&ss__seg, seg, memory_order_release);
    rc = 0;
out:
    if (rc < 0 && seg != MAP_FAILED)
        munmap(seg, sizeof *seg);
    if (fd >= 0)
        close(fd);
    ss__tls.in_hook--;
    return rc;
}
