/* Calls injected into real processes (tests/fixtures/inject-target) through ptrace: their
 * results, and that the process goes on as if nothing happened: its blocking call not
 * interrupted, every thread running again, its signals delivered, its registers unchanged;
 * and the refusals: no such process, already traced, another user's, an injector that dies. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "monitor/inject.h"
#include "scratch.h"

#define NOBODY 65534
#define SLEEPERS 4
#define SLEEP_MS 400
#define TIMEOUT_MS 5000

struct target {
    pid_t pid;
    int to;
    FILE *from;
    /* From the "slept" lines of the threads mode. */
    unsigned slept[SLEEPERS];
    unsigned slept_wrong;
    char wrong_line[128];
};

/* One line from the target; "slept" lines are tallied on the way. */
static void read_line(struct target *t, char *line, size_t size)
{
    cr_assert(fgets(line, (int)size, t->from), "the target ended");
    int index, result, err;
    long ms;
    if (sscanf(line, "slept %d %d %d %ld", &index, &result, &err, &ms) == 4 && index >= 0 &&
        index < SLEEPERS) {
        t->slept[index]++;
        if ((result != 0 || ms < SLEEP_MS) && t->slept_wrong++ == 0)
            snprintf(t->wrong_line, sizeof t->wrong_line, "%s", line);
    }
}

static void start_target(struct target *t, const char *mode)
{
    int to[2], from[2];
    char path[512];
    scratch_built(path, sizeof path, "tests/fixtures/inject-target");
    cr_assert_eq(pipe2(to, O_CLOEXEC), 0);
    cr_assert_eq(pipe2(from, O_CLOEXEC), 0);
    memset(t, 0, sizeof *t);
    fflush(NULL);
    t->pid = fork();
    cr_assert_geq(t->pid, 0);
    if (t->pid == 0) {
        dup2(to[0], STDIN_FILENO);
        dup2(from[1], STDOUT_FILENO);
        execl(path, path, mode, (char *)NULL);
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    t->to = to[1];
    t->from = fdopen(from[0], "r");
    char line[256];
    read_line(t, line, sizeof line);
    cr_assert_str_eq(line, "ready\n");
}

static void stop_target(struct target *t)
{
    close(t->to);
    fclose(t->from);
    kill(t->pid, SIGKILL);
    waitpid(t->pid, NULL, 0);
}

/* The pong line of the target, after any other lines. */
static void ping(struct target *t, char *line, size_t size)
{
    cr_assert_eq(write(t->to, "p", 1), 1);
    do
        read_line(t, line, size);
    while (strncmp(line, "pong ", 5) != 0);
}

/* Waits until thread tid of pid is blocked in system call nr. */
static void wait_blocked(pid_t pid, pid_t tid, long nr)
{
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
    for (int i = 0; i < 2000; i++) {
        FILE *f = fopen(path, "r");
        long now = -2;
        if (f) {
            /* "running" in user code. */
            if (fgets(buf, sizeof buf, f) && buf[0] >= '0' && buf[0] <= '9')
                now = strtol(buf, NULL, 10);
            fclose(f);
        }
        if (now == nr)
            return;
        usleep(1000);
    }
    cr_assert_fail("thread %d never blocked in system call %ld", (int)tid, nr);
}

/* How many threads of pid are in a ptrace stop ('t'). */
static unsigned traced_stopped(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    unsigned n = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        char stat[300], buf[512];
        if (e->d_name[0] == '.')
            continue;
        snprintf(stat, sizeof stat, "/proc/%d/task/%s/stat", (int)pid, e->d_name);
        FILE *f = fopen(stat, "r");
        if (f && fgets(buf, sizeof buf, f)) {
            const char *p = strrchr(buf, ')');
            n += p && p[2] == 't';
        }
        if (f)
            fclose(f);
    }
    if (d)
        closedir(d);
    return n;
}

static void expect_none_stopped(pid_t pid)
{
    for (int i = 0; i < 10; i++) {
        cr_expect_eq(traced_stopped(pid), 0, "a thread of %d is left stopped", (int)pid);
        usleep(10000);
    }
}

static struct ss_inject *begin(pid_t pid)
{
    struct ss_inject *in;
    char why[256];
    int r = ss_inject_begin(pid, &in, why, sizeof why);
    cr_assert_eq(r, 0, "ss_inject_begin: %s (%s)", strerror(-r), why);
    return in;
}

static uint64_t call(struct ss_inject *in, const char *name, const uint64_t *args, unsigned nargs)
{
    uint64_t fn = ss_inject_symbol(in, "libc.so.6", name), ret = 0;
    char why[256];
    cr_assert_neq(fn, 0, "%s in libc.so.6", name);
    int r = ss_inject_call(in, fn, args, nargs, TIMEOUT_MS, &ret, why, sizeof why);
    cr_assert_eq(r, 0, "call of %s: %s (%s)", name, strerror(-r), why);
    return ret;
}

/* After a slow call's start, sends sig to pid from a process of its own; returns its pid. */
static pid_t send_later(pid_t pid, int sig, unsigned delay_us)
{
    fflush(NULL);
    pid_t sender = fork();
    cr_assert_geq(sender, 0);
    if (sender == 0) {
        usleep(delay_us);
        kill(pid, sig);
        _exit(0);
    }
    return sender;
}

/* ---- calls ----------------------------------------------------------------------------- */

/* An event loop blocked in epoll_wait: the calls' results, and its epoll_wait neither returns
 * EINTR nor anything else but the readiness of its pipe afterwards. */
Test(inject, epoll_loop, .timeout = 30)
{
    struct target t;
    start_target(&t, "epoll");
    wait_blocked(t.pid, t.pid, SYS_epoll_wait);
    struct ss_inject *in = begin(t.pid);

    cr_expect_eq(call(in, "getpid", NULL, 0), (uint64_t)t.pid);
    static const char text[] = "a string pushed into the target";
    uint64_t at;
    cr_assert_eq(ss_inject_push(in, text, sizeof text, &at), 0);
    uint64_t len = call(in, "strlen", &at, 1);
    cr_expect_eq(len, strlen(text));
    char back[sizeof text];
    cr_assert_eq(ss_inject_read(in, at, back, sizeof back), 0);
    cr_expect_str_eq(back, text);
    cr_expect_eq(ss_inject_symbol(in, "libc.so.6", "no_such_function_here"), 0);
    cr_expect_eq(ss_inject_symbol(in, "libno-such-module", "getpid"), 0);
    cr_expect_neq(ss_inject_symbol(in, "ld-linux", "_dl_debug_state"), 0);
    uint64_t all_ns, chosen_ns;
    ss_inject_times(in, &all_ns, &chosen_ns);
    cr_expect_gt(all_ns, 0);
    cr_expect_gt(chosen_ns, 0);
    ss_inject_end(in);

    expect_none_stopped(t.pid);
    char line[256];
    ping(&t, line, sizeof line);
    cr_expect(strstr(line, "eintr=0 other=0"), "%s", line);
    /* And once more: the loop is still waiting on its pipe. */
    wait_blocked(t.pid, t.pid, SYS_epoll_wait);
    ping(&t, line, sizeof line);
    cr_expect(strstr(line, "eintr=0 other=0"), "%s", line);
    stop_target(&t);
}

/* Eight threads, four asleep and four spinning: every one runs again, no thread is left in a
 * ptrace stop, and every nanosleep sleeps its whole time without EINTR. */
Test(inject, threads_resume, .timeout = 30)
{
    struct target t;
    start_target(&t, "threads");
    wait_blocked(t.pid, t.pid, SYS_epoll_wait);
    usleep(100000); /* the sleepers asleep */
    struct ss_inject *in = begin(t.pid);
    cr_expect_eq(call(in, "getpid", NULL, 0), (uint64_t)t.pid);
    ss_inject_end(in);

    expect_none_stopped(t.pid);
    char line[256];
    unsigned long before[4], after[4];
    ping(&t, line, sizeof line);
    cr_assert_eq(sscanf(strstr(line, "spins="), "spins=%lu,%lu,%lu,%lu", &before[0], &before[1],
                        &before[2], &before[3]),
                 4);
    usleep(50000);
    ping(&t, line, sizeof line);
    cr_assert_eq(sscanf(strstr(line, "spins="), "spins=%lu,%lu,%lu,%lu", &after[0], &after[1],
                        &after[2], &after[3]),
                 4);
    for (int i = 0; i < 4; i++)
        cr_expect_gt(after[i], before[i], "spinner %d runs", i);
    cr_expect(strstr(line, "eintr=0 other=0"), "%s", line);
    /* Two sleeps each after the end: the one interrupted, and one more. */
    unsigned seen[SLEEPERS];
    memcpy(seen, t.slept, sizeof seen);
    for (int i = 0; i < SLEEPERS; i++)
        while (t.slept[i] < seen[i] + 2)
            read_line(&t, line, sizeof line);
    cr_expect_eq(t.slept_wrong, 0, "a sleep was cut short: %s", t.wrong_line);
    stop_target(&t);
}

/* A signal that arrives while a call runs is delivered: the program's handler runs. */
Test(inject, signal_during_call, .timeout = 30)
{
    struct target t;
    start_target(&t, "epoll");
    wait_blocked(t.pid, t.pid, SYS_epoll_wait);
    struct ss_inject *in = begin(t.pid);
    pid_t sender = send_later(t.pid, SIGUSR1, 50000);
    uint64_t two_seconds = 2000000;
    call(in, "usleep", &two_seconds, 1); /* cut short by the signal */
    waitpid(sender, NULL, 0);
    ss_inject_end(in);

    expect_none_stopped(t.pid);
    char line[256];
    ping(&t, line, sizeof line);
    /* EINTR is allowed: a handler ran while the loop was in epoll_wait. */
    cr_expect(strstr(line, "usr1=1 "), "%s", line);
    cr_expect(strstr(line, "other=0"), "%s", line);
    stop_target(&t);
}

/* A SIGSTOP that arrives while a call runs stops the process once the call is over. */
Test(inject, stop_during_call, .timeout = 30)
{
    struct target t;
    start_target(&t, "epoll");
    wait_blocked(t.pid, t.pid, SYS_epoll_wait);
    struct ss_inject *in = begin(t.pid);
    pid_t sender = send_later(t.pid, SIGSTOP, 20000);
    uint64_t second = 1000000;
    call(in, "usleep", &second, 1);
    waitpid(sender, NULL, 0);
    ss_inject_end(in);

    char path[64], state = 0;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)t.pid);
    for (int i = 0; i < 200 && state != 'T'; i++) {
        char *stat = scratch_slurp(path);
        const char *p = strrchr(stat, ')');
        state = p ? p[2] : 0;
        free(stat);
        if (state != 'T')
            usleep(10000);
    }
    cr_expect_eq(state, 'T', "the process is stopped");
    kill(t.pid, SIGCONT);
    char line[256];
    ping(&t, line, sizeof line);
    cr_expect(strstr(line, "other=0"), "%s", line);
    stop_target(&t);
}

/* A call that faults or does not return in time fails; the process neither gets the fault nor
 * notices. */
Test(inject, fault_and_timeout, .timeout = 30)
{
    struct target t;
    start_target(&t, "epoll");
    wait_blocked(t.pid, t.pid, SYS_epoll_wait);
    struct ss_inject *in = begin(t.pid);
    uint64_t ret, ten_seconds = 10000000;
    char why[256];
    cr_expect_eq(ss_inject_call(in, 0x10, NULL, 0, TIMEOUT_MS, &ret, why, sizeof why), -EFAULT);
    cr_expect(strstr(why, "faulted"), "%s", why);
    uint64_t usleep_at = ss_inject_symbol(in, "libc.so.6", "usleep");
    cr_expect_eq(ss_inject_call(in, usleep_at, &ten_seconds, 1, 100, &ret, why, sizeof why),
                 -ETIMEDOUT);
    cr_expect(strstr(why, "100 ms"), "%s", why);
    cr_expect_eq(call(in, "getpid", NULL, 0), (uint64_t)t.pid);
    ss_inject_end(in);

    expect_none_stopped(t.pid);
    char line[256];
    ping(&t, line, sizeof line);
    cr_expect(strstr(line, "other=0"), "%s", line);
    stop_target(&t);
}

/* ---- registers ------------------------------------------------------------------------- */

/* The registers of pid's main thread as a tracer of its own sees them. */
static void read_registers(pid_t pid, struct user_regs_struct *regs)
{
    int status;
    cr_assert_eq(ptrace(PTRACE_SEIZE, pid, 0, 0), 0);
    cr_assert_eq(ptrace(PTRACE_INTERRUPT, pid, 0, 0), 0);
    cr_assert_eq(waitpid(pid, &status, __WALL), pid);
    cr_assert_eq(ptrace(PTRACE_GETREGS, pid, 0, regs), 0);
    cr_assert_eq(ptrace(PTRACE_DETACH, pid, 0, 0), 0);
}

/* Around calls that use vector registers: the target finds every register it keeps across its
 * read(2) unchanged, and a tracer sees the same registers before and after. */
Test(inject, registers_exact, .timeout = 30)
{
    struct target t;
    start_target(&t, "regs");
    wait_blocked(t.pid, t.pid, SYS_read);
    struct user_regs_struct before, after;
    read_registers(t.pid, &before);

    struct ss_inject *in = begin(t.pid);
    char text[300];
    memset(text, 'x', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    uint64_t at;
    cr_assert_eq(ss_inject_push(in, text, sizeof text, &at), 0);
    uint64_t set[3] = {at, 'y', 200};
    call(in, "memset", set, 3);
    cr_expect_eq(call(in, "strlen", &at, 1), sizeof text - 1);
    cr_expect_eq(call(in, "getpid", NULL, 0), (uint64_t)t.pid);
    ss_inject_end(in);

    wait_blocked(t.pid, t.pid, SYS_read);
    read_registers(t.pid, &after);
    const unsigned long long *b = (const void *)&before, *a = (const void *)&after;
    for (size_t i = 0; i < sizeof before / sizeof *b; i++)
        cr_expect_eq(a[i], b[i], "register word %zu: %#llx, was %#llx", i, a[i], b[i]);
    char line[256];
    ping(&t, line, sizeof line);
    cr_expect(strstr(line, "other=0"), "%s", line);
    cr_expect(strstr(line, "regs=same"), "%s", line);
    stop_target(&t);
}

/* ---- refusals -------------------------------------------------------------------------- */

Test(inject, no_such_process, .timeout = 30)
{
    pid_t gone = fork();
    cr_assert_geq(gone, 0);
    if (gone == 0)
        _exit(0);
    waitpid(gone, NULL, 0);
    struct ss_inject *in;
    char why[256] = "";
    cr_expect_eq(ss_inject_begin(gone, &in, why, sizeof why), -ESRCH);
    cr_expect_null(in);
    cr_expect(strstr(why, "no process"), "%s", why);
}

Test(inject, already_traced, .timeout = 30)
{
    struct target t;
    start_target(&t, "epoll");
    int ready[2];
    cr_assert_eq(pipe(ready), 0);
    fflush(NULL);
    pid_t tracer = fork();
    cr_assert_geq(tracer, 0);
    if (tracer == 0) {
        prctl(PR_SET_NAME, "ss-tracer");
        if (ptrace(PTRACE_SEIZE, t.pid, 0, 0) != 0 || write(ready[1], "y", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char c;
    cr_assert_eq(read(ready[0], &c, 1), 1);
    struct ss_inject *in;
    char why[256] = "";
    cr_expect_eq(ss_inject_begin(t.pid, &in, why, sizeof why), -EBUSY);
    cr_expect(strstr(why, "ss-tracer"), "%s", why);
    kill(tracer, SIGKILL);
    waitpid(tracer, NULL, 0);
    char line[256];
    ping(&t, line, sizeof line);
    cr_expect(strstr(line, "other=0"), "%s", line);
    stop_target(&t);
}

static int begin_as_nobody(pid_t pid)
{
    if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
        return 90;
    struct ss_inject *in;
    char why[256] = "";
    int r = ss_inject_begin(pid, &in, why, sizeof why);
    printf("as nobody: %d %s\n", r, why);
    return r == -EPERM && strstr(why, "another user") ? 0 : 1;
}

Test(inject, another_users_process, .timeout = 30)
{
    if (geteuid() != 0)
        cr_skip_test("needs root to run the injector as another user");
    struct target t;
    start_target(&t, "epoll");
    fflush(NULL);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        int r = begin_as_nobody(t.pid);
        fflush(NULL);
        _exit(r);
    }
    int status;
    cr_assert_eq(waitpid(child, &status, 0), child);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
    stop_target(&t);
}

/* The injector is killed between its calls: the process goes on, its epoll_wait undisturbed. */
Test(inject, injector_killed, .timeout = 30)
{
    struct target t;
    start_target(&t, "epoll");
    wait_blocked(t.pid, t.pid, SYS_epoll_wait);
    int ready[2];
    cr_assert_eq(pipe(ready), 0);
    fflush(NULL);
    pid_t injector = fork();
    cr_assert_geq(injector, 0);
    if (injector == 0) {
        struct ss_inject *in;
        char why[256];
        uint64_t fn, ret;
        if (ss_inject_begin(t.pid, &in, why, sizeof why) != 0 ||
            !(fn = ss_inject_symbol(in, "libc.so.6", "getpid")) ||
            ss_inject_call(in, fn, NULL, 0, TIMEOUT_MS, &ret, why, sizeof why) != 0 ||
            ret != (uint64_t)t.pid || write(ready[1], "y", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char c;
    cr_assert_eq(read(ready[0], &c, 1), 1, "the injector's calls");
    kill(injector, SIGKILL);
    waitpid(injector, NULL, 0);

    expect_none_stopped(t.pid);
    char line[256];
    ping(&t, line, sizeof line);
    cr_expect(strstr(line, "eintr=0 other=0"), "%s", line);
    stop_target(&t);
}
