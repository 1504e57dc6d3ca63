/* host-processes: host-fixture's steps that start processes the ways hosts do, and that do to
 * descriptors and files what daemons and clean-up jobs do:
 *
 *   vfork PATH         vfork() and exec PATH, wait for it
 *   vfork-calls PATH   a blocking socket with a byte to read; vfork(), and the child, as
 *                      Python's subprocess does, opens PATH, closes the socket and dup2()s
 *                      PATH over its number, makes an access() of /nonexistent/vfork-child
 *                      and a nanosleep(), blocks signal 38 and execs PATH; the parent waits
 *                      for it, reads the byte from its socket with recv() and spins 150 ms
 *   spawn PATH         posix_spawn() PATH, wait for it
 *   spawnp NAME        posix_spawnp() NAME (searched in PATH), wait for it
 *   fork-exec PATH     fork() and execv() PATH, wait for it
 *   fork-execvp NAME   fork() and execvp() NAME (searched in PATH), wait for it
 *   fork-exec-bare PATH  fork() and execve() PATH with an environment of the host's own but
 *                      without LD_PRELOAD, wait for it
 *   exec-fail PATH     fork(); the child execv()s PATH (which must not exist), prints
 *                      "exec-errno N" with the errno it got, and exits
 *   exec-chain N       spin 20 ms in one iteration, then exec this program again with N-1,
 *                      until N is 0, which prints "exec-chain done" (a sampling signal left
 *                      pending across an exec would kill the new program)
 *   daemon MS          double fork, setsid, close_range() of every descriptor; the daemon runs
 *                      its own loop with a MS spin and exits; the parent goes on at once
 *   crash              dereference a null pointer (the host dies of SIGSEGV)
 *   stderr-reused FILE close descriptor 2 and open FILE in its place (a daemon's data file),
 *                      writing "host data" into it
 *   close-all FILE     close every descriptor from 3 up but the loop's (close_range), open
 *                      FILE.0 to FILE.15 in their place and write "host data" to each, spin
 *                      120 ms, and print "host-files-size" with their total size
 *   remove-dir DIR     delete every file in DIR and DIR itself (a clean-up job) */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "host.h"
#include "plant.h"

extern char **environ;

void wait_child(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "host-fixture: child failed: %d\n", status);
        exit(4);
    }
}

static void fork_and_exec(const char *how, const char *path)
{
    char *argv[] = {(char *)path, NULL};
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(3);
    }
    if (pid == 0) {
        if (strcmp(how, "fork-exec") == 0) {
            execv(path, argv);
        } else if (strcmp(how, "fork-execvp") == 0) {
            execvp(path, argv);
        } else if (strcmp(how, "fork-exec-bare") == 0) {
            char *bare[64];
            size_t n = 0;
            for (char **e = environ; *e && n < 63; e++)
                if (strncmp(*e, "LD_PRELOAD=", 11) != 0)
                    bare[n++] = *e;
            bare[n] = NULL;
            execve(path, argv, bare);
        } else {
            errno = 4242;
            execv(path, argv);
            printf("exec-errno %d\n", errno);
            fflush(stdout);
            _exit(0);
        }
        _exit(127);
    }
    wait_child(pid);
}

/* posix_spawn, or posix_spawnp for the step spawnp, and wait. */
static void spawn_and_wait(const char *what, const char *path)
{
    int search = strcmp(what, "spawnp") == 0;
    pid_t pid;
    char *argv[] = {(char *)path, NULL};
    if ((search ? posix_spawnp : posix_spawn)(&pid, path, NULL, NULL, argv, environ) != 0) {
        perror(search ? "posix_spawnp" : "posix_spawn");
        exit(3);
    }
    wait_child(pid);
}

/* The child runs on this thread and its memory until it execs: none of what it does is the
 * parent's. */
static void vfork_calls(const char *path)
{
    int sv[2];
    char c;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 || write(sv[1], "x", 1) != 1) {
        perror("vfork-calls");
        exit(3);
    }
    pid_t pid = vfork();
    if (pid == 0) {
        int fd = open(path, O_RDONLY);
        close(sv[0]);
        dup2(fd, sv[0]);
        access("/nonexistent/vfork-child", F_OK);
        struct timespec nap = {0, 1000000};
        nanosleep(&nap, NULL);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, 38);
        sigprocmask(SIG_BLOCK, &set, NULL);
        execl(path, path, (char *)NULL);
        _exit(127);
    }
    wait_child(pid);
    if (recv(sv[0], &c, 1, 0) != 1) {
        perror("recv");
        exit(3);
    }
    spin(150);
    close(sv[0]);
    close(sv[1]);
}

static void exec_chain(int n)
{
    if (n == 0) {
        printf("exec-chain done\n");
        return;
    }
    char next[16];
    snprintf(next, sizeof next, "%d", n - 1);
    plant_spin(20);
    fflush(stdout);
    execl("/proc/self/exe", "host-fixture", "exec-chain", next, (char *)NULL);
    perror("exec-chain");
}

static void daemonize(int ms)
{
    fflush(stdout);
    pid_t first = fork();
    if (first < 0) {
        perror("fork");
        exit(3);
    }
    if (first > 0) {
        wait_child(first);
        return;
    }
    setsid();
    pid_t second = fork();
    if (second != 0)
        _exit(second < 0 ? 3 : 0);
    close_range(0, ~0u, 0);
    struct loop l;
    loop_open(&l);
    ticks(&l, 5);
    plant_spin(ms);
    ticks(&l, 5);
    loop_close(&l);
    exit(0);
}

static void stderr_reused(const char *file)
{
    close(2);
    int fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd != 2 || write(fd, "host data\n", 10) != 10) {
        fprintf(stdout, "host-fixture: stderr-reused got descriptor %d\n", fd);
        exit(3);
    }
}

/* Everything but the loop's own two descriptors, then new files in their place. */
static void close_all(const char *file)
{
    int keep_lo = main_loop.ep < main_loop.tfd ? main_loop.ep : main_loop.tfd;
    int keep_hi = main_loop.ep ^ main_loop.tfd ^ keep_lo;
    close_range(3, (unsigned)keep_lo - 1, 0);
    close_range((unsigned)keep_lo + 1, (unsigned)keep_hi - 1, 0);
    close_range((unsigned)keep_hi + 1, ~0u, 0);
    int fds[16];
    for (int i = 0; i < 16; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s.%d", file, i);
        fds[i] = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fds[i] < 0 || write(fds[i], "host data", 9) != 9)
            perror("close-all");
    }
    spin(120);
    tick(&main_loop);
    struct timespec settle = {0, 300000000};
    nanosleep(&settle, NULL);
    long long total = 0;
    for (int i = 0; i < 16; i++) {
        struct stat st;
        fstat(fds[i], &st);
        total += st.st_size;
        close(fds[i]);
    }
    printf("host-files-size %lld\n", total);
}

static void remove_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
    if (rmdir(path) != 0)
        perror("rmdir");
}

int process_step(const char *what, const char *arg, int n)
{
    if (strcmp(what, "vfork") == 0) {
        pid_t pid = vfork();
        if (pid == 0) {
            execl(arg, arg, (char *)NULL);
            _exit(127);
        }
        wait_child(pid);
    } else if (strcmp(what, "vfork-calls") == 0) {
        vfork_calls(arg);
    } else if (strcmp(what, "spawn") == 0 || strcmp(what, "spawnp") == 0) {
        spawn_and_wait(what, arg);
    } else if (strncmp(what, "fork-exec", 9) == 0 || strcmp(what, "exec-fail") == 0) {
        fork_and_exec(what, arg);
    } else if (strcmp(what, "exec-chain") == 0) {
        exec_chain(n);
    } else if (strcmp(what, "daemon") == 0) {
        daemonize(n);
    } else if (strcmp(what, "crash") == 0) {
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        fflush(stdout);
        *(volatile int *)(uintptr_t)n = 0;
    } else if (strcmp(what, "stderr-reused") == 0) {
        stderr_reused(arg);
    } else if (strcmp(what, "close-all") == 0) {
        close_all(arg);
    } else if (strcmp(what, "remove-dir") == 0) {
        remove_dir(arg);
    } else {
        return 0;
    }
    return 1;
}
